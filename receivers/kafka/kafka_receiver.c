/* kafka receiver: consumes profiles from Kafka topics as a member of a
 * consumer group, at least once.
 *
 * Each message becomes one batch (one profile for `pprof`, one per series
 * for `pyroscope_push`) carrying an ack handle from kafka_offsets; the
 * host calls it when every copy of the batch is finished by the
 * exporters. Offsets are committed only from those acks: automatic commit
 * and automatic offset store are off, and per partition only the end of
 * the longest acknowledged prefix is committed (kafka_offsets.h). A
 * rebalance waits a moment for messages in flight, commits what was
 * acknowledged and leaves the rest to be consumed again by the next owner
 * (counted as redelivered); a message whose profiles were dropped on the
 * way makes the partition seek back to it.
 *
 * A message that is not a profile (undecodable value, malformed headers)
 * is logged with its topic/partition/offset, counted, optionally copied to
 * the dead-letter file as a JSON line, and then counts as acknowledged so
 * that it never blocks its partition.
 *
 * Threads: one consumer thread, started in start(), polls, decodes, emits
 * and commits; it also serves the rebalance and commit callbacks. The
 * consumer stays in the group after stop() so that the acks that arrive
 * while the exporters drain are still committed, by destroy(), before it
 * leaves the group. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_text.h"
#include "kafka_client.h"
#include "kafka_decode.h"
#include "kafka_offsets.h"
#include "pp_constants.h"

#define POLL_MS 100
/* How often acknowledged progress is committed while consuming. */
#define COMMIT_INTERVAL_NS (INT64_C(500) * NS_PER_MS)
/* How long a revoke waits for messages in flight before giving them up. */
#define REVOKE_DRAIN_NS (INT64_C(3000) * NS_PER_MS)
#define REVOKE_DRAIN_STEP_NS (INT64_C(10) * NS_PER_MS)
#define SEEK_TIMEOUT_MS 5000
/* How long the last commit is retried while the group rebalances. */
#define FINAL_COMMIT_WAIT_NS (INT64_C(5000) * NS_PER_MS)
#define TOPIC_NAME_MAX 256
#define WHY_MAX 512

typedef struct kafka_receiver {
    kafka_client_ctx ctx;  /* first: librdkafka's opaque */
    rd_kafka_conf_t *conf; /* owned until start() */
    rd_kafka_t *rk;        /* owned; NULL before start() */
    char **topics;
    size_t n_topics;
    kafka_encoding encoding;
    char *dead_letter_path;
    FILE *dead_letter;
    kafka_offsets *offsets; /* one reference ours */

    pthread_t thread;
    int running;
    int commit_failed; /* the last commit failed: repeat every offset */
    int paused;        /* past the memory limit: the assignment is paused */
    atomic_int stopping;
    int64_t last_commit_ns;

    pp_metric *m_messages, *m_bytes, *m_undecodable, *m_commits, *m_commit_failures, *m_redelivered,
        *m_in_flight;
} kafka_receiver;

/* What kafka_receiver_options fills (brokers and consumer are read by
 * kafka_conf_build). */
typedef struct kafka_receiver_settings {
    const pp_config *brokers, *consumer;
    const pp_config *topics;
    const char *group_id;
    const char *initial_offset; /* earliest or latest, as librdkafka spells them */
    int encoding;               /* a kafka_encoding */
    const char *dead_letter_file;
} kafka_receiver_settings;

#define DEFAULT_TOPIC "profiles"

/* librdkafka's auto.offset.reset words */
static const char *const initial_offset_names[] = {"earliest", "latest", NULL};

