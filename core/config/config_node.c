/* config_node: builds our node tree from libyaml's event stream, and
 * places subtrees under a scope (expanding ${env:...}, rejecting duplicate
 * keys, giving every node its key path).
 *
 * Events, not libyaml's document API, because we want one recursive pass
 * that keeps both the value position and the position where a value is
 * named, bounds depth, node count and bytes (a YAML file is hostile input:
 * deep nesting and alias "billion laughs" expansions), and copies aliases
 * so that every node has exactly one parent and one key path.
 *
 * The byte bound charges each node what it will hold once adopted: the
 * node itself, its text and its key path (the path of its parent plus its
 * own key or index). An alias charges every node it copies at the path of
 * the copy, so a small document whose aliases nest (or whose alias copies
 * a long scalar many times) is refused at the alias that crosses the
 * bound, before the memory is taken.
 *
 * Expansion waits until a node is adopted under a scope, so that a missing
 * variable is reported as "<scope>: <key path>: ..." like every other
 * error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config_internal.h"

typedef struct yaml_anchor {
    char *name;
    pp_config *node; /* borrowed from the tree */
} yaml_anchor;

typedef struct node_builder {
    yaml_parser_t parser;
    config *c;
    size_t n_nodes;
    size_t n_bytes;    /* charged so far, bounded by CONFIG_MAX_BYTES */
    const char *alias; /* the alias being copied, for the message */
    yaml_anchor *anchors;
    size_t n_anchors;
} node_builder;

pp_config *config_node_new(pp_node_kind kind, int line, int col)
{
    pp_config *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->line = n->name_line = line;
    n->col = n->name_col = col;
    return n;
}

void config_node_free(pp_config *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        config_node_free(n->items[i]);
        if (n->keys)
            config_node_free(n->keys[i]);
    }
    for (size_t i = 0; i < n->n_implicit; i++)
        config_node_free(n->implicit[i]);
    free(n->items);
    free(n->keys);
    free(n->implicit);
    free(n->implicit_opts);
    free(n->text);
    free(n->template_text);
    free(n->path);
    free(n);
}

const char *config_kind_name(const pp_config *n)
{
    if (!n || n->kind == PP_NODE_ABSENT)
        return "nothing";
    if (n->kind == PP_NODE_SEQUENCE)
        return "a list";
    if (n->kind == PP_NODE_MAPPING)
        return "a mapping";
    return n->is_null ? "null" : "a scalar";
}

void config_node_make_empty(pp_config *n, pp_node_kind kind)
{
    if (n->kind == PP_NODE_SCALAR && n->is_null) {
        n->kind = kind;
        n->is_null = 0;
        free(n->text);
        n->text = NULL;
    }
}

pp_config *config_node_get(const pp_config *map, const char *key, pp_config **key_node)
{
    if (!map || map->kind != PP_NODE_MAPPING || !key)
        return NULL;
    for (size_t i = 0; i < map->n; i++) {
        if (strcmp(map->keys[i]->text, key) == 0) {
            if (key_node)
                *key_node = map->keys[i];
            return map->items[i];
        }
    }
    return NULL;
}

/* Appends (key may be NULL for sequences); 0 or -1 out of memory. */
static int node_append(pp_config *parent, pp_config *key, pp_config *value)
{
    size_t n = parent->n + 1;
    pp_config **items = realloc(parent->items, n * sizeof *items);
    if (!items)
        return -1;
    parent->items = items;
    if (key) {
        pp_config **keys = realloc(parent->keys, n * sizeof *keys);
        if (!keys)
            return -1;
        parent->keys = keys;
        keys[parent->n] = key;
    }
    items[parent->n] = value;
    parent->n = n;
    return 0;
}

/* ---------------------------------------------------------------- */
/* Building from events                                              */
/* ---------------------------------------------------------------- */

static void builder_error(node_builder *b, int line, int col, const char *what)
{
    config_report_at(b->c, 0, NULL, line, col, NULL, what);
}

