/* scrape_result: what happens when one transfer ends.
 *
 * A failure is classified into one reason (scrape_reason), counted in
 * errors_total{reason}, and logged so that a person can act on it
 * without drowning: a warning when a slot's reason changes, debug while
 * it stays the same, info when it recovers. Connection errors, timeouts,
 * 401 and 403 mark the whole target down (up = 0), logged once per
 * change of state with the status. 429 and 503 skip the profile type
 * until the server's Retry-After has passed (at least this interval).
 *
 * A 200 becomes a profile once a cheap check says it is a pprof at all
 * and inflates to no more than body_size_limit: cumulative types go
 * through the slot's delta state (and need the decoded tree: the body is
 * inflated once, checked in memory, and decoded from those bytes); the
 * rest pass as the raw bytes received, checked through a fixed inflate
 * buffer. Either way the profile takes the bytes over (profile_adopt_raw),
 * no copy. Series
 * labels are the target's plus `__name__`, and `__delta__="false"` on
 * profiles whose values are already per-interval deltas (ours, or
 * godeltaprof's), as Alloy sends it so Pyroscope does not delta again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gzstream.h"
#include "pp_constants.h"
#include "scrape_loop.h"

/* Upper bound on a decompressed profile during the pprof check. */
#define CHECK_MAX_DECOMPRESSED ((size_t)512 << 20)

static int is_down_reason(scrape_reason r)
{
    return r == REASON_CONNECT || r == REASON_TIMEOUT || r == REASON_HTTP_401 ||
           r == REASON_HTTP_403;
}

static scrape_reason classify(CURLcode rc, long status, const scrape_buf *body)
{
    switch (rc) {
    case CURLE_OK:
        if (status == 401)
            return REASON_HTTP_401;
        if (status == 403)
            return REASON_HTTP_403;
        if (status == 429)
            return REASON_HTTP_429;
        if (status == 503)
            return REASON_HTTP_503;
        return status == 200 ? REASON_NONE : REASON_HTTP_STATUS;
    case CURLE_OPERATION_TIMEDOUT:
        return REASON_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        return REASON_CONNECT;
    case CURLE_FILESIZE_EXCEEDED:
        return REASON_BODY_LIMIT;
    case CURLE_WRITE_ERROR:
        return body->over_limit ? REASON_BODY_LIMIT : REASON_TRANSPORT;
    case CURLE_PARTIAL_FILE:
        return REASON_INVALID;
    default:
        return REASON_TRANSPORT;
    }
}

static void count_error(scrape_loop *l, scrape_target *t, scrape_reason r)
{
    if (!t->m_errors[r]) {
        char labels[1024];
        snprintf(labels, sizeof labels, "%s,reason=\"%s\"", t->metric_labels,
                 scrape_reason_names[r]);
        t->m_errors[r] = l->host->metric(l->self, "scrape_errors_total",
                                         "Failed scrapes by reason.", PP_COUNTER, labels);
    }
    l->host->metric_add(t->m_errors[r], 1);
}

static void on_failure(scrape_loop *l, scrape_slot *s, scrape_reason r, const char *detail,
                       int64_t now)
{
    scrape_target *t = s->target;
    count_error(l, t, r);
    if (is_down_reason(r)) {
        int changed = !t->down || t->down_reason != r;
        l->host->log(l->self, changed ? PP_LOG_WARN : PP_LOG_DEBUG, "target %s down: %s: %s",
                     t->base_url, s->ptype->path, detail);
        t->down = 1;
        t->down_reason = r;
    } else {
        l->host->log(l->self, s->last_reason != r ? PP_LOG_WARN : PP_LOG_DEBUG,
                     "scrape %s%s failed: %s", t->base_url, s->ptype->path, detail);
    }
    if (r == REASON_HTTP_429 || r == REASON_HTTP_503) {
        curl_off_t after = 0;
        curl_easy_getinfo(s->easy->curl, CURLINFO_RETRY_AFTER, &after);
        if (after > 0 && now + (int64_t)after * NS_PER_SEC > s->next_due)
            s->next_due = now + (int64_t)after * NS_PER_SEC;
    }
    s->last_reason = r;
}

static void on_success(scrape_loop *l, scrape_slot *s)
{
    scrape_target *t = s->target;
    if (t->down)
        l->host->log(l->self, PP_LOG_INFO, "target %s up again", t->base_url);
    else if (s->last_reason != REASON_NONE)
        l->host->log(l->self, PP_LOG_INFO, "scrape %s%s ok again", t->base_url, s->ptype->path);
    t->down = 0;
    t->down_reason = REASON_NONE;
    s->last_reason = REASON_NONE;
}

static int needs_delta(const scrape_ptype *pt)
{
    return !pt->seconds && !pt->server_delta && strcmp(pt->name, "goroutine") != 0 &&
           strcmp(pt->name, "threadcreate") != 0;
}

/* Profiles whose cumulative types the target already turned into
 * per-interval values: godeltaprof, or ?seconds=N on Go's heap, block and
 * mutex handlers. They carry __delta__="false" like our own deltas. */
