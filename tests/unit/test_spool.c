/* spool: records written, read back in order after a reopen (labels,
 * window and payload intact), and the records a crash or a bad disk can
 * leave refused and set aside: a CRC mismatch, a truncated record, a
 * foreign file. With fsync_writes, every record is fsync'd before its
 * rename and the directory after it: this program is linked with
 * -Wl,--wrap=fsync (tests/CMakeLists.txt), so every fsync the spool makes
 * is seen here, with what the descriptor is and what the directory held
 * at that moment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "log.h"
#include "spool.h"
#include "unit_support.h"

#define N_RECORDS 5
#define T0 1700000000000000000LL
#define SEC 1000000000LL
#define MAX_SYNCS 64

/* ---- fsync as the spool calls it ---- */

typedef struct sync_seen {
    int is_dir;
    char path[512];
    int records_in_dir; /* *.ppspool files (not .tmp) in the spool at that moment */
} sync_seen;

static sync_seen syncs[MAX_SYNCS];
static int n_syncs;
static const char *watched_dir;

int __real_fsync(int fd);

static int count_records(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 8 && strcmp(e->d_name + l - 8, ".ppspool") == 0)
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

int __wrap_fsync(int fd)
{
    if (n_syncs < MAX_SYNCS && watched_dir) {
        sync_seen *s = &syncs[n_syncs++];
        char link[64];
        struct stat st;
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t l = readlink(link, s->path, sizeof s->path - 1);
        s->path[l > 0 ? l : 0] = '\0';
        s->is_dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
        s->records_in_dir = count_records(watched_dir);
    }
    return __real_fsync(fd);
}

/* ---- helpers ---- */

static pp_profile *make_profile(int i)
{
    const pp_host *h = harness_host();
    size_t len;
    uint8_t *gz = unit_one_sample_gz("samples", "count", 100 + i, T0 + i * SEC, SEC, &len);
    pp_profile *p = h->profile_new();
    assert_int_equal(h->profile_set_raw(p, gz, len), 0);
    free(gz);
    char v[32];
    snprintf(v, sizeof v, "svc-%d", i);
    assert_int_equal(h->label_set(p, "service_name", v), 0);
    assert_int_equal(h->label_set(p, "__name__", "process_cpu"), 0);
    h->profile_set_window(p, T0 + i * SEC, T0 + (i + 1) * SEC);
    return p;
}

typedef struct replayed {
    uint64_t seq[N_RECORDS * 2];
    int64_t value[N_RECORDS * 2];
    char service[N_RECORDS * 2][32];
    int64_t from[N_RECORDS * 2], until[N_RECORDS * 2];
    size_t n;
} replayed;

static void collect(void *arg, pp_profile *p, uint64_t seq)
{
    const pp_host *h = harness_host();
    replayed *r = arg;
    char err[256];
    const pp_pprof *t = h->profile_tree(p, err, sizeof err);
    assert_non_null(t);
    r->seq[r->n] = seq;
    r->value[r->n] = t->samples[0].values[0];
    snprintf(r->service[r->n], sizeof r->service[0], "%s", h->label_get(p, "service_name"));
    r->from[r->n] = h->profile_from(p);
    r->until[r->n] = h->profile_until(p);
    r->n++;
    h->profile_free(p);
}

static void record_file(const char *dir, uint64_t seq, char *out, size_t len)
{
    snprintf(out, len, "%s/%020llu.ppspool", dir, (unsigned long long)seq);
}

static spool *write_records(const char *dir, int do_fsync, uint64_t *seqs)
{
    char err[256];
    spool *s = spool_open(dir, do_fsync, err, sizeof err);
    assert_non_null(s);
    for (int i = 0; i < N_RECORDS; i++) {
        pp_profile *p = make_profile(i);
        assert_int_equal(spool_write(s, p, &seqs[i], err, sizeof err), 0);
        harness_host()->profile_free(p);
    }
    return s;
}

/* ---- tests ---- */

