/* perf_event: the kernel side of the perf receiver. Opens one cpu-clock
 * sampling event per online CPU, maps its ring buffer, and copies records
 * out of the ring; parses the record kinds the receiver uses.
 *
 * Records are copied out of the ring (not handled in place) because they are
 * sorted by time across CPUs before they are applied: a child's FORK may sit
 * in one CPU's ring and its first samples in another's. Parsing is split
 * from reading so the record layouts can be unit-tested on made-up bytes.
 */
#ifndef PERF_EVENT_H
#define PERF_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One sampling ring: the fd, its mapping (metadata page + data pages). */
typedef struct perf_ring {
    int fd;
    int cpu;
    void *base;       /* mmap'd: one metadata page, then data */
    uint8_t *data;    /* data pages */
    size_t data_size; /* a power of two */
    size_t map_size;
} perf_ring;

typedef struct perf_open_spec {
    int frequency;      /* Hz */
    int include_kernel; /* 0: no kernel frames in callchains */
    int cgroup_fd;      /* -1, or a cgroup directory fd (PERF_FLAG_PID_CGROUP) */
    size_t data_size;   /* ring data bytes per CPU, a power-of-two multiple of the page */
} perf_open_spec;

/* Opens, maps and leaves disabled the event for `cpu`. 0, or -1 with what
 * to do about it in err (paranoid/CAP_PERFMON, open files, mlock limit). */
int perf_ring_open(perf_ring *r, const perf_open_spec *spec, int cpu, char *err, size_t errlen);
int perf_ring_enable(perf_ring *r);
void perf_ring_close(perf_ring *r);

/* Copies len bytes at ring position pos out of a ring of `size` bytes (a
 * power of two), across the end of the buffer if need be. */
void perf_ring_copy(const uint8_t *data, size_t size, uint64_t pos, void *dst, size_t len);

/* Records copied out of rings, each with its time, to be sorted and
 * applied in time order. Grows as needed; reset between rounds. */
typedef struct perf_record_ref {
    uint64_t time;
    uint64_t seq; /* order read: ties keep it */
    size_t offset;
} perf_record_ref;

typedef struct perf_records {
    uint8_t *bytes;
    size_t len, cap;
    perf_record_ref *refs;
    size_t n, refs_cap;
} perf_records;

/* Appends every record now in the ring to `out` and frees their room in the
 * ring. Returns the number of records, or -1 when out of memory or the ring
 * is corrupt (then the ring is skipped to its head). */
int perf_ring_read(perf_ring *r, perf_records *out);
/* Appends one record (header included) as it would be read from a ring. */
int perf_records_add(perf_records *out, const void *rec, size_t len);
void perf_records_sort(perf_records *out);
const void *perf_records_get(const perf_records *rs, size_t i);
void perf_records_reset(perf_records *rs);
void perf_records_free(perf_records *rs);

/* --- record parsing (layouts for the attr perf_ring_open sets) --- */

typedef struct perf_sample {
    uint32_t pid, tid;
    uint64_t time;
    uint32_t cpu;
    uint64_t period;
    const uint64_t *ips; /* borrowed from the record, PERF_CONTEXT_* included */
    uint64_t n_ips;
} perf_sample;

typedef struct perf_mmap2 {
    uint32_t pid, tid;
    uint64_t addr, len, pgoff;
    uint32_t maj, min;
    uint64_t ino;
    uint32_t prot, flags;
    const char *filename; /* borrowed from the record */
} perf_mmap2;

typedef struct perf_comm {
    uint32_t pid, tid;
    int exec; /* PERF_RECORD_MISC_COMM_EXEC */
    const char *comm;
} perf_comm;

typedef struct perf_task { /* FORK and EXIT */
    uint32_t pid, ppid, tid, ptid;
    uint64_t time;
} perf_task;

/* Each returns 0, or -1 if the record is too short for its layout. */
int perf_parse_sample(const void *rec, perf_sample *out);
int perf_parse_mmap2(const void *rec, perf_mmap2 *out);
int perf_parse_comm(const void *rec, perf_comm *out);
int perf_parse_task(const void *rec, perf_task *out);
int perf_parse_lost(const void *rec, uint64_t *lost);
/* Time of any record: the sample's own, or the sample_id_all trailer's. */
uint64_t perf_record_time(const void *rec);

/* Online CPUs from /sys/devices/system/cpu/online ("0-3,5"); returns the
 * count written to cpus (at most max), or -1. */
int perf_online_cpus(int *cpus, int max);
/* Parses a CPU list such as "0-3,5"; same return. */
int perf_parse_cpu_list(const char *text, int *cpus, int max);

#endif
