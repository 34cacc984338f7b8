/* Tests of the file exporter: names and sanitizing, atomic unique files,
 * the JSON index field by field, retention with index compaction, and how
 * disk errors and bad profiles map onto PP_RETRY and PP_REJECTED. The
 * exporter runs through tests/support/harness.h with the real host API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"
#include "unit_support.h"
#include "../../exporters/file/file_store.h"

extern const pp_component pp_exporter_file;

#define T0 1700000000000000000LL /* a window start, ns */
#define SEC 1000000000LL

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    return unit_make_tmpdir(tmpdir, sizeof tmpdir, "test_file_exporter");
}

static int remove_dir(void **state)
{
    (void)state;
    return unit_remove_tmpdir(tmpdir);
}

/* A one-sample CPU profile with the given labels and window. */
static pp_profile *make_profile(const char *service, int64_t value, int64_t from, int64_t until)
{
    const pp_host *h = harness_host();
    pp_profile *p = h->profile_new();
    pp_pprof *t = h->profile_tree_new(p);
    int64_t cpu = h->pprof_intern(p, "cpu"), ns = h->pprof_intern(p, "nanoseconds");
    int64_t fn_name = h->pprof_intern(p, "main.work");
    t->sample_types = h->profile_alloc(p, sizeof *t->sample_types);
    t->sample_types[0] = (pp_value_type){cpu, ns};
    t->n_sample_types = 1;
    t->functions = h->profile_alloc(p, sizeof *t->functions);
    t->functions[0] = (pp_function){.id = 1, .name = fn_name};
    t->n_functions = 1;
    t->locations = h->profile_alloc(p, sizeof *t->locations);
    t->locations[0].id = 1;
    t->locations[0].lines = h->profile_alloc(p, sizeof(pp_line));
    t->locations[0].lines[0].function_id = 1;
    t->locations[0].n_lines = 1;
    t->n_locations = 1;
    t->samples = h->profile_alloc(p, sizeof *t->samples);
    t->samples[0].location_ids = h->profile_alloc(p, sizeof(uint64_t));
    t->samples[0].location_ids[0] = 1;
    t->samples[0].n_location_ids = 1;
    t->samples[0].values = h->profile_alloc(p, sizeof(int64_t));
    t->samples[0].values[0] = value;
    t->samples[0].n_values = 1;
    t->n_samples = 1;
    t->time_nanos = from;
    t->duration_nanos = until - from;
    h->label_set(p, "service_name", service);
    h->label_set(p, "__name__", "process_cpu");
    h->profile_set_window(p, from, until);
    return p;
}

static harness *exporter(const char *extra_yaml)
{
    char yaml[1024], err[512];
    snprintf(yaml, sizeof yaml, "directory: %s/out\n%s", tmpdir, extra_yaml);
    harness *hs = harness_new(&pp_exporter_file, "file", yaml, err, sizeof err);
    if (!hs)
        fail_msg("%s", err);
    assert_int_equal(harness_start(hs), 0);
    return hs;
}

/* Exports a batch of n profiles; returns the status, outcomes in out. */
static pp_status export(harness *hs, pp_profile **ps, size_t n, pp_outcome *out,
                        pp_export_result *res)
{
    const pp_host *h = harness_host();
    pp_batch *b = h->batch_new();
    for (size_t i = 0; i < n; i++)
        h->batch_add(b, ps[i]);
    memset(res, 0, sizeof *res);
    pp_status st = pp_exporter_file.export(harness_state(hs), b, out, res);
    h->batch_unref(b);
    return st;
}

static size_t count_lines(const char *path, char lines[][1024], size_t max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = 0;
    char buf[1024];
    while (fgets(buf, sizeof buf, f)) {
        if (n < max)
            snprintf(lines[n], 1024, "%s", buf);
        n++;
    }
    fclose(f);
    return n;
}

static int exists(const char *fmt, const char *a)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, fmt, tmpdir, a);
    return stat(path, &st) == 0;
}

