/* pprof_scrape: pulls pprof profiles from Go /debug/pprof endpoints.
 *
 * The component: its option table (named after Grafana Alloy's
 * pyroscope.scrape wherever Alloy has the option, so users find the same
 * knobs), and create(), which turns the options into a scrape_config that
 * the loop thread only reads. Static targets are checked here, with the
 * config file position of every mistake; file_sd files are read by the
 * loop (they change at run time). Everything that touches the network is
 * in scrape_loop.c and starts only in start(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scrape.h"
#include "pp_constants.h"

#define SECRET_FILE_MAX 65536

/* ---- option table ---- */

static const pp_option basic_auth_opts[] = {
    {"username", PP_OPT_STRING, NULL, "User name.", 0, NULL},
    {"password", PP_OPT_STRING, NULL, "Password.", 0, NULL},
    {"password_file", PP_OPT_STRING, NULL, "File holding the password.", 0, NULL},
    {0},
};

static const pp_option tls_opts[] = {
    {"ca_file", PP_OPT_STRING, NULL, "CA certificates (PEM) to verify the target with.", 0, NULL},
    {"cert_file", PP_OPT_STRING, NULL, "Client certificate (PEM).", 0, NULL},
    {"key_file", PP_OPT_STRING, NULL, "Client certificate's key (PEM).", 0, NULL},
    {"server_name", PP_OPT_STRING, NULL,
     "Name to expect in the target's certificate (and send as SNI) instead of the "
     "address' host.",
     0, NULL},
    {"insecure_skip_verify", PP_OPT_BOOL, "false", "Do not verify the certificate.", 0, NULL},
    {0},
};

static const pp_option file_sd_opts[] = {
    {"files", PP_OPT_STRING_LIST, NULL,
     "Prometheus file_sd files (JSON or YAML; glob patterns allowed).", 1, NULL},
    {"refresh_interval", PP_OPT_DURATION, "5s",
     "How often the files' modification times are checked; a changed file is re-read.", 0, NULL},
    {0},
};

#define PROFILE_OPTS(var, enabled, path, delta)                                                    \
    static const pp_option var[] = {                                                               \
        {"enabled", PP_OPT_BOOL, enabled, "Scrape this profile type.", 0, NULL},                   \
        {"path", PP_OPT_STRING, path, "Path of the profile on the target.", 0, NULL},              \
        {"delta", PP_OPT_BOOL, delta,                                                              \
         "Request ?seconds=N (a profile taken over N seconds, as for CPU).", 0, NULL},             \
        {0},                                                                                       \
    }
#define GODELTA_OPTS(var, path)                                                                    \
    static const pp_option var[] = {                                                               \
        {"enabled", PP_OPT_BOOL, "false", "Scrape this profile type.", 0, NULL},                   \
        {"path", PP_OPT_STRING, path, "Path of the profile on the target.", 0, NULL},              \
        {0},                                                                                       \
    }

PROFILE_OPTS(cpu_opts, "true", "/debug/pprof/profile", "true");
PROFILE_OPTS(memory_opts, "true", "/debug/pprof/allocs", "false");
PROFILE_OPTS(goroutine_opts, "true", "/debug/pprof/goroutine", "false");
PROFILE_OPTS(block_opts, "true", "/debug/pprof/block", "false");
PROFILE_OPTS(mutex_opts, "true", "/debug/pprof/mutex", "false");
PROFILE_OPTS(threadcreate_opts, "false", "/debug/pprof/threadcreate", "false");
PROFILE_OPTS(fgprof_opts, "false", "/debug/fgprof", "true");
GODELTA_OPTS(gd_memory_opts, "/debug/pprof/delta_heap");
GODELTA_OPTS(gd_block_opts, "/debug/pprof/delta_block");
GODELTA_OPTS(gd_mutex_opts, "/debug/pprof/delta_mutex");

static const pp_option custom_opts[] = {
    {"name", PP_OPT_STRING, NULL, "Profile type name, used as `__name__`.", 1, NULL},
    {"enabled", PP_OPT_BOOL, "true", "Scrape this profile type.", 0, NULL},
    {"path", PP_OPT_STRING, NULL, "Path of the profile on the target.", 1, NULL},
    {"delta", PP_OPT_BOOL, "false", "Request ?seconds=N.", 0, NULL},
    {0},
};

