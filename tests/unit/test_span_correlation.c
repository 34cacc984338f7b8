/* span_correlation processor: id normalization and malformed ids, ids
 * moved down from series labels, the TraceIdRatioBased keep rule on a
 * table of trace ids worked out by hand from the Go SDK's definition
 * (keep when (big-endian bytes 8..15) >> 1 < ratio * 2^63, i.e. at 0.5
 * when the 17th hex digit is below 8), and span names promoted to series
 * labels with the per-service bound. Totals are checked everywhere. */
#include "profile_fixture.h"

#include "../../processors/span_correlation/span_ids.h"
#include "metrics.h"

extern const pp_component pp_processor_span_correlation;

#define TRACE_A "0af7651916cd43dd8448eb211c80319c"

static void test_normalize(void **state)
{
    (void)state;
    struct {
        const char *in;
        size_t len;
        const char *want; /* NULL: malformed */
    } t[] = {
        {"0AF7651916CD43DD8448EB211C80319C", TRACE_ID_HEX, TRACE_A},
        {" 0x00f067aa0ba902b7 ", SPAN_ID_HEX, "00f067aa0ba902b7"},
        {"f067aa0ba902b7", SPAN_ID_HEX, "00f067aa0ba902b7"},
        {"8448eb211c80319c", TRACE_ID_HEX, "00000000000000008448eb211c80319c"},
        {"00000000000000000000000000000000", TRACE_ID_HEX, NULL},
        {"", SPAN_ID_HEX, NULL},
        {"xyz", SPAN_ID_HEX, NULL},
        {"00f067aa0ba902b7ff", SPAN_ID_HEX, NULL},
        {"00f0 67aa", SPAN_ID_HEX, NULL},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char out[TRACE_ID_HEX + 1];
        int rc = span_id_normalize(t[i].in, t[i].len, out);
        if (!t[i].want) {
            if (rc == 0)
                fail_msg("accepted \"%s\"", t[i].in);
            continue;
        }
        if (rc != 0)
            fail_msg("refused \"%s\"", t[i].in);
        assert_string_equal(out, t[i].want);
    }
}

static const struct {
    const char *trace;
    double ratio;
    int keep;
} keep_table[] = {
    {"ffffffffffffffff7fffffffffffffff", 0.5, 1}, /* high half does not matter */
    {"00000000000000008000000000000000", 0.5, 0},
    {"00000000000000000000000000000001", 0.5, 1},
    {"00000000000000003fffffffffffffff", 0.25, 1},
    {"00000000000000004000000000000000", 0.25, 0},
    {"0000000000000000fffffffffffffffe", 0.999, 0},
    {"00000000000000000000000000000001", 0.0, 0},
    {"0000000000000000ffffffffffffffff", 1.0, 1},
    {TRACE_A, 0.5, 0}, /* low half 8448eb21...: first digit 8 */
    {TRACE_A, 0.6, 1}, /* 0x8448.. >> 1 = 0x4224.. < 0.6 * 2^63 = 0x4ccc.. */
};

static void test_keep_rule(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof keep_table / sizeof keep_table[0]; i++)
        if (span_trace_keep(keep_table[i].trace, keep_table[i].ratio) != keep_table[i].keep)
            fail_msg("%s at %g: want %d", keep_table[i].trace, keep_table[i].ratio,
                     keep_table[i].keep);
}

static double metric_value(harness *hs, const char *name)
{
    return metrics_value(fx_host()->metric(harness_instance(hs), name, "", PP_COUNTER, NULL));
}

static pp_batch *run(const char *yaml, pp_profile *p, harness **hs)
{
    *hs = fx_harness(&pp_processor_span_correlation, yaml);
    return fx_run(&pp_processor_span_correlation, *hs, p);
}

