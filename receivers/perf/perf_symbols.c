/* perf_symbols: ELF and kallsyms symbol tables (see perf_symbols.h).
 *
 * A symfile keeps only what lookups need: its PT_LOAD segments (file offset
 * to virtual address) and its function symbols sorted by address, with
 * their names in one string pool. The ELF file is closed after loading, so
 * the cache holds no descriptors. A symbol of size 0 (hand-written assembly)
 * covers up to the next symbol. A Go binary stripped of .symtab is read
 * from its .gopclntab (perf_gopclntab.c).
 */
#include "perf_symbols.h"
#include "perf_gopclntab.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUILD_ID_MAX 64 /* bytes; GNU build ids are 20 */
#define GNU_NOTE_NAME "GNU"
#define NT_BUILD_ID 3 /* NT_GNU_BUILD_ID */
#define SYMCACHE_INITIAL 64
#define KALLSYMS_LINE_MAX 512

typedef struct perf_sym {
    uint64_t addr, size;
    uint32_t name; /* offset in the pool */
} perf_sym;

typedef struct perf_segment {
    uint64_t offset, vaddr, filesz;
} perf_segment;

struct perf_symfile {
    perf_segment *segs;
    size_t n_segs;
    perf_sym *syms;
    size_t n_syms, cap_syms;
    char *pool;
    size_t pool_len, pool_cap;
    char build_id[BUILD_ID_MAX * 2 + 1];
    unsigned refs; /* cache entries sharing it */
};

/* ---------------------------------------------------------------- ELF */

static int add_sym(perf_symfile *f, uint64_t addr, uint64_t size, const char *name)
{
    size_t len = strlen(name) + 1;
    if (f->n_syms == f->cap_syms) {
        size_t cap = f->cap_syms ? f->cap_syms * 2 : 256;
        perf_sym *s = realloc(f->syms, cap * sizeof *s);
        if (!s)
            return -1;
        f->syms = s;
        f->cap_syms = cap;
    }
    if (f->pool_len + len > f->pool_cap) {
        size_t cap = f->pool_cap ? f->pool_cap * 2 : 4096;
        while (cap < f->pool_len + len)
            cap *= 2;
        char *p = realloc(f->pool, cap);
        if (!p)
            return -1;
        f->pool = p;
        f->pool_cap = cap;
    }
    memcpy(f->pool + f->pool_len, name, len);
    f->syms[f->n_syms++] = (perf_sym){addr, size, (uint32_t)f->pool_len};
    f->pool_len += len;
    return 0;
}

/* Adds the function symbols of one symbol table section. */
static int read_symtab(perf_symfile *f, Elf *e, Elf_Scn *scn, const GElf_Shdr *sh)
{
    Elf_Data *d = elf_getdata(scn, NULL);
    size_t n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;
    if (!d)
        return 0;
    for (size_t i = 0; i < n; i++) {
        GElf_Sym s;
        const char *name;
        int type;
        if (!gelf_getsym(d, (int)i, &s))
            break;
        type = GELF_ST_TYPE(s.st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s.st_value == 0 ||
            s.st_shndx == SHN_UNDEF)
            continue;
        name = elf_strptr(e, sh->sh_link, s.st_name);
        if (!name || !*name)
            continue;
        if (add_sym(f, s.st_value, s.st_size, name) < 0)
            return -1;
    }
    return 0;
}

