/* Unit tests of the engine's own modules: queue bounds and full policies,
 * batch references, copy-on-write and acks, exporter backoff, the plugin
 * registry's load errors, and the metrics text format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "exporter.h"
#include "harness.h"
#include "instance.h"
#include "metrics.h"
#include "pipeline.h"
#include "profile.h"
#include "queue.h"
#include "registry.h"

static pp_batch *batch_of(size_t n, size_t payload)
{
    pp_batch *b = batch_new();
    char *bytes = calloc(1, payload ? payload : 1);
    for (size_t i = 0; i < n; i++) {
        pp_profile *p = profile_new();
        profile_label_set(p, "service_name", "svc");
        profile_set_raw(p, bytes, payload);
        batch_add(b, p);
    }
    free(bytes);
    return b;
}

static void test_queue_fifo_and_bytes(void **state)
{
    (void)state;
    queue *q = queue_new(1 << 20, QUEUE_BLOCK, NULL, NULL);
    pp_batch *a = batch_of(1, 100), *b = batch_of(2, 100);
    assert_int_equal(queue_push(q, a), 0);
    assert_int_equal(queue_push(q, b), 0);
    assert_int_equal(queue_length(q), 2);
    /* what each batch holds: its payload and its objects */
    assert_true(batch_charge(a) >= 100 && batch_charge(b) >= 200);
    assert_int_equal(queue_bytes(q), batch_charge(a) + batch_charge(b));
    assert_ptr_equal(queue_pop(q, 0), a);
    assert_ptr_equal(queue_pop(q, 0), b);
    assert_null(queue_pop(q, 1000000)); /* 1 ms timeout, empty */
    assert_int_equal(queue_bytes(q), 0);
    batch_unref(a);
    batch_unref(b);
    queue_free(q);
}

static int dropped_profiles;
static void count_drop(void *arg, pp_batch *b, void *tag)
{
    (void)tag;
    (void)arg;
    dropped_profiles += (int)batch_count(b);
    batch_unref(b);
}

static void test_queue_drop_oldest(void **state)
{
    (void)state;
    dropped_profiles = 0;
    pp_batch *first = batch_of(1, 100), *second = batch_of(1, 100), *third = batch_of(1, 100);
    size_t one = batch_charge(first);
    queue *q = queue_new(one * 5 / 2, QUEUE_DROP_OLDEST, count_drop, NULL);
    assert_int_equal(queue_push(q, first), 0);
    assert_int_equal(queue_push(q, second), 0);
    assert_int_equal(queue_push(q, third), 0); /* evicts `first` */
    assert_int_equal(dropped_profiles, 1);
    assert_int_equal(queue_bytes(q), 2 * one);
    assert_ptr_equal(queue_pop(q, 0), second);
    assert_ptr_equal(queue_pop(q, 0), third);
    batch_unref(second);
    batch_unref(third);
    /* one batch larger than the whole bound still goes into an empty queue */
    pp_batch *huge = batch_of(1, 1000);
    assert_int_equal(queue_push(q, huge), 0);
    assert_ptr_equal(queue_pop(q, 0), huge);
    batch_unref(huge);
    queue_free(q);
}

typedef struct pusher {
    queue *q;
    pp_batch *b;
    atomic_int done;
} pusher;

static void *push_thread(void *arg)
{
    pusher *p = arg;
    queue_push(p->q, p->b);
    atomic_store(&p->done, 1);
    return NULL;
}

/* Waits (generously) until a pusher is blocked in q; 0, or -1 if none
 * ever blocks. */
static int wait_blocked_pusher(queue *q)
{
    const struct timespec tick = {0, 1000000};
    for (int ms = 0; ms < 30000; ms++) {
        if (queue_blocked_pushers(q) > 0)
            return 0;
        nanosleep(&tick, NULL);
    }
    return -1;
}

