/* span_names: see span_names.h. Services and their admitted names are
 * short lists searched linearly: max_span_names is small by design (it
 * bounds series cardinality), and services are already series. */
#include "span_names.h"

#include <stdlib.h>
#include <string.h>

#define LABEL_SERVICE "service_name"

struct span_service {
    char *name;
    char **spans;
    size_t n_spans;
};

static span_service *service_get(span_names *sn, const char *name)
{
    for (size_t i = 0; i < sn->n_services; i++)
        if (strcmp(sn->services[i].name, name) == 0)
            return &sn->services[i];
    if (sn->n_services == sn->cap_services) {
        size_t cap = sn->cap_services ? sn->cap_services * 2 : 8;
        span_service *v = realloc(sn->services, cap * sizeof *v);
        if (!v)
            return NULL;
        sn->services = v;
        sn->cap_services = cap;
    }
    span_service *s = &sn->services[sn->n_services];
    *s = (span_service){.name = strdup(name)};
    if (!s->name)
        return NULL;
    s->spans = calloc(sn->max_names ? sn->max_names : 1, sizeof *s->spans);
    if (!s->spans) {
        free(s->name);
        return NULL;
    }
    sn->n_services++;
    return s;
}

/* 1 if `name` is (or, when may_add, becomes) one of the service's
 * admitted names, 0 if it is beyond max_names, -1 out of memory. */
static int service_admits(span_names *sn, span_service *s, const char *name, int may_add)
{
    for (size_t i = 0; i < s->n_spans; i++)
        if (strcmp(s->spans[i], name) == 0)
            return 1;
    if (!may_add || s->n_spans >= sn->max_names)
        return 0;
    if (!(s->spans[s->n_spans] = strdup(name)))
        return -1;
    s->n_spans++;
    return 1;
}

void span_names_free(span_names *sn)
{
    for (size_t i = 0; i < sn->n_services; i++) {
        for (size_t j = 0; j < sn->services[i].n_spans; j++)
            free(sn->services[i].spans[j]);
        free(sn->services[i].spans);
        free(sn->services[i].name);
    }
    free(sn->services);
    sn->services = NULL;
    sn->n_services = sn->cap_services = 0;
}

/* Index of `s` in the string table, 0 if absent. */
static int64_t string_index(const pp_pprof *t, const char *s)
{
    for (size_t i = 1; i < t->n_strings; i++)
        if (strcmp(t->strings[i], s) == 0)
            return (int64_t)i;
    return 0;
}

/* Position of the span name label in s, or -1. */
static long name_label_at(const pp_sample *s, int64_t key)
{
    if (key == 0)
        return -1;
    for (size_t i = 0; i < s->n_labels; i++)
        if (s->labels[i].key == key && s->labels[i].str != 0)
            return (long)i;
    return -1;
}

/* The group of a sample: its span name if admitted, "other", or "" when
 * it has none. NULL when out of memory. Borrowed from the tree. */
static const char *sample_group(span_names *sn, span_service *svc, const pp_pprof *t,
                                const pp_sample *s, int64_t key, int may_add)
{
    long at = name_label_at(s, key);
    if (at < 0)
        return "";
    const char *name = t->strings[s->labels[at].str];
    int admitted = service_admits(sn, svc, name, may_add);
    if (admitted < 0)
        return NULL;
    return admitted ? name : SPAN_NAME_OTHER;
}

static int promoted(const char *group)
{
    return *group && strcmp(group, SPAN_NAME_OTHER) != 0;
}

/* Cuts q down to the samples of `group`; the span name moves from the
 * samples to the series labels. 0 or -1. */
static int keep_group(span_names *sn, span_service *svc, pp_profile *q, const char *group)
{
    const pp_host *h = sn->host;
    char err[256];
    pp_pprof *t = h->profile_tree_mut(q, err, sizeof err);
    if (!t)
        return -1;
    int64_t key = string_index(t, sn->label);
    size_t kept = 0;
    for (size_t i = 0; i < t->n_samples; i++) {
        pp_sample s = t->samples[i];
        const char *g = sample_group(sn, svc, t, &s, key, 0);
        if (!g)
            return -1;
        if (strcmp(g, group) != 0)
            continue;
        long at = promoted(group) ? name_label_at(&s, key) : -1;
        if (at >= 0) {
            pp_label *l = h->profile_alloc(q, (s.n_labels ? s.n_labels : 1) * sizeof *l);
            if (!l)
                return -1;
            memcpy(l, s.labels, (size_t)at * sizeof *l);
            memcpy(l + at, s.labels + at + 1, (s.n_labels - (size_t)at - 1) * sizeof *l);
            s.labels = l;
            s.n_labels--;
        }
        t->samples[kept++] = s;
    }
    t->n_samples = kept;
    if (*group && h->label_set(q, sn->label, group) != 0)
        return -1;
    return h->pprof_compact(q);
}

/* The distinct groups of p's samples, admitting new names; strdup'd. */
static int collect_groups(span_names *sn, span_service *svc, pp_profile *p, char ***groups,
                          size_t *n_groups)
{
    char err[256];
    const pp_pprof *t = sn->host->profile_tree(p, err, sizeof err);
    if (!t)
        return -1;
    int64_t key = string_index(t, sn->label);
    size_t cap = 0;
    for (size_t i = 0; i < t->n_samples; i++) {
        const char *g = sample_group(sn, svc, t, &t->samples[i], key, 1);
        if (!g)
            return -1;
        size_t j = 0;
        while (j < *n_groups && strcmp((*groups)[j], g) != 0)
            j++;
        if (j < *n_groups)
            continue;
        if (*n_groups == cap) {
            cap = cap ? cap * 2 : 4;
            char **v = realloc(*groups, cap * sizeof *v);
            if (!v)
                return -1;
            *groups = v;
        }
        if (!((*groups)[*n_groups] = strdup(g)))
            return -1;
        (*n_groups)++;
    }
    return 0;
}

static void groups_free(char **groups, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(groups[i]);
    free(groups);
}

int span_names_split(span_names *sn, pp_profile *p, pp_profile ***out, size_t *n_out)
{
    const pp_host *h = sn->host;
    const char *svc_name = h->label_get(p, LABEL_SERVICE);
    span_service *svc = service_get(sn, svc_name ? svc_name : "");
    char **groups = NULL;
    size_t n_groups = 0;
    pp_profile **v = NULL;
    if (!svc || collect_groups(sn, svc, p, &groups, &n_groups) != 0)
        goto fail;
    v = calloc(n_groups ? n_groups : 1, sizeof *v);
    if (!v)
        goto fail;
    v[0] = p;
    if (n_groups == 0 || (n_groups == 1 && !*groups[0])) { /* no span names */
        *out = v;
        *n_out = 1;
        groups_free(groups, n_groups);
        return 0;
    }
    for (size_t g = 1; g < n_groups; g++) {
        if (!(v[g] = h->profile_clone(p)) || keep_group(sn, svc, v[g], groups[g]) != 0)
            goto fail;
    }
    if (keep_group(sn, svc, p, groups[0]) != 0)
        goto fail;
    *out = v;
    *n_out = n_groups;
    groups_free(groups, n_groups);
    return 0;
fail:
    for (size_t g = 1; v && g < n_groups; g++)
        if (v[g])
            h->profile_free(v[g]);
    free(v);
    groups_free(groups, n_groups);
    return -1;
}