static void test_normalize_in_samples(void **state)
{
    (void)state;
    const pp_host *h = fx_host();
    pp_profile *p = fx_profile("svc", "process_cpu", "samples/count,cpu/nanoseconds");
    fx_sample1(p, "main;work", 10, "otel.trace_id=0AF7651916CD43DD8448EB211C80319C,span_id=0xB7");
    fx_sample1(p, "main;work", 5, "span_id=not-hex"); /* malformed: merges with the next */
    fx_sample1(p, "main;work", 7, "");
    fx_sample1(p, "main;idle", 3, "trace.id=" TRACE_A ",spanId=00f067aa0ba902b7,span_name=GET");
    fx_sample1(p, "main;idle", 2, "trace_id=" TRACE_A ",trace_id=zz"); /* second id */
    harness *hs = fx_harness(&pp_processor_span_correlation, "");
    double malformed0 = metric_value(hs, "span_correlation_malformed_ids_total");
    pp_batch *out = fx_run(&pp_processor_span_correlation, hs, p);
    assert_int_equal(h->batch_count(out), 1);
    /* "not-hex" and "zz": counted; a second valid id is not malformed */
    assert_true(metric_value(hs, "span_correlation_malformed_ids_total") == malformed0 + 2);
    pp_profile *q = fx_roundtrip(h->batch_take(out, 0));
    for (size_t vi = 0; vi < 2; vi++) {
        assert_int_equal(fx_sum(q, NULL, vi, NULL, NULL), 27);
        assert_int_equal(fx_sum(q, "main;idle", vi, "trace_id", TRACE_A), 5);
        assert_int_equal(fx_sum(q, "main;work", vi, "span_id", "00000000000000b7"), 10);
        assert_int_equal(fx_sum(q, "main;work", vi, "trace_id", TRACE_A), 10);
        assert_int_equal(fx_sum(q, "main;work", vi, "span_id", NULL), 12);
        assert_int_equal(fx_sum(q, "main;idle", vi, "span_id", "00f067aa0ba902b7"), 3);
        assert_int_equal(fx_sum(q, "main;idle", vi, "span_name", "GET"), 3);
        assert_int_equal(fx_sum(q, NULL, vi, "otel.trace_id", NULL), 27);
        assert_int_equal(fx_sum(q, NULL, vi, "spanId", NULL), 27);
    }
    char err[FX_ERR];
    assert_int_equal(h->profile_tree(q, err, sizeof err)->n_samples, 4);
    h->profile_free(q);
    h->batch_unref(out);
    harness_free(hs);
}

static void test_series_ids_move_down(void **state)
{
    (void)state;
    const pp_host *h = fx_host();
    pp_profile *p = fx_profile("svc", "process_cpu", "samples/count");
    h->label_set(p, "trace_id", TRACE_A);
    h->label_set(p, "span_id", "00F067AA0BA902B7");
    fx_sample1(p, "main;a", 4, "");
    fx_sample1(p, "main;b", 6, "span_id=00000000000000aa");
    harness *hs;
    pp_batch *out = run("", p, &hs);
    pp_profile *q = fx_roundtrip(h->batch_take(out, 0));
    assert_null(h->label_get(q, "trace_id"));
    assert_null(h->label_get(q, "span_id"));
    assert_int_equal(fx_sum(q, "main;a", 0, "trace_id", TRACE_A), 4);
    assert_int_equal(fx_sum(q, "main;a", 0, "span_id", "00f067aa0ba902b7"), 4);
    /* a sample's own span id wins over the series one */
    assert_int_equal(fx_sum(q, "main;b", 0, "span_id", "00000000000000aa"), 6);
    assert_int_equal(fx_sum(q, "main;b", 0, "trace_id", TRACE_A), 6);
    h->profile_free(q);
    h->batch_unref(out);
    harness_free(hs);
}

