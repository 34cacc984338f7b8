/* arena: see arena.h. Chunks are malloc'd with their header in front; an
 * allocation larger than half the next chunk gets a chunk of its own so that
 * one huge array does not waste the tail of the current chunk. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_FIRST_CHUNK ((size_t)16 << 10)
#define ARENA_MAX_CHUNK ((size_t)4 << 20)
#define ARENA_ALIGN _Alignof(max_align_t)

struct arena_chunk {
    arena_chunk *next;
    size_t size; /* payload bytes */
    size_t off;  /* first free payload byte */
    _Alignas(max_align_t) unsigned char data[];
};

void arena_init(arena *a)
{
    a->head = NULL;
    a->next_size = ARENA_FIRST_CHUNK;
    a->used = 0;
    a->reserved = 0;
}

static arena_chunk *arena_chunk_new(arena *a, size_t size)
{
    arena_chunk *c = malloc(sizeof(*c) + size);
    if (!c)
        return NULL;
    a->reserved += sizeof(*c) + size;
    c->size = size;
    c->off = 0;
    c->next = NULL;
    return c;
}

void *arena_alloc(arena *a, size_t size)
{
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    size = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    arena_chunk *c = a->head;
    if (!c || c->size - c->off < size) {
        if (size > a->next_size / 2) {
            /* dedicated chunk, linked behind the current one */
            arena_chunk *big = arena_chunk_new(a, size);
            if (!big)
                return NULL;
            big->off = size;
            if (c) {
                big->next = c->next;
                c->next = big;
            } else {
                a->head = big;
            }
            a->used += size;
            memset(big->data, 0, size);
            return big->data;
        }
        c = arena_chunk_new(a, a->next_size);
        if (!c)
            return NULL;
        c->next = a->head;
        a->head = c;
        if (a->next_size < ARENA_MAX_CHUNK)
            a->next_size *= 2;
    }
    void *p = c->data + c->off;
    c->off += size;
    a->used += size;
    memset(p, 0, size);
    return p;
}

void *arena_calloc(arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return arena_alloc(a, n * size);
}

char *arena_strndup(arena *a, const char *s, size_t len)
{
    char *d = arena_alloc(a, len + 1);
    if (d && len)
        memcpy(d, s, len);
    return d;
}

void arena_free(arena *a)
{
    arena_chunk *c = a->head;
    while (c) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    arena_init(a);
}
