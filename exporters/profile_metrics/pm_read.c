/* pm_read: see pm_read.h. One pass over the sample types finds the
 * columns; one pass over the samples sums them. Function costs are summed
 * per function index first (no allocation per sample: a stamp per
 * function marks it seen in the current sample for the cumulative sum),
 * so the store only sees one entry per function of the profile. */
#include "pm_read.h"

#include <stdlib.h>
#include <string.h>

#define NO_COLUMN ((size_t)-1)

typedef struct columns {
    size_t cpu, samples, inuse_bytes, inuse_objects, alloc_bytes, alloc_objects, goroutines,
        contentions, delay;
    double cpu_scale, delay_scale; /* value -> seconds */
    int bare_count;                /* one count column of no known type: goroutines if so named */
} columns;

static const char *str_at(const pp_pprof *t, int64_t i)
{
    return i >= 0 && (uint64_t)i < t->n_strings && t->strings[i] ? t->strings[i] : "";
}

/* Seconds per unit of a time unit; 0 if `unit` is not one. */
static double time_unit_seconds(const char *unit)
{
    static const struct {
        const char *unit;
        double seconds;
    } units[] = {
        {"nanoseconds", 1e-9}, {"microseconds", 1e-6}, {"milliseconds", 1e-3}, {"seconds", 1.0},
        {"ns", 1e-9},          {"us", 1e-6},           {"ms", 1e-3},           {"s", 1.0}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(unit, units[i].unit) == 0)
            return units[i].seconds;
    return 0;
}

