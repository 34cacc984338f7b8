/* http_client: the HTTP client options every profpipe component that
 * calls out over HTTP shares (pprof_scrape, the pyroscope exporter and any
 * future one), like the OpenTelemetry Collector's confighttp: one option
 * table, one reader that turns a config node into http_client_settings,
 * and one libcurl setup from those settings.
 *
 * The names and meanings follow Prometheus' common HTTP client config
 * (prometheus/common config/http_config.go), which Grafana Alloy's
 * pyroscope.scrape and pyroscope.write expose too: bearer_token(_file),
 * basic_auth, authorization {type, credentials(_file)}, TLS {ca/cert/key
 * as files or inline PEM, server_name, insecure_skip_verify,
 * min_version}, proxy_url, no_proxy, proxy_from_environment,
 * proxy_connect_header, follow_redirects, enable_http2 and headers that
 * may carry several values each. Combinations Prometheus refuses are
 * refused here, with the config position of the offending key.
 *
 * Settings are plain owned data: a component may copy them (a scrape
 * target's own overrides start as a copy of the job's) and read them from
 * any thread. Secrets (*_file) are read once, when the config is read. */
#ifndef PROFPIPE_HTTP_CLIENT_H
#define PROFPIPE_HTTP_CLIENT_H

#include <stddef.h>

#include <curl/curl.h>
#include <profpipe/plugin.h>

/* One header (or query parameter) value; a name given several values
 * appears once per value, in order. Both strings owned. */
typedef struct http_client_kv {
    char *name;
    char *value;
} http_client_kv;

/* TLS versions of tls.min_version (Prometheus' TLS10..TLS13). */
typedef enum http_client_tls_version {
    HTTP_CLIENT_TLS_DEFAULT = 0, /* libcurl's (and the TLS library's) floor */
    HTTP_CLIENT_TLS10,
    HTTP_CLIENT_TLS11,
    HTTP_CLIENT_TLS12,
    HTTP_CLIENT_TLS13,
} http_client_tls_version;

typedef struct http_client_settings {
    /* Authorization: <auth_type> <auth_credentials>; from bearer_token(_file)
     * (type Bearer) or authorization. NULL = none. */
    char *auth_type;
    char *auth_credentials;
    char *username; /* basic auth when non-NULL */
    char *password;
    char *ca_file, *cert_file, *key_file; /* TLS, files */
    char *ca_pem, *cert_pem, *key_pem;    /* TLS, inline PEM */
    char *server_name;
    int insecure_skip_verify;
    http_client_tls_version min_version;
    char *proxy_url; /* NULL = no proxy (unless proxy_from_environment) */
    char *no_proxy;  /* comma-separated hosts, domains, CIDRs */
    int proxy_from_environment;
    http_client_kv *proxy_connect_headers; /* sent in CONNECT only */
    size_t n_proxy_connect_headers;
    int follow_redirects;
    int enable_http2;
    http_client_kv *headers;
    size_t n_headers;
} http_client_settings;

extern const pp_option http_client_basic_auth_options[];
extern const pp_option http_client_authorization_options[];
extern const pp_option http_client_tls_options[];

/* A boolean a target's mapping leaves out (the component level always
 * has one: written or the table's default). */
#define HTTP_CLIENT_UNSET (-1)

/* What HTTP_CLIENT_OPTIONS' sections fill (borrowed from the config). */
typedef struct http_client_basic_auth_values {
    const char *username, *password, *password_file;
} http_client_basic_auth_values;

typedef struct http_client_authorization_values {
    const char *type, *credentials, *credentials_file;
} http_client_authorization_values;

typedef struct http_client_tls_values {
    const char *ca_file, *ca_pem, *cert_file, *cert_pem, *key_file, *key_pem;
    const char *server_name;
    int insecure_skip_verify;
    const char *min_version;
} http_client_tls_values;

/* What HTTP_CLIENT_OPTIONS fills into a member of the component's
 * settings struct: the options as written (or their defaults), before
 * their rules; http_client_read turns them into http_client_settings. */
typedef struct http_client_options {
    const char *bearer_token, *bearer_token_file;
    http_client_basic_auth_values basic_auth;
    http_client_authorization_values authorization;
    const pp_config *headers;
    http_client_tls_values tls;
    const char *proxy_url, *no_proxy;
    int proxy_from_environment;
    const pp_config *proxy_connect_header;
    int follow_redirects;
    int enable_http2;
} http_client_options;

/* The options, to splice into a component's option table; cfg_fill
 * stores them into `member`, an http_client_options of the struct `settings`
 * the table fills. tls_key and headers_key name the TLS section and the
 * headers map (pprof_scrape says tls_config and http_headers, as
 * Prometheus does; the pyroscope exporter keeps its tls and headers);
 * follow_default is follow_redirects' default ("true" or "false"). */
