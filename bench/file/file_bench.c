/* file_bench: what the file exporter pays per profile when many profiles
 * share one name (same window and labels: `name`, `name-1`, ...), against
 * the same writes with distinct names (the floor: one create, write and
 * rename each). Three runs of N writes of a 1 KiB body into an empty
 * folder each:
 *   distinct    N different names;
 *   same        one name N times, with the exporter's names table;
 *   same-probe  one name N times without it (each write searches from the
 *               bare name, as the exporter did before the table).
 * Prints, for each run, the mean wall time per write of the last LAST
 * writes (the cost after N - LAST duplicates) in microseconds.
 *   file_bench DIR N LAST */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "file_store.h"
#include "pp_constants.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* N writes into dir/sub; the mean ns of the last `last`; -1 on error. */
static double run(const char *dir, const char *sub, int n, int last, int distinct,
                  store_names *names)
{
    char folder[1024], base[64], name[256], err[256];
    static char body[1024];
    snprintf(folder, sizeof folder, "%s/%s", dir, sub);
    if (store_mkdirs(folder, err, sizeof err) < 0) {
        fprintf(stderr, "file_bench: %s\n", err);
        return -1;
    }
    int64_t started = 0;
    for (int i = 0; i < n; i++) {
        if (i == n - last)
            started = now_ns();
        snprintf(base, sizeof base, "1700000000000000000-1700000010000000000-%016x",
                 distinct ? i : 0);
        if (store_write(names, folder, base, body, sizeof body, 0, name, sizeof name, err,
                        sizeof err) < 0) {
            fprintf(stderr, "file_bench: write %d: %s\n", i, err);
            return -1;
        }
    }
    return (double)(now_ns() - started) / last;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: file_bench DIR N LAST\n");
        return 2;
    }
    int n = atoi(argv[2]), last = atoi(argv[3]);
    if (n <= 0 || last <= 0 || last > n) {
        fprintf(stderr, "file_bench: need 0 < LAST <= N\n");
        return 2;
    }
    store_names *names = calloc(1, sizeof *names);
    if (!names)
        return 1;
    double distinct = run(argv[1], "distinct", n, last, 1, NULL);
    double same = run(argv[1], "same", n, last, 0, names);
    double probe = run(argv[1], "same-probe", n, last, 0, NULL);
    free(names);
    if (distinct < 0 || same < 0 || probe < 0)
        return 1;
    printf("distinct %.1f\nsame %.1f\nsame-probe %.1f\n", distinct / 1e3, same / 1e3, probe / 1e3);
    return 0;
}
