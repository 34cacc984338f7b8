/* downsample processor: each option on small hand-built trees, checked
 * after an encode/decode round trip: totals kept, depths and fractions as
 * configured, windows merged and emitted by tick (and at final tick),
 * incompatible profiles passed on, keep_one_in per series. */
#include "profile_fixture.h"

#include "metrics.h"

extern const pp_component pp_processor_downsample;

#define SEC 1000000000LL

static pp_profile *cpu_profile(const char *service)
{
    pp_profile *p = fx_profile(service, "process_cpu", "samples/count,cpu/nanoseconds");
    fx_sample1(p, "main;a;b;c;d;e", 50, "");
    fx_sample1(p, "main;a;b;x", 30, "");
    fx_sample1(p, "main;a;y", 2, "");
    fx_sample1(p, "main;a;z", 1, "");
    fx_sample1(p, "main;q", 3, "");
    fx_sample1(p, "main;r;s", 4, "");
    fx_sample1(p, "main", 10, "");
    return p; /* total 100 */
}

static size_t max_depth(pp_profile *p)
{
    char err[FX_ERR];
    const pp_pprof *t = fx_host()->profile_tree(p, err, sizeof err);
    size_t d = 0;
    for (size_t i = 0; i < t->n_samples; i++)
        if (t->samples[i].n_location_ids > d)
            d = t->samples[i].n_location_ids;
    return d;
}

static pp_profile *run_one(const char *yaml, pp_profile *p, harness **hs_out)
{
    const pp_host *h = fx_host();
    harness *hs = fx_harness(&pp_processor_downsample, yaml);
    pp_batch *out = fx_run(&pp_processor_downsample, hs, p);
    assert_non_null(out);
    assert_int_equal(h->batch_count(out), 1);
    pp_profile *q = fx_roundtrip(h->batch_take(out, 0));
    h->batch_unref(out);
    *hs_out = hs;
    return q;
}

static void test_max_stack_depth(void **state)
{
    (void)state;
    harness *hs;
    pp_profile *q = run_one("max_stack_depth: 3", cpu_profile("svc"), &hs);
    assert_true(max_depth(q) <= 3);
    for (size_t vi = 0; vi < 2; vi++) {
        assert_int_equal(fx_sum(q, NULL, vi, NULL, NULL), 100);
        /* main;a;b;c;d;e and main;a;b;x become main;a;[truncated] */
        assert_int_equal(fx_sum(q, "main;a;[truncated]", vi, NULL, NULL), 80);
        assert_int_equal(fx_sum(q, "main;a;y", vi, NULL, NULL), 2);
        assert_int_equal(fx_sum(q, "main;r;s", vi, NULL, NULL), 4);
    }
    fx_host()->profile_free(q);
    harness_free(hs);
}

static void test_min_fraction(void **state)
{
    (void)state;
    harness *hs;
    /* 5% of 100: nodes under 5 fold: main;a;y (2), main;a;z (1) into
     * main;a;[other]; main;q (3) and main;r (4) into main;[other] */
    pp_profile *q = run_one("min_fraction: 0.05", cpu_profile("svc"), &hs);
    for (size_t vi = 0; vi < 2; vi++) {
        assert_int_equal(fx_sum(q, NULL, vi, NULL, NULL), 100);
        assert_int_equal(fx_sum(q, "main;a;[other]", vi, NULL, NULL), 3);
        assert_int_equal(fx_sum(q, "main;[other]", vi, NULL, NULL), 7);
        assert_int_equal(fx_sum(q, "main;a;b;c;d;e", vi, NULL, NULL), 50);
        assert_int_equal(fx_sum(q, "main;a;b;x", vi, NULL, NULL), 30);
        assert_int_equal(fx_sum(q, "main", vi, NULL, NULL), 10);
    }
    char err[FX_ERR];
    assert_int_equal(fx_host()->profile_tree(q, err, sizeof err)->n_samples, 5);
    fx_host()->profile_free(q);
    harness_free(hs);
}

/* A new location for function `name` (len bytes; added if new) at `line`,
 * even when one for that function and line exists: as Node.js' pprof
 * writer does for each call path. */
