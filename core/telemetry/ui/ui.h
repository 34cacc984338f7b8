/* ui: the built-in page on the telemetry listener, and what it keeps.
 *
 * The rest of the core talks to the page only through this header:
 *   main.c      configures it (service.ui), tells it which service runs
 *               and how the last reload went;
 *   the engine  shows it every batch the processor chain hands to the
 *               exporters (ui_observe) and passes on target states from
 *               components (pp_host), through the hooks main.c installs
 *               (engine/observe.h): the engine never calls up into here;
 *   http.c      hands it the URLs it serves (ui_handles / ui_handle).
 * Implemented by ui_store.c (recent profile windows), ui_status.c (the
 * running graph, last errors, target states), ui_api.c (the JSON and pprof
 * endpoints), ui_flame.c (flame graph, top table, diff trees), ui_json.c,
 * ui_http.c (libmicrohttpd glue) and the generated ui_assets.c. */
#ifndef PROFPIPE_UI_H
#define PROFPIPE_UI_H

#include <profpipe/plugin.h>
#include <stddef.h>
#include <stdint.h>

struct service;
struct config;
struct MHD_Connection;

/* service.ui: applies at start and on every reload. Turning it off (or
 * shrinking it) evicts what no longer fits. */
void ui_configure(int enabled, int64_t retention_ns, int64_t max_bytes);
int ui_enabled(void);
/* Keeps a reference to each profile's payload (borrowed batch). Any
 * thread. */
void ui_observe(pp_batch *b);

/* The memory limit's first step: lets the oldest windows go until `want`
 * bytes were freed or none is left (counted, reason="memory_limit").
 * Returns the bytes freed. */
size_t ui_shed(size_t want);
/* The bytes the page keeps now (counted in the memory limit's view). */
size_t ui_kept_bytes(void);

/* The running service and its config (both borrowed until the next call
 * or ui_set_running(NULL, NULL)); waits for any page reading the old
 * one. */
void ui_set_running(struct service *s, const struct config *c);
/* How the last SIGHUP went: errors are copied. */
void ui_reload_result(int ok, char *const *errors, size_t n_errors);

/* Target states (pp_host.target_state / target_forget). */
void ui_target_state(const char *component_id, const pp_target_state *st);
void ui_target_forget(const char *component_id, const char *target, const char *profile);

/* The URLs the page serves: "/", "/ui/...", "/api/v1/...". */
int ui_handles(const char *url);
/* Answers a GET for a URL ui_handles() took; libmicrohttpd's result. */
int ui_handle(struct MHD_Connection *conn, const char *url);

/* Forgets everything kept (tests, and the end of the process). */
void ui_reset(void);

#endif
