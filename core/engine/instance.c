/* instance: see instance.h. */
#include "instance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "exporter.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "pprof_tree.h"
#include "profile.h"
#include "registry.h"

#define UNKNOWN_SERVICE "unknown_service"

static pp_metric *std_metric(pp_instance *inst, const char *what, const char *help,
                             pp_metric_type type)
{
    char name[128];
    snprintf(name, sizeof name, "profpipe_%s_%s", kind_name(inst->kind), what);
    return metrics_get(name, help, type, inst->metric_labels);
}

static void register_metrics(pp_instance *inst)
{
    switch (inst->kind) {
    case PP_RECEIVER:
        inst->m_in = std_metric(inst, "accepted_profiles_total",
                                "Profiles the receiver emitted into pipelines.", PP_COUNTER);
        inst->m_in_bytes = std_metric(inst, "accepted_bytes_total",
                                      "Payload bytes the receiver emitted.", PP_COUNTER);
        inst->m_dropped = std_metric(inst, "refused_profiles_total",
                                     "Profiles no pipeline took (shutting down).", PP_COUNTER);
        break;
    case PP_PROCESSOR:
        inst->m_in = std_metric(inst, "incoming_profiles_total",
                                "Profiles handed to the processor.", PP_COUNTER);
        inst->m_out = std_metric(inst, "outgoing_profiles_total",
                                 "Profiles the processor passed on.", PP_COUNTER);
        break;
    case PP_EXPORTER:
        inst->m_in = std_metric(inst, "enqueued_profiles_total",
                                "Profiles put on the exporter's sending queue.", PP_COUNTER);
        inst->m_out = std_metric(inst, "sent_profiles_total",
                                 "Profiles delivered and acknowledged.", PP_COUNTER);
        inst->m_out_bytes = std_metric(inst, "sent_bytes_total",
                                       "Payload bytes of the profiles delivered.", PP_COUNTER);
        inst->m_rejected = std_metric(inst, "rejected_profiles_total",
                                      "Profiles refused for good (never retried).", PP_COUNTER);
        inst->m_failed = std_metric(inst, "failed_profiles_total",
                                    "Profiles given up on after retries.", PP_COUNTER);
        inst->m_dropped = std_metric(inst, "dropped_profiles_total",
                                     "Profiles dropped from a full queue or at the shutdown "
                                     "deadline.",
                                     PP_COUNTER);
        inst->m_retries = std_metric(inst, "retries_total", "Export attempts retried.", PP_COUNTER);
        inst->m_queue_bytes =
            std_metric(inst, "queue_bytes", "Bytes waiting in the sending queue.", PP_GAUGE);
        break;
    }
}

pp_instance *instance_new(const pp_component *comp, const char *id, const pp_config *cfg,
                          const char *pipeline_name)
{
    pp_instance *inst = calloc(1, sizeof *inst);
    if (!inst)
        return NULL;
    inst->comp = comp;
    inst->kind = comp->kind;
    pthread_rwlock_init(&inst->wiring, NULL);
    inst->cfg = cfg;
    inst->id = strdup(id);
    size_t n = strlen(id) + 32 + (pipeline_name ? strlen(pipeline_name) : 0);
    inst->log_name = malloc(n);
    inst->metric_labels = malloc(n + 32);
    if (!inst->id || !inst->log_name || !inst->metric_labels) {
        instance_free(inst);
        return NULL;
    }
    snprintf(inst->log_name, n, "%s/%s", kind_name(inst->kind), id);
    if (pipeline_name)
        snprintf(inst->metric_labels, n + 32, "component_id=\"%s\",pipeline=\"%s\"", id,
                 pipeline_name);
    else
        snprintf(inst->metric_labels, n + 32, "component_id=\"%s\"", id);
    register_metrics(inst);
    return inst;
}

