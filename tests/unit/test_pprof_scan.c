/* pprof_scan_time: the time fields of plain and gzip'd profiles read by
 * the streaming scanner (PushRequest decoding), and its refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

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
    assert_int_equal(gz_gunzip(gz, gz_len, 1 << 20, &plain, len, err, sizeof err), 0);
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
    assert_int_equal(pprof_scan_time(plain, len, &t, &d, err, sizeof err), 0);
    assert_int_equal(t, T0);
    assert_int_equal(d, D0);
    t = d = 0;
    assert_int_equal(pprof_scan_time(gz, gz_len, &t, &d, err, sizeof err), 0);
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
    assert_int_equal(pprof_scan_time(both, a_len + b_len, &t, &d, err, sizeof err), 0);
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
    assert_int_equal(pprof_scan_time(plain, len - 1, &t, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "truncated"));
    assert_int_equal(pprof_scan_time(gz, gz_len - 6, &t, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "gzip"));
    uint8_t *junk = malloc(gz_len + 3);
    memcpy(junk, gz, gz_len);
    memcpy(junk + gz_len, "xyz", 3);
    assert_int_equal(pprof_scan_time(junk, gz_len + 3, &t, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "trailing garbage"));
    const uint8_t bad_wire[] = {0x0b}; /* field 1, wire type 3 */
    assert_int_equal(pprof_scan_time(bad_wire, sizeof bad_wire, &t, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "wire type 3"));
    assert_int_equal(pprof_scan_time(plain, 0, &t, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "empty"));
    free(junk), free(gz), free(plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_gzip),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
