/* pyroscope_jfr: the JFR recording reader (see pyroscope_jfr.h).
 *
 * Format facts used here, read from the JDK's own reader
 * (jdk.jfr.internal.consumer.ChunkHeader/ChunkParser/MetadataReader, JDK
 * 17) and from grafana/jfr-parser (parser/, as of 2026-02):
 * - chunk header, big-endian: "FLR\0", major u16 (2), minor u16, size
 *   i64, constant-pool offset i64, metadata offset i64, start ns i64,
 *   duration ns i64, start ticks i64, ticks per second i64, features i32;
 * - integers are LEB128 of at most 9 bytes, the 9th holding 8 bits;
 *   boolean and byte are one raw byte, float and double raw big-endian;
 * - a string is an encoding byte then: 0 null, 1 "", 2 a java.lang.String
 *   pool reference, 3 UTF-8 (length, bytes), 4 char array (length,
 *   LEB128 UTF-16 units), 5 Latin-1 (length, bytes);
 * - metadata event: start, duration, id, a string table, then an element
 *   tree (name, attributes as string-table index pairs, children) whose
 *   root > metadata > class elements (attributes id, name) hold field
 *   elements (name, class = type id, constantPool = "true", dimension = 1
 *   for arrays);
 * - checkpoint event: start, duration, delta to the previous checkpoint,
 *   a type byte, a pool count, then per pool a type id, an entry count and
 *   entries (id, value laid out as that type's fields).
 * A field with constantPool="true" holds an id into its type's pool. */
#include "pyroscope_jfr.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyroscope_jfr_mem.h"

#define CHUNK_HEADER_SIZE 68
#define CHUNK_MAGIC "FLR"
#define CHUNK_MAGIC_LEN 4
#define JFR_MAJOR 2
#define OFF_MAJOR 4
#define OFF_SIZE 8
#define OFF_META 24
#define OFF_START_NS 32
#define OFF_DURATION_NS 40
#define OFF_TICKS_PER_SEC 56
#define EVENT_METADATA 0
#define EVENT_CHECKPOINT 1
#define VARINT_MAX_BYTES 9
#define VARINT_PAYLOAD_BITS 7
#define MAX_NESTING 32
/* Field reads allowed per byte of recording (and a floor): types of empty
 * structs nest to no bytes at all, so bytes alone do not bound the time. */
#define STEPS_PER_BYTE 16
#define STEPS_MIN ((size_t)1 << 20)
#define NS_PER_SEC 1000000000ULL
#define THREAD_STATE_SLEEPING "STATE_SLEEPING"
#define THREAD_STATE_RUNNABLE "STATE_RUNNABLE"
#define SETTING_EVENT "event"
#define SETTING_PERIOD "period"
#define EVENT_WALL "wall"

typedef enum str_enc {
    STR_NULL = 0,
    STR_EMPTY = 1,
    STR_POOL = 2,
    STR_UTF8 = 3,
    STR_CHARS = 4,
    STR_LATIN1 = 5,
} str_enc;

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

static const struct {
    const char *name;
    role role;
} roles[] = {
    {"boolean", R_BOOLEAN},
    {"byte", R_BYTE},
    {"char", R_CHAR},
    {"short", R_SHORT},
    {"int", R_INT},
    {"long", R_LONG},
    {"float", R_FLOAT},
    {"double", R_DOUBLE},
    {"java.lang.String", R_STRING},
    {"jdk.types.ChunkHeader", R_CHUNK_HEADER},
    {"jdk.types.StackTrace", R_STACK_TRACE},
    {"jdk.types.StackFrame", R_STACK_FRAME},
    {"jdk.types.Method", R_METHOD},
    {"java.lang.Class", R_CLASS},
    {"jdk.types.Symbol", R_SYMBOL},
    {"jdk.types.ThreadState", R_THREAD_STATE},
    {"jdk.ExecutionSample", R_EV_EXECUTION},
    {"profiler.WallClockSample", R_EV_WALL_CLOCK},
    {"jdk.ObjectAllocationInNewTLAB", R_EV_IN_TLAB},
    {"jdk.ObjectAllocationOutsideTLAB", R_EV_OUTSIDE_TLAB},
    {"jdk.ObjectAllocationSample", R_EV_ALLOC_SAMPLE},
    {"jdk.JavaMonitorEnter", R_EV_MONITOR},
    {"jdk.ThreadPark", R_EV_PARK},
    {"profiler.LiveObject", R_EV_LIVE},
    {"profiler.Malloc", R_EV_MALLOC},
    {"jdk.ActiveSetting", R_EV_SETTING},
};

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

static const char *const slot_names[S_COUNT] = {
    "stackTrace", "state",     "tlabSize", "allocationSize", "weight",     "duration", "size",
    "samples",    "contextId", "spanId",   "spanName",       "id",         "name",     "value",
    "type",       "string",    "frames",   "method",         "lineNumber",
};

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

typedef struct stack_rec {
    raw_frame *frames;
    size_t n;
} stack_rec;

typedef struct method_rec {
    uint64_t cls, name;
} method_rec;

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

typedef struct parser {
    const uint8_t *buf;
    size_t pos, end; /* absolute offsets; end bounds the current read */
    size_t chunk_end;
    int failed; /* JFR_ERR_* once set */
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
} parser;

