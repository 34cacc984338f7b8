/* Tests of lib/hash/wordhash.h, the table hash: every length from 0 to 40
 * bytes reads every byte (a change to any one byte or to the length
 * changes the hash), it does not depend on the buffer's alignment, and
 * keys that differ in few bits (sequential ids, one-letter changes) fill
 * a power-of-two table about evenly, from the low bits up: the fullest
 * bucket and the count of empty ones stay near what uniform hashing
 * gives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wordhash.h"

static uint64_t h_of(const void *data, size_t len)
{
    return wordhash_finish(wordhash(WORDHASH_SEED, data, len));
}

static void test_every_byte_and_the_length_count(void **state)
{
    (void)state;
    unsigned char buf[48];
    for (size_t len = 0; len <= 40; len++) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (unsigned char)(i * 7 + 1);
        uint64_t base = h_of(buf, len);
        for (size_t i = 0; i < len; i++) {
            for (int bit = 0; bit < 8; bit++) {
                buf[i] ^= (unsigned char)(1u << bit);
                assert_int_not_equal(h_of(buf, len), base);
                buf[i] ^= (unsigned char)(1u << bit);
            }
        }
        /* one byte more, even a zero, is another key */
        buf[len] = 0;
        assert_int_not_equal(h_of(buf, len + 1), base);
        assert_int_equal(h_of(buf, len), base);
    }
    assert_int_not_equal(h_of("ab", 2), h_of("ab\0", 3));
    assert_int_not_equal(h_of("", 0), 0);
}

static void test_alignment_does_not_matter(void **state)
{
    (void)state;
    const char *text = "runtime.mallocgc /usr/lib/go/src/runtime/malloc.go";
    size_t len = strlen(text);
    char *buf = malloc(len + 16);
    assert_non_null(buf);
    uint64_t want = h_of(text, len);
    for (size_t off = 0; off < 8; off++) {
        memcpy(buf + off, text, len);
        assert_int_equal(h_of(buf + off, len), want);
    }
    free(buf);
}

/* n keys into 2^bits buckets by the low bits: the fullest bucket and the
 * empty buckets' share, against uniform hashing (n = buckets: about 37%
 * empty, the fullest about 8 for 2^16 buckets). */
static void check_spread(uint64_t (*key_hash)(size_t), size_t n, unsigned bits)
{
    size_t buckets = (size_t)1 << bits, empty = 0, fullest = 0;
    unsigned *count = calloc(buckets, sizeof *count);
    assert_non_null(count);
    for (size_t i = 0; i < n; i++)
        count[key_hash(i) & (buckets - 1)]++;
    for (size_t b = 0; b < buckets; b++) {
        empty += count[b] == 0;
        if (count[b] > fullest)
            fullest = count[b];
    }
    free(count);
    assert_true(empty > buckets * 34 / 100 && empty < buckets * 40 / 100);
    assert_true(fullest <= 12);
}

static uint64_t sequential_ids(size_t i)
{
    uint64_t ids[2] = {i + 1, 1}; /* a sample's location ids */
    return h_of(ids, sizeof ids);
}

static uint64_t function_names(size_t i)
{
    char name[64];
    int n = snprintf(name, sizeof name, "main.handler%zu", i);
    return h_of(name, (size_t)n);
}

static uint64_t one_word_chain(size_t i)
{
    return wordhash_finish(wordhash_u64(wordhash_u64(WORDHASH_SEED, 3), i));
}

static void test_spread_over_low_bits(void **state)
{
    (void)state;
    check_spread(sequential_ids, 1 << 16, 16);
    check_spread(function_names, 1 << 16, 16);
    check_spread(one_word_chain, 1 << 16, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte_and_the_length_count),
        cmocka_unit_test(test_alignment_does_not_matter),
        cmocka_unit_test(test_spread_over_low_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
