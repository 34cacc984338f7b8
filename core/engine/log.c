/* log: logfmt on stderr. The message is formatted into a stack buffer,
 * escaped for logfmt, and written with a single write(2) so concurrent
 * threads produce whole lines.
 *
 * Warnings and errors are rate-limited per kind, a kind being the level,
 * the component and the call site's format string: what a peer can make
 * us say once per request (an aborted connection, a refused body) it
 * could otherwise make us say a million times. Each kind may write
 * log_burst lines per window; the lines past that are counted, not
 * written, in profpipe_log_suppressed_total, and the next line of the
 * kind after the window says how many were suppressed. Kinds live in a
 * small fixed table; when it is full of kinds still in their window, the
 * newcomers share one overflow kind, so memory stays bounded too. */
#include "log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fnv.h"
#include "metrics.h"

#define LOG_LINE_MAX 4096
#define LOG_KINDS 256 /* slots of the kind table (a power of two) */
#define LOG_PROBES 8  /* slots tried per kind before the overflow kind */
#define LOG_BURST_DEFAULT 20
#define LOG_WINDOW_DEFAULT_NS (INT64_C(10) * 1000000000)

static _Atomic int log_level = PP_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};
static _Atomic(log_observer_fn) log_observer;

void log_set_observer(log_observer_fn fn)
{
    atomic_store(&log_observer, fn);
}

void log_set_level(pp_log_level level)
{
    atomic_store(&log_level, (int)level);
}

pp_log_level log_get_level(void)
{
    return (pp_log_level)atomic_load(&log_level);
}

int log_parse_level(const char *text, pp_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(text, level_names[i]) == 0) {
            *out = (pp_log_level)i;
            return 0;
        }
    }
    return -1;
}

typedef struct log_kind {
    uint64_t key;        /* 0: free */
    int64_t window_end;  /* monotonic ns */
    unsigned written;    /* lines written in this window */
    uint64_t suppressed; /* since the last line written */
} log_kind;

static pthread_mutex_t kinds_lock = PTHREAD_MUTEX_INITIALIZER;
static log_kind kinds[LOG_KINDS];
static log_kind overflow_kind;
static unsigned log_burst = LOG_BURST_DEFAULT;
static int64_t log_window_ns = LOG_WINDOW_DEFAULT_NS;

