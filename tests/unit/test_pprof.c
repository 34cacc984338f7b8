/* Unit tests of the pprof codec and tree helpers: round trip of a
 * hand-built tree (checked with protobuf-c as an independent decoder),
 * every malformed input the decoder must reject with its message, the gzip
 * limit, compact, merge, intern, lookups by id and the profile family. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "gz_member.h"
#include "pprof_internal.h"
#include "profile.pb-c.h"

#define ERR_LEN 512
#define T0 1700000000000000000LL
#define SEC 1000000000LL

#define S(p, str) pprof_intern((p), (str))

/* A small CPU-like profile: 2 sample types, 1 mapping, 3 functions,
 * 3 locations (one with an inlined frame), 2 samples with labels. */
static pp_profile *fixture(void)
{
    pp_profile *p = profile_new();
    pp_pprof *t = profile_tree_new(p);
    t->n_sample_types = 2;
    t->sample_types = profile_alloc(p, 2 * sizeof(pp_value_type));
    t->sample_types[0] = (pp_value_type){S(p, "samples"), S(p, "count")};
    t->sample_types[1] = (pp_value_type){S(p, "cpu"), S(p, "nanoseconds")};
    t->period_type = (pp_value_type){S(p, "cpu"), S(p, "nanoseconds")};
    t->period = 10000000;
    t->time_nanos = T0;
    t->duration_nanos = SEC;
    t->n_mappings = 1;
    t->mappings = profile_alloc(p, sizeof(pp_mapping));
    t->mappings[0] =
        (pp_mapping){1, 0x400000, 0x500000, 0, S(p, "/bin/app"), S(p, "abc"), 1, 1, 1, 0};
    t->n_functions = 3;
    t->functions = profile_alloc(p, 3 * sizeof(pp_function));
    const char *names[] = {"main.main", "main.work", "main.inner"};
    for (int i = 0; i < 3; i++)
        t->functions[i] = (pp_function){(uint64_t)i + 1, S(p, names[i]), S(p, names[i]),
                                        S(p, "main.go"), 10 * (i + 1)};
    t->n_locations = 3;
    t->locations = profile_alloc(p, 3 * sizeof(pp_location));
    for (int i = 0; i < 3; i++) {
        pp_location *l = &t->locations[i];
        l->id = (uint64_t)i + 1;
        l->mapping_id = 1;
        l->address = 0x401000 + 0x1000 * (uint64_t)i;
        l->n_lines = i == 2 ? 2 : 1;
        l->lines = profile_alloc(p, l->n_lines * sizeof(pp_line));
        l->lines[0] = (pp_line){(uint64_t)i + 1, 12 + i, 0};
        if (i == 2)
            l->lines[1] = (pp_line){2, 25, 3};
    }
    t->n_samples = 2;
    t->samples = profile_alloc(p, 2 * sizeof(pp_sample));
    uint64_t stacks[2][2] = {{3, 1}, {2, 1}};
    for (int i = 0; i < 2; i++) {
        pp_sample *s = &t->samples[i];
        s->n_location_ids = 2;
        s->location_ids = profile_alloc(p, 2 * sizeof(uint64_t));
        memcpy(s->location_ids, stacks[i], sizeof(stacks[i]));
        s->n_values = 2;
        s->values = profile_alloc(p, 2 * sizeof(int64_t));
        s->values[0] = 5 + 2 * i;
        s->values[1] = (5 + 2 * i) * 10000000LL;
    }
    pp_sample *s0 = &t->samples[0];
    s0->n_labels = 2;
    s0->labels = profile_alloc(p, 2 * sizeof(pp_label));
    s0->labels[0] = (pp_label){S(p, "thread"), S(p, "t1"), 0, 0};
    s0->labels[1] = (pp_label){S(p, "bytes"), 0, 1024, S(p, "bytes")};
    t->n_comments = 1;
    t->comments = profile_alloc(p, sizeof(int64_t));
    t->comments[0] = S(p, "hello");
    t->drop_frames = S(p, "runtime\\..*");
    t->default_sample_type = S(p, "cpu");
    return p;
}

static const char *str(const pp_pprof *t, int64_t i)
{
    return t->strings[i];
}

/* Encodes p's tree (no validation on the way) and decodes it again. */
static const pp_pprof *reencode(pp_profile *p, pp_profile **out, char *err)
{
    const uint8_t *gz;
    size_t len;
    assert_int_equal(profile_raw_gz(p, &gz, &len, err, ERR_LEN), 0);
    *out = profile_new();
    assert_int_equal(profile_set_raw(*out, gz, len), 0);
    return profile_tree(*out, err, ERR_LEN);
}

