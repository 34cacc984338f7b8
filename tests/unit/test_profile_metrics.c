/* Unit tests of the profile_metrics exporter: the store's rules (windows
 * out of order, the same window twice, delta vs cumulative inputs, CPU gap
 * filling, the function cap and top-N expiry, staleness), the reading of
 * pprof sample types under both namings of profile types, mutated trees
 * read without a fault, and the whole component through the host: series
 * on the telemetry /metrics, a profile with no known sample type counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../exporters/profile_metrics/pm_read.h"
#include "../../exporters/profile_metrics/pm_store.h"
#include "harness.h"
#include "metrics.h"
#include "unit_support.h"

extern const pp_component pp_exporter_profile_metrics;

#define SEC 1000000000LL
#define T0 (1700000000LL * SEC)
#define WALL (T0 + 3600 * SEC)

static pm_limits limits(void)
{
    pm_limits l = {
        .max_series = 100,
        .max_sources = 8,
        .staleness_ns = 300 * SEC,
        .fill_cpu_gaps = 0,
        .functions = 1,
        .functions_cumulative = 1,
        .fn = {.top_n = 3, .max_tracked = 16, .bucket_ns = 30 * SEC},
        .max_function_series = 100,
    };
    return l;
}

/* Adds a reading for series `labels` from source `src`, window
 * [from, until] seconds after T0, window id derived from all of it. */
static pm_add_result add(pm_store *s, const char *labels, uint64_t src, int64_t from_s,
                         int64_t until_s, const pm_reading *r, int64_t now_s)
{
    /* like the exporter's: the kind of reading is part of the window */
    uint64_t window = src * 1000003u ^ (uint64_t)(from_s * 7919 + until_s) ^
                      (uint64_t)r->counters << 40 ^ (uint64_t)r->gauges << 52;
    pm_input in = {labels, src, window, T0 + from_s * SEC, T0 + until_s * SEC, r};
    return pm_store_add(s, &in, now_s * SEC, WALL);
}

static pm_reading gauge_reading(pm_gauge g, double v)
{
    pm_reading r = {0};
    r.gauges = 1u << g;
    r.gauge[g] = v;
    return r;
}

static pm_reading counter_reading(pm_counter c, double v, int cumulative)
{
    pm_reading r = {0};
    r.counters = 1u << c;
    r.counter[c] = v;
    r.cumulative = cumulative ? 1u << c : 0;
    return r;
}

/* The page the store renders. */
typedef struct page {
    char *text;
    size_t len;
} page;

static void page_write(void *out, const char *data, size_t len)
{
    page *p = out;
    p->text = realloc(p->text, p->len + len + 1);
    assert_non_null(p->text);
    memcpy(p->text + p->len, data, len);
    p->len += len;
    p->text[p->len] = '\0';
}

static page render(const pm_store *s)
{
    page p = {calloc(1, 1), 0};
    pm_store_render(s, 1, page_write, &p);
    return p;
}

/* The value and timestamp of the sample line starting with `prefix`
 * (name{labels}); 0 if there is none. */
static int sample_of(const char *text, const char *prefix, double *v, long long *ts)
{
    const char *at = text;
    size_t n = strlen(prefix);
    while ((at = strstr(at, prefix))) {
        if (at == text || at[-1] == '\n') {
            long long t = 0;
            double val;
            if (sscanf(at + n, " %lf %lld", &val, &t) >= 1) {
                *v = val;
                if (ts)
                    *ts = t;
                return 1;
            }
        }
        at += n;
    }
    return 0;
}

static double value_of(const pm_store *s, const char *prefix)
{
    page p = render(s);
    double v = -1;
    long long ts;
    int found = sample_of(p.text, prefix, &v, &ts);
    free(p.text);
    return found ? v : -1;
}

