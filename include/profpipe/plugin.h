/* profpipe plugin ABI: the only header a component needs.
 *
 * Every component, built-in or loaded from a .so, is one pp_component
 * descriptor: its type name, kind, option table and lifecycle callbacks.
 * A component never links the host: everything it needs from the host
 * (logging, config, profiles, batches, metrics, clock) reaches it through
 * the pp_host function table handed to create(). An external plugin exports
 * one data symbol, `profpipe_module` (a pp_module), checked at load for its
 * signature and ABI version before anything in it is called.
 *
 * Threads: a receiver emits from any thread it likes. A processor instance
 * belongs to one pipeline and is only ever called from that pipeline's
 * worker thread. An exporter's export() is only called from that exporter's
 * own worker thread. So no component needs locks for its own state.
 */
#ifndef PROFPIPE_PLUGIN_H
#define PROFPIPE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change to this header. */
#define PP_ABI_VERSION 1
/* host->push_decode's answer for a well-formed PushRequest holding a raw
 * profile that is not a readable pprof (a client's profile, not its
 * request, is at fault). */
#define PP_PUSH_BAD_PROFILE (-2)
/* "PPMD": marks a pp_module so that a random .so is refused, not run. */
#define PP_MODULE_SIGNATURE 0x50504d44u

typedef enum pp_kind {
    PP_RECEIVER = 1,
    PP_PROCESSOR = 2,
    PP_EXPORTER = 3,
} pp_kind;

typedef enum pp_log_level {
    PP_LOG_DEBUG = 0,
    PP_LOG_INFO = 1,
    PP_LOG_WARN = 2,
    PP_LOG_ERROR = 3,
} pp_log_level;

/* ------------------------------------------------------------------ */
/* Options: the table that parses, validates and documents a config.   */
/* ------------------------------------------------------------------ */

typedef enum pp_opt_type {
    PP_OPT_STRING = 1,
    PP_OPT_INT, /* int64 */
    PP_OPT_DOUBLE,
    PP_OPT_BOOL,
    PP_OPT_DURATION,     /* "500ms", "15s", "2m", "1h"; read as nanoseconds */
    PP_OPT_SIZE,         /* "512", "64KiB", "10MiB", "1GiB", "1MB"; bytes */
    PP_OPT_STRING_LIST,  /* a YAML sequence of scalars */
    PP_OPT_STRING_MAP,   /* a YAML mapping of scalar to scalar */
    PP_OPT_SECTION,      /* a mapping checked against `children` */
    PP_OPT_SECTION_LIST, /* a sequence of mappings, each checked against `children` */
    PP_OPT_ANY,          /* any YAML node; the component checks it itself */
} pp_opt_type;

typedef struct pp_option {
    const char *name;
    pp_opt_type type;
    const char *default_value; /* as it would be written in YAML; NULL = none */
    const char *description;
    int required;
    const struct pp_option *children; /* SECTION / SECTION_LIST; ends with {0} */
} pp_option;

/* A node of the loaded config, with its file position. Borrowed: valid
 * from create() until destroy(). */
typedef struct pp_config pp_config;

typedef enum pp_node_kind {
    PP_NODE_ABSENT = 0,
    PP_NODE_SCALAR,
    PP_NODE_SEQUENCE,
    PP_NODE_MAPPING,
} pp_node_kind;

/* ------------------------------------------------------------------ */
/* The decoded pprof tree (github.com/google/pprof profile.proto).     */
/* Plain arrays; every string field is an index into strings[]: each   */
/* is NUL-terminated, and its byte length is host->pprof_string_len(). */
/* Memory belongs to the profile's arena: to change an array, allocate */
/* a new one with host->profile_alloc() and replace the pointer; add   */
/* strings only with host->pprof_intern(). Each sample owns its own    */
/* location_ids, values and labels arrays: never share one between     */
/* samples (pprof_compact rewrites them in place).                     */
/* ------------------------------------------------------------------ */

