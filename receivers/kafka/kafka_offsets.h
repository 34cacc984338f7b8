/* kafka_offsets: the kafka receiver's at-least-once bookkeeping, kept
 * free of librdkafka so it can be tested alone.
 *
 * For each assigned partition it keeps the consumed messages in the order
 * they came (offsets rise, possibly with gaps: compaction, transaction
 * markers) with the state of each: in flight, acknowledged, or lost. The
 * offset safe to commit is one past the longest acknowledged prefix, so a
 * message finished early never lets the commit skip one still in flight.
 *
 * Acknowledgements come from the host's threads (whichever drops the last
 * copy of a batch) while the consumer thread tracks, collects commits and
 * handles rebalances, so every call takes the tracker's mutex. Each
 * tracked message gets a kafka_ack handle, passed to batch_set_ack; a
 * handle carries the partition's generation, which changes on every
 * assignment and rewind, so a late ack for a message that was revoked (and
 * will be consumed again by whoever owns the partition now) is ignored.
 * The tracker is reference-counted by its owner and its outstanding
 * handles, so an ack arriving after the receiver is gone is still safe. */
#ifndef PROFPIPE_KAFKA_OFFSETS_H
#define PROFPIPE_KAFKA_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

typedef struct kafka_offsets kafka_offsets;
typedef struct kafka_ack kafka_ack;

/* Called for each partition whose commit point moved. */
typedef void (*kafka_offsets_visit)(void *arg, const char *topic, int32_t partition,
                                    int64_t offset);

/* A new tracker with one reference (the owner's); NULL when out of memory. */
kafka_offsets *kafka_offsets_new(void);
/* Drops the owner's reference; memory goes with the last outstanding ack. */
void kafka_offsets_release(kafka_offsets *ko);

/* Starts tracking a partition (a new generation). 0, or -1 out of memory. */
int kafka_offsets_assign(kafka_offsets *ko, const char *topic, int32_t partition);
/* Stops tracking it. Returns the offset to commit (-1: nothing finished)
 * and sets *in_flight to the messages not yet finished (consumed again by
 * the next owner: possible duplicates), and *unconfirmed to those finished
 * since the last confirmed commit (also consumed again if this last
 * commit fails; counted by offsets, so an upper bound across gaps). */
int64_t kafka_offsets_revoke(kafka_offsets *ko, const char *topic, int32_t partition,
                             size_t *in_flight, size_t *unconfirmed);
/* The group coordinator accepted a commit of `offset`. */
void kafka_offsets_confirm(kafka_offsets *ko, const char *topic, int32_t partition, int64_t offset);

/* Records a consumed message before it is handed on. Returns its ack
 * handle, or NULL if the partition is not assigned or memory ran out. A
 * handle is used exactly once, by kafka_offsets_ack. */
kafka_ack *kafka_offsets_track(kafka_offsets *ko, const char *topic, int32_t partition,
                               int64_t offset);
/* A pp_ack_fn: the message is finished; lost > 0 means some of its
 * profiles were dropped, so it must be consumed again. Frees the handle. */
void kafka_offsets_ack(void *ack, uint64_t lost);

/* Calls visit for each partition whose commit point moved since the last
 * call (or, with `all`, that has one at all: to repeat a commit that
 * failed), and remembers it as committed. Returns how many. */
size_t kafka_offsets_advanced(kafka_offsets *ko, int all, kafka_offsets_visit visit, void *arg);

/* If some partition's oldest unfinished message was lost, starts that
 * partition over from it (a new generation) and returns 1 with where to
 * seek; *redelivered is how many finished messages after it will come
 * again. 0 when there is none. */
int kafka_offsets_take_rewind(kafka_offsets *ko, char *topic, size_t topic_cap, int32_t *partition,
                              int64_t *offset, size_t *redelivered);

/* Messages tracked and not yet finished, over all partitions. */
size_t kafka_offsets_in_flight(kafka_offsets *ko);

#endif
