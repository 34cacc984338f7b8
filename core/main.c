/* main: the command line and the process's life.
 *
 *   profpipe [run] [-c FILE]      run (default config: config/profpipe.yaml)
 *   profpipe validate -c FILE     check everything that can be checked
 *   profpipe components [-c FILE] [--plugin SO]...   list component types
 *
 * Signals are blocked in every thread and taken by the main thread with
 * sigwait(), so handlers never run on a component's thread: SIGTERM and
 * SIGINT drain and exit 0; SIGHUP loads the config again and swaps the
 * running service for the new one only if the new one builds. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_options.h"
#include "exporter.h"
#include "http.h"
#include "log.h"
#include "memlimit.h"
#include "metrics.h"
#include "observe.h"
#include "registry.h"
#include "service.h"
#include "ui/ui.h"

#ifndef PROFPIPE_VERSION
#define PROFPIPE_VERSION "dev"
#endif

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define DEFAULT_CONFIG "config/profpipe.yaml"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: profpipe [run] [-c FILE]\n"
            "       profpipe validate -c FILE\n"
            "       profpipe components [-c FILE] [--plugin PATH]... [--markdown TYPE]\n"
            "       profpipe --version | --help\n"
            "\n"
            "  run         run the pipelines of FILE (default %s) until SIGTERM/SIGINT;\n"
            "              SIGHUP reloads FILE\n"
            "  validate    check FILE (syntax, types, references, plugins) without starting\n"
            "  components  list every built-in and loaded component with its options\n"
            "\n"
            "exit codes: 0 ok, 1 runtime failure, 2 bad config or usage\n",
            DEFAULT_CONFIG);
}

static void print_diagnostics(const config *c)
{
    for (size_t i = 0; i < c->n_warnings; i++)
        fprintf(stderr, "warning: %s\n", c->warnings[i]);
    for (size_t i = 0; i < c->n_errors; i++)
        fprintf(stderr, "error: %s\n", c->errors[i]);
}

/* One config diagnostic as a logfmt line: `file:line:col: where: what`
 * split into msg="what" file= line= column= at="where". */
static void log_diagnostic(pp_log_level level, const config *c, const char *text)
{
    char line[16] = "", col[16] = "", at[512] = "";
    const char *rest = text;
    size_t plen = strlen(c->path);
    if (strncmp(text, c->path, plen) == 0) {
        int l = 0, k = 0, used = 0;
        rest = text + plen;
        if (sscanf(rest, ":%d:%d%n", &l, &k, &used) == 2 && used > 0) {
            snprintf(line, sizeof line, "%d", l);
            snprintf(col, sizeof col, "%d", k);
            rest += used;
        }
        if (strncmp(rest, ": ", 2) == 0)
            rest += 2;
    }
    /* "scope: key: what": the leading segments without spaces say where */
    const char *what = rest;
    for (const char *sep = strstr(what, ": "); sep; sep = strstr(what, ": ")) {
        size_t n = (size_t)(sep - what);
        if (n == 0 || memchr(what, ' ', n) || strlen(at) + n + 2 >= sizeof at)
            break;
        snprintf(at + strlen(at), sizeof at - strlen(at), "%s%.*s", at[0] ? "." : "", (int)n, what);
        what = sep + 2;
    }
    const char *fields[] = {"file", c->path, "line", line, "column", col, "at", at, NULL};
    if (!at[0])
        fields[6] = NULL;
    if (!line[0]) { /* no position */
        fields[2] = at[0] ? "at" : NULL;
        fields[3] = at;
        fields[4] = NULL;
    }
    log_fields(level, "config", what, fields);
}

/* Loads and builds; prints what is wrong (as logfmt lines when as_log).
 * NULL config on load failure. */
static service *load_and_build(const char *path, config **out, int as_log)
{
    config *c = config_load_file(path);
    *out = c;
    if (!c) {
        fprintf(stderr, "error: %s: out of memory\n", path);
        return NULL;
    }
    service *s = service_build(c);
    if (!as_log) {
        print_diagnostics(c);
        return s;
    }
    for (size_t i = 0; i < c->n_warnings; i++)
        log_diagnostic(PP_LOG_WARN, c, c->warnings[i]);
    for (size_t i = 0; i < c->n_errors; i++)
        log_diagnostic(PP_LOG_ERROR, c, c->errors[i]);
    return s;
}

