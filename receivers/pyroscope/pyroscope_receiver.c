/* pyroscope receiver: a Pyroscope-compatible ingest endpoint, so that
 * services keep their Pyroscope SDKs (or Alloy) and point them at
 * profpipe instead of at Pyroscope.
 *
 * The HTTP side is a listener (lib/listener): one epoll event loop with
 * connection limits, a per-request deadline, TLS, an allowlist and
 * credentials. Every request is checked before its body is read (method,
 * path, client address, credentials, Content-Length) and while it is read
 * (max_request_body_size), so that an unauthenticated or oversized upload
 * is refused without buffering it. The body, once whole, goes to a small
 * pool of worker threads while its connection is suspended: the handler
 * (/ingest or push) may block in host->emit on a full `block` queue, and
 * that must never stall the event loop. The client gets 200 only after
 * host->emit took the batch, so a 200 means profpipe owns the profiles.
 *
 * What a request holds (its body, what gzip bodies and profiles inflate
 * to, the parsed JSON tree) is taken from one process-wide budget shared
 * by every connection;
 * when it is spent the request gets 503 with Retry-After, which the SDKs
 * honour, instead of memory growing with the number of connections.
 * Errors are answered with a message: text for /ingest, connect's JSON
 * error shape for the push API. A 4xx is also logged at warn with the
 * client's address, the service and the reason, and counted by reason
 * (pyroscope_refused_requests_total), so a misconfigured SDK is seen at
 * the default log level. */
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "json_text.h"
#include "listener.h"
#include "pp_constants.h"
#include "pyroscope_json.h"
#include "pyroscope_receiver.h"

#define PUSH_PATH "/push.v1.PusherService/Push"
#define INGEST_PATH "/ingest"
#define BODY_INITIAL_CAP 4096
#define TENANT_HEADER "X-Scope-OrgID"
#define REALM "profpipe"
#define RETRY_AFTER_SECONDS "1"
#define MAX_WORKERS 256

/* Room for long query strings (an /ingest name with many tags) in the
 * default header bound. */
#define MAX_WORKERS_TEXT "256"
_Static_assert(MAX_WORKERS == 256, "MAX_WORKERS_TEXT is MAX_WORKERS");

/* endpoint and the listener options become r->listen in listener_config_make. */
static const pp_option pyro_options[] = {
    {"endpoint", PP_OPT_STRING, "127.0.0.1:4040", "host:port to listen on", 0, NULL,
     PP_FIELD(pyro_receiver, endpoint)},
    LISTENER_OPTIONS(pyro_receiver, listen_opts, "512KiB"),
    {"max_request_body_size", PP_OPT_SIZE, "16MiB", "largest request body accepted (413 beyond)", 0,
     NULL, PP_FIELD(pyro_receiver, max_body), .min = "0", .flags = PP_OPT_MIN_EXCLUSIVE},
    {"max_decompressed_size", PP_OPT_SIZE, "64MiB",
     "largest decompressed gzip body, all the profiles of one request together, or parsed JSON"
     " document accepted (413 beyond: gzip bombs)",
     0, NULL, PP_FIELD(pyro_receiver, max_decompressed), .min = "0", .flags = PP_OPT_MIN_EXCLUSIVE},
    {"memory_budget", PP_OPT_SIZE, "256MiB",
     "memory that all requests together may hold at once (bodies, what gzip inflates to, JSON"
     " trees), shared by every connection of the process; beyond it 503 with Retry-After",
     0, NULL, PP_FIELD(pyro_receiver, memory_budget)},
    {"workers", PP_OPT_INT, "4",
     "threads that decode requests and hand them on (a full `block` queue holds one)", 0, NULL,
     PP_FIELD(pyro_receiver, workers), .min = "1", .max = MAX_WORKERS_TEXT},
    {"max_labels", PP_OPT_INT, "64",
     "most series labels per profile (400 beyond); service_name and __name__ are two of them", 0,
     NULL, PP_FIELD(pyro_receiver, max_labels), .min = "2"},
    {"tenant_label", PP_OPT_STRING, NULL,
     "series label to keep the client's X-Scope-OrgID in; unset = dropped", 0, NULL,
     PP_FIELD(pyro_receiver, tenant_label)},
    {"max_sessions_per_series", PP_OPT_INT, "0",
     "the Go SDK's `__session_id__` label: 0 drops it (Pyroscope's default), N > 0 keeps it "
     "as one of N values per series (Pyroscope's -validation.max-sessions-per-series)",
     0, NULL, PP_FIELD(pyro_receiver, max_sessions), .min = "0"},
    {0},
};