static void test_sanitize(void **state)
{
    (void)state;
    char out[STORE_MAX_COMPONENT + 1], big[300];
    store_sanitize("../../etc", out, sizeof out);
    assert_null(strchr(out, '/'));
    assert_int_not_equal(out[0], '.');
    assert_string_equal(out, "_._.._etc");
    store_sanitize("..", out, sizeof out);
    assert_string_equal(out, "_.");
    store_sanitize("", out, sizeof out);
    assert_string_equal(out, "_");
    store_sanitize(NULL, out, sizeof out);
    assert_string_equal(out, "_");
    store_sanitize("checkout-api_v2.eu", out, sizeof out);
    assert_string_equal(out, "checkout-api_v2.eu");
    store_sanitize("a b\tc\xc3\xa9", out, sizeof out);
    assert_string_equal(out, "a_b_c__");
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    store_sanitize(big, out, sizeof out);
    assert_int_equal(strlen(out), STORE_MAX_COMPONENT);
}

static void test_writes_files_and_index(void **state)
{
    (void)state;
    harness *hs = exporter("");
    pp_profile *ps[3] = {make_profile("checkout", 10, T0, T0 + 10 * SEC),
                         make_profile("checkout", 20, T0, T0 + 10 * SEC),
                         make_profile("../evil/..", 30, T0, T0 + 10 * SEC)};
    const pp_host *h = harness_host();
    char fp[17];
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)h->labels_fingerprint(ps[0]));
    pp_outcome out[3] = {0};
    pp_export_result res;
    assert_int_equal(export(hs, ps, 3, out, &res), PP_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(out[i], PP_EXPORTED);

    char name[256], lines[4][1024];
    snprintf(name, sizeof name, "checkout/process_cpu/%lld-%lld-%s.pb.gz", T0, T0 + 10 * SEC, fp);
    assert_true(exists("%s/out/%s", name));
    /* same window and labels: a second file, not an overwrite */
    snprintf(name, sizeof name, "checkout/process_cpu/%lld-%lld-%s-1.pb.gz", T0, T0 + 10 * SEC, fp);
    assert_true(exists("%s/out/%s", name));
    assert_true(exists("%s/out/%s", "_._evil_../process_cpu"));

    char index[300];
    snprintf(index, sizeof index, "%s/out/index.jsonl", tmpdir);
    assert_int_equal(count_lines(index, lines, 4), 3);
    char want[1024];
    snprintf(want, sizeof want,
             "{\"path\":\"%s\",\"labels\":{\"__name__\":\"process_cpu\",\"service_name\":"
             "\"checkout\"},\"from\":%lld,\"until\":%lld,\"sample_types\":"
             "[\"cpu/nanoseconds\"],\"bytes\":",
             name, T0, T0 + 10 * SEC);
    assert_memory_equal(lines[1], want, strlen(want));
    /* bytes is the file's size */
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/out/%s", tmpdir, name);
    assert_int_equal(stat(path, &st), 0);
    char bytes[64];
    snprintf(bytes, sizeof bytes, "\"bytes\":%lld,", (long long)st.st_size);
    assert_non_null(strstr(lines[1], bytes));
    /* the label value keeps its real text in the index */
    assert_non_null(strstr(lines[2], "\"service_name\":\"../evil/..\""));
    harness_free(hs);
}

/* store_write with a names table: duplicates take -1, -2, ... and the
 * search starts after the last suffix taken (a freed `-1` is not taken
 * again: the table, not a probe from the bare name, chose the name); a
 * write without the table, or whose slot another name took, probes from
 * the bare name and still never replaces a file. */
