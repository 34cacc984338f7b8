/* config_fill: cfg_fill, the option table as a parser (Fluent Bit's
 * flb_config_map_set, nginx's ngx_conf_set_*_slot).
 *
 * A component declares each option once, with the offset and size of the
 * member of its config struct that holds it (PP_FIELD), the values a
 * string may take and the bounds of a number. cfg_fill then reads every
 * row: the written value or the table's default, parsed with the row's
 * type, checked against its enum_values and min/max, and stored. The
 * reading is driven by the table, never by a key typed again in code, so
 * a misspelt key cannot silently read 0 or NULL: a row names its key once.
 *
 * The loader has already checked types and unknown keys against the same
 * table (a value it found bad is not reported twice); cfg_fill still parses
 * each value itself and reports what does not parse, so that it is safe on
 * any mapping. The words of enum and range
 * errors come from the table (config_option_allowed), and so do the words
 * of `profpipe components`, so the two cannot disagree. */
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_fill.h"
#include "config_internal.h"

/* A scalar option's value as a number, for range checks. */
typedef struct fill_number {
    int is_double;
    int64_t i;
    double d;
} fill_number;

static int number_parse(pp_opt_type type, const char *text, fill_number *out)
{
    out->is_double = type == PP_OPT_DOUBLE;
    switch (type) {
    case PP_OPT_INT:
        return config_parse_int(text, &out->i);
    case PP_OPT_DOUBLE:
        return config_parse_double(text, &out->d);
    case PP_OPT_DURATION:
        return units_parse_duration_ns(text, &out->i);
    case PP_OPT_SIZE:
        return units_parse_size(text, &out->i);
    default:
        return -1;
    }
}

/* <0, 0, >0 as a is below, equal to or above b (same type). */
static int number_cmp(const fill_number *a, const fill_number *b)
{
    if (a->is_double)
        return (a->d > b->d) - (a->d < b->d);
    return (a->i > b->i) - (a->i < b->i);
}

static int has_range(const pp_option *o)
{
    return (o->min || o->max) && (o->type == PP_OPT_INT || o->type == PP_OPT_DOUBLE ||
                                  o->type == PP_OPT_DURATION || o->type == PP_OPT_SIZE);
}

static void enum_text(const pp_option *o, char *out, size_t len)
{
    size_t used = 0, n = 0;
    out[0] = '\0';
    while (o->enum_values[n])
        n++;
    for (size_t i = 0; i < n && used < len; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        used += (size_t)snprintf(out + used, len - used, "%s%s", sep, o->enum_values[i]);
    }
}

static int is_zero(const pp_option *o, const char *bound)
{
    fill_number n;
    return number_parse(o->type, bound, &n) == 0 && (n.is_double ? n.d == 0 : n.i == 0);
}

static void range_text(const pp_option *o, char *out, size_t len)
{
    int min_ex = (o->flags & PP_OPT_MIN_EXCLUSIVE) != 0;
    int max_ex = (o->flags & PP_OPT_MAX_EXCLUSIVE) != 0;
    if (o->min && o->max && !min_ex && !max_ex)
        snprintf(out, len, "%s to %s", o->min, o->max);
    else if (o->min && o->max)
        snprintf(out, len, "in %c%s, %s%c", min_ex ? '(' : '[', o->min, o->max, max_ex ? ')' : ']');
    else if (o->min && min_ex && is_zero(o, o->min))
        snprintf(out, len, "> %s (positive)", o->min);
    else if (o->min)
        snprintf(out, len, min_ex ? "> %s" : "at least %s", o->min);
    else
        snprintf(out, len, max_ex ? "< %s" : "at most %s", o->max);
}

int config_option_allowed(const pp_option *o, char *out, size_t len)
{
    out[0] = '\0';
    if (o->type == PP_OPT_STRING && o->enum_values && o->enum_values[0])
        enum_text(o, out, len);
    else if (has_range(o))
        range_text(o, out, len);
    return out[0] != '\0';
}

/* ---------------------------------------------------------------- */
/* Checking one value                                                */
/* ---------------------------------------------------------------- */

static int enum_index(const pp_option *o, const char *text)
{
    int any_case = (o->flags & PP_OPT_ENUM_ANY_CASE) != 0;
    for (int i = 0; o->enum_values[i]; i++)
        if ((any_case ? strcasecmp : strcmp)(o->enum_values[i], text) == 0)
            return i;
    return -1;
}

/* A bound in the table that its own type cannot read is a table bug. */
static int bound_parse(const pp_config *c, const pp_option *o, const char *bound, fill_number *out)
{
    if (number_parse(o->type, bound, out) == 0)
        return 0;
    return cfg_error(c, o->name, "the option table's bound \"%s\" is not a valid %s", bound,
                     config_type_name(o->type));
}

static int check_range(const pp_config *c, const pp_option *o, const char *text,
                       const fill_number *v)
{
    fill_number lo, hi;
    int bad = 0;
    if (o->min) {
        if (bound_parse(c, o, o->min, &lo) < 0)
            return -1;
        int cmp = number_cmp(v, &lo);
        bad |= (o->flags & PP_OPT_MIN_EXCLUSIVE) ? cmp <= 0 : cmp < 0;
    }
    if (o->max) {
        if (bound_parse(c, o, o->max, &hi) < 0)
            return -1;
        int cmp = number_cmp(v, &hi);
        bad |= (o->flags & PP_OPT_MAX_EXCLUSIVE) ? cmp >= 0 : cmp > 0;
    }
    if (!bad)
        return 0;
    char allowed[256];
    range_text(o, allowed, sizeof allowed);
    return cfg_error(c, o->name, "must be %s, not %s", allowed, text);
}

