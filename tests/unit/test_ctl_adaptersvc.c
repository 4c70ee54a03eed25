/* The pure part of the Service and EndpointSlice per ModelAdapter
 * (ctl_adaptersvc_k8s.h): the objects wanted for an adapter and its pods,
 * the merge-patch comparison, and the create body without nulls. The I/O
 * is covered by tests/e2e/test_k8s_adaptersvc.sh against the fake API
 * server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/ctl_adaptersvc_k8s.h"

static json_t *J(const char *s)
{
    json_error_t e;
    json_t *v = json_loads(s, 0, &e);
    assert_non_null(v);
    return v;
}

static const char *AD =
    "{\"apiVersion\":\"model.aibrix.ai/v1alpha1\",\"kind\":\"ModelAdapter\","
    "\"metadata\":{\"name\":\"sql-lora\",\"namespace\":\"team-a\",\"uid\":\"u-1\"},"
    "\"spec\":{\"baseModel\":\"llama\"},"
    "\"status\":{\"instances\":[\"llama-c\",\"llama-a\",\"gone-pod\",\"llama-v6\",\"llama-a\"]}}";

/* sorted by name, as the module hands them */
static const ctl_podview PODS[] = {
    {.name = "llama-a", .model = "llama", .host = "10.0.0.1", .port = 8123, .phase = CTL_POD_READY},
    {.name = "llama-b", .model = "llama", .host = "10.0.0.2", .port = 8123, .phase = CTL_POD_READY},
    {.name = "llama-c",
     .model = "llama",
     .host = "10.0.0.3",
     .port = 8123,
     .phase = CTL_POD_STOPPING},
    {.name = "llama-v6", .model = "llama", .host = "fd00::1", .port = 8123, .phase = CTL_POD_READY},
};
#define NPODS (sizeof(PODS) / sizeof(PODS[0]))

static const char *S(const json_t *v, const char *path)
{
    /* a dotted path of object keys */
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    const json_t *cur = v;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, k);
    return json_string_value(cur);
}

static void check_owner(const json_t *obj)
{
    json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
    assert_int_equal(json_array_size(refs), 1);
    json_t *r = json_array_get(refs, 0);
    assert_string_equal(S(r, "apiVersion"), "model.aibrix.ai/v1alpha1");
    assert_string_equal(S(r, "kind"), "ModelAdapter");
    assert_string_equal(S(r, "name"), "sql-lora");
    assert_string_equal(S(r, "uid"), "u-1");
    assert_true(json_is_true(json_object_get(r, "controller")));
    assert_true(json_is_true(json_object_get(r, "blockOwnerDeletion")));
}

