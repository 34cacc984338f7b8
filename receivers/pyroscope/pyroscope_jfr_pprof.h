/* pyroscope_jfr_pprof: JFR recording → pprof profiles, one per kind of
 * event present, as Pyroscope's converter makes them (grafana/jfr-parser
 * pprof/ at commit 1d06ce3 of 2026-02-20, the converter Pyroscope's
 * /ingest?format=jfr runs), with the context labels of the Java SDK's LabelsSnapshot on
 * the samples. */
#ifndef PYROSCOPE_JFR_PPROF_H
#define PYROSCOPE_JFR_PPROF_H

#include <stddef.h>
#include <stdint.h>

#include <profpipe/plugin.h>

#define JFR_LABEL_EVENT "jfr_event"

typedef struct jfr_labels jfr_labels; /* pyroscope_jfr_labels.h */

/* Converts a recording. `labels` may be NULL; `sample_rate_hz` is the
 * /ingest sampleRate (0: the recording's own jdk.ExecutionSample period,
 * else 100 Hz, the Java SDK's default). Each profile has its tree, its
 * __name__ and jfr_event labels, and the recording's window in the tree.
 * 0 and *out (a malloc'd array of *n profiles the caller owns), or a
 * JFR_ERR_* with the reason in err. At most `budget` bytes are used. */
int jfr_to_pprof(const pp_host *h, const uint8_t *data, size_t len, const jfr_labels *labels,
                 int64_t sample_rate_hz, size_t budget, pp_profile ***out, size_t *n, char *err,
                 size_t errlen);

#endif