/* ------------------------------------------------------------------ */
/* the process-wide memory budget                                      */
/* ------------------------------------------------------------------ */

static atomic_llong budget_capacity;
static atomic_llong budget_used;

/* Takes up to `want` bytes of the budget; returns what it took (0 when
 * none is left). */
static int64_t budget_take_upto(int64_t want)
{
    long long used = atomic_load(&budget_used);
    for (;;) {
        long long room = atomic_load(&budget_capacity) - used;
        long long take = room < want ? room : want;
        if (take <= 0)
            return 0;
        if (atomic_compare_exchange_weak(&budget_used, &used, used + take))
            return take;
    }
}

static void budget_give(int64_t n)
{
    if (n > 0)
        atomic_fetch_sub(&budget_used, n);
}

static int budget_busy(pyro_reply *out)
{
    return pyro_reply_set(out, HTTP_UNAVAILABLE,
                          "memory_budget is in use by other requests; retry later");
}

/* ------------------------------------------------------------------ */
/* helpers shared with the handlers                                    */
/* ------------------------------------------------------------------ */

/* The reason of a reply whose caller named none. */
static const char *status_reason(int status)
{
    switch (status) {
    case HTTP_OK:
        return "ok";
    case HTTP_BAD_REQUEST:
        return "bad_request";
    case HTTP_UNAUTHORIZED:
        return "unauthorized";
    case HTTP_NOT_FOUND:
        return "not_found";
    case HTTP_METHOD_NOT_ALLOWED:
        return "method_not_allowed";
    case HTTP_TOO_LARGE:
        return "too_large";
    case HTTP_UNSUPPORTED_MEDIA:
        return "unsupported_media_type";
    case HTTP_UNAVAILABLE:
        return "shutting_down";
    default:
        return "internal";
    }
}

int pyro_fail(pyro_reply *out, int status, const char *reason, const char *fmt, ...)
{
    out->status = status;
    out->reason = reason;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
    return -1;
}

void pyro_reply_service(pyro_reply *out, const char *service, size_t len)
{
    if (len >= sizeof(out->service))
        len = sizeof(out->service) - 1;
    memcpy(out->service, service, len);
    out->service[len] = '\0';
}

int pyro_reply_set(pyro_reply *out, int status, const char *fmt, ...)
{
    out->status = status;
    out->reason = status_reason(status);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
    return status == HTTP_OK ? 0 : -1;
}

const char *pyro_query(const pyro_request *q, const char *key)
{
    return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, key);
}

int pyro_payload_check(const pyro_request *q, const void *data, size_t len, int64_t *budget,
                       pp_pprof **peek, pyro_reply *out)
{
    const pp_host *h = q->r->h;
    if (len == 0)
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_PROFILE, "empty profile");
    size_t plain_len = 0;
    char err[256];
    pp_err kind = PP_ERR_NONE;
    pp_pprof *t = h->pprof_peek(data, len, (size_t)*budget, &plain_len, &kind, err, sizeof(err));
    if (!t && kind == PP_ERR_TOO_LARGE)
        return pyro_reply_set(out, HTTP_TOO_LARGE,
                              "profile: decompressed size exceeds the limit of %lld bytes"
                              " (max_decompressed_size, for all the request's profiles)",
                              (long long)q->r->max_decompressed);
    if (!t && kind == PP_ERR_NO_MEMORY)
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    if (!t)
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_PROFILE, "bad pprof: %s", err);
    *budget -= (int64_t)plain_len;
    if (peek)
        *peek = t;
    else
        free(t);
    return 0;
}

int pyro_json_parse(const pyro_request *q, const void *text, size_t len, const char *what,
                    pj_value *doc, pyro_reply *out)
{
    size_t need = 0;
    char err[256];
    if (pj_measure(text, len, &need, err, sizeof(err)) < 0)
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "%s: %s", what, err);
    if (need > (uint64_t)q->r->max_decompressed)
        return pyro_reply_set(out, HTTP_TOO_LARGE,
                              "%s: the parsed JSON needs %zu bytes, more than "
                              "max_decompressed_size (%lld)",
                              what, need, (long long)q->r->max_decompressed);
    int64_t got = budget_take_upto((int64_t)need);
    if (got < (int64_t)need) {
        budget_give(got);
        return budget_busy(out);
    }
    *q->reserved += got; /* given back when the request ends */
    if (pj_parse_bounded(text, len, need, doc, err, sizeof(err)) < 0)
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "%s: %s", what, err);
    return 0;
}