static void test_roundtrip(void **state)
{
    (void)state;
    char err[ERR_LEN] = "";
    pp_profile *p = fixture(), *q;
    const pp_pprof *t = reencode(p, &q, err);
    assert_non_null(t);
    assert_int_equal(t->n_sample_types, 2);
    assert_string_equal(str(t, t->sample_types[1].type), "cpu");
    assert_string_equal(str(t, t->sample_types[1].unit), "nanoseconds");
    assert_string_equal(str(t, t->period_type.type), "cpu");
    assert_int_equal(t->period, 10000000);
    assert_int_equal(t->time_nanos, T0);
    assert_int_equal(t->duration_nanos, SEC);
    assert_int_equal(t->n_mappings, 1);
    assert_int_equal(t->mappings[0].memory_limit, 0x500000);
    assert_string_equal(str(t, t->mappings[0].build_id), "abc");
    assert_true(t->mappings[0].has_line_numbers);
    assert_false(t->mappings[0].has_inline_frames);
    assert_int_equal(t->n_functions, 3);
    assert_string_equal(str(t, t->functions[2].name), "main.inner");
    assert_int_equal(t->functions[2].start_line, 30);
    assert_int_equal(t->n_locations, 3);
    assert_int_equal(t->locations[2].n_lines, 2);
    assert_int_equal(t->locations[2].lines[1].function_id, 2);
    assert_int_equal(t->locations[2].lines[1].column, 3);
    assert_int_equal(t->n_samples, 2);
    assert_int_equal(t->samples[0].location_ids[0], 3);
    assert_int_equal(t->samples[1].values[1], 70000000);
    assert_int_equal(t->samples[0].n_labels, 2);
    assert_string_equal(str(t, t->samples[0].labels[0].str), "t1");
    assert_int_equal(t->samples[0].labels[1].num, 1024);
    assert_string_equal(str(t, t->samples[0].labels[1].num_unit), "bytes");
    assert_string_equal(str(t, t->comments[0]), "hello");
    assert_string_equal(str(t, t->drop_frames), "runtime\\..*");
    assert_string_equal(str(t, t->default_sample_type), "cpu");
    profile_free(q);
    profile_free(p);
}

/* protobuf-c, generated from our proto/profile.proto, reads what we write. */
static void test_encode_read_by_protobuf_c(void **state)
{
    (void)state;
    pp_profile *p = fixture();
    uint8_t *plain;
    size_t len;
    assert_int_equal(pprof_encode(profile_tree(p, NULL, 0), &plain, &len), 0);
    Perftools__Profiles__Profile *m = perftools__profiles__profile__unpack(NULL, len, plain);
    assert_non_null(m);
    assert_int_equal(m->n_sample, 2);
    assert_int_equal(m->sample[1]->value[0], 7);
    assert_string_equal(m->string_table[0], "");
    assert_string_equal(m->string_table[m->function[0]->name], "main.main");
    assert_int_equal(m->location[2]->n_line, 2);
    assert_int_equal(m->time_nanos, T0);
    assert_int_equal(m->period_type->type, m->sample_type[1]->type);
    perftools__profiles__profile__free_unpacked(m, NULL);
    free(plain);
    profile_free(p);
}

/* ---------------- malformed trees ---------------- */

typedef struct breakage {
    const char *name;
    void (*apply)(pp_pprof *t);
    const char *want; /* substring of the error */
} breakage;

static void b_string0(pp_pprof *t)
{
    t->strings[0] = "x";
}
static void b_fn_name(pp_pprof *t)
{
    t->functions[1].name = 999;
}
static void b_fn_negative(pp_pprof *t)
{
    t->functions[0].filename = -1;
}
static void b_label_key(pp_pprof *t)
{
    t->samples[0].labels[0].key = 500;
}
static void b_label_unit(pp_pprof *t)
{
    t->samples[0].labels[1].num_unit = 500;
}
static void b_sample_type(pp_pprof *t)
{
    t->sample_types[0].unit = 77;
}
static void b_period_type(pp_pprof *t)
{
    t->period_type.type = 77;
}
static void b_mapping_file(pp_pprof *t)
{
    t->mappings[0].filename = 77;
}
static void b_comment(pp_pprof *t)
{
    t->comments[0] = 77;
}
static void b_drop(pp_pprof *t)
{
    t->drop_frames = 77;
}
static void b_values(pp_pprof *t)
{
    t->samples[1].n_values = 1;
}
static void b_loc_zero(pp_pprof *t)
{
    t->locations[1].id = 0;
}
static void b_loc_dup(pp_pprof *t)
{
    t->locations[2].id = 1;
}
static void b_fn_zero(pp_pprof *t)
{
    t->functions[0].id = 0;
}
static void b_fn_dup(pp_pprof *t)
{
    t->functions[2].id = 2;
}
static void b_map_zero(pp_pprof *t)
{
    t->mappings[0].id = 0;
}
static void b_map_dup(pp_pprof *t)
{
    static pp_mapping two[2];
    two[0] = two[1] = t->mappings[0];
    t->mappings = two;
    t->n_mappings = 2;
}
static void b_unknown_loc(pp_pprof *t)
{
    t->samples[1].location_ids[0] = 42;
}
static void b_unknown_fn(pp_pprof *t)
{
    t->locations[0].lines[0].function_id = 42;
}
static void b_unknown_map(pp_pprof *t)
{
    t->locations[2].mapping_id = 9;
}

static const breakage breakages[] = {
    {"string0", b_string0, "string_table[0] must be \"\", got \"x\""},
    {"fn name", b_fn_name, "string index 999 out of range (string table has"},
    {"fn negative", b_fn_negative, "string index -1 out of range"},
    {"label key", b_label_key, "string index 500 out of range"},
    {"label unit", b_label_unit, "in label.num_unit of sample 0"},
    {"sample type", b_sample_type, "in sample_type.unit 0"},
    {"period type", b_period_type, "in period_type.type"},
    {"mapping file", b_mapping_file, "in mapping.filename 0"},
    {"comment", b_comment, "in comment 0"},
    {"drop frames", b_drop, "in drop_frames"},
    {"values", b_values, "sample 1 has 1 values, expected 2 (one per sample type)"},
    {"loc zero", b_loc_zero, "location 1 has id 0"},
    {"loc dup", b_loc_dup, "duplicate location id 1"},
    {"fn zero", b_fn_zero, "function 0 has id 0"},
    {"fn dup", b_fn_dup, "duplicate function id 2"},
    {"map zero", b_map_zero, "mapping 0 has id 0"},
    {"map dup", b_map_dup, "duplicate mapping id 1"},
    {"unknown loc", b_unknown_loc, "sample 1 names unknown location id 42"},
    {"unknown fn", b_unknown_fn, "location 1 names unknown function id 42"},
    {"unknown map", b_unknown_map, "location 3 names unknown mapping id 9"},
};

