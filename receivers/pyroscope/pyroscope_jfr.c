/* pyroscope_jfr: the JFR recording reader (see pyroscope_jfr.h); its
 * lower half, values and metadata, is pyroscope_jfr_read.c. Format facts,
 * read from the JDK's own reader (jdk.jfr.internal.consumer.ChunkHeader/
 * ChunkParser, JDK 17) and from grafana/jfr-parser (parser/, commit 1d06ce3 of 2026-02-20):
 * - chunk header, big-endian: "FLR\0", major u16 (2), minor u16, size
 *   i64, constant-pool offset i64, metadata offset i64, start ns i64,
 *   duration ns i64, start ticks i64, ticks per second i64, features i32;
 * - events: size (counting itself), type id, fields; type 0 is the
 *   metadata, type 1 a checkpoint: start, duration, delta to the previous
 *   checkpoint, a type byte, a pool count, then per pool a type id, an
 *   entry count and entries (id, value laid out as that type's fields).
 * Checkpoints are found by walking the chunk's events (the delta chain
 * reaches the same ones). */
#include "pyroscope_jfr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyroscope_jfr_read.h"
#include "pp_constants.h"

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
#define THREAD_STATE_SLEEPING "STATE_SLEEPING"
#define THREAD_STATE_RUNNABLE "STATE_RUNNABLE"
#define SETTING_EVENT "event"
#define SETTING_PERIOD "period"
#define EVENT_WALL "wall"

typedef struct stack_rec {
    raw_frame *frames;
    size_t n;
} stack_rec;

typedef struct method_rec {
    uint64_t cls, name;
} method_rec;

/* ------------------------------------------------------------ pools */

static const char *str_text(const jfr_parser *p, const jfr_str *s)
{
    if (!s)
        return "";
    if (s->text)
        return s->text;
    const jfr_str *t = (const jfr_str *)(uintptr_t)jfr_map_get(&p->strings, s->ref);
    return t && t->text ? t->text : "";
}

static const char *val_text(const jfr_parser *p, const jfr_val *v)
{
    return v->kind == V_STR ? str_text(p, &v->str) : NULL;
}

/* Keeps a string value of an entry in map m. */
static void keep_string(jfr_parser *p, jfr_map *m, uint64_t id, const jfr_val *v)
{
    if (v->kind != V_STR)
        return;
    jfr_str *s = jfr_alloc(p, sizeof(*s));
    if (s) {
        *s = v->str;
        jfr_keep(p, m, id, (uint64_t)(uintptr_t)s);
    }
}

static void keep_stack(jfr_parser *p, uint64_t id, const jfr_val *frames)
{
    stack_rec *st = jfr_alloc(p, sizeof(*st));
    if (!st)
        return;
    if (frames->kind == V_FRAMES && p->n_frames) {
        st->frames = jfr_alloc(p, p->n_frames * sizeof(*st->frames));
        if (!st->frames)
            return;
        memcpy(st->frames, p->frames, p->n_frames * sizeof(*st->frames));
        st->n = p->n_frames;
    }
    jfr_keep(p, &p->stacks, id, (uint64_t)(uintptr_t)st);
}

static void read_pool_entry(jfr_parser *p, const jfr_class *c)
{
    uint64_t id = jfr_varlong(p);
    jfr_val v[S_COUNT] = {0};
    switch (c->role) {
    case R_CHUNK_HEADER:
        jfr_skip(p, CHUNK_HEADER_SIZE, "chunk header constant");
        return;
    case R_STRING:
        jfr_string(p, &v[S_STRING].str);
        v[S_STRING].kind = V_STR;
        if (!p->failed)
            keep_string(p, &p->strings, id, &v[S_STRING]);
        return;
    case R_STACK_TRACE:
    case R_METHOD:
    case R_CLASS:
    case R_SYMBOL:
    case R_THREAD_STATE:
        jfr_read_struct(p, c, v, 0);
        break;
    default:
        jfr_skip_value(p, c, 0);
        return;
    }
    if (p->failed)
        return;
    if (c->role == R_STACK_TRACE) {
        keep_stack(p, id, &v[S_FRAMES]);
    } else if (c->role == R_METHOD) {
        method_rec *m = jfr_alloc(p, sizeof(*m));
        if (!m)
            return;
        m->cls = v[S_TYPE].kind == V_NUM ? v[S_TYPE].num : 0;
        m->name = v[S_NAME].kind == V_NUM ? v[S_NAME].num : 0;
        jfr_keep(p, &p->methods, id, (uint64_t)(uintptr_t)m);
    } else if (c->role == R_CLASS) {
        uint64_t *name = jfr_alloc(p, sizeof(*name));
        if (!name || v[S_NAME].kind != V_NUM)
            return;
        *name = v[S_NAME].num;
        jfr_keep(p, &p->class_names, id, (uint64_t)(uintptr_t)name);
    } else {
        keep_string(p, c->role == R_SYMBOL ? &p->symbols : &p->states, id,
                    &v[c->role == R_SYMBOL ? S_STRING : S_NAME]);
    }
}

