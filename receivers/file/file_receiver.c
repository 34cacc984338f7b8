/* file receiver: turns pprof files on disk into profiles.
 *
 * One thread per instance scans the `include` globs, reads every regular
 * file it has not read yet (file_seen remembers inode, size and mtime, so a
 * rewritten file is read again), decodes it to prove it is a pprof before
 * anything leaves (a bad file is logged with its reason and skipped or
 * moved to `failed_dir`, never emitted), labels it and emits it as a batch
 * of one. One file per batch holds the receiver to one file in memory at a
 * time and lets `delete_after_read` delete exactly the files whose
 * profiles every pipeline has finished with (the batch's ack), so a crash
 * loses nothing; the exporters' `batch` settings coalesce them again.
 *
 * poll_interval 0 reads what is there at start and stops; otherwise the
 * folder is watched by polling, which works on every filesystem (inotify
 * misses NFS and bind-mounted writers). A file younger than min_file_age
 * waits for a later scan: `curl -o` and `cp` write in pieces. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <profpipe/plugin.h>

#include "fileio.h"
#include "file_seen.h"
#include "label_names.h"
#include "pp_constants.h"
#include "text.h"
#include "file_state.h"

#define FILE_ERR_LEN 512
/* Past the memory limit, how often the receiver looks again. */
#define FILE_MEMORY_WAIT_NS (NS_PER_SEC / 10)
/* While watching, acknowledgements are saved at least this often. */
#define STATE_SAVE_NS (NS_PER_SEC / 5)
/* How many `name.N` variants to try before giving up moving a failed file. */
#define FAILED_NAME_TRIES 1000

typedef struct name_list {
    const char **items; /* borrowed from the config */
    size_t n;
} name_list;

typedef struct file_receiver {
    const pp_host *host;
    pp_instance *self;
    name_list include, exclude;
    const pp_config *include_node, *exclude_node; /* the lists as written */
    int64_t poll_interval_ns, min_file_age_ns, max_file_size;
    const char *service_name; /* NULL: from the file name */
    const char *profile_type; /* NULL: from the sample types */
    const pp_config *labels;  /* a map, or NULL */
    int delete_after_read;
    const char *failed_dir; /* NULL: leave bad files where they are */
    const char *storage;    /* NULL: no state across restarts */
    char *state_path;       /* <storage>/<id>.state */
    file_inbox *inbox;      /* acknowledgements, with storage */
    int state_dirty;        /* seen's finished entries changed since the save */

    char *id; /* the component id, the key for parking `seen` on reload */
    seen_set *seen;
    pp_metric *m_read, *m_failed;
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_int stopping;
} file_receiver;

/* What the ack of a delete_after_read batch needs: the file, and the
 * version that was read, so a file rewritten since is not deleted unread. */
typedef struct file_ack {
    seen_version version;
    char path[];
} file_ack;

static const pp_option file_receiver_options[] = {
    {"include", PP_OPT_STRING_LIST, NULL,
     "glob(7) patterns of the pprof files to read (`{a,b}` and `~` work)", 1, NULL,
     PP_FIELD(file_receiver, include_node)},
    {"exclude", PP_OPT_STRING_LIST, NULL,
     "patterns of files to leave alone: matched against the path, or against "
     "the base name when the pattern has no `/`",
     0, NULL, PP_FIELD(file_receiver, exclude_node)},
    {"poll_interval", PP_OPT_DURATION, "0s",
     "how often to look for new files; 0 reads the files there at start once", 0, NULL,
     PP_FIELD(file_receiver, poll_interval_ns)},
    {"min_file_age", PP_OPT_DURATION, "1s",
     "a file modified more recently waits for a later scan (half-written files)", 0, NULL,
     PP_FIELD(file_receiver, min_file_age_ns)},
    {"max_file_size", PP_OPT_SIZE, "64MiB", "a larger file is refused as failed", 0, NULL,
     PP_FIELD(file_receiver, max_file_size), .min = "0", .flags = PP_OPT_MIN_EXCLUSIVE},
    {"labels", PP_OPT_STRING_MAP, NULL, "series labels added to every profile", 0, NULL,
     PP_FIELD(file_receiver, labels)},
    {"service_name", PP_OPT_STRING, NULL,
     "the `service_name` label; default: the file name up to its first `.` "
     "(`checkout.heap.pb.gz` gives `checkout`)",
     0, NULL, PP_FIELD(file_receiver, service_name)},
    {"profile_type", PP_OPT_STRING, NULL,
     "the `__name__` label; default: Pyroscope's name for the sample types (the table in "
     "the top README: `process_cpu`, `memory`, `goroutines`, `mutex`, `wall`, ...; "
     "`mutex` becomes `block` when the file name says `block` and not `mutex`)",
     0, NULL, PP_FIELD(file_receiver, profile_type)},
    {"delete_after_read", PP_OPT_BOOL, "false",
     "delete a file once every pipeline is done with its profile", 0, NULL,
     PP_FIELD(file_receiver, delete_after_read)},
    {"failed_dir", PP_OPT_STRING, NULL,
     "move files that cannot be read or decoded here (same filesystem; "
     "created if missing); default: leave them and skip them until rewritten",
     0, NULL, PP_FIELD(file_receiver, failed_dir)},
    {"storage", PP_OPT_STRING, NULL,
     "directory of a state file listing the files acknowledged (device, inode, size, mtime), "
     "so that a restart reads only what was not finished (created if missing); default: a "
     "restart reads the folder again",
     0, NULL, PP_FIELD(file_receiver, storage)},
    {0},
};

