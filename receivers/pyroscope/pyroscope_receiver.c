/* pyroscope receiver: a Pyroscope-compatible ingest endpoint, so that
 * services keep their Pyroscope SDKs (or Alloy) and point them at
 * profpipe instead of at Pyroscope.
 *
 * libmicrohttpd serves HTTP with one thread per connection (bounded by
 * max_connections): a slow client or a blocking emit (a full `block`
 * queue) then holds up only its own connection. Every request is checked
 * before its body is read (method, path, credentials, Content-Length) and
 * while it is read (max_request_body_size), so that an unauthenticated or
 * oversized upload is refused without buffering it. The body, once whole,
 * goes to the /ingest or push handler; the client gets 200 only after
 * host->emit took the batch, so a 200 means profpipe owns the profiles.
 * Errors are answered with a message: text for /ingest, connect's JSON
 * error shape for the push API. A 4xx is also logged at warn with the
 * client's address, the service and the reason, and counted by reason
 * (pyroscope_refused_requests_total), so a misconfigured SDK is seen at
 * the default log level. */
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "json_text.h"
#include "pyroscope_receiver.h"

#define PUSH_PATH "/push.v1.PusherService/Push"
#define INGEST_PATH "/ingest"
#define NS_PER_SEC 1000000000LL
/* Room for long query strings (an /ingest name with many tags): MHD
 * answers 414 by itself beyond this, without our message. */
#define CONNECTION_MEMORY_LIMIT ((size_t)512 << 10)
#define BODY_INITIAL_CAP 4096
#define LOG_LINE_MAX 512
#define TENANT_HEADER "X-Scope-OrgID"
#define BEARER_PREFIX "Bearer "
#define GZIP_LIMIT_TEXT "exceeds the limit"
#define REALM "profpipe"

static const pp_option basic_auth_options[] = {
    {"username", PP_OPT_STRING, NULL, "user name clients must send", 1, NULL},
    {"password", PP_OPT_STRING, NULL, "password clients must send", 0, NULL},
    {"password_file", PP_OPT_STRING, NULL, "file holding that password", 0, NULL},
    {0},
};

static const pp_option pyro_options[] = {
    {"endpoint", PP_OPT_STRING, "127.0.0.1:4040", "host:port to listen on", 0, NULL},
    {"max_request_body_size", PP_OPT_SIZE, "16MiB",
     "largest request body accepted (413 beyond)", 0, NULL},
    {"max_decompressed_size", PP_OPT_SIZE, "64MiB",
     "largest decompressed gzip body, or all the profiles of one request together, accepted"
     " (413 beyond: gzip bombs)", 0, NULL},
    {"max_labels", PP_OPT_INT, "64", "most series labels per profile (400 beyond)", 0, NULL},
    {"max_connections", PP_OPT_INT, "64", "most concurrent client connections", 0, NULL},
    {"read_timeout", PP_OPT_DURATION, "30s", "idle time after which a connection is closed",
     0, NULL},
    {"basic_auth", PP_OPT_SECTION, NULL, "require HTTP basic auth from clients", 0,
     basic_auth_options},
    {"bearer_token", PP_OPT_STRING, NULL, "require Authorization: Bearer <token>", 0, NULL},
    {"bearer_token_file", PP_OPT_STRING, NULL, "file holding that token", 0, NULL},
    {"tenant_label", PP_OPT_STRING, NULL,
     "series label to keep the client's X-Scope-OrgID in; unset = dropped", 0, NULL},
    {"max_sessions_per_series", PP_OPT_INT, "0",
     "the Go SDK's `__session_id__` label: 0 drops it (Pyroscope's default), N > 0 keeps it "
     "as one of N values per series (Pyroscope's -validation.max-sessions-per-series)", 0,
     NULL},
    {0},
};

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
                       pyro_reply *out)
{
    const pp_host *h = q->r->h;
    const unsigned char *b = data;
    if (len == 0)
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_PROFILE, "empty profile");
    size_t plain_len = len;
    if (len >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
        uint8_t *plain = NULL;
        char err[256];
        if (h->gunzip(data, len, (size_t)*budget, &plain, &plain_len, err, sizeof(err)) < 0) {
            if (!strstr(err, GZIP_LIMIT_TEXT))
                return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_PROFILE, "profile: %s",
                                 err);
            plain_len = (size_t)*budget + 1;
        }
        free(plain);
    }
    if (plain_len > (uint64_t)*budget)
        return pyro_reply_set(out, HTTP_TOO_LARGE,
                              "profile: decompressed size " GZIP_LIMIT_TEXT " of %lld bytes"
                              " (max_decompressed_size, for all the request's profiles)",
                              (long long)q->r->max_decompressed);
    *budget -= (int64_t)plain_len;
    return 0;
}

