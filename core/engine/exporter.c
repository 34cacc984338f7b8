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
#include "spool.h"
#include "config_get.h"
#include "config_fill.h"

/* What the exporter_common_options table fills. */
typedef struct retry_settings {
    int enabled;
    int64_t initial_ns, max_interval_ns, max_elapsed_ns;
    double multiplier;
} retry_settings;

typedef struct sending_queue_settings {
    int64_t queue_size;
    int full_policy; /* a queue_policy: full_policy_names is in its order */
    const char *storage;
    int fsync;
} sending_queue_settings;

typedef struct batch_settings {
    int64_t max_profiles, max_bytes, max_delay_ns;
} batch_settings;

typedef struct exporter_settings {
    retry_settings retry;
    sending_queue_settings queue;
    batch_settings batch;
} exporter_settings;

static const pp_option retry_options[] = {
    {"enabled", PP_OPT_BOOL, "true", "Retry exports that failed for a retryable reason.", 0, NULL,
     PP_FIELD(retry_settings, enabled)},
    {"initial_interval", PP_OPT_DURATION, "5s",
     "Upper bound of the first wait (each wait is uniformly random up to the current interval).", 0,
     NULL, PP_FIELD(retry_settings, initial_ns)},
    {"max_interval", PP_OPT_DURATION, "30s", "The interval stops growing here.", 0, NULL,
     PP_FIELD(retry_settings, max_interval_ns)},
    {"max_elapsed_time", PP_OPT_DURATION, "300s",
     "Give up on a profile after retrying this long (counted as failed); 0s retries forever.", 0,
     NULL, PP_FIELD(retry_settings, max_elapsed_ns)},
    {"multiplier", PP_OPT_DOUBLE, "1.5", "Growth of the interval after each attempt.", 0, NULL,
     PP_FIELD(retry_settings, multiplier), .min = "1"},
    {0},
};

static const char *const full_policy_names[] = {"block", "drop_oldest", NULL};

static const pp_option sending_queue_options[] = {
    {"queue_size", PP_OPT_SIZE, "64MiB", "Bytes of profiles the queue holds.", 0, NULL,
     PP_FIELD(sending_queue_settings, queue_size)},
    {"full_policy", PP_OPT_STRING, "block",
     "When full: `block` the pipeline, or `drop_oldest` (counted).", 0, NULL,
     PP_FIELD(sending_queue_settings, full_policy), .enum_values = full_policy_names},
    {"storage", PP_OPT_STRING, NULL,
     "Directory of a persistent queue: each profile waits on disk until its export is "
     "finished, so what a stop or crash leaves undelivered is sent after the next start.",
     0, NULL, PP_FIELD(sending_queue_settings, storage)},
    {"fsync", PP_OPT_BOOL, "false",
     "fsync each spooled profile, and the spool directory after its rename, before it counts "
     "as queued.",
     0, NULL, PP_FIELD(sending_queue_settings, fsync)},
    {0},
};

/* Bounds the gather arrays an exporter allocates up front. */
#define MAX_PROFILES_LIMIT "1000000"

static const pp_option batch_options[] = {
    {"max_profiles", PP_OPT_INT, "64", "Most profiles handed to one export call.", 0, NULL,
     PP_FIELD(batch_settings, max_profiles), .min = "1", .max = MAX_PROFILES_LIMIT},
    {"max_bytes", PP_OPT_SIZE, "4MiB", "Stop gathering once this many payload bytes are in.", 0,
     NULL, PP_FIELD(batch_settings, max_bytes)},
    {"max_delay", PP_OPT_DURATION, "0s",
     "How long to wait for more profiles before exporting (0s: send what is queued now).", 0, NULL,
     PP_FIELD(batch_settings, max_delay_ns)},
    {0},
};

const pp_option exporter_common_options[] = {
    {"retry_on_failure", PP_OPT_SECTION, NULL, "Retry with backoff and full jitter.", 0,
     retry_options, PP_FIELD(exporter_settings, retry)},
    {"sending_queue", PP_OPT_SECTION, NULL, "The exporter's bounded queue.", 0,
     sending_queue_options, PP_FIELD(exporter_settings, queue)},
    {"batch", PP_OPT_SECTION, NULL, "How queued profiles are gathered into one export call.", 0,
     batch_options, PP_FIELD(exporter_settings, batch)},
    {0},
};

/* What comes with a queued batch: the ledger edge its profiles settle on,
 * and what it has on disk: one record per profile (0: none; n is 0
 * without a spool). */
