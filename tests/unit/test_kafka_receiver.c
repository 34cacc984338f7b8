/* Unit tests of the kafka receiver against librdkafka's mock cluster:
 * messages produced by a plain producer come out as profiles with the
 * labels and window of their headers; poison messages are skipped and
 * dead-lettered; offsets are committed only up to the longest run of
 * acknowledged messages, also at shutdown; a PushRequest message gives one
 * profile per series. */
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
#include "test_kafka_fixture.h"

extern const pp_component pp_receiver_kafka;

#define EMIT_TIMEOUT_MS 15000
#define QUIET_MS 1500
#define COMMIT_WAIT_MS 5000
#define STEP_US 100000

/* Produces one message to `partition`; headers are name, value pairs. */
static void produce(fixture *f, int32_t partition, const void *value, size_t len,
                    const char *const *headers)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(f->mc),
                      errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(8);
    for (size_t i = 0; headers && headers[i]; i += 2)
        rd_kafka_header_add(hdrs, headers[i], -1, headers[i + 1], -1);
    assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(TOPIC),
                                       RD_KAFKA_V_PARTITION(partition),
                                       RD_KAFKA_V_VALUE((void *)value, len),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END),
                     0);
    assert_int_equal(rd_kafka_flush(rk, COMMIT_WAIT_MS), 0);
    rd_kafka_destroy(rk);
}

static void produce_profile(fixture *f, int32_t partition, const char *const *headers)
{
    const pp_host *host = harness_host();
    pp_profile *p = make_profile("ignored", 2);
    const uint8_t *data;
    size_t len;
    char err[256];
    assert_int_equal(host->profile_raw_gz(p, &data, &len, err, sizeof err), 0);
    produce(f, partition, data, len, headers);
    host->profile_free(p);
}

/* The group's committed offset of `partition` (negative: none). */
static int64_t committed(fixture *f, const char *group, int32_t partition)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(f->mc),
                      errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, TOPIC, partition);
    int64_t offset = -1;
    if (rd_kafka_committed(rk, l, COMMIT_WAIT_MS) == 0)
        offset = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return offset;
}

static int64_t wait_committed(fixture *f, const char *group, int32_t partition, int64_t want)
{
    int64_t got = -1;
    for (int waited = 0; waited < COMMIT_WAIT_MS * 1000; waited += STEP_US) {
        if ((got = committed(f, group, partition)) == want)
            break;
        usleep(STEP_US);
    }
    return got;
}

static harness *receiver(fixture *f, const char *group, const char *extra)
{
    char yaml[1024], err[512];
    snprintf(yaml, sizeof yaml,
             "%s\ntopics: [%s]\ngroup_id: %s\ninitial_offset: earliest\n%s",
             f->yaml_brokers, TOPIC, group, extra);
    harness *h = harness_new(&pp_receiver_kafka, "kafka", yaml, err, sizeof err);
    if (h == NULL)
        fail_msg("options refused: %s", err);
    assert_int_equal(harness_start(h), 0);
    return h;
}

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
    const char *alpha[] = {"profpipe.label.service_name", "alpha", "profpipe.label.env", "prod",
                           "profpipe.from", "1700000000000000000", "profpipe.until",
                           "1700000015000000000", NULL};
    const char *bad_from[] = {"profpipe.from", "yesterday", NULL};
    produce_profile(f, 0, alpha);                          /* offset 0 */
    produce(f, 0, "not a profile", 13, NULL);              /* offset 1 */
    produce_profile(f, 0, bad_from);                       /* offset 2 */
    produce_profile(f, 0, NULL);                           /* offset 3 */
    char dead[512];
    snprintf(dead, sizeof dead, "%s/test_kafka_receiver.dead.jsonl", BINARY_DIR);
    unlink(dead);
    char extra[600];
    snprintf(extra, sizeof extra, "dead_letter_file: %s\n", dead);
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
    assert_int_equal(host->push_encode(profiles, 2, &push, &len, err, sizeof err), 0);
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

static void test_cooperative_rebalance_protocol(void **state)
{
    fixture *f = *state;
    const char *svc[] = {"profpipe.label.service_name", "gamma", NULL};
    produce_profile(f, 3, svc);
    harness *h = receiver(f, "g4",
                          "consumer: {partition.assignment.strategy: cooperative-sticky}\n");
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
        cmocka_unit_test_setup_teardown(test_decodes_skips_poison_and_commits_acked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_commits_only_acknowledged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pyroscope_push_encoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cooperative_rebalance_protocol, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