/* The built-in profile types: config key, `__name__`, option table. */
static const struct builtin_ptype {
    const char *key;
    const char *name;
    const pp_option *opts;
    int server_delta;
} builtin_ptypes[] = {
    {"profile.process_cpu", "process_cpu", cpu_opts, 0},
    {"profile.memory", "memory", memory_opts, 0},
    {"profile.goroutine", "goroutine", goroutine_opts, 0},
    {"profile.block", "block", block_opts, 0},
    {"profile.mutex", "mutex", mutex_opts, 0},
    {"profile.threadcreate", "threadcreate", threadcreate_opts, 0},
    {"profile.fgprof", "fgprof", fgprof_opts, 0},
    /* godeltaprof: the target computes deltas; the series is named like
     * the plain type, as Alloy does */
    {"profile.godeltaprof_memory", "memory", gd_memory_opts, 1},
    {"profile.godeltaprof_block", "block", gd_block_opts, 1},
    {"profile.godeltaprof_mutex", "mutex", gd_mutex_opts, 1},
};
#define N_BUILTIN_PTYPES (sizeof builtin_ptypes / sizeof builtin_ptypes[0])

static const pp_option profiling_opts[] = {
    {"path_prefix", PP_OPT_STRING, NULL, "Prefix put before every profile path.", 0, NULL},
    {"profile.process_cpu", PP_OPT_SECTION, NULL, "CPU profile.", 0, cpu_opts},
    {"profile.memory", PP_OPT_SECTION, NULL,
     "Heap profile (alloc_* as deltas, inuse_* as they are).", 0, memory_opts},
    {"profile.goroutine", PP_OPT_SECTION, NULL, "Goroutine profile.", 0, goroutine_opts},
    {"profile.block", PP_OPT_SECTION, NULL, "Block profile (deltas).", 0, block_opts},
    {"profile.mutex", PP_OPT_SECTION, NULL, "Mutex profile (deltas).", 0, mutex_opts},
    {"profile.threadcreate", PP_OPT_SECTION, NULL, "Thread creation profile.", 0,
     threadcreate_opts},
    {"profile.fgprof", PP_OPT_SECTION, NULL, "fgprof wall-clock profile.", 0, fgprof_opts},
    {"profile.godeltaprof_memory", PP_OPT_SECTION, NULL, "godeltaprof heap profile.", 0,
     gd_memory_opts},
    {"profile.godeltaprof_block", PP_OPT_SECTION, NULL, "godeltaprof block profile.", 0,
     gd_block_opts},
    {"profile.godeltaprof_mutex", PP_OPT_SECTION, NULL, "godeltaprof mutex profile.", 0,
     gd_mutex_opts},
    {"profile.custom", PP_OPT_SECTION_LIST, NULL, "More profile types.", 0, custom_opts},
    {0},
};

static const pp_option scrape_opts[] = {
    {"targets", PP_OPT_ANY, NULL,
     "Targets: each a \"host:port\" or URL string, or a mapping {address, labels, and "
     "bearer_token, bearer_token_file, basic_auth, http_headers, tls_config, proxy_url "
     "overriding the job's}.",
     0, NULL},
    {"file_sd", PP_OPT_SECTION, NULL, "Targets from Prometheus file_sd files.", 0, file_sd_opts},
    {"job_name", PP_OPT_STRING, NULL, "The `job` label; default the component id.", 0, NULL},
    {"scheme", PP_OPT_STRING, "http", "http or https, for targets written as host:port.", 0, NULL},
    {"scrape_interval", PP_OPT_DURATION, "15s", "How often each profile type is scraped.", 0, NULL},
    {"scrape_timeout", PP_OPT_DURATION, "10s",
     "Timeout of one request; for `delta` types it is added to the profiling duration.", 0, NULL},
    {"delta_profiling_duration", PP_OPT_DURATION, NULL,
     "?seconds= of `delta` profile types (CPU); default scrape_interval - 1s.", 0, NULL},
    {"profiling_duration", PP_OPT_DURATION, NULL, "Same as delta_profiling_duration.", 0, NULL},
    {"params", PP_OPT_STRING_MAP, NULL, "Query parameters added to every request.", 0, NULL},
    {"body_size_limit", PP_OPT_SIZE, "64MiB",
     "A body larger than this, as received (the transfer is aborted) or once inflated, "
     "fails the scrape; 0 = no limit.",
     0, NULL},
    {"bearer_token", PP_OPT_STRING, NULL, "Sent as `Authorization: Bearer`.", 0, NULL},
    {"bearer_token_file", PP_OPT_STRING, NULL, "File holding the bearer token.", 0, NULL},
    {"basic_auth", PP_OPT_SECTION, NULL, "HTTP basic authentication.", 0, basic_auth_opts},
    {"http_headers", PP_OPT_STRING_MAP, NULL,
     "Headers sent with every request (e.g. X-Pprof-Token).", 0, NULL},
    {"tls_config", PP_OPT_SECTION, NULL, "TLS settings for https targets.", 0, tls_opts},
    {"proxy_url", PP_OPT_STRING, NULL, "HTTP proxy to send requests through.", 0, NULL},
    {"follow_redirects", PP_OPT_BOOL, "true", "Follow HTTP redirects.", 0, NULL},
    {"profiling_config", PP_OPT_SECTION, NULL, "Which profile types to scrape, and where.", 0,
     profiling_opts},
    {0},
};

