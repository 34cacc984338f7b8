/* test_config_fill: cfg_fill, the option table as a parser.
 *
 * One table holds every option type, enums, and inclusive and exclusive
 * bounds. The exact tests check what is stored and every message, with
 * its file:line:col; the fuzz test feeds mutated and truncated configs
 * and hostile scalars to load, check and fill, and asserts that cfg_fill
 * fails exactly when it reports, and that whatever it stores lies inside
 * the table's bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "config_fill.h"
#include "config_get.h"
#include "config_options.h"

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)
#define FUZZ_ROUNDS 3000

typedef struct inner_cfg {
    int64_t count;
    const char *name;
} inner_cfg;

typedef struct all_cfg {
    const char *text;
    const char *mode_text;
    int mode;
    int64_t big;
    int small;
    double ratio;
    int flag;
    bool flag2;
    int64_t wait_ns;
    int64_t bytes;
    size_t bytes_sz;
    inner_cfg inner;
    const pp_config *list;
    const pp_config *map;
    const pp_config *items;
    const pp_config *any;
} all_cfg;

static const char *const modes[] = {"fast", "slow", "off", NULL};

static const pp_option inner_options[] = {
    {"count", PP_OPT_INT, "3", "c", 0, NULL, PP_FIELD(inner_cfg, count), .min = "1", .max = "9"},
    {"name", PP_OPT_STRING, "in", "n", 0, NULL, PP_FIELD(inner_cfg, name)},
    {0},
};

static const pp_option all_options[] = {
    {"text", PP_OPT_STRING, NULL, "t", 0, NULL, PP_FIELD(all_cfg, text)},
    {"mode_text", PP_OPT_STRING, "slow", "A sentence.", 0, NULL, PP_FIELD(all_cfg, mode_text),
     .enum_values = modes},
    {"mode", PP_OPT_STRING, "fast", "m", 0, NULL, PP_FIELD(all_cfg, mode), .enum_values = modes},
    {"big", PP_OPT_INT, "-5", "b", 0, NULL, PP_FIELD(all_cfg, big), .min = "-10"},
    {"small", PP_OPT_INT, "7", "s", 0, NULL, PP_FIELD(all_cfg, small)},
    {"ratio", PP_OPT_DOUBLE, "0.5", "r", 0, NULL, PP_FIELD(all_cfg, ratio), .min = "0", .max = "1",
     .flags = PP_OPT_MAX_EXCLUSIVE},
    {"flag", PP_OPT_BOOL, "true", "f", 0, NULL, PP_FIELD(all_cfg, flag)},
    {"flag2", PP_OPT_BOOL, "false", "f", 0, NULL, PP_FIELD(all_cfg, flag2)},
    {"wait", PP_OPT_DURATION, "2s", "w", 0, NULL, PP_FIELD(all_cfg, wait_ns), .min = "1ms",
     .max = "1h"},
    {"bytes", PP_OPT_SIZE, "4KiB", "b", 0, NULL, PP_FIELD(all_cfg, bytes), .min = "0",
     .flags = PP_OPT_MIN_EXCLUSIVE},
    {"bytes_sz", PP_OPT_SIZE, "1MiB", "b", 0, NULL, PP_FIELD(all_cfg, bytes_sz), .max = "1GiB"},
    {"inner", PP_OPT_SECTION, NULL, "i", 0, inner_options, PP_FIELD(all_cfg, inner)},
    {"list", PP_OPT_STRING_LIST, "[a, b]", "l", 0, NULL, PP_FIELD(all_cfg, list)},
    {"map", PP_OPT_STRING_MAP, NULL, "m", 0, NULL, PP_FIELD(all_cfg, map)},
    {"items", PP_OPT_SECTION_LIST, NULL, "i", 0, inner_options, PP_FIELD(all_cfg, items)},
    {"any", PP_OPT_ANY, NULL, "a", 0, NULL, PP_FIELD(all_cfg, any)},
    {"unstored", PP_OPT_INT, "1", "u", 0, NULL, .min = "0"},
    {0},
};

/* ---------------------------------------------------------------- */
/* Helpers                                                           */
/* ---------------------------------------------------------------- */

