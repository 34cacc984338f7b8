/* The accounting ledger: batches driven through a real pipeline (its
 * queue, worker and processor chain) into two real exporter runtimes,
 * one outcome at a time, and the identity
 *     in × fan-out = Σ out + in_flight
 * checked from the metrics registry, with each outcome's exact count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "exporter.h"
#include "harness.h"
#include "ledger.h"
#include "metrics.h"
#include "pipeline.h"
#include "profile.h"

/* every profile's raw size, so queue bounds count profiles: a queue charges
 * the raw bytes plus the object and its labels (profile_charge), well under
 * 1000 bytes more, so 10000 bytes hold two profiles and not three */
#define PAYLOAD 4000
#define TWO_PROFILES_AND_A_HALF "10000B"
#define TWO_PROFILES_AND_A_HALF_BYTES 10000

static pp_batch *one(const char *service)
{
    pp_batch *b = batch_new();
    pp_profile *p = profile_new();
    char *bytes = calloc(1, PAYLOAD);
    profile_label_set(p, "service_name", service);
    profile_set_raw(p, bytes, PAYLOAD);
    free(bytes);
    batch_add(b, p);
    return b;
}

static int is(pp_profile *p, const char *service)
{
    const char *s = profile_label_get(p, "service_name");
    return s && strcmp(s, service) == 0;
}

/* processor "filt": removes profiles of service filt */
static pp_batch *filter_process(void *state, pp_batch *in)
{
    (void)state;
    for (size_t i = batch_count(in); i-- > 0;)
        if (is(batch_get(in, i), "filt"))
            profile_free(batch_take(in, i));
    return in;
}
static const pp_component filter_proc = {
    .type = "filt", .kind = PP_PROCESSOR, .flags = PP_MUTATES, .process = filter_process};

/* processor "merg": a window that folds every profile of service merg
 * into one new profile (service mout) at the final tick */
static size_t window_held;
static pp_batch *window_process(void *state, pp_batch *in)
{
    (void)state;
    for (size_t i = batch_count(in); i-- > 0;)
        if (is(batch_get(in, i), "merg")) {
            profile_free(batch_take(in, i));
            window_held++;
        }
    return in;
}
static pp_batch *window_tick(void *state, int64_t now_ns, int final)
{
    (void)state, (void)now_ns;
    if (!final || !window_held)
        return NULL;
    window_held = 0;
    return one("mout");
}
static const pp_component window_proc = {.type = "merg",
                                         .kind = PP_PROCESSOR,
                                         .flags = PP_MUTATES,
                                         .process = window_process,
                                         .tick = window_tick};

static int noop_create(const pp_host *h, pp_instance *self, const pp_config *c, void **st)
{
    (void)h, (void)self, (void)c;
    *st = NULL;
    return 0;
}
static void noop_destroy(void *st)
{
    (void)st;
}

/* exporter "sort": exports okay and mout, rejects rejt, fails fail */
static pp_status sort_export(void *st, pp_batch *b, pp_outcome *o, pp_export_result *r)
{
    (void)st;
    int retry = 0;
    for (size_t i = 0; i < batch_count(b); i++) {
        pp_profile *p = batch_get(b, i);
        if (is(p, "rejt"))
            o[i] = PP_REJECTED;
        else if (is(p, "fail"))
            retry = 1;
        else
            o[i] = PP_EXPORTED;
    }
    snprintf(r->message, sizeof r->message, "backend down");
    return retry ? PP_RETRY : PP_OK;
}
static const pp_option no_options[] = {{0}};
static const pp_component sort_exporter = {.type = "sort",
                                           .kind = PP_EXPORTER,
                                           .options = no_options,
                                           .create = noop_create,
                                           .destroy = noop_destroy,
                                           .export = sort_export};

static double value(const char *name, const char *labels)
{
    return metrics_value(metrics_get(name, "", PP_COUNTER, labels));
}

static double out(const char *exporter, const char *outcome)
{
    char labels[256];
    snprintf(labels, sizeof labels, "pipeline=\"p\",exporter=\"%s\",outcome=\"%s\"", exporter,
             outcome);
    return value("profpipe_ledger_out_profiles_total", labels);
}

static double in(const char *source)
{
    char labels[256];
    snprintf(labels, sizeof labels, "pipeline=\"p\",source=\"%s\"", source);
    return value("profpipe_ledger_in_profiles_total", labels);
}

static double in_flight(void)
{
    return value("profpipe_ledger_in_flight_profiles", "pipeline=\"p\"");
}

/* in × fan-out = Σ out + in_flight, from the registry alone: 1 if it
 * holds, else 0 with the sides in `why`. */
