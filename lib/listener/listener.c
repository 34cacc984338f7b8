/* listener: one libmicrohttpd daemon with profpipe's limits around it.
 *
 * libmicrohttpd gives the epoll loop, the total and per-IP connection
 * limits, the idle timeout, the header bound (its per-connection memory
 * pool) and TLS. It has no deadline for a whole request: its timeout is
 * an idle timer that every byte resets. So every connection is tracked
 * (NOTIFY_CONNECTION) with the time its current request began, and a
 * watchdog thread shuts down the socket of one past request_timeout;
 * libmicrohttpd then sees the end of the stream and closes it in its own
 * thread. shutdown() never closes the descriptor, and libmicrohttpd
 * reports a connection closed before it closes its descriptor, under the
 * same lock the watchdog holds, so the watchdog never touches a reused
 * descriptor. A suspended connection (its request is being handled by
 * another thread) is exempt: that wait is ours.
 *
 * The total limit is ours too: a full server that simply stopped
 * accepting would leave a good client queued in the kernel behind every
 * idle socket of a distributed attack. So libmicrohttpd may accept up to
 * twice max_connections, and a connection beyond max_connections closes
 * the oldest one that has not yet sent a whole request head (idle, or
 * dripping it): a fresh client sends its request at once and is served.
 *
 * Handover: every running listener is in a process-wide registry with its
 * listening descriptor. A listener started on the address of one still
 * running (a receiver replaced by a reload) does not bind: it serves a
 * dup() of that socket, so both accept from one kernel queue for a while.
 * listener_quiesce() then takes the old one out of the registry and
 * closes only its own descriptor (MHD_quiesce_daemon: libmicrohttpd stops
 * accepting and gives the socket back): connections waiting in the
 * backlog stay queued for the new daemon, and none is refused. The last
 * holder's close is the socket's end, as before. */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "pp_constants.h"

#define WATCHDOG_PERIOD_MS 250
#define LOG_LINE_MAX 512
#define LABELS_MAX 128
#define NAME_MAX_SHOWN 48
#define PEM_MAX_BYTES ((long)1 << 20)
#define MAX_OPTIONS 24
#define ACCEPT_HEADROOM 2 /* accepted connections per max_connections, see above */
#define DRAIN_IDLE_MS 500 /* listener_drain: a connection this idle has no request under way */
#define DRAIN_POLL_MS 20
#define BEARER_PREFIX "Bearer "
#define TENANT_HEADER "X-Scope-OrgID"
#define TLS12_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define TLS13_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3"

typedef struct tracked_conn {
    struct listener *l;
    int fd;
    int64_t request_start_ns;
    int suspended, cut;
    int in_request; /* its request head is whole: not evicted for room */
    int served;     /* a request of it was answered: kept alive since */
    struct tracked_conn *prev, *next;
} tracked_conn;

