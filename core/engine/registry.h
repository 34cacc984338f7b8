/* registry: every component type the process knows, built-in or loaded
 * from a plugin .so. A type name is unique per kind. Plugins are loaded
 * once and never unloaded (their code may still be on a thread's stack
 * during a reload). */
#ifndef PROFPIPE_REGISTRY_H
#define PROFPIPE_REGISTRY_H

#include <stddef.h>
#include <profpipe/plugin.h>

/* Registers the built-in components (idempotent). */
void registry_init(void);
/* dlopen()s a plugin and registers its components: a missing file, a
 * missing `profpipe_module`, a bad signature or ABI version, or a type
 * already registered is an error (-1, reason in err). Loading the same
 * path twice is a no-op. */
int registry_load_plugin(const char *path, char *err, size_t errlen);
const pp_component *registry_find(pp_kind kind, const char *type);
size_t registry_count(void);
const pp_component *registry_at(size_t i);
/* Where a component came from: "built-in" or the plugin path. */
const char *registry_origin(size_t i);
const char *kind_name(pp_kind kind); /* "receiver", ... */

#endif
