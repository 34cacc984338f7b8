/* scrape_efkeys: a delta baseline's keys (ascending stack hashes of
 * EFKEYS_KEY_BITS bits) in Elias-Fano form, read back in order.
 *
 * n keys spread over 2^EFKEYS_KEY_BITS: each key's low L = 48 - bitlen(n)
 * bits are kept as they are, packed; its high bits, at most bitlen(n) of
 * them, go in unary, as one bit set at position high + i in a bitmap of
 * n + 2^bitlen(n) bits (at most 3n). That is 48 - bitlen(n) + 2 to 3
 * bits a key where a plain array takes 64: 40 bits for 1,000 keys, 38.7
 * for 2,438, and the keys are the larger part of a baseline. The merge
 * against the next scrape reads the keys in order, which this form gives
 * at a few instructions a key; it has no random access. */
#ifndef SCRAPE_EFKEYS_H
#define SCRAPE_EFKEYS_H

#include <stddef.h>
#include <stdint.h>

/* A key is below 2^EFKEYS_KEY_BITS (scrape_delta.c says why 48). */
#define EFKEYS_KEY_BITS 48

/* Bytes n keys take (a multiple of 8 plus the packed low bits and 8
 * bytes of padding for word reads); 0 for none. */
size_t efkeys_bytes(size_t n);
/* Writes n ascending keys into out (efkeys_bytes(n) bytes, 8-byte
 * aligned). */
void efkeys_encode(const uint64_t *keys, size_t n, void *out);

typedef struct efkeys_reader {
    const uint64_t *high;
    const uint8_t *low;
    size_t n, i;
    unsigned low_bits;
    size_t word;   /* the high bitmap's word being read */
    uint64_t bits; /* its bits not yet passed */
} efkeys_reader;

/* Reads the n keys at mem in order, with efkeys_next (i < n). */
void efkeys_reader_init(efkeys_reader *r, const void *mem, size_t n);
uint64_t efkeys_next(efkeys_reader *r);

#endif
