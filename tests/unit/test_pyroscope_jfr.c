/* Tests of the JFR reader and its conversion to pprof (the pyroscope
 * receiver's format=jfr) on a real recording, made at test time by the
 * JDK (OpenJDK 17, Debian openjdk-17-jdk-headless) running
 * tests/e2e/pyroscope/jfr/JfrWorkload.java with workload.jfc (several
 * chunks, as the workload starts a second recording): every event kind it
 * records is read, the hot method leads CPU, the conversion names
 * each profile as Pyroscope does; thousands of truncations and byte
 * mutations of the recording are refused or read without a crash (ASan in
 * CI), with an error naming the offset; a small budget is a memory error,
 * not a crash. (Recordings shaped as async-profiler writes them, and the
 * Java SDK's labels: test_pyroscope_jfr_async.c.) */

// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "unit_support.h"

#include "../../receivers/pyroscope/pyroscope_jfr.h"
#include "../../receivers/pyroscope/pyroscope_jfr_pprof.h"

#define BUDGET ((size_t)64 << 20)
#define WORKLOAD_MS "1500"
#define MUTATIONS 3000
#define CONVERTED_MUTATIONS 300
#define TRUNCATIONS 3000
#define CHUNK_HEADER_SIZE 68
#define OFF_META 24

static char dir[256];
static uint8_t *rec;
static size_t rec_len;