static void test_out_of_order_windows(void **state)
{
    (void)state;
    pm_limits l = limits();
    pm_store s;
    pm_store_init(&s, &l);
    pm_reading newer = gauge_reading(PM_GOROUTINES, 500), older = gauge_reading(PM_GOROUTINES, 10);
    pm_reading cpu_b = counter_reading(PM_CPU_SECONDS, 2, 0),
               cpu_a = counter_reading(PM_CPU_SECONDS, 3, 0);
    assert_int_equal(add(&s, "service_name=\"a\"", 1, 10, 20, &newer, 1), PM_ADDED);
    assert_int_equal(add(&s, "service_name=\"a\"", 1, 0, 10, &older, 2), PM_ADDED);
    /* the gauge keeps the newer window's value and time */
    page p = render(&s);
    double v;
    long long ts;
    assert_true(sample_of(p.text, "profile_goroutines{service_name=\"a\"}", &v, &ts));
    assert_true(v == 500);
    assert_int_equal(ts, (T0 + 20 * SEC) / 1000000);
    free(p.text);
    /* a counter adds both windows whatever their order; the timestamp
     * only moves forward */
    assert_int_equal(add(&s, "service_name=\"a\"", 1, 10, 20, &cpu_b, 3), PM_ADDED);
    assert_int_equal(add(&s, "service_name=\"a\"", 1, 0, 10, &cpu_a, 4), PM_ADDED);
    p = render(&s);
    assert_true(sample_of(p.text, "profile_cpu_seconds_total{service_name=\"a\"}", &v, &ts));
    assert_true(v == 5);
    assert_int_equal(ts, (T0 + 20 * SEC) / 1000000 + 1);
    free(p.text);
    /* a running total from an older window does not move the baseline back */
    pm_reading c300 = counter_reading(PM_ALLOC_BYTES, 300, 1),
               c100 = counter_reading(PM_ALLOC_BYTES, 100, 1),
               c400 = counter_reading(PM_ALLOC_BYTES, 400, 1);
    add(&s, "service_name=\"a\"", 1, 30, 40, &c300, 5);
    add(&s, "service_name=\"a\"", 1, 20, 30, &c100, 6);
    add(&s, "service_name=\"a\"", 1, 40, 50, &c400, 7);
    assert_true(value_of(&s, "profile_memory_alloc_bytes_total{service_name=\"a\"}") == 100);
    assert_int_equal(s.stats.out_of_order, 3);
    pm_store_free(&s);
}

static void test_same_window_twice(void **state)
{
    (void)state;
    pm_limits l = limits();
    pm_store s;
    pm_store_init(&s, &l);
    pm_reading cpu = counter_reading(PM_CPU_SECONDS, 1.5, 0);
    assert_int_equal(add(&s, "service_name=\"a\"", 1, 0, 10, &cpu, 1), PM_ADDED);
    assert_int_equal(add(&s, "service_name=\"a\"", 1, 0, 10, &cpu, 2), PM_DUPLICATE);
    assert_int_equal(add(&s, "service_name=\"a\"", 1, 10, 20, &cpu, 3), PM_ADDED);
    assert_int_equal(add(&s, "service_name=\"a\"", 1, 0, 10, &cpu, 4), PM_DUPLICATE);
    /* the same window of another process of the service counts */
    assert_int_equal(add(&s, "service_name=\"a\"", 2, 0, 10, &cpu, 5), PM_ADDED);
    assert_true(value_of(&s, "profile_cpu_seconds_total{service_name=\"a\"}") == 4.5);
    assert_int_equal(s.stats.duplicates, 2);
    pm_store_free(&s);
}

static void test_delta_and_cumulative(void **state)
{
    (void)state;
    pm_limits l = limits();
    pm_store s;
    pm_store_init(&s, &l);
    const char *cum = "service_name=\"cum\"", *dlt = "service_name=\"delta\"";
    double totals[] = {1000, 1600, 2500};
    for (int i = 0; i < 3; i++) {
        pm_reading r = counter_reading(PM_ALLOC_BYTES, totals[i], 1);
        add(&s, cum, 1, i * 10, i * 10 + 10, &r, i);
    }
    /* the first running total is the baseline only */
    assert_true(value_of(&s, "profile_memory_alloc_bytes_total{service_name=\"cum\"}") == 1500);
    /* a total that went down: the process restarted, counting from zero */
    pm_reading restarted = counter_reading(PM_ALLOC_BYTES, 200, 1);
    add(&s, cum, 1, 30, 40, &restarted, 4);
    assert_true(value_of(&s, "profile_memory_alloc_bytes_total{service_name=\"cum\"}") == 1700);
    /* two processes of one series keep their own baselines */
    pm_reading other = counter_reading(PM_ALLOC_BYTES, 50000, 1),
               other2 = counter_reading(PM_ALLOC_BYTES, 50100, 1);
    add(&s, cum, 2, 30, 40, &other, 5);
    add(&s, cum, 2, 40, 50, &other2, 6);
    assert_true(value_of(&s, "profile_memory_alloc_bytes_total{service_name=\"cum\"}") == 1800);
    /* deltas are added as they come */
    for (int i = 0; i < 3; i++) {
        pm_reading r = counter_reading(PM_ALLOC_BYTES, totals[i], 0);
        add(&s, dlt, 1, i * 10, i * 10 + 10, &r, i);
    }
    assert_true(value_of(&s, "profile_memory_alloc_bytes_total{service_name=\"delta\"}") == 5100);
    pm_store_free(&s);
}

