/* kafka_mock: a Kafka cluster for the e2e tests, made of librdkafka's own
 * mock brokers (rdkafka_mock.h): real Kafka protocol on 127.0.0.1, in
 * this process, for as long as it runs.
 *
 *   kafka_mock [-b BROKERS] [-t TOPIC:PARTITIONS]...
 *
 * Prints `bootstrap HOST:PORT,...` and then `ready` on stdout, and then
 * reads one command per line on stdin, answering each with a line that
 * starts with `ok` or `error`:
 *
 *   down ID | up ID             take broker ID (1..BROKERS) down / up
 *   errors API COUNT ERROR...   the next COUNT requests of API (produce,
 *                               fetch, offsetcommit, ... or a number) fail
 *                               with the ERRORs (names such as
 *                               NOT_LEADER_FOR_PARTITION, or numbers), in
 *                               turn, the last one repeated
 *   topic NAME PARTITIONS       create a topic
 *   quit                        exit
 *
 * SIGUSR1 takes every broker down, SIGUSR2 brings them all back;
 * SIGTERM/SIGINT exit. At EOF on stdin it keeps serving until a signal.
 * The mock cluster is destroyed before the handle that created it, as
 * librdkafka requires. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define DEFAULT_BROKERS 3
#define LINE_MAX_LEN 1024
#define MAX_ERRORS 64
#define REPLICATION 1

static volatile sig_atomic_t quit_signal, all_down, all_up;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        all_down = 1;
    else if (sig == SIGUSR2)
        all_up = 1;
    else
        quit_signal = 1;
}

static const struct {
    const char *name;
    int16_t key;
} api_keys[] = {
    {"produce", 0},      {"fetch", 1},       {"listoffsets", 2},      {"metadata", 3},
    {"offsetcommit", 8}, {"offsetfetch", 9}, {"findcoordinator", 10}, {"joingroup", 11},
    {"heartbeat", 12},   {"leavegroup", 13}, {"syncgroup", 14},       {"initproducerid", 22},
};

static int parse_api(const char *text, int16_t *key)
{
    for (size_t i = 0; i < sizeof api_keys / sizeof *api_keys; i++)
        if (strcasecmp(text, api_keys[i].name) == 0)
            return *key = api_keys[i].key, 0;
    char *end;
    long v = strtol(text, &end, 10);
    if (*end != '\0' || v < 0 || v > INT16_MAX)
        return -1;
    *key = (int16_t)v;
    return 0;
}

static int parse_error(const char *text, rd_kafka_resp_err_t *err)
{
    const struct rd_kafka_err_desc *descs;
    size_t n;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++)
        if (descs[i].name && strcasecmp(text, descs[i].name) == 0)
            return *err = descs[i].code, 0;
    char *end;
    long v = strtol(text, &end, 10);
    if (*end != '\0')
        return -1;
    *err = (rd_kafka_resp_err_t)v;
    return 0;
}

static void set_all(rd_kafka_mock_cluster_t *mc, int brokers, int up)
{
    for (int id = 1; id <= brokers; id++)
        (up ? rd_kafka_mock_broker_set_up : rd_kafka_mock_broker_set_down)(mc, id);
}

static void cmd_errors(rd_kafka_mock_cluster_t *mc, char *args)
{
    char *api = strtok(args, " \t"), *count = strtok(NULL, " \t"), *e;
    rd_kafka_resp_err_t errs[MAX_ERRORS];
    size_t n_errs = 0;
    int16_t key;
    long cnt = count ? strtol(count, NULL, 10) : 0;
    if (api == NULL || parse_api(api, &key) != 0 || cnt <= 0) {
        printf("error usage: errors API COUNT ERROR...\n");
        return;
    }
    while ((e = strtok(NULL, " \t")) != NULL && n_errs < MAX_ERRORS) {
        if (parse_error(e, &errs[n_errs]) != 0) {
            printf("error unknown error %s\n", e);
            return;
        }
        n_errs++;
    }
    if (n_errs == 0) {
        printf("error no ERROR given\n");
        return;
    }
    rd_kafka_resp_err_t stack[MAX_ERRORS];
    size_t total = (size_t)cnt < MAX_ERRORS ? (size_t)cnt : MAX_ERRORS;
    for (size_t i = 0; i < total; i++)
        stack[i] = errs[i < n_errs ? i : n_errs - 1];
    rd_kafka_mock_push_request_errors_array(mc, key, total, stack);
    printf("ok %zu errors on api %d\n", total, key);
}

static int command(rd_kafka_mock_cluster_t *mc, char *line)
{
    line[strcspn(line, "\r\n")] = '\0';
    char *verb = strtok(line, " \t"), *rest = strtok(NULL, "");
    if (verb == NULL)
        return 0;
    if (strcmp(verb, "quit") == 0)
        return printf("ok bye\n"), 1;
    if (strcmp(verb, "down") == 0 || strcmp(verb, "up") == 0) {
        int id = rest ? atoi(rest) : 0;
        rd_kafka_resp_err_t err = verb[0] == 'd' ? rd_kafka_mock_broker_set_down(mc, id)
                                                 : rd_kafka_mock_broker_set_up(mc, id);
        printf(err ? "error %s broker %d: %s\n" : "ok %s broker %d%s\n", verb, id,
               err ? rd_kafka_err2str(err) : "");
    } else if (strcmp(verb, "errors") == 0 && rest) {
        cmd_errors(mc, rest);
    } else if (strcmp(verb, "topic") == 0 && rest) {
        char *name = strtok(rest, " \t"), *parts = strtok(NULL, " \t");
        rd_kafka_resp_err_t err =
            name && parts ? rd_kafka_mock_topic_create(mc, name, atoi(parts), REPLICATION)
                          : RD_KAFKA_RESP_ERR__INVALID_ARG;
        printf(err ? "error topic: %s\n" : "ok topic%s\n", err ? rd_kafka_err2str(err) : "");
    } else {
        printf("error unknown command %s\n", verb);
    }
    return 0;
}

static int create_topic_arg(rd_kafka_mock_cluster_t *mc, const char *arg)
{
    char name[LINE_MAX_LEN];
    snprintf(name, sizeof name, "%s", arg);
    char *colon = strrchr(name, ':');
    int parts = colon ? atoi(colon + 1) : 1;
    if (colon)
        *colon = '\0';
    return rd_kafka_mock_topic_create(mc, name, parts, REPLICATION) ? -1 : 0;
}

/* Serves commands and signals until quit. */
static void serve(rd_kafka_mock_cluster_t *mc, int brokers)
{
    char line[LINE_MAX_LEN];
    int eof = 0;
    while (!quit_signal) {
        if (all_down || all_up) {
            set_all(mc, brokers, all_up);
            all_down = all_up = 0;
        }
        if (eof) {
            pause();
            continue;
        }
        if (fgets(line, sizeof line, stdin) == NULL) {
            if (ferror(stdin) && errno == EINTR)
                clearerr(stdin);
            else
                eof = 1;
            continue;
        }
        if (command(mc, line))
            break;
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    int brokers = DEFAULT_BROKERS, opt;
    char errstr[512];
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: fgets wakes */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (rk == NULL) {
        fprintf(stderr, "kafka_mock: %s\n", errstr);
        return 1;
    }
    int rc = 0;
    const char *topics[argc];
    int n_topics = 0;
    while ((opt = getopt(argc, argv, "b:t:")) != -1) {
        if (opt == 'b')
            brokers = atoi(optarg);
        else if (opt == 't')
            topics[n_topics++] = optarg;
        else
            return fprintf(stderr, "usage: kafka_mock [-b N] [-t TOPIC:PARTITIONS]...\n"), 2;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (mc == NULL) {
        fprintf(stderr, "kafka_mock: cannot start the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 0; i < n_topics; i++)
        if (create_topic_arg(mc, topics[i]) != 0) {
            fprintf(stderr, "kafka_mock: cannot create topic %s\n", topics[i]);
            rc = 1;
        }
    printf("bootstrap %s\nready\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    if (rc == 0)
        serve(mc, brokers);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return rc;
}
