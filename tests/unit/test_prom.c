/* bx_prom: number formatting, escaping, cumulative histograms, vLLM bucket
 * layouts, and output that bx_prom_parse reads back to the same values. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_http.h"
#include "common/bx_prom.h"
#include "common/bx_prom_parse.h"

static const char *num(double v)
{
    static char b[BX_PROM_NUM_MAX];
    size_t n = bx_prom_fmt_num(b, sizeof(b), v);
    assert_int_equal(n, strlen(b));
    return b;
}

static void test_numbers(void **st)
{
    (void)st;
    assert_string_equal(num(3), "3.0");
    assert_string_equal(num(-3), "-3.0");
    assert_string_equal(num(0), "0.0");
    assert_string_equal(num(-0.0), "0.0");
    assert_string_equal(num(0.1), "0.1");
    assert_string_equal(num(0.001), "0.001");
    assert_string_equal(num(2560), "2560.0");
    assert_string_equal(num(1e15), "1000000000000000.0"); /* integral: no exponent */
    assert_string_equal(num(9007199254740993.0), "9007199254740992.0");
    assert_string_equal(num(INFINITY), "+Inf");
    assert_string_equal(num(-INFINITY), "-Inf");
    assert_string_equal(num(NAN), "NaN");
    assert_string_equal(num(1.5), "1.5");
    assert_string_equal(num(0.1 + 0.2), "0.30000000000000004"); /* needs 17 digits */
    /* every formatted value parses back to the same double */
    const double tricky[] = {1.0 / 3.0, 2.0 / 3.0, 1e20,       -1e300, 5e-324,
                             DBL_MAX,   DBL_MIN,   123456.789, 0.72,   1.7e9 + 0.25};
    for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++)
        assert_true(strtod(num(tricky[i]), NULL) == tricky[i]);
    /* short decimals (fast path) and noisy values (printf path) both read
     * back exactly, and short ones print without noise */
    for (int i = -20000; i <= 20000; i += 7) {
        double v = i / 1000.0;
        assert_true(strtod(num(v), NULL) == v);
        assert_true(strlen(num(v)) <= 7);
        assert_true(strtod(num(v * 0.37), NULL) == v * 0.37);
    }
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) { /* xorshift: arbitrary bit patterns */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof(v));
        if (isnan(v)) continue;
        assert_true(strtod(num(v), NULL) == v);
    }
    assert_string_equal(num(0.025), "0.025");
    assert_string_equal(num(-12.5), "-12.5");
    assert_string_equal(num(0.000001), "0.000001");
    assert_string_equal(num(1e-7), "1e-07");
    /* truncation keeps a terminator */
    char small[4];
    assert_int_equal(bx_prom_fmt_num(small, sizeof(small), 12345), 3);
    assert_string_equal(small, "123");
}

static void test_escape(void **st)
{
    (void)st;
    char b[64];
    bx_prom_escape(b, sizeof(b), "a\"b\\c\nd");
    assert_string_equal(b, "a\\\"b\\\\c\\nd");
    /* never cuts an escape in half */
    char t[4];
    bx_prom_escape(t, sizeof(t), "ab\"");
    assert_string_equal(t, "ab");
    bx_prom_escape(t, sizeof(t), "a\"b");
    assert_string_equal(t, "a\\\"");
    bx_buf buf;
    bx_buf_init(&buf);
    bx_prom_label l[] = {{"model_name", "x\"y"}, {"path", "C:\\m\n"}, {"empty", NULL}};
    assert_int_equal(bx_prom_labels(&buf, l, 3), 0);
    assert_string_equal(buf.data, "model_name=\"x\\\"y\",path=\"C:\\\\m\\n\",empty=\"\"");
    bx_buf_reset(&buf);
    /* HELP escapes backslash and newline but not quotes */
    assert_int_equal(bx_prom_head(&buf, "m", "gauge", "say \"hi\"\\\nbye"), 0);
    assert_string_equal(buf.data, "# HELP m say \"hi\"\\\\\\nbye\n# TYPE m gauge\n");
    bx_buf_reset(&buf);
    assert_int_equal(bx_prom_write_family(&buf, "c_total", "C.", BX_PROM_COUNTER), 0);
    assert_string_equal(buf.data, "# HELP c_total C.\n# TYPE c_total counter\n");
    bx_buf_free(&buf);
}

static void test_samples(void **st)
{
    (void)st;
    bx_buf b;
    bx_buf_init(&b);
    assert_int_equal(bx_prom_value(&b, "up", "", 1), 0);
    assert_int_equal(bx_prom_value(&b, "up", NULL, 2), 0);
    assert_int_equal(bx_prom_value(&b, "up", "a=\"1\"", 0.5), 0);
    assert_int_equal(bx_prom_write_sample(&b, "up", NULL, 0, -INFINITY), 0);
    bx_prom_label l[] = {{"a", "q\""}, {"b", "2"}};
    assert_int_equal(bx_prom_write_sample(&b, "up", l, 2, NAN), 0);
    assert_string_equal(b.data, "up 1.0\nup 2.0\nup{a=\"1\"} 0.5\nup -Inf\n"
                                "up{a=\"q\\\"\",b=\"2\"} NaN\n");
    bx_buf_free(&b);
}