/* ------------------------------------------------------------ errors */

static void fail(parser *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(parser *p, int code, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = code;
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (code == JFR_ERR_MEMORY)
        snprintf(p->err, p->errlen, "%s (at offset %zu)", what, p->pos);
    else if (code == JFR_ERR_FORMAT)
        snprintf(p->err, p->errlen, "%s at offset %zu", what, p->pos);
    else
        snprintf(p->err, p->errlen, "%s", what);
}

static void fail_memory(parser *p)
{
    fail(p, JFR_ERR_MEMORY, "recording needs more than %zu bytes of memory to read", p->mem.budget);
}

static void *arena_alloc(parser *p, size_t size)
{
    void *m = jfr_arena_alloc(&p->arena, size);
    if (!m)
        fail_memory(p);
    return m;
}

static void map_put(parser *p, jfr_map *m, uint64_t key, uint64_t val)
{
    if (!p->failed && jfr_map_put(m, key, val) < 0)
        fail_memory(p);
}

/* ------------------------------------------------------------ primitives */

static size_t left(const parser *p)
{
    return p->pos < p->end ? p->end - p->pos : 0;
}

static uint8_t rd_u8(parser *p)
{
    if (p->failed)
        return 0;
    if (left(p) < 1) {
        fail(p, JFR_ERR_FORMAT, "truncated byte");
        return 0;
    }
    return p->buf[p->pos++];
}

static void skip_bytes(parser *p, size_t n, const char *what)
{
    if (p->failed)
        return;
    if (left(p) < n) {
        fail(p, JFR_ERR_FORMAT, "truncated %s (%zu bytes, %zu left)", what, n, left(p));
        return;
    }
    p->pos += n;
}

static uint64_t rd_varlong(parser *p)
{
    uint64_t v = 0;
    for (int i = 0; i < VARINT_MAX_BYTES && !p->failed; i++) {
        if (left(p) < 1) {
            fail(p, JFR_ERR_FORMAT, "truncated integer");
            return 0;
        }
        uint8_t b = p->buf[p->pos++];
        if (i == VARINT_MAX_BYTES - 1)
            return v | (uint64_t)b << (VARINT_PAYLOAD_BITS * i);
        v |= (uint64_t)(b & 0x7f) << (VARINT_PAYLOAD_BITS * i);
        if (!(b & 0x80))
            return v;
    }
    return 0;
}

/* A count of things that take at least a byte each. */
static size_t rd_count(parser *p, const char *what)
{
    size_t at = p->pos;
    uint64_t n = rd_varlong(p);
    if (!p->failed && n > left(p)) {
        p->pos = at;
        fail(p, JFR_ERR_FORMAT, "%s count %llu exceeds the %zu bytes left", what,
             (unsigned long long)n, left(p));
        return 0;
    }
    return (size_t)n;
}

static uint64_t rd_be(const uint8_t *b, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | b[i];
    return v;
}

/* Appends code point c as UTF-8 (lone surrogates as their 3 bytes). */
static size_t put_utf8(char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xc0 | c >> 6);
        o[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    o[0] = (char)(0xe0 | (c >> 12 & 0x0f));
    o[1] = (char)(0x80 | (c >> 6 & 0x3f));
    o[2] = (char)(0x80 | (c & 0x3f));
    return 3;
}

/* Reads a string; keeps its text (NUL-terminated, in the arena) when out
 * is not NULL. */
static void rd_string(parser *p, jfr_str *out)
{
    size_t at = p->pos;
    uint8_t enc = rd_u8(p);
    if (out)
        *out = (jfr_str){"", 0};
    if (p->failed || enc == STR_NULL || enc == STR_EMPTY)
        return;
    if (enc == STR_POOL) {
        uint64_t ref = rd_varlong(p);
        if (out)
            *out = (jfr_str){NULL, ref};
        return;
    }
    if (enc != STR_UTF8 && enc != STR_CHARS && enc != STR_LATIN1) {
        p->pos = at;
        fail(p, JFR_ERR_FORMAT, "unknown string encoding %u", enc);
        return;
    }
    size_t n = rd_count(p, "string length");
    if (p->failed)
        return;
    if (!out) {
        if (enc == STR_CHARS)
            for (size_t i = 0; i < n && !p->failed; i++)
                rd_varlong(p);
        else
            skip_bytes(p, n, "string");
        return;
    }
    char *s = arena_alloc(p, n * 3 + 1);
    if (!s)
        return;
    size_t o = 0;
    if (enc == STR_UTF8) {
        memcpy(s, p->buf + p->pos, n);
        p->pos += n;
        o = n;
    } else {
        for (size_t i = 0; i < n && !p->failed; i++)
            o += put_utf8(s + o, enc == STR_LATIN1 ? rd_u8(p) : (uint32_t)(rd_varlong(p) & 0xffff));
    }
    s[o] = '\0';
    out->text = s;
}

/* ------------------------------------------------------------ values */

static void skip_value(parser *p, const jfr_class *c, int depth);

/* Counts one field read; 0 when over the limit (p->failed set). */
static int step(parser *p)
{
    if (++p->steps <= p->max_steps)
        return 1;
    fail(p, JFR_ERR_FORMAT, "recording's types take more than %zu field reads to walk",
         p->max_steps);
    return 0;
}

static void skip_one(parser *p, const jfr_field *f, int depth)
{
    if (f->cpool)
        rd_varlong(p);
    else if (!f->cls)
        fail(p, JFR_ERR_FORMAT, "field '%.60s' has type id %llu, which the metadata lacks", f->name,
             (unsigned long long)f->type_id);
    else
        skip_value(p, f->cls, depth + 1);
}

/* Calls one(p, f, i) for each element of an array field. */
static void each_element(parser *p, const jfr_field *f, int depth,
                         void (*one)(parser *, const jfr_field *, int))
{
    size_t n = rd_count(p, "array");
    for (size_t i = 0; i < n && !p->failed; i++) {
        size_t at = p->pos;
        one(p, f, depth);
        if (!p->failed && p->pos == at) {
            fail(p, JFR_ERR_FORMAT, "array of '%.60s' elements that take no bytes", f->name);
            return;
        }
    }
}

static void skip_field(parser *p, const jfr_field *f, int depth)
{
    if (f->array)
        each_element(p, f, depth, skip_one);
    else
        skip_one(p, f, depth);
}

static void skip_value(parser *p, const jfr_class *c, int depth)
{
    if (depth > MAX_NESTING) {
        fail(p, JFR_ERR_FORMAT, "type '%.60s' nests deeper than %d", c->name, MAX_NESTING);
        return;
    }
    switch (c->role) {
    case R_BOOLEAN:
    case R_BYTE:
        rd_u8(p);
        return;
    case R_CHAR:
    case R_SHORT:
    case R_INT:
    case R_LONG:
        rd_varlong(p);
        return;
    case R_FLOAT:
        skip_bytes(p, sizeof(float), "float");
        return;
    case R_DOUBLE:
        skip_bytes(p, sizeof(double), "double");
        return;
    case R_STRING:
        rd_string(p, NULL);
        return;
    default:
        for (size_t i = 0; i < c->n_fields && !p->failed && step(p); i++)
            skip_field(p, &c->fields[i], depth);
    }
}

static void read_frame(parser *p, const jfr_field *f, int depth);

/* Reads a struct, keeping the fields with a slot in vals[slot]. */
static void read_struct(parser *p, const jfr_class *c, jfr_val *vals, int depth)
{
    for (size_t i = 0; i < c->n_fields && !p->failed && step(p); i++) {
        const jfr_field *f = &c->fields[i];
        jfr_val *v = f->slot >= 0 ? &vals[f->slot] : NULL;
        role r = f->cls ? f->cls->role : R_STRUCT;
        if (v && f->slot == S_FRAMES && f->array && !f->cpool && r == R_STACK_FRAME) {
            p->n_frames = 0;
            each_element(p, f, depth, read_frame);
            v->kind = V_FRAMES;
        } else if (!v || f->array) {
            skip_field(p, f, depth);
        } else if (f->cpool || r == R_CHAR || r == R_SHORT || r == R_INT || r == R_LONG) {
            v->num = rd_varlong(p);
            v->kind = V_NUM;
        } else if (r == R_BOOLEAN || r == R_BYTE) {
            v->num = rd_u8(p);
            v->kind = V_NUM;
        } else if (r == R_STRING) {
            rd_string(p, &v->str);
            v->kind = V_STR;
        } else {
            skip_field(p, f, depth);
        }
    }
}

/* One jdk.types.StackFrame of a stack trace, into p->frames. */
static void read_frame(parser *p, const jfr_field *f, int depth)
{
    jfr_val v[S_COUNT] = {0};
    if (depth > MAX_NESTING) {
        fail(p, JFR_ERR_FORMAT, "stack frames nest deeper than %d", MAX_NESTING);
        return;
    }
    read_struct(p, f->cls, v, depth + 1);
    if (p->failed)
        return;
    if (p->n_frames == p->cap_frames) {
        size_t cap = p->cap_frames ? p->cap_frames * 2 : 64;
        raw_frame *g =
            jfr_mem_grow(&p->mem, p->frames, p->cap_frames * sizeof(*g), cap * sizeof(*g));
        if (!g) {
            fail_memory(p);
            return;
        }
        p->frames = g;
        p->cap_frames = cap;
    }
    p->frames[p->n_frames++] = (raw_frame){v[S_METHOD].kind == V_NUM ? v[S_METHOD].num : 0,
                                           v[S_LINE].kind == V_NUM ? (int32_t)v[S_LINE].num : 0};
}

/* ------------------------------------------------------------ metadata */

typedef struct meta {
    const char **strings;
    size_t n_strings;
    jfr_class **classes; /* p->mem; n_classes of cap_classes */
    size_t n_classes, cap_classes;
} meta;

typedef enum element_at { EL_ROOT, EL_TOP, EL_METADATA, EL_CLASS, EL_OTHER } element_at;

typedef struct attrs {
    const char *id, *name, *type, *cpool, *dimension;
} attrs;

static const char *meta_string(parser *p, const meta *m)
{
    size_t at = p->pos;
    uint64_t i = rd_varlong(p);
    if (p->failed)
        return "";
    if (i >= m->n_strings) {
        p->pos = at;
        fail(p, JFR_ERR_FORMAT, "metadata string index %llu out of %zu", (unsigned long long)i,
             m->n_strings);
        return "";
    }
    return m->strings[i];
}

/* A decimal id attribute; 0 or -1. */
static int parse_id(const char *s, uint64_t *out)
{
    if (!s || !*s || strspn(s, "0123456789") != strlen(s))
        return -1;
    char *end;
    *out = strtoull(s, &end, 10);
    return 0;
}

static jfr_class *new_class(parser *p, meta *m, const attrs *a, size_t n_children)
{
    jfr_class *c = arena_alloc(p, sizeof(*c));
    if (!c)
        return NULL;
    if (parse_id(a->id, &c->id) < 0 || !a->name) {
        fail(p, JFR_ERR_FORMAT, "metadata class without a numeric id and a name");
        return NULL;
    }
    c->name = a->name;
    c->fields = n_children ? arena_alloc(p, n_children * sizeof(*c->fields)) : NULL;
    if (m->n_classes == m->cap_classes) {
        size_t cap = m->cap_classes ? m->cap_classes * 2 : 256;
        jfr_class **g =
            jfr_mem_grow(&p->mem, m->classes, m->cap_classes * sizeof(*g), cap * sizeof(*g));
        if (!g) {
            fail_memory(p);
            return NULL;
        }
        m->classes = g;
        m->cap_classes = cap;
    }
    m->classes[m->n_classes++] = c;
    return c;
}

static void add_field(parser *p, jfr_class *c, const attrs *a)
{
    jfr_field *f = &c->fields[c->n_fields];
    if (parse_id(a->type, &f->type_id) < 0 || !a->name) {
        fail(p, JFR_ERR_FORMAT, "field of '%.60s' without a name and a numeric class", c->name);
        return;
    }
    f->name = a->name;
    f->cpool = a->cpool && strcmp(a->cpool, "true") == 0;
    f->array = a->dimension && strcmp(a->dimension, "0") != 0;
    c->n_fields++;
}

static void read_element(parser *p, meta *m, element_at where, jfr_class *owner, int depth)
{
    if (depth > MAX_NESTING) {
        fail(p, JFR_ERR_FORMAT, "metadata elements nest deeper than %d", MAX_NESTING);
        return;
    }
    const char *name = meta_string(p, m);
    attrs a = {0};
    size_t n_attrs = rd_count(p, "metadata attribute");
    for (size_t i = 0; i < n_attrs && !p->failed; i++) {
        const char *k = meta_string(p, m), *v = meta_string(p, m);
        const char **dst = strcmp(k, "id") == 0             ? &a.id
                           : strcmp(k, "name") == 0         ? &a.name
                           : strcmp(k, "class") == 0        ? &a.type
                           : strcmp(k, "constantPool") == 0 ? &a.cpool
                           : strcmp(k, "dimension") == 0    ? &a.dimension
                                                            : NULL;
        if (dst)
            *dst = v;
    }
    size_t n_children = rd_count(p, "metadata element");
    if (p->failed)
        return;
    element_at child_at = EL_OTHER;
    jfr_class *cls = NULL;
    if (where == EL_ROOT)
        child_at = EL_TOP;
    else if (where == EL_TOP && strcmp(name, "metadata") == 0)
        child_at = EL_METADATA;
    else if (where == EL_METADATA && strcmp(name, "class") == 0) {
        cls = new_class(p, m, &a, n_children);
        child_at = EL_CLASS;
    } else if (where == EL_CLASS && owner && strcmp(name, "field") == 0)
        add_field(p, owner, &a);
    for (size_t i = 0; i < n_children && !p->failed; i++)
        read_element(p, m, child_at, cls, depth + 1);
}

static role role_of(const char *name)
{
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        if (strcmp(roles[i].name, name) == 0)
            return roles[i].role;
    return R_STRUCT;
}

/* Indexes the classes by id and links each field to its type. */
static void link_classes(parser *p, meta *m)
{
    p->execution_type = 0;
    for (size_t i = 0; i < m->n_classes; i++) {
        jfr_class *c = m->classes[i];
        c->role = role_of(c->name);
        map_put(p, &p->classes, c->id, (uint64_t)(uintptr_t)c);
        if (c->role == R_EV_EXECUTION)
            p->execution_type = c->id + 1;
    }
    for (size_t i = 0; i < m->n_classes && !p->failed; i++) {
        jfr_class *c = m->classes[i];
        for (size_t j = 0; j < c->n_fields; j++) {
            jfr_field *f = &c->fields[j];
            f->cls = (const jfr_class *)(uintptr_t)jfr_map_get(&p->classes, f->type_id);
            f->slot = -1;
            for (int s = 0; s < S_COUNT; s++)
                if (strcmp(f->name, slot_names[s]) == 0)
                    f->slot = s;
        }
    }
}

/* Starts an event at p->pos: bounds p->end by its size and returns its
 * type id (p->failed set when it does not fit). */
static uint64_t event_begin(parser *p, size_t *next)
{
    size_t start = p->pos;
    p->end = p->chunk_end;
    uint64_t size = rd_varlong(p);
    if (p->failed)
        return 0;
    if (size == 0 || size > p->chunk_end - start) {
        p->pos = start;
        fail(p, JFR_ERR_FORMAT, "event size %llu does not fit the chunk's %zu bytes left",
             (unsigned long long)size, p->chunk_end - start);
        return 0;
    }
    p->end = start + (size_t)size;
    *next = p->end;
    return rd_varlong(p);
}

static void read_metadata(parser *p, size_t at)
{
    meta m = {0};
    size_t next;
    p->pos = at;
    uint64_t type = event_begin(p, &next);
    if (!p->failed && type != EVENT_METADATA)
        fail(p, JFR_ERR_FORMAT, "the header's metadata offset points at an event of type %llu",
             (unsigned long long)type);
    for (int i = 0; i < 3; i++) /* start, duration, metadata id */
        rd_varlong(p);
    m.n_strings = rd_count(p, "metadata string");
    m.strings = p->failed ? NULL : arena_alloc(p, (m.n_strings + 1) * sizeof(*m.strings));
    for (size_t i = 0; i < m.n_strings && !p->failed; i++) {
        jfr_str s;
        rd_string(p, &s);
        if (!p->failed && !s.text)
            fail(p, JFR_ERR_FORMAT, "metadata string %zu refers to a constant pool", i);
        m.strings[i] = s.text;
    }
    if (!p->failed)
        read_element(p, &m, EL_ROOT, NULL, 0);
    if (!p->failed)
        link_classes(p, &m);
    jfr_mem_free(&p->mem, m.classes, m.cap_classes * sizeof(*m.classes));
}

/* ------------------------------------------------------------ pools */

static const char *str_text(const parser *p, const jfr_str *s)
{
    if (!s)
        return "";
    if (s->text)
        return s->text;
    const jfr_str *t = (const jfr_str *)(uintptr_t)jfr_map_get(&p->strings, s->ref);
    return t && t->text ? t->text : "";
}

static const char *val_text(const parser *p, const jfr_val *v)
{
    return v->kind == V_STR ? str_text(p, &v->str) : NULL;
}

/* Keeps a string value of an entry in map m. */
static void keep_string(parser *p, jfr_map *m, uint64_t id, const jfr_val *v)
{
    if (v->kind != V_STR)
        return;
    jfr_str *s = arena_alloc(p, sizeof(*s));
    if (s) {
        *s = v->str;
        map_put(p, m, id, (uint64_t)(uintptr_t)s);
    }
}

static void keep_stack(parser *p, uint64_t id, const jfr_val *frames)
{
    stack_rec *st = arena_alloc(p, sizeof(*st));
    if (!st)
        return;
    if (frames->kind == V_FRAMES && p->n_frames) {
        st->frames = arena_alloc(p, p->n_frames * sizeof(*st->frames));
        if (!st->frames)
            return;
        memcpy(st->frames, p->frames, p->n_frames * sizeof(*st->frames));
        st->n = p->n_frames;
    }
    map_put(p, &p->stacks, id, (uint64_t)(uintptr_t)st);
}

static void read_pool_entry(parser *p, const jfr_class *c)
{
    uint64_t id = rd_varlong(p);
    jfr_val v[S_COUNT] = {0};
    switch (c->role) {
    case R_CHUNK_HEADER:
        skip_bytes(p, CHUNK_HEADER_SIZE, "chunk header constant");
        return;
    case R_STRING:
        rd_string(p, &v[S_STRING].str);
        v[S_STRING].kind = V_STR;
        if (!p->failed)
            keep_string(p, &p->strings, id, &v[S_STRING]);
        return;
    case R_STACK_TRACE:
    case R_METHOD:
    case R_CLASS:
    case R_SYMBOL:
    case R_THREAD_STATE:
        read_struct(p, c, v, 0);
        break;
    default:
        skip_value(p, c, 0);
        return;
    }
    if (p->failed)
        return;
    if (c->role == R_STACK_TRACE) {
        keep_stack(p, id, &v[S_FRAMES]);
    } else if (c->role == R_METHOD) {
        method_rec *m = arena_alloc(p, sizeof(*m));
        if (!m)
            return;
        m->cls = v[S_TYPE].kind == V_NUM ? v[S_TYPE].num : 0;
        m->name = v[S_NAME].kind == V_NUM ? v[S_NAME].num : 0;
        map_put(p, &p->methods, id, (uint64_t)(uintptr_t)m);
    } else if (c->role == R_CLASS) {
        uint64_t *name = arena_alloc(p, sizeof(*name));
        if (!name || v[S_NAME].kind != V_NUM)
            return;
        *name = v[S_NAME].num;
        map_put(p, &p->class_names, id, (uint64_t)(uintptr_t)name);
    } else {
        keep_string(p, c->role == R_SYMBOL ? &p->symbols : &p->states, id,
                    &v[c->role == R_SYMBOL ? S_STRING : S_NAME]);
    }
}

static void read_checkpoint(parser *p)
{
    for (int i = 0; i < 3; i++) /* start, duration, delta to the previous one */
        rd_varlong(p);
    rd_u8(p); /* checkpoint type */
    size_t n_pools = rd_count(p, "constant pool");
    for (size_t i = 0; i < n_pools && !p->failed; i++) {
        size_t at = p->pos;
        uint64_t type = rd_varlong(p);
        const jfr_class *c = (const jfr_class *)(uintptr_t)jfr_map_get(&p->classes, type);
        if (!p->failed && !c) {
            p->pos = at;
            fail(p, JFR_ERR_FORMAT, "constant pool of type id %llu, which the metadata lacks",
                 (unsigned long long)type);
        }
        size_t n = rd_count(p, "constant pool entry");
        for (size_t j = 0; j < n && !p->failed; j++)
            read_pool_entry(p, c);
    }
}

/* ------------------------------------------------------------ settings */

/* "20 ms", "10 s", ... in ns; 0 if it is no duration. */
static int64_t parse_period(const char *s)
{
    static const struct {
        const char *unit;
        int64_t ns;
    } units[] = {{"ns", 1},         {"us", 1000},         {"ms", 1000000},
                 {"s", 1000000000}, {"m", 60000000000LL}, {"h", 3600000000000LL}};
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0)
        return 0;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].unit) == 0)
            return v > INT64_MAX / units[i].ns ? 0 : (int64_t)v * units[i].ns;
    return 0;
}

