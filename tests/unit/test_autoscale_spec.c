/* as_spec: AIBrix-shaped PodAutoscaler YAML -> as_spec, defaults,
 * annotations, Go durations, and invalid specs rejected with the field path. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "autoscale/as_spec.h"
#include "common/bx_yaml.h"

static const char *kpa_yaml = "apiVersion: autoscaling.aibrix.ai/v1alpha1\n"
                              "kind: PodAutoscaler\n"
                              "metadata:\n"
                              "  name: deepseek-kpa\n"
                              "  namespace: llm\n"
                              "  labels: {app.kubernetes.io/name: aibrix}\n"
                              "spec:\n"
                              "  scaleTargetRef:\n"
                              "    apiVersion: apps/v1\n"
                              "    kind: Deployment\n"
                              "    name: deepseek-r1\n"
                              "  maxReplicas: 8\n"
                              "  metricsSources:\n"
                              "    - metricSourceType: pod\n"
                              "      protocolType: http\n"
                              "      port: '8000'\n"
                              "      path: /metrics\n"
                              "      targetMetric: gpu_cache_usage_perc\n"
                              "      targetValue: '0.5'\n"
                              "  scalingStrategy: KPA\n";

static json_t *load(const char *y)
{
    json_t *j = NULL;
    char err[256];
    if (bx_yaml_load(y, strlen(y), NULL, &j, err, sizeof(err)) != 0) return NULL;
    return j;
}

static void test_kpa_sample_and_defaults(void **st)
{
    (void)st;
    json_t *j = load(kpa_yaml);
    assert_non_null(j);
    as_spec s;
    char err[256] = "";
    assert_int_equal(as_spec_parse(j, &s, err, sizeof(err)), 0);
    assert_string_equal(s.name, "deepseek-kpa");
    assert_string_equal(s.namespace_, "llm");
    assert_string_equal(s.target.kind, "Deployment");
    assert_string_equal(s.target.name, "deepseek-r1");
    assert_string_equal(s.target.namespace_, "llm"); /* empty -> the PA's namespace */
    assert_int_equal(s.min_replicas, 1);             /* nil -> 1 */
    assert_int_equal(s.max_replicas, 8);
    assert_int_equal(s.strategy, AS_STRATEGY_KPA);
    assert_int_equal(s.n_metrics, 1);
    assert_int_equal(s.metrics[0].source, AS_SOURCE_POD);
    assert_string_equal(s.metrics[0].target_metric, "gpu_cache_usage_perc");
    assert_true(s.metrics[0].target_value == 0.5);
    assert_string_equal(s.metrics[0].port, "8000");
    assert_int_equal(s.observe_window_ms, 180000);
    assert_int_equal(s.panic_window_ms, 60000);
    assert_true(s.max_scale_up_rate == 2.0 && s.max_scale_down_rate == 2.0);
    assert_true(s.scale_up_tolerance == 0.1 && s.scale_down_tolerance == 0.1);
    assert_true(s.panic_threshold == 2.0);
    assert_int_equal(s.up_stabilization_ms, 0);
    assert_int_equal(s.down_stabilization_ms, 300000);
    assert_int_equal(s.scale_to_zero_grace_ms, 30000);
    assert_int_equal(s.activation_scale, 1);
    assert_false(s.scale_to_zero);
    assert_string_equal(s.metrics[0].path, "/metrics");
    json_decref(j);
}

/* AIBrix's kpa.yaml and apa.yaml samples write `path: metrics`: accepted, as /metrics. */
static void test_path_without_slash(void **st)
{
    (void)st;
    char y[2048];
    snprintf(y, sizeof(y), "%s", kpa_yaml);
    char *p = strstr(y, "path: /metrics");
    assert_non_null(p);
    memmove(p + 6, p + 7, strlen(p + 7) + 1); /* "path: metrics" */
    json_t *j = load(y);
    assert_non_null(j);
    as_spec s;
    char err[256] = "";
    assert_int_equal(as_spec_parse(j, &s, err, sizeof(err)), 0);
    assert_string_equal(s.metrics[0].path, "/metrics");
    json_decref(j);
}

