/* hash_bench: nanoseconds per key of wordhash.h (the table hash) and of
 * FNV-1a (fnv.h, the hash the tables used before), on the keys the
 * tables hash most:
 *   stacks   a sample's key: 4 to 64 location ids of 8 bytes (pprof
 *            merge and compaction, scrape deltas);
 *   names    function and file names of 12 to 80 bytes (interning,
 *            downsample's frame keys);
 *   short    label values of 1 to 12 bytes.
 * Each set is 4 MiB of keys or less, hashed ROUNDS times; the sums of the
 * hashes are printed so the work cannot be left out.
 *   hash_bench ROUNDS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fnv.h"
#include "wordhash.h"

#define KEYS 20000

typedef struct key {
    size_t at, len;
} key;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* KEYS keys of min..max bytes into buf; word: whole 8-byte ids. */
static unsigned char *make_keys(key *keys, size_t min, size_t max, int ids)
{
    size_t total = 0;
    for (size_t i = 0; i < KEYS; i++) {
        size_t len = min + rnd() % (max - min + 1);
        if (ids)
            len = len * 8;
        keys[i] = (key){total, len};
        total += len;
    }
    unsigned char *buf = malloc(total ? total : 1);
    if (!buf)
        return NULL;
    for (size_t i = 0; i < total; i++)
        buf[i] = ids ? (unsigned char)(i % 8 == 0 ? rnd() % 5000 : 0)
                     : (unsigned char)("abcdefghijklmnopqrstuvwxyz./_"[rnd() % 29]);
    return buf;
}

static void run(const char *name, size_t min, size_t max, int ids, int rounds)
{
    static key keys[KEYS];
    unsigned char *buf = make_keys(keys, min, max, ids);
    if (!buf)
        exit(1);
    uint64_t sum_w = 0, sum_f = 0;
    double tw = 0, tf = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_s();
        for (size_t i = 0; i < KEYS; i++)
            sum_w += wordhash_finish(wordhash(WORDHASH_SEED, buf + keys[i].at, keys[i].len));
        double t1 = now_s();
        for (size_t i = 0; i < KEYS; i++)
            sum_f += fnv1a(FNV_OFFSET, buf + keys[i].at, keys[i].len);
        double t2 = now_s();
        tw += t1 - t0;
        tf += t2 - t1;
    }
    double n = (double)KEYS * rounds;
    printf("%-7s wordhash %.1f ns fnv1a %.1f ns ratio %.2f (sums %llx %llx)\n", name, tw / n * 1e9,
           tf / n * 1e9, tw / tf, (unsigned long long)sum_w, (unsigned long long)sum_f);
    free(buf);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 50;
    if (rounds <= 0)
        rounds = 50;
    run("stacks", 4, 64, 1, rounds);
    run("names", 12, 80, 0, rounds);
    run("short", 1, 12, 0, rounds);
    return 0;
}
