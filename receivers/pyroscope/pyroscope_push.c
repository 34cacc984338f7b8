/* pyroscope_push: POST /push.v1.PusherService/Push, Pyroscope's push API
 * (what Alloy's pyroscope.write and profpipe's own exporter send).
 *
 * The protobuf form is decoded by lib/pyroscope_push (push_decode).
 * The connect JSON form is read here: {"series":[{"labels":[{"name":..,
 * "value":..}],"samples":[{"rawProfile":"<base64>","ID":".."}]}]}, with
 * proto field names (raw_profile) accepted too, as protobuf's JSON
 * mapping requires. One profile per raw sample; the series labels are
 * kept as sent (including __delta__), __name__ is derived from the
 * sample types only when the sender left it out. Every raw profile is
 * checked by the streaming pass of pyro_payload_check (host->pprof_peek)
 * before the request is answered, also when __name__ is there (a 200 for
 * a profile no decoder can read would lose it later); only a profile
 * without __name__ is decoded, to be named. Any bad
 * series fails the whole request (400), as in Pyroscope: the client then
 * knows that none of it was taken.
 *
 * Gzip bombs: the codec inflates every raw profile (streaming, bounded
 * only by the core's own limit, hundreds of MiB) to read its
 * time. So before the codec sees a protobuf request, its raw profiles are
 * found by walking the wire format here and checked against one budget of
 * max_decompressed_size for the whole request (pyro_payload_check); the
 * JSON form is checked against the same budget sample by sample. A request
 * of one big bomb or of many small ones costs at most that much inflating
 * and is answered 413 before anything is decoded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "push_codec.h"
#include "pyroscope_json.h"
#include "pyroscope_receiver.h"
#include "pyroscope_wire.h"

/* __name__, tenant and labels of every profile of a decoded push (whose
 * payloads were checked by pyro_payload_check's streaming pass, so a
 * profile with __name__ is not decoded), emitted as one batch. */
static int push_finish_all(const pyro_request *q, pp_batch *decoded, pyro_reply *out)
{
    const pp_host *h = q->r->h;
    const pyro_naming checked = {.checked = 1};
    pp_batch *b = h->batch_new();
    if (!b)
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    int rc = 0;
    while (rc == 0 && h->batch_count(decoded) > 0)
        rc = pyro_profile_finish(q, b, h->batch_take(decoded, 0), &checked, out);
    if (rc < 0) {
        h->batch_unref(b);
        return -1;
    }
    if (h->batch_count(b) == 0) {
        h->batch_unref(b);
        return pyro_reply_set(out, HTTP_OK, "ok (no profiles)");
    }
    return pyro_emit(q, b, out);
}

/* ------------------------------------------------------------------ */
/* protobuf wire walk: the raw profiles of a PushRequest                */
/* ------------------------------------------------------------------ */

#define PUSH_FIELD_SERIES 1    /* PushRequest.series */
#define SERIES_FIELD_SAMPLES 2 /* RawProfileSeries.samples */
#define SAMPLE_FIELD_RAW 1     /* RawSample.raw_profile */

/* Checks the raw profiles of one RawProfileSeries against *budget. */
static int push_check_series(const pyro_request *q, const uint8_t *data, size_t len, size_t index,
                             int64_t *budget, pyro_reply *out)
{
    pyro_wire ws = {data, data + len};
    uint64_t field, num;
    const uint8_t *val;
    size_t vlen = 0;
    int more;
    for (size_t k = 0; (more = pyro_wire_next(&ws, &field, &num, &val, &vlen)) > 0;) {
        if (field != SERIES_FIELD_SAMPLES || !val)
            continue;
        pyro_wire wr = {val, val + vlen};
        const uint8_t *raw;
        size_t raw_len = 0;
        int m;
        while ((m = pyro_wire_next(&wr, &field, &num, &raw, &raw_len)) > 0)
            if (field == SAMPLE_FIELD_RAW && raw &&
                pyro_payload_check(q, raw, raw_len, budget, NULL, out) < 0) {
                size_t n = strlen(out->message);
                snprintf(out->message + n, sizeof(out->message) - n, " (series %zu sample %zu)",
                         index, k);
                return -1;
            }
        if (m < 0)
            break;
        k++;
    }
    if (more != 0)
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_BODY,
                         "bad PushRequest: series %zu is not a valid RawProfileSeries", index);
    return 0;
}

/* Finds every raw profile of a protobuf PushRequest without decoding it
 * and checks them against one max_decompressed_size budget (413 over it,
 * 400 for an empty or corrupt one or a malformed message). */
static int push_check_payloads(const pyro_request *q, pyro_reply *out)
{
    int64_t budget = q->r->max_decompressed;
    pyro_wire w = {q->body, q->body + q->len};
    uint64_t field, num;
    const uint8_t *val;
    size_t vlen = 0;
    size_t index = 0;
    int more;
    while ((more = pyro_wire_next(&w, &field, &num, &val, &vlen)) > 0) {
        if (field != PUSH_FIELD_SERIES || !val)
            continue;
        if (push_check_series(q, val, vlen, index++, &budget, out) < 0)
            return -1;
    }
    if (more < 0)
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_BODY,
                         "bad PushRequest: not a valid push.v1.PushRequest");
    return 0;
}

