/* pyroscope exporter: delivers profiles to Grafana Pyroscope (or Grafana
 * Cloud Profiles) the way Grafana Alloy's pyroscope.write does.
 *
 * api: push (default) sends every profile of an export() call as one
 * series of one push.v1.PushRequest to POST {endpoint}/push.v1.
 * PusherService/Push (connect unary, application/proto), encoded by
 * lib/pyroscope_push, the one push codec of the program.
 * api: ingest speaks the legacy POST /ingest?name=app{k=v}&from=&until=
 * &format=pprof API of older servers, one request per profile.
 *
 * Outcomes follow the server: 2xx exported; connection errors, 408, 429
 * and 5xx retried by the host with backoff (a Retry-After is passed on);
 * any other 4xx rejected for good with the server's message logged next
 * to the series. Before anything is sent, each profile is checked against
 * Pyroscope's distributor rules (pyroscope_series.c): what the server
 * would refuse is rejected here, counted by reason, and never retried.
 * Retry, queueing and batching themselves belong to the host. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <profpipe/plugin.h>

#include "label_names.h"
#include "pyroscope_http.h"
#include "push_codec.h"
#include "pyroscope_series.h"
#include "pp_constants.h"

#define PUSH_PATH "/push.v1.PusherService/Push"
#define INGEST_PATH "/ingest"
#define PUSH_CONTENT_TYPE "application/proto"
#define INGEST_CONTENT_TYPE "application/octet-stream"
#define DEFAULT_SPY_NAME "profpipe"
#define LABEL_SPY "pyroscope_spy"
#define SERIES_LOG_MAX 1024
#define URL_MAX 16384
#define HTTP_OK_MIN 200
#define HTTP_OK_MAX 299
#define HTTP_TIMEOUT 408
#define HTTP_TOO_MANY 429
#define HTTP_SERVER_ERROR 500

/* What pyro_options fills; pyro_read_http turns the HTTP client options
 * (auth, TLS, proxy, headers) into settings. */
typedef struct pyro_settings {
    const char *endpoint;
    int api; /* a pyro_api: pyro_apis is in its order */
    const char *tenant_id, *tenant_label;
    const pp_config *external_labels;
    int64_t timeout_ns;
    http_client_options http;
    pyro_limits limits;
} pyro_settings;

static const char *const pyro_apis[] = {"push", "ingest", NULL};

static const pp_option pyro_options[] = {
    {"endpoint", PP_OPT_STRING, NULL,
     "base URL of the Pyroscope server, e.g. http://pyroscope:4040", 1, NULL,
     PP_FIELD(pyro_settings, endpoint)},
    {"api", PP_OPT_STRING, "push", "push (push.v1.PusherService/Push) or ingest (legacy /ingest)",
     0, NULL, PP_FIELD(pyro_settings, api), .enum_values = pyro_apis},
    {"tenant_id", PP_OPT_STRING, NULL, "tenant, sent as X-Scope-OrgID", 0, NULL,
     PP_FIELD(pyro_settings, tenant_id)},
    {"tenant_label", PP_OPT_STRING, NULL,
     "series label whose value is sent as X-Scope-OrgID instead of tenant_id (and not as a"
     " label): forwards the tenant a pyroscope receiver kept with its tenant_label",
     0, NULL, PP_FIELD(pyro_settings, tenant_label)},
    HTTP_CLIENT_OPTIONS(pyro_settings, http, "tls", "headers", "false"),
    {"external_labels", PP_OPT_STRING_MAP, NULL,
     "labels set on every series sent, name: value, replacing a profile's label of that name"
     " (Alloy's pyroscope.write external_labels)",
     0, NULL, PP_FIELD(pyro_settings, external_labels)},
    {"timeout", PP_OPT_DURATION, "10s", "timeout of one HTTP request", 0, NULL,
     PP_FIELD(pyro_settings, timeout_ns), .min = "0", .flags = PP_OPT_MIN_EXCLUSIVE},
    {"max_label_name_length", PP_OPT_INT, "1024",
     "longest label name Pyroscope accepts (-validation.max-length-label-name)", 0, NULL,
     PP_FIELD(pyro_settings, limits.max_label_name_length), .min = "0",
     .flags = PP_OPT_MIN_EXCLUSIVE},
    {"max_label_value_length", PP_OPT_INT, "2048",
     "longest label value Pyroscope accepts (-validation.max-length-label-value)", 0, NULL,
     PP_FIELD(pyro_settings, limits.max_label_value_length), .min = "0",
     .flags = PP_OPT_MIN_EXCLUSIVE},
    {"max_label_names_per_series", PP_OPT_INT, "30",
     "most labels per series Pyroscope accepts (-validation.max-label-names-per-series)", 0, NULL,
     PP_FIELD(pyro_settings, limits.max_label_names), .min = "0", .flags = PP_OPT_MIN_EXCLUSIVE},
    {"max_profile_size", PP_OPT_SIZE, "4MiB",
     "largest uncompressed profile Pyroscope accepts (-validation.max-profile-size-bytes;"
     " 0 = no limit)",
     0, NULL, PP_FIELD(pyro_settings, limits.max_profile_size)},
    {0},
};

