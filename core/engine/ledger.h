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

/* Registers the pipeline's series (they live as long as the process, so
 * they continue across a reload). NULL on out of memory. */
ledger *ledger_new(const char *pipeline);
void ledger_free(ledger *l); /* frees its edges */
/* The edge to one exporter; owned by the ledger. NULL on out of memory. */
ledger_edge *ledger_add_edge(ledger *l, const char *exporter_id);
size_t ledger_fan_out(const ledger *l);
/* n profiles enter (each to be settled once per edge). NULL-safe. */
void ledger_in(ledger *l, ledger_source from, size_t n);
/* n profiles leave by every edge with the same outcome (before fan-out). */
void ledger_settle_all(ledger *l, ledger_outcome outcome, size_t n);
/* n profiles leave by one edge. NULL-safe. */
void ledger_settle(ledger_edge *edge, ledger_outcome outcome, size_t n);
const char *ledger_outcome_name(ledger_outcome outcome);

#endif
