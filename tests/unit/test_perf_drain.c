/* test_perf_drain: the perf receiver's drain step (perf_drain: read every
 * ring, sort, apply) on a ring built by hand as the kernel leaves it, with
 * a record across the end of the data area: PERF_RECORD_LOST adds its
 * count to profpipe_perf_lost_samples_total, THROTTLE and UNTHROTTLE each
 * add one to their counters, and data_tail ends at data_head. The receiver
 * comes from the real host (tests/support/harness.h) but is never started (the
 * test hands it the counters start() would make, by the same names): no
 * kernel is involved, so the counting is checked exactly. /metrics showing
 * these counters is checked by tests/e2e/perf/test_perf_split.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <linux/perf_event.h>

#include "harness.h"
#include "metrics.h"
#include "../../receivers/perf/perf_receiver.h"

extern const pp_component pp_receiver_perf;

#define RING_DATA 256 /* a power of two, as the kernel's */
#define PAGE 4096

typedef struct rec {
    uint64_t words[16];
    size_t len;
} rec;

static void put64(rec *r, uint64_t v)
{
    memcpy((uint8_t *)r->words + r->len, &v, sizeof v);
    r->len += sizeof v;
}

/* header, body words, then the sample_id_all trailer {pid,tid} {time}
 * {cpu,res}: the layout of every non-sample record the receiver asks for. */
static rec record(uint32_t type, const uint64_t *body, size_t n, uint64_t time)
{
    rec r = {{0}, 0};
    struct perf_event_header h = {type, 0, 0};
    memcpy(r.words, &h, sizeof h);
    r.len = sizeof h;
    for (size_t i = 0; i < n; i++)
        put64(&r, body[i]);
    put64(&r, 0); /* pid, tid */
    put64(&r, time);
    put64(&r, 0); /* cpu, res */
    h.size = (uint16_t)r.len;
    memcpy(r.words, &h, sizeof h);
    return r;
}

static pp_metric *counter(harness *h, const char *name)
{
    return harness_host()->metric(harness_instance(h), name, "", PP_COUNTER, NULL);
}

static void test_lost_and_throttle_counted(void **state)
{
    (void)state;
    char err[512];
    harness *h = harness_new(&pp_receiver_perf, "perf", "", err, sizeof err);
    if (!h)
        fail_msg("%s", err);
    perf_receiver *r = harness_state(h);
    uint8_t *mem = calloc(1, PAGE + RING_DATA);
    assert_non_null(mem);
    struct perf_event_mmap_page *meta = (void *)mem;
    perf_ring ring = {.fd = -1, .cpu = 0, .base = mem, .data = mem + PAGE, .data_size = RING_DATA};
    uint64_t lost5[] = {1, 5}, lost3[] = {1, 3}, thr[] = {100, 1, 1};
    rec recs[] = {record(PERF_RECORD_LOST, lost5, 2, 100),
                  record(PERF_RECORD_THROTTLE, thr, 3, 101), /* crosses the end */
                  record(PERF_RECORD_UNTHROTTLE, thr, 3, 102),
                  record(PERF_RECORD_LOST, lost3, 2, 103)};
    uint64_t pos = 10 * RING_DATA + 200; /* positions only grow */
    meta->data_tail = pos;
    for (size_t i = 0; i < sizeof recs / sizeof *recs; i++)
        for (size_t j = 0; j < recs[i].len; j++, pos++)
            ring.data[pos % RING_DATA] = ((uint8_t *)recs[i].words)[j];
    meta->data_head = pos;
    assert_true(10 * RING_DATA + 200 + recs[0].len < 11 * RING_DATA &&
                10 * RING_DATA + 200 + recs[0].len + recs[1].len > 11 * RING_DATA);

    /* the metrics start() makes (same names: the same metrics) */
    r->m_lost = counter(h, "perf_lost_samples_total");
    r->m_throttle = counter(h, "perf_throttle_events_total");
    r->m_unthrottle = counter(h, "perf_unthrottle_events_total");
    r->m_samples = counter(h, "perf_samples_total");
    r->m_no_stack = counter(h, "perf_samples_without_stack_total");
    r->rings = &ring;
    r->n_rings = 1;
    perf_drain(r);
    r->rings = NULL; /* ours, not the receiver's to unmap */
    r->n_rings = 0;

    assert_int_equal(meta->data_tail, meta->data_head);
    assert_int_equal((uint64_t)metrics_value(r->m_lost), 8);
    assert_int_equal((uint64_t)metrics_value(r->m_throttle), 1);
    assert_int_equal((uint64_t)metrics_value(r->m_unthrottle), 1);
    assert_int_equal((uint64_t)metrics_value(r->m_samples), 0);
    harness_free(h);
    free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lost_and_throttle_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
