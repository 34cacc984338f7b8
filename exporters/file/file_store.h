/* file_store: the file exporter's files on disk: safe names, atomic
 * writes, and the retention list that deletes the oldest files first.
 *
 * Layout under the root: <service>/<family>/<from>-<until>-<fp>[-N].pb.gz.
 * A profile is written to `.tmp-<name>` in its final folder and renamed
 * into place without replacing anything (RENAME_NOREPLACE), so a reader or a
 * crash never sees a partial profile and two profiles with the same window
 * and labels both survive (the second gets `-1`, the next `-2`, ...). */
#ifndef FILE_STORE_H
#define FILE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "text.h"

/* Longest path component made from a label value. */
#define STORE_MAX_COMPONENT 100
#define STORE_SUFFIX ".pb.gz"
#define STORE_TMP_PREFIX ".tmp-"

/* Makes a label value safe as one path component: bytes outside
 * [A-Za-z0-9._-] become '_', a leading '.' becomes '_' (no `..`, no hidden
 * files), empty becomes "_", cut at STORE_MAX_COMPONENT bytes. */
void store_sanitize(const char *value, char *out, size_t outlen);

/* out = "a/b"; -1 if it does not fit. */
int store_join(char *out, size_t outlen, const char *a, const char *b);

/* mkdir -p. 0, or -1 with the reason in err. */
int store_mkdirs(const char *dir, char *err, size_t errlen);

/* Where the `-N` search for a free name starts, per folder and base
 * name: the suffix after the last one this exporter took. Without it the
 * 3,000th profile with one window and labels would try 3,000 names. A
 * fixed direct-mapped table of hashed keys (no allocation, bounded): a
 * name whose slot another took starts from the bare name again, and a
 * stale or shared slot can only skip names, never reuse one, since the
 * rename itself refuses to replace a file. */
#define STORE_NAME_SLOTS 1024
typedef struct store_names {
    uint64_t key[STORE_NAME_SLOTS]; /* hash of dir/base; 0 = empty */
    uint32_t next[STORE_NAME_SLOTS];
} store_names;

/* Writes data as `dir/<base>.pb.gz` (or `<base>-N.pb.gz` if taken)
 * atomically; with do_fsync, the file and then the folder are synced.
 * Puts the final file name (without dir) in name. `names` (or NULL)
 * remembers the suffixes taken. 0, or -1 with the reason in err (errno
 * is kept for the caller). */
int store_write(store_names *names, const char *dir, const char *base, const void *data, size_t len,
                int do_fsync, char *name, size_t namelen, char *err, size_t errlen);

/* ---- retention ---- */

typedef struct store_file {
    char *relpath; /* under the root */
    int64_t size;
    int64_t mtime_ns;
} store_file;

/* The files under the root, oldest first. */
typedef struct store_list {
    store_file *files;
    size_t head, count, cap; /* live files are files[head .. head+count) */
    int64_t total_size;
} store_list;

void store_list_free(store_list *l);
/* Adds a newly written file (the newest). 0 or -1. */
int store_list_add(store_list *l, const char *relpath, int64_t size, int64_t mtime_ns);
/* Fills an empty list from the files under root (two folder levels),
 * sorted by mtime, and deletes temp files a crash left behind. 0 or -1. */
int store_list_scan(store_list *l, const char *root, char *err, size_t errlen);
/* Deletes the oldest files while the total exceeds max_total (0: no
 * limit) or a file is older than max_age_ns (0: no limit), always keeping
 * the newest file. Returns the number of files deleted. */
size_t store_retain(store_list *l, const char *root, int64_t max_total, int64_t max_age_ns,
                    int64_t now_ns);

#endif
