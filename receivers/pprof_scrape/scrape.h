/* scrape: what the pprof_scrape receiver's files share.
 *
 * The receiver is split by concern:
 *   scrape.c          the component: option table, create/start/stop/destroy,
 *                     options turned into a scrape_config;
 *   scrape_targets.c  target specs (static and file_sd), label building,
 *                     transport settings resolved per target;
 *   scrape_sd.c       file_sd files read with libyaml (JSON is YAML too);
 *   scrape_delta.c    cumulative sample types turned into per-interval deltas;
 *   scrape_check.c    a cheap "is this body a pprof at all" check;
 *   scrape_loop.c     the one thread: a libcurl multi event loop (epoll) for
 *                     every target and profile type, and its schedule;
 *   scrape_set.c      the target set: built from specs, diffed, file_sd;
 *   scrape_result.c   a finished request: failures, metrics, the profile.
 *                     (these three share scrape_loop.h)
 *
 * Config data (scrape_config and what it points to) is built in create()
 * and only read afterwards. Everything in scrape_loop is owned by the loop
 * thread alone, so nothing here takes a lock. */
#ifndef SCRAPE_H
#define SCRAPE_H

#include <stddef.h>
#include <stdint.h>

#include <profpipe/plugin.h>

#include "http_client.h"
#include "protowire.h"

/* One name/value pair (series label, query parameter); both owned. */
typedef http_client_kv scrape_kv;

/* One profile type to fetch from every target (profiling_config). */
typedef struct scrape_ptype {
    char *name;       /* `__name__` of what it yields: process_cpu, memory, ... */
    char *path;       /* path_prefix + path, as requested */
    int seconds;      /* Alloy's `delta`: the request carries ?seconds=N */
    int server_delta; /* godeltaprof: the target already sends deltas */
} scrape_ptype;

/* How to reach a target: auth, TLS, proxy, headers (lib/http_client).
 * Job-wide, or a target's own copy with its overrides applied. */
typedef http_client_settings scrape_transport;

/* A target as written (static `targets` item or a file_sd entry). */
typedef struct scrape_spec {
    char *address; /* "host:port" or a URL */
    scrape_kv *labels;
    size_t n_labels;
    scrape_transport *transport; /* overrides, NULL = the job's */
} scrape_spec;

typedef struct scrape_config {
    char *job;    /* job_name; default the component id */
    char *scheme; /* "http" | "https" */
    int64_t interval_ns;
    int64_t timeout_ns;
    int64_t profiling_seconds; /* ?seconds= of the `delta` profile types */
    int64_t body_size_limit;   /* bytes; 0 = none */
    scrape_kv *params;         /* extra query parameters; a name may repeat */
    size_t n_params;
    scrape_transport transport;
    scrape_ptype *ptypes;
    size_t n_ptypes;
    scrape_spec *specs; /* static targets */
    size_t n_specs;
    char **sd_files; /* file_sd.files (glob patterns) */
    size_t n_sd_files;
    int64_t sd_refresh_ns;
} scrape_config;

/* --- scrape_targets.c --- */

void scrape_kv_free(scrape_kv *kv, size_t n);
void scrape_spec_clear(scrape_spec *s);
void scrape_config_free(scrape_config *c);

/* The series labels of a target's profiles, `__name__` aside: the
 * target's labels without reserved `__*` ones, plus `job` and `instance`
 * unless the target sets them, plus `service_name` (the target's label,
 * else the job). Sorted by name, names unique. 0, or -1 out of memory. */
int scrape_target_labels(const char *job, const char *instance, const scrape_kv *in, size_t n_in,
                         scrape_kv **out, size_t *n_out);

/* Where a target lives: address "host:port" or a URL with scheme, host,
 * port and path prefix. Fills the scheme (default_scheme unless the URL
 * has one), `instance` (host:port, port added from the scheme when
 * missing) and `prefix` (URL path without trailing '/', "" if none).
 * 0, or -1 with the reason in err. Strings malloc'd. */
int scrape_parse_address(const char *address, const char *default_scheme, char **scheme,
                         char **instance, char **prefix, char *err, size_t errlen);

/* --- scrape_sd.c --- */

/* Reads a Prometheus file_sd file (JSON or YAML): a list of
 * {targets: [addr...], labels: {k: v}}. Appends one spec per address.
 * 0, or -1 with the reason (file, line) in err; nothing appended then. */
int scrape_sd_read(const char *path, scrape_spec **specs, size_t *n_specs, char *err,
                   size_t errlen);

/* --- scrape_check.c --- */

/* How much of a bad body a reason quotes. */
#define SCRAPE_QUOTE_BYTES 24

/* A walk over a pprof's top-level fields, fed in pieces of any size. */
typedef struct scrape_walk {
    wire_stream wire;
    uint8_t head[SCRAPE_QUOTE_BYTES]; /* the first bytes, for the reason */
    size_t n_head;
    int failed; /* bad bytes at wire.field_at; later pieces fill head only */
} scrape_walk;

void scrape_walk_init(scrape_walk *w);
void scrape_walk_feed(scrape_walk *w, const uint8_t *p, size_t n);
/* After the last piece: 0, or -1 with the reason ("not a pprof: invalid
 * protobuf at byte N (body starts "...")", "not a pprof: protobuf
 * truncated (field F at byte N)"). */
int scrape_walk_end(const scrape_walk *w, char *err, size_t errlen);

/* Checks that body is a pprof (gzip'd or not) without decoding it into a
 * tree and without holding it inflated: a gzip'd body is inflated in
 * pieces of `chunk` bytes (0: gzstream's buffer) up to max_out bytes, and
 * the pieces are walked. 0, or -1 with a reason such as "not a pprof:
 * invalid protobuf at byte 0 (body starts "<!DOCTYPE html>...")" or "not
 * a pprof: gzip: bad gzip: truncated stream (unexpected end of input)";
 * *too_large is 1 when it failed because the body inflates past max_out. */
int scrape_check_pprof(const uint8_t *body, size_t len, size_t max_out, size_t chunk,
                       int *too_large, char *err, size_t errlen);
/* The same walk over a body already inflated (len bytes at plain). */
int scrape_check_inflated(const uint8_t *plain, size_t len, char *err, size_t errlen);

/* --- scrape_loop.c --- */

typedef struct scrape_loop scrape_loop;

/* Builds the loop for cfg (borrowed, must outlive the loop); no thread,
 * no socket yet. NULL when out of memory. */
scrape_loop *scrape_loop_new(const pp_host *host, pp_instance *self, const scrape_config *cfg);
int scrape_loop_start(scrape_loop *l); /* starts the thread */
void scrape_loop_stop(scrape_loop *l); /* stops and joins */
void scrape_loop_free(scrape_loop *l);

#endif