/* ---------------------------------------------------------------- */
/* Options                                                           */
/* ---------------------------------------------------------------- */

/* Fills `out` with the scalars of a list option; empty items are config
 * errors. 0 or -1. */
static int read_list(file_receiver *r, const pp_config *list, name_list *out)
{
    const pp_host *h = r->host;
    size_t n = list ? h->cfg_count(list) : 0;
    if (n == 0)
        return 0;
    out->items = calloc(n, sizeof *out->items);
    if (!out->items)
        return h->cfg_error(list, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *s = h->cfg_scalar(h->cfg_item(list, i));
        if (!s || !*s)
            return h->cfg_error(h->cfg_item(list, i), NULL, "empty pattern");
        out->items[out->n++] = s;
    }
    return 0;
}

/* Rule: label names are Prometheus names, and not the two set by options. */
static int check_labels(file_receiver *r)
{
    const pp_host *h = r->host;
    if (!r->labels)
        return 0;
    for (size_t i = 0; i < h->cfg_count(r->labels); i++) {
        const char *name = h->cfg_key(r->labels, i);
        if (!label_name_valid(name))
            return h->cfg_error(r->labels, name, "not a valid label name");
        if (!strcmp(name, "service_name") || !strcmp(name, "__name__"))
            return h->cfg_error(r->labels, name,
                                "set it with the service_name or profile_type option");
    }
    return 0;
}

/* Rule: a name option is unset (NULL) or not empty. */
static int refuse_empty(file_receiver *r, const pp_config *cfg, const char *key, const char *value)
{
    if (value && !*value)
        return r->host->cfg_error(cfg, key, "must not be empty");
    return 0;
}

static void save_state(file_receiver *r);

/* Acknowledgements that came after stop() (exporters drain after the
 * receivers stop) are saved here, into the set parked for a successor. */
static void save_late_acks(file_receiver *r)
{
    if (!r->storage || r->seen || !r->inbox)
        return;
    r->seen = seen_adopt(r->id);
    if (!r->seen)
        return;
    save_state(r);
    seen_park(r->id, r->seen);
    r->seen = NULL;
}

