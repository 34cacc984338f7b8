/* log: rate limiting of repeated warnings and errors per kind (level,
 * component, format). Lines past the burst are not written and are
 * counted in profpipe_log_suppressed_total; the next line of the kind
 * after the window first says how many were suppressed. Other kinds, and
 * info lines, are not affected. stderr is captured in a file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

#define BURST 3
#define WINDOW_NS (INT64_C(300) * 1000000)
#define FLOOD 1000
#define CAPTURE_MAX (1 << 20)

static int saved_stderr = -1;
static FILE *capture;

static void capture_start(void)
{
    capture = tmpfile();
    assert_non_null(capture);
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);
}

/* Stops capturing; returns what was written (caller frees). */
static char *capture_stop(void)
{
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    char *text = calloc(1, CAPTURE_MAX);
    rewind(capture);
    size_t n = fread(text, 1, CAPTURE_MAX - 1, capture);
    text[n] = '\0';
    fclose(capture);
    return text;
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static double suppressed_metric(const char *level, const char *component)
{
    char labels[256];
    snprintf(labels, sizeof labels, "level=\"%s\",component=\"%s\"", level, component);
    return metrics_value(metrics_get("profpipe_log_suppressed_total", "", PP_COUNTER, labels));
}

static void sleep_past_window(void)
{
    struct timespec ts = {0, WINDOW_NS + 100 * 1000000};
    nanosleep(&ts, NULL);
}

static void test_flood_is_limited_per_kind(void **state)
{
    (void)state;
    log_set_rate_limit(BURST, WINDOW_NS);
    double before = suppressed_metric("warn", "receiver pyroscope");
    capture_start();
    for (int i = 0; i < FLOOD; i++)
        log_msg(PP_LOG_WARN, "receiver pyroscope", "connection %d aborted by peer", i);
    /* another kind: same component, another call site */
    log_msg(PP_LOG_WARN, "receiver pyroscope", "body of %d bytes refused", 7);
    /* the same call site in another component is another kind */
    log_msg(PP_LOG_WARN, "receiver pyroscope/b", "connection %d aborted by peer", 1);
    /* info is never limited */
    for (int i = 0; i < 2 * BURST; i++)
        log_msg(PP_LOG_INFO, "receiver pyroscope", "served %d", i);
    char *out = capture_stop();
    assert_int_equal(count(out, "component=receiver pyroscope msg=\"connection "), BURST);
    assert_non_null(strstr(out, "msg=\"connection 0 aborted by peer\""));
    assert_non_null(strstr(out, "msg=\"connection 2 aborted by peer\""));
    assert_null(strstr(out, "msg=\"connection 3 aborted by peer\""));
    assert_int_equal(count(out, "msg=\"body of 7 bytes refused\""), 1);
    assert_int_equal(count(out, "component=receiver pyroscope/b msg=\"connection 1 aborted"), 1);
    assert_int_equal(count(out, "msg=\"served "), 2 * BURST);
    assert_int_equal(count(out, "suppressed"), 0); /* said when the kind speaks again */
    free(out);
    assert_true(suppressed_metric("warn", "receiver pyroscope") - before == FLOOD - BURST);
    size_t len;
    char *page = metrics_render(&len);
    assert_non_null(strstr(page, "profpipe_log_suppressed_total{level=\"warn\","
                                 "component=\"receiver pyroscope\"} "));
    free(page);

    /* after the window the kind speaks again, first saying what it held back */
    sleep_past_window();
    capture_start();
    log_msg(PP_LOG_WARN, "receiver pyroscope", "connection %d aborted by peer", 5000);
    log_msg(PP_LOG_WARN, "receiver pyroscope", "connection %d aborted by peer", 5001);
    out = capture_stop();
    char want[256];
    snprintf(want, sizeof want,
             "level=warn component=receiver pyroscope msg=\"%d similar messages suppressed "
             "(rate limit: %d per 0.3s): connection %%d aborted by peer\"\n",
             FLOOD - BURST, BURST);
    assert_non_null(strstr(out, want));
    assert_true(strstr(out, want) < strstr(out, "msg=\"connection 5000 aborted"));
    assert_int_equal(count(out, "suppressed"), 1);
    assert_int_equal(count(out, "aborted by peer\"\n"), 3); /* summary + 2 lines */
    free(out);
    log_set_rate_limit(20, INT64_C(10) * 1000000000);
}

/* Errors are limited like warnings, and a flood of distinct call sites
 * (more kinds than the table holds) still ends up limited: the
 * newcomers share one overflow kind. */
static void test_many_kinds_stay_bounded(void **state)
{
    (void)state;
    log_set_rate_limit(BURST, WINDOW_NS);
    enum { KINDS = 2000, EACH = 5 };
    static char fmts[KINDS][32];
    capture_start();
    for (int k = 0; k < KINDS; k++) {
        snprintf(fmts[k], sizeof fmts[k], "error kind %d: %%d", k);
        for (int i = 0; i < EACH; i++)
            log_msg(PP_LOG_ERROR, "exporter file", fmts[k], i);
    }
    char *out = capture_stop();
    size_t written = count(out, "level=error");
    /* each kind that got a slot writes BURST lines; the rest share one */
    assert_true(written < (size_t)KINDS * EACH / 2);
    assert_true(written >= BURST);
    assert_true(suppressed_metric("error", "exporter file") >= KINDS * EACH - written);
    free(out);
    log_set_rate_limit(20, INT64_C(10) * 1000000000);
}

/* Whatever bytes a peer put in a value, the line written is valid UTF-8:
 * valid sequences pass as they are, a byte that begins none becomes
 * U+FFFD, control bytes and DEL become spaces, quotes are escaped. */
static void test_values_are_valid_utf8(void **state)
{
    (void)state;
    capture_start();
    log_msg(PP_LOG_WARN, "processor relabel", "service %s end",
            "a\xff\xfe|\xc3\xa9|\xed\xa0\x80|\xe2\x82|\xf0\x9f\x94\xa5|\x7f\x01|\"q\"|\xc0\xaf");
    char *out = capture_stop();
    const char *want = "msg=\"service a\xef\xbf\xbd\xef\xbf\xbd|\xc3\xa9|"
                       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
                       "\xf0\x9f\x94\xa5|  |\\\"q\\\"|\xef\xbf\xbd\xef\xbf\xbd end\"";
    if (!strstr(out, want))
        fail_msg("line not as expected: %s", out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flood_is_limited_per_kind),
        cmocka_unit_test(test_many_kinds_stay_bounded),
        cmocka_unit_test(test_values_are_valid_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
