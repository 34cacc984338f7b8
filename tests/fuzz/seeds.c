/* fuzz_seeds: writes the seed corpora of the fuzz targets from real
 * inputs, so that no seed is a checked-in blob (seeds.sh gathers the
 * inputs and calls this once per kind):
 *
 *   fuzz_seeds profiles OUT PROFILE...   pprof, pyroscope_push,
 *                                        pyroscope_json, pyroscope_multipart,
 *                                        pyroscope_name, relabel, kafka,
 *                                        scrape_delta (every ordered pair
 *                                        of the profiles, plain; and each
 *                                        one beside a copy whose values are
 *                                        near INT64_MAX, for the sums)
 *   fuzz_seeds configs OUT FILE...       config, relabel (its rule sets)
 *   fuzz_seeds gopclntab OUT SECTION     perf_gopclntab: small tables made of
 *                                        the first functions of a real Go
 *                                        binary's table
 *   fuzz_seeds jfr OUT [RECORDING...]    pyroscope_jfr: the async-profiler
 *                                        shaped recording of the unit tests
 *                                        (tests/unit/jfr_writer.h), with and
 *                                        without its LabelsSnapshot, and any
 *                                        recording given (a JDK's)
 *
 * "profiles" also writes pyroscope_text seeds: each profile's stacks as a
 * folded body (function names root first, the first value) and as lines.
 *
 * Every seed is written in the input shape its harness reads (see each
 * tests/fuzz/<target>/fuzz.c). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "batch.h"
#include "config.h"
#include "config_internal.h"
#include "host.h"
#include "kafka_client.h"
#include "perf_gopclntab.h"
#include "pprof_codec.h"
#include "pprof_internal.h"
#include "push_codec.h"
#include "profile.h"
#include "push_codec.h"

#include "../unit/jfr_writer.h"

#define ERR_LEN 512
#define PATH_LEN 4096

static int seed_count;

static int write_seed(const char *out, const char *target, const char *name, const void *data,
                      size_t len)
{
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/%s", out, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return perror(path), -1;
    snprintf(path, sizeof path, "%s/%s/%s", out, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
        return perror(path), -1;
    seed_count++;
    return 0;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return perror(path), NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* A growing byte buffer for the seeds built from pieces. */
typedef struct seed_buf {
    uint8_t *data;
    size_t len, cap;
} seed_buf;

static void put(seed_buf *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2;
        b->data = realloc(b->data, b->cap);
        if (!b->data)
            abort();
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static void puts_buf(seed_buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_base64(seed_buf *b, const uint8_t *data, size_t len)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0) |
                     (i + 2 < len ? data[i + 2] : 0);
        char q[4] = {abc[v >> 18 & 63], abc[v >> 12 & 63], i + 1 < len ? abc[v >> 6 & 63] : '=',
                     i + 2 < len ? abc[v & 63] : '='};
        put(b, q, 4);
    }
}

/* ---------------------------------------------------------------- */
/* From real profiles                                                */
/* ---------------------------------------------------------------- */

/* A profile as a receiver would emit it: labels a scrape of this file
 * would give, window from the pprof. NULL if the file is no profile. */
static pp_profile *labelled_profile(const char *path, const uint8_t *data, size_t len)
{
    pp_profile *p = profile_new();
    char err[ERR_LEN];
    const pp_pprof *t;
    if (!p || profile_set_raw(p, data, len) != 0 || !(t = profile_tree(p, err, sizeof err))) {
        fprintf(stderr, "fuzz_seeds: %s: %s\n", path, p ? err : "out of memory");
        profile_free(p);
        return NULL;
    }
    profile_set_window(p, t->time_nanos, t->time_nanos + t->duration_nanos);
    profile_label_set(p, "__name__", pprof_family(t));
    profile_label_set(p, "service_name", "profgen");
    profile_label_set(p, "instance", "127.0.0.1:6060");
    profile_label_set(p, "job", "go");
    return p;
}

