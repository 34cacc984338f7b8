/* Unit tests of the profile object: series labels (sorted, unique,
 * replace, delete, fingerprint fixed across runs), the time window, and
 * the lazy payload: raw kept undecoded through label changes, decoded on
 * demand, re-encoded on demand, clones sharing one raw buffer even across
 * threads, and one profile read by several threads at once. Memory
 * accounting: what a profile holds counts its decoded tree, a queue
 * charges it, and a receiver's tree is shed before the pipeline queue. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch.h"
#include "harness.h"
#include "pprof_internal.h"
#include "queue.h"
#include "unit_support.h"

#define ERR_LEN 256
#define CLONE_THREADS 4
#define CLONES_PER_THREAD 1000

/* A minimal valid pprof tree with one sample type and one sample. */
static void build_tree(pp_profile *p, int64_t value)
{
    unit_one_frame_tree(p, "goroutine", "count", value);
    p->tree.time_nanos = 1234;
}

/* Serialized plain (not gzip'd) bytes of build_tree(value). */
static uint8_t *plain_bytes(int64_t value, size_t *len)
{
    pp_profile *p = profile_new();
    build_tree(p, value);
    uint8_t *out;
    assert_int_equal(pprof_encode(&p->tree, &out, len), 0);
    profile_free(p);
    return out;
}

static void test_labels_sorted_unique(void **state)
{
    (void)state;
    pp_profile *p = profile_new();
    assert_int_equal(profile_label_set(p, "service_name", "checkout"), 0);
    assert_int_equal(profile_label_set(p, "__name__", "process_cpu"), 0);
    assert_int_equal(profile_label_set(p, "env", "staging"), 0);
    assert_int_equal(profile_label_set(p, "env", "prod"), 0); /* replaces */
    assert_int_equal(profile_label_count(p), 3);
    assert_string_equal(profile_label_name(p, 0), "__name__");
    assert_string_equal(profile_label_name(p, 1), "env");
    assert_string_equal(profile_label_value(p, 1), "prod");
    assert_string_equal(profile_label_name(p, 2), "service_name");
    assert_null(profile_label_name(p, 3));
    assert_string_equal(profile_label_get(p, "service_name"), "checkout");
    assert_null(profile_label_get(p, "job"));
    assert_int_equal(profile_label_del(p, "job"), 0);
    assert_int_equal(profile_label_del(p, "env"), 1);
    assert_int_equal(profile_label_count(p), 2);
    assert_null(profile_label_get(p, "env"));
    /* empty value = absent, as in Prometheus */
    assert_int_equal(profile_label_set(p, "service_name", ""), 0);
    assert_null(profile_label_get(p, "service_name"));
    assert_int_equal(profile_label_set(p, "", "x"), -1);
    assert_int_equal(profile_label_set(p, NULL, "x"), -1);
    /* many labels, inserted in reverse: still sorted */
    char name[16];
    for (int i = 30; i >= 0; i--) {
        snprintf(name, sizeof(name), "l%02d", i);
        assert_int_equal(profile_label_set(p, name, name), 0);
    }
    for (size_t i = 1; i < profile_label_count(p); i++)
        assert_true(strcmp(profile_label_name(p, i - 1), profile_label_name(p, i)) < 0);
    profile_free(p);
}

static void test_fingerprint(void **state)
{
    (void)state;
    pp_profile *a = profile_new(), *b = profile_new();
    /* FNV-1a 64 of "__name__\xffprocess_cpu\xffenv\xffprod\xff..." computed
     * independently: the value must never change between runs or builds */
    profile_label_set(a, "service_name", "checkout");
    profile_label_set(a, "env", "prod");
    profile_label_set(a, "__name__", "process_cpu");
    assert_int_equal(profile_labels_fingerprint(a), 0x567b6a0b12c11395ull);
    profile_label_set(b, "__name__", "process_cpu");
    profile_label_set(b, "env", "prod");
    profile_label_set(b, "service_name", "checkout");
    assert_int_equal(profile_labels_fingerprint(b), profile_labels_fingerprint(a));
    profile_label_set(b, "env", "pro");
    assert_int_not_equal(profile_labels_fingerprint(b), profile_labels_fingerprint(a));
    /* separators: {a="bc"} differs from {ab="c"} */
    pp_profile *x = profile_new(), *y = profile_new();
    profile_label_set(x, "a", "bc");
    profile_label_set(y, "ab", "c");
    assert_int_not_equal(profile_labels_fingerprint(x), profile_labels_fingerprint(y));
    pp_profile *empty = profile_new();
    assert_int_equal(profile_labels_fingerprint(empty), 0xcbf29ce484222325ull);
    profile_free(a);
    profile_free(b);
    profile_free(x);
    profile_free(y);
    profile_free(empty);
}

