/* file_seen: a chained hash table from path to the version read (see
 * file_seen.h). Buckets double when the table is more than full, so lookups
 * stay O(1) for drop-in folders of any size. */
#include "file_seen.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fnv.h"

#define SEEN_INITIAL_BUCKETS 64

typedef struct seen_entry {
    char *path;
    seen_version version;
    unsigned scan; /* the scan that last marked it */
    int finished;
    struct seen_entry *next;
} seen_entry;

struct seen_set {
    seen_entry **buckets;
    size_t n_buckets; /* a power of two */
    size_t count;
    unsigned scan;
};

/* FNV-1a: short, and good enough for paths. */
static uint64_t seen_hash(const char *s)
{
    return fnv1a_str(FNV_OFFSET, s);
}

seen_set *seen_new(void)
{
    seen_set *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->buckets = calloc(SEEN_INITIAL_BUCKETS, sizeof *s->buckets);
    if (!s->buckets) {
        free(s);
        return NULL;
    }
    s->n_buckets = SEEN_INITIAL_BUCKETS;
    return s;
}

void seen_free(seen_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_buckets; i++) {
        seen_entry *e = s->buckets[i];
        while (e) {
            seen_entry *next = e->next;
            free(e->path);
            free(e);
            e = next;
        }
    }
    free(s->buckets);
    free(s);
}

static seen_entry *seen_find(const seen_set *s, const char *path)
{
    seen_entry *e = s->buckets[seen_hash(path) & (s->n_buckets - 1)];
    while (e && strcmp(e->path, path) != 0)
        e = e->next;
    return e;
}

static int same_version(const seen_version *a, const seen_version *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

void seen_begin_scan(seen_set *s)
{
    s->scan++;
}

int seen_check(seen_set *s, const char *path, const seen_version *v)
{
    seen_entry *e = seen_find(s, path);
    if (!e)
        return 0;
    e->scan = s->scan; /* still on disk: keep it even if it changed */
    return same_version(&e->version, v);
}

/* Doubles the bucket array; on allocation failure the table stays as it
 * is (only slower). */
static void seen_grow(seen_set *s)
{
    size_t n = s->n_buckets * 2;
    seen_entry **buckets = calloc(n, sizeof *buckets);
    if (!buckets)
        return;
    for (size_t i = 0; i < s->n_buckets; i++) {
        seen_entry *e = s->buckets[i];
        while (e) {
            seen_entry *next = e->next;
            size_t b = seen_hash(e->path) & (n - 1);
            e->next = buckets[b];
            buckets[b] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = buckets;
    s->n_buckets = n;
}

int seen_record(seen_set *s, const char *path, const seen_version *v)
{
    seen_entry *e = seen_find(s, path);
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e || !(e->path = strdup(path))) {
            free(e);
            return -1;
        }
        if (s->count >= s->n_buckets)
            seen_grow(s);
        size_t b = seen_hash(path) & (s->n_buckets - 1);
        e->next = s->buckets[b];
        s->buckets[b] = e;
        s->count++;
    }
    if (!same_version(&e->version, v))
        e->finished = 0;
    e->version = *v;
    e->scan = s->scan;
    return 0;
}

int seen_finish(seen_set *s, const char *path, const seen_version *v)
{
    seen_entry *e = seen_find(s, path);
    if (!e || e->finished || !same_version(&e->version, v))
        return 0;
    e->finished = 1;
    return 1;
}

const char *seen_find_moved(const seen_set *s, const char *path, const seen_version *v,
                            int *finished)
{
    for (size_t i = 0; i < s->n_buckets; i++)
        for (seen_entry *e = s->buckets[i]; e; e = e->next)
            if (same_version(&e->version, v) && strcmp(e->path, path) != 0) {
                *finished = e->finished;
                return e->path;
            }
    return NULL;
}

void seen_each_finished(const seen_set *s,
                        void (*fn)(void *arg, const char *path, const seen_version *v), void *arg)
{
    for (size_t i = 0; i < s->n_buckets; i++)
        for (seen_entry *e = s->buckets[i]; e; e = e->next)
            if (e->finished)
                fn(arg, e->path, &e->version);
}

void seen_forget(seen_set *s, const char *path)
{
    seen_entry **link = &s->buckets[seen_hash(path) & (s->n_buckets - 1)];
    while (*link && strcmp((*link)->path, path) != 0)
        link = &(*link)->next;
    seen_entry *e = *link;
    if (!e)
        return;
    *link = e->next;
    free(e->path);
    free(e);
    s->count--;
}

size_t seen_sweep(seen_set *s)
{
    size_t finished = 0;
    for (size_t i = 0; i < s->n_buckets; i++) {
        seen_entry **link = &s->buckets[i];
        while (*link) {
            seen_entry *e = *link;
            if (e->scan == s->scan) {
                link = &e->next;
                continue;
            }
            *link = e->next;
            finished += e->finished;
            free(e->path);
            free(e);
            s->count--;
        }
    }
    return finished;
}

size_t seen_count(const seen_set *s)
{
    return s->count;
}

/* ---------------------------------------------------------------- */
/* Parking across a reload                                           */
/* ---------------------------------------------------------------- */

typedef struct parked_set {
    char *id;
    seen_set *set;
    struct parked_set *next;
} parked_set;

static pthread_mutex_t parked_lock = PTHREAD_MUTEX_INITIALIZER;
static parked_set *parked;

/* Unlinks and returns the entry for id; call with parked_lock held. */
static parked_set *parked_take(const char *id)
{
    for (parked_set **link = &parked; *link; link = &(*link)->next) {
        parked_set *p = *link;
        if (strcmp(p->id, id) != 0)
            continue;
        *link = p->next;
        return p;
    }
    return NULL;
}

void seen_park(const char *id, seen_set *s)
{
    parked_set *p = calloc(1, sizeof *p);
    if (!p || !(p->id = strdup(id))) { /* the next instance reads the folder again */
        free(p);
        seen_free(s);
        return;
    }
    p->set = s;
    pthread_mutex_lock(&parked_lock);
    parked_set *old = parked_take(id);
    p->next = parked;
    parked = p;
    pthread_mutex_unlock(&parked_lock);
    if (old) {
        seen_free(old->set);
        free(old->id);
        free(old);
    }
}

seen_set *seen_adopt(const char *id)
{
    pthread_mutex_lock(&parked_lock);
    parked_set *p = parked_take(id);
    pthread_mutex_unlock(&parked_lock);
    if (!p)
        return NULL;
    seen_set *s = p->set;
    free(p->id);
    free(p);
    return s;
}
