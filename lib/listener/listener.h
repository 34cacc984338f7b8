/* listener: what every profpipe HTTP server shares, so that the telemetry
 * server and the pyroscope receiver hold under the same attacks with the
 * same options: one libmicrohttpd epoll event loop (no select, no
 * FD_SETSIZE ceiling), a total and a per-IP connection limit, an idle
 * timeout, an absolute deadline per request (headers and body together:
 * a client dripping a byte a second is cut off), a bound on a request's
 * line and headers, TLS (optionally mutual) through libmicrohttpd's
 * GnuTLS, an allowlist of client networks, basic or bearer credentials,
 * each optionally pinned to one tenant. libmicrohttpd's own messages go to
 * the profpipe log; aborted connections are counted, not logged one by
 * one.
 *
 * A server built on it calls listener_admit() first thing for every
 * request (before its route dispatch and before any of the body is read)
 * and answers the verdict itself, in its own reply format. */
#ifndef PROFPIPE_LISTENER_H
#define PROFPIPE_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>
#include <profpipe/plugin.h>

extern const pp_option listener_tls_options[];
extern const pp_option listener_basic_auth_options[];

/* The defaults and bounds of LISTENER_OPTIONS (the table's strings are
 * made from them); the defaults also stand for a section left out. */
#define LISTENER_DEFAULT_MAX_CONNECTIONS 64
#define LISTENER_DEFAULT_MAX_CONNECTIONS_PER_IP 16
#define LISTENER_DEFAULT_READ_TIMEOUT_S 30
#define LISTENER_DEFAULT_REQUEST_TIMEOUT_S 60
#define LISTENER_DEFAULT_MAX_HEADER_SIZE ((int64_t)64 << 10)
#define LISTENER_MAX_CONNECTIONS 1000000

#define LISTENER_STR_(x) #x
#define LISTENER_STR(x) LISTENER_STR_(x)

/* What LISTENER_OPTIONS' tls and basic_auth sections fill (borrowed from
 * the config). */
typedef struct listener_tls_settings {
    const char *cert_file, *key_file, *client_ca_file;
    const char *min_version; /* "1.2" or "1.3" (the table's enum) */
} listener_tls_settings;

typedef struct listener_basic_auth_settings {
    const char *username, *password, *password_file, *tenant;
} listener_basic_auth_settings;

/* What LISTENER_OPTIONS fills: a member of the component's settings
 * struct, named in the macro. Borrowed from the config; turned into an
 * owned listener_config by listener_config_make. */
typedef struct listener_settings {
    int64_t max_connections, max_connections_per_ip;
    int64_t read_timeout_ns, request_timeout_ns, max_header_size;
    const pp_config *allowed_networks; /* NULL = not written */
    listener_tls_settings tls;
    listener_basic_auth_settings basic_auth;
    const char *bearer_token, *bearer_token_file, *bearer_token_tenant;
} listener_settings;

/* The options every listener takes, to splice into a component's option
 * table after its own address option: cfg_fill stores them into
 * `member`, a listener_settings member of the struct `settings` the table
 * fills. */
/* clang-format off */
#define LISTENER_OPTIONS(settings, member, max_header_default)                                        \
    {"max_connections", PP_OPT_INT, LISTENER_STR(LISTENER_DEFAULT_MAX_CONNECTIONS),               \
     "most concurrent client connections; more are closed as they arrive", 0, NULL,               \
     PP_FIELD(settings, member.max_connections), .min = "1",                                          \
     .max = LISTENER_STR(LISTENER_MAX_CONNECTIONS)},                                              \
    {"max_connections_per_ip", PP_OPT_INT, LISTENER_STR(LISTENER_DEFAULT_MAX_CONNECTIONS_PER_IP), \
     "most concurrent connections from one client address", 0, NULL,                              \
     PP_FIELD(settings, member.max_connections_per_ip), .min = "0", .flags = PP_OPT_MIN_EXCLUSIVE},   \
    {"read_timeout", PP_OPT_DURATION, LISTENER_STR(LISTENER_DEFAULT_READ_TIMEOUT_S) "s",          \
     "idle time after which a connection is closed", 0, NULL,                                     \
     PP_FIELD(settings, member.read_timeout_ns), .min = "1s"},                                        \
    {"request_timeout", PP_OPT_DURATION, LISTENER_STR(LISTENER_DEFAULT_REQUEST_TIMEOUT_S) "s",    \
     "deadline for one whole request, headers and body, from its first byte (or the"              \
     " end of the previous one): a client sending slowly is cut off", 0, NULL,                    \
     PP_FIELD(settings, member.request_timeout_ns), .min = "1s"},                                     \
    {"max_header_size", PP_OPT_SIZE, max_header_default,                                          \
     "memory for one request's line and headers (414 or 431 beyond)", 0, NULL,                    \
     PP_FIELD(settings, member.max_header_size), .min = "4KiB"},                                      \
    {"allowed_networks", PP_OPT_STRING_LIST, NULL,                                                \
     "client networks (IPv4 or IPv6 CIDR) allowed; others get 403 before the body"                \
     " is read; unset = any", 0, NULL, PP_FIELD(settings, member.allowed_networks)},                  \
    {"tls", PP_OPT_SECTION, NULL,                                                                 \
     "serve HTTPS (GnuTLS); files are read again on SIGHUP", 0,                                   \
     listener_tls_options, PP_FIELD(settings, member.tls)},                                           \
    {"basic_auth", PP_OPT_SECTION, NULL, "require HTTP basic auth from clients", 0,               \
     listener_basic_auth_options, PP_FIELD(settings, member.basic_auth)},                             \
    {"bearer_token", PP_OPT_STRING, NULL, "require Authorization: Bearer <token>",                \
     0, NULL, PP_FIELD(settings, member.bearer_token)},                                               \
    {"bearer_token_file", PP_OPT_STRING, NULL, "file holding that token", 0, NULL,                \
     PP_FIELD(settings, member.bearer_token_file)},                                                   \
    {"bearer_token_tenant", PP_OPT_STRING, NULL,                                                  \
     "X-Scope-OrgID pinned for clients sending the bearer token", 0, NULL,                        \
     PP_FIELD(settings, member.bearer_token_tenant)}
