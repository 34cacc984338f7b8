/* The built-in page's API (core/telemetry/ui), without HTTP: empty state, unknown
 * series, bad parameters (400 naming them), a range with nothing in it,
 * merged ranges, top, diff, the pprof download, target states, and the
 * store's bounds (max_bytes and retention evict, and count it). A
 * fuzz-style loop throws mutated parameter values at /api/v1/profile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "batch.h"
#include "config.h"
#include "host.h"
#include "metrics.h"
#include "pprof_internal.h"
#include "profile.h"
#include "ui/ui.h"
#include "ui/ui_internal.h"

#define MS 1000000LL
#define MAX_ARGS 16

typedef struct args {
    const char *names[MAX_ARGS];
    const char *values[MAX_ARGS];
    size_t n;
} args;

static const char *get_arg(void *ctx, const char *name)
{
    args *a = ctx;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->names[i], name) == 0)
            return a->values[i];
    return NULL;
}

/* GET path?k=v&... ; the pairs come as "k", "v", ..., NULL. */
static ui_response get(const char *path, ...)
{
    args a = {0};
    va_list ap;
    va_start(ap, path);
    const char *k;
    while ((k = va_arg(ap, const char *)) && a.n < MAX_ARGS) {
        a.names[a.n] = k;
        a.values[a.n++] = va_arg(ap, const char *);
    }
    va_end(ap);
    ui_response r;
    assert_int_equal(ui_api_handle(path, get_arg, &a, &r), 0);
    return r;
}

static void expect(ui_response *r, unsigned status, const char *needle)
{
    if (r->status != status || (needle && !memmem(r->body, r->len, needle, strlen(needle))))
        fail_msg("got %u %.*s; wanted %u with \"%s\"", r->status, (int)r->len, r->body, status,
                 needle ? needle : "");
    free(r->body);
}

/* A CPU-like profile of samples given as "leaf;caller;...;outermost",
 * with values in one sample type `cpu`. */
static pp_profile *stacks(int64_t from_ms, int64_t until_ms, const char *const *specs,
                          const int64_t *values, size_t n, const char *service)
{
    const pp_host *h = host_api();
    pp_profile *p = h->profile_new();
    pp_pprof *t = h->profile_tree_new(p);
    t->sample_types = h->profile_alloc(p, sizeof *t->sample_types);
    t->sample_types[0] =
        (pp_value_type){h->pprof_intern(p, "cpu"), h->pprof_intern(p, "nanoseconds")};
    t->n_sample_types = 1;
    t->period_type = t->sample_types[0];
    t->functions = h->profile_alloc(p, 64 * sizeof *t->functions);
    t->locations = h->profile_alloc(p, 64 * sizeof *t->locations);
    t->samples = h->profile_alloc(p, n * sizeof *t->samples);
    for (size_t i = 0; i < n; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", specs[i]);
        pp_sample *s = &t->samples[t->n_samples++];
        s->location_ids = h->profile_alloc(p, 16 * sizeof(uint64_t));
        s->values = h->profile_alloc(p, sizeof(int64_t));
        s->values[0] = values[i];
        s->n_values = 1;
        for (char *save, *f = strtok_r(buf, ";", &save); f; f = strtok_r(NULL, ";", &save)) {
            int64_t name = h->pprof_intern(p, f);
            size_t j = 0;
            while (j < t->n_functions && t->functions[j].name != name)
                j++;
            if (j == t->n_functions) {
                t->functions[j] = (pp_function){.id = j + 1, .name = name};
                t->locations[j].id = j + 1;
                t->locations[j].lines = h->profile_alloc(p, sizeof(pp_line));
                t->locations[j].lines[0].function_id = j + 1;
                t->locations[j].n_lines = 1;
                t->n_functions = t->n_locations = j + 1;
            }
            s->location_ids[s->n_location_ids++] = j + 1;
        }
    }
    h->label_set(p, "service_name", service);
    h->label_set(p, "__name__", "process_cpu");
    h->profile_set_window(p, from_ms * MS, until_ms * MS);
    return p;
}

