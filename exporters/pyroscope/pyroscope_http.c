/* pyroscope_http: libcurl POSTs for the pyroscope exporter.
 *
 * The handle is configured once (TLS, timeout, fixed headers) and reused:
 * curl_easy_reset is never called, so the connection cache and TLS
 * session stay warm. Only the URL, body and per-request content type
 * change between calls. A response body is read only up to
 * PYRO_HTTP_BODY_MAX: it is for the log, and a server must not be able
 * to make us buffer megabytes of error page. */
#include "pyroscope_http.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include "pp_constants.h"

#define RETRY_AFTER "retry-after:"
#define HEADER_MAX 8192

struct pyro_http {
    CURL *curl;
    http_client_lists lists;  /* auth and user headers, proxy */
    struct curl_slist *fixed; /* lists.headers plus the exporter's own */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
}

typedef struct body_sink {
    pyro_response *resp;
    size_t len;
} body_sink;

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    body_sink *s = arg;
    size_t n = size * nmemb;
    size_t room = sizeof(s->resp->body) - 1 - s->len;
    size_t take = n < room ? n : room;
    memcpy(s->resp->body + s->len, data, take);
    s->len += take;
    s->resp->body[s->len] = '\0';
    return n; /* the rest is read and discarded */
}

/* Retry-After: delta-seconds or an HTTP-date (RFC 9110 10.2.3). */
static int64_t parse_retry_after(const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    if (isdigit((unsigned char)*v))
        return (int64_t)strtoll(v, NULL, 10) * NS_PER_SEC;
    time_t when = curl_getdate(v, NULL);
    time_t now = time(NULL);
    if (when == (time_t)-1 || when <= now)
        return 0;
    return (int64_t)(when - now) * NS_PER_SEC;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    pyro_response *resp = arg;
    size_t n = size * nmemb;
    size_t plen = strlen(RETRY_AFTER);
    if (n > plen && n < HEADER_MAX && strncasecmp(data, RETRY_AFTER, plen) == 0) {
        char value[HEADER_MAX];
        memcpy(value, data + plen, n - plen);
        value[n - plen] = '\0';
        resp->retry_after_ns = parse_retry_after(value);
    }
    return n;
}

static int add_header(struct curl_slist **list, const char *name, const char *value)
{
    size_t len = strlen(name) + strlen(value) + 3;
    char *line = malloc(len);
    if (!line)
        return -1;
    snprintf(line, len, "%s: %s", name, value);
    struct curl_slist *nl = curl_slist_append(*list, line);
    free(line);
    if (!nl)
        return -1;
    *list = nl;
    return 0;
}

static int http_setup(pyro_http *c, const pyro_http_config *cfg)
{
    CURL *h = c->curl;
    int rc = 0;
    rc |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(cfg->timeout_ns / NS_PER_MS));
    rc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(h, CURLOPT_USERAGENT, "profpipe");
    rc |= http_client_apply(h, cfg->client, &c->lists);
    return rc == 0 ? 0 : -1;
}

static int http_fixed_headers(pyro_http *c, const pyro_http_config *cfg)
{
    for (const struct curl_slist *f = c->lists.headers; f; f = f->next) {
        struct curl_slist *nl = curl_slist_append(c->fixed, f->data);
        if (!nl)
            return -1;
        c->fixed = nl;
    }
    if (cfg->connect && add_header(&c->fixed, "Connect-Protocol-Version", "1") < 0)
        return -1;
    /* libcurl would send "Expect: 100-continue" for large bodies: a wasted
     * round trip on every push. */
    struct curl_slist *nl = curl_slist_append(c->fixed, "Expect:");
    if (!nl)
        return -1;
    c->fixed = nl;
    return 0;
}

pyro_http *pyro_http_new(const pyro_http_config *cfg, const char *url, char *err, size_t errlen)
{
    pthread_once(&curl_once, curl_init_once);
    pyro_http *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->curl = curl_easy_init();
    if (!c->curl || http_client_lists_build(cfg->client, url, &c->lists) < 0 ||
        http_setup(c, cfg) < 0 || http_fixed_headers(c, cfg) < 0) {
        snprintf(err, errlen, "cannot set up libcurl");
        pyro_http_free(c);
        return NULL;
    }
    return c;
}

void pyro_http_free(pyro_http *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->fixed);
    http_client_lists_free(&c->lists);
    free(c);
}

int pyro_http_post(pyro_http *c, const char *url, const char *content_type, const char *tenant,
                   const void *body, size_t len, pyro_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    struct curl_slist *headers = NULL;
    for (const struct curl_slist *f = c->fixed; f; f = f->next) {
        struct curl_slist *nl = curl_slist_append(headers, f->data);
        if (!nl) {
            curl_slist_free_all(headers);
            snprintf(resp->error, sizeof(resp->error), "out of memory");
            return -1;
        }
        headers = nl;
    }
    if (add_header(&headers, "Content-Type", content_type) < 0 ||
        (tenant && *tenant && add_header(&headers, "X-Scope-OrgID", tenant) < 0)) {
        curl_slist_free_all(headers);
        snprintf(resp->error, sizeof(resp->error), "out of memory");
        return -1;
    }
    body_sink sink = {resp, 0};
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
        snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(rc));
        return -1;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    return 0;
}

char *pyro_http_escape(pyro_http *c, const char *s)
{
    char *e = curl_easy_escape(c->curl, s, 0);
    if (!e)
        return NULL;
    char *copy = strdup(e);
    curl_free(e);
    return copy;
}
