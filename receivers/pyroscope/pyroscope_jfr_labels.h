/* pyroscope_jfr_labels: the Java SDK's LabelsSnapshot, the optional
 * `labels` part of its /ingest?format=jfr upload (pyroscope-java v2.9.1,
 * agent/jfr_labels.proto; Pyroscope reads the same message):
 *   message Context { map<int64, int64> labels = 1; }
 *   message LabelsSnapshot { map<int64, Context> contexts = 1;
 *                            map<int64, string> strings = 2; }
 * Events carry a context id (async-profiler's contextId field); its
 * Context maps label-name string ids to label-value string ids. */
#ifndef PYROSCOPE_JFR_LABELS_H
#define PYROSCOPE_JFR_LABELS_H

#include <stddef.h>
#include <stdint.h>

typedef struct jfr_labels jfr_labels;

/* Decodes a LabelsSnapshot using at most `budget` bytes. 0 and *out (free
 * with jfr_labels_free), or JFR_ERR_FORMAT / JFR_ERR_MEMORY (over the
 * budget) with the reason in err. */
int jfr_labels_parse(const uint8_t *data, size_t len, size_t budget, jfr_labels **out, char *err,
                     size_t errlen);
void jfr_labels_free(jfr_labels *l);

/* The bytes it holds (counted against its budget). */
size_t jfr_labels_size(const jfr_labels *l);

/* The string with that id, or NULL. */
const char *jfr_labels_string(const jfr_labels *l, int64_t id);

/* The (name id, value id) pairs of a context: *n pairs at pairs[0..2n),
 * or 0 pairs when there is no such context. */
const int64_t *jfr_labels_context(const jfr_labels *l, int64_t id, size_t *n);

#endif
