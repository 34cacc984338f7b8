/* pyroscope_jfr: a reader of JDK Flight Recorder recordings (JFR format
 * 2.x, as written by the JDK since 11 and by async-profiler, which the
 * Pyroscope Java SDK embeds).
 *
 * A recording is one or more chunks. Each chunk has a 68-byte header
 * (magic "FLR\0", version, size, offsets of its last constant-pool
 * checkpoint and of its metadata, start time, ticks per second), then
 * events. Every event is [size][type id][fields...] in LEB128 integers;
 * type 0 is the metadata (the class and field layout of every type),
 * type 1 a checkpoint (constant pools: stack traces, methods, classes,
 * symbols, thread states, keyed by id). Events refer to pool entries by
 * id, so a chunk is read in passes: metadata, then every checkpoint and
 * setting, then the sample events, whose stacks are resolved at once.
 *
 * The reader keeps only the events Pyroscope makes profiles of (see
 * jfr_kind), sums them per stack trace, context and span within a chunk,
 * and hands each sum to a callback with its frames resolved. Every length
 * and count is checked against the bytes that hold it; what it allocates
 * is counted against a budget. */
#ifndef PYROSCOPE_JFR_H
#define PYROSCOPE_JFR_H

#include <stddef.h>
#include <stdint.h>

/* The profiles Pyroscope makes of a recording (grafana/jfr-parser
 * pprof/pprof.go, commit 1d06ce3 of 2026-02-20), by the events they come from. */
typedef enum jfr_kind {
    JFR_CPU = 0,            /* jdk.ExecutionSample not sleeping */
    JFR_WALL,               /* execution samples with event=wall; profiler.WallClockSample */
    JFR_ALLOC_IN_TLAB,      /* jdk.ObjectAllocationInNewTLAB: 1, tlabSize */
    JFR_ALLOC_OUTSIDE_TLAB, /* jdk.ObjectAllocationOutsideTLAB: 1, allocationSize */
    JFR_ALLOC_SAMPLE,       /* jdk.ObjectAllocationSample: 1, weight */
    JFR_LOCK,               /* jdk.JavaMonitorEnter: 1, duration */
    JFR_PARK,               /* jdk.ThreadPark: 1, duration */
    JFR_LIVE,               /* profiler.LiveObject: 1 */
    JFR_MALLOC,             /* profiler.Malloc: 1, size */
    JFR_KINDS
} jfr_kind;

typedef struct jfr_frame {
    const char *class_name; /* JVM form, "java/lang/Thread"; "" if unknown */
    const char *method;
    int64_t line; /* 0 when the recording has none */
} jfr_frame;

/* One sum of events: borrowed, valid during the callback. */
typedef struct jfr_sample {
    jfr_kind kind;
    const jfr_frame *frames; /* leaf first */
    size_t n_frames;
    int64_t values[2]; /* events (samples for CPU/wall), then the kind's second value */
    size_t n_values;   /* 1 or 2 */
    uint64_t context_id, span_id, span_name; /* async-profiler's fields; 0 if absent */
} jfr_sample;

/* Returns 0, or -1 to stop (the parse then returns JFR_ERR_CALLBACK). */
typedef int (*jfr_sample_fn)(void *arg, const jfr_sample *s);

#define JFR_EVENT_SETTING_MAX 32

typedef struct jfr_info {
    int64_t start_ns;                  /* earliest chunk start, Unix ns */
    int64_t end_ns;                    /* latest chunk end */
    int64_t cpu_period_ns;             /* jdk.ExecutionSample's "period" setting; 0 if none */
    char event[JFR_EVENT_SETTING_MAX]; /* async-profiler's "event" setting: cpu, itimer, wall */
    size_t chunks;
    uint64_t events[JFR_KINDS];    /* events read, per kind */
    uint64_t stackless[JFR_KINDS]; /* of those, left out: no stack trace, or no frame of it
                                      resolves (a thread that is not Java's) */
} jfr_info;

#define JFR_ERR_FORMAT (-1)   /* malformed or truncated: err names what and where */
#define JFR_ERR_MEMORY (-2)   /* over the budget (or out of memory) */
#define JFR_ERR_CALLBACK (-3) /* the callback said stop */

/* Reads the recording in data[0..len), calling fn for every sum of
 * events, with at most `budget` bytes of its own memory in use. 0 and
 * *info filled, or a JFR_ERR_* with the reason (and the offset in the
 * recording) in err. */
int jfr_parse(const uint8_t *data, size_t len, size_t budget, jfr_sample_fn fn, void *arg,
              jfr_info *info, char *err, size_t errlen);

#endif
