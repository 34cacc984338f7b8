/* config: loads the document and checks its structure: the four top-level
 * sections, component ids, the service section and what the pipelines
 * name. Component options are checked later, by config_check_options,
 * once the host knows each component's option table.
 *
 * The service section is checked with the same option-table machinery the
 * components use (its tables are below), so it gets the same unknown-key,
 * type and default handling, and the same messages, for free.
 *
 * Every message is "<file>:<line>:<col>: <scope>: <key path>: <why>";
 * errors are collected, not returned one at a time, so that `profpipe
 * validate` shows them all at once. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "fileio.h"
#include "memory_size.h"

#define CONFIG_MAX_FILE_BYTES ((long)16 << 20)
/* For ordering messages by line, then column. */
#define CONFIG_MAX_COLUMNS 1000000L

static const char *const section_names[] = {"receivers", "processors", "exporters"};
static const pp_kind section_kinds[] = {PP_RECEIVER, PP_PROCESSOR, PP_EXPORTER};
#define N_SECTIONS (sizeof section_kinds / sizeof section_kinds[0])

/* What the service section's tables fill (config_check_mapping has
 * checked the types first, so cfg_fill only stores). */
typedef struct telemetry_settings {
    const char *address;
    listener_settings listen;
    int log_level; /* a pp_log_level: log_level_names is in its order */
} telemetry_settings;

typedef struct ui_settings {
    int enabled;
    int64_t retention_ns;
    int64_t max_bytes;
} ui_settings;

typedef struct memory_limit_settings {
    const char *hard_limit, *soft_limit; /* a size or a percentage: memory_size.h */
    int64_t check_interval_ns;
} memory_limit_settings;

typedef struct service_settings {
    const pp_config *plugins;
    telemetry_settings telemetry;
    int64_t shutdown_timeout_ns;
    ui_settings ui;
    memory_limit_settings memory_limit;
} service_settings;

typedef struct pipeline_settings {
    const pp_config *lists[N_SECTIONS]; /* in section_kinds' order */
    int64_t queue_size;
    int full_policy; /* a queue_policy: full_policy_names is in its order */
} pipeline_settings;

/* pp_log_level order */
static const char *const log_level_names[] = {"debug", "info", "warn", "error", NULL};

static const pp_option telemetry_options[] = {
    {"address", PP_OPT_STRING, "127.0.0.1:8888",
     "host:port of the /metrics and /healthz server; \"\" disables it", 0, NULL,
     PP_FIELD(telemetry_settings, address)},
    LISTENER_OPTIONS(telemetry_settings, listen, "64KiB"),
    {"log_level", PP_OPT_STRING, "info", "the least severe log lines written", 0, NULL,
     PP_FIELD(telemetry_settings, log_level), .enum_values = log_level_names},
    {0},
};

static const pp_option ui_options[] = {
    {"enabled", PP_OPT_BOOL, "true",
     "serve the built-in page (/, /ui/, /api/v1/...) on the telemetry address", 0, NULL,
     PP_FIELD(ui_settings, enabled)},
    {"retention", PP_OPT_DURATION, "15m", "how long the page keeps recent profile windows", 0, NULL,
     PP_FIELD(ui_settings, retention_ns)},
    {"max_bytes", PP_OPT_SIZE, "64MiB",
     "bound on the profile bytes the page keeps; the oldest windows go first", 0, NULL,
     PP_FIELD(ui_settings, max_bytes)},
    {0},
};

static const pp_option memory_limit_options[] = {
    {"hard_limit", PP_OPT_STRING, NULL,
     "resident memory past which drop_oldest queues drop: a size (1GiB) or a percentage (90%) of "
     "the cgroup's memory limit (the machine's memory when there is none); unset = no limit",
     0, NULL, PP_FIELD(memory_limit_settings, hard_limit)},
    {"soft_limit", PP_OPT_STRING, NULL,
     "resident memory past which the built-in page lets its windows go and receivers hold back "
     "(503, a skipped scrape, a paused consumer); a size or a percentage; default 80% of "
     "hard_limit",
     0, NULL, PP_FIELD(memory_limit_settings, soft_limit)},
    {"check_interval", PP_OPT_DURATION, "100ms",
     "how often memory is measured (receivers also measure when the last reading is older)", 0,
     NULL, PP_FIELD(memory_limit_settings, check_interval_ns), .min = "1ms"},
    {0},
};

