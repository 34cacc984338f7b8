/* downsample_stacks: see downsample_stacks.h.
 *
 * Folding works on the call tree the way a flame graph draws it: node =
 * (parent node, frame), root first, and a node's total is the sum of the
 * chosen value over every sample whose stack passes through it. A frame
 * is a location's content as `go tool pprof` shows it: the function name,
 * file and line of each of its lines (an unsymbolized location: its
 * mapping and address). Location ids are not frames: Node.js' pprof writer
 * emits one location per call path, so one function line can have many.
 * A sample is cut at its first (root-most) node below the threshold; its
 * kept prefix gets an `[other]` leaf, so all small children of one parent
 * end up in one `[other]` stack once compact sums them. A parent's total
 * never changes, so every node still drawn keeps its original total.
 *
 * The marker frames are one synthetic function + location each (mapping
 * 0, address 0), added once per profile with fresh ids. */
#include "downsample_stacks.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wordhash.h"

#define TRIE_MIN_SLOTS 1024 /* power of two */
/* The call tree is sized up front for at most this many nodes (24 MiB of
 * nodes, 8 MiB of slots); a larger one grows from there. */
#define TRIE_RESERVE_MAX ((size_t)1 << 20)
#define NODE_ROOT UINT32_MAX
#define HASH_MULT 0x9e3779b97f4a7c15ull /* 2^64 / golden ratio */
#define KEY_MIN_CAP 256
/* frame value of a sample's location id that names no location */
#define FRAME_UNKNOWN_BIT (1ull << 63)

/* ---------------------------------------------------------------- */
/* Synthetic marker frames.                                          */
/* ---------------------------------------------------------------- */

/* Adds a function and a location named `name`; returns the location id,
 * or 0 on error. */
static uint64_t add_marker_frame(const pp_host *h, pp_profile *p, pp_pprof *t, const char *name)
{
    uint64_t max_fn = 0, max_loc = 0;
    for (size_t i = 0; i < t->n_functions; i++)
        if (t->functions[i].id > max_fn)
            max_fn = t->functions[i].id;
    for (size_t i = 0; i < t->n_locations; i++)
        if (t->locations[i].id > max_loc)
            max_loc = t->locations[i].id;
    int64_t name_idx = h->pprof_intern(p, name);
    pp_function *fns = h->profile_alloc(p, (t->n_functions + 1) * sizeof *fns);
    pp_location *locs = h->profile_alloc(p, (t->n_locations + 1) * sizeof *locs);
    pp_line *line = h->profile_alloc(p, sizeof *line);
    if (name_idx < 0 || !fns || !locs || !line)
        return 0;
    if (t->n_functions)
        memcpy(fns, t->functions, t->n_functions * sizeof *fns);
    if (t->n_locations)
        memcpy(locs, t->locations, t->n_locations * sizeof *locs);
    fns[t->n_functions] =
        (pp_function){.id = max_fn + 1, .name = name_idx, .system_name = name_idx};
    *line = (pp_line){.function_id = max_fn + 1};
    locs[t->n_locations] = (pp_location){.id = max_loc + 1, .lines = line, .n_lines = 1};
    t->functions = fns;
    t->n_functions++;
    t->locations = locs;
    t->n_locations++;
    return max_loc + 1;
}

/* A new stack: `marker` as the leaf, then the `keep` root-most locations
 * of s. Returns 0 or -1. */
static int restack(const pp_host *h, pp_profile *p, pp_sample *s, uint64_t marker, size_t keep)
{
    uint64_t *ids = h->profile_alloc(p, (keep + 1) * sizeof *ids);
    if (!ids)
        return -1;
    ids[0] = marker;
    if (keep)
        memcpy(ids + 1, s->location_ids + (s->n_location_ids - keep), keep * sizeof *ids);
    s->location_ids = ids;
    s->n_location_ids = keep + 1;
    return 0;
}

/* ---------------------------------------------------------------- */
/* sample_types                                                      */
/* ---------------------------------------------------------------- */

/* 1 if sample type i of t is named in types[] (by all its bytes). */
static int type_listed(const pp_host *h, const pp_pprof *t, size_t i, char *const *types, size_t n)
{
    int64_t idx = t->sample_types[i].type;
    size_t len = h->pprof_string_len(t, idx);
    for (size_t j = 0; j < n; j++)
        if (strlen(types[j]) == len && memcmp(t->strings[idx], types[j], len) == 0)
            return 1;
    return 0;
}

