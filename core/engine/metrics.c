/* metrics: a mutex-guarded array of metric records, and a hash index
 * over it by name and labels; rendering sorts by name to group HELP/TYPE
 * lines. A record is one allocation, its labels inline; its name, help
 * and type are its family's, kept once per name: a scrape of 500 targets
 * holds 3,500 series of a handful of names, and a name and help copied
 * into each took about 0.5 MB of the scrape's heap (bench/README.md,
 * "Scraping, after the metric families"). The index matters because
 * series grow with targets (7 to 17 per scraped target: tens of
 * thousands at 2,000 targets), while lookups come with events: a
 * suppressed log line looks its counter up each time (log.c). A linear
 * search made every lookup cost every series (bench/README.md, the
 * scraping run that brought this index in).
 * Records are freed only all at once (metrics_reset_all), so the index
 * holds positions in the array and only grows. */
#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "wordhash.h"

typedef struct family {
    char *name;
    char *help;
    pp_metric_type type;
} family;

struct pp_metric {
    family *fam;
    double value;
    int hidden;
    char labels[];
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static pp_metric **metrics;
static size_t n_metrics, cap_metrics;
/* Families are few (one per metric name) and looked up only when a series
 * is made, so a plain array does. */
static family **families;
static size_t n_families, cap_families;
/* Open addressing, at most half full: a position in metrics + 1, 0 empty. */
static size_t *index_slots;
static size_t index_cap;

/* Components' own text (exposition_add), called after the registry is
 * rendered and its lock released, under their own lock so that removing
 * one waits for a render in progress. */
typedef struct exposition {
    const void *owner;
    pp_exposition_fn fn;
    void *arg;
} exposition;
static pthread_mutex_t expositions_lock = PTHREAD_MUTEX_INITIALIZER;
static exposition *expositions;
static size_t n_expositions, cap_expositions;

/* name and labels (NULL: none) as one key; the length of each goes in,
 * so "a","bc" and "ab","c" differ. */
static uint64_t series_hash(const char *name, const char *labels)
{
    size_t n = strlen(name), l = labels ? strlen(labels) : 0;
    uint64_t h = wordhash(wordhash_u64(WORDHASH_SEED, n), name, n);
    return wordhash_finish(wordhash(wordhash_u64(h, l), labels ? labels : "", l));
}

/* The slot of the series, or of the empty slot where it would go. */
static size_t index_find(const char *name, const char *labels, uint64_t h)
{
    size_t mask = index_cap - 1, i = (size_t)h & mask;
    for (; index_slots[i]; i = (i + 1) & mask) {
        const pp_metric *m = metrics[index_slots[i] - 1];
        if (strcmp(m->fam->name, name) == 0 && strcmp(m->labels, labels ? labels : "") == 0)
            break;
    }
    return i;
}

/* Room for one more series at a load of at most one half. */
static int index_reserve(void)
{
    if (2 * (n_metrics + 1) <= index_cap)
        return 0;
    size_t cap = index_cap ? index_cap * 2 : 128;
    size_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    free(index_slots);
    index_slots = slots;
    index_cap = cap;
    for (size_t i = 0; i < n_metrics; i++)
        index_slots[index_find(metrics[i]->fam->name, metrics[i]->labels,
                               series_hash(metrics[i]->fam->name, metrics[i]->labels))] = i + 1;
    return 0;
}

/* Room for one more record in the array. */
static int array_reserve(void)
{
    if (n_metrics < cap_metrics)
        return 0;
    size_t cap = cap_metrics ? cap_metrics * 2 : 64;
    pp_metric **grown = realloc(metrics, cap * sizeof *grown);
    if (!grown)
        return -1;
    metrics = grown;
    cap_metrics = cap;
    return 0;
}

/* The family of `name`, made on first use. A help text given later
 * fills one registered without (tests look series up with ""). */
static family *family_get(const char *name, const char *help, pp_metric_type type)
{
    for (size_t i = 0; i < n_families; i++) {
        family *f = families[i];
        if (strcmp(f->name, name) != 0)
            continue;
        if (!f->help[0] && help && help[0]) {
            char *h = strdup(help);
            if (h) {
                free(f->help);
                f->help = h;
            }
        }
        return f;
    }
    if (n_families == cap_families) {
        size_t cap = cap_families ? cap_families * 2 : 32;
        family **grown = realloc(families, cap * sizeof *grown);
        if (!grown)
            return NULL;
        families = grown;
        cap_families = cap;
    }
    family *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->type = type;
    if (!f->name || !f->help) {
        free(f->name);
        free(f->help);
        free(f);
        return NULL;
    }
    families[n_families++] = f;
    return f;
}

static pp_metric *metric_new(const char *name, const char *help, pp_metric_type type,
                             const char *labels)
{
    family *fam = family_get(name, help, type);
    size_t l = labels ? strlen(labels) : 0;
    pp_metric *m = fam ? calloc(1, sizeof *m + l + 1) : NULL;
    if (!m)
        return NULL;
    m->fam = fam;
    memcpy(m->labels, labels ? labels : "", l + 1);
    return m;
}

pp_metric *metrics_get(const char *name, const char *help, pp_metric_type type, const char *labels)
{
    uint64_t h = series_hash(name, labels);
    pthread_mutex_lock(&metrics_lock);
    if (index_cap) {
        size_t slot = index_find(name, labels, h);
        if (index_slots[slot]) {
            pp_metric *m = metrics[index_slots[slot] - 1];
            m->hidden = 0;
            pthread_mutex_unlock(&metrics_lock);
            return m;
        }
    }
    pp_metric *m = NULL;
    if (index_reserve() == 0 && array_reserve() == 0 &&
        (m = metric_new(name, help, type, labels))) {
        index_slots[index_find(name, labels, h)] = n_metrics + 1;
        metrics[n_metrics++] = m;
    }
    pthread_mutex_unlock(&metrics_lock);
    return m;
}

void metrics_add(pp_metric *m, double delta)
{
    if (!m)
        return;
    pthread_mutex_lock(&metrics_lock);
    m->value += delta;
    pthread_mutex_unlock(&metrics_lock);
}

void metrics_set(pp_metric *m, double value)
{
    if (!m)
        return;
    pthread_mutex_lock(&metrics_lock);
    m->value = value;
    pthread_mutex_unlock(&metrics_lock);
}

double metrics_value(pp_metric *m)
{
    if (!m)
        return 0;
    pthread_mutex_lock(&metrics_lock);
    double v = m->value;
    pthread_mutex_unlock(&metrics_lock);
    return v;
}

void metrics_remove(pp_metric *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&metrics_lock);
    m->hidden = 1;
    m->value = 0;
    pthread_mutex_unlock(&metrics_lock);
}

