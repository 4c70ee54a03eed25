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

/* The shape of a real vLLM 0.10 /metrics page (prometheus_client output),
 * trimmed: process and python families, _created samples, info gauges, a
 * histogram with le="1.0" style bounds and several label sets. */
static const char *vllm_page =
    "# HELP python_gc_objects_collected_total Objects collected during gc\n"
    "# TYPE python_gc_objects_collected_total counter\n"
    "python_gc_objects_collected_total{generation=\"0\"} 12345.0\n"
    "python_gc_objects_collected_total{generation=\"1\"} 678.0\n"
    "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
    "# TYPE process_resident_memory_bytes gauge\n"
    "process_resident_memory_bytes 2.147483648e+09\n"
    "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
    "# TYPE vllm:num_requests_running gauge\n"
    "vllm:num_requests_running{engine=\"0\",model_name=\"meta-llama/Llama-3.1-8B\"} 3.0\n"
    "vllm:num_requests_running{engine=\"1\",model_name=\"meta-llama/Llama-3.1-8B\"} 2.0\n"
    "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n"
    "# TYPE vllm:num_requests_waiting gauge\n"
    "vllm:num_requests_waiting{engine=\"0\",model_name=\"meta-llama/Llama-3.1-8B\"} 0.0\n"
    "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n"
    "# TYPE vllm:kv_cache_usage_perc gauge\n"
    "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"meta-llama/Llama-3.1-8B\"} "
    "0.04516129032258064\n"
    "# HELP vllm:prompt_tokens_total Number of prefill tokens processed.\n"
    "# TYPE vllm:prompt_tokens_total counter\n"
    "vllm:prompt_tokens_total{engine=\"0\",model_name=\"meta-llama/Llama-3.1-8B\"} 4321.0\n"
    "vllm:prompt_tokens_created{engine=\"0\",model_name=\"meta-llama/Llama-3.1-8B\"} "
    "1.7234567891234e+09\n"
    "# HELP vllm:request_success_total Count of successfully processed requests.\n"
    "# TYPE vllm:request_success_total counter\n"
    "vllm:request_success_total{engine=\"0\",finished_reason=\"stop\",model_name=\"m\"} 10.0\n"
    "vllm:request_success_total{engine=\"0\",finished_reason=\"length\",model_name=\"m\"} 5.0\n"
    "vllm:request_success_total{engine=\"0\",finished_reason=\"abort\",model_name=\"m\"} 0.0\n"
    "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n"
    "# TYPE vllm:cache_config_info gauge\n"
    "vllm:cache_config_info{block_size=\"16\",cache_dtype=\"auto\",enable_prefix_caching=\"True\","
    "engine=\"0\",gpu_memory_utilization=\"0.9\",num_gpu_blocks=\"27153\","
    "prefix_caching_hash_algo=\"builtin\",swap_space=\"4\"} 1.0\n"
    "# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.\n"
    "# TYPE vllm:e2e_request_latency_seconds histogram\n"
    "vllm:e2e_request_latency_seconds_sum{engine=\"0\",model_name=\"m\"} 12.5\n"
    "vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"0.3\",model_name=\"m\"} 1.0\n"
    "vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"1.0\",model_name=\"m\"} 4.0\n"
    "vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"7680.0\",model_name=\"m\"} 6.0\n"
    "vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"+Inf\",model_name=\"m\"} 6.0\n"
    "vllm:e2e_request_latency_seconds_count{engine=\"0\",model_name=\"m\"} 6.0\n"
    "vllm:e2e_request_latency_seconds_created{engine=\"0\",model_name=\"m\"} 1.72e+09\n"
    "vllm:e2e_request_latency_seconds_sum{engine=\"1\",model_name=\"m\"} 7.5\n"
    "vllm:e2e_request_latency_seconds_bucket{engine=\"1\",le=\"0.3\",model_name=\"m\"} 0.0\n"
    "vllm:e2e_request_latency_seconds_bucket{engine=\"1\",le=\"1.0\",model_name=\"m\"} 2.0\n"
    "vllm:e2e_request_latency_seconds_bucket{engine=\"1\",le=\"7680.0\",model_name=\"m\"} 3.0\n"
    "vllm:e2e_request_latency_seconds_bucket{engine=\"1\",le=\"+Inf\",model_name=\"m\"} 3.0\n"
    "vllm:e2e_request_latency_seconds_count{engine=\"1\",model_name=\"m\"} 3.0\n";

