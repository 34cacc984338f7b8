/* ui_api: the JSON and pprof endpoints behind the page, usable by scripts
 * too (documented in the README):
 *   /api/v1/series    the series kept and the windows of each
 *   /api/v1/profile   one window or a merged range of a series, as a
 *                     flame graph, a top table, a diff, or a pprof file
 *   /api/v1/pipeline  the running graph with counters, reload state
 *   /api/v1/targets   scrape targets x profile types
 * Query parameters are checked before anything is decoded: a bad one is
 * a 400 that names it. A range is merged with profpipe's own pprof merge;
 * the page's copy of each window is only a reference to the pipeline's
 * payload, decoded here, per request, and freed after. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pprof_merge.h"
#include "profile.h"
#include "ui.h"
#include "ui_internal.h"

#define UI_DEFAULT_MAX_NODES 20000
#define UI_MAX_MAX_NODES 500000
#define UI_DEFAULT_TOP_LIMIT 1000
#define UI_MAX_TOP_LIMIT 100000
#define UI_ERR_MAX 512

typedef struct request {
    ui_arg_fn arg;
    void *ctx;
    ui_response *resp;
    FILE *out;
    char *buf;
    size_t size;
} request;

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int fail(request *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Replaces whatever was written with {"error": "..."}. */
static int fail(request *r, unsigned status, const char *fmt, ...)
{
    char msg[UI_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fflush(r->out);
    rewind(r->out);
    fprintf(r->out, "{");
    json_kstr(r->out, "error", msg, 0);
    fprintf(r->out, "}\n");
    r->resp->status = status;
    r->resp->content_type = "application/json";
    r->resp->filename[0] = '\0';
    return -1;
}

static const char *arg(request *r, const char *name)
{
    const char *v = r->arg(r->ctx, name);
    return v && v[0] ? v : NULL;
}

/* An optional integer parameter in [min, max]; -1 after a 400. */
static int int_arg(request *r, const char *name, int64_t min, int64_t max, int64_t *out)
{
    const char *v = arg(r, name);
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n < min || n > max)
        return fail(r, 400, "parameter %s: \"%s\" is not an integer from %lld to %lld", name, v,
                    (long long)min, (long long)max);
    *out = n;
    return 1;
}

/* A window id (window=) or a range in Unix milliseconds (from=, until=);
 * prefix is "" or "base_". 0: nothing given; 1: filled; -1: 400 sent. */
static int select_arg(request *r, const char *prefix, uint64_t series, ui_select *sel)
{
    char k_window[32], k_from[32], k_until[32];
    snprintf(k_window, sizeof k_window, "%swindow", prefix);
    snprintf(k_from, sizeof k_from, "%sfrom", prefix);
    snprintf(k_until, sizeof k_until, "%suntil", prefix);
    int64_t window = 0, from = INT64_MIN / NS_PER_MS, until = INT64_MAX / NS_PER_MS;
    int has_w = int_arg(r, k_window, 1, INT64_MAX, &window);
    int has_f = has_w < 0 ? -1 : int_arg(r, k_from, 0, INT64_MAX / NS_PER_MS, &from);
    int has_u = has_f < 0 ? -1 : int_arg(r, k_until, 0, INT64_MAX / NS_PER_MS, &until);
    if (has_u < 0)
        return -1;
    if (has_w && (has_f || has_u))
        return fail(r, 400, "give %s or %s/%s, not both", k_window, k_from, k_until);
    if (has_f && has_u && until <= from)
        return fail(r, 400, "parameter %s (%lld) must be after %s (%lld)", k_until,
                    (long long)until, k_from, (long long)from);
    *sel = (ui_select){.series = series,
                       .window_id = (uint64_t)window,
                       .from_ns = from * NS_PER_MS,
                       .until_ns = until * NS_PER_MS};
    return has_w || has_f || has_u;
}

/* Merges the selected windows into one profile (NULL after an error
 * response). *merged counts the windows in it. */
static pp_profile *merged_profile(request *r, const ui_select *sel, const char *what, long *merged)
{
    pp_profile **list;
    long n = ui_store_collect(sel, &list);
    if (n < 0) {
        fail(r, 404, "unknown series %016llx (see /api/v1/series)",
             (unsigned long long)sel->series);
        return NULL;
    }
    if (n == 0) {
        ui_store_release(list, n);
        fail(r, 404, "%s: no window of series %016llx in the range asked for", what,
             (unsigned long long)sel->series);
        return NULL;
    }
    char err[UI_ERR_MAX] = "";
    pp_profile *dst = NULL;
    *merged = 0;
    for (long i = 0; i < n; i++) {
        if (!dst) {
            if (profile_tree(list[i], err, sizeof err)) {
                dst = list[i];
                list[i] = NULL;
                *merged = 1;
            }
            continue;
        }
        if (pprof_merge(dst, list[i], err, sizeof err) == 0)
            (*merged)++;
    }
    ui_store_release(list, n);
    if (!dst)
        fail(r, 422, "%s: no window of the range could be decoded: %s", what, err);
    return dst;
}

static void set_download_name(request *r, pp_profile *p)
{
    const char *svc = profile_label_get(p, "service_name");
    const char *name = profile_label_get(p, "__name__");
    char *f = r->resp->filename;
    snprintf(f, sizeof r->resp->filename, "%s.%s.%lld.pb.gz", svc ? svc : "profile",
             name ? name : "pprof", (long long)(profile_from(p) / 1000000000LL));
    for (; *f; f++) /* a safe file name whatever the labels say */
        if (!((*f >= 'a' && *f <= 'z') || (*f >= 'A' && *f <= 'Z') || (*f >= '0' && *f <= '9') ||
              *f == '.' || *f == '-' || *f == '_'))
            *f = '_';
}

