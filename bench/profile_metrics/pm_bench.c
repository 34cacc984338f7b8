/* pm_bench: the cost of one exporter per profile. Feeds real pprof files
 * to the exporter's export() the way its worker does: a fresh profile per
 * file with the raw gzip'd bytes a receiver hands over, series labels
 * (one of SERVICES services, `__name__` from the file name, `__delta__`
 * as pprof_scrape sets it), a window of its own (so none is a duplicate),
 * one batch of one profile. Repeats for SECONDS and prints the process
 * CPU time per profile; bench/profile_metrics/run.sh runs it for
 * profile_metrics and for file in turn and prints the ratio.
 *
 * Usage: pm_bench EXPORTER SECONDS OUT_DIR FILE...
 * EXPORTER: profile_metrics or file (which writes under OUT_DIR). */
#include <profpipe/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "harness.h"
#include "pp_constants.h"

extern const pp_component pp_exporter_profile_metrics;
extern const pp_component pp_exporter_file;

#define ERRBUF 512
#define BENCH_MAX_INPUT ((size_t)1 << 30) /* real profiles are far smaller */
#define SERVICES 20
#define WINDOW_NS 10000000000LL
#define NAME_LEN 64

typedef struct input_file {
    uint8_t *data;
    size_t len;
    char name[NAME_LEN]; /* the `__name__` for it */
} input_file;

/* `__name__` from a profgen file name (cpu.pb.gz, heap.pb.gz, ...). */
static void family_of(const char *path, char *out, size_t len)
{
    static const char *const names[][2] = {
        {"cpu", "process_cpu"},     {"heap", "memory"}, {"allocs", "memory"},
        {"goroutine", "goroutine"}, {"block", "block"}, {"mutex", "mutex"},
    };
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    snprintf(out, len, "%s", "unknown");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strncmp(base, names[i][0], strlen(names[i][0])) == 0)
            snprintf(out, len, "%s", names[i][1]);
}

static int load(const char *path, input_file *out)
{
    out->data = (uint8_t *)fileio_read_all(path, BENCH_MAX_INPUT, &out->len);
    family_of(path, out->name, sizeof out->name);
    return out->data ? 0 : -1;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / (double)NS_PER_SEC;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / (double)NS_PER_SEC;
}

static int export_one(const pp_host *h, const pp_component *c, harness *hs, const input_file *in,
                      size_t seq)
{
    char service[32];
    pp_outcome outcome = PP_PENDING;
    pp_export_result res;
    memset(&res, 0, sizeof res);
    pp_profile *p = h->profile_new();
    snprintf(service, sizeof service, "svc-%zu", seq % SERVICES);
    h->label_set(p, "service_name", service);
    h->label_set(p, "__name__", in->name);
    h->label_set(p, "__delta__", "false");
    h->label_set(p, "instance", "10.0.0.1:6060");
    h->profile_set_raw(p, in->data, in->len);
    int64_t from = 1700000000000000000LL + (int64_t)seq * WINDOW_NS;
    h->profile_set_window(p, from, from + WINDOW_NS);
    pp_batch *b = h->batch_new();
    h->batch_add(b, p);
    pp_status st = c->export(harness_state(hs), b, &outcome, &res);
    h->batch_unref(b);
    return st == PP_OK && outcome != PP_REJECTED ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: pm_bench profile_metrics|file SECONDS OUT_DIR FILE...\n");
        return 2;
    }
    const pp_component *c =
        strcmp(argv[1], "file") == 0 ? &pp_exporter_file : &pp_exporter_profile_metrics;
    double seconds = atof(argv[2]);
    char yaml[ERRBUF], err[ERRBUF] = "";
    if (c == &pp_exporter_file)
        snprintf(yaml, sizeof yaml, "directory: %s\nmax_total_size: 64MiB\n", argv[3]);
    else
        snprintf(yaml, sizeof yaml, "labels: [instance]\n");
    size_t n = (size_t)argc - 4;
    input_file *in = calloc(n, sizeof *in);
    for (size_t i = 0; in && i < n; i++)
        if (load(argv[4 + i], &in[i]) != 0) {
            fprintf(stderr, "pm_bench: cannot read %s\n", argv[4 + i]);
            return 1;
        }
    harness *hs = harness_new(c, c->type, yaml, err, sizeof err);
    if (!in || !hs || harness_start(hs) != 0) {
        fprintf(stderr, "pm_bench: %s: %s\n", c->type, err);
        return 1;
    }
    const pp_host *h = harness_host();
    size_t profiles = 0, failed = 0;
    double cpu0 = cpu_s(), wall0 = wall_s();
    while (wall_s() - wall0 < seconds) {
        for (size_t i = 0; i < n; i++, profiles++)
            failed += export_one(h, c, hs, &in[i], profiles) != 0;
    }
    double cpu = cpu_s() - cpu0, wall = wall_s() - wall0;
    printf("exporter=%s profiles=%zu failed=%zu cpu_s=%.3f wall_s=%.3f us_per_profile=%.2f\n",
           c->type, profiles, failed, cpu, wall, cpu / (double)profiles * 1e6);
    harness_free(hs);
    for (size_t i = 0; i < n; i++)
        free(in[i].data);
    free(in);
    return failed ? 1 : 0;
}
