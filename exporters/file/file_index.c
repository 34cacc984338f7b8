/* file_index: JSON lines and the append-only index with its compaction
 * (see file_index.h). */
#include "file_index.h"
#include "file_store.h"
#include "json_text.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INDEX_TMP_NAME ".index.jsonl.tmp"
#define INDEX_FILE_MODE 0644
#define PATH_KEY "{\"path\":\""

/* ---------------------------------------------------------------- */
/* JSON text                                                         */
/* ---------------------------------------------------------------- */

static void json_put(json_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *t = realloc(b->text, cap);
        if (!t) {
            b->failed = 1;
            return;
        }
        b->text = t;
        b->cap = cap;
    }
    memcpy(b->text + b->len, s, n);
    b->len += n;
    b->text[b->len] = '\0';
}

void json_raw(json_buf *b, const char *s)
{
    json_put(b, s, strlen(s));
}

static void json_sink_put(void *arg, const char *text, size_t len)
{
    json_put(arg, text, len);
}

void json_bytes(json_buf *b, const char *s, size_t len)
{
    json_put(b, "\"", 1);
    json_escape_bytes(s, len, json_sink_put, b);
    json_put(b, "\"", 1);
}

void json_string(json_buf *b, const char *s)
{
    json_bytes(b, s ? s : "", s ? strlen(s) : 0);
}

void json_int(json_buf *b, int64_t v)
{
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)v);
    json_raw(b, num);
}

void json_free(json_buf *b)
{
    free(b->text);
    memset(b, 0, sizeof *b);
}

/* ---------------------------------------------------------------- */
/* The index file                                                    */
/* ---------------------------------------------------------------- */

/* 1 if the line is whole and its file exists. Paths are written from
 * sanitized names, so they hold no characters JSON escapes. */
static int line_live(const char *root, const char *line)
{
    size_t k = strlen(PATH_KEY), n = strlen(line);
    if (strncmp(line, PATH_KEY, k) != 0 || n < 2 || line[n - 1] != '}')
        return 0;
    const char *end = strchr(line + k, '"');
    if (!end)
        return 0;
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%.*s", root, (int)(end - (line + k)), line + k);
    return stat(path, &st) == 0;
}

/* Copies the live lines of the index to a temp file; counts them. */
static int copy_live(file_index *x, FILE *in, FILE *out)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    x->live_lines = 0;
    while ((n = getline(&line, &cap, in)) > 0) {
        if (line[n - 1] != '\n')
            continue; /* torn by a crash */
        line[n - 1] = '\0';
        if (!line_live(x->root, line))
            continue;
        fprintf(out, "%s\n", line);
        x->live_lines++;
    }
    free(line);
    return ferror(in) ? -1 : 0;
}

static int compact(file_index *x, char *err, size_t errlen)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", x->root, INDEX_NAME);
    snprintf(tmp, sizeof tmp, "%s/%s", x->root, INDEX_TMP_NAME);
    FILE *in = fopen(path, "re");
    if (!in && errno != ENOENT)
        return text_errorf(err, errlen, "open %s: %s", path, strerror(errno));
    FILE *out = fopen(tmp, "we");
    if (!out) {
        text_errorf(err, errlen, "create %s: %s", tmp, strerror(errno));
        if (in)
            fclose(in);
        return -1;
    }
    int rc = in ? copy_live(x, in, out) : 0;
    if (in)
        fclose(in);
    if (fflush(out) != 0 || (x->do_fsync && fsync(fileno(out)) != 0))
        rc = -1;
    if (fclose(out) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) == 0) {
        x->stale_lines = 0;
        return 0;
    }
    text_errorf(err, errlen, "rewrite %s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
}

static int reopen(file_index *x, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", x->root, INDEX_NAME);
    if (x->fd >= 0)
        close(x->fd);
    x->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, INDEX_FILE_MODE);
    if (x->fd < 0)
        return text_errorf(err, errlen, "open %s: %s", path, strerror(errno));
    return 0;
}

int index_open(file_index *x, const char *root, int do_fsync, char *err, size_t errlen)
{
    memset(x, 0, sizeof *x);
    x->fd = -1;
    x->do_fsync = do_fsync;
    if (!(x->root = strdup(root)))
        return text_errorf(err, errlen, "out of memory");
    if (compact(x, err, errlen) < 0 || reopen(x, err, errlen) < 0) {
        index_close(x);
        return -1;
    }
    return 0;
}

void index_close(file_index *x)
{
    if (x->fd >= 0)
        close(x->fd);
    x->fd = -1;
    free(x->root);
    x->root = NULL;
}

int index_append(file_index *x, const char *line, size_t len, char *err, size_t errlen)
{
    char *text = malloc(len + 1);
    if (!text)
        return text_errorf(err, errlen, "out of memory");
    memcpy(text, line, len);
    text[len] = '\n';
    /* one write: O_APPEND keeps the line whole against other appends; a
     * failed one (disk full) is cut off again so that no torn line stays */
    off_t before = lseek(x->fd, 0, SEEK_END);
    ssize_t n;
    do
        n = write(x->fd, text, len + 1);
    while (n < 0 && errno == EINTR);
    int saved = n < 0 ? errno : ENOSPC;
    free(text);
    if (n == (ssize_t)(len + 1) && x->do_fsync && fsync(x->fd) != 0)
        n = -1, saved = errno;
    if (n != (ssize_t)(len + 1)) {
        if (n != 0 && before >= 0 && ftruncate(x->fd, before) != 0)
            saved = errno;
        text_errorf(err, errlen, "append to %s/%s: %s", x->root, INDEX_NAME, strerror(saved));
        errno = saved;
        return -1;
    }
    x->live_lines++;
    return 0;
}

int index_forget(file_index *x, size_t n, char *err, size_t errlen)
{
    x->stale_lines += n;
    x->live_lines = x->live_lines > n ? x->live_lines - n : 0;
    if (x->stale_lines <= x->live_lines)
        return 0;
    if (compact(x, err, errlen) < 0)
        return -1;
    return reopen(x, err, errlen);
}
