/* perf_pprof: builds a process's CPU profile from its stacks (see
 * perf_pprof.h).
 *
 * Locations, functions and mappings are first gathered in growable arrays
 * with small hash indexes (address → location, name → function, process
 * mapping → pprof mapping), then copied into the profile's arena once their
 * counts are known: the arena has no realloc.
 */
#include "perf_pprof.h"

#include <limits.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pp_constants.h"

#define U64MAP_INITIAL 256
#define NAME_MAX_LEN 512
#define KERNEL_MAPPING_NAME "[kernel.kallsyms]"

/* ------------------------------------------------------- u64 → u64 map */

typedef struct u64map {
    uint64_t *keys, *vals; /* a value of 0 marks an empty slot */
    size_t cap, n;
} u64map;

static size_t u64map_slot(uint64_t k, size_t cap)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

static uint64_t u64map_get(const u64map *m, uint64_t k)
{
    if (!m->cap)
        return 0;
    for (size_t j = u64map_slot(k, m->cap); m->vals[j]; j = (j + 1) & (m->cap - 1))
        if (m->keys[j] == k)
            return m->vals[j];
    return 0;
}

/* v must not be 0. */
static int u64map_put(u64map *m, uint64_t k, uint64_t v)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : U64MAP_INITIAL;
        u64map g = {calloc(cap, sizeof(uint64_t)), calloc(cap, sizeof(uint64_t)), cap, 0};
        if (!g.keys || !g.vals) {
            free(g.keys);
            free(g.vals);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->vals[i])
                u64map_put(&g, m->keys[i], m->vals[i]);
        free(m->keys);
        free(m->vals);
        *m = g;
    }
    size_t j = u64map_slot(k, m->cap);
    while (m->vals[j] && m->keys[j] != k)
        j = (j + 1) & (m->cap - 1);
    if (!m->vals[j])
        m->n++;
    m->keys[j] = k;
    m->vals[j] = v;
    return 0;
}

static void u64map_free(u64map *m)
{
    free(m->keys);
    free(m->vals);
}

/* ------------------------------------------------------------ resolve */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

void perf_resolver_free(perf_resolver *r)
{
    perf_symcache_free(r->cache);
    perf_kallsyms_free(r->kallsyms);
    perf_symfile_free(r->vdso);
    r->cache = NULL;
    r->kallsyms = NULL;
    r->vdso = NULL;
    r->kallsyms_tried = r->vdso_tried = 0;
}

/* The vDSO's symbols, read once from this process's own copy. */
static const perf_symfile *vdso_symbols(perf_resolver *r, const perf_map *m)
{
    if (!r->vdso_tried) {
        char line[PERF_PATH_MAX];
        FILE *f = fopen("/proc/self/maps", "r");
        r->vdso_tried = 1;
        while (f && fgets(line, sizeof line, f)) {
            perf_map own;
            if (perf_maps_parse_line(line, &own) != 1)
                continue;
            if (strcmp(own.path, "[vdso]") == 0) {
                r->vdso_size = own.end - own.start;
                r->vdso = perf_symfile_load_image((const void *)(uintptr_t)own.start, r->vdso_size);
            }
            free(own.path);
        }
        if (f)
            fclose(f);
    }
    /* a 32-bit process maps another image: its size tells */
    return r->vdso && m->end - m->start == r->vdso_size ? r->vdso : NULL;
}

/* The symbols of m's file, read through the process's own view of the
 * file system (containers), its map_files link (deleted files), or the
 * path as it is; the vDSO's from our own. NULL for other mappings that are
 * no file. */
static const perf_symfile *symfile_of(perf_resolver *r, const perf_process *p, const perf_map *m)
{
    char root_path[PATH_MAX], files_path[PATH_MAX];
    if (strcmp(m->path, "[vdso]") == 0)
        return vdso_symbols(r, m);
    if (m->path[0] != '/' || strncmp(m->path, "//anon", 6) == 0)
        return NULL;
    snprintf(root_path, sizeof root_path, "/proc/%u/root%s", p->pid, m->path);
    snprintf(files_path, sizeof files_path, "/proc/%u/map_files/%llx-%llx", p->pid,
             (unsigned long long)m->start, (unsigned long long)m->end);
    const char *paths[] = {root_path, files_path, m->path};
    return perf_symcache_get(r->cache, m->dev, m->ino, paths, sizeof paths / sizeof *paths);
}

