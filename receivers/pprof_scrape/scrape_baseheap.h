/* scrape_baseheap: the delta baselines of one scrape loop, packed in one
 * mapping of their own and compacted.
 *
 * A baseline is replaced by a slightly larger one at almost every scrape
 * of a cumulative type. In malloc's heap, among each scrape's transient
 * arrays and decode arenas, the blocks let go left holes that grew the
 * heap well past what was in use; in pages of their own, each baseline
 * cost the rounding to a page. Here the blocks are laid end to end: a new
 * one goes at the end, one let go becomes a hole, and when the holes
 * pass a sixteenth of what is in use the live blocks slide down over
 * them and the pages past the end are given back. Each block
 * names its owner, the pointer that refers to it, which the heap rewrites
 * when it moves the block; so a block's address holds only until the
 * next call that allocates or releases.
 *
 * A heap belongs to one thread at a time (the scrape loop's). */
#ifndef SCRAPE_BASEHEAP_H
#define SCRAPE_BASEHEAP_H

#include <stddef.h>

typedef struct scrape_baseheap scrape_baseheap;

/* Holes are slid over once they pass holes_min bytes and a sixteenth of
 * what is live: moving the live blocks then costs about sixteen times
 * the bytes let go, and the mapping stays within 1/16 of what is live.
 * The scrape loop's heap uses SCRAPE_BASEHEAP_HOLES_MIN; tests pass 0 to
 * see blocks move at nearly every release. */
#define SCRAPE_BASEHEAP_HOLES_MIN ((size_t)64 << 10)
scrape_baseheap *scrape_baseheap_new(size_t holes_min);
/* Every block must have been released. */
void scrape_baseheap_free(scrape_baseheap *h);

/* A block of at least `bytes` (8-byte aligned), with room to grow in
 * place: its capacity in *cap. The caller stores its address in *owner
 * before its next call here; from then on the heap rewrites *owner
 * whenever it moves the block. NULL when the mapping cannot grow. */
void *scrape_baseheap_alloc(scrape_baseheap *h, size_t bytes, void **owner, size_t *cap);
/* The block at p (from scrape_baseheap_alloc) is no longer used. Other
 * blocks may move. */
void scrape_baseheap_release(scrape_baseheap *h, void *p);

/* Bytes in blocks in use (with their headers and slack). */
size_t scrape_baseheap_live(const scrape_baseheap *h);
/* Bytes from the mapping's start to the end of the last block: what may
 * be resident. */
size_t scrape_baseheap_span(const scrape_baseheap *h);
/* Times the live blocks were slid down. */
size_t scrape_baseheap_compactions(const scrape_baseheap *h);

#endif
