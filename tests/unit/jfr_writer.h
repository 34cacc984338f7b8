/* jfr_writer: a JFR recording shaped as async-profiler writes it for the
 * Pyroscope Java SDK, written byte by byte (async-profiler cannot be
 * installed on the test machine). Event and type layouts as
 * grafana/jfr-parser describes them (internal/cmd/gen/types.go, commit
 * 1d06ce3 of 2026-02-20); see test_pyroscope_jfr_async.c for what the
 * recording holds; and the Java SDK's LabelsSnapshot its context ids
 * refer to (snapshot()). Shared by that unit test and the fuzz seed
 * generator (tests/fuzz/seeds.c). */
#ifndef JFR_WRITER_H
#define JFR_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICKS_PER_SEC 1000000 /* microsecond ticks */
#define START_NS 1700000000000000000LL
#define CHUNK_NS 5000000000LL
#define CTX 5
#define SPAN 0xabcULL
#define SPAN_NAME 9

// clang-format off

/* ------------------------------------------------------------ writer */

typedef struct wbuf {
    uint8_t *b;
    size_t n, cap;
} wbuf;

static void w_bytes(wbuf *w, const void *p, size_t n)
{
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2;
        w->b = realloc(w->b, w->cap);
        if (!w->b)
            abort();
    }
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void w_byte(wbuf *w, uint8_t v)
{
    w_bytes(w, &v, 1);
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    for (; v >= 0x80 && n < 9; v >>= 7)
        n++;
    return n;
}

static void w_varint(wbuf *w, uint64_t v)
{
    for (int i = 0; i < 8 && v >= 0x80; i++, v >>= 7)
        w_byte(w, (uint8_t)(v | 0x80));
    w_byte(w, (uint8_t)v); /* fits: the test's values are below 2^56 */
}

static void w_be(wbuf *w, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        w_byte(w, (uint8_t)(v >> (8 * i)));
}

static void w_utf8(wbuf *w, const char *s)
{
    w_byte(w, 3);
    w_varint(w, strlen(s));
    w_bytes(w, s, strlen(s));
}

/* An event: its size (counting itself), then the payload. */
static void w_event(wbuf *w, const wbuf *payload)
{
    size_t size_len = 1;
    while (varint_len(payload->n + size_len) != size_len)
        size_len++;
    w_varint(w, payload->n + size_len);
    w_bytes(w, payload->b, payload->n);
}

/* ------------------------------------------------------------ metadata */

enum {
    T_LONG = 1,
    T_INT,
    T_BOOLEAN,
    T_STRING,
    T_SYMBOL = 10,
    T_CLASS,
    T_METHOD,
    T_FRAME,
    T_TRACE,
    T_STATE,
    EV_EXEC = 101,
    EV_WALL,
    EV_LIVE,
    EV_MALLOC,
    EV_SETTING,
    EV_MONITOR
};

typedef struct fspec {
    const char *name;
    int type, cpool, array;
} fspec;

typedef struct cspec {
    int id;
    const char *name;
    fspec f[7];
} cspec;

