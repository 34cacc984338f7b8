/* protowire: the protobuf wire format, read without a schema.
 *
 * Two readers over the same rules. wire_next() walks a message held whole
 * in memory, one field at a time (the pprof decoder, checks of a body,
 * small messages inside requests). wire_stream_feed() walks the top-level
 * fields of a message that arrives in pieces (inflated through a fixed
 * buffer), keeping only the few bytes of state a varint needs, and hands
 * over varint fields; everything else is skipped unseen.
 * wire_stream_run() does the same and can also hand over each tag and
 * the payloads of length-delimited fields piece by piece, so that nested
 * messages can be walked by streams of their own.
 *
 * Neither trusts a length: every step checks the bytes left, so truncated
 * or hostile input fails instead of reading past the end. Field number 0
 * and the group wire types (3, 4), unused by proto3, are refused. The
 * functions are inline so a decoder's inner loop stays as fast as a
 * hand-written one. The writer's side (tags and varints) is here too. */
#ifndef PROFPIPE_PROTOWIRE_H
#define PROFPIPE_PROTOWIRE_H

#include <stddef.h>
#include <stdint.h>

enum {
    WIRE_VARINT = 0,
    WIRE_I64 = 1,
    WIRE_LEN = 2,
    WIRE_I32 = 5,
};

#define WIRE_MAX_VARINT_BYTES 10
#define WIRE_TAG_SHIFT 3
#define WIRE_TYPE_MASK 7u
#define WIRE_VARINT_MORE 0x80u
#define WIRE_VARINT_BITS 0x7fu
#define WIRE_I64_BYTES 8
#define WIRE_I32_BYTES 4
/* wire_next's return when a field's payload runs past the end (the
 * message was cut off), as opposed to -1 (the bytes are not protobuf). */
#define WIRE_TRUNCATED (-2)

typedef struct wire_reader {
    const uint8_t *p, *end;
} wire_reader;

/* One field as read: its number, wire type and payload. */
typedef struct wire_field {
    uint32_t num;
    unsigned type;
    uint64_t v;          /* VARINT, I64, I32 */
    const uint8_t *data; /* LEN */
    size_t len;
} wire_field;

