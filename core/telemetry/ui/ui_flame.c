/* ui_flame: the flame graph, top table and diff tree of a decoded profile.
 *
 * Every sample's stack becomes a path from the root (the outermost caller)
 * down to the leaf; inlined frames count as frames of their own, as in
 * pprof. Equal paths share nodes, found through one hash table keyed by
 * (parent, function name), so building is one pass over the samples and
 * no allocation per sample. A diff adds a second profile into the same
 * tree with its own value slot, so each node carries both values and the
 * page colours it by the change of its share.
 *
 * The output is compact: function names once in `names`, nodes as a flat
 * array of integers in depth-first order (name, total, self, depth[, base
 * total, base self]), children in name order: the browser lays frames out
 * from that without building objects. Past max_nodes, the lightest nodes
 * are left out (their weight stays in their parent's total). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "pprof_tree.h"
#include "ui_internal.h"

#define FLAME_MIN_SLOTS 1024
#define FLAME_ROOT_NAME "root"
#define FLAME_ADDR_NAME_LEN 24

typedef struct fnode {
    uint32_t name;
    uint32_t parent;
    uint32_t first_child, next_sibling; /* 0: none (node 0 is the root) */
    uint32_t depth;
    int64_t total, self;
    int64_t base_total, base_self;
} fnode;

typedef struct flame {
    fnode *nodes;
    size_t n_nodes, cap_nodes;
    uint32_t *slots; /* node index + 1; 0 = empty */
    size_t n_slots;
    /* names: borrowed from the trees, or owned (addresses) */
    const char **names;
    size_t n_names, cap_names;
    uint32_t *name_slots; /* name index + 1 */
    size_t n_name_slots;
    char **owned;
    size_t n_owned;
} flame;

static uint64_t hash_str(const char *s)
{
    return pprof_fnv1a(PPROF_FNV_OFFSET, s, strlen(s));
}

static int names_grow(flame *f)
{
    size_t slots = f->n_name_slots ? f->n_name_slots * 2 : FLAME_MIN_SLOTS;
    uint32_t *fresh = calloc(slots, sizeof *fresh);
    if (!fresh)
        return -1;
    for (size_t i = 0; i < f->n_names; i++) {
        size_t h = hash_str(f->names[i]) & (slots - 1);
        while (fresh[h])
            h = (h + 1) & (slots - 1);
        fresh[h] = (uint32_t)i + 1;
    }
    free(f->name_slots);
    f->name_slots = fresh;
    f->n_name_slots = slots;
    return 0;
}

/* The index of name s (borrowed: must outlive f), added if new; -1 on
 * out of memory. */
static long name_index(flame *f, const char *s)
{
    if ((f->n_names + 1) * 2 > f->n_name_slots && names_grow(f) != 0)
        return -1;
    size_t h = hash_str(s) & (f->n_name_slots - 1);
    while (f->name_slots[h]) {
        uint32_t i = f->name_slots[h] - 1;
        if (strcmp(f->names[i], s) == 0)
            return i;
        h = (h + 1) & (f->n_name_slots - 1);
    }
    if (f->n_names == f->cap_names) {
        size_t cap = f->cap_names ? f->cap_names * 2 : 256;
        const char **grown = realloc(f->names, cap * sizeof *grown);
        if (!grown)
            return -1;
        f->names = grown;
        f->cap_names = cap;
    }
    f->names[f->n_names] = s;
    f->name_slots[h] = (uint32_t)f->n_names + 1;
    return (long)f->n_names++;
}

static uint64_t node_key(uint32_t parent, uint32_t name)
{
    return ((uint64_t)parent << 32 | name) * 0x9e3779b97f4a7c15ull;
}

static int slots_grow(flame *f)
{
    size_t slots = f->n_slots ? f->n_slots * 2 : FLAME_MIN_SLOTS;
    uint32_t *fresh = calloc(slots, sizeof *fresh);
    if (!fresh)
        return -1;
    for (size_t i = 1; i < f->n_nodes; i++) {
        size_t h = node_key(f->nodes[i].parent, f->nodes[i].name) >> 20 & (slots - 1);
        while (fresh[h])
            h = (h + 1) & (slots - 1);
        fresh[h] = (uint32_t)i + 1;
    }
    free(f->slots);
    f->slots = fresh;
    f->n_slots = slots;
    return 0;
}

