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

/* ---- option table ---- */

/* What the tables fill. The HTTP client options (auth, TLS, proxy,
 * headers, redirects) and params are read by lib/http_client, whose
 * reader a target's own mapping shares. */
typedef struct file_sd_settings {
    const pp_config *files;
    int64_t refresh_ns;
} file_sd_settings;

typedef struct ptype_settings {
    int enabled;
    const char *path;
    int delta;
} ptype_settings;

typedef struct custom_ptype_settings {
    const char *name;
    int enabled;
    const char *path;
    int delta;
} custom_ptype_settings;

/* The built-in profile types, in builtin_ptypes' order. */
enum {
    PT_CPU,
    PT_MEMORY,
    PT_GOROUTINE,
    PT_BLOCK,
    PT_MUTEX,
    PT_THREADCREATE,
    PT_FGPROF,
    PT_GD_MEMORY,
    PT_GD_BLOCK,
    PT_GD_MUTEX,
    N_BUILTIN_PTYPES
};

typedef struct profiling_settings {
    const char *path_prefix;
    ptype_settings builtin[N_BUILTIN_PTYPES];
    const pp_config *custom;
} profiling_settings;

typedef struct scrape_settings {
    const pp_config *targets;
    file_sd_settings file_sd;
    const char *job_name;
    int scheme; /* index into schemes */
    int64_t interval_ns, timeout_ns;
    int64_t delta_profiling_ns, profiling_ns; /* 0 when not set */
    int64_t body_size_limit;
    http_client_options http;
    profiling_settings profiling;
} scrape_settings;

/* A target's mapping, for check_keys only: its HTTP client options are
 * read by lib/http_client, which walks the same rows over it. */
typedef struct target_settings {
    http_client_options http;
} target_settings;

static const char *const schemes[] = {"http", "https", NULL};

static const pp_option file_sd_opts[] = {
    {"files", PP_OPT_STRING_LIST, NULL,
     "Prometheus file_sd files (JSON or YAML; glob patterns allowed).", 1, NULL,
     PP_FIELD(file_sd_settings, files)},
    {"refresh_interval", PP_OPT_DURATION, "5s",
     "How often the files' modification times are checked; a changed file is re-read.", 0, NULL,
     PP_FIELD(file_sd_settings, refresh_ns)},
    {0},
};

#define PROFILE_OPTS(var, on, where, seconds)                                                      \
    static const pp_option var[] = {                                                               \
        {"enabled", PP_OPT_BOOL, on, "Scrape this profile type.", 0, NULL,                         \
         PP_FIELD(ptype_settings, enabled)},                                                       \
        {"path", PP_OPT_STRING, where, "Path of the profile on the target.", 0, NULL,              \
         PP_FIELD(ptype_settings, path)},                                                          \
        {"delta", PP_OPT_BOOL, seconds,                                                            \
         "Request ?seconds=N (a profile taken over N seconds, as for CPU).", 0, NULL,              \
         PP_FIELD(ptype_settings, delta)},                                                         \
        {0},                                                                                       \
    }
#define GODELTA_OPTS(var, where)                                                                   \
    static const pp_option var[] = {                                                               \
        {"enabled", PP_OPT_BOOL, "false", "Scrape this profile type.", 0, NULL,                    \
         PP_FIELD(ptype_settings, enabled)},                                                       \
        {"path", PP_OPT_STRING, where, "Path of the profile on the target.", 0, NULL,              \
         PP_FIELD(ptype_settings, path)},                                                          \
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
    {"name", PP_OPT_STRING, NULL, "Profile type name, used as `__name__`.", 1, NULL,
     PP_FIELD(custom_ptype_settings, name)},
    {"enabled", PP_OPT_BOOL, "true", "Scrape this profile type.", 0, NULL,
     PP_FIELD(custom_ptype_settings, enabled)},
    {"path", PP_OPT_STRING, NULL, "Path of the profile on the target.", 1, NULL,
     PP_FIELD(custom_ptype_settings, path)},
    {"delta", PP_OPT_BOOL, "false", "Request ?seconds=N.", 0, NULL,
     PP_FIELD(custom_ptype_settings, delta)},
    {0},
};