/* ---------------------------------------------------------------- */
/* Storing                                                           */
/* ---------------------------------------------------------------- */

static int wrong_size(const pp_config *c, const pp_option *o)
{
    return cfg_error(c, o->name, "the option table's field for this %s has size %zu",
                     config_type_name(o->type), o->size);
}

static int store_int(const pp_config *c, const pp_option *o, char *field, int64_t v)
{
    if (o->size == sizeof(int64_t)) {
        memcpy(field, &v, sizeof v);
        return 0;
    }
    if (o->size != sizeof(int))
        return wrong_size(c, o);
    if (v < INT_MIN || v > INT_MAX)
        return cfg_error(c, o->name, "must be %d to %d, not %lld", INT_MIN, INT_MAX, (long long)v);
    int i = (int)v;
    memcpy(field, &i, sizeof i);
    return 0;
}

static int store_bool(const pp_config *c, const pp_option *o, char *field, int v)
{
    if (o->size == sizeof(int)) {
        memcpy(field, &v, sizeof v);
        return 0;
    }
    if (o->size != sizeof(bool))
        return wrong_size(c, o);
    bool b = v != 0;
    memcpy(field, &b, sizeof b);
    return 0;
}

static int store_pointer(const pp_config *c, const pp_option *o, char *field, const void *p)
{
    if (o->size != sizeof p)
        return wrong_size(c, o);
    memcpy(field, &p, sizeof p);
    return 0;
}

static int store_string(const pp_config *c, const pp_option *o, char *field, const char *text)
{
    int index = -1;
    if (o->enum_values && text && (index = enum_index(o, text)) < 0) {
        char allowed[512];
        enum_text(o, allowed, sizeof allowed);
        return cfg_error(c, o->name, "must be %s, not \"%s\"", allowed, text);
    }
    if (!o->size)
        return 0;
    if (o->enum_values && o->size == sizeof(int)) {
        memcpy(field, &index, sizeof index);
        return 0;
    }
    return store_pointer(c, o, field, text);
}

/* Parses, checks and stores one scalar option's text (NULL: not set and
 * no default, which stores 0 or NULL). */
static int fill_scalar(const pp_config *c, const pp_option *o, const char *text, char *field)
{
    if (o->type == PP_OPT_STRING)
        return store_string(c, o, field, text);
    if (!text)
        return o->size ? (memset(field, 0, o->size), 0) : 0;
    const char *problem = config_scalar_problem(o->type, text);
    if (problem)
        return cfg_error(c, o->name, problem, text);
    if (o->type == PP_OPT_BOOL) {
        int b = 0;
        config_parse_bool(text, &b);
        return o->size ? store_bool(c, o, field, b) : 0;
    }
    fill_number v;
    number_parse(o->type, text, &v);
    if (has_range(o) && check_range(c, o, text, &v) < 0)
        return -1;
    if (!o->size)
        return 0;
    if (o->type != PP_OPT_DOUBLE)
        return store_int(c, o, field, v.i);
    if (o->size != sizeof(double))
        return wrong_size(c, o);
    memcpy(field, &v.d, sizeof v.d);
    return 0;
}

/* The text a scalar option has: written, else its default; NULL for
 * neither. *skip is set when the value was already reported bad. */
static const char *scalar_value(const pp_config *c, const pp_option *o, int *skip)
{
    const pp_config *v = config_node_get(c, o->name, NULL);
    *skip = 0;
    if (v && (v->unexpanded || v->reported)) {
        *skip = -1; /* its ${env:} failed, or the loader found it bad: reported */
        return NULL;
    }
    if (v && v->kind != PP_NODE_SCALAR) {
        config_report_kind(v, o->type == PP_OPT_STRING ? "a string" : "a scalar");
        *skip = -1;
        return NULL;
    }
    return v && !v->is_null ? v->text : o->default_value;
}

static int fill_option(const pp_config *c, const pp_option *o, char *base)
{
    char *field = base + o->offset;
    if (config_type_is_scalar(o->type)) {
        int skip;
        const char *text = scalar_value(c, o, &skip);
        return skip < 0 ? -1 : fill_scalar(c, o, text, field);
    }
    const pp_config *node = cfg_child(c, o->name);
    if (o->type == PP_OPT_SECTION) {
        if (!o->size)
            return 0;
        if (!node || node->kind != PP_NODE_MAPPING)
            return node ? (config_report_kind(node, "a mapping"), -1) : 0;
        return cfg_fill(node, o->children, field);
    }
    return o->size ? store_pointer(c, o, field, node) : 0;
}

int cfg_fill(const pp_config *c, const pp_option *table, void *out)
{
    if (!c || !table || !out || c->kind != PP_NODE_MAPPING)
        return c ? cfg_error(c, NULL, "expected a mapping, got %s", config_kind_name(c)) : -1;
    int rc = 0;
    for (const pp_option *o = table; o->name; o++)
        if (fill_option(c, o, out) < 0)
            rc = -1;
    return rc;
}
