/* scrape_loop: one thread, one libcurl multi handle, every target and
 * profile type.
 *
 * Each slot (target x profile type) has its own due time, first placed
 * at a hash-derived offset within the interval so that 500 targets do
 * not all fire at once, then advanced by whole intervals (a slot that
 * fell behind skips the missed turns rather than bunching up); the
 * slots wait in a heap by due time, so a turn looks only at those due. A
 * slot whose previous transfer is still running skips its turn: one request
 * per target and profile type at a time, which is also what Go's CPU
 * profile handler allows. Between turns the thread sleeps in
 * epoll_wait until the next due time, libcurl's own timer, socket
 * activity, or stop()'s eventfd. libcurl's socket interface
 * (curl_multi_socket_action) says which sockets to watch, so a turn
 * costs what its active sockets cost, not a scan of every connection.
 *
 * libcurl handles are pooled (reset, not re-created); the multi handle
 * keeps the connection cache, so keep-alive connections to a target are
 * reused across its profile types and intervals. Response bodies are
 * handed over to the profile (or freed) as soon as the transfer ends:
 * memory does not grow with time, only with the number of targets (their
 * delta tables). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "scrape_loop.h"
#include "fnv.h"
#include "pp_constants.h"

/* Longest sleep between checks of the stop flag and file_sd. */
#define LOOP_MAX_WAIT_MS 1000
/* Idle libcurl handles kept for reuse. */
#define EASY_POOL_MAX 64
/* A transfer's memory: libcurl's receive buffer and the body's first
 * allocation. 4 KiB each, as Go's HTTP client reads: a slow round
 * (every target answering late) has every transfer in flight at once,
 * 2,500 of them at 500 targets x 5 types, and libcurl's default 16 KiB
 * buffer alone was 40 MiB of them. Larger bodies take a few more reads
 * and the body grows by doubling. */
#define RECV_BUFFER_BYTES 4096L
#define BODY_INITIAL_CAP 4096
#define CONNECT_TIMEOUT_MAX_MS 5000L
#define USER_AGENT "profpipe-pprof-scrape/1"
/* Profiles handed on together at most (see drain). */
#define BATCH_MAX_PROFILES 32
/* Socket events handled per epoll_wait. */
#define EPOLL_BATCH 256

const char *const scrape_reason_names[REASON_COUNT] = {
    "connect",  "timeout",     "http_401",        "http_403",        "http_429",
    "http_503", "http_status", "body_size_limit", "invalid_profile", "transport",
};