static void seed_push(const char *out, const char *name, pp_profile **ps, size_t n)
{
    uint8_t *push;
    size_t push_len;
    char err[ERR_LEN];
    if (push_encode(host_api(), ps, n, &push, &push_len, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_seeds: push_encode: %s\n", err);
        return;
    }
    write_seed(out, "pyroscope_push", name, push, push_len);
    free(push);
}

/* The connect JSON form of a PushRequest, as a JSON client writes it. */
static void seed_push_json(const char *out, const char *name, pp_profile **ps, size_t n)
{
    seed_buf b = {0};
    char err[ERR_LEN];
    puts_buf(&b, "{\"series\":[");
    for (size_t i = 0; i < n; i++) {
        puts_buf(&b, i ? ",{\"labels\":[" : "{\"labels\":[");
        for (size_t l = 0; l < profile_label_count(ps[i]); l++) {
            char pair[1024];
            snprintf(pair, sizeof pair, "%s{\"name\":\"%s\",\"value\":\"%s\"}", l ? "," : "",
                     profile_label_name(ps[i], l), profile_label_value(ps[i], l));
            puts_buf(&b, pair);
        }
        puts_buf(&b, "],\"samples\":[{\"rawProfile\":\"");
        const uint8_t *gz;
        size_t gz_len;
        if (profile_raw_gz(ps[i], &gz, &gz_len, err, sizeof err) == 0)
            put_base64(&b, gz, gz_len);
        puts_buf(&b, "\",\"ID\":\"seed\"}]}");
    }
    puts_buf(&b, "]}");
    write_seed(out, "pyroscope_json", name, b.data, b.len);
    free(b.data);
}

/* The Go SDK's /ingest body: profile, prev_profile and sample_type_config
 * parts; the harness reads "<Content-Type>\n<body>". */
static void seed_multipart(const char *out, const char *name, pp_profile *p)
{
    static const char boundary[] = "b0undaryF3b9a1c2";
    static const char type_config[] =
        "{\"alloc_objects\":{\"units\":\"objects\",\"cumulative\":true},"
        "\"alloc_space\":{\"units\":\"bytes\",\"cumulative\":true},"
        "\"inuse_objects\":{\"units\":\"objects\",\"aggregation\":\"average\"},"
        "\"inuse_space\":{\"units\":\"bytes\",\"aggregation\":\"average\"}}";
    const uint8_t *gz;
    size_t gz_len;
    char err[ERR_LEN], line[256];
    if (profile_raw_gz(p, &gz, &gz_len, err, sizeof err) != 0)
        return;
    seed_buf b = {0};
    snprintf(line, sizeof line, "multipart/form-data; boundary=%s\n", boundary);
    puts_buf(&b, line);
    const char *parts[] = {"profile", "prev_profile"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(line, sizeof line,
                 "--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s.pprof\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n",
                 boundary, parts[i], parts[i]);
        puts_buf(&b, line);
        put(&b, gz, gz_len);
        puts_buf(&b, "\r\n");
    }
    snprintf(line, sizeof line,
             "--%s\r\nContent-Disposition: form-data; name=\"sample_type_config\"; "
             "filename=\"sample_type_config.json\"\r\n"
             "Content-Type: application/octet-stream\r\n\r\n",
             boundary);
    puts_buf(&b, line);
    puts_buf(&b, type_config);
    snprintf(line, sizeof line, "\r\n--%s--\r\n", boundary);
    puts_buf(&b, line);
    write_seed(out, "pyroscope_multipart", name, b.data, b.len);
    free(b.data);
}

/* The /ingest `name` an SDK would send for this profile, its tags being
 * the profile's labels (the @pyroscope/nodejs SDK adds its own too). */
static void seed_name(const char *out, const char *name, pp_profile *p)
{
    seed_buf b = {0};
    puts_buf(&b, "profgen.");
    puts_buf(&b, profile_label_get(p, "__name__"));
    puts_buf(&b, "{process.runtime.name=go,otel.scope.name=profgen");
    for (size_t l = 0; l < profile_label_count(p); l++) {
        const char *k = profile_label_name(p, l);
        if (k[0] == '_')
            continue;
        puts_buf(&b, ",");
        puts_buf(&b, k);
        puts_buf(&b, "=");
        puts_buf(&b, profile_label_value(p, l));
    }
    puts_buf(&b, "}");
    write_seed(out, "pyroscope_name", name, b.data, b.len);
    free(b.data);
}

/* The harness's label lines ("name=value\n" each). */
static void put_labels(seed_buf *b, pp_profile *p)
{
    for (size_t l = 0; l < profile_label_count(p); l++) {
        puts_buf(b, profile_label_name(p, l));
        puts_buf(b, "=");
        puts_buf(b, profile_label_value(p, l));
        puts_buf(b, "\n");
    }
}

static void put_header(seed_buf *b, const char *name, const char *value)
{
    uint8_t n = (uint8_t)strlen(name), v = (uint8_t)strlen(value);
    put(b, &n, 1);
    put(b, name, n);
    put(b, &v, 1);
    put(b, value, v);
}

/* A Kafka message as the kafka exporter writes it, in the harness's
 * shape: encoding byte, header count, headers, value. */
static void seed_kafka(const char *out, const char *name, pp_profile *p, kafka_encoding enc)
{
    seed_buf b = {0};
    uint8_t head[2] = {(uint8_t)enc, (uint8_t)(profile_label_count(p) + 3)};
    char text[64], key[128];
    put(&b, head, 2);
    for (size_t l = 0; l < profile_label_count(p); l++) {
        snprintf(key, sizeof key, "%s%s", KAFKA_HDR_LABEL_PREFIX, profile_label_name(p, l));
        put_header(&b, key, profile_label_value(p, l));
    }
    snprintf(text, sizeof text, "%lld", (long long)profile_from(p));
    put_header(&b, KAFKA_HDR_FROM, text);
    snprintf(text, sizeof text, "%lld", (long long)profile_until(p));
    put_header(&b, KAFKA_HDR_UNTIL, text);
    put_header(&b, KAFKA_HDR_ENCODING, kafka_encoding_name(enc));
    char err[ERR_LEN];
    uint8_t *value = NULL;
    size_t value_len = 0;
    const uint8_t *gz;
    if (enc == KAFKA_ENC_PUSH) {
        if (push_encode(host_api(), &p, 1, &value, &value_len, err, sizeof err) == 0)
            put(&b, value, value_len);
        free(value);
    } else if (profile_raw_gz(p, &gz, &value_len, err, sizeof err) == 0) {
        put(&b, gz, value_len);
    }
    write_seed(out, "kafka", name, b.data, b.len);
    free(b.data);
}

/* Relabel: rules in the harness's shape, applied to this profile's labels. */
static const char *const relabel_rule_sets[] = {
    /* the processor README's own examples are added from the configs */
    "rules:\n  - {source_labels: [service_name], regex: \"(.*)gen\", target_label: app, "
    "replacement: \"${1}\"}\n  - {action: labelmap, regex: \"__(.+)\", replacement: \"x_$1\"}\n",
    "rules:\n  - {source_labels: [job, instance], separator: \"/\", target_label: id}\n"
    "  - {source_labels: [id], modulus: 8, target_label: shard, action: hashmod}\n"
    "  - {action: keep, source_labels: [shard], regex: \"[0-7]\"}\n",
};

/* ---------------------------------------------------------------- */
/* Folded and lines bodies, JFR recordings                          */
/* ---------------------------------------------------------------- */

#define TEXT_MAX_SAMPLES 200

static const pp_location *location_of(const pp_pprof *t, uint64_t id)
{
    for (size_t i = 0; i < t->n_locations; i++)
        if (t->locations[i].id == id)
            return &t->locations[i];
    return NULL;
}

static const char *function_name(const pp_pprof *t, uint64_t id)
{
    for (size_t i = 0; i < t->n_functions; i++)
        if (t->functions[i].id == id && t->functions[i].name >= 0 &&
            (size_t)t->functions[i].name < t->n_strings)
            return t->strings[t->functions[i].name];
    return "?";
}

/* pyroscope_text reads "<mode><budget><body>" (see its fuzz.c): folded
 * with count scale 1 and the 64 MiB budget, folded scaled as cpu at
 * 100 Hz with 1 MiB, and lines. */
static void seed_text(const char *out, const char *name, pp_profile *p)
{
    static const uint8_t modes[][2] = {{0, 3}, {2, 2}, {1, 3}};
    static const char *const suffixes[] = {"folded", "folded-cpu", "lines"};
    char err[ERR_LEN], file[PATH_LEN];
    const pp_pprof *t = profile_tree(p, err, sizeof err);
    if (!t)
        return;
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        seed_buf b = {0};
        put(&b, modes[m], 2);
        for (size_t i = 0; i < t->n_samples && i < TEXT_MAX_SAMPLES; i++) {
            const pp_sample *s = &t->samples[i];
            int frames = 0;
            for (size_t j = s->n_location_ids; j-- > 0;) {
                const pp_location *loc = location_of(t, s->location_ids[j]);
                for (size_t k = loc ? loc->n_lines : 0; k-- > 0;) {
                    puts_buf(&b, frames++ ? ";" : "");
                    puts_buf(&b, function_name(t, loc->lines[k].function_id));
                }
            }
            if (!frames)
                continue;
            char count[32];
            snprintf(count, sizeof count, " %lld\n",
                     (long long)(s->n_values && s->values[0] > 0 ? s->values[0] : 0));
            puts_buf(&b, modes[m][0] & 1 ? "\n" : count);
        }
        snprintf(file, sizeof file, "%s.%s", name, suffixes[m]);
        write_seed(out, "pyroscope_text", file, b.data, b.len);
        free(b.data);
    }
}

