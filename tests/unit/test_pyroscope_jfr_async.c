/* Tests of format=jfr on recordings shaped as async-profiler writes them
 * for the Pyroscope Java SDK (which embeds it), written here byte by byte
 * since async-profiler cannot be installed on the test machine: event and
 * type layouts as grafana/jfr-parser describes them
 * (internal/cmd/gen/types.go, commit 1d06ce3 of 2026-02-20: jdk.ExecutionSample and
 * profiler.WallClockSample with contextId/spanId/spanName, profiler.Malloc,
 * profiler.LiveObject, jdk.ActiveSetting "event"), two chunks, ticks that
 * are not nanoseconds, and every string encoding of the JFR format (UTF-8,
 * Latin-1, char array, constant-pool reference). Checked: the wall and
 * CPU split of an event=wall recording, context labels from the Java
 * SDK's LabelsSnapshot (pyroscope-java v2.9.1 agent/jfr_labels.proto) with
 * profile_id and span_name, durations in ns, merged lambda class names,
 * sums across chunks; every truncation and many mutations of it refused
 * or read without a crash; LabelsSnapshot decoding and its garbage. */
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

#include "../../receivers/pyroscope/pyroscope_jfr.h"
#include "../../receivers/pyroscope/pyroscope_jfr_labels.h"
#include "../../receivers/pyroscope/pyroscope_jfr_pprof.h"

#define BUDGET ((size_t)16 << 20)
#define PERIOD_NS 10000000LL /* sampleRate=100 */
#define MUTATIONS 4000

#include "jfr_writer.h"

/* ------------------------------------------------------------ labels */

static void test_labels_snapshot(void **state)
{
    (void)state;
    uint8_t msg[512], ctx[64], pair[16], entry[96];
    size_t n = 0, c = 0, p;
    /* context 7: {1: 2} and {3: 4} */
    p = put_num(pair, 1, 1);
    p += put_num(pair + p, 2, 2);
    c += put_bytes(ctx + c, 1, pair, p);
    p = put_num(pair, 1, 3);
    p += put_num(pair + p, 2, 4);
    c += put_bytes(ctx + c, 1, pair, p);
    size_t e = put_num(entry, 1, 7);
    e += put_bytes(entry + e, 2, ctx, c);
    n += put_bytes(msg + n, 1, entry, e);
    n += string_entry(msg + n, 1, "controller");
    n += string_entry(msg + n, 2, "checkout");
    n += string_entry(msg + n, 3, "region");
    n += string_entry(msg + n, 4, "eu-west");
    jfr_labels *l = NULL;
    char err[256];
    assert_int_equal(jfr_labels_parse(msg, n, BUDGET, &l, err, sizeof(err)), 0);
    size_t pairs = 0;
    const int64_t *kv = jfr_labels_context(l, 7, &pairs);
    assert_int_equal(pairs, 2);
    assert_string_equal(jfr_labels_string(l, kv[0]), "controller");
    assert_string_equal(jfr_labels_string(l, kv[1]), "checkout");
    assert_string_equal(jfr_labels_string(l, kv[2]), "region");
    assert_string_equal(jfr_labels_string(l, kv[3]), "eu-west");
    assert_null(jfr_labels_context(l, 8, &pairs));
    assert_int_equal(pairs, 0);
    jfr_labels_free(l);
    /* every truncation is refused or read, never past its end */
    for (size_t len = 0; len < n; len++) {
        l = NULL;
        int rc = jfr_labels_parse(msg, len, BUDGET, &l, err, sizeof(err));
        assert_true(rc == 0 || rc == JFR_ERR_FORMAT);
        jfr_labels_free(l);
    }
    const uint8_t garbage[] = {0x0a, 0x7f, 0x01};
    assert_int_equal(jfr_labels_parse(garbage, sizeof(garbage), BUDGET, &l, err, sizeof(err)),
                     JFR_ERR_FORMAT);
    assert_non_null(strstr(err, "LabelsSnapshot"));
}

/* A contexts entry without a value is an empty Context, as protobuf reads
 * it: `0a 00` (key 0) and `0a 02 08 05` (key 5). The pyroscope_jfr fuzz
 * target found the first making NULL + 0, which clang's UBSan reports
 * (gcc's does not): its regressions/labels-context-entry-without-value
 * replays it in the fuzz build; this pins the result. */
