/* registry: a flat array of (component, origin). The checks at plugin
 * load follow nginx's module loading: the signature says "this is a
 * profpipe module at all", the ABI major says "built against a layout we
 * share", and only then is anything else inside it read. A plugin's
 * components are copied into descriptors of this host's size (members of
 * a minor newer than the plugin's left NULL), so the host never reads
 * past the end of an older plugin's descriptor. */
#include "registry.h"

#include <dlfcn.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const pp_component *const builtin_components[];

typedef struct registry_entry {
    const pp_component *component;
    const char *origin; /* "built-in" or a strdup'ed path */
} registry_entry;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static registry_entry *entries;
static size_t n_entries, cap_entries;
static char **loaded_paths;
static size_t n_loaded;
static int builtins_done;

const char *kind_name(pp_kind kind)
{
    switch (kind) {
    case PP_RECEIVER:
        return "receiver";
    case PP_PROCESSOR:
        return "processor";
    case PP_EXPORTER:
        return "exporter";
    }
    return "unknown";
}

static const pp_component *find_locked(pp_kind kind, const char *type)
{
    for (size_t i = 0; i < n_entries; i++) {
        const pp_component *c = entries[i].component;
        if (c->kind == kind && strcmp(c->type, type) == 0)
            return c;
    }
    return NULL;
}

static int add_locked(const pp_component *c, const char *origin)
{
    if (n_entries == cap_entries) {
        size_t cap = cap_entries ? cap_entries * 2 : 32;
        registry_entry *grown = realloc(entries, cap * sizeof *grown);
        if (!grown)
            return -1;
        entries = grown;
        cap_entries = cap;
    }
    entries[n_entries].component = c;
    entries[n_entries].origin = origin;
    n_entries++;
    return 0;
}

void registry_init(void)
{
    pthread_mutex_lock(&registry_lock);
    if (!builtins_done) {
        for (size_t i = 0; builtin_components[i]; i++)
            add_locked(builtin_components[i], "built-in");
        builtins_done = 1;
    }
    pthread_mutex_unlock(&registry_lock);
}

static int component_valid(const pp_component *c, char *why, size_t len)
{
    if (!c->type || !c->type[0])
        return snprintf(why, len, "a component has no type name"), -1;
    if (c->kind != PP_RECEIVER && c->kind != PP_PROCESSOR && c->kind != PP_EXPORTER)
        return snprintf(why, len, "component %s has an unknown kind %d", c->type, (int)c->kind), -1;
    if (!c->create || !c->destroy)
        return snprintf(why, len, "component %s has no create/destroy callback", c->type), -1;
    if (c->kind == PP_PROCESSOR && !c->process)
        return snprintf(why, len, "processor %s has no process callback", c->type), -1;
    if (c->kind == PP_EXPORTER && !c->export)
        return snprintf(why, len, "exporter %s has no export callback", c->type), -1;
    if (!c->options)
        return snprintf(why, len, "component %s has no option table", c->type), -1;
    return 0;
}

/* The size of each struct as ABI 2.0 first had it: nothing older of
 * this major exists, so anything smaller is not a real module. */
#define MODULE_SIZE_2_0 (offsetof(pp_module, components) + sizeof(void *))
#define COMPONENT_SIZE_2_0 (offsetof(pp_component, export) + sizeof(void *))
/* More than any number of minors could append: a size past it is garbage,
 * and the bytes it would have the host read are not the plugin's. */
#define STRUCT_GROWTH_MAX 4096

/* 1 when any of the n bytes at p is set. */
static int any_set(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 1;
    return 0;
}

/* The version checks of the compatibility promise in plugin.h: same
 * major; any minor, but what a newer minor's plugin sets beyond the
 * members this host knows must be zero (the host would never call it). */
static int check_version(const pp_module *m, const char *path, char *err, size_t errlen)
{
    if (m->abi_major != PP_ABI_MAJOR)
        return snprintf(err, errlen,
                        "plugin %s: built for plugin ABI version %u, this profpipe speaks %u.%u "
                        "(another major version: its layout differs); rebuild it against this "
                        "profpipe's profpipe/plugin.h",
                        path, m->abi_major, PP_ABI_MAJOR, PP_ABI_MINOR),
               -1;
    if (m->size < MODULE_SIZE_2_0 || m->component_size < COMPONENT_SIZE_2_0 ||
        m->size > sizeof(pp_module) + STRUCT_GROWTH_MAX ||
        m->component_size > sizeof(pp_component) + STRUCT_GROWTH_MAX)
        return snprintf(err, errlen,
                        "plugin %s: built for plugin ABI version %u.%u, but the sizes of its "
                        "pp_module (%zu bytes) or pp_component (%u bytes) fit no version %u.x; "
                        "start its pp_module with PP_MODULE_HEADER",
                        path, m->abi_major, m->abi_minor, m->size, m->component_size, PP_ABI_MAJOR),
               -1;
    if (m->size > sizeof(pp_module) &&
        any_set((const char *)m + sizeof(pp_module), m->size - sizeof(pp_module)))
        return snprintf(err, errlen,
                        "plugin %s: built for plugin ABI version %u.%u, this profpipe speaks "
                        "%u.%u and does not know the pp_module members it sets",
                        path, m->abi_major, m->abi_minor, PP_ABI_MAJOR, PP_ABI_MINOR),
               -1;
    return 0;
}

