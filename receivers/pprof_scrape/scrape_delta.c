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
 * The scrape's bytes are read in place (scrape_pbview.h), never decoded
 * into a tree, and the deltas are written as a new plain pprof that
 * copies every other field as it came. A tree of Go's heap profile
 * takes ten times its plain bytes (566 KB for a 59 KB profile of 1,213
 * samples 21 frames deep), and the emitted profile kept it until the
 * pipeline was done with it: at 500 targets, 1.5-2 MiB of trees were
 * alive at once, and each came and went through malloc's heap.
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
#include "scrape_pbview.h"

#define DELTA_MIN_CAP 64

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

int scrape_delta_is_cumulative(const char *type, size_t type_len, const char *unit, size_t unit_len)
{
    size_t i;
    for (i = 0; i < sizeof cumulative_types / sizeof cumulative_types[0]; i++)
        if (type_len == strlen(cumulative_types[i].type) &&
            unit_len == strlen(cumulative_types[i].unit) &&
            memcmp(type, cumulative_types[i].type, type_len) == 0 &&
            memcmp(unit, cumulative_types[i].unit, unit_len) == 0)
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

/* ---- keys ---- */

/* 48 bits of the sample's hash (EFKEYS_KEY_BITS), never 0 (an empty
 * slot). Two stacks of one series that share a key are one key to the
 * deltas: their values are summed, as for samples that differ only in
 * addresses, and the sum's delta goes to the first of them; the
 * profile's totals stay exact. Among n distinct stacks that happens with
 * a chance of about n^2 / 2^49: 2e-9 for 1,000 stacks, 2e-7 for 10,000.
 * Each key is 2 bytes smaller than with 64 bits: a seventh of what
 * scraping 500 Go targets holds in baselines. */
static uint64_t sample_key(const pbview_sample *s)
{
    uint64_t key = s->key >> (64 - EFKEYS_KEY_BITS);
    return key ? key : 1;
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

size_t scrape_delta_cumulative_types(const pp_host *host, const pp_pprof *t, size_t *idx)
{
    size_t i, n = 0;
    for (i = 0; i < t->n_sample_types && n < SCRAPE_DELTA_MAX_TYPES; i++) {
        int64_t ty = t->sample_types[i].type, un = t->sample_types[i].unit;
        if (ty <= 0 || un <= 0 || (size_t)ty >= t->n_strings || (size_t)un >= t->n_strings)
            continue;
        if (scrape_delta_is_cumulative(t->strings[ty], host->pprof_string_len(t, ty),
                                       t->strings[un], host->pprof_string_len(t, un)))
            idx[n++] = i;
    }
    return n;
}

/* The same, of a view. */
static size_t view_cumulative_types(const pbview *v, size_t *idx)
{
    size_t i, n = 0;
    for (i = 0; i < v->n_types && n < SCRAPE_DELTA_MAX_TYPES; i++) {
        const pbview_str *ty = &v->strings[v->type[i]], *un = &v->strings[v->unit[i]];
        if (scrape_delta_is_cumulative((const char *)ty->p, ty->n, (const char *)un->p, un->n))
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

/* The next top-level field numbered num of a view's profile (in f); 0
 * at the end. The view has walked these bytes already, so they are well
 * formed. */
static int next_field(wire_reader *r, wire_field *f, uint32_t num)
{
    const char *why;
    while (r->p < r->end) {
        if (wire_next(r, f, &why) < 0)
            return 0;
        if (f->num == num)
            return 1;
    }
    return 0;
}

/* Keys every sample and sums the profile's values per key. */
static int fill_current(delta_work *w, const pbview *v, size_t width, const size_t *idx, char *err,
                        size_t errlen)
{
    pbview_sample s;
    wire_field f = {0};
    size_t i = 0;
    w->sample_keys = malloc((v->n_samples ? v->n_samples : 1) * sizeof *w->sample_keys);
    if (!w->sample_keys || table_alloc(&w->cur, v->n_samples, width) < 0)
        return -1;
    for (wire_reader r = {v->buf, v->buf + v->len}; next_field(&r, &f, PB_SAMPLE); i++) {
        if (pbview_sample_read(v, f.data, f.len, i, &s, err, errlen) < 0)
            return -1;
        w->sample_keys[i] = sample_key(&s);
        table_add(&w->cur, width, w->sample_keys[i], s.values, idx);
    }
    return 0;
}

/* Reads every sample, for its checks only (a profile with nothing to
 * delta is passed on as it is, and must decode like any other). */
static int check_samples(const pbview *v, char *err, size_t errlen)
{
    pbview_sample s;
    wire_field f = {0};
    size_t i = 0;
    for (wire_reader r = {v->buf, v->buf + v->len}; next_field(&r, &f, PB_SAMPLE); i++)
        if (pbview_sample_read(v, f.data, f.len, i, &s, err, errlen) < 0)
            return -1;
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

/* ---- the delta'd profile ---- */

/* Sample i's values with its key's delta: the whole delta in the first
 * sample of the key, zeros in the others; the rest of its values (the
 * inuse_* types) as they are. */
static void delta_values(const scrape_delta *d, const delta_work *wk, size_t i, int first,
                         int64_t *v)
{
    size_t j, w = d->width, cs = table_slot(&wk->cur, wk->sample_keys[i]);
    for (j = 0; j < w; j++)
        v[d->idx[j]] = !first            ? 0
                       : wk->in_prev[cs] ? sub_sat(wk->cur.vals[cs * w + j], wk->before[cs * w + j])
                                         : wk->cur.vals[cs * w + j];
}

/* Which samples keep a non-zero value once delta'd (most do not, between
 * two scrapes of a quiet process): keep[i] is 0 for a dropped sample, 1
 * for a kept one, 3 when it is also its key's first. With any dropped,
 * the locations and functions only they named are marked unused;
 * returns how many were dropped. */
static size_t plan_samples(const scrape_delta *d, delta_work *wk, const pbview *v,
                           unsigned char *keep, unsigned char *loc_used, unsigned char *fn_used)
{
    pbview_sample s;
    wire_field f = {0};
    size_t i = 0, j, dropped = 0;
    for (wire_reader r = {v->buf, v->buf + v->len}; next_field(&r, &f, PB_SAMPLE); i++) {
        size_t cs = table_slot(&wk->cur, wk->sample_keys[i]);
        int first = !wk->cur.used[cs];
        wk->cur.used[cs] = 1;
        pbview_sample_values(v, f.data, f.len, s.values);
        delta_values(d, wk, i, first, s.values);
        for (j = 0; j < v->n_types && s.values[j] == 0; j++)
            ;
        keep[i] = j < v->n_types ? (unsigned char)(first ? 3 : 1) : 0;
        if (keep[i])
            pbview_sample_locations(v, f.data, f.len, loc_used);
        else
            dropped++;
    }
    if (!dropped)
        return 0;
    i = 0;
    for (wire_reader r = {v->buf, v->buf + v->len}; next_field(&r, &f, PB_LOCATION);)
        if (loc_used[i++])
            pbview_location_functions(v, f.data, f.len, fn_used);
    return dropped;
}

typedef struct values_ctx {
    const scrape_delta *d;
    const delta_work *wk;
} values_ctx;

static void sample_deltas(void *ctx, size_t i, unsigned mark, int64_t *values)
{
    const values_ctx *c = ctx;
    delta_values(c->d, c->wk, i, mark == 3, values);
}

/* The profile with its deltas, as plain protobuf (pbview_write): the
 * samples left all zero dropped, with the locations, functions and
 * strings only they named; the duration the time since the previous
 * scrape. */
static int write_profile(const scrape_delta *d, delta_work *wk, const pbview *v, int64_t duration,
                         uint8_t **out, size_t *out_len)
{
    unsigned char *keep = calloc(v->n_samples ? v->n_samples : 1, 1);
    unsigned char *loc_used = calloc(v->n_locs ? v->n_locs : 1, 1);
    unsigned char *fn_used = calloc(v->n_fns ? v->n_fns : 1, 1);
    values_ctx ctx = {d, wk};
    int rc = -1;
    if (keep && loc_used && fn_used) {
        pbview_kept kept = {keep, loc_used, fn_used,
                            plan_samples(d, wk, v, keep, loc_used, fn_used)};
        rc = pbview_write(v, &kept, sample_deltas, &ctx, duration, out, out_len);
    }
    free(keep);
    free(loc_used);
    free(fn_used);
    return rc;
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

/* Deltas against the baseline (same sample types as it). */
static scrape_delta_result delta_against_base(scrape_delta *d, delta_work *wk, const pbview *v,
                                              int64_t time_ns, int64_t *from_ns, uint8_t **out,
                                              size_t *out_len)
{
    if (went_back(d, wk))
        return rebase(d, wk, time_ns) < 0 ? SCRAPE_DELTA_ERROR : SCRAPE_DELTA_RESET;
    if (write_profile(d, wk, v, time_ns - d->prev_time_ns, out, out_len) < 0)
        return SCRAPE_DELTA_ERROR;
    if (from_ns)
        *from_ns = d->prev_time_ns;
    if (rebase(d, wk, time_ns) < 0) {
        free(*out);
        *out = NULL;
        *out_len = 0;
        return SCRAPE_DELTA_ERROR;
    }
    return SCRAPE_DELTA_EMIT;
}

scrape_delta_result scrape_delta_apply(scrape_delta *d, const uint8_t *plain, size_t len,
                                       int64_t time_ns, int64_t *from_ns, uint8_t **out,
                                       size_t *out_len, char *err, size_t errlen)
{
    size_t idx[SCRAPE_DELTA_MAX_TYPES], width;
    uint64_t sig;
    delta_work wk = {0};
    scrape_delta_result r;
    pbview v;
    *out = NULL;
    *out_len = 0;
    if (err && errlen)
        err[0] = '\0';
    if (pbview_open(&v, plain, len, err, errlen) < 0)
        return SCRAPE_DELTA_ERROR;
    width = view_cumulative_types(&v, idx);
    if (width == 0) {
        r = check_samples(&v, err, errlen) < 0 ? SCRAPE_DELTA_ERROR : SCRAPE_DELTA_NONE;
        pbview_close(&v);
        return r;
    }
    sig = pbview_types_signature(&v);
    /* the baseline's values are read only if it has these sample types
     * (so as many values per key) */
    const delta_base *prev = d->have_prev && sig == d->signature ? &d->prev : NULL;
    if (fill_current(&wk, &v, width, idx, err, errlen) < 0 || match_keys(&wk, prev, width) < 0) {
        if (err && errlen && !err[0])
            snprintf(err, errlen, "out of memory");
        work_free(&wk);
        pbview_close(&v);
        return SCRAPE_DELTA_ERROR;
    }
    if (prev) {
        r = delta_against_base(d, &wk, &v, time_ns, from_ns, out, out_len);
    } else {
        /* a new series, or other sample types: start over */
        d->signature = sig;
        d->width = width;
        memcpy(d->idx, idx, sizeof idx);
        r = rebase(d, &wk, time_ns) < 0 ? SCRAPE_DELTA_ERROR : SCRAPE_DELTA_BASELINE;
    }
    if (r == SCRAPE_DELTA_ERROR && err && errlen && !err[0])
        snprintf(err, errlen, "out of memory");
    work_free(&wk);
    pbview_close(&v);
    return r;
}