static void test_labels_empty_context(void **state)
{
    (void)state;
    static const uint8_t empty[] = {0x0a, 0x00}, keyed[] = {0x0a, 0x02, 0x08, 0x05};
    jfr_labels *l = NULL;
    char err[256];
    size_t pairs = 1;
    assert_int_equal(jfr_labels_parse(empty, sizeof(empty), BUDGET, &l, err, sizeof(err)), 0);
    assert_non_null(jfr_labels_context(l, 0, &pairs));
    assert_int_equal(pairs, 0);
    jfr_labels_free(l);
    l = NULL;
    pairs = 1;
    assert_int_equal(jfr_labels_parse(keyed, sizeof(keyed), BUDGET, &l, err, sizeof(err)), 0);
    assert_non_null(jfr_labels_context(l, 5, &pairs));
    assert_int_equal(pairs, 0);
    assert_null(jfr_labels_context(l, 0, &pairs));
    jfr_labels_free(l);
}

static jfr_labels *test_labels(void)
{
    uint8_t msg[256];
    size_t msg_len = snapshot(msg);
    jfr_labels *labels = NULL;
    char err[256];
    assert_int_equal(jfr_labels_parse(msg, msg_len, BUDGET, &labels, err, sizeof(err)), 0);
    return labels;
}

/* ------------------------------------------------------------ tests */

typedef struct totals {
    int64_t v[2];
    size_t samples, labelled, traced;
} totals;

static const char *str(const pp_pprof *t, int64_t i)
{
    return i >= 0 && (size_t)i < t->n_strings ? t->strings[i] : "?";
}

static totals sum(const pp_pprof *t)
{
    totals s = {{0, 0}, t->n_samples, 0, 0};
    for (size_t i = 0; i < t->n_samples; i++) {
        const pp_sample *x = &t->samples[i];
        for (size_t j = 0; j < x->n_values && j < 2; j++)
            s.v[j] += x->values[j];
        for (size_t l = 0; l < x->n_labels; l++) {
            const char *k = str(t, x->labels[l].key), *v = str(t, x->labels[l].str);
            s.labelled += strcmp(k, "request") == 0 && strcmp(v, "checkout") == 0;
            s.traced += (strcmp(k, "profile_id") == 0 && strcmp(v, "0000000000000abc") == 0) +
                        (strcmp(k, "span_name") == 0 && strcmp(v, "GET /pay") == 0);
        }
    }
    return s;
}

/* The profile whose first sample type is `type`, or NULL. */
static pp_profile *find(pp_profile **ps, size_t n, const char *type)
{
    char err[128];
    for (size_t i = 0; i < n; i++) {
        const pp_pprof *t = harness_host()->profile_tree(ps[i], err, sizeof(err));
        if (t && strcmp(str(t, t->sample_types[0].type), type) == 0)
            return ps[i];
    }
    return NULL;
}

