/* test_perf_receiver: the perf receiver through the real config checker and
 * host (tests/support/harness.h): option errors with the key they concern; a live
 * run sampling this very process, selected by `exe` (a regex on our path;
 * system-wide sampling filtered in user space), whose emitted profile
 * carries our labels, names our busy function without kernel frames, and
 * has the default frequency's period (1e9/99 ns) with cpu/nanoseconds =
 * samples × period; with include_kernel and `pids: [self]`, a loop of
 * system calls shows kernel frames named from /proc/kallsyms; in both runs
 * every profile emitted is of this process (the filter holds); and the
 * start errors a
 * user meets, each with what to do: a pid that does not exist, too many open
 * files, a cgroup that is not found, and no permission (a child that gave
 * up root). Start errors are
 * provoked in forked children whose stderr (the log) is read back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

extern const pp_component pp_receiver_perf;

#define BURN_NS 1500000000LL
#define MIN_SAMPLES 30 /* ~0.3 s of CPU at 99 Hz */
#define MAX_BATCHES 6
#define ALL_SAMPLES 100 /* of the 148 that BURN_NS at 99 Hz gives */
#define MAX_ALL_BATCHES 16
#define EMIT_WAIT_MS 10000
#define NOBODY_UID 65534
#define DEFAULT_PERIOD_NS (1000000000 / 99) /* frequency's default: 99 Hz */

static volatile uint64_t sink;

static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

__attribute__((noinline)) void perf_receiver_test_burn(int64_t ns)
{
    int64_t end = cpu_ns() + ns;
    uint64_t x = sink;
    while (cpu_ns() < end)
        for (int i = 0; i < 10000; i++)
            x = x * 6364136223846793005ull + 1;
    sink = x;
}

/* Spends ns of CPU mostly in the kernel, in system calls, and about a
 * seventh in its own code: a frame-pointer walk from a system call (or
 * from libc's wrapper) skips this function, so only samples taken in its
 * own instructions name it. With the loop nearly all system calls, a
 * 1.5 s run could give none of those (CI saw it once); 1,000 calls take
 * about 170 us here, the 30,000 steps after them about 30 us. */
__attribute__((noinline)) void perf_receiver_test_syscalls(int64_t ns)
{
    int64_t end = cpu_ns() + ns;
    uint64_t x = sink;
    while (cpu_ns() < end) {
        for (int i = 0; i < 1000; i++)
            sink += (uint64_t)syscall(SYS_getppid);
        for (int i = 0; i < 30000; i++)
            x = x * 6364136223846793005ull + 1;
        sink += x;
    }
}

static void expect_option_error(const char *yaml, const char *key, const char *what)
{
    char err[1024] = "";
    harness *h = harness_new(&pp_receiver_perf, "perf", yaml, err, sizeof err);
    if (h) {
        harness_free(h);
        fail_msg("accepted: %s", yaml);
    }
    if (!strstr(err, key) || !strstr(err, what))
        fail_msg("for %s: error \"%s\" lacks \"%s\" or \"%s\"", yaml, err, key, what);
}

static void test_option_errors(void **state)
{
    (void)state;
    expect_option_error("frequency: 0", "frequency", "between 1 and");
    expect_option_error("interval: 10ms", "interval", "at least");
    expect_option_error("comm: \"(\"", "comm", "invalid regex");
    expect_option_error("exe: \"[a-\"", "exe", "invalid regex");
    expect_option_error("pids: [\"12x\"]", "pids", "not a process id");
    expect_option_error("pids: [\"0\"]", "pids", "not a process id");
    expect_option_error("service_name:\n  - regex: \"(a)\"\n    name: \"$2\"", "name", "group");
    expect_option_error("service_name:\n  - regex: \"a\"\n    source: pid\n    name: x", "source",
                        "comm, exe or cgroup");
    expect_option_error("buffer_size: 1KiB", "buffer_size", "at least 4KiB");
    expect_option_error("cgroup: \"\"", "cgroup", "must not be empty");
    expect_option_error("unknown_key: 1", "unknown_key", "");

    char err[256];
    harness *h = harness_new(&pp_receiver_perf, "perf",
                             "comm: \".*\"\nservice_name:\n  - regex: \"/opt/(\\\\w+)/.*\"\n"
                             "    name: \"$1\"",
                             err, sizeof err);
    if (!h)
        fail_msg("valid options refused: %s", err);
    harness_free(h); /* create + destroy, no start: what `validate` does */
}

