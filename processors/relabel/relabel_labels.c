/* relabel_labels: see relabel_labels.h. Insertion order is kept so that
 * rules that iterate over labels (labelmap) see them in a stable order. */
#include "relabel_labels.h"

#include <stdlib.h>
#include <string.h>

enum { LABELS_INITIAL_CAP = 8 };

static void label_release(relabel_label *l)
{
    free(l->name);
    free(l->value);
    l->name = l->value = NULL;
}

void relabel_labels_clear(relabel_labels *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        label_release(&ls->items[i]);
    ls->n = 0;
}

void relabel_labels_free(relabel_labels *ls)
{
    relabel_labels_clear(ls);
    free(ls->items);
    ls->items = NULL;
    ls->cap = 0;
}

static long labels_find(const relabel_labels *ls, const char *name)
{
    for (size_t i = 0; i < ls->n; i++)
        if (strcmp(ls->items[i].name, name) == 0)
            return (long)i;
    return -1;
}

const char *relabel_labels_get(const relabel_labels *ls, const char *name)
{
    long i = labels_find(ls, name);
    return i < 0 ? NULL : ls->items[i].value;
}

void relabel_labels_remove_at(relabel_labels *ls, size_t i)
{
    label_release(&ls->items[i]);
    memmove(&ls->items[i], &ls->items[i + 1], (ls->n - i - 1) * sizeof ls->items[0]);
    ls->n--;
}

int relabel_labels_del(relabel_labels *ls, const char *name)
{
    long i = labels_find(ls, name);
    if (i < 0)
        return 0;
    relabel_labels_remove_at(ls, (size_t)i);
    return 1;
}

int relabel_labels_setn(relabel_labels *ls, const char *name, const char *value, size_t value_len)
{
    if (value_len == 0) {
        relabel_labels_del(ls, name);
        return 0;
    }
    char *v = strndup(value, value_len);
    if (!v)
        return -1;
    long i = labels_find(ls, name);
    if (i >= 0) {
        free(ls->items[i].value);
        ls->items[i].value = v;
        return 0;
    }
    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : LABELS_INITIAL_CAP;
        relabel_label *items = realloc(ls->items, cap * sizeof *items);
        if (!items) {
            free(v);
            return -1;
        }
        ls->items = items;
        ls->cap = cap;
    }
    char *n = strdup(name);
    if (!n) {
        free(v);
        return -1;
    }
    ls->items[ls->n].name = n;
    ls->items[ls->n].value = v;
    ls->n++;
    return 0;
}

int relabel_labels_set(relabel_labels *ls, const char *name, const char *value)
{
    return relabel_labels_setn(ls, name, value, strlen(value));
}

int relabel_labels_copy(relabel_labels *dst, const relabel_labels *src)
{
    relabel_labels_clear(dst);
    for (size_t i = 0; i < src->n; i++)
        if (relabel_labels_set(dst, src->items[i].name, src->items[i].value) != 0)
            return -1;
    return 0;
}