/* queue_policy order */
static const char *const full_policy_names[] = {"block", "drop_oldest", NULL};

static const pp_option pipeline_options[] = {
    {"receivers", PP_OPT_STRING_LIST, NULL, "receiver ids feeding the pipeline", 0, NULL,
     PP_FIELD(pipeline_settings, lists[0])},
    {"processors", PP_OPT_STRING_LIST, NULL, "processor ids, applied in order", 0, NULL,
     PP_FIELD(pipeline_settings, lists[1])},
    {"exporters", PP_OPT_STRING_LIST, NULL, "exporter ids the pipeline delivers to", 0, NULL,
     PP_FIELD(pipeline_settings, lists[2])},
    {"queue_size", PP_OPT_SIZE, "64MiB", "bound of the pipeline's queue in bytes", 0, NULL,
     PP_FIELD(pipeline_settings, queue_size)},
    {"full_policy", PP_OPT_STRING, "block", "what a full queue does to the next batch", 0, NULL,
     PP_FIELD(pipeline_settings, full_policy), .enum_values = full_policy_names},
    {0},
};

static const pp_option service_options[] = {
    {"pipelines", PP_OPT_ANY, NULL, "pipeline name -> receivers, processors, exporters", 0, NULL},
    {"plugins", PP_OPT_STRING_LIST, NULL, "plugin .so files to load", 0, NULL,
     PP_FIELD(service_settings, plugins)},
    {"telemetry", PP_OPT_SECTION, NULL, "self-observability", 0, telemetry_options,
     PP_FIELD(service_settings, telemetry)},
    {"shutdown_timeout", PP_OPT_DURATION, "10s", "deadline for draining at shutdown", 0, NULL,
     PP_FIELD(service_settings, shutdown_timeout_ns)},
    {"ui", PP_OPT_SECTION, NULL, "the built-in page on the telemetry address", 0, ui_options,
     PP_FIELD(service_settings, ui)},
    {"memory_limit", PP_OPT_SECTION, NULL,
     "process-wide memory limit, like the OpenTelemetry Collector's memory_limiter", 0,
     memory_limit_options, PP_FIELD(service_settings, memory_limit)},
    {0},
};

/* ---------------------------------------------------------------- */
/* Messages                                                          */
/* ---------------------------------------------------------------- */

static int list_push(char ***list, size_t *n, char *s)
{
    char **l = realloc(*list, (*n + 1) * sizeof *l);
    if (!l)
        return -1;
    *list = l;
    l[(*n)++] = s;
    return 0;
}

/* The line and column a stored message names (0 if none). */
static long message_pos(const config *c, const char *msg)
{
    const char *p = msg + strlen(c->path);
    if (*p != ':')
        return 0;
    char *end;
    long line = strtol(p + 1, &end, 10);
    long col = *end == ':' ? strtol(end + 1, NULL, 10) : 0;
    return line * CONFIG_MAX_COLUMNS + col;
}

/* Inserts msg after every message at or before its position, so that
 * `profpipe validate` lists problems in file order, whichever check found
 * them first. */
static int list_insert_sorted(const config *c, char ***list, size_t *n, char *msg)
{
    if (list_push(list, n, msg) < 0)
        return -1;
    long pos = message_pos(c, msg);
    size_t i = *n - 1;
    for (; i > 0 && message_pos(c, (*list)[i - 1]) > pos; i--)
        (*list)[i] = (*list)[i - 1];
    (*list)[i] = msg;
    return 0;
}

