/* perf_proc: the process table of the perf receiver (see perf_proc.h).
 *
 * Processes hash by pid into chained buckets; each process's stacks live in
 * an open-addressing table keyed by the callchain's hash, so a sample costs
 * one hash and, for a stack seen before, no allocation.
 */
#include "perf_proc.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define PROCS_BUCKETS 1024
#define STACKS_INITIAL 64
#define DELETED_SUFFIX " (deleted)"
#define MAPS_LINE_MAX 4096

int perf_procs_init(perf_procs *t)
{
    t->n_buckets = PROCS_BUCKETS;
    t->count = 0;
    t->buckets = calloc(t->n_buckets, sizeof *t->buckets);
    return t->buckets ? 0 : -1;
}

static void process_free(perf_process *p)
{
    for (size_t i = 0; i < p->n_maps; i++)
        free(p->maps[i].path);
    free(p->maps);
    free(p->exe);
    free(p->cgroup);
    perf_stacks_clear(&p->stacks);
    free(p);
}

void perf_procs_free(perf_procs *t)
{
    for (size_t b = 0; b < t->n_buckets; b++) {
        perf_process *p = t->buckets[b];
        while (p) {
            perf_process *next = p->next;
            process_free(p);
            p = next;
        }
    }
    free(t->buckets);
    t->buckets = NULL;
    t->count = 0;
}

static size_t bucket_of(const perf_procs *t, uint32_t pid)
{
    return (pid * 2654435761u) & (t->n_buckets - 1);
}

perf_process *perf_procs_find(perf_procs *t, uint32_t pid)
{
    for (perf_process *p = t->buckets[bucket_of(t, pid)]; p; p = p->next)
        if (p->pid == pid)
            return p;
    return NULL;
}

void perf_procs_remove(perf_procs *t, uint32_t pid)
{
    perf_process **pp = &t->buckets[bucket_of(t, pid)];
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->pid == pid) {
            perf_process *dead = *pp;
            *pp = dead->next;
            process_free(dead);
            t->count--;
            return;
        }
    }
}

perf_process *perf_procs_add(perf_procs *t, uint32_t pid)
{
    perf_process *p;
    perf_procs_remove(t, pid);
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->pid = pid;
    p->match = -1;
    p->next = t->buckets[bucket_of(t, pid)];
    t->buckets[bucket_of(t, pid)] = p;
    t->count++;
    return p;
}

void perf_procs_each(perf_procs *t, int (*fn)(perf_process *, void *), void *arg)
{
    for (size_t b = 0; b < t->n_buckets; b++) {
        perf_process **pp = &t->buckets[b];
        while (*pp) {
            perf_process *p = *pp;
            if (fn(p, arg)) {
                *pp = p->next;
                process_free(p);
                t->count--;
            } else {
                pp = &p->next;
            }
        }
    }
}

void perf_proc_set_comm(perf_process *p, const char *comm)
{
    size_t n = strcspn(comm, "\n");
    if (n > PERF_COMM_MAX)
        n = PERF_COMM_MAX;
    memcpy(p->comm, comm, n);
    p->comm[n] = '\0';
    p->match = -1;
}

int perf_proc_set_exe(perf_process *p, const char *exe)
{
    char *copy = strdup(exe);
    size_t n, suffix = strlen(DELETED_SUFFIX);
    if (!copy)
        return -1;
    n = strlen(copy);
    if (n > suffix && strcmp(copy + n - suffix, DELETED_SUFFIX) == 0)
        copy[n - suffix] = '\0';
    free(p->exe);
    p->exe = copy;
    p->match = -1;
    return 0;
}

static void clear_maps(perf_process *p)
{
    for (size_t i = 0; i < p->n_maps; i++)
        free(p->maps[i].path);
    p->n_maps = 0;
}

void perf_proc_exec(perf_process *p)
{
    clear_maps(p);
    p->exe_from_next_mmap = 1;
}

/* Makes room for one more mapping at index i. */
static int maps_insert_at(perf_process *p, size_t i)
{
    if (p->n_maps == p->cap_maps) {
        size_t cap = p->cap_maps ? p->cap_maps * 2 : 16;
        perf_map *m = realloc(p->maps, cap * sizeof *m);
        if (!m)
            return -1;
        p->maps = m;
        p->cap_maps = cap;
    }
    memmove(&p->maps[i + 1], &p->maps[i], (p->n_maps - i) * sizeof *p->maps);
    p->n_maps++;
    return 0;
}

/* Cuts [start,end) out of the existing mappings, keeping what lies outside
 * (a mapping split in two keeps its path in both halves). */
