/* scrape_pbview: a plain pprof read in place (see scrape_pbview.h).
 *
 * Walks over the top-level fields, each skipping by its length what it
 * does not need: the first counts and checks the wire types, and reads
 * the sample types and the profile's scalars; the second collects the
 * strings, functions and mapping ids, checking string indexes as it
 * reads them (the first walk counted the strings, which may come after
 * the fields that name them); the last hashes every location, which
 * needs the functions' names. Samples are left to pbview_sample_read.
 * The rules follow the host's decoder (wire types of known fields, the
 * last value of a repeated scalar wins, unknown fields skipped) and its
 * validation, so that a profile this view accepts is one the pipeline
 * decodes: the fuzz harness (tests/fuzz/scrape_delta) checks that both
 * refuse the same inputs. */
#include "scrape_pbview.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protowire.h"
#include "wordhash.h"

/* Kept apart from any real string hash: a frame without symbols. */
#define KEY_NO_SYMBOL 0x9e3779b97f4a7c15ull

/* Profile fields besides those of the header. */
enum {
    PB_MAPPING = 3,
    PB_DROP_FRAMES = 7,
    PB_KEEP_FRAMES = 8,
    PB_PERIOD_TYPE = 11,
    PB_COMMENT = 13,
    PB_DEFAULT_SAMPLE_TYPE = 14,
    PB_DOC_URL = 15,
    PB_LAST_SCALAR = 15,
};

/* Scalar fields of the nested messages read whole (the highest number
 * each has; all are varints). */
enum {
    VALUE_TYPE_FIELDS = 2,
    LABEL_FIELDS = 4,
    MAPPING_FIELDS = 10,
    LINE_FIELDS = 3,
    FUNCTION_FIELDS = 5,
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int next(wire_reader *r, wire_field *f, const char *msg, char *err, size_t errlen)
{
    const char *why;
    if (wire_next(r, f, &why) < 0)
        return fail(err, errlen, "bad protobuf: %s: %s", msg, why);
    return 0;
}

static int expect(const wire_field *f, unsigned type, const char *msg, char *err, size_t errlen)
{
    if (f->type == type)
        return 0;
    return fail(err, errlen, "bad protobuf: %s field %u has wire type %u, expected %u", msg, f->num,
                f->type, type);
}

/* A message of varints (fields 1..n; others skipped) merged into out:
 * out[k - 1] becomes the last value of field k, and stays as it was when
 * the message has none (protobuf merges a singular message field that
 * comes more than once, as the decoder does the profile's period_type). */
static int scalars_merge(const uint8_t *data, size_t len, size_t n, uint64_t *out, const char *msg,
                         char *err, size_t errlen)
{
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        if (next(&r, &f, msg, err, errlen) < 0)
            return -1;
        if (f.num > n)
            continue;
        if (expect(&f, WIRE_VARINT, msg, err, errlen) < 0)
            return -1;
        out[f.num - 1] = f.v;
    }
    return 0;
}

/* The same into a zeroed out: a field absent is 0. */
static int scalars(const uint8_t *data, size_t len, size_t n, uint64_t *out, const char *msg,
                   char *err, size_t errlen)
{
    memset(out, 0, n * sizeof *out);
    return scalars_merge(data, len, n, out, msg, err, errlen);
}

/* The varints of a repeated integer field's occurrence, packed or not,
 * one at a time: 1 with *v, 0 at the end, -1 when the bytes are not
 * varints. */
typedef struct int_iter {
    wire_reader r;
    uint64_t one;
    int left; /* an unpacked occurrence's value not read yet */
} int_iter;

static int int_iter_init(int_iter *it, const wire_field *f)
{
    it->left = f->type == WIRE_VARINT;
    it->one = it->left ? f->v : 0; /* v is set for varints only */
    it->r = f->type == WIRE_LEN ? (wire_reader){f->data, f->data + f->len} : (wire_reader){0};
    return f->type == WIRE_VARINT || f->type == WIRE_LEN ? 0 : -1;
}

static inline int int_iter_next(int_iter *it, uint64_t *v)
{
    if (it->left) {
        it->left = 0;
        *v = it->one;
        return 1;
    }
    if (it->r.p >= it->r.end)
        return 0;
    return wire_varint(&it->r, v) < 0 ? -1 : 1;
}

static int bad_ints(const wire_field *f, const char *msg, char *err, size_t errlen)
{
    if (f->type != WIRE_VARINT && f->type != WIRE_LEN)
        return expect(f, WIRE_LEN, msg, err, errlen);
    return fail(err, errlen, "bad protobuf: %s: truncated packed varint", msg);
}

