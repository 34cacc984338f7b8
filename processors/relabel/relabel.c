/* relabel: Prometheus relabel_configs on profiles.
 *
 * `rules` run on the series labels only, through host->label_*: the
 * payload is never decoded, so a relabel-only pipeline passes pprof bytes
 * through untouched. A profile dropped by a keep/drop rule, or left
 * without `service_name` or `__name__` (every exporter needs both), is
 * removed from the batch and counted.
 *
 * `sample_labels` is a second rule list, same fields, run on each pprof
 * sample's string labels (numeric labels are left alone). It decodes the
 * tree, and re-encodes only when some sample changes (a dry run on the
 * read-only tree decides). Samples whose label set becomes equal are summed by
 * host->pprof_compact, so totals do not change (unless a keep/drop rule
 * removes samples, which is what such a rule asks for). Samples of one
 * profile share few distinct label sets, so each distinct set is
 * relabelled once and the result copied to its samples (see label_cache). */
#include <profpipe/plugin.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relabel_labels.h"
#include "relabel_rules.h"

#define LABEL_SERVICE "service_name"
#define LABEL_FAMILY "__name__"
#define ERRBUF 256
#define CACHE_INITIAL_SLOTS 64 /* power of two */

/* What relabel_options fills: the two rule lists. */
typedef struct relabel_lists {
    const pp_config *rules, *sample_labels;
} relabel_lists;

static const pp_option relabel_options[] = {
    {"rules", PP_OPT_SECTION_LIST, NULL,
     "relabel_config rules applied in order to the series labels", 0, relabel_rule_options,
     PP_FIELD(relabel_lists, rules)},
    {"sample_labels", PP_OPT_SECTION_LIST, NULL,
     "relabel_config rules applied in order to each sample's string labels", 0,
     relabel_rule_options, PP_FIELD(relabel_lists, sample_labels)},
    {0},
};

typedef struct relabel_state {
    const pp_host *host;
    pp_instance *self;
    relabel_rules series_rules;
    relabel_rules sample_rules;
    relabel_labels scratch;
    pp_metric *dropped_by_rule;
    pp_metric *dropped_missing_label;
    pp_metric *dropped_label_limit;
    pp_metric *dropped_error;
    pp_metric *dropped_samples;
    pp_metric *decode_errors;
} relabel_state;

/* ---------------------------------------------------------------- */
/* Series labels.                                                    */
/* ---------------------------------------------------------------- */

static int series_read(relabel_state *st, pp_profile *p, relabel_labels *ls)
{
    const pp_host *h = st->host;
    relabel_labels_clear(ls);
    size_t n = h->label_count(p);
    for (size_t i = 0; i < n; i++)
        if (relabel_labels_set(ls, h->label_name(p, i), h->label_value(p, i)) != 0)
            return -1;
    return 0;
}

/* Makes the profile's labels equal to ls, touching only what changed. */
static int series_write(relabel_state *st, pp_profile *p, const relabel_labels *ls)
{
    const pp_host *h = st->host;
    for (size_t i = 0; i < h->label_count(p);) {
        const char *name = h->label_name(p, i);
        if (relabel_labels_get(ls, name)) {
            i++;
            continue;
        }
        char *copy = strdup(name); /* label_del may free `name` */
        if (!copy)
            return -1;
        h->label_del(p, copy);
        free(copy);
    }
    for (size_t i = 0; i < ls->n; i++) {
        const char *cur = h->label_get(p, ls->items[i].name);
        if (cur && strcmp(cur, ls->items[i].value) == 0)
            continue;
        if (h->label_set(p, ls->items[i].name, ls->items[i].value) != 0)
            return -1;
    }
    return 0;
}

/* 1 keep, 0 dropped (counted), -1 error. */
static int relabel_series(relabel_state *st, pp_profile *p)
{
    const pp_host *h = st->host;
    if (series_read(st, p, &st->scratch) != 0)
        return -1;
    relabel_verdict v = relabel_rules_apply(&st->series_rules, &st->scratch);
    if (v == RELABEL_ERROR)
        return -1;
    if (v == RELABEL_DROP) {
        h->metric_add(st->dropped_by_rule, 1);
        return 0;
    }
    if (v == RELABEL_LIMIT) {
        const char *svc = h->label_get(p, LABEL_SERVICE);
        h->log(st->self, PP_LOG_WARN,
               "dropping profile of service %s: labelmap rules would give its series more "
               "than %d labels",
               svc ? svc : "(none)", RELABEL_MAX_LABELS);
        h->metric_add(st->dropped_label_limit, 1);
        return 0;
    }
    const char *missing = !relabel_labels_get(&st->scratch, LABEL_SERVICE)  ? LABEL_SERVICE
                          : !relabel_labels_get(&st->scratch, LABEL_FAMILY) ? LABEL_FAMILY
                                                                            : NULL;
    if (missing) {
        const char *svc = h->label_get(p, LABEL_SERVICE);
        h->log(st->self, PP_LOG_DEBUG, "dropping profile of service %s: rules removed %s",
               svc ? svc : "(none)", missing);
        h->metric_add(st->dropped_missing_label, 1);
        return 0;
    }
    return series_write(st, p, &st->scratch) == 0 ? 1 : -1;
}

