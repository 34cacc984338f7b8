/* pyroscope_folded: folded and lines bodies into a pprof tree (see
 * pyroscope_folded.h).
 *
 * One pass over the lines. Frames are interned in the tree's string
 * table (host->pprof_intern hashes them), and a string index maps to its
 * location id through a flat array, so a frame seen again costs one hash
 * lookup. Samples are gathered in growing arrays (leaf-first location
 * ids, as pprof wants), then copied into the tree's arena, and
 * host->pprof_compact sums equal stacks. Every byte the build holds is
 * charged against max_bytes first. */
#include "pyroscope_folded.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp_constants.h"
#include "text.h"
#define FAKE_MAPPING_ID 1 /* one mapping for every location, as Pyroscope writes */
#define INITIAL_CAP 64

typedef struct text_sample {
    size_t off, n; /* into build.stack */
    int64_t value;
} text_sample;

typedef struct text_build {
    const pp_host *h;
    pp_profile *p;
    uint64_t *loc_of_str; /* string index -> location id, 0 = none yet */
    size_t loc_cap;
    uint64_t *str_of_loc; /* location id - 1 -> string index */
    size_t n_locs, locs_cap;
    uint64_t *stack; /* every sample's location ids, leaf first */
    size_t stack_n, stack_cap;
    text_sample *samples;
    size_t n_samples, samples_cap;
    char *frame; /* the current frame, NUL-terminated for pprof_intern */
    size_t used, max_bytes;
} text_build;

static int text_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int text_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    text_verrorf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

/* Charges n bytes against the budget. 0, or PYRO_TEXT_TOO_LARGE. */
static int charge(text_build *b, size_t n)
{
    if (n > b->max_bytes - b->used)
        return PYRO_TEXT_TOO_LARGE;
    b->used += n;
    return 0;
}

/* Grows *arr (of elem bytes each, *cap of them) to hold need. */
static int grow(text_build *b, void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : INITIAL_CAP;
    while (ncap < need)
        ncap *= 2;
    int rc = charge(b, (ncap - *cap) * elem);
    if (rc < 0)
        return rc;
    void *n = realloc(*arr, ncap * elem);
    if (!n)
        return PYRO_TEXT_NOMEM;
    memset((char *)n + *cap * elem, 0, (ncap - *cap) * elem);
    *arr = n;
    *cap = ncap;
    return 0;
}

/* The location id of frame [s, s+len), made on first sight. */
static int frame_location(text_build *b, const char *s, size_t len, uint64_t *id)
{
    memcpy(b->frame, s, len);
    b->frame[len] = '\0';
    int rc = charge(b, len + 1);
    if (rc < 0)
        return rc;
    int64_t idx = b->h->pprof_intern(b->p, b->frame);
    if (idx < 0)
        return PYRO_TEXT_NOMEM;
    if ((rc = grow(b, (void **)&b->loc_of_str, &b->loc_cap, (size_t)idx + 1,
                   sizeof(*b->loc_of_str))) < 0)
        return rc;
    if (!b->loc_of_str[idx]) {
        if ((rc = grow(b, (void **)&b->str_of_loc, &b->locs_cap, b->n_locs + 1,
                       sizeof(*b->str_of_loc))) < 0)
            return rc;
        b->str_of_loc[b->n_locs++] = (uint64_t)idx;
        b->loc_of_str[idx] = b->n_locs;
    }
    *id = b->loc_of_str[idx];
    return 0;
}

/* Adds one sample: the stack [s, s+len) (root first) with value. */
static int add_stack(text_build *b, const char *s, size_t len, int64_t value)
{
    size_t off = b->stack_n;
    const char *end = s + len, *f = s;
    while (f <= end) {
        const char *semi = memchr(f, ';', (size_t)(end - f));
        const char *fe = semi ? semi : end;
        if (fe == end && f == end && f != s)
            break; /* a trailing ';' adds no frame, as in Pyroscope's tree */
        uint64_t id;
        int rc = frame_location(b, f, (size_t)(fe - f), &id);
        if (rc == 0)
            rc = grow(b, (void **)&b->stack, &b->stack_cap, b->stack_n + 1, sizeof(*b->stack));
        if (rc < 0)
            return rc;
        b->stack[b->stack_n++] = id;
        f = fe + 1;
    }
    for (size_t i = off, j = b->stack_n - 1; i < j; i++, j--) { /* leaf first */
        uint64_t t = b->stack[i];
        b->stack[i] = b->stack[j];
        b->stack[j] = t;
    }
    int rc = grow(b, (void **)&b->samples, &b->samples_cap, b->n_samples + 1, sizeof(*b->samples));
    if (rc < 0)
        return rc;
    b->samples[b->n_samples++] = (text_sample){off, b->stack_n - off, value};
    return 0;
}

/* The count of a folded line: [+]digits, times scale, no overflow. */
static int parse_count(const char *s, size_t len, int64_t scale, int64_t *out)
{
    size_t i = 0;
    if (len > 0 && s[0] == '+')
        i = 1;
    if (i == len)
        return -1;
    int64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v))
            return -1;
    }
    return __builtin_mul_overflow(v, scale, out) ? -1 : 0;
}