int pyro_payload_set(const pyro_request *q, pp_profile *p, const void *data, size_t len,
                     pp_pprof **peek, pyro_reply *out)
{
    int64_t budget = q->r->max_decompressed;
    pp_pprof *t = NULL;
    if (pyro_payload_check(q, data, len, &budget, &t, out) < 0)
        return -1;
    if (q->r->h->profile_set_raw(p, data, len) < 0) {
        free(t);
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    }
    if (peek)
        *peek = t;
    else
        free(t);
    return 0;
}

/* Decodes a copy of p (sharing its raw bytes): a profile is proved
 * readable before it is acknowledged, without leaving a tree on p that a
 * pass-through pipeline would never need. */
static int profile_decodes(const pp_host *h, const pp_profile *p, char *err, size_t errlen)
{
    pp_profile *probe = h->profile_clone(p);
    if (!probe) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = h->profile_tree(probe, err, errlen) ? 0 : -1;
    h->profile_free(probe);
    return rc;
}

/* __name__ by the host's naming rule (the sender's display names, else
 * Pyroscope's defaults), else the app-name suffix's family; from the
 * streaming pass's skeleton when there is one, so the payload stays
 * undecoded. */
static int profile_name(const pp_host *h, pp_profile *p, const pyro_naming *naming, pyro_reply *out)
{
    char err[256];
    const pp_pprof *t =
        naming && naming->peek ? naming->peek : h->profile_tree(p, err, sizeof(err));
    if (!t)
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_PROFILE, "bad pprof: %s", err);
    const char *family = h->pprof_family_display(t, naming ? naming->display : NULL);
    if (!family && naming)
        family = naming->hint;
    if (!family)
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_PROFILE,
                         "cannot tell the profile type: no sample types and no type in the "
                         "name");
    if (h->label_set(p, PYRO_LABEL_NAME, family) < 0)
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    return 0;
}

int pyro_profile_finish(const pyro_request *q, pp_batch *b, pp_profile *p,
                        const pyro_naming *naming, pyro_reply *out)
{
    const pp_host *h = q->r->h;
    int rc = 0;
    char err[256];
    const char *service = h->label_get(p, PYRO_LABEL_SERVICE);
    if (service)
        pyro_reply_service(out, service, strlen(service));
    if (!h->label_get(p, PYRO_LABEL_NAME))
        rc = profile_name(h, p, naming, out);
    else if (!(naming && (naming->peek || naming->checked)) &&
             profile_decodes(h, p, err, sizeof(err)) < 0)
        rc = pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_PROFILE, "bad pprof: %s", err);
    if (rc == 0 && (!service || !*service))
        rc = pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_LABELS,
                       "the service_name label is required");
    if (rc == 0 && q->tenant && q->r->tenant_label &&
        h->label_set(p, q->r->tenant_label, q->tenant) < 0)
        rc = pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    if (rc == 0)
        rc = pyro_labels_apply(q, p, out);
    if (h->batch_add(b, p) < 0 && rc == 0)
        rc = pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    return rc;
}

int pyro_emit(const pyro_request *q, pp_batch *b, pyro_reply *out)
{
    if (q->r->h->emit(q->r->self, b) < 0)
        return pyro_reply_set(out, HTTP_UNAVAILABLE, "shutting down, profiles not taken");
    return pyro_reply_set(out, HTTP_OK, "ok");
}

/* ------------------------------------------------------------------ */
/* HTTP                                                                 */
/* ------------------------------------------------------------------ */

typedef enum route { ROUTE_INGEST = 1, ROUTE_PUSH } route;

/* One request: read by the event loop, handled by a worker, answered by
 * the event loop again once the worker resumed its connection. */
typedef enum request_stage { STAGE_READING, STAGE_QUEUED, STAGE_ANSWERED } request_stage;

typedef struct conn_state {
    route route;
    request_stage stage;
    struct MHD_Connection *conn;
    unsigned char *body;
    size_t len, cap;
    int too_large;
    int budget_spent;          /* the body found the memory budget spent: 503 */
    int memory_refused;        /* past service.memory_limit: body discarded, 503 */
    int64_t body_reserved;     /* memory budget its buffer holds */
    const char *pinned_tenant; /* borrowed from the listener config */
    int64_t reserved;          /* memory budget held until the end */
    pyro_reply reply;          /* STAGE_ANSWERED */
    struct conn_state *next;   /* in the worker queue */
} conn_state;

