/* kafka_offsets: see kafka_offsets.h. Each partition keeps its unfinished
 * window as an array of entries with a start index: acks pop the finished
 * prefix from the front, tracking appends at the back, and the array is
 * compacted when the popped part is the larger half. */
#include "kafka_offsets.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_INITIAL_CAP 64

typedef enum entry_state {
    ENTRY_IN_FLIGHT = 0,
    ENTRY_DONE,
    ENTRY_LOST,
} entry_state;

typedef struct entry {
    int64_t offset;
    entry_state state;
} entry;

typedef struct partition_slot {
    char *topic; /* owned */
    int32_t partition;
    int active;
    uint64_t generation;
    entry *window; /* window[start .. len) unfinished or not yet popped */
    size_t start, len, cap;
    int64_t committable; /* one past the finished prefix; -1 none yet */
    int64_t committed;   /* last value handed to visit/revoke */
    int64_t confirmed;   /* last commit the group coordinator accepted; -1 */
    int64_t base;        /* first offset tracked since assigned; -1 */
} partition_slot;

struct kafka_offsets {
    pthread_mutex_t lock;
    size_t refs; /* owner + outstanding acks */
    partition_slot *slots;
    size_t n_slots;
    uint64_t next_generation;
};

struct kafka_ack {
    kafka_offsets *ko;
    size_t slot;
    uint64_t generation;
    int64_t offset;
};

kafka_offsets *kafka_offsets_new(void)
{
    kafka_offsets *ko = calloc(1, sizeof *ko);
    if (ko == NULL)
        return NULL;
    pthread_mutex_init(&ko->lock, NULL);
    ko->refs = 1;
    ko->next_generation = 1;
    return ko;
}

static void offsets_free(kafka_offsets *ko)
{
    for (size_t i = 0; i < ko->n_slots; i++) {
        free(ko->slots[i].topic);
        free(ko->slots[i].window);
    }
    free(ko->slots);
    pthread_mutex_destroy(&ko->lock);
    free(ko);
}

/* Drops a reference; called with the lock held, returns with it released. */
static void unref_unlock(kafka_offsets *ko)
{
    size_t left = --ko->refs;
    pthread_mutex_unlock(&ko->lock);
    if (left == 0)
        offsets_free(ko);
}

void kafka_offsets_release(kafka_offsets *ko)
{
    if (ko == NULL)
        return;
    pthread_mutex_lock(&ko->lock);
    unref_unlock(ko);
}

static partition_slot *find_slot(kafka_offsets *ko, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < ko->n_slots; i++) {
        partition_slot *s = &ko->slots[i];
        if (s->partition == partition && strcmp(s->topic, topic) == 0)
            return s;
    }
    return NULL;
}

static void slot_reset(kafka_offsets *ko, partition_slot *s)
{
    s->start = s->len = 0;
    s->generation = ko->next_generation++;
}

int kafka_offsets_assign(kafka_offsets *ko, const char *topic, int32_t partition)
{
    pthread_mutex_lock(&ko->lock);
    partition_slot *s = find_slot(ko, topic, partition);
    if (s == NULL) {
        partition_slot *grown = realloc(ko->slots, (ko->n_slots + 1) * sizeof *grown);
        char *name = strdup(topic);
        if (grown == NULL || name == NULL) {
            if (grown)
                ko->slots = grown;
            free(name);
            pthread_mutex_unlock(&ko->lock);
            return -1;
        }
        ko->slots = grown;
        s = &ko->slots[ko->n_slots++];
        memset(s, 0, sizeof *s);
        s->topic = name;
        s->partition = partition;
    }
    slot_reset(ko, s);
    s->active = 1;
    s->committable = s->committed = s->confirmed = s->base = -1;
    pthread_mutex_unlock(&ko->lock);
    return 0;
}

int64_t kafka_offsets_revoke(kafka_offsets *ko, const char *topic, int32_t partition,
                             size_t *in_flight, size_t *unconfirmed)
{
    int64_t commit = -1;
    *in_flight = *unconfirmed = 0;
    pthread_mutex_lock(&ko->lock);
    partition_slot *s = find_slot(ko, topic, partition);
    if (s != NULL && s->active) {
        commit = s->committed = s->committable;
        *in_flight = s->len - s->start;
        int64_t from = s->confirmed > s->base ? s->confirmed : s->base;
        if (s->committable > from && from >= 0)
            *unconfirmed = (size_t)(s->committable - from);
        slot_reset(ko, s);
        s->active = 0;
    }
    pthread_mutex_unlock(&ko->lock);
    return commit;
}