/* ---------------------------------------------------------------- */
/* Sample labels.                                                    */
/* ---------------------------------------------------------------- */

/* One distinct input label set of a profile and what the rules made of
 * it. Lives for one profile (string indices are per profile). */
typedef struct cache_entry {
    uint64_t hash;
    pp_label *in; /* malloc'd copy of the input string labels */
    size_t n_in;
    pp_label *out; /* in the profile's arena; NULL when unchanged */
    size_t n_out;
    int dropped;
    int filled; /* the rules ran on it */
    int used;   /* the slot holds an entry */
} cache_entry;

typedef struct label_cache {
    cache_entry *slots;
    size_t n_slots; /* power of two */
    size_t n_used;
    pp_label *tmp; /* the current sample's string labels */
    size_t tmp_cap;
} label_cache;

static uint64_t labels_hash(const pp_label *l, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a offset basis */
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (uint64_t)l[i].key) * 1099511628211ull; /* FNV prime */
        h = (h ^ (uint64_t)l[i].str) * 1099511628211ull;
    }
    return h;
}

static void cache_clear(label_cache *c)
{
    for (size_t i = 0; i < c->n_slots; i++)
        free(c->slots[i].in);
    free(c->slots);
    c->slots = NULL;
    c->n_slots = c->n_used = 0;
}

static int cache_grow(label_cache *c)
{
    size_t n = c->n_slots ? c->n_slots * 2 : CACHE_INITIAL_SLOTS;
    cache_entry *slots = calloc(n, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < c->n_slots; i++) {
        if (!c->slots[i].used)
            continue;
        size_t j = c->slots[i].hash & (n - 1);
        while (slots[j].used)
            j = (j + 1) & (n - 1);
        slots[j] = c->slots[i];
    }
    free(c->slots);
    c->slots = slots;
    c->n_slots = n;
    return 0;
}

/* The entry for labels l[0..n), found or added (not yet filled). */
static cache_entry *cache_slot(label_cache *c, const pp_label *l, size_t n)
{
    if ((c->n_used + 1) * 2 > c->n_slots && cache_grow(c) != 0)
        return NULL;
    uint64_t h = labels_hash(l, n);
    size_t j = h & (c->n_slots - 1);
    for (; c->slots[j].used; j = (j + 1) & (c->n_slots - 1)) {
        cache_entry *e = &c->slots[j];
        if (e->hash == h && e->n_in == n && (n == 0 || memcmp(e->in, l, n * sizeof *l) == 0))
            return e;
    }
    cache_entry *e = &c->slots[j];
    e->used = 1;
    e->hash = h;
    e->n_in = n;
    e->in = malloc((n ? n : 1) * sizeof *l);
    if (!e->in)
        return NULL;
    if (n)
        memcpy(e->in, l, n * sizeof *l);
    c->n_used++;
    return e;
}

static int labels_unchanged(const pp_pprof *t, const pp_label *in, size_t n,
                            const relabel_labels *ls)
{
    if (ls->n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(t->strings[in[i].key], ls->items[i].name) != 0 ||
            strcmp(t->strings[in[i].str], ls->items[i].value) != 0)
            return 0;
    return 1;
}

/* Runs the sample rules on e's labels into st->scratch and sets
 * e->dropped. 1 if the set changes (or is dropped), 0 if not, -1 OOM. */
static int cache_eval(relabel_state *st, const pp_pprof *t, cache_entry *e)
{
    relabel_labels *ls = &st->scratch;
    relabel_labels_clear(ls);
    for (size_t i = 0; i < e->n_in; i++)
        if (relabel_labels_set(ls, t->strings[e->in[i].key], t->strings[e->in[i].str]) != 0)
            return -1;
    relabel_verdict v = relabel_rules_apply(&st->sample_rules, ls);
    if (v == RELABEL_ERROR)
        return -1;
    /* a label set labelmap would grow past the limit goes as dropped
     * samples (counted there) */
    e->dropped = v == RELABEL_DROP || v == RELABEL_LIMIT;
    return e->dropped || !labels_unchanged(t, e->in, e->n_in, ls);
}