static int target_sent_deltas(const scrape_ptype *pt)
{
    return pt->server_delta ||
           (pt->seconds && (strcmp(pt->name, "memory") == 0 || strcmp(pt->name, "block") == 0 ||
                            strcmp(pt->name, "mutex") == 0));
}

static int set_labels(const pp_host *h, pp_profile *p, const scrape_slot *s, int delta)
{
    const scrape_target *t = s->target;
    size_t i;
    for (i = 0; i < t->n_labels; i++)
        if (h->label_set(p, t->labels[i].name, t->labels[i].value) < 0)
            return -1;
    if (h->label_set(p, "__name__", s->ptype->name) < 0)
        return -1;
    return delta ? h->label_set(p, "__delta__", "false") : 0;
}

/* The body inflated past max: what it inflates to, counted through
 * gzstream's buffer without keeping it, for a reason that says how far
 * past body_size_limit it is. REASON_INVALID (why left as the check wrote
 * it) when there is no limit, or the stream is broken or passes even
 * CHECK_MAX_DECOMPRESSED. */
static scrape_reason too_large(const scrape_buf *b, char *why, size_t whylen)
{
    size_t total = 0;
    char ignored[256];
    if (b->limit <= 0 || gzstream_inflate(b->data, b->len, CHECK_MAX_DECOMPRESSED, 0, NULL, NULL,
                                          &total, ignored, sizeof ignored) != GZSTREAM_OK)
        return REASON_INVALID;
    snprintf(why, whylen, "body inflates to %zu bytes, more than body_size_limit (%lld bytes)",
             total, (long long)b->limit);
    return REASON_BODY_LIMIT;
}

static size_t inflate_limit(const scrape_buf *b)
{
    return b->limit > 0 ? (size_t)b->limit : CHECK_MAX_DECOMPRESSED;
}

/* Takes the body's bytes out of the slot, trimmed to their length: the
 * profile holds them from now on. */
static uint8_t *take_body(scrape_buf *b, size_t *len)
{
    uint8_t *data = b->data, *trimmed;
    *len = b->len;
    if (b->cap > b->len && b->len > 0 && (trimmed = realloc(data, b->len)))
        data = trimmed;
    b->data = NULL;
    b->len = b->cap = 0;
    return data;
}

/* The payload of a profile that needs no delta: the body as received,
 * once a walk over it (inflated through a fixed buffer) says it is a
 * pprof inflating to no more than body_size_limit. */
static scrape_reason check_body(scrape_buf *b, uint8_t **out, size_t *out_len, char *why,
                                size_t whylen)
{
    int over = 0;
    if (scrape_check_pprof(b->data, b->len, inflate_limit(b), 0, &over, why, whylen) < 0)
        return over ? too_large(b, why, whylen) : REASON_INVALID;
    *out = take_body(b, out_len);
    return REASON_NONE;
}

/* The payload of a profile that goes through the delta pass: the body
 * inflated once, here, bounded by body_size_limit, and walked in memory
 * for the same reasons as check_body gives; the delta pass then reads the
 * inflated bytes in place. A plain body is checked and taken as it is. */
static scrape_reason inflate_body(const pp_host *h, scrape_buf *b, uint8_t **out, size_t *out_len,
                                  char *why, size_t whylen)
{
    char err[256];
    pp_err kind = PP_ERR_NONE;
    if (!pp_is_gzip(b->data, b->len))
        return check_body(b, out, out_len, why, whylen);
    err[0] = '\0';
    if (h->gunzip(b->data, b->len, inflate_limit(b), out, out_len, &kind, err, sizeof err) < 0) {
        snprintf(why, whylen, "not a pprof: gzip: %s", err[0] ? err : "cannot decompress");
        return kind == PP_ERR_TOO_LARGE ? too_large(b, why, whylen) : REASON_INVALID;
    }
    if (scrape_check_inflated(*out, *out_len, why, whylen) < 0) {
        free(*out);
        *out = NULL;
        return REASON_INVALID;
    }
    free(b->data); /* inflated: the compressed bytes are done with */
    b->data = NULL;
    b->len = b->cap = 0;
    return REASON_NONE;
}

/* Runs the inflated body (bytes, taken over: freed or adopted) through
 * the slot's delta state; REASON_NONE with *out the profile to emit (or
 * NULL when the scrape only set a baseline), or REASON_INVALID with why. */