static void read_build_id(perf_symfile *f, Elf_Scn *scn)
{
    Elf_Data *d = elf_getdata(scn, NULL);
    size_t off = 0, name_off, desc_off;
    GElf_Nhdr nh;
    if (!d)
        return;
    while ((off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
        if (nh.n_type != NT_BUILD_ID || nh.n_namesz != sizeof GNU_NOTE_NAME ||
            memcmp((char *)d->d_buf + name_off, GNU_NOTE_NAME, sizeof GNU_NOTE_NAME) != 0)
            continue;
        const unsigned char *id = (const unsigned char *)d->d_buf + desc_off;
        size_t len = nh.n_descsz < BUILD_ID_MAX ? nh.n_descsz : BUILD_ID_MAX;
        for (size_t i = 0; i < len; i++)
            snprintf(f->build_id + 2 * i, 3, "%02x", id[i]);
        return;
    }
}

static int read_segments(perf_symfile *f, Elf *e)
{
    size_t n = 0;
    if (elf_getphdrnum(e, &n) != 0 || n == 0)
        return 0;
    f->segs = calloc(n, sizeof *f->segs);
    if (!f->segs)
        return -1;
    for (size_t i = 0; i < n; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
            continue;
        f->segs[f->n_segs++] = (perf_segment){ph.p_offset, ph.p_vaddr, ph.p_filesz};
    }
    return 0;
}

static int add_go_sym(void *arg, uint64_t addr, uint64_t size, const char *name)
{
    return add_sym(arg, addr, size, name);
}

/* A Go binary without .symtab: its functions from .gopclntab. A table we
 * cannot read leaves the frames named by mapping+offset. */
static int read_gopclntab(perf_symfile *f, Elf_Scn *scn)
{
    Elf_Data *d = elf_getdata(scn, NULL);
    size_t before = f->n_syms;
    if (!d || !d->d_buf)
        return 0;
    if (perf_gopclntab_read(d->d_buf, d->d_size, add_go_sym, f) < 0)
        f->n_syms = before; /* all or nothing */
    return 0;
}

/* Reads an opened ELF: segments and build id when want_layout, function
 * symbols from .symtab (from .dynsym, and a Go binary's .gopclntab, only
 * if there is no .symtab). Returns 1 if .symtab was found, 0 if not, -1 on
 * what is not ELF. */
static int read_elf_handle(perf_symfile *f, Elf *e, int want_layout)
{
    Elf_Scn *scn = NULL, *dynsym = NULL, *gopclntab = NULL;
    GElf_Shdr dynsym_sh;
    size_t shstrndx = 0;
    int has_symtab = 0, rc = 0;

    if (!e || elf_kind(e) != ELF_K_ELF)
        return -1;
    if (elf_getshdrstrndx(e, &shstrndx) != 0)
        shstrndx = 0;
    if (want_layout && read_segments(f, e) < 0)
        rc = -1;
    while (rc == 0 && (scn = elf_nextscn(e, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh))
            continue;
        if (sh.sh_type == SHT_SYMTAB) {
            has_symtab = 1;
            if (read_symtab(f, e, scn, &sh) < 0)
                rc = -1;
        } else if (sh.sh_type == SHT_DYNSYM) {
            dynsym = scn;
            dynsym_sh = sh;
        } else if (sh.sh_type == SHT_NOTE && want_layout && !f->build_id[0]) {
            read_build_id(f, scn);
        } else if (sh.sh_type == SHT_PROGBITS && shstrndx) {
            const char *name = elf_strptr(e, shstrndx, sh.sh_name);
            if (name && strcmp(name, ".gopclntab") == 0)
                gopclntab = scn;
        }
    }
    if (rc == 0 && !has_symtab && dynsym && read_symtab(f, e, dynsym, &dynsym_sh) < 0)
        rc = -1;
    if (rc == 0 && !has_symtab && gopclntab && read_gopclntab(f, gopclntab) < 0)
        rc = -1;
    return rc < 0 ? -1 : has_symtab;
}

static int read_elf(perf_symfile *f, const char *path, int want_layout)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
    Elf *e;
    if (fd < 0)
        return -1;
    e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    rc = read_elf_handle(f, e, want_layout);
    if (e)
        elf_end(e);
    close(fd);
    return rc;
}

static int sym_cmp(const void *a, const void *b)
{
    const perf_sym *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    /* same address: the sized one first, so it is the one kept */
    return (x->size == 0) - (y->size == 0);
}

static void sort_syms(perf_symfile *f)
{
    size_t out = 0;
    if (f->n_syms < 2)
        return;
    qsort(f->syms, f->n_syms, sizeof *f->syms, sym_cmp);
    for (size_t i = 0; i < f->n_syms; i++) /* aliases: keep one per address */
        if (out == 0 || f->syms[out - 1].addr != f->syms[i].addr)
            f->syms[out++] = f->syms[i];
    f->n_syms = out;
}

/* Stripped file: the symbols are in the debug file named by its build id. */
static void load_debug_file(perf_symfile *f, const char *debug_root)
{
    char path[PATH_MAX];
    perf_symfile tmp = {0};
    if (!debug_root || strlen(f->build_id) < 4)
        return;
    snprintf(path, sizeof path, "%s/.build-id/%.2s/%s.debug", debug_root, f->build_id,
             f->build_id + 2);
    if (access(path, R_OK) != 0 || read_elf(&tmp, path, 0) != 1) {
        free(tmp.syms);
        free(tmp.pool);
        return;
    }
    free(f->syms);
    free(f->pool);
    f->syms = tmp.syms;
    f->n_syms = tmp.n_syms;
    f->cap_syms = tmp.cap_syms;
    f->pool = tmp.pool;
    f->pool_len = tmp.pool_len;
    f->pool_cap = tmp.pool_cap;
}

static void elf_ready(void)
{
    static int ready;
    if (!ready) { /* idempotent; the race is harmless */
        elf_version(EV_CURRENT);
        ready = 1;
    }
}