static void test_histogram_buckets(void **st)
{
    (void)st;
    static const double bounds[] = {0.1, 1, 10};
    bx_prom_hist h;
    bx_prom_hist_init(&h, bounds, 3);
    /* on a bound counts in that bucket (le is <=); above the last only in +Inf */
    double obs[] = {0.05, 0.1, 0.5, 1, 5, 50, NAN};
    for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
        bx_prom_hist_observe(&h, obs[i]);
    assert_int_equal(h.counts[0], 2);
    assert_int_equal(h.counts[1], 2);
    assert_int_equal(h.counts[2], 1);
    assert_int_equal(h.count, 7);
    bx_prom_hist_init(&h, bounds, 3);
    for (size_t i = 0; i < 6; i++)
        bx_prom_hist_observe(&h, obs[i]);
    bx_buf b;
    bx_buf_init(&b);
    assert_int_equal(bx_prom_hist_write(&b, "lat", "", &h), 0);
    assert_string_equal(b.data, "lat_bucket{le=\"0.1\"} 2\n"
                                "lat_bucket{le=\"1.0\"} 4\n"
                                "lat_bucket{le=\"10.0\"} 5\n"
                                "lat_bucket{le=\"+Inf\"} 6\n"
                                "lat_sum 56.65\n"
                                "lat_count 6\n");
    bx_buf_reset(&b);
    bx_prom_label l[] = {{"model_name", "m"}};
    assert_int_equal(bx_prom_write_hist(&b, "lat", l, 1, &h), 0);
    assert_non_null(strstr(b.data, "lat_bucket{model_name=\"m\",le=\"+Inf\"} 6\n"));
    assert_non_null(strstr(b.data, "lat_sum{model_name=\"m\"} 56.65\n"));
    assert_non_null(strstr(b.data, "lat_count{model_name=\"m\"} 6\n"));
    bx_buf_free(&b);
    /* too many bounds are clamped, never overrun */
    double many[BX_PROM_HIST_MAX + 5];
    for (int i = 0; i < BX_PROM_HIST_MAX + 5; i++)
        many[i] = i;
    bx_prom_hist_init(&h, many, BX_PROM_HIST_MAX + 5);
    assert_int_equal(h.n, BX_PROM_HIST_MAX);
    bx_prom_hist_observe(&h, 1e9);
    assert_int_equal(h.count, 1);
}

static void assert_ascending(const double *b, int n)
{
    for (int i = 1; i < n; i++)
        assert_true(b[i] > b[i - 1]);
}

static void test_vllm_buckets(void **st)
{
    (void)st;
    assert_int_equal(sizeof(bx_prom_buckets_ttft) / sizeof(double), 22);
    assert_true(bx_prom_buckets_ttft[0] == 0.001 && bx_prom_buckets_ttft[21] == 2560);
    assert_true(bx_prom_buckets_itl[0] == 0.01 && bx_prom_buckets_itl[18] == 80);
    assert_true(bx_prom_buckets_latency[0] == 0.3 && bx_prom_buckets_latency[20] == 7680);
    assert_true(bx_prom_buckets_iter_tokens[1] == 8 && bx_prom_buckets_iter_tokens[12] == 16384);
    assert_true(bx_prom_buckets_n[2] == 5 && bx_prom_buckets_n[4] == 20);
    assert_ascending(bx_prom_buckets_ttft, BX_PROM_BUCKETS_TTFT_N);
    assert_ascending(bx_prom_buckets_itl, BX_PROM_BUCKETS_ITL_N);
    assert_ascending(bx_prom_buckets_latency, BX_PROM_BUCKETS_LATENCY_N);
    assert_ascending(bx_prom_buckets_iter_tokens, BX_PROM_BUCKETS_ITER_TOKENS_N);
    double k[BX_PROM_HIST_MAX];
    int n = bx_prom_buckets_125(k, BX_PROM_HIST_MAX, 4096);
    assert_int_equal(n, 11); /* 1 2 5 ... 1000 2000 (5000 > 4096) */
    assert_true(k[0] == 1 && k[1] == 2 && k[2] == 5 && k[10] == 2000);
    assert_int_equal(bx_prom_buckets_125(k, BX_PROM_HIST_MAX, 5000), 12);
    assert_int_equal(bx_prom_buckets_125(k, 4, 1e9), 4);
    assert_int_equal(bx_prom_buckets_125(k, BX_PROM_HIST_MAX, 0.5), 0);
    assert_int_equal(bx_prom_buckets_125(k, BX_PROM_HIST_MAX, NAN), 0);
    assert_int_equal(bx_prom_type_name(BX_PROM_HISTOGRAM)[0], 'h');
}

