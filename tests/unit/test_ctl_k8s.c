/* The pure mappings of Kubernetes mode's backends: a custom resource to the
 * manifest controllers parse, the watch filter (generation, deletion), the
 * status written (AIBrix's schema, observedGeneration in conditions), the
 * finalizer test, timestamps (ctl_objstore_k8s.h), and a Pod to its
 * Deployment and readiness (ctl_orch_k8s.h). The stores' I/O is covered by
 * tests/e2e/test_k8s_controller.sh against the fake API server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/ctl_objstore_k8s.h"
#include "ctl/ctl_orch_k8s.h"

static json_t *J(const char *s)
{
    json_error_t e;
    json_t *v = json_loads(s, 0, &e);
    assert_non_null(v);
    return v;
}

static const char *CR =
    "{\"apiVersion\":\"model.aibrix.ai/v1alpha1\",\"kind\":\"ModelAdapter\","
    "\"metadata\":{\"name\":\"sql-lora\",\"namespace\":\"team-a\",\"uid\":\"u1\","
    "\"resourceVersion\":\"42\",\"generation\":3,\"creationTimestamp\":\"2026-01-02T03:04:05Z\","
    "\"finalizers\":[\"x/y\",\"adapter.model.aibrix.ai/finalizer\"],"
    "\"labels\":{\"a\":\"b\"},\"annotations\":{\"k\":\"v\"},\"managedFields\":[{}]},"
    "\"spec\":{\"baseModel\":\"llama\",\"podSelector\":{\"matchLabels\":{\"model.aibrix.ai/name\":"
    "\"llama\"}},\"artifactURL\":\"huggingface://org/sql\"},"
    "\"status\":{\"phase\":\"Running\"}}";

static void test_manifest(void **state)
{
    (void)state;
    json_t *cr = J(CR);
    json_t *m = ctl_objstore_k8s_manifest(cr);
    assert_non_null(m);
    assert_null(json_object_get(m, "status"));
    json_t *md = json_object_get(m, "metadata");
    assert_int_equal(json_object_size(md), 4); /* name, namespace, labels, annotations */
    assert_string_equal(json_string_value(json_object_get(md, "namespace")), "team-a");
    assert_true(json_equal(json_object_get(m, "spec"), json_object_get(cr, "spec")));
    /* the manifest parses as a ctl_obj */
    ctl_obj *o = NULL;
    char err[256];
    assert_int_equal(ctl_obj_parse(m, &o, err, sizeof(err)), 0);
    assert_string_equal(o->name, "sql-lora");
    ctl_obj_free(o);
    /* the input is not changed */
    assert_non_null(json_object_get(cr, "status"));
    json_decref(m);
    json_decref(cr);
}

static void test_finalizer_and_time(void **state)
{
    (void)state;
    json_t *cr = J(CR);
    assert_true(ctl_objstore_k8s_has_finalizer(cr, CTL_K8S_ADAPTER_FINALIZER));
    assert_false(ctl_objstore_k8s_has_finalizer(cr, "other"));
    json_t *bare = J("{\"metadata\":{\"name\":\"a\"}}");
    assert_false(ctl_objstore_k8s_has_finalizer(bare, CTL_K8S_ADAPTER_FINALIZER));
    assert_int_equal(ctl_objstore_k8s_time_ms("2026-01-02T03:04:05Z"), 1767323045000LL);
    assert_int_equal(ctl_objstore_k8s_time_ms("1970-01-01T00:00:01.5Z"), 1500); /* ms kept */
    assert_int_equal(ctl_objstore_k8s_time_ms("yesterday"), 0);
    assert_int_equal(ctl_objstore_k8s_time_ms(NULL), 0);
    json_decref(bare);
    json_decref(cr);
}

