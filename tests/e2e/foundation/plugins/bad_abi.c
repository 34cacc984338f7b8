/* A plugin built against plugin ABI version 1, profpipe's first layout: its
 * pp_module was {signature, abi_version, name, components}, abi_version
 * where a pp_module now has its major. The host must refuse it by that
 * version alone, naming it, before it reads anything else. */
#include "bad_common.h"

#define ABI_1 1u

typedef struct pp_module_abi1 {
    uint32_t signature;
    uint32_t abi_version;
    const char *name;
    const pp_component *const *components;
} pp_module_abi1;

static const pp_component proc = BAD_PROCESSOR("future_thing");
static const pp_component *const comps[] = {&proc, NULL};
const pp_module_abi1 profpipe_module = {PP_MODULE_SIGNATURE, ABI_1, "bad_abi", comps};