static void test_malformed_trees(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(breakages) / sizeof(breakages[0]); i++) {
        char err[ERR_LEN] = "";
        pp_profile *p = fixture();
        breakages[i].apply(profile_tree_mut(p, NULL, 0));
        uint8_t *plain;
        size_t len;
        assert_int_equal(pprof_encode(&p->tree, &plain, &len), 0);
        pp_profile *q = profile_new();
        assert_int_equal(profile_set_raw(q, plain, len), 0);
        const pp_pprof *t = profile_tree(q, err, sizeof(err));
        if (t || !strstr(err, breakages[i].want))
            fail_msg("%s: got \"%s\", want \"%s\"", breakages[i].name, err, breakages[i].want);
        /* still unusable on a second try, and nothing leaks */
        assert_null(profile_tree(q, err, sizeof(err)));
        free(plain);
        profile_free(q);
        profile_free(p);
    }
}

/* ---------------- malformed bytes ---------------- */

static void expect_decode_error(const void *data, size_t len, const char *want)
{
    char err[ERR_LEN] = "";
    pp_profile *p = profile_new();
    assert_int_equal(profile_set_raw(p, data, len), 0);
    if (profile_tree(p, err, sizeof(err)) || !strstr(err, want))
        fail_msg("got \"%s\", want \"%s\"", err, want);
    profile_free(p);
}

static void test_malformed_bytes(void **state)
{
    (void)state;
    expect_decode_error("", 0, "empty profile");
    /* field 1 (sample_type) claims 0x7f bytes, has 1 */
    expect_decode_error("\x0a\x7f\x08", 3,
                        "bad protobuf: Profile: length-delimited field runs past");
    /* field 9 varint cut short */
    expect_decode_error("\x48\x80", 2, "bad protobuf: Profile: truncated varint");
    /* varint longer than 10 bytes */
    expect_decode_error("\x48\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12,
                        "bad protobuf: Profile: truncated varint");
    /* wire type 3 (start group) */
    expect_decode_error("\x0b", 1, "unsupported wire type");
    /* field number 0 */
    expect_decode_error("\x00\x00", 2, "invalid field number");
    /* sample (field 2) given as a varint */
    expect_decode_error("\x10\x01", 2, "Profile field 2 has wire type 0, expected 2");
    /* a sample whose location list is a truncated packed varint */
    expect_decode_error("\x12\x03\x0a\x01\x80", 5, "Sample.location_id: truncated packed varint");
    /* nested message with a bad field inside */
    expect_decode_error("\x0a\x02\x08\x80", 4, "bad protobuf: ValueType: truncated varint");
    /* only time_nanos: no string table at all */
    expect_decode_error("\x48\x01", 2, "string table is empty");
    /* gzip magic then garbage */
    expect_decode_error("\x1f\x8b\x08\x00garbagegarbage", 18, "bad gzip");
}

static void test_truncated_gzip(void **state)
{
    (void)state;
    pp_profile *p = fixture();
    const uint8_t *gz;
    size_t len;
    assert_int_equal(profile_raw_gz(p, &gz, &len, NULL, 0), 0);
    expect_decode_error(gz, len / 2, "bad gzip: truncated stream");
    expect_decode_error(gz, len - 4, "bad gzip");
    /* a valid stream followed by junk */
    uint8_t *junk = malloc(len + 3);
    memcpy(junk, gz, len);
    memcpy(junk + len, "xyz", 3);
    expect_decode_error(junk, len + 3, "3 bytes of trailing garbage");
    free(junk);
    profile_free(p);
}

/* gz_gunzip says why it failed as a kind, whatever its message says. */
static void test_gunzip_kind(void **state)
{
    (void)state;
    const size_t zeros = (size_t)1 << 16;
    uint8_t *plain = calloc(1, zeros), *gz, *out;
    size_t gz_len, out_len;
    assert_int_equal(gz_gzip(plain, zeros, &gz, &gz_len), 0);
    pp_err kind = PP_ERR_INVALID;
    assert_int_equal(gz_gunzip(gz, gz_len, zeros, &out, &out_len, &kind, NULL, 0), 0);
    assert_int_equal(kind, PP_ERR_NONE);
    free(out);
    assert_int_equal(gz_gunzip(gz, gz_len, zeros - 1, &out, &out_len, &kind, NULL, 0), -1);
    assert_int_equal(kind, PP_ERR_TOO_LARGE);
    assert_int_equal(gz_gunzip(gz, gz_len / 2, zeros, &out, &out_len, &kind, NULL, 0), -1);
    assert_int_equal(kind, PP_ERR_INVALID); /* truncated */
    assert_int_equal(gz_gunzip("plain", 5, zeros, &out, &out_len, &kind, NULL, 0), -1);
    assert_int_equal(kind, PP_ERR_INVALID); /* no gzip magic */
    free(gz);
    free(plain);
}

static void test_gzip_bomb(void **state)
{
    (void)state;
    const size_t zeros = (size_t)8 << 20, limit = (size_t)1 << 20;
    uint8_t *plain = calloc(1, zeros), *gz, *out = (uint8_t *)"x";
    size_t gz_len, out_len = 1;
    assert_int_equal(gz_gzip(plain, zeros, &gz, &gz_len), 0);
    assert_true(gz_len < zeros / 100);
    char err[ERR_LEN] = "";
    assert_int_equal(gz_gunzip(gz, gz_len, limit, &out, &out_len, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "exceeds the limit of 1048576 bytes"));
    assert_null(out);
    assert_int_equal(out_len, 0);
    /* with room enough it inflates exactly */
    assert_int_equal(gz_gunzip(gz, gz_len, zeros * 2, &out, &out_len, NULL, err, sizeof(err)), 0);
    assert_int_equal(out_len, zeros);
    assert_memory_equal(out, plain, zeros);
    free(out);
    free(gz);
    free(plain);
}

