/* pprof_wire: the field numbers of pprof's Profile message, for the
 * decoder and encoder; the wire format itself (varints, tags,
 * length-delimited fields, read without trusting a length) is
 * lib/protowire. */
#ifndef PROFPIPE_PPROF_WIRE_H
#define PROFPIPE_PPROF_WIRE_H

#include "protowire.h"

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

#endif
