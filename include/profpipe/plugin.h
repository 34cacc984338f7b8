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
 *
 * Compatibility promise (nginx and fluent-bit keep the same one):
 *
 * - The ABI version is PP_ABI_MAJOR.PP_ABI_MINOR. A plugin built against
 *   major M runs on every host of major M whose minor is the same or
 *   newer: nothing a plugin sees ever moves or changes meaning within a
 *   major. A plugin of another major is refused at load, with a message
 *   naming both versions.
 * - A minor release may only APPEND: a new host call at the very end of
 *   pp_host, a new optional callback at the very end of pp_component, a
 *   new member at the very end of pp_module, a new member at the end of a
 *   struct the host allocates and hands out (pp_pprof), a new #define or
 *   enum value a plugin may ignore. Each appended member says which minor
 *   added it. Inserting, removing, reordering or retyping any member;
 *   changing what a call does or who owns what it returns; changing a
 *   struct a plugin allocates or passes by pointer or in an array
 *   (pp_option tables, pp_target_state, pp_export_result, the tree's
 *   element structs): each needs a new major.
 * - The version and size fields open pp_host and pp_module and never
 *   move in any major: a pp_module's signature is at offset 0 and its
 *   major at offset 4 (where major 1 had its abi_version), so even a
 *   plugin of a later or earlier major is refused by reading them alone.
 * - A plugin built against a newer minor than the host's runs when it uses
 *   only what the host has: it checks each host call added after the
 *   minor it needs with PP_HOST_HAS(host, call) before calling it, and
 *   leaves the pp_component and pp_module members the host does not know
 *   zero. So a plugin can be built once, against the newest header, and
 *   still run on older hosts of its major. A plugin that sets such a
 *   member (a callback the older host would never call) is refused with a
 *   message naming both versions: silently not calling it would be a
 *   miscall too.
 * - The host knows how many pp_component bytes a plugin's descriptors
 *   have from its pp_module's component_size, and copies each descriptor
 *   into one of its own size, members the plugin did not have left NULL:
 *   an optional callback a plugin's minor did not know is simply absent.
 *
 * tests/unit/test_abi.c pins the offset of every member of pp_host,
 * pp_component and pp_module, so an insertion fails the tests; appending a
 * member means appending its line there. tests/e2e/foundation/
 * test_plugin_abi.sh loads a plugin built against the frozen 2.0 header
 * (tests/support/abi/profpipe_2_0/) into the current host, and checks
 * that plugins of another major, or of a newer minor that sets what the
 * host lacks, are refused.
 */
#ifndef PROFPIPE_PLUGIN_H
#define PROFPIPE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change to this header (see above). */
#define PP_ABI_MAJOR 2
/* Bumped on every append; back to 0 when the major changes. */
#define PP_ABI_MINOR 1
/* "PPMD": marks a pp_module so that a random .so is refused, not run. */
#define PP_MODULE_SIGNATURE 0x50504d44u

typedef enum pp_kind {
    PP_RECEIVER = 1,
    PP_PROCESSOR = 2,
    PP_EXPORTER = 3,
} pp_kind;

/* The kind of a failure, for a caller that picks a status or a counter by
 * it (an HTTP 413 rather than a 400); the message written to the caller's
 * err buffer is for people and may be reworded at any time. */
typedef enum pp_err {
    PP_ERR_NONE = 0,
    PP_ERR_INVALID = 1,   /* the input is malformed */
    PP_ERR_TOO_LARGE = 2, /* the input is over a size limit (it inflates past it) */
    PP_ERR_NO_MEMORY = 3,
} pp_err;

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

/* pp_option.flags */
#define PP_OPT_MIN_EXCLUSIVE 0x1u /* the value must be > min, not >= min */
#define PP_OPT_MAX_EXCLUSIVE 0x2u /* the value must be < max, not <= max */
/* Added in 2.1: enum_values match in any case (Prometheus' relabel actions);
 * a 2.0 host matches them exactly. */
#define PP_OPT_ENUM_ANY_CASE 0x4u

/* Where host->cfg_fill stores an option: the offset of a member of the
 * component's config struct and its size, e.g.
 *   {"interval", PP_OPT_DURATION, "15s", "...", 0, NULL, PP_FIELD(my_cfg, interval_ns)}
 * The member's type follows from the option's type:
 *   STRING            const char * (borrowed: valid until destroy()), or an
 *                     int holding the index into enum_values (-1: unset)
 *   INT               int64_t or int (a value the int cannot hold is an error)
 *   DOUBLE            double
 *   BOOL              int or bool
 *   DURATION          int64_t nanoseconds
 *   SIZE              int64_t or size_t bytes
 *   SECTION           a struct filled from `children`, whose offsets are
 *                     relative to that struct
 *   STRING_LIST, STRING_MAP, SECTION_LIST, ANY
 *                     const pp_config * (the node, read with cfg_count,
 *                     cfg_item...; a SECTION_LIST item is filled with
 *                     cfg_fill(item, children, &one))
 * A scalar option without a field (size 0) is still checked, not stored;
 * a section without one is skipped. */
