/* downsample_series: see downsample_series.h. Linear probing at a load
 * factor of at most one half. */
#include "downsample_series.h"

#include <stdlib.h>

#define SERIES_MIN_SLOTS 64             /* power of two */
#define HASH_MULT 0x9e3779b97f4a7c15ull /* 2^64 / golden ratio */

static size_t series_slot(uint64_t fp, size_t n_slots)
{
    return (size_t)((fp * HASH_MULT) >> 32) & (n_slots - 1);
}

static int series_grow(ds_series_map *m)
{
    size_t n = m->n_slots ? m->n_slots * 2 : SERIES_MIN_SLOTS;
    ds_series *slots = calloc(n, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < m->n_slots; i++) {
        if (!m->slots[i].used)
            continue;
        size_t j = series_slot(m->slots[i].fingerprint, n);
        while (slots[j].used)
            j = (j + 1) & (n - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->n_slots = n;
    return 0;
}

ds_series *ds_series_get(ds_series_map *m, uint64_t fingerprint)
{
    if ((m->n_used + 1) * 2 > m->n_slots && series_grow(m) != 0)
        return NULL;
    size_t j = series_slot(fingerprint, m->n_slots);
    for (; m->slots[j].used; j = (j + 1) & (m->n_slots - 1))
        if (m->slots[j].fingerprint == fingerprint)
            return &m->slots[j];
    m->slots[j] = (ds_series){.fingerprint = fingerprint, .used = 1};
    m->n_used++;
    return &m->slots[j];
}

void ds_series_free(ds_series_map *m, void (*free_window)(void *arg, pp_profile *p), void *arg)
{
    for (size_t i = 0; i < m->n_slots; i++)
        if (m->slots[i].used && m->slots[i].window)
            free_window(arg, m->slots[i].window);
    free(m->slots);
    m->slots = NULL;
    m->n_slots = m->n_used = 0;
}
