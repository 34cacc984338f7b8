/* pprof_decode: serialized pprof -> pp_pprof tree, hand-written.
 *
 * Why not protobuf-c's unpack: it allocates one struct per sample, location
 * and line and would need a second copy into plugin.h's plain structs. Here
 * every message is read twice instead: a counting pass sizes its repeated
 * fields, then a filling pass writes straight into arrays allocated once in
 * the profile's arena. No malloc per sample, and the only copy of the data is
 * the one the tree keeps (strings are copied so that the raw bytes can be
 * dropped). Both packed and unpacked encodings of repeated scalars are read,
 * as proto3 requires. Unknown fields are skipped. The structure is checked
 * afterwards by pprof_validate. */
#include "pprof_internal.h"
#include "pprof_wire.h"

#include <stdlib.h>
#include <string.h>

/* Profile field numbers (proto/profile.proto) */
enum {
    PROFILE_SAMPLE_TYPE = 1,
    PROFILE_SAMPLE = 2,
    PROFILE_MAPPING = 3,
    PROFILE_LOCATION = 4,
    PROFILE_FUNCTION = 5,
    PROFILE_STRING_TABLE = 6,
    PROFILE_DROP_FRAMES = 7,
    PROFILE_KEEP_FRAMES = 8,
    PROFILE_TIME_NANOS = 9,
    PROFILE_DURATION_NANOS = 10,
    PROFILE_PERIOD_TYPE = 11,
    PROFILE_PERIOD = 12,
    PROFILE_COMMENT = 13,
    PROFILE_DEFAULT_SAMPLE_TYPE = 14,
    PROFILE_DOC_URL = 15,
};

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
                        "bad protobuf: %s field %u has wire type %u, expected %u", msg,
                        f->num, f->type, type);
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
static int fill_ints(decoder *d, const wire_field *f, uint64_t *out, size_t *i,
                     const char *msg)
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

static int decode_value_type(decoder *d, const uint8_t *data, size_t len,
                             pp_value_type *vt)
{
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        if (dec_next(d, &r, &f, "ValueType") < 0)
            return -1;
        if (f.num > 2)
            continue;
        if (dec_expect(d, &f, WIRE_VARINT, "ValueType") < 0)
            return -1;
        if (f.num == 1)
            vt->type = (int64_t)f.v;
        else
            vt->unit = (int64_t)f.v;
    }
    return 0;
}

static int decode_label(decoder *d, const uint8_t *data, size_t len, pp_label *l)
{
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        if (dec_next(d, &r, &f, "Label") < 0)
            return -1;
        if (f.num > 4)
            continue;
        if (dec_expect(d, &f, WIRE_VARINT, "Label") < 0)
            return -1;
        int64_t v = (int64_t)f.v;
        switch (f.num) {
        case 1: l->key = v; break;
        case 2: l->str = v; break;
        case 3: l->num = v; break;
        default: l->num_unit = v; break;
        }
    }
    return 0;
}

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
            rc = fill_ints(d, &f, s->location_ids, &s->n_location_ids,
                           "Sample.location_id");
        else if (f.num == 2)
            rc = fill_ints(d, &f, (uint64_t *)s->values, &s->n_values, "Sample.value");
        else if (f.num == 3)
            rc = decode_label(d, f.data, f.len, &s->labels[s->n_labels++]);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int decode_mapping(decoder *d, const uint8_t *data, size_t len, pp_mapping *m)
{
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        if (dec_next(d, &r, &f, "Mapping") < 0)
            return -1;
        if (f.num > 10)
            continue;
        if (dec_expect(d, &f, WIRE_VARINT, "Mapping") < 0)
            return -1;
        switch (f.num) {
        case 1: m->id = f.v; break;
        case 2: m->memory_start = f.v; break;
        case 3: m->memory_limit = f.v; break;
        case 4: m->file_offset = f.v; break;
        case 5: m->filename = (int64_t)f.v; break;
        case 6: m->build_id = (int64_t)f.v; break;
        case 7: m->has_functions = f.v != 0; break;
        case 8: m->has_filenames = f.v != 0; break;
        case 9: m->has_line_numbers = f.v != 0; break;
        default: m->has_inline_frames = f.v != 0; break;
        }
    }
    return 0;
}