typedef struct pp_value_type {
    int64_t type;
    int64_t unit;
} pp_value_type;

typedef struct pp_label {
    int64_t key;
    int64_t str; /* 0 when the label is numeric */
    int64_t num;
    int64_t num_unit;
} pp_label;

typedef struct pp_sample {
    uint64_t *location_ids; /* leaf first */
    size_t n_location_ids;
    int64_t *values; /* one per sample type */
    size_t n_values;
    pp_label *labels;
    size_t n_labels;
} pp_sample;

typedef struct pp_mapping {
    uint64_t id;
    uint64_t memory_start;
    uint64_t memory_limit;
    uint64_t file_offset;
    int64_t filename;
    int64_t build_id;
    int has_functions;
    int has_filenames;
    int has_line_numbers;
    int has_inline_frames;
} pp_mapping;

typedef struct pp_line {
    uint64_t function_id;
    int64_t line;
    int64_t column;
} pp_line;

typedef struct pp_location {
    uint64_t id;
    uint64_t mapping_id;
    uint64_t address;
    pp_line *lines; /* inlined callee first */
    size_t n_lines;
    int is_folded;
} pp_location;

typedef struct pp_function {
    uint64_t id;
    int64_t name;
    int64_t system_name;
    int64_t filename;
    int64_t start_line;
} pp_function;

typedef struct pp_pprof {
    pp_value_type *sample_types;
    size_t n_sample_types;
    pp_sample *samples;
    size_t n_samples;
    pp_mapping *mappings;
    size_t n_mappings;
    pp_location *locations;
    size_t n_locations;
    pp_function *functions;
    size_t n_functions;
    const char **strings; /* strings[0] is always "" */
    size_t n_strings;
    int64_t drop_frames;
    int64_t keep_frames;
    int64_t time_nanos;
    int64_t duration_nanos;
    pp_value_type period_type;
    int64_t period;
    int64_t *comments;
    size_t n_comments;
    int64_t default_sample_type;
    int64_t doc_url;
    /* Appended to ABI 1. Host-private: the byte lengths of the strings
     * that hold NUL bytes (pprof strings are byte strings, so strlen() can
     * stop short of their end). Read lengths with host->pprof_string_len
     * and add such strings with host->pprof_intern_bytes. */
    struct pp_string_lens *string_lens;
} pp_pprof;

/* ------------------------------------------------------------------ */
/* Profiles and batches.                                               */
/* ------------------------------------------------------------------ */

/* One pprof profile plus its series labels (kept sorted by name, names
 * unique) and its time window. Payload lives as raw bytes, as a decoded
 * tree, or both; each is made from the other only when asked for. */
typedef struct pp_profile pp_profile;

/* Profiles emitted together. Reference-counted; read-only once emitted.
 * A processor flagged PP_MUTATES is handed a batch no one else holds. */
typedef struct pp_batch pp_batch;

/* Outcome of one profile in an export() call. */
typedef enum pp_outcome {
    PP_PENDING = 0,  /* not finished: retried if the call says PP_RETRY */
    PP_EXPORTED = 1, /* delivered and acknowledged */
    PP_REJECTED = 2, /* refused for good (bad data, 4xx): never retried */
} pp_outcome;

typedef enum pp_status {
    PP_OK = 0,        /* every profile still PENDING counts as exported */
    PP_RETRY = 1,     /* PENDING profiles are retried with backoff */
    PP_PERMANENT = 2, /* PENDING profiles are rejected */
} pp_status;

typedef struct pp_export_result {
    int64_t retry_after_ns; /* > 0: the server asked to wait this long */
    char message[512];      /* why, for the log; empty when PP_OK */
} pp_export_result;

/* Called once when every copy of an acknowledged batch is gone:
 * delivered, rejected, or dropped. `lost` counts profiles that were
 * dropped on the way (queue overflow, shutdown deadline) rather than
 * handed to an exporter's queue. The kafka receiver commits offsets on it. */
