/* Fuzz target: the multipart/form-data reader of /ingest. The input is
 * "<Content-Type value>\n<body>" (the seeds are the Go SDK's bodies):
 * the boundary is taken from the header, the body split into parts, and
 * the sample_type_config part read as JSON, as the handler does. Every
 * part must lie inside the body. */
#include "fuzz_support.h"
#include "pyroscope_json.h"
#include "pyroscope_multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    size_t head_len, body_len;
    const uint8_t *body = fuzz_split(data, len, "\n", &head_len, &body_len);
    char *content_type = fuzz_cstring(data, head_len);
    char boundary[PYRO_BOUNDARY_MAX + 1];
    if (!content_type || pyro_multipart_boundary(content_type, boundary, sizeof boundary) != 0) {
        free(content_type);
        return 0;
    }
    free(content_type);
    /* a copy of exactly body_len bytes, so ASan sees any read past it */
    unsigned char *copy = malloc(body_len ? body_len : 1);
    if (!copy)
        return 0;
    memcpy(copy, body, body_len);
    pyro_part parts[PYRO_MULTIPART_MAX_PARTS];
    char err[256];
    int n = pyro_multipart_parse(copy, body_len, boundary, parts, err, sizeof err);
    FUZZ_CHECK(n <= PYRO_MULTIPART_MAX_PARTS, "%d parts", n);
    for (int i = 0; i < n; i++)
        FUZZ_CHECK(parts[i].data >= copy && parts[i].len <= body_len &&
                       (size_t)(parts[i].data - copy) <= body_len - parts[i].len,
                   "part %d outside the body", i);
    const pyro_part *cfg = n > 0 ? pyro_multipart_get(parts, n, "sample_type_config") : NULL;
    if (cfg) {
        pj_value v;
        if (pj_parse((const char *)cfg->data, cfg->len, &v, err, sizeof err) == 0)
            pj_free(&v);
    }
    free(copy);
    return 0;
}
