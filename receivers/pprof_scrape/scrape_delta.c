/* scrape_delta: cumulative sample types -> per-interval deltas.
 *
 * Design and rules: see scrape_delta.h. Between scrapes a series keeps
 * only its baseline: the keys of the last scrape, sorted and Elias-Fano
 * coded, with their summed cumulative values packed as ZigZag varints in
 * the keys' order. For Go's two alloc_* types that is about 5 bytes of
 * key (48 bits of hash: see sample_key) and typically 5-7 of values per
 * distinct stack, where a plain 64-bit key and two int64 took 24: the
 * baselines are most of what scraping 500 targets holds. The values are
 * read back in the same pass that merges the sorted keys, so packing
 * costs no search. A scrape builds a transient hash table of its own
 * keys, compares it with the baseline, writes the deltas, and becomes the
 * new baseline; the table and the per-profile scratch arrays are freed
 * before returning, so 500 targets with large heap profiles hold
 * baselines only.
 *
 * The baselines of a scrape loop live in its scrape_baseheap, end to end
 * in one mapping that is compacted as they are replaced (see
 * scrape_baseheap.h for why not malloc's heap); a baseline that still
 * fits its block, with the slack the heap gives it, is rewritten in place.
 * Without a heap (or when it cannot grow) they are malloc'd.
 *
 * Samples of one profile that share a key (same frames and labels,
 * different addresses) are summed first; the whole key's delta is written
 * into the first such sample and zero into the others, so the profile's
 * totals are exactly current minus previous. */
#include "scrape_delta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protowire.h"
#include "scrape_efkeys.h"
#include "wordhash.h"

#define DELTA_MIN_CAP 64
/* Kept apart from any real string hash: marks a frame without symbols. */
#define KEY_NO_SYMBOL 0x9e3779b97f4a7c15ull

/* The last scrape: n keys ascending (Elias-Fano coded: scrape_efkeys.h),
 * then `width` values per key in the keys' order, each a ZigZag varint
 * (vals_len bytes), in one block. */
typedef struct delta_base {
    void *mem;
    size_t n;
    size_t vals_len;
    size_t cap; /* a block of the baseheap: its capacity; 0: malloc'd */
} delta_base;

static const uint8_t *base_vals(const delta_base *b)
{
    return (const uint8_t *)b->mem + efkeys_bytes(b->n);
}

/* A scrape being processed: key -> summed values, open addressing. */
typedef struct delta_table {
    uint64_t *keys;      /* 0 = empty slot */
    int64_t *vals;       /* cap * width */
    unsigned char *used; /* the key's delta was given to a sample */
    size_t cap;
    size_t count;
} delta_table;

