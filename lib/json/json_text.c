/* json_text: see json_text.h. One pass over the bytes; runs of bytes that
 * need no escaping are handed to the sink in one piece. */
#include "json_text.h"

#include <stdio.h>
#include <string.h>

#define ASCII_LIMIT 0x80
#define CONTROL_LIMIT 0x20
#define DEL 0x7f
#define CONT_LO 0x80 /* continuation bytes are 10xxxxxx */
#define CONT_HI 0xbf
#define REPLACEMENT "\\ufffd"

/* Length of the well-formed UTF-8 sequence at s (n > 0 bytes left), 0 if
 * s[0] does not start one (RFC 3629 table of well-formed byte sequences). */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = CONT_LO, hi = CONT_HI;
    size_t len;
    if (c < ASCII_LIMIT)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong below U+0800 */
        if (c == 0xed)
            hi = 0x9f; /* surrogates U+D800..U+DFFF */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong below U+10000 */
        if (c == 0xf4)
            hi = 0x8f; /* past U+10FFFF */
    } else {
        return 0; /* continuation byte, C0, C1, F5..FF */
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < CONT_LO || s[i] > CONT_HI)
            return 0;
    return len;
}

/* The escape for an ASCII byte, or NULL when it is written as it is. */
static const char *ascii_escape(unsigned char c, char buf[8])
{
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    default:
        break;
    }
    if (c >= CONTROL_LIMIT && c != DEL)
        return NULL;
    snprintf(buf, 8, "\\u%04x", c);
    return buf;
}

void json_escape_bytes(const char *s, size_t len, json_sink put, void *arg)
{
    const unsigned char *b = (const unsigned char *)s;
    size_t run = 0; /* start of the bytes not yet handed on */
    size_t i = 0;
    while (i < len) {
        char buf[8];
        const char *esc = NULL;
        size_t n = utf8_sequence(b + i, len - i);
        if (n == 1)
            esc = ascii_escape(b[i], buf);
        else if (n == 0)
            esc = REPLACEMENT;
        if (!esc) {
            i += n;
            continue;
        }
        if (i > run)
            put(arg, s + run, i - run);
        put(arg, esc, strlen(esc));
        i += n ? n : 1;
        run = i;
    }
    if (len > run)
        put(arg, s + run, len - run);
}

/* A fixed buffer as a sink: what does not fit is dropped, and everything
 * after it, so the text ends on a whole character or escape. */
typedef struct fixed_out {
    char *out;
    size_t cap, len;
    int full;
} fixed_out;

static void fixed_put(void *arg, const char *text, size_t len)
{
    fixed_out *f = arg;
    size_t room = f->cap - f->len - 1; /* the NUL stays */
    if (f->full)
        return;
    if (len > room) {
        f->full = 1;
        if (text[0] == '\\')
            return; /* an escape is never cut */
        len = room; /* a run of characters is cut between two of them */
        while (len > 0 && ((unsigned char)text[len] & 0xc0) == CONT_LO)
            len--;
    }
    memcpy(f->out + f->len, text, len);
    f->len += len;
}

size_t json_escape_to(const char *s, char *out, size_t outlen)
{
    fixed_out f = {out, outlen, 0, 0};
    json_escape_bytes(s, strlen(s), fixed_put, &f);
    out[f.len] = '\0';
    return f.len;
}
