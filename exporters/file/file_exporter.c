/* file exporter: writes each profile as a gzip'd pprof file that
 * `go tool pprof` opens, plus one line in a JSON-lines index.
 *
 * Layout and atomicity live in file_store (safe names, temp + rename
 * without replacing, optional fsync of the file and its folder), the index
 * in file_index (append after the file is in place; compacted as retention
 * deletes). This file is the component: options, the export loop and how
 * each failure maps onto the host's outcome: a profile that cannot be
 * encoded is rejected for good, a filesystem error (ENOSPC, EACCES, a
 * missing mount) is retried by the host with backoff.
 *
 * All disk work happens on the exporter's one worker thread; start() only
 * prepares the folder, and if that fails (a mount not there yet) the first
 * export() tries again, so a late disk costs retries, not the process. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <profpipe/plugin.h>

#include "file_index.h"
#include "file_store.h"

#define EXPORT_ERR_LEN 512

typedef enum write_result {
    WRITE_DONE = 0,
    WRITE_REJECT, /* the profile itself is bad */
    WRITE_RETRY,  /* the disk said no */
} write_result;

typedef struct file_exporter {
    const pp_host *host;
    pp_instance *self;
    const char *directory; /* borrowed from the config */
    int do_fsync;
    int64_t max_total_size, max_age_ns;

    int ready; /* folder made, existing files listed, index open */
    file_index index;
    store_list files;
    store_names names; /* where each name's `-N` search starts */
    pp_metric *m_bytes, *m_deleted, *m_disk_bytes;
} file_exporter;

static const pp_option file_exporter_options[] = {
    {"directory", PP_OPT_STRING, NULL,
     "root folder: profiles go to `<directory>/<service_name>/<__name__>/`, the index "
     "to `<directory>/index.jsonl`; relative to the working directory",
     1, NULL, PP_FIELD(file_exporter, directory)},
    {"fsync", PP_OPT_BOOL, "false",
     "fsync each file, its folder and the index before a profile counts as exported", 0, NULL,
     PP_FIELD(file_exporter, do_fsync)},
    {"max_total_size", PP_OPT_SIZE, "1GiB",
     "delete the oldest profiles while all of them take more; 0 = no limit", 0, NULL,
     PP_FIELD(file_exporter, max_total_size), .min = "0"},
    {"max_age", PP_OPT_DURATION, "0s", "delete profiles written longer ago than this; 0 = keep", 0,
     NULL, PP_FIELD(file_exporter, max_age_ns), .min = "0s"},
    {0},
};

/* Rule: the directory is named ("" would write into the working one). */
static int refuse_empty_directory(const pp_host *host, const pp_config *cfg, const char *directory)
{
    if (!directory || !*directory)
        return host->cfg_error(cfg, "directory", "must not be empty");
    return 0;
}

/* The host does not call destroy() after a failed create(): e is freed
 * here when the checks fail. */
static int file_exporter_create(const pp_host *host, pp_instance *self, const pp_config *cfg,
                                void **state)
{
    file_exporter *e = calloc(1, sizeof *e);
    if (!e)
        return host->cfg_error(cfg, NULL, "out of memory");
    if (host->cfg_fill(cfg, file_exporter_options, e) < 0 ||
        refuse_empty_directory(host, cfg, e->directory) < 0) {
        free(e);
        return -1;
    }
    e->host = host;
    e->self = self;
    e->index.fd = -1;
    *state = e;
    return 0;
}

static void file_exporter_destroy(void *state)
{
    file_exporter *e = state;
    if (!e)
        return;
    index_close(&e->index);
    store_list_free(&e->files);
    free(e);
}

/* Deletes what retention says must go and tells the index. */
static void retain(file_exporter *e)
{
    const pp_host *h = e->host;
    char err[EXPORT_ERR_LEN];
    size_t n = store_retain(&e->files, e->directory, e->max_total_size, e->max_age_ns, h->now_ns());
    h->metric_set(e->m_disk_bytes, (double)e->files.total_size);
    if (n == 0)
        return;
    h->metric_add(e->m_deleted, (double)n);
    if (index_forget(&e->index, n, err, sizeof err) < 0)
        h->log(e->self, PP_LOG_WARN, "index compaction failed: %s", err);
}

/* Makes the folder, lists the profiles already there, opens the index. */
static int prepare(file_exporter *e, char *err, size_t errlen)
{
    if (e->ready)
        return 0;
    store_list_free(&e->files);
    if (store_mkdirs(e->directory, err, errlen) < 0 ||
        store_list_scan(&e->files, e->directory, err, errlen) < 0 ||
        index_open(&e->index, e->directory, e->do_fsync, err, errlen) < 0)
        return -1;
    e->ready = 1;
    retain(e);
    return 0;
}

static int file_exporter_start(void *state)
{
    file_exporter *e = state;
    const pp_host *h = e->host;
    char err[EXPORT_ERR_LEN];
    e->m_bytes = h->metric(e->self, "file_exporter_written_bytes_total",
                           "Bytes of profile files written.", PP_COUNTER, NULL);
    e->m_deleted = h->metric(e->self, "file_exporter_deleted_files_total",
                             "Profile files deleted by retention.", PP_COUNTER, NULL);
    e->m_disk_bytes = h->metric(e->self, "file_exporter_disk_bytes",
                                "Bytes of profile files on disk.", PP_GAUGE, NULL);
    if (prepare(e, err, sizeof err) < 0)
        h->log(e->self, PP_LOG_WARN, "directory not ready, retrying on export: %s", err);
    return 0;
}

/* "type/unit" of a sample type as a JSON string, every byte of both
 * (pprof strings may hold NUL bytes). */
