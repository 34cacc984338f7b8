/* gz: gzip and gunzip of whole buffers, the gunzip side bounded.
 *
 * A pprof is small when compressed and can be huge when not: a hostile or
 * broken peer can send a few KiB that inflate to gigabytes. gz_gunzip
 * therefore never gives its output more than `max_out` bytes of room and
 * fails as soon as the stream wants more. Concatenated gzip members
 * (allowed by RFC 1952, written by some tools) are inflated one after the
 * other.
 *
 * Whole buffers go through libdeflate, measured faster than zlib on both
 * sides (bench/gzip/run.sh). libdeflate needs the output's room up front:
 * gz_gunzip starts from the size the last member's trailer states (ISIZE),
 * bounded by what the input could possibly hold and by max_out, and grows
 * geometrically, never past max_out, when a member does not fit. Input
 * libdeflate refuses, and a member with a header CRC (which libdeflate
 * skips unchecked), is inflated again by zlib (gz_zlib_gunzip below),
 * whose verdict is kept, so that every error names what was wrong exactly
 * as it always did (a truncated stream, trailing garbage, zlib's reason).
 * A stream inflated in fixed chunks (pprof_scan.c, pprof_peek.c) goes
 * through lib/gzstream: ISA-L, zlib wording what it refuses. */
#include "pprof_internal.h"

#include <stdlib.h>
#include <string.h>
#include <libdeflate.h>
#include <zlib.h>

#include "pp_constants.h"

#define GZ_WINDOW_BITS 15
#define GZ_FORMAT_GZIP 16 /* added to window bits: gzip header, not zlib */
#define GZ_MEM_LEVEL 8
/* pprof writers (Go's runtime/pprof) favour speed: so do we (level 1,
 * zlib's Z_BEST_SPEED, in libdeflate's scale too) */
#define GZ_LEVEL 1
#define GZ_MIN_OUT 4096
#define GZ_GUESS_RATIO 4
/* deflate never expands more than 1032:1 (258-byte matches in codes of
 * 2 bits): a stated ISIZE above that is a lie not to allocate for */
#define GZ_MAX_RATIO 1032
#define GZ_TRAILER 8  /* CRC32 and ISIZE, little-endian */
#define GZ_FLG 3      /* the header's flags byte... */
#define GZ_FHCRC 0x02 /* ...and its header-CRC flag (RFC 1952) */

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

/* gz_gunzip with zlib, growing its output as it goes: what libdeflate
 * refused is judged here. */
static int gz_zlib_gunzip(const void *in, size_t in_len, size_t max_out, uint8_t **out,
                          size_t *out_len, pp_err *kind, char *err, size_t errlen)
{
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

/* The size the last member's trailer states (mod 2^32), bounded by what
 * in_len bytes can inflate to and by room; at least GZ_MIN_OUT. */
static size_t gz_first_room(const uint8_t *in, size_t in_len, size_t room)
{
    const uint8_t *t = in + in_len - 4;
    size_t want = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
    size_t most = in_len <= SIZE_MAX / GZ_MAX_RATIO ? in_len * GZ_MAX_RATIO : SIZE_MAX;
    if (want > most)
        want = most;
    if (want < GZ_MIN_OUT)
        want = GZ_MIN_OUT;
    return want < room ? want : room;
}

/* libdeflate's verdict on all of in: LIBDEFLATE_SUCCESS with *o filled,
 * LIBDEFLATE_INSUFFICIENT_SPACE past o->room, LIBDEFLATE_BAD_DATA for a
 * corrupt member or trailing bytes, -1 out of memory. */
static int gz_deflate_all(struct libdeflate_decompressor *d, const uint8_t *in, size_t in_len,
                          gz_out *o)
{
    size_t pos = 0;
    do {
        size_t used = 0, made = 0;
        if (!gz_is_gzip(in + pos, in_len - pos))
            return LIBDEFLATE_BAD_DATA; /* trailing garbage */
        if (in_len - pos > GZ_FLG && (in[pos + GZ_FLG] & GZ_FHCRC))
            return LIBDEFLATE_BAD_DATA; /* zlib checks a header CRC, libdeflate skips it */
        enum libdeflate_result r = libdeflate_gzip_decompress_ex(
            d, in + pos, in_len - pos, o->buf + o->len, o->cap - o->len, &used, &made);
        if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
            if (o->cap == o->room)
                return LIBDEFLATE_INSUFFICIENT_SPACE;
            if (gz_grow(&o->buf, &o->cap, o->room) < 0)
                return -1;
            continue; /* the member again, with more room */
        }
        if (r != LIBDEFLATE_SUCCESS)
            return LIBDEFLATE_BAD_DATA;
        pos += used;
        o->len += made;
    } while (pos < in_len);
    return LIBDEFLATE_SUCCESS;
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
    if (in_len < GZ_TRAILER) /* zlib names what is missing */
        return gz_zlib_gunzip(in, in_len, max_out, out, out_len, kind, err, errlen);
    /* libdeflate says exactly whether a member fits: max_out is the room */
    gz_out o = {NULL, 0, 0, max_out};
    o.cap = gz_first_room(in, in_len, o.room);
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    if (!d || !(o.buf = malloc(o.cap ? o.cap : 1))) {
        libdeflate_free_decompressor(d);
        return gz_fail(kind, PP_ERR_NO_MEMORY), pprof_errorf(err, errlen, "gzip: out of memory");
    }
    int r = gz_deflate_all(d, in, in_len, &o);
    libdeflate_free_decompressor(d);
    if (r == LIBDEFLATE_SUCCESS) {
        *out = o.buf;
        *out_len = o.len;
        return 0;
    }
    free(o.buf);
    if (r < 0)
        return gz_fail(kind, PP_ERR_NO_MEMORY), pprof_errorf(err, errlen, "gzip: out of memory");
    if (r == LIBDEFLATE_INSUFFICIENT_SPACE)
        return gz_fail(kind, PP_ERR_TOO_LARGE),
               pprof_errorf(err, errlen, "gzip: decompressed size exceeds the limit of %zu bytes",
                            max_out);
    /* refused: zlib says why (or, where the two disagree, keeps what
     * zlib always accepted) */
    return gz_zlib_gunzip(in, in_len, max_out, out, out_len, kind, err, errlen);
}

int gz_gzip(const void *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(GZ_LEVEL);
    if (!c)
        return -1;
    size_t cap = libdeflate_gzip_compress_bound(c, in_len);
    uint8_t *buf = cap ? malloc(cap) : NULL;
    size_t len = buf ? libdeflate_gzip_compress(c, in, in_len, buf, cap) : 0;
    libdeflate_free_compressor(c);
    if (len == 0) { /* a gzip member is never empty: 0 is a failure */
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = len;
    return 0;
}
