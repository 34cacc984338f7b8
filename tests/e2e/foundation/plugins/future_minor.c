/* A plugin built against a minor newer than the host's, made from the
 * current header the way that newer header would lay it out: one host
 * call and one pp_component callback appended. It checks the call with
 * the size of the host's table, as PP_HOST_HAS does, and labels each
 * profile future_call=present|absent. Built twice: leaving the new
 * callback NULL (the host must load it and it must run) and, with
 * FUTURE_SETS_CALLBACK, setting it (the host must refuse it, naming both
 * versions: it would never call that callback). */
#include <stddef.h>
#include <stdlib.h>

#include <profpipe/plugin.h>

/* pp_host and pp_component as the next minor has them. */
typedef struct future_host {
    pp_host now;
    int (*future_call)(void);
} future_host;

typedef struct future_component {
    pp_component now;
    void (*future_callback)(void *state);
} future_component;

typedef struct future_state {
    const pp_host *h;
    const char *call;
} future_state;

static const pp_option future_options[] = {{0}};

static int future_create(const pp_host *h, pp_instance *self, const pp_config *cfg, void **state)
{
    (void)self, (void)cfg;
    future_state *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->h = h;
    s->call = h->size >= offsetof(future_host, future_call) + sizeof(void (*)(void)) ? "present"
                                                                                     : "absent";
    *state = s;
    return 0;
}

static pp_batch *future_process(void *state, pp_batch *in)
{
    future_state *s = state;
    for (size_t i = 0; i < s->h->batch_count(in); i++)
        s->h->label_set(s->h->batch_get(in, i), "future_call", s->call);
    return in;
}

static void future_destroy(void *state)
{
    free(state);
}

#ifdef FUTURE_SETS_CALLBACK
static void future_callback(void *state)
{
    (void)state;
}
#define FUTURE_CALLBACK future_callback
#else
#define FUTURE_CALLBACK NULL
#endif

static const future_component future_processor = {
    .now =
        {
            .type = "future_minor",
            .kind = PP_PROCESSOR,
            .description = "Built against the next minor of the plugin ABI.",
            .options = future_options,
            .create = future_create,
            .destroy = future_destroy,
            .process = future_process,
        },
    .future_callback = FUTURE_CALLBACK,
};

static const pp_component *const future_components[] = {&future_processor.now, NULL};

__attribute__((visibility("default"))) const pp_module profpipe_module = {
    .signature = PP_MODULE_SIGNATURE,
    .abi_major = PP_ABI_MAJOR,
    .abi_minor = PP_ABI_MINOR + 1,
    .component_size = sizeof(future_component),
    .size = sizeof(pp_module),
    .name = "future_minor",
    .components = future_components,
};
