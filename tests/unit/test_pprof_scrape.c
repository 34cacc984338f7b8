/* Unit tests of pprof_scrape apart from deltas: series labels, target
 * addresses, file_sd files, the pprof body check, and the option table
 * through the real config checker (harness). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../receivers/pprof_scrape/scrape.h"

#include "harness.h"

extern const pp_component pp_receiver_pprof_scrape;

static const char *get(const scrape_kv *kv, size_t n, const char *name)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (strcmp(kv[i].name, name) == 0)
            return kv[i].value;
    return NULL;
}

static void test_labels_defaults(void **st)
{
    scrape_kv in[] = {{"team", "core"}, {"__meta_x", "dropped"}, {"__address__", "a:1"}};
    scrape_kv *out;
    size_t n, i;
    (void)st;
    assert_int_equal(scrape_target_labels("pprof_scrape/go", "10.0.0.1:6060", in, 3, &out, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(get(out, n, "job"), "pprof_scrape/go");
    assert_string_equal(get(out, n, "instance"), "10.0.0.1:6060");
    assert_string_equal(get(out, n, "service_name"), "pprof_scrape/go");
    assert_string_equal(get(out, n, "team"), "core");
    assert_null(get(out, n, "__meta_x"));
    for (i = 1; i < n; i++)
        assert_true(strcmp(out[i - 1].name, out[i].name) < 0);
    scrape_kv_free(out, n);
}

static void test_labels_target_wins(void **st)
{
    scrape_kv in[] = {{"service_name", "checkout"},
                      {"instance", "pod-7"},
                      {"job", "mine"},
                      {"service_name", "again"}};
    scrape_kv *out;
    size_t n;
    (void)st;
    assert_int_equal(scrape_target_labels("j", "h:1", in, 4, &out, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(get(out, n, "service_name"), "checkout");
    assert_string_equal(get(out, n, "instance"), "pod-7");
    assert_string_equal(get(out, n, "job"), "mine");
    scrape_kv_free(out, n);
}

static void test_labels_empty_service_name(void **st)
{
    scrape_kv in[] = {{"service_name", ""}};
    scrape_kv *out;
    size_t n;
    (void)st;
    assert_int_equal(scrape_target_labels("job1", "h:1", in, 1, &out, &n), 0);
    assert_string_equal(get(out, n, "service_name"), "job1");
    scrape_kv_free(out, n);
}

static void check_address(const char *addr, const char *scheme, const char *instance,
                          const char *prefix)
{
    char *s, *i, *p, err[256];
    assert_int_equal(scrape_parse_address(addr, "http", &s, &i, &p, err, sizeof err), 0);
    assert_string_equal(s, scheme);
    assert_string_equal(i, instance);
    assert_string_equal(p, prefix);
    free(s);
    free(i);
    free(p);
}

static void test_addresses(void **st)
{
    char *s, *i, *p, err[256];
    (void)st;
    check_address("127.0.0.1:6060", "http", "127.0.0.1:6060", "");
    check_address("localhost", "http", "localhost:80", "");
    check_address("https://api.example.com/svc/", "https", "api.example.com:443", "/svc");
    check_address("http://[::1]:8080/a/b?x=1", "http", "[::1]:8080", "/a/b");
    check_address("[::1]:9", "http", "[::1]:9", "");
    assert_int_equal(scrape_parse_address("ftp://h:1", "http", &s, &i, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "scheme"));
    assert_int_equal(scrape_parse_address("h:99999", "http", &s, &i, &p, err, sizeof err), -1);
    assert_int_equal(scrape_parse_address(":80", "http", &s, &i, &p, err, sizeof err), -1);
    /* `scheme: https` applies to host:port targets; a URL keeps its own */
    assert_int_equal(scrape_parse_address("10.0.0.1:8443", "https", &s, &i, &p, err, sizeof err),
                     0);
    assert_string_equal(s, "https");
    assert_string_equal(i, "10.0.0.1:8443");
    free(s);
    free(i);
    free(p);
    assert_int_equal(scrape_parse_address("api.example.com", "https", &s, &i, &p, err, sizeof err),
                     0);
    assert_string_equal(i, "api.example.com:443");
    free(s);
    free(i);
    free(p);
    assert_int_equal(scrape_parse_address("http://h:1", "https", &s, &i, &p, err, sizeof err), 0);
    assert_string_equal(s, "http");
    free(s);
    free(i);
    free(p);
}

