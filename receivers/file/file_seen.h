/* file_seen: the file receiver's memory of the files it has read.
 *
 * A file is identified by its path and remembered with the identity of the
 * version that was read (inode, size, mtime). A file whose identity changes
 * (rewritten, replaced by rename) counts as new and is read again. Each scan
 * marks the paths it still sees; seen_sweep() then forgets the others, so
 * memory follows what is on disk, not everything ever read.
 *
 * A set is used only by its receiver's own thread: no locking, except
 * for the parking table below. */
#ifndef FILE_SEEN_H
#define FILE_SEEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct seen_version {
    uint64_t dev;
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
/* Forgets one path (its profile was dropped: read it again). */
void seen_forget(seen_set *s, const char *path);
/* Forgets the paths the current scan did not mark; returns how many of
 * them were finished (so the saved state changed). */
size_t seen_sweep(seen_set *s);
size_t seen_count(const seen_set *s);

/* Finished: its profile was acknowledged by every pipeline (or the file
 * was bad, and is skipped until rewritten). Only finished entries are
 * saved across a restart. 1 if `path` is known in version v and was not
 * finished yet, else 0. */
int seen_finish(seen_set *s, const char *path, const seen_version *v);
/* A rotated file: the path of an entry in exactly version v (same device,
 * inode, size and mtime) under another name, and whether it is finished;
 * NULL if none. Linear in the set: called only for paths not known. */
const char *seen_find_moved(const seen_set *s, const char *path, const seen_version *v,
                            int *finished);
/* Calls fn for every finished entry. */
void seen_each_finished(const seen_set *s,
                        void (*fn)(void *arg, const char *path, const seen_version *v), void *arg);

/* Hand-over across a config reload: an instance parks its set under its
 * component id when it stops, and the next instance with that id adopts
 * it when it starts, so SIGHUP does not read a folder again. A parked set
 * stays parked until adopted, whatever is destroyed in between: a reload
 * whose new config fails to start destroys the old instance before the
 * old config is built and started again, and that one must still adopt
 * it. (A set whose id never comes back is held, reachable, until exit: one
 * per component id ever used.) Both lock a process-wide table; any thread
 * may call them. */
void seen_park(const char *id, seen_set *s); /* takes ownership of s */
seen_set *seen_adopt(const char *id);        /* NULL if none parked */

#endif
