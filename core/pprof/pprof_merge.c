/* pprof_merge: add one profile's samples into another, under pprof's rules.
 *
 * Two profiles number their functions, mappings, locations and strings
 * independently, so nothing is matched by id: a function is its name,
 * system name, file and start line; a mapping its size, offset, build id
 * and file; a location its mapping, its address relative to the mapping
 * start, and its lines; a sample its stack of (merged) locations and its
 * labels. Each src element is looked up by that content in dst and added
 * to dst when missing, with a fresh id. Arrays of dst grow by doubling in
 * dst's arena. As in pprof: the period types and the sample types (number,
 * type and unit of each) must be equal; the merged time is the earliest,
 * the duration the sum, the period the larger. Sums that leave int64's
 * range (durations, sample values) stick at its ends (pprof_add_sat). */
#include "pprof_internal.h"
#include "pprof_keymap.h"

#include <stdlib.h>
#include <string.h>

#define MERGE_MIN_GROW 16

typedef struct merge_ctx {
    pp_profile *dp;
    pp_pprof *d;
    const pp_pprof *s;
    keymap fn_by_key, map_by_key, loc_by_key, sample_by_key;
    keymap fn_src, map_src, loc_src; /* src id -> dst id */
    keymap map_pos;                  /* dst mapping id -> index */
    keymap src_map_pos;              /* src mapping id -> index */
    uint64_t *scratch_ids;           /* malloc'd, cap_scratch_ids */
    size_t cap_scratch_ids;
    pp_label *scratch_labels; /* malloc'd, cap_scratch_labels */
    size_t cap_scratch_labels;
    key_buf k;
    size_t cap_fn, cap_map, cap_loc, cap_sample;
    uint64_t next_fn, next_map, next_loc;
} merge_ctx;

static const char *str_of(const pp_pprof *t, int64_t idx)
{
    return idx >= 0 && (uint64_t)idx < t->n_strings ? t->strings[idx] : "";
}

/* Appends string idx of t to the key, every byte of it. */
static void key_string(key_buf *k, const pp_pprof *t, int64_t idx)
{
    key_bytes(k, str_of(t, idx), pprof_string_len(t, idx));
}

static int same_value_type(const pp_pprof *a, const pp_value_type *x, const pp_pprof *b,
                           const pp_value_type *y)
{
    return pprof_str_eq(a, x->type, b, y->type) && pprof_str_eq(a, x->unit, b, y->unit);
}

static int merge_check(const pp_pprof *d, const pp_pprof *s, char *err, size_t errlen)
{
    if (!same_value_type(d, &d->period_type, s, &s->period_type))
        return pprof_errorf(err, errlen, "incompatible period types: %s/%s vs %s/%s",
                            str_of(d, d->period_type.type), str_of(d, d->period_type.unit),
                            str_of(s, s->period_type.type), str_of(s, s->period_type.unit));
    if (d->n_sample_types != s->n_sample_types)
        return pprof_errorf(err, errlen, "incompatible sample types: %zu vs %zu types",
                            d->n_sample_types, s->n_sample_types);
    for (size_t i = 0; i < d->n_sample_types; i++)
        if (!same_value_type(d, &d->sample_types[i], s, &s->sample_types[i]))
            return pprof_errorf(
                err, errlen, "incompatible sample type %zu: %s/%s vs %s/%s", i,
                str_of(d, d->sample_types[i].type), str_of(d, d->sample_types[i].unit),
                str_of(s, s->sample_types[i].type), str_of(s, s->sample_types[i].unit));
    return 0;
}

/* Makes room for one more element in *arr (n used, *cap capacity). */
static int grow(merge_ctx *m, void **arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t ncap = n < MERGE_MIN_GROW ? MERGE_MIN_GROW : n * 2;
    void *na = arena_calloc(&m->dp->mem, ncap, elem);
    if (!na)
        return -1;
    if (n)
        memcpy(na, *arr, n * elem);
    *arr = na;
    *cap = ncap;
    return 0;
}

