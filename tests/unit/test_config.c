/* test_config: the config loader, option checks, getters and units.
 *
 * Every error test asserts the whole message, file:line:col included, so a
 * change in where or how an error is reported shows up here. Configs are
 * written inline with one YAML line per C line, so the line numbers can be
 * read off the source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>

#include "config.h"
#include "config_get.h"
#include "config_options.h"
#include "config_same.h"
#include "units.h"

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)
#define MIB (INT64_C(1) << 20)

/* ---------------------------------------------------------------- */
/* Helpers                                                           */
/* ---------------------------------------------------------------- */

static void dump(const config *c)
{
    for (size_t i = 0; i < c->n_errors; i++)
        fprintf(stderr, "  error: %s\n", c->errors[i]);
    for (size_t i = 0; i < c->n_warnings; i++)
        fprintf(stderr, "  warning: %s\n", c->warnings[i]);
}

static int has_message(char **list, size_t n, const char *want)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], want) == 0)
            return 1;
    return 0;
}

static void expect_error(const config *c, const char *want)
{
    if (!has_message(c->errors, c->n_errors, want)) {
        fprintf(stderr, "missing error: %s\n", want);
        dump(c);
        fail();
    }
}

static void expect_warning(const config *c, const char *want)
{
    if (!has_message(c->warnings, c->n_warnings, want)) {
        fprintf(stderr, "missing warning: %s\n", want);
        dump(c);
        fail();
    }
}

static void expect_clean(const config *c)
{
    if (c->n_errors || c->n_warnings) {
        dump(c);
        fail();
    }
}

/* Messages come in file order, whichever check found them first. */
static void expect_file_order(const config *c)
{
    int last_line = 0, last_col = 0;
    for (size_t i = 0; i < c->n_errors; i++) {
        int line = 0, col = 0;
        assert_int_equal(sscanf(c->errors[i], "t.yaml:%d:%d:", &line, &col), 2);
        assert_true(line > last_line || (line == last_line && col >= last_col));
        last_line = line;
        last_col = col;
    }
}

static config *load(const char *text)
{
    config *c = config_load_string(text, "t.yaml");
    assert_non_null(c);
    return c;
}

/* The pipeline every config needs, for tests about something else. */
#define SERVICE_USING(recv, exp)                                                                   \
    "service:\n"                                                                                   \
    "  pipelines:\n"                                                                               \
    "    profiles:\n"                                                                              \
    "      receivers: [" recv "]\n"                                                                \
    "      exporters: [" exp "]\n"

/* Option tables for the option tests. */
static const pp_option retry_options[] = {
    {"enabled", PP_OPT_BOOL, "true", "retry failed exports", 0, NULL},
    {"initial_interval", PP_OPT_DURATION, "5s", "first backoff", 0, NULL},
    {"max_interval", PP_OPT_DURATION, "30s", "backoff cap", 0, NULL},
    {"multiplier", PP_OPT_DOUBLE, "1.5", "backoff growth", 0, NULL},
    {0},
};

static const pp_option host_exporter_options[] = {
    {"retry_on_failure", PP_OPT_SECTION, NULL, "retries", 0, retry_options},
    {0},
};

static const pp_option rule_options[] = {
    {"source_labels", PP_OPT_STRING_LIST, NULL, "labels to join", 0, NULL},
    {"regex", PP_OPT_STRING, "(.*)", "pattern", 0, NULL},
    {"action", PP_OPT_STRING, "replace", "what to do", 0, NULL},
    {"modulus", PP_OPT_INT, "0", "hashmod modulus", 0, NULL},
    {0},
};

static const pp_option test_options[] = {
    {"endpoint", PP_OPT_STRING, NULL, "where to send", 1, NULL},
    {"scrape_interval", PP_OPT_DURATION, "15s", "how often", 0, NULL},
    {"max_size", PP_OPT_SIZE, "4MiB", "largest body", 0, NULL},
    {"workers", PP_OPT_INT, "2", "threads", 0, NULL},
    {"ratio", PP_OPT_DOUBLE, "0.25", "sampling ratio", 0, NULL},
    {"compress", PP_OPT_BOOL, "false", "gzip bodies", 0, NULL},
    {"targets", PP_OPT_STRING_LIST, NULL, "host:port list", 0, NULL},
    {"labels", PP_OPT_STRING_MAP, NULL, "labels to add", 0, NULL},
    {"rules", PP_OPT_SECTION_LIST, NULL, "relabel rules", 0, rule_options},
    {"tls", PP_OPT_SECTION, NULL, "TLS | client", 0,
     (const pp_option[]){
         {"insecure", PP_OPT_BOOL, "false", "skip verify", 0, NULL},
         {"ca_file", PP_OPT_STRING, "/etc/ssl/ca.pem", "CA bundle", 0, NULL},
         {0},
     }},
    {"password", PP_OPT_STRING, NULL, "secret", 0, NULL},
    {"password_file", PP_OPT_STRING, NULL, "file holding the secret", 0, NULL},
    {"extra", PP_OPT_ANY, NULL, "checked by the component", 0, NULL},
    {0},
};

/* Loads `text`, checks every component against test_options (exporters
 * with host_exporter_options as extra). */
static config *load_checked(const char *text)
{
    config *c = load(text);
    for (size_t i = 0; i < c->n_components; i++)
        config_check_options(c, &c->components[i], test_options,
                             c->components[i].kind == PP_EXPORTER ? host_exporter_options : NULL);
    return c;
}

/* ---------------------------------------------------------------- */
/* Structure and service                                             */
/* ---------------------------------------------------------------- */

static void test_service_parsed(void **state)
{
    (void)state;
    config *c = load("receivers:\n"
                     "  file:\n"
                     "  file/b:\n"
                     "processors:\n"
                     "  relabel:\n"
                     "exporters:\n"
                     "  file:\n"
                     "  file/two:\n"
                     "service:\n"
                     "  plugins: [./a.so, /opt/b.so]\n"
                     "  telemetry:\n"
                     "    address: 0.0.0.0:9999\n"
                     "    log_level: debug\n"
                     "  shutdown_timeout: 1m30s\n"
                     "  pipelines:\n"
                     "    profiles/a:\n"
                     "      receivers: [file, file/b]\n"
                     "      processors: [relabel]\n"
                     "      exporters: [file]\n"
                     "      queue_size: 1MiB\n"
                     "      full_policy: drop_oldest\n"
                     "    profiles/b:\n"
                     "      receivers: [file]\n"
                     "      exporters: [file, file/two]\n");
    expect_clean(c);
    assert_int_equal(c->n_components, 5);
    config_component *r = config_find_kind(c, PP_RECEIVER, "file/b");
    assert_non_null(r);
    assert_string_equal(r->type, "file");
    assert_int_equal(r->line, 3);
    assert_int_equal(r->col, 3);
    assert_true(r->used);
    assert_int_equal(cfg_kind(r->node), PP_NODE_MAPPING);
    assert_int_equal(cfg_count(r->node), 0);
    config_component *e = config_find_kind(c, PP_EXPORTER, "file");
    assert_non_null(e);
    assert_ptr_not_equal(e, config_find_kind(c, PP_RECEIVER, "file"));
    assert_null(config_find_kind(c, PP_PROCESSOR, "file"));
    assert_ptr_equal(config_find(c, "relabel"), config_find_kind(c, PP_PROCESSOR, "relabel"));

    assert_int_equal(c->n_plugins, 2);
    assert_string_equal(c->plugins[1], "/opt/b.so");
    assert_string_equal(c->telemetry_address, "0.0.0.0:9999");
    assert_int_equal(c->log_level, PP_LOG_DEBUG);
    assert_int_equal(c->shutdown_timeout_ns, 90 * NS_PER_S);

    assert_int_equal(c->n_pipelines, 2);
    config_pipeline *a = &c->pipelines[0], *b = &c->pipelines[1];
    assert_string_equal(a->name, "profiles/a");
    assert_int_equal(a->n_receivers, 2);
    assert_string_equal(a->receivers[1], "file/b");
    assert_int_equal(a->n_processors, 1);
    assert_string_equal(a->processors[0], "relabel");
    assert_int_equal(a->n_exporters, 1);
    assert_int_equal(a->queue_size, MIB);
    assert_int_equal(a->policy, QUEUE_DROP_OLDEST);
    assert_string_equal(b->name, "profiles/b");
    assert_int_equal(b->n_processors, 0);
    assert_int_equal(b->n_exporters, 2);
    assert_string_equal(b->exporters[1], "file/two");
    assert_int_equal(b->queue_size, 64 * MIB);
    assert_int_equal(b->policy, QUEUE_BLOCK);
    config_free(c);
}

