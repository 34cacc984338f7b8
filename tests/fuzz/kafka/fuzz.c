/* Fuzz target: Kafka message decoding (receivers/kafka/kafka_decode.c)
 * with librdkafka's real header list. The input is: a byte whose low bit
 * picks the encoding (pprof or pyroscope_push), a byte with the header
 * count, then per header a length byte and the name, a length byte and
 * the value (length 255: a NULL value, as librdkafka gives for a header
 * without one), and the rest is the message value. A decoded message
 * yields profiles that all have a tree. */
#include <librdkafka/rdkafka.h>

#include "fuzz_support.h"
#include "harness.h"
#include "kafka_decode.h"

#define NULL_VALUE 255
#define NAME_MAX_LEN 255

/* Reads one length-prefixed field; NULL when the input is short. */
static const uint8_t *take(const uint8_t **p, const uint8_t *end, size_t *len)
{
    if (*p >= end)
        return NULL;
    *len = **p;
    (*p)++;
    if (*len == NULL_VALUE)
        return *p; /* no bytes follow */
    if ((size_t)(end - *p) < *len)
        return NULL;
    const uint8_t *at = *p;
    *p += *len;
    return at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 2)
        return 0;
    const pp_host *h = harness_host();
    kafka_encoding enc = (data[0] & 1) ? KAFKA_ENC_PUSH : KAFKA_ENC_PPROF;
    size_t n_headers = data[1];
    const uint8_t *p = data + 2, *end = data + len;
    rd_kafka_headers_t *hdrs = n_headers ? rd_kafka_headers_new(n_headers) : NULL;
    for (size_t i = 0; i < n_headers; i++) {
        size_t name_len, value_len;
        const uint8_t *name = take(&p, end, &name_len);
        if (!name || name_len == NULL_VALUE)
            break;
        const uint8_t *value = take(&p, end, &value_len);
        if (!value)
            break;
        char name_text[NAME_MAX_LEN + 1];
        memcpy(name_text, name, name_len);
        name_text[name_len] = '\0';
        rd_kafka_header_add(hdrs, name_text, (ssize_t)name_len,
                            value_len == NULL_VALUE ? NULL : value,
                            value_len == NULL_VALUE ? 0 : (ssize_t)value_len);
    }
    /* the value in a buffer of its own size, so ASan sees a read past it */
    size_t value_len = (size_t)(end - p);
    uint8_t *value = malloc(value_len ? value_len : 1);
    if (value) {
        memcpy(value, p, value_len);
        pp_batch *b = h->batch_new();
        char why[512] = "";
        if (b && kafka_decode_message(h, enc, hdrs, value, value_len, b, why, sizeof why) == 0) {
            FUZZ_CHECK(h->batch_count(b) > 0, "decoded into no profile");
            for (size_t i = 0; i < h->batch_count(b); i++)
                FUZZ_CHECK(h->profile_tree(h->batch_get(b, i), why, sizeof why) != NULL,
                           "profile %zu lost its tree: %s", i, why);
        } else if (b) {
            FUZZ_CHECK(why[0] != '\0', "refused without a reason");
        }
        if (b)
            h->batch_unref(b);
        free(value);
    }
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    return 0;
}