static void read_setting(parser *p, const jfr_class *c)
{
    jfr_val v[S_COUNT] = {0};
    read_struct(p, c, v, 0);
    const char *name = val_text(p, &v[S_NAME]), *value = val_text(p, &v[S_VALUE]);
    if (p->failed || !name || !value)
        return;
    if (strcmp(name, SETTING_EVENT) == 0)
        snprintf(p->info->event, sizeof(p->info->event), "%s", value);
    else if (strcmp(name, SETTING_PERIOD) == 0 && p->execution_type && v[S_ID].kind == V_NUM &&
             v[S_ID].num + 1 == p->execution_type && parse_period(value) > 0)
        p->info->cpu_period_ns = parse_period(value);
}

/* ------------------------------------------------------------ samples */

static size_t sum_slot(const sum_key *k, size_t cap)
{
    uint64_t h = k->stack * 0x9e3779b97f4a7c15ull ^ k->context * 0xc2b2ae3d27d4eb4full ^
                 k->span * 0x165667b19e3779f9ull ^ k->span_name * 0x27d4eb2f165667c5ull ^ k->kind;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return (size_t)h & (cap - 1);
}

static sum_entry *sum_find(sum_entry *t, size_t cap, const sum_key *k)
{
    size_t j = sum_slot(k, cap);
    while (t[j].used && memcmp(&t[j].key, k, sizeof(*k)) != 0)
        j = (j + 1) & (cap - 1);
    return &t[j];
}

