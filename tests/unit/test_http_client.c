/* lib/http_client: the option reader and the libcurl lists, checked
 * against Prometheus' meaning of each option (prometheus/common
 * config/http_config.go at commit 0053e8cb: HTTPClientConfig.Validate,
 * ProxyConfig.Validate and Proxy(), Headers with values/secrets/files;
 * golang.org/x/net/http/httpproxy for the environment and loopback rules)
 * and Alloy's list-valued maps. Configs go through the real loader and
 * option checker, so positions and types are the user's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "config_options.h"
#include "config_get.h"
#include "host.h"
#include "../../lib/http_client/http_client.h"

typedef struct test_settings {
    http_client_options http;
} test_settings;

static const pp_option options[] = {
    HTTP_CLIENT_OPTIONS(test_settings, http, "tls", "headers", "true"),
    {.name = "target", .type = PP_OPT_ANY},
    {0},
};

static const http_client_keys target_keys = {.tls = "tls", .headers = "headers", .filled = NULL};

typedef struct loaded {
    config *c;
    const pp_config *node;
    http_client_settings s;
    int rc;
} loaded;

/* Loads `receivers: {file: <yaml indented>}`, checks it against the
 * table and reads it; also reads `target` (unchecked) over it when set. */
static void load(loaded *l, const char *options_yaml)
{
    char text[8192], *p = text;
    const char *line = options_yaml;
    p += sprintf(p, "receivers:\n  file:\n");
    while (*line) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        p += sprintf(p, "    %.*s\n", (int)n, line);
        line += n + (nl ? 1 : 0);
    }
    sprintf(p, "exporters: {file: {directory: /tmp}}\n"
               "service: {pipelines: {profiles: {receivers: [file], exporters: [file]}}}\n");
    memset(l, 0, sizeof *l);
    l->c = config_load_string(text, "t.yaml");
    assert_non_null(l->c);
    config_component *comp = config_find_kind(l->c, PP_RECEIVER, "file");
    if (!comp || config_check_options(l->c, comp, options, NULL) > 0) { /* e.g. broken YAML */
        l->rc = -1;
        return;
    }
    l->node = comp->node;
    test_settings set = {0};
    if (host_api()->cfg_fill(l->node, options, &set) < 0) {
        l->rc = -1;
        return;
    }
    const http_client_keys checked_keys = {.tls = "tls", .headers = "headers", .filled = &set.http};
    l->rc = http_client_read(host_api(), l->node, &checked_keys, &l->s);
    const pp_config *t = cfg_is_set(l->node, "target") ? cfg_child(l->node, "target") : NULL;
    if (l->rc == 0 && t)
        l->rc = http_client_read(host_api(), t, &target_keys, &l->s);
}

static void unload(loaded *l)
{
    http_client_settings_clear(&l->s);
    config_free(l->c);
}

static void expect_ok(loaded *l, const char *yaml)
{
    load(l, yaml);
    if (l->rc != 0) {
        for (size_t i = 0; i < l->c->n_errors; i++)
            print_error("%s\n", l->c->errors[i]);
        fail_msg("refused: %s", yaml);
    }
}

static void expect_refused(const char *yaml, const char *message)
{
    loaded l;
    load(&l, yaml);
    if (l.rc == 0)
        fail_msg("accepted: %s", yaml);
    int found = 0;
    for (size_t i = 0; i < l.c->n_errors; i++)
        found |= strstr(l.c->errors[i], message) != NULL;
    if (!found)
        fail_msg("'%s': no error says '%s' (first: %s)", yaml, message,
                 l.c->n_errors ? l.c->errors[0] : "none");
    unload(&l);
}

/* The header lines built for url, joined with '|'. */
static void header_lines(const http_client_settings *s, const char *url, char *out, size_t n)
{
    http_client_lists lists;
    assert_int_equal(http_client_lists_build(s, url, &lists), 0);
    out[0] = '\0';
    for (const struct curl_slist *h = lists.headers; h; h = h->next)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", out[0] ? "|" : "", h->data);
    http_client_lists_free(&lists);
}

static char *write_temp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/test_http_client.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void authorization_forms(void **state)
{
    (void)state;
    loaded l;
    char lines[1024], yaml[512];
    expect_ok(&l, "authorization: {credentials: s3cret}");
    header_lines(&l.s, "http://x", lines, sizeof lines);
    assert_string_equal(lines, "Authorization: Bearer s3cret"); /* type defaults to Bearer */
    unload(&l);

    char *path = write_temp("tok-from-file\n");
    snprintf(yaml, sizeof yaml, "authorization: {type: Token, credentials_file: %s}", path);
    expect_ok(&l, yaml);
    header_lines(&l.s, "http://x", lines, sizeof lines);
    assert_string_equal(lines, "Authorization: Token tok-from-file"); /* newline cut */
    unload(&l);
    unlink(path);

    expect_ok(&l, "bearer_token: b\nheaders: {X-A: 1}");
    header_lines(&l.s, "http://x", lines, sizeof lines);
    assert_string_equal(lines, "Authorization: Bearer b|X-A: 1");
    unload(&l);

    /* a target's own auth replaces the job's, whatever the kind */
    expect_ok(&l, "basic_auth: {username: u, password: p}\ntarget: {authorization: {type: "
                  "Custom, credentials: c}}");
    assert_null(l.s.username);
    assert_null(l.s.password);
    assert_string_equal(l.s.auth_type, "Custom");
    assert_string_equal(l.s.auth_credentials, "c");
    unload(&l);
}

