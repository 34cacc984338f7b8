/* kafka_client: see kafka_client.h. */
#include "kafka_client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Room for a comma-separated broker list. */
#define KAFKA_BROKERS_MAX 4096
/* A decimal int64 is at most 20 characters with its sign. */
#define KAFKA_INT64_TEXT_MAX 24
/* syslog levels librdkafka logs with. */
#define SYSLOG_WARNING 4
#define SYSLOG_INFO 6

const char *const kafka_encoding_names[] = {
    [KAFKA_ENC_PPROF] = "pprof",
    [KAFKA_ENC_PUSH] = "pyroscope_push",
    [KAFKA_ENC_PUSH + 1] = NULL,
};

int kafka_encoding_parse(const char *name, kafka_encoding *out)
{
    for (size_t i = 0; kafka_encoding_names[i]; i++) {
        if (strcmp(name, kafka_encoding_names[i]) == 0) {
            *out = (kafka_encoding)i;
            return 0;
        }
    }
    return -1;
}

const char *kafka_encoding_name(kafka_encoding enc)
{
    return kafka_encoding_names[enc];
}

/* librdkafka logs from its own threads; the host's log is thread-safe.
 * Connection trouble is logged by librdkafka at LOG_ERR although it
 * recovers by itself; what matters reaches us as delivery reports and
 * commit results, so its errors are warnings here. */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    kafka_client_ctx *ctx = rd_kafka_opaque(rk);
    pp_log_level l = level <= SYSLOG_WARNING ? PP_LOG_WARN
                     : level <= SYSLOG_INFO  ? PP_LOG_INFO
                                             : PP_LOG_DEBUG;
    if (ctx != NULL)
        ctx->host->log(ctx->self, l, "librdkafka %s: %s", fac, buf);
}

static int conf_set(kafka_client_ctx *ctx, const pp_config *node, const char *key,
                    rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) == RD_KAFKA_CONF_OK)
        return 0;
    return ctx->host->cfg_error(node, key, "%s", errstr);
}

static int set_brokers(kafka_client_ctx *ctx, const pp_config *cfg, const pp_config *list,
                       rd_kafka_conf_t *conf)
{
    const pp_host *h = ctx->host;
    const char *key = "brokers";
    char brokers[KAFKA_BROKERS_MAX] = "";
    size_t used = 0, n = list ? h->cfg_count(list) : 0;
    if (n == 0)
        return h->cfg_error(cfg, key, "at least one broker (host:port) is needed");
    for (size_t i = 0; i < n; i++) {
        const char *b = h->cfg_scalar(h->cfg_item(list, i));
        if (b == NULL || *b == '\0')
            return h->cfg_error(cfg, key, "broker %zu is empty", i);
        int w = snprintf(brokers + used, sizeof brokers - used, "%s%s", i ? "," : "", b);
        if (w < 0 || (size_t)w >= sizeof brokers - used)
            return h->cfg_error(cfg, key, "broker list longer than %d bytes", KAFKA_BROKERS_MAX);
        used += (size_t)w;
    }
    return conf_set(ctx, cfg, key, conf, "bootstrap.servers", brokers);
}

rd_kafka_conf_t *kafka_conf_build(kafka_client_ctx *ctx, const pp_config *cfg,
                                  const pp_config *brokers, const pp_config *props,
                                  const char *const *defaults)
{
    const pp_host *h = ctx->host;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int bad = set_brokers(ctx, cfg, brokers, conf) != 0;
    for (size_t i = 0; defaults[i] != NULL; i += 2)
        bad |= conf_set(ctx, cfg, NULL, conf, defaults[i], defaults[i + 1]) != 0;

    size_t n = props ? h->cfg_count(props) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = h->cfg_key(props, i);
        const char *value = h->cfg_scalar(h->cfg_item(props, i));
        bad |= conf_set(ctx, props, name, conf, name, value ? value : "") != 0;
    }
    if (bad) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, ctx);
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    return conf;
}

int kafka_parse_int64(const void *text, size_t len, int64_t *out)
{
    char buf[KAFKA_INT64_TEXT_MAX];
    if (text == NULL || len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (int64_t)v;
    return 0;
}
