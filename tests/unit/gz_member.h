/* gz_member: a gzip member rewritten with a header CRC (FHCRC, RFC 1952),
 * for the tests of the inflaters that check it (tests/unit/test_pprof.c,
 * test_scrape_check.c). */
#ifndef PROFPIPE_GZ_MEMBER_H
#define PROFPIPE_GZ_MEMBER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#define GZ_MEMBER_HEADER 10 /* a header without optional fields */

/* gz (one member whose flags byte is 0) with the FHCRC flag and a right
 * header CRC, into out (room for gz_len + 2 bytes); its length. */
static inline size_t gz_member_with_header_crc(const uint8_t *gz, size_t gz_len, uint8_t *out)
{
    memcpy(out, gz, GZ_MEMBER_HEADER);
    out[3] = 0x02;
    uint32_t crc = (uint32_t)crc32(0, out, GZ_MEMBER_HEADER);
    out[GZ_MEMBER_HEADER] = (uint8_t)crc;
    out[GZ_MEMBER_HEADER + 1] = (uint8_t)(crc >> 8);
    memcpy(out + GZ_MEMBER_HEADER + 2, gz + GZ_MEMBER_HEADER, gz_len - GZ_MEMBER_HEADER);
    return gz_len + 2;
}

#endif
