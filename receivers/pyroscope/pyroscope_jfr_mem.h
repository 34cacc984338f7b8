/* pyroscope_jfr_mem: the memory of one JFR parse, counted against a
 * budget: a bump arena (no frees until the end of a chunk) and a u64 → u64
 * map (open addressing; value 0 marks an empty slot). Every allocation
 * goes through jfr_mem, so a hostile recording costs at most the budget. */
#ifndef PYROSCOPE_JFR_MEM_H
#define PYROSCOPE_JFR_MEM_H

#include <stddef.h>
#include <stdint.h>

typedef struct jfr_mem {
    size_t used, budget;
    int over; /* set once an allocation was refused */
} jfr_mem;

/* malloc/realloc/free that count bytes against m->budget (NULL when over
 * or out of memory, and m->over set). */
void *jfr_mem_alloc(jfr_mem *m, size_t size);
void *jfr_mem_grow(jfr_mem *m, void *p, size_t old_size, size_t new_size);
void jfr_mem_free(jfr_mem *m, void *p, size_t size);

typedef struct jfr_arena_block jfr_arena_block;
typedef struct jfr_arena {
    jfr_mem *mem;
    jfr_arena_block *head;
} jfr_arena;

/* Zeroed, aligned for any type; NULL when over the budget. */
void *jfr_arena_alloc(jfr_arena *a, size_t size);
void jfr_arena_free(jfr_arena *a);

typedef struct jfr_map {
    jfr_mem *mem;
    uint64_t *keys, *vals;
    size_t cap, n;
} jfr_map;

uint64_t jfr_map_get(const jfr_map *m, uint64_t key);    /* 0 if absent */
int jfr_map_put(jfr_map *m, uint64_t key, uint64_t val); /* val != 0; 0 or -1 */
void jfr_map_free(jfr_map *m);

#endif