static void test_vllm_page(void **st)
{
    (void)st;
    bx_prom_doc d;
    char err[128];
    assert_int_equal(bx_prom_parse(vllm_page, strlen(vllm_page), NULL, &d, err, sizeof(err)), 0);
    double v = -1;
    assert_int_equal(bx_prom_find_value(&d, "vllm:num_requests_running", "model_name",
                                        "meta-llama/Llama-3.1-8B", &v),
                     0);
    assert_true(v == 3.0);
    assert_int_equal(bx_prom_find_value(&d, "vllm:num_requests_running", "engine", "1", &v), 0);
    assert_true(v == 2.0);
    assert_int_equal(bx_prom_find_value(&d, "vllm:num_requests_running", "model_name", "x", &v),
                     -1);
    assert_int_equal(bx_prom_find_value(&d, "vllm:no_such_metric", NULL, NULL, &v), -1);
    size_t n = 0;
    assert_true(bx_prom_sum(&d, "vllm:num_requests_running", "model_name",
                            "meta-llama/Llama-3.1-8B", &n) == 5.0);
    assert_int_equal(n, 2);
    assert_true(bx_prom_sum(&d, "vllm:request_success_total", NULL, NULL, &n) == 15.0);
    assert_int_equal(n, 3);
    assert_int_equal(bx_prom_find_value(&d, "vllm:kv_cache_usage_perc", NULL, NULL, &v), 0);
    assert_true(v == 0.04516129032258064);
    const bx_prom_sample *s = bx_prom_find(&d, "vllm:cache_config_info", NULL, NULL);
    assert_string_equal(bx_prom_label_get(s, "num_gpu_blocks"), "27153");
    assert_int_equal(s->nlabels, 8);
    /* _created of a counter is its own untyped family, as in Go's parser */
    s = bx_prom_find(&d, "vllm:prompt_tokens_created", NULL, NULL);
    assert_non_null(s);
    assert_int_equal(d.families[s->family].type, BX_PROM_UNTYPED);
    s = bx_prom_find(&d, "vllm:e2e_request_latency_seconds_bucket", "engine", "1");
    assert_string_equal(d.families[s->family].name, "vllm:e2e_request_latency_seconds");
    assert_int_equal(d.families[s->family].type, BX_PROM_HISTOGRAM);
    bx_prom_hist_view h;
    assert_int_equal(bx_prom_histogram(&d, "vllm:e2e_request_latency_seconds", "engine", "0", &h),
                     0);
    assert_int_equal(h.nbuckets, 4);
    assert_true(h.le[2] == 7680 && h.cum[1] == 4 && h.count == 6 && h.sum == 12.5);
    /* no label filter: the label sets add up */
    assert_int_equal(bx_prom_histogram(&d, "vllm:e2e_request_latency_seconds", NULL, NULL, &h), 0);
    assert_true(h.cum[0] == 1 && h.cum[1] == 6 && h.cum[3] == 9 && h.count == 9 && h.sum == 20);
    assert_int_equal(bx_prom_histogram(&d, "vllm:num_requests_running", NULL, NULL, &h), -1);
    assert_int_equal(bx_prom_histogram(&d, "vllm:nope", NULL, NULL, &h), -1);
    bx_prom_doc_free(&d);
}

