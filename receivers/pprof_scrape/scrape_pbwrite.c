/* scrape_pbwrite: a viewed pprof written again with new sample values
 * and without what no kept sample names (see scrape_pbview.h).
 *
 * Every field comes through as its bytes were, but for: the samples
 * (the kept ones with their new values, packed after their other
 * fields); the locations and functions no kept sample reaches; the
 * strings nothing kept names; and the duration. Dropping strings
 * renumbers the rest, so the fields that hold a string index (of sample
 * and period types, labels, functions, mappings, the profile's own and
 * its comments) are written with the new numbers, the rest of their
 * messages as they were. A field a decoder reads only the last of
 * (a repeated scalar) may hold an index the view did not check in its
 * earlier copies: those become 0, the empty string. */
#include <stdlib.h>
#include <string.h>

#include "protowire.h"
#include "scrape_pbview.h"

/* Fields (as bits, 1 << number) that hold string indexes. */
#define BIT(n) (1u << (n))
#define VALUE_TYPE_STRS (BIT(1) | BIT(2))
#define LABEL_STRS (BIT(1) | BIT(2) | BIT(4))
#define MAPPING_STRS (BIT(5) | BIT(6))
#define FUNCTION_STRS (BIT(2) | BIT(3) | BIT(4))
#define PROFILE_STRS (BIT(7) | BIT(8) | BIT(14) | BIT(15))
enum { PB_MAPPING = 3, PB_PERIOD_TYPE = 11, PB_COMMENT = 13 };
/* remap's mark for a string left out */
#define DROPPED UINT32_MAX

/* A growing output buffer; a failed allocation sticks. */
typedef struct obuf {
    uint8_t *p;
    size_t n, cap;
    int failed;
} obuf;

static void ob_put(obuf *o, const void *src, size_t n)
{
    if (o->failed || n == 0)
        return;
    if (n > o->cap - o->n) {
        size_t cap = o->cap ? o->cap : 256;
        while (n > cap - o->n)
            cap *= 2;
        uint8_t *p = realloc(o->p, cap);
        if (!p) {
            o->failed = 1;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->n, src, n);
    o->n += n;
}

static void ob_varint(obuf *o, uint64_t v)
{
    uint8_t b[WIRE_MAX_VARINT_BYTES];
    ob_put(o, b, wire_put_varint(b, v));
}

/* A length-delimited field holding msg's bytes. */
static void ob_message(obuf *o, uint32_t field, const obuf *msg)
{
    ob_varint(o, wire_tag(field, WIRE_LEN));
    ob_varint(o, msg->n);
    ob_put(o, msg->p, msg->n);
    o->failed |= msg->failed;
}

typedef struct writer {
    const pbview *v;
    const uint32_t *remap; /* old string index -> new; NULL: unchanged */
    obuf out, msg, sub;    /* the profile; a message being built; one inside it */
} writer;

static uint64_t new_index(const writer *w, uint64_t idx)
{
    if (!w->remap)
        return idx;
    return idx < w->v->n_strings && w->remap[idx] != DROPPED ? w->remap[idx] : 0;
}

/* The fields of a message (data), those in strs with their string index
 * renumbered, the rest as they were. */
static void put_fields(writer *w, obuf *o, const uint8_t *data, size_t len, uint32_t strs)
{
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        const uint8_t *at = r.p;
        const char *why;
        wire_field f;
        if (wire_next(&r, &f, &why) < 0)
            return;
        if (f.num < 32 && (strs & BIT(f.num)) && f.type == WIRE_VARINT && w->remap) {
            ob_varint(o, wire_tag(f.num, WIRE_VARINT));
            ob_varint(o, new_index(w, f.v));
        } else {
            ob_put(o, at, (size_t)(r.p - at));
        }
    }
}

/* A message field, its string indexes renumbered. */
static void put_message(writer *w, uint32_t field, const wire_field *f, uint32_t strs)
{
    w->msg.n = 0;
    put_fields(w, &w->msg, f->data, f->len, strs);
    ob_message(&w->out, field, &w->msg);
}

