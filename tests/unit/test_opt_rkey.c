/* opt_rkey: AIBrix's optimizer keys in Redis (trace and profile), built and
 * parsed; model names with '_' (AIBrix splits a trace key on its last
 * "_request_trace_"), glob escaping of SCAN patterns. Also ctl_redis's
 * address parsing (--gpu-optimizer-redis, REDIS_HOST/REDIS_PORT). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/ctl_redis.h"
#include "opt/opt_rkey.h"

static int tparse(const char *key, char *model, size_t cap, int64_t *end)
{
    return opt_rkey_trace_parse(key, strlen(key), model, cap, end);
}

static void test_trace_keys(void **st)
{
    (void)st;
    char buf[OPT_RKEY_MAX], model[256];
    int64_t end = 0;
    assert_int_equal(opt_rkey_trace(buf, sizeof(buf), "llama-3", 1765000010), 39);
    assert_string_equal(buf, "aibrix:llama-3_request_trace_1765000010");
    assert_int_equal(tparse(buf, model, sizeof(model), &end), 0);
    assert_string_equal(model, "llama-3");
    assert_int_equal(end, 1765000010);
    /* '_' in the model; the separator itself in the model: the last one splits */
    assert_int_equal(tparse("aibrix:my_model_request_trace_20", model, sizeof(model), &end), 0);
    assert_string_equal(model, "my_model");
    assert_int_equal(end, 20);
    assert_int_equal(
        tparse("aibrix:a_request_trace_5_request_trace_100", model, sizeof(model), &end), 0);
    assert_string_equal(model, "a_request_trace_5");
    assert_int_equal(end, 100);
    /* '/' and ':' in a model (org/name, as requests name them) */
    assert_int_equal(tparse("aibrix:org/m:v1_request_trace_0", model, sizeof(model), &end), 0);
    assert_string_equal(model, "org/m:v1");
    assert_int_equal(end, 0);
    /* refused */
    const char *bad[] = {"",
                         "aibrix:",
                         "aibrix:_request_trace_10",              /* no model */
                         "aibrix:m_request_trace_",               /* no suffix */
                         "aibrix:m_request_trace_12a",            /* not digits */
                         "aibrix:m_request_trace_-10",            /* negative */
                         "aibrix:m_request_trace_ 10",            /* a space */
                         "aibrix:m_request_trace_99999999999999", /* 14 digits */
                         "aibrix:m_request_trace_1000000000001",  /* > 10^12 */
                         "brix:m_request_trace_10",
                         "aibrix:m_request_tracer_10",
                         "aibrix:profile_m_dep"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(tparse(bad[i], model, sizeof(model), &end), -1);
    /* bytes after a NUL, a model that does not fit */
    assert_int_equal(
        opt_rkey_trace_parse("aibrix:m\0x_request_trace_10", 27, model, sizeof(model), &end), -1);
    assert_int_equal(tparse("aibrix:abcdef_request_trace_10", model, 6, &end), -1);
    assert_int_equal(tparse("aibrix:abcde_request_trace_10", model, 6, &end), 0);
    /* building: no model, negative end, too small */
    assert_int_equal(opt_rkey_trace(buf, sizeof(buf), "", 10), -1);
    assert_int_equal(opt_rkey_trace(buf, sizeof(buf), "m", -10), -1);
    assert_int_equal(opt_rkey_trace(buf, 10, "m", 10), -1);
}

static void test_patterns(void **st)
{
    (void)st;
    char buf[OPT_RKEY_MAX];
    assert_true(opt_rkey_trace_match(buf, sizeof(buf), "m") > 0);
    assert_string_equal(buf, "aibrix:m_request_trace_*");
    assert_true(opt_rkey_trace_match(buf, sizeof(buf), "a*b?[c]\\d") > 0);
    assert_string_equal(buf, "aibrix:a\\*b\\?\\[c\\]\\\\d_request_trace_*");
    assert_true(opt_rkey_profile_match(buf, sizeof(buf), "my_m*") > 0);
    assert_string_equal(buf, "aibrix:profile_my_m\\*_*");
    assert_int_equal(opt_rkey_profile_match(buf, sizeof(buf), ""), -1);
    assert_int_equal(opt_rkey_trace_match(buf, 20, "model"), -1);
    assert_int_equal(opt_rkey_profile_match(buf, 18, "m"), -1);
    assert_int_equal(opt_rkey_profile_match(buf, 19, "m"), 18);
}

