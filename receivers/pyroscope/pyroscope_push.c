/* pyroscope_push: POST /push.v1.PusherService/Push, Pyroscope's push API
 * (what Alloy's pyroscope.write and profpipe's own exporter send).
 *
 * The protobuf form is decoded by the host's codec (host->push_decode).
 * The connect JSON form is read here: {"series":[{"labels":[{"name":..,
 * "value":..}],"samples":[{"rawProfile":"<base64>","ID":".."}]}]}, with
 * proto field names (raw_profile) accepted too, as protobuf's JSON
 * mapping requires. One profile per raw sample; the series labels are
 * kept as sent (including __delta__), __name__ is derived from the
 * sample types only when the sender left it out. Any bad series fails
 * the whole request (400), as in Pyroscope: the client then knows that
 * none of it was taken. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyroscope_json.h"
#include "pyroscope_receiver.h"

/* Payload check, window and labels of every profile of a decoded push. */
static int push_finish_all(const pyro_request *q, pp_batch *decoded, int checked,
                           pyro_reply *out)
{
    const pp_host *h = q->r->h;
    pp_batch *b = h->batch_new();
    if (!b)
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    int rc = 0;
    while (rc == 0 && h->batch_count(decoded) > 0) {
        pp_profile *p = h->batch_take(decoded, 0);
        if (checked) {
            rc = pyro_profile_finish(q, b, p, NULL, out);
            continue;
        }
        const uint8_t *raw;
        size_t len;
        char err[256];
        if (h->profile_raw_gz(p, &raw, &len, err, sizeof(err)) < 0) {
            h->profile_free(p);
            rc = pyro_reply_set(out, HTTP_BAD_REQUEST, "raw_profile: %s", err);
            break;
        }
        /* pyro_payload_set is the one place that bounds inflation; it
         * stores what it checks, so it gets a copy of p's own bytes */
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy) {
            h->profile_free(p);
            rc = pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
            break;
        }
        memcpy(copy, raw, len);
        rc = pyro_payload_set(q, p, copy, len, out);
        free(copy);
        if (rc < 0) {
            h->profile_free(p);
            break;
        }
        rc = pyro_profile_finish(q, b, p, NULL, out);
    }
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

int pyro_handle_push_proto(const pyro_request *q, pyro_reply *out)
{
    const pp_host *h = q->r->h;
    pp_batch *decoded = h->batch_new();
    if (!decoded)
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    char err[256];
    if (h->push_decode(q->body, q->len, decoded, err, sizeof(err)) < 0) {
        h->batch_unref(decoded);
        /* the codec inflates each raw profile (bounded) to read its time */
        return pyro_reply_set(out, strstr(err, "exceeds the limit") ? HTTP_TOO_LARGE
                                                                   : HTTP_BAD_REQUEST,
                              "bad PushRequest: %s", err);
    }
    int rc = push_finish_all(q, decoded, 0, out);
    h->batch_unref(decoded);
    return rc;
}

static const pj_value *pj_member2(const pj_value *v, const char *a, const char *b)
{
    const pj_value *m = pj_get(v, a);
    return m ? m : pj_get(v, b);
}

/* One JSON sample of a series into a profile added to `into`. */
static int push_json_sample(const pyro_request *q, const pj_value *labels,
                            const pj_value *sample, pp_batch *into, pyro_reply *out)
{
    const pp_host *h = q->r->h;
    const pj_value *raw = pj_member2(sample, "rawProfile", "raw_profile");
    if (!raw || raw->type != PJ_STRING)
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "sample without rawProfile");
    unsigned char *bytes;
    size_t len;
    if (pj_base64_decode(raw->str, raw->len, &bytes, &len) < 0)
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "rawProfile is not base64");
    pp_profile *p = h->profile_new();
    int rc = p ? pyro_payload_set(q, p, bytes, len, out)
               : pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    free(bytes);
    for (size_t i = 0; rc == 0 && labels && i < labels->n; i++) {
        const pj_value *name = pj_get(&labels->items[i], "name");
        const pj_value *value = pj_get(&labels->items[i], "value");
        if (!name || name->type != PJ_STRING || !*name->str ||
            (value && value->type != PJ_STRING))
            rc = pyro_reply_set(out, HTTP_BAD_REQUEST, "label %zu: want {name, value} strings",
                                i);
        else if ((int64_t)i >= q->r->max_labels)
            rc = pyro_reply_set(out, HTTP_BAD_REQUEST, "more than %lld labels",
                                (long long)q->r->max_labels);
        else if (h->label_set(p, name->str, value ? value->str : "") < 0)
            rc = pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    }
    if (rc == 0) {
        char err[256];
        const pp_pprof *t = h->profile_tree(p, err, sizeof(err));
        if (!t)
            rc = pyro_reply_set(out, HTTP_BAD_REQUEST, "bad pprof: %s", err);
        else
            h->profile_set_window(p, t->time_nanos, t->time_nanos + t->duration_nanos);
    }
    if (rc == 0 && h->batch_add(into, p) < 0)
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    if (rc < 0 && p)
        h->profile_free(p);
    return rc;
}

static int push_json_series(const pyro_request *q, const pj_value *series, pp_batch *into,
                            pyro_reply *out)
{
    for (size_t i = 0; i < series->n; i++) {
        const pj_value *s = &series->items[i];
        const pj_value *labels = pj_get(s, "labels");
        const pj_value *samples = pj_get(s, "samples");
        if (s->type != PJ_OBJECT || (labels && labels->type != PJ_ARRAY) ||
            (samples && samples->type != PJ_ARRAY))
            return pyro_reply_set(out, HTTP_BAD_REQUEST,
                                  "series %zu: want {labels: [], samples: []}", i);
        for (size_t k = 0; samples && k < samples->n; k++)
            if (push_json_sample(q, labels, &samples->items[k], into, out) < 0)
                return -1;
    }
    return 0;
}

int pyro_handle_push_json(const pyro_request *q, pyro_reply *out)
{
    const pp_host *h = q->r->h;
    pj_value doc;
    char err[256];
    if (pj_parse((const char *)q->body, q->len, &doc, err, sizeof(err)) < 0)
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "bad PushRequest: %s", err);
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
        rc = push_finish_all(q, decoded, 1, out);
    if (decoded)
        h->batch_unref(decoded);
    return rc;
}
