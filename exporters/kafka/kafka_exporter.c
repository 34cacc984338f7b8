/* kafka exporter: publishes every profile as one Kafka message.
 *
 * One message per profile, keyed by default by the series fingerprint, so
 * a series always lands on the same partition and stays in order there.
 * The value is the profile's gzip'd pprof exactly as it came in when
 * nothing decoded it (encoding `pprof`), or one Pyroscope PushRequest
 * (encoding `pyroscope_push`); series labels and the time window travel in
 * headers (wire format in README.md).
 *
 * Reliability: an idempotent producer (acks=all, ordered retries inside
 * librdkafka) and a profile is counted as exported only when its delivery
 * report says the brokers acknowledged it. export() produces the batch,
 * then polls delivery reports until all arrived or `timeout` passed; a
 * failed delivery leaves the profile PENDING and the call returns PP_RETRY
 * so that the host's retry policy (backoff, max_elapsed_time) owns retries.
 * librdkafka's own message timeout is set to `timeout`, so a report comes
 * for every message within the call; a report that still comes later (it
 * belongs to an earlier call) is recognised by its call number and only
 * counted.
 *
 * Threads: export() and stop() run on the exporter's worker thread, and
 * delivery reports are served by rd_kafka_poll() on that same thread, so
 * the per-call state needs no lock. The producer is made in start()
 * (create() must not open sockets) from a configuration checked in
 * create(); after a fatal producer error (idempotence broken) it is
 * replaced by a fresh one and the batch is retried. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_client.h"
#include "pp_constants.h"
#include "push_codec.h"

/* Extra time to wait for reports beyond librdkafka's message timeout. */
#define DELIVERY_GRACE_MS 2000
/* One poll while waiting for reports or for room in the queue. */
#define POLL_STEP_MS 50
/* Room the producer's own request limit keeps above max_message_bytes
 * for the key, headers and record overhead. */
#define REQUEST_OVERHEAD_BYTES 65536
/* The message opaque carries the call number (high 32 bits) and the
 * profile's index + 1 (low 32 bits): no allocation per message. */
#define OPAQUE_INDEX_BITS 32
#define OPAQUE_INDEX_MASK 0xffffffffu
#define KEY_TEXT_MAX 32
#define DECIMAL_MAX 24

typedef enum key_mode {
    KEY_FINGERPRINT = 0,
    KEY_NONE,
    KEY_LABEL,
} key_mode;

/* What the delivery report said about one profile of the current call. */
typedef enum delivery {
    DELIVERY_NONE = 0,  /* not produced in this call */
    DELIVERY_WAITING,   /* produced, no report yet */
    DELIVERY_OK,        /* acknowledged */
    DELIVERY_FAILED,    /* retry */
    DELIVERY_PERMANENT, /* the broker refuses it for good */
} delivery;

typedef struct kafka_exporter {
    kafka_client_ctx ctx;  /* first: librdkafka's opaque */
    rd_kafka_conf_t *conf; /* template for each producer; owned */
    rd_kafka_t *rk;        /* owned; NULL before start() */
    char *topic;
    kafka_encoding encoding;
    key_mode key;
    char *key_label;
    int64_t max_message_bytes;
    int64_t timeout_ns;

    /* the export() call in progress */
    uint32_t call;
    delivery *deliveries; /* one per profile of the batch; owned */
    size_t n_deliveries;
    size_t waiting;
    char first_error[256];

    pp_metric *m_sent, *m_acked, *m_failed, *m_retried, *m_in_flight, *m_bytes, *m_too_large,
        *m_duplicates;
    int64_t in_flight;
} kafka_exporter;

/* What kafka_exporter_options fills (brokers and producer are read by
 * kafka_conf_build). */
typedef struct kafka_exporter_settings {
    const pp_config *brokers, *producer;
    const char *topic;
    int encoding; /* a kafka_encoding */
    const char *key;
    const char *compression;
    int64_t timeout_ns;
    int64_t max_message_bytes;
} kafka_exporter_settings;

static const char *const compression_names[] = {"none", "gzip", "snappy", "lz4", "zstd", NULL};

