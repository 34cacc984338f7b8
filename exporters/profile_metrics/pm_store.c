/* pm_store: see pm_store.h for the rules. Series are few (services ×
 * kept label values, bounded by max_series) and found by a linear search
 * of their label text; sources per series are fewer still. */
#include "pm_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pp_constants.h"

/* A window ending further ahead of the wall clock than this is stamped
 * now: a bad clock must not push a series' timestamps into the future. */
#define FUTURE_TOLERANCE_NS (60LL * 1000000000LL)

typedef struct family {
    const char *name;
    const char *help;
    int counter; /* else gauge */
} family;

static const family counter_families[PM_N_COUNTERS] = {
    [PM_CPU_SECONDS] = {"profile_cpu_seconds_total",
                        "CPU time in the services' CPU profiles, in seconds; rate() is cores "
                        "used.",
                        1},
    [PM_ALLOC_BYTES] = {"profile_memory_alloc_bytes_total",
                        "Bytes allocated, from heap profiles' alloc_space.", 1},
    [PM_ALLOC_OBJECTS] = {"profile_memory_alloc_objects_total",
                          "Objects allocated, from heap profiles' alloc_objects.", 1},
    [PM_BLOCK_DELAY] = {"profile_block_delay_seconds_total",
                        "Time goroutines spent blocked on synchronization, from block "
                        "profiles.",
                        1},
    [PM_BLOCK_CONTENTIONS] = {"profile_block_contentions_total",
                              "Blocking events, from block profiles.", 1},
    [PM_MUTEX_DELAY] = {"profile_mutex_delay_seconds_total",
                        "Time waited for contended mutexes, from mutex profiles.", 1},
    [PM_MUTEX_CONTENTIONS] = {"profile_mutex_contentions_total",
                              "Contended mutex acquisitions, from mutex profiles.", 1},
};

static const family gauge_families[PM_N_GAUGES] = {
    [PM_INUSE_BYTES] = {"profile_memory_inuse_bytes",
                        "Bytes in use in the latest heap profile (summed over the series' "
                        "processes).",
                        0},
    [PM_INUSE_OBJECTS] = {"profile_memory_inuse_objects",
                          "Objects in use in the latest heap profile.", 0},
    [PM_GOROUTINES] = {"profile_goroutines", "Goroutines in the latest goroutine profile.", 0},
};

/* A function name longer than this (escaped) gets no series. */
#define FUNCTION_LABEL_MAX 4096
#define FN_SELF_NAME "profile_function_cpu_seconds_total"
#define FN_CUM_NAME "profile_function_cpu_cumulative_seconds_total"

void pm_store_init(pm_store *s, const pm_limits *lim)
{
    memset(s, 0, sizeof *s);
    s->lim = *lim;
    s->fn_cap.limit = lim->max_function_series;
}

static void series_free(pm_store *s, pm_series *se)
{
    pm_fn_free(&se->fns, &s->fn_cap);
    free(se->sources);
    free(se->labels);
    free(se);
}

void pm_store_free(pm_store *s)
{
    for (size_t i = 0; i < s->n_series; i++)
        series_free(s, s->series[i]);
    free(s->series);
    s->series = NULL;
    s->n_series = s->cap_series = 0;
}

/* Length of the valid UTF-8 sequence at s (1 to 4), or 0 if invalid
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (n == 0 || s[0] > 0xf4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return n;
}

/* Prometheus refuses a whole scrape over one label value that is not
 * UTF-8, so a byte that does not start a valid sequence becomes U+FFFD. */
int pm_label_append(char *buf, size_t len, size_t *pos, const char *name, const char *value)
{
    static const char replacement[] = "\xef\xbf\xbd";
    size_t p = *pos;
    int n = snprintf(buf + p, len - p, "%s%s=\"", p ? "," : "", name);
    if (n < 0 || (size_t)n >= len - p)
        return -1;
    p += (size_t)n;
    const unsigned char *c = (const unsigned char *)value;
    while (*c) {
        const char *from = (const char *)c;
        size_t take = utf8_len(c), step = take ? take : 1;
        if (*c == '\\' || *c == '"' || *c == '\n') {
            from = *c == '\\' ? "\\\\" : *c == '"' ? "\\\"" : "\\n";
            take = 2;
        } else if (!take) {
            from = replacement;
            take = sizeof replacement - 1;
        }
        if (p + take + 2 > len)
            return -1;
        memcpy(buf + p, from, take);
        p += take;
        c += step;
    }
    buf[p++] = '"';
    buf[p] = '\0';
    *pos = p;
    return 0;
}

