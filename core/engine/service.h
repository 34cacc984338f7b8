/* service: the running graph of one config: receiver and exporter
 * instances, pipelines with their processor instances, and the order in
 * which they start and stop. A reload builds a new service next to the
 * old one, taking over the receivers and exporters whose options did not
 * change, and swaps it in (service_take_over; see main.c). */
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
/* service_build for a reload: receivers and exporters of `from` (running)
 * whose id, type and options are unchanged are taken over instead of
 * created again. Nothing is started, and `from` is left as it is. */
service *service_build_from(config *cfg, service *from);
/* Swaps s in for the service it was built from: starts s's new exporters,
 * its pipelines and its new PP_OVERLAP receivers (a changed pyroscope
 * receiver: its listener takes over the old one's socket) beside the old
 * graph, rewires the kept receivers to the new pipelines, then stops and
 * drains what only the old graph had, and starts the exporters that
 * replace old ones (never two instances of one exporter at once) and the
 * other new receivers.
 * -1: a start beside the old graph failed (e.g. a new address taken by
 *     another process); nothing changed, the old graph runs on, whole:
 *     free s.
 * -2: a replacement failed to start after the old part stopped: s owns
 *     every instance it holds; service_roll_back, or (when that fails)
 *     stop and free s, free the old service, and build the old config
 *     again.
 *  0: free the old service; the old config is then read by s's kept
 *     instances (and owned by s) if *old_cfg_kept, else free it. */
int service_take_over(service *s, config *old_cfg, int64_t timeout_ns, int *old_cfg_kept);
/* After service_take_over(s, old_cfg, ...) returned -2 (old stopped, s
 * running but for a replacement that failed): builds old_cfg's graph again
 * from s and swaps it in the same way, so every component unchanged
 * between the two configs runs on untouched (sockets, queues, delta
 * baselines) and only the replaced ones start again with their previous
 * options. The running service then, or NULL when that failed too (s and
 * old as they were: restart old_cfg from scratch). On success free s, then
 * old (its retained configs the result reads are moved to it), and
 * new_cfg unless *new_cfg_kept. */
service *service_roll_back(service *s, service *old, config *old_cfg, config *new_cfg,
                           int64_t timeout_ns, int *new_cfg_kept);
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
