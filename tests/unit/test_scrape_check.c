/* pprof_scrape's streaming body check (scrape_check.c) and the fixed-buffer
 * inflate under it (lib/gzstream), against an oracle: the check as it was
 * before it streamed, which inflated the whole body with host->gunzip and
 * walked the fields held in memory with wire_next. Every reason the
 * oracle gives, the streaming check gives word for word, whatever the
 * pieces the body arrives in:
 * - a real profile (encoded by the host from a tree with Go heap sample
 *   types, labels and times) cut at every byte, walked whole, byte by byte
 *   and split in two at every point;
 * - gzip'd, inflated through buffers of 1, 7, 13, 4096 bytes and the
 *   default, every cut of the plain bytes and every cut of the gzip
 *   stream itself;
 * - thousands of mutated inputs (bytes flipped, inserted, removed), plain
 *   and gzip'd, and bytes flipped inside the gzip stream;
 * - the size bound: exactly max_out passes, one byte less fails as too
 *   large, and gzstream alone, with several members and trailing garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../receivers/pprof_scrape/scrape.h"

#include "gz_member.h"
#include "gzstream.h"
/* the fixture's helpers for processor tests are not all needed here */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "profile_fixture.h"
#pragma GCC diagnostic pop

#define ERR_LEN 512
#define MUTATIONS 3000
#define BIG (1u << 20)

/* ---- the oracle: the check before it streamed ---- */

#define ORACLE_MAX_FIELD 32

static void oracle_quote(const uint8_t *b, size_t n, char *out, size_t outlen)
{
    size_t i, o = 0;
    for (i = 0; i < n && i < SCRAPE_QUOTE_BYTES && o + 1 < outlen; i++)
        out[o++] = (b[i] >= 0x20 && b[i] < 0x7f) ? (char)b[i] : '.';
    out[o] = '\0';
}

static int oracle_walk(const uint8_t *b, size_t n, char *err, size_t errlen)
{
    char quote[SCRAPE_QUOTE_BYTES + 1];
    for (wire_reader r = {b, b + n}; r.p < r.end;) {
        size_t at = (size_t)(r.p - b);
        wire_field f = {0};
        const char *why;
        int rc = wire_next(&r, &f, &why);
        if (rc == WIRE_TRUNCATED && f.num <= ORACLE_MAX_FIELD) {
            snprintf(err, errlen, "not a pprof: protobuf truncated (field %llu at byte %zu)",
                     (unsigned long long)f.num, at);
            return -1;
        }
        if (rc < 0 || f.num > ORACLE_MAX_FIELD) {
            oracle_quote(b, n, quote, sizeof quote);
            snprintf(err, errlen, "not a pprof: invalid protobuf at byte %zu (body starts \"%s\")",
                     at, quote);
            return -1;
        }
    }
    return 0;
}

/* 0 ok, -1 bad protobuf or empty, -2 bad gzip (message in err). */
static int oracle_check(const uint8_t *body, size_t len, size_t max_out, char *err, size_t errlen)
{
    const pp_host *h = fx_host();
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    char why[256];
    int rc;
    if (len == 0) {
        snprintf(err, errlen, "not a pprof: empty body");
        return -1;
    }
    if (!(len >= 2 && body[0] == 0x1f && body[1] == 0x8b))
        return oracle_walk(body, len, err, errlen);
    why[0] = '\0';
    if (h->gunzip(body, len, max_out, &plain, &plain_len, NULL, why, sizeof why) < 0) {
        snprintf(err, errlen, "not a pprof: gzip: %s", why[0] ? why : "cannot decompress");
        return -2;
    }
    if (plain_len == 0) {
        free(plain);
        snprintf(err, errlen, "not a pprof: empty after gunzip");
        return -1;
    }
    rc = oracle_walk(plain, plain_len, err, errlen);
    free(plain);
    return rc;
}

/* ---- inputs ---- */

