/* Tests of the pyroscope receiver through tests/support/harness.h and real HTTP
 * (libcurl) on loopback: what a profile emitted from /ingest and from the
 * push API carries (service_name without a type suffix, tags, __name__
 * from the sample types or the suffix, __delta__, pyroscope_spy, tenant,
 * window in every time unit SDKs use), that refused requests emit
 * nothing, that all the profiles of one push share one
 * max_decompressed_size budget, checked before the request is decoded,
 * and that bearer_token keeps out every other Authorization. The status of
 * a refusal follows the kind of the failure, never its message: the
 * receiver then runs on a copy of the host's table whose gunzip and
 * pprof_time fail with a kind and a wording each test chooses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"
#include "metrics.h"
#include "unit_support.h"

#include "../../receivers/pyroscope/pyroscope_receiver.h"

extern const pp_component pp_receiver_pyroscope;

#define SEC 1000000000LL
#define T0 (1700000000LL * SEC)
#define EMIT_MS 5000
#define NO_EMIT_MS 300

typedef struct fixture {
    harness *hs;
    int port;
    char base[64];
} fixture;

/* A port nobody listens on now (the kernel picks it). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A started receiver on a fresh port with `options` after its endpoint. */
static int setup_with(void **state, const char *options)
{
    fixture *f = calloc(1, sizeof *f);
    f->port = free_port();
    char yaml[256], err[256];
    snprintf(yaml, sizeof yaml, "endpoint: 127.0.0.1:%d\n%s", f->port, options);
    f->hs = harness_new(&pp_receiver_pyroscope, "pyroscope", yaml, err, sizeof err);
    if (!f->hs) {
        fprintf(stderr, "harness: %s\n", err);
        return -1;
    }
    if (harness_start(f->hs) < 0)
        return -1;
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", f->port);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, "tenant_label: tenant\nmax_labels: 8");
}

static int setup_sessions(void **state)
{
    return setup_with(state, "max_sessions_per_series: 4");
}

static int setup_bearer(void **state)
{
    return setup_with(state, "bearer_token: t0k3n");
}

static int setup_small_budget(void **state)
{
    return setup_with(state, "max_decompressed_size: 64KiB");
}

#define TOO_LARGE_WORDS "reworded: nothing here says how big"
#define GUNZIP_LIMIT_WORDS "gzip: decompressed size exceeds the limit of 5 bytes"
#define SCAN_LIMIT_WORDS "profile inflates to more than 5 bytes"
#define GZ_JUNK "\x1f\x8b\x08\x00junk"

/* What the double's gunzip and pprof_time answer. */
static pp_err fail_kind;
static const char *fail_words;
static pp_host double_host;

static int fail_gunzip(const void *in, size_t in_len, size_t max_out, uint8_t **out,
                       size_t *out_len, pp_err *kind, char *err, size_t errlen)
{
    (void)in, (void)in_len, (void)max_out;
    *out = NULL;
    *out_len = 0;
    if (kind)
        *kind = fail_kind;
    snprintf(err, errlen, "%s", fail_words);
    return -1;
}

static pp_pprof *fail_pprof_peek(const void *data, size_t len, size_t max_plain, size_t *plain_len,
                                 pp_err *kind, char *err, size_t errlen)
{
    (void)data, (void)len, (void)max_plain;
    *plain_len = 0;
    if (kind)
        *kind = fail_kind;
    snprintf(err, errlen, "%s", fail_words);
    return NULL;
}

static int fail_pprof_time(const void *data, size_t len, int64_t *t, int64_t *d, pp_err *kind,
                           char *err, size_t errlen)
{
    (void)data, (void)len;
    *t = *d = 0;
    if (kind)
        *kind = fail_kind;
    snprintf(err, errlen, "%s", fail_words);
    return -1;
}

/* A receiver that talks to the double host; swapped in before start, so
 * its threads are made after the write. */
static int setup_double_host(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->port = free_port();
    char yaml[128], err[256];
    snprintf(yaml, sizeof yaml, "endpoint: 127.0.0.1:%d\n", f->port);
    f->hs = harness_new(&pp_receiver_pyroscope, "pyroscope", yaml, err, sizeof err);
    if (!f->hs) {
        fprintf(stderr, "harness: %s\n", err);
        return -1;
    }
    double_host = *harness_host();
    double_host.gunzip = fail_gunzip;
    double_host.pprof_time = fail_pprof_time;
    double_host.pprof_peek = fail_pprof_peek;
    ((pyro_receiver *)harness_state(f->hs))->h = &double_host;
    if (harness_start(f->hs) < 0)
        return -1;
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", f->port);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    harness_free(f->hs);
    free(f);
    return 0;
}

/* The gzip'd pprof of a one-sample profile of the given sample type. */
static uint8_t *profile_bytes(const char *type, const char *unit, size_t *len)
{
    return unit_one_sample_gz(type, unit, 42, T0, 10 * SEC, len);
}

/* The start of the last answer's body, NUL-terminated. */
static char post_answer[512];
static size_t post_answer_len;