static void test_queue_block_waits_for_room(void **state)
{
    (void)state;
    queue *q = queue_new(150, QUEUE_BLOCK, NULL, NULL);
    pp_batch *a = batch_of(1, 100);
    assert_int_equal(queue_push(q, a), 0);
    pusher p = {.q = q, .b = batch_of(1, 100)};
    pthread_t t;
    pthread_create(&t, NULL, push_thread, &p);
    assert_int_equal(wait_blocked_pusher(q), 0); /* blocked: 200 > 150 */
    assert_int_equal(atomic_load(&p.done), 0);
    assert_ptr_equal(queue_pop(q, 0), a);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&p.done), 1);
    assert_int_equal(queue_blocked_pushers(q), 0);
    pp_batch *b = queue_pop(q, 0);
    assert_ptr_equal(b, p.b);
    batch_unref(a);
    batch_unref(b);
    queue_free(q);
}

static void test_queue_close_wakes_and_refuses(void **state)
{
    (void)state;
    queue *q = queue_new(150, QUEUE_BLOCK, NULL, NULL);
    pp_batch *a = batch_of(1, 100);
    assert_int_equal(queue_push(q, a), 0);
    pusher p = {.q = q, .b = batch_of(1, 100)};
    pthread_t t;
    pthread_create(&t, NULL, push_thread, &p);
    assert_int_equal(wait_blocked_pusher(q), 0);
    queue_close(q);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&p.done), 1); /* woken, refused: still ours */
    batch_unref(p.b);
    assert_int_equal(queue_closed_and_empty(q), 0);
    assert_ptr_equal(queue_pop(q, -1), a); /* drains after close */
    assert_null(queue_pop(q, -1));         /* closed and empty: no wait */
    assert_int_equal(queue_closed_and_empty(q), 1);
    batch_unref(a);
    queue_free(q);
}

static int acks;
static uint64_t acked_lost;
static void on_ack(void *arg, uint64_t lost)
{
    (void)arg;
    acks++;
    acked_lost = lost;
}

static void test_batch_ack_after_all_copies(void **state)
{
    (void)state;
    acks = 0;
    pp_batch *b = batch_of(3, 10);
    batch_set_ack(b, on_ack, NULL);
    batch_ref(b);                             /* a second pipeline holds it too */
    pp_batch *mine = batch_make_exclusive(b); /* copy: b still held once */
    assert_ptr_not_equal(mine, b);
    assert_int_equal(batch_count(mine), 3);
    assert_string_equal(profile_label_get(batch_get(mine, 0), "service_name"), "svc");
    batch_unref(b);
    assert_int_equal(acks, 0); /* the copy still holds the ack */
    pp_batch *parts[] = {mine};
    pp_batch *view = batch_view(parts, 1);
    batch_unref(mine);
    assert_int_equal(acks, 0); /* the view holds the copy */
    assert_int_equal(batch_count(view), 3);
    batch_unref(view);
    assert_int_equal(acks, 1);
    assert_int_equal(acked_lost, 0);
}

static void test_batch_exclusive_no_copy_when_alone(void **state)
{
    (void)state;
    pp_batch *b = batch_of(1, 10);
    assert_ptr_equal(batch_make_exclusive(b), b);
    batch_unref(b);
}

static void test_batch_lost_counts_in_ack(void **state)
{
    (void)state;
    acks = 0;
    pp_batch *b = batch_of(2, 10);
    batch_set_ack(b, on_ack, NULL);
    batch_mark_lost(b);
    batch_unref(b);
    assert_int_equal(acks, 1);
    assert_int_equal(acked_lost, 2);
}

static void test_batch_take(void **state)
{
    (void)state;
    pp_batch *b = batch_of(3, 10);
    pp_profile *second = batch_get(b, 1);
    pp_profile *taken = batch_take(b, 1);
    assert_ptr_equal(taken, second);
    assert_int_equal(batch_count(b), 2);
    profile_free(taken);
    batch_unref(b);
}