/* The workers and their queue: at most one entry per connection, so it
 * is bounded by max_connections. */
struct pyro_pool {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    conn_state *head, *tail;
    int stopping;
    pthread_t *threads;
    size_t n_threads;
};

static int is_json(const char *content_type)
{
    return content_type &&
           strncasecmp(content_type, "application/json", strlen("application/json")) == 0;
}

/* connect's error codes for the HTTP statuses we answer with. */
static const char *connect_code(int status)
{
    switch (status) {
    case HTTP_BAD_REQUEST:
        return "invalid_argument";
    case HTTP_UNAUTHORIZED:
        return "unauthenticated";
    case HTTP_FORBIDDEN:
        return "permission_denied";
    case HTTP_NOT_FOUND:
        return "unimplemented";
    case HTTP_TOO_LARGE:
        return "resource_exhausted";
    case HTTP_UNAVAILABLE:
        return "unavailable";
    default:
        return "internal";
    }
}

/* The client's numeric address, or "-". */
static void client_address(struct MHD_Connection *c, char *out, size_t outlen)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, outlen, "-");
    if (!ci || !ci->client_addr)
        return;
    socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                           : sizeof(struct sockaddr_in);
    char host[NI_MAXHOST], port[NI_MAXSERV];
    if (getnameinfo(ci->client_addr, len, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        snprintf(out, outlen, "%s:%s", host, port);
}

/* A refused request: logged at warn (client, service, reason, message)
 * and counted by reason. */
static void note_refusal(pyro_receiver *r, struct MHD_Connection *c, const pyro_reply *rep)
{
    const char *reason = rep->reason ? rep->reason : status_reason(rep->status);
    char addr[NI_MAXHOST + NI_MAXSERV + 2];
    client_address(c, addr, sizeof(addr));
    r->h->log(r->self, PP_LOG_WARN, "refused request: status=%d reason=%s client=%s service=%s: %s",
              rep->status, reason, addr, rep->service[0] ? rep->service : "-", rep->message);
    char labels[96];
    snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
    pp_metric *m = r->h->metric(r->self, "pyroscope_refused_requests_total",
                                "requests the pyroscope receiver refused with a 4xx, by reason",
                                PP_COUNTER, labels);
    if (m)
        r->h->metric_add(m, 1);
}

static void count_request(pyro_receiver *r, int status)
{
    char labels[32];
    snprintf(labels, sizeof(labels), "code=\"%d\"", status);
    pp_metric *m = r->h->metric(r->self, "pyroscope_requests_total",
                                "HTTP requests answered by the pyroscope receiver, by status",
                                PP_COUNTER, labels);
    if (m)
        r->h->metric_add(m, 1);
}

static enum MHD_Result send_reply(pyro_receiver *r, struct MHD_Connection *c, route rt, int json,
                                  const pyro_reply *rep)
{
    char body[sizeof(rep->message) * 2 + 64];
    const char *type = "text/plain; charset=utf-8";
    if (rt == ROUTE_PUSH && rep->status == HTTP_OK) {
        snprintf(body, sizeof(body), "%s", json ? "{}" : "");
        type = json ? "application/json" : "application/proto";
    } else if (rt == ROUTE_PUSH) {
        char msg[sizeof(rep->message) * 2];
        json_escape_to(rep->message, msg, sizeof(msg)); /* valid UTF-8 whatever the bytes */
        snprintf(body, sizeof(body), "{\"code\":\"%s\",\"message\":\"%s\"}",
                 connect_code(rep->status), msg);
        type = "application/json";
    } else {
        snprintf(body, sizeof(body), "%s\n", rep->message);
    }
    if (rep->status >= HTTP_BAD_REQUEST && rep->status < HTTP_INTERNAL)
        note_refusal(r, c, rep);
    else if (rep->status != HTTP_OK)
        r->h->log(r->self, PP_LOG_DEBUG, "answered %d: %s", rep->status, rep->message);
    count_request(r, rep->status);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (rep->status == HTTP_UNAVAILABLE)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER_SECONDS);
    if (rep->status == HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Basic realm=\"" REALM "\"");
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)rep->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* The checks made before any of the body is read. 0 to go on, else the
 * reply to send at once. */
