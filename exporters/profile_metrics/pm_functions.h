/* pm_functions: the per-function CPU series of one service, for its top N
 * functions by self CPU over a sliding window.
 *
 * Each tracked function keeps its self CPU in a ring of time buckets that
 * together span the window (bucket = window / PM_FN_BUCKETS, by the
 * profile's end time, so ranking follows profile time, not arrival). After
 * each CPU profile the top N by windowed self CPU are exposed; a function
 * that leaves the top N is expired (its series disappears and its counter
 * restarts if it comes back). Exposure takes a slot of a cap shared by all
 * services (pm_fn_cap): a function that would pass it stays hidden and the
 * refusal is counted. The tracked set per service is bounded too: when it
 * is full, the half with the least windowed CPU (never an exposed one) is
 * forgotten. */
#ifndef PM_FUNCTIONS_H
#define PM_FUNCTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "pm_read.h"

#define PM_FN_BUCKETS 10

/* Shared by every service of one exporter. */
typedef struct pm_fn_cap {
    size_t limit;     /* most function series exposed at once */
    size_t exposed;   /* exposed now */
    uint64_t hits;    /* exposures refused by the limit */
    uint64_t expired; /* series removed on leaving the top N */
} pm_fn_cap;

typedef struct pm_fn {
    char *name;
    uint64_t hash;
    double bucket[PM_FN_BUCKETS];     /* self CPU seconds per bucket */
    double self_total, cum_total;     /* counters, while exposed */
    double pending_self, pending_cum; /* this profile's share */
    uint64_t pending_seq;
    int64_t ts_ms;
    int exposed;
    int fresh; /* exposed by the last ranking: its series starts now */
} pm_fn;

typedef struct pm_fn_table {
    pm_fn *fns;
    size_t n, max;   /* max: tracked functions at most */
    uint32_t *slots; /* open addressing: index + 1, 0 = empty; 2 * max */
    size_t n_slots;
    int64_t bucket_epoch[PM_FN_BUCKETS]; /* which bucket each ring slot holds */
    int64_t newest_epoch;
    uint64_t seq;
} pm_fn_table;

typedef struct pm_fn_params {
    size_t top_n;
    size_t max_tracked;
    int64_t bucket_ns;
} pm_fn_params;

/* Adds one CPU profile's function costs (already scaled), ending at
 * until_ns (Unix ns; ts_ms its sample timestamp), then re-ranks. 0 or -1
 * (out of memory: the table is unchanged but may have lost tracking). */
int pm_fn_add(pm_fn_table *t, const pm_fn_params *p, pm_fn_cap *cap, const pm_fn_cost *costs,
              size_t n, double scale, int64_t until_ns, int64_t ts_ms);
/* Frees everything; exposed series give their cap slots back. */
void pm_fn_free(pm_fn_table *t, pm_fn_cap *cap);

#endif
