/* pyroscope_json: a small JSON reader for the two JSON documents the
 * pyroscope receiver accepts: the connect JSON form of push.v1.PushRequest
 * and the Go SDK's sample_type_config. It builds a tree of values in one
 * allocation whose size is computed (and can be limited) before it is
 * taken; nesting is bounded by PJ_MAX_DEPTH, so a hostile document cannot
 * exhaust the stack either. */
#ifndef PYROSCOPE_JSON_H
#define PYROSCOPE_JSON_H

#include <stddef.h>

#define PJ_MAX_DEPTH 32

typedef enum pj_type { PJ_NULL, PJ_BOOL, PJ_NUMBER, PJ_STRING, PJ_ARRAY, PJ_OBJECT } pj_type;

typedef struct pj_value {
    pj_type type;
    int boolean;            /* BOOL */
    char *str;              /* STRING: decoded UTF-8; NUMBER: its text. In the arena. */
    size_t len;             /* of str */
    struct pj_value *items; /* ARRAY items or OBJECT values, n of them */
    char **keys;            /* OBJECT keys */
    size_t n;
    void *arena; /* the root's: everything above lives in it. Owned. */
} pj_value;

/* Parses one JSON document. 0, or -1 with the reason (and offset) in err. */
int pj_parse(const char *text, size_t len, pj_value *out, char *err, size_t errlen);
/* pj_parse, refusing (-2, nothing allocated) a document whose tree would
 * take more than max_bytes. */
int pj_parse_bounded(const char *text, size_t len, size_t max_bytes, pj_value *out, char *err,
                     size_t errlen);
/* Validates a document and sets *bytes to what pj_parse would allocate
 * for it, allocating nothing. 0, or -1 with the reason in err. */
int pj_measure(const char *text, size_t len, size_t *bytes, char *err, size_t errlen);
/* Frees a tree from pj_parse (the root only; never a member). */
void pj_free(pj_value *v);

/* Member `key` of an object, or NULL (also when v is not an object). */
const pj_value *pj_get(const pj_value *v, const char *key);

/* Standard or URL-safe base64, padding optional (protobuf's JSON mapping
 * accepts both). 0 and a malloc'd buffer, or -1. */
int pj_base64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);

#endif