/* ---- helpers that read nodes the host did not check (targets: ANY) ---- */

static const char *child_scalar(const pp_host *h, const pp_config *node, const char *key)
{
    const pp_config *c = node ? h->cfg_child(node, key) : NULL;
    return c ? h->cfg_scalar(c) : NULL;
}

static int dup_opt(char **dst, const char *s)
{
    if (!s)
        return 0;
    free(*dst);
    *dst = strdup(s);
    return *dst ? 0 : -1;
}

/* Reads a secret file, trailing newline cut; NULL on error (reported). */
static char *read_secret(const pp_host *h, const pp_config *node, const char *key, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;
    if (!f) {
        h->cfg_error(node, key, "cannot open %s: %m", path);
        return NULL;
    }
    buf = malloc(SECRET_FILE_MAX + 1);
    n = buf ? fread(buf, 1, SECRET_FILE_MAX, f) : 0;
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return buf;
}

/* `key` or `key`_file of a node; *out untouched if neither is there. */
static int read_secret_pair(const pp_host *h, const pp_config *node, const char *key, char **out)
{
    char file_key[64];
    const char *v = child_scalar(h, node, key), *file;
    snprintf(file_key, sizeof file_key, "%s_file", key);
    file = child_scalar(h, node, file_key);
    if (v && file)
        return h->cfg_error(node, key, "set %s or %s, not both", key, file_key);
    if (v)
        return dup_opt(out, v);
    if (file) {
        char *s = read_secret(h, node, file_key, file);
        if (!s)
            return -1;
        free(*out);
        *out = s;
    }
    return 0;
}

static int check_scalars(const pp_host *h, const pp_config *map)
{
    size_t i, n = h->cfg_count(map);
    int rc = 0;
    for (i = 0; i < n; i++)
        if (h->cfg_kind(h->cfg_item(map, i)) != PP_NODE_SCALAR)
            rc = h->cfg_error(map, h->cfg_key(map, i), "expected a single value");
    return rc;
}

/* Checks an unchecked mapping's keys (and scalar vs section) against a table. */
static int check_keys(const pp_host *h, const pp_config *node, const pp_option *table)
{
    size_t i, n = h->cfg_count(node);
    int rc = 0;
    for (i = 0; i < n; i++) {
        const char *k = h->cfg_key(node, i);
        const pp_config *v = h->cfg_item(node, i);
        const pp_option *o;
        for (o = table; o->name && strcmp(o->name, k) != 0; o++)
            ;
        if (!o->name) {
            rc = h->cfg_error(node, k, "unknown key");
            continue;
        }
        if ((o->type == PP_OPT_SECTION || o->type == PP_OPT_STRING_MAP) &&
            h->cfg_kind(v) != PP_NODE_MAPPING)
            rc = h->cfg_error(node, k, "expected a mapping");
        else if (o->type == PP_OPT_SECTION && check_keys(h, v, o->children) < 0)
            rc = -1;
        else if (o->type == PP_OPT_STRING_MAP && check_scalars(h, v) < 0)
            rc = -1;
        else if (o->type != PP_OPT_SECTION && o->type != PP_OPT_STRING_MAP &&
                 h->cfg_kind(v) != PP_NODE_SCALAR)
            rc = h->cfg_error(node, k, "expected a single value");
    }
    return rc;
}

