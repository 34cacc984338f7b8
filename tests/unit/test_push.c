/* Unit tests of the Pyroscope push.v1 codec: encode then decode keeps
 * labels and payload, windows come from the pprof's own time, each raw
 * sample carries a random UUID; malformed requests and payloads fail with a
 * message. protobuf-c, generated from proto/push.proto, reads the request
 * independently. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "harness.h"
#include "host.h"
#include "pprof_internal.h"
#include "push_codec.h"
#include "push.pb-c.h"
#include "push_codec.h"
#include "unit_support.h"

#define ERR_LEN 256
#define MAX_COLLECTED 8
#define T0 1700000000000000000LL
#define SEC 1000000000LL

/* Stands in for a pp_batch: push_decode only hands it to batch_add. */
typedef struct collected {
    pp_profile *p[MAX_COLLECTED];
    size_t n;
} collected;

static int collect(pp_batch *b, pp_profile *p)
{
    collected *c = (collected *)(void *)b;
    if (c->n == MAX_COLLECTED) {
        profile_free(p);
        return -1;
    }
    c->p[c->n++] = p;
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

static void collected_free(collected *c)
{
    for (size_t i = 0; i < c->n; i++)
        profile_free(c->p[i]);
    c->n = 0;
}

static pp_profile *make_profile(const char *service, int64_t time_ns, int64_t dur_ns)
{
    pp_profile *p = profile_new();
    pp_pprof *t = profile_tree_new(p);
    t->sample_types = profile_alloc(p, sizeof(pp_value_type));
    t->sample_types[0] = (pp_value_type){pprof_intern(p, "cpu"), pprof_intern(p, "nanoseconds")};
    t->n_sample_types = 1;
    t->time_nanos = time_ns;
    t->duration_nanos = dur_ns;
    profile_label_set(p, "service_name", service);
    profile_label_set(p, "__name__", "process_cpu");
    return p;
}

static void test_push_roundtrip(void **state)
{
    (void)state;
    char err[ERR_LEN] = "";
    pp_profile *in[2] = {make_profile("a", T0, 10 * SEC), make_profile("b", T0 + SEC, 0)};
    uint8_t *req;
    size_t len;
    assert_int_equal(push_encode(host_api(), in, 2, &req, &len, err, sizeof(err)), 0);

    /* independent reading: one series per profile, one raw sample each */
    Push__V1__PushRequest *m = push__v1__push_request__unpack(NULL, len, req);
    assert_non_null(m);
    assert_int_equal(m->n_series, 2);
    assert_int_equal(m->series[1]->n_labels, 2);
    assert_string_equal(m->series[1]->labels[0]->name, "__name__");
    assert_string_equal(m->series[1]->labels[1]->value, "b");
    assert_int_equal(m->series[0]->n_samples, 1);
    const char *id = m->series[0]->samples[0]->id;
    assert_int_equal(strlen(id), 36);
    assert_true(id[8] == '-' && id[13] == '-' && id[14] == '4' && id[18] == '-');
    assert_string_not_equal(id, m->series[1]->samples[0]->id);
    assert_true(m->series[0]->samples[0]->raw_profile.data[0] == 0x1f);
    push__v1__push_request__free_unpacked(m, NULL);

    collected c = {0};
    assert_int_equal(
        push_decode(collecting_host(), req, len, (pp_batch *)(void *)&c, err, sizeof(err)), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(profile_label_get(c.p[0], "service_name"), "a");
    assert_string_equal(profile_label_get(c.p[1], "__name__"), "process_cpu");
    assert_int_equal(profile_from(c.p[0]), T0);
    assert_int_equal(profile_until(c.p[0]), T0 + 10 * SEC);
    assert_int_equal(profile_from(c.p[1]), T0 + SEC);
    assert_int_equal(profile_until(c.p[1]), T0 + SEC);
    assert_false(c.p[0]->has_tree); /* passed through undecoded */
    const pp_pprof *t = profile_tree(c.p[0], err, sizeof(err));
    assert_non_null(t);
    assert_string_equal(t->strings[t->sample_types[0].type], "cpu");
    collected_free(&c);
    free(req);
    profile_free(in[0]);
    profile_free(in[1]);
}

static void test_push_window_defaults_to_now(void **state)
{
    (void)state;
    pp_profile *in = make_profile("a", 0, 0);
    uint8_t *req;
    size_t len;
    assert_int_equal(push_encode(host_api(), &in, 1, &req, &len, NULL, 0), 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t before = (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
    collected c = {0};
    assert_int_equal(push_decode(collecting_host(), req, len, (pp_batch *)(void *)&c, NULL, 0), 0);
    assert_int_equal(c.n, 1);
    assert_true(profile_from(c.p[0]) >= before);
    assert_true(profile_from(c.p[0]) < before + 10 * SEC);
    collected_free(&c);
    free(req);
    profile_free(in);
}

static void test_push_empty(void **state)
{
    (void)state;
    uint8_t *req;
    size_t len;
    assert_int_equal(push_encode(host_api(), NULL, 0, &req, &len, NULL, 0), 0);
    assert_int_equal(len, 0);
    collected c = {0};
    assert_int_equal(push_decode(collecting_host(), req, len, (pp_batch *)(void *)&c, NULL, 0), 0);
    assert_int_equal(c.n, 0);
    free(req);
}

static void test_push_malformed(void **state)
{
    (void)state;
    char err[ERR_LEN] = "";
    collected c = {0};
    assert_int_equal(
        push_decode(collecting_host(), "\x0a\x7f", 2, (pp_batch *)(void *)&c, err, sizeof(err)),
        -1);
    assert_string_equal(err, "bad push request: not a valid push.v1.PushRequest");
    /* a well-formed request whose raw profile is a broken gzip */
    uint8_t buf[256];
    size_t len = unit_push_one_raw("\x1f\x8b\x08\x00oops", 8, buf);
    assert_int_equal(
        push_decode(collecting_host(), buf, len, (pp_batch *)(void *)&c, err, sizeof(err)),
        PUSH_BAD_PROFILE); /* the request is well formed, its profile is not */
    assert_non_null(strstr(err, "series 0 sample 0: bad gzip"));
    assert_int_equal(c.n, 0);
}

/* What the double host's pprof_time answers. */
static pp_err time_kind;

static int failing_time(const void *data, size_t len, int64_t *t, int64_t *d, pp_err *kind,
                        char *err, size_t errlen)
{
    (void)data, (void)len;
    *t = *d = 0;
    *kind = time_kind;
    snprintf(err, errlen, "reworded by the test");
    return -1;
}

/* The codec's answer follows the kind the host gives, not its words. */
static void test_push_kind_from_host(void **state)
{
    (void)state;
    pp_profile *in = make_profile("a", T0, SEC);
    uint8_t *req;
    size_t len;
    char err[ERR_LEN] = "";
    assert_int_equal(push_encode(host_api(), &in, 1, &req, &len, NULL, 0), 0);
    pp_host h = *collecting_host();
    h.pprof_time = failing_time;
    collected c = {0};
    time_kind = PP_ERR_TOO_LARGE;
    assert_int_equal(push_decode(&h, req, len, (pp_batch *)(void *)&c, err, sizeof(err)),
                     PUSH_PROFILE_TOO_LARGE);
    assert_string_equal(err, "series 0 sample 0: reworded by the test");
    time_kind = PP_ERR_INVALID;
    assert_int_equal(push_decode(&h, req, len, (pp_batch *)(void *)&c, err, sizeof(err)),
                     PUSH_BAD_PROFILE);
    assert_int_equal(c.n, 0);
    free(req);
    profile_free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_roundtrip),
        cmocka_unit_test(test_push_window_defaults_to_now),
        cmocka_unit_test(test_push_empty),
        cmocka_unit_test(test_push_malformed),
        cmocka_unit_test(test_push_kind_from_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
