/* pyroscope_jfr_ingest: the body of /ingest?format=jfr, the Pyroscope Java
 * SDK's default upload, turned into profiles. */
#ifndef PYROSCOPE_JFR_INGEST_H
#define PYROSCOPE_JFR_INGEST_H

#include "pyroscope_receiver.h"

/* One profile per kind of event in the recording (see
 * pyroscope_jfr_pprof.h), with __name__ and jfr_event set; the caller adds
 * the request's labels and window. 0 and *out (a malloc'd array of *n
 * profiles the caller owns; *n may be 0), or -1 with the reply set: 400
 * naming what is wrong and where, 413 over max_decompressed_size. */
int pyro_jfr_profiles(const pyro_request *q, pp_profile ***out, size_t *n, pyro_reply *reply);

#endif