static void observe(pp_profile *p)
{
    pp_batch *b = batch_new();
    batch_add(b, p);
    ui_observe(b);
    batch_unref(b);
}

/* The id of the first series in /api/v1/series. */
static void first_series(char id[17])
{
    ui_response r = get("/api/v1/series", NULL);
    const char *at = memmem(r.body, r.len, "\"id\":\"", 6);
    assert_non_null(at);
    memcpy(id, at + 6, 16);
    id[16] = '\0';
    free(r.body);
}

static const char *const phase_a[] = {"hot;main;start", "cold;main;start"};
static const int64_t values_a[] = {75, 25};
static const char *const phase_b[] = {"hot;main;start", "changed;main;start"};
static const int64_t values_b[] = {40, 60};

static int setup(void **state)
{
    (void)state;
    ui_reset();
    metrics_reset_all();
    ui_configure(1, (int64_t)900 * 1000 * MS, (int64_t)64 << 20);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ui_reset();
    metrics_reset_all();
    return 0;
}

static void empty_state(void **state)
{
    (void)state;
    ui_response r = get("/api/v1/series", NULL);
    expect(&r, 200, "\"windows\":0,\"series\":[]");
    r = get("/api/v1/targets", NULL);
    expect(&r, 200, "{\"targets\":[]}");
    r = get("/api/v1/pipeline", NULL);
    expect(&r, 200, "\"running\":false");
    r = get("/api/v1/profile", "series", "0123456789abcdef", NULL);
    expect(&r, 404, "unknown series 0123456789abcdef");
    r = get("/api/v1/nothing", NULL);
    expect(&r, 404, "unknown API path /api/v1/nothing");
}

static void unknown_series_and_empty_range(void **state)
{
    (void)state;
    observe(stacks(1000, 2000, phase_a, values_a, 2, "svc"));
    char id[17];
    first_series(id);
    char other[17];
    snprintf(other, sizeof other, "%016llx", (unsigned long long)(strtoull(id, NULL, 16) ^ 1));
    ui_response r = get("/api/v1/profile", "series", other, NULL);
    expect(&r, 404, "unknown series");
    r = get("/api/v1/profile", "series", id, "from", "5000", "until", "6000", NULL);
    expect(&r, 404, "no window of series");
    r = get("/api/v1/profile", "series", id, "window", "99", NULL);
    expect(&r, 404, "no window of series");
    r = get("/api/v1/profile", "series", id, "from", "1500", "until", "1600", NULL);
    expect(&r, 200, "\"windows\":1");
}