int pyro_handle_push_proto(const pyro_request *q, pyro_reply *out)
{
    const pp_host *h = q->r->h;
    if (push_check_payloads(q, out) < 0)
        return -1;
    pp_batch *decoded = h->batch_new();
    if (!decoded)
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    char err[256];
    int drc = push_decode(h, q->body, q->len, decoded, err, sizeof(err));
    if (drc < 0) {
        h->batch_unref(decoded);
        /* over the core's own inflation limit: only when max_decompressed_size
         * is set above it */
        if (drc == PUSH_PROFILE_TOO_LARGE)
            return pyro_reply_set(out, HTTP_TOO_LARGE, "bad PushRequest: %s", err);
        return pyro_fail(out, HTTP_BAD_REQUEST,
                         drc == PUSH_BAD_PROFILE ? PYRO_R_INVALID_PROFILE : PYRO_R_INVALID_BODY,
                         "bad PushRequest: %s", err);
    }
    int rc = push_finish_all(q, decoded, out);
    h->batch_unref(decoded);
    return rc;
}

static const pj_value *pj_member2(const pj_value *v, const char *a, const char *b)
{
    const pj_value *m = pj_get(v, a);
    return m ? m : pj_get(v, b);
}

/* One JSON sample of a series into a profile added to `into`. */
static int push_json_sample(const pyro_request *q, const pj_value *labels, const pj_value *sample,
                            pp_batch *into, int64_t *budget, pyro_reply *out)
{
    const pp_host *h = q->r->h;
    const pj_value *raw = pj_member2(sample, "rawProfile", "raw_profile");
    if (!raw || raw->type != PJ_STRING)
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "sample without rawProfile");
    unsigned char *bytes;
    size_t len;
    if (pj_base64_decode(raw->str, raw->len, &bytes, &len) < 0)
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_BODY, "rawProfile is not base64");
    pp_profile *p = NULL;
    pp_pprof *peek = NULL;
    int rc = pyro_payload_check(q, bytes, len, budget, &peek, out);
    if (rc == 0 && (!(p = h->profile_new()) || h->profile_set_raw(p, bytes, len) < 0))
        rc = pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    free(bytes);
    for (size_t i = 0; rc == 0 && labels && i < labels->n; i++) {
        const pj_value *name = pj_get(&labels->items[i], "name");
        const pj_value *value = pj_get(&labels->items[i], "value");
        if (!name || name->type != PJ_STRING || !*name->str || (value && value->type != PJ_STRING))
            rc = pyro_reply_set(out, HTTP_BAD_REQUEST, "label %zu: want {name, value} strings", i);
        else if ((int64_t)i >= q->r->max_labels)
            rc = pyro_reply_set(out, HTTP_BAD_REQUEST, "more than %lld labels",
                                (long long)q->r->max_labels);
        else if (h->label_set(p, name->str, value ? value->str : "") < 0)
            rc = pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    }
    int64_t until;
    if (rc == 0 && __builtin_add_overflow(peek->time_nanos, peek->duration_nanos, &until))
        rc = pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_PROFILE,
                       "time_nanos + duration_nanos overflows");
    if (rc == 0) /* the window from the streaming pass: nothing decoded */
        h->profile_set_window(p, peek->time_nanos, until);
    free(peek);
    if (rc == 0 && h->batch_add(into, p) < 0)
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    if (rc < 0 && p)
        h->profile_free(p);
    return rc;
}

static int push_json_series(const pyro_request *q, const pj_value *series, pp_batch *into,
                            pyro_reply *out)
{
    int64_t budget = q->r->max_decompressed; /* for all the request's profiles */
    for (size_t i = 0; i < series->n; i++) {
        const pj_value *s = &series->items[i];
        const pj_value *labels = pj_get(s, "labels");
        const pj_value *samples = pj_get(s, "samples");
        if (s->type != PJ_OBJECT || (labels && labels->type != PJ_ARRAY) ||
            (samples && samples->type != PJ_ARRAY))
            return pyro_reply_set(out, HTTP_BAD_REQUEST,
                                  "series %zu: want {labels: [], samples: []}", i);
        for (size_t k = 0; samples && k < samples->n; k++)
            if (push_json_sample(q, labels, &samples->items[k], into, &budget, out) < 0)
                return -1;
    }
    return 0;
}

int pyro_handle_push_json(const pyro_request *q, pyro_reply *out)
{
    const pp_host *h = q->r->h;
    pj_value doc;
    if (pyro_json_parse(q, q->body, q->len, "bad PushRequest", &doc, out) < 0)
        return -1;
    const pj_value *series = pj_get(&doc, "series");
    pp_batch *decoded = NULL;
    int rc;
    if (doc.type != PJ_OBJECT || (series && series->type != PJ_ARRAY))
        rc = pyro_reply_set(out, HTTP_BAD_REQUEST, "bad PushRequest: want {\"series\": [...]}");
    else if (!(decoded = h->batch_new()))
        rc = pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    else
        rc = series ? push_json_series(q, series, decoded, out) : 0;
    pj_free(&doc);
    if (rc == 0)
        rc = push_finish_all(q, decoded, out);
    if (decoded)
        h->batch_unref(decoded);
    return rc;
}
