/* Unit tests of the kafka receiver against librdkafka's mock cluster:
 * messages produced by a plain producer come out as profiles with the
 * labels and window of their headers; poison messages are skipped and
 * dead-lettered; offsets are committed only up to the longest run of
 * acknowledged messages, also at shutdown; a PushRequest message gives one
 * profile per series. Drops and rebalances: test_kafka_receiver_acks.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "harness.h"
#include "push_codec.h"
#include "memlimit.h"
#include "metrics.h"
#include "test_kafka_receiver.h"

static void test_option_errors(void **state)
{
    fixture *f = *state;
    char yaml[1024], err[512];
    snprintf(yaml, sizeof yaml, "%s\nconsumer: {bogus.property: x}", f->yaml_brokers);
    assert_null(harness_new(&pp_receiver_kafka, "kafka", yaml, err, sizeof err));
    assert_non_null(strstr(err, "bogus.property"));
    snprintf(yaml, sizeof yaml, "%s\ninitial_offset: middle", f->yaml_brokers);
    assert_null(harness_new(&pp_receiver_kafka, "kafka", yaml, err, sizeof err));
    assert_non_null(strstr(err, "initial_offset"));
    snprintf(yaml, sizeof yaml, "%s\ngroup_id: \"\"", f->yaml_brokers);
    assert_null(harness_new(&pp_receiver_kafka, "kafka", yaml, err, sizeof err));
    assert_non_null(strstr(err, "group_id"));
    snprintf(yaml, sizeof yaml, "%s\nencoding: json", f->yaml_brokers);
    assert_null(harness_new(&pp_receiver_kafka, "kafka", yaml, err, sizeof err));
    assert_non_null(strstr(err, "encoding"));
}

static void test_decodes_skips_poison_and_commits_acked(void **state)
{
    fixture *f = *state;
    const pp_host *host = harness_host();
    const char *alpha[] = {"profpipe.label.service_name",
                           "alpha",
                           "profpipe.label.env",
                           "prod",
                           "profpipe.from",
                           "1700000000000000000",
                           "profpipe.until",
                           "1700000015000000000",
                           NULL};
    const char *bad_from[] = {"profpipe.from", "yesterday", NULL};
    produce_profile(f, 0, alpha);             /* offset 0 */
    produce(f, 0, "not a profile", 13, NULL); /* offset 1 */
    produce_profile(f, 0, bad_from);          /* offset 2 */
    produce_profile(f, 0, NULL);              /* offset 3 */
    char dead[512];
    snprintf(dead, sizeof dead, "%s/test_kafka_receiver.dead.jsonl", BINARY_DIR);
    unlink(dead);
    char extra[600];
    snprintf(extra, sizeof extra, "dead_letter_file: %s\n", dead);
    double undecodable = metric_sum("kafka_messages_undecodable_total");
    harness *h = receiver(f, "g1", extra);

    pp_batch *first = harness_wait_emit(h, EMIT_TIMEOUT_MS);
    assert_non_null(first);
    pp_profile *p = host->batch_get(first, 0);
    assert_string_equal(host->label_get(p, "service_name"), "alpha");
    assert_string_equal(host->label_get(p, "env"), "prod");
    assert_string_equal(host->label_get(p, "__name__"), "process_cpu");
    assert_int_equal(host->profile_from(p), 1700000000000000000);
    assert_int_equal(host->profile_until(p), 1700000015000000000);
    pp_batch *last = harness_wait_emit(h, EMIT_TIMEOUT_MS);
    assert_non_null(last);
    p = host->batch_get(last, 0);
    assert_string_equal(host->label_get(p, "service_name"), "unknown_service");
    assert_true(host->profile_from(p) > 0);
    assert_null(harness_wait_emit(h, QUIET_MS));
    assert_true(metric_sum("kafka_messages_undecodable_total") == undecodable + 2);

    host->batch_unref(first); /* 0 done, 1 and 2 skipped, 3 in flight: commit 3 */
    assert_int_equal(wait_committed(f, "g1", 0, 3), 3);
    host->batch_unref(last);
    assert_int_equal(wait_committed(f, "g1", 0, 4), 4);
    harness_free(h);

    FILE *fp = fopen(dead, "r");
    assert_non_null(fp);
    char line[4096];
    assert_non_null(fgets(line, sizeof line, fp));
    assert_non_null(strstr(line, "\"offset\":1,"));
    assert_non_null(strstr(line, "\"value_base64\":\"bm90IGEgcHJvZmlsZQ==\""));
    assert_non_null(fgets(line, sizeof line, fp));
    assert_non_null(strstr(line, "\"offset\":2,"));
    assert_null(fgets(line, sizeof line, fp));
    fclose(fp);
    unlink(dead);
}

