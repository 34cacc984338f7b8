/* metrics: the process's Prometheus registry. Every metric is a name, a
 * label set (the owning component's kind and id first, then any extra
 * labels), a type and a double; rendering groups series by name. Metrics
 * live as long as the process, so counters survive a config reload and a
 * handle stays valid after metric_remove (it is only hidden). */
#ifndef PROFPIPE_METRICS_H
#define PROFPIPE_METRICS_H

#include <stdio.h>
#include <profpipe/plugin.h>

/* `name` is the full metric name (profpipe_...). `labels` the whole label
 * text inside the braces, or NULL. Same name+labels → same handle. */
pp_metric *metrics_get(const char *name, const char *help, pp_metric_type type, const char *labels);
void metrics_add(pp_metric *m, double delta);
void metrics_set(pp_metric *m, double value);
double metrics_value(pp_metric *m);
void metrics_remove(pp_metric *m);
/* Adds (or replaces) owner's text source, rendered after the registry;
 * see pp_host.exposition_add. 0 or -1. */
int metrics_exposition_add(const void *owner, pp_exposition_fn fn, void *arg);
/* Removes owner's source; waits for a render that is calling it. */
void metrics_exposition_remove(const void *owner);
/* Prometheus text exposition format 0.0.4; returns a malloc'd string. */
char *metrics_render(size_t *len);
void metrics_reset_all(void); /* tests only: forget every metric */

#endif
