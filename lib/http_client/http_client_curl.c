/* http_client_curl: http_client_settings onto a libcurl easy handle.
 *
 * Proxy choice follows Go's net/http as Prometheus uses it: with neither
 * proxy_url nor proxy_from_environment there is no proxy at all (libcurl
 * would otherwise read the environment on its own); proxy_from_environment
 * reads HTTP_PROXY / HTTPS_PROXY / NO_PROXY (upper case first, then lower
 * case, as golang.org/x/net/http/httpproxy does); and whenever a no_proxy
 * list applies, loopback hosts are never proxied (httpproxy's rule), while
 * a bare proxy_url proxies everything (http.ProxyURL). CONNECT headers go
 * to the proxy only (CURLHEADER_SEPARATE), and only when the request is
 * tunnelled, i.e. for https URLs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"

#define MAX_REDIRECTS 5L
#define LOOPBACK_NO_PROXY "localhost,127.0.0.0/8,::1"

static int slist_add(struct curl_slist **list, const char *name, const char *sep, const char *value)
{
    size_t n = strlen(name) + strlen(sep) + strlen(value) + 1;
    char *line = malloc(n);
    struct curl_slist *grown;
    if (!line)
        return -1;
    snprintf(line, n, "%s%s%s", name, sep, value);
    grown = curl_slist_append(*list, line);
    free(line);
    if (!grown)
        return -1;
    *list = grown;
    return 0;
}

static const char *env_either(const char *upper, const char *lower)
{
    const char *v = getenv(upper);
    return v && v[0] ? v : getenv(lower);
}

static int is_https(const char *url)
{
    return url && strncmp(url, "https://", strlen("https://")) == 0;
}

static int choose_proxy(const http_client_settings *s, const char *url, http_client_lists *out)
{
    const char *proxy = "", *no_proxy = NULL;
    if (s->proxy_from_environment) {
        proxy = is_https(url) ? env_either("HTTPS_PROXY", "https_proxy")
                              : env_either("HTTP_PROXY", "http_proxy");
        no_proxy = env_either("NO_PROXY", "no_proxy");
        proxy = proxy ? proxy : "";
        no_proxy = no_proxy ? no_proxy : "";
    } else if (s->proxy_url && s->proxy_url[0]) {
        proxy = s->proxy_url;
        no_proxy = s->no_proxy && s->no_proxy[0] ? s->no_proxy : NULL;
    }
    out->proxy = strdup(proxy);
    if (!out->proxy)
        return -1;
    if (!no_proxy)
        return 0;
    size_t n = strlen(no_proxy) + strlen(LOOPBACK_NO_PROXY) + 2;
    out->no_proxy = malloc(n);
    if (!out->no_proxy)
        return -1;
    snprintf(out->no_proxy, n, "%s%s%s", no_proxy, no_proxy[0] ? "," : "", LOOPBACK_NO_PROXY);
    return 0;
}

int http_client_lists_build(const http_client_settings *s, const char *url, http_client_lists *out)
{
    memset(out, 0, sizeof *out);
    if (s->auth_type) {
        /* "Authorization: <type> <credentials>" */
        size_t n = strlen(s->auth_type) + strlen(s->auth_credentials) + 2;
        char *value = malloc(n);
        int rc = value ? 0 : -1;
        if (value) {
            snprintf(value, n, "%s %s", s->auth_type, s->auth_credentials);
            rc = slist_add(&out->headers, "Authorization", ": ", value);
        }
        free(value);
        if (rc < 0)
            goto oom;
    }
    for (size_t i = 0; i < s->n_headers; i++)
        if (slist_add(&out->headers, s->headers[i].name, ": ", s->headers[i].value) < 0)
            goto oom;
    if (choose_proxy(s, url, out) < 0)
        goto oom;
    for (size_t i = 0; out->proxy[0] && is_https(url) && i < s->n_proxy_connect_headers; i++)
        if (slist_add(&out->proxy_headers, s->proxy_connect_headers[i].name, ": ",
                      s->proxy_connect_headers[i].value) < 0)
            goto oom;
    return 0;
oom:
    http_client_lists_free(out);
    return -1;
}

void http_client_lists_free(http_client_lists *l)
{
    curl_slist_free_all(l->headers);
    curl_slist_free_all(l->proxy_headers);
    free(l->proxy);
    free(l->no_proxy);
    memset(l, 0, sizeof *l);
}

static int apply_tls(CURL *c, const http_client_settings *s)
{
    static const long versions[] = {
        [HTTP_CLIENT_TLS_DEFAULT] = CURL_SSLVERSION_DEFAULT,
        [HTTP_CLIENT_TLS10] = CURL_SSLVERSION_TLSv1_0,
        [HTTP_CLIENT_TLS11] = CURL_SSLVERSION_TLSv1_1,
        [HTTP_CLIENT_TLS12] = CURL_SSLVERSION_TLSv1_2,
        [HTTP_CLIENT_TLS13] = CURL_SSLVERSION_TLSv1_3,
    };
    int rc = 0;
    if (s->ca_file)
        rc |= curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
    if (s->cert_file)
        rc |= curl_easy_setopt(c, CURLOPT_SSLCERT, s->cert_file);
    if (s->key_file)
        rc |= curl_easy_setopt(c, CURLOPT_SSLKEY, s->key_file);
    if (s->ca_pem) {
        struct curl_blob b = {s->ca_pem, strlen(s->ca_pem), CURL_BLOB_COPY};
        rc |= curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
    }
    if (s->cert_pem) {
        struct curl_blob b = {s->cert_pem, strlen(s->cert_pem), CURL_BLOB_COPY};
        rc |= curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &b);
        rc |= curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (s->key_pem) {
        struct curl_blob b = {s->key_pem, strlen(s->key_pem), CURL_BLOB_COPY};
        rc |= curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &b);
        rc |= curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (s->insecure_skip_verify) {
        rc |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        rc |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (s->min_version != HTTP_CLIENT_TLS_DEFAULT)
        rc |= curl_easy_setopt(c, CURLOPT_SSLVERSION, versions[s->min_version]);
    return rc;
}

int http_client_apply(CURL *c, const http_client_settings *s, const http_client_lists *l)
{
    int rc = apply_tls(c, s);
    if (l->headers)
        rc |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, l->headers);
    if (s->username) {
        rc |= curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        rc |= curl_easy_setopt(c, CURLOPT_USERNAME, s->username);
        rc |= curl_easy_setopt(c, CURLOPT_PASSWORD, s->password ? s->password : "");
    }
    rc |= curl_easy_setopt(c, CURLOPT_PROXY, l->proxy);
    if (l->no_proxy)
        rc |= curl_easy_setopt(c, CURLOPT_NOPROXY, l->no_proxy);
    rc |= curl_easy_setopt(c, CURLOPT_HEADEROPT, (long)CURLHEADER_SEPARATE);
    if (l->proxy_headers)
        rc |= curl_easy_setopt(c, CURLOPT_PROXYHEADER, l->proxy_headers);
    rc |= curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
                           s->enable_http2 ? (long)CURL_HTTP_VERSION_2TLS
                                           : (long)CURL_HTTP_VERSION_1_1);
    if (s->follow_redirects) {
        rc |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        rc |= curl_easy_setopt(c, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
    }
    return rc ? -1 : 0;
}
