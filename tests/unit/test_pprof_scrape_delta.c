/* Unit tests of pprof_scrape's delta state: baselines, deltas matched by
 * stack and labels, restarts, pass-through of non-cumulative types. The
 * profiles are built with the host's tree API, as a scrape would decode
 * them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../receivers/pprof_scrape/scrape_delta.h"
#include "../../receivers/pprof_scrape/scrape_efkeys.h"

#include "harness.h"

#define N_HEAP_TYPES 4 /* alloc_objects, alloc_space, inuse_objects, inuse_space */
#define T0 1000000000000LL
#define SEC 1000000000LL

typedef struct heap_sample {
    const char *fn;
    int64_t line;
    int64_t bytes_label; /* 0 = no label */
    int64_t v[N_HEAP_TYPES];
} heap_sample;

static pp_profile *make_profile(const char *const types[][2], size_t n_types, const heap_sample *in,
                                size_t n)
{
    const pp_host *h = harness_host();
    pp_profile *p = h->profile_new();
    pp_pprof *t = h->profile_tree_new(p);
    size_t i, j;
    t->sample_types = h->profile_alloc(p, n_types * sizeof *t->sample_types);
    t->n_sample_types = n_types;
    for (i = 0; i < n_types; i++) {
        t->sample_types[i].type = h->pprof_intern(p, types[i][0]);
        t->sample_types[i].unit = h->pprof_intern(p, types[i][1]);
    }
    t->functions = h->profile_alloc(p, n * sizeof *t->functions);
    t->locations = h->profile_alloc(p, n * sizeof *t->locations);
    t->samples = h->profile_alloc(p, n * sizeof *t->samples);
    t->n_functions = t->n_locations = t->n_samples = n;
    for (i = 0; i < n; i++) {
        pp_sample *s = &t->samples[i];
        t->functions[i].id = i + 1;
        t->functions[i].name = h->pprof_intern(p, in[i].fn);
        t->locations[i].id = i + 1;
        t->locations[i].address = 0x1000 + i; /* distinct even for equal frames */
        t->locations[i].lines = h->profile_alloc(p, sizeof(pp_line));
        t->locations[i].n_lines = 1;
        t->locations[i].lines[0].function_id = i + 1;
        t->locations[i].lines[0].line = in[i].line;
        s->location_ids = h->profile_alloc(p, sizeof(uint64_t));
        s->location_ids[0] = i + 1;
        s->n_location_ids = 1;
        s->values = h->profile_alloc(p, n_types * sizeof(int64_t));
        s->n_values = n_types;
        for (j = 0; j < n_types; j++)
            s->values[j] = in[i].v[j];
        if (in[i].bytes_label) {
            s->labels = h->profile_alloc(p, sizeof(pp_label));
            s->n_labels = 1;
            s->labels[0].key = h->pprof_intern(p, "bytes");
            s->labels[0].num = in[i].bytes_label;
        }
    }
    return p;
}

static const char *const heap_types[N_HEAP_TYPES][2] = {
    {"alloc_objects", "count"},
    {"alloc_space", "bytes"},
    {"inuse_objects", "count"},
    {"inuse_space", "bytes"},
};

static pp_profile *heap(const heap_sample *in, size_t n)
{
    return make_profile(heap_types, N_HEAP_TYPES, in, n);
}

/* Sum of sample type `col` over samples whose leaf function is fn. */
static int64_t total(pp_profile *p, const char *fn, size_t col)
{
    const pp_host *h = harness_host();
    const pp_pprof *t = h->profile_tree(p, NULL, 0);
    int64_t sum = 0;
    size_t i;
    for (i = 0; i < t->n_samples; i++) {
        const pp_location *loc = h->pprof_location(p, t->samples[i].location_ids[0]);
        const pp_function *f = h->pprof_function(p, loc->lines[0].function_id);
        if (!fn || strcmp(t->strings[f->name], fn) == 0)
            sum += t->samples[i].values[col];
    }
    return sum;
}

/* The series of the tests below share one heap, which compacts at every
 * hole, as a scrape loop's share its own. */
static scrape_delta *new_delta(void)
{
    static scrape_baseheap *shared;
    if (!shared)
        shared = scrape_baseheap_new(0);
    assert_non_null(shared);
    return scrape_delta_new(shared);
}

/* p's bytes as a scrape hands them over: its tree encoded, then
 * inflated (malloc'd). */
static uint8_t *plain_bytes(pp_profile *p, size_t *len)
{
    const pp_host *h = harness_host();
    char err[256];
    const uint8_t *gz;
    uint8_t *plain;
    size_t gz_len;
    assert_int_equal(h->profile_raw_gz(p, &gz, &gz_len, err, sizeof err), 0);
    assert_int_equal(h->gunzip(gz, gz_len, (size_t)64 << 20, &plain, len, NULL, err, sizeof err),
                     0);
    return plain;
}

/* Runs p's bytes through d; on EMIT, p holds the deltas afterwards. */
static scrape_delta_result apply(scrape_delta *d, pp_profile *p, int64_t when)
{
    const pp_host *h = harness_host();
    char err[256];
    int64_t from = 0;
    uint8_t *out;
    size_t plain_len, out_len;
    uint8_t *plain = plain_bytes(p, &plain_len);
    scrape_delta_result r =
        scrape_delta_apply(d, plain, plain_len, when, &from, &out, &out_len, err, sizeof err);
    free(plain);
    if (r == SCRAPE_DELTA_EMIT) {
        assert_int_equal(from, when - SEC);
        assert_int_equal(h->profile_adopt_raw(p, out, out_len), 0);
    } else {
        assert_null(out);
    }
    return r;
}