/* pyroscope_jfr reads "<flags><rate>[<labels length><labels>]<recording>"
 * (see its fuzz.c). */
static void seed_jfr_one(const char *out, const char *name, const uint8_t *labels,
                         size_t labels_len, const uint8_t *rec, size_t rec_len)
{
    seed_buf b = {0};
    uint8_t head[4] = {(uint8_t)(labels ? 1 | 6 : 6), 1, (uint8_t)(labels_len >> 8),
                       (uint8_t)labels_len};
    put(&b, head, labels ? 4 : 2);
    if (labels)
        put(&b, labels, labels_len);
    put(&b, rec, rec_len);
    write_seed(out, "pyroscope_jfr", name, b.data, b.len);
    free(b.data);
}

static int seed_jfr(const char *out, int argc, char **argv)
{
    wbuf rec = recording(), one = {0};
    w_chunk(&one, 0);
    uint8_t snap[256];
    size_t snap_len = snapshot(snap);
    seed_jfr_one(out, "async-profiler", NULL, 0, rec.b, rec.n);
    seed_jfr_one(out, "async-profiler.labels", snap, snap_len, rec.b, rec.n);
    seed_jfr_one(out, "async-profiler.chunk", snap, snap_len, one.b, one.n);
    free(rec.b);
    free(one.b);
    for (int i = 0; i < argc; i++) {
        size_t len;
        uint8_t *data = read_file(argv[i], &len);
        if (!data)
            return 1;
        seed_jfr_one(out, base_name(argv[i]), NULL, 0, data, len);
        free(data);
    }
    return 0;
}