static const pp_option kafka_exporter_options[] = {
    {"brokers", PP_OPT_STRING_LIST, NULL, "bootstrap brokers, host:port", 1, NULL,
     PP_FIELD(kafka_exporter_settings, brokers)},
    {"topic", PP_OPT_STRING, "profiles", "topic to produce to", 0, NULL,
     PP_FIELD(kafka_exporter_settings, topic)},
    {"encoding", PP_OPT_STRING, "pprof",
     "message value: pprof (gzip'd pprof, labels in headers) or pyroscope_push "
     "(a Pyroscope PushRequest)",
     0, NULL, PP_FIELD(kafka_exporter_settings, encoding), .enum_values = kafka_encoding_names},
    {"key", PP_OPT_STRING, "fingerprint",
     "message key: fingerprint (series labels hash, one series = one partition), "
     "none, or label:<name>",
     0, NULL, PP_FIELD(kafka_exporter_settings, key)},
    {"compression", PP_OPT_STRING, "none", "codec of the produced messages", 0, NULL,
     PP_FIELD(kafka_exporter_settings, compression), .enum_values = compression_names},
    {"timeout", PP_OPT_DURATION, "30s", "how long one export waits for the brokers to acknowledge",
     0, NULL, PP_FIELD(kafka_exporter_settings, timeout_ns), .min = "1ms"},
    {"max_message_bytes", PP_OPT_SIZE, "1000000",
     "larger messages are rejected, counted and logged", 0, NULL,
     PP_FIELD(kafka_exporter_settings, max_message_bytes), .min = "0",
     .flags = PP_OPT_MIN_EXCLUSIVE},
    {"producer", PP_OPT_STRING_MAP, NULL,
     "raw librdkafka producer properties (TLS, SASL, tuning), passed through", 0, NULL,
     PP_FIELD(kafka_exporter_settings, producer)},
    {0},
};

/* Rule: key is fingerprint, none or label:<name>. */
static int parse_key(kafka_exporter *e, const pp_config *cfg, const char *text)
{
    static const char label_prefix[] = "label:";
    if (strcmp(text, "fingerprint") == 0) {
        e->key = KEY_FINGERPRINT;
    } else if (strcmp(text, "none") == 0) {
        e->key = KEY_NONE;
    } else if (strncmp(text, label_prefix, sizeof label_prefix - 1) == 0 &&
               text[sizeof label_prefix - 1] != '\0') {
        e->key = KEY_LABEL;
        e->key_label = strdup(text + sizeof label_prefix - 1);
    } else {
        return e->ctx.host->cfg_error(cfg, "key", "\"%s\" is not fingerprint, none or label:<name>",
                                      text);
    }
    return 0;
}

static void delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque);

static void make_metrics(kafka_exporter *e)
{
    const pp_host *h = e->ctx.host;
    pp_instance *s = e->ctx.self;
    e->m_sent = h->metric(s, "kafka_messages_sent_total", "messages handed to the producer",
                          PP_COUNTER, NULL);
    e->m_acked = h->metric(s, "kafka_messages_acknowledged_total",
                           "messages the brokers acknowledged", PP_COUNTER, NULL);
    e->m_failed = h->metric(s, "kafka_messages_failed_total", "messages whose delivery failed",
                            PP_COUNTER, NULL);
    e->m_retried =
        h->metric(s, "kafka_messages_retried_total",
                  "profiles left for the retry policy after a failed delivery", PP_COUNTER, NULL);
    e->m_in_flight = h->metric(s, "kafka_messages_in_flight",
                               "messages produced and not yet reported", PP_GAUGE, NULL);
    e->m_bytes = h->metric(s, "kafka_bytes_sent_total", "message value bytes acknowledged",
                           PP_COUNTER, NULL);
    e->m_too_large =
        h->metric(s, "kafka_messages_too_large_total",
                  "profiles rejected for exceeding max_message_bytes", PP_COUNTER, NULL);
    e->m_duplicates = h->metric(s, "kafka_messages_possibly_duplicated_total",
                                "messages the brokers may hold although their profile is "
                                "sent again (late or possibly persisted failed reports)",
                                PP_COUNTER, NULL);
}

