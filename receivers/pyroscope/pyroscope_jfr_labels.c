/* pyroscope_jfr_labels: LabelsSnapshot decoding (see pyroscope_jfr_labels.h).
 * Map fields are repeated entry messages {key = 1, value = 2}. */
#include "pyroscope_jfr_labels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyroscope_jfr.h"
#include "pyroscope_jfr_mem.h"
#include "pyroscope_wire.h"

#define SNAPSHOT_CONTEXTS 1
#define SNAPSHOT_STRINGS 2
#define CONTEXT_LABELS 1
#define ENTRY_KEY 1
#define ENTRY_VALUE 2

struct jfr_labels {
    jfr_mem mem;
    jfr_arena arena;
    jfr_map strings;  /* id → char * */
    jfr_map contexts; /* id → context_rec * */
};

typedef struct context_rec {
    size_t n;
    int64_t pairs[]; /* name id, value id, ... */
} context_rec;

/* One map entry: its varint key, and its value as a varint or bytes. */
typedef struct entry {
    uint64_t key, num;
    const uint8_t *val;
    size_t len;
} entry;

static int read_entry(const uint8_t *data, size_t len, entry *e)
{
    pyro_wire w = {data, data + len};
    uint64_t field, num;
    const uint8_t *val;
    size_t vlen = 0;
    int more;
    memset(e, 0, sizeof(*e));
    while ((more = pyro_wire_next(&w, &field, &num, &val, &vlen)) > 0) {
        if (field == ENTRY_KEY && !val)
            e->key = num;
        else if (field == ENTRY_VALUE) {
            e->num = num;
            e->val = val;
            e->len = val ? vlen : 0;
        }
    }
    return more;
}

static int add_string(jfr_labels *l, const entry *e)
{
    char *s = jfr_arena_alloc(&l->arena, e->len + 1);
    if (!s)
        return -2;
    if (e->len)
        memcpy(s, e->val, e->len);
    return jfr_map_put(&l->strings, e->key, (uint64_t)(uintptr_t)s) < 0 ? -2 : 0;
}

static int add_context(jfr_labels *l, const entry *e)
{
    /* an entry without a value (`0a 00`, as protobuf writes an entry whose
     * key and Context are both empty) is an empty Context: no NULL + 0 */
    static const uint8_t none[1];
    const uint8_t *v = e->val ? e->val : none;
    pyro_wire w = {v, v + e->len};
    uint64_t field, num;
    const uint8_t *val;
    size_t vlen = 0, n = 0;
    int more;
    while ((more = pyro_wire_next(&w, &field, &num, &val, &vlen)) > 0)
        n += field == CONTEXT_LABELS && val;
    if (more < 0)
        return -1;
    context_rec *c = jfr_arena_alloc(&l->arena, sizeof(*c) + 2 * n * sizeof(int64_t));
    if (!c)
        return -2;
    w = (pyro_wire){v, v + e->len};
    while (pyro_wire_next(&w, &field, &num, &val, &vlen) > 0) {
        entry pair;
        if (field != CONTEXT_LABELS || !val)
            continue;
        if (read_entry(val, vlen, &pair) < 0)
            return -1;
        c->pairs[2 * c->n] = (int64_t)pair.key;
        c->pairs[2 * c->n + 1] = (int64_t)pair.num;
        c->n++;
    }
    return jfr_map_put(&l->contexts, e->key, (uint64_t)(uintptr_t)c) < 0 ? -2 : 0;
}

int jfr_labels_parse(const uint8_t *data, size_t len, size_t budget, jfr_labels **out, char *err,
                     size_t errlen)
{
    jfr_labels *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return JFR_ERR_MEMORY;
    }
    l->mem.budget = budget;
    l->arena.mem = l->strings.mem = l->contexts.mem = &l->mem;
    pyro_wire w = {data, data + len};
    uint64_t field, num;
    const uint8_t *val;
    size_t vlen = 0;
    int more, rc = 0;
    while (rc == 0 && (more = pyro_wire_next(&w, &field, &num, &val, &vlen)) > 0) {
        entry e;
        if (!val || (field != SNAPSHOT_CONTEXTS && field != SNAPSHOT_STRINGS))
            continue;
        rc = read_entry(val, vlen, &e) < 0 ? -1
             : field == SNAPSHOT_STRINGS   ? (e.val || !e.len ? add_string(l, &e) : -1)
                                           : add_context(l, &e);
    }
    if (rc == 0 && more < 0)
        rc = -1;
    if (rc < 0) {
        snprintf(err, errlen,
                 rc == -2 ? "needs more than %zu bytes of memory"
                          : "not a LabelsSnapshot protobuf (at byte %zu)",
                 rc == -2 ? budget : (size_t)(w.p - data));
        jfr_labels_free(l);
        return rc == -2 ? JFR_ERR_MEMORY : JFR_ERR_FORMAT;
    }
    *out = l;
    return 0;
}

void jfr_labels_free(jfr_labels *l)
{
    if (!l)
        return;
    jfr_map_free(&l->strings);
    jfr_map_free(&l->contexts);
    jfr_arena_free(&l->arena);
    free(l);
}

size_t jfr_labels_size(const jfr_labels *l)
{
    return l ? l->mem.used : 0;
}

const char *jfr_labels_string(const jfr_labels *l, int64_t id)
{
    return l ? (const char *)(uintptr_t)jfr_map_get(&l->strings, (uint64_t)id) : NULL;
}

const int64_t *jfr_labels_context(const jfr_labels *l, int64_t id, size_t *n)
{
    const context_rec *c =
        l ? (const context_rec *)(uintptr_t)jfr_map_get(&l->contexts, (uint64_t)id) : NULL;
    *n = c ? c->n : 0;
    return c ? c->pairs : NULL;
}
