/* span_correlation: makes the span ids that tracing SDKs put on pprof
 * samples usable and safe.
 *
 * Per profile: any trace/span id found among the series labels is moved
 * down onto every sample (ids as series labels would make one series per
 * request); then every sample's ids are normalized to lower-case hex of
 * 32 (trace) or 16 (span) digits under one canonical key each (the first
 * name of each id_labels list), malformed ids are removed and counted,
 * and with keep_ratio < 1 the ids of traces the OpenTelemetry
 * TraceIdRatioBased rule does not keep are removed (see span_ids.h).
 * Removing labels makes samples equal to others; host->pprof_compact sums
 * them, so every stack keeps its total. Optionally the span name becomes
 * a series label (see span_names.h).
 *
 * Work per profile is proportional to its samples: key kinds and
 * normalized values are cached per string-table index. */
#include <profpipe/plugin.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_take.h"
#include "span_ids.h"
#include "span_names.h"

#define ERRBUF 256
#define ID_MAX_HEX TRACE_ID_HEX

enum key_kind { KIND_UNKNOWN = 0, KIND_OTHER, KIND_TRACE, KIND_SPAN };
enum { ID_TRACE = 0, ID_SPAN = 1, N_ID_KINDS = 2 };

typedef struct id_keys {
    char **names;
    size_t n;
} id_keys;

/* id_labels as written, or the table's defaults. */
typedef struct id_label_lists {
    const pp_config *trace_id, *span_id;
} id_label_lists;

typedef struct span_state {
    const pp_host *host;
    pp_instance *self;
    id_keys keys[N_ID_KINDS];
    id_label_lists id_labels; /* the options, as span_options fills them */
    double keep_ratio;
    int to_series;
    const char *span_name_label;
    int64_t max_span_names;
    span_names names;
    pp_metric *malformed;
    pp_metric *stripped;
    pp_metric *moved;
    pp_metric *split;
    pp_metric *decode_errors;
} span_state;

static const pp_option id_label_options[] = {
    {"trace_id", PP_OPT_STRING_LIST, "[trace_id, otel.trace_id, traceId, trace.id]",
     "sample label keys holding a trace id; the first is the key written", 0, NULL,
     PP_FIELD(id_label_lists, trace_id)},
    {"span_id", PP_OPT_STRING_LIST, "[span_id, otel.span_id, spanId, span.id]",
     "sample label keys holding a span id; the first is the key written", 0, NULL,
     PP_FIELD(id_label_lists, span_id)},
    {0},
};

static const pp_option span_options[] = {
    {"id_labels", PP_OPT_SECTION, NULL, "which label keys carry trace and span ids", 0,
     id_label_options, PP_FIELD(span_state, id_labels)},
    {"keep_ratio", PP_OPT_DOUBLE, "1",
     "fraction of traces whose ids stay on the samples (OpenTelemetry TraceIdRatioBased)", 0, NULL,
     PP_FIELD(span_state, keep_ratio), .min = "0", .max = "1"},
    {"span_name_to_series", PP_OPT_BOOL, "false",
     "split profiles by span name and make it a series label", 0, NULL,
     PP_FIELD(span_state, to_series)},
    {"span_name_label", PP_OPT_STRING, "span_name", "sample label holding the span name", 0, NULL,
     PP_FIELD(span_state, span_name_label)},
    {"max_span_names", PP_OPT_INT, "50",
     "span names per service promoted to series; later ones become `other`", 0, NULL,
     PP_FIELD(span_state, max_span_names), .min = "1"},
    {0},
};

static const size_t id_hex_len[N_ID_KINDS] = {TRACE_ID_HEX, SPAN_ID_HEX};

/* Per-profile caches, indexed by string-table index at entry. */
typedef struct prof_ctx {
    pp_profile *p;
    pp_pprof *t;
    size_t n_strings;
    uint8_t *kind;             /* enum key_kind of a label key */
    int64_t *norm[N_ID_KINDS]; /* 0 unknown, -1 malformed, else normalized */
    int64_t canon_key[N_ID_KINDS];
    int64_t series_id[N_ID_KINDS]; /* ids moved down from series labels */
    size_t malformed, stripped;
} prof_ctx;

