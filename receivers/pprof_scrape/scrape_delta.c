/* scrape_delta: cumulative sample types -> per-interval deltas.
 *
 * Design and rules: see scrape_delta.h. Two open-addressing tables (key ->
 * summed cumulative values) are kept per series: `prev` holds the last
 * scrape, `cur` is filled from the new one, then they swap. Samples of
 * one profile that share a key (same frames and labels, different
 * addresses) are summed first; the whole key's delta is written into the
 * first such sample and zero into the others, so the profile's totals are
 * exactly current minus previous. */
#include "scrape_delta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Cumulative sample types one profile may have (Go has two). */
#define DELTA_MAX_TYPES 8
#define DELTA_INITIAL_CAP 64
/* FNV-1a 64-bit parameters. */
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull
/* Kept apart from any real string hash: marks a frame without symbols. */
#define KEY_NO_SYMBOL 0x9e3779b97f4a7c15ull

typedef struct delta_table {
    uint64_t *keys; /* 0 = empty slot */
    int64_t *vals;  /* cap * width */
    unsigned char *used; /* EMIT pass: the key's delta was given out */
    size_t cap;
    size_t count;
} delta_table;

struct scrape_delta {
    delta_table prev;
    delta_table cur;
    int have_prev;
    uint64_t signature; /* of the sample types the baseline had */
    size_t width;       /* cumulative types in the baseline */
    size_t idx[DELTA_MAX_TYPES];
    int64_t prev_time_ns;
    uint64_t *sample_keys; /* scratch: one key per sample */
    size_t sample_keys_cap;
    uint64_t *loc_hashes; /* scratch: one hash per location (by index) */
    size_t loc_hashes_cap;
};

static const struct {
    const char *type;
    const char *unit;
} cumulative_types[] = {
    {"alloc_objects", "count"},
    {"alloc_space", "bytes"},
    {"contentions", "count"},
    {"delay", "nanoseconds"},
};

int scrape_delta_is_cumulative(const char *type, const char *unit)
{
    size_t i;
    for (i = 0; i < sizeof cumulative_types / sizeof cumulative_types[0]; i++)
        if (strcmp(type, cumulative_types[i].type) == 0 &&
            strcmp(unit, cumulative_types[i].unit) == 0)
            return 1;
    return 0;
}

scrape_delta *scrape_delta_new(void) { return calloc(1, sizeof(scrape_delta)); }

static void table_free(delta_table *t)
{
    free(t->keys);
    free(t->vals);
    free(t->used);
    memset(t, 0, sizeof *t);
}

void scrape_delta_free(scrape_delta *d)
{
    if (!d)
        return;
    table_free(&d->prev);
    table_free(&d->cur);
    free(d->sample_keys);
    free(d->loc_hashes);
    free(d);
}

size_t scrape_delta_size(const scrape_delta *d) { return d->have_prev ? d->prev.count : 0; }

/* ---- hashing ---- */

static uint64_t fnv_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = data;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= b[i];
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v) { return fnv_bytes(h, &v, sizeof v); }

static uint64_t fnv_str(uint64_t h, const pp_pprof *t, int64_t idx)
{
    const char *s = (idx > 0 && (size_t)idx < t->n_strings) ? t->strings[idx] : "";
    size_t n = strlen(s);
    h = fnv_u64(h, n); /* length first: "ab"+"c" differs from "a"+"bc" */
    return fnv_bytes(h, s, n);
}

/* Final avalanche (splitmix64), and never 0 (the empty-slot marker). */
static uint64_t key_finish(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h ? h : 1;
}

/* Go writes ids 1..n in order; use that, ask the host otherwise. */
static const pp_location *find_location(const pp_host *host, const pp_profile *p,
                                        const pp_pprof *t, uint64_t id)
{
    if (id >= 1 && id <= t->n_locations && t->locations[id - 1].id == id)
        return &t->locations[id - 1];
    return host->pprof_location(p, id);
}

static const pp_function *find_function(const pp_host *host, const pp_profile *p,
                                        const pp_pprof *t, uint64_t id)
{
    if (id >= 1 && id <= t->n_functions && t->functions[id - 1].id == id)
        return &t->functions[id - 1];
    return host->pprof_function(p, id);
}

/* The hash of one location's frames, seeded so that it can be mixed
 * into a stack's hash in order. */
static uint64_t hash_location(const pp_host *host, const pp_profile *p, const pp_pprof *t,
                              const pp_location *loc)
{
    uint64_t h = FNV_OFFSET;
    size_t i;
    if (loc->n_lines == 0)
        return fnv_u64(fnv_u64(h, KEY_NO_SYMBOL), loc->address);
    for (i = 0; i < loc->n_lines; i++) {
        const pp_function *fn = find_function(host, p, t, loc->lines[i].function_id);
        h = fn ? fnv_str(h, t, fn->name) : fnv_u64(h, KEY_NO_SYMBOL);
        h = fnv_u64(h, (uint64_t)loc->lines[i].line);
    }
    return h;
}