static int decode_line(decoder *d, const uint8_t *data, size_t len, pp_line *l)
{
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        if (dec_next(d, &r, &f, "Line") < 0)
            return -1;
        if (f.num > 3)
            continue;
        if (dec_expect(d, &f, WIRE_VARINT, "Line") < 0)
            return -1;
        if (f.num == 1)
            l->function_id = f.v;
        else if (f.num == 2)
            l->line = (int64_t)f.v;
        else
            l->column = (int64_t)f.v;
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
        if (f.num > 5)
            continue;
        if (f.num == 4) {
            if (decode_line(d, f.data, f.len, &l->lines[l->n_lines++]) < 0)
                return -1;
            continue;
        }
        if (dec_expect(d, &f, WIRE_VARINT, "Location") < 0)
            return -1;
        if (f.num == 1)
            l->id = f.v;
        else if (f.num == 2)
            l->mapping_id = f.v;
        else if (f.num == 3)
            l->address = f.v;
        else
            l->is_folded = f.v != 0;
    }
    return 0;
}

static int decode_function(decoder *d, const uint8_t *data, size_t len, pp_function *fn)
{
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        if (dec_next(d, &r, &f, "Function") < 0)
            return -1;
        if (f.num > 5)
            continue;
        if (dec_expect(d, &f, WIRE_VARINT, "Function") < 0)
            return -1;
        switch (f.num) {
        case 1: fn->id = f.v; break;
        case 2: fn->name = (int64_t)f.v; break;
        case 3: fn->system_name = (int64_t)f.v; break;
        case 4: fn->filename = (int64_t)f.v; break;
        default: fn->start_line = (int64_t)f.v; break;
        }
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
        case PROFILE_SAMPLE_TYPE: n = &c->sample_types; break;
        case PROFILE_SAMPLE: n = &c->samples; break;
        case PROFILE_MAPPING: n = &c->mappings; break;
        case PROFILE_LOCATION: n = &c->locations; break;
        case PROFILE_FUNCTION: n = &c->functions; break;
        case PROFILE_STRING_TABLE: n = &c->strings; break;
        case PROFILE_COMMENT:
            if (count_ints(d, &f, &c->comments, "Profile.comment") < 0)
                return -1;
            continue;
        default: continue;
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
    if (!t->sample_types || !t->samples || !t->mappings || !t->locations ||
        !t->functions || !t->strings || !t->comments)
        return dec_oom(d);
    return 0;
}

/* Scalar top-level fields; 1 if f was one of them, 0 if not, -1 on error. */
static int profile_scalar(decoder *d, const wire_field *f, pp_pprof *t)
{
    int64_t *dst;
    switch (f->num) {
    case PROFILE_DROP_FRAMES: dst = &t->drop_frames; break;
    case PROFILE_KEEP_FRAMES: dst = &t->keep_frames; break;
    case PROFILE_TIME_NANOS: dst = &t->time_nanos; break;
    case PROFILE_DURATION_NANOS: dst = &t->duration_nanos; break;
    case PROFILE_PERIOD: dst = &t->period; break;
    case PROFILE_DEFAULT_SAMPLE_TYPE: dst = &t->default_sample_type; break;
    case PROFILE_DOC_URL: dst = &t->doc_url; break;
    default: return 0;
    }
    if (dec_expect(d, f, WIRE_VARINT, "Profile") < 0)
        return -1;
    *dst = (int64_t)f->v;
    return 1;
}

