/* Robustness of the decoder: thousands of deterministic mutations (bit
 * flips, byte overwrites, truncations, inserted bytes) of real profiles,
 * plain and gzip'd, must each either decode into a tree that passes
 * validation and re-encodes, or fail with a message: never crash, hang or
 * leak (the suite also runs under ASan and UBSan). The seed is a
 * hand-built profile using every kind of message; the e2e codec test covers
 * real Go profiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "pprof_internal.h"
#include "unit_support.h"

#define ERR_LEN 512
#define ROUNDS 4000
#define SEED 0x5eed1234u
#define XS_MUL 0x2545f4914f6cdd1dull

static uint64_t rng_state = SEED;
static size_t decoded, rejected;

/* xorshift64*: deterministic, so a failure reproduces */
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * XS_MUL;
}

static uint8_t *seed_profile(size_t *len)
{
    enum { N = 6 };
    pp_profile *p = profile_new();
    pp_pprof *t = unit_chain_tree(p, N, 2, 1);
    t->sample_types[0] = (pp_value_type){pprof_intern(p, "samples"), pprof_intern(p, "count")};
    t->sample_types[1] = (pp_value_type){pprof_intern(p, "cpu"), pprof_intern(p, "nanoseconds")};
    t->n_sample_types = 2;
    for (int i = 0; i < N; i++) {
        pp_sample *s = &t->samples[i];
        s->values[0] = i + 1;
        s->values[1] = (i + 1) * 10000;
        s->labels[0] = (pp_label){pprof_intern(p, "k"), pprof_intern(p, "v"), 0, 0};
        s->n_labels = 1;
    }
    t->period_type = t->sample_types[1];
    uint8_t *out;
    assert_int_equal(pprof_encode(t, &out, len), 0);
    profile_free(p);
    return out;
}

static void mutate(uint8_t *buf, size_t *len)
{
    int edits = 1 + (int)(rnd() % 4);
    for (int e = 0; e<edits && * len> 0; e++) {
        size_t at = (size_t)(rnd() % *len);
        switch (rnd() % 4) {
        case 0:
            buf[at] ^= (uint8_t)(1u << (rnd() % 8));
            break;
        case 1:
            buf[at] = (uint8_t)rnd();
            break;
        case 2:
            *len = at;
            break;
        default: /* duplicate a chunk in place: shifts what follows */
            if (at + 4 <= *len)
                memcpy(buf + at, buf + at / 2, 4);
            break;
        }
    }
}

/* One decode attempt: success must yield a tree that re-encodes. */
static void try_decode(const uint8_t *data, size_t len)
{
    char err[ERR_LEN] = "";
    pp_profile *p = profile_new();
    assert_int_equal(profile_set_raw(p, data, len), 0);
    const pp_pprof *t = profile_tree(p, err, sizeof(err));
    if (t) {
        assert_int_equal(pprof_validate(t, err, sizeof(err)), 0);
        pprof_family(t);
        assert_int_equal(pprof_compact(p), 0);
        const uint8_t *gz;
        size_t gz_len;
        assert_int_equal(profile_raw_gz(p, &gz, &gz_len, err, sizeof(err)), 0);
        decoded++;
    } else {
        assert_true(err[0] != '\0');
        rejected++;
    }
    profile_free(p);
}

static void fuzz(const uint8_t *orig, size_t orig_len, int gzipped)
{
    uint8_t *buf = malloc(orig_len);
    for (int r = 0; r < ROUNDS; r++) {
        size_t len = orig_len;
        memcpy(buf, orig, len);
        mutate(buf, &len);
        if (gzipped) {
            uint8_t *gz;
            size_t gz_len;
            assert_int_equal(gz_gzip(buf, len, &gz, &gz_len), 0);
            if (r % 2) /* also break the gzip layer itself */
                mutate(gz, &gz_len);
            try_decode(gz, gz_len);
            free(gz);
        } else {
            try_decode(buf, len);
        }
    }
    free(buf);
}

static void test_fuzz_plain(void **state)
{
    (void)state;
    size_t len;
    uint8_t *seed = seed_profile(&len);
    try_decode(seed, len);
    fuzz(seed, len, 0);
    free(seed);
    /* the mutations reach both outcomes, or the test proves little */
    assert_true(decoded > ROUNDS / 20);
    assert_true(rejected > ROUNDS / 20);
}

static void test_fuzz_gzip(void **state)
{
    (void)state;
    size_t len;
    uint8_t *seed = seed_profile(&len);
    fuzz(seed, len, 1);
    free(seed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_plain),
        cmocka_unit_test(test_fuzz_gzip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