/* The merged profile as a gzip'd pprof, its default sample type set to
 * the one shown. */
static int write_pprof(request *r, pp_profile *p, const char *sample_name, long sample)
{
    char err[UI_ERR_MAX];
    if (sample_name) {
        pp_pprof *t = profile_tree_mut(p, err, sizeof err);
        if (!t)
            return fail(r, 500, "%s", err);
        t->default_sample_type = t->sample_types[sample].type;
    }
    const uint8_t *data;
    size_t len;
    if (profile_raw_gz(p, &data, &len, err, sizeof err) != 0)
        return fail(r, 500, "encoding the profile: %s", err);
    fwrite(data, 1, len, r->out);
    r->resp->content_type = "application/octet-stream";
    set_download_name(r, p);
    return 0;
}

/* The name of sample type i of p's (decoded) tree. */
static const char *shown_type(pp_profile *p, long i)
{
    const pp_pprof *t = profile_tree(p, NULL, 0);
    return t->strings[t->sample_types[i].type];
}

static int profile_view(request *r, const char *format, const ui_select *sel,
                        const ui_select *base_sel, int has_base)
{
    int64_t max_nodes = UI_DEFAULT_MAX_NODES, limit = UI_DEFAULT_TOP_LIMIT;
    if (int_arg(r, "max_nodes", 1, UI_MAX_MAX_NODES, &max_nodes) < 0 ||
        int_arg(r, "limit", 1, UI_MAX_TOP_LIMIT, &limit) < 0)
        return -1;
    long merged = 0, base_merged = 0;
    pp_profile *p = merged_profile(r, sel, "range", &merged);
    if (!p)
        return -1;
    pp_profile *base = has_base ? merged_profile(r, base_sel, "base range", &base_merged) : NULL;
    int rc = -1;
    char err[UI_ERR_MAX];
    const char *sample_name = arg(r, "sample_type");
    long sample = ui_sample_index(profile_tree(p, NULL, 0), sample_name, err, sizeof err);
    long base_sample = 0;
    if (has_base && !base) {
        rc = -1;
    } else if (sample < 0) {
        rc = fail(r, 400, "parameter sample_type: %s", err);
    } else if (base &&
               (base_sample = ui_sample_index(profile_tree(base, NULL, 0), shown_type(p, sample),
                                              err, sizeof err)) < 0) {
        rc = fail(r, 400, "base range: %s", err);
    } else if (strcmp(format, "pprof") == 0) {
        rc = write_pprof(r, p, sample_name, sample);
    } else if (strcmp(format, "top") == 0) {
        rc = ui_write_top(r->out, p, sample, (size_t)limit);
        if (rc != 0)
            fail(r, 500, "out of memory building the top table");
    } else {
        rc = ui_write_flamegraph(r->out, p, sample, base, base_sample, (size_t)max_nodes);
        if (rc != 0)
            fail(r, 500, "out of memory building the flame graph");
    }
    if (rc == 0 && strcmp(format, "pprof") != 0) {
        /* the object written ends with '}': add how it was made */
        fflush(r->out);
        fseeko(r->out, -1, SEEK_CUR);
        json_kint(r->out, "windows", merged, 1);
        if (base)
            json_kint(r->out, "base_windows", base_merged, 1);
        fputc('}', r->out);
    }
    profile_free(p);
    profile_free(base);
    return rc;
}

static int api_profile(request *r)
{
    uint64_t series;
    const char *id = arg(r, "series");
    if (!id)
        return fail(r, 400, "parameter series is required (an id from /api/v1/series)");
    if (ui_series_parse(id, &series) != 0)
        return fail(r, 400, "parameter series: \"%s\" is not a series id (16 hex digits)", id);
    const char *format = arg(r, "format");
    if (!format)
        format = "flamegraph";
    if (strcmp(format, "flamegraph") != 0 && strcmp(format, "top") != 0 &&
        strcmp(format, "pprof") != 0)
        return fail(r, 400, "parameter format: \"%s\" is not flamegraph, top or pprof", format);
    ui_select sel, base_sel;
    if (select_arg(r, "", series, &sel) < 0)
        return -1;
    int has_base = select_arg(r, "base_", series, &base_sel);
    if (has_base < 0)
        return -1;
    if (has_base && strcmp(format, "flamegraph") != 0)
        return fail(r, 400, "a base range (diff) is only for format=flamegraph");
    return profile_view(r, format, &sel, &base_sel, has_base);
}

int ui_api_handle(const char *path, ui_arg_fn argf, void *ctx, ui_response *resp)
{
    static const char *const paths[] = {"/api/v1/series", "/api/v1/profile", "/api/v1/pipeline",
                                        "/api/v1/targets"};
    size_t which = 0;
    while (which < 4 && strcmp(path, paths[which]) != 0)
        which++;
    memset(resp, 0, sizeof *resp);
    request r = {.arg = argf, .ctx = ctx, .resp = resp};
    r.out = open_memstream(&r.buf, &r.size);
    if (!r.out)
        return -1;
    resp->status = 200;
    resp->content_type = "application/json";
    if (which == 4)
        fail(&r, 404,
             "unknown API path %s (try /api/v1/series, /api/v1/profile, "
             "/api/v1/pipeline or /api/v1/targets)",
             path);
    else if (which == 0)
        ui_store_write_series(r.out);
    else if (which == 1)
        api_profile(&r);
    else if (which == 2)
        ui_status_write_pipeline(r.out, wall_ns());
    else
        ui_status_write_targets(r.out);
    if (strcmp(resp->content_type, "application/json") == 0 && resp->status == 200)
        fputc('\n', r.out);
    if (fclose(r.out) != 0) {
        free(r.buf);
        return -1;
    }
    resp->body = r.buf;
    resp->len = r.size;
    return 0;
}