void config_report_at(config *c, int warning, const char *scope, int line, int col,
                      const char *path, const char *what)
{
    char where[512] = "";
    if (line > 0)
        snprintf(where, sizeof where, ":%d:%d", line, col);
    char *msg = NULL;
    if (asprintf(&msg, "%s%s%s%s%s%s: %s", c->path, where, scope ? ": " : "", scope ? scope : "",
                 path && *path ? ": " : "", path ? path : "", what) < 0)
        return;
    config_priv *priv = c->priv;
    pthread_mutex_lock(&priv->lock);
    int rc = warning ? list_insert_sorted(c, &c->warnings, &c->n_warnings, msg)
                     : list_insert_sorted(c, &c->errors, &c->n_errors, msg);
    pthread_mutex_unlock(&priv->lock);
    if (rc < 0)
        free(msg);
}

/* A message about node[key] points at the value when it is a scalar, and
 * where it is named (its key or list item) when it is a list, a mapping,
 * null, or absent (then at node itself). */
void config_vreport(config *c, int warning, const pp_config *node, const char *key, const char *fmt,
                    va_list ap)
{
    if (!c)
        return;
    char what[1024];
    vsnprintf(what, sizeof what, fmt, ap);
    if (!node) {
        config_report_at(c, warning, NULL, 0, 0, NULL, what);
        return;
    }
    const pp_config *target = key ? config_node_get(node, key, NULL) : node;
    const pp_config *at = target ? target : node;
    int named = !target || target->kind != PP_NODE_SCALAR || target->is_null;
    const char *path = node->path ? node->path : "";
    char keypath[384];
    if (target && target != node && target->path)
        snprintf(keypath, sizeof keypath, "%s", target->path);
    else if (key)
        snprintf(keypath, sizeof keypath, "%s%s%s", path, *path ? "." : "", key);
    else
        snprintf(keypath, sizeof keypath, "%s", path);
    config_report_at(c, warning, node->scope, named ? at->name_line : at->line,
                     named ? at->name_col : at->col, keypath, what);
}

void config_report_kind(const pp_config *v, const char *expected)
{
    char what[256];
    snprintf(what, sizeof what, "expected %s, got %s", expected, config_kind_name(v));
    config_report_at(v->owner, 0, v->scope, v->line, v->col, v->path, what);
}

void config_report(config *c, int warning, const pp_config *node, const char *key, const char *fmt,
                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    config_vreport(c, warning, node, key, fmt, ap);
    va_end(ap);
}

void config_add_error(config *c, const pp_config *node, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    config_vreport(c, 0, node, key, fmt, ap);
    va_end(ap);
}

