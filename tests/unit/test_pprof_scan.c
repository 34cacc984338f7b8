/* pprof_scan_time: the time fields of plain and gzip'd profiles read by
 * the streaming scanner (PushRequest decoding), and its refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "harness.h"
#include "pprof_internal.h"
#include "profile.h"
#include "unit_support.h"

#define T0 1700000000123456789LL
#define D0 10000000000LL

/* A small real profile with time and duration, as plain protobuf. */
static uint8_t *plain_profile(size_t *len)
{
    size_t gz_len;
    uint8_t *gz = unit_one_sample_gz("samples", "count", 7, T0, D0, &gz_len), *plain;
    char err[256];
    assert_int_equal(gz_gunzip(gz, gz_len, 1 << 20, &plain, len, NULL, err, sizeof err), 0);
    free(gz);
    return plain;
}

static void test_plain_and_gzip(void **state)
{
    (void)state;
    size_t len, gz_len;
    uint8_t *plain = plain_profile(&len), *gz;
    assert_int_equal(gz_gzip(plain, len, &gz, &gz_len), 0);
    int64_t t = 0, d = 0;
    char err[256];
    assert_int_equal(pprof_scan_time(plain, len, &t, &d, NULL, err, sizeof err), 0);
    assert_int_equal(t, T0);
    assert_int_equal(d, D0);
    t = d = 0;
    assert_int_equal(pprof_scan_time(gz, gz_len, &t, &d, NULL, err, sizeof err), 0);
    assert_int_equal(t, T0);
    assert_int_equal(d, D0);
    /* two gzip members: the profile split in two, as some writers do */
    uint8_t *a, *b;
    size_t a_len, b_len;
    assert_int_equal(gz_gzip(plain, len / 2, &a, &a_len), 0);
    assert_int_equal(gz_gzip(plain + len / 2, len - len / 2, &b, &b_len), 0);
    uint8_t *both = malloc(a_len + b_len);
    memcpy(both, a, a_len);
    memcpy(both + a_len, b, b_len);
    t = d = 0;
    assert_int_equal(pprof_scan_time(both, a_len + b_len, &t, &d, NULL, err, sizeof err), 0);
    assert_int_equal(t, T0);
    free(a), free(b), free(both), free(gz), free(plain);
}

static void test_refusals(void **state)
{
    (void)state;
    size_t len, gz_len;
    uint8_t *plain = plain_profile(&len), *gz;
    assert_int_equal(gz_gzip(plain, len, &gz, &gz_len), 0);
    int64_t t, d;
    char err[256];
    assert_int_equal(pprof_scan_time(plain, len - 1, &t, &d, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "truncated"));
    assert_int_equal(pprof_scan_time(gz, gz_len - 6, &t, &d, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "gzip"));
    uint8_t *junk = malloc(gz_len + 3);
    memcpy(junk, gz, gz_len);
    memcpy(junk + gz_len, "xyz", 3);
    assert_int_equal(pprof_scan_time(junk, gz_len + 3, &t, &d, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "trailing garbage"));
    const uint8_t bad_wire[] = {0x0b}; /* field 1, wire type 3 */
    assert_int_equal(pprof_scan_time(bad_wire, sizeof bad_wire, &t, &d, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "wire type 3"));
    assert_int_equal(pprof_scan_time(plain, 0, &t, &d, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "empty"));
    free(junk), free(gz), free(plain);
}

/* Fuzz reproducer (tests/fuzz/kafka/regressions/push-empty-raw-profile):
 * a PushRequest series with an empty raw_profile reaches the scanner as
 * (NULL, 0); UBSan flagged the NULL + 0 pointer arithmetic. It is refused
 * as empty, not read. */
static void test_empty_raw_null(void **state)
{
    (void)state;
    int64_t t = 1, d = 1;
    char err[256] = "";
    assert_int_equal(pprof_scan_time(NULL, 0, &t, &d, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "empty profile"));
    assert_int_equal(t, 0);
    assert_int_equal(d, 0);
}

/* Protobuf reserves field number 0, which the tree decoder refuses; the
 * scanner skipped such fields and accepted the profile, so the two
 * readers disagreed on the same bytes. */
