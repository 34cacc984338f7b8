/* pyroscope_wire: protobuf wire walk (see pyroscope_wire.h). */
#include "pyroscope_wire.h"

#define WIRE_VARINT 0
#define WIRE_I64 1
#define WIRE_LEN 2
#define WIRE_I32 5
#define WIRE_I64_SIZE 8
#define WIRE_I32_SIZE 4
#define WIRE_VARINT_MAX_BYTES 10

static int wire_varint(pyro_wire *w, uint64_t *v)
{
    *v = 0;
    for (int i = 0; i < WIRE_VARINT_MAX_BYTES && w->p < w->end; i++) {
        uint8_t byte = *w->p++;
        *v |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80))
            return 0;
    }
    return -1;
}

int pyro_wire_next(pyro_wire *w, uint64_t *field, uint64_t *num, const uint8_t **val, size_t *len)
{
    if (w->p >= w->end)
        return 0;
    uint64_t tag, n;
    if (wire_varint(w, &tag) < 0)
        return -1;
    *field = tag >> 3;
    *val = NULL;
    *num = 0;
    size_t left = (size_t)(w->end - w->p);
    switch (tag & 7) {
    case WIRE_VARINT:
        return wire_varint(w, num) < 0 ? -1 : 1;
    case WIRE_I64:
        n = WIRE_I64_SIZE;
        break;
    case WIRE_I32:
        n = WIRE_I32_SIZE;
        break;
    case WIRE_LEN:
        if (wire_varint(w, &n) < 0)
            return -1;
        left = (size_t)(w->end - w->p);
        *val = w->p;
        *len = (size_t)n;
        break;
    default:
        return -1;
    }
    if (n > left)
        return -1;
    w->p += n;
    return 1;
}
