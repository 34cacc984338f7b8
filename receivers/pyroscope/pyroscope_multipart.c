/* pyroscope_multipart: a strict multipart/form-data splitter (RFC 7578).
 *
 * A body is: preamble, then for each part "--B" CRLF, header lines, an
 * empty line, the data, CRLF; the last delimiter is "--B--". Only the
 * Content-Disposition `name` of each part is read; other part headers are
 * skipped. Anything that does not follow this shape is an error: a
 * truncated upload must be answered 400, not half-read. */
#include "pyroscope_multipart.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CRLF "\r\n"
#define HEADER_END "\r\n\r\n"
#define DISPOSITION "content-disposition:"
#define NAME_ATTR "name=\""

int pyro_multipart_boundary(const char *content_type, char *out, size_t outlen)
{
    const char *b = content_type ? strcasestr(content_type, "boundary=") : NULL;
    if (!b)
        return -1;
    b += strlen("boundary=");
    size_t len;
    if (*b == '"') {
        b++;
        const char *q = strchr(b, '"');
        if (!q)
            return -1;
        len = (size_t)(q - b);
    } else {
        len = strcspn(b, "; \t");
    }
    if (len == 0 || len > PYRO_BOUNDARY_MAX || len >= outlen)
        return -1;
    memcpy(out, b, len);
    out[len] = '\0';
    return 0;
}

/* The `name="..."` of a Content-Disposition line in [line, eol). */
static int disposition_name(const char *line, const char *eol, char *out, size_t outlen)
{
    size_t al = strlen(NAME_ATTR);
    const char *n = memmem(line, (size_t)(eol - line), NAME_ATTR, al);
    /* skip filename="..." which also ends in name=" */
    while (n && n[-1] != ' ' && n[-1] != ';')
        n = memmem(n + 1, (size_t)(eol - n - 1), NAME_ATTR, al);
    if (!n)
        return -1;
    n += al;
    const char *q = memchr(n, '"', (size_t)(eol - n));
    if (!q || (size_t)(q - n) >= outlen)
        return -1;
    memcpy(out, n, (size_t)(q - n));
    out[q - n] = '\0';
    return 0;
}

/* The form field name from the part headers in [h, e). 0 or -1. */
static int part_name(const char *h, const char *e, char *out, size_t outlen)
{
    size_t dl = strlen(DISPOSITION);
    for (const char *line = h; line < e;) {
        const char *eol = memmem(line, (size_t)(e - line), CRLF, strlen(CRLF));
        if (!eol)
            eol = e;
        if ((size_t)(eol - line) > dl && strncasecmp(line, DISPOSITION, dl) == 0)
            return disposition_name(line, eol, out, outlen);
        line = eol + strlen(CRLF);
    }
    return -1;
}

int pyro_multipart_parse(const unsigned char *body, size_t len, const char *boundary,
                         pyro_part *parts, char *err, size_t errlen)
{
    char delim[PYRO_BOUNDARY_MAX + 8];
    int dlen = snprintf(delim, sizeof(delim), "--%s", boundary);
    if (dlen <= 2 || (size_t)dlen >= sizeof(delim)) {
        snprintf(err, errlen, "bad multipart boundary");
        return -1;
    }
    const char *p = memmem(body, len, delim, (size_t)dlen);
    const char *end = (const char *)body + len;
    int n = 0;
    if (!p) {
        snprintf(err, errlen, "multipart body without its boundary");
        return -1;
    }
    for (;;) {
        p += dlen;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return n; /* closing delimiter */
        if (end - p < 2 || memcmp(p, CRLF, 2) != 0)
            break;
        p += 2;
        const char *hend = memmem(p, (size_t)(end - p), HEADER_END, strlen(HEADER_END));
        if (!hend)
            break;
        if (n == PYRO_MULTIPART_MAX_PARTS) {
            snprintf(err, errlen, "more than %d multipart parts", PYRO_MULTIPART_MAX_PARTS);
            return -1;
        }
        /* the headers end with the blank line; keep one CRLF for the last */
        if (part_name(p, hend + 2, parts[n].name, sizeof(parts[n].name)) < 0) {
            snprintf(err, errlen, "multipart part %d without a form field name", n + 1);
            return -1;
        }
        const char *data = hend + strlen(HEADER_END);
        char next[PYRO_BOUNDARY_MAX + 10];
        int nlen = snprintf(next, sizeof(next), CRLF "%s", delim);
        const char *stop = memmem(data, (size_t)(end - data), next, (size_t)nlen);
        if (!stop)
            break;
        parts[n].data = (const unsigned char *)data;
        parts[n].len = (size_t)(stop - data);
        n++;
        p = stop + 2;
    }
    snprintf(err, errlen, "truncated or malformed multipart body");
    return -1;
}

const pyro_part *pyro_multipart_get(const pyro_part *parts, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(parts[i].name, name) == 0)
            return &parts[i];
    return NULL;
}
