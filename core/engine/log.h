/* log: logfmt lines on stderr (`ts=... level=... component=... msg="..."`),
 * one write per line so lines from different threads never interleave.
 * Warnings and errors are rate-limited per kind (level, component, format
 * string): log_burst lines per window, then a count of what was held
 * back ("N similar messages suppressed ...") and the metric
 * profpipe_log_suppressed_total{level,component}. */
#ifndef PROFPIPE_LOG_H
#define PROFPIPE_LOG_H

#include <stdarg.h>
#include <profpipe/plugin.h>

void log_set_level(pp_log_level level);
pp_log_level log_get_level(void);
/* "debug", "info", "warn", "error" → 0, else -1. */
int log_parse_level(const char *text, pp_log_level *out);
/* component may be NULL for the service itself. */
void log_msg(pp_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(pp_log_level level, const char *component, const char *fmt, va_list ap);
/* Called with every warning and error (whatever the log level), from the
 * thread that logs it: the built-in page shows each component's last one.
 * NULL turns it off. */
typedef void (*log_observer_fn)(pp_log_level level, const char *component, const char *msg);
void log_set_observer(log_observer_fn fn);
/* msg as is, then fields: NULL-terminated name, value pairs written as
 * name="value" (`file="x.yaml" line="3"`), so tools read them as fields. */
void log_fields(pp_log_level level, const char *component, const char *msg,
                const char *const *fields);
/* Lines per kind per window (default 20 per 10 s); also forgets every
 * kind's history. */
void log_set_rate_limit(unsigned burst, int64_t window_ns);

#define log_error(...) log_msg(PP_LOG_ERROR, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(PP_LOG_WARN, NULL, __VA_ARGS__)
#define log_info(...) log_msg(PP_LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_msg(PP_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