static int request_precheck(pyro_receiver *r, struct MHD_Connection *c, const char *url,
                            const char *method, route *rt, const char **tenant, pyro_reply *rep)
{
    if (strcmp(url, INGEST_PATH) == 0)
        *rt = ROUTE_INGEST;
    else if (strcmp(url, PUSH_PATH) == 0)
        *rt = ROUTE_PUSH;
    else
        return pyro_reply_set(rep, HTTP_NOT_FOUND, "no such endpoint: %.200s", url);
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return pyro_reply_set(rep, HTTP_METHOD_NOT_ALLOWED, "%s needs POST", url);
    listener_verdict v;
    if (listener_admit(c, &v) != 0)
        return pyro_reply_set(rep, v.status, "%s", v.message);
    *tenant = v.tenant;
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoll(cl, NULL, 10) > r->max_body)
        return pyro_reply_set(rep, HTTP_TOO_LARGE, "request body larger than %lld bytes",
                              (long long)r->max_body);
    return 0;
}

static void body_drop(conn_state *st)
{
    free(st->body);
    st->body = NULL;
    st->len = st->cap = 0;
    budget_give(st->body_reserved);
    st->body_reserved = 0;
}

static void body_append(pyro_receiver *r, conn_state *st, const char *data, size_t n)
{
    if (st->too_large || st->budget_spent || st->memory_refused)
        return;
    if (st->len + n > (size_t)r->max_body) {
        st->too_large = 1;
        body_drop(st);
        return;
    }
    if (st->len + n > st->cap) {
        size_t cap = st->cap ? st->cap : BODY_INITIAL_CAP;
        while (cap < st->len + n)
            cap *= 2;
        if (cap > (size_t)r->max_body)
            cap = (size_t)r->max_body;
        int64_t more = (int64_t)(cap - st->cap), got = budget_take_upto(more);
        unsigned char *nb = got == more ? realloc(st->body, cap) : NULL;
        if (!nb) { /* 503: the client retries when memory is free again */
            budget_give(got);
            st->budget_spent = 1;
            body_drop(st);
            return;
        }
        st->body_reserved += got;
        st->body = nb;
        st->cap = cap;
    }
    memcpy(st->body + st->len, data, n);
    st->len += n;
}

/* Content-Encoding: gzip on the whole request (the push API with a
 * compressing client). Replaces the body with its inflated form. */
static int body_inflate(pyro_receiver *r, struct MHD_Connection *c, conn_state *st, pyro_reply *rep)
{
    const char *enc =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (!enc || strcasecmp(enc, "identity") == 0)
        return 0;
    if (strcasecmp(enc, "gzip") != 0)
        return pyro_reply_set(rep, HTTP_UNSUPPORTED_MEDIA, "unsupported Content-Encoding %.64s",
                              enc);
    int64_t want = r->max_decompressed, got = budget_take_upto(want);
    if (got <= 0)
        return budget_busy(rep);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    char err[256];
    pp_err kind = PP_ERR_NONE;
    if (r->h->gunzip(st->body, st->len, (size_t)got, &plain, &plain_len, &kind, err, sizeof(err)) <
        0) {
        budget_give(got);
        if (kind != PP_ERR_TOO_LARGE)
            return pyro_reply_set(rep, HTTP_BAD_REQUEST, "request body: %s", err);
        if (got < want)
            return budget_busy(rep);
        return pyro_reply_set(rep, HTTP_TOO_LARGE, "request body: %s", err);
    }
    budget_give(got - (int64_t)plain_len); /* the rest is held by the body */
    body_drop(st);
    st->reserved += (int64_t)plain_len;
    st->body = plain;
    st->len = st->cap = plain_len;
    return 0;
}

static void request_dispatch(pyro_receiver *r, struct MHD_Connection *c, conn_state *st,
                             pyro_reply *rep)
{
    if (st->too_large) {
        pyro_reply_set(rep, HTTP_TOO_LARGE, "request body larger than %lld bytes",
                       (long long)r->max_body);
        return;
    }
    if (body_inflate(r, c, st, rep) < 0)
        return;
    pyro_request q = {
        .r = r,
        .conn = c,
        .body = st->body,
        .len = st->len,
        .content_type =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .tenant = st->pinned_tenant
                      ? st->pinned_tenant
                      : MHD_lookup_connection_value(c, MHD_HEADER_KIND, TENANT_HEADER),
        .reserved = &st->reserved,
    };
    if (st->route == ROUTE_INGEST)
        pyro_handle_ingest(&q, rep);
    else if (is_json(q.content_type))
        pyro_handle_push_json(&q, rep);
    else
        pyro_handle_push_proto(&q, rep);
}

