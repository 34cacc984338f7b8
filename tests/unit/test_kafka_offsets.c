/* Unit tests of kafka_offsets: the kafka receiver's at-least-once
 * bookkeeping (which offset may be committed, given acks in any order,
 * drops, rebalances and late acks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../receivers/kafka/kafka_offsets.h"

#define TOPIC "profiles"

typedef struct commits {
    int64_t offset[8];
    int32_t partition[8];
    size_t n;
} commits;

static void record(void *arg, const char *topic, int32_t partition, int64_t offset)
{
    commits *c = arg;
    assert_string_equal(topic, TOPIC);
    c->partition[c->n] = partition;
    c->offset[c->n++] = offset;
}

/* The single offset the tracker would commit now, or -1. */
static int64_t commit_point(kafka_offsets *ko)
{
    commits c = {0};
    kafka_offsets_advanced(ko, 0, record, &c);
    assert_true(c.n <= 1);
    return c.n ? c.offset[0] : -1;
}

static void test_commits_longest_acknowledged_prefix(void **unused)
{
    (void)unused;
    kafka_offsets *ko = kafka_offsets_new();
    assert_int_equal(kafka_offsets_assign(ko, TOPIC, 0), 0);
    kafka_ack *a[5];
    for (int i = 0; i < 5; i++)
        assert_non_null(a[i] = kafka_offsets_track(ko, TOPIC, 0, 10 + i));
    assert_int_equal(kafka_offsets_in_flight(ko), 5);
    kafka_offsets_ack(a[2], 0); /* out of order: nothing to commit yet */
    kafka_offsets_ack(a[1], 0);
    assert_int_equal(commit_point(ko), -1);
    kafka_offsets_ack(a[0], 0); /* 10, 11, 12 done: commit 13 */
    assert_int_equal(commit_point(ko), 13);
    assert_int_equal(commit_point(ko), -1); /* nothing new */
    kafka_offsets_ack(a[4], 0);
    assert_int_equal(commit_point(ko), -1);
    kafka_offsets_ack(a[3], 0);
    assert_int_equal(commit_point(ko), 15);
    assert_int_equal(kafka_offsets_in_flight(ko), 0);
    kafka_offsets_release(ko);
}

static void test_offset_gaps(void **unused)
{
    (void)unused;
    kafka_offsets *ko = kafka_offsets_new();
    kafka_offsets_assign(ko, TOPIC, 1);
    kafka_ack *a = kafka_offsets_track(ko, TOPIC, 1, 100);
    kafka_ack *b = kafka_offsets_track(ko, TOPIC, 1, 107); /* compacted gap */
    kafka_offsets_ack(b, 0);
    assert_int_equal(commit_point(ko), -1);
    kafka_offsets_ack(a, 0);
    assert_int_equal(commit_point(ko), 108);
    kafka_offsets_release(ko);
}

