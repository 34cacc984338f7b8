/* config_options: checks a mapping against an option table, and prints
 * option tables for `profpipe components` and component READMEs.
 *
 * The table is the single truth (Fluent Bit's config map): the same rows
 * reject unknown keys, check types, give absent keys their defaults, and
 * document the component. Checking annotates each mapping with its table
 * so that the getters in config_get.c can answer with the default when a
 * key is not written, at any depth. Sections the config leaves out get an
 * empty "implicit" mapping for the same reason: a component reading
 * cfg_child(cfg, "retry_on_failure") then initial_interval gets 5s rather
 * than nothing.
 *
 * A null value (`key:` with nothing after it) means "not set" for scalar
 * options and "empty" for lists, maps and sections, as in the OpenTelemetry
 * Collector. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config_options.h"
#include "config_internal.h"

#define SECRET_FILE_SUFFIX "_file"
#define PRINT_NAME_WIDTH 28
#define PRINT_TYPE_WIDTH 18
#define PRINT_DEFAULT_WIDTH 16

/* ---------------------------------------------------------------- */
/* Scalars                                                           */
/* ---------------------------------------------------------------- */

/* strtoll and strtod skip leading blanks and take "0x" forms; we do not. */
static int starts_like_number(const char *text)
{
    return text && ((*text >= '0' && *text <= '9') || *text == '-' || *text == '+' || *text == '.');
}

