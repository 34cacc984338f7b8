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
#include "config_same.h"
#include "config_options.h"
#include "config_get.h"

/* The pipelines one receiver is to feed, built before they are installed. */
typedef struct wiring {
    pipeline **pipelines;
    size_t n;
} wiring;

struct service {
    config *cfg; /* borrowed */
    pp_instance **receivers;
    size_t n_receivers;
    pp_instance **exporters;
    size_t n_exporters;
    pipeline **pipelines;
    size_t n_pipelines;
    int started;
    wiring *wirings; /* wirings[i]: what receivers[i] will feed */
    /* Reload: `from` is the running service whose receivers and exporters
     * with unchanged options this one takes over. Until service_take_over
     * succeeds, those stay `from`'s (borrowed: never started, stopped or
     * freed by this service). */
    service *from;
    unsigned char *borrowed_receivers, *borrowed_exporters;
    config **retained; /* older configs that kept instances still read */
    size_t n_retained;
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
    inst->origin = s->cfg;
    if (instance_create(inst, s->cfg, host_api()) != 0) {
        instance_free(inst);
        return NULL;
    }
    return inst;
}

/* Grows the per-instance side arrays (wirings, borrowed flags) to n. */
static int grow_side(service *s, pp_kind kind, size_t n)
{
    unsigned char **flags = kind == PP_RECEIVER ? &s->borrowed_receivers : &s->borrowed_exporters;
    unsigned char *grown = realloc(*flags, n);
    if (!grown)
        return -1;
    grown[n - 1] = 0;
    *flags = grown;
    if (kind != PP_RECEIVER)
        return 0;
    wiring *w = realloc(s->wirings, n * sizeof *w);
    if (!w)
        return -1;
    w[n - 1] = (wiring){0};
    s->wirings = w;
    return 0;
}

/* The running instance of `from` that can go on as cc: same id, same
 * component, same options. */
static pp_instance *keepable(service *s, pp_kind kind, config_component *cc)
{
    if (!s->from)
        return NULL;
    pp_instance *old = kind == PP_RECEIVER
                           ? find_instance(s->from->receivers, s->from->n_receivers, cc->id)
                           : find_instance(s->from->exporters, s->from->n_exporters, cc->id);
    if (!old || old->comp != registry_find(kind, cc->type) || !config_same(old->cfg, cc->node) ||
        config_reads_files(cc->node))
        return NULL;
    return old;
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
    pp_instance *kept = keepable(s, kind, cc);
    if (kept) {
        if (append(arr, n, kept) != 0)
            return NULL;
        if (grow_side(s, kind, *n) != 0) {
            (*n)--;
            return NULL;
        }
        (kind == PP_RECEIVER ? s->borrowed_receivers : s->borrowed_exporters)[*n - 1] = 1;
        return kept;
    }
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
    if (grow_side(s, kind, *n) != 0) {
        (*n)--;
        instance_free(inst);
        return NULL;
    }
    return inst;
}

static size_t index_of(pp_instance **arr, size_t n, const pp_instance *inst)
{
    size_t i = 0;
    while (i < n && arr[i] != inst)
        i++;
    return i;
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
        wiring *w = &s->wirings[index_of(s->receivers, s->n_receivers, r)];
        pipeline **fed = realloc(w->pipelines, (w->n + 1) * sizeof *fed);
        if (!fed) {
            rc = -1;
            continue;
        }
        fed[w->n++] = p;
        w->pipelines = fed;
    }
    return rc;
}

/* Receivers this service created feed its pipelines from now on; kept
 * ones are rewired only when the service takes over. */
static void install_wirings(service *s)
{
    for (size_t i = 0; i < s->n_receivers; i++) {
        if (s->borrowed_receivers[i])
            continue;
        instance_rewire(s->receivers[i], s->wirings[i].pipelines, s->wirings[i].n);
        s->wirings[i] = (wiring){0};
    }
}

