/* pprof_keymap: a hash map from byte-string keys to 64-bit values, for
 * pprof_merge, which identifies functions, mappings, locations and samples
 * by content across two profiles whose ids differ (compaction, within one
 * profile, compares samples in place: pprof_compact.c). Keys are copied into the map's own
 * arena; open addressing with linear probing; no deletion (not needed). */
#ifndef PROFPIPE_PPROF_KEYMAP_H
#define PROFPIPE_PPROF_KEYMAP_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include <profpipe/plugin.h>

typedef struct keymap_slot {
    const uint8_t *key; /* NULL = empty */
    size_t len;
    uint64_t hash;
    uint64_t value;
} keymap_slot;

typedef struct keymap {
    keymap_slot *slots; /* malloc'd */
    size_t n_slots, count;
    arena keys;
} keymap;

/* A growable byte buffer to build keys in (malloc'd, reused). */
typedef struct key_buf {
    uint8_t *data;
    size_t len, cap;
    int failed;
} key_buf;

int keymap_init(keymap *m, size_t expected);
void keymap_free(keymap *m);
/* 1 and *value if present, 0 if not. */
int keymap_get(const keymap *m, const void *key, size_t len, uint64_t *value);
/* Sets key to value (copying the key). 0 or -1 (memory). */
int keymap_put(keymap *m, const void *key, size_t len, uint64_t value);

void key_reset(key_buf *k);
void key_u64(key_buf *k, uint64_t v);
/* Appends len bytes with their length, so that ("ab","c") != ("a","bc"). */
void key_bytes(key_buf *k, const char *s, size_t len);
void key_buf_free(key_buf *k);

/* The identity of a sample: its stack and its labels, which the caller has
 * sorted with pprof_label_cmp. */
void pprof_sample_key(key_buf *k, const uint64_t *locs, size_t n_locs, const pp_label *labels,
                      size_t n_labels);

#endif
