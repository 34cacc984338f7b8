/* pyroscope_jfr_read: the lower half of the JFR reader (see
 * pyroscope_jfr_read.h). Format facts, read from the JDK's own reader
 * (jdk.jfr.internal.consumer.RecordingInput/MetadataReader, JDK 17) and
 * from grafana/jfr-parser (parser/, commit 1d06ce3 of 2026-02-20):
 * - integers are LEB128 of at most 9 bytes, the 9th holding 8 bits;
 *   boolean and byte are one raw byte, float and double raw big-endian;
 * - a string is an encoding byte then: 0 null, 1 "", 2 a java.lang.String
 *   pool reference, 3 UTF-8 (length, bytes), 4 char array (length,
 *   LEB128 UTF-16 units), 5 Latin-1 (length, bytes);
 * - metadata event: start, duration, id, a string table, then an element
 *   tree (name, attributes as string-table index pairs, children) whose
 *   root > metadata > class elements (attributes id, name) hold field
 *   elements (name, class = type id, constantPool = "true", dimension = 1
 *   for arrays). A field with constantPool="true" holds an id into its
 *   type's pool; any other field is laid out inline by its type. */
#include "pyroscope_jfr_read.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VARINT_MAX_BYTES 9
#define VARINT_PAYLOAD_BITS 7
#define MAX_NESTING 32

typedef enum str_enc {
    STR_NULL = 0,
    STR_EMPTY = 1,
    STR_POOL = 2,
    STR_UTF8 = 3,
    STR_CHARS = 4,
    STR_LATIN1 = 5,
} str_enc;

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

static const char *const slot_names[S_COUNT] = {
    "stackTrace", "state",     "tlabSize", "allocationSize", "weight",     "duration", "size",
    "samples",    "contextId", "spanId",   "spanName",       "id",         "name",     "value",
    "type",       "string",    "frames",   "method",         "lineNumber",
};

/* ------------------------------------------------------------ errors */

void jfr_fail(jfr_parser *p, int code, const char *fmt, ...)
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

void jfr_fail_memory(jfr_parser *p)
{
    jfr_fail(p, JFR_ERR_MEMORY, "recording needs more than %zu bytes of memory to read",
             p->mem.budget);
}

void *jfr_alloc(jfr_parser *p, size_t size)
{
    void *m = jfr_arena_alloc(&p->arena, size);
    if (!m)
        jfr_fail_memory(p);
    return m;
}

void jfr_keep(jfr_parser *p, jfr_map *m, uint64_t key, uint64_t val)
{
    if (!p->failed && jfr_map_put(m, key, val) < 0)
        jfr_fail_memory(p);
}

/* ------------------------------------------------------------ primitives */

size_t jfr_left(const jfr_parser *p)
{
    return p->pos < p->end ? p->end - p->pos : 0;
}

uint8_t jfr_u8(jfr_parser *p)
{
    if (p->failed)
        return 0;
    if (jfr_left(p) < 1) {
        jfr_fail(p, JFR_ERR_FORMAT, "truncated byte");
        return 0;
    }
    return p->buf[p->pos++];
}

void jfr_skip(jfr_parser *p, size_t n, const char *what)
{
    if (p->failed)
        return;
    if (jfr_left(p) < n) {
        jfr_fail(p, JFR_ERR_FORMAT, "truncated %s (%zu bytes, %zu left)", what, n, jfr_left(p));
        return;
    }
    p->pos += n;
}