static int id_get(const keymap *km, uint64_t id, uint64_t *out)
{
    return keymap_get(km, &id, sizeof(id), out);
}

static int id_put(keymap *km, uint64_t id, uint64_t value)
{
    return keymap_put(km, &id, sizeof(id), value);
}

static void function_key(key_buf *k, const pp_pprof *t, const pp_function *f)
{
    key_reset(k);
    key_string(k, t, f->name);
    key_string(k, t, f->system_name);
    key_string(k, t, f->filename);
    key_u64(k, (uint64_t)f->start_line);
}

static void mapping_key(key_buf *k, const pp_pprof *t, const pp_mapping *mp)
{
    key_reset(k);
    key_u64(k, mp->memory_limit - mp->memory_start);
    key_u64(k, mp->file_offset);
    key_string(k, t, mp->build_id);
    key_string(k, t, mp->filename);
}

/* Location key in dst terms: mapping and function ids already mapped. */
static void location_key(key_buf *k, uint64_t map_id, uint64_t rel_addr, const pp_location *l,
                         const uint64_t *fn_ids)
{
    key_reset(k);
    key_u64(k, map_id);
    key_u64(k, rel_addr);
    key_u64(k, (uint64_t)l->is_folded);
    for (size_t i = 0; i < l->n_lines; i++) {
        key_u64(k, fn_ids ? fn_ids[i] : l->lines[i].function_id);
        key_u64(k, (uint64_t)l->lines[i].line);
        key_u64(k, (uint64_t)l->lines[i].column);
    }
}

static uint64_t max_id(const void *arr, size_t n, size_t stride)
{
    uint64_t mx = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t id = *(const uint64_t *)(const void *)((const uint8_t *)arr + i * stride);
        if (id > mx)
            mx = id;
    }
    return mx;
}

/* Indexes dst's own elements by content. */
static int index_dst(merge_ctx *m)
{
    pp_pprof *d = m->d;
    key_buf *k = &m->k;
    int rc = 0;
    for (size_t i = 0; i < d->n_functions && rc == 0; i++) {
        function_key(k, d, &d->functions[i]);
        rc = keymap_put(&m->fn_by_key, k->data, k->len, d->functions[i].id);
    }
    for (size_t i = 0; i < d->n_mappings && rc == 0; i++) {
        mapping_key(k, d, &d->mappings[i]);
        rc = keymap_put(&m->map_by_key, k->data, k->len, d->mappings[i].id);
        if (rc == 0)
            rc = id_put(&m->map_pos, d->mappings[i].id, i);
    }
    for (size_t i = 0; i < d->n_locations && rc == 0; i++) {
        const pp_location *l = &d->locations[i];
        uint64_t pos, start = 0;
        if (l->mapping_id && id_get(&m->map_pos, l->mapping_id, &pos))
            start = d->mappings[pos].memory_start;
        location_key(k, l->mapping_id, l->address - start, l, NULL);
        rc = keymap_put(&m->loc_by_key, k->data, k->len, l->id);
    }
    for (size_t i = 0; i < d->n_samples && rc == 0; i++) {
        pp_sample *s = &d->samples[i];
        if (s->n_labels > 1)
            qsort(s->labels, s->n_labels, sizeof(pp_label), pprof_label_cmp);
        pprof_sample_key(k, s->location_ids, s->n_location_ids, s->labels, s->n_labels);
        rc = keymap_put(&m->sample_by_key, k->data, k->len, i);
    }
    return rc || m->k.failed ? -1 : 0;
}

/* Interns src string idx into dst. */
static int64_t intern_src(merge_ctx *m, int64_t idx)
{
    if (idx == 0)
        return 0;
    return pprof_intern_bytes(m->dp, str_of(m->s, idx), pprof_string_len(m->s, idx));
}

