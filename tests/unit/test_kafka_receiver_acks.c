/* Unit tests of the kafka receiver's acknowledgements against librdkafka's
 * mock cluster: a message whose profiles were dropped on the way is
 * consumed again and nothing after it is committed until its copy is
 * delivered; a rebalance commits what was acknowledged, leaves (and
 * counts) the message still in flight to the next owner, and the revoked
 * generation's late ack moves no commit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "batch.h"
#include "harness.h"
#include "test_kafka_receiver.h"

static void test_dropped_message_is_consumed_again(void **state)
{
    fixture *f = *state;
    const pp_host *host = harness_host();
    const char *alpha[] = {"profpipe.label.service_name", "alpha", NULL};
    const char *beta[] = {"profpipe.label.service_name", "beta", NULL};
    produce_profile(f, 0, alpha); /* offset 0 */
    produce_profile(f, 0, beta);  /* offset 1 */
    harness *h = receiver(f, "g5", "");
    pp_batch *a = harness_wait_emit(h, EMIT_TIMEOUT_MS);
    pp_batch *b = harness_wait_emit(h, EMIT_TIMEOUT_MS);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(service_of(a), "alpha");
    double again = metric_sum("kafka_messages_redelivered_total");
    host->batch_unref(b); /* 1 done, 0 still in flight: nothing committable */
    batch_mark_lost(a);   /* 0 dropped (a queue overflowed): read from 0 again */
    host->batch_unref(a);
    pp_batch *a2 = harness_wait_emit(h, EMIT_TIMEOUT_MS);
    pp_batch *b2 = harness_wait_emit(h, EMIT_TIMEOUT_MS);
    assert_non_null(a2);
    assert_non_null(b2);
    assert_string_equal(service_of(a2), "alpha");
    assert_string_equal(service_of(b2), "beta");
    assert_true(metric_sum("kafka_messages_redelivered_total") == again + 2);
    assert_null(harness_wait_emit(h, QUIET_MS));
    assert_true(committed(f, "g5", 0) < 0); /* nothing passed the dropped one */
    host->batch_unref(a2);
    host->batch_unref(b2);
    assert_int_equal(wait_committed(f, "g5", 0, 2), 2);
    harness_free(h);
}

/* The next batch either receiver emits, and which one did; NULL after
 * about timeout_ms. */
static pp_batch *wait_either(harness *x, harness *y, harness **from, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 2 * POLL_EACH_MS) {
        pp_batch *b = harness_wait_emit(x, POLL_EACH_MS);
        if (b != NULL)
            return *from = x, b;
        if ((b = harness_wait_emit(y, POLL_EACH_MS)) != NULL)
            return *from = y, b;
    }
    return NULL;
}

static void test_rebalance_commits_done_and_leaves_in_flight(void **state)
{
    fixture *f = *state;
    const pp_host *host = harness_host();
    const char *done_svc[] = {"profpipe.label.service_name", "done", NULL};
    const char *held_svc[] = {"profpipe.label.service_name", "held", NULL};
    produce_profile(f, 0, done_svc);
    produce_profile(f, 1, held_svc);
    harness *first = receiver_id(f, "kafka/first", "g6", GROUP_TIMEOUTS);
    pp_batch *x = harness_wait_emit(first, EMIT_TIMEOUT_MS);
    pp_batch *y = harness_wait_emit(first, EMIT_TIMEOUT_MS);
    assert_non_null(x);
    assert_non_null(y);
    pp_batch *done = strcmp(service_of(x), "done") == 0 ? x : y;
    pp_batch *held = done == x ? y : x;
    assert_string_equal(service_of(held), "held");
    host->batch_unref(done);
    assert_int_equal(wait_committed(f, "g6", 0, 1), 1);
    double again = metric_sum("kafka_messages_redelivered_total");

    /* A second member joins: the first revokes with `held` in flight. */
    harness *second = receiver_id(f, "kafka/second", "g6", GROUP_TIMEOUTS);
    harness *owner = NULL;
    pp_batch *copy = wait_either(first, second, &owner, REBALANCE_WAIT_MS);
    assert_non_null(copy); /* partition 1's new owner consumes it again */
    assert_string_equal(service_of(copy), "held");
    assert_true(metric_sum("kafka_messages_redelivered_total") >= again + 1);
    host->batch_unref(held); /* the revoked generation's ack: ignored */
    assert_true(committed(f, "g6", 1) < 0);
    assert_int_equal(committed(f, "g6", 0), 1);
    /* Finishing the copy commits partition 1. A loaded machine may see one
     * more rebalance meanwhile, which hands out (and counts) one more copy:
     * only `held` may come again, and each is finished as it comes. */
    host->batch_unref(copy);
    int64_t got = -1;
    for (int waited = 0; waited < REBALANCE_WAIT_MS && got != 1; waited += 2 * POLL_EACH_MS) {
        pp_batch *more = wait_either(first, second, &owner, 2 * POLL_EACH_MS);
        if (more != NULL) {
            assert_string_equal(service_of(more), "held");
            host->batch_unref(more);
        }
        got = committed(f, "g6", 1);
    }
    assert_int_equal(got, 1);
    assert_int_equal(committed(f, "g6", 0), 1); /* partition 0 never came again */
    harness_free(second);
    harness_free(first);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dropped_message_is_consumed_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebalance_commits_done_and_leaves_in_flight, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