struct listener {
    const pp_host *h;
    pp_instance *self;
    const listener_config *cfg; /* borrowed until listener_stop */
    listener_handlers handlers;
    struct MHD_Daemon *daemon;
    atomic_int started; /* libmicrohttpd messages before: warnings; after: counted */
    char *cert_pem, *key_pem, *ca_pem;
    pthread_mutex_t lock; /* guards conns and every tracked_conn */
    pthread_cond_t wake;
    tracked_conn *conns; /* newest first */
    int stopping;
    pthread_t watchdog;
    int watchdog_running;
    int listen_fd;      /* the daemon's listening descriptor, -1 once quiesced */
    int handed;         /* serves a socket another listener bound */
    char *owner;        /* the component id (or the host's name): whose socket it may take */
    listener *reg_next; /* the registry of running listeners, under registry_lock */
    pp_metric *cut_deadline, *cut_room, *aborted, *messages, *refused_403, *refused_401;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static listener *registry;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static void count(pp_metric *m, const pp_host *h)
{
    if (m)
        h->metric_add(m, 1);
}

/* ------------------------------------------------------------------ */
/* connection tracking and the request deadline                        */
/* ------------------------------------------------------------------ */

/* Over max_connections: closes the oldest connection without a whole
 * request head. Called with the lock held. */
static void make_room(listener *l)
{
    tracked_conn *oldest = NULL;
    int64_t live = 0;
    for (tracked_conn *t = l->conns; t; t = t->next) {
        if (t->cut)
            continue;
        live++;
        if (!t->in_request && !t->suspended)
            oldest = t;
    }
    if (live <= l->cfg->max_connections || !oldest)
        return;
    oldest->cut = 1;
    shutdown(oldest->fd, SHUT_RDWR);
    count(l->cut_room, l->h);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    listener *l = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        tracked_conn *t = calloc(1, sizeof *t);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!t || !ci) {
            free(t);
            return; /* untracked: only the idle timeout applies to it */
        }
        t->l = l;
        t->fd = ci->connect_fd;
        t->request_start_ns = now_ns();
        pthread_mutex_lock(&l->lock);
        t->next = l->conns;
        if (l->conns)
            l->conns->prev = t;
        l->conns = t;
        make_room(l);
        pthread_mutex_unlock(&l->lock);
        *socket_context = t;
        return;
    }
    tracked_conn *t = *socket_context;
    if (!t)
        return;
    pthread_mutex_lock(&l->lock);
    if (t->prev)
        t->prev->next = t->next;
    else
        l->conns = t->next;
    if (t->next)
        t->next->prev = t->prev;
    pthread_mutex_unlock(&l->lock);
    free(t);
    *socket_context = NULL;
}

static tracked_conn *tracked(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    listener *l = cls;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        count(l->aborted, l->h);
    tracked_conn *t = tracked(c);
    if (t) {
        pthread_mutex_lock(&l->lock);
        t->request_start_ns = now_ns(); /* the next request's clock */
        t->in_request = 0;
        t->served = 1;
        pthread_mutex_unlock(&l->lock);
    }
    if (l->handlers.completed)
        l->handlers.completed(l->handlers.cls, c, req_cls, toe);
}

static void set_suspended(struct MHD_Connection *c, int suspended)
{
    tracked_conn *t = tracked(c);
    if (!t)
        return;
    pthread_mutex_lock(&t->l->lock);
    t->suspended = suspended;
    t->request_start_ns = now_ns(); /* the reply gets a whole deadline */
    pthread_mutex_unlock(&t->l->lock);
}

void listener_suspend(struct MHD_Connection *c)
{
    set_suspended(c, 1);
    MHD_suspend_connection(c);
}

void listener_resume(struct MHD_Connection *c)
{
    set_suspended(c, 0);
    MHD_resume_connection(c);
}

static void cut_late_requests(listener *l)
{
    int64_t now = now_ns();
    for (tracked_conn *t = l->conns; t; t = t->next) {
        if (t->suspended || t->cut || now - t->request_start_ns <= l->cfg->request_timeout_ns)
            continue;
        t->cut = 1;
        shutdown(t->fd, SHUT_RDWR);
        count(l->cut_deadline, l->h);
    }
}

