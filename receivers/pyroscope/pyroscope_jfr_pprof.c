/* pyroscope_jfr_pprof: builds one pprof per kind of JFR event (see
 * pyroscope_jfr_pprof.h).
 *
 * What Pyroscope makes of each kind (grafana/jfr-parser pprof/pprof.go):
 * sample types, period type and __name__ below; a function per Java
 * method named "<class in JVM form>.<method>" (java/lang/Thread.run), a
 * location per (method, line), one mapping; CPU and wall sample counts
 * multiplied by the period (1e9 / sampleRate); samples labelled with the
 * context's labels, profile_id (the span id in 16 hex digits) and
 * span_name. Class names the JVM generates per run (lambdas, reflection
 * accessors, CGLIB proxies) are merged as Pyroscope merges them
 * (jfr-parser parser/symbols.go), so that series stay comparable.
 *
 * Functions and locations are gathered in growable arrays with hash
 * indexes, then copied into the profile's arena; samples are summed per
 * stack by pprof_compact at the end (a recording of several chunks
 * repeats stacks). Everything allocated is counted against the budget. */
#include "pyroscope_jfr_pprof.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyroscope_jfr.h"
#include "pyroscope_jfr_labels.h"
#include "pyroscope_jfr_mem.h"
#include "pp_constants.h"

#define DEFAULT_SAMPLE_RATE_HZ 100 /* pyroscope-java's default interval, 10 ms */
#define LABEL_PROFILE_ID "profile_id"
#define LABEL_SPAN_NAME "span_name"
#define SPAN_ID_HEX_LEN 17
#define MAPPING_ID 1
#define LINE_BITS 32

typedef struct kind_info {
    const char *family; /* __name__ */
    const char *types[2][2];
    const char *period[2];
    int scaled; /* values[0] is a count of samples: times the period */
} kind_info;

static const kind_info kinds[JFR_KINDS] = {
    [JFR_CPU] = {"process_cpu", {{"cpu", "nanoseconds"}}, {"cpu", "nanoseconds"}, 1},
    [JFR_WALL] = {"wall", {{"wall", "nanoseconds"}}, {"wall", "nanoseconds"}, 1},
    [JFR_ALLOC_IN_TLAB] = {"memory",
                           {{"alloc_in_new_tlab_objects", "count"},
                            {"alloc_in_new_tlab_bytes", "bytes"}},
                           {"space", "bytes"},
                           0},
    [JFR_ALLOC_OUTSIDE_TLAB] = {"memory",
                                {{"alloc_outside_tlab_objects", "count"},
                                 {"alloc_outside_tlab_bytes", "bytes"}},
                                {"space", "bytes"},
                                0},
    [JFR_ALLOC_SAMPLE] = {"memory",
                          {{"alloc_sample_objects", "count"}, {"alloc_sample_bytes", "bytes"}},
                          {"space", "bytes"},
                          0},
    [JFR_LOCK] = {"mutex",
                  {{"contentions", "count"}, {"delay", "nanoseconds"}},
                  {"mutex", "count"},
                  0},
    [JFR_PARK] = {"block",
                  {{"contentions", "count"}, {"delay", "nanoseconds"}},
                  {"block", "count"},
                  0},
    [JFR_LIVE] = {"memory", {{"live", "count"}}, {"objects", "count"}, 0},
    [JFR_MALLOC] = {"memory",
                    {{"malloc_objects", "count"}, {"malloc_bytes", "bytes"}},
                    {NULL, NULL},
                    0},
};

typedef struct kind_builder {
    pp_profile *prof; /* NULL until the kind's first sample */
    pp_location *locs;
    size_t n_locs, cap_locs;
    pp_function *funcs;
    size_t n_funcs, cap_funcs;
    pp_sample *samples;
    size_t n_samples, cap_samples;
    jfr_map loc_by_frame; /* function id << 32 | line → location id */
    jfr_map func_by_name; /* string index → function id */
} kind_builder;

typedef struct converter {
    const pp_host *h;
    const jfr_labels *labels;
    jfr_mem mem; /* the arrays here and, counted, what goes into arenas */
    kind_builder kinds[JFR_KINDS];
    char *name; /* scratch for "class.method" */
    size_t cap_name;
} converter;

/* ------------------------------------------------ generated class names */

static int all_of(const char *s, const char *set)
{
    return *s && strspn(s, set) == strlen(s);
}

/* The part of a lambda class name after "$$Lambda" that varies per run:
 * "$14/0x0000000800c03200" (JDK 17), "$669.0x0000000800fd7318", ".0x7f...",
 * or "14". */
