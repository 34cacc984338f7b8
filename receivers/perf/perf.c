/* perf receiver: samples the local machine with perf_event_open and emits
 * one pprof CPU profile per process per interval.
 *
 * Life: create() only reads and checks options (so `profpipe validate`
 * needs no privileges); start() opens one cpu-clock event and ring per
 * online CPU, checks the pids, and starts one reader thread. That thread
 * polls every ring (and an eventfd that stop() rings), drains them every
 * DRAIN_PERIOD_MS or when a ring is a quarter full, sorts the records by
 * time and applies them to the process table (perf_proc), and at each
 * interval's end symbolizes and emits the profiles (perf_pprof). All state
 * but the config is the thread's alone, so there are no locks.
 *
 * Filtering by pids, comm or exe happens here in user space: the kernel
 * still samples every CPU, and samples of other processes are dropped. A
 * cgroup filter is done by the kernel (PERF_FLAG_PID_CGROUP).
 */
#include <profpipe/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "perf_event.h"
#include "perf_pprof.h"
#include "perf_proc.h"
#include "perf_rules.h"
#include "perf_symbols.h"

#define MAX_CPUS 4096
#define DRAIN_PERIOD_MS 250
#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL
#define SYMCACHE_KEEP_INTERVALS 20
#define SAMPLE_RATE_PATH "/proc/sys/kernel/perf_event_max_sample_rate"
#define SERVICE_NAME_MAX 256
#define LABEL_NUM_MAX 32

static const pp_option service_rule_options[] = {
    {"regex", PP_OPT_STRING, NULL,
     "regex (PCRE2, anchored) on the source text", 1, NULL},
    {"source", PP_OPT_STRING, "exe", "what the regex reads: comm, exe or cgroup", 0, NULL},
    {"name", PP_OPT_STRING, NULL, "service name; $1 or ${1} insert regex groups", 1, NULL},
    {0},
};

static const pp_option perf_options[] = {
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
    {"buffer_size", PP_OPT_SIZE, "256KiB", "ring buffer per CPU (rounded up to a power of two)",
     0, NULL},
    {"service_name", PP_OPT_SECTION_LIST, NULL,
     "rules naming a process's service; first match wins; default: executable's base name", 0,
     service_rule_options},
    {0},
};

typedef struct perf_receiver {
    const pp_host *host;
    pp_instance *self;
    /* config */
    int frequency;
    int64_t interval_ns;
    int include_kernel;
    size_t buffer_size;
    uint32_t *pids;
    size_t n_pids;
    perf_regex *comm_re, *exe_re;
    char *cgroup;
    perf_rule *rules;
    size_t n_rules;
    /* running */
    perf_ring *rings;
    size_t n_rings;
    int cgroup_fd, wake_fd;
    pthread_t thread;
    int thread_started;
    int stopping; /* atomic */
    perf_records records;
    perf_procs procs;
    perf_resolver resolver;
    int64_t window_start; /* wall ns */
    pp_batch *pending;    /* profiles made mid-interval, emitted at its end */
    pp_metric *m_lost, *m_throttle, *m_unthrottle, *m_samples, *m_unresolved,
        *m_processes, *m_no_stack, *m_cpu;
    /* counted while applying records, added to the metrics once per drain
     * (the host's metrics take a lock) */
    uint64_t n_lost, n_throttle, n_unthrottle, n_samples, n_no_stack;
} perf_receiver;

static int64_t clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static int64_t mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

/* ------------------------------------------------------------ options */

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

static int parse_regex(perf_receiver *r, const pp_config *cfg, const char *key,
                       perf_regex **out)
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

static int parse_options(perf_receiver *r, const pp_config *cfg)
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
    if (h->cfg_size(cfg, "buffer_size") < 4096)
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

static void perf_destroy(void *state);