static void test_keep_ratio_in_samples(void **state)
{
    (void)state;
    const pp_host *h = fx_host();
    pp_profile *p = fx_profile("svc", "process_cpu", "samples/count");
    int64_t want_kept = 0;
    int want_stripped = 0;
    for (size_t i = 0; i < sizeof keep_table / sizeof keep_table[0]; i++) {
        if (keep_table[i].ratio != 0.5)
            continue;
        char labels[128];
        snprintf(labels, sizeof labels, "trace_id=%s,span_id=%016zx", keep_table[i].trace, i + 1);
        fx_sample1(p, "main;op", (int64_t)(1 << i), labels);
        if (keep_table[i].keep)
            want_kept += 1 << i;
        else
            want_stripped++;
    }
    fx_sample1(p, "main;op", 1000, "");
    harness *hs = fx_harness(&pp_processor_span_correlation, "keep_ratio: 0.5");
    double stripped0 = metric_value(hs, "span_correlation_stripped_samples_total");
    pp_batch *out = fx_run(&pp_processor_span_correlation, hs, p);
    assert_true(want_stripped > 0);
    assert_true(metric_value(hs, "span_correlation_stripped_samples_total") ==
                stripped0 + want_stripped);
    pp_profile *q = fx_roundtrip(h->batch_take(out, 0));
    int64_t total = fx_sum(q, NULL, 0, NULL, NULL);
    int64_t unlabelled = fx_sum(q, "main;op", 0, "trace_id", NULL);
    assert_int_equal(total - unlabelled, want_kept);
    assert_int_equal(fx_sum(q, "main;op", 0, "span_id", NULL), unlabelled);
    int64_t all = 1000;
    for (size_t i = 0; i < sizeof keep_table / sizeof keep_table[0]; i++)
        if (keep_table[i].ratio == 0.5)
            all += 1 << i;
    assert_int_equal(total, all);
    h->profile_free(q);
    h->batch_unref(out);
    harness_free(hs);
}

static void test_span_names_to_series(void **state)
{
    (void)state;
    const pp_host *h = fx_host();
    pp_profile *p = fx_profile("svc", "process_cpu", "samples/count");
    fx_sample1(p, "main;get", 10, "span_name=GET,span_id=01");
    fx_sample1(p, "main;get", 11, "span_name=GET,span_id=02");
    fx_sample1(p, "main;post", 20, "span_name=POST");
    fx_sample1(p, "main;del", 30, "span_name=DELETE");
    fx_sample1(p, "main;gc", 40, "");
    harness *hs;
    pp_batch *out = run("span_name_to_series: true\nmax_span_names: 2", p, &hs);
    assert_int_equal(h->batch_count(out), 4);
    int64_t sum = 0;
    int seen = 0;
    for (size_t i = 0; i < h->batch_count(out); i++) {
        pp_profile *q = h->batch_get(out, i);
        const char *name = h->label_get(q, "span_name");
        int64_t t = fx_sum(q, NULL, 0, NULL, NULL);
        sum += t;
        assert_string_equal(h->label_get(q, "service_name"), "svc");
        if (!name) {
            assert_int_equal(t, 40), seen |= 1;
        } else if (strcmp(name, "GET") == 0) {
            assert_int_equal(t, 21);
            assert_int_equal(fx_sum(q, NULL, 0, "span_name", NULL), 21); /* moved up */
            assert_int_equal(fx_sum(q, NULL, 0, "span_id", "0000000000000001"), 10);
            seen |= 2;
        } else if (strcmp(name, "POST") == 0) {
            assert_int_equal(t, 20), seen |= 4;
        } else {
            assert_string_equal(name, "other");
            assert_int_equal(t, 30);
            assert_int_equal(fx_sum(q, NULL, 0, "span_name", "DELETE"), 30); /* kept below */
            seen |= 8;
        }
    }
    assert_int_equal(seen, 15);
    assert_int_equal(sum, 111);
    h->batch_unref(out);

    /* the bound is per service and lasts: a new name is `other` */
    pp_profile *p2 = fx_profile("svc", "process_cpu", "samples/count");
    fx_sample1(p2, "main;put", 5, "span_name=PUT");
    out = fx_run(&pp_processor_span_correlation, hs, p2);
    assert_int_equal(h->batch_count(out), 1);
    assert_string_equal(h->label_get(h->batch_get(out, 0), "span_name"), "other");
    h->batch_unref(out);
    harness_free(hs);
}

