/* test_perf_parse: the perf receiver's parsing without the kernel: record
 * layouts built byte by byte, a ring whose records wrap its end (with
 * data_head/data_tail moved as the kernel would), time ordering across
 * rings, CPU lists, /proc/<pid>/maps lines, cgroup paths and container ids,
 * the mapping table (overlaps cut as mmap does), stack counting, and the
 * service_name rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/perf_event.h>

#include "../../receivers/perf/perf_event.h"
#include "../../receivers/perf/perf_proc.h"
#include "../../receivers/perf/perf_rules.h"

#define RING_DATA 256
#define PAGE 4096

/* --- record builders --- */

typedef struct recbuf {
    uint64_t words[64]; /* 8-byte aligned like a ring */
    size_t len;
} recbuf;

static void put(recbuf *b, const void *p, size_t n)
{
    memcpy((uint8_t *)b->words + b->len, p, n);
    b->len += n;
}

static void put32(recbuf *b, uint32_t v)
{
    put(b, &v, 4);
}
static void put64(recbuf *b, uint64_t v)
{
    put(b, &v, 8);
}

/* header.size is the u16 at offset 6 */
static void set_size(void *rec, size_t size)
{
    uint16_t v = (uint16_t)size;
    memcpy((uint8_t *)rec + offsetof(struct perf_event_header, size), &v, sizeof v);
}

static void begin(recbuf *b, uint32_t type, uint16_t misc)
{
    struct perf_event_header h = {type, misc, 0};
    memset(b, 0, sizeof *b);
    put(b, &h, sizeof h);
}

/* sample_id_all trailer: pid,tid time cpu,res; then sets the size. */
static void finish(recbuf *b, uint32_t pid, uint64_t time)
{
    b->len = (b->len + 7) & ~(size_t)7;
    put32(b, pid);
    put32(b, pid);
    put64(b, time);
    put32(b, 0);
    put32(b, 0);
    set_size(b->words, b->len);
}

static void sample(recbuf *b, uint32_t pid, uint64_t time, const uint64_t *ips, uint64_t n)
{
    begin(b, PERF_RECORD_SAMPLE, PERF_RECORD_MISC_USER);
    put32(b, pid);
    put32(b, pid + 1);
    put64(b, time);
    put32(b, 1); /* cpu */
    put32(b, 0);
    put64(b, 10101010); /* period */
    put64(b, n);
    for (uint64_t i = 0; i < n; i++)
        put64(b, ips[i]);
    set_size(b->words, b->len);
}

static void test_sample_layout(void **state)
{
    (void)state;
    recbuf b;
    perf_sample s;
    uint64_t ips[] = {(uint64_t)PERF_CONTEXT_USER, 0x401000, 0x402000};
    sample(&b, 42, 777, ips, 3);
    assert_int_equal(perf_parse_sample(b.words, &s), 0);
    assert_int_equal(s.pid, 42);
    assert_int_equal(s.tid, 43);
    assert_int_equal(s.time, 777);
    assert_int_equal(s.cpu, 1);
    assert_int_equal(s.period, 10101010);
    assert_int_equal(s.n_ips, 3);
    assert_int_equal(s.ips[2], 0x402000);
    assert_int_equal(perf_record_time(b.words), 777);
    /* a callchain longer than the record is refused, not read past */
    set_size(b.words, b.len - 8);
    assert_int_equal(perf_parse_sample(b.words, &s), -1);
}