/* A config whose receiver `x` holds `body` (lines indented by 4). */
static config *load_body(const char *body)
{
    char text[8192];
    snprintf(text, sizeof text,
             "receivers:\n"
             "  x:\n"
             "%s"
             "exporters:\n"
             "  y: {}\n"
             "service:\n"
             "  pipelines:\n"
             "    profiles: {receivers: [x], exporters: [y]}\n",
             body);
    config *c = config_load_string(text, "t.yaml");
    assert_non_null(c);
    return c;
}

/* Loads body, checks it against `table` and fills; returns cfg_fill's
 * answer, or 1 if loading or checking already failed. */
static int fill_body(const char *body, const pp_option *table, void *out, config **cp)
{
    config *c = *cp = load_body(body);
    config_component *x = config_find_kind(c, PP_RECEIVER, "x");
    if (c->n_errors || !x)
        return 1;
    config_check_options(c, x, table, NULL);
    if (c->n_errors)
        return 1;
    return cfg_fill(x->node, table, out);
}

static void expect_only_error(const config *c, const char *want)
{
    if (c->n_errors != 1 || strcmp(c->errors[0], want) != 0) {
        fprintf(stderr, "want: %s\n", want);
        for (size_t i = 0; i < c->n_errors; i++)
            fprintf(stderr, "got:  %s\n", c->errors[i]);
        fail();
    }
}

/* ---------------------------------------------------------------- */
/* Exact cases                                                       */
/* ---------------------------------------------------------------- */

static void test_defaults_fill_every_type(void **state)
{
    (void)state;
    all_cfg v;
    memset(&v, 0x5a, sizeof v);
    config *c;
    assert_int_equal(fill_body("", all_options, &v, &c), 0);
    assert_null(v.text);
    assert_string_equal(v.mode_text, "slow");
    assert_int_equal(v.mode, 0);
    assert_int_equal(v.big, -5);
    assert_int_equal(v.small, 7);
    assert_true(v.ratio == 0.5);
    assert_int_equal(v.flag, 1);
    assert_false(v.flag2);
    assert_int_equal(v.wait_ns, 2 * NS_PER_S);
    assert_int_equal(v.bytes, 4096);
    assert_int_equal(v.bytes_sz, (size_t)1 << 20);
    assert_int_equal(v.inner.count, 3);
    assert_string_equal(v.inner.name, "in");
    assert_int_equal(cfg_count(v.list), 2);
    assert_string_equal(cfg_scalar(cfg_item(v.list, 1)), "b");
    assert_int_equal(cfg_count(v.map), 0);
    assert_int_equal(cfg_count(v.items), 0);
    assert_null(v.any);
    config_free(c);
}

static void test_written_values_fill(void **state)
{
    (void)state;
    all_cfg v;
    memset(&v, 0, sizeof v);
    config *c;
    assert_int_equal(fill_body("    text: hello\n"
                               "    mode_text: off\n"
                               "    mode: off\n"
                               "    big: 9000000000\n"
                               "    small: -2147483648\n"
                               "    ratio: 0\n"
                               "    flag: false\n"
                               "    flag2: true\n"
                               "    wait: 1h\n"
                               "    bytes: 1\n"
                               "    bytes_sz: 1GiB\n"
                               "    inner: {count: 9, name: deep}\n"
                               "    list: []\n"
                               "    map: {k: v}\n"
                               "    items: [{count: 2}, {name: z}]\n"
                               "    any: {whatever: [1, 2]}\n",
                               all_options, &v, &c),
                     0);
    assert_string_equal(v.text, "hello");
    assert_string_equal(v.mode_text, "off");
    assert_int_equal(v.mode, 2);
    assert_int_equal(v.big, INT64_C(9000000000));
    assert_int_equal(v.small, INT32_MIN);
    assert_true(v.ratio == 0.0);
    assert_int_equal(v.flag, 0);
    assert_true(v.flag2);
    assert_int_equal(v.wait_ns, 3600 * NS_PER_S);
    assert_int_equal(v.bytes, 1);
    assert_int_equal(v.bytes_sz, (size_t)1 << 30);
    assert_int_equal(v.inner.count, 9);
    assert_string_equal(v.inner.name, "deep");
    assert_int_equal(cfg_count(v.list), 0);
    assert_string_equal(cfg_scalar(cfg_item(v.map, 0)), "v");
    assert_int_equal(cfg_kind(v.any), PP_NODE_MAPPING);
    /* a section list's items fill with the same call */
    assert_int_equal(cfg_count(v.items), 2);
    inner_cfg one;
    assert_int_equal(cfg_fill(cfg_item(v.items, 0), inner_options, &one), 0);
    assert_int_equal(one.count, 2);
    assert_string_equal(one.name, "in");
    assert_int_equal(cfg_fill(cfg_item(v.items, 1), inner_options, &one), 0);
    assert_int_equal(one.count, 3);
    assert_string_equal(one.name, "z");
    assert_int_equal(c->n_errors, 0);
    config_free(c);
}

