/* md5: RFC 1321 message digest, for the `hashmod` relabel action, which
 * Prometheus defines on MD5 (the last 8 bytes of the digest, big-endian,
 * modulo `modulus`). Not used for anything needing security. */
#ifndef RELABEL_MD5_H
#define RELABEL_MD5_H

#include <stddef.h>
#include <stdint.h>

#define MD5_DIGEST_LEN 16

void md5_digest(const void *data, size_t len, uint8_t out[MD5_DIGEST_LEN]);

#endif