static void test_annotations_and_options(void **st)
{
    (void)st;
    const char *y = "apiVersion: autoscaling.aibrix.ai/v1alpha1\n"
                    "kind: PodAutoscaler\n"
                    "metadata:\n"
                    "  name: opt-apa\n"
                    "  annotations:\n"
                    "    autoscaling.aibrix.ai/max-scale-up-rate: '4'\n"
                    "    autoscaling.aibrix.ai/max-scale-down-rate: '1.5'\n"
                    "    autoscaling.aibrix.ai/scale-up-tolerance: '0.05'\n"
                    "    autoscaling.aibrix.ai/scale-down-tolerance: '0.2'\n"
                    "    autoscaling.aibrix.ai/panic-threshold: '3.5'\n"
                    "    autoscaling.aibrix.ai/scale-up-cooldown-window: 30s\n"
                    "    autoscaling.aibrix.ai/scale-down-cooldown-window: 1m30s\n"
                    "    autoscaling.aibrix.ai/scale-to-zero: 'true'\n"
                    "    autoscaling.aibrix.ai/scale-to-zero-grace-period: 45s\n"
                    "    autoscaling.aibrix.ai/activation-scale: '2'\n"
                    "    autoscaling.aibrix.ai/storm-service-mode: replica\n"
                    "    kpa.autoscaling.aibrix.ai/scale-down-delay: 3m\n" /* ignored, as HEAD */
                    "spec:\n"
                    "  scaleTargetRef: {kind: StormService, name: ss, namespace: other}\n"
                    "  subTargetSelector: {roleName: decode}\n"
                    "  minReplicas: 0\n"
                    "  maxReplicas: 6\n"
                    "  observeWindowSeconds: 30\n"
                    "  panicWindowSeconds: 30\n"
                    "  metricsSources:\n"
                    "    - {metricSourceType: external, targetMetric: vllm:deployment_replicas,\n"
                    "       targetValue: 100, endpoint: 'opt.svc:8080', path: /metrics/ns/d,\n"
                    "       protocolType: http}\n"
                    "    - {metricSourceType: resource, targetMetric: cpu, targetValue: '30'}\n"
                    "    - {metricSourceType: custom, targetMetric: qps, targetValue: 2.5}\n"
                    "  scalingStrategy: APA\n";
    json_t *j = load(y);
    assert_non_null(j);
    as_spec s;
    char err[256] = "";
    int rc = as_spec_parse(j, &s, err, sizeof(err));
    if (rc) fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(s.namespace_, "default");
    assert_string_equal(s.target.namespace_, "other");
    assert_string_equal(s.sub_target_role, "decode");
    assert_int_equal(s.min_replicas, 0); /* scale to zero allowed */
    assert_int_equal(s.strategy, AS_STRATEGY_APA);
    assert_int_equal(s.n_metrics, 3);
    assert_int_equal(s.metrics[0].source, AS_SOURCE_EXTERNAL);
    assert_true(s.metrics[0].target_value == 100);
    assert_int_equal(s.metrics[1].source, AS_SOURCE_RESOURCE);
    assert_true(s.metrics[2].target_value == 2.5);
    assert_int_equal(s.observe_window_ms, 30000);
    assert_int_equal(s.panic_window_ms, 30000);
    assert_true(s.max_scale_up_rate == 4 && s.max_scale_down_rate == 1.5);
    assert_true(s.scale_up_tolerance == 0.05 && s.scale_down_tolerance == 0.2);
    assert_true(s.panic_threshold == 3.5);
    assert_int_equal(s.up_stabilization_ms, 30000);
    assert_int_equal(s.down_stabilization_ms, 90000);
    assert_int_equal(s.scale_to_zero_grace_ms, 45000);
    assert_int_equal(s.activation_scale, 2);
    assert_true(s.scale_to_zero);
    assert_int_equal(s.storm_mode, AS_STORM_REPLICA);
    json_decref(j);
}