/* Adds a mapping's pairs to kv; a name already there (any case: these
 * are HTTP headers and query parameters) gets the new value, so a
 * target's header replaces the job's. */
static int read_map(const pp_host *h, const pp_config *map, scrape_kv **kv, size_t *n_kv)
{
    size_t i, j, n = map ? h->cfg_count(map) : 0;
    scrape_kv *grown;
    if (n == 0)
        return 0;
    grown = realloc(*kv, (*n_kv + n) * sizeof **kv);
    if (!grown)
        return -1;
    *kv = grown;
    for (i = 0; i < n; i++) {
        const char *name = h->cfg_key(map, i), *v = h->cfg_scalar(h->cfg_item(map, i));
        scrape_kv *e = NULL;
        for (j = 0; j < *n_kv && !e; j++)
            if (strcasecmp((*kv)[j].name, name) == 0)
                e = &(*kv)[j];
        if (!e) {
            e = &(*kv)[(*n_kv)++];
            e->name = strdup(name);
            e->value = NULL;
        }
        free(e->value);
        e->value = strdup(v ? v : "");
        if (!e->name || !e->value)
            return -1;
    }
    return 0;
}

/* Transport settings from a node (the job's options or a target's
 * mapping) onto t: only what the node sets changes. */
static int read_transport(const pp_host *h, const pp_config *node, scrape_transport *t)
{
    const pp_config *basic = h->cfg_child(node, "basic_auth");
    const pp_config *tls = h->cfg_child(node, "tls_config");
    const char *skip = child_scalar(h, tls, "insecure_skip_verify");
    int sets_bearer =
        child_scalar(h, node, "bearer_token") || child_scalar(h, node, "bearer_token_file");
    int sets_basic = basic && h->cfg_count(basic) > 0;
    if (sets_bearer && sets_basic)
        return h->cfg_error(node, "basic_auth", "set bearer_token or basic_auth, not both");
    if (sets_bearer || sets_basic) {
        /* a target's own auth replaces the job's, whichever kind it is */
        free(t->bearer_token);
        free(t->username);
        free(t->password);
        t->bearer_token = t->username = t->password = NULL;
    }
    if (read_secret_pair(h, node, "bearer_token", &t->bearer_token) < 0)
        return -1;
    if (sets_basic && (dup_opt(&t->username, child_scalar(h, basic, "username")) < 0 ||
                       read_secret_pair(h, basic, "password", &t->password) < 0))
        return -1;
    if (dup_opt(&t->proxy_url, child_scalar(h, node, "proxy_url")) < 0 ||
        dup_opt(&t->ca_file, child_scalar(h, tls, "ca_file")) < 0 ||
        dup_opt(&t->cert_file, child_scalar(h, tls, "cert_file")) < 0 ||
        dup_opt(&t->key_file, child_scalar(h, tls, "key_file")) < 0 ||
        dup_opt(&t->server_name, child_scalar(h, tls, "server_name")) < 0)
        return -1;
    if (skip && strcmp(skip, "true") != 0 && strcmp(skip, "false") != 0)
        return h->cfg_error(tls, "insecure_skip_verify", "expected true or false");
    if (skip)
        t->insecure_skip_verify = strcmp(skip, "true") == 0;
    return read_map(h, h->cfg_child(node, "http_headers"), &t->headers, &t->n_headers);
}

/* ---- targets ---- */

static const pp_option target_opts[] = {
    {"address", PP_OPT_STRING, NULL, NULL, 1, NULL},
    {"labels", PP_OPT_STRING_MAP, NULL, NULL, 0, NULL},
    {"bearer_token", PP_OPT_STRING, NULL, NULL, 0, NULL},
    {"bearer_token_file", PP_OPT_STRING, NULL, NULL, 0, NULL},
    {"basic_auth", PP_OPT_SECTION, NULL, NULL, 0, basic_auth_opts},
    {"http_headers", PP_OPT_STRING_MAP, NULL, NULL, 0, NULL},
    {"tls_config", PP_OPT_SECTION, NULL, NULL, 0, tls_opts},
    {"proxy_url", PP_OPT_STRING, NULL, NULL, 0, NULL},
    {0},
};

