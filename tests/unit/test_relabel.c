/* relabel processor: a table of Prometheus relabel_config cases whose
 * expected results follow the Prometheus configuration reference for
 * each action (replace, keep, drop, keepequal, dropequal, hashmod,
 * labelmap, labeldrop, labelkeep, lowercase, uppercase), with empty and
 * missing source values and chained rules; config errors; series-only
 * relabelling never decoding the payload; sample_labels merging samples.
 *
 * hashmod expectations were computed independently of our MD5 with
 * Python: int.from_bytes(hashlib.md5(v).digest()[8:], "big") % modulus,
 * which is Prometheus' definition (last 8 digest bytes, big-endian). */
#include "profile_fixture.h"

#include "../../processors/relabel/relabel_rules.h"
#include "metrics.h"
#include "pprof_internal.h" /* has_tree: whether a profile was ever decoded */

extern const pp_component pp_processor_relabel;

#define BASE "service_name=svc,__name__=process_cpu"

typedef struct relabel_case {
    const char *name;
    const char *rules; /* YAML sequence items of `rules:` */
    const char *in;    /* labels added to BASE (or all labels when bare) */
    const char *want;  /* expected labels besides BASE; NULL = dropped */
    int bare;          /* no BASE labels in input or output */
} relabel_case;

static const relabel_case cases[] = {
    {"replace copies with the default regex and replacement",
     "- {source_labels: [a], target_label: b}", "a=x", "a=x,b=x", 0},
    {"replace from a missing label empties the target, deleting it",
     "- {source_labels: [missing], target_label: b}", "b=old", "", 0},
    {"replace does nothing when the regex does not match",
     "- {source_labels: [a], regex: 'y.*', target_label: b, replacement: z}", "a=x", "a=x", 0},
    {"replace joins sources with ';' and expands groups",
     "- {source_labels: [a, c], regex: '(.*);(.*)', target_label: d, replacement: '$2-$1'}",
     "a=1,c=2", "a=1,c=2,d=2-1", 0},
    {"separator joins the source values",
     "- {source_labels: [a, c], separator: '/', target_label: d}", "a=1,c=2", "a=1,c=2,d=1/2", 0},
    {"${1} ends a group reference before name characters",
     "- {source_labels: [a], target_label: b, replacement: '${1}_x'}", "a=v", "a=v,b=v_x", 0},
    {"$1_x names the group '1_x', which is empty: target deleted",
     "- {source_labels: [a], target_label: b, replacement: '$1_x'}", "a=v,b=old", "a=v", 0},
    {"named groups expand as ${name}",
     "- {source_labels: [addr], regex: '(?P<host>[^:]+):(?P<port>\\d+)', target_label: h, "
     "replacement: '${host}'}",
     "addr=db1:5432", "addr=db1:5432,h=db1", 0},
    {"regex is fully anchored",
     "- {source_labels: [a], regex: 'x', target_label: b, replacement: hit}", "a=xx", "a=xx", 0},
    {"(?i) makes keep case-insensitive",
     "- {source_labels: [env], regex: '(?i)PROD', action: keep}", "env=prod", "env=prod", 0},
    {"keep drops a non-matching profile", "- {source_labels: [env], regex: prod, action: keep}",
     "env=dev", NULL, 0},
    {"drop drops a matching profile", "- {source_labels: [env], regex: dev, action: drop}",
     "env=dev", NULL, 0},
    {"drop keeps a non-matching profile", "- {source_labels: [env], regex: dev, action: drop}",
     "env=prod", "env=prod", 0},
    {"keep on a missing label: '' does not match .+",
     "- {source_labels: [team], regex: '.+', action: keep}", "env=prod", NULL, 0},
    {"drop with the default regex matches the empty value of a missing label",
     "- {source_labels: [team], action: drop}", "env=prod", NULL, 0},
    {"keepequal keeps when the target equals the joined sources",
     "- {source_labels: [a], target_label: b, action: keepequal}", "a=1,b=1", "a=1,b=1", 0},
    {"keepequal drops when they differ",
     "- {source_labels: [a], target_label: b, action: keepequal}", "a=1,b=2", NULL, 0},
    {"dropequal drops when they are equal",
     "- {source_labels: [a], target_label: b, action: dropequal}", "a=1,b=1", NULL, 0},
    {"dropequal keeps when the target is missing ('' != '1')",
     "- {source_labels: [a], target_label: b, action: dropequal}", "a=1", "a=1", 0},
    {"hashmod: md5 last 8 bytes mod modulus",
     "- {source_labels: [instance], modulus: 8, target_label: shard, action: hashmod}",
     "instance=10.0.0.1:9090", "instance=10.0.0.1:9090,shard=1", 0},
    {"hashmod of the empty value of a missing label",
     "- {source_labels: [nothing], modulus: 5, target_label: shard, action: hashmod}", "",
     "shard=3", 0},
    {"hashmod of joined sources",
     "- {source_labels: [a, b], modulus: 1000, target_label: shard, action: hashmod}", "a=a,b=b",
     "a=a,b=b,shard=74", 0},
    {"labelmap copies matching labels under the replacement name",
     "- {regex: 'meta_(.+)', action: labelmap}", "meta_zone=eu", "meta_zone=eu,zone=eu", 0},
    {"labelmap with a prefixed replacement",
     "- {regex: 'meta_(.+)', replacement: 'k8s_${1}', action: labelmap}", "meta_ns=prod",
     "k8s_ns=prod,meta_ns=prod", 0},
    {"labeldrop removes every matching label", "- {regex: 'tmp_.*', action: labeldrop}",
     "tmp_a=1,tmp_b=2,keep=3", "keep=3", 0},
    {"labelkeep removes every label that does not match",
     "- {regex: 'service_name|__name__|env', action: labelkeep}", "env=p,pod=x,node=y", "env=p", 0},
    {"lowercase writes the lower-cased joined value",
     "- {source_labels: [Env], target_label: env, action: lowercase}", "Env=PROD",
     "Env=PROD,env=prod", 0},
    {"uppercase writes the upper-cased joined value",
     "- {source_labels: [a, b], target_label: c, action: uppercase}", "a=x,b=y", "a=x,b=y,c=X;Y",
     0},
    {"lowercase of a missing label deletes the target",
     "- {source_labels: [none], target_label: env, action: lowercase}", "env=old", "", 0},
    {"rules chain: replace, then keep on the new label",
     "- {source_labels: [pod], regex: '(.*)-canary', target_label: track, replacement: canary}\n"
     "- {source_labels: [track], regex: canary, action: keep}",
     "pod=api-canary", "pod=api-canary,track=canary", 0},
    {"rules chain: a later keep sees what an earlier rule removed",
     "- {regex: 'pod', action: labeldrop}\n- {source_labels: [pod], regex: '.+', action: keep}",
     "pod=api", NULL, 0},
    {"rules chain: labelmap then labeldrop of the originals",
     "- {regex: '__meta_(.+)', action: labelmap}\n- {regex: '__meta_.+', action: labeldrop}",
     "__meta_region=us", "region=us", 0},
    {"target_label expands group references",
     "- {source_labels: [kind], target_label: 'is_${1}', replacement: 'yes'}", "kind=cpu",
     "is_cpu=yes,kind=cpu", 0},
    {"non-greedy groups take the shortest match",
     "- {source_labels: [pod], regex: '(.*?)-(.*)', target_label: app}", "pod=a-b-c",
     "app=a,pod=a-b-c", 0},
    {"\\d+ (RE2 class) matches digits",
     "- {source_labels: [lat], regex: '(\\d+)ms', target_label: n}", "lat=250ms", "lat=250ms,n=250",
     0},
    /* a replacement pasted from Prometheus means what it means there
     * (Prometheus 2.42's relabel, checked against the real binary by
     * e2e/processors/test_relabel_dollar): the config loader leaves `$$`
     * in templates for the relabel expansion to unescape */
    {"$$ is a literal dollar", "- {source_labels: [a], target_label: b, replacement: 'cost$$1'}",
     "a=v", "a=v,b=cost$1", 0},
    {"x$$y gives x$y as in Prometheus",
     "- {source_labels: [a], target_label: b, replacement: 'x$$y'}", "a=v", "a=v,b=x$y", 0},
    {"$$$$ is two dollars", "- {source_labels: [a], target_label: b, replacement: '$$$$$1'}", "a=v",
     "a=v,b=$$v", 0},
    {"an empty regex matches only the empty value",
     "- {source_labels: [missing], regex: '', target_label: t, replacement: set}", "", "t=set", 0},
    {"replace may overwrite service_name",
     "- {source_labels: [service_name], regex: '(.*)-v2', target_label: service_name}",
     "service_name=api-v2,__name__=memory", "__name__=memory,service_name=api", 1},
    {"losing service_name drops the profile", "- {regex: service_name, action: labeldrop}", "",
     NULL, 0},
    {"losing __name__ drops the profile", "- {source_labels: [nothing], target_label: __name__}",
     "", NULL, 0},
    {"a target name that is not a valid label name after expansion is skipped",
     "- {source_labels: [a], target_label: '${1}', replacement: v}", "a=9x", "a=9x", 0},
    {"(?s) is implied: . matches a newline",
     "- {source_labels: [a], regex: 'x.y', target_label: b, replacement: hit}", "a=x\ny",
     "a=x\ny,b=hit", 0},
};

