/* Tests of the file receiver through tests/support/harness.h: which files a scan
 * takes (globs, exclude, min_file_age, read once vs watch, re-read after a
 * rewrite), the labels and window it puts on a profile, and what happens
 * to bad files (never emitted; moved to failed_dir) and to read files with
 * delete_after_read (deleted once the batch is acknowledged). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"
#include "unit_support.h"
#include "../../receivers/file/file_seen.h"
#include "../../receivers/file/file_state.h"

extern const pp_component pp_receiver_file;

#define T0 1700000000000000000LL
#define SEC 1000000000LL
#define NO_EMIT_MS 400 /* how long to wait to believe nothing comes */
#define EMIT_MS 5000

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    return unit_make_tmpdir(tmpdir, sizeof tmpdir, "test_file_receiver");
}

static int remove_dir(void **state)
{
    (void)state;
    return unit_remove_tmpdir(tmpdir);
}

/* The gzip'd pprof of a one-sample profile with the given sample type,
 * taken at time_ns (0: no time) over 10 s. */
static void profile_bytes_at(const char *type, const char *unit, int64_t value, int64_t time_ns,
                             uint8_t **out, size_t *len)
{
    *out = unit_one_sample_gz(type, unit, value, time_ns, 10 * SEC, len);
}

static void profile_bytes(const char *type, const char *unit, int64_t value, uint8_t **out,
                          size_t *len)
{
    profile_bytes_at(type, unit, value, T0, out, len);
}

/* Puts name in tmpdir with data, its mtime `age` seconds back. Written
 * under a hidden name and renamed in, as a careful writer does: a scan in
 * between must not see the file before its mtime is set. */