static void test_first_is_baseline_then_deltas(void **st)
{
    const pp_host *h = harness_host();
    heap_sample a[] = {{"main.grow", 10, 0, {10, 4096, 3, 1000}},
                       {"main.other", 20, 0, {5, 500, 1, 100}}};
    heap_sample b[] = {{"main.grow", 10, 0, {25, 9096, 4, 1100}},
                       {"main.other", 20, 0, {5, 500, 1, 100}}};
    scrape_delta *d = new_delta();
    pp_profile *p1 = heap(a, 2), *p2 = heap(b, 2);
    (void)st;
    assert_int_equal(apply(d, p1, T0), SCRAPE_DELTA_BASELINE);
    assert_int_equal(scrape_delta_size(d), 2);
    assert_int_equal(apply(d, p2, T0 + SEC), SCRAPE_DELTA_EMIT);
    assert_int_equal(total(p2, "main.grow", 0), 15);
    assert_int_equal(total(p2, "main.grow", 1), 5000);
    /* inuse_* pass unchanged */
    assert_int_equal(total(p2, "main.grow", 2), 4);
    assert_int_equal(total(p2, "main.grow", 3), 1100);
    assert_int_equal(total(p2, "main.other", 0), 0);
    assert_int_equal(total(p2, "main.other", 3), 100);
    assert_int_equal(h->profile_tree(p2, NULL, 0)->duration_nanos, SEC);
    h->profile_free(p1);
    h->profile_free(p2);
    scrape_delta_free(d);
}

static void test_all_zero_samples_dropped(void **st)
{
    const pp_host *h = harness_host();
    heap_sample a[] = {{"main.grow", 10, 0, {10, 4096, 0, 0}},
                       {"main.idle", 30, 0, {7, 700, 0, 0}}};
    heap_sample b[] = {{"main.grow", 10, 0, {11, 4496, 0, 0}},
                       {"main.idle", 30, 0, {7, 700, 0, 0}}};
    scrape_delta *d = new_delta();
    pp_profile *p1 = heap(a, 2), *p2 = heap(b, 2);
    (void)st;
    apply(d, p1, T0);
    assert_int_equal(apply(d, p2, T0 + SEC), SCRAPE_DELTA_EMIT);
    assert_int_equal(h->profile_tree(p2, NULL, 0)->n_samples, 1);
    assert_int_equal(total(p2, "main.grow", 1), 400);
    h->profile_free(p1);
    h->profile_free(p2);
    scrape_delta_free(d);
}

/* Two samples with the same frames (different addresses) are one key:
 * their sums are compared, and the profile's total is exact. */
static void test_equal_stacks_summed(void **st)
{
    const pp_host *h = harness_host();
    heap_sample a[] = {{"main.grow", 10, 0, {10, 100, 0, 0}},
                       {"main.grow", 10, 0, {20, 200, 0, 0}}};
    heap_sample b[] = {{"main.grow", 10, 0, {5, 50, 0, 0}}, {"main.grow", 10, 0, {40, 400, 0, 0}}};
    scrape_delta *d = new_delta();
    pp_profile *p1 = heap(a, 2), *p2 = heap(b, 2);
    (void)st;
    apply(d, p1, T0);
    assert_int_equal(scrape_delta_size(d), 1);
    /* one sample went down but the key's sum grew: not a restart */
    assert_int_equal(apply(d, p2, T0 + SEC), SCRAPE_DELTA_EMIT);
    assert_int_equal(total(p2, "main.grow", 0), 15);
    assert_int_equal(total(p2, "main.grow", 1), 150);
    h->profile_free(p1);
    h->profile_free(p2);
    scrape_delta_free(d);
}

/* Go's heap profile tells allocation sizes apart by a `bytes` label. */
static void test_labels_are_part_of_the_key(void **st)
{
    const pp_host *h = harness_host();
    heap_sample a[] = {{"main.grow", 10, 4096, {10, 40960, 0, 0}},
                       {"main.grow", 10, 64, {100, 6400, 0, 0}}};
    heap_sample b[] = {{"main.grow", 10, 4096, {12, 49152, 0, 0}},
                       {"main.grow", 10, 64, {100, 6400, 0, 0}}};
    scrape_delta *d = new_delta();
    pp_profile *p1 = heap(a, 2), *p2 = heap(b, 2);
    (void)st;
    apply(d, p1, T0);
    assert_int_equal(scrape_delta_size(d), 2);
    assert_int_equal(apply(d, p2, T0 + SEC), SCRAPE_DELTA_EMIT);
    assert_int_equal(total(p2, "main.grow", 0), 2);
    assert_int_equal(h->profile_tree(p2, NULL, 0)->n_samples, 1);
    h->profile_free(p1);
    h->profile_free(p2);
    scrape_delta_free(d);
}

/* pprof strings are byte strings: names that differ only after a NUL
 * byte are two frames, two keys. */
