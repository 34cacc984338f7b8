/* perf_rules: the regexes of the perf receiver: the process filter
 * (`comm`, `exe`) and the `service_name` rules that name a process's
 * service from its comm, executable or cgroup.
 *
 * Regexes are PCRE2 (the syntax Prometheus users write: `\d+`, `(?i)`),
 * anchored at both ends like Prometheus relabel rules: `.*java.*` matches a
 * substring, `java` only the whole text. The first rule that matches names
 * the service; its `name` may refer to groups as $1 or ${1} ($$ is a `$`).
 */
#ifndef PERF_RULES_H
#define PERF_RULES_H

#include <stddef.h>

typedef struct perf_regex perf_regex;

/* NULL with the compiler's message in err. */
perf_regex *perf_regex_new(const char *pattern, char *err, size_t errlen);
void perf_regex_free(perf_regex *re);
int perf_regex_match(perf_regex *re, const char *text);

typedef enum perf_rule_source {
    PERF_SOURCE_COMM = 0,
    PERF_SOURCE_EXE,
    PERF_SOURCE_CGROUP,
} perf_rule_source;

typedef struct perf_rule {
    perf_regex *re;
    perf_rule_source source;
    char *name; /* owned template */
} perf_rule;

/* "comm", "exe", "cgroup" → source; -1 otherwise. */
int perf_rule_source_parse(const char *text);
/* If re matches text, writes the expanded template into out and returns 1;
 * 0 if no match; -1 if the template names a group that does not exist. */
int perf_rule_apply(perf_regex *re, const char *text, const char *tmpl, char *out, size_t outlen);
/* Checks that tmpl refers only to groups re has. 0 or -1. */
int perf_rule_check(perf_regex *re, const char *tmpl, char *err, size_t errlen);

/* The service name of a process: the first rule matching, else the
 * executable's base name, else comm. */
void perf_service_name(const perf_rule *rules, size_t n, const char *comm, const char *exe,
                       const char *cgroup, char *out, size_t outlen);

#endif
