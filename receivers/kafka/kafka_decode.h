/* kafka_decode: one Kafka message (value and headers) into profiles, as
 * the kafka exporter writes them (kafka_client.h: the wire format). Apart
 * from the consumer so that it can be tested and fuzzed without a broker:
 * it needs only librdkafka's header list. */
#ifndef KAFKA_DECODE_H
#define KAFKA_DECODE_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>
#include <profpipe/plugin.h>

#include "kafka_client.h"

/* Decodes `payload` (borrowed) in encoding `enc` into b: one profile for
 * pprof, one per series for pyroscope_push. hdrs (borrowed; NULL for
 * none) give the window and labels (profpipe.from/until, profpipe.label.*);
 * without a window header the pprof's own time is used, else now.
 * Returns 0, or -1 with the reason in why (b may then hold some profiles:
 * the caller drops it). */
int kafka_decode_message(const pp_host *h, kafka_encoding enc, const rd_kafka_headers_t *hdrs,
                         const void *payload, size_t len, pp_batch *b, char *why, size_t cap);

#endif
