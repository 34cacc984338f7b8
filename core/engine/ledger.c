/* ledger: counters in the metrics registry, so that /metrics shows both
 * sides. in_flight is a gauge moved by the same calls: up F per profile
 * in, down one per edge settled. */
#include "ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

struct ledger_edge {
    struct ledger *ledger;
    pp_metric *out[LEDGER_N_OUTCOMES];
};

struct ledger {
    char *pipeline;
    pp_metric *in[LEDGER_N_SOURCES];
    pp_metric *in_flight;
    pp_metric *owed;
    pp_metric *fan_out;
    ledger_edge **edges;
    size_t n_edges;
};

static const char *const outcome_names[LEDGER_N_OUTCOMES] = {
    "exported", "rejected", "failed", "dropped", "filtered", "merged",
};
static const char *const source_names[LEDGER_N_SOURCES] = {"receivers", "processors", "spool"};

const char *ledger_outcome_name(ledger_outcome outcome)
{
    return outcome < LEDGER_N_OUTCOMES ? outcome_names[outcome] : "unknown";
}

ledger *ledger_new(const char *pipeline)
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
    metrics_set(l->fan_out, 0);
    return l;
}

void ledger_free(ledger *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n_edges; i++)
        free(l->edges[i]);
    free(l->edges);
    free(l->pipeline);
    free(l);
}

ledger_edge *ledger_add_edge(ledger *l, const char *exporter_id)
{
    ledger_edge *edge = calloc(1, sizeof *edge);
    ledger_edge **grown = edge ? realloc(l->edges, (l->n_edges + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(edge);
        return NULL;
    }
    l->edges = grown;
    edge->ledger = l;
    char labels[512];
    for (int o = 0; o < LEDGER_N_OUTCOMES; o++) {
        snprintf(labels, sizeof labels, "pipeline=\"%s\",exporter=\"%s\",outcome=\"%s\"",
                 l->pipeline, exporter_id, outcome_names[o]);
        edge->out[o] = metrics_get("profpipe_ledger_out_profiles_total",
                                   "Profiles that left the pipeline by one exporter, by outcome.",
                                   PP_COUNTER, labels);
    }
    l->edges[l->n_edges++] = edge;
    metrics_set(l->fan_out, (double)l->n_edges);
    return edge;
}

size_t ledger_fan_out(const ledger *l)
{
    return l ? l->n_edges : 0;
}

void ledger_in(ledger *l, ledger_source from, size_t n)
{
    if (!l || n == 0)
        return;
    metrics_add(l->in[from], (double)n);
    metrics_add(l->owed, (double)n * (double)l->n_edges);
    metrics_add(l->in_flight, (double)n * (double)l->n_edges);
}

void ledger_settle_all(ledger *l, ledger_outcome outcome, size_t n)
{
    if (!l || n == 0)
        return;
    for (size_t i = 0; i < l->n_edges; i++)
        metrics_add(l->edges[i]->out[outcome], (double)n);
    metrics_add(l->in_flight, -(double)n * (double)l->n_edges);
}

void ledger_settle(ledger_edge *edge, ledger_outcome outcome, size_t n)
{
    if (!edge || n == 0)
        return;
    metrics_add(edge->out[outcome], (double)n);
    metrics_add(edge->ledger->in_flight, -(double)n);
}