/* A Go-shaped heap profile, serialized by the host: plain and gzip'd. */
static uint8_t *real_profile(size_t *len, uint8_t **gz_out, size_t *gz_len)
{
    const pp_host *h = fx_host();
    pp_profile *p = fx_profile("svc", "memory",
                               "alloc_objects/count,alloc_space/bytes,inuse_objects/count,"
                               "inuse_space/bytes");
    const uint8_t *gz;
    uint8_t *plain = NULL;
    char err[ERR_LEN];
    fx_sample1(p, "runtime.main;main.main;main.work;bytes.(*Buffer).grow", 12, "#bytes=4096");
    fx_sample1(p, "runtime.main;main.main;main.serve;net/http.(*conn).serve", 700, "#bytes=512");
    fx_sample1(p, "runtime.goexit;main.worker;encoding/json.Marshal", 3, "");
    fx_sample1(p, "runtime.main;main.main;main.work;strings.Repeat", 1 << 20, "span_id=9f2c");
    pp_pprof *t = h->profile_tree_mut(p, err, sizeof err);
    assert_non_null(t);
    t->time_nanos = 1700000000123456789LL;
    t->duration_nanos = 15000000000LL;
    assert_int_equal(h->profile_raw_gz(p, &gz, gz_len, err, sizeof err), 0);
    *gz_out = malloc(*gz_len);
    assert_non_null(*gz_out);
    memcpy(*gz_out, gz, *gz_len);
    assert_int_equal(h->gunzip(gz, *gz_len, BIG, &plain, len, NULL, err, sizeof err), 0);
    assert_true(*len > 200);
    h->profile_free(p);
    return plain;
}

static uint8_t *gzip_of(const uint8_t *b, size_t n, size_t *gz_len)
{
    uint8_t *gz = NULL;
    assert_int_equal(fx_host()->gzip(b, n, &gz, gz_len), 0);
    return gz;
}

/* A deterministic generator for the mutations. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ---- the streaming walk fed in pieces ---- */

/* Feeds b in pieces cut at `cuts` (ascending, inside (0, n)). */
static int walk_pieces(const uint8_t *b, size_t n, const size_t *cuts, size_t n_cuts, char *err)
{
    scrape_walk w;
    size_t at = 0, i;
    scrape_walk_init(&w);
    for (i = 0; i <= n_cuts; i++) {
        size_t end = i < n_cuts ? cuts[i] : n;
        scrape_walk_feed(&w, b + at, end - at);
        at = end;
    }
    return scrape_walk_end(&w, err, ERR_LEN);
}

static int walk_bytewise(const uint8_t *b, size_t n, char *err)
{
    scrape_walk w;
    size_t i;
    scrape_walk_init(&w);
    for (i = 0; i < n; i++)
        scrape_walk_feed(&w, b + i, 1);
    return scrape_walk_end(&w, err, ERR_LEN);
}

/* The streaming check of plain bytes, fed whole, byte by byte and in two
 * pieces at `split`, says what the oracle says. */
static void expect_same_plain(const uint8_t *b, size_t n, size_t split)
{
    char want[ERR_LEN] = "", got[ERR_LEN] = "";
    int w = oracle_check(b, n, BIG, want, sizeof want), too_large = 0;
    int g = scrape_check_pprof(b, n, BIG, 0, &too_large, got, sizeof got);
    assert_int_equal(g, w < 0 ? -1 : 0);
    assert_int_equal(too_large, 0);
    if (w < 0)
        assert_string_equal(got, want);
    if (n == 0)
        return;
    got[0] = '\0';
    assert_int_equal(walk_bytewise(b, n, got), w < 0 ? -1 : 0);
    if (w < 0)
        assert_string_equal(got, want);
    if (split > 0 && split < n) {
        got[0] = '\0';
        assert_int_equal(walk_pieces(b, n, &split, 1, got), w < 0 ? -1 : 0);
        if (w < 0)
            assert_string_equal(got, want);
    }
}

/* The streaming check of a gzip'd body through a buffer of `chunk`
 * bytes: a bad protobuf gets the oracle's words, a bad gzip stream a
 * gzip reason (its words are the gunzip's, which may differ in detail
 * between inflaters). */