/* The child of parent named name, made if new; 0 on out of memory. */
static uint32_t child(flame *f, uint32_t parent, uint32_t name)
{
    if ((f->n_nodes + 1) * 2 > f->n_slots && slots_grow(f) != 0)
        return 0;
    size_t h = node_key(parent, name) >> 20 & (f->n_slots - 1);
    while (f->slots[h]) {
        uint32_t i = f->slots[h] - 1;
        if (f->nodes[i].parent == parent && f->nodes[i].name == name)
            return i;
        h = (h + 1) & (f->n_slots - 1);
    }
    if (f->n_nodes == f->cap_nodes) {
        size_t cap = f->cap_nodes * 2;
        fnode *grown = realloc(f->nodes, cap * sizeof *grown);
        if (!grown)
            return 0;
        f->nodes = grown;
        f->cap_nodes = cap;
    }
    uint32_t i = (uint32_t)f->n_nodes++;
    f->nodes[i] = (fnode){.name = name, .parent = parent, .depth = f->nodes[parent].depth + 1};
    f->slots[h] = i + 1;
    return i;
}

static int flame_init(flame *f)
{
    memset(f, 0, sizeof *f);
    f->cap_nodes = 1024;
    f->nodes = calloc(f->cap_nodes, sizeof *f->nodes);
    if (!f->nodes || name_index(f, FLAME_ROOT_NAME) != 0)
        return -1;
    f->n_nodes = 1;
    return 0;
}

static void flame_free(flame *f)
{
    free(f->nodes);
    free(f->slots);
    free(f->names);
    free(f->name_slots);
    for (size_t i = 0; i < f->n_owned; i++)
        free(f->owned[i]);
    free(f->owned);
}

static const char *tree_str(const pp_pprof *t, int64_t i)
{
    return i >= 0 && (uint64_t)i < t->n_strings ? t->strings[i] : "";
}

/* A location with no line: named by its address, owned by f. */
static long address_name(flame *f, uint64_t address)
{
    char **grown = realloc(f->owned, (f->n_owned + 1) * sizeof *grown);
    if (!grown)
        return -1;
    f->owned = grown;
    char *s = malloc(FLAME_ADDR_NAME_LEN);
    if (!s)
        return -1;
    snprintf(s, FLAME_ADDR_NAME_LEN, "0x%" PRIx64, address);
    f->owned[f->n_owned++] = s;
    long i = name_index(f, s);
    return i;
}

/* Name indexes of location id's frames, outermost first, into names[];
 * returns how many (at most cap), or -1. */
static long location_frames(flame *f, pp_profile *p, const pp_pprof *t, uint64_t id,
                            uint32_t *names, size_t cap)
{
    const pp_location *l = pprof_location(p, id);
    if (!l)
        return 0;
    if (l->n_lines == 0) {
        long n = address_name(f, l->address);
        if (n < 0 || cap == 0)
            return n < 0 ? -1 : 0;
        names[0] = (uint32_t)n;
        return 1;
    }
    size_t k = 0;
    for (size_t j = l->n_lines; j-- > 0 && k < cap;) {
        const pp_function *fn = pprof_function(p, l->lines[j].function_id);
        long n = name_index(f, fn ? tree_str(t, fn->name) : "?");
        if (n < 0)
            return -1;
        names[k++] = (uint32_t)n;
    }
    return (long)k;
}

#define FLAME_MAX_FRAMES 4096

/* Adds every sample of p (value `sample`) into f, in the base slot if
 * `base`. */
static int flame_add(flame *f, pp_profile *p, long sample, int base)
{
    const pp_pprof *t = profile_tree(p, NULL, 0);
    if (!t)
        return -1;
    uint32_t frames[FLAME_MAX_FRAMES];
    for (size_t i = 0; i < t->n_samples; i++) {
        const pp_sample *s = &t->samples[i];
        if ((size_t)sample >= s->n_values || s->values[sample] == 0)
            continue;
        int64_t v = s->values[sample];
        uint32_t node = 0;
        for (size_t j = s->n_location_ids; j-- > 0;) {
            long n = location_frames(f, p, t, s->location_ids[j], frames, FLAME_MAX_FRAMES);
            if (n < 0)
                return -1;
            for (long k = 0; k < n; k++) {
                uint32_t c = child(f, node, frames[k]);
                if (!c)
                    return -1;
                node = c;
                if (base)
                    f->nodes[node].base_total += v;
                else
                    f->nodes[node].total += v;
            }
        }
        if (base) {
            f->nodes[0].base_total += v;
            f->nodes[node].base_self += v;
        } else {
            f->nodes[0].total += v;
            f->nodes[node].self += v;
        }
    }
    return 0;
}

