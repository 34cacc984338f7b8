/* The pyroscope receiver's JSON reader under hostile input: the memory a
 * tree takes is measured before it is allocated, is exactly what
 * pj_parse_bounded checks against its limit, and grows linearly with the
 * input whatever its shape (many empty strings, deep nesting, a huge
 * number); and a fuzz-style run of many mutated and truncated documents
 * never crashes, leaks or reads out of bounds (run it under ASan), each
 * either parsing or failing with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four above first */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../receivers/pyroscope/pyroscope_json.h"

#define FUZZ_ITERATIONS 20000
#define FUZZ_SEED 12345u
#define SHAPE_BYTES (256 * 1024)
/* the tree of a document takes at most this many bytes per input byte:
 * one pj_value, a key pointer and a child count per two bytes (the
 * densest shape, "[0,0,..." or "{"":0,...") and the text once */
#define BYTES_PER_INPUT_BYTE ((sizeof(pj_value) + sizeof(char *) + sizeof(size_t)) / 2 + 2)

static const char *const seeds[] = {
    "{\"series\":[{\"labels\":[{\"name\":\"service_name\",\"value\":\"shop\"},"
    "{\"name\":\"__name__\",\"value\":\"process_cpu\"}],"
    "\"samples\":[{\"rawProfile\":\"H4sIAAAAAAAA/w==\",\"ID\":\"x\"}]}]}",
    "{\"cpu\":{\"units\":\"samples\",\"aggregation\":\"sum\",\"cumulative\":false,"
    "\"sampled\":true},\"alloc\":{\"cumulative\":true,\"display-name\":\"\\u00e9\\ud83d\\ude00\"}}",
    "[1, -2.5e10, true, false, null, \"a\\n\\\"b\\\\\", [], {}, [[[]]], {\"k\": {\"k\": [0]}}]",
};

/* Walks a tree, touching every byte it points to (ASan checks them). */
static size_t walk(const pj_value *v)
{
    size_t n = 1;
    if (v->str)
        n += strlen(v->str) == v->len ? 0 : 1000000; /* a NUL-terminated copy */
    for (size_t i = 0; i < v->n; i++) {
        n += walk(&v->items[i]);
        if (v->type == PJ_OBJECT)
            n += strlen(v->keys[i]) * 0;
    }
    return n;
}

static char *shape(const char *open, const char *item, const char *sep, const char *close)
{
    char *buf = malloc(SHAPE_BYTES + 64);
    assert_non_null(buf);
    size_t o = (size_t)sprintf(buf, "%s", open);
    while (o + strlen(item) + strlen(sep) + strlen(close) < SHAPE_BYTES) {
        o += (size_t)sprintf(buf + o, "%s%s", o > strlen(open) ? sep : "", item);
    }
    o += (size_t)sprintf(buf + o, "%s", close);
    return buf;
}

static void check_bounded(const char *text, int want_ok)
{
    size_t len = strlen(text), need = 0;
    char err[256];
    pj_value v;
    if (!want_ok) {
        assert_int_equal(pj_measure(text, len, &need, err, sizeof err), -1);
        assert_int_equal(pj_parse_bounded(text, len, SIZE_MAX, &v, err, sizeof err), -1);
        assert_non_null(strstr(err, "JSON at offset"));
        return;
    }
    assert_int_equal(pj_measure(text, len, &need, err, sizeof err), 0);
    assert_true(need <= len * BYTES_PER_INPUT_BYTE);
    /* one byte short of the measure is refused before allocating */
    assert_int_equal(pj_parse_bounded(text, len, need - 1, &v, err, sizeof err), -2);
    assert_non_null(strstr(err, "limit"));
    assert_int_equal(pj_parse_bounded(text, len, need, &v, err, sizeof err), 0);
    assert_true(walk(&v) < 1000000);
    pj_free(&v);
}

static void hostile_shapes_are_bounded(void **state)
{
    (void)state;
    char *s = shape("{\"series\":[", "\"\"", ",", "]}"); /* the 353 MiB one before */
    check_bounded(s, 1);
    free(s);
    s = shape("[", "0", ",", "]");
    check_bounded(s, 1);
    free(s);
    s = shape("{", "\"\":0", ",", "}");
    check_bounded(s, 1);
    free(s);
    s = shape("[", "\"\\u00e9\\u00e9\\u00e9\"", ",", "]");
    check_bounded(s, 1);
    free(s);
    s = shape("{\"n\":", "9", "", "}"); /* one 256 KiB number */
    check_bounded(s, 1);
    free(s);
    s = shape("", "[", "", ""); /* 256 Ki brackets: refused at depth 33 */
    check_bounded(s, 0);
    free(s);
}

static void measure_matches_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        check_bounded(seeds[i], 1);
}

static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static const char fuzz_bytes[] = "{}[]\",:\\u0009aeflnrstu-+.eE \n\x01\xff\xc3\xa9";

static void mutate(char *buf, size_t *len, size_t cap, uint32_t *rs)
{
    int edits = 1 + (int)(next_rand(rs) % 4);
    for (int e = 0; e < edits; e++) {
        size_t at = *len ? next_rand(rs) % *len : 0;
        char c = fuzz_bytes[next_rand(rs) % (sizeof fuzz_bytes - 1)];
        switch (next_rand(rs) % 4) {
        case 0: /* replace */
            if (*len)
                buf[at] = c;
            break;
        case 1: /* insert */
            if (*len + 1 < cap) {
                memmove(buf + at + 1, buf + at, *len - at);
                buf[at] = c;
                (*len)++;
            }
            break;
        case 2: /* delete */
            if (*len) {
                memmove(buf + at, buf + at + 1, *len - at - 1);
                (*len)--;
            }
            break;
        default: /* truncate */
            *len = at;
        }
    }
}

static void fuzz_mutated_and_truncated(void **state)
{
    (void)state;
    uint32_t rs = FUZZ_SEED;
    char buf[1024];
    size_t parsed = 0, refused = 0;
    for (int it = 0; it < FUZZ_ITERATIONS; it++) {
        const char *seed = seeds[it % (sizeof seeds / sizeof seeds[0])];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        mutate(buf, &len, sizeof buf, &rs);
        /* an exact-size copy: ASan catches any read past the end */
        char *doc = malloc(len ? len : 1);
        assert_non_null(doc);
        memcpy(doc, buf, len);
        pj_value v;
        char err[256] = "";
        size_t need = 0;
        int measured = pj_measure(doc, len, &need, err, sizeof err);
        int rc = pj_parse(doc, len, &v, err, sizeof err);
        assert_int_equal(measured, rc);
        if (rc == 0) {
            walk(&v);
            pj_free(&v);
            parsed++;
        } else {
            assert_true(err[0] != '\0');
            refused++;
        }
        free(doc);
    }
    /* every prefix of a seed too */
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        for (size_t n = 0; n < strlen(seeds[i]); n++) {
            char *doc = malloc(n ? n : 1);
            memcpy(doc, seeds[i], n);
            pj_value v;
            char err[256];
            assert_int_equal(pj_parse(doc, n, &v, err, sizeof err), -1);
            free(doc);
        }
    }
    assert_true(parsed > 0 && refused > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hostile_shapes_are_bounded),
        cmocka_unit_test(measure_matches_parse),
        cmocka_unit_test(fuzz_mutated_and_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
