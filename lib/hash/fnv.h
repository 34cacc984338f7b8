/* fnv: 64-bit FNV-1a, the hash every fingerprint and hash table in
 * profpipe uses: stable across runs and machines (a fingerprint may be
 * written to disk or sent as a Kafka key), short, and good enough for
 * tables whose keys an attacker does not choose freely. Inline: it sits in
 * hot loops. */
#ifndef PROFPIPE_FNV_H
#define PROFPIPE_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

/* FNV-1a over len bytes, continued from h (start with FNV_OFFSET). */
static inline uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * FNV_PRIME;
    return h;
}

/* The same over the bytes of a string, without its NUL. */
static inline uint64_t fnv1a_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * FNV_PRIME;
    return h;
}

#endif
