/* pipeline: a bounded queue fed by receivers and a worker thread that
 * runs the pipeline's processor chain and hands the result to each of
 * its exporters' queues. */
#ifndef PROFPIPE_PIPELINE_H
#define PROFPIPE_PIPELINE_H

#include <pthread.h>
#include <profpipe/plugin.h>

#include "instance.h"
#include "ledger.h"
#include "queue.h"

typedef struct pipeline {
    char *name;
    queue *q;
    pp_instance **processors; /* owned: one instance per pipeline */
    size_t n_processors;
    pp_instance **exporters; /* borrowed: shared with other pipelines */
    ledger_edge **edges;     /* edges[i]: the ledger's edge to exporters[i] */
    size_t n_exporters;
    ledger *ledger; /* shared by every pipeline of this name, process-long */
    pthread_t thread;
    int running;
    pp_metric *m_queue_bytes;
    pp_metric *m_dropped;
} pipeline;

pipeline *pipeline_new(const char *name, size_t queue_bytes, queue_policy policy);
/* Adds an exporter (borrowed) and its ledger edge. 0 or -1. */
int pipeline_add_exporter(pipeline *p, pp_instance *exporter);
int pipeline_start(pipeline *p);
/* Receivers: takes ownership of b. 0, or -1 if the pipeline is closed. */
int pipeline_push(pipeline *p, pp_batch *b);
/* Closes the queue; the worker drains it, flushes windowed processors
 * (tick final=1) and exits; waits for that. */
void pipeline_finish(pipeline *p);
void pipeline_free(pipeline *p); /* frees its processor instances */

#endif