static int window_append(partition_slot *s, int64_t offset)
{
    if (s->base < 0)
        s->base = offset;
    /* A redelivery (after a seek) replaces what was tracked from there on. */
    while (s->len > s->start && s->window[s->len - 1].offset >= offset)
        s->len--;
    if (s->start > 0 && s->start >= s->len - s->start) {
        memmove(s->window, s->window + s->start, (s->len - s->start) * sizeof *s->window);
        s->len -= s->start;
        s->start = 0;
    }
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : WINDOW_INITIAL_CAP;
        entry *grown = realloc(s->window, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        s->window = grown;
        s->cap = cap;
    }
    s->window[s->len++] = (entry){.offset = offset, .state = ENTRY_IN_FLIGHT};
    return 0;
}

kafka_ack *kafka_offsets_track(kafka_offsets *ko, const char *topic, int32_t partition,
                               int64_t offset)
{
    kafka_ack *ack = malloc(sizeof *ack);
    if (ack == NULL)
        return NULL;
    pthread_mutex_lock(&ko->lock);
    partition_slot *s = find_slot(ko, topic, partition);
    if (s == NULL || !s->active || window_append(s, offset) != 0) {
        pthread_mutex_unlock(&ko->lock);
        free(ack);
        return NULL;
    }
    *ack = (kafka_ack){
        .ko = ko, .slot = (size_t)(s - ko->slots), .generation = s->generation, .offset = offset};
    ko->refs++;
    pthread_mutex_unlock(&ko->lock);
    return ack;
}

/* Binary search for offset in the window; NULL if it is not there. */
static entry *window_find(partition_slot *s, int64_t offset)
{
    size_t lo = s->start, hi = s->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->window[mid].offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->len && s->window[lo].offset == offset ? &s->window[lo] : NULL;
}

static void window_pop_done(partition_slot *s)
{
    while (s->start < s->len && s->window[s->start].state == ENTRY_DONE)
        s->committable = s->window[s->start++].offset + 1;
}

void kafka_offsets_ack(void *arg, uint64_t lost)
{
    kafka_ack *ack = arg;
    kafka_offsets *ko = ack->ko;
    pthread_mutex_lock(&ko->lock);
    partition_slot *s = &ko->slots[ack->slot];
    if (s->active && s->generation == ack->generation) {
        entry *e = window_find(s, ack->offset);
        if (e != NULL && e->state == ENTRY_IN_FLIGHT) {
            e->state = lost ? ENTRY_LOST : ENTRY_DONE;
            window_pop_done(s);
        }
    }
    free(ack);
    unref_unlock(ko);
}

void kafka_offsets_confirm(kafka_offsets *ko, const char *topic, int32_t partition, int64_t offset)
{
    pthread_mutex_lock(&ko->lock);
    partition_slot *s = find_slot(ko, topic, partition);
    if (s != NULL && s->active && offset > s->confirmed)
        s->confirmed = offset;
    pthread_mutex_unlock(&ko->lock);
}

size_t kafka_offsets_advanced(kafka_offsets *ko, int all, kafka_offsets_visit visit, void *arg)
{
    size_t n = 0;
    pthread_mutex_lock(&ko->lock);
    for (size_t i = 0; i < ko->n_slots; i++) {
        partition_slot *s = &ko->slots[i];
        if (!s->active || s->committable < 0 || (!all && s->committable <= s->committed))
            continue;
        s->committed = s->committable;
        visit(arg, s->topic, s->partition, s->committed);
        n++;
    }
    pthread_mutex_unlock(&ko->lock);
    return n;
}

int kafka_offsets_take_rewind(kafka_offsets *ko, char *topic, size_t topic_cap, int32_t *partition,
                              int64_t *offset, size_t *redelivered)
{
    int found = 0;
    pthread_mutex_lock(&ko->lock);
    for (size_t i = 0; i < ko->n_slots && !found; i++) {
        partition_slot *s = &ko->slots[i];
        if (!s->active || s->start == s->len || s->window[s->start].state != ENTRY_LOST)
            continue;
        snprintf(topic, topic_cap, "%s", s->topic);
        *partition = s->partition;
        *offset = s->window[s->start].offset;
        *redelivered = s->len - s->start - 1;
        slot_reset(ko, s);
        found = 1;
    }
    pthread_mutex_unlock(&ko->lock);
    return found;
}

size_t kafka_offsets_in_flight(kafka_offsets *ko)
{
    size_t n = 0;
    pthread_mutex_lock(&ko->lock);
    for (size_t i = 0; i < ko->n_slots; i++)
        if (ko->slots[i].active)
            n += ko->slots[i].len - ko->slots[i].start;
    pthread_mutex_unlock(&ko->lock);
    return n;
}
