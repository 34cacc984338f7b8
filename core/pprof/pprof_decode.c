/* pprof_decode: serialized pprof -> pp_pprof tree, hand-written.
 *
 * Why not protobuf-c's unpack: it allocates one struct per sample, location
 * and line and would need a second copy into plugin.h's plain structs. Here
 * every message is read twice instead: a counting pass sizes its repeated
 * fields, then a filling pass writes straight into arrays allocated once in
 * the profile's arena. No malloc per sample, and the only copy of the data is
 * the one the tree keeps (strings are copied so that the raw bytes can be
 * dropped, NUL-terminated, with the length of those holding NUL bytes kept
 * beside them: see pp_string_lens). Both packed and unpacked encodings of
 * repeated scalars are read, as proto3 requires. Unknown fields are skipped. The structure is
 * checked afterwards by pprof_validate. */
#include "pprof_internal.h"
#include "pprof_wire.h"

#include <stdlib.h>
#include <string.h>

typedef struct decoder {
    arena *a;
    char *err;
    size_t errlen;
} decoder;

static int dec_wire_error(decoder *d, const char *msg, const char *why)
{
    return pprof_errorf(d->err, d->errlen, "bad protobuf: %s: %s", msg, why);
}

static int dec_oom(decoder *d)
{
    return pprof_errorf(d->err, d->errlen, "decode pprof: out of memory");
}

static int dec_expect(decoder *d, const wire_field *f, unsigned type, const char *msg)
{
    if (f->type == type)
        return 0;
    return pprof_errorf(d->err, d->errlen,
                        "bad protobuf: %s field %u has wire type %u, expected %u", msg, f->num,
                        f->type, type);
}

/* Counts the values of a repeated integer field occurrence: one if
 * unpacked, the number of varints in the payload if packed. */
static int count_ints(decoder *d, const wire_field *f, size_t *n, const char *msg)
{
    if (f->type == WIRE_VARINT) {
        (*n)++;
        return 0;
    }
    if (f->type != WIRE_LEN)
        return dec_expect(d, f, WIRE_LEN, msg);
    size_t count = 0;
    for (size_t i = 0; i < f->len; i++)
        if (!(f->data[i] & 0x80))
            count++;
    if (f->len && (f->data[f->len - 1] & 0x80))
        return dec_wire_error(d, msg, "truncated packed varint");
    *n += count;
    return 0;
}

/* Appends the values of one occurrence to out[*i]; out was sized by
 * count_ints so it cannot overflow. */
static int fill_ints(decoder *d, const wire_field *f, uint64_t *out, size_t *i, const char *msg)
{
    if (f->type == WIRE_VARINT) {
        out[(*i)++] = f->v;
        return 0;
    }
    wire_reader r = {f->data, f->data + f->len};
    while (r.p < r.end) {
        if (wire_varint(&r, &out[*i]) < 0)
            return dec_wire_error(d, msg, "bad packed varint");
        (*i)++;
    }
    return 0;
}

/* Reads the next field of message `msg` from r. 0, or -1 with the reason. */
static int dec_next(decoder *d, wire_reader *r, wire_field *f, const char *msg)
{
    const char *why;
    if (wire_next(r, f, &why) < 0)
        return dec_wire_error(d, msg, why);
    return 0;
}

/* Messages made only of integer fields are decoded from a table: field
 * number -> where in the struct the value goes and as what. */
typedef enum scalar_kind { SCALAR_U64, SCALAR_I64, SCALAR_BOOL } scalar_kind;

typedef struct scalar_field {
    uint32_t num;
    scalar_kind kind;
    size_t offset;
} scalar_field;

#define FIELD(num, kind, type, member)                                                             \
    {                                                                                              \
        (num), (kind), offsetof(type, member)                                                      \
    }
#define TABLE_LEN(t) (sizeof(t) / sizeof((t)[0]))

