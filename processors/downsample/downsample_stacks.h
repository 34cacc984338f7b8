/* downsample_stacks: the tree transformations of the downsample
 * processor, each keeping the totals of what it keeps:
 *  - ds_keep_sample_types: only the listed sample types stay;
 *  - ds_truncate_stacks: stacks deeper than N locations keep their N-1
 *    root-most locations under a `[truncated]` leaf;
 *  - ds_fold_small: a call-tree node (a frame, as function name, file and
 *    line, under its parent node) whose total is below a fraction of the
 *    profile's total is folded, with everything under it, into one
 *    `[other]` leaf under its parent.
 * All work on a tree from profile_tree_mut and leave equal stacks to be
 * summed by host->pprof_compact. Return 0, or -1 (out of memory). */
#ifndef DOWNSAMPLE_STACKS_H
#define DOWNSAMPLE_STACKS_H

#include <stddef.h>

#include <profpipe/plugin.h>

#define DS_FRAME_TRUNCATED "[truncated]"
#define DS_FRAME_OTHER "[other]"

/* How many of t's sample types are listed in types[]. */
size_t ds_count_listed_types(const pp_host *h, const pp_pprof *t, char *const *types,
                             size_t n_types);
/* 1 if some type is kept, 0 if none of the listed types is present (the
 * tree is left unchanged), -1 on error. */
int ds_keep_sample_types(const pp_host *h, pp_profile *p, pp_pprof *t, char *const *types,
                         size_t n_types);
int ds_truncate_stacks(const pp_host *h, pp_profile *p, pp_pprof *t, size_t max_depth);
int ds_fold_small(const pp_host *h, pp_profile *p, pp_pprof *t, double min_fraction);

/* The index of the sample type that fractions are computed on: the
 * default_sample_type if set and present, else the last one (what
 * `go tool pprof` shows by default). -1 if the tree has none. */
long ds_fraction_index(const pp_pprof *t);

#endif