/* The input label of e that reads as (name, value), or -1. Rules see
 * label strings as C strings, but pprof strings are byte strings (a value
 * may hold NUL bytes): a label the rules left as it was keeps the exact
 * string it came with. */
static long input_label(const pp_pprof *t, const cache_entry *e, const char *name,
                        const char *value)
{
    for (size_t j = 0; j < e->n_in; j++)
        if (strcmp(t->strings[e->in[j].key], name) == 0 &&
            strcmp(t->strings[e->in[j].str], value) == 0)
            return (long)j;
    return -1;
}

/* Runs the sample rules on one distinct label set and fills e. */
static int cache_fill(relabel_state *st, pp_profile *p, const pp_pprof *t, cache_entry *e)
{
    const pp_host *h = st->host;
    relabel_labels *ls = &st->scratch;
    int changed = cache_eval(st, t, e);
    if (changed <= 0 || e->dropped)
        return changed < 0 ? -1 : 0;
    e->out = h->profile_alloc(p, (ls->n ? ls->n : 1) * sizeof *e->out);
    if (!e->out)
        return -1;
    for (size_t i = 0; i < ls->n; i++) {
        long j = input_label(t, e, ls->items[i].name, ls->items[i].value);
        if (j >= 0) {
            e->out[i].key = e->in[j].key;
            e->out[i].str = e->in[j].str;
            continue;
        }
        e->out[i].key = h->pprof_intern(p, ls->items[i].name);
        e->out[i].str = h->pprof_intern(p, ls->items[i].value);
        if (e->out[i].key < 0 || e->out[i].str < 0)
            return -1;
    }
    e->n_out = ls->n;
    return 0;
}

/* Collects sample s's string labels into c->tmp; returns how many. */
static long sample_string_labels(label_cache *c, const pp_sample *s)
{
    if (s->n_labels > c->tmp_cap) {
        pp_label *tmp = realloc(c->tmp, s->n_labels * sizeof *tmp);
        if (!tmp)
            return -1;
        c->tmp = tmp;
        c->tmp_cap = s->n_labels;
    }
    size_t n = 0;
    for (size_t i = 0; i < s->n_labels; i++)
        if (s->labels[i].str != 0)
            c->tmp[n++] = (pp_label){s->labels[i].key, s->labels[i].str, 0, 0};
    return (long)n;
}

/* Gives sample s the relabelled string labels of e plus its own numeric
 * labels. 0 or -1. */
static int sample_set_labels(relabel_state *st, pp_profile *p, pp_sample *s, const cache_entry *e,
                             size_t n_string)
{
    /* each sample gets its own array: pprof_compact renumbers string
     * indices in place, so a shared array would be renumbered twice */
    size_t n_numeric = s->n_labels - n_string;
    pp_label *l = st->host->profile_alloc(p, (e->n_out + n_numeric + 1) * sizeof *l);
    if (!l)
        return -1;
    if (e->n_out)
        memcpy(l, e->out, e->n_out * sizeof *l);
    size_t k = e->n_out;
    for (size_t i = 0; i < s->n_labels; i++)
        if (s->labels[i].str == 0)
            l[k++] = s->labels[i];
    s->labels = l;
    s->n_labels = k;
    return 0;
}

/* Relabels every sample; removes dropped ones. *changed set if any
 * sample changed. 0 or -1. */
static int relabel_samples_tree(relabel_state *st, pp_profile *p, pp_pprof *t, label_cache *c,
                                int *changed)
{
    size_t kept = 0;
    for (size_t i = 0; i < t->n_samples; i++) {
        pp_sample *s = &t->samples[i];
        long n = sample_string_labels(c, s);
        if (n < 0)
            return -1;
        cache_entry *e = cache_slot(c, c->tmp, (size_t)n);
        if (!e || !e->in)
            return -1;
        if (!e->filled) {
            if (cache_fill(st, p, t, e) != 0)
                return -1;
            e->filled = 1;
        }
        if (e->dropped) {
            *changed = 1;
            st->host->metric_add(st->dropped_samples, 1);
            continue;
        }
        if (e->out && sample_set_labels(st, p, s, e, (size_t)n) != 0)
            return -1;
        if (e->out)
            *changed = 1;
        t->samples[kept++] = *s;
    }
    t->n_samples = kept;
    return 0;
}

/* Whether the sample rules change any sample of the read-only tree t:
 * 1 yes, 0 no, -1 OOM. Lets an unchanged profile keep its raw bytes. */
