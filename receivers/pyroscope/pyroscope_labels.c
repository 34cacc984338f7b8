/* pyroscope_labels: the series-label rules Pyroscope's distributor
 * applies to every profile it takes, with its default limits, so that a
 * profile lands in the series Pyroscope would have put it in (read in
 * grafana/pyroscope weekly-f184: pkg/distributor/distributor.go
 * limitMaxSessionsPerSeries, pkg/validation/validate.go ValidateLabels).
 *
 * - `__session_id__` (pyroscope-go adds a random one per process since
 *   v1.0.4): with max_sessions_per_series = 0, Pyroscope's default, it
 *   is dropped; with N > 0 it is kept as the session id modulo N,
 *   written back the way the SDK writes it (16 hex digits of the
 *   little-endian uint64), so one series holds at most N sessions. An
 *   unreadable id is dropped, as Pyroscope does.
 * - Label names are "legacy" names with dots allowed: each dot becomes an
 *   underscore (otel.scope.name -> otel_scope_name,
 *   process.runtime.name -> process_runtime_name). When the new name
 *   exists already with the same value the dotted one simply goes; with
 *   another value the profile is refused (400), as Pyroscope refuses it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyroscope_receiver.h"
#include "text.h"

#define SESSION_ID_HEX 16
#define SESSION_ID_BYTES 8
#define LABEL_NAME_MAX 1024 /* Pyroscope's -validation.max-length-label-name */

/* The SDK's text form of a session id: hex of the little-endian bytes. */
static int session_parse(const char *s, uint64_t *id)
{
    if (strlen(s) != SESSION_ID_HEX)
        return -1;
    *id = 0;
    for (int i = 0; i < SESSION_ID_BYTES; i++) {
        int hi = text_hex_digit((unsigned char)s[2 * i]),
            lo = text_hex_digit((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        *id |= (uint64_t)(hi << 4 | lo) << (8 * i);
    }
    return 0;
}

static void session_format(uint64_t id, char out[SESSION_ID_HEX + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SESSION_ID_BYTES; i++) {
        unsigned byte = (unsigned)(id >> (8 * i)) & 0xff;
        out[2 * i] = digits[byte >> 4];
        out[2 * i + 1] = digits[byte & 0xf];
    }
    out[SESSION_ID_HEX] = '\0';
}

static int session_apply(const pyro_request *q, pp_profile *p, pyro_reply *out)
{
    const pp_host *h = q->r->h;
    const char *sid = h->label_get(p, PYRO_LABEL_SESSION);
    if (!sid)
        return 0;
    uint64_t id;
    if (q->r->max_sessions == 0 || session_parse(sid, &id) < 0) {
        h->label_del(p, PYRO_LABEL_SESSION);
        return 0;
    }
    char text[SESSION_ID_HEX + 1];
    session_format(id % (uint64_t)q->r->max_sessions, text);
    if (h->label_set(p, PYRO_LABEL_SESSION, text) < 0)
        return pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
    return 0;
}

/* Renames the first dotted label name, if any. 1 = renamed (call again),
 * 0 = none left, -1 = refused or out of memory (reply set). */
static int sanitize_one(const pp_host *h, pp_profile *p, pyro_reply *out)
{
    for (size_t i = 0; i < h->label_count(p); i++) {
        const char *name = h->label_name(p, i);
        if (!strchr(name, '.'))
            continue;
        char fixed[LABEL_NAME_MAX + 1];
        if (strlen(name) > LABEL_NAME_MAX)
            return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_LABELS,
                             "label name too long: '%.64s...'", name);
        snprintf(fixed, sizeof(fixed), "%s", name);
        for (char *c = fixed; *c; c++)
            if (*c == '.')
                *c = '_';
        const char *existing = h->label_get(p, fixed);
        if (existing && strcmp(existing, h->label_value(p, i)) != 0)
            return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_LABELS,
                             "labels '%.64s' and '%.64s' differ but are one name once dots "
                             "become underscores",
                             name, fixed);
        /* copies: deleting the label frees its name and value */
        char *dotted = strdup(name), *value = strdup(h->label_value(p, i));
        int rc = dotted && value ? 1 : pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
        if (rc > 0) {
            h->label_del(p, dotted);
            if (!existing && h->label_set(p, fixed, value) < 0)
                rc = pyro_reply_set(out, HTTP_INTERNAL, "out of memory");
        }
        free(dotted);
        free(value);
        return rc;
    }
    return 0;
}

int pyro_labels_apply(const pyro_request *q, pp_profile *p, pyro_reply *out)
{
    const pp_host *h = q->r->h;
    if (session_apply(q, p, out) < 0)
        return -1;
    /* counted after the session id went (as Pyroscope counts) and before
     * the renames, whose cost grows with the count and which never add */
    if ((int64_t)h->label_count(p) > q->r->max_labels)
        return pyro_fail(out, HTTP_BAD_REQUEST, PYRO_R_INVALID_LABELS,
                         "%zu series labels; limit %lld", h->label_count(p),
                         (long long)q->r->max_labels);
    int rc;
    while ((rc = sanitize_one(h, p, out)) > 0)
        ;
    return rc;
}
