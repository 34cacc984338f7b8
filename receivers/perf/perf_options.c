/* perf_options: the perf receiver's option table (cfg_fill parses it,
 * ranges and the rule source included) and the checks a table cannot
 * express (the kernel's rate limit, regexes, rule templates, pid syntax), reported
 * with cfg_error so the user sees file:line:col and the key. Run by
 * create(), so `profpipe validate` checks all of it without privileges.
 */
#include "perf_receiver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SAMPLE_RATE_PATH "/proc/sys/kernel/perf_event_max_sample_rate"

/* What perf_options fills. */
typedef struct perf_settings {
    int64_t frequency;
    int64_t interval_ns;
    int include_kernel;
    const pp_config *pids;
    const char *comm, *exe, *cgroup;
    int64_t buffer_size;
    const pp_config *service_name;
} perf_settings;

typedef struct perf_rule_settings {
    const char *regex;
    int source; /* a perf_rule_source: rule_sources is in its order */
    const char *name;
} perf_rule_settings;

static const char *const rule_sources[] = {
    [PERF_SOURCE_COMM] = "comm", [PERF_SOURCE_EXE] = "exe", [PERF_SOURCE_CGROUP] = "cgroup", NULL};

/* The reader drains every DRAIN_PERIOD_MS: a shorter interval is not kept. */
#define MIN_INTERVAL "250ms"
_Static_assert(DRAIN_PERIOD_MS == 250, "MIN_INTERVAL is DRAIN_PERIOD_MS");

static const pp_option service_rule_options[] = {
    {"regex", PP_OPT_STRING, NULL, "regex (PCRE2, anchored) on the source text", 1, NULL,
     PP_FIELD(perf_rule_settings, regex)},
    {"source", PP_OPT_STRING, "exe", "what the regex reads", 0, NULL,
     PP_FIELD(perf_rule_settings, source), .enum_values = rule_sources},
    {"name", PP_OPT_STRING, NULL, "service name; $1 or ${1} insert regex groups", 1, NULL,
     PP_FIELD(perf_rule_settings, name)},
    {0},
};

const pp_option perf_options[] = {
    {"frequency", PP_OPT_INT, "99",
     "samples per second per CPU (1 to kernel.perf_event_max_sample_rate)", 0, NULL,
     PP_FIELD(perf_settings, frequency)},
    {"interval", PP_OPT_DURATION, "15s", "how often each process's profile is emitted", 0, NULL,
     PP_FIELD(perf_settings, interval_ns), .min = MIN_INTERVAL},
    {"include_kernel", PP_OPT_BOOL, "false", "keep kernel frames in stacks", 0, NULL,
     PP_FIELD(perf_settings, include_kernel)},
    {"pids", PP_OPT_STRING_LIST, NULL, "only these processes (ids that exist at start)", 0, NULL,
     PP_FIELD(perf_settings, pids)},
    {"comm", PP_OPT_STRING, NULL, "only processes whose comm matches this regex", 0, NULL,
     PP_FIELD(perf_settings, comm)},
    {"exe", PP_OPT_STRING, NULL, "only processes whose executable path matches this regex", 0, NULL,
     PP_FIELD(perf_settings, exe)},
    {"cgroup", PP_OPT_STRING, NULL,
     "only processes in this cgroup (path under the cgroup mount, or absolute)", 0, NULL,
     PP_FIELD(perf_settings, cgroup)},
    {"buffer_size", PP_OPT_SIZE, "256KiB", "ring buffer per CPU (rounded up to a power of two)", 0,
     NULL, PP_FIELD(perf_settings, buffer_size), .min = "4KiB"},
    {"service_name", PP_OPT_SECTION_LIST, NULL,
     "rules naming a process's service; first match wins; default: executable's base name", 0,
     service_rule_options, PP_FIELD(perf_settings, service_name)},
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

static int parse_pids(perf_receiver *r, const pp_config *cfg, const pp_config *list)
{
    const pp_host *h = r->host;
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

static int parse_regex(perf_receiver *r, const pp_config *cfg, const char *key, const char *s,
                       perf_regex **out)
{
    char err[256];
    if (!s)
        return 0;
    *out = perf_regex_new(s, err, sizeof err);
    return *out ? 0 : r->host->cfg_error(cfg, key, "%s", err);
}

static int parse_rules(perf_receiver *r, const pp_config *cfg, const pp_config *list)
{
    const pp_host *h = r->host;
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
        perf_rule_settings set = {0};
        if (h->cfg_fill(item, service_rule_options, &set) < 0)
            return -1;
        rule->source = (perf_rule_source)set.source;
        rule->re = perf_regex_new(set.regex, err, sizeof err);
        if (!rule->re)
            return h->cfg_error(item, "regex", "%s", err);
        r->n_rules++;
        rule->name = strdup(set.name);
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

/* Rule: the kernel refuses a frequency above its sample rate limit, known
 * only at run time. */
static int frequency_within_kernel_rate(const pp_host *h, const pp_config *cfg, int64_t freq)
{
    int max_rate = read_max_sample_rate();
    if (freq < 1 || (max_rate > 0 && freq > max_rate))
        return h->cfg_error(cfg, "frequency",
                            "must be between 1 and %d (kernel.perf_event_max_sample_rate)",
                            max_rate > 0 ? max_rate : 100000);
    return 0;
}

int perf_options_parse(perf_receiver *r, const pp_config *cfg)
{
    const pp_host *h = r->host;
    perf_settings set = {0};
    if (h->cfg_fill(cfg, perf_options, &set) < 0 ||
        frequency_within_kernel_rate(h, cfg, set.frequency) < 0)
        return -1;
    r->frequency = (int)set.frequency;
    r->interval_ns = set.interval_ns;
    r->include_kernel = set.include_kernel;
    r->buffer_size = round_ring_size(set.buffer_size);
    if (set.cgroup) {
        r->cgroup = strdup(set.cgroup);
        if (!r->cgroup || !r->cgroup[0])
            return h->cfg_error(cfg, "cgroup", "must not be empty");
    }
    if (parse_pids(r, cfg, set.pids) < 0 ||
        parse_regex(r, cfg, "comm", set.comm, &r->comm_re) < 0 ||
        parse_regex(r, cfg, "exe", set.exe, &r->exe_re) < 0 ||
        parse_rules(r, cfg, set.service_name) < 0)
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
