/* pprof_codec: serialized pprof to tree and back: pprof_decode.c,
 * pprof_validate.c, pprof_scan.c (reads the time fields only), pprof_peek.c
 * (what label-only paths need, in one streaming pass) and
 * pprof_encode.c. */
#ifndef PROFPIPE_PPROF_CODEC_H
#define PROFPIPE_PPROF_CODEC_H

#include <profpipe/plugin.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"

/* Decodes a plain (not gzip'd) serialized pprof into *out, allocating in a.
 * Validates everything the profile's consumers rely on: string indices,
 * value counts, ids and references. 0, or -1 with the reason. */
int pprof_decode(arena *a, const uint8_t *data, size_t len, pp_pprof *out, char *err,
                 size_t errlen);
/* The structural checks of pprof_decode, for trees built elsewhere. */
int pprof_validate(const pp_pprof *t, char *err, size_t errlen);
/* Decodes gzip'd or plain bytes (detected by the gzip magic). */
int pprof_decode_any(arena *a, const uint8_t *data, size_t len, pp_pprof *out, char *err,
                     size_t errlen);
/* Reads only time_nanos and duration_nanos of gzip'd or plain bytes,
 * checking the top-level wire format. 0 or -1. */
int pprof_scan_time(const uint8_t *data, size_t len, int64_t *time_nanos, int64_t *duration_nanos,
                    pp_err *kind, char *err, size_t errlen);
/* Hands the plain bytes of data (gzip'd, every member inflated through a
 * fixed buffer, or plain) to feed in pieces, counting them in *plain_len;
 * more than limit (at most PROFILE_MAX_DECOMPRESSED) stops with
 * *kind = PP_ERR_TOO_LARGE. feed returns 0, or -1 with the reason in err
 * to stop. 0, or -1 with the reason. */
typedef int (*pprof_stream_fn)(void *ctx, const uint8_t *p, size_t n, char *err, size_t errlen);
int pprof_stream(const uint8_t *data, size_t len, size_t limit, pprof_stream_fn feed, void *ctx,
                 size_t *plain_len, pp_err *kind, char *err, size_t errlen);
/* Most sample types a profile may have, in the decoder and in
 * pprof_peek alike (which keeps them in a fixed table): Go writes at most
 * 4, and every receiver must refuse the same profiles whichever of the
 * two reads them. */
#define PPROF_MAX_SAMPLE_TYPES 64
/* One streaming pass in fixed memory (pprof_peek.c): a skeleton pp_pprof
 * holding only the sample types (with their type and unit strings, which
 * are all its string table holds), time_nanos and duration_nanos, after
 * the checks that need no more memory than that (wire format and wire
 * types, string indexes against the string table's size, string 0 empty,
 * ids non-zero, one value per sample type in every sample). One malloc'd
 * block: free() it. NULL with the reason in err and *kind: PP_ERR_TOO_LARGE
 * when the bytes inflate past max_plain, PP_ERR_INVALID,
 * PP_ERR_NO_MEMORY. *plain_len: the plain size (on success). */
pp_pprof *pprof_peek(const uint8_t *data, size_t len, size_t max_plain, size_t *plain_len,
                     pp_err *kind, char *err, size_t errlen);
/* Serializes t (plain protobuf) into a malloc'd buffer. 0 or -1 (memory). */
int pprof_encode(const pp_pprof *t, uint8_t **out, size_t *out_len);

#endif
