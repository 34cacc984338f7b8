/* pprof_compact: make a tree as small as what it says.
 *
 * Three steps, in the order that lets each see the previous one's result:
 * samples with the same stack and labels are summed and all-zero samples
 * dropped; locations no sample names are dropped, then functions and
 * mappings no kept location names; finally strings nothing refers to are
 * dropped and every string index in the tree is renumbered. Ids are kept as
 * they are (nothing outside the tree refers to them, and keeping them means
 * a processor's own notes stay right). Everything happens in place in the
 * existing arrays. Labels of a sample are sorted first so that label order
 * does not make two equal samples look different, as in pprof. */
#include "pprof_internal.h"
#include "wordhash.h"

#include <stdlib.h>
#include <string.h>

void pprof_drop_zero_samples(pp_pprof *t)
{
    size_t kept = 0;
    for (size_t i = 0; i < t->n_samples; i++) {
        const pp_sample *s = &t->samples[i];
        size_t j = 0;
        while (j < s->n_values && s->values[j] == 0)
            j++;
        if (j < s->n_values)
            t->samples[kept++] = *s;
    }
    t->n_samples = kept;
}

void pprof_sample_add(pp_sample *dst, const pp_sample *src)
{
    size_t n = dst->n_values < src->n_values ? dst->n_values : src->n_values;
    for (size_t i = 0; i < n; i++)
        dst->values[i] = pprof_add_sat(dst->values[i], src->values[i]);
}

/* A sample's identity, hashed from its fields directly: its stack, then
 * its labels (sorted by the caller). */
static uint64_t sample_hash(const pp_sample *s)
{
    uint64_t h = wordhash_u64(WORDHASH_SEED, s->n_location_ids);
    for (size_t i = 0; i < s->n_location_ids; i++)
        h = wordhash_u64(h, s->location_ids[i]);
    h = wordhash_u64(h, s->n_labels);
    for (size_t i = 0; i < s->n_labels; i++) {
        const pp_label *l = &s->labels[i];
        h = wordhash_u64(h, (uint64_t)l->key);
        h = wordhash_u64(h, (uint64_t)l->str);
        h = wordhash_u64(h, (uint64_t)l->num);
        h = wordhash_u64(h, (uint64_t)l->num_unit);
    }
    return wordhash_finish(h);
}

static int same_sample(const pp_sample *a, const pp_sample *b)
{
    if (a->n_location_ids != b->n_location_ids || a->n_labels != b->n_labels)
        return 0;
    if (a->n_location_ids &&
        memcmp(a->location_ids, b->location_ids, a->n_location_ids * sizeof(uint64_t)) != 0)
        return 0;
    for (size_t i = 0; i < a->n_labels; i++) {
        const pp_label *x = &a->labels[i], *y = &b->labels[i];
        if (x->key != y->key || x->str != y->str || x->num != y->num || x->num_unit != y->num_unit)
            return 0;
    }
    return 1;
}

/* Sums samples with equal stacks and labels into the first of them.
 * The kept samples are found by content through an open-addressing table
 * of compact entries: a hash and the kept sample's position, so that a
 * probe compares 8 bytes and reads a sample only when the hashes agree
 * (no key is built or copied). */
static int compact_samples(pp_pprof *t)
{
    size_t n_slots = 16;
    while (n_slots < t->n_samples * 2)
        n_slots *= 2;
    uint64_t *hashes = malloc(n_slots * sizeof *hashes);
    uint32_t *at = calloc(n_slots, sizeof *at); /* kept position + 1; 0 = empty */
    if (!hashes || !at || t->n_samples >= UINT32_MAX) {
        free(hashes);
        free(at);
        return -1;
    }
    size_t kept = 0;
    for (size_t i = 0; i < t->n_samples; i++) {
        pp_sample *s = &t->samples[i];
        if (s->n_labels > 1)
            qsort(s->labels, s->n_labels, sizeof(pp_label), pprof_label_cmp);
        uint64_t h = sample_hash(s);
        size_t j = (size_t)h & (n_slots - 1);
        while (at[j] && !(hashes[j] == h && same_sample(&t->samples[at[j] - 1], s)))
            j = (j + 1) & (n_slots - 1);
        if (at[j]) {
            pprof_sample_add(&t->samples[at[j] - 1], s);
            continue;
        }
        hashes[j] = h;
        at[j] = (uint32_t)kept + 1;
        t->samples[kept++] = *s;
    }
    free(hashes);
    free(at);
    t->n_samples = kept;
    pprof_drop_zero_samples(t);
    return 0;
}

/* Keeps the elements of an id'd array whose `used` flag is set, in order. */
static size_t keep_used(void *arr, size_t n, size_t stride, const uint8_t *used)
{
    uint8_t *base = arr;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (used[i])
            memmove(base + kept++ * stride, base + i * stride, stride);
    return kept;
}

/* Position of mapping id: direct when ids are 1..n (the usual case), else
 * a scan (a profile has few mappings). */
static long mapping_pos(const pp_pprof *t, uint64_t id)
{
    if (id == 0)
        return -1;
    if (id <= t->n_mappings && t->mappings[id - 1].id == id)
        return (long)(id - 1);
    for (size_t m = 0; m < t->n_mappings; m++)
        if (t->mappings[m].id == id)
            return (long)m;
    return -1;
}

