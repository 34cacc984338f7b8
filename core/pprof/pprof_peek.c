/* pprof_peek: what a label-only path needs from a pprof, in one streaming
 * pass with a fixed buffer: its plain size, the sample types with their
 * type and unit strings (for __name__ and the sender's display names),
 * time_nanos and duration_nanos, and every check that needs no more
 * memory than a few counters.
 *
 * The gzip'd bytes are inflated through pprof_stream's fixed buffer and
 * walked by lib/protowire's streaming reader, one stream per nesting
 * level (Profile, then a Sample, Mapping, Location, Function or ValueType,
 * then a Sample's Label or a Location's Line), each handing the next one the payload of its
 * length-delimited fields piece by piece. Nothing is kept per sample,
 * location or string: the sample types' string indexes are recorded as
 * they stream by (at most PPROF_MAX_SAMPLE_TYPES of them), and the strings
 * they name are captured when the string table reaches them; every other
 * string index only raises the largest index seen, compared with the
 * table's size at the end. Go writes string_table after the samples and
 * sample_type first; an encoder that writes a sample_type after the
 * string it names gets a second pass that only captures strings.
 *
 * Checked here, as pprof_decode would: the wire format at every level,
 * the wire type of every known field,
 * string indexes (sample types, period type, sample labels, mappings,
 * functions, comments, drop/keep frames, default sample type, doc url)
 * against the table's size, string_table[0] == "", non-zero mapping,
 * location and function ids, one value per sample type in every sample.
 * Ids (duplicates, and that the ids a sample, location or line names
 * exist) are checked as the decoder checks them while they are numbered
 * 1..n, as every writer known here numbers them: a bitmap of the ids
 * seen (a bit each, none kept for an id far past the count), and the
 * lowest and highest id each kind of reference names. A profile whose
 * ids are not 1..n is decoded once more, whole, to be judged: the
 * answer is always the decoder's. */
#include "pprof_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pprof_wire.h"

#define PEEK_MAX_TYPE_NAME 256 /* bytes of a sample type string kept (a longer type: 400) */
#define PEEK_STRING0_QUOTED 40 /* bytes of a non-empty string_table[0] quoted */

/* Nested messages the peek walks. */
typedef enum peek_msg {
    MSG_NONE,
    MSG_SAMPLE_TYPE,
    MSG_PERIOD_TYPE,
    MSG_SAMPLE,
    MSG_MAPPING,
    MSG_LOCATION,
    MSG_FUNCTION,
    MSG_COMMENTS, /* packed comment string indexes */
    MSG_STRING,
} peek_msg;

/* A string the peek needs, by its index. */
typedef struct wanted_string {
    int64_t index;
    size_t len;  /* bytes seen; kept up to PEEK_MAX_TYPE_NAME */
    int is_type; /* a sample type's type (else only a unit: cut at the limit) */
    char text[PEEK_MAX_TYPE_NAME + 1];
} wanted_string;

/* The ids of one kind of message (mapping, location, function), while
 * they are dense: a bit per id up to the highest. An id far past the
 * count of messages so far makes them `sparse` (the bitmap is let go and
 * the profile is decoded to be judged). */
typedef struct peek_ids {
    uint64_t *bits;
    size_t words;
    size_t count;
    uint64_t max;
    int sparse;
    int have_dup;
    uint64_t dup; /* the first id seen twice */
} peek_ids;

/* The ids one kind of reference names: how many, the lowest, the highest. */
typedef struct peek_refs {
    size_t n;
    uint64_t min, max;
    size_t max_at; /* the message naming the highest */
} peek_refs;

/* Packed varints that arrive in pieces. */
typedef struct packed {
    uint64_t acc;
    unsigned shift;
    size_t count;
} packed;