static void test_field_zero_refused(void **state)
{
    (void)state;
    int64_t t, d;
    char err[256];
    const uint8_t varint0[] = {0x00, 0x05};                       /* field 0, varint 5 */
    const uint8_t len0[] = {0x02, 0x01, 0x41};                    /* field 0, 1 byte */
    const uint8_t after[] = {0x48, 0x07, 0x05, 0x00, 0x01, 0x02}; /* time=7, then field 0 */
    assert_int_equal(pprof_scan_time(varint0, sizeof varint0, &t, &d, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "field number 0"));
    assert_non_null(strstr(err, "byte 1"));
    assert_int_equal(pprof_scan_time(len0, sizeof len0, &t, &d, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "field number 0"));
    assert_int_equal(pprof_scan_time(after, sizeof after, &t, &d, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "byte 3"));
    /* the same bytes gzip'd are refused the same way */
    uint8_t *gz;
    size_t gz_len;
    assert_int_equal(gz_gzip(varint0, sizeof varint0, &gz, &gz_len), 0);
    assert_int_equal(pprof_scan_time(gz, gz_len, &t, &d, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "field number 0"));
    free(gz);
}

/* A gzip'd Profile holding one comment-less field (sample_type, skipped
 * by the scanner) of `n` zero bytes: a valid message that inflates to n
 * bytes from a few hundred KiB, deflated chunk by chunk. */
static uint8_t *zero_field_gz(size_t n, size_t *gz_len)
{
    enum { CHUNK = 1 << 16, GZIP_WINDOW = 15 + 16 };
    uint8_t head[16] = {0x0a}, *zeros = calloc(1, CHUNK);
    size_t hl = 1;
    for (uint64_t v = n; v >= 0x80; v >>= 7)
        head[hl++] = (uint8_t)(v | 0x80);
    head[hl] = (uint8_t)(n >> (7 * (hl - 1)));
    hl++;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 1, Z_DEFLATED, GZIP_WINDOW, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = n / 100 + 4096; /* deflate cannot beat 1032:1 */
    uint8_t *out = malloc(cap);
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    zs.next_in = head;
    zs.avail_in = (uInt)hl;
    assert_int_equal(deflate(&zs, Z_NO_FLUSH), Z_OK);
    for (size_t left = n; left > 0;) {
        size_t take = left < CHUNK ? left : CHUNK;
        zs.next_in = zeros;
        zs.avail_in = (uInt)take;
        assert_int_equal(deflate(&zs, Z_NO_FLUSH), Z_OK);
        left -= take;
    }
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *gz_len = cap - zs.avail_out;
    deflateEnd(&zs);
    free(zeros);
    return out;
}

/* The scanner says why it failed as a kind: a well-formed profile that
 * inflates past the host's limit is PP_ERR_TOO_LARGE, a broken one
 * PP_ERR_INVALID, whatever the messages say. */
static void test_refusal_kinds(void **state)
{
    (void)state;
    int64_t t, d;
    char err[256];
    size_t gz_len;
    uint8_t *gz = zero_field_gz(PROFILE_MAX_DECOMPRESSED + 1, &gz_len);
    pp_err kind = PP_ERR_NONE;
    assert_int_equal(pprof_scan_time(gz, gz_len, &t, &d, &kind, err, sizeof err), -1);
    assert_int_equal(kind, PP_ERR_TOO_LARGE);
    free(gz);
    /* the same shape within the limit reads */
    gz = zero_field_gz(1 << 20, &gz_len);
    assert_int_equal(pprof_scan_time(gz, gz_len, &t, &d, &kind, err, sizeof err), 0);
    assert_int_equal(kind, PP_ERR_NONE);
    assert_int_equal(pprof_scan_time(gz, gz_len / 2, &t, &d, &kind, err, sizeof err), -1);
    assert_int_equal(kind, PP_ERR_INVALID);
    free(gz);
    const uint8_t field0[] = {0x00, 0x05};
    assert_int_equal(pprof_scan_time(field0, sizeof field0, &t, &d, &kind, err, sizeof err), -1);
    assert_int_equal(kind, PP_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_gzip), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_empty_raw_null), cmocka_unit_test(test_field_zero_refused),
        cmocka_unit_test(test_refusal_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
