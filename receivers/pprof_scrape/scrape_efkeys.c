/* scrape_efkeys: see scrape_efkeys.h. The low bits are packed
 * little-endian, whatever the host, through byte-wise loads and stores
 * that compilers make one move. */
#include "scrape_efkeys.h"

#include <string.h>

/* A key's low bits are read and written as the 8 bytes from the first
 * that holds them: at most 7 bits before them and 47 of them. */
#define LOW_PAD 8
_Static_assert(EFKEYS_KEY_BITS <= 58, "a key's low bits and their shift fit one 64-bit word");

static unsigned bitlen(size_t n)
{
    return n ? 64 - (unsigned)__builtin_clzll((unsigned long long)n) : 0;
}

/* A key's low bits: what the high bitmap leaves (none from 2^47 keys). */
static unsigned low_bits(size_t n)
{
    unsigned b = bitlen(n);
    return b < EFKEYS_KEY_BITS ? EFKEYS_KEY_BITS - b : 0;
}

static size_t high_words(size_t n)
{
    return (n + ((size_t)1 << bitlen(n)) + 63) / 64;
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

size_t efkeys_bytes(size_t n)
{
    if (!n)
        return 0;
    return high_words(n) * 8 + (n * low_bits(n) + 7) / 8 + LOW_PAD;
}

void efkeys_encode(const uint64_t *keys, size_t n, void *out)
{
    if (!n)
        return;
    unsigned lb = low_bits(n); /* 0..47 */
    uint64_t *high = out, mask = ((uint64_t)1 << lb) - 1;
    uint8_t *low = (uint8_t *)out + high_words(n) * 8;
    memset(out, 0, efkeys_bytes(n));
    for (size_t i = 0; i < n; i++) {
        size_t pos = (size_t)(keys[i] >> lb) + i, bit = i * lb;
        high[pos / 64] |= (uint64_t)1 << (pos % 64);
        uint64_t v = keys[i] & mask;
        uint8_t *at = low + bit / 8;
        unsigned sh = (unsigned)(bit % 8);
        store_le64(at, load_le64(at) | v << sh);
    }
}

void efkeys_reader_init(efkeys_reader *r, const void *mem, size_t n)
{
    memset(r, 0, sizeof *r);
    if (!n)
        return;
    r->n = n;
    r->low_bits = low_bits(n);
    r->high = mem;
    r->low = (const uint8_t *)mem + high_words(n) * 8;
    r->bits = r->high[0];
}

uint64_t efkeys_next(efkeys_reader *r)
{
    while (!r->bits)
        r->bits = r->high[++r->word];
    size_t pos = r->word * 64 + (size_t)__builtin_ctzll(r->bits);
    r->bits &= r->bits - 1;
    unsigned lb = r->low_bits;
    size_t bit = r->i * lb;
    const uint8_t *at = r->low + bit / 8;
    unsigned sh = (unsigned)(bit % 8);
    uint64_t v = (load_le64(at) >> sh) & (((uint64_t)1 << lb) - 1);
    uint64_t high = (uint64_t)(pos - r->i);
    r->i++;
    return high << lb | v;
}