static void test_names_differing_after_nul(void **st)
{
    const pp_host *h = harness_host();
    heap_sample a[] = {{"main.f", 10, 0, {10, 100, 0, 0}}, {"main.f", 10, 0, {20, 200, 0, 0}}};
    scrape_delta *d = new_delta();
    pp_profile *p1 = heap(a, 2);
    (void)st;
    pp_pprof *t = h->profile_tree_mut(p1, NULL, 0);
    t->functions[0].name = h->pprof_intern_bytes(p1, "main.f\0one", 10);
    t->functions[1].name = h->pprof_intern_bytes(p1, "main.f\0two", 10);
    apply(d, p1, T0);
    assert_int_equal(scrape_delta_size(d), 2);
    h->profile_free(p1);
    scrape_delta_free(d);
}

static void test_new_stack_counts_in_full(void **st)
{
    const pp_host *h = harness_host();
    heap_sample a[] = {{"main.grow", 10, 0, {10, 100, 0, 0}}};
    heap_sample b[] = {{"main.grow", 10, 0, {10, 100, 0, 0}}, {"main.fresh", 40, 0, {3, 30, 0, 0}}};
    scrape_delta *d = new_delta();
    pp_profile *p1 = heap(a, 1), *p2 = heap(b, 2);
    (void)st;
    apply(d, p1, T0);
    assert_int_equal(apply(d, p2, T0 + SEC), SCRAPE_DELTA_EMIT);
    assert_int_equal(total(p2, "main.fresh", 1), 30);
    assert_int_equal(total(p2, NULL, 1), 30);
    h->profile_free(p1);
    h->profile_free(p2);
    scrape_delta_free(d);
}

/* A process restart: counters go back; no negative value is emitted,
 * the scrape becomes the new baseline, the next one is a delta again. */
static void test_restart_resets_baseline(void **st)
{
    const pp_host *h = harness_host();
    heap_sample a[] = {{"main.grow", 10, 0, {1000, 100000, 0, 0}},
                       {"runtime.init", 5, 0, {3, 300, 0, 0}}};
    heap_sample b[] = {{"main.grow", 10, 0, {10, 1000, 0, 0}},
                       {"runtime.init", 5, 0, {3, 300, 0, 0}}};
    heap_sample c[] = {{"main.grow", 10, 0, {30, 3000, 0, 0}},
                       {"runtime.init", 5, 0, {3, 300, 0, 0}}};
    scrape_delta *d = new_delta();
    pp_profile *p1 = heap(a, 2), *p2 = heap(b, 2), *p3 = heap(c, 2);
    (void)st;
    apply(d, p1, T0);
    assert_int_equal(apply(d, p2, T0 + SEC), SCRAPE_DELTA_RESET);
    assert_int_equal(apply(d, p3, T0 + 2 * SEC), SCRAPE_DELTA_EMIT);
    assert_int_equal(total(p3, "main.grow", 0), 20);
    assert_int_equal(total(p3, "main.grow", 1), 2000);
    h->profile_free(p1);
    h->profile_free(p2);
    h->profile_free(p3);
    scrape_delta_free(d);
}

static void test_block_profile_and_non_cumulative(void **st)
{
    static const char *const block_types[2][2] = {{"contentions", "count"},
                                                  {"delay", "nanoseconds"}};
    static const char *const goroutine_types[1][2] = {{"goroutine", "count"}};
    const pp_host *h = harness_host();
    heap_sample a[] = {{"sync.(*Mutex).Lock", 1, 0, {4, 4000, 0, 0}}};
    heap_sample b[] = {{"sync.(*Mutex).Lock", 1, 0, {9, 9500, 0, 0}}};
    heap_sample g[] = {{"main.parked", 1, 0, {50, 0, 0, 0}}};
    scrape_delta *d = new_delta(), *dg = new_delta();
    pp_profile *p1 = make_profile(block_types, 2, a, 1);
    pp_profile *p2 = make_profile(block_types, 2, b, 1);
    pp_profile *pg = make_profile(goroutine_types, 1, g, 1);
    (void)st;
    assert_true(scrape_delta_is_cumulative("delay", 5, "nanoseconds", 11));
    assert_false(scrape_delta_is_cumulative("inuse_space", 11, "bytes", 5));
    assert_false(scrape_delta_is_cumulative("delay\0x", 7, "nanoseconds", 11));
    apply(d, p1, T0);
    assert_int_equal(apply(d, p2, T0 + SEC), SCRAPE_DELTA_EMIT);
    assert_int_equal(total(p2, NULL, 0), 5);
    assert_int_equal(total(p2, NULL, 1), 5500);
    assert_int_equal(apply(dg, pg, T0), SCRAPE_DELTA_NONE);
    assert_int_equal(total(pg, NULL, 0), 50);
    h->profile_free(p1);
    h->profile_free(p2);
    h->profile_free(pg);
    scrape_delta_free(d);
    scrape_delta_free(dg);
}

/* Changed sample types (another program on the port): a new baseline. */
static void test_changed_types_start_over(void **st)
{
    static const char *const block_types[2][2] = {{"contentions", "count"},
                                                  {"delay", "nanoseconds"}};
    const pp_host *h = harness_host();
    heap_sample a[] = {{"main.grow", 10, 0, {10, 100, 0, 0}}};
    scrape_delta *d = new_delta();
    pp_profile *p1 = heap(a, 1), *p2 = make_profile(block_types, 2, a, 1);
    (void)st;
    apply(d, p1, T0);
    assert_int_equal(apply(d, p2, T0 + SEC), SCRAPE_DELTA_BASELINE);
    h->profile_free(p1);
    h->profile_free(p2);
    scrape_delta_free(d);
}

