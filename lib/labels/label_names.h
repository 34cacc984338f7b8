/* label_names: what Prometheus (and so Pyroscope, and every profpipe
 * component that takes a label name from the config or writes one out)
 * accepts as a label or metric name. The rules are the legacy ASCII ones,
 * model.LabelNameRE and model.MetricNameRE in prometheus/common:
 * label [a-zA-Z_][a-zA-Z0-9_]*, metric the same plus ':'. Names starting
 * with "__" are reserved for internal use (__name__, __meta_*). */
#ifndef PROFPIPE_LABEL_NAMES_H
#define PROFPIPE_LABEL_NAMES_H

/* 1 if s is a label name; NULL and "" are not. */
int label_name_valid(const char *s);
/* 1 if s is a metric name (a label name that may also hold ':'). */
int metric_name_valid(const char *s);
/* 1 if s starts with "__", the prefix Prometheus reserves. */
int label_name_reserved(const char *s);

#endif