static void test_cpu_gap_fill(void **state)
{
    (void)state;
    pm_limits l = limits();
    l.fill_cpu_gaps = 1;
    pm_store s;
    pm_store_init(&s, &l);
    pm_reading r = counter_reading(PM_CPU_SECONDS, 9, 0);
    r.duration_ns = 9 * SEC;
    add(&s, "service_name=\"a\"", 1, 1, 10, &r, 1);  /* first: as is */
    add(&s, "service_name=\"a\"", 1, 11, 20, &r, 2); /* 1s gap: 10/9 */
    add(&s, "service_name=\"a\"", 1, 81, 90, &r, 3); /* 61s gap: longer than the window, as is */
    assert_true(value_of(&s, "profile_cpu_seconds_total{service_name=\"a\"}") == 9 + 10 + 9);
    pm_store_free(&s);
}

static pm_reading fn_reading(const char *const *names, const double *self, size_t n)
{
    pm_reading r = counter_reading(PM_CPU_SECONDS, 0, 0);
    r.fns = calloc(n, sizeof *r.fns);
    assert_non_null(r.fns);
    for (size_t i = 0; i < n; i++) {
        r.fns[i] = (pm_fn_cost){names[i], self[i], self[i] * 2};
        r.counter[PM_CPU_SECONDS] += self[i];
    }
    r.n_fns = n;
    return r;
}

static void test_function_cap_and_top_n(void **state)
{
    (void)state;
    pm_limits l = limits();
    l.max_function_series = 4;
    pm_store s;
    pm_store_init(&s, &l);
    const char *names[] = {"main.a", "main.b", "main.c", "main.d"};
    double costs[] = {5, 4, 3, 0.5};
    pm_reading r = fn_reading(names, costs, 4);
    add(&s, "service_name=\"one\"", 1, 0, 10, &r, 1);
    /* top 3 of one: a, b, c; d is not in the top N */
    assert_int_equal(s.fn_cap.exposed, 3);
    assert_true(
        value_of(&s,
                 "profile_function_cpu_seconds_total{service_name=\"one\",function=\"main.a\"}") ==
        5);
    assert_true(value_of(&s, "profile_function_cpu_cumulative_seconds_total{service_name=\"one\","
                             "function=\"main.a\"}") == 10);
    assert_true(
        value_of(&s,
                 "profile_function_cpu_seconds_total{service_name=\"one\",function=\"main.d\"}") <
        0);
    /* another service wants 3 more: one fits under the cap of 4, two hit it */
    add(&s, "service_name=\"two\"", 2, 0, 10, &r, 2);
    assert_int_equal(s.fn_cap.exposed, 4);
    assert_int_equal(s.fn_cap.hits, 2);
    assert_true(
        value_of(&s,
                 "profile_function_cpu_seconds_total{service_name=\"two\",function=\"main.a\"}") ==
        5);
    assert_true(
        value_of(&s,
                 "profile_function_cpu_seconds_total{service_name=\"two\",function=\"main.b\"}") <
        0);
    /* in one, d grows into the top 3 and c leaves it: c's series expires */
    double later[] = {5, 4, 0, 20};
    pm_reading r2 = fn_reading(names, later, 4);
    add(&s, "service_name=\"one\"", 1, 10, 20, &r2, 3);
    assert_true(
        value_of(&s,
                 "profile_function_cpu_seconds_total{service_name=\"one\",function=\"main.c\"}") <
        0);
    assert_true(
        value_of(&s,
                 "profile_function_cpu_seconds_total{service_name=\"one\",function=\"main.d\"}") ==
        20);
    assert_true(
        value_of(&s,
                 "profile_function_cpu_seconds_total{service_name=\"one\",function=\"main.a\"}") ==
        10);
    assert_int_equal(s.fn_cap.expired, 1);
    assert_int_equal(s.fn_cap.exposed, 4);
    /* a window later than the sliding window: old costs no longer rank */
    double only_c[] = {0, 0, 1, 0};
    pm_reading r3 = fn_reading(names, only_c, 4);
    add(&s, "service_name=\"one\"", 1, 990, 1000, &r3, 4);
    assert_true(
        value_of(&s,
                 "profile_function_cpu_seconds_total{service_name=\"one\",function=\"main.c\"}") ==
        1);
    assert_true(
        value_of(&s,
                 "profile_function_cpu_seconds_total{service_name=\"one\",function=\"main.a\"}") <
        0);
    /* two's next profile has only main.a: the slots freed in one go to
     * two's main.b, whose series starts at 0 with this window's time (a
     * timestamp of its own: never one a previous series had) */
    const char *only_a_names[] = {"main.a"};
    double only_a[] = {1};
    pm_reading r_two = fn_reading(only_a_names, only_a, 1);
    add(&s, "service_name=\"two\"", 2, 10, 20, &r_two, 4);
    page p = render(&s);
    double v;
    long long ts;
    assert_true(sample_of(
        p.text, "profile_function_cpu_seconds_total{service_name=\"two\",function=\"main.b\"}", &v,
        &ts));
    assert_true(v == 0);
    assert_int_equal(ts, (T0 + 20 * SEC) / 1000000);
    free(p.text);
    pm_reading_free(&r_two);
    pm_reading_free(&r);
    pm_reading_free(&r2);
    pm_reading_free(&r3);
    pm_store_free(&s);
    assert_int_equal(s.fn_cap.exposed, 0);
}