static int merge_functions(merge_ctx *m)
{
    const pp_pprof *s = m->s;
    for (size_t i = 0; i < s->n_functions; i++) {
        const pp_function *f = &s->functions[i];
        uint64_t id;
        function_key(&m->k, s, f);
        if (m->k.failed)
            return -1;
        if (!keymap_get(&m->fn_by_key, m->k.data, m->k.len, &id)) {
            if (grow(m, (void **)&m->d->functions, m->d->n_functions, &m->cap_fn,
                     sizeof(pp_function)) < 0)
                return -1;
            pp_function nf = {++m->next_fn, intern_src(m, f->name), intern_src(m, f->system_name),
                              intern_src(m, f->filename), f->start_line};
            if (nf.name < 0 || nf.system_name < 0 || nf.filename < 0)
                return -1;
            m->d->functions[m->d->n_functions++] = nf;
            id = nf.id;
            if (keymap_put(&m->fn_by_key, m->k.data, m->k.len, id) < 0)
                return -1;
        }
        if (id_put(&m->fn_src, f->id, id) < 0)
            return -1;
    }
    return 0;
}

static int merge_mappings(merge_ctx *m)
{
    const pp_pprof *s = m->s;
    for (size_t i = 0; i < s->n_mappings; i++) {
        const pp_mapping *mp = &s->mappings[i];
        uint64_t id;
        mapping_key(&m->k, s, mp);
        if (m->k.failed)
            return -1;
        if (!keymap_get(&m->map_by_key, m->k.data, m->k.len, &id)) {
            if (grow(m, (void **)&m->d->mappings, m->d->n_mappings, &m->cap_map,
                     sizeof(pp_mapping)) < 0)
                return -1;
            pp_mapping nm = *mp;
            nm.id = ++m->next_map;
            nm.filename = intern_src(m, mp->filename);
            nm.build_id = intern_src(m, mp->build_id);
            if (nm.filename < 0 || nm.build_id < 0)
                return -1;
            if (id_put(&m->map_pos, nm.id, m->d->n_mappings) < 0)
                return -1;
            m->d->mappings[m->d->n_mappings++] = nm;
            id = nm.id;
            if (keymap_put(&m->map_by_key, m->k.data, m->k.len, id) < 0)
                return -1;
        }
        if (id_put(&m->map_src, mp->id, id) < 0)
            return -1;
    }
    return 0;
}

/* Makes the scratch arrays hold n ids and n labels. */
static int scratch_reserve(merge_ctx *m, size_t n_ids, size_t n_labels)
{
    if (n_ids > m->cap_scratch_ids) {
        uint64_t *ni = realloc(m->scratch_ids, n_ids * sizeof(*ni));
        if (!ni)
            return -1;
        m->scratch_ids = ni;
        m->cap_scratch_ids = n_ids;
    }
    if (n_labels > m->cap_scratch_labels) {
        pp_label *nl = realloc(m->scratch_labels, n_labels * sizeof(*nl));
        if (!nl)
            return -1;
        m->scratch_labels = nl;
        m->cap_scratch_labels = n_labels;
    }
    return 0;
}

static uint64_t mapping_start(const keymap *pos, const pp_pprof *t, uint64_t id)
{
    uint64_t i;
    if (id && id_get(pos, id, &i))
        return t->mappings[i].memory_start;
    return 0;
}

static int add_location(merge_ctx *m, const pp_location *l, uint64_t map_id, uint64_t address,
                        const uint64_t *fn_ids, uint64_t *id)
{
    pp_pprof *d = m->d;
    if (grow(m, (void **)&d->locations, d->n_locations, &m->cap_loc, sizeof(pp_location)) < 0)
        return -1;
    pp_location nl = *l;
    nl.id = ++m->next_loc;
    nl.mapping_id = map_id;
    nl.address = address;
    nl.lines = NULL;
    if (l->n_lines) {
        nl.lines = arena_calloc(&m->dp->mem, l->n_lines, sizeof(pp_line));
        if (!nl.lines)
            return -1;
        for (size_t i = 0; i < l->n_lines; i++) {
            nl.lines[i] = l->lines[i];
            nl.lines[i].function_id = fn_ids[i];
        }
    }
    d->locations[d->n_locations++] = nl;
    *id = nl.id;
    return keymap_put(&m->loc_by_key, m->k.data, m->k.len, nl.id);
}

