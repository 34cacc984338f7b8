/* profile_metrics exporter: turns profiles into Prometheus series (CPU
 * seconds, memory in use and allocated, goroutines, block and mutex delay,
 * the top functions' CPU per service) and exposes them on the telemetry
 * /metrics, or on an `endpoint` of its own.
 *
 * The rules (deltas, duplicates, out-of-order windows, timestamps,
 * staleness) live in pm_store, the reading of a pprof in pm_read, the
 * per-function ranking in pm_functions; this file is the component: its
 * options, the export loop on the worker thread, and the page a scrape
 * reads on the telemetry (or its own) HTTP thread. One mutex keeps the
 * two apart. Every profile counts as exported (it is consumed here, even
 * when nothing in it is recognised); only a payload that does not decode
 * is rejected. */
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include <profpipe/plugin.h>

#include "fnv.h"
#include "label_names.h"
#include "pm_store.h"

#define ERR_LEN 256
#define SERIES_LABELS_MAX 2048
#define UNKNOWN_SERVICE "unknown_service"
/* The endpoint serves scrapers: a few connections, none idle for long. */
#define ENDPOINT_MAX_CONNECTIONS 32
#define ENDPOINT_TIMEOUT_S 30

typedef struct pm_exporter {
    const pp_host *host;
    pp_instance *self;
    pthread_mutex_t lock;
    pm_store store;
    int timestamps;
    char **keep; /* labels kept besides service_name */
    size_t n_keep;
    char *endpoint; /* NULL: the telemetry /metrics */
    struct MHD_Daemon *daemon;
    int exposed; /* registered with the telemetry server */
    pm_stats reported;
    uint64_t reported_cap_hits, reported_fn_expired;
    pp_metric *m_unrecognised, *m_duplicate, *m_series_limit, *m_out_of_order, *m_cap_hits,
        *m_fn_expired, *m_series_expired, *m_sources_evicted, *m_series, *m_fn_series;
} pm_exporter;

/* What pm_options fills. */
typedef struct pm_settings {
    const char *endpoint_text;
    const pp_config *labels_node;
    int64_t staleness_ns;
    int timestamps, fill_cpu_gaps, function_cumulative;
    int64_t max_series, max_sources, top_n, window_ns, max_fn_series, tracked;
} pm_settings;

/* function_window holds PM_FN_BUCKETS buckets of at least a second. */
#define PM_FN_WINDOW_MIN "10s"
_Static_assert(PM_FN_BUCKETS == 10, "PM_FN_WINDOW_MIN is PM_FN_BUCKETS seconds");
/* Tracked functions are counted in 32 bits with room to grow 4 times. */
#define PM_TRACKED_MAX "1073741823"
_Static_assert(UINT32_MAX / 4 == 1073741823u, "PM_TRACKED_MAX is UINT32_MAX / 4");

