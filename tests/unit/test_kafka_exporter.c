/* Unit tests of the kafka exporter against librdkafka's mock cluster
 * (3 brokers in this process): option errors, delivery with the wire
 * format's headers and keys read back by a plain consumer, every
 * compression codec, rejection of oversized profiles, retry while the
 * brokers are down or refuse produce requests, the pyroscope_push
 * encoding, and the exporter's metrics along the way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "harness.h"
#include "push_codec.h"
#include "test_kafka_fixture.h"

extern const pp_component pp_exporter_kafka;

#define CONSUME_TIMEOUT_MS 5000
#define ROUNDS_MAX 10
#define REFUSALS 30

static harness *exporter(fixture *f, const char *extra)
{
    char yaml[1024], err[512];
    snprintf(yaml, sizeof yaml, "%s\ntopic: %s\n%s", f->yaml_brokers, TOPIC, extra);
    harness *h = harness_new(&pp_exporter_kafka, "kafka", yaml, err, sizeof err);
    if (h == NULL)
        fail_msg("options refused: %s", err);
    assert_int_equal(harness_start(h), 0);
    return h;
}

static pp_status export_all(harness *h, pp_batch *b, pp_outcome *outcome, pp_export_result *result)
{
    memset(result, 0, sizeof *result);
    return pp_exporter_kafka.export(harness_state(h), b, outcome, result);
}

/* Reads back every message of the topic from the beginning into out;
 * *reader must be given to consumed_free with them (librdkafka wants the
 * messages destroyed before their consumer). */
static size_t consume_all(fixture *f, rd_kafka_message_t **out, size_t max, rd_kafka_t **reader)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(f->mc), errstr,
                      sizeof errstr);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", "test-reader", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(parts, TOPIC, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    size_t n = 0;
    int eofs = 0;
    int64_t deadline = harness_host()->monotonic_ns() + CONSUME_TIMEOUT_MS * INT64_C(1000000);
    while (eofs < PARTITIONS && n < max && harness_host()->monotonic_ns() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, CONSUME_TIMEOUT_MS);
        if (m == NULL)
            break;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eofs++;
        else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            print_message("consumer: %s\n", rd_kafka_message_errstr(m));
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_message_destroy(m);
            continue;
        }
        out[n++] = m;
    }
    *reader = rk;
    return n;
}

static void consumed_free(rd_kafka_t *reader, rd_kafka_message_t **msgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rd_kafka_message_destroy(msgs[i]);
    rd_kafka_consumer_close(reader);
    rd_kafka_destroy(reader);
}

static const char *header(rd_kafka_message_t *m, const char *name, char *buf, size_t cap)
{
    rd_kafka_headers_t *hdrs;
    const void *v;
    size_t len;
    if (rd_kafka_message_headers(m, &hdrs) != 0 ||
        rd_kafka_header_get_last(hdrs, name, &v, &len) != 0)
        return NULL;
    snprintf(buf, cap, "%.*s", (int)len, (const char *)v);
    return buf;
}

static void test_option_errors(void **state)
{
    fixture *f = *state;
    char yaml[1024], err[512];
    snprintf(yaml, sizeof yaml, "%s\nproducer: {linger.ms: \"5\", no.such.property: x}",
             f->yaml_brokers);
    assert_null(harness_new(&pp_exporter_kafka, "kafka", yaml, err, sizeof err));
    assert_non_null(strstr(err, "no.such.property"));
    snprintf(yaml, sizeof yaml, "%s\ncompression: brotli", f->yaml_brokers);
    assert_null(harness_new(&pp_exporter_kafka, "kafka", yaml, err, sizeof err));
    assert_non_null(strstr(err, "compression"));
    snprintf(yaml, sizeof yaml, "%s\nkey: series", f->yaml_brokers);
    assert_null(harness_new(&pp_exporter_kafka, "kafka", yaml, err, sizeof err));
    assert_non_null(strstr(err, "key"));
    assert_null(harness_new(&pp_exporter_kafka, "kafka", "topic: x", err, sizeof err));
    assert_non_null(strstr(err, "brokers"));
}

