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
 * Implemented in config.c (loading, service, messages), config_node.c
 * (YAML events to nodes, ${env:}), config_options.c (option tables),
 * config_get.c (the cfg_* view) and units.c.
 *
 * The pp_config node type is private to those files (config_internal.h);
 * the cfg_* functions below are what the host API table hands to
 * components. */
#ifndef PROFPIPE_CONFIG_H
#define PROFPIPE_CONFIG_H

#include <stdio.h>
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
/* 1 if two option trees hold the same keys and values (after ${env:}
 * expansion), in the same order. */
int config_same(const pp_config *a, const pp_config *b);
/* 1 if the tree names a file to read (a key ending in `_file`: TLS
 * certificates and keys, secrets), whose content a reload must read
 * again. */
int config_reads_files(const pp_config *c);

/* Checks a component's options against `table` and, when non-NULL,
 * `extra` (options the host adds to every exporter): unknown keys, wrong
 * types, missing required keys, bad durations and sizes, recursively for
 * sections. Annotates the nodes so the cfg_* getters find defaults.
 * Returns the number of errors added. */
int config_check_options(config *c, config_component *comp, const pp_option *table,
                         const pp_option *extra);

/* Looks a component up by id; NULL if none. Kinds are separate
 * namespaces (receiver `file` and exporter `file` may both exist), so
 * config_find returns the first of any kind; prefer config_find_kind. */
config_component *config_find(config *c, const char *id);
config_component *config_find_kind(config *c, pp_kind kind, const char *id);

/* Writes the option table for `profpipe components` (indent for nested
 * sections), or as a Markdown table for a component's README. */
void config_print_options(FILE *out, const pp_option *table, int indent);
void config_print_options_markdown(FILE *out, const pp_option *table);

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

/* Units, shared with the host API table. */
int units_parse_duration_ns(const char *text, int64_t *out);
int units_parse_size(const char *text, int64_t *out);

/* The host API's config view (see pp_host in plugin.h). A key left out
 * answers with its option's default_value, parsed with the option's type,
 * inside sections and section-list items too; an absent section reads as
 * an empty one (cfg_child is non-NULL, cfg_is_set 0). A key the table does
 * not know, or of another type, answers 0 or NULL (cfg_string reads any
 * scalar option as text). NULL nodes are allowed everywhere. Read-only
 * after loading and checking: safe from any thread. cfg_secret returns a
 * malloc'd string. */
/* A host table holding only the option readers below (cfg_*,
 * parse_*), for libraries the loader calls; every other member is NULL. */
const pp_host *config_host(void);
/* Those readers as pp_host initialisers: the engine's table and
 * config_host() both use this one list. */
#define CONFIG_HOST_READERS                                                                        \
    .cfg_string = cfg_string, .cfg_int = cfg_int, .cfg_double = cfg_double, .cfg_bool = cfg_bool,  \
    .cfg_duration_ns = cfg_duration_ns, .cfg_size = cfg_size, .cfg_is_set = cfg_is_set,            \
    .cfg_child = cfg_child, .cfg_kind = cfg_kind, .cfg_count = cfg_count, .cfg_item = cfg_item,    \
    .cfg_key = cfg_key, .cfg_scalar = cfg_scalar, .cfg_secret = cfg_secret,                        \
    .cfg_error = cfg_error, .parse_duration_ns = units_parse_duration_ns,                          \
    .parse_size = units_parse_size

const char *cfg_string(const pp_config *c, const char *key);
const char *cfg_template(const pp_config *c, const char *key);
int64_t cfg_int(const pp_config *c, const char *key);
double cfg_double(const pp_config *c, const char *key);
int cfg_bool(const pp_config *c, const char *key);
int64_t cfg_duration_ns(const pp_config *c, const char *key);
int64_t cfg_size(const pp_config *c, const char *key);
int cfg_is_set(const pp_config *c, const char *key);
const pp_config *cfg_child(const pp_config *c, const char *key);
pp_node_kind cfg_kind(const pp_config *node);
size_t cfg_count(const pp_config *node);
const pp_config *cfg_item(const pp_config *node, size_t i);
const char *cfg_key(const pp_config *node, size_t i);
const char *cfg_scalar(const pp_config *node);
char *cfg_secret(const pp_config *c, const char *key);
int cfg_error(const pp_config *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* config_fill.c: parses, checks and stores every option of `table` into
 * out (see pp_host.cfg_fill); 0, or -1 after reporting. */
int cfg_fill(const pp_config *c, const pp_option *table, void *out);

#endif
