/* http_client_options: the option tables and the reader that turns the
 * options into http_client_settings.
 *
 * A component's own options are parsed by its cfg_fill, through the rows
 * of HTTP_CLIENT_OPTIONS, into an http_client_options (written values or
 * the table's defaults). A pprof_scrape target's mapping is not checked by
 * the host and only what it writes overrides the job's: the same rows are
 * walked over it (walk_written), booleans parsed here. Either way the
 * rules below then see one http_client_options, and only what it sets
 * changes the settings. Conflicts follow Prometheus'
 * HTTPClientConfig.Validate and ProxyConfig.Validate (prometheus/common
 * config/http_config.go, read at commit 0053e8cb). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_client.h"

#define HEADER_FILE_MAX 65536

const pp_option http_client_basic_auth_options[] = {
    {.name = "username",
     .type = PP_OPT_STRING,
     .description = "User name.",
     PP_FIELD(http_client_basic_auth_values, username)},
    {.name = "password",
     .type = PP_OPT_STRING,
     .description = "Password.",
     PP_FIELD(http_client_basic_auth_values, password)},
    {.name = "password_file",
     .type = PP_OPT_STRING,
     .description = "File holding the password.",
     PP_FIELD(http_client_basic_auth_values, password_file)},
    {0},
};

const pp_option http_client_authorization_options[] = {
    {.name = "type",
     .type = PP_OPT_STRING,
     .default_value = "Bearer",
     .description = "Scheme of the Authorization header (not Basic: use basic_auth).",
     PP_FIELD(http_client_authorization_values, type)},
    {.name = "credentials",
     .type = PP_OPT_STRING,
     .description = "Credentials after the type.",
     PP_FIELD(http_client_authorization_values, credentials)},
    {.name = "credentials_file",
     .type = PP_OPT_STRING,
     .description = "File holding the credentials.",
     PP_FIELD(http_client_authorization_values, credentials_file)},
    {0},
};

const pp_option http_client_tls_options[] = {
    {.name = "ca_file",
     .type = PP_OPT_STRING,
     .description = "CA certificates (PEM file) to verify the server with.",
     PP_FIELD(http_client_tls_values, ca_file)},
    {.name = "ca_pem",
     .type = PP_OPT_STRING,
     .description = "The same, inline PEM.",
     PP_FIELD(http_client_tls_values, ca_pem)},
    {.name = "cert_file",
     .type = PP_OPT_STRING,
     .description = "Client certificate (PEM file).",
     PP_FIELD(http_client_tls_values, cert_file)},
    {.name = "cert_pem",
     .type = PP_OPT_STRING,
     .description = "Client certificate, inline PEM.",
     PP_FIELD(http_client_tls_values, cert_pem)},
    {.name = "key_file",
     .type = PP_OPT_STRING,
     .description = "Client certificate's key (PEM file).",
     PP_FIELD(http_client_tls_values, key_file)},
    {.name = "key_pem",
     .type = PP_OPT_STRING,
     .description = "Client certificate's key, inline PEM.",
     PP_FIELD(http_client_tls_values, key_pem)},
    {.name = "server_name",
     .type = PP_OPT_STRING,
     .description = "Name to expect in the server's certificate (and send as SNI) instead of "
                    "the address' host.",
     PP_FIELD(http_client_tls_values, server_name)},
    {.name = "insecure_skip_verify",
     .type = PP_OPT_BOOL,
     .default_value = "false",
     .description = "Do not verify the certificate.",
     PP_FIELD(http_client_tls_values, insecure_skip_verify)},
    {.name = "min_version",
     .type = PP_OPT_STRING,
     .description = "Oldest TLS version accepted: TLS10, TLS11, TLS12 or TLS13 (default: "
                    "the TLS library's).",
     PP_FIELD(http_client_tls_values, min_version)},
    {0},
};

/* The same rows with offsets into an http_client_options, for walking a
 * target's mapping; "tls" and "headers" stand for the component's keys. */
typedef struct options_root {
    http_client_options o;
} options_root;

static const pp_option walk_rows[] = {
    HTTP_CLIENT_OPTIONS(options_root, o, "tls", "headers", "false"),
    {0},
};

static const char *row_key(const pp_option *o, const http_client_keys *keys)
{
    if (o->children == http_client_tls_options)
        return keys->tls;
    return o->type == PP_OPT_ANY && strcmp(o->name, "headers") == 0 ? keys->headers : o->name;
}