static uint64_t new_location(pp_profile *p, const char *name, size_t len, int64_t line)
{
    const pp_host *h = fx_host();
    char err[FX_ERR];
    pp_pprof *t = h->profile_tree_mut(p, err, sizeof err);
    int64_t s = h->pprof_intern_bytes(p, name, len);
    uint64_t fid = 0;
    for (size_t i = 0; i < t->n_functions; i++)
        if (t->functions[i].name == s)
            fid = t->functions[i].id;
    if (!fid) {
        pp_function *fns = h->profile_alloc(p, (t->n_functions + 1) * sizeof *fns);
        if (t->n_functions)
            memcpy(fns, t->functions, t->n_functions * sizeof *fns);
        fid = t->n_functions + 1;
        fns[t->n_functions] = (pp_function){.id = fid, .name = s, .system_name = s};
        t->functions = fns;
        t->n_functions++;
    }
    pp_location *locs = h->profile_alloc(p, (t->n_locations + 1) * sizeof *locs);
    pp_line *ln = h->profile_alloc(p, sizeof *ln);
    if (t->n_locations)
        memcpy(locs, t->locations, t->n_locations * sizeof *locs);
    *ln = (pp_line){.function_id = fid, .line = line};
    uint64_t id = t->n_locations + 1;
    locs[t->n_locations] =
        (pp_location){.id = id, .address = 0x100 * id, .lines = ln, .n_lines = 1};
    t->locations = locs;
    t->n_locations++;
    return id;
}

/* A sample of value v on the stack leaf, root (location ids). */
static void add_pair(pp_profile *p, uint64_t leaf, uint64_t root, int64_t v)
{
    const pp_host *h = fx_host();
    char err[FX_ERR];
    pp_pprof *t = h->profile_tree_mut(p, err, sizeof err);
    pp_sample *samples = h->profile_alloc(p, (t->n_samples + 1) * sizeof *samples);
    if (t->n_samples)
        memcpy(samples, t->samples, t->n_samples * sizeof *samples);
    pp_sample *s = &samples[t->n_samples];
    s->n_location_ids = leaf ? 2 : 1;
    s->location_ids = h->profile_alloc(p, 2 * sizeof(uint64_t));
    s->location_ids[0] = leaf ? leaf : root;
    s->location_ids[1] = root;
    s->values = h->profile_alloc(p, 2 * sizeof(int64_t));
    s->values[0] = s->values[1] = v;
    s->n_values = 2;
    t->samples = samples;
    t->n_samples++;
}

/* Frames are told apart by content, not location id: one function line
 * at several locations is one node (Node.js profiles), and two names that
 * differ only after a NUL byte are two. */
static void test_min_fraction_by_frame(void **state)
{
    (void)state;
    harness *hs;
    pp_profile *p = fx_profile("svc", "wall", "samples/count,wall/microseconds");
    uint64_t main_loc = new_location(p, "main", 4, 1);
    for (int i = 0; i < 3; i++)
        add_pair(p, new_location(p, "dup", 3, 7), main_loc, 10);
    add_pair(p, new_location(p, "pkg.abc\0def", 11, 1), main_loc, 20);
    add_pair(p, new_location(p, "pkg.abc\0xyz", 11, 1), main_loc, 22);
    add_pair(p, 0, main_loc, 28);
    /* total 100, cutoff 25: dup (3 x 10 = 30) stays, each pkg.abc\0... (20,
     * 22) folds; were they one name, 42 would stay */
    pp_profile *q = run_one("min_fraction: 0.25", p, &hs);
    for (size_t vi = 0; vi < 2; vi++) {
        assert_int_equal(fx_sum(q, NULL, vi, NULL, NULL), 100);
        assert_int_equal(fx_sum(q, "main;dup", vi, NULL, NULL), 30);
        assert_int_equal(fx_sum(q, "main;[other]", vi, NULL, NULL), 42);
        assert_int_equal(fx_sum(q, "main", vi, NULL, NULL), 28);
    }
    fx_host()->profile_free(q);
    harness_free(hs);
    /* a cutoff as go tool pprof computes it: (int64)(100 * 0.299) = 29,
     * and a node of 29.9% of the total is not below it */
    p = fx_profile("svc", "wall", "samples/count,wall/microseconds");
    main_loc = new_location(p, "main", 4, 1);
    add_pair(p, new_location(p, "a", 1, 1), main_loc, 29);
    add_pair(p, 0, main_loc, 71);
    q = run_one("min_fraction: 0.299", p, &hs);
    assert_int_equal(fx_sum(q, "main;a", 1, NULL, NULL), 29);
    fx_host()->profile_free(q);
    harness_free(hs);
}