/* ------------------------------------------------------------------ */
/* workers                                                              */
/* ------------------------------------------------------------------ */

static void *worker_main(void *arg)
{
    pyro_receiver *r = arg;
    pyro_pool *pool = r->pool;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->head && !pool->stopping)
            pthread_cond_wait(&pool->ready, &pool->lock);
        conn_state *st = pool->head;
        if (!st)
            break; /* stopping, and the queue is drained */
        pool->head = st->next;
        if (!pool->head)
            pool->tail = NULL;
        pthread_mutex_unlock(&pool->lock);
        memset(&st->reply, 0, sizeof st->reply);
        request_dispatch(r, st->conn, st, &st->reply);
        st->stage = STAGE_ANSWERED;
        listener_resume(st->conn);
        pthread_mutex_lock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* Suspends st's connection and queues it for a worker; -1 when stopping. */
static int pool_submit(pyro_pool *pool, conn_state *st)
{
    pthread_mutex_lock(&pool->lock);
    if (pool->stopping) {
        pthread_mutex_unlock(&pool->lock);
        return -1;
    }
    st->stage = STAGE_QUEUED;
    st->next = NULL;
    listener_suspend(st->conn);
    if (pool->tail)
        pool->tail->next = st;
    else
        pool->head = st;
    pool->tail = st;
    pthread_cond_signal(&pool->ready);
    pthread_mutex_unlock(&pool->lock);
    return 0;
}

static void pool_stop(pyro_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->ready);
    pthread_mutex_unlock(&pool->lock);
    for (size_t i = 0; i < pool->n_threads; i++)
        pthread_join(pool->threads[i], NULL);
    pool->n_threads = 0;
}

static void pool_free(pyro_pool *pool)
{
    if (!pool)
        return;
    pool_stop(pool);
    pthread_cond_destroy(&pool->ready);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
}

static int pool_start(pyro_receiver *r)
{
    pool_free(r->pool); /* of an earlier start */
    pyro_pool *pool = calloc(1, sizeof *pool);
    r->pool = pool;
    if (!pool)
        return -1;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->ready, NULL);
    pool->threads = calloc((size_t)r->workers, sizeof *pool->threads);
    if (!pool->threads)
        return -1;
    for (int64_t i = 0; i < r->workers; i++) {
        if (pthread_create(&pool->threads[i], NULL, worker_main, r) != 0)
            return -1;
        pool->n_threads++;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* the event loop's side                                                */
/* ------------------------------------------------------------------ */

static const char *content_type(struct MHD_Connection *c)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
}