/* Builds the producer's configuration from the options; reports errors. */
static rd_kafka_conf_t *exporter_conf(kafka_exporter *e, const pp_config *cfg,
                                      const kafka_exporter_settings *set)
{
    const char *compression = set->compression;
    char timeout_ms[DECIMAL_MAX], max_bytes[DECIMAL_MAX];
    snprintf(timeout_ms, sizeof timeout_ms, "%" PRId64, e->timeout_ns / NS_PER_MS);
    snprintf(max_bytes, sizeof max_bytes, "%" PRId64,
             e->max_message_bytes + REQUEST_OVERHEAD_BYTES);
    /* Java's partitioner, so keys map to the partitions other clients use. */
    const char *defaults[] = {
        "enable.idempotence",
        "true",
        "acks",
        "all",
        "compression.codec",
        compression ? compression : "none", /* NULL: refused, reported */
        "message.timeout.ms",
        timeout_ms,
        "message.max.bytes",
        max_bytes,
        "partitioner",
        "murmur2_random",
        NULL,
    };
    rd_kafka_conf_t *conf = kafka_conf_build(&e->ctx, cfg, set->brokers, set->producer, defaults);
    if (conf == NULL)
        return NULL;
    rd_kafka_conf_set_dr_msg_cb(conf, delivery_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    return conf;
}

static void exporter_free(kafka_exporter *e)
{
    if (e->conf)
        rd_kafka_conf_destroy(e->conf);
    free(e->topic);
    free(e->key_label);
    free(e->deliveries);
    free(e);
}

static int kafka_exporter_create(const pp_host *host, pp_instance *self, const pp_config *cfg,
                                 void **state)
{
    kafka_exporter *e = calloc(1, sizeof *e);
    if (e == NULL)
        return -1;
    e->ctx.host = host;
    e->ctx.self = self;
    kafka_exporter_settings set = {0};
    int bad = host->cfg_fill(cfg, kafka_exporter_options, &set);
    e->timeout_ns = set.timeout_ns;
    e->max_message_bytes = set.max_message_bytes;
    e->encoding = (kafka_encoding)set.encoding;
    if (set.topic && *set.topic == '\0')
        bad = host->cfg_error(cfg, "topic", "must not be empty");
    else if (set.topic && !(e->topic = strdup(set.topic)))
        bad = -1;
    if (set.key && parse_key(e, cfg, set.key) != 0)
        bad = -1;
    if ((e->conf = exporter_conf(e, cfg, &set)) == NULL) /* its errors too */
        bad = -1;
    if (bad) {
        exporter_free(e);
        return -1;
    }
    make_metrics(e);
    *state = e;
    return 0;
}

static int producer_new(kafka_exporter *e)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(e->conf);
    e->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (e->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        e->ctx.host->log(e->ctx.self, PP_LOG_ERROR, "cannot create producer: %s", errstr);
        return -1;
    }
    return 0;
}

static int kafka_exporter_start(void *state)
{
    return producer_new(state);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kafka_exporter *e = opaque;
    char fatal[256];
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(rk, fatal, sizeof fatal);
        e->ctx.host->log(e->ctx.self, PP_LOG_ERROR, "producer fatal error: %s", fatal);
        return;
    }
    e->ctx.host->log(e->ctx.self, PP_LOG_WARN, "producer: %s: %s",
                     rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static int is_permanent(rd_kafka_resp_err_t err)
{
    return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
           err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE ||
           err == RD_KAFKA_RESP_ERR_INVALID_RECORD;
}

/* Served by rd_kafka_poll/flush on the worker thread. */
static void delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    kafka_exporter *e = opaque;
    uint64_t tag = (uint64_t)(uintptr_t)m->_private;
    uint32_t call = (uint32_t)(tag >> OPAQUE_INDEX_BITS);
    size_t index = (size_t)(tag & OPAQUE_INDEX_MASK) - 1;

    e->ctx.host->metric_set(e->m_in_flight, (double)--e->in_flight);
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        e->ctx.host->metric_add(e->m_acked, 1);
        e->ctx.host->metric_add(e->m_bytes, (double)m->len);
    } else {
        e->ctx.host->metric_add(e->m_failed, 1);
    }
    int late = call != e->call || e->deliveries == NULL || index >= e->n_deliveries ||
               e->deliveries[index] != DELIVERY_WAITING;
    /* Its profile is (or was) retried, yet the brokers have or may have
     * this copy: the topic may hold it twice. */
    if (late ? m->err == RD_KAFKA_RESP_ERR_NO_ERROR
             : m->err != RD_KAFKA_RESP_ERR_NO_ERROR && !is_permanent(m->err) &&
                   rd_kafka_message_status(m) == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED)
        e->ctx.host->metric_add(e->m_duplicates, 1);
    if (late)
        return; /* a report from an earlier call */
    e->waiting--;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        e->deliveries[index] = DELIVERY_OK;
        return;
    }
    e->deliveries[index] = is_permanent(m->err) ? DELIVERY_PERMANENT : DELIVERY_FAILED;
    if (e->first_error[0] == '\0')
        snprintf(e->first_error, sizeof e->first_error, "%s", rd_kafka_err2str(m->err));
}

