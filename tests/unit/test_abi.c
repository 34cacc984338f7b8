/* The plugin ABI's layout, pinned: the offset of every member of pp_host,
 * pp_component and pp_module, and each struct's size. Plugins are built
 * against one header and loaded into hosts of later minors, so a member
 * inserted in the middle (batch_adopt_acks once was, and every later host
 * call moved under the plugins already built) would make a host call the
 * wrong function. Any insertion, removal or reordering fails here; an
 * appended member fails the size check until its line is appended below
 * (and PP_ABI_MINOR bumped), which is the review the promise at the top of
 * include/profpipe/plugin.h asks for. Offsets are written in pointer slots,
 * so the test holds on any ABI where function and data pointers have one
 * size (every platform profpipe builds on). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "host.h"

/* A pointer slot: every pp_host call and every pp_component member. */
#define PTR sizeof(void *)
/* pp_host's and pp_module's never-moving head: two uint32_t and a size_t. */
#define HOST_HEAD (2 * sizeof(uint32_t) + sizeof(size_t))
#define MODULE_HEAD (4 * sizeof(uint32_t) + sizeof(size_t))

typedef struct pinned {
    const char *name;
    size_t offset;   /* offsetof in this build */
    size_t expected; /* where the ABI says it is */
} pinned;

#define PIN(type, member, where)                                                                   \
    {                                                                                              \
#member, offsetof(type, member), (where)                                                   \
    }

static void assert_pinned(const pinned *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i].offset != p[i].expected)
            print_error("%s moved: offset %zu, pinned at %zu\n", p[i].name, p[i].offset,
                        p[i].expected);
        assert_int_equal(p[i].offset, p[i].expected);
    }
}