typedef enum pyro_api { API_PUSH, API_INGEST } pyro_api;

typedef struct pyro_exporter {
    const pp_host *h;
    pp_instance *self;
    pyro_api api;
    char *url; /* push URL, or the endpoint without a trailing '/' for ingest */
    pyro_limits limits;
    const char *tenant_id;     /* borrowed from the config; NULL = none */
    const char *tenant_label;  /* borrowed; NULL = none */
    pyro_http_config http_cfg; /* points at client */
    http_client_settings client;
    const char **external_names; /* owned arrays of borrowed strings */
    const char **external_values;
    pyro_external external;
    pyro_http *http; /* made in start() */
} pyro_exporter;

/* ------------------------------------------------------------------ */
/* create / destroy                                                     */
/* ------------------------------------------------------------------ */

static int pyro_read_external_labels(pyro_exporter *e, const pp_config *ext)
{
    const pp_host *h = e->h;
    size_t n = ext ? h->cfg_count(ext) : 0;
    if (n == 0)
        return 0;
    e->external_names = calloc(n, sizeof(char *));
    e->external_values = calloc(n, sizeof(char *));
    if (!e->external_names || !e->external_values)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *name = h->cfg_key(ext, i);
        const char *value = h->cfg_scalar(h->cfg_item(ext, i));
        if (!label_name_valid(name) || label_name_reserved(name))
            return h->cfg_error(ext, name, "not a label name ([a-zA-Z_][a-zA-Z0-9_]*, no __)");
        if (!value)
            return h->cfg_error(ext, name, "must be a string");
        e->external_names[i] = name;
        e->external_values[i] = value;
    }
    e->external = (pyro_external){e->external_names, e->external_values, n};
    return 0;
}

/* Rule: the endpoint is an http(s) URL; the API picks the path. */
static int pyro_read_endpoint(pyro_exporter *e, const pp_config *cfg, const pyro_settings *set)
{
    const pp_host *h = e->h;
    const char *endpoint = set->endpoint;
    if (strncmp(endpoint, "http://", strlen("http://")) != 0 &&
        strncmp(endpoint, "https://", strlen("https://")) != 0)
        return h->cfg_error(cfg, "endpoint", "must start with http:// or https://, got '%s'",
                            endpoint);
    e->api = (pyro_api)set->api;
    size_t len = strlen(endpoint);
    while (len > 0 && endpoint[len - 1] == '/')
        len--;
    const char *path = e->api == API_PUSH ? PUSH_PATH : "";
    size_t need = len + strlen(path) + 1;
    e->url = malloc(need);
    if (!e->url)
        return -1;
    snprintf(e->url, need, "%.*s%s", (int)len, endpoint, path);
    e->http_cfg.connect = e->api == API_PUSH;
    return 0;
}

