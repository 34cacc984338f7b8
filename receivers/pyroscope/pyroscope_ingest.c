/* pyroscope_ingest: POST /ingest, Pyroscope's legacy SDK endpoint.
 *
 * Query: name=app{k=v,...} (required), from/until (Unix seconds; ms, us
 * and ns are told apart by magnitude as Pyroscope does), format (pprof
 * only: the other formats are answered 400 naming the format), spyName
 * (kept as the pyroscope_spy label, as Pyroscope's ingest adapter does),
 * sampleRate, units, aggregationType (they describe non-pprof formats;
 * a pprof carries its own period and sample types).
 *
 * Body: the pprof itself (the Node and Python SDKs: octet-stream), or
 * the Go SDK's multipart form with `profile`, optional `prev_profile`
 * (a cumulative profile's previous state: the delta profile - prev is
 * what is emitted) and optional `sample_type_config` (JSON naming which
 * sample types are cumulative).
 *
 * Labels: service_name is the app name, without a profile-type suffix
 * such as `.cpu` that older SDKs append (the suffix is kept as a hint for
 * __name__ when the sample types do not tell); tags become labels;
 * __delta__="false" because SDKs send deltas (or prev_profile), so a
 * Pyroscope downstream must not difference them again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pyroscope_json.h"
#include "pyroscope_multipart.h"
#include "pyroscope_name.h"
#include "pyroscope_receiver.h"

#define NS_PER_SEC 1000000000LL
#define SECONDS_BELOW 100000000000LL /* values below are seconds (year 5138) */
#define MILLIS_BELOW 100000000000000LL
#define MICROS_BELOW 100000000000000000LL
#define NS_PER_MS 1000000LL
#define NS_PER_US 1000LL
#define DEFAULT_WINDOW_NS (10 * NS_PER_SEC)

/* Profile-type suffixes of app names (pyroscope-go before 0.5, Java,
 * Ruby, Python agents) and the family each stands for. */
static const struct {
    const char *suffix;
    const char *family;
} name_suffixes[] = {
    {".cpu", "process_cpu"},        {".itimer", "process_cpu"},
    {".wall", "wall"},              {".alloc_objects", "memory"},
    {".alloc_space", "memory"},     {".inuse_objects", "memory"},
    {".inuse_space", "memory"},     {".objects", "memory"},
    {".space", "memory"},           {".goroutines", "goroutine"},
    {".mutex_count", "mutex"},      {".mutex_duration", "mutex"},
    {".block_count", "block"},      {".block_duration", "block"},
    {".lock_count", "mutex"},       {".lock_duration", "mutex"},
    {".alloc_in_new_tlab_objects", "memory"}, {".alloc_in_new_tlab_bytes", "memory"},
};

/* Types the Go SDK reports as cumulative when no sample_type_config says. */
static const char *const default_cumulative[] = {"alloc_objects", "alloc_space",
                                                 "contentions", "delay"};

/* Cuts a known suffix off app (in place); returns its family or NULL. */
static const char *strip_suffix(char *app)
{
    size_t len = strlen(app);
    for (size_t i = 0; i < sizeof(name_suffixes) / sizeof(name_suffixes[0]); i++) {
        size_t sl = strlen(name_suffixes[i].suffix);
        if (len > sl && strcmp(app + len - sl, name_suffixes[i].suffix) == 0) {
            app[len - sl] = '\0';
            return name_suffixes[i].family;
        }
    }
    return NULL;
}

/* Reads a time parameter into Unix ns. 0 (absent: *ns untouched) or -1. */
static int parse_time(const char *s, int64_t *ns)
{
    if (!s || !*s)
        return 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || v < 0)
        return -1;
    if (v < SECONDS_BELOW)
        *ns = v * NS_PER_SEC;
    else if (v < MILLIS_BELOW)
        *ns = v * NS_PER_MS;
    else if (v < MICROS_BELOW)
        *ns = v * NS_PER_US;
    else
        *ns = v;
    return 0;
}

static int is_cumulative(const pj_value *stc, const char *type)
{
    if (stc) {
        const pj_value *cum = pj_get(pj_get(stc, type), "cumulative");
        return cum && cum->type == PJ_BOOL && cum->boolean;
    }
    for (size_t i = 0; i < sizeof(default_cumulative) / sizeof(default_cumulative[0]); i++)
        if (strcmp(type, default_cumulative[i]) == 0)
            return 1;
    return 0;
}

/* p -= prev for the cumulative sample types (both already hold payloads). */
static int ingest_delta(const pyro_request *q, pp_profile *p, pp_profile *prev,
                        const pj_value *stc, pyro_reply *out)
{
    const pp_host *h = q->r->h;
    char err[256];
    pp_pprof *t = h->profile_tree_mut(prev, err, sizeof(err));
    if (!t || !h->profile_tree(p, err, sizeof(err)))
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "bad pprof: %s", err);
    for (size_t j = 0; j < t->n_sample_types; j++) {
        int64_t ti = t->sample_types[j].type;
        int cum = ti >= 0 && (size_t)ti < t->n_strings && is_cumulative(stc, t->strings[ti]);
        for (size_t s = 0; s < t->n_samples; s++)
            if (j < t->samples[s].n_values)
                t->samples[s].values[j] = cum ? -t->samples[s].values[j] : 0;
    }
    if (h->pprof_merge(p, prev, err, sizeof(err)) < 0)
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "profile and prev_profile: %s", err);
    if (h->pprof_compact(p) < 0)
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    return 0;
}

