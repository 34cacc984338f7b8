/* file_store: names, atomic writes and retention for the file exporter
 * (see file_store.h). Everything here runs on the exporter's one worker
 * thread (or in start(), before it runs), so nothing is locked. */
#include "file_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fileio.h"
#include "fnv.h"
#include "pp_constants.h"

/* How many `-N` variants of one name to try before reporting an error. */
#define STORE_NAME_TRIES 10000
#define STORE_DIR_MODE 0755
#define STORE_FILE_MODE 0644

void store_sanitize(const char *value, char *out, size_t outlen)
{
    size_t n = 0, max = outlen - 1 < STORE_MAX_COMPONENT ? outlen - 1 : STORE_MAX_COMPONENT;
    for (const char *s = value ? value : ""; *s && n < max; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || (c == '.' && n > 0);
        out[n++] = ok ? c : '_';
    }
    if (n == 0)
        out[n++] = '_';
    out[n] = '\0';
}

int store_join(char *out, size_t outlen, const char *a, const char *b)
{
    int n = snprintf(out, outlen, "%s/%s", a, b);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int store_mkdirs(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return text_errorf(err, errlen, "path too long: %s", dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, STORE_DIR_MODE) < 0 && errno != EEXIST)
            return text_errorf(err, errlen, "mkdir %s: %s", path, strerror(errno));
        *p = saved;
        if (saved == '\0')
            return 0;
    }
}

/* The slot of dir/base in names, and its key (never 0). */
static size_t names_slot(const char *dir, const char *base, uint64_t *key)
{
    uint64_t h = fnv1a_str(fnv1a(fnv1a_str(FNV_OFFSET, dir), "/", 1), base);
    *key = h ? h : 1;
    return (size_t)(h % STORE_NAME_SLOTS);
}

/* Renames tmp to dir/<base>[-N].pb.gz, never replacing a file; the
 * search starts at the suffix names remembers for base. */
static int publish(store_names *names, const char *tmp, const char *dir, const char *base,
                   char *name, size_t namelen, char *err, size_t errlen)
{
    char to[PATH_MAX];
    uint64_t key = 0;
    size_t slot = names ? names_slot(dir, base, &key) : 0;
    uint32_t first = names && names->key[slot] == key ? names->next[slot] : 0;
    for (uint32_t i = first; i - first < STORE_NAME_TRIES && i < INT32_MAX; i++) {
        if (i == 0)
            snprintf(name, namelen, "%s%s", base, STORE_SUFFIX);
        else
            snprintf(name, namelen, "%s-%u%s", base, (unsigned)i, STORE_SUFFIX);
        snprintf(to, sizeof to, "%s/%s", dir, name);
        int rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, to, RENAME_NOREPLACE);
        if (rc < 0 && (errno == EINVAL || errno == ENOSYS)) {
            /* a filesystem without RENAME_NOREPLACE: only our worker
             * writes this folder, so checking first is enough */
            if (access(to, F_OK) == 0)
                continue;
            rc = rename(tmp, to);
        }
        if (rc == 0) {
            if (names) {
                names->key[slot] = key;
                names->next[slot] = i + 1;
            }
            return 0;
        }
        if (errno != EEXIST)
            return text_errorf(err, errlen, "rename to %s: %s", to, strerror(errno));
    }
    errno = EEXIST;
    return text_errorf(err, errlen, "no free name for %s in %s", base, dir);
}

int store_write(store_names *names, const char *dir, const char *base, const void *data, size_t len,
                int do_fsync, char *name, size_t namelen, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/%s%s%s", dir, STORE_TMP_PREFIX, base, STORE_SUFFIX);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, STORE_FILE_MODE);
    if (fd < 0)
        return text_errorf(err, errlen, "create %s: %s", tmp, strerror(errno));
    int rc = fileio_write_all(fd, data, len);
    if (rc == 0 && do_fsync)
        rc = fsync(fd);
    int saved = errno;
    if (close(fd) < 0 && rc == 0)
        rc = -1, saved = errno;
    if (rc < 0) {
        text_errorf(err, errlen, "write %s: %s", tmp, strerror(saved));
        unlink(tmp);
        errno = saved;
        return -1;
    }
    if (publish(names, tmp, dir, base, name, namelen, err, errlen) < 0) {
        saved = errno;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    if (do_fsync && fileio_fsync_dir(dir) < 0) {
        /* not durable, so not done: take it back, the retry writes it again */
        saved = errno;
        char final[PATH_MAX];
        if (store_join(final, sizeof final, dir, name) == 0)
            unlink(final);
        return text_errorf(err, errlen, "fsync %s: %s", dir, strerror(saved));
    }
    return 0;
}

/* ---------------------------------------------------------------- */
/* Retention                                                         */
/* ---------------------------------------------------------------- */

void store_list_free(store_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->files[l->head + i].relpath);
    free(l->files);
    memset(l, 0, sizeof *l);
}

