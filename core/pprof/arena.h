/* arena: a bump allocator for data that lives and dies together (a decoded
 * pprof tree). Allocation is a pointer bump inside the current chunk; chunks
 * grow geometrically so a tree of any size costs few mallocs, and the whole
 * arena is released with one call. Not thread-safe: an arena belongs to one
 * profile, which one thread uses at a time. */
#ifndef PROFPIPE_ARENA_H
#define PROFPIPE_ARENA_H

#include <stddef.h>

typedef struct arena_chunk arena_chunk;

typedef struct arena {
    arena_chunk *head; /* newest chunk first */
    size_t next_size;  /* payload size of the next chunk */
    size_t used;       /* bytes handed out, for size estimates */
    size_t reserved;   /* bytes malloc'd for chunks, headers included */
} arena;

void arena_init(arena *a);
/* Zeroed memory aligned for any type, or NULL when out of memory (or size
 * overflows). Valid until arena_free. */
void *arena_alloc(arena *a, size_t size);
/* Zeroed array of n elements of size each; NULL on overflow. */
void *arena_calloc(arena *a, size_t n, size_t size);
/* A NUL-terminated copy of len bytes of s. */
char *arena_strndup(arena *a, const char *s, size_t len);
void arena_free(arena *a);

#endif