static void test_gzip_concatenated(void **state)
{
    (void)state;
    uint8_t *a, *b, *out;
    size_t al, bl, ol;
    assert_int_equal(gz_gzip("hello ", 6, &a, &al), 0);
    assert_int_equal(gz_gzip("world", 5, &b, &bl), 0);
    uint8_t *both = malloc(al + bl);
    memcpy(both, a, al);
    memcpy(both + al, b, bl);
    assert_int_equal(gz_gunzip(both, al + bl, 100, &out, &ol, NULL, NULL, 0), 0);
    assert_int_equal(ol, 11);
    assert_memory_equal(out, "hello world", 11);
    free(out);
    /* the limit is exact: 11 bytes fit in 11, not in 10 */
    assert_int_equal(gz_gunzip(both, al + bl, 11, &out, &ol, NULL, NULL, 0), 0);
    free(out);
    assert_int_equal(gz_gunzip(both, al + bl, 10, &out, &ol, NULL, NULL, 0), -1);
    assert_int_equal(gz_gunzip(a, al, 6, &out, &ol, NULL, NULL, 0), 0);
    free(out);
    assert_int_equal(gz_gunzip(a, al, 5, &out, &ol, NULL, NULL, 0), -1);
    free(both);
    free(a);
    free(b);
}

/* ---------------- tree helpers ---------------- */

/* A gzip member's trailer states its size (ISIZE): gz_gunzip sizes its
 * first buffer from it, but a member that does not fit (the first of two,
 * whose last is tiny) grows the buffer, and the limit stays exact. */
static void test_gunzip_grows_past_isize(void **state)
{
    (void)state;
    const size_t big = (size_t)1 << 20;
    uint8_t *plain = malloc(big), *a, *b, *out;
    for (size_t i = 0; i < big; i++)
        plain[i] = (uint8_t)(i * 7 + (i >> 9));
    size_t al, bl, ol;
    assert_int_equal(gz_gzip(plain, big, &a, &al), 0);
    assert_int_equal(gz_gzip("x", 1, &b, &bl), 0);
    uint8_t *both = malloc(al + bl);
    memcpy(both, a, al);
    memcpy(both + al, b, bl);
    pp_err kind = PP_ERR_INVALID;
    assert_int_equal(gz_gunzip(both, al + bl, big + 1, &out, &ol, &kind, NULL, 0), 0);
    assert_int_equal(kind, PP_ERR_NONE);
    assert_int_equal(ol, big + 1);
    assert_memory_equal(out, plain, big);
    assert_int_equal(out[big], 'x');
    free(out);
    char err[ERR_LEN] = "";
    assert_int_equal(gz_gunzip(both, al + bl, big, &out, &ol, &kind, err, sizeof err), -1);
    assert_int_equal(kind, PP_ERR_TOO_LARGE);
    assert_non_null(strstr(err, "exceeds the limit of 1048576 bytes"));
    assert_null(out);
    /* a trailer that lies (here: 4 GiB - 1 for 5 bytes) is refused, by
     * its name, and nothing that size is allocated for a short input */
    uint8_t *c;
    size_t cl;
    assert_int_equal(gz_gzip("hello", 5, &c, &cl), 0);
    memset(c + cl - 4, 0xff, 4);
    assert_int_equal(gz_gunzip(c, cl, PROFILE_MAX_DECOMPRESSED, &out, &ol, &kind, err, sizeof err),
                     -1);
    assert_int_equal(kind, PP_ERR_INVALID);
    assert_non_null(strstr(err, "bad gzip: incorrect length check"));
    /* one that says too little (0) for a valid body is refused likewise */
    memset(c + cl - 4, 0, 4);
    assert_int_equal(gz_gunzip(c, cl, 100, &out, &ol, &kind, err, sizeof err), -1);
    assert_int_equal(kind, PP_ERR_INVALID);
    free(c);
    free(both);
    free(a);
    free(b);
    free(plain);
}

/* A member with a header CRC (FHCRC, which libdeflate skips unchecked) is
 * judged by zlib: refused when the CRC is wrong, as it always was. */
static void test_gunzip_header_crc(void **state)
{
    (void)state;
    uint8_t *gz, *out;
    size_t gl, ol;
    assert_int_equal(gz_gzip("hello", 5, &gz, &gl), 0);
    assert_int_equal(gz[3], 0); /* no flags: a 10-byte header */
    uint8_t *m = malloc(gl + 2);
    gz_member_with_header_crc(gz, gl, m);
    assert_int_equal(gz_gunzip(m, gl + 2, 100, &out, &ol, NULL, NULL, 0), 0);
    assert_int_equal(ol, 5);
    assert_memory_equal(out, "hello", 5);
    free(out);
    m[10] ^= 1;
    char err[ERR_LEN] = "";
    pp_err kind = PP_ERR_NONE;
    assert_int_equal(gz_gunzip(m, gl + 2, 100, &out, &ol, &kind, err, sizeof err), -1);
    assert_int_equal(kind, PP_ERR_INVALID);
    assert_non_null(strstr(err, "bad gzip: header crc mismatch"));
    free(m);
    free(gz);
}

/* zlib's inflate of all of in (members one after another) into at most
 * cap bytes: the reference gz_gunzip must agree with. The size, or -1
 * when zlib refuses the input or it does not fit. */
