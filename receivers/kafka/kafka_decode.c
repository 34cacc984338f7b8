/* kafka_decode: a Kafka message into profiles (see kafka_decode.h).
 *
 * Headers are checked before the value is decoded: a window header that
 * is not a decimal number, or a label header without a name or with a NUL
 * in its value, makes the message undecodable (the consumer skips it as
 * poison) rather than half-labelled. */
#include "kafka_decode.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "push_codec.h"

#define ERR_MAX 256

/* The window the headers give; only what they set. */
typedef struct message_meta {
    int64_t from_ns, until_ns;
    int has_from, has_until;
} message_meta;

/* Applies the wire format's headers to p (NULL: window only); -1 with
 * why on a bad one. */
static int apply_headers(const pp_host *h, const rd_kafka_headers_t *hdrs, pp_profile *p,
                         message_meta *meta, char *why, size_t cap)
{
    static const size_t prefix_len = sizeof KAFKA_HDR_LABEL_PREFIX - 1;
    memset(meta, 0, sizeof *meta);
    if (hdrs == NULL)
        return 0; /* none: labels come from the profile and the host */
    const char *name;
    const void *value;
    size_t size;
    for (size_t i = 0;
         rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         i++) {
        if (strcmp(name, KAFKA_HDR_FROM) == 0) {
            if (kafka_parse_int64(value, size, &meta->from_ns) != 0)
                return snprintf(why, cap, "header %s is not a number", name), -1;
            meta->has_from = 1;
        } else if (strcmp(name, KAFKA_HDR_UNTIL) == 0) {
            if (kafka_parse_int64(value, size, &meta->until_ns) != 0)
                return snprintf(why, cap, "header %s is not a number", name), -1;
            meta->has_until = 1;
        } else if (p != NULL && strncmp(name, KAFKA_HDR_LABEL_PREFIX, prefix_len) == 0) {
            if (name[prefix_len] == '\0' || value == NULL || memchr(value, '\0', size))
                return snprintf(why, cap, "header %s is not a label", name), -1;
            char *text = strndup(value, size);
            int rc = text ? h->label_set(p, name + prefix_len, text) : -1;
            free(text);
            if (rc != 0)
                return snprintf(why, cap, "label from header %s refused", name), -1;
        }
    }
    return 0;
}

/* The window: from the headers, else from the pprof's own time (its end
 * saturates: time and duration are whatever the sender wrote), else now. */
static void set_window(const pp_host *h, pp_profile *p, const pp_pprof *t, const message_meta *meta)
{
    int64_t from = meta->has_from ? meta->from_ns : t->time_nanos;
    int64_t until = meta->until_ns;
    if (!meta->has_until && __builtin_add_overflow(from, t->duration_nanos, &until))
        until = t->duration_nanos > 0 ? INT64_MAX : INT64_MIN;
    if (from == 0) {
        from = h->now_ns();
        until = from;
    }
    h->profile_set_window(p, from, until);
}

/* The value is read in one streaming pass (host->pprof_peek: inflated
 * through a fixed buffer, never decoded), which proves it a pprof as far
 * as that pass can tell and gives its time and sample types: a relay
 * carries the bytes as they came, and whatever needs the tree decodes it
 * later. */
static int decode_pprof(const pp_host *h, const rd_kafka_headers_t *hdrs, const void *payload,
                        size_t len, pp_batch *b, char *why, size_t cap)
{
    pp_profile *p = h->profile_new();
    message_meta meta;
    char err[ERR_MAX];
    pp_pprof *t = NULL;
    size_t plain_len;
    pp_err kind;
    if (p == NULL)
        return snprintf(why, cap, "out of memory"), -1;
    if (apply_headers(h, hdrs, p, &meta, why, cap) != 0)
        goto fail;
    if (len == 0 ||
        (t = h->pprof_peek(payload, len, SIZE_MAX, &plain_len, &kind, err, sizeof err)) == NULL) {
        snprintf(why, cap, "not a pprof profile: %s", len ? err : "empty value");
        goto fail;
    }
    /* the name the host would give it (ensure_series_labels), without the tree */
    const char *family = NULL;
    if (!h->label_get(p, "__name__") && !(family = h->pprof_family(t)))
        family = "unknown";
    if (h->profile_set_raw(p, payload, len) != 0 ||
        (family && h->label_set(p, "__name__", family) != 0)) {
        snprintf(why, cap, "out of memory");
        goto fail;
    }
    set_window(h, p, t, &meta);
    free(t);
    return h->batch_add(b, p); /* takes p, even on failure */
fail:
    free(t);
    h->profile_free(p);
    return -1;
}

static int decode_push(const pp_host *h, const rd_kafka_headers_t *hdrs, const void *payload,
                       size_t len, pp_batch *b, char *why, size_t cap)
{
    message_meta meta;
    char err[ERR_MAX];
    if (apply_headers(h, hdrs, NULL, &meta, why, cap) != 0)
        return -1;
    if (push_decode(h, payload, len, b, err, sizeof err) != 0)
        return snprintf(why, cap, "not a PushRequest: %s", err), -1;
    if (h->batch_count(b) == 0)
        return snprintf(why, cap, "a PushRequest without profiles"), -1;
    for (size_t i = 0; i < h->batch_count(b); i++) {
        pp_profile *p = h->batch_get(b, i);
        const pp_pprof *t = h->profile_tree(p, err, sizeof err);
        if (t == NULL)
            return snprintf(why, cap, "series %zu is not a pprof profile: %s", i, err), -1;
        if (h->batch_count(b) == 1)
            set_window(h, p, t, &meta);
    }
    return 0;
}

int kafka_decode_message(const pp_host *h, kafka_encoding enc, const rd_kafka_headers_t *hdrs,
                         const void *payload, size_t len, pp_batch *b, char *why, size_t cap)
{
    return enc == KAFKA_ENC_PPROF ? decode_pprof(h, hdrs, payload, len, b, why, cap)
                                  : decode_push(h, hdrs, payload, len, b, why, cap);
}