/* The built-in profile types' `__name__`s (profiling_opts names their
 * sections and fills profiling_settings.builtin in the same order). */
static const struct builtin_ptype {
    const char *name;
    int server_delta;
} builtin_ptypes[] = {
    [PT_CPU] = {"process_cpu", 0},
    [PT_MEMORY] = {"memory", 0},
    [PT_GOROUTINE] = {"goroutine", 0},
    [PT_BLOCK] = {"block", 0},
    [PT_MUTEX] = {"mutex", 0},
    [PT_THREADCREATE] = {"threadcreate", 0},
    [PT_FGPROF] = {"fgprof", 0},
    /* godeltaprof: the target computes deltas; the series is named like
     * the plain type, as Alloy does */
    [PT_GD_MEMORY] = {"memory", 1},
    [PT_GD_BLOCK] = {"block", 1},
    [PT_GD_MUTEX] = {"mutex", 1},
};
_Static_assert(sizeof builtin_ptypes / sizeof builtin_ptypes[0] == N_BUILTIN_PTYPES,
               "one builtin_ptypes row per PT_*");

static const pp_option profiling_opts[] = {
    {"path_prefix", PP_OPT_STRING, NULL, "Prefix put before every profile path.", 0, NULL,
     PP_FIELD(profiling_settings, path_prefix)},
    {"profile.process_cpu", PP_OPT_SECTION, NULL, "CPU profile.", 0, cpu_opts,
     PP_FIELD(profiling_settings, builtin[PT_CPU])},
    {"profile.memory", PP_OPT_SECTION, NULL,
     "Heap profile (alloc_* as deltas, inuse_* as they are).", 0, memory_opts,
     PP_FIELD(profiling_settings, builtin[PT_MEMORY])},
    {"profile.goroutine", PP_OPT_SECTION, NULL, "Goroutine profile.", 0, goroutine_opts,
     PP_FIELD(profiling_settings, builtin[PT_GOROUTINE])},
    {"profile.block", PP_OPT_SECTION, NULL, "Block profile (deltas).", 0, block_opts,
     PP_FIELD(profiling_settings, builtin[PT_BLOCK])},
    {"profile.mutex", PP_OPT_SECTION, NULL, "Mutex profile (deltas).", 0, mutex_opts,
     PP_FIELD(profiling_settings, builtin[PT_MUTEX])},
    {"profile.threadcreate", PP_OPT_SECTION, NULL, "Thread creation profile.", 0, threadcreate_opts,
     PP_FIELD(profiling_settings, builtin[PT_THREADCREATE])},
    {"profile.fgprof", PP_OPT_SECTION, NULL, "fgprof wall-clock profile.", 0, fgprof_opts,
     PP_FIELD(profiling_settings, builtin[PT_FGPROF])},
    {"profile.godeltaprof_memory", PP_OPT_SECTION, NULL, "godeltaprof heap profile.", 0,
     gd_memory_opts, PP_FIELD(profiling_settings, builtin[PT_GD_MEMORY])},
    {"profile.godeltaprof_block", PP_OPT_SECTION, NULL, "godeltaprof block profile.", 0,
     gd_block_opts, PP_FIELD(profiling_settings, builtin[PT_GD_BLOCK])},
    {"profile.godeltaprof_mutex", PP_OPT_SECTION, NULL, "godeltaprof mutex profile.", 0,
     gd_mutex_opts, PP_FIELD(profiling_settings, builtin[PT_GD_MUTEX])},
    {"profile.custom", PP_OPT_SECTION_LIST, NULL, "More profile types.", 0, custom_opts,
     PP_FIELD(profiling_settings, custom)},
    {0},
};

