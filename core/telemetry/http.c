/* http: a listener (lib/listener: epoll loop, limits, TLS, credentials)
 * serving the telemetry routes; the handlers only read the metrics
 * registry, so they need no other locking. Every request is admitted
 * (allowlist, client certificate, credentials) before the route dispatch. */
#include "http.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "metrics.h"
#include "ui/ui.h"

#define REALM_HEADER "Basic realm=\"profpipe\""

struct telemetry_server {
    listener_config cfg; /* a copy: the config it came from may be reloaded away */
    listener *server;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* 401 or 403 from the listener's verdict. */
static enum MHD_Result refuse(struct MHD_Connection *conn, const listener_verdict *v)
{
    char body[sizeof v->message + 1];
    int n = snprintf(body, sizeof body, "%s\n", v->message);
    struct MHD_Response *r =
        MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/plain");
    if (v->status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, REALM_HEADER);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)v->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
    (void)cls, (void)version, (void)upload, (void)upload_size, (void)req_cls;
    listener_verdict verdict;
    if (listener_admit(conn, &verdict) != 0)
        return refuse(conn, &verdict);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "method not allowed\n", 19,
                     MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") == 0) {
        size_t len = 0;
        char *text = metrics_render(&len);
        if (!text)
            return MHD_NO;
        return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", text, len,
                     MHD_RESPMEM_MUST_FREE);
    }
    if (strcmp(url, "/healthz") == 0)
        return reply(conn, MHD_HTTP_OK, "text/plain", "ok\n", 3, MHD_RESPMEM_PERSISTENT);
    if (ui_handles(url))
        return (enum MHD_Result)ui_handle(conn, url);
    return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", "not found: try /metrics or /healthz\n",
                 36, MHD_RESPMEM_PERSISTENT);
}

telemetry_server *telemetry_start(const listener_config *cfg, char *err, size_t errlen)
{
    telemetry_server *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "telemetry: out of memory");
        return NULL;
    }
    if (listener_config_copy(&t->cfg, cfg) < 0) {
        snprintf(err, errlen, "telemetry: out of memory");
        free(t);
        return NULL;
    }
    listener_handlers handlers = {.request = handle};
    char why[384];
    t->server = listener_start(host_api(), NULL, "telemetry", &t->cfg, &handlers, why, sizeof why);
    if (!t->server) {
        snprintf(err, errlen, "telemetry: %s", why);
        listener_config_free(&t->cfg);
        free(t);
        return NULL;
    }
    return t;
}

int telemetry_same(const telemetry_server *t, const listener_config *cfg)
{
    return t && listener_config_equal(&t->cfg, cfg);
}

void telemetry_stop(telemetry_server *t)
{
    if (!t)
        return;
    listener_stop(t->server);
    listener_config_free(&t->cfg);
    free(t);
}
