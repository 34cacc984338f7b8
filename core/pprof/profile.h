/* profile: one pprof profile with its series labels and time window, and
 * its payload in two forms, raw bytes and decoded tree, each made from the
 * other on demand (profile.c). Every function here has the signature of
 * the pp_host member of the same name minus the prefix noted in plugin.h;
 * host.c puts them in the table.
 *
 * The rest of the pprof room has a header per module: pprof_tree.h
 * (lookups, interning, family), pprof_codec.h (decode, validate, scan,
 * encode), pprof_compact.h, pprof_merge.h, gz.h and push_codec.h; the
 * room's internals are in pprof_internal.h, which nothing outside
 * core/pprof includes.
 *
 * Semantics beyond plugin.h:
 * - profile_label_set with an empty value deletes the label (Prometheus:
 *   an empty label is an absent one); a NULL or empty name is -1.
 * - Threads: the owner changes a profile; any number of threads may read
 *   an emitted one at once (profile_tree, profile_raw_gz, profile_size,
 *   profile_clone, pprof_location, pprof_function), their lazy fills
 *   being serialized by a per-profile lock. Clones share the raw bytes. */
#ifndef PROFPIPE_PROFILE_H
#define PROFPIPE_PROFILE_H

#include <profpipe/plugin.h>

#include "fnv.h"

/* Upper bound on a decompressed pprof (gzip bombs). */
#define PROFILE_MAX_DECOMPRESSED ((size_t)512 << 20)

pp_profile *profile_new(void);
void profile_free(pp_profile *p);
pp_profile *profile_clone(const pp_profile *p);

size_t profile_label_count(const pp_profile *p);
const char *profile_label_name(const pp_profile *p, size_t i);
const char *profile_label_value(const pp_profile *p, size_t i);
const char *profile_label_get(const pp_profile *p, const char *name);
int profile_label_set(pp_profile *p, const char *name, const char *value);
int profile_label_del(pp_profile *p, const char *name);
uint64_t profile_labels_fingerprint(const pp_profile *p);

int64_t profile_from(const pp_profile *p);
int64_t profile_until(const pp_profile *p);
void profile_set_window(pp_profile *p, int64_t from_ns, int64_t until_ns);

int profile_set_raw(pp_profile *p, const void *data, size_t len);
/* profile_set_raw taking a malloc'd block instead of copying it (freed on
 * failure too). */
int profile_adopt_raw(pp_profile *p, void *data, size_t len);
int profile_raw_gz(pp_profile *p, const uint8_t **data, size_t *len, char *err, size_t errlen);
size_t profile_size(const pp_profile *p);
const pp_pprof *profile_tree(pp_profile *p, char *err, size_t errlen);
/* Bytes the profile holds now, for queue and memory accounting: the
 * object and its labels, the raw bytes (counted whole even when a clone
 * shares them) and, when decoded, the tree's arena and lookup caches. */
size_t profile_charge(const pp_profile *p);
/* Frees the decoded tree when the raw bytes can give it back (a tree that
 * is the only form, or was changed, stays). Only the profile's one holder
 * may call it: no one else may hold a pointer into the tree. Returns the
 * bytes freed. */
size_t profile_shed_tree(pp_profile *p);
pp_pprof *profile_tree_mut(pp_profile *p, char *err, size_t errlen);
pp_pprof *profile_tree_new(pp_profile *p);

void *profile_alloc(pp_profile *p, size_t size);
/* The bytes a profile object takes besides its payload, labels and tree
 * (what a cache of profiles charges per entry). */
size_t profile_overhead(void);

/* 64-bit FNV-1a, continued from h (start with PPROF_FNV_OFFSET): stable
 * across runs and machines, for fingerprints (tables use wordhash.h). */
#define PPROF_FNV_OFFSET FNV_OFFSET
uint64_t pprof_fnv1a(uint64_t h, const void *data, size_t len);

#endif
