/* ui_status: what the pipeline and targets views show besides counters.
 *
 * - The running service (set by main.c at start and after each reload)
 *   and the config text it came from, read once when it starts running.
 * - How the last SIGHUP went, with the errors of a refused config.
 * - Each component's last warning or error with its time, taken from the
 *   log (a log observer), so components need no extra call to report one.
 * - Target states that receivers report through pp_host.target_state.
 *
 * Counters are read from the metrics registry through the instances'
 * own metric handles. `run_lock` is held while a view walks the service,
 * and by ui_set_running, so main.c never frees a service a view reads. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exporter.h"
#include "instance.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "registry.h"
#include "service.h"
#include "ui.h"
#include "ui_internal.h"
#include "wordhash.h"

/* A component counts as in trouble this long after its last error. */
#define UI_TROUBLE_NS (300 * 1000000000LL)
/* A queue this full (percent of its bound) stands out. */
#define UI_QUEUE_FULL_PERCENT 90
#define UI_CONFIG_TEXT_MAX ((long)1 << 20)
#define UI_ERROR_MAX 512
#define UI_MAX_RELOAD_ERRORS 64

static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;
static service *run_service;
static char *run_config_path, *run_config_text;
static int64_t run_since_ns;
static int reload_seen, reload_ok;
static int64_t reload_at_ns;
static char **reload_errors;
static size_t n_reload_errors;

typedef struct last_error {
    char *component; /* log name: "exporter/file" */
    char message[UI_ERROR_MAX];
    int64_t at_ns;
} last_error;

typedef struct target_entry {
    char *component, *target, *profile, *path, *error;
    int up;
    int64_t last_ns, duration_ns;
    uint64_t bytes;
} target_entry;

static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;
static last_error *errors;
static size_t n_errors;
static target_entry *targets;
static size_t n_targets, cap_targets;
/* (component, target, profile) -> position in targets + 1, 0 = empty;
 * open addressing, at most half full. A scraper with 500 targets x 5
 * profile types reports a state every scrape: a scan of every entry
 * for each was its largest cost. */
static size_t *target_slots;
static size_t n_target_slots; /* power of two, or 0 */

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- last errors, from the log ---- */

static void on_log(pp_log_level level, const char *component, const char *msg)
{
    (void)level;
    const char *name = component ? component : "service";
    pthread_mutex_lock(&status_lock);
    last_error *e = NULL;
    for (size_t i = 0; i < n_errors && !e; i++)
        if (strcmp(errors[i].component, name) == 0)
            e = &errors[i];
    if (!e) {
        last_error *grown = realloc(errors, (n_errors + 1) * sizeof *grown);
        char *copy = strdup(name);
        if (grown)
            errors = grown;
        if (grown && copy) {
            e = &errors[n_errors++];
            e->component = copy;
        } else {
            free(copy);
        }
    }
    if (e) {
        snprintf(e->message, sizeof e->message, "%s", msg);
        e->at_ns = wall_ns();
    }
    pthread_mutex_unlock(&status_lock);
}

void ui_status_install(void)
{
    log_set_observer(on_log);
}

/* Copies the last error of `component` (a log name) into msg; 0 if none. */
static int64_t last_error_of(const char *component, char *msg, size_t len)
{
    int64_t at = 0;
    msg[0] = '\0';
    pthread_mutex_lock(&status_lock);
    for (size_t i = 0; i < n_errors; i++) {
        if (strcmp(errors[i].component, component) == 0) {
            snprintf(msg, len, "%s", errors[i].message);
            at = errors[i].at_ns;
        }
    }
    pthread_mutex_unlock(&status_lock);
    return at;
}

/* ---- target states ---- */

static void target_free(target_entry *t)
{
    free(t->component);
    free(t->target);
    free(t->profile);
    free(t->path);
    free(t->error);
}

static int target_matches(const target_entry *t, const char *component, const char *target,
                          const char *profile)
{
    return strcmp(t->component, component) == 0 && strcmp(t->target, target) == 0 &&
           (!profile || strcmp(t->profile, profile) == 0);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

#define TARGET_SLOTS_MIN 64

static uint64_t target_hash(const char *component, const char *target, const char *profile)
{
    uint64_t h = WORDHASH_SEED;
    const char *parts[] = {component, target, profile};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size_t n = strlen(parts[i]);
        h = wordhash(wordhash_u64(h, n), parts[i], n); /* length first: "ab"+"c" is not "a"+"bc" */
    }
    return wordhash_finish(h);
}

/* The slot of the entry, or the empty slot where it would go. */
static size_t target_slot(const char *component, const char *target, const char *profile)
{
    size_t mask = n_target_slots - 1;
    size_t i = (size_t)target_hash(component, target, profile) & mask;
    while (target_slots[i] &&
           !target_matches(&targets[target_slots[i] - 1], component, target, profile))
        i = (i + 1) & mask;
    return i;
}