static void test_tracked_functions_bounded(void **state)
{
    (void)state;
    pm_limits l = limits();
    l.fn.max_tracked = 8;
    pm_store s;
    pm_store_init(&s, &l);
    char names[200][16];
    const char *ptrs[200];
    double costs[200];
    for (int i = 0; i < 200; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        ptrs[i] = names[i];
        costs[i] = i + 1;
    }
    pm_reading r = fn_reading(ptrs, costs, 200);
    assert_int_equal(add(&s, "service_name=\"a\"", 1, 0, 10, &r, 1), PM_ADDED);
    assert_true(s.series[0]->fns.n <= 8);
    assert_int_equal(s.fn_cap.exposed, 3);
    pm_reading_free(&r);
    pm_store_free(&s);
}

static void test_staleness_expiry(void **state)
{
    (void)state;
    pm_limits l = limits();
    l.staleness_ns = 60 * SEC;
    pm_store s;
    pm_store_init(&s, &l);
    pm_reading g1 = gauge_reading(PM_INUSE_BYTES, 100), g2 = gauge_reading(PM_INUSE_BYTES, 50);
    add(&s, "service_name=\"dead\"", 1, 0, 10, &g1, 0);
    add(&s, "service_name=\"live\"", 2, 0, 10, &g1, 0);
    add(&s, "service_name=\"live\"", 3, 0, 10, &g2, 0);
    assert_true(value_of(&s, "profile_memory_inuse_bytes{service_name=\"live\"}") == 150);
    assert_int_equal(pm_store_expire(&s, 50 * SEC), 0);
    g1.gauge[PM_INUSE_BYTES] = 120;
    add(&s, "service_name=\"live\"", 2, 10, 20, &g1, 50); /* process 3 stopped */
    assert_int_equal(pm_store_expire(&s, 61 * SEC), 1);
    page p = render(&s);
    assert_null(strstr(p.text, "service_name=\"dead\""));
    free(p.text);
    /* the live series lost its silent process: its gauge is process 2's */
    assert_true(value_of(&s, "profile_memory_inuse_bytes{service_name=\"live\"}") == 120);
    assert_int_equal(s.stats.series_expired, 1);
    assert_int_equal(pm_store_expire(&s, 200 * SEC), 1);
    assert_int_equal(s.n_series, 0);
    pm_store_free(&s);
}

static void test_sources_bounded(void **state)
{
    (void)state;
    pm_limits l = limits();
    l.max_sources = 2;
    pm_store s;
    pm_store_init(&s, &l);
    pm_reading g = gauge_reading(PM_GOROUTINES, 100);
    add(&s, "service_name=\"a\"", 1, 0, 10, &g, 1);
    add(&s, "service_name=\"a\"", 2, 0, 10, &g, 2);
    assert_true(value_of(&s, "profile_goroutines{service_name=\"a\"}") == 200);
    /* a third process: the one seen longest ago (1) leaves the sum */
    pm_reading other = gauge_reading(PM_INUSE_BYTES, 5);
    add(&s, "service_name=\"a\"", 3, 0, 10, &other, 3);
    assert_int_equal(s.stats.sources_evicted, 1);
    assert_int_equal(s.series[0]->n_sources, 2);
    assert_true(value_of(&s, "profile_goroutines{service_name=\"a\"}") == 100);
    pm_store_free(&s);
}

static void test_series_limit_and_unrecognised(void **state)
{
    (void)state;
    pm_limits l = limits();
    l.max_series = 2;
    pm_store s;
    pm_store_init(&s, &l);
    pm_reading g = gauge_reading(PM_GOROUTINES, 1), none = {0};
    assert_int_equal(add(&s, "service_name=\"a\"", 1, 0, 10, &g, 0), PM_ADDED);
    assert_int_equal(add(&s, "service_name=\"b\"", 1, 0, 10, &g, 0), PM_ADDED);
    assert_int_equal(add(&s, "service_name=\"c\"", 1, 0, 10, &g, 0), PM_SERIES_LIMIT);
    assert_int_equal(add(&s, "service_name=\"a\"", 1, 10, 20, &none, 0), PM_UNRECOGNISED);
    assert_int_equal(s.stats.series_limited, 1);
    assert_int_equal(s.stats.unrecognised, 1);
    pm_store_free(&s);
}

