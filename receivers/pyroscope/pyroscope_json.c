/* pyroscope_json: recursive-descent JSON (RFC 8259) into a value tree.
 *
 * Memory is bounded by the input and known before it is taken: a first
 * pass validates and counts values, member names, containers and string
 * bytes; the tree then lives in one allocation of exactly that size
 * (checked against the caller's limit), filled by two more passes. No
 * string is copied twice and nothing grows by realloc, so a hostile shape
 * (a million empty strings, deep nesting, a huge number) costs at most
 * its count times sizeof(pj_value) plus its own length.
 *
 * Strings are decoded (escapes, \uXXXX with surrogate pairs to UTF-8);
 * numbers are kept as text because the callers read them as int64 or not
 * at all. A parser state carries the position for error messages. */
#include "pyroscope_json.h"
#include "text.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The three passes over a document: MEASURE validates it and counts what
 * the tree needs; COUNT records each container's item count (in the
 * order containers open); BUILD fills the tree. Nothing is allocated
 * before the total is known and checked against the caller's limit. */
typedef enum pj_phase { PJ_MEASURE, PJ_COUNT, PJ_BUILD } pj_phase;

/* Longest UTF-8 sequence one escape (or surrogate pair) decodes to. */
#define PJ_UTF8_MAX 4

typedef struct pj_parser {
    const char *s;
    size_t len, pos;
    char *err;
    size_t errlen;
    pj_phase phase;
    size_t n_values, n_keys, containers; /* counted by every pass */
    size_t values_used, keys_used, str_used;
    pj_value *values;     /* BUILD: the arena's item slots */
    char **keys;          /* BUILD: its member-name slots */
    size_t *child_counts; /* COUNT writes, BUILD reads */
    char *strings;        /* BUILD: decoded strings and number texts */
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
        int d = text_hex_digit((unsigned char)c);
        if (d < 0)
            return pj_fail(p, "bad \\u escape");
        v = v << 4 | (uint32_t)d;
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

/* A string starting at its opening quote. Decodes into the string area
 * in the build pass; only measures in the others. Every pass advances
 * str_used by the string's source length (content and closing quote),
 * which is never less than what its decoded bytes and NUL take. */
static int pj_string(pj_parser *p, char **out, size_t *outlen)
{
    size_t start = ++p->pos;
    char *buf = p->phase == PJ_BUILD ? p->strings + p->str_used : NULL;
    size_t o = 0;
    for (;;) {
        if (p->pos >= p->len)
            return pj_fail(p, "unterminated string");
        char c = p->s[p->pos++];
        if (c == '"')
            break;
        if ((unsigned char)c < 0x20)
            return pj_fail(p, "control character in string");
        if (c != '\\') {
            if (buf)
                buf[o] = c;
            o++;
            continue;
        }
        if (p->pos >= p->len)
            return pj_fail(p, "unterminated string");
        char tmp[PJ_UTF8_MAX];
        size_t n = 0;
        if (pj_escape(p, tmp, &n) < 0)
            return -1;
        if (buf)
            memcpy(buf + o, tmp, n);
        o += n;
    }
    p->str_used += p->pos - start;
    if (buf) {
        buf[o] = '\0';
        *out = buf;
        *outlen = o;
    }
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

/* A number is kept as its text: the source bytes and a NUL. */
static int pj_number(pj_parser *p, pj_value *out)
{
    size_t start = p->pos;
    while (p->pos < p->len && p->s[p->pos] && strchr("+-0123456789.eE", p->s[p->pos]))
        p->pos++;
    if (p->pos == start)
        return pj_fail(p, "unexpected character");
    size_t n = p->pos - start;
    if (p->phase == PJ_BUILD) {
        out->type = PJ_NUMBER;
        out->str = p->strings + p->str_used;
        memcpy(out->str, p->s + start, n);
        out->str[n] = '\0';
        out->len = n;
    }
    p->str_used += n + 1;
    return 0;
}

static int pj_member_name(pj_parser *p, char **key)
{
    size_t klen;
    if (p->pos >= p->len || p->s[p->pos] != '"')
        return pj_fail(p, "expected a member name");
    if (pj_string(p, key, &klen) < 0)
        return -1;
    pj_ws(p);
    if (p->pos >= p->len || p->s[p->pos++] != ':')
        return pj_fail(p, "expected ':'");
    return 0;
}

/* Takes the slots of a container's items (and keys) from the arena: its
 * item count was recorded by the counting pass, in the same order. */
static void pj_container_open(pj_parser *p, pj_value *out, int object)
{
    size_t index = p->containers++;
    if (p->phase == PJ_MEASURE)
        return;
    if (p->phase == PJ_COUNT) {
        p->child_counts[index] = 0;
        return;
    }
    out->type = object ? PJ_OBJECT : PJ_ARRAY;
    out->n = p->child_counts[index];
    out->items = out->n ? p->values + p->values_used : NULL;
    p->values_used += out->n;
    if (object && out->n) {
        out->keys = p->keys + p->keys_used;
        p->keys_used += out->n;
    }
}

static int pj_container(pj_parser *p, pj_value *out, int depth, int object)
{
    char close = object ? '}' : ']';
    size_t index = p->containers;
    pj_container_open(p, out, object);
    p->pos++;
    pj_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return 0;
    }
    for (size_t i = 0;; i++) {
        pj_ws(p);
        p->n_values++;
        if (object)
            p->n_keys++;
        if (p->phase == PJ_COUNT)
            p->child_counts[index]++;
        pj_value *slot = p->phase == PJ_BUILD ? &out->items[i] : NULL;
        if (object && pj_member_name(p, slot ? &out->keys[i] : NULL) < 0)
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

/* out is NULL in the passes that only measure. */
static int pj_value_parse(pj_parser *p, pj_value *out, int depth)
{
    if (depth > PJ_MAX_DEPTH)
        return pj_fail(p, "nested deeper than %d", PJ_MAX_DEPTH);
    pj_ws(p);
    if (p->pos >= p->len)
        return pj_fail(p, "unexpected end");
    int rc;
    switch (p->s[p->pos]) {
    case '{':
        return pj_container(p, out, depth, 1);
    case '[':
        return pj_container(p, out, depth, 0);
    case '"':
        if (out)
            out->type = PJ_STRING;
        return pj_string(p, out ? &out->str : NULL, out ? &out->len : NULL);
    case 't':
        rc = pj_literal(p, "true");
        if (out) {
            out->type = PJ_BOOL;
            out->boolean = 1;
        }
        return rc;
    case 'f':
        rc = pj_literal(p, "false");
        if (out)
            out->type = PJ_BOOL;
        return rc;
    case 'n':
        rc = pj_literal(p, "null");
        if (out)
            out->type = PJ_NULL;
        return rc;
    default:
        return pj_number(p, out);
    }
}

/* One pass over the whole document. */
static int pj_pass(pj_parser *p, pj_phase phase, pj_value *root)
{
    p->phase = phase;
    p->pos = 0;
    p->n_values = p->n_keys = p->containers = 0;
    p->values_used = p->keys_used = p->str_used = 0;
    if (pj_value_parse(p, root, 0) < 0)
        return -1;
    pj_ws(p);
    if (p->pos != p->len)
        return pj_fail(p, "trailing data");
    return 0;
}

/* Bytes of the one allocation that holds the tree, from the counts of
 * the measuring pass. */
static size_t pj_arena_size(const pj_parser *p)
{
    return p->n_values * sizeof(pj_value) + p->n_keys * sizeof(char *) +
           p->containers * sizeof(size_t) + p->str_used;
}

int pj_measure(const char *text, size_t len, size_t *bytes, char *err, size_t errlen)
{
    pj_parser p = {.s = text, .len = len, .err = err, .errlen = errlen};
    if (pj_pass(&p, PJ_MEASURE, NULL) < 0)
        return -1;
    *bytes = pj_arena_size(&p);
    return 0;
}

int pj_parse_bounded(const char *text, size_t len, size_t max_bytes, pj_value *out, char *err,
                     size_t errlen)
{
    pj_parser p = {.s = text, .len = len, .err = err, .errlen = errlen};
    memset(out, 0, sizeof(*out));
    if (pj_pass(&p, PJ_MEASURE, NULL) < 0)
        return -1;
    size_t need = pj_arena_size(&p);
    if (need > max_bytes) {
        snprintf(err, errlen, "JSON document needs %zu bytes parsed; limit %zu", need, max_bytes);
        return -2;
    }
    size_t n_values = p.n_values, n_keys = p.n_keys, n_containers = p.containers;
    unsigned char *arena = calloc(1, need ? need : 1); /* slots start as zeroed values */
    if (!arena) {
        snprintf(err, errlen, "JSON: out of memory for %zu bytes", need);
        return -1;
    }
    /* largest alignment first: values, then pointers and counts, then text */
    p.values = (pj_value *)arena;
    p.keys = (char **)(p.values + n_values);
    p.child_counts = (size_t *)(p.keys + n_keys);
    p.strings = (char *)(p.child_counts + n_containers);
    if (pj_pass(&p, PJ_COUNT, NULL) < 0 || pj_pass(&p, PJ_BUILD, out) < 0) {
        free(arena);
        memset(out, 0, sizeof(*out));
        return -1;
    }
    out->arena = arena;
    return 0;
}

int pj_parse(const char *text, size_t len, pj_value *out, char *err, size_t errlen)
{
    return pj_parse_bounded(text, len, SIZE_MAX, out, err, errlen) < 0 ? -1 : 0;
}

void pj_free(pj_value *v)
{
    if (!v)
        return;
    free(v->arena);
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
