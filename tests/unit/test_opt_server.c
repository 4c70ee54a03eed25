/* opt_server: the optimizer service's routes, metric text, /brix/load
 * envelope, scale body and profile matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "opt/opt_server.h"

static void test_routes(void **st)
{
    (void)st;
    opt_server_route r;
    assert_int_equal(opt_server_route_parse("GET", "/healthz", &r), OPT_SERVER_HEALTH);
    assert_int_equal(opt_server_route_parse("GET", "/status", &r), OPT_SERVER_STATUS);
    assert_int_equal(opt_server_route_parse("GET", "/metrics/default/llama-a100", &r),
                     OPT_SERVER_METRICS);
    assert_string_equal(r.ns, "default");
    assert_string_equal(r.name, "llama-a100");
    assert_int_equal(opt_server_route_parse("POST", "/metrics/default/x", &r),
                     OPT_SERVER_BAD_METHOD);
    assert_string_equal(r.allow, "GET");
    /* a name that is no DNS-1123 subdomain, a third segment, no name */
    assert_int_equal(opt_server_route_parse("GET", "/metrics/default/X", &r), OPT_SERVER_NOT_FOUND);
    assert_int_equal(opt_server_route_parse("GET", "/metrics/a/b/c", &r), OPT_SERVER_NOT_FOUND);
    assert_int_equal(opt_server_route_parse("GET", "/metrics/default/", &r), OPT_SERVER_NOT_FOUND);
    assert_int_equal(opt_server_route_parse("GET", "/metrics/-a/b", &r), OPT_SERVER_NOT_FOUND);
    assert_int_equal(opt_server_route_parse("GET", "/assignment/meta-llama/Llama-3-8B", &r),
                     OPT_SERVER_ASSIGNMENT);
    assert_string_equal(r.model, "meta-llama/Llama-3-8B");
    assert_int_equal(opt_server_route_parse("GET", "/assignment/", &r), OPT_SERVER_NOT_FOUND);
    assert_int_equal(opt_server_route_parse("GET", "/update_profile/m", &r),
                     OPT_SERVER_UPDATE_PROFILE);
    assert_int_equal(opt_server_route_parse("PUT", "/scale/ns1/d.x", &r), OPT_SERVER_SCALE);
    assert_int_equal(r.has_replicas, 0);
    assert_string_equal(r.name, "d.x");
    assert_int_equal(opt_server_route_parse("POST", "/scale/ns1/d/3", &r), OPT_SERVER_SCALE);
    assert_int_equal(r.has_replicas, 1);
    assert_int_equal(r.replicas, 3);
    assert_string_equal(r.ns, "ns1");
    assert_string_equal(r.name, "d");
    assert_int_equal(opt_server_route_parse("POST", "/scale/ns1/d/-1", &r), OPT_SERVER_SCALE);
    assert_int_equal(r.replicas, -1);
    assert_int_equal(opt_server_route_parse("POST", "/scale/ns1/d/x", &r), OPT_SERVER_NOT_FOUND);
    assert_int_equal(opt_server_route_parse("POST", "/scale/ns1/d/-2", &r), OPT_SERVER_NOT_FOUND);
    assert_int_equal(opt_server_route_parse("GET", "/scale/ns1/d", &r), OPT_SERVER_BAD_METHOD);
    assert_int_equal(opt_server_route_parse("POST", "/monitor/a/b", &r), OPT_SERVER_MONITOR_ADD);
    assert_int_equal(opt_server_route_parse("DELETE", "/monitor/a/b", &r), OPT_SERVER_MONITOR_DEL);
    assert_int_equal(opt_server_route_parse("GET", "/monitor/a/b", &r), OPT_SERVER_BAD_METHOD);
    assert_int_equal(opt_server_route_parse("GET", "/", &r), OPT_SERVER_NOT_FOUND);
    assert_int_equal(opt_server_route_parse("GET", "/metrics", &r), OPT_SERVER_NOT_FOUND);
    assert_true(opt_server_route_public(OPT_SERVER_HEALTH));
    assert_true(opt_server_route_public(OPT_SERVER_METRICS));
    assert_false(opt_server_route_public(OPT_SERVER_STATUS));
    assert_false(opt_server_route_public(OPT_SERVER_SCALE));
    assert_true(opt_server_route_public(OPT_SERVER_ASSIGNMENT));
    assert_false(opt_server_route_public(OPT_SERVER_UPDATE_PROFILE));
    assert_false(opt_server_route_public(OPT_SERVER_MONITOR_ADD));
}