/* "k=v,k2=v2" plus optional base, sorted by name, into out. */
static void canonical(const char *base, const char *labels, char *out, size_t outlen)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s%s%s", base ? base : "", base && *labels ? "," : "", labels);
    char *items[32];
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        items[n++] = tok;
    for (size_t i = 1; i < n; i++) /* insertion sort by name */
        for (size_t j = i; j > 0 && strcmp(items[j - 1], items[j]) > 0; j--) {
            char *tmp = items[j];
            items[j] = items[j - 1];
            items[j - 1] = tmp;
        }
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(out + off, outlen - off, "%s%s", i ? "," : "", items[i]);
}

static void profile_labels(pp_profile *p, char *out, size_t outlen)
{
    const pp_host *h = fx_host();
    char buf[1024];
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < h->label_count(p); i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s=%s", i ? "," : "",
                                h->label_name(p, i), h->label_value(p, i));
    canonical(NULL, buf, out, outlen);
}

static pp_profile *labelled_profile(const char *labels)
{
    const pp_host *h = fx_host();
    pp_profile *p = h->profile_new();
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", labels);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        *eq = '\0';
        assert_int_equal(h->label_set(p, tok, eq + 1), 0);
    }
    /* not a pprof at all: series relabelling must never look at it */
    static const uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef};
    assert_int_equal(h->profile_set_raw(p, junk, sizeof junk), 0);
    return p;
}

