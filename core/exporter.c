/* exporter: one worker thread per exporter instance.
 *
 * The worker pops a batch, gathers more queued batches into one view up
 * to the `batch` limits, and calls export() until every profile in it is
 * exported, rejected or given up on. Waits between attempts use full
 * jitter (uniform between 0 and the current interval, which grows by
 * `multiplier` up to `max_interval`), but never less than a server's
 * Retry-After. A shutdown sets a deadline: waits end there, and what is
 * still queued after it is dropped and counted, so a dead backend cannot
 * hold the process past shutdown_timeout. */
#include "exporter.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "log.h"
#include "metrics.h"
#include "profile.h"
#include "queue.h"

static const pp_option retry_options[] = {
    {"enabled", PP_OPT_BOOL, "true", "Retry exports that failed for a retryable reason.", 0, NULL},
    {"initial_interval", PP_OPT_DURATION, "5s",
     "Upper bound of the first wait (each wait is uniformly random up to the current interval).",
     0, NULL},
    {"max_interval", PP_OPT_DURATION, "30s", "The interval stops growing here.", 0, NULL},
    {"max_elapsed_time", PP_OPT_DURATION, "300s",
     "Give up on a profile after retrying this long (counted as failed); 0s retries forever.", 0,
     NULL},
    {"multiplier", PP_OPT_DOUBLE, "1.5", "Growth of the interval after each attempt.", 0, NULL},
    {0},
};

static const pp_option sending_queue_options[] = {
    {"queue_size", PP_OPT_SIZE, "64MiB", "Bytes of profiles the queue holds.", 0, NULL},
    {"full_policy", PP_OPT_STRING, "block",
     "When full: `block` the pipeline, or `drop_oldest` (counted).", 0, NULL},
    {0},
};

static const pp_option batch_options[] = {
    {"max_profiles", PP_OPT_INT, "64", "Most profiles handed to one export call.", 0, NULL},
    {"max_bytes", PP_OPT_SIZE, "4MiB", "Stop gathering once this many payload bytes are in.", 0,
     NULL},
    {"max_delay", PP_OPT_DURATION, "0s",
     "How long to wait for more profiles before exporting (0s: send what is queued now).", 0,
     NULL},
    {0},
};

const pp_option exporter_common_options[] = {
    {"retry_on_failure", PP_OPT_SECTION, NULL, "Retry with backoff and full jitter.", 0,
     retry_options},
    {"sending_queue", PP_OPT_SECTION, NULL, "The exporter's bounded queue.", 0,
     sending_queue_options},
    {"batch", PP_OPT_SECTION, NULL, "How queued profiles are gathered into one export call.", 0,
     batch_options},
    {0},
};

struct exporter_rt {
    pp_instance *inst;
    queue *q;
    int retry_enabled;
    int64_t initial_ns, max_interval_ns, max_elapsed_ns;
    double multiplier;
    int64_t max_profiles, max_bytes, max_delay_ns;
    unsigned seed;

    pthread_t thread;
    int running;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int64_t deadline_ns; /* 0: none yet */
};

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void on_queue_drop(void *arg, pp_batch *b)
{
    exporter_rt *e = arg;
    metrics_add(e->inst->m_dropped, (double)batch_count(b));
    log_msg(PP_LOG_WARN, e->inst->log_name, "sending queue full: dropped the oldest %zu profiles",
            batch_count(b));
    batch_mark_lost(b);
    batch_unref(b);
}

