/* perf receiver: samples the local machine with perf_event_open and emits
 * one pprof CPU profile per process per interval. This file is its life.
 *
 * create() only reads and checks options (perf_options.c), so `profpipe
 * validate` needs no privileges; start() opens one cpu-clock event and ring
 * per online CPU (perf_event.c), checks the pids, and starts one reader
 * thread. That thread polls every ring (and an eventfd that stop() rings),
 * drains them every DRAIN_PERIOD_MS or when a ring is a quarter full
 * (perf_track.c), and at each interval's end symbolizes and emits the
 * profiles (perf_emit.c). All state but the config is the thread's alone,
 * so there are no locks.
 */
#include "perf_receiver.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAX_CPUS 4096

static void perf_destroy(void *state);

static int perf_create(const pp_host *host, pp_instance *self, const pp_config *cfg, void **state)
{
    perf_receiver *r = calloc(1, sizeof *r);
    if (!r)
        return host->cfg_error(cfg, NULL, "out of memory");
    r->host = host;
    r->self = self;
    r->cgroup_fd = -1;
    r->wake_fd = -1;
    if (perf_options_parse(r, cfg) < 0) {
        perf_destroy(r);
        return -1;
    }
    *state = r;
    return 0;
}

static void close_all(perf_receiver *r)
{
    for (size_t i = 0; i < r->n_rings; i++)
        perf_ring_close(&r->rings[i]);
    free(r->rings);
    r->rings = NULL;
    r->n_rings = 0;
    if (r->cgroup_fd >= 0)
        close(r->cgroup_fd);
    if (r->wake_fd >= 0)
        close(r->wake_fd);
    r->cgroup_fd = r->wake_fd = -1;
    perf_records_free(&r->records);
    if (r->pending)
        r->host->batch_unref(r->pending);
    r->pending = NULL;
    if (r->procs.buckets)
        perf_procs_free(&r->procs);
    perf_resolver_free(&r->resolver);
}

static void perf_destroy(void *state)
{
    perf_receiver *r = state;
    if (!r)
        return;
    close_all(r);
    perf_options_free(r);
    free(r);
}

/* ------------------------------------------------------------- thread */

static void *reader_main(void *arg)
{
    perf_receiver *r = arg;
    size_t n = r->n_rings + 1;
    struct pollfd *fds = calloc(n, sizeof *fds);
    int64_t next_flush = perf_clock_ns(CLOCK_MONOTONIC) + r->interval_ns;
    if (!fds) {
        r->host->log(r->self, PP_LOG_ERROR, "out of memory: perf reader not running");
        return NULL;
    }
    for (size_t i = 0; i < r->n_rings; i++)
        fds[i] = (struct pollfd){.fd = r->rings[i].fd, .events = POLLIN};
    fds[r->n_rings] = (struct pollfd){.fd = r->wake_fd, .events = POLLIN};
    while (!__atomic_load_n(&r->stopping, __ATOMIC_ACQUIRE)) {
        int64_t now = perf_clock_ns(CLOCK_MONOTONIC), wait_ms = (next_flush - now) / NS_PER_MS;
        if (wait_ms > DRAIN_PERIOD_MS)
            wait_ms = DRAIN_PERIOD_MS;
        if (wait_ms > 0 && poll(fds, n, (int)wait_ms) < 0 && errno != EINTR)
            break;
        perf_drain(r);
        now = perf_clock_ns(CLOCK_MONOTONIC);
        if (now >= next_flush) {
            perf_flush(r, 1);
            next_flush += r->interval_ns;
            if (next_flush <= now) /* fell behind (emit blocked): skip ahead */
                next_flush = now + r->interval_ns;
        }
        r->host->metric_set(r->m_cpu,
                            (double)perf_clock_ns(CLOCK_THREAD_CPUTIME_ID) / (double)NS_PER_SEC);
    }
    perf_drain(r);
    perf_flush(r, 0); /* the partial last interval */
    free(fds);
    return NULL;
}

/* -------------------------------------------------------------- start */

static int check_pids(perf_receiver *r)
{
    for (size_t i = 0; i < r->n_pids; i++) {
        if (kill((pid_t)r->pids[i], 0) < 0 && errno == ESRCH) {
            r->host->log(r->self, PP_LOG_ERROR,
                         "pids: process %u does not exist (no /proc/%u); remove it from "
                         "`pids`, or select processes by `comm` or `exe` instead",
                         r->pids[i], r->pids[i]);
            return -1;
        }
    }
    return 0;
}

/* The cgroup's directory: under the perf_event v1 mount, under the cgroup2
 * mount (the path as /proc/<pid>/cgroup shows it), or as written. */