/* Two scrapes of one series, as the scrape_delta harness splits them. */
#define SCRAPE_DELTA_SEP "\n#next-scrape\n"

static void seed_scrape_pair(const char *out, const char *name, const void *a, size_t a_len,
                             const void *b, size_t b_len)
{
    seed_buf s = {0};
    put(&s, a, a_len);
    puts_buf(&s, SCRAPE_DELTA_SEP);
    put(&s, b, b_len);
    write_seed(out, "scrape_delta", name, s.data, s.len);
    free(s.data);
}

/* The profile with every value made INT64_MAX - 2^20 plus its low 20
 * bits (encoded, plain; NULL if it does not decode): a sample copied
 * next to itself then overflows a sum. */
static uint8_t *near_max(const seed_buf *plain, size_t *len)
{
    pp_profile *p = profile_new();
    char err[ERR_LEN];
    pp_pprof *t = p && profile_set_raw(p, plain->data, plain->len) == 0
                      ? profile_tree_mut(p, err, sizeof err)
                      : NULL;
    uint8_t *bytes = NULL;
    if (t) {
        for (size_t i = 0; i < t->n_samples; i++)
            for (size_t j = 0; j < t->samples[i].n_values; j++)
                t->samples[i].values[j] =
                    INT64_MAX - (1 << 20) + (t->samples[i].values[j] & 0xfffff);
        if (pprof_encode(t, &bytes, len) != 0)
            bytes = NULL;
    }
    profile_free(p);
    return bytes;
}