const char *perf_resolve_user(perf_resolver *r, const perf_process *p, uint64_t addr, int is_return,
                              const perf_map **map, int *resolved, char *buf, size_t buflen)
{
    const perf_map *m = perf_proc_find_map(p, addr);
    *map = m;
    *resolved = 0;
    if (!m) {
        snprintf(buf, buflen, "[unknown]+0x%llx", (unsigned long long)addr);
        return buf;
    }
    uint64_t off = addr - m->start + m->pgoff;
    const perf_symfile *f = symfile_of(r, p, m);
    const char *name = f ? perf_symfile_lookup(f, off - (is_return && off)) : NULL;
    if (name) {
        *resolved = 1;
        return name;
    }
    /* anonymous executable memory (JIT code) is "" in /proc, "//anon" in
     * MMAP2 records */
    int anon = !m->path[0] || strncmp(m->path, "//anon", 6) == 0;
    snprintf(buf, buflen, "%s+0x%llx", anon ? "[anon]" : base_name(m->path),
             (unsigned long long)off);
    return buf;
}

const char *perf_resolve_kernel(perf_resolver *r, uint64_t addr, int is_return, int *resolved,
                                char *buf, size_t buflen)
{
    const char *name = NULL;
    if (!r->kallsyms_tried) {
        r->kallsyms = perf_kallsyms_load(r->kallsyms_path ? r->kallsyms_path : PERF_KALLSYMS_PATH);
        r->kallsyms_tried = 1;
    }
    if (r->kallsyms)
        name = perf_kallsyms_lookup(r->kallsyms, addr - (is_return && addr));
    *resolved = name != NULL;
    if (name)
        return name;
    snprintf(buf, buflen, "[kernel]+0x%llx", (unsigned long long)addr);
    return buf;
}

/* ------------------------------------------------------------ builder */

typedef struct builder {
    perf_resolver *r;
    pp_profile *prof;
    const perf_process *proc;
    pp_location *locs;
    size_t n_locs, cap_locs;
    pp_function *funcs;
    size_t n_funcs, cap_funcs;
    pp_mapping *maps;
    size_t n_maps, cap_maps;
    u64map loc_user, loc_kernel; /* address → location id */
    u64map func_by_name;         /* string index → function id */
    u64map map_by_index;         /* process mapping index + 1 → mapping id */
    uint64_t kernel_map_id;
    uint64_t kmin, kmax;
} builder;

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    void *a = realloc(*arr, c * elem);
    if (!a)
        return -1;
    *arr = a;
    *cap = c;
    return 0;
}

static uint64_t add_mapping(builder *b, const perf_map *m, const char *build_id)
{
    const pp_host *h = b->r->host;
    if (grow((void **)&b->maps, &b->cap_maps, b->n_maps, sizeof *b->maps) < 0)
        return 0;
    pp_mapping *pm = &b->maps[b->n_maps++];
    memset(pm, 0, sizeof *pm);
    pm->id = b->n_maps;
    pm->memory_start = m->start;
    pm->memory_limit = m->end;
    pm->file_offset = m->pgoff;
    pm->filename = h->pprof_intern(b->prof, m->path);
    pm->build_id = h->pprof_intern(b->prof, build_id ? build_id : "");
    pm->has_functions = 1;
    return pm->id;
}

static uint64_t mapping_id(builder *b, const perf_map *m)
{
    uint64_t key = (uint64_t)(m - b->proc->maps) + 1;
    uint64_t id = u64map_get(&b->map_by_index, key);
    const perf_symfile *f;
    if (id)
        return id;
    f = symfile_of(b->r, b->proc, m);
    id = add_mapping(b, m, f ? perf_symfile_build_id(f) : NULL);
    if (!id || u64map_put(&b->map_by_index, key, id) < 0)
        return 0;
    return id;
}

