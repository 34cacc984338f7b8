/* pyroscope_wire: a walk over protobuf wire format, field by field,
 * without a schema: for the parts of requests the receiver reads itself
 * (a PushRequest's raw profiles, the Java SDK's LabelsSnapshot). The
 * reading is lib/protowire's; this is the shape the receiver's walks use. */
#ifndef PYROSCOPE_WIRE_H
#define PYROSCOPE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "protowire.h"

typedef wire_reader pyro_wire;

/* Next field of a message: its number; for a length-delimited field its
 * bytes in val/len, for a varint field its value in *num (val = NULL);
 * fixed-width fields are skipped (val = NULL, *num = 0). 1 = a field,
 * 0 = end of the message, -1 = malformed (field number 0 included). */
static inline int pyro_wire_next(pyro_wire *w, uint64_t *field, uint64_t *num, const uint8_t **val,
                                 size_t *len)
{
    if (w->p >= w->end)
        return 0;
    wire_field f;
    const char *why;
    if (wire_next(w, &f, &why) < 0)
        return -1;
    *field = f.num;
    *val = f.type == WIRE_LEN ? f.data : NULL;
    *num = f.type == WIRE_VARINT ? f.v : 0;
    if (f.type == WIRE_LEN)
        *len = f.len;
    return 1;
}

#endif
