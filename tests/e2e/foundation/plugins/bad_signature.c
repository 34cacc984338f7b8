/* A .so whose profpipe_module is not a profpipe module at all. */
#include "bad_common.h"

static const pp_component proc = BAD_PROCESSOR("unsigned_thing");
static const pp_component *const comps[] = {&proc, NULL};
const pp_module profpipe_module = {
    .signature = 0x12345678u,
    .abi_major = PP_ABI_MAJOR,
    .abi_minor = PP_ABI_MINOR,
    .component_size = sizeof(pp_component),
    .size = sizeof(pp_module),
    .name = "bad_signature",
    .components = comps,
};