static void put_file(const char *name, const void *data, size_t len, int age)
{
    char path[512], tmp[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.part", tmpdir, name);
    FILE *f = fopen(tmp, "wb");
    assert_non_null(f);
    fwrite(data, 1, len, f);
    fclose(f);
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= age;
    tv[1] = tv[0];
    assert_int_equal(utimes(tmp, tv), 0);
    assert_int_equal(rename(tmp, path), 0);
}

static void put_cpu(const char *name, int64_t value, int age)
{
    uint8_t *gz;
    size_t len;
    profile_bytes("cpu", "nanoseconds", value, &gz, &len);
    put_file(name, gz, len, age);
    free(gz);
}

static harness *receiver(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static harness *receiver(const char *fmt, ...)
{
    char yaml[1024], err[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(yaml, sizeof yaml, fmt, ap);
    va_end(ap);
    harness *hs = harness_new(&pp_receiver_file, "file", yaml, err, sizeof err);
    if (!hs)
        fail_msg("%s", err);
    assert_int_equal(harness_start(hs), 0);
    return hs;
}

/* The next emitted profile's label, or fails. Returns the batch. */
static pp_batch *next(harness *hs)
{
    pp_batch *b = harness_wait_emit(hs, EMIT_MS);
    assert_non_null(b);
    assert_int_equal(harness_host()->batch_count(b), 1);
    return b;
}

static const char *label(pp_batch *b, const char *name)
{
    const pp_host *h = harness_host();
    return h->label_get(h->batch_get(b, 0), name);
}

static void nothing_more(harness *hs)
{
    pp_batch *b = harness_wait_emit(hs, NO_EMIT_MS);
    if (b)
        fail_msg("unexpected profile of service %s", label(b, "service_name"));
}

static int file_exists(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    return access(path, F_OK) == 0;
}

/* The memory of what was read: a version per path, marked per scan,
 * swept, forgotten on request, and parked across a reload. */
static void test_seen_set(void **state)
{
    (void)state;
    seen_set *s = seen_new();
    seen_version v1 = {7, 1, 100, 1000}, v2 = {7, 1, 100, 2000};
    char path[32];
    seen_begin_scan(s);
    for (int i = 0; i < 500; i++) { /* past several doublings */
        snprintf(path, sizeof path, "/in/%d.pb.gz", i);
        assert_int_equal(seen_check(s, path, &v1), 0);
        assert_int_equal(seen_record(s, path, &v1), 0);
    }
    assert_int_equal(seen_count(s), 500);
    seen_begin_scan(s);
    assert_int_equal(seen_check(s, "/in/7.pb.gz", &v1), 1);
    assert_int_equal(seen_check(s, "/in/8.pb.gz", &v2), 0); /* rewritten */
    seen_sweep(s); /* only the two seen in this scan stay */
    assert_int_equal(seen_count(s), 2);
    seen_forget(s, "/in/7.pb.gz");
    seen_forget(s, "/in/nothing");
    assert_int_equal(seen_count(s), 1);

    seen_park("file/x", s);
    seen_set *other = seen_new();
    seen_park("file/y", other);
    assert_null(seen_adopt("file/z"));
    seen_set *back = seen_adopt("file/x");
    assert_ptr_equal(back, s);
    assert_null(seen_adopt("file/x")); /* adopted once */
    seen_park("file/y", seen_new());   /* parking again replaces (and frees) the older set */
    seen_set *y = seen_adopt("file/y");
    assert_non_null(y);
    assert_ptr_not_equal(y, other);
    assert_null(seen_adopt("file/y"));
    seen_free(y);
    seen_free(back);
}

static void test_options(void **state)
{
    (void)state;
    char err[512];
    assert_null(harness_new(&pp_receiver_file, "file", "", err, sizeof err));
    assert_non_null(strstr(err, "include"));
    assert_null(harness_new(&pp_receiver_file, "file", "include: [x]\nlabels: {service_name: a}\n",
                            err, sizeof err));
    assert_non_null(strstr(err, "service_name"));
    assert_null(harness_new(&pp_receiver_file, "file", "include: [x]\nlabels: {\"a-b\": c}\n", err,
                            sizeof err));
    assert_non_null(strstr(err, "a-b"));
    assert_null(harness_new(&pp_receiver_file, "file", "include: [x]\npoll_interval: often\n", err,
                            sizeof err));
    assert_non_null(strstr(err, "poll_interval"));
}

static void test_reads_gzip_and_plain_with_labels(void **state)
{
    (void)state;
    uint8_t *gz, *plain;
    size_t len, plain_len;
    char err[256];
    profile_bytes("alloc_space", "bytes", 7, &gz, &len);
    assert_int_equal(
        harness_host()->gunzip(gz, len, 1 << 20, &plain, &plain_len, NULL, err, sizeof err), 0);
    put_file("checkout.heap.pb.gz", gz, len, 5);
    put_file("plain.pprof", plain, plain_len, 5);
    free(gz);
    free(plain);
    harness *hs = receiver("include: ['%s/*.pb.gz', '%s/*.pprof']\nmin_file_age: 0s\n"
                           "labels: {env: prod}\n",
                           tmpdir, tmpdir);
    const pp_host *h = harness_host();
    for (int i = 0; i < 2; i++) {
        pp_batch *b = next(hs);
        pp_profile *p = h->batch_get(b, 0);
        assert_string_equal(label(b, "service_name"), i == 0 ? "checkout" : "plain");
        assert_string_equal(label(b, "__name__"), "memory");
        assert_string_equal(label(b, "env"), "prod");
        assert_int_equal(h->profile_from(p), T0);
        assert_int_equal(h->profile_until(p), T0 + 10 * SEC);
        h->batch_unref(b);
    }
    nothing_more(hs); /* read once, and poll_interval 0 reads once */
    harness_free(hs);
}

static void test_bad_files_moved_never_emitted(void **state)
{
    (void)state;
    put_file("bad.pb.gz", "\x1f\x8b not really", 14, 5);
    put_file("empty.pb.gz", "", 0, 5);
    put_cpu("good.pb.gz", 1, 5);
    uint8_t *gz;
    size_t len;
    profile_bytes("strange", "things", 1, &gz, &len); /* decodes, but no family */
    put_file("odd.pb.gz", gz, len, 5);
    free(gz);
    harness *hs = receiver("include: ['%s/*.pb.gz']\nmin_file_age: 0s\nfailed_dir: %s/failed\n",
                           tmpdir, tmpdir);
    pp_batch *b = next(hs);
    assert_string_equal(label(b, "service_name"), "good");
    assert_string_equal(label(b, "__name__"), "process_cpu");
    harness_host()->batch_unref(b);
    nothing_more(hs);
    assert_true(file_exists("failed/bad.pb.gz"));
    assert_true(file_exists("failed/empty.pb.gz"));
    assert_true(file_exists("failed/odd.pb.gz"));
    assert_false(file_exists("bad.pb.gz"));
    assert_true(file_exists("good.pb.gz"));
    harness_free(hs);
}

static void test_exclude_and_overrides(void **state)
{
    (void)state;
    put_cpu("a.pb.gz", 1, 5);
    put_cpu("skip-me.pb.gz", 1, 5);
    put_cpu("app.mutex.pb.gz", 1, 5);
    harness *hs = receiver("include: ['%s/*.pb.gz']\nexclude: ['skip-*', '%s/app.*']\n"
                           "min_file_age: 0s\nservice_name: svc\nprofile_type: custom\n",
                           tmpdir, tmpdir);
    pp_batch *b = next(hs);
    assert_string_equal(label(b, "service_name"), "svc");
    assert_string_equal(label(b, "__name__"), "custom");
    harness_host()->batch_unref(b);
    nothing_more(hs);
    harness_free(hs);
}

static void test_mutex_named_file(void **state)
{
    (void)state;
    uint8_t *gz;
    size_t len;
    profile_bytes("contentions", "count", 3, &gz, &len);
    put_file("app.mutex.pb.gz", gz, len, 5);
    harness *hs = receiver("include: ['%s/*.pb.gz']\nmin_file_age: 0s\n", tmpdir);
    pp_batch *b = next(hs);
    assert_string_equal(label(b, "__name__"), "mutex");
    harness_host()->batch_unref(b);
    harness_free(hs);
    free(gz);
}

/* The __name__ the receiver gives a file `name` holding one sample type. */
static void assert_file_named(const char *name, const char *type, const char *want)
{
    uint8_t *gz;
    size_t len;
    char glob[600];
    profile_bytes(type, "count", 3, &gz, &len);
    put_file(name, gz, len, 5);
    snprintf(glob, sizeof glob, "%s/%s", tmpdir, name);
    harness *hs = receiver("include: ['%s']\nmin_file_age: 0s\n", glob);
    pp_batch *b = next(hs);
    if (strcmp(label(b, "__name__"), want) != 0)
        fail_msg("%s (%s): __name__ %s, want %s", name, type, label(b, "__name__"), want);
    harness_host()->batch_unref(b);
    harness_free(hs);
    free(gz);
}

/* The host's one naming rule, as Pyroscope names the same profiles: a
 * wall profile (Node, Python) is wall, never process_cpu; a goroutine
 * profile goroutines; Go's contentions/delay mutex unless the file name
 * says block. */
static void test_named_as_pyroscope(void **state)
{
    (void)state;
    assert_file_named("node.pb.gz", "wall", "wall");
    assert_file_named("app.goroutine.pb.gz", "goroutine", "goroutines");
    assert_file_named("app.pb.gz", "contentions", "mutex");
    assert_file_named("app.block.pb.gz", "delay", "block");
    assert_file_named("fg.pb.gz", "samples", "process_cpu");
}

static void test_watch_reads_new_and_rewritten_once(void **state)
{
    (void)state;
    put_cpu("one.pb.gz", 1, 5);
    harness *hs =
        receiver("include: ['%s/*.pb.gz']\npoll_interval: 100ms\nmin_file_age: 0s\n", tmpdir);
    const pp_host *h = harness_host();
    pp_batch *b = next(hs);
    assert_string_equal(label(b, "service_name"), "one");
    h->batch_unref(b);
    nothing_more(hs); /* not read twice */
    put_cpu("two.pb.gz", 2, 0);
    b = next(hs);
    assert_string_equal(label(b, "service_name"), "two");
    h->batch_unref(b);
    put_cpu("one.pb.gz", 3, 1); /* rewritten: a newer version */
    b = next(hs);
    assert_string_equal(label(b, "service_name"), "one");
    h->batch_unref(b);
    nothing_more(hs);
    harness_free(hs);
}

static void test_min_file_age_waits(void **state)
{
    (void)state;
    put_cpu("young.pb.gz", 1, 0);
    harness *hs = receiver("include: ['%s/*.pb.gz']\nmin_file_age: 1s\n", tmpdir);
    nothing_more(hs);       /* too young at first ... */
    pp_batch *b = next(hs); /* ... read once old enough, even in read-once mode */
    assert_string_equal(label(b, "service_name"), "young");
    harness_host()->batch_unref(b);
    harness_free(hs);
}

static void test_delete_after_read_on_ack(void **state)
{
    (void)state;
    put_cpu("gone.pb.gz", 1, 5);
    harness *hs =
        receiver("include: ['%s/*.pb.gz']\nmin_file_age: 0s\ndelete_after_read: true\n", tmpdir);
    pp_batch *b = next(hs);
    assert_true(file_exists("gone.pb.gz")); /* kept until the batch is done */
    harness_host()->batch_unref(b);
    assert_false(file_exists("gone.pb.gz"));
    harness_free(hs);
}

/* A SIGHUP builds a new instance with the same id: it must not read the
 * folder again. The old one is stopped before the new one starts. */
static void test_reload_hands_over_what_was_read(void **state)
{
    (void)state;
    put_cpu("once.pb.gz", 1, 5);
    const char *fmt = "include: ['%s/*.pb.gz']\npoll_interval: 100ms\nmin_file_age: 0s\n";
    harness *old = receiver(fmt, tmpdir);
    pp_batch *b = next(old);
    harness_host()->batch_unref(b);
    char yaml[512], err[512];
    snprintf(yaml, sizeof yaml, fmt, tmpdir);
    harness *fresh = harness_new(&pp_receiver_file, "file", yaml, err, sizeof err);
    assert_non_null(fresh);
    pp_receiver_file.stop(harness_state(old), 0);
    assert_int_equal(harness_start(fresh), 0);
    nothing_more(fresh);
    put_cpu("new.pb.gz", 1, 0);
    b = next(fresh);
    assert_string_equal(label(b, "service_name"), "new");
    harness_host()->batch_unref(b);
    harness_free(old);
    harness_free(fresh);
}

/* Without failed_dir a bad file stays where it is and is not read again
 * until it is rewritten; a file over max_file_size is refused too. */
static void test_bad_file_kept_until_rewritten(void **state)
{
    (void)state;
    put_file("bad.pb.gz", "not a profile at all", 20, 5);
    uint8_t *gz;
    size_t len;
    profile_bytes("cpu", "nanoseconds", 1, &gz, &len);
    char big[64];
    assert_true(len > 16);
    snprintf(big, sizeof big, "max_file_size: %zu\n", len - 1);
    harness *hs =
        receiver("include: ['%s/*.pb.gz']\npoll_interval: 100ms\nmin_file_age: 0s\n", tmpdir);
    nothing_more(hs); /* skipped, and not retried every poll */
    assert_true(file_exists("bad.pb.gz"));
    put_file("bad.pb.gz", gz, len, 1); /* fixed in place: a new version */
    pp_batch *b = next(hs);
    assert_string_equal(label(b, "service_name"), "bad");
    harness_host()->batch_unref(b);
    nothing_more(hs);
    harness_free(hs);

    put_file("large.pb.gz", gz, len, 5);
    char yaml[512], err[512];
    snprintf(yaml, sizeof yaml, "include: ['%s/large.pb.gz']\nmin_file_age: 0s\n%s", tmpdir, big);
    hs = harness_new(&pp_receiver_file, "file", yaml, err, sizeof err);
    assert_non_null(hs);
    assert_int_equal(harness_start(hs), 0);
    nothing_more(hs); /* one byte over the limit: refused */
    assert_true(file_exists("large.pb.gz"));
    harness_free(hs);
    free(gz);
}

/* A profile without time_nanos ends when its file was last written. */
static void test_window_without_time_from_mtime(void **state)
{
    (void)state;
    uint8_t *gz;
    size_t len;
    profile_bytes_at("cpu", "nanoseconds", 1, 0, &gz, &len);
    put_file("untimed.pb.gz", gz, len, 100);
    free(gz);
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/untimed.pb.gz", tmpdir);
    assert_int_equal(stat(path, &st), 0);
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * SEC + st.st_mtim.tv_nsec;
    harness *hs = receiver("include: ['%s/*.pb.gz']\nmin_file_age: 0s\n", tmpdir);
    pp_batch *b = next(hs);
    const pp_host *h = harness_host();
    assert_int_equal(h->profile_until(h->batch_get(b, 0)), mtime);
    assert_int_equal(h->profile_from(h->batch_get(b, 0)), mtime - 10 * SEC);
    h->batch_unref(b);
    harness_free(hs);
}

/* delete_after_read deletes the version it read, not one written since. */
static void test_delete_spares_a_rewritten_file(void **state)
{
    (void)state;
    put_cpu("busy.pb.gz", 1, 5);
    harness *hs =
        receiver("include: ['%s/*.pb.gz']\nmin_file_age: 0s\ndelete_after_read: true\n", tmpdir);
    pp_batch *b = next(hs);
    put_cpu("busy.pb.gz", 2, 1); /* a new version arrives before the ack */
    harness_host()->batch_unref(b);
    assert_true(file_exists("busy.pb.gz"));
    harness_free(hs);
}

/* A reload whose new config fails to start destroys the old instance
 * before the old config is started again: the restarted instance must
 * still take over what the destroyed one read. */
static void test_hand_over_survives_destroy(void **state)
{
    (void)state;
    put_cpu("once.pb.gz", 1, 5);
    const char *fmt = "include: ['%s/*.pb.gz']\npoll_interval: 100ms\nmin_file_age: 0s\n";
    harness *old = receiver(fmt, tmpdir);
    harness_host()->batch_unref(next(old));
    harness_free(old); /* stopped and destroyed, no successor yet */
    harness *again = receiver(fmt, tmpdir);
    nothing_more(again);
    harness_free(again);
}

/* ---------------------------------------------------------------- */
/* State across restarts (storage)                                   */
/* ---------------------------------------------------------------- */

static const char *service_of(pp_batch *b)
{
    const pp_host *h = harness_host();
    return h->label_get(h->batch_get(b, 0), "service_name");
}

/* What a new process would have: nothing parked from a run before. */
static void forget_parked(void)
{
    seen_free(seen_adopt("file"));
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_state_resumes_after_restart(void **state)
{
    (void)state;
    const pp_host *h = harness_host();
    put_cpu("a.cpu.pb.gz", 1, 5);
    put_cpu("b.cpu.pb.gz", 2, 5);
    put_cpu("c.cpu.pb.gz", 3, 5);
    forget_parked();
    harness *hs =
        receiver("include: [\"%s/*.pb.gz\"]\nmin_file_age: 0s\nstorage: %s/state", tmpdir, tmpdir);
    pp_batch *held = NULL;
    for (int i = 0; i < 3; i++) {
        pp_batch *b = next(hs);
        if (strcmp(service_of(b), "c") == 0)
            held = b; /* read, not acknowledged: in flight when "killed" */
        else
            h->batch_unref(b); /* acknowledged */
    }
    assert_non_null(held);
    harness_free(hs);
    forget_parked();

    char path[512];
    snprintf(path, sizeof path, "%s/state/file.state", tmpdir);
    const char *text = slurp(path);
    assert_non_null(strstr(text, FILE_STATE_HEADER));
    assert_non_null(strstr(text, "/a.cpu.pb.gz\n"));
    assert_non_null(strstr(text, "/b.cpu.pb.gz\n"));
    assert_null(strstr(text, "/c.cpu.pb.gz"));

    /* b rewritten in place (same inode), a rotated to a2 */
    char from[512], to[512];
    snprintf(from, sizeof from, "%s/b.cpu.pb.gz", tmpdir);
    struct stat before, after;
    assert_int_equal(stat(from, &before), 0);
    uint8_t *gz;
    size_t len;
    profile_bytes("cpu", "nanoseconds", 123456789, &gz, &len);
    FILE *f = fopen(from, "r+b");
    assert_non_null(f);
    assert_int_equal(fwrite(gz, 1, len, f), len);
    assert_int_equal(ftruncate(fileno(f), (off_t)len), 0);
    fclose(f);
    free(gz);
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= 3;
    tv[1] = tv[0];
    assert_int_equal(utimes(from, tv), 0);
    assert_int_equal(stat(from, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    snprintf(from, sizeof from, "%s/a.cpu.pb.gz", tmpdir);
    snprintf(to, sizeof to, "%s/a2.cpu.pb.gz", tmpdir);
    assert_int_equal(rename(from, to), 0);

    hs = receiver("include: [\"%s/*.pb.gz\"]\nmin_file_age: 0s\nstorage: %s/state", tmpdir, tmpdir);
    int seen_b = 0, seen_c = 0;
    for (int i = 0; i < 2; i++) {
        pp_batch *b = next(hs);
        seen_b += strcmp(service_of(b), "b") == 0;
        seen_c += strcmp(service_of(b), "c") == 0;
        h->batch_unref(b);
    }
    assert_int_equal(seen_b, 1);
    assert_int_equal(seen_c, 1);
    assert_null(harness_wait_emit(hs, NO_EMIT_MS)); /* not a2: it is a, renamed */
    harness_free(hs);
    forget_parked();
    h->batch_unref(held);
    text = slurp(path);
    assert_non_null(strstr(text, "/a2.cpu.pb.gz\n"));
    assert_non_null(strstr(text, "/c.cpu.pb.gz\n"));
    assert_null(strstr(text, "/a.cpu.pb.gz"));
}

static const char state_text[] =
    FILE_STATE_HEADER "2049 131 4096 1700000000123456789 /var/x/a.pb.gz\n"
                      "2049 132 17 1700000000000000001 rel/b c.pb.gz\n"
                      "0 0 0 0 /z\n";

static void test_state_text_round_trip(void **state)
{
    (void)state;
    char err[256];
    seen_set *s = seen_new();
    assert_int_equal(file_state_parse(state_text, strlen(state_text), s, err, sizeof err), 0);
    assert_int_equal(seen_count(s), 3);
    seen_version v = {2049, 132, 17, 1700000000000000001LL};
    seen_begin_scan(s);
    assert_true(seen_check(s, "rel/b c.pb.gz", &v));
    size_t len;
    char *text = file_state_format(s, &len);
    seen_set *again = seen_new();
    assert_int_equal(file_state_parse(text, len, again, err, sizeof err), 0);
    assert_int_equal(seen_count(again), 3);
    seen_begin_scan(again);
    assert_true(seen_check(again, "rel/b c.pb.gz", &v));
    free(text);
    seen_free(again);
    seen_free(s);
}

static void expect_bad(const char *text, const char *want)
{
    char err[256];
    seen_set *s = seen_new();
    assert_int_equal(file_state_parse(text, strlen(text), s, err, sizeof err), -1);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not say \"%s\"", err, want);
    seen_free(s);
}

static void test_state_text_errors_name_the_line(void **state)
{
    (void)state;
    expect_bad("", "line 1: not a profpipe file receiver state");
    expect_bad("profpipe-file-receiver-state 2\n", "line 1:");
    expect_bad(FILE_STATE_HEADER "1 2 3 4 /a\n1 x 3 4 /b\n", "line 3: bad inode");
    expect_bad(FILE_STATE_HEADER "1 2 3 4 /a", "line 2: cut short");
    expect_bad(FILE_STATE_HEADER "1 2 3 4 \n", "line 2: bad path");
    expect_bad(FILE_STATE_HEADER "99999999999999999999 2 3 4 /a\n", "line 2: bad device");
    expect_bad(FILE_STATE_HEADER "1 2 9223372036854775808 4 /a\n", "line 2: bad size");
    expect_bad(FILE_STATE_HEADER "1 2 3 -4 /a\n", "line 2: bad mtime");
}

/* Truncated and mutated state files: parsed or refused with a line, never
 * a crash or a read past the end (ASan). */
static void test_state_text_fuzz(void **state)
{
    (void)state;
    char err[256];
    size_t n = strlen(state_text);
    for (size_t cut = 0; cut <= n; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, state_text, cut);
        seen_set *s = seen_new();
        int rc = file_state_parse(copy, cut, s, err, sizeof err);
        assert_true(rc == 0 || strncmp(err, "line ", 5) == 0);
        seen_free(s);
        free(copy);
    }
    unsigned seed = 15;
    for (int round = 0; round < 20000; round++) {
        char *copy = malloc(n);
        memcpy(copy, state_text, n);
        for (int k = 0; k < 1 + round % 4; k++)
            copy[(size_t)rand_r(&seed) % n] = (char)(rand_r(&seed) & 0xff);
        seen_set *s = seen_new();
        int rc = file_state_parse(copy, n, s, err, sizeof err);
        assert_true(rc == 0 || strncmp(err, "line ", 5) == 0);
        assert_true(seen_count(s) <= 3);
        seen_free(s);
        free(copy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seen_set),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_state_text_round_trip),
        cmocka_unit_test(test_state_text_errors_name_the_line),
        cmocka_unit_test(test_state_text_fuzz),
#define DIR_TEST(t) cmocka_unit_test_setup_teardown(t, setup_dir, remove_dir)
        DIR_TEST(test_state_resumes_after_restart),
        DIR_TEST(test_reads_gzip_and_plain_with_labels),
        DIR_TEST(test_bad_files_moved_never_emitted),
        DIR_TEST(test_exclude_and_overrides),
        DIR_TEST(test_mutex_named_file),
        DIR_TEST(test_named_as_pyroscope),
        DIR_TEST(test_watch_reads_new_and_rewritten_once),
        DIR_TEST(test_min_file_age_waits),
        DIR_TEST(test_delete_after_read_on_ack),
        DIR_TEST(test_reload_hands_over_what_was_read),
        DIR_TEST(test_bad_file_kept_until_rewritten),
        DIR_TEST(test_window_without_time_from_mtime),
        DIR_TEST(test_delete_spares_a_rewritten_file),
        DIR_TEST(test_hand_over_survives_destroy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
