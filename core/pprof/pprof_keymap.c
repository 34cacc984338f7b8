/* pprof_keymap: see pprof_keymap.h. The table stays at most half full, so
 * probes are short; the hash is wordhash.h's, 8 key bytes per step. */
#include "pprof_keymap.h"
#include "pprof_internal.h"
#include "wordhash.h"

#include <stdlib.h>
#include <string.h>

#define KEYMAP_MIN_SLOTS 64
#define KEY_MIN_CAP 256

static uint64_t key_hash(const void *key, size_t len)
{
    return wordhash_finish(wordhash(WORDHASH_SEED, key, len));
}

int keymap_init(keymap *m, size_t expected)
{
    memset(m, 0, sizeof(*m));
    arena_init(&m->keys);
    m->n_slots = KEYMAP_MIN_SLOTS;
    while (m->n_slots < expected * 2)
        m->n_slots *= 2;
    m->slots = calloc(m->n_slots, sizeof(*m->slots));
    return m->slots ? 0 : -1;
}

void keymap_free(keymap *m)
{
    free(m->slots);
    arena_free(&m->keys);
    memset(m, 0, sizeof(*m));
}

static keymap_slot *keymap_probe(keymap_slot *slots, size_t n_slots, const void *key, size_t len,
                                 uint64_t hash)
{
    size_t i = (size_t)hash & (n_slots - 1);
    while (slots[i].key) {
        if (slots[i].hash == hash && slots[i].len == len && memcmp(slots[i].key, key, len) == 0)
            break;
        i = (i + 1) & (n_slots - 1);
    }
    return &slots[i];
}

int keymap_get(const keymap *m, const void *key, size_t len, uint64_t *value)
{
    keymap_slot *s = keymap_probe(m->slots, m->n_slots, key, len, key_hash(key, len));
    if (!s->key)
        return 0;
    *value = s->value;
    return 1;
}

static int keymap_grow(keymap *m)
{
    size_t n = m->n_slots * 2;
    keymap_slot *slots = calloc(n, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i < m->n_slots; i++) {
        if (!m->slots[i].key)
            continue;
        keymap_slot *s = keymap_probe(slots, n, m->slots[i].key, m->slots[i].len, m->slots[i].hash);
        *s = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->n_slots = n;
    return 0;
}

int keymap_put(keymap *m, const void *key, size_t len, uint64_t value)
{
    if ((m->count + 1) * 2 > m->n_slots && keymap_grow(m) < 0)
        return -1;
    uint64_t hash = key_hash(key, len);
    keymap_slot *s = keymap_probe(m->slots, m->n_slots, key, len, hash);
    if (!s->key) {
        uint8_t *copy = arena_alloc(&m->keys, len);
        if (!copy)
            return -1;
        memcpy(copy, key, len);
        s->key = copy;
        s->len = len;
        s->hash = hash;
        m->count++;
    }
    s->value = value;
    return 0;
}

static void key_append(key_buf *k, const void *data, size_t len)
{
    if (k->failed)
        return;
    if (k->cap - k->len < len) {
        size_t cap = k->cap ? k->cap : KEY_MIN_CAP;
        while (cap - k->len < len)
            cap *= 2;
        uint8_t *nd = realloc(k->data, cap);
        if (!nd) {
            k->failed = 1;
            return;
        }
        k->data = nd;
        k->cap = cap;
    }
    memcpy(k->data + k->len, data, len);
    k->len += len;
}

void key_reset(key_buf *k)
{
    k->len = 0;
}

void key_u64(key_buf *k, uint64_t v)
{
    key_append(k, &v, sizeof(v));
}

void key_bytes(key_buf *k, const char *s, size_t len)
{
    key_u64(k, len);
    key_append(k, s, len);
}

void key_buf_free(key_buf *k)
{
    free(k->data);
    memset(k, 0, sizeof(*k));
}

/* The identity of a sample: its stack and its labels (sorted by the caller). */
void pprof_sample_key(key_buf *k, const uint64_t *locs, size_t n_locs, const pp_label *labels,
                      size_t n_labels)
{
    key_reset(k);
    key_u64(k, n_locs);
    for (size_t i = 0; i < n_locs; i++)
        key_u64(k, locs[i]);
    for (size_t i = 0; i < n_labels; i++) {
        key_u64(k, (uint64_t)labels[i].key);
        key_u64(k, (uint64_t)labels[i].str);
        key_u64(k, (uint64_t)labels[i].num);
        key_u64(k, (uint64_t)labels[i].num_unit);
    }
}