static void seed_scrape_pairs(const char *out, char **names, seed_buf *plain, int n)
{
    char name[PATH_LEN];
    for (int i = 0; i < n; i++) {
        if (!plain[i].data)
            continue;
        for (int j = 0; j < n; j++) {
            if (!plain[j].data)
                continue;
            snprintf(name, sizeof name, "%s+%s", base_name(names[i]), base_name(names[j]));
            seed_scrape_pair(out, name, plain[i].data, plain[i].len, plain[j].data, plain[j].len);
        }
        size_t big_len;
        uint8_t *big = near_max(&plain[i], &big_len);
        if (big) {
            snprintf(name, sizeof name, "%s+near-max", base_name(names[i]));
            seed_scrape_pair(out, name, plain[i].data, plain[i].len, big, big_len);
            free(big);
        }
    }
}

static int seed_profiles(const char *out, int argc, char **argv)
{
    pp_profile **all = calloc((size_t)argc, sizeof *all);
    seed_buf *plains = calloc((size_t)argc, sizeof *plains);
    size_t n_all = 0;
    for (int i = 0; i < argc; i++) {
        size_t len;
        uint8_t *data = read_file(argv[i], &len);
        if (!data)
            return 1;
        const char *base = base_name(argv[i]);
        char name[PATH_LEN];
        write_seed(out, "pprof", base, data, len);
        uint8_t *plain;
        size_t plain_len;
        char err[ERR_LEN];
        if (gz_gunzip(data, len, PROFILE_MAX_DECOMPRESSED, &plain, &plain_len, NULL, err,
                      sizeof err) == 0) {
            snprintf(name, sizeof name, "%s.plain", base);
            write_seed(out, "pprof", name, plain, plain_len);
            if (plains)
                put(&plains[i], plain, plain_len);
            free(plain);
        }
        pp_profile *p = labelled_profile(argv[i], data, len);
        free(data);
        if (!p)
            continue;
        all[n_all++] = p;
        seed_push(out, base, &p, 1);
        seed_push_json(out, base, &p, 1);
        seed_multipart(out, base, p);
        seed_name(out, base, p);
        seed_text(out, base, p);
        seed_kafka(out, base, p, KAFKA_ENC_PPROF);
        snprintf(name, sizeof name, "%s.push", base);
        seed_kafka(out, name, p, KAFKA_ENC_PUSH);
        for (size_t r = 0; r < sizeof relabel_rule_sets / sizeof *relabel_rule_sets; r++) {
            seed_buf b = {0};
            puts_buf(&b, relabel_rule_sets[r]);
            puts_buf(&b, "#labels\n");
            put_labels(&b, p);
            snprintf(name, sizeof name, "%s.%zu", base, r);
            write_seed(out, "relabel", name, b.data, b.len);
            free(b.data);
        }
    }
    if (n_all > 1) {
        seed_push(out, "all-series", all, n_all);
        seed_push_json(out, "all-series", all, n_all);
    }
    if (plains) {
        seed_scrape_pairs(out, argv, plains, argc);
        for (int i = 0; i < argc; i++)
            free(plains[i].data);
    }
    for (size_t i = 0; i < n_all; i++)
        profile_free(all[i]);
    free(all);
    free(plains);
    return 0;
}