static void conflicts_refused(void **state)
{
    (void)state;
    expect_refused("authorization: {type: Basic, credentials: x}", "use basic_auth");
    expect_refused("authorization: {type: \" bAsIc \", credentials: x}", "use basic_auth");
    expect_refused("basic_auth: {username: u}\nauthorization: {credentials: x}",
                   "t.yaml:4:5: receivers.file: authorization: set authorization or basic_auth");
    expect_refused("bearer_token: t\nauthorization: {credentials: x}",
                   "set authorization or bearer_token(_file), not both");
    expect_refused("authorization: {credentials: x, credentials_file: /f}",
                   "credentials or credentials_file, not both");
    expect_refused("bearer_token: t\nbearer_token_file: /f", "not both");
    expect_refused("bearer_token: t\nbasic_auth: {username: u}", "not both");
    expect_refused("basic_auth: {username: u, password: p, password_file: /f}", "not both");
    expect_refused("proxy_url: http://p:1\nproxy_from_environment: true",
                   "set proxy_url or proxy_from_environment, not both");
    expect_refused("no_proxy: example.com", "no_proxy needs proxy_url");
    expect_refused("proxy_from_environment: true\nno_proxy: example.com",
                   "no_proxy goes with proxy_url");
    expect_refused("proxy_connect_header: {X-A: b}",
                   "proxy_connect_header needs proxy_url or proxy_from_environment");
    expect_refused("tls: {ca_file: /a, ca_pem: x}", "set ca_file or ca_pem, not both");
    expect_refused("tls: {cert_pem: x}", "go together");
    expect_refused("tls: {key_file: /k}", "go together");
    expect_refused("tls: {min_version: TLS14}", "unknown TLS version \"TLS14\"");
    expect_refused("tls: {min_version: tls13}", "unknown TLS version");
    expect_refused("target: {tls: {insecure_skip_verify: yes}}", "expected true or false");
    expect_refused("target: {enable_http2: 1}", "expected true or false");
    expect_refused("headers: [a, b]", "expected a mapping");
    expect_refused("headers: {X-A: {value: [x]}}", "unknown key (values, secrets or files)");
    expect_refused("headers: {X-A: [[x]]}", "expected a single value");
    /* {values, secrets, files} is Prometheus' http_headers form only */
    expect_refused("proxy_url: http://p:1\nproxy_connect_header: {X-A: {values: [x]}}",
                   "expected a value or a list of values");
    expect_refused("headers: {X-A: {files: [/nonexistent/h]}}", "cannot open /nonexistent/h");
}

static void header_forms(void **state)
{
    (void)state;
    loaded l;
    char lines[1024], yaml[512];
    char *path = write_temp("  from-file \n");
    snprintf(yaml, sizeof yaml,
             "headers:\n"
             "  X-One: a\n"
             "  X-List: [b, c]\n"
             "  X-Prom: {values: [d], secrets: [e], files: [%s]}\n"
             "target: {headers: {x-list: z}}",
             path);
    expect_ok(&l, yaml);
    header_lines(&l.s, "http://x", lines, sizeof lines);
    /* file values trimmed as Prometheus trims them; the target's x-list
     * replaces both X-List values (names are case-insensitive) */
    assert_string_equal(lines, "X-One: a|X-Prom: d|X-Prom: e|X-Prom: from-file|x-list: z");
    unload(&l);
    unlink(path);
}