/* clang-format off */
#define HTTP_CLIENT_OPTIONS(settings, member, tls_key, headers_key, follow_default)              \
    {.name = "bearer_token", .type = PP_OPT_STRING,                                          \
     .description = "Sent as `Authorization: Bearer`.",                                      \
     PP_FIELD(settings, member.bearer_token)},                                                   \
    {.name = "bearer_token_file", .type = PP_OPT_STRING,                                     \
     .description = "File holding the bearer token.",                                        \
     PP_FIELD(settings, member.bearer_token_file)},                                              \
    {.name = "basic_auth", .type = PP_OPT_SECTION, .description = "HTTP basic authentication.", \
     .children = http_client_basic_auth_options, PP_FIELD(settings, member.basic_auth)},         \
    {.name = "authorization", .type = PP_OPT_SECTION,                                        \
     .description = "`Authorization: <type> <credentials>` (not with bearer_token or"        \
                    " basic_auth).",                                                         \
     .children = http_client_authorization_options, PP_FIELD(settings, member.authorization)},   \
    {.name = headers_key, .type = PP_OPT_ANY,                                                \
     .description = "Headers sent with every request: `Name: value`, `Name: [v1, v2]` or"    \
                    " `Name: {values: [...], secrets: [...], files: [...]}` (Prometheus'"    \
                    " http_headers).",                                                       \
     PP_FIELD(settings, member.headers)},                                                        \
    {.name = tls_key, .type = PP_OPT_SECTION, .description = "TLS settings for https.",      \
     .children = http_client_tls_options, PP_FIELD(settings, member.tls)},                       \
    {.name = "proxy_url", .type = PP_OPT_STRING,                                             \
     .description = "HTTP proxy to send requests through.", PP_FIELD(settings, member.proxy_url)}, \
    {.name = "no_proxy", .type = PP_OPT_STRING,                                              \
     .description = "Comma-separated hosts, domains and CIDRs reached without proxy_url"     \
                    " (loopback always is).",                                                \
     PP_FIELD(settings, member.no_proxy)},                                                       \
    {.name = "proxy_from_environment", .type = PP_OPT_BOOL, .default_value = "false",        \
     .description = "Take the proxy from HTTP_PROXY, HTTPS_PROXY and NO_PROXY (or their"     \
                    " lowercase forms); when false and no proxy_url, no proxy at all.",      \
     PP_FIELD(settings, member.proxy_from_environment)},                                         \
    {.name = "proxy_connect_header", .type = PP_OPT_ANY,                                     \
     .description = "Headers sent to the proxy in CONNECT requests (https targets):"         \
                    " `Name: value` or `Name: [values]`.",                                   \
     PP_FIELD(settings, member.proxy_connect_header)},                                           \
    {.name = "follow_redirects", .type = PP_OPT_BOOL, .default_value = follow_default,       \
     .description = "Follow HTTP redirects.", PP_FIELD(settings, member.follow_redirects)},      \
    {.name = "enable_http2", .type = PP_OPT_BOOL, .default_value = "true",                   \
     .description = "Offer HTTP/2 to https servers (ALPN); false = HTTP/1.1 only.",          \
     PP_FIELD(settings, member.enable_http2)}
/* clang-format on */

/* Which keys a component calls its TLS section and headers map, and
 * what its cfg_fill stored from HTTP_CLIENT_OPTIONS: then every option
 * applies, written or at its default. NULL for a mapping the host did not
 * check (a pprof_scrape target): then only what it writes applies, read
 * from the node through the same rows. */
typedef struct http_client_keys {
    const char *tls;
    const char *headers;
    const http_client_options *filled;
} http_client_keys;

/* Reads the options that node sets onto s: only what it sets changes
 * (a target's own settings over a copy of the job's). An auth option
 * replaces the other auth kinds. Errors are reported at their key;
 * returns 0, or -1 (reported, or out of memory). */
int http_client_read(const pp_host *h, const pp_config *node, const http_client_keys *keys,
                     http_client_settings *s);

/* Reads a name: value-or-list map (query params) onto kv: each name
 * given replaces every value of that name (any case) already there.
 * 0, or -1 (reported, or out of memory). */
int http_client_read_multimap(const pp_host *h, const pp_config *parent, const char *key,
                              http_client_kv **kv, size_t *n_kv);

void http_client_kv_free(http_client_kv *kv, size_t n);
int http_client_kv_copy(http_client_kv **dst, size_t *n_dst, const http_client_kv *src, size_t n);

/* Deep copy (dst cleared by the caller first); 0 or -1 (dst then cleared). */
int http_client_settings_copy(http_client_settings *dst, const http_client_settings *src);
void http_client_settings_clear(http_client_settings *s);

/* What a transfer needs besides the settings, built once per settings:
 * the header lists libcurl keeps pointers to. */
typedef struct http_client_lists {
    struct curl_slist *headers;       /* Authorization + user headers */
    struct curl_slist *proxy_headers; /* proxy_connect_header */
    char *proxy;                      /* the proxy for this URL's scheme */
    char *no_proxy;
} http_client_lists;

/* Builds the lists for requests to url (its scheme picks the proxy of
 * proxy_from_environment and whether CONNECT headers apply). 0 or -1. */
int http_client_lists_build(const http_client_settings *s, const char *url, http_client_lists *out);
void http_client_lists_free(http_client_lists *l);

/* Sets auth, TLS, proxy, HTTP version, redirects and CURLOPT_HTTPHEADER
 * (l->headers) on an easy handle; a caller that adds per-request headers
 * sets CURLOPT_HTTPHEADER again with its own list built from l->headers.
 * Both s and l must outlive the transfer. 0, or -1 when libcurl refuses
 * an option (e.g. built without a feature). */
int http_client_apply(CURL *c, const http_client_settings *s, const http_client_lists *l);

#endif
