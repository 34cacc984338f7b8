/* memlimit: see memlimit.h.
 *
 * Why RSS: it is what the kernel's OOM killer and a cgroup's limit count,
 * and it sees everything (queued payloads, decode arenas, request bodies,
 * libcurl and librdkafka buffers, glibc's free-but-kept pages), where the
 * accounted bytes (queues plus the page, published beside it) see only
 * what profpipe knows it holds. Reading /proc/self/statm is one small
 * read, a few microseconds, so callers may refresh it on demand.
 *
 * One mutex guards a check; callers that find a check under way read the
 * last state instead of waiting. */
#include "memlimit.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "observe.h"

/* Without a limit the monitor still publishes RSS and trims this often. */
#define MEMLIMIT_IDLE_INTERVAL_NS 1000000000LL
/* A drain worth trimming after: the queues held at least this much. */
#define MEMLIMIT_TRIM_AFTER_BYTES ((size_t)4 << 20)
/* The second trim after a drain comes this much later. */
#define MEMLIMIT_RETRIM_NS 2000000000LL
/* The queues count as drained below this. */
#define MEMLIMIT_DRAINED_BYTES ((size_t)64 << 10)
/* Blocks up to this size come from the heap, not from mmap (32 MiB:
 * glibc's own ceiling for its dynamic threshold on 64-bit)... */
#define MEMLIMIT_MMAP_THRESHOLD (32 << 20)
/* ...and the heap's free top goes back only past this, or by a trim. */
#define MEMLIMIT_TRIM_THRESHOLD (64 << 20)
/* Drained and idle, at most this much more than right after the last
 * trim is kept free in the heap before another trim gives it back (what
 * exporters freed after the last one). */
#define MEMLIMIT_IDLE_FREE_BYTES ((size_t)8 << 20)
/* malloc's heaps (arenas) for every thread together. */
#define MEMLIMIT_ARENAS 1
/* With a memory limit: glibc's default trim threshold. */
#define MEMLIMIT_TRIM_LIMITED (128 << 10)

static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cfg_changed = PTHREAD_COND_INITIALIZER;
static uint64_t limit_soft, limit_hard;
static int64_t check_interval_ns = MEMLIMIT_IDLE_INTERVAL_NS;
static atomic_int current_state;
static atomic_llong last_check_ns;
static uint64_t (*rss_probe)(void);
static size_t peak_queued;     /* queue bytes since the last trim */
static size_t last_pushed;     /* queue_pushed_bytes() at the last check */
static int flowed;             /* profiles were pushed since the last trim */
static size_t free_after_trim; /* malloc's free bytes (mallinfo2) after it */
static int64_t retrim_at;      /* monotonic ns of the second trim after a drain; 0 = none */
static pthread_t monitor;
static int monitor_running, monitor_stopping;

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

uint64_t memlimit_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    return n == 2 ? resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

void memlimit_set_probe(uint64_t (*rss)(void))
{
    pthread_mutex_lock(&check_lock);
    rss_probe = rss;
    pthread_mutex_unlock(&check_lock);
}

static pp_metric *gauge(const char *name, const char *help)
{
    return metrics_get(name, help, PP_GAUGE, NULL);
}

static void publish(uint64_t rss, size_t accounted, memlimit_state st)
{
    metrics_set(gauge("profpipe_memory_rss_bytes",
                      "Resident set size of the process (what service.memory_limit compares)."),
                (double)rss);
    metrics_set(gauge("profpipe_memory_accounted_bytes",
                      "Bytes the queues and the built-in page hold, as counted by profpipe."),
                (double)accounted);
    metrics_set(gauge("profpipe_memory_soft_limit_bytes",
                      "service.memory_limit soft limit in bytes (0: no limit)."),
                (double)limit_soft);
    metrics_set(gauge("profpipe_memory_hard_limit_bytes",
                      "service.memory_limit hard limit in bytes (0: no limit)."),
                (double)limit_hard);
    metrics_set(gauge("profpipe_memory_pressure",
                      "0 below the soft limit, 1 past it (receivers hold back), 2 past the hard "
                      "limit (drop_oldest queues drop)."),
                st);
}

