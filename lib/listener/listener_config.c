/* listener_config: the listener options read from a config section and
 * checked, so that a bad value is a startup error naming its key. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "listener.h"
#include "pp_constants.h"

#define MIN_HEADER_SIZE ((int64_t)4 << 10)
#define IPV4_BITS 32
#define IPV6_BITS 128
#define CIDR_TEXT_MAX 64
#define MAX_CONNECTIONS 1000000

const pp_option listener_tls_options[] = {
    {"cert_file", PP_OPT_STRING, NULL, "server certificate chain (PEM)", 1, NULL},
    {"key_file", PP_OPT_STRING, NULL, "its private key (PEM)", 1, NULL},
    {"client_ca_file", PP_OPT_STRING, NULL,
     "CA certificates (PEM) that client certificates must chain to: mutual TLS; clients "
     "without one get 403",
     0, NULL},
    {"min_version", PP_OPT_STRING, "1.2", "oldest TLS version accepted: 1.2 or 1.3", 0, NULL},
    {0},
};

const pp_option listener_basic_auth_options[] = {
    {"username", PP_OPT_STRING, NULL, "user name clients must send", 1, NULL},
    {"password", PP_OPT_STRING, NULL, "password clients must send", 0, NULL},
    {"password_file", PP_OPT_STRING, NULL, "file holding that password", 0, NULL},
    {"tenant", PP_OPT_STRING, NULL,
     "X-Scope-OrgID pinned for these credentials: another one sent is refused (403)", 0, NULL},
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

static char *dup_opt(const pp_host *h, const pp_config *c, const char *key)
{
    const char *v = h->cfg_is_set(c, key) ? h->cfg_string(c, key) : NULL;
    return v ? strdup(v) : NULL;
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

static int read_networks(const pp_host *h, const pp_config *cfg, listener_config *out)
{
    const pp_config *list =
        h->cfg_is_set(cfg, "allowed_networks") ? h->cfg_child(cfg, "allowed_networks") : NULL;
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

static int read_auth(const pp_host *h, const pp_config *cfg, listener_config *out)
{
    const pp_config *basic = h->cfg_child(cfg, "basic_auth");
    if (basic && h->cfg_is_set(basic, "username")) {
        int has_pw = h->cfg_is_set(basic, "password"),
            has_file = h->cfg_is_set(basic, "password_file");
        if (has_pw && has_file)
            return h->cfg_error(basic, "password", "set password or password_file, not both");
        if (!has_pw && !has_file)
            return h->cfg_error(basic, "password", "password or password_file is required");
        out->username = dup_opt(h, basic, "username");
        out->password = h->cfg_secret(basic, "password");
        out->basic_tenant = dup_opt(h, basic, "tenant");
        if (!out->username || !out->password)
            return -1;
    }
    if (h->cfg_is_set(cfg, "bearer_token") || h->cfg_is_set(cfg, "bearer_token_file")) {
        if (h->cfg_is_set(cfg, "bearer_token") && h->cfg_is_set(cfg, "bearer_token_file"))
            return h->cfg_error(cfg, "bearer_token",
                                "set bearer_token or bearer_token_file, not both");
        out->bearer_token = h->cfg_secret(cfg, "bearer_token");
        if (!out->bearer_token)
            return -1;
        out->bearer_tenant = dup_opt(h, cfg, "bearer_token_tenant");
    } else if (h->cfg_is_set(cfg, "bearer_token_tenant")) {
        return h->cfg_error(cfg, "bearer_token_tenant", "needs bearer_token");
    }
    return 0;
}

static int read_tls(const pp_host *h, const pp_config *cfg, listener_config *out)
{
    if (!h->cfg_is_set(cfg, "tls"))
        return 0;
    const pp_config *tls = h->cfg_child(cfg, "tls");
    out->cert_file = dup_opt(h, tls, "cert_file");
    out->key_file = dup_opt(h, tls, "key_file");
    out->client_ca_file = dup_opt(h, tls, "client_ca_file");
    /* NULL when tls is not a mapping, which the option checks report
     * (found by the config fuzz target: strdup(NULL)) */
    const char *min_version = h->cfg_string(tls, "min_version");
    if (!min_version)
        return -1;
    out->min_version = strdup(min_version);
    if (!out->cert_file || !out->key_file || !out->min_version)
        return h->cfg_error(tls, NULL, "needs cert_file and key_file");
    if (strcmp(out->min_version, "1.2") != 0 && strcmp(out->min_version, "1.3") != 0)
        return h->cfg_error(tls, "min_version", "want 1.2 or 1.3, got \"%s\"", out->min_version);
    return 0;
}

static int read_limits(const pp_host *h, const pp_config *cfg, listener_config *out)
{
    out->max_connections = h->cfg_int(cfg, "max_connections");
    out->max_connections_per_ip = h->cfg_int(cfg, "max_connections_per_ip");
    out->read_timeout_ns = h->cfg_duration_ns(cfg, "read_timeout");
    out->request_timeout_ns = h->cfg_duration_ns(cfg, "request_timeout");
    out->max_header_size = h->cfg_size(cfg, "max_header_size");
    if (out->max_connections <= 0 || out->max_connections > MAX_CONNECTIONS)
        return h->cfg_error(cfg, "max_connections", "must be 1 to %d", MAX_CONNECTIONS);
    if (out->max_connections_per_ip <= 0)
        return h->cfg_error(cfg, "max_connections_per_ip", "must be positive");
    if (out->read_timeout_ns < NS_PER_SEC)
        return h->cfg_error(cfg, "read_timeout", "must be at least 1s");
    if (out->request_timeout_ns < NS_PER_SEC)
        return h->cfg_error(cfg, "request_timeout", "must be at least 1s");
    if (out->max_header_size < MIN_HEADER_SIZE)
        return h->cfg_error(cfg, "max_header_size", "must be at least %lld bytes",
                            (long long)MIN_HEADER_SIZE);
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

int listener_config_read(const pp_host *h, const pp_config *cfg, const char *address_key,
                         listener_config *out)
{
    memset(out, 0, sizeof *out);
    if (!cfg) { /* the section left out: every option at its default */
        out->max_connections = LISTENER_DEFAULT_MAX_CONNECTIONS;
        out->max_connections_per_ip = LISTENER_DEFAULT_MAX_CONNECTIONS_PER_IP;
        out->read_timeout_ns = LISTENER_DEFAULT_READ_TIMEOUT_S * NS_PER_SEC;
        out->request_timeout_ns = LISTENER_DEFAULT_REQUEST_TIMEOUT_S * NS_PER_SEC;
        out->max_header_size = LISTENER_DEFAULT_MAX_HEADER_SIZE;
        return 0;
    }
    const char *address = address_key ? h->cfg_string(cfg, address_key) : NULL;
    if (listener_config_set_address(out, address) < 0)
        return h->cfg_error(cfg, address_key, "want host:port or [v6]:port, got \"%s\"", address);
    if (read_limits(h, cfg, out) < 0 || read_networks(h, cfg, out) < 0 ||
        read_auth(h, cfg, out) < 0 || read_tls(h, cfg, out) < 0)
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