static pm_series *find_series(pm_store *s, const char *labels)
{
    for (size_t i = 0; i < s->n_series; i++)
        if (strcmp(s->series[i]->labels, labels) == 0)
            return s->series[i];
    return NULL;
}

static pm_series *new_series(pm_store *s, const char *labels)
{
    if (s->n_series == s->cap_series) {
        size_t cap = s->cap_series ? s->cap_series * 2 : 16;
        pm_series **grown = realloc(s->series, cap * sizeof *grown);
        if (!grown)
            return NULL;
        s->series = grown;
        s->cap_series = cap;
    }
    pm_series *se = calloc(1, sizeof *se);
    if (!se || !(se->labels = strdup(labels))) {
        free(se);
        return NULL;
    }
    s->series[s->n_series++] = se;
    return se;
}

static void resum_gauges(pm_series *se);

/* The source with fp, added if new; when the series has max_sources,
 * the one seen longest ago makes room (and leaves the gauges' sums). */
static pm_source *find_source(pm_store *s, pm_series *se, uint64_t fp)
{
    for (size_t i = 0; i < se->n_sources; i++)
        if (se->sources[i].fp == fp)
            return &se->sources[i];
    if (se->n_sources >= s->lim.max_sources) {
        size_t oldest = 0;
        for (size_t i = 1; i < se->n_sources; i++)
            if (se->sources[i].seen_ns < se->sources[oldest].seen_ns)
                oldest = i;
        s->stats.sources_evicted++;
        memset(&se->sources[oldest], 0, sizeof se->sources[oldest]);
        se->sources[oldest].fp = fp;
        resum_gauges(se);
        return &se->sources[oldest];
    }
    if (se->n_sources == se->cap_sources) {
        size_t cap = se->cap_sources ? se->cap_sources * 2 : 2;
        pm_source *grown = realloc(se->sources, cap * sizeof *grown);
        if (!grown)
            return NULL;
        se->sources = grown;
        se->cap_sources = cap;
    }
    pm_source *src = &se->sources[se->n_sources++];
    memset(src, 0, sizeof *src);
    src->fp = fp;
    return src;
}

static int seen_window(const pm_source *src, uint64_t id)
{
    for (size_t i = 0; i < src->n_windows; i++)
        if (src->windows[i] == id)
            return 1;
    return 0;
}

static void remember_window(pm_source *src, uint64_t id)
{
    src->windows[src->next_window] = id;
    src->next_window = (src->next_window + 1) % PM_WINDOW_RING;
    if (src->n_windows < PM_WINDOW_RING)
        src->n_windows++;
}

/* A changed value's timestamp: its window's end, and later than the
 * previous one. */
static void stamp(pm_value *v, int64_t ts_ms)
{
    v->ts_ms = v->present && ts_ms <= v->ts_ms ? v->ts_ms + 1 : ts_ms;
    v->present = 1;
}

/* How much a counter reading adds: a delta as is; a running total its
 * increase over the source's baseline (0 for the first one or for an
 * older window; from zero after a restart). */
static double counter_increase(pm_source *src, const pm_reading *r, int c, int64_t until_ns)
{
    double v = r->counter[c];
    if (!(r->cumulative & (1u << c)))
        return v;
    if (src->bases & (1u << c) && until_ns < src->base_until[c])
        return 0;
    double prev = src->base[c];
    int had = (src->bases >> c) & 1u;
    src->bases |= 1u << c;
    src->base[c] = v;
    src->base_until[c] = until_ns;
    if (!had)
        return 0;
    return v >= prev ? v - prev : v;
}