static void expect_same_gz(const uint8_t *gz, size_t n, size_t chunk)
{
    char want[ERR_LEN] = "", got[ERR_LEN] = "";
    int w = oracle_check(gz, n, BIG, want, sizeof want), too_large = 0;
    int g = scrape_check_pprof(gz, n, BIG, chunk, &too_large, got, sizeof got);
    assert_int_equal(g, w < 0 ? -1 : 0);
    assert_int_equal(too_large, 0);
    if (w == -1)
        assert_string_equal(got, want);
    if (w == -2)
        assert_non_null(strstr(got, "not a pprof: gzip: bad gzip: "));
}

/* ---- tests ---- */

static void test_real_profile_passes_in_any_pieces(void **st)
{
    size_t n, gz_len, k;
    uint8_t *gz, *plain = real_profile(&n, &gz, &gz_len);
    char err[ERR_LEN];
    static const size_t chunks[] = {1, 2, 7, 13, 100, 4096, 0};
    int too_large = 0;
    (void)st;
    assert_int_equal(scrape_check_pprof(plain, n, BIG, 0, &too_large, err, sizeof err), 0);
    assert_int_equal(walk_bytewise(plain, n, err), 0);
    for (k = 1; k < n; k++) /* every split in two */
        assert_int_equal(walk_pieces(plain, n, &k, 1, err), 0);
    for (k = 0; k + 2 < n; k += 3) { /* and in three, around every byte */
        size_t cuts[2] = {k + 1, k + 2};
        assert_int_equal(walk_pieces(plain, n, cuts, 2, err), 0);
    }
    for (k = 0; k < sizeof chunks / sizeof chunks[0]; k++)
        assert_int_equal(
            scrape_check_pprof(gz, gz_len, BIG, chunks[k], &too_large, err, sizeof err), 0);
    free(plain);
    free(gz);
}

static void test_every_truncation(void **st)
{
    size_t n, gz_len, t, c;
    uint8_t *gz, *plain = real_profile(&n, &gz, &gz_len);
    static const size_t chunks[] = {1, 7, 4096};
    char err[ERR_LEN];
    int too_large = 0, truncated = 0, boundaries = 0;
    (void)st;
    for (t = 0; t < n; t++) {
        size_t cut_gz_len;
        uint8_t *cut_gz;
        expect_same_plain(plain, t, t / 2);
        expect_same_plain(plain, t, t ? t - 1 : 0);
        cut_gz = gzip_of(plain, t, &cut_gz_len);
        for (c = 0; c < sizeof chunks / sizeof chunks[0]; c++)
            expect_same_gz(cut_gz, cut_gz_len, chunks[c]);
        free(cut_gz);
        if (t > 0) {
            /* a cut between two fields leaves a shorter valid message */
            err[0] = '\0';
            if (scrape_check_pprof(plain, t, BIG, 0, &too_large, err, sizeof err) == 0)
                boundaries++;
            else
                truncated += strstr(err, "protobuf truncated (field") != NULL;
        }
    }
    assert_true(truncated > 0); /* cuts inside a field's payload say so */
    assert_true(boundaries > 0);
    /* every cut of the gzip stream: the gzip reason, as the whole gunzip gave it */
    for (t = 1; t < gz_len; t++) {
        expect_same_gz(gz, t, 0);
        expect_same_gz(gz, t, 13);
    }
    assert_int_equal(scrape_check_pprof(gz, gz_len - 5, BIG, 0, &too_large, err, sizeof err), -1);
    assert_string_equal(err,
                        "not a pprof: gzip: bad gzip: truncated stream (unexpected end of input)");
    free(plain);
    free(gz);
}