static int key_is(const id_keys *k, const char *name)
{
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->names[i], name) == 0)
            return 1;
    return 0;
}

static enum key_kind kind_of(const span_state *st, const char *name)
{
    if (key_is(&st->keys[ID_TRACE], name))
        return KIND_TRACE;
    if (key_is(&st->keys[ID_SPAN], name))
        return KIND_SPAN;
    return KIND_OTHER;
}

static enum key_kind key_kind(const span_state *st, prof_ctx *c, int64_t key)
{
    if (key <= 0 || (size_t)key >= c->t->n_strings)
        return KIND_OTHER;
    if ((size_t)key >= c->n_strings)
        return kind_of(st, c->t->strings[key]);
    if (c->kind[key] == KIND_UNKNOWN)
        c->kind[key] = (uint8_t)kind_of(st, c->t->strings[key]);
    return (enum key_kind)c->kind[key];
}

/* Interned normalized form of the id at string `str`: > 0, -1 when
 * malformed, -2 out of memory. */
static int64_t id_norm(const span_state *st, prof_ctx *c, int64_t str, int id)
{
    int64_t *cache = (size_t)str < c->n_strings ? &c->norm[id][str] : NULL;
    if (cache && *cache)
        return *cache;
    char hex[ID_MAX_HEX + 1];
    int64_t r = -1;
    if (span_id_normalize(c->t->strings[str], id_hex_len[id], hex) == 0) {
        r = strcmp(hex, c->t->strings[str]) == 0 ? str : st->host->pprof_intern(c->p, hex);
        if (r <= 0)
            return -2;
    }
    if (cache)
        *cache = r;
    return r;
}

static int64_t canon_key(const span_state *st, prof_ctx *c, int id)
{
    if (!c->canon_key[id])
        c->canon_key[id] = st->host->pprof_intern(c->p, st->keys[id].names[0]);
    return c->canon_key[id];
}

/* Moves trace/span ids from the series labels into c->series_id
 * (normalized; malformed ones are only counted). Without a tree (the
 * payload could not be decoded) they are only removed: ids must never
 * stay series labels. 0 or -1. */
static int move_series_ids(span_state *st, prof_ctx *c)
{
    const pp_host *h = st->host;
    for (size_t i = 0; i < h->label_count(c->p);) {
        enum key_kind k = kind_of(st, h->label_name(c->p, i));
        if (k == KIND_OTHER) {
            i++;
            continue;
        }
        int id = k == KIND_TRACE ? ID_TRACE : ID_SPAN;
        char hex[ID_MAX_HEX + 1];
        if (span_id_normalize(h->label_value(c->p, i), id_hex_len[id], hex) != 0)
            c->malformed++;
        else if (c->t && !c->series_id[id] && (c->series_id[id] = h->pprof_intern(c->p, hex)) <= 0)
            return -1;
        char *name = strdup(h->label_name(c->p, i));
        if (!name)
            return -1;
        h->label_del(c->p, name);
        free(name);
        h->metric_add(st->moved, 1);
    }
    return 0;
}

/* The ids found on one sample, and whether its labels must be rebuilt. */
typedef struct sample_ids {
    int64_t id[N_ID_KINDS]; /* normalized string index, 0 = none */
    size_t n_other;         /* labels that are not ids */
    int dirty;
} sample_ids;

/* Reads (normalizes, dedups) the ids of s. 0 or -1. */
static int sample_read_ids(const span_state *st, prof_ctx *c, const pp_sample *s, sample_ids *si)
{
    memset(si, 0, sizeof *si);
    for (size_t i = 0; i < s->n_labels; i++) {
        const pp_label *l = &s->labels[i];
        enum key_kind k = key_kind(st, c, l->key);
        if (k == KIND_OTHER || l->str <= 0 || (size_t)l->str >= c->t->n_strings) {
            si->n_other++;
            continue;
        }
        int id = k == KIND_TRACE ? ID_TRACE : ID_SPAN;
        int64_t norm = id_norm(st, c, l->str, id);
        if (norm == -2)
            return -1;
        if (norm == -1 || si->id[id]) { /* malformed, or a second id: first wins */
            c->malformed += norm == -1;
            si->dirty = 1;
            continue;
        }
        si->id[id] = norm;
        if (norm != l->str || strcmp(c->t->strings[l->key], st->keys[id].names[0]) != 0)
            si->dirty = 1;
    }
    return 0;
}

