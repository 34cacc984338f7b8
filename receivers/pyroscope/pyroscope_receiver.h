/* pyroscope_receiver: what the receiver's files share. The HTTP side
 * (pyroscope_receiver.c) reads a whole request body within the limits and
 * hands it to one of two handlers: /ingest (pyroscope_ingest.c) or the
 * push API (pyroscope_push.c). A handler turns the body into profiles,
 * emits them, and fills a reply; it never talks HTTP itself. */
#ifndef PYROSCOPE_RECEIVER_H
#define PYROSCOPE_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

#include <profpipe/plugin.h>

#include "listener.h"
#include "pyroscope_json.h"

#define PYRO_LABEL_SERVICE "service_name"
#define PYRO_LABEL_NAME "__name__"
#define PYRO_LABEL_DELTA "__delta__"
#define PYRO_LABEL_SPY "pyroscope_spy"
#define PYRO_LABEL_SESSION "__session_id__"
#define PYRO_LABEL_APP "app_name"

#define HTTP_OK 200
#define HTTP_BAD_REQUEST 400
#define HTTP_UNAUTHORIZED 401
#define HTTP_FORBIDDEN 403
#define HTTP_NOT_FOUND 404
#define HTTP_METHOD_NOT_ALLOWED 405
#define HTTP_TOO_LARGE 413
#define HTTP_UNSUPPORTED_MEDIA 415
#define HTTP_INTERNAL 500
#define HTTP_UNAVAILABLE 503

typedef struct pyro_pool pyro_pool;

typedef struct pyro_receiver {
    const pp_host *h;
    pp_instance *self;
    const char *endpoint;          /* borrowed: the listen address as written */
    listener_settings listen_opts; /* what LISTENER_OPTIONS filled */
    listener_config listen;        /* endpoint, limits, TLS, credentials */
    int64_t max_body;              /* max_request_body_size */
    int64_t max_decompressed;      /* max_decompressed_size */
    int64_t memory_budget;         /* process-wide, see pyroscope_receiver.c */
    int64_t max_labels;            /* max_labels */
    int64_t workers;
    const char *tenant_label; /* borrowed; NULL = X-Scope-OrgID dropped */
    int64_t max_sessions;     /* max_sessions_per_series; 0 = __session_id__ dropped */
    void *daemon;             /* struct MHD_Daemon *, made in start() */
    listener *server;         /* made in start() */
    pyro_pool *pool;          /* the workers, made in start() */
} pyro_receiver;

/* One request, as the handlers see it. Everything is borrowed for the
 * duration of the handler call. */
typedef struct pyro_request {
    pyro_receiver *r;
    void *conn; /* struct MHD_Connection * for query arguments */
    const unsigned char *body;
    size_t len;
    const char *content_type; /* NULL if absent */
    const char *tenant;       /* X-Scope-OrgID (or the one the credentials pin), or NULL */
    int64_t *reserved;        /* memory budget the request holds until it ends */
} pyro_request;

/* The answer to a request. `reason` is a short fixed token (the
 * `reason` label of the rejected-requests counter: invalid_profile,
 * unsupported_format, ...); `service` is the service the request was
 * for, when known, for the warn line of a refusal. */
typedef struct pyro_reply {
    int status;
    const char *reason; /* static */
    char service[128];
    char message[512];
} pyro_reply;

/* Sets the reply, with a reason named after the status; returns -1 when
 * status is an error, else 0. */