static long zlib_reference(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    long rc = -1;
    for (;;) {
        int zr = inflate(&zs, Z_FINISH);
        if (zr != Z_STREAM_END)
            break;
        if (zs.avail_in == 0) {
            rc = (long)(cap - zs.avail_out);
            break;
        }
        if (zs.avail_in < 2 || zs.next_in[0] != 0x1f || zs.next_in[1] != 0x8b)
            break;
        inflateReset(&zs);
    }
    inflateEnd(&zs);
    return rc;
}

/* Many mutated and truncated gzip streams: gz_gunzip (libdeflate, zlib
 * where libdeflate refuses) accepts exactly what zlib accepts, with the
 * same bytes, and refuses the rest with a kind and a "gzip" message. */
static void test_gunzip_mutations_agree_with_zlib(void **state)
{
    (void)state;
    uint8_t plain[3000];
    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (uint8_t)("profile"[i % 7] + (i % 251 == 0));
    uint8_t *gz, *m, *out, ref[sizeof plain * 2];
    size_t gl, ol;
    assert_int_equal(gz_gzip(plain, sizeof plain, &gz, &gl), 0);
    m = malloc(gl * 2);
    uint32_t x = 2463534242u;
    int accepted = 0, refused = 0;
    for (int iter = 0; iter < 4000; iter++) {
        memcpy(m, gz, gl);
        memcpy(m + gl, gz, gl); /* a second member, when kept */
        size_t len = gl;
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        switch (x % 6) {
        case 0: /* flip 1-3 bytes (never the magic) */
            for (uint32_t k = 0; k <= (x >> 8) % 3; k++)
                m[2 + (x >> (10 + k * 5)) % (gl - 2)] ^= (uint8_t)(1u << ((x >> 20) % 8));
            break;
        case 1: /* truncate */
            len = 2 + (x >> 4) % (gl - 2);
            break;
        case 2: /* two members, the second maybe cut */
            len = gl + (x >> 4) % (gl + 1);
            break;
        case 3: /* trailing bytes */
            len = gl + 1 + (x >> 4) % 8;
            m[gl] = (uint8_t)(x >> 16);
            break;
        case 4: /* two whole members */
            len = gl * 2;
            break;
        default: /* a header byte no reader checks: MTIME, XFL, OS */
            m[4 + (x >> 4) % 6] ^= (uint8_t)(x >> 12);
            break;
        }
        size_t limit = (x >> 28) == 0 ? 100 : sizeof ref;
        long want = zlib_reference(m, len, ref, limit);
        char err[ERR_LEN] = "";
        pp_err kind = PP_ERR_NONE;
        int rc = gz_gunzip(m, len, limit, &out, &ol, &kind, err, sizeof err);
        if (want >= 0) {
            assert_int_equal(rc, 0);
            assert_int_equal(ol, (size_t)want);
            assert_memory_equal(out, ref, ol);
            free(out);
            accepted++;
        } else {
            assert_int_equal(rc, -1);
            assert_true(kind == PP_ERR_INVALID || kind == PP_ERR_TOO_LARGE);
            assert_non_null(strstr(err, "gzip"));
            assert_null(out);
            refused++;
        }
    }
    assert_true(accepted > 100 && refused > 100);
    free(m);
    free(gz);
}

static void test_intern(void **state)
{
    (void)state;
    pp_profile *p = fixture();
    pp_pprof *t = profile_tree_mut(p, NULL, 0);
    size_t n = t->n_strings;
    int64_t cpu = S(p, "cpu");
    assert_string_equal(t->strings[cpu], "cpu");
    assert_int_equal(S(p, "cpu"), cpu);
    assert_int_equal(S(p, ""), 0);
    assert_int_equal(t->n_strings, n);
    int64_t fresh = S(p, "brand new");
    assert_int_equal(fresh, (int64_t)n);
    assert_int_equal(t->n_strings, n + 1);
    for (int i = 0; i < 200; i++) { /* grows the table and the map */
        char name[32];
        snprintf(name, sizeof(name), "s%d", i);
        assert_int_equal(S(p, name), (int64_t)(n + 1 + (size_t)i));
    }
    assert_int_equal(S(p, "brand new"), fresh);
    assert_int_equal(S(p, "s17"), (int64_t)(n + 18));
    /* a processor replaces the table: interning follows the new one */
    const char **mine = profile_alloc(p, 2 * sizeof(char *));
    mine[0] = "";
    mine[1] = "only";
    t->strings = mine;
    t->n_strings = 2;
    assert_int_equal(S(p, "only"), 1);
    assert_int_equal(S(p, "cpu"), 2);
    assert_string_equal(t->strings[2], "cpu");
    profile_free(p);
}

static void test_lookup_by_id(void **state)
{
    (void)state;
    pp_profile *p = fixture();
    pp_pprof *t = profile_tree_mut(p, NULL, 0);
    assert_ptr_equal(pprof_location(p, 2), &t->locations[1]);
    assert_null(pprof_location(p, 0));
    assert_null(pprof_location(p, 4));
    assert_ptr_equal(pprof_function(p, 3), &t->functions[2]);
    /* sparse ids in a replaced array */
    pp_function *fns = profile_alloc(p, 3 * sizeof(pp_function));
    memcpy(fns, t->functions, 3 * sizeof(pp_function));
    fns[0].id = 1000;
    fns[1].id = 7;
    fns[2].id = 123456789;
    t->functions = fns;
    assert_ptr_equal(pprof_function(p, 7), &fns[1]);
    assert_ptr_equal(pprof_function(p, 123456789), &fns[2]);
    assert_null(pprof_function(p, 2));
    /* an id edited in place: the stale entry is noticed and the index rebuilt */
    fns[1].id = 8;
    assert_null(pprof_function(p, 7));
    assert_ptr_equal(pprof_function(p, 8), &fns[1]);
    /* array shrunk */
    t->n_functions = 1;
    assert_null(pprof_function(p, 8));
    assert_ptr_equal(pprof_function(p, 1000), &fns[0]);
    profile_free(p);
}