static int merge_locations(merge_ctx *m)
{
    const pp_pprof *s = m->s;
    for (size_t i = 0; i < s->n_locations; i++) {
        const pp_location *l = &s->locations[i];
        if (scratch_reserve(m, l->n_lines, 0) < 0)
            return -1;
        uint64_t map_id = 0, id;
        if (l->mapping_id && !id_get(&m->map_src, l->mapping_id, &map_id))
            return -1;
        for (size_t j = 0; j < l->n_lines; j++) {
            uint64_t fid = l->lines[j].function_id;
            m->scratch_ids[j] = 0;
            if (fid && !id_get(&m->fn_src, fid, &m->scratch_ids[j]))
                return -1;
        }
        uint64_t rel = l->address - mapping_start(&m->src_map_pos, s, l->mapping_id);
        location_key(&m->k, map_id, rel, l, m->scratch_ids);
        if (m->k.failed)
            return -1;
        if (!keymap_get(&m->loc_by_key, m->k.data, m->k.len, &id)) {
            uint64_t addr = rel + mapping_start(&m->map_pos, m->d, map_id);
            if (add_location(m, l, map_id, addr, m->scratch_ids, &id) < 0)
                return -1;
        }
        if (id_put(&m->loc_src, l->id, id) < 0)
            return -1;
    }
    return 0;
}

/* Translates src sample s into the scratch arrays, in dst terms. */
static int translate_sample(merge_ctx *m, const pp_sample *s)
{
    if (scratch_reserve(m, s->n_location_ids, s->n_labels) < 0)
        return -1;
    for (size_t j = 0; j < s->n_location_ids; j++)
        if (!id_get(&m->loc_src, s->location_ids[j], &m->scratch_ids[j]))
            return -1;
    for (size_t j = 0; j < s->n_labels; j++) {
        pp_label l = s->labels[j];
        l.key = intern_src(m, l.key);
        l.str = intern_src(m, l.str);
        l.num_unit = intern_src(m, l.num_unit);
        if (l.key < 0 || l.str < 0 || l.num_unit < 0)
            return -1;
        m->scratch_labels[j] = l;
    }
    if (s->n_labels > 1)
        qsort(m->scratch_labels, s->n_labels, sizeof(pp_label), pprof_label_cmp);
    return 0;
}

static int add_sample(merge_ctx *m, const pp_sample *s)
{
    pp_pprof *d = m->d;
    arena *a = &m->dp->mem;
    if (grow(m, (void **)&d->samples, d->n_samples, &m->cap_sample, sizeof(pp_sample)) < 0)
        return -1;
    pp_sample ns = {0};
    ns.location_ids = arena_calloc(a, s->n_location_ids, sizeof(uint64_t));
    ns.values = arena_calloc(a, s->n_values, sizeof(int64_t));
    ns.labels = s->n_labels ? arena_calloc(a, s->n_labels, sizeof(pp_label)) : NULL;
    if (!ns.location_ids || !ns.values || (s->n_labels && !ns.labels))
        return -1;
    ns.n_location_ids = s->n_location_ids;
    ns.n_values = s->n_values;
    ns.n_labels = s->n_labels;
    /* a sample may have no locations or no values: no copy from NULL then */
    if (s->n_location_ids)
        memcpy(ns.location_ids, m->scratch_ids, s->n_location_ids * sizeof(uint64_t));
    if (s->n_values)
        memcpy(ns.values, s->values, s->n_values * sizeof(int64_t));
    if (s->n_labels)
        memcpy(ns.labels, m->scratch_labels, s->n_labels * sizeof(pp_label));
    if (keymap_put(&m->sample_by_key, m->k.data, m->k.len, d->n_samples) < 0)
        return -1;
    d->samples[d->n_samples++] = ns;
    return 0;
}

