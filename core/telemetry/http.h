/* http: the self-observability server on service.telemetry.address:
 * GET /metrics (Prometheus text) and GET /healthz, behind the listener's
 * limits, TLS, allowlist and credentials (service.telemetry options). */
#ifndef PROFPIPE_HTTP_H
#define PROFPIPE_HTTP_H

#include <stddef.h>

#include "listener.h"

typedef struct telemetry_server telemetry_server;

/* Serves on cfg->host (copied). */
telemetry_server *telemetry_start(const listener_config *cfg, char *err, size_t errlen);
/* 1 when t runs with settings equal to cfg (never with TLS: a restart
 * reads the certificate files again). */
int telemetry_same(const telemetry_server *t, const listener_config *cfg);
void telemetry_stop(telemetry_server *t);

#endif