/* 1 if the target mapping sets any transport key. */
static int has_transport(const pp_host *h, const pp_config *item)
{
    size_t i, n = h->cfg_count(item);
    for (i = 0; i < n; i++) {
        const char *k = h->cfg_key(item, i);
        if (strcmp(k, "address") != 0 && strcmp(k, "labels") != 0)
            return 1;
    }
    return 0;
}

/* A target as discovery.* components write it: a map of labels where
 * `__address__` is the address and every other key not starting with `__`
 * is a label (the `__meta_*` ones are dropped, as after Prometheus
 * relabelling). */
static int read_discovered_target(const pp_host *h, const pp_config *item, scrape_spec *s,
                                  const char **addr)
{
    size_t i, n = h->cfg_count(item), kept = 0;
    for (i = 0; i < n; i++)
        if (!h->cfg_scalar(h->cfg_item(item, i)))
            return h->cfg_error(item, h->cfg_key(item, i), "a label value must be a string");
    *addr = child_scalar(h, item, "__address__");
    if (!*addr || !(*addr)[0])
        return h->cfg_error(item, "__address__", "must be host:port or a URL");
    if (read_map(h, item, &s->labels, &s->n_labels) < 0)
        return -1;
    for (i = 0; i < s->n_labels; i++) {
        if (strncmp(s->labels[i].name, "__", 2) == 0) {
            free(s->labels[i].name);
            free(s->labels[i].value);
        } else {
            s->labels[kept++] = s->labels[i];
        }
    }
    s->n_labels = kept;
    return 0;
}

static int read_target(const pp_host *h, const scrape_config *c, const pp_config *item,
                       scrape_spec *s)
{
    const char *addr = h->cfg_scalar(item);
    char *scheme, *instance, *prefix, why[256];
    if (h->cfg_kind(item) == PP_NODE_MAPPING && h->cfg_child(item, "__address__")) {
        if (read_discovered_target(h, item, s, &addr) < 0)
            return -1;
    } else if (h->cfg_kind(item) == PP_NODE_MAPPING) {
        if (check_keys(h, item, target_opts) < 0)
            return -1;
        addr = child_scalar(h, item, "address");
        if (!addr)
            return h->cfg_error(item, "address", "required");
        if (read_map(h, h->cfg_child(item, "labels"), &s->labels, &s->n_labels) < 0)
            return -1;
        if (has_transport(h, item)) {
            s->transport = calloc(1, sizeof *s->transport);
            if (!s->transport || scrape_transport_copy(s->transport, &c->transport) < 0 ||
                read_transport(h, item, s->transport) < 0)
                return -1;
        }
    } else if (!addr || !addr[0]) {
        return h->cfg_error(item, NULL,
                            "a target is \"host:port\", a URL, {address, labels} or "
                            "{__address__, label: value...}");
    }
    if (scrape_parse_address(addr, c->scheme, &scheme, &instance, &prefix, why, sizeof why) < 0)
        return h->cfg_error(item, NULL, "%s", why);
    free(scheme);
    free(instance);
    free(prefix);
    s->address = strdup(addr);
    return s->address ? 0 : -1;
}

static int read_targets(const pp_host *h, const pp_config *cfg, scrape_config *c)
{
    const pp_config *list = h->cfg_child(cfg, "targets");
    size_t i, n;
    int rc = 0;
    if (!list)
        return 0;
    if (h->cfg_kind(list) != PP_NODE_SEQUENCE)
        return h->cfg_error(cfg, "targets", "expected a list");
    n = h->cfg_count(list);
    c->specs = calloc(n ? n : 1, sizeof *c->specs);
    if (!c->specs)
        return -1;
    c->n_specs = n;
    for (i = 0; i < n; i++)
        if (read_target(h, c, h->cfg_item(list, i), &c->specs[i]) < 0)
            rc = -1;
    return rc;
}

static int read_file_sd(const pp_host *h, const pp_config *cfg, scrape_config *c)
{
    const pp_config *sd = h->cfg_child(cfg, "file_sd"), *files;
    size_t i, n;
    if (!sd || !h->cfg_is_set(cfg, "file_sd"))
        return 0;
    files = h->cfg_child(sd, "files");
    n = files ? h->cfg_count(files) : 0;
    c->sd_refresh_ns = h->cfg_duration_ns(sd, "refresh_interval");
    c->sd_files = calloc(n ? n : 1, sizeof *c->sd_files);
    if (!c->sd_files)
        return -1;
    for (i = 0; i < n; i++) {
        const char *f = h->cfg_scalar(h->cfg_item(files, i));
        if (!f || !f[0])
            return h->cfg_error(sd, "files", "item %zu is empty", i);
        c->sd_files[c->n_sd_files] = strdup(f);
        if (!c->sd_files[c->n_sd_files++])
            return -1;
    }
    return 0;
}

