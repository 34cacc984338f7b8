/* memory_size: a memory limit as written, a size or a percentage of the
 * memory the process may have (memory_size.h). */
#include "memory_size.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "units.h"

#define MEMSIZE_PERCENT_MAX 100.0
/* cgroup v1 reports "no limit" as a huge number near LONG_MAX. */
#define MEMSIZE_V1_UNLIMITED ((uint64_t)1 << 62)
#define MEMSIZE_PATH_MAX 4096

int memsize_parse(const char *text, uint64_t total, uint64_t *out, char *why, size_t whylen)
{
    size_t len = text ? strlen(text) : 0;
    if (len == 0) {
        snprintf(why, whylen, "empty limit (write a size such as 512MiB, or a percentage)");
        return -1;
    }
    if (text[len - 1] == '%') {
        char *end;
        errno = 0;
        double pct = strtod(text, &end);
        if (errno || end != text + len - 1 || len == 1 || pct != pct) {
            snprintf(why, whylen, "invalid percentage \"%s\"", text);
            return -1;
        }
        if (pct <= 0 || pct > MEMSIZE_PERCENT_MAX) {
            snprintf(why, whylen, "percentage %s is not in (0%%, 100%%]", text);
            return -1;
        }
        *out = (uint64_t)((double)total * pct / MEMSIZE_PERCENT_MAX);
        return 0;
    }
    int64_t bytes;
    if (units_parse_size(text, &bytes) < 0 || bytes <= 0) {
        snprintf(why, whylen,
                 "invalid size \"%s\" (use B, KiB, MiB, GiB, KB, MB, GB, or a percentage)", text);
        return -1;
    }
    *out = (uint64_t)bytes;
    return 0;
}

/* The first line of path as a number; "max" (cgroup v2) is no limit. */
static int read_limit_file(const char *path, uint64_t *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[64];
    int rc = -1;
    if (fgets(line, sizeof line, f)) {
        char *end;
        unsigned long long v = strtoull(line, &end, 10);
        if (end != line && v > 0 && v < MEMSIZE_V1_UNLIMITED) {
            *out = v;
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

uint64_t memsize_total_from(const char *proc_cgroup, const char *fs_root, uint64_t machine)
{
    FILE *f = fopen(proc_cgroup, "r");
    if (!f)
        return machine;
    char line[MEMSIZE_PATH_MAX], path[MEMSIZE_PATH_MAX * 2];
    uint64_t limit = 0;
    while (!limit && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *first = strchr(line, ':'), *second = first ? strchr(first + 1, ':') : NULL;
        if (!second)
            continue;
        const char *cg = second + 1;
        if (strncmp(line, "0::", 3) == 0) { /* v2: the unified hierarchy */
            snprintf(path, sizeof path, "%s%s/memory.max", fs_root, cg);
            if (read_limit_file(path, &limit) < 0)
                limit = 0;
        } else if (strstr(first, ":memory:") == first || strstr(first, ",memory:") ||
                   strstr(first, ":memory,")) {
            snprintf(path, sizeof path, "%s/memory%s/memory.limit_in_bytes", fs_root, cg);
            if (read_limit_file(path, &limit) < 0)
                limit = 0;
        }
    }
    fclose(f);
    return limit && limit < machine ? limit : machine;
}

uint64_t memsize_total(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t machine = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : UINT64_MAX;
    return memsize_total_from("/proc/self/cgroup", "/sys/fs/cgroup", machine);
}
