/* Fuzz target: the pyroscope receiver's folded and lines parsers
 * (pyro_text_to_pprof), called directly as /ingest calls them. The input
 * is "<mode><budget><body>": mode bit 0 picks lines over folded, bits 1-2
 * the counts' scale (1, or the period of sampleRate 100, 1000 or 1 Hz as
 * for cpu/wall), budget picks max_decompressed_size (1 KiB to 64 MiB).
 *
 * The harness reads the body itself, as the parser's header describes
 * the formats, and checks: a body it finds valid is accepted (unless over
 * the budget) and a body it finds invalid is refused; an accepted body
 * gives a pprof that the host's codec encodes and decodes again, whose
 * sample values add up to the sum of the counts times the scale, and
 * whose frames fit in the budget; a refusal says why. */
#include "fuzz_support.h"
#include "harness.h"
#include "pyroscope_folded.h"

static const int64_t scales[] = {1, 10000000, 1000000, 1000000000};
static const size_t budgets[] = {1 << 10, 1 << 14, 1 << 20, (size_t)64 << 20};

/* What the parser must make of the body. */
typedef struct expect {
    int bad;            /* a line the parser must refuse */
    int samples;        /* lines that are stacks */
    int sum_overflows;  /* the total does not fit in int64 */
    int64_t sum;        /* of the values */
    size_t frame_bytes; /* each frame's length + 1, as the budget counts them */
} expect;

static int count_of(const uint8_t *s, size_t len, int64_t scale, int64_t *v)
{
    size_t i = len > 0 && s[0] == '+';
    if (i == len)
        return -1;
    *v = 0;
    for (; i < len; i++)
        if (s[i] < '0' || s[i] > '9' || __builtin_mul_overflow(*v, 10, v) ||
            __builtin_add_overflow(*v, s[i] - '0', v))
            return -1;
    return __builtin_mul_overflow(*v, scale, v) ? -1 : 0;
}

static expect read_body(const uint8_t *body, size_t len, pyro_text_format format, int64_t scale)
{
    expect e = {0};
    const uint8_t *s = body, *end = body + len;
    while (s < end && !e.bad) {
        const uint8_t *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = (size_t)((nl ? nl : end) - s);
        const uint8_t *next = s + n + 1;
        if (n > 0 && s[n - 1] == '\r')
            n--;
        size_t stack = n;
        int64_t v = scale;
        if (n > 0 && format == PYRO_TEXT_FOLDED) {
            const uint8_t *sp = NULL;
            for (size_t i = n; i > 0 && !sp; i--)
                if (s[i - 1] == ' ')
                    sp = s + i - 1;
            stack = sp ? (size_t)(sp - s) : 0;
            if (!sp)
                n = 0; /* skipped */
            else if (count_of(sp + 1, n - stack - 1, scale, &v) < 0)
                e.bad = 1;
        }
        if (n > 0 && !e.bad) {
            if (stack == 0) {
                e.bad = 1;
                break;
            }
            /* frames: split at ';', a trailing ';' adds none */
            size_t f = 0;
            for (size_t i = 0; i <= stack; i++)
                if (i == stack || s[i] == ';') {
                    if (!(i == stack && f == stack && f != 0))
                        e.frame_bytes += i - f + 1;
                    f = i + 1;
                }
            e.samples++;
            e.sum_overflows |= __builtin_add_overflow(e.sum, v, &e.sum);
        }
        s = next;
    }
    return e;
}

/* The sum of the decoded samples' values (and whether it overflowed);
 * -1 if the profile does not round-trip through the codec. */
static int roundtrip_sum(const pp_host *h, pp_profile *p, int64_t *sum, int *overflows, char *err,
                         size_t errlen)
{
    const uint8_t *gz;
    size_t gz_len;
    if (h->profile_raw_gz(p, &gz, &gz_len, err, errlen) < 0)
        return -1;
    pp_profile *q = h->profile_new();
    if (!q || h->profile_set_raw(q, gz, gz_len) != 0) {
        h->profile_free(q);
        snprintf(err, errlen, "set_raw");
        return -1;
    }
    const pp_pprof *t = h->profile_tree(q, err, errlen);
    int rc = t ? 0 : -1;
    *sum = 0;
    *overflows = 0;
    for (size_t i = 0; t && i < t->n_samples; i++) {
        FUZZ_CHECK(t->samples[i].n_values == 1, "sample %zu has %zu values", i,
                   t->samples[i].n_values);
        *overflows |= __builtin_add_overflow(*sum, t->samples[i].values[0], sum);
    }
    h->profile_free(q);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 2)
        return 0;
    const pp_host *h = harness_host();
    pyro_text_format format = data[0] & 1 ? PYRO_TEXT_LINES : PYRO_TEXT_FOLDED;
    int64_t scale = scales[data[0] >> 1 & 3];
    size_t budget = budgets[data[1] & 3];
    pyro_text_meta meta = {.type = "samples", .unit = "count", .scale = scale};
    if (scale > 1) /* cpu counts scaled by the period, as /ingest makes them */
        meta = (pyro_text_meta){.type = "cpu",
                                .unit = "nanoseconds",
                                .period_type = "cpu",
                                .period_unit = "nanoseconds",
                                .period = scale,
                                .scale = scale,
                                .time_nanos = 1700000000000000000LL};
    /* a copy of exactly the body, so ASan sees any read past it */
    size_t body_len = len - 2;
    uint8_t *body = malloc(body_len ? body_len : 1);
    pp_profile *p = h->profile_new();
    if (!body || !p) {
        free(body);
        h->profile_free(p);
        return 0;
    }
    memcpy(body, data + 2, body_len);
    expect e = read_body(body, body_len, format, scale);
    int gzip = body_len >= 2 && body[0] == 0x1f && body[1] == 0x8b;
    char err[256] = "";
    int rc = pyro_text_to_pprof(h, p, body, body_len, format, &meta, budget, err, sizeof err);
    if (rc == PYRO_TEXT_OK) {
        FUZZ_CHECK(!e.bad && !gzip && e.samples > 0, "accepted a body with a bad line or no stack");
        FUZZ_CHECK(e.frame_bytes <= budget, "accepted %zu bytes of frames with a budget of %zu",
                   e.frame_bytes, budget);
        int64_t sum;
        int overflows;
        FUZZ_CHECK(roundtrip_sum(h, p, &sum, &overflows, err, sizeof err) == 0,
                   "accepted, but does not round-trip: %s", err);
        /* counts whose total overflows int64 are compared no further */
        if (!e.sum_overflows)
            FUZZ_CHECK(!overflows && sum == e.sum, "values add up to %lld%s, counts to %lld",
                       (long long)sum, overflows ? " (overflowing)" : "", (long long)e.sum);
    } else {
        FUZZ_CHECK(rc == PYRO_TEXT_BAD || rc == PYRO_TEXT_TOO_LARGE || rc == PYRO_TEXT_NOMEM,
                   "rc %d", rc);
        FUZZ_CHECK(err[0], "refused (%d) without a reason", rc);
        if (rc == PYRO_TEXT_BAD)
            FUZZ_CHECK(e.bad || gzip || e.samples == 0, "refused a valid body: %s", err);
        if (rc == PYRO_TEXT_TOO_LARGE)
            FUZZ_CHECK(strstr(err, "line ") && strstr(err, "max_decompressed_size"),
                       "over the budget without naming the line: %s", err);
    }
    h->profile_free(p);
    free(body);
    return 0;
}