struct scrape_delta {
    scrape_baseheap *heap; /* NULL: baselines are malloc'd */
    delta_base prev;
    int have_prev;
    uint64_t signature; /* of the sample types the baseline had */
    size_t width;       /* cumulative types in the baseline */
    size_t idx[SCRAPE_DELTA_MAX_TYPES];
    int64_t prev_time_ns;
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

scrape_delta *scrape_delta_new(scrape_baseheap *heap)
{
    scrape_delta *d = calloc(1, sizeof(scrape_delta));
    if (d)
        d->heap = heap;
    return d;
}

static void base_free(scrape_delta *d)
{
    if (d->prev.cap)
        scrape_baseheap_release(d->heap, d->prev.mem);
    else
        free(d->prev.mem);
    memset(&d->prev, 0, sizeof d->prev);
}

/* Room for `need` bytes of baseline at d->prev.mem, whose contents are no
 * longer needed: its block when they fit and fill more than half of it,
 * else a new block of the heap (or of malloc), the old one let go. -1
 * (d->prev unchanged) when there is no memory. */
static int base_room(scrape_delta *d, size_t need)
{
    delta_base *b = &d->prev;
    if (b->cap && need <= b->cap && need > b->cap / 2)
        return 0;
    size_t cap = 0;
    void *m = d->heap && need ? scrape_baseheap_alloc(d->heap, need, &b->mem, &cap) : NULL;
    if (!m && !(m = malloc(need ? need : 1)))
        return -1;
    /* read only now: making room may have moved the old block */
    void *old = b->mem;
    size_t old_cap = b->cap;
    b->mem = m;
    b->cap = cap;
    /* may move the new block, rewriting b->mem */
    if (old_cap)
        scrape_baseheap_release(d->heap, old);
    else
        free(old);
    return 0;
}

void scrape_delta_free(scrape_delta *d)
{
    if (!d)
        return;
    base_free(d);
    free(d);
}

size_t scrape_delta_size(const scrape_delta *d)
{
    return d->have_prev ? d->prev.n : 0;
}

size_t scrape_delta_bytes(const scrape_delta *d)
{
    return d->have_prev ? efkeys_bytes(d->prev.n) + d->prev.vals_len : 0;
}

const void *scrape_delta_block(const scrape_delta *d, size_t *cap)
{
    if (cap)
        *cap = d->prev.cap;
    return d->prev.mem;
}

/* Saturating sums and differences: a target's values are not trusted,
 * and C's signed overflow is undefined. A sum out of range sticks at
 * INT64_MAX or INT64_MIN. */
static int64_t add_sat(int64_t a, int64_t b)
{
    int64_t r;
    if (!__builtin_add_overflow(a, b, &r))
        return r;
    return b > 0 ? INT64_MAX : INT64_MIN;
}

static int64_t sub_sat(int64_t a, int64_t b)
{
    int64_t r;
    if (!__builtin_sub_overflow(a, b, &r))
        return r;
    return b < 0 ? INT64_MAX : INT64_MIN;
}

/* ---- hashing (wordhash.h: 8 bytes per step) ---- */

/* Every byte of string idx: pprof strings may hold NUL bytes, and two
 * that differ after one are two strings. */
static uint64_t hash_str(uint64_t h, const pp_host *host, const pp_pprof *t, int64_t idx)
{
    int in_range = idx > 0 && (size_t)idx < t->n_strings;
    size_t n = in_range ? host->pprof_string_len(t, idx) : 0;
    h = wordhash_u64(h, n); /* length first: "ab"+"c" differs from "a"+"bc" */
    return n ? wordhash(h, t->strings[idx], n) : h;
}

/* Go writes ids 1..n in order; use that, ask the host otherwise. */
static const pp_location *find_location(const pp_host *host, const pp_profile *p, const pp_pprof *t,
                                        uint64_t id)
{
    if (id >= 1 && id <= t->n_locations && t->locations[id - 1].id == id)
        return &t->locations[id - 1];
    return host->pprof_location(p, id);
}

static const pp_function *find_function(const pp_host *host, const pp_profile *p, const pp_pprof *t,
                                        uint64_t id)
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
    uint64_t h = WORDHASH_SEED;
    size_t i;
    if (loc->n_lines == 0)
        return wordhash_u64(wordhash_u64(h, KEY_NO_SYMBOL), loc->address);
    for (i = 0; i < loc->n_lines; i++) {
        const pp_function *fn = find_function(host, p, t, loc->lines[i].function_id);
        h = fn ? hash_str(h, host, t, fn->name) : wordhash_u64(h, KEY_NO_SYMBOL);
        h = wordhash_u64(h, (uint64_t)loc->lines[i].line);
    }
    return h;
}

/* Hashes every location once per profile: a sample's stack is then a
 * few multiplications per frame, however long the function names.
 * Returns a malloc'd array indexed like t->locations, NULL when out of
 * memory. */
static uint64_t *hash_locations(const pp_host *host, const pp_profile *p, const pp_pprof *t)
{
    uint64_t *h = malloc((t->n_locations ? t->n_locations : 1) * sizeof *h);
    size_t i;
    for (i = 0; h && i < t->n_locations; i++)
        h[i] = hash_location(host, p, t, &t->locations[i]);
    return h;
}