/* Many scrapes of the same stacks: the state does not grow. */
/* Thousands of stacks, the second scrape in another order, some gone and
 * some new: each stack's delta is found against its own baseline value
 * (the keys are sorted and merged with the baseline's), and those that
 * did not move are dropped. */
static void test_many_stacks(void **st)
{
    enum { N = 3000, GONE_EVERY = 7, NEW = 100 };
    const pp_host *h = harness_host();
    static char names[N + NEW][16];
    static heap_sample a[N], b[N + NEW];
    size_t nb = 0, moved = 0;
    (void)st;
    for (int i = 0; i < N + NEW; i++)
        snprintf(names[i], sizeof names[i], "fn%d", i);
    for (int i = 0; i < N; i++)
        a[i] = (heap_sample){names[i], i, 0, {1000 + i, 0, 0, 0}};
    for (int i = N + NEW - 1; i >= 0; i--) { /* reversed */
        if (i < N && i % GONE_EVERY == 0)
            continue;
        int64_t grow = i < N ? i % 5 : 1000 + i; /* a new stack counts in full */
        b[nb++] = (heap_sample){names[i], i, 0, {(i < N ? 1000 + i : 0) + grow, 0, 0, 0}};
        moved += grow != 0;
    }
    scrape_delta *d = new_delta();
    pp_profile *p1 = heap(a, N), *p2 = heap(b, nb);
    assert_int_equal(apply(d, p1, T0), SCRAPE_DELTA_BASELINE);
    assert_int_equal(scrape_delta_size(d), N);
    assert_int_equal(apply(d, p2, T0 + SEC), SCRAPE_DELTA_EMIT);
    assert_int_equal(scrape_delta_size(d), nb);
    assert_int_equal(h->profile_tree(p2, NULL, 0)->n_samples, moved);
    for (int i = 0; i < N + NEW; i++) {
        int64_t want = i < N ? (i % GONE_EVERY == 0 ? 0 : i % 5) : 1000 + i;
        if (total(p2, names[i], 0) != want)
            fail_msg("%s: delta %lld, want %lld", names[i], (long long)total(p2, names[i], 0),
                     (long long)want);
    }
    h->profile_free(p1);
    h->profile_free(p2);
    scrape_delta_free(d);
}

/* The baseline holds its 48-bit keys Elias-Fano coded and its values
 * as varints: for 1,000 keys, 1,000 + 1,024 bits of high part (32
 * words) and 38 bits of low part each, 256 + 4,750 bytes and 8 of
 * padding (8,000 as plain 64-bit keys); two values under 64 take a byte
 * each (two int64 took 16). */
static void test_baseline_is_packed(void **st)
{
    enum { N = 1000 };
    const pp_host *h = harness_host();
    static char names[N][16];
    static heap_sample a[N], b[N];
    (void)st;
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "fn%d", i);
        a[i] = (heap_sample){names[i], i, 0, {i % 63, 63 - i % 63, 5, 5}};
        b[i] = (heap_sample){names[i], i, 0, {i % 63 + i % 3, 63 - i % 63, 5, 5}};
    }
    scrape_delta *d = new_delta();
    pp_profile *p1 = heap(a, N), *p2 = heap(b, N);
    assert_int_equal(apply(d, p1, T0), SCRAPE_DELTA_BASELINE);
    assert_int_equal(scrape_delta_bytes(d), 256 + 4750 + 8 + N * 2);
    assert_int_equal(apply(d, p2, T0 + SEC), SCRAPE_DELTA_EMIT);
    for (int i = 0; i < N; i += 97)
        assert_int_equal(total(p2, names[i], 0), i % 3);
    assert_int_equal(total(p2, NULL, 1), 0);
    h->profile_free(p1);
    h->profile_free(p2);
    scrape_delta_free(d);
}

/* A target's values are not trusted: any int64 survives the packed
 * baseline, and sums and differences that leave int64 saturate instead
 * of overflowing (undefined in C; UBSan aborts this test without it). */
static void test_extreme_values(void **st)
{
    const pp_host *h = harness_host();
    heap_sample a[] = {
        {"main.max", 1, 0, {INT64_MAX - 10, -100, 0, 0}},
        {"main.min", 2, 0, {INT64_MIN, INT64_MIN + 1, 0, 0}},
        {"main.wide", 3, 0, {-1, 0, 0, 0}},
        {"main.twice", 4, 0, {INT64_MAX, 1, 0, 0}}, /* one key, twice: sums saturate */
        {"main.twice", 4, 0, {INT64_MAX, 1, 0, 0}},
    };
    heap_sample b[] = {
        {"main.max", 1, 0, {INT64_MAX, -50, 0, 0}},
        {"main.min", 2, 0, {INT64_MIN + 3, INT64_MIN + 1, 0, 0}},
        {"main.wide", 3, 0, {INT64_MAX, 0, 0, 0}},
        {"main.twice", 4, 0, {INT64_MAX, 2, 0, 0}},
        {"main.twice", 4, 0, {INT64_MAX, 1, 0, 0}},
    };
    scrape_delta *d = new_delta();
    pp_profile *p1 = heap(a, 5), *p2 = heap(b, 5);
    (void)st;
    assert_int_equal(apply(d, p1, T0), SCRAPE_DELTA_BASELINE);
    assert_int_equal(scrape_delta_size(d), 4);
    assert_int_equal(apply(d, p2, T0 + SEC), SCRAPE_DELTA_EMIT);
    assert_int_equal(total(p2, "main.max", 0), 10);
    assert_int_equal(total(p2, "main.max", 1), 50);
    assert_int_equal(total(p2, "main.min", 0), 3);
    assert_int_equal(total(p2, "main.min", 1), 0);
    assert_true(total(p2, "main.wide", 0) == INT64_MAX); /* INT64_MAX + 1, saturated */
    assert_int_equal(total(p2, "main.twice", 0), 0);
    assert_int_equal(total(p2, "main.twice", 1), 1);
    h->profile_free(p1);
    h->profile_free(p2);
    scrape_delta_free(d);
}

