/* test_perf_symbols: the perf receiver's symbolizer on real files: this
 * test's own executable (found through its mapping and file offset, as a
 * sampled address would be), a stripped copy of it whose symbols come from
 * a debug file under <root>/.build-id/xx/yyyy.debug, the cache sharing one
 * symbol table between two files with the same build id and dropping
 * entries nobody used, kallsyms text, and the pprof a process's stacks
 * become (names for unresolved frames, never dropped), and vDSO frames
 * named from our own copy of the vDSO.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/perf_event.h>

#include "harness.h"
#include "../../receivers/perf/perf_pprof.h"
#include "../../receivers/perf/perf_proc.h"
#include "../../receivers/perf/perf_symbols.h"

static char tmpdir[] = "/tmp/test_perf_symbols.XXXXXX";
static char exe[4096];

__attribute__((noinline)) int perf_test_marker_function(int x)
{
    return x * 3 + 1;
}

static int setup(void **state)
{
    (void)state;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0 || !mkdtemp(tmpdir))
        return -1;
    exe[n] = '\0';
    return 0;
}

static int teardown(void **state)
{
    char cmd[8300];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static perf_process *load_self(perf_procs *t)
{
    perf_process *p;
    assert_int_equal(perf_procs_init(t), 0);
    p = perf_procs_add(t, (uint32_t)getpid());
    assert_int_equal(perf_proc_load(p, 1), 0);
    return p;
}

static uint64_t file_offset_of(const perf_process *p, const void *fn)
{
    uint64_t addr = (uint64_t)(uintptr_t)fn;
    const perf_map *m = perf_proc_find_map(p, addr);
    assert_non_null(m);
    return addr - m->start + m->pgoff;
}

static void test_own_function_by_file_offset(void **state)
{
    (void)state;
    perf_procs t;
    perf_process *p = load_self(&t);
    perf_symfile *f = perf_symfile_load(exe, NULL);
    uint64_t off = file_offset_of(p, (const void *)perf_test_marker_function);
    assert_non_null(f);
    assert_true(perf_symfile_count(f) > 10);
    assert_string_equal(perf_symfile_lookup(f, off), "perf_test_marker_function");
    assert_string_equal(perf_symfile_lookup(f, off + 1), "perf_test_marker_function");
    assert_int_equal(strlen(perf_symfile_build_id(f)), 40); /* gcc's default sha1 */
    perf_symfile_free(f);
    perf_procs_free(&t);
    (void)perf_test_marker_function(1);
}