static void expect_fill_error(const char *body, const char *want)
{
    all_cfg v;
    config *c;
    assert_int_equal(fill_body(body, all_options, &v, &c), -1);
    expect_only_error(c, want);
    config_free(c);
}

static void test_enum_and_range_errors_come_from_the_table(void **state)
{
    (void)state;
    expect_fill_error("    mode: medium\n",
                      "t.yaml:3:11: receivers.x: mode: must be fast, slow or off, not \"medium\"");
    expect_fill_error("    mode_text: Fast\n",
                      "t.yaml:3:16: receivers.x: mode_text: must be fast, slow or off, not "
                      "\"Fast\"");
    expect_fill_error("    big: -11\n",
                      "t.yaml:3:10: receivers.x: big: must be at least -10, not -11");
    expect_fill_error("    ratio: 1\n",
                      "t.yaml:3:12: receivers.x: ratio: must be in [0, 1), not 1");
    expect_fill_error("    ratio: -0.001\n",
                      "t.yaml:3:12: receivers.x: ratio: must be in [0, 1), not -0.001");
    expect_fill_error("    wait: 999us\n",
                      "t.yaml:3:11: receivers.x: wait: must be 1ms to 1h, not 999us");
    expect_fill_error("    wait: 61m\n",
                      "t.yaml:3:11: receivers.x: wait: must be 1ms to 1h, not 61m");
    expect_fill_error("    bytes: 0\n",
                      "t.yaml:3:12: receivers.x: bytes: must be > 0 (positive), not 0");
    expect_fill_error("    bytes_sz: 2GiB\n",
                      "t.yaml:3:15: receivers.x: bytes_sz: must be at most 1GiB, not 2GiB");
    expect_fill_error("    small: 2147483648\n",
                      "t.yaml:3:12: receivers.x: small: must be -2147483648 to 2147483647, not "
                      "2147483648");
    expect_fill_error("    inner:\n      count: 0\n",
                      "t.yaml:4:14: receivers.x: inner.count: must be 1 to 9, not 0");
    expect_fill_error("    unstored: -1\n",
                      "t.yaml:3:15: receivers.x: unstored: must be at least 0, not -1");
}

static void test_every_error_is_reported(void **state)
{
    (void)state;
    all_cfg v;
    config *c;
    assert_int_equal(fill_body("    mode: a\n    big: -20\n    bytes: 0\n", all_options, &v, &c),
                     -1);
    assert_int_equal(c->n_errors, 3);
    config_free(c);
}

/* cfg_fill parses by itself: on a mapping nothing checked (the inside of
 * an ANY option) a wrong type is an error, not a 0. */
static void test_unchecked_mapping_is_parsed(void **state)
{
    (void)state;
    all_cfg v;
    config *c;
    assert_int_equal(fill_body("    any: {count: many, name: [x]}\n", all_options, &v, &c), 0);
    inner_cfg in;
    assert_int_equal(cfg_fill(v.any, inner_options, &in), -1);
    assert_int_equal(c->n_errors, 2);
    assert_string_equal(c->errors[0],
                        "t.yaml:3:18: receivers.x: any.count: invalid integer \"many\"");
    assert_string_equal(c->errors[1],
                        "t.yaml:3:30: receivers.x: any.name: expected a string, got a list");
    config_free(c);
}