/* A baseline of 4 KiB or more has pages of its own: the next scrape's
 * baseline is written over them while it fits, gets new pages when it
 * grows past them or needs less than half, and goes back to the heap
 * when small. Every step's deltas are checked, so a baseline written
 * over in place is read right. */
/* A baseline is rewritten in its block while it fits and fills more than
 * half of it; else it moves to a new block. Every step's deltas are
 * checked. */
static void test_baseline_block(void **st)
{
    enum { MAX = 3000 };
    static const size_t sizes[] = {1000, 1000, 1010, 3000, 1000, 200, 200};
    enum { STEPS = sizeof sizes / sizeof sizes[0] };
    const pp_host *h = harness_host();
    static char names[MAX][16];
    static heap_sample in[MAX];
    size_t cap[STEPS], bytes[STEPS], prev_n = 0;
    const void *at[STEPS];
    (void)st;
    for (int i = 0; i < MAX; i++)
        snprintf(names[i], sizeof names[i], "fn%d", i);
    scrape_baseheap *bh = scrape_baseheap_new(SCRAPE_BASEHEAP_HOLES_MIN);
    scrape_delta *d = scrape_delta_new(bh);
    for (size_t step = 0; step < STEPS; step++) {
        size_t n = sizes[step];
        for (size_t i = 0; i < n; i++) /* each step adds 1000 to a stack's count */
            in[i] = (heap_sample){
                names[i], (int64_t)i, 0, {1000 * (int64_t)step + (int64_t)i, 1, 0, 0}};
        pp_profile *p = heap(in, n);
        scrape_delta_result r = apply(d, p, T0 + (int64_t)step * SEC);
        assert_int_equal(r, step == 0 ? SCRAPE_DELTA_BASELINE : SCRAPE_DELTA_EMIT);
        assert_int_equal(scrape_delta_size(d), n);
        bytes[step] = scrape_delta_bytes(d);
        at[step] = scrape_delta_block(d, &cap[step]);
        assert_true(cap[step] >= bytes[step]);
        for (size_t i = 0; step > 0 && i < n; i += 37) {
            int64_t want = i < prev_n ? 1000 : 1000 * (int64_t)step + (int64_t)i;
            if (total(p, names[i], 0) != want)
                fail_msg("step %zu, %s: delta %lld, want %lld", step, names[i],
                         (long long)total(p, names[i], 0), (long long)want);
        }
        prev_n = n;
        h->profile_free(p);
    }
    assert_true(at[1] == at[0] && cap[1] == cap[0]); /* as large: in place */
    assert_true(bytes[2] > bytes[1]);
    assert_true(at[2] == at[1] && cap[2] == cap[1]); /* a little larger: in its slack */
    assert_true(at[3] != at[2] && cap[3] > cap[2]);  /* grew past it: a new block */
    assert_true(at[4] != at[3] && cap[4] < cap[3]);  /* needs less than half: a new one */
    assert_true(cap[5] < cap[4] && cap[5] > 0);      /* small ones live in the heap too */
    assert_true(at[6] == at[5]);
    assert_int_equal(scrape_baseheap_live(bh) - 16, cap[6]); /* one block, its header */
    scrape_delta_free(d);
    assert_int_equal(scrape_baseheap_live(bh), 0);
    assert_int_equal(scrape_baseheap_span(bh), 0);
    scrape_baseheap_free(bh);

    /* without a heap: malloc'd */
    d = scrape_delta_new(NULL);
    pp_profile *p = heap(in, 100);
    assert_int_equal(apply(d, p, T0), SCRAPE_DELTA_BASELINE);
    assert_non_null(scrape_delta_block(d, &cap[0]));
    assert_int_equal(cap[0], 0);
    h->profile_free(p);
    scrape_delta_free(d);
}

static uint64_t rand64(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Keys come back as they went in, for counts around the powers of two
 * where the split between high and low bits changes, with keys spread
 * over their 2^48, packed together, and at both ends (0 and 2^48 - 1). */
static void test_efkeys_round_trip(void **st)
{
    const uint64_t KEY_MAX = ((uint64_t)1 << EFKEYS_KEY_BITS) - 1;
    static const size_t counts[] = {1, 2, 3, 7, 8, 9, 63, 64, 65, 1000, 1023, 1024, 1025, 5000};
    static uint64_t keys[5000];
    static uint8_t mem[5000 * 9 + 64] __attribute__((aligned(8)));
    uint64_t seed = 88172645463325252ull;
    (void)st;
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
        for (int shape = 0; shape < 3; shape++) {
            size_t n = counts[c];
            for (size_t i = 0; i < n; i++)
                keys[i] = shape == 0   ? rand64(&seed) >> (64 - EFKEYS_KEY_BITS)
                          : shape == 1 ? 1000000 + i * 3 /* close together */
                                       : (i % 2 ? KEY_MAX - i : i);
            qsort(keys, n, sizeof keys[0], cmp_u64);
            size_t bytes = efkeys_bytes(n);
            assert_true(bytes <= sizeof mem && bytes < n * 8 + 64);
            memset(mem, 0xa5, sizeof mem);
            efkeys_encode(keys, n, mem);
            efkeys_reader r;
            efkeys_reader_init(&r, mem, n);
            for (size_t i = 0; i < n; i++) {
                uint64_t k = efkeys_next(&r);
                if (k != keys[i])
                    fail_msg("n %zu shape %d: key %zu is %llx, want %llx", n, shape, i,
                             (unsigned long long)k, (unsigned long long)keys[i]);
            }
        }
    assert_int_equal(efkeys_bytes(0), 0);
    /* 2,438 keys (bitlen 12): 6,534 bits of high part, 36 bits of low */
    assert_int_equal(efkeys_bytes(2438), 103 * 8 + (2438 * 36 + 7) / 8 + 8);
}

/* Fills n bytes at p from seed; checks them. */
static void pattern_fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 24);
}