/* A kept sample: its locations and other fields as they were, its labels
 * renumbered, its values (packed, last) new. */
static void put_sample(writer *w, const wire_field *sample, const int64_t *values)
{
    size_t j, packed = 0;
    w->msg.n = 0;
    for (wire_reader r = {sample->data, sample->data + sample->len}; r.p < r.end;) {
        const uint8_t *at = r.p;
        const char *why;
        wire_field f;
        if (wire_next(&r, &f, &why) < 0)
            break;
        if (f.num == 2)
            continue;
        if (f.num == 3 && f.type == WIRE_LEN && w->remap) {
            w->sub.n = 0;
            put_fields(w, &w->sub, f.data, f.len, LABEL_STRS);
            ob_message(&w->msg, 3, &w->sub);
        } else {
            ob_put(&w->msg, at, (size_t)(r.p - at));
        }
    }
    for (j = 0; j < w->v->n_types; j++)
        packed += wire_varint_size((uint64_t)values[j]);
    if (packed) {
        ob_varint(&w->msg, wire_tag(2, WIRE_LEN));
        ob_varint(&w->msg, packed);
        for (j = 0; j < w->v->n_types; j++)
            ob_varint(&w->msg, (uint64_t)values[j]);
    }
    ob_message(&w->out, PB_SAMPLE, &w->msg);
}

/* ---- which strings stay ---- */

static void mark(const pbview *v, unsigned char *used, uint64_t idx)
{
    if (idx < v->n_strings)
        used[idx] = 1;
}

/* Marks the string indexes in strs of a message's fields. */
static void mark_fields(const pbview *v, unsigned char *used, const uint8_t *data, size_t len,
                        uint32_t strs)
{
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        const char *why;
        wire_field f;
        if (wire_next(&r, &f, &why) < 0)
            return;
        if (f.num < 32 && (strs & BIT(f.num)) && f.type == WIRE_VARINT)
            mark(v, used, f.v);
    }
}

static void mark_ints(const pbview *v, unsigned char *used, const wire_field *f)
{
    if (f->type == WIRE_VARINT) {
        mark(v, used, f->v);
        return;
    }
    for (wire_reader r = {f->data, f->data + f->len}; r.p < r.end;) {
        uint64_t x;
        if (wire_varint(&r, &x) < 0)
            return;
        mark(v, used, x);
    }
}

/* The strings what is kept names; returns old index -> new (NULL when
 * out of memory). */
static uint32_t *string_remap(const pbview *v, const unsigned char *keep,
                              const unsigned char *fn_used)
{
    unsigned char *used = calloc(v->n_strings ? v->n_strings : 1, 1);
    uint32_t *remap = malloc((v->n_strings ? v->n_strings : 1) * sizeof *remap);
    size_t i = 0, k = 0;
    uint32_t next = 0;
    if (!used || !remap) {
        free(used);
        free(remap);
        return NULL;
    }
    used[0] = 1;
    for (wire_reader r = {v->buf, v->buf + v->len}; r.p < r.end;) {
        const char *why;
        wire_field f;
        if (wire_next(&r, &f, &why) < 0)
            break;
        if (f.num == PB_SAMPLE_TYPE || f.num == PB_PERIOD_TYPE)
            mark_fields(v, used, f.data, f.len, VALUE_TYPE_STRS);
        else if (f.num == PB_MAPPING)
            mark_fields(v, used, f.data, f.len, MAPPING_STRS);
        else if (f.num == PB_FUNCTION && fn_used[k++])
            mark_fields(v, used, f.data, f.len, FUNCTION_STRS);
        else if (f.num == PB_COMMENT)
            mark_ints(v, used, &f);
        else if (f.num < 32 && (PROFILE_STRS & BIT(f.num)))
            mark(v, used, f.v);
        else if (f.num == PB_SAMPLE && keep[i++])
            for (wire_reader s = {f.data, f.data + f.len}; s.p < s.end;) {
                wire_field g;
                if (wire_next(&s, &g, &why) < 0)
                    break;
                if (g.num == 3 && g.type == WIRE_LEN)
                    mark_fields(v, used, g.data, g.len, LABEL_STRS);
            }
    }
    for (i = 0; i < v->n_strings; i++)
        remap[i] = used[i] ? next++ : DROPPED;
    free(used);
    return remap;
}

