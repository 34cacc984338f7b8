/* Fuzz target: the JSON reader the pyroscope receiver uses for push JSON
 * and sample_type_config, through its header (pyroscope_json.h) only, so
 * that the harness keeps working whatever parser implements it. A parsed
 * document is walked; the base64 decoder gets every string. */
#include "fuzz_support.h"
#include "pyroscope_json.h"

#define WALK_MAX_DEPTH (PJ_MAX_DEPTH + 1)

static void walk(const pj_value *v, int depth)
{
    FUZZ_CHECK(depth <= WALK_MAX_DEPTH, "tree deeper than PJ_MAX_DEPTH");
    if (v->type == PJ_STRING) {
        unsigned char *out;
        size_t out_len;
        if (pj_base64_decode(v->str, v->len, &out, &out_len) == 0) {
            FUZZ_CHECK(out_len <= v->len, "base64 grew: %zu > %zu", out_len, v->len);
            free(out);
        }
    }
    if (v->type == PJ_OBJECT)
        for (size_t i = 0; i < v->n; i++)
            FUZZ_CHECK(pj_get(v, v->keys[i]) != NULL, "member \"%s\" not found", v->keys[i]);
    if (v->type == PJ_ARRAY || v->type == PJ_OBJECT)
        for (size_t i = 0; i < v->n; i++)
            walk(&v->items[i], depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    /* exactly len bytes, not NUL-terminated: the parser must not need one */
    char *text = malloc(len ? len : 1);
    if (!text)
        return 0;
    memcpy(text, data, len);
    pj_value v;
    char err[256];
    if (pj_parse(text, len, &v, err, sizeof err) == 0) {
        walk(&v, 0);
        (void)pj_get(&v, "series");
        pj_free(&v);
    } else {
        FUZZ_CHECK(err[0] != '\0', "refused without a message");
    }
    free(text);
    return 0;
}