static void test_host_layout(void **state)
{
    (void)state;
    static const pinned host[] = {
        PIN(pp_host, abi_major, 0),
        PIN(pp_host, abi_minor, sizeof(uint32_t)),
        PIN(pp_host, size, 2 * sizeof(uint32_t)),
        PIN(pp_host, log, HOST_HEAD + 0 * PTR),
        PIN(pp_host, now_ns, HOST_HEAD + 1 * PTR),
        PIN(pp_host, monotonic_ns, HOST_HEAD + 2 * PTR),
        PIN(pp_host, instance_id, HOST_HEAD + 3 * PTR),
        PIN(pp_host, cfg_string, HOST_HEAD + 4 * PTR),
        PIN(pp_host, cfg_int, HOST_HEAD + 5 * PTR),
        PIN(pp_host, cfg_double, HOST_HEAD + 6 * PTR),
        PIN(pp_host, cfg_bool, HOST_HEAD + 7 * PTR),
        PIN(pp_host, cfg_duration_ns, HOST_HEAD + 8 * PTR),
        PIN(pp_host, cfg_size, HOST_HEAD + 9 * PTR),
        PIN(pp_host, cfg_is_set, HOST_HEAD + 10 * PTR),
        PIN(pp_host, cfg_child, HOST_HEAD + 11 * PTR),
        PIN(pp_host, cfg_kind, HOST_HEAD + 12 * PTR),
        PIN(pp_host, cfg_count, HOST_HEAD + 13 * PTR),
        PIN(pp_host, cfg_item, HOST_HEAD + 14 * PTR),
        PIN(pp_host, cfg_key, HOST_HEAD + 15 * PTR),
        PIN(pp_host, cfg_scalar, HOST_HEAD + 16 * PTR),
        PIN(pp_host, cfg_secret, HOST_HEAD + 17 * PTR),
        PIN(pp_host, cfg_error, HOST_HEAD + 18 * PTR),
        PIN(pp_host, parse_duration_ns, HOST_HEAD + 19 * PTR),
        PIN(pp_host, parse_size, HOST_HEAD + 20 * PTR),
        PIN(pp_host, profile_new, HOST_HEAD + 21 * PTR),
        PIN(pp_host, profile_free, HOST_HEAD + 22 * PTR),
        PIN(pp_host, profile_clone, HOST_HEAD + 23 * PTR),
        PIN(pp_host, label_count, HOST_HEAD + 24 * PTR),
        PIN(pp_host, label_name, HOST_HEAD + 25 * PTR),
        PIN(pp_host, label_value, HOST_HEAD + 26 * PTR),
        PIN(pp_host, label_get, HOST_HEAD + 27 * PTR),
        PIN(pp_host, label_set, HOST_HEAD + 28 * PTR),
        PIN(pp_host, label_del, HOST_HEAD + 29 * PTR),
        PIN(pp_host, labels_fingerprint, HOST_HEAD + 30 * PTR),
        PIN(pp_host, profile_from, HOST_HEAD + 31 * PTR),
        PIN(pp_host, profile_until, HOST_HEAD + 32 * PTR),
        PIN(pp_host, profile_set_window, HOST_HEAD + 33 * PTR),
        PIN(pp_host, profile_set_raw, HOST_HEAD + 34 * PTR),
        PIN(pp_host, profile_raw_gz, HOST_HEAD + 35 * PTR),
        PIN(pp_host, profile_size, HOST_HEAD + 36 * PTR),
        PIN(pp_host, profile_tree, HOST_HEAD + 37 * PTR),
        PIN(pp_host, profile_tree_mut, HOST_HEAD + 38 * PTR),
        PIN(pp_host, profile_tree_new, HOST_HEAD + 39 * PTR),
        PIN(pp_host, profile_alloc, HOST_HEAD + 40 * PTR),
        PIN(pp_host, pprof_intern, HOST_HEAD + 41 * PTR),
        PIN(pp_host, pprof_location, HOST_HEAD + 42 * PTR),
        PIN(pp_host, pprof_function, HOST_HEAD + 43 * PTR),
        PIN(pp_host, pprof_compact, HOST_HEAD + 44 * PTR),
        PIN(pp_host, pprof_merge, HOST_HEAD + 45 * PTR),
        PIN(pp_host, pprof_family, HOST_HEAD + 46 * PTR),
        PIN(pp_host, batch_new, HOST_HEAD + 47 * PTR),
        PIN(pp_host, batch_add, HOST_HEAD + 48 * PTR),
        PIN(pp_host, batch_count, HOST_HEAD + 49 * PTR),
        PIN(pp_host, batch_get, HOST_HEAD + 50 * PTR),
        PIN(pp_host, batch_take, HOST_HEAD + 51 * PTR),
        PIN(pp_host, batch_ref, HOST_HEAD + 52 * PTR),
        PIN(pp_host, batch_unref, HOST_HEAD + 53 * PTR),
        PIN(pp_host, batch_set_ack, HOST_HEAD + 54 * PTR),
        PIN(pp_host, batch_adopt_acks, HOST_HEAD + 55 * PTR),
        PIN(pp_host, emit, HOST_HEAD + 56 * PTR),
        PIN(pp_host, metric, HOST_HEAD + 57 * PTR),
        PIN(pp_host, metric_add, HOST_HEAD + 58 * PTR),
        PIN(pp_host, metric_set, HOST_HEAD + 59 * PTR),
        PIN(pp_host, metric_remove, HOST_HEAD + 60 * PTR),
        PIN(pp_host, gunzip, HOST_HEAD + 61 * PTR),
        PIN(pp_host, gzip, HOST_HEAD + 62 * PTR),
        PIN(pp_host, pprof_string_len, HOST_HEAD + 63 * PTR),
        PIN(pp_host, pprof_intern_bytes, HOST_HEAD + 64 * PTR),
        PIN(pp_host, exposition_add, HOST_HEAD + 65 * PTR),
        PIN(pp_host, exposition_remove, HOST_HEAD + 66 * PTR),
        PIN(pp_host, target_state, HOST_HEAD + 67 * PTR),
        PIN(pp_host, target_forget, HOST_HEAD + 68 * PTR),
        PIN(pp_host, pprof_family_display, HOST_HEAD + 69 * PTR),
        PIN(pp_host, pprof_time, HOST_HEAD + 70 * PTR),
        /* 2.1 */
        PIN(pp_host, cfg_template, HOST_HEAD + 71 * PTR),
        PIN(pp_host, cfg_fill, HOST_HEAD + 72 * PTR),
        PIN(pp_host, memory_pressure, HOST_HEAD + 73 * PTR),
        PIN(pp_host, pprof_peek, HOST_HEAD + 74 * PTR),
        PIN(pp_host, profile_adopt_raw, HOST_HEAD + 75 * PTR),
    };
    assert_pinned(host, sizeof host / sizeof host[0]);
    /* 2.0 ends with pprof_time; a member appended after the last one
     * pinned needs its line */
    assert_int_equal(sizeof(pp_host), HOST_HEAD + 76 * PTR);
}

