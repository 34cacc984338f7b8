/* scrape_loop: the loop thread's own data, shared by its three files:
 *   scrape_loop.c    thread, schedule, libcurl multi, starting transfers;
 *   scrape_set.c     the target set: build from specs, diff, file_sd refresh;
 *   scrape_result.c  a finished transfer: classify, log, metrics, profile.
 * Only the loop thread touches any of this once the thread runs. */
#ifndef SCRAPE_LOOP_H
#define SCRAPE_LOOP_H

#include <pthread.h>
#include <stdatomic.h>

#include <curl/curl.h>

#include "scrape.h"
#include "scrape_delta.h"

/* Why a scrape failed; each has its own errors_total series. */
typedef enum scrape_reason {
    REASON_CONNECT = 0, /* refused, reset, DNS: the target is down */
    REASON_TIMEOUT,     /* the target is down */
    REASON_HTTP_401,    /* the target is down until the credentials work */
    REASON_HTTP_403,
    REASON_HTTP_429,    /* rate limited: Retry-After honoured */
    REASON_HTTP_503,    /* unavailable: Retry-After honoured */
    REASON_HTTP_STATUS, /* any other non-200 status */
    REASON_BODY_LIMIT,  /* body_size_limit reached: transfer aborted */
    REASON_INVALID,     /* 200 but not a pprof */
    REASON_TRANSPORT,   /* any other libcurl error (TLS, proxy, ...) */
    REASON_COUNT,
    REASON_NONE = -1, /* last scrape succeeded */
} scrape_reason;

extern const char *const scrape_reason_names[REASON_COUNT];

typedef struct scrape_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int64_t limit; /* body_size_limit; 0 = none */
    int over_limit;
} scrape_buf;

/* A pooled libcurl handle with its error text; lent to one transfer. */
typedef struct scrape_easy {
    CURL *curl;
    char errbuf[CURL_ERROR_SIZE];
    struct scrape_easy *next; /* free list */
} scrape_easy;

struct scrape_target;

/* One profile type of one target: its own schedule, transfer and deltas. */
typedef struct scrape_slot {
    struct scrape_target *target;
    const scrape_ptype *ptype;
    char *url;
    int64_t next_due;  /* monotonic ns */
    scrape_easy *easy; /* non-NULL while a transfer is in flight */
    scrape_buf body;
    int64_t start_mono;
    int64_t start_wall;
    scrape_delta *delta; /* cumulative types only; made on first need */
    scrape_reason last_reason;
    pp_metric *m_duration;
} scrape_slot;

/* A slot in the schedule, with the due time it was placed at: a slot
 * whose next_due moved later since (Retry-After) is placed again when
 * that time comes. */
typedef struct scrape_due {
    int64_t at;
    scrape_slot *slot;
} scrape_due;

typedef struct scrape_target {
    char *key;           /* identity for diffing: URL base and labels */
    char *base_url;      /* scheme://host:port[/prefix] as requested */
    char *instance;      /* host:port */
    char *metric_labels; /* `target="...",job="..."` for self-metrics */
    scrape_kv *labels;   /* series labels but __name__; sorted */
    size_t n_labels;
    scrape_transport transport;
    http_client_lists lists; /* headers, proxy: built once per target */
    struct curl_slist *connect_to;
    scrape_slot *slots;
    size_t n_slots;
    int down; /* connect/timeout/401/403 seen last */
    scrape_reason down_reason;
    int mark; /* diffing */
    pp_metric *m_up;
    pp_metric *m_bytes;
    pp_metric *m_errors[REASON_COUNT];
} scrape_target;

struct scrape_loop {
    const pp_host *host;
    pp_instance *self;
    const scrape_config *cfg;

    CURLM *multi;
    CURLSH *share;
    int epfd;              /* sockets libcurl asks us to watch */
    int wakefd;            /* eventfd: stop() wakes the loop */
    int64_t curl_deadline; /* monotonic ns of libcurl's timer; -1 = none */
    scrape_easy *idle;     /* pooled handles */
    size_t n_idle;

    scrape_target **targets;
    size_t n_targets;
    scrape_spec *sd_specs; /* the last good read of the file_sd files */
    size_t n_sd_specs;
    uint64_t sd_signature; /* paths, sizes and mtimes seen last */
    int64_t sd_next;       /* monotonic time of the next check */
    pp_metric *m_targets;
    /* Bytes every slot's delta baseline holds (scrape_delta_bytes),
     * kept up to date as baselines change and targets go. */
    size_t baseline_bytes;
    pp_metric *m_baseline_bytes;
    pp_metric *m_baseheap_bytes; /* the span of the baselines' mapping */
    scrape_baseheap *baseheap;   /* where the baselines live */
    int synced;                  /* the first target set has been built */
    /* Every slot by its due time, earliest first (a binary heap): a turn
     * looks at the slots that are due, not at every slot. Rebuilt when
     * the target set changes (schedule_stale). */
    scrape_due *due;
    size_t n_due;
    size_t cap_due;
    int schedule_stale;

    pp_batch *batch; /* profiles finished in this loop turn */

    pthread_t thread;
    int started;
    atomic_int stopping;
};

/* scrape_set.c */
/* Makes the target set match static specs + file_sd specs: keeps
 * targets whose key is unchanged (with their delta state), adds new
 * ones, removes the rest (aborting their transfers). */
void scrape_set_sync(scrape_loop *l);
/* Checks the file_sd files when due; re-reads and syncs on a change. */
void scrape_set_refresh_sd(scrape_loop *l, int64_t now);
void scrape_target_free(scrape_loop *l, scrape_target *t);

/* scrape_loop.c */
void scrape_slot_abort(scrape_loop *l, scrape_slot *s);
/* A slot's delta baseline went from `before` to `after` bytes (0: none):
 * updates the loop's total and its gauge, and the baseheap's. */
void scrape_baseline_account(scrape_loop *l, size_t before, size_t after);
uint64_t scrape_hash(const char *a, const char *b);

/* scrape_result.c */
/* Handles a finished transfer of slot s (its easy handle still lent). */
void scrape_result(scrape_loop *l, scrape_slot *s, CURLcode rc, int64_t now);

#endif