static void test_service_defaults(void **state)
{
    (void)state;
    config *c = load("receivers: {file: }\n"
                     "exporters: {file: }\n" SERVICE_USING("file", "file"));
    expect_clean(c);
    assert_string_equal(c->telemetry_address, "127.0.0.1:8888");
    assert_int_equal(c->log_level, PP_LOG_INFO);
    assert_int_equal(c->shutdown_timeout_ns, 10 * NS_PER_S);
    assert_int_equal(c->n_plugins, 0);
    assert_string_equal(c->pipelines[0].name, "profiles");
    config_free(c);

    c = load("receivers: {file: }\n"
             "exporters: {file: }\n" SERVICE_USING(
                 "file", "file") "  telemetry: {address: \"\", log_level: error}\n");
    expect_clean(c);
    assert_string_equal(c->telemetry_address, "");
    assert_int_equal(c->log_level, PP_LOG_ERROR);
    config_free(c);
}

static void test_top_level_errors(void **state)
{
    (void)state;
    config *c = load("receivers:\n"
                     "  file:\n"
                     "exporters:\n"
                     "  file:\n"
                     "extensions:\n"
                     "  health: {}\n" SERVICE_USING("file", "file"));
    expect_error(c, "t.yaml:5:1: unknown top-level section \"extensions\" (valid: "
                    "receivers, processors, exporters, service)");
    assert_int_equal(c->n_errors, 1);
    config_free(c);

    c = load("receivers: [a, b]\n");
    expect_error(c, "t.yaml:1:1: receivers: expected a mapping of component ids, got a "
                    "list");
    expect_error(c, "t.yaml:1:1: service: no pipelines defined (add a service section "
                    "with pipelines)");
    config_free(c);

    c = load("- just\n- a list\n");
    expect_error(c, "t.yaml:1:1: the config must be a mapping with receivers, processors, "
                    "exporters and service");
    config_free(c);

    c = load("");
    expect_error(c, "t.yaml: the config is empty");
    config_free(c);

    c = load("receivers:\n"
             "  file: {a: [1, 2}\n");
    assert_int_equal(c->n_errors, 1);
    assert_non_null(strstr(c->errors[0], "t.yaml:2:"));
    assert_non_null(strstr(c->errors[0], "YAML syntax error"));
    config_free(c);

    c = load("a: 1\n---\nb: 2\n");
    expect_error(c, "t.yaml:2:1: only one YAML document is allowed");
    config_free(c);
}

static void test_component_ids(void **state)
{
    (void)state;
    config *c = load("receivers:\n"
                     "  File:\n"
                     "  file/:\n"
                     "  file/a b:\n"
                     "  9file:\n"
                     "  pprof_scrape/Go-1.21_x:\n"
                     "exporters:\n"
                     "  file:\n" SERVICE_USING("pprof_scrape/Go-1.21_x", "file"));
    const char *why = "(use type or type/name: type [a-z][a-z0-9_]*, name "
                      "[A-Za-z0-9_.-]+)";
    char want[256];
    snprintf(want, sizeof want, "t.yaml:2:3: receivers: invalid component id \"File\" %s", why);
    expect_error(c, want);
    snprintf(want, sizeof want, "t.yaml:3:3: receivers: invalid component id \"file/\" %s", why);
    expect_error(c, want);
    snprintf(want, sizeof want, "t.yaml:4:3: receivers: invalid component id \"file/a b\" %s", why);
    expect_error(c, want);
    snprintf(want, sizeof want, "t.yaml:5:3: receivers: invalid component id \"9file\" %s", why);
    expect_error(c, want);
    assert_int_equal(c->n_errors, 4);
    config_component *ok = config_find(c, "pprof_scrape/Go-1.21_x");
    assert_non_null(ok);
    assert_string_equal(ok->type, "pprof_scrape");
    assert_int_equal(ok->kind, PP_RECEIVER);
    config_free(c);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    config *c = load("receivers:\n"
                     "  file:\n"
                     "    include: a\n"
                     "    include: b\n"
                     "  file:\n"
                     "exporters:\n"
                     "  file:\n"
                     "exporters:\n"
                     "  file/x:\n" SERVICE_USING("file", "file"));
    expect_error(c, "t.yaml:4:5: receivers.file: include: duplicate key (first at line 3)");
    expect_error(c, "t.yaml:5:3: receivers.file: duplicate key (first at line 2)");
    expect_error(c, "t.yaml:8:1: exporters: duplicate key (first at line 6)");
    assert_int_equal(c->n_errors, 3);
    assert_int_equal(c->n_components, 3); /* the second `file` receiver is not kept */
    config_free(c);
}

static void test_component_not_mapping(void **state)
{
    (void)state;
    config *c = load("receivers:\n"
                     "  file: [a]\n"
                     "exporters:\n"
                     "  file: 3\n" SERVICE_USING("file", "file"));
    expect_error(c, "t.yaml:2:9: receivers.file: expected a mapping of options, got a "
                    "list");
    expect_error(c, "t.yaml:4:9: exporters.file: expected a mapping of options, got a "
                    "scalar");
    assert_int_equal(c->n_errors, 2);
    /* checking options again does not repeat the error */
    assert_int_equal(config_check_options(c, &c->components[0], test_options, NULL), 0);
    config_free(c);
}

/* ---------------------------------------------------------------- */
/* Pipelines                                                         */
/* ---------------------------------------------------------------- */

static void test_pipeline_references(void **state)
{
    (void)state;
    config *c = load("receivers:\n"
                     "  file:\n"
                     "processors:\n"
                     "  relabel:\n"
                     "exporters:\n"
                     "  file:\n"
                     "service:\n"
                     "  pipelines:\n"
                     "    profiles/x:\n"
                     "      receivers: [file, relabel]\n"
                     "      processors:\n"
                     "        - relabel/b\n"
                     "      exporters: [file, file/y, file]\n");
    expect_error(c, "t.yaml:10:25: service.pipelines.profiles/x: receivers[1]: "
                    "\"relabel\" is not defined in receivers");
    expect_error(c, "t.yaml:12:11: service.pipelines.profiles/x: processors[0]: "
                    "\"relabel/b\" is not defined in processors");
    expect_error(c, "t.yaml:13:25: service.pipelines.profiles/x: exporters[1]: "
                    "\"file/y\" is not defined in exporters");
    expect_error(c, "t.yaml:13:33: service.pipelines.profiles/x: exporters[2]: "
                    "\"file\" is listed twice");
    assert_int_equal(c->n_errors, 4);
    expect_warning(c, "t.yaml:4:3: processors.relabel: defined but not used by any "
                      "pipeline");
    assert_int_equal(c->n_warnings, 1);
    config_free(c);
}

