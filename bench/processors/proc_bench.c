/* proc_bench: pushes real pprof files through relabel and then downsample
 * (min_fraction, max_stack_depth) the way a pipeline worker does: a fresh
 * profile per file with the raw gzip'd bytes a receiver would hand over,
 * one batch per profile, both processors' process(), then the gzip'd
 * encoding an exporter asks for. Repeats for SECONDS and prints one line
 * that bench/processors/run.sh and large.sh set next to the Go program's:
 * wall-clock rates, and the process' CPU time (user + system, getrusage)
 * and minor page faults per profile.
 *
 * With --floor it does, instead, only what any rewrite of the same bytes
 * must: the host's gunzip of each file and gzip (level 1) of the result,
 * in-process, with the library the host uses (core/pprof/gz.c).
 *
 * Like the daemon at its start, it first applies profpipe's glibc heap
 * settings (memlimit_heap_settings); PROC_BENCH_GLIBC_DEFAULTS=1 in the
 * environment keeps glibc's defaults instead (the cost before them).
 *
 * Usage: proc_bench [--floor] SECONDS MIN_FRACTION MAX_DEPTH FILE...
 * The relabel rules equal the Go side's (gobench/main.go). */
#include <profpipe/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "fileio.h"
#include "harness.h"
#include "gz.h"
#include "memlimit.h"
#include "pp_constants.h"

extern const pp_component pp_processor_relabel;
extern const pp_component pp_processor_downsample;

#define ERRBUF 512
#define BENCH_MAX_INPUT ((size_t)1 << 30) /* real profiles are far smaller */
#define BYTES_PER_MB 1e6

static const char *const relabel_yaml =
    "rules:\n"
    "  - {source_labels: [service_name], regex: '(.*)-app', target_label: app, "
    "replacement: '${1}'}\n"
    "  - {source_labels: [env], regex: 'prod|staging', action: keep}\n"
    "  - {regex: 'tmp_.*', action: labeldrop}\n";

/* The series labels every input profile starts with. */
static const char *const input_labels[][2] = {
    {"service_name", "checkout-app"}, {"__name__", "process_cpu"},   {"env", "prod"},
    {"tmp_request", "r-1234"},        {"instance", "10.0.0.1:6060"},
};

typedef struct input_file {
    uint8_t *data;
    size_t len;
} input_file;

static int read_file(const char *path, input_file *out)
{
    out->data = (uint8_t *)fileio_read_all(path, BENCH_MAX_INPUT, &out->len);
    return out->data ? 0 : -1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / (double)NS_PER_SEC;
}

static harness *make(const pp_component *c, const char *yaml)
{
    char err[ERRBUF] = "";
    harness *h = harness_new(c, c->type, yaml, err, sizeof err);
    if (!h)
        fprintf(stderr, "proc_bench: %s: %s\n", c->type, err);
    return h;
}

/* One profile through both processors and the encoder; bytes out. */
static size_t run_one(const pp_host *h, harness *rl, harness *ds, const input_file *in)
{
    pp_profile *p = h->profile_new();
    for (size_t i = 0; i < sizeof input_labels / sizeof input_labels[0]; i++)
        h->label_set(p, input_labels[i][0], input_labels[i][1]);
    h->profile_set_raw(p, in->data, in->len);
    pp_batch *b = h->batch_new();
    h->batch_add(b, p);
    b = pp_processor_relabel.process(harness_state(rl), b);
    if (b)
        b = pp_processor_downsample.process(harness_state(ds), b);
    size_t out = 0;
    for (size_t i = 0; b && i < h->batch_count(b); i++) {
        const uint8_t *data;
        size_t len;
        char err[ERRBUF];
        if (h->profile_raw_gz(h->batch_get(b, i), &data, &len, err, sizeof err) == 0)
            out += len;
        else
            fprintf(stderr, "proc_bench: encode: %s\n", err);
    }
    if (b)
        h->batch_unref(b);
    return out;
}

/* The floor: gunzip and gzip of one file, in-process; bytes out. */
static size_t floor_one(const pp_host *h, const input_file *in)
{
    uint8_t *plain = NULL, *gz = NULL;
    size_t plain_len = 0, gz_len = 0;
    char err[ERRBUF] = "";
    if (h->gunzip(in->data, in->len, PROFILE_MAX_DECOMPRESSED, &plain, &plain_len, NULL, err,
                  sizeof err) < 0 ||
        h->gzip(plain, plain_len, &gz, &gz_len) < 0) {
        fprintf(stderr, "proc_bench: floor: %s\n", err[0] ? err : "gzip failed");
        gz_len = 0;
    }
    free(plain);
    free(gz);
    return gz_len;
}

/* CPU seconds (user + system) and minor faults of the process so far. */
static double cpu_s(long *minflt)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *minflt = ru.ru_minflt;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
    int floor_only = argc > 1 && strcmp(argv[1], "--floor") == 0;
    if (floor_only) {
        argv++;
        argc--;
    }
    if (argc < 5) {
        fprintf(stderr, "usage: proc_bench [--floor] SECONDS MIN_FRACTION MAX_DEPTH FILE...\n");
        return 2;
    }
    double seconds = atof(argv[1]);
    char ds_yaml[128];
    snprintf(ds_yaml, sizeof ds_yaml, "min_fraction: %s\nmax_stack_depth: %s\n", argv[2], argv[3]);
    size_t n = (size_t)argc - 4;
    input_file *in = calloc(n, sizeof *in);
    for (size_t i = 0; i < n; i++)
        if (read_file(argv[4 + i], &in[i]) != 0) {
            fprintf(stderr, "proc_bench: cannot read %s\n", argv[4 + i]);
            return 1;
        }
    harness *rl = make(&pp_processor_relabel, relabel_yaml);
    harness *ds = make(&pp_processor_downsample, ds_yaml);
    if (!rl || !ds)
        return 1;
    const pp_host *h = harness_host();
    if (!getenv("PROC_BENCH_GLIBC_DEFAULTS")) /* the daemon's, at its start */
        memlimit_heap_settings(0);
    size_t profiles = 0, bytes_in = 0, bytes_out = 0;
    long flt0, flt1;
    double cpu0 = cpu_s(&flt0);
    double start = now_s(), elapsed = 0;
    while (elapsed < seconds) {
        for (size_t i = 0; i < n; i++) {
            bytes_out += floor_only ? floor_one(h, &in[i]) : run_one(h, rl, ds, &in[i]);
            bytes_in += in[i].len;
            profiles++;
        }
        elapsed = now_s() - start;
    }
    double cpu = cpu_s(&flt1) - cpu0;
    printf("%s profiles=%zu seconds=%.3f profiles_per_s=%.1f mb_per_s=%.3f "
           "bytes_out=%zu cpu_us_per_profile=%.1f minflt_per_profile=%.1f\n",
           floor_only ? "floor" : "profpipe", profiles, elapsed, (double)profiles / elapsed,
           (double)bytes_in / BYTES_PER_MB / elapsed, bytes_out, cpu * 1e6 / (double)profiles,
           (double)(flt1 - flt0) / (double)profiles);
    harness_free(rl);
    harness_free(ds);
    for (size_t i = 0; i < n; i++)
        free(in[i].data);
    free(in);
    return 0;
}