static void file_receiver_destroy(void *state)
{
    file_receiver *r = state;
    if (!r)
        return;
    save_late_acks(r);
    seen_free(r->seen);
    file_inbox_put(r->inbox);
    free(r->state_path);
    free(r->id);
    free(r->include.items);
    free(r->exclude.items);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* <storage>/<id>.state, the id's `/` written as `%2F`. */
static int configure_storage(file_receiver *r, const pp_config *cfg)
{
    const pp_host *host = r->host;
    if (mkdir(r->storage, 0755) < 0 && errno != EEXIST)
        return host->cfg_error(cfg, "storage", "cannot create %s: %s", r->storage, strerror(errno));
    struct stat st;
    if (stat(r->storage, &st) < 0 || !S_ISDIR(st.st_mode))
        return host->cfg_error(cfg, "storage", "%s is not a directory", r->storage);
    size_t n = strlen(r->storage) + 3 * strlen(r->id) + sizeof "/.state";
    if (!(r->state_path = malloc(n)) || !(r->inbox = file_inbox_get(r->id)))
        return host->cfg_error(cfg, NULL, "out of memory");
    char *p = r->state_path + sprintf(r->state_path, "%s/", r->storage);
    for (const char *c = r->id; *c; c++)
        p += *c == '/' ? sprintf(p, "%%2F") : sprintf(p, "%c", *c);
    strcpy(p, ".state");
    return 0;
}

/* Reads and checks the options into r. 0, or -1 after cfg_error. */
static int configure(file_receiver *r, const pp_config *cfg)
{
    const pp_host *host = r->host;
    if (host->cfg_fill(cfg, file_receiver_options, r) < 0 ||
        read_list(r, r->include_node, &r->include) < 0 ||
        read_list(r, r->exclude_node, &r->exclude) < 0 || check_labels(r) < 0 ||
        refuse_empty(r, cfg, "service_name", r->service_name) < 0 ||
        refuse_empty(r, cfg, "profile_type", r->profile_type) < 0 ||
        refuse_empty(r, cfg, "failed_dir", r->failed_dir) < 0 ||
        refuse_empty(r, cfg, "storage", r->storage) < 0)
        return -1;
    if (r->include.n == 0)
        return host->cfg_error(cfg, "include", "needs at least one pattern");
    if (!(r->seen = seen_new()) || !(r->id = strdup(host->instance_id(r->self))))
        return host->cfg_error(cfg, NULL, "out of memory");
    return r->storage ? configure_storage(r, cfg) : 0;
}

/* The host does not call destroy() after a failed create(): free here. */
static int file_receiver_create(const pp_host *host, pp_instance *self, const pp_config *cfg,
                                void **state)
{
    file_receiver *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->host = host;
    r->self = self;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (configure(r, cfg) < 0) {
        file_receiver_destroy(r);
        return -1;
    }
    *state = r;
    return 0;
}

/* ---------------------------------------------------------------- */
/* Reading one file into a profile                                   */
/* ---------------------------------------------------------------- */

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * NS_PER_SEC + st->st_mtim.tv_nsec;
}

static seen_version version_of(const struct stat *st)
{
    seen_version v = {(uint64_t)st->st_dev, (uint64_t)st->st_ino, (int64_t)st->st_size,
                      mtime_ns(st)};
    return v;
}

/* Reads the whole file (at most max bytes) into a malloc'd buffer. */
static int read_whole(const char *path, int64_t max, uint8_t **out, size_t *len, char *err,
                      size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return text_errorf(err, errlen, "open: %s", strerror(errno));
    struct stat st;
    const char *bad = NULL;
    if (fstat(fd, &st) < 0)
        bad = strerror(errno);
    else if (st.st_size == 0)
        bad = "empty file";
    else if (st.st_size > max)
        bad = "larger than max_file_size";
    if (bad) {
        close(fd);
        return text_errorf(err, errlen, "%s", bad);
    }
    uint8_t *buf = malloc((size_t)st.st_size);
    size_t got = buf ? fileio_read_full(fd, buf, (size_t)st.st_size) : 0;
    close(fd);
    if (!buf || got == 0) {
        text_errorf(err, errlen, "%s", buf ? "read: file shrank" : "out of memory");
        free(buf);
        return -1;
    }
    *out = buf;
    *len = got;
    return 0;
}

/* `checkout.heap.pb.gz` -> `checkout`, into out. */
static void name_from_file(const char *path, char *out, size_t outlen)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strcspn(base, ".");
    if (n == 0)
        n = strlen(base);
    snprintf(out, outlen, "%.*s", (int)n, base);
}

/* Go writes block and mutex profiles with the same sample types
 * (contentions/count, delay/nanoseconds), which the host's naming rule
 * calls `mutex` as Pyroscope does: only the file name can say `block`, as
 * `curl -o app.block.pb.gz .../debug/pprof/block` does. */
static int block_named(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strstr(base, "block") != NULL && strstr(base, "mutex") == NULL;
}

#define FILE_TYPE_MAX 128

/* What a file's profile is: its type (`__name__`) and window. */
typedef struct file_facts {
    char type[FILE_TYPE_MAX];
    int64_t from, until;
} file_facts;