static int identity_holds(char *why, size_t len)
{
    static const char *const exporters[] = {"sort", "sort/late"};
    double total_in = in("receivers") + in("processors") + in("spool");
    double fan_out = value("profpipe_ledger_fan_out", "pipeline=\"p\"");
    double total_out = 0;
    for (size_t e = 0; e < 2; e++)
        for (int o = 0; o < LEDGER_N_OUTCOMES; o++)
            total_out += out(exporters[e], ledger_outcome_name((ledger_outcome)o));
    double flight = in_flight();
    double owed = value("profpipe_ledger_owed_profiles_total", "pipeline=\"p\"");
    snprintf(why, len, "in %g x fan-out %g, out %g + in flight %g, owed %g", total_in, fan_out,
             total_out, flight, owed);
    return fan_out == 2 && total_in * fan_out == total_out + flight && owed == total_in * fan_out;
}

/* The identity, once the threads that move profiles have written both
 * sides: the counters are separate series, read one at a time, so while
 * a worker or an exporter is between the two counters of one move (a
 * profile's outcome, then in_flight) a reader can see one of them
 * changed and not the other. A ledger that loses or double-counts a
 * profile never satisfies it; the wait is bounded far beyond any
 * scheduling delay (30 s). */
static void assert_identity(void)
{
    char why[256];
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 30000; i++) {
        if (identity_holds(why, sizeof why))
            return;
        nanosleep(&ms, NULL);
    }
    fail_msg("the ledger's identity does not hold: %s", why);
}

static void wait_queue_empty(pipeline *p)
{
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 30000 && queue_length(p->q) > 0; i++)
        nanosleep(&ms, NULL);
    assert_int_equal(queue_length(p->q), 0);
}

static pp_instance *processor(const pp_component *comp)
{
    pp_instance *inst = instance_new(comp, comp->type, NULL, "p");
    assert_non_null(inst);
    return inst;
}

static void test_every_outcome_keeps_the_identity(void **state)
{
    (void)state;
    ledger_reset_all();
    metrics_reset_all();
    char err[512];
    harness *h1 =
        harness_new(&sort_exporter, "sort", "retry_on_failure:\n  enabled: false", err, sizeof err);
    harness *h2 = harness_new(
        &sort_exporter, "sort/late",
        "sending_queue:\n  full_policy: drop_oldest\n  queue_size: " TWO_PROFILES_AND_A_HALF, err,
        sizeof err);
    assert_non_null(h1);
    assert_non_null(h2);
    pp_instance *e1 = harness_instance(h1), *e2 = harness_instance(h2);
    assert_non_null(e1->exporter = exporter_rt_new(e1));
    assert_non_null(e2->exporter = exporter_rt_new(e2));
    assert_int_equal(exporter_rt_start(e1->exporter), 0); /* sort/late starts last */

    pipeline *p = pipeline_new("p", TWO_PROFILES_AND_A_HALF_BYTES, QUEUE_DROP_OLDEST);
    assert_non_null(p);
    p->processors = calloc(2, sizeof *p->processors);
    p->processors[p->n_processors++] = processor(&filter_proc);
    p->processors[p->n_processors++] = processor(&window_proc);
    assert_int_equal(pipeline_add_exporter(p, e1), 0);
    assert_int_equal(pipeline_add_exporter(p, e2), 0);

    /* no worker yet: the third push evicts the first from the pipeline's queue */
    for (int i = 0; i < 3; i++)
        assert_int_equal(pipeline_push(p, one("okay")), 0);
    assert_true(in_flight() == 2 * 3 - 2);
    assert_true(out("sort", "dropped") == 1 && out("sort/late", "dropped") == 1);
    assert_identity();

    assert_int_equal(pipeline_start(p), 0);
    static const char *const rest[] = {"rejt", "fail", "filt", "merg", "merg"};
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) {
        wait_queue_empty(p);
        assert_int_equal(pipeline_push(p, one(rest[i])), 0);
        assert_identity();
    }
    pipeline_finish(p); /* the final tick folds the two merg into one mout */
    assert_identity();
    exporter_rt_finish(e1->exporter);
    assert_identity();

    /* sort/late never ran: of okay, okay, rejt, fail, mout its queue kept
     * the last two; those go at the shutdown deadline */
    assert_true(out("sort/late", "dropped") == 1 + 3);
    assert_true(in_flight() == 2);
    exporter_rt_set_deadline(e2->exporter, 1);
    assert_int_equal(exporter_rt_start(e2->exporter), 0);
    exporter_rt_finish(e2->exporter);

    assert_true(in("receivers") == 8);
    assert_true(in("processors") == 1);
    assert_true(out("sort", "exported") == 3); /* okay, okay, mout */
    assert_true(out("sort", "rejected") == 1);
    assert_true(out("sort", "failed") == 1);
    assert_true(out("sort", "dropped") == 1);
    assert_true(out("sort", "filtered") == 1 && out("sort/late", "filtered") == 1);
    assert_true(out("sort", "merged") == 2 && out("sort/late", "merged") == 2);
    assert_true(out("sort/late", "dropped") == 1 + 3 + 2);
    assert_true(out("sort/late", "exported") == 0);
    assert_true(in_flight() == 0);
    assert_identity();

    pipeline_free(p);
    harness_free(h1);
    harness_free(h2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_outcome_keeps_the_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