typedef struct spool_tag {
    ledger_edge *edge;
    size_t n;
    uint64_t seqs[];
} spool_tag;

/* A queued batch and its spool records. */
typedef struct queued {
    pp_batch *batch;
    spool_tag *tag;
} queued;

struct exporter_rt {
    pp_instance *inst;
    queue *q;
    exporter_settings set; /* filled from exporter_common_options */
    unsigned seed;
    spool *spool;     /* sending_queue.storage, or NULL */
    ledger *replayed; /* what the spool brings back at start */
    ledger_edge *replay_edge;
    queued *parts;           /* room for max_profiles gathered batches */
    pp_batch **part_batches; /* the same batches, for batch_view */

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

static void forget_records(exporter_rt *e, spool_tag *tag)
{
    for (size_t i = 0; tag && i < tag->n; i++)
        if (tag->seqs[i])
            spool_remove(e->spool, tag->seqs[i]);
    free(tag);
}

static ledger_edge *edge_of(const spool_tag *tag)
{
    return tag ? tag->edge : NULL;
}

static void on_queue_drop(void *arg, pp_batch *b, void *tag)
{
    exporter_rt *e = arg;
    ledger_settle(edge_of(tag), LEDGER_DROPPED, batch_count(b));
    forget_records(e, tag);
    metrics_add(e->inst->m_dropped, (double)batch_count(b));
    log_msg(PP_LOG_WARN, e->inst->log_name, "sending queue full: dropped the oldest %zu profiles",
            batch_count(b));
    batch_mark_lost(b);
    batch_unref(b);
}

/* OpenTelemetry's sending_queue.queue_size counts requests (1000 by
 * default); here it bounds bytes. A bare number pasted from an OTel config
 * would make a queue of a few hundred bytes, so it must carry a unit.
 * The rule is about the text as written, which the table's parsed value
 * no longer shows: hence the node (absent, or null, when not written). */
static int refuse_unitless_queue_size(const pp_config *sq)
{
    const char *text = cfg_scalar(cfg_child(sq, "queue_size"));
    if (!text || !text[0])
        return 0;
    for (const char *p = text; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    cfg_error(sq, "queue_size",
              "%s has no unit: this queue is bounded in bytes (OpenTelemetry's queue_size "
              "counts requests); write a size such as 64MiB",
              text);
    return -1;
}

/* storage is a directory; OpenTelemetry names a storage extension there
 * (file_storage, file_storage/name), which must not silently become a
 * folder in the working directory. */
static int refuse_storage_not_a_path(const pp_config *sq, const char *dir)
{
    if (!dir || !dir[0] || dir[0] == '/' || strncmp(dir, "./", 2) == 0 ||
        strncmp(dir, "../", 3) == 0)
        return 0;
    cfg_error(sq, "storage",
              "\"%s\" is not a path: write the persistent queue's directory as an absolute "
              "path or one starting with ./ (OpenTelemetry's storage extensions are not "
              "supported)",
              dir);
    return -1;
}

exporter_rt *exporter_rt_new(pp_instance *inst)
{
    exporter_rt *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->inst = inst;
    const pp_config *sq = cfg_child(inst->cfg, "sending_queue");
    if (cfg_fill(inst->cfg, exporter_common_options, &e->set) < 0 ||
        refuse_unitless_queue_size(sq) < 0 ||
        refuse_storage_not_a_path(sq, e->set.queue.storage) < 0) {
        free(e);
        return NULL;
    }
    size_t max_profiles = (size_t)e->set.batch.max_profiles;
    e->parts = malloc(max_profiles * sizeof *e->parts);
    e->part_batches = malloc(max_profiles * sizeof *e->part_batches);
    e->seed = (unsigned)mono_now() ^ (unsigned)(uintptr_t)e;
    int64_t queue_size = e->set.queue.queue_size;
    e->q = queue_new((size_t)queue_size, (queue_policy)e->set.queue.full_policy, on_queue_drop, e);
    pthread_mutex_init(&e->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&e->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (!e->q || !e->parts || !e->part_batches) {
        exporter_rt_free(e);
        return NULL;
    }
    /* beside queue_bytes, so that an alert can say "near full" */
    metrics_set(metrics_get("profpipe_exporter_queue_capacity_bytes",
                            "Bytes the sending queue holds at most (queue_size).", PP_GAUGE,
                            inst->metric_labels),
                (double)queue_size);
    return e;
}

int64_t exporter_backoff_ns(int64_t initial_ns, int64_t max_ns, double multiplier, unsigned attempt,
                            unsigned *seed)
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

/* Tries until nothing is PENDING or the retry budget is spent. Profiles
 * given up on stay PENDING; *cut says the shutdown deadline ended it. */
static void export_with_retry(exporter_rt *e, pp_batch *b, pp_outcome *outcome, int *cut)
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
            return;
        }
        size_t pending = count_pending(outcome, n);
        if (pending == 0)
            return;
        if (st == PP_PERMANENT) {
            log_msg(PP_LOG_WARN, inst->log_name, "export rejected, not retried (%zu profiles): %s",
                    pending, res.message);
            settle_pending(outcome, n, PP_REJECTED);
            return;
        }
        int64_t delay = exporter_backoff_ns(e->set.retry.initial_ns, e->set.retry.max_interval_ns,
                                            e->set.retry.multiplier, attempt, &e->seed);
        if (res.retry_after_ns > delay)
            delay = res.retry_after_ns;
        int64_t elapsed = mono_now() - started + delay;
        if (!e->set.retry.enabled ||
            (e->set.retry.max_elapsed_ns > 0 && elapsed > e->set.retry.max_elapsed_ns)) {
            log_msg(PP_LOG_ERROR, inst->log_name,
                    "export failed, giving up on %zu profiles after %u attempts: %s", pending,
                    attempt + 1, res.message);
            return;
        }
        log_msg(PP_LOG_WARN, inst->log_name, "export failed (%zu profiles), retry %u in %lldms: %s",
                pending, attempt + 1, (long long)(delay / 1000000), res.message);
        metrics_add(inst->m_retries, 1);
        if (sleep_until_retry(e, delay) != 0) {
            log_msg(PP_LOG_ERROR, inst->log_name,
                    "shutdown deadline reached while retrying: %zu profiles not delivered%s: %s",
                    pending, e->spool ? " (kept in the spool for the next start)" : "",
                    res.message);
            *cut = 1;
            return;
        }
    }
}