static void test_replay_order_and_content(void **state)
{
    (void)state;
    char dir[256];
    uint64_t seqs[N_RECORDS];
    assert_int_equal(unit_make_tmpdir(dir, sizeof dir, "spool"), 0);
    spool *s = write_records(dir, 0, seqs);
    assert_int_equal(spool_count(s), N_RECORDS);
    spool_remove(s, seqs[1]); /* finished: not replayed */
    spool_close(s);

    char err[256];
    s = spool_open(dir, 0, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(spool_first_new_seq(s), seqs[N_RECORDS - 1] + 1);
    replayed r = {0};
    assert_int_equal(spool_replay(s, spool_first_new_seq(s), collect, &r), N_RECORDS - 1);
    int want[] = {0, 2, 3, 4};
    for (size_t i = 0; i < r.n; i++) {
        int k = want[i];
        assert_int_equal(r.seq[i], seqs[k]);
        assert_int_equal(r.value[i], 100 + k);
        char v[32];
        snprintf(v, sizeof v, "svc-%d", k);
        assert_string_equal(r.service[i], v);
        assert_int_equal(r.from[i], T0 + k * SEC);
        assert_int_equal(r.until[i], T0 + (k + 1) * SEC);
        if (i)
            assert_true(r.seq[i] > r.seq[i - 1]);
    }
    /* records written after the reopen are numbered after the old ones and
     * are not part of a replay bounded by first_new_seq */
    uint64_t later;
    pp_profile *p = make_profile(9);
    assert_int_equal(spool_write(s, p, &later, err, sizeof err), 0);
    harness_host()->profile_free(p);
    assert_true(later >= spool_first_new_seq(s));
    memset(&r, 0, sizeof r);
    assert_int_equal(spool_replay(s, spool_first_new_seq(s), collect, &r), N_RECORDS - 1);
    spool_close(s);
    unit_remove_tmpdir(dir);
}

/* Damages record k with fn, replays, and checks the others survive and
 * the damaged one is in corrupt/ with the reason logged. */
static void check_set_aside(void (*damage)(const char *path), const char *reason)
{
    char dir[256], path[512], moved[600], err[256];
    uint64_t seqs[N_RECORDS];
    assert_int_equal(unit_make_tmpdir(dir, sizeof dir, "spool"), 0);
    spool_close(write_records(dir, 0, seqs));
    record_file(dir, seqs[2], path, sizeof path);
    damage(path);

    spool *s = spool_open(dir, 0, err, sizeof err);
    assert_non_null(s);
    replayed r = {0};
    /* the log line goes to stderr: capture it in a file */
    char logpath[300];
    snprintf(logpath, sizeof logpath, "%s.log", dir);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int lfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(lfd, STDERR_FILENO);
    size_t n = spool_replay(s, spool_first_new_seq(s), collect, &r);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(lfd);
    assert_int_equal(n, N_RECORDS - 1);
    for (size_t i = 0; i < r.n; i++)
        assert_int_not_equal(r.seq[i], seqs[2]);
    assert_int_equal(access(path, F_OK), -1); /* not in the queue any more */
    snprintf(moved, sizeof moved, "%s/corrupt/%020llu.ppspool", dir, (unsigned long long)seqs[2]);
    assert_int_equal(access(moved, F_OK), 0);
    assert_int_equal(spool_count(s), N_RECORDS - 1);
    char logtext[2048] = "";
    FILE *lf = fopen(logpath, "r");
    size_t got = fread(logtext, 1, sizeof logtext - 1, lf);
    logtext[got] = '\0';
    fclose(lf);
    unlink(logpath);
    assert_non_null(strstr(logtext, "level=error"));
    assert_non_null(strstr(logtext, reason));
    assert_non_null(strstr(logtext, path));
    /* a second replay does not see it again */
    memset(&r, 0, sizeof r);
    assert_int_equal(spool_replay(s, spool_first_new_seq(s), collect, &r), N_RECORDS - 1);
    spool_close(s);
    unit_remove_tmpdir(dir);
}

static void flip_payload_byte(const char *path)
{
    int fd = open(path, O_RDWR);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    unsigned char b;
    off_t at = st.st_size - 5; /* inside the gzip'd payload, covered by the CRC */
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

static void cut_in_half(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size / 2), 0);
}

static void overwrite_foreign(const char *path)
{
    FILE *f = fopen(path, "w");
    fputs("not a spool record at all, but long enough", f);
    fclose(f);
}

static void test_crc_mismatch(void **state)
{
    (void)state;
    check_set_aside(flip_payload_byte, "checksum mismatch");
}

static void test_truncated_record(void **state)
{
    (void)state;
    check_set_aside(cut_in_half, "truncated record");
}

static void test_foreign_file(void **state)
{
    (void)state;
    check_set_aside(overwrite_foreign, "not a spool record");
}

/* fsync: true syncs each record before the rename, then the directory
 * after the rename (the record is in it by then); fsync: false neither. */
static void test_fsync_record_then_directory(void **state)
{
    (void)state;
    char dir[256], real_dir[512];
    uint64_t seqs[N_RECORDS];
    assert_int_equal(unit_make_tmpdir(dir, sizeof dir, "spool"), 0);
    assert_non_null(realpath(dir, real_dir));
    watched_dir = dir;
    n_syncs = 0;
    spool_close(write_records(dir, 1, seqs));
    assert_int_equal(n_syncs, 2 * N_RECORDS);
    for (int i = 0; i < N_RECORDS; i++) {
        sync_seen *rec = &syncs[2 * i], *d = &syncs[2 * i + 1];
        char tmp[600];
        record_file(real_dir, seqs[i], tmp, sizeof tmp);
        strcat(tmp, ".tmp");
        assert_false(rec->is_dir);
        assert_string_equal(rec->path, tmp);
        assert_int_equal(rec->records_in_dir, i); /* before its rename */
        assert_true(d->is_dir);
        assert_string_equal(d->path, real_dir);
        assert_int_equal(d->records_in_dir, i + 1); /* after its rename */
    }
    unit_remove_tmpdir(dir);

    assert_int_equal(unit_make_tmpdir(dir, sizeof dir, "spool"), 0);
    watched_dir = dir;
    n_syncs = 0;
    spool_close(write_records(dir, 0, seqs));
    assert_int_equal(n_syncs, 0);
    watched_dir = NULL;
    unit_remove_tmpdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_order_and_content),
        cmocka_unit_test(test_crc_mismatch),
        cmocka_unit_test(test_truncated_record),
        cmocka_unit_test(test_foreign_file),
        cmocka_unit_test(test_fsync_record_then_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
