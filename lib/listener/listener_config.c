/* listener_config: the rules between the listener options, checked after
 * cfg_fill has parsed them and checked each one against its row of
 * LISTENER_OPTIONS (types, enums, bounds), so that a bad value is a
 * startup error naming its key. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "listener.h"
#include "pp_constants.h"

#define IPV4_BITS 32
#define IPV6_BITS 128
#define CIDR_TEXT_MAX 64

static const char *const tls_versions[] = {"1.2", "1.3", NULL};

const pp_option listener_tls_options[] = {
    {"cert_file", PP_OPT_STRING, NULL, "server certificate chain (PEM)", 1, NULL,
     PP_FIELD(listener_tls_settings, cert_file)},
    {"key_file", PP_OPT_STRING, NULL, "its private key (PEM)", 1, NULL,
     PP_FIELD(listener_tls_settings, key_file)},
    {"client_ca_file", PP_OPT_STRING, NULL,
     "CA certificates (PEM) that client certificates must chain to: mutual TLS; clients "
     "without one get 403",
     0, NULL, PP_FIELD(listener_tls_settings, client_ca_file)},
    {"min_version", PP_OPT_STRING, "1.2", "oldest TLS version accepted", 0, NULL,
     PP_FIELD(listener_tls_settings, min_version), .enum_values = tls_versions},
    {0},
};

const pp_option listener_basic_auth_options[] = {
    {"username", PP_OPT_STRING, NULL, "user name clients must send", 1, NULL,
     PP_FIELD(listener_basic_auth_settings, username)},
    {"password", PP_OPT_STRING, NULL, "password clients must send", 0, NULL,
     PP_FIELD(listener_basic_auth_settings, password)},
    {"password_file", PP_OPT_STRING, NULL, "file holding that password", 0, NULL,
     PP_FIELD(listener_basic_auth_settings, password_file)},
    {"tenant", PP_OPT_STRING, NULL,
     "X-Scope-OrgID pinned for these credentials: another one sent is refused (403)", 0, NULL,
     PP_FIELD(listener_basic_auth_settings, tenant)},
    {0},
};

/* Splits "host:port" or "[v6]:port". 0 or -1. */
int listener_split_address(const char *ep, char **host, char **port)
{
    const char *colon = strrchr(ep, ':');
    if (!colon || !colon[1])
        return -1;
    const char *hb = ep, *he = colon;
    if (*hb == '[') {
        hb++;
        if (he == hb || he[-1] != ']')
            return -1;
        he--;
    }
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (*end || p > 65535)
        return -1;
    *host = strndup(hb, (size_t)(he - hb));
    *port = strdup(colon + 1);
    return *host && *port ? 0 : -1;
}

static int dup_opt(char **dst, const char *v)
{
    *dst = v ? strdup(v) : NULL;
    return v && !*dst ? -1 : 0;
}

static int parse_cidr(const char *text, listener_network *n)
{
    char buf[CIDR_TEXT_MAX];
    if (strlen(text) >= sizeof buf)
        return -1;
    strcpy(buf, text);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    n->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
    unsigned max = n->family == AF_INET ? IPV4_BITS : IPV6_BITS;
    if (inet_pton(n->family, buf, n->addr) != 1)
        return -1;
    n->prefix = max;
    if (slash) {
        char *end;
        unsigned long p = strtoul(slash + 1, &end, 10);
        if (*end || slash[1] == '\0' || p > max)
            return -1;
        n->prefix = (unsigned)p;
    }
    return 0;
}

/* Rule: allowed_networks, when written, lists at least one valid CIDR. */
static int make_networks(const pp_host *h, const pp_config *cfg, const pp_config *list,
                         listener_config *out)
{
    size_t n = list ? h->cfg_count(list) : 0;
    if (n == 0)
        return list ? h->cfg_error(cfg, "allowed_networks",
                                   "empty: no client could connect (omit it to allow any)")
                    : 0;
    out->networks = calloc(n, sizeof *out->networks);
    if (!out->networks)
        return h->cfg_error(cfg, "allowed_networks", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *text = h->cfg_scalar(h->cfg_item(list, i));
        if (!text || parse_cidr(text, &out->networks[i]) < 0)
            return h->cfg_error(cfg, "allowed_networks",
                                "item %zu \"%s\" is not an IPv4 or IPv6 CIDR (e.g. 10.0.0.0/8)", i,
                                text ? text : "");
        out->n_networks++;
    }
    return 0;
}

/* Rule: basic_auth has one of password and password_file. The node is
 * looked up only to place the error and to read the secret. */
static int make_basic_auth(const pp_host *h, const pp_config *cfg,
                           const listener_basic_auth_settings *s, listener_config *out)
{
    if (!s->username)
        return 0;
    const pp_config *basic = h->cfg_child(cfg, "basic_auth");
    if (s->password && s->password_file)
        return h->cfg_error(basic, "password", "set password or password_file, not both");
    if (!s->password && !s->password_file)
        return h->cfg_error(basic, "password", "password or password_file is required");
    if (dup_opt(&out->username, s->username) < 0 || dup_opt(&out->basic_tenant, s->tenant) < 0)
        return -1;
    out->password = h->cfg_secret(basic, "password");
    return out->password ? 0 : -1;
}

