/* pprof_tree: helpers over a decoded tree that processors and receivers
 * use: lookups by id, string interning, string lengths and the profile
 * family. Strings are byte strings compared by length and bytes, so two
 * that differ only after a NUL byte stay two strings.
 *
 * The id indexes and the intern map are caches built on first use. A
 * processor may replace any array of the tree at any time (plugin.h lets it
 * allocate a new one and swap the pointer), so each cache remembers the
 * array pointer and length it was built from and is rebuilt when they no
 * longer match; a lookup that finds a stale entry rebuilds once too. Go
 * writes ids 1..n in order, so the common case needs no table at all. */
#include "pprof_internal.h"
#include "wordhash.h"

#include <stdlib.h>
#include <string.h>

#define INTERN_MIN_SLOTS 64
#define INTERN_MIN_CAP 16
/* 64-bit multiplicative hashing constant (2^64 / golden ratio) */
#define ID_HASH_MULT 0x9e3779b97f4a7c15ull

static void id_index_free(id_index *x)
{
    free(x->ids);
    free(x->pos);
    memset(x, 0, sizeof(*x));
}

void pprof_caches_reset(pp_profile *p)
{
    free(p->intern.slots);
    memset(&p->intern, 0, sizeof(p->intern));
    id_index_free(&p->loc_index);
    id_index_free(&p->fn_index);
}

static size_t slots_for(size_t n)
{
    size_t s = INTERN_MIN_SLOTS;
    while (s < n * 2)
        s *= 2;
    return s;
}

static size_t id_slot(uint64_t id, size_t n_slots)
{
    return (size_t)((id * ID_HASH_MULT) >> 32) & (n_slots - 1);
}

/* Builds x over n elements of `stride` bytes whose first member is the id. */
static int id_index_build(id_index *x, const void *arr, size_t n, size_t stride)
{
    id_index_free(x);
    x->built_for = arr;
    x->built_n = n;
    x->dense = 1;
    const uint8_t *base = arr;
    for (size_t i = 0; i < n && x->dense; i++)
        if (*(const uint64_t *)(const void *)(base + i * stride) != i + 1)
            x->dense = 0;
    if (x->dense)
        return 0;
    x->n_slots = slots_for(n);
    x->ids = calloc(x->n_slots, sizeof(*x->ids));
    x->pos = calloc(x->n_slots, sizeof(*x->pos));
    if (!x->ids || !x->pos) {
        id_index_free(x);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t id = *(const uint64_t *)(const void *)(base + i * stride);
        if (id == 0)
            continue;
        size_t s = id_slot(id, x->n_slots);
        while (x->ids[s] && x->ids[s] != id)
            s = (s + 1) & (x->n_slots - 1);
        x->ids[s] = id;
        x->pos[s] = i;
    }
    return 0;
}

/* Candidate position of id according to x, or -1. */
static long id_index_lookup(const id_index *x, size_t n, uint64_t id)
{
    if (x->dense)
        return id >= 1 && id <= n ? (long)(id - 1) : -1;
    if (id == 0)
        return -1;
    size_t s = id_slot(id, x->n_slots);
    while (x->ids[s] && x->ids[s] != id)
        s = (s + 1) & (x->n_slots - 1);
    return x->ids[s] ? (long)x->pos[s] : -1;
}

/* Position of id in arr, or -1. A candidate whose id differs means the
 * array was edited in place since the index was built: rebuild and retry. */
static long id_index_find(id_index *x, const void *arr, size_t n, size_t stride, uint64_t id)
{
    const uint8_t *base = arr;
    if (x->built_for != arr || x->built_n != n || (!x->dense && !x->ids))
        if (id_index_build(x, arr, n, stride) < 0)
            return -1;
    long i = id_index_lookup(x, n, id);
    if (i < 0 || *(const uint64_t *)(const void *)(base + (size_t)i * stride) == id)
        return i;
    if (id_index_build(x, arr, n, stride) < 0)
        return -1;
    i = id_index_lookup(x, n, id);
    if (i < 0 || *(const uint64_t *)(const void *)(base + (size_t)i * stride) != id)
        return -1;
    return i;
}

/* Go writes ids 1..n in order: id - 1 is checked first. */
long pprof_location_pos(pp_profile *p, uint64_t id)
{
    const pp_pprof *t = &p->tree;
    if (id >= 1 && id <= t->n_locations && t->locations[id - 1].id == id)
        return (long)(id - 1);
    return id_index_find(&p->loc_index, t->locations, t->n_locations, sizeof(pp_location), id);
}

long pprof_function_pos(pp_profile *p, uint64_t id)
{
    const pp_pprof *t = &p->tree;
    if (id >= 1 && id <= t->n_functions && t->functions[id - 1].id == id)
        return (long)(id - 1);
    return id_index_find(&p->fn_index, t->functions, t->n_functions, sizeof(pp_function), id);
}

