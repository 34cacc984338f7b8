/* fileio: the two steps of writing a file so that it survives a crash,
 * which the spool and the file exporter both take: write every byte
 * (write() may write less, or be interrupted by a signal), and after
 * creating or renaming a file fsync its directory, without which the new
 * name itself may be lost (POSIX leaves it to the directory's fsync).
 * And the read of a whole small file (a config), bounded; and the
 * atomic replacement of a small file (the file receiver's state). */
#ifndef PROFPIPE_FILEIO_H
#define PROFPIPE_FILEIO_H

#include <stddef.h>

/* Writes all len bytes to fd, retrying short writes and EINTR. 0, or -1
 * with errno set (a write that makes no progress is an error: EIO). */
int fileio_write_all(int fd, const void *data, size_t len);

/* fsyncs the directory dir. 0, or -1 with errno set. */
int fileio_fsync_dir(const char *dir);

/* Reads the whole file at path, at most max_bytes, into a malloc'd buffer
 * (the caller's) with a NUL after its *len bytes. NULL with errno: the
 * open's, EFBIG when the file is larger than max_bytes, ENOMEM, or EIO
 * when it cannot be sized or read whole (a pipe, a directory). */
char *fileio_read_all(const char *path, size_t max_bytes, size_t *len);

/* read() until len bytes or end of file (EINTR retried); the bytes read. */
size_t fileio_read_full(int fd, void *buf, size_t len);

/* Replaces the file at path with data atomically and durably: the bytes
 * go to a temporary file beside it (same directory, so same filesystem;
 * its name carries the pid, so two processes pointed at one directory by
 * mistake do not write into each other's), which is fsync'd, renamed over
 * path, and the directory fsync'd so that the rename itself survives a
 * power loss. A reader, or a restart after SIGKILL, sees the old content
 * or the new, whole. 0, or -1 with the reason (naming the step and the
 * path) in err; a temporary file left by a failure is removed. */
int fileio_replace(const char *path, const void *data, size_t len, char *err, size_t errlen);

#endif