static void test_change(void **state)
{
    (void)state;
    json_t *g1 = J("{\"metadata\":{\"name\":\"a\",\"generation\":1,\"resourceVersion\":\"5\"}}");
    json_t *g1s = J("{\"metadata\":{\"name\":\"a\",\"generation\":1,\"resourceVersion\":\"6\"},"
                    "\"status\":{\"phase\":\"Running\"}}");
    json_t *g2 = J("{\"metadata\":{\"name\":\"a\",\"generation\":2,\"resourceVersion\":\"7\"}}");
    json_t *del = J("{\"metadata\":{\"name\":\"a\",\"generation\":2,\"resourceVersion\":\"8\","
                    "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"}}");
    assert_int_equal(ctl_objstore_k8s_change(NULL, g1), CTL_WATCH_PUT + 1);
    assert_int_equal(ctl_objstore_k8s_change(g1, g1s), 0); /* status only: nobody wakes */
    assert_int_equal(ctl_objstore_k8s_change(g1s, g2), CTL_WATCH_PUT + 1);
    assert_int_equal(ctl_objstore_k8s_change(g2, del), CTL_WATCH_DELETE + 1);
    assert_int_equal(ctl_objstore_k8s_change(del, del), 0); /* told once */
    assert_int_equal(ctl_objstore_k8s_change(NULL, del), CTL_WATCH_DELETE + 1);
    json_decref(g1);
    json_decref(g1s);
    json_decref(g2);
    json_decref(del);
}

static void test_status_mapping(void **state)
{
    (void)state;
    json_t *st = J("{\"phase\":\"Running\",\"instances\":[\"p1\"],\"observedGeneration\":4,"
                   "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},"
                   "{\"type\":\"Scheduled\",\"status\":\"True\",\"observedGeneration\":2}],"
                   "\"brixOnly\":1}");
    json_t *out = ctl_objstore_k8s_status(CTL_KIND_MODEL_ADAPTER, st, 9);
    assert_non_null(out);
    assert_null(json_object_get(out, "brixOnly"));
    assert_null(json_object_get(out, "observedGeneration")); /* not in AIBrix's schema */
    json_t *c = json_object_get(out, "conditions");
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(c, 0), "observedGeneration")), 4);
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(c, 1), "observedGeneration")), 2);
    assert_string_equal(json_string_value(json_object_get(out, "phase")), "Running");
    /* the input is not changed */
    assert_null(json_object_get(json_array_get(json_object_get(st, "conditions"), 0),
                                "observedGeneration"));
    json_decref(out);
    /* without observedGeneration: the object's generation */
    json_t *pa = J("{\"desiredScale\":3,\"actualScale\":2,\"metricDetails\":[],"
                   "\"conditions\":[{\"type\":\"AbleToScale\",\"status\":\"True\"}]}");
    out = ctl_objstore_k8s_status(CTL_KIND_POD_AUTOSCALER, pa, 7);
    assert_int_equal(json_object_size(out), 3);
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(json_object_get(out, "conditions"), 0),
                                           "observedGeneration")),
        7);
    json_decref(out);
    json_decref(pa);
    json_decref(st);
}

static void test_keep_transitions(void **state)
{
    (void)state;
    json_t *cur = J("{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
                    "\"lastTransitionTime\":\"T1\"},{\"type\":\"Scheduled\",\"status\":\"True\","
                    "\"lastTransitionTime\":\"T2\"}]}");
    json_t *st = J("{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
                   "\"lastTransitionTime\":\"T9\"},{\"type\":\"Scheduled\",\"status\":\"False\","
                   "\"lastTransitionTime\":\"T9\"},{\"type\":\"New\",\"status\":\"True\","
                   "\"lastTransitionTime\":\"T9\"}]}");
    ctl_objstore_k8s_keep_transitions(st, cur);
    json_t *c = json_object_get(st, "conditions");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(c, 0), "lastTransitionTime")), "T1");
    assert_string_equal(/* its status changed: the new time stays */
                        json_string_value(
                            json_object_get(json_array_get(c, 1), "lastTransitionTime")),
                        "T9");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(c, 2), "lastTransitionTime")), "T9");
    ctl_objstore_k8s_keep_transitions(st, NULL); /* nothing on the server: unchanged */
    json_decref(st);
    json_decref(cur);
}

