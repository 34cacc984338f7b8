/* config_fill: the option table as a parser. */
#ifndef PROFPIPE_CONFIG_FILL_H
#define PROFPIPE_CONFIG_FILL_H

#include <profpipe/plugin.h>

/* Parses, checks and stores every option of `table` into
 * out (see pp_host.cfg_fill); 0, or -1 after reporting. */
int cfg_fill(const pp_config *c, const pp_option *table, void *out);

#endif
