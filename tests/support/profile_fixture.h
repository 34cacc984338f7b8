/* profile_fixture: shared by the processor unit tests (test_relabel,
 * test_span_correlation, test_downsample): builds small pprof trees from
 * readable stacks ("main;work;leaf", root first) through the host API, runs
 * a processor through the harness, and reads results back by stack.
 * One function and one location per distinct frame name. */
#ifndef PROFILE_FIXTURE_H
#define PROFILE_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#include <profpipe/plugin.h>

#include "harness.h"

#define FX_MAX_FRAMES 64
#define FX_ERR 512

static const pp_host *fx_host(void)
{
    return harness_host();
}

/* A profile with series labels service_name/__name__ and the given
 * sample types ("samples/count,cpu/nanoseconds"). */
static pp_profile *fx_profile(const char *service, const char *family, const char *types)
{
    const pp_host *h = fx_host();
    pp_profile *p = h->profile_new();
    assert_non_null(p);
    if (service)
        assert_int_equal(h->label_set(p, "service_name", service), 0);
    if (family)
        assert_int_equal(h->label_set(p, "__name__", family), 0);
    pp_pprof *t = h->profile_tree_new(p);
    assert_non_null(t);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", types);
    size_t n = 1;
    for (const char *c = buf; *c; c++)
        n += *c == ',';
    t->sample_types = h->profile_alloc(p, n * sizeof *t->sample_types);
    size_t i = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *slash = strchr(tok, '/');
        assert_non_null(slash);
        *slash = '\0';
        t->sample_types[i].type = h->pprof_intern(p, tok);
        t->sample_types[i].unit = h->pprof_intern(p, slash + 1);
        i++;
    }
    t->n_sample_types = i;
    t->period_type = t->sample_types[i - 1];
    t->period = 1;
    h->profile_set_window(p, 1000000000, 2000000000);
    return p;
}

/* The location id of frame `name`, added when new. */
static uint64_t fx_location(pp_profile *p, pp_pprof *t, const char *name)
{
    const pp_host *h = fx_host();
    for (size_t i = 0; i < t->n_locations; i++) {
        const pp_location *l = &t->locations[i];
        const pp_function *f = h->pprof_function(p, l->lines[0].function_id);
        if (f && strcmp(t->strings[f->name], name) == 0)
            return l->id;
    }
    uint64_t id = t->n_locations + 1;
    pp_function *fns = h->profile_alloc(p, (t->n_functions + 1) * sizeof *fns);
    pp_location *locs = h->profile_alloc(p, (t->n_locations + 1) * sizeof *locs);
    pp_line *line = h->profile_alloc(p, sizeof *line);
    if (t->n_functions)
        memcpy(fns, t->functions, t->n_functions * sizeof *fns);
    if (t->n_locations)
        memcpy(locs, t->locations, t->n_locations * sizeof *locs);
    int64_t s = h->pprof_intern(p, name);
    fns[t->n_functions] = (pp_function){.id = id, .name = s, .system_name = s};
    *line = (pp_line){.function_id = id, .line = 1};
    locs[t->n_locations] =
        (pp_location){.id = id, .address = 0x1000 * id, .lines = line, .n_lines = 1};
    t->functions = fns;
    t->n_functions++;
    t->locations = locs;
    t->n_locations++;
    return id;
}

/* Adds a sample: stack root first "a;b;c", values, labels "k=v,k2=v2"
 * ("" for none; "#k=5" for a numeric label). */
