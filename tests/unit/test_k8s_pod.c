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

static const char *FULL_POD =
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"llama-6d-x\","
    "\"namespace\":\"ml\",\"uid\":\"u1\",\"resourceVersion\":\"42\","
    "\"deletionTimestamp\":\"2026-12-07T00:00:00Z\",\"labels\":{\"model.aibrix.ai/name\":"
    "\"llama\",\"model.aibrix.ai/port\":\"9000\",\"pod-template-hash\":\"6d\",\"team\":"
    "\"a\"},\"annotations\":{\"big\":\"x\"},\"ownerReferences\":[{\"apiVersion\":"
    "\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"llama-6d\",\"uid\":\"u2\","
    "\"controller\":true}]},\"spec\":{\"containers\":[{\"name\":\"vllm\"}]},"
    "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.7\",\"conditions\":[{\"type\":"
    "\"PodScheduled\",\"status\":\"True\"},{\"type\":\"Ready\",\"status\":\"True\","
    "\"lastTransitionTime\":\"2026-12-06T10:00:00Z\"}],\"containerStatuses\":[{\"name\":"
    "\"vllm\",\"restartCount\":3,\"image\":\"i\"}]}}";

/* The gateway's cut (keep 0): the engine rule's labels and readiness, no
 * spec, owners or details; the rule reads the cut as it reads the pod. */
static void test_slim_gateway(void **st)
{
    (void)st;
    json_t *pod = json_loads(FULL_POD, 0, NULL);
    assert_non_null(pod);
    json_t *sl = k8s_pod_slim(pod, 0);
    assert_non_null(sl);
    json_t *want = json_loads(
        "{\"metadata\":{\"name\":\"llama-6d-x\",\"namespace\":\"ml\",\"resourceVersion\":"
        "\"42\",\"deletionTimestamp\":\"2026-12-07T00:00:00Z\",\"labels\":{"
        "\"model.aibrix.ai/name\":\"llama\",\"model.aibrix.ai/port\":\"9000\"}},\"status\":{"
        "\"podIP\":\"10.0.0.7\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
        0, NULL);
    assert_non_null(want);
    assert_true(json_equal(sl, want));
    const char *m1, *m2;
    int p1, p2;
    assert_int_equal(k8s_pod_engine_labels(sl, &m1, &p1), k8s_pod_engine_labels(pod, &m2, &p2));
    assert_int_equal(p1, p2);
    assert_int_equal(k8s_pod_ready(sl), k8s_pod_ready(pod));
    json_decref(want);
    json_decref(sl);
    json_decref(pod);
}

/* The controller's cut: every label, the owners' kind, name and controller,
 * the Ready condition's time and the restart count. */
static void test_slim_controller(void **st)
{
    (void)st;
    json_t *pod = json_loads(FULL_POD, 0, NULL);
    json_t *sl =
        k8s_pod_slim(pod, K8S_POD_SLIM_ALL_LABELS | K8S_POD_SLIM_OWNERS | K8S_POD_SLIM_DETAIL);
    assert_non_null(sl);
    json_t *md = json_object_get(sl, "metadata");
    assert_int_equal(json_object_size(json_object_get(md, "labels")), 4);
    assert_null(json_object_get(md, "annotations"));
    assert_null(json_object_get(md, "uid"));
    assert_null(json_object_get(sl, "spec"));
    json_t *want = json_loads(
        "[{\"kind\":\"ReplicaSet\",\"name\":\"llama-6d\",\"controller\":true}]", 0, NULL);
    assert_true(json_equal(json_object_get(md, "ownerReferences"), want));
    json_decref(want);
    json_t *stt = json_object_get(sl, "status");
    want = json_loads("{\"podIP\":\"10.0.0.7\",\"conditions\":[{\"type\":\"Ready\","
                      "\"status\":\"True\",\"lastTransitionTime\":\"2026-12-06T10:00:00Z\"}],"
                      "\"containerStatuses\":[{\"restartCount\":3}]}",
                      0, NULL);
    assert_true(json_equal(stt, want));
    json_decref(want);
    json_decref(sl);
    /* a pod without labels, status or owners: only its names */
    json_decref(pod);
    pod = json_loads("{\"metadata\":{\"name\":\"p\"}}", 0, NULL);
    sl = k8s_pod_slim(pod, K8S_POD_SLIM_ALL_LABELS | K8S_POD_SLIM_OWNERS | K8S_POD_SLIM_DETAIL);
    want = json_loads("{\"metadata\":{\"name\":\"p\"}}", 0, NULL);
    assert_true(json_equal(sl, want));
    json_decref(want);
    json_decref(sl);
    json_decref(pod);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_labels),
        cmocka_unit_test(test_ready),
        cmocka_unit_test(test_slim_gateway),
        cmocka_unit_test(test_slim_controller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
