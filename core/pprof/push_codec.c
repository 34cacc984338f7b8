/* push_codec: Grafana Pyroscope's push.v1 PushRequest <-> profiles.
 *
 * One series per profile (its series labels as label pairs) holding one raw
 * sample (its gzip'd pprof, with a random UUID as the sample ID, as
 * Pyroscope's own clients send). The request is small compared with the
 * profiles in it, so the generated protobuf-c code is used as is; the
 * temporary message structs of an encode live in one arena. On decode each
 * raw sample becomes one profile that shares nothing with the request; its
 * window comes from the pprof's own time_nanos and duration_nanos (read
 * without decoding the tree), or is "now" when the pprof has no time; a
 * window whose end is past int64 nanoseconds is refused, not wrapped. */
#include "pprof_internal.h"
#include "push_codec.h"
#include "push.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define UUID_BYTES 16
#define UUID_TEXT_LEN 36
#define UUID_VERSION_BYTE 6
#define UUID_VARIANT_BYTE 8
#define NS_PER_SEC 1000000000LL

/* A random (version 4) UUID in its canonical text form. */
static void uuid_v4(char out[UUID_TEXT_LEN + 1])
{
    uint8_t b[UUID_BYTES];
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n <= 0) {
            /* no entropy source: fall back to clock bits, still unique enough */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            for (; got < sizeof(b); got++)
                b[got] = (uint8_t)((uint64_t)ts.tv_nsec >> (got % 4 * 8)) ^ (uint8_t)got;
            break;
        }
        got += (size_t)n;
    }
    b[UUID_VERSION_BYTE] = (uint8_t)((b[UUID_VERSION_BYTE] & 0x0f) | 0x40);
    b[UUID_VARIANT_BYTE] = (uint8_t)((b[UUID_VARIANT_BYTE] & 0x3f) | 0x80);
    snprintf(out, UUID_TEXT_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

/* Fills one series for profile p; its structs come from a. */
static int push_series(arena *a, pp_profile *p, Push__V1__RawProfileSeries *ser, char *err,
                       size_t errlen)
{
    push__v1__raw_profile_series__init(ser);
    size_t n = profile_label_count(p);
    ser->labels = arena_calloc(a, n ? n : 1, sizeof(*ser->labels));
    Types__V1__LabelPair *pairs = arena_calloc(a, n ? n : 1, sizeof(*pairs));
    ser->samples = arena_calloc(a, 1, sizeof(*ser->samples));
    Push__V1__RawSample *sample = arena_calloc(a, 1, sizeof(*sample));
    char *id = arena_alloc(a, UUID_TEXT_LEN + 1);
    if (!ser->labels || !pairs || !ser->samples || !sample || !id)
        return pprof_errorf(err, errlen, "push encode: out of memory");
    for (size_t i = 0; i < n; i++) {
        types__v1__label_pair__init(&pairs[i]);
        pairs[i].name = (char *)profile_label_name(p, i);
        pairs[i].value = (char *)profile_label_value(p, i);
        ser->labels[i] = &pairs[i];
    }
    ser->n_labels = n;
    push__v1__raw_sample__init(sample);
    const uint8_t *data;
    size_t len;
    if (profile_raw_gz(p, &data, &len, err, errlen) < 0)
        return -1;
    sample->raw_profile.data = (uint8_t *)data;
    sample->raw_profile.len = len;
    uuid_v4(id);
    sample->id = id;
    ser->samples[0] = sample;
    ser->n_samples = 1;
    return 0;
}

int push_encode(pp_profile *const *profiles, size_t n, uint8_t **out, size_t *out_len, char *err,
                size_t errlen)
{
    *out = NULL;
    *out_len = 0;
    arena a;
    arena_init(&a);
    Push__V1__PushRequest req = PUSH__V1__PUSH_REQUEST__INIT;
    req.series = arena_calloc(&a, n ? n : 1, sizeof(*req.series));
    Push__V1__RawProfileSeries *series = arena_calloc(&a, n ? n : 1, sizeof(*series));
    int rc = (req.series && series) ? 0 : pprof_errorf(err, errlen, "push encode: out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = push_series(&a, profiles[i], &series[i], err, errlen);
        req.series[i] = &series[i];
        req.n_series = i + 1;
    }
    if (rc == 0) {
        size_t len = push__v1__push_request__get_packed_size(&req);
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf) {
            rc = pprof_errorf(err, errlen, "push encode: out of memory");
        } else {
            push__v1__push_request__pack(&req, buf);
            *out = buf;
            *out_len = len;
        }
    }
    arena_free(&a);
    return rc;
}

static int64_t wall_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* One profile from a raw sample of a series. */
static pp_profile *push_profile(const Push__V1__RawProfileSeries *ser,
                                const Push__V1__RawSample *rs, char *err, size_t errlen)
{
    int64_t t = 0, d = 0, until;
    if (pprof_scan_time(rs->raw_profile.data, rs->raw_profile.len, &t, &d, err, errlen) < 0)
        return NULL;
    if (t == 0)
        t = wall_now_ns();
    if (__builtin_add_overflow(t, d > 0 ? d : 0, &until)) {
        pprof_errorf(err, errlen,
                     "time_nanos %" PRId64 " + duration_nanos %" PRId64
                     " is past the largest time (int64 nanoseconds)",
                     t, d);
        return NULL;
    }
    pp_profile *p = profile_new();
    if (!p || profile_set_raw(p, rs->raw_profile.data, rs->raw_profile.len) < 0) {
        profile_free(p);
        pprof_errorf(err, errlen, "push decode: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < ser->n_labels; i++) {
        const Types__V1__LabelPair *lp = ser->labels[i];
        if (!lp->name || !*lp->name)
            continue;
        if (profile_label_set(p, lp->name, lp->value ? lp->value : "") < 0) {
            profile_free(p);
            pprof_errorf(err, errlen, "push decode: out of memory");
            return NULL;
        }
    }
    profile_set_window(p, t, until);
    return p;
}

int push_decode(const void *data, size_t len, pp_batch *into, int (*add)(pp_batch *, pp_profile *),
                char *err, size_t errlen)
{
    Push__V1__PushRequest *req = push__v1__push_request__unpack(NULL, len, data);
    if (!req)
        return pprof_errorf(err, errlen, "bad push request: not a valid push.v1.PushRequest");
    int rc = 0;
    for (size_t i = 0; i < req->n_series && rc == 0; i++) {
        const Push__V1__RawProfileSeries *ser = req->series[i];
        for (size_t j = 0; j < ser->n_samples && rc == 0; j++) {
            char why[256] = "";
            pp_profile *p = push_profile(ser, ser->samples[j], why, sizeof(why));
            if (!p) {
                pprof_errorf(err, errlen, "series %zu sample %zu: %s", i, j, why);
                rc = PP_PUSH_BAD_PROFILE;
            } else if (add(into, p) < 0) {
                rc = pprof_errorf(err, errlen, "series %zu sample %zu: cannot add to batch", i, j);
            }
        }
    }
    push__v1__push_request__free_unpacked(req, NULL);
    return rc;
}
