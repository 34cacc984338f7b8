/* relabel_rules: see relabel_rules.h.
 *
 * Anchoring: Prometheus compiles `^(?s:REGEX)$`. We compile `(?s:REGEX)`
 * with PCRE2_ANCHORED | PCRE2_ENDANCHORED, which is the same full match
 * without PCRE2's `$`-before-final-newline rule. PCRE2_DOLLAR_ENDONLY
 * gives a user's own `$` RE2's meaning (end of text), PCRE2_UTF and
 * PCRE2_MATCH_INVALID_UTF read UTF-8 as RE2 does without failing on bytes
 * that are not UTF-8. Without PCRE2_UCP, `\d`, `\w`, `\s`, `\b` stay ASCII
 * as in RE2. Backtracking preference equals RE2's leftmost-first choice,
 * so capture groups hold what they hold in Prometheus.
 *
 * Replacement templates expand as Go's regexp.Expand does: `$1`, `${1}`,
 * `$name`, `${name}`, `$$` for a dollar; a name is the longest run of
 * letters, digits and `_` (so `$1x` is the group named `1x`, empty);
 * unknown groups expand to nothing; a malformed `$` stays literal. */
#include "relabel_rules.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "label_names.h"
#include "md5.h"

typedef enum relabel_action {
    ACT_REPLACE,
    ACT_KEEP,
    ACT_DROP,
    ACT_KEEPEQUAL,
    ACT_DROPEQUAL,
    ACT_HASHMOD,
    ACT_LABELMAP,
    ACT_LABELDROP,
    ACT_LABELKEEP,
    ACT_LOWERCASE,
    ACT_UPPERCASE,
} relabel_action;

static const char *const action_names[] = {
    [ACT_REPLACE] = "replace",     [ACT_KEEP] = "keep",           [ACT_DROP] = "drop",
    [ACT_KEEPEQUAL] = "keepequal", [ACT_DROPEQUAL] = "dropequal", [ACT_HASHMOD] = "hashmod",
    [ACT_LABELMAP] = "labelmap",   [ACT_LABELDROP] = "labeldrop", [ACT_LABELKEEP] = "labelkeep",
    [ACT_LOWERCASE] = "lowercase", [ACT_UPPERCASE] = "uppercase", NULL,
};

/* Prometheus' DefaultRelabelConfig. */
#define DEFAULT_SEPARATOR ";"
#define DEFAULT_REGEX "(.*)"
#define DEFAULT_REPLACEMENT "$1"
#define REGEX_PREFIX "(?s:"
#define REGEX_SUFFIX ")"
#define HASH_TAIL_BYTES 8 /* hashmod uses the digest's last 8 bytes */

struct relabel_rule {
    relabel_action action;
    char **source_labels;
    size_t n_source_labels;
    char *separator;
    char *target_label;
    char *replacement;
    uint64_t modulus;
    pcre2_code *re;
    pcre2_match_data *md;
};

/* What relabel_rule_options fills for one rule. */
typedef struct rule_settings {
    const pp_config *source_labels;
    const char *separator, *regex, *target_label, *replacement;
    int action; /* a relabel_action: action_names is in its order */
    int64_t modulus;
} rule_settings;

const pp_option relabel_rule_options[] = {
    {"source_labels", PP_OPT_STRING_LIST, "[]",
     "labels whose values are joined with `separator` and matched", 0, NULL,
     PP_FIELD(rule_settings, source_labels)},
    {"separator", PP_OPT_STRING, DEFAULT_SEPARATOR, "placed between the joined source label values",
     0, NULL, PP_FIELD(rule_settings, separator)},
    {"regex", PP_OPT_STRING, DEFAULT_REGEX,
     "RE2 regex matched against the joined value (fully anchored)", 0, NULL,
     PP_FIELD(rule_settings, regex)},
    {"target_label", PP_OPT_STRING, NULL,
     "label written by replace, hashmod, lowercase, uppercase; compared by keepequal, dropequal", 0,
     NULL, PP_FIELD(rule_settings, target_label)},
    {"replacement", PP_OPT_STRING, DEFAULT_REPLACEMENT,
     "value for replace and name for labelmap; $1, ${1}, ${name} expand", 0, NULL,
     PP_FIELD(rule_settings, replacement)},
    {"modulus", PP_OPT_INT, "0", "modulus of the hash for hashmod", 0, NULL,
     PP_FIELD(rule_settings, modulus), .min = "0"},
    {"action", PP_OPT_STRING, "replace",
     "replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, "
     "labelkeep, lowercase or uppercase (any case, as in Prometheus)",
     0, NULL, PP_FIELD(rule_settings, action), .enum_values = action_names,
     .flags = PP_OPT_ENUM_ANY_CASE},
    {0},
};