static const scalar_field value_type_fields[] = {
    FIELD(1, SCALAR_I64, pp_value_type, type),
    FIELD(2, SCALAR_I64, pp_value_type, unit),
};
static const scalar_field label_fields[] = {
    FIELD(1, SCALAR_I64, pp_label, key),
    FIELD(2, SCALAR_I64, pp_label, str),
    FIELD(3, SCALAR_I64, pp_label, num),
    FIELD(4, SCALAR_I64, pp_label, num_unit),
};
static const scalar_field mapping_fields[] = {
    FIELD(1, SCALAR_U64, pp_mapping, id),
    FIELD(2, SCALAR_U64, pp_mapping, memory_start),
    FIELD(3, SCALAR_U64, pp_mapping, memory_limit),
    FIELD(4, SCALAR_U64, pp_mapping, file_offset),
    FIELD(5, SCALAR_I64, pp_mapping, filename),
    FIELD(6, SCALAR_I64, pp_mapping, build_id),
    FIELD(7, SCALAR_BOOL, pp_mapping, has_functions),
    FIELD(8, SCALAR_BOOL, pp_mapping, has_filenames),
    FIELD(9, SCALAR_BOOL, pp_mapping, has_line_numbers),
    FIELD(10, SCALAR_BOOL, pp_mapping, has_inline_frames),
};
static const scalar_field line_fields[] = {
    FIELD(1, SCALAR_U64, pp_line, function_id),
    FIELD(2, SCALAR_I64, pp_line, line),
    FIELD(3, SCALAR_I64, pp_line, column),
};
/* Location's field 4 (lines) is a message: decode_location handles it. */
static const scalar_field location_fields[] = {
    FIELD(1, SCALAR_U64, pp_location, id),
    FIELD(2, SCALAR_U64, pp_location, mapping_id),
    FIELD(3, SCALAR_U64, pp_location, address),
    FIELD(5, SCALAR_BOOL, pp_location, is_folded),
};
static const scalar_field function_fields[] = {
    FIELD(1, SCALAR_U64, pp_function, id),          FIELD(2, SCALAR_I64, pp_function, name),
    FIELD(3, SCALAR_I64, pp_function, system_name), FIELD(4, SCALAR_I64, pp_function, filename),
    FIELD(5, SCALAR_I64, pp_function, start_line),
};
static const scalar_field profile_fields[] = {
    FIELD(PROFILE_DROP_FRAMES, SCALAR_I64, pp_pprof, drop_frames),
    FIELD(PROFILE_KEEP_FRAMES, SCALAR_I64, pp_pprof, keep_frames),
    FIELD(PROFILE_TIME_NANOS, SCALAR_I64, pp_pprof, time_nanos),
    FIELD(PROFILE_DURATION_NANOS, SCALAR_I64, pp_pprof, duration_nanos),
    FIELD(PROFILE_PERIOD, SCALAR_I64, pp_pprof, period),
    FIELD(PROFILE_DEFAULT_SAMPLE_TYPE, SCALAR_I64, pp_pprof, default_sample_type),
    FIELD(PROFILE_DOC_URL, SCALAR_I64, pp_pprof, doc_url),
};

/* Stores f into out if the table knows its number: 1 stored, 0 not in the
 * table, -1 wrong wire type. */
static int set_scalar(decoder *d, const wire_field *f, const scalar_field *table, size_t n,
                      void *out, const char *msg)
{
    for (size_t i = 0; i < n; i++) {
        if (table[i].num != f->num)
            continue;
        if (dec_expect(d, f, WIRE_VARINT, msg) < 0)
            return -1;
        void *dst = (uint8_t *)out + table[i].offset;
        switch (table[i].kind) {
        case SCALAR_U64:
            *(uint64_t *)dst = f->v;
            break;
        case SCALAR_I64:
            *(int64_t *)dst = (int64_t)f->v;
            break;
        default:
            *(int *)dst = f->v != 0;
            break;
        }
        return 1;
    }
    return 0;
}

static int decode_scalars(decoder *d, const uint8_t *data, size_t len, const scalar_field *table,
                          size_t n, void *out, const char *msg)
{
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        if (dec_next(d, &r, &f, msg) < 0 || set_scalar(d, &f, table, n, out, msg) < 0)
            return -1;
    }
    return 0;
}