static void test_profile_keys(void **st)
{
    (void)st;
    char buf[OPT_RKEY_MAX], model[256], dep[256];
    assert_true(opt_rkey_profile(buf, sizeof(buf), "llama-3", "llama-3-a100") > 0);
    assert_string_equal(buf, "aibrix:profile_llama-3_llama-3-a100");
#define PP(k) opt_rkey_profile_parse(k, strlen(k), model, sizeof(model), dep, sizeof(dep))
    assert_int_equal(PP(buf), 0);
    assert_string_equal(model, "llama-3");
    assert_string_equal(dep, "llama-3-a100");
    /* a model with '_': the Deployment (DNS-1123) has none, so the last '_' splits */
    assert_int_equal(PP("aibrix:profile_my_model_v2_m-l4"), 0);
    assert_string_equal(model, "my_model_v2");
    assert_string_equal(dep, "m-l4");
    /* AIBrix's ns/name form */
    assert_int_equal(PP("aibrix:profile_llamatest-hg_kf-mlops-dev/llamatest-l4"), 0);
    assert_string_equal(model, "llamatest-hg");
    assert_string_equal(dep, "kf-mlops-dev/llamatest-l4");
    assert_int_equal(PP("aibrix:profile_m_"), -1);
    assert_int_equal(PP("aibrix:profile__dep"), -1);
    assert_int_equal(PP("aibrix:profile_mdep"), -1);
    assert_int_equal(PP("aibrix:m_request_trace_10"), -1);
    assert_int_equal(PP("aibrix:profile_"), -1);
    assert_int_equal(opt_rkey_profile_parse("aibrix:profile_m_dep", 20, model, 2, dep, sizeof(dep)),
                     0);
    assert_int_equal(
        opt_rkey_profile_parse("aibrix:profile_mm_dep", 21, model, 2, dep, sizeof(dep)), -1);
#undef PP
    assert_int_equal(opt_rkey_profile(buf, sizeof(buf), "m", ""), -1);
}

static void test_addr(void **st)
{
    (void)st;
    char host[64];
    int port = 0;
    assert_int_equal(ctl_redis_parse_addr("127.0.0.1:6380", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6380);
    assert_int_equal(ctl_redis_parse_addr("redis.aibrix-system", host, sizeof(host), &port), 0);
    assert_string_equal(host, "redis.aibrix-system");
    assert_int_equal(port, 6379);
    assert_int_equal(ctl_redis_parse_addr("[::1]:7000", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 7000);
    assert_int_equal(ctl_redis_parse_addr("::1", host, sizeof(host), &port), -1);
    assert_int_equal(ctl_redis_parse_addr("h:0", host, sizeof(host), &port), -1);
    assert_int_equal(ctl_redis_parse_addr("h:65536", host, sizeof(host), &port), -1);
    assert_int_equal(ctl_redis_parse_addr("h:x", host, sizeof(host), &port), -1);
    assert_int_equal(ctl_redis_parse_addr(":6379", host, sizeof(host), &port), -1);
    assert_int_equal(ctl_redis_parse_addr("", host, sizeof(host), &port), -1);

    unsetenv("REDIS_HOST");
    unsetenv("REDIS_PORT");
    assert_int_equal(ctl_redis_env_addr(host, sizeof(host), &port), -1);
    setenv("REDIS_HOST", "aibrix-redis-master.aibrix-system.svc.cluster.local", 1);
    assert_int_equal(ctl_redis_env_addr(host, sizeof(host), &port), 0);
    assert_int_equal(port, 6379);
    setenv("REDIS_PORT", "6380", 1);
    assert_int_equal(ctl_redis_env_addr(host, sizeof(host), &port), 0);
    assert_int_equal(port, 6380);
    setenv("REDIS_PORT", "tcp://10.0.0.7:6381", 1); /* Kubernetes' service link variable */
    assert_int_equal(ctl_redis_env_addr(host, sizeof(host), &port), 0);
    assert_int_equal(port, 6381);
    setenv("REDIS_PORT", "nope", 1);
    assert_int_equal(ctl_redis_env_addr(host, sizeof(host), &port), -1);
    unsetenv("REDIS_HOST");
    unsetenv("REDIS_PORT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_keys),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_profile_keys),
        cmocka_unit_test(test_addr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