static int sums_grow(parser *p)
{
    size_t cap = p->cap_sums ? p->cap_sums * 2 : 256;
    sum_entry *t = jfr_mem_alloc(&p->mem, cap * sizeof(*t));
    if (!t)
        return -1;
    for (size_t i = 0; i < p->cap_sums; i++)
        if (p->sums[i].used)
            *sum_find(t, cap, &p->sums[i].key) = p->sums[i];
    jfr_mem_free(&p->mem, p->sums, p->cap_sums * sizeof(*p->sums));
    p->sums = t;
    p->cap_sums = cap;
    return 0;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > INT64_MAX - b || b > INT64_MAX ? INT64_MAX : a + b;
}

static void add_sum(parser *p, jfr_kind kind, sum_key k, uint64_t v0, uint64_t v1)
{
    if ((p->n_sums + 1) * 2 > p->cap_sums && sums_grow(p) < 0) {
        fail_memory(p);
        return;
    }
    k.kind = (uint32_t)kind;
    sum_entry *e = sum_find(p->sums, p->cap_sums, &k);
    if (!e->used) {
        memset(e, 0, sizeof(*e));
        e->key = k;
        e->used = 1;
        p->n_sums++;
    }
    e->values[0] = add_sat(e->values[0], v0);
    e->values[1] = add_sat(e->values[1], v1);
    e->events++;
    p->info->events[kind]++;
}