static int str_ok(const pbview *v, uint64_t idx, const char *what, size_t i, char *err,
                  size_t errlen)
{
    if (idx < v->n_strings)
        return 0;
    return fail(err, errlen,
                "string index %lld out of range (string table has %zu entries) in %s %zu",
                (long long)idx, v->n_strings, what, i);
}

static uint64_t hash_str(uint64_t h, const pbview *v, uint64_t idx)
{
    size_t n = idx < v->n_strings ? v->strings[idx].n : 0;
    h = wordhash_u64(h, n); /* length first: "ab"+"c" differs from "a"+"bc" */
    return n ? wordhash(h, v->strings[idx].p, n) : h;
}

uint64_t pbview_types_signature(const pbview *v)
{
    uint64_t h = wordhash_u64(WORDHASH_SEED, v->n_types);
    for (size_t i = 0; i < v->n_types; i++) {
        h = hash_str(h, v, (uint64_t)v->type[i]);
        h = hash_str(h, v, (uint64_t)v->unit[i]);
    }
    return wordhash_finish(h);
}

/* ---- ids ---- */

static int ent_cmp(const void *a, const void *b)
{
    uint64_t x = ((const pbview_ent *)a)->id, y = ((const pbview_ent *)b)->id;
    return x < y ? -1 : x > y;
}

/* Sorts ents by id (Go writes them in order: then nothing moves) and
 * refuses id 0 and duplicates, as the decoder does. */
static int ids_sort(pbview_ent *ents, size_t n, const char *what, char *err, size_t errlen)
{
    size_t i;
    for (i = 1; i < n && ents[i - 1].id < ents[i].id; i++)
        ;
    if (i < n)
        qsort(ents, n, sizeof *ents, ent_cmp);
    for (i = 0; i < n; i++) {
        if (ents[i].id == 0)
            return fail(err, errlen, "%s %zu has id 0 (ids must be non-zero)", what, ents[i].pos);
        if (i && ents[i].id == ents[i - 1].id)
            return fail(err, errlen, "duplicate %s id %llu", what, (unsigned long long)ents[i].id);
    }
    return 0;
}

