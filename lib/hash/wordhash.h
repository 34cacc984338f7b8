/* wordhash: a hash for in-memory hash tables that reads 8 bytes per
 * step where FNV-1a reads one: the tables of sample keys, strings and
 * stacks are where profpipe hashes most (the pprof merge and compaction,
 * string interning, scrape deltas, downsample's fold). Each step mixes
 * one 64-bit word in with a multiply and a rotate; wordhash_finish
 * (splitmix64's finalizer) spreads every input bit over the low bits a
 * power-of-two table indexes with.
 *
 * Not for anything written out or sent: its values may change between
 * versions; fingerprints (file names, Kafka keys, label identity) stay
 * FNV-1a (fnv.h). Like FNV-1a, it is not keyed: tables that an attacker
 * fills must bound their size, as they do. */
#ifndef PROFPIPE_WORDHASH_H
#define PROFPIPE_WORDHASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define WORDHASH_SEED UINT64_C(0x9e3779b97f4a7c15)
#define WORDHASH_MUL UINT64_C(0xff51afd7ed558ccd)

/* One 64-bit word into h. */
static inline uint64_t wordhash_u64(uint64_t h, uint64_t v)
{
    h ^= v;
    h *= WORDHASH_MUL;
    return (h << 31) | (h >> 33);
}

/* len bytes into h, 8 at a time. The last step reads the tail in fixed
 * sizes (no byte loop, no call to memcpy): the last 8 bytes again when
 * there are 8 or more (overlapping the words before), two overlapping
 * 4-byte reads for 4 to 7 bytes, the first, middle and last byte for 1 to
 * 3; the length goes in with it, so "ab" and "ab\0" differ. */
static inline uint64_t wordhash(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t tail = 0;
    if (len >= 8) {
        size_t n = len;
        for (; n > 8; p += 8, n -= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            h = wordhash_u64(h, w);
        }
        memcpy(&tail, (const unsigned char *)data + len - 8, 8);
    } else if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + len - 4, 4);
        tail = (uint64_t)a << 32 | b;
    } else if (len > 0) {
        tail = (uint64_t)p[0] << 16 | (uint64_t)p[len >> 1] << 8 | p[len - 1];
    }
    return wordhash_u64(wordhash_u64(h, tail), len);
}

/* The value to index a table with (never 0, so 0 can mark an empty slot). */
static inline uint64_t wordhash_finish(uint64_t h)
{
    h ^= h >> 30;
    h *= UINT64_C(0xbf58476d1ce4e5b9);
    h ^= h >> 27;
    h *= UINT64_C(0x94d049bb133111eb);
    h ^= h >> 31;
    return h ? h : 1;
}

#endif