/* The Go SDK's form: profile (+ prev_profile, sample_type_config). */
static int ingest_multipart(const pyro_request *q, pp_profile *p, pyro_reply *out)
{
    char boundary[PYRO_BOUNDARY_MAX + 1];
    pyro_part parts[PYRO_MULTIPART_MAX_PARTS];
    char err[256];
    if (pyro_multipart_boundary(q->content_type, boundary, sizeof(boundary)) < 0)
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "multipart without a valid boundary");
    int n = pyro_multipart_parse(q->body, q->len, boundary, parts, err, sizeof(err));
    if (n < 0)
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "%s", err);
    const pyro_part *prof = pyro_multipart_get(parts, n, "profile");
    const pyro_part *prev = pyro_multipart_get(parts, n, "prev_profile");
    const pyro_part *cfg = pyro_multipart_get(parts, n, "sample_type_config");
    if (!prof)
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "multipart form without a 'profile' part");
    if (pyro_payload_set(q, p, prof->data, prof->len, out) < 0)
        return -1;
    if (!prev || prev->len == 0)
        return 0;
    pj_value stc;
    int have_stc = 0;
    if (cfg) {
        if (pyro_json_parse(q, cfg->data, cfg->len, "sample_type_config", &stc, out) < 0)
            return -1;
        have_stc = 1;
    }
    pp_profile *prevp = q->r->h->profile_new();
    int rc = prevp ? pyro_payload_set(q, prevp, prev->data, prev->len, out)
                   : pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    if (rc == 0)
        rc = ingest_delta(q, p, prevp, have_stc ? &stc : NULL, out);
    if (prevp)
        q->r->h->profile_free(prevp);
    if (have_stc)
        pj_free(&stc);
    return rc;
}

/* Sets the window from the query, else from the pprof, else "now". */
static int ingest_window(const pyro_request *q, pp_profile *p, pyro_reply *out)
{
    const pp_host *h = q->r->h;
    int64_t from = 0, until = 0;
    if (parse_time(pyro_query(q, "from"), &from) < 0 ||
        parse_time(pyro_query(q, "until"), &until) < 0)
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "from/until must be Unix timestamps");
    if (!from) {
        char err[128];
        const pp_pprof *t = h->profile_tree(p, err, sizeof(err));
        if (t && t->time_nanos > 0) {
            from = t->time_nanos;
            if (!until && t->duration_nanos > 0)
                until = from + t->duration_nanos;
        }
    }
    if (!until)
        until = from ? from : h->now_ns();
    if (!from)
        from = until - DEFAULT_WINDOW_NS;
    if (until < from)
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "until is before from");
    h->profile_set_window(p, from, until);
    return 0;
}

static int ingest_labels(const pyro_request *q, pp_profile *p, const pyro_name *name,
                         pyro_reply *out)
{
    const pp_host *h = q->r->h;
    int rc = h->label_set(p, PYRO_LABEL_SERVICE, name->app);
    for (size_t i = 0; i < name->n && rc == 0; i++)
        rc = h->label_set(p, name->keys[i], name->values[i]);
    if (rc == 0)
        rc = h->label_set(p, PYRO_LABEL_DELTA, "false");
    const char *spy = pyro_query(q, "spyName");
    if (rc == 0 && spy && *spy)
        rc = h->label_set(p, PYRO_LABEL_SPY, spy);
    return rc < 0 ? pyro_reply_set(out, HTTP_INTERNAL, "out of memory") : 0;
}

static int ingest_check_format(const pyro_request *q, int multipart, pyro_reply *out)
{
    const char *format = pyro_query(q, "format");
    if (!format || !*format)
        format = multipart ? "pprof" : "folded";
    if (strcmp(format, "pprof") != 0)
        return pyro_reply_set(out, HTTP_BAD_REQUEST,
                              "format '%.64s' is not supported by profpipe; send format=pprof",
                              format);
    return 0;
}

int pyro_handle_ingest(const pyro_request *q, pyro_reply *out)
{
    const pp_host *h = q->r->h;
    int multipart = q->content_type &&
                    strncasecmp(q->content_type, "multipart/form-data",
                                strlen("multipart/form-data")) == 0;
    if (ingest_check_format(q, multipart, out) < 0)
        return -1;
    pyro_name name;
    char err[256];
    if (pyro_name_parse(pyro_query(q, "name"), (size_t)q->r->max_labels, &name, err,
                        sizeof(err)) < 0)
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "name: %s", err);
    const char *hint = strip_suffix(name.app);
    if (!*name.app) {
        pyro_name_free(&name);
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "name: empty application name");
    }
    pp_profile *p = h->profile_new();
    if (!p) {
        pyro_name_free(&name);
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    }
    int rc = multipart ? ingest_multipart(q, p, out)
                       : pyro_payload_set(q, p, q->body, q->len, out);
    if (rc == 0)
        rc = ingest_labels(q, p, &name, out);
    if (rc == 0)
        rc = ingest_window(q, p, out);
    pyro_name_free(&name);
    if (rc < 0) {
        h->profile_free(p);
        return -1;
    }
    pp_batch *b = h->batch_new();
    if (!b) {
        h->profile_free(p);
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    }
    if (pyro_profile_finish(q, b, p, hint, out) < 0) {
        h->batch_unref(b);
        return -1;
    }
    return pyro_emit(q, b, out);
}
