/* A processor built against the frozen header of plugin ABI 2.0
 * (tests/support/abi/profpipe_2_0), never against the current one, as a
 * plugin built when 2.0 was released and never rebuilt would be. It uses
 * the host as such a plugin does: an option from its table, labels, the
 * decoded tree to change, a metric. Every profile it passes gets
 * plugin_abi (the header's version), host_abi (the version the host's
 * table says) and its sample values multiplied by `factor`, so
 * test_plugin_abi.sh can check field by field that it ran as written. */
#include <stdio.h>
#include <stdlib.h>

#include <profpipe/plugin.h>

#if PP_ABI_MAJOR != 2 || PP_ABI_MINOR != 0
#error "abi_2_0 must be built against the frozen 2.0 header (tests/support/abi/profpipe_2_0)"
#endif

#define ABI_TEXT 32

typedef struct stamp {
    const pp_host *h;
    pp_instance *self;
    int64_t factor;
    char plugin_abi[ABI_TEXT];
    char host_abi[ABI_TEXT];
    pp_metric *seen;
} stamp;

static const pp_option stamp_options[] = {
    {.name = "factor",
     .type = PP_OPT_INT,
     .default_value = "2",
     .description = "Every sample value is multiplied by it."},
    {0},
};

static int stamp_create(const pp_host *h, pp_instance *self, const pp_config *cfg, void **state)
{
    int64_t factor = h->cfg_int(cfg, "factor");
    if (factor < 1)
        return h->cfg_error(cfg, "factor", "must be at least 1");
    stamp *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->h = h;
    s->self = self;
    s->factor = factor;
    snprintf(s->plugin_abi, sizeof s->plugin_abi, "%d.%d", PP_ABI_MAJOR, PP_ABI_MINOR);
    snprintf(s->host_abi, sizeof s->host_abi, "%u.%u", h->abi_major, h->abi_minor);
    *state = s;
    return 0;
}

/* Labels and values of one profile; 0, or -1 when its tree is unreadable. */
static int stamp_profile(stamp *s, pp_profile *p)
{
    char err[256];
    pp_pprof *t = s->h->profile_tree_mut(p, err, sizeof err);
    if (!t) {
        s->h->log(s->self, PP_LOG_WARN, "unreadable profile passed as is: %s", err);
        return -1;
    }
    for (size_t i = 0; i < t->n_samples; i++)
        for (size_t v = 0; v < t->samples[i].n_values; v++)
            t->samples[i].values[v] *= s->factor;
    if (s->h->label_set(p, "plugin_abi", s->plugin_abi) < 0 ||
        s->h->label_set(p, "host_abi", s->host_abi) < 0)
        return -1;
    return 0;
}

static pp_batch *stamp_process(void *state, pp_batch *in)
{
    stamp *s = state;
    if (!s->seen)
        s->seen = s->h->metric(s->self, "abi_stamp_profiles_total", "Profiles stamped.", PP_COUNTER,
                               NULL);
    size_t n = s->h->batch_count(in);
    for (size_t i = 0; i < n; i++)
        if (stamp_profile(s, s->h->batch_get(in, i)) == 0)
            s->h->metric_add(s->seen, 1);
    return in;
}

static void stamp_destroy(void *state)
{
    free(state);
}

static const pp_component stamp_processor = {
    .type = "abi_stamp",
    .kind = PP_PROCESSOR,
    .description = "Built against plugin ABI 2.0: stamps versions, multiplies values.",
    .options = stamp_options,
    .flags = PP_MUTATES,
    .create = stamp_create,
    .destroy = stamp_destroy,
    .process = stamp_process,
};

static const pp_component *const stamp_components[] = {&stamp_processor, NULL};

__attribute__((visibility("default"))) const pp_module profpipe_module = {
    PP_MODULE_HEADER,
    .name = "abi_2_0",
    .components = stamp_components,
};
