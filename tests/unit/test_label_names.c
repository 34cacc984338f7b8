/* lib/labels: Prometheus' label- and metric-name rules (the legacy ASCII
 * ones of prometheus/common model.LabelNameRE and MetricNameRE). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "label_names.h"

static void test_label_names(void **state)
{
    (void)state;
    static const char *good[] = {"a", "_", "job", "service_name", "__name__", "A9_z", "_0"};
    static const char *bad[] = {"", "0a", "9", "a-b", "a.b", "a b", "a:b", "é", "a\xff"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(label_name_valid(good[i]), 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(label_name_valid(bad[i]), 0);
    assert_int_equal(label_name_valid(NULL), 0);
}

static void test_metric_names(void **state)
{
    (void)state;
    assert_int_equal(metric_name_valid("process_cpu:seconds"), 1);
    assert_int_equal(metric_name_valid(":a"), 1);
    assert_int_equal(metric_name_valid("a1"), 1);
    assert_int_equal(metric_name_valid("1a"), 0);
    assert_int_equal(metric_name_valid("a-b"), 0);
    assert_int_equal(metric_name_valid(""), 0);
    assert_int_equal(metric_name_valid(NULL), 0);
}

static void test_reserved(void **state)
{
    (void)state;
    assert_int_equal(label_name_reserved("__name__"), 1);
    assert_int_equal(label_name_reserved("__meta_x"), 1);
    assert_int_equal(label_name_reserved("_a"), 0);
    assert_int_equal(label_name_reserved("a__"), 0);
    assert_int_equal(label_name_reserved("_"), 0);
    assert_int_equal(label_name_reserved(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_names),
        cmocka_unit_test(test_metric_names),
        cmocka_unit_test(test_reserved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