typedef void (*pp_ack_fn)(void *arg, uint64_t lost);

/* ------------------------------------------------------------------ */
/* Metrics a component adds beyond the ones the host keeps for it.     */
/* ------------------------------------------------------------------ */

typedef enum pp_metric_type {
    PP_COUNTER = 1,
    PP_GAUGE = 2,
} pp_metric_type;

typedef struct pp_metric pp_metric;

/* ------------------------------------------------------------------ */
/* What a receiver that polls targets shows on the built-in page       */
/* (appended to ABI 1).                                                */
/* ------------------------------------------------------------------ */

/* One target x profile type, as last scraped. Strings are borrowed for
 * the call only: the host copies what it keeps. */
typedef struct pp_target_state {
    const char *target;  /* "http://127.0.0.1:6060" */
    const char *profile; /* the profile type's `__name__`: "process_cpu" */
    const char *path;    /* "/debug/pprof/profile" */
    int up;              /* 1 if the last scrape of this slot worked */
    int64_t last_ns;     /* wall clock (Unix ns) when the last scrape began */
    int64_t duration_ns; /* how long it took */
    uint64_t bytes;      /* body bytes it returned */
    const char *error;   /* why it failed; NULL or "" when it worked */
} pp_target_state;

/* Opaque handle the host gives each component instance. */
typedef struct pp_instance pp_instance;

/* Series a component writes itself into the telemetry /metrics (see
 * pp_host.exposition_add): `write` appends len bytes of Prometheus text
 * to the page being rendered; `out` is the host's, opaque. */
typedef void (*pp_text_write_fn)(void *out, const char *data, size_t len);
typedef void (*pp_exposition_fn)(void *arg, pp_text_write_fn write, void *out);

/* ------------------------------------------------------------------ */
/* The host API table.                                                 */
/* ------------------------------------------------------------------ */