static void test_round_trip(void **st)
{
    (void)st;
    bx_prom_hist h;
    bx_prom_hist_init(&h, bx_prom_buckets_ttft, BX_PROM_BUCKETS_TTFT_N);
    const double obs[] = {0.0005, 0.02, 0.7, 3000, 1.0 / 3.0};
    double sum = 0;
    for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++) {
        bx_prom_hist_observe(&h, obs[i]);
        sum += obs[i];
    }
    bx_buf lab, b;
    bx_buf_init(&lab);
    bx_buf_init(&b);
    bx_prom_label ml[] = {{"model_name", "llama \"8b\"\n\\"}, {"engine", "0"}};
    assert_int_equal(bx_prom_labels(&lab, ml, 2), 0);
    assert_int_equal(bx_prom_write_family(&b, "vllm:time_to_first_token_seconds",
                                          "Histogram of time to first token in seconds.",
                                          BX_PROM_HISTOGRAM),
                     0);
    assert_int_equal(bx_prom_hist_write(&b, "vllm:time_to_first_token_seconds", lab.data, &h), 0);
    const double vals[] = {1.0 / 3.0, 1e-300, -2.5e17, 0.1 + 0.2, INFINITY};
    assert_int_equal(bx_prom_write_family(&b, "g", "multi\nline \\ help", BX_PROM_GAUGE), 0);
    for (size_t i = 0; i < 5; i++) {
        char idx[8] = {(char)('0' + i), 0};
        bx_prom_label gl[] = {{"i", idx}, {"model_name", ml[0].value}};
        assert_int_equal(bx_prom_write_sample(&b, "g", gl, 2, vals[i]), 0);
    }
    bx_prom_doc d;
    char err[128];
    assert_int_equal(bx_prom_parse(b.data, b.len, NULL, &d, err, sizeof(err)), 0);
    assert_int_equal(d.nfamilies, 2);
    assert_string_equal(d.families[1].help, "multi\nline \\ help");
    for (size_t i = 0; i < 5; i++) {
        char idx[8] = {(char)('0' + i), 0};
        const bx_prom_sample *s = bx_prom_find(&d, "g", "i", idx);
        assert_non_null(s);
        assert_true(s->value == vals[i]);
        assert_string_equal(bx_prom_label_get(s, "model_name"), ml[0].value);
        assert_int_equal(d.families[s->family].type, BX_PROM_GAUGE);
    }
    bx_prom_hist_view v;
    assert_int_equal(
        bx_prom_histogram(&d, "vllm:time_to_first_token_seconds", "model_name", ml[0].value, &v),
        0);
    assert_int_equal(v.nbuckets, BX_PROM_BUCKETS_TTFT_N + 1);
    for (size_t i = 0; i < BX_PROM_BUCKETS_TTFT_N; i++)
        assert_true(v.le[i] == bx_prom_buckets_ttft[i]);
    assert_true(v.cum[0] == 1 && v.cum[3] == 2 && v.cum[BX_PROM_BUCKETS_TTFT_N - 1] == 4);
    assert_true(isinf(v.le[BX_PROM_BUCKETS_TTFT_N]) && v.cum[BX_PROM_BUCKETS_TTFT_N] == 5);
    assert_true(v.sum == sum && v.count == 5);
    bx_prom_doc_free(&d);
    bx_buf_free(&lab);
    bx_buf_free(&b);
}

/* bx_http_stats_prom: the gateway's and the engine's client-side families,
 * one writer; they parse back with the values given. */
static void test_http_stats_families(void **st)
{
    (void)st;
    bx_http_shared_stats hs = {.open = 3,
                               .body_bytes = 4096,
                               .rejected = 7,
                               .head_timeouts = 2,
                               .body_timeouts = 5,
                               .budget_rejected = 1};
    bx_buf b;
    bx_buf_init(&b);
    assert_int_equal(bx_http_stats_prom(&b, "brix_engine", &hs), 0);
    bx_prom_doc d;
    char err[128];
    assert_int_equal(bx_prom_parse(b.data, b.len, NULL, &d, err, sizeof(err)), 0);
    assert_int_equal(d.nfamilies, 5);
    const struct {
        const char *name, *lname, *lvalue;
        double v;
    } want[] = {{"brix_engine_connections_open", NULL, NULL, 3},
                {"brix_engine_connections_rejected_total", NULL, NULL, 7},
                {"brix_engine_request_timeouts_total", "phase", "header", 2},
                {"brix_engine_request_timeouts_total", "phase", "body", 5},
                {"brix_engine_body_buffer_bytes", NULL, NULL, 4096},
                {"brix_engine_body_budget_rejected_total", NULL, NULL, 1}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const bx_prom_sample *s = bx_prom_find(&d, want[i].name, want[i].lname, want[i].lvalue);
        assert_non_null(s);
        assert_true(s->value == want[i].v);
    }
    bx_prom_doc_free(&d);
    bx_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test(test_vllm_buckets),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_http_stats_families),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