/* glibc's malloc settings the operator gave in the environment. */
static int heap_set_by_environment(void)
{
    static const char *const vars[] = {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
                                       "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_", "MALLOC_ARENA_MAX"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    const char *tunables = getenv("GLIBC_TUNABLES");
    return tunables && strstr(tunables, "glibc.malloc.");
}

void memlimit_heap_start(void)
{
    if (heap_set_by_environment())
        return;
    /* One heap for every thread: malloc_trim returns the free top of the
     * main heap only, and a thread heap's top goes back only when a free()
     * in it finds the top past the trim threshold (64 MiB here, and as
     * high under glibc's own dynamic threshold). With a heap per thread
     * (glibc's default: 8 per core), a burst drained left 8 to 15 MiB
     * free at the top of each receiver thread's heap: RSS 40 MiB above
     * idle, in use 1.4 MiB (malloc_stats). Threads keep their own small
     * blocks in glibc's per-thread cache, so the one lock is taken for
     * larger blocks only. glibc fixes the number of heaps at the first
     * thread's first malloc, so this comes before any thread starts. */
    mallopt(M_ARENA_MAX, MEMLIMIT_ARENAS);
}

void memlimit_heap_settings(uint64_t hard)
{
    static int applied;
    if (heap_set_by_environment())
        return;
    if (hard) {
        /* the limit watches RSS: free pages go back as they are freed
         * (glibc's default trim threshold) if the settings came first */
        if (applied)
            mallopt(M_TRIM_THRESHOLD, MEMLIMIT_TRIM_LIMITED);
        return;
    }
    mallopt(M_MMAP_THRESHOLD, MEMLIMIT_MMAP_THRESHOLD);
    mallopt(M_TRIM_THRESHOLD, MEMLIMIT_TRIM_THRESHOLD);
    applied = 1;
}

static void trim(const char *why)
{
    flowed = 0;
    malloc_trim(0);
    free_after_trim = mallinfo2().fordblks;
    metrics_add(metrics_get("profpipe_memory_trims_total",
                            "Times freed heap pages were returned to the system (malloc_trim).",
                            PP_COUNTER, NULL),
                1);
    log_msg(PP_LOG_DEBUG, "memory_limit", "returned free heap pages to the system: %s", why);
}

static uint64_t measure(void)
{
    return rss_probe ? rss_probe() : memlimit_rss();
}

/* Past the soft limit: the page's windows go first, then freed pages go
 * back to the system (as the Collector's limiter forces a GC); past the
 * hard limit the drop_oldest queues drop. */
static uint64_t relieve(uint64_t rss, uint64_t soft, uint64_t hard)
{
    /* the page's windows may share their payloads with queued profiles,
     * so what it lets go may free less than it counted: again, until RSS
     * is under the soft limit or the page is empty */
    while (rss > soft && observe_shed((size_t)(rss - soft)) > 0) {
        trim("the built-in page let windows go");
        rss = measure();
    }
    /* pages freed since the last trim may be all the excess: without this
     * a small drain (no trim after it) would leave RSS, and the refusals,
     * above the soft limit for good */
    if (rss > soft) {
        trim("past the soft limit");
        rss = measure();
    }
    if (rss > hard) {
        size_t profiles = 0;
        if (queue_shed_oldest((size_t)(rss - soft), &profiles) > 0) {
            metrics_add(metrics_get("profpipe_memory_dropped_profiles_total",
                                    "Profiles drop_oldest queues dropped past the hard memory "
                                    "limit.",
                                    PP_COUNTER, NULL),
                        (double)profiles);
            log_msg(PP_LOG_WARN, "memory_limit",
                    "past the hard limit (%" PRIu64 " > %" PRIu64
                    " bytes): drop_oldest queues dropped %zu profiles",
                    rss, hard, profiles);
            trim("queues dropped past the hard limit");
            rss = measure();
        }
    }
    return rss;
}

/* glibc keeps freed pages in its heaps: after a burst has drained, give
 * them back so that RSS returns near idle. Once when the queues are
 * found empty, and once more MEMLIMIT_RETRIM_NS later, for what the
 * exporters still held in flight at the first. A stream that never
 * filled the queues gets its trim when it stops: nothing pushed since
 * the previous check. */
static void trim_after_drain(size_t queued)
{
    int64_t now = mono_now();
    size_t pushed = queue_pushed_bytes();
    int moving = pushed != last_pushed;
    last_pushed = pushed;
    if (moving)
        flowed = 1;
    if (queued > peak_queued)
        peak_queued = queued;
    if (queued > MEMLIMIT_DRAINED_BYTES) {
        retrim_at = 0;
        return;
    }
    if (peak_queued >= MEMLIMIT_TRIM_AFTER_BYTES) {
        trim("the queues drained");
        peak_queued = 0;
        retrim_at = now + MEMLIMIT_RETRIM_NS;
    } else if (retrim_at && now >= retrim_at) {
        trim("the queues stayed drained");
        retrim_at = 0;
    } else if (flowed && !moving) {
        trim("profiles stopped flowing");
    } else if (!moving && retrim_at == 0 &&
               mallinfo2().fordblks > free_after_trim + MEMLIMIT_IDLE_FREE_BYTES) {
        trim("memory was freed since the last trim");
    }
}

static memlimit_state check_locked(void)
{
    pthread_mutex_lock(&cfg_lock);
    uint64_t soft = limit_soft, hard = limit_hard;
    pthread_mutex_unlock(&cfg_lock);
    size_t queued = queue_total_bytes();
    trim_after_drain(queued);
    uint64_t rss = measure();
    if (hard)
        rss = relieve(rss, soft, hard);
    memlimit_state st = !hard        ? MEMLIMIT_OK
                        : rss > hard ? MEMLIMIT_HARD
                        : rss > soft ? MEMLIMIT_SOFT
                                     : MEMLIMIT_OK;
    memlimit_state was = (memlimit_state)atomic_exchange(&current_state, (int)st);
    if (st != was)
        log_msg(st == MEMLIMIT_OK ? PP_LOG_INFO : PP_LOG_WARN, "memory_limit",
                "memory pressure %s: rss=%" PRIu64 " soft=%" PRIu64 " hard=%" PRIu64,
                st == MEMLIMIT_OK     ? "ended"
                : st == MEMLIMIT_SOFT ? "past the soft limit"
                                      : "past the hard limit",
                rss, soft, hard);
    publish(rss, queued + observe_kept_bytes(), st);
    atomic_store(&last_check_ns, mono_now());
    return st;
}

memlimit_state memlimit_check(void)
{
    pthread_mutex_lock(&check_lock);
    memlimit_state st = check_locked();
    pthread_mutex_unlock(&check_lock);
    return st;
}

memlimit_state memlimit_pressure(void)
{
    pthread_mutex_lock(&cfg_lock);
    int64_t interval = limit_hard ? check_interval_ns : 0;
    pthread_mutex_unlock(&cfg_lock);
    if (!interval)
        return MEMLIMIT_OK;
    if (mono_now() - atomic_load(&last_check_ns) >= interval &&
        pthread_mutex_trylock(&check_lock) == 0) {
        check_locked();
        pthread_mutex_unlock(&check_lock);
    }
    return (memlimit_state)atomic_load(&current_state);
}

memlimit_state memlimit_refuse(const char *component_id)
{
    memlimit_state st = memlimit_pressure();
    if (st == MEMLIMIT_OK)
        return st;
    char labels[256];
    snprintf(labels, sizeof labels, "component_id=\"%s\"", component_id);
    metrics_add(metrics_get("profpipe_memory_refusals_total",
                            "Times a receiver held back (refused, skipped, paused or waited) "
                            "because memory was past service.memory_limit's soft limit.",
                            PP_COUNTER, labels),
                1);
    return st;
}

void memlimit_configure(uint64_t soft, uint64_t hard, int64_t interval_ns)
{
    pthread_mutex_lock(&cfg_lock);
    limit_soft = soft;
    limit_hard = hard;
    check_interval_ns = hard && interval_ns > 0 ? interval_ns : MEMLIMIT_IDLE_INTERVAL_NS;
    pthread_cond_broadcast(&cfg_changed);
    pthread_mutex_unlock(&cfg_lock);
    memlimit_check();
}

static void *monitor_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&cfg_lock);
    while (!monitor_stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t ns = until.tv_nsec + check_interval_ns % 1000000000LL;
        until.tv_sec += (time_t)(check_interval_ns / 1000000000LL + ns / 1000000000LL);
        until.tv_nsec = ns % 1000000000LL;
        pthread_cond_timedwait(&cfg_changed, &cfg_lock, &until);
        if (monitor_stopping)
            break;
        pthread_mutex_unlock(&cfg_lock);
        memlimit_check();
        pthread_mutex_lock(&cfg_lock);
    }
    pthread_mutex_unlock(&cfg_lock);
    return NULL;
}

int memlimit_start(void)
{
    if (monitor_running)
        return 0;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_destroy(&cfg_changed);
    pthread_cond_init(&cfg_changed, &attr);
    pthread_condattr_destroy(&attr);
    monitor_stopping = 0;
    if (pthread_create(&monitor, NULL, monitor_main, NULL) != 0)
        return -1;
    monitor_running = 1;
    return 0;
}

void memlimit_stop(void)
{
    if (!monitor_running)
        return;
    pthread_mutex_lock(&cfg_lock);
    monitor_stopping = 1;
    pthread_cond_broadcast(&cfg_changed);
    pthread_mutex_unlock(&cfg_lock);
    pthread_join(monitor, NULL);
    monitor_running = 0;
}
