/* scrape_check_bench: the work pprof_scrape does with one 200 body, now
 * and before, in the same process, alternating per round so that the
 * machine's load hits both alike.
 *
 *   pass-through (no delta), now:    the streaming check (inflate through a
 *                                    fixed buffer, walk the pieces), the
 *                                    profile takes the body over
 *   pass-through, before:            gunzip the whole body, walk it in
 *                                    memory, copy the body into the profile
 *   delta, now:                      gunzip once, walk in memory, the
 *                                    profile takes the inflated bytes,
 *                                    decode them
 *   delta, before:                   gunzip + walk, copy, then the decode
 *                                    gunzips again
 *
 * Each iteration starts from a malloc'd copy of the body, as libcurl's
 * write callback leaves it. Prints, per body and path, microseconds per
 * body for each way and the ratio now / before.
 *   scrape_check_bench ROUNDS ITERATIONS FILE... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../../receivers/pprof_scrape/scrape.h"

#include "host.h"

#define LIMIT ((size_t)64 << 20)

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* The walk as the check did it before it streamed (wire_next over the
 * whole inflated body). */
static int walk_whole(const uint8_t *b, size_t n)
{
    for (wire_reader r = {b, b + n}; r.p < r.end;) {
        wire_field f = {0};
        const char *why;
        if (wire_next(&r, &f, &why) < 0 || f.num > 32)
            return -1;
    }
    return 0;
}

static uint8_t *copy_of(const uint8_t *b, size_t n)
{
    uint8_t *c = malloc(n);
    if (!c)
        abort();
    memcpy(c, b, n);
    return c;
}

static int old_way(const pp_host *h, const uint8_t *body, size_t len, int delta)
{
    uint8_t *recv = copy_of(body, len), *plain;
    size_t plain_len;
    char err[256];
    int rc = -1;
    if (h->gunzip(recv, len, LIMIT, &plain, &plain_len, NULL, err, sizeof err) < 0)
        abort();
    rc = walk_whole(plain, plain_len);
    free(plain);
    pp_profile *p = h->profile_new();
    if (rc < 0 || !p || h->profile_set_raw(p, recv, len) < 0)
        abort();
    free(recv);
    if (delta && !h->profile_tree_mut(p, err, sizeof err))
        abort();
    h->profile_free(p);
    return rc;
}

static int new_way(const pp_host *h, const uint8_t *body, size_t len, int delta)
{
    uint8_t *recv = copy_of(body, len), *bytes = recv;
    size_t n = len;
    char err[512];
    int too_large = 0;
    if (delta) {
        if (h->gunzip(recv, len, LIMIT, &bytes, &n, NULL, err, sizeof err) < 0 ||
            scrape_check_inflated(bytes, n, err, sizeof err) < 0)
            abort();
        free(recv);
    } else if (scrape_check_pprof(recv, len, LIMIT, 0, &too_large, err, sizeof err) < 0) {
        abort();
    }
    pp_profile *p = h->profile_new();
    if (!p || h->profile_adopt_raw(p, bytes, n) < 0)
        abort();
    if (delta && !h->profile_tree_mut(p, err, sizeof err))
        abort();
    h->profile_free(p);
    return 0;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b = NULL;
    long n;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0 ||
        !(b = malloc((size_t)n)) || fread(b, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const pp_host *h = host_api();
    int rounds = argc > 1 ? atoi(argv[1]) : 0, iters = argc > 2 ? atoi(argv[2]) : 0;
    if (argc < 4 || rounds < 1 || iters < 1) {
        fprintf(stderr, "usage: scrape_check_bench ROUNDS ITERATIONS FILE...\n");
        return 2;
    }
    double *ratio = malloc((size_t)rounds * sizeof *ratio);
    double *t_new = malloc((size_t)rounds * sizeof *t_new);
    double *t_old = malloc((size_t)rounds * sizeof *t_old);
    if (!ratio || !t_new || !t_old)
        return 1;
    for (int a = 3; a < argc; a++) {
        size_t len;
        uint8_t *body = read_file(argv[a], &len);
        for (int delta = 0; delta < 2; delta++) {
            for (int r = 0; r < rounds; r++) {
                double t0 = now_us();
                for (int i = 0; i < iters; i++)
                    new_way(h, body, len, delta);
                double t1 = now_us();
                for (int i = 0; i < iters; i++)
                    old_way(h, body, len, delta);
                double t2 = now_us();
                t_new[r] = (t1 - t0) / iters;
                t_old[r] = (t2 - t1) / iters;
                ratio[r] = t_new[r] / t_old[r];
            }
            qsort(t_new, (size_t)rounds, sizeof *t_new, cmp_double);
            qsort(t_old, (size_t)rounds, sizeof *t_old, cmp_double);
            qsort(ratio, (size_t)rounds, sizeof *ratio, cmp_double);
            const char *name = strrchr(argv[a], '/');
            printf("%-16s %8zu %-12s %9.1f %9.1f %6.2f\n", name ? name + 1 : argv[a], len,
                   delta ? "delta" : "pass-through", t_new[rounds / 2], t_old[rounds / 2],
                   ratio[rounds / 2]);
        }
        free(body);
    }
    free(ratio);
    free(t_new);
    free(t_old);
    return 0;
}