static int cmd_validate(const char *path)
{
    config *c = NULL;
    service *s = load_and_build(path, &c, 0);
    int ok = s != NULL;
    service_free(s);
    if (ok)
        printf("%s: ok\n", path);
    config_free(c);
    return ok ? 0 : EXIT_USAGE;
}

static void print_component(const pp_component *comp, const char *origin)
{
    printf("%s %s (%s)\n  %s\n", kind_name(comp->kind), comp->type, origin,
           comp->description ? comp->description : "");
    config_print_options(stdout, comp->options, 2);
    if (comp->kind == PP_EXPORTER) {
        printf("  (every exporter also takes:)\n");
        config_print_options(stdout, exporter_common_options, 2);
    }
    printf("\n");
}

static int cmd_components(const char *config_path, char **plugins, size_t n_plugins,
                          const char *markdown_type)
{
    registry_init();
    char err[1024];
    for (size_t i = 0; i < n_plugins; i++) {
        if (registry_load_plugin(plugins[i], err, sizeof err) != 0) {
            fprintf(stderr, "error: %s\n", err);
            return EXIT_USAGE;
        }
    }
    if (config_path) {
        config *c = config_load_file(config_path);
        int bad = !c || c->n_errors;
        for (size_t i = 0; c && !bad && i < c->n_plugins; i++) {
            if (registry_load_plugin(c->plugins[i], err, sizeof err) != 0) {
                fprintf(stderr, "error: %s\n", err);
                bad = 1;
            }
        }
        if (c && c->n_errors)
            print_diagnostics(c);
        config_free(c);
        if (bad)
            return EXIT_USAGE;
    }
    for (size_t i = 0; i < registry_count(); i++) {
        const pp_component *comp = registry_at(i);
        if (markdown_type) {
            if (strcmp(comp->type, markdown_type) == 0) {
                printf("### %s `%s`\n\n", kind_name(comp->kind), comp->type);
                config_print_options_markdown(stdout, comp->options);
                printf("\n");
            }
            continue;
        }
        print_component(comp, registry_origin(i));
    }
    return 0;
}

/* The running state, swapped by a reload. */
typedef struct runtime {
    config *cfg;
    service *svc;
    telemetry_server *telemetry;
    int telemetry_started; /* start_telemetry ran once */
} runtime;

/* (Re)starts the telemetry server for c. It keeps running across a reload
 * that leaves its settings alone, except with TLS: then it restarts, so
 * that a SIGHUP reads rotated certificates. */
static int start_telemetry(runtime *rt, const config *c)
{
    if (rt->telemetry_started &&
        (rt->telemetry ? telemetry_same(rt->telemetry, &c->telemetry) : !c->telemetry.host))
        return 0;
    telemetry_stop(rt->telemetry);
    rt->telemetry = NULL;
    rt->telemetry_started = 1;
    if (!c->telemetry.host)
        return 0;
    char err[512];
    rt->telemetry = telemetry_start(&c->telemetry, err, sizeof err);
    if (!rt->telemetry) {
        log_error("%s", err);
        return -1;
    }
    log_info("telemetry on %s://%s/metrics", c->telemetry.cert_file ? "https" : "http",
             c->telemetry_address);
    return 0;
}

/* The page keeps profiles only when something can serve it. */
static void configure_ui(const config *c)
{
    ui_configure(c->ui_enabled && c->telemetry_address[0], c->ui_retention_ns, c->ui_max_bytes);
}

static void apply_log_level(const config *c)
{
    log_set_level(c->log_level);
}

static void apply_memory_limit(const config *c)
{
    memlimit_heap_settings(c->memory_hard);
    memlimit_configure(c->memory_soft, c->memory_hard, c->memory_check_interval_ns);
}

/* Counts a reload's outcome and keeps whether the last one worked, as
 * Prometheus does (prometheus_config_last_reload_successful). */