static void *watchdog_main(void *arg)
{
    listener *l = arg;
    pthread_mutex_lock(&l->lock);
    while (!l->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + WATCHDOG_PERIOD_MS * NS_PER_MS;
        ts.tv_sec += ns / NS_PER_SEC;
        ts.tv_nsec = ns % NS_PER_SEC;
        pthread_cond_timedwait(&l->wake, &l->lock, &ts);
        if (!l->stopping)
            cut_late_requests(l);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* admission: allowlist, client certificate, credentials               */
/* ------------------------------------------------------------------ */

static int prefix_match(const unsigned char *a, const unsigned char *net, unsigned bits)
{
    size_t whole = bits / 8;
    if (memcmp(a, net, whole) != 0)
        return 0;
    unsigned rest = bits % 8;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & mask) == (net[whole] & mask);
}

static int address_allowed(const listener_config *cfg, const struct sockaddr *sa)
{
    if (cfg->n_networks == 0)
        return 1;
    unsigned char addr[16];
    int family = sa ? sa->sa_family : AF_UNSPEC;
    if (family == AF_INET) {
        memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) { /* a v4 client of a dual-stack socket */
            family = AF_INET;
            memcpy(addr, a6->s6_addr + 12, 4);
        } else {
            memcpy(addr, a6->s6_addr, 16);
        }
    } else {
        return 0;
    }
    for (size_t i = 0; i < cfg->n_networks; i++)
        if (cfg->networks[i].family == family &&
            prefix_match(addr, cfg->networks[i].addr, cfg->networks[i].prefix))
            return 1;
    return 0;
}

static int client_cert_ok(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return 0;
    unsigned status = 0;
    return gnutls_certificate_verify_peers2((gnutls_session_t)ci->tls_session, &status) ==
               GNUTLS_E_SUCCESS &&
           status == 0;
}

/* Equal without an early exit, so timing does not reveal a prefix. */
static int secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

/* 1 and the credential's pinned tenant (or NULL), or 0. */
static int credentials_ok(const listener_config *cfg, struct MHD_Connection *c, const char **tenant)
{
    *tenant = NULL;
    if (!cfg->username && !cfg->bearer_token)
        return 1;
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth)
        return 0;
    if (cfg->bearer_token && strncmp(auth, BEARER_PREFIX, strlen(BEARER_PREFIX)) == 0) {
        *tenant = cfg->bearer_tenant;
        return secret_equal(auth + strlen(BEARER_PREFIX), cfg->bearer_token);
    }
    if (!cfg->username)
        return 0;
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &pass);
    int ok = user && pass && secret_equal(user, cfg->username) && secret_equal(pass, cfg->password);
    if (user)
        MHD_free(user);
    if (pass)
        MHD_free(pass);
    *tenant = cfg->basic_tenant;
    return ok;
}

static int refuse(listener *l, listener_verdict *v, int status, const char *msg)
{
    count(status == MHD_HTTP_FORBIDDEN ? l->refused_403 : l->refused_401, l->h);
    v->status = status;
    snprintf(v->message, sizeof v->message, "%s", msg);
    v->tenant = NULL;
    return status;
}

int listener_admit(struct MHD_Connection *c, listener_verdict *v)
{
    memset(v, 0, sizeof *v);
    tracked_conn *t = tracked(c);
    if (!t) /* not tracked: memory was short when it arrived */
        return v->status = MHD_HTTP_SERVICE_UNAVAILABLE;
    listener *l = t->l;
    pthread_mutex_lock(&l->lock);
    t->in_request = 1;
    pthread_mutex_unlock(&l->lock);
    const listener_config *cfg = l->cfg;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!address_allowed(cfg, ci ? ci->client_addr : NULL))
        return refuse(l, v, MHD_HTTP_FORBIDDEN, "client address not in allowed_networks");
    if (cfg->client_ca_file && !client_cert_ok(c))
        return refuse(l, v, MHD_HTTP_FORBIDDEN,
                      "a client certificate signed by client_ca_file is required");
    const char *tenant;
    if (!credentials_ok(cfg, c, &tenant))
        return refuse(l, v, MHD_HTTP_UNAUTHORIZED, "missing or wrong credentials");
    const char *asked = MHD_lookup_connection_value(c, MHD_HEADER_KIND, TENANT_HEADER);
    if (tenant && asked && strcmp(asked, tenant) != 0)
        return refuse(l, v, MHD_HTTP_FORBIDDEN,
                      "X-Scope-OrgID is pinned for these credentials; another was sent");
    v->tenant = tenant;
    return 0;
}