static int builder_next(node_builder *b, yaml_event_t *ev)
{
    if (yaml_parser_parse(&b->parser, ev))
        return 0;
    const yaml_parser_t *p = &b->parser;
    char what[512];
    if (p->context)
        snprintf(what, sizeof what, "YAML syntax error: %s %s", p->problem ? p->problem : "",
                 p->context);
    else
        snprintf(what, sizeof what, "YAML syntax error: %s",
                 p->problem ? p->problem : "invalid input");
    builder_error(b, (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1, what);
    return -1;
}

static int is_null_text(const char *s)
{
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* Charges one node of `text_len` bytes of text at key path length
 * `path_len`; -1 with an error at line:col when a bound is crossed. */
static int builder_count(node_builder *b, int line, int col, size_t text_len, size_t path_len)
{
    if (++b->n_nodes > CONFIG_MAX_NODES) {
        builder_error(b, line, col, "too many YAML nodes (alias expansion?)");
        return -1;
    }
    size_t cost = sizeof(pp_config) + text_len + path_len;
    if (cost <= CONFIG_MAX_BYTES - b->n_bytes) {
        b->n_bytes += cost;
        return 0;
    }
    char what[512];
    if (b->alias)
        snprintf(what, sizeof what,
                 "alias *%.64s expands the config past %zu MiB (nested aliases?)", b->alias,
                 (size_t)CONFIG_MAX_BYTES >> 20);
    else
        snprintf(what, sizeof what, "the config holds more than %zu MiB",
                 (size_t)CONFIG_MAX_BYTES >> 20);
    builder_error(b, line, col, what);
    b->n_bytes = CONFIG_MAX_BYTES; /* and stays there: nothing more is built */
    return -1;
}

/* Key path length of item i of a sequence: "<path>[i]". */
static size_t index_path_len(size_t path_len, size_t i)
{
    char digits[24];
    return path_len + (size_t)snprintf(digits, sizeof digits, "[%zu]", i);
}

/* Key path length of the value under `key`: "<path>.key" (or "key"). */
static size_t key_path_len(size_t path_len, const char *key)
{
    return path_len + (path_len ? 1 : 0) + strlen(key);
}

static pp_config *node_copy(node_builder *b, const pp_config *src, int line, int col,
                            size_t path_len)
{
    if (builder_count(b, line, col, src->text ? strlen(src->text) : 0, path_len) < 0)
        return NULL;
    pp_config *n = config_node_new(src->kind, src->line, src->col);
    if (!n)
        return NULL;
    n->is_null = src->is_null;
    n->expand = src->expand;
    if (src->text && !(n->text = strdup(src->text)))
        goto fail;
    for (size_t i = 0; i < src->n; i++) {
        size_t child =
            src->keys ? key_path_len(path_len, src->keys[i]->text) : index_path_len(path_len, i);
        pp_config *k = src->keys ? node_copy(b, src->keys[i], line, col, child) : NULL;
        pp_config *v = node_copy(b, src->items[i], line, col, child);
        if (!v || (src->keys && !k) || node_append(n, k, v) < 0) {
            config_node_free(k);
            config_node_free(v);
            goto fail;
        }
        v->name_line = src->items[i]->name_line;
        v->name_col = src->items[i]->name_col;
    }
    return n;
fail:
    config_node_free(n);
    return NULL;
}

static int builder_anchor(node_builder *b, const yaml_char_t *name, pp_config *n)
{
    if (!name)
        return 0;
    yaml_anchor *a = realloc(b->anchors, (b->n_anchors + 1) * sizeof *a);
    if (!a)
        return -1;
    b->anchors = a;
    if (!(a[b->n_anchors].name = strdup((const char *)name)))
        return -1;
    a[b->n_anchors++].node = n;
    return 0;
}

static pp_config *builder_alias(node_builder *b, const yaml_event_t *ev, int line, int col,
                                size_t path_len)
{
    const char *name = (const char *)ev->data.alias.anchor;
    for (size_t i = b->n_anchors; i-- > 0;) {
        if (strcmp(b->anchors[i].name, name) == 0) {
            b->alias = name;
            pp_config *n = node_copy(b, b->anchors[i].node, line, col, path_len);
            b->alias = NULL;
            if (n) {
                n->line = line;
                n->col = col;
            }
            return n;
        }
    }
    char what[256];
    snprintf(what, sizeof what, "unknown alias *%s", name);
    builder_error(b, line, col, what);
    return NULL;
}

static pp_config *builder_node(node_builder *b, yaml_event_t *ev, int depth, size_t path_len);

/* Reads children until the end event of a sequence or mapping. */
static int builder_children(node_builder *b, pp_config *n, int depth, size_t path_len)
{
    yaml_event_type_t end =
        n->kind == PP_NODE_MAPPING ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
    for (;;) {
        yaml_event_t ev;
        if (builder_next(b, &ev) < 0)
            return -1;
        if (ev.type == end) {
            yaml_event_delete(&ev);
            return 0;
        }
        pp_config *key = NULL;
        if (n->kind == PP_NODE_MAPPING) {
            if (ev.type != YAML_SCALAR_EVENT) {
                builder_error(b, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                              "mapping keys must be plain strings");
                yaml_event_delete(&ev);
                return -1;
            }
            key = builder_node(b, &ev, depth + 1, path_len);
            yaml_event_delete(&ev);
            if (!key)
                return -1;
            key->expand = 0;
            if (builder_next(b, &ev) < 0) {
                config_node_free(key);
                return -1;
            }
        }
        size_t child = key ? key_path_len(path_len, key->text) : index_path_len(path_len, n->n);
        pp_config *value = builder_node(b, &ev, depth + 1, child);
        yaml_event_delete(&ev);
        if (!value || node_append(n, key, value) < 0) {
            config_node_free(key);
            config_node_free(value);
            return -1;
        }
        if (key) {
            value->name_line = key->line;
            value->name_col = key->col;
        }
    }
}

static pp_config *builder_node(node_builder *b, yaml_event_t *ev, int depth, size_t path_len)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    if (depth > CONFIG_MAX_DEPTH) {
        builder_error(b, line, col, "YAML nested too deeply");
        return NULL;
    }
    if (ev->type == YAML_ALIAS_EVENT)
        return builder_alias(b, ev, line, col, path_len);
    size_t text_len = ev->type == YAML_SCALAR_EVENT ? ev->data.scalar.length : 0;
    if (builder_count(b, line, col, text_len, path_len) < 0)
        return NULL;
    pp_config *n = NULL;
    const yaml_char_t *anchor = NULL;
    if (ev->type == YAML_SCALAR_EVENT) {
        if (!(n = config_node_new(PP_NODE_SCALAR, line, col)))
            return NULL;
        if (!(n->text = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length)))
            goto fail;
        n->is_null = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && is_null_text(n->text);
        n->expand = 1;
        anchor = ev->data.scalar.anchor;
    } else if (ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT) {
        int map = ev->type == YAML_MAPPING_START_EVENT;
        if (!(n = config_node_new(map ? PP_NODE_MAPPING : PP_NODE_SEQUENCE, line, col)))
            return NULL;
        anchor = map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
        if (builder_children(b, n, depth, path_len) < 0)
            goto fail;
    } else {
        builder_error(b, line, col, "unexpected YAML event");
        return NULL;
    }
    if (builder_anchor(b, anchor, n) < 0)
        goto fail;
    return n;
fail:
    config_node_free(n);
    return NULL;
}