static const char *label(pp_profile *p, const char *name)
{
    const char *v = harness_host()->label_get(p, name);
    return v ? v : "";
}

/* The profile of our pid in the batch, or NULL. */
static pp_profile *own_profile(pp_batch *b)
{
    const pp_host *host = harness_host();
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    for (size_t i = 0; i < host->batch_count(b); i++) {
        pp_profile *p = host->batch_get(b, i);
        if (strcmp(label(p, "pid"), pid) == 0)
            return p;
    }
    return NULL;
}

static int has_function(pp_profile *p, const char *name)
{
    char err[256];
    const pp_pprof *t = harness_host()->profile_tree(p, err, sizeof err);
    if (!t)
        return 0;
    for (size_t i = 0; i < t->n_functions; i++)
        if (strcmp(t->strings[t->functions[i].name], name) == 0)
            return 1;
    return 0;
}

/* Functions of the kernel mapping: named ones (from kallsyms) and all. */
static void kernel_functions(pp_profile *p, size_t *named, size_t *all)
{
    const pp_host *host = harness_host();
    char err[256];
    const pp_pprof *t = host->profile_tree(p, err, sizeof err);
    *named = *all = 0;
    for (size_t i = 0; t && i < t->n_locations; i++) {
        const pp_location *l = &t->locations[i];
        for (size_t m = 0; m < t->n_mappings; m++) {
            if (t->mappings[m].id != l->mapping_id ||
                strcmp(t->strings[t->mappings[m].filename], "[kernel.kallsyms]") != 0)
                continue;
            const pp_function *f = host->pprof_function(p, l->lines[0].function_id);
            (*all)++;
            *named += strncmp(t->strings[f->name], "[kernel]", 8) != 0;
        }
    }
}

static int64_t sample_count(pp_profile *p)
{
    char err[256];
    const pp_pprof *t = harness_host()->profile_tree(p, err, sizeof err);
    int64_t n = 0;
    for (size_t i = 0; t && i < t->n_samples; i++)
        n += t->samples[i].values[0];
    return n;
}

/* Every profile in b is of this process (or of fork_pid, a child of ours
 * that runs our executable until its exec, as matched by `exe`, when the
 * machine is busy enough to sample it then): the receiver's filter held. */