static uint64_t ticks_to_ns(const parser *p, uint64_t ticks)
{
    unsigned __int128 ns = (unsigned __int128)ticks * NS_PER_SEC / p->ticks_per_sec;
    return ns > INT64_MAX ? INT64_MAX : (uint64_t)ns;
}

static const char *thread_state(const parser *p, const jfr_val *v)
{
    if (v->kind != V_NUM)
        return NULL;
    const jfr_str *s = (const jfr_str *)(uintptr_t)jfr_map_get(&p->states, v->num);
    return s ? str_text(p, s) : NULL;
}

static uint64_t num(const jfr_val *v)
{
    return v->kind == V_NUM ? v->num : 0;
}

/* Adds one sample event to the sums, as Pyroscope's converter counts it. */
static void read_sample(parser *p, const jfr_class *c)
{
    jfr_val v[S_COUNT] = {0};
    read_struct(p, c, v, 0);
    if (p->failed || v[S_STACK_TRACE].kind != V_NUM)
        return;
    sum_key traced, plain;
    memset(&traced, 0, sizeof(traced)); /* padding too: keys are compared with memcmp */
    memset(&plain, 0, sizeof(plain));
    traced.stack = plain.stack = v[S_STACK_TRACE].num;
    traced.context = num(&v[S_CONTEXT_ID]);
    traced.span = num(&v[S_SPAN_ID]);
    traced.span_name = num(&v[S_SPAN_NAME]);
    int wall = strcmp(p->info->event, EVENT_WALL) == 0;
    const char *state = thread_state(p, &v[S_STATE]);
    switch (c->role) {
    case R_EV_EXECUTION:
        if (state && strcmp(state, THREAD_STATE_SLEEPING) != 0)
            add_sum(p, JFR_CPU, traced, 1, 0);
        if (wall)
            add_sum(p, JFR_WALL, traced, 1, 0);
        break;
    case R_EV_WALL_CLOCK:
        if (state && strcmp(state, THREAD_STATE_RUNNABLE) == 0 && wall)
            add_sum(p, JFR_CPU, traced, num(&v[S_SAMPLES]), 0);
        add_sum(p, JFR_WALL, traced, num(&v[S_SAMPLES]), 0);
        break;
    case R_EV_IN_TLAB:
        add_sum(p, JFR_ALLOC_IN_TLAB, traced, 1, num(&v[S_TLAB_SIZE]));
        break;
    case R_EV_OUTSIDE_TLAB:
        add_sum(p, JFR_ALLOC_OUTSIDE_TLAB, traced, 1, num(&v[S_ALLOCATION_SIZE]));
        break;
    case R_EV_ALLOC_SAMPLE:
        add_sum(p, JFR_ALLOC_SAMPLE, plain, 1, num(&v[S_WEIGHT]));
        break;
    case R_EV_MONITOR:
        add_sum(p, JFR_LOCK, traced, 1, ticks_to_ns(p, num(&v[S_DURATION])));
        break;
    case R_EV_PARK:
        add_sum(p, JFR_PARK, plain, 1, ticks_to_ns(p, num(&v[S_DURATION])));
        break;
    case R_EV_LIVE:
        add_sum(p, JFR_LIVE, plain, 1, 0);
        break;
    case R_EV_MALLOC:
        add_sum(p, JFR_MALLOC, plain, 1, num(&v[S_SIZE]));
        break;
    default:
        break;
    }
}

