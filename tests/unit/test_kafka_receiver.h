/* What the kafka receiver unit tests share, on top of test_kafka_fixture.h:
 * producing messages with a plain producer, reading a group's committed
 * offset, and a receiver under the harness. Included by
 * test_kafka_receiver*.c; everything is static inline, so a file that uses
 * only some of it still compiles without warnings. */
#ifndef TEST_KAFKA_RECEIVER_H
#define TEST_KAFKA_RECEIVER_H

#include <stdint.h>
#include <unistd.h>

#include "test_kafka_fixture.h"

extern const pp_component pp_receiver_kafka;

#define EMIT_TIMEOUT_MS 15000
#define QUIET_MS 1500
#define COMMIT_WAIT_MS 5000
#define STEP_US 100000
#define REBALANCE_WAIT_MS 30000
#define POLL_EACH_MS 200
/* Short group timeouts, so that a rebalance completes in seconds. */
#define GROUP_TIMEOUTS                                                                             \
    "consumer: {session.timeout.ms: \"6000\", heartbeat.interval.ms: \"500\", "                    \
    "max.poll.interval.ms: \"10000\"}\n"

/* Produces one message to `partition`; headers are name, value pairs. */
static inline void produce(fixture *f, int32_t partition, const void *value, size_t len,
                           const char *const *headers)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(f->mc), errstr,
                      sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(8);
    for (size_t i = 0; headers && headers[i]; i += 2)
        rd_kafka_header_add(hdrs, headers[i], -1, headers[i + 1], -1);
    assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(partition),
                                       RD_KAFKA_V_VALUE((void *)value, len),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END),
                     0);
    assert_int_equal(rd_kafka_flush(rk, COMMIT_WAIT_MS), 0);
    rd_kafka_destroy(rk);
}

static inline void produce_profile(fixture *f, int32_t partition, const char *const *headers)
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

/* The group's committed offset of `partition` (negative: none). The
 * coordinator may refuse to answer while the group rebalances: asked
 * again until it answers; a failure when it never does. */
static inline int64_t committed(fixture *f, const char *group, int32_t partition)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(f->mc), errstr,
                      sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, TOPIC, partition);
    int answered = 0;
    for (int waited = 0; !answered && waited < COMMIT_WAIT_MS * 1000; waited += STEP_US) {
        l->elems[0].err = RD_KAFKA_RESP_ERR_NO_ERROR;
        answered = rd_kafka_committed(rk, l, COMMIT_WAIT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                   l->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR;
        if (!answered)
            usleep(STEP_US);
    }
    int64_t offset = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    if (!answered)
        fail_msg("no committed offset of %s/%d for group %s", TOPIC, (int)partition, group);
    return offset;
}

static inline int64_t wait_committed(fixture *f, const char *group, int32_t partition, int64_t want)
{
    int64_t got = -1;
    for (int waited = 0; waited < COMMIT_WAIT_MS * 1000; waited += STEP_US) {
        if ((got = committed(f, group, partition)) == want)
            break;
        usleep(STEP_US);
    }
    return got;
}

static inline harness *receiver_id(fixture *f, const char *id, const char *group, const char *extra)
{
    char yaml[2048], err[512];
    snprintf(yaml, sizeof yaml, "%s\ntopics: [%s]\ngroup_id: %s\ninitial_offset: earliest\n%s",
             f->yaml_brokers, TOPIC, group, extra);
    harness *h = harness_new(&pp_receiver_kafka, id, yaml, err, sizeof err);
    if (h == NULL)
        fail_msg("options refused: %s", err);
    assert_int_equal(harness_start(h), 0);
    return h;
}

static inline harness *receiver(fixture *f, const char *group, const char *extra)
{
    return receiver_id(f, "kafka", group, extra);
}

static inline const char *service_of(pp_batch *b)
{
    return harness_host()->label_get(harness_host()->batch_get(b, 0), "service_name");
}

#endif
