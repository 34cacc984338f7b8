/* spool: see spool.h. Record layout, all integers little-endian:
 *
 *   "PPSP" u32 version  u32 header_len  u32 payload_len  u32 crc32
 *   header: i64 from, i64 until, u32 n_labels, n × (u32 len, name, u32 len, value)
 *   payload: the gzip'd pprof
 *
 * The CRC covers header and payload. A record is written to a temporary
 * name and renamed, so a crash leaves either a whole record or none. With
 * fsync_writes the record is fsync'd before the rename and the directory
 * after it: the rename lives in the directory, so without the second
 * fsync a power loss can forget a record that already counted as queued. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fileio.h"
#include "log.h"
#include "profile.h"

#define SPOOL_MAGIC "PPSP"
#define SPOOL_VERSION 1u
#define SPOOL_PREAMBLE 20 /* magic + version + two lengths + crc */
#define SPOOL_SUFFIX ".ppspool"
#define SPOOL_MAX_RECORD ((size_t)1 << 30)

struct spool {
    char *dir;
    int fsync_writes;
    pthread_mutex_t lock;
    uint64_t next_seq;
    uint64_t first_new_seq;
};

typedef struct wbuf {
    uint8_t *data;
    size_t len, cap;
} wbuf;

static int wbuf_put(wbuf *w, const void *src, size_t n)
{
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *grown = realloc(w->data, cap);
        if (!grown)
            return -1;
        w->data = grown;
        w->cap = cap;
    }
    memcpy(w->data + w->len, src, n);
    w->len += n;
    return 0;
}

static int wbuf_u32(wbuf *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return wbuf_put(w, b, 4);
}

static int wbuf_i64(wbuf *w, int64_t v)
{
    uint64_t u = (uint64_t)v;
    return wbuf_u32(w, (uint32_t)u) | wbuf_u32(w, (uint32_t)(u >> 32));
}

static int wbuf_str(wbuf *w, const char *s)
{
    size_t n = strlen(s);
    return wbuf_u32(w, (uint32_t)n) | wbuf_put(w, s, n);
}

static uint32_t get_u32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void record_path(const spool *s, uint64_t seq, char *out, size_t len)
{
    snprintf(out, len, "%s/%020llu" SPOOL_SUFFIX, s->dir, (unsigned long long)seq);
}

/* Parses a record file name into its number; -1 if it is not one. */
static int parse_name(const char *name, uint64_t *seq)
{
    char *end;
    unsigned long long v = strtoull(name, &end, 10);
    if (end == name || strcmp(end, SPOOL_SUFFIX) != 0)
        return -1;
    *seq = v;
    return 0;
}

static int mkdir_p(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return (mkdir(path, 0755) == 0 || errno == EEXIST) ? 0 : -1;
}

typedef struct seq_list {
    uint64_t *seqs;
    size_t n, cap;
} seq_list;

static int by_seq(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int list_records(const spool *s, seq_list *out)
{
    DIR *d = opendir(s->dir);
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        uint64_t seq;
        if (parse_name(de->d_name, &seq) != 0)
            continue;
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 64;
            uint64_t *grown = realloc(out->seqs, cap * sizeof *grown);
            if (!grown)
                break;
            out->seqs = grown;
            out->cap = cap;
        }
        out->seqs[out->n++] = seq;
    }
    closedir(d);
    if (out->n)
        qsort(out->seqs, out->n, sizeof *out->seqs, by_seq);
    return 0;
}