static const pp_option pm_options[] = {
    {"endpoint", PP_OPT_STRING, "",
     "host:port of an HTTP server of its own serving the series on GET /metrics; empty = "
     "add them to the telemetry /metrics (service.telemetry.address)",
     0, NULL, PP_FIELD(pm_settings, endpoint_text)},
    {"labels", PP_OPT_STRING_LIST, "[]",
     "series labels kept on every metric besides `service_name` (e.g. [namespace, "
     "instance]); each value adds series",
     0, NULL, PP_FIELD(pm_settings, labels_node)},
    {"staleness", PP_OPT_DURATION, "5m",
     "a series (or one process of it) that no profile reached for this long is removed", 0, NULL,
     PP_FIELD(pm_settings, staleness_ns), .min = "1s"},
    {"timestamps", PP_OPT_BOOL, "true",
     "give each sample its profile window's end as timestamp; false = scrape time", 0, NULL,
     PP_FIELD(pm_settings, timestamps)},
    {"fill_cpu_gaps", PP_OPT_BOOL, "true",
     "count the gap before a CPU window (up to the window's length) at the window's rate, "
     "so that rate() of profile_cpu_seconds_total is cores used although CPU profiles "
     "cover only part of each scrape interval",
     0, NULL, PP_FIELD(pm_settings, fill_cpu_gaps)},
    {"max_series", PP_OPT_INT, "1000",
     "series (service_name + kept labels) at most; profiles of more are counted and ignored", 0,
     NULL, PP_FIELD(pm_settings, max_series), .min = "1"},
    {"max_sources_per_series", PP_OPT_INT, "64",
     "processes (distinct series labels) tracked per series; the one seen longest ago makes "
     "room",
     0, NULL, PP_FIELD(pm_settings, max_sources), .min = "1"},
    {"function_top_n", PP_OPT_INT, "10",
     "functions per series with a profile_function_cpu_seconds_total series; 0 = none", 0, NULL,
     PP_FIELD(pm_settings, top_n), .min = "0"},
    {"function_window", PP_OPT_DURATION, "5m",
     "sliding window (of profile time) over which functions are ranked by self CPU", 0, NULL,
     PP_FIELD(pm_settings, window_ns), .min = PM_FN_WINDOW_MIN},
    {"function_cumulative", PP_OPT_BOOL, "false",
     "also expose profile_function_cpu_cumulative_seconds_total (time on the stack)", 0, NULL,
     PP_FIELD(pm_settings, function_cumulative)},
    {"max_function_series", PP_OPT_INT, "500",
     "hard cap on function series over all services; exposures past it are counted "
     "(profpipe_profile_metrics_function_cap_hits_total) and refused",
     0, NULL, PP_FIELD(pm_settings, max_fn_series), .min = "0"},
    {"max_tracked_functions", PP_OPT_INT, "1000",
     "functions whose windowed CPU is tracked per series (bounds memory); the least costly "
     "half is forgotten when full",
     0, NULL, PP_FIELD(pm_settings, tracked), .max = PM_TRACKED_MAX},
    {0},
};

/* ------------------------------------------------------------------ */
/* options                                                             */
/* ------------------------------------------------------------------ */

static int read_labels(pm_exporter *e, const pp_config *cfg, const pp_config *list)
{
    const pp_host *h = e->host;
    size_t n = list ? h->cfg_count(list) : 0;
    if (n == 0)
        return 0;
    if (!(e->keep = calloc(n, sizeof *e->keep)))
        return h->cfg_error(cfg, "labels", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *s = h->cfg_scalar(h->cfg_item(list, i));
        if (!label_name_valid(s) || label_name_reserved(s))
            return h->cfg_error(cfg, "labels",
                                "item %zu (\"%s\") is not a Prometheus label name "
                                "([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)",
                                i, s ? s : "");
        if (strcmp(s, "service_name") == 0 || strcmp(s, "function") == 0)
            return h->cfg_error(cfg, "labels", "item %zu: \"%s\" is always set by the exporter", i,
                                s);
        if (!(e->keep[i] = strdup(s)))
            return h->cfg_error(cfg, "labels", "out of memory");
        e->n_keep++;
    }
    return 0;
}

/* Rule: every top function of a series is among those tracked. */
static int tracked_covers_top_n(pm_exporter *e, const pp_config *cfg, const pm_settings *set)
{
    if (set->tracked >= set->top_n)
        return 0;
    return e->host->cfg_error(cfg, "max_tracked_functions",
                              "must be at least function_top_n (%lld) and at most %u",
                              (long long)set->top_n, UINT32_MAX / 4);
}

static pm_limits limits_of(const pm_settings *set)
{
    return (pm_limits){
        .max_series = (size_t)set->max_series,
        .max_sources = (size_t)set->max_sources,
        .staleness_ns = set->staleness_ns,
        .fill_cpu_gaps = set->fill_cpu_gaps,
        .functions = set->top_n > 0,
        .functions_cumulative = set->function_cumulative,
        .fn = {(size_t)set->top_n, (size_t)set->tracked, set->window_ns / PM_FN_BUCKETS},
        .max_function_series = (size_t)set->max_fn_series,
    };
}

/* Rule: a separate endpoint is host:port. */
static int read_endpoint(pm_exporter *e, const pp_config *cfg, const char *ep)
{
    if (!ep || !*ep)
        return 0;
    const char *colon = strrchr(ep, ':');
    if (!colon || !colon[1] || colon == ep)
        return e->host->cfg_error(cfg, "endpoint", "want host:port, got \"%s\"", ep);
    if (!(e->endpoint = strdup(ep)))
        return e->host->cfg_error(cfg, "endpoint", "out of memory");
    return 0;
}

