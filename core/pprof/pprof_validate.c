/* pprof_validate: the structural checks a decoded tree must pass before
 * anything downstream may index with its numbers.
 *
 * Every string index is checked against the string table, every sample's
 * value count against the sample types, every id for zero and duplicates,
 * and every reference (sample -> location, location -> mapping and function)
 * for a target. After this, code that walks the tree never needs a bounds
 * check, which is the point: a hostile profile fails here with a message
 * naming the element, never later with a crash. Id sets are sorted copies
 * searched by bisection, except for the common dense case (ids 1..n in
 * order, as Go writes them), which needs no copy at all. */
#include "pprof_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct id_set {
    uint64_t *sorted; /* malloc'd, NULL when dense */
    size_t n;
    int dense;
} id_set;

/* Builds the id set of n elements of `stride` bytes whose id is the first
 * member; rejects zero and duplicate ids. */
static int id_set_build(id_set *s, const void *elems, size_t n, size_t stride, const char *what,
                        char *err, size_t errlen)
{
    const uint8_t *base = elems;
    memset(s, 0, sizeof(*s));
    s->n = n;
    s->dense = 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t id = *(const uint64_t *)(const void *)(base + i * stride);
        if (id == 0)
            return pprof_errorf(err, errlen, "%s %zu has id 0 (ids must be non-zero)", what, i);
        if (id != i + 1)
            s->dense = 0;
    }
    if (s->dense)
        return 0;
    s->sorted = malloc((n ? n : 1) * sizeof(uint64_t));
    if (!s->sorted)
        return pprof_errorf(err, errlen, "validate pprof: out of memory");
    for (size_t i = 0; i < n; i++)
        s->sorted[i] = *(const uint64_t *)(const void *)(base + i * stride);
    qsort(s->sorted, n, sizeof(uint64_t), pprof_u64_cmp);
    for (size_t i = 1; i < n; i++)
        if (s->sorted[i] == s->sorted[i - 1])
            return pprof_errorf(err, errlen, "duplicate %s id %llu", what,
                                (unsigned long long)s->sorted[i]);
    return 0;
}

static int id_set_has(const id_set *s, uint64_t id)
{
    if (s->dense)
        return id >= 1 && id <= s->n;
    return bsearch(&id, s->sorted, s->n, sizeof(uint64_t), pprof_u64_cmp) != NULL;
}

/* Checks one string index; `what` and `i` name the field for the message. */
static int str_ok(const pp_pprof *t, int64_t idx, const char *what, size_t i, char *err,
                  size_t errlen)
{
    if (idx >= 0 && (uint64_t)idx < t->n_strings)
        return 0;
    return pprof_errorf(err, errlen,
                        "string index %lld out of range (string table has %zu "
                        "entries) in %s %zu",
                        (long long)idx, t->n_strings, what, i);
}

static int check_strings(const pp_pprof *t, char *err, size_t errlen)
{
#define STR(idx, what, i)                                                                          \
    do {                                                                                           \
        if (str_ok(t, (idx), (what), (i), err, errlen) < 0)                                        \
            return -1;                                                                             \
    } while (0)
    for (size_t i = 0; i < t->n_sample_types; i++) {
        STR(t->sample_types[i].type, "sample_type.type", i);
        STR(t->sample_types[i].unit, "sample_type.unit", i);
    }
    for (size_t i = 0; i < t->n_samples; i++)
        for (size_t j = 0; j < t->samples[i].n_labels; j++) {
            STR(t->samples[i].labels[j].key, "label.key of sample", i);
            STR(t->samples[i].labels[j].str, "label.str of sample", i);
            STR(t->samples[i].labels[j].num_unit, "label.num_unit of sample", i);
        }
    for (size_t i = 0; i < t->n_mappings; i++) {
        STR(t->mappings[i].filename, "mapping.filename", i);
        STR(t->mappings[i].build_id, "mapping.build_id", i);
    }
    for (size_t i = 0; i < t->n_functions; i++) {
        STR(t->functions[i].name, "function.name", i);
        STR(t->functions[i].system_name, "function.system_name", i);
        STR(t->functions[i].filename, "function.filename", i);
    }
    for (size_t i = 0; i < t->n_comments; i++)
        STR(t->comments[i], "comment", i);
    STR(t->drop_frames, "drop_frames", (size_t)0);
    STR(t->keep_frames, "keep_frames", (size_t)0);
    STR(t->period_type.type, "period_type.type", (size_t)0);
    STR(t->period_type.unit, "period_type.unit", (size_t)0);
    STR(t->default_sample_type, "default_sample_type", (size_t)0);
    STR(t->doc_url, "doc_url", (size_t)0);
#undef STR
    return 0;
}

static int check_samples(const pp_pprof *t, const id_set *locs, char *err, size_t errlen)
{
    for (size_t i = 0; i < t->n_samples; i++) {
        const pp_sample *s = &t->samples[i];
        if (s->n_values != t->n_sample_types)
            return pprof_errorf(err, errlen,
                                "sample %zu has %zu values, expected %zu (one per "
                                "sample type)",
                                i, s->n_values, t->n_sample_types);
        for (size_t j = 0; j < s->n_location_ids; j++)
            if (!id_set_has(locs, s->location_ids[j]))
                return pprof_errorf(err, errlen, "sample %zu names unknown location id %llu", i,
                                    (unsigned long long)s->location_ids[j]);
    }
    return 0;
}

static int check_locations(const pp_pprof *t, const id_set *maps, const id_set *fns, char *err,
                           size_t errlen)
{
    for (size_t i = 0; i < t->n_locations; i++) {
        const pp_location *l = &t->locations[i];
        if (l->mapping_id && !id_set_has(maps, l->mapping_id))
            return pprof_errorf(err, errlen, "location %llu names unknown mapping id %llu",
                                (unsigned long long)l->id, (unsigned long long)l->mapping_id);
        for (size_t j = 0; j < l->n_lines; j++)
            if (l->lines[j].function_id && !id_set_has(fns, l->lines[j].function_id))
                return pprof_errorf(err, errlen, "location %llu names unknown function id %llu",
                                    (unsigned long long)l->id,
                                    (unsigned long long)l->lines[j].function_id);
    }
    return 0;
}

int pprof_validate(const pp_pprof *t, char *err, size_t errlen)
{
    if (t->n_strings == 0)
        return pprof_errorf(err, errlen, "string table is empty (string_table[0] must be \"\")");
    if (pprof_str_len(t, 0) != 0)
        return pprof_errorf(err, errlen, "string_table[0] must be \"\", got \"%.40s\"",
                            t->strings[0]);
    if (check_strings(t, err, errlen) < 0)
        return -1;
    id_set maps = {0}, locs = {0}, fns = {0};
    int rc = -1;
    if (id_set_build(&maps, t->mappings, t->n_mappings, sizeof(pp_mapping), "mapping", err,
                     errlen) == 0 &&
        id_set_build(&locs, t->locations, t->n_locations, sizeof(pp_location), "location", err,
                     errlen) == 0 &&
        id_set_build(&fns, t->functions, t->n_functions, sizeof(pp_function), "function", err,
                     errlen) == 0 &&
        check_samples(t, &locs, err, errlen) == 0 &&
        check_locations(t, &maps, &fns, err, errlen) == 0)
        rc = 0;
    free(maps.sorted);
    free(locs.sorted);
    free(fns.sorted);
    return rc;
}
