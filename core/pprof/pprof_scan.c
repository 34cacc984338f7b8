/* pprof_scan: reads a pprof's time_nanos and duration_nanos without
 * decoding it and without holding it inflated.
 *
 * A Pyroscope PushRequest carries no time window, so each raw profile's
 * own time is read when the request is decoded. A gzip'd profile is
 * inflated through a fixed buffer and its top-level fields are walked by a
 * byte-at-a-time state machine that skips every length-delimited field, so
 * a gzip bomb inside a request costs CPU up to PROFILE_MAX_DECOMPRESSED
 * bytes but never that much memory. */
#include "pprof_internal.h"

#include <string.h>
#include <zlib.h>

#include "profile.h"

#define SCAN_CHUNK 65536
#define SCAN_WINDOW_BITS (15 + 16) /* gzip header */
#define SCAN_FIELD_TIME 9
#define SCAN_FIELD_DURATION 10
#define SCAN_MAX_SHIFT 63

enum scan_state { SCAN_TAG, SCAN_VARINT, SCAN_LENGTH, SCAN_SKIP };
enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

typedef struct scanner {
    enum scan_state state;
    uint64_t acc; /* varint being read */
    unsigned shift;
    uint64_t field; /* field number of the current value */
    uint64_t skip;  /* bytes left to skip */
    size_t total;   /* bytes seen */
    int64_t *time_nanos, *duration_nanos;
} scanner;

/* Starts the value of a field whose tag was just read. */
static int scan_tag(scanner *s, uint64_t tag, char *err, size_t errlen)
{
    s->field = tag >> 3;
    if (s->field == 0) /* protobuf reserves field number 0 */
        return pprof_errorf(err, errlen, "bad protobuf: field number 0 in Profile at byte %zu",
                            s->total);
    switch (tag & 7) {
    case WT_VARINT:
        s->state = SCAN_VARINT;
        return 0;
    case WT_I64:
        s->skip = 8;
        s->state = SCAN_SKIP;
        return 0;
    case WT_I32:
        s->skip = 4;
        s->state = SCAN_SKIP;
        return 0;
    case WT_LEN:
        s->state = SCAN_LENGTH;
        return 0;
    }
    return pprof_errorf(err, errlen, "bad protobuf: wire type %u in Profile at byte %zu",
                        (unsigned)(tag & 7), s->total);
}

/* Feeds bytes to the scanner. 0, or -1 with the reason. */
static int scan_feed(scanner *s, const uint8_t *p, size_t n, char *err, size_t errlen)
{
    if (n == 0) /* p may be NULL (an empty raw profile): no arithmetic on it */
        return 0;
    const uint8_t *end = p + n;
    while (p < end) {
        if (s->state == SCAN_SKIP) {
            size_t take = (size_t)(end - p) < s->skip ? (size_t)(end - p) : (size_t)s->skip;
            p += take;
            s->skip -= take;
            s->total += take;
            if (s->skip == 0)
                s->state = SCAN_TAG;
            continue;
        }
        uint8_t b = *p++;
        s->total++;
        if (s->shift > SCAN_MAX_SHIFT)
            return pprof_errorf(err, errlen, "bad protobuf: varint too long at byte %zu", s->total);
        s->acc |= (uint64_t)(b & 0x7f) << s->shift;
        s->shift += 7;
        if (b & 0x80)
            continue;
        uint64_t v = s->acc;
        s->acc = 0;
        s->shift = 0;
        if (s->state == SCAN_TAG) {
            if (scan_tag(s, v, err, errlen) < 0)
                return -1;
        } else if (s->state == SCAN_VARINT) {
            if (s->field == SCAN_FIELD_TIME)
                *s->time_nanos = (int64_t)v;
            else if (s->field == SCAN_FIELD_DURATION)
                *s->duration_nanos = (int64_t)v;
            s->state = SCAN_TAG;
        } else { /* SCAN_LENGTH */
            s->skip = v;
            s->state = v ? SCAN_SKIP : SCAN_TAG;
        }
    }
    return 0;
}

static int scan_finish(const scanner *s, char *err, size_t errlen)
{
    if (s->total == 0)
        return pprof_errorf(err, errlen, "empty profile (0 bytes)");
    if (s->state != SCAN_TAG || s->shift != 0)
        return pprof_errorf(err, errlen, "bad protobuf: Profile truncated after %zu bytes",
                            s->total);
    return 0;
}

/* Inflates every gzip member of data through a fixed buffer into s. */
static int scan_gzip(scanner *s, const uint8_t *data, size_t len, pp_err *kind, char *err,
                     size_t errlen)
{
    static const size_t limit = PROFILE_MAX_DECOMPRESSED;
    uint8_t out[SCAN_CHUNK];
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, SCAN_WINDOW_BITS) != Z_OK)
        return pprof_errorf(err, errlen, "gzip: cannot start inflating");
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)len;
    int rc = -1;
    for (;;) {
        zs.next_out = out;
        zs.avail_out = sizeof out;
        int z = inflate(&zs, Z_NO_FLUSH);
        if (z != Z_OK && z != Z_STREAM_END && !(z == Z_BUF_ERROR && zs.avail_in == 0)) {
            pprof_errorf(err, errlen, "bad gzip: %s", zs.msg ? zs.msg : "corrupt stream");
            break;
        }
        size_t got = sizeof out - zs.avail_out;
        if (s->total + got > limit) {
            *kind = PP_ERR_TOO_LARGE;
            pprof_errorf(err, errlen, "profile inflates to more than %zu bytes", limit);
            break;
        }
        if (scan_feed(s, out, got, err, errlen) < 0)
            break;
        if (z == Z_STREAM_END) {
            if (zs.avail_in == 0) {
                rc = 0;
                break;
            }
            if (!gz_is_gzip(zs.next_in, zs.avail_in)) {
                pprof_errorf(err, errlen, "bad gzip: %u bytes of trailing garbage", zs.avail_in);
                break;
            }
            inflateReset(&zs);
        } else if (got == 0 && zs.avail_in == 0) {
            pprof_errorf(err, errlen, "bad gzip: truncated stream");
            break;
        }
    }
    inflateEnd(&zs);
    return rc;
}

int pprof_scan_time(const uint8_t *data, size_t len, int64_t *time_nanos, int64_t *duration_nanos,
                    pp_err *kind, char *err, size_t errlen)
{
    pp_err why = PP_ERR_INVALID;
    *time_nanos = *duration_nanos = 0;
    scanner s = {.state = SCAN_TAG, .time_nanos = time_nanos, .duration_nanos = duration_nanos};
    int rc = gz_is_gzip(data, len) ? scan_gzip(&s, data, len, &why, err, errlen)
                                   : scan_feed(&s, data, len, err, errlen);
    if (rc == 0)
        rc = scan_finish(&s, err, errlen);
    if (kind)
        *kind = rc == 0 ? PP_ERR_NONE : why;
    return rc < 0 ? -1 : 0;
}
