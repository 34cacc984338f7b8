/* A plugin declaring a processor type the example plugin already has. */
#include "bad_common.h"

static const pp_component proc = BAD_PROCESSOR("label_edit");
static const pp_component *const comps[] = {&proc, NULL};
const pp_module profpipe_module = {PP_MODULE_HEADER, .name = "dup_type", .components = comps};
