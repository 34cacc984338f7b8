/* config_same: whether two option trees say the same thing, so that a
 * reload can keep a component whose options did not change. Values are
 * compared after ${env:} expansion; a mapping's keys in their order (a
 * reordered block counts as changed: the component is replaced, which is
 * always safe). A component that reads a file named in its options
 * (`*_file`: certificates, keys, passwords) is replaced even when the text
 * is the same, so that a SIGHUP reads rotated certificates and secrets. */
#include <string.h>

#include "config_same.h"
#include "config_internal.h"

static int same_text(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

int config_same(const pp_config *a, const pp_config *b)
{
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind || a->is_null != b->is_null || a->n != b->n ||
        !same_text(a->text, b->text))
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        if (a->keys && b->keys && !config_same(a->keys[i], b->keys[i]))
            return 0;
        if ((a->keys == NULL) != (b->keys == NULL) || !config_same(a->items[i], b->items[i]))
            return 0;
    }
    return 1;
}

int config_reads_files(const pp_config *c)
{
    if (!c)
        return 0;
    for (size_t i = 0; i < c->n; i++) {
        const char *key = c->keys ? c->keys[i]->text : NULL;
        size_t n = key ? strlen(key) : 0;
        if (n >= 5 && strcmp(key + n - 5, "_file") == 0)
            return 1;
        if (config_reads_files(c->items[i]))
            return 1;
    }
    return 0;
}
