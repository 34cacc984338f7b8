/* downsample: volume control for profiles, each option independent.
 *
 * Order per profile: keep_one_in (cheapest, drops whole profiles, needs
 * only the series fingerprint), sample_types, then either the window
 * (merge into the series' open window; shaping happens when it closes)
 * or shaping right away. Shaping = max_stack_depth, then min_fraction,
 * then host->pprof_compact to sum the stacks that became equal. Folding
 * after the window merge means fractions are of the window's total.
 *
 * Windows open when a series' first profile arrives (wall clock, the
 * clock tick() is given) and close on the first tick() at least `window`
 * later, or at shutdown (tick with final=1): a window's profile is never
 * lost while the host drains. The merged profile covers [earliest from,
 * latest until] and its time and duration say so (pprof's merge sums
 * durations, which overlapping inputs would inflate). A profile pprof's
 * merge rules refuse (different sample or period types) passes through
 * unmerged and is counted. A payload that cannot be decoded passes on
 * unchanged and is counted: downsampling is never a reason to lose data. */
#include <profpipe/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_take.h"
#include "downsample_series.h"
#include "downsample_stacks.h"

#define ERRBUF 256

typedef struct downsample_state {
    const pp_host *host;
    pp_instance *self;
    int64_t window_ns;
    double min_fraction;
    size_t max_stack_depth; /* filled as an int64 the table keeps >= 0 */
    const pp_config *sample_types_node;
    char **sample_types;
    size_t n_sample_types;
    int64_t keep_one_in;
    ds_series_map series;
    pp_metric *dropped_keep_one_in;
    pp_metric *dropped_no_type;
    pp_metric *incompatible;
    pp_metric *merged;
    pp_metric *decode_errors;
} downsample_state;

static const pp_option downsample_options[] = {
    {"window", PP_OPT_DURATION, "0s",
     "merge each series' profiles over this long into one; 0 disables", 0, NULL,
     PP_FIELD(downsample_state, window_ns), .min = "0s"},
    {"min_fraction", PP_OPT_DOUBLE, "0",
     "fold call-tree nodes below this fraction of the total into [other]; 0 disables", 0, NULL,
     PP_FIELD(downsample_state, min_fraction), .min = "0", .max = "1",
     .flags = PP_OPT_MAX_EXCLUSIVE},
    {"max_stack_depth", PP_OPT_INT, "0",
     "cut stacks to this many locations, the cut marked [truncated]; 0 disables", 0, NULL,
     PP_FIELD(downsample_state, max_stack_depth), .min = "0"},
    {"sample_types", PP_OPT_STRING_LIST, "[]",
     "keep only these sample types (e.g. inuse_space); empty keeps all", 0, NULL,
     PP_FIELD(downsample_state, sample_types_node)},
    {"keep_one_in", PP_OPT_INT, "1", "keep one profile in N per series (the 1st, N+1th, ...)", 0,
     NULL, PP_FIELD(downsample_state, keep_one_in), .min = "1"},
    {0},
};

static int needs_shaping(const downsample_state *st)
{
    return st->max_stack_depth > 0 || st->min_fraction > 0;
}

/* The tree to change, or NULL (logged and counted): the profile then
 * passes on unchanged. */
static pp_pprof *tree_or_count(downsample_state *st, pp_profile *p)
{
    char err[ERRBUF];
    pp_pprof *t = st->host->profile_tree_mut(p, err, sizeof err);
    if (!t) {
        st->host->log(st->self, PP_LOG_WARN, "profile passed on unchanged: %s", err);
        st->host->metric_add(st->decode_errors, 1);
    }
    return t;
}

/* max_stack_depth, min_fraction, compact. 0 or -1 (out of memory). */
static int shape(downsample_state *st, pp_profile *p)
{
    if (!needs_shaping(st))
        return 0;
    pp_pprof *t = tree_or_count(st, p);
    if (!t)
        return 0;
    const pp_host *h = st->host;
    if (st->max_stack_depth > 0 && ds_truncate_stacks(h, p, t, st->max_stack_depth) != 0)
        return -1;
    if (st->min_fraction > 0 && ds_fold_small(h, p, t, st->min_fraction) != 0)
        return -1;
    return h->pprof_compact(p);
}

