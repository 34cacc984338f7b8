/* perf_pprof: one process's sampled stacks → one pprof CPU profile.
 *
 * Each distinct address becomes one location (the same address in two
 * stacks is one location), each distinct function name one function, each
 * mapping used one pprof mapping (the executable's first, as pprof expects
 * of the main binary; the kernel's last). Every frame gets a function: an
 * address no symbol covers is named after its mapping and file offset
 * (`libfoo.so+0x1234`), so no frame is dropped and `go tool pprof` never
 * has to symbolize again (has_functions is set on every mapping).
 */
#ifndef PERF_PPROF_H
#define PERF_PPROF_H

#include <profpipe/plugin.h>

#include "perf_proc.h"
#include "perf_symbols.h"

typedef struct perf_resolver {
    const pp_host *host;
    perf_symcache *cache;
    perf_kallsyms *kallsyms; /* loaded at the first kernel frame */
    int kallsyms_tried;
    const char *kallsyms_path;
    perf_symfile *vdso; /* our own vDSO, the same image every process maps */
    size_t vdso_size;
    int vdso_tried;
    uint64_t unresolved; /* frames named by mapping+offset, since the last read */
} perf_resolver;

/* Frees what the resolver loaded (cache, kallsyms, vDSO symbols). */
void perf_resolver_free(perf_resolver *r);

/* Fills `prof` (a new profile) with the pprof of p's stacks: sample types
 * samples/count and cpu/nanoseconds, each sample weighing 1e9/frequency
 * ns. 0, or -1 (out of memory) with the reason in err. */
int perf_pprof_build(perf_resolver *r, pp_profile *prof, const perf_process *p, int frequency,
                     int64_t start_ns, int64_t duration_ns, char *err, size_t errlen);

/* Name for an address of p (user space): its symbol, else
 * "<mapping basename>+0x<file offset>" written into buf. A return address
 * (is_return) is looked up one byte back, so a call that ends a function
 * still names that function. Sets *map to the mapping holding addr (NULL if
 * none) and *resolved to 1 when a symbol was found. */
const char *perf_resolve_user(perf_resolver *r, const perf_process *p, uint64_t addr, int is_return,
                              const perf_map **map, int *resolved, char *buf, size_t buflen);
const char *perf_resolve_kernel(perf_resolver *r, uint64_t addr, int is_return, int *resolved,
                                char *buf, size_t buflen);

#endif
