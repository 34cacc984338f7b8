/* scrape_delta: turns cumulative pprof sample types into per-interval
 * deltas, one scrape_delta per target and profile type.
 *
 * Go's block and mutex profiles and the alloc_* sample types of its heap
 * profile count from process start. A profile store sums what it is sent
 * over a query's time range, so each scrape must carry only what happened
 * since the previous one. The state kept between scrapes is one hash
 * table: sample key -> cumulative values of the previous scrape, where
 * the key is a 64-bit hash of the stack (function name and line of every
 * frame, or the address of a frame without symbols) and the sample's
 * labels (Go's heap profile tells allocation sizes apart by a `bytes`
 * label). Only the keys and values are kept, never the profile, packed
 * between scrapes: memory stays at one baseline per series, sized to its
 * distinct stacks, whatever the number of scrapes.
 *
 * Rules (as Grafana Alloy's pyroscope.scrape does them):
 * - cumulative sample types are alloc_objects/count, alloc_space/bytes,
 *   contentions/count and delay/nanoseconds; the rest of a profile's
 *   values (inuse_*) pass unchanged;
 * - the first scrape only sets the baseline and is not emitted;
 * - a value that went down means the process restarted: the scrape
 *   becomes the new baseline and nothing is emitted, so no value ever
 *   goes negative;
 * - samples whose deltas are all zero (and with no other non-zero value)
 *   are dropped, with the locations, functions and strings only they
 *   named.
 */
#ifndef SCRAPE_DELTA_H
#define SCRAPE_DELTA_H

#include <stddef.h>

#include <profpipe/plugin.h>
#include "scrape_baseheap.h"

typedef struct scrape_delta scrape_delta;

typedef enum scrape_delta_result {
    SCRAPE_DELTA_ERROR = -1,   /* reason in err; state unchanged */
    SCRAPE_DELTA_NONE = 0,     /* no cumulative sample type: emit as is */
    SCRAPE_DELTA_BASELINE = 1, /* first scrape: kept as baseline, do not emit */
    SCRAPE_DELTA_RESET = 2,    /* a counter went back: new baseline, do not emit */
    SCRAPE_DELTA_EMIT = 3,     /* p now holds the deltas: emit it */
} scrape_delta_result;

/* heap: where the baselines live (the scrape loop's; NULL: malloc). */
scrape_delta *scrape_delta_new(scrape_baseheap *heap);
void scrape_delta_free(scrape_delta *d);

/* Cumulative sample types one profile may have (Go has two). */
#define SCRAPE_DELTA_MAX_TYPES 8

/* 1 if a sample type (type/unit byte strings, which may hold NUL bytes)
 * is cumulative since process start. */
int scrape_delta_is_cumulative(const char *type, size_t type_len, const char *unit,
                               size_t unit_len);

/* The indexes of t's cumulative sample types, in order, into idx (room
 * for SCRAPE_DELTA_MAX_TYPES); returns how many. */
size_t scrape_delta_cumulative_types(const pp_host *host, const pp_pprof *t, size_t *idx);

/* Applies the rules above to one scrape's plain (inflated) pprof bytes,
 * read in place (scrape_pbview.h): no tree is decoded. `time_ns` is the
 * scrape's wall-clock time. On EMIT, *out is a malloc'd plain pprof
 * holding the deltas (its duration the time since the previous scrape,
 * which *from_ns gives); otherwise *out is NULL. The bytes are checked
 * as the host's decoder would check them: ERROR for a profile the
 * pipeline could not decode, with the reason in err. */
scrape_delta_result scrape_delta_apply(scrape_delta *d, const uint8_t *plain, size_t len,
                                       int64_t time_ns, int64_t *from_ns, uint8_t **out,
                                       size_t *out_len, char *err, size_t errlen);

/* Number of keys remembered (for tests and memory checks). */
size_t scrape_delta_size(const scrape_delta *d);

/* Bytes the baseline holds between scrapes (keys and packed values). */
size_t scrape_delta_bytes(const scrape_delta *d);

/* The baseline's block (for tests): its address, and in *cap its
 * capacity in the heap (0 when malloc'd). */
const void *scrape_delta_block(const scrape_delta *d, size_t *cap);

#endif