/* Lookups take a const profile: the index is a cache, see the file comment;
 * readers of a shared profile may build it concurrently, hence the lock. */
const pp_location *pprof_location(const pp_profile *p, uint64_t id)
{
    pp_profile *m = (pp_profile *)p;
    pthread_mutex_lock(&m->lock);
    long i = pprof_location_pos(m, id);
    pthread_mutex_unlock(&m->lock);
    return i < 0 ? NULL : &m->tree.locations[i];
}

const pp_function *pprof_function(const pp_profile *p, uint64_t id)
{
    pp_profile *m = (pp_profile *)p;
    pthread_mutex_lock(&m->lock);
    long i = pprof_function_pos(m, id);
    pthread_mutex_unlock(&m->lock);
    return i < 0 ? NULL : &m->tree.functions[i];
}

/* ---------------- string lengths ---------------- */

#define STR_LENS_MIN 16

size_t pprof_str_len(const pp_pprof *t, size_t i)
{
    const struct pp_string_lens *l = t->string_lens;
    if (l && i < l->n && l->items[i].ptr && l->items[i].ptr == t->strings[i])
        return l->items[i].len;
    return strlen(t->strings[i]);
}

int pprof_str_len_set(arena *a, pp_pprof *t, size_t i, size_t len)
{
    struct pp_string_lens *l = t->string_lens;
    if (!l) {
        if (!(l = arena_calloc(a, 1, sizeof(*l))))
            return -1;
        t->string_lens = l;
    }
    if (i >= l->n) {
        size_t n = l->n < STR_LENS_MIN ? STR_LENS_MIN : l->n;
        while (n <= i)
            n *= 2;
        pprof_str_entry *items = arena_calloc(a, n, sizeof(*items));
        if (!items)
            return -1;
        if (l->n)
            memcpy(items, l->items, l->n * sizeof(*items));
        l->items = items;
        l->n = n;
    }
    l->items[i] = (pprof_str_entry){t->strings[i], len};
    return 0;
}

size_t pprof_string_len(const pp_pprof *t, int64_t idx)
{
    if (!t || idx < 0 || (uint64_t)idx >= t->n_strings)
        return 0;
    return pprof_str_len(t, (size_t)idx);
}

int pprof_str_eq(const pp_pprof *ta, int64_t ia, const pp_pprof *tb, int64_t ib)
{
    size_t la = pprof_string_len(ta, ia), lb = pprof_string_len(tb, ib);
    return la == lb && (la == 0 || memcmp(ta->strings[ia], tb->strings[ib], la) == 0);
}

/* ---------------- interning ---------------- */

static size_t bytes_hash(const char *s, size_t len)
{
    return (size_t)wordhash_finish(wordhash(WORDHASH_SEED, s, len));
}

static void intern_insert(intern_map *m, const pp_pprof *t, size_t idx)
{
    size_t s = bytes_hash(t->strings[idx], pprof_str_len(t, idx)) & (m->n_slots - 1);
    while (m->slots[s])
        s = (s + 1) & (m->n_slots - 1);
    m->slots[s] = (uint32_t)idx + 1;
}

static int intern_build(pp_profile *p)
{
    intern_map *m = &p->intern;
    const pp_pprof *t = &p->tree;
    free(m->slots);
    m->n_slots = slots_for(t->n_strings);
    m->slots = calloc(m->n_slots, sizeof(*m->slots));
    if (!m->slots)
        return -1;
    for (size_t i = 0; i < t->n_strings; i++)
        intern_insert(m, t, i);
    if (m->built_for != t->strings)
        m->strings_cap = t->n_strings; /* someone else's array: assume full */
    m->built_for = t->strings;
    m->built_n = t->n_strings;
    return 0;
}

/* Appends the len bytes at s to the string table, growing it in the arena
 * by doubling. */
static int64_t intern_append(pp_profile *p, const char *s, size_t len)
{
    intern_map *m = &p->intern;
    pp_pprof *t = &p->tree;
    if (t->n_strings == m->strings_cap) {
        size_t cap = m->strings_cap < INTERN_MIN_CAP ? INTERN_MIN_CAP : m->strings_cap * 2;
        const char **ns = arena_calloc(&p->mem, cap, sizeof(*ns));
        if (!ns)
            return -1;
        memcpy(ns, t->strings, t->n_strings * sizeof(*ns));
        t->strings = ns;
        m->strings_cap = cap;
    }
    char *copy = arena_strndup(&p->mem, s, len);
    if (!copy)
        return -1;
    t->strings[t->n_strings] = copy;
    if (memchr(s, 0, len) && pprof_str_len_set(&p->mem, t, t->n_strings, len) < 0)
        return -1;
    int64_t idx = (int64_t)t->n_strings++;
    m->built_for = t->strings;
    m->built_n = t->n_strings;
    if (m->built_n * 2 > m->n_slots) {
        if (intern_build(p) < 0)
            return -1;
    } else {
        intern_insert(m, t, (size_t)idx);
    }
    return idx;
}