static int samples_would_change(relabel_state *st, const pp_pprof *t)
{
    label_cache c = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < t->n_samples; i++) {
        long n = sample_string_labels(&c, &t->samples[i]);
        cache_entry *e = n < 0 ? NULL : cache_slot(&c, c.tmp, (size_t)n);
        if (!e || !e->in)
            rc = -1;
        else if (!e->filled) {
            rc = cache_eval(st, t, e);
            e->filled = 1;
        }
    }
    cache_clear(&c);
    free(c.tmp);
    return rc;
}

/* 1 keep (an undecodable payload too: counted, left as it is), -1 error. */
static int relabel_samples(relabel_state *st, pp_profile *p)
{
    const pp_host *h = st->host;
    char err[ERRBUF];
    const pp_pprof *ro = h->profile_tree(p, err, sizeof err);
    if (!ro) {
        h->log(st->self, PP_LOG_WARN, "sample labels left as they are: %s", err);
        h->metric_add(st->decode_errors, 1);
        return 1;
    }
    int would = samples_would_change(st, ro);
    if (would <= 0)
        return would == 0 ? 1 : -1;
    pp_pprof *t = h->profile_tree_mut(p, err, sizeof err);
    if (!t)
        return -1;
    label_cache cache = {0};
    int changed = 0;
    int rc = relabel_samples_tree(st, p, t, &cache, &changed);
    cache_clear(&cache);
    free(cache.tmp);
    if (rc != 0)
        return -1;
    if (changed && h->pprof_compact(p) != 0)
        return -1;
    return 1;
}

static pp_batch *relabel_process(void *state, pp_batch *in)
{
    relabel_state *st = state;
    const pp_host *h = st->host;
    for (size_t i = h->batch_count(in); i-- > 0;) {
        pp_profile *p = h->batch_get(in, i);
        int keep = st->series_rules.n > 0 ? relabel_series(st, p) : 1;
        if (keep == 1 && st->sample_rules.n > 0)
            keep = relabel_samples(st, p);
        if (keep == 1)
            continue;
        if (keep < 0) {
            h->log(st->self, PP_LOG_ERROR, "out of memory relabelling a profile: dropped");
            h->metric_add(st->dropped_error, 1);
        }
        h->profile_free(h->batch_take(in, i));
    }
    return in;
}

static void relabel_destroy(void *state)
{
    relabel_state *st = state;
    if (!st)
        return;
    relabel_rules_free(&st->series_rules);
    relabel_rules_free(&st->sample_rules);
    relabel_labels_free(&st->scratch);
    free(st);
}

static int relabel_create(const pp_host *host, pp_instance *self, const pp_config *cfg,
                          void **state)
{
    relabel_state *st = calloc(1, sizeof *st);
    if (!st)
        return host->cfg_error(cfg, NULL, "out of memory");
    st->host = host;
    st->self = self;
    relabel_lists lists = {0};
    if (host->cfg_fill(cfg, relabel_options, &lists) != 0 ||
        relabel_rules_compile(&st->series_rules, host, lists.rules) != 0 ||
        relabel_rules_compile(&st->sample_rules, host, lists.sample_labels) != 0) {
        relabel_destroy(st);
        return -1;
    }
    st->dropped_by_rule =
        host->metric(self, "relabel_dropped_profiles_total",
                     "Profiles dropped by relabel, by reason", PP_COUNTER, "reason=\"rule\"");
    st->dropped_missing_label = host->metric(self, "relabel_dropped_profiles_total",
                                             "Profiles dropped by relabel, by reason", PP_COUNTER,
                                             "reason=\"missing_required_label\"");
    st->dropped_label_limit = host->metric(self, "relabel_dropped_profiles_total",
                                           "Profiles dropped by relabel, by reason", PP_COUNTER,
                                           "reason=\"label_limit\"");
    st->dropped_error =
        host->metric(self, "relabel_dropped_profiles_total",
                     "Profiles dropped by relabel, by reason", PP_COUNTER, "reason=\"error\"");
    st->dropped_samples =
        host->metric(self, "relabel_dropped_samples_total",
                     "Samples dropped by sample_labels keep/drop rules", PP_COUNTER, NULL);
    st->decode_errors = host->metric(
        self, "relabel_decode_errors_total",
        "Profiles whose payload could not be decoded for sample_labels", PP_COUNTER, NULL);
    *state = st;
    return 0;
}

const pp_component pp_processor_relabel = {
    .type = "relabel",
    .kind = PP_PROCESSOR,
    .description = "Prometheus relabel_configs on series labels and on sample labels",
    .options = relabel_options,
    .flags = PP_MUTATES,
    .create = relabel_create,
    .destroy = relabel_destroy,
    .process = relabel_process,
};
