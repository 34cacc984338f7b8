/* ledger: the accounting of every profile that enters a pipeline.
 *
 * Each pipeline has one ledger and one edge per exporter it feeds (its
 * fan-out F). A profile is counted once on the way in (from receivers,
 * born in a processor, or replayed from a spool) and once on the way out
 * of every edge, with exactly one outcome. A profile that leaves before the
 * fan-out (pipeline queue full, filtered or merged by a processor) leaves
 * by every edge at once. So, per pipeline, at any time:
 *
 *     in × F = owed = Σ over edges and outcomes of out + in_flight
 *
 * and in_flight returns to 0 when the pipeline is idle (owed is in × F
 * summed as profiles enter, so it holds when a reload changes F). Profiles a
 * persistent spool keeps across a stop stay in flight; the next start
 * counts them in again under the spool's own ledger. */
#ifndef PROFPIPE_LEDGER_H
#define PROFPIPE_LEDGER_H

#include <stddef.h>

typedef enum ledger_outcome {
    LEDGER_EXPORTED, /* delivered and acknowledged */
    LEDGER_REJECTED, /* refused for good by the backend */
    LEDGER_FAILED,   /* given up on after retries */
    LEDGER_DROPPED,  /* a full queue, the shutdown deadline, out of memory */
    LEDGER_FILTERED, /* a processor removed it */
    LEDGER_MERGED,   /* a windowed processor folded it into a new profile */
    LEDGER_N_OUTCOMES
} ledger_outcome;

typedef enum ledger_source {
    LEDGER_FROM_RECEIVERS,
    LEDGER_FROM_PROCESSORS, /* profiles a processor made (a window's merge) */
    LEDGER_FROM_SPOOL,      /* replayed from a persistent queue at start */
    LEDGER_N_SOURCES
} ledger_source;

typedef struct ledger ledger;
typedef struct ledger_edge ledger_edge;

/* The ledger of a pipeline name, made on first use. Ledgers and their
 * edges live as long as the process, like the metrics they write: an
 * exporter kept across a reload still settles what the replaced pipeline
 * queued with it. NULL on out of memory. */
ledger *ledger_get(const char *pipeline);
/* The edge to one exporter, made on first use. NULL on out of memory. */
ledger_edge *ledger_edge_get(ledger *l, const char *exporter_id);
/* n profiles enter, each to be settled once on each of fan_out edges
 * (also shown as the pipeline's fan-out: a reload that fails does not
 * change it). NULL-safe. */
void ledger_in(ledger *l, ledger_source from, size_t n, size_t fan_out);
/* n profiles leave by one edge. NULL-safe. */
void ledger_settle(ledger_edge *edge, ledger_outcome outcome, size_t n);
/* Tests only: forgets every ledger (with metrics_reset_all). */
void ledger_reset_all(void);
const char *ledger_outcome_name(ledger_outcome outcome);

#endif