static void test_mutated_inputs(void **st)
{
    size_t n, gz_len, i;
    uint8_t *gz, *plain = real_profile(&n, &gz, &gz_len);
    uint8_t *m = malloc(n + 8), *mg = malloc(gz_len);
    int failed = 0;
    (void)st;
    assert_non_null(m);
    assert_non_null(mg);
    for (i = 0; i < MUTATIONS; i++) {
        size_t len = n, k, pos = (size_t)(rng() % n), mlen, edits = 1 + rng() % 3;
        uint8_t *mgz;
        char err[ERR_LEN];
        int too_large;
        memcpy(m, plain, n);
        for (k = 0; k < edits; k++) {
            switch (rng() % 3) {
            case 0: /* flip */
                m[pos % len] ^= (uint8_t)(1u << (rng() % 8));
                break;
            case 1: /* insert a byte */
                if (len < n + 8) {
                    memmove(m + pos % len + 1, m + pos % len, len - pos % len);
                    m[pos % len] = (uint8_t)rng();
                    len++;
                }
                break;
            default: /* remove a byte */
                if (len > 1) {
                    memmove(m + pos % len, m + pos % len + 1, len - pos % len - 1);
                    len--;
                }
                break;
            }
            pos = (size_t)(rng() % len);
        }
        if (m[0] == 0x1f && len > 1 && m[1] == 0x8b)
            m[0] = 0; /* stays a plain body */
        expect_same_plain(m, len, (size_t)(rng() % len));
        failed += scrape_check_pprof(m, len, BIG, 0, &too_large, err, sizeof err) < 0;
        mgz = gzip_of(m, len, &mlen);
        expect_same_gz(mgz, mlen, 1 + rng() % 64);
        free(mgz);
        /* a byte flipped inside the gzip stream (past its header) */
        memcpy(mg, gz, gz_len);
        mg[10 + rng() % (gz_len - 10)] ^= (uint8_t)(1u << (rng() % 8));
        expect_same_gz(mg, gz_len, 1 + rng() % 64);
    }
    assert_true(failed > MUTATIONS / 10); /* the mutations do break profiles */
    free(m);
    free(mg);
    free(plain);
    free(gz);
}

static void test_reasons(void **st)
{
    static const char html[] = "<!DOCTYPE html><html><body>404</body></html>";
    size_t gz_len, n;
    uint8_t *gz = gzip_of((const uint8_t *)html, strlen(html), &gz_len);
    uint8_t *empty_gz = gzip_of((const uint8_t *)"", 0, &n);
    /* field 1 (sample_type) as a length-delimited field of 100 bytes, 3 present */
    static const uint8_t cut[] = {0x0a, 100, 1, 2, 3};
    /* field 40: past the Profile message's fields */
    static const uint8_t high[] = {0x08, 1, 0xc0, 0x02, 1};
    char err[ERR_LEN];
    int too_large = 0;
    (void)st;
    assert_int_equal(scrape_check_pprof((const uint8_t *)html, strlen(html), BIG, 0, &too_large,
                                        err, sizeof err),
                     -1);
    assert_string_equal(
        err, "not a pprof: invalid protobuf at byte 0 (body starts \"<!DOCTYPE html><html><bo\")");
    assert_int_equal(scrape_check_pprof(gz, gz_len, BIG, 3, &too_large, err, sizeof err), -1);
    assert_string_equal(
        err, "not a pprof: invalid protobuf at byte 0 (body starts \"<!DOCTYPE html><html><bo\")");
    assert_int_equal(scrape_check_pprof(cut, sizeof cut, BIG, 0, &too_large, err, sizeof err), -1);
    assert_string_equal(err, "not a pprof: protobuf truncated (field 1 at byte 0)");
    assert_int_equal(scrape_check_pprof(high, sizeof high, BIG, 0, &too_large, err, sizeof err),
                     -1);
    assert_string_equal(err, "not a pprof: invalid protobuf at byte 2 (body starts \".....\")");
    assert_int_equal(scrape_check_pprof(gz, 0, BIG, 0, &too_large, err, sizeof err), -1);
    assert_string_equal(err, "not a pprof: empty body");
    assert_int_equal(scrape_check_pprof(empty_gz, n, BIG, 0, &too_large, err, sizeof err), -1);
    assert_string_equal(err, "not a pprof: empty after gunzip");
    assert_int_equal(scrape_check_inflated(cut, 0, err, sizeof err), -1);
    assert_string_equal(err, "not a pprof: empty after gunzip");
    assert_int_equal(scrape_check_inflated(cut, sizeof cut, err, sizeof err), -1);
    assert_string_equal(err, "not a pprof: protobuf truncated (field 1 at byte 0)");
    free(gz);
    free(empty_gz);
}

