/* scrape_set: the set of targets the loop scrapes.
 *
 * The wanted set is the static specs plus the last good read of the
 * file_sd files. A target is identified by its key (URL base and series
 * labels); on every change the set is diffed by key, so a target that
 * stays keeps its schedule and its delta baselines, a new one gets its
 * own start offset within the interval (a hash of its key and profile
 * type: spread, and stable across restarts), and one that went away has
 * its transfers aborted and its self-metrics removed. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scrape_loop.h"

#define URL_MAX_EXTRA 64 /* room for "?seconds=N" and separators */

static int buf_add(char **s, size_t *len, size_t *cap, const char *add)
{
    size_t n = strlen(add);
    if (*len + n + 1 > *cap) {
        size_t ncap = (*len + n + 1) * 2;
        char *g = realloc(*s, ncap);
        if (!g)
            return -1;
        *s = g;
        *cap = ncap;
    }
    memcpy(*s + *len, add, n + 1);
    *len += n;
    return 0;
}

static char *target_key(const char *base, const scrape_kv *labels, size_t n)
{
    char *s = NULL;
    size_t len = 0, cap = 0, i;
    if (buf_add(&s, &len, &cap, base) < 0)
        return NULL;
    for (i = 0; i < n; i++)
        if (buf_add(&s, &len, &cap, "\n") < 0 || buf_add(&s, &len, &cap, labels[i].name) < 0 ||
            buf_add(&s, &len, &cap, "=") < 0 || buf_add(&s, &len, &cap, labels[i].value) < 0) {
            free(s);
            return NULL;
        }
    return s;
}

/* Prometheus label value escaping: backslash, quote, newline. */
static int add_escaped(char **s, size_t *len, size_t *cap, const char *v)
{
    char one[3] = {0};
    for (; *v; v++) {
        one[0] = *v == '\n' ? '\\' : *v;
        one[1] = *v == '\n' ? 'n' : '\0';
        if ((*v == '\\' || *v == '"') && buf_add(s, len, cap, "\\") < 0)
            return -1;
        if (buf_add(s, len, cap, one) < 0)
            return -1;
    }
    return 0;
}

/* `target="URL"`, plus `series="k=v,..."` when another target has the
 * same URL (same address, other labels): self-metrics must never be
 * shared, or one target's removal would remove another's series. */
static char *metric_labels(const char *target, const scrape_kv *series, size_t n)
{
    char *s = NULL;
    size_t len = 0, cap = 0, i;
    int rc = buf_add(&s, &len, &cap, "target=\"") < 0 || add_escaped(&s, &len, &cap, target) < 0 ||
             buf_add(&s, &len, &cap, "\"") < 0;
    if (!rc && series) {
        rc = buf_add(&s, &len, &cap, ",series=\"") < 0;
        for (i = 0; !rc && i < n; i++)
            rc = (i && buf_add(&s, &len, &cap, ",") < 0) ||
                 add_escaped(&s, &len, &cap, series[i].name) < 0 ||
                 buf_add(&s, &len, &cap, "=") < 0 ||
                 add_escaped(&s, &len, &cap, series[i].value) < 0;
        rc = rc || buf_add(&s, &len, &cap, "\"") < 0;
    }
    if (rc) {
        free(s);
        return NULL;
    }
    return s;
}

/* URL of one profile type: base + path + params (+ seconds). */
static char *slot_url(const scrape_loop *l, const char *base, const scrape_ptype *pt)
{
    const scrape_config *c = l->cfg;
    char *s = NULL, tail[URL_MAX_EXTRA];
    size_t len = 0, cap = 0, i;
    int has_query = strchr(pt->path, '?') != NULL;
    if (buf_add(&s, &len, &cap, base) < 0 || buf_add(&s, &len, &cap, pt->path) < 0)
        goto oom;
    for (i = 0; i < c->n_params; i++) {
        char *k = curl_easy_escape(NULL, c->params[i].name, 0);
        char *v = curl_easy_escape(NULL, c->params[i].value, 0);
        int rc = k && v ? 0 : -1;
        if (rc == 0)
            rc = buf_add(&s, &len, &cap, has_query ? "&" : "?");
        if (rc == 0)
            rc = buf_add(&s, &len, &cap, k);
        if (rc == 0)
            rc = buf_add(&s, &len, &cap, "=");
        if (rc == 0)
            rc = buf_add(&s, &len, &cap, v);
        curl_free(k);
        curl_free(v);
        if (rc < 0)
            goto oom;
        has_query = 1;
    }
    if (pt->seconds) {
        snprintf(tail, sizeof tail, "%sseconds=%lld", has_query ? "&" : "?",
                 (long long)c->profiling_seconds);
        if (buf_add(&s, &len, &cap, tail) < 0)
            goto oom;
    }
    return s;
oom:
    free(s);
    return NULL;
}