static void test_mmap2_comm_task_lost(void **state)
{
    (void)state;
    recbuf b;
    perf_mmap2 m;
    perf_comm c;
    perf_task t;
    uint64_t lost;

    begin(&b, PERF_RECORD_MMAP2, 0);
    put32(&b, 7);
    put32(&b, 8);
    put64(&b, 0x1000);
    put64(&b, 0x2000);
    put64(&b, 0x3000);
    put32(&b, 8);
    put32(&b, 1);
    put64(&b, 99);
    put64(&b, 0);
    put32(&b, 5 /* r-x */);
    put32(&b, 2);
    put(&b, "/usr/lib/libfoo.so", 19);
    finish(&b, 7, 1234);
    assert_int_equal(perf_parse_mmap2(b.words, &m), 0);
    assert_int_equal(m.pid, 7);
    assert_int_equal(m.addr, 0x1000);
    assert_int_equal(m.len, 0x2000);
    assert_int_equal(m.pgoff, 0x3000);
    assert_int_equal(m.maj, 8);
    assert_int_equal(m.min, 1);
    assert_int_equal(m.ino, 99);
    assert_int_equal(m.prot, 5);
    assert_string_equal(m.filename, "/usr/lib/libfoo.so");
    assert_int_equal(perf_record_time(b.words), 1234);
    assert_int_equal(perf_parse_comm(b.words, &c), -1); /* wrong type */

    begin(&b, PERF_RECORD_COMM, PERF_RECORD_MISC_COMM_EXEC);
    put32(&b, 9);
    put32(&b, 9);
    put(&b, "worker", 7);
    finish(&b, 9, 55);
    assert_int_equal(perf_parse_comm(b.words, &c), 0);
    assert_string_equal(c.comm, "worker");
    assert_true(c.exec);
    assert_int_equal(perf_record_time(b.words), 55);

    begin(&b, PERF_RECORD_FORK, 0);
    put32(&b, 10);
    put32(&b, 9);
    put32(&b, 10);
    put32(&b, 9);
    put64(&b, 66);
    finish(&b, 10, 66);
    assert_int_equal(perf_parse_task(b.words, &t), 0);
    assert_int_equal(t.pid, 10);
    assert_int_equal(t.ppid, 9);
    assert_int_equal(t.time, 66);

    begin(&b, PERF_RECORD_LOST, 0);
    put64(&b, 1);
    put64(&b, 17);
    finish(&b, 0, 70);
    assert_int_equal(perf_parse_lost(b.words, &lost), 0);
    assert_int_equal(lost, 17);
}

static void test_ring_copy_wraps(void **state)
{
    (void)state;
    uint8_t data[16], out[6];
    for (int i = 0; i < 16; i++)
        data[i] = (uint8_t)i;
    perf_ring_copy(data, sizeof data, 16 * 3 + 13, out, sizeof out);
    uint8_t want[] = {13, 14, 15, 0, 1, 2};
    assert_memory_equal(out, want, sizeof want);
}

/* A ring as the kernel leaves it: records from data_tail to data_head, one
 * of them across the end of the data area. */
static void test_ring_read_wrapping_record(void **state)
{
    (void)state;
    uint8_t *mem = calloc(1, PAGE + RING_DATA); /* malloc alignment suffices */
    struct perf_event_mmap_page *meta = (void *)mem;
    perf_ring ring = {.fd = -1, .base = mem, .data = mem + PAGE, .data_size = RING_DATA};
    perf_records rs = {0};
    uint64_t ips[] = {(uint64_t)PERF_CONTEXT_USER, 0x401000, 0x402000, 0x403000};
    uint64_t pos = 10 * RING_DATA + 200; /* positions only grow */
    recbuf a, b;
    perf_sample s;

    memset(mem, 0, PAGE + RING_DATA);
    sample(&a, 1, 300, ips, 2); /* 64 bytes: 200..264 wraps */
    sample(&b, 2, 100, ips, 4);
    meta->data_tail = pos;
    for (size_t i = 0; i < a.len; i++)
        ring.data[(pos + i) % RING_DATA] = ((uint8_t *)a.words)[i];
    for (size_t i = 0; i < b.len; i++)
        ring.data[(pos + a.len + i) % RING_DATA] = ((uint8_t *)b.words)[i];
    meta->data_head = pos + a.len + b.len;

    assert_int_equal(perf_ring_read(&ring, &rs), 2);
    assert_int_equal(meta->data_tail, meta->data_head);
    assert_int_equal(perf_parse_sample(perf_records_get(&rs, 0), &s), 0);
    assert_int_equal(s.pid, 1);
    assert_int_equal(s.n_ips, 2);
    assert_int_equal(s.ips[1], 0x401000);
    /* sorted by time: the second record came first */
    perf_records_sort(&rs);
    assert_int_equal(perf_parse_sample(perf_records_get(&rs, 0), &s), 0);
    assert_int_equal(s.pid, 2);
    assert_int_equal(s.ips[3], 0x403000);

    /* a record claiming more than the ring holds: skipped to head */
    meta->data_head += 8;
    memset(&ring.data[meta->data_tail % RING_DATA], 0, 8);
    set_size(&ring.data[meta->data_tail % RING_DATA], 64);
    perf_records_reset(&rs);
    assert_int_equal(perf_ring_read(&ring, &rs), -1);
    assert_int_equal(meta->data_tail, meta->data_head);
    perf_records_free(&rs);
    free(mem);
}

static void test_cpu_list(void **state)
{
    (void)state;
    int cpus[8];
    assert_int_equal(perf_parse_cpu_list("0-3,5\n", cpus, 8), 5);
    assert_int_equal(cpus[3], 3);
    assert_int_equal(cpus[4], 5);
    assert_int_equal(perf_parse_cpu_list("0", cpus, 8), 1);
    assert_int_equal(perf_parse_cpu_list("3-1", cpus, 8), -1);
    assert_int_equal(perf_parse_cpu_list("0-9", cpus, 8), -1);
    assert_true(perf_online_cpus(cpus, 8) >= 1);
}