static const cspec classes[] = {
    {T_LONG, "long", {{0}}},
    {T_INT, "int", {{0}}},
    {T_BOOLEAN, "boolean", {{0}}},
    {T_STRING, "java.lang.String", {{0}}},
    {T_SYMBOL, "jdk.types.Symbol", {{"string", T_STRING, 0, 0}}},
    {T_CLASS, "java.lang.Class", {{"name", T_SYMBOL, 1, 0}, {"modifiers", T_INT, 0, 0}}},
    {T_METHOD, "jdk.types.Method", {{"type", T_CLASS, 1, 0}, {"name", T_SYMBOL, 1, 0}}},
    {T_FRAME, "jdk.types.StackFrame", {{"method", T_METHOD, 1, 0}, {"lineNumber", T_INT, 0, 0}}},
    {T_TRACE, "jdk.types.StackTrace", {{"truncated", T_BOOLEAN, 0, 0}, {"frames", T_FRAME, 0, 1}}},
    {T_STATE, "jdk.types.ThreadState", {{"name", T_STRING, 0, 0}}},
    {EV_EXEC,
     "jdk.ExecutionSample",
     {{"startTime", T_LONG, 0, 0},
      {"stackTrace", T_TRACE, 1, 0},
      {"state", T_STATE, 1, 0},
      {"spanId", T_LONG, 0, 0},
      {"spanName", T_LONG, 0, 0},
      {"contextId", T_LONG, 0, 0}}},
    {EV_WALL,
     "profiler.WallClockSample",
     {{"startTime", T_LONG, 0, 0},
      {"stackTrace", T_TRACE, 1, 0},
      {"state", T_STATE, 1, 0},
      {"contextId", T_LONG, 0, 0},
      {"samples", T_INT, 0, 0}}},
    {EV_LIVE, "profiler.LiveObject", {{"startTime", T_LONG, 0, 0}, {"stackTrace", T_TRACE, 1, 0}}},
    {EV_MALLOC,
     "profiler.Malloc",
     {{"startTime", T_LONG, 0, 0}, {"stackTrace", T_TRACE, 1, 0}, {"size", T_LONG, 0, 0}}},
    {EV_SETTING,
     "jdk.ActiveSetting",
     {{"startTime", T_LONG, 0, 0},
      {"id", T_LONG, 0, 0},
      {"name", T_STRING, 0, 0},
      {"value", T_STRING, 0, 0}}},
    {EV_MONITOR,
     "jdk.JavaMonitorEnter",
     {{"startTime", T_LONG, 0, 0},
      {"duration", T_LONG, 0, 0},
      {"stackTrace", T_TRACE, 1, 0},
      {"contextId", T_LONG, 0, 0}}},
};

typedef struct strtab {
    const char *s[256];
    char own[256][24];
    size_t n;
} strtab;

static uint64_t sidx(strtab *t, const char *s)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->s[i], s) == 0)
            return i;
    t->s[t->n] = s;
    return t->n++;
}

static uint64_t snum(strtab *t, int v)
{
    snprintf(t->own[t->n], sizeof(t->own[0]), "%d", v);
    return sidx(t, t->own[t->n]);
}

static void w_metadata_of(wbuf *w, const cspec *classes, size_t n_classes)
{
    strtab t = {0};
    wbuf tree = {0}, ev = {0};
    /* root { metadata { class* { field* } } region {} } */
    w_varint(&tree, sidx(&t, "root"));
    w_varint(&tree, 0);
    w_varint(&tree, 2);
    w_varint(&tree, sidx(&t, "metadata"));
    w_varint(&tree, 0);
    w_varint(&tree, n_classes);
    for (size_t i = 0; i < n_classes; i++) {
        const cspec *c = &classes[i];
        size_t nf = 0;
        while (nf < 7 && c->f[nf].name)
            nf++;
        w_varint(&tree, sidx(&t, "class"));
        w_varint(&tree, 2);
        w_varint(&tree, sidx(&t, "id"));
        w_varint(&tree, snum(&t, c->id));
        w_varint(&tree, sidx(&t, "name"));
        w_varint(&tree, sidx(&t, c->name));
        w_varint(&tree, nf);
        for (size_t j = 0; j < nf; j++) {
            const fspec *f = &c->f[j];
            w_varint(&tree, sidx(&t, "field"));
            w_varint(&tree, 2 + (size_t)f->cpool + (size_t)f->array);
            w_varint(&tree, sidx(&t, "name"));
            w_varint(&tree, sidx(&t, f->name));
            w_varint(&tree, sidx(&t, "class"));
            w_varint(&tree, snum(&t, f->type));
            if (f->cpool) {
                w_varint(&tree, sidx(&t, "constantPool"));
                w_varint(&tree, sidx(&t, "true"));
            }
            if (f->array) {
                w_varint(&tree, sidx(&t, "dimension"));
                w_varint(&tree, sidx(&t, "1"));
            }
            w_varint(&tree, 0);
        }
    }
    w_varint(&tree, sidx(&t, "region"));
    w_varint(&tree, 0);
    w_varint(&tree, 0);
    w_varint(&ev, 0); /* metadata */
    w_varint(&ev, 0);
    w_varint(&ev, 0);
    w_varint(&ev, 1);
    w_varint(&ev, t.n);
    for (size_t i = 0; i < t.n; i++)
        w_utf8(&ev, t.s[i]);
    w_bytes(&ev, tree.b, tree.n);
    w_event(w, &ev);
    free(tree.b);
    free(ev.b);
}