long ui_sample_index(const pp_pprof *t, const char *name, char *err, size_t errlen)
{
    if (t->n_sample_types == 0) {
        snprintf(err, errlen, "the profile has no sample types");
        return -1;
    }
    if (!name || !name[0]) {
        for (size_t i = 0; t->default_sample_type && i < t->n_sample_types; i++)
            if (t->sample_types[i].type == t->default_sample_type)
                return (long)i;
        return (long)t->n_sample_types - 1; /* as pprof: the last one */
    }
    for (size_t i = 0; i < t->n_sample_types; i++)
        if (strcmp(tree_str(t, t->sample_types[i].type), name) == 0)
            return (long)i;
    int n = snprintf(err, errlen, "unknown sample_type \"%s\" (this profile has:", name);
    for (size_t i = 0; i < t->n_sample_types && n > 0 && (size_t)n < errlen; i++)
        n += snprintf(err + n, errlen - (size_t)n, " %s", tree_str(t, t->sample_types[i].type));
    if (n > 0 && (size_t)n < errlen)
        snprintf(err + n, errlen - (size_t)n, ")");
    return -1;
}

/* ---- output ---- */

static const flame *sort_flame; /* qsort has no context argument */

static int by_name(const void *a, const void *b)
{
    const fnode *x = &sort_flame->nodes[*(const uint32_t *)a];
    const fnode *y = &sort_flame->nodes[*(const uint32_t *)b];
    return strcmp(sort_flame->names[x->name], sort_flame->names[y->name]);
}

static int by_weight_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int64_t weight(const fnode *n)
{
    return llabs(n->total) + llabs(n->base_total);
}

/* The smallest weight a node needs to be shown within max_nodes. */
static int64_t weight_threshold(const flame *f, size_t max_nodes)
{
    if (f->n_nodes <= max_nodes)
        return 0;
    int64_t *w = malloc(f->n_nodes * sizeof *w);
    if (!w)
        return INT64_MAX;
    for (size_t i = 0; i < f->n_nodes; i++)
        w[i] = weight(&f->nodes[i]);
    qsort(w, f->n_nodes, sizeof *w, by_weight_desc);
    /* the least weight that keeps at most max_nodes: when nodes tied at
     * the bound would pass it, none of them is shown (showing some would
     * cut heavier nodes that come later in depth-first order) */
    int64_t th = w[max_nodes - 1] + (w[max_nodes] == w[max_nodes - 1] ? 1 : 0);
    free(w);
    return th > 1 ? th : 1;
}

/* Links children in name order (sibling lists), so output is stable. */
static int link_children(flame *f)
{
    uint32_t *order = malloc(f->n_nodes * sizeof *order);
    if (!order)
        return -1;
    for (size_t i = 0; i < f->n_nodes; i++)
        order[i] = (uint32_t)i;
    sort_flame = f;
    qsort(order + 1, f->n_nodes - 1, sizeof *order, by_name);
    /* insert in reverse name order at the head: lists end up in order */
    for (size_t i = f->n_nodes; i-- > 1;) {
        fnode *n = &f->nodes[order[i]];
        n->next_sibling = f->nodes[n->parent].first_child;
        f->nodes[n->parent].first_child = order[i];
    }
    free(order);
    return 0;
}

static void write_nodes(FILE *out, const flame *f, int diff, int64_t threshold, size_t max_nodes,
                        size_t *shown)
{
    /* iterative depth-first walk: depth is bounded only by the stacks */
    uint32_t node = 0;
    int first = 1;
    for (;;) {
        const fnode *n = &f->nodes[node];
        int show = node == 0 || (weight(n) >= threshold && *shown < max_nodes);
        if (show) {
            fprintf(out, "%s%u,%lld,%lld,%u", first ? "" : ",", n->name, (long long)n->total,
                    (long long)n->self, n->depth);
            if (diff)
                fprintf(out, ",%lld,%lld", (long long)n->base_total, (long long)n->base_self);
            first = 0;
            (*shown)++;
        }
        if (show && n->first_child) {
            node = n->first_child;
            continue;
        }
        while (node && !f->nodes[node].next_sibling)
            node = f->nodes[node].parent;
        if (!node)
            return;
        node = f->nodes[node].next_sibling;
    }
}

static void write_value_type(FILE *out, const pp_pprof *t, const pp_value_type *vt)
{
    fprintf(out, "{");
    json_kstr(out, "type", tree_str(t, vt->type), 0);
    json_kstr(out, "unit", tree_str(t, vt->unit), 1);
    fprintf(out, "}");
}

static void write_header(FILE *out, const pp_pprof *t, long sample)
{
    fprintf(out, "\"sample_type\":");
    write_value_type(out, t, &t->sample_types[sample]);
    fprintf(out, ",\"sample_types\":[");
    for (size_t i = 0; i < t->n_sample_types; i++) {
        if (i)
            fputc(',', out);
        write_value_type(out, t, &t->sample_types[i]);
    }
    fprintf(out, "]");
}