static uint64_t sample_key(const uint64_t *loc_hashes, const pp_host *host, const pp_profile *p,
                           const pp_pprof *t, const pp_sample *s)
{
    uint64_t h = WORDHASH_SEED;
    size_t i;
    h = wordhash_u64(h, s->n_location_ids);
    for (i = 0; i < s->n_location_ids; i++) {
        const pp_location *loc = find_location(host, p, t, s->location_ids[i]);
        h = wordhash_u64(h, loc ? loc_hashes[loc - t->locations] : s->location_ids[i]);
    }
    h = wordhash_u64(h, s->n_labels);
    for (i = 0; i < s->n_labels; i++) {
        h = hash_str(h, host, t, s->labels[i].key);
        h = hash_str(h, host, t, s->labels[i].str);
        h = wordhash_u64(h, (uint64_t)s->labels[i].num);
        h = hash_str(h, host, t, s->labels[i].num_unit);
    }
    /* 48 bits of the hash (EFKEYS_KEY_BITS), never 0 (an empty slot).
     * Two stacks of one series that share a key are one key to the
     * deltas: their values are summed, as for samples that differ only
     * in addresses, and the sum's delta goes to the first of them; the
     * profile's totals stay exact. Among n distinct stacks that happens
     * with a chance of about n^2 / 2^49: 2e-9 for 1,000 stacks, 2e-7
     * for 10,000. Each key is 2 bytes smaller than with 64 bits: a
     * seventh of what scraping 500 Go targets holds in baselines. */
    uint64_t key = wordhash_finish(h) >> (64 - EFKEYS_KEY_BITS);
    return key ? key : 1;
}

static uint64_t types_signature(const pp_host *host, const pp_pprof *t)
{
    uint64_t h = wordhash_u64(WORDHASH_SEED, t->n_sample_types);
    size_t i;
    for (i = 0; i < t->n_sample_types; i++) {
        h = hash_str(h, host, t, t->sample_types[i].type);
        h = hash_str(h, host, t, t->sample_types[i].unit);
    }
    return wordhash_finish(h);
}

/* ---- the transient table ---- */

static void table_free(delta_table *t)
{
    free(t->keys);
    free(t->vals);
    free(t->used);
    memset(t, 0, sizeof *t);
}

/* Room for n keys at a load of at most one half (a power of two). */
static int table_alloc(delta_table *t, size_t n, size_t width)
{
    size_t cap = DELTA_MIN_CAP;
    while (cap < 2 * n)
        cap *= 2;
    t->keys = calloc(cap, sizeof *t->keys);
    t->vals = calloc(cap * width, sizeof *t->vals);
    t->used = calloc(cap, 1);
    t->cap = cap;
    t->count = 0;
    if (!t->keys || !t->vals || !t->used) {
        table_free(t);
        return -1;
    }
    return 0;
}

static size_t table_slot(const delta_table *t, uint64_t key)
{
    size_t mask = t->cap - 1, i;
    for (i = key & mask; t->keys[i] && t->keys[i] != key; i = (i + 1) & mask)
        ;
    return i;
}

/* Adds the sample's cumulative values to its key's sums. The table was
 * sized for every sample, so it never fills up. */
static void table_add(delta_table *t, size_t width, uint64_t key, const int64_t *values,
                      const size_t *idx)
{
    size_t slot = table_slot(t, key), j;
    if (!t->keys[slot]) {
        t->keys[slot] = key;
        t->count++;
    }
    for (j = 0; j < width; j++)
        t->vals[slot * width + j] = add_sat(t->vals[slot * width + j], values[idx[j]]);
}

/* ---- the baseline ---- */

