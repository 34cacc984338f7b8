/* perf_emit: at each interval's end, one profile per process that had
 * samples (perf_pprof builds the pprof), labelled with __name__,
 * service_name (the rules), pid, comm, exe and container_id, in one batch.
 * Profiles stashed mid-interval (a process's samples before an exec) go
 * out in the same batch.
 */
#include "perf_receiver.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>

#define SYMCACHE_KEEP_INTERVALS 20
#define SERVICE_NAME_MAX 256
#define LABEL_NUM_MAX 32

static int set_labels(perf_receiver *r, pp_profile *prof, const perf_process *p, const char *family)
{
    const pp_host *h = r->host;
    char service[SERVICE_NAME_MAX], pid[LABEL_NUM_MAX], cid[PERF_CONTAINER_ID_LEN + 1];
    perf_service_name(r->rules, r->n_rules, p->comm, p->exe, p->cgroup, service, sizeof service);
    snprintf(pid, sizeof pid, "%u", p->pid);
    if (h->label_set(prof, "__name__", family) < 0 ||
        h->label_set(prof, "service_name", service) < 0 || h->label_set(prof, "pid", pid) < 0 ||
        h->label_set(prof, "comm", p->comm) < 0)
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
    if (perf_pprof_build(&r->resolver, prof, p, r->frequency, from, until - from, err, sizeof err) <
        0) {
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
 * its samples so far are profiled now, under the labels and mappings they
 * were taken with. */
void perf_stash_samples(perf_receiver *r, perf_process *p)
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

void perf_flush(perf_receiver *r, int check_alive)
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
