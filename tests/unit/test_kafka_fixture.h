/* What the kafka unit tests share: a mock cluster of 3 brokers in the
 * test process (librdkafka's rdkafka_mock.h) with the topic made, and a small
 * CPU profile to send, and a metric's value. Included by test_kafka_*.c;
 * everything is static. */
#ifndef TEST_KAFKA_FIXTURE_H
#define TEST_KAFKA_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "harness.h"
#include "metrics.h"

#define TOPIC "profiles"
#define PARTITIONS 4
#define BROKERS 3

typedef struct fixture {
    rd_kafka_t *mock_rk;
    rd_kafka_mock_cluster_t *mc;
    char yaml_brokers[512]; /* "brokers: [a, b, c]" */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char errstr[256];
    f->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), errstr, sizeof errstr);
    f->mc = rd_kafka_mock_cluster_new(f->mock_rk, BROKERS);
    rd_kafka_mock_topic_create(f->mc, TOPIC, PARTITIONS, 1);
    snprintf(f->yaml_brokers, sizeof f->yaml_brokers, "brokers: [%s]",
             rd_kafka_mock_cluster_bootstraps(f->mc));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    rd_kafka_mock_cluster_destroy(f->mc);
    rd_kafka_destroy(f->mock_rk);
    free(f);
    return 0;
}

/* A small CPU profile of `service` with `samples` samples. */
static pp_profile *make_profile(const char *service, int samples)
{
    const pp_host *h = harness_host();
    pp_profile *p = h->profile_new();
    pp_pprof *t = h->profile_tree_new(p);
    t->sample_types = h->profile_alloc(p, 2 * sizeof *t->sample_types);
    t->n_sample_types = 2;
    t->sample_types[0] =
        (pp_value_type){h->pprof_intern(p, "samples"), h->pprof_intern(p, "count")};
    t->sample_types[1] =
        (pp_value_type){h->pprof_intern(p, "cpu"), h->pprof_intern(p, "nanoseconds")};
    t->period_type = t->sample_types[1];
    t->period = 10000000;
    t->functions = h->profile_alloc(p, sizeof *t->functions);
    t->n_functions = 1;
    t->functions[0] = (pp_function){.id = 1, .name = h->pprof_intern(p, "main.work")};
    t->locations = h->profile_alloc(p, sizeof *t->locations);
    t->n_locations = 1;
    t->locations[0].id = 1;
    t->locations[0].lines = h->profile_alloc(p, sizeof(pp_line));
    t->locations[0].lines[0].function_id = 1;
    t->locations[0].n_lines = 1;
    t->samples = h->profile_alloc(p, (size_t)samples * sizeof *t->samples);
    t->n_samples = (size_t)samples;
    for (int i = 0; i < samples; i++) {
        pp_sample *s = &t->samples[i];
        s->location_ids = h->profile_alloc(p, sizeof(uint64_t));
        s->location_ids[0] = 1;
        s->n_location_ids = 1;
        s->values = h->profile_alloc(p, 2 * sizeof(int64_t));
        s->values[0] = i + 1;
        s->values[1] = (i + 1) * 10000000;
        s->n_values = 2;
    }
    h->label_set(p, "service_name", service);
    h->label_set(p, "__name__", "process_cpu");
    h->profile_set_window(p, 1700000000000000000, 1700000010000000000);
    return p;
}

/* The sum of a metric over its label sets, from the /metrics text. */
static inline double metric_sum(const char *name)
{
    size_t len, name_len = strlen(name);
    char *text = metrics_render(&len), *line = text;
    double sum = 0;
    while (line != NULL && *line != '\0') {
        char *end = strchr(line, '\n');
        if (end != NULL)
            *end = '\0';
        char *at = line[0] == '#' ? NULL : strstr(line, name);
        if (at != NULL && (at[name_len] == '{' || at[name_len] == ' '))
            sum += strtod(strrchr(line, ' ') + 1, NULL);
        line = end != NULL ? end + 1 : NULL;
    }
    free(text);
    return sum;
}

#endif