/* ------------------------------------------------------------------ */
/* lifecycle                                                            */
/* ------------------------------------------------------------------ */

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    listener *l = cls;
    char line[LOG_LINE_MAX];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    /* Once serving, its messages are about single connections (a reset, an
     * abort, a bad request line): any client can cause them, so they are
     * counted and kept to debug, never a warning each. */
    if (atomic_load(&l->started)) {
        count(l->messages, l->h);
        l->h->log(l->self, PP_LOG_DEBUG, "http: %s", line);
    } else {
        l->h->log(l->self, PP_LOG_WARN, "http: %s", line);
    }
}

static char *read_pem(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(PEM_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, PEM_MAX_BYTES + 1, f) : 0;
    fclose(f);
    if (!buf || n == 0 || n > PEM_MAX_BYTES) {
        snprintf(err, errlen, "%s: empty, unreadable or larger than %ld bytes", path,
                 PEM_MAX_BYTES);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static int load_tls(listener *l, char *err, size_t errlen)
{
    const listener_config *cfg = l->cfg;
    if (!cfg->cert_file)
        return 0;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errlen, "tls: this libmicrohttpd was built without TLS");
        return -1;
    }
    if (!(l->cert_pem = read_pem(cfg->cert_file, err, errlen)) ||
        !(l->key_pem = read_pem(cfg->key_file, err, errlen)))
        return -1;
    if (cfg->client_ca_file && !(l->ca_pem = read_pem(cfg->client_ca_file, err, errlen)))
        return -1;
    return 0;
}

static void make_metrics(listener *l, const char *name)
{
    char labels[LABELS_MAX];
    const char *base = "";
    char own[LABELS_MAX / 2];
    if (!l->self) { /* the host's own server: say which */
        snprintf(own, sizeof own, "listener=\"%.*s\",", NAME_MAX_SHOWN, name);
        base = own;
    }
    const pp_host *h = l->h;
    snprintf(labels, sizeof labels, "%sreason=\"request_timeout\"", base);
    l->cut_deadline = h->metric(l->self, "http_connections_cut_total",
                                "connections closed by profpipe, by reason", PP_COUNTER, labels);
    snprintf(labels, sizeof labels, "%sreason=\"max_connections\"", base);
    l->cut_room = h->metric(l->self, "http_connections_cut_total",
                            "connections closed by profpipe, by reason", PP_COUNTER, labels);
    snprintf(labels, sizeof labels, "%.*s", (int)(strlen(base) ? strlen(base) - 1 : 0), base);
    l->aborted = h->metric(l->self, "http_requests_aborted_total",
                           "requests that ended without a complete reply (client gone, "
                           "cut off, bad request line, ...)",
                           PP_COUNTER, labels);
    l->messages = h->metric(l->self, "http_server_messages_total",
                            "libmicrohttpd messages about single connections (logged at debug)",
                            PP_COUNTER, labels);
    snprintf(labels, sizeof labels, "%scode=\"403\"", base);
    l->refused_403 = h->metric(l->self, "http_requests_refused_total",
                               "requests refused before their body, by status", PP_COUNTER, labels);
    snprintf(labels, sizeof labels, "%scode=\"401\"", base);
    l->refused_401 = h->metric(l->self, "http_requests_refused_total",
                               "requests refused before their body, by status", PP_COUNTER, labels);
}

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

static void warn_if_exposed(listener *l, const char *name, const struct sockaddr *sa)
{
    const listener_config *cfg = l->cfg;
    if (is_loopback(sa) || cfg->cert_file || cfg->username || cfg->bearer_token)
        return;
    l->h->log(l->self, PP_LOG_WARN,
              "%s listening on %s:%s, beyond loopback, with neither auth nor TLS: anyone who can "
              "reach it can use it (set basic_auth or bearer_token, tls, allowed_networks)",
              name, cfg->host, cfg->port);
}