static void test_window(void **state)
{
    (void)state;
    pp_profile *p = profile_new();
    assert_int_equal(profile_from(p), 0);
    profile_set_window(p, 10, 20);
    assert_int_equal(profile_from(p), 10);
    assert_int_equal(profile_until(p), 20);
    profile_free(p);
}

static void test_relabel_never_decodes(void **state)
{
    (void)state;
    size_t len;
    uint8_t *plain = plain_bytes(3, &len), *gz;
    size_t gz_len;
    assert_int_equal(gz_gzip(plain, len, &gz, &gz_len), 0);
    pp_profile *p = profile_new();
    assert_int_equal(profile_set_raw(p, gz, gz_len), 0);
    profile_label_set(p, "service_name", "a");
    profile_label_del(p, "service_name");
    pp_profile *c = profile_clone(p);
    const uint8_t *out;
    size_t out_len;
    assert_int_equal(profile_raw_gz(c, &out, &out_len, NULL, 0), 0);
    assert_false(p->has_tree);
    assert_false(c->has_tree);
    assert_ptr_equal(out, p->raw->data); /* the very bytes received */
    assert_int_equal(out_len, gz_len);
    assert_int_equal(profile_size(p), gz_len);
    profile_free(c);
    profile_free(p);
    free(gz);
    free(plain);
}

static void test_lazy_conversions(void **state)
{
    (void)state;
    char err[ERR_LEN] = "";
    size_t len;
    uint8_t *plain = plain_bytes(5, &len);
    pp_profile *p = profile_new();
    assert_int_equal(profile_set_raw(p, plain, len), 0);
    assert_false(p->raw->gz);
    /* plain raw is gzip'd on request, without decoding */
    const uint8_t *gz;
    size_t gz_len;
    assert_int_equal(profile_raw_gz(p, &gz, &gz_len, err, sizeof(err)), 0);
    assert_true(gz[0] == 0x1f && gz[1] == 0x8b);
    assert_false(p->has_tree);
    /* read-only tree keeps the raw bytes */
    const pp_pprof *t = profile_tree(p, err, sizeof(err));
    assert_non_null(t);
    assert_int_equal(t->samples[0].values[0], 5);
    assert_non_null(p->raw);
    assert_ptr_equal(profile_tree(p, err, sizeof(err)), t); /* cached */
    /* mutable tree drops them; the next raw_gz encodes the change */
    pp_pprof *m = profile_tree_mut(p, err, sizeof(err));
    assert_null(p->raw);
    assert_true(profile_size(p) > 0);
    m->samples[0].values[0] = 42;
    assert_int_equal(profile_raw_gz(p, &gz, &gz_len, err, sizeof(err)), 0);
    pp_profile *q = profile_new();
    assert_int_equal(profile_set_raw(q, gz, gz_len), 0);
    assert_int_equal(profile_size(q), gz_len);
    t = profile_tree(q, err, sizeof(err));
    assert_non_null(t);
    assert_int_equal(t->samples[0].values[0], 42);
    assert_int_equal(t->time_nanos, 1234);
    /* set_raw replaces a tree */
    assert_int_equal(profile_set_raw(q, plain, len), 0);
    assert_false(q->has_tree);
    assert_int_equal(profile_tree(q, err, sizeof(err))->samples[0].values[0], 5);
    /* no payload at all */
    pp_profile *none = profile_new();
    assert_null(profile_tree(none, err, sizeof(err)));
    assert_string_equal(err, "profile has no payload");
    assert_int_equal(profile_raw_gz(none, &gz, &gz_len, err, sizeof(err)), -1);
    assert_int_equal(profile_size(none), 0);
    profile_free(none);
    profile_free(q);
    profile_free(p);
    free(plain);
}

static void test_tree_new(void **state)
{
    (void)state;
    pp_profile *p = profile_new();
    size_t len;
    uint8_t *plain = plain_bytes(1, &len);
    profile_set_raw(p, plain, len);
    pp_pprof *t = profile_tree_new(p);
    assert_null(p->raw);
    assert_int_equal(t->n_strings, 1);
    assert_string_equal(t->strings[0], "");
    assert_int_equal(t->n_samples, 0);
    int64_t *z = profile_alloc(p, 64);
    for (int i = 0; i < 8; i++)
        assert_int_equal(z[i], 0);
    profile_free(p);
    free(plain);
}