/* Reads the payload in one streaming pass (host->pprof_peek: inflated
 * through a fixed buffer, never decoded) to prove it is pprof as far as
 * that pass can tell and learn its facts. The profile that is emitted
 * carries only the raw bytes: queues are bounded by those, and a pipeline
 * that passes profiles through never inflates or decodes them again.
 * 0, or -1 with the reason. */
static int probe(file_receiver *r, const uint8_t *data, size_t len, const char *path,
                 const struct stat *st, file_facts *f, char *err, size_t errlen)
{
    const pp_host *h = r->host;
    size_t plain_len;
    pp_err kind;
    pp_pprof *t = h->pprof_peek(data, len, SIZE_MAX, &plain_len, &kind, err, errlen);
    if (!t)
        return -1;
    int rc = 0;
    const char *type = r->profile_type ? r->profile_type : h->pprof_family(t);
    if (!r->profile_type && type && !strcmp(type, "mutex") && block_named(path))
        type = "block";
    snprintf(f->type, sizeof f->type, "%s", type ? type : "");
    if (!type)
        rc = text_errorf(err, errlen, "no profile type fits its sample types; set profile_type");
    f->from = t->time_nanos;
    if (f->from > 0) {
        f->until = f->from + t->duration_nanos;
    } else { /* no time in the profile: it ended when the file was written */
        f->until = mtime_ns(st);
        f->from = f->until - t->duration_nanos;
    }
    free(t);
    return rc;
}

/* Sets service_name, __name__ and the configured labels. */
static int label_profile(file_receiver *r, pp_profile *p, const char *type, const char *path)
{
    const pp_host *h = r->host;
    char service[256];
    if (r->service_name)
        snprintf(service, sizeof service, "%s", r->service_name);
    else
        name_from_file(path, service, sizeof service);
    int rc = h->label_set(p, "service_name", service) | h->label_set(p, "__name__", type);
    for (size_t i = 0; r->labels && i < h->cfg_count(r->labels); i++)
        rc |= h->label_set(p, h->cfg_key(r->labels, i), h->cfg_scalar(h->cfg_item(r->labels, i)));
    return rc ? -1 : 0;
}

/* The profile in `path`, proved to be one, labelled and timed; NULL with
 * the reason in err. */
static pp_profile *load_profile(file_receiver *r, const char *path, const struct stat *st,
                                char *err, size_t errlen)
{
    const pp_host *h = r->host;
    uint8_t *data = NULL;
    size_t len = 0;
    file_facts f = {0};
    if (read_whole(path, r->max_file_size, &data, &len, err, errlen) < 0)
        return NULL;
    if (probe(r, data, len, path, st, &f, err, errlen) < 0) {
        free(data);
        return NULL;
    }
    pp_profile *p = h->profile_new();
    int rc = p ? h->profile_set_raw(p, data, len) : -1;
    free(data);
    if (rc < 0 || label_profile(r, p, f.type, path) < 0) {
        text_errorf(err, errlen, "out of memory");
        if (p)
            h->profile_free(p);
        return NULL;
    }
    h->profile_set_window(p, f.from, f.until);
    return p;
}

/* ---------------------------------------------------------------- */
/* State across restarts                                             */
/* ---------------------------------------------------------------- */

/* Takes in the acknowledgements so far and, if anything finished or was
 * forgotten, writes the state file anew. */
static void save_state(file_receiver *r)
{
    if (!r->storage || !r->seen)
        return;
    if (file_inbox_drain(r->inbox, r->seen))
        r->state_dirty = 1;
    if (!r->state_dirty)
        return;
    size_t len = 0;
    char err[FILE_ERR_LEN];
    char *text = file_state_format(r->seen, &len);
    if (!text) {
        r->host->log(r->self, PP_LOG_ERROR, "out of memory saving state file=%s", r->state_path);
        return;
    }
    if (fileio_replace(r->state_path, text, len, err, sizeof err) < 0)
        r->host->log(r->self, PP_LOG_ERROR, "cannot save state: %s", err);
    else
        r->state_dirty = 0;
    free(text);
}

/* The state an earlier run saved; a bad file is logged and set aside
 * (renamed .bad), and the folder read again: at least once. */
