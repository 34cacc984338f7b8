/* Fuzz target: the config loader. One YAML document goes through the
 * loader (syntax, anchors and aliases, ${env:...}, sections, pipelines)
 * and every defined component's option checks, as `profpipe validate`
 * runs them (plugins named in the config are not loaded). Every error
 * must carry a message. */
#include "config.h"
#include "fuzz_support.h"
#include "service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *text = fuzz_cstring(data, len);
    if (!text)
        return 0;
    config *c = config_load_string(text, "fuzz.yaml");
    if (c) {
        service_check(c, 0);
        for (size_t i = 0; i < c->n_errors; i++)
            FUZZ_CHECK(c->errors[i] && c->errors[i][0], "error %zu has no message", i);
    }
    config_free(c);
    free(text);
    return 0;
}
