/* fileio: the two steps of writing a file so that it survives a crash,
 * which the spool and the file exporter both take: write every byte
 * (write() may write less, or be interrupted by a signal), and after
 * creating or renaming a file fsync its directory, without which the new
 * name itself may be lost (POSIX leaves it to the directory's fsync). */
#ifndef PROFPIPE_FILEIO_H
#define PROFPIPE_FILEIO_H

#include <stddef.h>

/* Writes all len bytes to fd, retrying short writes and EINTR. 0, or -1
 * with errno set (a write that makes no progress is an error: EIO). */
int fileio_write_all(int fd, const void *data, size_t len);

/* fsyncs the directory dir. 0, or -1 with errno set. */
int fileio_fsync_dir(const char *dir);

#endif