typedef struct peek {
    char *err;
    size_t errlen;
    int failed;       /* err holds the reason */
    int capture_only; /* second pass: sample types already known */

    wire_stream top;
    wire_stream sub;   /* the message of a Profile field */
    wire_stream inner; /* a Sample's Label or a Location's Line */
    peek_msg msg;
    size_t index[MSG_STRING + 1]; /* occurrences of each message so far */

    /* the message under way */
    int64_t vt_type, vt_unit;
    int has_id;
    /* singular string-index fields, the last occurrence of each (as
     * protobuf reads them), by field number, checked when the message ends */
    uint64_t sub_str[8], inner_str[8], top_str[16];
    unsigned sub_seen, inner_seen, top_seen;
    /* period_type, a singular message: protobuf merges its occurrences,
     * so its fields are the last of each over all of them */
    uint64_t period_str[3];
    unsigned period_seen;
    size_t n_values;
    packed pk; /* a packed field of the sample or the comments */
    uint64_t pk_field;

    /* what the profile says */
    int64_t time_nanos, duration_nanos;
    size_t n_sample_types;
    int64_t types[PPROF_MAX_SAMPLE_TYPES][2];
    size_t n_strings;
    size_t string0_len;
    char string0[PEEK_STRING0_QUOTED + 1];
    wanted_string wanted[2 * PPROF_MAX_SAMPLE_TYPES];
    size_t n_wanted;
    wanted_string *capturing; /* the string under way, when wanted */
    int late_type;            /* a sample type named a string already passed */

    /* checks made at the end */
    uint64_t max_index; /* largest string index seen, as unsigned (negative = huge) */
    const char *max_what;
    size_t max_at;
    int have_index;
    size_t first_values, n_samples; /* values of sample 0 */
    size_t odd_sample, odd_values;  /* the first sample with another count */
    int have_odd;
    const char *zero_id_what; /* the first message with id 0 */
    size_t zero_id_at;
    uint64_t cur_id;        /* of the mapping, location or function under way */
    uint64_t cur_mapping;   /* the location's mapping_id (the last one written) */
    uint64_t cur_function;  /* the line's function_id (the last one written) */
    peek_ids ids[3];        /* mappings, locations, functions */
    peek_refs sample_locs;  /* a sample's location ids (0 included) */
    peek_refs loc_mappings; /* a location's mapping_id, when not 0 */
    peek_refs line_funcs;   /* a line's function_id, when not 0 */
} peek;

enum { IDS_MAPPING, IDS_LOCATION, IDS_FUNCTION };
/* An id past 8 per message so far plus this is taken for sparse ids. */
#define PEEK_IDS_SLACK 4096

