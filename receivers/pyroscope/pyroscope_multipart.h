/* pyroscope_multipart: the multipart/form-data body the Pyroscope Go SDK
 * sends to /ingest (parts `profile`, `prev_profile`, `sample_type_config`).
 * The body is already in memory (bounded by max_request_body_size), so
 * parts are views into it, not copies. */
#ifndef PYROSCOPE_MULTIPART_H
#define PYROSCOPE_MULTIPART_H

#include <stddef.h>

#define PYRO_MULTIPART_MAX_PARTS 16
#define PYRO_BOUNDARY_MAX 200 /* RFC 2046 allows 70; be lenient */

typedef struct pyro_part {
    char name[64];             /* form field name */
    const unsigned char *data; /* borrowed from the body */
    size_t len;
} pyro_part;

/* Extracts the boundary from a Content-Type value. 0 or -1. */
int pyro_multipart_boundary(const char *content_type, char *out, size_t outlen);

/* Splits body into at most PYRO_MULTIPART_MAX_PARTS parts. Returns the
 * number of parts, or -1 with the reason in err. */
int pyro_multipart_parse(const unsigned char *body, size_t len, const char *boundary,
                         pyro_part *parts, char *err, size_t errlen);

/* The part named `name`, or NULL. */
const pyro_part *pyro_multipart_get(const pyro_part *parts, int n, const char *name);

#endif
