/* pyroscope_json: recursive-descent JSON (RFC 8259) into a value tree.
 *
 * Strings are decoded (escapes, \uXXXX with surrogate pairs to UTF-8);
 * numbers are kept as text because the callers read them as int64 or not
 * at all. A parser state carries the position for error messages. */
#include "pyroscope_json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pj_parser {
    const char *s;
    size_t len, pos;
    char *err;
    size_t errlen;
} pj_parser;

static int pj_value_parse(pj_parser *p, pj_value *out, int depth);

static int pj_fail(pj_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int pj_fail(pj_parser *p, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "JSON at offset %zu: %s", p->pos, msg);
    return -1;
}

static void pj_ws(pj_parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int pj_hex4(pj_parser *p, uint32_t *out)
{
    if (p->len - p->pos < 4)
        return pj_fail(p, "short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos++];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return pj_fail(p, "bad \\u escape");
    }
    *out = v;
    return 0;
}

static size_t pj_utf8(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* One escape after the backslash; appends its bytes to buf. A \u escape
 * is 6 source bytes for at most 3 output bytes (12 for 4 with a pair), so
 * the output never outgrows the source. */
static int pj_escape(pj_parser *p, char *buf, size_t *o)
{
    char c = p->s[p->pos++];
    const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
    const char *k = c ? strchr(from, c) : NULL;
    if (k) {
        buf[(*o)++] = to[k - from];
        return 0;
    }
    if (c != 'u')
        return pj_fail(p, "bad escape '\\%c'", (unsigned char)c >= 0x20 ? c : '?');
    uint32_t cp, lo;
    if (pj_hex4(p, &cp) < 0)
        return -1;
    if (cp >= 0xd800 && cp < 0xdc00) {
        if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
            return pj_fail(p, "lone surrogate");
        p->pos += 2;
        if (pj_hex4(p, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
            return pj_fail(p, "bad surrogate pair");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    *o += pj_utf8(cp, buf + *o);
    return 0;
}

/* A string starting at its opening quote. */
static int pj_string(pj_parser *p, char **out, size_t *outlen)
{
    p->pos++;
    char *buf = malloc(p->len - p->pos + 1);
    if (!buf)
        return pj_fail(p, "out of memory");
    size_t o = 0;
    for (;;) {
        if (p->pos >= p->len) {
            free(buf);
            return pj_fail(p, "unterminated string");
        }
        char c = p->s[p->pos++];
        if (c == '"')
            break;
        if ((unsigned char)c < 0x20) {
            free(buf);
            return pj_fail(p, "control character in string");
        }
        if (c != '\\') {
            buf[o++] = c;
            continue;
        }
        if (p->pos >= p->len) {
            free(buf);
            return pj_fail(p, "unterminated string");
        }
        if (pj_escape(p, buf, &o) < 0) {
            free(buf);
            return -1;
        }
    }
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return 0;
}

static int pj_literal(pj_parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return pj_fail(p, "unexpected character");
    p->pos += n;
    return 0;
}

static int pj_number(pj_parser *p, pj_value *out)
{
    size_t start = p->pos;
    while (p->pos < p->len && p->s[p->pos] && strchr("+-0123456789.eE", p->s[p->pos]))
        p->pos++;
    if (p->pos == start)
        return pj_fail(p, "unexpected character");
    out->type = PJ_NUMBER;
    out->str = strndup(p->s + start, p->pos - start);
    out->len = p->pos - start;
    return out->str ? 0 : pj_fail(p, "out of memory");
}

/* Appends a zeroed slot to a container; returns it or NULL. */
static pj_value *pj_push(pj_value *c, int with_key)
{
    pj_value *items = realloc(c->items, (c->n + 1) * sizeof(*items));
    if (!items)
        return NULL;
    c->items = items;
    if (with_key) {
        char **keys = realloc(c->keys, (c->n + 1) * sizeof(*keys));
        if (!keys)
            return NULL;
        c->keys = keys;
        keys[c->n] = NULL;
    }
    memset(&items[c->n], 0, sizeof(*items));
    return &items[c->n++];
}

static int pj_member_name(pj_parser *p, pj_value *obj)
{
    size_t klen;
    if (p->pos >= p->len || p->s[p->pos] != '"')
        return pj_fail(p, "expected a member name");
    if (pj_string(p, &obj->keys[obj->n - 1], &klen) < 0)
        return -1;
    pj_ws(p);
    if (p->pos >= p->len || p->s[p->pos++] != ':')
        return pj_fail(p, "expected ':'");
    return 0;
}

static int pj_container(pj_parser *p, pj_value *out, int depth, int object)
{
    char close = object ? '}' : ']';
    out->type = object ? PJ_OBJECT : PJ_ARRAY;
    p->pos++;
    pj_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return 0;
    }
    for (;;) {
        pj_ws(p);
        pj_value *slot = pj_push(out, object);
        if (!slot)
            return pj_fail(p, "out of memory");
        if (object && pj_member_name(p, out) < 0)
            return -1;
        if (pj_value_parse(p, slot, depth + 1) < 0)
            return -1;
        pj_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            return 0;
        }
        return pj_fail(p, "expected ',' or '%c'", close);
    }
}

static int pj_value_parse(pj_parser *p, pj_value *out, int depth)
{
    if (depth > PJ_MAX_DEPTH)
        return pj_fail(p, "nested deeper than %d", PJ_MAX_DEPTH);
    pj_ws(p);
    if (p->pos >= p->len)
        return pj_fail(p, "unexpected end");
    switch (p->s[p->pos]) {
    case '{':
        return pj_container(p, out, depth, 1);
    case '[':
        return pj_container(p, out, depth, 0);
    case '"':
        out->type = PJ_STRING;
        return pj_string(p, &out->str, &out->len);
    case 't':
        out->type = PJ_BOOL;
        out->boolean = 1;
        return pj_literal(p, "true");
    case 'f':
        out->type = PJ_BOOL;
        return pj_literal(p, "false");
    case 'n':
        out->type = PJ_NULL;
        return pj_literal(p, "null");
    default:
        return pj_number(p, out);
    }
}

int pj_parse(const char *text, size_t len, pj_value *out, char *err, size_t errlen)
{
    pj_parser p = {text, len, 0, err, errlen};
    memset(out, 0, sizeof(*out));
    if (pj_value_parse(&p, out, 0) < 0) {
        pj_free(out);
        return -1;
    }
    pj_ws(&p);
    if (p.pos != len) {
        pj_free(out);
        return pj_fail(&p, "trailing data");
    }
    return 0;
}

void pj_free(pj_value *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        pj_free(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    memset(v, 0, sizeof(*v));
}

const pj_value *pj_get(const pj_value *v, const char *key)
{
    if (!v || v->type != PJ_OBJECT)
        return NULL;
    for (size_t i = 0; i < v->n; i++)
        if (v->keys[i] && strcmp(v->keys[i], key) == 0)
            return &v->items[i];
    return NULL;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int pj_base64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
    while (len > 0 && in[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return -1;
    unsigned char *buf = malloc(len / 4 * 3 + 3);
    if (!buf)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(in[i]);
        if (v < 0) {
            free(buf);
            return -1;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
        }
    }
    *out = buf;
    *outlen = o;
    return 0;
}