perf_symfile *perf_symfile_load_image(const void *image, size_t len)
{
    perf_symfile *f = calloc(1, sizeof *f);
    char *copy = malloc(len); /* libelf wants a buffer it may write */
    Elf *e;
    if (!f || !copy) {
        free(f);
        free(copy);
        return NULL;
    }
    elf_ready();
    memcpy(copy, image, len);
    e = elf_memory(copy, len);
    if (read_elf_handle(f, e, 1) < 0)
        f->n_syms = f->n_segs = 0;
    if (e)
        elf_end(e);
    free(copy);
    sort_syms(f);
    return f;
}

perf_symfile *perf_symfile_load(const char *path, const char *debug_root)
{
    perf_symfile *f = calloc(1, sizeof *f);
    int r;
    if (!f)
        return NULL;
    elf_ready();
    r = read_elf(f, path, 1);
    if (r == 0)
        load_debug_file(f, debug_root);
    if (r < 0) { /* unreadable: keep an empty symfile so it is not retried */
        f->n_syms = 0;
        f->n_segs = 0;
    }
    sort_syms(f);
    return f;
}

void perf_symfile_free(perf_symfile *f)
{
    if (!f)
        return;
    free(f->segs);
    free(f->syms);
    free(f->pool);
    free(f);
}