int64_t pprof_intern_bytes(pp_profile *p, const char *s, size_t len)
{
    intern_map *m = &p->intern;
    pp_pprof *t = &p->tree;
    if (!p->has_tree || !s)
        return -1;
    if (!m->slots || m->built_for != t->strings || m->built_n != t->n_strings)
        if (intern_build(p) < 0)
            return -1;
    size_t slot = bytes_hash(s, len) & (m->n_slots - 1);
    while (m->slots[slot]) {
        size_t idx = m->slots[slot] - 1;
        if (pprof_str_len(t, idx) == len && memcmp(t->strings[idx], s, len) == 0)
            return (int64_t)idx;
        slot = (slot + 1) & (m->n_slots - 1);
    }
    return intern_append(p, s, len);
}

int64_t pprof_intern(pp_profile *p, const char *s)
{
    return s ? pprof_intern_bytes(p, s, strlen(s)) : -1;
}

/* ---------------- orderings shared by compact, merge, validate ---------------- */

int pprof_label_cmp(const void *a, const void *b)
{
    const pp_label *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->str != y->str)
        return x->str < y->str ? -1 : 1;
    if (x->num != y->num)
        return x->num < y->num ? -1 : 1;
    return (x->num_unit > y->num_unit) - (x->num_unit < y->num_unit);
}

int pprof_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* ---------------- profile family ---------------- */

/* The one naming rule of every receiver that names a profile from its
 * sample types: Pyroscope's /ingest rule (pkg/og/convert/pprof/profile.go
 * metricName, grafana/pyroscope weekly-f184), which is what Pyroscope
 * itself stores for a pprof an SDK uploads:
 *   a sample type "wall"                     -> wall (Node, Python)
 *   then, the first sample type whose display name (the SDK's
 *   sample_type_config, else Pyroscope's default mapping: samples -> cpu,
 *   goroutine -> goroutines, contentions -> mutex_count, delay ->
 *   mutex_duration) contains
 *     cpu                                    -> process_cpu
 *     alloc_, inuse_, or is space / objects  -> memory
 *     mutex_                                 -> mutex
 *     block_                                 -> block
 *     goroutines                             -> goroutines
 * Two differences: fgprof's wall-clock profile (samples/count next to
 * time/nanoseconds), which that rule would call process_cpu, is `fgprof`,
 * the name Alloy's pyroscope.scrape gives it; and where no rule fits,
 * Pyroscope falls back to the last sample type's name ("should not
 * happen", says its code), which we do only for threadcreate (Go's
 * /debug/pprof/threadcreate): any other unknown type is NULL, so that the
 * receiver asks for an explicit name instead of inventing a series. */
static const char *const default_display[][2] = {
    {"samples", "cpu"},
    {"goroutine", "goroutines"},
    {"contentions", "mutex_count"},
    {"delay", "mutex_duration"},
};

static const char *sample_type_name(const pp_pprof *t, size_t i)
{
    int64_t idx = t->sample_types[i].type;
    if (idx < 0 || (uint64_t)idx >= t->n_strings)
        return "";
    return t->strings[idx];
}

static const char *display_name(const pp_pprof *t, size_t i, const char *const *display)
{
    const char *type = sample_type_name(t, i);
    if (display)
        return display[i] && *display[i] ? display[i] : type;
    for (size_t d = 0; d < sizeof(default_display) / sizeof(default_display[0]); d++)
        if (strcmp(type, default_display[d][0]) == 0)
            return default_display[d][1];
    return type;
}

static const char *family_of_display(const char *st)
{
    if (strstr(st, "cpu"))
        return "process_cpu";
    if (strstr(st, "alloc_") || strstr(st, "inuse_") || strcmp(st, "space") == 0 ||
        strcmp(st, "objects") == 0)
        return "memory";
    if (strstr(st, "mutex_"))
        return "mutex";
    if (strstr(st, "block_"))
        return "block";
    if (strstr(st, "goroutines"))
        return "goroutines";
    if (strcmp(st, "threadcreate") == 0)
        return "threadcreate";
    return NULL;
}

static int has_type(const pp_pprof *t, const char *type)
{
    for (size_t i = 0; i < t->n_sample_types; i++)
        if (strcmp(sample_type_name(t, i), type) == 0)
            return 1;
    return 0;
}

const char *pprof_family_display(const pp_pprof *t, const char *const *display)
{
    if (!t || t->n_sample_types == 0)
        return NULL;
    if (has_type(t, "wall"))
        return "wall";
    if (has_type(t, "samples") && has_type(t, "time"))
        return "fgprof";
    for (size_t i = 0; i < t->n_sample_types; i++) {
        const char *family = family_of_display(display_name(t, i, display));
        if (family)
            return family;
    }
    return NULL;
}

const char *pprof_family(const pp_pprof *t)
{
    return pprof_family_display(t, NULL);
}
