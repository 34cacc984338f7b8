/* pprof_peek: the one streaming pass of label-only paths. The name it
 * derives equals pprof_family_display on the decoded tree; every split of
 * the inflated bytes (gzip members) gives the same answer; every
 * truncation and thousands of mutations are refused whenever the tree
 * decoder refuses them (unknown and duplicate ids included); and each
 * refusal names its cause. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pprof_internal.h"
#include "pprof_wire.h"
#include "profile.h"
#include "harness.h"
#include "unit_support.h"

#define SEED 0x9e3779b97f4a7c15ULL
#define XS_MUL 0x2545F4914F6CDD1DULL
#define MUTATIONS 20000
#define T0 1700000000123456789LL
#define D0 10000000000LL
#define LIMIT ((size_t)64 << 20)

static uint64_t rng_state = SEED;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * XS_MUL;
}

/* A profile shaped as Go writes them (sample types first, string table
 * after the samples, locations, functions and a mapping, sample labels),
 * with the sample types "type/unit,type/unit". Plain protobuf. */
static uint8_t *make_profile(const char *types, size_t *len)
{
    enum { N = 5, MAX_TYPES = 8 };
    pp_profile *p = profile_new();
    pp_pprof *t = unit_chain_tree(p, N, MAX_TYPES, 2);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", types);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *slash = strchr(tok, '/');
        *slash = '\0';
        t->sample_types[t->n_sample_types++] =
            (pp_value_type){pprof_intern(p, tok), pprof_intern(p, slash + 1)};
    }
    for (int i = 0; i < N; i++) {
        pp_sample *s = &t->samples[i];
        for (size_t v = 0; v < t->n_sample_types; v++)
            s->values[v] = (int64_t)((size_t)(i + 1) * (v + 1) * 1000);
        s->n_values = t->n_sample_types;
        s->labels[0] = (pp_label){pprof_intern(p, "span_id"), pprof_intern(p, "abc"), 0, 0};
        s->labels[1] = (pp_label){pprof_intern(p, "bytes"), 0, 4096, pprof_intern(p, "bytes")};
        s->n_labels = 2;
    }
    t->period_type = t->sample_types[t->n_sample_types - 1];
    t->period = 10000000;
    t->time_nanos = T0;
    t->duration_nanos = D0;
    uint8_t *out;
    assert_int_equal(pprof_encode(t, &out, len), 0);
    profile_free(p);
    return out;
}

/* What the tree decoder says of data: the family, or NULL with err. */
typedef struct decoded {
    int ok;
    const char *family;
    int64_t time_nanos, duration_nanos;
    size_t n_types;
    char types[8][2][64];
    char err[256];
} decoded;

static void fill(decoded *d, const pp_pprof *t, const char *const *display)
{
    d->ok = 1;
    d->family = pprof_family_display(t, display);
    d->time_nanos = t->time_nanos;
    d->duration_nanos = t->duration_nanos;
    d->n_types = t->n_sample_types < 8 ? t->n_sample_types : 8;
    for (size_t i = 0; i < d->n_types; i++) {
        snprintf(d->types[i][0], 64, "%s", t->strings[t->sample_types[i].type]);
        snprintf(d->types[i][1], 64, "%s", t->strings[t->sample_types[i].unit]);
    }
}

static void decode(const uint8_t *data, size_t len, const char *const *display, decoded *d)
{
    memset(d, 0, sizeof *d);
    pp_profile *p = profile_new();
    assert_int_equal(profile_set_raw(p, data, len), 0);
    const pp_pprof *t = profile_tree(p, d->err, sizeof d->err);
    if (t)
        fill(d, t, display);
    profile_free(p);
}

static void peek_as_decoded(const uint8_t *data, size_t len, const char *const *display, decoded *d)
{
    memset(d, 0, sizeof *d);
    size_t plain = 0;
    pp_err kind = PP_ERR_NONE;
    pp_pprof *t = pprof_peek(data, len, LIMIT, &plain, &kind, d->err, sizeof d->err);
    if (!t) {
        assert_int_not_equal(kind, PP_ERR_NONE);
        assert_true(d->err[0] != '\0');
        return;
    }
    assert_int_equal(kind, PP_ERR_NONE);
    fill(d, t, display);
    free(t);
}

