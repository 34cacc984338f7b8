/* pyroscope_series: series labels for Pyroscope and the distributor's
 * checks on them. See pyroscope_series.h for the rules and their source.
 *
 * The checks run in the order the distributor runs them, so that the
 * reason logged here is the one the server would have answered with. */
#include "pyroscope_series.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "label_names.h"
#include "text.h"

#define LABEL_NAME "__name__"
#define LABEL_DELTA "__delta__"
#define LABEL_SERVICE "service_name"
#define LABEL_SPY "pyroscope_spy"
#define RESERVED_PREFIX "__"
#define GZ_MAGIC0 0x1f
#define GZ_MAGIC1 0x8b
#define GZ_MIN_LEN 18 /* header 10 + trailer 8 */
#define GZ_ISIZE_BYTES 4

static int series_fail(const char **reason, const char *why, char *err, size_t errlen,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int series_fail(const char **reason, const char *why, char *err, size_t errlen,
                       const char *fmt, ...)
{
    *reason = why;
    va_list ap;
    va_start(ap, fmt);
    text_verrorf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t extra;
        if (*p < 0x80)
            extra = 0;
        else if ((*p & 0xe0) == 0xc0 && *p >= 0xc2)
            extra = 1;
        else if ((*p & 0xf0) == 0xe0)
            extra = 2;
        else if ((*p & 0xf8) == 0xf0 && *p <= 0xf4)
            extra = 3;
        else
            return 0;
        p++;
        for (size_t i = 0; i < extra; i++, p++)
            if ((*p & 0xc0) != 0x80)
                return 0;
    }
    return 1;
}

/* Pyroscope sanitizes legacy label names: dots become underscores. */
static char *sanitize_name(const char *name)
{
    char *s = strdup(name);
    if (!s)
        return NULL;
    for (char *c = s; *c; c++)
        if (*c == '.')
            *c = '_';
    return s;
}

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const pyro_label *)a)->name, ((const pyro_label *)b)->name);
}

void pyro_series_free(pyro_series *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->labels[i].name);
        free(s->labels[i].value);
    }
    free(s->labels);
    free(s->tenant);
    memset(s, 0, sizeof(*s));
}

const char *pyro_series_get(const pyro_series *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->labels[i].name, name) == 0)
            return s->labels[i].value;
    return NULL;
}

void pyro_series_format(const pyro_series *s, char *buf, size_t len)
{
    size_t off = 0;
    if (len == 0)
        return;
    buf[0] = '\0';
    off += (size_t)snprintf(buf, len, "{");
    for (size_t i = 0; i < s->n && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s=\"%s\"", i ? ", " : "",
                                s->labels[i].name, s->labels[i].value);
    if (off < len)
        snprintf(buf + off, len - off, "}");
}

/* Copies the labels Alloy's pyroscope.write would send, and takes the
 * tenant label out. 0 or -1 (memory). */
static int series_collect(const pp_host *h, const pp_profile *p, const char *tenant_label,
                          pyro_series *out)
{
    size_t n = h->label_count(p);
    out->labels = calloc(n ? n : 1, sizeof(*out->labels));
    if (!out->labels)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *name = h->label_name(p, i);
        const char *value = h->label_value(p, i);
        if (tenant_label && strcmp(name, tenant_label) == 0) {
            out->changed = 1;
            out->tenant = strdup(value);
            if (!out->tenant)
                return -1;
            continue;
        }
        int reserved = strncmp(name, RESERVED_PREFIX, strlen(RESERVED_PREFIX)) == 0;
        if (reserved && strcmp(name, LABEL_NAME) != 0 && strcmp(name, LABEL_DELTA) != 0) {
            out->changed = 1;
            continue;
        }
        pyro_label *l = &out->labels[out->n];
        l->name = strchr(name, '.') ? sanitize_name(name) : strdup(name);
        l->value = strdup(value);
        out->n++;
        if (!l->name || !l->value)
            return -1;
        if (strcmp(l->name, name) != 0)
            out->changed = 1;
    }
    if (out->changed)
        qsort(out->labels, out->n, sizeof(*out->labels), label_cmp);
    return 0;
}

/* Sets each external label on the series, replacing a label of that name
 * (as Alloy's pyroscope.write does after dropping reserved labels). */
static int series_add_external(pyro_series *s, const pyro_external *ext)
{
    if (!ext || ext->n == 0)
        return 0;
    pyro_label *grown = realloc(s->labels, (s->n + ext->n) * sizeof(*s->labels));
    if (!grown)
        return -1;
    s->labels = grown;
    for (size_t i = 0; i < ext->n; i++) {
        char *value = strdup(ext->values[i]);
        if (!value)
            return -1;
        pyro_label *l = NULL;
        for (size_t j = 0; j < s->n && !l; j++)
            if (strcmp(s->labels[j].name, ext->names[i]) == 0)
                l = &s->labels[j];
        if (l) {
            free(l->value);
        } else {
            l = &s->labels[s->n];
            l->name = strdup(ext->names[i]);
            l->value = NULL;
            s->n++;
            if (!l->name) {
                free(value);
                return -1;
            }
        }
        l->value = value;
    }
    s->changed = 1;
    qsort(s->labels, s->n, sizeof(*s->labels), label_cmp);
    return 0;
}