/* Sorts n keys ascending through tmp (room for n): LSD radix, a byte a
 * pass, over the EFKEYS_KEY_BITS a key has. qsort's call per comparison
 * was 6% of a scrape's CPU; keys are hashes, so every pass moves them,
 * and the passes are linear. */
static void sort_keys(uint64_t *keys, uint64_t *tmp, size_t n)
{
    uint64_t *src = keys, *dst = tmp;
    for (unsigned shift = 0; n > 1 && shift < EFKEYS_KEY_BITS; shift += 8) {
        size_t count[256] = {0}, sum = 0;
        for (size_t i = 0; i < n; i++)
            count[(src[i] >> shift) & 0xff]++;
        if (count[(src[0] >> shift) & 0xff] == n)
            continue; /* one value of this byte: already in order */
        for (size_t b = 0; b < 256; b++) {
            size_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i] >> shift) & 0xff]++] = src[i];
        uint64_t *swap = src;
        src = dst;
        dst = swap;
    }
    if (src != keys)
        memcpy(keys, src, n * sizeof *keys);
}

/* ---- apply ---- */

size_t scrape_delta_cumulative_types(const pp_pprof *t, size_t *idx)
{
    size_t i, n = 0;
    for (i = 0; i < t->n_sample_types && n < SCRAPE_DELTA_MAX_TYPES; i++) {
        int64_t ty = t->sample_types[i].type, un = t->sample_types[i].unit;
        if (ty <= 0 || un <= 0 || (size_t)ty >= t->n_strings || (size_t)un >= t->n_strings)
            continue;
        if (scrape_delta_is_cumulative(t->strings[ty], t->strings[un]))
            idx[n++] = i;
    }
    return n;
}

/* One scrape's transient state. The table's keys are also sorted and
 * matched with the baseline's in one merge, so that each key finds its
 * previous values without a search, and the sorted keys become the next
 * baseline as they are. */
typedef struct delta_work {
    delta_table cur;
    uint64_t *sample_keys;  /* one per sample */
    uint64_t *sorted;       /* the table's keys, ascending (count) */
    size_t *slot_of;        /* the table slot of sorted[i] */
    unsigned char *in_prev; /* per table slot: the key is in the baseline */
    int64_t *before;        /* per table slot: its baseline values, if in_prev */
} delta_work;

static void work_free(delta_work *w)
{
    table_free(&w->cur);
    free(w->sample_keys);
    free(w->sorted);
    free(w->slot_of);
    free(w->in_prev);
    free(w->before);
}

/* Reads n packed values into out (NULL: skips them). The baseline is our
 * own bytes, written by rebase; a short one would be a bug, and reads
 * as zeros rather than past the end. */
static void unpack_values(wire_reader *r, size_t n, int64_t *out)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        if (wire_varint(r, &v) < 0)
            v = 0;
        if (out)
            out[i] = wire_unzigzag(v);
    }
}

/* Sorts the table's keys and finds each in the baseline `prev` (with
 * `width` values per key; NULL: every key is new), unpacking the values
 * of those found as the merge passes them. */
static int match_keys(delta_work *w, const delta_base *prev, size_t width)
{
    const delta_table *t = &w->cur;
    size_t i, n = 0, j = 0, unpacked = 0;
    w->sorted = malloc((t->count ? t->count : 1) * sizeof *w->sorted);
    w->slot_of = malloc((t->count ? t->count : 1) * sizeof *w->slot_of);
    w->in_prev = calloc(t->cap, 1);
    w->before = malloc(t->cap * width * sizeof *w->before);
    uint64_t *tmp = malloc((t->count ? t->count : 1) * sizeof *tmp);
    if (!w->sorted || !w->slot_of || !w->in_prev || !w->before || !tmp) {
        free(tmp);
        return -1;
    }
    for (i = 0; i < t->cap; i++)
        if (t->keys[i])
            w->sorted[n++] = t->keys[i];
    sort_keys(w->sorted, tmp, n);
    free(tmp);
    size_t prev_n = prev ? prev->n : 0;
    const uint8_t *prev_vals = prev ? base_vals(prev) : NULL;
    wire_reader packed = {prev_vals, prev_vals ? prev_vals + prev->vals_len : NULL};
    efkeys_reader keys;
    efkeys_reader_init(&keys, prev ? prev->mem : NULL, prev_n);
    uint64_t key = prev_n ? efkeys_next(&keys) : 0; /* the baseline's j-th key */
    for (i = 0; i < n; i++) {
        size_t slot = table_slot(t, w->sorted[i]);
        w->slot_of[i] = slot;
        while (j < prev_n && key < w->sorted[i])
            if (++j < prev_n)
                key = efkeys_next(&keys);
        if (j < prev_n && key == w->sorted[i]) {
            unpack_values(&packed, (j - unpacked) * width, NULL);
            unpack_values(&packed, width, &w->before[slot * width]);
            unpacked = j + 1;
            w->in_prev[slot] = 1;
        }
    }
    return 0;
}