exporter_rt *exporter_rt_new(pp_instance *inst)
{
    exporter_rt *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->inst = inst;
    const pp_config *c = inst->cfg;
    const pp_config *retry = cfg_child(c, "retry_on_failure");
    const pp_config *sq = cfg_child(c, "sending_queue");
    const pp_config *bt = cfg_child(c, "batch");
    /* An absent section still has its defaults: read them from the table. */
    e->retry_enabled = retry ? cfg_bool(retry, "enabled") : 1;
    e->initial_ns = retry ? cfg_duration_ns(retry, "initial_interval") : 5000000000LL;
    e->max_interval_ns = retry ? cfg_duration_ns(retry, "max_interval") : 30000000000LL;
    e->max_elapsed_ns = retry ? cfg_duration_ns(retry, "max_elapsed_time") : 300000000000LL;
    e->multiplier = retry ? cfg_double(retry, "multiplier") : 1.5;
    int64_t queue_size = sq ? cfg_size(sq, "queue_size") : (64LL << 20);
    const char *policy = sq ? cfg_string(sq, "full_policy") : "block";
    e->max_profiles = bt ? cfg_int(bt, "max_profiles") : 64;
    e->max_bytes = bt ? cfg_size(bt, "max_bytes") : (4LL << 20);
    e->max_delay_ns = bt ? cfg_duration_ns(bt, "max_delay") : 0;
    if (e->max_profiles < 1)
        e->max_profiles = 1;
    if (e->multiplier < 1.0)
        e->multiplier = 1.0;
    e->seed = (unsigned)mono_now() ^ (unsigned)(uintptr_t)e;
    queue_policy qp = (policy && strcmp(policy, "drop_oldest") == 0) ? QUEUE_DROP_OLDEST
                                                                      : QUEUE_BLOCK;
    e->q = queue_new((size_t)queue_size, qp, on_queue_drop, e);
    pthread_mutex_init(&e->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&e->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (!e->q) {
        exporter_rt_free(e);
        return NULL;
    }
    return e;
}

int64_t exporter_backoff_ns(int64_t initial_ns, int64_t max_ns, double multiplier,
                            unsigned attempt, unsigned *seed)
{
    double interval = (double)initial_ns;
    for (unsigned i = 0; i < attempt && interval < (double)max_ns; i++)
        interval *= multiplier;
    if (interval > (double)max_ns)
        interval = (double)max_ns;
    double r = (double)rand_r(seed) / ((double)RAND_MAX + 1.0);
    return (int64_t)(interval * r);
}

static int64_t deadline_of(exporter_rt *e)
{
    pthread_mutex_lock(&e->lock);
    int64_t d = e->deadline_ns;
    pthread_mutex_unlock(&e->lock);
    return d;
}

static int past_deadline(exporter_rt *e)
{
    int64_t d = deadline_of(e);
    return d && mono_now() >= d;
}

/* Sleeps delay_ns or until the shutdown deadline; 0 if the full delay
 * passed, -1 if the deadline came first. */
static int sleep_until_retry(exporter_rt *e, int64_t delay_ns)
{
    int64_t until = mono_now() + delay_ns;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        int64_t stop = until;
        if (e->deadline_ns && e->deadline_ns < stop)
            stop = e->deadline_ns;
        if (mono_now() >= stop)
            break;
        struct timespec ts = {.tv_sec = stop / 1000000000LL, .tv_nsec = stop % 1000000000LL};
        int rc = pthread_cond_timedwait(&e->wake, &e->lock, &ts);
        if (rc != 0 && rc != ETIMEDOUT)
            break;
    }
    int cut = e->deadline_ns && mono_now() >= e->deadline_ns && mono_now() < until;
    pthread_mutex_unlock(&e->lock);
    return cut ? -1 : 0;
}

static size_t count_pending(const pp_outcome *outcome, size_t n)
{
    size_t pending = 0;
    for (size_t i = 0; i < n; i++)
        pending += outcome[i] == PP_PENDING;
    return pending;
}

static void settle_pending(pp_outcome *outcome, size_t n, pp_outcome to)
{
    for (size_t i = 0; i < n; i++)
        if (outcome[i] == PP_PENDING)
            outcome[i] = to;
}

/* Tries until nothing is PENDING or the retry budget is spent. Returns
 * how many profiles were given up on (still PENDING). */
static size_t export_with_retry(exporter_rt *e, pp_batch *b, pp_outcome *outcome)
{
    pp_instance *inst = e->inst;
    size_t n = batch_count(b);
    int64_t started = mono_now();
    for (unsigned attempt = 0;; attempt++) {
        pp_export_result res;
        memset(&res, 0, sizeof res);
        pp_status st = inst->comp->export(inst->state, b, outcome, &res);
        if (st == PP_OK) {
            settle_pending(outcome, n, PP_EXPORTED);
            return 0;
        }
        size_t pending = count_pending(outcome, n);
        if (pending == 0)
            return 0;
        if (st == PP_PERMANENT) {
            log_msg(PP_LOG_WARN, inst->log_name, "export rejected, not retried (%zu profiles): %s",
                    pending, res.message);
            settle_pending(outcome, n, PP_REJECTED);
            return 0;
        }
        int64_t delay = exporter_backoff_ns(e->initial_ns, e->max_interval_ns, e->multiplier,
                                            attempt, &e->seed);
        if (res.retry_after_ns > delay)
            delay = res.retry_after_ns;
        int64_t elapsed = mono_now() - started + delay;
        if (!e->retry_enabled || (e->max_elapsed_ns > 0 && elapsed > e->max_elapsed_ns)) {
            log_msg(PP_LOG_ERROR, inst->log_name,
                    "export failed, giving up on %zu profiles after %u attempts: %s", pending,
                    attempt + 1, res.message);
            return pending;
        }
        log_msg(PP_LOG_WARN, inst->log_name,
                "export failed (%zu profiles), retry %u in %lldms: %s", pending, attempt + 1,
                (long long)(delay / 1000000), res.message);
        metrics_add(inst->m_retries, 1);
        if (sleep_until_retry(e, delay) != 0) {
            log_msg(PP_LOG_ERROR, inst->log_name,
                    "shutdown deadline reached while retrying: %zu profiles not delivered: %s",
                    pending, res.message);
            return pending;
        }
    }
}

