/* config_same: what a reload compares between the old and the new option
 * trees of a component. */
#ifndef PROFPIPE_CONFIG_SAME_H
#define PROFPIPE_CONFIG_SAME_H

#include <profpipe/plugin.h>

/* 1 if two option trees hold the same keys and values (after ${env:}
 * expansion), in the same order. */
int config_same(const pp_config *a, const pp_config *b);
/* 1 if the tree names a file to read (a key ending in `_file`: TLS
 * certificates and keys, secrets), whose content a reload must read
 * again. */
int config_reads_files(const pp_config *c);

#endif
