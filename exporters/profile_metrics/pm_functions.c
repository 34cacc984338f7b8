/* pm_functions: see pm_functions.h. Ranking is a partial selection of the
 * N largest windowed sums over the tracked set (N is small), once per CPU
 * profile; lookups by name go through an open-addressing index of twice
 * the tracked capacity, rebuilt when functions are forgotten. */
#include "pm_functions.h"

#include <stdlib.h>
#include <string.h>

#include "fnv.h"

static uint64_t hash_name(const char *s)
{
    return fnv1a_str(FNV_OFFSET, s);
}

static int index_alloc(pm_fn_table *t, size_t max)
{
    if (t->slots)
        return 0;
    t->fns = calloc(max, sizeof *t->fns);
    t->n_slots = 2 * max;
    t->slots = calloc(t->n_slots, sizeof *t->slots);
    t->max = max;
    if (!t->fns || !t->slots) {
        free(t->fns);
        free(t->slots);
        t->fns = NULL;
        t->slots = NULL;
        return -1;
    }
    return 0;
}

static void index_put(pm_fn_table *t, size_t i)
{
    size_t s = (size_t)(t->fns[i].hash % t->n_slots);
    while (t->slots[s])
        s = (s + 1) % t->n_slots;
    t->slots[s] = (uint32_t)(i + 1);
}

static pm_fn *lookup(pm_fn_table *t, const char *name, uint64_t hash)
{
    size_t s = (size_t)(hash % t->n_slots);
    while (t->slots[s]) {
        pm_fn *f = &t->fns[t->slots[s] - 1];
        if (f->hash == hash && strcmp(f->name, name) == 0)
            return f;
        s = (s + 1) % t->n_slots;
    }
    return NULL;
}

static double window_sum(const pm_fn_table *t, const pm_fn *f)
{
    double sum = 0;
    for (size_t b = 0; b < PM_FN_BUCKETS; b++)
        if (t->bucket_epoch[b] > t->newest_epoch - PM_FN_BUCKETS)
            sum += f->bucket[b];
    return sum;
}

typedef struct ranked {
    double sum;
    size_t i;
} ranked;

static int by_sum(const void *a, const void *b)
{
    double x = ((const ranked *)a)->sum, y = ((const ranked *)b)->sum;
    return x < y ? -1 : x > y;
}

/* Forgets the half of the non-exposed functions with the least windowed
 * CPU, so that a new one fits. */
static int forget_least(pm_fn_table *t)
{
    ranked *r = malloc(t->n * sizeof *r);
    size_t n = 0, k = 0;
    if (!r)
        return -1;
    for (size_t i = 0; i < t->n; i++)
        if (!t->fns[i].exposed)
            r[n++] = (ranked){window_sum(t, &t->fns[i]), i};
    qsort(r, n, sizeof *r, by_sum);
    size_t drop = n / 2 ? n / 2 : n;
    for (size_t j = 0; j < drop; j++) {
        free(t->fns[r[j].i].name);
        t->fns[r[j].i].name = NULL;
    }
    free(r);
    for (size_t i = 0; i < t->n; i++)
        if (t->fns[i].name)
            t->fns[k++] = t->fns[i];
    t->n = k;
    memset(t->slots, 0, t->n_slots * sizeof *t->slots);
    for (size_t i = 0; i < t->n; i++)
        index_put(t, i);
    return 0;
}

/* Moves the ring to `epoch` if it is newer; the bucket slot for it, or -1
 * when it is older than the window. */
static int bucket_for(pm_fn_table *t, int64_t epoch)
{
    size_t b = (size_t)(epoch % PM_FN_BUCKETS);
    if (epoch <= t->newest_epoch - PM_FN_BUCKETS)
        return -1;
    if (t->bucket_epoch[b] != epoch) {
        if (t->bucket_epoch[b] > epoch)
            return -1;
        for (size_t i = 0; i < t->n; i++)
            t->fns[i].bucket[b] = 0;
        t->bucket_epoch[b] = epoch;
    }
    if (epoch > t->newest_epoch)
        t->newest_epoch = epoch;
    return (int)b;
}