static void test_pod_mapping(void **state)
{
    (void)state;
    char dep[64];
    json_t *p = J("{\"metadata\":{\"name\":\"llama-5d9f-abcde\",\"labels\":{\"pod-template-hash\":"
                  "\"5d9f\",\"model.aibrix.ai/name\":\"llama\"},\"ownerReferences\":[{\"kind\":"
                  "\"ReplicaSet\",\"name\":\"llama-5d9f\",\"controller\":true}]},"
                  "\"status\":{\"podIP\":\"10.0.0.1\",\"conditions\":[{\"type\":\"PodScheduled\","
                  "\"status\":\"True\"},{\"type\":\"Ready\",\"status\":\"True\"}]}}");
    assert_int_equal(ctl_orch_k8s_pod_deployment(p, dep, sizeof(dep)), 0);
    assert_string_equal(dep, "llama");
    assert_true(k8s_pod_ready(p));
    assert_int_equal(ctl_orch_k8s_pod_deployment(p, dep, 3), -1); /* does not fit */
    json_decref(p);
    /* a ReplicaSet of no Deployment; a StatefulSet; nothing but the model */
    p = J("{\"metadata\":{\"name\":\"x\",\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":"
          "\"rs1\"}]},\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}");
    assert_int_equal(ctl_orch_k8s_pod_deployment(p, dep, sizeof(dep)), 0);
    assert_string_equal(dep, "rs1");
    assert_false(k8s_pod_ready(p));
    json_decref(p);
    p = J("{\"metadata\":{\"name\":\"x\",\"ownerReferences\":[{\"kind\":\"StatefulSet\",\"name\":"
          "\"ss\",\"controller\":true}]}}");
    assert_int_equal(ctl_orch_k8s_pod_deployment(p, dep, sizeof(dep)), 0);
    assert_string_equal(dep, "ss");
    assert_false(k8s_pod_ready(p));
    json_decref(p);
    p = J("{\"metadata\":{\"name\":\"x\",\"labels\":{\"model.aibrix.ai/name\":\"m\"}}}");
    assert_int_equal(ctl_orch_k8s_pod_deployment(p, dep, sizeof(dep)), 0);
    assert_string_equal(dep, "m");
    json_decref(p);
    p = J("{\"metadata\":{\"name\":\"x\"}}");
    assert_int_equal(ctl_orch_k8s_pod_deployment(p, dep, sizeof(dep)), -1);
    json_decref(p);
}

static const json_t *lookup_fleet(const char *kind, const char *name, void *ud)
{
    (void)ud;
    static json_t *f;
    if (!f) f = J("{\"metadata\":{\"name\":\"big\",\"uid\":\"u-1\"}}");
    return !strcmp(kind, "RayClusterFleet") && !strcmp(name, "big") ? f : NULL;
}

