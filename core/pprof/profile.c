/* profile: one pprof profile with its series labels, its time window and
 * its payload in two lazily converted forms.
 *
 * The payload is kept as received (raw bytes, gzip'd or plain) in a
 * reference-counted immutable buffer, so that clones handed to other
 * pipelines share it across threads without copying, and a pipeline that
 * only relabels never decodes. The decoded tree lives in an arena owned by
 * the profile: one decode is a handful of mallocs however many samples it
 * has, and dropping the tree is one call. Conversions happen only when
 * asked for and are cached:
 *   profile_tree      raw -> tree (raw kept)
 *   profile_tree_mut  raw -> tree, raw dropped (the tree becomes the truth)
 *   profile_raw_gz    tree -> gzip'd bytes, or plain -> gzip'd bytes
 *
 * Reads of an emitted profile may come from several pipeline threads at
 * once, so every lazy conversion runs under the profile's mutex (see
 * pprof_internal.h); uncontended, it costs a few nanoseconds per call.
 *
 * Series labels are a small sorted array of owned strings: profiles carry a
 * handful of labels, so binary search over an array beats any map. */
#include "pprof_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "fnv.h"

/* separates names and values in the fingerprint; never valid UTF-8 */
#define FINGERPRINT_SEP 0xff
#define LABELS_MIN_CAP 8

int pprof_errorf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    text_verrorf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---------------- raw buffers ---------------- */

raw_buf *raw_buf_adopt(uint8_t *data, size_t len)
{
    raw_buf *b = malloc(sizeof(*b));
    if (!b) {
        free(data);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->len = len;
    b->data = data;
    b->gz = gz_is_gzip(data, len);
    return b;
}

raw_buf *raw_buf_new(const void *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return NULL;
    if (len)
        memcpy(copy, data, len);
    return raw_buf_adopt(copy, len);
}

raw_buf *raw_buf_ref(raw_buf *b)
{
    if (b)
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void raw_buf_unref(raw_buf *b)
{
    if (!b)
        return;
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        free(b->data);
        free(b);
    }
}

/* ---------------- lifecycle ---------------- */

pp_profile *profile_new(void)
{
    pp_profile *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return NULL;
    }
    arena_init(&p->mem);
    return p;
}

static void profile_drop_tree(pp_profile *p)
{
    pprof_caches_reset(p);
    arena_free(&p->mem);
    memset(&p->tree, 0, sizeof(p->tree));
    p->has_tree = 0;
}

static void profile_drop_raw(pp_profile *p)
{
    raw_buf_unref(p->raw);
    p->raw = NULL;
}

void profile_free(pp_profile *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_labels; i++) {
        free(p->labels[i].name);
        free(p->labels[i].value);
    }
    free(p->labels);
    profile_drop_tree(p);
    profile_drop_raw(p);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static int profile_copy_labels(pp_profile *dst, const pp_profile *src)
{
    if (src->n_labels == 0)
        return 0;
    dst->labels = calloc(src->n_labels, sizeof(*dst->labels));
    if (!dst->labels)
        return -1;
    dst->cap_labels = src->n_labels;
    for (size_t i = 0; i < src->n_labels; i++) {
        dst->labels[i].name = strdup(src->labels[i].name);
        dst->labels[i].value = strdup(src->labels[i].value);
        dst->n_labels = i + 1;
        if (!dst->labels[i].name || !dst->labels[i].value)
            return -1;
    }
    return 0;
}

static int raw_gz_locked(pp_profile *p, const uint8_t **data, size_t *len, char *err,
                         size_t errlen);

/* The source is logically const: encoding its tree into shared bytes only
 * fills a cache, under its lock, which is why the cast below is sound. */
size_t profile_overhead(void)
{
    return sizeof(pp_profile);
}

pp_profile *profile_clone(const pp_profile *src)
{
    pp_profile *s = (pp_profile *)src;
    pp_profile *p = profile_new();
    if (!p)
        return NULL;
    pthread_mutex_lock(&s->lock);
    const uint8_t *data;
    size_t len;
    int rc = 0;
    if (!s->raw && s->has_tree)
        rc = raw_gz_locked(s, &data, &len, NULL, 0);
    if (rc == 0)
        rc = profile_copy_labels(p, s);
    p->from_ns = s->from_ns;
    p->until_ns = s->until_ns;
    p->raw = raw_buf_ref(s->raw);
    pthread_mutex_unlock(&s->lock);
    if (rc < 0) {
        profile_free(p);
        return NULL;
    }
    return p;
}

/* ---------------- series labels ---------------- */

size_t profile_label_count(const pp_profile *p)
{
    return p->n_labels;
}

