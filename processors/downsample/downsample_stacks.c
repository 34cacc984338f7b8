/* downsample_stacks: see downsample_stacks.h.
 *
 * Folding works on the call tree the way a flame graph draws it: node =
 * (parent node, location id), root first, and a node's total is the sum
 * of the chosen value over every sample whose stack passes through it.
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

#define TRIE_MIN_SLOTS 1024 /* power of two */
#define NODE_ROOT UINT32_MAX
#define HASH_MULT 0x9e3779b97f4a7c15ull /* 2^64 / golden ratio */

/* ---------------------------------------------------------------- */
/* Synthetic marker frames.                                          */
/* ---------------------------------------------------------------- */

/* Adds a function and a location named `name`; returns the location id,
 * or 0 on error. */
static uint64_t add_marker_frame(const pp_host *h, pp_profile *p, pp_pprof *t, const char *name)
{
    uint64_t max_fn = 0, max_loc = 0;
    for (size_t i = 0; i < t->n_functions; i++)
        if (t->functions[i].id > max_fn) max_fn = t->functions[i].id;
    for (size_t i = 0; i < t->n_locations; i++)
        if (t->locations[i].id > max_loc) max_loc = t->locations[i].id;
    int64_t name_idx = h->pprof_intern(p, name);
    pp_function *fns = h->profile_alloc(p, (t->n_functions + 1) * sizeof *fns);
    pp_location *locs = h->profile_alloc(p, (t->n_locations + 1) * sizeof *locs);
    pp_line *line = h->profile_alloc(p, sizeof *line);
    if (name_idx < 0 || !fns || !locs || !line) return 0;
    if (t->n_functions) memcpy(fns, t->functions, t->n_functions * sizeof *fns);
    if (t->n_locations) memcpy(locs, t->locations, t->n_locations * sizeof *locs);
    fns[t->n_functions] = (pp_function){.id = max_fn + 1, .name = name_idx, .system_name = name_idx};
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
    if (!ids) return -1;
    ids[0] = marker;
    if (keep) memcpy(ids + 1, s->location_ids + (s->n_location_ids - keep), keep * sizeof *ids);
    s->location_ids = ids;
    s->n_location_ids = keep + 1;
    return 0;
}

/* ---------------------------------------------------------------- */
/* sample_types                                                      */
/* ---------------------------------------------------------------- */

static int type_listed(const char *name, char *const *types, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, types[i]) == 0) return 1;
    return 0;
}

size_t ds_count_listed_types(const pp_pprof *t, char *const *types, size_t n_types)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n_sample_types; i++)
        k += (size_t)type_listed(t->strings[t->sample_types[i].type], types, n_types);
    return k;
}

int ds_keep_sample_types(const pp_host *h, pp_profile *p, pp_pprof *t, char *const *types,
                         size_t n_types)
{
    size_t n = t->n_sample_types, k = 0;
    size_t *keep = malloc((n ? n : 1) * sizeof *keep);
    if (!keep) return -1;
    for (size_t i = 0; i < n; i++)
        if (type_listed(t->strings[t->sample_types[i].type], types, n_types)) keep[k++] = i;
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
        for (size_t j = 0; j < k; j++) v[j] = keep[j] < s->n_values ? s->values[keep[j]] : 0;
        s->values = v;
        s->n_values = k;
    }
    t->sample_types = st;
    t->n_sample_types = k;
    if (!default_kept) t->default_sample_type = 0;
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
        if (s->n_location_ids <= max_depth) continue;
        if (!marker && !(marker = add_marker_frame(h, p, t, DS_FRAME_TRUNCATED))) return -1;
        if (restack(h, p, s, marker, max_depth - 1) != 0) return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- */
/* min_fraction: the call tree as a hash of (parent, location).      */
/* ---------------------------------------------------------------- */

typedef struct trie_node {
    uint32_t parent;
    uint64_t location;
    int64_t total;
} trie_node;

typedef struct call_trie {
    trie_node *nodes;
    size_t n_nodes, cap_nodes;
    uint32_t *slots; /* node index + 1; 0 = empty */
    size_t n_slots;  /* power of two */
} call_trie;

static size_t trie_slot(uint32_t parent, uint64_t location, size_t n_slots)
{
    uint64_t k = ((uint64_t)parent << 32 ^ location) * HASH_MULT;
    return (size_t)(k >> 32) & (n_slots - 1);
}