/* The factor a CPU window's values are counted with (see fill_cpu_gaps). */
static double cpu_scale(const pm_store *s, pm_source *src, const pm_input *in)
{
    double scale = 1.0;
    int64_t covered =
        in->reading->duration_ns > 0 ? in->reading->duration_ns : in->until_ns - in->from_ns;
    if (s->lim.fill_cpu_gaps && src->cpu_until > 0 && covered > 0 &&
        in->until_ns > src->cpu_until) {
        int64_t span = in->until_ns - src->cpu_until;
        if (span > covered && span <= 2 * covered)
            scale = (double)span / (double)covered;
    }
    if (in->until_ns > src->cpu_until)
        src->cpu_until = in->until_ns;
    return scale;
}

static void update_gauges(pm_series *se, pm_source *src, const pm_input *in, int64_t ts_ms)
{
    const pm_reading *r = in->reading;
    for (int g = 0; g < PM_N_GAUGES; g++) {
        if (!(r->gauges & (1u << g)))
            continue;
        if (src->gauges & (1u << g) && in->until_ns < src->gauge_until[g])
            continue;
        src->gauges |= 1u << g;
        src->gauge[g] = r->gauge[g];
        src->gauge_until[g] = in->until_ns;
        double sum = 0;
        for (size_t i = 0; i < se->n_sources; i++)
            if (se->sources[i].gauges & (1u << g))
                sum += se->sources[i].gauge[g];
        if (!se->gauge[g].present || se->gauge[g].v != sum) {
            se->gauge[g].v = sum;
            stamp(&se->gauge[g], ts_ms);
        }
    }
}

static pm_add_result update_counters(pm_store *s, pm_series *se, pm_source *src, const pm_input *in,
                                     int64_t ts_ms)
{
    const pm_reading *r = in->reading;
    double scale = 1.0;
    if (r->counters & (1u << PM_CPU_SECONDS))
        scale = cpu_scale(s, src, in);
    for (int c = 0; c < PM_N_COUNTERS; c++) {
        if (!(r->counters & (1u << c)))
            continue;
        double add = counter_increase(src, r, c, in->until_ns);
        if (c == PM_CPU_SECONDS)
            add *= scale;
        if (!se->counter[c].present || add > 0) {
            se->counter[c].v += add;
            stamp(&se->counter[c], ts_ms);
        }
    }
    if (s->lim.functions && r->n_fns &&
        pm_fn_add(&se->fns, &s->lim.fn, &s->fn_cap, r->fns, r->n_fns, scale, in->until_ns, ts_ms) <
            0)
        return PM_NO_MEMORY;
    return PM_ADDED;
}

pm_add_result pm_store_add(pm_store *s, const pm_input *in, int64_t now_ns, int64_t wall_ns)
{
    const pm_reading *r = in->reading;
    if (!r->counters && !r->gauges) {
        s->stats.unrecognised++;
        return PM_UNRECOGNISED;
    }
    pm_series *se = find_series(s, in->series_labels);
    if (!se) {
        if (s->n_series >= s->lim.max_series) {
            s->stats.series_limited++;
            return PM_SERIES_LIMIT;
        }
        if (!(se = new_series(s, in->series_labels)))
            return PM_NO_MEMORY;
    }
    pm_source *src = find_source(s, se, in->source_fp);
    if (!src)
        return PM_NO_MEMORY;
    se->seen_ns = src->seen_ns = now_ns;
    if (seen_window(src, in->window_id)) {
        s->stats.duplicates++;
        return PM_DUPLICATE;
    }
    remember_window(src, in->window_id);
    pm_input clamped = *in;
    if (clamped.until_ns <= 0 || clamped.until_ns > wall_ns + FUTURE_TOLERANCE_NS)
        clamped.until_ns = wall_ns;
    int64_t ts_ms = clamped.until_ns / NS_PER_MS;
    if (clamped.until_ns < src->newest_until)
        s->stats.out_of_order++;
    else
        src->newest_until = clamped.until_ns;
    update_gauges(se, src, &clamped, ts_ms);
    return update_counters(s, se, src, &clamped, ts_ms);
}

/* Sums each gauge over the series' processes again, after one left. */
static void resum_gauges(pm_series *se)
{
    for (int g = 0; g < PM_N_GAUGES; g++) {
        double sum = 0;
        int any = 0;
        for (size_t i = 0; i < se->n_sources; i++) {
            if (se->sources[i].gauges & (1u << g)) {
                sum += se->sources[i].gauge[g];
                any = 1;
            }
        }
        if (!any) {
            se->gauge[g].present = 0;
        } else if (se->gauge[g].v != sum) {
            se->gauge[g].v = sum;
            stamp(&se->gauge[g], se->gauge[g].ts_ms);
        }
    }
}

