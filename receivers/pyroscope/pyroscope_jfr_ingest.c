/* pyroscope_jfr_ingest: /ingest?format=jfr (see pyroscope_jfr_ingest.h).
 *
 * What pyroscope-java (v2.9.1 and main after it, io.pyroscope.javaagent.impl.PyroscopeExporter)
 * sends: POST /ingest?name=app{tags}&units=samples&aggregationType=sum
 * &from=&until=&spyName=javaspy&sampleRate=<Hz, CPU/wall only>&format=jfr,
 * with a multipart/form-data body: part `jfr` (the recording, gzip'd
 * unless compression is off) and, when any context labels exist, part
 * `labels` (a LabelsSnapshot protobuf, gzip'd the same way). Pyroscope
 * also takes the recording as the whole body (any other content type);
 * so do we. Every inflated part and the conversion share one budget of
 * max_decompressed_size. */
#include "pyroscope_jfr_ingest.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pyroscope_jfr.h"
#include "pyroscope_jfr_labels.h"
#include "pyroscope_jfr_pprof.h"
#include "pyroscope_multipart.h"
#include "pp_constants.h"

#define PART_JFR "jfr"
#define PART_LABELS "labels"
#define MULTIPART_TYPE "multipart/form-data"

/* A part as bytes to read: itself, or its inflated copy (*owned). */
typedef struct part_bytes {
    const uint8_t *data;
    size_t len;
    uint8_t *owned;
} part_bytes;

static int too_large(const pyro_request *q, const char *what, pyro_reply *out)
{
    return pyro_reply_set(out, HTTP_TOO_LARGE,
                          "%s: needs more than max_decompressed_size (%lld bytes) to read", what,
                          (long long)q->r->max_decompressed);
}

/* Inflates a gzip'd part within *budget, lowering it by what it takes. */
static int part_open(const pyro_request *q, const char *what, const uint8_t *data, size_t len,
                     int64_t *budget, part_bytes *pb, pyro_reply *out)
{
    *pb = (part_bytes){data, len, NULL};
    if (pp_is_gzip(data, len)) {
        char err[256];
        pp_err kind = PP_ERR_NONE;
        if (q->r->h->gunzip(data, len, (size_t)*budget, &pb->owned, &pb->len, &kind, err,
                            sizeof(err)) < 0)
            return kind == PP_ERR_TOO_LARGE
                       ? too_large(q, what, out)
                       : pyro_reply_set(out, HTTP_BAD_REQUEST, "%s: %s", what, err);
        pb->data = pb->owned;
    }
    if (pb->len > (uint64_t)*budget)
        return too_large(q, what, out);
    *budget -= (int64_t)pb->len;
    return 0;
}

/* The recording and the labels part of the body (labels->len 0: none). */
static int split_body(const pyro_request *q, const uint8_t **jfr, size_t *jfr_len,
                      const uint8_t **labels, size_t *labels_len, pyro_reply *out)
{
    *jfr = q->body;
    *jfr_len = q->len;
    *labels_len = 0;
    if (!q->content_type ||
        strncasecmp(q->content_type, MULTIPART_TYPE, strlen(MULTIPART_TYPE)) != 0)
        return 0;
    char boundary[PYRO_BOUNDARY_MAX + 1], err[256];
    pyro_part parts[PYRO_MULTIPART_MAX_PARTS];
    if (pyro_multipart_boundary(q->content_type, boundary, sizeof(boundary)) < 0)
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "multipart without a valid boundary");
    int n = pyro_multipart_parse(q->body, q->len, boundary, parts, err, sizeof(err));
    if (n < 0)
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "%s", err);
    const pyro_part *j = pyro_multipart_get(parts, n, PART_JFR);
    const pyro_part *l = pyro_multipart_get(parts, n, PART_LABELS);
    if (!j)
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "multipart form without a 'jfr' part");
    *jfr = j->data;
    *jfr_len = j->len;
    if (l) {
        *labels = l->data;
        *labels_len = l->len;
    }
    return 0;
}

/* The sampleRate parameter in Hz; 0 when absent or not a positive number
 * (Pyroscope's ingest handler, too, falls back to its default then). */
static int64_t sample_rate(const pyro_request *q)
{
    const char *s = pyro_query(q, "sampleRate");
    if (!s || !*s)
        return 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    return *end || v <= 0 ? 0 : v;
}

static int convert(const pyro_request *q, const part_bytes *rec, const jfr_labels *labels,
                   int64_t hz, int64_t budget, pp_profile ***out, size_t *n, pyro_reply *reply)
{
    char err[256];
    int rc = jfr_to_pprof(q->r->h, rec->data, rec->len, labels, hz, (size_t)budget, out, n, err,
                          sizeof(err));
    if (rc == JFR_ERR_MEMORY)
        return too_large(q, "jfr", reply);
    if (rc != 0)
        return pyro_reply_set(reply, HTTP_BAD_REQUEST, "jfr: %s", err);
    return 0;
}

int pyro_jfr_profiles(const pyro_request *q, pp_profile ***out, size_t *n, pyro_reply *reply)
{
    const uint8_t *jfr, *lab = NULL;
    size_t jfr_len, lab_len;
    int64_t budget = q->r->max_decompressed, hz = sample_rate(q);
    part_bytes rec = {0}, lp = {0};
    jfr_labels *labels = NULL;
    char err[256];
    *n = 0;
    if (split_body(q, &jfr, &jfr_len, &lab, &lab_len, reply) < 0)
        return -1;
    if (jfr_len == 0)
        return pyro_reply_set(reply, HTTP_BAD_REQUEST, "jfr: empty recording");
    int rc = part_open(q, "jfr", jfr, jfr_len, &budget, &rec, reply);
    if (rc == 0 && lab_len > 0)
        rc = part_open(q, "labels", lab, lab_len, &budget, &lp, reply);
    if (rc == 0 && lab_len > 0) {
        int lr = jfr_labels_parse(lp.data, lp.len, (size_t)budget, &labels, err, sizeof(err));
        if (lr == JFR_ERR_MEMORY)
            rc = too_large(q, "labels", reply);
        else if (lr != 0)
            rc = pyro_reply_set(reply, HTTP_BAD_REQUEST, "labels: %s", err);
        budget -= (int64_t)jfr_labels_size(labels);
    }
    if (rc == 0)
        rc = convert(q, &rec, labels, hz, budget, out, n, reply);
    jfr_labels_free(labels);
    free(rec.owned);
    free(lp.owned);
    return rc;
}