/* Skips to the first document's root event; 1 found, 0 empty, -1 error. */
static int builder_document(node_builder *b, yaml_event_t *ev)
{
    for (;;) {
        if (builder_next(b, ev) < 0)
            return -1;
        if (ev->type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(ev);
            return 0;
        }
        if (ev->type != YAML_STREAM_START_EVENT && ev->type != YAML_DOCUMENT_START_EVENT)
            return 1;
        yaml_event_delete(ev);
    }
}

/* After the root: the document must end, and no second one follow. */
static int builder_finish(node_builder *b)
{
    yaml_event_t ev;
    if (builder_next(b, &ev) < 0)
        return -1;
    yaml_event_delete(&ev);
    if (builder_next(b, &ev) < 0)
        return -1;
    int extra = ev.type != YAML_STREAM_END_EVENT;
    if (extra)
        builder_error(b, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                      "only one YAML document is allowed");
    yaml_event_delete(&ev);
    return extra ? -1 : 0;
}

pp_config *config_node_parse(config *c, const char *text, size_t len)
{
    node_builder b = {.c = c};
    if (!yaml_parser_initialize(&b.parser))
        return NULL;
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
    yaml_event_t ev;
    pp_config *root = NULL;
    int found = builder_document(&b, &ev);
    if (found == 0)
        config_add_error(c, NULL, NULL, "the config is empty");
    if (found == 1) {
        root = builder_node(&b, &ev, 0, 0);
        yaml_event_delete(&ev);
        if (root && builder_finish(&b) < 0) {
            config_node_free(root);
            root = NULL;
        }
    }
    for (size_t i = 0; i < b.n_anchors; i++)
        free(b.anchors[i].name);
    free(b.anchors);
    yaml_parser_delete(&b.parser);
    return root;
}

/* ---------------------------------------------------------------- */
/* ${env:NAME} and ${env:NAME:-default}                              */
/* ---------------------------------------------------------------- */

#define ENV_PREFIX "${env:"

typedef struct text_buf {
    char *data;
    size_t len, cap;
} text_buf;

static int buf_put(text_buf *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *d = realloc(t->data, cap);
        if (!d)
            return -1;
        t->data = d;
        t->cap = cap;
    }
    memcpy(t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = '\0';
    return 0;
}

static int env_name_ok(const char *s, size_t n)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9')))
            return 0;
    }
    return 1;
}

/* Expands one ${env:...} whose inside is [s, s+n); the reason on error. */
static int expand_one(text_buf *out, const char *s, size_t n, char *why, size_t whylen)
{
    const char *sep = memmem(s, n, ":-", 2);
    size_t name_len = sep ? (size_t)(sep - s) : n;
    if (!env_name_ok(s, name_len)) {
        snprintf(why, whylen, "invalid variable name in \"" ENV_PREFIX "%.*s}\"", (int)n, s);
        return -1;
    }
    char name[256];
    if (name_len >= sizeof name) {
        snprintf(why, whylen, "variable name too long");
        return -1;
    }
    memcpy(name, s, name_len);
    name[name_len] = '\0';
    const char *value = getenv(name);
    if (sep && (!value || !*value))
        return buf_put(out, sep + 2, n - name_len - 2);
    if (!value) {
        snprintf(why, whylen,
                 "environment variable %.64s is not set (give a default with " ENV_PREFIX
                 "%.64s:-default})",
                 name, name);
        return -1;
    }
    return buf_put(out, value, strlen(value));
}