static int perf_create(const pp_host *host, pp_instance *self, const pp_config *cfg,
                       void **state)
{
    perf_receiver *r = calloc(1, sizeof *r);
    if (!r)
        return host->cfg_error(cfg, NULL, "out of memory");
    r->host = host;
    r->self = self;
    r->cgroup_fd = -1;
    r->wake_fd = -1;
    if (parse_options(r, cfg) < 0) {
        perf_destroy(r);
        return -1;
    }
    *state = r;
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

static void close_all(perf_receiver *r)
{
    for (size_t i = 0; i < r->n_rings; i++)
        perf_ring_close(&r->rings[i]);
    free(r->rings);
    r->rings = NULL;
    r->n_rings = 0;
    if (r->cgroup_fd >= 0)
        close(r->cgroup_fd);
    if (r->wake_fd >= 0)
        close(r->wake_fd);
    r->cgroup_fd = r->wake_fd = -1;
    perf_records_free(&r->records);
    if (r->pending)
        r->host->batch_unref(r->pending);
    r->pending = NULL;
    if (r->procs.buckets)
        perf_procs_free(&r->procs);
    perf_resolver_free(&r->resolver);
}

static void perf_destroy(void *state)
{
    perf_receiver *r = state;
    if (!r)
        return;
    close_all(r);
    free(r->pids);
    perf_regex_free(r->comm_re);
    perf_regex_free(r->exe_re);
    free(r->cgroup);
    free_rules(r);
    free(r);
}

static void stash_samples(perf_receiver *r, perf_process *p);

/* ---------------------------------------------------- process records */

static int wanted_pid(const perf_receiver *r, uint32_t pid)
{
    if (!r->n_pids)
        return 1;
    for (size_t i = 0; i < r->n_pids; i++)
        if (r->pids[i] == pid)
            return 1;
    return 0;
}

/* The process, read from /proc if it is new to us. A process already gone
 * is kept (comm unknown) so its samples still count, and marked exited. */
static perf_process *process_get(perf_receiver *r, uint32_t pid)
{
    perf_process *p = perf_procs_find(&r->procs, pid);
    if (p)
        return p;
    p = perf_procs_add(&r->procs, pid);
    if (p && perf_proc_load(p, (uint64_t)mono_ns()) < 0)
        p->exited = 1;
    return p;
}

static int process_matches(perf_receiver *r, perf_process *p)
{
    if (p->match < 0) {
        p->match = wanted_pid(r, p->pid) &&
                   (!r->comm_re || perf_regex_match(r->comm_re, p->comm)) &&
                   (!r->exe_re || (p->exe && perf_regex_match(r->exe_re, p->exe)));
    }
    return p->match;
}

static void on_sample(perf_receiver *r, const void *rec)
{
    perf_sample s;
    perf_process *p;
    int frames = 0;
    if (perf_parse_sample(rec, &s) < 0 || s.pid == 0 || !wanted_pid(r, s.pid))
        return; /* pid 0: the idle task, not a process */
    p = process_get(r, s.pid);
    if (!p || !process_matches(r, p))
        return;
    for (uint64_t i = 0; i < s.n_ips; i++)
        frames += s.ips[i] < (uint64_t)PERF_CONTEXT_MAX;
    if (!frames) { /* a kernel thread without include_kernel */
        r->n_no_stack++;
        return;
    }
    if (perf_stacks_add(&p->stacks, s.ips, (uint32_t)s.n_ips) == 0)
        r->n_samples++;
}

static void on_comm(perf_receiver *r, const void *rec)
{
    perf_comm c;
    perf_process *p;
    if (perf_parse_comm(rec, &c) < 0 || c.pid != c.tid || !wanted_pid(r, c.pid))
        return; /* a thread renaming itself does not rename the process */
    p = process_get(r, c.pid);
    if (!p || perf_record_time(rec) <= p->loaded_time)
        return; /* already seen in /proc */
    if (c.exec) {
        stash_samples(r, p);
        perf_proc_exec(p);
    }
    perf_proc_set_comm(p, c.comm);
}

static void on_mmap2(perf_receiver *r, const void *rec)
{
    perf_mmap2 m;
    perf_process *p;
    if (perf_parse_mmap2(rec, &m) < 0 || !(m.prot & PROT_EXEC) || !wanted_pid(r, m.pid))
        return;
    p = process_get(r, m.pid);
    if (!p || perf_record_time(rec) <= p->loaded_time)
        return;
    perf_proc_add_map(p, m.addr, m.addr + m.len, m.pgoff, makedev(m.maj, m.min), m.ino,
                      m.filename);
    if (p->exe_from_next_mmap && m.filename[0] == '/') {
        perf_proc_set_exe(p, m.filename);
        p->exe_from_next_mmap = 0;
    }
}

static void on_fork(perf_receiver *r, const void *rec)
{
    perf_task t;
    perf_process *child, *parent;
    if (perf_parse_task(rec, &t) < 0 || t.pid == t.ppid || !wanted_pid(r, t.pid))
        return; /* a new thread, not a new process */
    child = perf_procs_find(&r->procs, t.pid);
    if (child && child->loaded_time > t.time)
        return; /* read from /proc after the fork already */
    if (child)
        stash_samples(r, child); /* a stale entry: the pid was reused */
    parent = process_get(r, t.ppid); /* the child starts as a copy of it */
    child = perf_procs_add(&r->procs, t.pid);
    if (!child)
        return;
    if (!parent || perf_proc_copy(child, parent) < 0)
        if (perf_proc_load(child, (uint64_t)mono_ns()) < 0)
            child->exited = 1;
}

static void on_exit_record(perf_receiver *r, const void *rec)
{
    perf_task t;
    perf_process *p;
    if (perf_parse_task(rec, &t) < 0 || t.pid != t.tid)
        return; /* a thread ended, the process goes on */
    p = perf_procs_find(&r->procs, t.pid);
    if (p)
        p->exited = 1; /* removed after its profile is emitted */
}

static void apply_record(perf_receiver *r, const void *rec)
{
    const struct perf_event_header *h = rec;
    uint64_t lost;
    switch (h->type) {
    case PERF_RECORD_SAMPLE: on_sample(r, rec); break;
    case PERF_RECORD_MMAP2: on_mmap2(r, rec); break;
    case PERF_RECORD_COMM: on_comm(r, rec); break;
    case PERF_RECORD_FORK: on_fork(r, rec); break;
    case PERF_RECORD_EXIT: on_exit_record(r, rec); break;
    case PERF_RECORD_LOST:
        if (perf_parse_lost(rec, &lost) == 0)
            r->n_lost += lost;
        break;
    case PERF_RECORD_THROTTLE: r->n_throttle++; break;
    case PERF_RECORD_UNTHROTTLE: r->n_unthrottle++; break;
    default: break;
    }
}

static void publish_counts(perf_receiver *r)
{
    const pp_host *h = r->host;
    struct {
        pp_metric *m;
        uint64_t *n;
    } counts[] = {{r->m_lost, &r->n_lost},
                  {r->m_throttle, &r->n_throttle},
                  {r->m_unthrottle, &r->n_unthrottle},
                  {r->m_samples, &r->n_samples},
                  {r->m_no_stack, &r->n_no_stack}};
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
        if (*counts[i].n)
            h->metric_add(counts[i].m, (double)*counts[i].n);
        *counts[i].n = 0;
    }
}