static void run_case(const relabel_case *c)
{
    const pp_host *h = fx_host();
    char yaml[2048], in[1024], want[1024], got[1024];
    /* indent the rule items under `rules:` */
    size_t off = (size_t)snprintf(yaml, sizeof yaml, "rules:\n  ");
    for (const char *r = c->rules; *r; r++) {
        yaml[off++] = *r;
        if (*r == '\n')
            off += (size_t)snprintf(yaml + off, sizeof yaml - off, "  ");
    }
    yaml[off] = '\0';
    harness *hs = fx_harness(&pp_processor_relabel, yaml);
    canonical(c->bare ? NULL : BASE, c->in, in, sizeof in);
    pp_batch *out = fx_run(&pp_processor_relabel, hs, labelled_profile(in));
    size_t n = out ? h->batch_count(out) : 0;
    if (!c->want) {
        if (n != 0)
            fail_msg("%s: expected the profile dropped", c->name);
    } else {
        if (n != 1)
            fail_msg("%s: expected the profile kept", c->name);
        canonical(c->bare ? NULL : BASE, c->want, want, sizeof want);
        profile_labels(h->batch_get(out, 0), got, sizeof got);
        if (strcmp(want, got) != 0)
            fail_msg("%s:\n want %s\n  got %s", c->name, want, got);
    }
    if (out)
        h->batch_unref(out);
    harness_free(hs);
}

static void test_table(void **state)
{
    (void)state;
    assert_true(sizeof cases / sizeof cases[0] >= 30);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
}

/* Every series action at once, none of which needs the payload. */
static const char *const series_only_rules =
    "rules:\n"
    "  - {source_labels: [service_name], regex: '(.*)', target_label: app}\n"
    "  - {source_labels: [env], regex: 'prod', action: keep}\n"
    "  - {source_labels: [env], regex: 'dev', action: drop}\n"
    "  - {source_labels: [env], target_label: env2, action: keepequal}\n"
    "  - {source_labels: [env], target_label: app, action: dropequal}\n"
    "  - {source_labels: [instance], modulus: 4, target_label: shard, action: hashmod}\n"
    "  - {regex: 'meta_(.+)', action: labelmap}\n"
    "  - {regex: 'meta_.+', action: labeldrop}\n"
    "  - {regex: 'service_name|__name__|app|env|env2|shard|zone|instance|E', action: labelkeep}\n"
    "  - {source_labels: [env], target_label: E, action: uppercase}\n"
    "  - {source_labels: [E], target_label: env, action: lowercase}\n";

