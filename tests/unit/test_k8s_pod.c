/* k8s_pod: the one rule for which pods are engines and where they listen,
 * shared by the gateway's discovery and the controller's orchestrator (they
 * disagreed before: the orchestrator took a bad port label for 8000 and
 * counted StormService group members). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "k8s/k8s_pod.h"

static k8s_pod_role role(const char *labels_json, const char **model, int *port)
{
    json_t *labels = json_loads(labels_json, 0, NULL);
    assert_non_null(labels);
    json_t *pod = json_pack("{s:{s:o}}", "metadata", "labels", labels);
    k8s_pod_role r = k8s_pod_engine_labels(pod, model, port);
    json_decref(pod);
    return r;
}

static void test_engine_labels(void **st)
{
    (void)st;
    const char *m = NULL;
    int port = 0;
    assert_int_equal(role("{\"model.aibrix.ai/name\":\"llama\"}", &m, &port), K8S_POD_ENGINE);
    assert_int_equal(port, 8000);
    assert_int_equal(
        role("{\"model.aibrix.ai/name\":\"llama\",\"model.aibrix.ai/port\":\"9000\"}", &m, &port),
        K8S_POD_ENGINE);
    assert_int_equal(port, 9000);
    assert_int_equal(role("{}", &m, &port), K8S_POD_NO_MODEL);
    assert_int_equal(role("{\"model.aibrix.ai/name\":\"\"}", &m, &port), K8S_POD_NO_MODEL);
    assert_int_equal(
        role("{\"model.aibrix.ai/name\":\"l\",\"ray.io/node-type\":\"worker\"}", &m, &port),
        K8S_POD_RAY_WORKER);
    assert_int_equal(
        role("{\"model.aibrix.ai/name\":\"l\",\"ray.io/node-type\":\"head\"}", &m, &port),
        K8S_POD_ENGINE);
    assert_int_equal(role("{\"model.aibrix.ai/name\":\"l\",\"stormservice.orchestration.aibrix.ai/"
                          "pod-group-index\":\"1\"}",
                          &m, &port),
                     K8S_POD_GROUP_MEMBER);
    assert_int_equal(role("{\"model.aibrix.ai/name\":\"l\",\"stormservice.orchestration.aibrix.ai/"
                          "pod-group-index\":\"0\"}",
                          &m, &port),
                     K8S_POD_ENGINE);
    const char *bad[] = {"0", "65536", "80x", "-1", "", " 80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char j[128];
        snprintf(j, sizeof(j), "{\"model.aibrix.ai/name\":\"l\",\"model.aibrix.ai/port\":\"%s\"}",
                 bad[i]);
        assert_int_equal(role(j, &m, &port), K8S_POD_BAD_PORT);
    }
}

static void test_ready(void **st)
{
    (void)st;
    json_t *p = json_loads("{\"status\":{\"conditions\":[{\"type\":\"PodScheduled\",\"status\":"
                           "\"True\"},{\"type\":\"Ready\",\"status\":\"True\"}]}}",
                           0, NULL);
    assert_true(k8s_pod_ready(p));
    json_decref(p);
    p = json_loads("{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}", 0,
                   NULL);
    assert_false(k8s_pod_ready(p));
    json_decref(p);
    p = json_loads("{\"status\":{}}", 0, NULL);
    assert_false(k8s_pod_ready(p));
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_labels),
        cmocka_unit_test(test_ready),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
