/* split_workload: burns CPU in two functions whose CPU time splits 3:1,
 * measured by the workload itself with CLOCK_THREAD_CPUTIME_ID (iteration
 * counts are no proxy for time on a shared machine). Built with frame
 * pointers so perf and the perf receiver can walk its stacks.
 *
 * usage: split_workload SECONDS [THREE_PARTS ONE_PART]
 * Prints "heavy_ns=<n> light_ns=<n> process_ns=<n>" when done (the last:
 * all CPU time of the process, CLOCK_PROCESS_CPUTIME_ID).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SLICE_NS 2000000LL /* 2 ms of CPU per turn of the light function */

static volatile uint64_t sink;

static int64_t clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t thread_cpu_ns(void) { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }
static int64_t wall_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

/* Spins until `budget` ns of this thread's CPU time are spent; returns the
 * CPU time actually spent. noinline: each must be its own frame. */
__attribute__((noinline)) static int64_t burn(int64_t budget)
{
    int64_t start = thread_cpu_ns(), now;
    uint64_t x = sink;
    do {
        for (int i = 0; i < 10000; i++)
            x = x * 6364136223846793005ull + 1442695040888963407ull;
        now = thread_cpu_ns();
    } while (now - start < budget);
    sink = x;
    return now - start;
}

__attribute__((noinline)) int64_t heavy_work(int64_t budget) { return burn(budget); }
__attribute__((noinline)) int64_t light_work(int64_t budget) { return burn(budget); }

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 5;
    int heavy_parts = argc > 3 ? atoi(argv[2]) : 3;
    int light_parts = argc > 3 ? atoi(argv[3]) : 1;
    int64_t end = wall_ns() + (int64_t)(seconds * 1e9), heavy = 0, light = 0;
    while (wall_ns() < end) {
        heavy += heavy_work(SLICE_NS * heavy_parts);
        light += light_work(SLICE_NS * light_parts);
    }
    printf("heavy_ns=%lld light_ns=%lld process_ns=%lld\n", (long long)heavy,
           (long long)light, (long long)clock_ns(CLOCK_PROCESS_CPUTIME_ID));
    return 0;
}