static scrape_reason take_delta(scrape_loop *l, scrape_slot *s, uint8_t *bytes, size_t n,
                                int64_t until, int64_t *from, int *delta, pp_profile **out,
                                char *why, size_t whylen)
{
    const pp_host *h = l->host;
    char err[256];
    uint8_t *deltas = NULL;
    size_t deltas_len = 0;
    scrape_delta_result r;
    *out = NULL;
    if (!s->delta && !(s->delta = scrape_delta_new(l->baseheap))) {
        free(bytes);
        snprintf(why, whylen, "out of memory");
        return REASON_INVALID;
    }
    size_t held = scrape_delta_bytes(s->delta);
    r = scrape_delta_apply(s->delta, bytes, n, until, from, &deltas, &deltas_len, err, sizeof err);
    scrape_baseline_account(l, held, scrape_delta_bytes(s->delta));
    if (r == SCRAPE_DELTA_ERROR) {
        free(bytes);
        snprintf(why, whylen, "not a pprof: %s", err);
        return REASON_INVALID;
    }
    if (r == SCRAPE_DELTA_RESET)
        h->log(l->self, PP_LOG_INFO,
               "%s%s: counters went back (process restarted?): new delta baseline",
               s->target->base_url, s->ptype->path);
    *delta = r == SCRAPE_DELTA_EMIT;
    if (r == SCRAPE_DELTA_EMIT) {
        free(bytes); /* the deltas replace them */
        bytes = deltas;
        n = deltas_len;
    } else if (r != SCRAPE_DELTA_NONE) {
        free(bytes); /* a baseline only */
        return REASON_NONE;
    }
    pp_profile *p = h->profile_new();
    if (!p || h->profile_adopt_raw(p, bytes, n) < 0) { /* frees bytes */
        if (!p)
            free(bytes);
        h->profile_free(p);
        snprintf(why, whylen, "out of memory");
        return REASON_INVALID;
    }
    *out = p;
    return REASON_NONE;
}

/* Builds the profile from a 200 body and adds it to the loop's batch
 * (or keeps it only as a delta baseline); a failure reason with why. */
static scrape_reason take_profile(scrape_loop *l, scrape_slot *s, char *why, size_t whylen)
{
    const pp_host *h = l->host;
    int64_t until = h->now_ns(), from = s->start_wall;
    int delta = target_sent_deltas(s->ptype);
    uint8_t *bytes = NULL;
    size_t n = 0;
    pp_profile *p = NULL;
    scrape_reason r;
    if (needs_delta(s->ptype)) {
        r = inflate_body(h, &s->body, &bytes, &n, why, whylen);
        if (r == REASON_NONE)
            r = take_delta(l, s, bytes, n, until, &from, &delta, &p, why, whylen);
    } else {
        r = check_body(&s->body, &bytes, &n, why, whylen);
        if (r == REASON_NONE &&
            (!(p = h->profile_new()) || h->profile_adopt_raw(p, bytes, n) < 0)) {
            if (!p)
                free(bytes);
            snprintf(why, whylen, "out of memory");
            r = REASON_INVALID;
        }
    }
    if (r == REASON_NONE && p &&
        (set_labels(h, p, s, delta) < 0 || (!l->batch && !(l->batch = h->batch_new())))) {
        snprintf(why, whylen, "out of memory");
        r = REASON_INVALID;
    }
    if (r != REASON_NONE || !p) {
        if (p)
            h->profile_free(p);
        return r;
    }
    h->profile_set_window(p, from, until);
    h->batch_add(l->batch, p);
    return REASON_NONE;
}

static void describe(char *out, size_t outlen, CURLcode rc, long status, const scrape_slot *s,
                     scrape_reason r)
{
    if (r == REASON_BODY_LIMIT)
        snprintf(out, outlen, "body larger than body_size_limit (%lld bytes): aborted",
                 (long long)s->body.limit);
    else if (rc != CURLE_OK)
        snprintf(out, outlen, "%s", s->easy->errbuf[0] ? s->easy->errbuf : curl_easy_strerror(rc));
    else
        snprintf(out, outlen, "HTTP %ld", status);
}

/* What the built-in page shows for this target x profile type. */
static void report_state(scrape_loop *l, const scrape_slot *s, size_t bytes, int ok,
                         const char *why, int64_t now)
{
    if (!l->host->target_state)
        return;
    pp_target_state st = {.target = s->target->base_url,
                          .profile = s->ptype->name,
                          .path = s->ptype->path,
                          .up = ok,
                          .last_ns = s->start_wall,
                          .duration_ns = now - s->start_mono,
                          .bytes = bytes,
                          .error = ok ? NULL : why};
    l->host->target_state(l->self, &st);
}

void scrape_result(scrape_loop *l, scrape_slot *s, CURLcode rc, int64_t now)
{
    scrape_target *t = s->target;
    long status = 0;
    char why[512];
    size_t received = s->body.len; /* the profile may take the body over */
    scrape_reason r;
    curl_easy_getinfo(s->easy->curl, CURLINFO_RESPONSE_CODE, &status);
    l->host->metric_set(s->m_duration, (double)(now - s->start_mono) / NS_PER_SEC);
    l->host->metric_add(t->m_bytes, (double)received);
    r = classify(rc, status, &s->body);
    if (r == REASON_NONE) {
        r = take_profile(l, s, why, sizeof why);
        if (r == REASON_NONE)
            on_success(l, s);
        else
            on_failure(l, s, r, why, now);
        report_state(l, s, received, r == REASON_NONE, why, now);
    } else {
        describe(why, sizeof why, rc, status, s, r);
        if (r == REASON_HTTP_429 || r == REASON_HTTP_503)
            strncat(why, ": skipping this profile type until Retry-After has passed",
                    sizeof why - strlen(why) - 1);
        on_failure(l, s, r, why, now);
        report_state(l, s, received, 0, why, now);
    }
    l->host->metric_set(t->m_up, t->down ? 0 : 1);
}