/* Appends a sample with the given stack, values and one string label. */
static void add_sample(pp_profile *p, const uint64_t *locs, size_t n, int64_t v0, int64_t v1,
                       const char *label)
{
    pp_pprof *t = &p->tree;
    pp_sample *ns = profile_alloc(p, (t->n_samples + 1) * sizeof(pp_sample));
    if (t->n_samples)
        memcpy(ns, t->samples, t->n_samples * sizeof(pp_sample));
    pp_sample *s = &ns[t->n_samples];
    s->location_ids = profile_alloc(p, n * sizeof(uint64_t));
    memcpy(s->location_ids, locs, n * sizeof(uint64_t));
    s->n_location_ids = n;
    s->values = profile_alloc(p, 2 * sizeof(int64_t));
    s->values[0] = v0;
    s->values[1] = v1;
    s->n_values = 2;
    if (label) {
        s->labels = profile_alloc(p, sizeof(pp_label));
        s->labels[0] = (pp_label){S(p, "thread"), S(p, label), 0, 0};
        s->n_labels = 1;
    }
    t->samples = ns;
    t->n_samples++;
}

/* Many samples over few identities (stack x label), interleaved: each
 * identity ends as one sample holding the sum of its copies, in the
 * order of its first copy. */
static void test_compact_many_duplicates(void **state)
{
    (void)state;
    enum { IDS = 60, COPIES = 10 };
    static const char *const threads[] = {NULL, "a", "b"};
    pp_profile *p = fixture();
    pp_pprof *t = profile_tree_mut(p, NULL, 0);
    t->n_samples = 0; /* the fixture's locations, our samples only */
    for (int c = 0; c < COPIES; c++)
        for (int i = 0; i < IDS; i++) {
            uint64_t stack[] = {(uint64_t)(i % 3) + 1, (uint64_t)((i / 3) % 3) + 1,
                                (uint64_t)((i / 9) % 3) + 1};
            add_sample(p, stack, 1 + (size_t)(i / 27), i + 1, c, threads[(i / 3) % 3]);
        }
    assert_int_equal(pprof_compact(p), 0);
    /* identities: stack (i%3, i/3%3, i/9%3) cut to 1 + i/27 frames, and
     * the thread chosen by i/3%3; count them the slow way */
    size_t distinct = 0;
    for (int i = 0; i < IDS; i++) {
        int first = 1;
        for (int j = 0; j < i && first; j++) {
            size_t ni = 1 + (size_t)(i / 27), nj = 1 + (size_t)(j / 27);
            int same = ni == nj && (i / 3) % 3 == (j / 3) % 3 && i % 3 == j % 3;
            if (same && ni > 2)
                same = (i / 9) % 3 == (j / 9) % 3;
            first = !same;
        }
        distinct += first;
    }
    assert_int_equal(t->n_samples, distinct);
    int64_t sum0 = 0, sum1 = 0, want0 = 0, want1 = 0;
    for (size_t k = 0; k < t->n_samples; k++) {
        sum0 += t->samples[k].values[0];
        sum1 += t->samples[k].values[1];
    }
    for (int c = 0; c < COPIES; c++)
        for (int i = 0; i < IDS; i++) {
            want0 += i + 1;
            want1 += c;
        }
    assert_int_equal(sum0, want0);
    assert_int_equal(sum1, want1);
    /* no two kept samples are the same identity */
    for (size_t a = 0; a < t->n_samples; a++)
        for (size_t b = a + 1; b < t->n_samples; b++) {
            const pp_sample *x = &t->samples[a], *y = &t->samples[b];
            int same = x->n_location_ids == y->n_location_ids && x->n_labels == y->n_labels &&
                       memcmp(x->location_ids, y->location_ids,
                              x->n_location_ids * sizeof(uint64_t)) == 0 &&
                       (x->n_labels == 0 || x->labels[0].str == y->labels[0].str);
            assert_false(same);
        }
    profile_free(p);
}

