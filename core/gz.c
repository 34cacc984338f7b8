/* gz: gzip and gunzip of whole buffers with zlib, the gunzip side bounded.
 *
 * A pprof is small when compressed and can be huge when not: a hostile or
 * broken peer can send a few KiB that inflate to gigabytes. gz_gunzip
 * therefore grows its output geometrically only up to `max_out` and fails
 * as soon as the stream wants more. Concatenated gzip members (allowed by
 * RFC 1952, written by some tools) are inflated one after the other. */
#include "pprof_internal.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define GZ_WINDOW_BITS 15
#define GZ_FORMAT_GZIP 16 /* added to window bits: gzip header, not zlib */
#define GZ_MEM_LEVEL 8
/* pprof writers (Go's runtime/pprof) favour speed: so do we */
#define GZ_LEVEL Z_BEST_SPEED
#define GZ_MIN_OUT 4096
#define GZ_GUESS_RATIO 4
#define GZ_MAGIC0 0x1f
#define GZ_MAGIC1 0x8b

/* Grows *buf to at least twice its size, capped at max. 0 or -1. */
static int gz_grow(uint8_t **buf, size_t *cap, size_t max)
{
    size_t want = *cap * 2;
    if (want > max || want < *cap)
        want = max;
    uint8_t *nb = realloc(*buf, want);
    if (!nb)
        return -1;
    *buf = nb;
    *cap = want;
    return 0;
}

int gz_is_gzip(const void *data, size_t len)
{
    const uint8_t *p = data;
    return len >= 2 && p[0] == GZ_MAGIC0 && p[1] == GZ_MAGIC1;
}

int gz_gunzip(const void *in, size_t in_len, size_t max_out, uint8_t **out,
              size_t *out_len, char *err, size_t errlen)
{
    *out = NULL;
    *out_len = 0;
    if (!gz_is_gzip(in, in_len))
        return pprof_errorf(err, errlen, "bad gzip: missing gzip magic bytes");
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, GZ_WINDOW_BITS + GZ_FORMAT_GZIP) != Z_OK)
        return pprof_errorf(err, errlen, "gzip: inflateInit failed");
    /* room for one byte past the limit: filling it proves the stream is
     * larger than allowed, while a stream of exactly max_out bytes fits */
    size_t room = max_out == SIZE_MAX ? max_out : max_out + 1;
    size_t cap = in_len * GZ_GUESS_RATIO + GZ_MIN_OUT;
    if (cap > room || cap < in_len)
        cap = room;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        inflateEnd(&zs);
        return pprof_errorf(err, errlen, "gzip: out of memory");
    }
    const uint8_t *src = in;
    size_t len = 0;
    zs.next_in = (Bytef *)src;
    zs.avail_in = (uInt)(in_len > UINT32_MAX ? UINT32_MAX : in_len);
    int rc = -1;
    for (;;) {
        if (len > max_out)
            break;
        if (len == cap && gz_grow(&buf, &cap, room) < 0) {
            pprof_errorf(err, errlen, "gzip: out of memory");
            break;
        }
        zs.next_out = buf + len;
        zs.avail_out = (uInt)(cap - len > UINT32_MAX ? UINT32_MAX : cap - len);
        uInt before = zs.avail_out;
        int zr = inflate(&zs, Z_NO_FLUSH);
        len += before - zs.avail_out;
        if (zr == Z_STREAM_END) {
            size_t consumed = (size_t)((const uint8_t *)zs.next_in - src);
            size_t rest = in_len - consumed;
            if (rest == 0) {
                rc = 0;
                break;
            }
            if (!gz_is_gzip(src + consumed, rest)) {
                pprof_errorf(err, errlen, "bad gzip: %zu bytes of trailing garbage", rest);
                break;
            }
            inflateReset(&zs);
            zs.avail_in = (uInt)(rest > UINT32_MAX ? UINT32_MAX : rest);
            continue;
        }
        if (zr == Z_OK)
            continue;
        if (zr == Z_BUF_ERROR && zs.avail_out == 0)
            continue; /* output full: grow and go on */
        if (zr == Z_BUF_ERROR) {
            size_t consumed = (size_t)((const uint8_t *)zs.next_in - src);
            if (consumed < in_len) {
                zs.avail_in = (uInt)(in_len - consumed > UINT32_MAX
                                         ? UINT32_MAX
                                         : in_len - consumed);
                continue;
            }
            pprof_errorf(err, errlen, "bad gzip: truncated stream (unexpected end of input)");
            break;
        }
        pprof_errorf(err, errlen, "bad gzip: %s", zs.msg ? zs.msg : "corrupt stream");
        break;
    }
    inflateEnd(&zs);
    if (len > max_out)
        rc = pprof_errorf(err, errlen, "gzip: decompressed size exceeds the limit of %zu bytes",
                     max_out);
    if (rc < 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

int gz_gzip(const void *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, GZ_LEVEL, Z_DEFLATED, GZ_WINDOW_BITS + GZ_FORMAT_GZIP,
                     GZ_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    if (in_len > UINT32_MAX) {
        deflateEnd(&zs);
        return -1;
    }
    size_t cap = deflateBound(&zs, (uLong)in_len);
    uint8_t *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&zs);
        return -1;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)in_len;
    zs.next_out = buf;
    zs.avail_out = (uInt)cap;
    int zr = deflate(&zs, Z_FINISH);
    size_t len = cap - zs.avail_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = len;
    return 0;
}
