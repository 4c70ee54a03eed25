/* bx_prom_parse: the exposition format's corners, limits, and a round trip
 * through the engine's own /metrics writer. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_prom_parse.h"
#include "engine/eng_metrics.h"

static const char *vllm_text = "# HELP vllm:num_requests_running Number of requests.\n"
                               "# TYPE vllm:num_requests_running gauge\n"
                               "vllm:num_requests_running{engine=\"0\",model_name=\"a\"} 3.0\n"
                               "vllm:num_requests_running{engine=\"0\",model_name=\"b\"} 4\n"
                               "# TYPE vllm:prompt_tokens_total counter\r\n"
                               "vllm:prompt_tokens_total{model_name=\"a\"} 1.5e3\r\n"
                               "# a comment line\n"
                               "# TYPE vllm:ttft_seconds histogram\n"
                               "vllm:ttft_seconds_bucket{model_name=\"a\",le=\"0.1\"} 1\n"
                               "vllm:ttft_seconds_bucket{model_name=\"a\",le=\"+Inf\"} 3\n"
                               "vllm:ttft_seconds_bucket{model_name=\"a\",le=\"1.0\"} 2\n"
                               "vllm:ttft_seconds_sum{model_name=\"a\"} 2.5\n"
                               "vllm:ttft_seconds_count{model_name=\"a\"} 3\n"
                               "vllm:lora_requests_info{max_lora=\"1\",running_lora_adapters=\"x,"
                               "\\\"y\\\"\\n\",waiting_lora_adapters=\"\"} 1.7e9 1700000000000\n"
                               "untyped_metric -Inf\n"
                               "nan_metric NaN";

static void test_realistic_text(void **st)
{
    (void)st;
    bx_prom_doc d;
    char err[128];
    assert_int_equal(bx_prom_parse(vllm_text, strlen(vllm_text), NULL, &d, err, sizeof(err)), 0);
    assert_int_equal(d.nsamples, 11);
    const bx_prom_sample *s = bx_prom_find(&d, "vllm:num_requests_running", "model_name", "b");
    assert_non_null(s);
    assert_true(s->value == 4.0);
    assert_int_equal(d.families[s->family].type, BX_PROM_GAUGE);
    assert_string_equal(d.families[s->family].help, "Number of requests.");
    size_t n;
    assert_true(bx_prom_sum(&d, "vllm:num_requests_running", NULL, NULL, &n) == 7.0);
    assert_int_equal(n, 2);
    s = bx_prom_find(&d, "vllm:prompt_tokens_total", NULL, NULL);
    assert_true(s->value == 1500.0);
    assert_int_equal(d.families[s->family].type, BX_PROM_COUNTER);
    s = bx_prom_find(&d, "vllm:ttft_seconds_sum", NULL, NULL);
    assert_string_equal(d.families[s->family].name, "vllm:ttft_seconds");
    bx_prom_hist_view h;
    assert_int_equal(bx_prom_histogram(&d, "vllm:ttft_seconds", "model_name", "a", &h), 0);
    assert_int_equal(h.nbuckets, 3); /* sorted by le */
    assert_true(h.le[0] == 0.1 && h.le[1] == 1.0 && isinf(h.le[2]));
    assert_true(h.cum[1] == 2 && h.cum[2] == 3 && h.count == 3 && h.sum == 2.5);
    s = bx_prom_find(&d, "vllm:lora_requests_info", NULL, NULL);
    assert_string_equal(bx_prom_label_get(s, "running_lora_adapters"), "x,\"y\"\n");
    assert_true(s->has_ts && s->ts_ms == 1700000000000LL);
    assert_true(isinf(bx_prom_find(&d, "untyped_metric", NULL, NULL)->value));
    assert_true(isnan(bx_prom_find(&d, "nan_metric", NULL, NULL)->value));
    assert_null(bx_prom_find(&d, "vllm:num_requests_running", "model_name", "zzz"));
    bx_prom_doc_free(&d);
}

static void expect_fail(const char *text, int code)
{
    bx_prom_doc d;
    char err[128] = "";
    bx_prom_limits lim;
    bx_prom_limits_default(&lim);
    lim.max_samples = 3;
    lim.max_labels = 2;
    assert_int_equal(bx_prom_parse(text, strlen(text), &lim, &d, err, sizeof(err)), code);
    assert_non_null(strstr(err, "line"));
    assert_null(d.samples);
}