static void test_clone_shares_raw(void **state)
{
    (void)state;
    pp_profile *p = profile_new();
    build_tree(p, 9); /* tree only: clone encodes once and shares */
    profile_label_set(p, "service_name", "svc");
    profile_set_window(p, 1, 2);
    pp_profile *a = profile_clone(p), *b = profile_clone(p);
    assert_non_null(p->raw);
    assert_ptr_equal(a->raw, p->raw);
    assert_ptr_equal(b->raw, p->raw);
    assert_int_equal(atomic_load(&p->raw->refs), 3);
    assert_string_equal(profile_label_get(a, "service_name"), "svc");
    assert_int_equal(profile_until(b), 2);
    /* changing a clone does not touch the others */
    profile_label_set(a, "service_name", "other");
    assert_string_equal(profile_label_get(p, "service_name"), "svc");
    pp_pprof *t = profile_tree_mut(a, NULL, 0);
    t->samples[0].values[0] = 1;
    assert_int_equal(atomic_load(&p->raw->refs), 2);
    assert_int_equal(profile_tree(b, NULL, 0)->samples[0].values[0], 9);
    profile_free(p);
    assert_int_equal(profile_tree(b, NULL, 0)->samples[0].values[0], 9);
    profile_free(a);
    profile_free(b);
}

static void *clone_churn(void *arg)
{
    pp_profile *src = arg;
    for (int i = 0; i < CLONES_PER_THREAD; i++) {
        pp_profile *c = profile_clone(src);
        const uint8_t *d;
        size_t n;
        if (!c || profile_raw_gz(c, &d, &n, NULL, 0) < 0)
            return (void *)1;
        profile_free(c);
    }
    return NULL;
}

/* Clones of one profile made, read and freed on several threads: the
 * shared buffer's count stays right (ASan and the final count tell). */
static void test_clone_threads(void **state)
{
    (void)state;
    pp_profile *p = profile_new();
    build_tree(p, 1);
    const uint8_t *d;
    size_t n;
    assert_int_equal(profile_raw_gz(p, &d, &n, NULL, 0), 0);
    pthread_t th[CLONE_THREADS];
    for (int i = 0; i < CLONE_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, clone_churn, p), 0);
    for (int i = 0; i < CLONE_THREADS; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        assert_null(rv);
    }
    assert_int_equal(atomic_load(&p->raw->refs), 1);
    profile_free(p);
}

/* What several pipelines do at once with one emitted profile: decode it,
 * look up ids, encode it, clone it. Each lazy fill happens once, under the
 * profile's lock (TSan runs this cleanly). */
static void *shared_reader(void *arg)
{
    pp_profile *p = arg;
    for (int i = 0; i < CLONES_PER_THREAD / 10; i++) {
        const pp_pprof *t = profile_tree(p, NULL, 0);
        const uint8_t *d;
        size_t n;
        if (!t || t->samples[0].values[0] != 7 || !pprof_location(p, 1) || !pprof_function(p, 1) ||
            profile_raw_gz(p, &d, &n, NULL, 0) < 0 || profile_size(p) == 0)
            return (void *)1;
        pp_profile *c = profile_clone(p);
        if (!c)
            return (void *)1;
        profile_free(c);
    }
    return NULL;
}

static void test_shared_readers(void **state)
{
    (void)state;
    for (int tree_only = 0; tree_only < 2; tree_only++) {
        pp_profile *p = profile_new();
        if (tree_only) {
            build_tree(p, 7);
        } else {
            size_t len;
            uint8_t *plain = plain_bytes(7, &len);
            profile_set_raw(p, plain, len);
            free(plain);
        }
        pthread_t th[CLONE_THREADS];
        for (int i = 0; i < CLONE_THREADS; i++)
            assert_int_equal(pthread_create(&th[i], NULL, shared_reader, p), 0);
        for (int i = 0; i < CLONE_THREADS; i++) {
            void *rv;
            pthread_join(th[i], &rv);
            assert_null(rv);
        }
        profile_free(p);
    }
}

/* gzip'd bytes of build_tree(value), in a new profile */
static pp_profile *gz_profile(int64_t value)
{
    size_t len, gz_len;
    uint8_t *plain = plain_bytes(value, &len), *gz;
    assert_int_equal(gz_gzip(plain, len, &gz, &gz_len), 0);
    pp_profile *p = profile_new();
    assert_int_equal(profile_set_raw(p, gz, gz_len), 0);
    profile_label_set(p, "service_name", "svc");
    free(plain);
    free(gz);
    return p;
}

