/* harness: builds one component from YAML option text through the real
 * config checker and host API, for unit tests of components. A receiver's
 * emitted batches are captured instead of going to pipelines. */
#ifndef PROFPIPE_HARNESS_H
#define PROFPIPE_HARNESS_H

#include <stddef.h>
#include <profpipe/plugin.h>

typedef struct harness harness;

/* yaml_options: the component's options as YAML (a mapping; "" for none).
 * NULL on invalid options, with the first error in err. */
harness *harness_new(const pp_component *comp, const char *id, const char *yaml_options, char *err,
                     size_t errlen);
void *harness_state(harness *h);
pp_instance *harness_instance(harness *h);
const pp_host *harness_host(void);
int harness_start(harness *h);
/* Receivers: the next emitted batch (caller unrefs), or NULL after timeout. */
pp_batch *harness_wait_emit(harness *h, int timeout_ms);
/* Stops (if started) and destroys. */
void harness_free(harness *h);

#endif
