/* discard_exporter: a bench-only external plugin (.so) with one exporter,
 * `bench_discard`, that does what every real exporter must do with a
 * profile before sending it, and nothing more: ask the host for its gzip'd
 * serialized pprof (profile_raw_gz: the tree the perf receiver built is
 * encoded and compressed here, on the exporter's worker thread), count the
 * bytes, and drop it.
 *
 * Why: bench/perf/run.sh compares profpipe's CPU time with `perf record`'s.
 * Paired with the file exporter, the whole-process figure is dominated by
 * creating one file per process per interval (on a busy machine, thousands
 * a minute), which says little about sampling. With this exporter the
 * whole process counts the receiver, the pipeline, pprof encoding and gzip,
 * and the HTTP server, but no storage or network I/O. The bench prints both
 * pairings, so neither hides the other. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>

#include <profpipe/plugin.h>

typedef struct discard {
    const pp_host *host;
    pp_metric *bytes;    /* gzip'd pprof bytes produced and dropped */
    pp_metric *profiles; /* profiles encoded and dropped */
} discard;

static const pp_option discard_options[] = {{0}};

static int discard_create(const pp_host *host, pp_instance *self, const pp_config *cfg,
                          void **state)
{
    discard *d = calloc(1, sizeof *d);
    (void)cfg;
    if (!d)
        return -1;
    d->host = host;
    d->bytes = host->metric(self, "bench_discard_bytes_total",
                            "gzip'd pprof bytes encoded and then dropped", PP_COUNTER, NULL);
    d->profiles = host->metric(self, "bench_discard_profiles_total",
                               "profiles encoded and then dropped", PP_COUNTER, NULL);
    *state = d;
    return 0;
}

static void discard_destroy(void *state)
{
    free(state);
}

/* Encodes each pending profile as a real exporter would, then drops it. */
static pp_status discard_export(void *state, pp_batch *b, pp_outcome *outcome,
                                pp_export_result *result)
{
    discard *d = state;
    size_t n = d->host->batch_count(b);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *data;
        size_t len;
        if (outcome[i] != PP_PENDING)
            continue;
        if (d->host->profile_raw_gz(d->host->batch_get(b, i), &data, &len, result->message,
                                    sizeof result->message) < 0) {
            outcome[i] = PP_REJECTED;
            continue;
        }
        d->host->metric_add(d->bytes, (double)len);
        d->host->metric_add(d->profiles, 1);
        outcome[i] = PP_EXPORTED;
    }
    result->message[0] = '\0';
    return PP_OK;
}

static const pp_component discard_exporter = {
    .type = "bench_discard",
    .kind = PP_EXPORTER,
    .description = "bench only: encodes each profile to gzip'd pprof, counts its bytes, drops it",
    .options = discard_options,
    .create = discard_create,
    .destroy = discard_destroy,
    .export = discard_export,
};

static const pp_component *const discard_components[] = {&discard_exporter, NULL};

/* The one symbol the host looks up. */
__attribute__((visibility("default"))) const pp_module profpipe_module = {
    PP_MODULE_HEADER,
    .name = "bench_discard",
    .components = discard_components,
};