static int is(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

static void find_columns(const pp_pprof *t, columns *c)
{
    *c = (columns){NO_COLUMN, NO_COLUMN, NO_COLUMN, NO_COLUMN, NO_COLUMN, NO_COLUMN,
                   NO_COLUMN, NO_COLUMN, NO_COLUMN, 0,         0,         0};
    for (size_t i = 0; i < t->n_sample_types; i++) {
        const char *type = str_at(t, t->sample_types[i].type);
        const char *unit = str_at(t, t->sample_types[i].unit);
        double secs = time_unit_seconds(unit);
        if (is(type, "cpu") && secs > 0) {
            c->cpu = i;
            c->cpu_scale = secs;
        } else if (is(type, "samples") && is(unit, "count")) {
            c->samples = i;
        } else if ((is(type, "inuse_space") || is(type, "space")) && is(unit, "bytes")) {
            c->inuse_bytes = i;
        } else if (is(type, "inuse_objects") || is(type, "objects")) {
            c->inuse_objects = i;
        } else if (is(type, "alloc_space") && is(unit, "bytes")) {
            c->alloc_bytes = i;
        } else if (is(type, "alloc_objects")) {
            c->alloc_objects = i;
        } else if ((is(type, "goroutine") || is(type, "goroutines")) && is(unit, "count")) {
            c->goroutines = i;
        } else if (is(type, "contentions") && is(unit, "count")) {
            c->contentions = i;
        } else if (is(type, "delay") && secs > 0) {
            c->delay = i;
            c->delay_scale = secs;
        }
    }
    /* CPU as sample counts times a CPU period (samples/count, period
     * cpu/nanoseconds), when no cpu column says it directly */
    if (c->cpu == NO_COLUMN && c->samples != NO_COLUMN &&
        is(str_at(t, t->period_type.type), "cpu") && t->period > 0) {
        double secs = time_unit_seconds(str_at(t, t->period_type.unit));
        if (secs > 0) {
            c->cpu = c->samples;
            c->cpu_scale = secs * (double)t->period;
        }
    }
    /* a single bare count named as a goroutine profile */
    c->bare_count = c->goroutines == NO_COLUMN && c->cpu == NO_COLUMN && t->n_sample_types == 1 &&
                    is(str_at(t, t->sample_types[0].unit), "count");
}

/* Sums column `col` over every sample, negative values (no meaning in
 * any of these types) left out. */
static double column_sum(const pp_pprof *t, size_t col)
{
    double sum = 0;
    for (size_t i = 0; i < t->n_samples; i++) {
        const pp_sample *s = &t->samples[i];
        if (col < s->n_values && s->values[col] > 0)
            sum += (double)s->values[col];
    }
    return sum;
}

/* id -> index of functions[] or locations[]: ids are usually 1..n in
 * order; otherwise a sorted copy is searched. */
typedef struct id_index {
    const uint64_t *ids; /* ids[i] of entry i, stride apart */
    size_t stride, n;
    int dense;
    uint64_t *sorted_pairs; /* id, index; n pairs; NULL when dense */
} id_index;

static uint64_t id_at(const id_index *x, size_t i)
{
    return *(const uint64_t *)((const char *)x->ids + i * x->stride);
}

static int by_id(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int id_index_init(id_index *x, const void *first_id, size_t stride, size_t n)
{
    *x = (id_index){first_id, stride, n, 1, NULL};
    for (size_t i = 0; i < n && x->dense; i++)
        x->dense = id_at(x, i) == i + 1;
    if (x->dense || n == 0)
        return 0;
    x->sorted_pairs = malloc(n * 2 * sizeof *x->sorted_pairs);
    if (!x->sorted_pairs)
        return -1;
    for (size_t i = 0; i < n; i++) {
        x->sorted_pairs[2 * i] = id_at(x, i);
        x->sorted_pairs[2 * i + 1] = i;
    }
    qsort(x->sorted_pairs, n, 2 * sizeof *x->sorted_pairs, by_id);
    return 0;
}

/* Index of id, or (size_t)-1. */
static size_t id_lookup(const id_index *x, uint64_t id)
{
    if (x->dense)
        return id >= 1 && id <= x->n ? (size_t)(id - 1) : NO_COLUMN;
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t v = x->sorted_pairs[2 * mid];
        if (v == id)
            return (size_t)x->sorted_pairs[2 * mid + 1];
        if (v < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NO_COLUMN;
}

typedef struct fn_sums {
    double *self, *cum;
    size_t *stamp; /* sample number + 1 that last counted the function */
} fn_sums;

/* Adds one sample's value to its leaf function (self) and to every
 * distinct function of its stack (cumulative). */
static void add_sample(const pp_pprof *t, const id_index *locs, const id_index *fns, fn_sums *sums,
                       const pp_sample *s, size_t sample_no, double value)
{
    int leaf = 1;
    for (size_t i = 0; i < s->n_location_ids; i++) {
        size_t li = id_lookup(locs, s->location_ids[i]);
        if (li == NO_COLUMN)
            continue;
        const pp_location *loc = &t->locations[li];
        for (size_t j = 0; j < loc->n_lines; j++) {
            size_t fi = id_lookup(fns, loc->lines[j].function_id);
            if (fi == NO_COLUMN)
                continue;
            if (leaf)
                sums->self[fi] += value;
            leaf = 0;
            if (sums->stamp[fi] != sample_no + 1) {
                sums->stamp[fi] = sample_no + 1;
                sums->cum[fi] += value;
            }
        }
    }
}

static int read_functions(const pp_pprof *t, size_t col, double scale, pm_reading *out)
{
    id_index locs, fns;
    fn_sums sums = {0};
    int rc = -1;
    size_t nf = t->n_functions;
    if (id_index_init(&locs, t->locations ? &t->locations[0].id : NULL, sizeof(pp_location),
                      t->n_locations) < 0)
        return -1;
    if (id_index_init(&fns, t->functions ? &t->functions[0].id : NULL, sizeof(pp_function), nf) < 0)
        goto done_locs;
    sums.self = calloc(nf ? nf : 1, sizeof *sums.self);
    sums.cum = calloc(nf ? nf : 1, sizeof *sums.cum);
    sums.stamp = calloc(nf ? nf : 1, sizeof *sums.stamp);
    out->fns = calloc(nf ? nf : 1, sizeof *out->fns);
    if (!sums.self || !sums.cum || !sums.stamp || !out->fns)
        goto done;
    for (size_t i = 0; i < t->n_samples; i++) {
        const pp_sample *s = &t->samples[i];
        if (col < s->n_values && s->values[col] > 0)
            add_sample(t, &locs, &fns, &sums, s, i, (double)s->values[col] * scale);
    }
    for (size_t i = 0; i < nf; i++) {
        if (sums.cum[i] <= 0)
            continue;
        out->fns[out->n_fns++] =
            (pm_fn_cost){str_at(t, t->functions[i].name), sums.self[i], sums.cum[i]};
    }
    rc = 0;
done:
    free(sums.self);
    free(sums.cum);
    free(sums.stamp);
    free(fns.sorted_pairs);
done_locs:
    free(locs.sorted_pairs);
    return rc;
}

static void set_counter(pm_reading *r, pm_counter c, double v, int cumulative)
{
    r->counters |= 1u << c;
    r->counter[c] = v;
    if (cumulative)
        r->cumulative |= 1u << c;
}

static void set_gauge(pm_reading *r, pm_gauge g, double v)
{
    r->gauges |= 1u << g;
    r->gauge[g] = v;
}

static int named(const char *name, const char *what)
{
    return name && strstr(name, what) != NULL;
}

int pm_read(const pp_pprof *t, const char *name, const char *delta, int want_functions,
            pm_reading *out)
{
    columns c;
    memset(out, 0, sizeof *out);
    out->duration_ns = t->duration_nanos > 0 ? t->duration_nanos : 0;
    find_columns(t, &c);
    /* `__delta__="false"`: values are per-window already (scrape deltas,
     * SDKs); otherwise Go's alloc and contention types are running totals */
    int cumulative = !is(delta, "false");
    if (c.cpu != NO_COLUMN) {
        set_counter(out, PM_CPU_SECONDS, column_sum(t, c.cpu) * c.cpu_scale, 0);
        if (want_functions && t->n_functions && read_functions(t, c.cpu, c.cpu_scale, out) < 0)
            return -1;
    }
    if (c.inuse_bytes != NO_COLUMN)
        set_gauge(out, PM_INUSE_BYTES, column_sum(t, c.inuse_bytes));
    if (c.inuse_objects != NO_COLUMN)
        set_gauge(out, PM_INUSE_OBJECTS, column_sum(t, c.inuse_objects));
    if (c.alloc_bytes != NO_COLUMN)
        set_counter(out, PM_ALLOC_BYTES, column_sum(t, c.alloc_bytes), cumulative);
    if (c.alloc_objects != NO_COLUMN)
        set_counter(out, PM_ALLOC_OBJECTS, column_sum(t, c.alloc_objects), cumulative);
    if (c.bare_count && (is(name, "goroutine") || is(name, "goroutines")))
        c.goroutines = 0;
    if (c.goroutines != NO_COLUMN)
        set_gauge(out, PM_GOROUTINES, column_sum(t, c.goroutines));
    if (c.contentions != NO_COLUMN || c.delay != NO_COLUMN) {
        /* Go's block and mutex profiles have the same sample types: only
         * the name tells them apart; the host's family for both is block */
        int mutex = named(name, "mutex");
        if (c.contentions != NO_COLUMN)
            set_counter(out, mutex ? PM_MUTEX_CONTENTIONS : PM_BLOCK_CONTENTIONS,
                        column_sum(t, c.contentions), cumulative);
        if (c.delay != NO_COLUMN)
            set_counter(out, mutex ? PM_MUTEX_DELAY : PM_BLOCK_DELAY,
                        column_sum(t, c.delay) * c.delay_scale, cumulative);
    }
    return 0;
}

void pm_reading_free(pm_reading *r)
{
    free(r->fns);
    r->fns = NULL;
    r->n_fns = 0;
}