static void test_charge_counts_tree(void **state)
{
    (void)state;
    char err[ERR_LEN] = "";
    pp_profile *p = gz_profile(3);
    size_t raw_only = profile_charge(p);
    assert_true(raw_only >= p->raw->len + sizeof(pp_profile));
    assert_non_null(profile_tree(p, err, sizeof err));
    size_t decoded = profile_charge(p);
    /* the arena's chunks, whatever their fill */
    assert_true(p->mem.reserved >= p->mem.used && p->mem.reserved > 0);
    assert_true(decoded >= raw_only + p->mem.reserved);
    /* lookup caches count too */
    assert_non_null(pprof_function(p, 1));
    size_t with_index = profile_charge(p);
    assert_true(with_index >= decoded);
    /* shed: back to the raw bytes alone, which give the tree back */
    const uint8_t *raw = p->raw->data;
    assert_int_equal(profile_shed_tree(p), with_index - raw_only);
    assert_false(p->has_tree);
    assert_ptr_equal(p->raw->data, raw);
    assert_int_equal(profile_charge(p), raw_only);
    const pp_pprof *t = profile_tree(p, err, sizeof err);
    assert_non_null(t);
    assert_int_equal(t->samples[0].values[0], 3);
    /* a changed tree is the only form: it stays, and is counted */
    pp_pprof *m = profile_tree_mut(p, err, sizeof err);
    m->samples[0].values[0] = 9;
    assert_int_equal(profile_shed_tree(p), 0);
    assert_true(p->has_tree);
    assert_true(profile_charge(p) >= sizeof(pp_profile) + p->mem.reserved);
    profile_free(p);
}

static void test_queue_charges_tree(void **state)
{
    (void)state;
    char err[ERR_LEN] = "";
    pp_profile *p = gz_profile(4);
    size_t raw_len = p->raw->len;
    assert_non_null(profile_tree(p, err, sizeof err));
    pp_batch *b = batch_new();
    assert_int_equal(batch_add(b, p), 0);
    queue *q = queue_new((size_t)1 << 20, QUEUE_BLOCK, NULL, NULL);
    assert_int_equal(queue_push(q, b), 0);
    assert_int_equal(queue_bytes(q), batch_charge(b));
    assert_true(queue_bytes(q) >= raw_len + p->mem.reserved);
    assert_ptr_equal(queue_pop(q, 0), b);
    assert_int_equal(queue_bytes(q), 0);
    /* the same batch, shed, is charged its raw bytes alone */
    size_t before = batch_charge(b);
    size_t freed = batch_shed_trees(b);
    assert_true(freed >= p->mem.used);
    assert_int_equal(batch_charge(b), before - freed);
    assert_int_equal(queue_push(q, b), 0);
    assert_int_equal(queue_bytes(q), before - freed);
    queue_free(q); /* unrefs b */
}

extern const pp_component pp_receiver_file;

/* A receiver's decoded tree does not ride into the pipeline queue, unless
 * someone else still holds the batch (then it may be reading the tree). */
static void test_emit_sheds_receiver_tree(void **state)
{
    (void)state;
    char err[ERR_LEN] = "";
    harness *hs = harness_new(&pp_receiver_file, "file", "include: [\"/nonexistent/*.pb\"]\n", err,
                              sizeof err);
    assert_non_null(hs);
    const pp_host *h = harness_host();
    pp_profile *p = gz_profile(5);
    assert_non_null(profile_tree(p, err, sizeof err));
    pp_batch *b = batch_new();
    assert_int_equal(batch_add(b, p), 0);
    assert_int_equal(h->emit(harness_instance(hs), b), 0);
    pp_batch *got = harness_wait_emit(hs, 1000);
    assert_ptr_equal(got, b);
    assert_false(p->has_tree);
    assert_non_null(p->raw);
    assert_int_equal(profile_tree(p, err, sizeof err)->samples[0].values[0], 5);
    /* held twice: the tree stays */
    batch_ref(got);
    assert_int_equal(h->emit(harness_instance(hs), got), 0);
    pp_batch *again = harness_wait_emit(hs, 1000);
    assert_ptr_equal(again, got);
    assert_true(p->has_tree);
    batch_unref(again);
    batch_unref(got);
    harness_free(hs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels_sorted_unique),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_relabel_never_decodes),
        cmocka_unit_test(test_lazy_conversions),
        cmocka_unit_test(test_tree_new),
        cmocka_unit_test(test_clone_shares_raw),
        cmocka_unit_test(test_clone_threads),
        cmocka_unit_test(test_shared_readers),
        cmocka_unit_test(test_charge_counts_tree),
        cmocka_unit_test(test_queue_charges_tree),
        cmocka_unit_test(test_emit_sheds_receiver_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
