/* pprof_scan: reads a pprof's time_nanos and duration_nanos without
 * decoding it and without holding it inflated.
 *
 * A Pyroscope PushRequest carries no time window, so each raw profile's
 * own time is read when the request is decoded. A gzip'd profile is
 * inflated through lib/gzstream's fixed buffer and its top-level fields
 * are walked by
 * lib/protowire's streaming reader, which skips every length-delimited
 * field, so a gzip bomb inside a request costs CPU up to
 * PROFILE_MAX_DECOMPRESSED bytes but never that much memory. */
#include "pprof_internal.h"

#include "gzstream.h"
#include "pprof_wire.h"
#include "profile.h"

/* What the scan keeps: the two times, and the wire state. */
typedef struct scanner {
    wire_stream wire;
    int64_t *time_nanos, *duration_nanos;
} scanner;

static void scan_varint(void *ctx, uint64_t field, uint64_t v)
{
    scanner *s = ctx;
    if (field == PROFILE_TIME_NANOS)
        *s->time_nanos = (int64_t)v;
    else if (field == PROFILE_DURATION_NANOS)
        *s->duration_nanos = (int64_t)v;
}

/* Feeds bytes to the scanner. 0, or -1 with the reason. */
static int scan_feed(void *ctx, const uint8_t *p, size_t n, char *err, size_t errlen)
{
    scanner *s = ctx;
    switch (wire_stream_feed(&s->wire, p, n, scan_varint, s)) {
    case WIRE_STREAM_OK:
        return 0;
    case WIRE_STREAM_FIELD_ZERO: /* protobuf reserves field number 0 */
        return pprof_errorf(err, errlen, "bad protobuf: field number 0 in Profile at byte %zu",
                            s->wire.total);
    case WIRE_STREAM_BAD_WIRE_TYPE:
        return pprof_errorf(err, errlen, "bad protobuf: wire type %u in Profile at byte %zu",
                            s->wire.bad_type, s->wire.total);
    case WIRE_STREAM_FIELD_TOO_BIG:
        return pprof_errorf(err, errlen,
                            "bad protobuf: field number past 2^32 in Profile at byte %zu",
                            s->wire.total);
    case WIRE_STREAM_VARINT_TOO_LONG:
    case WIRE_STREAM_STOPPED:     /* scan_varint never stops it */
    case WIRE_STREAM_FIELD_RANGE: /* no max_field here */
        break;
    }
    return pprof_errorf(err, errlen, "bad protobuf: varint too long at byte %zu", s->wire.total);
}

static int scan_finish(const scanner *s, char *err, size_t errlen)
{
    if (s->wire.total == 0)
        return pprof_errorf(err, errlen, "empty profile (0 bytes)");
    if (!wire_stream_at_boundary(&s->wire))
        return pprof_errorf(err, errlen, "bad protobuf: Profile truncated after %zu bytes",
                            s->wire.total);
    return 0;
}

/* gzstream's sink, handing each inflated piece to a pprof_stream_fn. */
typedef struct stream_sink {
    pprof_stream_fn feed;
    void *ctx;
    char *err;
    size_t errlen;
} stream_sink;

static int sink_piece(void *ctx, const uint8_t *p, size_t n)
{
    stream_sink *k = ctx;
    return k->feed(k->ctx, p, n, k->err, k->errlen);
}

/* Inflates every gzip member of data through lib/gzstream's fixed buffer
 * into feed. */
static int stream_gzip(const uint8_t *data, size_t len, size_t limit, pprof_stream_fn feed,
                       void *ctx, size_t *plain_len, pp_err *kind, char *err, size_t errlen)
{
    stream_sink k = {.feed = feed, .ctx = ctx, .err = err, .errlen = errlen};
    switch (gzstream_inflate(data, len, limit, 0, sink_piece, &k, plain_len, err, errlen)) {
    case GZSTREAM_OK:
        return 0;
    case GZSTREAM_TOO_LARGE:
        *kind = PP_ERR_TOO_LARGE;
        return pprof_errorf(err, errlen, "profile inflates to more than %zu bytes", limit);
    case GZSTREAM_SINK: /* the reason is feed's */
    case GZSTREAM_INVALID:
    case GZSTREAM_NO_MEMORY:
        break;
    }
    return -1;
}

int pprof_stream(const uint8_t *data, size_t len, size_t limit, pprof_stream_fn feed, void *ctx,
                 size_t *plain_len, pp_err *kind, char *err, size_t errlen)
{
    *plain_len = 0;
    if (limit > PROFILE_MAX_DECOMPRESSED)
        limit = PROFILE_MAX_DECOMPRESSED;
    if (gz_is_gzip(data, len))
        return stream_gzip(data, len, limit, feed, ctx, plain_len, kind, err, errlen);
    if (len > limit) {
        *kind = PP_ERR_TOO_LARGE;
        return pprof_errorf(err, errlen, "profile is larger than %zu bytes", limit);
    }
    *plain_len = len;
    return feed(ctx, data, len, err, errlen);
}

int pprof_scan_time(const uint8_t *data, size_t len, int64_t *time_nanos, int64_t *duration_nanos,
                    pp_err *kind, char *err, size_t errlen)
{
    pp_err why = PP_ERR_INVALID;
    *time_nanos = *duration_nanos = 0;
    scanner s = {.time_nanos = time_nanos, .duration_nanos = duration_nanos};
    size_t plain_len;
    int rc = pprof_stream(data, len, PROFILE_MAX_DECOMPRESSED, scan_feed, &s, &plain_len, &why, err,
                          errlen);
    if (rc == 0)
        rc = scan_finish(&s, err, errlen);
    if (kind)
        *kind = rc == 0 ? PP_ERR_NONE : why;
    return rc < 0 ? -1 : 0;
}