static void drain(perf_receiver *r)
{
    perf_records_reset(&r->records);
    for (size_t i = 0; i < r->n_rings; i++)
        if (perf_ring_read(&r->rings[i], &r->records) < 0)
            r->host->log(r->self, PP_LOG_WARN, "perf ring of CPU %d: records skipped",
                         r->rings[i].cpu);
    perf_records_sort(&r->records);
    for (size_t i = 0; i < r->records.n; i++)
        apply_record(r, perf_records_get(&r->records, i));
    publish_counts(r);
}

/* -------------------------------------------------------------- flush */

static int set_labels(perf_receiver *r, pp_profile *prof, const perf_process *p,
                      const char *family)
{
    const pp_host *h = r->host;
    char service[SERVICE_NAME_MAX], pid[LABEL_NUM_MAX], cid[PERF_CONTAINER_ID_LEN + 1];
    perf_service_name(r->rules, r->n_rules, p->comm, p->exe, p->cgroup, service,
                      sizeof service);
    snprintf(pid, sizeof pid, "%u", p->pid);
    if (h->label_set(prof, "__name__", family) < 0 ||
        h->label_set(prof, "service_name", service) < 0 ||
        h->label_set(prof, "pid", pid) < 0 || h->label_set(prof, "comm", p->comm) < 0)
        return -1;
    if (p->exe && h->label_set(prof, "exe", p->exe) < 0)
        return -1;
    if (p->cgroup && perf_container_id(p->cgroup, cid) &&
        h->label_set(prof, "container_id", cid) < 0)
        return -1;
    return 0;
}

