/* Unit tests of pprof strings as byte strings: interning, lengths,
 * compaction, encoding and merging keep every byte of strings that hold
 * NUL bytes, so strings that differ only after a NUL stay different; a
 * string a component replaced with a C string of its own is read by its
 * strlen, never by a stale length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "pprof_internal.h"
#include "unit_support.h"

#define ERR_LEN 256
#define B(lit) (lit), (sizeof(lit) - 1) /* a literal's bytes, NULs included */

static int64_t intern(pp_profile *p, const char *s, size_t len)
{
    return pprof_intern_bytes(p, s, len);
}

static void assert_bytes(const pp_pprof *t, int64_t idx, const char *s, size_t len)
{
    assert_int_equal(pprof_string_len(t, idx), len);
    assert_memory_equal(t->strings[idx], s, len);
    assert_int_equal(t->strings[idx][len], '\0');
}

static void test_intern_by_bytes(void **state)
{
    (void)state;
    pp_profile *p = profile_new();
    pp_pprof *t = profile_tree_new(p);
    int64_t def = intern(p, B("pkg.abc\0def"));
    int64_t xyz = intern(p, B("pkg.abc\0xyz"));
    int64_t plain = intern(p, B("pkg.abc"));
    assert_true(def > 0 && xyz > 0 && plain > 0);
    assert_true(def != xyz && def != plain && xyz != plain);
    assert_int_equal(intern(p, B("pkg.abc\0def")), def);
    assert_int_equal(pprof_intern(p, "pkg.abc"), plain);
    assert_int_equal(intern(p, B("")), 0);
    assert_int_equal(intern(p, B("\0")), 4); /* one NUL byte is not "" */
    assert_bytes(t, def, B("pkg.abc\0def"));
    assert_bytes(t, xyz, B("pkg.abc\0xyz"));
    assert_bytes(t, plain, B("pkg.abc"));
    assert_bytes(t, 4, B("\0"));
    /* out of range and the host table */
    assert_int_equal(pprof_string_len(t, -1), 0);
    assert_int_equal(pprof_string_len(t, (int64_t)t->n_strings), 0);
    assert_int_equal(pprof_string_len(NULL, 0), 0);
    const pp_host *h = harness_host();
    assert_int_equal(h->pprof_string_len(t, def), 11);
    assert_int_equal(h->pprof_intern_bytes(p, B("pkg.abc\0xyz")), xyz);
    /* many strings: the table of lengths and the string array both grow */
    char buf[16];
    for (int i = 0; i < 300; i++) {
        int n = snprintf(buf, sizeof buf, "s_%d", i);
        buf[1] = '\0'; /* "s\0<i>" */
        int64_t idx = intern(p, buf, (size_t)n);
        assert_int_equal(pprof_string_len(t, idx), (size_t)n);
        assert_int_equal(intern(p, buf, (size_t)n), idx);
        assert_int_equal(idx, 5 + i); /* each one new */
    }
    assert_bytes(t, def, B("pkg.abc\0def"));
    profile_free(p);
}

/* A component that replaces a string with a C string of its own (or moves
 * strings around) gets strlen, not the old entry's length. */
static void test_replaced_string_reads_by_strlen(void **state)
{
    (void)state;
    pp_profile *p = profile_new();
    pp_pprof *t = profile_tree_new(p);
    int64_t idx = intern(p, B("a\0long tail"));
    assert_int_equal(pprof_string_len(t, idx), 11);
    t->strings[idx] = "ab";
    assert_int_equal(pprof_string_len(t, idx), 2);
    profile_free(p);
}

/* Builds a one-frame profile whose function name, file and sample label
 * value hold NUL bytes. */
static pp_profile *nul_profile(const char *name, size_t name_len, int64_t value)
{
    pp_profile *p = profile_new();
    unit_one_frame_tree(p, "cpu", "nanoseconds", value);
    pp_pprof *t = &p->tree;
    t->period_type = t->sample_types[0];
    t->functions[0].name = intern(p, name, name_len);
    t->functions[0].filename = intern(p, B("f\0ile.go"));
    t->samples[0].labels = profile_alloc(p, sizeof(pp_label));
    t->samples[0].labels[0] = (pp_label){intern(p, B("k")), intern(p, B("v\0a")), 0, 0};
    t->samples[0].n_labels = 1;
    return p;
}

static const pp_pprof *reencoded(pp_profile *p, pp_profile **out)
{
    char err[ERR_LEN] = "";
    const uint8_t *gz;
    size_t len;
    assert_int_equal(profile_raw_gz(p, &gz, &len, err, sizeof err), 0);
    *out = profile_new();
    assert_int_equal(profile_set_raw(*out, gz, len), 0);
    const pp_pprof *t = profile_tree(*out, err, sizeof err);
    assert_non_null(t);
    return t;
}

static void test_encode_decode_keep_bytes(void **state)
{
    (void)state;
    pp_profile *p = nul_profile(B("pkg.abc\0def"), 5), *q;
    const pp_pprof *t = reencoded(p, &q);
    assert_bytes(t, t->functions[0].name, B("pkg.abc\0def"));
    assert_bytes(t, t->functions[0].filename, B("f\0ile.go"));
    assert_bytes(t, t->samples[0].labels[0].str, B("v\0a"));
    profile_free(q);
    profile_free(p);
}

