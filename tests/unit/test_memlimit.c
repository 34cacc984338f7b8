/* Unit tests of service.memory_limit: limits as sizes and percentages
 * (and the errors), the memory a process may have from cgroup v2 and v1
 * files (a fake /sys/fs/cgroup in a temporary folder), and what a check
 * does with an RSS reading past each limit: the built-in page lets its
 * windows go first, receivers are told to hold back (and the refusals are
 * counted per component), drop_oldest queues drop past the hard limit
 * while block queues keep theirs. Receivers under pressure, for real:
 * the file receiver waits before reading a file, pprof_scrape makes no
 * request (a listening socket sees no connection) until memory is
 * relieved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "harness.h"
#include "memlimit.h"
#include "memory_size.h"
#include "metrics.h"
#include "observe.h"
#include "profile.h"
#include "queue.h"
#include "ui/ui.h"
#include "unit_support.h"

#define MIB ((uint64_t)1 << 20)
#define MS 1000000LL

static void test_parse(void **state)
{
    (void)state;
    char why[256];
    uint64_t v = 0;
    assert_int_equal(memsize_parse("512MiB", 0, &v, why, sizeof why), 0);
    assert_int_equal(v, 512 * MIB);
    assert_int_equal(memsize_parse("1073741824", 0, &v, why, sizeof why), 0);
    assert_int_equal(v, 1024 * MIB);
    assert_int_equal(memsize_parse("80%", 1000 * MIB, &v, why, sizeof why), 0);
    assert_int_equal(v, 800 * MIB);
    assert_int_equal(memsize_parse("12.5%", 800 * MIB, &v, why, sizeof why), 0);
    assert_int_equal(v, 100 * MIB);
    assert_int_equal(memsize_parse("100%", 7 * MIB, &v, why, sizeof why), 0);
    assert_int_equal(v, 7 * MIB);
    const char *bad[] = {"150%", "0%", "-5%", "%", "x%", "512QB", "", "0", "12 %"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = 0;
        assert_int_equal(memsize_parse(bad[i], 1000 * MIB, &v, why, sizeof why), -1);
        assert_true(why[0] != 0);
    }
    assert_int_equal(memsize_parse("150%", 1, &v, why, sizeof why), -1);
    assert_string_equal(why, "percentage 150% is not in (0%, 100%]");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_total_from_cgroup(void **state)
{
    (void)state;
    char dir[256], path[512], proc[512];
    assert_int_equal(unit_make_tmpdir(dir, sizeof dir, "memlimit-test"), 0);
    uint64_t machine = 16384 * MIB;
    snprintf(proc, sizeof proc, "%s/cgroup", dir);
    /* v2: the process's own cgroup's memory.max */
    write_file(proc, "0::/system.slice/profpipe.service\n");
    snprintf(path, sizeof path, "%s/system.slice", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/system.slice/profpipe.service", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/system.slice/profpipe.service/memory.max", dir);
    write_file(path, "536870912\n");
    assert_int_equal(memsize_total_from(proc, dir, machine), 512 * MIB);
    /* "max": no limit, the machine's memory */
    write_file(path, "max\n");
    assert_int_equal(memsize_total_from(proc, dir, machine), machine);
    /* a limit above the machine's memory is the machine's */
    write_file(path, "68719476736\n");
    assert_int_equal(memsize_total_from(proc, dir, machine), machine);
    unlink(path);
    /* v1: the memory controller's line and memory.limit_in_bytes */
    write_file(proc, "12:cpu,cpuacct:/x\n4:memory:/docker/abc\n0::/\n");
    snprintf(path, sizeof path, "%s/memory", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/memory/docker", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/memory/docker/abc", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/memory/docker/abc/memory.limit_in_bytes", dir);
    write_file(path, "268435456\n");
    assert_int_equal(memsize_total_from(proc, dir, machine), 256 * MIB);
    /* v1's "unlimited" is a huge number */
    write_file(path, "9223372036854771712\n");
    assert_int_equal(memsize_total_from(proc, dir, machine), machine);
    unlink(path);
    /* nothing readable: the machine */
    assert_int_equal(memsize_total_from("/nonexistent/cgroup", dir, machine), machine);
    /* this process: something sensible */
    uint64_t total = memsize_total();
    assert_true(total > 16 * MIB);
    assert_true(memlimit_rss() > 0 && memlimit_rss() < total);
    assert_int_equal(unit_remove_tmpdir(dir), 0);
}

static uint64_t fake_rss;
static uint64_t probe(void)
{
    return fake_rss;
}

static int dropped;
static void count_drop(void *arg, pp_batch *b, void *tag)
{
    (void)arg;
    (void)tag;
    dropped += (int)batch_count(b);
    batch_unref(b);
}