typedef struct bug_cfg {
    char tiny;
    int64_t n;
} bug_cfg;

/* A table whose field or bound is wrong is reported, never written past. */
static void test_table_bugs_are_reported(void **state)
{
    (void)state;
    static const pp_option bad_size[] = {
        {"n", PP_OPT_INT, "1", "n", 0, NULL, PP_FIELD(bug_cfg, tiny)},
        {0},
    };
    static const pp_option bad_bound[] = {
        {"n", PP_OPT_DURATION, "1s", "n", 0, NULL, PP_FIELD(bug_cfg, n), .min = "soon"},
        {0},
    };
    bug_cfg b = {0};
    config *c;
    assert_int_equal(fill_body("", bad_size, &b, &c), -1);
    expect_only_error(c, "t.yaml:2:3: receivers.x: n: the option table's field for this int has "
                         "size 1");
    config_free(c);
    assert_int_equal(fill_body("", bad_bound, &b, &c), -1);
    expect_only_error(c, "t.yaml:2:3: receivers.x: n: the option table's bound \"soon\" is not a "
                         "valid duration");
    config_free(c);
}

static void test_allowed_text_is_printed(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    config_print_options_markdown(f, all_options);
    fclose(f);
    assert_non_null(strstr(buf, "| `mode` | string | `fast` | no | m; allowed: `fast`, `slow`, "
                                "`off` |\n"));
    assert_non_null(strstr(buf, "| `mode_text` | string | `slow` | no | A sentence. Allowed: "
                                "`fast`, `slow`, `off`. |\n"));
    assert_non_null(strstr(buf, "| `ratio` | number | `0.5` | no | r; allowed: in [0, 1) |\n"));
    assert_non_null(strstr(buf, "| `wait` | duration | `2s` | no | w; allowed: 1ms to 1h |\n"));
    assert_non_null(strstr(buf, "| `bytes` | size | `4KiB` | no | b; allowed: > 0 (positive) |\n"));
    assert_non_null(strstr(buf, "| `inner.count` | int | `3` | no | c; allowed: 1 to 9 |\n"));
    assert_non_null(strstr(buf, "| `text` | string |  | no | t |\n"));
    free(buf);
    buf = NULL;
    f = open_memstream(&buf, &len);
    assert_non_null(f);
    config_print_options(f, all_options, 0);
    fclose(f);
    assert_non_null(strstr(buf, "b (allowed: at most 1GiB)\n"));
    free(buf);
}

/* ---------------------------------------------------------------- */
/* Fuzz                                                              */
/* ---------------------------------------------------------------- */

static const char base_body[] = "    text: hello\n"
                                "    mode_text: off\n"
                                "    mode: slow\n"
                                "    big: 12\n"
                                "    small: 4\n"
                                "    ratio: 0.25\n"
                                "    flag: true\n"
                                "    flag2: false\n"
                                "    wait: 15s\n"
                                "    bytes: 64KiB\n"
                                "    bytes_sz: 1MiB\n"
                                "    inner: {count: 4, name: a}\n"
                                "    list: [a, b]\n"
                                "    map: {k: v}\n"
                                "    items: [{count: 2}]\n"
                                "    any: x\n";

