/* Unit tests of signed overflow in the codec: merged durations and summed
 * sample values stick at INT64_MAX / INT64_MIN (merge and compact), and a
 * pushed profile whose time_nanos + duration_nanos is past int64 is
 * refused with a message instead of getting a wrapped, negative window.
 * Run under UBSan, any remaining signed overflow here aborts the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "host.h"
#include "pprof_internal.h"
#include "push.pb-c.h"
#include "push_codec.h"
#include "unit_support.h"

#define ERR_LEN 256
#define SEC 1000000000LL

/* One sample type (cpu/nanoseconds), one frame, one sample of `value`,
 * with the given time and duration. */
static pp_profile *one_sample(int64_t value, int64_t time_ns, int64_t duration_ns)
{
    pp_profile *p = profile_new();
    unit_one_frame_tree(p, "cpu", "nanoseconds", value);
    p->tree.period_type = p->tree.sample_types[0];
    p->tree.time_nanos = time_ns;
    p->tree.duration_nanos = duration_ns;
    return p;
}

/* Merges a profile of (value, duration) into dst. */
static void merge_in(pp_profile *dst, int64_t value, int64_t duration_ns)
{
    char err[ERR_LEN] = "";
    pp_profile *src = one_sample(value, SEC, duration_ns);
    assert_int_equal(pprof_merge(dst, src, err, sizeof(err)), 0);
    profile_free(src);
}

static void test_merge_saturates_at_max(void **state)
{
    (void)state;
    pp_profile *dst = one_sample(INT64_MAX - 1, SEC, INT64_MAX - 10);
    merge_in(dst, 5, 100);
    const pp_pprof *t = profile_tree(dst, NULL, 0);
    assert_int_equal(t->n_samples, 1);
    assert_true(t->samples[0].values[0] == INT64_MAX);
    assert_true(t->duration_nanos == INT64_MAX);
    merge_in(dst, INT64_MAX, INT64_MAX); /* stays at the end */
    t = profile_tree(dst, NULL, 0);
    assert_true(t->samples[0].values[0] == INT64_MAX);
    assert_true(t->duration_nanos == INT64_MAX);
    /* a negative value comes back down from the saturated sum */
    merge_in(dst, -10, -10);
    t = profile_tree(dst, NULL, 0);
    assert_true(t->samples[0].values[0] == INT64_MAX - 10);
    assert_true(t->duration_nanos == INT64_MAX - 10);
    profile_free(dst);
}

/* A sample without locations (the fuzz reproducer
 * tests/fuzz/pprof/regressions/merge-sample-without-locations) merges as a
 * sample of its own, with no copy from a NULL scratch list (UBSan's
 * nonnull-attribute check aborts here without the fix). */
static void test_merge_sample_without_locations(void **state)
{
    (void)state;
    char err[ERR_LEN] = "";
    pp_profile *dst = one_sample(5, SEC, SEC);
    pp_profile *src = one_sample(7, SEC, SEC);
    src->tree.samples[0].n_location_ids = 0;
    assert_int_equal(pprof_merge(dst, src, err, sizeof(err)), 0);
    const pp_pprof *t = profile_tree(dst, NULL, 0);
    assert_int_equal(t->n_samples, 2);
    assert_int_equal(t->samples[0].n_location_ids, 1);
    assert_int_equal(t->samples[0].values[0], 5);
    assert_int_equal(t->samples[1].n_location_ids, 0);
    assert_int_equal(t->samples[1].values[0], 7);
    profile_free(src);
    profile_free(dst);
}

static void test_merge_saturates_at_min(void **state)
{
    (void)state;
    /* negative durations and values (a delta profile can hold them) */
    pp_profile *dst = one_sample(INT64_MIN + 1, SEC, INT64_MIN + 3);
    merge_in(dst, -7, -7);
    const pp_pprof *t = profile_tree(dst, NULL, 0);
    assert_true(t->samples[0].values[0] == INT64_MIN);
    assert_true(t->duration_nanos == INT64_MIN);
    merge_in(dst, INT64_MIN, INT64_MIN);
    t = profile_tree(dst, NULL, 0);
    assert_true(t->samples[0].values[0] == INT64_MIN);
    assert_true(t->duration_nanos == INT64_MIN);
    /* ordinary negative sums are exact */
    pp_profile *small = one_sample(-5, SEC, -SEC);
    merge_in(small, -6, -2 * SEC);
    t = profile_tree(small, NULL, 0);
    assert_int_equal(t->samples[0].values[0], -11);
    assert_true(t->duration_nanos == -3 * SEC);
    profile_free(small);
    profile_free(dst);
}