/* Pass 1 reads checkpoints and settings, pass 2 the sample events. */
static void read_events(parser *p, size_t from, int pass)
{
    p->pos = from;
    while (!p->failed && p->pos < p->chunk_end) {
        size_t next = 0;
        uint64_t type = event_begin(p, &next);
        if (p->failed)
            return;
        const jfr_class *c = type > EVENT_CHECKPOINT
                                 ? (const jfr_class *)(uintptr_t)jfr_map_get(&p->classes, type)
                                 : NULL;
        if (pass == 1 && type == EVENT_CHECKPOINT)
            read_checkpoint(p);
        else if (pass == 1 && c && c->role == R_EV_SETTING)
            read_setting(p, c);
        else if (pass == 2 && c && c->role >= R_EV_EXECUTION && c->role < R_EV_SETTING)
            read_sample(p, c);
        if (!p->failed)
            p->pos = next;
    }
}

/* ------------------------------------------------------------ output */

static const char *symbol(const parser *p, uint64_t id)
{
    return str_text(p, (const jfr_str *)(uintptr_t)jfr_map_get(&p->symbols, id));
}

/* Resolves a stack's frames into p->resolved; frames whose method or
 * class is missing are left out, as Pyroscope does. */
static size_t resolve_stack(parser *p, const stack_rec *st)
{
    if (st->n > p->cap_resolved) {
        jfr_frame *g =
            jfr_mem_grow(&p->mem, p->resolved, p->cap_resolved * sizeof(*g), st->n * sizeof(*g));
        if (!g) {
            fail_memory(p);
            return 0;
        }
        p->resolved = g;
        p->cap_resolved = st->n;
    }
    size_t n = 0;
    for (size_t i = 0; i < st->n; i++) {
        const method_rec *m =
            (const method_rec *)(uintptr_t)jfr_map_get(&p->methods, st->frames[i].method);
        const uint64_t *cls =
            m ? (const uint64_t *)(uintptr_t)jfr_map_get(&p->class_names, m->cls) : NULL;
        if (!cls)
            continue;
        p->resolved[n++] = (jfr_frame){symbol(p, *cls), symbol(p, m->name), st->frames[i].line};
    }
    return n;
}

