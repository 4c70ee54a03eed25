/* as_window: bucketed means and maxima, missing buckets skipped (not zero),
 * sub-window reads (the panic window), expiry, refusals. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "autoscale/as_window.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

static void test_mean_and_max(void **st)
{
    (void)st;
    as_window w;
    assert_int_equal(as_window_init(&w, 10000, 1000), 0);
    assert_int_equal(as_window_add(&w, 0, 1), 0);
    assert_int_equal(as_window_add(&w, 1000, 3), 0);
    assert_int_equal(as_window_add(&w, 5000, 8), 0);
    double v = -1;
    /* buckets 0, 1, 5 present: (1 + 3 + 8) / 3 = 4 */
    assert_int_equal(as_window_average(&w, 5000, 10000, &v), 3);
    NEAR(v, 4.0);
    assert_int_equal(as_window_max(&w, 5000, 10000, &v), 3);
    NEAR(v, 8.0);
    as_window_close(&w);
}

static void test_missing_is_not_zero(void **st)
{
    (void)st;
    as_window w;
    assert_int_equal(as_window_init(&w, 10000, 1000), 0);
    assert_int_equal(as_window_add(&w, 0, 10), 0);
    assert_int_equal(as_window_add(&w, 9000, 20), 0);
    double v = 0;
    /* 2 of 10 buckets hold data: (10 + 20) / 2 = 15, not 30 / 10 = 3 */
    assert_int_equal(as_window_average(&w, 9000, 10000, &v), 2);
    NEAR(v, 15.0);
    as_window_close(&w);
}

static void test_same_bucket_mean(void **st)
{
    (void)st;
    as_window w;
    assert_int_equal(as_window_init(&w, 10000, 1000), 0);
    assert_int_equal(as_window_add(&w, 2000, 4), 0);
    assert_int_equal(as_window_add(&w, 2500, 6), 0);
    assert_int_equal(as_window_add(&w, 3000, 11), 0);
    double v = 0;
    /* bucket 2 = (4 + 6) / 2 = 5, bucket 3 = 11: mean (5 + 11) / 2 = 8, max 11 */
    assert_int_equal(as_window_average(&w, 3000, 10000, &v), 2);
    NEAR(v, 8.0);
    assert_int_equal(as_window_max(&w, 2999, 10000, &v), 1); /* bucket 3 is after now */
    NEAR(v, 6.0);
    as_window_close(&w);
}

static void test_sub_window(void **st)
{
    (void)st;
    as_window w;
    assert_int_equal(as_window_init(&w, 10000, 1000), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(as_window_add(&w, i * 1000, i), 0);
    double v = 0;
    /* last 3 s at 9 s: buckets 7, 8, 9 -> 8; whole window: 0..9 -> 4.5 */
    assert_int_equal(as_window_average(&w, 9000, 3000, &v), 3);
    NEAR(v, 8.0);
    assert_int_equal(as_window_average(&w, 9000, 10000, &v), 10);
    NEAR(v, 4.5);
    /* a span longer than the window is cut to the window */
    assert_int_equal(as_window_average(&w, 9000, 60000, &v), 10);
    /* 2500 ms rounds up to 3 buckets */
    assert_int_equal(as_window_average(&w, 9000, 2500, &v), 3);
    as_window_close(&w);
}

static void test_expiry_and_wrap(void **st)
{
    (void)st;
    as_window w;
    assert_int_equal(as_window_init(&w, 10000, 1000), 0);
    assert_int_equal(as_window_add(&w, 0, 1), 0);
    assert_int_equal(as_window_add(&w, 1000, 5), 0);
    assert_int_equal(as_window_add(&w, 2000, 1), 0);
    double v = 42;
    /* at 12 s the window is buckets 3..12: empty, *out untouched */
    assert_int_equal(as_window_average(&w, 12000, 10000, &v), 0);
    NEAR(v, 42.0);
    /* bucket 11 reuses slot 1; the old value 5 must not leak in */
    assert_int_equal(as_window_add(&w, 11000, 7), 0);
    assert_int_equal(as_window_average(&w, 11000, 10000, &v), 2); /* buckets 2 and 11 */
    NEAR(v, 4.0);                                                 /* (1 + 7) / 2 */
    as_window_reset(&w);
    assert_int_equal(as_window_average(&w, 11000, 10000, &v), 0);
    as_window_close(&w);
}

static void test_refusals(void **st)
{
    (void)st;
    as_window w;
    assert_int_equal(as_window_init(&w, 0, 1000), -1);
    assert_int_equal(as_window_init(&w, 1000, 0), -1);
    assert_int_equal(as_window_init(&w, 1000, 2000), -1);
    assert_int_equal(as_window_init(&w, (int64_t)AS_WINDOW_MAX_BUCKETS * 1000 + 1000, 1000), -1);
    assert_int_equal(as_window_init(&w, 10000, 1000), 0);
    assert_int_equal(as_window_add(&w, 0, NAN), -1);
    assert_int_equal(as_window_add(&w, 0, INFINITY), -1);
    assert_int_equal(as_window_add(&w, -1, 1), -1);
    assert_int_equal(as_window_add(&w, 20000, 1), 0);
    /* newest bucket 20, ring of 10: bucket 10 and older are gone */
    assert_int_equal(as_window_add(&w, 10999, 1), -1);
    assert_int_equal(as_window_add(&w, 11000, 1), 0);
    double v;
    assert_int_equal(as_window_average(&w, 20000, 0, &v), 0);
    assert_int_equal(as_window_average(NULL, 20000, 1000, &v), 0);
    as_window_close(&w);
    as_window_close(&w); /* idempotent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mean_and_max),     cmocka_unit_test(test_missing_is_not_zero),
        cmocka_unit_test(test_same_bucket_mean), cmocka_unit_test(test_sub_window),
        cmocka_unit_test(test_expiry_and_wrap),  cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
