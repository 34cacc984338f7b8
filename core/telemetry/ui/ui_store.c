/* ui_store: the recent profile windows the page can show.
 *
 * Each window is a clone of a profile the pipeline delivered: its labels
 * and window, and a reference to the same immutable payload buffer the
 * pipeline holds (profile_clone shares it), so keeping a window copies no
 * profile bytes and decodes nothing; a view decodes on demand. What is
 * kept is bounded by service.ui: windows older than `retention` go, and
 * when the bytes kept would pass `max_bytes` the oldest windows of any
 * series go first. Both are counted in /metrics. The windows kept count
 * inside service.memory_limit: under pressure the page takes no new
 * window and is the first to let its windows go (ui_shed), before any
 * receiver is held back.
 *
 * A window is charged its payload bytes plus its labels and bookkeeping:
 * while the page holds it, that payload stays alive even after the
 * exporters are done with it. One mutex guards everything; views take
 * clones under it and merge them outside it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "metrics.h"
#include "profile.h"
#include "memlimit.h"
#include "ui.h"
#include "ui_internal.h"

#define UI_SERIES_ID_DIGITS 16

typedef struct ui_window {
    uint64_t id;         /* increasing: the order windows were kept in */
    pp_profile *profile; /* clone sharing the pipeline's payload */
    int64_t from_ns, until_ns, kept_ns;
    size_t bytes;
} ui_window;

typedef struct ui_series {
    uint64_t fingerprint;
    ui_window *windows; /* in the order kept */
    size_t n, cap;
} ui_series;

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static int store_enabled;
static int64_t store_retention_ns, store_max_bytes;
static ui_series *store_series;
static size_t n_series, cap_series;
static size_t store_bytes, store_windows;
static uint64_t next_window_id = 1;
static pp_metric *m_bytes, *m_windows, *m_series, *m_kept, *m_evicted_retention, *m_evicted_bytes,
    *m_too_large, *m_evicted_memory;

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void metrics_init_locked(void)
{
    if (m_bytes)
        return;
    m_bytes = metrics_get(
        "profpipe_ui_bytes",
        "Profile bytes the built-in page keeps (bounded by service.ui.max_bytes).", PP_GAUGE, NULL);
    m_windows = metrics_get("profpipe_ui_windows", "Profile windows the built-in page keeps.",
                            PP_GAUGE, NULL);
    m_series = metrics_get("profpipe_ui_series", "Series the built-in page keeps windows of.",
                           PP_GAUGE, NULL);
    m_kept = metrics_get("profpipe_ui_kept_windows_total",
                         "Profile windows the built-in page took in.", PP_COUNTER, NULL);
    const char *help = "Windows the built-in page let go before their time, by reason.";
    m_evicted_retention =
        metrics_get("profpipe_ui_evicted_windows_total", help, PP_COUNTER, "reason=\"retention\"");
    m_evicted_bytes =
        metrics_get("profpipe_ui_evicted_windows_total", help, PP_COUNTER, "reason=\"max_bytes\"");
    m_too_large =
        metrics_get("profpipe_ui_evicted_windows_total", help, PP_COUNTER, "reason=\"too_large\"");
    m_evicted_memory = metrics_get("profpipe_ui_evicted_windows_total", help, PP_COUNTER,
                                   "reason=\"memory_limit\"");
}

static void publish_locked(void)
{
    metrics_set(m_bytes, (double)store_bytes);
    metrics_set(m_windows, (double)store_windows);
    metrics_set(m_series, (double)n_series);
}

static size_t window_cost(const pp_profile *p)
{
    size_t cost = sizeof(ui_window) + profile_overhead() + profile_size(p);
    for (size_t i = 0; i < profile_label_count(p); i++)
        cost += strlen(profile_label_name(p, i)) + strlen(profile_label_value(p, i)) + 2 +
                2 * sizeof(char *);
    return cost;
}

static void series_drop_first(ui_series *s)
{
    store_bytes -= s->windows[0].bytes;
    store_windows--;
    profile_free(s->windows[0].profile);
    memmove(s->windows, s->windows + 1, (s->n - 1) * sizeof *s->windows);
    s->n--;
}

static void remove_empty_series_locked(void)
{
    size_t kept = 0;
    for (size_t i = 0; i < n_series; i++) {
        if (store_series[i].n == 0) {
            free(store_series[i].windows);
            continue;
        }
        store_series[kept++] = store_series[i];
    }
    n_series = kept;
}

/* The series whose first window is the oldest kept. */
static ui_series *oldest_series_locked(void)
{
    ui_series *oldest = NULL;
    for (size_t i = 0; i < n_series; i++) {
        ui_series *s = &store_series[i];
        if (s->n && (!oldest || s->windows[0].id < oldest->windows[0].id))
            oldest = s;
    }
    return oldest;
}

