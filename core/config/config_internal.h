/* config_internal: what the config module's files share and nobody else
 * sees: the pp_config node, the loaded document's private part, and the
 * helpers that format errors and read nodes.
 *
 * A node is our own copy of a YAML node (not libyaml's), so that it can
 * carry what messages and getters need: its file position, the position
 * where it is named (its key, or its sequence item), the component scope
 * and key path it lives under, and, once config_check_options has run, the
 * option table that gives its absent keys their defaults. Nodes are
 * written only while loading and checking (one thread); after that every
 * getter only reads, so components may call them from any thread. */
#ifndef PROFPIPE_CONFIG_INTERNAL_H
#define PROFPIPE_CONFIG_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>

#include "config.h"
#include "config_fill.h"
#include "config_get.h"
#include "config_options.h"
#include "units.h"

struct pp_config {
    pp_node_kind kind;
    int is_null;              /* a plain empty, `~` or `null` scalar */
    int expand;               /* scalar value whose ${env:} is still to expand */
    int unexpanded;           /* its ${env:} failed (reported): no further checks */
    int reported;             /* checked against its option and found bad (reported) */
    int adopted;              /* expanded, checked and placed under a scope */
    int line, col;            /* where the value starts, 1-based */
    int name_line, name_col;  /* where it is named: its key or its `-` */
    char *text;               /* scalars: the value after ${env:} expansion */
    char *template_text;      /* the same with `$$` kept as written; NULL = no `$$` */
    size_t n;                 /* sequence items or mapping pairs */
    struct pp_config **items; /* sequence items, or mapping values */
    struct pp_config **keys;  /* mapping keys (scalar nodes), n of them */

    /* Set by config_check_options on mappings checked against a table. */
    const pp_option *table;
    const pp_option *extra;
    /* Sections the config leaves out, made empty so that their children's
     * defaults still reach the getters; never counted as set. */
    struct pp_config **implicit;
    const pp_option **implicit_opts;
    size_t n_implicit;

    config *owner;
    const char *scope; /* "receivers.file/in", "service"; owned by owner */
    char *path;        /* key path inside the scope: "rules[2].regex" */
};

/* Bounds on hostile input. */
#define CONFIG_MAX_DEPTH 64
#define CONFIG_MAX_NODES 100000
/* Bytes the node tree may hold (nodes, text, key paths), aliases
 * expanded: real configs hold kilobytes. */
#define CONFIG_MAX_BYTES ((size_t)32 << 20)

typedef struct config_priv {
    pp_config *root;
    pthread_mutex_t lock; /* errors and warnings may be added by create()s */
    char **scopes;        /* strings nodes' scope points into */
    size_t n_scopes;
} config_priv;

/* --- config_node.c: the node tree --- */

/* Parses YAML text into a node tree; syntax errors go to c. NULL when
 * the text has no document or a syntax error. */
pp_config *config_node_parse(config *c, const char *text, size_t len);
pp_config *config_node_new(pp_node_kind kind, int line, int col);
void config_node_free(pp_config *n);
/* The value under `key` in a mapping, or NULL; `*key_node` gets its key. */
pp_config *config_node_get(const pp_config *map, const char *key, pp_config **key_node);
/* Sets owner, scope and key paths on the subtree rooted at n. */
int config_node_adopt(pp_config *n, config *owner, const char *scope, const char *path);
/* Turns a null scalar into an empty mapping or sequence. */
void config_node_make_empty(pp_config *n, pp_node_kind kind);
const char *config_kind_name(const pp_config *n);

/* --- config.c: errors and warnings --- */

/* Formats "<file>:<line>:<col>: <scope>: <path>[.key]: <message>". */
void config_vreport(config *c, int warning, const pp_config *node, const char *key, const char *fmt,
                    va_list ap);
void config_report(config *c, int warning, const pp_config *node, const char *key, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));
/* Stores a formatted message; line 0 for none. */
void config_report_at(config *c, int warning, const char *scope, int line, int col,
                      const char *path, const char *what);
/* "expected <what>, got a list" at the node's value. */
void config_report_kind(const pp_config *n, const char *expected);
/* Stores a scope string for the config's lifetime. */
const char *config_scope(config *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- config_options.c --- */

/* Scalars as options hold them; 0, or -1 if text is not one. */
int config_parse_int(const char *text, int64_t *out);
int config_parse_double(const char *text, double *out);
int config_parse_bool(const char *text, int *out); /* `true` or `false` */
const char *config_type_name(pp_opt_type type);
int config_type_is_scalar(pp_opt_type type);
/* The printf format (one %s: the text) saying why text is not a value of
 * `type`, or NULL if it is one. */
const char *config_scalar_problem(pp_opt_type type, const char *text);

/* The option named `key` in the node's table or extra table, or NULL. */
const pp_option *config_option_find(const pp_config *n, const char *key);
/* Checks a mapping against tables; returns errors added. */
int config_check_mapping(pp_config *map, const pp_option *table, const pp_option *extra);

/* --- config_fill.c --- */

/* What the table allows beyond the type: "block or drop_oldest", "1 to
 * 64", "at least 1ms", "> 0"; 1 if anything, 0 (out = "") if not. */
int config_option_allowed(const pp_option *o, char *out, size_t len);

#endif