static inline int wire_varint(wire_reader *r, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < WIRE_MAX_VARINT_BYTES; i++) {
        if (r->p >= r->end)
            return -1;
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & WIRE_VARINT_BITS) << (7 * i);
        if (!(b & WIRE_VARINT_MORE)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Bytes of a fixed-width wire type (I64, I32), or 0 for the others. */
static inline size_t wire_fixed_size(unsigned type)
{
    return type == WIRE_I64 ? WIRE_I64_BYTES : type == WIRE_I32 ? WIRE_I32_BYTES : 0;
}

/* Reads the next field. 0; -1 when the bytes are not protobuf, or
 * WIRE_TRUNCATED when the field's payload runs past the end (f->num and
 * f->type are set then); what went wrong in *why. */
static inline int wire_next(wire_reader *r, wire_field *f, const char **why)
{
    uint64_t tag;
    if (wire_varint(r, &tag) < 0) {
        *why = "truncated or overlong tag";
        return -1;
    }
    f->num = (uint32_t)(tag >> WIRE_TAG_SHIFT);
    f->type = (unsigned)(tag & WIRE_TYPE_MASK);
    if (f->num == 0 || (tag >> WIRE_TAG_SHIFT) > UINT32_MAX) {
        *why = "invalid field number";
        return -1;
    }
    switch (f->type) {
    case WIRE_VARINT:
        if (wire_varint(r, &f->v) < 0) {
            *why = "truncated varint";
            return -1;
        }
        return 0;
    case WIRE_I64:
    case WIRE_I32: {
        size_t n = wire_fixed_size(f->type);
        if ((size_t)(r->end - r->p) < n) {
            *why = "truncated fixed-width field";
            return WIRE_TRUNCATED;
        }
        f->v = 0;
        for (size_t i = 0; i < n; i++)
            f->v |= (uint64_t)r->p[i] << (8 * i);
        r->p += n;
        return 0;
    }
    case WIRE_LEN: {
        uint64_t len;
        if (wire_varint(r, &len) < 0) {
            *why = "truncated length";
            return -1;
        }
        if (len > (uint64_t)(r->end - r->p)) {
            *why = "length-delimited field runs past the end of its message";
            return WIRE_TRUNCATED;
        }
        f->data = r->p;
        f->len = (size_t)len;
        r->p += len;
        return 0;
    }
    default:
        *why = "unsupported wire type (groups are not used by pprof)";
        return -1;
    }
}

/* ---- the streaming reader ---- */

typedef enum wire_stream_error {
    WIRE_STREAM_OK = 0,
    WIRE_STREAM_FIELD_ZERO,      /* field number 0 */
    WIRE_STREAM_BAD_WIRE_TYPE,   /* bad_type holds it */
    WIRE_STREAM_VARINT_TOO_LONG, /* more than 64 bits */
    WIRE_STREAM_STOPPED,         /* a wire_stream_fns callback said stop */
    WIRE_STREAM_FIELD_TOO_BIG,   /* a field number past 2^32 - 1 (wire_next refuses it too) */
    WIRE_STREAM_FIELD_RANGE      /* field number above max_field */
} wire_stream_error;

enum wire_stream_state { WIRE_S_TAG, WIRE_S_VARINT, WIRE_S_LENGTH, WIRE_S_SKIP, WIRE_S_PAYLOAD };

#define WIRE_STREAM_MAX_SHIFT 63

typedef struct wire_stream {
    enum wire_stream_state state; /* zero: expecting a tag */
    uint64_t acc;                 /* varint being read */
    unsigned shift;
    uint64_t field;     /* field number of the current value */
    uint64_t skip;      /* payload bytes left to skip */
    int payload_begun;  /* WIRE_S_PAYLOAD: a piece of it was handed over */
    size_t total;       /* bytes seen */
    unsigned bad_type;  /* with WIRE_STREAM_BAD_WIRE_TYPE */
    uint64_t max_field; /* set by the caller: higher field numbers are refused (0: none) */
    size_t field_at;    /* offset of the current field's tag */
} wire_stream;

/* Called with each top-level varint field (NULL: none wanted). */
typedef void (*wire_stream_varint_fn)(void *ctx, uint64_t field, uint64_t value);

/* What wire_stream_run hands over; any member may be NULL. tag sees each
 * field's number and wire type before its value; bytes sees the payload
 * of each length-delimited field in pieces as they arrive, `begin` on
 * the first and `end` on the last (an empty payload is one call with
 * both, n = 0). A nonzero return from tag or bytes stops the stream
 * (WIRE_STREAM_STOPPED). Fixed-size values are skipped unseen. */
typedef struct wire_stream_fns {
    int (*tag)(void *ctx, uint64_t field, unsigned type);
    wire_stream_varint_fn varint;
    int (*bytes)(void *ctx, uint64_t field, const uint8_t *p, size_t n, int begin, int end);
} wire_stream_fns;

/* Starts the value of a field whose tag was just read. */
static inline wire_stream_error wire_stream_tag(wire_stream *s, uint64_t tag)
{
    s->field = tag >> WIRE_TAG_SHIFT;
    if (s->field == 0)
        return WIRE_STREAM_FIELD_ZERO;
    if (s->field > UINT32_MAX)
        return WIRE_STREAM_FIELD_TOO_BIG;
    if (s->max_field && s->field > s->max_field)
        return WIRE_STREAM_FIELD_RANGE;
    unsigned type = (unsigned)(tag & WIRE_TYPE_MASK);
    switch (type) {
    case WIRE_VARINT:
        s->state = WIRE_S_VARINT;
        return WIRE_STREAM_OK;
    case WIRE_I64:
    case WIRE_I32:
        s->skip = wire_fixed_size(type);
        s->state = WIRE_S_SKIP;
        return WIRE_STREAM_OK;
    case WIRE_LEN:
        s->state = WIRE_S_LENGTH;
        return WIRE_STREAM_OK;
    }
    s->bad_type = type;
    return WIRE_STREAM_BAD_WIRE_TYPE;
}

/* Feeds the next n bytes (p may be NULL when n is 0) to the callbacks of
 * f. s->total then counts the bytes seen, up to the one at fault on an
 * error. */
static inline wire_stream_error wire_stream_run(wire_stream *s, const uint8_t *p, size_t n,
                                                const wire_stream_fns *f, void *ctx)
{
    if (n == 0)
        return WIRE_STREAM_OK;
    const uint8_t *end = p + n;
    while (p < end) {
        if (s->state == WIRE_S_SKIP || s->state == WIRE_S_PAYLOAD) {
            size_t take = (size_t)(end - p) < s->skip ? (size_t)(end - p) : (size_t)s->skip;
            s->skip -= take;
            s->total += take;
            if (s->state == WIRE_S_PAYLOAD && f->bytes) {
                int begin = !s->payload_begun;
                s->payload_begun = 1;
                if (f->bytes(ctx, s->field, p, take, begin, s->skip == 0))
                    return WIRE_STREAM_STOPPED;
            }
            p += take;
            if (s->skip == 0) {
                s->state = WIRE_S_TAG;
                s->field_at = s->total;
            }
            continue;
        }
        uint8_t b = *p++;
        s->total++;
        if (s->shift > WIRE_STREAM_MAX_SHIFT)
            return WIRE_STREAM_VARINT_TOO_LONG;
        s->acc |= (uint64_t)(b & WIRE_VARINT_BITS) << s->shift;
        s->shift += 7;
        if (b & WIRE_VARINT_MORE)
            continue;
        uint64_t v = s->acc;
        s->acc = 0;
        s->shift = 0;
        if (s->state == WIRE_S_TAG) {
            wire_stream_error e = wire_stream_tag(s, v);
            if (e != WIRE_STREAM_OK)
                return e;
            if (f->tag && f->tag(ctx, s->field, (unsigned)(v & WIRE_TYPE_MASK)))
                return WIRE_STREAM_STOPPED;
        } else if (s->state == WIRE_S_VARINT) {
            if (f->varint)
                f->varint(ctx, s->field, v);
            s->state = WIRE_S_TAG;
            s->field_at = s->total;
        } else { /* WIRE_S_LENGTH */
            s->skip = v;
            s->payload_begun = 0;
            s->state = v ? WIRE_S_PAYLOAD : WIRE_S_TAG;
            if (!v)
                s->field_at = s->total;
            if (!v && f->bytes && f->bytes(ctx, s->field, p, 0, 1, 1))
                return WIRE_STREAM_STOPPED;
        }
    }
    return WIRE_STREAM_OK;
}

/* wire_stream_run handing over the varint fields only. */
static inline wire_stream_error wire_stream_feed(wire_stream *s, const uint8_t *p, size_t n,
                                                 wire_stream_varint_fn on_varint, void *ctx)
{
    const wire_stream_fns f = {.varint = on_varint};
    return wire_stream_run(s, p, n, &f, ctx);
}

/* 1 when the bytes fed so far end inside a field's payload (an I64, I32
 * or length-delimited field cut off), as opposed to inside a tag, varint
 * or length. */
static inline int wire_stream_in_payload(const wire_stream *s)
{
    return s->state == WIRE_S_SKIP || s->state == WIRE_S_PAYLOAD;
}

/* 1 when the bytes fed so far end between two fields. */
static inline int wire_stream_at_boundary(const wire_stream *s)
{
    return s->state == WIRE_S_TAG && s->shift == 0;
}

/* ---- writing ---- */

/* Bytes the varint encoding of v takes. */
static inline size_t wire_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= WIRE_VARINT_MORE) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes v as a varint at out (room for WIRE_MAX_VARINT_BYTES); returns
 * the bytes written. */
static inline size_t wire_put_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= WIRE_VARINT_MORE) {
        out[n++] = (uint8_t)(v | WIRE_VARINT_MORE);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

/* sint64's ZigZag mapping: small magnitudes of either sign take small
 * varints (0, -1, 1, -2 ... -> 0, 1, 2, 3 ...). */
static inline uint64_t wire_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t wire_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* A field's tag. */
static inline uint64_t wire_tag(uint32_t num, unsigned type)
{
    return ((uint64_t)num << WIRE_TAG_SHIFT) | type;
}

#endif
