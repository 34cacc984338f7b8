/* memlimit: the process-wide memory limit (service.memory_limit), in the
 * manner of the OpenTelemetry Collector's memory_limiter.
 *
 * The resident set size (RSS, /proc/self/statm) is compared with a soft
 * and a hard limit, given in bytes or as a percentage of the memory the
 * process may have (its cgroup's limit, else the machine's total). Past
 * the soft limit the built-in page lets its kept windows go first; if
 * that is not enough, receivers hold back (pp_host.memory_pressure).
 * Past the hard limit the `drop_oldest` queues also drop their oldest
 * batches. The reading is refreshed by a monitor thread every
 * check_interval, and by any caller of memlimit_pressure() finding it
 * older than that, so a burst between two ticks is still seen.
 *
 * The monitor also returns memory to the system: glibc keeps freed heap
 * pages, so after the queues drain it calls malloc_trim, once more
 * when profiles stop flowing (nothing pushed to any queue between two
 * checks), and while idle whenever malloc holds 8 MiB more free than
 * right after the last trim (what exporters freed after it). Without a configured limit the monitor
 * only does that and publishes RSS.
 *
 * Between those trims the heap keeps its pages: without a hard limit,
 * memlimit_heap_settings() raises glibc's mmap and trim thresholds, so
 * that a steady stream of large profiles reuses the pages the previous
 * one freed instead of returning them at every free() and faulting them
 * in again (issue 14:
 * ~650 minor faults per 250 KB CPU profile, ~6,700 per 1 MB heap profile,
 * measured by bench/processors/large.sh). With or without a limit it
 * keeps one malloc heap (arena) for all threads, because malloc_trim
 * returns the free top of the main heap only. Settings the operator
 * gives glibc in the environment (MALLOC_MMAP_THRESHOLD_,
 * MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_, MALLOC_MMAP_MAX_,
 * MALLOC_ARENA_MAX, glibc.malloc tunables) are left as they are: then
 * profpipe changes none. */
/* Reading a limit as written (sizes, percentages of the cgroup) is the
 * config room's: core/config/memory_size.h. */
#ifndef PROFPIPE_MEMLIMIT_H
#define PROFPIPE_MEMLIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef enum { MEMLIMIT_OK = 0, MEMLIMIT_SOFT = 1, MEMLIMIT_HARD = 2 } memlimit_state;

/* Resident bytes of this process (0 when unreadable). */
uint64_t memlimit_rss(void);

/* Applies the limits (bytes; hard 0 = no limit) and the check interval.
 * Any thread; at start and on reload. */
void memlimit_configure(uint64_t soft, uint64_t hard, int64_t check_interval_ns);
/* glibc's thresholds as above when there is no hard limit (0); with
 * one, glibc's defaults, since the free pages the heap keeps count in RSS
 * and would be taken for pressure. Main, at start and on reload (the
 * benchmarks too). */
void memlimit_heap_settings(uint64_t hard);
/* One malloc heap for every thread (see above). Main, first thing,
 * before any thread starts. */
void memlimit_heap_start(void);
/* Starts/stops the monitor thread (main). */
int memlimit_start(void);
void memlimit_stop(void);

/* The state now, refreshed if older than check_interval. Any thread. */
memlimit_state memlimit_pressure(void);
/* The same, counting one refusal for component_id when not OK. */
memlimit_state memlimit_refuse(const char *component_id);
/* One check now: measure, shed what the state asks for, publish. */
memlimit_state memlimit_check(void);

/* Tests: replaces the RSS reading (NULL restores /proc/self/statm). */
void memlimit_set_probe(uint64_t (*rss)(void));

#endif