static void test_duplicate_names_start_after_last(void **state)
{
    (void)state;
    store_names *names = calloc(1, sizeof *names);
    assert_non_null(names);
    char name[256], err[256], path[512];
    const char *base = "1-2-00000000000000aa";
    for (int i = 0; i < 5; i++) {
        assert_int_equal(
            store_write(names, tmpdir, base, "x", 1, 0, name, sizeof name, err, sizeof err), 0);
        char want[256];
        if (i == 0)
            snprintf(want, sizeof want, "%s.pb.gz", base);
        else
            snprintf(want, sizeof want, "%s-%d.pb.gz", base, i);
        assert_string_equal(name, want);
    }
    snprintf(path, sizeof path, "%s/%s-1.pb.gz", tmpdir, base);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(
        store_write(names, tmpdir, base, "x", 1, 0, name, sizeof name, err, sizeof err), 0);
    assert_string_equal(name, "1-2-00000000000000aa-5.pb.gz");
    /* without the table: the first free name from the bare one */
    assert_int_equal(store_write(NULL, tmpdir, base, "x", 1, 0, name, sizeof name, err, sizeof err),
                     0);
    assert_string_equal(name, "1-2-00000000000000aa-1.pb.gz");
    /* a stale slot (an earlier suffix) probes up from there: no file is
     * replaced */
    memset(names->next, 0, sizeof names->next);
    for (size_t i = 0; i < STORE_NAME_SLOTS; i++)
        names->next[i] = names->key[i] ? 2 : 0;
    assert_int_equal(
        store_write(names, tmpdir, base, "x", 1, 0, name, sizeof name, err, sizeof err), 0);
    assert_string_equal(name, "1-2-00000000000000aa-6.pb.gz");
    free(names);
}

static void test_written_file_decodes(void **state)
{
    (void)state;
    harness *hs = exporter("fsync: true\n");
    pp_profile *ps[1] = {make_profile("svc", 1234, T0, T0 + SEC)};
    pp_outcome out[1] = {0};
    pp_export_result res;
    assert_int_equal(export(hs, ps, 1, out, &res), PP_OK);
    char lines[1][1024], index[300], path[1024];
    snprintf(index, sizeof index, "%s/out/index.jsonl", tmpdir);
    assert_int_equal(count_lines(index, lines, 1), 1);
    const char *rel = lines[0] + strlen("{\"path\":\"");
    snprintf(path, sizeof path, "%s/out/%.*s", tmpdir, (int)(strchr(rel, '"') - rel), rel);

    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(n > 2 && buf[0] == 0x1f && buf[1] == 0x8b); /* gzip */
    const pp_host *h = harness_host();
    pp_profile *p = h->profile_new();
    assert_int_equal(h->profile_set_raw(p, buf, n), 0);
    char err[256];
    const pp_pprof *t = h->profile_tree(p, err, sizeof err);
    assert_non_null(t);
    assert_int_equal(t->n_samples, 1);
    assert_int_equal(t->samples[0].values[0], 1234);
    h->profile_free(p);
    harness_free(hs);
}

static void test_retention_by_size_compacts_index(void **state)
{
    (void)state;
    harness *hs = exporter("max_total_size: 1\n");
    char lines[8][1024], index[300];
    snprintf(index, sizeof index, "%s/out/index.jsonl", tmpdir);
    for (int i = 0; i < 3; i++) {
        pp_profile *ps[1] = {make_profile("svc", 1, T0 + i * SEC, T0 + (i + 1) * SEC)};
        pp_outcome out[1] = {0};
        pp_export_result res;
        assert_int_equal(export(hs, ps, 1, out, &res), PP_OK);
    }
    /* only the newest file stays; the index lists at most twice the live */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test $(find %s/out -name '*.pb.gz' | wc -l) = 1", tmpdir);
    assert_int_equal(system(cmd), 0);
    size_t n = count_lines(index, lines, 8);
    assert_true(n >= 1 && n <= 2);
    char newest[64];
    snprintf(newest, sizeof newest, "/%lld-%lld-", T0 + 2 * SEC, T0 + 3 * SEC);
    assert_non_null(strstr(lines[n - 1], newest));
    harness_free(hs);
}