size_t ds_count_listed_types(const pp_host *h, const pp_pprof *t, char *const *types,
                             size_t n_types)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n_sample_types; i++)
        k += (size_t)type_listed(h, t, i, types, n_types);
    return k;
}

int ds_keep_sample_types(const pp_host *h, pp_profile *p, pp_pprof *t, char *const *types,
                         size_t n_types)
{
    size_t n = t->n_sample_types, k = 0;
    size_t *keep = malloc((n ? n : 1) * sizeof *keep);
    if (!keep)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (type_listed(h, t, i, types, n_types))
            keep[k++] = i;
    if (k == 0 || k == n) {
        free(keep);
        return k > 0;
    }
    pp_value_type *st = h->profile_alloc(p, k * sizeof *st);
    int64_t *values = h->profile_alloc(p, (t->n_samples ? t->n_samples : 1) * k * sizeof *values);
    if (!st || !values) {
        free(keep);
        return -1;
    }
    int default_kept = 0;
    for (size_t j = 0; j < k; j++) {
        st[j] = t->sample_types[keep[j]];
        default_kept |= st[j].type == t->default_sample_type;
    }
    for (size_t i = 0; i < t->n_samples; i++) {
        pp_sample *s = &t->samples[i];
        int64_t *v = values + i * k;
        for (size_t j = 0; j < k; j++)
            v[j] = keep[j] < s->n_values ? s->values[keep[j]] : 0;
        s->values = v;
        s->n_values = k;
    }
    t->sample_types = st;
    t->n_sample_types = k;
    if (!default_kept)
        t->default_sample_type = 0;
    free(keep);
    return 1;
}

/* ---------------------------------------------------------------- */
/* max_stack_depth                                                   */
/* ---------------------------------------------------------------- */