/* 1 keep, 0 dropped (counted), -1 error. */
static int filter(downsample_state *st, pp_profile *p)
{
    const pp_host *h = st->host;
    if (st->keep_one_in > 1) {
        ds_series *s = ds_series_get(&st->series, h->labels_fingerprint(p));
        if (!s)
            return -1;
        if (s->seen++ % (uint64_t)st->keep_one_in != 0) {
            h->metric_add(st->dropped_keep_one_in, 1);
            return 0;
        }
    }
    if (st->n_sample_types == 0)
        return 1;
    char err[ERRBUF];
    const pp_pprof *ro = h->profile_tree(p, err, sizeof err);
    size_t listed = ro ? ds_count_listed_types(h, ro, st->sample_types, st->n_sample_types) : 0;
    if (ro && listed == ro->n_sample_types)
        return 1; /* nothing to remove: no re-encode */
    if (ro && listed == 0) {
        h->metric_add(st->dropped_no_type, 1);
        return 0;
    }
    pp_pprof *t = tree_or_count(st, p);
    if (!t)
        return 1;
    return ds_keep_sample_types(h, p, t, st->sample_types, st->n_sample_types);
}

/* The window holds the acks of the batch its profile came from, so the
 * input is acknowledged when the window's profile is delivered. */
static int window_hold_acks(downsample_state *st, ds_series *s, pp_batch *from)
{
    if (!s->acks && !(s->acks = st->host->batch_new()))
        return -1;
    st->host->batch_adopt_acks(s->acks, from);
    return 0;
}

/* Merges p (from batch `in`) into its series' window. 1 taken (p now
 * belongs to the window), 0 not mergeable (counted; p stays), -1 error. */
static int window_add(downsample_state *st, pp_profile *p, pp_batch *in)
{
    const pp_host *h = st->host;
    ds_series *s = ds_series_get(&st->series, h->labels_fingerprint(p));
    if (!s || window_hold_acks(st, s, in) != 0)
        return -1;
    if (!s->window) {
        s->window = p;
        s->opened_ns = h->now_ns();
        s->merged = 1;
        return 1;
    }
    char err[ERRBUF];
    if (h->pprof_merge(s->window, p, err, sizeof err) != 0) {
        h->log(st->self, PP_LOG_DEBUG, "profile not merged into its window: %s", err);
        h->metric_add(st->incompatible, 1);
        return 0;
    }
    int64_t from = h->profile_from(p), until = h->profile_until(p);
    int64_t wfrom = h->profile_from(s->window), wuntil = h->profile_until(s->window);
    h->profile_set_window(s->window, from < wfrom ? from : wfrom, until > wuntil ? until : wuntil);
    h->profile_free(p);
    s->merged++;
    h->metric_add(st->merged, 1);
    return 1;
}

/* What happens to one profile: 1 passes on, 0 dropped or taken by a
 * window, -1 error (dropped). */
static int downsample_one(downsample_state *st, pp_profile *p, pp_batch *from, int *taken)
{
    *taken = 0;
    int rc = filter(st, p);
    if (rc != 1)
        return rc;
    if (st->window_ns > 0) {
        rc = window_add(st, p, from);
        if (rc != 0) {
            *taken = rc == 1;
            return rc == 1 ? 0 : -1;
        }
        /* not mergeable: passes on as it is, shaped */
    }
    return shape(st, p) == 0 ? 1 : -1;
}

static pp_batch *downsample_process(void *state, pp_batch *in)
{
    downsample_state *st = state;
    const pp_host *h = st->host;
    size_t n;
    pp_profile **ps = batch_take_all(h, in, &n);
    if (!ps) {
        h->log(st->self, PP_LOG_ERROR, "out of memory: batch passed on unchanged");
        return in;
    }
    /* re-added in the original order */
    for (size_t i = 0; i < n; i++) {
        int taken;
        int rc = downsample_one(st, ps[i], in, &taken);
        if (taken)
            continue;
        if (rc == 1) {
            h->batch_add(in, ps[i]); /* frees it on failure */
            continue;
        }
        if (rc < 0)
            h->log(st->self, PP_LOG_ERROR, "out of memory downsampling: profile dropped");
        h->profile_free(ps[i]);
    }
    free(ps);
    if (h->batch_count(in) == 0) {
        h->batch_unref(in);
        return NULL;
    }
    return in;
}

/* pprof's merge sums durations, which for profiles that overlap (a
 * replayed file, two scrapers) claims more time than the window covers;
 * the window's profile says what it covers: [earliest from, latest until].
 * 0 or -1 (out of memory); undecodable is left as it is. */
static int window_fix_time(downsample_state *st, pp_profile *p)
{
    char err[ERRBUF];
    const pp_host *h = st->host;
    pp_pprof *t = h->profile_tree_mut(p, err, sizeof err);
    if (!t)
        return 0;
    t->time_nanos = h->profile_from(p);
    /* a window wider than int64 nanoseconds (hostile times) says the most it can */
    if (__builtin_sub_overflow(h->profile_until(p), h->profile_from(p), &t->duration_nanos))
        t->duration_nanos = INT64_MAX;
    return 0;
}

