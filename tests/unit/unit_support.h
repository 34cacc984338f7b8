/* unit_support: helpers several unit tests share. Include after cmocka.h
 * and harness.h. */
#ifndef PROFPIPE_UNIT_SUPPORT_H
#define PROFPIPE_UNIT_SUPPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "push.pb-c.h"

/* A PushRequest of one series holding one raw sample of the len bytes at
 * raw, packed into out (room for len + 32 bytes); its length. */
static inline size_t unit_push_one_raw(const void *raw, size_t len, uint8_t *out)
{
    Push__V1__RawSample rs = PUSH__V1__RAW_SAMPLE__INIT;
    rs.raw_profile.data = (uint8_t *)raw;
    rs.raw_profile.len = len;
    Push__V1__RawSample *rsp = &rs;
    Push__V1__RawProfileSeries ser = PUSH__V1__RAW_PROFILE_SERIES__INIT;
    ser.samples = &rsp;
    ser.n_samples = 1;
    Push__V1__RawProfileSeries *serp = &ser;
    Push__V1__PushRequest req = PUSH__V1__PUSH_REQUEST__INIT;
    req.series = &serp;
    req.n_series = 1;
    return push__v1__push_request__pack(&req, out);
}

/* The gzip'd pprof of a profile with one sample type and one sample of
 * `value` (no stack), taken at time_ns (0: none) over duration_ns.
 * malloc'd; its length in *len. */
static inline uint8_t *unit_one_sample_gz(const char *type, const char *unit, int64_t value,
                                          int64_t time_ns, int64_t duration_ns, size_t *len)
{
    const pp_host *h = harness_host();
    pp_profile *p = h->profile_new();
    pp_pprof *t = h->profile_tree_new(p);
    int64_t ty = h->pprof_intern(p, type), un = h->pprof_intern(p, unit);
    t->sample_types = h->profile_alloc(p, sizeof *t->sample_types);
    t->sample_types[0] = (pp_value_type){ty, un};
    t->n_sample_types = 1;
    t->samples = h->profile_alloc(p, sizeof *t->samples);
    t->samples[0].values = h->profile_alloc(p, sizeof(int64_t));
    t->samples[0].values[0] = value;
    t->samples[0].n_values = 1;
    t->n_samples = 1;
    t->time_nanos = time_ns;
    t->duration_nanos = duration_ns;
    const uint8_t *gz;
    char err[256];
    assert_int_equal(h->profile_raw_gz(p, &gz, len, err, sizeof err), 0);
    uint8_t *out = malloc(*len);
    assert_non_null(out);
    memcpy(out, gz, *len);
    h->profile_free(p);
    return out;
}

/* Makes p's payload a new tree: one sample type type/unit and one sample
 * of `value` on a one-frame stack (main.main, line 7). */
static inline void unit_one_frame_tree(pp_profile *p, const char *type, const char *unit,
                                       int64_t value)
{
    const pp_host *h = harness_host();
    pp_pprof *t = h->profile_tree_new(p);
    t->sample_types = h->profile_alloc(p, sizeof(pp_value_type));
    t->sample_types[0] = (pp_value_type){h->pprof_intern(p, type), h->pprof_intern(p, unit)};
    t->n_sample_types = 1;
    t->functions = h->profile_alloc(p, sizeof(pp_function));
    t->functions[0] = (pp_function){1, h->pprof_intern(p, "main.main"), 0, 0, 0};
    t->n_functions = 1;
    t->locations = h->profile_alloc(p, sizeof(pp_location));
    t->locations[0].id = 1;
    t->locations[0].lines = h->profile_alloc(p, sizeof(pp_line));
    t->locations[0].lines[0] = (pp_line){1, 7, 0};
    t->locations[0].n_lines = 1;
    t->n_locations = 1;
    t->samples = h->profile_alloc(p, sizeof(pp_sample));
    t->samples[0].location_ids = h->profile_alloc(p, sizeof(uint64_t));
    t->samples[0].location_ids[0] = 1;
    t->samples[0].n_location_ids = 1;
    t->samples[0].values = h->profile_alloc(p, sizeof(int64_t));
    t->samples[0].values[0] = value;
    t->samples[0].n_values = 1;
    t->n_samples = 1;
}

/* Makes p's payload a new tree of n samples over n_types sample types
 * (names and values left to the caller: t->sample_types has room for
 * n_types, each sample's values for n_types, n_sample_types is 0): one
 * mapping /bin/x, functions pkg.fn0 .. pkg.fn<n-1> in x.go, one location
 * each, and sample i on the stack fn<i> .. fn0 (i + 1 frames), with room
 * for n_labels labels. Returns the tree. */
static inline pp_pprof *unit_chain_tree(pp_profile *p, int n, size_t n_types, size_t n_labels)
{
    const pp_host *h = harness_host();
    pp_pprof *t = h->profile_tree_new(p);
    t->sample_types = h->profile_alloc(p, n_types * sizeof(pp_value_type));
    t->mappings = h->profile_alloc(p, sizeof(pp_mapping));
    t->mappings[0] =
        (pp_mapping){1, 0x1000, 0x9000, 0, h->pprof_intern(p, "/bin/x"), 0, 1, 1, 1, 1};
    t->n_mappings = 1;
    t->functions = h->profile_alloc(p, (size_t)n * sizeof(pp_function));
    t->locations = h->profile_alloc(p, (size_t)n * sizeof(pp_location));
    t->samples = h->profile_alloc(p, (size_t)n * sizeof(pp_sample));
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "pkg.fn%d", i);
        t->functions[i] = (pp_function){(uint64_t)i + 1, h->pprof_intern(p, name), 0,
                                        h->pprof_intern(p, "x.go"), i};
        pp_location *l = &t->locations[i];
        l->id = (uint64_t)i + 1;
        l->mapping_id = 1;
        l->address = 0x1000 + 16 * (uint64_t)i;
        l->lines = h->profile_alloc(p, sizeof(pp_line));
        l->lines[0] = (pp_line){(uint64_t)i + 1, 100 + i, 0};
        l->n_lines = 1;
        pp_sample *s = &t->samples[i];
        s->location_ids = h->profile_alloc(p, (size_t)(i + 1) * sizeof(uint64_t));
        for (int j = 0; j <= i; j++)
            s->location_ids[j] = (uint64_t)(i - j) + 1;
        s->n_location_ids = (size_t)i + 1;
        s->values = h->profile_alloc(p, n_types * sizeof(int64_t));
        s->n_values = n_types;
        s->labels = n_labels ? h->profile_alloc(p, n_labels * sizeof(pp_label)) : NULL;
    }
    t->n_functions = t->n_locations = t->n_samples = (size_t)n;
    return t;
}

/* A new folder /tmp/<name>.XXXXXX in dir (room for 256 bytes). 0 or -1. */
static inline int unit_make_tmpdir(char *dir, size_t len, const char *name)
{
    snprintf(dir, len, "/tmp/%s.XXXXXX", name);
    return mkdtemp(dir) ? 0 : -1;
}

/* Removes a folder made by unit_make_tmpdir, with what is in it. */
static inline int unit_remove_tmpdir(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
