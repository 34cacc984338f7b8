/* ui_internal: what the files of core/ui share. Not for the rest of the
 * core (see ui.h). */
#ifndef PROFPIPE_UI_INTERNAL_H
#define PROFPIPE_UI_INTERNAL_H

#include <profpipe/plugin.h>
#include <stdint.h>
#include <stdio.h>
#include "pp_constants.h"

/* ---- ui_json.c: writing JSON to a FILE ---- */
void json_str(FILE *out, const char *s); /* quoted and escaped; NULL is null */
void json_kstr(FILE *out, const char *key, const char *value, int comma);
void json_knum(FILE *out, const char *key, double value, int comma);
void json_kint(FILE *out, const char *key, int64_t value, int comma);

/* ---- ui_store.c: recent profile windows ---- */
/* Selects windows of one series: window_id > 0 picks that window alone;
 * otherwise those overlapping [from_ns, until_ns) (a zero-length window
 * counts when its instant is inside). */
typedef struct ui_select {
    uint64_t series;
    uint64_t window_id;
    int64_t from_ns, until_ns;
} ui_select;

/* Writes {"retention_s":..,"series":[...]} (the store's state). */
void ui_store_write_series(FILE *out);
/* Clones (sharing the payloads) of the selected windows, oldest first, in
 * a malloc'd array the caller frees with ui_store_release. Returns the
 * count (0: none in range), or -1 if the series is unknown. */
long ui_store_collect(const ui_select *sel, pp_profile ***out);
void ui_store_release(pp_profile **profiles, long n);
/* Drops windows past retention (now_ns: wall clock). */
void ui_store_expire(int64_t now_ns);
void ui_store_reset(void);
/* Parses the 16-hex-digit id the series list gives; -1 if malformed. */
int ui_series_parse(const char *text, uint64_t *out);

/* ---- ui_status.c: the running graph, errors, targets ---- */
void ui_status_write_pipeline(FILE *out, int64_t now_ns);
void ui_status_write_targets(FILE *out);
void ui_status_install(void); /* starts watching the log for errors */
void ui_status_reset(void);

/* ---- ui_flame.c: views of a merged profile ---- */
/* The sample type to show: by name ("cpu"), or the profile's default;
 * -1 with the valid names in err. */
long ui_sample_index(const pp_pprof *t, const char *name, char *err, size_t errlen);
/* The flame graph as compact JSON (see README); base may be NULL, else
 * every node also carries its value in base (a diff). max_nodes bounds
 * the output (the smallest nodes are left out). */
int ui_write_flamegraph(FILE *out, pp_profile *p, long sample, pp_profile *base, long base_sample,
                        size_t max_nodes);
/* Functions with flat and cumulative values, heaviest flat first. */
int ui_write_top(FILE *out, pp_profile *p, long sample, size_t limit);

/* ---- ui_api.c: endpoints, independent of the HTTP library ---- */
typedef const char *(*ui_arg_fn)(void *ctx, const char *name);
typedef struct ui_response {
    unsigned status;
    const char *content_type;
    char *body; /* malloc'd */
    size_t len;
    char filename[128]; /* non-empty: offered as a download */
} ui_response;
/* Fills resp for a GET of path (without the query), a 404 for an
 * unknown /api/ path; 0, or -1 when out of memory. */
int ui_api_handle(const char *path, ui_arg_fn arg, void *ctx, ui_response *resp);

/* ---- ui_assets.c (generated): the page's files ---- */
typedef struct ui_asset {
    const char *path; /* "/ui/app.js" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} ui_asset;
const ui_asset *ui_asset_find(const char *path);

#endif