static int lambda_suffix(const char *s)
{
    if (all_of(s, "0123456789"))
        return 1;
    if (*s == '$')
        s++;
    s += strspn(s, "0123456789");
    if (*s != '.' && *s != '/')
        return 0;
    s++;
    if (s[0] == '0' && s[1] == 'x')
        s += 2;
    return all_of(s, "0123456789abcdef");
}

/* The length of cls to keep before "_" when the JVM generated its name
 * per run, else 0. */
static size_t generated_prefix(const char *cls)
{
    static const char accessor[] = "jdk/internal/reflect/GeneratedMethodAccessor";
    static const char lambda[] = "$$Lambda";
    static const char cglib[] = "$$EnhancerBySpringCGLIB$$";
    if (strncmp(cls, accessor, strlen(accessor)) == 0 &&
        all_of(cls + strlen(accessor), "0123456789"))
        return strlen(accessor);
    const char *l = strstr(cls, lambda);
    for (; l; l = strstr(l + 1, lambda))
        if (l > cls && lambda_suffix(l + strlen(lambda)))
            return (size_t)(l - cls) + strlen(lambda);
    const char *g = strstr(cls, cglib);
    if (g && g > cls)
        return (size_t)(g - cls) + strlen(cglib);
    return 0;
}

/* "<class>.<method>" in c->name. */
static const char *frame_name(converter *c, const jfr_frame *f)
{
    size_t keep = generated_prefix(f->class_name);
    size_t cl = keep ? keep + 1 : strlen(f->class_name), ml = strlen(f->method);
    size_t need = cl + 1 + ml + 1;
    if (need > c->cap_name) {
        char *g = jfr_mem_grow(&c->mem, c->name, c->cap_name, need);
        if (!g)
            return NULL;
        c->name = g;
        c->cap_name = need;
    }
    memcpy(c->name, f->class_name, keep ? keep : cl);
    if (keep)
        c->name[keep] = '_';
    c->name[cl] = '.';
    memcpy(c->name + cl + 1, f->method, ml + 1);
    return c->name;
}

/* ------------------------------------------------ builder */

static int grow(converter *c, void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 64;
    void *a = jfr_mem_grow(&c->mem, *arr, *cap * elem, nc * elem);
    if (!a)
        return -1;
    *arr = a;
    *cap = nc;
    return 0;
}

/* Arena memory of the profile, counted against the budget. */
static void *prof_alloc(converter *c, kind_builder *b, size_t size)
{
    if (c->mem.used > c->mem.budget || size > c->mem.budget - c->mem.used) {
        c->mem.over = 1;
        return NULL;
    }
    c->mem.used += size;
    return c->h->profile_alloc(b->prof, size);
}

static uint64_t function_id(converter *c, kind_builder *b, const jfr_frame *f)
{
    const char *name = frame_name(c, f);
    int64_t s = name ? c->h->pprof_intern(b->prof, name) : -1;
    if (s < 0)
        return 0;
    uint64_t id = jfr_map_get(&b->func_by_name, (uint64_t)s);
    if (id)
        return id;
    if (grow(c, (void **)&b->funcs, &b->cap_funcs, b->n_funcs, sizeof(*b->funcs)) < 0)
        return 0;
    pp_function *fn = &b->funcs[b->n_funcs++];
    memset(fn, 0, sizeof(*fn));
    fn->id = b->n_funcs;
    fn->name = fn->system_name = s;
    return jfr_map_put(&b->func_by_name, (uint64_t)s, fn->id) < 0 ? 0 : fn->id;
}

static uint64_t location_id(converter *c, kind_builder *b, const jfr_frame *f)
{
    uint64_t fid = function_id(c, b, f);
    int64_t line = f->line > 0 && f->line <= INT32_MAX ? f->line : 0;
    uint64_t key = fid << LINE_BITS | (uint64_t)line;
    uint64_t id = fid ? jfr_map_get(&b->loc_by_frame, key) : 0;
    if (id || !fid)
        return id;
    if (grow(c, (void **)&b->locs, &b->cap_locs, b->n_locs, sizeof(*b->locs)) < 0)
        return 0;
    pp_location *l = &b->locs[b->n_locs];
    memset(l, 0, sizeof(*l));
    l->lines = prof_alloc(c, b, sizeof(*l->lines));
    if (!l->lines)
        return 0;
    l->id = ++b->n_locs;
    l->mapping_id = MAPPING_ID;
    l->lines[0] = (pp_line){fid, line, 0};
    l->n_lines = 1;
    return jfr_map_put(&b->loc_by_frame, key, l->id) < 0 ? 0 : l->id;
}

