/* scrape_targets: what a target is, apart from any network: its address
 * taken apart, its series labels, its transport settings, and freeing
 * all of it.
 *
 * Labels follow Grafana Alloy's pyroscope.scrape so that the same series
 * come out: the target's own labels minus reserved `__*` names, `job` and
 * `instance` added unless the target sets them, and `service_name` from
 * the target's labels, else the job name (the issue's rule; Alloy falls
 * back to "unspecified"). `__name__` is added per profile type later. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scrape.h"

#define PORT_MAX 65535
#define HTTP_DEFAULT_PORT "80"
#define HTTPS_DEFAULT_PORT "443"

void scrape_kv_free(scrape_kv *kv, size_t n)
{
    http_client_kv_free(kv, n);
}

void scrape_spec_clear(scrape_spec *s)
{
    free(s->address);
    scrape_kv_free(s->labels, s->n_labels);
    if (s->transport) {
        http_client_settings_clear(s->transport);
        free(s->transport);
    }
    memset(s, 0, sizeof *s);
}

void scrape_config_free(scrape_config *c)
{
    size_t i;
    if (!c)
        return;
    free(c->job);
    free(c->scheme);
    scrape_kv_free(c->params, c->n_params);
    http_client_settings_clear(&c->transport);
    for (i = 0; i < c->n_ptypes; i++) {
        free(c->ptypes[i].name);
        free(c->ptypes[i].path);
    }
    free(c->ptypes);
    for (i = 0; i < c->n_specs; i++)
        scrape_spec_clear(&c->specs[i]);
    free(c->specs);
    for (i = 0; i < c->n_sd_files; i++)
        free(c->sd_files[i]);
    free(c->sd_files);
    free(c);
}

/* ---- labels ---- */

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const scrape_kv *)a)->name, ((const scrape_kv *)b)->name);
}

static const char *kv_get(const scrape_kv *kv, size_t n, const char *name)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (strcmp(kv[i].name, name) == 0)
            return kv[i].value;
    return NULL;
}

static int kv_push(scrape_kv *out, size_t *n, const char *name, const char *value)
{
    out[*n].name = strdup(name);
    out[*n].value = strdup(value);
    (*n)++;
    return out[*n - 1].name && out[*n - 1].value ? 0 : -1;
}

int scrape_target_labels(const char *job, const char *instance, const scrape_kv *in, size_t n_in,
                         scrape_kv **out, size_t *n_out)
{
    /* room for every input label plus job, instance and service_name */
    scrape_kv *kv = calloc(n_in + 3, sizeof *kv);
    const char *service;
    size_t i, n = 0;
    *out = NULL;
    *n_out = 0;
    if (!kv)
        return -1;
    for (i = 0; i < n_in; i++) {
        if (strncmp(in[i].name, "__", 2) == 0 || kv_get(kv, n, in[i].name))
            continue; /* reserved, or a repeated name: the first wins */
        if (kv_push(kv, &n, in[i].name, in[i].value) < 0)
            goto oom;
    }
    if (!kv_get(kv, n, "job") && kv_push(kv, &n, "job", job) < 0)
        goto oom;
    if (!kv_get(kv, n, "instance") && kv_push(kv, &n, "instance", instance) < 0)
        goto oom;
    service = kv_get(kv, n, "service_name");
    if (!service && kv_push(kv, &n, "service_name", job) < 0)
        goto oom;
    if (service && !service[0]) {
        for (i = 0; i < n; i++)
            if (strcmp(kv[i].name, "service_name") == 0) {
                free(kv[i].value);
                kv[i].value = strdup(job);
                if (!kv[i].value)
                    goto oom;
            }
    }
    qsort(kv, n, sizeof *kv, kv_cmp);
    *out = kv;
    *n_out = n;
    return 0;
oom:
    scrape_kv_free(kv, n);
    return -1;
}

/* ---- addresses ---- */

static int valid_port(const char *s, size_t n)
{
    size_t i;
    long v = 0;
    if (n == 0 || n > 5)
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= PORT_MAX;
}

/* Splits "host[:port]" (host may be "[v6]"); *port is NULL if none. */
static int split_host_port(const char *hp, size_t n, size_t *host_len, const char **port,
                           size_t *port_len)
{
    const char *colon = NULL;
    size_t i;
    if (n > 0 && hp[0] == '[') {
        const char *close = memchr(hp, ']', n);
        if (!close)
            return -1;
        *host_len = (size_t)(close - hp) + 1;
        if (*host_len < n && hp[*host_len] != ':')
            return -1;
        colon = *host_len < n ? hp + *host_len : NULL;
    } else {
        for (i = 0; i < n; i++)
            if (hp[i] == ':')
                colon = hp + i;
        *host_len = colon ? (size_t)(colon - hp) : n;
    }
    *port = colon ? colon + 1 : NULL;
    *port_len = colon ? n - (size_t)(colon + 1 - hp) : 0;
    return *host_len > 0 ? 0 : -1;
}

static char *join3(const char *a, size_t na, const char *b, const char *c, size_t nc)
{
    size_t nb = strlen(b);
    char *s = malloc(na + nb + nc + 1);
    if (!s)
        return NULL;
    memcpy(s, a, na);
    memcpy(s + na, b, nb);
    memcpy(s + na + nb, c, nc);
    s[na + nb + nc] = '\0';
    return s;
}

int scrape_parse_address(const char *address, const char *default_scheme, char **scheme,
                         char **instance, char **prefix, char *err, size_t errlen)
{
    const char *sep = strstr(address, "://"), *hp, *path, *port;
    const char *default_port;
    size_t hp_len, host_len, port_len, path_len;
    *scheme = *instance = *prefix = NULL;
    if (sep) {
        *scheme = strndup(address, (size_t)(sep - address));
        hp = sep + 3;
    } else {
        *scheme = strdup(default_scheme);
        hp = address;
    }
    if (!*scheme)
        goto oom;
    if (strcmp(*scheme, "http") != 0 && strcmp(*scheme, "https") != 0) {
        snprintf(err, errlen, "%s: scheme must be http or https", address);
        goto fail;
    }
    hp_len = strcspn(hp, "/?#");
    path = hp + hp_len;
    path_len = *path == '/' ? strcspn(path, "?#") : 0;
    while (path_len > 0 && path[path_len - 1] == '/')
        path_len--;
    if (split_host_port(hp, hp_len, &host_len, &port, &port_len) < 0 ||
        (port && !valid_port(port, port_len))) {
        snprintf(err, errlen, "%s: expected host:port or a URL", address);
        goto fail;
    }
    default_port = strcmp(*scheme, "https") == 0 ? HTTPS_DEFAULT_PORT : HTTP_DEFAULT_PORT;
    if (port)
        *instance = strndup(hp, hp_len);
    else
        *instance = join3(hp, host_len, ":", default_port, strlen(default_port));
    *prefix = strndup(path, path_len);
    if (!*instance || !*prefix)
        goto oom;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    free(*scheme);
    free(*instance);
    free(*prefix);
    *scheme = *instance = *prefix = NULL;
    return -1;
}