static int pyro_read_http(pyro_exporter *e, const pp_config *cfg, const http_client_options *http)
{
    const pp_host *h = e->h;
    const http_client_keys keys = {.tls = "tls", .headers = "headers", .filled = http};
    if (http_client_read(h, cfg, &keys, &e->client) < 0)
        return -1;
    if (e->client.server_name)
        return h->cfg_error(h->cfg_child(cfg, "tls"), "server_name",
                            "not supported by this exporter: the endpoint's host is the name "
                            "verified");
    e->http_cfg.client = &e->client;
    return 0;
}

/* The options cfg_fill reads, then their rules. */
static int pyro_read_options(pyro_exporter *e, const pp_config *cfg)
{
    pyro_settings set = {0};
    if (e->h->cfg_fill(cfg, pyro_options, &set) < 0 || pyro_read_endpoint(e, cfg, &set) < 0 ||
        pyro_read_external_labels(e, set.external_labels) < 0)
        return -1;
    e->limits = set.limits;
    e->http_cfg.timeout_ns = set.timeout_ns;
    e->tenant_id = set.tenant_id;
    e->tenant_label = set.tenant_label;
    return pyro_read_http(e, cfg, &set.http);
}

static void pyro_destroy(void *state)
{
    pyro_exporter *e = state;
    if (!e)
        return;
    pyro_http_free(e->http);
    free(e->url);
    http_client_settings_clear(&e->client);
    free(e->external_names);
    free(e->external_values);
    free(e);
}

static int pyro_create(const pp_host *host, pp_instance *self, const pp_config *cfg, void **state)
{
    pyro_exporter *e = calloc(1, sizeof(*e));
    if (!e) {
        host->log(self, PP_LOG_ERROR, "out of memory");
        return -1;
    }
    e->h = host;
    e->self = self;
    if (pyro_read_options(e, cfg) < 0) {
        pyro_destroy(e);
        return -1;
    }
    *state = e;
    return 0;
}

