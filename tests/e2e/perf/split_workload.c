/* split_workload: burns CPU in two functions whose CPU time splits 3:1,
 * measured by the workload itself with CLOCK_THREAD_CPUTIME_ID (iteration
 * counts are no proxy for time on a shared machine). Built with frame
 * pointers so perf and the perf receiver can walk its stacks.
 *
 * Each turn spends 3 slices in heavy_work and 1 in light_work, the slice
 * drawn at random between 1 and 3 ms: a fixed 8 ms turn would beat against
 * a 99 Hz sampler's 10.1 ms period (10.1/8 is close to 5/4) and bias the
 * ratio the samplers see; random turns make each sample an independent draw.
 *
 * It stops after WALL_SECONDS of wall-clock time or, when CPU_SECONDS is
 * given, as soon as it has used that much CPU time: a test on a
 * loaded machine then still gets the number of samples its statistics need
 * (the wall-clock limit bounds the test's time).
 *
 * usage: split_workload WALL_SECONDS [CPU_SECONDS]
 * Prints "heavy_ns=<n> light_ns=<n> process_ns=<n>" when done (the last:
 * all CPU time of the process, CLOCK_PROCESS_CPUTIME_ID).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define HEAVY_PARTS 3
#define LIGHT_PARTS 1
#define SLICE_MIN_NS 1000000LL  /* shortest slice: 1 ms of CPU */
#define SLICE_SPAN_NS 2000000LL /* slices reach SLICE_MIN_NS + this */

static volatile uint64_t sink;

static int64_t clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t thread_cpu_ns(void)
{
    return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}
static int64_t wall_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

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

__attribute__((noinline)) int64_t heavy_work(int64_t budget)
{
    return burn(budget);
}
__attribute__((noinline)) int64_t light_work(int64_t budget)
{
    return burn(budget);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 5;
    double cpu_seconds = argc > 2 ? atof(argv[2]) : 0;
    int64_t end = wall_ns() + (int64_t)(seconds * 1e9), heavy = 0, light = 0;
    int64_t cpu_limit = cpu_seconds > 0 ? (int64_t)(cpu_seconds * 1e9) : INT64_MAX;
    int64_t cpu_start = thread_cpu_ns(); /* CPU time survives exec: count ours */
    unsigned seed = (unsigned)wall_ns();
    while (wall_ns() < end && thread_cpu_ns() - cpu_start < cpu_limit) {
        int64_t slice = SLICE_MIN_NS + (int64_t)(rand_r(&seed) % SLICE_SPAN_NS);
        heavy += heavy_work(slice * HEAVY_PARTS);
        light += light_work(slice * LIGHT_PARTS);
    }
    printf("heavy_ns=%lld light_ns=%lld process_ns=%lld\n", (long long)heavy, (long long)light,
           (long long)clock_ns(CLOCK_PROCESS_CPUTIME_ID));
    return 0;
}