static void w_metadata(wbuf *w)
{
    w_metadata_of(w, classes, sizeof(classes) / sizeof(classes[0]));
}

/* ------------------------------------------------------------ chunks */

/* The chunk's constant pools; its one stack trace has id `trace`. */
static void w_checkpoint(wbuf *w, uint64_t trace)
{
    static const char lambda[] = "Main$$Lambda$14/0x0000000800c03200";
    wbuf ev = {0};
    w_varint(&ev, 1); /* checkpoint */
    w_varint(&ev, 0);
    w_varint(&ev, 0);
    w_varint(&ev, 0); /* delta: the only one */
    w_byte(&ev, 0);
    w_varint(&ev, 6);
    w_varint(&ev, T_STRING); /* the java.lang.String pool */
    w_varint(&ev, 1);
    w_varint(&ev, 7);
    w_utf8(&ev, "run");
    w_varint(&ev, T_SYMBOL);
    w_varint(&ev, 4);
    w_varint(&ev, 1);
    w_utf8(&ev, "Main");
    w_varint(&ev, 2); /* Latin-1 "h\xe9t" */
    w_byte(&ev, 5);
    w_varint(&ev, 3);
    w_bytes(&ev, "h\xe9t", 3);
    w_varint(&ev, 3); /* a char array */
    w_byte(&ev, 4);
    w_varint(&ev, strlen(lambda));
    for (const char *c = lambda; *c; c++)
        w_varint(&ev, (uint8_t)*c);
    w_varint(&ev, 4); /* a reference to String 7 */
    w_byte(&ev, 2);
    w_varint(&ev, 7);
    w_varint(&ev, T_CLASS);
    w_varint(&ev, 2);
    w_varint(&ev, 1), w_varint(&ev, 1), w_varint(&ev, 0);
    w_varint(&ev, 2), w_varint(&ev, 3), w_varint(&ev, 0x1001);
    w_varint(&ev, T_METHOD);
    w_varint(&ev, 2);
    w_varint(&ev, 1), w_varint(&ev, 1), w_varint(&ev, 2);
    w_varint(&ev, 2), w_varint(&ev, 2), w_varint(&ev, 4);
    w_varint(&ev, T_TRACE);
    w_varint(&ev, 1);
    w_varint(&ev, trace);
    w_byte(&ev, 0);
    w_varint(&ev, 2);
    w_varint(&ev, 1), w_varint(&ev, 10); /* leaf: Main.hét line 10 */
    w_varint(&ev, 2), w_varint(&ev, 0);
    w_varint(&ev, T_STATE);
    w_varint(&ev, 2);
    w_varint(&ev, 1), w_utf8(&ev, "STATE_RUNNABLE");
    w_varint(&ev, 2), w_utf8(&ev, "STATE_SLEEPING");
    w_event(w, &ev);
    free(ev.b);
}

/* One event of `type` with the given integer fields (after startTime). */
static void w_sample(wbuf *w, int type, int n, const uint64_t *fields)
{
    wbuf ev = {0};
    w_varint(&ev, (uint64_t)type);
    w_varint(&ev, 12345); /* startTime */
    for (int i = 0; i < n; i++)
        w_varint(&ev, fields[i]);
    w_event(w, &ev);
    free(ev.b);
}

static void w_header(wbuf *w, size_t size, size_t cp_off, size_t meta_off, int64_t start)
{
    w_bytes(w, "FLR\0", 4);
    w_be(w, 2, 2);
    w_be(w, 1, 2);
    w_be(w, size, 8);
    w_be(w, cp_off, 8);
    w_be(w, meta_off, 8);
    w_be(w, (uint64_t)start, 8);
    w_be(w, CHUNK_NS, 8);
    w_be(w, 0, 8);
    w_be(w, TICKS_PER_SEC, 8);
    w_be(w, 1, 4);
}

