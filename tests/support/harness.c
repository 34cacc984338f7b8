/* harness: wraps the component's options in a minimal config document
 * (the component plus placeholder ids a pipeline needs), loads it with
 * the real loader, checks the options against the component's table and
 * creates an instance the way the service does. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "config.h"
#include "config_options.h"
#include "exporter.h"
#include "host.h"
#include "instance.h"
#include "queue.h"
#include "registry.h"
#include "pp_constants.h"

#define HARNESS_CAPTURE_BYTES ((size_t)1 << 30)

struct harness {
    config *cfg;
    pp_instance *inst;
    queue *capture;
};

/* The instance's sink: what the receiver emits waits for harness_wait_emit. */
static int capture_batch(void *arg, pp_batch *b)
{
    if (queue_push(arg, b) != 0) {
        batch_unref(b);
        return -1;
    }
    return 0;
}

static const char *section_of(pp_kind kind)
{
    return kind == PP_RECEIVER ? "receivers" : kind == PP_PROCESSOR ? "processors" : "exporters";
}

/* The component's options indented under its id, plus a pipeline using it. */
static char *wrap_options(const pp_component *comp, const char *id, const char *yaml)
{
    char *doc = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&doc, &len);
    if (!out)
        return NULL;
    fprintf(out, "%s:\n  %s:\n", section_of(comp->kind), id);
    for (const char *line = yaml; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        fprintf(out, "    %.*s\n", (int)n, line);
        line = nl ? nl + 1 : NULL;
    }
    if (comp->kind != PP_RECEIVER)
        fprintf(out, "receivers:\n  harness_in:\n");
    if (comp->kind != PP_EXPORTER)
        fprintf(out, "exporters:\n  harness_out:\n");
    fprintf(out, "service:\n  pipelines:\n    profiles:\n");
    fprintf(out, "      receivers: [%s]\n", comp->kind == PP_RECEIVER ? id : "harness_in");
    if (comp->kind == PP_PROCESSOR)
        fprintf(out, "      processors: [%s]\n", id);
    fprintf(out, "      exporters: [%s]\n", comp->kind == PP_EXPORTER ? id : "harness_out");
    fclose(out);
    return doc;
}

static config_component *find_component(config *c, pp_kind kind, const char *id)
{
    for (size_t i = 0; i < c->n_components; i++)
        if (c->components[i].kind == kind && strcmp(c->components[i].id, id) == 0)
            return &c->components[i];
    return NULL;
}

static harness *fail(harness *h, char *err, size_t errlen)
{
    if (h->cfg && h->cfg->n_errors)
        snprintf(err, errlen, "%s", h->cfg->errors[0]);
    else
        snprintf(err, errlen, "harness: could not build the component");
    harness_free(h);
    return NULL;
}

harness *harness_new(const pp_component *comp, const char *id, const char *yaml_options, char *err,
                     size_t errlen)
{
    harness *h = calloc(1, sizeof *h);
    char *doc = h ? wrap_options(comp, id, yaml_options) : NULL;
    if (!doc) {
        free(h);
        snprintf(err, errlen, "harness: out of memory");
        return NULL;
    }
    h->cfg = config_load_string(doc, "harness.yaml");
    free(doc);
    if (!h->cfg || h->cfg->n_errors)
        return fail(h, err, errlen);
    config_component *cc = find_component(h->cfg, comp->kind, id);
    if (!cc)
        return fail(h, err, errlen);
    config_check_options(h->cfg, cc, comp->options,
                         comp->kind == PP_EXPORTER ? exporter_common_options : NULL);
    if (h->cfg->n_errors)
        return fail(h, err, errlen);
    h->inst = instance_new(comp, id, cc->node, NULL);
    if (!h->inst || instance_create(h->inst, h->cfg, host_api()) != 0)
        return fail(h, err, errlen);
    if (comp->kind == PP_RECEIVER) {
        h->capture = queue_new(HARNESS_CAPTURE_BYTES, QUEUE_BLOCK, NULL, NULL);
        h->inst->sink = capture_batch;
        h->inst->sink_arg = h->capture;
    }
    return h;
}

void *harness_state(harness *h)
{
    return h->inst->state;
}

pp_instance *harness_instance(harness *h)
{
    return h->inst;
}

const pp_host *harness_host(void)
{
    return host_api();
}

int harness_start(harness *h)
{
    if (h->inst->comp->start && h->inst->comp->start(h->inst->state) != 0)
        return -1;
    h->inst->started = 1;
    return 0;
}

pp_batch *harness_wait_emit(harness *h, int timeout_ms)
{
    if (!h->capture)
        return NULL;
    return queue_pop(h->capture, (int64_t)timeout_ms * NS_PER_MS);
}

void harness_free(harness *h)
{
    if (!h)
        return;
    if (h->inst) {
        if (h->inst->started && h->inst->comp->stop)
            h->inst->comp->stop(h->inst->state, host_api()->monotonic_ns());
        instance_free(h->inst);
    }
    if (h->capture)
        queue_free(h->capture);
    config_free(h->cfg);
    free(h);
}