static int trie_rehash(call_trie *tr)
{
    size_t n = tr->n_slots ? tr->n_slots * 2 : TRIE_MIN_SLOTS;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < tr->n_nodes; i++) {
        size_t j = trie_slot(tr->nodes[i].parent, tr->nodes[i].location, n);
        while (slots[j]) j = (j + 1) & (n - 1);
        slots[j] = (uint32_t)i + 1;
    }
    free(tr->slots);
    tr->slots = slots;
    tr->n_slots = n;
    return 0;
}

/* The child of `parent` at `location`; added when `add`. Returns the
 * node index, NODE_ROOT when absent (or on error with *failed set). */
static uint32_t trie_child(call_trie *tr, uint32_t parent, uint64_t location, int add,
                           int *failed)
{
    if (add && (tr->n_nodes + 1) * 2 > tr->n_slots && trie_rehash(tr) != 0) goto fail;
    size_t j = trie_slot(parent, location, tr->n_slots);
    for (; tr->slots[j]; j = (j + 1) & (tr->n_slots - 1)) {
        const trie_node *nd = &tr->nodes[tr->slots[j] - 1];
        if (nd->parent == parent && nd->location == location) return tr->slots[j] - 1;
    }
    if (!add) return NODE_ROOT;
    if (tr->n_nodes == tr->cap_nodes) {
        size_t cap = tr->cap_nodes ? tr->cap_nodes * 2 : TRIE_MIN_SLOTS;
        trie_node *nodes = realloc(tr->nodes, cap * sizeof *nodes);
        if (!nodes) goto fail;
        tr->nodes = nodes;
        tr->cap_nodes = cap;
    }
    tr->nodes[tr->n_nodes] = (trie_node){.parent = parent, .location = location};
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
    if (t->n_sample_types == 0) return -1;
    if (t->default_sample_type != 0)
        for (size_t i = 0; i < t->n_sample_types; i++)
            if (t->sample_types[i].type == t->default_sample_type) return (long)i;
    return (long)t->n_sample_types - 1;
}

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

/* Adds every sample's value to the nodes on its path. Returns the
 * profile total, or sets *failed. */
static int64_t trie_build(call_trie *tr, const pp_pprof *t, size_t vi, int *failed)
{
    int64_t total = 0;
    if (trie_rehash(tr) != 0) return *failed = 1, 0;
    for (size_t i = 0; i < t->n_samples; i++) {
        const pp_sample *s = &t->samples[i];
        int64_t v = vi < s->n_values ? s->values[vi] : 0;
        total += v;
        uint32_t node = NODE_ROOT;
        for (size_t d = s->n_location_ids; d-- > 0;) {
            node = trie_child(tr, node, s->location_ids[d], 1, failed);
            if (*failed) return 0;
            tr->nodes[node].total += v;
        }
    }
    return total;
}

/* Root-most depth at which s leaves the call tree's big nodes, or
 * SIZE_MAX when every node on its path is at or above the threshold. */
static size_t fold_depth(call_trie *tr, const pp_sample *s, double threshold)
{
    uint32_t node = NODE_ROOT;
    int failed = 0;
    for (size_t d = 0; d < s->n_location_ids; d++) {
        node = trie_child(tr, node, s->location_ids[s->n_location_ids - 1 - d], 0, &failed);
        if (node == NODE_ROOT || (double)abs64(tr->nodes[node].total) < threshold) return d;
    }
    return SIZE_MAX;
}

int ds_fold_small(const pp_host *h, pp_profile *p, pp_pprof *t, double min_fraction)
{
    long vi = ds_fraction_index(t);
    if (vi < 0 || t->n_samples == 0) return 0;
    call_trie tr = {0};
    int failed = 0;
    int64_t total = trie_build(&tr, t, (size_t)vi, &failed);
    int rc = failed ? -1 : 0;
    /* a node folds when |total(node)| < min_fraction * |total| */
    double threshold = min_fraction * (double)abs64(total);
    uint64_t marker = 0;
    for (size_t i = 0; rc == 0 && i < t->n_samples; i++) {
        pp_sample *s = &t->samples[i];
        size_t d = fold_depth(&tr, s, threshold);
        if (d == SIZE_MAX) continue;
        if (!marker && !(marker = add_marker_frame(h, p, t, DS_FRAME_OTHER))) rc = -1;
        if (rc == 0) rc = restack(h, p, s, marker, d);
    }
    trie_free(&tr);
    return rc;
}