/* Rebuilds the index for every entry, with room for one more. -1 when
 * out of memory (the index is then gone, and lookups scan). */
static int targets_reindex(void)
{
    size_t want = TARGET_SLOTS_MIN;
    while (want < 2 * (n_targets + 1))
        want *= 2;
    free(target_slots);
    target_slots = calloc(want, sizeof *target_slots);
    n_target_slots = target_slots ? want : 0;
    if (!target_slots)
        return -1;
    for (size_t i = 0; i < n_targets; i++)
        target_slots[target_slot(targets[i].component, targets[i].target, targets[i].profile)] =
            i + 1;
    return 0;
}

/* Position of the entry, or -1. */
static long target_find(const char *component, const char *target, const char *profile)
{
    if (!target_slots && targets_reindex() < 0) {
        for (size_t i = 0; i < n_targets; i++)
            if (target_matches(&targets[i], component, target, profile))
                return (long)i;
        return -1;
    }
    size_t slot = target_slot(component, target, profile);
    return target_slots[slot] ? (long)target_slots[slot] - 1 : -1;
}

/* Replaces *s with a copy of v unless it already reads v. */
static void replace_text(char **s, const char *v)
{
    char *copy;
    v = v ? v : "";
    if (strcmp(*s, v) != 0 && (copy = strdup(v))) {
        free(*s);
        *s = copy;
    }
}

void ui_target_state(const char *component, const pp_target_state *st)
{
    if (!component || !st || !st->target || !st->profile)
        return;
    pthread_mutex_lock(&status_lock);
    long at = target_find(component, st->target, st->profile);
    if (at >= 0) { /* the same target again: its texts rarely change */
        target_entry *t = &targets[at];
        replace_text(&t->path, st->path);
        replace_text(&t->error, st->error);
        t->up = st->up ? 1 : 0;
        t->last_ns = st->last_ns;
        t->duration_ns = st->duration_ns;
        t->bytes = st->bytes;
        pthread_mutex_unlock(&status_lock);
        return;
    }
    target_entry fresh = {.component = strdup(component),
                          .target = strdup(st->target),
                          .profile = strdup(st->profile),
                          .path = dup_or_empty(st->path),
                          .error = dup_or_empty(st->error),
                          .up = st->up ? 1 : 0,
                          .last_ns = st->last_ns,
                          .duration_ns = st->duration_ns,
                          .bytes = st->bytes};
    target_entry *grown = targets;
    if (n_targets == cap_targets) {
        size_t cap = cap_targets ? 2 * cap_targets : TARGET_SLOTS_MIN;
        grown = realloc(targets, cap * sizeof *grown);
        if (grown) {
            targets = grown;
            cap_targets = cap;
        }
    }
    if (!grown || !fresh.component || !fresh.target || !fresh.profile || !fresh.path ||
        !fresh.error) {
        target_free(&fresh);
        pthread_mutex_unlock(&status_lock);
        return;
    }
    targets[n_targets++] = fresh;
    if (target_slots && 2 * (n_targets + 1) <= n_target_slots)
        target_slots[target_slot(fresh.component, fresh.target, fresh.profile)] = n_targets;
    else
        targets_reindex();
    pthread_mutex_unlock(&status_lock);
}

void ui_target_forget(const char *component, const char *target, const char *profile)
{
    if (!component || !target)
        return;
    pthread_mutex_lock(&status_lock);
    size_t kept = 0;
    for (size_t i = 0; i < n_targets; i++) {
        if (target_matches(&targets[i], component, target, profile))
            target_free(&targets[i]);
        else
            targets[kept++] = targets[i];
    }
    n_targets = kept;
    targets_reindex(); /* positions moved */
    pthread_mutex_unlock(&status_lock);
}

static int targets_down(const char *component)
{
    int down = 0;
    pthread_mutex_lock(&status_lock);
    for (size_t i = 0; i < n_targets; i++)
        if (strcmp(targets[i].component, component) == 0 && !targets[i].up)
            down++;
    pthread_mutex_unlock(&status_lock);
    return down;
}

void ui_status_write_targets(FILE *out)
{
    pthread_mutex_lock(&status_lock);
    fprintf(out, "{\"targets\":[");
    for (size_t i = 0; i < n_targets; i++) {
        const target_entry *t = &targets[i];
        fprintf(out, "%s{", i ? "," : "");
        json_kstr(out, "component", t->component, 0);
        json_kstr(out, "target", t->target, 1);
        json_kstr(out, "profile", t->profile, 1);
        json_kstr(out, "path", t->path, 1);
        fprintf(out, ",\"up\":%s", t->up ? "true" : "false");
        json_kint(out, "last_scrape", t->last_ns / NS_PER_MS, 1);
        json_knum(out, "duration_ms", (double)t->duration_ns / NS_PER_MS, 1);
        json_kint(out, "bytes", (int64_t)t->bytes, 1);
        json_kstr(out, "error", t->error, 1);
        fputc('}', out);
    }
    fprintf(out, "]}");
    pthread_mutex_unlock(&status_lock);
}