static void test_backoff_full_jitter_bounds(void **state)
{
    (void)state;
    unsigned seed = 42;
    const int64_t initial = 1000000000LL, max = 8000000000LL;
    int64_t largest_late = 0;
    for (unsigned attempt = 0; attempt < 20; attempt++) {
        for (int i = 0; i < 50; i++) {
            int64_t d = exporter_backoff_ns(initial, max, 2.0, attempt, &seed);
            int64_t bound = initial << (attempt < 3 ? attempt : 3);
            assert_true(d >= 0);
            assert_true(d <= bound);
            if (attempt > 5 && d > largest_late)
                largest_late = d;
        }
    }
    assert_true(largest_late > max / 2); /* it does grow to the cap */
}

static void test_registry_load_errors(void **state)
{
    (void)state;
    char err[1024];
    registry_init();
    assert_int_equal(registry_load_plugin("/nonexistent/libnothing.so", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/libnothing.so"));
    assert_non_null(strstr(err, "cannot load"));
    /* a real shared object that is not a profpipe plugin */
    const char *libz = "libz.so.1";
    assert_int_equal(registry_load_plugin(libz, err, sizeof err), -1);
    assert_non_null(strstr(err, "profpipe_module"));
}

static void test_metrics_render(void **state)
{
    (void)state;
    pp_metric *a =
        metrics_get("profpipe_test_total", "A test counter.", PP_COUNTER, "component_id=\"x\"");
    pp_metric *b =
        metrics_get("profpipe_test_total", "A test counter.", PP_COUNTER, "component_id=\"y\"");
    assert_ptr_equal(metrics_get("profpipe_test_total", "", PP_COUNTER, "component_id=\"x\""), a);
    metrics_add(a, 2);
    metrics_add(a, 3);
    metrics_set(b, 7);
    size_t len;
    char *text = metrics_render(&len);
    assert_non_null(strstr(text, "# HELP profpipe_test_total A test counter.\n"
                                 "# TYPE profpipe_test_total counter\n"
                                 "profpipe_test_total{component_id=\"x\"} 5\n"
                                 "profpipe_test_total{component_id=\"y\"} 7\n"));
    /* one HELP and TYPE per name: the series share their family's */
    const char *help = strstr(text, "# HELP profpipe_test_total");
    assert_null(strstr(help + 1, "# HELP profpipe_test_total"));
    free(text);
    metrics_remove(b);
    text = metrics_render(&len);
    assert_null(strstr(text, "component_id=\"y\""));
    free(text);
    /* a name first looked up without help takes the help given later */
    metrics_set(metrics_get("profpipe_late_help", "", PP_GAUGE, "a=\"1\""), 1);
    metrics_set(metrics_get("profpipe_late_help", "Given later.", PP_GAUGE, "a=\"2\""), 2);
    text = metrics_render(&len);
    assert_non_null(strstr(text, "# HELP profpipe_late_help Given later.\n"
                                 "# TYPE profpipe_late_help gauge\n"
                                 "profpipe_late_help{a=\"1\"} 1\n"
                                 "profpipe_late_help{a=\"2\"} 2\n"));
    free(text);
}

/* The registry's index: every series is found again as the same record
 * through growth from 0 to thousands, names and labels are told apart
 * wherever the bytes split, no labels is the same as empty labels, and a
 * reset forgets every series. */
static void test_metrics_index(void **state)
{
    (void)state;
    enum { N = 5000 };
    static pp_metric *got[N];
    char name[64], labels[64];
    metrics_reset_all();
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "profpipe_idx_%d_total", i % 7);
        snprintf(labels, sizeof labels, "target=\"t%d\"", i);
        got[i] = metrics_get(name, "", PP_COUNTER, labels);
        assert_non_null(got[i]);
        for (int j = 0; j < i; j += 997)
            assert_ptr_not_equal(got[i], got[j]);
    }
    for (int i = N - 1; i >= 0; i--) {
        snprintf(name, sizeof name, "profpipe_idx_%d_total", i % 7);
        snprintf(labels, sizeof labels, "target=\"t%d\"", i);
        assert_ptr_equal(metrics_get(name, "other help", PP_COUNTER, labels), got[i]);
    }
    pp_metric *bare = metrics_get("profpipe_idx_bare", "", PP_GAUGE, NULL);
    assert_ptr_equal(metrics_get("profpipe_idx_bare", "", PP_GAUGE, ""), bare);
    pp_metric *ab = metrics_get("profpipe_idx_ab", "", PP_GAUGE, "c");
    pp_metric *a = metrics_get("profpipe_idx_a", "", PP_GAUGE, "bc");
    assert_ptr_not_equal(ab, a);
    assert_ptr_equal(metrics_get("profpipe_idx_ab", "", PP_GAUGE, "c"), ab);
    metrics_set(got[1234], 42);
    size_t len;
    char *text = metrics_render(&len);
    assert_non_null(strstr(text, "profpipe_idx_2_total{target=\"t1234\"} 42\n"));
    free(text);
    metrics_reset_all();
    pp_metric *again = metrics_get("profpipe_idx_2_total", "", PP_COUNTER, "target=\"t1234\"");
    assert_non_null(again);
    assert_true(metrics_value(again) == 0);
    metrics_reset_all();
}