static void test_label_escaping(void **state)
{
    (void)state;
    char buf[64];
    size_t pos = 0;
    assert_int_equal(pm_label_append(buf, sizeof buf, &pos, "service_name", "a\"b\\c\nd"), 0);
    assert_string_equal(buf, "service_name=\"a\\\"b\\\\c\\nd\"");
    assert_int_equal(pm_label_append(buf, sizeof buf, &pos, "x", "y"), 0);
    assert_string_equal(buf, "service_name=\"a\\\"b\\\\c\\nd\",x=\"y\"");
    /* not UTF-8 (Prometheus would refuse the whole scrape): U+FFFD per
     * bad byte; valid multi-byte characters kept */
    char utf[64];
    pos = 0;
    assert_int_equal(
        pm_label_append(utf, sizeof utf, &pos, "f", "a\xff\xc3\xa9\xed\xa0\x80\xe2\x82"), 0);
    assert_string_equal(utf, "f=\"a\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                             "\xef\xbf\xbd\xef\xbf\xbd\"");
    char tiny[8];
    pos = 0;
    assert_int_equal(pm_label_append(tiny, sizeof tiny, &pos, "name", "long value"), -1);
}

/* ------------------------------------------------------------------ */
/* reading pprof trees                                                 */
/* ------------------------------------------------------------------ */

typedef struct tree_spec {
    const char *types[4][2];
    size_t n_types;
    const char *period_type[2];
    int64_t period;
    int64_t values[2][4]; /* two samples */
} tree_spec;

/* A profile with two samples: stack main.leaf <- main.caller, and main.caller alone. */
static pp_profile *make_tree(const tree_spec *spec)
{
    const pp_host *h = harness_host();
    pp_profile *p = h->profile_new();
    pp_pprof *t = h->profile_tree_new(p);
    t->sample_types = h->profile_alloc(p, spec->n_types * sizeof *t->sample_types);
    t->n_sample_types = spec->n_types;
    for (size_t i = 0; i < spec->n_types; i++)
        t->sample_types[i] = (pp_value_type){h->pprof_intern(p, spec->types[i][0]),
                                             h->pprof_intern(p, spec->types[i][1])};
    if (spec->period_type[0])
        t->period_type = (pp_value_type){h->pprof_intern(p, spec->period_type[0]),
                                         h->pprof_intern(p, spec->period_type[1])};
    t->period = spec->period;
    t->functions = h->profile_alloc(p, 2 * sizeof *t->functions);
    t->n_functions = 2;
    t->functions[0] = (pp_function){.id = 1, .name = h->pprof_intern(p, "main.leaf")};
    t->functions[1] = (pp_function){.id = 2, .name = h->pprof_intern(p, "main.caller")};
    t->locations = h->profile_alloc(p, 2 * sizeof *t->locations);
    t->n_locations = 2;
    for (int i = 0; i < 2; i++) {
        t->locations[i].id = (uint64_t)(i + 1);
        t->locations[i].lines = h->profile_alloc(p, sizeof(pp_line));
        t->locations[i].lines[0].function_id = (uint64_t)(i + 1);
        t->locations[i].n_lines = 1;
    }
    t->samples = h->profile_alloc(p, 2 * sizeof *t->samples);
    t->n_samples = 2;
    for (int s = 0; s < 2; s++) {
        pp_sample *sm = &t->samples[s];
        sm->n_location_ids = s == 0 ? 2 : 1;
        sm->location_ids = h->profile_alloc(p, 2 * sizeof(uint64_t));
        sm->location_ids[0] = s == 0 ? 1 : 2;
        sm->location_ids[1] = 2;
        sm->values = h->profile_alloc(p, spec->n_types * sizeof(int64_t));
        sm->n_values = spec->n_types;
        memcpy(sm->values, spec->values[s], spec->n_types * sizeof(int64_t));
    }
    return p;
}

static void read_spec(const tree_spec *spec, const char *name, const char *delta, pm_reading *r)
{
    const pp_host *h = harness_host();
    pp_profile *p = make_tree(spec);
    char err[256];
    const pp_pprof *t = h->profile_tree(p, err, sizeof err);
    assert_non_null(t);
    assert_int_equal(pm_read(t, name, delta, 1, r), 0);
    /* names are borrowed from the tree: copy what the tests look at */
    for (size_t i = 0; i < r->n_fns; i++)
        r->fns[i].name = strcmp(r->fns[i].name, "main.leaf") == 0 ? "main.leaf" : "main.caller";
    h->profile_free(p);
}