static char *write_temp(const char *suffix, const char *text)
{
    char *path = malloc(64);
    FILE *f;
    snprintf(path, 64, "/tmp/pps_sd_%d_%s", (int)getpid(), suffix);
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void free_specs(scrape_spec *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        scrape_spec_clear(&s[i]);
    free(s);
}

static void test_file_sd_json_and_yaml(void **st)
{
    char *json =
        write_temp("a.json", "[{\"targets\": [\"127.0.0.1:1\", \"127.0.0.1:2\"],"
                             "  \"labels\": {\"service_name\": \"api\", \"env\": \"prod\"}},"
                             " {\"targets\": [\"127.0.0.1:3\"]}]");
    char *yaml = write_temp("b.yaml", "- targets: ['h:4']\n  labels:\n    team: infra\n");
    scrape_spec *specs = NULL;
    size_t n = 0;
    char err[256];
    (void)st;
    assert_int_equal(scrape_sd_read(json, &specs, &n, err, sizeof err), 0);
    assert_int_equal(scrape_sd_read(yaml, &specs, &n, err, sizeof err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(specs[1].address, "127.0.0.1:2");
    assert_string_equal(get(specs[1].labels, specs[1].n_labels, "env"), "prod");
    assert_int_equal(specs[2].n_labels, 0);
    assert_string_equal(specs[3].address, "h:4");
    assert_string_equal(get(specs[3].labels, specs[3].n_labels, "team"), "infra");
    free_specs(specs, n);
    unlink(json);
    unlink(yaml);
    free(json);
    free(yaml);
}

static void test_file_sd_errors(void **st)
{
    char *bad = write_temp("bad.json", "[{\"targets\": [\"a:1\"],\n \"labels\": [1, 2]}]");
    char *broken = write_temp("broken.yaml", "- targets: [a:1\n");
    scrape_spec *specs = NULL;
    size_t n = 0;
    char err[256];
    (void)st;
    assert_int_equal(scrape_sd_read(bad, &specs, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "labels must be a mapping"));
    assert_non_null(strstr(err, ":2:"));
    assert_int_equal(scrape_sd_read(broken, &specs, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, broken));
    assert_int_equal(scrape_sd_read("/nonexistent/sd.json", &specs, &n, err, sizeof err), -1);
    assert_int_equal(n, 0);
    unlink(bad);
    unlink(broken);
    free(bad);
    free(broken);
}

static void test_pprof_check(void **st)
{
    const pp_host *h = harness_host();
    pp_profile *p = h->profile_new();
    pp_pprof *t = h->profile_tree_new(p);
    const uint8_t *gz;
    size_t len;
    char err[256];
    int too_large = 0;
    const char *html = "<!DOCTYPE html><html><body>404</body></html>";
    (void)st;
    t->sample_types = h->profile_alloc(p, sizeof *t->sample_types);
    t->n_sample_types = 1;
    t->sample_types[0].type = h->pprof_intern(p, "goroutine");
    t->sample_types[0].unit = h->pprof_intern(p, "count");
    assert_int_equal(h->profile_raw_gz(p, &gz, &len, err, sizeof err), 0);
    assert_int_equal(scrape_check_pprof(gz, len, 1 << 20, 0, &too_large, err, sizeof err), 0);
    assert_int_equal(scrape_check_pprof(gz, len - 5, 1 << 20, 0, &too_large, err, sizeof err), -1);
    assert_non_null(strstr(err, "gzip"));
    assert_int_equal(scrape_check_pprof((const uint8_t *)html, strlen(html), 1 << 20, 0, &too_large,
                                        err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "<!DOCTYPE"));
    assert_int_equal(scrape_check_pprof(gz, 0, 1 << 20, 0, &too_large, err, sizeof err), -1);
    h->profile_free(p);
}

static harness *make(const char *yaml, char *err, size_t errlen)
{
    return harness_new(&pp_receiver_pprof_scrape, "pprof_scrape/t", yaml, err, errlen);
}

static void test_options_valid(void **st)
{
    char err[512];
    harness *h = make("targets:\n"
                      "  - 127.0.0.1:6060\n"
                      "  - address: https://10.0.0.2:8443/prefix\n"
                      "    labels: {service_name: api}\n"
                      "    bearer_token: abc\n"
                      "    tls_config: {insecure_skip_verify: true}\n"
                      "scrape_interval: 2s\n"
                      "http_headers: {X-Pprof-Token: secret}\n"
                      "profiling_config:\n"
                      "  profile.block: {enabled: false}\n"
                      "  profile.custom:\n"
                      "    - {name: heap, path: /debug/pprof/heap}\n",
                      err, sizeof err);
    (void)st;
    assert_non_null(h);
    harness_free(h);
}

static void expect_error(const char *yaml, const char *needle)
{
    char err[512] = "";
    harness *h = make(yaml, err, sizeof err);
    if (h)
        harness_free(h);
    assert_null(h);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void test_options_invalid(void **st)
{
    (void)st;
    expect_error("scrape_interval: 2s\n", "targets");
    expect_error("targets: [\"ftp://x:1\"]\n", "scheme");
    expect_error("targets: [{address: a:1, colour: red}]\n", "colour");
    expect_error("targets: [{labels: {a: b}}]\n", "address");
    expect_error("targets: [{address: a:1, labels: {a: [1, 2]}}]\n", "single value");
    expect_error("targets: [a:1]\nbearer_token: x\nbasic_auth: {username: u, password: p}\n",
                 "not both");
    expect_error("targets: [a:1]\nscrape_interval: 1s\n", "profiling duration");
    expect_error("targets: [a:1]\nscheme: gopher\n", "scheme");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels_defaults),
        cmocka_unit_test(test_labels_target_wins),
        cmocka_unit_test(test_labels_empty_service_name),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_file_sd_json_and_yaml),
        cmocka_unit_test(test_file_sd_errors),
        cmocka_unit_test(test_pprof_check),
        cmocka_unit_test(test_options_valid),
        cmocka_unit_test(test_options_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
