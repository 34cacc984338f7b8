/* Tests of the pyroscope exporter's series rules (what Alloy sends, what
 * Pyroscope's distributor refuses, the /ingest name, the uncompressed
 * size from the gzip trailer) and of the exporter's option checks, with
 * the real host API from tests/support/harness.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../exporters/pyroscope/pyroscope_series.h"
#include "harness.h"

extern const pp_component pp_exporter_pyroscope;

static const pyro_limits default_limits = {
    PYRO_DEFAULT_MAX_LABEL_NAME_LENGTH,
    PYRO_DEFAULT_MAX_LABEL_VALUE_LENGTH,
    PYRO_DEFAULT_MAX_LABEL_NAMES,
    PYRO_DEFAULT_MAX_PROFILE_SIZE,
};

/* A profile with the given name/value pairs (NULL-terminated). */
static pp_profile *labeled(const char *const *kv)
{
    const pp_host *h = harness_host();
    pp_profile *p = h->profile_new();
    for (size_t i = 0; kv[i]; i += 2)
        assert_int_equal(h->label_set(p, kv[i], kv[i + 1]), 0);
    return p;
}

/* Builds the series of kv; returns the reason or NULL when accepted. */
static const char *check_tenant(const char *const *kv, const pyro_limits *lim,
                                const char *tenant_label, pyro_series *s)
{
    pp_profile *p = labeled(kv);
    const char *reason = NULL;
    char err[256];
    int rc =
        pyro_series_build(harness_host(), p, lim, tenant_label, NULL, s, &reason, err, sizeof err);
    harness_host()->profile_free(p);
    if (rc == 0)
        return NULL;
    assert_non_null(reason);
    assert_true(err[0] != '\0');
    return reason;
}

static const char *check(const char *const *kv, const pyro_limits *lim, pyro_series *s)
{
    return check_tenant(kv, lim, NULL, s);
}

static void series_like_alloy(void **state)
{
    (void)state;
    static const char *const kv[] = {
        "service_name", "shop",          "__name__", "process_cpu", "__delta__",       "false",
        "__address__",  "10.0.0.1:6060", "__meta_x", "y",           "otel.scope.name", "sdk",
        NULL,
    };
    pyro_series s;
    assert_null(check(kv, &default_limits, &s));
    assert_int_equal(s.n, 4);
    assert_true(s.changed);
    /* sorted, reserved labels but __name__ and __delta__ gone, dots sanitized */
    assert_string_equal(s.labels[0].name, "__delta__");
    assert_string_equal(s.labels[1].name, "__name__");
    assert_string_equal(s.labels[2].name, "otel_scope_name");
    assert_string_equal(s.labels[3].name, "service_name");
    assert_string_equal(pyro_series_get(&s, "otel_scope_name"), "sdk");
    assert_null(pyro_series_get(&s, "__address__"));
    char buf[256];
    pyro_series_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "{__delta__=\"false\", __name__=\"process_cpu\", "
                             "otel_scope_name=\"sdk\", service_name=\"shop\"}");
    pyro_series_free(&s);

    static const char *const plain[] = {"service_name", "a", "__name__", "memory", NULL};
    assert_null(check(plain, &default_limits, &s));
    assert_false(s.changed);
    pyro_series_free(&s);
}

/* external_labels as Alloy's pyroscope.write sets them: after reserved
 * labels are dropped, each replaces a label of its name or is added, and
 * the limits apply to the result. */
static void external_labels_set(void **state)
{
    (void)state;
    static const char *const kv[] = {
        "service_name", "shop", "__name__", "memory", "env", "dev", "__address__", "x", NULL,
    };
    static const char *const names[] = {"env", "cluster"};
    static const char *const values[] = {"prod", "eu-1"};
    pyro_external ext = {names, values, 2};
    pyro_series s;
    const char *reason = NULL;
    char err[256];
    pp_profile *p = labeled(kv);
    assert_int_equal(pyro_series_build(harness_host(), p, &default_limits, NULL, &ext, &s, &reason,
                                       err, sizeof err),
                     0);
    char buf[256];
    pyro_series_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "{__name__=\"memory\", cluster=\"eu-1\", env=\"prod\", "
                             "service_name=\"shop\"}");
    assert_true(s.changed);
    pyro_series_free(&s);

    pyro_limits three = default_limits;
    three.max_label_names = 3; /* 2 own + 2 external > 3 */
    assert_int_equal(
        pyro_series_build(harness_host(), p, &three, NULL, &ext, &s, &reason, err, sizeof err), -1);
    assert_string_equal(reason, "max_label_names_per_series");
    pyro_series_free(&s);
    harness_host()->profile_free(p);
}