#define PP_FIELD(type, member) .offset = offsetof(type, member), .size = sizeof(((type *)0)->member)

typedef struct pp_option {
    const char *name;
    pp_opt_type type;
    const char *default_value; /* as it would be written in YAML; NULL = none */
    const char *description;
    int required;
    const struct pp_option *children; /* SECTION / SECTION_LIST; ends with {0} */
    /* --- ABI 2: what cfg_fill needs (all may be left 0) --- */
    size_t offset; /* PP_FIELD: where the value goes */
    size_t size;   /* sizeof the member; 0 = checked but not stored */
    /* STRING options: the only values allowed; NULL-terminated. */
    const char *const *enum_values;
    /* INT, DOUBLE, DURATION and SIZE options: bounds written as in YAML
     * ("1", "0.5", "1ms", "4KiB"); NULL = unbounded on that side.
     * Inclusive unless flags say otherwise. */
    const char *min;
    const char *max;
    unsigned flags; /* PP_OPT_MIN_EXCLUSIVE, PP_OPT_MAX_EXCLUSIVE, PP_OPT_ENUM_ANY_CASE */
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
    /* Host-private: the byte lengths of the strings
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
/* What a receiver that polls targets shows on the built-in page.      */
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
    /* --- never move, in any major --- */
    uint32_t abi_major; /* PP_ABI_MAJOR of the host */
    uint32_t abi_minor; /* PP_ABI_MINOR of the host */
    size_t size;        /* sizeof(pp_host) in the host: see PP_HOST_HAS */

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
    /* Both return 0 and a malloc'd buffer, or -1 with the reason in err.
     * gunzip also sets *kind (when kind is not NULL): PP_ERR_TOO_LARGE
     * when the output would pass max_out, PP_ERR_INVALID for a corrupt
     * stream, PP_ERR_NO_MEMORY; PP_ERR_NONE on success. */
    int (*gunzip)(const void *in, size_t in_len, size_t max_out, uint8_t **out, size_t *out_len,
                  pp_err *kind, char *err, size_t errlen);
    int (*gzip)(const void *in, size_t in_len, uint8_t **out, size_t *out_len);

    /* --- pprof strings as byte strings --- */
    /* Byte length of t->strings[idx], NUL bytes included (a string read
     * from a profile may hold them: compare and copy it with this length,
     * not strlen). 0 for an index outside the table. */
    size_t (*pprof_string_len)(const pp_pprof *t, int64_t idx);
    /* pprof_intern for the len bytes at s, which may include NUL bytes. */
    int64_t (*pprof_intern_bytes)(pp_profile *p, const char *s, size_t len);
    /* --- text of a component's own in the telemetry /metrics, for series that are not one number
     * per component (the profile_metrics exporter's per-service series with their own timestamps)
     * --- */
    /* At every render of /metrics, after the host's own metrics, the host
     * calls fn(arg, write, out) on the telemetry thread; fn writes whole
     * Prometheus text families (HELP, TYPE, samples) and must not call
     * exposition_add/remove. One fn per instance: adding again replaces
     * it. 0, or -1 when out of memory. */
    int (*exposition_add)(pp_instance *self, pp_exposition_fn fn, void *arg);
    /* Forgets the instance's fn; when it returns, no render is calling it
     * any more, so its state can be freed. Harmless if none was added. */
    void (*exposition_remove)(pp_instance *self);
    /* --- target states for the built-in page --- */
    /* Records (or replaces) the state of st->target x st->profile; copies
     * everything. Any thread. */
    void (*target_state)(pp_instance *self, const pp_target_state *st);
    /* The target x profile went away (NULL profile: every profile of it). */
    void (*target_forget)(pp_instance *self, const char *target, const char *profile);
    /* pprof_family with the sender's display name of each sample type
     * (display[i] for sample type i; NULL or "" = the type's own name),
     * as Pyroscope's Go SDK sends them in its sample_type_config: block
     * and mutex profiles differ only there. A static string or NULL. */
    const char *(*pprof_family_display)(const pp_pprof *t, const char *const *display);
    /* Reads time_nanos and duration_nanos of a serialized pprof (gzip'd or
     * not) without decoding it: 0 (absent fields read 0), or -1 with the
     * reason in err and *kind (when not NULL) set: PP_ERR_TOO_LARGE when
     * the payload inflates past the host's limit on a profile,
     * PP_ERR_INVALID when it is not a readable pprof. */
    int (*pprof_time)(const void *data, size_t len, int64_t *time_nanos, int64_t *duration_nanos,
                      pp_err *kind, char *err, size_t errlen);

    /* --- 2.0 ends here. Append new calls below this line only, each
     * saying the minor that added it ("added in 2.1"). --- */

    /* Added in 2.1: a string option whose reader gives `$` its own
     * meaning (relabel's `$1` templates). As cfg_string, ${env:...}
     * expanded, but `$$` left as written for the reader to unescape, as
     * Prometheus does (`x$$y` reaches it as `x$$y`, not `x$y`). */
    const char *(*cfg_template)(const pp_config *c, const char *key);

    /* Added in 2.1: option tables that fill structs. Reads every option
     * of `table` from the mapping c (written, or the table's default),
     * checks its type, its enum_values and its min/max, and stores it at
     * out + offset (see PP_FIELD). Every problem is reported as
     * host->cfg_error does ("file:line:col: <id>: <key>: must be ..."),
     * all of them, not only the first. Strings and nodes stored are
     * borrowed from the config: valid until destroy(). Returns 0, or -1 if
     * anything was wrong (out may then be partly filled). */
    int (*cfg_fill)(const pp_config *c, const pp_option *table, void *out);

    /* Added in 2.1: the process memory limit (service.memory_limit): PP_MEMORY_OK, or
     * PP_MEMORY_SOFT / PP_MEMORY_HARD when resident memory is past that
     * limit. Then a receiver holds back before taking more: it refuses
     * with a retryable error (HTTP 503 with Retry-After), skips a round,
     * pauses consuming, or waits; and the call counts one refusal for
     * `self` in profpipe_memory_refusals_total. Cheap (a cached reading,
     * refreshed at most once per check_interval). Any thread. */
    int (*memory_pressure)(pp_instance *self);

    /* Added in 2.1: what a label-only path needs from a serialized pprof
     * (gzip'd or not), read in one streaming pass with a fixed buffer,
     * without decoding it. Returns a skeleton tree holding only the
     * sample types (strings[] holds just their type and unit strings, so
     * pprof_family_display works on it), time_nanos and duration_nanos;
     * one malloc'd block: free() it. Before returning it checks, as the
     * decoder would: the wire format and wire types, string indexes
     * against the string table's size, string_table[0] == "", non-zero
     * and unique ids, one value per sample type in every sample, and
     * that the ids samples, locations and lines name exist (from a bit
     * per id while ids are 1..n, else by decoding once more): what it
     * accepts, a decode accepts. *plain_len
     * is the size the bytes inflate to. NULL with the reason in err and
     * *kind: PP_ERR_TOO_LARGE past max_plain (or the host's own limit),
     * PP_ERR_INVALID, PP_ERR_NO_MEMORY. */
    pp_pprof *(*pprof_peek)(const void *data, size_t len, size_t max_plain, size_t *plain_len,
                            pp_err *kind, char *err, size_t errlen);

    /* Added in 2.1: profile_set_raw without the copy. p takes data, a
     * malloc'd block of len bytes (gzip'd or plain serialized pprof), and
     * frees it when done; the caller must not touch it again. 0, or -1
     * when out of memory (data is freed then too). */
    int (*profile_adopt_raw)(pp_profile *p, void *data, size_t len);
} pp_host;