static void assert_same(const decoded *a, const decoded *b)
{
    assert_int_equal(a->ok, b->ok);
    if (!a->family || !b->family)
        assert_ptr_equal(a->family, b->family);
    else
        assert_string_equal(a->family, b->family);
    assert_int_equal(a->time_nanos, b->time_nanos);
    assert_int_equal(a->duration_nanos, b->duration_nanos);
    assert_int_equal(a->n_types, b->n_types);
    for (size_t i = 0; i < a->n_types; i++) {
        assert_string_equal(a->types[i][0], b->types[i][0]);
        assert_string_equal(a->types[i][1], b->types[i][1]);
    }
}

/* peek and decode agree on data: both accept with the same answer, or
 * both refuse (ids and the references to them included). */
static void assert_consistent(const uint8_t *data, size_t len)
{
    decoded dec, pk;
    decode(data, len, NULL, &dec);
    peek_as_decoded(data, len, NULL, &pk);
    if (dec.ok) {
        if (!pk.ok)
            fail_msg("decoder accepts, peek refuses: %s", pk.err);
        assert_same(&dec, &pk);
    } else if (pk.ok) {
        fail_msg("peek accepts what the decoder refuses: %s", dec.err);
    }
}

static uint8_t *gzipped(const uint8_t *plain, size_t len, size_t *gz_len)
{
    uint8_t *gz;
    assert_int_equal(gz_gzip(plain, len, &gz, gz_len), 0);
    return gz;
}

/* Go's, Node's, fgprof's and the other families Pyroscope names, plain
 * and gzip'd, with and without the Go SDK's display names. */
static void test_names_match_family(void **state)
{
    (void)state;
    static const char *const shapes[][2] = {
        {"samples/count,cpu/nanoseconds", "process_cpu"},
        {"alloc_objects/count,alloc_space/bytes,inuse_objects/count,inuse_space/bytes", "memory"},
        {"goroutine/count", "goroutines"},
        {"contentions/count,delay/nanoseconds", "mutex"},
        {"samples/count,time/nanoseconds", "fgprof"},
        {"samples/count,wall/microseconds", "wall"},
        {"objects/count,space/bytes", "memory"},
        {"threadcreate/count", "threadcreate"},
        {"custom/things", NULL},
    };
    static const char *const block_display[] = {"block_count", "block_duration"};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        size_t len, gz_len;
        uint8_t *plain = make_profile(shapes[i][0], &len);
        uint8_t *gz = gzipped(plain, len, &gz_len);
        decoded dec, pk;
        decode(gz, gz_len, NULL, &dec);
        assert_true(dec.ok);
        peek_as_decoded(gz, gz_len, NULL, &pk);
        assert_same(&dec, &pk);
        if (shapes[i][1])
            assert_string_equal(pk.family, shapes[i][1]);
        else
            assert_null(pk.family);
        peek_as_decoded(plain, len, NULL, &pk);
        assert_same(&dec, &pk);
        /* the Go SDK's sample_type_config: contentions/delay as block */
        decode(gz, gz_len, block_display, &dec);
        peek_as_decoded(gz, gz_len, block_display, &pk);
        assert_same(&dec, &pk);
        size_t plain_len = 0;
        pp_err kind;
        char err[256];
        pp_pprof *t = pprof_peek(gz, gz_len, LIMIT, &plain_len, &kind, err, sizeof err);
        assert_non_null(t);
        assert_int_equal(plain_len, len);
        free(t);
        free(plain);
        free(gz);
    }
}

/* The inflated bytes arrive in pieces split at every byte (two gzip
 * members), and at pairs of points (three members). */