/* Keys every sample and sums the profile's values per key. */
static int fill_current(delta_work *w, const pp_host *host, const pp_profile *p, const pp_pprof *t,
                        size_t width, const size_t *idx, char *err, size_t errlen)
{
    uint64_t *loc_hashes;
    size_t i;
    w->sample_keys = malloc((t->n_samples ? t->n_samples : 1) * sizeof *w->sample_keys);
    loc_hashes = hash_locations(host, p, t);
    if (!w->sample_keys || !loc_hashes || table_alloc(&w->cur, t->n_samples, width) < 0) {
        free(loc_hashes);
        return -1;
    }
    for (i = 0; i < t->n_samples; i++) {
        const pp_sample *s = &t->samples[i];
        if (s->n_values != t->n_sample_types) {
            if (err)
                snprintf(err, errlen, "sample %zu has %zu values for %zu sample types", i,
                         s->n_values, t->n_sample_types);
            free(loc_hashes);
            return -1;
        }
        w->sample_keys[i] = sample_key(loc_hashes, host, p, t, s);
        table_add(&w->cur, width, w->sample_keys[i], s->values, idx);
    }
    free(loc_hashes);
    return 0;
}

/* 1 if some key's value is lower now than in the previous scrape. */
static int went_back(const scrape_delta *d, const delta_work *wk)
{
    size_t i, j, w = d->width;
    for (i = 0; i < wk->cur.count; i++) {
        size_t slot = wk->slot_of[i];
        if (!wk->in_prev[slot])
            continue;
        for (j = 0; j < w; j++)
            if (wk->cur.vals[slot * w + j] < wk->before[slot * w + j])
                return 1;
    }
    return 0;
}

/* Writes each key's delta into its first sample and drops the samples
 * that are now all zeros (most of them, between two scrapes of a quiet
 * process), so that the compaction after it only sees what is left;
 * returns 1 if any was dropped (the locations, functions and strings
 * only they named are then compacted away). sample_keys no longer match
 * the samples afterwards. */
static int write_deltas(const scrape_delta *d, delta_work *wk, pp_pprof *t)
{
    size_t i, j, w = d->width, kept = 0;
    for (i = 0; i < t->n_samples; i++) {
        int64_t *v = t->samples[i].values;
        size_t cs = table_slot(&wk->cur, wk->sample_keys[i]);
        for (j = 0; j < w; j++)
            v[d->idx[j]] = wk->cur.used[cs] ? 0
                           : wk->in_prev[cs]
                               ? sub_sat(wk->cur.vals[cs * w + j], wk->before[cs * w + j])
                               : wk->cur.vals[cs * w + j];
        wk->cur.used[cs] = 1;
        for (j = 0; j < t->samples[i].n_values && v[j] == 0; j++)
            ;
        if (j < t->samples[i].n_values)
            t->samples[kept++] = t->samples[i];
    }
    int dropped = kept < t->n_samples;
    t->n_samples = kept;
    return dropped;
}

