/* scrape_check: is a response body a pprof at all?
 *
 * Profiles that need no delta pass through as the raw bytes received,
 * never decoded (the pipeline decodes lazily, if ever). But a target that
 * answers 200 with an HTML error page or a cut-off gzip stream must be
 * caught here, with a reason a person can act on, not later in an
 * exporter. So: a gzip'd body is inflated through lib/gzstream's fixed
 * buffer (a truncated stream fails; the body is never held inflated), and
 * the protobuf's top-level fields are walked as the pieces come out by
 * lib/protowire's streaming reader, which checks wire types and lengths
 * without building anything and keeps its place when a field spans two
 * pieces. Text bodies fail on their first byte ('<' is field 7 with the
 * invalid wire type 4).
 *
 * A broken gzip stream is reported before bad protobuf inside it: once
 * the walk has failed the rest is only inflated, to tell which one the
 * body is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gzstream.h"
#include "pp_constants.h"
#include "scrape.h"

/* Highest field number of pprof's Profile message we accept (15 is
 * doc_url; a little room for newer fields). */
#define PPROF_MAX_FIELD 32

void scrape_walk_init(scrape_walk *w)
{
    memset(w, 0, sizeof *w);
    w->wire.max_field = PPROF_MAX_FIELD;
}

void scrape_walk_feed(scrape_walk *w, const uint8_t *p, size_t n)
{
    if (w->n_head < SCRAPE_QUOTE_BYTES) {
        size_t take = n < SCRAPE_QUOTE_BYTES - w->n_head ? n : SCRAPE_QUOTE_BYTES - w->n_head;
        memcpy(w->head + w->n_head, p, take);
        w->n_head += take;
    }
    if (!w->failed && wire_stream_feed(&w->wire, p, n, NULL, NULL) != WIRE_STREAM_OK)
        w->failed = 1; /* at wire.field_at */
}

/* The start of the bytes walked, printable bytes only. */
static void quote_head(const scrape_walk *w, char *out, size_t outlen)
{
    size_t i, o = 0;
    for (i = 0; i < w->n_head && o + 1 < outlen; i++)
        out[o++] = (w->head[i] >= 0x20 && w->head[i] < 0x7f) ? (char)w->head[i] : '.';
    out[o] = '\0';
}

int scrape_walk_end(const scrape_walk *w, char *err, size_t errlen)
{
    char quote[SCRAPE_QUOTE_BYTES + 1];
    if (!w->failed && wire_stream_at_boundary(&w->wire))
        return 0;
    if (!w->failed && wire_stream_in_payload(&w->wire)) {
        snprintf(err, errlen, "not a pprof: protobuf truncated (field %llu at byte %zu)",
                 (unsigned long long)w->wire.field, w->wire.field_at);
        return -1;
    }
    /* bad bytes, or cut off inside a tag, a varint or a length */
    quote_head(w, quote, sizeof quote);
    snprintf(err, errlen, "not a pprof: invalid protobuf at byte %zu (body starts \"%s\")",
             w->wire.field_at, quote);
    return -1;
}

int scrape_check_inflated(const uint8_t *plain, size_t len, char *err, size_t errlen)
{
    scrape_walk w;
    if (len == 0) {
        snprintf(err, errlen, "not a pprof: empty after gunzip");
        return -1;
    }
    scrape_walk_init(&w);
    scrape_walk_feed(&w, plain, len);
    return scrape_walk_end(&w, err, errlen);
}

/* gzstream's sink: every inflated piece goes through the walk. */
static int walk_sink(void *ctx, const uint8_t *p, size_t n)
{
    scrape_walk_feed(ctx, p, n);
    return 0;
}

int scrape_check_pprof(const uint8_t *body, size_t len, size_t max_out, size_t chunk,
                       int *too_large, char *err, size_t errlen)
{
    char why[256];
    size_t total = 0;
    scrape_walk w;
    gzstream_status st;
    *too_large = 0;
    if (len == 0) {
        snprintf(err, errlen, "not a pprof: empty body");
        return -1;
    }
    scrape_walk_init(&w);
    if (!pp_is_gzip(body, len)) {
        scrape_walk_feed(&w, body, len);
        return scrape_walk_end(&w, err, errlen);
    }
    why[0] = '\0';
    st = gzstream_inflate(body, len, max_out, chunk, walk_sink, &w, &total, why, sizeof why);
    if (st == GZSTREAM_TOO_LARGE) {
        *too_large = 1;
        snprintf(err, errlen,
                 "not a pprof: gzip: gzip: decompressed size exceeds the limit of %zu bytes",
                 max_out);
        return -1;
    }
    if (st != GZSTREAM_OK) {
        snprintf(err, errlen, "not a pprof: gzip: %s", why[0] ? why : "cannot decompress");
        return -1;
    }
    if (total == 0) {
        snprintf(err, errlen, "not a pprof: empty after gunzip");
        return -1;
    }
    return scrape_walk_end(&w, err, errlen);
}