static void test_partitions_are_independent(void **unused)
{
    (void)unused;
    kafka_offsets *ko = kafka_offsets_new();
    kafka_offsets_assign(ko, TOPIC, 0);
    kafka_offsets_assign(ko, TOPIC, 3);
    kafka_ack *p0 = kafka_offsets_track(ko, TOPIC, 0, 5);
    kafka_ack *p3 = kafka_offsets_track(ko, TOPIC, 3, 9);
    kafka_offsets_ack(p3, 0);
    commits c = {0};
    assert_int_equal(kafka_offsets_advanced(ko, 0, record, &c), 1);
    assert_int_equal(c.partition[0], 3);
    assert_int_equal(c.offset[0], 10);
    kafka_offsets_ack(p0, 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(kafka_offsets_advanced(ko, 1, record, &c), 2); /* all: both again */
    kafka_offsets_release(ko);
}

static void test_confirmed_commits_bound_redelivery(void **unused)
{
    (void)unused;
    kafka_offsets *ko = kafka_offsets_new();
    kafka_offsets_assign(ko, TOPIC, 0);
    for (int i = 20; i < 30; i++)
        kafka_offsets_ack(kafka_offsets_track(ko, TOPIC, 0, i), 0);
    assert_int_equal(commit_point(ko), 30);
    kafka_offsets_confirm(ko, TOPIC, 0, 26); /* an earlier commit got through */
    size_t in_flight, unconfirmed;
    assert_int_equal(kafka_offsets_revoke(ko, TOPIC, 0, &in_flight, &unconfirmed), 30);
    assert_int_equal(in_flight, 0);
    assert_int_equal(unconfirmed, 4); /* 26..29 come again if 30 is not committed */
    kafka_offsets_release(ko);
}

static void test_unassigned_partition_is_not_tracked(void **unused)
{
    (void)unused;
    kafka_offsets *ko = kafka_offsets_new();
    assert_null(kafka_offsets_track(ko, TOPIC, 0, 1));
    kafka_offsets_release(ko);
}

static void test_revoke_commits_done_and_counts_in_flight(void **unused)
{
    (void)unused;
    kafka_offsets *ko = kafka_offsets_new();
    kafka_offsets_assign(ko, TOPIC, 0);
    kafka_ack *a = kafka_offsets_track(ko, TOPIC, 0, 0);
    kafka_ack *b = kafka_offsets_track(ko, TOPIC, 0, 1);
    kafka_ack *c = kafka_offsets_track(ko, TOPIC, 0, 2);
    kafka_offsets_ack(a, 0);
    kafka_offsets_ack(c, 0);
    size_t in_flight, unconfirmed;
    assert_int_equal(kafka_offsets_revoke(ko, TOPIC, 0, &in_flight, &unconfirmed), 1);
    assert_int_equal(in_flight, 2);   /* offsets 1 and 2 will be consumed again */
    assert_int_equal(unconfirmed, 1); /* offset 0, if committing 1 fails */
    /* A late ack after the revoke changes nothing, even once reassigned. */
    kafka_offsets_assign(ko, TOPIC, 0);
    kafka_offsets_ack(b, 0);
    assert_int_equal(commit_point(ko), -1);
    assert_int_equal(kafka_offsets_revoke(ko, TOPIC, 0, &in_flight, &unconfirmed), -1);
    kafka_offsets_release(ko);
}

static void test_lost_message_rewinds(void **unused)
{
    (void)unused;
    kafka_offsets *ko = kafka_offsets_new();
    kafka_offsets_assign(ko, TOPIC, 2);
    kafka_ack *a = kafka_offsets_track(ko, TOPIC, 2, 40);
    kafka_ack *b = kafka_offsets_track(ko, TOPIC, 2, 41);
    kafka_ack *c = kafka_offsets_track(ko, TOPIC, 2, 42);
    char topic[64];
    int32_t partition;
    int64_t offset;
    size_t again;
    kafka_offsets_ack(b, 1); /* dropped on the way, but 40 is still in flight */
    kafka_offsets_ack(c, 0);
    assert_int_equal(
        kafka_offsets_take_rewind(ko, topic, sizeof topic, &partition, &offset, &again), 0);
    kafka_offsets_ack(a, 0); /* now 41 is the oldest unfinished: rewind to it */
    assert_int_equal(commit_point(ko), 41);
    assert_int_equal(
        kafka_offsets_take_rewind(ko, topic, sizeof topic, &partition, &offset, &again), 1);
    assert_string_equal(topic, TOPIC);
    assert_int_equal(partition, 2);
    assert_int_equal(offset, 41);
    assert_int_equal(again, 1); /* 42 comes again too */
    /* Consumed again from 41: the commit point moves on from there. */
    kafka_ack *a2 = kafka_offsets_track(ko, TOPIC, 2, 41);
    kafka_ack *b2 = kafka_offsets_track(ko, TOPIC, 2, 42);
    kafka_offsets_ack(a2, 0);
    kafka_offsets_ack(b2, 0);
    assert_int_equal(commit_point(ko), 43);
    kafka_offsets_release(ko);
}

static void test_redelivery_replaces_tail(void **unused)
{
    (void)unused;
    kafka_offsets *ko = kafka_offsets_new();
    kafka_offsets_assign(ko, TOPIC, 0);
    kafka_ack *a = kafka_offsets_track(ko, TOPIC, 0, 7);
    kafka_ack *b = kafka_offsets_track(ko, TOPIC, 0, 8);
    kafka_ack *b2 = kafka_offsets_track(ko, TOPIC, 0, 8); /* came again after a seek */
    kafka_offsets_ack(a, 0);
    kafka_offsets_ack(b, 0); /* the first copy was delivered: offset 8 is done */
    kafka_offsets_ack(b2, 0);
    assert_int_equal(commit_point(ko), 9);
    assert_int_equal(kafka_offsets_in_flight(ko), 0);
    kafka_offsets_release(ko);
}

static void test_ack_after_release_is_safe(void **unused)
{
    (void)unused;
    kafka_offsets *ko = kafka_offsets_new();
    kafka_offsets_assign(ko, TOPIC, 0);
    kafka_ack *a = kafka_offsets_track(ko, TOPIC, 0, 1);
    kafka_offsets_release(ko); /* the receiver is gone; the ack frees it all */
    kafka_offsets_ack(a, 0);
}

static void test_long_window_grows_and_compacts(void **unused)
{
    (void)unused;
    enum { N = 10000 };
    kafka_offsets *ko = kafka_offsets_new();
    kafka_offsets_assign(ko, TOPIC, 0);
    static kafka_ack *acks[N];
    for (int i = 0; i < N; i++) {
        acks[i] = kafka_offsets_track(ko, TOPIC, 0, i);
        if (i >= 3)
            kafka_offsets_ack(acks[i - 3], 0);
    }
    assert_int_equal(commit_point(ko), N - 3);
    for (int i = N - 3; i < N; i++)
        kafka_offsets_ack(acks[i], 0);
    assert_int_equal(commit_point(ko), N);
    kafka_offsets_release(ko);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commits_longest_acknowledged_prefix),
        cmocka_unit_test(test_offset_gaps),
        cmocka_unit_test(test_partitions_are_independent),
        cmocka_unit_test(test_confirmed_commits_bound_redelivery),
        cmocka_unit_test(test_unassigned_partition_is_not_tracked),
        cmocka_unit_test(test_revoke_commits_done_and_counts_in_flight),
        cmocka_unit_test(test_lost_message_rewinds),
        cmocka_unit_test(test_redelivery_replaces_tail),
        cmocka_unit_test(test_ack_after_release_is_safe),
        cmocka_unit_test(test_long_window_grows_and_compacts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
