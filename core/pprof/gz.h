/* gz: gzip and gunzip of whole buffers, the gunzip bounded (gz.c). */
#ifndef PROFPIPE_GZ_H
#define PROFPIPE_GZ_H

#include <profpipe/plugin.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bound on a decompressed pprof (gzip bombs). */
#define PROFILE_MAX_DECOMPRESSED ((size_t)512 << 20)

/* *kind (when not NULL) says why it failed: PP_ERR_TOO_LARGE over
 * max_out, PP_ERR_INVALID for a corrupt stream, PP_ERR_NO_MEMORY. */
int gz_gunzip(const void *in, size_t in_len, size_t max_out, uint8_t **out, size_t *out_len,
              pp_err *kind, char *err, size_t errlen);
int gz_gzip(const void *in, size_t in_len, uint8_t **out, size_t *out_len);
/* Starts with the gzip magic bytes. */
int gz_is_gzip(const void *data, size_t len);

#endif
