/* pm_read: what one profile says in metric terms. The kind of a profile
 * is read from its pprof sample types (cpu/nanoseconds, samples/count with
 * a cpu period, inuse_space/bytes, alloc_space/bytes, goroutine(s)/count,
 * contentions/count + delay/nanoseconds) and from its `__name__` label
 * where the types do not tell (block vs mutex, a bare count under
 * `goroutine`), so both namings of profile types work. Values come out in
 * the metric's unit (seconds, bytes, objects, goroutines, contentions). */
#ifndef PM_READ_H
#define PM_READ_H

#include <profpipe/plugin.h>

typedef enum pm_counter {
    PM_CPU_SECONDS = 0,
    PM_ALLOC_BYTES,
    PM_ALLOC_OBJECTS,
    PM_BLOCK_DELAY,
    PM_BLOCK_CONTENTIONS,
    PM_MUTEX_DELAY,
    PM_MUTEX_CONTENTIONS,
    PM_N_COUNTERS
} pm_counter;

typedef enum pm_gauge { PM_INUSE_BYTES = 0, PM_INUSE_OBJECTS, PM_GOROUTINES, PM_N_GAUGES } pm_gauge;

/* Per-function CPU of one profile: self (leaf frame) and cumulative (any
 * frame, once per sample), in seconds. Names are borrowed from the tree. */
typedef struct pm_fn_cost {
    const char *name;
    double self_s;
    double cum_s;
} pm_fn_cost;

typedef struct pm_reading {
    unsigned counters;   /* bit per pm_counter present */
    unsigned cumulative; /* bit per counter whose value is a running total */
    double counter[PM_N_COUNTERS];
    unsigned gauges; /* bit per pm_gauge present */
    double gauge[PM_N_GAUGES];
    int64_t duration_ns; /* the pprof's duration_nanos (0: not given) */
    pm_fn_cost *fns;     /* CPU profiles, when asked for; malloc'd */
    size_t n_fns;
} pm_reading;

/* Reads tree t of a profile with labels `name` (`__name__`, may be NULL)
 * and `delta` (`__delta__`, may be NULL). With want_functions, fills
 * fns for CPU profiles. 0 (reading->counters|gauges may be 0: nothing
 * recognised) or -1 out of memory; free with pm_reading_free either way. */
int pm_read(const pp_pprof *t, const char *name, const char *delta, int want_functions,
            pm_reading *out);
void pm_reading_free(pm_reading *r);

#endif