static void test_pipeline_missing_ends(void **state)
{
    (void)state;
    config *c = load("receivers:\n"
                     "  file:\n"
                     "exporters:\n"
                     "  file:\n"
                     "service:\n"
                     "  pipelines:\n"
                     "    profiles/in:\n"
                     "      receivers: [file]\n"
                     "    profiles/out:\n"
                     "      exporters: [file]\n"
                     "    profiles/none:\n"
                     "    profiles/empty:\n"
                     "      receivers: []\n"
                     "      exporters: [file]\n");
    expect_error(c, "t.yaml:7:5: service.pipelines.profiles/in: the pipeline has no "
                    "exporters");
    expect_error(c, "t.yaml:9:5: service.pipelines.profiles/out: the pipeline has no "
                    "receivers");
    expect_error(c, "t.yaml:11:5: service.pipelines.profiles/none: the pipeline has no "
                    "receivers");
    expect_error(c, "t.yaml:11:5: service.pipelines.profiles/none: the pipeline has no "
                    "exporters");
    expect_error(c, "t.yaml:12:5: service.pipelines.profiles/empty: the pipeline has no "
                    "receivers");
    assert_int_equal(c->n_errors, 5);
    config_free(c);
}

static void test_no_pipelines(void **state)
{
    (void)state;
    config *c = load("receivers:\n"
                     "  file:\n");
    expect_error(c, "t.yaml:1:1: service: no pipelines defined (add a service section "
                    "with pipelines)");
    assert_int_equal(c->n_warnings, 0); /* nothing is "unused" without pipelines */
    config_free(c);

    c = load("receivers:\n"
             "  file:\n"
             "service:\n"
             "  telemetry:\n"
             "    log_level: warn\n");
    expect_error(c, "t.yaml:3:1: service: pipelines: no pipelines defined (add "
                    "service.pipelines.<name> with receivers and exporters)");
    config_free(c);

    c = load("service:\n"
             "  pipelines: {}\n");
    expect_error(c, "t.yaml:2:3: service: pipelines: no pipelines defined (add "
                    "service.pipelines.<name> with receivers and exporters)");
    config_free(c);
}

/* A telemetry tls that is not a mapping is reported as such, without
 * strdup(NULL) (found by the config fuzz target;
 * regressions/tls-not-a-mapping and tls-scalar). */
static void test_tls_not_a_mapping(void **state)
{
    (void)state;
    static const struct {
        const char *tls, *want;
    } cases[] = {
        {"    tls: [a]\n", "t.yaml:9:10: service: telemetry.tls: expected a mapping, got a list"},
        {"    tls: x\n", "t.yaml:9:10: service: telemetry.tls: expected a mapping, got a scalar"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), "%s%s%s",
                 "receivers: {file: {include: [a.pb.gz]}}\n"
                 "exporters: {file: {directory: out}}\n" SERVICE_USING("file", "file"),
                 "  telemetry:\n", cases[i].tls);
        config *c = load(text);
        expect_error(c, cases[i].want);
        config_free(c);
    }
}

static void test_service_errors(void **state)
{
    (void)state;
    config *c = load("receivers: {file: }\n"
                     "exporters: {file: }\n"
                     "service:\n"
                     "  shutdown_timeout: 10\n"
                     "  plugins: ./one.so\n"
                     "  telemetry:\n"
                     "    log_level: loud\n"
                     "    port: 1\n"
                     "  extensions: []\n"
                     "  pipelines:\n"
                     "    Profiles:\n"
                     "    profiles:\n"
                     "      receivers: [file]\n"
                     "      exporters: [file]\n"
                     "      queue_size: 64 MiB\n"
                     "      full_policy: drop_newest\n"
                     "      batch: 1\n");
    expect_error(c, "t.yaml:4:21: service: shutdown_timeout: invalid duration \"10\" "
                    "(use e.g. 500ms, 15s, 2m)");
    expect_error(c, "t.yaml:5:12: service: plugins: expected a list, got a scalar");
    expect_error(c, "t.yaml:7:16: service: telemetry.log_level: must be debug, info, warn or "
                    "error, not \"loud\"");
    expect_error(c, "t.yaml:8:5: service: telemetry.port: unknown option (valid: "
                    "address, max_connections, max_connections_per_ip, read_timeout, "
                    "request_timeout, max_header_size, allowed_networks, tls, basic_auth, "
                    "bearer_token, bearer_token_file, bearer_token_tenant, log_level)");
    expect_error(c, "t.yaml:9:3: service: extensions: unknown option (valid: pipelines, "
                    "plugins, telemetry, shutdown_timeout, ui, memory_limit)");
    expect_error(c, "t.yaml:11:5: service: pipelines.Profiles: invalid pipeline name "
                    "\"Profiles\" (use type or type/name, e.g. profiles/default)");
    expect_error(c, "t.yaml:15:19: service.pipelines.profiles: queue_size: invalid size "
                    "\"64 MiB\" (use e.g. 512, 64KiB, 10MiB, 1GB)");
    expect_error(c, "t.yaml:16:20: service.pipelines.profiles: full_policy: must be block or "
                    "drop_oldest, not \"drop_newest\"");
    expect_error(c, "t.yaml:17:7: service.pipelines.profiles: batch: unknown option "
                    "(valid: receivers, processors, exporters, queue_size, full_policy)");
    assert_int_equal(c->n_errors, 9);
    expect_file_order(c);
    config_free(c);
}

static void test_unused_warning(void **state)
{
    (void)state;
    config *c = load("receivers:\n"
                     "  file:\n"
                     "  file/spare:\n"
                     "exporters:\n"
                     "  file:\n"
                     "  file/spare:\n" SERVICE_USING("file", "file"));
    assert_int_equal(c->n_errors, 0);
    expect_warning(c, "t.yaml:3:3: receivers.file/spare: defined but not used by any "
                      "pipeline");
    expect_warning(c, "t.yaml:6:3: exporters.file/spare: defined but not used by any "
                      "pipeline");
    assert_int_equal(c->n_warnings, 2);
    assert_false(config_find_kind(c, PP_RECEIVER, "file/spare")->used);
    config_free(c);
}

/* ---------------------------------------------------------------- */
/* ${env:...}                                                        */
/* ---------------------------------------------------------------- */

static void test_env_expansion(void **state)
{
    (void)state;
    setenv("PP_TEST_HOST", "db.local", 1);
    setenv("PP_TEST_PORT", "5432", 1);
    setenv("PP_TEST_EMPTY", "", 1);
    unsetenv("PP_TEST_UNSET");
    config *c = load("receivers:\n"
                     "  file:\n"
                     "    a: ${env:PP_TEST_HOST}\n"
                     "    b: \"${env:PP_TEST_HOST}:${env:PP_TEST_PORT}/x\"\n"
                     "    c: ${env:PP_TEST_UNSET:-fallback}\n"
                     "    d: ${env:PP_TEST_EMPTY:-was empty}\n"
                     "    e: ${env:PP_TEST_EMPTY}\n"
                     "    f: cost $$5 and $${env:PP_TEST_HOST}\n"
                     "    g: \"${1}-canary $x\"\n"
                     "    h: ${env:PP_TEST_UNSET:-}\n"
                     "    list: [\"${env:PP_TEST_PORT}\"]\n"
                     "exporters:\n"
                     "  file:\n" SERVICE_USING("file", "file"));
    expect_clean(c);
    const pp_config *n = config_find(c, "file")->node;
    assert_string_equal(cfg_string(n, "a"), "db.local");
    assert_string_equal(cfg_string(n, "b"), "db.local:5432/x");
    assert_string_equal(cfg_string(n, "c"), "fallback");
    assert_string_equal(cfg_string(n, "d"), "was empty");
    assert_string_equal(cfg_string(n, "e"), "");
    assert_string_equal(cfg_string(n, "f"), "cost $5 and ${env:PP_TEST_HOST}");
    /* templates (relabel's replacement) keep `$$` for their own reader */
    assert_string_equal(cfg_template(n, "f"), "cost $$5 and $${env:PP_TEST_HOST}");
    assert_string_equal(cfg_template(n, "a"), "db.local");
    assert_string_equal(cfg_template(n, "g"), "${1}-canary $x");
    assert_string_equal(cfg_string(n, "g"), "${1}-canary $x");
    assert_string_equal(cfg_string(n, "h"), "");
    assert_string_equal(cfg_scalar(cfg_item(cfg_child(n, "list"), 0)), "5432");
    config_free(c);

    c = load("receivers:\n"
             "  file:\n"
             "    a: x-${env:PP_TEST_UNSET}\n"
             "    b: ${env:PP-BAD}\n"
             "    c: ${env:PP_TEST_HOST\n"
             "exporters:\n"
             "  file:\n" SERVICE_USING("file", "file"));
    expect_error(c, "t.yaml:3:8: receivers.file: a: environment variable PP_TEST_UNSET is "
                    "not set (give a default with ${env:PP_TEST_UNSET:-default})");
    expect_error(c, "t.yaml:4:8: receivers.file: b: invalid variable name in "
                    "\"${env:PP-BAD}\"");
    expect_error(c, "t.yaml:5:8: receivers.file: c: unterminated \"${env:\" (missing '}')");
    assert_int_equal(c->n_errors, 3);
    config_free(c);

    /* a failed expansion is one error, not one more for the value's type */
    c = load_checked("receivers:\n"
                     "  file:\n"
                     "    endpoint: x\n"
                     "    compress: ${env:PP_TEST_UNSET}\n"
                     "exporters:\n"
                     "  file: {endpoint: y}\n" SERVICE_USING("file", "file"));
    expect_error(c, "t.yaml:4:15: receivers.file: compress: environment variable PP_TEST_UNSET "
                    "is not set (give a default with ${env:PP_TEST_UNSET:-default})");
    assert_int_equal(c->n_errors, 1);
    config_free(c);

    /* in the service section too, and in pipeline lists */
    setenv("PP_TEST_RECV", "file", 1);
    c = load("receivers: {file: }\n"
             "exporters: {file: }\n"
             "service:\n"
             "  telemetry: {address: \"${env:PP_TEST_HOST}:${env:PP_TEST_PORT}\"}\n"
             "  pipelines:\n"
             "    profiles:\n"
             "      receivers: [\"${env:PP_TEST_RECV}\"]\n"
             "      exporters: [file]\n");
    expect_clean(c);
    assert_string_equal(c->telemetry_address, "db.local:5432");
    assert_string_equal(c->pipelines[0].receivers[0], "file");
    config_free(c);
}