static void test_durations(void **st)
{
    (void)st;
    int64_t ms = -1;
    assert_int_equal(as_parse_duration_ms("300s", &ms), 0);
    assert_int_equal(ms, 300000);
    assert_int_equal(as_parse_duration_ms("1m30s", &ms), 0);
    assert_int_equal(ms, 90000);
    assert_int_equal(as_parse_duration_ms("1.5h", &ms), 0);
    assert_int_equal(ms, 5400000);
    assert_int_equal(as_parse_duration_ms("0", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(as_parse_duration_ms("500ms", &ms), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(as_parse_duration_ms(".5s", &ms), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(as_parse_duration_ms("+2m", &ms), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(as_parse_duration_ms("1500us", &ms), 0);
    assert_int_equal(ms, 1); /* 1.5 ms rounds down */
    assert_int_equal(as_parse_duration_ms("1h0m0.25s", &ms), 0);
    assert_int_equal(ms, 3600250);
    const char *bad[] = {
        "", "5", "-1s", "1x", "s", ".s", "1.2.3s", "1s ", " 1s", "1d", "99999999999999999999h"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(as_parse_duration_ms(bad[i], &ms), -1);
}

/* Sets (or with v == NULL deletes) the member at a dotted path, where
 * "spec.metricsSources.0.port" indexes arrays. Steals v. */
static void set_path(json_t *root, const char *path, json_t *v)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = root;
    char *save = NULL;
    char *tok = strtok_r(buf, ".", &save);
    while (tok) {
        char *next = strtok_r(NULL, ".", &save);
        if (!next) {
            if (json_is_array(cur)) {
                if (v) json_array_set_new(cur, (size_t)atoi(tok), v);
            } else if (v) {
                json_object_set_new(cur, tok, v);
            } else {
                json_object_del(cur, tok);
            }
            return;
        }
        json_t *child =
            json_is_array(cur) ? json_array_get(cur, (size_t)atoi(tok)) : json_object_get(cur, tok);
        if (!child) {
            child = json_object();
            json_object_set_new(cur, tok, child);
        }
        cur = child;
        tok = next;
    }
}

typedef struct bad_case {
    const char *path;
    const char *json; /* JSON text of the new value; NULL deletes */
    const char *want; /* expected error prefix */
} bad_case;

#define ANN "metadata.annotations.autoscaling.aibrix.ai/"

static void test_invalid_specs_name_the_field(void **st)
{
    (void)st;
    /* Dotted paths cannot reach keys holding dots; annotations go through
     * the annotations object below. */
    static const bad_case cases[] = {
        {"spec.maxReplicas", "0", "spec.maxReplicas: must be > 0"},
        {"spec.maxReplicas", NULL, "spec.maxReplicas: required"},
        {"spec.maxReplicas", "2.5", "spec.maxReplicas: must be an integer"},
        {"spec.maxReplicas", "3000000000", "spec.maxReplicas: must be in"},
        {"spec.minReplicas", "-1", "spec.minReplicas: must be >= 0"},
        {"spec.minReplicas", "9", "spec.minReplicas: must be <= spec.maxReplicas (8)"},
        {"spec.minReplicas", "\"2\"", "spec.minReplicas: must be an integer"},
        {"spec.scalingStrategy", "\"XPA\"", "spec.scalingStrategy: must be HPA, KPA or APA"},
        {"spec.scalingStrategy", "\"kpa\"", "spec.scalingStrategy: must be HPA, KPA or APA"},
        {"spec.scalingStrategy", NULL, "spec.scalingStrategy: required"},
        {"spec.scaleTargetRef", NULL, "spec.scaleTargetRef: required"},
        {"spec.scaleTargetRef.name", NULL, "spec.scaleTargetRef.name: required"},
        {"spec.scaleTargetRef.kind", "\"\"", "spec.scaleTargetRef.kind: required"},
        {"spec.scaleTargetRef.name", "\"Bad_Name\"", "spec.scaleTargetRef.name: must be a DNS"},
        {"spec.metricsSources", "[]", "spec.metricsSources: needs at least one entry"},
        {"spec.metricsSources", NULL, "spec.metricsSources: required"},
        {"spec.metricsSources", "{}", "spec.metricsSources: must be a list"},
        {"spec.metricsSources.0.targetValue", "\"0\"",
         "spec.metricsSources[0].targetValue: must be > 0"},
        {"spec.metricsSources.0.targetValue", "\"-1\"",
         "spec.metricsSources[0].targetValue: must be > 0"},
        {"spec.metricsSources.0.targetValue", "\"abc\"",
         "spec.metricsSources[0].targetValue: not a number"},
        {"spec.metricsSources.0.targetValue", "\"NaN\"",
         "spec.metricsSources[0].targetValue: not a number"},
        {"spec.metricsSources.0.targetValue", NULL, "spec.metricsSources[0].targetValue: required"},
        {"spec.metricsSources.0.targetMetric", "\"\"",
         "spec.metricsSources[0].targetMetric: required"},
        {"spec.metricsSources.0.metricSourceType", "\"pods\"",
         "spec.metricsSources[0].metricSourceType: must be one of"},
        {"spec.metricsSources.0.port", NULL,
         "spec.metricsSources[0].port: required for metricSourceType pod"},
        {"spec.metricsSources.0.port", "\"99999\"",
         "spec.metricsSources[0].port: must be a port number"},
        {"spec.metricsSources.0.protocolType", "\"ftp\"",
         "spec.metricsSources[0].protocolType: must be http or https"},
        {"spec.metricsSources.0.path", NULL,
         "spec.metricsSources[0].path: required for metricSourceType pod"},
        {"spec.metricsSources.0.extra", "1", "spec.metricsSources[0].extra: unknown field"},
        {"spec.observeWindowSeconds", "0", "spec.observeWindowSeconds: must be in [1, 3600]"},
        {"spec.observeWindowSeconds", "3601", "spec.observeWindowSeconds: must be in [1, 3600]"},
        {"spec.panicWindowSeconds", "200",
         "spec.panicWindowSeconds: must be <= observeWindowSeconds (180)"},
        {"spec.minReplica", "1", "spec.minReplica: unknown field"},
        {"spec.schedules", "[{\"name\":\"night\"}]", "spec.schedules[0].startTime: required"},
        {"spec.schedules", "[]", "spec.schedules: must not be empty"},
        {"spec.predictive", "{\"mode\":\"Sometimes\"}",
         "spec.predictive.mode: must be Preview or Auto"},
        {"spec.predictive", "{\"horizonSeconds\":0}",
         "spec.predictive.horizonSeconds: must be in [1, 3600]"},
        {"spec.predictive", "{\"when\":1}", "spec.predictive.when: unknown field"},
        {"spec", NULL, "spec: required"},
        {"apiVersion", "\"autoscaling/v2\"", "apiVersion: must be autoscaling.aibrix.ai/v1alpha1"},
        {"kind", "\"HorizontalPodAutoscaler\"", "kind: must be PodAutoscaler"},
        {"metadata.name", "\"Bad_Name\"", "metadata.name: must be a DNS subdomain"},
        {"metadata.name", NULL, "metadata.name: required"},
        {"metadata.namespace", "\"a.b\"", "metadata.namespace: must be a DNS label"},
        {"metadata.annotations", "[]", "metadata.annotations: must be a mapping"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *j = load(kpa_yaml);
        assert_non_null(j);
        json_t *v = NULL;
        if (cases[i].json) {
            json_error_t je;
            v = json_loads(cases[i].json, JSON_DECODE_ANY, &je);
            assert_non_null(v);
        }
        set_path(j, cases[i].path, v);
        as_spec s;
        char err[256] = "";
        int rc = as_spec_parse(j, &s, err, sizeof(err));
        if (rc != -1 || strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("case %zu (%s): rc %d, err \"%s\", want \"%s\"", i, cases[i].path, rc, err,
                     cases[i].want);
        json_decref(j);
    }
}

static void test_invalid_annotations_and_cross_field(void **st)
{
    (void)st;
    static const struct {
        const char *key, *json, *want;
    } cases[] = {
        {"max-scale-up-rate", "\"fast\"", "not a number"},
        {"max-scale-up-rate", "\"0.5\"", "must be > 1"},
        {"max-scale-down-rate", "\"1\"", "must be > 1"},
        {"scale-up-tolerance", "\"1.5\"", "must be in [0, 1)"},
        {"scale-down-tolerance", "\"-0.1\"", "must be in [0, 1)"},
        {"panic-threshold", "\"1\"", "must be > 1"},
        {"panic-threshold", "\"inf\"", "not a number"},
        {"scale-down-cooldown-window", "\"5 minutes\"", "not a non-negative duration"},
        {"scale-up-cooldown-window", "\"-5s\"", "not a non-negative duration"},
        {"scale-down-cooldown-window", "\"2h\"", "must be in [0s, 1h]"},
        {"scale-down-cooldown-window", "300", "not a non-negative duration"},
        {"scale-to-zero", "\"maybe\"", "not a boolean"},
        {"storm-service-mode", "\"mixed\"", "must be replica or pool"},
        {"activation-scale", "\"0\"", "must be an integer >= 1"},
        {"activation-scale", "\"1.5\"", "must be an integer >= 1"},
        {"activation-scale", "\"9\"", "must be <= spec.maxReplicas (8)"},
        {"scale-to-zero-grace-period", "\"1y\"", "not a non-negative duration"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *j = load(kpa_yaml);
        json_t *ann = json_object();
        char key[128];
        snprintf(key, sizeof(key), "autoscaling.aibrix.ai/%s", cases[i].key);
        json_error_t je;
        json_object_set_new(ann, key, json_loads(cases[i].json, JSON_DECODE_ANY, &je));
        json_object_set_new(json_object_get(j, "metadata"), "annotations", ann);
        as_spec s;
        char err[256] = "", want[256];
        snprintf(want, sizeof(want), "metadata.annotations[%s]: %s", key, cases[i].want);
        int rc = as_spec_parse(j, &s, err, sizeof(err));
        if (rc != -1 || strncmp(err, want, strlen(want)) != 0)
            fail_msg("annotation case %zu: rc %d, err \"%s\", want \"%s\"", i, rc, err, want);
        json_decref(j);
    }

    /* HPA with a StormService role, resource with a port, external endpoint
     * without a path: the per-type rules. */
    json_t *j = load(kpa_yaml);
    json_t *spec = json_object_get(j, "spec");
    json_object_set_new(spec, "scalingStrategy", json_string("HPA"));
    json_object_set_new(spec, "subTargetSelector", json_pack("{s:s}", "roleName", "prefill"));
    as_spec s;
    char err[256];
    assert_int_equal(as_spec_parse(j, &s, err, sizeof(err)), -1);
    assert_string_equal(err, "spec.subTargetSelector.roleName: not allowed with HPA");
    json_object_set_new(spec, "scalingStrategy", json_string("KPA"));
    assert_int_equal(as_spec_parse(j, &s, err, sizeof(err)), 0);
    json_object_set_new(spec, "metricsSources",
                        json_pack("[{s:s,s:s,s:s,s:s}]", "metricSourceType", "resource",
                                  "targetMetric", "cpu", "targetValue", "50", "port", "80"));
    assert_int_equal(as_spec_parse(j, &s, err, sizeof(err)), -1);
    assert_string_equal(err, "spec.metricsSources[0].port: not allowed for resource");
    json_object_set_new(spec, "metricsSources",
                        json_pack("[{s:s,s:s,s:s}]", "metricSourceType", "resource", "targetMetric",
                                  "gpu", "targetValue", "50"));
    assert_int_equal(as_spec_parse(j, &s, err, sizeof(err)), -1);
    assert_string_equal(err, "spec.metricsSources[0].targetMetric: must be cpu or memory for "
                             "resource");
    json_object_set_new(spec, "metricsSources",
                        json_pack("[{s:s,s:s,s:s,s:s,s:s}]", "metricSourceType", "external",
                                  "targetMetric", "x", "targetValue", "1", "endpoint", "e:1",
                                  "protocolType", "http"));
    assert_int_equal(as_spec_parse(j, &s, err, sizeof(err)), -1);
    assert_string_equal(err, "spec.metricsSources[0].path: required when endpoint is set");
    /* nine metric sources: over the cap */
    json_t *many = json_array();
    for (int i = 0; i < 9; i++)
        json_array_append_new(many, json_pack("{s:s,s:s,s:s}", "metricSourceType", "custom",
                                              "targetMetric", "x", "targetValue", "1"));
    json_object_set_new(spec, "metricsSources", many);
    assert_int_equal(as_spec_parse(j, &s, err, sizeof(err)), -1);
    assert_string_equal(err, "spec.metricsSources: at most 8 entries");
    /* panic > observe with both set */
    json_array_remove(many, 8);
    json_object_set_new(spec, "observeWindowSeconds", json_integer(60));
    json_object_set_new(spec, "panicWindowSeconds", json_integer(100));
    assert_int_equal(as_spec_parse(j, &s, err, sizeof(err)), -1);
    assert_string_equal(err, "spec.panicWindowSeconds: must be <= observeWindowSeconds (60)");
    json_decref(j);

    /* not an object, and a tiny error buffer */
    assert_int_equal(as_spec_parse(NULL, &s, err, sizeof(err)), -1);
    json_t *arr = json_array();
    char tiny[8];
    assert_int_equal(as_spec_parse(arr, &s, tiny, sizeof(tiny)), -1);
    assert_int_equal(strlen(tiny), 7);
    json_decref(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kpa_sample_and_defaults),
        cmocka_unit_test(test_path_without_slash),
        cmocka_unit_test(test_annotations_and_options),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_invalid_specs_name_the_field),
        cmocka_unit_test(test_invalid_annotations_and_cross_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