static void emit_sums(parser *p)
{
    static const size_t n_values[JFR_KINDS] = {1, 1, 2, 2, 2, 2, 2, 1, 2};
    for (size_t i = 0; i < p->cap_sums && !p->failed; i++) {
        const sum_entry *e = &p->sums[i];
        if (!e->used)
            continue;
        const stack_rec *st = (const stack_rec *)(uintptr_t)jfr_map_get(&p->stacks, e->key.stack);
        size_t n_frames = st ? resolve_stack(p, st) : 0;
        if (n_frames == 0) { /* nothing to show it under */
            p->info->stackless[e->key.kind] += e->events;
            continue;
        }
        jfr_sample s = {
            .kind = (jfr_kind)e->key.kind,
            .n_values = n_values[e->key.kind],
            .values = {(int64_t)e->values[0], (int64_t)e->values[1]},
            .context_id = e->key.context,
            .span_id = e->key.span,
            .span_name = e->key.span_name,
        };
        s.n_frames = n_frames;
        s.frames = p->resolved;
        if (!p->failed && p->fn(p->arg, &s) < 0)
            fail(p, JFR_ERR_CALLBACK, "conversion stopped");
    }
}

/* ------------------------------------------------------------ chunks */

static void chunk_reset(parser *p)
{
    jfr_map *maps[] = {&p->classes, &p->symbols, &p->strings, &p->class_names,
                       &p->methods, &p->stacks,  &p->states};
    for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
        jfr_map_free(maps[i]);
    jfr_arena_free(&p->arena);
    if (p->sums)
        memset(p->sums, 0, p->cap_sums * sizeof(*p->sums));
    p->n_sums = 0;
}