/* The per-label checks, in the distributor's order. */
static int series_check_labels(const pyro_series *s, const pyro_limits *lim, const char **reason,
                               char *err, size_t errlen)
{
    for (size_t i = 0; i < s->n; i++) {
        const pyro_label *l = &s->labels[i];
        if ((int64_t)strlen(l->name) > lim->max_label_name_length)
            return series_fail(reason, "label_name_too_long", err, errlen,
                               "label name too long (%zu > %lld bytes): '%.64s...'",
                               strlen(l->name), (long long)lim->max_label_name_length, l->name);
        if ((int64_t)strlen(l->value) > lim->max_label_value_length)
            return series_fail(reason, "label_value_too_long", err, errlen,
                               "label %s: value too long (%zu > %lld bytes)", l->name,
                               strlen(l->value), (long long)lim->max_label_value_length);
        if (!label_name_valid(l->name))
            return series_fail(reason, "invalid_labels", err, errlen, "invalid label name '%s'",
                               l->name);
        if (!valid_utf8(l->value))
            return series_fail(reason, "invalid_labels", err, errlen,
                               "label %s: value is not valid UTF-8", l->name);
        if (i > 0 && strcmp(s->labels[i - 1].name, l->name) == 0)
            return series_fail(reason, "duplicate_label_names", err, errlen,
                               "duplicate label name '%s' (after replacing dots)", l->name);
    }
    return 0;
}

int pyro_series_build(const pp_host *h, const pp_profile *p, const pyro_limits *lim,
                      const char *tenant_label, const pyro_external *ext, pyro_series *out,
                      const char **reason, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (series_collect(h, p, tenant_label, out) < 0 || series_add_external(out, ext) < 0)
        return series_fail(reason, "out_of_memory", err, errlen, "out of memory");
    if (out->n == 0)
        return series_fail(reason, "missing_labels", err, errlen,
                           "at least one label pair is required per profile");
    if ((int64_t)out->n > lim->max_label_names)
        return series_fail(reason, "max_label_names_per_series", err, errlen,
                           "%zu label names; limit %lld", out->n, (long long)lim->max_label_names);
    if (!metric_name_valid(pyro_series_get(out, LABEL_NAME)))
        return series_fail(reason, "invalid_labels", err, errlen,
                           "invalid or missing __name__ (the profile type)");
    const char *service = pyro_series_get(out, LABEL_SERVICE);
    if (!service || !*service)
        return series_fail(reason, "missing_labels", err, errlen, "service name is not provided");
    return series_check_labels(out, lim, reason, err, errlen);
}

static int ingest_skipped(const char *name)
{
    return strcmp(name, LABEL_SERVICE) == 0 || strcmp(name, LABEL_NAME) == 0 ||
           strcmp(name, LABEL_DELTA) == 0 || strcmp(name, LABEL_SPY) == 0;
}

char *pyro_ingest_name(const pyro_series *s, char *err, size_t errlen)
{
    const char *service = pyro_series_get(s, LABEL_SERVICE);
    if (!service || strpbrk(service, "{}=,")) {
        snprintf(err, errlen, "service_name cannot be written in an /ingest name");
        return NULL;
    }
    size_t need = strlen(service) + 3;
    for (size_t i = 0; i < s->n; i++) {
        const pyro_label *l = &s->labels[i];
        if (ingest_skipped(l->name))
            continue;
        if (strpbrk(l->value, "{}=,")) {
            snprintf(err, errlen, "label %s: value holds one of {}=, (not allowed by /ingest)",
                     l->name);
            return NULL;
        }
        need += strlen(l->name) + strlen(l->value) + 2;
    }
    char *name = malloc(need);
    if (!name) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    size_t off = (size_t)snprintf(name, need, "%s{", service);
    int first = 1;
    for (size_t i = 0; i < s->n; i++) {
        const pyro_label *l = &s->labels[i];
        if (ingest_skipped(l->name))
            continue;
        off += (size_t)snprintf(name + off, need - off, "%s%s=%s", first ? "" : ",", l->name,
                                l->value);
        first = 0;
    }
    snprintf(name + off, need - off, "}");
    return name;
}

uint64_t pyro_payload_size(const uint8_t *data, size_t len)
{
    if (len < GZ_MIN_LEN || data[0] != GZ_MAGIC0 || data[1] != GZ_MAGIC1)
        return len;
    const uint8_t *t = data + len - GZ_ISIZE_BYTES;
    return (uint64_t)t[0] | (uint64_t)t[1] << 8 | (uint64_t)t[2] << 16 | (uint64_t)t[3] << 24;
}