void log_set_rate_limit(unsigned burst, int64_t window_ns)
{
    pthread_mutex_lock(&kinds_lock);
    log_burst = burst;
    log_window_ns = window_ns;
    memset(kinds, 0, sizeof kinds);
    memset(&overflow_kind, 0, sizeof overflow_kind);
    pthread_mutex_unlock(&kinds_lock);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The kind's slot: its own, a free or expired one, else the overflow. */
static log_kind *kind_slot(uint64_t key, int64_t now)
{
    for (unsigned i = 0; i < LOG_PROBES; i++) {
        log_kind *k = &kinds[(key + i) & (LOG_KINDS - 1)];
        if (k->key == key)
            return k;
    }
    for (unsigned i = 0; i < LOG_PROBES; i++) {
        log_kind *k = &kinds[(key + i) & (LOG_KINDS - 1)];
        if (k->key == 0 || (now >= k->window_end && k->suppressed == 0)) {
            memset(k, 0, sizeof *k);
            k->key = key;
            return k;
        }
    }
    return &overflow_kind;
}

/* Decides whether a line of this kind is written. Returns 1 to write it
 * (with *suppressed set to the lines held back before it), 0 to drop it. */
static int rate_admit(pp_log_level level, const char *component, const char *fmt,
                      uint64_t *suppressed)
{
    *suppressed = 0;
    if (level < PP_LOG_WARN)
        return 1;
    uint64_t key = fnv1a(FNV_OFFSET, &level, sizeof level);
    key = fnv1a(key, component ? component : "", component ? strlen(component) : 0);
    key = fnv1a(key, fmt, strlen(fmt));
    key |= 1; /* never 0, the free mark */
    int64_t now = mono_ns();
    int admit;
    pthread_mutex_lock(&kinds_lock);
    log_kind *k = kind_slot(key, now);
    if (now >= k->window_end) {
        k->window_end = now + log_window_ns;
        k->written = 0;
    }
    admit = k->written < log_burst;
    if (admit) {
        k->written++;
        *suppressed = k->suppressed;
        k->suppressed = 0;
    } else {
        k->suppressed++;
    }
    pthread_mutex_unlock(&kinds_lock);
    return admit;
}

/* Counts one suppressed line in profpipe_log_suppressed_total. */
static void count_suppressed(pp_log_level level, const char *component)
{
    char labels[256];
    char name[128] = "";
    size_t n = 0;
    for (const char *c = component ? component : ""; *c && n < sizeof name - 2; c++) {
        if (*c == '"' || *c == '\\')
            name[n++] = '\\';
        name[n++] = *c;
    }
    name[n] = '\0';
    snprintf(labels, sizeof labels, "level=\"%s\",component=\"%s\"", level_names[level],
             component ? name : "service");
    metrics_add(metrics_get("profpipe_log_suppressed_total",
                            "Log lines not written because their kind (level, component, "
                            "message format) exceeded its rate limit",
                            PP_COUNTER, labels),
                1);
}

/* Length of the valid UTF-8 sequence at s (1 to 4), or 0 when the bytes
 * there are not one (a stray continuation byte, an overlong form, a
 * surrogate, past U+10FFFF, or cut short by the end of the string). */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the 2nd byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

/* Appends `s` as a quoted logfmt value; returns the new length. What a
 * peer sent (a service name, a header) may be any bytes: control bytes
 * and DEL become spaces, and a byte that does not begin valid UTF-8
 * becomes U+FFFD, so every line is valid UTF-8 for the log shipper. */
static size_t append_quoted(char *buf, size_t len, size_t cap, const char *s)
{
    if (len < cap - 1)
        buf[len++] = '"';
    const unsigned char *u = (const unsigned char *)s;
    while (*u && len < cap - 5) {
        unsigned char c = *u;
        size_t n = utf8_seq(u);
        if (c == '"' || c == '\\') {
            buf[len++] = '\\';
            buf[len++] = (char)c;
        } else if (c == '\n') {
            buf[len++] = '\\';
            buf[len++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            buf[len++] = ' ';
        } else if (n == 0) {
            memcpy(buf + len, "\xef\xbf\xbd", 3); /* U+FFFD */
            len += 3;
        } else {
            memcpy(buf + len, u, n);
            len += n;
            u += n;
            continue;
        }
        u++;
    }
    if (len < cap - 1)
        buf[len++] = '"';
    return len;
}

/* Writes one line: ts, level, component, msg, then each key=value pair of
 * fields (NULL-terminated; values quoted). */
static void write_line(pp_log_level level, const char *component, const char *msg,
                       const char *const *fields)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[LOG_LINE_MAX + 256];
    size_t len = strftime(line, sizeof line, "ts=%Y-%m-%dT%H:%M:%S", &tm);
    len += (size_t)snprintf(line + len, sizeof line - len, ".%03ldZ level=%s", ts.tv_nsec / 1000000,
                            level_names[level]);
    if (component)
        len += (size_t)snprintf(line + len, sizeof line - len, " component=%s", component);
    len += (size_t)snprintf(line + len, sizeof line - len, " msg=");
    len = append_quoted(line, len, sizeof line, msg);
    for (size_t i = 0; fields && fields[i] && fields[i + 1] && len < sizeof line - 2; i += 2) {
        len += (size_t)snprintf(line + len, sizeof line - len, " %s=", fields[i]);
        if (len >= sizeof line - 2)
            break;
        len = append_quoted(line, len, sizeof line, fields[i + 1]);
    }
    if (len > sizeof line - 1)
        len = sizeof line - 1;
    line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
}

void log_vmsg(pp_log_level level, const char *component, const char *fmt, va_list ap)
{
    log_observer_fn observer = level >= PP_LOG_WARN ? atomic_load(&log_observer) : NULL;
    if ((int)level < atomic_load(&log_level) && !observer)
        return;
    char msg[LOG_LINE_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (observer)
        observer(level, component, msg);
    if ((int)level < atomic_load(&log_level))
        return;
    uint64_t suppressed;
    if (!rate_admit(level, component, fmt, &suppressed)) {
        count_suppressed(level, component);
        return;
    }
    if (suppressed) {
        char note[LOG_LINE_MAX];
        snprintf(note, sizeof note, "%llu similar messages suppressed (rate limit: %u per %gs): %s",
                 (unsigned long long)suppressed, log_burst, (double)log_window_ns / 1e9, fmt);
        write_line(level, component, note, NULL);
    }
    write_line(level, component, msg, NULL);
}

void log_fields(pp_log_level level, const char *component, const char *msg,
                const char *const *fields)
{
    log_observer_fn observer = level >= PP_LOG_WARN ? atomic_load(&log_observer) : NULL;
    if (observer)
        observer(level, component, msg);
    if ((int)level >= atomic_load(&log_level))
        write_line(level, component, msg, fields);
}

void log_msg(pp_log_level level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, component, fmt, ap);
    va_end(ap);
}