static int pattern_holds(const uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)((seed = seed * 1103515245u + 12345u) >> 24))
            return 0;
    return 1;
}

/* The heap alone: blocks of random sizes taken and let go, through
 * compactions and the mapping's growth (past 1 MiB, which may move it):
 * each block's owner always finds its bytes, and the holes never pass a
 * sixteenth of what is live. */
static void test_baseheap_moves(void **st)
{
    enum { N = 300, OPS = 6000 };
    static void *owner[N];
    static size_t len[N];
    static uint32_t seed[N];
    uint32_t rng = 12345;
    (void)st;
    scrape_baseheap *hp = scrape_baseheap_new(0);
    assert_non_null(hp);
    for (int op = 0; op < OPS; op++) {
        rng = rng * 1664525u + 1013904223u;
        size_t i = (rng >> 8) % N;
        if (owner[i]) {
            assert_true(pattern_holds(owner[i], len[i], seed[i]));
            scrape_baseheap_release(hp, owner[i]);
            owner[i] = NULL;
        } else {
            size_t cap = 0;
            /* mostly a few KiB, now and then 64 KiB: the mapping grows */
            len[i] = 1 + (rng >> 4) % (op % 50 == 0 ? 65536 : 12000);
            seed[i] = rng;
            void *m = scrape_baseheap_alloc(hp, len[i], &owner[i], &cap);
            assert_non_null(m);
            assert_true(cap >= len[i] && ((uintptr_t)m & 7) == 0);
            owner[i] = m;
            pattern_fill(m, len[i], seed[i]);
        }
        size_t live = scrape_baseheap_live(hp), span = scrape_baseheap_span(hp);
        assert_true(span >= live && span - live <= live / 16);
        if (op % 97 == 0)
            for (size_t k = 0; k < N; k++)
                if (owner[k] && !pattern_holds(owner[k], len[k], seed[k]))
                    fail_msg("op %d: block %zu lost its bytes", op, k);
    }
    assert_true(scrape_baseheap_compactions(hp) > 100);
    for (size_t k = 0; k < N; k++)
        if (owner[k]) {
            assert_true(pattern_holds(owner[k], len[k], seed[k]));
            scrape_baseheap_release(hp, owner[k]);
        }
    assert_int_equal(scrape_baseheap_live(hp), 0);
    assert_int_equal(scrape_baseheap_span(hp), 0);
    scrape_baseheap_free(hp);
}

/* 40 series share a heap that compacts at every hole, their profiles
 * growing at different rates: every delta is right while their
 * baselines move under one another. */
static void test_series_share_a_heap(void **st)
{
    enum { SERIES = 40, STEPS = 12, MAX = 600 };
    const pp_host *h = harness_host();
    static char names[MAX][16];
    static heap_sample in[MAX];
    scrape_delta *d[SERIES];
    (void)st;
    for (int i = 0; i < MAX; i++)
        snprintf(names[i], sizeof names[i], "fn%d", i);
    scrape_baseheap *bh = scrape_baseheap_new(0);
    for (int k = 0; k < SERIES; k++)
        d[k] = scrape_delta_new(bh);
    for (int step = 0; step < STEPS; step++)
        for (int k = 0; k < SERIES; k++) {
            /* series k has 20 + k * 5 * step / 4 stacks; each stack's count grows
             * by its index + 1 per step */
            size_t n = 20 + (size_t)(k * 5 * step / 4);
            size_t prev_n = step ? 20 + (size_t)(k * 5 * (step - 1) / 4) : 0;
            for (size_t i = 0; i < n; i++)
                in[i] = (heap_sample){names[i], (int64_t)i, 0, {(int64_t)(i + 1) * step, 7, 0, 0}};
            pp_profile *p = heap(in, n);
            scrape_delta_result r = apply(d[k], p, T0 + (int64_t)step * SEC);
            assert_int_equal(r, step == 0 ? SCRAPE_DELTA_BASELINE : SCRAPE_DELTA_EMIT);
            for (size_t i = 0; step > 0 && i < n; i++) {
                int64_t want = i < prev_n ? (int64_t)i + 1 : (int64_t)(i + 1) * step;
                if (total(p, names[i], 0) != want)
                    fail_msg("series %d step %d %s: delta %lld, want %lld", k, step, names[i],
                             (long long)total(p, names[i], 0), (long long)want);
            }
            h->profile_free(p);
        }
    assert_true(scrape_baseheap_compactions(bh) > 0);
    for (int k = 0; k < SERIES; k++)
        scrape_delta_free(d[k]);
    assert_int_equal(scrape_baseheap_live(bh), 0);
    assert_int_equal(scrape_baseheap_span(bh), 0);
    scrape_baseheap_free(bh);
}

