/* lib/protowire: what is written reads back; the streaming reader, fed in
 * pieces of every size, sees the same varint fields as the whole-buffer
 * reader; and truncated or mutated messages are refused by both without
 * reading past the end (ASan checks the last part: every input below lives
 * in a heap block of exactly its length). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "protowire.h"

#define MSG_MAX 512
#define N_FIELDS 24
#define N_MUTANTS 4000
#define MAX_VARINTS 64

typedef struct msg {
    uint8_t b[MSG_MAX];
    size_t len;
} msg;

typedef struct varints {
    uint64_t field[MAX_VARINTS], value[MAX_VARINTS];
    size_t n;
} varints;

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void put_varint(msg *m, uint64_t v)
{
    m->len += wire_put_varint(m->b + m->len, v);
}

/* A message of every wire type, with values of every varint length. */
static void make_message(msg *m)
{
    m->len = 0;
    for (int i = 0; i < N_FIELDS; i++) {
        uint32_t num = 1 + (uint32_t)(rng() % 40);
        uint64_t v = rng() >> (rng() % 64);
        switch (rng() % 4) {
        case 0:
            put_varint(m, wire_tag(num, WIRE_VARINT));
            put_varint(m, v);
            break;
        case 1:
            put_varint(m, wire_tag(num, WIRE_I64));
            for (int k = 0; k < WIRE_I64_BYTES; k++)
                m->b[m->len++] = (uint8_t)(v >> (8 * k));
            break;
        case 2:
            put_varint(m, wire_tag(num, WIRE_I32));
            for (int k = 0; k < WIRE_I32_BYTES; k++)
                m->b[m->len++] = (uint8_t)(v >> (8 * k));
            break;
        default: {
            size_t n = rng() % 9;
            put_varint(m, wire_tag(num, WIRE_LEN));
            put_varint(m, n);
            for (size_t k = 0; k < n; k++)
                m->b[m->len++] = (uint8_t)rng();
        }
        }
    }
}

/* Walks data whole; its varint fields into out. 0, or <0 as wire_next. */
static int walk_whole(const uint8_t *data, size_t len, varints *out)
{
    out->n = 0;
    for (wire_reader r = {data, data + len}; r.p < r.end;) {
        wire_field f;
        const char *why = NULL;
        int rc = wire_next(&r, &f, &why);
        if (rc < 0) {
            assert_non_null(why);
            return rc;
        }
        assert_true(r.p <= r.end);
        if (f.type == WIRE_VARINT && out->n < MAX_VARINTS) {
            out->field[out->n] = f.num;
            out->value[out->n++] = f.v;
        }
    }
    return 0;
}

static void collect(void *ctx, uint64_t field, uint64_t value)
{
    varints *v = ctx;
    if (v->n < MAX_VARINTS) {
        v->field[v->n] = field;
        v->value[v->n++] = value;
    }
}

/* Feeds data in pieces of `step` bytes. 1 if the stream ends on a field
 * boundary with no error, else 0. */
static int walk_stream(const uint8_t *data, size_t len, size_t step, varints *out)
{
    wire_stream s = {0};
    out->n = 0;
    for (size_t at = 0; at < len; at += step) {
        size_t n = len - at < step ? len - at : step;
        if (wire_stream_feed(&s, data + at, n, collect, out) != WIRE_STREAM_OK)
            return 0;
    }
    assert_true(s.total == len);
    return wire_stream_at_boundary(&s);
}

static uint8_t *heap_copy(const uint8_t *b, size_t len)
{
    uint8_t *c = malloc(len ? len : 1);
    assert_non_null(c);
    if (len)
        memcpy(c, b, len);
    return c;
}

/* sint64's mapping as protobuf's encoding guide gives it: 0, -1, 1, -2
 * ... -> 0, 1, 2, 3 ..., the extremes at the top of uint64. */