/* ---------------------------------------------------------------- */
/* Regex: RE2 syntax checked and translated, compiled by PCRE2.      */
/* ---------------------------------------------------------------- */

typedef struct regex_text {
    char *text;     /* translated pattern with prefix and suffix */
    size_t *origin; /* origin[i]: offset in the user's pattern of text[i] */
    size_t len;
} regex_text;

static int text_put(regex_text *t, const char *s, size_t origin)
{
    for (; *s; s++) {
        t->text[t->len] = *s;
        t->origin[t->len++] = origin;
    }
    return 0;
}

/* Whether the text after `(?` opens a group RE2 knows: flags `(?i)`,
 * `(?i:...)`, `(?:...)` or a named group `(?P<n>...)`, `(?<n>...)`.
 * PCRE2 also reads lookaround, `(?P=n)`, `(?>...)`, `(?R)`, ...: refused. */
static int re2_group(const char *q)
{
    if (q[0] == 'P' && q[1] == '<')
        return 1;
    if (q[0] == '<')
        return q[1] != '=' && q[1] != '!';
    while (*q && strchr("imsU-", *q))
        q++;
    return *q == ')' || *q == ':';
}

/* Translates what RE2 and PCRE2 read differently. Returns 0, or -1 with
 * the reason and offset of a construct RE2 refuses. */
static int regex_translate(const char *pat, regex_text *t, char *err, size_t errlen,
                           size_t *err_offset)
{
    size_t n = strlen(pat);
    /* worst case every char grows 4x (\v -> \x0B) plus the wrapper */
    size_t cap = 4 * n + sizeof REGEX_PREFIX + sizeof REGEX_SUFFIX + 1;
    t->text = malloc(cap);
    t->origin = malloc(cap * sizeof *t->origin);
    t->len = 0;
    if (!t->text || !t->origin) {
        snprintf(err, errlen, "out of memory");
        *err_offset = 0;
        return -1;
    }
    text_put(t, REGEX_PREFIX, 0);
    int quoted = 0;   /* inside \Q...\E everything is literal */
    int in_class = 0; /* inside [...] a `(` is a literal */
    size_t class_start = 0;
    for (size_t i = 0; i < n; i++) {
        char c = pat[i];
        if (quoted) {
            if (c == '\\' && pat[i + 1] == 'E')
                quoted = 0;
        } else if (c == '\\' && i + 1 < n) {
            char e = pat[i + 1];
            if (e == 'Q') {
                quoted = 1;
            } else if (e == 'v') { /* RE2: vertical tab; PCRE2: a class */
                text_put(t, "\\x0B", i);
                i++;
                continue;
            } else if (e >= '0' && e <= '9') {
                /* RE2: \0, or \1-\7 followed by an octal digit, starts an
                 * octal escape of up to three digits; a lone \1-\9 is a
                 * backreference, which RE2 refuses. PCRE2 may read both
                 * as backreferences, so spell the octal out as \o{...}. */
                size_t k = i + 1, end = i + 2;
                int octal = e == '0' || (e <= '7' && pat[k + 1] >= '0' && pat[k + 1] <= '7');
                if (!octal) {
                    snprintf(err, errlen, "backreferences are not RE2 syntax");
                    *err_offset = i;
                    return -1;
                }
                while (end < n && end < k + 3 && pat[end] >= '0' && pat[end] <= '7')
                    end++;
                text_put(t, "\\o{", i);
                for (size_t d = k; d < end; d++) {
                    t->text[t->len] = pat[d];
                    t->origin[t->len++] = d;
                }
                text_put(t, "}", end - 1);
                i = end - 1;
                continue;
            }
            t->text[t->len] = c;
            t->origin[t->len++] = i;
            t->text[t->len] = e;
            t->origin[t->len++] = i + 1;
            i++;
            continue;
        } else if (in_class) {
            /* `]` right after `[` or `[^` is a literal, not the end */
            if (c == ']' && i > class_start)
                in_class = 0;
        } else if (c == '[') {
            in_class = 1;
            class_start = i + 1 + (pat[i + 1] == '^');
        } else if (c == '(' && pat[i + 1] == '?' && !re2_group(pat + i + 2)) {
            snprintf(err, errlen,
                     "lookaround, backreferences, recursion and atomic "
                     "groups are not RE2 syntax");
            *err_offset = i;
            return -1;
        }
        t->text[t->len] = c;
        t->origin[t->len++] = i;
    }
    text_put(t, REGEX_SUFFIX, n);
    t->text[t->len] = '\0';
    return 0;
}