static void test_read_cpu(void **state)
{
    (void)state;
    tree_spec go = {{{"samples", "count"}, {"cpu", "nanoseconds"}},
                    2,
                    {"cpu", "nanoseconds"},
                    10000000,
                    {{3, 30000000}, {1, 10000000}}};
    pm_reading r;
    read_spec(&go, "process_cpu", NULL, &r);
    assert_int_equal(r.counters, 1u << PM_CPU_SECONDS);
    assert_true(r.counter[PM_CPU_SECONDS] > 0.0399 && r.counter[PM_CPU_SECONDS] < 0.0401);
    assert_int_equal(r.n_fns, 2);
    for (size_t i = 0; i < 2; i++) {
        if (strcmp(r.fns[i].name, "main.leaf") == 0) {
            assert_true(r.fns[i].self_s > 0.0299 && r.fns[i].self_s < 0.0301);
        } else {
            assert_true(r.fns[i].self_s > 0.0099 && r.fns[i].self_s < 0.0101);
            assert_true(r.fns[i].cum_s > 0.0399 && r.fns[i].cum_s < 0.0401);
        }
    }
    pm_reading_free(&r);
    /* only sample counts, with a CPU period: counts × period */
    tree_spec counts = {{{"samples", "count"}}, 1, {"cpu", "nanoseconds"}, 10000000, {{3}, {1}}};
    read_spec(&counts, NULL, NULL, &r);
    assert_int_equal(r.counters, 1u << PM_CPU_SECONDS);
    assert_true(r.counter[PM_CPU_SECONDS] > 0.0399 && r.counter[PM_CPU_SECONDS] < 0.0401);
    pm_reading_free(&r);
    /* wall time is not CPU, and nothing else: not recognised */
    tree_spec wall = {{{"samples", "count"}, {"wall", "nanoseconds"}},
                      2,
                      {"wall", "nanoseconds"},
                      10000000,
                      {{3, 30}, {1, 10}}};
    read_spec(&wall, "wall", NULL, &r);
    assert_int_equal(r.counters | r.gauges, 0);
    pm_reading_free(&r);
}

static void test_read_memory_goroutines_contention(void **state)
{
    (void)state;
    tree_spec heap = {{{"alloc_objects", "count"},
                       {"alloc_space", "bytes"},
                       {"inuse_objects", "count"},
                       {"inuse_space", "bytes"}},
                      4,
                      {"space", "bytes"},
                      524288,
                      {{10, 1000, 2, 200}, {5, 500, 1, 100}}};
    pm_reading r;
    read_spec(&heap, "memory", NULL, &r);
    assert_int_equal(r.gauges, (1u << PM_INUSE_BYTES) | (1u << PM_INUSE_OBJECTS));
    assert_true(r.gauge[PM_INUSE_BYTES] == 300 && r.gauge[PM_INUSE_OBJECTS] == 3);
    assert_int_equal(r.counters, (1u << PM_ALLOC_BYTES) | (1u << PM_ALLOC_OBJECTS));
    assert_true(r.counter[PM_ALLOC_BYTES] == 1500);
    assert_int_equal(r.cumulative, r.counters); /* no __delta__: running totals */
    pm_reading_free(&r);
    read_spec(&heap, "memory", "false", &r);
    assert_int_equal(r.cumulative, 0); /* __delta__="false": deltas */
    pm_reading_free(&r);
    /* goroutine/count and goroutines/count, or a bare count named so */
    const char *gnames[][2] = {{"goroutine", "goroutine"},
                               {"goroutines", "goroutines"},
                               {"samples", "goroutines"},
                               {"samples", "goroutine"}};
    for (size_t i = 0; i < 4; i++) {
        tree_spec g = {{{gnames[i][0], "count"}}, 1, {NULL, NULL}, 0, {{40}, {2}}};
        read_spec(&g, gnames[i][1], NULL, &r);
        assert_int_equal(r.gauges, 1u << PM_GOROUTINES);
        assert_true(r.gauge[PM_GOROUTINES] == 42);
        pm_reading_free(&r);
    }
    tree_spec bare = {{{"samples", "count"}}, 1, {NULL, NULL}, 0, {{40}, {2}}};
    read_spec(&bare, "something", NULL, &r);
    assert_int_equal(r.gauges | r.counters, 0);
    pm_reading_free(&r);
    /* Go's block and mutex profiles differ by name only */
    tree_spec lock = {{{"contentions", "count"}, {"delay", "nanoseconds"}},
                      2,
                      {"contentions", "count"},
                      1,
                      {{3, 2000000000}, {1, 500000000}}};
    read_spec(&lock, "mutex", NULL, &r);
    assert_int_equal(r.counters, (1u << PM_MUTEX_CONTENTIONS) | (1u << PM_MUTEX_DELAY));
    assert_true(r.counter[PM_MUTEX_DELAY] == 2.5 && r.counter[PM_MUTEX_CONTENTIONS] == 4);
    pm_reading_free(&r);
    read_spec(&lock, "block", "false", &r);
    assert_int_equal(r.counters, (1u << PM_BLOCK_CONTENTIONS) | (1u << PM_BLOCK_DELAY));
    assert_int_equal(r.cumulative, 0);
    pm_reading_free(&r);
    read_spec(&lock, NULL, NULL, &r); /* no name: block, as the host's family says */
    assert_int_equal(r.counters, (1u << PM_BLOCK_CONTENTIONS) | (1u << PM_BLOCK_DELAY));
    pm_reading_free(&r);
}

