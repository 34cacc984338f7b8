/* log: logfmt on stderr. The message is formatted into a stack buffer,
 * escaped for logfmt, and written with a single write(2) so concurrent
 * threads produce whole lines. */
#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

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

/* Appends `s` as a quoted logfmt value; returns the new length. */
static size_t append_quoted(char *buf, size_t len, size_t cap, const char *s)
{
    if (len < cap - 1)
        buf[len++] = '"';
    for (; *s && len < cap - 3; s++) {
        char c = *s;
        if (c == '"' || c == '\\') {
            buf[len++] = '\\';
            buf[len++] = c;
        } else if (c == '\n') {
            buf[len++] = '\\';
            buf[len++] = 'n';
        } else if ((unsigned char)c < 0x20) {
            buf[len++] = ' ';
        } else {
            buf[len++] = c;
        }
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
    len += (size_t)snprintf(line + len, sizeof line - len, ".%03ldZ level=%s",
                            ts.tv_nsec / 1000000, level_names[level]);
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
    if ((int)level >= atomic_load(&log_level))
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