uint64_t jfr_varlong(jfr_parser *p)
{
    uint64_t v = 0;
    for (int i = 0; i < VARINT_MAX_BYTES && !p->failed; i++) {
        if (jfr_left(p) < 1) {
            jfr_fail(p, JFR_ERR_FORMAT, "truncated integer");
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

size_t jfr_count(jfr_parser *p, const char *what)
{
    size_t at = p->pos;
    uint64_t n = jfr_varlong(p);
    if (!p->failed && n > jfr_left(p)) {
        p->pos = at;
        jfr_fail(p, JFR_ERR_FORMAT, "%s count %llu exceeds the %zu bytes left", what,
                 (unsigned long long)n, jfr_left(p));
        return 0;
    }
    return (size_t)n;
}

uint64_t jfr_be(const uint8_t *b, int n)
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

void jfr_string(jfr_parser *p, jfr_str *out)
{
    size_t at = p->pos;
    uint8_t enc = jfr_u8(p);
    if (out)
        *out = (jfr_str){"", 0};
    if (p->failed || enc == STR_NULL || enc == STR_EMPTY)
        return;
    if (enc == STR_POOL) {
        uint64_t ref = jfr_varlong(p);
        if (out)
            *out = (jfr_str){NULL, ref};
        return;
    }
    if (enc != STR_UTF8 && enc != STR_CHARS && enc != STR_LATIN1) {
        p->pos = at;
        jfr_fail(p, JFR_ERR_FORMAT, "unknown string encoding %u", enc);
        return;
    }
    size_t n = jfr_count(p, "string length");
    if (p->failed)
        return;
    if (!out) {
        if (enc == STR_CHARS)
            for (size_t i = 0; i < n && !p->failed; i++)
                jfr_varlong(p);
        else
            jfr_skip(p, n, "string");
        return;
    }
    char *s = jfr_alloc(p, n * 3 + 1);
    if (!s)
        return;
    size_t o = 0;
    if (enc == STR_UTF8) {
        memcpy(s, p->buf + p->pos, n);
        p->pos += n;
        o = n;
    } else {
        for (size_t i = 0; i < n && !p->failed; i++)
            o += put_utf8(s + o,
                          enc == STR_LATIN1 ? jfr_u8(p) : (uint32_t)(jfr_varlong(p) & 0xffff));
    }
    s[o] = '\0';
    out->text = s;
}

/* ------------------------------------------------------------ values */

/* Counts one field read; 0 when over the limit (p->failed set). */
static int step(jfr_parser *p)
{
    if (++p->steps <= p->max_steps)
        return 1;
    jfr_fail(p, JFR_ERR_FORMAT, "recording's types take more than %zu field reads to walk",
             p->max_steps);
    return 0;
}

static void skip_one(jfr_parser *p, const jfr_field *f, int depth)
{
    if (f->cpool)
        jfr_varlong(p);
    else if (!f->cls)
        jfr_fail(p, JFR_ERR_FORMAT, "field '%.60s' has type id %llu, which the metadata lacks",
                 f->name, (unsigned long long)f->type_id);
    else
        jfr_skip_value(p, f->cls, depth + 1);
}

/* Calls one(p, f, i) for each element of an array field. */
static void each_element(jfr_parser *p, const jfr_field *f, int depth,
                         void (*one)(jfr_parser *, const jfr_field *, int))
{
    size_t n = jfr_count(p, "array");
    for (size_t i = 0; i < n && !p->failed; i++) {
        size_t at = p->pos;
        one(p, f, depth);
        if (!p->failed && p->pos == at) {
            jfr_fail(p, JFR_ERR_FORMAT, "array of '%.60s' elements that take no bytes", f->name);
            return;
        }
    }
}

static void skip_field(jfr_parser *p, const jfr_field *f, int depth)
{
    if (f->array)
        each_element(p, f, depth, skip_one);
    else
        skip_one(p, f, depth);
}

void jfr_skip_value(jfr_parser *p, const jfr_class *c, int depth)
{
    if (depth > MAX_NESTING) {
        jfr_fail(p, JFR_ERR_FORMAT, "type '%.60s' nests deeper than %d", c->name, MAX_NESTING);
        return;
    }
    switch (c->role) {
    case R_BOOLEAN:
    case R_BYTE:
        jfr_u8(p);
        return;
    case R_CHAR:
    case R_SHORT:
    case R_INT:
    case R_LONG:
        jfr_varlong(p);
        return;
    case R_FLOAT:
        jfr_skip(p, sizeof(float), "float");
        return;
    case R_DOUBLE:
        jfr_skip(p, sizeof(double), "double");
        return;
    case R_STRING:
        jfr_string(p, NULL);
        return;
    default:
        for (size_t i = 0; i < c->n_fields && !p->failed && step(p); i++)
            skip_field(p, &c->fields[i], depth);
    }
}

static void read_frame(jfr_parser *p, const jfr_field *f, int depth);

void jfr_read_struct(jfr_parser *p, const jfr_class *c, jfr_val *vals, int depth)
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
            v->num = jfr_varlong(p);
            v->kind = V_NUM;
        } else if (r == R_BOOLEAN || r == R_BYTE) {
            v->num = jfr_u8(p);
            v->kind = V_NUM;
        } else if (r == R_STRING) {
            jfr_string(p, &v->str);
            v->kind = V_STR;
        } else {
            skip_field(p, f, depth);
        }
    }
}