/* Closes the windows open for at least window_ns (all when final). */
static pp_batch *downsample_tick(void *state, int64_t now_ns, int final)
{
    downsample_state *st = state;
    const pp_host *h = st->host;
    pp_batch *out = NULL;
    for (size_t i = 0; i < st->series.n_slots; i++) {
        ds_series *s = &st->series.slots[i];
        if (!s->used || !s->window)
            continue;
        if (!final && now_ns - s->opened_ns < st->window_ns)
            continue;
        pp_profile *p = s->window;
        pp_batch *acks = s->acks;
        s->window = NULL;
        s->acks = NULL;
        if ((s->merged > 1 && window_fix_time(st, p) != 0) || shape(st, p) != 0 ||
            (!out && !(out = h->batch_new()))) {
            h->log(st->self, PP_LOG_ERROR, "out of memory closing a window: profile dropped");
            h->profile_free(p);
            h->batch_unref(acks);
            continue;
        }
        h->batch_adopt_acks(out, acks);
        h->batch_unref(acks);
        h->batch_add(out, p);
    }
    return out;
}

static void free_window(void *arg, pp_profile *p)
{
    downsample_state *st = arg;
    st->host->log(st->self, PP_LOG_WARN, "window discarded at destroy without a final tick");
    st->host->profile_free(p);
}

static void downsample_destroy(void *state)
{
    downsample_state *st = state;
    if (!st)
        return;
    for (size_t i = 0; i < st->series.n_slots; i++)
        if (st->series.slots[i].used)
            st->host->batch_unref(st->series.slots[i].acks);
    ds_series_free(&st->series, free_window, st);
    for (size_t i = 0; i < st->n_sample_types; i++)
        free(st->sample_types[i]);
    free(st->sample_types);
    free(st);
}

static int read_sample_types(downsample_state *st, const pp_config *cfg)
{
    const pp_host *h = st->host;
    const pp_config *list = st->sample_types_node;
    size_t n = list ? h->cfg_count(list) : 0;
    if (n == 0)
        return 0;
    st->sample_types = calloc(n, sizeof *st->sample_types);
    if (!st->sample_types)
        return h->cfg_error(cfg, "sample_types", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *s = h->cfg_scalar(h->cfg_item(list, i));
        if (!s || !*s)
            return h->cfg_error(cfg, "sample_types", "item %zu is empty", i);
        if (!(st->sample_types[i] = strdup(s)))
            return h->cfg_error(cfg, "sample_types", "out of memory");
        st->n_sample_types++;
    }
    return 0;
}

static int read_options(downsample_state *st, const pp_config *cfg)
{
    if (st->host->cfg_fill(cfg, downsample_options, st) < 0)
        return -1;
    return read_sample_types(st, cfg);
}

static pp_metric *dropped_metric(const pp_host *h, pp_instance *self, const char *reason)
{
    char labels[64];
    snprintf(labels, sizeof labels, "reason=\"%s\"", reason);
    return h->metric(self, "downsample_dropped_profiles_total",
                     "Profiles dropped by downsample, by reason", PP_COUNTER, labels);
}

static int downsample_create(const pp_host *host, pp_instance *self, const pp_config *cfg,
                             void **state)
{
    downsample_state *st = calloc(1, sizeof *st);
    if (!st)
        return host->cfg_error(cfg, NULL, "out of memory");
    st->host = host;
    st->self = self;
    if (read_options(st, cfg) != 0) {
        downsample_destroy(st);
        return -1;
    }
    st->dropped_keep_one_in = dropped_metric(host, self, "keep_one_in");
    st->dropped_no_type = dropped_metric(host, self, "no_sample_type");
    st->incompatible =
        host->metric(self, "downsample_incompatible_profiles_total",
                     "Profiles not merged into their window (pprof merge rules)", PP_COUNTER, NULL);
    st->merged = host->metric(self, "downsample_merged_profiles_total",
                              "Profiles merged into an open window", PP_COUNTER, NULL);
    st->decode_errors =
        host->metric(self, "downsample_decode_errors_total",
                     "Profiles passed on unchanged: payload not decodable", PP_COUNTER, NULL);
    *state = st;
    return 0;
}

const pp_component pp_processor_downsample = {
    .type = "downsample",
    .kind = PP_PROCESSOR,
    .description = "merge windows, fold small stacks, cut deep stacks, filter sample types, "
                   "keep one in N",
    .options = downsample_options,
    .flags = PP_MUTATES,
    .create = downsample_create,
    .destroy = downsample_destroy,
    .process = downsample_process,
    .tick = downsample_tick,
};