static int pyro_start(void *state)
{
    pyro_exporter *e = state;
    char err[256];
    e->http = pyro_http_new(&e->http_cfg, e->url, err, sizeof(err));
    if (!e->http) {
        e->h->log(e->self, PP_LOG_ERROR, "%s", err);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* export                                                               */
/* ------------------------------------------------------------------ */

/* A profile refused for good: counted by reason and logged with its
 * series, as the issue asks ("nothing is dropped silently"). */
static void pyro_reject(pyro_exporter *e, pp_outcome *outcome, const pyro_series *s,
                        const char *reason, const char *why)
{
    char series[SERIES_LOG_MAX];
    pyro_series_format(s, series, sizeof(series));
    char labels[128];
    snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
    pp_metric *m =
        e->h->metric(e->self, "pyroscope_rejected_profiles_total",
                     "Profiles the pyroscope exporter rejected, by reason", PP_COUNTER, labels);
    if (m)
        e->h->metric_add(m, 1);
    e->h->log(e->self, PP_LOG_WARN, "rejected profile %s: %s (%s)", series, why, reason);
    *outcome = PP_REJECTED;
}

/* Checks one profile and returns what to send: p itself, or a relabeled
 * clone in *clone (caller frees). NULL when rejected (outcome set). */
static pp_profile *pyro_prepare(pyro_exporter *e, pp_profile *p, pyro_series *s,
                                pp_outcome *outcome, pp_profile **clone)
{
    const pp_host *h = e->h;
    const char *reason = NULL;
    char why[512];
    *clone = NULL;
    if (pyro_series_build(h, p, &e->limits, e->tenant_label, &e->external, s, &reason, why,
                          sizeof(why)) < 0) {
        pyro_reject(e, outcome, s, reason, why);
        return NULL;
    }
    const uint8_t *raw;
    size_t len;
    if (h->profile_raw_gz(p, &raw, &len, why, sizeof(why)) < 0) {
        pyro_reject(e, outcome, s, "malformed_profile", why);
        return NULL;
    }
    uint64_t size = pyro_payload_size(raw, len);
    if (e->limits.max_profile_size > 0 && size > (uint64_t)e->limits.max_profile_size) {
        snprintf(why, sizeof(why), "profile is %" PRIu64 " bytes uncompressed; limit %lld", size,
                 (long long)e->limits.max_profile_size);
        pyro_reject(e, outcome, s, "profile_size_limit", why);
        return NULL;
    }
    if (!s->changed)
        return p;
    pp_profile *c = h->profile_clone(p);
    if (!c)
        return NULL;
    while (h->label_count(c) > 0)
        h->label_del(c, h->label_name(c, 0));
    for (size_t i = 0; i < s->n; i++)
        if (h->label_set(c, s->labels[i].name, s->labels[i].value) < 0) {
            h->profile_free(c);
            return NULL;
        }
    *clone = c;
    return c;
}

/* Sorts an HTTP answer into an outcome. Returns 1 when delivered, 0 when
 * rejected for good (logged by the caller), -1 when to be retried
 * (status and message set in res). */
static int pyro_classify(const char *url, int rc, const pyro_response *resp, pp_export_result *res)
{
    if (rc < 0) {
        snprintf(res->message, sizeof(res->message), "POST %.200s: %.256s", url, resp->error);
        return -1;
    }
    if (resp->status >= HTTP_OK_MIN && resp->status <= HTTP_OK_MAX)
        return 1;
    if (resp->status == HTTP_TIMEOUT || resp->status == HTTP_TOO_MANY ||
        resp->status >= HTTP_SERVER_ERROR) {
        snprintf(res->message, sizeof(res->message), "POST %.200s: HTTP %ld: %.256s", url,
                 resp->status, resp->body);
        res->retry_after_ns = resp->retry_after_ns;
        return -1;
    }
    return 0;
}

static void pyro_server_rejected(pyro_exporter *e, pp_outcome *outcome, const pyro_series *s,
                                 const pyro_response *resp)
{
    char why[PYRO_HTTP_BODY_MAX + 32];
    snprintf(why, sizeof(why), "server answered HTTP %ld: %s", resp->status, resp->body);
    pyro_reject(e, outcome, s, "server_rejected", why);
}

typedef struct push_plan {
    pp_profile **send;   /* what goes into the request */
    pp_profile **clones; /* owned, NULL where send[k] is the batch's own */
    size_t *index;       /* batch index of send[k] */
    pyro_series *series;
    size_t n;
} push_plan;

static void push_plan_free(const pp_host *h, push_plan *plan)
{
    for (size_t k = 0; k < plan->n; k++) {
        if (plan->clones[k])
            h->profile_free(plan->clones[k]);
        pyro_series_free(&plan->series[k]);
    }
    free(plan->send);
    free(plan->clones);
    free(plan->index);
    free(plan->series);
}

static int push_plan_build(pyro_exporter *e, pp_batch *b, pp_outcome *outcome, push_plan *plan)
{
    size_t n = e->h->batch_count(b);
    memset(plan, 0, sizeof(*plan));
    plan->send = calloc(n + 1, sizeof(*plan->send));
    plan->clones = calloc(n + 1, sizeof(*plan->clones));
    plan->index = calloc(n + 1, sizeof(*plan->index));
    plan->series = calloc(n + 1, sizeof(*plan->series));
    if (!plan->send || !plan->clones || !plan->index || !plan->series)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (outcome[i] != PP_PENDING)
            continue;
        size_t k = plan->n;
        pyro_series *s = &plan->series[k];
        pp_profile *p = pyro_prepare(e, e->h->batch_get(b, i), s, &outcome[i], &plan->clones[k]);
        if (!p) {
            pyro_series_free(s);
            if (outcome[i] == PP_PENDING)
                return -1; /* out of memory, not the profile's fault */
            continue;
        }
        plan->send[k] = p;
        plan->index[k] = i;
        plan->n++;
    }
    return 0;
}

/* The tenant a planned profile goes to: its own, else tenant_id. */
static const char *plan_tenant(const pyro_exporter *e, const push_plan *plan, size_t k)
{
    return plan->series[k].tenant ? plan->series[k].tenant : e->tenant_id;
}

static int same_tenant(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Sends every not yet sent profile of `tenant` in one PushRequest and
 * sets their outcomes. PP_RETRY when the server asks to try again. */
static pp_status push_tenant(pyro_exporter *e, push_plan *plan, const char *tenant, int *sent,
                             pp_outcome *outcome, pp_export_result *res)
{
    pp_profile **group = calloc(plan->n, sizeof(*group));
    size_t *ks = calloc(plan->n, sizeof(*ks));
    if (!group || !ks) {
        free(group);
        free(ks);
        snprintf(res->message, sizeof(res->message), "out of memory");
        return PP_RETRY;
    }
    size_t m = 0;
    for (size_t k = 0; k < plan->n; k++)
        if (!sent[k] && same_tenant(plan_tenant(e, plan, k), tenant)) {
            sent[k] = 1;
            group[m] = plan->send[k];
            ks[m++] = k;
        }
    uint8_t *body = NULL;
    size_t len = 0;
    char err[256];
    pp_status status = PP_OK;
    if (push_encode(e->h, group, m, &body, &len, err, sizeof(err)) < 0) {
        for (size_t j = 0; j < m; j++)
            pyro_reject(e, &outcome[plan->index[ks[j]]], &plan->series[ks[j]], "malformed_profile",
                        err);
    } else {
        pyro_response resp;
        int rc = pyro_http_post(e->http, e->url, PUSH_CONTENT_TYPE, tenant, body, len, &resp);
        int verdict = pyro_classify(e->url, rc, &resp, res);
        for (size_t j = 0; j < m && verdict >= 0; j++) {
            pp_outcome *o = &outcome[plan->index[ks[j]]];
            if (verdict > 0)
                *o = PP_EXPORTED;
            else
                pyro_server_rejected(e, o, &plan->series[ks[j]], &resp);
        }
        if (verdict < 0)
            status = PP_RETRY;
    }
    free(body);
    free(group);
    free(ks);
    return status;
}

static pp_status pyro_export_push(pyro_exporter *e, pp_batch *b, pp_outcome *outcome,
                                  pp_export_result *res)
{
    push_plan plan;
    pp_status status = PP_OK;
    int *sent = NULL;
    if (push_plan_build(e, b, outcome, &plan) < 0 || !(sent = calloc(plan.n + 1, sizeof(*sent)))) {
        snprintf(res->message, sizeof(res->message), "out of memory");
        push_plan_free(e->h, &plan);
        return PP_RETRY;
    }
    /* one PushRequest per tenant: a tenant is a request header */
    for (size_t k = 0; k < plan.n && status == PP_OK; k++)
        if (!sent[k])
            status = push_tenant(e, &plan, plan_tenant(e, &plan, k), sent, outcome, res);
    free(sent);
    push_plan_free(e->h, &plan);
    return status;
}

/* Samples per second for CPU-like profiles (period in nanoseconds), which
 * /ingest carries as sampleRate; 0 when the profile has none. */
static int64_t pyro_sample_rate(pyro_exporter *e, pp_profile *p)
{
    char err[128];
    const pp_pprof *t = e->h->profile_tree(p, err, sizeof(err));
    if (!t || t->period <= 0 || t->period_type.unit <= 0 ||
        (size_t)t->period_type.unit >= t->n_strings ||
        strcmp(t->strings[t->period_type.unit], "nanoseconds") != 0)
        return 0;
    return (NS_PER_SEC + t->period / 2) / t->period;
}

/* Builds the /ingest URL for one profile; NULL with the reason in err. */
static char *pyro_ingest_url(pyro_exporter *e, pp_profile *p, const pyro_series *s, char *err,
                             size_t errlen)
{
    char *name = pyro_ingest_name(s, err, errlen);
    if (!name)
        return NULL;
    const char *spy = pyro_series_get(s, LABEL_SPY);
    char *ename = pyro_http_escape(e->http, name);
    char *espy = pyro_http_escape(e->http, spy ? spy : DEFAULT_SPY_NAME);
    free(name);
    char *url = malloc(URL_MAX);
    if (!ename || !espy || !url) {
        free(ename);
        free(espy);
        free(url);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int64_t from = e->h->profile_from(p) / NS_PER_SEC;
    int64_t until = e->h->profile_until(p) / NS_PER_SEC;
    if (until < from)
        until = from;
    int64_t rate = pyro_sample_rate(e, p);
    int len = snprintf(url, URL_MAX, "%s%s?name=%s&from=%lld&until=%lld&format=pprof&spyName=%s",
                       e->url, INGEST_PATH, ename, (long long)from, (long long)until, espy);
    if (rate > 0 && len > 0 && len < URL_MAX)
        len += snprintf(url + len, URL_MAX - (size_t)len, "&sampleRate=%lld", (long long)rate);
    free(ename);
    free(espy);
    if (len < 0 || len >= URL_MAX) {
        free(url);
        snprintf(err, errlen, "/ingest URL longer than %d bytes", URL_MAX);
        return NULL;
    }
    return url;
}

/* One /ingest request. Returns -1 when the caller must stop and retry. */
static int pyro_ingest_one(pyro_exporter *e, pp_profile *p, pp_outcome *outcome,
                           pp_export_result *res)
{
    pyro_series s;
    pp_profile *clone;
    pp_profile *send = pyro_prepare(e, p, &s, outcome, &clone);
    if (!send) {
        pyro_series_free(&s);
        return *outcome == PP_PENDING ? -1 : 0;
    }
    char err[256];
    char *url = pyro_ingest_url(e, send, &s, err, sizeof(err));
    const uint8_t *raw;
    size_t len;
    int rc = 0;
    if (!url) {
        pyro_reject(e, outcome, &s, "invalid_labels", err);
    } else if (e->h->profile_raw_gz(send, &raw, &len, err, sizeof(err)) == 0) {
        pyro_response resp;
        const char *tenant = s.tenant ? s.tenant : e->tenant_id;
        int verdict = pyro_classify(
            url, pyro_http_post(e->http, url, INGEST_CONTENT_TYPE, tenant, raw, len, &resp), &resp,
            res);
        if (verdict > 0)
            *outcome = PP_EXPORTED;
        else if (verdict == 0)
            pyro_server_rejected(e, outcome, &s, &resp);
        else
            rc = -1;
    } else {
        pyro_reject(e, outcome, &s, "malformed_profile", err);
    }
    free(url);
    if (clone)
        e->h->profile_free(clone);
    pyro_series_free(&s);
    return rc;
}

static pp_status pyro_export_ingest(pyro_exporter *e, pp_batch *b, pp_outcome *outcome,
                                    pp_export_result *res)
{
    size_t n = e->h->batch_count(b);
    for (size_t i = 0; i < n; i++) {
        if (outcome[i] != PP_PENDING)
            continue;
        if (pyro_ingest_one(e, e->h->batch_get(b, i), &outcome[i], res) < 0) {
            if (!res->message[0])
                snprintf(res->message, sizeof(res->message), "out of memory");
            return PP_RETRY;
        }
    }
    return PP_OK;
}

static pp_status pyro_export(void *state, pp_batch *b, pp_outcome *outcome, pp_export_result *res)
{
    pyro_exporter *e = state;
    if (e->api == API_PUSH)
        return pyro_export_push(e, b, outcome, res);
    return pyro_export_ingest(e, b, outcome, res);
}

const pp_component pp_exporter_pyroscope = {
    .type = "pyroscope",
    .kind = PP_EXPORTER,
    .description = "pushes profiles to Grafana Pyroscope (push API or legacy /ingest)",
    .options = pyro_options,
    .create = pyro_create,
    .start = pyro_start,
    .destroy = pyro_destroy,
    .export = pyro_export,
};