static void series_refused_like_pyroscope(void **state)
{
    (void)state;
    char longname[PYRO_DEFAULT_MAX_LABEL_NAME_LENGTH + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    char longvalue[PYRO_DEFAULT_MAX_LABEL_VALUE_LENGTH + 2];
    memset(longvalue, 'v', sizeof longvalue - 1);
    longvalue[sizeof longvalue - 1] = '\0';
    const char *const no_service[] = {"__name__", "memory", NULL};
    const char *const empty_service[] = {"__name__", "memory", "service_name", "", NULL};
    const char *const no_name[] = {"service_name", "a", NULL};
    const char *const bad_name[] = {"service_name", "a", "__name__", "a-b", NULL};
    const char *const long_name[] = {"service_name", "a", "__name__", "x", longname, "v", NULL};
    const char *const long_value[] = {"service_name", "a", "__name__", "x", "k", longvalue, NULL};
    const char *const bad_chars[] = {"service_name", "a", "__name__", "x", "k-8s", "v", NULL};
    const char *const digit_first[] = {"service_name", "a", "__name__", "x", "9k", "v", NULL};
    const char *const bad_utf8[] = {"service_name", "a", "__name__", "x", "k", "\xc3\x28", NULL};
    const char *const dup[] = {"service_name", "a", "__name__", "x", "a.b", "1", "a_b", "2", NULL};
    const char *const none[] = {NULL};
    const struct {
        const char *const *kv;
        const char *reason;
    } cases[] = {
        {no_service, "missing_labels"},     {empty_service, "missing_labels"},
        {no_name, "invalid_labels"},        {bad_name, "invalid_labels"},
        {long_name, "label_name_too_long"}, {long_value, "label_value_too_long"},
        {bad_chars, "invalid_labels"},      {digit_first, "invalid_labels"},
        {bad_utf8, "invalid_labels"},       {dup, "duplicate_label_names"},
        {none, "missing_labels"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pyro_series s;
        const char *reason = check(cases[i].kv, &default_limits, &s);
        if (!reason || strcmp(reason, cases[i].reason) != 0)
            fail_msg("case %zu: reason %s, want %s", i, reason ? reason : "(accepted)",
                     cases[i].reason);
        pyro_series_free(&s);
    }
    pyro_limits three = default_limits;
    three.max_label_names = 2;
    const char *const many[] = {"service_name", "a", "__name__", "x", "k", "v", NULL};
    pyro_series s;
    assert_string_equal(check(many, &three, &s), "max_label_names_per_series");
    pyro_series_free(&s);
}

static void tenant_label_taken_out(void **state)
{
    (void)state;
    const char *const kv[] = {"service_name", "a", "__name__", "x", "tenant", "t1", NULL};
    pyro_series s;
    pyro_limits two = default_limits;
    two.max_label_names = 2; /* the tenant label is not sent, so not counted */
    assert_null(check_tenant(kv, &two, "tenant", &s));
    assert_string_equal(s.tenant, "t1");
    assert_int_equal(s.n, 2);
    assert_null(pyro_series_get(&s, "tenant"));
    assert_true(s.changed);
    pyro_series_free(&s);
    assert_null(check_tenant(kv, &default_limits, "other", &s));
    assert_null(s.tenant);
    assert_int_equal(s.n, 3);
    pyro_series_free(&s);
}

static void ingest_name(void **state)
{
    (void)state;
    const char *const kv[] = {
        "service_name", "shop",   "__name__", "process_cpu", "__delta__", "false", "pyroscope_spy",
        "gospy",        "region", "eu",       "pod",         "p1",        NULL};
    pyro_series s;
    assert_null(check(kv, &default_limits, &s));
    char err[256];
    char *name = pyro_ingest_name(&s, err, sizeof err);
    assert_non_null(name);
    assert_string_equal(name, "shop{pod=p1,region=eu}");
    free(name);
    pyro_series_free(&s);

    const char *const comma[] = {"service_name", "shop", "__name__", "x", "k", "a,b", NULL};
    assert_null(check(comma, &default_limits, &s));
    assert_null(pyro_ingest_name(&s, err, sizeof err));
    assert_non_null(strstr(err, "label k"));
    pyro_series_free(&s);
}

static void payload_size_from_gzip_trailer(void **state)
{
    (void)state;
    const pp_host *h = harness_host();
    enum { PLAIN = 100000 };
    uint8_t *plain = calloc(1, PLAIN);
    uint8_t *gz;
    size_t gz_len;
    assert_int_equal(h->gzip(plain, PLAIN, &gz, &gz_len), 0);
    assert_true(gz_len < PLAIN / 10);
    assert_int_equal(pyro_payload_size(gz, gz_len), PLAIN);
    assert_int_equal(pyro_payload_size(plain, 1234), 1234); /* not gzip */
    free(gz);
    free(plain);
}

static void options_checked(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        const char *error; /* NULL: valid */
    } cases[] = {
        {"endpoint: http://pyroscope:4040", NULL},
        {"endpoint: https://x/\napi: ingest\ntenant_id: t\nheaders: {X-A: b}", NULL},
        {"endpoint: pyroscope:4040", "http://"},
        {"endpoint: http://x\napi: grpc", "push or ingest"},
        {"endpoint: http://x\nbasic_auth: {username: u, password: p, password_file: f}",
         "not both"},
        {"endpoint: http://x\nbasic_auth: {username: u, password: p}\nbearer_token: t", "not both"},
        {"endpoint: http://x\ntls: {cert_file: c}", "go together"},
        {"endpoint: http://x\nmax_label_names_per_series: 0", "positive"},
        {"api: push", "endpoint"},
        {"endpoint: http://x\nexternal_labels: {cluster: eu-1, env: prod}", NULL},
        {"endpoint: http://x\nexternal_labels: {cluster-a: x}", "not a label name"},
        {"endpoint: http://x\nexternal_labels: {__name__: x}", "not a label name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        harness *hs =
            harness_new(&pp_exporter_pyroscope, "pyroscope", cases[i].yaml, err, sizeof err);
        if (!cases[i].error) {
            if (!hs)
                fail_msg("'%s' refused: %s", cases[i].yaml, err);
            harness_free(hs);
            continue;
        }
        if (hs) {
            harness_free(hs);
            fail_msg("'%s' accepted", cases[i].yaml);
        }
        if (!strstr(err, cases[i].error))
            fail_msg("'%s': error '%s' lacks '%s'", cases[i].yaml, err, cases[i].error);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(series_like_alloy),
        cmocka_unit_test(external_labels_set),
        cmocka_unit_test(series_refused_like_pyroscope),
        cmocka_unit_test(tenant_label_taken_out),
        cmocka_unit_test(ingest_name),
        cmocka_unit_test(payload_size_from_gzip_trailer),
        cmocka_unit_test(options_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
