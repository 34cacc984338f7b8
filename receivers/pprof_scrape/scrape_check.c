/* scrape_check: is a response body a pprof at all?
 *
 * Profiles that need no delta pass through as the raw bytes received,
 * never decoded (the pipeline decodes lazily, if ever). But a target that
 * answers 200 with an HTML error page or a cut-off gzip stream must be
 * caught here, with a reason a person can act on, not later in an
 * exporter. So: gunzip when the gzip magic is there (a truncated stream
 * fails), then walk the protobuf's top-level fields, checking wire types
 * and lengths without building anything. Text bodies fail on their first
 * byte ('<' is field 7 with the invalid wire type 4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scrape.h"

/* Highest field number of pprof's Profile message we accept (15 is
 * doc_url; a little room for newer fields). */
#define PPROF_MAX_FIELD 32
#define VARINT_MAX_BYTES 10
/* How much of a bad body to quote in the reason. */
#define QUOTE_BYTES 24

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    int shift;
    for (shift = 0; shift < VARINT_MAX_BYTES * 7; shift += 7) {
        if (*p >= end)
            return -1;
        v |= (uint64_t)(**p & 0x7f) << shift;
        if (!(*(*p)++ & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Quotes the start of a body, printable bytes only. */
static void quote_start(const uint8_t *b, size_t n, char *out, size_t outlen)
{
    size_t i, o = 0;
    for (i = 0; i < n && i < QUOTE_BYTES && o + 1 < outlen; i++)
        out[o++] = (b[i] >= 0x20 && b[i] < 0x7f) ? (char)b[i] : '.';
    out[o] = '\0';
}

static int walk_fields(const uint8_t *b, size_t n, char *err, size_t errlen)
{
    const uint8_t *p = b, *end = b + n;
    char quote[QUOTE_BYTES + 1];
    while (p < end) {
        uint64_t tag, len, field;
        size_t at = (size_t)(p - b);
        if (read_varint(&p, end, &tag) < 0)
            goto bad;
        field = tag >> 3;
        if (field == 0 || field > PPROF_MAX_FIELD)
            goto bad;
        switch (tag & 7) {
        case 0:
            if (read_varint(&p, end, &len) < 0)
                goto bad;
            break;
        case 1:
        case 5:
            len = (tag & 7) == 1 ? 8 : 4;
            if ((uint64_t)(end - p) < len)
                goto truncated;
            p += len;
            break;
        case 2:
            if (read_varint(&p, end, &len) < 0)
                goto bad;
            if ((uint64_t)(end - p) < len)
                goto truncated;
            p += len;
            break;
        default:
            goto bad;
        }
        continue;
    bad:
        quote_start(b, n, quote, sizeof quote);
        snprintf(err, errlen, "not a pprof: invalid protobuf at byte %zu (body starts \"%s\")", at,
                 quote);
        return -1;
    truncated:
        snprintf(err, errlen, "not a pprof: protobuf truncated (field %llu at byte %zu)",
                 (unsigned long long)field, at);
        return -1;
    }
    return 0;
}

int scrape_check_pprof(const pp_host *host, const uint8_t *body, size_t len, size_t max_out,
                       char *err, size_t errlen)
{
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    char why[256];
    int rc;
    if (len == 0) {
        snprintf(err, errlen, "not a pprof: empty body");
        return -1;
    }
    if (len < 2 || body[0] != 0x1f || body[1] != 0x8b)
        return walk_fields(body, len, err, errlen);
    why[0] = '\0';
    if (host->gunzip(body, len, max_out, &plain, &plain_len, NULL, why, sizeof why) < 0) {
        snprintf(err, errlen, "not a pprof: gzip: %s", why[0] ? why : "cannot decompress");
        return -1;
    }
    if (plain_len == 0) {
        free(plain);
        snprintf(err, errlen, "not a pprof: empty after gunzip");
        return -1;
    }
    rc = walk_fields(plain, plain_len, err, errlen);
    free(plain);
    return rc;
}