/* 1 when fd is bound to sa's address and port (not an ephemeral port 0). */
static int bound_to(int fd, const struct sockaddr *sa)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 || ss.ss_family != sa->sa_family)
        return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        const struct sockaddr_in *b = (const struct sockaddr_in *)sa;
        return b->sin_port != 0 && a->sin_port == b->sin_port &&
               a->sin_addr.s_addr == b->sin_addr.s_addr;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)sa;
        return b->sin6_port != 0 && a->sin6_port == b->sin6_port &&
               memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
    }
    return 0;
}

/* A descriptor of the socket a running listener of the same owner (the
 * instance a reload replaces) has bound to sa (a dup: each holder closes
 * its own), or -1. Another owner's socket is never shared: two components
 * configured on one address fail as they would without handover.
 * Called with registry_lock held. */
static int shared_socket(const char *owner, const struct sockaddr *sa)
{
    for (listener *o = registry; o; o = o->reg_next)
        if (o->listen_fd >= 0 && strcmp(o->owner, owner) == 0 && bound_to(o->listen_fd, sa))
            return fcntl(o->listen_fd, F_DUPFD_CLOEXEC, 0);
    return -1;
}

/* libmicrohttpd closes a given listening socket on some of its failure
 * paths and not on others: close fd unless it already did. Called with
 * registry_lock held, so no other dup of this socket appears meanwhile. */
static void close_if_still_open(int fd, const struct stat *was)
{
    struct stat st;
    if (fcntl(fd, F_GETFD) != -1 && fstat(fd, &st) == 0 && st.st_dev == was->st_dev &&
        st.st_ino == was->st_ino)
        close(fd);
}

/* On `fd` when it is >= 0 (a socket handed over), else bound to ai. */
static struct MHD_Daemon *start_daemon(listener *l, const struct addrinfo *ai, int fd)
{
    const listener_config *cfg = l->cfg;
    /* MHD_USE_ITC: MHD_quiesce_daemon needs it with an internal thread */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (l->handlers.suspend_resume)
        flags |= MHD_ALLOW_SUSPEND_RESUME;
    struct MHD_OptionItem ops[MAX_OPTIONS];
    size_t n = 0;
#define OPT(o, v, p) ops[n++] = (struct MHD_OptionItem){o, (intptr_t)(v), (void *)(p)}
    OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, l);
    if (fd >= 0)
        OPT(MHD_OPTION_LISTEN_SOCKET, fd, NULL);
    else
        OPT(MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr);
    OPT(MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections * ACCEPT_HEADROOM, NULL);
    OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_connections_per_ip, NULL);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, cfg->read_timeout_ns / NS_PER_SEC, NULL);
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->max_header_size, NULL);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, l);
    OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, l);
    if (l->cert_pem) {
        flags |= MHD_USE_TLS;
        OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, l->cert_pem);
        OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, l->key_pem);
        OPT(MHD_OPTION_HTTPS_PRIORITIES, 0,
            strcmp(cfg->min_version, "1.3") == 0 ? TLS13_PRIORITIES : TLS12_PRIORITIES);
        if (l->ca_pem)
            OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, l->ca_pem);
    }
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
    return MHD_start_daemon(flags, 0, NULL, NULL, l->handlers.request, l->handlers.cls,
                            MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
}

