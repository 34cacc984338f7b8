/* service: the running graph of one config: receiver and exporter
 * instances, pipelines with their processor instances, and the order in
 * which they start and stop. A reload builds a new service next to the
 * old one, then swaps (see main.c). */
#ifndef PROFPIPE_SERVICE_H
#define PROFPIPE_SERVICE_H

#include "config.h"

typedef struct service service;

/* Loads the config's plugins, checks every component's options and
 * create()s every component a pipeline uses. Errors go to cfg->errors;
 * returns NULL if there were any, including errors the loader found
 * before (so one run reports the options' errors along with those).
 * Nothing is started. */
service *service_build(config *cfg);
/* The checks of service_build that create nothing: the telemetry address
 * and every defined component's options (after loading the plugins when
 * with_plugins; otherwise types only a plugin defines are not reported).
 * Errors go to cfg->errors. */
void service_check(config *cfg, int with_plugins);
/* Starts exporters, pipelines, then receivers. -1 (and everything
 * stopped again) if a component fails to start. */
int service_start(service *s);
/* Stops receivers, drains pipelines and exporter queues, flushes
 * exporters; gives up on what is left at now + timeout_ns. */
void service_stop(service *s, int64_t timeout_ns);
void service_free(service *s); /* stops first if running */

/* The running graph, read-only, for the built-in page: the arrays stay
 * valid until service_free. */
struct pipeline;
struct pp_instance;
struct pipeline *const *service_pipelines(const service *s, size_t *n);
struct pp_instance *const *service_receivers(const service *s, size_t *n);
struct pp_instance *const *service_exporters(const service *s, size_t *n);

#endif