static void test_async_profiler_shape(void **state)
{
    (void)state;
    const pp_host *h = harness_host();
    wbuf rec = recording();
    jfr_labels *labels = test_labels();
    char err[256];
    pp_profile **ps = NULL;
    size_t n = 0;
    int rc = jfr_to_pprof(h, rec.b, rec.n, labels, 100, BUDGET, &ps, &n, err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_int_equal(n, 5);
    struct {
        const char *type, *family;
        int64_t v0, v1;
        size_t labelled, traced;
    } want[] = {
        /* 3 running samples with a span, 4 wall-clock running, in 2 chunks */
        {"cpu", "process_cpu", (3 + 4) * 2 * PERIOD_NS, 0, 4, 4},
        /* and the sleeping one too */
        {"wall", "wall", (3 + 1 + 4) * 2 * PERIOD_NS, 0, 4, 4},
        {"live", "memory", 2, 0, 0, 0},
        {"malloc_objects", "memory", 4, 400, 0, 0},
        /* 2000 us ticks = 2 ms, per chunk */
        {"contentions", "mutex", 2, 4000000, 2, 0},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        pp_profile *p = find(ps, n, want[i].type);
        assert_non_null(p);
        const pp_pprof *t = h->profile_tree(p, err, sizeof(err));
        totals s = sum(t);
        assert_string_equal(h->label_get(p, "__name__"), want[i].family);
        assert_string_equal(h->label_get(p, JFR_LABEL_EVENT), "wall");
        assert_int_equal(s.v[0], want[i].v0);
        assert_int_equal(s.v[1], want[i].v1);
        /* label sets, after summing the chunks: with span, without */
        assert_int_equal(s.labelled, want[i].labelled ? 2 - (i == 4) : 0);
        assert_int_equal(s.traced, want[i].traced ? 2 : 0);
        assert_int_equal(t->time_nanos, START_NS);
        assert_int_equal(t->duration_nanos, 2 * CHUNK_NS);
        /* frames: Latin-1 and pooled names, a lambda merged, lines */
        int hot = 0, lambda = 0;
        for (size_t l = 0; l < t->n_locations; l++) {
            const pp_location *loc = &t->locations[l];
            const pp_function *f = h->pprof_function(p, loc->lines[0].function_id);
            hot += strcmp(str(t, f->name), "Main.h\xc3\xa9t") == 0 && loc->lines[0].line == 10;
            lambda += strcmp(str(t, f->name), "Main$$Lambda_.run") == 0;
        }
        assert_int_equal(hot, 1);
        assert_int_equal(lambda, 1);
    }
    for (size_t i = 0; i < n; i++)
        h->profile_free(ps[i]);
    free(ps);
    jfr_labels_free(labels);
    free(rec.b);
}

static int ignore(void *arg, const jfr_sample *s)
{
    (void)arg;
    (void)s;
    return 0;
}

static void test_async_reader_counts(void **state)
{
    (void)state;
    wbuf rec = recording();
    jfr_info info;
    char err[256];
    assert_int_equal(jfr_parse(rec.b, rec.n, BUDGET, ignore, NULL, &info, err, sizeof(err)), 0);
    assert_int_equal(info.chunks, 2);
    assert_string_equal(info.event, "wall");
    assert_int_equal(info.events[JFR_CPU], 2 * (3 + 1 + 1)); /* with the missing stack */
    assert_int_equal(info.stackless[JFR_CPU], 2);
    assert_int_equal(info.events[JFR_WALL], 2 * (3 + 1 + 1 + 1));
    assert_int_equal(info.events[JFR_MALLOC], 4);
    assert_int_equal(info.events[JFR_LOCK], 2);
    free(rec.b);
}

static int count_lock(void *arg, const jfr_sample *s)
{
    int64_t *lock = arg;
    if (s->kind == JFR_LOCK) {
        assert_int_equal(s->n_frames, 2);
        assert_string_equal(s->frames[0].method, "h\xc3\xa9t");
        lock[0] += s->values[0];
        lock[1] += s->values[1];
    }
    return 0;
}

/* A chunk's events may name a stack trace that only the chunk before
 * defines: the JDK does that to an event committed across a chunk
 * rotation (a jdk.JavaMonitorEnter waiting while its thread's stack trace
 * went into the old chunk). Constant pools are per chunk, as Pyroscope
 * reads them (grafana/jfr-parser resets them at each chunk's metadata),
 * and as the JDK reads the chunk alone: that event is left out and
 * counted stackless, never given the old chunk's frames nor another
 * stack's. (`jfr print` on the whole file shows such an event with a stack
 * only when the event before it of its type, in the old chunk, named the
 * same id: its parser keeps the last value it resolved per field.) */
static void test_stack_of_an_earlier_chunk(void **state)
{
    (void)state;
    wbuf rec = {0}, body = {0};
    w_chunk(&rec, 0); /* stack 1, one monitor event of 2000 us */
    size_t cp_off = 68;
    w_checkpoint(&body, 2); /* this chunk's only stack trace is 2 */
    w_sample(&body, EV_MONITOR, 3, (const uint64_t[]){3000, 2, 0});
    w_sample(&body, EV_MONITOR, 3, (const uint64_t[]){7000, 1, 0}); /* chunk 0's stack */
    w_sample(&body, EV_MONITOR, 3, (const uint64_t[]){5000, 2, 0});
    size_t meta_off = 68 + body.n;
    w_metadata(&body);
    w_header(&rec, 68 + body.n, cp_off, meta_off, START_NS + CHUNK_NS);
    w_bytes(&rec, body.b, body.n);
    jfr_info info;
    char err[256];
    int64_t lock[2] = {0, 0};
    assert_int_equal(jfr_parse(rec.b, rec.n, BUDGET, count_lock, lock, &info, err, sizeof(err)), 0);
    assert_int_equal(info.chunks, 2);
    assert_int_equal(info.events[JFR_LOCK], 4);
    assert_int_equal(info.stackless[JFR_LOCK], 1);
    assert_int_equal(lock[0], 3);
    assert_int_equal(lock[1], (2000 + 3000 + 5000) * 1000LL); /* us ticks in ns */
    free(rec.b);
    free(body.b);
}

/* Chunk starts come from the file: one far in the past and one in 2023
 * give a window longer than int64 holds. The duration saturates at
 * INT64_MAX (it overflowed: found by the pyroscope_jfr fuzz target,
 * regressions/chunk-starts-span-overflows). */
static void test_chunk_span_saturates(void **state)
{
    (void)state;
    const pp_host *h = harness_host();
    wbuf rec = recording();
    const uint64_t far_past = (uint64_t)INT64_MIN + 1;
    for (int i = 0; i < 8; i++) /* chunk 0's start, big-endian at offset 32 */
        rec.b[32 + i] = (uint8_t)(far_past >> (56 - 8 * i));
    char err[256];
    pp_profile **ps = NULL;
    size_t n = 0;
    assert_int_equal(jfr_to_pprof(h, rec.b, rec.n, NULL, 100, BUDGET, &ps, &n, err, sizeof(err)),
                     0);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        const pp_pprof *t = h->profile_tree(ps[i], err, sizeof(err));
        assert_non_null(t);
        assert_int_equal(t->time_nanos, INT64_MIN + 1);
        assert_int_equal(t->duration_nanos, INT64_MAX);
        h->profile_free(ps[i]);
    }
    free(ps);
    free(rec.b);
}

