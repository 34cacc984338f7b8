/* exporter: the queue and worker thread every exporter gets from the
 * host, so that retry with backoff, the bounded sending queue and
 * batching are written once. The options below are added to every
 * exporter's own option table. */
#ifndef PROFPIPE_EXPORTER_H
#define PROFPIPE_EXPORTER_H

#include <profpipe/plugin.h>

#include "instance.h"
#include "ledger.h"

extern const pp_option exporter_common_options[];

typedef struct exporter_rt exporter_rt;

/* Reads the common options from inst->cfg. */
exporter_rt *exporter_rt_new(pp_instance *inst);
/* Opens the spool (sending_queue.storage), if any and not yet open, then
 * starts the worker. 0 or -1. */
int exporter_rt_start(exporter_rt *e);
/* The spool part of exporter_rt_start alone, for a reload to try early,
 * while the old graph runs. 0 or -1 (logged). */
int exporter_rt_open_spool(exporter_rt *e);
/* sending_queue.storage, or NULL for a queue in memory only. */
const char *exporter_rt_storage(const exporter_rt *e);
/* Takes ownership of b; 0, or -1 if the exporter is closed (b dropped and
 * counted). Blocks while a `block` queue is full. Each profile of b is
 * settled once on `edge` (borrowed, may be NULL; outlives the exporter's
 * queue). */
int exporter_enqueue(exporter_rt *e, pp_batch *b, ledger_edge *edge);
/* From now on retries end at deadline_ns (monotonic) and what is still
 * queued then is dropped and counted. */
void exporter_rt_set_deadline(exporter_rt *e, int64_t deadline_ns);
/* Closes the queue and waits for the worker to drain it. */
void exporter_rt_finish(exporter_rt *e);
void exporter_rt_free(exporter_rt *e);
/* The sending queue's fill and bound, in bytes (for the built-in page). */
size_t exporter_rt_queue_bytes(exporter_rt *e);
size_t exporter_rt_queue_limit(const exporter_rt *e);

/* Full-jitter backoff: the wait before retry `attempt` (0-based). */
int64_t exporter_backoff_ns(int64_t initial_ns, int64_t max_ns, double multiplier, unsigned attempt,
                            unsigned *seed);

#endif