/* Fixes the ids of one sample. 0 or -1. */
static int sample_fix(span_state *st, prof_ctx *c, pp_sample *s)
{
    sample_ids si;
    if (sample_read_ids(st, c, s, &si) != 0)
        return -1;
    for (int id = 0; id < N_ID_KINDS; id++)
        if (!si.id[id] && c->series_id[id]) {
            si.id[id] = c->series_id[id];
            si.dirty = 1;
        }
    if (si.id[ID_TRACE] && st->keep_ratio < 1 &&
        !span_trace_keep(c->t->strings[si.id[ID_TRACE]], st->keep_ratio)) {
        si.id[ID_TRACE] = si.id[ID_SPAN] = 0;
        si.dirty = 1;
        c->stripped++;
    }
    if (!si.dirty)
        return 0;
    pp_label *l = st->host->profile_alloc(c->p, (si.n_other + N_ID_KINDS) * sizeof *l);
    if (!l)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < s->n_labels; i++)
        if (s->labels[i].str == 0 || key_kind(st, c, s->labels[i].key) == KIND_OTHER)
            l[n++] = s->labels[i];
    for (int id = 0; id < N_ID_KINDS; id++) {
        if (!si.id[id])
            continue;
        int64_t key = canon_key(st, c, id);
        if (key <= 0)
            return -1;
        l[n++] = (pp_label){.key = key, .str = si.id[id]};
    }
    s->labels = l;
    s->n_labels = n;
    return 0;
}

/* Read-only caches for needs_fix, per string-table index. */
typedef struct scan_cache {
    uint8_t *kind;              /* enum key_kind of a key */
    uint8_t *value[N_ID_KINDS]; /* 0 unknown, 1 canonical id, 2 not */
} scan_cache;

enum { VALUE_UNKNOWN = 0, VALUE_CANONICAL, VALUE_OTHER };

static int id_canonical(scan_cache *sc, const pp_pprof *t, int64_t str, int id)
{
    if (sc->value[id][str] == VALUE_UNKNOWN) {
        char hex[ID_MAX_HEX + 1];
        int ok = span_id_normalize(t->strings[str], id_hex_len[id], hex) == 0 &&
                 strcmp(hex, t->strings[str]) == 0;
        sc->value[id][str] = ok ? VALUE_CANONICAL : VALUE_OTHER;
    }
    return sc->value[id][str] == VALUE_CANONICAL;
}

/* Whether sample s would change: an id not canonical (value or key), a
 * second id of a kind, or a trace keep_ratio does not keep. */
static int sample_needs_fix(const span_state *st, scan_cache *sc, const pp_pprof *t,
                            const pp_sample *s)
{
    int64_t seen[N_ID_KINDS] = {0, 0};
    for (size_t j = 0; j < s->n_labels; j++) {
        const pp_label *l = &s->labels[j];
        if (l->str <= 0 || l->key <= 0 || (size_t)l->key >= t->n_strings ||
            (size_t)l->str >= t->n_strings)
            continue;
        if (sc->kind[l->key] == KIND_UNKNOWN)
            sc->kind[l->key] = (uint8_t)kind_of(st, t->strings[l->key]);
        if (sc->kind[l->key] == KIND_OTHER)
            continue;
        int id = sc->kind[l->key] == KIND_TRACE ? ID_TRACE : ID_SPAN;
        if (seen[id] || strcmp(t->strings[l->key], st->keys[id].names[0]) != 0 ||
            !id_canonical(sc, t, l->str, id))
            return 1;
        seen[id] = l->str;
    }
    return seen[ID_TRACE] && st->keep_ratio < 1 &&
           !span_trace_keep(t->strings[seen[ID_TRACE]], st->keep_ratio);
}

/* Whether fixing the ids would change p at all. Read-only, so that a
 * profile whose ids are already canonical and kept (what SDKs send) is
 * passed on without being re-encoded. 1 yes, 0 no, -1 out of memory. */