static void test_delivers_with_headers_and_keys(void **state)
{
    fixture *f = *state;
    const pp_host *host = harness_host();
    harness *h = exporter(f, "compression: zstd\n");
    double sent = metric_sum("kafka_messages_sent_total");
    double acked = metric_sum("kafka_messages_acknowledged_total");
    double bytes = metric_sum("kafka_bytes_sent_total");
    pp_batch *b = host->batch_new();
    host->batch_add(b, make_profile("checkout", 3));
    host->batch_add(b, make_profile("checkout", 5)); /* same series */
    host->batch_add(b, make_profile("cart", 2));
    pp_outcome outcome[3] = {0};
    pp_export_result result;
    assert_int_equal(export_all(h, b, outcome, &result), PP_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(outcome[i], PP_EXPORTED);
    assert_true(metric_sum("kafka_messages_sent_total") == sent + 3);
    assert_true(metric_sum("kafka_messages_acknowledged_total") == acked + 3);
    assert_true(metric_sum("kafka_bytes_sent_total") > bytes);
    assert_true(metric_sum("kafka_messages_in_flight") == 0);

    rd_kafka_message_t *msgs[8];
    rd_kafka_t *reader;
    size_t n = consume_all(f, msgs, 8, &reader);
    assert_int_equal(n, 3);
    int32_t checkout_partition = -1;
    for (size_t i = 0; i < n; i++) {
        char buf[64], key[32], service_buf[64];
        rd_kafka_message_t *m = msgs[i];
        const char *service =
            header(m, "profpipe.label.service_name", service_buf, sizeof service_buf);
        assert_non_null(service);
        pp_profile *src = host->batch_get(b, strcmp(service, "cart") == 0 ? 2 : 0);
        snprintf(key, sizeof key, "%016llx", (unsigned long long)host->labels_fingerprint(src));
        assert_int_equal(m->key_len, 16);
        assert_memory_equal(m->key, key, 16);
        if (strcmp(service, "checkout") == 0) {
            if (checkout_partition >= 0)
                assert_int_equal(m->partition, checkout_partition);
            checkout_partition = m->partition;
        }
        assert_string_equal(header(m, "profpipe.from", buf, sizeof buf), "1700000000000000000");
        assert_string_equal(header(m, "profpipe.until", buf, sizeof buf), "1700000010000000000");
        assert_string_equal(header(m, "profpipe.profile_type", buf, sizeof buf), "process_cpu");
        assert_string_equal(header(m, "profpipe.label.__name__", buf, sizeof buf), "process_cpu");
        assert_string_equal(header(m, "profpipe.encoding", buf, sizeof buf), "pprof");
        /* the value is the profile's gzip'd pprof, and decodes as one */
        pp_profile *back = host->profile_new();
        assert_int_equal(host->profile_set_raw(back, m->payload, m->len), 0);
        const pp_pprof *t = host->profile_tree(back, buf, sizeof buf);
        assert_non_null(t);
        int64_t total = 0; /* make_profile's counts: 1 + 2 + ... + samples */
        for (size_t k = 0; k < t->n_samples; k++)
            total += t->samples[k].values[0];
        if (strcmp(service, "cart") == 0)
            assert_int_equal(total, 1 + 2);
        else
            assert_true(total == 1 + 2 + 3 || total == 1 + 2 + 3 + 4 + 5);
        host->profile_free(back);
    }
    consumed_free(reader, msgs, n);
    host->batch_unref(b);
    harness_free(h);
}

static void test_too_large_is_rejected(void **state)
{
    fixture *f = *state;
    const pp_host *host = harness_host();
    harness *h = exporter(f, "max_message_bytes: 300\n");
    double too_large = metric_sum("kafka_messages_too_large_total");
    double acked = metric_sum("kafka_messages_acknowledged_total");
    pp_batch *b = host->batch_new();
    host->batch_add(b, make_profile("big", 200));
    host->batch_add(b, make_profile("small", 1)); /* fits: still delivered */
    pp_outcome outcome[2] = {0};
    pp_export_result result;
    assert_int_equal(export_all(h, b, outcome, &result), PP_OK);
    assert_int_equal(outcome[0], PP_REJECTED);
    assert_int_equal(outcome[1], PP_EXPORTED);
    assert_true(metric_sum("kafka_messages_too_large_total") == too_large + 1);
    assert_true(metric_sum("kafka_messages_acknowledged_total") == acked + 1);
    host->batch_unref(b);
    harness_free(h);
}

static void test_brokers_down_then_up(void **state)
{
    fixture *f = *state;
    const pp_host *host = harness_host();
    harness *h = exporter(f, "timeout: 1s\n");
    double retried = metric_sum("kafka_messages_retried_total");
    double failed = metric_sum("kafka_messages_failed_total");
    for (int id = 1; id <= BROKERS; id++)
        rd_kafka_mock_broker_set_down(f->mc, id);
    pp_batch *b = host->batch_new();
    host->batch_add(b, make_profile("down", 1));
    pp_outcome outcome[1] = {0};
    pp_export_result result;
    assert_int_equal(export_all(h, b, outcome, &result), PP_RETRY);
    assert_int_equal(outcome[0], PP_PENDING);
    assert_true(result.message[0] != '\0');
    assert_true(metric_sum("kafka_messages_retried_total") == retried + 1);
    for (int id = 1; id <= BROKERS; id++)
        rd_kafka_mock_broker_set_up(f->mc, id);
    pp_status st = PP_RETRY;
    for (int round = 0; round < ROUNDS_MAX && st == PP_RETRY; round++)
        st = export_all(h, b, outcome, &result);
    assert_int_equal(st, PP_OK);
    assert_int_equal(outcome[0], PP_EXPORTED);
    /* the purged message's report may come in a later call's poll */
    assert_true(metric_sum("kafka_messages_failed_total") >= failed + 1);
    host->batch_unref(b);
    harness_free(h);
}

static void test_refused_produce_is_retried(void **state)
{
    fixture *f = *state;
    const pp_host *host = harness_host();
    harness *h = exporter(f, "timeout: 1s\n");
    /* More retriable errors than librdkafka's own retries get through in
     * the 1s timeout: the delivery fails and the export must be retried. */
    rd_kafka_resp_err_t errors[REFUSALS];
    for (size_t i = 0; i < REFUSALS; i++)
        errors[i] = RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS;
    rd_kafka_mock_push_request_errors_array(f->mc, 0 /* Produce */, REFUSALS, errors);
    pp_batch *b = host->batch_new();
    host->batch_add(b, make_profile("refused", 1));
    pp_outcome outcome[1] = {0};
    pp_export_result result;
    int retries = 0;
    pp_status st = export_all(h, b, outcome, &result);
    for (; st == PP_RETRY && retries < ROUNDS_MAX; retries++) {
        st = export_all(h, b, outcome, &result);
    }
    assert_int_equal(st, PP_OK);
    assert_int_equal(outcome[0], PP_EXPORTED);
    assert_true(retries > 0);
    host->batch_unref(b);
    harness_free(h);
}

static void test_pyroscope_push_encoding(void **state)
{
    fixture *f = *state;
    const pp_host *host = harness_host();
    harness *h = exporter(f, "encoding: pyroscope_push\nkey: label:service_name\n");
    pp_batch *b = host->batch_new();
    host->batch_add(b, make_profile("pushed", 4));
    pp_outcome outcome[1] = {0};
    pp_export_result result;
    assert_int_equal(export_all(h, b, outcome, &result), PP_OK);
    rd_kafka_message_t *msgs[16];
    rd_kafka_t *reader;
    size_t n = consume_all(f, msgs, 16, &reader);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        char buf[64];
        rd_kafka_message_t *m = msgs[i];
        const char *enc = header(m, "profpipe.encoding", buf, sizeof buf);
        if (enc != NULL && strcmp(enc, "pyroscope_push") == 0) {
            found++;
            assert_int_equal(m->key_len, strlen("pushed"));
            assert_memory_equal(m->key, "pushed", m->key_len);
            pp_batch *back = host->batch_new();
            char err[256];
            assert_int_equal(push_decode(host, m->payload, m->len, back, err, sizeof err), 0);
            assert_int_equal(host->batch_count(back), 1);
            assert_string_equal(host->label_get(host->batch_get(back, 0), "service_name"),
                                "pushed");
            host->batch_unref(back);
        }
    }
    consumed_free(reader, msgs, n);
    assert_int_equal(found, 1);
    host->batch_unref(b);
    harness_free(h);
}