uint64_t scrape_hash(const char *a, const char *b)
{
    static const uint8_t sep = 0xff; /* never in UTF-8: keeps "ab","c" from "a","bc" */
    uint64_t h = fnv1a_str(fnv1a(fnv1a_str(FNV_OFFSET, a), &sep, 1), b);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

/* ---- handle pool ---- */

static scrape_easy *easy_get(scrape_loop *l)
{
    scrape_easy *e = l->idle;
    if (e) {
        l->idle = e->next;
        l->n_idle--;
        return e;
    }
    e = calloc(1, sizeof *e);
    if (e && !(e->curl = curl_easy_init())) {
        free(e);
        return NULL;
    }
    return e;
}

static void easy_put(scrape_loop *l, scrape_easy *e)
{
    if (l->n_idle >= EASY_POOL_MAX) {
        curl_easy_cleanup(e->curl);
        free(e);
        return;
    }
    curl_easy_reset(e->curl);
    e->errbuf[0] = '\0';
    e->next = l->idle;
    l->idle = e;
    l->n_idle++;
}

static void body_free(scrape_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* libcurl write callback: appends, aborts past body_size_limit. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    scrape_buf *b = arg;
    size_t n = size * nmemb;
    if (b->limit > 0 && b->len + n > (size_t)b->limit) {
        b->over_limit = 1;
        return 0; /* libcurl ends the transfer with CURLE_WRITE_ERROR */
    }
    if (b->len + n > b->cap) {
        size_t ncap = b->cap ? b->cap : BODY_INITIAL_CAP;
        uint8_t *g;
        while (ncap < b->len + n)
            ncap *= 2;
        g = realloc(b->data, ncap);
        if (!g)
            return 0;
        b->data = g;
        b->cap = ncap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    return n;
}

void scrape_baseline_account(scrape_loop *l, size_t before, size_t after)
{
    l->baseline_bytes = l->baseline_bytes - before + after;
    if (l->m_baseline_bytes)
        l->host->metric_set(l->m_baseline_bytes, (double)l->baseline_bytes);
    if (l->m_baseheap_bytes)
        l->host->metric_set(l->m_baseheap_bytes, (double)scrape_baseheap_span(l->baseheap));
}

void scrape_slot_abort(scrape_loop *l, scrape_slot *s)
{
    if (!s->easy)
        return;
    curl_multi_remove_handle(l->multi, s->easy->curl);
    easy_put(l, s->easy);
    s->easy = NULL;
    body_free(&s->body);
}

/* ---- starting a transfer ---- */

static int set_transport(CURL *c, const scrape_target *t)
{
    if (t->connect_to)
        curl_easy_setopt(c, CURLOPT_CONNECT_TO, t->connect_to);
    return http_client_apply(c, &t->transport, &t->lists);
}

static int slot_start(scrape_loop *l, scrape_slot *s, int64_t now)
{
    const scrape_config *cfg = l->cfg;
    int64_t timeout_ms = cfg->timeout_ns / NS_PER_MS;
    scrape_easy *e = easy_get(l);
    CURL *c;
    if (!e)
        return -1;
    if (s->ptype->seconds)
        timeout_ms += cfg->profiling_seconds * 1000;
    body_free(&s->body);
    s->body.limit = cfg->body_size_limit;
    c = e->curl;
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_PRIVATE, s);
    curl_easy_setopt(c, CURLOPT_SHARE, l->share);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s->body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, e->errbuf);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, RECV_BUFFER_BYTES);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(
        c, CURLOPT_CONNECTTIMEOUT_MS,
        (long)(timeout_ms < CONNECT_TIMEOUT_MAX_MS ? timeout_ms : CONNECT_TIMEOUT_MAX_MS));
    curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (cfg->body_size_limit > 0)
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cfg->body_size_limit);
    if (set_transport(c, s->target) < 0 || curl_multi_add_handle(l->multi, c) != CURLM_OK) {
        body_free(&s->body);
        easy_put(l, e);
        return -1;
    }
    s->easy = e;
    s->start_mono = now;
    s->start_wall = l->host->now_ns();
    return 0;
}

/* Next due time after now, in whole intervals from the slot's phase. */
static void schedule_next(const scrape_loop *l, scrape_slot *s, int64_t now)
{
    int64_t iv = l->cfg->interval_ns;
    s->next_due += iv;
    if (s->next_due <= now)
        s->next_due += ((now - s->next_due) / iv + 1) * iv;
}

/* ---- the schedule: a binary heap of slots by due time ---- */

static void due_sift_down(scrape_due *h, size_t n, size_t i)
{
    for (;;) {
        size_t least = i, c = 2 * i + 1;
        if (c < n && h[c].at < h[least].at)
            least = c;
        if (c + 1 < n && h[c + 1].at < h[least].at)
            least = c + 1;
        if (least == i)
            return;
        scrape_due tmp = h[i];
        h[i] = h[least];
        h[least] = tmp;
        i = least;
    }
}

/* Every slot of every target, placed at its due time. */
static int due_rebuild(scrape_loop *l)
{
    size_t n = 0, i, j;
    for (i = 0; i < l->n_targets; i++)
        n += l->targets[i]->n_slots;
    if (n > l->cap_due) {
        scrape_due *h = realloc(l->due, n * sizeof *h);
        if (!h)
            return -1;
        l->due = h;
        l->cap_due = n;
    }
    l->n_due = 0;
    for (i = 0; i < l->n_targets; i++)
        for (j = 0; j < l->targets[i]->n_slots; j++) {
            scrape_slot *s = &l->targets[i]->slots[j];
            l->due[l->n_due++] = (scrape_due){s->next_due, s};
        }
    for (i = l->n_due / 2; i-- > 0;)
        due_sift_down(l->due, l->n_due, i);
    return 0;
}

