/* pprof_internal: the profile object's layout and the codec entry points
 * shared by profile.c, pprof_decode.c, pprof_encode.c, pprof_tree.c,
 * pprof_merge.c and push_codec.c. Not for components: they see pp_profile
 * as opaque through plugin.h. */
#ifndef PROFPIPE_PPROF_INTERNAL_H
#define PROFPIPE_PPROF_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "arena.h"
#include "fnv.h"
#include "profile.h"

/* Immutable payload bytes shared by a profile and its clones, possibly on
 * different threads: only the reference count ever changes. */
typedef struct raw_buf {
    atomic_size_t refs;
    size_t len;
    int gz;        /* starts with the gzip magic */
    uint8_t *data; /* owned, malloc'd */
} raw_buf;

typedef struct profile_label {
    char *name;  /* owned */
    char *value; /* owned */
} profile_label;

/* Maps ids to array positions for one of the tree's id'd arrays. Rebuilt
 * when the array it was built for changed (pointer or length), so that it
 * stays right after a processor replaces the array. */
typedef struct id_index {
    const void *built_for; /* array pointer it was built from */
    size_t built_n;
    uint64_t *ids; /* open addressing, 0 = empty slot; malloc'd */
    size_t *pos;
    size_t n_slots; /* power of two */
    int dense;      /* ids are 1..n in order: no table needed */
} id_index;

/* String -> index map of the tree's string table, built on first intern. */
typedef struct intern_map {
    const char **built_for; /* tree strings pointer it knows */
    size_t built_n;
    size_t strings_cap; /* capacity of built_for when we allocated it */
    uint32_t *slots;    /* string index + 1; 0 = empty; malloc'd */
    size_t n_slots;
} intern_map;

/* The byte lengths of a tree's strings that hold NUL bytes (plugin.h's
 * pp_pprof.string_lens). Entry i speaks for strings[i] only while
 * items[i].ptr is that very pointer: an entry left behind by a string that
 * was replaced or moved is never believed, and every other string's length
 * is its strlen(). Made on the first such string, so a profile without one
 * (nearly all) pays nothing. Lives in the tree's arena. */
typedef struct pprof_str_entry {
    const char *ptr;
    size_t len;
} pprof_str_entry;

struct pp_string_lens {
    pprof_str_entry *items;
    size_t n; /* entries, all usable */
};

/* Byte length of t->strings[i] (i must be in range). */
size_t pprof_str_len(const pp_pprof *t, size_t i);
/* Records that t->strings[i] is len bytes long (it holds a NUL byte).
 * 0 or -1 (memory). */
int pprof_str_len_set(arena *a, pp_pprof *t, size_t i, size_t len);
/* 1 if string ia of ta and string ib of tb are the same bytes. Indices out
 * of range read as "". */
int pprof_str_eq(const pp_pprof *ta, int64_t ia, const pp_pprof *tb, int64_t ib);

/* Threads: a profile is changed only by its one owner, but once emitted it
 * may be read by several pipelines at once, and reading is lazy (decode,
 * encode, index building fill caches). `lock` serializes those cache fills;
 * the owner-only mutators (labels, set_raw, tree_mut edits) need no lock. */
struct pp_profile {
    pthread_mutex_t lock;
    profile_label *labels; /* sorted by name, names unique */
    size_t n_labels, cap_labels;
    int64_t from_ns, until_ns;
    raw_buf *raw; /* shared, may be NULL */
    int has_tree;
    pp_pprof tree; /* arrays live in `mem` */
    arena mem;
    intern_map intern;
    id_index loc_index, fn_index;
};

/* Starts with the gzip magic bytes. */
int gz_is_gzip(const void *data, size_t len);

/* Raw buffers. */
raw_buf *raw_buf_new(const void *data, size_t len);
/* Takes ownership of a malloc'd block (freed on failure too). */
raw_buf *raw_buf_adopt(uint8_t *data, size_t len);
raw_buf *raw_buf_ref(raw_buf *b);
void raw_buf_unref(raw_buf *b);

/* Decodes a plain (not gzip'd) serialized pprof into *out, allocating in a.
 * Validates everything the profile's consumers rely on: string indices,
 * value counts, ids and references. 0, or -1 with the reason. */
int pprof_decode(arena *a, const uint8_t *data, size_t len, pp_pprof *out, char *err,
                 size_t errlen);
/* The structural checks of pprof_decode, for trees built elsewhere. */
int pprof_validate(const pp_pprof *t, char *err, size_t errlen);
/* Decodes gzip'd or plain bytes (detected by the gzip magic). */
int pprof_decode_any(arena *a, const uint8_t *data, size_t len, pp_pprof *out, char *err,
                     size_t errlen);
/* Reads only time_nanos and duration_nanos of gzip'd or plain bytes,
 * checking the top-level wire format. 0 or -1. */
int pprof_scan_time(const uint8_t *data, size_t len, int64_t *time_nanos, int64_t *duration_nanos,
                    char *err, size_t errlen);
/* Serializes t (plain protobuf) into a malloc'd buffer. 0 or -1 (memory). */
int pprof_encode(const pp_pprof *t, uint8_t **out, size_t *out_len);

/* 64-bit FNV-1a, continued from h (start with PPROF_FNV_OFFSET): stable
 * across runs and machines, for fingerprints and hash tables alike. */
#define PPROF_FNV_OFFSET FNV_OFFSET
uint64_t pprof_fnv1a(uint64_t h, const void *data, size_t len);

/* qsort orderings: labels by (key, str, num, num_unit); uint64_t ids. */
int pprof_label_cmp(const void *a, const void *b);
int pprof_u64_cmp(const void *a, const void *b);

/* Saturating int64 arithmetic for sums of sample values and durations:
 * a result out of range sticks at INT64_MAX or INT64_MIN. Go's pprof wraps
 * instead, which turns a huge total negative; C's signed overflow is
 * undefined behaviour. */
static inline int64_t pprof_add_sat(int64_t a, int64_t b)
{
    int64_t r;
    if (!__builtin_add_overflow(a, b, &r))
        return r;
    return b > 0 ? INT64_MAX : INT64_MIN;
}

/* dst->values[i] += src->values[i] (saturating) for the values both have. */
void pprof_sample_add(pp_sample *dst, const pp_sample *src);

/* Removes the samples whose values are all zero (pprof does after a merge
 * or compaction: they weigh nothing). */
void pprof_drop_zero_samples(pp_pprof *t);

/* Forgets caches that depend on the tree (intern map, id indexes). */
void pprof_caches_reset(pp_profile *p);

int pprof_errorf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