typedef struct flush_ctx {
    perf_receiver *r;
    pp_batch *batch;
    int64_t from, until;
    int check_alive;
} flush_ctx;

/* Adds p's profile for [from, until) to batch. */
static void profile_process(perf_receiver *r, perf_process *p, pp_batch *batch, int64_t from,
                            int64_t until)
{
    const pp_host *h = r->host;
    char err[256];
    pp_profile *prof = h->profile_new();
    const char *family;
    if (!prof)
        return;
    if (perf_pprof_build(&r->resolver, prof, p, r->frequency, from, until - from, err,
                         sizeof err) < 0) {
        h->log(r->self, PP_LOG_WARN, "%s", err);
        h->profile_free(prof);
        return;
    }
    family = h->pprof_family(h->profile_tree(prof, err, sizeof err));
    h->profile_set_window(prof, from, until);
    if (set_labels(r, prof, p, family ? family : "process_cpu") < 0) {
        h->log(r->self, PP_LOG_WARN, "pid %u: out of memory labelling its profile", p->pid);
        h->profile_free(prof);
        return;
    }
    if (h->batch_add(batch, prof) < 0) /* frees prof */
        h->log(r->self, PP_LOG_WARN, "pid %u: out of memory adding its profile", p->pid);
}

/* p is about to change identity (exec) or be replaced (its pid reused):
 * the samples it has so far become a profile now, under the labels and
 * mappings they were taken with, emitted with the interval's others. */
static void stash_samples(perf_receiver *r, perf_process *p)
{
    if (!p->stacks.total || p->match != 1) {
        perf_stacks_clear(&p->stacks);
        return;
    }
    if (!r->pending)
        r->pending = r->host->batch_new();
    if (r->pending)
        profile_process(r, p, r->pending, r->window_start, r->host->now_ns());
    perf_stacks_clear(&p->stacks);
}

/* Emits p's profile if it has samples; returns 1 to drop p from the table
 * (it exited, or vanished without an EXIT record we saw). */
static int flush_process(perf_process *p, void *arg)
{
    flush_ctx *fc = arg;
    if (p->stacks.total && p->match == 1 && fc->batch)
        profile_process(fc->r, p, fc->batch, fc->from, fc->until);
    perf_stacks_clear(&p->stacks);
    if (p->exited)
        return 1;
    return fc->check_alive && kill((pid_t)p->pid, 0) < 0 && errno == ESRCH;
}

static void flush(perf_receiver *r, int check_alive)
{
    const pp_host *h = r->host;
    /* profiles stashed during the interval (execs) go out with the rest */
    flush_ctx fc = {r, r->pending ? r->pending : h->batch_new(), r->window_start, h->now_ns(),
                    check_alive};
    r->pending = NULL;
    perf_procs_each(&r->procs, flush_process, &fc);
    r->window_start = fc.until;
    perf_symcache_sweep(r->resolver.cache, SYMCACHE_KEEP_INTERVALS);
    h->metric_add(r->m_unresolved, (double)r->resolver.unresolved);
    r->resolver.unresolved = 0;
    h->metric_set(r->m_processes, (double)r->procs.count);
    if (!fc.batch)
        return;
    if (h->batch_count(fc.batch) == 0) {
        h->batch_unref(fc.batch);
        return;
    }
    if (h->emit(r->self, fc.batch) < 0)
        h->log(r->self, PP_LOG_DEBUG, "shutting down: last profiles dropped");
}

/* ------------------------------------------------------------- thread */

