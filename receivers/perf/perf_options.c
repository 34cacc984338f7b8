/* perf_options: the perf receiver's option table and the checks the table
 * cannot express (ranges, regexes, rule templates, pid syntax), reported
 * with cfg_error so the user sees file:line:col and the key. Run by
 * create(), so `profpipe validate` checks all of it without privileges.
 */
#include "perf_receiver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SAMPLE_RATE_PATH "/proc/sys/kernel/perf_event_max_sample_rate"
#define MIN_BUFFER_SIZE 4096

static const pp_option service_rule_options[] = {
    {"regex", PP_OPT_STRING, NULL, "regex (PCRE2, anchored) on the source text", 1, NULL},
    {"source", PP_OPT_STRING, "exe", "what the regex reads: comm, exe or cgroup", 0, NULL},
    {"name", PP_OPT_STRING, NULL, "service name; $1 or ${1} insert regex groups", 1, NULL},
    {0},
};

const pp_option perf_options[] = {
    {"frequency", PP_OPT_INT, "99",
     "samples per second per CPU (1 to kernel.perf_event_max_sample_rate)", 0, NULL},
    {"interval", PP_OPT_DURATION, "15s", "how often each process's profile is emitted", 0, NULL},
    {"include_kernel", PP_OPT_BOOL, "false", "keep kernel frames in stacks", 0, NULL},
    {"pids", PP_OPT_STRING_LIST, NULL, "only these processes (ids that exist at start)", 0, NULL},
    {"comm", PP_OPT_STRING, NULL, "only processes whose comm matches this regex", 0, NULL},
    {"exe", PP_OPT_STRING, NULL, "only processes whose executable path matches this regex", 0,
     NULL},
    {"cgroup", PP_OPT_STRING, NULL,
     "only processes in this cgroup (path under the cgroup mount, or absolute)", 0, NULL},
    {"buffer_size", PP_OPT_SIZE, "256KiB", "ring buffer per CPU (rounded up to a power of two)", 0,
     NULL},
    {"service_name", PP_OPT_SECTION_LIST, NULL,
     "rules naming a process's service; first match wins; default: executable's base name", 0,
     service_rule_options},
    {0},
};

static int read_max_sample_rate(void)
{
    FILE *f = fopen(SAMPLE_RATE_PATH, "r");
    int v = 0;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

static int parse_pids(perf_receiver *r, const pp_config *cfg)
{
    const pp_host *h = r->host;
    const pp_config *list = h->cfg_child(cfg, "pids");
    size_t n = list ? h->cfg_count(list) : 0;
    if (!n)
        return 0;
    r->pids = calloc(n, sizeof *r->pids);
    if (!r->pids)
        return h->cfg_error(cfg, "pids", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const pp_config *item = h->cfg_item(list, i);
        const char *s = h->cfg_scalar(item);
        char *end;
        long v = s ? strtol(s, &end, 10) : 0;
        if (!s || !*s || *end || v <= 0 || v > INT32_MAX)
            return h->cfg_error(item, NULL, "not a process id: %s", s ? s : "(not a scalar)");
        r->pids[r->n_pids++] = (uint32_t)v;
    }
    return 0;
}

static int parse_regex(perf_receiver *r, const pp_config *cfg, const char *key, perf_regex **out)
{
    char err[256];
    const char *s = r->host->cfg_is_set(cfg, key) ? r->host->cfg_string(cfg, key) : NULL;
    if (!s)
        return 0;
    *out = perf_regex_new(s, err, sizeof err);
    return *out ? 0 : r->host->cfg_error(cfg, key, "%s", err);
}

static int parse_rules(perf_receiver *r, const pp_config *cfg)
{
    const pp_host *h = r->host;
    const pp_config *list = h->cfg_child(cfg, "service_name");
    size_t n = list ? h->cfg_count(list) : 0;
    char err[256];
    if (!n)
        return 0;
    r->rules = calloc(n, sizeof *r->rules);
    if (!r->rules)
        return h->cfg_error(cfg, "service_name", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const pp_config *item = h->cfg_item(list, i);
        perf_rule *rule = &r->rules[r->n_rules];
        int source = perf_rule_source_parse(h->cfg_string(item, "source"));
        if (source < 0)
            return h->cfg_error(item, "source", "must be comm, exe or cgroup, not %s",
                                h->cfg_string(item, "source"));
        rule->source = (perf_rule_source)source;
        rule->re = perf_regex_new(h->cfg_string(item, "regex"), err, sizeof err);
        if (!rule->re)
            return h->cfg_error(item, "regex", "%s", err);
        r->n_rules++;
        rule->name = strdup(h->cfg_string(item, "name"));
        if (!rule->name)
            return h->cfg_error(item, "name", "out of memory");
        if (perf_rule_check(rule->re, rule->name, err, sizeof err) < 0)
            return h->cfg_error(item, "name", "%s", err);
    }
    return 0;
}

static size_t round_ring_size(int64_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), size = page;
    while ((int64_t)size < bytes)
        size *= 2;
    return size;
}

int perf_options_parse(perf_receiver *r, const pp_config *cfg)
{
    const pp_host *h = r->host;
    int64_t freq = h->cfg_int(cfg, "frequency");
    int max_rate = read_max_sample_rate();
    if (freq < 1 || (max_rate > 0 && freq > max_rate))
        return h->cfg_error(cfg, "frequency",
                            "must be between 1 and %d (kernel.perf_event_max_sample_rate)",
                            max_rate > 0 ? max_rate : 100000);
    r->frequency = (int)freq;
    r->interval_ns = h->cfg_duration_ns(cfg, "interval");
    if (r->interval_ns < NS_PER_MS * DRAIN_PERIOD_MS)
        return h->cfg_error(cfg, "interval", "must be at least %dms", DRAIN_PERIOD_MS);
    r->include_kernel = h->cfg_bool(cfg, "include_kernel");
    if (h->cfg_size(cfg, "buffer_size") < MIN_BUFFER_SIZE)
        return h->cfg_error(cfg, "buffer_size", "must be at least 4KiB");
    r->buffer_size = round_ring_size(h->cfg_size(cfg, "buffer_size"));
    if (h->cfg_is_set(cfg, "cgroup")) {
        r->cgroup = strdup(h->cfg_string(cfg, "cgroup"));
        if (!r->cgroup || !r->cgroup[0])
            return h->cfg_error(cfg, "cgroup", "must not be empty");
    }
    if (parse_pids(r, cfg) < 0 || parse_regex(r, cfg, "comm", &r->comm_re) < 0 ||
        parse_regex(r, cfg, "exe", &r->exe_re) < 0 || parse_rules(r, cfg) < 0)
        return -1;
    return 0;
}

static void free_rules(perf_receiver *r)
{
    for (size_t i = 0; i < r->n_rules; i++) {
        perf_regex_free(r->rules[i].re);
        free(r->rules[i].name);
    }
    free(r->rules);
}

void perf_options_free(perf_receiver *r)
{
    free(r->pids);
    perf_regex_free(r->comm_re);
    perf_regex_free(r->exe_re);
    free(r->cgroup);
    free_rules(r);
}