/* ---- the profile ---- */

/* One top-level field (its bytes at..end) written again. */
static void put_field(writer *w, const wire_field *f, const uint8_t *at, const uint8_t *end)
{
    if (!w->remap) {
        ob_put(&w->out, at, (size_t)(end - at));
    } else if (f->num == PB_SAMPLE_TYPE || f->num == PB_PERIOD_TYPE) {
        put_message(w, f->num, f, VALUE_TYPE_STRS);
    } else if (f->num == PB_MAPPING) {
        put_message(w, f->num, f, MAPPING_STRS);
    } else if (f->num == PB_FUNCTION) {
        put_message(w, f->num, f, FUNCTION_STRS);
    } else if (f->num == PB_COMMENT && f->type == WIRE_VARINT) {
        ob_varint(&w->out, wire_tag(PB_COMMENT, WIRE_VARINT));
        ob_varint(&w->out, new_index(w, f->v));
    } else if (f->num == PB_COMMENT) { /* packed: written as one varint each */
        for (wire_reader r = {f->data, f->data + f->len}; r.p < r.end;) {
            uint64_t x;
            if (wire_varint(&r, &x) < 0)
                break;
            ob_varint(&w->out, wire_tag(PB_COMMENT, WIRE_VARINT));
            ob_varint(&w->out, new_index(w, x));
        }
    } else if (f->num < 32 && (PROFILE_STRS & BIT(f->num)) && f->type == WIRE_VARINT) {
        ob_varint(&w->out, wire_tag(f->num, WIRE_VARINT));
        ob_varint(&w->out, new_index(w, f->v));
    } else {
        ob_put(&w->out, at, (size_t)(end - at));
    }
}

int pbview_write(const pbview *v, const pbview_kept *kept, pbview_values_fn values, void *ctx,
                 int64_t duration, uint8_t **out, size_t *out_len)
{
    writer w = {v, NULL, {0}, {0}, {0}};
    int64_t vals[PBVIEW_MAX_TYPES];
    size_t i = 0, nl = 0, nf = 0, ns = 0;
    if (kept->dropped && !(w.remap = string_remap(v, kept->sample, kept->function)))
        return -1;
    for (wire_reader r = {v->buf, v->buf + v->len}; r.p < r.end;) {
        const uint8_t *at = r.p;
        const char *why;
        wire_field f;
        if (wire_next(&r, &f, &why) < 0)
            break;
        if (f.num == PB_SAMPLE) {
            if (kept->sample[i]) {
                pbview_sample_values(v, f.data, f.len, vals);
                values(ctx, i, kept->sample[i], vals);
                put_sample(&w, &f, vals);
            }
            i++;
        } else if (f.num == PB_LOCATION) {
            if (!kept->dropped || kept->location[nl])
                ob_put(&w.out, at, (size_t)(r.p - at));
            nl++;
        } else if (f.num == PB_FUNCTION) {
            if (!kept->dropped || kept->function[nf])
                put_field(&w, &f, at, r.p);
            nf++;
        } else if (f.num == PB_STRING) {
            if (!w.remap || w.remap[ns] != DROPPED)
                ob_put(&w.out, at, (size_t)(r.p - at));
            ns++;
        } else if (f.num != PB_DURATION) {
            put_field(&w, &f, at, r.p);
        }
    }
    ob_varint(&w.out, wire_tag(PB_DURATION, WIRE_VARINT));
    ob_varint(&w.out, (uint64_t)duration);
    free((void *)w.remap);
    free(w.msg.p);
    free(w.sub.p);
    if (w.out.failed || w.msg.failed || w.sub.failed) {
        free(w.out.p);
        return -1;
    }
    *out = w.out.p;
    *out_len = w.out.n;
    return 0;
}
