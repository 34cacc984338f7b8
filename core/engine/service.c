/* service: see service.h.
 *
 * Start order is exporters → pipelines → receivers, so nothing is emitted
 * into a graph that cannot take it yet; stop order is the reverse, so
 * every queue is drained by a consumer still running. One deadline covers
 * the whole stop: exporters stop retrying at it and drop what is left. */
#include "service.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exporter.h"
#include "host.h"
#include "instance.h"
#include "log.h"
#include "pipeline.h"
#include "registry.h"

struct service {
    config *cfg; /* borrowed */
    pp_instance **receivers;
    size_t n_receivers;
    pp_instance **exporters;
    size_t n_exporters;
    pipeline **pipelines;
    size_t n_pipelines;
    int started;
};

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int append(pp_instance ***arr, size_t *n, pp_instance *inst)
{
    pp_instance **grown = realloc(*arr, (*n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    grown[(*n)++] = inst;
    *arr = grown;
    return 0;
}

static pp_instance *find_instance(pp_instance **arr, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(arr[i]->id, id) == 0)
            return arr[i];
    return NULL;
}

/* Returns the number of plugins that failed to load. */
static size_t load_plugins(config *cfg)
{
    const pp_config *list = cfg_child(config_service(cfg), "plugins");
    size_t failed = 0;
    for (size_t i = 0; i < cfg->n_plugins; i++) {
        char err[1024];
        if (registry_load_plugin(cfg->plugins[i], err, sizeof err) != 0) {
            config_add_error(cfg, cfg_item(list, i), NULL, "%s", err);
            failed++;
        }
    }
    return failed;
}

static void check_telemetry(config *cfg)
{
    const char *address = cfg->telemetry_address;
    if (!address || !address[0])
        return;
    char *host = NULL, *port = NULL;
    int ok = listener_split_address(address, &host, &port) == 0 && host[0];
    free(host);
    free(port);
    if (ok)
        return;
    const pp_config *telemetry = cfg_child(config_service(cfg), "telemetry");
    config_add_error(cfg, cfg_child(telemetry, "address"), NULL,
                     "telemetry address \"%s\" is not host:port (e.g. 127.0.0.1:8888)", address);
}

/* Checks every defined component's options (used or not). When a plugin
 * failed to load, types nobody knows are not reported again. */
static void check_components(config *cfg, size_t plugins_failed)
{
    for (size_t i = 0; i < cfg->n_components; i++) {
        config_component *cc = &cfg->components[i];
        const pp_component *comp = registry_find(cc->kind, cc->type);
        if (!comp && plugins_failed)
            continue;
        if (!comp) {
            config_add_error(cfg, cc->node, NULL,
                             "unknown %s type \"%s\" (see `profpipe "
                             "components`; external types need their plugin in service.plugins)",
                             kind_name(cc->kind), cc->type);
            continue;
        }
        config_check_options(cfg, cc, comp->options,
                             cc->kind == PP_EXPORTER ? exporter_common_options : NULL);
    }
}

static pp_instance *make_instance(service *s, config_component *cc, const char *pipeline_name)
{
    const pp_component *comp = registry_find(cc->kind, cc->type);
    pp_instance *inst = instance_new(comp, cc->id, cc->node, pipeline_name);
    if (!inst)
        return NULL;
    if (instance_create(inst, s->cfg, host_api()) != 0) {
        instance_free(inst);
        return NULL;
    }
    return inst;
}

/* The shared receiver or exporter instance for an id, created once. */
static pp_instance *shared_instance(service *s, pp_kind kind, const char *id)
{
    pp_instance ***arr = kind == PP_RECEIVER ? &s->receivers : &s->exporters;
    size_t *n = kind == PP_RECEIVER ? &s->n_receivers : &s->n_exporters;
    pp_instance *inst = find_instance(*arr, *n, id);
    if (inst)
        return inst;
    config_component *cc = config_find_kind(s->cfg, kind, id);
    if (!cc)
        return NULL;
    inst = make_instance(s, cc, NULL);
    if (!inst)
        return NULL;
    if (kind == PP_EXPORTER && !(inst->exporter = exporter_rt_new(inst))) {
        instance_free(inst);
        return NULL;
    }
    if (append(arr, n, inst) != 0) {
        instance_free(inst);
        return NULL;
    }
    return inst;
}

static int build_pipeline(service *s, config_pipeline *cp)
{
    pipeline *p = pipeline_new(cp->name, (size_t)cp->queue_size, cp->policy);
    if (!p)
        return -1;
    pipeline **grown = realloc(s->pipelines, (s->n_pipelines + 1) * sizeof *grown);
    if (!grown) {
        pipeline_free(p);
        return -1;
    }
    s->pipelines = grown;
    s->pipelines[s->n_pipelines++] = p;
    int rc = 0;
    for (size_t i = 0; i < cp->n_exporters; i++) {
        pp_instance *e = shared_instance(s, PP_EXPORTER, cp->exporters[i]);
        if (!e || pipeline_add_exporter(p, e) != 0)
            rc = -1;
    }
    for (size_t i = 0; i < cp->n_processors; i++) {
        config_component *cc = config_find_kind(s->cfg, PP_PROCESSOR, cp->processors[i]);
        pp_instance *proc = cc ? make_instance(s, cc, cp->name) : NULL;
        if (!proc || append(&p->processors, &p->n_processors, proc) != 0) {
            instance_free(proc);
            rc = -1;
        }
    }
    for (size_t i = 0; i < cp->n_receivers; i++) {
        pp_instance *r = shared_instance(s, PP_RECEIVER, cp->receivers[i]);
        if (!r) {
            rc = -1;
            continue;
        }
        pipeline **fed = realloc(r->pipelines, (r->n_pipelines + 1) * sizeof *fed);
        if (!fed) {
            rc = -1;
            continue;
        }
        fed[r->n_pipelines++] = p;
        r->pipelines = fed;
    }
    return rc;
}

void service_check(config *cfg, int with_plugins)
{
    registry_init();
    check_telemetry(cfg);
    check_components(cfg, with_plugins ? load_plugins(cfg) : cfg->n_plugins);
}

service *service_build(config *cfg)
{
    service_check(cfg, 1);
    if (cfg->n_errors)
        return NULL;
    service *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = cfg;
    for (size_t i = 0; i < cfg->n_pipelines; i++)
        build_pipeline(s, &cfg->pipelines[i]);
    if (cfg->n_errors) {
        service_free(s);
        return NULL;
    }
    return s;
}

static void stop_receivers(service *s, int64_t deadline)
{
    for (size_t i = s->n_receivers; i-- > 0;) {
        pp_instance *r = s->receivers[i];
        if (r->started && r->comp->stop)
            r->comp->stop(r->state, deadline);
        r->started = 0;
    }
}

static void stop_exporters(service *s, int64_t deadline)
{
    for (size_t i = 0; i < s->n_exporters; i++)
        exporter_rt_finish(s->exporters[i]->exporter);
    for (size_t i = 0; i < s->n_exporters; i++) {
        pp_instance *e = s->exporters[i];
        if (e->started && e->comp->stop)
            e->comp->stop(e->state, deadline);
        e->started = 0;
    }
}

static int start_instance(pp_instance *inst)
{
    if (inst->comp->start && inst->comp->start(inst->state) != 0) {
        log_msg(PP_LOG_ERROR, inst->log_name, "failed to start");
        return -1;
    }
    inst->started = 1;
    return 0;
}

int service_start(service *s)
{
    s->started = 1;
    for (size_t i = 0; i < s->n_exporters; i++) {
        pp_instance *e = s->exporters[i];
        if (start_instance(e) != 0 || exporter_rt_start(e->exporter) != 0)
            goto fail;
    }
    for (size_t i = 0; i < s->n_pipelines; i++) {
        pipeline *p = s->pipelines[i];
        for (size_t j = 0; j < p->n_processors; j++)
            if (start_instance(p->processors[j]) != 0)
                goto fail;
        if (pipeline_start(p) != 0)
            goto fail;
    }
    for (size_t i = 0; i < s->n_receivers; i++)
        if (start_instance(s->receivers[i]) != 0)
            goto fail;
    log_info("started: %zu receivers, %zu pipelines, %zu exporters", s->n_receivers, s->n_pipelines,
             s->n_exporters);
    return 0;
fail:
    service_stop(s, 0);
    return -1;
}

void service_stop(service *s, int64_t timeout_ns)
{
    if (!s->started)
        return;
    int64_t deadline = mono_now() + (timeout_ns > 0 ? timeout_ns : 0);
    /* First of all: an exporter retrying a dead backend behind full
     * `block` queues holds every producer up to the receivers; from the
     * deadline on it stops waiting and drops, so the joins below end. */
    for (size_t i = 0; i < s->n_exporters; i++)
        exporter_rt_set_deadline(s->exporters[i]->exporter, deadline);
    stop_receivers(s, deadline);
    for (size_t i = 0; i < s->n_pipelines; i++)
        pipeline_finish(s->pipelines[i]);
    for (size_t i = 0; i < s->n_pipelines; i++) {
        pipeline *p = s->pipelines[i];
        for (size_t j = 0; j < p->n_processors; j++) {
            pp_instance *proc = p->processors[j];
            if (proc->started && proc->comp->stop)
                proc->comp->stop(proc->state, deadline);
            proc->started = 0;
        }
    }
    stop_exporters(s, deadline);
    s->started = 0;
}

void service_free(service *s)
{
    if (!s)
        return;
    service_stop(s, 0);
    for (size_t i = 0; i < s->n_receivers; i++)
        instance_free(s->receivers[i]);
    for (size_t i = 0; i < s->n_pipelines; i++)
        pipeline_free(s->pipelines[i]);
    for (size_t i = 0; i < s->n_exporters; i++)
        instance_free(s->exporters[i]);
    free(s->receivers);
    free(s->pipelines);
    free(s->exporters);
    free(s);
}

pipeline *const *service_pipelines(const service *s, size_t *n)
{
    *n = s ? s->n_pipelines : 0;
    return s ? s->pipelines : NULL;
}

pp_instance *const *service_receivers(const service *s, size_t *n)
{
    *n = s ? s->n_receivers : 0;
    return s ? s->receivers : NULL;
}

pp_instance *const *service_exporters(const service *s, size_t *n)
{
    *n = s ? s->n_exporters : 0;
    return s ? s->exporters : NULL;
}