/* ---------------------------------------------------------------- */
/* Units                                                             */
/* ---------------------------------------------------------------- */

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ns;
    } good[] = {
        {"0", 0},
        {"10ns", 10},
        {"250us", 250000},
        {"250\xc2\xb5s", 250000},
        {"500ms", 500 * NS_PER_MS},
        {"15s", 15 * NS_PER_S},
        {"2m", 120 * NS_PER_S},
        {"1h", 3600 * NS_PER_S},
        {"1m30s", 90 * NS_PER_S},
        {"1h2m3s4ms", 3723 * NS_PER_S + 4 * NS_PER_MS},
        {"1.5s", 1500 * NS_PER_MS},
        {".5s", 500 * NS_PER_MS},
        {"0s", 0},
        {"2562047h", INT64_C(2562047) * 3600 * NS_PER_S},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v = -1;
        if (units_parse_duration_ns(good[i].text, &v) != 0 || v != good[i].ns) {
            fprintf(stderr, "duration %s -> %lld\n", good[i].text, (long long)v);
            fail();
        }
    }
    static const char *const bad[] = {
        "",
        "15",
        "1",
        "15x",
        "s",
        "-1s",
        "+1s",
        "1.s.",
        "1m30",
        "15 s",
        " 15s",
        "15S",
        "1d",
        "2562048h",
        "9223372036854775807ns1ns",
        "99999999999999999999s",
        ".s",
        "1..5s",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v;
        if (units_parse_duration_ns(bad[i], &v) == 0) {
            fprintf(stderr, "duration \"%s\" accepted as %lld\n", bad[i], (long long)v);
            fail();
        }
    }
    int64_t v;
    assert_int_equal(units_parse_duration_ns(NULL, &v), -1);
}

static void test_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t bytes;
    } good[] = {
        {"0", 0},
        {"512", 512},
        {"512B", 512},
        {"64KB", 64000},
        {"10MB", 10000000},
        {"1GB", 1000000000},
        {"64KiB", 64 * 1024},
        {"10MiB", 10 * MIB},
        {"1GiB", 1024 * MIB},
        {"2TiB", INT64_C(2) << 40},
        {"9223372036854775807", INT64_MAX},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v = -1;
        if (units_parse_size(good[i].text, &v) != 0 || v != good[i].bytes) {
            fprintf(stderr, "size %s -> %lld\n", good[i].text, (long long)v);
            fail();
        }
    }
    static const char *const bad[] = {
        "",           "-1",   "-1KiB", "1.5MiB", "10 MiB",
        "10mib",      "10kb", "MiB",   "10MiBs", "9223372036854775808",
        "8388608TiB", "1e6",  "0x10",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v;
        if (units_parse_size(bad[i], &v) == 0) {
            fprintf(stderr, "size \"%s\" accepted as %lld\n", bad[i], (long long)v);
            fail();
        }
    }
}

/* ---------------------------------------------------------------- */
/* Option checks                                                     */
/* ---------------------------------------------------------------- */