static void test_zigzag(void **state)
{
    (void)state;
    static const struct {
        int64_t s;
        uint64_t u;
    } cases[] = {
        {0, 0},
        {-1, 1},
        {1, 2},
        {-2, 3},
        {2147483647, 4294967294u},
        {-2147483648LL, 4294967295u},
        {INT64_MAX, UINT64_MAX - 1},
        {INT64_MIN, UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_true(wire_zigzag(cases[i].s) == cases[i].u);
        assert_true(wire_unzigzag(cases[i].u) == cases[i].s);
    }
}

static void test_varint_roundtrip(void **state)
{
    (void)state;
    static const uint64_t values[] = {0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, UINT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        uint8_t buf[WIRE_MAX_VARINT_BYTES];
        size_t n = wire_put_varint(buf, values[i]);
        assert_int_equal(n, wire_varint_size(values[i]));
        uint8_t *c = heap_copy(buf, n);
        wire_reader r = {c, c + n};
        uint64_t v = 0;
        assert_int_equal(wire_varint(&r, &v), 0);
        assert_true(v == values[i]);
        assert_ptr_equal(r.p, c + n);
        /* every cut of it is refused */
        for (size_t k = 0; k < n; k++) {
            wire_reader t = {c, c + k};
            assert_int_equal(wire_varint(&t, &v), -1);
        }
        free(c);
    }
    /* eleven continuation bytes: too long */
    uint8_t *c = heap_copy((const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
    wire_reader r = {c, c + 11};
    uint64_t v;
    assert_int_equal(wire_varint(&r, &v), -1);
    free(c);
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
        int rc;
        const char *why;
    } cases[] = {
        {"\x00", 1, -1, "invalid field number"},
        {"\x0b", 1, -1, "unsupported wire type"},
        {"\x0c", 1, -1, "unsupported wire type"},
        {"\x09\x01\x02", 3, WIRE_TRUNCATED, "truncated fixed-width"},
        {"\x0d\x01", 2, WIRE_TRUNCATED, "truncated fixed-width"},
        {"\x0a\x05\x01", 3, WIRE_TRUNCATED, "runs past the end"},
        {"\x0a\x80", 2, -1, "truncated length"},
        {"\x08\x80", 2, -1, "truncated varint"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *c = heap_copy((const uint8_t *)cases[i].bytes, cases[i].len);
        wire_reader r = {c, c + cases[i].len};
        wire_field f;
        const char *why = NULL;
        assert_int_equal(wire_next(&r, &f, &why), cases[i].rc);
        assert_non_null(strstr(why, cases[i].why));
        free(c);
    }
    /* the streaming reader names field 0 and the bad wire type */
    wire_stream s = {0};
    varints v = {0};
    assert_int_equal(wire_stream_feed(&s, (const uint8_t *)"\x08\x01\x00", 3, collect, &v),
                     WIRE_STREAM_FIELD_ZERO);
    s = (wire_stream){0};
    assert_int_equal(wire_stream_feed(&s, (const uint8_t *)"\x08\x01\x0b", 3, collect, &v),
                     WIRE_STREAM_BAD_WIRE_TYPE);
    assert_int_equal(s.bad_type, 3);
    assert_int_equal(s.total, 3);
}

/* Valid messages: both readers agree, in pieces of every size. */
static void test_stream_matches_whole(void **state)
{
    (void)state;
    for (int round = 0; round < 200; round++) {
        msg m;
        make_message(&m);
        uint8_t *c = heap_copy(m.b, m.len);
        varints whole, streamed;
        assert_int_equal(walk_whole(c, m.len, &whole), 0);
        for (size_t step = 1; step <= 17; step += 4) {
            assert_int_equal(walk_stream(c, m.len, step, &streamed), 1);
            assert_int_equal(streamed.n, whole.n);
            for (size_t i = 0; i < whole.n; i++) {
                assert_true(streamed.field[i] == whole.field[i]);
                assert_true(streamed.value[i] == whole.value[i]);
            }
        }
        free(c);
    }
}

/* Every cut of a valid message: a cut between fields reads as a shorter
 * message, any other cut is refused by both readers. */
static void test_truncations(void **state)
{
    (void)state;
    for (int round = 0; round < 30; round++) {
        msg m;
        make_message(&m);
        /* the field boundaries */
        uint8_t boundary[MSG_MAX + 1] = {0};
        boundary[0] = 1;
        wire_reader r = {m.b, m.b + m.len};
        while (r.p < r.end) {
            wire_field f;
            const char *why;
            assert_int_equal(wire_next(&r, &f, &why), 0);
            boundary[r.p - m.b] = 1;
        }
        for (size_t cut = 0; cut < m.len; cut++) {
            uint8_t *c = heap_copy(m.b, cut);
            varints a, b;
            int whole = walk_whole(c, cut, &a);
            int streamed = walk_stream(c, cut, 7, &b);
            assert_int_equal(whole == 0, boundary[cut]);
            assert_int_equal(streamed, boundary[cut]);
            free(c);
        }
    }
}

/* Mutated messages: whatever the bytes, neither reader reads outside them
 * nor loops, and both count every byte. */
static void test_mutants(void **state)
{
    (void)state;
    for (int i = 0; i < N_MUTANTS; i++) {
        msg m;
        make_message(&m);
        size_t flips = 1 + rng() % 8;
        for (size_t k = 0; k < flips; k++)
            m.b[rng() % m.len] = (uint8_t)rng();
        size_t len = rng() % (m.len + 1);
        uint8_t *c = heap_copy(m.b, len);
        varints a, b;
        (void)walk_whole(c, len, &a);
        wire_stream s = {0};
        (void)wire_stream_feed(&s, c, len, collect, &b);
        assert_true(s.total <= len);
        free(c);
    }
}

/* What wire_stream_run handed over: the tags, and each length-delimited
 * payload reassembled with its begin/end flags checked. */
typedef struct pieces {
    char tags[64];
    size_t n_tags;
    uint8_t payload[4][32];
    size_t len[4], n_payloads;
    int open; /* between a begin and its end */
    int stop_at_field;
} pieces;

static int pieces_tag(void *ctx, uint64_t field, unsigned type)
{
    pieces *pc = ctx;
    pc->tags[pc->n_tags++] = (char)('0' + field);
    pc->tags[pc->n_tags++] = (char)('0' + type);
    return (int)field == pc->stop_at_field;
}

static int pieces_bytes(void *ctx, uint64_t field, const uint8_t *p, size_t n, int begin, int end)
{
    (void)field;
    pieces *pc = ctx;
    assert_int_equal(begin, !pc->open); /* begin exactly on the first piece */
    if (begin)
        pc->len[pc->n_payloads] = 0;
    memcpy(pc->payload[pc->n_payloads] + pc->len[pc->n_payloads], p, n);
    pc->len[pc->n_payloads] += n;
    pc->open = !end;
    if (end)
        pc->n_payloads++;
    return 0;
}

/* Field 1 varint 5; field 2 "abc"; field 3 ""; field 4 fixed32; field 2
 * "hello": fed whole and one byte at a time, the same tags and payloads
 * come out, the empty one as one call; a tag callback stops the stream. */
static void test_stream_run_pieces(void **state)
{
    (void)state;
    static const uint8_t m[] = {0x08, 0x05, 0x12, 0x03, 'a',  'b', 'c', 0x1a, 0x00, 0x25, 1,
                                2,    3,    4,    0x12, 0x05, 'h', 'e', 'l',  'l',  'o'};
    static const wire_stream_fns fns = {.tag = pieces_tag, .bytes = pieces_bytes};
    for (size_t step = 1; step <= sizeof m; step += sizeof m - 1) {
        pieces pc = {.stop_at_field = -1};
        wire_stream s = {0};
        for (size_t at = 0; at < sizeof m; at += step) {
            size_t n = at + step <= sizeof m ? step : sizeof m - at;
            assert_int_equal(wire_stream_run(&s, m + at, n, &fns, &pc), WIRE_STREAM_OK);
        }
        assert_true(wire_stream_at_boundary(&s));
        assert_memory_equal(pc.tags, "1022324522", 10);
        assert_int_equal(pc.n_payloads, 3);
        assert_int_equal(pc.len[0], 3);
        assert_memory_equal(pc.payload[0], "abc", 3);
        assert_int_equal(pc.len[1], 0);
        assert_int_equal(pc.len[2], 5);
        assert_memory_equal(pc.payload[2], "hello", 5);
    }
    /* a field number past 2^32 - 1, which wire_next refuses too */
    uint8_t big[16];
    size_t nb = wire_put_varint(big, wire_tag(0, WIRE_VARINT) | ((uint64_t)1 << 35));
    big[nb++] = 0;
    wire_reader r = {big, big + nb};
    wire_field f;
    const char *why;
    assert_int_equal(wire_next(&r, &f, &why), -1);
    wire_stream bs = {0};
    assert_int_equal(wire_stream_feed(&bs, big, nb, collect, NULL), WIRE_STREAM_FIELD_TOO_BIG);

    pieces pc = {.stop_at_field = 3};
    wire_stream s = {0};
    assert_int_equal(wire_stream_run(&s, m, sizeof m, &fns, &pc), WIRE_STREAM_STOPPED);
    assert_int_equal(pc.n_payloads, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_roundtrip),  cmocka_unit_test(test_zigzag),
        cmocka_unit_test(test_refusals),          cmocka_unit_test(test_stream_matches_whole),
        cmocka_unit_test(test_truncations),       cmocka_unit_test(test_mutants),
        cmocka_unit_test(test_stream_run_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
