/* http: the self-observability server on service.telemetry.address:
 * GET /metrics (Prometheus text) and GET /healthz. */
#ifndef PROFPIPE_HTTP_H
#define PROFPIPE_HTTP_H

#include <stddef.h>

typedef struct telemetry_server telemetry_server;

/* address is "host:port" (IPv4 or a name) or "[v6]:port". */
telemetry_server *telemetry_start(const char *address, char *err, size_t errlen);
void telemetry_stop(telemetry_server *t);
/* Parses "host:port" into host and port; -1 if malformed. */
int http_split_address(const char *address, char *host, size_t host_len, unsigned *port);

#endif