int ui_write_flamegraph(FILE *out, pp_profile *p, long sample, pp_profile *base, long base_sample,
                        size_t max_nodes)
{
    flame f;
    const pp_pprof *t = profile_tree(p, NULL, 0);
    if (!t || flame_init(&f) != 0 || flame_add(&f, p, sample, 0) != 0 ||
        (base && flame_add(&f, base, base_sample, 1) != 0) || link_children(&f) != 0) {
        flame_free(&f);
        return -1;
    }
    int64_t threshold = weight_threshold(&f, max_nodes ? max_nodes : 1);
    fputc('{', out);
    write_header(out, t, sample);
    json_kint(out, "total", f.nodes[0].total, 1);
    if (base)
        json_kint(out, "base_total", f.nodes[0].base_total, 1);
    json_kint(out, "stride", base ? 6 : 4, 1);
    fprintf(out, ",\"names\":[");
    for (size_t i = 0; i < f.n_names; i++) {
        if (i)
            fputc(',', out);
        json_str(out, f.names[i]);
    }
    fprintf(out, "],\"nodes\":[");
    size_t shown = 0;
    write_nodes(out, &f, base != NULL, threshold, max_nodes ? max_nodes : 1, &shown);
    fprintf(out, "]");
    json_kint(out, "nodes_total", (int64_t)f.n_nodes, 1);
    json_kint(out, "nodes_shown", (int64_t)shown, 1);
    fputc('}', out);
    flame_free(&f);
    return 0;
}

/* ---- top ---- */

typedef struct top_row {
    uint32_t name;
    int64_t flat, cum;
    size_t seen; /* the sample that last counted cum (1-based) */
} top_row;

static int by_flat_desc(const void *a, const void *b)
{
    const top_row *x = a, *y = b;
    if (x->flat != y->flat)
        return x->flat < y->flat ? 1 : -1;
    return x->cum < y->cum ? 1 : x->cum > y->cum ? -1 : 0;
}

static int top_fill(flame *f, pp_profile *p, const pp_pprof *t, long sample, top_row **rows_out)
{
    top_row *rows = NULL;
    size_t cap = 0;
    uint32_t frames[FLAME_MAX_FRAMES];
    for (size_t i = 0; i < t->n_samples; i++) {
        const pp_sample *s = &t->samples[i];
        if ((size_t)sample >= s->n_values || s->values[sample] == 0)
            continue;
        int64_t v = s->values[sample];
        int leaf = 1;
        for (size_t j = 0; j < s->n_location_ids; j++) {
            long n = location_frames(f, p, t, s->location_ids[j], frames, FLAME_MAX_FRAMES);
            if (n < 0)
                goto fail;
            for (long k = n; k-- > 0;) { /* innermost first */
                uint32_t name = frames[k];
                if (name >= cap) {
                    size_t grown_cap = f->cap_names > name ? f->cap_names : (size_t)name + 1;
                    top_row *grown = realloc(rows, grown_cap * sizeof *grown);
                    if (!grown)
                        goto fail;
                    memset(grown + cap, 0, (grown_cap - cap) * sizeof *grown);
                    rows = grown;
                    cap = grown_cap;
                }
                rows[name].name = name;
                if (leaf)
                    rows[name].flat += v;
                leaf = 0;
                if (rows[name].seen != i + 1) {
                    rows[name].cum += v;
                    rows[name].seen = i + 1;
                }
            }
        }
    }
    *rows_out = rows;
    return (int)(cap > f->n_names ? f->n_names : cap);
fail:
    free(rows);
    return -1;
}

int ui_write_top(FILE *out, pp_profile *p, long sample, size_t limit)
{
    flame f;
    const pp_pprof *t = profile_tree(p, NULL, 0);
    top_row *rows = NULL;
    int n = -1;
    if (t && flame_init(&f) == 0)
        n = top_fill(&f, p, t, sample, &rows);
    if (n < 0) {
        if (t)
            flame_free(&f);
        return -1;
    }
    int64_t total = 0;
    for (size_t i = 0; i < t->n_samples; i++)
        if ((size_t)sample < t->samples[i].n_values)
            total += t->samples[i].values[sample];
    qsort(rows, (size_t)n, sizeof *rows, by_flat_desc);
    fputc('{', out);
    write_header(out, t, sample);
    json_kint(out, "total", total, 1);
    fprintf(out, ",\"functions\":[");
    size_t written = 0;
    for (int i = 0; i < n && written < limit; i++) {
        if (!rows[i].flat && !rows[i].cum)
            continue;
        fprintf(out, "%s{", written ? "," : "");
        json_kstr(out, "name", f.names[rows[i].name], 0);
        json_kint(out, "flat", rows[i].flat, 1);
        json_kint(out, "cum", rows[i].cum, 1);
        fputc('}', out);
        written++;
    }
    fprintf(out, "]}");
    free(rows);
    flame_free(&f);
    return 0;
}
