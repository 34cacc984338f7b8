/* span_ids: trace and span id normalization, and the trace keep decision
 * of OpenTelemetry's TraceIdRatioBased sampler.
 *
 * The OpenTelemetry specification leaves the exact algorithm of
 * TraceIdRatioBased open (sdk.md: "TODO: Add details about how the
 * TraceIdRatioBased is implemented as a function of the TraceID"), so we
 * follow the Go SDK, which Pyroscope's Go integration runs next to
 * (go.opentelemetry.io/otel/sdk/trace, sampling.go, since v1.12 / #3557
 * "uses the rightmost bits"): x = the trace id's bytes 8..15 read
 * big-endian, shifted right by one; keep when x < uint64(ratio * 2^63);
 * ratio >= 1 keeps everything, ratio <= 0 nothing. */
#ifndef SPAN_IDS_H
#define SPAN_IDS_H

#include <stddef.h>
#include <stdint.h>

#define SPAN_ID_HEX 16  /* 8 bytes */
#define TRACE_ID_HEX 32 /* 16 bytes */

/* Normalizes an id to exactly `hex_len` lower-case hex digits in out
 * (hex_len + 1 bytes): surrounding blanks and a 0x prefix go, shorter ids
 * are left-padded with zeros (a 64-bit trace id is the low half of a
 * 128-bit one, as OpenTelemetry's Jaeger and Zipkin translators place
 * it). Returns 0, or -1 when malformed: empty, not hex, too long, or all
 * zeros (an invalid id in W3C trace context). */
int span_id_normalize(const char *in, size_t hex_len, char *out);

/* The sampler's bound for a ratio: keep when x < bound. */
uint64_t span_ratio_bound(double ratio);
/* 1 if the trace (normalized, TRACE_ID_HEX digits) is kept at `ratio`. */
int span_trace_keep(const char *trace_hex, double ratio);

#endif
