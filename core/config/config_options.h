/* config_options: checks a component's options against its option table,
 * and prints option tables (`profpipe components`, README tables). */
#ifndef PROFPIPE_CONFIG_OPTIONS_H
#define PROFPIPE_CONFIG_OPTIONS_H

#include <stdio.h>

#include <profpipe/plugin.h>

#include "config.h"

/* Checks a component's options against `table` and, when non-NULL,
 * `extra` (options the host adds to every exporter): unknown keys, wrong
 * types, missing required keys, bad durations and sizes, recursively for
 * sections. Annotates the nodes so the cfg_* getters find defaults.
 * Returns the number of errors added. */
int config_check_options(config *c, config_component *comp, const pp_option *table,
                         const pp_option *extra);

/* Writes the option table for `profpipe components` (indent for nested
 * sections), or as a Markdown table for a component's README. */
void config_print_options(FILE *out, const pp_option *table, int indent);
void config_print_options_markdown(FILE *out, const pp_option *table);

#endif
