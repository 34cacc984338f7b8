/* label_edit: an example external plugin, built as its own .so.
 *
 * One processor that edits the series labels of every profile passing
 * through: `remove` names to delete, `set` name/value pairs to add or
 * overwrite (after removing), and `drop_types` profile families (__name__
 * values) whose profiles it drops altogether. It never touches the pprof
 * payload, so a pipeline through it never decodes a profile.
 *
 * It shows what every plugin looks like: it includes only
 * <profpipe/plugin.h>, reaches the host only through the pp_host table it
 * is handed in create(), declares its options as a table (which the host
 * checks before create(), prints in `profpipe components`, and fills into
 * the plugin's struct with host->cfg_fill), and exports
 * one symbol, `profpipe_module`, that the host checks for its signature and
 * ABI version before calling anything. */
#include <stdlib.h>
#include <string.h>

#include <profpipe/plugin.h>

#include "label_names.h"

typedef struct label_edit {
    const pp_host *host;
    pp_instance *self;
    const pp_config *set;        /* a map, or NULL; borrowed from the config */
    const pp_config *remove;     /* a list, or NULL */
    const pp_config *drop_types; /* a list, or NULL */
    pp_metric *dropped;
} label_edit;

static const pp_option label_edit_options[] = {
    {"set", PP_OPT_STRING_MAP, NULL,
     "labels to add or overwrite, name: value (applied after remove)", 0, NULL,
     PP_FIELD(label_edit, set)},
    {"remove", PP_OPT_STRING_LIST, NULL, "label names to delete", 0, NULL,
     PP_FIELD(label_edit, remove)},
    {"drop_types", PP_OPT_STRING_LIST, NULL,
     "profile families (`__name__` values such as `goroutine`) whose profiles are dropped", 0, NULL,
     PP_FIELD(label_edit, drop_types)},
    {0},
};

/* __name__ says what a profile is and service_name whose it is: every
 * profile keeps both, so the plugin may change service_name but neither
 * removes them nor rewrites __name__. */
static int check_name(const pp_host *h, const pp_config *node, const char *key, const char *name,
                      int removing)
{
    if (!label_name_valid(name))
        return h->cfg_error(node, key, "`%s` is not a label name", name);
    if (!strcmp(name, "__name__") || (removing && !strcmp(name, "service_name")))
        return h->cfg_error(node, key, "`%s` must stay on every profile", name);
    return 0;
}

/* Rule: the names set and removed are label names the plugin may touch. */
static int check_names(const pp_host *h, const pp_config *set, const pp_config *remove)
{
    for (size_t i = 0; set && i < h->cfg_count(set); i++)
        if (check_name(h, set, h->cfg_key(set, i), h->cfg_key(set, i), 0))
            return -1;
    for (size_t i = 0; remove && i < h->cfg_count(remove); i++) {
        const pp_config *item = h->cfg_item(remove, i);
        if (check_name(h, item, NULL, h->cfg_scalar(item), 1))
            return -1;
    }
    return 0;
}

static int label_edit_create(const pp_host *host, pp_instance *self, const pp_config *cfg,
                             void **state)
{
    label_edit *le = calloc(1, sizeof *le);
    if (!le)
        return -1;
    /* the host does not call destroy() after a failed create() */
    if (host->cfg_fill(cfg, label_edit_options, le) < 0 ||
        check_names(host, le->set, le->remove) < 0) {
        free(le);
        return -1;
    }
    le->host = host;
    le->self = self;
    *state = le;
    return 0;
}

static void label_edit_destroy(void *state)
{
    free(state);
}

static int in_list(const pp_host *h, const pp_config *list, const char *value)
{
    for (size_t i = 0; list && value && i < h->cfg_count(list); i++)
        if (!strcmp(h->cfg_scalar(h->cfg_item(list, i)), value))
            return 1;
    return 0;
}

/* Removes then sets labels; -1 when out of memory. */
static int edit(const label_edit *le, pp_profile *p)
{
    const pp_host *h = le->host;
    int rc = 0;
    for (size_t i = 0; le->remove && i < h->cfg_count(le->remove); i++)
        h->label_del(p, h->cfg_scalar(h->cfg_item(le->remove, i)));
    for (size_t i = 0; le->set && i < h->cfg_count(le->set); i++)
        rc |= h->label_set(p, h->cfg_key(le->set, i), h->cfg_scalar(h->cfg_item(le->set, i)));
    return rc ? -1 : 0;
}

/* Flagged PP_MUTATES: `in` is ours alone, so it is edited in place. */
static pp_batch *label_edit_process(void *state, pp_batch *in)
{
    label_edit *le = state;
    const pp_host *h = le->host;
    for (size_t i = h->batch_count(in); i-- > 0;) {
        pp_profile *p = h->batch_get(in, i);
        if (in_list(h, le->drop_types, h->label_get(p, "__name__"))) {
            h->profile_free(h->batch_take(in, i));
            if (!le->dropped) /* made on first use: process() runs on one thread */
                le->dropped = h->metric(le->self, "label_edit_dropped_profiles_total",
                                        "Profiles dropped by drop_types.", PP_COUNTER, NULL);
            h->metric_add(le->dropped, 1);
        } else if (edit(le, p) < 0) {
            h->log(le->self, PP_LOG_ERROR, "out of memory editing labels");
        }
    }
    if (h->batch_count(in) > 0)
        return in;
    h->batch_unref(in);
    return NULL;
}

static const pp_component label_edit_processor = {
    .type = "label_edit",
    .kind = PP_PROCESSOR,
    .description = "Example plugin: sets and removes series labels, drops profiles by type.",
    .options = label_edit_options,
    .flags = PP_MUTATES,
    .create = label_edit_create,
    .destroy = label_edit_destroy,
    .process = label_edit_process,
};

static const pp_component *const label_edit_components[] = {&label_edit_processor, NULL};

/* The one symbol the host looks up. */
__attribute__((visibility("default"))) const pp_module profpipe_module = {
    PP_MODULE_HEADER,
    .name = "label_edit",
    .components = label_edit_components,
};
