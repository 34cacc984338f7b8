/* ui_http: the page on libmicrohttpd. http.c hands over the URLs
 * ui_handles() takes; this file maps them to an embedded file or to an
 * endpoint of ui_api.c, reading query parameters from the connection. */
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "ui.h"
#include "ui_internal.h"

#define UI_INDEX "/ui/index.html"
/* Everything the page loads comes from this listener; nothing else runs. */
#define UI_CSP                                                                                     \
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src "      \
    "'self'; "                                                                                     \
    "connect-src 'self'; frame-ancestors 'none'"

int ui_handles(const char *url)
{
    return strcmp(url, "/") == 0 || strcmp(url, "/ui") == 0 || strncmp(url, "/ui/", 4) == 0 ||
           strncmp(url, "/api/", 5) == 0;
}

static const char *query_arg(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

static int respond(struct MHD_Connection *conn, unsigned status, const char *type, void *body,
                   size_t len, enum MHD_ResponseMemoryMode mode, const char *filename)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy", UI_CSP);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (filename && filename[0]) {
        char disposition[192];
        snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"", filename);
        MHD_add_response_header(r, "Content-Disposition", disposition);
    }
    int ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static int text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    return respond(conn, status, "text/plain", (void *)msg, strlen(msg), MHD_RESPMEM_PERSISTENT,
                   NULL);
}

int ui_handle(struct MHD_Connection *conn, const char *url)
{
    if (!ui_enabled())
        return text(conn, MHD_HTTP_NOT_FOUND,
                    "the built-in page is off (service.ui.enabled: false); try /metrics\n");
    if (strncmp(url, "/api/", 5) == 0) {
        ui_response resp;
        if (ui_api_handle(url, query_arg, conn, &resp) != 0)
            return MHD_NO;
        return respond(conn, resp.status, resp.content_type, resp.body, resp.len,
                       MHD_RESPMEM_MUST_FREE, resp.filename);
    }
    if (strcmp(url, "/") == 0 || strcmp(url, "/ui") == 0 || strcmp(url, "/ui/") == 0)
        url = UI_INDEX;
    const ui_asset *a = ui_asset_find(url);
    if (!a)
        return text(conn, MHD_HTTP_NOT_FOUND, "not found: the page is at /, metrics at /metrics\n");
    return respond(conn, MHD_HTTP_OK, a->content_type, (void *)a->data, a->len,
                   MHD_RESPMEM_PERSISTENT, NULL);
}

void ui_reset(void)
{
    ui_store_reset();
    ui_status_reset();
}