const char *config_scope(config *c, const char *fmt, ...)
{
    config_priv *priv = c->priv;
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (rc < 0)
        return NULL;
    if (list_push(&priv->scopes, &priv->n_scopes, s) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

/* ---------------------------------------------------------------- */
/* Component ids and sections                                        */
/* ---------------------------------------------------------------- */

static int id_type_char(char ch, int first)
{
    return (ch >= 'a' && ch <= 'z') || (!first && ((ch >= '0' && ch <= '9') || ch == '_'));
}

static int id_name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '.' || ch == '-';
}

/* `type` or `type/name`; returns the length of the type, or 0 if invalid. */
static size_t id_parse(const char *id)
{
    size_t t = 0;
    while (id[t] && id[t] != '/') {
        if (!id_type_char(id[t], t == 0))
            return 0;
        t++;
    }
    if (t == 0 || !id[t])
        return t;
    const char *name = id + t + 1;
    if (!*name)
        return 0;
    for (const char *p = name; *p; p++)
        if (!id_name_char(*p))
            return 0;
    return t;
}

config_component *config_find_kind(config *c, pp_kind kind, const char *id)
{
    for (size_t i = 0; c && id && i < c->n_components; i++)
        if (c->components[i].kind == kind && strcmp(c->components[i].id, id) == 0)
            return &c->components[i];
    return NULL;
}

config_component *config_find(config *c, const char *id)
{
    for (size_t i = 0; c && id && i < c->n_components; i++)
        if (strcmp(c->components[i].id, id) == 0)
            return &c->components[i];
    return NULL;
}

static int component_add(config *c, pp_kind kind, const pp_config *key, pp_config *value,
                         size_t type_len)
{
    config_component *comps = realloc(c->components, (c->n_components + 1) * sizeof *comps);
    if (!comps)
        return -1;
    c->components = comps;
    config_component *comp = &comps[c->n_components];
    memset(comp, 0, sizeof *comp);
    comp->kind = kind;
    comp->node = value;
    comp->line = key->line;
    comp->col = key->col;
    comp->id = strdup(key->text);
    comp->type = strndup(key->text, type_len);
    if (!comp->id || !comp->type) {
        free(comp->id);
        free(comp->type);
        return -1;
    }
    c->n_components++;
    return 0;
}

/* An error at a key that is not adopted yet, under an explicit scope. */
static void report_key(config *c, const char *scope, const pp_config *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report_key(config *c, const char *scope, const pp_config *key, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    config_report_at(c, 0, scope, key->line, key->col, NULL, what);
}

static int section_component(config *c, size_t s, pp_config *key, pp_config *value)
{
    size_t type_len = id_parse(key->text);
    if (type_len == 0) {
        report_key(c, section_names[s], key,
                   "invalid component id \"%s\" (use type or type/name: type "
                   "[a-z][a-z0-9_]*, name [A-Za-z0-9_.-]+)",
                   key->text);
        return 0;
    }
    if (config_find_kind(c, section_kinds[s], key->text))
        return 0; /* the duplicate key is reported when the root is adopted */
    config_node_make_empty(value, PP_NODE_MAPPING);
    const char *scope = config_scope(c, "%s.%s", section_names[s], key->text);
    if (!scope || config_node_adopt(value, c, scope, "") < 0)
        return -1;
    value->name_line = key->line;
    value->name_col = key->col;
    if (value->kind != PP_NODE_MAPPING)
        config_report_kind(value, "a mapping of options");
    return component_add(c, section_kinds[s], key, value, type_len);
}

static int section_load(config *c, size_t s, pp_config *key, pp_config *section)
{
    config_node_make_empty(section, PP_NODE_MAPPING);
    if (section->kind != PP_NODE_MAPPING) {
        report_key(c, section_names[s], key, "expected a mapping of component ids, got %s",
                   config_kind_name(section));
        return 0;
    }
    for (size_t i = 0; i < section->n; i++)
        if (section_component(c, s, section->keys[i], section->items[i]) < 0)
            return -1;
    return 0;
}

/* ---------------------------------------------------------------- */
/* Pipelines                                                         */
/* ---------------------------------------------------------------- */

static const char *kind_section(pp_kind kind)
{
    for (size_t s = 0; s < N_SECTIONS; s++)
        if (section_kinds[s] == kind)
            return section_names[s];
    return "?";
}

/* Reads one of a pipeline's lists, checking each id names a component. */
static int pipeline_list(config *c, const pp_config *list, pp_kind kind, char ***out, size_t *n_out)
{
    const char *key = kind_section(kind);
    if (!list || list->kind != PP_NODE_SEQUENCE)
        return 0;
    if (list->n && !(*out = calloc(list->n, sizeof **out)))
        return -1;
    for (size_t i = 0; i < list->n; i++) {
        const pp_config *item = list->items[i];
        if (item->kind != PP_NODE_SCALAR)
            continue; /* reported by the option check */
        config_component *comp = config_find_kind(c, kind, item->text);
        if (!comp)
            config_report(c, 0, item, NULL, "\"%s\" is not defined in %s", item->text, key);
        for (size_t j = 0; j < *n_out; j++)
            if (strcmp((*out)[j], item->text) == 0)
                config_report(c, 0, item, NULL, "\"%s\" is listed twice", item->text);
        if (comp)
            comp->used = 1;
        if (!((*out)[(*n_out)++] = strdup(item->text)))
            return -1;
    }
    return 0;
}

static int pipeline_load(config *c, config_pipeline *p, const pp_config *key, pp_config *pnode)
{
    if (!(p->name = strdup(key->text)))
        return -1;
    config_check_mapping(pnode, pipeline_options, NULL);
    pipeline_settings set = {0};
    cfg_fill(pnode, pipeline_options, &set); /* a bad value was reported by the check */
    if (pipeline_list(c, set.lists[0], PP_RECEIVER, &p->receivers, &p->n_receivers) < 0 ||
        pipeline_list(c, set.lists[1], PP_PROCESSOR, &p->processors, &p->n_processors) < 0 ||
        pipeline_list(c, set.lists[2], PP_EXPORTER, &p->exporters, &p->n_exporters) < 0)
        return -1;
    if (p->n_receivers == 0)
        config_report(c, 0, pnode, NULL, "the pipeline has no receivers");
    if (p->n_exporters == 0)
        config_report(c, 0, pnode, NULL, "the pipeline has no exporters");
    p->queue_size = set.queue_size;
    p->policy = (queue_policy)set.full_policy;
    return 0;
}

/* Scopes each pipeline's subtree by its name before the service section
 * is adopted, so that messages say "service.pipelines.<name>: <key>". */
static int pipelines_adopt(config *c, pp_config *pipelines)
{
    for (size_t i = 0; i < pipelines->n; i++) {
        pp_config *key = pipelines->keys[i], *pnode = pipelines->items[i];
        if (id_parse(key->text) == 0 || config_node_get(pipelines, key->text, NULL) != pnode)
            continue; /* invalid or duplicate names are reported later */
        config_node_make_empty(pnode, PP_NODE_MAPPING);
        const char *scope = config_scope(c, "service.pipelines.%s", key->text);
        if (!scope || config_node_adopt(pnode, c, scope, "") < 0)
            return -1;
        pnode->name_line = key->line;
        pnode->name_col = key->col;
    }
    return 0;
}

static int pipelines_load(config *c, pp_config *service, pp_config *pipelines)
{
    if (!pipelines || pipelines->kind != PP_NODE_MAPPING || pipelines->n == 0) {
        config_report(c, 0, pipelines ? pipelines : service, pipelines ? NULL : "pipelines",
                      "no pipelines defined (add service.pipelines.<name> with "
                      "receivers and exporters)");
        return 0;
    }
    if (!(c->pipelines = calloc(pipelines->n, sizeof *c->pipelines)))
        return -1;
    for (size_t i = 0; i < pipelines->n; i++) {
        pp_config *key = pipelines->keys[i], *pnode = pipelines->items[i];
        if (id_parse(key->text) == 0) {
            config_report(c, 0, key, NULL,
                          "invalid pipeline name \"%s\" (use "
                          "type or type/name, e.g. profiles/default)",
                          key->text);
            continue;
        }
        if (config_node_get(pipelines, key->text, NULL) != pnode)
            continue; /* reported as a duplicate key */
        if (pipeline_load(c, &c->pipelines[c->n_pipelines++], key, pnode) < 0)
            return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- */
/* The service section                                               */
/* ---------------------------------------------------------------- */

static int service_plugins(config *c, const pp_config *list)
{
    if (!list || list->kind != PP_NODE_SEQUENCE)
        return 0;
    for (size_t i = 0; i < list->n; i++) {
        if (list->items[i]->kind != PP_NODE_SCALAR)
            continue;
        char *s = strdup(list->items[i]->text);
        if (!s || list_push(&c->plugins, &c->n_plugins, s) < 0) {
            free(s);
            return -1;
        }
    }
    return 0;
}

static int service_telemetry(config *c, const pp_config *service, const telemetry_settings *set)
{
    const pp_config *tel = cfg_child(service, "telemetry");
    if (!(c->telemetry_address = strdup(set->address ? set->address : "")))
        return -1;
    /* errors are reported into c; the address is set once final */
    listener_config_make(config_host(), tel, &set->listen, NULL, NULL, &c->telemetry);
    c->log_level = (pp_log_level)set->log_level;
    return 0;
}

/* service.memory_limit: both limits resolved to bytes now, so a bad one
 * is a config error with its line. */
/* Rule: the limits as written resolve to bytes, soft at most hard. */
static void service_memory_limit(config *c, const pp_config *service,
                                 const memory_limit_settings *set)
{
    const pp_config *ml = cfg_child(service, "memory_limit");
    c->memory_check_interval_ns = set->check_interval_ns;
    const char *hard = set->hard_limit, *soft = set->soft_limit;
    if (!hard) {
        if (soft)
            config_report(c, 0, ml, "soft_limit", "soft_limit needs a hard_limit");
        return;
    }
    uint64_t total = memsize_total(), hard_bytes, soft_bytes;
    char why[256];
    if (memsize_parse(hard, total, &hard_bytes, why, sizeof why) < 0) {
        config_report(c, 0, ml, "hard_limit", "%s", why);
        return;
    }
    if (!soft) {
        soft_bytes = hard_bytes / 5 * 4; /* the Collector's spike default: 20% */
    } else if (memsize_parse(soft, total, &soft_bytes, why, sizeof why) < 0) {
        config_report(c, 0, ml, "soft_limit", "%s", why);
        return;
    } else if (soft_bytes > hard_bytes) {
        config_report(c, 0, ml, "soft_limit",
                      "soft_limit %s (%llu bytes) is above hard_limit %s (%llu bytes)", soft,
                      (unsigned long long)soft_bytes, hard, (unsigned long long)hard_bytes);
        return;
    }
    c->memory_soft = soft_bytes;
    c->memory_hard = hard_bytes;
}

static int service_load(config *c, pp_config *root, pp_config *service)
{
    if (!service) {
        config_report(c, 0, root, "service",
                      "no pipelines defined (add a service section with pipelines)");
        return 0;
    }
    config_node_make_empty(service, PP_NODE_MAPPING);
    pp_config *pipelines = config_node_get(service, "pipelines", NULL);
    if (pipelines && pipelines->kind == PP_NODE_MAPPING && pipelines_adopt(c, pipelines) < 0)
        return -1;
    if (config_node_adopt(service, c, "service", "") < 0)
        return -1;
    if (service->kind != PP_NODE_MAPPING) {
        config_report(c, 0, service, NULL, "expected a mapping, got %s", config_kind_name(service));
        return 0;
    }
    if (pipelines_load(c, service, pipelines) < 0)
        return -1;
    config_check_mapping(service, service_options, NULL);
    service_settings set = {.telemetry.log_level = PP_LOG_INFO}; /* kept when refused */
    cfg_fill(service, service_options, &set); /* a bad value was reported by the check */
    c->shutdown_timeout_ns = set.shutdown_timeout_ns;
    c->ui_enabled = set.ui.enabled;
    c->ui_retention_ns = set.ui.retention_ns;
    c->ui_max_bytes = set.ui.max_bytes;
    service_memory_limit(c, service, &set.memory_limit);
    if (service_plugins(c, set.plugins) < 0 || service_telemetry(c, service, &set.telemetry) < 0)
        return -1;
    return 0;
}

/* ---------------------------------------------------------------- */
/* Loading                                                           */
/* ---------------------------------------------------------------- */

static void warn_unused(config *c)
{
    for (size_t i = 0; i < c->n_components; i++) {
        config_component *comp = &c->components[i];
        if (!comp->used)
            config_report(c, 1, comp->node, NULL, "defined but not used by any pipeline");
    }
}

/* Checks the root; returns -1 only when out of memory. */
static int config_load_root(config *c, pp_config *root)
{
    if (root->kind != PP_NODE_MAPPING) {
        config_report(c, 0, root, NULL,
                      "the config must be a mapping with receivers, "
                      "processors, exporters and service");
        return 0;
    }
    pp_config *service = NULL;
    for (size_t i = 0; i < root->n; i++) {
        pp_config *key = root->keys[i];
        size_t s = 0;
        while (s < N_SECTIONS && strcmp(key->text, section_names[s]) != 0)
            s++;
        if (s < N_SECTIONS) {
            if (section_load(c, s, key, root->items[i]) < 0)
                return -1;
        } else if (strcmp(key->text, "service") == 0) {
            service = service ? service : root->items[i];
        } else {
            report_key(c, NULL, key,
                       "unknown top-level section \"%s\" (valid: "
                       "receivers, processors, exporters, service)",
                       key->text);
        }
    }
    if (service_load(c, root, service) < 0)
        return -1;
    if (config_node_adopt(root, c, NULL, "") < 0)
        return -1;
    if (c->n_pipelines)
        warn_unused(c);
    return 0;
}

static config *config_new(const char *name)
{
    config *c = calloc(1, sizeof *c);
    config_priv *priv = calloc(1, sizeof *priv);
    if (!c || !priv || !(c->path = strdup(name ? name : "config"))) {
        free(c);
        free(priv);
        return NULL;
    }
    pthread_mutex_init(&priv->lock, NULL);
    c->priv = priv;
    c->log_level = PP_LOG_INFO;
    c->shutdown_timeout_ns = (int64_t)10 * 1000000000;
    c->ui_enabled = 1;
    c->ui_retention_ns = (int64_t)15 * 60 * 1000000000;
    c->ui_max_bytes = (int64_t)64 << 20;
    c->memory_check_interval_ns = (int64_t)100 * 1000000;
    return c;
}

config *config_load_string(const char *text, const char *name)
{
    config *c = config_new(name);
    if (!c)
        return NULL;
    config_priv *priv = c->priv;
    priv->root = config_node_parse(c, text, strlen(text));
    if (priv->root && config_load_root(c, priv->root) < 0) {
        config_free(c);
        return NULL;
    }
    if (!c->telemetry_address && !(c->telemetry_address = strdup("127.0.0.1:8888"))) {
        config_free(c);
        return NULL;
    }
    if (c->telemetry.max_connections == 0) { /* no telemetry options were read */
        listener_config_free(&c->telemetry);
        listener_config_defaults(&c->telemetry);
    }
    /* a malformed address is reported by the service checks */
    listener_config_set_address(&c->telemetry, c->telemetry_address);
    return c;
}

/* Reads a whole file; NULL with errno set. */
static char *read_text_file(const char *path)
{
    size_t len;
    return fileio_read_all(path, (size_t)CONFIG_MAX_FILE_BYTES, &len);
}

config *config_load_file(const char *path)
{
    char *text = read_text_file(path);
    if (!text) {
        int err = errno;
        config *c = config_new(path);
        if (c)
            config_add_error(c, NULL, NULL, "cannot read the config: %s", strerror(err));
        return c;
    }
    config *c = config_load_string(text, path);
    free(text);
    return c;
}

const pp_config *config_service(const config *c)
{
    const config_priv *priv = c ? c->priv : NULL;
    return priv ? config_node_get(priv->root, "service", NULL) : NULL;
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

void config_free(config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_components; i++) {
        free(c->components[i].id);
        free(c->components[i].type);
    }
    free(c->components);
    for (size_t i = 0; i < c->n_pipelines; i++) {
        config_pipeline *p = &c->pipelines[i];
        free(p->name);
        free_list(p->receivers, p->n_receivers);
        free_list(p->processors, p->n_processors);
        free_list(p->exporters, p->n_exporters);
    }
    free(c->pipelines);
    free_list(c->plugins, c->n_plugins);
    free(c->telemetry_address);
    listener_config_free(&c->telemetry);
    free_list(c->errors, c->n_errors);
    free_list(c->warnings, c->n_warnings);
    config_priv *priv = c->priv;
    if (priv) {
        config_node_free(priv->root);
        free_list(priv->scopes, priv->n_scopes);
        pthread_mutex_destroy(&priv->lock);
        free(priv);
    }
    free(c->path);
    free(c);
}