static void test_desired(void **state)
{
    (void)state;
    json_t *ad = J(AD), *svc, *sl;
    assert_int_equal(ctl_adaptersvc_desired(ad, PODS, NPODS, &svc, &sl), 0);
    /* the Service: headless, no selector, not-ready addresses, the pods' port */
    assert_string_equal(S(svc, "apiVersion"), "v1");
    assert_string_equal(S(svc, "kind"), "Service");
    assert_string_equal(S(svc, "metadata.name"), "sql-lora");
    assert_string_equal(S(svc, "metadata.namespace"), "team-a");
    json_t *labels = json_object_get(json_object_get(svc, "metadata"), "labels");
    assert_string_equal(json_string_value(json_object_get(labels, "adapter.model.aibrix.ai/name")),
                        "sql-lora");
    assert_string_equal(json_string_value(json_object_get(labels, "model.aibrix.ai/name")),
                        "llama");
    check_owner(svc);
    json_t *spec = json_object_get(svc, "spec");
    assert_string_equal(S(spec, "clusterIP"), "None");
    assert_true(json_is_null(json_object_get(spec, "selector")));
    assert_true(json_is_true(json_object_get(spec, "publishNotReadyAddresses")));
    json_t *port = json_array_get(json_object_get(spec, "ports"), 0);
    assert_string_equal(S(port, "name"), "http");
    assert_string_equal(S(port, "protocol"), "TCP");
    assert_int_equal(json_integer_value(json_object_get(port, "port")), 8123);
    assert_int_equal(json_integer_value(json_object_get(port, "targetPort")), 8123);
    /* the slice: the loaded pods known with an IPv4 address, by name, once each */
    assert_string_equal(S(sl, "apiVersion"), "discovery.k8s.io/v1");
    assert_string_equal(S(sl, "kind"), "EndpointSlice");
    assert_string_equal(S(sl, "addressType"), "IPv4");
    labels = json_object_get(json_object_get(sl, "metadata"), "labels");
    assert_string_equal(json_string_value(json_object_get(labels, "kubernetes.io/service-name")),
                        "sql-lora");
    assert_string_equal(json_string_value(json_object_get(labels, "adapter.model.aibrix.ai/name")),
                        "sql-lora");
    assert_string_equal(
        json_string_value(json_object_get(labels, "endpointslice.kubernetes.io/managed-by")),
        CTL_ADAPTERSVC_MANAGED_BY);
    check_owner(sl);
    json_t *eps = json_object_get(sl, "endpoints");
    assert_int_equal(json_array_size(eps), 2);
    json_t *e0 = json_array_get(eps, 0), *e1 = json_array_get(eps, 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(e0, "addresses"), 0)),
                        "10.0.0.1");
    assert_true(json_is_true(json_object_get(json_object_get(e0, "conditions"), "ready")));
    assert_true(json_is_false(json_object_get(json_object_get(e0, "conditions"), "terminating")));
    assert_string_equal(S(e0, "targetRef.kind"), "Pod");
    assert_string_equal(S(e0, "targetRef.name"), "llama-a");
    assert_string_equal(S(e0, "targetRef.namespace"), "team-a");
    assert_string_equal(json_string_value(json_array_get(json_object_get(e1, "addresses"), 0)),
                        "10.0.0.3");
    assert_true(json_is_false(json_object_get(json_object_get(e1, "conditions"), "ready")));
    assert_true(json_is_true(json_object_get(json_object_get(e1, "conditions"), "terminating")));
    port = json_array_get(json_object_get(sl, "ports"), 0);
    assert_string_equal(S(port, "name"), "http");
    assert_int_equal(json_integer_value(json_object_get(port, "port")), 8123);
    json_decref(svc);
    json_decref(sl);
    json_decref(ad);
}

static void test_desired_no_pods(void **state)
{
    (void)state;
    /* no base model, no instances: the label goes (null), an empty slice on 8000 (a base
     * model's pods would give their port: test_differs) */
    json_t *ad = J("{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"uid\":\"u\"},"
                   "\"spec\":{}}");
    json_t *svc, *sl;
    assert_int_equal(ctl_adaptersvc_desired(ad, PODS, NPODS, &svc, &sl), 0);
    json_t *labels = json_object_get(json_object_get(svc, "metadata"), "labels");
    assert_true(json_is_null(json_object_get(labels, "model.aibrix.ai/name")));
    json_t *port = json_array_get(json_object_get(json_object_get(svc, "spec"), "ports"), 0);
    assert_int_equal(json_integer_value(json_object_get(port, "port")), 8000);
    assert_int_equal(json_array_size(json_object_get(sl, "endpoints")), 0);
    assert_true(json_is_array(json_object_get(sl, "endpoints")));
    /* the create body has no nulls */
    json_t *body = ctl_adaptersvc_strip_nulls(svc);
    assert_non_null(body);
    labels = json_object_get(json_object_get(body, "metadata"), "labels");
    assert_null(json_object_get(labels, "model.aibrix.ai/name"));
    assert_null(json_object_get(json_object_get(body, "spec"), "selector"));
    assert_int_equal(json_array_size(json_object_get(json_object_get(body, "spec"), "ports")), 1);
    json_decref(body);
    json_decref(svc);
    json_decref(sl);
    /* no pods known at all: the same */
    assert_int_equal(ctl_adaptersvc_desired(ad, NULL, 0, &svc, &sl), 0);
    assert_int_equal(json_array_size(json_object_get(sl, "endpoints")), 0);
    json_decref(svc);
    json_decref(sl);
    json_decref(ad);
    /* no uid: no owner reference can be made */
    ad = J("{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\"}}");
    assert_int_equal(ctl_adaptersvc_desired(ad, PODS, NPODS, &svc, &sl), -1);
    assert_null(svc);
    assert_null(sl);
    json_decref(ad);
}