/* The delta'd profile is written from the scrape's bytes: the samples
 * left all zero go, with the locations, functions and strings only they
 * named; every other field comes through as it was. */
static void test_dropped_samples_take_their_frames(void **st)
{
    const pp_host *h = harness_host();
    heap_sample a[] = {{"main.grow", 10, 0, {10, 100, 1, 1}},
                       {"main.idle", 20, 0, {7, 70, 0, 0}},
                       {"main.rest", 30, 0, {1, 10, 0, 0}}};
    heap_sample b[] = {{"main.grow", 10, 0, {12, 120, 1, 1}},
                       {"main.idle", 20, 0, {7, 70, 0, 0}},
                       {"main.rest", 30, 0, {1, 10, 0, 0}}};
    scrape_delta *d = new_delta();
    pp_profile *p1 = heap(a, 3), *p2 = heap(b, 3);
    (void)st;
    for (int k = 0; k < 2; k++) { /* a label whose strings come after the dropped names */
        pp_profile *p = k ? p2 : p1;
        pp_pprof *tk = h->profile_tree_mut(p, NULL, 0);
        tk->samples[0].labels = h->profile_alloc(p, sizeof(pp_label));
        tk->samples[0].n_labels = 1;
        tk->samples[0].labels[0].key = h->pprof_intern(p, "site");
        tk->samples[0].labels[0].str = h->pprof_intern(p, "eu");
    }
    pp_pprof *t = h->profile_tree_mut(p2, NULL, 0);
    t->period = 524288;
    t->time_nanos = 77;
    t->period_type.type = h->pprof_intern(p2, "space");
    t->period_type.unit = h->pprof_intern(p2, "bytes");
    size_t strings = t->n_strings;
    apply(d, p1, T0);
    assert_int_equal(apply(d, p2, T0 + SEC), SCRAPE_DELTA_EMIT);
    const pp_pprof *out = h->profile_tree(p2, NULL, 0);
    assert_non_null(out);
    assert_int_equal(out->n_samples, 1);
    assert_int_equal(out->n_locations, 1);
    assert_int_equal(out->n_functions, 1);
    assert_string_equal(out->strings[out->functions[0].name], "main.grow");
    assert_int_equal(out->locations[0].address, 0x1000); /* the message as it came */
    assert_int_equal(out->samples[0].values[0], 2);
    assert_int_equal(out->samples[0].values[1], 20);
    assert_int_equal(out->samples[0].values[2], 1); /* inuse_*: as they are */
    /* the two names only dropped samples had are gone, the rest renumbered */
    assert_int_equal(out->n_strings, strings - 2);
    for (size_t i = 0; i < out->n_strings; i++)
        assert_true(strcmp(out->strings[i], "main.idle") != 0 &&
                    strcmp(out->strings[i], "main.rest") != 0);
    assert_string_equal(out->strings[out->samples[0].labels[0].key], "site");
    assert_string_equal(out->strings[out->samples[0].labels[0].str], "eu");
    assert_string_equal(out->strings[out->sample_types[1].type], "alloc_space");
    assert_string_equal(out->strings[out->sample_types[3].unit], "bytes");
    assert_int_equal(out->period, 524288);
    assert_int_equal(out->time_nanos, 77);
    assert_string_equal(out->strings[out->period_type.type], "space");
    assert_int_equal(out->duration_nanos, SEC);
    h->profile_free(p1);
    h->profile_free(p2);
    scrape_delta_free(d);
}

/* ids need not be 1..n in order (Go writes them so; others may not):
 * they are then looked up, and the deltas come out the same. */
static void test_ids_out_of_order(void **st)
{
    const pp_host *h = harness_host();
    heap_sample a[] = {{"main.a", 1, 0, {1, 10, 0, 0}}, {"main.b", 2, 0, {2, 20, 0, 0}}};
    heap_sample b[] = {{"main.a", 1, 0, {4, 40, 0, 0}}, {"main.b", 2, 0, {2, 20, 0, 0}}};
    scrape_delta *d = new_delta();
    pp_profile *p[2] = {heap(a, 2), heap(b, 2)};
    (void)st;
    for (int k = 0; k < 2; k++) {
        pp_pprof *t = h->profile_tree_mut(p[k], NULL, 0);
        for (size_t i = 0; i < 2; i++) {
            uint64_t id = 900 - 100 * i; /* 900, 800: descending */
            t->functions[i].id = id + 1;
            t->locations[i].lines[0].function_id = id + 1;
            t->locations[i].id = id;
            t->samples[i].location_ids[0] = id;
        }
    }
    assert_int_equal(apply(d, p[0], T0), SCRAPE_DELTA_BASELINE);
    assert_int_equal(apply(d, p[1], T0 + SEC), SCRAPE_DELTA_EMIT);
    const pp_pprof *out = h->profile_tree(p[1], NULL, 0);
    assert_int_equal(out->n_samples, 1);
    assert_int_equal(out->samples[0].location_ids[0], 900);
    assert_int_equal(total(p[1], "main.a", 1), 30);
    h->profile_free(p[0]);
    h->profile_free(p[1]);
    scrape_delta_free(d);
}