int pyro_payload_set(const pyro_request *q, pp_profile *p, const void *data, size_t len,
                     pyro_reply *out)
{
    int64_t budget = q->r->max_decompressed;
    if (pyro_payload_check(q, data, len, &budget, out) < 0)
        return -1;
    if (q->r->h->profile_set_raw(p, data, len) < 0)
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
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
 * Pyroscope's defaults), else the app-name suffix's family. */
static int profile_name(const pp_host *h, pp_profile *p, const pyro_naming *naming,
                        pyro_reply *out)
{
    char err[256];
    const pp_pprof *t = h->profile_tree(p, err, sizeof(err));
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
    else if (profile_decodes(h, p, err, sizeof(err)) < 0)
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

typedef struct conn_state {
    route route;
    unsigned char *body;
    size_t len, cap;
    int too_large;
} conn_state;

static int is_json(const char *content_type)
{
    return content_type && strncasecmp(content_type, "application/json",
                                       strlen("application/json")) == 0;
}

/* connect's error codes for the HTTP statuses we answer with. */
static const char *connect_code(int status)
{
    switch (status) {
    case HTTP_BAD_REQUEST:
        return "invalid_argument";
    case HTTP_UNAUTHORIZED:
        return "unauthenticated";
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

static enum MHD_Result send_reply(pyro_receiver *r, struct MHD_Connection *c, route rt,
                                  int json, const pyro_reply *rep)
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
    if (rep->status == HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Basic realm=\"" REALM "\"");
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)rep->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* Equal without an early exit, so timing does not reveal a prefix. */
static int secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

static int authorized(pyro_receiver *r, struct MHD_Connection *c)
{
    if (!r->username && !r->bearer_token)
        return 1;
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth)
        return 0;
    if (r->bearer_token && strncmp(auth, BEARER_PREFIX, strlen(BEARER_PREFIX)) == 0)
        return secret_equal(auth + strlen(BEARER_PREFIX), r->bearer_token);
    if (!r->username)
        return 0;
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &pass);
    int ok = user && pass && secret_equal(user, r->username) &&
             secret_equal(pass, r->password ? r->password : "");
    if (user)
        MHD_free(user);
    if (pass)
        MHD_free(pass);
    return ok;
}

/* The checks made before any of the body is read. 0 to go on, else the
 * reply to send at once. */
static int request_precheck(pyro_receiver *r, struct MHD_Connection *c, const char *url,
                            const char *method, route *rt, pyro_reply *rep)
{
    if (strcmp(url, INGEST_PATH) == 0)
        *rt = ROUTE_INGEST;
    else if (strcmp(url, PUSH_PATH) == 0)
        *rt = ROUTE_PUSH;
    else
        return pyro_reply_set(rep, HTTP_NOT_FOUND, "no such endpoint: %.200s", url);
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return pyro_reply_set(rep, HTTP_METHOD_NOT_ALLOWED, "%s needs POST", url);
    if (!authorized(r, c))
        return pyro_reply_set(rep, HTTP_UNAUTHORIZED, "missing or wrong credentials");
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoll(cl, NULL, 10) > r->max_body)
        return pyro_reply_set(rep, HTTP_TOO_LARGE, "request body larger than %lld bytes",
                              (long long)r->max_body);
    return 0;
}

static void body_append(pyro_receiver *r, conn_state *st, const char *data, size_t n)
{
    if (st->too_large)
        return;
    if (st->len + n > (size_t)r->max_body) {
        st->too_large = 1;
        free(st->body);
        st->body = NULL;
        st->len = st->cap = 0;
        return;
    }
    if (st->len + n > st->cap) {
        size_t cap = st->cap ? st->cap : BODY_INITIAL_CAP;
        while (cap < st->len + n)
            cap *= 2;
        unsigned char *nb = realloc(st->body, cap);
        if (!nb) {
            st->too_large = 1; /* answered 413: the client may retry smaller */
            return;
        }
        st->body = nb;
        st->cap = cap;
    }
    memcpy(st->body + st->len, data, n);
    st->len += n;
}