static void fx_sample(pp_profile *p, const char *stack, const int64_t *values, const char *labels)
{
    const pp_host *h = fx_host();
    char err[FX_ERR];
    pp_pprof *t = h->profile_tree_mut(p, err, sizeof err);
    assert_non_null(t);
    uint64_t frames[FX_MAX_FRAMES];
    size_t n = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", stack);
    for (char *save = NULL, *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
        frames[n++] = fx_location(p, t, tok);
    pp_sample *samples = h->profile_alloc(p, (t->n_samples + 1) * sizeof *samples);
    if (t->n_samples)
        memcpy(samples, t->samples, t->n_samples * sizeof *samples);
    pp_sample *s = &samples[t->n_samples];
    s->location_ids = h->profile_alloc(p, (n ? n : 1) * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++)
        s->location_ids[i] = frames[n - 1 - i]; /* leaf first */
    s->n_location_ids = n;
    s->values = h->profile_alloc(p, t->n_sample_types * sizeof(int64_t));
    memcpy(s->values, values, t->n_sample_types * sizeof(int64_t));
    s->n_values = t->n_sample_types;
    snprintf(buf, sizeof buf, "%s", labels ? labels : "");
    size_t nl = *buf ? 1 : 0;
    for (const char *c = buf; *c; c++)
        nl += *c == ',';
    s->labels = h->profile_alloc(p, (nl ? nl : 1) * sizeof(pp_label));
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        assert_non_null(eq);
        *eq = '\0';
        pp_label *l = &s->labels[s->n_labels++];
        if (tok[0] == '#') {
            l->key = h->pprof_intern(p, tok + 1);
            l->num = strtoll(eq + 1, NULL, 10);
        } else {
            l->key = h->pprof_intern(p, tok);
            l->str = h->pprof_intern(p, eq + 1);
        }
    }
    t->samples = samples;
    t->n_samples++;
}

static void fx_sample1(pp_profile *p, const char *stack, int64_t v, const char *labels)
{
    int64_t values[4] = {v, v, v, v};
    fx_sample(p, stack, values, labels);
}

/* Re-reads p from its encoded bytes, as a downstream exporter would:
 * catches trees that only look right in memory. */
static pp_profile *fx_roundtrip(pp_profile *p)
{
    const pp_host *h = fx_host();
    const uint8_t *data;
    size_t len;
    char err[FX_ERR];
    assert_int_equal(h->profile_raw_gz(p, &data, &len, err, sizeof err), 0);
    pp_profile *q = h->profile_clone(p);
    assert_non_null(q);
    assert_int_equal(h->profile_set_raw(q, data, len), 0);
    h->profile_free(p);
    return q;
}

/* Root-first "a;b;c" of sample s. */
static void fx_stack_text(const pp_profile *p, const pp_pprof *t, const pp_sample *s, char *out,
                          size_t outlen)
{
    const pp_host *h = fx_host();
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = s->n_location_ids; i-- > 0;) {
        const pp_location *l = h->pprof_location(p, s->location_ids[i]);
        assert_non_null(l);
        const pp_function *f = h->pprof_function(p, l->lines[0].function_id);
        assert_non_null(f);
        off +=
            (size_t)snprintf(out + off, outlen - off, "%s%s", off ? ";" : "", t->strings[f->name]);
    }
}

/* The string value of sample label `key` on s, or NULL. */
static const char *fx_label(const pp_pprof *t, const pp_sample *s, const char *key)
{
    for (size_t i = 0; i < s->n_labels; i++)
        if (s->labels[i].str && strcmp(t->strings[s->labels[i].key], key) == 0)
            return t->strings[s->labels[i].str];
    return NULL;
}

/* Sum of value vi over samples whose stack is `stack` (NULL: all) and,
 * if label_key is set, whose label equals label_value (NULL: absent). */
static int64_t fx_sum(pp_profile *p, const char *stack, size_t vi, const char *label_key,
                      const char *label_value)
{
    char err[FX_ERR], text[2048];
    const pp_pprof *t = fx_host()->profile_tree(p, err, sizeof err);
    assert_non_null(t);
    int64_t sum = 0;
    for (size_t i = 0; i < t->n_samples; i++) {
        const pp_sample *s = &t->samples[i];
        if (stack) {
            fx_stack_text(p, t, s, text, sizeof text);
            if (strcmp(text, stack) != 0)
                continue;
        }
        if (label_key) {
            const char *v = fx_label(t, s, label_key);
            if (label_value ? (!v || strcmp(v, label_value) != 0) : v != NULL)
                continue;
        }
        sum += s->values[vi];
    }
    return sum;
}

/* Runs the processor on a one-profile batch; returns the output batch
 * (NULL if the processor passed nothing on). */
static pp_batch *fx_run(const pp_component *comp, harness *hs, pp_profile *p)
{
    const pp_host *h = fx_host();
    pp_batch *b = h->batch_new();
    assert_int_equal(h->batch_add(b, p), 0);
    return comp->process(harness_state(hs), b);
}

static harness *fx_harness(const pp_component *comp, const char *yaml)
{
    char err[FX_ERR] = "";
    harness *hs = harness_new(comp, comp->type, yaml, err, sizeof err);
    if (!hs)
        fail_msg("harness_new: %s", err);
    return hs;
}

#endif
