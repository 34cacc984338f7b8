/* Unit tests of json_text (lib/json): valid UTF-8 is kept, each byte of an
 * ill-formed sequence (RFC 3629's table: overlongs, surrogates, past
 * U+10FFFF, cut short, stray continuation bytes) becomes \ufffd, quotes,
 * backslashes and control characters are escaped, NUL bytes included; a
 * fixed buffer is cut only between whole characters or escapes. Random
 * byte strings always give text that a separate decoder (code points
 * computed and range-checked, escapes undone) reads as valid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_text.h"

#define OUT_MAX 4096
#define FUZZ_ROUNDS 20000
#define FUZZ_MAX_LEN 40
#define B(lit) (lit), (sizeof(lit) - 1)

typedef struct text {
    char s[OUT_MAX];
    size_t len;
    size_t pieces;
} text;

static void put(void *arg, const char *piece, size_t len)
{
    text *t = arg;
    assert_true(t->len + len < OUT_MAX);
    memcpy(t->s + t->len, piece, len);
    t->len += len;
    t->s[t->len] = '\0';
    t->pieces++;
}

static const char *esc(const char *s, size_t len)
{
    static text t;
    t.len = t.pieces = 0;
    t.s[0] = '\0';
    json_escape_bytes(s, len, put, &t);
    return t.s;
}

static void test_kept_and_escaped(void **state)
{
    (void)state;
    assert_string_equal(esc(B("")), "");
    assert_string_equal(esc(B("plain text")), "plain text");
    assert_string_equal(esc(B("a\"b\\c/d")), "a\\\"b\\\\c/d");
    assert_string_equal(esc(B("\n\r\t\b\f")), "\\n\\r\\t\\b\\f");
    assert_string_equal(esc(B("\x01\x1f\x7f")), "\\u0001\\u001f\\u007f");
    assert_string_equal(esc(B("a\0b")), "a\\u0000b");
    /* well-formed UTF-8, 2, 3 and 4 bytes, at each range's edges */
    assert_string_equal(esc(B("\xc2\x80 \xc3\xa9 \xdf\xbf")), "\xc2\x80 \xc3\xa9 \xdf\xbf");
    assert_string_equal(esc(B("\xe0\xa0\x80 \xe2\x82\xac \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf")),
                        "\xe0\xa0\x80 \xe2\x82\xac \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf");
    assert_string_equal(esc(B("\xf0\x90\x80\x80 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf")),
                        "\xf0\x90\x80\x80 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
}

static void test_ill_formed_replaced(void **state)
{
    (void)state;
    /* the /ingest name of the bug report: app{k=\xff\xfe} */
    assert_string_equal(esc(B("\xff\xfe")), "\\ufffd\\ufffd");
    assert_string_equal(esc(B("k=\xff")), "k=\\ufffd");
    /* stray continuation, C0/C1 overlong leads, F5..FF */
    assert_string_equal(esc(B("\x80")), "\\ufffd");
    assert_string_equal(esc(B("\xc0\xaf")), "\\ufffd\\ufffd");
    assert_string_equal(esc(B("\xc1\xbf")), "\\ufffd\\ufffd");
    assert_string_equal(esc(B("\xf5\x80\x80\x80")), "\\ufffd\\ufffd\\ufffd\\ufffd");
    /* overlong 3 and 4 bytes, surrogates, past U+10FFFF */
    assert_string_equal(esc(B("\xe0\x80\xaf")), "\\ufffd\\ufffd\\ufffd");
    assert_string_equal(esc(B("\xf0\x8f\xbf\xbf")), "\\ufffd\\ufffd\\ufffd\\ufffd");
    assert_string_equal(esc(B("\xed\xa0\x80")), "\\ufffd\\ufffd\\ufffd");
    assert_string_equal(esc(B("\xf4\x90\x80\x80")), "\\ufffd\\ufffd\\ufffd\\ufffd");
    /* cut short, at the end and before ASCII: the next byte starts over */
    assert_string_equal(esc(B("\xe2\x82")), "\\ufffd\\ufffd");
    assert_string_equal(esc(B("\xe2\x82x")), "\\ufffd\\ufffdx");
    assert_string_equal(esc(B("\xe2\xc3\xa9")), "\\ufffd\xc3\xa9");
    assert_string_equal(esc(B("\xf0\x9f\x98")), "\\ufffd\\ufffd\\ufffd");
    /* a run of plain text is handed on in one piece */
    esc(B("0123456789"));
    text t = {0};
    json_escape_bytes(B("0123456789"), put, &t);
    assert_int_equal(t.pieces, 1);
}