static int profile_fill(decoder *d, const uint8_t *data, size_t len, pp_pprof *t)
{
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        if (dec_next(d, &r, &f, "Profile") < 0)
            return -1;
        int rc = profile_scalar(d, &f, t);
        if (rc != 0) {
            if (rc < 0)
                return -1;
            continue;
        }
        switch (f.num) {
        case PROFILE_SAMPLE_TYPE:
            rc = decode_value_type(d, f.data, f.len, &t->sample_types[t->n_sample_types++]);
            break;
        case PROFILE_SAMPLE:
            rc = decode_sample(d, f.data, f.len, &t->samples[t->n_samples++]);
            break;
        case PROFILE_MAPPING:
            rc = decode_mapping(d, f.data, f.len, &t->mappings[t->n_mappings++]);
            break;
        case PROFILE_LOCATION:
            rc = decode_location(d, f.data, f.len, &t->locations[t->n_locations++]);
            break;
        case PROFILE_FUNCTION:
            rc = decode_function(d, f.data, f.len, &t->functions[t->n_functions++]);
            break;
        case PROFILE_STRING_TABLE: {
            char *s = arena_strndup(d->a, (const char *)f.data, f.len);
            if (!s)
                return dec_oom(d);
            t->strings[t->n_strings++] = s;
            break;
        }
        case PROFILE_PERIOD_TYPE:
            if ((rc = dec_expect(d, &f, WIRE_LEN, "Profile")) == 0)
                rc = decode_value_type(d, f.data, f.len, &t->period_type);
            break;
        case PROFILE_COMMENT:
            rc = fill_ints(d, &f, (uint64_t *)t->comments, &t->n_comments,
                           "Profile.comment");
            break;
        default:
            break;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

int pprof_decode(arena *a, const uint8_t *data, size_t len, pp_pprof *out, char *err,
                 size_t errlen)
{
    decoder d = {a, err, errlen};
    memset(out, 0, sizeof(*out));
    if (len == 0)
        return pprof_errorf(err, errlen, "empty profile (0 bytes)");
    profile_counts c = {0};
    if (profile_count(&d, data, len, &c) < 0 || profile_alloc_arrays(&d, &c, out) < 0 ||
        profile_fill(&d, data, len, out) < 0)
        return -1;
    return pprof_validate(out, err, errlen);
}

int pprof_decode_any(arena *a, const uint8_t *data, size_t len, pp_pprof *out, char *err,
                     size_t errlen)
{
    if (!(len >= 2 && data[0] == 0x1f && data[1] == 0x8b))
        return pprof_decode(a, data, len, out, err, errlen);
    uint8_t *plain;
    size_t plain_len;
    if (gz_gunzip(data, len, PROFILE_MAX_DECOMPRESSED, &plain, &plain_len, err, errlen) < 0)
        return -1;
    int rc = pprof_decode(a, plain, plain_len, out, err, errlen);
    free(plain);
    return rc;
}

static int scan_time_plain(const uint8_t *data, size_t len, int64_t *time_nanos,
                           int64_t *duration_nanos, char *err, size_t errlen)
{
    decoder d = {NULL, err, errlen};
    if (len == 0)
        return pprof_errorf(err, errlen, "empty profile (0 bytes)");
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        if (dec_next(&d, &r, &f, "Profile") < 0)
            return -1;
        if (f.num == PROFILE_TIME_NANOS && f.type == WIRE_VARINT)
            *time_nanos = (int64_t)f.v;
        else if (f.num == PROFILE_DURATION_NANOS && f.type == WIRE_VARINT)
            *duration_nanos = (int64_t)f.v;
    }
    return 0;
}

int pprof_scan_time(const uint8_t *data, size_t len, int64_t *time_nanos,
                    int64_t *duration_nanos, char *err, size_t errlen)
{
    *time_nanos = *duration_nanos = 0;
    if (!(len >= 2 && data[0] == 0x1f && data[1] == 0x8b))
        return scan_time_plain(data, len, time_nanos, duration_nanos, err, errlen);
    uint8_t *plain;
    size_t plain_len;
    if (gz_gunzip(data, len, PROFILE_MAX_DECOMPRESSED, &plain, &plain_len, err, errlen) < 0)
        return -1;
    int rc = scan_time_plain(plain, plain_len, time_nanos, duration_nanos, err, errlen);
    free(plain);
    return rc;
}