static void test_size_bound(void **st)
{
    size_t n, gz_len;
    uint8_t *gz, *plain = real_profile(&n, &gz, &gz_len);
    char err[ERR_LEN], want[ERR_LEN];
    int too_large = 1;
    (void)st;
    assert_int_equal(scrape_check_pprof(gz, gz_len, n, 7, &too_large, err, sizeof err), 0);
    assert_int_equal(too_large, 0);
    assert_int_equal(scrape_check_pprof(gz, gz_len, n - 1, 7, &too_large, err, sizeof err), -1);
    assert_int_equal(too_large, 1);
    snprintf(want, sizeof want,
             "not a pprof: gzip: gzip: decompressed size exceeds the limit of %zu bytes", n - 1);
    assert_string_equal(err, want);
    /* the oracle agrees on the words */
    assert_int_equal(oracle_check(gz, gz_len, n - 1, want, sizeof want), -2);
    assert_string_equal(err, want);
    free(plain);
    free(gz);
}

/* gzstream's sink sees every byte once, in order. */
typedef struct collect {
    uint8_t *buf;
    size_t len, cap, calls, largest;
} collect;

static int collect_sink(void *ctx, const uint8_t *p, size_t n)
{
    collect *c = ctx;
    assert_true(c->len + n <= c->cap);
    memcpy(c->buf + c->len, p, n);
    c->len += n;
    c->calls++;
    if (n > c->largest)
        c->largest = n;
    return 0;
}

static int stop_sink(void *ctx, const uint8_t *p, size_t n)
{
    (void)p;
    (void)n;
    return ++*(int *)ctx >= 2;
}

static void test_gzstream(void **st)
{
    size_t n, gz_len, total = 0;
    uint8_t *gz, *plain = real_profile(&n, &gz, &gz_len);
    uint8_t *two = malloc(2 * gz_len + 3);
    collect c = {malloc(2 * n), 0, 2 * n, 0, 0};
    char err[ERR_LEN];
    int stops = 0;
    (void)st;
    assert_non_null(two);
    assert_non_null(c.buf);
    /* two members: both inflated, in pieces no larger than asked */
    memcpy(two, gz, gz_len);
    memcpy(two + gz_len, gz, gz_len);
    assert_int_equal(
        gzstream_inflate(two, 2 * gz_len, 2 * n, 5, collect_sink, &c, &total, err, sizeof err),
        GZSTREAM_OK);
    assert_int_equal(total, 2 * n);
    assert_int_equal(c.len, 2 * n);
    assert_true(c.largest <= 5);
    assert_memory_equal(c.buf, plain, n);
    assert_memory_equal(c.buf + n, plain, n);
    /* the limit counts across members */
    assert_int_equal(
        gzstream_inflate(two, 2 * gz_len, 2 * n - 1, 0, NULL, NULL, &total, err, sizeof err),
        GZSTREAM_TOO_LARGE);
    assert_true(total <= 2 * n - 1);
    /* trailing garbage */
    memcpy(two + gz_len, "xyz", 3);
    assert_int_equal(gzstream_inflate(two, gz_len + 3, BIG, 0, NULL, NULL, &total, err, sizeof err),
                     GZSTREAM_INVALID);
    assert_string_equal(err, "bad gzip: 3 bytes of trailing garbage");
    assert_int_equal(total, n);
    /* a sink that stops */
    assert_int_equal(
        gzstream_inflate(gz, gz_len, BIG, 1, stop_sink, &stops, &total, err, sizeof err),
        GZSTREAM_SINK);
    assert_int_equal(stops, 2);
    assert_int_equal(total, 2);
    /* nothing at all */
    assert_int_equal(gzstream_inflate(gz, 0, BIG, 0, NULL, NULL, &total, err, sizeof err),
                     GZSTREAM_INVALID);
    assert_string_equal(err, "bad gzip: truncated stream (unexpected end of input)");
    free(two);
    free(c.buf);
    free(plain);
    free(gz);
}

