/* relabel_labels: the small mutable label set the relabel rules work on.
 *
 * The same rules run on a profile's series labels and on each pprof
 * sample's string labels, so they work on this neutral form: a short
 * array of owned name/value strings in insertion order, looked up by a
 * linear scan (label sets hold a handful of labels; a scan beats a hash
 * at that size). Setting an empty value deletes the label, as in
 * Prometheus' label builder. */
#ifndef RELABEL_LABELS_H
#define RELABEL_LABELS_H

#include <stddef.h>

typedef struct relabel_label {
    char *name;  /* owned */
    char *value; /* owned, never empty */
} relabel_label;

typedef struct relabel_labels {
    relabel_label *items;
    size_t n;
    size_t cap;
} relabel_labels;

/* Empties the set, keeping its storage for reuse. */
void relabel_labels_clear(relabel_labels *ls);
void relabel_labels_free(relabel_labels *ls);
/* The value of `name`, or NULL if absent. Borrowed from the set. */
const char *relabel_labels_get(const relabel_labels *ls, const char *name);
/* Sets name=value (copies both); an empty value deletes. 0 or -1 (OOM). */
int relabel_labels_set(relabel_labels *ls, const char *name, const char *value);
/* Same with a value that is not NUL-terminated. */
int relabel_labels_setn(relabel_labels *ls, const char *name, const char *value, size_t value_len);
/* Removes `name`; 1 if it was there, 0 if not. */
int relabel_labels_del(relabel_labels *ls, const char *name);
/* Removes item i (keeps the order of the rest). */
void relabel_labels_remove_at(relabel_labels *ls, size_t i);
/* Deep copy of src into dst (dst cleared first). 0 or -1. */
int relabel_labels_copy(relabel_labels *dst, const relabel_labels *src);

#endif
