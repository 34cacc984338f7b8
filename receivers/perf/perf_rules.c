/* perf_rules: PCRE2 regexes for the process filter and service_name rules
 * (see perf_rules.h). Each regex owns its match data; the receiver uses
 * them only from its reader thread, so no locking is needed.
 */
#include "perf_rules.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_DIGITS_MAX 3

struct perf_regex {
    pcre2_code *code;
    pcre2_match_data *md;
    uint32_t groups;
};

perf_regex *perf_regex_new(const char *pattern, char *err, size_t errlen)
{
    int code;
    PCRE2_SIZE off;
    perf_regex *re = calloc(1, sizeof *re);
    if (!re) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                             PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF, &code, &off, NULL);
    if (!re->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(err, errlen, "invalid regex at offset %zu: %s", (size_t)off, (const char *)msg);
        free(re);
        return NULL;
    }
    re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
    pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &re->groups);
    if (!re->md) {
        snprintf(err, errlen, "out of memory");
        perf_regex_free(re);
        return NULL;
    }
    return re;
}

void perf_regex_free(perf_regex *re)
{
    if (!re)
        return;
    pcre2_match_data_free(re->md);
    pcre2_code_free(re->code);
    free(re);
}

int perf_regex_match(perf_regex *re, const char *text)
{
    return pcre2_match(re->code, (PCRE2_SPTR)text, PCRE2_ZERO_TERMINATED, 0, 0, re->md, NULL) >= 0;
}

int perf_rule_source_parse(const char *text)
{
    if (strcmp(text, "comm") == 0)
        return PERF_SOURCE_COMM;
    if (strcmp(text, "exe") == 0)
        return PERF_SOURCE_EXE;
    if (strcmp(text, "cgroup") == 0)
        return PERF_SOURCE_CGROUP;
    return -1;
}

/* Reads a group reference after '$' ("1" or "{1}"); returns the characters
 * consumed (0 if none) and the group in *group. */
static size_t group_ref(const char *p, unsigned *group)
{
    int braced = *p == '{';
    const char *q = p + braced;
    size_t digits = 0;
    *group = 0;
    while (isdigit((unsigned char)q[digits]) && digits < GROUP_DIGITS_MAX) {
        *group = *group * 10 + (unsigned)(q[digits] - '0');
        digits++;
    }
    if (!digits || (braced && q[digits] != '}'))
        return 0;
    return (size_t)braced * 2 + digits;
}

/* Expands tmpl with the groups of the last match (ovector NULL: only check
 * that every group exists). -1 on a group the regex lacks. */
static int expand(const perf_regex *re, const char *text, const PCRE2_SIZE *ov, const char *tmpl,
                  char *out, size_t outlen)
{
    size_t o = 0;
    for (const char *p = tmpl; *p;) {
        unsigned g;
        size_t used = p[0] == '$' ? group_ref(p + 1, &g) : 0;
        const char *piece = p;
        size_t len = 1;
        if (used) {
            if (g > re->groups)
                return -1;
            p += 1 + used;
            if (!ov || ov[2 * g] == PCRE2_UNSET)
                continue;
            piece = text + ov[2 * g];
            len = ov[2 * g + 1] - ov[2 * g];
        } else {
            p += (p[0] == '$' && p[1] == '$') ? 2 : 1;
        }
        if (out && o + len < outlen) {
            memcpy(out + o, piece, len);
            o += len;
        }
    }
    if (out && outlen)
        out[o < outlen ? o : outlen - 1] = '\0';
    return 0;
}

int perf_rule_check(perf_regex *re, const char *tmpl, char *err, size_t errlen)
{
    if (expand(re, NULL, NULL, tmpl, NULL, 0) < 0) {
        snprintf(err, errlen, "names a group the regex does not have (it has %u)", re->groups);
        return -1;
    }
    return 0;
}

int perf_rule_apply(perf_regex *re, const char *text, const char *tmpl, char *out, size_t outlen)
{
    if (!perf_regex_match(re, text))
        return 0;
    return expand(re, text, pcre2_get_ovector_pointer(re->md), tmpl, out, outlen) < 0 ? -1 : 1;
}

void perf_service_name(const perf_rule *rules, size_t n, const char *comm, const char *exe,
                       const char *cgroup, char *out, size_t outlen)
{
    for (size_t i = 0; i < n; i++) {
        const char *text = rules[i].source == PERF_SOURCE_COMM  ? comm
                           : rules[i].source == PERF_SOURCE_EXE ? exe
                                                                : cgroup;
        if (text && perf_rule_apply(rules[i].re, text, rules[i].name, out, outlen) == 1 && out[0])
            return;
    }
    if (exe && exe[0]) {
        const char *slash = strrchr(exe, '/');
        snprintf(out, outlen, "%s", slash ? slash + 1 : exe);
    } else {
        snprintf(out, outlen, "%s", comm && comm[0] ? comm : "unknown");
    }
}