/* Marks, by array position, the elements that kept samples reach: their
 * locations, and the functions and mappings of those locations. Positions
 * come from the profile's id indexes, so this is linear in the stacks.
 * The owner is editing the tree, so no reader shares it: the indexes are
 * read without the profile's lock (taking it per frame was 10% of a
 * scrape's CPU at 500 targets). */
static void mark_used(pp_profile *p, uint8_t *loc_used, uint8_t *fn_used, uint8_t *map_used)
{
    const pp_pprof *t = &p->tree;
    for (size_t i = 0; i < t->n_samples; i++)
        for (size_t j = 0; j < t->samples[i].n_location_ids; j++) {
            long l = pprof_location_pos(p, t->samples[i].location_ids[j]);
            if (l >= 0)
                loc_used[l] = 1;
        }
    for (size_t i = 0; i < t->n_locations; i++) {
        if (!loc_used[i])
            continue;
        const pp_location *l = &t->locations[i];
        for (size_t j = 0; j < l->n_lines; j++) {
            long f = pprof_function_pos(p, l->lines[j].function_id);
            if (f >= 0)
                fn_used[f] = 1;
        }
        long m = mapping_pos(t, l->mapping_id);
        if (m >= 0)
            map_used[m] = 1;
    }
}

static int compact_references(pp_profile *p)
{
    pp_pprof *t = &p->tree;
    uint8_t *loc_used = calloc(t->n_locations + 1, 1);
    uint8_t *fn_used = calloc(t->n_functions + 1, 1);
    uint8_t *map_used = calloc(t->n_mappings + 1, 1);
    int rc = loc_used && fn_used && map_used ? 0 : -1;
    if (rc == 0) {
        mark_used(p, loc_used, fn_used, map_used);
        t->n_locations = keep_used(t->locations, t->n_locations, sizeof(pp_location), loc_used);
        t->n_functions = keep_used(t->functions, t->n_functions, sizeof(pp_function), fn_used);
        t->n_mappings = keep_used(t->mappings, t->n_mappings, sizeof(pp_mapping), map_used);
    }
    free(loc_used);
    free(fn_used);
    free(map_used);
    return rc;
}

/* Calls fn on every string index field of the tree. */
static void each_string_ref(pp_pprof *t, void (*fn)(int64_t *idx, void *arg), void *arg)
{
    for (size_t i = 0; i < t->n_sample_types; i++) {
        fn(&t->sample_types[i].type, arg);
        fn(&t->sample_types[i].unit, arg);
    }
    for (size_t i = 0; i < t->n_samples; i++)
        for (size_t j = 0; j < t->samples[i].n_labels; j++) {
            fn(&t->samples[i].labels[j].key, arg);
            fn(&t->samples[i].labels[j].str, arg);
            fn(&t->samples[i].labels[j].num_unit, arg);
        }
    for (size_t i = 0; i < t->n_mappings; i++) {
        fn(&t->mappings[i].filename, arg);
        fn(&t->mappings[i].build_id, arg);
    }
    for (size_t i = 0; i < t->n_functions; i++) {
        fn(&t->functions[i].name, arg);
        fn(&t->functions[i].system_name, arg);
        fn(&t->functions[i].filename, arg);
    }
    for (size_t i = 0; i < t->n_comments; i++)
        fn(&t->comments[i], arg);
    fn(&t->drop_frames, arg);
    fn(&t->keep_frames, arg);
    fn(&t->period_type.type, arg);
    fn(&t->period_type.unit, arg);
    fn(&t->default_sample_type, arg);
    fn(&t->doc_url, arg);
}

typedef struct string_remap {
    int64_t *to; /* old index -> new index, -1 while unused */
    size_t n;
} string_remap;

static void mark_string(int64_t *idx, void *arg)
{
    string_remap *r = arg;
    if (*idx >= 0 && (uint64_t)*idx < r->n)
        r->to[*idx] = 0;
}

static void renumber_string(int64_t *idx, void *arg)
{
    string_remap *r = arg;
    if (*idx >= 0 && (uint64_t)*idx < r->n)
        *idx = r->to[*idx];
}

static int compact_strings(pp_pprof *t)
{
    if (t->n_strings == 0)
        return 0;
    string_remap r = {malloc(t->n_strings * sizeof(int64_t)), t->n_strings};
    if (!r.to)
        return -1;
    for (size_t i = 0; i < r.n; i++)
        r.to[i] = -1;
    r.to[0] = 0;
    each_string_ref(t, mark_string, &r);
    struct pp_string_lens *lens = t->string_lens;
    size_t kept = 0;
    for (size_t i = 0; i < r.n; i++) {
        if (r.to[i] < 0)
            continue;
        r.to[i] = (int64_t)kept;
        if (lens && kept < lens->n) /* a length moves with its string */
            lens->items[kept] = i < lens->n ? lens->items[i] : (pprof_str_entry){0};
        t->strings[kept++] = t->strings[i];
    }
    t->n_strings = kept;
    each_string_ref(t, renumber_string, &r);
    free(r.to);
    return 0;
}

int pprof_compact(pp_profile *p)
{
    pp_pprof *t = profile_tree_mut(p, NULL, 0);
    if (!t)
        return -1;
    int rc = compact_samples(t);
    if (rc == 0)
        rc = compact_references(p);
    if (rc == 0)
        rc = compact_strings(t);
    pprof_caches_reset(p);
    return rc;
}