/* Hashes every location once per profile: a sample's stack is then a
 * few multiplications per frame, however long the function names. */
static int hash_locations(scrape_delta *d, const pp_host *host, const pp_profile *p,
                          const pp_pprof *t)
{
    size_t i;
    if (t->n_locations > d->loc_hashes_cap) {
        uint64_t *g = realloc(d->loc_hashes, t->n_locations * sizeof *g);
        if (!g)
            return -1;
        d->loc_hashes = g;
        d->loc_hashes_cap = t->n_locations;
    }
    for (i = 0; i < t->n_locations; i++)
        d->loc_hashes[i] = hash_location(host, p, t, &t->locations[i]);
    return 0;
}

static uint64_t sample_key(const scrape_delta *d, const pp_host *host, const pp_profile *p,
                           const pp_pprof *t, const pp_sample *s)
{
    uint64_t h = FNV_OFFSET;
    size_t i;
    h = fnv_u64(h, s->n_location_ids);
    for (i = 0; i < s->n_location_ids; i++) {
        const pp_location *loc = find_location(host, p, t, s->location_ids[i]);
        h = (h ^ (loc ? d->loc_hashes[loc - t->locations] : s->location_ids[i])) * FNV_PRIME;
    }
    h = fnv_u64(h, s->n_labels);
    for (i = 0; i < s->n_labels; i++) {
        h = fnv_str(h, t, s->labels[i].key);
        h = fnv_str(h, t, s->labels[i].str);
        h = fnv_u64(h, (uint64_t)s->labels[i].num);
        h = fnv_str(h, t, s->labels[i].num_unit);
    }
    return key_finish(h);
}

static uint64_t types_signature(const pp_pprof *t)
{
    uint64_t h = fnv_u64(FNV_OFFSET, t->n_sample_types);
    size_t i;
    for (i = 0; i < t->n_sample_types; i++) {
        h = fnv_str(h, t, t->sample_types[i].type);
        h = fnv_str(h, t, t->sample_types[i].unit);
    }
    return key_finish(h);
}

/* ---- the table ---- */

static int table_alloc(delta_table *t, size_t cap, size_t width)
{
    t->keys = calloc(cap, sizeof *t->keys);
    t->vals = calloc(cap * (width ? width : 1), sizeof *t->vals);
    t->used = calloc(cap, 1);
    t->cap = cap;
    t->count = 0;
    if (!t->keys || !t->vals || !t->used) {
        table_free(t);
        return -1;
    }
    return 0;
}

/* Empties the table for `width` values per key, keeping its memory. */
static int table_reset(delta_table *t, size_t width)
{
    if (!t->keys)
        return table_alloc(t, DELTA_INITIAL_CAP, width);
    memset(t->keys, 0, t->cap * sizeof *t->keys);
    memset(t->used, 0, t->cap);
    free(t->vals);
    t->vals = calloc(t->cap * width, sizeof *t->vals);
    t->count = 0;
    return t->vals ? 0 : -1;
}

static long table_find(const delta_table *t, uint64_t key)
{
    size_t mask = t->cap - 1, i;
    if (!t->keys)
        return -1;
    for (i = key & mask; t->keys[i]; i = (i + 1) & mask)
        if (t->keys[i] == key)
            return (long)i;
    return -1;
}

static size_t table_slot(delta_table *t, uint64_t key)
{
    size_t mask = t->cap - 1, i;
    for (i = key & mask; t->keys[i] && t->keys[i] != key; i = (i + 1) & mask)
        ;
    return i;
}

static int table_grow(delta_table *t, size_t width)
{
    delta_table n = {0};
    size_t i, j;
    if (table_alloc(&n, t->cap * 2, width) < 0)
        return -1;
    for (i = 0; i < t->cap; i++) {
        if (!t->keys[i])
            continue;
        j = table_slot(&n, t->keys[i]);
        n.keys[j] = t->keys[i];
        memcpy(&n.vals[j * width], &t->vals[i * width], width * sizeof *n.vals);
        n.count++;
    }
    table_free(t);
    *t = n;
    return 0;
}

/* Adds the sample's cumulative values to its key's sums. */
static int table_add(delta_table *t, size_t width, uint64_t key, const int64_t *values,
                     const size_t *idx)
{
    size_t slot, j;
    if ((t->count + 1) * 2 > t->cap && table_grow(t, width) < 0)
        return -1;
    slot = table_slot(t, key);
    if (!t->keys[slot]) {
        t->keys[slot] = key;
        t->count++;
    }
    for (j = 0; j < width; j++)
        t->vals[slot * width + j] += values[idx[j]];
    return 0;
}

/* ---- apply ---- */

static size_t cumulative_indexes(const pp_pprof *t, size_t *idx)
{
    size_t i, n = 0;
    for (i = 0; i < t->n_sample_types && n < DELTA_MAX_TYPES; i++) {
        int64_t ty = t->sample_types[i].type, un = t->sample_types[i].unit;
        if (ty <= 0 || un <= 0 || (size_t)ty >= t->n_strings || (size_t)un >= t->n_strings)
            continue;
        if (scrape_delta_is_cumulative(t->strings[ty], t->strings[un]))
            idx[n++] = i;
    }
    return n;
}