int ds_truncate_stacks(const pp_host *h, pp_profile *p, pp_pprof *t, size_t max_depth)
{
    uint64_t marker = 0;
    for (size_t i = 0; i < t->n_samples; i++) {
        pp_sample *s = &t->samples[i];
        if (s->n_location_ids <= max_depth)
            continue;
        if (!marker && !(marker = add_marker_frame(h, p, t, DS_FRAME_TRUNCATED)))
            return -1;
        if (restack(h, p, s, marker, max_depth - 1) != 0)
            return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- */
/* Frames: locations numbered by content.                            */
/* ---------------------------------------------------------------- */

/* A location's content as bytes, built in a reused buffer. */
typedef struct frame_key {
    uint8_t *data;
    size_t len, cap;
    int failed;
} frame_key;

/* Each location position gets a frame number; equal content, equal
 * number. Frames' keys are kept in one buffer to compare new ones with. */
typedef struct frame_index {
    uint32_t *frame_of; /* location position -> frame */
    uint64_t *hash;     /* frame -> hash of its key */
    size_t *key_at;     /* frame -> offset of its key in keys */
    size_t *key_len;    /* frame -> length of its key */
    frame_key keys;     /* every frame's key, one after the other */
    uint32_t *slots;    /* frame + 1; 0 = empty */
    size_t n_slots, n_frames;
    size_t n_locations; /* locations numbered (markers come later) */
} frame_index;

static void key_put(frame_key *k, const void *data, size_t len)
{
    if (k->failed || len == 0)
        return;
    if (k->cap - k->len < len) {
        size_t cap = k->cap ? k->cap : KEY_MIN_CAP;
        while (cap - k->len < len)
            cap *= 2;
        uint8_t *d = realloc(k->data, cap);
        if (!d) {
            k->failed = 1;
            return;
        }
        k->data = d;
        k->cap = cap;
    }
    memcpy(k->data + k->len, data, len);
    k->len += len;
}

static void key_u64(frame_key *k, uint64_t v)
{
    key_put(k, &v, sizeof v);
}

/* String idx of t with its length first, so ("ab","c") != ("a","bc"). */
static void key_string(frame_key *k, const pp_host *h, const pp_pprof *t, int64_t idx)
{
    size_t len = h->pprof_string_len(t, idx);
    key_u64(k, len);
    if (len)
        key_put(k, t->strings[idx], len);
}

/* Lookups by id without the host's lock when ids are 1..n in order (as
 * nearly every writer numbers them); the host's index otherwise. */
static const pp_function *function_of(const pp_host *h, pp_profile *p, const pp_pprof *t,
                                      uint64_t id)
{
    if (id >= 1 && id <= t->n_functions && t->functions[id - 1].id == id)
        return &t->functions[id - 1];
    return h->pprof_function(p, id);
}

static const pp_location *location_of(const pp_host *h, pp_profile *p, const pp_pprof *t,
                                      uint64_t id)
{
    if (id >= 1 && id <= t->n_locations && t->locations[id - 1].id == id)
        return &t->locations[id - 1];
    return h->pprof_location(p, id);
}

/* What `go tool pprof` tells one location by: per line its function's
 * name and file and the line number; without lines (or functions), the
 * mapping and address. */
static void location_key(frame_key *k, const pp_host *h, pp_profile *p, const pp_pprof *t,
                         const pp_location *l)
{
    size_t named = 0;
    k->len = 0;
    key_u64(k, l->n_lines);
    for (size_t i = 0; i < l->n_lines; i++) {
        const pp_function *f = function_of(h, p, t, l->lines[i].function_id);
        if (!f)
            continue;
        key_u64(k, i);
        key_string(k, h, t, f->name);
        key_string(k, h, t, f->filename);
        key_u64(k, (uint64_t)l->lines[i].line);
        named++;
    }
    if (named == 0) {
        key_u64(k, l->mapping_id);
        key_u64(k, l->address);
    }
}

static uint64_t key_hash(const uint8_t *data, size_t len)
{
    return wordhash_finish(wordhash(WORDHASH_SEED, data, len));
}

static void frames_free(frame_index *fi)
{
    free(fi->frame_of);
    free(fi->hash);
    free(fi->key_at);
    free(fi->key_len);
    free(fi->keys.data);
    free(fi->slots);
}

/* The frame of key k (hash x), added as frame n_frames if new. */
static uint32_t frame_find(frame_index *fi, const frame_key *k, uint64_t x)
{
    size_t j = (size_t)x & (fi->n_slots - 1);
    for (; fi->slots[j]; j = (j + 1) & (fi->n_slots - 1)) {
        uint32_t f = fi->slots[j] - 1;
        if (fi->hash[f] == x && fi->key_len[f] == k->len &&
            memcmp(fi->keys.data + fi->key_at[f], k->data, k->len) == 0)
            return f;
    }
    uint32_t f = (uint32_t)fi->n_frames++;
    fi->hash[f] = x;
    fi->key_at[f] = fi->keys.len;
    fi->key_len[f] = k->len;
    key_put(&fi->keys, k->data, k->len);
    fi->slots[j] = f + 1;
    return f;
}

static int frames_build(frame_index *fi, const pp_host *h, pp_profile *p, const pp_pprof *t)
{
    size_t n = t->n_locations ? t->n_locations : 1;
    fi->n_locations = t->n_locations;
    fi->n_slots = TRIE_MIN_SLOTS;
    while (fi->n_slots < n * 2)
        fi->n_slots *= 2;
    fi->frame_of = malloc(n * sizeof *fi->frame_of);
    fi->hash = malloc(n * sizeof *fi->hash);
    fi->key_at = malloc(n * sizeof *fi->key_at);
    fi->key_len = malloc(n * sizeof *fi->key_len);
    fi->slots = calloc(fi->n_slots, sizeof *fi->slots);
    if (!fi->frame_of || !fi->hash || !fi->key_at || !fi->key_len || !fi->slots)
        return -1;
    frame_key k = {0};
    for (size_t i = 0; i < t->n_locations && !k.failed && !fi->keys.failed; i++) {
        location_key(&k, h, p, t, &t->locations[i]);
        if (!k.failed)
            fi->frame_of[i] = frame_find(fi, &k, key_hash(k.data, k.len));
    }
    int failed = k.failed || fi->keys.failed;
    free(k.data);
    return failed ? -1 : 0;
}

/* The frame of a sample's location id (ids naming no location stay
 * apart from every frame and from each other). */
static uint64_t frame_of_id(const frame_index *fi, const pp_host *h, pp_profile *p,
                            const pp_pprof *t, uint64_t id)
{
    const pp_location *l = location_of(h, p, t, id);
    if (!l || (size_t)(l - t->locations) >= fi->n_locations)
        return FRAME_UNKNOWN_BIT | id;
    return fi->frame_of[l - t->locations];
}

/* ---------------------------------------------------------------- */
/* min_fraction: the call tree as a hash of (parent, frame).         */
/* ---------------------------------------------------------------- */

typedef struct trie_node {
    uint32_t parent;
    uint64_t frame;
    int64_t total;
} trie_node;

typedef struct call_trie {
    trie_node *nodes;
    size_t n_nodes, cap_nodes;
    uint32_t *slots; /* node index + 1; 0 = empty */
    size_t n_slots;  /* power of two */
} call_trie;

static size_t trie_slot(uint32_t parent, uint64_t frame, size_t n_slots)
{
    uint64_t k = ((uint64_t)parent << 32 ^ frame) * HASH_MULT;
    return (size_t)(k >> 32) & (n_slots - 1);
}

/* Rehashes the nodes into n slots (a power of two). */
static int trie_rehash_to(call_trie *tr, size_t n)
{
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < tr->n_nodes; i++) {
        size_t j = trie_slot(tr->nodes[i].parent, tr->nodes[i].frame, n);
        while (slots[j])
            j = (j + 1) & (n - 1);
        slots[j] = (uint32_t)i + 1;
    }
    free(tr->slots);
    tr->slots = slots;
    tr->n_slots = n;
    return 0;
}

static int trie_rehash(call_trie *tr)
{
    return trie_rehash_to(tr, tr->n_slots ? tr->n_slots * 2 : TRIE_MIN_SLOTS);
}

/* Sizes an empty tree for `nodes` nodes (capped at TRIE_RESERVE_MAX): the
 * tree never holds more nodes than the samples have frames, which the
 * decoded profile knows, so it is built without growing and rehashing
 * step by step from TRIE_MIN_SLOTS. */
static int trie_reserve(call_trie *tr, size_t nodes)
{
    if (nodes > TRIE_RESERVE_MAX)
        nodes = TRIE_RESERVE_MAX;
    size_t n = TRIE_MIN_SLOTS;
    while (n < nodes * 2 + 2)
        n *= 2;
    if (nodes > TRIE_MIN_SLOTS) {
        if (!(tr->nodes = malloc(nodes * sizeof *tr->nodes)))
            return -1;
        tr->cap_nodes = nodes;
    }
    return trie_rehash_to(tr, n);
}

/* The child of `parent` at `frame`, added when absent. Returns the node
 * index, or NODE_ROOT with *failed set when out of memory. */
static uint32_t trie_child(call_trie *tr, uint32_t parent, uint64_t frame, int *failed)
{
    if ((tr->n_nodes + 1) * 2 > tr->n_slots && trie_rehash(tr) != 0)
        goto fail;
    size_t j = trie_slot(parent, frame, tr->n_slots);
    for (; tr->slots[j]; j = (j + 1) & (tr->n_slots - 1)) {
        const trie_node *nd = &tr->nodes[tr->slots[j] - 1];
        if (nd->parent == parent && nd->frame == frame)
            return tr->slots[j] - 1;
    }
    if (tr->n_nodes == tr->cap_nodes) {
        size_t cap = tr->cap_nodes ? tr->cap_nodes * 2 : TRIE_MIN_SLOTS;
        trie_node *nodes = realloc(tr->nodes, cap * sizeof *nodes);
        if (!nodes)
            goto fail;
        tr->nodes = nodes;
        tr->cap_nodes = cap;
    }
    tr->nodes[tr->n_nodes] = (trie_node){.parent = parent, .frame = frame};
    tr->slots[j] = (uint32_t)tr->n_nodes + 1;
    return (uint32_t)tr->n_nodes++;
fail:
    *failed = 1;
    return NODE_ROOT;
}

static void trie_free(call_trie *tr)
{
    free(tr->nodes);
    free(tr->slots);
}

long ds_fraction_index(const pp_pprof *t)
{
    if (t->n_sample_types == 0)
        return -1;
    if (t->default_sample_type != 0)
        for (size_t i = 0; i < t->n_sample_types; i++)
            if (t->sample_types[i].type == t->default_sample_type)
                return (long)i;
    return (long)t->n_sample_types - 1;
}

/* a + b, stuck at INT64_MAX or INT64_MIN instead of overflowing */
static int64_t add_sat(int64_t a, int64_t b)
{
    int64_t r;
    if (!__builtin_add_overflow(a, b, &r))
        return r;
    return b > 0 ? INT64_MAX : INT64_MIN;
}

/* |v| without overflow at INT64_MIN */
static uint64_t magnitude(int64_t v)
{
    return v < 0 ? (uint64_t) - (v + 1) + 1 : (uint64_t)v;
}

/* The walk of one sample's stack, root first, through the call tree. */
typedef struct stack_walk {
    const frame_index *fi;
    const pp_host *h;
    pp_profile *p;
    const pp_pprof *t;
} stack_walk;

/* Frame of s's location at depth d from the root. */
static uint64_t walk_frame(const stack_walk *w, const pp_sample *s, size_t d)
{
    return frame_of_id(w->fi, w->h, w->p, w->t, s->location_ids[s->n_location_ids - 1 - d]);
}

/* Adds every sample's value to the nodes on its path, and writes the
 * path (node indexes, root first) of sample i at path + offset of i, so
 * that the fold reads the totals along it without hashing again. Returns
 * the profile total, or sets *failed. */
static int64_t trie_build(call_trie *tr, const stack_walk *w, size_t vi, size_t frames,
                          uint32_t *path, int *failed)
{
    int64_t total = 0;
    if (trie_reserve(tr, frames) != 0)
        return *failed = 1, 0;
    for (size_t i = 0; i < w->t->n_samples; i++) {
        const pp_sample *s = &w->t->samples[i];
        int64_t v = vi < s->n_values ? s->values[vi] : 0;
        total = add_sat(total, v);
        uint32_t node = NODE_ROOT;
        for (size_t d = 0; d < s->n_location_ids; d++) {
            node = trie_child(tr, node, walk_frame(w, s, d), failed);
            if (*failed)
                return 0;
            tr->nodes[node].total = add_sat(tr->nodes[node].total, v);
            *path++ = node;
        }
    }
    return total;
}

/* Root-most depth at which a sample (its path from trie_build, n frames)
 * leaves the call tree's big nodes, or SIZE_MAX when every node on its
 * path is at or above the cutoff. */
static size_t fold_depth(const call_trie *tr, const uint32_t *path, size_t n, uint64_t cutoff)
{
    for (size_t d = 0; d < n; d++)
        if (magnitude(tr->nodes[path[d]].total) < cutoff)
            return d;
    return SIZE_MAX;
}

int ds_fold_small(const pp_host *h, pp_profile *p, pp_pprof *t, double min_fraction)
{
    long vi = ds_fraction_index(t);
    if (vi < 0 || t->n_samples == 0)
        return 0;
    frame_index fi = {0};
    call_trie tr = {0};
    stack_walk w = {&fi, h, p, t};
    size_t frames = 0;
    for (size_t i = 0; i < t->n_samples; i++)
        frames += t->samples[i].n_location_ids;
    uint32_t *path = malloc((frames ? frames : 1) * sizeof *path);
    int failed = !path || frames_build(&fi, h, p, t) != 0;
    int64_t total = failed ? 0 : trie_build(&tr, &w, (size_t)vi, frames, path, &failed);
    int rc = failed ? -1 : 0;
    /* as go tool pprof -nodefraction: a node stays when
     * |total(node)| >= |(int64)(total * min_fraction)| (min_fraction < 1,
     * so the product is within int64) */
    uint64_t cutoff = magnitude((int64_t)((double)total * min_fraction));
    uint64_t marker = 0;
    size_t at = 0;
    for (size_t i = 0; rc == 0 && i < t->n_samples; i++) {
        pp_sample *s = &t->samples[i];
        size_t n = s->n_location_ids; /* before restack changes it */
        size_t d = fold_depth(&tr, path + at, n, cutoff);
        at += n;
        if (d == SIZE_MAX)
            continue;
        if (!marker && !(marker = add_marker_frame(h, p, t, DS_FRAME_OTHER)))
            rc = -1;
        if (rc == 0)
            rc = restack(h, p, s, marker, d);
    }
    trie_free(&tr);
    frames_free(&fi);
    free(path);
    return rc;
}
