/* Fuzz target: relabel rules, parsed and applied. The input is the
 * relabel processor's options as YAML, a line "#labels", then
 * "name=value" lines. The options go through the real config checks and
 * the processor's create() (RE2-syntax translation, PCRE2 compile); the
 * lines become the series labels of a profile and, each, the label of
 * one of its samples, so that `rules` and `sample_labels` both run. */
#include "fuzz_support.h"
#include "harness.h"

extern const pp_component pp_processor_relabel;

#define MAX_LABELS 64

/* One sample per label line, carrying that line as its label. */
static void add_samples(const pp_host *h, pp_profile *p, char **names, char **values, size_t n)
{
    pp_pprof *t = h->profile_tree_new(p);
    if (!t)
        return;
    t->sample_types = h->profile_alloc(p, sizeof *t->sample_types);
    t->samples = h->profile_alloc(p, n * sizeof *t->samples + 1);
    if (!t->sample_types || !t->samples)
        return;
    t->sample_types[0] =
        (pp_value_type){h->pprof_intern(p, "samples"), h->pprof_intern(p, "count")};
    t->n_sample_types = 1;
    for (size_t i = 0; i < n; i++) {
        pp_sample *s = &t->samples[i];
        memset(s, 0, sizeof *s);
        s->values = h->profile_alloc(p, sizeof *s->values);
        s->labels = h->profile_alloc(p, sizeof *s->labels);
        if (!s->values || !s->labels)
            return;
        s->values[0] = 1;
        s->n_values = 1;
        s->labels[0] =
            (pp_label){h->pprof_intern(p, names[i]), h->pprof_intern(p, values[i]), 0, 0};
        s->n_labels = 1;
        t->n_samples = i + 1;
    }
}

/* The processor made from the last options seen: many mutations change
 * only the labels, and compiling the rules is most of the cost. */
static char *last_options;
static harness *last_hs;

static harness *processor_for(char *options)
{
    if (last_options && strcmp(options, last_options) == 0) {
        free(options);
        return last_hs;
    }
    harness_free(last_hs);
    free(last_options);
    char err[512];
    last_options = options;
    last_hs = harness_new(&pp_processor_relabel, "relabel", options, err, sizeof err);
    return last_hs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    size_t opt_len, labels_len;
    const uint8_t *labels = fuzz_split(data, len, "#labels\n", &opt_len, &labels_len);
    char *options = fuzz_cstring(data, opt_len);
    char *lines = fuzz_cstring(labels, labels_len);
    harness *hs = options && lines ? processor_for(options) : NULL;
    if (!hs) {
        if (!lines)
            free(options);
        free(lines);
        return 0;
    }
    const pp_host *h = harness_host();
    pp_profile *p = h->profile_new();
    char *names[MAX_LABELS], *values[MAX_LABELS];
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(lines, "\n", &save); line && n < MAX_LABELS;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq || eq == line)
            continue;
        *eq = '\0';
        if (h->label_set(p, line, eq + 1) == 0) {
            names[n] = line;
            values[n++] = eq + 1;
        }
    }
    add_samples(h, p, names, values, n);
    pp_batch *b = h->batch_new();
    if (b && h->batch_add(b, p) == 0) {
        pp_batch *out = pp_processor_relabel.process(harness_state(hs), b);
        for (size_t i = 0; out && i < h->batch_count(out); i++) {
            pp_profile *kept = h->batch_get(out, i);
            for (size_t l = 0; l < h->label_count(kept); l++)
                FUZZ_CHECK(h->label_name(kept, l)[0] && h->label_value(kept, l)[0],
                           "empty label name or value after relabel");
        }
        if (out)
            h->batch_unref(out);
    } else if (b) {
        h->batch_unref(b); /* batch_add took p */
    } else {
        h->profile_free(p);
    }
    free(lines);
    return 0;
}
