/* file_state: see file_state.h. The parser trusts nothing in the file:
 * every field is checked for its form and range, and the first bad line
 * is named. */
#include "file_state.h"

#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- */
/* Text                                                              */
/* ---------------------------------------------------------------- */

/* An unsigned decimal at *p ending in a space; advances past the space. */
static int parse_u64(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (s >= end || *s < '0' || *s > '9')
        return -1;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (s >= end || *s != ' ')
        return -1;
    *out = v;
    *p = s + 1;
    return 0;
}

static int parse_line(const char *line, const char *end, seen_set *s, const char **why)
{
    uint64_t f[4];
    static const char *const names[4] = {"device", "inode", "size", "mtime"};
    const char *p = line;
    for (int i = 0; i < 4; i++)
        if (parse_u64(&p, end, &f[i]) < 0) {
            *why = names[i];
            return -1;
        }
    if (f[2] > INT64_MAX || f[3] > INT64_MAX) {
        *why = f[2] > INT64_MAX ? "size" : "mtime";
        return -1;
    }
    size_t n = (size_t)(end - p);
    if (n == 0 || memchr(p, '\0', n)) {
        *why = "path";
        return -1;
    }
    char *path = strndup(p, n);
    seen_version v = {f[0], f[1], (int64_t)f[2], (int64_t)f[3]};
    int rc = path && seen_record(s, path, &v) == 0 ? 0 : -1;
    if (rc == 0)
        seen_finish(s, path, &v);
    else
        *why = "out of memory";
    free(path);
    return rc;
}

int file_state_parse(const char *buf, size_t len, seen_set *s, char *err, size_t errlen)
{
    size_t hlen = strlen(FILE_STATE_HEADER);
    if (len < hlen || memcmp(buf, FILE_STATE_HEADER, hlen) != 0) {
        snprintf(err, errlen, "line 1: not a profpipe file receiver state (version 1)");
        return -1;
    }
    const char *p = buf + hlen, *end = buf + len;
    for (size_t line = 2; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            snprintf(err, errlen, "line %zu: cut short (no newline)", line);
            return -1;
        }
        const char *why = NULL;
        if (parse_line(p, nl, s, &why) < 0) {
            snprintf(err, errlen, "line %zu: bad %s", line, why);
            return -1;
        }
        p = nl + 1;
    }
    return 0;
}

typedef struct text {
    FILE *out;
} text;

static void format_one(void *arg, const char *path, const seen_version *v)
{
    text *t = arg;
    if (strchr(path, '\n'))
        return;
    fprintf(t->out, "%" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %s\n", v->dev, v->ino, v->size,
            v->mtime_ns, path);
}

char *file_state_format(const seen_set *s, size_t *len)
{
    char *buf = NULL;
    text t = {open_memstream(&buf, len)};
    if (!t.out)
        return NULL;
    fputs(FILE_STATE_HEADER, t.out);
    seen_each_finished(s, format_one, &t);
    if (fclose(t.out) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

int file_state_load(const char *path, seen_set *s, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (st.st_size > (off_t)FILE_STATE_MAX_BYTES) {
        close(fd);
        snprintf(err, errlen, "%s: larger than %u bytes", path, FILE_STATE_MAX_BYTES);
        return -1;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = buf ? fileio_read_full(fd, buf, (size_t)st.st_size) : 0;
    close(fd);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    char why[256];
    int rc = file_state_parse(buf, got, s, why, sizeof why);
    if (rc < 0)
        snprintf(err, errlen, "%s %s", path, why);
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------- */
/* The inbox of acknowledgements                                     */
/* ---------------------------------------------------------------- */

struct file_inbox_ack {
    file_inbox *inbox;
    seen_version version;
    struct file_inbox_ack *next;
    char path[];
};

struct file_inbox {
    char *id;
    int refs; /* under inboxes_lock */
    pthread_mutex_t lock;
    file_inbox_ack *acked; /* queued, newest first */
    struct file_inbox *next;
};

static pthread_mutex_t inboxes_lock = PTHREAD_MUTEX_INITIALIZER;
static file_inbox *inboxes;

file_inbox *file_inbox_get(const char *id)
{
    pthread_mutex_lock(&inboxes_lock);
    file_inbox *in = inboxes;
    while (in && strcmp(in->id, id) != 0)
        in = in->next;
    if (!in && (in = calloc(1, sizeof *in)) && !(in->id = strdup(id))) {
        free(in);
        in = NULL;
    } else if (in && !in->refs) {
        pthread_mutex_init(&in->lock, NULL);
        in->next = inboxes;
        inboxes = in;
    }
    if (in)
        in->refs++;
    pthread_mutex_unlock(&inboxes_lock);
    return in;
}

void file_inbox_put(file_inbox *in)
{
    if (!in)
        return;
    pthread_mutex_lock(&inboxes_lock);
    int last = --in->refs == 0;
    if (last)
        for (file_inbox **link = &inboxes; *link; link = &(*link)->next)
            if (*link == in) {
                *link = in->next;
                break;
            }
    pthread_mutex_unlock(&inboxes_lock);
    if (!last)
        return;
    while (in->acked) {
        file_inbox_ack *a = in->acked;
        in->acked = a->next;
        free(a);
    }
    pthread_mutex_destroy(&in->lock);
    free(in->id);
    free(in);
}

file_inbox_ack *file_inbox_ack_new(file_inbox *in, const char *path, const seen_version *v)
{
    size_t n = strlen(path) + 1;
    file_inbox_ack *a = malloc(sizeof *a + n);
    if (!a)
        return NULL;
    pthread_mutex_lock(&inboxes_lock);
    in->refs++;
    pthread_mutex_unlock(&inboxes_lock);
    a->inbox = in;
    a->version = *v;
    a->next = NULL;
    memcpy(a->path, path, n);
    return a;
}

void file_inbox_ack_done(void *arg, uint64_t lost)
{
    file_inbox_ack *a = arg;
    file_inbox *in = a->inbox;
    if (lost == 0) {
        pthread_mutex_lock(&in->lock);
        a->next = in->acked;
        in->acked = a;
        pthread_mutex_unlock(&in->lock);
    } else {
        free(a);
    }
    file_inbox_put(in);
}

size_t file_inbox_drain(file_inbox *in, seen_set *s)
{
    pthread_mutex_lock(&in->lock);
    file_inbox_ack *a = in->acked;
    in->acked = NULL;
    pthread_mutex_unlock(&in->lock);
    size_t changed = 0;
    while (a) {
        file_inbox_ack *next = a->next;
        changed += (size_t)seen_finish(s, a->path, &a->version);
        free(a);
        a = next;
    }
    return changed;
}
