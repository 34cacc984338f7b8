/* gzstream: a gzip stream inflated through a fixed buffer (gzstream.h). */
#include "gzstream.h"

#include <string.h>
#include <zlib.h>

#include "pp_constants.h"
#include "text.h"

#define GZSTREAM_WINDOW_BITS (15 + 16) /* zlib's largest window, gzip header */

/* zlib counts input in 32 bits: hand it at most that much at a time. */
static uInt gzstream_feed_size(size_t n)
{
    return (uInt)(n > UINT32_MAX ? UINT32_MAX : n);
}

/* The loop: zs is initialised, its input set. */
static gzstream_status gzstream_run(z_stream *zs, const uint8_t *data, size_t len, size_t limit,
                                    uint8_t *out, size_t chunk, gzstream_sink sink, void *ctx,
                                    size_t *total, char *err, size_t errlen)
{
    for (;;) {
        size_t consumed = (size_t)((const uint8_t *)zs->next_in - data);
        if (zs->avail_in == 0 && consumed < len)
            zs->avail_in = gzstream_feed_size(len - consumed);
        zs->next_out = out;
        zs->avail_out = (uInt)chunk;
        int z = inflate(zs, Z_NO_FLUSH);
        size_t got = chunk - zs->avail_out;
        if (z == Z_MEM_ERROR) {
            text_errorf(err, errlen, "gzip: out of memory");
            return GZSTREAM_NO_MEMORY;
        }
        if (z != Z_OK && z != Z_STREAM_END && z != Z_BUF_ERROR) {
            text_errorf(err, errlen, "bad gzip: %s", zs->msg ? zs->msg : "corrupt stream");
            return GZSTREAM_INVALID;
        }
        if (got > limit - *total)
            return GZSTREAM_TOO_LARGE;
        *total += got;
        if (got && sink && sink(ctx, out, got) != 0)
            return GZSTREAM_SINK;
        consumed = (size_t)((const uint8_t *)zs->next_in - data);
        if (z == Z_STREAM_END) {
            if (consumed == len)
                return GZSTREAM_OK;
            if (!pp_is_gzip(data + consumed, len - consumed)) {
                text_errorf(err, errlen, "bad gzip: %zu bytes of trailing garbage", len - consumed);
                return GZSTREAM_INVALID;
            }
            inflateReset(zs); /* the next member */
        } else if (got == 0 && consumed == len && zs->avail_in == 0) {
            /* no output, no input left, no end of stream */
            text_errorf(err, errlen, "bad gzip: truncated stream (unexpected end of input)");
            return GZSTREAM_INVALID;
        }
    }
}

gzstream_status gzstream_inflate(const uint8_t *data, size_t len, size_t limit, size_t chunk,
                                 gzstream_sink sink, void *ctx, size_t *total, char *err,
                                 size_t errlen)
{
    uint8_t out[GZSTREAM_CHUNK];
    size_t count = 0;
    z_stream zs;
    gzstream_status st;
    if (chunk == 0 || chunk > sizeof out)
        chunk = sizeof out;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, GZSTREAM_WINDOW_BITS) != Z_OK) {
        text_errorf(err, errlen, "gzip: cannot start inflating");
        return GZSTREAM_NO_MEMORY;
    }
    zs.next_in = (Bytef *)data;
    zs.avail_in = 0;
    st = gzstream_run(&zs, data, len, limit, out, chunk, sink, ctx, &count, err, errlen);
    inflateEnd(&zs);
    if (total)
        *total = count;
    return st;
}
