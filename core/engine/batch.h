/* batch: the profiles a receiver emits together.
 *
 * Reference-counted and read-only once emitted: fan-out to several
 * pipelines shares one batch. A processor that changes profiles gets its
 * own copy first (batch_make_exclusive). An exporter worker may gather
 * several queued batches into one "view" batch that borrows their profiles
 * and holds a reference to each. An optional ack fires once every copy
 * and view of a batch is gone, counting profiles dropped on the way; a
 * batch may carry several (a window's output carries its inputs' acks). */
#ifndef PROFPIPE_BATCH_H
#define PROFPIPE_BATCH_H

#include <stddef.h>
#include <profpipe/plugin.h>

pp_batch *batch_new(void);
int batch_add(pp_batch *b, pp_profile *p); /* takes ownership of p */
size_t batch_count(const pp_batch *b);
pp_profile *batch_get(pp_batch *b, size_t i);
pp_profile *batch_take(pp_batch *b, size_t i);
void batch_ref(pp_batch *b);
void batch_unref(pp_batch *b);
void batch_set_ack(pp_batch *b, pp_ack_fn fn, void *arg);
void batch_adopt_acks(pp_batch *dst, pp_batch *src);
int batch_refcount(const pp_batch *b);

/* Sum of profile_size over the batch: the payload bytes (metrics, the
 * exporter's batching). */
size_t batch_bytes(const pp_batch *b);
/* Sum of profile_charge plus the batch itself: what queues count. */
size_t batch_charge(const pp_batch *b);
/* Frees the decoded trees that raw bytes can give back
 * (profile_shed_tree), if the caller holds the only reference to b and b
 * is not a view; else nothing. Returns the bytes freed. */
size_t batch_shed_trees(pp_batch *b);
/* Counts the batch's profiles as lost in its ack (queue overflow, deadline). */
void batch_mark_lost(pp_batch *b);
/* Takes ownership of b; returns a batch only the caller holds: b itself if
 * it was the only reference, else a copy of it (same ack). */
pp_batch *batch_make_exclusive(pp_batch *b);
/* A batch that borrows the profiles of `parts` (a reference to each is
 * taken). Read-only: for exporter workers. */
pp_batch *batch_view(pp_batch *const *parts, size_t n);

#endif
