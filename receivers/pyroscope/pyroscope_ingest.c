/* pyroscope_ingest: POST /ingest, Pyroscope's legacy SDK endpoint, read
 * as Pyroscope reads it (grafana/pyroscope weekly-f184:
 * pkg/ingester/pyroscope/ingest_handler.go, ingest_adapter.go,
 * pkg/og/convert/pprof/profile.go).
 *
 * Query: name=app{k=v,...} (required), from/until (Unix seconds; ms, us
 * and ns are told apart by magnitude; a value that overflows once scaled
 * to ns is a 400), format, spyName (the pyroscope_spy label, "unknown"
 * when absent, as Pyroscope sets it), sampleRate (text formats: the
 * sampling rate behind a CPU or wall count), units and aggregationType
 * (read by Pyroscope and used for nothing when it converts: ignored).
 *
 * Formats, one row each in ingest_formats: pprof (the default with a
 * multipart body), folded (Pyroscope's "groups", the default otherwise),
 * lines and jfr (the Java SDK's recordings, pyroscope_jfr_ingest.c). Any
 * other format (trie, tree, speedscope, ...) is a 400
 * naming it.
 *
 * pprof body: the profile itself (Node and Python SDKs), or the Go SDK's
 * multipart form: `profile`, optional `prev_profile` (pyroscope-go before
 * v1: what is emitted is profile - prev_profile for the types marked
 * cumulative) and optional `sample_type_config` (JSON per sample type:
 * `display-name`, `units`, `aggregation`, `cumulative`). Its display
 * names name the profile (mutex_count -> mutex, block_count -> block,
 * goroutine -> goroutines) through the host's naming rule.
 *
 * Text bodies: the app name's last dot-separated part is the profile
 * type (`app.cpu`, `app.alloc_space`; none means cpu), turned into
 * `__name__`, the sample type and unit by Pyroscope's table
 * (text_types); CPU and wall counts are scaled by 1e9/sampleRate
 * nanoseconds (sampleRate 100 when absent or unreadable, 0 = counts).
 *
 * Labels: service_name is the app name (for pprof without a known type
 * suffix such as `.cpu`, kept as a hint for __name__), tags become labels
 * (`__session_id__` goes on to the distributor rules, other `__*` tags are
 * dropped as Pyroscope drops them, a `__name__` tag replaces the app name
 * as in Pyroscope's parser); __delta__="false" because SDKs send deltas. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pyroscope_folded.h"
#include "pyroscope_jfr_ingest.h"
#include "pyroscope_json.h"
#include "pyroscope_multipart.h"
#include "pyroscope_name.h"
#include "pyroscope_receiver.h"
#include "pp_constants.h"

#define SECONDS_BELOW 100000000000LL /* values below are seconds (year 5138) */
#define MILLIS_BELOW 100000000000000LL
#define MICROS_BELOW 100000000000000000LL
#define DEFAULT_WINDOW_NS (10 * NS_PER_SEC)

#define DEFAULT_SAMPLE_RATE 100 /* Pyroscope's types.DefaultSampleRate */

/* The profile types a text upload's app-name suffix names, as
 * Pyroscope's ingest adapter (convertMetadata) turns them into
 * `__name__`, sample type and unit; `timed` types are CPU or wall counts
 * scaled by the sampling period. Also the hints for a pprof whose sample
 * types tell nothing. NULL type: the suffix itself. */
static const struct text_type {
    const char *suffix;
    const char *family;
    const char *type;
    const char *unit;
    int timed;
} text_types[] = {
    {"cpu", "process_cpu", "samples", "count", 1},
    {"wall", "wall", "samples", "count", 1},
    {"itimer", "process_cpu", "samples", "count", 1},
    {"inuse_objects", "memory", NULL, "count", 0},
    {"inuse_space", "memory", NULL, "bytes", 0},
    {"alloc_objects", "memory", NULL, "count", 0},
    {"alloc_space", "memory", NULL, "bytes", 0},
    {"goroutines", "goroutine", NULL, "count", 0},
    {"mutex_count", "mutex", "contentions", "count", 0},
    {"mutex_duration", "mutex", "delay", "nanoseconds", 0},
    {"block_count", "block", "contentions", "count", 0},
    {"block_duration", "block", "delay", "nanoseconds", 0},
    {"alloc_in_new_tlab_objects", "memory", NULL, "count", 0},
    {"alloc_in_new_tlab_bytes", "memory", NULL, "bytes", 0},
    {"alloc_outside_tlab_objects", "memory", NULL, "count", 0},
    {"alloc_outside_tlab_bytes", "memory", NULL, "bytes", 0},
    {"lock_count", "block", "contentions", "count", 0},
    {"lock_duration", "block", "delay", "nanoseconds", 0},
    {"live", "memory", NULL, "count", 0},
    {"exceptions", "exceptions", "samples", "count", 0},
    {"seconds", "wall", "samples", "count", 1},
    {"nanoseconds", "wall", "samples", "count", 1},
    {"microseconds", "wall", "samples", "count", 1},
    {"milliseconds", "wall", "samples", "count", 1},
    {"bytes", "memory", "samples", "bytes", 0},
};
#define N_TEXT_TYPES (sizeof(text_types) / sizeof(text_types[0]))

