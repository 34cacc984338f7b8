/* perf_event: opening cpu-clock sampling events, reading their ring
 * buffers, and parsing the records (see perf_event.h for why records are
 * copied out and sorted rather than handled in place).
 *
 * Ring protocol (perf_event_open(2)): the kernel writes records at
 * data_head and we free them by advancing data_tail. data_head is read with
 * acquire semantics so the record bytes are read after it; data_tail is
 * written with release semantics so the kernel reuses room only after our
 * reads are done. Records are 8-byte aligned but may wrap around the end of
 * the data area; those are copied in two parts.
 */
#include "perf_event.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The sample layout perf_parse_sample reads: keep the two in step. */
#define PERF_SAMPLE_BITS                                                                           \
    (PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD |                   \
     PERF_SAMPLE_CALLCHAIN)
/* sample_id_all trailer for those bits: {pid,tid} {time} {cpu,res}. */
#define PERF_TRAILER_SIZE 24
#define PERF_TRAILER_TIME_FROM_END 16
/* Deepest callchain asked for; the kernel caps it at perf_event_max_stack. */
#define PERF_MAX_STACK 127
#define PERF_PARANOID_PATH "/proc/sys/kernel/perf_event_paranoid"
#define PERF_MAX_RATE_PATH "/proc/sys/kernel/perf_event_max_sample_rate"
#define SYSCTL_TEXT_MAX 32
#define PERF_CPU_ONLINE_PATH "/sys/devices/system/cpu/online"

/* A sysctl's value as text (first line of its /proc/sys file), or "?". */
static const char *sysctl_text(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f || !fgets(buf, (int)len, f))
        snprintf(buf, len, "?");
    if (f)
        fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

static void explain_open_error(int err_no, int cpu, char *err, size_t errlen)
{
    char value[SYSCTL_TEXT_MAX];
    switch (err_no) {
    case EACCES:
    case EPERM:
        snprintf(err, errlen,
                 "perf_event_open on CPU %d: permission denied "
                 "(kernel.perf_event_paranoid=%s): system-wide sampling needs "
                 "CAP_PERFMON (or CAP_SYS_ADMIN before Linux 5.8), e.g. run as "
                 "root or `setcap cap_perfmon+ep profpipe`, or lower it with "
                 "`sysctl -w kernel.perf_event_paranoid=-1`",
                 cpu, sysctl_text(PERF_PARANOID_PATH, value, sizeof value));
        break;
    case EMFILE:
    case ENFILE:
        snprintf(err, errlen,
                 "perf_event_open on CPU %d: too many open files: the perf "
                 "receiver needs one descriptor per CPU; raise the limit "
                 "(`ulimit -n`, or LimitNOFILE= in the systemd unit)",
                 cpu);
        break;
    case ENOENT:
    case ENODEV:
    case EOPNOTSUPP:
        snprintf(err, errlen,
                 "perf_event_open on CPU %d: %s: this kernel or machine does "
                 "not offer the cpu-clock software event",
                 cpu, strerror(err_no));
        break;
    case EINVAL:
        snprintf(err, errlen,
                 "perf_event_open on CPU %d: invalid argument: is `frequency` above "
                 "kernel.perf_event_max_sample_rate (now %s; the kernel lowers it when "
                 "sampling interrupts take too long)?",
                 cpu, sysctl_text(PERF_MAX_RATE_PATH, value, sizeof value));
        break;
    case EBADF:
        snprintf(err, errlen,
                 "perf_event_open on CPU %d: the cgroup cannot be sampled "
                 "(%s): is the perf_event controller enabled for it?",
                 cpu, strerror(err_no));
        break;
    default:
        snprintf(err, errlen, "perf_event_open on CPU %d: %s", cpu, strerror(err_no));
    }
}