typedef struct pp_host {
    uint32_t abi_version;

    /* --- logging and time --- */
    void (*log)(pp_instance *self, pp_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    int64_t (*now_ns)(void);                             /* wall clock, Unix nanoseconds */
    int64_t (*monotonic_ns)(void);                       /* for intervals and deadlines */
    const char *(*instance_id)(const pp_instance *self); /* "file/in" */

    /* --- config view (defaults come from the option table) --- */
    const char *(*cfg_string)(const pp_config *c, const char *key);
    int64_t (*cfg_int)(const pp_config *c, const char *key);
    double (*cfg_double)(const pp_config *c, const char *key);
    int (*cfg_bool)(const pp_config *c, const char *key);
    int64_t (*cfg_duration_ns)(const pp_config *c, const char *key);
    int64_t (*cfg_size)(const pp_config *c, const char *key);
    int (*cfg_is_set)(const pp_config *c, const char *key);
    /* child node by key (NULL if absent); for lists, maps, sections, ANY */
    const pp_config *(*cfg_child)(const pp_config *c, const char *key);
    pp_node_kind (*cfg_kind)(const pp_config *node);
    size_t (*cfg_count)(const pp_config *node);                    /* seq items or map pairs */
    const pp_config *(*cfg_item)(const pp_config *node, size_t i); /* seq item or map value */
    const char *(*cfg_key)(const pp_config *node, size_t i);       /* map key */
    const char *(*cfg_scalar)(const pp_config *node);              /* NULL unless scalar */
    /* Reads `key`, or the file named by `key`_file (trailing newline cut).
     * Returns a malloc'd string the caller frees, or NULL if neither is
     * set or the file cannot be read (that error is reported). */
    char *(*cfg_secret)(const pp_config *c, const char *key);
    /* Reports a config error at node[key] (key may be NULL for the node
     * itself) as "file:line:col: <component id>: <key>: <message>".
     * Always returns -1 so it can end a create(). */
    int (*cfg_error)(const pp_config *c, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /* Parses a duration or size written as in the config; -1 on error. */
    int (*parse_duration_ns)(const char *text, int64_t *out);
    int (*parse_size)(const char *text, int64_t *out);

    /* --- profiles --- */
    pp_profile *(*profile_new)(void);
    void (*profile_free)(pp_profile *p); /* only for profiles not in a batch */
    pp_profile *(*profile_clone)(const pp_profile *p);
    size_t (*label_count)(const pp_profile *p);
    const char *(*label_name)(const pp_profile *p, size_t i);
    const char *(*label_value)(const pp_profile *p, size_t i);
    const char *(*label_get)(const pp_profile *p, const char *name);      /* NULL if absent */
    int (*label_set)(pp_profile *p, const char *name, const char *value); /* copies */
    int (*label_del)(pp_profile *p, const char *name);                    /* 1 removed, 0 absent */
    uint64_t (*labels_fingerprint)(const pp_profile *p);                  /* stable across runs */
    int64_t (*profile_from)(const pp_profile *p);                         /* Unix ns */
    int64_t (*profile_until)(const pp_profile *p);                        /* Unix ns */
    void (*profile_set_window)(pp_profile *p, int64_t from_ns, int64_t until_ns);

    /* Raw payload: gzip'd or plain serialized pprof; copied. */
    int (*profile_set_raw)(pp_profile *p, const void *data, size_t len);
    /* The gzip'd serialized pprof, encoded from the tree if needed.
     * Borrowed: valid until the profile changes or is freed. */
    int (*profile_raw_gz)(pp_profile *p, const uint8_t **data, size_t *len, char *err,
                          size_t errlen);
    /* Size of the payload as held now (raw bytes if any, else an estimate). */
    size_t (*profile_size)(const pp_profile *p);
    /* Decoded tree, decoded now if needed. Read-only: do not change it. */
    const pp_pprof *(*profile_tree)(pp_profile *p, char *err, size_t errlen);
    /* Decoded tree to change: the raw bytes are dropped and re-encoded
     * from the tree when next asked for. */
    pp_pprof *(*profile_tree_mut)(pp_profile *p, char *err, size_t errlen);
    /* A new empty tree (strings[0] = "") replacing any payload; for
     * receivers that build profiles themselves. */
    pp_pprof *(*profile_tree_new)(pp_profile *p);

    /* --- tree helpers (tree from profile_tree_mut / profile_tree_new) --- */
    void *(*profile_alloc)(pp_profile *p, size_t size);    /* zeroed, freed with the tree */
    int64_t (*pprof_intern)(pp_profile *p, const char *s); /* string index, added if new */
    const pp_location *(*pprof_location)(const pp_profile *p, uint64_t id);
    const pp_function *(*pprof_function)(const pp_profile *p, uint64_t id);
    /* Sums samples with equal stacks and labels, drops all-zero samples,
     * and drops locations, functions, mappings and strings nothing uses. */
    int (*pprof_compact)(pp_profile *p);
    /* Adds src's samples into dst under pprof's merge rules (equal period
     * type and sample types, else -1 with the reason in err). */
    int (*pprof_merge)(pp_profile *dst, pp_profile *src, char *err, size_t errlen);
    /* The `__name__` Pyroscope gives a profile of the tree's sample types
     * (wall, process_cpu, memory, goroutines, mutex, ...; the table in the
     * top README); NULL if nothing fits. A static string. */
    const char *(*pprof_family)(const pp_pprof *t);

    /* --- batches --- */
    pp_batch *(*batch_new)(void);
    int (*batch_add)(pp_batch *b, pp_profile *p); /* takes ownership of p */
    size_t (*batch_count)(const pp_batch *b);
    pp_profile *(*batch_get)(pp_batch *b, size_t i);
    /* Removes profile i and returns it to the caller (who now owns it). */
    pp_profile *(*batch_take)(pp_batch *b, size_t i);
    void (*batch_ref)(pp_batch *b);
    void (*batch_unref)(pp_batch *b);
    /* Calls fn(arg, lost) once every copy of b is finished with. */
    void (*batch_set_ack)(pp_batch *b, pp_ack_fn fn, void *arg);
    /* dst holds src's acks too, until dst is finished with: for a
     * processor whose output carries input it took earlier (a window), so
     * that input is acknowledged only when the output is delivered. */
    void (*batch_adopt_acks)(pp_batch *dst, pp_batch *src);

    /* Receivers: hands b to every pipeline this receiver feeds. Takes
     * ownership of b. Blocks while a `block` queue is full; returns 0, or
     * -1 if the host is shutting down and b was dropped. */
    int (*emit)(pp_instance *self, pp_batch *b);

    /* --- metrics: `name` without the profpipe_ prefix; `labels` is extra
     * Prometheus label text such as `target="a:1",reason="timeout"` or
     * NULL. The host adds the component id. Same name+labels = same
     * metric. --- */
    pp_metric *(*metric)(pp_instance *self, const char *name, const char *help, pp_metric_type type,
                         const char *labels);
    void (*metric_add)(pp_metric *m, double delta);
    void (*metric_set)(pp_metric *m, double value);
    void (*metric_remove)(pp_metric *m); /* e.g. a target that went away */

    /* --- gzip with a limit on the output (gzip bombs) --- */
    /* Both return 0 and a malloc'd buffer, or -1 with the reason in err. */
    int (*gunzip)(const void *in, size_t in_len, size_t max_out, uint8_t **out, size_t *out_len,
                  char *err, size_t errlen);
    int (*gzip)(const void *in, size_t in_len, uint8_t **out, size_t *out_len);

    /* --- Pyroscope push.v1 PushRequest (api/push/v1/push.proto) --- */
    /* Encodes the profiles as one PushRequest: one series per profile,
     * its labels as label pairs, its gzip'd pprof as the raw sample.
     * Returns a malloc'd buffer. */
    int (*push_encode)(pp_profile *const *profiles, size_t n, uint8_t **out, size_t *out_len,
                       char *err, size_t errlen);
    /* Decodes a PushRequest into profiles added to `into` (one per raw
     * sample, labels from its series; from/until taken from the pprof).
     * < 0 on error: PP_PUSH_BAD_PROFILE when the request is a PushRequest
     * but one of its raw profiles is not a readable pprof, -1 otherwise. */
    int (*push_decode)(const void *data, size_t len, pp_batch *into, char *err, size_t errlen);

    /* --- appended to ABI 1: pprof strings as byte strings --- */
    /* Byte length of t->strings[idx], NUL bytes included (a string read
     * from a profile may hold them: compare and copy it with this length,
     * not strlen). 0 for an index outside the table. */
    size_t (*pprof_string_len)(const pp_pprof *t, int64_t idx);
    /* pprof_intern for the len bytes at s, which may include NUL bytes. */
    int64_t (*pprof_intern_bytes)(pp_profile *p, const char *s, size_t len);
    /* --- appended to ABI version 1: text of a component's own in the
     * telemetry /metrics, for series that are not one number per
     * component (the profile_metrics exporter's per-service series with
     * their own timestamps) --- */
    /* At every render of /metrics, after the host's own metrics, the host
     * calls fn(arg, write, out) on the telemetry thread; fn writes whole
     * Prometheus text families (HELP, TYPE, samples) and must not call
     * exposition_add/remove. One fn per instance: adding again replaces
     * it. 0, or -1 when out of memory. */
    int (*exposition_add)(pp_instance *self, pp_exposition_fn fn, void *arg);
    /* Forgets the instance's fn; when it returns, no render is calling it
     * any more, so its state can be freed. Harmless if none was added. */
    void (*exposition_remove)(pp_instance *self);
    /* --- appended to ABI 1: target states for the built-in page. A
     * plugin built against an older header never calls them. --- */
    /* Records (or replaces) the state of st->target x st->profile; copies
     * everything. Any thread. */
    void (*target_state)(pp_instance *self, const pp_target_state *st);
    /* The target x profile went away (NULL profile: every profile of it). */
    void (*target_forget)(pp_instance *self, const char *target, const char *profile);
    /* --- appended after ABI version 1's first release --- */
    /* pprof_family with the sender's display name of each sample type
     * (display[i] for sample type i; NULL or "" = the type's own name),
     * as Pyroscope's Go SDK sends them in its sample_type_config: block
     * and mutex profiles differ only there. A static string or NULL. */
    const char *(*pprof_family_display)(const pp_pprof *t, const char *const *display);
    /* The process memory limit (service.memory_limit): PP_MEMORY_OK, or
     * PP_MEMORY_SOFT / PP_MEMORY_HARD when resident memory is past that
     * limit. Then a receiver holds back before taking more: it refuses
     * with a retryable error (HTTP 503 with Retry-After), skips a round,
     * pauses consuming, or waits; and the call counts one refusal for
     * `self` in profpipe_memory_refusals_total. Cheap (a cached reading,
     * refreshed at most once per check_interval). Any thread. */
    int (*memory_pressure)(pp_instance *self);
} pp_host;

/* What pp_host.memory_pressure answers. */
#define PP_MEMORY_OK 0
#define PP_MEMORY_SOFT 1
#define PP_MEMORY_HARD 2
/* Seconds a refused client is asked to wait (Retry-After). */
#define PP_MEMORY_RETRY_AFTER_S 1

/* ------------------------------------------------------------------ */
/* The component descriptor.                                           */
/* ------------------------------------------------------------------ */

/* Flags. */
#define PP_MUTATES 0x1u /* processor changes profiles: give it its own copy */

typedef struct pp_component {
    const char *type; /* the `type` of `type/name` ids */
    pp_kind kind;
    const char *description;
    const pp_option *options; /* ends with {0} */
    unsigned flags;

    /* Checks options and builds state; must not start threads or open
     * sockets (`profpipe validate` calls create then destroy). Returns 0,
     * or -1 after reporting with host->cfg_error or host->log. */
    int (*create)(const pp_host *host, pp_instance *self, const pp_config *cfg, void **state);
    /* Receivers begin emitting; exporters connect. 0 or -1. Optional. */
    int (*start)(void *state);
    /* Receivers: stop and join, emit nothing after return. Exporters:
     * called after the queue drained; flush within deadline_ns
     * (monotonic). Optional. */
    void (*stop)(void *state, int64_t deadline_ns);
    void (*destroy)(void *state);

    /* Processors: takes ownership of `in`; returns the batch to pass on
     * (`in` itself, a new batch, or NULL for nothing). */
    pp_batch *(*process)(void *state, pp_batch *in);
    /* Processors, optional: called about once a second and once with
     * final=1 at shutdown, to emit what a window holds. */
    pp_batch *(*tick)(void *state, int64_t now_ns, int final);

    /* Exporters: delivers `b` (borrowed). Sets outcome[i] for the profiles
     * it finished; the status says what happens to those still PENDING. */
    pp_status (*export)(void *state, pp_batch *b, pp_outcome *outcome, pp_export_result *result);
} pp_component;

/* What an external plugin .so exports as `profpipe_module`. */
typedef struct pp_module {
    uint32_t signature;   /* PP_MODULE_SIGNATURE */
    uint32_t abi_version; /* PP_ABI_VERSION */
    const char *name;
    const pp_component *const *components; /* NULL-terminated */
} pp_module;

#define PP_MODULE_SYMBOL "profpipe_module"

#ifdef __cplusplus
}
#endif

#endif /* PROFPIPE_PLUGIN_H */
