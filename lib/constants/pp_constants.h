/* pp_constants: the few numbers many components need and must agree on,
 * defined once. Time in profpipe is int64 nanoseconds (pp_profile windows,
 * durations from the config), so the unit factors are int64 constants;
 * gzip is recognised by its two magic bytes (RFC 1952) before anything
 * decides whether to inflate. */
#ifndef PROFPIPE_PP_CONSTANTS_H
#define PROFPIPE_PP_CONSTANTS_H

#include <stddef.h>
#include <stdint.h>

#define NS_PER_US INT64_C(1000)
#define NS_PER_MS INT64_C(1000000)
#define NS_PER_SEC INT64_C(1000000000)

#define GZIP_MAGIC_0 0x1f
#define GZIP_MAGIC_1 0x8b

/* 1 when data starts with the gzip magic. */
static inline int pp_is_gzip(const void *data, size_t len)
{
    const uint8_t *b = data;
    return len >= 2 && b[0] == GZIP_MAGIC_0 && b[1] == GZIP_MAGIC_1;
}

#endif
