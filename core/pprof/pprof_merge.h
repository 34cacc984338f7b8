/* pprof_merge: adds src's samples into dst (pprof_merge.c). The pp_host
 * member of the same name. dst may be left partly merged when memory runs
 * out; incompatible profiles are refused before dst is touched. */
#ifndef PROFPIPE_PPROF_MERGE_H
#define PROFPIPE_PPROF_MERGE_H

#include <profpipe/plugin.h>

int pprof_merge(pp_profile *dst, pp_profile *src, char *err, size_t errlen);

#endif
