/* instance: one created component (a receiver or exporter per id; a
 * processor per id per pipeline), with its standard metrics. This is what
 * the opaque pp_instance handle of the plugin ABI points to. */
#ifndef PROFPIPE_INSTANCE_H
#define PROFPIPE_INSTANCE_H

#include <pthread.h>
#include <profpipe/plugin.h>

#include "config.h"
#include "queue.h"

struct pipeline;
struct exporter_rt;

struct pp_instance {
    char *id;            /* "file/in" */
    char *log_name;      /* "receiver/file/in" */
    char *metric_labels; /* `component_id="file/in"` (+ `,pipeline="..."`) */
    pp_kind kind;
    const pp_component *comp;
    const pp_config *cfg; /* borrowed from the config */
    config *origin;       /* that config (a reload that keeps the instance keeps it) */
    void *state;
    int created, started;

    struct pipeline **pipelines; /* receivers: the pipelines they feed */
    size_t n_pipelines;
    pthread_rwlock_t wiring; /* emit reads pipelines under it; a reload swaps them */
    /* receivers whose batches go somewhere other than pipelines (a test
     * harness): called instead of the fan-out, takes b in every case */
    int (*sink)(void *arg, pp_batch *b);
    void *sink_arg;
    struct exporter_rt *exporter; /* exporters: queue and worker */

    pp_metric *m_in; /* profiles accepted / incoming / queued */
    pp_metric *m_in_bytes;
    pp_metric *m_out; /* processors: outgoing; exporters: sent */
    pp_metric *m_out_bytes;
    pp_metric *m_dropped;
    pp_metric *m_rejected; /* exporters */
    pp_metric *m_failed;   /* exporters: given up after retries */
    pp_metric *m_retries;  /* exporters */
    pp_metric *m_queue_bytes;
};

/* Makes an instance for comp with the given id; pipeline_name is set for
 * processors. Standard metrics are registered. NULL on out of memory. */
pp_instance *instance_new(const pp_component *comp, const char *id, const pp_config *cfg,
                          const char *pipeline_name);
/* Calls create(); on failure makes sure an error is recorded in `c`. */
int instance_create(pp_instance *inst, config *c, const pp_host *host);
void instance_free(pp_instance *inst); /* destroy()s if created */

/* The host's emit: fans the batch out to the instance's pipelines. */
int instance_emit(pp_instance *inst, pp_batch *b);
/* Replaces the pipelines a running receiver feeds (takes ownership of
 * the array); waits for an emit in progress. */
void instance_rewire(pp_instance *inst, struct pipeline **pipelines, size_t n);
/* 1 if the receiver feeds p now (any thread: a reload may rewire it). */
int instance_feeds(pp_instance *inst, const struct pipeline *p);

#endif