static void w_chunk(wbuf *w, int index)
{
    wbuf body = {0}, ev = {0};
    size_t cp_off = 68 + body.n;
    w_checkpoint(&body, 1);
    if (index == 0) { /* async-profiler's event=wall */
        w_varint(&ev, EV_SETTING);
        w_varint(&ev, 0);
        w_varint(&ev, EV_EXEC);
        w_utf8(&ev, "event");
        w_utf8(&ev, "wall");
        w_event(&body, &ev);
    }
    for (int i = 0; i < 3; i++)
        w_sample(&body, EV_EXEC, 5, (const uint64_t[]){1, 1, SPAN, SPAN_NAME, CTX});
    w_sample(&body, EV_EXEC, 5, (const uint64_t[]){1, 2, 0, 0, 0});
    w_sample(&body, EV_EXEC, 5, (const uint64_t[]){99, 1, 0, 0, 0}); /* no such stack */
    w_sample(&body, EV_WALL, 4, (const uint64_t[]){1, 1, CTX, 4});
    w_sample(&body, EV_LIVE, 1, (const uint64_t[]){1});
    for (int i = 0; i < 2; i++)
        w_sample(&body, EV_MALLOC, 2, (const uint64_t[]){1, 100});
    w_sample(&body, EV_MONITOR, 3, (const uint64_t[]){2000, 1, CTX});
    size_t meta_off = 68 + body.n;
    w_metadata(&body);
    w_header(w, 68 + body.n, cp_off, meta_off, START_NS + index * CHUNK_NS);
    w_bytes(w, body.b, body.n);
    free(body.b);
    free(ev.b);
}

static wbuf recording(void)
{
    wbuf w = {0};
    w_chunk(&w, 0);
    w_chunk(&w, 1);
    return w;
}

/* ------------------------------------------------------------ labels */

/* protobuf writers for the LabelsSnapshot, as pyroscope-java's generated
 * code lays it out (map entries: key = 1, value = 2). */
static size_t put_varint(uint8_t *o, uint64_t v)
{
    size_t n = 0;
    for (; v >= 0x80; v >>= 7)
        o[n++] = (uint8_t)(v | 0x80);
    o[n++] = (uint8_t)v;
    return n;
}

static size_t put_bytes(uint8_t *o, int field, const uint8_t *b, size_t len)
{
    size_t n = put_varint(o, (uint64_t)field << 3 | 2);
    n += put_varint(o + n, len);
    memcpy(o + n, b, len);
    return n + len;
}

static size_t put_num(uint8_t *o, int field, uint64_t v)
{
    size_t n = put_varint(o, (uint64_t)field << 3);
    return n + put_varint(o + n, v);
}

static size_t string_entry(uint8_t *o, int64_t id, const char *s)
{
    uint8_t e[128];
    size_t n = put_num(e, 1, (uint64_t)id);
    n += put_bytes(e + n, 2, (const uint8_t *)s, strlen(s));
    return put_bytes(o, 2, e, n);
}

/* The snapshot the test recording's context refers to: context CTX =
 * {request: checkout}, and the span name SPAN_NAME. */
static size_t snapshot(uint8_t *msg)
{
    uint8_t ctx[16], pair[16], entry[32];
    size_t n = 0, p = put_num(pair, 1, 1);
    p += put_num(pair + p, 2, 2);
    size_t c = put_bytes(ctx, 1, pair, p);
    size_t e = put_num(entry, 1, CTX);
    e += put_bytes(entry + e, 2, ctx, c);
    n += put_bytes(msg + n, 1, entry, e);
    n += string_entry(msg + n, 1, "request");
    n += string_entry(msg + n, 2, "checkout");
    n += string_entry(msg + n, SPAN_NAME, "GET /pay");
    return n;
}

// clang-format on

#endif