/* pp_component: kind (an enum) and flags (unsigned) each take a pointer
 * slot, padded to the pointer that follows. */
static void test_component_layout(void **state)
{
    (void)state;
    static const pinned component[] = {
        PIN(pp_component, type, 0 * PTR),        PIN(pp_component, kind, 1 * PTR),
        PIN(pp_component, description, 2 * PTR), PIN(pp_component, options, 3 * PTR),
        PIN(pp_component, flags, 4 * PTR),       PIN(pp_component, create, 5 * PTR),
        PIN(pp_component, start, 6 * PTR),       PIN(pp_component, stop, 7 * PTR),
        PIN(pp_component, destroy, 8 * PTR),     PIN(pp_component, process, 9 * PTR),
        PIN(pp_component, tick, 10 * PTR),       PIN(pp_component, export, 11 * PTR),
    };
    assert_pinned(component, sizeof component / sizeof component[0]);
    assert_int_equal(sizeof(pp_component), 12 * PTR);
}

/* The signature at 0 and the major at 4 never move, in any major: a
 * pp_module of ABI 1 had its abi_version at 4, so it reads as major 1. */
static void test_module_layout(void **state)
{
    (void)state;
    static const pinned module[] = {
        PIN(pp_module, signature, 0),
        PIN(pp_module, abi_major, sizeof(uint32_t)),
        PIN(pp_module, abi_minor, 2 * sizeof(uint32_t)),
        PIN(pp_module, component_size, 3 * sizeof(uint32_t)),
        PIN(pp_module, size, 4 * sizeof(uint32_t)),
        PIN(pp_module, name, MODULE_HEAD),
        PIN(pp_module, components, MODULE_HEAD + PTR),
    };
    assert_pinned(module, sizeof module / sizeof module[0]);
    assert_int_equal(sizeof(pp_module), MODULE_HEAD + 2 * PTR);
}

/* The host's table says what it is, and PP_HOST_HAS reads its size: a
 * table cut short before a call (as an older minor's host is) lacks that
 * call and keeps every earlier one. */
static void test_host_has(void **state)
{
    (void)state;
    const pp_host *h = host_api();
    assert_int_equal(h->abi_major, PP_ABI_MAJOR);
    assert_int_equal(h->abi_minor, PP_ABI_MINOR);
    assert_int_equal(h->size, sizeof(pp_host));
    assert_true(PP_HOST_HAS(h, log));
    assert_true(PP_HOST_HAS(h, pprof_time));

    pp_host older = *h;
    older.size = offsetof(pp_host, pprof_time);
    assert_true(PP_HOST_HAS(&older, pprof_family_display));
    assert_false(PP_HOST_HAS(&older, pprof_time));
    older.size = offsetof(pp_host, pprof_time) + PTR - 1; /* half a slot is no call */
    assert_false(PP_HOST_HAS(&older, pprof_time));
}

/* PP_MODULE_HEADER fills every version and size field. */
static void test_module_header(void **state)
{
    (void)state;
    static const pp_component *const none[] = {NULL};
    const pp_module m = {PP_MODULE_HEADER, .name = "m", .components = none};
    assert_int_equal(m.signature, PP_MODULE_SIGNATURE);
    assert_int_equal(m.abi_major, PP_ABI_MAJOR);
    assert_int_equal(m.abi_minor, PP_ABI_MINOR);
    assert_int_equal(m.component_size, sizeof(pp_component));
    assert_int_equal(m.size, sizeof(pp_module));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_layout),   cmocka_unit_test(test_component_layout),
        cmocka_unit_test(test_module_layout), cmocka_unit_test(test_host_has),
        cmocka_unit_test(test_module_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