/* One jdk.types.StackFrame of a stack trace, into p->frames. */
static void read_frame(jfr_parser *p, const jfr_field *f, int depth)
{
    jfr_val v[S_COUNT] = {0};
    if (depth > MAX_NESTING) {
        jfr_fail(p, JFR_ERR_FORMAT, "stack frames nest deeper than %d", MAX_NESTING);
        return;
    }
    jfr_read_struct(p, f->cls, v, depth + 1);
    if (p->failed)
        return;
    if (p->n_frames == p->cap_frames) {
        size_t cap = p->cap_frames ? p->cap_frames * 2 : 64;
        raw_frame *g =
            jfr_mem_grow(&p->mem, p->frames, p->cap_frames * sizeof(*g), cap * sizeof(*g));
        if (!g) {
            jfr_fail_memory(p);
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

static const char *meta_string(jfr_parser *p, const meta *m)
{
    size_t at = p->pos;
    uint64_t i = jfr_varlong(p);
    if (p->failed)
        return "";
    if (i >= m->n_strings) {
        p->pos = at;
        jfr_fail(p, JFR_ERR_FORMAT, "metadata string index %llu out of %zu", (unsigned long long)i,
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

static jfr_class *new_class(jfr_parser *p, meta *m, const attrs *a, size_t n_children)
{
    jfr_class *c = jfr_alloc(p, sizeof(*c));
    if (!c)
        return NULL;
    if (parse_id(a->id, &c->id) < 0 || !a->name) {
        jfr_fail(p, JFR_ERR_FORMAT, "metadata class without a numeric id and a name");
        return NULL;
    }
    c->name = a->name;
    c->fields = n_children ? jfr_alloc(p, n_children * sizeof(*c->fields)) : NULL;
    if (m->n_classes == m->cap_classes) {
        size_t cap = m->cap_classes ? m->cap_classes * 2 : 256;
        jfr_class **g =
            jfr_mem_grow(&p->mem, m->classes, m->cap_classes * sizeof(*g), cap * sizeof(*g));
        if (!g) {
            jfr_fail_memory(p);
            return NULL;
        }
        m->classes = g;
        m->cap_classes = cap;
    }
    m->classes[m->n_classes++] = c;
    return c;
}

static void add_field(jfr_parser *p, jfr_class *c, const attrs *a)
{
    jfr_field *f = &c->fields[c->n_fields];
    if (parse_id(a->type, &f->type_id) < 0 || !a->name) {
        jfr_fail(p, JFR_ERR_FORMAT, "field of '%.60s' without a name and a numeric class", c->name);
        return;
    }
    f->name = a->name;
    f->cpool = a->cpool && strcmp(a->cpool, "true") == 0;
    f->array = a->dimension && strcmp(a->dimension, "0") != 0;
    c->n_fields++;
}

static void read_element(jfr_parser *p, meta *m, element_at where, jfr_class *owner, int depth)
{
    if (depth > MAX_NESTING) {
        jfr_fail(p, JFR_ERR_FORMAT, "metadata elements nest deeper than %d", MAX_NESTING);
        return;
    }
    const char *name = meta_string(p, m);
    attrs a = {0};
    size_t n_attrs = jfr_count(p, "metadata attribute");
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
    size_t n_children = jfr_count(p, "metadata element");
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
static void link_classes(jfr_parser *p, meta *m)
{
    p->execution_type = 0;
    for (size_t i = 0; i < m->n_classes; i++) {
        jfr_class *c = m->classes[i];
        c->role = role_of(c->name);
        jfr_keep(p, &p->classes, c->id, (uint64_t)(uintptr_t)c);
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

uint64_t jfr_event_begin(jfr_parser *p, size_t *next)
{
    size_t start = p->pos;
    p->end = p->chunk_end;
    uint64_t size = jfr_varlong(p);
    if (p->failed)
        return 0;
    if (size == 0 || size > p->chunk_end - start) {
        p->pos = start;
        jfr_fail(p, JFR_ERR_FORMAT, "event size %llu does not fit the chunk's %zu bytes left",
                 (unsigned long long)size, p->chunk_end - start);
        return 0;
    }
    p->end = start + (size_t)size;
    *next = p->end;
    return jfr_varlong(p);
}

void jfr_read_metadata(jfr_parser *p, size_t at)
{
    meta m = {0};
    size_t next;
    p->pos = at;
    uint64_t type = jfr_event_begin(p, &next);
    if (!p->failed && type != EVENT_METADATA)
        jfr_fail(p, JFR_ERR_FORMAT, "the header's metadata offset points at an event of type %llu",
                 (unsigned long long)type);
    for (int i = 0; i < 3; i++) /* start, duration, metadata id */
        jfr_varlong(p);
    m.n_strings = jfr_count(p, "metadata string");
    m.strings = p->failed ? NULL : jfr_alloc(p, (m.n_strings + 1) * sizeof(*m.strings));
    for (size_t i = 0; i < m.n_strings && !p->failed; i++) {
        jfr_str s;
        jfr_string(p, &s);
        if (!p->failed && !s.text)
            jfr_fail(p, JFR_ERR_FORMAT, "metadata string %zu refers to a constant pool", i);
        m.strings[i] = s.text;
    }
    if (!p->failed)
        read_element(p, &m, EL_ROOT, NULL, 0);
    if (!p->failed)
        link_classes(p, &m);
    jfr_mem_free(&p->mem, m.classes, m.cap_classes * sizeof(*m.classes));
}