static pp_profile *series_profile(const void *payload, size_t len)
{
    const pp_host *h = fx_host();
    pp_profile *p = h->profile_new();
    const char *labels[][2] = {{"service_name", "svc"}, {"__name__", "process_cpu"},
                               {"env", "prod"},         {"env2", "prod"},
                               {"instance", "a:1"},     {"meta_zone", "b"}};
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        assert_int_equal(h->label_set(p, labels[i][0], labels[i][1]), 0);
    assert_int_equal(h->profile_set_raw(p, payload, len), 0);
    return p;
}

/* Runs the series-only rules on a profile holding `payload`; checks the
 * rules did their work, that the payload is byte for byte what came in
 * and that nothing ever decoded it. */
static void series_only_untouched(const void *payload, size_t len)
{
    const pp_host *h = fx_host();
    harness *hs = fx_harness(&pp_processor_relabel, series_only_rules);
    pp_batch *out = fx_run(&pp_processor_relabel, hs, series_profile(payload, len));
    assert_int_equal(h->batch_count(out), 1);
    pp_profile *q = h->batch_get(out, 0);
    char got[1024];
    profile_labels(q, got, sizeof got);
    /* shard: md5("a:1") last 8 bytes mod 4 = 0 (Python's hashlib) */
    assert_string_equal(got, "E=PROD,__name__=process_cpu,app=svc,env2=prod,env=prod,instance=a:1,"
                             "service_name=svc,shard=0,zone=b");
    assert_false(q->has_tree);
    assert_non_null(q->raw);
    assert_int_equal(q->raw->len, len);
    assert_memory_equal(q->raw->data, payload, len);
    h->batch_unref(out);
    harness_free(hs);
}

/* A labels-only pipeline never decodes the payload: a real pprof passes
 * with its tree never built, and bytes that are no pprof at all (plain
 * junk, and junk behind a gzip header) pass the same rules untouched. */
static void test_series_rules_never_decode(void **state)
{
    (void)state;
    const pp_host *h = fx_host();
    pp_profile *src = fx_profile("svc", "process_cpu", "samples/count,cpu/nanoseconds");
    fx_sample1(src, "main;work", 7, "span_id=00f067aa0ba902b7");
    const uint8_t *gz;
    size_t gz_len;
    char err[FX_ERR];
    assert_int_equal(h->profile_raw_gz(src, &gz, &gz_len, err, sizeof err), 0);
    series_only_untouched(gz, gz_len);
    h->profile_free(src);

    static const uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0xff};
    static const uint8_t gz_junk[] = {0x1f, 0x8b, 0x08, 0x00, 'n', 'o', 't', ' ', 'p', 'p'};
    for (int i = 0; i < 2; i++) { /* the premise: neither decodes */
        pp_profile *bad =
            i ? series_profile(gz_junk, sizeof gz_junk) : series_profile(junk, sizeof junk);
        assert_null(h->profile_tree(bad, err, sizeof err));
        h->profile_free(bad);
    }
    series_only_untouched(junk, sizeof junk);
    series_only_untouched(gz_junk, sizeof gz_junk);
}

/* The value of one of the instance's metrics (same name and labels as
 * the processor registered: the same handle). */
static double metric_value(harness *hs, const char *name, const char *labels)
{
    return metrics_value(fx_host()->metric(harness_instance(hs), name, "", PP_COUNTER, labels));
}

/* Drops are counted by reason: a keep/drop rule, and a profile the rules
 * left without service_name or __name__. */
static void test_drops_counted(void **state)
{
    (void)state;
    const pp_host *h = fx_host();
    harness *hs = fx_harness(&pp_processor_relabel,
                             "rules:\n  - {source_labels: [env], regex: dev, action: drop}\n"
                             "  - {source_labels: [env], regex: nameless, target_label: __name__,"
                             " replacement: ''}");
    const char *rule = "reason=\"rule\"", *missing = "reason=\"missing_required_label\"";
    const char *name = "relabel_dropped_profiles_total";
    double rule0 = metric_value(hs, name, rule), missing0 = metric_value(hs, name, missing);
    const char *inputs[] = {BASE ",env=dev", BASE ",env=prod", BASE ",env=nameless", BASE};
    size_t kept = 0;
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        pp_batch *out = fx_run(&pp_processor_relabel, hs, labelled_profile(inputs[i]));
        kept += h->batch_count(out);
        h->batch_unref(out);
    }
    assert_int_equal(kept, 2);
    assert_true(metric_value(hs, name, rule) == rule0 + 1);
    assert_true(metric_value(hs, name, missing) == missing0 + 1);
    harness_free(hs);
}