static const pp_option kafka_receiver_options[] = {
    {"brokers", PP_OPT_STRING_LIST, NULL, "bootstrap brokers, host:port", 1, NULL,
     PP_FIELD(kafka_receiver_settings, brokers)},
    {"topics", PP_OPT_STRING_LIST, "[" DEFAULT_TOPIC "]", "topics to consume", 0, NULL,
     PP_FIELD(kafka_receiver_settings, topics)},
    {"group_id", PP_OPT_STRING, "profpipe", "consumer group", 0, NULL,
     PP_FIELD(kafka_receiver_settings, group_id)},
    {"initial_offset", PP_OPT_STRING, "latest", "where a group without a committed offset starts",
     0, NULL, PP_FIELD(kafka_receiver_settings, initial_offset),
     .enum_values = initial_offset_names},
    {"encoding", PP_OPT_STRING, "pprof",
     "message value: pprof (gzip'd pprof, labels in headers) or pyroscope_push", 0, NULL,
     PP_FIELD(kafka_receiver_settings, encoding), .enum_values = kafka_encoding_names},
    {"consumer", PP_OPT_STRING_MAP, NULL,
     "raw librdkafka consumer properties (TLS, SASL, timeouts), passed through", 0, NULL,
     PP_FIELD(kafka_receiver_settings, consumer)},
    {"dead_letter_file", PP_OPT_STRING, NULL,
     "append undecodable messages here as JSON lines (value in base64)", 0, NULL,
     PP_FIELD(kafka_receiver_settings, dead_letter_file)},
    {0},
};

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque);
static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque);
static void consumer_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque);

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 * NS_PER_MS + ts.tv_nsec;
}

static void make_metrics(kafka_receiver *r)
{
    const pp_host *h = r->ctx.host;
    pp_instance *s = r->ctx.self;
    r->m_messages =
        h->metric(s, "kafka_messages_received_total", "messages consumed", PP_COUNTER, NULL);
    r->m_bytes = h->metric(s, "kafka_bytes_received_total", "message value bytes consumed",
                           PP_COUNTER, NULL);
    r->m_undecodable =
        h->metric(s, "kafka_messages_undecodable_total",
                  "messages skipped because they are not profiles", PP_COUNTER, NULL);
    r->m_commits = h->metric(s, "kafka_offset_commits_total", "offset commits that succeeded",
                             PP_COUNTER, NULL);
    r->m_commit_failures = h->metric(s, "kafka_offset_commit_failures_total",
                                     "offset commits that failed", PP_COUNTER, NULL);
    r->m_redelivered = h->metric(s, "kafka_messages_redelivered_total",
                                 "messages that will be consumed again (rebalance, drop): "
                                 "possible duplicates",
                                 PP_COUNTER, NULL);
    r->m_in_flight = h->metric(s, "kafka_messages_in_flight",
                               "messages handed on and not yet acknowledged", PP_GAUGE, NULL);
}

static rd_kafka_conf_t *receiver_conf(kafka_receiver *r, const pp_config *cfg,
                                      const kafka_receiver_settings *set)
{
    const char *defaults[] = {
        "group.id", set->group_id,       "enable.auto.commit", "false", "enable.auto.offset.store",
        "false",    "auto.offset.reset", set->initial_offset,  NULL,
    };
    rd_kafka_conf_t *conf = kafka_conf_build(&r->ctx, cfg, set->brokers, set->consumer, defaults);
    if (conf == NULL)
        return NULL;
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, commit_cb);
    rd_kafka_conf_set_error_cb(conf, consumer_error_cb);
    return conf;
}

static void receiver_free(kafka_receiver *r)
{
    if (r->conf)
        rd_kafka_conf_destroy(r->conf);
    for (size_t i = 0; i < r->n_topics; i++)
        free(r->topics[i]);
    free(r->topics);
    free(r->dead_letter_path);
    kafka_offsets_release(r->offsets);
    free(r);
}

static int read_topics(kafka_receiver *r, const pp_config *cfg, const pp_config *list)
{
    const pp_host *h = r->ctx.host;
    size_t n = list ? h->cfg_count(list) : 0;
    if (n == 0) { /* `topics: []` reads as the default */
        r->topics = calloc(1, sizeof *r->topics);
        if (r->topics == NULL || (r->topics[0] = strdup(DEFAULT_TOPIC)) == NULL)
            return -1;
        r->n_topics = 1;
        return 0;
    }
    r->topics = calloc(n, sizeof *r->topics);
    if (r->topics == NULL)
        return -1;
    for (; r->n_topics < n; r->n_topics++) {
        const char *t = h->cfg_scalar(h->cfg_item(list, r->n_topics));
        if (t == NULL || *t == '\0')
            return h->cfg_error(cfg, "topics", "topic %zu is empty", r->n_topics);
        if ((r->topics[r->n_topics] = strdup(t)) == NULL)
            return -1;
    }
    return 0;
}