static int64_t be64_at(const parser *p, size_t at)
{
    return (int64_t)rd_be(p->buf + at, 8);
}

/* Checks the header of the chunk at p->pos; sets p->chunk_end and returns
 * the metadata's offset in the chunk (0 when p->failed). */
static uint64_t read_chunk_header(parser *p, size_t len)
{
    size_t at = p->pos;
    const uint8_t *h = p->buf + at;
    if (memcmp(h, CHUNK_MAGIC, len - at < CHUNK_MAGIC_LEN ? len - at : CHUNK_MAGIC_LEN) != 0) {
        fail(p, JFR_ERR_FORMAT, "not a JFR chunk (no \"FLR\" magic)");
        return 0;
    }
    if (len - at < CHUNK_HEADER_SIZE) {
        fail(p, JFR_ERR_FORMAT, "truncated chunk header (%zu of %d bytes)", len - at,
             CHUNK_HEADER_SIZE);
        return 0;
    }
    unsigned major = (unsigned)rd_be(h + OFF_MAJOR, 2), minor = (unsigned)rd_be(h + 6, 2);
    uint64_t size = rd_be(h + OFF_SIZE, 8), meta = rd_be(h + OFF_META, 8);
    p->ticks_per_sec = rd_be(h + OFF_TICKS_PER_SEC, 8);
    if (major != JFR_MAJOR)
        fail(p, JFR_ERR_FORMAT, "JFR version %u.%u; only 2.x is read", major, minor);
    else if (size < CHUNK_HEADER_SIZE || size > len - at)
        fail(p, JFR_ERR_FORMAT, "chunk size %llu does not fit the %zu bytes left",
             (unsigned long long)size, len - at);
    else if (meta < CHUNK_HEADER_SIZE || meta >= size)
        fail(p, JFR_ERR_FORMAT, "metadata offset %llu outside the chunk's %llu bytes",
             (unsigned long long)meta, (unsigned long long)size);
    else if (p->ticks_per_sec == 0)
        fail(p, JFR_ERR_FORMAT, "chunk with 0 ticks per second");
    if (p->failed)
        return 0;
    p->chunk_end = at + (size_t)size;
    int64_t start = be64_at(p, at + OFF_START_NS), dur = be64_at(p, at + OFF_DURATION_NS);
    int64_t end = dur > 0 && start <= INT64_MAX - dur ? start + dur : start;
    jfr_info *in = p->info;
    if (!in->chunks || start < in->start_ns)
        in->start_ns = start;
    if (!in->chunks || end > in->end_ns)
        in->end_ns = end;
    in->chunks++;
    return meta;
}

static void read_chunk(parser *p, size_t len)
{
    size_t at = p->pos;
    uint64_t meta = read_chunk_header(p, len);
    if (p->failed)
        return;
    read_metadata(p, at + (size_t)meta);
    read_events(p, at + CHUNK_HEADER_SIZE, 1);
    read_events(p, at + CHUNK_HEADER_SIZE, 2);
    emit_sums(p);
    chunk_reset(p);
    if (!p->failed)
        p->pos = p->chunk_end;
}

int jfr_parse(const uint8_t *data, size_t len, size_t budget, jfr_sample_fn fn, void *arg,
              jfr_info *info, char *err, size_t errlen)
{
    parser p = {.buf = data, .err = err, .errlen = errlen, .fn = fn, .arg = arg, .info = info};
    memset(info, 0, sizeof(*info));
    p.mem.budget = budget;
    p.arena.mem = &p.mem;
    p.max_steps =
        len > (SIZE_MAX - STEPS_MIN) / STEPS_PER_BYTE ? SIZE_MAX : len * STEPS_PER_BYTE + STEPS_MIN;
    jfr_map *maps[] = {&p.classes, &p.symbols, &p.strings, &p.class_names,
                       &p.methods, &p.stacks,  &p.states};
    for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
        maps[i]->mem = &p.mem;
    if (len == 0)
        fail(&p, JFR_ERR_FORMAT, "empty recording");
    while (!p.failed && p.pos < len)
        read_chunk(&p, len);
    chunk_reset(&p);
    jfr_mem_free(&p.mem, p.frames, p.cap_frames * sizeof(*p.frames));
    jfr_mem_free(&p.mem, p.resolved, p.cap_resolved * sizeof(*p.resolved));
    jfr_mem_free(&p.mem, p.sums, p.cap_sums * sizeof(*p.sums));
    return p.failed;
}