int config_parse_int(const char *text, int64_t *out)
{
    if (!starts_like_number(text))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int config_parse_double(const char *text, double *out)
{
    if (!starts_like_number(text) || strpbrk(text, "xX"))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int config_parse_bool(const char *text, int *out)
{
    if (text && strcmp(text, "true") == 0)
        *out = 1;
    else if (text && strcmp(text, "false") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

const char *config_type_name(pp_opt_type type)
{
    switch (type) {
    case PP_OPT_STRING:
        return "string";
    case PP_OPT_INT:
        return "int";
    case PP_OPT_DOUBLE:
        return "number";
    case PP_OPT_BOOL:
        return "bool";
    case PP_OPT_DURATION:
        return "duration";
    case PP_OPT_SIZE:
        return "size";
    case PP_OPT_STRING_LIST:
        return "list of strings";
    case PP_OPT_STRING_MAP:
        return "map of strings";
    case PP_OPT_SECTION:
        return "section";
    case PP_OPT_SECTION_LIST:
        return "list of sections";
    case PP_OPT_ANY:
        return "any";
    }
    return "?";
}

int config_type_is_scalar(pp_opt_type type)
{
    return type >= PP_OPT_STRING && type <= PP_OPT_SIZE;
}

/* The reason text is not a valid value of `type`, or NULL if it is. */
const char *config_scalar_problem(pp_opt_type type, const char *text)
{
    int64_t i;
    double d;
    int b;
    switch (type) {
    case PP_OPT_INT:
        return config_parse_int(text, &i) < 0 ? "invalid integer \"%s\"" : NULL;
    case PP_OPT_DOUBLE:
        return config_parse_double(text, &d) < 0 ? "invalid number \"%s\"" : NULL;
    case PP_OPT_BOOL:
        return config_parse_bool(text, &b) < 0 ? "invalid boolean \"%s\" (use true or false)"
                                               : NULL;
    case PP_OPT_DURATION:
        return units_parse_duration_ns(text, &i) < 0
                   ? "invalid duration \"%s\" (use e.g. 500ms, 15s, 2m)"
                   : NULL;
    case PP_OPT_SIZE:
        return units_parse_size(text, &i) < 0
                   ? "invalid size \"%s\" (use e.g. 512, 64KiB, 10MiB, 1GB)"
                   : NULL;
    default:
        return NULL;
    }
}

/* ---------------------------------------------------------------- */
/* Checking                                                          */
/* ---------------------------------------------------------------- */

const pp_option *config_option_find(const pp_config *n, const char *key)
{
    const pp_option *tables[] = {n->table, n->extra};
    for (size_t t = 0; t < 2; t++)
        for (const pp_option *o = tables[t]; o && o->name; o++)
            if (strcmp(o->name, key) == 0)
                return o;
    return NULL;
}

static int check_map(pp_config *map, const pp_option *table, const pp_option *extra,
                     int check_required);

static void check_scalars(pp_config *v)
{
    for (size_t i = 0; i < v->n; i++) {
        pp_config *item = v->items[i];
        if (item->kind != PP_NODE_SCALAR || item->is_null)
            config_report_kind(item, "a string");
    }
}

static void check_value(const pp_option *opt, pp_config *v)
{
    if (config_type_is_scalar(opt->type)) {
        const char *problem;
        if (v->kind != PP_NODE_SCALAR) {
            config_report_kind(v, opt->type == PP_OPT_STRING ? "a string" : "a scalar");
            v->reported = 1;
        } else if (!v->is_null && !v->unexpanded &&
                   (problem = config_scalar_problem(opt->type, v->text))) {
            config_report(v->owner, 0, v, NULL, problem, v->text);
            v->reported = 1;
        }
        return;
    }
    switch (opt->type) {
    case PP_OPT_STRING_LIST:
    case PP_OPT_SECTION_LIST:
        config_node_make_empty(v, PP_NODE_SEQUENCE);
        if (v->kind != PP_NODE_SEQUENCE) {
            config_report_kind(v, "a list");
            return;
        }
        for (size_t i = 0; opt->type == PP_OPT_SECTION_LIST && i < v->n; i++)
            check_map(v->items[i], opt->children, NULL, 1);
        if (opt->type == PP_OPT_STRING_LIST)
            check_scalars(v);
        return;
    case PP_OPT_STRING_MAP:
        config_node_make_empty(v, PP_NODE_MAPPING);
        if (v->kind != PP_NODE_MAPPING)
            config_report_kind(v, "a mapping of strings");
        else
            check_scalars(v);
        return;
    case PP_OPT_SECTION:
        check_map(v, opt->children, NULL, 1);
        return;
    default:
        return; /* PP_OPT_ANY: the component checks it */
    }
}

static void implicit_clear(pp_config *map)
{
    for (size_t i = 0; i < map->n_implicit; i++)
        config_node_free(map->implicit[i]);
    free(map->implicit);
    free(map->implicit_opts);
    map->implicit = NULL;
    map->implicit_opts = NULL;
    map->n_implicit = 0;
}

/* Puts a node made from a table's default where its parent is named. */
static void implicit_place(pp_config *n, int line, int col)
{
    n->line = n->name_line = line;
    n->col = n->name_col = col;
    for (size_t i = 0; i < n->n; i++) {
        implicit_place(n->items[i], line, col);
        if (n->keys)
            implicit_place(n->keys[i], line, col);
    }
}

/* The node an absent option stands for: an empty mapping for a section,
 * the parsed default_value for lists, maps and ANY; NULL when there is
 * none (or out of memory, or a default that does not parse). */
static pp_config *implicit_node(pp_config *map, const pp_option *opt)
{
    pp_config *n = NULL;
    if (opt->type == PP_OPT_SECTION)
        n = config_node_new(PP_NODE_MAPPING, map->name_line, map->name_col);
    else if (!config_type_is_scalar(opt->type) && opt->default_value)
        n = config_node_parse(map->owner, opt->default_value, strlen(opt->default_value));
    if (!n)
        return NULL;
    implicit_place(n, map->name_line, map->name_col);
    char *path = NULL;
    if (asprintf(&path, "%s%s%s", map->path ? map->path : "", map->path && *map->path ? "." : "",
                 opt->name) < 0 ||
        config_node_adopt(n, map->owner, map->scope, path) < 0) {
        free(path);
        config_node_free(n);
        return NULL;
    }
    free(path);
    return n;
}

/* Gives an absent option its implicit node, if it has one; -1 out of
 * memory. */
static int implicit_add(pp_config *map, const pp_option *opt)
{
    pp_config *n = implicit_node(map, opt);
    if (!n)
        return 0;
    size_t count = map->n_implicit + 1;
    pp_config **nodes = realloc(map->implicit, count * sizeof *nodes);
    if (nodes)
        map->implicit = nodes;
    const pp_option **opts = realloc(map->implicit_opts, count * sizeof *opts);
    if (opts)
        map->implicit_opts = opts;
    if (!nodes || !opts) {
        config_node_free(n);
        return -1;
    }
    nodes[map->n_implicit] = n;
    opts[map->n_implicit] = opt;
    map->n_implicit = count;
    if (opt->type == PP_OPT_SECTION)
        return check_map(n, opt->children, NULL, 0);
    check_value(opt, n);
    return 0;
}

/* A default the option's own type cannot parse is a bug in the table;
 * say so where the user would look, rather than read it as 0. */
static void check_default(pp_config *map, const pp_option *opt)
{
    const char *problem;
    if (config_type_is_scalar(opt->type) && opt->default_value &&
        (problem = config_scalar_problem(opt->type, opt->default_value))) {
        char what[256];
        snprintf(what, sizeof what, problem, opt->default_value);
        config_report(map->owner, 0, map, opt->name, "the option table's default is wrong: %s",
                      what);
    }
}

/* `key` and `key_file` both written: one of them would be ignored. */
static void check_secret_pair(pp_config *map, const pp_option *opt)
{
    size_t len = strlen(opt->name), suffix = strlen(SECRET_FILE_SUFFIX);
    if (len <= suffix || strcmp(opt->name + len - suffix, SECRET_FILE_SUFFIX) != 0)
        return;
    char base[256];
    snprintf(base, sizeof base, "%.*s", (int)(len - suffix), opt->name);
    const pp_config *a = config_node_get(map, base, NULL);
    const pp_config *b = config_node_get(map, opt->name, NULL);
    if (a && b && !a->is_null && !b->is_null && config_option_find(map, base))
        config_report(map->owner, 0, map, opt->name, "set either %s or %s, not both", base,
                      opt->name);
}

static void valid_keys(const pp_config *map, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    const pp_option *tables[] = {map->table, map->extra};
    for (size_t t = 0; t < 2; t++)
        for (const pp_option *o = tables[t]; o && o->name && used < len; o++)
            used += (size_t)snprintf(out + used, len - used, "%s%s", used ? ", " : "", o->name);
}

/* Per-table pass over the options: required keys, absent options. */
static int check_table(pp_config *map, const pp_option *table, int check_required)
{
    for (const pp_option *o = table; o && o->name; o++) {
        const pp_config *v = config_node_get(map, o->name, NULL);
        if (check_required && o->required && (!v || v->is_null))
            config_report(map->owner, 0, map, o->name, "required option is missing");
        if (!v && implicit_add(map, o) < 0)
            return -1;
        check_default(map, o);
        check_secret_pair(map, o);
    }
    return 0;
}

static int check_map(pp_config *map, const pp_option *table, const pp_option *extra,
                     int check_required)
{
    config_node_make_empty(map, PP_NODE_MAPPING);
    if (map->kind != PP_NODE_MAPPING) {
        config_report_kind(map, "a mapping");
        return 0;
    }
    implicit_clear(map);
    map->table = table;
    map->extra = extra;
    for (size_t i = 0; i < map->n; i++) {
        const pp_option *opt = config_option_find(map, map->keys[i]->text);
        if (opt) {
            check_value(opt, map->items[i]);
            continue;
        }
        char valid[1024];
        valid_keys(map, valid, sizeof valid);
        config_report(map->owner, 0, map->keys[i], NULL, "unknown option (valid: %s)",
                      *valid ? valid : "none");
    }
    if (check_table(map, table, check_required) < 0 || check_table(map, extra, check_required) < 0)
        return -1;
    return 0;
}

static size_t error_count(config *c)
{
    config_priv *priv = c->priv;
    pthread_mutex_lock(&priv->lock);
    size_t n = c->n_errors;
    pthread_mutex_unlock(&priv->lock);
    return n;
}

int config_check_mapping(pp_config *map, const pp_option *table, const pp_option *extra)
{
    size_t before = error_count(map->owner);
    if (check_map(map, table, extra, 1) < 0)
        config_report(map->owner, 0, map, NULL, "out of memory");
    return (int)(error_count(map->owner) - before);
}

int config_check_options(config *c, config_component *comp, const pp_option *table,
                         const pp_option *extra)
{
    if (!c || !comp || !comp->node || comp->node->kind != PP_NODE_MAPPING)
        return 0; /* a component that is not a mapping was reported at load */
    return config_check_mapping(comp->node, table, extra);
}

/* ---------------------------------------------------------------- */
/* Printing                                                          */
/* ---------------------------------------------------------------- */

void config_print_options(FILE *out, const pp_option *table, int indent)
{
    int width = indent < PRINT_NAME_WIDTH ? PRINT_NAME_WIDTH - indent : 1;
    for (const pp_option *o = table; o && o->name; o++) {
        char allowed[512];
        int has_allowed = config_option_allowed(o, allowed, sizeof allowed);
        fprintf(out, "%*s%-*s %-*s %-*s %-8s %s%s%s%s\n", indent, "", width, o->name,
                PRINT_TYPE_WIDTH, config_type_name(o->type), PRINT_DEFAULT_WIDTH,
                o->default_value ? o->default_value : "-", o->required ? "required" : "",
                o->description ? o->description : "", has_allowed ? " (allowed: " : "", allowed,
                has_allowed ? ")" : "");
        if (o->type == PP_OPT_SECTION || o->type == PP_OPT_SECTION_LIST)
            config_print_options(out, o->children, indent + 2);
    }
}

/* Writes s with the characters that would break a table cell escaped. */
static void markdown_cell(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n')
            fputc(' ', out);
        else
            fputc(*s, out);
    }
}

/* What the table allows, after the description: " Allowed: `a`, `b`."
 * after a sentence, "; allowed: 1 to 64" after a phrase. */
static void markdown_allowed(FILE *out, const pp_option *o)
{
    char allowed[512];
    size_t len = o->description ? strlen(o->description) : 0;
    int sentence = len == 0 || o->description[len - 1] == '.';
    int is_enum = o->type == PP_OPT_STRING && o->enum_values && o->enum_values[0];
    if (!is_enum && !config_option_allowed(o, allowed, sizeof allowed))
        return;
    fputs(len == 0 ? "Allowed: " : sentence ? " Allowed: " : "; allowed: ", out);
    if (is_enum) {
        for (size_t i = 0; o->enum_values[i]; i++) {
            fputs(i ? ", `" : "`", out);
            markdown_cell(out, o->enum_values[i]);
            fputc('`', out);
        }
    } else {
        markdown_cell(out, allowed);
    }
    if (sentence)
        fputc('.', out);
}

static void markdown_rows(FILE *out, const pp_option *table, const char *prefix)
{
    for (const pp_option *o = table; o && o->name; o++) {
        char name[256];
        snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", o->name);
        fprintf(out, "| `%s` | %s | ", name, config_type_name(o->type));
        if (o->default_value) {
            fputc('`', out);
            markdown_cell(out, o->default_value);
            fputc('`', out);
        }
        fprintf(out, " | %s | ", o->required ? "yes" : "no");
        markdown_cell(out, o->description);
        markdown_allowed(out, o);
        fputs(" |\n", out);
        if (o->type == PP_OPT_SECTION || o->type == PP_OPT_SECTION_LIST)
            markdown_rows(out, o->children, name);
    }
}

void config_print_options_markdown(FILE *out, const pp_option *table)
{
    fputs("| Option | Type | Default | Required | Description |\n", out);
    fputs("| --- | --- | --- | --- | --- |\n", out);
    markdown_rows(out, table, "");
}