static size_t discard(char *d, size_t s, size_t n, void *arg)
{
    (void)arg;
    size_t room = sizeof post_answer - 1 - post_answer_len, take = s * n < room ? s * n : room;
    memcpy(post_answer + post_answer_len, d, take);
    post_answer_len += take;
    post_answer[post_answer_len] = '\0';
    return s * n;
}

/* Authorization and Content-Encoding header values post() sends, when
 * not NULL. */
static const char *post_auth;
static const char *post_encoding;

/* POSTs body to base+path; returns the HTTP status. */
static long post(const fixture *f, const char *path, const char *ctype, const char *tenant,
                 const void *body, size_t len)
{
    char url[1024], h1[128], h2[128], h3[128], h4[128];
    snprintf(url, sizeof url, "%s%s", f->base, path);
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    snprintf(h1, sizeof h1, "Content-Type: %s", ctype);
    hl = curl_slist_append(hl, h1);
    if (tenant) {
        snprintf(h2, sizeof h2, "X-Scope-OrgID: %s", tenant);
        hl = curl_slist_append(hl, h2);
    }
    if (post_auth) {
        snprintf(h3, sizeof h3, "Authorization: %s", post_auth);
        hl = curl_slist_append(hl, h3);
    }
    if (post_encoding) {
        snprintf(h4, sizeof h4, "Content-Encoding: %s", post_encoding);
        hl = curl_slist_append(hl, h4);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    post_answer_len = 0;
    post_answer[0] = '\0';
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return status;
}

static void assert_label(pp_profile *p, const char *name, const char *want)
{
    const char *got = harness_host()->label_get(p, name);
    if (!got || strcmp(got, want) != 0)
        fail_msg("label %s: got %s, want %s", name, got ? got : "(none)", want);
}

/* The one profile of the next emitted batch (the caller unrefs b). */
static pp_profile *next_profile(fixture *f, pp_batch **b)
{
    *b = harness_wait_emit(f->hs, EMIT_MS);
    assert_non_null(*b);
    assert_int_equal(harness_host()->batch_count(*b), 1);
    return harness_host()->batch_get(*b, 0);
}

static void ingest_labels_and_window(void **state)
{
    fixture *f = *state;
    const pp_host *h = harness_host();
    size_t len;
    uint8_t *cpu = profile_bytes("cpu", "nanoseconds", &len);
    assert_int_equal(post(f,
                          "/ingest?name=shop.cpu%7Bregion%3Deu%2Cpod%3Dp1%7D&from=1700000000"
                          "&until=1700000010&format=pprof&spyName=gospy",
                          "application/octet-stream", "t9", cpu, len),
                     200);
    pp_batch *b;
    pp_profile *p = next_profile(f, &b);
    assert_label(p, "service_name", "shop");
    assert_label(p, "__name__", "process_cpu");
    assert_label(p, "region", "eu");
    assert_label(p, "pod", "p1");
    assert_label(p, "__delta__", "false");
    assert_label(p, "pyroscope_spy", "gospy");
    assert_label(p, "tenant", "t9");
    assert_int_equal(h->label_count(p), 7);
    assert_int_equal(h->profile_from(p), T0);
    assert_int_equal(h->profile_until(p), T0 + 10 * SEC);
    h->batch_unref(b);

    /* milliseconds, as some SDKs send; no from/until: the pprof's own */
    assert_int_equal(post(f, "/ingest?name=a&from=1700000000000&until=1700000005000",
                          "application/octet-stream", NULL, cpu, len) == 400,
                     1);
    assert_int_equal(post(f, "/ingest?name=a&format=pprof&from=1700000000000&until=1700000005000",
                          "application/octet-stream", NULL, cpu, len),
                     200);
    p = next_profile(f, &b);
    assert_int_equal(h->profile_from(p), T0);
    assert_int_equal(h->profile_until(p), T0 + 5 * SEC);
    assert_null(h->label_get(p, "tenant"));
    h->batch_unref(b);
    assert_int_equal(
        post(f, "/ingest?name=a&format=pprof", "application/octet-stream", NULL, cpu, len), 200);
    p = next_profile(f, &b);
    assert_int_equal(h->profile_from(p), T0);
    assert_int_equal(h->profile_until(p), T0 + 10 * SEC);
    h->batch_unref(b);
    free(cpu);
}

static void family_from_types_or_suffix(void **state)
{
    fixture *f = *state;
    const pp_host *h = harness_host();
    size_t len;
    uint8_t *odd = profile_bytes("things", "count", &len);
    assert_int_equal(post(f, "/ingest?name=svc.goroutines&format=pprof", "application/octet-stream",
                          NULL, odd, len),
                     200);
    pp_batch *b;
    pp_profile *p = next_profile(f, &b);
    assert_label(p, "service_name", "svc");
    assert_label(p, "__name__", "goroutine");
    h->batch_unref(b);
    /* neither the types nor the name tell */
    assert_int_equal(
        post(f, "/ingest?name=svc&format=pprof", "application/octet-stream", NULL, odd, len), 400);
    free(odd);

    size_t wl;
    uint8_t *wall = profile_bytes("wall", "nanoseconds", &wl);
    assert_int_equal(
        post(f, "/ingest?name=node&format=pprof", "application/octet-stream", NULL, wall, wl), 200);
    p = next_profile(f, &b);
    assert_label(p, "__name__", "wall");
    h->batch_unref(b);
    free(wall);
    assert_null(harness_wait_emit(f->hs, NO_EMIT_MS));
}

/* Writes the base64 of data at out (room for 4/3 of len + 4); returns
 * the characters written. */
static size_t base64_put(char *out, const uint8_t *data, size_t len)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    return o;
}