static const pp_option scrape_opts[] = {
    {"targets", PP_OPT_ANY, NULL,
     "Targets: each a \"host:port\" or URL string, a mapping {address, labels, and any HTTP "
     "client option (auth, tls_config, proxy, http_headers) overriding the job's}, or "
     "{__address__, label: value...} as discovery.* writes it.",
     0, NULL, PP_FIELD(scrape_settings, targets)},
    {"file_sd", PP_OPT_SECTION, NULL, "Targets from Prometheus file_sd files.", 0, file_sd_opts,
     PP_FIELD(scrape_settings, file_sd)},
    {"job_name", PP_OPT_STRING, NULL, "The `job` label; default the component id.", 0, NULL,
     PP_FIELD(scrape_settings, job_name)},
    {"scheme", PP_OPT_STRING, "http", "The scheme of targets written as host:port.", 0, NULL,
     PP_FIELD(scrape_settings, scheme), .enum_values = schemes},
    {"scrape_interval", PP_OPT_DURATION, "15s", "How often each profile type is scraped.", 0, NULL,
     PP_FIELD(scrape_settings, interval_ns), .min = "0s", .flags = PP_OPT_MIN_EXCLUSIVE},
    {"scrape_timeout", PP_OPT_DURATION, "10s",
     "Timeout of one request; for `delta` types it is added to the profiling duration.", 0, NULL,
     PP_FIELD(scrape_settings, timeout_ns), .min = "0s", .flags = PP_OPT_MIN_EXCLUSIVE},
    {"delta_profiling_duration", PP_OPT_DURATION, NULL,
     "?seconds= of `delta` profile types (CPU); default scrape_interval - 1s.", 0, NULL,
     PP_FIELD(scrape_settings, delta_profiling_ns)},
    {"profiling_duration", PP_OPT_DURATION, NULL, "Same as delta_profiling_duration.", 0, NULL,
     PP_FIELD(scrape_settings, profiling_ns)},
    {.name = "params",
     .type = PP_OPT_ANY,
     .description = "Query parameters added to every request: `name: value` or `name: [v1, "
                    "v2]` (Alloy's map of lists)."},
    {"body_size_limit", PP_OPT_SIZE, "64MiB",
     "A body larger than this, as received (the transfer is aborted) or once inflated, "
     "fails the scrape; 0 = no limit.",
     0, NULL, PP_FIELD(scrape_settings, body_size_limit)},
    HTTP_CLIENT_OPTIONS(scrape_settings, http, "tls_config", "http_headers", "true"),
    {"profiling_config", PP_OPT_SECTION, NULL, "Which profile types to scrape, and where.", 0,
     profiling_opts, PP_FIELD(scrape_settings, profiling)},
    {0},
};

/* ---- helpers that read nodes the host did not check (targets: ANY) ---- */

