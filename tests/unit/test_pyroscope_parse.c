/* Tests of the pyroscope receiver's parsers, on their own: the /ingest
 * name syntax app{k=v,...} (strict about braces, keys, counts), the Go
 * SDK's multipart form (parts, filenames, truncation), the JSON reader
 * (escapes, surrogates, depth, trailing data) and base64 (both
 * alphabets, padding optional). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../receivers/pyroscope/pyroscope_json.h"
#include "../../receivers/pyroscope/pyroscope_multipart.h"
#include "../../receivers/pyroscope/pyroscope_name.h"

#define MAX_TAGS 64

static void name_ok(void **state)
{
    (void)state;
    pyro_name n;
    char err[256];
    assert_int_equal(
        pyro_name_parse("shop{region=eu, pod = p1,region=us}", MAX_TAGS, &n, err, sizeof err), 0);
    assert_string_equal(n.app, "shop");
    assert_int_equal(n.n, 2);
    assert_string_equal(n.keys[0], "region");
    assert_string_equal(n.values[0], "us"); /* a later duplicate wins */
    assert_string_equal(n.keys[1], "pod");
    assert_string_equal(n.values[1], "p1");
    pyro_name_free(&n);

    assert_int_equal(pyro_name_parse("app.cpu", MAX_TAGS, &n, err, sizeof err), 0);
    assert_string_equal(n.app, "app.cpu");
    assert_int_equal(n.n, 0);
    pyro_name_free(&n);

    assert_int_equal(pyro_name_parse("app{}", MAX_TAGS, &n, err, sizeof err), 0);
    assert_int_equal(n.n, 0);
    pyro_name_free(&n);

    assert_int_equal(pyro_name_parse("app{otel.scope.name=x/y,a=}", MAX_TAGS, &n, err, sizeof err),
                     0);
    assert_int_equal(n.n, 2);
    assert_string_equal(n.keys[0], "otel.scope.name");
    assert_string_equal(n.values[0], "x/y");
    assert_string_equal(n.values[1], "");
    pyro_name_free(&n);

    assert_int_equal(pyro_name_parse("app{a=b,}", MAX_TAGS, &n, err, sizeof err), 0);
    assert_int_equal(n.n, 1);
    pyro_name_free(&n);

    /* private keys parse, as in Pyroscope's labelset parser: pyroscope-go
     * (v1.0.4 and later) sends __session_id__ in every name */
    assert_int_equal(pyro_name_parse("app{__session_id__=1f2e3d4c5b6a7988,env=prod}", MAX_TAGS, &n,
                                     err, sizeof err),
                     0);
    assert_int_equal(n.n, 2);
    assert_string_equal(n.keys[0], "__session_id__");
    assert_string_equal(n.values[0], "1f2e3d4c5b6a7988");
    pyro_name_free(&n);
}

static void name_bad(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"", "missing"},
        {"{a=b}", "empty application name"},
        {"app{a=b", "unbalanced"},
        {"app{a=b}}", "unbalanced"},
        {"app}", "unbalanced"},
        {"app{a{b=c}", "nested"},
        {"app{a=b} x", "text after"},
        {"app{a}", "no '='"},
        {"app{=b}", "invalid tag key"},
        {"app{a-b=c}", "invalid tag key"},
        {"app{a=b=c}", "invalid value"},
        {"app{a=\x01}", "invalid value"},
        {"app{,}", "no '='"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pyro_name n;
        char err[256] = "";
        if (pyro_name_parse(cases[i].text, MAX_TAGS, &n, err, sizeof err) != -1)
            fail_msg("'%s' was accepted", cases[i].text);
        if (!strstr(err, cases[i].why))
            fail_msg("'%s': error '%s' lacks '%s'", cases[i].text, err, cases[i].why);
        assert_null(n.app);
        assert_int_equal(n.n, 0);
    }
}

static void name_too_many_tags(void **state)
{
    (void)state;
    enum { TAGS = 10000 };
    size_t cap = TAGS * 16 + 16;
    char *text = malloc(cap);
    size_t off = (size_t)snprintf(text, cap, "app{");
    for (int i = 0; i < TAGS; i++)
        off += (size_t)snprintf(text + off, cap - off, "%st%d=v%d", i ? "," : "", i, i);
    snprintf(text + off, cap - off, "}");
    pyro_name n;
    char err[256];
    assert_int_equal(pyro_name_parse(text, MAX_TAGS, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "more than 64 tags"));
    free(text);
}

#define MP_BODY                                                                                    \
    "preamble\r\n"                                                                                 \
    "--XyZ\r\n"                                                                                    \
    "Content-Disposition: form-data; name=\"profile\"; filename=\"profile.pprof\"\r\n"             \
    "Content-Type: application/octet-stream\r\n\r\n"                                               \
    "\x1f\x8b\r\nBIN\r\n"                                                                          \
    "--XyZ\r\n"                                                                                    \
    "Content-Disposition: form-data; name=\"sample_type_config\"\r\n\r\n"                          \
    "{\"a\":1}\r\n"                                                                                \
    "--XyZ--\r\n"