static int peek_fail(peek *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int peek_fail(peek *k, const char *fmt, ...)
{
    if (!k->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(k->err, k->errlen, fmt, ap);
        va_end(ap);
        k->failed = 1;
    }
    return -1;
}

/* A string index seen in field `what` of occurrence `at`. */
static void see_index(peek *k, uint64_t v, const char *what, size_t at)
{
    if (!k->have_index || v > k->max_index) {
        k->max_index = v;
        k->max_what = what;
        k->max_at = at;
        k->have_index = 1;
    }
}

/* Checks the singular string-index fields of a message that ended:
 * names[f] is field f's name (NULL: not a string index). */
static void see_last(peek *k, const uint64_t *last, unsigned seen, const char *const *names,
                     size_t n_names, size_t at)
{
    for (size_t f = 0; f < n_names; f++)
        if (names[f] && (seen & (1u << f)))
            see_index(k, last[f], names[f], at);
}

/* Expected wire type of a known field: -1 any (unknown field), or the
 * type; packable repeated integers accept both VARINT and LEN. */
#define PACKABLE (-2)

static int check_type(peek *k, const char *msg, uint64_t field, unsigned type, int want)
{
    if (want == -1 || (unsigned)want == type ||
        (want == PACKABLE && (type == WIRE_VARINT || type == WIRE_LEN)))
        return 0;
    return peek_fail(k, "bad protobuf: %s field %llu has wire type %u, expected %u", msg,
                     (unsigned long long)field, type, want == PACKABLE ? WIRE_VARINT : want);
}

/* ---------------- ids and references ---------------- */

/* The bitmap is let go: the decoder judges these ids. */
static void ids_sparse(peek_ids *d)
{
    d->sparse = 1;
    free(d->bits);
    d->bits = NULL;
    d->words = 0;
}

static void ids_add(peek_ids *d, uint64_t id)
{
    d->count++;
    if (id > d->max)
        d->max = id;
    if (d->sparse)
        return;
    if (id > 8 * (uint64_t)d->count + PEEK_IDS_SLACK) {
        ids_sparse(d);
        return;
    }
    size_t w = (size_t)(id / 64);
    if (w >= d->words) {
        size_t words = d->words ? d->words : 64;
        while (words <= w)
            words *= 2;
        uint64_t *bits = realloc(d->bits, words * sizeof *bits);
        if (!bits) {
            ids_sparse(d);
            return;
        }
        memset(bits + d->words, 0, (words - d->words) * sizeof *bits);
        d->bits = bits;
        d->words = words;
    }
    uint64_t bit = UINT64_C(1) << (id % 64);
    if ((d->bits[w] & bit) && !d->have_dup) {
        d->have_dup = 1;
        d->dup = id;
    }
    d->bits[w] |= bit;
}

static void refs_add(peek_refs *r, uint64_t id, size_t at)
{
    if (r->n == 0 || id < r->min)
        r->min = id;
    if (r->n == 0 || id > r->max) {
        r->max = id;
        r->max_at = at;
    }
    r->n++;
}

static void on_location_ref(peek *k, uint64_t id)
{
    refs_add(&k->sample_locs, id, k->index[MSG_SAMPLE]);
}

/* ---------------- packed varints ---------------- */

/* Feeds packed varints; calls on(k, value) for each. -1 on a varint past
 * 64 bits. */
static int packed_feed(peek *k, packed *pk, const uint8_t *p, size_t n, const char *msg,
                       void (*on)(peek *, uint64_t))
{
    for (size_t i = 0; i < n; i++) {
        if (pk->shift > WIRE_STREAM_MAX_SHIFT)
            return peek_fail(k, "bad protobuf: %s: bad packed varint", msg);
        pk->acc |= (uint64_t)(p[i] & WIRE_VARINT_BITS) << pk->shift;
        pk->shift += 7;
        if (p[i] & WIRE_VARINT_MORE)
            continue;
        if (on)
            on(k, pk->acc);
        pk->count++;
        pk->acc = 0;
        pk->shift = 0;
    }
    return 0;
}

/* packed_feed for a Sample's location ids, the bulk of a profile's
 * bytes: the same steps with the varint and the references' range in
 * locals (refs_add on a copy, which stays in registers), not written
 * back through k after every byte (perf: those stores and loads were
 * most of the pass's time in a 3 MB profile). */
static int packed_locations(peek *k, packed *pk, const uint8_t *p, size_t n)
{
    peek_refs refs = k->sample_locs;
    uint64_t acc = pk->acc;
    unsigned shift = pk->shift;
    size_t count = pk->count, at = k->index[MSG_SAMPLE];
    for (size_t i = 0; i < n; i++) {
        if (shift > WIRE_STREAM_MAX_SHIFT)
            return peek_fail(k, "bad protobuf: Sample: bad packed varint");
        acc |= (uint64_t)(p[i] & WIRE_VARINT_BITS) << shift;
        shift += 7;
        if (p[i] & WIRE_VARINT_MORE)
            continue;
        refs_add(&refs, acc, at);
        count++;
        acc = 0;
        shift = 0;
    }
    *pk = (packed){.acc = acc, .shift = shift, .count = count};
    k->sample_locs = refs;
    return 0;
}

/* packed_feed that only counts (a Sample's location ids and values, the
 * bulk of a profile): no value is built. */
static int packed_count(peek *k, packed *pk, const uint8_t *p, size_t n, const char *msg)
{
    unsigned shift = pk->shift;
    size_t count = pk->count;
    for (size_t i = 0; i < n; i++) {
        if (p[i] & WIRE_VARINT_MORE) {
            shift += 7;
            if (shift > WIRE_STREAM_MAX_SHIFT)
                return peek_fail(k, "bad protobuf: %s: bad packed varint", msg);
        } else {
            shift = 0;
            count++;
        }
    }
    pk->shift = shift;
    pk->count = count;
    return 0;
}

static int packed_end(peek *k, const packed *pk, const char *msg)
{
    if (pk->shift != 0)
        return peek_fail(k, "bad protobuf: %s: truncated packed varint", msg);
    return 0;
}

static void comment_index(peek *k, uint64_t v)
{
    see_index(k, v, "comment", k->index[MSG_COMMENTS]++);
}

/* ---------------- a Sample's Label ---------------- */

static int label_tag(void *ctx, uint64_t field, unsigned type)
{
    return check_type(ctx, "Label", field, type, field >= 1 && field <= 4 ? WIRE_VARINT : -1);
}

static void label_varint(void *ctx, uint64_t field, uint64_t v)
{
    peek *k = ctx;
    if (field == 1 || field == 2 || field == 4) {
        k->inner_str[field] = v;
        k->inner_seen |= 1u << field;
    }
}

static const wire_stream_fns label_fns = {.tag = label_tag, .varint = label_varint};

/* ---------------- a Location's Line ---------------- */

static int line_tag(void *ctx, uint64_t field, unsigned type)
{
    return check_type(ctx, "Line", field, type, field >= 1 && field <= 3 ? WIRE_VARINT : -1);
}

/* A singular field: the last occurrence counts, as protobuf reads it;
 * named when the line ends. */
static void line_varint(void *ctx, uint64_t field, uint64_t v)
{
    peek *k = ctx;
    if (field == 1)
        k->cur_function = v;
}

static const wire_stream_fns line_fns = {.tag = line_tag, .varint = line_varint};

/* ---------------- messages of the Profile's fields ---------------- */

static const char *msg_name(peek_msg m)
{
    switch (m) {
    case MSG_SAMPLE_TYPE:
    case MSG_PERIOD_TYPE:
        return "ValueType";
    case MSG_SAMPLE:
        return "Sample";
    case MSG_MAPPING:
        return "Mapping";
    case MSG_LOCATION:
        return "Location";
    case MSG_FUNCTION:
        return "Function";
    default:
        return "Profile";
    }
}

/* The wire type a field of the message under way must have. */
static int sub_field_type(peek_msg m, uint64_t field)
{
    switch (m) {
    case MSG_SAMPLE_TYPE:
    case MSG_PERIOD_TYPE:
        return field <= 2 ? WIRE_VARINT : -1;
    case MSG_SAMPLE:
        return field <= 2 ? PACKABLE : field == 3 ? WIRE_LEN : -1;
    case MSG_MAPPING:
        return field <= 10 ? WIRE_VARINT : -1;
    case MSG_LOCATION:
        return field == 4 ? WIRE_LEN : field <= 5 ? WIRE_VARINT : -1;
    case MSG_FUNCTION:
        return field <= 5 ? WIRE_VARINT : -1;
    default:
        return -1;
    }
}

static int sub_tag(void *ctx, uint64_t field, unsigned type)
{
    peek *k = ctx;
    return check_type(k, msg_name(k->msg), field, type, sub_field_type(k->msg, field));
}

static void sub_varint(void *ctx, uint64_t field, uint64_t v)
{
    peek *k = ctx;
    switch (k->msg) {
    case MSG_SAMPLE_TYPE:
        if (field == 1)
            k->vt_type = (int64_t)v;
        else if (field == 2)
            k->vt_unit = (int64_t)v;
        break;
    case MSG_PERIOD_TYPE:
        if (field == 1 || field == 2) {
            k->period_str[field] = v;
            k->period_seen |= 1u << field;
        }
        break;
    case MSG_SAMPLE:
        if (field == 2)
            k->n_values++;
        else if (field == 1)
            on_location_ref(k, v);
        break;
    case MSG_MAPPING:
        if (field == 1) {
            k->has_id = v != 0;
            k->cur_id = v;
        } else if (field == 5 || field == 6) {
            k->sub_str[field] = v;
            k->sub_seen |= 1u << field;
        }
        break;
    case MSG_LOCATION:
        if (field == 1) {
            k->has_id = v != 0;
            k->cur_id = v;
        } else if (field == 2) {
            k->cur_mapping = v; /* the last one counts: named when the location ends */
        }
        break;
    case MSG_FUNCTION:
        if (field == 1) {
            k->has_id = v != 0;
            k->cur_id = v;
        } else if (field >= 2 && field <= 4) {
            k->sub_str[field] = v;
            k->sub_seen |= 1u << field;
        }
        break;
    default:
        break;
    }
}

static int stream_error(peek *k, wire_stream_error e, const wire_stream *s, const char *msg)
{
    switch (e) {
    case WIRE_STREAM_OK:
        return 0;
    case WIRE_STREAM_FIELD_ZERO:
        return peek_fail(k, "bad protobuf: field number 0 in %s at byte %zu", msg, s->total);
    case WIRE_STREAM_BAD_WIRE_TYPE:
        return peek_fail(k, "bad protobuf: wire type %u in %s at byte %zu", s->bad_type, msg,
                         s->total);
    case WIRE_STREAM_VARINT_TOO_LONG:
        return peek_fail(k, "bad protobuf: varint too long in %s at byte %zu", msg, s->total);
    case WIRE_STREAM_FIELD_TOO_BIG:
        return peek_fail(k, "bad protobuf: field number past 2^32 in %s at byte %zu", msg,
                         s->total);
    case WIRE_STREAM_STOPPED:
    case WIRE_STREAM_FIELD_RANGE: /* no max_field here */
        break;
    }
    return -1; /* the callback that stopped it said why */
}

/* Pieces of a message inside the one under way (a Label, a Line). */
static int inner_bytes(peek *k, const wire_stream_fns *fns, const char *msg, const uint8_t *p,
                       size_t n, int begin, int end)
{
    if (begin) {
        k->inner = (wire_stream){0};
        k->inner_seen = 0;
        k->cur_function = 0;
    }
    if (stream_error(k, wire_stream_run(&k->inner, p, n, fns, k), &k->inner, msg) < 0)
        return -1;
    if (end && !wire_stream_at_boundary(&k->inner))
        return peek_fail(k, "bad protobuf: %s truncated in %s %zu", msg, msg_name(k->msg),
                         k->index[k->msg]);
    if (end && fns == &line_fns && k->cur_function != 0)
        refs_add(&k->line_funcs, k->cur_function, k->index[MSG_LOCATION]);
    if (end && fns == &label_fns) {
        static const char *const names[] = {[1] = "label.key of sample",
                                            [2] = "label.str of sample",
                                            [4] = "label.num_unit of sample",
                                            [7] = NULL};
        see_last(k, k->inner_str, k->inner_seen, names, 8, k->index[MSG_SAMPLE]);
    }
    return 0;
}

/* A Location's lines. */
static int location_bytes(void *ctx, uint64_t field, const uint8_t *p, size_t n, int begin, int end)
{
    return field == 4 ? inner_bytes(ctx, &line_fns, "Line", p, n, begin, end) : 0;
}

/* Pieces of a Sample's length-delimited fields: packed ids and values,
 * and labels. */
static int sample_bytes(void *ctx, uint64_t field, const uint8_t *p, size_t n, int begin, int end)
{
    peek *k = ctx;
    if (field == 3)
        return inner_bytes(k, &label_fns, "Label", p, n, begin, end);
    if (field != 1 && field != 2)
        return 0;
    if (begin)
        k->pk = (packed){0};
    if (field == 1 ? packed_locations(k, &k->pk, p, n) < 0
                   : packed_count(k, &k->pk, p, n, "Sample") < 0)
        return -1;
    if (!end)
        return 0;
    if (field == 2)
        k->n_values += k->pk.count;
    return packed_end(k, &k->pk, "Sample");
}

static const wire_stream_fns vt_fns = {.tag = sub_tag, .varint = sub_varint};
static const wire_stream_fns location_fns = {
    .tag = sub_tag, .varint = sub_varint, .bytes = location_bytes};
static const wire_stream_fns sample_fns = {
    .tag = sub_tag, .varint = sub_varint, .bytes = sample_bytes};

static wanted_string *wanted_find(peek *k, int64_t index)
{
    for (size_t i = 0; i < k->n_wanted; i++)
        if (k->wanted[i].index == index)
            return &k->wanted[i];
    return NULL;
}

static void want_string(peek *k, int64_t index, int is_type)
{
    if (index <= 0)
        return; /* 0 is "" (checked); an index out of range fails at the end */
    wanted_string *w = wanted_find(k, index);
    if (w) {
        w->is_type |= is_type;
        return;
    }
    w = &k->wanted[k->n_wanted++];
    memset(w, 0, sizeof *w);
    w->index = index;
    w->is_type = is_type;
    if ((uint64_t)index < k->n_strings)
        k->late_type = 1;
}

/* A message begins: its stream and state are reset. */
static void sub_begin(peek *k)
{
    k->sub = (wire_stream){0};
    k->vt_type = k->vt_unit = 0;
    k->has_id = 0;
    k->cur_id = 0;
    k->cur_mapping = 0;
    k->sub_seen = 0;
    k->n_values = 0;
}

/* A message ended: the checks and records that need all of it. */
static int sub_end(peek *k)
{
    size_t at = k->index[k->msg]++;
    if (!wire_stream_at_boundary(&k->sub))
        return peek_fail(k, "bad protobuf: %s truncated (%s %zu)", msg_name(k->msg),
                         msg_name(k->msg), at);
    switch (k->msg) {
    case MSG_SAMPLE_TYPE:
        see_index(k, (uint64_t)k->vt_type, "sample_type.type", at);
        see_index(k, (uint64_t)k->vt_unit, "sample_type.unit", at);
        if (k->capture_only)
            return 0;
        if (k->n_sample_types == PPROF_MAX_SAMPLE_TYPES)
            return peek_fail(k, "more than %d sample types", PPROF_MAX_SAMPLE_TYPES);
        k->types[k->n_sample_types][0] = k->vt_type;
        k->types[k->n_sample_types][1] = k->vt_unit;
        k->n_sample_types++;
        want_string(k, k->vt_type, 1);
        want_string(k, k->vt_unit, 0);
        return 0;
    case MSG_SAMPLE:
        if (k->n_samples++ == 0)
            k->first_values = k->n_values;
        else if (!k->have_odd && k->n_values != k->first_values) {
            k->have_odd = 1;
            k->odd_sample = at;
            k->odd_values = k->n_values;
        }
        return 0;
    case MSG_MAPPING:
    case MSG_LOCATION:
    case MSG_FUNCTION:
        if (k->msg == MSG_MAPPING) {
            static const char *const names[] = {
                [5] = "mapping.filename", [6] = "mapping.build_id", [7] = NULL};
            see_last(k, k->sub_str, k->sub_seen, names, 8, at);
        } else if (k->msg == MSG_FUNCTION) {
            static const char *const names[] = {[2] = "function.name",
                                                [3] = "function.system_name",
                                                [4] = "function.filename",
                                                [7] = NULL};
            see_last(k, k->sub_str, k->sub_seen, names, 8, at);
        }
        if (k->msg == MSG_LOCATION && k->cur_mapping != 0)
            refs_add(&k->loc_mappings, k->cur_mapping, at);
        if (k->has_id && !k->capture_only)
            ids_add(&k->ids[k->msg == MSG_MAPPING    ? IDS_MAPPING
                            : k->msg == MSG_LOCATION ? IDS_LOCATION
                                                     : IDS_FUNCTION],
                    k->cur_id);
        if (!k->has_id && !k->zero_id_what) {
            k->zero_id_what = k->msg == MSG_MAPPING    ? "mapping"
                              : k->msg == MSG_LOCATION ? "location"
                                                       : "function";
            k->zero_id_at = at;
        }
        return 0;
    default:
        return 0;
    }
}

/* Pieces of string_table entries: string 0 and the wanted ones kept. */
static void string_bytes(peek *k, const uint8_t *p, size_t n, int begin, int end)
{
    if (begin)
        k->capturing = wanted_find(k, (int64_t)k->n_strings);
    if (k->n_strings == 0) {
        size_t room = PEEK_STRING0_QUOTED -
                      (k->string0_len < PEEK_STRING0_QUOTED ? k->string0_len : PEEK_STRING0_QUOTED);
        memcpy(k->string0 +
                   (k->string0_len < PEEK_STRING0_QUOTED ? k->string0_len : PEEK_STRING0_QUOTED),
               p, n < room ? n : room);
        k->string0_len += n;
    }
    wanted_string *w = k->capturing;
    if (w) {
        if (w->len < PEEK_MAX_TYPE_NAME) {
            size_t room = PEEK_MAX_TYPE_NAME - w->len;
            memcpy(w->text + w->len, p, n < room ? n : room);
        }
        w->len += n;
    }
    if (end)
        k->n_strings++;
}

/* The Profile's tags: wire types of its known fields. */
static int top_tag(void *ctx, uint64_t field, unsigned type)
{
    int want = -1;
    switch (field) {
    case PROFILE_SAMPLE_TYPE:
    case PROFILE_SAMPLE:
    case PROFILE_MAPPING:
    case PROFILE_LOCATION:
    case PROFILE_FUNCTION:
    case PROFILE_STRING_TABLE:
    case PROFILE_PERIOD_TYPE:
        want = WIRE_LEN;
        break;
    case PROFILE_COMMENT:
        want = PACKABLE;
        break;
    case PROFILE_DROP_FRAMES:
    case PROFILE_KEEP_FRAMES:
    case PROFILE_TIME_NANOS:
    case PROFILE_DURATION_NANOS:
    case PROFILE_PERIOD:
    case PROFILE_DEFAULT_SAMPLE_TYPE:
    case PROFILE_DOC_URL:
        want = WIRE_VARINT;
        break;
    default:
        break;
    }
    return check_type(ctx, "Profile", field, type, want);
}

static void top_varint(void *ctx, uint64_t field, uint64_t v)
{
    peek *k = ctx;
    switch (field) {
    case PROFILE_TIME_NANOS:
        k->time_nanos = (int64_t)v;
        break;
    case PROFILE_DURATION_NANOS:
        k->duration_nanos = (int64_t)v;
        break;
    case PROFILE_DROP_FRAMES:
    case PROFILE_KEEP_FRAMES:
    case PROFILE_DEFAULT_SAMPLE_TYPE:
    case PROFILE_DOC_URL:
        k->top_str[field] = v; /* the last one counts: checked at the end */
        k->top_seen |= 1u << field;
        break;
    case PROFILE_COMMENT:
        comment_index(k, v);
        break;
    default:
        break;
    }
}

static peek_msg top_msg(uint64_t field)
{
    switch (field) {
    case PROFILE_SAMPLE_TYPE:
        return MSG_SAMPLE_TYPE;
    case PROFILE_PERIOD_TYPE:
        return MSG_PERIOD_TYPE;
    case PROFILE_SAMPLE:
        return MSG_SAMPLE;
    case PROFILE_MAPPING:
        return MSG_MAPPING;
    case PROFILE_LOCATION:
        return MSG_LOCATION;
    case PROFILE_FUNCTION:
        return MSG_FUNCTION;
    case PROFILE_COMMENT:
        return MSG_COMMENTS;
    case PROFILE_STRING_TABLE:
        return MSG_STRING;
    default:
        return MSG_NONE;
    }
}

static int top_bytes(void *ctx, uint64_t field, const uint8_t *p, size_t n, int begin, int end)
{
    peek *k = ctx;
    peek_msg m = top_msg(field);
    if (m == MSG_NONE)
        return 0;
    if (m == MSG_STRING) {
        string_bytes(k, p, n, begin, end);
        return 0;
    }
    if (k->capture_only)
        return 0;
    k->msg = m;
    if (m == MSG_COMMENTS) {
        if (begin)
            k->pk = (packed){0};
        if (packed_feed(k, &k->pk, p, n, "Profile.comment", comment_index) < 0)
            return -1;
        return end ? packed_end(k, &k->pk, "Profile.comment") : 0;
    }
    if (begin)
        sub_begin(k);
    wire_stream_error e;
    switch (m) { /* each with its own table, so that the callbacks inline */
    case MSG_SAMPLE:
        e = wire_stream_run(&k->sub, p, n, &sample_fns, k);
        break;
    case MSG_LOCATION:
        e = wire_stream_run(&k->sub, p, n, &location_fns, k);
        break;
    default:
        e = wire_stream_run(&k->sub, p, n, &vt_fns, k);
        break;
    }
    if (stream_error(k, e, &k->sub, msg_name(m)) < 0)
        return -1;
    return end ? sub_end(k) : 0;
}

static const wire_stream_fns top_fns = {.tag = top_tag, .varint = top_varint, .bytes = top_bytes};

/* A payload that is not a pprof is still inflated to its end (counted,
 * not read), so that the size limit is told before the reason it is
 * unreadable: a gzip bomb of zeros is too large, not a bad protobuf. */
static int peek_feed(void *ctx, const uint8_t *p, size_t n, char *err, size_t errlen)
{
    (void)err, (void)errlen; /* k->err is the same buffer */
    peek *k = ctx;
    if (!k->failed)
        stream_error(k, wire_stream_run(&k->top, p, n, &top_fns, k), &k->top, "Profile");
    return 0;
}

/* ---------------- the end ---------------- */

static int peek_finish(peek *k)
{
    if (k->top.total == 0)
        return peek_fail(k, "empty profile (0 bytes)");
    if (!wire_stream_at_boundary(&k->top))
        return peek_fail(k, "bad protobuf: Profile truncated after %zu bytes", k->top.total);
    static const char *const top_names[] = {[PROFILE_DROP_FRAMES] = "drop_frames",
                                            [PROFILE_KEEP_FRAMES] = "keep_frames",
                                            [PROFILE_DEFAULT_SAMPLE_TYPE] = "default_sample_type",
                                            [PROFILE_DOC_URL] = "doc_url"};
    see_last(k, k->top_str, k->top_seen, top_names, sizeof top_names / sizeof top_names[0], 0);
    static const char *const period_names[] = {[1] = "period_type.type", [2] = "period_type.unit"};
    see_last(k, k->period_str, k->period_seen, period_names, 3, 0);
    if (k->n_strings == 0)
        return peek_fail(k, "string table is empty (string_table[0] must be \"\")");
    if (k->string0_len != 0)
        return peek_fail(
            k, "string_table[0] must be \"\", got \"%.*s\"",
            (int)(k->string0_len < PEEK_STRING0_QUOTED ? k->string0_len : PEEK_STRING0_QUOTED),
            k->string0);
    if (k->have_index && k->max_index >= k->n_strings)
        return peek_fail(k,
                         "string index %lld out of range (string table has %zu entries) in %s "
                         "%zu",
                         (long long)k->max_index, k->n_strings, k->max_what, k->max_at);
    if (k->zero_id_what)
        return peek_fail(k, "%s %zu has id 0 (ids must be non-zero)", k->zero_id_what,
                         k->zero_id_at);
    if (k->n_samples && k->first_values != k->n_sample_types)
        return peek_fail(k, "sample 0 has %zu values, expected %zu (one per sample type)",
                         k->first_values, k->n_sample_types);
    if (k->have_odd)
        return peek_fail(k, "sample %zu has %zu values, expected %zu (one per sample type)",
                         k->odd_sample, k->odd_values, k->n_sample_types);
    for (size_t i = 0; i < k->n_wanted; i++)
        if (k->wanted[i].is_type && k->wanted[i].len > PEEK_MAX_TYPE_NAME)
            return peek_fail(k, "a sample type's type (string %lld) is longer than %d bytes",
                             (long long)k->wanted[i].index, PEEK_MAX_TYPE_NAME);
    return 0;
}

/* Ids as the decoder judges them (pprof_validate), from the bitmaps and
 * the ranges the references named. Returns 1 when that settles it (*rc:
 * 0, or -1 with the reason), 0 when some kind's ids are not 1..n, for
 * the decoder to judge. */
static int ids_verdict(peek *k, int *rc)
{
    static const char *const kinds[] = {"mapping", "location", "function"};
    int exact[3];
    *rc = 0;
    for (int i = 0; i < 3; i++)
        if (k->ids[i].sparse)
            return 0;
    for (int i = 0; i < 3; i++) {
        if (k->ids[i].have_dup) {
            *rc = peek_fail(k, "duplicate %s id %llu", kinds[i], (unsigned long long)k->ids[i].dup);
            return 1;
        }
        exact[i] = k->ids[i].count == k->ids[i].max;
    }
    const peek_refs *r = &k->sample_locs;
    if (r->n && !exact[IDS_LOCATION])
        return 0;
    if (r->n && r->min == 0) {
        *rc = peek_fail(k, "a sample names unknown location id 0");
        return 1;
    }
    if (r->n && r->max > k->ids[IDS_LOCATION].max) {
        *rc = peek_fail(k, "sample %zu names unknown location id %llu", r->max_at,
                        (unsigned long long)r->max);
        return 1;
    }
    const peek_refs *refs[] = {&k->loc_mappings, &k->line_funcs};
    const int of[] = {IDS_MAPPING, IDS_FUNCTION};
    for (int i = 0; i < 2; i++) {
        r = refs[i];
        if (r->n && !exact[of[i]])
            return 0;
        if (r->n && r->max > k->ids[of[i]].max) {
            *rc = peek_fail(k, "the location at index %zu names unknown %s id %llu", r->max_at,
                            kinds[of[i]], (unsigned long long)r->max);
            return 1;
        }
    }
    return 1;
}

/* The one block: pp_pprof, sample types, string pointers, then strings. */
/* The captured string of index idx, and its length as kept. */
static const char *kept(const peek *k, int64_t idx, size_t *len)
{
    for (size_t j = 0; j < k->n_wanted; j++)
        if (k->wanted[j].index == idx) {
            const wanted_string *w = &k->wanted[j];
            *len = w->len < PEEK_MAX_TYPE_NAME ? w->len : PEEK_MAX_TYPE_NAME;
            return w->text;
        }
    *len = 0; /* index 0: "" */
    return "";
}

static pp_pprof *skeleton(const peek *k)
{
    size_t n = k->n_sample_types, n_strings = 2 * n + 1, text = 1, len;
    for (size_t i = 0; i < n; i++)
        for (int u = 0; u < 2; u++) {
            (void)kept(k, k->types[i][u], &len);
            text += len + 1;
        }
    pp_pprof *t =
        calloc(1, sizeof(pp_pprof) + n * sizeof(pp_value_type) + n_strings * sizeof(char *) + text);
    if (!t)
        return NULL;
    t->sample_types = (pp_value_type *)(t + 1);
    t->strings = (const char **)(t->sample_types + n);
    char *s = (char *)(t->strings + n_strings);
    t->n_sample_types = n;
    t->n_strings = n_strings;
    t->time_nanos = k->time_nanos;
    t->duration_nanos = k->duration_nanos;
    t->strings[0] = s++; /* "" */
    for (size_t i = 0; i < n; i++)
        for (int u = 0; u < 2; u++) {
            const char *text_of = kept(k, k->types[i][u], &len);
            memcpy(s, text_of, len);
            s[len] = '\0';
            int64_t idx = (int64_t)(1 + 2 * i + (size_t)u);
            t->strings[idx] = s;
            s += len + 1;
            if (u == 0)
                t->sample_types[i].type = idx;
            else
                t->sample_types[i].unit = idx;
        }
    return t;
}

pp_pprof *pprof_peek(const uint8_t *data, size_t len, size_t max_plain, size_t *plain_len,
                     pp_err *kind, char *err, size_t errlen)
{
    pp_err why = PP_ERR_INVALID;
    peek *k = calloc(1, sizeof *k);
    if (!k) {
        *kind = PP_ERR_NO_MEMORY;
        pprof_errorf(err, errlen, "out of memory");
        return NULL;
    }
    k->err = err;
    k->errlen = errlen;
    int rc = pprof_stream(data, len, max_plain, peek_feed, k, plain_len, &why, err, errlen);
    if (rc == 0 && k->failed)
        rc = -1;
    if (rc == 0)
        rc = peek_finish(k);
    if (rc == 0 && k->late_type) {
        /* a sample type came after the string it names: capture again */
        size_t again;
        for (size_t i = 0; i < k->n_wanted; i++)
            k->wanted[i].len = 0;
        k->top = (wire_stream){0};
        k->n_strings = 0;
        k->string0_len = 0;
        k->capture_only = 1;
        rc = pprof_stream(data, len, max_plain, peek_feed, k, &again, &why, err, errlen);
        if (rc == 0 && k->failed)
            rc = -1;
        if (rc == 0)
            rc = peek_finish(k);
    }
    if (rc == 0 && !ids_verdict(k, &rc)) {
        /* ids not numbered 1..n: the decoder judges them, once */
        arena a;
        pp_pprof whole = {0};
        arena_init(&a);
        rc = pprof_decode_any(&a, data, len, &whole, err, errlen);
        arena_free(&a);
    }
    pp_pprof *t = NULL;
    if (rc == 0 && !(t = skeleton(k))) {
        why = PP_ERR_NO_MEMORY;
        pprof_errorf(err, errlen, "out of memory");
    }
    *kind = t ? PP_ERR_NONE : why;
    for (int i = 0; i < 3; i++)
        free(k->ids[i].bits);
    free(k);
    return t;
}