static void test_every_split(void **state)
{
    (void)state;
    size_t len;
    uint8_t *plain = make_profile("contentions/count,delay/nanoseconds", &len);
    decoded whole, part;
    decode(plain, len, NULL, &whole);
    assert_true(whole.ok);
    for (size_t i = 0; i <= len; i++) {
        size_t a_len, b_len;
        uint8_t *a = gzipped(plain, i, &a_len), *b = gzipped(plain + i, len - i, &b_len);
        uint8_t *both = malloc(a_len + b_len);
        memcpy(both, a, a_len);
        memcpy(both + a_len, b, b_len);
        peek_as_decoded(both, a_len + b_len, NULL, &part);
        if (!part.ok)
            fail_msg("split at %zu of %zu: %s", i, len, part.err);
        assert_same(&whole, &part);
        free(a), free(b), free(both);
    }
    for (int n = 0; n < 500; n++) {
        size_t i = (size_t)(rnd() % (len + 1)), j = i + (size_t)(rnd() % (len - i + 1));
        size_t l[3];
        uint8_t *m[3] = {gzipped(plain, i, &l[0]), gzipped(plain + i, j - i, &l[1]),
                         gzipped(plain + j, len - j, &l[2])};
        uint8_t *all = malloc(l[0] + l[1] + l[2]);
        memcpy(all, m[0], l[0]);
        memcpy(all + l[0], m[1], l[1]);
        memcpy(all + l[0] + l[1], m[2], l[2]);
        peek_as_decoded(all, l[0] + l[1] + l[2], NULL, &part);
        assert_same(&whole, &part);
        free(m[0]), free(m[1]), free(m[2]), free(all);
    }
    free(plain);
}

/* Every prefix of the plain bytes agrees with the decoder; every prefix
 * of the gzip'd bytes is refused (a gzip stream without its end). */
static void test_every_truncation(void **state)
{
    (void)state;
    size_t len, gz_len;
    uint8_t *plain = make_profile("samples/count,cpu/nanoseconds", &len);
    uint8_t *gz = gzipped(plain, len, &gz_len);
    size_t refused = 0;
    for (size_t i = 0; i < len; i++) {
        assert_consistent(plain, i);
        decoded pk;
        peek_as_decoded(plain, i, NULL, &pk);
        refused += !pk.ok;
    }
    assert_true(refused > len / 2); /* the string table comes last: most prefixes lack it */
    for (size_t i = 0; i < gz_len; i++) {
        decoded pk;
        peek_as_decoded(gz, i, NULL, &pk);
        assert_false(pk.ok);
    }
    free(plain);
    free(gz);
}

static void mutate(uint8_t *buf, size_t *len)
{
    int edits = 1 + (int)(rnd() % 4);
    for (int e = 0; e<edits && * len> 0; e++) {
        size_t at = (size_t)(rnd() % *len);
        switch (rnd() % 4) {
        case 0:
            buf[at] ^= (uint8_t)(1u << (rnd() % 8));
            break;
        case 1:
            buf[at] = (uint8_t)rnd();
            break;
        case 2:
            *len = at;
            break;
        default:
            if (at + 4 <= *len)
                memcpy(buf + at, buf + at / 2, 4);
            break;
        }
    }
}

static void test_mutations(void **state)
{
    (void)state;
    size_t len;
    uint8_t *orig = make_profile("alloc_objects/count,alloc_space/bytes", &len);
    uint8_t *buf = malloc(len);
    size_t accepted = 0;
    for (int n = 0; n < MUTATIONS; n++) {
        size_t l = len;
        memcpy(buf, orig, len);
        mutate(buf, &l);
        assert_consistent(buf, l);
        decoded pk;
        peek_as_decoded(buf, l, NULL, &pk);
        accepted += pk.ok;
    }
    assert_true(accepted > 0); /* some edits (a value, an address) keep it valid */
    assert_true(accepted < MUTATIONS);
    free(buf);
    free(orig);
}

/* Protobuf bytes written by hand. */
typedef struct wbuf {
    uint8_t b[4096];
    size_t n;
} wbuf;

static void put_varint(wbuf *w, uint64_t v)
{
    w->n += wire_put_varint(w->b + w->n, v);
}

static void put_field_varint(wbuf *w, uint32_t field, uint64_t v)
{
    put_varint(w, wire_tag(field, WIRE_VARINT));
    put_varint(w, v);
}