/* Stores what `node` writes for each row (a string's text, "" for a null
 * value; a boolean, else HTTP_CLIENT_UNSET; a section's children; an ANY
 * row's node) and nothing else: an unchecked mapping has no defaults.
 * Reading the node key by key is the point here: which keys are written
 * decides what a target overrides. */
static int walk_written(const pp_host *h, const pp_config *node, const pp_option *rows,
                        const http_client_keys *keys, char *base)
{
    int rc = 0;
    for (const pp_option *o = rows; o->name; o++) {
        const char *key = keys ? row_key(o, keys) : o->name;
        const pp_config *v = node ? h->cfg_child(node, key) : NULL;
        const char *text = v ? h->cfg_scalar(v) : NULL;
        char *field = base + o->offset;
        int b = HTTP_CLIENT_UNSET;
        switch (o->type) {
        case PP_OPT_STRING:
            memcpy(field, &text, sizeof text);
            break;
        case PP_OPT_BOOL:
            if (text && strcmp(text, "true") != 0 && strcmp(text, "false") != 0)
                rc = h->cfg_error(node, key, "expected true or false");
            else if (text)
                b = strcmp(text, "true") == 0;
            memcpy(field, &b, sizeof b);
            break;
        case PP_OPT_SECTION:
            rc |= walk_written(h, v, o->children, NULL, field);
            break;
        default:
            memcpy(field, &v, sizeof v);
            break;
        }
    }
    return rc;
}

static int written(const char *v)
{
    return v && v[0];
}

