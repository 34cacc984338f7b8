/* pyroscope_name: the `name` query parameter of Pyroscope's /ingest,
 * `app{key=value,key2=value2}`: the application (service) name, then the
 * SDK's tags in braces. Parsed strictly: unbalanced or nested braces,
 * text after the closing brace, a pair without `=`, an empty or malformed
 * key, or more than `max_labels` pairs are errors with a message (the
 * receiver answers them 400), never guesses. A later duplicate key wins,
 * as in Pyroscope's own parser (grafana/pyroscope api/model/labelset). */
#ifndef PYROSCOPE_NAME_H
#define PYROSCOPE_NAME_H

#include <stddef.h>

typedef struct pyro_name {
    char *app;   /* owned */
    char **keys; /* owned, n of each */
    char **values;
    size_t n;
} pyro_name;

/* Returns 0, or -1 with the reason in err (out is then empty). */
int pyro_name_parse(const char *text, size_t max_labels, pyro_name *out, char *err, size_t errlen);
void pyro_name_free(pyro_name *n);

/* 1 if s can be a tag key: [A-Za-z0-9_.]+, as Pyroscope's labelset
 * parser allows. Private keys (`__session_id__`, `__name__`) pass here;
 * what they mean is the ingest handler's business. */
int pyro_tag_key_valid(const char *s, size_t len);

#endif
