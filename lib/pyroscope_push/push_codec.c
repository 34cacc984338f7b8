/* push_codec: Grafana Pyroscope's push.v1 PushRequest <-> profiles.
 *
 * One series per profile (its series labels as label pairs) holding one raw
 * sample (its gzip'd pprof, with a random UUID as the sample ID, as
 * Pyroscope's own clients send). The request is small compared with the
 * profiles in it, so the generated protobuf-c code is used as is; the
 * temporary message structs of an encode are one block per series. On
 * decode each raw sample becomes one profile that shares nothing with the
 * request; its window comes from the pprof's own time_nanos and
 * duration_nanos (read without decoding the tree, host->pprof_time), or is
 * "now" when the pprof has no time; a window whose end is past int64
 * nanoseconds is refused, not wrapped. Everything about profiles goes
 * through the pp_host table: the codec is a plugin's peer, not the core's. */
#include "push_codec.h"

#include "push.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define UUID_BYTES 16
#define UUID_TEXT_LEN 36
#define UUID_VERSION_BYTE 6
#define UUID_VARIANT_BYTE 8

/* Writes the reason into err (snprintf takes NULL with 0) and is -1. */
#define PUSH_FAIL(err, errlen, ...) (snprintf(err, errlen, __VA_ARGS__), -1)

/* A random (version 4) UUID in its canonical text form. */
static void uuid_v4(const pp_host *h, char out[UUID_TEXT_LEN + 1])
{
    uint8_t b[UUID_BYTES];
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n <= 0) {
            /* no entropy source: fall back to clock bits, still unique enough */
            uint64_t ns = (uint64_t)h->monotonic_ns() ^ (uint64_t)h->now_ns();
            for (; got < sizeof(b); got++)
                b[got] = (uint8_t)(ns >> (got % 8 * 8)) ^ (uint8_t)got;
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

/* The message structs of one series; the label arrays are allocated apart
 * (their length is the profile's). */
typedef struct series_msg {
    Push__V1__RawProfileSeries series;
    Push__V1__RawSample sample;
    Push__V1__RawSample *sample_ptr;
    Types__V1__LabelPair *pairs;
    char id[UUID_TEXT_LEN + 1];
} series_msg;

/* Fills one series for profile p. */
static int push_series(const pp_host *h, pp_profile *p, series_msg *m, char *err, size_t errlen)
{
    Push__V1__RawProfileSeries *ser = &m->series;
    push__v1__raw_profile_series__init(ser);
    size_t n = h->label_count(p);
    ser->labels = calloc(n ? n : 1, sizeof(*ser->labels));
    m->pairs = calloc(n ? n : 1, sizeof(*m->pairs));
    if (!ser->labels || !m->pairs)
        return PUSH_FAIL(err, errlen, "push encode: out of memory");
    for (size_t i = 0; i < n; i++) {
        types__v1__label_pair__init(&m->pairs[i]);
        m->pairs[i].name = (char *)h->label_name(p, i);
        m->pairs[i].value = (char *)h->label_value(p, i);
        ser->labels[i] = &m->pairs[i];
    }
    ser->n_labels = n;
    push__v1__raw_sample__init(&m->sample);
    const uint8_t *data;
    size_t len;
    if (h->profile_raw_gz(p, &data, &len, err, errlen) < 0)
        return -1;
    m->sample.raw_profile.data = (uint8_t *)data;
    m->sample.raw_profile.len = len;
    uuid_v4(h, m->id);
    m->sample.id = m->id;
    m->sample_ptr = &m->sample;
    ser->samples = &m->sample_ptr;
    ser->n_samples = 1;
    return 0;
}

static void series_free(series_msg *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(msgs[i].series.labels);
        free(msgs[i].pairs);
    }
    free(msgs);
}

/* Packs req into a malloc'd buffer. */
static int push_pack(const Push__V1__PushRequest *req, uint8_t **out, size_t *out_len, char *err,
                     size_t errlen)
{
    size_t len = push__v1__push_request__get_packed_size(req);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return PUSH_FAIL(err, errlen, "push encode: out of memory");
    push__v1__push_request__pack(req, buf);
    *out = buf;
    *out_len = len;
    return 0;
}

