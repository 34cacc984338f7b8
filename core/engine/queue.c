/* queue: a mutex, two condition variables (not empty / not full) and a
 * singly linked list. Sizes are what the batch holds (batch_charge: raw
 * bytes plus any decoded tree), measured once, at push, so the bound does
 * not drift if a profile's payload changes form later. Receivers' trees
 * are shed before the pipeline queue (instance_emit); a tree built while a
 * batch waits (another pipeline sharing it decodes) is counted by the next
 * queue it enters, and by the memory limit's RSS reading meanwhile. */
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "batch.h"

typedef struct queue_item {
    pp_batch *batch;
    void *tag;
    size_t bytes;
    struct queue_item *next;
} queue_item;

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    queue_item *head, *tail;
    size_t bytes, length, max_bytes;
    queue_policy policy;
    queue_drop_fn on_drop;
    void *drop_arg;
    int closed;
    size_t blocked;                      /* pushers waiting for room */
    struct queue *next_live, *prev_live; /* every queue, for memlimit */
};

/* Every queue of the process, so that the memory limit can read their
 * total and make the drop_oldest ones drop. Lock order: live_lock, then a
 * queue's lock. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static queue *live_head;
static atomic_size_t live_bytes;
static atomic_size_t pushed_bytes; /* ever pushed, wrapping */

static void live_add(queue *q)
{
    pthread_mutex_lock(&live_lock);
    q->next_live = live_head;
    if (live_head)
        live_head->prev_live = q;
    live_head = q;
    pthread_mutex_unlock(&live_lock);
}

static void live_remove(queue *q)
{
    pthread_mutex_lock(&live_lock);
    if (q->prev_live)
        q->prev_live->next_live = q->next_live;
    else if (live_head == q)
        live_head = q->next_live;
    if (q->next_live)
        q->next_live->prev_live = q->prev_live;
    pthread_mutex_unlock(&live_lock);
}

queue *queue_new(size_t max_bytes, queue_policy policy, queue_drop_fn on_drop, void *arg)
{
    queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_empty, &attr);
    pthread_cond_init(&q->not_full, &attr);
    pthread_condattr_destroy(&attr);
    q->max_bytes = max_bytes;
    q->policy = policy;
    q->on_drop = on_drop;
    q->drop_arg = arg;
    live_add(q);
    return q;
}

void queue_free(queue *q)
{
    if (!q)
        return;
    live_remove(q);
    atomic_fetch_sub(&live_bytes, q->bytes);
    queue_item *it = q->head;
    while (it) {
        queue_item *next = it->next;
        batch_unref(it->batch);
        free(it);
        it = next;
    }
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q);
}

static queue_item *queue_unlink_head(queue *q)
{
    queue_item *it = q->head;
    q->head = it->next;
    if (!q->head)
        q->tail = NULL;
    q->bytes -= it->bytes;
    atomic_fetch_sub(&live_bytes, it->bytes);
    q->length--;
    return it;
}

static size_t queue_drop_head(queue *q)
{
    queue_item *old = queue_unlink_head(q);
    size_t profiles = batch_count(old->batch);
    if (q->on_drop)
        q->on_drop(q->drop_arg, old->batch, old->tag);
    else
        batch_unref(old->batch);
    free(old);
    return profiles;
}

static int queue_fits(const queue *q, size_t bytes)
{
    return q->length == 0 || q->bytes + bytes <= q->max_bytes;
}

int queue_push(queue *q, pp_batch *b)
{
    return queue_push_tagged(q, b, NULL);
}

int queue_push_tagged(queue *q, pp_batch *b, void *tag)
{
    queue_item *it = calloc(1, sizeof *it);
    if (!it)
        return -1;
    it->batch = b;
    it->tag = tag;
    it->bytes = batch_charge(b);

    pthread_mutex_lock(&q->lock);
    if (q->policy == QUEUE_BLOCK) {
        while (!q->closed && !queue_fits(q, it->bytes)) {
            q->blocked++;
            pthread_cond_wait(&q->not_full, &q->lock);
            q->blocked--;
        }
    } else {
        while (!q->closed && !queue_fits(q, it->bytes))
            queue_drop_head(q);
    }
    if (q->closed) {
        pthread_mutex_unlock(&q->lock);
        free(it);
        return -1;
    }
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->bytes += it->bytes;
    atomic_fetch_add(&live_bytes, it->bytes);
    atomic_fetch_add(&pushed_bytes, it->bytes);
    q->length++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

pp_batch *queue_pop(queue *q, int64_t timeout_ns)
{
    return queue_pop_tagged(q, timeout_ns, NULL);
}

pp_batch *queue_pop_tagged(queue *q, int64_t timeout_ns, void **tag)
{
    struct timespec until;
    if (timeout_ns >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t ns = until.tv_nsec + timeout_ns % 1000000000;
        until.tv_sec += (time_t)(timeout_ns / 1000000000 + ns / 1000000000);
        until.tv_nsec = ns % 1000000000;
    }
    pthread_mutex_lock(&q->lock);
    while (!q->head && !q->closed) {
        if (timeout_ns < 0) {
            pthread_cond_wait(&q->not_empty, &q->lock);
        } else if (pthread_cond_timedwait(&q->not_empty, &q->lock, &until) == ETIMEDOUT) {
            break;
        }
    }
    pp_batch *b = NULL;
    if (q->head) {
        queue_item *it = queue_unlink_head(q);
        b = it->batch;
        if (tag)
            *tag = it->tag;
        free(it);
        pthread_cond_broadcast(&q->not_full);
    }
    pthread_mutex_unlock(&q->lock);
    return b;
}

void queue_close(queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

int queue_closed_and_empty(queue *q)
{
    pthread_mutex_lock(&q->lock);
    int r = q->closed && !q->head;
    pthread_mutex_unlock(&q->lock);
    return r;
}

size_t queue_bytes(queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t r = q->bytes;
    pthread_mutex_unlock(&q->lock);
    return r;
}

size_t queue_length(queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t r = q->length;
    pthread_mutex_unlock(&q->lock);
    return r;
}

size_t queue_blocked_pushers(queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t r = q->blocked;
    pthread_mutex_unlock(&q->lock);
    return r;
}

size_t queue_max_bytes(const queue *q)
{
    return q->max_bytes; /* set once at queue_new */
}

size_t queue_total_bytes(void)
{
    return atomic_load(&live_bytes);
}

size_t queue_pushed_bytes(void)
{
    return atomic_load(&pushed_bytes);
}

size_t queue_shed_oldest(size_t want, size_t *profiles)
{
    size_t freed = 0, dropped = 0;
    pthread_mutex_lock(&live_lock);
    for (queue *q = live_head; q && freed < want; q = q->next_live) {
        if (q->policy != QUEUE_DROP_OLDEST)
            continue;
        pthread_mutex_lock(&q->lock);
        while (q->head && freed < want) {
            freed += q->head->bytes;
            dropped += queue_drop_head(q);
        }
        pthread_cond_broadcast(&q->not_full);
        pthread_mutex_unlock(&q->lock);
    }
    pthread_mutex_unlock(&live_lock);
    if (profiles)
        *profiles = dropped;
    return freed;
}