static int maps_cut(perf_process *p, uint64_t start, uint64_t end)
{
    for (size_t i = 0; i < p->n_maps;) {
        perf_map *m = &p->maps[i];
        if (m->end <= start || m->start >= end) {
            i++;
            continue;
        }
        if (m->start < start && m->end > end) { /* split */
            char *path2 = strdup(m->path);
            if (!path2 || maps_insert_at(p, i + 1) < 0) {
                free(path2);
                return -1;
            }
            m = &p->maps[i];
            p->maps[i + 1] = *m;
            p->maps[i + 1].path = path2;
            p->maps[i + 1].pgoff += end - m->start;
            p->maps[i + 1].start = end;
            m->end = start;
            return 0;
        }
        if (m->start < start) {
            m->end = start;
            i++;
        } else if (m->end > end) {
            m->pgoff += end - m->start;
            m->start = end;
            i++;
        } else {
            free(m->path);
            memmove(m, m + 1, (p->n_maps - i - 1) * sizeof *m);
            p->n_maps--;
        }
    }
    return 0;
}

int perf_proc_add_map(perf_process *p, uint64_t start, uint64_t end, uint64_t pgoff, uint64_t dev,
                      uint64_t ino, const char *path)
{
    size_t i = 0;
    char *copy;
    if (end <= start || maps_cut(p, start, end) < 0)
        return -1;
    copy = strdup(path);
    if (!copy)
        return -1;
    while (i < p->n_maps && p->maps[i].start < start)
        i++;
    if (maps_insert_at(p, i) < 0) {
        free(copy);
        return -1;
    }
    p->maps[i] = (perf_map){start, end, pgoff, dev, ino, copy};
    return 0;
}

const perf_map *perf_proc_find_map(const perf_process *p, uint64_t addr)
{
    size_t lo = 0, hi = p->n_maps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->maps[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < p->n_maps && p->maps[lo].start <= addr)
        return &p->maps[lo];
    return NULL;
}

int perf_proc_copy(perf_process *child, const perf_process *parent)
{
    memcpy(child->comm, parent->comm, sizeof child->comm);
    if (parent->exe && perf_proc_set_exe(child, parent->exe) < 0)
        return -1;
    if (parent->cgroup) {
        free(child->cgroup);
        child->cgroup = strdup(parent->cgroup);
        if (!child->cgroup)
            return -1;
    }
    clear_maps(child);
    for (size_t i = 0; i < parent->n_maps; i++) {
        const perf_map *m = &parent->maps[i];
        if (perf_proc_add_map(child, m->start, m->end, m->pgoff, m->dev, m->ino, m->path) < 0)
            return -1;
    }
    child->match = -1;
    return 0;
}

int perf_maps_parse_line(const char *line, perf_map *out)
{
    unsigned long long start, end, off, ino;
    unsigned maj, min;
    char perms[8];
    int consumed = 0;
    const char *path;
    size_t n;

    if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &off, &maj, &min,
               &ino, &consumed) < 7 ||
        consumed == 0)
        return -1;
    if (strlen(perms) < 3 || perms[2] != 'x')
        return 0;
    path = line + consumed;
    n = strcspn(path, "\n");
    if (n >= strlen(DELETED_SUFFIX) &&
        strncmp(path + n - strlen(DELETED_SUFFIX), DELETED_SUFFIX, strlen(DELETED_SUFFIX)) == 0)
        n -= strlen(DELETED_SUFFIX);
    out->path = strndup(path, n);
    if (!out->path)
        return -1;
    out->start = start;
    out->end = end;
    out->pgoff = off;
    out->dev = makedev(maj, min);
    out->ino = ino;
    return 1;
}

static int read_small_file(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n;
    if (!f)
        return -1;
    n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
    return 0;
}

