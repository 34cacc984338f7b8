/* perf_track: applies the kernel's records to the process table. Every
 * drain reads all rings, sorts the records by time (a child's FORK and its
 * first samples may sit in different CPUs' rings) and applies them:
 * samples count a stack in their process, COMM/MMAP2/FORK/EXIT keep the
 * processes' names and mappings current, LOST and THROTTLE are counted.
 * Filtering by pids, comm or exe happens here, in user space.
 */
#include "perf_receiver.h"

#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>

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
    if (p && perf_proc_load(p, (uint64_t)perf_clock_ns(CLOCK_MONOTONIC)) < 0)
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
        perf_stash_samples(r, p);
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
    perf_proc_add_map(p, m.addr, m.addr + m.len, m.pgoff, makedev(m.maj, m.min), m.ino, m.filename);
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
        perf_stash_samples(r, child); /* a stale entry: the pid was reused */
    parent = process_get(r, t.ppid);  /* the child starts as a copy of it */
    child = perf_procs_add(&r->procs, t.pid);
    if (!child)
        return;
    if (!parent || perf_proc_copy(child, parent) < 0)
        if (perf_proc_load(child, (uint64_t)perf_clock_ns(CLOCK_MONOTONIC)) < 0)
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
    case PERF_RECORD_SAMPLE:
        on_sample(r, rec);
        break;
    case PERF_RECORD_MMAP2:
        on_mmap2(r, rec);
        break;
    case PERF_RECORD_COMM:
        on_comm(r, rec);
        break;
    case PERF_RECORD_FORK:
        on_fork(r, rec);
        break;
    case PERF_RECORD_EXIT:
        on_exit_record(r, rec);
        break;
    case PERF_RECORD_LOST:
        if (perf_parse_lost(rec, &lost) == 0)
            r->n_lost += lost;
        break;
    case PERF_RECORD_THROTTLE:
        r->n_throttle++;
        break;
    case PERF_RECORD_UNTHROTTLE:
        r->n_unthrottle++;
        break;
    default:
        break;
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

void perf_drain(perf_receiver *r)
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
