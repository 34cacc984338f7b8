/* host: fills the pp_host table from the core modules. Only thin
 * adapters live here; each function's behaviour is in its module. */
#include "host.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "batch.h"
#include "config_get.h"
#include "instance.h"
#include "log.h"
#include "memlimit.h"
#include "metrics.h"
#include "gz.h"
#include "pprof_compact.h"
#include "pprof_merge.h"
#include "pprof_codec.h"
#include "pprof_tree.h"
#include "profile.h"
#include "observe.h"
#include "config_fill.h"

static void host_log(pp_instance *self, pp_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, self ? self->log_name : NULL, fmt, ap);
    va_end(ap);
}

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t host_now_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

static int64_t host_monotonic_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

static const char *host_instance_id(const pp_instance *self)
{
    return self ? self->id : "";
}

static pp_metric *host_metric(pp_instance *self, const char *name, const char *help,
                              pp_metric_type type, const char *labels)
{
    char full[256], all_labels[1024];
    snprintf(full, sizeof full, "profpipe_%s", name);
    const char *own = self ? self->metric_labels : "";
    if (labels && labels[0])
        snprintf(all_labels, sizeof all_labels, "%s%s%s", own, own[0] ? "," : "", labels);
    else
        snprintf(all_labels, sizeof all_labels, "%s", own);
    return metrics_get(full, help, type, all_labels);
}

static int host_pprof_time(const void *data, size_t len, int64_t *time_nanos,
                           int64_t *duration_nanos, pp_err *kind, char *err, size_t errlen)
{
    return pprof_scan_time(data, len, time_nanos, duration_nanos, kind, err, errlen);
}

static pp_pprof *host_pprof_peek(const void *data, size_t len, size_t max_plain, size_t *plain_len,
                                 pp_err *kind, char *err, size_t errlen)
{
    return pprof_peek(data, len, max_plain, plain_len, kind, err, errlen);
}

static int host_exposition_add(pp_instance *self, pp_exposition_fn fn, void *arg)
{
    return metrics_exposition_add(self, fn, arg);
}

static void host_exposition_remove(pp_instance *self)
{
    metrics_exposition_remove(self);
}

static void host_target_state(pp_instance *self, const pp_target_state *st)
{
    observe_target_state(self ? self->id : "", st);
}

static void host_target_forget(pp_instance *self, const char *target, const char *profile)
{
    observe_target_forget(self ? self->id : "", target, profile);
}

static int host_memory_pressure(pp_instance *self)
{
    return (int)memlimit_refuse(self ? self->id : "-");
}

static const pp_host host_table = {
    .abi_major = PP_ABI_MAJOR,
    .abi_minor = PP_ABI_MINOR,
    .size = sizeof(pp_host),
    .log = host_log,
    .now_ns = host_now_ns,
    .monotonic_ns = host_monotonic_ns,
    .instance_id = host_instance_id,

    CONFIG_HOST_READERS,

    .profile_new = profile_new,
    .profile_free = profile_free,
    .profile_clone = profile_clone,
    .label_count = profile_label_count,
    .label_name = profile_label_name,
    .label_value = profile_label_value,
    .label_get = profile_label_get,
    .label_set = profile_label_set,
    .label_del = profile_label_del,
    .labels_fingerprint = profile_labels_fingerprint,
    .profile_from = profile_from,
    .profile_until = profile_until,
    .profile_set_window = profile_set_window,
    .profile_set_raw = profile_set_raw,
    .profile_raw_gz = profile_raw_gz,
    .profile_size = profile_size,
    .profile_tree = profile_tree,
    .profile_tree_mut = profile_tree_mut,
    .profile_tree_new = profile_tree_new,

    .profile_alloc = profile_alloc,
    .pprof_intern = pprof_intern,
    .pprof_location = pprof_location,
    .pprof_function = pprof_function,
    .pprof_compact = pprof_compact,
    .pprof_merge = pprof_merge,
    .pprof_family = pprof_family,

    .batch_new = batch_new,
    .batch_add = batch_add,
    .batch_count = batch_count,
    .batch_get = batch_get,
    .batch_take = batch_take,
    .batch_ref = batch_ref,
    .batch_unref = batch_unref,
    .batch_set_ack = batch_set_ack,
    .batch_adopt_acks = batch_adopt_acks,
    .emit = instance_emit,

    .metric = host_metric,
    .metric_add = metrics_add,
    .metric_set = metrics_set,
    .metric_remove = metrics_remove,

    .gunzip = gz_gunzip,
    .gzip = gz_gzip,

    .pprof_string_len = pprof_string_len,
    .pprof_intern_bytes = pprof_intern_bytes,
    .exposition_add = host_exposition_add,
    .exposition_remove = host_exposition_remove,
    .target_state = host_target_state,
    .target_forget = host_target_forget,
    .pprof_family_display = pprof_family_display,
    .pprof_time = host_pprof_time,
    .cfg_template = cfg_template,
    .cfg_fill = cfg_fill,
    .memory_pressure = host_memory_pressure,
    .pprof_peek = host_pprof_peek,
    .profile_adopt_raw = profile_adopt_raw,
};

const pp_host *host_api(void)
{
    return &host_table;
}
