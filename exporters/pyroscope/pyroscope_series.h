/* pyroscope_series: the series labels a profile is pushed to Pyroscope
 * with, and the checks Pyroscope's distributor would make on them.
 *
 * Grafana Alloy's pyroscope.write sends every label of a profile except
 * the reserved `__*` ones, keeping `__name__` (the profile family) and
 * `__delta__` (`"false"` tells the server the values are deltas already).
 * Pyroscope then validates the series (pkg/validation/validate.go): at
 * least `service_name` and a valid `__name__`, at most N label names,
 * names and values within length limits, names in the legacy Prometheus
 * charset (names with dots are sanitized to underscores), values valid
 * UTF-8, no duplicate names, and the uncompressed profile within a size
 * limit. A profile that fails any of these would be answered 400 forever,
 * so the exporter rejects it here instead, with the same reason the
 * server would give. Kept apart from the HTTP code so it is unit-tested
 * on its own. */
#ifndef PYROSCOPE_SERIES_H
#define PYROSCOPE_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include <profpipe/plugin.h>

/* Pyroscope's distributor defaults (-validation.*). */
#define PYRO_DEFAULT_MAX_LABEL_NAME_LENGTH 1024
#define PYRO_DEFAULT_MAX_LABEL_VALUE_LENGTH 2048
#define PYRO_DEFAULT_MAX_LABEL_NAMES 30
#define PYRO_DEFAULT_MAX_PROFILE_SIZE ((int64_t)4 << 20)

typedef struct pyro_limits {
    int64_t max_label_name_length;
    int64_t max_label_value_length;
    int64_t max_label_names;
    int64_t max_profile_size; /* uncompressed bytes; 0 = no limit */
} pyro_limits;

typedef struct pyro_label {
    char *name;  /* owned */
    char *value; /* owned */
} pyro_label;

/* The labels as they will be sent: sorted by name, names unique. */
typedef struct pyro_series {
    pyro_label *labels;
    size_t n;
    int changed;  /* differs from the profile's own labels */
    char *tenant; /* owned: the value of the tenant label, taken out; or NULL */
} pyro_series;

/* Labels every series gets (Alloy's pyroscope.write external_labels):
 * they replace a profile's label of the same name. Strings borrowed. */
typedef struct pyro_external {
    const char *const *names;
    const char *const *values;
    size_t n;
} pyro_external;

/* Builds the series of p, with `ext` (NULL for none) set on it, and checks
 * it against `lim`. The label named
 * `tenant_label` (NULL for none) is not sent as a label: its value goes
 * to s->tenant, to be sent as X-Scope-OrgID. Returns 0, or -1 with a
 * short reason (Pyroscope's discard reason, e.g. "label_name_too_long")
 * in *reason and a message in err. The series is filled in both cases
 * (for the log); free it with pyro_series_free. */
int pyro_series_build(const pp_host *h, const pp_profile *p, const pyro_limits *lim,
                      const char *tenant_label, const pyro_external *ext, pyro_series *out,
                      const char **reason, char *err, size_t errlen);
void pyro_series_free(pyro_series *s);

/* Value of `name` in s, or NULL. */
const char *pyro_series_get(const pyro_series *s, const char *name);

/* Writes `{name="value", ...}` (truncated to len, always terminated). */
void pyro_series_format(const pyro_series *s, char *buf, size_t len);

/* The legacy /ingest `name` parameter: `service{k=v,...}` with every label
 * except service_name, __name__, __delta__ and pyroscope_spy. Returns a
 * malloc'd string, or NULL with the reason in err (a value holding one of
 * `{}=,` cannot be written in that syntax). */
char *pyro_ingest_name(const pyro_series *s, char *err, size_t errlen);

/* Uncompressed size of a payload: the gzip trailer's ISIZE for gzip'd
 * bytes (exact below 4 GiB), else len. */
uint64_t pyro_payload_size(const uint8_t *data, size_t len);

#endif