#define DECODE_SCALARS(d, f, table, out, msg)                                                      \
    decode_scalars((d), (f).data, (f).len, (table), TABLE_LEN(table), (out), (msg))

static int decode_sample(decoder *d, const uint8_t *data, size_t len, pp_sample *s)
{
    size_t n_loc = 0, n_val = 0, n_lab = 0;
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        if (dec_next(d, &r, &f, "Sample") < 0)
            return -1;
        int rc = 0;
        if (f.num == 1)
            rc = count_ints(d, &f, &n_loc, "Sample.location_id");
        else if (f.num == 2)
            rc = count_ints(d, &f, &n_val, "Sample.value");
        else if (f.num == 3) {
            rc = dec_expect(d, &f, WIRE_LEN, "Sample");
            n_lab++;
        }
        if (rc < 0)
            return -1;
    }
    s->location_ids = arena_calloc(d->a, n_loc, sizeof(uint64_t));
    s->values = arena_calloc(d->a, n_val, sizeof(int64_t));
    s->labels = n_lab ? arena_calloc(d->a, n_lab, sizeof(pp_label)) : NULL;
    if (!s->location_ids || !s->values || (n_lab && !s->labels))
        return dec_oom(d);
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        if (dec_next(d, &r, &f, "Sample") < 0)
            return -1;
        int rc = 0;
        if (f.num == 1)
            rc = fill_ints(d, &f, s->location_ids, &s->n_location_ids, "Sample.location_id");
        else if (f.num == 2)
            rc = fill_ints(d, &f, (uint64_t *)s->values, &s->n_values, "Sample.value");
        else if (f.num == 3)
            rc = DECODE_SCALARS(d, f, label_fields, &s->labels[s->n_labels++], "Label");
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int decode_location(decoder *d, const uint8_t *data, size_t len, pp_location *l)
{
    size_t n_lines = 0;
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        if (dec_next(d, &r, &f, "Location") < 0)
            return -1;
        if (f.num == 4) {
            if (dec_expect(d, &f, WIRE_LEN, "Location") < 0)
                return -1;
            n_lines++;
        }
    }
    if (n_lines && !(l->lines = arena_calloc(d->a, n_lines, sizeof(pp_line))))
        return dec_oom(d);
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        if (dec_next(d, &r, &f, "Location") < 0)
            return -1;
        int rc;
        if (f.num == 4)
            rc = DECODE_SCALARS(d, f, line_fields, &l->lines[l->n_lines++], "Line");
        else
            rc = set_scalar(d, &f, location_fields, TABLE_LEN(location_fields), l, "Location");
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Per-field element counts of the top-level message. */
typedef struct profile_counts {
    size_t sample_types, samples, mappings, locations, functions, strings, comments;
} profile_counts;

static int profile_count(decoder *d, const uint8_t *data, size_t len, profile_counts *c)
{
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        if (dec_next(d, &r, &f, "Profile") < 0)
            return -1;
        size_t *n = NULL;
        switch (f.num) {
        case PROFILE_SAMPLE_TYPE:
            n = &c->sample_types;
            break;
        case PROFILE_SAMPLE:
            n = &c->samples;
            break;
        case PROFILE_MAPPING:
            n = &c->mappings;
            break;
        case PROFILE_LOCATION:
            n = &c->locations;
            break;
        case PROFILE_FUNCTION:
            n = &c->functions;
            break;
        case PROFILE_STRING_TABLE:
            n = &c->strings;
            break;
        case PROFILE_COMMENT:
            if (count_ints(d, &f, &c->comments, "Profile.comment") < 0)
                return -1;
            continue;
        default:
            continue;
        }
        if (dec_expect(d, &f, WIRE_LEN, "Profile") < 0)
            return -1;
        (*n)++;
    }
    return 0;
}