static void listener_free(listener *l)
{
    free(l->owner);
    free(l->cert_pem);
    free(l->key_pem);
    free(l->ca_pem);
    pthread_cond_destroy(&l->wake);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

listener *listener_start(const pp_host *h, pp_instance *self, const char *name,
                         const listener_config *cfg, const listener_handlers *handlers, char *err,
                         size_t errlen)
{
    listener *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    *l = (listener){.h = h, .self = self, .cfg = cfg, .handlers = *handlers};
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->wake, NULL);
    const char *owner = self ? h->instance_id(self) : name;
    if (!(l->owner = strdup(owner ? owner : ""))) {
        snprintf(err, errlen, "out of memory");
        listener_free(l);
        return NULL;
    }
    if (load_tls(l, err, errlen) < 0) {
        listener_free(l);
        return NULL;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(*cfg->host ? cfg->host : NULL, cfg->port, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "address %s:%s: %s", cfg->host, cfg->port, gai_strerror(gai));
        listener_free(l);
        return NULL;
    }
    make_metrics(l, name);
    pthread_mutex_lock(&registry_lock);
    int fd = shared_socket(l->owner, ai->ai_addr);
    struct stat fd_stat = {0};
    if (fd >= 0 && fstat(fd, &fd_stat) != 0) {
        close(fd);
        fd = -1;
    }
    l->handed = fd >= 0;
    l->daemon = start_daemon(l, ai, fd);
    if (!l->daemon && fd >= 0)
        close_if_still_open(fd, &fd_stat);
    l->listen_fd = -1;
    if (l->daemon) {
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_LISTEN_FD);
        l->listen_fd = di ? di->listen_fd : -1;
        l->reg_next = registry;
        registry = l;
    }
    pthread_mutex_unlock(&registry_lock);
    if (l->daemon)
        warn_if_exposed(l, name, ai->ai_addr);
    if (l->daemon && l->handed)
        h->log(self, PP_LOG_INFO,
               "%s: serving %s:%s on the listening socket of the instance it replaces "
               "(nothing refused meanwhile)",
               name, cfg->host, cfg->port);
    freeaddrinfo(ai);
    if (!l->daemon) {
        snprintf(err, errlen, "cannot listen on %s:%s%s", cfg->host, cfg->port,
                 cfg->cert_file ? " (in use, or a bad certificate or key?)" : " (in use?)");
        listener_free(l);
        return NULL;
    }
    atomic_store(&l->started, 1);
    if (pthread_create(&l->watchdog, NULL, watchdog_main, l) == 0)
        l->watchdog_running = 1;
    else
        h->log(self, PP_LOG_WARN, "no request_timeout watchdog: cannot start its thread");
    return l;
}

void listener_quiesce(listener *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&registry_lock);
    for (listener **p = &registry; *p; p = &(*p)->reg_next) {
        if (*p == l) {
            *p = l->reg_next;
            break;
        }
    }
    if (l->listen_fd >= 0) {
        MHD_socket fd = MHD_quiesce_daemon(l->daemon);
        if (fd != MHD_INVALID_SOCKET)
            close(fd); /* the socket lives on while a replacement holds it */
        l->listen_fd = -1;
    }
    pthread_mutex_unlock(&registry_lock);
}

/* 1 while a connection of l has a request under way: in its handler, or
 * accepted within DRAIN_IDLE_MS and not answered yet (its first request
 * may be on the way). A kept-alive connection between two requests is
 * not waited for: a client busy on it would hold the reload up to the
 * deadline. */
static int requests_under_way(listener *l)
{
    int64_t now = now_ns();
    int busy = 0;
    pthread_mutex_lock(&l->lock);
    for (tracked_conn *t = l->conns; t && !busy; t = t->next)
        busy = !t->cut &&
               (t->in_request || t->suspended ||
                (!t->served && now - t->request_start_ns < (int64_t)DRAIN_IDLE_MS * NS_PER_MS));
    pthread_mutex_unlock(&l->lock);
    return busy;
}

void listener_drain(listener *l, int64_t deadline_ns)
{
    if (!l)
        return;
    while (requests_under_way(l) && now_ns() < deadline_ns) {
        struct timespec ts = {0, DRAIN_POLL_MS * NS_PER_MS};
        nanosleep(&ts, NULL);
    }
}

void listener_stop(listener *l)
{
    if (!l)
        return;
    listener_quiesce(l);
    pthread_mutex_lock(&l->lock);
    l->stopping = 1;
    pthread_cond_signal(&l->wake);
    pthread_mutex_unlock(&l->lock);
    if (l->watchdog_running)
        pthread_join(l->watchdog, NULL);
    MHD_stop_daemon(l->daemon);
    listener_free(l);
}