static int kafka_receiver_create(const pp_host *host, pp_instance *self, const pp_config *cfg,
                                 void **state)
{
    kafka_receiver *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -1;
    r->ctx.host = host;
    r->ctx.self = self;
    kafka_receiver_settings set = {0};
    int bad = host->cfg_fill(cfg, kafka_receiver_options, &set);
    if (read_topics(r, cfg, set.topics) < 0)
        bad = -1;
    r->encoding = (kafka_encoding)set.encoding;
    if (set.group_id && *set.group_id == '\0')
        bad = host->cfg_error(cfg, "group_id", "must not be empty");
    const char *dlq = set.dead_letter_file;
    if (dlq != NULL && *dlq != '\0' && (r->dead_letter_path = strdup(dlq)) == NULL)
        bad = -1;
    if (!set.initial_offset) /* refused by cfg_fill: go on, the consumer properties' errors too */
        set.initial_offset = "latest";
    if ((r->conf = receiver_conf(r, cfg, &set)) == NULL) /* every error, not only the first */
        bad = -1;
    if (bad == 0 && (r->offsets = kafka_offsets_new()) == NULL)
        bad = -1;
    if (bad) {
        receiver_free(r);
        return -1;
    }
    make_metrics(r);
    *state = r;
    return 0;
}

static void base64_write(FILE *f, const uint8_t *data, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        fputc(alphabet[(v >> 18) & 63], f);
        fputc(alphabet[(v >> 12) & 63], f);
        fputc(i + 1 < len ? alphabet[(v >> 6) & 63] : '=', f);
        fputc(i + 2 < len ? alphabet[v & 63] : '=', f);
    }
}

static void file_put(void *arg, const char *text, size_t len)
{
    fwrite(text, 1, len, arg);
}

/* s as a JSON string (json_text.h: valid UTF-8 whatever the bytes). */
static void json_string_write(FILE *f, const char *s)
{
    fputc('"', f);
    json_escape_bytes(s, strlen(s), file_put, f);
    fputc('"', f);
}

static void dead_letter_write(kafka_receiver *r, const rd_kafka_message_t *m, const char *why)
{
    FILE *f = r->dead_letter;
    fputs("{\"topic\":", f);
    json_string_write(f, rd_kafka_topic_name(m->rkt));
    fprintf(f, ",\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"reason\":", m->partition,
            m->offset);
    json_string_write(f, why);
    fputs(",\"key_base64\":\"", f);
    base64_write(f, m->key, m->key ? m->key_len : 0);
    fputs("\",\"value_base64\":\"", f);
    base64_write(f, m->payload, m->payload ? m->len : 0);
    fputs("\"}\n", f);
    if (fflush(f) != 0)
        r->ctx.host->log(r->ctx.self, PP_LOG_ERROR, "cannot write dead_letter_file %s",
                         r->dead_letter_path);
}

static void skip_poison(kafka_receiver *r, const rd_kafka_message_t *m, const char *why)
{
    r->ctx.host->log(r->ctx.self, PP_LOG_WARN,
                     "skipping undecodable message topic=%s partition=%" PRId32 " offset=%" PRId64
                     ": %s",
                     rd_kafka_topic_name(m->rkt), m->partition, m->offset, why);
    r->ctx.host->metric_add(r->m_undecodable, 1);
    if (r->dead_letter != NULL)
        dead_letter_write(r, m, why);
}