static void test_malformed_and_limits(void **st)
{
    (void)st;
    expect_fail("m{a=\"1\"", BX_PROM_EPARSE);
    expect_fail("m{a=1} 2", BX_PROM_EPARSE);
    expect_fail("m 1.2.3", BX_PROM_EPARSE);
    expect_fail("m", BX_PROM_EPARSE);
    expect_fail("9m 1", BX_PROM_EPARSE);
    expect_fail("m{a=\"\\x\"} 1", BX_PROM_EPARSE);
    expect_fail("# TYPE m gauge\n# TYPE m counter\n", BX_PROM_EPARSE);
    expect_fail("# TYPE m sparkly\n", BX_PROM_EPARSE);
    expect_fail("m 1 notatime", BX_PROM_EPARSE);
    expect_fail("a 1\nb 2\nc 3\nd 4\n", BX_PROM_ELIMIT);
    expect_fail("m{a=\"1\",b=\"2\",c=\"3\"} 1", BX_PROM_ELIMIT);
    bx_prom_doc d;
    char err[64];
    bx_prom_limits lim;
    bx_prom_limits_default(&lim);
    lim.max_bytes = 4;
    assert_int_equal(bx_prom_parse("m 1\n", 5, &lim, &d, err, sizeof(err)), BX_PROM_ELIMIT);
    /* a NUL inside is rejected, not read as the end */
    assert_int_equal(bx_prom_parse("m 1\0x", 5, NULL, &d, err, sizeof(err)), BX_PROM_EPARSE);
    /* empty input is a valid, empty document */
    assert_int_equal(bx_prom_parse("", 0, NULL, &d, err, sizeof(err)), 0);
    assert_int_equal(d.nsamples, 0);
    bx_prom_doc_free(&d);
}

static void test_round_trip_engine_metrics(void **st)
{
    (void)st;
    eng_metrics *m = eng_metrics_new("llama \"8b\"", 4096, 0);
    eng_metrics_ttft(m, 0.02);
    eng_metrics_ttft(m, 0.7);
    eng_metrics_finish f = {.reason = "stop",
                            .produced = 1,
                            .e2e_s = 2,
                            .prompt_tokens = 100,
                            .generation_tokens = 20,
                            .decode_s = 1.9,
                            .tpot_s = 0.1};
    eng_metrics_finished(m, &f);
    eng_metrics_state s = {.running = 5,
                           .waiting = 7,
                           .kv_usage = 0.125,
                           .prompt_tokens = 321,
                           .lora_enabled = 1,
                           .max_lora = 2,
                           .running_loras = "a,b",
                           .waiting_loras = "",
                           .now_unix = 1.5e9,
                           .block_size = 16,
                           .num_gpu_blocks = 100};
    bx_buf b;
    bx_buf_init(&b);
    assert_int_equal(eng_metrics_render(m, &s, &b), 0);
    bx_prom_doc d;
    char err[128];
    assert_int_equal(bx_prom_parse(b.data, b.len, NULL, &d, err, sizeof(err)), 0);
    const char *mn = "llama \"8b\"";
    assert_true(bx_prom_find(&d, "vllm:num_requests_waiting", "model_name", mn)->value == 7);
    assert_true(bx_prom_find(&d, "vllm:kv_cache_usage_perc", "model_name", mn)->value == 0.125);
    assert_true(bx_prom_find(&d, "vllm:prompt_tokens_total", "model_name", mn)->value == 321);
    assert_true(bx_prom_find(&d, "vllm:request_success_total", "finished_reason", "stop")->value ==
                1);
    bx_prom_hist_view h;
    assert_int_equal(
        bx_prom_histogram(&d, "vllm:time_to_first_token_seconds", "model_name", mn, &h), 0);
    assert_true(h.count == 2);
    assert_true(fabs(h.sum - 0.72) < 1e-12);
    assert_true(isinf(h.le[h.nbuckets - 1]) && h.cum[h.nbuckets - 1] == 2);
    for (size_t i = 1; i < h.nbuckets; i++)
        assert_true(h.cum[i] >= h.cum[i - 1]);
    const bx_prom_sample *li = bx_prom_find(&d, "vllm:lora_requests_info", NULL, NULL);
    assert_string_equal(bx_prom_label_get(li, "running_lora_adapters"), "a,b");
    assert_int_equal(d.families[li->family].type, BX_PROM_GAUGE);
    bx_prom_doc_free(&d);
    bx_buf_free(&b);
    eng_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_realistic_text),
        cmocka_unit_test(test_malformed_and_limits),
        cmocka_unit_test(test_round_trip_engine_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