/* Compiles and runs the workload under JFR; reads the recording. */
static int make_recording(void **state)
{
    (void)state;
    char cmd[2048], path[300];
    if (unit_make_tmpdir(dir, sizeof(dir), "pp-jfr") < 0)
        return -1;
    snprintf(cmd, sizeof(cmd),
             "javac -d %s " SOURCE_DIR "/tests/e2e/pyroscope/jfr/JfrWorkload.java && "
             "timeout 120 java -XX:StartFlightRecording=filename=%s/r.jfr,settings=" SOURCE_DIR
             "/tests/e2e/pyroscope/jfr/workload.jfc -cp %s JfrWorkload " WORKLOAD_MS
             " >%s/java.log 2>&1",
             dir, dir, dir, dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot record with the JDK: %s\n", cmd);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/r.jfr", dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    rec_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    rec = malloc(rec_len);
    size_t got = rec ? fread(rec, 1, rec_len, f) : 0;
    fclose(f);
    return got == rec_len && rec_len > CHUNK_HEADER_SIZE ? 0 : -1;
}

static int drop_recording(void **state)
{
    (void)state;
    free(rec);
    return unit_remove_tmpdir(dir);
}

typedef struct tally {
    uint64_t values[JFR_KINDS][2];
    char top[256];     /* leaf of the biggest CPU sample */
    int64_t top_value; /* its samples */
} tally;

static int count_sample(void *arg, const jfr_sample *s)
{
    tally *t = arg;
    t->values[s->kind][0] += (uint64_t)s->values[0];
    t->values[s->kind][1] += (uint64_t)s->values[1];
    if (s->kind == JFR_CPU && s->n_frames && s->values[0] > t->top_value) {
        t->top_value = s->values[0];
        snprintf(t->top, sizeof(t->top), "%s.%s", s->frames[0].class_name, s->frames[0].method);
    }
    for (size_t i = 0; i < s->n_frames; i++) {
        assert_non_null(s->frames[i].class_name);
        assert_non_null(s->frames[i].method);
    }
    return 0;
}

static void test_real_recording(void **state)
{
    (void)state;
    tally t = {0};
    jfr_info info;
    char err[256];
    assert_int_equal(jfr_parse(rec, rec_len, BUDGET, count_sample, &t, &info, err, sizeof(err)), 0);
    assert_true(info.chunks >= 2); /* the workload's second recording adds chunks */
    assert_true(info.end_ns > info.start_ns);
    assert_int_equal(info.cpu_period_ns, 10 * 1000 * 1000); /* workload.jfc: 10 ms */
    assert_true(info.events[JFR_CPU] > 0);
    assert_true(info.events[JFR_ALLOC_OUTSIDE_TLAB] > 0); /* 4 MiB arrays */
    assert_true(info.events[JFR_ALLOC_SAMPLE] > 0);
    assert_true(info.events[JFR_PARK] > 0);
    assert_true(info.events[JFR_LOCK] > 0);
    assert_int_equal(info.events[JFR_WALL], 0); /* the JDK has no event=wall */
    /* each event counted once, unless its stack trace is missing */
    for (int k = 0; k < JFR_KINDS; k++)
        assert_int_equal(t.values[k][0] + info.stackless[k], info.events[k]);
    assert_true(t.values[JFR_CPU][0] > 0);
    assert_true(t.values[JFR_ALLOC_OUTSIDE_TLAB][1] >= t.values[JFR_ALLOC_OUTSIDE_TLAB][0] << 22);
    assert_true(t.values[JFR_LOCK][1] > 0 && t.values[JFR_PARK][1] > 0);
    assert_string_equal(t.top, "JfrWorkload.hotBurn");
}

static const char *label(const pp_host *h, pp_profile *p, const char *name)
{
    const char *v = h->label_get(p, name);
    return v ? v : "";
}

static void test_conversion(void **state)
{
    (void)state;
    const pp_host *h = harness_host();
    pp_profile **ps = NULL;
    size_t n = 0;
    char err[256];
    assert_int_equal(jfr_to_pprof(h, rec, rec_len, NULL, 100, BUDGET, &ps, &n, err, sizeof(err)),
                     0);
    int seen_cpu = 0, seen_mutex = 0, seen_block = 0, seen_outside = 0;
    for (size_t i = 0; i < n; i++) {
        const pp_pprof *t = h->profile_tree(ps[i], err, sizeof(err));
        assert_non_null(t);
        const char *type = t->strings[t->sample_types[0].type];
        const char *name = label(h, ps[i], "__name__");
        if (strcmp(type, "cpu") == 0) {
            seen_cpu = 1;
            assert_string_equal(name, "process_cpu");
            assert_int_equal(t->period, 10000000); /* sampleRate=100 */
            for (size_t s = 0; s < t->n_samples; s++)
                assert_int_equal(t->samples[s].values[0] % 10000000, 0);
        } else if (strcmp(type, "alloc_outside_tlab_objects") == 0) {
            seen_outside = 1;
            assert_string_equal(name, "memory");
            assert_string_equal(t->strings[t->sample_types[1].type], "alloc_outside_tlab_bytes");
            assert_string_equal(t->strings[t->period_type.type], "space");
        } else if (strcmp(type, "contentions") == 0) {
            const char *pt = t->strings[t->period_type.type];
            seen_mutex |= strcmp(name, "mutex") == 0 && strcmp(pt, "mutex") == 0;
            seen_block |= strcmp(name, "block") == 0 && strcmp(pt, "block") == 0;
        }
        assert_true(t->n_samples > 0);
        assert_true(t->n_locations > 0 && t->n_functions > 0);
        assert_int_equal(t->n_mappings, 1);
        assert_true(t->time_nanos > 0 && t->duration_nanos > 0);
        assert_null(h->label_get(ps[i], JFR_LABEL_EVENT)); /* the JDK sets none */
        h->profile_free(ps[i]);
    }
    free(ps);
    assert_true(seen_cpu && seen_mutex && seen_block && seen_outside);
}

/* Whether the recording's first len bytes are whole chunks. */
static int chunk_boundary(size_t len)
{
    size_t at = 0;
    while (len > 0 && at < len && rec_len - at >= CHUNK_HEADER_SIZE) {
        uint64_t size = 0;
        for (int i = 8; i < 16; i++)
            size = size << 8 | rec[at + i];
        if (size == 0 || size > rec_len - at)
            return 0;
        at += (size_t)size;
    }
    return len > 0 && at == len;
}

/* A truncated recording is an error that names where (never a crash). */
static void test_truncations(void **state)
{
    (void)state;
    size_t step = rec_len / TRUNCATIONS ? rec_len / TRUNCATIONS : 1;
    size_t tried = 0;
    for (size_t len = 0; len < rec_len; len += len < 4 * CHUNK_HEADER_SIZE ? 1 : step) {
        tally t = {0};
        jfr_info info;
        char err[256] = "";
        int rc = jfr_parse(rec, len, BUDGET, count_sample, &t, &info, err, sizeof(err));
        if (chunk_boundary(len)) /* whole chunks are a recording */
            continue;
        assert_int_equal(rc, JFR_ERR_FORMAT);
        assert_true(len == 0 || strstr(err, "offset") != NULL);
        tried++;
    }
    assert_true(tried >= TRUNCATIONS / 2);
}

/* xorshift: the same mutations on every run. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Changes 1 to 4 bytes; two thirds of the time between the header and the
 * metadata (events and constant pools), else anywhere. */
static void mutate(uint8_t *buf, uint64_t *seed)
{
    uint64_t meta = 0;
    for (int i = 0; i < 8; i++)
        meta = meta << 8 | rec[OFF_META + i];
    size_t lo = CHUNK_HEADER_SIZE, hi = meta > lo && meta < rec_len ? (size_t)meta : rec_len;
    int n = 1 + (int)(next_random(seed) % 4);
    for (int i = 0; i < n; i++) {
        size_t at = next_random(seed) % 3 ? lo + next_random(seed) % (hi - lo)
                                          : next_random(seed) % rec_len;
        buf[at] = (uint8_t)next_random(seed);
    }
}

static void test_mutations(void **state)
{
    (void)state;
    const pp_host *h = harness_host();
    uint8_t *buf = malloc(rec_len);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int refused = 0;
    assert_non_null(buf);
    for (int m = 0; m < MUTATIONS; m++) {
        memcpy(buf, rec, rec_len);
        mutate(buf, &seed);
        char err[256] = "";
        int rc;
        if (m < CONVERTED_MUTATIONS) {
            pp_profile **ps = NULL;
            size_t n = 0;
            rc = jfr_to_pprof(h, buf, rec_len, NULL, 0, BUDGET, &ps, &n, err, sizeof(err));
            for (size_t i = 0; i < n; i++) {
                const uint8_t *gz;
                size_t gz_len;
                assert_int_equal(h->profile_raw_gz(ps[i], &gz, &gz_len, err, sizeof(err)), 0);
                h->profile_free(ps[i]);
            }
            free(ps);
        } else {
            tally t = {0};
            jfr_info info;
            rc = jfr_parse(buf, rec_len, BUDGET, count_sample, &t, &info, err, sizeof(err));
        }
        if (rc != 0) {
            refused++;
            assert_true(rc == JFR_ERR_FORMAT || rc == JFR_ERR_MEMORY);
            assert_true(strlen(err) > 0);
        }
    }
    free(buf);
    assert_true(refused > 0); /* the mutations did reach the checks */
}

static void test_budget(void **state)
{
    (void)state;
    tally t = {0};
    jfr_info info;
    char err[256];
    assert_int_equal(jfr_parse(rec, rec_len, 4096, count_sample, &t, &info, err, sizeof(err)),
                     JFR_ERR_MEMORY);
    assert_non_null(strstr(err, "memory"));
    pp_profile **ps = NULL;
    size_t n = 0;
    assert_int_equal(
        jfr_to_pprof(harness_host(), rec, rec_len, NULL, 0, 200 << 10, &ps, &n, err, sizeof(err)),
        JFR_ERR_MEMORY);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_recording), cmocka_unit_test(test_conversion),
        cmocka_unit_test(test_truncations),    cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_budget),
    };
    return cmocka_run_group_tests(tests, make_recording, drop_recording);
}
