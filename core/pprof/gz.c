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

#include "pp_constants.h"

#define GZ_WINDOW_BITS 15
#define GZ_FORMAT_GZIP 16 /* added to window bits: gzip header, not zlib */
#define GZ_MEM_LEVEL 8
/* pprof writers (Go's runtime/pprof) favour speed: so do we */
#define GZ_LEVEL Z_BEST_SPEED
#define GZ_MIN_OUT 4096
#define GZ_GUESS_RATIO 4

/* gz_gunzip's failure: its kind, when the caller wants it, and -1. */
static int gz_fail(pp_err *kind, pp_err what)
{
    if (kind)
        *kind = what;
    return -1;
}

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
    return pp_is_gzip(data, len);
}

/* zlib counts in 32 bits: feed and drain at most that much per call. */
static uInt gz_chunk(size_t n)
{
    return (uInt)(n > UINT32_MAX ? UINT32_MAX : n);
}

/* Output buffer of an inflate, never grown past `room`. */
typedef struct gz_out {
    uint8_t *buf;
    size_t len, cap, room;
} gz_out;

/* After a member ended: 1 when the input is used up, 0 when another gzip
 * member follows (the stream is reset for it), -1 on trailing garbage. */
static int gz_next_member(z_stream *zs, const uint8_t *src, size_t in_len, char *err, size_t errlen)
{
    size_t consumed = (size_t)((const uint8_t *)zs->next_in - src);
    size_t rest = in_len - consumed;
    if (rest == 0)
        return 1;
    if (!gz_is_gzip(src + consumed, rest))
        return pprof_errorf(err, errlen, "bad gzip: %zu bytes of trailing garbage", rest);
    inflateReset(zs);
    zs->avail_in = gz_chunk(rest);
    return 0;
}

/* Inflates all of src into o. 0, or -1 with the reason (the limit is
 * checked by the caller, from o->len). */
static int gz_inflate_all(z_stream *zs, const uint8_t *src, size_t in_len, gz_out *o,
                          size_t max_out, pp_err *kind, char *err, size_t errlen)
{
    zs->next_in = (Bytef *)src;
    zs->avail_in = gz_chunk(in_len);
    while (o->len <= max_out) {
        if (o->len == o->cap && gz_grow(&o->buf, &o->cap, o->room) < 0)
            return gz_fail(kind, PP_ERR_NO_MEMORY),
                   pprof_errorf(err, errlen, "gzip: out of memory");
        zs->next_out = o->buf + o->len;
        zs->avail_out = gz_chunk(o->cap - o->len);
        uInt before = zs->avail_out;
        int zr = inflate(zs, Z_NO_FLUSH);
        o->len += before - zs->avail_out;
        size_t consumed = (size_t)((const uint8_t *)zs->next_in - src);
        if (zr == Z_STREAM_END) {
            int end = gz_next_member(zs, src, in_len, err, errlen);
            if (end != 0)
                return end > 0 ? 0 : -1;
        } else if (zr == Z_BUF_ERROR && zs->avail_out != 0) {
            /* no progress with output room left: more input, or none */
            if (consumed == in_len)
                return pprof_errorf(err, errlen,
                                    "bad gzip: truncated stream (unexpected end of input)");
            zs->avail_in = gz_chunk(in_len - consumed);
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            return pprof_errorf(err, errlen, "bad gzip: %s", zs->msg ? zs->msg : "corrupt stream");
        }
    }
    return 0;
}

int gz_gunzip(const void *in, size_t in_len, size_t max_out, uint8_t **out, size_t *out_len,
              pp_err *kind, char *err, size_t errlen)
{
    *out = NULL;
    *out_len = 0;
    if (kind)
        *kind = PP_ERR_NONE;
    if (!gz_is_gzip(in, in_len))
        return gz_fail(kind, PP_ERR_INVALID),
               pprof_errorf(err, errlen, "bad gzip: missing gzip magic bytes");
    /* room for one byte past the limit: filling it proves the stream is
     * larger than allowed, while a stream of exactly max_out bytes fits */
    gz_out o = {NULL, 0, 0, max_out == SIZE_MAX ? max_out : max_out + 1};
    o.cap = in_len * GZ_GUESS_RATIO + GZ_MIN_OUT;
    if (o.cap > o.room || o.cap < in_len)
        o.cap = o.room;
    if (!(o.buf = malloc(o.cap)))
        return gz_fail(kind, PP_ERR_NO_MEMORY), pprof_errorf(err, errlen, "gzip: out of memory");
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, GZ_WINDOW_BITS + GZ_FORMAT_GZIP) != Z_OK) {
        free(o.buf);
        return gz_fail(kind, PP_ERR_NO_MEMORY),
               pprof_errorf(err, errlen, "gzip: inflateInit failed");
    }
    pp_err why = PP_ERR_INVALID;
    int rc = gz_inflate_all(&zs, in, in_len, &o, max_out, &why, err, errlen);
    inflateEnd(&zs);
    if (rc == 0 && o.len > max_out) {
        why = PP_ERR_TOO_LARGE;
        rc = pprof_errorf(err, errlen, "gzip: decompressed size exceeds the limit of %zu bytes",
                          max_out);
    }
    if (rc < 0) {
        free(o.buf);
        return gz_fail(kind, why);
    }
    *out = o.buf;
    *out_len = o.len;
    return 0;
}

int gz_gzip(const void *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, GZ_LEVEL, Z_DEFLATED, GZ_WINDOW_BITS + GZ_FORMAT_GZIP, GZ_MEM_LEVEL,
                     Z_DEFAULT_STRATEGY) != Z_OK)
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
