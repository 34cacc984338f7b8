/* downsample_series: per-series state of the downsample processor, keyed
 * by the series labels' fingerprint: the keep_one_in counter and the
 * open window (the profile being merged into and when it opened).
 * An open-addressing hash map; entries are never removed (a series'
 * counter must survive between its profiles), so it grows with the
 * number of distinct series, as any per-series state does. */
#ifndef DOWNSAMPLE_SERIES_H
#define DOWNSAMPLE_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include <profpipe/plugin.h>

typedef struct ds_series {
    uint64_t fingerprint;
    uint64_t seen;      /* profiles seen, for keep_one_in */
    pp_profile *window; /* owned; NULL when no window is open */
    int64_t opened_ns;  /* wall clock when the window opened */
    size_t merged;      /* profiles merged into the window */
    pp_batch *acks;     /* owned, empty: holds the acks of the window's inputs */
    int used;
} ds_series;

typedef struct ds_series_map {
    ds_series *slots;
    size_t n_slots; /* power of two */
    size_t n_used;
} ds_series_map;

/* The series with this fingerprint, added if new; NULL when out of
 * memory. The pointer is valid until the next ds_series_get. */
ds_series *ds_series_get(ds_series_map *m, uint64_t fingerprint);
/* Frees the map; open windows are handed to free_window first. */
void ds_series_free(ds_series_map *m, void (*free_window)(void *arg, pp_profile *p), void *arg);

#endif
