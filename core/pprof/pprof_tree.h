/* pprof_tree: lookups in a profile's decoded tree, string interning and
 * the profile family (pprof_tree.c). Signatures of the pp_host members of
 * the same names.
 *
 * - pprof_location/pprof_function follow arrays a processor replaced; an
 *   id edited in place is noticed when the old id is looked up.
 * - pprof_family cannot tell Go's mutex profile from its block profile
 *   (same sample types): like Pyroscope it answers "mutex"; a receiver
 *   that knows better (a sample_type_config naming `block_count`, a file
 *   named block) passes display names or sets `__name__` itself. The
 *   name is a static string; NULL when no rule fits. */
#ifndef PROFPIPE_PPROF_TREE_H
#define PROFPIPE_PPROF_TREE_H

#include <profpipe/plugin.h>

int64_t pprof_intern(pp_profile *p, const char *s);
int64_t pprof_intern_bytes(pp_profile *p, const char *s, size_t len);
size_t pprof_string_len(const pp_pprof *t, int64_t idx);
const pp_location *pprof_location(const pp_profile *p, uint64_t id);
const pp_function *pprof_function(const pp_profile *p, uint64_t id);
/* The same as array positions (-1: no such id), without the profile's
 * lock: for its owner while it edits the tree, when no reader shares it. */
long pprof_location_pos(pp_profile *p, uint64_t id);
long pprof_function_pos(pp_profile *p, uint64_t id);
const char *pprof_family(const pp_pprof *t);
const char *pprof_family_display(const pp_pprof *t, const char *const *display);

#endif