static int build_slots(scrape_loop *l, scrape_target *t, int64_t now)
{
    const scrape_config *c = l->cfg;
    size_t i;
    t->slots = calloc(c->n_ptypes, sizeof *t->slots);
    if (!t->slots)
        return -1;
    t->n_slots = c->n_ptypes;
    for (i = 0; i < c->n_ptypes; i++) {
        scrape_slot *s = &t->slots[i];
        char labels[1024];
        s->target = t;
        s->ptype = &c->ptypes[i];
        s->last_reason = REASON_NONE;
        s->url = slot_url(l, t->base_url, s->ptype);
        if (!s->url)
            return -1;
        s->next_due =
            now + (int64_t)(scrape_hash(t->key, s->ptype->path) % (uint64_t)c->interval_ns);
        snprintf(labels, sizeof labels, "%s,profile=\"%s\"", t->metric_labels, s->ptype->name);
        s->m_duration = l->host->metric(l->self, "scrape_duration_seconds",
                                        "Duration of the last scrape of a target's profile type.",
                                        PP_GAUGE, labels);
    }
    return 0;
}

/* The URL base; with tls server_name, the URL names that host and
 * libcurl is told to connect to the real address instead. */
static int build_base(scrape_target *t, const char *scheme, const char *prefix)
{
    const char *name = t->transport.server_name, *port = strrchr(t->instance, ':');
    size_t n =
        strlen(scheme) + strlen(t->instance) + strlen(prefix) + (name ? strlen(name) : 0) + 8;
    t->base_url = malloc(n);
    if (!t->base_url || !port)
        return -1;
    if (name && strcmp(scheme, "https") == 0) {
        char entry[1024];
        snprintf(t->base_url, n, "%s://%s%s%s", scheme, name, port, prefix);
        snprintf(entry, sizeof entry, "%s%s:%.*s%s", name, port, (int)(port - t->instance),
                 t->instance, port);
        t->connect_to = curl_slist_append(NULL, entry);
        return t->connect_to ? 0 : -1;
    }
    snprintf(t->base_url, n, "%s://%s%s", scheme, t->instance, prefix);
    return 0;
}

static int labels_in_use(scrape_target *const *set, size_t n, const char *m)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (set[i] && strcmp(set[i]->metric_labels, m) == 0)
            return 1;
    return 0;
}

/* Self-metric labels unique among next[] and the old targets still held. */
static char *unique_metric_labels(const scrape_loop *l, scrape_target *const *next, size_t n_next,
                                  const scrape_target *t)
{
    char *m = metric_labels(t->base_url, NULL, 0);
    if (m && (labels_in_use(next, n_next, m) || labels_in_use(l->targets, l->n_targets, m))) {
        free(m);
        m = metric_labels(t->base_url, t->labels, t->n_labels);
    }
    return m;
}

/* What a spec asks for, resolved before any network; the strings move
 * into the target that gets built from it. */
typedef struct wanted {
    const scrape_spec *spec;
    char *key;
    char *scheme;
    char *instance;
    char *prefix;
    scrape_kv *labels;
    size_t n_labels;
} wanted;

static scrape_target *target_new(scrape_loop *l, wanted *w, scrape_target *const *next,
                                 size_t n_next, int64_t now)
{
    scrape_target *t = calloc(1, sizeof *t);
    const scrape_transport *tr = w->spec->transport ? w->spec->transport : &l->cfg->transport;
    if (!t)
        return NULL;
    t->key = w->key;
    t->instance = w->instance;
    t->labels = w->labels;
    t->n_labels = w->n_labels;
    w->key = w->instance = NULL;
    w->labels = NULL;
    w->n_labels = 0;
    t->down_reason = REASON_NONE;
    if (http_client_settings_copy(&t->transport, tr) < 0 ||
        build_base(t, w->scheme, w->prefix) < 0 ||
        http_client_lists_build(&t->transport, t->base_url, &t->lists) < 0 ||
        !(t->metric_labels = unique_metric_labels(l, next, n_next, t)))
        goto fail;
    t->m_up = l->host->metric(l->self, "scrape_up", "1 if the target answers, 0 if it is down.",
                              PP_GAUGE, t->metric_labels);
    t->m_bytes =
        l->host->metric(l->self, "scrape_bytes_total", "Response bytes received from the target.",
                        PP_COUNTER, t->metric_labels);
    if (build_slots(l, t, now) < 0)
        goto fail;
    return t;
fail:
    scrape_target_free(l, t);
    return NULL;
}