static void test_option_errors(void **state)
{
    (void)state;
    config *c = load_checked(
        "receivers:\n"
        "  pprof_scrape/go:\n"
        "    endpoint: x\n"
        "    scrape_interval: 15x\n"
        "    max_size: 1.5MiB\n"
        "    workers: two\n"
        "    ratio: 1/4\n"
        "    compress: yes\n"
        "    targets: [a, [b]]\n"
        "    labels: {env: prod, team: [x]}\n"
        "    tls: {insecure: 1, verify: true}\n"
        "    rules:\n"
        "      - regex: ok\n"
        "      - action: keep\n"
        "        modulus: 3.5\n"
        "        regexp: x\n"
        "    extra: [anything, {goes: here}]\n"
        "    scrape_timeout: 5s\n"
        "  pprof_scrape/nothing:\n"
        "exporters:\n"
        "  pyroscope/a:\n"
        "    endpoint: http://x\n"
        "    retry_on_failure:\n"
        "      max_interval: soon\n"
        "      backoff: 1\n"
        "    labels: [a]\n" SERVICE_USING("pprof_scrape/go, pprof_scrape/nothing", "pyroscope/a"));
    static const char *const want[] = {
        "t.yaml:4:22: receivers.pprof_scrape/go: scrape_interval: invalid duration \"15x\" "
        "(use e.g. 500ms, 15s, 2m)",
        "t.yaml:5:15: receivers.pprof_scrape/go: max_size: invalid size \"1.5MiB\" (use "
        "e.g. 512, 64KiB, 10MiB, 1GB)",
        "t.yaml:6:14: receivers.pprof_scrape/go: workers: invalid integer \"two\"",
        "t.yaml:7:12: receivers.pprof_scrape/go: ratio: invalid number \"1/4\"",
        "t.yaml:8:15: receivers.pprof_scrape/go: compress: invalid boolean \"yes\" (use "
        "true or false)",
        "t.yaml:9:18: receivers.pprof_scrape/go: targets[1]: expected a string, got a list",
        "t.yaml:10:31: receivers.pprof_scrape/go: labels.team: expected a string, got a "
        "list",
        "t.yaml:11:21: receivers.pprof_scrape/go: tls.insecure: invalid boolean \"1\" (use "
        "true or false)",
        "t.yaml:11:24: receivers.pprof_scrape/go: tls.verify: unknown option (valid: "
        "insecure, ca_file)",
        "t.yaml:15:18: receivers.pprof_scrape/go: rules[1].modulus: invalid integer "
        "\"3.5\"",
        "t.yaml:16:9: receivers.pprof_scrape/go: rules[1].regexp: unknown option (valid: "
        "source_labels, regex, action, modulus)",
        "t.yaml:18:5: receivers.pprof_scrape/go: scrape_timeout: unknown option (valid: "
        "endpoint, scrape_interval, max_size, workers, ratio, compress, targets, labels, "
        "rules, tls, password, password_file, extra)",
        "t.yaml:19:3: receivers.pprof_scrape/nothing: endpoint: required option is missing",
        "t.yaml:24:21: exporters.pyroscope/a: retry_on_failure.max_interval: invalid "
        "duration \"soon\" (use e.g. 500ms, 15s, 2m)",
        "t.yaml:25:7: exporters.pyroscope/a: retry_on_failure.backoff: unknown option "
        "(valid: enabled, initial_interval, max_interval, multiplier)",
        "t.yaml:26:13: exporters.pyroscope/a: labels: expected a mapping of strings, got a "
        "list",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        expect_error(c, want[i]);
    assert_int_equal(c->n_errors, sizeof want / sizeof want[0]);
    expect_file_order(c);
    config_free(c);
}

static void test_option_unknown_lists_extra(void **state)
{
    (void)state;
    config *c = load("receivers: {file: }\n"
                     "exporters:\n"
                     "  file:\n"
                     "    endpoint: x\n"
                     "    retry: {}\n" SERVICE_USING("file", "file"));
    assert_int_equal(config_check_options(c, config_find_kind(c, PP_EXPORTER, "file"), test_options,
                                          host_exporter_options),
                     1);
    expect_error(c, "t.yaml:5:5: exporters.file: retry: unknown option (valid: endpoint, "
                    "scrape_interval, max_size, workers, ratio, compress, targets, labels, "
                    "rules, tls, password, password_file, extra, retry_on_failure)");
    config_free(c);
}

static void test_option_null_values(void **state)
{
    (void)state;
    config *c = load_checked("receivers:\n"
                             "  file:\n"
                             "    endpoint: x\n"
                             "    scrape_interval:\n"
                             "    targets:\n"
                             "    labels: ~\n"
                             "    tls:\n"
                             "    rules:\n"
                             "exporters:\n"
                             "  file:\n"
                             "    endpoint:\n" SERVICE_USING("file", "file"));
    expect_error(c, "t.yaml:11:5: exporters.file: endpoint: required option is missing");
    assert_int_equal(c->n_errors, 1);
    const pp_config *n = config_find(c, "file")->node;
    assert_false(cfg_is_set(n, "scrape_interval"));
    assert_int_equal(cfg_duration_ns(n, "scrape_interval"), 15 * NS_PER_S);
    assert_int_equal(cfg_kind(cfg_child(n, "targets")), PP_NODE_SEQUENCE);
    assert_int_equal(cfg_count(cfg_child(n, "targets")), 0);
    assert_int_equal(cfg_kind(cfg_child(n, "labels")), PP_NODE_MAPPING);
    assert_int_equal(cfg_count(cfg_child(n, "rules")), 0);
    assert_string_equal(cfg_string(cfg_child(n, "tls"), "ca_file"), "/etc/ssl/ca.pem");
    config_free(c);
}

/* ---------------------------------------------------------------- */
/* Getters and defaults                                              */
/* ---------------------------------------------------------------- */

static void test_getters_defaults(void **state)
{
    (void)state;
    config *c = load_checked("receivers:\n"
                             "  file:\n"
                             "    endpoint: http://x\n"
                             "    workers: 8\n"
                             "    compress: true\n"
                             "    targets: [a, b]\n"
                             "    labels: {env: prod, team: core}\n"
                             "    tls: {insecure: true}\n"
                             "    rules:\n"
                             "      - {regex: \"a.*\", modulus: 4}\n"
                             "      - action: drop\n"
                             "exporters:\n"
                             "  file:\n"
                             "    endpoint: http://y\n"
                             "    retry_on_failure: {max_interval: 1m}\n"
                             "  file/b:\n"
                             "    endpoint: http://z\n" SERVICE_USING("file", "file, file/b"));
    expect_clean(c);
    const pp_config *n = config_find_kind(c, PP_RECEIVER, "file")->node;
    /* written and default, top level */
    assert_string_equal(cfg_string(n, "endpoint"), "http://x");
    assert_int_equal(cfg_int(n, "workers"), 8);
    assert_true(cfg_bool(n, "compress"));
    assert_int_equal(cfg_duration_ns(n, "scrape_interval"), 15 * NS_PER_S);
    assert_int_equal(cfg_size(n, "max_size"), 4 * MIB);
    assert_true(cfg_double(n, "ratio") == 0.25);
    assert_true(cfg_is_set(n, "workers"));
    assert_false(cfg_is_set(n, "ratio"));
    assert_null(cfg_string(n, "password"));
    /* lists and maps */
    const pp_config *targets = cfg_child(n, "targets");
    assert_int_equal(cfg_kind(targets), PP_NODE_SEQUENCE);
    assert_int_equal(cfg_count(targets), 2);
    assert_string_equal(cfg_scalar(cfg_item(targets, 1)), "b");
    assert_null(cfg_item(targets, 2));
    const pp_config *labels = cfg_child(n, "labels");
    assert_int_equal(cfg_count(labels), 2);
    assert_string_equal(cfg_key(labels, 1), "team");
    assert_string_equal(cfg_scalar(cfg_item(labels, 1)), "core");
    assert_null(cfg_key(targets, 0));
    /* a section: written and default children */
    const pp_config *tls = cfg_child(n, "tls");
    assert_true(cfg_bool(tls, "insecure"));
    assert_string_equal(cfg_string(tls, "ca_file"), "/etc/ssl/ca.pem");
    /* section list items */
    const pp_config *rules = cfg_child(n, "rules");
    assert_int_equal(cfg_count(rules), 2);
    assert_string_equal(cfg_string(cfg_item(rules, 0), "regex"), "a.*");
    assert_string_equal(cfg_string(cfg_item(rules, 0), "action"), "replace");
    assert_int_equal(cfg_int(cfg_item(rules, 0), "modulus"), 4);
    assert_string_equal(cfg_string(cfg_item(rules, 1), "regex"), "(.*)");
    assert_string_equal(cfg_string(cfg_item(rules, 1), "action"), "drop");
    assert_int_equal(cfg_int(cfg_item(rules, 1), "modulus"), 0);

    /* the host's extra options: written, defaulted, and absent sections */
    const pp_config *e = config_find_kind(c, PP_EXPORTER, "file")->node;
    const pp_config *retry = cfg_child(e, "retry_on_failure");
    assert_int_equal(cfg_duration_ns(retry, "max_interval"), 60 * NS_PER_S);
    assert_int_equal(cfg_duration_ns(retry, "initial_interval"), 5 * NS_PER_S);
    const pp_config *eb = config_find_kind(c, PP_EXPORTER, "file/b")->node;
    const pp_config *implicit = cfg_child(eb, "retry_on_failure");
    assert_non_null(implicit);
    assert_false(cfg_is_set(eb, "retry_on_failure"));
    assert_int_equal(cfg_count(eb), 1);
    assert_true(cfg_bool(implicit, "enabled"));
    assert_int_equal(cfg_duration_ns(implicit, "max_interval"), 30 * NS_PER_S);
    assert_true(cfg_double(implicit, "multiplier") == 1.5);
    /* absent sections of the component's own table, too */
    const pp_config *tls_b = cfg_child(eb, "tls");
    assert_false(cfg_bool(tls_b, "insecure"));
    assert_string_equal(cfg_string(tls_b, "ca_file"), "/etc/ssl/ca.pem");
    config_free(c);
}

static const pp_option default_options[] = {
    {"include", PP_OPT_STRING_LIST, "[\"*.pb.gz\", \"*.pprof\"]", "globs", 0, NULL},
    {"headers", PP_OPT_STRING_MAP, "{x-scope: tenant-1}", "HTTP headers", 0, NULL},
    {"routes", PP_OPT_SECTION_LIST, "[{match: a}, {match: b, weight: 2}]", "routes", 0,
     (const pp_option[]){
         {"match", PP_OPT_STRING, NULL, "what", 1, NULL},
         {"weight", PP_OPT_INT, "1", "how much", 0, NULL},
         {0},
     }},
    {"outer", PP_OPT_SECTION, NULL, "nested sections", 0,
     (const pp_option[]){
         {"inner", PP_OPT_SECTION, NULL, "inner", 0,
          (const pp_option[]){{"depth", PP_OPT_INT, "2", "how deep", 0, NULL}, {0}}},
         {0},
     }},
    {"buggy", PP_OPT_DURATION, "15", "a default without a unit", 0, NULL},
    {0},
};

static void test_list_defaults(void **state)
{
    (void)state;
    config *c = load("receivers:\n"
                     "  file:\n"
                     "  file/b:\n"
                     "    include: [a]\n"
                     "exporters: {file: }\n" SERVICE_USING("file, file/b", "file"));
    for (size_t i = 0; i < 2; i++)
        config_check_options(c, &c->components[i], default_options, NULL);
    expect_error(c, "t.yaml:2:3: receivers.file: buggy: the option table's default is wrong: "
                    "invalid duration \"15\" (use e.g. 500ms, 15s, 2m)");
    const pp_config *n = config_find(c, "file")->node;
    const pp_config *include = cfg_child(n, "include");
    assert_int_equal(cfg_count(include), 2);
    assert_string_equal(cfg_scalar(cfg_item(include, 1)), "*.pprof");
    assert_false(cfg_is_set(n, "include"));
    assert_string_equal(cfg_scalar(cfg_item(cfg_child(n, "headers"), 0)), "tenant-1");
    const pp_config *routes = cfg_child(n, "routes");
    assert_int_equal(cfg_count(routes), 2);
    assert_int_equal(cfg_int(cfg_item(routes, 0), "weight"), 1);
    assert_int_equal(cfg_int(cfg_item(routes, 1), "weight"), 2);
    assert_string_equal(cfg_string(cfg_item(routes, 1), "match"), "b");
    assert_int_equal(cfg_int(cfg_child(cfg_child(n, "outer"), "inner"), "depth"), 2);
    assert_int_equal(cfg_duration_ns(n, "buggy"), 0);
    const pp_config *b = config_find(c, "file/b")->node;
    assert_int_equal(cfg_count(cfg_child(b, "include")), 1);
    config_free(c);
}

static void test_getters_misuse(void **state)
{
    (void)state;
    config *c = load_checked("receivers:\n"
                             "  file:\n"
                             "    endpoint: x\n"
                             "    workers: 3\n"
                             "    targets: [a]\n"
                             "exporters:\n"
                             "  file: {endpoint: y}\n" SERVICE_USING("file", "file"));
    expect_clean(c);
    const pp_config *n = config_find_kind(c, PP_RECEIVER, "file")->node;
    /* unknown keys */
    assert_null(cfg_string(n, "nope"));
    assert_int_equal(cfg_int(n, "nope"), 0);
    assert_null(cfg_child(n, "nope"));
    assert_false(cfg_is_set(n, "nope"));
    /* another type */
    assert_int_equal(cfg_int(n, "endpoint"), 0);
    assert_int_equal(cfg_duration_ns(n, "workers"), 0);
    assert_int_equal(cfg_size(n, "scrape_interval"), 0);
    assert_false(cfg_bool(n, "workers"));
    assert_true(cfg_double(n, "workers") == 0);
    assert_null(cfg_string(n, "targets"));
    assert_string_equal(cfg_string(n, "workers"), "3"); /* scalars read as text */
    assert_null(cfg_scalar(cfg_child(n, "targets")));
    /* NULL nodes and keys */
    assert_null(cfg_string(NULL, "endpoint"));
    assert_null(cfg_string(n, NULL));
    assert_int_equal(cfg_int(NULL, "workers"), 0);
    assert_null(cfg_child(NULL, "tls"));
    assert_int_equal(cfg_kind(NULL), PP_NODE_ABSENT);
    assert_int_equal(cfg_count(NULL), 0);
    assert_null(cfg_item(NULL, 0));
    assert_null(cfg_key(NULL, 0));
    assert_null(cfg_scalar(NULL));
    assert_null(cfg_secret(NULL, "password"));
    assert_int_equal(cfg_error(NULL, "x", "nothing to report to"), -1);
    /* a scalar node asked for keys */
    const pp_config *item = cfg_item(cfg_child(n, "targets"), 0);
    assert_null(cfg_string(item, "x"));
    assert_int_equal(cfg_count(item), 0);
    config_free(c);
}

static void test_getters_unchecked(void **state)
{
    (void)state;
    /* before (or without) config_check_options, getters read what is written */
    config *c = load("receivers:\n"
                     "  file:\n"
                     "    n: 42\n"
                     "    d: 2s\n"
                     "    s: 1KiB\n"
                     "    b: true\n"
                     "    x: 0.5\n"
                     "    blank: \" 5\"\n"
                     "    hex: 0x10\n"
                     "exporters: {file: }\n" SERVICE_USING("file", "file"));
    const pp_config *n = config_find(c, "file")->node;
    assert_int_equal(cfg_int(n, "n"), 42);
    assert_int_equal(cfg_duration_ns(n, "d"), 2 * NS_PER_S);
    assert_int_equal(cfg_size(n, "s"), 1024);
    assert_true(cfg_bool(n, "b"));
    assert_true(cfg_double(n, "x") == 0.5);
    assert_int_equal(cfg_int(n, "missing"), 0);
    assert_int_equal(cfg_int(n, "d"), 0);
    assert_int_equal(cfg_int(n, "blank"), 0);
    assert_int_equal(cfg_int(n, "hex"), 0);
    assert_true(cfg_double(n, "hex") == 0);
    assert_true(cfg_double(n, "d") == 0);
    config_free(c);
}

/* ---------------------------------------------------------------- */
/* Secrets, cfg_error, config_add_error                               */
/* ---------------------------------------------------------------- */

static void test_secrets(void **state)
{
    (void)state;
    char path[] = "/tmp/pp_test_secretXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\n", 7), 7);
    close(fd);
    char text[1024];
    snprintf(text, sizeof text,
             "receivers:\n"
             "  file/a:\n"
             "    endpoint: x\n"
             "    password: inline\n"
             "  file/b:\n"
             "    endpoint: x\n"
             "    password_file: %s\n"
             "  file/c:\n"
             "    endpoint: x\n"
             "    password_file: /nonexistent/pw\n"
             "  file/d:\n"
             "    endpoint: x\n"
             "  file/e:\n"
             "    endpoint: x\n"
             "    password: a\n"
             "    password_file: %s\n"
             "exporters: {file: {endpoint: y}}\n" SERVICE_USING(
                 "file/a, file/b, file/c, file/d, file/e", "file"),
             path, path);
    config *c = load_checked(text);
    expect_error(c, "t.yaml:16:20: receivers.file/e: password_file: set either password or "
                    "password_file, not both");
    assert_int_equal(c->n_errors, 1);

    char *s = cfg_secret(config_find(c, "file/a")->node, "password");
    assert_string_equal(s, "inline");
    free(s);
    s = cfg_secret(config_find(c, "file/b")->node, "password");
    assert_string_equal(s, "s3cret");
    free(s);
    assert_null(cfg_secret(config_find(c, "file/c")->node, "password"));
    expect_error(c, "t.yaml:10:20: receivers.file/c: password_file: cannot read secret "
                    "file \"/nonexistent/pw\": No such file or directory");
    assert_null(cfg_secret(config_find(c, "file/d")->node, "password"));
    assert_int_equal(c->n_errors, 2);
    unlink(path);
    config_free(c);
}