static void *reader_main(void *arg)
{
    perf_receiver *r = arg;
    size_t n = r->n_rings + 1;
    struct pollfd *fds = calloc(n, sizeof *fds);
    int64_t next_flush = mono_ns() + r->interval_ns;
    if (!fds) {
        r->host->log(r->self, PP_LOG_ERROR, "out of memory: perf reader not running");
        return NULL;
    }
    for (size_t i = 0; i < r->n_rings; i++)
        fds[i] = (struct pollfd){.fd = r->rings[i].fd, .events = POLLIN};
    fds[r->n_rings] = (struct pollfd){.fd = r->wake_fd, .events = POLLIN};
    while (!__atomic_load_n(&r->stopping, __ATOMIC_ACQUIRE)) {
        int64_t now = mono_ns(), wait_ms = (next_flush - now) / NS_PER_MS;
        if (wait_ms > DRAIN_PERIOD_MS)
            wait_ms = DRAIN_PERIOD_MS;
        if (wait_ms > 0 && poll(fds, n, (int)wait_ms) < 0 && errno != EINTR)
            break;
        drain(r);
        now = mono_ns();
        if (now >= next_flush) {
            flush(r, 1);
            next_flush += r->interval_ns;
            if (next_flush <= now) /* fell behind (emit blocked): skip ahead */
                next_flush = now + r->interval_ns;
        }
        r->host->metric_set(r->m_cpu,
                            (double)clock_ns(CLOCK_THREAD_CPUTIME_ID) / (double)NS_PER_S);
    }
    drain(r);
    flush(r, 0); /* the partial last interval */
    free(fds);
    return NULL;
}

/* -------------------------------------------------------------- start */

static int check_pids(perf_receiver *r)
{
    for (size_t i = 0; i < r->n_pids; i++) {
        if (kill((pid_t)r->pids[i], 0) < 0 && errno == ESRCH) {
            r->host->log(r->self, PP_LOG_ERROR,
                         "pids: process %u does not exist (no /proc/%u); remove it from "
                         "`pids`, or select processes by `comm` or `exe` instead",
                         r->pids[i], r->pids[i]);
            return -1;
        }
    }
    return 0;
}

/* The cgroup's directory: under the perf_event v1 mount, under the cgroup2
 * mount (the path as /proc/<pid>/cgroup shows it), or as written. */
