/* kafka_decode: a message as the kafka exporter writes it (value and
 * librdkafka headers) into profiles, without a broker: the window from the
 * headers or from the pprof, labels from profpipe.label.* headers, and
 * the refusals that make a message poison, and a pprof whose time plus
 * duration overflows int64 (the window's end saturates). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../receivers/kafka/kafka_decode.h"
#include "harness.h"
#include "profile.h"
#include "unit_support.h"

#define T0 1700000000000000000LL
#define D0 10000000000LL

/* Decodes value with the given (name, value) header pairs; returns the
 * batch (caller unrefs) or NULL with the reason in why. */
static pp_batch *decode(kafka_encoding enc, const void *value, size_t len,
                        const char *const *headers, char *why, size_t cap)
{
    const pp_host *h = harness_host();
    rd_kafka_headers_t *hdrs = headers ? rd_kafka_headers_new(8) : NULL;
    for (size_t i = 0; headers && headers[i]; i += 2)
        rd_kafka_header_add(hdrs, headers[i], -1, headers[i + 1], -1);
    pp_batch *b = h->batch_new();
    int rc = kafka_decode_message(h, enc, hdrs, value, len, b, why, cap);
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    if (rc != 0) {
        h->batch_unref(b);
        return NULL;
    }
    return b;
}

static void test_window_and_labels(void **state)
{
    (void)state;
    const pp_host *h = harness_host();
    size_t len;
    uint8_t *gz = unit_one_sample_gz("samples", "count", 3, T0, D0, &len);
    char why[256];
    pp_batch *b = decode(KAFKA_ENC_PPROF, gz, len, NULL, why, sizeof why);
    assert_non_null(b);
    assert_int_equal(h->batch_count(b), 1);
    pp_profile *p = h->batch_get(b, 0);
    assert_int_equal(h->profile_from(p), T0);
    assert_int_equal(h->profile_until(p), T0 + D0);
    h->batch_unref(b);

    const char *const headers[] = {
        KAFKA_HDR_FROM, "1000", KAFKA_HDR_UNTIL, "2000", KAFKA_HDR_LABEL_PREFIX "service_name",
        "checkout",     NULL};
    b = decode(KAFKA_ENC_PPROF, gz, len, headers, why, sizeof why);
    assert_non_null(b);
    p = h->batch_get(b, 0);
    assert_int_equal(h->profile_from(p), 1000);
    assert_int_equal(h->profile_until(p), 2000);
    assert_string_equal(h->label_get(p, "service_name"), "checkout");
    h->batch_unref(b);
    free(gz);
}

/* A pprof value is read by the streaming pass, not decoded: the profile
 * leaves with its name from the sample types (a header's name wins) and
 * no tree attached (shedding frees nothing until something decodes it). */
static void test_pprof_not_decoded(void **state)
{
    (void)state;
    const pp_host *h = harness_host();
    size_t len;
    uint8_t *gz = unit_one_sample_gz("samples", "count", 3, T0, D0, &len);
    char why[256];
    pp_batch *b = decode(KAFKA_ENC_PPROF, gz, len, NULL, why, sizeof why);
    assert_non_null(b);
    pp_profile *p = h->batch_get(b, 0);
    assert_string_equal(h->label_get(p, "__name__"), "process_cpu");
    assert_int_equal(profile_shed_tree(p), 0);
    char err[256];
    assert_non_null(h->profile_tree(p, err, sizeof err));
    assert_true(profile_shed_tree(p) > 0);
    h->batch_unref(b);

    const char *const named[] = {KAFKA_HDR_LABEL_PREFIX "__name__", "goroutines", NULL};
    b = decode(KAFKA_ENC_PPROF, gz, len, named, why, sizeof why);
    assert_non_null(b);
    assert_string_equal(h->label_get(h->batch_get(b, 0), "__name__"), "goroutines");
    h->batch_unref(b);

    uint8_t *bad = malloc(len);
    memcpy(bad, gz, len);
    assert_null(decode(KAFKA_ENC_PPROF, bad, len - 6, NULL, why, sizeof why));
    assert_non_null(strstr(why, "not a pprof profile: bad gzip"));
    free(bad);
    free(gz);
}

/* time_nanos near INT64_MAX plus a positive duration overflowed int64
 * computing the window's end (UBSan: signed-integer-overflow). */
static void test_window_end_saturates(void **state)
{
    (void)state;
    const pp_host *h = harness_host();
    size_t len;
    uint8_t *gz = unit_one_sample_gz("samples", "count", 3, INT64_MAX - 5, D0, &len);
    char why[256];
    pp_batch *b = decode(KAFKA_ENC_PPROF, gz, len, NULL, why, sizeof why);
    assert_non_null(b);
    pp_profile *p = h->batch_get(b, 0);
    assert_int_equal(h->profile_from(p), INT64_MAX - 5);
    assert_int_equal(h->profile_until(p), INT64_MAX);
    h->batch_unref(b);
    free(gz);
    /* from a header, with the pprof's duration */
    gz = unit_one_sample_gz("samples", "count", 3, T0, INT64_MAX, &len);
    const char *const headers[] = {KAFKA_HDR_FROM, "9223372036854775000", NULL};
    b = decode(KAFKA_ENC_PPROF, gz, len, headers, why, sizeof why);
    assert_non_null(b);
    assert_int_equal(h->profile_until(h->batch_get(b, 0)), INT64_MAX);
    h->batch_unref(b);
    free(gz);
}

static void test_refusals(void **state)
{
    (void)state;
    size_t len;
    uint8_t *gz = unit_one_sample_gz("samples", "count", 3, T0, D0, &len);
    char why[256];
    const char *const bad_from[] = {KAFKA_HDR_FROM, "12x", NULL};
    assert_null(decode(KAFKA_ENC_PPROF, gz, len, bad_from, why, sizeof why));
    assert_string_equal(why, "header profpipe.from is not a number");
    const char *const bad_until[] = {KAFKA_HDR_UNTIL, "", NULL};
    assert_null(decode(KAFKA_ENC_PPROF, gz, len, bad_until, why, sizeof why));
    assert_string_equal(why, "header profpipe.until is not a number");
    const char *const no_name[] = {KAFKA_HDR_LABEL_PREFIX, "v", NULL};
    assert_null(decode(KAFKA_ENC_PPROF, gz, len, no_name, why, sizeof why));
    assert_string_equal(why, "header profpipe.label. is not a label");
    assert_null(decode(KAFKA_ENC_PPROF, gz, 0, NULL, why, sizeof why));
    assert_string_equal(why, "not a pprof profile: empty value");
    assert_null(decode(KAFKA_ENC_PPROF, "\x0b", 1, NULL, why, sizeof why));
    assert_non_null(strstr(why, "not a pprof profile: "));
    assert_null(decode(KAFKA_ENC_PUSH, gz, len, NULL, why, sizeof why));
    assert_non_null(strstr(why, "not a PushRequest: "));
    free(gz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_and_labels),
        cmocka_unit_test(test_pprof_not_decoded),
        cmocka_unit_test(test_window_end_saturates),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