void *relabel_regex_compile(const char *pattern, char *err, size_t errlen, size_t *err_offset)
{
    regex_text t = {0};
    *err_offset = 0;
    if (regex_translate(pattern, &t, err, errlen, err_offset) != 0) {
        free(t.text);
        free(t.origin);
        return NULL;
    }
    int code;
    PCRE2_SIZE off;
    uint32_t opts = PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOLLAR_ENDONLY | PCRE2_UTF |
                    PCRE2_MATCH_INVALID_UTF;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)t.text, t.len, opts, &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(err, errlen, "%s", (const char *)msg);
        size_t at = off < t.len ? off : (t.len ? t.len - 1 : 0);
        *err_offset = t.len ? t.origin[at] : 0;
    } else {
        /* JIT is an optimisation: without it (no JIT support) matching
         * falls back to the interpreter with the same results. */
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    }
    free(t.text);
    free(t.origin);
    return re;
}

void relabel_regex_free(void *re)
{
    pcre2_code_free(re);
}

static int regex_match(pcre2_code *re, pcre2_match_data *md, const char *s, size_t len)
{
    return pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, NULL) >= 0;
}

int relabel_regex_full_match(void *re, const char *subject)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md)
        return 0;
    int ok = regex_match(re, md, subject, strlen(subject));
    pcre2_match_data_free(md);
    return ok;
}

/* ---------------------------------------------------------------- */
/* Rule compilation and validation (Prometheus' Config.Validate).    */
/* ---------------------------------------------------------------- */

static int is_name_char(int c)
{
    return isalnum(c) || c == '_';
}

/* A label name that may hold $1 / ${name} references (Prometheus'
 * relabelTarget pattern, loosely: name characters, `$`, braces). */
static int label_template_valid(const char *s)
{
    if (!s || !*s)
        return 0;
    if (!strchr(s, '$'))
        return label_name_valid(s);
    for (; *s; s++)
        if (!is_name_char((unsigned char)*s) && !strchr("${}", *s))
            return 0;
    return 1;
}

/* A template option (replacement, target_label) as cfg_fill read it,
 * read again with cfg_template when written: `$$` reaches
 * expand_template as written, which unescapes it as Go's regexp.Expand
 * does, so a rule pasted from Prometheus means the same here (`x$$y`
 * gives `x$y`). */
static const char *template_opt(const pp_host *host, const pp_config *item, const char *key,
                                const char *filled)
{
    if (!host->cfg_is_set(item, key)) /* the template text exists only when written */
        return filled;
    const char *s = host->cfg_template(item, key);
    return s ? s : filled;
}

static void rule_free(relabel_rule *r)
{
    for (size_t i = 0; i < r->n_source_labels; i++)
        free(r->source_labels[i]);
    free(r->source_labels);
    free(r->separator);
    free(r->target_label);
    free(r->replacement);
    pcre2_match_data_free(r->md);
    pcre2_code_free(r->re);
}

static int rule_read_sources(relabel_rule *r, const pp_host *host, const pp_config *src)
{
    size_t n = src ? host->cfg_count(src) : 0;
    if (n == 0)
        return 0;
    r->source_labels = calloc(n, sizeof *r->source_labels);
    if (!r->source_labels)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *s = host->cfg_scalar(host->cfg_item(src, i));
        r->source_labels[i] = strdup(s ? s : "");
        if (!r->source_labels[i])
            return -1;
        r->n_source_labels++;
    }
    return 0;
}