static void test_cfg_error_positions(void **state)
{
    (void)state;
    config *c = load_checked(
        "receivers:\n"
        "  file:\n"
        "    endpoint: \"http://x\"\n"
        "    tls:\n"
        "      insecure: true\n"
        "    rules:\n"
        "      - regex: \"(\"\n"
        "exporters: {file: {endpoint: y}}\n" SERVICE_USING("file", "file") "  plugins: [./x.so]\n");
    expect_clean(c);
    const pp_config *n = config_find_kind(c, PP_RECEIVER, "file")->node;
    assert_int_equal(cfg_error(n, "endpoint", "bad URL %s", "x"), -1);
    expect_error(c, "t.yaml:3:15: receivers.file: endpoint: bad URL x");
    cfg_error(n, "workers", "absent key");
    expect_error(c, "t.yaml:2:3: receivers.file: workers: absent key");
    cfg_error(n, NULL, "the component itself");
    expect_error(c, "t.yaml:2:3: receivers.file: the component itself");
    cfg_error(n, "tls", "a section");
    expect_error(c, "t.yaml:4:5: receivers.file: tls: a section");
    cfg_error(cfg_child(n, "tls"), "insecure", "nested");
    expect_error(c, "t.yaml:5:17: receivers.file: tls.insecure: nested");
    cfg_error(cfg_item(cfg_child(n, "rules"), 0), "regex", "missing ) at %d", 1);
    expect_error(c, "t.yaml:7:16: receivers.file: rules[0].regex: missing ) at 1");
    cfg_error(cfg_item(cfg_child(n, "rules"), 0), "action", "absent in an item");
    expect_error(c, "t.yaml:7:9: receivers.file: rules[0].action: absent in an item");
    config_add_error(c, n, NULL, "unknown receiver type \"%s\"", "file");
    expect_error(c, "t.yaml:2:3: receivers.file: unknown receiver type \"file\"");
    config_add_error(c, cfg_item(cfg_child(config_service(c), "plugins"), 0), NULL, "cannot open");
    expect_error(c, "t.yaml:14:13: service: plugins[0]: cannot open");
    config_add_error(c, NULL, NULL, "plugin %s: no such file", "x.so");
    expect_error(c, "t.yaml: plugin x.so: no such file");
    assert_int_equal(c->n_errors, 10);
    config_free(c);
}