static void test_maps_lines(void **state)
{
    (void)state;
    perf_map m;
    assert_int_equal(perf_maps_parse_line("55d5c5a4e000-55d5c5a50000 r-xp 00002000 fd:01 "
                                          "1234    /usr/bin/my prog (deleted)\n",
                                          &m),
                     1);
    assert_int_equal(m.start, 0x55d5c5a4e000);
    assert_int_equal(m.end, 0x55d5c5a50000);
    assert_int_equal(m.pgoff, 0x2000);
    assert_int_equal(m.dev, makedev(0xfd, 1));
    assert_int_equal(m.ino, 1234);
    assert_string_equal(m.path, "/usr/bin/my prog");
    free(m.path);
    assert_int_equal(perf_maps_parse_line("7ffd1000-7ffd3000 r-xp 00000000 00:00 0 "
                                          "                 [vdso]\n",
                                          &m),
                     1);
    assert_string_equal(m.path, "[vdso]");
    free(m.path);
    assert_int_equal(perf_maps_parse_line("7f00-7f10 rw-p 00000000 00:00 0\n", &m), 0);
    assert_int_equal(perf_maps_parse_line("garbage\n", &m), -1);
}

static void test_cgroup_and_container(void **state)
{
    (void)state;
    char out[256], id[PERF_CONTAINER_ID_LEN + 1];
    const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char text[512];

    perf_cgroup_pick("12:memory:/docker/abc\n0::/\n", out, sizeof out);
    assert_string_equal(out, "/docker/abc");
    perf_cgroup_pick("0::/system.slice/x.service\n", out, sizeof out);
    assert_string_equal(out, "/system.slice/x.service");
    perf_cgroup_pick("0::/\n", out, sizeof out);
    assert_string_equal(out, "");

    snprintf(text, sizeof text, "/docker/%s", hex);
    assert_int_equal(perf_container_id(text, id), 1);
    assert_string_equal(id, hex);
    snprintf(text, sizeof text, "/system.slice/docker-%s.scope", hex);
    assert_int_equal(perf_container_id(text, id), 1);
    assert_string_equal(id, hex);
    snprintf(text, sizeof text, "/kubepods/burstable/pod1/cri-containerd-%s.scope", hex);
    assert_int_equal(perf_container_id(text, id), 1);
    snprintf(text, sizeof text, "/machine.slice/crio-%s.scope", hex);
    assert_int_equal(perf_container_id(text, id), 1);
    assert_int_equal(perf_container_id("/process_api/84b0265ac668c5645dc2f4fefdf3f0b3", id), 0);
    snprintf(text, sizeof text, "/x/%sf", hex); /* 65 digits: not an id */
    assert_int_equal(perf_container_id(text, id), 0);
}

static void test_cgroup_mounts(void **state)
{
    (void)state;
    char v1[256], v2[256];
    perf_cgroup_roots_parse("tmpfs /sys/fs/cgroup tmpfs rw 0 0\n"
                            "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n"
                            "cgroup /sys/fs/cgroup/perf_event cgroup rw,nosuid,perf_event 0 0\n"
                            "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n",
                            v1, sizeof v1, v2, sizeof v2);
    assert_string_equal(v1, "/sys/fs/cgroup/perf_event");
    assert_string_equal(v2, "/sys/fs/cgroup/unified");
    perf_cgroup_roots_parse("cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0\n", v1, sizeof v1, v2,
                            sizeof v2);
    assert_string_equal(v1, "");
    assert_string_equal(v2, "/sys/fs/cgroup");
}

static void test_mappings_cut_like_mmap(void **state)
{
    (void)state;
    perf_process p = {.pid = 1};
    assert_int_equal(perf_proc_add_map(&p, 0x1000, 0x5000, 0, 1, 2, "/a"), 0);
    assert_int_equal(perf_proc_add_map(&p, 0x8000, 0x9000, 0, 1, 3, "/b"), 0);
    /* a new mapping in the middle of /a splits it */
    assert_int_equal(perf_proc_add_map(&p, 0x2000, 0x3000, 0x100, 1, 4, "/c"), 0);
    assert_int_equal(p.n_maps, 4);
    assert_string_equal(perf_proc_find_map(&p, 0x1500)->path, "/a");
    assert_string_equal(perf_proc_find_map(&p, 0x2500)->path, "/c");
    const perf_map *tail = perf_proc_find_map(&p, 0x4000);
    assert_string_equal(tail->path, "/a");
    assert_int_equal(tail->start, 0x3000);
    assert_int_equal(tail->pgoff, 0x2000); /* offset moved with the start */
    assert_null(perf_proc_find_map(&p, 0x6000));
    assert_null(perf_proc_find_map(&p, 0x9000));
    /* covering everything replaces everything */
    assert_int_equal(perf_proc_add_map(&p, 0x0, 0x10000, 0, 1, 5, "/d"), 0);
    assert_int_equal(p.n_maps, 1);
    perf_proc_exec(&p);
    assert_int_equal(p.n_maps, 0);
    assert_true(p.exe_from_next_mmap);
    free(p.maps);
}

