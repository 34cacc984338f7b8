/* config: loads the YAML config with every node's file position, expands
 * ${env:NAME} and ${env:NAME:-default} in scalars ($$ is a literal $; any
 * other $ is left alone, so relabel's ${1} survives), checks the service
 * section and pipeline references, and checks each component's options
 * against its option table. Errors accumulate in the config (all of them
 * are reported, not only the first, in file order) as
 *   "<file>:<line>:<col>: <section>.<id>: <key path>: <why>"
 * e.g. "p.yaml:7:22: receivers.pprof_scrape/go: scrape_interval: invalid
 * duration "15x" (use e.g. 500ms, 15s, 2m)"; service-level ones under
 * "service" or "service.pipelines.<name>". A null value (`relabel:`) is an
 * empty mapping for a component, and "not set" for a scalar option.
 *
 * This header is config.c's: loading, the service section, component
 * lookup and messages, and the types the loaded config is made of. The
 * room's other files declare their own: config_options.h (checking and
 * printing option tables), config_get.h (the cfg_* view the host API
 * table hands to components), config_fill.h (cfg_fill), config_same.h
 * (comparing option trees for reloads), units.h (durations and sizes) and
 * memory_size.h. config_node.c's node tree is private to the room
 * (config_internal.h). */
#ifndef PROFPIPE_CONFIG_H
#define PROFPIPE_CONFIG_H

#include <profpipe/plugin.h>

#include "listener.h"

typedef enum queue_policy {
    QUEUE_BLOCK = 0,
    QUEUE_DROP_OLDEST = 1,
} queue_policy;

typedef struct config_component {
    char *id;   /* "pprof_scrape/go" */
    char *type; /* "pprof_scrape" */
    pp_kind kind;
    pp_config *node; /* its options (an empty mapping if none were written) */
    int line, col;   /* of the id */
    int used;        /* named by some pipeline */
} config_component;

typedef struct config_pipeline {
    char *name; /* "profiles/default" */
    char **receivers;
    size_t n_receivers;
    char **processors;
    size_t n_processors;
    char **exporters;
    size_t n_exporters;
    int64_t queue_size;  /* bytes; key `queue_size`, default 64MiB */
    queue_policy policy; /* key `full_policy`: block (default) | drop_oldest */
} config_pipeline;

typedef struct config {
    char *path;
    config_component *components;
    size_t n_components;
    config_pipeline *pipelines;
    size_t n_pipelines;
    char **plugins; /* service.plugins, as written */
    size_t n_plugins;
    char *telemetry_address;           /* default "127.0.0.1:8888"; "" disables */
    listener_config telemetry;         /* its limits, TLS and credentials; host NULL = off */
    pp_log_level log_level;            /* service.telemetry.log_level, default info */
    int64_t shutdown_timeout_ns;       /* service.shutdown_timeout, default 10s */
    int ui_enabled;                    /* service.ui.enabled, default on */
    int64_t ui_retention_ns;           /* service.ui.retention, default 15m */
    int64_t ui_max_bytes;              /* service.ui.max_bytes, default 64MiB */
    uint64_t memory_soft, memory_hard; /* service.memory_limit in bytes; 0 = none */
    int64_t memory_check_interval_ns;  /* its check_interval, default 100ms */

    char **errors; /* every error found so far, formatted */
    size_t n_errors;
    char **warnings;
    size_t n_warnings;
    void *priv; /* the YAML document and node storage */
} config;

/* Loads and checks the structure: top-level sections, component ids,
 * service keys, pipelines and what they name (an undefined component is
 * an error; a defined but unused one a warning). Returns NULL only when
 * out of memory; otherwise check n_errors. */
config *config_load_file(const char *path);
/* Same from text; `name` stands for the file name in messages. */
config *config_load_string(const char *text, const char *name);
void config_free(config *c);
/* Looks a component up by id; NULL if none. Kinds are separate
 * namespaces (receiver `file` and exporter `file` may both exist), so
 * config_find returns the first of any kind; prefer config_find_kind. */
config_component *config_find(config *c, const char *id);
config_component *config_find_kind(config *c, pp_kind kind, const char *id);

/* The `service` mapping as written (NULL if none), for the host's own
 * messages about it, e.g. at cfg_item(cfg_child(svc, "plugins"), i). */
const pp_config *config_service(const config *c);

/* Adds a formatted error (for the host's own checks of a config). The
 * message reads "<file>:<line>:<col>: <scope>: <key path>: <what>", at
 * node[key] (a scalar value's position, or where a list or mapping is
 * named), at node itself when key is NULL, or where node is named when it
 * has no such key; list items are numbered from 0 ("rules[0].regex").
 * Without a node it reads "<file>: <what>". */
void config_add_error(config *c, const pp_config *node, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
