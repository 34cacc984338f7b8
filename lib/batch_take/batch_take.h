/* batch_take: a processor that rewrites its batch profile by profile
 * (merging some away, splitting others, dropping a few) first takes every
 * profile out, then adds back what it keeps, in the order it was given.
 * This is that first step, written once. */
#ifndef PROFPIPE_BATCH_TAKE_H
#define PROFPIPE_BATCH_TAKE_H

#include <stddef.h>

#include <profpipe/plugin.h>

/* Takes every profile out of `in` (left empty, still the caller's) into a
 * new array, in the batch's order; *n is how many. The caller owns the
 * array (free()) and each profile in it. NULL when out of memory: then
 * `in` is unchanged. */
pp_profile **batch_take_all(const pp_host *h, pp_batch *in, size_t *n);

#endif