/* Writes a file under out/ and sets its mtime `age` seconds back. */
static void old_file(const char *rel, int age)
{
    char path[1024], cmd[2200];
    snprintf(path, sizeof path, "%s/out/%s", tmpdir, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\" && echo x > '%s'", path, path);
    assert_int_equal(system(cmd), 0);
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= age;
    tv[1] = tv[0];
    assert_int_equal(utimes(path, tv), 0);
}

static void test_start_applies_max_age_and_repairs_index(void **state)
{
    (void)state;
    old_file("svc/memory/1-2-0000000000000001.pb.gz", 7200);
    old_file("svc/memory/3-4-0000000000000002.pb.gz", 7100);
    old_file("svc/memory/.tmp-5-6-0000000000000003.pb.gz", 10);
    char index[300], lines[8][1024];
    snprintf(index, sizeof index, "%s/out/index.jsonl", tmpdir);
    FILE *f = fopen(index, "w");
    fprintf(f, "{\"path\":\"svc/memory/1-2-0000000000000001.pb.gz\",\"bytes\":2}\n");
    fprintf(f, "{\"path\":\"svc/memory/gone.pb.gz\",\"bytes\":2}\n");
    fprintf(f, "{\"path\":\"svc/memory/3-4-0000000000000002.pb.gz\",\"bytes\":2}\n");
    fprintf(f, "{\"path\":\"svc/memory/3-4-00"); /* torn by a crash */
    fclose(f);

    harness *hs = exporter("max_age: 1h\n");
    /* the older one is deleted; the newest stays even though it is old */
    assert_false(exists("%s/out/%s", "svc/memory/1-2-0000000000000001.pb.gz"));
    assert_true(exists("%s/out/%s", "svc/memory/3-4-0000000000000002.pb.gz"));
    assert_false(exists("%s/out/%s", "svc/memory/.tmp-5-6-0000000000000003.pb.gz"));
    /* compacted at start: no line for a missing file, no torn line */
    size_t n = count_lines(index, lines, 8);
    assert_int_equal(n, 2);
    assert_non_null(strstr(lines[1], "3-4-0000000000000002"));
    harness_free(hs);
}

static void test_disk_error_retries(void **state)
{
    (void)state;
    char yaml[512], err[512], blocker[300];
    snprintf(blocker, sizeof blocker, "%s/not-a-dir", tmpdir);
    FILE *f = fopen(blocker, "w");
    fclose(f);
    snprintf(yaml, sizeof yaml, "directory: %s/sub\n", blocker);
    harness *hs = harness_new(&pp_exporter_file, "file", yaml, err, sizeof err);
    assert_non_null(hs);
    assert_int_equal(harness_start(hs), 0); /* a late disk is not fatal */
    pp_profile *ps[1] = {make_profile("svc", 1, T0, T0 + SEC)};
    pp_outcome out[1] = {0};
    pp_export_result res;
    assert_int_equal(export(hs, ps, 1, out, &res), PP_RETRY);
    assert_int_equal(out[0], PP_PENDING);
    assert_non_null(strstr(res.message, "Not a directory"));
    harness_free(hs);
}

/* A disk that fills up (RLIMIT_FSIZE makes writes past a size fail with
 * EFBIG, like ENOSPC): first while writing the profile, then while
 * appending its index line. Each time PP_RETRY with the reason, nothing
 * partial left, and the retry writes both once there is room. */