/* Prometheus' per-action field rules. 0 or the cfg_error. */
static int rule_validate(const relabel_rule *r, const pp_host *host, const pp_config *item,
                         int sources_set)
{
    const char *act = action_names[r->action];
    const char *tl = r->target_label;
    /* Prometheus' rules ask whether regex is written, not what it is */
    int default_regex = !host->cfg_is_set(item, "regex");
    int default_sep = strcmp(r->separator, DEFAULT_SEPARATOR) == 0;
    int default_repl = strcmp(r->replacement, DEFAULT_REPLACEMENT) == 0;
    switch (r->action) {
    case ACT_HASHMOD:
        if (r->modulus == 0)
            return host->cfg_error(item, "modulus", "hashmod requires a non-zero modulus");
        /* fall through */
    case ACT_LOWERCASE:
    case ACT_UPPERCASE:
    case ACT_KEEPEQUAL:
    case ACT_DROPEQUAL:
        if (!label_name_valid(tl))
            return host->cfg_error(item, "target_label", "%s requires a valid target_label", act);
        if (r->action != ACT_HASHMOD && !default_repl)
            return host->cfg_error(item, "replacement", "replacement can not be set for %s", act);
        if ((r->action == ACT_KEEPEQUAL || r->action == ACT_DROPEQUAL) &&
            (!default_regex || !default_sep || r->modulus != 0))
            return host->cfg_error(item, NULL, "%s takes only source_labels and target_label", act);
        return 0;
    case ACT_REPLACE:
        if (!label_template_valid(tl))
            return host->cfg_error(item, "target_label", "replace requires a valid target_label");
        return 0;
    case ACT_LABELMAP:
        if (!label_template_valid(r->replacement))
            return host->cfg_error(item, "replacement",
                                   "\"%s\" is not a valid label name for labelmap", r->replacement);
        return 0;
    case ACT_LABELDROP:
    case ACT_LABELKEEP:
        if (sources_set || tl || !default_sep || !default_repl || r->modulus != 0)
            return host->cfg_error(item, NULL, "%s takes only regex", act);
        return 0;
    default:
        return 0;
    }
}

static int rule_compile_regex(relabel_rule *r, const pp_host *host, const pp_config *item,
                              const char *pattern)
{
    char msg[256];
    size_t at;
    r->re = relabel_regex_compile(pattern, msg, sizeof msg, &at);
    if (!r->re)
        return host->cfg_error(item, "regex", "invalid RE2 regex at position %zu: %s", at, msg);
    r->md = pcre2_match_data_create_from_pattern(r->re, NULL);
    if (!r->md)
        return host->cfg_error(item, "regex", "out of memory");
    return 0;
}

/* Errors are reported at the rule's own node: the host names it as
 * `rules[i].<key>` with its file position. */
static int rule_compile(relabel_rule *r, const pp_host *host, const pp_config *item)
{
    rule_settings set = {0};
    if (host->cfg_fill(item, relabel_rule_options, &set) < 0)
        return -1;
    r->action = (relabel_action)set.action;
    if (rule_read_sources(r, host, set.source_labels) != 0)
        return host->cfg_error(item, NULL, "out of memory");
    r->separator = strdup(set.separator);
    r->replacement = strdup(template_opt(host, item, "replacement", set.replacement));
    const char *tl = template_opt(host, item, "target_label", set.target_label);
    r->target_label = tl && *tl ? strdup(tl) : NULL;
    if (!r->separator || !r->replacement || (tl && *tl && !r->target_label))
        return host->cfg_error(item, NULL, "out of memory");
    r->modulus = (uint64_t)set.modulus;
    /* written, even as [], differs from left out for Prometheus' rules */
    if (rule_validate(r, host, item, host->cfg_is_set(item, "source_labels")) != 0)
        return -1;
    return rule_compile_regex(r, host, item, set.regex);
}

int relabel_rules_compile(relabel_rules *out, const pp_host *host, const pp_config *list)
{
    memset(out, 0, sizeof *out);
    if (!list || host->cfg_kind(list) != PP_NODE_SEQUENCE)
        return 0;
    size_t n = host->cfg_count(list);
    if (n == 0)
        return 0;
    out->rules = calloc(n, sizeof *out->rules);
    if (!out->rules)
        return host->cfg_error(list, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        out->n++;
        if (rule_compile(&out->rules[i], host, host->cfg_item(list, i)) != 0) {
            relabel_rules_free(out);
            return -1;
        }
    }
    return 0;
}

void relabel_rules_free(relabel_rules *r)
{
    for (size_t i = 0; i < r->n; i++)
        rule_free(&r->rules[i]);
    free(r->rules);
    free(r->joined);
    free(r->expanded);
    relabel_labels_free(&r->snapshot);
    memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------- */
/* Applying the rules.                                               */
/* ---------------------------------------------------------------- */

static int buf_reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    char *p = realloc(*buf, c);
    if (!p)
        return -1;
    *buf = p;
    *cap = c;
    return 0;
}

