/* batch_take: see batch_take.h. Profiles are taken from the back, which
 * moves nothing in the batch, and stored at their own index so the array
 * keeps the batch's order. */
#include "batch_take.h"

#include <stdlib.h>

pp_profile **batch_take_all(const pp_host *h, pp_batch *in, size_t *n)
{
    size_t count = h->batch_count(in);
    pp_profile **ps = malloc((count ? count : 1) * sizeof *ps);
    if (!ps)
        return NULL;
    for (size_t i = count; i-- > 0;)
        ps[i] = h->batch_take(in, i);
    *n = count;
    return ps;
}