static void load_state(file_receiver *r)
{
    char err[FILE_ERR_LEN], pattern[PATH_MAX];
    glob_t g; /* temporary files of a save a crash cut short */
    snprintf(pattern, sizeof pattern, "%s.tmp.*", r->state_path);
    if (glob(pattern, GLOB_NOSORT, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            unlink(g.gl_pathv[i]);
        globfree(&g);
    }
    if (file_state_load(r->state_path, r->seen, err, sizeof err) == 0) {
        r->host->log(r->self, PP_LOG_INFO, "resumed state file=%s files_finished=%zu",
                     r->state_path, seen_count(r->seen));
        return;
    }
    char bad[PATH_MAX];
    snprintf(bad, sizeof bad, "%s.bad", r->state_path);
    rename(r->state_path, bad);
    r->host->log(r->self, PP_LOG_ERROR,
                 "unreadable state, set aside as %s (files may be read again): %s", bad, err);
    seen_free(r->seen);
    r->seen = seen_new();
}

/* ---------------------------------------------------------------- */
/* What happens to a file after it was read                          */
/* ---------------------------------------------------------------- */

static void delete_on_ack(void *arg, uint64_t lost)
{
    file_ack *a = arg;
    struct stat st;
    if (lost == 0 && stat(a->path, &st) == 0) {
        seen_version now = version_of(&st);
        if (now.ino == a->version.ino && now.mtime_ns == a->version.mtime_ns &&
            now.size == a->version.size)
            unlink(a->path);
    }
    free(a);
}

static int set_delete_ack(file_receiver *r, pp_batch *b, const char *path, const seen_version *v)
{
    size_t n = strlen(path) + 1;
    file_ack *a = malloc(sizeof *a + n);
    if (!a)
        return -1;
    a->version = *v;
    memcpy(a->path, path, n);
    r->host->batch_set_ack(b, delete_on_ack, a);
    return 0;
}

static int in_dir(const char *path, const char *dir)
{
    char real_dir[PATH_MAX], real_path[PATH_MAX];
    if (!realpath(dir, real_dir) || !realpath(path, real_path))
        return 0;
    size_t n = strlen(real_dir);
    return strncmp(real_path, real_dir, n) == 0 && real_path[n] == '/' &&
           !strchr(real_path + n + 1, '/');
}

/* Moves a failed file into failed_dir, never over an earlier one. */
static int move_failed(file_receiver *r, const char *path, char *err, size_t errlen)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (mkdir(r->failed_dir, 0755) < 0 && errno != EEXIST)
        return text_errorf(err, errlen, "mkdir %s: %s", r->failed_dir, strerror(errno));
    char to[PATH_MAX];
    for (int i = 0; i < FAILED_NAME_TRIES; i++) {
        if (i == 0)
            snprintf(to, sizeof to, "%s/%s", r->failed_dir, base);
        else
            snprintf(to, sizeof to, "%s/%s.%d", r->failed_dir, base, i);
        if (access(to, F_OK) == 0)
            continue;
        if (rename(path, to) == 0)
            return 0;
        return text_errorf(err, errlen, "move to %s: %s", to, strerror(errno));
    }
    return text_errorf(err, errlen, "no free name in %s", r->failed_dir);
}

static void file_failed(file_receiver *r, const char *path, const seen_version *v,
                        const char *reason)
{
    const pp_host *h = r->host;
    char err[FILE_ERR_LEN];
    h->metric_add(r->m_failed, 1);
    /* a file already in failed_dir (which include may match) stays there */
    if (r->failed_dir && !in_dir(path, r->failed_dir)) {
        if (move_failed(r, path, err, sizeof err) == 0) {
            h->log(r->self, PP_LOG_WARN, "skipped bad profile file=%s reason=\"%s\" moved_to=%s",
                   path, reason, r->failed_dir);
            return;
        }
        h->log(r->self, PP_LOG_ERROR, "cannot move bad file file=%s reason=\"%s\"", path, err);
    }
    h->log(r->self, PP_LOG_WARN, "skipped bad profile file=%s reason=\"%s\"", path, reason);
    if (seen_record(r->seen, path, v) == 0) /* not again until rewritten */
        r->state_dirty |= seen_finish(r->seen, path, v);
}

