/* ledger: counters in the metrics registry, so that /metrics shows both
 * sides. in_flight is a gauge moved by the same calls: up F per profile
 * in, down one per edge settled. */
#include "ledger.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

struct ledger_edge {
    struct ledger *ledger;
    char *exporter;
    pp_metric *out[LEDGER_N_OUTCOMES];
    struct ledger_edge *next;
};

struct ledger {
    char *pipeline;
    pp_metric *in[LEDGER_N_SOURCES];
    pp_metric *in_flight;
    pp_metric *owed;
    pp_metric *fan_out;
    ledger_edge *edges;
    struct ledger *next;
};

static pthread_mutex_t ledgers_lock = PTHREAD_MUTEX_INITIALIZER;
static ledger *ledgers;

static const char *const outcome_names[LEDGER_N_OUTCOMES] = {
    "exported", "rejected", "failed", "dropped", "filtered", "merged",
};
static const char *const source_names[LEDGER_N_SOURCES] = {"receivers", "processors", "spool"};

const char *ledger_outcome_name(ledger_outcome outcome)
{
    return outcome < LEDGER_N_OUTCOMES ? outcome_names[outcome] : "unknown";
}

static ledger *ledger_make(const char *pipeline)
{
    ledger *l = calloc(1, sizeof *l);
    if (!l || !(l->pipeline = strdup(pipeline))) {
        free(l);
        return NULL;
    }
    char labels[512];
    for (int s = 0; s < LEDGER_N_SOURCES; s++) {
        snprintf(labels, sizeof labels, "pipeline=\"%s\",source=\"%s\"", pipeline, source_names[s]);
        l->in[s] = metrics_get("profpipe_ledger_in_profiles_total",
                               "Profiles that entered the pipeline, by where they came from.",
                               PP_COUNTER, labels);
    }
    snprintf(labels, sizeof labels, "pipeline=\"%s\"", pipeline);
    l->in_flight = metrics_get("profpipe_ledger_in_flight_profiles",
                               "Profile-edges counted in and not settled yet (queued, being "
                               "processed or exported, or kept in a spool).",
                               PP_GAUGE, labels);
    l->owed = metrics_get("profpipe_ledger_owed_profiles_total",
                          "Each profile in times the exporters it was owed to then: in x fan_out, "
                          "also when a reload changed the fan-out.",
                          PP_COUNTER, labels);
    l->fan_out = metrics_get("profpipe_ledger_fan_out",
                             "Exporters the pipeline feeds: each profile in is settled once "
                             "per exporter.",
                             PP_GAUGE, labels);
    return l;
}

ledger *ledger_get(const char *pipeline)
{
    pthread_mutex_lock(&ledgers_lock);
    ledger *l = ledgers;
    while (l && strcmp(l->pipeline, pipeline) != 0)
        l = l->next;
    if (!l && (l = ledger_make(pipeline))) {
        l->next = ledgers;
        ledgers = l;
    }
    pthread_mutex_unlock(&ledgers_lock);
    return l;
}

static ledger_edge *edge_make(ledger *l, const char *exporter_id)
{
    ledger_edge *edge = calloc(1, sizeof *edge);
    if (!edge || !(edge->exporter = strdup(exporter_id))) {
        free(edge);
        return NULL;
    }
    edge->ledger = l;
    char labels[512];
    for (int o = 0; o < LEDGER_N_OUTCOMES; o++) {
        snprintf(labels, sizeof labels, "pipeline=\"%s\",exporter=\"%s\",outcome=\"%s\"",
                 l->pipeline, exporter_id, outcome_names[o]);
        edge->out[o] = metrics_get("profpipe_ledger_out_profiles_total",
                                   "Profiles that left the pipeline by one exporter, by outcome.",
                                   PP_COUNTER, labels);
    }
    return edge;
}

ledger_edge *ledger_edge_get(ledger *l, const char *exporter_id)
{
    pthread_mutex_lock(&ledgers_lock);
    ledger_edge *edge = l->edges;
    while (edge && strcmp(edge->exporter, exporter_id) != 0)
        edge = edge->next;
    if (!edge && (edge = edge_make(l, exporter_id))) {
        edge->next = l->edges;
        l->edges = edge;
    }
    pthread_mutex_unlock(&ledgers_lock);
    return edge;
}

void ledger_in(ledger *l, ledger_source from, size_t n, size_t fan_out)
{
    if (!l || n == 0)
        return;
    metrics_add(l->in[from], (double)n);
    metrics_set(l->fan_out, (double)fan_out); /* that of the pipeline profiles enter now */
    metrics_add(l->owed, (double)n * (double)fan_out);
    metrics_add(l->in_flight, (double)n * (double)fan_out);
}

void ledger_settle(ledger_edge *edge, ledger_outcome outcome, size_t n)
{
    if (!edge || n == 0)
        return;
    metrics_add(edge->out[outcome], (double)n);
    metrics_add(edge->ledger->in_flight, -(double)n);
}

void ledger_reset_all(void)
{
    pthread_mutex_lock(&ledgers_lock);
    while (ledgers) {
        ledger *l = ledgers;
        ledgers = l->next;
        while (l->edges) {
            ledger_edge *e = l->edges;
            l->edges = e->next;
            free(e->exporter);
            free(e);
        }
        free(l->pipeline);
        free(l);
    }
    pthread_mutex_unlock(&ledgers_lock);
}