void service_check(config *cfg, int with_plugins)
{
    registry_init();
    check_telemetry(cfg);
    check_components(cfg, with_plugins ? load_plugins(cfg) : cfg->n_plugins);
}

service *service_build_from(config *cfg, service *from)
{
    service_check(cfg, 1);
    if (cfg->n_errors)
        return NULL;
    service *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = cfg;
    s->from = from;
    for (size_t i = 0; i < cfg->n_pipelines; i++)
        if (build_pipeline(s, &cfg->pipelines[i]) != 0 && !cfg->n_errors)
            config_add_error(cfg, NULL, NULL, "out of memory building pipeline %s",
                             cfg->pipelines[i].name);
    if (cfg->n_errors) {
        service_free(s);
        return NULL;
    }
    install_wirings(s);
    return s;
}

service *service_build(config *cfg)
{
    return service_build_from(cfg, NULL);
}

static void stop_receivers(service *s, int64_t deadline)
{
    for (size_t i = s->n_receivers; i-- > 0;) {
        pp_instance *r = s->receivers[i];
        if (!r || s->borrowed_receivers[i])
            continue;
        if (r->started && r->comp->stop)
            r->comp->stop(r->state, deadline);
        r->started = 0;
    }
}

static int owned_exporter(const service *s, size_t i)
{
    return s->exporters[i] && !s->borrowed_exporters[i];
}

static void stop_exporters(service *s, int64_t deadline)
{
    for (size_t i = 0; i < s->n_exporters; i++)
        if (owned_exporter(s, i))
            exporter_rt_finish(s->exporters[i]->exporter);
    for (size_t i = 0; i < s->n_exporters; i++) {
        pp_instance *e = s->exporters[i];
        if (!owned_exporter(s, i))
            continue;
        if (e->started && e->comp->stop)
            e->comp->stop(e->state, deadline);
        e->started = 0;
    }
}

