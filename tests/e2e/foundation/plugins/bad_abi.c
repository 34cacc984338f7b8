/* A plugin built against a future ABI: the host must refuse it by version. */
#include "bad_common.h"

#define FUTURE_ABI (PP_ABI_VERSION + 1000)

static const pp_component proc = BAD_PROCESSOR("future_thing");
static const pp_component *const comps[] = {&proc, NULL};
const pp_module profpipe_module = {PP_MODULE_SIGNATURE, FUTURE_ABI, "bad_abi", comps};