static pp_batch *one_profile(uint64_t fill)
{
    pp_batch *b = batch_new();
    pp_profile *p = profile_new();
    unit_one_frame_tree(p, "samples", "count", (int64_t)fill + 1);
    profile_label_set(p, "service_name", "svc");
    profile_label_set(p, "__name__", "process_cpu");
    profile_set_window(p, (int64_t)fill * 1000 * MS, (int64_t)(fill + 1) * 1000 * MS);
    const uint8_t *gz;
    size_t len;
    assert_int_equal(profile_raw_gz(p, &gz, &len, NULL, 0), 0);
    batch_add(b, p);
    return b;
}

static double refusals(const char *id)
{
    char labels[128];
    snprintf(labels, sizeof labels, "component_id=\"%s\"", id);
    return metrics_value(metrics_get("profpipe_memory_refusals_total", "", PP_COUNTER, labels));
}

static double metric(const char *name, const char *labels)
{
    return metrics_value(metrics_get(name, "", PP_GAUGE, labels));
}

/* The page evicts first; then receivers hold back; past the hard limit
 * drop_oldest queues drop and block queues do not. */
static void test_pressure_steps(void **state)
{
    (void)state;
    metrics_reset_all();
    ui_reset();
    ui_configure(1, (int64_t)3600 * 1000 * MS, (int64_t)64 << 20);
    memlimit_set_probe(probe);
    fake_rss = 100 * MIB;
    memlimit_configure(200 * MIB, 300 * MIB, 1000 * 1000 * MS);
    assert_int_equal(memlimit_pressure(), MEMLIMIT_OK);
    assert_int_equal(memlimit_refuse("pyroscope"), MEMLIMIT_OK);
    assert_true(refusals("pyroscope") == 0);
    assert_true(metric("profpipe_memory_soft_limit_bytes", NULL) == (double)(200 * MIB));
    assert_true(metric("profpipe_memory_hard_limit_bytes", NULL) == (double)(300 * MIB));
    assert_true(metric("profpipe_memory_rss_bytes", NULL) == (double)(100 * MIB));

    /* the page keeps three windows */
    for (uint64_t i = 0; i < 3; i++) {
        pp_batch *b = one_profile(i);
        ui_observe(b);
        batch_unref(b);
    }
    size_t kept = ui_kept_bytes();
    assert_true(kept > 0);

    /* past the soft limit: the page lets its windows go first */
    pp_metric *trims = metrics_get("profpipe_memory_trims_total", "", PP_COUNTER, NULL);
    double trims_before = metrics_value(trims);
    fake_rss = 200 * MIB + 1;
    assert_int_equal(memlimit_check(), MEMLIMIT_SOFT);
    assert_int_equal(ui_kept_bytes(), 0);
    /* each window that went, then the heap's free pages, were given back */
    assert_true(metrics_value(trims) >= trims_before + 4);
    assert_true(metrics_value(metrics_get("profpipe_ui_evicted_windows_total", "", PP_COUNTER,
                                          "reason=\"memory_limit\"")) == 3);
    /* and takes no new window meanwhile */
    pp_batch *late = one_profile(9);
    ui_observe(late);
    batch_unref(late);
    assert_int_equal(ui_kept_bytes(), 0);
    /* receivers hold back, counted by component */
    assert_int_equal(memlimit_refuse("pyroscope"), MEMLIMIT_SOFT);
    assert_int_equal(memlimit_refuse("pyroscope"), MEMLIMIT_SOFT);
    assert_int_equal(memlimit_refuse("pprof_scrape/go"), MEMLIMIT_SOFT);
    assert_true(refusals("pyroscope") == 2);
    assert_true(refusals("pprof_scrape/go") == 1);
    assert_true(metric("profpipe_memory_pressure", NULL) == 1);

    /* past the hard limit: drop_oldest queues drop, block queues keep */
    dropped = 0;
    queue *drop = queue_new(64 << 20, QUEUE_DROP_OLDEST, count_drop, NULL);
    queue *keep = queue_new(64 << 20, QUEUE_BLOCK, NULL, NULL);
    for (uint64_t i = 0; i < 4; i++) {
        assert_int_equal(queue_push(drop, one_profile(i)), 0);
        assert_int_equal(queue_push(keep, one_profile(i)), 0);
    }
    size_t keep_bytes = queue_bytes(keep);
    assert_int_equal(queue_total_bytes(), queue_bytes(drop) + keep_bytes);
    fake_rss = 300 * MIB + 1;
    assert_int_equal(memlimit_check(), MEMLIMIT_HARD);
    assert_int_equal(dropped, 4); /* the excess is far more than they hold */
    assert_int_equal(queue_length(drop), 0);
    assert_int_equal(queue_bytes(keep), keep_bytes);
    assert_true(metrics_value(metrics_get("profpipe_memory_dropped_profiles_total", "", PP_COUNTER,
                                          NULL)) == 4);
    assert_true(metric("profpipe_memory_pressure", NULL) == 2);

    /* relieved: everything flows again */
    fake_rss = 150 * MIB;
    assert_int_equal(memlimit_check(), MEMLIMIT_OK);
    assert_int_equal(memlimit_refuse("pyroscope"), MEMLIMIT_OK);
    assert_true(refusals("pyroscope") == 2);
    pp_batch *b = one_profile(20);
    ui_observe(b);
    batch_unref(b);
    assert_true(ui_kept_bytes() > 0);

    /* no limit: never pressure, whatever RSS says */
    memlimit_configure(0, 0, 0);
    fake_rss = 1000 * MIB;
    assert_int_equal(memlimit_pressure(), MEMLIMIT_OK);
    assert_int_equal(memlimit_check(), MEMLIMIT_OK);

    queue_free(drop);
    queue_free(keep);
    memlimit_set_probe(NULL);
    ui_reset();
    metrics_reset_all();
}