static int buf_append(char **buf, size_t *cap, size_t *len, const char *s, size_t n)
{
    if (buf_reserve(buf, cap, *len + n + 1) != 0)
        return -1;
    if (n)
        memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* Joins the source label values (absent = "") into r->joined. */
static int join_sources(relabel_rules *rs, const relabel_rule *r, const relabel_labels *ls,
                        size_t *len)
{
    *len = 0;
    if (buf_append(&rs->joined, &rs->joined_cap, len, "", 0) != 0)
        return -1;
    for (size_t i = 0; i < r->n_source_labels; i++) {
        if (i > 0 &&
            buf_append(&rs->joined, &rs->joined_cap, len, r->separator, strlen(r->separator)) != 0)
            return -1;
        const char *v = relabel_labels_get(ls, r->source_labels[i]);
        if (v && buf_append(&rs->joined, &rs->joined_cap, len, v, strlen(v)) != 0)
            return -1;
    }
    return 0;
}

/* Reads a `$` reference at t (t[0] == '$') as Go's regexp.Expand does.
 * Returns the characters consumed, 0 when malformed; the group number
 * in *group (-1 for a name that is not a number, with *name, *name_len). */
static size_t template_ref(const char *t, long *group, const char **name, size_t *name_len)
{
    size_t i = 1, start, end;
    int brace = t[1] == '{';
    if (brace)
        i++;
    start = i;
    while (t[i] && is_name_char((unsigned char)t[i]))
        i++;
    end = i;
    if (end == start)
        return 0;
    if (brace) {
        if (t[i] != '}')
            return 0;
        i++;
    }
    *name = t + start;
    *name_len = end - start;
    long num = 0;
    for (size_t k = start; k < end; k++) {
        /* Go caps numbers at 1e8 and reads a leading zero as a name */
        if (!isdigit((unsigned char)t[k]) || num >= 100000000L)
            return *group = -1, i;
        num = num * 10 + (t[k] - '0');
    }
    *group = (t[start] == '0' && end - start > 1) ? -1 : num;
    return i;
}

static long group_by_name(pcre2_code *re, const char *name, size_t len)
{
    char tmp[128];
    if (len >= sizeof tmp)
        return -1;
    memcpy(tmp, name, len);
    tmp[len] = '\0';
    int n = pcre2_substring_number_from_name(re, (PCRE2_SPTR)tmp);
    return n < 0 ? -1 : n;
}

/* Expands `tmpl` with the groups of the last match of r on `subject`
 * into rs->expanded. Returns the length or -1 (OOM). */
static long expand_template(relabel_rules *rs, const relabel_rule *r, const char *tmpl,
                            const char *subject)
{
    size_t len = 0;
    if (buf_append(&rs->expanded, &rs->expanded_cap, &len, "", 0) != 0)
        return -1;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
    uint32_t n_pairs = pcre2_get_ovector_count(r->md);
    for (const char *t = tmpl; *t;) {
        const char *dollar = strchr(t, '$');
        size_t lit = dollar ? (size_t)(dollar - t) : strlen(t);
        if (buf_append(&rs->expanded, &rs->expanded_cap, &len, t, lit) != 0)
            return -1;
        t += lit;
        if (!dollar)
            break;
        if (t[1] == '$') {
            if (buf_append(&rs->expanded, &rs->expanded_cap, &len, "$", 1) != 0)
                return -1;
            t += 2;
            continue;
        }
        long group;
        const char *name;
        size_t name_len;
        size_t used = template_ref(t, &group, &name, &name_len);
        if (used == 0) { /* malformed: the `$` is literal */
            if (buf_append(&rs->expanded, &rs->expanded_cap, &len, "$", 1) != 0)
                return -1;
            t++;
            continue;
        }
        t += used;
        if (group < 0)
            group = group_by_name(r->re, name, name_len);
        if (group < 0 || (uint32_t)group >= n_pairs || ov[2 * group] == PCRE2_UNSET)
            continue;
        if (buf_append(&rs->expanded, &rs->expanded_cap, &len, subject + ov[2 * group],
                       ov[2 * group + 1] - ov[2 * group]) != 0)
            return -1;
    }
    return (long)len;
}

static int set_case(relabel_labels *ls, const char *target, const char *val, size_t len, int upper)
{
    char *v = malloc(len + 1);
    if (!v)
        return -1;
    for (size_t i = 0; i < len; i++)
        v[i] = (char)(upper ? toupper((unsigned char)val[i]) : tolower((unsigned char)val[i]));
    int rc = relabel_labels_setn(ls, target, v, len);
    free(v);
    return rc;
}

static int apply_replace(relabel_rules *rs, const relabel_rule *r, relabel_labels *ls,
                         const char *val, size_t len)
{
    if (!regex_match(r->re, r->md, val, len))
        return 0;
    long tl = expand_template(rs, r, r->target_label, val);
    if (tl < 0)
        return -1;
    if (!label_name_valid(rs->expanded))
        return 0;
    char *target = strdup(rs->expanded);
    if (!target)
        return -1;
    long vl = expand_template(rs, r, r->replacement, val);
    int rc = vl < 0 ? -1 : relabel_labels_setn(ls, target, rs->expanded, (size_t)vl);
    free(target);
    return rc;
}

static int apply_hashmod(relabel_labels *ls, const relabel_rule *r, const char *val, size_t len)
{
    uint8_t d[MD5_DIGEST_LEN];
    md5_digest(val, len, d);
    uint64_t h = 0;
    for (size_t i = MD5_DIGEST_LEN - HASH_TAIL_BYTES; i < MD5_DIGEST_LEN; i++)
        h = h << 8 | d[i];
    char num[24];
    snprintf(num, sizeof num, "%" PRIu64, h % r->modulus);
    return relabel_labels_set(ls, r->target_label, num);
}

/* 0, -1 out of memory, -2 when a new label would pass RELABEL_MAX_LABELS. */
static int apply_labelmap(relabel_rules *rs, const relabel_rule *r, relabel_labels *ls)
{
    if (relabel_labels_copy(&rs->snapshot, ls) != 0)
        return -1;
    for (size_t i = 0; i < rs->snapshot.n; i++) {
        const relabel_label *l = &rs->snapshot.items[i];
        if (!regex_match(r->re, r->md, l->name, strlen(l->name)))
            continue;
        if (expand_template(rs, r, r->replacement, l->name) < 0)
            return -1;
        if (ls->n >= RELABEL_MAX_LABELS && !relabel_labels_get(ls, rs->expanded))
            return -2;
        if (relabel_labels_set(ls, rs->expanded, l->value) != 0)
            return -1;
    }
    return 0;
}

static void apply_labelfilter(const relabel_rule *r, relabel_labels *ls, int keep_matching)
{
    for (size_t i = 0; i < ls->n;) {
        const char *name = ls->items[i].name;
        int m = regex_match(r->re, r->md, name, strlen(name));
        if (m != keep_matching)
            relabel_labels_remove_at(ls, i);
        else
            i++;
    }
}

/* One rule: 1 keep, 0 drop, -1 OOM, -2 label limit. */
static int rule_apply(relabel_rules *rs, const relabel_rule *r, relabel_labels *ls)
{
    size_t len;
    if (join_sources(rs, r, ls, &len) != 0)
        return -1;
    const char *val = rs->joined;
    switch (r->action) {
    case ACT_REPLACE:
        return apply_replace(rs, r, ls, val, len) == 0 ? 1 : -1;
    case ACT_KEEP:
        return regex_match(r->re, r->md, val, len);
    case ACT_DROP:
        return !regex_match(r->re, r->md, val, len);
    case ACT_KEEPEQUAL:
    case ACT_DROPEQUAL: {
        const char *t = relabel_labels_get(ls, r->target_label);
        int equal = strcmp(t ? t : "", val) == 0;
        return r->action == ACT_KEEPEQUAL ? equal : !equal;
    }
    case ACT_HASHMOD:
        return apply_hashmod(ls, r, val, len) == 0 ? 1 : -1;
    case ACT_LABELMAP: {
        int rc = apply_labelmap(rs, r, ls);
        return rc == 0 ? 1 : rc;
    }
    case ACT_LABELDROP:
        apply_labelfilter(r, ls, 0);
        return 1;
    case ACT_LABELKEEP:
        apply_labelfilter(r, ls, 1);
        return 1;
    case ACT_LOWERCASE:
    case ACT_UPPERCASE:
        return set_case(ls, r->target_label, val, len, r->action == ACT_UPPERCASE) == 0 ? 1 : -1;
    }
    return 1;
}

relabel_verdict relabel_rules_apply(relabel_rules *r, relabel_labels *ls)
{
    for (size_t i = 0; i < r->n; i++) {
        int rc = rule_apply(r, &r->rules[i], ls);
        if (rc == -2)
            return RELABEL_LIMIT;
        if (rc < 0)
            return RELABEL_ERROR;
        if (rc == 0)
            return RELABEL_DROP;
    }
    return RELABEL_KEEP;
}
