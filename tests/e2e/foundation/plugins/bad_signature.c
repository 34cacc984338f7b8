/* A .so whose profpipe_module is not a profpipe module at all. */
#include "bad_common.h"

static const pp_component proc = BAD_PROCESSOR("unsigned_thing");
static const pp_component *const comps[] = {&proc, NULL};
const pp_module profpipe_module = {0x12345678u, PP_ABI_VERSION, "bad_signature", comps};