/* The scrape in wk becomes the baseline: its sorted keys and their
 * summed values, packed. */
static int rebase(scrape_delta *d, delta_work *wk, int64_t time_ns)
{
    size_t i, j, w = d->width, n = wk->cur.count, len = 0;
    /* packed into room for the longest varints, then copied into a block
     * sized to what they took */
    uint8_t *packed = malloc(n && w ? n * w * WIRE_MAX_VARINT_BYTES : 1);
    if (!packed)
        return -1;
    for (i = 0; i < n; i++)
        for (j = 0; j < w; j++)
            len += wire_put_varint(packed + len, wire_zigzag(wk->cur.vals[wk->slot_of[i] * w + j]));
    size_t keys_len = efkeys_bytes(n);
    if (base_room(d, keys_len + len) < 0) {
        free(packed);
        return -1;
    }
    efkeys_encode(wk->sorted, n, d->prev.mem);
    if (len)
        memcpy((uint8_t *)d->prev.mem + keys_len, packed, len);
    free(packed);
    d->prev.n = n;
    d->prev.vals_len = len;
    d->have_prev = 1;
    d->prev_time_ns = time_ns;
    return 0;
}

/* Deltas of p against the baseline (same sample types as it). */
static scrape_delta_result delta_against_base(scrape_delta *d, delta_work *wk, const pp_host *host,
                                              pp_profile *p, pp_pprof *t, int64_t time_ns,
                                              int64_t *from_ns)
{
    int dropped;
    if (went_back(d, wk))
        return rebase(d, wk, time_ns) < 0 ? SCRAPE_DELTA_ERROR : SCRAPE_DELTA_RESET;
    dropped = write_deltas(d, wk, t);
    if (from_ns)
        *from_ns = d->prev_time_ns;
    t->duration_nanos = time_ns - d->prev_time_ns;
    if (rebase(d, wk, time_ns) < 0)
        return SCRAPE_DELTA_ERROR;
    if (dropped)
        host->pprof_compact(p);
    return SCRAPE_DELTA_EMIT;
}

scrape_delta_result scrape_delta_apply(scrape_delta *d, const pp_host *host, pp_profile *p,
                                       int64_t time_ns, int64_t *from_ns, char *err, size_t errlen)
{
    size_t idx[SCRAPE_DELTA_MAX_TYPES], width;
    uint64_t sig;
    delta_work wk = {0};
    scrape_delta_result r;
    pp_pprof *t;
    if (err && errlen)
        err[0] = '\0';
    t = host->profile_tree_mut(p, err, errlen);
    if (!t)
        return SCRAPE_DELTA_ERROR;
    width = scrape_delta_cumulative_types(t, idx);
    if (width == 0)
        return SCRAPE_DELTA_NONE;
    sig = types_signature(host, t);
    /* the baseline's values are read only if it has these sample types
     * (so as many values per key) */
    const delta_base *prev = d->have_prev && sig == d->signature ? &d->prev : NULL;
    if (fill_current(&wk, host, p, t, width, idx, err, errlen) < 0 ||
        match_keys(&wk, prev, width) < 0) {
        if (err && !err[0])
            snprintf(err, errlen, "out of memory");
        work_free(&wk);
        return SCRAPE_DELTA_ERROR;
    }
    if (d->have_prev && sig == d->signature) {
        r = delta_against_base(d, &wk, host, p, t, time_ns, from_ns);
    } else {
        /* a new series, or other sample types: start over */
        d->signature = sig;
        d->width = width;
        memcpy(d->idx, idx, sizeof idx);
        r = rebase(d, &wk, time_ns) < 0 ? SCRAPE_DELTA_ERROR : SCRAPE_DELTA_BASELINE;
    }
    if (r == SCRAPE_DELTA_ERROR && err && !err[0])
        snprintf(err, errlen, "out of memory");
    work_free(&wk);
    return r;
}