int instance_create(pp_instance *inst, config *c, const pp_host *host)
{
    size_t errors_before = c ? c->n_errors : 0;
    if (inst->comp->create(host, inst, inst->cfg, &inst->state) != 0) {
        if (c && c->n_errors == errors_before)
            config_add_error(c, inst->cfg, NULL, "%s failed to start up (see the log above)",
                             inst->log_name);
        return -1;
    }
    inst->created = 1;
    return 0;
}

void instance_free(pp_instance *inst)
{
    if (!inst)
        return;
    if (inst->created && inst->comp->destroy)
        inst->comp->destroy(inst->state);
    if (inst->exporter)
        exporter_rt_free(inst->exporter);
    free(inst->pipelines);
    pthread_rwlock_destroy(&inst->wiring);
    free(inst->id);
    free(inst->log_name);
    free(inst->metric_labels);
    free(inst);
}

/* Every profile leaving a receiver carries service_name and __name__. */
static void ensure_series_labels(pp_instance *inst, pp_batch *b)
{
    for (size_t i = 0; i < batch_count(b); i++) {
        pp_profile *p = batch_get(b, i);
        if (!profile_label_get(p, "service_name")) {
            log_msg(PP_LOG_DEBUG, inst->log_name, "profile without service_name: set to %s",
                    UNKNOWN_SERVICE);
            profile_label_set(p, "service_name", UNKNOWN_SERVICE);
        }
        if (!profile_label_get(p, "__name__")) {
            char err[256];
            const pp_pprof *t = profile_tree(p, err, sizeof err);
            const char *family = t ? pprof_family(t) : NULL;
            profile_label_set(p, "__name__", family ? family : "unknown");
        }
    }
}

int instance_emit(pp_instance *inst, pp_batch *b)
{
    if (!b)
        return -1;
    size_t n = batch_count(b);
    if (n == 0) {
        batch_unref(b);
        return 0;
    }
    ensure_series_labels(inst, b);
    /* A tree the receiver decoded (to check the payload, or to name it)
     * would wait in the queue uncounted: raw bytes give it back when a
     * processor asks. */
    batch_shed_trees(b);
    size_t bytes = batch_bytes(b);
    if (inst->sink) {
        metrics_add(inst->m_in, (double)n);
        metrics_add(inst->m_in_bytes, (double)bytes);
        return inst->sink(inst->sink_arg, b);
    }
    int refused = 0;
    pthread_rwlock_rdlock(&inst->wiring);
    size_t np = inst->n_pipelines;
    for (size_t i = 0; i < np; i++) {
        /* The last pipeline takes the caller's reference. A reference of
         * our own, held until this returns, raced the pipeline's thread:
         * seeing two, it copied the batch before a processor that edits
         * it (batch_make_exclusive), re-encoding every tree a receiver
         * had changed. Not touched after the push that takes it. */
        if (i + 1 < np)
            batch_ref(b);
        if (pipeline_push(inst->pipelines[i], b) != 0) {
            batch_mark_lost(b);
            batch_unref(b);
            refused = 1;
        }
    }
    pthread_rwlock_unlock(&inst->wiring);
    if (np == 0)
        batch_unref(b);
    if (refused) {
        metrics_add(inst->m_dropped, (double)n);
    } else {
        metrics_add(inst->m_in, (double)n);
        metrics_add(inst->m_in_bytes, (double)bytes);
    }
    return refused ? -1 : 0;
}

void instance_rewire(pp_instance *inst, struct pipeline **pipelines, size_t n)
{
    pthread_rwlock_wrlock(&inst->wiring);
    struct pipeline **old = inst->pipelines;
    inst->pipelines = pipelines;
    inst->n_pipelines = n;
    pthread_rwlock_unlock(&inst->wiring);
    free(old);
}

int instance_feeds(pp_instance *inst, const struct pipeline *p)
{
    int feeds = 0;
    pthread_rwlock_rdlock(&inst->wiring);
    for (size_t i = 0; i < inst->n_pipelines && !feeds; i++)
        feeds = inst->pipelines[i] == p;
    pthread_rwlock_unlock(&inst->wiring);
    return feeds;
}
