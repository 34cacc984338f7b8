/* Fuzz target: pprof_scrape's delta state, fed what a scraped target
 * sends. The input is two pprof bodies (plain or gzip'd) separated by
 * SEP: two scrapes of one series. Each is applied in turn (inflated
 * first when gzip'd, as a scrape hands it over), then the second body
 * once more, to two series whose baselines share a baseheap that
 * compacts at every hole (so blocks move under both). Checked:
 * - the delta pass, which reads the bytes in place, refuses exactly what
 *   the pipeline's decoder refuses;
 * - an error leaves the baseline as it was (size and bytes);
 * - an emitted profile starts where the previous scrape was taken, its
 *   duration is the time since, and it decodes;
 * - when no cumulative value of a scrape is negative, no emitted delta is
 *   negative (sums saturate instead of wrapping);
 * - the same scrape applied twice in a row (the body decoded afresh)
 *   emits no cumulative value but zero: every key found its own previous
 *   values in the packed baseline.
 * The sanitizers catch overflow and reads out of bounds. */
#include "fuzz_support.h"
#include "harness.h"
#include "pp_constants.h"
#include "scrape_delta.h"

#define SEP "\n#next-scrape\n"
#define ERR_LEN 512
#define T0 1000000000000LL
#define SEC 1000000000LL

/* Calls f(value) for each cumulative value of t's samples; returns the
 * first value that fails, or 0 with *ok = 1. */
static int64_t check_values(const pp_host *h, const pp_pprof *t, int (*f)(int64_t), int *ok)
{
    size_t idx[SCRAPE_DELTA_MAX_TYPES], n = scrape_delta_cumulative_types(h, t, idx);
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

/* One scrape of the series: the bytes inflated (when gzip'd), as a
 * scrape hands them over, and applied in place. */
static scrape_delta_result scrape(scrape_delta *d, const pp_host *h, const uint8_t *bytes,
                                  size_t len, int64_t when, int expect_zero)
{
    char err[ERR_LEN] = "";
    uint8_t *plain = NULL, *out = NULL;
    size_t plain_len = 0, out_len = 0;
    if (pp_is_gzip(bytes, len)) {
        if (h->gunzip(bytes, len, (size_t)16 << 20, &plain, &plain_len, NULL, err, sizeof err) < 0)
            return SCRAPE_DELTA_ERROR;
    } else if (!(plain = malloc(len ? len : 1))) {
        return SCRAPE_DELTA_ERROR;
    } else {
        memcpy(plain, bytes, len);
        plain_len = len;
    }
    /* what the pipeline's decoder makes of the same bytes */
    pp_profile *p = h->profile_new();
    if (!p || h->profile_set_raw(p, plain, plain_len) != 0) {
        h->profile_free(p);
        free(plain);
        return SCRAPE_DELTA_ERROR;
    }
    char derr[ERR_LEN] = "";
    const pp_pprof *in = h->profile_tree(p, derr, sizeof derr);
    int ok = 0;
    int64_t bad;
    if (in)
        check_values(h, in, non_negative, &ok);
    int negative = !ok;
    size_t size_before = scrape_delta_size(d), bytes_before = scrape_delta_bytes(d);
    int64_t from = 0;
    scrape_delta_result r =
        scrape_delta_apply(d, plain, plain_len, when, &from, &out, &out_len, err, sizeof err);
    FUZZ_CHECK((r == SCRAPE_DELTA_ERROR) == (in == NULL) || strstr(err, "memory") ||
                   strstr(derr, "memory"),
               "the delta pass and the decoder disagree: \"%s\" against \"%s\"", err, derr);
    FUZZ_CHECK((r == SCRAPE_DELTA_EMIT) == (out != NULL), "deltas given back with result %d",
               (int)r);
    if (r == SCRAPE_DELTA_ERROR) {
        FUZZ_CHECK(scrape_delta_size(d) == size_before && scrape_delta_bytes(d) == bytes_before,
                   "an error changed the baseline: %s", err);
    } else if (r == SCRAPE_DELTA_EMIT) {
        FUZZ_CHECK(from == when - SEC, "the window starts at %lld, not at the previous scrape",
                   (long long)from);
        pp_profile *q = h->profile_new();
        if (q && h->profile_adopt_raw(q, out, out_len) == 0) {
            const pp_pprof *t = h->profile_tree(q, err, sizeof err);
            FUZZ_CHECK(t != NULL || strstr(err, "memory"),
                       "the delta'd profile does not decode: %s", err);
            if (t) {
                FUZZ_CHECK(t->duration_nanos == SEC, "the duration is %lld, not the interval",
                           (long long)t->duration_nanos);
                if (!negative) {
                    bad = check_values(h, t, non_negative, &ok);
                    FUZZ_CHECK(ok, "a delta of %lld from values that are all >= 0", (long long)bad);
                }
                if (expect_zero) {
                    bad = check_values(h, t, zero, &ok);
                    FUZZ_CHECK(ok, "the same scrape twice left a delta of %lld", (long long)bad);
                }
            }
        } else if (!q) {
            free(out);
        }
        h->profile_free(q);
    }
    h->profile_free(p);
    free(plain);
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