/* ---- profile types ---- */

static int bool_of(const pp_host *h, const pp_config *sec, const pp_option *opts, const char *key)
{
    const pp_option *o;
    if (sec && h->cfg_is_set(sec, key))
        return h->cfg_bool(sec, key);
    for (o = opts; o->name && strcmp(o->name, key) != 0; o++)
        ;
    return o->name && o->default_value && strcmp(o->default_value, "true") == 0;
}

static const char *string_of(const pp_host *h, const pp_config *sec, const pp_option *opts,
                             const char *key)
{
    const pp_option *o;
    if (sec && h->cfg_is_set(sec, key))
        return h->cfg_string(sec, key);
    for (o = opts; o->name && strcmp(o->name, key) != 0; o++)
        ;
    return o->default_value;
}

static int add_ptype(scrape_config *c, const char *prefix, const char *name, const char *path,
                     int seconds, int server_delta)
{
    scrape_ptype *pt = realloc(c->ptypes, (c->n_ptypes + 1) * sizeof *pt);
    size_t n;
    if (!pt)
        return -1;
    c->ptypes = pt;
    pt = &pt[c->n_ptypes++];
    memset(pt, 0, sizeof *pt);
    n = strlen(prefix) + strlen(path) + 2;
    pt->name = strdup(name);
    pt->path = malloc(n);
    if (!pt->name || !pt->path)
        return -1;
    snprintf(pt->path, n, "%s%s%s", prefix, path[0] == '/' ? "" : "/", path);
    pt->seconds = seconds;
    pt->server_delta = server_delta;
    return 0;
}

static int read_ptypes(const pp_host *h, const pp_config *cfg, scrape_config *c)
{
    const pp_config *pc = h->cfg_child(cfg, "profiling_config"), *custom;
    const char *prefix = pc ? h->cfg_string(pc, "path_prefix") : NULL;
    size_t i, n;
    for (i = 0; i < N_BUILTIN_PTYPES; i++) {
        const struct builtin_ptype *b = &builtin_ptypes[i];
        const pp_config *sec = pc ? h->cfg_child(pc, b->key) : NULL;
        if (!bool_of(h, sec, b->opts, "enabled"))
            continue;
        if (add_ptype(c, prefix ? prefix : "", b->name, string_of(h, sec, b->opts, "path"),
                      !b->server_delta && bool_of(h, sec, b->opts, "delta"), b->server_delta) < 0)
            return -1;
    }
    custom = pc ? h->cfg_child(pc, "profile.custom") : NULL;
    n = custom ? h->cfg_count(custom) : 0;
    for (i = 0; i < n; i++) {
        const pp_config *sec = h->cfg_item(custom, i);
        if (!h->cfg_bool(sec, "enabled"))
            continue;
        if (add_ptype(c, prefix ? prefix : "", h->cfg_string(sec, "name"),
                      h->cfg_string(sec, "path"), h->cfg_bool(sec, "delta"), 0) < 0)
            return -1;
    }
    return 0;
}

/* ---- create ---- */

