/* scrape_check: is a response body a pprof at all?
 *
 * Profiles that need no delta pass through as the raw bytes received,
 * never decoded (the pipeline decodes lazily, if ever). But a target that
 * answers 200 with an HTML error page or a cut-off gzip stream must be
 * caught here, with a reason a person can act on, not later in an
 * exporter. So: gunzip when the gzip magic is there (a truncated stream
 * fails), then walk the protobuf's top-level fields with lib/protowire,
 * checking wire types and lengths without building anything. Text bodies
 * fail on their first byte ('<' is field 7 with the invalid wire type 4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp_constants.h"
#include "protowire.h"
#include "scrape.h"

/* Highest field number of pprof's Profile message we accept (15 is
 * doc_url; a little room for newer fields). */
#define PPROF_MAX_FIELD 32
/* How much of a bad body to quote in the reason. */
#define QUOTE_BYTES 24

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
    char quote[QUOTE_BYTES + 1];
    for (wire_reader r = {b, b + n}; r.p < r.end;) {
        size_t at = (size_t)(r.p - b);
        wire_field f = {0};
        const char *why;
        int rc = wire_next(&r, &f, &why);
        if (rc == WIRE_TRUNCATED && f.num <= PPROF_MAX_FIELD) {
            snprintf(err, errlen, "not a pprof: protobuf truncated (field %llu at byte %zu)",
                     (unsigned long long)f.num, at);
            return -1;
        }
        if (rc < 0 || f.num > PPROF_MAX_FIELD) {
            quote_start(b, n, quote, sizeof quote);
            snprintf(err, errlen, "not a pprof: invalid protobuf at byte %zu (body starts \"%s\")",
                     at, quote);
            return -1;
        }
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
    if (!pp_is_gzip(body, len))
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