static int add_decimal_header(rd_kafka_headers_t *hdrs, const char *name, int64_t v)
{
    char text[DECIMAL_MAX];
    snprintf(text, sizeof text, "%" PRId64, v);
    return rd_kafka_header_add(hdrs, name, -1, text, -1) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

/* The wire format's headers for p; NULL when out of memory. */
static rd_kafka_headers_t *profile_headers(kafka_exporter *e, pp_profile *p)
{
    const pp_host *h = e->ctx.host;
    size_t n = h->label_count(p);
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(n + 4);
    int bad = 0;
    for (size_t i = 0; i < n && !bad; i++) {
        const char *label = h->label_name(p, i);
        size_t len = sizeof KAFKA_HDR_LABEL_PREFIX + strlen(label);
        char *name = malloc(len);
        if (name == NULL) {
            bad = 1;
            break;
        }
        snprintf(name, len, "%s%s", KAFKA_HDR_LABEL_PREFIX, label);
        bad = rd_kafka_header_add(hdrs, name, -1, h->label_value(p, i), -1) !=
              RD_KAFKA_RESP_ERR_NO_ERROR;
        free(name);
    }
    const char *type = h->label_get(p, "__name__");
    bad |= add_decimal_header(hdrs, KAFKA_HDR_FROM, h->profile_from(p)) != 0;
    bad |= add_decimal_header(hdrs, KAFKA_HDR_UNTIL, h->profile_until(p)) != 0;
    if (type != NULL)
        bad |= rd_kafka_header_add(hdrs, KAFKA_HDR_TYPE, -1, type, -1) != 0;
    bad |= rd_kafka_header_add(hdrs, KAFKA_HDR_ENCODING, -1, kafka_encoding_name(e->encoding),
                               -1) != 0;
    if (bad) {
        rd_kafka_headers_destroy(hdrs);
        return NULL;
    }
    return hdrs;
}

/* The message key for p into buf; returns its length, or sets *key NULL. */
static size_t profile_key(kafka_exporter *e, pp_profile *p, char *buf, size_t cap, const char **key)
{
    const pp_host *h = e->ctx.host;
    *key = NULL;
    if (e->key == KEY_FINGERPRINT) {
        snprintf(buf, cap, "%016" PRIx64, h->labels_fingerprint(p));
        *key = buf;
    } else if (e->key == KEY_LABEL) {
        *key = h->label_get(p, e->key_label);
    }
    return *key ? strlen(*key) : 0;
}

/* The message value; *owned is set when the caller must free it. */
static int profile_value(kafka_exporter *e, pp_profile *p, const uint8_t **data, size_t *len,
                         uint8_t **owned, char *err, size_t errlen)
{
    *owned = NULL;
    if (e->encoding == KAFKA_ENC_PPROF)
        return e->ctx.host->profile_raw_gz(p, data, len, err, errlen);
    if (push_encode(e->ctx.host, &p, 1, owned, len, err, errlen) != 0)
        return -1;
    *data = *owned;
    return 0;
}

static void mark_failed(kafka_exporter *e, size_t i, const char *why)
{
    e->deliveries[i] = DELIVERY_FAILED;
    if (e->first_error[0] == '\0')
        snprintf(e->first_error, sizeof e->first_error, "%s", why);
}

/* Hands one message to the producer, waiting for room until deadline. */
static rd_kafka_resp_err_t produce(kafka_exporter *e, size_t i, const uint8_t *value, size_t len,
                                   const char *key, size_t key_len, rd_kafka_headers_t *hdrs,
                                   int64_t deadline_ns)
{
    uint64_t tag = ((uint64_t)e->call << OPAQUE_INDEX_BITS) | (uint64_t)(i + 1);
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            e->rk, RD_KAFKA_V_TOPIC(e->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_KEY(key, key_len),
            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)tag), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || e->ctx.host->monotonic_ns() >= deadline_ns)
            return err;
        rd_kafka_poll(e->rk, POLL_STEP_MS);
    }
}