static int read_durations(const pp_host *h, const pp_config *cfg, scrape_config *c)
{
    int64_t dur = -1;
    size_t i;
    int any_seconds = 0;
    c->interval_ns = h->cfg_duration_ns(cfg, "scrape_interval");
    c->timeout_ns = h->cfg_duration_ns(cfg, "scrape_timeout");
    if (c->interval_ns <= 0)
        return h->cfg_error(cfg, "scrape_interval", "must be positive");
    if (c->timeout_ns <= 0)
        return h->cfg_error(cfg, "scrape_timeout", "must be positive");
    if (h->cfg_is_set(cfg, "delta_profiling_duration") && h->cfg_is_set(cfg, "profiling_duration"))
        return h->cfg_error(cfg, "profiling_duration",
                            "set delta_profiling_duration or profiling_duration, not both");
    if (h->cfg_is_set(cfg, "delta_profiling_duration"))
        dur = h->cfg_duration_ns(cfg, "delta_profiling_duration");
    else if (h->cfg_is_set(cfg, "profiling_duration"))
        dur = h->cfg_duration_ns(cfg, "profiling_duration");
    else
        dur = c->interval_ns - NS_PER_SEC;
    for (i = 0; i < c->n_ptypes; i++)
        any_seconds |= c->ptypes[i].seconds;
    c->profiling_seconds = dur / NS_PER_SEC;
    if (any_seconds && (c->profiling_seconds < 1 || dur >= c->interval_ns))
        return h->cfg_error(cfg, "scrape_interval",
                            "the profiling duration (%lld ms) must be at least 1s and shorter "
                            "than scrape_interval (%lld ms)",
                            (long long)(dur / 1000000), (long long)(c->interval_ns / 1000000));
    return 0;
}

static int read_config(const pp_host *h, pp_instance *self, const pp_config *cfg, scrape_config *c)
{
    const char *job = h->cfg_string(cfg, "job_name");
    int64_t limit;
    int rc = 0;
    c->job = strdup(job && job[0] ? job : h->instance_id(self));
    c->scheme = strdup(h->cfg_string(cfg, "scheme"));
    if (!c->job || !c->scheme)
        return -1;
    if (strcmp(c->scheme, "http") != 0 && strcmp(c->scheme, "https") != 0)
        return h->cfg_error(cfg, "scheme", "must be http or https");
    limit = h->cfg_size(cfg, "body_size_limit");
    c->body_size_limit = limit > 0 ? limit : 0;
    c->transport.follow_redirects = h->cfg_bool(cfg, "follow_redirects");
    if (read_map(h, h->cfg_child(cfg, "params"), &c->params, &c->n_params) < 0 ||
        read_ptypes(h, cfg, c) < 0)
        return -1; /* out of memory */
    /* each reader reports its own errors: run them all, so that one
     * validate run lists every mistake */
    rc |= read_transport(h, cfg, &c->transport);
    rc |= read_durations(h, cfg, c);
    rc |= read_targets(h, cfg, c);
    rc |= read_file_sd(h, cfg, c);
    if (rc)
        return -1;
    if (c->n_specs == 0 && c->n_sd_files == 0)
        return h->cfg_error(cfg, "targets", "no targets: set targets or file_sd");
    if (c->n_ptypes == 0)
        return h->cfg_error(cfg, "profiling_config", "every profile type is disabled");
    return 0;
}

typedef struct scrape_state {
    const pp_host *host;
    pp_instance *self;
    scrape_config *cfg;
    scrape_loop *loop;
} scrape_state;

static int scrape_create(const pp_host *host, pp_instance *self, const pp_config *cfg, void **state)
{
    scrape_state *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->host = host;
    s->self = self;
    s->cfg = calloc(1, sizeof *s->cfg);
    if (!s->cfg || read_config(host, self, cfg, s->cfg) < 0) {
        scrape_config_free(s->cfg);
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int scrape_start(void *state)
{
    scrape_state *s = state;
    s->loop = scrape_loop_new(s->host, s->self, s->cfg);
    if (!s->loop) {
        s->host->log(s->self, PP_LOG_ERROR, "cannot set up the scrape loop");
        return -1;
    }
    return scrape_loop_start(s->loop);
}

static void scrape_stop(void *state, int64_t deadline_ns)
{
    scrape_state *s = state;
    (void)deadline_ns; /* transfers in flight are aborted at once */
    if (s->loop)
        scrape_loop_stop(s->loop);
}

static void scrape_destroy(void *state)
{
    scrape_state *s = state;
    if (!s)
        return;
    scrape_loop_free(s->loop);
    scrape_config_free(s->cfg);
    free(s);
}

const pp_component pp_receiver_pprof_scrape = {
    .type = "pprof_scrape",
    .kind = PP_RECEIVER,
    .description = "Scrapes pprof profiles from Go /debug/pprof endpoints, with deltas of "
                   "cumulative types, auth and file_sd (like Alloy's pyroscope.scrape).",
    .options = scrape_opts,
    .create = scrape_create,
    .start = scrape_start,
    .stop = scrape_stop,
    .destroy = scrape_destroy,
};
