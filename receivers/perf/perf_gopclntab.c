/* perf_gopclntab: Go function names from .gopclntab (see perf_gopclntab.h).
 *
 * Layout (Go's runtime/symtab.go, pcHeader): a magic number, two pad
 * bytes, the instruction size quantum, the pointer size, then pointer-size
 * words: nfunc, nfiles, [textStart: Go 1.18+], funcnameOffset, cuOffset,
 * filetabOffset, pctabOffset, pclnOffset. At pclnOffset, the function
 * table: nfunc+1 {entry, funcoff} pairs sorted by entry (the last entry is
 * the end of the text); Go 1.18+ stores both as uint32 offsets (entry from
 * textStart), Go 1.16/1.17 as pointer-size words with absolute entries. At
 * pclnOffset+funcoff, each _func begins with its entry again and then an
 * int32 offset of its name in the name table at funcnameOffset. Only the
 * names and entries are read: no line tables (as for ELF symbols). Every
 * offset is checked against the section's length before it is read.
 */
#include "perf_gopclntab.h"

#include <string.h>

#define GO116_MAGIC 0xfffffffau
#define GO118_MAGIC 0xfffffff0u
#define GO120_MAGIC 0xfffffff1u
#define HEADER_WORDS_AT 8 /* magic(4) pad(2) quantum(1) ptrsize(1) */

typedef struct table {
    const uint8_t *data;
    size_t len;
    unsigned ptr; /* 4 or 8 */
    int go118;    /* uint32 offsets from text_start */
    uint64_t text_start, names, pcln;
    uint64_t nfunc;
} table;

static int in_range(const table *t, uint64_t off, uint64_t n)
{
    return off <= t->len && n <= t->len - off;
}

static uint64_t rd(const table *t, uint64_t off, unsigned size)
{
    uint64_t v = 0;
    memcpy(&v, t->data + off, size); /* little-endian host and file */
    return v;
}

/* Header word i (0: nfunc) */
static uint64_t word(const table *t, unsigned i)
{
    return rd(t, HEADER_WORDS_AT + (uint64_t)i * t->ptr, t->ptr);
}

static int read_header(table *t)
{
    uint32_t magic;
    unsigned words;
    if (t->len < HEADER_WORDS_AT)
        return -1;
    magic = (uint32_t)rd(t, 0, 4);
    t->ptr = t->data[7];
    if ((t->ptr != 4 && t->ptr != 8) || t->data[4] != 0 || t->data[5] != 0)
        return -1;
    if (magic == GO118_MAGIC || magic == GO120_MAGIC)
        t->go118 = 1;
    else if (magic != GO116_MAGIC)
        return -1;
    words = t->go118 ? 8 : 7;
    if (!in_range(t, HEADER_WORDS_AT, (uint64_t)words * t->ptr))
        return -1;
    t->nfunc = word(t, 0);
    t->text_start = t->go118 ? word(t, 2) : 0;
    t->names = word(t, t->go118 ? 3 : 2);
    t->pcln = word(t, t->go118 ? 7 : 6);
    return 0;
}

/* Entry address and _func offset of function table row i. */
static int row(const table *t, uint64_t i, uint64_t *entry, uint64_t *funcoff)
{
    unsigned size = t->go118 ? 4 : t->ptr;
    uint64_t off = t->pcln + i * 2 * size;
    if (i > t->nfunc || !in_range(t, off, 2 * (uint64_t)size))
        return -1;
    *entry = rd(t, off, size) + t->text_start;
    *funcoff = rd(t, off + size, size);
    return 0;
}

/* The name of the _func at pcln+funcoff, or NULL. */
static const char *func_name(const table *t, uint64_t funcoff)
{
    unsigned entry_size = t->go118 ? 4 : t->ptr;
    uint64_t at = t->pcln + funcoff, name;
    int32_t nameoff;
    if (funcoff > t->len || !in_range(t, at, entry_size + 4))
        return NULL;
    nameoff = (int32_t)rd(t, at + entry_size, 4);
    name = t->names + (uint64_t)(int64_t)nameoff;
    if (nameoff < 0 || name >= t->len || !memchr(t->data + name, 0, t->len - name))
        return NULL;
    return (const char *)t->data + name;
}

int perf_gopclntab_read(const uint8_t *data, size_t len, perf_gofunc_fn fn, void *arg)
{
    table t = {.data = data, .len = len};
    uint64_t entry, funcoff, next, next_off;
    int n = 0;
    if (read_header(&t) < 0 || t.nfunc == 0 || t.nfunc > len || t.names > len ||
        row(&t, 0, &entry, &funcoff) < 0)
        return -1;
    for (uint64_t i = 0; i < t.nfunc; i++) {
        const char *name;
        if (row(&t, i + 1, &next, &next_off) < 0)
            return -1;
        name = func_name(&t, funcoff);
        if (name && *name && next > entry) {
            if (fn(arg, entry, next - entry, name) < 0)
                return -1;
            n++;
        }
        entry = next;
        funcoff = next_off;
    }
    return n;
}