/* With storage, the batch's ack says when the file is finished. */
static int set_state_ack(file_receiver *r, pp_batch *b, const char *path, const seen_version *v)
{
    file_inbox_ack *a = file_inbox_ack_new(r->inbox, path, v);
    if (!a)
        return -1;
    r->host->batch_set_ack(b, file_inbox_ack_done, a);
    return 0;
}

/* Reads, emits and remembers one file. 0, or -1 when the host shuts down. */
static int take_file(file_receiver *r, const char *path, const struct stat *st)
{
    const pp_host *h = r->host;
    char err[FILE_ERR_LEN];
    seen_version v = version_of(st);
    pp_profile *p = load_profile(r, path, st, err, sizeof err);
    if (!p) {
        file_failed(r, path, &v, err);
        return 0;
    }
    pp_batch *b = h->batch_new();
    /* the ack goes on after the profile: an ack set on an empty batch that
     * cannot be tracked would report it done at once */
    if (!b || h->batch_add(b, p) < 0 ||
        (r->delete_after_read && set_delete_ack(r, b, path, &v) < 0) ||
        (r->storage && set_state_ack(r, b, path, &v) < 0)) {
        h->log(r->self, PP_LOG_ERROR, "out of memory reading file=%s", path);
        if (b)
            h->batch_unref(b); /* batch_add freed p if it failed */
        else
            h->profile_free(p);
        return 0; /* not recorded: tried again on the next scan */
    }
    /* recorded before the emit: with delete_after_read the file stays on
     * disk until the ack, and a scan meanwhile must not read it again */
    if (seen_record(r->seen, path, &v) < 0)
        h->log(r->self, PP_LOG_WARN, "out of memory: file=%s may be read again", path);
    h->log(r->self, PP_LOG_DEBUG, "read file=%s bytes=%lld", path, (long long)st->st_size);
    h->metric_add(r->m_read, 1);
    if (h->emit(r->self, b) == 0)
        return 0;
    /* the host is stopping and dropped it: whoever scans next (a successor
     * after a reload, or the next start) must read the file again */
    seen_forget(r->seen, path);
    return -1;
}

/* ---------------------------------------------------------------- */
/* Scanning                                                          */
/* ---------------------------------------------------------------- */

static int excluded(const file_receiver *r, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < r->exclude.n; i++) {
        const char *pat = r->exclude.items[i];
        const char *subject = strchr(pat, '/') ? path : base;
        if (fnmatch(pat, subject, FNM_PATHNAME) == 0)
            return 1;
    }
    return 0;
}

static int sleep_or_stop(file_receiver *r, int64_t ns);

/* Past service.memory_limit's soft limit no file is read: the receiver
 * waits until memory is relieved. 1 if told to stop meanwhile. */
static int wait_for_memory(file_receiver *r)
{
    while (r->host->memory_pressure(r->self) != PP_MEMORY_OK)
        if (sleep_or_stop(r, FILE_MEMORY_WAIT_NS))
            return 1;
    return 0;
}

/* One path from a glob: 1 if it is a file too young to read yet, -1 when
 * the host shuts down, else 0. */
