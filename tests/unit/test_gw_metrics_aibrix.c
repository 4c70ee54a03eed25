/* gw_metrics_aibrix: AIBrix's gateway series as its dashboards read them:
 * the bucket strings at their edges, the success/fail split with the status
 * sent, the in-flight gauges going back to 0, usage-only counters, and a
 * merge of two workers' sets adding up. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_buf.h"
#include "gateway/gw_metrics_aibrix.h"
#include "gateway/gw_scrape.h"

static void test_token_buckets(void **state)
{
    (void)state;
    assert_string_equal(gw_am_token_bucket(0), "0-256");
    assert_string_equal(gw_am_token_bucket(255), "0-256");
    assert_string_equal(gw_am_token_bucket(256), "256-512");
    assert_string_equal(gw_am_token_bucket(32767), "16384-32768");
    assert_string_equal(gw_am_token_bucket(32768), "32768+");
}

static void test_ms_buckets(void **state)
{
    (void)state;
    assert_string_equal(gw_am_ms_bucket(0), "0-1ms");
    assert_string_equal(gw_am_ms_bucket(0.0009), "0-1ms");
    assert_string_equal(gw_am_ms_bucket(0.001), "1-2ms");
    assert_string_equal(gw_am_ms_bucket(0.0049), "2-5ms");
    assert_string_equal(gw_am_ms_bucket(0.012), "10-20ms");
    assert_string_equal(gw_am_ms_bucket(4.999), "2000-5000ms");
    assert_string_equal(gw_am_ms_bucket(5.0), "5000ms+");
    assert_string_equal(gw_am_ms_bucket(-1), "0-1ms");
    assert_string_equal(gw_am_total_bucket(0.099), "0-100ms");
    assert_string_equal(gw_am_total_bucket(0.25), "250-500ms");
    assert_string_equal(gw_am_total_bucket(61), "60000ms+");
}

static char *render(gw_am *m)
{
    bx_buf b;
    bx_buf_init(&b);
    gw_am_engine e = {.pod = "10.0.0.1:8000",
                      .model = "m",
                      .running = 2,
                      .waiting = NAN,
                      .kv_usage = 0.5,
                      .gpu_cache_usage = 0.5,
                      .prompt_tps = 1,
                      .gen_tps = 3};
    assert_int_equal(gw_am_render(m, &e, 1, &b), 0);
    bx_buf_append(&b, "", 1);
    return b.data; /* owned by the caller */
}

static gw_am_req done(const char *model, int code, int success, int stream)
{
    return (gw_am_req){.model = model,
                       .pod = success ? "10.0.0.1:8000" : NULL,
                       .status = success ? "gateway_rsp_body_success" : "context_cancelled",
                       .status_code = code,
                       .success = success,
                       .stream = stream,
                       .prompt_tokens = success ? 300 : -1,
                       .completion_tokens = success ? 10 : -1,
                       .ttft_s = 0.012,
                       .e2e_s = 0.112,
                       .routing_s = success ? 0.0001 : -1};
}