/* Trees with dangling ids, odd units, short value arrays and negative
 * values: read without a fault and never a negative total. */
static void test_read_mutated_trees(void **state)
{
    (void)state;
    const pp_host *h = harness_host();
    const char *types[] = {"cpu",       "samples", "inuse_space", "alloc_space",
                           "goroutine", "delay",   "contentions", "objects",
                           "",          "wall"};
    const char *units[] = {"nanoseconds", "count", "bytes", "ms", "", "seconds"};
    unsigned seed = 12345;
    for (int round = 0; round < 500; round++) {
        tree_spec spec = {{{0}},
                          1 + (size_t)(rand_r(&seed) % 4),
                          {"cpu", "nanoseconds"},
                          rand_r(&seed) % 3 - 1,
                          {{0}}};
        for (size_t i = 0; i < spec.n_types; i++) {
            spec.types[i][0] = types[rand_r(&seed) % 10];
            spec.types[i][1] = units[rand_r(&seed) % 6];
            spec.values[0][i] = (int64_t)(rand_r(&seed) % 2000) - 500;
            spec.values[1][i] = (int64_t)(rand_r(&seed) % 2000) - 500;
        }
        pp_profile *p = make_tree(&spec);
        char err[256];
        pp_pprof *t = h->profile_tree_mut(p, err, sizeof err);
        assert_non_null(t);
        /* break ids and shapes */
        if (rand_r(&seed) % 2)
            t->locations[rand_r(&seed) % 2].id = 1000 + rand_r(&seed) % 5;
        if (rand_r(&seed) % 2)
            t->functions[rand_r(&seed) % 2].id = rand_r(&seed) % 4;
        if (rand_r(&seed) % 3 == 0)
            t->locations[0].lines[0].function_id = 99;
        if (rand_r(&seed) % 3 == 0)
            t->samples[1].n_values = 0;
        if (rand_r(&seed) % 4 == 0)
            t->sample_types[0].type = 12345; /* out of the string table */
        if (rand_r(&seed) % 5 == 0)
            t->n_functions = 0;
        pm_reading r;
        const char *names[] = {NULL, "process_cpu", "mutex", "goroutine", "memory"};
        assert_int_equal(
            pm_read(t, names[rand_r(&seed) % 5], rand_r(&seed) % 2 ? "false" : NULL, 1, &r), 0);
        for (int c = 0; c < PM_N_COUNTERS; c++)
            assert_true(r.counter[c] >= 0);
        for (int g = 0; g < PM_N_GAUGES; g++)
            assert_true(r.gauge[g] >= 0);
        for (size_t i = 0; i < r.n_fns; i++)
            assert_true(r.fns[i].self_s >= 0 && r.fns[i].cum_s >= r.fns[i].self_s);
        pm_reading_free(&r);
        h->profile_free(p);
    }
}

/* ------------------------------------------------------------------ */
/* the component through the host                                      */
/* ------------------------------------------------------------------ */

static pp_profile *labelled(pp_profile *p, const char *service, const char *name, int64_t from,
                            int64_t until)
{
    const pp_host *h = harness_host();
    h->label_set(p, "service_name", service);
    if (name)
        h->label_set(p, "__name__", name);
    h->label_set(p, "team", "core");
    h->profile_set_window(p, from, until);
    return p;
}

static pp_status export_one(harness *hs, pp_profile *p, pp_outcome *out)
{
    const pp_host *h = harness_host();
    pp_batch *b = h->batch_new();
    pp_export_result res;
    memset(&res, 0, sizeof res);
    h->batch_add(b, p);
    *out = PP_PENDING;
    pp_status st = pp_exporter_profile_metrics.export(harness_state(hs), b, out, &res);
    h->batch_unref(b);
    return st;
}