/* Fills d->cur and d->sample_keys from p's samples. */
static int fill_current(scrape_delta *d, const pp_host *host, const pp_profile *p,
                        const pp_pprof *t, size_t width, const size_t *idx, char *err,
                        size_t errlen)
{
    size_t i;
    if (t->n_samples > d->sample_keys_cap) {
        uint64_t *k = realloc(d->sample_keys, t->n_samples * sizeof *k);
        if (!k)
            return -1;
        d->sample_keys = k;
        d->sample_keys_cap = t->n_samples;
    }
    if (table_reset(&d->cur, width) < 0 || hash_locations(d, host, p, t) < 0)
        return -1;
    for (i = 0; i < t->n_samples; i++) {
        const pp_sample *s = &t->samples[i];
        if (s->n_values != t->n_sample_types) {
            if (err)
                snprintf(err, errlen, "sample %zu has %zu values for %zu sample types", i,
                         s->n_values, t->n_sample_types);
            return -1;
        }
        d->sample_keys[i] = sample_key(d, host, p, t, s);
        if (table_add(&d->cur, width, d->sample_keys[i], s->values, idx) < 0)
            return -1;
    }
    return 0;
}

/* 1 if some key's value is lower now than in the previous scrape. */
static int went_back(const scrape_delta *d)
{
    size_t i, j, w = d->width;
    for (i = 0; i < d->cur.cap; i++) {
        long ps;
        if (!d->cur.keys[i])
            continue;
        ps = table_find(&d->prev, d->cur.keys[i]);
        if (ps < 0)
            continue;
        for (j = 0; j < w; j++)
            if (d->cur.vals[i * w + j] < d->prev.vals[(size_t)ps * w + j])
                return 1;
    }
    return 0;
}

/* Writes each key's delta into its first sample; returns 1 if some
 * sample is now all zeros (and needs compacting away). */
static int write_deltas(scrape_delta *d, pp_pprof *t)
{
    size_t i, j, w = d->width;
    int zeros = 0;
    for (i = 0; i < t->n_samples; i++) {
        int64_t *v = t->samples[i].values;
        long cs = table_find(&d->cur, d->sample_keys[i]);
        long ps = table_find(&d->prev, d->sample_keys[i]);
        if (cs < 0)
            continue; /* cannot happen: every sample was added */
        for (j = 0; j < w; j++) {
            int64_t before = ps >= 0 ? d->prev.vals[(size_t)ps * w + j] : 0;
            v[d->idx[j]] = d->cur.used[cs] ? 0 : d->cur.vals[(size_t)cs * w + j] - before;
        }
        d->cur.used[cs] = 1;
        for (j = 0; j < t->samples[i].n_values && v[j] == 0; j++)
            ;
        zeros |= j == t->samples[i].n_values;
    }
    return zeros;
}

static void swap_tables(scrape_delta *d, int64_t time_ns)
{
    delta_table tmp = d->prev;
    d->prev = d->cur;
    d->cur = tmp;
    d->have_prev = 1;
    d->prev_time_ns = time_ns;
}

scrape_delta_result scrape_delta_apply(scrape_delta *d, const pp_host *host,
                                       pp_profile *p, int64_t time_ns,
                                       int64_t *from_ns, char *err, size_t errlen)
{
    size_t idx[DELTA_MAX_TYPES], width;
    uint64_t sig;
    int fresh, zeros;
    pp_pprof *t;
    if (err && errlen)
        err[0] = '\0';
    t = host->profile_tree_mut(p, err, errlen);
    if (!t)
        return SCRAPE_DELTA_ERROR;
    width = cumulative_indexes(t, idx);
    if (width == 0)
        return SCRAPE_DELTA_NONE;
    sig = types_signature(t);
    fresh = !d->have_prev || sig != d->signature;
    if (fresh) {
        /* new series or new sample types: the old tables do not fit */
        table_free(&d->prev);
        table_free(&d->cur);
        d->have_prev = 0;
    }
    if (fill_current(d, host, p, t, width, idx, err, errlen) < 0) {
        if (err && !err[0])
            snprintf(err, errlen, "out of memory");
        return SCRAPE_DELTA_ERROR;
    }
    if (fresh) {
        d->signature = sig;
        d->width = width;
        memcpy(d->idx, idx, sizeof idx);
        swap_tables(d, time_ns);
        return SCRAPE_DELTA_BASELINE;
    }
    if (went_back(d)) {
        swap_tables(d, time_ns);
        return SCRAPE_DELTA_RESET;
    }
    zeros = write_deltas(d, t);
    if (from_ns)
        *from_ns = d->prev_time_ns;
    t->duration_nanos = time_ns - d->prev_time_ns;
    swap_tables(d, time_ns);
    if (zeros)
        host->pprof_compact(p);
    return SCRAPE_DELTA_EMIT;
}