/* Sums past int64 saturate instead of overflowing (UBSan would abort). */
static void test_min_fraction_huge_values(void **state)
{
    (void)state;
    harness *hs;
    pp_profile *p = fx_profile("svc", "process_cpu", "samples/count,cpu/nanoseconds");
    uint64_t main_loc = new_location(p, "main", 4, 1);
    add_pair(p, new_location(p, "a", 1, 1), main_loc, INT64_MAX);
    add_pair(p, new_location(p, "b", 1, 1), main_loc, INT64_MAX);
    add_pair(p, new_location(p, "c", 1, 1), main_loc, INT64_MIN);
    add_pair(p, new_location(p, "d", 1, 1), main_loc, 1);
    /* total stuck at INT64_MAX then + MIN = -1, + 1 = 0: nothing is below
     * a zero cutoff, nothing folds */
    pp_profile *q = run_one("min_fraction: 0.5", p, &hs);
    assert_int_equal(fx_sum(q, "main;d", 1, NULL, NULL), 1);
    assert_true(fx_sum(q, "main;c", 1, NULL, NULL) == INT64_MIN);
    fx_host()->profile_free(q);
    harness_free(hs);
}

static void test_depth_then_fraction(void **state)
{
    (void)state;
    harness *hs;
    /* depth 2 first: everything below main but main;q is main;[truncated]
     * (87); then 20% of 100: main;q (3) folds into main;[other] */
    pp_profile *q = run_one("max_stack_depth: 2\nmin_fraction: 0.2", cpu_profile("svc"), &hs);
    assert_true(max_depth(q) <= 2);
    assert_int_equal(fx_sum(q, NULL, 1, NULL, NULL), 100);
    assert_int_equal(fx_sum(q, "main;[truncated]", 1, NULL, NULL), 87);
    assert_int_equal(fx_sum(q, "main;[other]", 1, NULL, NULL), 3);
    assert_int_equal(fx_sum(q, "main", 1, NULL, NULL), 10);
    fx_host()->profile_free(q);
    harness_free(hs);
}

static void test_sample_types(void **state)
{
    (void)state;
    const pp_host *h = fx_host();
    harness *hs;
    pp_profile *p = fx_profile("svc", "memory",
                               "alloc_objects/count,alloc_space/bytes,inuse_objects/count,"
                               "inuse_space/bytes");
    int64_t v1[4] = {1, 100, 2, 200}, v2[4] = {3, 300, 0, 0};
    fx_sample(p, "main;alloc", v1, "");
    fx_sample(p, "main;free", v2, "");
    pp_profile *q = run_one("sample_types: [inuse_space]", p, &hs);
    char err[FX_ERR];
    const pp_pprof *t = h->profile_tree(q, err, sizeof err);
    assert_int_equal(t->n_sample_types, 1);
    assert_string_equal(t->strings[t->sample_types[0].type], "inuse_space");
    assert_int_equal(fx_sum(q, "main;alloc", 0, NULL, NULL), 200);
    assert_int_equal(fx_sum(q, NULL, 0, NULL, NULL), 200);
    h->profile_free(q);
    harness_free(hs);

    /* none of the listed types: dropped */
    hs = fx_harness(&pp_processor_downsample, "sample_types: [inuse_space]");
    assert_null(fx_run(&pp_processor_downsample, hs, cpu_profile("svc")));
    harness_free(hs);
}

static void test_keep_one_in(void **state)
{
    (void)state;
    const pp_host *h = fx_host();
    harness *hs = fx_harness(&pp_processor_downsample, "keep_one_in: 3");
    size_t kept_a = 0, kept_b = 0;
    for (int i = 0; i < 9; i++) {
        pp_batch *out = fx_run(&pp_processor_downsample, hs, cpu_profile(i % 3 ? "a" : "b"));
        if (!out)
            continue;
        const char *svc = h->label_get(h->batch_get(out, 0), "service_name");
        if (strcmp(svc, "a") == 0)
            kept_a++;
        else
            kept_b++;
        h->batch_unref(out);
    }
    assert_int_equal(kept_a, 2); /* 6 profiles of a: the 1st and 4th */
    assert_int_equal(kept_b, 1); /* 3 profiles of b: the 1st */
    harness_free(hs);
}

static double metric_value(harness *hs, const char *name)
{
    return metrics_value(fx_host()->metric(harness_instance(hs), name, "", PP_COUNTER, NULL));
}

