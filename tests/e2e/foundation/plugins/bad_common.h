/* What the broken test plugins share: one harmless processor, so that each
 * plugin is wrong only where its file says. */
#ifndef BAD_COMMON_H
#define BAD_COMMON_H

#include <stdlib.h>

#include <profpipe/plugin.h>

static const pp_option bad_no_options[] = {{0}};

static int bad_create(const pp_host *h, pp_instance *self, const pp_config *c, void **state)
{
    (void)h, (void)self, (void)c;
    *state = NULL;
    return 0;
}

static void bad_destroy(void *state)
{
    (void)state;
}

static pp_batch *bad_process(void *state, pp_batch *in)
{
    (void)state;
    return in;
}

#define BAD_PROCESSOR(name)                                                                        \
    {                                                                                              \
        .type = name, .kind = PP_PROCESSOR, .description = "test plugin",                          \
        .options = bad_no_options, .create = bad_create, .destroy = bad_destroy,                   \
        .process = bad_process                                                                     \
    }

#endif