/* ---------------------------------------------------------------- */
/* Aliases, files, printing                                          */
/* ---------------------------------------------------------------- */

static void test_aliases(void **state)
{
    (void)state;
    config *c = load("receivers:\n"
                     "  file/a: &common\n"
                     "    endpoint: x\n"
                     "    targets: [a]\n"
                     "  file/b: *common\n"
                     "  file/c: *nope\n"
                     "exporters: {file: {endpoint: y}}\n" SERVICE_USING("file/a, file/b", "file"));
    expect_error(c, "t.yaml:6:11: unknown alias *nope");
    config_free(c);

    c = load_checked("receivers:\n"
                     "  file/a: &common\n"
                     "    endpoint: x\n"
                     "    targets: [a]\n"
                     "  file/b: *common\n"
                     "exporters: {file: {endpoint: y}}\n" SERVICE_USING("file/a, file/b", "file"));
    expect_clean(c);
    const pp_config *b = config_find(c, "file/b")->node;
    assert_string_equal(cfg_string(b, "endpoint"), "x");
    assert_ptr_not_equal(b, config_find(c, "file/a")->node);
    cfg_error(b, "endpoint", "copied");
    expect_error(c, "t.yaml:3:15: receivers.file/b: endpoint: copied");
    config_free(c);

    /* "billion laughs" is bounded, not expanded */
    char text[4096] = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 8; i++) {
        char line[128];
        snprintf(line, sizeof line,
                 "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
                 "*a%d, *a%d, *a%d]\n",
                 i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
        strcat(text, line);
    }
    c = load(text);
    assert_true(c->n_errors >= 1);
    assert_non_null(strstr(c->errors[0], "too many YAML nodes"));
    config_free(c);
}

/* Few nodes, many bytes: an 8 KiB scalar copied by nested aliases would
 * be 80 MiB by the fourth level (925 MiB for `profpipe validate` before
 * the byte bound). The alias that crosses CONFIG_MAX_BYTES is named with
 * its line and column, and nothing past it is built. */
static void test_alias_bytes_bounded(void **state)
{
    (void)state;
    enum { SCALAR = 8192, LEVELS = 6, FANOUT = 10 };
    char *text = malloc(SCALAR + 4096);
    size_t off = (size_t)sprintf(text, "a0: &a0 \"");
    memset(text + off, 'x', SCALAR);
    off += SCALAR;
    off += (size_t)sprintf(text + off, "\"\n");
    for (int i = 1; i <= LEVELS; i++) {
        off += (size_t)sprintf(text + off, "a%d: &a%d [", i, i);
        for (int j = 0; j < FANOUT; j++)
            off += (size_t)sprintf(text + off, "%s*a%d", j ? ", " : "", i - 1);
        off += (size_t)sprintf(text + off, "]\n");
    }
    config *c = load(text);
    assert_int_equal(c->n_errors, 1);
    /* level 4 would hold 10^4 copies (80 MiB): its line crosses 32 MiB */
    assert_non_null(strstr(c->errors[0], "t.yaml:5:"));
    assert_non_null(strstr(c->errors[0], "alias *a3 expands the config past 32 MiB"));
    config_free(c);

    /* the same shape one level lower is well under the bound and loads */
    char *nl = text;
    for (int i = 0; i < 4; i++)
        nl = strchr(nl, '\n') + 1;
    *nl = '\0'; /* a0 .. a3: 1000 copies, 8 MiB */
    c = load(text);
    for (size_t i = 0; i < c->n_errors; i++)
        assert_null(strstr(c->errors[i], "MiB"));
    config_free(c);
    free(text);
}

/* Key paths count too: a long key over an aliased list of many items
 * gives each copied node a long path. */
static void test_alias_path_bytes_bounded(void **state)
{
    (void)state;
    enum { KEY = 60000 };
    char *text = malloc(KEY + 4096);
    size_t off =
        (size_t)sprintf(text, "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
                              "l1: &l1 [*l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0]\n"
                              "l2: &l2 [*l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1]\n");
    off += (size_t)sprintf(text + off, "? "); /* an explicit key: implicit ones stop at 1 KiB */
    memset(text + off, 'k', KEY);
    off += KEY;
    sprintf(text + off, "\n: [*l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2]\n"); /* 888 x 60 KB */
    config *c = load(text);
    assert_true(c->n_errors >= 1);
    assert_non_null(strstr(c->errors[0], "t.yaml:5:"));
    assert_non_null(strstr(c->errors[0], "alias *l2 expands the config past 32 MiB"));
    config_free(c);
    free(text);
}

static void test_load_file(void **state)
{
    (void)state;
    config *c = config_load_file("/nonexistent/profpipe.yaml");
    assert_non_null(c);
    expect_error(c, "/nonexistent/profpipe.yaml: cannot read the config: No such file or "
                    "directory");
    config_free(c);

    char path[] = "/tmp/pp_test_configXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "receivers:\n"
                       "  file:\n"
                       "    endpoint: x\n"
                       "    scrape_interval: 15x\n"
                       "exporters: {file: {endpoint: y}}\n" SERVICE_USING("file", "file");
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    c = config_load_file(path);
    assert_non_null(c);
    for (size_t i = 0; i < c->n_components; i++)
        config_check_options(c, &c->components[i], test_options, NULL);
    char want[256];
    snprintf(want, sizeof want,
             "%s:4:22: receivers.file: scrape_interval: invalid "
             "duration \"15x\" (use e.g. 500ms, 15s, 2m)",
             path);
    expect_error(c, want);
    unlink(path);
    config_free(c);
}

/* noinline: inlined, GCC 12 takes the returned buffer for the local `buf` */
__attribute__((noinline)) static char *print_to_string(int markdown)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    if (markdown)
        config_print_options_markdown(f, test_options);
    else
        config_print_options(f, test_options, 2);
    fclose(f);
    return buf;
}