static int open_cgroup(perf_receiver *r)
{
    char v1root[PERF_PATH_MAX] = "", v2root[PERF_PATH_MAX] = "";
    char v1[2 * PERF_PATH_MAX], v2[2 * PERF_PATH_MAX];
    const char *candidates[3];
    size_t n = 0;
    if (!r->cgroup)
        return 0;
    perf_cgroup_roots(v1root, sizeof v1root, v2root, sizeof v2root);
    snprintf(v1, sizeof v1, "%s/%s", v1root, r->cgroup);
    snprintf(v2, sizeof v2, "%s/%s", v2root, r->cgroup);
    if (v1root[0])
        candidates[n++] = v1;
    if (v2root[0])
        candidates[n++] = v2;
    if (r->cgroup[0] == '/')
        candidates[n++] = r->cgroup;
    for (size_t i = 0; i < n; i++) {
        r->cgroup_fd = open(candidates[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->cgroup_fd >= 0)
            return 0;
    }
    r->host->log(r->self, PP_LOG_ERROR,
                 "cgroup: %s: not found under the perf_event cgroup mount (%s) nor the "
                 "cgroup2 mount (%s); give the path /proc/<pid>/cgroup shows, or the "
                 "cgroup directory's absolute path",
                 r->cgroup, v1root[0] ? v1root : "none", v2root[0] ? v2root : "none");
    return -1;
}

static int open_rings(perf_receiver *r)
{
    int cpus[MAX_CPUS];
    int n = perf_online_cpus(cpus, MAX_CPUS);
    char err[512];
    perf_open_spec spec = {r->frequency, r->include_kernel, r->cgroup_fd, r->buffer_size};
    if (n <= 0) {
        int e = errno;
        r->host->log(r->self, PP_LOG_ERROR, "cannot read the online CPUs (%s): %s%s",
                     "/sys/devices/system/cpu/online", strerror(e),
                     e == EMFILE ? ": too many open files; raise the limit (`ulimit -n`, "
                                   "or LimitNOFILE= in the systemd unit)"
                                 : "");
        return -1;
    }
    r->rings = calloc((size_t)n, sizeof *r->rings);
    if (!r->rings)
        return -1;
    for (int i = 0; i < n; i++) {
        if (perf_ring_open(&r->rings[r->n_rings], &spec, cpus[i], err, sizeof err) < 0) {
            r->host->log(r->self, PP_LOG_ERROR, "%s", err);
            return -1;
        }
        r->n_rings++;
    }
    return 0;
}

static void make_metrics(perf_receiver *r)
{
    const pp_host *h = r->host;
    r->m_lost = h->metric(r->self, "perf_lost_samples_total",
                          "Records the kernel dropped because a ring was full", PP_COUNTER, NULL);
    r->m_throttle = h->metric(r->self, "perf_throttle_events_total",
                              "Times the kernel throttled sampling", PP_COUNTER, NULL);
    r->m_unthrottle = h->metric(r->self, "perf_unthrottle_events_total",
                                "Times the kernel resumed throttled sampling", PP_COUNTER, NULL);
    r->m_samples =
        h->metric(r->self, "perf_samples_total", "Samples kept for profiles", PP_COUNTER, NULL);
    r->m_no_stack = h->metric(r->self, "perf_samples_without_stack_total",
                              "Samples with no frame to show (kernel threads)", PP_COUNTER, NULL);
    r->m_unresolved =
        h->metric(r->self, "perf_unresolved_frames_total",
                  "Distinct frames named by mapping+offset, no symbol found", PP_COUNTER, NULL);
    r->m_processes = h->metric(r->self, "perf_processes", "Processes tracked", PP_GAUGE, NULL);
    r->m_cpu = h->metric(r->self, "perf_reader_cpu_seconds_total",
                         "CPU time of the receiver's reader thread (reading rings, tracking "
                         "processes, symbolizing, building profiles)",
                         PP_COUNTER, NULL);
}

static int perf_start(void *state)
{
    perf_receiver *r = state;
    make_metrics(r);
    r->resolver.host = r->host;
    r->resolver.cache = perf_symcache_new(PERF_DEBUG_ROOT);
    r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!r->resolver.cache || r->wake_fd < 0 || perf_procs_init(&r->procs) < 0) {
        r->host->log(r->self, PP_LOG_ERROR, "out of memory or descriptors");
        goto fail;
    }
    if (check_pids(r) < 0 || open_cgroup(r) < 0 || open_rings(r) < 0)
        goto fail;
    for (size_t i = 0; i < r->n_rings; i++)
        if (perf_ring_enable(&r->rings[i]) < 0) {
            r->host->log(r->self, PP_LOG_ERROR, "enabling the perf event on CPU %d: %s",
                         r->rings[i].cpu, strerror(errno));
            goto fail;
        }
    r->window_start = r->host->now_ns();
    if (pthread_create(&r->thread, NULL, reader_main, r) != 0) {
        r->host->log(r->self, PP_LOG_ERROR, "cannot start the perf reader thread");
        goto fail;
    }
    r->thread_started = 1;
    r->host->log(r->self, PP_LOG_INFO, "sampling %zu CPUs at %d Hz, profiles every %lld ms",
                 r->n_rings, r->frequency, (long long)(r->interval_ns / NS_PER_MS));
    return 0;
fail:
    close_all(r);
    return -1;
}

static void perf_stop(void *state, int64_t deadline_ns)
{
    perf_receiver *r = state;
    uint64_t one = 1;
    (void)deadline_ns;
    if (!r->thread_started)
        return;
    __atomic_store_n(&r->stopping, 1, __ATOMIC_RELEASE);
    if (write(r->wake_fd, &one, sizeof one) < 0)
        r->host->log(r->self, PP_LOG_DEBUG, "waking the perf reader: %s", strerror(errno));
    pthread_join(r->thread, NULL);
    r->thread_started = 0;
    close_all(r);
}

const pp_component pp_receiver_perf = {
    .type = "perf",
    .kind = PP_RECEIVER,
    .description = "samples this machine's CPUs with perf_event_open and emits a pprof CPU "
                   "profile per process",
    .options = perf_options,
    .create = perf_create,
    .start = perf_start,
    .stop = perf_stop,
    .destroy = perf_destroy,
};