static void test_process_table_and_proc(void **state)
{
    (void)state;
    perf_procs t;
    perf_process *self;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    assert_int_equal(perf_procs_init(&t), 0);
    self = perf_procs_add(&t, (uint32_t)getpid());
    assert_int_equal(perf_proc_load(self, 1), 0);
    assert_string_equal(self->exe, exe);
    assert_string_equal(self->comm, "test_perf_parse");
    /* our own code is in an executable mapping of our executable */
    const perf_map *m = perf_proc_find_map(self, (uint64_t)(uintptr_t)&test_cpu_list);
    assert_non_null(m);
    assert_string_equal(m->path, exe);
    for (uint32_t pid = 100000; pid < 100100; pid++)
        assert_non_null(perf_procs_add(&t, pid));
    assert_int_equal(t.count, 101);
    perf_procs_remove(&t, 100050);
    assert_null(perf_procs_find(&t, 100050));
    assert_non_null(perf_procs_find(&t, 100051));
    perf_procs_free(&t);
}

static void test_stacks_count(void **state)
{
    (void)state;
    perf_stacks s = {0};
    uint64_t a[] = {1, 2, 3}, b[] = {1, 2, 4};
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(perf_stacks_add(&s, a, 3), 0);
        assert_int_equal(perf_stacks_add(&s, b, i % 2 ? 3 : 2), 0);
    }
    assert_int_equal(s.n, 3);
    assert_int_equal(s.total, 2000);
    for (size_t i = 0; i < s.cap; i++)
        if (s.slots[i].ips && s.slots[i].n == 2)
            assert_int_equal(s.slots[i].count, 500);
    perf_stacks_clear(&s);
    assert_int_equal(s.total, 0);
}

static void test_rules(void **state)
{
    (void)state;
    char err[256], out[64];
    perf_regex *re = perf_regex_new("/opt/(\\w+)/bin/.*", err, sizeof err);
    assert_non_null(re);
    assert_int_equal(perf_rule_apply(re, "/opt/shop/bin/server", "svc-$1-${1}$$", out, sizeof out),
                     1);
    assert_string_equal(out, "svc-shop-shop$");
    /* anchored: a substring is not a match */
    assert_int_equal(perf_rule_apply(re, "x/opt/shop/bin/server", "$1", out, sizeof out), 0);
    assert_int_equal(perf_rule_check(re, "$2", err, sizeof err), -1);
    assert_int_equal(perf_rule_check(re, "$1", err, sizeof err), 0);
    assert_null(perf_regex_new("(", err, sizeof err));
    assert_non_null(strstr(err, "invalid regex"));

    perf_rule rules[] = {{re, PERF_SOURCE_EXE, "shop-$1"}};
    perf_service_name(rules, 1, "server", "/opt/shop/bin/server", NULL, out, sizeof out);
    assert_string_equal(out, "shop-shop");
    perf_service_name(rules, 1, "cat", "/usr/bin/cat", NULL, out, sizeof out);
    assert_string_equal(out, "cat");
    perf_service_name(rules, 1, "kworker/0:1", NULL, NULL, out, sizeof out);
    assert_string_equal(out, "kworker/0:1");
    assert_int_equal(perf_rule_source_parse("cgroup"), PERF_SOURCE_CGROUP);
    assert_int_equal(perf_rule_source_parse("pid"), -1);
    perf_regex_free(re);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_layout),
        cmocka_unit_test(test_mmap2_comm_task_lost),
        cmocka_unit_test(test_ring_copy_wraps),
        cmocka_unit_test(test_ring_read_wrapping_record),
        cmocka_unit_test(test_cpu_list),
        cmocka_unit_test(test_maps_lines),
        cmocka_unit_test(test_cgroup_and_container),
        cmocka_unit_test(test_cgroup_mounts),
        cmocka_unit_test(test_mappings_cut_like_mmap),
        cmocka_unit_test(test_process_table_and_proc),
        cmocka_unit_test(test_stacks_count),
        cmocka_unit_test(test_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
