/* observe: what the engine shows whoever watches it from above (the
 * built-in page in core/telemetry). The engine calls these hooks and knows
 * nothing of who answers, so it never includes a telemetry header. Set
 * once at start-up, before any component runs; NULL hooks are skipped. */
#ifndef PROFPIPE_OBSERVE_H
#define PROFPIPE_OBSERVE_H

#include <profpipe/plugin.h>

typedef struct engine_observer {
    /* each batch the processor chain hands to the exporters (borrowed;
     * any thread) */
    void (*batch)(pp_batch *b);
    /* pp_host.target_state / target_forget, with the component's id */
    void (*target_state)(const char *component_id, const pp_target_state *st);
    void (*target_forget)(const char *component_id, const char *target, const char *profile);
    /* memory pressure: let go of about `want` bytes of what the watcher
     * keeps; the bytes freed (memlimit.c asks before refusing anyone) */
    size_t (*shed)(size_t want);
    /* the bytes the watcher keeps now, counted inside the memory limit */
    size_t (*kept_bytes)(void);
} engine_observer;

/* Installs the hooks (copied); NULL removes them. */
void engine_observe(const engine_observer *o);

void observe_batch(pp_batch *b);
void observe_target_state(const char *component_id, const pp_target_state *st);
void observe_target_forget(const char *component_id, const char *target, const char *profile);
size_t observe_shed(size_t want); /* 0 without a hook */
size_t observe_kept_bytes(void);  /* 0 without a hook */

#endif
