/* push_codec: Grafana Pyroscope's push.v1 PushRequest (api/push/v1/
 * push.proto) <-> profiles, for the components that speak it (the
 * pyroscope receiver and exporter, the kafka receiver and exporter's
 * `pyroscope_push` encoding). It works through the pp_host table it is
 * given, like a plugin, so the host does not carry one vendor's format. */
#ifndef PROFPIPE_PUSH_CODEC_H
#define PROFPIPE_PUSH_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <profpipe/plugin.h>

/* push_decode's answers below 0: the request is not a PushRequest ... */
#define PUSH_BAD_REQUEST (-1)
/* ... it is one, but a raw profile in it is not a readable pprof (the
 * client's profile, not its request, is at fault) ... */
#define PUSH_BAD_PROFILE (-2)
/* ... or a raw profile in it inflates past the host's limit on a profile. */
#define PUSH_PROFILE_TOO_LARGE (-3)

/* Encodes the profiles as one PushRequest: one series per profile, its
 * labels as label pairs, its gzip'd pprof as the raw sample (with a random
 * UUID as the sample ID, as Pyroscope's own clients send). 0 and a
 * malloc'd buffer the caller frees, or -1 with the reason in err. */
int push_encode(const pp_host *h, pp_profile *const *profiles, size_t n, uint8_t **out,
                size_t *out_len, char *err, size_t errlen);

/* Decodes a PushRequest into profiles added to `into` with h->batch_add
 * (one per raw sample, labels from its series; from/until taken from the
 * pprof's own time, or now when it has none). 0, or one of the codes above
 * with the reason in err; profiles added before a failure stay in `into`. */
int push_decode(const pp_host *h, const void *data, size_t len, pp_batch *into, char *err,
                size_t errlen);

#endif