static int open_cgroup(perf_receiver *r)
{
    char v1root[PERF_PATH_MAX] = "", v2root[PERF_PATH_MAX] = "";
    char v1[2 * PERF_PATH_MAX], v2[2 * PERF_PATH_MAX];
    const char *candidates[3];
    size_t n = 0;
    if (!r->cgroup)
        return 0;
    perf_cgroup_roots(v1root, sizeof v1root, v2root, sizeof v2root);
    snprintf(v1, sizeof v1, "%s/%s", v1root, r->cgroup);
    snprintf(v2, sizeof v2, "%s/%s", v2root, r->cgroup);
    if (v1root[0])
        candidates[n++] = v1;
    if (v2root[0])
        candidates[n++] = v2;
    if (r->cgroup[0] == '/')
        candidates[n++] = r->cgroup;
    for (size_t i = 0; i < n; i++) {
        r->cgroup_fd = open(candidates[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->cgroup_fd >= 0)
            return 0;
    }
    r->host->log(r->self, PP_LOG_ERROR,
                 "cgroup: %s: not found under the perf_event cgroup mount (%s) nor the "
                 "cgroup2 mount (%s); give the path /proc/<pid>/cgroup shows, or the "
                 "cgroup directory's absolute path",
                 r->cgroup, v1root[0] ? v1root : "none", v2root[0] ? v2root : "none");
    return -1;
}

static int open_rings(perf_receiver *r)
{
    int cpus[MAX_CPUS];
    int n = perf_online_cpus(cpus, MAX_CPUS);
    char err[512];
    perf_open_spec spec = {r->frequency, r->include_kernel, r->cgroup_fd, r->buffer_size};
    if (n <= 0) {
        int e = errno;
        r->host->log(r->self, PP_LOG_ERROR, "cannot read the online CPUs (%s): %s%s",
                     "/sys/devices/system/cpu/online", strerror(e),
                     e == EMFILE ? ": too many open files; raise the limit (`ulimit -n`, "
                                   "or LimitNOFILE= in the systemd unit)"
                                 : "");
        return -1;
    }
    r->rings = calloc((size_t)n, sizeof *r->rings);
    if (!r->rings)
        return -1;
    for (int i = 0; i < n; i++) {
        if (perf_ring_open(&r->rings[r->n_rings], &spec, cpus[i], err, sizeof err) < 0) {
            r->host->log(r->self, PP_LOG_ERROR, "%s", err);
            return -1;
        }
        r->n_rings++;
    }
    return 0;
}

static void make_metrics(perf_receiver *r)
{
    const pp_host *h = r->host;
    r->m_lost = h->metric(r->self, "perf_lost_samples_total",
                          "Records the kernel dropped because a ring was full", PP_COUNTER, NULL);
    r->m_throttle = h->metric(r->self, "perf_throttle_events_total",
                              "Times the kernel throttled sampling", PP_COUNTER, NULL);
    r->m_unthrottle = h->metric(r->self, "perf_unthrottle_events_total",
                                "Times the kernel resumed throttled sampling", PP_COUNTER, NULL);
    r->m_samples = h->metric(r->self, "perf_samples_total",
                             "Samples kept for profiles", PP_COUNTER, NULL);
    r->m_no_stack = h->metric(r->self, "perf_samples_without_stack_total",
                              "Samples with no frame to show (kernel threads)", PP_COUNTER, NULL);
    r->m_unresolved = h->metric(r->self, "perf_unresolved_frames_total",
                                "Distinct frames named by mapping+offset, no symbol found",
                                PP_COUNTER, NULL);
    r->m_processes = h->metric(r->self, "perf_processes", "Processes tracked", PP_GAUGE, NULL);
    r->m_cpu = h->metric(r->self, "perf_reader_cpu_seconds_total",
                         "CPU time of the receiver's reader thread (reading rings, tracking "
                         "processes, symbolizing, building profiles)",
                         PP_COUNTER, NULL);
}

static int perf_start(void *state)
{
    perf_receiver *r = state;
    make_metrics(r);
    r->resolver.host = r->host;
    r->resolver.cache = perf_symcache_new(PERF_DEBUG_ROOT);
    r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!r->resolver.cache || r->wake_fd < 0 || perf_procs_init(&r->procs) < 0) {
        r->host->log(r->self, PP_LOG_ERROR, "out of memory or descriptors");
        goto fail;
    }
    if (check_pids(r) < 0 || open_cgroup(r) < 0 || open_rings(r) < 0)
        goto fail;
    for (size_t i = 0; i < r->n_rings; i++)
        if (perf_ring_enable(&r->rings[i]) < 0) {
            r->host->log(r->self, PP_LOG_ERROR, "enabling the perf event on CPU %d: %s",
                         r->rings[i].cpu, strerror(errno));
            goto fail;
        }
    r->window_start = r->host->now_ns();
    if (pthread_create(&r->thread, NULL, reader_main, r) != 0) {
        r->host->log(r->self, PP_LOG_ERROR, "cannot start the perf reader thread");
        goto fail;
    }
    r->thread_started = 1;
    r->host->log(r->self, PP_LOG_INFO, "sampling %zu CPUs at %d Hz, profiles every %lld ms",
                 r->n_rings, r->frequency, (long long)(r->interval_ns / NS_PER_MS));
    return 0;
fail:
    close_all(r);
    return -1;
}

static void perf_stop(void *state, int64_t deadline_ns)
{
    perf_receiver *r = state;
    uint64_t one = 1;
    (void)deadline_ns;
    if (!r->thread_started)
        return;
    __atomic_store_n(&r->stopping, 1, __ATOMIC_RELEASE);
    if (write(r->wake_fd, &one, sizeof one) < 0)
        r->host->log(r->self, PP_LOG_DEBUG, "waking the perf reader: %s", strerror(errno));
    pthread_join(r->thread, NULL);
    r->thread_started = 0;
    close_all(r);
}

const pp_component pp_receiver_perf = {
    .type = "perf",
    .kind = PP_RECEIVER,
    .description = "samples this machine's CPUs with perf_event_open and emits a pprof CPU "
                   "profile per process",
    .options = perf_options,
    .create = perf_create,
    .start = perf_start,
    .stop = perf_stop,
    .destroy = perf_destroy,
};