const char *profile_label_name(const pp_profile *p, size_t i)
{
    return i < p->n_labels ? p->labels[i].name : NULL;
}

const char *profile_label_value(const pp_profile *p, size_t i)
{
    return i < p->n_labels ? p->labels[i].value : NULL;
}

/* Position of name, or where it would be inserted (*found = 0). */
static size_t label_find(const pp_profile *p, const char *name, int *found)
{
    size_t lo = 0, hi = p->n_labels;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(p->labels[mid].name, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

const char *profile_label_get(const pp_profile *p, const char *name)
{
    int found;
    size_t i = label_find(p, name, &found);
    return found ? p->labels[i].value : NULL;
}

/* An empty value deletes the label: in Prometheus' model (which Pyroscope
 * and relabel rules follow) a label with an empty value is an absent one. */
int profile_label_set(pp_profile *p, const char *name, const char *value)
{
    if (!name || !*name || !value)
        return -1;
    if (!*value) {
        profile_label_del(p, name);
        return 0;
    }
    int found;
    size_t i = label_find(p, name, &found);
    char *v = strdup(value);
    if (!v)
        return -1;
    if (found) {
        free(p->labels[i].value);
        p->labels[i].value = v;
        return 0;
    }
    char *n = strdup(name);
    if (!n) {
        free(v);
        return -1;
    }
    if (p->n_labels == p->cap_labels) {
        size_t cap = p->cap_labels ? p->cap_labels * 2 : LABELS_MIN_CAP;
        profile_label *nl = realloc(p->labels, cap * sizeof(*nl));
        if (!nl) {
            free(n);
            free(v);
            return -1;
        }
        p->labels = nl;
        p->cap_labels = cap;
    }
    memmove(&p->labels[i + 1], &p->labels[i], (p->n_labels - i) * sizeof(*p->labels));
    p->labels[i].name = n;
    p->labels[i].value = v;
    p->n_labels++;
    return 0;
}

int profile_label_del(pp_profile *p, const char *name)
{
    int found;
    size_t i = label_find(p, name, &found);
    if (!found)
        return 0;
    free(p->labels[i].name);
    free(p->labels[i].value);
    memmove(&p->labels[i], &p->labels[i + 1], (p->n_labels - i - 1) * sizeof(*p->labels));
    p->n_labels--;
    return 1;
}

uint64_t pprof_fnv1a(uint64_t h, const void *data, size_t len)
{
    return fnv1a(h, data, len);
}

/* FNV-1a over "name 0xff value 0xff" for each label in sorted order: the
 * same labels give the same value on every run and machine. */
uint64_t profile_labels_fingerprint(const pp_profile *p)
{
    static const unsigned char sep = FINGERPRINT_SEP;
    uint64_t h = PPROF_FNV_OFFSET;
    for (size_t i = 0; i < p->n_labels; i++) {
        h = pprof_fnv1a(h, p->labels[i].name, strlen(p->labels[i].name));
        h = pprof_fnv1a(h, &sep, 1);
        h = pprof_fnv1a(h, p->labels[i].value, strlen(p->labels[i].value));
        h = pprof_fnv1a(h, &sep, 1);
    }
    return h;
}

/* ---------------- time window ---------------- */

int64_t profile_from(const pp_profile *p)
{
    return p->from_ns;
}
int64_t profile_until(const pp_profile *p)
{
    return p->until_ns;
}

void profile_set_window(pp_profile *p, int64_t from_ns, int64_t until_ns)
{
    p->from_ns = from_ns;
    p->until_ns = until_ns;
}

/* ---------------- payload ---------------- */

/* p's payload becomes b (NULL: out of memory). */
static int profile_put_raw(pp_profile *p, raw_buf *b)
{
    if (!b)
        return -1;
    pthread_mutex_lock(&p->lock);
    profile_drop_tree(p);
    profile_drop_raw(p);
    p->raw = b;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

int profile_set_raw(pp_profile *p, const void *data, size_t len)
{
    return profile_put_raw(p, raw_buf_new(data, len));
}

int profile_adopt_raw(pp_profile *p, void *data, size_t len)
{
    return profile_put_raw(p, raw_buf_adopt(data, len));
}

static int raw_gz_locked(pp_profile *p, const uint8_t **data, size_t *len, char *err, size_t errlen)
{
    if (p->raw && p->raw->gz) {
        *data = p->raw->data;
        *len = p->raw->len;
        return 0;
    }
    uint8_t *plain = NULL, *gz;
    size_t plain_len, gz_len;
    int rc;
    if (p->raw) {
        rc = gz_gzip(p->raw->data, p->raw->len, &gz, &gz_len);
    } else if (p->has_tree) {
        if (pprof_encode(&p->tree, &plain, &plain_len) < 0)
            return pprof_errorf(err, errlen, "encode pprof: out of memory");
        rc = gz_gzip(plain, plain_len, &gz, &gz_len);
        free(plain);
    } else {
        return pprof_errorf(err, errlen, "profile has no payload");
    }
    if (rc < 0)
        return pprof_errorf(err, errlen, "gzip pprof: out of memory");
    raw_buf *b = raw_buf_adopt(gz, gz_len);
    if (!b)
        return pprof_errorf(err, errlen, "gzip pprof: out of memory");
    profile_drop_raw(p);
    p->raw = b;
    *data = b->data;
    *len = b->len;
    return 0;
}

int profile_raw_gz(pp_profile *p, const uint8_t **data, size_t *len, char *err, size_t errlen)
{
    pthread_mutex_lock(&p->lock);
    int rc = raw_gz_locked(p, data, len, err, errlen);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

size_t profile_size(const pp_profile *p)
{
    pp_profile *m = (pp_profile *)p; /* the lock only: nothing changes */
    pthread_mutex_lock(&m->lock);
    size_t size = p->raw ? p->raw->len : p->has_tree ? p->mem.used : 0;
    pthread_mutex_unlock(&m->lock);
    return size;
}

/* What the decoded form holds: the arena's chunks and the lookup caches. */
static size_t tree_bytes_locked(const pp_profile *p)
{
    if (!p->has_tree)
        return 0;
    size_t bytes = p->mem.reserved + p->intern.n_slots * sizeof(*p->intern.slots);
    const id_index *ix[] = {&p->loc_index, &p->fn_index};
    for (size_t i = 0; i < sizeof ix / sizeof ix[0]; i++)
        bytes += ix[i]->ids ? ix[i]->n_slots * (sizeof(*ix[i]->ids) + sizeof(*ix[i]->pos)) : 0;
    return bytes;
}

size_t profile_charge(const pp_profile *p)
{
    pp_profile *m = (pp_profile *)p; /* the lock only: nothing changes */
    pthread_mutex_lock(&m->lock);
    size_t bytes = sizeof(*p) + p->cap_labels * sizeof(*p->labels);
    for (size_t i = 0; i < p->n_labels; i++)
        bytes += strlen(p->labels[i].name) + strlen(p->labels[i].value) + 2;
    if (p->raw)
        bytes += sizeof(*p->raw) + p->raw->len;
    bytes += tree_bytes_locked(p);
    pthread_mutex_unlock(&m->lock);
    return bytes;
}

size_t profile_shed_tree(pp_profile *p)
{
    pthread_mutex_lock(&p->lock);
    size_t freed = 0;
    if (p->has_tree && p->raw) {
        freed = tree_bytes_locked(p);
        profile_drop_tree(p);
    }
    pthread_mutex_unlock(&p->lock);
    return freed;
}

static const pp_pprof *tree_locked(pp_profile *p, char *err, size_t errlen)
{
    if (p->has_tree)
        return &p->tree;
    if (!p->raw) {
        pprof_errorf(err, errlen, "profile has no payload");
        return NULL;
    }
    if (pprof_decode_any(&p->mem, p->raw->data, p->raw->len, &p->tree, err, errlen) < 0) {
        profile_drop_tree(p);
        return NULL;
    }
    p->has_tree = 1;
    return &p->tree;
}

const pp_pprof *profile_tree(pp_profile *p, char *err, size_t errlen)
{
    pthread_mutex_lock(&p->lock);
    const pp_pprof *t = tree_locked(p, err, errlen);
    pthread_mutex_unlock(&p->lock);
    return t;
}

pp_pprof *profile_tree_mut(pp_profile *p, char *err, size_t errlen)
{
    pthread_mutex_lock(&p->lock);
    pp_pprof *t = tree_locked(p, err, errlen) ? &p->tree : NULL;
    if (t)
        profile_drop_raw(p);
    pthread_mutex_unlock(&p->lock);
    return t;
}

pp_pprof *profile_tree_new(pp_profile *p)
{
    pthread_mutex_lock(&p->lock);
    profile_drop_tree(p);
    profile_drop_raw(p);
    const char **strings = arena_calloc(&p->mem, 1, sizeof(*strings));
    if (strings) {
        strings[0] = "";
        p->tree.strings = strings;
        p->tree.n_strings = 1;
        p->has_tree = 1;
    }
    pthread_mutex_unlock(&p->lock);
    return strings ? &p->tree : NULL;
}

void *profile_alloc(pp_profile *p, size_t size)
{
    return arena_alloc(&p->mem, size);
}