static void read_checkpoint(jfr_parser *p)
{
    for (int i = 0; i < 3; i++) /* start, duration, delta to the previous one */
        jfr_varlong(p);
    jfr_u8(p); /* checkpoint type */
    size_t n_pools = jfr_count(p, "constant pool");
    for (size_t i = 0; i < n_pools && !p->failed; i++) {
        size_t at = p->pos;
        uint64_t type = jfr_varlong(p);
        const jfr_class *c = (const jfr_class *)(uintptr_t)jfr_map_get(&p->classes, type);
        if (!p->failed && !c) {
            p->pos = at;
            jfr_fail(p, JFR_ERR_FORMAT, "constant pool of type id %llu, which the metadata lacks",
                     (unsigned long long)type);
        }
        size_t n = jfr_count(p, "constant pool entry");
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

static void read_setting(jfr_parser *p, const jfr_class *c)
{
    jfr_val v[S_COUNT] = {0};
    jfr_read_struct(p, c, v, 0);
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

static int sums_grow(jfr_parser *p)
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

static void add_sum(jfr_parser *p, jfr_kind kind, sum_key k, uint64_t v0, uint64_t v1)
{
    if ((p->n_sums + 1) * 2 > p->cap_sums && sums_grow(p) < 0) {
        jfr_fail_memory(p);
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

static uint64_t ticks_to_ns(const jfr_parser *p, uint64_t ticks)
{
    unsigned __int128 ns = (unsigned __int128)ticks * NS_PER_SEC / p->ticks_per_sec;
    return ns > INT64_MAX ? INT64_MAX : (uint64_t)ns;
}

static const char *thread_state(const jfr_parser *p, const jfr_val *v)
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
static void read_sample(jfr_parser *p, const jfr_class *c)
{
    jfr_val v[S_COUNT] = {0};
    jfr_read_struct(p, c, v, 0);
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
static void read_events(jfr_parser *p, size_t from, int pass)
{
    p->pos = from;
    while (!p->failed && p->pos < p->chunk_end) {
        size_t next = 0;
        uint64_t type = jfr_event_begin(p, &next);
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

static const char *symbol(const jfr_parser *p, uint64_t id)
{
    return str_text(p, (const jfr_str *)(uintptr_t)jfr_map_get(&p->symbols, id));
}

/* Resolves a stack's frames into p->resolved; frames whose method or
 * class is missing are left out, as Pyroscope does. */
static size_t resolve_stack(jfr_parser *p, const stack_rec *st)
{
    if (st->n > p->cap_resolved) {
        jfr_frame *g =
            jfr_mem_grow(&p->mem, p->resolved, p->cap_resolved * sizeof(*g), st->n * sizeof(*g));
        if (!g) {
            jfr_fail_memory(p);
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

static void emit_sums(jfr_parser *p)
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
            jfr_fail(p, JFR_ERR_CALLBACK, "conversion stopped");
    }
}

/* ------------------------------------------------------------ chunks */

static void chunk_reset(jfr_parser *p)
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

static int64_t be64_at(const jfr_parser *p, size_t at)
{
    return (int64_t)jfr_be(p->buf + at, 8);
}

/* Checks the header of the chunk at p->pos; sets p->chunk_end and returns
 * the metadata's offset in the chunk (0 when p->failed). */
static uint64_t read_chunk_header(jfr_parser *p, size_t len)
{
    size_t at = p->pos;
    const uint8_t *h = p->buf + at;
    if (memcmp(h, CHUNK_MAGIC, len - at < CHUNK_MAGIC_LEN ? len - at : CHUNK_MAGIC_LEN) != 0) {
        jfr_fail(p, JFR_ERR_FORMAT, "not a JFR chunk (no \"FLR\" magic)");
        return 0;
    }
    if (len - at < CHUNK_HEADER_SIZE) {
        jfr_fail(p, JFR_ERR_FORMAT, "truncated chunk header (%zu of %d bytes)", len - at,
                 CHUNK_HEADER_SIZE);
        return 0;
    }
    unsigned major = (unsigned)jfr_be(h + OFF_MAJOR, 2), minor = (unsigned)jfr_be(h + 6, 2);
    uint64_t size = jfr_be(h + OFF_SIZE, 8), meta = jfr_be(h + OFF_META, 8);
    p->ticks_per_sec = jfr_be(h + OFF_TICKS_PER_SEC, 8);
    if (major != JFR_MAJOR)
        jfr_fail(p, JFR_ERR_FORMAT, "JFR version %u.%u; only 2.x is read", major, minor);
    else if (size < CHUNK_HEADER_SIZE || size > len - at)
        jfr_fail(p, JFR_ERR_FORMAT, "chunk size %llu does not fit the %zu bytes left",
                 (unsigned long long)size, len - at);
    else if (meta < CHUNK_HEADER_SIZE || meta >= size)
        jfr_fail(p, JFR_ERR_FORMAT, "metadata offset %llu outside the chunk's %llu bytes",
                 (unsigned long long)meta, (unsigned long long)size);
    else if (p->ticks_per_sec == 0)
        jfr_fail(p, JFR_ERR_FORMAT, "chunk with 0 ticks per second");
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

static void read_chunk(jfr_parser *p, size_t len)
{
    size_t at = p->pos;
    uint64_t meta = read_chunk_header(p, len);
    if (p->failed)
        return;
    jfr_read_metadata(p, at + (size_t)meta);
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
    jfr_parser p = {.buf = data, .err = err, .errlen = errlen, .fn = fn, .arg = arg, .info = info};
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
        jfr_fail(&p, JFR_ERR_FORMAT, "empty recording");
    while (!p.failed && p.pos < len)
        read_chunk(&p, len);
    chunk_reset(&p);
    jfr_mem_free(&p.mem, p.frames, p.cap_frames * sizeof(*p.frames));
    jfr_mem_free(&p.mem, p.resolved, p.cap_resolved * sizeof(*p.resolved));
    jfr_mem_free(&p.mem, p.sums, p.cap_sums * sizeof(*p.sums));
    return p.failed;
}
