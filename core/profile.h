/* profile: one pprof profile with its series labels and time window, and
 * the lazy codec between its two payload forms (raw bytes, decoded tree).
 * Every function here has the signature of the pp_host member of the same
 * name minus the prefix noted in plugin.h; host.c puts them in the table.
 *
 * Implemented by profile.c (object, labels, payload), pprof_decode.c and
 * pprof_validate.c (bytes -> tree), pprof_encode.c (tree -> bytes),
 * pprof_tree.c (lookups, intern, family), pprof_compact.c, pprof_merge.c,
 * gz.c and push_codec.c; internals in pprof_internal.h.
 *
 * Semantics beyond plugin.h:
 * - profile_label_set with an empty value deletes the label (Prometheus:
 *   an empty label is an absent one); a NULL or empty name is -1.
 * - Threads: the owner changes a profile; any number of threads may read
 *   an emitted one at once (profile_tree, profile_raw_gz, profile_size,
 *   profile_clone, pprof_location, pprof_function), their lazy fills
 *   being serialized by a per-profile lock. Clones share the raw bytes.
 * - pprof_location/pprof_function follow arrays a processor replaced; an id
 *   edited in place is noticed when the old id is looked up.
 * - pprof_merge may leave dst partly merged when it fails for lack of
 *   memory; incompatible profiles are refused before dst is touched.
 * - pprof_family cannot tell Go's mutex profile from its block profile
 *   (same sample types): like Pyroscope it answers "mutex"; a receiver
 *   that knows better (a sample_type_config naming `block_count`, a file
 *   named block) passes display names or sets `__name__` itself. The
 *   name is a static string; NULL when no rule fits. */
#ifndef PROFPIPE_PROFILE_H
#define PROFPIPE_PROFILE_H

#include <profpipe/plugin.h>

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
int64_t pprof_intern(pp_profile *p, const char *s);
int64_t pprof_intern_bytes(pp_profile *p, const char *s, size_t len);
size_t pprof_string_len(const pp_pprof *t, int64_t idx);
const pp_location *pprof_location(const pp_profile *p, uint64_t id);
const pp_function *pprof_function(const pp_profile *p, uint64_t id);
int pprof_compact(pp_profile *p);
int pprof_merge(pp_profile *dst, pp_profile *src, char *err, size_t errlen);
const char *pprof_family(const pp_pprof *t);
const char *pprof_family_display(const pp_pprof *t, const char *const *display);

int gz_gunzip(const void *in, size_t in_len, size_t max_out, uint8_t **out, size_t *out_len,
              char *err, size_t errlen);
int gz_gzip(const void *in, size_t in_len, uint8_t **out, size_t *out_len);

int push_encode(pp_profile *const *profiles, size_t n, uint8_t **out, size_t *out_len, char *err,
                size_t errlen);
/* push_decode needs batch_add: it is given the function to call, so the
 * codec does not depend on the batch module. It returns PP_PUSH_BAD_PROFILE
 * when the request is a PushRequest but one of its raw profiles is not a
 * readable pprof, -1 for any other failure. */
int push_decode(const void *data, size_t len, pp_batch *into, int (*add)(pp_batch *, pp_profile *),
                char *err, size_t errlen);

#endif