static void test_window(void **state)
{
    (void)state;
    const pp_host *h = fx_host();
    harness *hs = fx_harness(&pp_processor_downsample, "window: 60s\nmax_stack_depth: 4");
    void *st = harness_state(hs);
    double incompatible0 = metric_value(hs, "downsample_incompatible_profiles_total");
    double merged0 = metric_value(hs, "downsample_merged_profiles_total");
    for (int i = 0; i < 3; i++) {
        pp_profile *p = cpu_profile("svc");
        h->profile_set_window(p, (10 + i) * SEC, (11 + i) * SEC);
        assert_null(fx_run(&pp_processor_downsample, hs, p)); /* held by the window */
    }
    pp_profile *other = cpu_profile("other");
    assert_null(fx_run(&pp_processor_downsample, hs, other));
    /* a profile pprof cannot merge (other sample types) passes on */
    pp_profile *heap = fx_profile("svc", "process_cpu", "alloc_space/bytes");
    fx_sample1(heap, "main", 1, "");
    pp_batch *pass = fx_run(&pp_processor_downsample, hs, heap);
    assert_non_null(pass);
    assert_int_equal(h->batch_count(pass), 1);
    h->batch_unref(pass);
    assert_true(metric_value(hs, "downsample_incompatible_profiles_total") == incompatible0 + 1);
    assert_true(metric_value(hs, "downsample_merged_profiles_total") == merged0 + 2);

    int64_t now = h->now_ns();
    assert_null(pp_processor_downsample.tick(st, now + SEC, 0)); /* still open */
    pp_batch *out = pp_processor_downsample.tick(st, now + 61 * SEC, 0);
    assert_non_null(out);
    assert_int_equal(h->batch_count(out), 2);
    for (size_t i = 0; i < 2; i++) {
        pp_profile *q = h->batch_get(out, i);
        int64_t want = strcmp(h->label_get(q, "service_name"), "svc") == 0 ? 300 : 100;
        assert_int_equal(fx_sum(q, NULL, 1, NULL, NULL), want);
        assert_true(max_depth(q) <= 4);
        if (want == 300) {
            assert_int_equal(h->profile_from(q), 10 * SEC);
            assert_int_equal(h->profile_until(q), 13 * SEC);
        }
    }
    h->batch_unref(out);
    assert_null(pp_processor_downsample.tick(st, now + 62 * SEC, 0));
    harness_free(hs);
}

/* At shutdown the final tick emits open windows whatever their age. */
static void test_window_final_tick(void **state)
{
    (void)state;
    const pp_host *h = fx_host();
    harness *hs = fx_harness(&pp_processor_downsample, "window: 1h");
    assert_null(fx_run(&pp_processor_downsample, hs, cpu_profile("svc")));
    assert_null(fx_run(&pp_processor_downsample, hs, cpu_profile("svc")));
    pp_batch *out = pp_processor_downsample.tick(harness_state(hs), h->now_ns(), 1);
    assert_non_null(out);
    assert_int_equal(h->batch_count(out), 1);
    assert_int_equal(fx_sum(h->batch_get(out, 0), NULL, 0, NULL, NULL), 200);
    h->batch_unref(out);
    harness_free(hs);
}

/* What an acknowledging receiver (kafka) sees of one input batch. */
typedef struct ack_seen {
    int fired;
    uint64_t lost;
} ack_seen;

static void on_ack(void *arg, uint64_t lost)
{
    ack_seen *a = arg;
    a->fired++;
    a->lost += lost;
}

static pp_batch *acked_batch(ack_seen *a, pp_profile *p1, pp_profile *p2)
{
    const pp_host *h = fx_host();
    pp_batch *b = h->batch_new();
    assert_int_equal(h->batch_add(b, p1), 0);
    if (p2)
        assert_int_equal(h->batch_add(b, p2), 0);
    h->batch_set_ack(b, on_ack, a);
    return b;
}

/* A window holds its inputs' acks: an input batch whose profile went
 * into a window is acknowledged only once the window's output batch is
 * released (delivered), not when the processor lets go of the input. */