const char *perf_symfile_lookup(const perf_symfile *f, uint64_t file_offset)
{
    uint64_t vaddr = file_offset;
    size_t lo = 0, hi = f->n_syms;
    for (size_t i = 0; i < f->n_segs; i++) {
        const perf_segment *s = &f->segs[i];
        if (file_offset >= s->offset && file_offset < s->offset + s->filesz) {
            vaddr = file_offset - s->offset + s->vaddr;
            break;
        }
    }
    while (lo < hi) { /* first symbol above vaddr */
        size_t mid = lo + (hi - lo) / 2;
        if (f->syms[mid].addr <= vaddr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const perf_sym *s = &f->syms[lo - 1];
    if (s->size && vaddr >= s->addr + s->size)
        return NULL;
    return f->pool + s->name;
}

const char *perf_symfile_build_id(const perf_symfile *f)
{
    return f->build_id;
}

size_t perf_symfile_count(const perf_symfile *f)
{
    return f->n_syms;
}

/* -------------------------------------------------------------- cache */

typedef struct symcache_entry {
    uint64_t dev, ino;
    perf_symfile *file; /* NULL: empty slot */
    unsigned last_round;
    int64_t mtime_ns, size; /* of the file read: a rewrite in place shows */
} symcache_entry;

struct perf_symcache {
    symcache_entry *slots;
    size_t cap, n;
    unsigned round;
    char *debug_root;
};

perf_symcache *perf_symcache_new(const char *debug_root)
{
    perf_symcache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->cap = SYMCACHE_INITIAL;
    c->slots = calloc(c->cap, sizeof *c->slots);
    c->debug_root = debug_root ? strdup(debug_root) : NULL;
    if (!c->slots || (debug_root && !c->debug_root)) {
        perf_symcache_free(c);
        return NULL;
    }
    return c;
}

static void release(perf_symfile *f)
{
    if (f && --f->refs == 0)
        perf_symfile_free(f);
}

void perf_symcache_free(perf_symcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->cap; i++)
        release(c->slots[i].file);
    free(c->slots);
    free(c->debug_root);
    free(c);
}

static size_t slot_of(size_t cap, uint64_t dev, uint64_t ino)
{
    uint64_t h = (dev * 0x9e3779b97f4a7c15ull) ^ (ino * 0xc2b2ae3d27d4eb4full);
    return (size_t)(h ^ (h >> 31)) & (cap - 1);
}

/* Rehashes into `cap` slots, keeping entries used in the last keep rounds. */
static int rehash(perf_symcache *c, size_t cap, unsigned keep)
{
    symcache_entry *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    c->n = 0;
    for (size_t i = 0; i < c->cap; i++) {
        symcache_entry *e = &c->slots[i];
        if (!e->file)
            continue;
        if (c->round - e->last_round > keep) {
            release(e->file);
            continue;
        }
        size_t j = slot_of(cap, e->dev, e->ino);
        while (slots[j].file)
            j = (j + 1) & (cap - 1);
        slots[j] = *e;
        c->n++;
    }
    free(c->slots);
    c->slots = slots;
    c->cap = cap;
    return 0;
}

/* A loaded file with the same build id as f, to share instead. */
static perf_symfile *same_build(perf_symcache *c, const perf_symfile *f)
{
    if (!f->build_id[0])
        return NULL;
    for (size_t i = 0; i < c->cap; i++)
        if (c->slots[i].file && strcmp(c->slots[i].file->build_id, f->build_id) == 0)
            return c->slots[i].file;
    return NULL;
}

/* The first of paths that can be read (the last one regardless); its
 * modification time and size in *mtime_ns, *size (-1 if unknown). */
static const char *pick_path(const char *const *paths, size_t n_paths, int64_t *mtime_ns,
                             int64_t *size)
{
    struct stat st;
    size_t i = 0;
    while (i + 1 < n_paths && access(paths[i], R_OK) != 0)
        i++;
    *mtime_ns = *size = -1;
    if (n_paths && stat(paths[i], &st) == 0) {
        *mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        *size = (int64_t)st.st_size;
    }
    return n_paths ? paths[i] : NULL;
}

/* Loads the symbols of path, or shares those of a file with its build id. */
static perf_symfile *load_shared(perf_symcache *c, const char *path)
{
    perf_symfile *f = perf_symfile_load(path, c->debug_root), *shared;
    if (!f)
        return NULL;
    shared = same_build(c, f);
    if (shared) {
        perf_symfile_free(f);
        f = shared;
    }
    f->refs++;
    return f;
}

/* A cached entry, checked once a round against a rewrite in place (same
 * inode, new contents: `cp` over a binary no process runs). */
static const perf_symfile *cached(perf_symcache *c, symcache_entry *e, const char *const *paths,
                                  size_t n_paths)
{
    int64_t mtime_ns, size;
    if (e->last_round != c->round) {
        const char *path = pick_path(paths, n_paths, &mtime_ns, &size);
        if (mtime_ns >= 0 && (mtime_ns != e->mtime_ns || size != e->size)) {
            perf_symfile *f = load_shared(c, path);
            if (f) {
                release(e->file);
                e->file = f;
                e->mtime_ns = mtime_ns;
                e->size = size;
            }
        }
    }
    e->last_round = c->round;
    return e->file;
}

const perf_symfile *perf_symcache_get(perf_symcache *c, uint64_t dev, uint64_t ino,
                                      const char *const *paths, size_t n_paths)
{
    size_t j;
    perf_symfile *f;
    int64_t mtime_ns, size;
    const char *path;
    for (j = slot_of(c->cap, dev, ino); c->slots[j].file; j = (j + 1) & (c->cap - 1))
        if (c->slots[j].dev == dev && c->slots[j].ino == ino)
            return cached(c, &c->slots[j], paths, n_paths);
    path = pick_path(paths, n_paths, &mtime_ns, &size);
    f = path ? load_shared(c, path) : NULL;
    if (!f)
        return NULL;
    if ((c->n + 1) * 2 > c->cap && rehash(c, c->cap * 2, ~0u) < 0) {
        release(f);
        return NULL;
    }
    for (j = slot_of(c->cap, dev, ino); c->slots[j].file; j = (j + 1) & (c->cap - 1))
        ;
    c->slots[j] = (symcache_entry){dev, ino, f, c->round, mtime_ns, size};
    c->n++;
    return f;
}

void perf_symcache_sweep(perf_symcache *c, unsigned keep_rounds)
{
    c->round++;
    rehash(c, c->cap, keep_rounds); /* on failure, the old table stays */
}

size_t perf_symcache_size(const perf_symcache *c)
{
    return c->n;
}

/* ----------------------------------------------------------- kallsyms */

struct perf_kallsyms {
    perf_symfile syms; /* no segments: addresses are used as they are */
};

perf_kallsyms *perf_kallsyms_load(const char *path)
{
    char line[KALLSYMS_LINE_MAX];
    FILE *fp = fopen(path, "r");
    perf_kallsyms *k;
    if (!fp)
        return NULL;
    k = calloc(1, sizeof *k);
    if (!k) {
        fclose(fp);
        return NULL;
    }
    while (fgets(line, sizeof line, fp)) {
        unsigned long long addr;
        char type, name[KALLSYMS_LINE_MAX], module[KALLSYMS_LINE_MAX] = "";
        char full[2 * KALLSYMS_LINE_MAX + 4];
        int n = sscanf(line, "%llx %c %511s %511s", &addr, &type, name, module);
        if (n < 3 || addr == 0 || (type != 't' && type != 'T' && type != 'w' && type != 'W'))
            continue;
        if (n == 4)
            snprintf(full, sizeof full, "%s %s", name, module);
        else
            snprintf(full, sizeof full, "%s", name);
        if (add_sym(&k->syms, addr, 0, full) < 0)
            break;
    }
    fclose(fp);
    if (k->syms.n_syms == 0) {
        perf_kallsyms_free(k);
        return NULL;
    }
    sort_syms(&k->syms);
    return k;
}

void perf_kallsyms_free(perf_kallsyms *k)
{
    if (!k)
        return;
    free(k->syms.syms);
    free(k->syms.pool);
    free(k);
}

const char *perf_kallsyms_lookup(const perf_kallsyms *k, uint64_t addr)
{
    return perf_symfile_lookup(&k->syms, addr);
}