static void account(exporter_rt *e, pp_batch *b, const pp_outcome *outcome)
{
    double sent = 0, sent_bytes = 0, rejected = 0, failed = 0;
    for (size_t i = 0; i < batch_count(b); i++) {
        switch (outcome[i]) {
        case PP_EXPORTED:
            sent++;
            sent_bytes += (double)profile_size(batch_get(b, i));
            break;
        case PP_REJECTED:
            rejected++;
            break;
        default:
            failed++;
        }
    }
    metrics_add(e->inst->m_out, sent);
    metrics_add(e->inst->m_out_bytes, sent_bytes);
    metrics_add(e->inst->m_rejected, rejected);
    metrics_add(e->inst->m_failed, failed);
}

/* Gathers `first` and what else is queued, within the batch limits, into
 * parts[] (room for max_profiles); returns how many parts. */
static size_t gather(exporter_rt *e, pp_batch *first, pp_batch **parts)
{
    size_t cap = (size_t)e->max_profiles, n = 1;
    size_t profiles = batch_count(first), bytes = batch_bytes(first);
    parts[0] = first;
    int64_t until = mono_now() + e->max_delay_ns;
    while (n < cap && profiles < cap && bytes < (size_t)e->max_bytes) {
        int64_t wait = until - mono_now();
        pp_batch *next = queue_pop(e->q, wait > 0 ? wait : 0);
        if (!next)
            break;
        parts[n++] = next;
        profiles += batch_count(next);
        bytes += batch_bytes(next);
    }
    return n;
}

/* Exports b (borrowed) to the end and counts the outcome. */
static void export_one(exporter_rt *e, pp_batch *b)
{
    pp_instance *inst = e->inst;
    size_t n = batch_count(b);
    pp_outcome *outcome = calloc(n ? n : 1, sizeof *outcome);
    if (!outcome) {
        log_msg(PP_LOG_ERROR, inst->log_name, "out of memory: dropped %zu profiles", n);
        metrics_add(inst->m_dropped, (double)n);
        batch_mark_lost(b);
        return;
    }
    export_with_retry(e, b, outcome);
    account(e, b, outcome);
    free(outcome);
}

static void *exporter_main(void *arg)
{
    exporter_rt *e = arg;
    pp_instance *inst = e->inst;
    pp_batch **parts = malloc((size_t)e->max_profiles * sizeof *parts);
    for (;;) {
        pp_batch *first = queue_pop(e->q, -1);
        if (!first)
            break;
        if (past_deadline(e)) {
            metrics_add(inst->m_dropped, (double)batch_count(first));
            log_msg(PP_LOG_ERROR, inst->log_name,
                    "shutdown deadline passed: dropped %zu queued profiles", batch_count(first));
            batch_mark_lost(first);
            batch_unref(first);
            continue;
        }
        size_t n = parts ? gather(e, first, parts) : 1;
        metrics_set(inst->m_queue_bytes, (double)queue_bytes(e->q));
        pp_batch *view = n > 1 ? batch_view(parts, n) : NULL;
        if (view) {
            export_one(e, view);
            batch_unref(view);
        } else { /* one part, or no memory for a view: one call each */
            for (size_t i = 0; i < n; i++)
                export_one(e, n > 1 ? parts[i] : first);
        }
        for (size_t i = 0; i < n; i++)
            batch_unref(n > 1 ? parts[i] : first);
    }
    free(parts);
    return NULL;
}

int exporter_rt_start(exporter_rt *e)
{
    if (pthread_create(&e->thread, NULL, exporter_main, e) != 0)
        return -1;
    e->running = 1;
    return 0;
}

int exporter_enqueue(exporter_rt *e, pp_batch *b)
{
    size_t n = batch_count(b);
    if (queue_push(e->q, b) != 0) {
        metrics_add(e->inst->m_dropped, (double)n);
        batch_mark_lost(b);
        batch_unref(b);
        return -1;
    }
    metrics_add(e->inst->m_in, (double)n);
    metrics_set(e->inst->m_queue_bytes, (double)queue_bytes(e->q));
    return 0;
}

void exporter_rt_set_deadline(exporter_rt *e, int64_t deadline_ns)
{
    pthread_mutex_lock(&e->lock);
    e->deadline_ns = deadline_ns;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
}

void exporter_rt_finish(exporter_rt *e)
{
    queue_close(e->q);
    if (e->running) {
        pthread_join(e->thread, NULL);
        e->running = 0;
    }
    metrics_set(e->inst->m_queue_bytes, 0);
}

void exporter_rt_free(exporter_rt *e)
{
    if (!e)
        return;
    if (e->running)
        exporter_rt_finish(e);
    if (e->q)
        queue_free(e->q);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->wake);
    free(e);
}