static const struct text_type *text_type_of(const char *suffix)
{
    for (size_t i = 0; i < N_TEXT_TYPES; i++)
        if (strcmp(suffix, text_types[i].suffix) == 0)
            return &text_types[i];
    return NULL;
}

/* Types the Go SDK reports as cumulative when no sample_type_config says. */
static const char *const default_cumulative[] = {"alloc_objects", "alloc_space", "contentions",
                                                 "delay"};

/* Cuts a known type suffix off app (in place); returns its family or NULL. */
static const char *strip_suffix(char *app)
{
    char *dot = strrchr(app, '.');
    const struct text_type *tt = dot && dot != app ? text_type_of(dot + 1) : NULL;
    if (!tt)
        return NULL;
    *dot = '\0';
    return tt->family;
}

/* Reads a time parameter into Unix ns. 0 (absent: *ns untouched) or -1. */
static int parse_time(const char *s, int64_t *ns)
{
    if (!s || !*s)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || v < 0)
        return -1;
    if (errno == ERANGE)
        return -1;
    long long scale = v < SECONDS_BELOW  ? NS_PER_SEC
                      : v < MILLIS_BELOW ? NS_PER_MS
                      : v < MICROS_BELOW ? NS_PER_US
                                         : 1;
    long long scaled;
    if (__builtin_mul_overflow(v, scale, &scaled))
        return -1;
    *ns = scaled;
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
static int ingest_delta(const pyro_request *q, pp_profile *p, pp_profile *prev, const pj_value *stc,
                        pyro_reply *out)
{
    const pp_host *h = q->r->h;
    char err[256];
    pp_pprof *t = h->profile_tree_mut(prev, err, sizeof(err));
    if (!t || !h->profile_tree(p, err, sizeof(err)))
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_PROFILE, "bad pprof: %s", err);
    for (size_t j = 0; j < t->n_sample_types; j++) {
        int64_t ti = t->sample_types[j].type;
        int cum = ti >= 0 && (size_t)ti < t->n_strings && is_cumulative(stc, t->strings[ti]);
        for (size_t s = 0; s < t->n_samples; s++) {
            if (j >= t->samples[s].n_values)
                continue;
            if (cum && t->samples[s].values[j] == INT64_MIN) /* no negation */
                return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_PROFILE,
                                 "prev_profile: sample %zu holds INT64_MIN", s);
            t->samples[s].values[j] = cum ? -t->samples[s].values[j] : 0;
        }
    }
    if (h->pprof_merge(p, prev, err, sizeof(err)) < 0)
        return pyro_reply_set(out, HTTP_BAD_REQUEST, "profile and prev_profile: %s", err);
    if (h->pprof_compact(p) < 0)
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    return 0;
}

/* What one /ingest request is: its parsed name and the pieces of the body
 * that name its profiles. */
typedef struct ingest_ctx {
    pyro_name name;
    const char *hint; /* family of a stripped app-name suffix, or NULL */
    int multipart;
    pj_value stc; /* sample_type_config, when have_stc */
    int have_stc;
    pp_pprof *peek; /* format=pprof: the profile's skeleton (pyro_payload_check) */
} ingest_ctx;