static int add_label(converter *c, kind_builder *b, pp_sample *smp, const char *key,
                     const char *value)
{
    pp_label *lb = &smp->labels[smp->n_labels];
    lb->key = c->h->pprof_intern(b->prof, key);
    lb->str = c->h->pprof_intern(b->prof, value);
    if (lb->key < 0 || lb->str < 0)
        return -1;
    smp->n_labels++;
    return 0;
}

/* The context's labels, profile_id and span_name, as Pyroscope adds them. */
static int sample_labels(converter *c, kind_builder *b, pp_sample *smp, const jfr_sample *s)
{
    size_t n_pairs = 0;
    const int64_t *pairs =
        s->context_id ? jfr_labels_context(c->labels, (int64_t)s->context_id, &n_pairs) : NULL;
    const char *span_name =
        s->span_name ? jfr_labels_string(c->labels, (int64_t)s->span_name) : NULL;
    size_t most = n_pairs + (s->span_id != 0) + (span_name != NULL);
    if (most == 0)
        return 0;
    smp->labels = prof_alloc(c, b, most * sizeof(*smp->labels));
    if (!smp->labels)
        return -1;
    for (size_t i = 0; i < n_pairs; i++) {
        const char *k = jfr_labels_string(c->labels, pairs[2 * i]);
        const char *v = jfr_labels_string(c->labels, pairs[2 * i + 1]);
        if (k && *k && v && add_label(c, b, smp, k, v) < 0)
            return -1;
    }
    if (s->span_id) {
        char hex[SPAN_ID_HEX_LEN];
        snprintf(hex, sizeof(hex), "%016" PRIx64, s->span_id);
        if (add_label(c, b, smp, LABEL_PROFILE_ID, hex) < 0)
            return -1;
    }
    if (span_name && *span_name && add_label(c, b, smp, LABEL_SPAN_NAME, span_name) < 0)
        return -1;
    return 0;
}

static int on_sample(void *arg, const jfr_sample *s)
{
    converter *c = arg;
    kind_builder *b = &c->kinds[s->kind];
    if (!b->prof) {
        b->prof = c->h->profile_new();
        if (!b->prof || !c->h->profile_tree_new(b->prof))
            return -1;
        b->loc_by_frame.mem = b->func_by_name.mem = &c->mem;
    }
    if (grow(c, (void **)&b->samples, &b->cap_samples, b->n_samples, sizeof(*b->samples)) < 0)
        return -1;
    pp_sample *smp = &b->samples[b->n_samples];
    memset(smp, 0, sizeof(*smp));
    smp->location_ids = prof_alloc(c, b, (s->n_frames + 1) * sizeof(uint64_t));
    smp->values = prof_alloc(c, b, sizeof(s->values));
    if (!smp->location_ids || !smp->values)
        return -1;
    for (size_t i = 0; i < s->n_frames; i++) {
        uint64_t id = location_id(c, b, &s->frames[i]);
        if (!id)
            return -1;
        smp->location_ids[smp->n_location_ids++] = id;
    }
    memcpy(smp->values, s->values, sizeof(s->values));
    smp->n_values = s->n_values;
    if (sample_labels(c, b, smp, s) < 0)
        return -1;
    b->n_samples++;
    return 0;
}

/* ------------------------------------------------ finishing */

static int to_arena(converter *c, kind_builder *b, void **dst, const void *src, size_t n,
                    size_t elem)
{
    *dst = NULL;
    if (n == 0)
        return 0;
    *dst = prof_alloc(c, b, n * elem);
    if (!*dst)
        return -1;
    memcpy(*dst, src, n * elem);
    return 0;
}

static int64_t mul_sat(int64_t v, int64_t by)
{
    return v > 0 && by > 0 && v > INT64_MAX / by ? INT64_MAX : v * by;
}

/* until - from, 0 when until is not later, INT64_MAX when the difference
 * does not fit (chunk starts come from the file: one may be far
 * negative while another is far ahead). */
static int64_t span_sat(int64_t from, int64_t until)
{
    if (until <= from)
        return 0;
    uint64_t d = (uint64_t)until - (uint64_t)from;
    return d > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)d;
}

/* Sample types, period, window, mapping and series labels of one kind's
 * profile, then its arrays into the arena and equal stacks summed. */