/* Every compression codec the option offers is one librdkafka has: the
 * messages arrive and their values are the profiles. */
static void test_every_compression_delivers(void **state)
{
    static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    enum { N_CODECS = sizeof codecs / sizeof codecs[0] };
    fixture *f = *state;
    const pp_host *host = harness_host();
    for (size_t c = 0; c < N_CODECS; c++) {
        char extra[64];
        snprintf(extra, sizeof extra, "compression: %s\n", codecs[c]);
        harness *h = exporter(f, extra);
        pp_batch *b = host->batch_new();
        host->batch_add(b, make_profile(codecs[c], 50));
        pp_outcome outcome[1] = {0};
        pp_export_result result;
        assert_int_equal(export_all(h, b, outcome, &result), PP_OK);
        assert_int_equal(outcome[0], PP_EXPORTED);
        host->batch_unref(b);
        harness_free(h);
    }
    rd_kafka_message_t *msgs[N_CODECS + 1];
    rd_kafka_t *reader;
    size_t n = consume_all(f, msgs, N_CODECS + 1, &reader);
    assert_int_equal(n, N_CODECS);
    for (size_t i = 0; i < n; i++) {
        char err[256];
        pp_profile *back = host->profile_new();
        assert_int_equal(host->profile_set_raw(back, msgs[i]->payload, msgs[i]->len), 0);
        const pp_pprof *t = host->profile_tree(back, err, sizeof err);
        assert_non_null(t);
        assert_int_equal(t->n_samples, 50);
        host->profile_free(back);
    }
    consumed_free(reader, msgs, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_option_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivers_with_headers_and_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_compression_delivers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_brokers_down_then_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_produce_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pyroscope_push_encoding, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