/* Produces profile i of b, or settles it at once (too large, unencodable). */
static void produce_profile(kafka_exporter *e, pp_batch *b, size_t i, pp_outcome *outcome,
                            int64_t deadline_ns)
{
    const pp_host *h = e->ctx.host;
    pp_profile *p = h->batch_get(b, i);
    char err[256], key_buf[KEY_TEXT_MAX];
    const uint8_t *value;
    uint8_t *owned;
    size_t len;
    if (profile_value(e, p, &value, &len, &owned, err, sizeof err) != 0) {
        h->log(e->ctx.self, PP_LOG_ERROR, "profile %zu not encodable, rejected: %s", i, err);
        outcome[i] = PP_REJECTED;
        return;
    }
    if ((int64_t)len > e->max_message_bytes) {
        h->log(e->ctx.self, PP_LOG_ERROR,
               "profile of service_name=%s __name__=%s is %zu bytes, more than "
               "max_message_bytes %" PRId64 ": rejected",
               h->label_get(p, "service_name") ? h->label_get(p, "service_name") : "",
               h->label_get(p, "__name__") ? h->label_get(p, "__name__") : "", len,
               e->max_message_bytes);
        h->metric_add(e->m_too_large, 1);
        outcome[i] = PP_REJECTED;
        free(owned);
        return;
    }
    const char *key;
    size_t key_len = profile_key(e, p, key_buf, sizeof key_buf, &key);
    rd_kafka_headers_t *hdrs = profile_headers(e, p);
    if (hdrs == NULL) {
        mark_failed(e, i, "out of memory building headers");
        free(owned);
        return;
    }
    rd_kafka_resp_err_t rc = produce(e, i, value, len, key, key_len, hdrs, deadline_ns);
    free(owned);
    if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(hdrs); /* not taken on failure */
        if (is_permanent(rc)) {
            h->log(e->ctx.self, PP_LOG_ERROR, "profile %zu refused: %s", i, rd_kafka_err2str(rc));
            outcome[i] = PP_REJECTED;
        } else {
            mark_failed(e, i, rd_kafka_err2str(rc));
        }
        return;
    }
    e->deliveries[i] = DELIVERY_WAITING;
    e->waiting++;
    h->metric_add(e->m_sent, 1);
    h->metric_set(e->m_in_flight, (double)++e->in_flight);
}

/* Polls delivery reports until all came or the deadline. Messages still
 * queued then (never sent: the brokers are unreachable) are purged, so a
 * retry does not add a second copy when they come back; messages already
 * sent cannot be taken back and may still arrive (at least once). */
static void wait_reports(kafka_exporter *e, int64_t deadline_ns)
{
    while (e->waiting > 0) {
        int64_t left_ms = (deadline_ns - e->ctx.host->monotonic_ns()) / NS_PER_MS;
        if (left_ms <= 0)
            break;
        rd_kafka_poll(e->rk, left_ms < POLL_STEP_MS ? (int)left_ms : POLL_STEP_MS);
    }
    if (e->waiting == 0)
        return;
    rd_kafka_purge(e->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_NON_BLOCKING);
    rd_kafka_poll(e->rk, 0);
}

