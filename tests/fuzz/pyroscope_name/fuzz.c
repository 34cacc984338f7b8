/* Fuzz target: the /ingest `name` parser (app{key=value,...}). An accepted
 * name has a non-empty app, at most max_labels tags and valid keys. */
#include "fuzz_support.h"
#include "pyroscope_name.h"

#define MAX_LABELS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *text = fuzz_cstring(data, len);
    if (!text)
        return 0;
    pyro_name n;
    char err[256];
    if (pyro_name_parse(text, MAX_LABELS, &n, err, sizeof err) == 0) {
        FUZZ_CHECK(n.app != NULL, "accepted without an app");
        FUZZ_CHECK(n.n <= MAX_LABELS, "%zu tags", n.n);
        for (size_t i = 0; i < n.n; i++)
            FUZZ_CHECK(pyro_tag_key_valid(n.keys[i], strlen(n.keys[i])), "bad key \"%s\"",
                       n.keys[i]);
        pyro_name_free(&n);
    } else {
        FUZZ_CHECK(err[0] != '\0', "refused without a message");
    }
    free(text);
    return 0;
}