/* Settles each part's profiles on its ledger edge; outcome[] runs over
 * the parts' profiles in order (as batch_view lays them out). Profiles a
 * spool keeps past the deadline stay in flight. */
static void account_ledger(exporter_rt *e, const queued *parts, size_t n_parts,
                           const pp_outcome *outcome, int cut)
{
    size_t k = 0;
    for (size_t i = 0; i < n_parts; i++) {
        size_t counts[LEDGER_N_OUTCOMES] = {0};
        for (size_t j = 0; j < batch_count(parts[i].batch); j++, k++) {
            if (outcome[k] == PP_EXPORTED)
                counts[LEDGER_EXPORTED]++;
            else if (outcome[k] == PP_REJECTED)
                counts[LEDGER_REJECTED]++;
            else if (!(cut && e->spool))
                counts[LEDGER_FAILED]++;
        }
        for (int o = 0; o < LEDGER_N_OUTCOMES; o++)
            ledger_settle(edge_of(parts[i].tag), (ledger_outcome)o, counts[o]);
    }
}

/* Counts the outcome. Profiles cut off by the deadline while a spool
 * keeps them are not counted as failed: they are sent after a restart. */
static void account(exporter_rt *e, pp_batch *b, const pp_outcome *outcome, int cut)
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
    if (!(cut && e->spool))
        metrics_add(e->inst->m_failed, failed);
}

/* Gathers `first` and what else is queued, within the batch limits, into
 * parts[] (room for max_profiles); returns how many parts. */
static size_t gather(exporter_rt *e, queued first, queued *parts)
{
    size_t cap = (size_t)e->set.batch.max_profiles, n = 1;
    size_t profiles = batch_count(first.batch), bytes = batch_bytes(first.batch);
    parts[0] = first;
    int64_t until = mono_now() + e->set.batch.max_delay_ns;
    while (n < cap && profiles < cap && bytes < (size_t)e->set.batch.max_bytes) {
        int64_t wait = until - mono_now();
        void *tag = NULL;
        pp_batch *next = queue_pop_tagged(e->q, wait > 0 ? wait : 0, &tag);
        if (!next)
            break;
        parts[n].batch = next;
        parts[n++].tag = tag;
        profiles += batch_count(next);
        bytes += batch_bytes(next);
    }
    return n;
}

/* Exports b (borrowed: the parts' profiles, in order) to the end and
 * counts the outcome; 1 if the shutdown deadline cut it off. */