/* Applies p's bytes to a fresh series; the error in err. */
static scrape_delta_result apply_err(pp_profile *p, char *err, size_t errlen)
{
    uint8_t *out;
    size_t plain_len, out_len;
    int64_t from;
    scrape_delta *d = new_delta();
    uint8_t *plain = plain_bytes(p, &plain_len);
    scrape_delta_result r =
        scrape_delta_apply(d, plain, plain_len, T0, &from, &out, &out_len, err, errlen);
    assert_int_equal(scrape_delta_size(d), 0);
    free(plain);
    scrape_delta_free(d);
    return r;
}

/* What the pipeline's decoder refuses, the delta pass refuses, with the
 * same reason (the fuzz harness holds the two to each other). */
static void test_refuses_what_does_not_decode(void **st)
{
    const pp_host *h = harness_host();
    heap_sample a[] = {{"main.a", 1, 0, {1, 10, 0, 0}}, {"main.b", 2, 0, {2, 20, 0, 0}}};
    static const struct {
        int what;
        const char *reason;
    } cases[] = {
        {0, "sample 1 names unknown location id 99"},
        {1, "location 1 names unknown function id 42"},
        {2, "string index 1000 out of range (string table has"},
        {3, "duplicate location id 1"},
        {4, "sample 0 has 3 values, expected 4"},
        {5, "location 2 names unknown mapping id 5"},
    };
    (void)st;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char err[256] = "";
        pp_profile *p = heap(a, 2);
        pp_pprof *t = h->profile_tree_mut(p, NULL, 0);
        if (cases[c].what == 0)
            t->samples[1].location_ids[0] = 99;
        else if (cases[c].what == 1)
            t->locations[0].lines[0].function_id = 42;
        else if (cases[c].what == 2)
            t->functions[1].name = 1000;
        else if (cases[c].what == 3)
            t->locations[1].id = 1;
        else if (cases[c].what == 4)
            t->samples[0].n_values = 3;
        else
            t->locations[1].mapping_id = 5;
        assert_int_equal(apply_err(p, err, sizeof err), SCRAPE_DELTA_ERROR);
        if (!strstr(err, cases[c].reason))
            fail_msg("case %zu: \"%s\" does not say \"%s\"", c, err, cases[c].reason);
        h->profile_free(p);
    }
}

/* A period_type that comes twice is merged, as protobuf and the decoder
 * merge it: a second one holding only a unit leaves the first one's
 * type, here out of range, in force. */
static void test_period_type_merged(void **st)
{
    const pp_host *h = harness_host();
    heap_sample a[] = {{"main.a", 1, 0, {1, 10, 0, 0}}};
    pp_profile *p = heap(a, 1);
    char err[256] = "";
    int64_t from;
    uint8_t *out;
    size_t len, out_len;
    (void)st;
    h->profile_tree_mut(p, NULL, 0)->period_type.type = 1000;
    uint8_t *plain = plain_bytes(p, &len);
    /* Profile.period_type (11) = {unit (2): 1}: bytes 0x5a 0x02 0x10 0x01 */
    uint8_t *more = realloc(plain, len + 4);
    assert_non_null(more);
    memcpy(more + len, "\x5a\x02\x10\x01", 4);
    scrape_delta *d = new_delta();
    assert_int_equal(
        scrape_delta_apply(d, more, len + 4, T0, &from, &out, &out_len, err, sizeof err),
        SCRAPE_DELTA_ERROR);
    assert_non_null(strstr(err, "string index 1000 out of range"));
    assert_non_null(strstr(err, "period_type.type"));
    free(more);
    scrape_delta_free(d);
    h->profile_free(p);
}

static void test_state_stays_flat(void **st)
{
    const pp_host *h = harness_host();
    scrape_delta *d = new_delta();
    int i;
    (void)st;
    for (i = 0; i < 50; i++) {
        heap_sample a[] = {{"main.grow", 10, 0, {10 * i, 100 * i, 0, 0}},
                           {"main.other", 11, 0, {i, i, 0, 0}}};
        pp_profile *p = heap(a, 2);
        assert_int_not_equal(apply(d, p, T0 + i * SEC), SCRAPE_DELTA_ERROR);
        assert_int_equal(scrape_delta_size(d), 2);
        h->profile_free(p);
    }
    scrape_delta_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_is_baseline_then_deltas),
        cmocka_unit_test(test_all_zero_samples_dropped),
        cmocka_unit_test(test_equal_stacks_summed),
        cmocka_unit_test(test_labels_are_part_of_the_key),
        cmocka_unit_test(test_names_differing_after_nul),
        cmocka_unit_test(test_new_stack_counts_in_full),
        cmocka_unit_test(test_restart_resets_baseline),
        cmocka_unit_test(test_block_profile_and_non_cumulative),
        cmocka_unit_test(test_changed_types_start_over),
        cmocka_unit_test(test_state_stays_flat),
        cmocka_unit_test(test_many_stacks),
        cmocka_unit_test(test_baseline_is_packed),
        cmocka_unit_test(test_extreme_values),
        cmocka_unit_test(test_efkeys_round_trip),
        cmocka_unit_test(test_baseline_block),
        cmocka_unit_test(test_baseheap_moves),
        cmocka_unit_test(test_series_share_a_heap),
        cmocka_unit_test(test_dropped_samples_take_their_frames),
        cmocka_unit_test(test_ids_out_of_order),
        cmocka_unit_test(test_refuses_what_does_not_decode),
        cmocka_unit_test(test_period_type_merged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
