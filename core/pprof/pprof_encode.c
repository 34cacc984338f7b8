/* pprof_encode: pp_pprof tree -> serialized pprof, written directly.
 *
 * A nested message needs its length before its bytes. Instead of a sizing
 * pass that would duplicate every writer, each submessage is written with a
 * one-byte length placeholder and, in the rare case its body reached 128
 * bytes or more, moved forward to make room for the longer varint. Fields
 * equal to zero are left out (proto3 defaults), except string_table[0],
 * which readers require to be present. Field order follows profile.proto,
 * as Go's encoder does. */
#include "pprof_internal.h"
#include "pprof_wire.h"

#include <stdlib.h>
#include <string.h>

#define ENC_MIN_CAP 4096

typedef struct enc_buf {
    uint8_t *data;
    size_t len, cap;
    int failed; /* out of memory: every later write is a no-op */
} enc_buf;

static int enc_reserve(enc_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (b->cap - b->len >= extra)
        return 0;
    size_t cap = b->cap ? b->cap : ENC_MIN_CAP;
    while (cap - b->len < extra) {
        if (cap > SIZE_MAX / 2) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    uint8_t *nd = realloc(b->data, cap);
    if (!nd) {
        b->failed = 1;
        return -1;
    }
    b->data = nd;
    b->cap = cap;
    return 0;
}

static void enc_varint(enc_buf *b, uint64_t v)
{
    if (enc_reserve(b, WIRE_MAX_VARINT_BYTES) < 0)
        return;
    b->len += wire_put_varint(b->data + b->len, v);
}

static void enc_tag(enc_buf *b, uint32_t num, unsigned type)
{
    enc_varint(b, wire_tag(num, type));
}

/* A varint field, omitted when zero. */
static void enc_int(enc_buf *b, uint32_t num, uint64_t v)
{
    if (v == 0)
        return;
    enc_tag(b, num, WIRE_VARINT);
    enc_varint(b, v);
}

static void enc_bytes(enc_buf *b, uint32_t num, const void *data, size_t len)
{
    enc_tag(b, num, WIRE_LEN);
    enc_varint(b, len);
    if (enc_reserve(b, len) < 0)
        return;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
}

static void enc_packed(enc_buf *b, uint32_t num, const uint64_t *v, size_t n)
{
    if (n == 0)
        return;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += wire_varint_size(v[i]);
    enc_tag(b, num, WIRE_LEN);
    enc_varint(b, len);
    for (size_t i = 0; i < n; i++)
        enc_varint(b, v[i]);
}

/* Starts submessage `num`; returns where its body begins. */
static size_t enc_begin(enc_buf *b, uint32_t num)
{
    enc_tag(b, num, WIRE_LEN);
    if (enc_reserve(b, 1) < 0)
        return 0;
    b->data[b->len++] = 0;
    return b->len;
}

static void enc_end(enc_buf *b, size_t body)
{
    if (b->failed)
        return;
    size_t len = b->len - body;
    size_t lsize = wire_varint_size(len);
    if (lsize > 1) {
        if (enc_reserve(b, lsize - 1) < 0)
            return;
        memmove(b->data + body + lsize - 1, b->data + body, len);
        b->len += lsize - 1;
    }
    wire_put_varint(b->data + body - 1, len);
}

static void enc_value_type(enc_buf *b, uint32_t num, const pp_value_type *vt)
{
    size_t body = enc_begin(b, num);
    enc_int(b, 1, (uint64_t)vt->type);
    enc_int(b, 2, (uint64_t)vt->unit);
    enc_end(b, body);
}

static void enc_sample(enc_buf *b, const pp_sample *s)
{
    size_t body = enc_begin(b, PROFILE_SAMPLE);
    enc_packed(b, 1, s->location_ids, s->n_location_ids);
    enc_packed(b, 2, (const uint64_t *)s->values, s->n_values);
    for (size_t i = 0; i < s->n_labels; i++) {
        const pp_label *l = &s->labels[i];
        size_t lb = enc_begin(b, 3); /* Sample.label */
        enc_int(b, 1, (uint64_t)l->key);
        enc_int(b, 2, (uint64_t)l->str);
        enc_int(b, 3, (uint64_t)l->num);
        enc_int(b, 4, (uint64_t)l->num_unit);
        enc_end(b, lb);
    }
    enc_end(b, body);
}

static void enc_mapping(enc_buf *b, const pp_mapping *m)
{
    size_t body = enc_begin(b, PROFILE_MAPPING);
    enc_int(b, 1, m->id);
    enc_int(b, 2, m->memory_start);
    enc_int(b, 3, m->memory_limit);
    enc_int(b, 4, m->file_offset);
    enc_int(b, 5, (uint64_t)m->filename);
    enc_int(b, 6, (uint64_t)m->build_id);
    enc_int(b, 7, m->has_functions != 0);
    enc_int(b, 8, m->has_filenames != 0);
    enc_int(b, 9, m->has_line_numbers != 0);
    enc_int(b, 10, m->has_inline_frames != 0);
    enc_end(b, body);
}

static void enc_location(enc_buf *b, const pp_location *l)
{
    size_t body = enc_begin(b, PROFILE_LOCATION);
    enc_int(b, 1, l->id);
    enc_int(b, 2, l->mapping_id);
    enc_int(b, 3, l->address);
    for (size_t i = 0; i < l->n_lines; i++) {
        size_t lb = enc_begin(b, 4); /* Location.line */
        enc_int(b, 1, l->lines[i].function_id);
        enc_int(b, 2, (uint64_t)l->lines[i].line);
        enc_int(b, 3, (uint64_t)l->lines[i].column);
        enc_end(b, lb);
    }
    enc_int(b, 5, l->is_folded != 0);
    enc_end(b, body);
}

static void enc_function(enc_buf *b, const pp_function *f)
{
    size_t body = enc_begin(b, PROFILE_FUNCTION);
    enc_int(b, 1, f->id);
    enc_int(b, 2, (uint64_t)f->name);
    enc_int(b, 3, (uint64_t)f->system_name);
    enc_int(b, 4, (uint64_t)f->filename);
    enc_int(b, 5, (uint64_t)f->start_line);
    enc_end(b, body);
}

int pprof_encode(const pp_pprof *t, uint8_t **out, size_t *out_len)
{
    enc_buf b = {0};
    for (size_t i = 0; i < t->n_sample_types; i++)
        enc_value_type(&b, PROFILE_SAMPLE_TYPE, &t->sample_types[i]);
    for (size_t i = 0; i < t->n_samples; i++)
        enc_sample(&b, &t->samples[i]);
    for (size_t i = 0; i < t->n_mappings; i++)
        enc_mapping(&b, &t->mappings[i]);
    for (size_t i = 0; i < t->n_locations; i++)
        enc_location(&b, &t->locations[i]);
    for (size_t i = 0; i < t->n_functions; i++)
        enc_function(&b, &t->functions[i]);
    if (t->n_strings == 0)
        enc_bytes(&b, PROFILE_STRING_TABLE, "", 0);
    for (size_t i = 0; i < t->n_strings; i++)
        enc_bytes(&b, PROFILE_STRING_TABLE, t->strings[i], pprof_str_len(t, i));
    enc_int(&b, PROFILE_DROP_FRAMES, (uint64_t)t->drop_frames);
    enc_int(&b, PROFILE_KEEP_FRAMES, (uint64_t)t->keep_frames);
    enc_int(&b, PROFILE_TIME_NANOS, (uint64_t)t->time_nanos);
    enc_int(&b, PROFILE_DURATION_NANOS, (uint64_t)t->duration_nanos);
    if (t->period_type.type || t->period_type.unit)
        enc_value_type(&b, PROFILE_PERIOD_TYPE, &t->period_type);
    enc_int(&b, PROFILE_PERIOD, (uint64_t)t->period);
    enc_packed(&b, PROFILE_COMMENT, (const uint64_t *)t->comments, t->n_comments);
    enc_int(&b, PROFILE_DEFAULT_SAMPLE_TYPE, (uint64_t)t->default_sample_type);
    enc_int(&b, PROFILE_DOC_URL, (uint64_t)t->doc_url);
    if (b.failed) {
        free(b.data);
        return -1;
    }
    *out = b.data;
    *out_len = b.len;
    return 0;
}
