/* pprof_compact: drops what no sample references and merges duplicate
 * functions, locations and samples in a profile's tree (pprof_compact.c).
 * The pp_host member of the same name. */
#ifndef PROFPIPE_PPROF_COMPACT_H
#define PROFPIPE_PPROF_COMPACT_H

#include <profpipe/plugin.h>

int pprof_compact(pp_profile *p);

#endif