/* Turns the call's delivery reports into outcomes and a status. */
static pp_status settle(kafka_exporter *e, pp_outcome *outcome, pp_export_result *result)
{
    size_t unacked = 0, produced = 0;
    for (size_t i = 0; i < e->n_deliveries; i++) {
        switch (e->deliveries[i]) {
        case DELIVERY_NONE:
            continue;
        case DELIVERY_OK:
            outcome[i] = PP_EXPORTED;
            break;
        case DELIVERY_PERMANENT:
            outcome[i] = PP_REJECTED;
            break;
        case DELIVERY_WAITING:
        case DELIVERY_FAILED:
            unacked++;
            break;
        }
        produced++;
    }
    e->n_deliveries = 0; /* later reports belong to no call */
    if (unacked == 0)
        return PP_OK;
    e->ctx.host->metric_add(e->m_retried, (double)unacked);
    snprintf(result->message, sizeof result->message, "%zu of %zu messages not acknowledged: %s",
             unacked, produced, e->first_error[0] ? e->first_error : "no delivery report in time");
    return PP_RETRY;
}

/* After a fatal error (the idempotent producer's sequence is broken)
 * the producer cannot be used again: a new one starts a new sequence. */
static int replace_if_fatal(kafka_exporter *e)
{
    char why[256];
    if (rd_kafka_fatal_error(e->rk, why, sizeof why) == RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    e->ctx.host->log(e->ctx.self, PP_LOG_WARN, "replacing producer after fatal error: %s", why);
    rd_kafka_destroy(e->rk);
    e->rk = NULL;
    e->in_flight = 0;
    e->ctx.host->metric_set(e->m_in_flight, 0);
    return producer_new(e);
}

static pp_status kafka_exporter_export(void *state, pp_batch *b, pp_outcome *outcome,
                                       pp_export_result *result)
{
    kafka_exporter *e = state;
    const pp_host *h = e->ctx.host;
    if ((e->rk == NULL ? producer_new(e) : replace_if_fatal(e)) != 0) {
        snprintf(result->message, sizeof result->message, "no producer");
        return PP_RETRY;
    }
    size_t n = h->batch_count(b);
    delivery *d = realloc(e->deliveries, (n ? n : 1) * sizeof *d);
    if (d == NULL) {
        snprintf(result->message, sizeof result->message, "out of memory");
        return PP_RETRY;
    }
    memset(d, 0, (n ? n : 1) * sizeof *d);
    e->deliveries = d;
    e->n_deliveries = n;
    e->waiting = 0;
    e->first_error[0] = '\0';
    e->call++;
    int64_t deadline = h->monotonic_ns() + e->timeout_ns + DELIVERY_GRACE_MS * NS_PER_MS;
    for (size_t i = 0; i < n; i++)
        if (outcome[i] == PP_PENDING)
            produce_profile(e, b, i, outcome, deadline);
    wait_reports(e, deadline);
    return settle(e, outcome, result);
}

static void kafka_exporter_stop(void *state, int64_t deadline_ns)
{
    kafka_exporter *e = state;
    if (e->rk == NULL)
        return;
    int64_t left_ms = (deadline_ns - e->ctx.host->monotonic_ns()) / NS_PER_MS;
    rd_kafka_flush(e->rk, left_ms > 0 ? (int)left_ms : 0);
    int left = rd_kafka_outq_len(e->rk);
    e->ctx.host->log(e->ctx.self, left ? PP_LOG_WARN : PP_LOG_INFO,
                     "producer flushed: %d message(s) not acknowledged at shutdown", left);
}

static void kafka_exporter_destroy(void *state)
{
    kafka_exporter *e = state;
    if (e->rk != NULL)
        rd_kafka_destroy(e->rk);
    exporter_free(e);
}

const pp_component pp_exporter_kafka = {
    .type = "kafka",
    .kind = PP_EXPORTER,
    .description = "publishes profiles to a Kafka topic, one message per profile",
    .options = kafka_exporter_options,
    .create = kafka_exporter_create,
    .start = kafka_exporter_start,
    .stop = kafka_exporter_stop,
    .destroy = kafka_exporter_destroy,
    .export = kafka_exporter_export,
};