/* A drain after the queues held a burst returns free pages: one trim. */
static void test_trim_after_drain(void **state)
{
    (void)state;
    metrics_reset_all();
    memlimit_configure(0, 0, 0);
    pp_metric *trims = metrics_get("profpipe_memory_trims_total", "", PP_COUNTER, NULL);
    double before = metrics_value(trims);
    queue *q = queue_new((size_t)64 << 20, QUEUE_BLOCK, NULL, NULL);
    for (uint64_t i = 0; i < 80; i++) {
        pp_batch *b = batch_new();
        pp_profile *p = profile_new();
        uint8_t *blob = calloc(1, 64 << 10);
        profile_set_raw(p, blob, 64 << 10);
        free(blob);
        batch_add(b, p);
        assert_int_equal(queue_push(q, b), 0);
    }
    memlimit_check(); /* sees the queues full */
    assert_true(metrics_value(trims) == before);
    pp_batch *b;
    while ((b = queue_pop(q, 0)))
        batch_unref(b);
    memlimit_check(); /* sees them drained */
    assert_true(metrics_value(trims) == before + 1);
    memlimit_check(); /* nothing new to give back */
    assert_true(metrics_value(trims) == before + 1);
    queue_free(q);
    metrics_reset_all();
}

/* A stream that never fills the queues: no trim while profiles flow (the
 * heap keeps its pages for the next one), one when they stop. */
static void test_trim_when_flow_stops(void **state)
{
    (void)state;
    metrics_reset_all();
    memlimit_configure(0, 0, 0);
    pp_metric *trims = metrics_get("profpipe_memory_trims_total", "", PP_COUNTER, NULL);
    queue *q = queue_new((size_t)64 << 20, QUEUE_BLOCK, NULL, NULL);
    memlimit_check(); /* whatever earlier tests left */
    memlimit_check();
    double before = metrics_value(trims);
    for (int i = 0; i < 5; i++) { /* one profile between two checks */
        pp_batch *b = batch_new();
        pp_profile *p = profile_new();
        uint8_t blob[1024] = {0};
        profile_set_raw(p, blob, sizeof blob);
        batch_add(b, p);
        assert_int_equal(queue_push(q, b), 0);
        batch_unref(queue_pop(q, 0));
        memlimit_check();
        assert_true(metrics_value(trims) == before);
    }
    memlimit_check(); /* nothing pushed since the last check */
    assert_true(metrics_value(trims) == before + 1);
    memlimit_check();
    memlimit_check();
    assert_true(metrics_value(trims) == before + 1);
    queue_free(q);
    metrics_reset_all();
}

/* Idle, drained: memory freed since the last trim (what an exporter let
 * go after it) is given back once it passes 8 MiB, and only then. */
static void test_trim_freed_while_idle(void **state)
{
    (void)state;
#ifdef __SANITIZE_ADDRESS__
    skip(); /* ASan's allocator is not glibc's: mallinfo2 sees none of it */
#endif
    metrics_reset_all();
    memlimit_configure(0, 0, 0);
    pp_metric *trims = metrics_get("profpipe_memory_trims_total", "", PP_COUNTER, NULL);
    memlimit_check();
    memlimit_check();
    double before = metrics_value(trims);
    enum { BLOCKS = 256, BLOCK = 64 << 10 }; /* below glibc's mmap threshold */
    static void *blocks[BLOCKS + 1];
    for (int i = 0; i <= BLOCKS; i++) {
        blocks[i] = malloc(BLOCK);
        assert_non_null(blocks[i]);
        memset(blocks[i], 1, BLOCK);
    }
    memlimit_check(); /* nothing freed yet */
    assert_true(metrics_value(trims) == before);
    for (int i = 0; i < BLOCKS; i++) /* the last stays: no free top to trim */
        free(blocks[i]);
    memlimit_check();
    assert_true(metrics_value(trims) == before + 1);
    memlimit_check(); /* nothing new */
    assert_true(metrics_value(trims) == before + 1);
    free(blocks[BLOCKS]);
    metrics_reset_all();
}