static void test_metric_text(void **st)
{
    (void)st;
    char buf[512];
    assert_true(opt_server_metric_text("llama", 230, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "# HELP vllm:deployment_replicas Number of suggested replicas.\n"
                             "# TYPE vllm:deployment_replicas gauge\n"
                             "vllm:deployment_replicas{model_name=\"llama\"} 230\n");
    assert_true(opt_server_metric_text("a\"b\\c", 0, buf, sizeof(buf)) > 0);
    assert_non_null(strstr(buf, "{model_name=\"a\\\"b\\\\c\"} 0\n"));
    assert_int_equal(opt_server_metric_text("llama", 1, buf, 20), -1);
}

static opt_trace w[4];

static void test_load_parse(void **st)
{
    (void)st;
    const char *ok = "{\"model\":\"m\",\"windows\":[{\"ts\":1700000000,\"trace\":{\"70:70\":3,"
                     "\"meta_v\":4,\"meta_total_reqs\":4}},{\"ts\":1700000010,\"trace\":{}}]}";
    int n = -1;
    char err[256];
    assert_int_equal(opt_server_load_parse(ok, strlen(ok), "m", w, 4, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_int_equal(w[0].ts, 1700000000);
    assert_int_equal(w[0].ncells, 1);
    assert_int_equal(opt_trace_count(&w[0]), 3);
    assert_int_equal(w[0].total_reqs, 4);
    assert_int_equal(w[1].ts, 1700000010);
    assert_int_equal(opt_trace_count(&w[1]), 0);
    /* another model, too many windows, bad ts, repeated ts, bad trace */
    assert_int_equal(opt_server_load_parse(ok, strlen(ok), "x", w, 4, &n, err, sizeof(err)), -1);
    assert_int_equal(opt_server_load_parse(ok, strlen(ok), "m", w, 1, &n, err, sizeof(err)), -1);
    assert_int_equal(n, 0);
    const char *bad[] = {
        "[]",
        "{\"model\":\"m\"}",
        "{\"model\":\"m\",\"windows\":[{\"ts\":1700000001,\"trace\":{}}]}",
        "{\"model\":\"m\",\"windows\":[{\"ts\":-10,\"trace\":{}}]}",
        "{\"model\":\"m\",\"windows\":[{\"ts\":10,\"trace\":{}},{\"ts\":10,\"trace\":{}}]}",
        "{\"model\":\"m\",\"windows\":[{\"ts\":10,\"trace\":{\"a:b\":1}}]}",
        "{\"model\":\"m\",\"windows\":[{\"ts\":10,\"trace\":[]}]}",
        "{\"model\":\"m\",\"model\":\"m\",\"windows\":[]}",
        "{\"model\":\"m\",\"windows\":[",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(
            opt_server_load_parse(bad[i], strlen(bad[i]), NULL, w, 4, &n, err, sizeof(err)), -1);
    const char *empty = "{\"model\":\"m\",\"windows\":[]}";
    assert_int_equal(opt_server_load_parse(empty, strlen(empty), NULL, w, 4, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 0);
}

static void test_scale_body(void **st)
{
    (void)st;
    int64_t v = 0;
    char err[128];
    assert_int_equal(opt_server_scale_body("{\"replicas\":3}", 14, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 3);
    assert_int_equal(opt_server_scale_body("{\"replicas\":-1}", 15, &v, err, sizeof(err)), 0);
    assert_int_equal(v, -1);
    assert_int_equal(opt_server_scale_body("{\"replicas\":-2}", 15, &v, err, sizeof(err)), -1);
    assert_int_equal(opt_server_scale_body("{\"replicas\":\"3\"}", 16, &v, err, sizeof(err)), -1);
    assert_int_equal(opt_server_scale_body("{}", 2, &v, err, sizeof(err)), -1);
    assert_int_equal(opt_server_scale_body("nope", 4, &v, err, sizeof(err)), -1);
}

static void test_profile_matches(void **st)
{
    (void)st;
    assert_true(opt_server_profile_matches("llama-a100", "default", "llama-a100"));
    assert_true(opt_server_profile_matches("team/llama-a100", "team", "llama-a100"));
    assert_false(opt_server_profile_matches("other/llama-a100", "team", "llama-a100"));
    assert_false(opt_server_profile_matches("llama-a10", "default", "llama-a100"));
    assert_false(opt_server_profile_matches("team/", "team", ""));
    assert_false(opt_server_profile_matches("/llama", "", "llama"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),          cmocka_unit_test(test_metric_text),
        cmocka_unit_test(test_load_parse),      cmocka_unit_test(test_scale_body),
        cmocka_unit_test(test_profile_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