static void with_file_size_limit(rlim_t limit)
{
    struct rlimit rl;
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = limit;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static void test_full_disk_retries_without_leftovers(void **state)
{
    (void)state;
    signal(SIGXFSZ, SIG_IGN); /* get EFBIG instead of being killed */
    struct rlimit saved;
    getrlimit(RLIMIT_FSIZE, &saved);
    harness *hs = exporter("");
    char index[300], lines[4][1024], cmd[512];
    snprintf(index, sizeof index, "%s/out/index.jsonl", tmpdir);
    pp_outcome out[1] = {0};
    pp_export_result res;

    with_file_size_limit(8); /* the profile itself does not fit */
    pp_profile *ps[1] = {make_profile("svc", 1, T0, T0 + SEC)};
    pp_status st = export(hs, ps, 1, out, &res);
    assert_int_equal(st, PP_RETRY);
    assert_non_null(strstr(res.message, "File too large"));
    snprintf(cmd, sizeof cmd, "test -z \"$(find %s/out -type f -name '*.pb.gz')\"", tmpdir);
    assert_int_equal(system(cmd), 0); /* neither the profile nor its temp file */
    setrlimit(RLIMIT_FSIZE, &saved);

    ps[0] = make_profile("svc", 1, T0, T0 + SEC);
    assert_int_equal(export(hs, ps, 1, out, &res), PP_OK);
    struct stat st_index;
    assert_int_equal(stat(index, &st_index), 0);

    with_file_size_limit((rlim_t)st_index.st_size + 8); /* the next line does not fit */
    memset(out, 0, sizeof out);
    ps[0] = make_profile("svc", 2, T0 + SEC, T0 + 2 * SEC);
    st = export(hs, ps, 1, out, &res);
    setrlimit(RLIMIT_FSIZE, &saved);
    assert_int_equal(st, PP_RETRY);
    assert_non_null(strstr(res.message, "index.jsonl"));
    assert_int_equal(count_lines(index, lines, 4), 1); /* no torn line */
    snprintf(cmd, sizeof cmd, "test $(find %s/out -type f -name '*.pb.gz' | wc -l) = 1", tmpdir);
    assert_int_equal(system(cmd), 0); /* the file without a line was taken back */

    ps[0] = make_profile("svc", 2, T0 + SEC, T0 + 2 * SEC);
    assert_int_equal(export(hs, ps, 1, out, &res), PP_OK);
    assert_int_equal(count_lines(index, lines, 4), 2);
    harness_free(hs);
}

static void test_bad_profile_rejected_and_finished_skipped(void **state)
{
    (void)state;
    harness *hs = exporter("");
    const pp_host *h = harness_host();
    pp_profile *bad = h->profile_new();
    h->label_set(bad, "service_name", "svc");
    h->label_set(bad, "__name__", "process_cpu");
    h->profile_set_raw(bad, "\x1f\x8b garbage", 10);
    pp_profile *ps[3] = {make_profile("done", 1, T0, T0 + SEC), bad,
                         make_profile("svc", 1, T0, T0 + SEC)};
    pp_outcome out[3] = {PP_EXPORTED, PP_PENDING, PP_PENDING};
    pp_export_result res;
    assert_int_equal(export(hs, ps, 3, out, &res), PP_OK);
    assert_int_equal(out[1], PP_REJECTED);
    assert_int_equal(out[2], PP_EXPORTED);
    assert_false(exists("%s/out/%s", "done")); /* finished earlier: not written again */
    harness_free(hs);
}

static void test_options(void **state)
{
    (void)state;
    char err[512];
    assert_null(harness_new(&pp_exporter_file, "file", "", err, sizeof err));
    assert_non_null(strstr(err, "directory"));
    assert_null(
        harness_new(&pp_exporter_file, "file", "directory: x\nmax_age: soon\n", err, sizeof err));
    assert_non_null(strstr(err, "max_age"));
    assert_null(harness_new(&pp_exporter_file, "file", "directory: \"\"\n", err, sizeof err));
    assert_non_null(strstr(err, "directory"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_options),
        cmocka_unit_test_setup_teardown(test_writes_files_and_index, setup_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_written_file_decodes, setup_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_duplicate_names_start_after_last, setup_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_retention_by_size_compacts_index, setup_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_start_applies_max_age_and_repairs_index, setup_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_disk_error_retries, setup_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_full_disk_retries_without_leftovers, setup_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_bad_profile_rejected_and_finished_skipped, setup_dir,
                                        remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