/* ---- the running service ---- */

static char *read_config_text(const char *path)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return NULL;
    char *text = malloc((size_t)UI_CONFIG_TEXT_MAX + 1);
    size_t n = text ? fread(text, 1, (size_t)UI_CONFIG_TEXT_MAX, f) : 0;
    fclose(f);
    if (!text)
        return NULL;
    text[n] = '\0';
    /* kept while the service runs: the size read, not the most allowed */
    char *fit = realloc(text, n + 1);
    return fit ? fit : text;
}

void ui_set_running(service *s, const config *c)
{
    char *path = c && c->path ? strdup(c->path) : NULL;
    char *text = c ? read_config_text(c->path) : NULL;
    pthread_mutex_lock(&run_lock);
    run_service = s;
    free(run_config_path);
    free(run_config_text);
    run_config_path = path;
    run_config_text = text;
    run_since_ns = wall_ns();
    pthread_mutex_unlock(&run_lock);
}

static void clear_reload_errors(void)
{
    for (size_t i = 0; i < n_reload_errors; i++)
        free(reload_errors[i]);
    free(reload_errors);
    reload_errors = NULL;
    n_reload_errors = 0;
}

void ui_reload_result(int ok, char *const *errs, size_t n)
{
    pthread_mutex_lock(&run_lock);
    clear_reload_errors();
    reload_seen = 1;
    reload_ok = ok;
    reload_at_ns = wall_ns();
    if (n > UI_MAX_RELOAD_ERRORS)
        n = UI_MAX_RELOAD_ERRORS;
    reload_errors = calloc(n ? n : 1, sizeof *reload_errors);
    for (size_t i = 0; reload_errors && i < n; i++)
        if ((reload_errors[i] = strdup(errs[i])))
            n_reload_errors++;
    pthread_mutex_unlock(&run_lock);
}

static double value(pp_metric *m)
{
    return m ? metrics_value(m) : 0;
}

static void write_trouble(FILE *out, const char *why)
{
    fprintf(out, ",\"trouble\":");
    json_str(out, why && why[0] ? why : NULL);
}

static void write_component(FILE *out, pp_instance *inst, const char *pipeline, int64_t now,
                            int comma)
{
    char msg[UI_ERROR_MAX], trouble[128] = "";
    int64_t err_at = last_error_of(inst->log_name, msg, sizeof msg);
    fprintf(out, "%s{", comma ? "," : "");
    json_kstr(out, "id", inst->id, 0);
    json_kstr(out, "kind", kind_name(inst->kind), 1);
    json_kstr(out, "type", inst->comp->type, 1);
    json_kstr(out, "pipeline", pipeline, 1);
    json_knum(out, "accepted", value(inst->m_in), 1);
    json_knum(out, "sent", value(inst->m_out), 1);
    json_knum(out, "rejected", value(inst->m_rejected), 1);
    json_knum(out, "failed", value(inst->m_failed), 1);
    json_knum(out, "dropped", value(inst->m_dropped), 1);
    json_knum(out, "retries", value(inst->m_retries), 1);
    if (inst->exporter) {
        size_t used = exporter_rt_queue_bytes(inst->exporter);
        size_t limit = exporter_rt_queue_limit(inst->exporter);
        json_kint(out, "queue_bytes", (int64_t)used, 1);
        json_kint(out, "queue_limit", (int64_t)limit, 1);
        if (limit && used * 100 >= limit * UI_QUEUE_FULL_PERCENT)
            snprintf(trouble, sizeof trouble, "sending queue %zu%% full", used * 100 / limit);
    }
    int down = inst->kind == PP_RECEIVER ? targets_down(inst->id) : 0;
    json_kint(out, "targets_down", down, 1);
    json_kstr(out, "last_error", err_at ? msg : NULL, 1);
    if (err_at)
        json_kint(out, "last_error_at", err_at / NS_PER_MS, 1);
    if (down)
        snprintf(trouble, sizeof trouble, "%d target%s down", down, down > 1 ? "s" : "");
    else if (!trouble[0] && err_at && now - err_at < UI_TROUBLE_NS)
        snprintf(trouble, sizeof trouble, "error %llds ago",
                 (long long)((now - err_at) / 1000000000LL));
    write_trouble(out, trouble);
    fputc('}', out);
}