static int set_str(char **dst, const char *s)
{
    char *copy;
    if (!s)
        return 0;
    copy = strdup(s);
    if (!copy)
        return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

static void set_bool(int *dst, int v)
{
    if (v != HTTP_CLIENT_UNSET)
        *dst = v;
}

/* `key` or `key`_file (their values given) through the host's secret
 * reader; *out untouched when neither is written. */
static int read_secret_pair(const pp_host *h, const pp_config *node, const char *key,
                            const char *value, const char *file_value, char **out)
{
    char file_key[64];
    char *s;
    snprintf(file_key, sizeof file_key, "%s_file", key);
    if (written(value) && written(file_value))
        return h->cfg_error(node, key, "set %s or %s, not both", key, file_key);
    if (!written(value) && !written(file_value))
        return 0;
    s = h->cfg_secret(node, key);
    if (!s)
        return -1;
    free(*out);
    *out = s;
    return 0;
}

/* ---- auth ---- */

static void clear_auth(http_client_settings *s)
{
    free(s->auth_type);
    free(s->auth_credentials);
    free(s->username);
    free(s->password);
    s->auth_type = s->auth_credentials = s->username = s->password = NULL;
}

static int read_authorization(const pp_host *h, const pp_config *auth,
                              const http_client_authorization_values *a, http_client_settings *s)
{
    const char *type = a->type;
    size_t len;
    while (type && isspace((unsigned char)*type))
        type++;
    len = type ? strlen(type) : 0;
    while (len > 0 && isspace((unsigned char)type[len - 1]))
        len--;
    if (len == 0)
        type = "Bearer", len = strlen("Bearer");
    if (len == strlen("basic") && strncasecmp(type, "basic", len) == 0)
        return h->cfg_error(auth, "type",
                            "authorization type cannot be \"basic\": use basic_auth instead");
    if (written(a->credentials) && written(a->credentials_file))
        return h->cfg_error(auth, "credentials", "set credentials or credentials_file, not both");
    s->auth_type = strndup(type, len);
    if (!s->auth_type || read_secret_pair(h, auth, "credentials", a->credentials,
                                          a->credentials_file, &s->auth_credentials) < 0)
        return -1;
    return set_str(&s->auth_credentials, s->auth_credentials ? NULL : "");
}

static int read_auth(const pp_host *h, const pp_config *node, const http_client_options *o,
                     http_client_settings *s)
{
    const pp_config *basic = h->cfg_child(node, "basic_auth");
    /* written, even empty (`authorization: {}` sends Bearer), differs from
     * left out, which only the node tells */
    const pp_config *auth =
        h->cfg_is_set(node, "authorization") ? h->cfg_child(node, "authorization") : NULL;
    int sets_bearer = written(o->bearer_token) || written(o->bearer_token_file);
    int sets_basic = h->cfg_count(basic) > 0;
    if (sets_bearer && sets_basic)
        return h->cfg_error(node, "basic_auth", "set bearer_token or basic_auth, not both");
    if (auth && sets_bearer)
        return h->cfg_error(node, "authorization",
                            "set authorization or bearer_token(_file), not both");
    if (auth && sets_basic)
        return h->cfg_error(node, "authorization", "set authorization or basic_auth, not both");
    if (!sets_bearer && !sets_basic && !auth)
        return 0;
    clear_auth(s); /* a node's own auth replaces the one it inherits, whatever kind */
    if (auth)
        return read_authorization(h, auth, &o->authorization, s);
    if (sets_bearer) {
        if (read_secret_pair(h, node, "bearer_token", o->bearer_token, o->bearer_token_file,
                             &s->auth_credentials) < 0)
            return -1;
        return set_str(&s->auth_type, "Bearer");
    }
    /* Prometheus sends an empty user name when none is given */
    const http_client_basic_auth_values *b = &o->basic_auth;
    if (set_str(&s->username, b->username ? b->username : "") < 0 ||
        read_secret_pair(h, basic, "password", b->password, b->password_file, &s->password) < 0)
        return -1;
    return 0;
}

/* ---- TLS ---- */

static int parse_tls_version(const char *v, http_client_tls_version *out)
{
    static const char *const names[] = {"TLS10", "TLS11", "TLS12", "TLS13"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = (http_client_tls_version)(HTTP_CLIENT_TLS10 + i);
            return 0;
        }
    return -1;
}

static int tls_pair(const pp_host *h, const pp_config *tls, const char *what,
                    const char *file_value, const char *pem_value, char **file, char **pem)
{
    char fkey[32], pkey[32];
    snprintf(fkey, sizeof fkey, "%s_file", what);
    snprintf(pkey, sizeof pkey, "%s_pem", what);
    if (written(file_value) && written(pem_value))
        return h->cfg_error(tls, pkey, "set %s or %s, not both", fkey, pkey);
    if (written(file_value) || written(pem_value)) {
        free(*file);
        free(*pem);
        *file = *pem = NULL;
    }
    if (written(file_value))
        return set_str(file, file_value);
    if (written(pem_value))
        return set_str(pem, pem_value);
    return 0;
}

static int read_tls(const pp_host *h, const pp_config *tls, const http_client_tls_values *t,
                    http_client_settings *s)
{
    const char *mv = t->min_version;
    if (!tls)
        return 0;
    if (tls_pair(h, tls, "ca", t->ca_file, t->ca_pem, &s->ca_file, &s->ca_pem) < 0 ||
        tls_pair(h, tls, "cert", t->cert_file, t->cert_pem, &s->cert_file, &s->cert_pem) < 0 ||
        tls_pair(h, tls, "key", t->key_file, t->key_pem, &s->key_file, &s->key_pem) < 0 ||
        set_str(&s->server_name, t->server_name) < 0)
        return -1;
    set_bool(&s->insecure_skip_verify, t->insecure_skip_verify);
    if (mv && mv[0] && parse_tls_version(mv, &s->min_version) < 0)
        return h->cfg_error(tls, "min_version",
                            "unknown TLS version \"%s\" (TLS10, TLS11, TLS12 or TLS13)", mv);
    if (!(s->cert_file || s->cert_pem) != !(s->key_file || s->key_pem))
        return h->cfg_error(tls, s->cert_file || s->cert_pem ? "cert_file" : "key_file",
                            "cert_file and key_file go together (or cert_pem and key_pem)");
    return 0;
}

/* ---- name -> values maps ---- */

void http_client_kv_free(http_client_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].name);
        free(kv[i].value);
    }
    free(kv);
}

int http_client_kv_copy(http_client_kv **dst, size_t *n_dst, const http_client_kv *src, size_t n)
{
    *dst = NULL;
    *n_dst = 0;
    if (n == 0)
        return 0;
    *dst = calloc(n, sizeof **dst);
    if (!*dst)
        return -1;
    *n_dst = n;
    for (size_t i = 0; i < n; i++) {
        (*dst)[i].name = strdup(src[i].name);
        (*dst)[i].value = strdup(src[i].value);
        if (!(*dst)[i].name || !(*dst)[i].value)
            return -1;
    }
    return 0;
}

static int kv_append(http_client_kv **kv, size_t *n, const char *name, const char *value)
{
    http_client_kv *grown = realloc(*kv, (*n + 1) * sizeof **kv);
    if (!grown)
        return -1;
    *kv = grown;
    grown[*n].name = strdup(name);
    grown[*n].value = strdup(value);
    if (!grown[*n].name || !grown[*n].value) {
        free(grown[*n].name);
        free(grown[*n].value);
        return -1;
    }
    (*n)++;
    return 0;
}