/* The Go SDK's form: profile (+ prev_profile, sample_type_config). */
static int ingest_multipart(const pyro_request *q, ingest_ctx *in, pp_profile *p, pyro_reply *out)
{
    char boundary[PYRO_BOUNDARY_MAX + 1];
    pyro_part parts[PYRO_MULTIPART_MAX_PARTS];
    char err[256];
    if (pyro_multipart_boundary(q->content_type, boundary, sizeof(boundary)) < 0)
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_BODY,
                         "multipart without a valid boundary");
    int n = pyro_multipart_parse(q->body, q->len, boundary, parts, err, sizeof(err));
    if (n < 0)
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_BODY, "%s", err);
    const pyro_part *prof = pyro_multipart_get(parts, n, "profile");
    const pyro_part *prev = pyro_multipart_get(parts, n, "prev_profile");
    const pyro_part *cfg = pyro_multipart_get(parts, n, "sample_type_config");
    if (!prof)
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_BODY,
                         "multipart form without a 'profile' part");
    if (pyro_payload_set(q, p, prof->data, prof->len, &in->peek, out) < 0)
        return -1;
    if (cfg) {
        if (pyro_json_parse(q, cfg->data, cfg->len, "sample_type_config", &in->stc, out) < 0)
            return -1;
        in->have_stc = 1;
        if (in->stc.type != PJ_OBJECT)
            return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_BODY,
                             "sample_type_config: want an object of sample types");
    }
    if (!prev || prev->len == 0)
        return 0;
    pp_profile *prevp = q->r->h->profile_new();
    int rc = prevp ? pyro_payload_set(q, prevp, prev->data, prev->len, NULL, out)
                   : pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    if (rc == 0)
        rc = ingest_delta(q, p, prevp, in->have_stc ? &in->stc : NULL, out);
    if (prevp)
        q->r->h->profile_free(prevp);
    return rc;
}

/* Sets the window from the query, else from the pprof (its skeleton when
 * there is one), else "now". */
static int ingest_window(const pyro_request *q, pp_profile *p, const pp_pprof *peek,
                         pyro_reply *out)
{
    const pp_host *h = q->r->h;
    int64_t from = 0, until = 0;
    if (parse_time(pyro_query(q, "from"), &from) < 0 ||
        parse_time(pyro_query(q, "until"), &until) < 0)
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_TIME,
                         "from/until must be Unix timestamps (s, ms, us or ns) that fit in "
                         "64-bit nanoseconds: from=%.32s until=%.32s",
                         pyro_query(q, "from") ? pyro_query(q, "from") : "",
                         pyro_query(q, "until") ? pyro_query(q, "until") : "");
    if (!from) {
        char err[128];
        const pp_pprof *t = peek ? peek : h->profile_tree(p, err, sizeof(err));
        if (t && t->time_nanos > 0) {
            from = t->time_nanos;
            if (!until && t->duration_nanos > 0 &&
                __builtin_add_overflow(from, t->duration_nanos, &until))
                return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_PROFILE,
                                 "time_nanos + duration_nanos overflows");
        }
    }
    if (!until)
        until = from ? from : h->now_ns();
    if (!from)
        from = until - DEFAULT_WINDOW_NS;
    if (until < from)
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_TIME, "until is before from");
    h->profile_set_window(p, from, until);
    return 0;
}

static int ingest_labels(const pyro_request *q, pp_profile *p, const pyro_name *name,
                         pyro_reply *out)
{
    const pp_host *h = q->r->h;
    int rc = h->label_set(p, PYRO_LABEL_SERVICE, name->app);
    for (size_t i = 0; i < name->n && rc == 0; i++) {
        const char *k = name->keys[i];
        if (k[0] == '_' && k[1] == '_' && strcmp(k, PYRO_LABEL_SESSION) != 0)
            continue; /* private: Pyroscope's IsLabelAllowedForIngestion drops it */
        rc = h->label_set(p, k, name->values[i]);
    }
    if (rc == 0)
        rc = h->label_set(p, PYRO_LABEL_DELTA, "false");
    const char *spy = pyro_query(q, "spyName");
    if (rc == 0)
        rc = h->label_set(p, PYRO_LABEL_SPY, spy && *spy ? spy : "unknown");
    return rc < 0 ? pyro_reply_set(out, HTTP_INTERNAL, "out of memory") : 0;
}

/* Window, labels, and into b (ownership of p passes, also on error). */
static int ingest_add(const pyro_request *q, const ingest_ctx *in, pp_profile *p,
                      const pyro_naming *naming, pp_batch *b, pyro_reply *out)
{
    int rc = ingest_window(q, p, naming ? naming->peek : NULL, out);
    if (rc == 0)
        rc = ingest_labels(q, p, &in->name, out);
    if (rc < 0) {
        q->r->h->profile_free(p);
        return -1;
    }
    return pyro_profile_finish(q, b, p, naming, out);
}

/* The sample_type_config display name of each sample type of t (the
 * profile's skeleton). */