/* Starts what is due; returns the earliest due time left. Due times only
 * move later (a turn done, a Retry-After), so a slot is looked at when
 * the time it was placed at comes, and placed again at its new time: a
 * turn costs a few steps per slot that is due, however many slots there
 * are (a scan of every slot at every turn grew as targets x turns, and
 * turns grow with targets). */
static int64_t start_due(scrape_loop *l, int64_t now)
{
    int64_t earliest = now + LOOP_MAX_WAIT_MS * NS_PER_MS;
    if (l->schedule_stale) {
        if (due_rebuild(l) < 0) {
            l->host->log(l->self, PP_LOG_ERROR, "cannot schedule the targets: out of memory");
            return earliest;
        }
        l->schedule_stale = 0;
    }
    while (l->n_due && l->due[0].at <= now) {
        scrape_slot *s = l->due[0].slot;
        if (s->next_due <= now) {
            /* past the memory limit the round is skipped (counted in
             * profpipe_memory_refusals_total) */
            if (!s->easy && l->host->memory_pressure(l->self) != PP_MEMORY_OK)
                l->host->log(l->self, PP_LOG_DEBUG, "memory limit: skipped %s", s->url);
            else if (!s->easy && slot_start(l, s, now) < 0)
                l->host->log(l->self, PP_LOG_ERROR, "cannot start %s: out of memory", s->url);
            schedule_next(l, s, now);
        }
        l->due[0].at = s->next_due;
        due_sift_down(l->due, l->n_due, 0);
    }
    if (l->n_due && l->due[0].at < earliest)
        earliest = l->due[0].at;
    return earliest;
}

static void flush_batch(scrape_loop *l)
{
    pp_batch *b = l->batch;
    l->batch = NULL;
    if (!b)
        return;
    if (l->host->batch_count(b) == 0) {
        l->host->batch_unref(b);
        return;
    }
    l->host->emit(l->self, b); /* -1 means shutting down: dropped, counted by the host */
}

static void drain(scrape_loop *l)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(l->multi, &left))) {
        scrape_slot *s = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        if (!s || !s->easy)
            continue;
        /* read everything before the handle goes back to the pool */
        curl_multi_remove_handle(l->multi, m->easy_handle);
        scrape_result(l, s, m->data.result, l->host->monotonic_ns());
        easy_put(l, s->easy);
        s->easy = NULL;
        body_free(&s->body);
        /* a busy turn finishes hundreds of transfers: hand profiles on as
         * they come, not all at the end, so that decoded delta trees are
         * not all held here at once */
        if (l->batch && l->host->batch_count(l->batch) >= BATCH_MAX_PROFILES)
            flush_batch(l);
    }
}

/* ---- libcurl's socket interface ---- */

/* CURLMOPT_SOCKETFUNCTION: watch, change or forget a socket. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
    scrape_loop *l = arg;
    struct epoll_event ev = {0};
    (void)easy;
    (void)sockp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT)
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: when libcurl wants to be called next. */
static int on_timer(CURLM *multi, long timeout_ms, void *arg)
{
    scrape_loop *l = arg;
    (void)multi;
    l->curl_deadline = timeout_ms < 0 ? -1 : l->host->monotonic_ns() + timeout_ms * NS_PER_MS;
    return 0;
}