static void test_series(void **state)
{
    (void)state;
    unsetenv("POD_NAME");
    gw_am *w1 = gw_am_new(), *w2 = gw_am_new(), *all = gw_am_new();
    assert_non_null(w1);
    gw_am_begin(w1);
    uint64_t k = gw_am_model_begin(w1, "m");
    char *t = render(w1);
    assert_non_null(strstr(t, "gateway_in_flight_requests 1.0\n"));
    assert_non_null(strstr(t, "gateway_model_in_flight_requests{model=\"m\"} 1.0\n"));
    free(t);
    gw_am_req r = done("m", 200, 1, 1);
    gw_am_end(w1, k, &r);
    gw_am_begin(w2);
    k = gw_am_model_begin(w2, "m");
    r = done("m", 499, 0, 0);
    gw_am_end(w2, k, &r);
    gw_am_begin(w2);
    r = done("-", 400, 0, 0);
    r.status = "gateway_req_body_fail";
    gw_am_end(w2, 0, &r);
    gw_am_begin(w2); /* an adapter, served by base model m */
    r = done("m", 200, 1, 0);
    r.lora_adapter = "sql-lora";
    gw_am_end(w2, 0, &r);
    gw_am_merge(all, w1);
    gw_am_merge(all, w2);
    t = render(all);
    const char *want[] = {
        "gateway_request_total 4.0\n",
        "gateway_request_model_success_total{model=\"m\",lora_adapter=\"sql-lora\",status=\""
        "gateway_rsp_body_success\",status_code=\"200\"} 1.0\n",
        "gateway_in_flight_requests 0.0\n",
        "gateway_model_in_flight_requests{model=\"m\"} 0.0\n",
        "gateway_request_model_success_total{model=\"m\",status=\"gateway_rsp_body_success\","
        "status_code=\"200\"} 1.0\n",
        "gateway_request_model_fail_total{model=\"m\",status=\"context_cancelled\","
        "status_code=\"499\"} 1.0\n",
        "gateway_request_model_fail_total{model=\"unknown\",status=\"gateway_req_body_fail\","
        "status_code=\"400\"} 1.0\n",
        "gateway_prompt_token_bucket_total{model=\"m\",pod=\"10.0.0.1:8000\",engine_type=\"vllm\","
        "bucket=\"256-512\"} 1.0\n",
        "gateway_completion_token_bucket_total{model=\"m\",pod=\"10.0.0.1:8000\",engine_type="
        "\"vllm\",bucket=\"0-256\"} 1.0\n",
        "gateway_input_tokens_total{model=\"m\",pod=\"10.0.0.1:8000\",engine_type=\"vllm\"} "
        "300.0\n",
        "gateway_requests_with_usage_total{model=\"m\",pod=\"10.0.0.1:8000\",engine_type=\"vllm\","
        "has_usage=\"true\"} 1.0\n",
        "gateway_ttft_bucket_total{model=\"m\",pod=\"10.0.0.1:8000\",engine_type=\"vllm\",bucket="
        "\"10-20ms\"} 1.0\n",
        /* (0.112 - 0.012) / 10 tokens = 10 ms */
        "gateway_tpot_bucket_total{model=\"m\",pod=\"10.0.0.1:8000\",engine_type=\"vllm\",bucket="
        "\"10-20ms\"} 1.0\n",
        "gateway_routing_time_bucket_total{model=\"m\",pod=\"10.0.0.1:8000\",engine_type=\"vllm\","
        "bucket=\"0-1ms\"} 1.0\n",
        "gateway_total_time_bucket_total{model=\"m\",pod=\"10.0.0.1:8000\",engine_type=\"vllm\","
        "bucket=\"100-250ms\"} 1.0\n",
        "num_requests_running{model=\"m\",pod=\"10.0.0.1:8000\",engine_type=\"vllm\"} 2.0\n",
        "avg_generation_throughput_toks_per_s{model=\"m\",pod=\"10.0.0.1:8000\",engine_type="
        "\"vllm\"} 3.0\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(t, want[i])) fail_msg("missing: %s\nin:\n%s", want[i], t);
    assert_null(strstr(t, "num_requests_waiting{")); /* NaN: not exported by that engine */
    free(t);
    gw_am_free(w1);
    gw_am_free(w2);
    gw_am_free(all);
}

static void test_pod_name_labels(void **state)
{
    (void)state;
    setenv("POD_NAME", "gw-0", 1);
    gw_am *m = gw_am_new();
    gw_am_begin(m);
    char *t = render(m);
    assert_non_null(strstr(t, "gateway_request_total{gateway_pod=\"gw-0\",pod_name=\"gw-0\"} 1.0"));
    assert_non_null(strstr(t, "gateway_in_flight_requests{gateway_pod=\"gw-0\"} 1.0"));
    free(t);
    gw_am_free(m);
    unsetenv("POD_NAME");
}

/* the re-exported NAME_p50/p90/p99: interpolated within the bucket, the
 * highest finite bound when the rank falls in +Inf, NaN when empty */
static void test_quantiles(void **state)
{
    (void)state;
    bx_prom_hist_view h = {.le = {0.1, 0.5, 1.0, INFINITY}, .cum = {0, 10, 20, 21}, .nbuckets = 4};
    assert_float_equal(gw_scrape_quantile(&h, 0.5), 0.5 + 0.5 * (10.5 - 10) / 10, 1e-9);
    assert_float_equal(gw_scrape_quantile(&h, 0.25), 0.1 + 0.4 * 5.25 / 10, 1e-9);
    assert_float_equal(gw_scrape_quantile(&h, 0.99), 1.0, 1e-9);
    bx_prom_hist_view z = {.le = {1, INFINITY}, .cum = {0, 0}, .nbuckets = 2};
    assert_true(isnan(gw_scrape_quantile(&z, 0.5)));
    assert_string_equal(gw_scrape_hq_name(0), "time_to_first_token_seconds");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_buckets), cmocka_unit_test(test_ms_buckets),
        cmocka_unit_test(test_series),        cmocka_unit_test(test_pod_name_labels),
        cmocka_unit_test(test_quantiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