/* Every truncation, and mutations, through the whole conversion. */
static void test_async_hostile(void **state)
{
    (void)state;
    const pp_host *h = harness_host();
    wbuf rec = recording();
    jfr_labels *labels = test_labels();
    char err[256];
    uint8_t *buf = malloc(rec.n);
    uint64_t seed = 88172645463325252ull;
    size_t first_chunk = 0;
    for (int b = 8; b < 16; b++)
        first_chunk = first_chunk << 8 | rec.b[b];
    size_t refused = 0;
    assert_non_null(buf);
    for (size_t i = 0; i < rec.n + MUTATIONS; i++) {
        size_t len = i < rec.n ? i : rec.n;
        memcpy(buf, rec.b, rec.n);
        if (i >= rec.n)
            for (int m = 0; m < 1 + (int)(seed % 3); m++) {
                seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
                buf[seed % rec.n] = (uint8_t)(seed >> 24);
            }
        pp_profile **ps = NULL;
        size_t n = 0;
        int rc = jfr_to_pprof(h, buf, len, labels, 0, BUDGET, &ps, &n, err, sizeof(err));
        if (i < rec.n && len != first_chunk) /* whole chunks are a recording */
            assert_int_equal(rc, JFR_ERR_FORMAT);
        assert_true(rc == 0 || rc == JFR_ERR_FORMAT || rc == JFR_ERR_MEMORY);
        refused += rc != 0;
        for (size_t k = 0; k < n; k++) {
            const uint8_t *gz;
            size_t gz_len;
            assert_int_equal(h->profile_raw_gz(ps[k], &gz, &gz_len, err, sizeof(err)), 0);
            h->profile_free(ps[k]);
        }
        free(ps);
    }
    assert_true(refused > rec.n);
    free(buf);
    jfr_labels_free(labels);
    free(rec.b);
}

#define BOMB_LEVELS 30

/* Empty structs nested 30 deep, 7 fields each: 7^30 field reads that take
 * no byte, for one constant of the deepest type. */
static void test_nested_empty_types(void **state)
{
    (void)state;
    static cspec bomb[BOMB_LEVELS];
    static char names[BOMB_LEVELS][16];
    for (int k = 0; k < BOMB_LEVELS; k++) {
        snprintf(names[k], sizeof(names[k]), "bomb.E%d", k);
        bomb[k] = (cspec){200 + k, names[k], {{0}}};
        for (int f = 0; k > 0 && f < 7; f++)
            bomb[k].f[f] = (fspec){names[k - 1], 200 + k - 1, 0, 0};
    }
    wbuf body = {0}, ev = {0}, rec = {0};
    w_varint(&ev, 1); /* a checkpoint with one constant of the deepest type */
    for (int i = 0; i < 3; i++)
        w_varint(&ev, 0);
    w_byte(&ev, 0);
    w_varint(&ev, 1);
    w_varint(&ev, 200 + BOMB_LEVELS - 1);
    w_varint(&ev, 1);
    w_varint(&ev, 1);
    w_event(&body, &ev);
    size_t meta_off = 68 + body.n;
    w_metadata_of(&body, bomb, BOMB_LEVELS);
    w_header(&rec, 68 + body.n, 68, meta_off, START_NS);
    w_bytes(&rec, body.b, body.n);
    jfr_info info;
    char err[256];
    assert_int_equal(jfr_parse(rec.b, rec.n, BUDGET, ignore, NULL, &info, err, sizeof(err)),
                     JFR_ERR_FORMAT);
    assert_non_null(strstr(err, "field reads"));
    free(body.b);
    free(ev.b);
    free(rec.b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_async_profiler_shape),
        cmocka_unit_test(test_async_reader_counts),
        cmocka_unit_test(test_stack_of_an_earlier_chunk),
        cmocka_unit_test(test_async_hostile),
        cmocka_unit_test(test_nested_empty_types),
        cmocka_unit_test(test_labels_snapshot),
        cmocka_unit_test(test_labels_empty_context),
        cmocka_unit_test(test_chunk_span_saturates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