static void test_differs(void **state)
{
    (void)state;
    json_t *ad = J(AD), *svc, *sl;
    assert_int_equal(ctl_adaptersvc_desired(ad, PODS, NPODS, &svc, &sl), 0);
    /* what the server keeps: the create body plus defaults and metadata */
    json_t *cur = ctl_adaptersvc_strip_nulls(svc);
    json_t *md = json_object_get(cur, "metadata");
    json_object_set_new(md, "resourceVersion", json_string("7"));
    json_object_set_new(md, "uid", json_string("svc-uid"));
    json_object_set_new(json_object_get(md, "labels"), "team", json_string("x"));
    json_object_set_new(json_object_get(cur, "spec"), "clusterIPs", json_pack("[s]", "None"));
    json_object_set_new(cur, "status", json_pack("{s:{}}", "loadBalancer"));
    assert_false(ctl_adaptersvc_differs(cur, svc));
    /* a selector someone added must go */
    json_object_set_new(json_object_get(cur, "spec"), "selector", json_pack("{s:s}", "a", "b"));
    assert_true(ctl_adaptersvc_differs(cur, svc));
    json_object_del(json_object_get(cur, "spec"), "selector");
    /* another port */
    json_t *p = json_array_get(json_object_get(json_object_get(cur, "spec"), "ports"), 0);
    json_object_set_new(p, "port", json_integer(8000));
    assert_true(ctl_adaptersvc_differs(cur, svc));
    json_object_set_new(p, "port", json_integer(8123));
    /* a base model label left from before */
    json_t *ad2 = J("{\"metadata\":{\"name\":\"sql-lora\",\"namespace\":\"team-a\",\"uid\":"
                    "\"u-1\"},\"status\":{\"instances\":[\"llama-a\"]}}");
    json_t *svc2, *sl2;
    assert_int_equal(ctl_adaptersvc_desired(ad2, PODS, NPODS, &svc2, &sl2), 0);
    assert_true(ctl_adaptersvc_differs(cur, svc2));
    json_object_del(json_object_get(md, "labels"), "model.aibrix.ai/name");
    assert_false(ctl_adaptersvc_differs(cur, svc2));
    /* another owner (the adapter was recreated: new uid) */
    json_t *ref = json_array_get(json_object_get(md, "ownerReferences"), 0);
    json_object_set_new(ref, "uid", json_string("old"));
    assert_true(ctl_adaptersvc_differs(cur, svc2));
    /* not an object at all */
    assert_true(ctl_adaptersvc_differs(NULL, svc));
    json_decref(cur);

    /* the slice: the server dropped an empty endpoints list (null / absent) */
    json_t *cs = ctl_adaptersvc_strip_nulls(sl);
    assert_false(ctl_adaptersvc_differs(cs, sl));
    assert_true(ctl_adaptersvc_differs(cs, sl2)); /* one endpoint instead of two */
    json_t *ad3 = J("{\"metadata\":{\"name\":\"sql-lora\",\"namespace\":\"team-a\",\"uid\":"
                    "\"u-1\"},\"spec\":{\"baseModel\":\"llama\"}}");
    json_t *svc3, *sl3;
    assert_int_equal(ctl_adaptersvc_desired(ad3, PODS, NPODS, &svc3, &sl3), 0);
    assert_true(ctl_adaptersvc_differs(cs, sl3)); /* endpoints to empty */
    json_object_set_new(cs, "endpoints", json_null());
    assert_true(ctl_adaptersvc_differs(cs, sl)); /* empty to endpoints */
    assert_false(ctl_adaptersvc_differs(cs, sl3));
    json_object_del(cs, "endpoints");
    assert_false(ctl_adaptersvc_differs(cs, sl3));
    json_object_set_new(cs, "endpoints", json_array());
    assert_false(ctl_adaptersvc_differs(cs, sl3));
    /* a Ready pod became not ready: the conditions differ */
    json_t *cs2 = ctl_adaptersvc_strip_nulls(sl);
    json_t *c0 =
        json_object_get(json_array_get(json_object_get(cs2, "endpoints"), 0), "conditions");
    json_object_set_new(c0, "ready", json_false());
    assert_true(ctl_adaptersvc_differs(cs2, sl));
    json_decref(cs2);
    json_decref(cs);
    json_decref(svc3);
    json_decref(sl3);
    json_decref(svc2);
    json_decref(sl2);
    json_decref(ad2);
    json_decref(ad3);
    json_decref(svc);
    json_decref(sl);
    json_decref(ad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_desired),
        cmocka_unit_test(test_desired_no_pods),
        cmocka_unit_test(test_differs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