/* Compact renumbers strings: each length moves with its string. */
static void test_compact_moves_lengths(void **state)
{
    (void)state;
    pp_profile *p = nul_profile(B("pkg.abc\0def"), 5);
    pp_pprof *t = &p->tree;
    intern(p, B("unused\0one")); /* dropped by compact, shifting the rest */
    int64_t late = intern(p, B("late\0string"));
    t->comments = profile_alloc(p, sizeof(int64_t));
    t->comments[0] = late;
    t->n_comments = 1;
    assert_int_equal(pprof_compact(p), 0);
    assert_bytes(t, t->functions[0].name, B("pkg.abc\0def"));
    assert_bytes(t, t->comments[0], B("late\0string"));
    for (size_t i = 0; i < t->n_strings; i++)
        assert_false(pprof_string_len(t, (int64_t)i) == 10 &&
                     memcmp(t->strings[i], "unused\0one", 10) == 0);
    pp_profile *q;
    const pp_pprof *u = reencoded(p, &q);
    assert_bytes(u, u->comments[0], B("late\0string"));
    profile_free(q);
    profile_free(p);
}

/* Merge matches functions by all their bytes: pkg.abc\0def and
 * pkg.abc\0xyz stay two functions, equal ones sum. */
static void test_merge_by_bytes(void **state)
{
    (void)state;
    char err[ERR_LEN] = "";
    pp_profile *dst = nul_profile(B("pkg.abc\0def"), 5);
    pp_profile *other = nul_profile(B("pkg.abc\0xyz"), 7);
    pp_profile *same = nul_profile(B("pkg.abc\0def"), 11);
    assert_int_equal(pprof_merge(dst, other, err, sizeof err), 0);
    assert_int_equal(pprof_merge(dst, same, err, sizeof err), 0);
    const pp_pprof *t = profile_tree(dst, NULL, 0);
    assert_int_equal(t->n_functions, 2);
    assert_int_equal(t->n_samples, 2);
    assert_bytes(t, t->functions[1].name, B("pkg.abc\0xyz"));
    assert_int_equal(t->samples[0].values[0], 16);
    assert_int_equal(t->samples[1].values[0], 7);
    assert_bytes(t, t->samples[1].labels[0].str, B("v\0a"));
    /* sample types that differ after a NUL byte do not merge */
    pp_profile *odd = nul_profile(B("x"), 1);
    odd->tree.sample_types[0].type = intern(odd, B("cpu\0x"));
    odd->tree.period_type = odd->tree.sample_types[0];
    assert_int_equal(pprof_merge(dst, odd, err, sizeof err), -1);
    assert_non_null(strstr(err, "incompatible period types"));
    profile_free(odd);
    profile_free(same);
    profile_free(other);
    profile_free(dst);
}

/* Random string tables (any bytes, NULs and invalid UTF-8 included),
 * written as protobuf by hand: decode, encode, decode keeps every string's
 * bytes, and interning any of them finds a string with the same bytes. */
static void test_random_string_tables(void **state)
{
    (void)state;
    enum { ROUNDS = 300, MAX_STRINGS = 40, MAX_LEN = 12 };
    unsigned seed = 7;
    for (int round = 0; round < ROUNDS; round++) {
        uint8_t buf[MAX_STRINGS * (MAX_LEN + 2) + 2] = {0x32, 0x00}; /* string_table[0] = "" */
        size_t len = 2, n = 1 + (size_t)(rand_r(&seed) % (MAX_STRINGS - 1));
        char want[MAX_STRINGS][MAX_LEN];
        size_t want_len[MAX_STRINGS] = {0};
        for (size_t i = 1; i < n; i++) {
            want_len[i] = 1 + (size_t)(rand_r(&seed) % (MAX_LEN - 1));
            buf[len++] = 0x32;
            buf[len++] = (uint8_t)want_len[i];
            for (size_t j = 0; j < want_len[i]; j++) {
                int r = rand_r(&seed);
                want[i][j] = (char)(r % 3 == 0 ? 0 : r >> 8); /* many NULs */
                buf[len++] = (uint8_t)want[i][j];
            }
        }
        pp_profile *p = profile_new(), *q;
        assert_int_equal(profile_set_raw(p, buf, len), 0);
        char err[ERR_LEN] = "";
        assert_non_null(profile_tree_mut(p, err, sizeof err)); /* raw dropped: encode the tree */
        const pp_pprof *t = reencoded(p, &q);
        assert_int_equal(t->n_strings, n);
        for (size_t i = 1; i < n; i++) {
            assert_bytes(t, (int64_t)i, want[i], want_len[i]);
            int64_t idx = intern(q, want[i], want_len[i]);
            assert_bytes(&q->tree, idx, want[i], want_len[i]);
            assert_true(idx <= (int64_t)i);
        }
        profile_free(q);
        profile_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intern_by_bytes),
        cmocka_unit_test(test_replaced_string_reads_by_strlen),
        cmocka_unit_test(test_encode_decode_keep_bytes),
        cmocka_unit_test(test_compact_moves_lengths),
        cmocka_unit_test(test_merge_by_bytes),
        cmocka_unit_test(test_random_string_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