static void seek_to(kafka_receiver *r, const char *topic, int32_t partition, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
    rd_kafka_error_t *err = rd_kafka_seek_partitions(r->rk, l, SEEK_TIMEOUT_MS);
    if (err == NULL && l->elems[0].err != RD_KAFKA_RESP_ERR_NO_ERROR)
        r->ctx.host->log(r->ctx.self, PP_LOG_ERROR, "seek %s/%" PRId32 " to %" PRId64 ": %s", topic,
                         partition, offset, rd_kafka_err2str(l->elems[0].err));
    if (err != NULL) {
        r->ctx.host->log(r->ctx.self, PP_LOG_ERROR, "seek %s/%" PRId32 " to %" PRId64 ": %s", topic,
                         partition, offset, rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static void handle_message(kafka_receiver *r, const rd_kafka_message_t *m)
{
    const pp_host *h = r->ctx.host;
    const char *topic = rd_kafka_topic_name(m->rkt);
    char why[WHY_MAX];
    h->metric_add(r->m_messages, 1);
    h->metric_add(r->m_bytes, (double)m->len);
    kafka_ack *ack = kafka_offsets_track(r->offsets, topic, m->partition, m->offset);
    if (ack == NULL) { /* cannot promise at-least-once for it: read it again */
        h->log(r->ctx.self, PP_LOG_ERROR,
               "cannot track %s/%" PRId32 " offset %" PRId64 ", consuming it again", topic,
               m->partition, m->offset);
        seek_to(r, topic, m->partition, m->offset);
        return;
    }
    pp_batch *b = h->batch_new();
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        hdrs = NULL; /* none: labels come from the profile and the host */
    int rc = b == NULL ? (snprintf(why, sizeof why, "out of memory"), -1)
                       : kafka_decode_message(h, r->encoding, hdrs, m->payload, m->len, b, why,
                                              sizeof why);
    if (rc != 0) {
        h->batch_unref(b);
        skip_poison(r, m, why);
        kafka_offsets_ack(ack, 0);
        return;
    }
    h->batch_set_ack(b, kafka_offsets_ack, ack);
    h->emit(r->ctx.self, b); /* a batch it drops is acked as lost */
}

static void add_commit(void *arg, const char *topic, int32_t partition, int64_t offset)
{
    rd_kafka_topic_partition_list_add(arg, topic, partition)->offset = offset;
}

/* Commits acknowledged progress asynchronously, at most every
 * COMMIT_INTERVAL_NS; after a failed commit, every offset again. */
static void commit_progress(kafka_receiver *r)
{
    int64_t t = mono_ns();
    if (t - r->last_commit_ns < COMMIT_INTERVAL_NS)
        return;
    r->last_commit_ns = t;
    r->ctx.host->metric_set(r->m_in_flight, (double)kafka_offsets_in_flight(r->offsets));
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    if (kafka_offsets_advanced(r->offsets, r->commit_failed, add_commit, l) > 0) {
        r->commit_failed = 0;
        rd_kafka_commit(r->rk, l, 1);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* The last commit, once the exporters are done: synchronous, and repeated
 * while the group is rebalancing (other gateways stopping at the same
 * time), serving the consumer meanwhile so that it can rejoin. Messages it
 * delivers then are dropped untracked: their offsets stay uncommitted. */
static void commit_final(kafka_receiver *r)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    int64_t deadline = mono_ns() + FINAL_COMMIT_WAIT_NS;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    kafka_offsets_advanced(r->offsets, 1, add_commit, l);
    while (l->cnt > 0 && (err = rd_kafka_commit(r->rk, l, 0)) != RD_KAFKA_RESP_ERR_NO_ERROR &&
           mono_ns() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, POLL_MS);
        if (m != NULL)
            rd_kafka_message_destroy(m);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        r->ctx.host->log(r->ctx.self, PP_LOG_WARN,
                         "final offset commit failed: %s: the next owner may consume "
                         "acknowledged messages again",
                         rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
}

/* Partitions whose oldest unfinished message was dropped start over. */
static void handle_rewinds(kafka_receiver *r)
{
    char topic[TOPIC_NAME_MAX];
    int32_t partition;
    int64_t offset;
    size_t again;
    while (
        kafka_offsets_take_rewind(r->offsets, topic, sizeof topic, &partition, &offset, &again)) {
        r->ctx.host->log(r->ctx.self, PP_LOG_WARN,
                         "profiles of %s/%" PRId32 " offset %" PRId64
                         " were dropped before export: consuming again from there",
                         topic, partition, offset);
        r->ctx.host->metric_add(r->m_redelivered, (double)(again + 1));
        seek_to(r, topic, partition, offset);
    }
}

/* Past service.memory_limit's soft limit, consumption pauses (librdkafka
 * drops what it fetched ahead and fetches it again on resume); polling
 * goes on, so the member stays in its group. Partitions a rebalance
 * hands over meanwhile are paused as they are assigned (rebalance_cb),
 * and the whole assignment again on every poll. */
static void follow_memory_pressure(kafka_receiver *r)
{
    int pressed = r->ctx.host->memory_pressure(r->ctx.self) != PP_MEMORY_OK;
    if (!pressed && !r->paused)
        return;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(r->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
        return;
    if (pressed)
        rd_kafka_pause_partitions(r->rk, parts);
    else
        rd_kafka_resume_partitions(r->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (pressed != r->paused)
        r->ctx.host->log(r->ctx.self, PP_LOG_INFO, "%s consuming: memory limit %s",
                         pressed ? "paused" : "resumed", pressed ? "reached" : "relieved");
    r->paused = pressed;
}

static void *consume_loop(void *arg)
{
    kafka_receiver *r = arg;
    while (!atomic_load(&r->stopping)) {
        follow_memory_pressure(r);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, POLL_MS);
        if (m != NULL && m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
            handle_message(r, m);
        else if (m != NULL && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            r->ctx.host->log(r->ctx.self, PP_LOG_WARN, "consumer: %s", rd_kafka_message_errstr(m));
        if (m != NULL)
            rd_kafka_message_destroy(m);
        handle_rewinds(r);
        commit_progress(r);
    }
    return NULL;
}

/* Gives messages in flight a moment to be acknowledged before a revoke. */
static void drain_in_flight(kafka_receiver *r)
{
    int64_t deadline = mono_ns() + REVOKE_DRAIN_NS;
    struct timespec step = {0, REVOKE_DRAIN_STEP_NS};
    while (kafka_offsets_in_flight(r->offsets) > 0 && mono_ns() < deadline)
        nanosleep(&step, NULL);
}

static void revoke(kafka_receiver *r, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
    int lost = rd_kafka_assignment_lost(rk);
    if (!lost)
        drain_in_flight(r);
    rd_kafka_topic_partition_list_t *commit = rd_kafka_topic_partition_list_new(parts->cnt);
    size_t again = 0, unconfirmed = 0;
    for (int i = 0; i < parts->cnt; i++) {
        size_t in_flight, done;
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t offset =
            kafka_offsets_revoke(r->offsets, tp->topic, tp->partition, &in_flight, &done);
        if (offset >= 0)
            add_commit(commit, tp->topic, tp->partition, offset);
        again += in_flight;
        unconfirmed += done;
    }
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST;
    if (commit->cnt > 0 && !lost && (err = rd_kafka_commit(rk, commit, 0)) != 0)
        r->ctx.host->log(r->ctx.self, PP_LOG_WARN, "commit on revoke failed: %s",
                         rd_kafka_err2str(err));
    if (commit->cnt == 0 || err == RD_KAFKA_RESP_ERR_NO_ERROR)
        unconfirmed = 0; /* committed now */
    again += unconfirmed;
    r->ctx.host->metric_add(r->m_redelivered, (double)again);
    r->ctx.host->log(r->ctx.self, PP_LOG_INFO,
                     "%d partition(s) revoked%s: %zu message(s) in flight or not committed "
                     "left to the next owner",
                     parts->cnt, lost ? " (assignment lost)" : "", again);
    rd_kafka_topic_partition_list_destroy(commit);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    kafka_receiver *r = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++)
            if (kafka_offsets_assign(r->offsets, parts->elems[i].topic,
                                     parts->elems[i].partition) != 0)
                r->ctx.host->log(r->ctx.self, PP_LOG_ERROR, "out of memory tracking %s",
                                 parts->elems[i].topic);
        r->ctx.host->log(r->ctx.self, PP_LOG_INFO, "%d partition(s) assigned", parts->cnt);
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        if (r->paused) /* past the memory limit: nothing is fetched yet */
            rd_kafka_pause_partitions(rk, parts);
    } else {
        if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
            r->ctx.host->log(r->ctx.self, PP_LOG_ERROR, "rebalance failed: %s",
                             rd_kafka_err2str(err));
        revoke(r, rk, parts);
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    }
    if (error != NULL) {
        r->ctx.host->log(r->ctx.self, PP_LOG_ERROR, "rebalance: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
}

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    kafka_receiver *r = opaque;
    for (int i = 0; offsets != NULL && i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &offsets->elems[i];
        if (tp->err == RD_KAFKA_RESP_ERR_NO_ERROR && tp->offset >= 0)
            kafka_offsets_confirm(r->offsets, tp->topic, tp->partition, tp->offset);
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        r->ctx.host->metric_add(r->m_commits, 1);
    } else if (err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        r->commit_failed = 1;
        r->ctx.host->metric_add(r->m_commit_failures, 1);
        r->ctx.host->log(r->ctx.self, PP_LOG_WARN, "offset commit failed: %s",
                         rd_kafka_err2str(err));
    }
}

static void consumer_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    kafka_receiver *r = opaque;
    r->ctx.host->log(r->ctx.self, PP_LOG_WARN, "consumer: %s: %s",
                     rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static int subscribe(kafka_receiver *r)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)r->n_topics);
    for (size_t i = 0; i < r->n_topics; i++)
        rd_kafka_topic_partition_list_add(l, r->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(r->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    r->ctx.host->log(r->ctx.self, PP_LOG_ERROR, "subscribe: %s", rd_kafka_err2str(err));
    return -1;
}

static int kafka_receiver_start(void *state)
{
    kafka_receiver *r = state;
    char errstr[512];
    if (r->dead_letter_path != NULL && (r->dead_letter = fopen(r->dead_letter_path, "a")) == NULL) {
        r->ctx.host->log(r->ctx.self, PP_LOG_ERROR, "cannot open dead_letter_file %s",
                         r->dead_letter_path);
        return -1;
    }
    r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, r->conf, errstr, sizeof errstr);
    if (r->rk == NULL) {
        r->ctx.host->log(r->ctx.self, PP_LOG_ERROR, "cannot create consumer: %s", errstr);
        return -1;
    }
    r->conf = NULL; /* the consumer owns it now */
    rd_kafka_poll_set_consumer(r->rk);
    if (subscribe(r) != 0)
        return -1;
    if (pthread_create(&r->thread, NULL, consume_loop, r) != 0) {
        r->ctx.host->log(r->ctx.self, PP_LOG_ERROR, "cannot start the consumer thread");
        return -1;
    }
    r->running = 1;
    return 0;
}

static void kafka_receiver_stop(void *state, int64_t deadline_ns)
{
    (void)deadline_ns;
    kafka_receiver *r = state;
    if (!r->running)
        return;
    atomic_store(&r->stopping, 1);
    pthread_join(r->thread, NULL);
    r->running = 0;
}

/* By now the exporters have finished what we emitted: commit it, then
 * leave the group (the revoke this causes commits nothing new). */
static void kafka_receiver_destroy(void *state)
{
    kafka_receiver *r = state;
    kafka_receiver_stop(r, 0);
    if (r->rk != NULL) {
        commit_final(r);
        rd_kafka_consumer_close(r->rk);
        rd_kafka_destroy(r->rk);
    }
    if (r->dead_letter != NULL)
        fclose(r->dead_letter);
    receiver_free(r);
}

const pp_component pp_receiver_kafka = {
    .type = "kafka",
    .kind = PP_RECEIVER,
    .description = "consumes profiles from Kafka topics in a consumer group, at least once",
    .options = kafka_receiver_options,
    .create = kafka_receiver_create,
    .start = kafka_receiver_start,
    .stop = kafka_receiver_stop,
    .destroy = kafka_receiver_destroy,
};
