/* queue: a FIFO of batches bounded in bytes, shared by producer threads
 * and one consumer. When full, `block` makes producers wait and
 * `drop_oldest` evicts the oldest batches (handed to a callback so the
 * owner counts them). One batch larger than the whole bound is still
 * accepted into an empty queue, so nothing is refused for its size alone. */
#ifndef PROFPIPE_QUEUE_H
#define PROFPIPE_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <profpipe/plugin.h>

#include "config.h"

typedef struct queue queue;
/* Called with each batch evicted by drop_oldest, and the tag it was
 * pushed with (the callback owns both). */
typedef void (*queue_drop_fn)(void *arg, pp_batch *b, void *tag);

queue *queue_new(size_t max_bytes, queue_policy policy, queue_drop_fn on_drop, void *arg);
void queue_free(queue *q); /* unrefs what is left */
/* Takes ownership of b. 0, or -1 if the queue is closed (b is returned
 * to the caller's ownership in that case: *b stays valid). */
int queue_push(queue *q, pp_batch *b);
/* The same, with an opaque tag that comes back with the batch. */
int queue_push_tagged(queue *q, pp_batch *b, void *tag);
/* Next batch, or NULL after timeout_ns (< 0: wait forever) or when the
 * queue is closed and empty. */
pp_batch *queue_pop(queue *q, int64_t timeout_ns);
pp_batch *queue_pop_tagged(queue *q, int64_t timeout_ns, void **tag);
/* Refuses further pushes and wakes every waiter; pops go on until empty. */
void queue_close(queue *q);
int queue_closed_and_empty(queue *q);
size_t queue_bytes(queue *q);
size_t queue_length(queue *q);
/* Pushers of a `block` queue waiting for room now (what a test or an
 * operator waits on, instead of sleeping). */
size_t queue_blocked_pushers(queue *q);
size_t queue_max_bytes(const queue *q); /* the bound given to queue_new */

/* What every queue of the process holds together, in bytes. */
size_t queue_total_bytes(void);
/* Bytes ever pushed to any queue (wrapping): it moves while profiles flow. */
size_t queue_pushed_bytes(void);
/* The memory limit's hard step: the drop_oldest queues drop their oldest
 * batches (through their drop callbacks, which count them) until `want`
 * bytes went, or they are empty; block queues keep theirs. Returns the
 * bytes dropped; *profiles (if not NULL) the profiles. */
size_t queue_shed_oldest(size_t want, size_t *profiles);

#endif