/* ---------------------------------------------------------------- */
/* From configs                                                      */
/* ---------------------------------------------------------------- */

/* Writes a node as YAML flow text (strings double-quoted as JSON). */
static void put_flow(seed_buf *b, const pp_config *n)
{
    if (n->kind == PP_NODE_SCALAR) {
        puts_buf(b, "\"");
        for (const char *s = n->text ? n->text : ""; *s; s++) {
            char esc[8];
            if (*s == '"' || *s == '\\')
                snprintf(esc, sizeof esc, "\\%c", *s);
            else if ((unsigned char)*s < 0x20)
                snprintf(esc, sizeof esc, "\\x%02x", (unsigned char)*s);
            else
                snprintf(esc, sizeof esc, "%c", *s);
            puts_buf(b, esc);
        }
        puts_buf(b, "\"");
        return;
    }
    int map = n->kind == PP_NODE_MAPPING;
    puts_buf(b, map ? "{" : "[");
    for (size_t i = 0; i < n->n; i++) {
        if (i)
            puts_buf(b, ", ");
        if (map) {
            put_flow(b, n->keys[i]);
            puts_buf(b, ": ");
        }
        put_flow(b, n->items[i]);
    }
    puts_buf(b, map ? "}" : "]");
}

static int seed_configs(const char *out, int argc, char **argv)
{
    static const char labels[] =
        "#labels\n__name__=process_cpu\nservice_name=checkout\ninstance=10.0.0.7:6060\n"
        "job=go\nnamespace=prod\npod=checkout-7d9f\n";
    for (int i = 0; i < argc; i++) {
        size_t len;
        uint8_t *text = read_file(argv[i], &len);
        if (!text)
            return 1;
        const char *base = base_name(argv[i]);
        write_seed(out, "config", base, text, len);
        char *cstr = malloc(len + 1);
        memcpy(cstr, text, len);
        cstr[len] = '\0';
        free(text);
        config *c = config_load_string(cstr, argv[i]);
        free(cstr);
        for (size_t k = 0; c && k < c->n_components; k++) {
            config_component *cc = &c->components[k];
            if (cc->kind != PP_PROCESSOR || strcmp(cc->type, "relabel") != 0)
                continue;
            seed_buf b = {0};
            put_flow(&b, cc->node);
            puts_buf(&b, "\n");
            puts_buf(&b, labels);
            char name[PATH_LEN];
            snprintf(name, sizeof name, "%s.%zu", base, k);
            write_seed(out, "relabel", name, b.data, b.len);
            free(b.data);
        }
        config_free(c);
    }
    return 0;
}

/* ---------------------------------------------------------------- */
/* From a Go binary's .gopclntab                                     */
/* ---------------------------------------------------------------- */

#define GO120_MAGIC 0xfffffff1u
#define SMALL_SIZES 3

typedef struct go_func {
    uint64_t entry, size;
    char name[256];
} go_func;

typedef struct go_funcs {
    go_func *f;
    size_t n, cap;
} go_funcs;