static int merge_samples(merge_ctx *m)
{
    const pp_pprof *s = m->s;
    for (size_t i = 0; i < s->n_samples; i++) {
        const pp_sample *ss = &s->samples[i];
        if (translate_sample(m, ss) < 0)
            return -1;
        pprof_sample_key(&m->k, m->scratch_ids, ss->n_location_ids, m->scratch_labels,
                         ss->n_labels);
        if (m->k.failed)
            return -1;
        uint64_t at;
        if (!keymap_get(&m->sample_by_key, m->k.data, m->k.len, &at)) {
            if (add_sample(m, ss) < 0)
                return -1;
            continue;
        }
        pprof_sample_add(&m->d->samples[at], ss);
    }
    return 0;
}

static void merge_header(pp_pprof *d, const pp_pprof *s)
{
    if (s->time_nanos && (!d->time_nanos || s->time_nanos < d->time_nanos))
        d->time_nanos = s->time_nanos;
    d->duration_nanos = pprof_add_sat(d->duration_nanos, s->duration_nanos);
    if (s->period > d->period)
        d->period = s->period;
}

static int merge_init(merge_ctx *m, pp_profile *dst)
{
    const pp_pprof *d = m->d, *s = m->s;
    m->dp = dst;
    m->cap_fn = d->n_functions;
    m->cap_map = d->n_mappings;
    m->cap_loc = d->n_locations;
    m->cap_sample = d->n_samples;
    m->next_fn = max_id(d->functions, d->n_functions, sizeof(pp_function));
    m->next_map = max_id(d->mappings, d->n_mappings, sizeof(pp_mapping));
    m->next_loc = max_id(d->locations, d->n_locations, sizeof(pp_location));
    int rc = keymap_init(&m->fn_by_key, d->n_functions + s->n_functions);
    rc |= keymap_init(&m->map_by_key, d->n_mappings + s->n_mappings);
    rc |= keymap_init(&m->loc_by_key, d->n_locations + s->n_locations);
    rc |= keymap_init(&m->sample_by_key, d->n_samples + s->n_samples);
    rc |= keymap_init(&m->fn_src, s->n_functions);
    rc |= keymap_init(&m->map_src, s->n_mappings);
    rc |= keymap_init(&m->loc_src, s->n_locations);
    rc |= keymap_init(&m->map_pos, d->n_mappings + s->n_mappings);
    rc |= keymap_init(&m->src_map_pos, s->n_mappings);
    for (size_t i = 0; i < s->n_mappings && rc == 0; i++)
        rc = id_put(&m->src_map_pos, s->mappings[i].id, i);
    return rc ? -1 : 0;
}

static void merge_free(merge_ctx *m)
{
    keymap *maps[] = {&m->fn_by_key, &m->map_by_key, &m->loc_by_key, &m->sample_by_key, &m->fn_src,
                      &m->map_src,   &m->loc_src,    &m->map_pos,    &m->src_map_pos};
    for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
        keymap_free(maps[i]);
    key_buf_free(&m->k);
    free(m->scratch_ids);
    free(m->scratch_labels);
}

int pprof_merge(pp_profile *dst, pp_profile *src, char *err, size_t errlen)
{
    if (dst == src)
        return pprof_errorf(err, errlen, "cannot merge a profile into itself");
    const pp_pprof *s = profile_tree(src, err, errlen);
    if (!s)
        return -1;
    const pp_pprof *dc = profile_tree(dst, err, errlen);
    if (!dc || merge_check(dc, s, err, errlen) < 0)
        return -1;
    merge_ctx m = {0};
    m.d = profile_tree_mut(dst, err, errlen);
    m.s = s;
    int rc = merge_init(&m, dst);
    if (rc == 0)
        rc = index_dst(&m);
    if (rc == 0)
        rc = merge_functions(&m);
    if (rc == 0)
        rc = merge_mappings(&m);
    if (rc == 0)
        rc = merge_locations(&m);
    if (rc == 0)
        rc = merge_samples(&m);
    if (rc == 0) {
        pprof_drop_zero_samples(m.d); /* as pprof does after a merge */
        merge_header(m.d, s);
    } else
        pprof_errorf(err, errlen, "merge: out of memory or inconsistent source tree");
    merge_free(&m);
    return rc;
}