static void test_compact(void **state)
{
    (void)state;
    pp_profile *p = fixture();
    pp_pprof *t = profile_tree_mut(p, NULL, 0);
    uint64_t stack[] = {2, 1};
    add_sample(p, stack, 2, 3, 30, NULL); /* same as sample 1: summed */
    add_sample(p, stack, 2, 0, 0, "t9");  /* all zero: dropped */
    add_sample(p, stack, 2, 1, 10, "t2"); /* differs by label: kept */
    /* same stack and labels as sample 0, labels in the other order */
    uint64_t s0[] = {3, 1};
    add_sample(p, s0, 2, 1, 1, NULL);
    pp_sample *last = &t->samples[t->n_samples - 1];
    last->labels = profile_alloc(p, 2 * sizeof(pp_label));
    last->labels[0] = t->samples[0].labels[1];
    last->labels[1] = t->samples[0].labels[0];
    last->n_labels = 2;
    S(p, "unused string");
    size_t strings_before = t->n_strings;
    assert_int_equal(pprof_compact(p), 0);
    assert_int_equal(t->n_samples, 3);
    assert_int_equal(t->samples[0].values[0], 6);
    assert_int_equal(t->samples[1].values[0], 10);
    assert_int_equal(t->samples[1].values[1], 70000030);
    assert_string_equal(t->strings[t->samples[2].labels[0].str], "t2");
    assert_true(t->n_strings < strings_before);
    for (size_t i = 0; i < t->n_strings; i++)
        assert_string_not_equal(t->strings[i], "unused string");
    assert_string_equal(t->strings[0], "");
    /* indices were renumbered consistently */
    assert_string_equal(t->strings[pprof_function(p, 3)->name], "main.inner");
    assert_string_equal(t->strings[t->sample_types[1].type], "cpu");
    assert_string_equal(t->strings[t->comments[0]], "hello");
    assert_string_equal(t->strings[t->mappings[0].filename], "/bin/app");
    /* drop everything that references location 2 and function 2 */
    t->n_samples = 1;            /* keeps only stack {3, 1}: location 2 unused */
    t->locations[2].n_lines = 1; /* function 2 now unused too */
    assert_int_equal(pprof_compact(p), 0);
    assert_int_equal(t->n_locations, 2);
    assert_null(pprof_location(p, 2));
    assert_int_equal(t->n_functions, 2);
    assert_null(pprof_function(p, 2));
    for (size_t i = 0; i < t->n_strings; i++)
        assert_string_not_equal(t->strings[i], "main.work");
    /* the result is a valid profile */
    char err[ERR_LEN] = "";
    pp_profile *q;
    assert_non_null(reencode(p, &q, err));
    profile_free(q);
    profile_free(p);
}

/* A second profile with the same content as fixture() but numbered
 * differently: ids shifted, strings in another order. */
static pp_profile *fixture_renumbered(void)
{
    pp_profile *p = profile_new();
    pp_pprof *t = profile_tree_new(p);
    S(p, "zzz padding");
    pp_profile *f = fixture();
    const pp_pprof *ft = profile_tree(f, NULL, 0);
    t->n_sample_types = 2;
    t->sample_types = profile_alloc(p, 2 * sizeof(pp_value_type));
    for (int i = 0; i < 2; i++)
        t->sample_types[i] = (pp_value_type){S(p, str(ft, ft->sample_types[i].type)),
                                             S(p, str(ft, ft->sample_types[i].unit))};
    t->period_type = t->sample_types[1];
    t->period = 20000000;
    t->time_nanos = T0 - SEC;
    t->duration_nanos = 2 * SEC;
    t->n_mappings = 1;
    t->mappings = profile_alloc(p, sizeof(pp_mapping));
    t->mappings[0] = ft->mappings[0];
    t->mappings[0].id = 50;
    t->mappings[0].memory_start += 0x100000; /* relocated: addresses move too */
    t->mappings[0].memory_limit += 0x100000;
    t->mappings[0].filename = S(p, "/bin/app");
    t->mappings[0].build_id = S(p, "abc");
    t->n_functions = 3;
    t->functions = profile_alloc(p, 3 * sizeof(pp_function));
    for (int i = 0; i < 3; i++) {
        pp_function fn = ft->functions[2 - i];
        fn.id += 100;
        fn.name = S(p, str(ft, fn.name));
        fn.system_name = S(p, str(ft, fn.system_name));
        fn.filename = S(p, str(ft, fn.filename));
        t->functions[i] = fn;
    }
    t->n_locations = 3;
    t->locations = profile_alloc(p, 3 * sizeof(pp_location));
    for (int i = 0; i < 3; i++) {
        pp_location l = ft->locations[i];
        l.id += 200;
        l.mapping_id = 50;
        l.address += 0x100000;
        l.lines = profile_alloc(p, l.n_lines * sizeof(pp_line));
        for (size_t j = 0; j < l.n_lines; j++) {
            l.lines[j] = ft->locations[i].lines[j];
            l.lines[j].function_id += 100;
        }
        t->locations[i] = l;
    }
    uint64_t a[] = {203, 201}, b[] = {202, 202, 201};
    add_sample(p, a, 2, 100, 1000, NULL); /* new: no labels, unlike fixture's */
    add_sample(p, b, 3, 1, 1, NULL);      /* new stack */
    uint64_t c[] = {202, 201};
    add_sample(p, c, 2, 10, 100, NULL); /* same as fixture's sample 1 */
    add_sample(p, a, 2, 0, 0, "idle");  /* all zero: not in the result */
    profile_free(f);
    return p;
}

static void test_merge(void **state)
{
    (void)state;
    char err[ERR_LEN] = "";
    pp_profile *dst = fixture(), *src = fixture_renumbered();
    assert_int_equal(pprof_merge(dst, src, err, sizeof(err)), 0);
    const pp_pprof *t = profile_tree(dst, NULL, 0);
    assert_int_equal(t->n_functions, 3);
    assert_int_equal(t->n_mappings, 1);
    assert_int_equal(t->n_locations, 3);
    assert_int_equal(t->n_samples, 4);
    assert_int_equal(t->samples[1].values[0], 17); /* 7 + 10 */
    assert_int_equal(t->samples[2].values[0], 100);
    assert_int_equal(t->samples[2].n_labels, 0);
    assert_int_equal(t->samples[3].n_location_ids, 3);
    assert_int_equal(t->samples[3].location_ids[0], 2);
    assert_int_equal(t->time_nanos, T0 - SEC);
    assert_int_equal(t->duration_nanos, 3 * SEC);
    assert_int_equal(t->period, 20000000);
    /* the merged tree is valid and survives a round trip */
    pp_profile *q;
    assert_non_null(reencode(dst, &q, err));
    profile_free(q);
    /* merging src again only adds values */
    assert_int_equal(pprof_merge(dst, src, err, sizeof(err)), 0);
    t = profile_tree(dst, NULL, 0);
    assert_int_equal(t->n_samples, 4);
    assert_int_equal(t->samples[1].values[0], 27);
    assert_int_equal(pprof_merge(dst, dst, err, sizeof(err)), -1);
    profile_free(src);
    profile_free(dst);
}

