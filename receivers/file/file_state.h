/* file_state: what the file receiver keeps across a restart, under its
 * `storage` directory.
 *
 * The state file lists the files whose profiles were acknowledged (every
 * pipeline done with them) or that were bad, each with the identity of the
 * version read: device, inode, size, mtime. After a restart a file in
 * exactly that version is not read again; a file rewritten in place (new
 * size or mtime) or replaced is; a file renamed (rotated) keeps its device
 * and inode and is recognised under its new name. What was read and not
 * yet acknowledged is not in the file, so it is read again: at least once,
 * and exactly once for what was acknowledged.
 *
 * Text, one line per file, written whole with fileio_replace:
 *
 *     profpipe-file-receiver-state 1
 *     <dev> <ino> <size> <mtime_ns> <path>
 *
 * A path holding a newline is not saved (it is read again after a
 * restart). */
#ifndef FILE_STATE_H
#define FILE_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "file_seen.h"

#define FILE_STATE_HEADER "profpipe-file-receiver-state 1\n"
/* A larger state file is refused (as corrupt) rather than read. */
#define FILE_STATE_MAX_BYTES (64u << 20)

/* Adds the finished entries in buf to s. 0, or -1 with the line and the
 * reason in err (s then holds the lines before it). */
int file_state_parse(const char *buf, size_t len, seen_set *s, char *err, size_t errlen);
/* The state text of s (malloc'd, *len bytes), or NULL on out of memory. */
char *file_state_format(const seen_set *s, size_t *len);
/* Reads path into s: 0 (also when there is no file yet), or -1 with the
 * reason. */
int file_state_load(const char *path, seen_set *s, char *err, size_t errlen);

/* Acknowledgements arrive on other threads, possibly after the instance
 * that read the file was replaced by a reload: they go to an inbox shared
 * by every instance with the same component id, which the running one
 * drains. */
typedef struct file_inbox file_inbox;
file_inbox *file_inbox_get(const char *id); /* a reference; NULL on out of memory */
void file_inbox_put(file_inbox *in);        /* drops a reference */
/* Queues (path, v) as acknowledged; takes a reference to the inbox that
 * file_inbox_ack_done drops. */
typedef struct file_inbox_ack file_inbox_ack;
file_inbox_ack *file_inbox_ack_new(file_inbox *in, const char *path, const seen_version *v);
/* The batch ack: lost == 0 queues it; frees a. */
void file_inbox_ack_done(void *a, uint64_t lost);
/* Marks every queued acknowledgement finished in s; returns how many
 * entries changed. */
size_t file_inbox_drain(file_inbox *in, seen_set *s);

#endif