static int needs_fix(const span_state *st, pp_profile *p, const pp_pprof *t)
{
    const pp_host *h = st->host;
    for (size_t i = 0; i < h->label_count(p); i++)
        if (kind_of(st, h->label_name(p, i)) != KIND_OTHER)
            return 1;
    size_t n = t->n_strings ? t->n_strings : 1;
    scan_cache sc = {.kind = calloc(n, 1)};
    for (int id = 0; id < N_ID_KINDS; id++)
        sc.value[id] = calloc(n, 1);
    int rc = sc.kind && sc.value[ID_TRACE] && sc.value[ID_SPAN] ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < t->n_samples; i++)
        rc = sample_needs_fix(st, &sc, t, &t->samples[i]);
    free(sc.kind);
    for (int id = 0; id < N_ID_KINDS; id++)
        free(sc.value[id]);
    return rc;
}

static void ctx_free(prof_ctx *c)
{
    free(c->kind);
    for (int id = 0; id < N_ID_KINDS; id++)
        free(c->norm[id]);
}

static int fix_samples(span_state *st, prof_ctx *c)
{
    if (move_series_ids(st, c) != 0)
        return -1;
    for (size_t i = 0; i < c->t->n_samples; i++)
        if (sample_fix(st, c, &c->t->samples[i]) != 0)
            return -1;
    return st->host->pprof_compact(c->p);
}

/* Fixes the ids of p. 0, or -1 (out of memory). An undecodable payload
 * passes on unchanged (counted). */
static int fix_profile(span_state *st, pp_profile *p)
{
    const pp_host *h = st->host;
    char err[ERRBUF];
    const pp_pprof *ro = h->profile_tree(p, err, sizeof err);
    if (!ro) {
        h->log(st->self, PP_LOG_WARN, "payload passed on unchanged: %s", err);
        h->metric_add(st->decode_errors, 1);
        prof_ctx bare = {.p = p};
        return move_series_ids(st, &bare);
    }
    int needed = needs_fix(st, p, ro);
    if (needed <= 0)
        return needed;
    prof_ctx c = {.p = p, .t = h->profile_tree_mut(p, err, sizeof err)};
    if (!c.t)
        return -1;
    c.n_strings = c.t->n_strings;
    size_t n = c.n_strings ? c.n_strings : 1;
    c.kind = calloc(n, sizeof *c.kind);
    for (int id = 0; id < N_ID_KINDS; id++)
        c.norm[id] = calloc(n, sizeof *c.norm[id]);
    int rc = -1;
    if (c.kind && c.norm[ID_TRACE] && c.norm[ID_SPAN])
        rc = fix_samples(st, &c);
    h->metric_add(st->malformed, (double)c.malformed);
    h->metric_add(st->stripped, (double)c.stripped);
    ctx_free(&c);
    return rc;
}

/* Fixes and (optionally) splits one profile; adds the result to out. */
static void process_one(span_state *st, pp_profile *p, pp_batch *out)
{
    const pp_host *h = st->host;
    if (fix_profile(st, p) != 0) {
        h->log(st->self, PP_LOG_ERROR, "out of memory fixing span ids: profile dropped");
        h->profile_free(p);
        return;
    }
    pp_profile **parts = NULL;
    size_t n_parts = 0;
    if (!st->to_series || span_names_split(&st->names, p, &parts, &n_parts) != 0) {
        if (st->to_series)
            h->log(st->self, PP_LOG_WARN,
                   "profile not split by span name (out of memory or "
                   "undecodable): passed on as it is");
        h->batch_add(out, p);
        return;
    }
    if (n_parts > 1)
        h->metric_add(st->split, (double)(n_parts - 1));
    for (size_t i = 0; i < n_parts; i++)
        h->batch_add(out, parts[i]);
    free(parts);
}

static pp_batch *span_process(void *state, pp_batch *in)
{
    span_state *st = state;
    const pp_host *h = st->host;
    size_t n;
    pp_profile **ps = batch_take_all(h, in, &n);
    if (!ps) {
        h->log(st->self, PP_LOG_ERROR, "out of memory: batch passed on unchanged");
        return in;
    }
    for (size_t i = 0; i < n; i++)
        process_one(st, ps[i], in);
    free(ps);
    return in;
}

