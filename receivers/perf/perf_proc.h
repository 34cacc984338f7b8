/* perf_proc: what the perf receiver knows about each process: its comm,
 * executable, cgroup, executable mappings, and the stacks sampled in it
 * during the current interval.
 *
 * A process enters the table from a FORK record (inheriting its parent's
 * mappings), or, for processes already running when sampling began, from
 * /proc/<pid>/{comm,exe,cgroup,maps} the first time a record names it.
 * `loaded_time` tells which later records /proc already reflected: a COMM or
 * MMAP2 older than the /proc read is not applied again. An exited process
 * stays until its samples have been emitted at the end of the interval.
 */
#ifndef PERF_PROC_H
#define PERF_PROC_H

#include <stddef.h>
#include <stdint.h>

#define PERF_COMM_MAX 16 /* TASK_COMM_LEN */
#define PERF_CONTAINER_ID_LEN 64
#define PERF_PATH_MAX 4096

typedef struct perf_map {
    uint64_t start, end, pgoff;
    uint64_t dev, ino;
    char *path; /* owned; may be "" (anonymous) or "[vdso]" */
} perf_map;

/* One distinct callchain (PERF_CONTEXT_* markers kept) and its count. */
typedef struct perf_stack {
    uint64_t hash;
    uint64_t *ips; /* owned; NULL marks an empty slot */
    uint32_t n;
    uint64_t count;
} perf_stack;

typedef struct perf_stacks {
    perf_stack *slots;
    size_t cap;     /* a power of two, or 0 */
    size_t n;       /* distinct stacks */
    uint64_t total; /* samples */
} perf_stacks;

typedef struct perf_process {
    uint32_t pid;
    char comm[PERF_COMM_MAX + 1];
    char *exe;      /* owned; NULL while unknown */
    char *cgroup;   /* owned; NULL while unknown */
    perf_map *maps; /* sorted by start, not overlapping */
    size_t n_maps, cap_maps;
    uint64_t loaded_time;   /* CLOCK_MONOTONIC ns of the /proc read, or 0 */
    int exe_from_next_mmap; /* after exec: the first exec mapping is the exe */
    int exited;
    int match; /* filter result: -1 not yet decided, 0 no, 1 yes */
    perf_stacks stacks;
    struct perf_process *next; /* hash chain */
} perf_process;

typedef struct perf_procs {
    perf_process **buckets;
    size_t n_buckets; /* a power of two */
    size_t count;
} perf_procs;

int perf_procs_init(perf_procs *t);
void perf_procs_free(perf_procs *t);
perf_process *perf_procs_find(perf_procs *t, uint32_t pid);
/* Adds an empty process (replacing any stale one with the same pid). */
perf_process *perf_procs_add(perf_procs *t, uint32_t pid);
void perf_procs_remove(perf_procs *t, uint32_t pid);
/* Calls fn on every process; fn returns 1 to remove it. */
void perf_procs_each(perf_procs *t, int (*fn)(perf_process *, void *), void *arg);

/* Reads comm, exe, cgroup and executable mappings from /proc/<pid> and
 * sets loaded_time. 0, or -1 when the process is gone (loaded_time is then
 * left alone, so that every record about it still applies). */
int perf_proc_load(perf_process *p, uint64_t now_mono_ns);
int perf_proc_copy(perf_process *child, const perf_process *parent);
void perf_proc_set_comm(perf_process *p, const char *comm);
int perf_proc_set_exe(perf_process *p, const char *exe);
/* An exec: the old image's mappings go; the next exec mapping names the exe. */
void perf_proc_exec(perf_process *p);
/* Adds a mapping, cutting any old ones it overlaps, as mmap(2) does. */
int perf_proc_add_map(perf_process *p, uint64_t start, uint64_t end, uint64_t pgoff, uint64_t dev,
                      uint64_t ino, const char *path);
const perf_map *perf_proc_find_map(const perf_process *p, uint64_t addr);

/* Parses one /proc/<pid>/maps line. Returns 1 for an executable mapping
 * (out filled; out->path malloc'd), 0 for others, -1 if malformed. */
int perf_maps_parse_line(const char *line, perf_map *out);
/* The cgroup to show for a /proc/<pid>/cgroup text: the v2 path, else the
 * first v1 path other than "/". Writes "" if none. */
void perf_cgroup_pick(const char *text, char *out, size_t outlen);
/* Mount points, from /proc/mounts text, of the cgroup v1 hierarchy holding
 * the perf_event controller and of cgroup2; "" for one not mounted. */
void perf_cgroup_roots_parse(const char *mounts, char *v1, size_t v1len, char *v2, size_t v2len);
/* The same from this machine's /proc/self/mounts. */
void perf_cgroup_roots(char *v1, size_t v1len, char *v2, size_t v2len);
/* The container id (64 hex digits, as docker, containerd and CRI-O name
 * their cgroups) in a cgroup path: 1 and out filled, or 0. */
int perf_container_id(const char *cgroup, char out[PERF_CONTAINER_ID_LEN + 1]);

/* Counts one sample of callchain ips[0..n). 0, or -1 when out of memory. */
int perf_stacks_add(perf_stacks *s, const uint64_t *ips, uint32_t n);
void perf_stacks_clear(perf_stacks *s);

#endif
