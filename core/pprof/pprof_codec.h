/* pprof_codec: serialized pprof to tree and back: pprof_decode.c,
 * pprof_validate.c, pprof_scan.c (reads the time fields only) and
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
/* Serializes t (plain protobuf) into a malloc'd buffer. 0 or -1 (memory). */
int pprof_encode(const pp_pprof *t, uint8_t **out, size_t *out_len);

#endif