static void run(const char *cmd)
{
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

static void test_debug_file_by_build_id(void **state)
{
    (void)state;
    char cmd[32768], stripped[4200], dbgdir[4200], dbg[4300];
    perf_procs t;
    perf_process *p = load_self(&t);
    perf_symfile *full = perf_symfile_load(exe, NULL), *bare, *with_debug;
    const char *id = perf_symfile_build_id(full);
    uint64_t off = file_offset_of(p, (const void *)perf_test_marker_function);

    snprintf(stripped, sizeof stripped, "%s/stripped", tmpdir);
    snprintf(dbgdir, sizeof dbgdir, "%s/.build-id/%.2s", tmpdir, id);
    snprintf(dbg, sizeof dbg, "%s/%s.debug", dbgdir, id + 2);
    snprintf(cmd, sizeof cmd,
             "objcopy --strip-all '%s' '%s' && mkdir -p '%s' && "
             "objcopy --only-keep-debug '%s' '%s'",
             exe, stripped, dbgdir, exe, dbg);
    run(cmd);

    bare = perf_symfile_load(stripped, NULL); /* .dynsym only */
    assert_null(perf_symfile_lookup(bare, off));
    with_debug = perf_symfile_load(stripped, tmpdir);
    assert_string_equal(perf_symfile_build_id(with_debug), id);
    assert_string_equal(perf_symfile_lookup(with_debug, off), "perf_test_marker_function");
    perf_symfile_free(full);
    perf_symfile_free(bare);
    perf_symfile_free(with_debug);
    perf_procs_free(&t);
}

static void test_cache_shares_and_sweeps(void **state)
{
    (void)state;
    char copy[4200], cmd[16384];
    struct stat a, b;
    perf_symcache *c = perf_symcache_new(NULL);
    const char *p1[] = {"/nonexistent/first", exe}, *p2[1];
    const perf_symfile *f1, *f2;

    snprintf(copy, sizeof copy, "%s/copy", tmpdir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", exe, copy);
    run(cmd);
    assert_int_equal(stat(exe, &a), 0);
    assert_int_equal(stat(copy, &b), 0);
    p2[0] = copy;
    f1 = perf_symcache_get(c, a.st_dev, a.st_ino, p1, 2); /* first path fails */
    assert_non_null(f1);
    assert_true(perf_symfile_count(f1) > 10);
    assert_ptr_equal(perf_symcache_get(c, a.st_dev, a.st_ino, p1, 2), f1);
    f2 = perf_symcache_get(c, b.st_dev, b.st_ino, p2, 1);
    assert_ptr_equal(f2, f1); /* same build id: one table */
    assert_int_equal(perf_symcache_size(c), 2);
    perf_symcache_sweep(c, 1);
    assert_int_equal(perf_symcache_size(c), 2);
    perf_symcache_sweep(c, 1);
    perf_symcache_sweep(c, 1);
    assert_int_equal(perf_symcache_size(c), 0);
    /* an unreadable file is cached as empty rather than retried */
    const char *missing[] = {"/nonexistent/file"};
    const perf_symfile *none = perf_symcache_get(c, 1, 1, missing, 1);
    assert_non_null(none);
    assert_int_equal(perf_symfile_count(none), 0);
    perf_symcache_free(c);
}

/* `cat new > old` keeps the inode: the next round notices the new file. */
static void test_cache_rewrite_in_place(void **state)
{
    (void)state;
    char path[4200], cmd[16384];
    struct stat st;
    perf_symcache *c = perf_symcache_new(NULL);
    const char *paths[1] = {path};
    perf_procs t;
    perf_process *p = load_self(&t);
    uint64_t off = file_offset_of(p, (const void *)perf_test_marker_function);

    snprintf(path, sizeof path, "%s/rewritten", tmpdir);
    snprintf(cmd, sizeof cmd, "cat '%s' > '%s'", exe, path);
    run(cmd);
    assert_int_equal(stat(path, &st), 0);
    const perf_symfile *f = perf_symcache_get(c, st.st_dev, st.st_ino, paths, 1);
    assert_string_equal(perf_symfile_lookup(f, off), "perf_test_marker_function");
    perf_symcache_sweep(c, 5);
    snprintf(cmd, sizeof cmd, "cat /bin/true > '%s'", path);
    run(cmd);
    f = perf_symcache_get(c, st.st_dev, st.st_ino, paths, 1);
    const char *now = perf_symfile_lookup(f, off);
    assert_true(now == NULL || strcmp(now, "perf_test_marker_function") != 0);
    assert_string_not_equal(perf_symfile_build_id(f), "");
    perf_symcache_free(c);
    perf_procs_free(&t);
}

static void test_kallsyms(void **state)
{
    (void)state;
    char path[4200];
    FILE *f;
    perf_kallsyms *k;
    snprintf(path, sizeof path, "%s/kallsyms", tmpdir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("ffffffff81000000 T _stext\n"
          "ffffffff81000100 t do_thing\n"
          "ffffffff81000200 D some_data\n"
          "ffffffff81000300 T schedule\n"
          "ffffffffc0000000 t mod_fn\t[e1000]\n",
          f);
    fclose(f);
    k = perf_kallsyms_load(path);
    assert_non_null(k);
    assert_string_equal(perf_kallsyms_lookup(k, 0xffffffff81000150), "do_thing");
    assert_string_equal(perf_kallsyms_lookup(k, 0xffffffff81000250), "do_thing");
    assert_string_equal(perf_kallsyms_lookup(k, 0xffffffff81000300), "schedule");
    assert_string_equal(perf_kallsyms_lookup(k, 0xffffffffc0000010), "mod_fn [e1000]");
    assert_null(perf_kallsyms_lookup(k, 0xffffffff80000000));
    perf_kallsyms_free(k);

    f = fopen(path, "w"); /* kptr_restrict hides every address */
    fputs("0000000000000000 T _stext\n0000000000000000 t do_thing\n", f);
    fclose(f);
    assert_null(perf_kallsyms_load(path));
}

static const char *function_name(pp_profile *prof, const pp_pprof *t, uint64_t loc_id)
{
    const pp_host *h = harness_host();
    const pp_location *l = h->pprof_location(prof, loc_id);
    assert_non_null(l);
    assert_int_equal(l->n_lines, 1);
    return t->strings[h->pprof_function(prof, l->lines[0].function_id)->name];
}

/* A process's stacks → pprof: resolved names, an address outside every
 * mapping and one in a mapping without symbols still named, kernel frames
 * from a kallsyms file, the executable as the first mapping. */
static void test_pprof_from_stacks(void **state)
{
    (void)state;
    const pp_host *h = harness_host();
    char path[4200], err[256];
    perf_procs t;
    perf_process *p = load_self(&t);
    perf_resolver r = {.host = h, .cache = perf_symcache_new(NULL), .kallsyms_path = path};
    uint64_t fn = (uint64_t)(uintptr_t)perf_test_marker_function;
    uint64_t with_kernel[] = {(uint64_t)PERF_CONTEXT_KERNEL, 0xffffffff81000120,
                              (uint64_t)PERF_CONTEXT_USER, fn + 2, 0x10};
    uint64_t user_only[] = {(uint64_t)PERF_CONTEXT_USER, fn};
    FILE *f;

    snprintf(path, sizeof path, "%s/kallsyms2", tmpdir);
    f = fopen(path, "w");
    fputs("ffffffff81000100 T do_syscall_64\n", f);
    fclose(f);
    assert_int_equal(perf_proc_add_map(p, 0x100000, 0x200000, 0x3000, 0, 0, "/opt/libnosym.so"), 0);
    uint64_t in_nosym[] = {(uint64_t)PERF_CONTEXT_USER, 0x100010};
    assert_int_equal(perf_proc_add_map(p, 0x300000, 0x301000, 0, 0, 0, "//anon"), 0);
    uint64_t in_jit[] = {(uint64_t)PERF_CONTEXT_USER, 0x300040};
    for (int i = 0; i < 3; i++)
        perf_stacks_add(&p->stacks, with_kernel, 5);
    perf_stacks_add(&p->stacks, user_only, 2);
    perf_stacks_add(&p->stacks, in_nosym, 2);
    perf_stacks_add(&p->stacks, in_jit, 2);

    pp_profile *prof = h->profile_new();
    assert_int_equal(perf_pprof_build(&r, prof, p, 99, 1000, 2000, err, sizeof err), 0);
    const pp_pprof *tree = h->profile_tree(prof, err, sizeof err);
    assert_non_null(tree);
    assert_int_equal(tree->n_sample_types, 2);
    assert_string_equal(tree->strings[tree->sample_types[0].type], "samples");
    assert_string_equal(tree->strings[tree->sample_types[1].unit], "nanoseconds");
    assert_int_equal(tree->period, 1000000000 / 99);
    assert_string_equal(h->pprof_family(tree), "process_cpu");
    assert_string_equal(tree->strings[tree->mappings[0].filename], exe);
    assert_int_equal(tree->n_samples, 4);
    int seen_kernel = 0, seen_nosym = 0, seen_jit = 0;
    for (size_t i = 0; i < tree->n_samples; i++) {
        const pp_sample *s = &tree->samples[i];
        if (s->values[0] == 3) {
            assert_int_equal(s->n_location_ids, 3);
            assert_string_equal(function_name(prof, tree, s->location_ids[0]), "do_syscall_64");
            assert_string_equal(function_name(prof, tree, s->location_ids[1]),
                                "perf_test_marker_function");
            assert_string_equal(function_name(prof, tree, s->location_ids[2]), "[unknown]+0x10");
            assert_int_equal(s->values[1], 3 * (1000000000 / 99));
            seen_kernel = 1;
        } else if (strcmp(function_name(prof, tree, s->location_ids[0]), "libnosym.so+0x3010") ==
                   0) {
            seen_nosym = 1;
        } else if (strcmp(function_name(prof, tree, s->location_ids[0]), "[anon]+0x40") == 0) {
            seen_jit = 1;
        }
    }
    assert_true(seen_kernel);
    assert_true(seen_nosym);
    assert_true(seen_jit);
    assert_int_equal(r.unresolved, 3);
    h->profile_free(prof);
    perf_resolver_free(&r);
    perf_procs_free(&t);
}

static void test_vdso_frames(void **state)
{
    (void)state;
    perf_procs t;
    perf_process *p = load_self(&t);
    perf_resolver r = {.host = harness_host(), .cache = perf_symcache_new(NULL)};
    const perf_map *vdso = NULL, *m;
    char buf[256];
    int resolved, named = 0;
    for (size_t i = 0; i < p->n_maps; i++)
        if (strcmp(p->maps[i].path, "[vdso]") == 0)
            vdso = &p->maps[i];
    if (!vdso)
        skip(); /* vdso=0 on the kernel command line */
    for (uint64_t a = vdso->start; a < vdso->end && !named; a += 4) {
        const char *name = perf_resolve_user(&r, p, a, 0, &m, &resolved, buf, sizeof buf);
        named = resolved && strstr(name, "gettime") != NULL;
    }
    assert_true(named);
    perf_resolver_free(&r);
    perf_procs_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_function_by_file_offset),
        cmocka_unit_test(test_debug_file_by_build_id),
        cmocka_unit_test(test_cache_shares_and_sweeps),
        cmocka_unit_test(test_cache_rewrite_in_place),
        cmocka_unit_test(test_kallsyms),
        cmocka_unit_test(test_pprof_from_stacks),
        cmocka_unit_test(test_vdso_frames),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
