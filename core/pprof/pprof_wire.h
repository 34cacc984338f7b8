/* pprof_wire: the few pieces of the protobuf wire format the pprof codec
 * needs (varints, tags, length-delimited fields), as inline helpers shared by
 * the decoder and encoder. Reading never trusts a length: every step checks
 * the bytes left, so truncated or hostile input fails instead of reading
 * past the end. */
#ifndef PROFPIPE_PPROF_WIRE_H
#define PROFPIPE_PPROF_WIRE_H

#include <stddef.h>
#include <stdint.h>

enum {
    WIRE_VARINT = 0,
    WIRE_I64 = 1,
    WIRE_LEN = 2,
    WIRE_I32 = 5,
};

/* Field numbers of the top-level Profile message (proto/profile.proto).
 * Nested messages are small enough that their numbers are written where
 * they are read and written, each next to its field name. */
enum {
    PROFILE_SAMPLE_TYPE = 1,
    PROFILE_SAMPLE = 2,
    PROFILE_MAPPING = 3,
    PROFILE_LOCATION = 4,
    PROFILE_FUNCTION = 5,
    PROFILE_STRING_TABLE = 6,
    PROFILE_DROP_FRAMES = 7,
    PROFILE_KEEP_FRAMES = 8,
    PROFILE_TIME_NANOS = 9,
    PROFILE_DURATION_NANOS = 10,
    PROFILE_PERIOD_TYPE = 11,
    PROFILE_PERIOD = 12,
    PROFILE_COMMENT = 13,
    PROFILE_DEFAULT_SAMPLE_TYPE = 14,
    PROFILE_DOC_URL = 15,
};

#define WIRE_MAX_VARINT_BYTES 10
#define WIRE_TAG_SHIFT 3
#define WIRE_TYPE_MASK 7u

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
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Reads the next field. 0, or -1 (what went wrong in *why). */
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
        size_t n = f->type == WIRE_I64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n) {
            *why = "truncated fixed-width field";
            return -1;
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
            return -1;
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

#endif
