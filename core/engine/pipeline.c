/* pipeline: the worker loop. Processors are called only from this
 * thread, so they keep state without locks. A processor flagged
 * PP_MUTATES is handed a batch no one else holds (copied if shared). */
#include "pipeline.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "exporter.h"
#include "log.h"
#include "metrics.h"
#include "observe.h"

/* How often windowed processors are ticked. */
#define PIPELINE_TICK_NS 1000000000LL

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* n profiles leave before the fan-out: by every exporter at once. */
static void settle_all(pipeline *p, ledger_outcome outcome, size_t n)
{
    for (size_t i = 0; i < p->n_exporters; i++)
        ledger_settle(p->edges[i], outcome, n);
}

static void on_queue_drop(void *arg, pp_batch *b, void *tag)
{
    (void)tag;
    pipeline *p = arg;
    metrics_add(p->m_dropped, (double)batch_count(b));
    settle_all(p, LEDGER_DROPPED, batch_count(b));
    log_msg(PP_LOG_WARN, p->name, "pipeline queue full: dropped the oldest %zu profiles",
            batch_count(b));
    batch_mark_lost(b);
    batch_unref(b);
}

pipeline *pipeline_new(const char *name, size_t queue_bytes, queue_policy policy)
{
    pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->name = strdup(name);
    p->q = queue_new(queue_bytes, policy, on_queue_drop, p);
    p->ledger = ledger_get(name);
    if (!p->name || !p->q || !p->ledger) {
        pipeline_free(p);
        return NULL;
    }
    char labels[256];
    snprintf(labels, sizeof labels, "pipeline=\"%s\"", name);
    p->m_queue_bytes = metrics_get("profpipe_pipeline_queue_bytes",
                                   "Bytes waiting in the pipeline's queue.", PP_GAUGE, labels);
    metrics_set(metrics_get("profpipe_pipeline_queue_capacity_bytes",
                            "Bytes the pipeline's queue holds at most (queue_size).", PP_GAUGE,
                            labels),
                (double)queue_bytes);
    p->m_dropped =
        metrics_get("profpipe_pipeline_dropped_profiles_total",
                    "Profiles dropped because the pipeline's queue was full.", PP_COUNTER, labels);
    return p;
}

int pipeline_add_exporter(pipeline *p, pp_instance *exporter)
{
    size_t n = p->n_exporters + 1;
    pp_instance **grown = realloc(p->exporters, n * sizeof *grown);
    if (!grown)
        return -1;
    p->exporters = grown;
    ledger_edge **edges = realloc(p->edges, n * sizeof *edges);
    if (!edges)
        return -1;
    p->edges = edges;
    if (!(p->edges[p->n_exporters] = ledger_edge_get(p->ledger, exporter->id)))
        return -1;
    p->exporters[p->n_exporters++] = exporter;
    return 0;
}

/* Hands b to every exporter of the pipeline. Takes ownership of b. */
static void deliver(pipeline *p, pp_batch *b)
{
    observe_batch(b); /* the built-in page keeps a reference to what passes */
    for (size_t i = 0; i < p->n_exporters; i++) {
        batch_ref(b);
        exporter_enqueue(p->exporters[i]->exporter, b, p->edges[i]);
    }
    batch_unref(b);
}

/* The ledger's view of one processor call: fewer profiles out than in
 * were filtered (merged, for a windowed processor, whose window holds
 * them until a tick makes one profile of many); more out were made. */
static void account_processor(pipeline *p, const pp_instance *proc, size_t in, size_t out)
{
    if (out < in)
        settle_all(p, proc->comp->tick ? LEDGER_MERGED : LEDGER_FILTERED, in - out);
    else
        ledger_in(p->ledger, LEDGER_FROM_PROCESSORS, out - in, p->n_exporters);
}

/* Runs b through processors [from, n) and delivers what comes out. */
static void run_chain(pipeline *p, pp_batch *b, size_t from)
{
    for (size_t i = from; i < p->n_processors && b; i++) {
        pp_instance *proc = p->processors[i];
        size_t in = batch_count(b);
        metrics_add(proc->m_in, (double)in);
        if (proc->comp->flags & PP_MUTATES) {
            b = batch_make_exclusive(b);
            if (!b) {
                log_msg(PP_LOG_ERROR, proc->log_name, "out of memory copying a batch: dropped");
                settle_all(p, LEDGER_DROPPED, in);
                return;
            }
        }
        b = proc->comp->process(proc->state, b);
        metrics_add(proc->m_out, (double)batch_count(b));
        account_processor(p, proc, in, batch_count(b));
    }
    if (!b)
        return;
    if (batch_count(b) == 0) {
        batch_unref(b);
        return;
    }
    deliver(p, b);
}

static void tick_all(pipeline *p, int final)
{
    int64_t now = wall_now();
    for (size_t i = 0; i < p->n_processors; i++) {
        pp_instance *proc = p->processors[i];
        if (!proc->comp->tick)
            continue;
        pp_batch *out = proc->comp->tick(proc->state, now, final);
        if (out) {
            metrics_add(proc->m_out, (double)batch_count(out));
            ledger_in(p->ledger, LEDGER_FROM_PROCESSORS, batch_count(out), p->n_exporters);
            run_chain(p, out, i + 1);
        }
    }
}

static void *pipeline_main(void *arg)
{
    pipeline *p = arg;
    int64_t next_tick = mono_now() + PIPELINE_TICK_NS;
    for (;;) {
        int64_t wait = next_tick - mono_now();
        pp_batch *b = queue_pop(p->q, wait > 0 ? wait : 0);
        metrics_set(p->m_queue_bytes, (double)queue_bytes(p->q));
        if (b)
            run_chain(p, b, 0);
        else if (queue_closed_and_empty(p->q))
            break;
        if (mono_now() >= next_tick) {
            tick_all(p, 0);
            next_tick = mono_now() + PIPELINE_TICK_NS;
        }
    }
    tick_all(p, 1);
    return NULL;
}

int pipeline_start(pipeline *p)
{
    if (pthread_create(&p->thread, NULL, pipeline_main, p) != 0)
        return -1;
    p->running = 1;
    return 0;
}

int pipeline_push(pipeline *p, pp_batch *b)
{
    /* counted in first: the worker may settle it before queue_push returns */
    size_t n = batch_count(b);
    ledger_in(p->ledger, LEDGER_FROM_RECEIVERS, n, p->n_exporters);
    int rc = queue_push(p->q, b);
    if (rc == 0)
        metrics_set(p->m_queue_bytes, (double)queue_bytes(p->q));
    else
        settle_all(p, LEDGER_DROPPED, n);
    return rc;
}

void pipeline_finish(pipeline *p)
{
    queue_close(p->q);
    if (p->running) {
        pthread_join(p->thread, NULL);
        p->running = 0;
    }
}

void pipeline_free(pipeline *p)
{
    if (!p)
        return;
    if (p->running)
        pipeline_finish(p);
    for (size_t i = 0; i < p->n_processors; i++)
        instance_free(p->processors[i]);
    free(p->processors);
    free(p->exporters);
    free(p->edges);
    if (p->q)
        queue_free(p->q);
    free(p->name);
    free(p);
}
