/* Fuzz target: pprof_scrape's delta state, fed what a scraped target
 * sends. The input is two pprof bodies (plain or gzip'd) separated by
 * SEP: two scrapes of one series. Each is decoded and applied in turn,
 * then the second body once more, to two series whose baselines share a
 * baseheap that compacts at every hole (so blocks move under both).
 * Checked:
 * - an error leaves the baseline as it was (size and bytes);
 * - an emitted profile starts where the previous scrape was taken, still
 *   encodes, and decodes again;
 * - when no cumulative value of a scrape is negative, no emitted delta is
 *   negative (sums saturate instead of wrapping);
 * - the same scrape applied twice in a row (the body decoded afresh)
 *   emits no cumulative value but zero: every key found its own previous
 *   values in the packed baseline.
 * The sanitizers catch overflow and reads out of bounds. */
#include "fuzz_support.h"
#include "harness.h"
#include "scrape_delta.h"

#define SEP "\n#next-scrape\n"
#define ERR_LEN 512
#define T0 1000000000000LL
#define SEC 1000000000LL

/* Calls f(value) for each cumulative value of t's samples; returns the
 * first value that fails, or 0 with *ok = 1. */
static int64_t check_values(const pp_pprof *t, int (*f)(int64_t), int *ok)
{
    size_t idx[SCRAPE_DELTA_MAX_TYPES], n = scrape_delta_cumulative_types(t, idx);
    *ok = 1;
    for (size_t i = 0; i < t->n_samples; i++)
        for (size_t j = 0; j < n; j++)
            if (idx[j] < t->samples[i].n_values && !f(t->samples[i].values[idx[j]])) {
                *ok = 0;
                return t->samples[i].values[idx[j]];
            }
    return 0;
}

static int non_negative(int64_t v)
{
    return v >= 0;
}

static int zero(int64_t v)
{
    return v == 0;
}

/* One scrape of the series: decodes bytes and applies the delta. */
static scrape_delta_result scrape(scrape_delta *d, const pp_host *h, const uint8_t *bytes,
                                  size_t len, int64_t when, int expect_zero)
{
    char err[ERR_LEN] = "";
    pp_profile *p = h->profile_new();
    if (!p || h->profile_set_raw(p, bytes, len) != 0) {
        h->profile_free(p);
        return SCRAPE_DELTA_ERROR;
    }
    const pp_pprof *in = h->profile_tree(p, err, sizeof err);
    int ok = 0;
    int64_t bad;
    if (in)
        check_values(in, non_negative, &ok);
    int negative = !ok;
    size_t size_before = scrape_delta_size(d), bytes_before = scrape_delta_bytes(d);
    int64_t from = 0;
    scrape_delta_result r = scrape_delta_apply(d, h, p, when, &from, err, sizeof err);
    if (r == SCRAPE_DELTA_ERROR) {
        FUZZ_CHECK(scrape_delta_size(d) == size_before && scrape_delta_bytes(d) == bytes_before,
                   "an error changed the baseline: %s", err);
    } else if (r == SCRAPE_DELTA_EMIT) {
        FUZZ_CHECK(from == when - SEC, "the window starts at %lld, not at the previous scrape",
                   (long long)from);
        const pp_pprof *out = h->profile_tree(p, err, sizeof err);
        FUZZ_CHECK(out != NULL, "the delta'd tree is gone: %s", err);
        if (!negative) {
            bad = check_values(out, non_negative, &ok);
            FUZZ_CHECK(ok, "a delta of %lld from values that are all >= 0", (long long)bad);
        }
        if (expect_zero) {
            bad = check_values(out, zero, &ok);
            FUZZ_CHECK(ok, "the same scrape twice left a delta of %lld", (long long)bad);
        }
        const uint8_t *gz;
        size_t gz_len;
        FUZZ_CHECK(h->profile_raw_gz(p, &gz, &gz_len, err, sizeof err) == 0 ||
                       strstr(err, "memory"),
                   "the delta'd profile does not encode: %s", err);
        pp_profile *again = h->profile_new();
        if (again && h->profile_set_raw(again, gz, gz_len) == 0)
            FUZZ_CHECK(h->profile_tree(again, err, sizeof err) != NULL || strstr(err, "memory"),
                       "the delta'd profile does not decode again: %s", err);
        h->profile_free(again);
    }
    h->profile_free(p);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    const pp_host *h = harness_host();
    size_t a_len, b_len;
    const uint8_t *b = fuzz_split(data, len, SEP, &a_len, &b_len);
    static scrape_baseheap *heap;
    if (!heap && !(heap = scrape_baseheap_new(0)))
        return 0;
    scrape_delta *d[2] = {scrape_delta_new(heap), scrape_delta_new(heap)};
    if (!d[0] || !d[1]) {
        scrape_delta_free(d[0]);
        scrape_delta_free(d[1]);
        return 0;
    }
    scrape_delta_result r[2];
    for (int i = 0; i < 2; i++)
        scrape(d[i], h, data, a_len, T0, 0);
    for (int i = 0; i < 2; i++)
        r[i] = scrape(d[i], h, b, b_len, T0 + SEC, 0);
    for (int i = 0; i < 2; i++)
        if (r[i] != SCRAPE_DELTA_ERROR && r[i] != SCRAPE_DELTA_NONE)
            scrape(d[i], h, b, b_len, T0 + 2 * SEC, 1);
    scrape_delta_free(d[0]);
    scrape_delta_free(d[1]);
    FUZZ_CHECK(scrape_baseheap_live(heap) == 0 && scrape_baseheap_span(heap) == 0,
               "the baseheap holds %zu bytes (span %zu) with no series left",
               scrape_baseheap_live(heap), scrape_baseheap_span(heap));
    return 0;
}