static int parse_line(text_build *b, pyro_text_format format, const pyro_text_meta *meta,
                      const char *line, size_t len, size_t lineno, char *err, size_t errlen)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return 0;
    size_t stack_len = len;
    int64_t value = meta->scale;
    if (format == PYRO_TEXT_FOLDED) {
        const char *sp = NULL;
        for (size_t i = len; i > 0 && !sp; i--)
            if (line[i - 1] == ' ')
                sp = line + i - 1;
        if (!sp)
            return 0; /* no count: Pyroscope skips the line */
        stack_len = (size_t)(sp - line);
        if (parse_count(sp + 1, len - stack_len - 1, meta->scale, &value) < 0)
            return text_fail(err, errlen, PYRO_TEXT_BAD,
                             "line %zu: count '%.*s' is not a non-negative integer (or "
                             "overflows once scaled)",
                             lineno, (int)(len - stack_len - 1 > 32 ? 32 : len - stack_len - 1),
                             sp + 1);
    }
    if (stack_len == 0)
        return text_fail(err, errlen, PYRO_TEXT_BAD, "line %zu: empty stack", lineno);
    int rc = add_stack(b, line, stack_len, value);
    if (rc == PYRO_TEXT_TOO_LARGE)
        return text_fail(err, errlen, rc,
                         "line %zu: the profile grows beyond %zu bytes "
                         "(max_decompressed_size)",
                         lineno, b->max_bytes);
    if (rc < 0)
        return text_fail(err, errlen, rc, "out of memory");
    return 0;
}

/* Copies what was gathered into the tree's arena. */
static int tree_fill(text_build *b, const pyro_text_meta *meta)
{
    const pp_host *h = b->h;
    pp_profile *p = b->p;
    char err[64];
    pp_pprof *t = h->profile_tree_mut(p, err, sizeof(err));
    if (!t)
        return PYRO_TEXT_NOMEM;
    pp_value_type *st = h->profile_alloc(p, sizeof(*st));
    pp_mapping *m = h->profile_alloc(p, sizeof(*m));
    pp_location *locs = h->profile_alloc(p, b->n_locs * sizeof(*locs));
    pp_line *lines = h->profile_alloc(p, b->n_locs * sizeof(*lines));
    pp_function *fns = h->profile_alloc(p, b->n_locs * sizeof(*fns));
    pp_sample *samples = h->profile_alloc(p, b->n_samples * sizeof(*samples));
    uint64_t *ids = h->profile_alloc(p, (b->stack_n ? b->stack_n : 1) * sizeof(*ids));
    int64_t *values = h->profile_alloc(p, b->n_samples * sizeof(*values));
    int64_t type = h->pprof_intern(p, meta->type), unit = h->pprof_intern(p, meta->unit);
    int64_t ptype = meta->period_type ? h->pprof_intern(p, meta->period_type) : 0;
    int64_t punit = meta->period_type ? h->pprof_intern(p, meta->period_unit) : 0;
    if (!st || !m || !locs || !lines || !fns || !samples || !ids || !values || type < 0 ||
        unit < 0 || ptype < 0 || punit < 0)
        return PYRO_TEXT_NOMEM;
    *st = (pp_value_type){type, unit};
    m->id = FAKE_MAPPING_ID;
    for (size_t i = 0; i < b->n_locs; i++) {
        fns[i] = (pp_function){.id = i + 1,
                               .name = (int64_t)b->str_of_loc[i],
                               .system_name = (int64_t)b->str_of_loc[i]};
        lines[i] = (pp_line){.function_id = i + 1};
        locs[i] = (pp_location){
            .id = i + 1, .mapping_id = FAKE_MAPPING_ID, .lines = &lines[i], .n_lines = 1};
    }
    memcpy(ids, b->stack, b->stack_n * sizeof(*ids));
    for (size_t i = 0; i < b->n_samples; i++) {
        values[i] = b->samples[i].value;
        samples[i] = (pp_sample){.location_ids = ids + b->samples[i].off,
                                 .n_location_ids = b->samples[i].n,
                                 .values = &values[i],
                                 .n_values = 1};
    }
    t->sample_types = st;
    t->n_sample_types = 1;
    t->mappings = m;
    t->n_mappings = 1;
    t->locations = locs;
    t->n_locations = b->n_locs;
    t->functions = fns;
    t->n_functions = b->n_locs;
    t->samples = samples;
    t->n_samples = b->n_samples;
    t->period_type = (pp_value_type){ptype, punit};
    t->period = meta->period_type ? meta->period : 0;
    t->time_nanos = meta->time_nanos;
    return h->pprof_compact(p) < 0 ? PYRO_TEXT_NOMEM : 0;
}

static void build_free(text_build *b)
{
    free(b->loc_of_str);
    free(b->str_of_loc);
    free(b->stack);
    free(b->samples);
    free(b->frame);
}

int pyro_text_to_pprof(const pp_host *h, pp_profile *p, const unsigned char *body, size_t len,
                       pyro_text_format format, const pyro_text_meta *meta, size_t max_bytes,
                       char *err, size_t errlen)
{
    text_build b = {.h = h, .p = p, .max_bytes = max_bytes};
    if (pp_is_gzip(body, len))
        return text_fail(err, errlen, PYRO_TEXT_BAD,
                         "the body is gzip data, not text (a pprof needs format=pprof)");
    if (!h->profile_tree_new(p) || !(b.frame = malloc(len + 1))) {
        build_free(&b);
        return text_fail(err, errlen, PYRO_TEXT_NOMEM, "out of memory");
    }
    const char *s = (const char *)body, *end = s + len;
    int rc = 0;
    for (size_t lineno = 1; s < end && rc == 0; lineno++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *le = nl ? nl : end;
        rc = parse_line(&b, format, meta, s, (size_t)(le - s), lineno, err, errlen);
        s = le + 1;
    }
    if (rc == 0 && b.n_samples == 0)
        rc = text_fail(err, errlen, PYRO_TEXT_BAD, "no stack in the body");
    if (rc == 0 && (rc = tree_fill(&b, meta)) < 0)
        text_fail(err, errlen, rc, "out of memory");
    build_free(&b);
    return rc;
}