/* labelmap rules that each copy every label under a name of their own
 * (r0_..., r1_...) double the set: 40 of them would make 2^40 times the
 * labels. The set stops at
 * RELABEL_MAX_LABELS and the profile is dropped, counted as label_limit;
 * 5 such rules on 4 labels (128 labels) stay under it, every copy there. */
static void test_labelmap_label_limit(void **state)
{
    (void)state;
    const pp_host *h = fx_host();
    char yaml[4096];
    for (int rules = 5; rules <= 40; rules += 35) {
        size_t off = (size_t)snprintf(yaml, sizeof yaml, "rules:\n");
        for (int i = 0; i < rules; i++)
            off += (size_t)snprintf(
                yaml + off, sizeof yaml - off,
                "  - {action: labelmap, regex: '(.+)', replacement: 'r%d_$1'}\n", i);
        harness *hs = fx_harness(&pp_processor_relabel, yaml);
        const char *limit = "reason=\"label_limit\"", *name = "relabel_dropped_profiles_total";
        double before = metric_value(hs, name, limit);
        pp_batch *out = fx_run(&pp_processor_relabel, hs, labelled_profile(BASE ",a=1,b=2"));
        size_t kept = h->batch_count(out);
        if (rules == 5) {
            assert_int_equal(kept, 1);
            pp_profile *p = h->batch_get(out, 0);
            assert_int_equal(h->label_count(p), 4 << 5);
            assert_string_equal(h->label_get(p, "r4_r3_r2_r1_r0_a"), "1");
            assert_true(metric_value(hs, name, limit) == before);
        } else {
            assert_int_equal(kept, 0);
            assert_true(metric_value(hs, name, limit) == before + 1);
        }
        h->batch_unref(out);
        harness_free(hs);
    }
}

/* Option errors name the rule and, for regexes, the position. */
static void expect_error(const char *yaml, const char *part1, const char *part2)
{
    char err[FX_ERR] = "";
    harness *hs = harness_new(&pp_processor_relabel, "relabel", yaml, err, sizeof err);
    if (hs) {
        harness_free(hs);
        fail_msg("accepted: %s", yaml);
    }
    if (!strstr(err, part1) || (part2 && !strstr(err, part2)))
        fail_msg("error \"%s\" lacks \"%s\"/\"%s\"", err, part1, part2 ? part2 : "");
}

static void test_config_errors(void **state)
{
    (void)state;
    expect_error("rules:\n  - {source_labels: [a], target_label: b}\n"
                 "  - {source_labels: [a], regex: 'ab(c', target_label: b}",
                 "rules[1].regex", "position 4");
    expect_error("rules:\n  - {source_labels: [a], regex: '(a)\\1', action: keep}",
                 "rules[0].regex", "backreference");
    expect_error("rules:\n  - {source_labels: [a], regex: 'a(?=b)', action: keep}",
                 "rules[0].regex", "lookaround");
    expect_error("rules:\n  - {source_labels: [a], regex: '(?P<x>a)(?P=x)', action: keep}",
                 "rules[0].regex", "position 8");
    expect_error("rules:\n  - {source_labels: [a], regex: '(?>a+)', action: keep}",
                 "rules[0].regex", "not RE2");
    expect_error("rules:\n  - {source_labels: [a], target_label: s, action: hashmod}", "modulus",
                 NULL);
    expect_error("rules:\n  - {source_labels: [a], regex: x, action: labeldrop}", "labeldrop",
                 NULL);
    expect_error("rules:\n  - {source_labels: [a], action: explode}", "explode", NULL);
    expect_error("rules:\n  - {source_labels: [a], action: lowercase}", "target_label", NULL);
    expect_error("sample_labels:\n  - {regex: '[', action: labeldrop}", "sample_labels[0].regex",
                 "position");
}

