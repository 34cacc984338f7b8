/* pyroscope_http: one HTTP POST at a time to a Pyroscope server, with
 * libcurl. One easy handle per exporter, reused so that keep-alive
 * connections and TLS sessions survive between exports (the exporter's
 * worker is the only thread that calls it). Headers every request carries
 * (auth, user headers) are built once; the tenant is given per request. */
#ifndef PYROSCOPE_HTTP_H
#define PYROSCOPE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "http_client.h"

typedef struct pyro_http_config {
    int64_t timeout_ns;
    const http_client_settings *client; /* auth, TLS, proxy, headers; borrowed */
    int connect;                        /* send Connect-Protocol-Version: 1 (the push API) */
} pyro_http_config;

#define PYRO_HTTP_BODY_MAX 1024 /* of a response body, kept for the log */

typedef struct pyro_response {
    long status;                   /* 0 when no HTTP answer came (see error) */
    int64_t retry_after_ns;        /* from Retry-After, else 0 */
    char body[PYRO_HTTP_BODY_MAX]; /* start of the body, terminated */
    char error[256];               /* transport error when status == 0 */
} pyro_response;

typedef struct pyro_http pyro_http;

/* Copies what it needs from cfg (cfg->client must outlive the handle);
 * url is the endpoint, whose scheme picks the proxy. NULL with the
 * reason in err. */
pyro_http *pyro_http_new(const pyro_http_config *cfg, const char *url, char *err, size_t errlen);
void pyro_http_free(pyro_http *c);

/* POSTs body to url, with X-Scope-OrgID: tenant unless tenant is NULL or
 * "". Returns 0 when an HTTP answer came (any status), -1 on a transport
 * error (connect, TLS, timeout), both with resp filled. */
int pyro_http_post(pyro_http *c, const char *url, const char *content_type, const char *tenant,
                   const void *body, size_t len, pyro_response *resp);

/* URL-encodes s (RFC 3986 unreserved kept). malloc'd, or NULL. */
char *pyro_http_escape(pyro_http *c, const char *s);

#endif
