/* bx_prom: number formatting, escaping, cumulative histograms, and output
 * that bx_prom_parse reads back to the same values. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_prom.h"
#include "common/bx_prom_parse.h"

static void test_numbers(void **st)
{
    (void)st;
    char b[40];
    bx_prom_fmt_num(b, sizeof(b), 3);
    assert_string_equal(b, "3.0");
    bx_prom_fmt_num(b, sizeof(b), 0.1);
    assert_string_equal(b, "0.1");
    bx_prom_fmt_num(b, sizeof(b), INFINITY);
    assert_string_equal(b, "+Inf");
    bx_prom_fmt_num(b, sizeof(b), -INFINITY);
    assert_string_equal(b, "-Inf");
    bx_prom_fmt_num(b, sizeof(b), NAN);
    assert_string_equal(b, "NaN");
    double v = 1.0 / 3.0;
    bx_prom_fmt_num(b, sizeof(b), v);
    assert_true(strtod(b, NULL) == v);
    bx_prom_fmt_num(b, sizeof(b), 1e20);
    assert_true(strtod(b, NULL) == 1e20);
}

static void test_escape_and_125(void **st)
{
    (void)st;
    char b[64];
    bx_prom_escape(b, sizeof(b), "a\"b\\c\nd");
    assert_string_equal(b, "a\\\"b\\\\c\\nd");
    double k[20];
    int n = bx_prom_buckets_125(k, 20, 2048);
    assert_int_equal(n, 11); /* 1 2 5 10 20 50 100 200 500 1000 2000 */
    assert_true(k[10] == 2000);
    assert_int_equal(bx_prom_buckets_125(k, 4, 1e9), 4);
}

static void test_histogram_round_trip(void **st)
{
    (void)st;
    static const double bounds[] = {0.1, 1, 10};
    bx_prom_hist h;
    bx_prom_hist_init(&h, bounds, 3);
    double obs[] = {0.05, 0.1, 0.5, 5, 50};
    for (int i = 0; i < 5; i++)
        bx_prom_hist_observe(&h, obs[i]);
    bx_buf b;
    bx_buf_init(&b);
    assert_int_equal(bx_prom_head(&b, "lat_seconds", "histogram", "Latency."), 0);
    assert_int_equal(bx_prom_hist_write(&b, "lat_seconds", "job=\"x\"", &h), 0);
    assert_int_equal(bx_prom_head(&b, "up", "gauge", "Up."), 0);
    assert_int_equal(bx_prom_value(&b, "up", "", 1), 0);
    assert_non_null(strstr(b.data, "lat_seconds_bucket{job=\"x\",le=\"0.1\"} 2\n"));
    assert_non_null(strstr(b.data, "lat_seconds_bucket{job=\"x\",le=\"+Inf\"} 5\n"));
    assert_non_null(strstr(b.data, "up 1.0\n"));
    bx_prom_doc d;
    char err[128];
    assert_int_equal(bx_prom_parse(b.data, b.len, NULL, &d, err, sizeof(err)), 0);
    bx_prom_hist_view v;
    assert_int_equal(bx_prom_histogram(&d, "lat_seconds", "job", "x", &v), 0);
    assert_int_equal(v.nbuckets, 4);
    assert_true(v.cum[0] == 2 && v.cum[1] == 3 && v.cum[2] == 4 && v.cum[3] == 5);
    assert_true(fabs(v.sum - 55.65) < 1e-9 && v.count == 5);
    bx_prom_doc_free(&d);
    bx_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_escape_and_125),
        cmocka_unit_test(test_histogram_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
