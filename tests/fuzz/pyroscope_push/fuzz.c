/* Fuzz target: the push API handlers of the pyroscope receiver, called
 * directly (no HTTP): a body starting with '{' goes to the connect JSON
 * handler, any other to the protobuf one (push.v1.PushRequest). The
 * receiver is made from real options by the component harness, not
 * started. A 200 must have emitted at most one batch whose profiles all
 * carry service_name and __name__; a refusal emits nothing. */
#include "fuzz_support.h"
#include "harness.h"
#include "pyroscope_receiver.h"

extern const pp_component pp_receiver_pyroscope;

#define RECEIVER_OPTIONS                                                                           \
    "endpoint: 127.0.0.1:1\nmax_request_body_size: 4MiB\nmax_decompressed_size: 16MiB\n"           \
    "tenant_label: tenant\n"

static harness *receiver;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char err[256];
    receiver = harness_new(&pp_receiver_pyroscope, "pyroscope", RECEIVER_OPTIONS, err, sizeof err);
    if (!receiver) {
        fprintf(stderr, "pyroscope receiver: %s\n", err);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    const pp_host *h = harness_host();
    int json = len > 0 && data[0] == '{';
    pyro_request q = {
        .r = harness_state(receiver),
        .body = data,
        .len = len,
        .content_type = json ? "application/json" : "application/proto",
        .tenant = "fuzz-tenant",
    };
    pyro_reply reply = {0};
    int rc = json ? pyro_handle_push_json(&q, &reply) : pyro_handle_push_proto(&q, &reply);
    FUZZ_CHECK((rc == 0) == (reply.status == HTTP_OK), "rc %d with status %d", rc, reply.status);
    FUZZ_CHECK(reply.status == HTTP_OK || reply.message[0], "status %d without a message",
               reply.status);
    size_t batches = 0;
    pp_batch *b;
    while ((b = harness_wait_emit(receiver, 0)) != NULL) {
        batches++;
        for (size_t i = 0; i < h->batch_count(b); i++) {
            pp_profile *p = h->batch_get(b, i);
            FUZZ_CHECK(h->label_get(p, PYRO_LABEL_SERVICE) && h->label_get(p, PYRO_LABEL_NAME),
                       "profile %zu emitted without service_name or __name__", i);
        }
        h->batch_unref(b);
    }
    /* an empty PushRequest is a 200 that emits nothing */
    FUZZ_CHECK(batches <= (reply.status == HTTP_OK ? 1u : 0u), "%zu batches for status %d: %s",
               batches, reply.status, reply.message);
    return 0;
}