static const char *child_scalar(const pp_host *h, const pp_config *node, const char *key)
{
    const pp_config *c = node ? h->cfg_child(node, key) : NULL;
    return c ? h->cfg_scalar(c) : NULL;
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
        if (o->type == PP_OPT_ANY)
            continue; /* its reader checks it */
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

/* Transport settings from a node (the job's options, which cfg_fill
 * stored in filled, or a target's mapping: filled NULL) onto t: only what
 * the node sets changes. */
static int read_transport(const pp_host *h, const pp_config *node,
                          const http_client_options *filled, scrape_transport *t)
{
    const http_client_keys keys = {
        .tls = "tls_config", .headers = "http_headers", .filled = filled};
    return http_client_read(h, node, &keys, t);
}

/* ---- targets ---- */

static const pp_option target_opts[] = {
    {.name = "address", .type = PP_OPT_STRING, .required = 1},
    {.name = "labels", .type = PP_OPT_STRING_MAP},
    HTTP_CLIENT_OPTIONS(target_settings, http, "tls_config", "http_headers", "true"),
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
            if (!s->transport || http_client_settings_copy(s->transport, &c->transport) < 0 ||
                read_transport(h, item, NULL, s->transport) < 0)
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

static int read_targets(const pp_host *h, const pp_config *cfg, const pp_config *list,
                        scrape_config *c)
{
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

static int read_file_sd(const pp_host *h, const pp_config *cfg, const file_sd_settings *set,
                        scrape_config *c)
{
    const pp_config *sd = h->cfg_child(cfg, "file_sd"); /* only to place an error */
    size_t i, n;
    if (!set->files) /* no files written: no discovery */
        return 0;
    n = h->cfg_count(set->files);
    c->sd_refresh_ns = set->refresh_ns;
    c->sd_files = calloc(n ? n : 1, sizeof *c->sd_files);
    if (!c->sd_files)
        return -1;
    for (i = 0; i < n; i++) {
        const char *f = h->cfg_scalar(h->cfg_item(set->files, i));
        if (!f || !f[0])
            return h->cfg_error(sd, "files", "item %zu is empty", i);
        c->sd_files[c->n_sd_files] = strdup(f);
        if (!c->sd_files[c->n_sd_files++])
            return -1;
    }
    return 0;
}

/* ---- profile types ---- */

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

static int read_ptypes(const pp_host *h, const profiling_settings *set, scrape_config *c)
{
    const char *prefix = set->path_prefix ? set->path_prefix : "";
    size_t i, n;
    for (i = 0; i < N_BUILTIN_PTYPES; i++) {
        const struct builtin_ptype *b = &builtin_ptypes[i];
        const ptype_settings *pt = &set->builtin[i];
        if (!pt->enabled)
            continue;
        if (add_ptype(c, prefix, b->name, pt->path, !b->server_delta && pt->delta,
                      b->server_delta) < 0)
            return -1;
    }
    n = set->custom ? h->cfg_count(set->custom) : 0;
    for (i = 0; i < n; i++) {
        custom_ptype_settings pt = {0};
        if (h->cfg_fill(h->cfg_item(set->custom, i), custom_opts, &pt) < 0)
            return -2; /* reported */
        if (pt.enabled && add_ptype(c, prefix, pt.name, pt.path, pt.delta, 0) < 0)
            return -1;
    }
    return 0;
}

/* ---- create ---- */

/* Rule: delta types profile for at least 1s and less than the interval. */
static int read_durations(const pp_host *h, const pp_config *cfg, const scrape_settings *set,
                          scrape_config *c)
{
    int64_t dur = -1;
    size_t i;
    int any_seconds = 0;
    c->interval_ns = set->interval_ns;
    c->timeout_ns = set->timeout_ns;
    /* whether each is written (an unset one has no default, and 0s is a
     * value the rule below refuses) is what the table's fill cannot tell */
    if (h->cfg_is_set(cfg, "delta_profiling_duration") && h->cfg_is_set(cfg, "profiling_duration"))
        return h->cfg_error(cfg, "profiling_duration",
                            "set delta_profiling_duration or profiling_duration, not both");
    if (h->cfg_is_set(cfg, "delta_profiling_duration"))
        dur = set->delta_profiling_ns;
    else if (h->cfg_is_set(cfg, "profiling_duration"))
        dur = set->profiling_ns;
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
    scrape_settings set = {0};
    int rc = 0;
    if (h->cfg_fill(cfg, scrape_opts, &set) < 0)
        return -1;
    const char *job = set.job_name;
    c->job = strdup(job && job[0] ? job : h->instance_id(self));
    c->scheme = strdup(schemes[set.scheme]);
    if (!c->job || !c->scheme)
        return -1;
    c->body_size_limit = set.body_size_limit;
    rc = read_ptypes(h, &set.profiling, c);
    if (rc == -1)
        return -1; /* out of memory; -2: reported, go on */
    /* each reader reports its own errors: run them all, so that one
     * validate run lists every mistake */
    rc |= http_client_read_multimap(h, cfg, "params", &c->params, &c->n_params);
    rc |= read_transport(h, cfg, &set.http, &c->transport);
    rc |= read_durations(h, cfg, &set, c);
    rc |= read_targets(h, cfg, set.targets, c);
    rc |= read_file_sd(h, cfg, &set.file_sd, c);
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