static int export_one(exporter_rt *e, pp_batch *b, const queued *parts, size_t n_parts)
{
    pp_instance *inst = e->inst;
    size_t n = batch_count(b);
    pp_outcome *outcome = calloc(n ? n : 1, sizeof *outcome);
    if (!outcome) {
        log_msg(PP_LOG_ERROR, inst->log_name, "out of memory: dropped %zu profiles", n);
        metrics_add(inst->m_dropped, (double)n);
        for (size_t i = 0; i < n_parts; i++)
            ledger_settle(edge_of(parts[i].tag), LEDGER_DROPPED, batch_count(parts[i].batch));
        batch_mark_lost(b);
        return 0;
    }
    int cut = 0;
    export_with_retry(e, b, outcome, &cut);
    account(e, b, outcome, cut);
    account_ledger(e, parts, n_parts, outcome, cut);
    /* Given up on (retries spent, or cut off by the deadline with no
     * spool to keep them): their acks must say so, so that a source that
     * can deliver again (Kafka) does not commit them. */
    if (count_pending(outcome, n) > 0 && !(cut && e->spool))
        batch_mark_lost(b);
    free(outcome);
    return cut;
}

/* Past the deadline (or never started): what is still queued is dropped,
 * or left on disk. */
static void drop_queued(exporter_rt *e, queued item, const char *why)
{
    pp_instance *inst = e->inst;
    size_t n = batch_count(item.batch);
    if (e->spool && item.tag) {
        log_msg(PP_LOG_WARN, inst->log_name, "%s: %zu queued profiles stay in the spool", why, n);
        free(item.tag);
    } else {
        ledger_settle(edge_of(item.tag), LEDGER_DROPPED, n);
        free(item.tag);
        metrics_add(inst->m_dropped, (double)n);
        log_msg(PP_LOG_ERROR, inst->log_name, "%s: dropped %zu queued profiles", why, n);
        batch_mark_lost(item.batch);
    }
    batch_unref(item.batch);
}

static void drop_at_deadline(exporter_rt *e, queued item)
{
    drop_queued(e, item, "shutdown deadline passed");
}

/* Replays what an earlier run left in the spool, max_profiles at a time,
 * before anything new: the oldest profiles go first. */
typedef struct replay_state {
    exporter_rt *e;
    pp_batch *batch;
    spool_tag *tag;
} replay_state;

static void replay_flush(replay_state *r)
{
    if (!r->batch)
        return;
    queued part = {r->batch, r->tag};
    int cut = export_one(r->e, r->batch, &part, 1);
    if (cut)
        free(r->tag);
    else
        forget_records(r->e, r->tag);
    batch_unref(r->batch);
    r->batch = NULL;
    r->tag = NULL;
}

static void replay_one(void *arg, pp_profile *p, uint64_t seq)
{
    replay_state *r = arg;
    exporter_rt *e = r->e;
    if (past_deadline(e)) { /* stopping: it stays on disk */
        profile_free(p);
        return;
    }
    if (!r->batch) {
        r->batch = batch_new();
        r->tag =
            calloc(1, sizeof *r->tag + (size_t)e->set.batch.max_profiles * sizeof r->tag->seqs[0]);
        if (r->tag)
            r->tag->edge = e->replay_edge;
        if (!r->batch || !r->tag) {
            batch_unref(r->batch);
            free(r->tag);
            r->batch = NULL;
            r->tag = NULL;
            profile_free(p);
            return;
        }
    }
    batch_add(r->batch, p);
    r->tag->seqs[r->tag->n++] = seq;
    metrics_add(e->inst->m_in, 1);
    ledger_in(e->replayed, LEDGER_FROM_SPOOL, 1, 1);
    if (r->tag->n >= (size_t)e->set.batch.max_profiles)
        replay_flush(r);
}

static void replay_spool(exporter_rt *e)
{
    replay_state r = {.e = e};
    size_t n = spool_replay(e->spool, spool_first_new_seq(e->spool), replay_one, &r);
    replay_flush(&r);
    if (n)
        log_msg(PP_LOG_INFO, e->inst->log_name, "resent %zu profiles left in the spool", n);
}