static void evict_locked(size_t incoming, int64_t now_ns)
{
    for (size_t i = 0; i < n_series; i++) {
        ui_series *s = &store_series[i];
        while (s->n && s->windows[0].kept_ns < now_ns - store_retention_ns) {
            series_drop_first(s);
            metrics_add(m_evicted_retention, 1);
        }
    }
    while (store_windows && store_bytes + incoming > (size_t)store_max_bytes) {
        series_drop_first(oldest_series_locked());
        metrics_add(m_evicted_bytes, 1);
    }
    remove_empty_series_locked();
}

static ui_series *series_find_locked(uint64_t fingerprint)
{
    for (size_t i = 0; i < n_series; i++)
        if (store_series[i].fingerprint == fingerprint)
            return &store_series[i];
    return NULL;
}

static ui_series *series_get_locked(uint64_t fingerprint)
{
    ui_series *s = series_find_locked(fingerprint);
    if (s)
        return s;
    if (n_series == cap_series) {
        size_t cap = cap_series ? cap_series * 2 : 16;
        ui_series *grown = realloc(store_series, cap * sizeof *grown);
        if (!grown)
            return NULL;
        store_series = grown;
        cap_series = cap;
    }
    s = &store_series[n_series++];
    memset(s, 0, sizeof *s);
    s->fingerprint = fingerprint;
    return s;
}

/* The same profile delivered by two pipelines (a fan-out) is kept once. */
static int already_kept(const ui_series *s, const pp_profile *p)
{
    for (size_t i = s->n; i-- > 0;)
        if (s->windows[i].from_ns == profile_from(p) &&
            s->windows[i].until_ns == profile_until(p) && s->windows[i].bytes == window_cost(p))
            return 1;
    return 0;
}

static void keep_locked(pp_profile *clone, int64_t now_ns)
{
    size_t cost = window_cost(clone);
    if (cost > (size_t)store_max_bytes) {
        metrics_add(m_too_large, 1);
        profile_free(clone);
        return;
    }
    uint64_t fingerprint = profile_labels_fingerprint(clone);
    ui_series *s = series_find_locked(fingerprint);
    if (s && already_kept(s, clone)) {
        profile_free(clone);
        return;
    }
    evict_locked(cost, now_ns);
    s = series_get_locked(fingerprint); /* eviction may have moved it */
    if (s && s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        ui_window *grown = realloc(s->windows, cap * sizeof *grown);
        if (grown) {
            s->windows = grown;
            s->cap = cap;
        }
    }
    if (!s || s->n == s->cap) {
        profile_free(clone);
        remove_empty_series_locked();
        return;
    }
    s->windows[s->n++] = (ui_window){.id = next_window_id++,
                                     .profile = clone,
                                     .from_ns = profile_from(clone),
                                     .until_ns = profile_until(clone),
                                     .kept_ns = now_ns,
                                     .bytes = cost};
    store_bytes += cost;
    store_windows++;
    metrics_add(m_kept, 1);
}

void ui_observe(pp_batch *b)
{
    if (!ui_enabled())
        return;
    if (memlimit_pressure() != MEMLIMIT_OK) { /* the page gives way first */
        pthread_mutex_lock(&store_lock);
        metrics_init_locked();
        metrics_add(m_evicted_memory, (double)batch_count(b));
        pthread_mutex_unlock(&store_lock);
        return;
    }
    int64_t now = wall_ns();
    for (size_t i = 0; i < batch_count(b); i++) {
        /* cloning encodes a tree-only profile once (cached for the
         * exporters too); it is done outside our lock */
        pp_profile *clone = profile_clone(batch_get(b, i));
        if (!clone)
            continue;
        pthread_mutex_lock(&store_lock);
        if (store_enabled)
            keep_locked(clone, now);
        else
            profile_free(clone);
        publish_locked();
        pthread_mutex_unlock(&store_lock);
    }
}

static void clear_locked(void)
{
    for (size_t i = 0; i < n_series; i++) {
        while (store_series[i].n)
            series_drop_first(&store_series[i]);
        free(store_series[i].windows);
    }
    free(store_series);
    store_series = NULL;
    n_series = cap_series = 0;
}

void ui_configure(int enabled, int64_t retention_ns, int64_t max_bytes)
{
    ui_status_install();
    pthread_mutex_lock(&store_lock);
    metrics_init_locked();
    store_enabled = enabled;
    store_retention_ns = retention_ns;
    store_max_bytes = max_bytes;
    if (!enabled)
        clear_locked();
    else
        evict_locked(0, wall_ns());
    publish_locked();
    pthread_mutex_unlock(&store_lock);
}