static const char **display_names(const pp_pprof *t, const pj_value *stc)
{
    const char **names = calloc(t->n_sample_types + 1, sizeof(*names));
    for (size_t i = 0; names && i < t->n_sample_types; i++) {
        int64_t idx = t->sample_types[i].type;
        if (idx < 0 || (size_t)idx >= t->n_strings)
            continue;
        const pj_value *dn = pj_get(pj_get(stc, t->strings[idx]), "display-name");
        names[i] = dn && dn->type == PJ_STRING ? dn->str : NULL;
    }
    return names;
}

/* format=pprof: the body, or the Go SDK's multipart form. */
static int ingest_pprof(const pyro_request *q, ingest_ctx *in, pp_batch *b, pyro_reply *out)
{
    const pp_host *h = q->r->h;
    pp_profile *p = h->profile_new();
    if (!p)
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    int rc = in->multipart ? ingest_multipart(q, in, p, out)
                           : pyro_payload_set(q, p, q->body, q->len, &in->peek, out);
    if (rc < 0 && !in->multipart && out->reason &&
        strcmp(out->reason, PYRO_R_INVALID_PROFILE) == 0 && !strstr(out->message, "bad gzip") &&
        !strstr(out->message, "empty profile")) {
        /* protobuf or nothing: the pre-2019 text pprof and other bytes */
        char why[sizeof out->message];
        snprintf(why, sizeof why, "%s", out->message);
        pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_UNSUPPORTED_FORMAT,
                  "unsupported format: the profile is not a protobuf pprof (%s)", why);
    }
    const char **display = NULL;
    if (rc == 0 && in->have_stc && !(display = display_names(in->peek, &in->stc)))
        rc = pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    if (rc < 0) {
        h->profile_free(p);
        return -1;
    }
    pyro_naming naming = {display, in->hint, in->peek};
    rc = ingest_add(q, in, p, &naming, b, out);
    free(display);
    return rc;
}

/* The sampleRate parameter as Pyroscope reads it: absent, unreadable or
 * negative means 100. */
static int64_t sample_rate(const pyro_request *q)
{
    const char *s = pyro_query(q, "sampleRate");
    if (!s || !*s)
        return DEFAULT_SAMPLE_RATE;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno == ERANGE || v < 0 || v > UINT32_MAX)
        return DEFAULT_SAMPLE_RATE;
    return v;
}

/* folded and lines: the app name's type suffix and sampleRate say what
 * the counts are, as Pyroscope's ingest adapter reads them. */
static int ingest_text(const pyro_request *q, ingest_ctx *in, pp_batch *b, pyro_text_format format,
                       pyro_reply *out)
{
    const pp_host *h = q->r->h;
    char *app = in->name.app, *dot = strrchr(app, '.');
    const char *suffix = dot ? dot + 1 : "cpu";
    const struct text_type *tt = text_type_of(suffix);
    if (!tt)
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_NAME,
                         "unknown profile type '%.64s' (the name's last '.' part) for a "
                         "folded or lines body",
                         suffix);
    if (dot)
        *dot = '\0';
    if (!*app)
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_NAME, "empty application name");
    pyro_text_meta meta = {
        .type = tt->type ? tt->type : tt->suffix, .unit = tt->unit, .scale = 1, .time_nanos = 0};
    int64_t rate = sample_rate(q);
    if (tt->timed && rate > 0) {
        meta.period = NS_PER_SEC / rate;
        meta.period_type = "cpu";
        meta.period_unit = "nanoseconds";
        meta.type = strcmp(tt->family, "wall") == 0 ? "wall" : "cpu";
        meta.unit = "nanoseconds";
        meta.scale = meta.period;
    }
    int64_t from = 0;
    if (parse_time(pyro_query(q, "from"), &from) == 0)
        meta.time_nanos = from;
    pp_profile *p = h->profile_new();
    if (!p)
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    char err[256];
    int rc = pyro_text_to_pprof(h, p, q->body, q->len, format, &meta,
                                (size_t)q->r->max_decompressed, err, sizeof(err));
    if (rc < 0) {
        h->profile_free(p);
        if (rc == PYRO_TEXT_TOO_LARGE)
            return pyro_reply_set(out, HTTP_TOO_LARGE, "%s body: %s",
                                  format == PYRO_TEXT_FOLDED ? "folded" : "lines", err);
        if (rc == PYRO_TEXT_NOMEM)
            return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_PROFILE, "%s body: %s",
                         format == PYRO_TEXT_FOLDED ? "folded" : "lines", err);
    }
    /* a service_name tag wins; the app name is then kept as app_name */
    int has_service = 0;
    for (size_t i = 0; i < in->name.n; i++)
        has_service |= strcmp(in->name.keys[i], PYRO_LABEL_SERVICE) == 0;
    if (h->label_set(p, PYRO_LABEL_NAME, tt->family) < 0 ||
        (has_service && h->label_set(p, PYRO_LABEL_APP, app) < 0)) {
        h->profile_free(p);
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    }
    return ingest_add(q, in, p, NULL, b, out);
}