static const char *const hostile[] = {
    "",
    "~",
    "0",
    "-1",
    "1",
    "-0",
    "1e309",
    "nan",
    "inf",
    "0x10",
    "+5",
    " 5",
    "5 ",
    "1.5",
    ".5",
    "-.5",
    "true",
    "yes",
    "15s",
    "0s",
    "1h1m",
    "-1s",
    "1ms",
    "1us",
    "999us",
    "9999999h",
    "1KiB",
    "1GiB",
    "2GiB",
    "8EiB",
    "1MB",
    "fast",
    "slow",
    "off",
    "[1, 2]",
    "{a: b}",
    "\"\"",
    "'x'",
    "a: b",
    "- x",
    "&a x",
    "*a",
    "!!int 3",
    "${env:X}",
    "$$",
    "2147483647",
    "2147483648",
    "-2147483649",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "1e-300",
    "0.9999999999999999",
    "[",
    "{",
    "\"unterminated",
};

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The base body with one option's value replaced by a hostile scalar. */
static void replace_value(char *out, size_t len, uint64_t *rng)
{
    size_t lines = 0, want;
    for (const char *p = base_body; *p; p++)
        lines += *p == '\n';
    want = rng_next(rng) % lines;
    const char *value = hostile[rng_next(rng) % (sizeof hostile / sizeof hostile[0])];
    size_t used = 0, line = 0;
    for (const char *p = base_body; *p && used + 1 < len;) {
        const char *eol = strchr(p, '\n');
        const char *colon = strchr(p, ':');
        int n = (int)(line == want ? colon - p + 1 : eol - p);
        used += (size_t)snprintf(out + used, len - used, "%.*s%s%s\n", n, p,
                                 line == want ? " " : "", line == want ? value : "");
        p = eol + 1;
        line++;
    }
}

/* The base body truncated, or with a few bytes replaced. */
static void mutate_bytes(char *out, size_t len, uint64_t *rng)
{
    static const char alphabet[] = " :-[]{},\n\t#&*!|>'\"0123456789abcxyzKMGiBhms.~%@`\\";
    size_t n = strlen(base_body);
    snprintf(out, len, "%s", base_body);
    if (rng_next(rng) % 3 == 0) {
        out[rng_next(rng) % n] = '\0';
        return;
    }
    for (int k = 1 + (int)(rng_next(rng) % 4); k > 0; k--)
        out[rng_next(rng) % n] = alphabet[rng_next(rng) % (sizeof alphabet - 1)];
}

/* What a successful fill stored lies inside the table. */
static void check_filled(const all_cfg *v)
{
    assert_true(v->mode >= 0 && v->mode <= 2);
    assert_non_null(v->mode_text);
    assert_true(strcmp(v->mode_text, "fast") == 0 || strcmp(v->mode_text, "slow") == 0 ||
                strcmp(v->mode_text, "off") == 0);
    assert_true(v->big >= -10);
    assert_true(v->ratio >= 0 && v->ratio < 1);
    assert_true(v->flag == 0 || v->flag == 1);
    assert_true(v->wait_ns >= NS_PER_MS && v->wait_ns <= 3600 * NS_PER_S);
    assert_true(v->bytes > 0);
    assert_true(v->bytes_sz <= (size_t)1 << 30);
    assert_true(v->inner.count >= 1 && v->inner.count <= 9);
    assert_non_null(v->inner.name);
}

static void test_fuzz_fill(void **state)
{
    (void)state;
    uint64_t rng = 0x9e3779b97f4a7c15u;
    size_t filled = 0, refused_by_fill = 0;
    for (int round = 0; round < FUZZ_ROUNDS; round++) {
        char body[4096];
        if (round % 2)
            replace_value(body, sizeof body, &rng);
        else
            mutate_bytes(body, sizeof body, &rng);
        all_cfg v;
        memset(&v, 0, sizeof v);
        config *c;
        size_t before;
        int rc = fill_body(body, all_options, &v, &c);
        before = c->n_errors;
        if (rc == 0) {
            assert_int_equal(c->n_errors, 0);
            check_filled(&v);
            filled++;
        } else if (rc == -1) {
            assert_true(before > 0); /* a refusal always says why */
            refused_by_fill++;
        }
        config_free(c);
    }
    /* the mutations reach both sides of cfg_fill */
    assert_true(filled > FUZZ_ROUNDS / 10);
    assert_true(refused_by_fill > FUZZ_ROUNDS / 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_fill_every_type),
        cmocka_unit_test(test_written_values_fill),
        cmocka_unit_test(test_enum_and_range_errors_come_from_the_table),
        cmocka_unit_test(test_every_error_is_reported),
        cmocka_unit_test(test_unchecked_mapping_is_parsed),
        cmocka_unit_test(test_table_bugs_are_reported),
        cmocka_unit_test(test_allowed_text_is_printed),
        cmocka_unit_test(test_fuzz_fill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