static void push_json_labels_as_sent(void **state)
{
    fixture *f = *state;
    const pp_host *h = harness_host();
    size_t len;
    uint8_t *cpu = profile_bytes("cpu", "nanoseconds", &len);
    size_t cap = len * 2 + 512;
    char *json = malloc(cap);
    size_t o = (size_t)snprintf(json, cap,
                                "{\"series\":[{\"labels\":[{\"name\":\"service_name\",\"value\":"
                                "\"api\"},{\"name\":\"__name__\",\"value\":\"custom\"},{\"name\":"
                                "\"__delta__\",\"value\":\"false\"}],\"samples\":[{\"ID\":\"1\","
                                "\"raw_profile\":\"");
    o += base64_put(json + o, cpu, len);
    o += (size_t)snprintf(json + o, cap - o, "\"}]}]}");
    assert_int_equal(post(f, "/push.v1.PusherService/Push", "application/json", "t1", json, o),
                     200);
    pp_batch *b;
    pp_profile *p = next_profile(f, &b);
    assert_label(p, "service_name", "api");
    assert_label(p, "__name__", "custom"); /* kept as sent */
    assert_label(p, "__delta__", "false");
    assert_label(p, "tenant", "t1");
    assert_int_equal(h->profile_from(p), T0);
    assert_int_equal(h->profile_until(p), T0 + 10 * SEC);
    h->batch_unref(b);
    free(json);
    free(cpu);
}

static void refused_requests_emit_nothing(void **state)
{
    fixture *f = *state;
    size_t len;
    uint8_t *cpu = profile_bytes("cpu", "nanoseconds", &len);
    assert_int_equal(post(f, "/nope", "application/octet-stream", NULL, cpu, len), 404);
    assert_int_equal(
        post(f, "/ingest?name=a%7Bb&format=pprof", "application/octet-stream", NULL, cpu, len),
        400);
    /* max_labels: 8 counts service_name, __name__, __delta__ too */
    assert_int_equal(post(f,
                          "/ingest?name=a%7Bk1%3D1%2Ck2%3D2%2Ck3%3D3%2Ck4%3D4%2Ck5%3D5%2Ck6"
                          "%3D6%7D&format=pprof",
                          "application/octet-stream", NULL, cpu, len),
                     400);
    assert_int_equal(
        post(f, "/ingest?name=a&format=pprof", "application/octet-stream", NULL, cpu, len / 2),
        400);
    const char *bad_b64 = "{\"series\":[{\"labels\":[{\"name\":\"__name__\",\"value\":"
                          "\"x\"}],\"samples\":[{\"rawProfile\":\"!!\"}]}]}";
    assert_int_equal(
        post(f, "/push.v1.PusherService/Push", "application/json", NULL, bad_b64, strlen(bad_b64)),
        400);
    assert_null(harness_wait_emit(f->hs, NO_EMIT_MS));
    free(cpu);
}

#define WIRE_LEN_FIELD(n) ((uint8_t)((n) << 3 | 2))
#define BUDGET_PROFILE_TEXT 30000 /* a profile inflating to ~30 KiB of a 64 KiB budget */
#define BOMB_SIZE (1u << 20)