void scrape_target_free(scrape_loop *l, scrape_target *t)
{
    size_t i;
    if (!t)
        return;
    for (i = 0; i < t->n_slots; i++) {
        scrape_slot_abort(l, &t->slots[i]);
        if (t->slots[i].delta) {
            size_t held = scrape_delta_bytes(t->slots[i].delta);
            scrape_delta_free(t->slots[i].delta); /* may compact the baseheap */
            scrape_baseline_account(l, held, 0);
        }
        free(t->slots[i].url);
        if (t->slots[i].m_duration)
            l->host->metric_remove(t->slots[i].m_duration);
    }
    if (t->m_up)
        l->host->metric_remove(t->m_up);
    if (l->host->target_forget)
        l->host->target_forget(l->self, t->base_url, NULL);
    if (t->m_bytes)
        l->host->metric_remove(t->m_bytes);
    for (i = 0; i < REASON_COUNT; i++)
        if (t->m_errors[i])
            l->host->metric_remove(t->m_errors[i]);
    free(t->slots);
    free(t->key);
    free(t->base_url);
    free(t->instance);
    free(t->metric_labels);
    scrape_kv_free(t->labels, t->n_labels);
    http_client_settings_clear(&t->transport);
    http_client_lists_free(&t->lists);
    curl_slist_free_all(t->connect_to);
    free(t);
}

/* Moves the target with `key` out of `old` (NULL if none). */
static scrape_target *take_target(scrape_target **old, size_t n, const char *key)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (old[i] && strcmp(old[i]->key, key) == 0) {
            scrape_target *t = old[i];
            old[i] = NULL;
            return t;
        }
    return NULL;
}

static void wanted_clear(wanted *w)
{
    free(w->key);
    free(w->scheme);
    free(w->instance);
    free(w->prefix);
    scrape_kv_free(w->labels, w->n_labels);
    memset(w, 0, sizeof *w);
}

/* Resolves a spec; -1 if it cannot be a target (logged). */
static int wanted_resolve(scrape_loop *l, const scrape_spec *spec, wanted *w)
{
    char why[256], *base;
    w->spec = spec;
    if (scrape_parse_address(spec->address, l->cfg->scheme, &w->scheme, &w->instance, &w->prefix,
                             why, sizeof why) < 0) {
        l->host->log(l->self, PP_LOG_WARN, "skipping target: %s", why);
        return -1;
    }
    if (scrape_target_labels(l->cfg->job, w->instance, spec->labels, spec->n_labels, &w->labels,
                             &w->n_labels) < 0 ||
        !(base = malloc(strlen(w->scheme) + strlen(w->instance) + strlen(w->prefix) + 4))) {
        l->host->log(l->self, PP_LOG_ERROR, "cannot add target %s: out of memory", spec->address);
        return -1;
    }
    sprintf(base, "%s://%s%s", w->scheme, w->instance, w->prefix);
    w->key = target_key(base, w->labels, w->n_labels);
    free(base);
    return w->key ? 0 : -1;
}

static int wanted_has(const wanted *w, size_t n, const char *key)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (strcmp(w[i].key, key) == 0)
            return 1;
    return 0;
}

/* Every spec resolved, duplicates (same key) once. */
static size_t resolve_all(scrape_loop *l, wanted *w)
{
    const scrape_config *c = l->cfg;
    size_t n = 0, i;
    for (i = 0; i < c->n_specs + l->n_sd_specs; i++) {
        const scrape_spec *spec = i < c->n_specs ? &c->specs[i] : &l->sd_specs[i - c->n_specs];
        if (wanted_resolve(l, spec, &w[n]) == 0 && !wanted_has(w, n, w[n].key))
            n++;
        else
            wanted_clear(&w[n]);
    }
    return n;
}

/* Frees the targets no longer wanted, first, so that their self-metrics
 * are gone before new targets register theirs. */
static void drop_unwanted(scrape_loop *l, const wanted *w, size_t n)
{
    size_t i;
    for (i = 0; i < l->n_targets; i++) {
        if (!l->targets[i] || wanted_has(w, n, l->targets[i]->key))
            continue;
        l->host->log(l->self, PP_LOG_INFO, "target removed: %s", l->targets[i]->base_url);
        scrape_target_free(l, l->targets[i]);
        l->targets[i] = NULL;
    }
}

