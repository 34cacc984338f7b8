/* pyroscope_jfr_mem: budgeted allocation for the JFR reader (see
 * pyroscope_jfr_mem.h). */
#include "pyroscope_jfr_mem.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK_MIN ((size_t)64 << 10)
#define MAP_INITIAL_CAP 64

void *jfr_mem_alloc(jfr_mem *m, size_t size)
{
    if (m->used > m->budget || size > m->budget - m->used) {
        m->over = 1;
        return NULL;
    }
    void *p = calloc(1, size ? size : 1);
    if (!p) {
        m->over = 1;
        return NULL;
    }
    m->used += size;
    return p;
}

void *jfr_mem_grow(jfr_mem *m, void *p, size_t old_size, size_t new_size)
{
    if (new_size < old_size || m->used > m->budget || new_size - old_size > m->budget - m->used) {
        m->over = 1;
        return NULL;
    }
    void *q = realloc(p, new_size ? new_size : 1);
    if (!q) {
        m->over = 1;
        return NULL;
    }
    m->used += new_size - old_size;
    return q;
}

void jfr_mem_free(jfr_mem *m, void *p, size_t size)
{
    if (!p)
        return;
    free(p);
    m->used -= size;
}

struct jfr_arena_block {
    jfr_arena_block *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

void *jfr_arena_alloc(jfr_arena *a, size_t size)
{
    size_t align = alignof(max_align_t);
    if (size > SIZE_MAX / 2)
        return NULL;
    size = (size + align - 1) & ~(align - 1);
    jfr_arena_block *b = a->head;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > ARENA_BLOCK_MIN ? size : ARENA_BLOCK_MIN;
        b = jfr_mem_alloc(a->mem, sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    return p; /* calloc'd and never reused: already zero */
}

void jfr_arena_free(jfr_arena *a)
{
    while (a->head) {
        jfr_arena_block *next = a->head->next;
        jfr_mem_free(a->mem, a->head, sizeof(*a->head) + a->head->cap);
        a->head = next;
    }
}

static size_t map_slot(uint64_t k, size_t cap)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

uint64_t jfr_map_get(const jfr_map *m, uint64_t key)
{
    if (!m->cap)
        return 0;
    for (size_t j = map_slot(key, m->cap); m->vals[j]; j = (j + 1) & (m->cap - 1))
        if (m->keys[j] == key)
            return m->vals[j];
    return 0;
}

static void map_insert(uint64_t *keys, uint64_t *vals, size_t cap, uint64_t key, uint64_t val,
                       size_t *n)
{
    size_t j = map_slot(key, cap);
    while (vals[j] && keys[j] != key)
        j = (j + 1) & (cap - 1);
    if (!vals[j])
        (*n)++;
    keys[j] = key;
    vals[j] = val;
}

int jfr_map_put(jfr_map *m, uint64_t key, uint64_t val)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : MAP_INITIAL_CAP;
        uint64_t *keys = jfr_mem_alloc(m->mem, cap * sizeof(uint64_t));
        uint64_t *vals = keys ? jfr_mem_alloc(m->mem, cap * sizeof(uint64_t)) : NULL;
        if (!vals) {
            jfr_mem_free(m->mem, keys, cap * sizeof(uint64_t));
            return -1;
        }
        size_t n = 0;
        for (size_t i = 0; i < m->cap; i++)
            if (m->vals[i])
                map_insert(keys, vals, cap, m->keys[i], m->vals[i], &n);
        jfr_map_free(m);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
        m->n = n;
    }
    map_insert(m->keys, m->vals, m->cap, key, val, &m->n);
    return 0;
}

void jfr_map_free(jfr_map *m)
{
    jfr_mem_free(m->mem, m->keys, m->cap * sizeof(uint64_t));
    jfr_mem_free(m->mem, m->vals, m->cap * sizeof(uint64_t));
    m->keys = m->vals = NULL;
    m->cap = m->n = 0;
}