static enum MHD_Result request_begin(pyro_receiver *r, struct MHD_Connection *c, const char *url,
                                     const char *method, void **ptr)
{
    pyro_reply rep = {0};
    route rt = ROUTE_INGEST;
    const char *tenant = NULL;
    if (request_precheck(r, c, url, method, &rt, &tenant, &rep) < 0)
        return send_reply(r, c, rt, is_json(content_type(c)), &rep);
    conn_state *st = calloc(1, sizeof(*st));
    if (!st)
        return MHD_NO;
    st->route = rt;
    st->conn = c;
    st->pinned_tenant = tenant;
    /* Past the memory limit the body is read and discarded, then answered
     * 503 with Retry-After: a client still writing its body when an early
     * answer closed the connection would see a broken pipe, not the 503. */
    st->memory_refused = r->h->memory_pressure(r->self) != PP_MEMORY_OK;
    *ptr = st;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **ptr)
{
    (void)version;
    pyro_receiver *r = cls;
    conn_state *st = *ptr;
    if (!st)
        return request_begin(r, c, url, method, ptr);
    if (st->stage == STAGE_ANSWERED)
        return send_reply(r, c, st->route, is_json(content_type(c)), &st->reply);
    if (*upload_size) {
        body_append(r, st, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (st->too_large || st->budget_spent || st->memory_refused || pool_submit(r->pool, st) < 0) {
        pyro_reply rep = {0};
        if (st->too_large)
            pyro_reply_set(&rep, HTTP_TOO_LARGE, "request body larger than %lld bytes",
                           (long long)r->max_body);
        else if (st->budget_spent)
            budget_busy(&rep);
        else if (st->memory_refused)
            pyro_reply_set(&rep, HTTP_UNAVAILABLE,
                           "memory limit reached (service.memory_limit): retry later");
        else
            pyro_reply_set(&rep, HTTP_UNAVAILABLE, "shutting down, profiles not taken");
        st->stage = STAGE_ANSWERED;
        return send_reply(r, c, st->route, is_json(content_type(c)), &rep);
    }
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ptr,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    conn_state *st = *ptr;
    if (!st)
        return;
    budget_give(st->reserved);
    body_drop(st);
    free(st);
    *ptr = NULL;
}

/* ------------------------------------------------------------------ */
/* lifecycle                                                            */
/* ------------------------------------------------------------------ */

/* Rule: the budget holds at least one request of either limit. */
static int budget_holds_a_request(pyro_receiver *r, const pp_config *cfg)
{
    if (r->memory_budget >= r->max_decompressed && r->memory_budget >= r->max_body)
        return 0;
    return r->h->cfg_error(cfg, "memory_budget",
                           "must be at least max_decompressed_size (%lld) and "
                           "max_request_body_size (%lld)",
                           (long long)r->max_decompressed, (long long)r->max_body);
}

static void pyro_stop(void *state, int64_t deadline_ns)
{
    pyro_receiver *r = state;
    /* No new connection (a replacement started on the same address keeps
     * the socket), and the requests under way are answered: a reload
     * neither refuses nor cuts a client. Then the workers: they finish
     * what they hold and resume its connection, so that the daemon stops
     * with none suspended. */
    listener_quiesce(r->server);
    listener_drain(r->server, deadline_ns);
    pool_stop(r->pool);
    listener_stop(r->server);
    r->server = NULL;
}

static void pyro_destroy(void *state)
{
    pyro_receiver *r = state;
    if (!r)
        return;
    pyro_stop(r, 0);
    pool_free(r->pool);
    listener_config_free(&r->listen);
    free(r);
}

static int pyro_create(const pp_host *host, pp_instance *self, const pp_config *cfg, void **state)
{
    pyro_receiver *r = calloc(1, sizeof(*r));
    if (!r) {
        host->log(self, PP_LOG_ERROR, "out of memory");
        return -1;
    }
    r->h = host;
    r->self = self;
    int rc = host->cfg_fill(cfg, pyro_options, r);
    if (rc == 0)
        rc = listener_config_make(host, cfg, &r->listen_opts, r->endpoint, "endpoint", &r->listen);
    if (rc == 0 && !r->listen.host)
        rc = host->cfg_error(cfg, "endpoint", "must not be empty");
    if (rc == 0)
        rc = budget_holds_a_request(r, cfg);
    if (rc < 0) {
        pyro_destroy(r);
        return -1;
    }
    *state = r;
    return 0;
}

static int pyro_start(void *state)
{
    pyro_receiver *r = state;
    /* the latest receiver started sizes the process-wide budget */
    atomic_store(&budget_capacity, r->memory_budget);
    if (pool_start(r) < 0) {
        r->h->log(r->self, PP_LOG_ERROR, "cannot start %lld worker threads", (long long)r->workers);
        pool_stop(r->pool);
        return -1;
    }
    listener_handlers handlers = {
        .request = on_request,
        .cls = r,
        .completed = on_completed,
        .suspend_resume = 1,
    };
    char err[512];
    r->server = listener_start(r->h, r->self, "pyroscope", &r->listen, &handlers, err, sizeof err);
    if (!r->server) {
        r->h->log(r->self, PP_LOG_ERROR, "%s", err);
        pool_stop(r->pool);
        return -1;
    }
    r->h->log(r->self, PP_LOG_INFO, "listening on %s:%s%s", r->listen.host, r->listen.port,
              r->listen.cert_file ? " (TLS)" : "");
    return 0;
}

const pp_component pp_receiver_pyroscope = {
    .type = "pyroscope",
    .kind = PP_RECEIVER,
    .description = "accepts what Pyroscope accepts from SDKs and agents: /ingest and the "
                   "push API",
    .options = pyro_options,
    .flags = PP_OVERLAP, /* its listener hands the bound socket to its replacement */
    .create = pyro_create,
    .start = pyro_start,
    .stop = pyro_stop,
    .destroy = pyro_destroy,
};