/* Content-Encoding: gzip on the whole request (the push API with a
 * compressing client). Replaces the body with its inflated form. */
static int body_inflate(pyro_receiver *r, struct MHD_Connection *c, conn_state *st,
                        pyro_reply *rep)
{
    const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (!enc || strcasecmp(enc, "identity") == 0)
        return 0;
    if (strcasecmp(enc, "gzip") != 0)
        return pyro_reply_set(rep, HTTP_UNSUPPORTED_MEDIA, "unsupported Content-Encoding %.64s",
                              enc);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    char err[256];
    if (r->h->gunzip(st->body, st->len, (size_t)r->max_decompressed, &plain, &plain_len, err,
                     sizeof(err)) < 0)
        return pyro_reply_set(rep, strstr(err, GZIP_LIMIT_TEXT) ? HTTP_TOO_LARGE
                                                                : HTTP_BAD_REQUEST,
                              "request body: %s", err);
    free(st->body);
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
        .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_CONTENT_TYPE),
        .tenant = MHD_lookup_connection_value(c, MHD_HEADER_KIND, TENANT_HEADER),
    };
    if (st->route == ROUTE_INGEST)
        pyro_handle_ingest(&q, rep);
    else if (is_json(q.content_type))
        pyro_handle_push_json(&q, rep);
    else
        pyro_handle_push_proto(&q, rep);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **ptr)
{
    (void)version;
    pyro_receiver *r = cls;
    conn_state *st = *ptr;
    pyro_reply rep = {0};
    if (!st) {
        route rt = ROUTE_INGEST;
        if (request_precheck(r, c, url, method, &rt, &rep) < 0)
            return send_reply(r, c, rt, is_json(MHD_lookup_connection_value(
                                               c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)),
                              &rep);
        st = calloc(1, sizeof(*st));
        if (!st)
            return MHD_NO;
        st->route = rt;
        *ptr = st;
        return MHD_YES;
    }
    if (*upload_size) {
        body_append(r, st, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    request_dispatch(r, c, st, &rep);
    return send_reply(r, c, st->route,
                      is_json(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                          MHD_HTTP_HEADER_CONTENT_TYPE)),
                      &rep);
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
    free(st->body);
    free(st);
    *ptr = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    pyro_receiver *r = cls;
    char line[LOG_LINE_MAX];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    r->h->log(r->self, PP_LOG_WARN, "http: %s", line);
}

/* ------------------------------------------------------------------ */
/* lifecycle                                                            */
/* ------------------------------------------------------------------ */

/* Splits "host:port" or "[v6]:port". 0 or -1. */
static int split_endpoint(const char *ep, char **host, char **port)
{
    const char *colon = strrchr(ep, ':');
    if (!colon || !colon[1])
        return -1;
    const char *hb = ep, *he = colon;
    if (*hb == '[') {
        hb++;
        if (he[-1] != ']')
            return -1;
        he--;
    }
    *host = strndup(hb, (size_t)(he - hb));
    *port = strdup(colon + 1);
    return *host && *port ? 0 : -1;
}

static int pyro_read_auth(pyro_receiver *r, const pp_config *cfg)
{
    const pp_host *h = r->h;
    const pp_config *basic = h->cfg_child(cfg, "basic_auth");
    if (basic && h->cfg_is_set(basic, "username")) {
        if (h->cfg_is_set(basic, "password") && h->cfg_is_set(basic, "password_file"))
            return h->cfg_error(basic, "password", "set password or password_file, not both");
        if (!h->cfg_is_set(basic, "password") && !h->cfg_is_set(basic, "password_file"))
            return h->cfg_error(basic, "password", "password or password_file is required");
        r->username = strdup(h->cfg_string(basic, "username"));
        r->password = h->cfg_secret(basic, "password");
        if (!r->username || !r->password)
            return -1;
    }
    if (h->cfg_is_set(cfg, "bearer_token") || h->cfg_is_set(cfg, "bearer_token_file")) {
        if (h->cfg_is_set(cfg, "bearer_token") && h->cfg_is_set(cfg, "bearer_token_file"))
            return h->cfg_error(cfg, "bearer_token",
                                "set bearer_token or bearer_token_file, not both");
        r->bearer_token = h->cfg_secret(cfg, "bearer_token");
        if (!r->bearer_token)
            return -1;
    }
    return 0;
}

static int pyro_read_limits(pyro_receiver *r, const pp_config *cfg)
{
    const pp_host *h = r->h;
    r->max_body = h->cfg_size(cfg, "max_request_body_size");
    r->max_decompressed = h->cfg_size(cfg, "max_decompressed_size");
    r->max_labels = h->cfg_int(cfg, "max_labels");
    r->max_connections = h->cfg_int(cfg, "max_connections");
    r->read_timeout_ns = h->cfg_duration_ns(cfg, "read_timeout");
    if (r->max_body <= 0)
        return h->cfg_error(cfg, "max_request_body_size", "must be positive");
    if (r->max_decompressed <= 0)
        return h->cfg_error(cfg, "max_decompressed_size", "must be positive");
    if (r->max_labels < 2)
        return h->cfg_error(cfg, "max_labels", "must be at least 2 (service_name, __name__)");
    if (r->max_connections <= 0)
        return h->cfg_error(cfg, "max_connections", "must be positive");
    if (r->read_timeout_ns < NS_PER_SEC)
        return h->cfg_error(cfg, "read_timeout", "must be at least 1s");
    return 0;
}

static void pyro_destroy(void *state)
{
    pyro_receiver *r = state;
    if (!r)
        return;
    if (r->daemon)
        MHD_stop_daemon(r->daemon);
    free(r->bind_host);
    free(r->bind_port);
    free(r->username);
    free(r->password);
    free(r->bearer_token);
    free(r);
}

static int pyro_create(const pp_host *host, pp_instance *self, const pp_config *cfg,
                       void **state)
{
    pyro_receiver *r = calloc(1, sizeof(*r));
    if (!r) {
        host->log(self, PP_LOG_ERROR, "out of memory");
        return -1;
    }
    r->h = host;
    r->self = self;
    const char *ep = host->cfg_string(cfg, "endpoint");
    int rc = 0;
    if (split_endpoint(ep, &r->bind_host, &r->bind_port) < 0)
        rc = host->cfg_error(cfg, "endpoint", "want host:port, got '%s'", ep);
    if (rc == 0)
        rc = pyro_read_limits(r, cfg);
    if (rc == 0)
        rc = pyro_read_auth(r, cfg);
    if (rc == 0 && host->cfg_is_set(cfg, "tenant_label"))
        r->tenant_label = host->cfg_string(cfg, "tenant_label");
    r->max_sessions = host->cfg_int(cfg, "max_sessions_per_series");
    if (rc == 0 && r->max_sessions < 0)
        rc = host->cfg_error(cfg, "max_sessions_per_series", "must be 0 or more");
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
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    const char *host = *r->bind_host ? r->bind_host : NULL;
    int gai = getaddrinfo(host, r->bind_port, &hints, &ai);
    if (gai != 0) {
        r->h->log(r->self, PP_LOG_ERROR, "endpoint %s:%s: %s", r->bind_host, r->bind_port,
                  gai_strerror(gai));
        return -1;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    r->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, r, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, r,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)r->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(r->read_timeout_ns / NS_PER_SEC), MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        CONNECTION_MEMORY_LIMIT, MHD_OPTION_NOTIFY_COMPLETED, on_completed, r, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!r->daemon) {
        r->h->log(r->self, PP_LOG_ERROR, "cannot listen on %s:%s (in use?)", r->bind_host,
                  r->bind_port);
        return -1;
    }
    r->h->log(r->self, PP_LOG_INFO, "listening on %s:%s", r->bind_host, r->bind_port);
    return 0;
}

static void pyro_stop(void *state, int64_t deadline_ns)
{
    (void)deadline_ns;
    pyro_receiver *r = state;
    if (r->daemon)
        MHD_stop_daemon(r->daemon);
    r->daemon = NULL;
}

const pp_component pp_receiver_pyroscope = {
    .type = "pyroscope",
    .kind = PP_RECEIVER,
    .description = "accepts what Pyroscope accepts from SDKs and agents: /ingest and the "
                   "push API",
    .options = pyro_options,
    .create = pyro_create,
    .start = pyro_start,
    .stop = pyro_stop,
    .destroy = pyro_destroy,
};