int ui_enabled(void)
{
    pthread_mutex_lock(&store_lock);
    int on = store_enabled;
    pthread_mutex_unlock(&store_lock);
    return on;
}

void ui_store_expire(int64_t now_ns)
{
    pthread_mutex_lock(&store_lock);
    if (store_enabled) {
        evict_locked(0, now_ns);
        publish_locked();
    }
    pthread_mutex_unlock(&store_lock);
}

size_t ui_shed(size_t want)
{
    size_t freed = 0;
    pthread_mutex_lock(&store_lock);
    metrics_init_locked();
    while (store_windows && freed < want) {
        ui_series *s = oldest_series_locked();
        freed += s->windows[0].bytes;
        series_drop_first(s);
        metrics_add(m_evicted_memory, 1);
    }
    remove_empty_series_locked();
    publish_locked();
    pthread_mutex_unlock(&store_lock);
    return freed;
}

size_t ui_kept_bytes(void)
{
    pthread_mutex_lock(&store_lock);
    size_t bytes = store_bytes;
    pthread_mutex_unlock(&store_lock);
    return bytes;
}

void ui_store_reset(void)
{
    pthread_mutex_lock(&store_lock);
    clear_locked();
    store_bytes = store_windows = 0;
    store_enabled = 0;
    next_window_id = 1;
    m_bytes = NULL; /* the metrics registry may have been reset too */
    pthread_mutex_unlock(&store_lock);
}

int ui_series_parse(const char *text, uint64_t *out)
{
    if (!text || strlen(text) != UI_SERIES_ID_DIGITS)
        return -1;
    uint64_t v = 0;
    for (const char *c = text; *c; c++) {
        int d;
        if (*c >= '0' && *c <= '9')
            d = *c - '0';
        else if (*c >= 'a' && *c <= 'f')
            d = *c - 'a' + 10;
        else
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 0;
}

static void write_series_locked(FILE *out, const ui_series *s)
{
    const pp_profile *first = s->windows[0].profile;
    fprintf(out, "{\"id\":\"%016llx\",\"labels\":{", (unsigned long long)s->fingerprint);
    for (size_t i = 0; i < profile_label_count(first); i++)
        json_kstr(out, profile_label_name(first, i), profile_label_value(first, i), i > 0);
    fprintf(out, "},\"windows\":[");
    for (size_t i = 0; i < s->n; i++) {
        const ui_window *w = &s->windows[i];
        fprintf(out, "%s{\"id\":%llu,\"from\":%lld,\"until\":%lld,\"bytes\":%zu}", i ? "," : "",
                (unsigned long long)w->id, (long long)(w->from_ns / NS_PER_MS),
                (long long)(w->until_ns / NS_PER_MS), w->bytes);
    }
    fprintf(out, "]}");
}

void ui_store_write_series(FILE *out)
{
    pthread_mutex_lock(&store_lock);
    if (store_enabled)
        evict_locked(0, wall_ns());
    fprintf(out, "{\"enabled\":%s", store_enabled ? "true" : "false");
    json_kint(out, "retention_s", store_retention_ns / 1000000000LL, 1);
    json_kint(out, "max_bytes", store_max_bytes, 1);
    json_kint(out, "bytes", (int64_t)store_bytes, 1);
    json_kint(out, "windows", (int64_t)store_windows, 1);
    fprintf(out, ",\"series\":[");
    for (size_t i = 0; i < n_series; i++) {
        if (i)
            fputc(',', out);
        write_series_locked(out, &store_series[i]);
    }
    fprintf(out, "]}");
    pthread_mutex_unlock(&store_lock);
}

static int selected(const ui_select *sel, const ui_window *w)
{
    if (sel->window_id)
        return w->id == sel->window_id;
    if (w->until_ns > w->from_ns)
        return w->from_ns < sel->until_ns && w->until_ns > sel->from_ns;
    return w->from_ns >= sel->from_ns && w->from_ns < sel->until_ns;
}

long ui_store_collect(const ui_select *sel, pp_profile ***out)
{
    *out = NULL;
    pthread_mutex_lock(&store_lock);
    ui_series *s = series_find_locked(sel->series);
    if (!s) {
        pthread_mutex_unlock(&store_lock);
        return -1;
    }
    pp_profile **list = calloc(s->n ? s->n : 1, sizeof *list);
    long n = 0;
    for (size_t i = 0; list && i < s->n; i++) {
        if (!selected(sel, &s->windows[i]))
            continue;
        pp_profile *clone = profile_clone(s->windows[i].profile);
        if (clone)
            list[n++] = clone;
    }
    pthread_mutex_unlock(&store_lock);
    *out = list;
    return list ? n : 0;
}

void ui_store_release(pp_profile **profiles, long n)
{
    for (long i = 0; i < n; i++)
        profile_free(profiles[i]);
    free(profiles);
}