/* Room for one more at the end: slides the live part to the front when
 * deletions freed it, else doubles. */
static int list_reserve(store_list *l)
{
    if (l->head + l->count < l->cap)
        return 0;
    if (l->head > 0) {
        memmove(l->files, l->files + l->head, l->count * sizeof *l->files);
        l->head = 0;
        return 0;
    }
    size_t cap = l->cap ? l->cap * 2 : 64;
    store_file *f = realloc(l->files, cap * sizeof *f);
    if (!f)
        return -1;
    l->files = f;
    l->cap = cap;
    return 0;
}

int store_list_add(store_list *l, const char *relpath, int64_t size, int64_t mtime_ns)
{
    char *copy = strdup(relpath);
    if (!copy || list_reserve(l) < 0) {
        free(copy);
        return -1;
    }
    l->files[l->head + l->count++] = (store_file){copy, size, mtime_ns};
    l->total_size += size;
    return 0;
}

static int by_mtime(const void *a, const void *b)
{
    const store_file *x = a, *y = b;
    return (x->mtime_ns > y->mtime_ns) - (x->mtime_ns < y->mtime_ns);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Adds the profiles of root/rel (a <service>/<family> folder) to l. */
static int scan_leaf(store_list *l, const char *root, const char *rel)
{
    char dir[PATH_MAX], path[PATH_MAX], relpath[PATH_MAX];
    if (store_join(dir, sizeof dir, root, rel) < 0)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        struct stat st;
        if (store_join(path, sizeof path, dir, e->d_name) < 0)
            continue;
        if (!strncmp(e->d_name, STORE_TMP_PREFIX, strlen(STORE_TMP_PREFIX))) {
            unlink(path); /* a write a crash cut short */
            continue;
        }
        if (!has_suffix(e->d_name, STORE_SUFFIX) || lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (store_join(relpath, sizeof relpath, rel, e->d_name) < 0)
            continue;
        rc = store_list_add(l, relpath, st.st_size,
                            (int64_t)st.st_mtim.tv_sec * NS_PER_SEC + st.st_mtim.tv_nsec);
    }
    closedir(d);
    return rc;
}

/* Calls fn for each subfolder of root/rel (rel "" for root itself). */
static int each_subdir(const char *root, const char *rel, store_list *l,
                       int (*fn)(store_list *, const char *, const char *))
{
    char dir[PATH_MAX], child[PATH_MAX];
    snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        char full[PATH_MAX];
        int n = snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        if (n < 0 || (size_t)n >= sizeof child || store_join(full, sizeof full, root, child) < 0)
            continue;
        if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode))
            rc = fn(l, root, child);
    }
    closedir(d);
    return rc;
}

static int scan_service(store_list *l, const char *root, const char *rel)
{
    return each_subdir(root, rel, l, scan_leaf);
}

int store_list_scan(store_list *l, const char *root, char *err, size_t errlen)
{
    if (each_subdir(root, "", l, scan_service) < 0)
        return text_errorf(err, errlen, "scan %s: %s", root, strerror(errno));
    if (l->count)
        qsort(l->files + l->head, l->count, sizeof *l->files, by_mtime);
    return 0;
}

size_t store_retain(store_list *l, const char *root, int64_t max_total, int64_t max_age_ns,
                    int64_t now_ns)
{
    size_t deleted = 0;
    char path[PATH_MAX];
    while (l->count > 1) {
        store_file *f = &l->files[l->head];
        int too_big = max_total > 0 && l->total_size > max_total;
        int too_old = max_age_ns > 0 && now_ns - f->mtime_ns > max_age_ns;
        if (!too_big && !too_old)
            break;
        snprintf(path, sizeof path, "%s/%s", root, f->relpath);
        unlink(path); /* already gone is as good as deleted */
        l->total_size -= f->size;
        free(f->relpath);
        l->head++;
        l->count--;
        deleted++;
    }
    return deleted;
}