static void put_field_bytes(wbuf *w, uint32_t field, const void *p, size_t n)
{
    put_varint(w, wire_tag(field, WIRE_LEN));
    put_varint(w, n);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void put_string(wbuf *w, const char *s)
{
    put_field_bytes(w, PROFILE_STRING_TABLE, s, strlen(s));
}

/* sample_type {type, unit} */
static void put_type(wbuf *w, uint32_t field, uint64_t type, uint64_t unit)
{
    wbuf m = {.n = 0};
    put_field_varint(&m, 1, type);
    put_field_varint(&m, 2, unit);
    put_field_bytes(w, field, m.b, m.n);
}

/* sample {value: packed values} */
static void put_sample(wbuf *w, size_t n_values)
{
    wbuf m = {.n = 0}, v = {.n = 0};
    for (size_t i = 0; i < n_values; i++)
        put_varint(&v, 300 + i);
    put_field_bytes(&m, 2, v.b, v.n);
    put_field_bytes(w, PROFILE_SAMPLE, m.b, m.n);
}

static void expect_refusal(const wbuf *w, pp_err want_kind, const char *words)
{
    size_t plain = 0;
    pp_err kind = PP_ERR_NONE;
    char err[256] = "";
    pp_pprof *t = pprof_peek(w->b, w->n, LIMIT, &plain, &kind, err, sizeof err);
    assert_null(t);
    assert_int_equal(kind, want_kind);
    if (!strstr(err, words))
        fail_msg("want \"%s\" in \"%s\"", words, err);
}

/* A sample type written after the string table (not Go's order): the
 * second pass captures its strings. */
static void test_sample_type_after_strings(void **state)
{
    (void)state;
    wbuf w = {.n = 0};
    put_string(&w, "");
    put_string(&w, "inuse_space");
    put_string(&w, "bytes");
    put_sample(&w, 1);
    put_type(&w, PROFILE_SAMPLE_TYPE, 1, 2);
    put_field_varint(&w, PROFILE_TIME_NANOS, T0);
    decoded dec, pk;
    decode(w.b, w.n, NULL, &dec);
    peek_as_decoded(w.b, w.n, NULL, &pk);
    assert_true(pk.ok);
    assert_same(&dec, &pk);
    assert_string_equal(pk.family, "memory");
    assert_string_equal(pk.types[0][1], "bytes");
}

static void test_refusals(void **state)
{
    (void)state;
    wbuf w = {.n = 0};
    expect_refusal(&w, PP_ERR_INVALID, "empty profile");

    put_type(&w, PROFILE_SAMPLE_TYPE, 1, 2);
    put_sample(&w, 1);
    put_string(&w, "x");
    expect_refusal(&w, PP_ERR_INVALID, "string_table[0] must be \"\", got \"x\"");

    w.n = 0;
    put_type(&w, PROFILE_SAMPLE_TYPE, 1, 7);
    put_string(&w, "");
    put_string(&w, "cpu");
    expect_refusal(
        &w, PP_ERR_INVALID,
        "string index 7 out of range (string table has 2 entries) in sample_type.unit 0");

    w.n = 0;
    put_type(&w, PROFILE_SAMPLE_TYPE, 1, 0);
    put_sample(&w, 1);
    put_sample(&w, 2);
    put_string(&w, "");
    put_string(&w, "cpu");
    expect_refusal(&w, PP_ERR_INVALID, "sample 1 has 2 values, expected 1");

    w.n = 0;
    {
        wbuf m = {.n = 0};
        put_field_varint(&m, 2, 0x1000); /* memory_start, no id */
        put_field_bytes(&w, PROFILE_MAPPING, m.b, m.n);
    }
    put_string(&w, "");
    expect_refusal(&w, PP_ERR_INVALID, "mapping 0 has id 0");

    w.n = 0;
    put_field_bytes(&w, PROFILE_TIME_NANOS, "ab", 2);
    expect_refusal(&w, PP_ERR_INVALID, "Profile field 9 has wire type 2, expected 0");

    w.n = 0;
    {
        wbuf m = {.n = 0}, l = {.n = 0};
        put_field_varint(&l, 1, 99); /* label key */
        put_field_bytes(&m, 3, l.b, l.n);
        put_field_bytes(&w, PROFILE_SAMPLE, m.b, m.n);
    }
    put_string(&w, "");
    expect_refusal(&w, PP_ERR_INVALID, "string index 99 out of range");

    w.n = 0;
    for (int i = 0; i < 65; i++)
        put_type(&w, PROFILE_SAMPLE_TYPE, 0, 0);
    expect_refusal(&w, PP_ERR_INVALID, "more than 64 sample types");

    /* a truncated ValueType inside a whole Profile field */
    w.n = 0;
    put_field_bytes(&w, PROFILE_SAMPLE_TYPE, "\x08\x80", 2);
    expect_refusal(&w, PP_ERR_INVALID, "ValueType truncated");
}

/* A location {id, mapping_id, line {function_id}}, a function {id} and a
 * mapping {id}, as the ids under test need them. */
static void put_location(wbuf *w, uint64_t id, uint64_t mapping, uint64_t function)
{
    wbuf m = {.n = 0}, l = {.n = 0};
    put_field_varint(&m, 1, id);
    if (mapping)
        put_field_varint(&m, 2, mapping);
    put_field_varint(&l, 1, function);
    put_field_bytes(&m, 4, l.b, l.n);
    put_field_bytes(w, PROFILE_LOCATION, m.b, m.n);
}

static void put_with_id(wbuf *w, uint32_t field, uint64_t id)
{
    wbuf m = {.n = 0};
    put_field_varint(&m, 1, id);
    put_field_bytes(w, field, m.b, m.n);
}

/* sample {location_id: packed ids, value: one} */
static void put_sample_at(wbuf *w, const uint64_t *locs, size_t n)
{
    wbuf m = {.n = 0}, ids = {.n = 0}, v = {.n = 0};
    for (size_t i = 0; i < n; i++)
        put_varint(&ids, locs[i]);
    put_varint(&v, 7);
    put_field_bytes(&m, 1, ids.b, ids.n);
    put_field_bytes(&m, 2, v.b, v.n);
    put_field_bytes(w, PROFILE_SAMPLE, m.b, m.n);
}

/* A profile with a sample naming `ref`, locations 1..3 (or `loc_base` +
 * 0..2 times `loc_step`) on mapping `map_ref` and function `fn_ref`,
 * one mapping and three functions, the last location id written twice
 * when `dup`. */
static void ids_profile(wbuf *w, uint64_t ref, uint64_t loc_base, uint64_t loc_step,
                        uint64_t map_ref, uint64_t fn_ref, int dup)
{
    w->n = 0;
    put_type(w, PROFILE_SAMPLE_TYPE, 1, 2);
    uint64_t locs[] = {loc_base, ref};
    put_sample_at(w, locs, 2);
    put_with_id(w, PROFILE_MAPPING, 1);
    for (uint64_t i = 0; i < 3; i++)
        put_location(w, loc_base + i * loc_step, map_ref, i == 2 ? fn_ref : i + 1);
    if (dup)
        put_location(w, loc_base + 2 * loc_step, 1, 1);
    for (uint64_t i = 1; i <= 3; i++)
        put_with_id(w, PROFILE_FUNCTION, i);
    put_string(w, "");
    put_string(w, "samples");
    put_string(w, "count");
}

/* Ids as the decoder judges them: a reference to a location, mapping or
 * function that is not there, and an id written twice, are refused with
 * ids numbered 1..n (the bitmap and the ranges) and with ids far apart
 * (the decoder, once more); good ones are accepted either way. Each
 * answer is the decoder's (assert_consistent). The first was found by
 * the kafka fuzz target: a sample naming location 72 was accepted. */
static void test_ids_and_references(void **state)
{
    (void)state;
    wbuf w;
    const uint64_t far = UINT64_C(1) << 40;
    ids_profile(&w, 3, 1, 1, 1, 3, 0);
    assert_consistent(w.b, w.n);
    decoded pk;
    peek_as_decoded(w.b, w.n, NULL, &pk);
    assert_true(pk.ok);

    ids_profile(&w, 72, 1, 1, 1, 3, 0);
    assert_consistent(w.b, w.n);
    expect_refusal(&w, PP_ERR_INVALID, "sample 0 names unknown location id 72");
    ids_profile(&w, 0, 1, 1, 1, 3, 0);
    expect_refusal(&w, PP_ERR_INVALID, "unknown location id 0");
    ids_profile(&w, 3, 1, 1, 2, 3, 0);
    assert_consistent(w.b, w.n);
    expect_refusal(&w, PP_ERR_INVALID, "names unknown mapping id 2");
    ids_profile(&w, 3, 1, 1, 1, 4, 0);
    assert_consistent(w.b, w.n);
    expect_refusal(&w, PP_ERR_INVALID, "names unknown function id 4");
    ids_profile(&w, 3, 1, 1, 1, 3, 1);
    assert_consistent(w.b, w.n);
    expect_refusal(&w, PP_ERR_INVALID, "duplicate location id 3");

    /* a location's mapping_id and a line's function_id are singular: the
     * last one written counts (found by the pprof fuzz target) */
    for (int bad_last = 0; bad_last <= 1; bad_last++) {
        ids_profile(&w, 3, 1, 1, 1, 3, 0);
        wbuf m = {.n = 0}, l = {.n = 0};
        put_field_varint(&m, 1, 4);
        put_field_varint(&m, 2, bad_last ? 1 : 9);
        put_field_varint(&m, 2, bad_last ? 9 : 1);
        put_field_varint(&l, 1, bad_last ? 1 : 8);
        put_field_varint(&l, 1, bad_last ? 8 : 1);
        put_field_bytes(&m, 4, l.b, l.n);
        put_field_bytes(&w, PROFILE_LOCATION, m.b, m.n);
        assert_consistent(w.b, w.n);
        peek_as_decoded(w.b, w.n, NULL, &pk);
        assert_int_equal(pk.ok, !bad_last);
    }

    /* ids far apart: judged by the decoder */
    ids_profile(&w, far + 2 * far, far, far, 1, 3, 0);
    assert_consistent(w.b, w.n);
    peek_as_decoded(w.b, w.n, NULL, &pk);
    assert_true(pk.ok);
    ids_profile(&w, far + 5, far, far, 1, 3, 0);
    assert_consistent(w.b, w.n);
    expect_refusal(&w, PP_ERR_INVALID, "unknown location id");
    ids_profile(&w, far, far, far, 1, 3, 1);
    assert_consistent(w.b, w.n);
    expect_refusal(&w, PP_ERR_INVALID, "duplicate location id");
}

/* A singular field written twice counts once, the last one, as protobuf
 * reads it (found by the pprof fuzz target): an out-of-range
 * default_sample_type, mapping filename or label key followed by a good
 * one is accepted, a good one followed by a bad one refused; an id
 * followed by id 0 is id 0. */
static void test_last_occurrence_wins(void **state)
{
    (void)state;
    wbuf w = {.n = 0};
    put_string(&w, "");
    put_string(&w, "x");
    put_field_varint(&w, PROFILE_DEFAULT_SAMPLE_TYPE, 99);
    put_field_varint(&w, PROFILE_DEFAULT_SAMPLE_TYPE, 1);
    {
        wbuf m = {.n = 0};
        put_field_varint(&m, 1, 1);  /* id */
        put_field_varint(&m, 5, 77); /* filename */
        put_field_varint(&m, 5, 1);
        put_field_bytes(&w, PROFILE_MAPPING, m.b, m.n);
    }
    {
        wbuf m = {.n = 0}, l = {.n = 0};
        put_field_varint(&l, 1, 55); /* key */
        put_field_varint(&l, 1, 1);
        put_field_bytes(&m, 3, l.b, l.n);
        put_field_bytes(&w, PROFILE_SAMPLE, m.b, m.n);
    }
    assert_consistent(w.b, w.n);
    decoded pk;
    peek_as_decoded(w.b, w.n, NULL, &pk);
    assert_true(pk.ok);

    put_field_varint(&w, PROFILE_DEFAULT_SAMPLE_TYPE, 99);
    assert_consistent(w.b, w.n);
    expect_refusal(&w, PP_ERR_INVALID, "string index 99 out of range");

    w.n = 0;
    put_string(&w, "");
    {
        wbuf m = {.n = 0};
        put_field_varint(&m, 1, 3);
        put_field_varint(&m, 1, 0);
        put_field_bytes(&w, PROFILE_FUNCTION, m.b, m.n);
    }
    assert_consistent(w.b, w.n);
    expect_refusal(&w, PP_ERR_INVALID, "function 0 has id 0");
}

/* period_type is a singular message: protobuf merges its occurrences
 * field by field, so a bad index in one that a later one overrides is
 * no error, and one that no later occurrence sets stays (the fuzzer
 * found the peek checking each occurrence alone:
 * regressions/peek-period-type-occurrences-merge). */
static void test_period_type_merges(void **state)
{
    (void)state;
    wbuf w = {.n = 0};
    put_string(&w, "");
    put_string(&w, "x");
    put_type(&w, PROFILE_PERIOD_TYPE, 1, 99);
    put_type(&w, PROFILE_PERIOD_TYPE, 1, 1);
    assert_consistent(w.b, w.n);
    decoded pk;
    peek_as_decoded(w.b, w.n, NULL, &pk);
    assert_true(pk.ok);

    w.n = 0;
    put_string(&w, "");
    put_string(&w, "x");
    put_type(&w, PROFILE_PERIOD_TYPE, 1, 99);
    {
        wbuf m = {.n = 0};
        put_field_varint(&m, 1, 1); /* type only: the unit stays 99 */
        put_field_bytes(&w, PROFILE_PERIOD_TYPE, m.b, m.n);
    }
    assert_consistent(w.b, w.n);
    expect_refusal(&w, PP_ERR_INVALID, "string index 99 out of range");
}

/* PPROF_MAX_SAMPLE_TYPES sample types pass both readers; one more is
 * refused by both, with the same words (the fuzzer found the decoder
 * taking 65 that the peek refused: regressions/peek-more-sample-types-than-decoder). */
static void test_sample_type_limit(void **state)
{
    (void)state;
    wbuf w = {.n = 0};
    put_string(&w, "");
    for (int i = 0; i < PPROF_MAX_SAMPLE_TYPES; i++)
        put_type(&w, PROFILE_SAMPLE_TYPE, 0, 0);
    decoded dec, pk;
    decode(w.b, w.n, NULL, &dec);
    peek_as_decoded(w.b, w.n, NULL, &pk);
    assert_true(dec.ok);
    assert_true(pk.ok);
    assert_consistent(w.b, w.n);

    put_type(&w, PROFILE_SAMPLE_TYPE, 0, 0);
    decode(w.b, w.n, NULL, &dec);
    assert_false(dec.ok);
    if (!strstr(dec.err, "more than 64 sample types"))
        fail_msg("decoder: %s", dec.err);
    expect_refusal(&w, PP_ERR_INVALID, "more than 64 sample types");
    assert_consistent(w.b, w.n);
}

/* A type string past the limit is refused; a unit that long is kept cut. */
static void test_long_strings(void **state)
{
    (void)state;
    char longs[600];
    memset(longs, 'n', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    wbuf w = {.n = 0};
    put_type(&w, PROFILE_SAMPLE_TYPE, 1, 2);
    put_sample(&w, 1);
    put_string(&w, "");
    put_string(&w, "cpu");
    put_string(&w, longs);
    decoded pk;
    peek_as_decoded(w.b, w.n, NULL, &pk);
    assert_true(pk.ok);
    assert_string_equal(pk.family, "process_cpu");
    w.n = 0;
    put_type(&w, PROFILE_SAMPLE_TYPE, 1, 0);
    put_sample(&w, 1);
    put_string(&w, "");
    put_string(&w, longs);
    expect_refusal(&w, PP_ERR_INVALID, "longer than 256 bytes");
}

/* Too large before unreadable: a bomb of zeros is PP_ERR_TOO_LARGE, at
 * the limit given; within it, the same bytes are a bad protobuf. */
static void test_limit(void **state)
{
    (void)state;
    size_t big = (size_t)1 << 20, gz_len, plain_len;
    uint8_t *zeros = calloc(1, big);
    uint8_t *gz = gzipped(zeros, big, &gz_len);
    pp_err kind;
    char err[256];
    assert_null(pprof_peek(gz, gz_len, big - 1, &plain_len, &kind, err, sizeof err));
    assert_int_equal(kind, PP_ERR_TOO_LARGE);
    assert_null(pprof_peek(gz, gz_len, big, &plain_len, &kind, err, sizeof err));
    assert_int_equal(kind, PP_ERR_INVALID);
    assert_non_null(strstr(err, "field number 0"));
    size_t len;
    uint8_t *plain = make_profile("samples/count,cpu/nanoseconds", &len);
    assert_null(pprof_peek(plain, len, len - 1, &plain_len, &kind, err, sizeof err));
    assert_int_equal(kind, PP_ERR_TOO_LARGE);
    pp_pprof *t = pprof_peek(plain, len, len, &plain_len, &kind, err, sizeof err);
    assert_non_null(t);
    assert_int_equal(plain_len, len);
    free(t);
    free(plain);
    free(zeros);
    free(gz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_match_family),        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_every_truncation),          cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_sample_type_after_strings), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_ids_and_references),        cmocka_unit_test(test_long_strings),
        cmocka_unit_test(test_last_occurrence_wins),      cmocka_unit_test(test_sample_type_limit),
        cmocka_unit_test(test_period_type_merges),        cmocka_unit_test(test_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