#define CHECK_MS 10
#define QUIET_MS 600
#define COME_MS 10000
#define SCRAPE_QUIET_MS 1500

extern const pp_component pp_receiver_file;
extern const pp_component pp_receiver_pprof_scrape;

static void pressure_on(void)
{
    ui_reset(); /* the page caches its metrics: forget them first */
    metrics_reset_all();
    memlimit_set_probe(probe);
    fake_rss = 250 * MIB;
    memlimit_configure(200 * MIB, 300 * MIB, CHECK_MS * MS);
    assert_int_equal(memlimit_check(), MEMLIMIT_SOFT);
}

static void pressure_off(void)
{
    fake_rss = 100 * MIB;
    assert_int_equal(memlimit_check(), MEMLIMIT_OK);
}

static void test_file_receiver_waits(void **state)
{
    (void)state;
    char dir[256], path[600], yaml[800], err[256];
    assert_int_equal(unit_make_tmpdir(dir, sizeof dir, "memlimit-file"), 0);
    pp_batch *src = one_profile(1);
    const uint8_t *gz;
    size_t len;
    assert_int_equal(profile_raw_gz(batch_get(src, 0), &gz, &len, NULL, 0), 0);
    snprintf(path, sizeof path, "%s/app.cpu.pb.gz", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(gz, 1, len, f), len);
    fclose(f);
    batch_unref(src);

    pressure_on();
    snprintf(yaml, sizeof yaml,
             "include: [\"%s/*.pb.gz\"]\npoll_interval: 100ms\nmin_file_age: 0s\n", dir);
    harness *hs = harness_new(&pp_receiver_file, "file", yaml, err, sizeof err);
    assert_non_null(hs);
    assert_int_equal(harness_start(hs), 0);
    assert_null(harness_wait_emit(hs, QUIET_MS)); /* waits, reads nothing */
    assert_true(refusals("file") >= 1);
    pressure_off();
    pp_batch *b = harness_wait_emit(hs, COME_MS); /* then the same file */
    assert_non_null(b);
    assert_string_equal(profile_label_get(batch_get(b, 0), "service_name"), "app");
    batch_unref(b);
    harness_free(hs);
    unlink(path);
    rmdir(dir);
    memlimit_configure(0, 0, 0);
    memlimit_set_probe(NULL);
    ui_reset();
    metrics_reset_all();
}

/* A listening socket the scraper would connect to. */
static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0);
    socklen_t alen = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static int connection_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) == 1;
}

static void test_scrape_skips(void **state)
{
    (void)state;
    int port, fd = listen_loopback(&port);
    char yaml[512], err[256];
    snprintf(yaml, sizeof yaml,
             "targets: [\"127.0.0.1:%d\"]\nscrape_interval: 200ms\nscrape_timeout: 150ms\n"
             "profiling_config: {profile.process_cpu: {enabled: false}}\n",
             port);
    pressure_on();
    harness *hs = harness_new(&pp_receiver_pprof_scrape, "pprof_scrape", yaml, err, sizeof err);
    if (!hs)
        fail_msg("%s", err);
    assert_int_equal(harness_start(hs), 0);
    /* several intervals: every round is skipped, no request is made */
    assert_false(connection_within(fd, SCRAPE_QUIET_MS));
    assert_true(refusals("pprof_scrape") >= 2);
    pressure_off();
    assert_true(connection_within(fd, COME_MS)); /* scraping again */
    harness_free(hs);
    close(fd);
    memlimit_configure(0, 0, 0);
    memlimit_set_probe(NULL);
    ui_reset();
    metrics_reset_all();
}

int main(void)
{
    /* the page answers the limiter through the engine's hooks, as main.c
     * installs them */
    engine_observe(&(engine_observer){.shed = ui_shed, .kept_bytes = ui_kept_bytes});
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_total_from_cgroup),
        /* before any test that leaves a second trim pending */
        cmocka_unit_test(test_trim_when_flow_stops),
        cmocka_unit_test(test_trim_freed_while_idle),
        cmocka_unit_test(test_pressure_steps),
        cmocka_unit_test(test_trim_after_drain),
        cmocka_unit_test(test_file_receiver_waits),
        cmocka_unit_test(test_scrape_skips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