static void test_orch_helpers(void **state)
{
    (void)state;
    /* subset: the server's defaults are extra fields, in objects and in array items */
    json_t *a = J("{\"replicas\":2,\"w\":[{\"groupName\":\"g\"}]}");
    json_t *b = J("{\"replicas\":2,\"w\":[{\"groupName\":\"g\",\"numOfHosts\":1}],\"x\":0}");
    assert_true(ctl_objstore_k8s_subset(a, b));
    assert_false(ctl_objstore_k8s_subset(b, a));
    json_t *c = J("{\"replicas\":3,\"w\":[{\"groupName\":\"g\"}]}");
    assert_false(ctl_objstore_k8s_subset(c, b));
    json_t *d = J("{\"replicas\":2,\"w\":[{\"groupName\":\"g\"},{\"groupName\":\"h\"}]}");
    assert_false(ctl_objstore_k8s_subset(d, b));
    /* apply: labels/annotations/ownerReferences as wanted, spec only when not a subset */
    json_t *obj = J("{\"metadata\":{\"name\":\"rs\",\"resourceVersion\":\"7\",\"labels\":{\"a\":"
                    "\"1\"},\"annotations\":{\"k\":\"v\"}},\"spec\":{\"replicas\":2,\"w\":[{"
                    "\"groupName\":\"g\",\"numOfHosts\":1}],\"x\":0},\"status\":{\"r\":1}}");
    json_t *want = J("{\"metadata\":{\"name\":\"rs\",\"labels\":{\"a\":\"1\"},\"annotations\":{"
                     "\"k\":\"v\"}},\"spec\":{\"replicas\":2,\"w\":[{\"groupName\":\"g\"}]}}");
    assert_int_equal(ctl_objstore_k8s_apply(obj, want), 1); /* nothing to write */
    json_object_set_new(json_object_get(want, "spec"), "replicas", json_integer(3));
    json_object_del(json_object_get(want, "metadata"), "annotations");
    assert_int_equal(ctl_objstore_k8s_apply(obj, want), 0);
    assert_true(json_equal(json_object_get(obj, "spec"), json_object_get(want, "spec")));
    assert_null(json_object_get(json_object_get(obj, "metadata"), "annotations"));
    assert_string_equal(k8s_meta(obj, "resourceVersion"), "7"); /* kept for the PUT */
    assert_non_null(json_object_get(obj, "status"));
    /* owners: uid from the cache; a foreign owner keeps its uid; an unknown one fails */
    json_t *m =
        J("{\"metadata\":{\"ownerReferences\":[{\"kind\":\"RayClusterFleet\",\"name\":"
          "\"big\",\"uid\":\"stale\"},{\"kind\":\"Thing\",\"name\":\"t\",\"uid\":\"u-9\"}]}}");
    char err[256];
    assert_int_equal(ctl_objstore_k8s_fill_owners(m, lookup_fleet, NULL, err, sizeof(err)), 0);
    json_t *refs = json_object_get(json_object_get(m, "metadata"), "ownerReferences");
    assert_string_equal(json_string_value(json_object_get(json_array_get(refs, 0), "uid")), "u-1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(refs, 1), "uid")), "u-9");
    json_t *bad = J("{\"metadata\":{\"ownerReferences\":[{\"kind\":\"RayClusterFleet\",\"name\":"
                    "\"gone\"}]}}");
    assert_int_equal(ctl_objstore_k8s_fill_owners(bad, lookup_fleet, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "gone"));
    /* status: the CRDs' fields; conditions without observedGeneration; RayCluster whole */
    json_t *st = J("{\"replicas\":1,\"readyReplicas\":1,\"bogus\":1,\"conditions\":[{\"type\":"
                   "\"ReplicaFailure\",\"status\":\"False\",\"lastUpdateTime\":\"t\",\"x\":1}]}");
    json_t *out = ctl_objstore_k8s_status(CTL_KIND_RAYCLUSTER_REPLICASET, st, 4);
    assert_null(json_object_get(out, "bogus"));
    json_t *c0 = json_array_get(json_object_get(out, "conditions"), 0);
    assert_int_equal(json_object_size(c0), 2); /* type, status */
    json_decref(out);
    out = ctl_objstore_k8s_status(CTL_KIND_RAYCLUSTER_FLEET, st, 4);
    c0 = json_array_get(json_object_get(out, "conditions"), 0);
    assert_int_equal(json_object_size(c0), 3); /* + lastUpdateTime */
    json_decref(out);
    out = ctl_objstore_k8s_status(CTL_KIND_RAYCLUSTER, st, 4);
    assert_true(json_equal(out, st));
    json_decref(out);
    json_t *f = (json_t *)lookup_fleet("RayClusterFleet", "big", NULL);
    json_decref(f);
    json_decref(st);
    json_decref(bad);
    json_decref(m);
    json_decref(want);
    json_decref(obj);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest),         cmocka_unit_test(test_finalizer_and_time),
        cmocka_unit_test(test_change),           cmocka_unit_test(test_status_mapping),
        cmocka_unit_test(test_keep_transitions), cmocka_unit_test(test_pod_mapping),
        cmocka_unit_test(test_orch_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
