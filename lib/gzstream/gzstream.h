/* gzstream: a gzip stream inflated through a fixed buffer.
 *
 * For readers that only walk what a gzip'd body holds (the pprof time
 * scan, the scrape receiver's check that a body is a pprof): every member
 * of the stream (RFC 1952 allows several) is inflated into one buffer of
 * at most GZSTREAM_CHUNK bytes, and each piece goes to a sink before the
 * next overwrites it. ISA-L inflates; what it refuses zlib reads again,
 * without the sink, and words. Memory stays at that buffer and the
 * inflater's state whatever the stream inflates to; CPU is bounded by
 * `limit`, the most the stream may inflate to. */
#ifndef PROFPIPE_GZSTREAM_H
#define PROFPIPE_GZSTREAM_H

#include <stddef.h>
#include <stdint.h>

/* The largest piece handed to a sink (the buffer, on the stack). */
#define GZSTREAM_CHUNK 65536

typedef enum gzstream_status {
    GZSTREAM_OK = 0,
    GZSTREAM_SINK,      /* the sink stopped the walk: its reason is its own */
    GZSTREAM_TOO_LARGE, /* more than `limit` bytes: no message, the caller words it */
    GZSTREAM_INVALID,   /* corrupt or truncated stream, trailing garbage: message in err */
    GZSTREAM_NO_MEMORY, /* the inflater could not start: message in err */
} gzstream_status;

/* Takes the next n inflated bytes (valid during the call only). 0 to go
 * on, anything else to stop. */
typedef int (*gzstream_sink)(void *ctx, const uint8_t *p, size_t n);

/* Inflates the gzip stream data[0..len) in pieces of at most `chunk`
 * bytes (0 or more than GZSTREAM_CHUNK: GZSTREAM_CHUNK), handing each to
 * sink (NULL: only count them). *total (when not NULL) is the number of
 * bytes inflated and accepted by the limit, at the end as on a failure.
 * The messages are those of a whole-buffer gunzip: "bad gzip: truncated
 * stream (unexpected end of input)", "bad gzip: <zlib's reason>", "bad
 * gzip: N bytes of trailing garbage". */
gzstream_status gzstream_inflate(const uint8_t *data, size_t len, size_t limit, size_t chunk,
                                 gzstream_sink sink, void *ctx, size_t *total, char *err,
                                 size_t errlen);

#endif