static int keep_func(void *arg, uint64_t addr, uint64_t size, const char *name)
{
    go_funcs *g = arg;
    if (g->n == g->cap)
        return -1;
    g->f[g->n].entry = addr;
    g->f[g->n].size = size;
    snprintf(g->f[g->n].name, sizeof g->f[g->n].name, "%s", name);
    g->n++;
    return 0;
}

static void put_u32(seed_buf *b, uint32_t v)
{
    put(b, &v, 4); /* little-endian, like the table */
}

static void put_u64(seed_buf *b, uint64_t v)
{
    put(b, &v, 8);
}

/* A Go 1.20 layout table of the first n functions read from the real one:
 * header, name table, function table, _func records. */
static void seed_small_table(const char *out, const go_func *f, size_t n)
{
    seed_buf names = {0};
    uint32_t *name_off = calloc(n, sizeof *name_off);
    for (size_t i = 0; i < n; i++) {
        name_off[i] = (uint32_t)names.len;
        put(&names, f[i].name, strlen(f[i].name) + 1);
    }
    const uint64_t header = 8 + 8 * 8, names_at = header;
    const uint64_t pcln_at = names_at + names.len;
    const uint64_t text_start = f[0].entry;
    seed_buf b = {0};
    put_u32(&b, GO120_MAGIC);
    uint8_t pad_quantum_ptr[4] = {0, 0, 1, 8};
    put(&b, pad_quantum_ptr, 4);
    uint64_t words[8] = {n, 0, text_start, names_at, pcln_at, pcln_at, pcln_at, pcln_at};
    for (int i = 0; i < 8; i++)
        put_u64(&b, words[i]);
    put(&b, names.data, names.len);
    const uint64_t funcs_at = (n + 1) * 8; /* from pcln: after the rows */
    for (size_t i = 0; i <= n; i++) {
        uint64_t entry = i < n ? f[i].entry : f[n - 1].entry + f[n - 1].size;
        put_u32(&b, (uint32_t)(entry - text_start));
        put_u32(&b, (uint32_t)(funcs_at + (i < n ? i : n - 1) * 8));
    }
    for (size_t i = 0; i < n; i++) {
        put_u32(&b, (uint32_t)(f[i].entry - text_start));
        put_u32(&b, name_off[i]);
    }
    char name[64];
    snprintf(name, sizeof name, "first-%zu", n);
    write_seed(out, "perf_gopclntab", name, b.data, b.len);
    free(b.data);
    free(names.data);
    free(name_off);
}

static int seed_gopclntab(const char *out, const char *path)
{
    static const size_t sizes[SMALL_SIZES] = {1, 8, 64};
    size_t len;
    uint8_t *data = read_file(path, &len);
    if (!data)
        return 1;
    go_funcs g = {.cap = 64};
    g.f = calloc(g.cap, sizeof *g.f);
    perf_gopclntab_read(data, len, keep_func, &g);
    for (int i = 0; i < SMALL_SIZES; i++)
        if (sizes[i] <= g.n)
            seed_small_table(out, g.f, sizes[i]);
    free(g.f);
    free(data);
    return g.n ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 4 && !(argc == 3 && strcmp(argv[1], "jfr") == 0)) {
        fprintf(stderr, "usage: fuzz_seeds profiles|configs|gopclntab|jfr OUT FILE...\n");
        return 2;
    }
    int rc;
    if (strcmp(argv[1], "profiles") == 0)
        rc = seed_profiles(argv[2], argc - 3, argv + 3);
    else if (strcmp(argv[1], "configs") == 0)
        rc = seed_configs(argv[2], argc - 3, argv + 3);
    else if (strcmp(argv[1], "gopclntab") == 0)
        rc = seed_gopclntab(argv[2], argv[3]);
    else if (strcmp(argv[1], "jfr") == 0)
        rc = seed_jfr(argv[2], argc - 3, argv + 3);
    else
        rc = 2;
    printf("fuzz_seeds %s: %d seeds\n", argv[1], seed_count);
    return rc;
}
