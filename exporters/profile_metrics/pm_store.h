/* pm_store: the Prometheus series of the profile_metrics exporter.
 *
 * A series is one `service_name` plus the configured labels to keep (its
 * key, also its label text). Profiles reach it from sources: one process
 * as its series labels tell it apart (every label but `__name__` and
 * `__delta__`), so that two replicas folded into one series neither mix
 * their running totals nor overwrite each other's gauges:
 * - counters add each window's value: as sent when it is a delta, or the
 *   increase over the source's previous running total when cumulative
 *   (no increase from the first one: it is only the baseline; a total
 *   that went down is a restart and counts from zero);
 * - gauges are the sum over sources of each one's latest window;
 * - the same window (same labels, from and until) is counted once;
 * - a window older than one already seen still adds to counters (it is
 *   work that was done), never turns a gauge or a running total back;
 * - CPU profiles cover only part of each scrape interval (Alloy's 14s of
 *   15s); with fill_cpu_gaps the gap since the source's previous CPU
 *   window, when shorter than the window itself, is counted at the
 *   window's rate, so that rate() gives cores used;
 * - each sample's timestamp is its profile window's end (clamped to the
 *   present), and moves forward by at least 1ms whenever the value changes
 *   (Prometheus refuses a changed value at an old timestamp);
 * - a series (and a source) that nothing reached for `staleness` of the
 *   arrival clock is forgotten.
 * Not thread-safe: the exporter holds a lock around every call. */
#ifndef PM_STORE_H
#define PM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "pm_functions.h"
#include "pm_read.h"

#define PM_WINDOW_RING 64 /* recent windows remembered per source */

typedef struct pm_limits {
    size_t max_series;
    size_t max_sources; /* per series */
    int64_t staleness_ns;
    int fill_cpu_gaps;
    int functions;            /* per-function series on */
    int functions_cumulative; /* also the cumulative series */
    pm_fn_params fn;
    size_t max_function_series;
} pm_limits;

typedef struct pm_stats {
    uint64_t unrecognised, duplicates, out_of_order, series_limited, series_expired,
        sources_evicted;
} pm_stats;

typedef struct pm_value {
    double v;
    int64_t ts_ms;
    int present;
} pm_value;

typedef struct pm_source {
    uint64_t fp;
    int64_t seen_ns; /* arrival clock */
    unsigned gauges;
    double gauge[PM_N_GAUGES];
    int64_t gauge_until[PM_N_GAUGES];
    unsigned bases;
    double base[PM_N_COUNTERS];
    int64_t base_until[PM_N_COUNTERS];
    int64_t cpu_until;
    int64_t newest_until; /* latest window end seen */
    uint64_t windows[PM_WINDOW_RING];
    size_t n_windows, next_window;
} pm_source;

typedef struct pm_series {
    char *labels; /* `service_name="a",job="b"`, escaped */
    int64_t seen_ns;
    pm_value counter[PM_N_COUNTERS];
    pm_value gauge[PM_N_GAUGES];
    pm_source *sources;
    size_t n_sources, cap_sources;
    pm_fn_table fns;
} pm_series;

typedef struct pm_store {
    pm_limits lim;
    pm_series **series;
    size_t n_series, cap_series;
    pm_fn_cap fn_cap;
    pm_stats stats;
} pm_store;

/* One profile, as the exporter hands it over. */
typedef struct pm_input {
    const char *series_labels; /* the key, rendered label text */
    uint64_t source_fp;        /* labels but __name__ / __delta__ */
    uint64_t window_id;        /* all labels, from and until */
    int64_t from_ns, until_ns;
    const pm_reading *reading;
} pm_input;

typedef enum pm_add_result {
    PM_ADDED = 0,
    PM_UNRECOGNISED, /* no sample type the exporter knows */
    PM_DUPLICATE,    /* that window was counted already */
    PM_SERIES_LIMIT, /* a new series past max_series */
    PM_NO_MEMORY,
} pm_add_result;

typedef void (*pm_write_fn)(void *out, const char *data, size_t len);

void pm_store_init(pm_store *s, const pm_limits *lim);
void pm_store_free(pm_store *s);
/* now_ns: the arrival clock (monotonic); wall_ns: Unix ns, for clamping
 * timestamps. */
pm_add_result pm_store_add(pm_store *s, const pm_input *in, int64_t now_ns, int64_t wall_ns);
/* Forgets series and sources not reached for the staleness interval;
 * returns how many series went. */
size_t pm_store_expire(pm_store *s, int64_t now_ns);
/* Writes every family in the Prometheus text format (with the samples'
 * timestamps unless !timestamps). */
void pm_store_render(const pm_store *s, int timestamps, pm_write_fn write, void *out);
/* Appends `name="value"` (escaped as Prometheus wants) to buf of size
 * len at *pos, with a comma first when *pos > 0; -1 if it does not fit. */
int pm_label_append(char *buf, size_t len, size_t *pos, const char *name, const char *value);

#endif
