/* file_seen: the file receiver's memory of the files it has read.
 *
 * A file is identified by its path and remembered with the identity of the
 * version that was read (inode, size, mtime). A file whose identity changes
 * (rewritten, replaced by rename) counts as new and is read again. Each scan
 * marks the paths it still sees; seen_sweep() then forgets the others, so
 * memory follows what is on disk, not everything ever read.
 *
 * Used only by the receiver's own thread: no locking. */
#ifndef FILE_SEEN_H
#define FILE_SEEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct seen_version {
    uint64_t ino;
    int64_t size;
    int64_t mtime_ns;
} seen_version;

typedef struct seen_set seen_set;

seen_set *seen_new(void);
void seen_free(seen_set *s);

/* Starts a scan: paths not marked until the next seen_sweep() are forgotten. */
void seen_begin_scan(seen_set *s);
/* 1 if `path` was read in exactly version `v` (and marks it for this scan),
 * else 0. */
int seen_check(seen_set *s, const char *path, const seen_version *v);
/* Remembers `path` as read in version `v` (copies path). 0, or -1 when out
 * of memory. */
int seen_record(seen_set *s, const char *path, const seen_version *v);
/* Forgets the paths the current scan did not mark. */
void seen_sweep(seen_set *s);
size_t seen_count(const seen_set *s);

#endif
