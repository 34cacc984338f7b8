/* Fuzz target: the config loader. One YAML document goes through the
 * loader (syntax, anchors and aliases, ${env:...}, sections, pipelines)
 * and every defined component's option checks, as `profpipe validate`
 * runs them (plugins named in the config are not loaded). Every error
 * must carry a message. A config that passes then goes through cfg_fill
 * with each component's table (into a buffer as large as the table's
 * fields reach), as create() does: a refusal must say why. */
#include "config.h"
#include "config_fill.h"
#include "exporter.h"
#include "fuzz_support.h"
#include "registry.h"
#include "service.h"

/* Bytes a table's PP_FIELDs reach (a SECTION's field holds its children). */
static size_t table_extent(const pp_option *table)
{
    size_t end = 0;
    for (const pp_option *o = table; o && o->name; o++)
        if (o->size && o->offset + o->size > end)
            end = o->offset + o->size;
    return end;
}

static void fill_with(config *c, const pp_config *node, const pp_option *table)
{
    size_t before = c->n_errors;
    void *buf = calloc(1, table_extent(table) + 1);
    if (!buf)
        return;
    if (cfg_fill(node, table, buf) < 0)
        FUZZ_CHECK(c->n_errors > before, "cfg_fill refused without an error");
    free(buf);
}

static void fill_components(config *c)
{
    for (size_t i = 0; i < c->n_components && c->n_errors == 0; i++) {
        config_component *cc = &c->components[i];
        const pp_component *comp = registry_find(cc->kind, cc->type);
        if (!comp || !cc->node)
            continue;
        fill_with(c, cc->node, comp->options);
        if (cc->kind == PP_EXPORTER)
            fill_with(c, cc->node, exporter_common_options);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *text = fuzz_cstring(data, len);
    if (!text)
        return 0;
    config *c = config_load_string(text, "fuzz.yaml");
    if (c) {
        service_check(c, 0);
        fill_components(c);
        for (size_t i = 0; i < c->n_errors; i++)
            FUZZ_CHECK(c->errors[i] && c->errors[i][0], "error %zu has no message", i);
    }
    config_free(c);
    free(text);
    return 0;
}