static int finish_kind(converter *c, jfr_kind k, const jfr_info *info, int64_t period)
{
    const pp_host *h = c->h;
    kind_builder *b = &c->kinds[k];
    const kind_info *ki = &kinds[k];
    char err[128];
    pp_pprof *t = h->profile_tree_mut(b->prof, err, sizeof(err));
    size_t n_types = ki->types[1][0] ? 2 : 1;
    pp_value_type *types = prof_alloc(c, b, n_types * sizeof(*types));
    pp_mapping *map = prof_alloc(c, b, sizeof(*map));
    if (!t || !types || !map)
        return -1;
    for (size_t i = 0; i < n_types; i++)
        types[i] = (pp_value_type){h->pprof_intern(b->prof, ki->types[i][0]),
                                   h->pprof_intern(b->prof, ki->types[i][1])};
    t->sample_types = types;
    t->n_sample_types = n_types;
    if (ki->period[0])
        t->period_type = (pp_value_type){h->pprof_intern(b->prof, ki->period[0]),
                                         h->pprof_intern(b->prof, ki->period[1])};
    t->period = ki->scaled ? period : 0;
    for (size_t i = 0; ki->scaled && i < b->n_samples; i++)
        b->samples[i].values[0] = mul_sat(b->samples[i].values[0], period);
    t->time_nanos = info->start_ns;
    t->duration_nanos = span_sat(info->start_ns, info->end_ns);
    *map = (pp_mapping){.id = MAPPING_ID, .has_functions = 1};
    t->mappings = map;
    t->n_mappings = 1;
    if (to_arena(c, b, (void **)&t->samples, b->samples, b->n_samples, sizeof(*b->samples)) ||
        to_arena(c, b, (void **)&t->locations, b->locs, b->n_locs, sizeof(*b->locs)) ||
        to_arena(c, b, (void **)&t->functions, b->funcs, b->n_funcs, sizeof(*b->funcs)))
        return -1;
    t->n_samples = b->n_samples;
    t->n_locations = b->n_locs;
    t->n_functions = b->n_funcs;
    if (h->label_set(b->prof, "__name__", ki->family) < 0 ||
        (info->event[0] && h->label_set(b->prof, JFR_LABEL_EVENT, info->event) < 0))
        return -1;
    return h->pprof_compact(b->prof);
}

static void converter_free(converter *c)
{
    for (int k = 0; k < JFR_KINDS; k++) {
        kind_builder *b = &c->kinds[k];
        if (b->prof)
            c->h->profile_free(b->prof);
        jfr_mem_free(&c->mem, b->locs, b->cap_locs * sizeof(*b->locs));
        jfr_mem_free(&c->mem, b->funcs, b->cap_funcs * sizeof(*b->funcs));
        jfr_mem_free(&c->mem, b->samples, b->cap_samples * sizeof(*b->samples));
        jfr_map_free(&b->loc_by_frame);
        jfr_map_free(&b->func_by_name);
    }
    jfr_mem_free(&c->mem, c->name, c->cap_name);
}

static int64_t sample_period(const jfr_info *info, int64_t sample_rate_hz)
{
    if (sample_rate_hz > 0)
        return NS_PER_SEC / sample_rate_hz;
    if (info->cpu_period_ns > 0)
        return info->cpu_period_ns;
    return NS_PER_SEC / DEFAULT_SAMPLE_RATE_HZ;
}

int jfr_to_pprof(const pp_host *h, const uint8_t *data, size_t len, const jfr_labels *labels,
                 int64_t sample_rate_hz, size_t budget, pp_profile ***out, size_t *n, char *err,
                 size_t errlen)
{
    converter c = {.h = h, .labels = labels};
    jfr_info info;
    /* half for the reader's own tables, half for the profiles it makes */
    c.mem.budget = budget / 2;
    int rc = jfr_parse(data, len, budget - budget / 2, on_sample, &c, &info, err, errlen);
    int64_t period = sample_period(&info, sample_rate_hz);
    pp_profile **list = NULL;
    *n = 0;
    if (rc == 0)
        list = calloc(JFR_KINDS, sizeof(*list));
    if (rc == 0 && !list)
        c.mem.over = 1;
    for (int k = 0; list && k < JFR_KINDS; k++) {
        if (!c.kinds[k].prof)
            continue;
        if (finish_kind(&c, (jfr_kind)k, &info, period) < 0) {
            c.mem.over = 1;
            break;
        }
        list[(*n)++] = c.kinds[k].prof;
        c.kinds[k].prof = NULL;
    }
    if (rc == JFR_ERR_CALLBACK)
        c.mem.over = 1;
    if (c.mem.over) {
        snprintf(err, errlen, "converting the recording needs more than %zu bytes of memory",
                 budget);
        rc = JFR_ERR_MEMORY;
    }
    converter_free(&c);
    if (rc != 0) {
        for (size_t i = 0; i < *n; i++)
            h->profile_free(list[i]);
        free(list);
        *n = 0;
        return rc;
    }
    *out = list;
    return 0;
}