static void write_ids(FILE *out, const char *key, pp_instance *const *insts, size_t n)
{
    fprintf(out, ",\"%s\":[", key);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', out);
        json_str(out, insts[i]->id);
    }
    fputc(']', out);
}

static void write_pipelines(FILE *out, const service *s)
{
    size_t np, nr;
    pipeline *const *ps = service_pipelines(s, &np);
    pp_instance *const *rs = service_receivers(s, &nr);
    fprintf(out, ",\"pipelines\":[");
    for (size_t i = 0; i < np; i++) {
        const pipeline *p = ps[i];
        size_t used = queue_bytes(p->q), limit = queue_max_bytes(p->q);
        fprintf(out, "%s{", i ? "," : "");
        json_kstr(out, "name", p->name, 0);
        json_kint(out, "queue_bytes", (int64_t)used, 1);
        json_kint(out, "queue_limit", (int64_t)limit, 1);
        json_knum(out, "dropped", value(p->m_dropped), 1);
        fprintf(out, ",\"receivers\":[");
        int first = 1;
        for (size_t r = 0; r < nr; r++) {
            if (!instance_feeds(rs[r], p))
                continue;
            if (!first)
                fputc(',', out);
            json_str(out, rs[r]->id);
            first = 0;
        }
        fputc(']', out);
        write_ids(out, "processors", p->processors, p->n_processors);
        write_ids(out, "exporters", p->exporters, p->n_exporters);
        char trouble[64] = "";
        if (limit && used * 100 >= limit * UI_QUEUE_FULL_PERCENT)
            snprintf(trouble, sizeof trouble, "queue %zu%% full", used * 100 / limit);
        write_trouble(out, trouble);
        fputc('}', out);
    }
    fputc(']', out);
}

static void write_components(FILE *out, const service *s, int64_t now)
{
    size_t n, np;
    int comma = 0;
    fprintf(out, ",\"components\":[");
    pp_instance *const *rs = service_receivers(s, &n);
    for (size_t i = 0; i < n; i++, comma = 1)
        write_component(out, rs[i], NULL, now, comma);
    pipeline *const *ps = service_pipelines(s, &np);
    for (size_t i = 0; i < np; i++)
        for (size_t j = 0; j < ps[i]->n_processors; j++, comma = 1)
            write_component(out, ps[i]->processors[j], ps[i]->name, now, comma);
    pp_instance *const *es = service_exporters(s, &n);
    for (size_t i = 0; i < n; i++, comma = 1)
        write_component(out, es[i], NULL, now, comma);
    fputc(']', out);
}

static void write_reload(FILE *out)
{
    fprintf(out, ",\"reload\":");
    if (!reload_seen) {
        fputs("null", out);
        return;
    }
    fprintf(out, "{\"ok\":%s", reload_ok ? "true" : "false");
    json_kint(out, "at", reload_at_ns / NS_PER_MS, 1);
    fprintf(out, ",\"errors\":[");
    for (size_t i = 0; i < n_reload_errors; i++) {
        if (i)
            fputc(',', out);
        json_str(out, reload_errors[i]);
    }
    fprintf(out, "]}");
}

void ui_status_write_pipeline(FILE *out, int64_t now)
{
    pthread_mutex_lock(&run_lock);
    fprintf(out, "{\"running\":%s", run_service ? "true" : "false");
    fprintf(out, ",\"config\":{");
    json_kstr(out, "path", run_config_path, 0);
    json_kint(out, "since", run_since_ns / NS_PER_MS, 1);
    json_kstr(out, "text", run_config_text, 1);
    fputc('}', out);
    write_reload(out);
    if (run_service) {
        write_pipelines(out, run_service);
        write_components(out, run_service, now);
    } else {
        fprintf(out, ",\"pipelines\":[],\"components\":[]");
    }
    fputc('}', out);
    pthread_mutex_unlock(&run_lock);
}

void ui_status_reset(void)
{
    log_set_observer(NULL);
    pthread_mutex_lock(&run_lock);
    run_service = NULL;
    free(run_config_path);
    free(run_config_text);
    run_config_path = run_config_text = NULL;
    reload_seen = 0;
    clear_reload_errors();
    pthread_mutex_unlock(&run_lock);
    pthread_mutex_lock(&status_lock);
    for (size_t i = 0; i < n_errors; i++)
        free(errors[i].component);
    free(errors);
    errors = NULL;
    n_errors = 0;
    for (size_t i = 0; i < n_targets; i++)
        target_free(&targets[i]);
    free(targets);
    targets = NULL;
    n_targets = cap_targets = 0;
    free(target_slots);
    target_slots = NULL;
    n_target_slots = 0;
    pthread_mutex_unlock(&status_lock);
}