static void bad_parameters(void **state)
{
    (void)state;
    observe(stacks(1000, 2000, phase_a, values_a, 2, "svc"));
    char id[17];
    first_series(id);
    struct {
        const char *k1, *v1, *k2, *v2, *want;
    } cases[] = {
        {"format", "flamegraph", NULL, NULL, "parameter series is required"},
        {"series", "xyz", NULL, NULL, "parameter series: \\\"xyz\\\" is not a series id"},
        {"series", "0123456789ABCDEF", NULL, NULL, "is not a series id"},
        {"series", id, "format", "svg",
         "parameter format: \\\"svg\\\" is not flamegraph, top or pprof"},
        {"series", id, "from", "abc", "parameter from: \\\"abc\\\" is not an integer"},
        {"series", id, "from", "-5", "parameter from"},
        {"series", id, "until", "99999999999999999999", "parameter until"},
        {"series", id, "window", "0", "parameter window"},
        {"series", id, "max_nodes", "0", "parameter max_nodes"},
        {"series", id, "limit", "1x", "parameter limit"},
        {"series", id, "sample_type", "bogus",
         "unknown sample_type \\\"bogus\\\" (this profile has: cpu)"},
        {"series", id, "base_from", "x", "parameter base_from"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ui_response r = cases[i].k2 ? get("/api/v1/profile", cases[i].k1, cases[i].v1, cases[i].k2,
                                          cases[i].v2, NULL)
                                    : get("/api/v1/profile", cases[i].k1, cases[i].v1, NULL);
        expect(&r, 400, cases[i].want);
    }
    ui_response r = get("/api/v1/profile", "series", id, "from", "2000", "until", "1000", NULL);
    expect(&r, 400, "parameter until (1000) must be after from (2000)");
    r = get("/api/v1/profile", "series", id, "window", "1", "from", "1", NULL);
    expect(&r, 400, "give window or from/until, not both");
    r = get("/api/v1/profile", "series", id, "format", "top", "base_window", "1", NULL);
    expect(&r, 400, "a base range (diff) is only for format=flamegraph");
}

static void merged_range_flamegraph_and_top(void **state)
{
    (void)state;
    observe(stacks(1000, 2000, phase_a, values_a, 2, "svc"));
    observe(stacks(2000, 3000, phase_a, values_a, 2, "svc"));
    observe(stacks(3000, 4000, phase_b, values_b, 2, "svc"));
    char id[17];
    first_series(id);
    ui_response r = get("/api/v1/profile", "series", id, "from", "1000", "until", "3000", NULL);
    /* names in order of first sight; nodes depth-first, children by name:
     * root, start, main, cold, hot */
    expect(&r, 200,
           "\"total\":200,\"stride\":4,\"names\":[\"root\",\"start\",\"main\",\"hot\","
           "\"cold\"],\"nodes\":[0,200,0,0,1,200,0,1,2,200,0,2,4,50,50,3,3,150,150,3],"
           "\"nodes_total\":5,\"nodes_shown\":5,\"windows\":2}");
    r = get("/api/v1/profile", "series", id, "format", "top", NULL);
    expect(&r, 200,
           "\"total\":300,\"functions\":[{\"name\":\"hot\",\"flat\":190,\"cum\":190},"
           "{\"name\":\"changed\",\"flat\":60,\"cum\":60},{\"name\":\"cold\",\"flat\":50,"
           "\"cum\":50},{\"name\":\"main\",\"flat\":0,\"cum\":300},{\"name\":\"start\","
           "\"flat\":0,\"cum\":300}],\"windows\":3}");
    /* max_nodes leaves the lightest out (ancestors weigh at least as much
     * as their descendants, so what is shown stays a tree) */
    r = get("/api/v1/profile", "series", id, "max_nodes", "3", NULL);
    expect(&r, 200,
           "\"nodes\":[0,300,0,0,1,300,0,1,2,300,0,2],\"nodes_total\":6,\"nodes_shown\":3");
    r = get("/api/v1/profile", "series", id, "max_nodes", "4", NULL);
    expect(&r, 200, "\"nodes\":[0,300,0,0,1,300,0,1,2,300,0,2,3,190,190,3],");
}

static void diff_between_ranges(void **state)
{
    (void)state;
    observe(stacks(1000, 2000, phase_a, values_a, 2, "svc"));
    observe(stacks(3000, 4000, phase_b, values_b, 2, "svc"));
    char id[17];
    first_series(id);
    ui_response r = get("/api/v1/profile", "series", id, "from", "3000", "until", "4000",
                        "base_from", "1000", "base_until", "2000", NULL);
    /* nodes: name,total,self,depth,base_total,base_self; changed is new,
     * cold is gone (total 0, base 25) */
    expect(&r, 200,
           "\"stride\":6,\"names\":[\"root\",\"start\",\"main\",\"hot\",\"changed\","
           "\"cold\"],\"nodes\":[0,100,0,0,100,0,1,100,0,1,100,0,2,100,0,2,100,0,4,60,60,3,0,"
           "0,5,0,0,3,25,25,3,40,40,3,75,75]");
}

static void pprof_download_decodes(void **state)
{
    (void)state;
    observe(stacks(1000, 2000, phase_a, values_a, 2, "my svc"));
    observe(stacks(2000, 3000, phase_a, values_a, 2, "my svc"));
    char id[17];
    first_series(id);
    ui_response r =
        get("/api/v1/profile", "series", id, "format", "pprof", "sample_type", "cpu", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/octet-stream");
    assert_string_equal(r.filename, "my_svc.process_cpu.1.pb.gz");
    pp_profile *p = profile_new();
    assert_int_equal(profile_set_raw(p, r.body, r.len), 0);
    char err[256];
    const pp_pprof *t = profile_tree(p, err, sizeof err);
    assert_non_null(t);
    int64_t total = 0;
    for (size_t i = 0; i < t->n_samples; i++)
        total += t->samples[i].values[0];
    assert_int_equal(total, 200);
    assert_string_equal(t->strings[t->default_sample_type], "cpu");
    profile_free(p);
    free(r.body);
}

static void max_bytes_evicts_oldest(void **state)
{
    (void)state;
    pp_profile *probe = stacks(0, 1, phase_a, values_a, 2, "svc");
    const uint8_t *gz;
    size_t len;
    assert_int_equal(profile_raw_gz(probe, &gz, &len, NULL, 0), 0);
    profile_free(probe);
    /* room for about 5 windows */
    ui_configure(1, (int64_t)900 * 1000 * MS, (int64_t)(5 * (len + 400)));
    for (int i = 0; i < 40; i++)
        observe(stacks(1000 * (i + 1), 1000 * (i + 2), phase_a, values_a, 2, "svc"));
    pp_metric *bytes = metrics_get("profpipe_ui_bytes", "", PP_GAUGE, NULL);
    pp_metric *windows = metrics_get("profpipe_ui_windows", "", PP_GAUGE, NULL);
    pp_metric *evicted =
        metrics_get("profpipe_ui_evicted_windows_total", "", PP_COUNTER, "reason=\"max_bytes\"");
    assert_true(metrics_value(bytes) <= 5.0 * (double)(len + 400));
    assert_true(metrics_value(windows) >= 3 && metrics_value(windows) <= 5);
    assert_int_equal((int)metrics_value(evicted), 40 - (int)metrics_value(windows));
    /* the newest stay: the last window is there, the first is not */
    char id[17];
    first_series(id);
    ui_response r = get("/api/v1/profile", "series", id, "from", "40000", "until", "41000", NULL);
    expect(&r, 200, "\"windows\":1");
    r = get("/api/v1/profile", "series", id, "from", "1000", "until", "2000", NULL);
    expect(&r, 404, "no window");
    /* a window larger than the whole bound is refused and counted */
    ui_configure(1, (int64_t)900 * 1000 * MS, 16);
    observe(stacks(1000, 2000, phase_a, values_a, 2, "svc"));
    pp_metric *too_large =
        metrics_get("profpipe_ui_evicted_windows_total", "", PP_COUNTER, "reason=\"too_large\"");
    assert_int_equal((int)metrics_value(too_large), 1);
    assert_int_equal((int)metrics_value(windows), 0);
}

static void retention_expires(void **state)
{
    (void)state;
    observe(stacks(1000, 2000, phase_a, values_a, 2, "svc"));
    observe(stacks(1000, 2000, phase_a, values_a, 2, "other"));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    ui_store_expire(now);
    pp_metric *windows = metrics_get("profpipe_ui_windows", "", PP_GAUGE, NULL);
    assert_int_equal((int)metrics_value(windows), 2);
    ui_store_expire(now + (int64_t)901 * 1000 * MS);
    pp_metric *evicted =
        metrics_get("profpipe_ui_evicted_windows_total", "", PP_COUNTER, "reason=\"retention\"");
    assert_int_equal((int)metrics_value(evicted), 2);
    ui_response r = get("/api/v1/series", NULL);
    expect(&r, 200, "\"series\":[]");
    /* turned off: nothing is kept */
    ui_configure(0, (int64_t)900 * 1000 * MS, (int64_t)64 << 20);
    observe(stacks(1000, 2000, phase_a, values_a, 2, "svc"));
    assert_int_equal((int)metrics_value(windows), 0);
}

static void fan_out_kept_once(void **state)
{
    (void)state;
    pp_profile *p = stacks(1000, 2000, phase_a, values_a, 2, "svc");
    pp_batch *b = batch_new();
    batch_add(b, p);
    ui_observe(b); /* pipeline one */
    ui_observe(b); /* pipeline two, same batch */
    batch_unref(b);
    pp_metric *windows = metrics_get("profpipe_ui_windows", "", PP_GAUGE, NULL);
    assert_int_equal((int)metrics_value(windows), 1);
}

static void target_states(void **state)
{
    (void)state;
    pp_target_state st = {.target = "http://127.0.0.1:1",
                          .profile = "process_cpu",
                          .path = "/debug/pprof/profile",
                          .up = 0,
                          .last_ns = 5000 * MS,
                          .duration_ns = 2 * MS,
                          .bytes = 0,
                          .error = "Failed to connect \"x\""};
    ui_target_state("pprof_scrape/a", &st);
    st.profile = "goroutine";
    st.up = 1;
    st.error = NULL;
    st.bytes = 1234;
    ui_target_state("pprof_scrape/a", &st);
    ui_target_state("pprof_scrape/a", &st); /* replaces, not adds */
    ui_response r = get("/api/v1/targets", NULL);
    expect(&r, 200,
           "{\"targets\":[{\"component\":\"pprof_scrape/a\",\"target\":\"http://127.0.0.1:1\","
           "\"profile\":\"process_cpu\",\"path\":\"/debug/pprof/profile\",\"up\":false,"
           "\"last_scrape\":5000,\"duration_ms\":2,\"bytes\":0,\"error\":\"Failed to connect "
           "\\\"x\\\"\"},{\"component\":\"pprof_scrape/a\",\"target\":\"http://127.0.0.1:1\","
           "\"profile\":\"goroutine\",");
    ui_target_forget("pprof_scrape/a", "http://127.0.0.1:1", "process_cpu");
    r = get("/api/v1/targets", NULL);
    expect(&r, 200, "\"profile\":\"goroutine\"");
    ui_target_forget("pprof_scrape/a", "http://127.0.0.1:1", NULL);
    r = get("/api/v1/targets", NULL);
    expect(&r, 200, "{\"targets\":[]}");
}

/* Occurrences of needle in the body of r (freed). */
static size_t count_in(ui_response *r, const char *needle)
{
    size_t n = 0, len = strlen(needle);
    for (const char *p = r->body, *end = r->body + r->len;
         (p = memmem(p, (size_t)(end - p), needle, len)); p += len)
        n++;
    free(r->body);
    return n;
}

/* Hundreds of targets x profile types (the index grows several times),
 * each reported again with a new state, some forgotten and reported
 * anew: every one is listed once, with its latest state. */
static void target_states_many(void **state)
{
    (void)state;
    enum { TARGETS = 300 };
    static const char *const profiles[] = {"memory", "goroutine", "block"};
    char target[64], error[64];
    pp_target_state st = {.path = "/debug/pprof/x", .last_ns = 5000 * MS};
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < TARGETS; i++)
            for (int j = 0; j < 3; j++) {
                snprintf(target, sizeof target, "http://127.0.0.1:%d", 10000 + i);
                snprintf(error, sizeof error, "round %d", round);
                st.target = target;
                st.profile = profiles[j];
                st.up = round;
                st.error = round ? NULL : error;
                st.bytes = (uint64_t)(round * 1000 + j);
                ui_target_state(j == 2 ? "pprof_scrape/b" : "pprof_scrape/a", &st);
            }
    ui_response r = get("/api/v1/targets", NULL);
    assert_int_equal(count_in(&r, "\"component\""), 3 * TARGETS);
    r = get("/api/v1/targets", NULL);
    assert_int_equal(count_in(&r, "\"error\":\"round 0\""), 0);
    r = get("/api/v1/targets", NULL);
    assert_int_equal(count_in(&r, "\"bytes\":1002"), TARGETS);
    for (int i = 0; i < TARGETS; i += 2) {
        snprintf(target, sizeof target, "http://127.0.0.1:%d", 10000 + i);
        ui_target_forget("pprof_scrape/a", target, NULL); /* memory and goroutine */
    }
    r = get("/api/v1/targets", NULL);
    assert_int_equal(count_in(&r, "\"component\""), 3 * TARGETS - TARGETS);
    /* positions moved: an update still finds its entry, a new one is added */
    st.target = "http://127.0.0.1:10001";
    st.profile = "memory";
    st.error = "refused";
    ui_target_state("pprof_scrape/a", &st);
    st.target = "http://127.0.0.1:10000";
    ui_target_state("pprof_scrape/a", &st);
    r = get("/api/v1/targets", NULL);
    assert_int_equal(count_in(&r, "\"component\""), 3 * TARGETS - TARGETS + 1);
    r = get("/api/v1/targets", NULL);
    assert_int_equal(count_in(&r, "\"error\":\"refused\""), 2);
    for (int i = 0; i < TARGETS; i++) {
        snprintf(target, sizeof target, "http://127.0.0.1:%d", 10000 + i);
        ui_target_forget("pprof_scrape/a", target, NULL);
        ui_target_forget("pprof_scrape/b", target, NULL);
    }
    r = get("/api/v1/targets", NULL);
    expect(&r, 200, "{\"targets\":[]}");
}

/* Mutated and truncated parameter values: every answer is 200, 400 or
 * 404 with a JSON body, never a crash (ASan runs this too). */
static void fuzz_parameters(void **state)
{
    (void)state;
    observe(stacks(1000, 2000, phase_a, values_a, 2, "svc"));
    char id[17];
    first_series(id);
    static const char *const keys[] = {"series",    "from",       "until",       "window",
                                       "base_from", "base_until", "base_window", "sample_type",
                                       "format",    "max_nodes",  "limit"};
    static const char *const seeds[] = {"1000",  "2000",       "cpu", "top",
                                        "pprof", "flamegraph", "-1",  "9223372036854775807",
                                        "0x10",  "1e3",        ""};
    unsigned seed = 12345;
    for (int i = 0; i < 3000; i++) {
        args a = {0};
        a.names[a.n] = "series";
        a.values[a.n++] = (rand_r(&seed) % 8) ? id : "0123456789abcdeg";
        char bufs[4][48];
        int n = 1 + rand_r(&seed) % 4;
        for (int j = 0; j < n; j++) {
            const char *s = (rand_r(&seed) % 2) ? id : seeds[rand_r(&seed) % 11];
            snprintf(bufs[j], sizeof bufs[j], "%s", s);
            size_t len = strlen(bufs[j]);
            if (len && rand_r(&seed) % 2)
                bufs[j][rand_r(&seed) % len] =
                    (char)(rand_r(&seed) % 256 ? rand_r(&seed) % 256 : 1);
            if (len && rand_r(&seed) % 3 == 0)
                bufs[j][rand_r(&seed) % len] = '\0';
            a.names[a.n] = keys[rand_r(&seed) % 11];
            a.values[a.n++] = bufs[j];
        }
        ui_response r;
        assert_int_equal(ui_api_handle("/api/v1/profile", get_arg, &a, &r), 0);
        assert_true(r.status == 200 || r.status == 400 || r.status == 404);
        if (r.status != 200 || strcmp(r.content_type, "application/json") == 0)
            assert_true(r.len > 0 && r.body[0] == '{');
        free(r.body);
    }
}

/* Keeping a window copies no payload and decodes nothing: the kept
 * window (and what a view collects) shares the pipeline's raw buffer. */
static void kept_by_reference_not_decoded(void **state)
{
    (void)state;
    pp_profile *built = stacks(1000, 2000, phase_a, values_a, 2, "svc");
    const uint8_t *gz;
    size_t len;
    assert_int_equal(profile_raw_gz(built, &gz, &len, NULL, 0), 0);
    pp_profile *p = profile_new();
    assert_int_equal(profile_set_raw(p, gz, len), 0);
    profile_label_set(p, "service_name", "svc");
    profile_set_window(p, 1000 * MS, 2000 * MS);
    profile_free(built);
    pp_batch *b = batch_new();
    batch_add(b, p);
    ui_observe(b);
    assert_false(p->has_tree);
    assert_int_equal(atomic_load(&p->raw->refs), 2); /* the pipeline's and the page's */
    char id[17];
    first_series(id);
    uint64_t series;
    assert_int_equal(ui_series_parse(id, &series), 0);
    ui_select sel = {.series = series, .from_ns = 0, .until_ns = INT64_MAX};
    pp_profile **list;
    assert_int_equal(ui_store_collect(&sel, &list), 1);
    assert_ptr_equal(list[0]->raw, p->raw);
    assert_false(list[0]->has_tree);
    ui_store_release(list, 1);
    batch_unref(b); /* the pipeline is done: the page's reference remains */
    ui_response r = get("/api/v1/profile", "series", id, NULL);
    expect(&r, 200, "\"total\":100");
}

static config *load(const char *service_extra)
{
    char text[1024];
    snprintf(text, sizeof text,
             "receivers: {file: {include: [\"x\"]}}\nexporters: {file: {directory: d}}\n"
             "service:\n  pipelines:\n    profiles: {receivers: [file], exporters: [file]}\n"
             "%s",
             service_extra);
    config *c = config_load_string(text, "t.yaml");
    assert_non_null(c);
    return c;
}

static void config_section(void **state)
{
    (void)state;
    config *c = load("");
    assert_int_equal(c->n_errors, 0);
    assert_int_equal(c->ui_enabled, 1);
    assert_int_equal(c->ui_retention_ns, (int64_t)15 * 60 * 1000 * MS);
    assert_int_equal(c->ui_max_bytes, (int64_t)64 << 20);
    config_free(c);
    c = load("  ui: {enabled: false, retention: 2m, max_bytes: 1MiB}\n");
    assert_int_equal(c->n_errors, 0);
    assert_int_equal(c->ui_enabled, 0);
    assert_int_equal(c->ui_retention_ns, (int64_t)120 * 1000 * MS);
    assert_int_equal(c->ui_max_bytes, (int64_t)1 << 20);
    config_free(c);
    c = load("  ui: {max_bytes: lots, colour: red}\n");
    assert_int_equal(c->n_errors, 2);
    assert_non_null(
        strstr(c->errors[0], "t.yaml:6:19: service: ui.max_bytes: invalid size \"lots\""));
    assert_non_null(
        strstr(c->errors[1], "ui.colour: unknown option (valid: enabled, retention, max_bytes)"));
    config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(empty_state, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_series_and_empty_range, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_parameters, setup, teardown),
        cmocka_unit_test_setup_teardown(merged_range_flamegraph_and_top, setup, teardown),
        cmocka_unit_test_setup_teardown(diff_between_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(pprof_download_decodes, setup, teardown),
        cmocka_unit_test_setup_teardown(max_bytes_evicts_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(retention_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(fan_out_kept_once, setup, teardown),
        cmocka_unit_test_setup_teardown(target_states, setup, teardown),
        cmocka_unit_test_setup_teardown(target_states_many, setup, teardown),
        cmocka_unit_test_setup_teardown(fuzz_parameters, setup, teardown),
        cmocka_unit_test_setup_teardown(kept_by_reference_not_decoded, setup, teardown),
        cmocka_unit_test(config_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
