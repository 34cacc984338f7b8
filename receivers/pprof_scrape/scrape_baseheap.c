/* scrape_baseheap: see scrape_baseheap.h. */
#include "scrape_baseheap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Before each block: who points at it (NULL: a hole) and its size with
 * this header. */
typedef struct block_hdr {
    void **owner;
    size_t size;
} block_hdr;

#define HDR sizeof(block_hdr)
#define BLOCK_ALIGN 16
/* Room to grow in place: a baseline gains a few stacks at most scrapes;
 * with a thirty-second more it moves every few scrapes, not at each one. */
#define BLOCK_SLACK_DIV 32
#define FIRST_MAP ((size_t)1 << 20)

struct scrape_baseheap {
    uint8_t *mem;
    size_t mapped;       /* length of the mapping */
    size_t used;         /* end of the last block */
    size_t live;         /* bytes of owned blocks */
    size_t resident_end; /* the highest `used` since pages were last given back */
    size_t compactions;
    size_t holes_min;
    size_t page;
};

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

scrape_baseheap *scrape_baseheap_new(size_t holes_min)
{
    scrape_baseheap *h = calloc(1, sizeof *h);
    if (h) {
        h->page = (size_t)sysconf(_SC_PAGESIZE);
        h->holes_min = holes_min;
    }
    return h;
}

void scrape_baseheap_free(scrape_baseheap *h)
{
    if (!h)
        return;
    if (h->mem)
        munmap(h->mem, h->mapped);
    free(h);
}

/* Each owned block's owner made to point at it again (after the mapping
 * moved). */
static void reown_all(scrape_baseheap *h)
{
    for (size_t at = 0; at < h->used;) {
        block_hdr *b = (block_hdr *)(h->mem + at);
        if (b->owner)
            *b->owner = (uint8_t *)b + HDR;
        at += b->size;
    }
}

static int grow(scrape_baseheap *h, size_t need)
{
    size_t len = h->mapped ? h->mapped : FIRST_MAP;
    while (len < need) {
        if (len > SIZE_MAX / 2)
            return -1;
        len *= 2;
    }
    void *m = h->mem ? mremap(h->mem, h->mapped, len, MREMAP_MAYMOVE)
                     : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    int moved = h->mem && m != h->mem;
    h->mem = m;
    h->mapped = len;
    if (moved)
        reown_all(h);
    return 0;
}

void *scrape_baseheap_alloc(scrape_baseheap *h, size_t bytes, void **owner, size_t *cap)
{
    size_t slack = bytes / BLOCK_SLACK_DIV;
    if (bytes > SIZE_MAX / 2)
        return NULL;
    size_t size = round_up(HDR + bytes + slack, BLOCK_ALIGN);
    if (h->used + size > h->mapped && grow(h, h->used + size) < 0)
        return NULL;
    block_hdr *b = (block_hdr *)(h->mem + h->used);
    b->owner = owner;
    b->size = size;
    h->used += size;
    h->live += size;
    if (h->used > h->resident_end)
        h->resident_end = h->used;
    if (cap)
        *cap = size - HDR;
    return (uint8_t *)b + HDR;
}

/* Slides the owned blocks down over the holes and gives back the pages
 * past the new end. */
static void compact(scrape_baseheap *h)
{
    size_t dst = 0;
    for (size_t src = 0; src < h->used;) {
        block_hdr *b = (block_hdr *)(h->mem + src);
        size_t size = b->size;
        if (b->owner) {
            if (dst != src) {
                memmove(h->mem + dst, b, size);
                b = (block_hdr *)(h->mem + dst);
                *b->owner = (uint8_t *)b + HDR;
            }
            dst += size;
        }
        src += size;
    }
    h->used = dst;
    h->compactions++;
    size_t from = round_up(dst, h->page), to = round_up(h->resident_end, h->page);
    if (to > from)
        madvise(h->mem + from, to - from, MADV_DONTNEED);
    h->resident_end = dst;
}

void scrape_baseheap_release(scrape_baseheap *h, void *p)
{
    if (!p)
        return;
    block_hdr *b = (block_hdr *)((uint8_t *)p - HDR);
    b->owner = NULL;
    h->live -= b->size;
    if ((uint8_t *)b + b->size == h->mem + h->used)
        h->used -= b->size; /* the last block: the end comes back */
    size_t holes = h->used - h->live;
    if (h->live == 0 || (holes > h->holes_min && holes > h->live / 16))
        compact(h);
}

size_t scrape_baseheap_live(const scrape_baseheap *h)
{
    return h->live;
}

size_t scrape_baseheap_span(const scrape_baseheap *h)
{
    return h->used;
}

size_t scrape_baseheap_compactions(const scrape_baseheap *h)
{
    return h->compactions;
}