/* An exporter whose backend never answers. */
static int always_failing_calls;
static int failing_create(const pp_host *h, pp_instance *self, const pp_config *c, void **st)
{
    (void)h, (void)self, (void)c;
    *st = NULL;
    return 0;
}
static void failing_destroy(void *st)
{
    (void)st;
}
static pp_status failing_export(void *st, pp_batch *b, pp_outcome *o, pp_export_result *r)
{
    (void)st, (void)b, (void)o;
    always_failing_calls++;
    snprintf(r->message, sizeof r->message, "connection refused");
    return PP_RETRY;
}
static const pp_option no_options[] = {{0}};
static const pp_component failing_exporter = {
    .type = "failing",
    .kind = PP_EXPORTER,
    .description = "never delivers",
    .options = no_options,
    .create = failing_create,
    .destroy = failing_destroy,
    .export = failing_export,
};

/* Profiles given up on are reported lost in their ack, so a source that
 * can deliver them again (Kafka) does not commit them. */
static void test_given_up_profiles_are_lost_in_ack(void **state)
{
    (void)state;
    char err[512];
    harness *h = harness_new(&failing_exporter, "failing", "retry_on_failure:\n  enabled: false",
                             err, sizeof err);
    assert_non_null(h);
    exporter_rt *e = exporter_rt_new(harness_instance(h));
    assert_non_null(e);
    assert_int_equal(exporter_rt_start(e), 0);
    acks = 0;
    acked_lost = 0;
    always_failing_calls = 0;
    pp_batch *b = batch_of(2, 10);
    batch_set_ack(b, on_ack, NULL);
    assert_int_equal(exporter_enqueue(e, b, NULL), 0);
    exporter_rt_finish(e);
    assert_int_equal(always_failing_calls, 1); /* no retry when disabled */
    assert_int_equal(acks, 1);
    assert_int_equal(acked_lost, 2);
    exporter_rt_free(e);
    harness_free(h);
}

static const pp_component quiet_receiver = {
    .type = "quiet",
    .kind = PP_RECEIVER,
    .description = "emits only what a test hands it",
    .options = no_options,
    .create = failing_create,
    .destroy = failing_destroy,
};

typedef struct emit_call {
    pp_instance *inst;
    pp_batch *b;
    int rc;
} emit_call;

static void *emit_thread(void *arg)
{
    emit_call *c = arg;
    c->rc = instance_emit(c->inst, c->b);
    return NULL;
}