/* Rules: bearer_token or bearer_token_file, not both; a tenant needs one. */
static int make_bearer(const pp_host *h, const pp_config *cfg, const listener_settings *s,
                       listener_config *out)
{
    if (!s->bearer_token && !s->bearer_token_file)
        return s->bearer_token_tenant
                   ? h->cfg_error(cfg, "bearer_token_tenant", "needs bearer_token")
                   : 0;
    if (s->bearer_token && s->bearer_token_file)
        return h->cfg_error(cfg, "bearer_token", "set bearer_token or bearer_token_file, not both");
    out->bearer_token = h->cfg_secret(cfg, "bearer_token");
    if (!out->bearer_token)
        return -1;
    return dup_opt(&out->bearer_tenant, s->bearer_token_tenant);
}

/* Rule: TLS (any of its files written) needs cert_file and key_file. */
static int make_tls(const pp_host *h, const pp_config *cfg, const listener_tls_settings *s,
                    listener_config *out)
{
    if (!s->cert_file && !s->key_file && !s->client_ca_file)
        return 0;
    if (!s->cert_file || !s->key_file)
        return h->cfg_error(h->cfg_child(cfg, "tls"), NULL, "needs cert_file and key_file");
    if (!s->min_version) /* the table refused it: reported */
        return -1;
    if (dup_opt(&out->cert_file, s->cert_file) < 0 || dup_opt(&out->key_file, s->key_file) < 0 ||
        dup_opt(&out->client_ca_file, s->client_ca_file) < 0 ||
        dup_opt(&out->min_version, s->min_version) < 0)
        return h->cfg_error(cfg, "tls", "out of memory");
    return 0;
}

int listener_config_set_address(listener_config *c, const char *address)
{
    free(c->host);
    free(c->port);
    c->host = c->port = NULL;
    if (!address || !*address)
        return 0;
    return listener_split_address(address, &c->host, &c->port);
}

void listener_config_defaults(listener_config *out)
{
    memset(out, 0, sizeof *out);
    out->max_connections = LISTENER_DEFAULT_MAX_CONNECTIONS;
    out->max_connections_per_ip = LISTENER_DEFAULT_MAX_CONNECTIONS_PER_IP;
    out->read_timeout_ns = LISTENER_DEFAULT_READ_TIMEOUT_S * NS_PER_SEC;
    out->request_timeout_ns = LISTENER_DEFAULT_REQUEST_TIMEOUT_S * NS_PER_SEC;
    out->max_header_size = LISTENER_DEFAULT_MAX_HEADER_SIZE;
}

int listener_config_make(const pp_host *h, const pp_config *cfg, const listener_settings *s,
                         const char *address, const char *address_key, listener_config *out)
{
    memset(out, 0, sizeof *out);
    if (listener_config_set_address(out, address) < 0)
        return h->cfg_error(cfg, address_key, "want host:port or [v6]:port, got \"%s\"", address);
    out->max_connections = s->max_connections;
    out->max_connections_per_ip = s->max_connections_per_ip;
    out->read_timeout_ns = s->read_timeout_ns;
    out->request_timeout_ns = s->request_timeout_ns;
    out->max_header_size = s->max_header_size;
    if (make_networks(h, cfg, s->allowed_networks, out) < 0 ||
        make_basic_auth(h, cfg, &s->basic_auth, out) < 0 || make_bearer(h, cfg, s, out) < 0 ||
        make_tls(h, cfg, &s->tls, out) < 0)
        return -1;
    return 0;
}

void listener_config_free(listener_config *c)
{
    if (!c)
        return;
    free(c->host);
    free(c->port);
    free(c->networks);
    free(c->username);
    free(c->password);
    free(c->basic_tenant);
    free(c->bearer_token);
    free(c->bearer_tenant);
    free(c->cert_file);
    free(c->key_file);
    free(c->client_ca_file);
    free(c->min_version);
    memset(c, 0, sizeof *c);
}

static int dup_field(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return !src || *dst ? 0 : -1;
}

int listener_config_copy(listener_config *dst, const listener_config *src)
{
    *dst = *src;
    dst->networks = NULL;
    char **fields[] = {&dst->host,           &dst->port,         &dst->username,
                       &dst->password,       &dst->basic_tenant, &dst->bearer_token,
                       &dst->bearer_tenant,  &dst->cert_file,    &dst->key_file,
                       &dst->client_ca_file, &dst->min_version};
    const char *from[] = {src->host,           src->port,         src->username,
                          src->password,       src->basic_tenant, src->bearer_token,
                          src->bearer_tenant,  src->cert_file,    src->key_file,
                          src->client_ca_file, src->min_version};
    int rc = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        rc |= dup_field(fields[i], from[i]);
    if (src->n_networks) {
        dst->networks = malloc(src->n_networks * sizeof *dst->networks);
        if (dst->networks)
            memcpy(dst->networks, src->networks, src->n_networks * sizeof *dst->networks);
        else
            rc = -1;
    }
    if (rc) {
        listener_config_free(dst);
        return -1;
    }
    return 0;
}

static int str_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int listener_config_equal(const listener_config *a, const listener_config *b)
{
    return str_same(a->host, b->host) && str_same(a->port, b->port) &&
           a->max_connections == b->max_connections &&
           a->max_connections_per_ip == b->max_connections_per_ip &&
           a->read_timeout_ns == b->read_timeout_ns &&
           a->request_timeout_ns == b->request_timeout_ns &&
           a->max_header_size == b->max_header_size && a->n_networks == b->n_networks &&
           (a->n_networks == 0 ||
            memcmp(a->networks, b->networks, a->n_networks * sizeof *a->networks) == 0) &&
           str_same(a->username, b->username) && str_same(a->password, b->password) &&
           str_same(a->basic_tenant, b->basic_tenant) &&
           str_same(a->bearer_token, b->bearer_token) &&
           str_same(a->bearer_tenant, b->bearer_tenant) && !a->cert_file && !b->cert_file;
}