/* Drains every pipeline into the exporters, then stops the processors. */
static void stop_pipelines(service *s, int64_t deadline)
{
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

/* Every pipeline's processors, then its workers. 0, or -1 at the first
 * that fails (the caller stops what started). */
static int start_pipelines(service *s)
{
    for (size_t i = 0; i < s->n_pipelines; i++) {
        pipeline *p = s->pipelines[i];
        for (size_t j = 0; j < p->n_processors; j++)
            if (start_instance(p->processors[j]) != 0)
                return -1;
        if (pipeline_start(p) != 0)
            return -1;
    }
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
    if (start_pipelines(s) != 0)
        goto fail;
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

/* The instance of `old` that s keeps, or NULL. */
static int kept_by(const service *s, const pp_instance *inst)
{
    return index_of(s->receivers, s->n_receivers, inst) < s->n_receivers ||
           index_of(s->exporters, s->n_exporters, inst) < s->n_exporters;
}

/* An exporter of s replacing one of `old` with the same id starts only
 * when that one has stopped: two instances of one exporter must not write
 * to one place (a directory, a spool) at once. */
static int replaces_old(const service *s, size_t i)
{
    const service *old = s->from;
    return find_instance(old->exporters, old->n_exporters, s->exporters[i]->id) != NULL;
}

static int start_exporter(pp_instance *e)
{
    return start_instance(e) != 0 || exporter_rt_start(e->exporter) != 0 ? -1 : 0;
}

/* A spool of s's exporter i can be opened while the old graph runs: no
 * exporter of the old graph writes to that folder. */
static int spool_opens_beside(const service *s, size_t i)
{
    const char *storage = exporter_rt_storage(s->exporters[i]->exporter);
    if (!storage)
        return 0;
    const service *old = s->from;
    for (size_t j = 0; j < old->n_exporters; j++) {
        const char *held = exporter_rt_storage(old->exporters[j]->exporter);
        if (held && strcmp(held, storage) == 0)
            return 0;
    }
    return 1;
}

/* A new receiver that may start while the old graph runs: one flagged
 * PP_OVERLAP (a listener hands its socket from the old instance to the
 * new). Others start after the old graph stopped, so that two instances
 * never read one file, profile one process or scrape one target. */
static int overlaps(const pp_instance *r)
{
    return (r->comp->flags & PP_OVERLAP) != 0;
}

/* Steps 1-3: what can start while the old graph runs (every fallible
 * step that does not need the old parts gone). -1: s is stopped again,
 * the old graph untouched. */
static int start_beside(service *s, int64_t timeout_ns)
{
    s->started = 1;
    for (size_t i = 0; i < s->n_exporters; i++) {
        if (!owned_exporter(s, i))
            continue;
        if (!replaces_old(s, i) ? start_exporter(s->exporters[i]) != 0
                                : spool_opens_beside(s, i) &&
                                      exporter_rt_open_spool(s->exporters[i]->exporter) != 0)
            goto fail;
    }
    if (start_pipelines(s) != 0)
        goto fail;
    for (size_t i = 0; i < s->n_receivers; i++)
        if (!s->borrowed_receivers[i] && overlaps(s->receivers[i]) &&
            start_instance(s->receivers[i]) != 0)
            goto fail;
    return 0;
fail:
    /* a receiver started here may hold requests: they are answered */
    service_stop(s, timeout_ns);
    return -1;
}

/* Stops what only `old` has: its other receivers, all its pipelines
 * (drained into the exporters), its other exporters. */
static void stop_old_only(service *s, service *old, int64_t timeout_ns)
{
    int64_t deadline = mono_now() + (timeout_ns > 0 ? timeout_ns : 0);
    for (size_t i = 0; i < old->n_exporters; i++)
        if (!kept_by(s, old->exporters[i]))
            exporter_rt_set_deadline(old->exporters[i]->exporter, deadline);
    for (size_t i = 0; i < old->n_receivers; i++)
        if (kept_by(s, old->receivers[i]))
            old->borrowed_receivers[i] = 1; /* from now on s's */
    for (size_t i = 0; i < old->n_exporters; i++)
        if (kept_by(s, old->exporters[i]))
            old->borrowed_exporters[i] = 1;
    stop_receivers(old, deadline);
    stop_pipelines(old, deadline);
    stop_exporters(old, deadline);
    old->started = 0;
}

/* 1 when a receiver or exporter of s was made from cfg (reads it). */
static int reads_config(const service *s, const config *cfg)
{
    for (size_t i = 0; i < s->n_receivers; i++)
        if (s->receivers[i]->origin == cfg)
            return 1;
    for (size_t i = 0; i < s->n_exporters; i++)
        if (s->exporters[i]->origin == cfg)
            return 1;
    return 0;
}

/* The configs s's kept instances read, taken from old (and old_cfg). */
static int retain_configs(service *s, service *old, config *old_cfg)
{
    config **cand = malloc((old->n_retained + 1) * sizeof *cand);
    if (!cand)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < old->n_retained; i++)
        cand[n++] = old->retained[i];
    cand[n++] = old_cfg;
    size_t left = 0;
    for (size_t c = 0; c < n; c++) {
        if (reads_config(s, cand[c]))
            s->retained[s->n_retained++] = cand[c];
        else if (cand[c] != old_cfg)
            old->retained[left++] = cand[c]; /* freed with old */
    }
    old->n_retained = left;
    free(cand);
    return 0;
}

/* service_take_over, with room in s->retained for `extra` more configs. */
static int take_over(service *s, config *old_cfg, int64_t timeout_ns, int *old_cfg_kept,
                     size_t extra)
{
    service *old = s->from;
    *old_cfg_kept = 0;
    s->retained = malloc((old->n_retained + 1 + extra) * sizeof *s->retained);
    if (!s->retained || start_beside(s, timeout_ns) != 0)
        return -1;
    /* the kept receivers feed the new pipelines: no gap, nothing stopped */
    for (size_t i = 0; i < s->n_receivers; i++) {
        if (!s->borrowed_receivers[i])
            continue;
        instance_rewire(s->receivers[i], s->wirings[i].pipelines, s->wirings[i].n);
        s->wirings[i] = (wiring){0};
    }
    size_t kept_receivers = 0, kept_exporters = 0;
    for (size_t i = 0; i < s->n_receivers; i++)
        kept_receivers += s->borrowed_receivers[i];
    for (size_t i = 0; i < s->n_exporters; i++)
        kept_exporters += s->borrowed_exporters[i];
    stop_old_only(s, old, timeout_ns);
    memset(s->borrowed_receivers, 0, s->n_receivers);
    memset(s->borrowed_exporters, 0, s->n_exporters);
    s->from = NULL;
    int rc = 0;
    for (size_t i = 0; i < s->n_exporters; i++)
        if (!s->exporters[i]->started && start_exporter(s->exporters[i]) != 0)
            rc = -2;
    for (size_t i = 0; i < s->n_receivers && rc == 0; i++)
        if (!s->receivers[i]->started && start_instance(s->receivers[i]) != 0)
            rc = -2;
    if (rc != 0)
        return rc;
    retain_configs(s, old, old_cfg);
    for (size_t i = 0; i < s->n_retained; i++)
        *old_cfg_kept |= s->retained[i] == old_cfg;
    if (rc == 0)
        log_info("reload swapped the graph: %zu receivers (%zu kept running), %zu pipelines, "
                 "%zu exporters (%zu kept running)",
                 s->n_receivers, kept_receivers, s->n_pipelines, s->n_exporters, kept_exporters);
    return rc;
}

int service_take_over(service *s, config *old_cfg, int64_t timeout_ns, int *old_cfg_kept)
{
    return take_over(s, old_cfg, timeout_ns, old_cfg_kept, 0);
}

/* Moves to `to` the configs of from->retained that to's instances read
 * (to->retained has room for them: take_over's `extra`). */
static void adopt_retained(service *to, service *from)
{
    size_t left = 0;
    for (size_t c = 0; c < from->n_retained; c++) {
        config *cfg = from->retained[c];
        if (reads_config(to, cfg))
            to->retained[to->n_retained++] = cfg;
        else
            from->retained[left++] = cfg;
    }
    from->n_retained = left;
}

service *service_roll_back(service *s, service *old, config *old_cfg, config *new_cfg,
                           int64_t timeout_ns, int *new_cfg_kept)
{
    *new_cfg_kept = 0;
    service *back = service_build_from(old_cfg, s);
    if (!back)
        return NULL;
    int rc = take_over(back, new_cfg, timeout_ns, new_cfg_kept, old->n_retained);
    if (rc == 0) {
        adopt_retained(back, old);
        return back;
    }
    if (rc == -2) /* it owns what s kept: stopped and freed with it */
        service_stop(back, timeout_ns);
    service_free(back);
    return NULL;
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
        if (owned_exporter(s, i))
            exporter_rt_set_deadline(s->exporters[i]->exporter, deadline);
    stop_receivers(s, deadline);
    stop_pipelines(s, deadline);
    stop_exporters(s, deadline);
    s->started = 0;
}

void service_free(service *s)
{
    if (!s)
        return;
    service_stop(s, 0);
    for (size_t i = 0; i < s->n_receivers; i++) {
        if (!s->borrowed_receivers[i])
            instance_free(s->receivers[i]);
        free(s->wirings[i].pipelines);
    }
    for (size_t i = 0; i < s->n_pipelines; i++)
        pipeline_free(s->pipelines[i]);
    for (size_t i = 0; i < s->n_exporters; i++)
        if (!s->borrowed_exporters[i])
            instance_free(s->exporters[i]);
    for (size_t i = 0; i < s->n_retained; i++)
        config_free(s->retained[i]);
    free(s->retained);
    free(s->wirings);
    free(s->borrowed_receivers);
    free(s->borrowed_exporters);
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