static void fill_attr(struct perf_event_attr *a, const perf_open_spec *spec)
{
    memset(a, 0, sizeof *a);
    a->size = sizeof *a;
    a->type = PERF_TYPE_SOFTWARE;
    a->config = PERF_COUNT_SW_CPU_CLOCK;
    a->freq = 1;
    a->sample_freq = (uint64_t)spec->frequency;
    a->sample_type = PERF_SAMPLE_BITS;
    a->disabled = 1;
    /* Both: the kernel generates mapping records at all only while some
     * event has `mmap` set (it counts those, not `mmap2`), and writes them
     * in the MMAP2 layout when `mmap2` is set. */
    a->mmap = 1;
    a->mmap2 = 1;
    a->comm = 1;
    a->comm_exec = 1;
    a->task = 1;
    a->sample_id_all = 1;
    a->exclude_hv = 1;
    a->exclude_idle = 1;
    /* Time in the kernel (syscalls, page faults) still counts as the
     * process's CPU time; without include_kernel only its kernel frames are
     * left out. */
    a->exclude_callchain_kernel = spec->include_kernel ? 0 : 1;
    a->sample_max_stack = PERF_MAX_STACK;
    a->use_clockid = 1;
    a->clockid = CLOCK_MONOTONIC;
    a->watermark = 1;
    a->wakeup_watermark = (uint32_t)(spec->data_size / 4);
}

