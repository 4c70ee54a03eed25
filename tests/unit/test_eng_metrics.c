/* eng_metrics: vLLM names, labels, cumulative buckets, lora_requests_info
 * series handling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/eng_metrics.h"

static eng_metrics_state state(const char *run, double ts)
{
    eng_metrics_state s = {.running = 3,
                           .waiting = 2,
                           .kv_usage = 0.25,
                           .prompt_tokens = 100,
                           .generation_tokens = 40,
                           .lora_enabled = 1,
                           .max_lora = 2,
                           .running_loras = run,
                           .waiting_loras = "",
                           .now_unix = ts,
                           .block_size = 16,
                           .num_gpu_blocks = 1000};
    return s;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_names_and_values(void **st)
{
    (void)st;
    eng_metrics *m = eng_metrics_new("my \"model\"", 8192, 0);
    assert_non_null(m);
    eng_metrics_ttft(m, 0.003);
    eng_metrics_ttft(m, 0.3);
    bx_buf b;
    bx_buf_init(&b);
    eng_metrics_state s = state("a", 1000.5);
    assert_int_equal(eng_metrics_render(m, &s, &b), 0);
    assert_non_null(strstr(
        b.data, "vllm:num_requests_running{engine=\"0\",model_name=\"my \\\"model\\\"\"} 3.0\n"));
    assert_non_null(strstr(
        b.data, "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"my \\\"model\\\"\"} 0.25\n"));
    assert_non_null(strstr(b.data, "vllm:gpu_cache_usage_perc{"));
    assert_non_null(strstr(b.data, "# TYPE vllm:prompt_tokens_total counter\n"));
    assert_non_null(strstr(
        b.data, "vllm:prompt_tokens_total{engine=\"0\",model_name=\"my \\\"model\\\"\"} 100.0\n"));
    /* cumulative: 0.003 is in le=0.005 and above; 0.3 from le=0.5 */
    assert_non_null(strstr(b.data, "time_to_first_token_seconds_bucket{engine=\"0\",model_name="
                                   "\"my \\\"model\\\"\",le=\"0.001\"} 0\n"));
    assert_non_null(strstr(b.data, "time_to_first_token_seconds_bucket{engine=\"0\",model_name="
                                   "\"my \\\"model\\\"\",le=\"0.005\"} 1\n"));
    assert_non_null(strstr(b.data, "time_to_first_token_seconds_bucket{engine=\"0\",model_name="
                                   "\"my \\\"model\\\"\",le=\"0.5\"} 2\n"));
    assert_non_null(strstr(b.data, "time_to_first_token_seconds_bucket{engine=\"0\",model_name="
                                   "\"my \\\"model\\\"\",le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(
        b.data,
        "time_to_first_token_seconds_count{engine=\"0\",model_name=\"my \\\"model\\\"\"} 2\n"));
    /* every family has exactly one TYPE line */
    assert_int_equal(count(b.data, "# TYPE vllm:time_to_first_token_seconds "), 1);
    assert_non_null(strstr(b.data, "vllm:lora_requests_info{max_lora=\"2\",running_lora_adapters="
                                   "\"a\",waiting_lora_adapters=\"\"} 1000.5\n"));
    bx_buf_free(&b);
    eng_metrics_free(m);
}

static void test_finish_reasons_and_tokens_buckets(void **st)
{
    (void)st;
    eng_metrics *m = eng_metrics_new("m", 1000, 0);
    eng_metrics_finish f = {.reason = "length",
                            .produced = 1,
                            .e2e_s = 1.2,
                            .prompt_tokens = 30,
                            .generation_tokens = 10,
                            .max_tokens_param = 10,
                            .decode_s = 0.9,
                            .tpot_s = 0.1};
    eng_metrics_finished(m, &f);
    f.reason = "abort";
    eng_metrics_finished(m, &f);
    bx_buf b;
    bx_buf_init(&b);
    eng_metrics_state s = state("", 1);
    s.lora_enabled = 0;
    eng_metrics_render(m, &s, &b);
    assert_non_null(strstr(b.data, "vllm:request_success_total{engine=\"0\",model_name=\"m\","
                                   "finished_reason=\"length\"} 1\n"));
    assert_non_null(strstr(
        b.data,
        "vllm:request_success_total{engine=\"0\",model_name=\"m\",finished_reason=\"abort\"} 1\n"));
    /* 1-2-5 buckets up to max_model_len 1000 inclusive (vLLM build_1_2_5_buckets) */
    assert_non_null(strstr(
        b.data,
        "vllm:request_prompt_tokens_bucket{engine=\"0\",model_name=\"m\",le=\"500.0\"} 2\n"));
    assert_non_null(strstr(
        b.data, "vllm:request_prompt_tokens_bucket{engine=\"0\",model_name=\"m\",le=\"1000.0\"}"));
    assert_null(strstr(
        b.data, "vllm:request_prompt_tokens_bucket{engine=\"0\",model_name=\"m\",le=\"2000.0\"}"));
    assert_null(strstr(b.data, "lora_requests_info"));
    bx_buf_free(&b);
    eng_metrics_free(m);
}

static void test_lora_info_accumulates_or_latest(void **st)
{
    (void)st;
    for (int latest = 0; latest <= 1; latest++) {
        eng_metrics *m = eng_metrics_new("m", 100, latest);
        bx_buf b;
        bx_buf_init(&b);
        eng_metrics_state s1 = state("a", 10), s2 = state("a,b", 20);
        eng_metrics_render(m, &s1, &b);
        bx_buf_reset(&b);
        eng_metrics_render(m, &s2, &b);
        assert_int_equal(count(b.data, "vllm:lora_requests_info{"), latest ? 1 : 2);
        assert_non_null(
            strstr(b.data, "running_lora_adapters=\"a,b\",waiting_lora_adapters=\"\"} 20.0"));
        bx_buf_free(&b);
        eng_metrics_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_values),
        cmocka_unit_test(test_finish_reasons_and_tokens_buckets),
        cmocka_unit_test(test_lora_info_accumulates_or_latest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