static int consider(file_receiver *r, const char *path, int64_t now_ns)
{
    struct stat st;
    if (excluded(r, path) || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    seen_version v = version_of(&st);
    if (seen_check(r->seen, path, &v))
        return 0;
    int finished = 0;
    const char *from = seen_find_moved(r->seen, path, &v, &finished);
    if (from) { /* rotated: the same file under a new name, already read */
        r->host->log(r->self, PP_LOG_DEBUG, "file=%s is %s renamed: not read again", path, from);
        if (seen_record(r->seen, path, &v) == 0 && finished)
            r->state_dirty |= seen_finish(r->seen, path, &v);
        return 0;
    }
    if (now_ns - v.mtime_ns < r->min_file_age_ns)
        return 1;
    if (wait_for_memory(r))
        return -1;
    return take_file(r, path, &st);
}

/* One pass over every include pattern. Sets *pending to the number of
 * files left for later because they are too young. 0, or -1 on shutdown. */
static int scan(file_receiver *r, int *pending)
{
    const pp_host *h = r->host;
    *pending = 0;
    seen_begin_scan(r->seen);
    for (size_t i = 0; i < r->include.n; i++) {
        glob_t g;
        int rc = glob(r->include.items[i], GLOB_BRACE | GLOB_TILDE, NULL, &g);
        if (rc != 0 && rc != GLOB_NOMATCH)
            h->log(r->self, PP_LOG_WARN, "cannot read pattern=%s", r->include.items[i]);
        for (size_t j = 0; rc == 0 && j < g.gl_pathc; j++) {
            if (atomic_load(&r->stopping))
                break;
            int c = consider(r, g.gl_pathv[j], h->now_ns());
            if (c < 0) {
                globfree(&g);
                return -1;
            }
            *pending += c;
        }
        if (rc == 0)
            globfree(&g);
    }
    if (!atomic_load(&r->stopping) && seen_sweep(r->seen) > 0) /* a cut-short scan proves nothing */
        r->state_dirty = 1;
    save_state(r);
    return atomic_load(&r->stopping) ? -1 : 0;
}

/* Sleeps up to ns; 1 if woken to stop. */
static int sleep_or_stop(file_receiver *r, int64_t ns)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ns / NS_PER_SEC;
    until.tv_nsec += ns % NS_PER_SEC;
    if (until.tv_nsec >= NS_PER_SEC) {
        until.tv_sec++;
        until.tv_nsec -= NS_PER_SEC;
    }
    pthread_mutex_lock(&r->lock);
    while (!atomic_load(&r->stopping) &&
           pthread_cond_timedwait(&r->wake, &r->lock, &until) != ETIMEDOUT) {
    }
    pthread_mutex_unlock(&r->lock);
    return atomic_load(&r->stopping);
}

/* Sleeps ns, saving acknowledged state every STATE_SAVE_NS meanwhile; 1
 * if woken to stop. */
static int wait_saving(file_receiver *r, int64_t ns)
{
    while (ns > 0) {
        int64_t slice = r->storage && ns > STATE_SAVE_NS ? STATE_SAVE_NS : ns;
        if (sleep_or_stop(r, slice))
            return 1;
        save_state(r);
        ns -= slice;
    }
    return 0;
}

static void *file_receiver_run(void *arg)
{
    file_receiver *r = arg;
    for (;;) {
        int pending;
        if (scan(r, &pending) < 0)
            break;
        int64_t wait = r->poll_interval_ns;
        if (wait == 0) { /* read once: only young files are left to wait for */
            if (pending == 0)
                break;
            wait = r->min_file_age_ns;
        }
        if (wait_saving(r, wait))
            break;
    }
    r->host->log(r->self, PP_LOG_DEBUG, "scanning stopped files_known=%zu", seen_count(r->seen));
    return NULL;
}

static int file_receiver_start(void *state)
{
    file_receiver *r = state;
    const pp_host *h = r->host;
    seen_set *before = seen_adopt(r->id); /* a reload: what the old one read */
    if (before) {
        seen_free(r->seen);
        r->seen = before;
    } else if (r->storage) { /* a start: what an earlier run finished */
        load_state(r);
    }
    r->m_read =
        h->metric(r->self, "file_receiver_files_total",
                  "Files read by the file receiver, by result.", PP_COUNTER, "result=\"read\"");
    r->m_failed =
        h->metric(r->self, "file_receiver_files_total",
                  "Files read by the file receiver, by result.", PP_COUNTER, "result=\"failed\"");
    if (pthread_create(&r->thread, NULL, file_receiver_run, r) != 0) {
        h->log(r->self, PP_LOG_ERROR, "cannot start the scanning thread");
        return -1;
    }
    r->started = 1;
    return 0;
}

static void file_receiver_stop(void *state, int64_t deadline_ns)
{
    file_receiver *r = state;
    (void)deadline_ns; /* a file in flight is one emit: joining is quick */
    if (!r->started)
        return;
    pthread_mutex_lock(&r->lock);
    atomic_store(&r->stopping, 1);
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    r->started = 0;
    save_state(r);
    seen_park(r->id, r->seen); /* for a successor after a reload */
    r->seen = NULL;
}

const pp_component pp_receiver_file = {
    .type = "file",
    .kind = PP_RECEIVER,
    .description = "Reads pprof files (gzip'd or plain) matching glob patterns, once "
                   "or watching for new ones.",
    .options = file_receiver_options,
    .create = file_receiver_create,
    .start = file_receiver_start,
    .stop = file_receiver_stop,
    .destroy = file_receiver_destroy,
};
