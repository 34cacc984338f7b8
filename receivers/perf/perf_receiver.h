/* perf_receiver: the perf receiver's state, shared by its parts:
 * perf.c (life: create, start, the reader thread, stop), perf_options.c
 * (the option table and its checks), perf_track.c (records applied to the
 * process table) and perf_emit.c (profiles built and emitted).
 *
 * Everything but the config belongs to the reader thread once started.
 */
#ifndef PERF_RECEIVER_H
#define PERF_RECEIVER_H

#include <profpipe/plugin.h>

#include <pthread.h>
#include <time.h>

#include "perf_event.h"
#include "perf_pprof.h"
#include "perf_proc.h"
#include "perf_rules.h"
#include "pp_constants.h"

#define DRAIN_PERIOD_MS 250

typedef struct perf_receiver {
    const pp_host *host;
    pp_instance *self;
    /* config */
    int frequency;
    int64_t interval_ns;
    int include_kernel;
    size_t buffer_size;
    uint32_t *pids;
    size_t n_pids;
    perf_regex *comm_re, *exe_re;
    char *cgroup;
    perf_rule *rules;
    size_t n_rules;
    /* running */
    perf_ring *rings;
    size_t n_rings;
    int cgroup_fd, wake_fd;
    pthread_t thread;
    int thread_started;
    int stopping; /* atomic */
    perf_records records;
    perf_procs procs;
    perf_resolver resolver;
    int64_t window_start; /* wall ns */
    pp_batch *pending;    /* profiles made mid-interval, emitted at its end */
    pp_metric *m_lost, *m_throttle, *m_unthrottle, *m_samples, *m_unresolved, *m_processes,
        *m_no_stack, *m_cpu;
    /* counted while applying records, added to the metrics once per drain
     * (the host's metrics take a lock) */
    uint64_t n_lost, n_throttle, n_unthrottle, n_samples, n_no_stack;
} perf_receiver;

extern const pp_option perf_options[];

/* perf_options.c: fills the config part of r (cfg_error on a bad option:
 * -1); frees it. */
int perf_options_parse(perf_receiver *r, const pp_config *cfg);
void perf_options_free(perf_receiver *r);

/* perf_track.c: reads every ring and applies the records, in time order,
 * to the process table; adds the counts to the metrics. */
void perf_drain(perf_receiver *r);

/* perf_emit.c: emits one profile per process with samples since the
 * interval began, and drops processes that are gone (check_alive: also
 * those that vanished without an EXIT record). */
void perf_flush(perf_receiver *r, int check_alive);
/* Turns p's samples so far into a profile, emitted with the next flush:
 * for a process about to exec, or an entry about to be replaced. */
void perf_stash_samples(perf_receiver *r, perf_process *p);

static inline int64_t perf_clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

#endif
