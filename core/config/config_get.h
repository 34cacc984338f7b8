/* config_get: the host API's view of the config nodes (the cfg_* members
 * of pp_host in plugin.h). */
#ifndef PROFPIPE_CONFIG_GET_H
#define PROFPIPE_CONFIG_GET_H

#include <stdint.h>

#include <profpipe/plugin.h>

#include "units.h"

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

#endif