/* A receiver's emit hands its batch over to the last pipeline it feeds:
 * the pipeline finds it held once, so a processor that edits profiles
 * needs no copy. The emit used to take a reference of its own for the
 * push and drop it when it returned, and a pipeline thread quick enough
 * to see two copied every batch, re-encoding the trees a receiver had
 * changed. Seen here without a race: the pipeline's queue is full, so the
 * emit waits inside the push, after the ledger counted the batch in;
 * the batch must be held once all along. Two pipelines share a batch,
 * and the first to edit it copies. */
static void test_emit_hands_its_reference_over(void **state)
{
    (void)state;
    char err[512];
    harness *h = harness_new(&quiet_receiver, "quiet", "", err, sizeof err);
    assert_non_null(h);
    pp_instance *inst = harness_instance(h);
    inst->sink = NULL; /* to the pipelines, not the harness's capture */
    pipeline *one = pipeline_new("profiles/handover-one", 1, QUEUE_BLOCK);
    pipeline *two = pipeline_new("profiles/handover-two", 1 << 20, QUEUE_BLOCK);
    assert_non_null(one);
    assert_non_null(two);
    struct pipeline **wiring = malloc(sizeof *wiring);
    wiring[0] = one;
    instance_rewire(inst, wiring, 1);
    assert_int_equal(pipeline_push(one, batch_of(1, 10)), 0); /* 1 byte: now full */
    pp_metric *in = metrics_get("profpipe_ledger_in_profiles_total", "", PP_COUNTER,
                                "pipeline=\"profiles/handover-one\",source=\"receivers\"");
    double before = metrics_value(in);
    emit_call call = {inst, batch_of(1, 10), -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, emit_thread, &call), 0);
    while (metrics_value(in) < before + 1) /* the emit is in the push */
        usleep(1000);
    assert_int_equal(batch_refcount(call.b), 1);
    batch_unref(queue_pop(one->q, 0)); /* room: the push ends */
    pthread_join(th, NULL);
    assert_int_equal(call.rc, 0);
    pp_batch *got = queue_pop(one->q, 0);
    assert_ptr_equal(got, call.b);
    assert_ptr_equal(batch_make_exclusive(got), call.b);
    batch_unref(got);

    wiring = malloc(2 * sizeof *wiring);
    wiring[0] = one;
    wiring[1] = two;
    instance_rewire(inst, wiring, 2);
    pp_batch *b = batch_of(1, 10);
    assert_int_equal(instance_emit(inst, b), 0);
    pp_batch *a = queue_pop(one->q, 0), *c = queue_pop(two->q, 0);
    assert_ptr_equal(a, b);
    assert_ptr_equal(c, b);
    pp_batch *mine = batch_make_exclusive(a); /* shared: a copy */
    assert_ptr_not_equal(mine, b);
    assert_ptr_equal(batch_make_exclusive(c), b); /* the other is alone now */
    batch_unref(mine);
    batch_unref(c);

    instance_rewire(inst, NULL, 0);
    pipeline_free(one);
    pipeline_free(two);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_fifo_and_bytes),
        cmocka_unit_test(test_queue_drop_oldest),
        cmocka_unit_test(test_queue_block_waits_for_room),
        cmocka_unit_test(test_queue_close_wakes_and_refuses),
        cmocka_unit_test(test_batch_ack_after_all_copies),
        cmocka_unit_test(test_batch_exclusive_no_copy_when_alone),
        cmocka_unit_test(test_batch_lost_counts_in_ack),
        cmocka_unit_test(test_batch_take),
        cmocka_unit_test(test_backoff_full_jitter_bounds),
        cmocka_unit_test(test_registry_load_errors),
        cmocka_unit_test(test_metrics_render),
        cmocka_unit_test(test_metrics_index),
        cmocka_unit_test(test_given_up_profiles_are_lost_in_ack),
        cmocka_unit_test(test_emit_hands_its_reference_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