/* 1 when the host has the call `member` (of a minor newer than the one a
 * plugin needs at least): compare before calling it. */
#define PP_HOST_HAS(host, member)                                                                  \
    ((host)->size >= offsetof(pp_host, member) + sizeof(((const pp_host *)0)->member))

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
/* Added in 2.1: a receiver whose replacement may run beside it for a
 * moment (nothing it holds is exclusive, or it hands it over: a listener
 * passes its bound socket on). A reload then starts the replacement
 * before it stops this one, and refuses the new config, with the running
 * graph untouched, if that start fails. Without the flag a changed
 * receiver starts after its predecessor stopped. A 2.0 host ignores it. */
#define PP_OVERLAP 0x2u

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

    /* --- 2.0 ends here. Append new optional callbacks below this line
     * only (NULL = not provided), each saying the minor that added it. --- */
} pp_component;

/* What an external plugin .so exports as `profpipe_module`; start it with
 * PP_MODULE_HEADER so that every version and size field is right. */
typedef struct pp_module {
    /* --- never move, in any major --- */
    uint32_t signature;      /* PP_MODULE_SIGNATURE */
    uint32_t abi_major;      /* PP_ABI_MAJOR the plugin was built against */
    uint32_t abi_minor;      /* PP_ABI_MINOR the plugin was built against */
    uint32_t component_size; /* sizeof(pp_component) in the plugin */
    size_t size;             /* sizeof(pp_module) in the plugin */

    const char *name;
    const pp_component *const *components; /* NULL-terminated */

    /* --- 2.0 ends here. Append below this line only. --- */
} pp_module;

#define PP_MODULE_HEADER                                                                           \
    .signature = PP_MODULE_SIGNATURE, .abi_major = PP_ABI_MAJOR, .abi_minor = PP_ABI_MINOR,        \
    .component_size = sizeof(pp_component), .size = sizeof(pp_module)

#define PP_MODULE_SYMBOL "profpipe_module"

#ifdef __cplusplus
}
#endif

#endif /* PROFPIPE_PLUGIN_H */
