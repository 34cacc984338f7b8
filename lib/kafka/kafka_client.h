/* kafka_client: what the kafka exporter and the kafka receiver share, so
 * that the two ends of the wire agree by construction rather than by copy:
 * the header names of the wire format (see README.md), the encoding names,
 * and the building of a librdkafka configuration from our options (broker
 * list, our defaults, then the user's raw properties, each one checked by
 * librdkafka itself so that a misspelt property is a config error naming
 * it) with librdkafka's logs routed into the host's log.
 *
 * Built as its own static library in lib/kafka (pp_kafka_client) that
 * both components link; it is not a component, and either component
 * builds without the other. Only the two kafka components include
 * librdkafka. */
#ifndef PROFPIPE_KAFKA_CLIENT_H
#define PROFPIPE_KAFKA_CLIENT_H

#include <librdkafka/rdkafka.h>
#include <profpipe/plugin.h>

/* Wire format headers (values are UTF-8 text). */
#define KAFKA_HDR_LABEL_PREFIX "profpipe.label."
#define KAFKA_HDR_FROM "profpipe.from"   /* Unix ns, decimal */
#define KAFKA_HDR_UNTIL "profpipe.until" /* Unix ns, decimal */
#define KAFKA_HDR_TYPE "profpipe.profile_type"
#define KAFKA_HDR_ENCODING "profpipe.encoding"

typedef enum kafka_encoding {
    KAFKA_ENC_PPROF = 0,
    KAFKA_ENC_PUSH = 1,
} kafka_encoding;

/* The names, indexed by kafka_encoding, NULL-terminated: an option
 * table's enum_values. */
extern const char *const kafka_encoding_names[];
/* 0 and *out set, or -1 for an unknown name. */
int kafka_encoding_parse(const char *name, kafka_encoding *out);
const char *kafka_encoding_name(kafka_encoding enc);

/* Every state handed to librdkafka as its opaque starts with this, so the
 * log and error callbacks can reach the host. */
typedef struct kafka_client_ctx {
    const pp_host *host;
    pp_instance *self;
} kafka_client_ctx;

/* Builds a configuration: bootstrap.servers from `brokers` (the string
 * list the component's table filled from cfg's `brokers` option), then
 * `defaults` (name, value pairs ending with NULL), then the raw properties
 * of the map `props` (NULL: none). Every error is reported with
 * host->cfg_error at the key concerned. The ctx is set as opaque and the
 * log callback installed. Returns a configuration the caller owns, or
 * NULL. */
rd_kafka_conf_t *kafka_conf_build(kafka_client_ctx *ctx, const pp_config *cfg,
                                  const pp_config *brokers, const pp_config *props,
                                  const char *const *defaults);

/* Parses a decimal int64 header value; 0, or -1 if it is not one. */
int kafka_parse_int64(const void *text, size_t len, int64_t *out);

#endif