static void *exporter_main(void *arg)
{
    exporter_rt *e = arg;
    if (e->spool)
        replay_spool(e);
    for (;;) {
        queued first = {0};
        first.batch = queue_pop_tagged(e->q, -1, (void **)&first.tag);
        if (!first.batch)
            break;
        if (past_deadline(e)) {
            drop_at_deadline(e, first);
            continue;
        }
        size_t n = gather(e, first, e->parts);
        metrics_set(e->inst->m_queue_bytes, (double)queue_bytes(e->q));
        for (size_t i = 0; i < n; i++)
            e->part_batches[i] = e->parts[i].batch;
        pp_batch *view = n > 1 ? batch_view(e->part_batches, n) : NULL;
        int cut = 0;
        if (view) {
            cut = export_one(e, view, e->parts, n);
            batch_unref(view);
        } else { /* one batch, or no memory for a view: one call each */
            for (size_t i = 0; i < n; i++)
                cut |= export_one(e, e->parts[i].batch, &e->parts[i], 1);
        }
        for (size_t i = 0; i < n; i++) {
            if (cut && e->spool)
                free(e->parts[i].tag);
            else
                forget_records(e, e->parts[i].tag);
            batch_unref(e->parts[i].batch);
        }
    }
    return NULL;
}

const char *exporter_rt_storage(const exporter_rt *e)
{
    const char *storage = e->set.queue.storage;
    return storage && storage[0] ? storage : NULL;
}

int exporter_rt_open_spool(exporter_rt *e)
{
    const char *storage = exporter_rt_storage(e);
    if (storage && !e->spool) {
        char err[512];
        e->spool = spool_open(storage, e->set.queue.fsync, err, sizeof err);
        if (!e->spool) {
            log_msg(PP_LOG_ERROR, e->inst->log_name, "sending_queue.storage: %s", err);
            return -1;
        }
        /* the spool does not say which pipeline a profile came from: what
         * it brings back is a pipeline of its own, "spool/<exporter>" */
        char name[256];
        snprintf(name, sizeof name, "spool/%s", e->inst->id);
        if (!e->replayed && (e->replayed = ledger_get(name)))
            e->replay_edge = ledger_edge_get(e->replayed, e->inst->id);
        if (!e->replay_edge)
            return -1;
    }
    return 0;
}

int exporter_rt_start(exporter_rt *e)
{
    if (exporter_rt_open_spool(e) != 0)
        return -1;
    if (pthread_create(&e->thread, NULL, exporter_main, e) != 0)
        return -1;
    e->running = 1;
    return 0;
}

/* The tag of b: its edge, and with a spool each profile written there. */
static spool_tag *tag_batch(exporter_rt *e, pp_batch *b, ledger_edge *edge)
{
    size_t n = e->spool ? batch_count(b) : 0;
    spool_tag *tag = calloc(1, sizeof *tag + n * sizeof tag->seqs[0]);
    if (!tag)
        return NULL;
    tag->edge = edge;
    tag->n = n;
    for (size_t i = 0; i < n; i++) {
        char err[512];
        if (spool_write(e->spool, batch_get(b, i), &tag->seqs[i], err, sizeof err) != 0) {
            tag->seqs[i] = 0;
            log_msg(PP_LOG_ERROR, e->inst->log_name,
                    "cannot spool a profile (it stays queued in memory only): %s", err);
        }
    }
    return tag;
}

int exporter_enqueue(exporter_rt *e, pp_batch *b, ledger_edge *edge)
{
    size_t n = batch_count(b);
    spool_tag *tag = tag_batch(e, b, edge);
    if (!tag) {
        log_msg(PP_LOG_ERROR, e->inst->log_name, "out of memory: dropped %zu profiles", n);
        ledger_settle(edge, LEDGER_DROPPED, n);
        metrics_add(e->inst->m_dropped, (double)n);
        batch_mark_lost(b);
        batch_unref(b);
        return -1;
    }
    if (queue_push_tagged(e->q, b, tag) != 0) {
        ledger_settle(edge, LEDGER_DROPPED, n);
        forget_records(e, tag);
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
    } else { /* never started (a reload that failed): nothing will send it */
        queued item;
        while ((item.batch = queue_pop_tagged(e->q, 0, (void **)&item.tag)))
            drop_queued(e, item, "the exporter never started");
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
    spool_close(e->spool);
    free(e->parts);
    free(e->part_batches);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->wake);
    free(e);
}

size_t exporter_rt_queue_bytes(exporter_rt *e)
{
    return e ? queue_bytes(e->q) : 0;
}

size_t exporter_rt_queue_limit(const exporter_rt *e)
{
    return e ? queue_max_bytes(e->q) : 0;
}