int pyro_reply_set(pyro_reply *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* pyro_reply_set with a reason of its own (a static string). Returns -1. */
int pyro_fail(pyro_reply *out, int status, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Remembers the service a request is for (for the log line of a refusal). */
void pyro_reply_service(pyro_reply *out, const char *service, size_t len);

/* Query argument of the request, or NULL. */
const char *pyro_query(const pyro_request *q, const char *key);

/* Checks a payload that may be gzip'd in one streaming pass through a
 * fixed buffer (host->pprof_peek: nothing is inflated into memory and
 * nothing decoded): 400 when empty or not a readable pprof as far as a
 * pass in fixed memory can tell, 413 when it inflates past *budget
 * (inflation stops there, so a gzip bomb costs at most that much CPU and
 * no memory). Lowers *budget by its decompressed size: one budget of
 * max_decompressed_size for all the profiles of a request bounds what a
 * request of many small bombs costs. With peek, *peek receives the
 * skeleton tree the pass read (sample types and their strings, time
 * fields; free() it). 0 or -1, reply set. */
int pyro_payload_check(const pyro_request *q, const void *data, size_t len, int64_t *budget,
                       pp_pprof **peek, pyro_reply *out);

/* pyro_payload_check against max_decompressed_size, then stores a copy of
 * the payload in p. 0 or -1, reply set. */
/* Parses a JSON document of the request (`what` names it in errors): 413
 * when its tree would exceed max_decompressed_size, 503 when the
 * process-wide memory budget cannot hold it now. The memory stays
 * charged to the request until it ends. 0 or -1, reply set. */
int pyro_json_parse(const pyro_request *q, const void *text, size_t len, const char *what,
                    pj_value *doc, pyro_reply *out);

int pyro_payload_set(const pyro_request *q, pp_profile *p, const void *data, size_t len,
                     pp_pprof **peek, pyro_reply *out);

/* How to name a profile that arrives without __name__: the display names
 * its sender gave its sample types (display[i] for sample type i, or NULL
 * for none: host->pprof_family_display), and the family an app-name
 * suffix stands for, used when the tree has no sample types. peek, when
 * set, is the skeleton pyro_payload_check read from the payload: the
 * name comes from it and the payload is not decoded (its checks were
 * made); checked says the same of a payload whose skeleton was not kept
 * (the profile is decoded only to be named, when it has no __name__). */
typedef struct pyro_naming {
    const char *const *display;
    const char *hint;
    const pp_pprof *peek;
    int checked; /* the payload passed pyro_payload_check (no peek kept) */
} pyro_naming;

/* Proves p's payload decodes (400 naming the decoder's reason if not;
 * with naming->peek, the streaming pass's checks stand for it),
 * gives p its __name__ when it has none (pyro_naming), the tenant label,
 * checks service_name, applies the label rules of Pyroscope's distributor
 * and the label count (pyro_labels_apply), and adds p to b (which takes
 * ownership of p, also on error). `naming` may be NULL. 0 or -1, reply
 * set. */
int pyro_profile_finish(const pyro_request *q, pp_batch *b, pp_profile *p,
                        const pyro_naming *naming, pyro_reply *out);

/* pyroscope_labels.c: what Pyroscope's distributor does to a series'
 * labels with its default limits. `__session_id__` (the Go SDK's) is
 * dropped, or with max_sessions_per_series > 0 kept as one of that many
 * values (Pyroscope's modulo); label names with dots get underscores
 * (otel.scope.name -> otel_scope_name), a clash with a different value
 * is a 400; more than max_labels labels (once the session id went) is a
 * 400. 0 or -1, reply set. */
int pyro_labels_apply(const pyro_request *q, pp_profile *p, pyro_reply *out);

/* Emits b (ownership passes) and sets a 200, or 503 when the host is
 * shutting down. */
int pyro_emit(const pyro_request *q, pp_batch *b, pyro_reply *out);

int pyro_handle_ingest(const pyro_request *q, pyro_reply *out);

/* Named for what a 4xx is about: the `reason` label values. */
#define PYRO_R_INVALID_PROFILE "invalid_profile"
#define PYRO_R_INVALID_NAME "invalid_name"
#define PYRO_R_INVALID_LABELS "invalid_labels"
#define PYRO_R_INVALID_TIME "invalid_time_range"
#define PYRO_R_UNSUPPORTED_FORMAT "unsupported_format"
#define PYRO_R_INVALID_BODY "invalid_body"
int pyro_handle_push_proto(const pyro_request *q, pyro_reply *out);
int pyro_handle_push_json(const pyro_request *q, pyro_reply *out);

#endif