static void type_unit(const pp_host *h, const pp_pprof *t, const pp_value_type *v, json_buf *b)
{
    size_t tl = h->pprof_string_len(t, v->type), ul = h->pprof_string_len(t, v->unit);
    char *text = malloc(tl + ul + 2);
    if (!text) {
        b->failed = 1;
        return;
    }
    memcpy(text, t->strings[v->type], tl);
    text[tl] = '/';
    memcpy(text + tl + 1, t->strings[v->unit], ul);
    json_bytes(b, text, tl + 1 + ul);
    free(text);
}

/* The index line of one written profile. */
static void index_line(file_exporter *e, pp_profile *p, const pp_pprof *t, const char *relpath,
                       size_t bytes, json_buf *b)
{
    const pp_host *h = e->host;
    char fp[32];
    json_raw(b, "{\"path\":");
    json_string(b, relpath);
    json_raw(b, ",\"labels\":{");
    for (size_t i = 0; i < h->label_count(p); i++) {
        if (i)
            json_raw(b, ",");
        json_string(b, h->label_name(p, i));
        json_raw(b, ":");
        json_string(b, h->label_value(p, i));
    }
    json_raw(b, "},\"from\":");
    json_int(b, h->profile_from(p));
    json_raw(b, ",\"until\":");
    json_int(b, h->profile_until(p));
    json_raw(b, ",\"sample_types\":[");
    for (size_t i = 0; i < t->n_sample_types; i++) {
        if (i)
            json_raw(b, ",");
        type_unit(h, t, &t->sample_types[i], b);
    }
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)h->labels_fingerprint(p));
    json_raw(b, "],\"bytes\":");
    json_int(b, (int64_t)bytes);
    json_raw(b, ",\"fingerprint\":");
    json_string(b, fp);
    json_raw(b, "}");
}

/* Lists the written file in the index; undoes the file if that fails. */
static write_result record(file_exporter *e, pp_profile *p, const pp_pprof *t, const char *relpath,
                           size_t bytes, char *err, size_t errlen)
{
    char path[PATH_MAX];
    json_buf line = {0};
    index_line(e, p, t, relpath, bytes, &line);
    int rc = line.failed ? text_errorf(err, errlen, "out of memory")
                         : index_append(&e->index, line.text, line.len, err, errlen);
    json_free(&line);
    if (rc < 0) {
        /* no file without its line: the retry writes both */
        if (store_join(path, sizeof path, e->directory, relpath) == 0)
            unlink(path);
        return WRITE_RETRY;
    }
    if (store_list_add(&e->files, relpath, (int64_t)bytes, e->host->now_ns()) < 0)
        e->host->log(e->self, PP_LOG_WARN, "out of memory: %s left out of retention", relpath);
    e->host->metric_add(e->m_bytes, (double)bytes);
    return WRITE_DONE;
}

static write_result write_profile(file_exporter *e, pp_profile *p, char *err, size_t errlen)
{
    const pp_host *h = e->host;
    const uint8_t *gz;
    size_t len;
    const pp_pprof *t = h->profile_tree(p, err, errlen);
    if (!t || h->profile_raw_gz(p, &gz, &len, err, errlen) < 0)
        return WRITE_REJECT;

    char service[STORE_MAX_COMPONENT + 1], family[STORE_MAX_COMPONENT + 1];
    char dir[PATH_MAX], base[NAME_MAX], name[NAME_MAX + 1], relpath[PATH_MAX];
    store_sanitize(h->label_get(p, "service_name"), service, sizeof service);
    store_sanitize(h->label_get(p, "__name__"), family, sizeof family);
    snprintf(dir, sizeof dir, "%s/%s/%s", e->directory, service, family);
    snprintf(base, sizeof base, "%lld-%lld-%016llx", (long long)h->profile_from(p),
             (long long)h->profile_until(p), (unsigned long long)h->labels_fingerprint(p));
    if (store_mkdirs(dir, err, errlen) < 0 ||
        store_write(&e->names, dir, base, gz, len, e->do_fsync, name, sizeof name, err, errlen) < 0)
        return WRITE_RETRY;
    snprintf(relpath, sizeof relpath, "%s/%s/%s", service, family, name);
    return record(e, p, t, relpath, len, err, errlen);
}

static pp_status file_exporter_export(void *state, pp_batch *b, pp_outcome *outcome,
                                      pp_export_result *result)
{
    file_exporter *e = state;
    const pp_host *h = e->host;
    char err[EXPORT_ERR_LEN];
    if (prepare(e, result->message, sizeof result->message) < 0)
        return PP_RETRY;
    pp_status status = PP_OK;
    for (size_t i = 0; i < h->batch_count(b); i++) {
        if (outcome[i] != PP_PENDING)
            continue;
        write_result w = write_profile(e, h->batch_get(b, i), err, sizeof err);
        if (w == WRITE_RETRY) {
            snprintf(result->message, sizeof result->message, "%s", err);
            status = PP_RETRY;
            break;
        }
        if (w == WRITE_REJECT)
            h->log(e->self, PP_LOG_WARN, "rejected a profile it cannot encode: %s", err);
        outcome[i] = w == WRITE_DONE ? PP_EXPORTED : PP_REJECTED;
    }
    retain(e);
    return status;
}

const pp_component pp_exporter_file = {
    .type = "file",
    .kind = PP_EXPORTER,
    .description = "Writes each profile as a gzip'd pprof file under "
                   "<directory>/<service_name>/<__name__>/ and lists it in index.jsonl.",
    .options = file_exporter_options,
    .create = file_exporter_create,
    .start = file_exporter_start,
    .destroy = file_exporter_destroy,
    .export = file_exporter_export,
};
