/* pyroscope_name: parser of `app{k=v,...}` (see pyroscope_name.h).
 *
 * One left-to-right pass: the app name up to '{' (or the end), then pairs
 * separated by ',' up to the one closing '}' that must end the text.
 * Spaces around keys and values are trimmed, as the SDKs' own encoders
 * never write them but hand-written curl commands do. */
#include "pyroscope_name.h"
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int name_fail(pyro_name *n, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int name_fail(pyro_name *n, char *err, size_t errlen, const char *fmt, ...)
{
    pyro_name_free(n);
    va_list ap;
    va_start(ap, fmt);
    text_verrorf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

void pyro_name_free(pyro_name *n)
{
    for (size_t i = 0; i < n->n; i++) {
        free(n->keys[i]);
        free(n->values[i]);
    }
    free(n->keys);
    free(n->values);
    free(n->app);
    memset(n, 0, sizeof(*n));
}

int pyro_tag_key_valid(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.';
        if (!ok)
            return 0;
    }
    return 1;
}

static void trim(const char **b, const char **e)
{
    while (*b < *e && (**b == ' ' || **b == '\t'))
        (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

static int has_control(const char *b, const char *e)
{
    for (; b < e; b++)
        if ((unsigned char)*b < 0x20)
            return 1;
    return 0;
}

/* Sets key=value, replacing an earlier value of the same key. 0 or -1. */
static int name_put(pyro_name *n, const char *k, size_t klen, const char *v, size_t vlen)
{
    char *value = strndup(v, vlen);
    if (!value)
        return -1;
    for (size_t i = 0; i < n->n; i++)
        if (strlen(n->keys[i]) == klen && memcmp(n->keys[i], k, klen) == 0) {
            free(n->values[i]);
            n->values[i] = value;
            return 0;
        }
    char *key = strndup(k, klen);
    char **nk = realloc(n->keys, (n->n + 1) * sizeof(*nk));
    if (nk)
        n->keys = nk;
    char **nv = realloc(n->values, (n->n + 1) * sizeof(*nv));
    if (nv)
        n->values = nv;
    if (!key || !nk || !nv) {
        free(key);
        free(value);
        return -1;
    }
    n->keys[n->n] = key;
    n->values[n->n] = value;
    n->n++;
    return 0;
}

/* Parses the pairs between '{' and '}' (exclusive). */
static int name_pairs(pyro_name *n, const char *b, const char *e, size_t max_labels, char *err,
                      size_t errlen)
{
    size_t pairs = 0;
    while (b < e) {
        const char *comma = memchr(b, ',', (size_t)(e - b));
        const char *end = comma ? comma : e;
        const char *eq = memchr(b, '=', (size_t)(end - b));
        const char *kb = b, *ke = eq ? eq : end;
        trim(&kb, &ke);
        if (!eq) {
            if (kb == ke && !comma)
                break; /* "app{}" or a trailing ',' */
            return name_fail(n, err, errlen, "tag '%.*s' has no '='", (int)(end - b), b);
        }
        const char *vb = eq + 1, *ve = end;
        trim(&vb, &ve);
        if (!pyro_tag_key_valid(kb, (size_t)(ke - kb)))
            return name_fail(n, err, errlen, "invalid tag key '%.*s' (want [A-Za-z0-9_.]+)",
                             (int)(ke - kb), kb);
        if (memchr(vb, '=', (size_t)(ve - vb)) || has_control(vb, ve))
            return name_fail(n, err, errlen, "invalid value of tag '%.*s'", (int)(ke - kb), kb);
        if (++pairs > max_labels)
            return name_fail(n, err, errlen, "more than %zu tags", max_labels);
        if (name_put(n, kb, (size_t)(ke - kb), vb, (size_t)(ve - vb)) < 0)
            return name_fail(n, err, errlen, "out of memory");
        b = comma ? comma + 1 : e;
    }
    return 0;
}

int pyro_name_parse(const char *text, size_t max_labels, pyro_name *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!text || !*text)
        return name_fail(out, err, errlen, "missing name");
    const char *open = strchr(text, '{');
    const char *app_end = open ? open : text + strlen(text);
    const char *ab = text, *ae = app_end;
    trim(&ab, &ae);
    if (ab == ae)
        return name_fail(out, err, errlen, "empty application name in '%.64s'", text);
    for (const char *c = ab; c < ae; c++)
        if (*c == '}' || *c == '=' || *c == ',' || (unsigned char)*c < 0x20)
            return name_fail(out, err, errlen,
                             "invalid character '%c' in application name (unbalanced braces?)",
                             (unsigned char)*c >= 0x20 ? *c : '?');
    out->app = strndup(ab, (size_t)(ae - ab));
    if (!out->app)
        return name_fail(out, err, errlen, "out of memory");
    if (!open)
        return 0;
    const char *close = strchr(open + 1, '}');
    if (!close)
        return name_fail(out, err, errlen, "unbalanced braces: no '}' in name");
    if (memchr(open + 1, '{', (size_t)(close - open - 1)))
        return name_fail(out, err, errlen, "unbalanced braces: nested '{' in name");
    for (const char *c = close + 1; *c; c++)
        if (*c != ' ' && *c != '\t')
            return name_fail(out, err, errlen, "unbalanced braces: text after '}' in name");
    return name_pairs(out, open + 1, close, max_labels, err, errlen);
}