static void keys_free(id_keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->names[i]);
    free(k->names);
}

static void span_destroy(void *state)
{
    span_state *st = state;
    if (!st)
        return;
    for (int id = 0; id < N_ID_KINDS; id++)
        keys_free(&st->keys[id]);
    span_names_free(&st->names);
    free(st->names.label);
    free(st);
}

/* Reads one id_labels list. 0 or -1. */
static int read_keys(span_state *st, const pp_config *cfg, const char *key, const pp_config *list,
                     id_keys *out)
{
    const pp_host *h = st->host;
    const pp_config *sec = h->cfg_child(cfg, "id_labels");
    size_t n = h->cfg_count(list);
    if (n == 0)
        return h->cfg_error(sec, key, "needs at least one label key");
    out->names = calloc(n, sizeof *out->names);
    if (!out->names)
        return h->cfg_error(cfg, "id_labels", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *s = h->cfg_scalar(h->cfg_item(list, i));
        if (!s || !*s)
            return h->cfg_error(sec, key, "item %zu is empty", i);
        if (!(out->names[i] = strdup(s)))
            return h->cfg_error(cfg, "id_labels", "out of memory");
        out->n++;
    }
    return 0;
}

/* Rule: no key is both a trace id key and a span id key. */
static int refuse_shared_keys(span_state *st, const pp_config *cfg)
{
    for (size_t i = 0; i < st->keys[ID_TRACE].n; i++)
        if (key_is(&st->keys[ID_SPAN], st->keys[ID_TRACE].names[i]))
            return st->host->cfg_error(cfg, "id_labels", "\"%s\" is both a trace and a span id key",
                                       st->keys[ID_TRACE].names[i]);
    return 0;
}

static int read_options(span_state *st, const pp_config *cfg)
{
    const pp_host *h = st->host;
    if (h->cfg_fill(cfg, span_options, st) < 0 ||
        read_keys(st, cfg, "trace_id", st->id_labels.trace_id, &st->keys[ID_TRACE]) != 0 ||
        read_keys(st, cfg, "span_id", st->id_labels.span_id, &st->keys[ID_SPAN]) != 0 ||
        refuse_shared_keys(st, cfg) < 0)
        return -1;
    const char *label = st->span_name_label;
    if (!label || !*label)
        return h->cfg_error(cfg, "span_name_label", "must not be empty");
    st->names =
        (span_names){.host = h, .label = strdup(label), .max_names = (size_t)st->max_span_names};
    if (!st->names.label)
        return h->cfg_error(cfg, NULL, "out of memory");
    return 0;
}

static int span_create(const pp_host *host, pp_instance *self, const pp_config *cfg, void **state)
{
    span_state *st = calloc(1, sizeof *st);
    if (!st)
        return host->cfg_error(cfg, NULL, "out of memory");
    st->host = host;
    st->self = self;
    if (read_options(st, cfg) != 0) {
        span_destroy(st);
        return -1;
    }
    st->malformed =
        host->metric(self, "span_correlation_malformed_ids_total",
                     "Trace or span ids removed from samples as malformed", PP_COUNTER, NULL);
    st->stripped = host->metric(self, "span_correlation_stripped_samples_total",
                                "Samples whose ids were removed by keep_ratio", PP_COUNTER, NULL);
    st->moved = host->metric(self, "span_correlation_series_ids_moved_total",
                             "Id series labels moved down into sample labels", PP_COUNTER, NULL);
    st->split = host->metric(self, "span_correlation_split_profiles_total",
                             "Profiles added by splitting by span name", PP_COUNTER, NULL);
    st->decode_errors =
        host->metric(self, "span_correlation_decode_errors_total",
                     "Profiles passed on unchanged: payload not decodable", PP_COUNTER, NULL);
    *state = st;
    return 0;
}

const pp_component pp_processor_span_correlation = {
    .type = "span_correlation",
    .kind = PP_PROCESSOR,
    .description = "normalize, sample and bound the trace/span ids on pprof samples",
    .options = span_options,
    .flags = PP_MUTATES,
    .create = span_create,
    .destroy = span_destroy,
    .process = span_process,
};
