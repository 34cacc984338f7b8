/* gzstream: a gzip stream inflated through a fixed buffer (gzstream.h).
 *
 * ISA-L's igzip inflates: it streams as zlib does, at about the speed
 * of libdeflate's whole-buffer gunzip (0.56-0.59 of zlib's CPU through
 * the same 64 KiB buffer: bench/gzip/run.sh, README.md). A stream
 * it refuses (corrupt, truncated, trailing garbage) is read again by zlib
 * without the sink, and zlib's verdict and reason are kept, so that every
 * error names what was wrong in the words a whole-buffer gunzip uses. */
#include "gzstream.h"

#include <stdlib.h>
#include <string.h>
#include <isa-l/igzip_lib.h>
#include <zlib.h>

#include "pp_constants.h"
#include "text.h"

#define GZSTREAM_WINDOW_BITS (15 + 16) /* zlib's largest window, gzip header */
#define GZ_FLG 3                       /* a member's flags byte... */
#define GZ_FLG_RESERVED 0xe0u          /* ...whose top three bits RFC 1952 reserves */

/* zlib and ISA-L count input in 32 bits: hand them at most that much at a
 * time. */
static uint32_t gzstream_feed_size(size_t n)
{
    return (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n);
}

/* zlib's loop: zs is initialised, its input set. */
static gzstream_status zlib_run(z_stream *zs, const uint8_t *data, size_t len, size_t limit,
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

static gzstream_status zlib_inflate(const uint8_t *data, size_t len, size_t limit, uint8_t *out,
                                    size_t chunk, gzstream_sink sink, void *ctx, size_t *total,
                                    char *err, size_t errlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, GZSTREAM_WINDOW_BITS) != Z_OK) {
        text_errorf(err, errlen, "gzip: cannot start inflating");
        return GZSTREAM_NO_MEMORY;
    }
    zs.next_in = (Bytef *)data;
    zs.avail_in = 0;
    gzstream_status st = zlib_run(&zs, data, len, limit, out, chunk, sink, ctx, total, err, errlen);
    inflateEnd(&zs);
    return st;
}

/* 1 when ISA-L may read the member starting at p: it reads one whose
 * flags set a reserved bit, which zlib and libdeflate (the decoder's
 * gunzip) refuse (found by the pprof fuzz target). */
static int isal_reads_member(const uint8_t *p, size_t n)
{
    return n <= GZ_FLG || !(p[GZ_FLG] & GZ_FLG_RESERVED);
}

/* ISA-L's loop, every member in turn. GZSTREAM_INVALID (no message) for
 * whatever ISA-L does not read to a clean end, or should not read: zlib
 * words it. */
static gzstream_status isal_run(struct inflate_state *s, const uint8_t *data, size_t len,
                                size_t limit, uint8_t *out, size_t chunk, gzstream_sink sink,
                                void *ctx, size_t *total)
{
    size_t consumed = 0;
    if (!isal_reads_member(data, len))
        return GZSTREAM_INVALID;
    isal_inflate_init(s);
    s->crc_flag = ISAL_GZIP;
    s->next_in = (uint8_t *)data;
    s->avail_in = 0;
    for (;;) {
        size_t before = consumed;
        if (s->avail_in == 0 && consumed < len)
            s->avail_in = gzstream_feed_size(len - consumed);
        s->next_out = out;
        s->avail_out = (uint32_t)chunk;
        if (isal_inflate(s) != ISAL_DECOMP_OK)
            return GZSTREAM_INVALID;
        size_t got = chunk - s->avail_out;
        if (got > limit - *total)
            return GZSTREAM_TOO_LARGE;
        *total += got;
        if (got && sink && sink(ctx, out, got) != 0)
            return GZSTREAM_SINK;
        consumed = (size_t)(s->next_in - data);
        if (s->block_state == ISAL_BLOCK_FINISH) {
            /* ISA-L gives back what it read past the member's trailer */
            if (consumed == len)
                return GZSTREAM_OK;
            if (!pp_is_gzip(data + consumed, len - consumed) ||
                !isal_reads_member(data + consumed, len - consumed))
                return GZSTREAM_INVALID;
            isal_inflate_reset(s); /* the next member */
            s->crc_flag = ISAL_GZIP;
            s->next_in = (uint8_t *)data + consumed;
            s->avail_in = 0;
        } else if (got == 0 && consumed == before) {
            return GZSTREAM_INVALID; /* no progress: truncated, when all is read */
        }
    }
}

gzstream_status gzstream_inflate(const uint8_t *data, size_t len, size_t limit, size_t chunk,
                                 gzstream_sink sink, void *ctx, size_t *total, char *err,
                                 size_t errlen)
{
    uint8_t out[GZSTREAM_CHUNK];
    size_t count = 0;
    gzstream_status st;
    if (chunk == 0 || chunk > sizeof out)
        chunk = sizeof out;
    /* 87 KB (its Huffman tables and history): not on a worker's stack */
    struct inflate_state *s = malloc(sizeof *s);
    if (!s) {
        text_errorf(err, errlen, "gzip: cannot start inflating");
        return GZSTREAM_NO_MEMORY;
    }
    st = isal_run(s, data, len, limit, out, chunk, sink, ctx, &count);
    free(s);
    if (st == GZSTREAM_INVALID) {
        /* zlib's verdict and words; the sink has seen what ISA-L gave */
        count = 0;
        st = zlib_inflate(data, len, limit, out, chunk, NULL, NULL, &count, err, errlen);
        if (st == GZSTREAM_OK) { /* read by zlib, not by ISA-L: none known */
            text_errorf(err, errlen, "bad gzip: corrupt stream");
            st = GZSTREAM_INVALID;
        }
    }
    if (total)
        *total = count;
    return st;
}
