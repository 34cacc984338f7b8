/* pyroscope_folded: the text formats of Pyroscope's /ingest, turned into
 * a pprof tree, so that everything downstream sees one format.
 *
 * - folded (Pyroscope's "groups", the default format): one stack per
 *   line, frames root first separated by ';', then a space and a count
 *   (`main;work;hash 42`), as flamegraph.pl's stackcollapse scripts
 *   write them. The count follows the last space.
 * - lines: one stack per line and no count; each line counts 1.
 *
 * Read as Pyroscope reads them (pkg/og/convert/parser.go ParseGroups and
 * ParseIndividualLines, grafana/pyroscope weekly-f184): a trailing '\r'
 * is cut, empty lines are skipped, a folded line without a space is
 * skipped. Stricter where Pyroscope would store something meaningless:
 * a count that is not a non-negative decimal integer, a value that
 * overflows once scaled, or a body with no stack at all is an error
 * naming the line. Each distinct frame becomes one function and one
 * location (with Pyroscope's one fake mapping); equal stacks are summed.
 *
 * Bounds: time is linear in the body; memory is the tree plus transient
 * arrays, both charged against `max_bytes` (the receiver's
 * max_decompressed_size), so a body of millions of tiny frames is
 * refused rather than grown into gigabytes. */
#ifndef PYROSCOPE_FOLDED_H
#define PYROSCOPE_FOLDED_H

#include <stddef.h>
#include <stdint.h>

#include <profpipe/plugin.h>

typedef enum pyro_text_format { PYRO_TEXT_FOLDED, PYRO_TEXT_LINES } pyro_text_format;

/* What the samples mean: the pprof's one sample type, its period and the
 * factor each count is multiplied by (Pyroscope scales CPU and wall
 * counts by the sampling period). period_type NULL = no period. */
typedef struct pyro_text_meta {
    const char *type, *unit;
    const char *period_type, *period_unit;
    int64_t period;
    int64_t scale; /* >= 0 */
    int64_t time_nanos;
} pyro_text_meta;

enum { PYRO_TEXT_OK = 0, PYRO_TEXT_BAD = -1, PYRO_TEXT_TOO_LARGE = -2, PYRO_TEXT_NOMEM = -3 };

/* Builds p's tree (p must have no payload yet) from body. Returns
 * PYRO_TEXT_OK or one of the errors above with the reason in err. */
int pyro_text_to_pprof(const pp_host *h, pp_profile *p, const unsigned char *body, size_t len,
                       pyro_text_format format, const pyro_text_meta *meta, size_t max_bytes,
                       char *err, size_t errlen);

#endif
