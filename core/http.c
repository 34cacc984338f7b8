/* http: libmicrohttpd with its own polling thread; the handlers only read
 * the metrics registry, so they need no other locking. */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "ui/ui.h"

#define HTTP_MAX_PORT 65535

struct telemetry_server {
    struct MHD_Daemon *daemon;
};

int http_split_address(const char *address, char *host, size_t host_len, unsigned *port)
{
    const char *colon = strrchr(address, ':');
    if (!colon || colon == address)
        return -1;
    const char *h = address;
    size_t hl = (size_t)(colon - address);
    if (h[0] == '[') {
        if (hl < 2 || h[hl - 1] != ']')
            return -1;
        h++;
        hl -= 2;
    }
    if (hl + 1 > host_len)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (*end || colon[1] == '\0' || p > HTTP_MAX_PORT)
        return -1;
    *port = (unsigned)p;
    return 0;
}

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

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
    (void)cls, (void)version, (void)upload, (void)upload_size, (void)req_cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "method not allowed\n",
                     19, MHD_RESPMEM_PERSISTENT);
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

telemetry_server *telemetry_start(const char *address, char *err, size_t errlen)
{
    char host[256];
    unsigned port;
    if (http_split_address(address, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "telemetry address \"%s\" is not host:port", address);
        return NULL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%u", port);
    int gai = getaddrinfo(host[0] ? host : NULL, portstr, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "telemetry address \"%s\": %s", address, gai_strerror(gai));
        return NULL;
    }
    telemetry_server *t = calloc(1, sizeof *t);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (t)
        t->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, NULL,
                                     MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!t || !t->daemon) {
        snprintf(err, errlen, "cannot listen on telemetry address %s (in use?)", address);
        free(t);
        return NULL;
    }
    return t;
}

void telemetry_stop(telemetry_server *t)
{
    if (!t)
        return;
    MHD_stop_daemon(t->daemon);
    free(t);
}