static void set_last_reload_successful(int ok)
{
    metrics_set(metrics_get("profpipe_config_last_reload_successful",
                            "1 if the last reload was applied (or none was asked for), 0 if it "
                            "was refused or failed.",
                            PP_GAUGE, NULL),
                ok);
}

static void count_reload(int ok)
{
    metrics_add(metrics_get("profpipe_config_reloads_total", "SIGHUP reloads by result.",
                            PP_COUNTER, ok ? "result=\"success\"" : "result=\"failure\""),
                1);
    set_last_reload_successful(ok);
}

/* SIGHUP: the new config replaces the old only if it builds and its new
 * parts start. Receivers and exporters whose options did not change keep
 * running through the reload (listeners, queues, spools, counters); the
 * pipelines are built again and started before the old ones drain. What
 * can fail to start is tried before any old part stops (see
 * service_take_over): a failure there leaves the running graph as it was.
 * Only a replacement that must wait for its predecessor to stop (an
 * exporter, a receiver without PP_OVERLAP) can fail after that; then the
 * previous config is swapped back in the same way (service_roll_back),
 * and only if that fails too is it started again from scratch. */
static void reload(runtime *rt, const char *path)
{
    log_info("SIGHUP: reloading %s", path);
    config *c = config_load_file(path);
    service *s = c ? service_build_from(c, rt->svc) : NULL;
    if (!s) {
        for (size_t i = 0; c && i < c->n_errors; i++)
            log_error("reload refused, keeping the running config: %s", c->errors[i]);
        ui_reload_result(0, c ? c->errors : NULL, c ? c->n_errors : 0);
        config_free(c);
        count_reload(0);
        return;
    }
    for (size_t i = 0; i < c->n_warnings; i++)
        log_diagnostic(PP_LOG_WARN, c, c->warnings[i]);
    int old_cfg_kept = 0;
    int rc = service_take_over(s, rt->cfg, rt->cfg->shutdown_timeout_ns, &old_cfg_kept);
    if (rc == -1) {
        log_error("reload refused: the new config failed to start (see above); the previous one "
                  "runs on, untouched");
        char *why = "the new config failed to start (see the log); the previous one runs on";
        ui_reload_result(0, &why, 1);
        service_free(s);
        config_free(c);
        count_reload(0);
        return;
    }
    if (rc != 0) {
        int new_cfg_kept = 0;
        service *back =
            service_roll_back(s, rt->svc, rt->cfg, c, rt->cfg->shutdown_timeout_ns, &new_cfg_kept);
        if (back) {
            log_error("reload: a replacement failed to start after its predecessor stopped (see "
                      "above); rolled back to the previous config, what both share kept running");
            char *why = "the new config failed to start (see the log); rolled back to the "
                        "previous one";
            ui_reload_result(0, &why, 1);
            ui_set_running(back, rt->cfg); /* before s and the old service are freed */
            service_free(s);
            if (!new_cfg_kept)
                config_free(c);
            service_free(rt->svc);
            rt->svc = back;
            count_reload(0);
            return;
        }
        log_error("reload: the new config failed to start; restarting the previous one");
        char *why = "the new config failed to start (see the log); the previous one was restarted";
        ui_reload_result(0, &why, 1);
        ui_set_running(NULL, NULL);
        service_stop(s, rt->cfg->shutdown_timeout_ns);
        service_free(s);
        config_free(c);
        /* built while the stopped one still exists, so that its components
         * can take over what the old ones hand on */
        service *previous = service_build(rt->cfg);
        service_free(rt->svc);
        rt->svc = previous;
        if (!rt->svc || service_start(rt->svc) != 0)
            log_error("the previous config failed to restart too: nothing is running");
        else
            ui_set_running(rt->svc, rt->cfg);
        count_reload(0);
        return;
    }
    ui_set_running(s, c); /* before the old service is freed */
    configure_ui(c);
    service_free(rt->svc);
    if (!old_cfg_kept)
        config_free(rt->cfg);
    rt->svc = s;
    rt->cfg = c;
    apply_log_level(c);
    apply_memory_limit(c);
    if (start_telemetry(rt, c) != 0)
        log_error("reload: the pipelines run, but without /metrics and /healthz");
    ui_reload_result(1, NULL, 0);
    count_reload(1);
    log_info("reloaded %s", path);
}