static void test_print_options(void **state)
{
    (void)state;
    char *text = print_to_string(0);
    assert_non_null(strstr(text, "\n  scrape_interval "));
    assert_non_null(strstr(text, "duration"));
    assert_non_null(strstr(text, "15s"));
    assert_non_null(strstr(text, "how often\n"));
    assert_non_null(strstr(text, "\n    insecure ")); /* a section's child, indented */
    assert_non_null(strstr(text, "\n    source_labels "));
    const char *endpoint = strstr(text, "  endpoint ");
    assert_non_null(endpoint);
    assert_non_null(strstr(endpoint, "required"));
    assert_true(strstr(endpoint, "required") < strstr(endpoint, "\n"));
    free(text);

    text = print_to_string(1);
    assert_non_null(strstr(text, "| Option | Type | Default | Required | Description |\n"
                                 "| --- | --- | --- | --- | --- |\n"));
    assert_non_null(strstr(text, "| `endpoint` | string |  | yes | where to send |\n"));
    assert_non_null(strstr(text, "| `scrape_interval` | duration | `15s` | no | how often |\n"));
    assert_non_null(strstr(text, "| `tls` | section |  | no | TLS \\| client |\n"));
    assert_non_null(strstr(text, "| `tls.ca_file` | string | `/etc/ssl/ca.pem` | no | CA "
                                 "bundle |\n"));
    assert_non_null(strstr(text, "| `rules.regex` | string | `(.*)` | no | pattern |\n"));
    free(text);
}

#define READER_THREADS 4
#define READS_PER_THREAD 2000

/* Components read their options from their own threads, and create()s may
 * report errors concurrently: reads see defaults, no report is lost. */
static void *reader_thread(void *arg)
{
    const pp_config *n = arg;
    for (int i = 0; i < READS_PER_THREAD; i++) {
        if (cfg_duration_ns(n, "scrape_interval") != 15 * NS_PER_S ||
            cfg_int(cfg_item(cfg_child(n, "rules"), 0), "modulus") != 3 ||
            strcmp(cfg_string(cfg_child(n, "tls"), "ca_file"), "/etc/ssl/ca.pem") != 0)
            return (void *)1;
        if (i % (READS_PER_THREAD / 10) == 0)
            cfg_error(n, "endpoint", "report %d", i);
    }
    return NULL;
}

static void test_concurrent_reads(void **state)
{
    (void)state;
    config *c = load_checked("receivers:\n"
                             "  file:\n"
                             "    endpoint: x\n"
                             "    rules: [{modulus: 3}]\n"
                             "exporters: {file: {endpoint: y}}\n" SERVICE_USING("file", "file"));
    expect_clean(c);
    pthread_t threads[READER_THREADS];
    for (int i = 0; i < READER_THREADS; i++)
        assert_int_equal(
            pthread_create(&threads[i], NULL, reader_thread, config_find(c, "file")->node), 0);
    for (int i = 0; i < READER_THREADS; i++) {
        void *failed = NULL;
        pthread_join(threads[i], &failed);
        assert_null(failed);
    }
    assert_int_equal(c->n_errors, READER_THREADS * 10);
    config_free(c);
}

/* Every prefix of a real config: loading and checking must not crash or
 * leak (under ASan), whatever the parser is left holding. */
static void test_truncated_inputs(void **state)
{
    (void)state;
    static const char full[] = "receivers:\n"
                               "  file/a: &x\n"
                               "    endpoint: \"${env:PP_TEST_UNSET:-http://h}\"\n"
                               "    targets: [a, 'b', \"c\"]\n"
                               "    rules:\n"
                               "      - {regex: \"(.*)\", modulus: 3}\n"
                               "    tls: {insecure: true}\n"
                               "  file/b: *x\n"
                               "exporters:\n"
                               "  file:\n"
                               "    endpoint: y\n"
                               "    retry_on_failure: {max_interval: 1m}\n"
                               "service:\n"
                               "  telemetry: {log_level: warn}\n"
                               "  pipelines:\n"
                               "    profiles:\n"
                               "      receivers: [file/a, file/b]\n"
                               "      exporters: [file]\n";
    char buf[sizeof full];
    for (size_t len = 0; len < sizeof full; len++) {
        memcpy(buf, full, len);
        buf[len] = '\0';
        config *c = load_checked(buf);
        for (size_t i = 0; i < c->n_components; i++) {
            const pp_config *n = c->components[i].node;
            (void)cfg_string(n, "endpoint");
            (void)cfg_duration_ns(cfg_child(n, "retry_on_failure"), "max_interval");
            (void)cfg_int(cfg_item(cfg_child(n, "rules"), 0), "modulus");
        }
        config_free(c);
    }
}

/* config_same: what a reload uses to keep a component running. */
static const pp_config *receiver_node(config *c)
{
    assert_non_null(c);
    assert_int_equal(c->n_errors, 0);
    config_component *r = config_find_kind(c, PP_RECEIVER, "file");
    assert_non_null(r);
    return r->node;
}

static config *with_receiver(const char *options)
{
    char text[1024];
    snprintf(text, sizeof text,
             "receivers:\n  file:\n%s"
             "exporters:\n  file: {directory: /tmp/x}\n"
             "service:\n  pipelines:\n    profiles: {receivers: [file], exporters: [file]}\n",
             options);
    return config_load_string(text, "t.yaml");
}

static void test_config_same(void **state)
{
    (void)state;
    setenv("PROFPIPE_TEST_SAME", "/tmp/in/*.pb.gz", 1);
    config *a = with_receiver("    include: [\"/tmp/in/*.pb.gz\"]\n    poll_interval: 1s\n");
    config *b = with_receiver("    include:\n      - \"${env:PROFPIPE_TEST_SAME}\"\n"
                              "    poll_interval: 1s   # the same, written otherwise\n");
    config *value = with_receiver("    include: [\"/tmp/in/*.pb.gz\"]\n    poll_interval: 2s\n");
    config *more = with_receiver("    include: [\"/tmp/in/*.pb.gz\", \"/x\"]\n"
                                 "    poll_interval: 1s\n");
    config *order = with_receiver("    poll_interval: 1s\n    include: [\"/tmp/in/*.pb.gz\"]\n");
    config *file = with_receiver("    include: [\"/tmp/in/*.pb.gz\"]\n    poll_interval: 1s\n"
                                 "    labels: {a_file: x}\n");
    assert_true(config_same(receiver_node(a), receiver_node(b)));
    assert_false(config_same(receiver_node(a), receiver_node(value)));
    assert_false(config_same(receiver_node(a), receiver_node(more)));
    assert_false(config_same(receiver_node(a), receiver_node(order)));
    assert_false(config_reads_files(receiver_node(a)));
    assert_true(config_reads_files(receiver_node(file)));
    config_free(a);
    config_free(b);
    config_free(value);
    config_free(more);
    config_free(order);
    config_free(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_parsed),
        cmocka_unit_test(test_tls_not_a_mapping),
        cmocka_unit_test(test_service_defaults),
        cmocka_unit_test(test_top_level_errors),
        cmocka_unit_test(test_component_ids),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_component_not_mapping),
        cmocka_unit_test(test_pipeline_references),
        cmocka_unit_test(test_pipeline_missing_ends),
        cmocka_unit_test(test_no_pipelines),
        cmocka_unit_test(test_service_errors),
        cmocka_unit_test(test_unused_warning),
        cmocka_unit_test(test_env_expansion),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_option_errors),
        cmocka_unit_test(test_option_unknown_lists_extra),
        cmocka_unit_test(test_option_null_values),
        cmocka_unit_test(test_getters_defaults),
        cmocka_unit_test(test_list_defaults),
        cmocka_unit_test(test_getters_misuse),
        cmocka_unit_test(test_getters_unchecked),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_cfg_error_positions),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_alias_bytes_bounded),
        cmocka_unit_test(test_alias_path_bytes_bounded),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_print_options),
        cmocka_unit_test(test_concurrent_reads),
        cmocka_unit_test(test_truncated_inputs),
        cmocka_unit_test(test_config_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