const pbview_ent *pbview_search(const pbview_ent *ents, size_t n, uint64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ents[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && ents[lo].id == id ? &ents[lo] : NULL;
}

/* ---- the walks ---- */

typedef struct counts {
    size_t mappings;
    uint64_t scalar[PB_LAST_SCALAR + 1]; /* the profile's string-index scalars */
    uint64_t period_type[VALUE_TYPE_FIELDS];
} counts;

/* The count of a repeated message field of the profile's. */
static size_t *count_of(pbview *v, counts *c, uint32_t field)
{
    switch (field) {
    case PB_SAMPLE:
        return &v->n_samples;
    case PB_MAPPING:
        return &c->mappings;
    case PB_LOCATION:
        return &v->n_locs;
    case PB_FUNCTION:
        return &v->n_fns;
    default:
        return &v->n_strings;
    }
}

/* First walk: counts, wire types, sample types and scalars. */
static int walk_counts(pbview *v, counts *c, char *err, size_t errlen)
{
    for (wire_reader r = {v->buf, v->buf + v->len}; r.p < r.end;) {
        wire_field f;
        uint64_t vt[VALUE_TYPE_FIELDS];
        if (next(&r, &f, "Profile", err, errlen) < 0)
            return -1;
        switch (f.num) {
        case PB_SAMPLE_TYPE:
            if (expect(&f, WIRE_LEN, "Profile", err, errlen) < 0 ||
                scalars(f.data, f.len, VALUE_TYPE_FIELDS, vt, "ValueType", err, errlen) < 0)
                return -1;
            if (v->n_types == PBVIEW_MAX_TYPES)
                return fail(err, errlen, "more than %d sample types", PBVIEW_MAX_TYPES);
            v->type[v->n_types] = (int64_t)vt[0];
            v->unit[v->n_types++] = (int64_t)vt[1];
            break;
        case PB_SAMPLE:
        case PB_MAPPING:
        case PB_LOCATION:
        case PB_FUNCTION:
        case PB_STRING:
            if (expect(&f, WIRE_LEN, "Profile", err, errlen) < 0)
                return -1;
            (*count_of(v, c, f.num))++;
            break;
        case PB_PERIOD_TYPE:
            if (expect(&f, WIRE_LEN, "Profile", err, errlen) < 0 ||
                scalars_merge(f.data, f.len, VALUE_TYPE_FIELDS, c->period_type, "ValueType", err,
                              errlen) < 0)
                return -1;
            break;
        case PB_COMMENT:
            break; /* its string indexes: the second walk checks them */
        default:
            if (f.num <= PB_LAST_SCALAR) {
                if (expect(&f, WIRE_VARINT, "Profile", err, errlen) < 0)
                    return -1;
                c->scalar[f.num] = f.v;
            }
        }
    }
    return 0;
}

static int check_profile_strings(const pbview *v, const counts *c, char *err, size_t errlen)
{
    static const struct {
        unsigned field;
        const char *what;
    } refs[] = {{PB_DROP_FRAMES, "drop_frames"},
                {PB_KEEP_FRAMES, "keep_frames"},
                {PB_DEFAULT_SAMPLE_TYPE, "default_sample_type"},
                {PB_DOC_URL, "doc_url"}};
    if (v->n_strings == 0)
        return fail(err, errlen, "string table is empty (string_table[0] must be \"\")");
    if (v->strings[0].n != 0)
        return fail(err, errlen, "string_table[0] must be \"\", got \"%.*s\"",
                    (int)(v->strings[0].n < 40 ? v->strings[0].n : 40),
                    (const char *)v->strings[0].p);
    for (size_t i = 0; i < v->n_types; i++)
        if (str_ok(v, (uint64_t)v->type[i], "sample_type.type", i, err, errlen) < 0 ||
            str_ok(v, (uint64_t)v->unit[i], "sample_type.unit", i, err, errlen) < 0)
            return -1;
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
        if (str_ok(v, c->scalar[refs[i].field], refs[i].what, 0, err, errlen) < 0)
            return -1;
    if (str_ok(v, c->period_type[0], "period_type.type", 0, err, errlen) < 0 ||
        str_ok(v, c->period_type[1], "period_type.unit", 0, err, errlen) < 0)
        return -1;
    return 0;
}

/* A comment's string indexes (the strings are counted by now). */
static int check_comments(const pbview *v, const wire_field *f, size_t *n, char *err, size_t errlen)
{
    int_iter it;
    uint64_t idx;
    int rc;
    if (int_iter_init(&it, f) < 0)
        return bad_ints(f, "Profile.comment", err, errlen);
    while ((rc = int_iter_next(&it, &idx)) > 0)
        if (str_ok(v, idx, "comment", (*n)++, err, errlen) < 0)
            return -1;
    return rc < 0 ? bad_ints(f, "Profile.comment", err, errlen) : 0;
}

/* Second walk: strings, functions (checking their string indexes: the
 * first walk counted the strings), mapping ids and comments. */
static int walk_tables(pbview *v, pbview_ent *maps, char *err, size_t errlen)
{
    size_t ns = 0, nf = 0, nm = 0, nc = 0;
    for (wire_reader r = {v->buf, v->buf + v->len}; r.p < r.end;) {
        wire_field f;
        uint64_t s[MAPPING_FIELDS];
        if (next(&r, &f, "Profile", err, errlen) < 0)
            return -1;
        if (f.num == PB_STRING) {
            v->strings[ns].p = f.data;
            v->strings[ns++].n = f.len;
        } else if (f.num == PB_FUNCTION) {
            if (scalars(f.data, f.len, FUNCTION_FIELDS, s, "Function", err, errlen) < 0 ||
                str_ok(v, s[1], "function.name", nf, err, errlen) < 0 ||
                str_ok(v, s[2], "function.system_name", nf, err, errlen) < 0 ||
                str_ok(v, s[3], "function.filename", nf, err, errlen) < 0)
                return -1;
            v->fns[nf] = (pbview_ent){s[0], s[1], nf};
            nf++;
        } else if (f.num == PB_MAPPING) {
            if (scalars(f.data, f.len, MAPPING_FIELDS, s, "Mapping", err, errlen) < 0 ||
                str_ok(v, s[4], "mapping.filename", nm, err, errlen) < 0 ||
                str_ok(v, s[5], "mapping.build_id", nm, err, errlen) < 0)
                return -1;
            maps[nm] = (pbview_ent){s[0], 0, nm};
            nm++;
        } else if (f.num == PB_COMMENT && check_comments(v, &f, &nc, err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

/* One location's hash (its frames in order: function name and line, or
 * its address when it has no lines) and checks of what it refers to. */
static int location_hash(const pbview *v, const pbview_ent *maps, size_t n_maps,
                         const uint8_t *data, size_t len, pbview_ent *out, char *err, size_t errlen)
{
    uint64_t h = WORDHASH_SEED, id = 0, mapping = 0, address = 0, bad_fn = 0;
    size_t lines = 0;
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        uint64_t ln[LINE_FIELDS];
        if (next(&r, &f, "Location", err, errlen) < 0)
            return -1;
        if (f.num == 4) {
            if (expect(&f, WIRE_LEN, "Location", err, errlen) < 0 ||
                scalars(f.data, f.len, LINE_FIELDS, ln, "Line", err, errlen) < 0)
                return -1;
            const pbview_ent *fn = ln[0] ? pbview_find(v->fns, v->n_fns, ln[0]) : NULL;
            if (ln[0] && !fn && !bad_fn)
                bad_fn = ln[0]; /* told once the location's id is known */
            h = fn ? hash_str(h, v, fn->val) : wordhash_u64(h, KEY_NO_SYMBOL);
            h = wordhash_u64(h, ln[1]);
            lines++;
        } else if (f.num == 1 || f.num == 2 || f.num == 3 || f.num == 5) {
            if (expect(&f, WIRE_VARINT, "Location", err, errlen) < 0)
                return -1;
            if (f.num == 1)
                id = f.v;
            else if (f.num == 2)
                mapping = f.v;
            else if (f.num == 3)
                address = f.v;
        }
    }
    if (bad_fn)
        return fail(err, errlen, "location %llu names unknown function id %llu",
                    (unsigned long long)id, (unsigned long long)bad_fn);
    if (mapping && !pbview_find(maps, n_maps, mapping))
        return fail(err, errlen, "location %llu names unknown mapping id %llu",
                    (unsigned long long)id, (unsigned long long)mapping);
    if (!lines)
        h = wordhash_u64(wordhash_u64(h, KEY_NO_SYMBOL), address);
    out->id = id;
    out->val = h;
    return 0;
}

/* Third walk: the locations, hashed. */
static int walk_locations(pbview *v, const pbview_ent *maps, size_t n_maps, char *err,
                          size_t errlen)
{
    size_t nl = 0;
    for (wire_reader r = {v->buf, v->buf + v->len}; r.p < r.end;) {
        wire_field f;
        if (next(&r, &f, "Profile", err, errlen) < 0)
            return -1;
        if (f.num != PB_LOCATION)
            continue;
        v->locs[nl].pos = nl;
        if (location_hash(v, maps, n_maps, f.data, f.len, &v->locs[nl], err, errlen) < 0)
            return -1;
        nl++;
    }
    return 0;
}

int pbview_open(pbview *v, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    counts c;
    pbview_ent *maps = NULL;
    memset(v, 0, sizeof *v);
    memset(&c, 0, sizeof c);
    if (err && errlen)
        err[0] = '\0';
    v->buf = buf;
    v->len = len;
    if (len == 0)
        return fail(err, errlen, "empty profile (0 bytes)");
    if (walk_counts(v, &c, err, errlen) < 0)
        goto fail;
    v->strings = malloc((v->n_strings ? v->n_strings : 1) * sizeof *v->strings);
    v->fns = malloc((v->n_fns ? v->n_fns : 1) * sizeof *v->fns);
    v->locs = malloc((v->n_locs ? v->n_locs : 1) * sizeof *v->locs);
    maps = malloc((c.mappings ? c.mappings : 1) * sizeof *maps);
    if (!v->strings || !v->fns || !v->locs || !maps) {
        fail(err, errlen, "out of memory");
        goto fail;
    }
    if (walk_tables(v, maps, err, errlen) < 0 || check_profile_strings(v, &c, err, errlen) < 0 ||
        ids_sort(maps, c.mappings, "mapping", err, errlen) < 0 ||
        ids_sort(v->fns, v->n_fns, "function", err, errlen) < 0 ||
        walk_locations(v, maps, c.mappings, err, errlen) < 0 ||
        ids_sort(v->locs, v->n_locs, "location", err, errlen) < 0)
        goto fail;
    free(maps);
    return 0;
fail:
    free(maps);
    pbview_close(v);
    return -1;
}

void pbview_close(pbview *v)
{
    free(v->strings);
    free(v->fns);
    free(v->locs);
    memset(v, 0, sizeof *v);
}

/* ---- samples ---- */

int pbview_sample_read(const pbview *v, const uint8_t *data, size_t len, size_t i, pbview_sample *s,
                       char *err, size_t errlen)
{
    uint64_t h_locs = WORDHASH_SEED, h_labels = WORDHASH_SEED, x;
    size_t n_locs = 0, n_values = 0, n_labels = 0;
    if (err && errlen)
        err[0] = '\0';
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        int_iter it;
        int rc;
        uint64_t lab[LABEL_FIELDS];
        if (next(&r, &f, "Sample", err, errlen) < 0)
            return -1;
        if (f.num == 1) {
            if (int_iter_init(&it, &f) < 0)
                return bad_ints(&f, "Sample.location_id", err, errlen);
            while ((rc = int_iter_next(&it, &x)) > 0) {
                const pbview_ent *loc = pbview_find(v->locs, v->n_locs, x);
                if (!loc)
                    return fail(err, errlen, "sample %zu names unknown location id %llu", i,
                                (unsigned long long)x);
                h_locs = wordhash_u64(h_locs, loc->val);
                n_locs++;
            }
            if (rc < 0)
                return bad_ints(&f, "Sample.location_id", err, errlen);
        } else if (f.num == 2) {
            if (int_iter_init(&it, &f) < 0)
                return bad_ints(&f, "Sample.value", err, errlen);
            while ((rc = int_iter_next(&it, &x)) > 0) {
                if (n_values >= v->n_types)
                    return fail(err, errlen,
                                "sample %zu has more values than sample types (%zu): one per "
                                "sample type",
                                i, v->n_types);
                s->values[n_values++] = (int64_t)x;
            }
            if (rc < 0)
                return bad_ints(&f, "Sample.value", err, errlen);
        } else if (f.num == 3) {
            if (expect(&f, WIRE_LEN, "Sample", err, errlen) < 0 ||
                scalars(f.data, f.len, LABEL_FIELDS, lab, "Label", err, errlen) < 0 ||
                str_ok(v, lab[0], "label.key of sample", i, err, errlen) < 0 ||
                str_ok(v, lab[1], "label.str of sample", i, err, errlen) < 0 ||
                str_ok(v, lab[3], "label.num_unit of sample", i, err, errlen) < 0)
                return -1;
            h_labels = hash_str(h_labels, v, lab[0]);
            h_labels = hash_str(h_labels, v, lab[1]);
            h_labels = wordhash_u64(h_labels, lab[2]);
            h_labels = hash_str(h_labels, v, lab[3]);
            n_labels++;
        }
    }
    if (n_values != v->n_types)
        return fail(err, errlen, "sample %zu has %zu values, expected %zu (one per sample type)", i,
                    n_values, v->n_types);
    uint64_t h = wordhash_u64(WORDHASH_SEED, n_locs);
    h = wordhash_u64(h, h_locs);
    h = wordhash_u64(h, n_labels);
    s->key = wordhash_finish(wordhash_u64(h, h_labels));
    return 0;
}

void pbview_sample_values(const pbview *v, const uint8_t *data, size_t len, int64_t *values)
{
    size_t n = 0;
    uint64_t x;
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        int_iter it;
        const char *why;
        if (wire_next(&r, &f, &why) < 0)
            return;
        if (f.num != 2 || int_iter_init(&it, &f) < 0)
            continue;
        while (n < v->n_types && int_iter_next(&it, &x) > 0)
            values[n++] = (int64_t)x;
    }
}

typedef struct mark_ctx {
    const pbview_ent *ents;
    size_t n;
    unsigned char *used;
} mark_ctx;

static void mark(mark_ctx *m, uint64_t id)
{
    const pbview_ent *e = pbview_find(m->ents, m->n, id);
    if (e)
        m->used[e->pos] = 1;
}

void pbview_sample_locations(const pbview *v, const uint8_t *data, size_t len, unsigned char *used)
{
    mark_ctx m = {v->locs, v->n_locs, used};
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        const char *why;
        if (wire_next(&r, &f, &why) < 0)
            return;
        int_iter it;
        uint64_t id;
        if (f.num == 1 && int_iter_init(&it, &f) == 0)
            while (int_iter_next(&it, &id) > 0)
                mark(&m, id);
    }
}

void pbview_location_functions(const pbview *v, const uint8_t *data, size_t len,
                               unsigned char *used)
{
    mark_ctx m = {v->fns, v->n_fns, used};
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        uint64_t ln[LINE_FIELDS];
        const char *why;
        if (wire_next(&r, &f, &why) < 0)
            return;
        if (f.num == 4 && f.type == WIRE_LEN &&
            scalars(f.data, f.len, LINE_FIELDS, ln, "Line", NULL, 0) == 0 && ln[0])
            mark(&m, ln[0]);
    }
}