int metrics_exposition_add(const void *owner, pp_exposition_fn fn, void *arg)
{
    int rc = 0;
    pthread_mutex_lock(&expositions_lock);
    size_t i = 0;
    while (i < n_expositions && expositions[i].owner != owner)
        i++;
    if (i == n_expositions && n_expositions == cap_expositions) {
        size_t cap = cap_expositions ? cap_expositions * 2 : 4;
        exposition *grown = realloc(expositions, cap * sizeof *grown);
        if (grown) {
            expositions = grown;
            cap_expositions = cap;
        } else {
            rc = -1;
        }
    }
    if (rc == 0) {
        expositions[i] = (exposition){owner, fn, arg};
        if (i == n_expositions)
            n_expositions++;
    }
    pthread_mutex_unlock(&expositions_lock);
    return rc;
}

void metrics_exposition_remove(const void *owner)
{
    pthread_mutex_lock(&expositions_lock);
    for (size_t i = 0; i < n_expositions; i++) {
        if (expositions[i].owner == owner) {
            expositions[i] = expositions[--n_expositions];
            break;
        }
    }
    pthread_mutex_unlock(&expositions_lock);
}

static void write_to_stream(void *out, const char *data, size_t len)
{
    fwrite(data, 1, len, (FILE *)out);
}

static int by_name(const void *a, const void *b)
{
    const pp_metric *x = *(pp_metric *const *)a, *y = *(pp_metric *const *)b;
    int c = strcmp(x->fam->name, y->fam->name);
    return c ? c : strcmp(x->labels, y->labels);
}

char *metrics_render(size_t *len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    if (!out)
        return NULL;
    pthread_mutex_lock(&metrics_lock);
    pp_metric **sorted = malloc((n_metrics ? n_metrics : 1) * sizeof *sorted);
    if (sorted) {
        memcpy(sorted, metrics, n_metrics * sizeof *sorted);
        qsort(sorted, n_metrics, sizeof *sorted, by_name);
        const char *last = "";
        for (size_t i = 0; i < n_metrics; i++) {
            pp_metric *m = sorted[i];
            const family *f = m->fam;
            if (m->hidden)
                continue;
            if (strcmp(f->name, last) != 0) {
                fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                        f->type == PP_COUNTER ? "counter" : "gauge");
                last = f->name;
            }
            if (m->labels[0])
                fprintf(out, "%s{%s} %.17g\n", f->name, m->labels, m->value);
            else
                fprintf(out, "%s %.17g\n", f->name, m->value);
        }
        free(sorted);
    }
    pthread_mutex_unlock(&metrics_lock);
    pthread_mutex_lock(&expositions_lock);
    for (size_t i = 0; i < n_expositions; i++)
        expositions[i].fn(expositions[i].arg, write_to_stream, out);
    pthread_mutex_unlock(&expositions_lock);
    fclose(out);
    if (len)
        *len = size;
    return buf;
}

void metrics_reset_all(void)
{
    pthread_mutex_lock(&metrics_lock);
    for (size_t i = 0; i < n_metrics; i++)
        free(metrics[i]);
    free(metrics);
    metrics = NULL;
    n_metrics = cap_metrics = 0;
    for (size_t i = 0; i < n_families; i++) {
        free(families[i]->name);
        free(families[i]->help);
        free(families[i]);
    }
    free(families);
    families = NULL;
    n_families = cap_families = 0;
    free(index_slots);
    index_slots = NULL;
    index_cap = 0;
    pthread_mutex_unlock(&metrics_lock);
}