int perf_ring_open(perf_ring *r, const perf_open_spec *spec, int cpu, char *err, size_t errlen)
{
    struct perf_event_attr attr;
    long page = sysconf(_SC_PAGESIZE);
    int pid = -1;
    unsigned long flags = PERF_FLAG_FD_CLOEXEC;

    memset(r, 0, sizeof *r);
    r->fd = -1;
    r->cpu = cpu;
    fill_attr(&attr, spec);
    if (spec->cgroup_fd >= 0) {
        pid = spec->cgroup_fd;
        flags |= PERF_FLAG_PID_CGROUP;
    }
    r->fd = (int)syscall(SYS_perf_event_open, &attr, pid, cpu, -1, flags);
    if (r->fd < 0) {
        explain_open_error(errno, cpu, err, errlen);
        return -1;
    }
    r->data_size = spec->data_size;
    r->map_size = (size_t)page + r->data_size;
    r->base = mmap(NULL, r->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
    if (r->base == MAP_FAILED) {
        int e = errno;
        snprintf(err, errlen, "mmap of the perf ring on CPU %d (%zu KiB): %s%s", cpu,
                 r->map_size / 1024, strerror(e),
                 e == EPERM || e == ENOMEM ? ": over the locked-memory limit for perf "
                                             "(kernel.perf_event_mlock_kb, `ulimit -l`); lower "
                                             "buffer_size or raise the limit"
                                           : "");
        r->base = NULL;
        close(r->fd);
        r->fd = -1;
        return -1;
    }
    r->data = (uint8_t *)r->base + page;
    return 0;
}

int perf_ring_enable(perf_ring *r)
{
    return ioctl(r->fd, PERF_EVENT_IOC_ENABLE, 0) == 0 ? 0 : -1;
}

void perf_ring_close(perf_ring *r)
{
    if (r->base)
        munmap(r->base, r->map_size);
    if (r->fd >= 0)
        close(r->fd);
    r->base = NULL;
    r->fd = -1;
}

void perf_ring_copy(const uint8_t *data, size_t size, uint64_t pos, void *dst, size_t len)
{
    size_t off = (size_t)(pos & (size - 1));
    size_t first = size - off < len ? size - off : len;
    memcpy(dst, data + off, first);
    if (first < len)
        memcpy((uint8_t *)dst + first, data, len - first);
}

static int records_reserve(perf_records *rs, size_t bytes)
{
    if (rs->len + bytes > rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 64 * 1024;
        while (cap < rs->len + bytes)
            cap *= 2;
        uint8_t *b = realloc(rs->bytes, cap);
        if (!b)
            return -1;
        rs->bytes = b;
        rs->cap = cap;
    }
    if (rs->n == rs->refs_cap) {
        size_t cap = rs->refs_cap ? rs->refs_cap * 2 : 1024;
        perf_record_ref *r = realloc(rs->refs, cap * sizeof *r);
        if (!r)
            return -1;
        rs->refs = r;
        rs->refs_cap = cap;
    }
    return 0;
}

/* Records the one just written at rs->len (len bytes) and keeps it. */
static void records_commit(perf_records *rs, size_t len)
{
    perf_record_ref *ref = &rs->refs[rs->n];
    ref->offset = rs->len;
    ref->seq = rs->n;
    ref->time = perf_record_time(rs->bytes + rs->len);
    rs->n++;
    rs->len += len;
}

int perf_records_add(perf_records *rs, const void *rec, size_t len)
{
    if (records_reserve(rs, len) < 0)
        return -1;
    memcpy(rs->bytes + rs->len, rec, len);
    records_commit(rs, len);
    return 0;
}

int perf_ring_read(perf_ring *r, perf_records *out)
{
    struct perf_event_mmap_page *meta = r->base;
    uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = meta->data_tail;
    int n = 0, rc = 0;

    while (tail < head) {
        struct perf_event_header h;
        perf_ring_copy(r->data, r->data_size, tail, &h, sizeof h);
        /* records are 8-byte multiples: our copies stay aligned for parsing */
        if (h.size < sizeof h || h.size % sizeof(uint64_t) || h.size > head - tail) {
            rc = -1; /* corrupt: skip what is left */
            break;
        }
        if (records_reserve(out, h.size) < 0) {
            rc = -1;
            break;
        }
        perf_ring_copy(r->data, r->data_size, tail, out->bytes + out->len, h.size);
        records_commit(out, h.size);
        tail += h.size;
        n++;
    }
    /* on a corrupt ring, the rest up to head is given up: tail = head */
    __atomic_store_n(&meta->data_tail, head, __ATOMIC_RELEASE);
    return rc < 0 ? -1 : n;
}

static int ref_cmp(const void *a, const void *b)
{
    const perf_record_ref *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void perf_records_sort(perf_records *rs)
{
    if (rs->n > 1)
        qsort(rs->refs, rs->n, sizeof *rs->refs, ref_cmp);
}

const void *perf_records_get(const perf_records *rs, size_t i)
{
    return rs->bytes + rs->refs[i].offset;
}

void perf_records_reset(perf_records *rs)
{
    rs->len = 0;
    rs->n = 0;
}

void perf_records_free(perf_records *rs)
{
    free(rs->bytes);
    free(rs->refs);
    memset(rs, 0, sizeof *rs);
}

/* --- parsing --- */

static const struct perf_event_header *hdr(const void *rec)
{
    return rec;
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

uint64_t perf_record_time(const void *rec)
{
    const struct perf_event_header *h = hdr(rec);
    const uint8_t *b = rec;
    if (h->type == PERF_RECORD_SAMPLE) {
        if (h->size < sizeof *h + 16)
            return 0;
        return rd64(b + sizeof *h + 8);
    }
    if (h->size < sizeof *h + PERF_TRAILER_SIZE)
        return 0;
    return rd64(b + h->size - PERF_TRAILER_TIME_FROM_END);
}

int perf_parse_sample(const void *rec, perf_sample *out)
{
    const struct perf_event_header *h = hdr(rec);
    const uint8_t *p = (const uint8_t *)rec + sizeof *h;
    const uint8_t *end = (const uint8_t *)rec + h->size;
    /* pid,tid | time | cpu,res | period | nr */
    if (h->type != PERF_RECORD_SAMPLE || end - p < 40)
        return -1;
    out->pid = rd32(p);
    out->tid = rd32(p + 4);
    out->time = rd64(p + 8);
    out->cpu = rd32(p + 16);
    out->period = rd64(p + 24);
    out->n_ips = rd64(p + 32);
    p += 40;
    if (out->n_ips > (uint64_t)(end - p) / sizeof(uint64_t))
        return -1;
    /* records are 8-byte aligned in our copy buffers */
    out->ips = (const uint64_t *)(const void *)p;
    return 0;
}

int perf_parse_mmap2(const void *rec, perf_mmap2 *out)
{
    const struct perf_event_header *h = hdr(rec);
    const uint8_t *p = (const uint8_t *)rec + sizeof *h;
    const uint8_t *end = (const uint8_t *)rec + h->size;
    /* pid,tid addr len pgoff maj,min ino ino_gen prot,flags filename */
    if (h->type != PERF_RECORD_MMAP2 || end - p < 64 + 1)
        return -1;
    out->pid = rd32(p);
    out->tid = rd32(p + 4);
    out->addr = rd64(p + 8);
    out->len = rd64(p + 16);
    out->pgoff = rd64(p + 24);
    out->maj = rd32(p + 32);
    out->min = rd32(p + 36);
    out->ino = rd64(p + 40);
    out->prot = rd32(p + 56);
    out->flags = rd32(p + 60);
    out->filename = (const char *)p + 64;
    if (!memchr(out->filename, '\0', (size_t)(end - (p + 64))))
        return -1;
    return 0;
}

int perf_parse_comm(const void *rec, perf_comm *out)
{
    const struct perf_event_header *h = hdr(rec);
    const uint8_t *p = (const uint8_t *)rec + sizeof *h;
    const uint8_t *end = (const uint8_t *)rec + h->size;
    if (h->type != PERF_RECORD_COMM || end - p < 8 + 1)
        return -1;
    out->pid = rd32(p);
    out->tid = rd32(p + 4);
    out->exec = (h->misc & PERF_RECORD_MISC_COMM_EXEC) != 0;
    out->comm = (const char *)p + 8;
    if (!memchr(out->comm, '\0', (size_t)(end - (p + 8))))
        return -1;
    return 0;
}

int perf_parse_task(const void *rec, perf_task *out)
{
    const struct perf_event_header *h = hdr(rec);
    const uint8_t *p = (const uint8_t *)rec + sizeof *h;
    if ((h->type != PERF_RECORD_FORK && h->type != PERF_RECORD_EXIT) || h->size < sizeof *h + 24)
        return -1;
    out->pid = rd32(p);
    out->ppid = rd32(p + 4);
    out->tid = rd32(p + 8);
    out->ptid = rd32(p + 12);
    out->time = rd64(p + 16);
    return 0;
}

int perf_parse_lost(const void *rec, uint64_t *lost)
{
    const struct perf_event_header *h = hdr(rec);
    if (h->type != PERF_RECORD_LOST || h->size < sizeof *h + 16)
        return -1;
    *lost = rd64((const uint8_t *)rec + sizeof *h + 8);
    return 0;
}

int perf_parse_cpu_list(const char *text, int *cpus, int max)
{
    int n = 0;
    const char *p = text;
    while (*p && *p != '\n') {
        char *e;
        long a = strtol(p, &e, 10), b;
        if (e == p || a < 0)
            return -1;
        b = a;
        p = e;
        if (*p == '-') {
            b = strtol(p + 1, &e, 10);
            if (e == p + 1 || b < a)
                return -1;
            p = e;
        }
        for (long c = a; c <= b; c++) {
            if (n == max)
                return -1;
            cpus[n++] = (int)c;
        }
        if (*p == ',')
            p++;
        else if (*p && *p != '\n')
            return -1;
    }
    return n;
}

int perf_online_cpus(int *cpus, int max)
{
    char buf[1024];
    FILE *f = fopen(PERF_CPU_ONLINE_PATH, "r");
    int n = -1;
    if (!f)
        return -1;
    if (fgets(buf, sizeof buf, f))
        n = perf_parse_cpu_list(buf, cpus, max);
    fclose(f);
    return n;
}