static int profile_alloc_arrays(decoder *d, const profile_counts *c, pp_pprof *t)
{
    arena *a = d->a;
    t->sample_types = arena_calloc(a, c->sample_types, sizeof(pp_value_type));
    t->samples = arena_calloc(a, c->samples, sizeof(pp_sample));
    t->mappings = arena_calloc(a, c->mappings, sizeof(pp_mapping));
    t->locations = arena_calloc(a, c->locations, sizeof(pp_location));
    t->functions = arena_calloc(a, c->functions, sizeof(pp_function));
    t->strings = arena_calloc(a, c->strings ? c->strings : 1, sizeof(char *));
    t->comments = arena_calloc(a, c->comments, sizeof(int64_t));
    if (!t->sample_types || !t->samples || !t->mappings || !t->locations || !t->functions ||
        !t->strings || !t->comments)
        return dec_oom(d);
    return 0;
}

static int profile_fill(decoder *d, const uint8_t *data, size_t len, pp_pprof *t)
{
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        if (dec_next(d, &r, &f, "Profile") < 0)
            return -1;
        int rc = set_scalar(d, &f, profile_fields, TABLE_LEN(profile_fields), t, "Profile");
        if (rc != 0) {
            if (rc < 0)
                return -1;
            continue;
        }
        switch (f.num) {
        case PROFILE_SAMPLE_TYPE:
            rc = DECODE_SCALARS(d, f, value_type_fields, &t->sample_types[t->n_sample_types++],
                                "ValueType");
            break;
        case PROFILE_SAMPLE:
            rc = decode_sample(d, f.data, f.len, &t->samples[t->n_samples++]);
            break;
        case PROFILE_MAPPING:
            rc = DECODE_SCALARS(d, f, mapping_fields, &t->mappings[t->n_mappings++], "Mapping");
            break;
        case PROFILE_LOCATION:
            rc = decode_location(d, f.data, f.len, &t->locations[t->n_locations++]);
            break;
        case PROFILE_FUNCTION:
            rc = DECODE_SCALARS(d, f, function_fields, &t->functions[t->n_functions++], "Function");
            break;
        case PROFILE_STRING_TABLE: {
            char *s = arena_strndup(d->a, (const char *)f.data, f.len);
            if (!s)
                return dec_oom(d);
            t->strings[t->n_strings] = s;
            if (memchr(s, 0, f.len) && pprof_str_len_set(d->a, t, t->n_strings, f.len) < 0)
                return dec_oom(d);
            t->n_strings++;
            break;
        }
        case PROFILE_PERIOD_TYPE:
            if ((rc = dec_expect(d, &f, WIRE_LEN, "Profile")) == 0)
                rc = DECODE_SCALARS(d, f, value_type_fields, &t->period_type, "ValueType");
            break;
        case PROFILE_COMMENT:
            rc = fill_ints(d, &f, (uint64_t *)t->comments, &t->n_comments, "Profile.comment");
            break;
        default:
            break;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

int pprof_decode(arena *a, const uint8_t *data, size_t len, pp_pprof *out, char *err, size_t errlen)
{
    decoder d = {a, err, errlen};
    memset(out, 0, sizeof(*out));
    if (len == 0)
        return pprof_errorf(err, errlen, "empty profile (0 bytes)");
    profile_counts c = {0};
    if (profile_count(&d, data, len, &c) < 0)
        return -1;
    if (c.sample_types > PPROF_MAX_SAMPLE_TYPES)
        return pprof_errorf(err, errlen, "more than %d sample types (%zu)", PPROF_MAX_SAMPLE_TYPES,
                            c.sample_types);
    if (profile_alloc_arrays(&d, &c, out) < 0 || profile_fill(&d, data, len, out) < 0)
        return -1;
    return pprof_validate(out, err, errlen);
}

int pprof_decode_any(arena *a, const uint8_t *data, size_t len, pp_pprof *out, char *err,
                     size_t errlen)
{
    if (!gz_is_gzip(data, len))
        return pprof_decode(a, data, len, out, err, errlen);
    uint8_t *plain;
    size_t plain_len;
    if (gz_gunzip(data, len, PROFILE_MAX_DECOMPRESSED, &plain, &plain_len, NULL, err, errlen) < 0)
        return -1;
    int rc = pprof_decode(a, plain, plain_len, out, err, errlen);
    free(plain);
    return rc;
}
