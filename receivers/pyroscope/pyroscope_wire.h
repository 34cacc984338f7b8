/* pyroscope_wire: a walk over protobuf wire format, field by field,
 * without a schema: for the parts of requests the receiver reads itself
 * (a PushRequest's raw profiles, the Java SDK's LabelsSnapshot). */
#ifndef PYROSCOPE_WIRE_H
#define PYROSCOPE_WIRE_H

#include <stddef.h>
#include <stdint.h>

typedef struct pyro_wire {
    const uint8_t *p, *end;
} pyro_wire;

/* Next field of a message: its number; for a length-delimited field its
 * bytes in val/len, for a varint field its value in *num (val = NULL);
 * other wire types are skipped (val = NULL). 1 = a field, 0 = end of the
 * message, -1 = malformed. */
int pyro_wire_next(pyro_wire *w, uint64_t *field, uint64_t *num, const uint8_t **val, size_t *len);

#endif