spool *spool_open(const char *dir, int fsync_writes, char *err, size_t errlen)
{
    if (mkdir_p(dir) != 0) {
        snprintf(err, errlen, "spool directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    spool *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(dir))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->fsync_writes = fsync_writes;
    pthread_mutex_init(&s->lock, NULL);
    seq_list l = {0};
    if (list_records(s, &l) != 0) {
        snprintf(err, errlen, "spool directory %s: %s", dir, strerror(errno));
        free(l.seqs);
        spool_close(s);
        return NULL;
    }
    s->next_seq = l.n ? l.seqs[l.n - 1] + 1 : 1;
    s->first_new_seq = s->next_seq;
    free(l.seqs);
    return s;
}

void spool_close(spool *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s->dir);
    free(s);
}

static int encode_record(pp_profile *p, wbuf *w, char *err, size_t errlen)
{
    const uint8_t *payload;
    size_t payload_len;
    if (profile_raw_gz(p, &payload, &payload_len, err, errlen) != 0)
        return -1;
    wbuf header = {0};
    int bad = wbuf_i64(&header, profile_from(p)) | wbuf_i64(&header, profile_until(p));
    size_t n = profile_label_count(p);
    bad |= wbuf_u32(&header, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        bad |= wbuf_str(&header, profile_label_name(p, i)) |
               wbuf_str(&header, profile_label_value(p, i));
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, header.data, (uInt)header.len);
    crc = crc32(crc, payload, (uInt)payload_len);
    bad |= wbuf_put(w, SPOOL_MAGIC, 4) | wbuf_u32(w, SPOOL_VERSION) |
           wbuf_u32(w, (uint32_t)header.len) | wbuf_u32(w, (uint32_t)payload_len) |
           wbuf_u32(w, (uint32_t)crc) | wbuf_put(w, header.data, header.len) |
           wbuf_put(w, payload, payload_len);
    free(header.data);
    if (bad)
        snprintf(err, errlen, "out of memory");
    return bad ? -1 : 0;
}

int spool_write(spool *s, pp_profile *p, uint64_t *seq, char *err, size_t errlen)
{
    wbuf w = {0};
    if (encode_record(p, &w, err, errlen) != 0) {
        free(w.data);
        return -1;
    }
    pthread_mutex_lock(&s->lock);
    *seq = s->next_seq++;
    pthread_mutex_unlock(&s->lock);
    char path[4096], tmp[4200];
    record_path(s, *seq, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -1 : fileio_write_all(fd, w.data, w.len);
    if (rc == 0 && s->fsync_writes)
        rc = fsync(fd);
    if (fd >= 0 && close(fd) != 0)
        rc = -1;
    if (rc == 0)
        rc = rename(tmp, path);
    if (rc != 0) {
        snprintf(err, errlen, "spool write %s: %s", path, strerror(errno));
        unlink(tmp);
    } else if (s->fsync_writes && fileio_fsync_dir(s->dir) != 0) {
        /* the record may not survive a power loss: not queued, say so */
        snprintf(err, errlen, "spool fsync of directory %s: %s", s->dir, strerror(errno));
        unlink(path);
        rc = -1;
    }
    free(w.data);
    return rc;
}

void spool_remove(spool *s, uint64_t seq)
{
    char path[4096];
    record_path(s, seq, path, sizeof path);
    if (unlink(path) != 0 && errno != ENOENT)
        log_msg(PP_LOG_WARN, NULL, "spool: cannot remove %s: %s", path, strerror(errno));
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *data = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0 && (size_t)st.st_size < SPOOL_MAX_RECORD &&
        (data = malloc((size_t)st.st_size)) &&
        fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        free(data);
        data = NULL;
    }
    if (data)
        *len = (size_t)st.st_size;
    fclose(f);
    return data;
}

/* Checks and decodes a record into a new profile; NULL with the reason. */
static pp_profile *decode_record(const uint8_t *d, size_t len, char *why, size_t whylen)
{
    if (len < SPOOL_PREAMBLE || memcmp(d, SPOOL_MAGIC, 4) != 0)
        return snprintf(why, whylen, "not a spool record"), NULL;
    if (get_u32(d + 4) != SPOOL_VERSION)
        return snprintf(why, whylen, "record version %u unknown", get_u32(d + 4)), NULL;
    size_t hlen = get_u32(d + 8), plen = get_u32(d + 12);
    if (hlen < 20 || SPOOL_PREAMBLE + hlen + plen != len)
        return snprintf(why, whylen, "truncated record"), NULL;
    const uint8_t *h = d + SPOOL_PREAMBLE, *end = h + hlen;
    uLong crc = crc32(crc32(0L, Z_NULL, 0), h, (uInt)(hlen + plen));
    if ((uint32_t)crc != get_u32(d + 16))
        return snprintf(why, whylen, "checksum mismatch"), NULL;
    pp_profile *p = profile_new();
    if (!p)
        return snprintf(why, whylen, "out of memory"), NULL;
    uint64_t from = get_u32(h) | (uint64_t)get_u32(h + 4) << 32;
    uint64_t until = get_u32(h + 8) | (uint64_t)get_u32(h + 12) << 32;
    profile_set_window(p, (int64_t)from, (int64_t)until);
    uint32_t n = get_u32(h + 16);
    h += 20;
    for (uint32_t i = 0; i < n; i++) {
        char *kv[2] = {NULL, NULL};
        for (int k = 0; k < 2; k++) {
            size_t sl = (size_t)(end - h) >= 4 ? get_u32(h) : SIZE_MAX;
            if (sl == SIZE_MAX || sl > (size_t)(end - h) - 4)
                break;
            kv[k] = strndup((const char *)h + 4, sl);
            h += 4 + sl;
        }
        if (!kv[0] || !kv[1]) {
            free(kv[0]);
            free(kv[1]);
            profile_free(p);
            return snprintf(why, whylen, "bad label in record"), NULL;
        }
        profile_label_set(p, kv[0], kv[1]);
        free(kv[0]);
        free(kv[1]);
    }
    if (profile_set_raw(p, d + SPOOL_PREAMBLE + hlen, plen) != 0) {
        profile_free(p);
        return snprintf(why, whylen, "bad payload"), NULL;
    }
    return p;
}

static void set_aside(spool *s, uint64_t seq, const char *why)
{
    char path[4096], dir[4200], dest[8400];
    record_path(s, seq, path, sizeof path);
    snprintf(dir, sizeof dir, "%s/corrupt", s->dir);
    snprintf(dest, sizeof dest, "%s/%020llu" SPOOL_SUFFIX, dir, (unsigned long long)seq);
    mkdir(dir, 0755);
    log_msg(PP_LOG_ERROR, NULL, "spool: %s: %s; moved to %s", path, why, dir);
    if (rename(path, dest) != 0)
        unlink(path);
}

uint64_t spool_first_new_seq(const spool *s)
{
    return s->first_new_seq;
}

size_t spool_replay(spool *s, uint64_t below, void (*fn)(void *arg, pp_profile *p, uint64_t seq),
                    void *arg)
{
    seq_list l = {0};
    if (list_records(s, &l) != 0)
        return 0;
    size_t read = 0;
    for (size_t i = 0; i < l.n && l.seqs[i] < below; i++) {
        char path[4096], why[128];
        record_path(s, l.seqs[i], path, sizeof path);
        size_t len = 0;
        uint8_t *data = read_file(path, &len);
        snprintf(why, sizeof why, "unreadable");
        pp_profile *p = data ? decode_record(data, len, why, sizeof why) : NULL;
        free(data);
        if (!p) {
            set_aside(s, l.seqs[i], why);
            continue;
        }
        fn(arg, p, l.seqs[i]);
        read++;
    }
    free(l.seqs);
    return read;
}

size_t spool_count(spool *s)
{
    seq_list l = {0};
    list_records(s, &l);
    free(l.seqs);
    return l.n;
}