static void only_own_profiles(pp_batch *b, pid_t fork_pid)
{
    const pp_host *host = harness_host();
    char pid[32], child[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    snprintf(child, sizeof child, "%d", (int)fork_pid);
    for (size_t i = 0; i < host->batch_count(b); i++) {
        const char *got = label(host->batch_get(b, i), "pid");
        if (strcmp(got, pid) != 0 && (fork_pid <= 0 || strcmp(got, child) != 0))
            fail_msg("filtered to pid %s, got a profile of pid %s (comm %s)", pid, got,
                     label(host->batch_get(b, i), "comm"));
    }
}

/* A shell burning CPU beside us while we are sampled: the profile of a
 * process the filter must leave out. Returns its pid. */
static pid_t start_decoy(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done",
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Starts the receiver selecting this process with `select` (a YAML line),
 * runs burn, and returns our profile
 * from the batches that follow: the first with MIN_SAMPLES samples, else
 * the fullest (an interval may hold only the tail of the burn). *batch
 * holds it; the caller unrefs it. */
static pp_profile *sample_self(harness **h, const char *select, const char *extra,
                               void (*burn)(int64_t), pp_batch **batch)
{
    const pp_host *host = harness_host();
    char yaml[8192], err[512];
    pp_profile *best = NULL;
    int64_t best_n = -1;
    snprintf(yaml, sizeof yaml, "interval: 1s\n%s\n%s", select, extra);
    *h = harness_new(&pp_receiver_perf, "perf", yaml, err, sizeof err);
    if (!*h)
        fail_msg("%s", err);
    assert_int_equal(harness_start(*h), 0);
    pid_t decoy = start_decoy();
    burn(BURN_NS);
    waitpid(decoy, NULL, 0);
    *batch = NULL;
    for (int tries = 0; tries < MAX_BATCHES && best_n < MIN_SAMPLES; tries++) {
        pp_batch *b = harness_wait_emit(*h, EMIT_WAIT_MS);
        if (!b)
            break;
        only_own_profiles(b, decoy);
        pp_profile *mine = own_profile(b);
        int64_t n = mine ? sample_count(mine) : -1;
        if (n > best_n) {
            if (*batch)
                host->batch_unref(*batch);
            *batch = b;
            best = mine;
            best_n = n;
        } else {
            host->batch_unref(b);
        }
    }
    assert_non_null(best);
    return best;
}

static void test_samples_this_process(void **state)
{
    (void)state;
    const pp_host *host = harness_host();
    char exe[4096], select[4200], err[256];
    harness *h;
    pp_batch *b;
    size_t named, all;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    /* \Q..\E: our path literally (YAML single quotes keep the backslashes) */
    snprintf(select, sizeof select, "exe: '\\Q%s\\E'", exe);
    pp_profile *mine = sample_self(&h, select, "", perf_receiver_test_burn, &b);
    assert_string_equal(label(mine, "__name__"), "process_cpu");
    assert_string_equal(label(mine, "service_name"), "test_perf_receiver");
    assert_string_equal(label(mine, "comm"), "test_perf_recei"); /* 15 chars */
    assert_string_equal(label(mine, "exe"), exe);
    assert_true(host->profile_until(mine) > host->profile_from(mine));
    assert_true(has_function(mine, "perf_receiver_test_burn"));
    kernel_functions(mine, &named, &all);
    assert_int_equal(all, 0); /* include_kernel is off */
    const pp_pprof *t = host->profile_tree(mine, err, sizeof err);
    assert_non_null(t);
    assert_int_equal(t->period, DEFAULT_PERIOD_NS);
    assert_int_equal(t->n_sample_types, 2);
    assert_string_equal(t->strings[t->sample_types[0].type], "samples");
    assert_string_equal(t->strings[t->sample_types[1].type], "cpu");
    assert_string_equal(t->strings[t->sample_types[1].unit], "nanoseconds");
    for (size_t i = 0; i < t->n_samples; i++)
        assert_int_equal(t->samples[i].values[1], t->samples[i].values[0] * DEFAULT_PERIOD_NS);
    host->batch_unref(b);
    harness_free(h);
}

/* Our profiles from the batches that follow a burn of BURN_NS, until their
 * samples add up to ALL_SAMPLES or no batch comes: with the machine busy
 * the burn spreads over several intervals, each holding part of it. The
 * batches go to batches[] (the caller unrefs them); returns their count. */
static size_t collect_own(harness *h, pp_batch **batches, pp_profile **mine)
{
    size_t n = 0;
    int64_t total = 0;
    while (n < MAX_ALL_BATCHES && total < ALL_SAMPLES) {
        pp_batch *b = harness_wait_emit(h, EMIT_WAIT_MS);
        if (!b)
            break;
        only_own_profiles(b, 0);
        pp_profile *p = own_profile(b);
        if (!p) {
            harness_host()->batch_unref(b);
            continue;
        }
        total += sample_count(p);
        batches[n] = b;
        mine[n++] = p;
    }
    return n;
}

static void test_include_kernel(void **state)
{
    (void)state;
    char yaml[128], err[512];
    pp_batch *batches[MAX_ALL_BATCHES];
    pp_profile *mine[MAX_ALL_BATCHES];
    size_t named = 0, all = 0;
    int user_frame = 0;
    snprintf(yaml, sizeof yaml, "interval: 1s\npids: [\"%d\"]\ninclude_kernel: true",
             (int)getpid());
    harness *h = harness_new(&pp_receiver_perf, "perf", yaml, err, sizeof err);
    if (!h)
        fail_msg("%s", err);
    assert_int_equal(harness_start(h), 0);
    perf_receiver_test_syscalls(BURN_NS);
    size_t n = collect_own(h, batches, mine);
    /* most samples are in the kernel, and a frame-pointer walk from a
     * system call skips its caller: only the samples in our loop itself
     * name it, so look at all of them */
    for (size_t i = 0; i < n; i++) {
        size_t kn, ka;
        user_frame |= has_function(mine[i], "perf_receiver_test_syscalls");
        kernel_functions(mine[i], &kn, &ka);
        named += kn;
        all += ka;
    }
    for (size_t i = 0; i < n; i++)
        harness_host()->batch_unref(batches[i]);
    harness_free(h);
    if (n == 0)
        fail_msg("no profile of ours emitted");
    if (!user_frame)
        fail_msg("perf_receiver_test_syscalls in none of %zu profiles", n);
    if (all == 0 || named == 0)
        fail_msg("kernel frames: %zu, named from kallsyms: %zu", all, named);
}

/* Runs harness_start in a child after prep(); returns its exit status
 * (0: started) with the child's log in out. */
static int start_in_child(const char *yaml, void (*prep)(void), char *out, size_t outlen)
{
    char path[] = "/tmp/test_perf_receiver.XXXXXX";
    int fd = mkstemp(path), status = -1;
    pid_t pid;
    assert_true(fd >= 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[512];
        dup2(fd, STDERR_FILENO);
        harness *h = harness_new(&pp_receiver_perf, "perf", yaml, err, sizeof err);
        if (!h)
            _exit(2);
        if (prep)
            prep();
        int rc = harness_start(h);
        _exit(rc == 0 ? 0 : 1); /* no cleanup: the parent only reads the log */
    }
    waitpid(pid, &status, 0);
    ssize_t n = pread(fd, out, outlen - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_pid_that_does_not_exist(void **state)
{
    (void)state;
    char yaml[64], log[8192];
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    snprintf(yaml, sizeof yaml, "pids: [\"%d\"]", (int)dead);
    assert_int_equal(start_in_child(yaml, NULL, log, sizeof log), 1);
    if (!strstr(log, "does not exist") || !strstr(log, "`comm`"))
        fail_msg("log: %s", log);
}

static void test_cgroup_not_found(void **state)
{
    (void)state;
    char log[8192];
    assert_int_equal(start_in_child("cgroup: /profpipe-no-such-group", NULL, log, sizeof log), 1);
    if (!strstr(log, "cgroup: /profpipe-no-such-group: not found") ||
        !strstr(log, "/proc/<pid>/cgroup"))
        fail_msg("log: %s", log);
}

/* Leaves room for the eventfd and one more descriptor: the CPU list is
 * read, the first CPU's event opens, the second's hits EMFILE (2+ CPUs);
 * on one CPU the CPU list read fails with the same advice. */
static void few_files(void)
{
    int probe = dup(0);
    struct rlimit rl;
    close(probe);
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = (rlim_t)probe + 2;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static void test_too_many_open_files(void **state)
{
    (void)state;
    char log[8192];
    assert_int_equal(start_in_child("", few_files, log, sizeof log), 1);
    if (!strstr(log, "too many open files") || !strstr(log, "ulimit -n"))
        fail_msg("log: %s", log);
}

static void become_nobody(void)
{
    if (setgid(NOBODY_UID) != 0 || setuid(NOBODY_UID) != 0)
        _exit(3);
}

static void test_no_permission(void **state)
{
    (void)state;
    char log[8192];
    int paranoid = 2;
    FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
    if (f) {
        if (fscanf(f, "%d", &paranoid) != 1)
            paranoid = 2;
        fclose(f);
    }
    if (getuid() != 0 || paranoid <= 0)
        skip(); /* nobody could sample system-wide: nothing to refuse */
    assert_int_equal(start_in_child("", become_nobody, log, sizeof log), 1);
    if (!strstr(log, "kernel.perf_event_paranoid") || !strstr(log, "CAP_PERFMON"))
        fail_msg("log: %s", log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_option_errors),    cmocka_unit_test(test_samples_this_process),
        cmocka_unit_test(test_include_kernel),   cmocka_unit_test(test_pid_that_does_not_exist),
        cmocka_unit_test(test_cgroup_not_found), cmocka_unit_test(test_too_many_open_files),
        cmocka_unit_test(test_no_permission),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