/* A component of a newer minor may not set members this host lacks. */
static int check_component_size(const pp_module *m, const pp_component *c, const char *path,
                                char *err, size_t errlen)
{
    if (m->component_size <= sizeof(pp_component) ||
        !any_set((const char *)c + sizeof(pp_component), m->component_size - sizeof(pp_component)))
        return 0;
    return snprintf(err, errlen,
                    "plugin %s: component %s: built for plugin ABI version %u.%u, this profpipe "
                    "speaks %u.%u and would never call the pp_component callbacks it sets",
                    path, c->type ? c->type : "?", m->abi_major, m->abi_minor, PP_ABI_MAJOR,
                    PP_ABI_MINOR),
           -1;
}

static int check_module(const pp_module *m, const char *path, char *err, size_t errlen)
{
    char why[256];
    if (m->signature != PP_MODULE_SIGNATURE)
        return snprintf(err, errlen, "plugin %s: %s is not a profpipe module (bad signature)", path,
                        PP_MODULE_SYMBOL),
               -1;
    if (check_version(m, path, err, errlen) != 0)
        return -1;
    if (!m->components || !m->components[0])
        return snprintf(err, errlen, "plugin %s: declares no components", path), -1;
    for (size_t i = 0; m->components[i]; i++) {
        const pp_component *c = m->components[i];
        if (check_component_size(m, c, path, err, errlen) != 0)
            return -1;
        if (component_valid(c, why, sizeof why) != 0)
            return snprintf(err, errlen, "plugin %s: %s", path, why), -1;
        if (find_locked(c->kind, c->type))
            return snprintf(err, errlen, "plugin %s: %s type \"%s\" is already registered", path,
                            kind_name(c->kind), c->type),
                   -1;
        for (size_t j = 0; j < i; j++)
            if (m->components[j]->kind == c->kind && strcmp(m->components[j]->type, c->type) == 0)
                return snprintf(err, errlen, "plugin %s: declares %s type \"%s\" twice", path,
                                kind_name(c->kind), c->type),
                       -1;
    }
    return 0;
}

/* The plugin's descriptor in this host's pp_component size: members of a
 * later minor than the plugin's stay NULL (checked in check_module). Kept
 * for the life of the process, like the plugin's code. */
static const pp_component *component_copy(const pp_module *m, const pp_component *c)
{
    pp_component *copy = calloc(1, sizeof *copy);
    if (copy)
        memcpy(copy, c, m->component_size < sizeof *copy ? m->component_size : sizeof *copy);
    return copy;
}

/* Registers copies of m's components, all or (out of memory) none. */
static int add_components_locked(const pp_module *m, const char *origin)
{
    size_t before = n_entries;
    for (size_t i = 0; m->components[i]; i++) {
        const pp_component *c = component_copy(m, m->components[i]);
        if (c && add_locked(c, origin) == 0)
            continue;
        free((void *)c);
        while (n_entries > before)
            free((void *)entries[--n_entries].component);
        return -1;
    }
    return 0;
}

int registry_load_plugin(const char *path, char *err, size_t errlen)
{
    registry_init();
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < n_loaded; i++) {
        if (strcmp(loaded_paths[i], path) == 0) {
            pthread_mutex_unlock(&registry_lock);
            return 0;
        }
    }
    int rc = -1;
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(err, errlen, "plugin %s: cannot load: %s", path, dlerror());
        goto out;
    }
    const pp_module *m = dlsym(handle, PP_MODULE_SYMBOL);
    if (!m) {
        snprintf(err, errlen, "plugin %s: no symbol %s (is it a profpipe plugin?)", path,
                 PP_MODULE_SYMBOL);
        dlclose(handle);
        goto out;
    }
    if (check_module(m, path, err, errlen) != 0) {
        dlclose(handle);
        goto out;
    }
    char **grown = realloc(loaded_paths, (n_loaded + 1) * sizeof *grown);
    char *origin = strdup(path);
    if (!grown || !origin) {
        free(origin);
        if (grown)
            loaded_paths = grown;
        snprintf(err, errlen, "plugin %s: out of memory", path);
        goto out;
    }
    loaded_paths = grown;
    if (add_components_locked(m, origin) != 0) {
        snprintf(err, errlen, "plugin %s: out of memory", path);
        free(origin);
        dlclose(handle);
        goto out;
    }
    loaded_paths[n_loaded++] = origin;
    rc = 0;
out:
    pthread_mutex_unlock(&registry_lock);
    return rc;
}

const pp_component *registry_find(pp_kind kind, const char *type)
{
    registry_init();
    pthread_mutex_lock(&registry_lock);
    const pp_component *c = find_locked(kind, type);
    pthread_mutex_unlock(&registry_lock);
    return c;
}

size_t registry_count(void)
{
    registry_init();
    return n_entries;
}

const pp_component *registry_at(size_t i)
{
    return i < n_entries ? entries[i].component : NULL;
}

const char *registry_origin(size_t i)
{
    return i < n_entries ? entries[i].origin : NULL;
}
