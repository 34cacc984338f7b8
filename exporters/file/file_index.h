/* file_index: the file exporter's JSON-lines index, `<root>/index.jsonl`.
 *
 * One line per profile written, appended with one write() after the
 * profile's file is in place, so a line never names a file that is not
 * there (a crash between the two leaves a file without a line, never the
 * reverse). The first key of every line is "path" (relative to the root),
 * which is what compaction reads back.
 *
 * Retention deletes files but does not touch the index at once: rewriting
 * it per deleted file would cost O(index) per profile. Instead the lines
 * of deleted files are counted as stale, and when they outnumber the live
 * ones (and at every start) the index is compacted: rewritten, through a
 * temp file and a rename, with only the lines whose files still exist.
 * So the index is at most about twice its live size, and the rewrite costs
 * O(1) per profile amortized. */
#ifndef FILE_INDEX_H
#define FILE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#define INDEX_NAME "index.jsonl"

/* A growable text buffer for building one JSON line. */
typedef struct json_buf {
    char *text;
    size_t len, cap;
    int failed; /* an allocation failed: the text is incomplete */
} json_buf;

void json_raw(json_buf *b, const char *s);
/* Quoted and escaped (json_text.h: valid UTF-8 whatever the bytes). */
void json_string(json_buf *b, const char *s);
void json_bytes(json_buf *b, const char *s, size_t len);
void json_int(json_buf *b, int64_t v);
void json_free(json_buf *b);

typedef struct file_index {
    char *root;
    int fd; /* -1 when closed */
    int do_fsync;
    size_t live_lines, stale_lines;
} file_index;

/* Compacts (drops lines whose file is gone and a torn last line) and opens
 * the index for appending. 0, or -1 with the reason in err. */
int index_open(file_index *x, const char *root, int do_fsync, char *err, size_t errlen);
void index_close(file_index *x);
/* Appends one line (without its newline). 0, or -1 with the reason. */
int index_append(file_index *x, const char *line, size_t len, char *err, size_t errlen);
/* Notes that retention deleted n listed files; compacts when the stale
 * lines outnumber the live ones. 0, or -1 with the reason. */
int index_forget(file_index *x, size_t n, char *err, size_t errlen);

#endif