static void test_window_holds_acks(void **state)
{
    (void)state;
    const pp_host *h = fx_host();
    harness *hs = fx_harness(&pp_processor_downsample, "window: 60s");
    void *st = harness_state(hs);
    ack_seen a1 = {0}, a2 = {0}, a3 = {0};

    /* batch 1: its one profile opens the window; the processor passes
     * nothing on and releases the input batch */
    assert_null(pp_processor_downsample.process(st, acked_batch(&a1, cpu_profile("svc"), NULL)));
    assert_int_equal(a1.fired, 0);

    /* batch 2: one profile merges, one (other sample types) passes on;
     * releasing what passed on must not ack what the window holds */
    pp_profile *heap = fx_profile("svc", "process_cpu", "alloc_space/bytes");
    fx_sample1(heap, "main", 1, "");
    pp_batch *pass =
        pp_processor_downsample.process(st, acked_batch(&a2, cpu_profile("svc"), heap));
    assert_non_null(pass);
    assert_int_equal(h->batch_count(pass), 1);
    h->batch_unref(pass);
    assert_int_equal(a2.fired, 0);

    /* control: without a window, the input is acked when what passed on
     * is released (so the zero counts around are not an ack that never
     * fires at all) */
    pp_profile *heap2 = fx_profile("other", "process_cpu", "alloc_space/bytes");
    fx_sample1(heap2, "main", 1, "");
    harness *plain = fx_harness(&pp_processor_downsample, "max_stack_depth: 4");
    pass = pp_processor_downsample.process(harness_state(plain), acked_batch(&a3, heap2, NULL));
    assert_non_null(pass);
    h->batch_unref(pass);
    assert_int_equal(a3.fired, 1);
    harness_free(plain);

    /* the window is still open: nothing acknowledged */
    int64_t now = h->now_ns();
    assert_null(pp_processor_downsample.tick(st, now + SEC, 0));
    assert_int_equal(a1.fired + a2.fired, 0);

    /* closed: the output carries the acks until it is released */
    pp_batch *out = pp_processor_downsample.tick(st, now + 61 * SEC, 0);
    assert_non_null(out);
    assert_int_equal(h->batch_count(out), 1);
    assert_int_equal(fx_sum(h->batch_get(out, 0), NULL, 1, NULL, NULL), 200);
    assert_int_equal(a1.fired + a2.fired, 0);
    h->batch_ref(out); /* a second holder (two exporters): still not acked */
    h->batch_unref(out);
    assert_int_equal(a1.fired + a2.fired, 0);
    h->batch_unref(out);
    assert_int_equal(a1.fired, 1);
    assert_int_equal(a2.fired, 1);
    assert_int_equal(a1.lost + a2.lost, 0);
    harness_free(hs);
}

/* The final tick at shutdown hands the acks on the same way. */
static void test_final_tick_holds_acks(void **state)
{
    (void)state;
    const pp_host *h = fx_host();
    harness *hs = fx_harness(&pp_processor_downsample, "window: 1h");
    ack_seen a = {0};
    assert_null(pp_processor_downsample.process(harness_state(hs),
                                                acked_batch(&a, cpu_profile("svc"), NULL)));
    pp_batch *out = pp_processor_downsample.tick(harness_state(hs), h->now_ns(), 1);
    assert_non_null(out);
    assert_int_equal(a.fired, 0);
    h->batch_unref(out);
    assert_int_equal(a.fired, 1);
    assert_int_equal(a.lost, 0);
    harness_free(hs);
}

static void test_bad_options(void **state)
{
    (void)state;
    /* option text, and what the error must name (the key) */
    const char *bad[][2] = {{"min_fraction: 1.5", "min_fraction"},
                            {"max_stack_depth: -1", "max_stack_depth"},
                            {"keep_one_in: 0", "keep_one_in"},
                            {"window: -5s", "window"},
                            {"sample_types: [inuse_space, '']", "sample_types"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[FX_ERR] = "";
        harness *hs =
            harness_new(&pp_processor_downsample, "downsample", bad[i][0], err, sizeof err);
        if (hs) {
            harness_free(hs);
            fail_msg("accepted %s", bad[i][0]);
        }
        if (!strstr(err, bad[i][1]) || !strstr(err, "downsample"))
            fail_msg("error for \"%s\" does not name downsample and %s: %s", bad[i][0], bad[i][1],
                     err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_stack_depth),
        cmocka_unit_test(test_min_fraction),
        cmocka_unit_test(test_min_fraction_by_frame),
        cmocka_unit_test(test_min_fraction_huge_values),
        cmocka_unit_test(test_depth_then_fraction),
        cmocka_unit_test(test_sample_types),
        cmocka_unit_test(test_keep_one_in),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_window_final_tick),
        cmocka_unit_test(test_window_holds_acks),
        cmocka_unit_test(test_final_tick_holds_acks),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