static void test_shutdown_commits_only_acknowledged(void **state)
{
    fixture *f = *state;
    const pp_host *host = harness_host();
    const char *svc[] = {"profpipe.label.service_name", "beta", NULL};
    produce_profile(f, 1, svc);
    produce_profile(f, 1, svc);
    harness *h = receiver(f, "g2", "");
    pp_batch *a = harness_wait_emit(h, EMIT_TIMEOUT_MS);
    pp_batch *b = harness_wait_emit(h, EMIT_TIMEOUT_MS);
    assert_non_null(a);
    assert_non_null(b);
    host->batch_unref(a);
    harness_free(h); /* b is still in flight: only offset 0 may be committed */
    assert_int_equal(committed(f, "g2", 1), 1);
    host->batch_unref(b); /* an ack after the receiver is gone */
    assert_int_equal(committed(f, "g2", 1), 1);
}

static void test_pyroscope_push_encoding(void **state)
{
    fixture *f = *state;
    const pp_host *host = harness_host();
    pp_profile *profiles[2] = {make_profile("first", 2), make_profile("second", 3)};
    uint8_t *push;
    size_t len;
    char err[256];
    assert_int_equal(push_encode(host, profiles, 2, &push, &len, err, sizeof err), 0);
    produce(f, 2, push, len, NULL);
    produce(f, 2, "\xff\xff", 2, NULL); /* not a PushRequest */
    free(push);
    host->profile_free(profiles[0]);
    host->profile_free(profiles[1]);
    harness *h = receiver(f, "g3", "encoding: pyroscope_push\n");
    pp_batch *b = harness_wait_emit(h, EMIT_TIMEOUT_MS);
    assert_non_null(b);
    assert_int_equal(host->batch_count(b), 2); /* one profile per series */
    assert_string_equal(host->label_get(host->batch_get(b, 0), "service_name"), "first");
    assert_string_equal(host->label_get(host->batch_get(b, 1), "service_name"), "second");
    assert_null(harness_wait_emit(h, QUIET_MS));
    host->batch_unref(b);
    assert_int_equal(wait_committed(f, "g3", 2, 2), 2);
    harness_free(h);
}

static uint64_t fake_rss;
static uint64_t probe(void)
{
    return fake_rss;
}

/* Past service.memory_limit's soft limit the consumer pauses: a message
 * produced meanwhile is not emitted, each poll counts a refusal; once
 * memory is relieved it is consumed, and committed. */
static void test_pauses_past_memory_limit(void **state)
{
    fixture *f = *state;
    const pp_host *host = harness_host();
    memlimit_set_probe(probe);
    fake_rss = (uint64_t)100 << 20;
    memlimit_configure((uint64_t)200 << 20, (uint64_t)300 << 20, 10 * 1000000LL);
    const char *first[] = {"profpipe.label.service_name", "gamma", NULL};
    const char *second[] = {"profpipe.label.service_name", "delta", NULL};
    produce_profile(f, 3, first);
    harness *h = receiver(f, "g5", "");
    pp_batch *b = harness_wait_emit(h, EMIT_TIMEOUT_MS); /* assigned and fetching */
    assert_non_null(b);
    assert_string_equal(service_of(b), "gamma");
    host->batch_unref(b);
    fake_rss = (uint64_t)250 << 20; /* past the soft limit */
    usleep(STEP_US);
    produce_profile(f, 3, second);
    assert_null(harness_wait_emit(h, QUIET_MS)); /* paused */
    assert_true(metrics_value(metrics_get("profpipe_memory_refusals_total", "", PP_COUNTER,
                                          "component_id=\"kafka\"")) >= 2);
    fake_rss = (uint64_t)100 << 20; /* relieved */
    b = harness_wait_emit(h, EMIT_TIMEOUT_MS);
    assert_non_null(b);
    assert_string_equal(service_of(b), "delta");
    host->batch_unref(b);
    assert_int_equal(wait_committed(f, "g5", 3, 2), 2);
    harness_free(h);
    memlimit_configure(0, 0, 0);
    memlimit_set_probe(NULL);
}

static void test_cooperative_rebalance_protocol(void **state)
{
    fixture *f = *state;
    const char *svc[] = {"profpipe.label.service_name", "gamma", NULL};
    produce_profile(f, 3, svc);
    harness *h =
        receiver(f, "g4", "consumer: {partition.assignment.strategy: cooperative-sticky}\n");
    pp_batch *b = harness_wait_emit(h, EMIT_TIMEOUT_MS);
    assert_non_null(b);
    harness_host()->batch_unref(b);
    assert_int_equal(wait_committed(f, "g4", 3, 1), 1);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_option_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decodes_skips_poison_and_commits_acked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_commits_only_acknowledged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pyroscope_push_encoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pauses_past_memory_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cooperative_rebalance_protocol, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