/* Appends protobuf field `field` (length-delimited) holding data at out. */
static size_t pb_put(uint8_t *out, unsigned field, const void *data, size_t len)
{
    size_t o = 0;
    out[o++] = WIRE_LEN_FIELD(field);
    for (size_t v = len;; v >>= 7) {
        out[o++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        if (v < 0x80)
            break;
    }
    memcpy(out + o, data, len);
    return o + len;
}

/* A PushRequest of one series {service_name="svc"} whose samples are the
 * n raw profiles (malloc'd; *len its size), written by hand so that any
 * bytes can be a raw profile. */
static uint8_t *push_request(uint8_t *const *raws, const size_t *lens, size_t n, size_t *len)
{
    size_t cap = 256;
    for (size_t i = 0; i < n; i++)
        cap += lens[i] + 64;
    uint8_t *series = malloc(cap), *req = malloc(cap + 16), label[64];
    size_t nl = pb_put(label, 1, "service_name", strlen("service_name"));
    nl += pb_put(label + nl, 2, "svc", 3);
    size_t ns = pb_put(series, 1, label, nl);
    for (size_t i = 0; i < n; i++) {
        uint8_t *sample = malloc(lens[i] + 16);
        size_t k = pb_put(sample, 1, raws[i], lens[i]);
        ns += pb_put(series + ns, 2, sample, k);
        free(sample);
    }
    *len = pb_put(req, 1, series, ns);
    free(series);
    return req;
}

/* A valid cpu profile inflating to a little over BUDGET_PROFILE_TEXT bytes
 * (a long unit name), gzip'd. */
static uint8_t *fat_profile(size_t *len)
{
    char *unit = malloc(BUDGET_PROFILE_TEXT + 1);
    memset(unit, 'n', BUDGET_PROFILE_TEXT);
    unit[BUDGET_PROFILE_TEXT] = 0;
    uint8_t *out = profile_bytes("cpu", unit, len);
    free(unit);
    return out;
}

/* max_decompressed_size: 64KiB. A raw profile inflating to 1 MiB is 413
 * (not the codec's 400 for a bad pprof: the check comes first), and so
 * are three ~30 KiB profiles in one request, in protobuf or JSON, while
 * two of them are taken. */
static void push_profiles_share_one_budget(void **state)
{
    fixture *f = *state;
    const pp_host *h = harness_host();
    uint8_t *zeros = calloc(1, BOMB_SIZE), *bomb, *fat[3];
    size_t bomb_len, fat_len[3], len;
    assert_int_equal(h->gzip(zeros, BOMB_SIZE, &bomb, &bomb_len), 0);
    free(zeros);
    uint8_t *req = push_request(&bomb, &bomb_len, 1, &len);
    assert_int_equal(post(f, "/push.v1.PusherService/Push", "application/proto", NULL, req, len),
                     413);
    free(req);
    free(bomb);

    for (int i = 0; i < 3; i++)
        fat[i] = fat_profile(&fat_len[i]);
    req = push_request(fat, fat_len, 3, &len);
    assert_int_equal(post(f, "/push.v1.PusherService/Push", "application/proto", NULL, req, len),
                     413);
    free(req);
    assert_null(harness_wait_emit(f->hs, NO_EMIT_MS));

    size_t cap = 3 * fat_len[0] * 2 + 512;
    char *json = malloc(cap);
    size_t o = (size_t)snprintf(json, cap,
                                "{\"series\":[{\"labels\":[{\"name\":"
                                "\"service_name\",\"value\":\"svc\"}],\"samples\":[");
    for (int i = 0; i < 3; i++) {
        o += (size_t)snprintf(json + o, cap - o, "%s{\"rawProfile\":\"", i ? "," : "");
        o += base64_put(json + o, fat[i], fat_len[i]);
        o += (size_t)snprintf(json + o, cap - o, "\"}");
    }
    o += (size_t)snprintf(json + o, cap - o, "]}]}");
    assert_int_equal(post(f, "/push.v1.PusherService/Push", "application/json", NULL, json, o),
                     413);
    free(json);
    assert_null(harness_wait_emit(f->hs, NO_EMIT_MS));

    req = push_request(fat, fat_len, 2, &len);
    assert_int_equal(post(f, "/push.v1.PusherService/Push", "application/proto", NULL, req, len),
                     200);
    free(req);
    pp_batch *b = harness_wait_emit(f->hs, EMIT_MS);
    assert_non_null(b);
    assert_int_equal(h->batch_count(b), 2);
    assert_label(h->batch_get(b, 0), "service_name", "svc");
    assert_label(h->batch_get(b, 0), "__name__", "process_cpu");
    h->batch_unref(b);
    for (int i = 0; i < 3; i++)
        free(fat[i]);
}

/* The refusals counted under `reason` so far. */
static double refused(const fixture *f, const char *reason)
{
    char labels[96];
    snprintf(labels, sizeof labels, "reason=\"%s\"", reason);
    return metrics_value(harness_host()->metric(
        harness_instance(f->hs), "pyroscope_refused_requests_total", "", PP_COUNTER, labels));
}

#define MP_BOUNDARY "b0uNd4ry"

/* A multipart form as pyroscope-go's upload writes it (upstream/remote,
 * v1.4.2 and v0.x): `profile`, then `prev_profile` (v0.x only), then
 * `sample_type_config`, each a form file. Returns the body's length. */
static size_t go_sdk_form(uint8_t *out, const uint8_t *prof, size_t plen, const uint8_t *prev,
                          size_t prevlen, const char *stc)
{
    size_t o = 0;
    o += (size_t)sprintf((char *)out + o,
                         "--" MP_BOUNDARY "\r\nContent-Disposition: form-data; name=\"profile\"; "
                         "filename=\"profile.pprof\"\r\nContent-Type: "
                         "application/octet-stream\r\n\r\n");
    memcpy(out + o, prof, plen);
    o += plen;
    if (prev) {
        o += (size_t)sprintf((char *)out + o,
                             "\r\n--" MP_BOUNDARY "\r\nContent-Disposition: form-data; "
                             "name=\"prev_profile\"; filename=\"profile.pprof\"\r\n"
                             "Content-Type: application/octet-stream\r\n\r\n");
        memcpy(out + o, prev, prevlen);
        o += prevlen;
    }
    if (stc)
        o += (size_t)sprintf((char *)out + o,
                             "\r\n--" MP_BOUNDARY "\r\nContent-Disposition: form-data; "
                             "name=\"sample_type_config\"; filename=\"sample_type_config.json\""
                             "\r\nContent-Type: application/octet-stream\r\n\r\n%s",
                             stc);
    o += (size_t)sprintf((char *)out + o, "\r\n--" MP_BOUNDARY "--\r\n");
    return o;
}

#define GO_SDK_NAME                                                                                \
    "/ingest?name=gosvc%7B__session_id__%3D1f2e3d4c5b6a7988%2C__internal%3Dx%2Cenv%3Dprod%2C"      \
    "otel.scope.name%3Dcom.grafana.pyroscope%2Fgo%2Cprocess.runtime.name%3Dgo%7D"                  \
    "&from=1700000000000000000&until=1700000010000000000&spyName=gospy"
#define GO_SDK_CTYPE "multipart/form-data; boundary=" MP_BOUNDARY

/* Posts one Go SDK form of a one-type profile and returns the emitted
 * profile's value (its batch in *b). */
static pp_profile *go_sdk_post(fixture *f, const char *type, const char *unit, int64_t value,
                               int64_t prev_value, const char *stc, pp_batch **b)
{
    size_t len, prevlen = 0;
    uint8_t *prof = unit_one_sample_gz(type, unit, value, T0, 10 * SEC, &len);
    uint8_t *prev = prev_value ? unit_one_sample_gz(type, unit, prev_value, T0, 0, &prevlen) : NULL;
    uint8_t *body = malloc(len + prevlen + 2048);
    size_t n = go_sdk_form(body, prof, len, prev, prevlen, stc);
    assert_int_equal(post(f, GO_SDK_NAME, GO_SDK_CTYPE, NULL, body, n), 200);
    free(body);
    free(prof);
    free(prev);
    return next_profile(f, b);
}

static int64_t only_value(pp_profile *p)
{
    char err[128];
    const pp_pprof *t = harness_host()->profile_tree(p, err, sizeof err);
    assert_non_null(t);
    int64_t sum = 0;
    for (size_t i = 0; i < t->n_samples; i++)
        sum += t->samples[i].values[0];
    return sum;
}

/* pyroscope-go's uploads, named as Pyroscope names them: the display
 * names of sample_type_config tell block from mutex, with and without
 * prev_profile; __session_id__ is dropped (max_sessions_per_series 0),
 * other private tags too, and dots in tag keys become underscores. */
static void go_sdk_uploads(void **state)
{
    fixture *f = *state;
    const pp_host *h = harness_host();
    static const struct {
        const char *type, *unit, *stc, *want;
        int64_t prev;
    } cases[] = {
        {"contentions", "count",
         "{\"contentions\":{\"units\":\"lock_samples\",\"display-name\":\"mutex_count\"},"
         "\"delay\":{\"units\":\"lock_nanoseconds\",\"display-name\":\"mutex_duration\"}}",
         "mutex", 0},
        {"contentions", "count",
         "{\"contentions\":{\"units\":\"lock_samples\",\"display-name\":\"block_count\"},"
         "\"delay\":{\"units\":\"lock_nanoseconds\",\"display-name\":\"block_duration\"}}",
         "block", 0},
        {"delay", "nanoseconds",
         "{\"contentions\":{\"display-name\":\"block_count\",\"cumulative\":true},"
         "\"delay\":{\"display-name\":\"block_duration\",\"cumulative\":true}}",
         "block", 10},
        {"delay", "nanoseconds",
         "{\"contentions\":{\"display-name\":\"mutex_count\",\"cumulative\":true},"
         "\"delay\":{\"display-name\":\"mutex_duration\",\"cumulative\":true}}",
         "mutex", 10},
        {"goroutine", "count",
         "{\"goroutine\":{\"display-name\":\"goroutines\",\"units\":\"goroutines\","
         "\"aggregation\":\"average\"}}",
         "goroutines", 0},
        {"inuse_space", "bytes",
         "{\"inuse_space\":{\"units\":\"bytes\",\"aggregation\":\"average\"}}", "memory", 0},
        {"cpu", "nanoseconds", NULL, "process_cpu", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pp_batch *b;
        pp_profile *p =
            go_sdk_post(f, cases[i].type, cases[i].unit, 42, cases[i].prev, cases[i].stc, &b);
        assert_label(p, "__name__", cases[i].want);
        assert_int_equal(only_value(p), 42 - cases[i].prev);
        assert_label(p, "service_name", "gosvc");
        assert_label(p, "env", "prod");
        assert_label(p, "otel_scope_name", "com.grafana.pyroscope/go");
        assert_label(p, "process_runtime_name", "go");
        assert_label(p, "pyroscope_spy", "gospy");
        assert_null(h->label_get(p, "__session_id__"));
        assert_null(h->label_get(p, "__internal"));
        assert_null(h->label_get(p, "otel.scope.name"));
        assert_int_equal(h->profile_from(p), T0);
        h->batch_unref(b);
    }
}

/* max_sessions_per_series: 4 keeps __session_id__ as the id modulo 4,
 * written as the SDK writes ids (16 hex digits, little endian). */
static void go_sdk_session_kept(void **state)
{
    fixture *f = *state;
    pp_batch *b;
    pp_profile *p = go_sdk_post(f, "cpu", "nanoseconds", 1, 0, NULL, &b);
    /* 1f2e3d4c5b6a7988 little endian = 0x88796a5b4c3d2e1f; mod 4 = 3 */
    assert_label(p, "__session_id__", "0300000000000000");
    harness_host()->batch_unref(b);
}

/* Dotted names that meet an underscored one: the same value merges, a
 * different one is refused; the session id does not count against
 * max_labels (8 here) once it is dropped. */
static void labels_as_pyroscope_leaves_them(void **state)
{
    fixture *f = *state;
    const pp_host *h = harness_host();
    size_t len;
    uint8_t *cpu = profile_bytes("cpu", "nanoseconds", &len);
    double before = refused(f, "invalid_labels");
    assert_int_equal(post(f, "/ingest?name=a%7Bk.x%3D1%2Ck_x%3D2%7D&format=pprof",
                          "application/octet-stream", NULL, cpu, len),
                     400);
    assert_true(refused(f, "invalid_labels") == before + 1);
    assert_int_equal(post(f, "/ingest?name=a%7Bk.x%3D1%2Ck_x%3D1%7D&format=pprof",
                          "application/octet-stream", NULL, cpu, len),
                     200);
    pp_batch *b;
    pp_profile *p = next_profile(f, &b);
    assert_label(p, "k_x", "1");
    assert_null(h->label_get(p, "k.x"));
    h->batch_unref(b);
    /* service_name, __name__, __delta__, pyroscope_spy + 4 tags = 8, and
     * __session_id__ the 9th, dropped before counting */
    assert_int_equal(post(f,
                          "/ingest?name=a%7Bt1%3D1%2Ct2%3D2%2Ct3%3D3%2Ct4%3D4%2C"
                          "__session_id__%3D0011223344556677%7D&format=pprof",
                          "application/octet-stream", NULL, cpu, len),
                     200);
    p = next_profile(f, &b);
    assert_int_equal(h->label_count(p), 8);
    h->batch_unref(b);
    free(cpu);
}

/* A PushRequest of one series with `labels` (name, value pairs) and one
 * raw profile. */
static size_t push_one(uint8_t *out, const char *const *labels, size_t n_labels, const void *raw,
                       size_t raw_len)
{
    uint8_t series[4096], pair[512], sample[2048];
    size_t so = 0;
    for (size_t i = 0; i < n_labels; i++) {
        size_t po = pb_put(pair, 1, labels[2 * i], strlen(labels[2 * i]));
        po += pb_put(pair + po, 2, labels[2 * i + 1], strlen(labels[2 * i + 1]));
        so += pb_put(series + so, 1, pair, po);
    }
    size_t sl = pb_put(sample, 1, raw, raw_len);
    so += pb_put(series + so, 2, sample, sl);
    return pb_put(out, 1, series, so);
}

/* A push whose raw profile no decoder reads is refused (400) with or
 * without __name__, nothing is emitted, and the refusal is counted. */
static void push_undecodable_refused(void **state)
{
    fixture *f = *state;
    static const char *const named[] = {"service_name", "svc", "__name__", "process_cpu"};
    static const uint8_t zeros[] = {0, 0};
    /* string_table [""] and a Function whose id is 0 */
    static const uint8_t fn_id0[] = {0x32, 0x00, 0x2a, 0x00};
    const struct {
        const void *raw;
        size_t len;
    } raws[] = {{zeros, sizeof zeros}, {fn_id0, sizeof fn_id0}};
    double before = refused(f, "invalid_profile");
    int posts = 0;
    for (size_t r = 0; r < 2; r++)
        for (size_t n_labels = 1; n_labels <= 2; n_labels++) {
            uint8_t req[4096];
            size_t len = push_one(req, named, n_labels, raws[r].raw, raws[r].len);
            assert_int_equal(
                post(f, "/push.v1.PusherService/Push", "application/proto", NULL, req, len), 400);
            posts++;
        }
    assert_null(harness_wait_emit(f->hs, NO_EMIT_MS));
    assert_true(refused(f, "invalid_profile") == before + posts);
}

/* A raw profile that names a location that does not exist: the
 * streaming pass tells (its ids are 1..n), so it is refused with or
 * without __name__ in its series, where it used to be taken undecoded
 * with __name__ and lost at the first decode. */
static void push_dangling_reference_refused(void **state)
{
    fixture *f = *state;
    static const char *const named[] = {"service_name", "svc", "__name__", "process_cpu"};
    /* sample_type {1, 2}, sample {location_id 99, value 5}, strings "", "cpu", "ns" */
    static const uint8_t dangling[] = {0x0a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x12, 0x04,
                                       0x08, 0x63, 0x10, 0x05, 0x32, 0x00, 0x32, 0x03,
                                       'c',  'p',  'u',  0x32, 0x02, 'n',  's'};
    double before = refused(f, "invalid_profile");
    for (size_t n_labels = 1; n_labels <= 2; n_labels++) {
        uint8_t req[4096];
        size_t len = push_one(req, named, n_labels, dangling, sizeof dangling);
        assert_int_equal(
            post(f, "/push.v1.PusherService/Push", "application/proto", NULL, req, len), 400);
        if (!strstr(post_answer, "unknown location id 99"))
            fail_msg("the answer does not name the reference: %s", post_answer);
    }
    assert_null(harness_wait_emit(f->hs, NO_EMIT_MS));
    assert_true(refused(f, "invalid_profile") == before + 2);
}

/* from/until that overflow once scaled to nanoseconds: 400, not a
 * negative window. */
static void ingest_time_overflow(void **state)
{
    fixture *f = *state;
    size_t len;
    uint8_t *cpu = profile_bytes("cpu", "nanoseconds", &len);
    static const char *const bad[] = {
        "/ingest?name=a&format=pprof&from=17000000000080",
        "/ingest?name=a&format=pprof&from=1700000000&until=99999999999999999",
        "/ingest?name=a&format=pprof&from=99999999999999999999",
        "/ingest?name=a&format=pprof&from=-5",
    };
    double before = refused(f, "invalid_time_range");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(post(f, bad[i], "application/octet-stream", NULL, cpu, len), 400);
    assert_null(harness_wait_emit(f->hs, NO_EMIT_MS));
    assert_true(refused(f, "invalid_time_range") == before + 4);
    free(cpu);
}

/* The one sample whose leaf-to-root frame names, joined by ';' root
 * first, are `stack`: its value, or -1. */
static int64_t stack_value(pp_profile *p, const char *stack)
{
    const pp_host *h = harness_host();
    char err[128], got[512];
    const pp_pprof *t = h->profile_tree(p, err, sizeof err);
    for (size_t i = 0; i < t->n_samples; i++) {
        size_t o = 0;
        got[0] = '\0';
        for (size_t k = t->samples[i].n_location_ids; k > 0; k--) {
            const pp_location *loc = h->pprof_location(p, t->samples[i].location_ids[k - 1]);
            const pp_function *fn = h->pprof_function(p, loc->lines[0].function_id);
            o += (size_t)snprintf(got + o, sizeof got - o, "%s%s", o ? ";" : "",
                                  t->strings[fn->name]);
        }
        if (strcmp(got, stack) == 0)
            return t->samples[i].values[0];
    }
    return -1;
}

static void assert_type(pp_profile *p, const char *type, const char *unit)
{
    char err[128];
    const pp_pprof *t = harness_host()->profile_tree(p, err, sizeof err);
    assert_int_equal(t->n_sample_types, 1);
    assert_string_equal(t->strings[t->sample_types[0].type], type);
    assert_string_equal(t->strings[t->sample_types[0].unit], unit);
}

/* folded (the default without a format) and lines, converted as
 * Pyroscope's ingest adapter converts them. */
static void ingest_text_formats(void **state)
{
    fixture *f = *state;
    const pp_host *h = harness_host();
    const char folded[] = "main;work;hash 3\r\nmain;work 2\n\nmain;work;hash 4\nno-count\n";
    assert_int_equal(post(f, "/ingest?name=txt%7Benv%3Dqa%7D&from=1700000000&until=1700000010",
                          "application/octet-stream", NULL, folded, strlen(folded)),
                     200);
    pp_batch *b;
    pp_profile *p = next_profile(f, &b);
    assert_label(p, "__name__", "process_cpu");
    assert_label(p, "service_name", "txt");
    assert_label(p, "env", "qa");
    assert_label(p, "pyroscope_spy", "unknown");
    assert_type(p, "cpu", "nanoseconds"); /* sampleRate 100: counts x 10 ms */
    assert_int_equal(stack_value(p, "main;work;hash"), 7 * 10000000LL);
    assert_int_equal(stack_value(p, "main;work"), 2 * 10000000LL);
    char err[128];
    const pp_pprof *t = h->profile_tree(p, err, sizeof err);
    assert_int_equal(t->period, 10000000);
    assert_string_equal(t->strings[t->period_type.type], "cpu");
    assert_int_equal(t->n_functions, 3);
    h->batch_unref(b);

    const char lines[] = "a;b\na;b\na\n";
    assert_int_equal(post(f, "/ingest?name=txt.alloc_space&format=lines&sampleRate=50",
                          "text/plain", NULL, lines, strlen(lines)),
                     200);
    p = next_profile(f, &b);
    assert_label(p, "__name__", "memory");
    assert_type(p, "alloc_space", "bytes");
    assert_int_equal(stack_value(p, "a;b"), 2);
    assert_int_equal(stack_value(p, "a"), 1);
    h->batch_unref(b);

    assert_int_equal(post(f, "/ingest?name=svc.wall&format=folded&sampleRate=0", "text/plain", NULL,
                          "x;y 5\n", 6),
                     200);
    p = next_profile(f, &b);
    assert_label(p, "__name__", "wall");
    assert_type(p, "samples", "count");
    assert_int_equal(stack_value(p, "x;y"), 5);
    h->batch_unref(b);

    double before = refused(f, "invalid_profile");
    assert_int_equal(post(f, "/ingest?name=svc", "text/plain", NULL, "x;y 5x\n", 7), 400);
    assert_int_equal(post(f, "/ingest?name=svc", "text/plain", NULL, "x;y -5\n", 7), 400);
    assert_int_equal(post(f, "/ingest?name=svc", "text/plain", NULL, "x;y\n", 4), 400);
    assert_int_equal(post(f, "/ingest?name=svc", "text/plain", NULL, "x 99999999999999999\n", 20),
                     400); /* overflows once scaled by the 10 ms period */
    assert_true(refused(f, "invalid_profile") == before + 4);
    assert_int_equal(post(f, "/ingest?name=my.app", "text/plain", NULL, "x 1\n", 4), 400);
    assert_int_equal(post(f, "/ingest?name=svc&format=speedscope", "text/plain", NULL, "{}", 2),
                     400);
    assert_null(harness_wait_emit(f->hs, NO_EMIT_MS));
}

/* bearer_token: only "Authorization: Bearer <token>" gets in. */
static void bearer_token_required(void **state)
{
    fixture *f = *state;
    size_t len;
    uint8_t *cpu = profile_bytes("cpu", "nanoseconds", &len);
    static const char *refused[] = {NULL, "Bearer wrong", "Bearer t0k3n2", "Basic dTp0MGszbg=="};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        post_auth = refused[i];
        assert_int_equal(
            post(f, "/ingest?name=a&format=pprof", "application/octet-stream", NULL, cpu, len),
            401);
    }
    assert_null(harness_wait_emit(f->hs, NO_EMIT_MS));
    post_auth = "Bearer t0k3n";
    assert_int_equal(
        post(f, "/ingest?name=a&format=pprof", "application/octet-stream", NULL, cpu, len), 200);
    post_auth = NULL;
    pp_batch *b;
    next_profile(f, &b);
    harness_host()->batch_unref(b);
    free(cpu);
}

/* The status of one request with the double failing as (kind, words). */
static long post_failing(const fixture *f, pp_err kind, const char *words, const char *path,
                         const char *ctype, const char *encoding, const void *body, size_t len)
{
    fail_kind = kind;
    fail_words = words;
    post_encoding = encoding;
    long status = post(f, path, ctype, NULL, body, len);
    post_encoding = NULL;
    return status;
}

/* 413 when the double fails with PP_ERR_TOO_LARGE worded with nothing
 * about size; 400 when it fails with PP_ERR_INVALID worded as the old
 * size error was. */
static void assert_kind_picks_status(const fixture *f, const char *path, const char *ctype,
                                     const char *encoding, const void *body, size_t len,
                                     const char *size_words)
{
    assert_int_equal(
        post_failing(f, PP_ERR_TOO_LARGE, TOO_LARGE_WORDS, path, ctype, encoding, body, len), 413);
    assert_int_equal(post_failing(f, PP_ERR_INVALID, size_words, path, ctype, encoding, body, len),
                     400);
}

static void kind_picks_status_gzip_profile(void **state)
{
    assert_kind_picks_status(*state, "/ingest?name=app&format=pprof", "application/octet-stream",
                             NULL, GZ_JUNK, sizeof GZ_JUNK - 1, GUNZIP_LIMIT_WORDS);
}

static void kind_picks_status_gzip_body(void **state)
{
    assert_kind_picks_status(*state, "/push.v1.PusherService/Push", "application/proto", "gzip",
                             GZ_JUNK, sizeof GZ_JUNK - 1, GUNZIP_LIMIT_WORDS);
}

static void kind_picks_status_gzip_jfr(void **state)
{
    assert_kind_picks_status(*state, "/ingest?name=app&format=jfr", "application/octet-stream",
                             NULL, GZ_JUNK, sizeof GZ_JUNK - 1, GUNZIP_LIMIT_WORDS);
}

/* A push of one raw profile, not gzip'd, so only the codec's pprof_time
 * reads it. */
static void kind_picks_status_push_profile(void **state)
{
    uint8_t buf[64];
    size_t len = unit_push_one_raw("\x08\x01", 2, buf);
    assert_kind_picks_status(*state, "/push.v1.PusherService/Push", "application/proto", NULL, buf,
                             len, SCAN_LIMIT_WORDS);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(ingest_labels_and_window, setup, teardown),
        cmocka_unit_test_setup_teardown(family_from_types_or_suffix, setup, teardown),
        cmocka_unit_test_setup_teardown(push_json_labels_as_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_requests_emit_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(push_profiles_share_one_budget, setup_small_budget,
                                        teardown),
        cmocka_unit_test_setup_teardown(bearer_token_required, setup_bearer, teardown),
        cmocka_unit_test_setup_teardown(go_sdk_uploads, setup, teardown),
        cmocka_unit_test_setup_teardown(go_sdk_session_kept, setup_sessions, teardown),
        cmocka_unit_test_setup_teardown(labels_as_pyroscope_leaves_them, setup, teardown),
        cmocka_unit_test_setup_teardown(push_undecodable_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(push_dangling_reference_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(ingest_time_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(ingest_text_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(kind_picks_status_gzip_profile, setup_double_host,
                                        teardown),
        cmocka_unit_test_setup_teardown(kind_picks_status_gzip_body, setup_double_host, teardown),
        cmocka_unit_test_setup_teardown(kind_picks_status_gzip_jfr, setup_double_host, teardown),
        cmocka_unit_test_setup_teardown(kind_picks_status_push_profile, setup_double_host,
                                        teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