/* clang-format on */

typedef struct listener_network {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned prefix;
} listener_network;

/* A listener's settings, read from its config section. */
typedef struct listener_config {
    char *host; /* owned; "" = every address; NULL = listener disabled */
    char *port; /* owned */
    int64_t max_connections, max_connections_per_ip;
    int64_t read_timeout_ns, request_timeout_ns, max_header_size;
    listener_network *networks; /* owned; n_networks == 0 = any client */
    size_t n_networks;
    char *username, *password, *basic_tenant;    /* owned */
    char *bearer_token, *bearer_tenant;          /* owned */
    char *cert_file, *key_file, *client_ca_file; /* owned; TLS when cert_file set */
    char *min_version;                           /* owned: "1.2" or "1.3" */
} listener_config;

/* Checks the rules between the options LISTENER_OPTIONS filled into s
 * (cfg is the mapping they came from, for the position of errors),
 * parses allowed_networks, reads the secrets, and sets the address
 * ("host:port" or "[v6]:port", written at address_key; "" or NULL leaves
 * host NULL). 0, or -1 after reporting through h->cfg_error. */
int listener_config_make(const pp_host *h, const pp_config *cfg, const listener_settings *s,
                         const char *address, const char *address_key, listener_config *out);
/* Every option at its default, no address: a section left out. */
void listener_config_defaults(listener_config *out);
/* Sets host and port from "host:port" or "[v6]:port" ("" or NULL: none,
 * the listener disabled). 0, or -1 when malformed. */
int listener_config_set_address(listener_config *c, const char *address);
/* Splits "host:port" or "[v6]:port" (port 0..65535) into malloc'd host
 * and port; -1 if malformed or out of memory. */
int listener_split_address(const char *ep, char **host, char **port);
void listener_config_free(listener_config *c);
/* A deep copy. 0, or -1 (out of memory, dst left empty). */
int listener_config_copy(listener_config *dst, const listener_config *src);
/* 1 when a and b configure the same listener (address, limits, auth). */
int listener_config_equal(const listener_config *a, const listener_config *b);

typedef struct listener listener;

/* What the server hands libmicrohttpd besides the settings. */
typedef struct listener_handlers {
    MHD_AccessHandlerCallback request;
    void *cls;
    MHD_RequestCompletedCallback completed; /* may be NULL */
    int suspend_resume;                     /* 1 if the server suspends connections */
} listener_handlers;

/* Starts serving. `self` names the component in logs and metrics (NULL
 * for the host's own, then `name` labels its metrics). When a running
 * listener of this process with the same owner (component id, or `name`
 * for the host's own) is bound to the same address and port, the new one
 * serves that socket (a dup of it) instead of binding: a replacement
 * starts beside the instance it replaces and no client is refused in
 * between. NULL with the reason in err. */
listener *listener_start(const pp_host *h, pp_instance *self, const char *name,
                         const listener_config *cfg, const listener_handlers *handlers, char *err,
                         size_t errlen);
/* Stops accepting new connections. A listener started on the same
 * address while this one ran (its replacement in a reload) serves the
 * same socket and keeps it, with whatever waits in its backlog; with
 * none, the socket closes. Connections already accepted go on. */
void listener_quiesce(listener *l);
/* After listener_quiesce: waits until no connection of l has a request
 * under way (each has been idle a moment), or until deadline_ns
 * (CLOCK_MONOTONIC). */
void listener_drain(listener *l, int64_t deadline_ns);
/* Stops accepting (listener_quiesce) and closes every connection. Resume
 * any suspended connection first. */
void listener_stop(listener *l);

typedef struct listener_verdict {
    int status;         /* 0 = admitted, else 401 or 403 to answer */
    char message[160];  /* why, for the reply */
    const char *tenant; /* pinned by the credentials, or NULL; borrowed */
} listener_verdict;

/* Allowlist, client certificate and credentials of the request on c.
 * Returns v->status. */
int listener_admit(struct MHD_Connection *c, listener_verdict *v);

/* Suspends c (its request handed to another thread) or resumes it. A
 * suspended connection is exempt from the request deadline: the wait is
 * ours, not the client's. */
void listener_suspend(struct MHD_Connection *c);
void listener_resume(struct MHD_Connection *c);

#endif