/* id_labels replaces the default keys: listed keys are ids (written
 * under the first of each list), unlisted ones are ordinary labels. */
static void test_custom_id_labels(void **state)
{
    (void)state;
    const pp_host *h = fx_host();
    pp_profile *p = fx_profile("svc", "process_cpu", "samples/count");
    fx_sample1(p, "main;a", 4, "x-trace=0AF7651916CD43DD8448EB211C80319C,sid=0xB7");
    fx_sample1(p, "main;b", 6, "tid=xyz,span_id=NOT-AN-ID-HERE");
    harness *hs;
    pp_batch *out = run("id_labels: {trace_id: [tid, x-trace], span_id: [sid]}", p, &hs);
    pp_profile *q = fx_roundtrip(h->batch_take(out, 0));
    assert_int_equal(fx_sum(q, "main;a", 0, "tid", TRACE_A), 4);
    assert_int_equal(fx_sum(q, "main;a", 0, "sid", "00000000000000b7"), 4);
    assert_int_equal(fx_sum(q, NULL, 0, "x-trace", NULL), 10);
    assert_int_equal(fx_sum(q, "main;b", 0, "tid", NULL), 6); /* malformed: removed */
    /* span_id is not an id key here: left exactly as it was */
    assert_int_equal(fx_sum(q, "main;b", 0, "span_id", "NOT-AN-ID-HERE"), 6);
    h->profile_free(q);
    h->batch_unref(out);
    harness_free(hs);
}

/* An undecodable payload passes on, but never with ids as series labels. */
static void test_undecodable_payload(void **state)
{
    (void)state;
    const pp_host *h = fx_host();
    pp_profile *p = h->profile_new();
    h->label_set(p, "service_name", "svc");
    h->label_set(p, "__name__", "process_cpu");
    h->label_set(p, "otel.trace_id", TRACE_A);
    static const uint8_t junk[] = {0x1f, 0x8b, 0x00, 0x01};
    assert_int_equal(h->profile_set_raw(p, junk, sizeof junk), 0);
    harness *hs;
    pp_batch *out = run("", p, &hs);
    assert_int_equal(h->batch_count(out), 1);
    assert_null(h->label_get(h->batch_get(out, 0), "otel.trace_id"));
    assert_string_equal(h->label_get(h->batch_get(out, 0), "service_name"), "svc");
    h->batch_unref(out);
    harness_free(hs);
}

static void test_bad_options(void **state)
{
    (void)state;
    /* option text, and what the error must name */
    const char *bad[][2] = {{"keep_ratio: 1.5", "keep_ratio"},
                            {"max_span_names: 0", "max_span_names"},
                            {"id_labels: {trace_id: [x], span_id: [x]}", "\"x\""},
                            {"id_labels: {span_id: []}", "span_id"},
                            {"span_name_label: ''", "span_name_label"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[FX_ERR] = "";
        harness *hs = harness_new(&pp_processor_span_correlation, "span_correlation", bad[i][0],
                                  err, sizeof err);
        if (hs) {
            harness_free(hs);
            fail_msg("accepted %s", bad[i][0]);
        }
        if (!strstr(err, bad[i][1]) || !strstr(err, "span_correlation"))
            fail_msg("error for \"%s\" does not name span_correlation and %s: %s", bad[i][0],
                     bad[i][1], err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_keep_rule),
        cmocka_unit_test(test_normalize_in_samples),
        cmocka_unit_test(test_series_ids_move_down),
        cmocka_unit_test(test_keep_ratio_in_samples),
        cmocka_unit_test(test_span_names_to_series),
        cmocka_unit_test(test_custom_id_labels),
        cmocka_unit_test(test_undecodable_payload),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