/* Drops sources not seen since `cutoff`. */
static void expire_sources(pm_series *se, int64_t cutoff)
{
    size_t k = 0;
    for (size_t i = 0; i < se->n_sources; i++)
        if (se->sources[i].seen_ns >= cutoff)
            se->sources[k++] = se->sources[i];
    if (k == se->n_sources)
        return;
    se->n_sources = k;
    resum_gauges(se);
}

size_t pm_store_expire(pm_store *s, int64_t now_ns)
{
    int64_t cutoff = now_ns - s->lim.staleness_ns;
    size_t k = 0, gone = 0;
    for (size_t i = 0; i < s->n_series; i++) {
        pm_series *se = s->series[i];
        if (se->seen_ns < cutoff) {
            series_free(s, se);
            gone++;
            continue;
        }
        expire_sources(se, cutoff);
        s->series[k++] = se;
    }
    s->n_series = k;
    s->stats.series_expired += gone;
    return gone;
}

/* ------------------------------------------------------------------ */
/* rendering                                                           */
/* ------------------------------------------------------------------ */

typedef struct text_out {
    pm_write_fn write;
    void *out;
    int timestamps;
} text_out;

static void put(const text_out *o, const char *text)
{
    o->write(o->out, text, strlen(text));
}

static void header(const text_out *o, const char *name, const char *help, int counter)
{
    char line[512];
    snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
             counter ? "counter" : "gauge");
    put(o, line);
}

static void sample(const text_out *o, const char *name, const char *labels, const char *extra,
                   const pm_value *v)
{
    char tail[96];
    put(o, name);
    put(o, "{");
    put(o, labels);
    if (extra) {
        put(o, ",");
        put(o, extra);
    }
    if (o->timestamps)
        snprintf(tail, sizeof tail, "} %.17g %lld\n", v->v, (long long)v->ts_ms);
    else
        snprintf(tail, sizeof tail, "} %.17g\n", v->v);
    put(o, tail);
}

static void render_values(const pm_store *s, const text_out *o, const family *f, int gauge,
                          int which)
{
    int any = 0;
    for (size_t i = 0; i < s->n_series; i++) {
        const pm_series *se = s->series[i];
        const pm_value *v = gauge ? &se->gauge[which] : &se->counter[which];
        if (!v->present)
            continue;
        if (!any)
            header(o, f->name, f->help, f->counter);
        any = 1;
        sample(o, f->name, se->labels, NULL, v);
    }
}

static void render_functions(const pm_store *s, const text_out *o, int cumulative)
{
    int any = 0;
    char label[FUNCTION_LABEL_MAX];
    for (size_t i = 0; i < s->n_series; i++) {
        const pm_series *se = s->series[i];
        for (size_t j = 0; j < se->fns.n; j++) {
            const pm_fn *f = &se->fns.fns[j];
            size_t pos = 0;
            if (!f->exposed || pm_label_append(label, sizeof label, &pos, "function", f->name) < 0)
                continue;
            if (!any)
                header(o, cumulative ? FN_CUM_NAME : FN_SELF_NAME,
                       cumulative ? "CPU time with a function on the stack, for the top "
                                    "functions by self CPU of each service."
                                  : "CPU time spent in a function itself (leaf frame), for "
                                    "the top functions of each service over the window.",
                       1);
            any = 1;
            pm_value v = {cumulative ? f->cum_total : f->self_total, f->ts_ms, 1};
            sample(o, cumulative ? FN_CUM_NAME : FN_SELF_NAME, se->labels, label, &v);
        }
    }
}

void pm_store_render(const pm_store *s, int timestamps, pm_write_fn write, void *out)
{
    text_out o = {write, out, timestamps};
    for (int c = 0; c < PM_N_COUNTERS; c++)
        render_values(s, &o, &counter_families[c], 0, c);
    for (int g = 0; g < PM_N_GAUGES; g++)
        render_values(s, &o, &gauge_families[g], 1, g);
    if (s->lim.functions) {
        render_functions(s, &o, 0);
        if (s->lim.functions_cumulative)
            render_functions(s, &o, 1);
    }
}