static void test_merge_incompatible(void **state)
{
    (void)state;
    char err[ERR_LEN] = "";
    pp_profile *dst = fixture(), *src = fixture();
    pp_pprof *t = profile_tree_mut(src, NULL, 0);
    t->sample_types[1].unit = S(src, "microseconds");
    assert_int_equal(pprof_merge(dst, src, err, sizeof(err)), -1);
    assert_string_equal(err, "incompatible sample type 1: cpu/nanoseconds vs cpu/microseconds");
    t->sample_types[1].unit = S(src, "nanoseconds");
    t->n_sample_types = 1;
    assert_int_equal(pprof_merge(dst, src, err, sizeof(err)), -1);
    assert_string_equal(err, "incompatible sample types: 2 vs 1 types");
    t->n_sample_types = 2;
    t->period_type.type = S(src, "wall");
    assert_int_equal(pprof_merge(dst, src, err, sizeof(err)), -1);
    assert_string_equal(err, "incompatible period types: cpu/nanoseconds vs wall/nanoseconds");
    assert_int_equal(profile_tree(dst, NULL, 0)->n_samples, 2); /* untouched */
    profile_free(src);
    profile_free(dst);
}

static const char *family_of(const char *const *types, size_t n)
{
    static pp_profile *p;
    profile_free(p);
    p = profile_new();
    pp_pprof *t = profile_tree_new(p);
    t->sample_types = profile_alloc(p, (n ? n : 1) * sizeof(pp_value_type));
    for (size_t i = 0; i < n; i++)
        t->sample_types[i] = (pp_value_type){S(p, types[i]), S(p, "count")};
    t->n_sample_types = n;
    return pprof_family(t);
}

static void test_family(void **state)
{
    (void)state;
    const char *cpu[] = {"samples", "cpu"},
               *heap[] = {"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"};
    const char *inuse[] = {"inuse_space"}, *gor[] = {"goroutine"}, *gors[] = {"goroutines"};
    const char *block[] = {"contentions", "delay"}, *tc[] = {"threadcreate"};
    const char *odd[] = {"frobs"}, *late[] = {"unknown", "cpu"};
    const char *node_wall[] = {"sample", "wall"}, *node_heap[] = {"objects", "space"};
    const char *node_wall2[] = {"samples", "wall"}, *fgprof[] = {"samples", "time"};
    assert_string_equal(family_of(cpu, 2), "process_cpu");
    assert_string_equal(family_of(heap, 4), "memory");
    assert_string_equal(family_of(inuse, 1), "memory");
    /* Pyroscope's /ingest names a Go goroutine profile `goroutines` (its
     * default display name of "goroutine"), and Go's block/mutex sample
     * types `mutex` (display names mutex_count/mutex_duration) */
    assert_string_equal(family_of(gor, 1), "goroutines");
    assert_string_equal(family_of(gors, 1), "goroutines");
    assert_string_equal(family_of(block, 2), "mutex");
    /* wall before samples: a Node wall profile is never process_cpu */
    assert_string_equal(family_of(node_wall2, 2), "wall");
    assert_string_equal(family_of(fgprof, 2), "fgprof");
    assert_string_equal(family_of(tc, 1), "threadcreate");
    assert_string_equal(family_of(late, 2), "process_cpu");
    assert_string_equal(family_of(node_wall, 2), "wall");
    assert_string_equal(family_of(node_heap, 2), "memory");
    assert_null(family_of(odd, 1));
    assert_null(family_of(NULL, 0));
    assert_null(pprof_family(NULL));
    family_of(NULL, 0);
}

/* The Go SDK's sample_type_config display names decide block vs mutex. */
static void test_family_display(void **state)
{
    (void)state;
    const char *types[] = {"contentions", "delay"};
    pp_profile *p = profile_new();
    pp_pprof *t = profile_tree_new(p);
    t->sample_types = profile_alloc(p, 2 * sizeof(pp_value_type));
    for (size_t i = 0; i < 2; i++)
        t->sample_types[i] = (pp_value_type){S(p, types[i]), S(p, "count")};
    t->n_sample_types = 2;
    const char *block[] = {"block_count", "block_duration"};
    const char *mutex[] = {"mutex_count", "mutex_duration"};
    const char *none[] = {NULL, NULL};
    assert_string_equal(pprof_family_display(t, block), "block");
    assert_string_equal(pprof_family_display(t, mutex), "mutex");
    /* a config that names neither: the raw types, which no rule names */
    assert_null(pprof_family_display(t, none));
    assert_string_equal(pprof_family_display(t, NULL), "mutex");
    profile_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_encode_read_by_protobuf_c),
        cmocka_unit_test(test_malformed_trees),
        cmocka_unit_test(test_malformed_bytes),
        cmocka_unit_test(test_truncated_gzip),
        cmocka_unit_test(test_gzip_bomb),
        cmocka_unit_test(test_gunzip_kind),
        cmocka_unit_test(test_gzip_concatenated),
        cmocka_unit_test(test_gunzip_grows_past_isize),
        cmocka_unit_test(test_gunzip_header_crc),
        cmocka_unit_test(test_gunzip_mutations_agree_with_zlib),
        cmocka_unit_test(test_intern),
        cmocka_unit_test(test_lookup_by_id),
        cmocka_unit_test(test_compact),
        cmocka_unit_test(test_compact_many_duplicates),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_merge_incompatible),
        cmocka_unit_test(test_family),
        cmocka_unit_test(test_family_display),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