/* RE2 spellings PCRE2 reads differently behave as in RE2. */
static void test_re2_syntax(void **state)
{
    (void)state;
    struct {
        const char *re, *subject;
        int match;
    } t[] = {
        {"a\\vb", "a\vb", 1}, /* \v is a vertical tab, not a class */
        {"a\\vb", "a\nb", 0},
        {"\\101", "A", 1}, /* octal escape */
        {"\\0", "\0", 0},  /* NUL cannot appear in a C subject */
        {"x$", "x\n", 0},  /* $ is the end of text */
        {"(?i)abc", "ABC", 1},
        {"(?U)a+", "aaa", 1},         /* ungreedy flag; still anchored */
        {"\\pL+", "h\xc3\xa9llo", 1}, /* UTF-8 letters */
        {"\\d+", "\xd9\xa3", 0},      /* \d is ASCII only, as in RE2 */
        {"\\Qa.b\\E", "a.b", 1},
        {"\\Qa.b\\E", "axb", 0},
        {"[(?=]+", "(?=", 1}, /* in a class, ( ? = are literals */
        {"[]a]", "]", 1},     /* ] first in a class is literal */
        {"(?i:A)(?-i:b)", "aB", 0},
        {"(?i:A)(?-i:b)", "ab", 1},
        {"(?<n>x)", "x", 1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char err[256];
        size_t at;
        void *re = relabel_regex_compile(t[i].re, err, sizeof err, &at);
        if (!re)
            fail_msg("%s: %s at %zu", t[i].re, err, at);
        if (relabel_regex_full_match(re, t[i].subject) != t[i].match)
            fail_msg("%s on case %zu: want %d", t[i].re, i, t[i].match);
        relabel_regex_free(re);
    }
}

/* labeldrop of a high-cardinality sample label merges the samples it
 * made equal: per-stack totals and the profile total do not change. */
static void test_sample_labels_merge(void **state)
{
    (void)state;
    const pp_host *h = fx_host();
    harness *hs =
        fx_harness(&pp_processor_relabel,
                   "sample_labels:\n  - {regex: request_id, action: labeldrop}\n"
                   "  - {source_labels: [route], regex: '/api/(.*)', target_label: route}");
    pp_profile *p = fx_profile("svc", "process_cpu", "samples/count,cpu/nanoseconds");
    fx_sample1(p, "main;handle;db", 10, "request_id=r1,route=/api/users");
    fx_sample1(p, "main;handle;db", 20, "request_id=r2,route=/api/users");
    fx_sample1(p, "main;handle;json", 5, "request_id=r3,route=/api/users,#bytes=7");
    fx_sample1(p, "main;handle;json", 6, "request_id=r4,route=/api/users,#bytes=7");
    fx_sample1(p, "main;idle", 100, "");
    pp_batch *out = fx_run(&pp_processor_relabel, hs, p);
    assert_int_equal(h->batch_count(out), 1);
    pp_profile *q = fx_roundtrip(h->batch_take(out, 0));
    char err[FX_ERR];
    const pp_pprof *t = h->profile_tree(q, err, sizeof err);
    assert_non_null(t);
    assert_int_equal(t->n_samples, 3); /* db, json, idle */
    for (size_t vi = 0; vi < 2; vi++) {
        assert_int_equal(fx_sum(q, NULL, vi, NULL, NULL), 141);
        assert_int_equal(fx_sum(q, "main;handle;db", vi, "route", "users"), 30);
        assert_int_equal(fx_sum(q, "main;handle;json", vi, "route", "users"), 11);
        assert_int_equal(fx_sum(q, "main;handle;db", vi, "request_id", "r1"), 0);
    }
    h->profile_free(q);
    h->batch_unref(out);
    harness_free(hs);
}

/* A keep rule in sample_labels removes the samples it does not keep. */
static void test_sample_labels_keep(void **state)
{
    (void)state;
    const pp_host *h = fx_host();
    harness *hs =
        fx_harness(&pp_processor_relabel,
                   "sample_labels:\n  - {source_labels: [tenant], regex: a, action: keep}");
    pp_profile *p = fx_profile("svc", "process_cpu", "samples/count");
    fx_sample1(p, "main;x", 3, "tenant=a");
    fx_sample1(p, "main;y", 4, "tenant=b");
    pp_batch *out = fx_run(&pp_processor_relabel, hs, p);
    assert_int_equal(fx_sum(h->batch_get(out, 0), NULL, 0, NULL, NULL), 3);
    h->batch_unref(out);
    harness_free(hs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_series_rules_never_decode),
        cmocka_unit_test(test_drops_counted),
        cmocka_unit_test(test_labelmap_label_limit),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_re2_syntax),
        cmocka_unit_test(test_sample_labels_merge),
        cmocka_unit_test(test_sample_labels_keep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