void scrape_set_sync(scrape_loop *l)
{
    const scrape_config *c = l->cfg;
    size_t n_max = c->n_specs + l->n_sd_specs, n_want, n_next = 0, i;
    wanted *want = calloc(n_max ? n_max : 1, sizeof *want);
    scrape_target **next = calloc(n_max ? n_max : 1, sizeof *next), *t;
    int64_t now = l->host->monotonic_ns();
    if (!want || !next) {
        l->host->log(l->self, PP_LOG_ERROR, "cannot update targets: out of memory");
        free(want);
        free(next);
        return;
    }
    n_want = resolve_all(l, want);
    drop_unwanted(l, want, n_want);
    l->schedule_stale = 1; /* new slots have due times of their own */
    for (i = 0; i < n_want; i++) {
        if ((t = take_target(l->targets, l->n_targets, want[i].key))) {
            next[n_next++] = t;
        } else if ((t = target_new(l, &want[i], next, n_next, now))) {
            next[n_next++] = t;
            /* the first set is summed up in one line; changes are news */
            l->host->log(l->self, l->synced ? PP_LOG_INFO : PP_LOG_DEBUG, "target added: %s",
                         t->base_url);
        } else {
            l->host->log(l->self, PP_LOG_ERROR, "cannot add target %s: out of memory",
                         want[i].spec->address);
        }
        wanted_clear(&want[i]);
    }
    free(want);
    free(l->targets);
    l->targets = next;
    l->n_targets = n_next;
    if (!l->synced)
        l->host->log(l->self, PP_LOG_INFO,
                     "scraping %zu targets, %zu profile types each, every "
                     "%lld ms",
                     n_next, c->n_ptypes, (long long)(c->interval_ns / 1000000));
    l->synced = 1;
    l->host->metric_set(l->m_targets, (double)n_next);
    /* one connection per target and profile type being fetched at once */
    curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, (long)(n_next * c->n_ptypes + 8));
}

/* ---- file_sd ---- */

/* Globs every pattern into g and hashes the paths with their sizes,
 * mtimes and inodes: a changed file changes the signature. */
static uint64_t sd_files_signature(const scrape_config *c, glob_t *g)
{
    uint64_t sig = scrape_hash("file_sd", "");
    size_t i;
    for (i = 0; i < c->n_sd_files; i++)
        glob(c->sd_files[i], i ? GLOB_APPEND : 0, NULL, g);
    for (i = 0; i < g->gl_pathc; i++) {
        struct stat st;
        char stamp[128];
        if (stat(g->gl_pathv[i], &st) != 0)
            continue;
        snprintf(stamp, sizeof stamp, "|%lld.%ld|%lld|%llu", (long long)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec, (long long)st.st_size, (unsigned long long)st.st_ino);
        sig = sig * 31 + scrape_hash(g->gl_pathv[i], stamp);
    }
    return sig;
}

void scrape_set_refresh_sd(scrape_loop *l, int64_t now)
{
    const scrape_config *c = l->cfg;
    glob_t g;
    scrape_spec *specs = NULL;
    size_t n = 0, i;
    uint64_t sig;
    char err[512];
    if (c->n_sd_files == 0 || now < l->sd_next)
        return;
    l->sd_next = now + c->sd_refresh_ns;
    memset(&g, 0, sizeof g);
    sig = sd_files_signature(c, &g);
    if (sig == l->sd_signature) {
        globfree(&g);
        return;
    }
    l->sd_signature = sig;
    for (i = 0; i < g.gl_pathc; i++)
        if (scrape_sd_read(g.gl_pathv[i], &specs, &n, err, sizeof err) < 0)
            break;
    if (i < g.gl_pathc) {
        l->host->log(l->self, PP_LOG_WARN, "file_sd: %s; keeping the previous targets", err);
        for (i = 0; i < n; i++)
            scrape_spec_clear(&specs[i]);
        free(specs);
    } else {
        l->host->log(l->self, PP_LOG_INFO, "file_sd: %zu targets from %zu files", n,
                     (size_t)g.gl_pathc);
        for (i = 0; i < l->n_sd_specs; i++)
            scrape_spec_clear(&l->sd_specs[i]);
        free(l->sd_specs);
        l->sd_specs = specs;
        l->n_sd_specs = n;
        scrape_set_sync(l);
    }
    globfree(&g);
}