/* Returns the malloc'd expansion, or NULL with the reason in why. `$$`
 * is a literal `$` (and so `$${env:X}` a literal `${env:X}`); with
 * keep_dollars it is copied as `$$` instead, for values whose reader
 * gives `$` a meaning of its own and unescapes `$$` itself. */
static char *expand_env(const char *in, int keep_dollars, char *why, size_t whylen)
{
    text_buf out = {0};
    if (buf_put(&out, "", 0) < 0)
        goto oom;
    for (const char *p = in; *p;) {
        const char *dollar = strchr(p, '$');
        if (!dollar)
            dollar = p + strlen(p);
        if (buf_put(&out, p, (size_t)(dollar - p)) < 0)
            goto oom;
        p = dollar;
        if (!*p)
            break;
        if (p[1] == '$') {
            if (buf_put(&out, "$$", keep_dollars ? 2 : 1) < 0)
                goto oom;
            p += 2;
        } else if (strncmp(p, ENV_PREFIX, strlen(ENV_PREFIX)) == 0) {
            const char *inner = p + strlen(ENV_PREFIX);
            const char *close = strchr(inner, '}');
            if (!close) {
                snprintf(why, whylen, "unterminated \"" ENV_PREFIX "\" (missing '}')");
                free(out.data);
                return NULL;
            }
            if (expand_one(&out, inner, (size_t)(close - inner), why, whylen) < 0) {
                free(out.data);
                return NULL;
            }
            p = close + 1;
        } else {
            /* `${1}` in a relabel replacement is not ours to expand */
            if (buf_put(&out, "$", 1) < 0)
                goto oom;
            p++;
        }
    }
    return out.data;
oom:
    free(out.data);
    snprintf(why, whylen, "out of memory");
    return NULL;
}

/* ---------------------------------------------------------------- */
/* Adoption: scope, key path, expansion, duplicate keys              */
/* ---------------------------------------------------------------- */

static char *path_join_key(const char *path, const char *key)
{
    char *s = NULL;
    int rc = *path ? asprintf(&s, "%s.%s", path, key) : asprintf(&s, "%s", key);
    return rc < 0 ? NULL : s;
}

static char *path_join_index(const char *path, size_t i)
{
    char *s = NULL;
    return asprintf(&s, "%s[%zu]", path, i) < 0 ? NULL : s;
}

static void adopt_scalar(pp_config *n)
{
    if (!n->expand)
        return;
    n->expand = 0;
    char why[512];
    char *value = expand_env(n->text, 0, why, sizeof why);
    if (!value) {
        config_report(n->owner, 0, n, NULL, "%s", why);
        n->unexpanded = 1;
        return;
    }
    /* the same expansion with `$$` kept (NULL when out of memory: the
     * getter then answers with the plain text) */
    if (strstr(n->text, "$$"))
        n->template_text = expand_env(n->text, 1, why, sizeof why);
    free(n->text);
    n->text = value;
}

static void adopt_duplicates(pp_config *n)
{
    for (size_t i = 1; i < n->n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(n->keys[i]->text, n->keys[j]->text) == 0) {
                config_report(n->owner, 0, n->keys[i], NULL, "duplicate key (first at line %d)",
                              n->keys[j]->line);
                break;
            }
        }
    }
}

int config_node_adopt(pp_config *n, config *owner, const char *scope, const char *path)
{
    if (n->adopted)
        return 0;
    n->adopted = 1;
    n->owner = owner;
    n->scope = scope;
    free(n->path);
    if (!(n->path = strdup(path)))
        return -1;
    for (size_t i = 0; i < n->n; i++) {
        char *child = n->keys ? path_join_key(path, n->keys[i]->text) : path_join_index(path, i);
        if (!child)
            return -1;
        int rc = 0;
        if (n->keys) {
            pp_config *k = n->keys[i];
            k->owner = owner;
            k->scope = scope;
            k->adopted = 1;
            free(k->path);
            rc = (k->path = strdup(child)) ? 0 : -1;
        }
        if (rc == 0)
            rc = config_node_adopt(n->items[i], owner, scope, child);
        free(child);
        if (rc < 0)
            return -1;
    }
    if (n->kind == PP_NODE_SCALAR)
        adopt_scalar(n);
    if (n->kind == PP_NODE_MAPPING)
        adopt_duplicates(n);
    return 0;
}