static void proxy_choice(void **state)
{
    (void)state;
    loaded l;
    http_client_lists lists;
    /* neither option: no proxy at all, whatever the environment says */
    setenv("http_proxy", "http://env-lower:1", 1);
    expect_ok(&l, "headers: {}");
    assert_int_equal(http_client_lists_build(&l.s, "http://t", &lists), 0);
    assert_string_equal(lists.proxy, "");
    assert_null(lists.no_proxy);
    http_client_lists_free(&lists);
    unload(&l);

    /* proxy_url alone proxies everything (http.ProxyURL) */
    expect_ok(&l, "proxy_url: http://p:3128\nproxy_connect_header: {X-C: [c1, c2]}");
    assert_int_equal(http_client_lists_build(&l.s, "https://t", &lists), 0);
    assert_string_equal(lists.proxy, "http://p:3128");
    assert_null(lists.no_proxy);
    assert_string_equal(lists.proxy_headers->data, "X-C: c1");
    assert_string_equal(lists.proxy_headers->next->data, "X-C: c2");
    http_client_lists_free(&lists);
    /* plain http is not tunnelled: no CONNECT, so no CONNECT headers */
    assert_int_equal(http_client_lists_build(&l.s, "http://t", &lists), 0);
    assert_null(lists.proxy_headers);
    http_client_lists_free(&lists);
    unload(&l);

    /* with no_proxy, httpproxy's rules: loopback never proxied */
    expect_ok(&l, "proxy_url: http://p:3128\nno_proxy: .internal,10.0.0.0/8");
    assert_int_equal(http_client_lists_build(&l.s, "http://t", &lists), 0);
    assert_string_equal(lists.no_proxy, ".internal,10.0.0.0/8,localhost,127.0.0.0/8,::1");
    http_client_lists_free(&lists);
    unload(&l);

    /* from the environment: upper case first, by the URL's scheme */
    setenv("HTTP_PROXY", "http://env-upper:2", 1);
    setenv("https_proxy", "http://env-tls:3", 1);
    setenv("NO_PROXY", "skip.me", 1);
    expect_ok(&l, "proxy_from_environment: true");
    assert_int_equal(http_client_lists_build(&l.s, "http://t", &lists), 0);
    assert_string_equal(lists.proxy, "http://env-upper:2");
    assert_string_equal(lists.no_proxy, "skip.me,localhost,127.0.0.0/8,::1");
    http_client_lists_free(&lists);
    assert_int_equal(http_client_lists_build(&l.s, "https://t", &lists), 0);
    assert_string_equal(lists.proxy, "http://env-tls:3");
    http_client_lists_free(&lists);
    unload(&l);
    unsetenv("HTTP_PROXY");
    unsetenv("http_proxy");
    unsetenv("https_proxy");
    unsetenv("NO_PROXY");
}

static void tls_and_copy(void **state)
{
    (void)state;
    loaded l;
    expect_ok(&l, "tls: {ca_pem: CA, cert_pem: C, key_pem: K, min_version: TLS13}\n"
                  "enable_http2: false\ntarget: {tls: {ca_file: /ca}}");
    /* a target's ca_file replaces the job's ca_pem */
    assert_string_equal(l.s.ca_file, "/ca");
    assert_null(l.s.ca_pem);
    assert_string_equal(l.s.cert_pem, "C");
    assert_int_equal(l.s.min_version, HTTP_CLIENT_TLS13);
    assert_int_equal(l.s.enable_http2, 0);
    assert_int_equal(l.s.follow_redirects, 1); /* the table's default */
    http_client_settings copy;
    assert_int_equal(http_client_settings_copy(&copy, &l.s), 0);
    assert_string_equal(copy.key_pem, "K");
    assert_ptr_not_equal(copy.key_pem, l.s.key_pem);
    http_client_settings_clear(&copy);
    /* the settings go onto a real handle */
    CURL *c = curl_easy_init();
    http_client_lists lists;
    assert_int_equal(http_client_lists_build(&l.s, "https://t", &lists), 0);
    assert_int_equal(http_client_apply(c, &l.s, &lists), 0);
    curl_easy_cleanup(c);
    http_client_lists_free(&lists);
    unload(&l);
    expect_ok(&l, "headers: {}");
    assert_int_equal(l.s.enable_http2, 1); /* Prometheus' default */
    unload(&l);
}

/* Hostile configs: every truncation and many byte mutations of a config
 * using every form either load or are refused, never crash or leak. */
static void mutated_configs(void **state)
{
    (void)state;
    static const char base[] =
        "headers: {X-A: [a, b], X-B: {values: [c], secrets: [d]}, X-C: e}\n"
        "proxy_url: http://p:1\nno_proxy: a,b\nproxy_connect_header: {P: [q]}\n"
        "authorization: {type: T, credentials: c}\n"
        "tls: {ca_pem: x, cert_pem: y, key_pem: z, min_version: TLS12}\n"
        "target: {headers: {x-a: {values: [w]}}, tls: {insecure_skip_verify: true}}";
    static const char swaps[] = "{}[]:,\n -\"'";
    char text[sizeof base];
    unsigned seed = 1;
    size_t accepted = 0, refused = 0;
    for (size_t round = 0; round < 3000; round++) {
        memcpy(text, base, sizeof base);
        if (round < sizeof base - 1) {
            text[round] = '\0';
        } else {
            for (int k = 0; k < 3; k++) {
                seed = seed * 1103515245u + 12345u;
                size_t at = (seed >> 8) % (sizeof base - 1);
                text[at] = swaps[(seed >> 20) % (sizeof swaps - 1)];
            }
        }
        loaded l;
        load(&l, text);
        if (l.rc == 0)
            accepted++;
        else
            refused++;
        assert_true(l.rc == 0 || l.c->n_errors > 0); /* refused means said why */
        unload(&l);
    }
    assert_true(accepted > 0 && refused > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(authorization_forms), cmocka_unit_test(conflicts_refused),
        cmocka_unit_test(header_forms),        cmocka_unit_test(proxy_choice),
        cmocka_unit_test(tls_and_copy),        cmocka_unit_test(mutated_configs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
