/* pyroscope_jfr_read: what the two halves of the JFR reader share. The
 * lower half (pyroscope_jfr_read.c) reads bytes, integers and strings,
 * the metadata, and values laid out by it; the upper half
 * (pyroscope_jfr.c) reads chunks, constant pools and events with them.
 * Every reader sets p->failed (JFR_ERR_*) and the reason once, and reads
 * nothing more after: callers check p->failed at their loops. */
#ifndef PYROSCOPE_JFR_READ_H
#define PYROSCOPE_JFR_READ_H

#include <stddef.h>
#include <stdint.h>

#include "pyroscope_jfr.h"
#include "pyroscope_jfr_mem.h"

#define EVENT_METADATA 0
#define EVENT_CHECKPOINT 1
/* Field reads allowed per byte of recording (and a floor): types of empty
 * structs nest to no bytes at all, so bytes alone do not bound the time. */
#define STEPS_PER_BYTE 16
#define STEPS_MIN ((size_t)1 << 20)

/* What a class is to us, from its name. */
typedef enum role {
    R_STRUCT = 0, /* anything else: read field by field */
    R_BOOLEAN,
    R_BYTE,
    R_CHAR,
    R_SHORT,
    R_INT,
    R_LONG,
    R_FLOAT,
    R_DOUBLE,
    R_STRING,
    R_CHUNK_HEADER,
    R_STACK_TRACE,
    R_STACK_FRAME,
    R_METHOD,
    R_CLASS,
    R_SYMBOL,
    R_THREAD_STATE,
    R_EV_EXECUTION,
    R_EV_WALL_CLOCK,
    R_EV_IN_TLAB,
    R_EV_OUTSIDE_TLAB,
    R_EV_ALLOC_SAMPLE,
    R_EV_MONITOR,
    R_EV_PARK,
    R_EV_LIVE,
    R_EV_MALLOC,
    R_EV_SETTING,
} role;

/* The fields we read, by name, in whichever class has them. */
typedef enum slot {
    S_STACK_TRACE,
    S_STATE,
    S_TLAB_SIZE,
    S_ALLOCATION_SIZE,
    S_WEIGHT,
    S_DURATION,
    S_SIZE,
    S_SAMPLES,
    S_CONTEXT_ID,
    S_SPAN_ID,
    S_SPAN_NAME,
    S_ID,
    S_NAME,
    S_VALUE,
    S_TYPE,
    S_STRING,
    S_FRAMES,
    S_METHOD,
    S_LINE,
    S_COUNT
} slot;

typedef struct jfr_class jfr_class;

typedef struct jfr_field {
    const char *name;
    uint64_t type_id;
    const jfr_class *cls; /* NULL: no such type in the metadata */
    int cpool, array;
    int slot; /* -1: not read */
} jfr_field;

struct jfr_class {
    uint64_t id;
    const char *name;
    role role;
    jfr_field *fields;
    size_t n_fields;
};

/* A string as read: text, or a reference into the java.lang.String pool. */
typedef struct jfr_str {
    const char *text; /* NULL when it is a reference */
    uint64_t ref;
} jfr_str;

typedef enum val_kind { V_NONE = 0, V_NUM, V_STR, V_FRAMES } val_kind;

typedef struct jfr_val {
    val_kind kind;
    uint64_t num;
    jfr_str str;
} jfr_val;

typedef struct raw_frame {
    uint64_t method;
    int64_t line;
} raw_frame;

typedef struct sum_key {
    uint64_t stack, context, span, span_name;
    uint32_t kind;
} sum_key;

typedef struct sum_entry {
    sum_key key;
    int used;
    uint64_t values[2];
    uint64_t events;
} sum_entry;

typedef struct jfr_parser {
    const uint8_t *buf;
    size_t pos, end; /* absolute offsets; end bounds the current read */
    size_t chunk_end;
    int failed;              /* JFR_ERR_* once set */
    size_t steps, max_steps; /* field reads so far, and the most allowed */
    char *err;
    size_t errlen;
    jfr_mem mem;
    jfr_arena arena; /* one chunk's strings, classes, pool records */
    jfr_map classes, symbols, strings, class_names, methods, stacks, states;
    uint64_t ticks_per_sec;
    uint64_t execution_type; /* jdk.ExecutionSample's type id + 1, 0 if none */
    raw_frame *frames;       /* scratch for one stack trace */
    size_t n_frames, cap_frames;
    jfr_frame *resolved;
    size_t cap_resolved;
    sum_entry *sums;
    size_t n_sums, cap_sums;
    jfr_sample_fn fn;
    void *arg;
    jfr_info *info;
} jfr_parser;

void jfr_fail(jfr_parser *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void jfr_fail_memory(jfr_parser *p);
/* Arena memory for the chunk (NULL and p->failed when over the budget). */
void *jfr_alloc(jfr_parser *p, size_t size);
/* jfr_map_put, failing the parse when over the budget. */
void jfr_keep(jfr_parser *p, jfr_map *m, uint64_t key, uint64_t val);

size_t jfr_left(const jfr_parser *p);
uint8_t jfr_u8(jfr_parser *p);
void jfr_skip(jfr_parser *p, size_t n, const char *what);
uint64_t jfr_varlong(jfr_parser *p);
/* A count of things that take at least a byte each. */
size_t jfr_count(jfr_parser *p, const char *what);
uint64_t jfr_be(const uint8_t *b, int n);
/* Reads a string; keeps its text (NUL-terminated, in the arena) when out
 * is not NULL. */
void jfr_string(jfr_parser *p, jfr_str *out);

void jfr_skip_value(jfr_parser *p, const jfr_class *c, int depth);
/* Reads a struct, keeping the fields with a slot in vals[slot] (frames in
 * p->frames). */
void jfr_read_struct(jfr_parser *p, const jfr_class *c, jfr_val *vals, int depth);

/* Starts an event at p->pos: bounds p->end by its size, sets *next past
 * it and returns its type id. */
uint64_t jfr_event_begin(jfr_parser *p, size_t *next);
/* Reads the metadata event at `at` into p->classes. */
void jfr_read_metadata(jfr_parser *p, size_t at);

#endif
