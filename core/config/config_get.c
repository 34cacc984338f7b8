/* config_get: the config view components read through the host table.
 *
 * Every getter is a pure read of a tree that no longer changes after
 * loading and checking, so components call them from any thread without
 * locks. A key the config leaves out answers with its option's
 * default_value, parsed with the option's type; a key the table does not
 * know, or one of another type, answers 0 or NULL (a component bug, not a
 * user error, and never a crash). Nodes never checked against a table (the
 * inside of a PP_OPT_ANY option) answer with what is written. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_get.h"
#include "config_internal.h"

#define SECRET_MAX_BYTES ((long)1 << 20)
#define SECRET_KEY_MAX 256

/* The text for node[key] if it is a scalar of one of the allowed types
 * (any scalar type when `type` is 0): written, else the default. */
static const char *scalar_text(const pp_config *c, const char *key, pp_opt_type type)
{
    if (!c || !key || c->kind != PP_NODE_MAPPING)
        return NULL;
    const pp_option *opt = NULL;
    if (c->table || c->extra) {
        opt = config_option_find(c, key);
        if (!opt || (type ? opt->type != type : !config_type_is_scalar(opt->type)))
            return NULL;
    }
    const pp_config *v = config_node_get(c, key, NULL);
    if (v && v->kind != PP_NODE_SCALAR)
        return NULL;
    if (v && !v->is_null)
        return v->text;
    return opt ? opt->default_value : NULL;
}

const char *cfg_string(const pp_config *c, const char *key)
{
    const pp_option *opt = c && key && (c->table || c->extra) ? config_option_find(c, key) : NULL;
    /* a string option reads as written; other scalars as their text */
    return scalar_text(c, key, opt && opt->type == PP_OPT_STRING ? PP_OPT_STRING : 0);
}

const char *cfg_template(const pp_config *c, const char *key)
{
    const char *text = cfg_string(c, key);
    const pp_config *v = text ? config_node_get(c, key, NULL) : NULL;
    /* a written value's own text (the default has no `$$` to keep) */
    return v && v->kind == PP_NODE_SCALAR && v->template_text ? v->template_text : text;
}

int64_t cfg_int(const pp_config *c, const char *key)
{
    int64_t v;
    return config_parse_int(scalar_text(c, key, PP_OPT_INT), &v) < 0 ? 0 : v;
}

double cfg_double(const pp_config *c, const char *key)
{
    double v;
    return config_parse_double(scalar_text(c, key, PP_OPT_DOUBLE), &v) < 0 ? 0 : v;
}

int cfg_bool(const pp_config *c, const char *key)
{
    int v;
    return config_parse_bool(scalar_text(c, key, PP_OPT_BOOL), &v) < 0 ? 0 : v;
}

int64_t cfg_duration_ns(const pp_config *c, const char *key)
{
    int64_t v;
    return units_parse_duration_ns(scalar_text(c, key, PP_OPT_DURATION), &v) < 0 ? 0 : v;
}

int64_t cfg_size(const pp_config *c, const char *key)
{
    int64_t v;
    return units_parse_size(scalar_text(c, key, PP_OPT_SIZE), &v) < 0 ? 0 : v;
}

int cfg_is_set(const pp_config *c, const char *key)
{
    const pp_config *v = config_node_get(c, key, NULL);
    return v && !v->is_null;
}

const pp_config *cfg_child(const pp_config *c, const char *key)
{
    const pp_config *v = config_node_get(c, key, NULL);
    if (v || !c)
        return v;
    for (size_t i = 0; i < c->n_implicit; i++)
        if (strcmp(c->implicit_opts[i]->name, key) == 0)
            return c->implicit[i];
    return NULL;
}

pp_node_kind cfg_kind(const pp_config *node)
{
    return node ? node->kind : PP_NODE_ABSENT;
}

size_t cfg_count(const pp_config *node)
{
    return node && node->kind != PP_NODE_SCALAR ? node->n : 0;
}

const pp_config *cfg_item(const pp_config *node, size_t i)
{
    return node && node->kind != PP_NODE_SCALAR && i < node->n ? node->items[i] : NULL;
}

const char *cfg_key(const pp_config *node, size_t i)
{
    return node && node->kind == PP_NODE_MAPPING && i < node->n ? node->keys[i]->text : NULL;
}

const char *cfg_scalar(const pp_config *node)
{
    if (!node || node->kind != PP_NODE_SCALAR)
        return NULL;
    return node->is_null ? "" : node->text;
}

int cfg_error(const pp_config *c, const char *key, const char *fmt, ...)
{
    if (!c || !c->owner)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    config_vreport(c->owner, 0, c, key, fmt, ap);
    va_end(ap);
    return -1;
}

/* Reads a secret file with its trailing newlines cut; NULL with errno. */
static char *secret_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc((size_t)SECRET_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, (size_t)SECRET_MAX_BYTES + 1, f) : 0;
    int failed = !buf || ferror(f) || n > (size_t)SECRET_MAX_BYTES;
    int err = !buf ? ENOMEM : n > (size_t)SECRET_MAX_BYTES ? EFBIG : EIO;
    fclose(f);
    if (failed) {
        free(buf);
        errno = err;
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    char *s = realloc(buf, n + 1);
    return s ? s : buf;
}

char *cfg_secret(const pp_config *c, const char *key)
{
    if (!c || !key)
        return NULL;
    if (cfg_is_set(c, key)) {
        const char *v = cfg_string(c, key);
        return v ? strdup(v) : NULL;
    }
    char file_key[SECRET_KEY_MAX];
    snprintf(file_key, sizeof file_key, "%s_file", key);
    const char *path = cfg_string(c, file_key);
    if (path && *path) {
        char *s = secret_read(path);
        if (!s)
            cfg_error(c, file_key, "cannot read secret file \"%s\": %s", path, strerror(errno));
        return s;
    }
    const char *v = cfg_string(c, key);
    return v ? strdup(v) : NULL;
}

/* The option readers of the host table, for the libraries the loader
 * itself calls (lib/listener reads service.telemetry): the config room
 * has no host of its own, and the engine's is above it. */
static const pp_host config_host_table = {
    .abi_major = PP_ABI_MAJOR,
    .abi_minor = PP_ABI_MINOR,
    .size = sizeof(pp_host),
    CONFIG_HOST_READERS,
};

const pp_host *config_host(void)
{
    return &config_host_table;
}
