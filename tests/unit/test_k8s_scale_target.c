/* The pure parts of scale targets other than Deployments: API discovery
 * (k8s_discovery), label selector strings as a Scale's status.selector
 * carries them (k8s_selector) and target keys (ctl_target). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/ctl_target.h"
#include "k8s/k8s_discovery.h"
#include "k8s/k8s_selector.h"

static json_t *J(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j) fail_msg("bad JSON in test: %s", e.text);
    return j;
}

/* apps/v1 as a real API server lists it (abridged) */
#define APPS_V1                                                                                    \
    "{\"kind\":\"APIResourceList\",\"groupVersion\":\"apps/v1\",\"resources\":["                   \
    "{\"name\":\"daemonsets\",\"namespaced\":true,\"kind\":\"DaemonSet\"},"                        \
    "{\"name\":\"daemonsets/status\",\"namespaced\":true,\"kind\":\"DaemonSet\"},"                 \
    "{\"name\":\"deployments\",\"namespaced\":true,\"kind\":\"Deployment\"},"                      \
    "{\"name\":\"deployments/scale\",\"namespaced\":true,\"group\":\"autoscaling\","               \
    "\"version\":\"v1\",\"kind\":\"Scale\"},"                                                      \
    "{\"name\":\"statefulsets\",\"namespaced\":true,\"kind\":\"StatefulSet\"},"                    \
    "{\"name\":\"statefulsets/scale\",\"namespaced\":true,\"group\":\"autoscaling\","              \
    "\"version\":\"v1\",\"kind\":\"Scale\"},"                                                      \
    "{\"name\":\"statefulsets/status\",\"namespaced\":true,\"kind\":\"StatefulSet\"}]}"

static void test_discovery(void **st)
{
    (void)st;
    json_t *l = J(APPS_V1);
    char plural[64];
    int ns = 0;
    assert_int_equal(k8s_discovery_find(l, "StatefulSet", plural, sizeof(plural), &ns),
                     K8S_DISC_SCALE);
    assert_string_equal(plural, "statefulsets");
    assert_true(ns);
    assert_int_equal(k8s_discovery_find(l, "DaemonSet", plural, sizeof(plural), NULL),
                     K8S_DISC_NO_SCALE);
    assert_string_equal(plural, "daemonsets");
    /* the Scale subresource entries are not the kind "Scale" */
    assert_int_equal(k8s_discovery_find(l, "Scale", plural, sizeof(plural), NULL),
                     K8S_DISC_NO_KIND);
    assert_int_equal(k8s_discovery_find(l, "statefulset", plural, sizeof(plural), NULL),
                     K8S_DISC_NO_KIND); /* kinds are case-sensitive */
    assert_int_equal(k8s_discovery_find(l, "StatefulSet", plural, 5, NULL), K8S_DISC_INVALID);
    json_decref(l);
    l = J("{\"kind\":\"Status\"}");
    assert_int_equal(k8s_discovery_find(l, "StatefulSet", plural, sizeof(plural), NULL),
                     K8S_DISC_INVALID);
    json_decref(l);
    /* a CRD's plural with /scale (AIBrix's StormService) */
    l = J("{\"resources\":[{\"name\":\"stormservices/scale\",\"kind\":\"Scale\"},"
          "{\"name\":\"stormservices\",\"kind\":\"StormService\",\"namespaced\":true}]}");
    assert_int_equal(k8s_discovery_find(l, "StormService", plural, sizeof(plural), NULL),
                     K8S_DISC_SCALE);
    assert_string_equal(plural, "stormservices");
    json_decref(l);

    char g[64], v[16], path[128];
    assert_int_equal(k8s_api_version_split("apps/v1", g, sizeof(g), v, sizeof(v)), 0);
    assert_string_equal(g, "apps");
    assert_string_equal(v, "v1");
    assert_int_equal(k8s_api_version_split("v1", g, sizeof(g), v, sizeof(v)), 0);
    assert_string_equal(g, "");
    assert_string_equal(v, "v1");
    assert_int_equal(k8s_api_version_split("", g, sizeof(g), v, sizeof(v)), -1);
    assert_int_equal(k8s_api_version_split("/v1", g, sizeof(g), v, sizeof(v)), -1);
    assert_int_equal(k8s_api_version_split("a/", g, sizeof(g), v, sizeof(v)), -1);
    assert_int_equal(k8s_api_version_split("a/b/c", g, sizeof(g), v, sizeof(v)), -1);
    assert_int_equal(k8s_discovery_path(path, sizeof(path), "", "v1"), 0);
    assert_string_equal(path, "/api/v1");
    assert_int_equal(k8s_discovery_path(path, sizeof(path), "orchestration.aibrix.ai", "v1alpha1"),
                     0);
    assert_string_equal(path, "/apis/orchestration.aibrix.ai/v1alpha1");
    assert_int_equal(k8s_discovery_path(path, 8, "apps", "v1"), -1);
}