/* Reads a code point from well-formed UTF-8 the other way round: computes
 * it, then checks it is in range and minimally encoded. Bytes read, or 0. */
static size_t decode_utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len = s[0] < 0x80       ? 1
                 : s[0] >> 5 == 6  ? 2
                 : s[0] >> 4 == 14 ? 3
                 : s[0] >> 3 == 30 ? 4
                                   : 0;
    if (len == 0 || len > n)
        return 0;
    uint32_t v = len == 1 ? s[0] : s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if (s[i] >> 6 != 2)
            return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    static const uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_for_len[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/* Undoes the escapes of out into raw (the code points as UTF-8 or, for
 * \uXXXX of bytes, the byte itself) and checks that out is valid JSON
 * string text. Returns how many U+FFFD it held. */
static size_t check_json_text(const char *out, size_t len)
{
    const unsigned char *s = (const unsigned char *)out;
    size_t replaced = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        if (s[i] == '\\') {
            assert_true(i + 1 < len);
            if (s[i + 1] == 'u') {
                assert_true(i + 6 <= len);
                char hex[5] = {out[i + 2], out[i + 3], out[i + 4], out[i + 5], 0};
                unsigned long v = strtoul(hex, NULL, 16);
                replaced += v == 0xfffd;
                assert_true(v < 0x20 || v == 0x7f || v == 0xfffd);
                i += 6;
            } else {
                assert_non_null(strchr("\"\\nrtbf", s[i + 1]));
                i += 2;
            }
            continue;
        }
        assert_true(s[i] >= 0x20 && s[i] != '"' && s[i] != 0x7f);
        size_t n = decode_utf8(s + i, len - i, &cp);
        assert_true(n > 0);
        i += n;
    }
    return replaced;
}

static void test_random_bytes(void **state)
{
    (void)state;
    unsigned seed = 12345;
    unsigned char in[FUZZ_MAX_LEN];
    for (int round = 0; round < FUZZ_ROUNDS; round++) {
        size_t n = (size_t)(rand_r(&seed) % FUZZ_MAX_LEN);
        for (size_t i = 0; i < n; i++) {
            int r = rand_r(&seed);
            /* mostly bytes that make (or almost make) UTF-8 sequences */
            in[i] = (unsigned char)(r % 4 == 0   ? r >> 8
                                    : r % 4 == 1 ? 0x80 | (r >> 8 & 0x3f)
                                    : r % 4 == 2 ? 0xc0 | (r >> 8 & 0x3f)
                                                 : 0x20 + (r >> 8) % 0x60);
        }
        const char *out = esc((const char *)in, n);
        check_json_text(out, strlen(out));
        /* and through a small fixed buffer: whole pieces, terminated */
        char small[17];
        char whole[OUT_MAX];
        memcpy(whole, in, n);
        whole[n] = '\0';
        size_t got = json_escape_to(whole, small, sizeof small);
        assert_int_equal(got, strlen(small));
        assert_true(got < sizeof small);
        check_json_text(small, got);
        assert_memory_equal(small, esc(whole, strlen(whole)), got);
    }
}

static void test_fixed_buffer(void **state)
{
    (void)state;
    char out[8];
    /* an escape that does not fit is left out whole, and what follows */
    assert_int_equal(json_escape_to("abcd\xff"
                                    "x",
                                    out, sizeof out),
                     4);
    assert_string_equal(out, "abcd");
    /* a run is cut between characters: é is 2 bytes, 3 of them do not fit in 5 */
    assert_int_equal(json_escape_to("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", out, 6), 4);
    assert_string_equal(out, "\xc3\xa9\xc3\xa9");
    assert_int_equal(json_escape_to("abcdefghij", out, sizeof out), 7);
    assert_string_equal(out, "abcdefg");
    assert_int_equal(json_escape_to("anything", out, 1), 0);
    assert_string_equal(out, "");
    assert_int_equal(json_escape_to("ok \"q\"", out, sizeof out), 6);
    assert_string_equal(out, "ok \\\"q");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kept_and_escaped),
        cmocka_unit_test(test_ill_formed_replaced),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_fixed_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