static void multipart_ok(void **state)
{
    (void)state;
    char boundary[PYRO_BOUNDARY_MAX + 1];
    assert_int_equal(
        pyro_multipart_boundary("multipart/form-data; boundary=XyZ", boundary, sizeof boundary), 0);
    assert_string_equal(boundary, "XyZ");
    assert_int_equal(pyro_multipart_boundary("multipart/form-data; boundary=\"q r\"; x=1", boundary,
                                             sizeof boundary),
                     0);
    assert_string_equal(boundary, "q r");
    assert_int_equal(pyro_multipart_boundary("multipart/form-data", boundary, sizeof boundary), -1);

    pyro_part parts[PYRO_MULTIPART_MAX_PARTS];
    char err[256];
    const char *body = MP_BODY;
    int n = pyro_multipart_parse((const unsigned char *)body, strlen(body), "XyZ", parts, err,
                                 sizeof err);
    assert_int_equal(n, 2);
    const pyro_part *p = pyro_multipart_get(parts, n, "profile");
    assert_non_null(p);
    /* a CRLF inside the data is data; the one before the delimiter is not */
    assert_int_equal(p->len, 7);
    assert_memory_equal(p->data, "\x1f\x8b\r\nBIN", 7);
    p = pyro_multipart_get(parts, n, "sample_type_config");
    assert_non_null(p);
    assert_int_equal(p->len, 7);
    assert_null(pyro_multipart_get(parts, n, "prev_profile"));
}

static void multipart_bad(void **state)
{
    (void)state;
    pyro_part parts[PYRO_MULTIPART_MAX_PARTS];
    char err[256];
    const char *body = MP_BODY;
    /* every truncation of the body is an error, never a short part */
    for (size_t len = 0; len < strlen(body) - strlen("--\r\n"); len++)
        if (pyro_multipart_parse((const unsigned char *)body, len, "XyZ", parts, err, sizeof err) >=
            0)
            fail_msg("truncated to %zu bytes and accepted", len);
    const char *noname = "--B\r\nContent-Type: x\r\n\r\ndata\r\n--B--";
    assert_int_equal(pyro_multipart_parse((const unsigned char *)noname, strlen(noname), "B", parts,
                                          err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "form field name"));
}

static void json_ok(void **state)
{
    (void)state;
    const char *doc = "{\"series\": [{\"labels\": [{\"name\": \"a\\\"b\", \"value\": "
                      "\"z\\u00e9\\ud83d\\ude00\\n\"}], \"n\": -1.5e3, \"t\": true, "
                      "\"f\": false, \"z\": null, \"e\": [], \"o\": {}}]}";
    pj_value v;
    char err[256];
    assert_int_equal(pj_parse(doc, strlen(doc), &v, err, sizeof err), 0);
    const pj_value *series = pj_get(&v, "series");
    assert_non_null(series);
    assert_int_equal(series->type, PJ_ARRAY);
    assert_int_equal(series->n, 1);
    const pj_value *s0 = &series->items[0];
    const pj_value *label = &pj_get(s0, "labels")->items[0];
    assert_string_equal(pj_get(label, "name")->str, "a\"b");
    assert_string_equal(pj_get(label, "value")->str, "z\xc3\xa9\xf0\x9f\x98\x80\n");
    assert_string_equal(pj_get(s0, "n")->str, "-1.5e3");
    assert_int_equal(pj_get(s0, "t")->boolean, 1);
    assert_int_equal(pj_get(s0, "f")->type, PJ_BOOL);
    assert_int_equal(pj_get(s0, "z")->type, PJ_NULL);
    assert_int_equal(pj_get(s0, "e")->n, 0);
    assert_int_equal(pj_get(s0, "o")->type, PJ_OBJECT);
    assert_null(pj_get(s0, "missing"));
    assert_null(pj_get(series, "series")); /* not an object */
    pj_free(&v);
}

static void json_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",        "{",           "{\"a\" 1}",   "{\"a\":1,}", "[1 2]",    "\"abc",
        "\"\\x\"", "\"\\ud800\"", "{\"a\":1} x", "tru",        "\"a\nb\"", "{1:2}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pj_value v;
        char err[256] = "";
        if (pj_parse(bad[i], strlen(bad[i]), &v, err, sizeof err) != -1)
            fail_msg("'%s' was accepted", bad[i]);
        assert_non_null(strstr(err, "JSON at offset"));
    }
    char deep[PJ_MAX_DEPTH * 2 + 8];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    pj_value v;
    char err[256];
    assert_int_equal(pj_parse(deep, strlen(deep), &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "nested deeper"));
}

static void base64_both_alphabets(void **state)
{
    (void)state;
    unsigned char *out;
    size_t len;
    assert_int_equal(pj_base64_decode("++///g==", 8, &out, &len), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(out, "\xfb\xef\xff\xfe", 4);
    free(out);
    assert_int_equal(pj_base64_decode("--___g", 6, &out, &len), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(out, "\xfb\xef\xff\xfe", 4);
    free(out);
    assert_int_equal(pj_base64_decode("aGk=", 4, &out, &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(out, "hi", 2);
    free(out);
    assert_int_equal(pj_base64_decode("aGk", 3, &out, &len), 0);
    assert_int_equal(len, 2);
    free(out);
    assert_int_equal(pj_base64_decode("a", 1, &out, &len), -1);
    assert_int_equal(pj_base64_decode("a*cd", 4, &out, &len), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(name_ok),
        cmocka_unit_test(name_bad),
        cmocka_unit_test(name_too_many_tags),
        cmocka_unit_test(multipart_ok),
        cmocka_unit_test(multipart_bad),
        cmocka_unit_test(json_ok),
        cmocka_unit_test(json_bad),
        cmocka_unit_test(base64_both_alphabets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
