/* relabel_rules: Prometheus relabel_config rules, compiled once and run
 * on a relabel_labels set.
 *
 * Semantics follow the Prometheus configuration reference for
 * <relabel_config>: the values of source_labels joined by separator are
 * matched against regex, fully anchored; replace, keep, drop, keepequal,
 * dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase and
 * uppercase act on the result. Regexes are written in RE2 syntax (what
 * Prometheus and Alloy users write) and compiled with PCRE2 (JIT): the
 * few RE2 escapes PCRE2 reads differently are translated, and the PCRE2
 * extensions RE2 refuses (backreferences, lookaround) are refused too, so
 * a rule means here what it means in Prometheus. */
#ifndef RELABEL_RULES_H
#define RELABEL_RULES_H

#include <stddef.h>
#include <stdint.h>

#include <profpipe/plugin.h>

#include "relabel_labels.h"

typedef struct relabel_rule relabel_rule;

typedef struct relabel_rules {
    relabel_rule *rules;
    size_t n;
    /* scratch strings reused across calls (one thread per instance) */
    char *joined;
    size_t joined_cap;
    char *expanded;
    size_t expanded_cap;
    relabel_labels snapshot; /* labelmap iterates a copy */
} relabel_rules;

/* The option table of one rule (children of a SECTION_LIST option). */
extern const pp_option relabel_rule_options[];

/* Compiles the rules of the sequence `list` (a SECTION_LIST option's node
 * as cfg_fill stores it; NULL or absent: no rules), filling each item with
 * relabel_rule_options. Returns 0, or -1 after reporting through
 * host->cfg_error. */
int relabel_rules_compile(relabel_rules *out, const pp_host *host, const pp_config *list);
void relabel_rules_free(relabel_rules *r);

/* Labels a set may grow to through labelmap: each labelmap rule may
 * double the set (every label copied under a new name), so a few dozen
 * such rules would otherwise make billions of labels from a handful.
 * Pyroscope keeps at most 30 label names per series by default. */
#define RELABEL_MAX_LABELS 256

typedef enum relabel_verdict {
    RELABEL_LIMIT = -2, /* labelmap would grow the set past RELABEL_MAX_LABELS */
    RELABEL_ERROR = -1, /* out of memory */
    RELABEL_DROP = 0,   /* a keep/drop/keepequal/dropequal rule dropped it */
    RELABEL_KEEP = 1,
} relabel_verdict;

/* Runs every rule in order on `ls`, changing it in place. */
relabel_verdict relabel_rules_apply(relabel_rules *r, relabel_labels *ls);

/* Compiles one RE2-syntax pattern as the rules do (for tests): returns
 * NULL with a message and the offset in `pattern` on error. The result
 * is a pcre2_code_8 *; free with relabel_regex_free. */
void *relabel_regex_compile(const char *pattern, char *err, size_t errlen, size_t *err_offset);
void relabel_regex_free(void *re);
/* 1 when the whole of `subject` matches. */
int relabel_regex_full_match(void *re, const char *subject);

#endif
