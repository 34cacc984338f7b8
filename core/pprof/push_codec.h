/* push_codec: Pyroscope's PushRequest to and from profiles
 * (push_codec.c). */
#ifndef PROFPIPE_PUSH_CODEC_H
#define PROFPIPE_PUSH_CODEC_H

#include <profpipe/plugin.h>

int push_encode(pp_profile *const *profiles, size_t n, uint8_t **out, size_t *out_len, char *err,
                size_t errlen);
/* push_decode needs batch_add: it is given the function to call, so the
 * codec does not depend on the batch module. It returns PP_PUSH_BAD_PROFILE
 * when the request is a PushRequest but one of its raw profiles is not a
 * readable pprof, -1 for any other failure. */
int push_decode(const void *data, size_t len, pp_batch *into, int (*add)(pp_batch *, pp_profile *),
                char *err, size_t errlen);

#endif