static int cmd_run(const char *path)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* the page sees what flows and what targets do through the engine's hooks */
    engine_observe(&(engine_observer){
        .batch = ui_observe, .target_state = ui_target_state, .target_forget = ui_target_forget});
    runtime rt = {0};
    rt.svc = load_and_build(path, &rt.cfg, 1);
    if (!rt.svc) {
        config_free(rt.cfg);
        return EXIT_USAGE;
    }
    apply_log_level(rt.cfg);
    metrics_set(metrics_get("profpipe_build_info", "profpipe's version.", PP_GAUGE,
                            "version=\"" PROFPIPE_VERSION "\""),
                1);
    set_last_reload_successful(1);
    int rc = 0;
    configure_ui(rt.cfg);
    apply_memory_limit(rt.cfg);
    if (memlimit_start() != 0)
        log_warn("memory monitor: cannot start its thread; limits are checked on demand only");
    if (start_telemetry(&rt, rt.cfg) != 0 || service_start(rt.svc) != 0) {
        rc = EXIT_RUNTIME;
    } else {
        ui_set_running(rt.svc, rt.cfg);
        log_info("profpipe %s running %s", PROFPIPE_VERSION, path);
        for (;;) {
            int sig = 0;
            if (sigwait(&set, &sig) != 0)
                continue;
            if (sig == SIGHUP) {
                reload(&rt, path);
                continue;
            }
            log_info("%s: stopping (deadline %lldms)", sig == SIGINT ? "SIGINT" : "SIGTERM",
                     (long long)(rt.cfg->shutdown_timeout_ns / 1000000));
            break;
        }
        if (rt.svc)
            service_stop(rt.svc, rt.cfg->shutdown_timeout_ns);
        log_info("stopped");
    }
    memlimit_stop();
    telemetry_stop(rt.telemetry);
    ui_set_running(NULL, NULL);
    service_free(rt.svc);
    config_free(rt.cfg);
    ui_reset();
    return rc;
}

int main(int argc, char **argv)
{
    memlimit_heap_start();
    const char *command = "run";
    int first = 1;
    if (argc > 1 && argv[1][0] != '-') {
        command = argv[1];
        first = 2;
    }
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},   {"plugin", required_argument, NULL, 'p'},
        {"markdown", required_argument, NULL, 'm'}, {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},           {0},
    };
    const char *config_path = NULL, *markdown = NULL;
    char **plugins = calloc((size_t)argc, sizeof *plugins);
    size_t n_plugins = 0;
    optind = first;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'p':
            plugins[n_plugins++] = optarg;
            break;
        case 'm':
            markdown = optarg;
            break;
        case 'V':
            printf("profpipe %s (plugin ABI %d.%d)\n", PROFPIPE_VERSION, PP_ABI_MAJOR,
                   PP_ABI_MINOR);
            free(plugins);
            return 0;
        case 'h':
            usage(stdout);
            free(plugins);
            return 0;
        default:
            usage(stderr);
            free(plugins);
            return EXIT_USAGE;
        }
    }
    int rc;
    if (optind < argc) {
        fprintf(stderr, "profpipe: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        rc = EXIT_USAGE;
    } else if (strcmp(command, "run") == 0) {
        rc = cmd_run(config_path ? config_path : DEFAULT_CONFIG);
    } else if (strcmp(command, "validate") == 0) {
        rc = config_path ? cmd_validate(config_path) : EXIT_USAGE;
        if (!config_path)
            fprintf(stderr, "profpipe validate: -c FILE is required\n");
    } else if (strcmp(command, "components") == 0) {
        rc = cmd_components(config_path, plugins, n_plugins, markdown);
    } else {
        fprintf(stderr, "profpipe: unknown command \"%s\"\n", command);
        usage(stderr);
        rc = EXIT_USAGE;
    }
    free(plugins);
    return rc;
}
