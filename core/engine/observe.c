/* observe: the engine's hooks for whoever watches it (observe.h). */
#include "observe.h"

#include <stddef.h>

static engine_observer hooks;

void engine_observe(const engine_observer *o)
{
    hooks = o ? *o : (engine_observer){0};
}

void observe_batch(pp_batch *b)
{
    if (hooks.batch)
        hooks.batch(b);
}

void observe_target_state(const char *component_id, const pp_target_state *st)
{
    if (hooks.target_state)
        hooks.target_state(component_id, st);
}

void observe_target_forget(const char *component_id, const char *target, const char *profile)
{
    if (hooks.target_forget)
        hooks.target_forget(component_id, target, profile);
}

size_t observe_shed(size_t want)
{
    return hooks.shed ? hooks.shed(want) : 0;
}

size_t observe_kept_bytes(void)
{
    return hooks.kept_bytes ? hooks.kept_bytes() : 0;
}