static void pm_destroy(void *state)
{
    pm_exporter *e = state;
    if (!e)
        return;
    if (e->exposed)
        e->host->exposition_remove(e->self);
    if (e->daemon)
        MHD_stop_daemon(e->daemon);
    pm_store_free(&e->store);
    for (size_t i = 0; i < e->n_keep; i++)
        free(e->keep[i]);
    free(e->keep);
    free(e->endpoint);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

static int pm_create(const pp_host *host, pp_instance *self, const pp_config *cfg, void **state)
{
    pm_exporter *e = calloc(1, sizeof *e);
    pm_limits lim;
    if (!e)
        return host->cfg_error(cfg, NULL, "out of memory");
    e->host = host;
    e->self = self;
    pthread_mutex_init(&e->lock, NULL);
    pm_settings set = {0};
    int rc = host->cfg_fill(cfg, pm_options, &set);
    if (rc == 0)
        rc = read_labels(e, cfg, set.labels_node);
    if (rc == 0)
        rc = tracked_covers_top_n(e, cfg, &set);
    if (rc == 0)
        rc = read_endpoint(e, cfg, set.endpoint_text);
    e->timestamps = set.timestamps;
    lim = limits_of(&set);
    if (rc < 0) {
        pm_destroy(e);
        return -1;
    }
    pm_store_init(&e->store, &lim);
    *state = e;
    return 0;
}

/* ------------------------------------------------------------------ */
/* the page                                                            */
/* ------------------------------------------------------------------ */

static void report_locked(pm_exporter *e);

/* Expires stale series and writes the page; called with e->lock held.
 * The counts of what expired reach the exporter's own metrics now, so on
 * the telemetry page (rendered before this text) at the next scrape. */
static void render_locked(pm_exporter *e, pm_write_fn write, void *out)
{
    pm_store_expire(&e->store, e->host->monotonic_ns());
    pm_store_render(&e->store, e->timestamps, write, out);
    report_locked(e);
}

static void pm_expose(void *arg, pp_text_write_fn write, void *out)
{
    pm_exporter *e = arg;
    pthread_mutex_lock(&e->lock);
    render_locked(e, write, out);
    pthread_mutex_unlock(&e->lock);
}

static void write_stream(void *out, const char *data, size_t len)
{
    fwrite(data, 1, len, (FILE *)out);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    (void)version, (void)upload, (void)upload_size, (void)req_cls;
    pm_exporter *e = cls;
    char *text = NULL;
    size_t len = 0;
    unsigned status = MHD_HTTP_OK;
    const char *type = "text/plain; version=0.0.4";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        text = strdup("method not allowed: GET /metrics\n");
    } else if (strcmp(url, "/metrics") != 0) {
        status = MHD_HTTP_NOT_FOUND;
        text = strdup("not found: try /metrics\n");
    } else {
        FILE *out = open_memstream(&text, &len);
        if (!out)
            return MHD_NO;
        pthread_mutex_lock(&e->lock);
        render_locked(e, write_stream, out);
        pthread_mutex_unlock(&e->lock);
        fclose(out);
    }
    if (!text)
        return MHD_NO;
    if (status != MHD_HTTP_OK) {
        len = strlen(text);
        type = "text/plain";
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static int start_endpoint(pm_exporter *e)
{
    const pp_host *h = e->host;
    char host[256];
    const char *colon = strrchr(e->endpoint, ':');
    const char *hb = e->endpoint;
    size_t hl = (size_t)(colon - hb);
    if (hl >= 2 && hb[0] == '[' && hb[hl - 1] == ']') {
        hb++;
        hl -= 2;
    }
    snprintf(host, sizeof host, "%.*s", (int)(hl < sizeof host ? hl : sizeof host - 1), hb);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
    if (gai != 0) {
        h->log(e->self, PP_LOG_ERROR, "endpoint %s: %s", e->endpoint, gai_strerror(gai));
        return -1;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    e->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, e, MHD_OPTION_SOCK_ADDR,
                                 ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
                                 (unsigned)ENDPOINT_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)ENDPOINT_TIMEOUT_S, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!e->daemon) {
        h->log(e->self, PP_LOG_ERROR, "cannot listen on %s (in use?)", e->endpoint);
        return -1;
    }
    h->log(e->self, PP_LOG_INFO, "series on http://%s/metrics", e->endpoint);
    return 0;
}

static pp_metric *counter(pm_exporter *e, const char *name, const char *help, const char *labels)
{
    return e->host->metric(e->self, name, help, PP_COUNTER, labels);
}

static int pm_start(void *state)
{
    pm_exporter *e = state;
    const pp_host *h = e->host;
    const char *ignored = "Profiles that added nothing, by reason.";
    e->m_unrecognised = counter(e, "profile_metrics_ignored_profiles_total", ignored,
                                "reason=\"no_known_sample_type\"");
    e->m_duplicate = counter(e, "profile_metrics_ignored_profiles_total", ignored,
                             "reason=\"duplicate_window\"");
    e->m_series_limit =
        counter(e, "profile_metrics_ignored_profiles_total", ignored, "reason=\"max_series\"");
    e->m_out_of_order = counter(e, "profile_metrics_out_of_order_windows_total",
                                "Windows older than one already seen for their process "
                                "(counters added, gauges and running totals kept).",
                                NULL);
    e->m_cap_hits = counter(e, "profile_metrics_function_cap_hits_total",
                            "Function series not exposed because max_function_series was "
                            "reached.",
                            NULL);
    e->m_fn_expired = counter(e, "profile_metrics_expired_function_series_total",
                              "Function series removed on leaving their service's top N.", NULL);
    e->m_series_expired = counter(e, "profile_metrics_expired_series_total",
                                  "Series removed after `staleness` without a profile.", NULL);
    e->m_sources_evicted = counter(e, "profile_metrics_evicted_sources_total",
                                   "Processes forgotten because a series had "
                                   "max_sources_per_series.",
                                   NULL);
    e->m_series = h->metric(e->self, "profile_metrics_series",
                            "Series (service_name + kept labels) held.", PP_GAUGE, NULL);
    e->m_fn_series = h->metric(e->self, "profile_metrics_function_series",
                               "Function series exposed.", PP_GAUGE, NULL);
    if (e->endpoint)
        return start_endpoint(e);
    if (h->exposition_add(e->self, pm_expose, e) < 0) {
        h->log(e->self, PP_LOG_ERROR, "out of memory");
        return -1;
    }
    e->exposed = 1;
    return 0;
}

static void pm_stop(void *state, int64_t deadline_ns)
{
    (void)deadline_ns;
    pm_exporter *e = state;
    if (e->exposed)
        e->host->exposition_remove(e->self);
    e->exposed = 0;
    if (e->daemon)
        MHD_stop_daemon(e->daemon);
    e->daemon = NULL;
}

/* ------------------------------------------------------------------ */
/* export                                                              */
/* ------------------------------------------------------------------ */

static uint64_t fnv_str(uint64_t h, const char *s)
{
    return fnv1a(h, s, strlen(s) + 1); /* the NUL keeps "ab","c" apart from "a","bc" */
}

/* The process a profile comes from (its labels but __name__ and
 * __delta__), and the window's identity (all labels, window, kind). */
static void fingerprints(const pp_host *h, const pp_profile *p, const pm_reading *r,
                         uint64_t *source, uint64_t *window)
{
    uint64_t s = FNV_OFFSET, w = FNV_OFFSET;
    for (size_t i = 0; i < h->label_count(p); i++) {
        const char *name = h->label_name(p, i), *value = h->label_value(p, i);
        w = fnv_str(fnv_str(w, name), value);
        if (strcmp(name, "__name__") == 0 || strcmp(name, "__delta__") == 0)
            continue;
        s = fnv_str(fnv_str(s, name), value);
    }
    int64_t from = h->profile_from(p), until = h->profile_until(p);
    unsigned kinds[2] = {r->counters, r->gauges};
    w = fnv1a(fnv1a(fnv1a(w, &from, sizeof from), &until, sizeof until), kinds, sizeof kinds);
    *source = s;
    *window = w;
}

static int series_labels(const pm_exporter *e, const pp_profile *p, char *buf, size_t len)
{
    const pp_host *h = e->host;
    size_t pos = 0;
    const char *service = h->label_get(p, "service_name");
    buf[0] = '\0';
    if (pm_label_append(buf, len, &pos, "service_name",
                        service && *service ? service : UNKNOWN_SERVICE) < 0)
        return -1;
    for (size_t i = 0; i < e->n_keep; i++) {
        const char *v = h->label_get(p, e->keep[i]);
        if (v && *v && pm_label_append(buf, len, &pos, e->keep[i], v) < 0)
            return -1;
    }
    return 0;
}

static pp_outcome take(pm_exporter *e, pp_profile *p)
{
    const pp_host *h = e->host;
    char err[ERR_LEN], labels[SERIES_LABELS_MAX];
    pm_reading r;
    const pp_pprof *t = h->profile_tree(p, err, sizeof err);
    if (!t) {
        h->log(e->self, PP_LOG_WARN, "rejected a profile of %s that does not decode: %s",
               h->label_get(p, "service_name") ? h->label_get(p, "service_name") : "?", err);
        return PP_REJECTED;
    }
    if (pm_read(t, h->label_get(p, "__name__"), h->label_get(p, "__delta__"),
                e->store.lim.functions, &r) < 0) {
        h->log(e->self, PP_LOG_WARN, "out of memory reading a profile: skipped");
        pm_reading_free(&r);
        return PP_EXPORTED;
    }
    if (series_labels(e, p, labels, sizeof labels) < 0) {
        h->log(e->self, PP_LOG_WARN, "series labels longer than %d bytes: profile rejected",
               SERIES_LABELS_MAX);
        pm_reading_free(&r);
        return PP_REJECTED;
    }
    pm_input in = {labels, 0, 0, h->profile_from(p), h->profile_until(p), &r};
    fingerprints(h, p, &r, &in.source_fp, &in.window_id);
    pthread_mutex_lock(&e->lock);
    pm_add_result res = pm_store_add(&e->store, &in, h->monotonic_ns(), h->now_ns());
    pthread_mutex_unlock(&e->lock);
    pm_reading_free(&r);
    if (res == PM_NO_MEMORY)
        h->log(e->self, PP_LOG_WARN, "out of memory: a profile of {%s} partly counted", labels);
    return PP_EXPORTED;
}

/* Adds to the component's own counters what the store counted since
 * (expiries happen on renders too); called with e->lock held, so that the
 * export worker and a render never report the same count twice. */
static void report_locked(pm_exporter *e)
{
    const pp_host *h = e->host;
    const pm_stats *now = &e->store.stats;
    pm_stats *was = &e->reported;
    uint64_t hits = e->store.fn_cap.hits, fn_expired = e->store.fn_cap.expired;
    h->metric_add(e->m_unrecognised, (double)(now->unrecognised - was->unrecognised));
    h->metric_add(e->m_duplicate, (double)(now->duplicates - was->duplicates));
    h->metric_add(e->m_series_limit, (double)(now->series_limited - was->series_limited));
    h->metric_add(e->m_out_of_order, (double)(now->out_of_order - was->out_of_order));
    h->metric_add(e->m_series_expired, (double)(now->series_expired - was->series_expired));
    h->metric_add(e->m_sources_evicted, (double)(now->sources_evicted - was->sources_evicted));
    h->metric_add(e->m_cap_hits, (double)(hits - e->reported_cap_hits));
    h->metric_add(e->m_fn_expired, (double)(fn_expired - e->reported_fn_expired));
    h->metric_set(e->m_series, (double)e->store.n_series);
    h->metric_set(e->m_fn_series, (double)e->store.fn_cap.exposed);
    *was = *now;
    e->reported_cap_hits = hits;
    e->reported_fn_expired = fn_expired;
}

static pp_status pm_export(void *state, pp_batch *b, pp_outcome *outcome, pp_export_result *result)
{
    (void)result;
    pm_exporter *e = state;
    const pp_host *h = e->host;
    for (size_t i = 0; i < h->batch_count(b); i++)
        if (outcome[i] == PP_PENDING)
            outcome[i] = take(e, h->batch_get(b, i));
    pthread_mutex_lock(&e->lock);
    pm_store_expire(&e->store, h->monotonic_ns());
    report_locked(e);
    pthread_mutex_unlock(&e->lock);
    return PP_OK;
}

const pp_component pp_exporter_profile_metrics = {
    .type = "profile_metrics",
    .kind = PP_EXPORTER,
    .description = "Turns profiles into Prometheus series per service (CPU seconds, memory, "
                   "goroutines, block/mutex delay, top functions' CPU) on /metrics.",
    .options = pm_options,
    .create = pm_create,
    .start = pm_start,
    .stop = pm_stop,
    .destroy = pm_destroy,
    .export = pm_export,
};
