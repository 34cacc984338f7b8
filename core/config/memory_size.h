/* memory_size: reading a memory limit as a config writes it (for
 * service.memory_limit): a size such as "512MiB", or a percentage of the
 * memory the process may have, which is its cgroup's limit or else the
 * machine's total. The limiter itself is core/engine/memlimit.c. */
#ifndef PROFPIPE_MEMORY_SIZE_H
#define PROFPIPE_MEMORY_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* Resolves a limit as written: a size ("512MiB", "1GB", "1073741824") or
 * a percentage ("80%", "12.5%") of `total`. 0, or -1 with why. */
int memsize_parse(const char *text, uint64_t total, uint64_t *out, char *why, size_t whylen);

/* The memory the process may have: the limit of its cgroup (v2
 * memory.max, v1 memory.limit_in_bytes), or the machine's total when the
 * cgroup has none or is not found. proc_cgroup is /proc/self/cgroup and
 * fs_root /sys/fs/cgroup outside tests. */
uint64_t memsize_total_from(const char *proc_cgroup, const char *fs_root, uint64_t machine);
uint64_t memsize_total(void);

#endif