static int ingest_folded(const pyro_request *q, ingest_ctx *in, pp_batch *b, pyro_reply *out)
{
    return ingest_text(q, in, b, PYRO_TEXT_FOLDED, out);
}

static int ingest_lines(const pyro_request *q, ingest_ctx *in, pp_batch *b, pyro_reply *out)
{
    return ingest_text(q, in, b, PYRO_TEXT_LINES, out);
}

/* format=jfr: one profile per kind of event in the recording, each with
 * the request's labels and window (pyroscope_jfr_ingest.c). */
static int ingest_jfr(const pyro_request *q, ingest_ctx *in, pp_batch *b, pyro_reply *out)
{
    const pp_host *h = q->r->h;
    pp_profile **ps = NULL;
    size_t n = 0, i = 0;
    if (pyro_jfr_profiles(q, &ps, &n, out) < 0)
        return -1;
    int rc = 0;
    for (; i < n && rc == 0; i++)
        rc = ingest_add(q, in, ps[i], NULL, b, out); /* takes ps[i] */
    for (; i < n; i++)
        h->profile_free(ps[i]);
    free(ps);
    return rc;
}

/* The formats /ingest takes: each handler adds the request's profiles
 * (one, or several for a recording of several event types) to the batch. */
typedef int (*ingest_format_fn)(const pyro_request *q, ingest_ctx *in, pp_batch *b,
                                pyro_reply *out);
static const struct ingest_format {
    const char *name;
    ingest_format_fn handle;
} ingest_formats[] = {
    {"pprof", ingest_pprof},   {"folded", ingest_folded},
    {"groups", ingest_folded}, /* Pyroscope's own name for folded */
    {"lines", ingest_lines},   {"jfr", ingest_jfr},
};

/* The format handler; NULL with a 400 naming the format if none. */
static ingest_format_fn ingest_format_of(const pyro_request *q, int multipart, pyro_reply *out)
{
    const char *format = pyro_query(q, "format");
    if (!format || !*format)
        format = multipart ? "pprof" : "folded";
    for (size_t i = 0; i < sizeof(ingest_formats) / sizeof(ingest_formats[0]); i++)
        if (strcmp(format, ingest_formats[i].name) == 0)
            return ingest_formats[i].handle;
    pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_UNSUPPORTED_FORMAT,
              "format '%.64s' is not supported by profpipe (supported: pprof, folded, lines, jfr)",
              format);
    return NULL;
}

/* Parses the name: a `__name__` tag replaces the app name, as in
 * Pyroscope's labelset parser. */
static int ingest_name(const pyro_request *q, ingest_ctx *in, pyro_reply *out)
{
    char err[256];
    const char *text = pyro_query(q, "name");
    if (text)
        pyro_reply_service(out, text, strcspn(text, "{"));
    if (pyro_name_parse(text, (size_t)q->r->max_labels, &in->name, err, sizeof(err)) < 0)
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_NAME, "name: %s", err);
    for (size_t i = 0; i < in->name.n; i++)
        if (strcmp(in->name.keys[i], PYRO_LABEL_NAME) == 0 && *in->name.values[i]) {
            char *app = strdup(in->name.values[i]);
            if (!app)
                return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
            free(in->name.app);
            in->name.app = app;
        }
    return 0;
}

int pyro_handle_ingest(const pyro_request *q, pyro_reply *out)
{
    const pp_host *h = q->r->h;
    ingest_ctx in = {0};
    in.multipart = q->content_type && strncasecmp(q->content_type, "multipart/form-data",
                                                  strlen("multipart/form-data")) == 0;
    ingest_format_fn handle = ingest_format_of(q, in.multipart, out);
    if (!handle)
        return -1;
    if (ingest_name(q, &in, out) < 0) {
        pyro_name_free(&in.name);
        return -1;
    }
    if (handle == ingest_pprof || handle == ingest_jfr)
        in.hint = strip_suffix(in.name.app);
    pp_batch *b = h->batch_new();
    int rc = b ? handle(q, &in, b, out) : pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    pyro_name_free(&in.name);
    free(in.peek);
    if (in.have_stc)
        pj_free(&in.stc);
    if (rc < 0) {
        if (b)
            h->batch_unref(b);
        return -1;
    }
    return pyro_emit(q, b, out);
}
