/* durable: replace a file atomically and durably.
 *
 * The bytes go to a temporary file beside the target (same directory, so
 * same filesystem), which is fsync'd, renamed over the target, and the
 * directory fsync'd so that the rename itself survives a power loss. A
 * reader (or a restart after SIGKILL) sees the old content or the new,
 * whole. */
#ifndef PP_DURABLE_H
#define PP_DURABLE_H

#include <stddef.h>

/* 0, or -1 with the reason (naming the step and the path) in err; a
 * temporary file left by a failure is removed. */
int durable_replace(const char *path, const void *data, size_t len, char *err, size_t errlen);
/* fsync of a directory (after creating, renaming or removing in it). */
int durable_fsync_dir(const char *dir);
/* write() until all of data is written (EINTR retried). 0 or -1 (errno). */
int durable_write_all(int fd, const void *data, size_t len);
/* read() until len bytes or end of file (EINTR retried); the bytes read. */
size_t durable_read_full(int fd, void *buf, size_t len);

#endif