/* Drops every value of name (any case: HTTP header and parameter names). */
static void kv_remove(http_client_kv *kv, size_t *n, const char *name)
{
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        if (strcasecmp(kv[i].name, name) == 0) {
            free(kv[i].name);
            free(kv[i].value);
        } else {
            kv[kept++] = kv[i];
        }
    }
    *n = kept;
}

/* A file's text with surrounding white space cut (Prometheus trims header
 * files); NULL when it cannot be read (reported). */
static char *read_value_file(const pp_host *h, const pp_config *at, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf, *start;
    size_t n;
    if (!f) {
        h->cfg_error(at, NULL, "cannot open %s: %m", path);
        return NULL;
    }
    buf = malloc(HEADER_FILE_MAX + 1);
    n = buf ? fread(buf, 1, HEADER_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (!buf)
        return NULL;
    if (n > HEADER_FILE_MAX) {
        free(buf);
        h->cfg_error(at, NULL, "%s is larger than %d bytes", path, HEADER_FILE_MAX);
        return NULL;
    }
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        n--;
    buf[n] = '\0';
    for (start = buf; isspace((unsigned char)*start); start++)
        ;
    memmove(buf, start, strlen(start) + 1);
    return buf;
}

/* Appends a sequence of scalar values (read from files when from_files). */
static int add_values(const pp_host *h, const pp_config *seq, const char *name, int from_files,
                      http_client_kv **kv, size_t *n)
{
    if (h->cfg_kind(seq) == PP_NODE_SCALAR)
        return kv_append(kv, n, name, h->cfg_scalar(seq));
    if (h->cfg_kind(seq) != PP_NODE_SEQUENCE)
        return h->cfg_error(seq, NULL, "expected a value or a list of values");
    for (size_t i = 0; i < h->cfg_count(seq); i++) {
        const pp_config *item = h->cfg_item(seq, i);
        const char *v = h->cfg_scalar(item);
        char *text;
        int rc;
        if (!v)
            return h->cfg_error(seq, NULL, "item %zu: expected a single value", i);
        if (!from_files) {
            if (kv_append(kv, n, name, v) < 0)
                return -1;
            continue;
        }
        if (!(text = read_value_file(h, item, v)))
            return -1;
        rc = kv_append(kv, n, name, text);
        free(text);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Prometheus' {values: [...], secrets: [...], files: [...]}. */
static int add_structured(const pp_host *h, const pp_config *m, const char *name,
                          http_client_kv **kv, size_t *n)
{
    static const char *const keys[] = {"values", "secrets", "files"};
    for (size_t i = 0; i < h->cfg_count(m); i++) {
        const char *k = h->cfg_key(m, i);
        size_t j;
        for (j = 0; j < 3 && strcmp(k, keys[j]) != 0; j++)
            ;
        if (j == 3)
            return h->cfg_error(m, k, "unknown key (values, secrets or files)");
        if (add_values(h, h->cfg_item(m, i), name, j == 2, kv, n) < 0)
            return -1;
    }
    return 0;
}

/* A name -> values map; with structured, Prometheus' {values, secrets,
 * files} is a value form too (http_headers only). */
static int read_multimap(const pp_host *h, const pp_config *parent, const char *key, int structured,
                         http_client_kv **kv, size_t *n_kv)
{
    /* a null value is "not set" but "" a (bad) value: only the node tells */
    const pp_config *map = h->cfg_is_set(parent, key) ? h->cfg_child(parent, key) : NULL;
    size_t i, n = map ? h->cfg_count(map) : 0;
    if (!map)
        return 0;
    if (h->cfg_kind(map) != PP_NODE_MAPPING)
        return h->cfg_error(parent, key, "expected a mapping of names to values");
    for (i = 0; i < n; i++) {
        const char *name = h->cfg_key(map, i);
        const pp_config *v = h->cfg_item(map, i);
        int rc;
        if (!name[0])
            return h->cfg_error(map, name, "empty name");
        kv_remove(*kv, n_kv, name);
        if (h->cfg_kind(v) == PP_NODE_MAPPING && structured)
            rc = add_structured(h, v, name, kv, n_kv);
        else
            rc = add_values(h, v, name, 0, kv, n_kv);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int http_client_read_multimap(const pp_host *h, const pp_config *parent, const char *key,
                              http_client_kv **kv, size_t *n_kv)
{
    return read_multimap(h, parent, key, 0, kv, n_kv);
}

/* ---- proxy ---- */

static int read_proxy(const pp_host *h, const pp_config *node, const http_client_options *o,
                      http_client_settings *s)
{
    if (set_str(&s->proxy_url, o->proxy_url) < 0 || set_str(&s->no_proxy, o->no_proxy) < 0)
        return -1;
    set_bool(&s->proxy_from_environment, o->proxy_from_environment);
    /* a null value is "not set" but "" a (bad) value: only the node tells */
    if (h->cfg_is_set(node, "proxy_connect_header")) {
        http_client_kv_free(s->proxy_connect_headers, s->n_proxy_connect_headers);
        s->proxy_connect_headers = NULL;
        s->n_proxy_connect_headers = 0;
        if (read_multimap(h, node, "proxy_connect_header", 0, &s->proxy_connect_headers,
                          &s->n_proxy_connect_headers) < 0)
            return -1;
    }
    if (s->proxy_from_environment && s->proxy_url && s->proxy_url[0])
        return h->cfg_error(node, "proxy_from_environment",
                            "set proxy_url or proxy_from_environment, not both");
    if (s->proxy_from_environment && s->no_proxy && s->no_proxy[0])
        return h->cfg_error(node, "no_proxy",
                            "no_proxy goes with proxy_url; with proxy_from_environment, "
                            "NO_PROXY is read from the environment");
    if (s->no_proxy && s->no_proxy[0] && !(s->proxy_url && s->proxy_url[0]))
        return h->cfg_error(node, "no_proxy", "no_proxy needs proxy_url");
    if (s->n_proxy_connect_headers > 0 && !s->proxy_from_environment &&
        !(s->proxy_url && s->proxy_url[0]))
        return h->cfg_error(node, "proxy_connect_header",
                            "proxy_connect_header needs proxy_url or proxy_from_environment");
    return 0;
}

int http_client_read(const pp_host *h, const pp_config *node, const http_client_keys *keys,
                     http_client_settings *s)
{
    options_root walked = {0};
    const http_client_options *o = keys->filled;
    int rc = 0;
    if (!o) {
        rc |= walk_written(h, node, walk_rows, keys, (char *)&walked);
        o = &walked.o;
    }
    rc |= read_auth(h, node, o, s);
    rc |= read_tls(h, h->cfg_child(node, keys->tls), &o->tls, s);
    rc |= read_proxy(h, node, o, s);
    set_bool(&s->follow_redirects, o->follow_redirects);
    set_bool(&s->enable_http2, o->enable_http2);
    rc |= read_multimap(h, node, keys->headers, 1, &s->headers, &s->n_headers);
    return rc ? -1 : 0;
}

/* ---- copies ---- */

void http_client_settings_clear(http_client_settings *s)
{
    char **strs[] = {&s->auth_type,   &s->auth_credentials, &s->username, &s->password, &s->ca_file,
                     &s->cert_file,   &s->key_file,         &s->ca_pem,   &s->cert_pem, &s->key_pem,
                     &s->server_name, &s->proxy_url,        &s->no_proxy};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        free(*strs[i]);
    http_client_kv_free(s->proxy_connect_headers, s->n_proxy_connect_headers);
    http_client_kv_free(s->headers, s->n_headers);
    memset(s, 0, sizeof *s);
}

static int dup_or_null(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return src && !*dst ? -1 : 0;
}

int http_client_settings_copy(http_client_settings *dst, const http_client_settings *src)
{
    const char *from[] = {src->auth_type, src->auth_credentials, src->username,    src->password,
                          src->ca_file,   src->cert_file,        src->key_file,    src->ca_pem,
                          src->cert_pem,  src->key_pem,          src->server_name, src->proxy_url,
                          src->no_proxy};
    char **to[] = {&dst->auth_type, &dst->auth_credentials, &dst->username,    &dst->password,
                   &dst->ca_file,   &dst->cert_file,        &dst->key_file,    &dst->ca_pem,
                   &dst->cert_pem,  &dst->key_pem,          &dst->server_name, &dst->proxy_url,
                   &dst->no_proxy};
    int rc = 0;
    *dst = *src;
    dst->headers = dst->proxy_connect_headers = NULL;
    dst->n_headers = dst->n_proxy_connect_headers = 0;
    for (size_t i = 0; i < sizeof to / sizeof to[0]; i++)
        rc |= dup_or_null(to[i], from[i]);
    rc |= http_client_kv_copy(&dst->headers, &dst->n_headers, src->headers, src->n_headers);
    rc |= http_client_kv_copy(&dst->proxy_connect_headers, &dst->n_proxy_connect_headers,
                              src->proxy_connect_headers, src->n_proxy_connect_headers);
    if (rc) {
        http_client_settings_clear(dst);
        return -1;
    }
    return 0;
}
