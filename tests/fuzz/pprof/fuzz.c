/* Fuzz target: the pprof decoder and everything that works on a decoded
 * tree. Bytes (plain or gzip'd) go through the streaming time scanner,
 * the streaming pass of label-only paths (pprof_peek), the decoder and
 * validator; what the decoder accepts the scanner must accept with the
 * same time and duration, and the pass with the same time, sample type
 * strings and family (both may refuse a gzip stream zlib finds malformed
 * and libdeflate reads: see stricter_inflate); what the decoder refuses the
 * pass refuses too (ids and the references to them included); an
 * accepted profile must re-encode into
 * bytes that decode and validate again, survive a merge with its clone
 * and a compaction, and still encode afterwards. */
#include "fuzz_support.h"
#include "pprof_internal.h"
#include "profile.h"

#define ERR_LEN 512

/* Encodes t and checks the bytes decode and validate again. */
static void check_roundtrip(const pp_pprof *t, const char *stage)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (pprof_encode(t, &out, &out_len) != 0)
        return; /* out of memory */
    pp_profile *again = profile_new();
    char err[ERR_LEN] = "";
    FUZZ_CHECK(again && profile_set_raw(again, out, out_len) == 0, "%s: out of memory", stage);
    FUZZ_CHECK(profile_tree(again, err, sizeof err) != NULL, "%s: re-encoded profile refused: %s",
               stage, err);
    profile_free(again);
    free(out);
}

/* The pass read what the decoder read. */
static void check_peek(const pp_pprof *peeked, const pp_pprof *t)
{
    FUZZ_CHECK(peeked->time_nanos == t->time_nanos && peeked->duration_nanos == t->duration_nanos,
               "pprof_peek read other times");
    FUZZ_CHECK(peeked->n_sample_types == t->n_sample_types, "pprof_peek: %zu sample types, not %zu",
               peeked->n_sample_types, t->n_sample_types);
    for (size_t i = 0; i < t->n_sample_types; i++)
        FUZZ_CHECK(strcmp(peeked->strings[peeked->sample_types[i].type],
                          t->strings[t->sample_types[i].type]) == 0,
                   "pprof_peek: sample type %zu differs", i);
    const char *a = pprof_family(peeked), *b = pprof_family(t);
    FUZZ_CHECK(a == b || (a && b && strcmp(a, b) == 0), "pprof_peek: family %s, decoder %s",
               a ? a : "-", b ? b : "-");
}

/* The streaming readers' inflate (lib/gzstream, in fixed memory: ISA-L,
 * and zlib judging again what ISA-L refuses) may refuse malformed deflate
 * headers that libdeflate (the decoder's whole-buffer gunzip) reads, e.g.
 * a code-length repeat with nothing to repeat: zlib and gzip say "invalid
 * bit length repeat", libdeflate 1.14 decodes it. The streaming readers
 * are then the stricter ones: they refuse before
 * anything is accepted, with the reason, so nothing accepted is lost. The
 * other way round (a stream refusing less than the decoder) stays checked. */
static int stricter_inflate(const uint8_t *data, size_t len, const char *why)
{
    return gz_is_gzip(data, len) && strncmp(why, "bad gzip", 8) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char err[ERR_LEN], peek_err[ERR_LEN], scan_err[ERR_LEN];
    int64_t t_ns, d_ns;
    int scanned = pprof_scan_time(data, len, &t_ns, &d_ns, NULL, scan_err, sizeof scan_err);
    size_t plain_len;
    pp_err kind;
    pp_pprof *peeked = pprof_peek(data, len, PROFILE_MAX_DECOMPRESSED, &plain_len, &kind, peek_err,
                                  sizeof peek_err);

    pp_profile *p = profile_new();
    if (!p || profile_set_raw(p, data, len) != 0) {
        profile_free(p);
        free(peeked);
        return 0;
    }
    const pp_pprof *t = profile_tree(p, err, sizeof err);
    if (!t) {
        FUZZ_CHECK(!peeked || kind == PP_ERR_NO_MEMORY || strstr(err, "out of memory"),
                   "pprof_peek accepted what the decoder refuses: %s", err);
        profile_free(p);
        free(peeked);
        return 0;
    }
    FUZZ_CHECK(peeked != NULL || kind == PP_ERR_NO_MEMORY || stricter_inflate(data, len, peek_err),
               "decoded, but pprof_peek refused: %s", peek_err);
    if (peeked)
        check_peek(peeked, t);
    free(peeked);
    /* the streaming scanner (push requests) reads what the decoder reads */
    FUZZ_CHECK(scanned == 0 || stricter_inflate(data, len, scan_err),
               "decoded, but the scanner refused: %s", scan_err);
    FUZZ_CHECK(scanned != 0 || (t_ns == t->time_nanos && d_ns == t->duration_nanos),
               "scanner read time %lld duration %lld, decoder %lld %lld", (long long)t_ns,
               (long long)d_ns, (long long)t->time_nanos, (long long)t->duration_nanos);
    (void)pprof_family(t);
    check_roundtrip(t, "decode");
    pp_profile *copy = profile_clone(p);
    if (copy && pprof_merge(p, copy, err, sizeof err) == 0) {
        const pp_pprof *merged = profile_tree(p, err, sizeof err);
        FUZZ_CHECK(merged != NULL, "merged tree lost: %s", err);
        check_roundtrip(merged, "merge");
    }
    if (pprof_compact(p) == 0)
        check_roundtrip(profile_tree(p, err, sizeof err), "compact");
    const uint8_t *gz;
    size_t gz_len;
    (void)profile_raw_gz(p, &gz, &gz_len, err, sizeof err);
    profile_free(copy);
    profile_free(p);
    return 0;
}
