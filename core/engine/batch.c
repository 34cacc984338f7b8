/* batch: see batch.h. The ack is a small shared record: each batch (or
 * copy) carrying it holds one count, and the callback runs when the last
 * holder is freed. Views hold their parts, so an ack fires only after the
 * exporter that gathered a batch into a view is done with the view. */
#include "batch.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "profile.h"

typedef struct batch_ack {
    atomic_long holders;
    atomic_ulong lost;
    pp_ack_fn fn;
    void *arg;
} batch_ack;

struct pp_batch {
    atomic_int refs;
    pp_profile **profiles;
    size_t n, cap;
    batch_ack **acks; /* each held once by this batch */
    size_t n_acks;
    pp_batch **parts; /* views only: the batches whose profiles we borrow */
    size_t n_parts;
};

pp_batch *batch_new(void)
{
    pp_batch *b = calloc(1, sizeof *b);
    if (b)
        atomic_init(&b->refs, 1);
    return b;
}

static int batch_reserve(pp_batch *b, size_t want)
{
    if (want <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap * 2 : 8;
    while (cap < want)
        cap *= 2;
    pp_profile **grown = realloc(b->profiles, cap * sizeof *grown);
    if (!grown)
        return -1;
    b->profiles = grown;
    b->cap = cap;
    return 0;
}

int batch_add(pp_batch *b, pp_profile *p)
{
    if (!b || !p || b->parts || batch_reserve(b, b->n + 1) != 0) {
        if (p)
            profile_free(p);
        return -1;
    }
    b->profiles[b->n++] = p;
    return 0;
}

size_t batch_count(const pp_batch *b)
{
    return b ? b->n : 0;
}

pp_profile *batch_get(pp_batch *b, size_t i)
{
    return (b && i < b->n) ? b->profiles[i] : NULL;
}

pp_profile *batch_take(pp_batch *b, size_t i)
{
    if (!b || i >= b->n || b->parts)
        return NULL;
    pp_profile *p = b->profiles[i];
    for (size_t j = i + 1; j < b->n; j++)
        b->profiles[j - 1] = b->profiles[j];
    b->n--;
    return p;
}

void batch_ref(pp_batch *b)
{
    atomic_fetch_add(&b->refs, 1);
}

int batch_refcount(const pp_batch *b)
{
    return atomic_load(&((pp_batch *)b)->refs);
}

static void ack_hold(batch_ack *a)
{
    if (a)
        atomic_fetch_add(&a->holders, 1);
}

static void ack_release(batch_ack *a)
{
    if (!a || atomic_fetch_sub(&a->holders, 1) != 1)
        return;
    a->fn(a->arg, atomic_load(&a->lost));
    free(a);
}

void batch_unref(pp_batch *b)
{
    if (!b || atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    if (b->parts) {
        for (size_t i = 0; i < b->n_parts; i++)
            batch_unref(b->parts[i]);
        free(b->parts);
    } else {
        for (size_t i = 0; i < b->n; i++)
            profile_free(b->profiles[i]);
    }
    free(b->profiles);
    for (size_t i = 0; i < b->n_acks; i++)
        ack_release(b->acks[i]);
    free(b->acks);
    free(b);
}

/* b holds one more count of a (unless it already holds a). */
static int batch_hold(pp_batch *b, batch_ack *a)
{
    for (size_t i = 0; i < b->n_acks; i++)
        if (b->acks[i] == a)
            return 0;
    batch_ack **grown = realloc(b->acks, (b->n_acks + 1) * sizeof *grown);
    if (!grown)
        return -1;
    b->acks = grown;
    ack_hold(a);
    b->acks[b->n_acks++] = a;
    return 0;
}

void batch_set_ack(pp_batch *b, pp_ack_fn fn, void *arg)
{
    if (!b || !fn)
        return;
    batch_ack *a = calloc(1, sizeof *a);
    if (!a || batch_hold(b, a) != 0) {
        free(a);
        fn(arg, b->n); /* cannot track it: report it lost rather than hang */
        return;
    }
    a->fn = fn; /* held once, by b */
    a->arg = arg;
}

void batch_adopt_acks(pp_batch *dst, pp_batch *src)
{
    for (size_t i = 0; dst && src && i < src->n_acks; i++)
        if (batch_hold(dst, src->acks[i]) != 0)
            atomic_fetch_add(&src->acks[i]->lost, 1); /* no memory: say so */
}

size_t batch_bytes(const pp_batch *b)
{
    size_t total = 0;
    for (size_t i = 0; i < b->n; i++)
        total += profile_size(b->profiles[i]);
    return total;
}

size_t batch_charge(const pp_batch *b)
{
    size_t total = sizeof(*b) + b->cap * sizeof(*b->profiles);
    for (size_t i = 0; i < b->n; i++)
        total += profile_charge(b->profiles[i]);
    return total;
}

size_t batch_shed_trees(pp_batch *b)
{
    if (atomic_load(&b->refs) != 1 || b->parts)
        return 0;
    size_t freed = 0;
    for (size_t i = 0; i < b->n; i++)
        freed += profile_shed_tree(b->profiles[i]);
    return freed;
}

void batch_mark_lost(pp_batch *b)
{
    for (size_t i = 0; i < b->n_acks; i++)
        atomic_fetch_add(&b->acks[i]->lost, b->n);
    for (size_t i = 0; i < b->n_parts; i++)
        batch_mark_lost(b->parts[i]);
}

pp_batch *batch_make_exclusive(pp_batch *b)
{
    if (atomic_load(&b->refs) == 1 && !b->parts)
        return b;
    pp_batch *copy = batch_new();
    for (size_t i = 0; copy && i < b->n; i++) {
        pp_profile *p = profile_clone(b->profiles[i]);
        if (!p || batch_add(copy, p) != 0) {
            batch_unref(copy);
            copy = NULL;
        }
    }
    if (!copy) { /* out of memory: the caller counts it dropped */
        batch_mark_lost(b);
        batch_unref(b);
        return NULL;
    }
    batch_adopt_acks(copy, b);
    batch_unref(b);
    return copy;
}

pp_batch *batch_view(pp_batch *const *parts, size_t n)
{
    pp_batch *v = batch_new();
    if (!v)
        return NULL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += parts[i]->n;
    v->parts = calloc(n ? n : 1, sizeof *v->parts);
    v->profiles = calloc(total ? total : 1, sizeof *v->profiles);
    if (!v->parts || !v->profiles) {
        free(v->parts);
        free(v->profiles);
        free(v);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        batch_ref(parts[i]);
        v->parts[v->n_parts++] = parts[i];
        for (size_t j = 0; j < parts[i]->n; j++)
            v->profiles[v->n++] = parts[i]->profiles[j];
    }
    v->cap = total;
    return v;
}