static uint64_t function_id(builder *b, const char *name, const char *file)
{
    const pp_host *h = b->r->host;
    int64_t s = h->pprof_intern(b->prof, name);
    uint64_t id = u64map_get(&b->func_by_name, (uint64_t)s);
    if (id)
        return id;
    if (s < 0 || grow((void **)&b->funcs, &b->cap_funcs, b->n_funcs, sizeof *b->funcs) < 0)
        return 0;
    pp_function *f = &b->funcs[b->n_funcs++];
    memset(f, 0, sizeof *f);
    f->id = b->n_funcs;
    f->name = s;
    f->system_name = s;
    f->filename = h->pprof_intern(b->prof, file);
    if (u64map_put(&b->func_by_name, (uint64_t)s, f->id) < 0)
        return 0;
    return f->id;
}

static int add_kernel_mapping(builder *b)
{
    perf_map km = {0, 0, 0, 0, 0, (char *)KERNEL_MAPPING_NAME};
    b->kernel_map_id = add_mapping(b, &km, NULL);
    return b->kernel_map_id ? 0 : -1;
}

/* The location id of one frame (is_return: addr is a return address). */
static uint64_t location_id(builder *b, uint64_t addr, int is_return, int kernel)
{
    u64map *index = kernel ? &b->loc_kernel : &b->loc_user;
    uint64_t id = u64map_get(index, addr);
    char buf[NAME_MAX_LEN];
    const char *name, *file;
    const perf_map *m = NULL;
    int resolved;
    if (id)
        return id;
    if (kernel) {
        name = perf_resolve_kernel(b->r, addr, is_return, &resolved, buf, sizeof buf);
        file = KERNEL_MAPPING_NAME;
        if (!b->kernel_map_id && add_kernel_mapping(b) < 0)
            return 0;
        b->kmin = b->kmin && b->kmin < addr ? b->kmin : addr;
        b->kmax = b->kmax > addr ? b->kmax : addr;
    } else {
        name = perf_resolve_user(b->r, b->proc, addr, is_return, &m, &resolved, buf, sizeof buf);
        file = m ? m->path : "";
    }
    if (!resolved)
        b->r->unresolved++;
    uint64_t fid = function_id(b, name, file);
    uint64_t mid = kernel ? b->kernel_map_id : m ? mapping_id(b, m) : 0;
    if (!fid || (m && !mid) ||
        grow((void **)&b->locs, &b->cap_locs, b->n_locs, sizeof *b->locs) < 0)
        return 0;
    pp_location *l = &b->locs[b->n_locs++];
    memset(l, 0, sizeof *l);
    l->id = b->n_locs;
    l->mapping_id = mid;
    l->address = addr;
    l->lines = b->r->host->profile_alloc(b->prof, sizeof *l->lines);
    if (!l->lines)
        return 0;
    l->lines[0].function_id = fid;
    l->n_lines = 1;
    if (u64map_put(index, addr, l->id) < 0)
        return 0;
    return l->id;
}

/* Turns one callchain into location ids, leaf first. Returns the count, or
 * -1 when out of memory. */
static int stack_locations(builder *b, const perf_stack *st, uint64_t *out)
{
    int n = 0, kernel = 0, first_in_context = 1, skip = 0;
    for (uint32_t i = 0; i < st->n; i++) {
        uint64_t ip = st->ips[i];
        if (ip >= (uint64_t)PERF_CONTEXT_MAX) {
            kernel = ip == (uint64_t)PERF_CONTEXT_KERNEL;
            /* hypervisor and guest frames are not ours to name */
            skip = !kernel && ip != (uint64_t)PERF_CONTEXT_USER;
            first_in_context = 1;
            continue;
        }
        if (skip)
            continue;
        uint64_t id = location_id(b, ip, !first_in_context, kernel);
        if (!id)
            return -1;
        out[n++] = id;
        first_in_context = 0;
    }
    return n;
}