/* What ISA-L refuses is worded by zlib, as a whole-buffer gunzip words it;
 * a header CRC (FHCRC), which ISA-L checks too, passes when right. */
static void test_gzstream_refusals_in_zlib_words(void **st)
{
    size_t n, gz_len, total = 0;
    uint8_t *gz, *plain = real_profile(&n, &gz, &gz_len);
    uint8_t *m = malloc(gz_len + 2);
    collect c = {malloc(n), 0, n, 0, 0};
    char err[ERR_LEN];
    (void)st;
    assert_non_null(m);
    assert_non_null(c.buf);
    assert_int_equal(gz[3], 0); /* no flags: a 10-byte header */
    gz_member_with_header_crc(gz, gz_len, m);
    assert_int_equal(
        gzstream_inflate(m, gz_len + 2, BIG, 0, collect_sink, &c, &total, err, sizeof err),
        GZSTREAM_OK);
    assert_int_equal(c.len, n);
    assert_memory_equal(c.buf, plain, n);
    m[10] ^= 1;
    assert_int_equal(gzstream_inflate(m, gz_len + 2, BIG, 0, NULL, NULL, &total, err, sizeof err),
                     GZSTREAM_INVALID);
    assert_string_equal(err, "bad gzip: header crc mismatch");
    /* a trailer whose length is wrong */
    memcpy(m, gz, gz_len);
    m[gz_len - 1] ^= 0x40;
    assert_int_equal(gzstream_inflate(m, gz_len, BIG, 0, NULL, NULL, &total, err, sizeof err),
                     GZSTREAM_INVALID);
    assert_string_equal(err, "bad gzip: incorrect length check");
    /* and one whose CRC is */
    memcpy(m, gz, gz_len);
    m[gz_len - 8] ^= 1;
    assert_int_equal(gzstream_inflate(m, gz_len, BIG, 0, NULL, NULL, &total, err, sizeof err),
                     GZSTREAM_INVALID);
    assert_string_equal(err, "bad gzip: incorrect data check");
    /* a reserved header flag, which ISA-L alone would read (the pprof
     * fuzz target), in the first member and in a second one */
    memcpy(m, gz, gz_len);
    m[3] = 0x20;
    assert_int_equal(gzstream_inflate(m, gz_len, BIG, 0, NULL, NULL, &total, err, sizeof err),
                     GZSTREAM_INVALID);
    assert_string_equal(err, "bad gzip: unknown header flags set");
    uint8_t *two = malloc(2 * gz_len);
    assert_non_null(two);
    memcpy(two, gz, gz_len);
    memcpy(two + gz_len, m, gz_len);
    assert_int_equal(gzstream_inflate(two, 2 * gz_len, BIG, 0, NULL, NULL, &total, err, sizeof err),
                     GZSTREAM_INVALID);
    assert_string_equal(err, "bad gzip: unknown header flags set");
    free(two);
    /* a block type that does not exist (BTYPE 11) */
    memcpy(m, gz, gz_len);
    m[10] |= 0x06;
    assert_int_equal(gzstream_inflate(m, gz_len, BIG, 0, NULL, NULL, &total, err, sizeof err),
                     GZSTREAM_INVALID);
    assert_string_equal(err, "bad gzip: invalid block type");
    /* cut short inside the deflate data */
    assert_int_equal(gzstream_inflate(gz, gz_len / 2, BIG, 0, NULL, NULL, &total, err, sizeof err),
                     GZSTREAM_INVALID);
    assert_string_equal(err, "bad gzip: truncated stream (unexpected end of input)");
    free(m);
    free(c.buf);
    free(plain);
    free(gz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_profile_passes_in_any_pieces),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_mutated_inputs),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_size_bound),
        cmocka_unit_test(test_gzstream),
        cmocka_unit_test(test_gzstream_refusals_in_zlib_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