/* Waits until `earliest` (or an event) and hands the events to libcurl. */
static void wait_and_act(scrape_loop *l, int64_t earliest)
{
    struct epoll_event ev[EPOLL_BATCH];
    int64_t now = l->host->monotonic_ns(), wait_ms;
    int n, i, running;
    if (l->curl_deadline >= 0 && l->curl_deadline < earliest)
        earliest = l->curl_deadline;
    if (l->cfg->n_sd_files && l->sd_next < earliest)
        earliest = l->sd_next;
    wait_ms = earliest <= now ? 0 : (earliest - now + NS_PER_MS - 1) / NS_PER_MS;
    if (wait_ms > LOOP_MAX_WAIT_MS)
        wait_ms = LOOP_MAX_WAIT_MS;
    n = epoll_wait(l->epfd, ev, EPOLL_BATCH, (int)wait_ms);
    for (i = 0; i < n; i++) {
        int flags = 0;
        if (ev[i].data.fd == l->wakefd)
            continue; /* stop(): the loop condition sees it */
        flags |= ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0;
        flags |= ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0;
        flags |= ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0;
        curl_multi_socket_action(l->multi, ev[i].data.fd, flags, &running);
    }
    if (l->curl_deadline >= 0 && l->curl_deadline <= l->host->monotonic_ns()) {
        l->curl_deadline = -1;
        curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

static void *loop_main(void *arg)
{
    scrape_loop *l = arg;
    scrape_set_sync(l);
    while (!atomic_load(&l->stopping)) {
        int64_t now = l->host->monotonic_ns(), earliest;
        scrape_set_refresh_sd(l, now);
        earliest = start_due(l, now);
        wait_and_act(l, earliest);
        drain(l);
        flush_batch(l);
    }
    return NULL;
}

/* ---- lifecycle ---- */

static int add_wakefd(scrape_loop *l)
{
    struct epoll_event ev = {0};
    ev.events = EPOLLIN;
    ev.data.fd = l->wakefd;
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev);
}

scrape_loop *scrape_loop_new(const pp_host *host, pp_instance *self, const scrape_config *cfg)
{
    scrape_loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->epfd = l->wakefd = -1;
    l->host = host;
    l->self = self;
    l->cfg = cfg;
    atomic_init(&l->stopping, 0);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(l);
        return NULL;
    }
    l->curl_deadline = -1;
    l->multi = curl_multi_init();
    l->share = curl_share_init();
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    l->baseheap = scrape_baseheap_new(SCRAPE_BASEHEAP_HOLES_MIN);
    if (!l->multi || !l->share || l->epfd < 0 || l->wakefd < 0 || !l->baseheap ||
        add_wakefd(l) < 0) {
        scrape_loop_free(l);
        return NULL;
    }
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
    curl_share_setopt(l->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(l->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    l->m_targets = host->metric(self, "scrape_targets", "Targets being scraped.", PP_GAUGE, NULL);
    l->m_baseline_bytes =
        host->metric(self, "scrape_delta_baseline_bytes",
                     "Bytes held between scrapes by the delta baselines of cumulative profile "
                     "types (the last scrape's stack keys and values).",
                     PP_GAUGE, NULL);
    l->m_baseheap_bytes = host->metric(
        self, "scrape_delta_baseline_heap_bytes",
        "Bytes the mapping that holds the delta baselines spans: the baselines, the slack "
        "each has to grow in place, and the holes not yet compacted away.",
        PP_GAUGE, NULL);
    return l;
}

int scrape_loop_start(scrape_loop *l)
{
    if (pthread_create(&l->thread, NULL, loop_main, l) != 0) {
        l->host->log(l->self, PP_LOG_ERROR, "cannot start the scrape thread");
        return -1;
    }
    l->started = 1;
    return 0;
}

void scrape_loop_stop(scrape_loop *l)
{
    uint64_t one = 1;
    if (!l->started)
        return;
    atomic_store(&l->stopping, 1);
    if (write(l->wakefd, &one, sizeof one) < 0)
        l->host->log(l->self, PP_LOG_WARN, "cannot wake the scrape thread: %m");
    pthread_join(l->thread, NULL);
    l->started = 0;
}

void scrape_loop_free(scrape_loop *l)
{
    size_t i;
    if (!l)
        return;
    scrape_loop_stop(l);
    for (i = 0; i < l->n_targets; i++)
        scrape_target_free(l, l->targets[i]);
    free(l->targets);
    scrape_baseheap_free(l->baseheap); /* its blocks went with the targets */
    for (i = 0; i < l->n_sd_specs; i++)
        scrape_spec_clear(&l->sd_specs[i]);
    free(l->sd_specs);
    while (l->idle) {
        scrape_easy *e = l->idle;
        l->idle = e->next;
        curl_easy_cleanup(e->curl);
        free(e);
    }
    free(l->due);
    if (l->batch)
        l->host->batch_unref(l->batch);
    if (l->multi)
        curl_multi_cleanup(l->multi);
    if (l->share)
        curl_share_cleanup(l->share);
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->wakefd >= 0)
        close(l->wakefd);
    curl_global_cleanup();
    free(l);
}