/* Compact sums equal stacks with the same saturation; a sum that reaches
 * exactly zero is dropped as all-zero. */
static void test_compact_saturates(void **state)
{
    (void)state;
    pp_profile *p = one_sample(INT64_MAX, SEC, SEC);
    pp_pprof *t = profile_tree_mut(p, NULL, 0);
    pp_sample *samples = profile_alloc(p, 4 * sizeof(pp_sample));
    int64_t values[] = {INT64_MAX, INT64_MAX, 3, INT64_MIN};
    for (size_t i = 0; i < 4; i++) {
        samples[i] = t->samples[0];
        samples[i].values = profile_alloc(p, sizeof(int64_t));
        samples[i].values[0] = values[i];
    }
    t->samples = samples;
    t->n_samples = 4;
    assert_int_equal(pprof_compact(p), 0);
    assert_int_equal(t->n_samples, 1);
    /* MAX + MAX -> MAX; + 3 -> MAX; + MIN -> -1 */
    assert_int_equal(t->samples[0].values[0], -1);
    profile_free(p);
}

/* A PushRequest holding one profile of time t and duration d. */
static uint8_t *push_of(int64_t time_ns, int64_t duration_ns, size_t *len)
{
    pp_profile *p = one_sample(1, time_ns, duration_ns);
    profile_label_set(p, "service_name", "svc");
    uint8_t *req;
    assert_int_equal(push_encode(host_api(), &p, 1, &req, len, NULL, 0), 0);
    profile_free(p);
    return req;
}

typedef struct collected {
    pp_profile *p;
} collected;

static int collect(pp_batch *b, pp_profile *p)
{
    collected *c = (collected *)(void *)b;
    if (c->p) {
        profile_free(p);
        return -1;
    }
    c->p = p;
    return 0;
}

/* The host's table with batch_add replaced by `collect`: push_decode adds
 * each profile through it. */
static const pp_host *collecting_host(void)
{
    static pp_host h;
    h = *host_api();
    h.batch_add = collect;
    return &h;
}

/* Pushes a profile of (time, duration): accepted with window [from, until]. */
static void assert_window(int64_t time_ns, int64_t duration_ns, int64_t from, int64_t until)
{
    char err[ERR_LEN] = "";
    size_t len;
    uint8_t *req = push_of(time_ns, duration_ns, &len);
    collected c = {0};
    assert_int_equal(
        push_decode(collecting_host(), req, len, (pp_batch *)(void *)&c, err, sizeof(err)), 0);
    assert_non_null(c.p);
    assert_true(profile_from(c.p) == from);
    assert_true(profile_until(c.p) == until);
    profile_free(c.p);
    free(req);
}

static void test_push_window_overflow_refused(void **state)
{
    (void)state;
    char err[ERR_LEN] = "";
    size_t len;
    uint8_t *req = push_of(INT64_MAX - SEC, 2 * SEC, &len);
    collected c = {0};
    assert_int_equal(
        push_decode(collecting_host(), req, len, (pp_batch *)(void *)&c, err, sizeof(err)),
        PUSH_BAD_PROFILE);
    assert_null(c.p);
    assert_string_equal(err, "series 0 sample 0: time_nanos 9223372035854775807 + "
                             "duration_nanos 2000000000 is past the largest time (int64 "
                             "nanoseconds)");
    free(req);
    /* an almost INT64_MAX duration from a small time still fits */
    assert_window(1, INT64_MAX - 1, 1, INT64_MAX);
    /* INT64_MAX as the time with no duration is the largest window */
    assert_window(INT64_MAX, 0, INT64_MAX, INT64_MAX);
}

static void test_push_negative_duration(void **state)
{
    (void)state;
    /* a negative duration is no window length: until = from, even at the end of time */
    assert_window(INT64_MAX, INT64_MIN, INT64_MAX, INT64_MAX);
    assert_window(SEC, -SEC, SEC, SEC);
    /* a negative time (before 1970) keeps its duration */
    assert_window(-5 * SEC, 2 * SEC, -5 * SEC, -3 * SEC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_saturates_at_max),
        cmocka_unit_test(test_merge_saturates_at_min),
        cmocka_unit_test(test_merge_sample_without_locations),
        cmocka_unit_test(test_compact_saturates),
        cmocka_unit_test(test_push_window_overflow_refused),
        cmocka_unit_test(test_push_negative_duration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