static void test_syntax_corners(void **st)
{
    (void)st;
    const char *t = "# HELP h a \\\\ b\\nc \"q\"\n"
                    "#   just a comment\n"
                    "#\n"
                    "\n"
                    "   \t\n"
                    "h{ a = \"1\" , b=\"x\\\\\\\"y\", } 1e-3\n"
                    "h{} -2.5E+2 -1000\n"
                    "u 1\n"
                    "u{k=\"v\"} +Inf\n"
                    "s_sum 3\n"
                    "# TYPE s summary\n"
                    "s{quantile=\"0.5\"} 1\n"
                    "s_sum 4\n"
                    "s_count 2\r\n"
                    "last\t7";
    bx_prom_doc d;
    char err[128];
    assert_int_equal(bx_prom_parse(t, strlen(t), NULL, &d, err, sizeof(err)), 0);
    assert_int_equal(d.nsamples, 9);
    const bx_prom_sample *s = &d.samples[0];
    assert_string_equal(s->name, "h");
    assert_int_equal(s->nlabels, 2);
    assert_string_equal(bx_prom_label_get(s, "a"), "1");
    assert_string_equal(bx_prom_label_get(s, "b"), "x\\\"y");
    assert_true(s->value == 1e-3 && !s->has_ts);
    assert_string_equal(d.families[s->family].help, "a \\ b\nc \"q\"");
    s = &d.samples[1];
    assert_true(s->value == -250 && s->has_ts && s->ts_ms == -1000 && !s->labels);
    /* two untyped samples of one name share one family */
    assert_int_equal(d.samples[2].family, d.samples[3].family);
    assert_string_equal(d.families[d.samples[2].family].name, "u");
    /* s_sum before # TYPE s is its own untyped family; after it belongs to s */
    assert_string_equal(d.families[d.samples[4].family].name, "s_sum");
    assert_string_equal(d.families[d.samples[6].family].name, "s");
    assert_int_equal(d.families[d.samples[7].family].type, BX_PROM_SUMMARY);
    assert_true(d.samples[8].value == 7);
    assert_string_equal(d.samples[8].name, "last");
    bx_prom_doc_free(&d);
    /* doc_free on a freed (zeroed) doc is harmless */
    bx_prom_doc_free(&d);
}

static void expect_line(const char *text, int code, const char *msg)
{
    bx_prom_doc d;
    char err[128] = "";
    assert_int_equal(bx_prom_parse(text, strlen(text), NULL, &d, err, sizeof(err)), code);
    assert_non_null(strstr(err, msg));
}

static void test_errors_name_lines(void **st)
{
    (void)st;
    expect_line("a 1\nb 2\nc{x=\"1\"", BX_PROM_EPARSE, "line 3");
    expect_line("a 1\r\nb{x=\"1\",x=\"2\"} 1\r\n", BX_PROM_EPARSE, "line 2: label x given twice");
    expect_line("m{a=\"1\"} 1 2 3", BX_PROM_EPARSE, "timestamp");
    expect_line("m{a=\"1\"}1", BX_PROM_EPARSE, "space");
    expect_line("m{a=\"1\" b=\"2\"} 1", BX_PROM_EPARSE, "','");
    expect_line("m{=\"1\"} 1", BX_PROM_EPARSE, "label name");
    expect_line("m-x 1", BX_PROM_EPARSE, "invalid character");
    expect_line("# TYPE\n", BX_PROM_EPARSE, "without a metric name");
    bx_prom_limits lim;
    bx_prom_limits_default(&lim);
    lim.max_name_len = 4;
    lim.max_value_len = 3;
    bx_prom_doc d;
    char err[128];
    assert_int_equal(bx_prom_parse("abcde 1", 7, &lim, &d, err, sizeof(err)), BX_PROM_ELIMIT);
    assert_int_equal(bx_prom_parse("m{abcde=\"1\"} 1", 14, &lim, &d, err, sizeof(err)),
                     BX_PROM_ELIMIT);
    assert_int_equal(bx_prom_parse("m{a=\"1234\"} 1", 13, &lim, &d, err, sizeof(err)),
                     BX_PROM_ELIMIT);
    assert_int_equal(bx_prom_parse("m{a=\"123\"} 1", 12, &lim, &d, err, sizeof(err)), 0);
    bx_prom_doc_free(&d);
    /* a limit of exactly the input size is fine; the input is read to len only */
    lim.max_bytes = 3;
    assert_int_equal(bx_prom_parse("m 1 trailing garbage", 3, &lim, &d, err, sizeof(err)), 0);
    assert_int_equal(d.nsamples, 1);
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
        cmocka_unit_test(test_realistic_text),    cmocka_unit_test(test_malformed_and_limits),
        cmocka_unit_test(test_vllm_page),         cmocka_unit_test(test_syntax_corners),
        cmocka_unit_test(test_errors_name_lines), cmocka_unit_test(test_round_trip_engine_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
