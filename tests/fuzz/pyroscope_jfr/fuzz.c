/* Fuzz target: the pyroscope receiver's JFR reader and its conversion to
 * pprof (jfr_to_pprof), with the Java SDK's LabelsSnapshot decoder, as
 * /ingest?format=jfr calls them. The input is
 * "<flags><rate>[<labels length, 2 bytes big-endian><labels>]<recording>":
 * flags bit 0 says a LabelsSnapshot comes first, bits 1-2 pick the budget
 * (64 KiB to 16 MiB), rate the sampleRate (0 = the recording's period,
 * 100, 20 or 1000 Hz).
 *
 * Checked: a refused recording or snapshot says why, a malformed one
 * naming the offset (byte) where it went wrong; an accepted recording
 * gives at most one profile per kind of event, each with __name__,
 * encoding and decoding again through the host's codec. */
#include "fuzz_support.h"
#include "harness.h"
#include "pyroscope_jfr.h"
#include "pyroscope_jfr_labels.h"
#include "pyroscope_jfr_pprof.h"

static const int64_t rates[] = {0, 100, 20, 1000};
static const size_t budgets[] = {1 << 16, 1 << 20, 4 << 20, 16 << 20};

static void check_profile(const pp_host *h, pp_profile *p, size_t i)
{
    char err[256];
    const uint8_t *gz;
    size_t gz_len;
    /* jfr_event only when the recording names async-profiler's event */
    FUZZ_CHECK(h->label_get(p, "__name__"), "profile %zu without __name__", i);
    FUZZ_CHECK(h->profile_raw_gz(p, &gz, &gz_len, err, sizeof err) == 0,
               "profile %zu does not encode: %s", i, err);
    pp_profile *q = h->profile_new();
    if (!q)
        return;
    FUZZ_CHECK(h->profile_set_raw(q, gz, gz_len) == 0, "profile %zu: set_raw", i);
    const pp_pprof *t = h->profile_tree(q, err, sizeof err);
    FUZZ_CHECK(t, "profile %zu does not decode: %s", i, err);
    FUZZ_CHECK(t->n_sample_types >= 1 && t->n_sample_types <= 2, "profile %zu: %zu sample types", i,
               t->n_sample_types);
    h->profile_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 2)
        return 0;
    const pp_host *h = harness_host();
    int has_labels = data[0] & 1;
    size_t budget = budgets[data[0] >> 1 & 3];
    int64_t rate = rates[data[1] & 3];
    data += 2, len -= 2;
    char err[256] = "";
    jfr_labels *labels = NULL;
    if (has_labels) {
        if (len < 2)
            return 0;
        size_t labels_len = (size_t)data[0] << 8 | data[1];
        data += 2, len -= 2;
        if (labels_len > len)
            labels_len = len;
        uint8_t *copy = malloc(labels_len ? labels_len : 1);
        if (!copy)
            return 0;
        memcpy(copy, data, labels_len);
        int rc = jfr_labels_parse(copy, labels_len, budget, &labels, err, sizeof err);
        free(copy);
        if (rc == 0) {
            FUZZ_CHECK(labels, "accepted snapshot without labels");
            FUZZ_CHECK(jfr_labels_size(labels) <= budget, "snapshot holds %zu bytes, budget %zu",
                       jfr_labels_size(labels), budget);
        } else {
            FUZZ_CHECK(!labels, "refused snapshot returned labels");
            FUZZ_CHECK(rc == JFR_ERR_FORMAT || rc == JFR_ERR_MEMORY, "labels rc %d", rc);
            FUZZ_CHECK(rc != JFR_ERR_FORMAT || strstr(err, "at byte "),
                       "malformed snapshot, no byte named: '%s'", err);
            FUZZ_CHECK(err[0], "snapshot refused without a reason");
        }
        data += labels_len, len -= labels_len;
    }
    /* a copy of exactly the recording, so ASan sees any read past it */
    uint8_t *rec = malloc(len ? len : 1);
    if (!rec) {
        jfr_labels_free(labels);
        return 0;
    }
    memcpy(rec, data, len);
    pp_profile **ps = NULL;
    size_t n = 0;
    err[0] = '\0';
    int rc = jfr_to_pprof(h, rec, len, labels, rate, budget, &ps, &n, err, sizeof err);
    if (rc == 0) {
        FUZZ_CHECK(n <= JFR_KINDS, "%zu profiles", n);
        for (size_t i = 0; i < n; i++) {
            check_profile(h, ps[i], i);
            h->profile_free(ps[i]);
        }
        free(ps);
    } else {
        FUZZ_CHECK(n == 0, "refused (%d) with %zu profiles", rc, n);
        FUZZ_CHECK(rc == JFR_ERR_FORMAT || rc == JFR_ERR_MEMORY, "rc %d", rc);
        FUZZ_CHECK(err[0], "refused (%d) without a reason", rc);
        FUZZ_CHECK(rc != JFR_ERR_FORMAT || strstr(err, "at offset "),
                   "malformed recording, no offset named: '%s'", err);
    }
    jfr_labels_free(labels);
    free(rec);
    return 0;
}