static pm_fn *find_or_add(pm_fn_table *t, const char *name)
{
    uint64_t hash = hash_name(name);
    pm_fn *f = lookup(t, name, hash);
    if (f)
        return f;
    if (t->n == t->max && (forget_least(t) < 0 || t->n == t->max))
        return NULL;
    f = &t->fns[t->n];
    memset(f, 0, sizeof *f);
    f->name = strdup(name);
    if (!f->name)
        return NULL;
    f->hash = hash;
    index_put(t, t->n++);
    return f;
}

static void expose(pm_fn *f, pm_fn_cap *cap, int on)
{
    if (on == f->exposed)
        return;
    f->exposed = on;
    f->fresh = on;
    f->self_total = f->cum_total = 0;
    if (on) {
        cap->exposed++;
    } else {
        cap->exposed--;
        cap->expired++;
    }
}

/* Exposes the top N by windowed self CPU and expires the others. */
static int rerank(pm_fn_table *t, const pm_fn_params *p, pm_fn_cap *cap)
{
    ranked *r = malloc((t->n ? t->n : 1) * sizeof *r);
    size_t n = 0;
    if (!r)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        double sum = window_sum(t, &t->fns[i]);
        if (sum > 0)
            r[n++] = (ranked){sum, i};
    }
    qsort(r, n, sizeof *r, by_sum);
    size_t keep_from = n > p->top_n ? n - p->top_n : 0;
    for (size_t j = 0; j < keep_from; j++)
        expose(&t->fns[r[j].i], cap, 0);
    for (size_t i = 0; i < t->n; i++)
        if (t->fns[i].exposed && window_sum(t, &t->fns[i]) <= 0)
            expose(&t->fns[i], cap, 0);
    for (size_t j = n; j > keep_from; j--) {
        pm_fn *f = &t->fns[r[j - 1].i];
        if (f->exposed)
            continue;
        if (cap->exposed >= cap->limit) {
            cap->hits++;
            continue;
        }
        expose(f, cap, 1);
    }
    free(r);
    return 0;
}

int pm_fn_add(pm_fn_table *t, const pm_fn_params *p, pm_fn_cap *cap, const pm_fn_cost *costs,
              size_t n, double scale, int64_t until_ns, int64_t ts_ms)
{
    if (index_alloc(t, p->max_tracked) < 0)
        return -1;
    int b = bucket_for(t, until_ns / p->bucket_ns);
    int rc = 0;
    t->seq++;
    for (size_t i = 0; i < n; i++) {
        pm_fn *f = find_or_add(t, costs[i].name);
        if (!f) {
            rc = -1;
            continue;
        }
        if (f->pending_seq != t->seq)
            f->pending_self = f->pending_cum = 0;
        f->pending_seq = t->seq;
        f->pending_self += costs[i].self_s * scale;
        f->pending_cum += costs[i].cum_s * scale;
        if (b >= 0)
            f->bucket[b] += costs[i].self_s * scale;
    }
    if (rerank(t, p, cap) < 0)
        return -1;
    /* a series that changed, or starts (at 0 when its function is not in
     * this profile), is stamped anew: Prometheus refuses a new value at a
     * timestamp it has */
    for (size_t i = 0; i < t->n; i++) {
        pm_fn *f = &t->fns[i];
        int in_profile = f->pending_seq == t->seq;
        if (!f->exposed || (!in_profile && !f->fresh))
            continue;
        if (in_profile) {
            f->self_total += f->pending_self;
            f->cum_total += f->pending_cum;
        }
        f->ts_ms = ts_ms > f->ts_ms ? ts_ms : f->ts_ms + 1;
        f->fresh = 0;
    }
    return rc;
}

void pm_fn_free(pm_fn_table *t, pm_fn_cap *cap)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->fns[i].exposed)
            cap->exposed--;
        free(t->fns[i].name);
    }
    free(t->fns);
    free(t->slots);
    memset(t, 0, sizeof *t);
}
