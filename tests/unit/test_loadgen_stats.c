/* Tests for loadgen_stats: exact (numpy-compatible) percentiles, TPOT, the
 * summary over successes and failures, and its JSON renderings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "loadgen/loadgen_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

static void test_percentiles(void **state)
{
    (void)state;
    /* Values checked against numpy.percentile (linear interpolation). */
    const double a[] = {1, 2, 3, 4};
    NEAR(loadgen_percentile(a, 4, 50), 2.5);
    NEAR(loadgen_percentile(a, 4, 90), 3.7);
    NEAR(loadgen_percentile(a, 4, 99), 3.97);
    NEAR(loadgen_percentile(a, 4, 0), 1);
    NEAR(loadgen_percentile(a, 4, 100), 4);
    const double b[] = {15, 20, 35, 40, 50};
    NEAR(loadgen_percentile(b, 5, 40), 29);
    NEAR(loadgen_percentile(b, 5, 50), 35);
    NEAR(loadgen_percentile(b, 5, 90), 46);
    const double one[] = {7};
    NEAR(loadgen_percentile(one, 1, 99), 7);
    NEAR(loadgen_percentile(NULL, 0, 50), 0);

    /* 1..100: p99 = 99.01, p90 = 90.1, p50 = 50.5. */
    double s[100];
    for (int i = 0; i < 100; i++)
        s[i] = 100 - i; /* unsorted: compute sorts */
    loadgen_dist d;
    loadgen_dist_compute(&d, s, 100);
    assert_int_equal(d.n, 100);
    NEAR(d.mean, 50.5);
    NEAR(d.p50, 50.5);
    NEAR(d.p90, 90.1);
    NEAR(d.p99, 99.01);
    NEAR(d.max, 100);
    loadgen_dist_compute(&d, s, 0);
    assert_int_equal(d.n, 0);
    NEAR(d.max, 0);
}

static loadgen_result ok_result(size_t id, double ttft, double e2e, long out, const double *itl,
                                size_t n_itl)
{
    loadgen_result r;
    memset(&r, 0, sizeof(r));
    r.id = id;
    r.session = -1;
    r.ok = 1;
    r.status = 200;
    r.ttft_ms = ttft;
    r.e2e_ms = e2e;
    r.prompt_tokens = 100;
    r.completion_tokens = out;
    r.usage_reported = 1;
    for (size_t i = 0; i < n_itl; i++)
        assert_int_equal(loadgen_result_add_itl(&r, itl[i]), 0);
    return r;
}

static loadgen_result failed_result(size_t id, long status, const char *err)
{
    loadgen_result r;
    memset(&r, 0, sizeof(r));
    r.id = id;
    r.session = -1;
    r.status = status;
    r.ttft_ms = r.e2e_ms = -1;
    r.prompt_tokens = r.completion_tokens = -1;
    r.error = strdup(err);
    return r;
}

static void test_tpot(void **state)
{
    (void)state;
    loadgen_result r = ok_result(0, 10, 110, 11, NULL, 0);
    NEAR(loadgen_result_tpot(&r), 10);
    r.completion_tokens = 1;
    assert_true(loadgen_result_tpot(&r) < 0);
    r.completion_tokens = 11;
    r.ttft_ms = r.e2e_ms; /* a whole answer: nothing between tokens to time */
    assert_true(loadgen_result_tpot(&r) < 0);
    r.ok = 0;
    assert_true(loadgen_result_tpot(&r) < 0);
}

static void test_summary(void **state)
{
    (void)state;
    const double g1[] = {1, 2, 3}, g2[] = {4};
    loadgen_result res[6];
    res[0] = ok_result(0, 10, 40, 4, g1, 3); /* tpot 10 */
    res[1] = ok_result(1, 30, 50, 2, g2, 1); /* tpot 20 */
    res[2] = failed_result(2, 503, "HTTP 503: busy");
    res[3] = failed_result(3, 0, "Failed to connect");
    res[4] = failed_result(4, 503, "HTTP 503: busy");
    res[5] = ok_result(5, 20, 20, 1, NULL, 0); /* one token: no tpot */
    loadgen_summary s;
    assert_int_equal(loadgen_summary_compute(&s, res, 6, 2.0), 0);
    assert_int_equal(s.count, 6);
    assert_int_equal(s.ok, 3);
    assert_int_equal(s.failed, 3);
    assert_int_equal(s.n_fail_kinds, 2);
    assert_int_equal(s.fail_by_status[0].status, 503);
    assert_int_equal(s.fail_by_status[0].n, 2);
    assert_int_equal(s.fail_by_status[1].status, 0);
    assert_int_equal(s.fail_by_status[1].n, 1);
    assert_int_equal(s.total_input_tokens, 300);
    assert_int_equal(s.total_output_tokens, 7);
    NEAR(s.request_throughput, 1.5);
    NEAR(s.output_throughput, 3.5);
    assert_int_equal(s.ttft.n, 3);
    NEAR(s.ttft.mean, 20);
    NEAR(s.ttft.p50, 20);
    NEAR(s.ttft.max, 30);
    assert_int_equal(s.tpot.n, 2);
    NEAR(s.tpot.mean, 15);
    NEAR(s.tpot.p90, 19);
    assert_int_equal(s.itl.n, 4);
    NEAR(s.itl.p50, 2.5);
    NEAR(s.itl.max, 4);
    assert_int_equal(s.e2e.n, 3);
    NEAR(s.e2e.p99, 49.8);

    json_t *j = loadgen_summary_json(&s);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "failed")), 3);
    json_t *fs = json_object_get(j, "failed_by_status");
    assert_int_equal(json_integer_value(json_object_get(fs, "503")), 2);
    assert_int_equal(json_integer_value(json_object_get(fs, "no response")), 1);
    NEAR(json_real_value(json_object_get(json_object_get(j, "tpot_ms"), "mean")), 15);
    json_decref(j);

    /* The text table names every distribution and the failure kinds. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    loadgen_summary_print(&s, f);
    fclose(f);
    for (const char *w = "TTFT\0TPOT\0ITL\0E2E\0HTTP 503\0no response\0p99\0"; *w;
         w += strlen(w) + 1)
        assert_non_null(strstr(buf, w));
    free(buf);

    /* One JSONL line: failures carry null latencies and their error. */
    j = loadgen_result_json(&res[3]);
    assert_non_null(j);
    assert_true(json_is_null(json_object_get(j, "ttft_ms")));
    assert_true(json_is_false(json_object_get(j, "ok")));
    assert_string_equal(json_string_value(json_object_get(j, "error")), "Failed to connect");
    json_decref(j);
    j = loadgen_result_json(&res[0]);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "itl_ms")), 3);
    NEAR(json_real_value(json_object_get(j, "tpot_ms")), 10);
    assert_int_equal(json_integer_value(json_object_get(j, "completion_tokens")), 4);
    json_decref(j);
    for (int i = 0; i < 6; i++)
        loadgen_result_free(&res[i]);
}

static void test_empty_summary(void **state)
{
    (void)state;
    loadgen_summary s;
    assert_int_equal(loadgen_summary_compute(&s, NULL, 0, 0), 0);
    assert_int_equal(s.count, 0);
    NEAR(s.request_throughput, 0);
    json_t *j = loadgen_summary_json(&s);
    assert_non_null(j);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_tpot),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_empty_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