static int build_samples(builder *b, pp_pprof *t, int64_t period)
{
    const pp_host *h = b->r->host;
    const perf_stacks *s = &b->proc->stacks;
    size_t k = 0;
    t->samples = h->profile_alloc(b->prof, s->n * sizeof *t->samples);
    if (s->n && !t->samples)
        return -1;
    for (size_t i = 0; i < s->cap; i++) {
        const perf_stack *st = &s->slots[i];
        if (!st->ips)
            continue;
        pp_sample *smp = &t->samples[k];
        smp->location_ids = h->profile_alloc(b->prof, (st->n + 1) * sizeof(uint64_t));
        smp->values = h->profile_alloc(b->prof, 2 * sizeof(int64_t));
        if (!smp->location_ids || !smp->values)
            return -1;
        int n = stack_locations(b, st, smp->location_ids);
        if (n < 0)
            return -1;
        if (n == 0) /* nothing to show: markers only */
            continue;
        smp->n_location_ids = (size_t)n;
        smp->n_values = 2;
        smp->values[0] = (int64_t)st->count;
        smp->values[1] = (int64_t)st->count * period;
        k++;
    }
    t->n_samples = k;
    return 0;
}

/* Copies a builder array into the arena: `*dst` gets n elements. */
static int to_arena(builder *b, void **dst, const void *src, size_t n, size_t elem)
{
    *dst = NULL;
    if (n == 0)
        return 0;
    *dst = b->r->host->profile_alloc(b->prof, n * elem);
    if (!*dst)
        return -1;
    memcpy(*dst, src, n * elem);
    return 0;
}

static void builder_free(builder *b)
{
    free(b->locs);
    free(b->funcs);
    free(b->maps);
    u64map_free(&b->loc_user);
    u64map_free(&b->loc_kernel);
    u64map_free(&b->func_by_name);
    u64map_free(&b->map_by_index);
}

static void set_types(const pp_host *h, pp_profile *prof, pp_pprof *t, pp_value_type *types,
                      int64_t period)
{
    types[0].type = h->pprof_intern(prof, "samples");
    types[0].unit = h->pprof_intern(prof, "count");
    types[1].type = h->pprof_intern(prof, "cpu");
    types[1].unit = h->pprof_intern(prof, "nanoseconds");
    t->sample_types = types;
    t->n_sample_types = 2;
    t->period_type = types[1];
    t->period = period;
}

int perf_pprof_build(perf_resolver *r, pp_profile *prof, const perf_process *p, int frequency,
                     int64_t start_ns, int64_t duration_ns, char *err, size_t errlen)
{
    const pp_host *h = r->host;
    builder b = {.r = r, .prof = prof, .proc = p};
    int64_t period = NS_PER_SEC / (frequency > 0 ? frequency : 1);
    pp_pprof *t = h->profile_tree_new(prof);
    pp_value_type *types = t ? h->profile_alloc(prof, 2 * sizeof *types) : NULL;
    int rc = -1;

    if (!types)
        goto out;
    set_types(h, prof, t, types, period);
    t->time_nanos = start_ns;
    t->duration_nanos = duration_ns;
    if (p->exe) { /* the executable's mapping first: pprof's main binary */
        for (size_t i = 0; i < p->n_maps; i++)
            if (strcmp(p->maps[i].path, p->exe) == 0) {
                if (!mapping_id(&b, &p->maps[i]))
                    goto out;
                break;
            }
    }
    if (build_samples(&b, t, period) < 0)
        goto out;
    if (b.kernel_map_id) {
        b.maps[b.kernel_map_id - 1].memory_start = b.kmin;
        b.maps[b.kernel_map_id - 1].memory_limit = b.kmax + 1;
    }
    if (to_arena(&b, (void **)&t->locations, b.locs, b.n_locs, sizeof *b.locs) < 0 ||
        to_arena(&b, (void **)&t->functions, b.funcs, b.n_funcs, sizeof *b.funcs) < 0 ||
        to_arena(&b, (void **)&t->mappings, b.maps, b.n_maps, sizeof *b.maps) < 0)
        goto out;
    t->n_locations = b.n_locs;
    t->n_functions = b.n_funcs;
    t->n_mappings = b.n_maps;
    rc = 0;
out:
    if (rc < 0)
        snprintf(err, errlen, "out of memory building the profile of pid %u", p->pid);
    builder_free(&b);
    return rc;
}