static double telemetry_value(const char *prefix)
{
    size_t len;
    char *text = metrics_render(&len);
    double v = -1;
    long long ts;
    if (!sample_of(text, prefix, &v, &ts))
        v = -1;
    free(text);
    return v;
}

static void test_component_on_telemetry(void **state)
{
    (void)state;
    char err[256];
    metrics_reset_all();
    harness *hs = harness_new(&pp_exporter_profile_metrics, "profile_metrics",
                              "labels: [team]\nfunction_top_n: 1\n", err, sizeof err);
    assert_non_null(hs);
    assert_int_equal(harness_start(hs), 0);
    const pp_host *h = harness_host();
    int64_t now = h->now_ns();
    tree_spec go = {{{"samples", "count"}, {"cpu", "nanoseconds"}},
                    2,
                    {"cpu", "nanoseconds"},
                    10000000,
                    {{300, 3000000000}, {100, 1000000000}}};
    pp_outcome out;
    assert_int_equal(
        export_one(hs, labelled(make_tree(&go), "svc", "process_cpu", now - 10 * SEC, now), &out),
        PP_OK);
    assert_int_equal(out, PP_EXPORTED);
    assert_true(telemetry_value("profile_cpu_seconds_total{service_name=\"svc\",team=\"core\"}") ==
                4);
    assert_true(telemetry_value("profile_function_cpu_seconds_total{service_name=\"svc\",team="
                                "\"core\",function=\"main.leaf\"}") == 3);
    /* a profile of no known sample type: consumed, ignored, counted */
    tree_spec wall = {{{"wall", "nanoseconds"}}, 1, {NULL, NULL}, 0, {{5}, {5}}};
    assert_int_equal(
        export_one(hs, labelled(make_tree(&wall), "svc", "wall", now - 10 * SEC, now), &out),
        PP_OK);
    assert_int_equal(out, PP_EXPORTED);
    assert_true(telemetry_value("profpipe_profile_metrics_ignored_profiles_total{component_id="
                                "\"profile_metrics\",reason=\"no_known_sample_type\"}") == 1);
    /* the same window again: not counted twice */
    assert_int_equal(
        export_one(hs, labelled(make_tree(&go), "svc", "process_cpu", now - 10 * SEC, now), &out),
        PP_OK);
    assert_true(telemetry_value("profile_cpu_seconds_total{service_name=\"svc\",team=\"core\"}") ==
                4);
    assert_true(telemetry_value("profpipe_profile_metrics_ignored_profiles_total{component_id="
                                "\"profile_metrics\",reason=\"duplicate_window\"}") == 1);
    /* a payload that does not decode is rejected */
    pp_profile *bad = h->profile_new();
    h->profile_set_raw(bad, "not a pprof", 11);
    assert_int_equal(export_one(hs, labelled(bad, "svc", NULL, now - SEC, now), &out), PP_OK);
    assert_int_equal(out, PP_REJECTED);
    harness_free(hs);
    /* gone from the page with the exporter */
    assert_true(telemetry_value("profile_cpu_seconds_total{") < 0);
    metrics_reset_all();
}

static void test_component_bad_options(void **state)
{
    (void)state;
    char err[256];
    const char *bad[] = {"labels: [\"bad-name\"]\n",
                         "labels: [__name__]\n",
                         "labels: [service_name]\n",
                         "max_series: 0\n",
                         "function_top_n: 20\nmax_tracked_functions: 5\n",
                         "endpoint: \"nocolon\"\n",
                         "staleness: 10ms\n"};
    const char *key[] = {"labels",   "labels",   "labels", "max_series", "max_tracked_functions",
                         "endpoint", "staleness"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_null(
            harness_new(&pp_exporter_profile_metrics, "profile_metrics", bad[i], err, sizeof err));
        if (!strstr(err, key[i]))
            fail_msg("options %s: error \"%s\" does not name %s", bad[i], err, key[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_of_order_windows),
        cmocka_unit_test(test_same_window_twice),
        cmocka_unit_test(test_delta_and_cumulative),
        cmocka_unit_test(test_cpu_gap_fill),
        cmocka_unit_test(test_function_cap_and_top_n),
        cmocka_unit_test(test_tracked_functions_bounded),
        cmocka_unit_test(test_staleness_expiry),
        cmocka_unit_test(test_sources_bounded),
        cmocka_unit_test(test_series_limit_and_unrecognised),
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_read_cpu),
        cmocka_unit_test(test_read_memory_goroutines_contention),
        cmocka_unit_test(test_read_mutated_trees),
        cmocka_unit_test(test_component_on_telemetry),
        cmocka_unit_test(test_component_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