int push_encode(const pp_host *h, pp_profile *const *profiles, size_t n, uint8_t **out,
                size_t *out_len, char *err, size_t errlen)
{
    *out = NULL;
    *out_len = 0;
    Push__V1__PushRequest req = PUSH__V1__PUSH_REQUEST__INIT;
    req.series = calloc(n ? n : 1, sizeof(*req.series));
    series_msg *msgs = calloc(n ? n : 1, sizeof(*msgs));
    int rc = (req.series && msgs) ? 0 : PUSH_FAIL(err, errlen, "push encode: out of memory");
    size_t filled = 0;
    for (; filled < n && rc == 0; filled++) {
        rc = push_series(h, profiles[filled], &msgs[filled], err, errlen);
        req.series[filled] = &msgs[filled].series;
    }
    req.n_series = n;
    if (rc == 0)
        rc = push_pack(&req, out, out_len, err, errlen);
    if (msgs)
        series_free(msgs, filled);
    free(req.series);
    return rc;
}

/* One profile from a raw sample of a series; *code says why when NULL. */
static pp_profile *push_profile(const pp_host *h, const Push__V1__RawProfileSeries *ser,
                                const Push__V1__RawSample *rs, int *code, char *err, size_t errlen)
{
    int64_t t = 0, d = 0, until;
    pp_err kind = PP_ERR_NONE;
    *code = PUSH_BAD_PROFILE;
    if (h->pprof_time(rs->raw_profile.data, rs->raw_profile.len, &t, &d, &kind, err, errlen) < 0) {
        if (kind == PP_ERR_TOO_LARGE)
            *code = PUSH_PROFILE_TOO_LARGE;
        return NULL;
    }
    if (t == 0)
        t = h->now_ns();
    if (__builtin_add_overflow(t, d > 0 ? d : 0, &until)) {
        snprintf(err, errlen,
                 "time_nanos %" PRId64 " + duration_nanos %" PRId64
                 " is past the largest time (int64 nanoseconds)",
                 t, d);
        return NULL;
    }
    pp_profile *p = h->profile_new();
    int ok = p && h->profile_set_raw(p, rs->raw_profile.data, rs->raw_profile.len) >= 0;
    for (size_t i = 0; ok && i < ser->n_labels; i++) {
        const Types__V1__LabelPair *lp = ser->labels[i];
        if (lp->name && *lp->name)
            ok = h->label_set(p, lp->name, lp->value ? lp->value : "") >= 0;
    }
    if (!ok) {
        if (p)
            h->profile_free(p);
        *code = PUSH_BAD_REQUEST;
        snprintf(err, errlen, "push decode: out of memory");
        return NULL;
    }
    h->profile_set_window(p, t, until);
    *code = 0;
    return p;
}

int push_decode(const pp_host *h, const void *data, size_t len, pp_batch *into, char *err,
                size_t errlen)
{
    Push__V1__PushRequest *req = push__v1__push_request__unpack(NULL, len, data);
    if (!req)
        return PUSH_FAIL(err, errlen, "bad push request: not a valid push.v1.PushRequest");
    int rc = 0;
    for (size_t i = 0; i < req->n_series && rc == 0; i++) {
        const Push__V1__RawProfileSeries *ser = req->series[i];
        for (size_t j = 0; j < ser->n_samples && rc == 0; j++) {
            char why[256] = "";
            pp_profile *p = push_profile(h, ser, ser->samples[j], &rc, why, sizeof(why));
            if (!p)
                snprintf(err, errlen, "series %zu sample %zu: %s", i, j, why);
            else if (h->batch_add(into, p) < 0)
                rc = PUSH_FAIL(err, errlen, "series %zu sample %zu: cannot add to batch", i, j);
        }
    }
    push__v1__push_request__free_unpacked(req, NULL);
    return rc;
}