static int load_maps(perf_process *p)
{
    char path[64], line[MAPS_LINE_MAX];
    FILE *f;
    snprintf(path, sizeof path, "/proc/%u/maps", p->pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    clear_maps(p);
    while (fgets(line, sizeof line, f)) {
        perf_map m;
        if (perf_maps_parse_line(line, &m) != 1)
            continue;
        if (perf_proc_add_map(p, m.start, m.end, m.pgoff, m.dev, m.ino, m.path) < 0) {
            free(m.path);
            fclose(f);
            return -1;
        }
        free(m.path);
    }
    fclose(f);
    return 0;
}

int perf_proc_load(perf_process *p, uint64_t now_mono_ns)
{
    char path[64], buf[PATH_MAX + 1];
    ssize_t n;

    snprintf(path, sizeof path, "/proc/%u/comm", p->pid);
    if (read_small_file(path, buf, sizeof buf) < 0)
        return -1; /* gone: records will have to tell everything */
    p->loaded_time = now_mono_ns;
    perf_proc_set_comm(p, buf);
    snprintf(path, sizeof path, "/proc/%u/exe", p->pid);
    n = readlink(path, buf, sizeof buf - 1);
    if (n > 0) { /* kernel threads have no exe */
        buf[n] = '\0';
        if (perf_proc_set_exe(p, buf) < 0)
            return -1;
    }
    snprintf(path, sizeof path, "/proc/%u/cgroup", p->pid);
    if (read_small_file(path, buf, sizeof buf) == 0) {
        char picked[PATH_MAX];
        perf_cgroup_pick(buf, picked, sizeof picked);
        free(p->cgroup);
        p->cgroup = strdup(picked);
        if (!p->cgroup)
            return -1;
    }
    p->match = -1;
    return load_maps(p);
}

void perf_cgroup_pick(const char *text, char *out, size_t outlen)
{
    const char *line = text;
    char v1[PATH_MAX] = "";
    out[0] = '\0';
    while (*line) {
        size_t len = strcspn(line, "\n");
        const char *c1 = memchr(line, ':', len);
        const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
        if (c2) {
            size_t plen = len - (size_t)(c2 + 1 - line);
            const char *cpath = c2 + 1;
            int is_root = plen == 1 && cpath[0] == '/';
            if (strncmp(line, "0::", 3) == 0 && !is_root) {
                snprintf(out, outlen, "%.*s", (int)plen, cpath);
                return;
            }
            if (!is_root && plen > 0 && !v1[0])
                snprintf(v1, sizeof v1, "%.*s", (int)plen, cpath);
        }
        line += len;
        if (*line == '\n')
            line++;
    }
    snprintf(out, outlen, "%s", v1);
}

void perf_cgroup_roots_parse(const char *mounts, char *v1, size_t v1len, char *v2, size_t v2len)
{
    const char *line = mounts;
    v1[0] = v2[0] = '\0';
    while (*line) {
        char dev[PERF_PATH_MAX], dir[PERF_PATH_MAX], type[64], opts[PERF_PATH_MAX];
        size_t len = strcspn(line, "\n");
        if (sscanf(line, "%4095s %4095s %63s %4095s", dev, dir, type, opts) == 4) {
            if (strcmp(type, "cgroup2") == 0 && !v2[0])
                snprintf(v2, v2len, "%s", dir);
            else if (strcmp(type, "cgroup") == 0 && !v1[0]) {
                /* the controller is one of the comma-separated options */
                char *save = NULL;
                for (char *tok = strtok_r(opts, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
                    if (strcmp(tok, "perf_event") == 0)
                        snprintf(v1, v1len, "%s", dir);
            }
        }
        line += len;
        if (*line == '\n')
            line++;
    }
}

void perf_cgroup_roots(char *v1, size_t v1len, char *v2, size_t v2len)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen("/proc/self/mounts", "r"), *out = open_memstream(&text, &len);
    char buf[PERF_PATH_MAX];
    v1[0] = v2[0] = '\0';
    while (f && out && fgets(buf, sizeof buf, f))
        fputs(buf, out);
    if (f)
        fclose(f);
    if (out)
        fclose(out);
    if (text)
        perf_cgroup_roots_parse(text, v1, v1len, v2, v2len);
    free(text);
}

int perf_container_id(const char *cgroup, char out[PERF_CONTAINER_ID_LEN + 1])
{
    int found = 0;
    const char *p = cgroup;
    while (*p) {
        size_t run = 0;
        while (isxdigit((unsigned char)p[run]))
            run++;
        int starts_clean = p == cgroup || !isalnum((unsigned char)p[-1]);
        if (run == PERF_CONTAINER_ID_LEN && starts_clean && !isalnum((unsigned char)p[run])) {
            memcpy(out, p, PERF_CONTAINER_ID_LEN);
            out[PERF_CONTAINER_ID_LEN] = '\0';
            found = 1; /* keep going: the innermost one wins */
        }
        p += run ? run : 1;
    }
    return found;
}

static uint64_t stack_hash(const uint64_t *ips, uint32_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the words */
    for (uint32_t i = 0; i < n; i++) {
        h ^= ips[i];
        h *= 1099511628211ull;
        h ^= h >> 29;
    }
    return h ? h : 1;
}

static int stacks_grow(perf_stacks *s)
{
    size_t cap = s->cap ? s->cap * 2 : STACKS_INITIAL;
    perf_stack *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < s->cap; i++) {
        perf_stack *old = &s->slots[i];
        if (!old->ips)
            continue;
        size_t j = old->hash & (cap - 1);
        while (slots[j].ips)
            j = (j + 1) & (cap - 1);
        slots[j] = *old;
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

int perf_stacks_add(perf_stacks *s, const uint64_t *ips, uint32_t n)
{
    uint64_t h = stack_hash(ips, n);
    size_t j;
    if ((s->n + 1) * 4 > s->cap * 3 && stacks_grow(s) < 0)
        return -1;
    for (j = h & (s->cap - 1); s->slots[j].ips; j = (j + 1) & (s->cap - 1)) {
        perf_stack *st = &s->slots[j];
        if (st->hash == h && st->n == n && memcmp(st->ips, ips, n * sizeof *ips) == 0) {
            st->count++;
            s->total++;
            return 0;
        }
    }
    /* one extra word so an empty callchain still has a non-NULL array */
    s->slots[j].ips = malloc((n + 1) * sizeof *ips);
    if (!s->slots[j].ips)
        return -1;
    memcpy(s->slots[j].ips, ips, n * sizeof *ips);
    s->slots[j].hash = h;
    s->slots[j].n = n;
    s->slots[j].count = 1;
    s->n++;
    s->total++;
    return 0;
}

void perf_stacks_clear(perf_stacks *s)
{
    /* the table goes too: an idle process holds no memory for stacks */
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i].ips);
    free(s->slots);
    s->slots = NULL;
    s->cap = 0;
    s->n = 0;
    s->total = 0;
}