static int sel_match(const char *sel, const char *labels)
{
    k8s_selector *s = NULL;
    char err[128];
    if (k8s_selector_parse(sel, &s, err, sizeof(err)) != 0) fail_msg("%s: %s", sel, err);
    json_t *l = J(labels);
    int r = k8s_selector_matches(s, l);
    json_decref(l);
    k8s_selector_free(s);
    return r;
}

static void test_selector(void **st)
{
    (void)st;
    const char *pod = "{\"model.aibrix.ai/name\":\"llama\",\"app\":\"llama-sts\",\"tier\":\"a\","
                      "\"idx\":\"3\"}";
    /* what the API server writes for a matchLabels selector */
    assert_true(sel_match("app=llama-sts,model.aibrix.ai/name=llama", pod));
    assert_false(sel_match("app=llama-sts,model.aibrix.ai/name=mistral", pod));
    assert_true(sel_match("app==llama-sts", pod));
    assert_true(sel_match(" app = llama-sts , tier ", pod));
    assert_true(sel_match("tier in (a, b),app notin (x)", pod));
    assert_false(sel_match("tier in (b,c)", pod));
    assert_false(sel_match("tier notin (a)", pod));
    assert_true(sel_match("gone notin (a)", pod)); /* absent: notin and != hold */
    assert_true(sel_match("gone!=a", pod));
    assert_false(sel_match("tier!=a", pod));
    assert_true(sel_match("!gone", pod));
    assert_false(sel_match("!tier", pod));
    assert_false(sel_match("gone", pod));
    assert_true(sel_match("idx>2,idx<4", pod));
    assert_false(sel_match("idx>3", pod));
    assert_false(sel_match("tier>1", pod)); /* not an integer */
    assert_true(sel_match("", pod));        /* everything */
    assert_false(sel_match("app=x", "{}"));

    k8s_selector *s = NULL;
    char err[128];
    assert_int_equal(k8s_selector_parse("", &s, err, sizeof(err)), 0);
    assert_true(k8s_selector_empty(s));
    k8s_selector_free(s);
    assert_int_equal(k8s_selector_parse("a=b", &s, err, sizeof(err)), 0);
    assert_false(k8s_selector_empty(s));
    assert_false(k8s_selector_matches(s, NULL));
    k8s_selector_free(s);
    static const char *const bad[] = {"a=b,", "a in b", "a in (b", "a b",   "=b",
                                      "a>x",  "a ~ b",  ",a",      "a=(b)", "a in (b))"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s = NULL;
        if (k8s_selector_parse(bad[i], &s, err, sizeof(err)) == 0) fail_msg("'%s' parsed", bad[i]);
        assert_null(s);
        assert_non_null(strstr(err, "label selector: "));
    }
}

static void test_target_key(void **st)
{
    (void)st;
    ctl_target t;
    assert_int_equal(ctl_target_set(&t, "apps/v1", "Deployment", "llama"), 0);
    assert_string_equal(t.key, "llama");
    assert_true(ctl_target_is_deployment(&t));
    assert_int_equal(ctl_target_set(&t, "", "Deployment", "llama"), 0);
    assert_string_equal(t.key, "llama");
    assert_int_equal(ctl_target_set(&t, NULL, "Deployment", "llama"), 0);
    assert_string_equal(t.key, "llama");
    assert_int_equal(ctl_target_set(&t, "apps/v1", "StatefulSet", "llama"), 0);
    assert_string_equal(t.key, "StatefulSet.apps/llama");
    assert_false(ctl_target_is_deployment(&t));
    assert_int_equal(ctl_target_set(&t, "orchestration.aibrix.ai/v1alpha1", "StormService", "s"),
                     0);
    assert_string_equal(t.key, "StormService.orchestration.aibrix.ai/s");
    assert_int_equal(ctl_target_set(&t, "v1", "ReplicationController", "rc"), 0);
    assert_string_equal(t.key, "ReplicationController/rc");
    /* a Deployment of another group is not apps' */
    assert_int_equal(ctl_target_set(&t, "example.com/v1", "Deployment", "d"), 0);
    assert_string_equal(t.key, "Deployment.example.com/d");
    assert_int_equal(ctl_target_set(&t, "apps/v1", "", "x"), -1);
    assert_int_equal(ctl_target_set(&t, "apps/v1", "StatefulSet", ""), -1);
    assert_int_equal(ctl_target_set(&t, "a/b/c", "StatefulSet", "x"), -1);
    assert_int_equal(ctl_target_set(&t, "/v1", "StatefulSet", "x"), -1);
    char longname[CTL_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(ctl_target_set(&t, "apps/v1", "StatefulSet", longname), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery),
        cmocka_unit_test(test_selector),
        cmocka_unit_test(test_target_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
