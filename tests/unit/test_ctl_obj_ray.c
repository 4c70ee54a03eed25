/* ctl_obj: the multi-node kinds. A RayClusterFleet in AIBrix's sample shape
 * (written here: a two-node vLLM-on-Ray replica, a head with a sidecar and
 * one worker group), its replica set and a RayCluster parse into the typed
 * views with KubeRay's and Kubernetes' defaults; every rejection names the
 * object and the field; the fields brix does not act on are named in the
 * one note; a PodAutoscaler may target a fleet locally; label selectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_yaml.h"
#include "ctl/ctl_obj.h"

#define FLEET_YAML                                                                                 \
    "apiVersion: orchestration.aibrix.ai/v1alpha1\n"                                               \
    "kind: RayClusterFleet\n"                                                                      \
    "metadata:\n"                                                                                  \
    "  name: big-model\n"                                                                          \
    "  labels: {app.kubernetes.io/name: demo}\n"                                                   \
    "spec:\n"                                                                                      \
    "  replicas: 2\n"                                                                              \
    "  selector:\n"                                                                                \
    "    matchLabels: {model.aibrix.ai/name: big-model}\n"                                         \
    "  strategy:\n"                                                                                \
    "    type: RollingUpdate\n"                                                                    \
    "    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}\n"                                        \
    "  template:\n"                                                                                \
    "    metadata:\n"                                                                              \
    "      labels: {model.aibrix.ai/name: big-model}\n"                                            \
    "      annotations: {ray.io/overwrite-container-cmd: \"true\"}\n"                              \
    "    spec:\n"                                                                                  \
    "      rayVersion: \"2.10.0\"\n"                                                               \
    "      headGroupSpec:\n"                                                                       \
    "        rayStartParams: {dashboard-host: \"0.0.0.0\"}\n"                                      \
    "        template:\n"                                                                          \
    "          metadata:\n"                                                                        \
    "            labels: {model.aibrix.ai/name: big-model}\n"                                      \
    "          spec:\n"                                                                            \
    "            containers:\n"                                                                    \
    "            - name: head\n"                                                                   \
    "              image: vllm/vllm-openai:v0.7.1\n"                                               \
    "              command: [/bin/bash, -c]\n"                                                     \
    "              args: [\"vllm serve big --tensor-parallel-size 2 --port 8000\"]\n"              \
    "              resources: {limits: {nvidia.com/gpu: 1}}\n"                                     \
    "            - name: runtime\n"                                                                \
    "              image: aibrix/runtime:v0.3.0\n"                                                 \
    "              readinessProbe: {httpGet: {path: /ready, port: 8080}}\n"                        \
    "      workerGroupSpecs:\n"                                                                    \
    "      - groupName: small-group\n"                                                             \
    "        replicas: 1\n"                                                                        \
    "        minReplicas: 1\n"                                                                     \
    "        maxReplicas: 5\n"                                                                     \
    "        rayStartParams: {}\n"                                                                 \
    "        template:\n"                                                                          \
    "          metadata:\n"                                                                        \
    "            labels: {model.aibrix.ai/name: big-model}\n"                                      \
    "          spec:\n"                                                                            \
    "            containers:\n"                                                                    \
    "            - name: worker\n"                                                                 \
    "              image: vllm/vllm-openai:v0.7.1\n"                                               \
    "              command: [/bin/bash, -c]\n"                                                     \
    "              args: [\"ray start --block\"]\n"                                                \
    "              lifecycle: {preStop: {exec: {command: [ray, stop]}}}\n"

static json_t *load(const char *yaml)
{
    json_t *docs = NULL;
    char err[256];
    if (bx_yaml_load_all(yaml, strlen(yaml), NULL, &docs, err, sizeof(err)) != 0)
        fail_msg("yaml: %s", err);
    json_t *d = json_incref(json_array_get(docs, 0));
    json_decref(docs);
    return d;
}

/* The value at a dotted path ("spec.template.spec.workerGroupSpecs.0"),
 * numbers indexing lists. */
static json_t *at(json_t *doc, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *v = doc;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
        v = json_is_array(v) ? json_array_get(v, (size_t)atoi(k)) : json_object_get(v, k);
    return v;
}

/* doc.<parent>.<key> = v (stolen); v NULL deletes it. */
static void set(json_t *doc, const char *parent, const char *key, json_t *v)
{
    json_t *p = parent[0] ? at(doc, parent) : doc;
    assert_non_null(p);
    if (v)
        assert_int_equal(json_object_set_new(p, key, v), 0);
    else
        (void)json_object_del(p, key);
}

static ctl_obj *parse_doc(json_t *doc, char *err, size_t len)
{
    ctl_obj *o = NULL;
    int r = ctl_obj_parse(doc, &o, err, len);
    json_decref(doc);
    if (r != 0) assert_null(o);
    return r == 0 ? o : NULL;
}

static void expect(json_t *doc, const char *want)
{
    char err[512] = "";
    ctl_obj *o = parse_doc(doc, err, sizeof(err));
    if (o) {
        ctl_obj_free(o);
        fail_msg("accepted, expected error: %s", want);
    }
    if (strcmp(err, want) != 0) fail_msg("error\n  got:  %s\n  want: %s", err, want);
}

static json_t *fleet(void)
{
    return load(FLEET_YAML);
}

static void test_fleet_sample(void **st)
{
    (void)st;
    char err[512];
    ctl_obj *o = parse_doc(fleet(), err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_int_equal(o->kind, CTL_KIND_RAYCLUSTER_FLEET);
    assert_true(ctl_kind_acted_on(o->kind));
    const ctl_fleet *f = &o->u.fleet;
    assert_int_equal(f->replicas, 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(f->selector, "matchLabels"), "model.aibrix.ai/name")),
                        "big-model");
    assert_non_null(json_object_get(f->template, "spec"));
    assert_int_equal(f->recreate, 0);
    assert_string_equal(f->max_surge, "1");
    assert_string_equal(f->max_unavailable, "0");
    assert_int_equal(f->min_ready_s, 0);
    assert_int_equal(f->revision_history_limit, 10);
    assert_int_equal(f->paused, 0);
    assert_int_equal(f->progress_deadline_s, 600);
    const ctl_raycluster *rc = &f->cluster;
    assert_string_equal(rc->head.name, "headgroup");
    assert_int_equal(rc->head.replicas, 1);
    assert_int_equal(rc->head.num_of_hosts, 1);
    assert_string_equal(
        json_string_value(json_object_get(rc->head.ray_start_params, "dashboard-host")), "0.0.0.0");
    assert_string_equal(json_string_value(at(rc->head.template, "spec.containers.0.name")), "head");
    assert_int_equal(rc->nworkers, 1);
    assert_string_equal(rc->workers[0].name, "small-group");
    assert_int_equal(rc->workers[0].replicas, 1);
    assert_int_equal(rc->workers[0].num_of_hosts, 1);
    assert_int_equal(json_object_size(rc->workers[0].ray_start_params), 0);
    assert_int_equal(rc->desired_workers, 1);
    assert_int_equal(rc->suspend, 0);
    assert_string_equal(ctl_obj_model(o), "big-model");
    /* one note names what KubeRay and the cluster do, nothing brix acts on */
    assert_string_equal(
        o->notes,
        "accepted, not acted on locally: spec.template.spec.rayVersion, "
        "spec.template.spec.headGroupSpec.rayStartParams, "
        "spec.template.spec.headGroupSpec.template.spec.containers[0].image, .resources, "
        "spec.template.spec.headGroupSpec.template.spec.containers[1], "
        "spec.template.spec.workerGroupSpecs[0].rayStartParams, "
        "spec.template.spec.workerGroupSpecs[0].template.spec.containers[0].image, .lifecycle");
    ctl_obj_free(o);
}

static void test_fleet_defaults(void **st)
{
    (void)st;
    json_t *d = fleet();
    set(d, "spec", "replicas", NULL);
    set(d, "spec", "strategy", NULL);
    json_t *w = at(d, "spec.template.spec.workerGroupSpecs.0");
    set(w, "", "replicas", NULL);
    set(w, "", "minReplicas", NULL);
    set(w, "", "maxReplicas", NULL);
    set(w, "", "rayStartParams", NULL);
    set(d, "spec.template.spec.headGroupSpec", "rayStartParams", NULL);
    char err[512];
    ctl_obj *o = parse_doc(d, err, sizeof(err));
    if (!o) fail_msg("%s", err);
    const ctl_fleet *f = &o->u.fleet;
    assert_int_equal(f->replicas, 1);
    assert_int_equal(f->recreate, 0); /* absent type: RollingUpdate */
    assert_string_equal(f->max_surge, "25%");
    assert_string_equal(f->max_unavailable, "25%");
    assert_int_equal(f->cluster.workers[0].replicas, 0); /* KubeRay: replicas 0 */
    assert_int_equal(f->cluster.desired_workers, 0);
    assert_int_equal(json_object_size(f->cluster.head.ray_start_params), 0);
    ctl_obj_free(o);

    /* one of the two given: the other is 25%, as Kubernetes defaults them */
    d = fleet();
    set(d, "spec.strategy", "rollingUpdate", json_pack("{s:s}", "maxSurge", "50%"));
    o = parse_doc(d, err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_string_equal(o->u.fleet.max_surge, "50%");
    assert_string_equal(o->u.fleet.max_unavailable, "25%");
    ctl_obj_free(o);

    /* Recreate, paused, explicit numbers; replicas clamped into [min, max];
     * numOfHosts multiplies */
    d = fleet();
    set(d, "spec", "strategy", json_pack("{s:s}", "type", "Recreate"));
    set(d, "spec", "paused", json_true());
    set(d, "spec", "minReadySeconds", json_integer(30));
    set(d, "spec", "revisionHistoryLimit", json_integer(0));
    set(d, "spec", "progressDeadlineSeconds", json_integer(31));
    set(d, "spec", "replicas", json_integer(0));
    set(d, "spec.template.spec", "suspend", json_true());
    w = at(d, "spec.template.spec.workerGroupSpecs.0");
    set(w, "", "replicas", json_integer(9));
    set(w, "", "numOfHosts", json_integer(2));
    json_t *w2 = json_deep_copy(w);
    set(w2, "", "groupName", json_string("other"));
    set(w2, "", "replicas", json_integer(0));
    set(w2, "", "minReplicas", json_integer(2));
    set(w2, "", "numOfHosts", NULL);
    json_array_append_new(at(d, "spec.template.spec.workerGroupSpecs"), w2);
    o = parse_doc(d, err, sizeof(err));
    if (!o) fail_msg("%s", err);
    f = &o->u.fleet;
    assert_int_equal(f->replicas, 0);
    assert_int_equal(f->recreate, 1);
    assert_int_equal(f->paused, 1);
    assert_int_equal(f->min_ready_s, 30);
    assert_int_equal(f->revision_history_limit, 0);
    assert_int_equal(f->progress_deadline_s, 31);
    assert_int_equal(f->cluster.suspend, 1);
    assert_int_equal(f->cluster.nworkers, 2);
    assert_int_equal(f->cluster.workers[0].replicas, 5); /* maxReplicas */
    assert_int_equal(f->cluster.workers[0].num_of_hosts, 2);
    assert_int_equal(f->cluster.workers[1].replicas, 2); /* minReplicas */
    assert_int_equal(f->cluster.desired_workers, 5 * 2 + 2);
    ctl_obj_free(o);

    /* matchExpressions select too; the model may be the fleet's own label */
    d = fleet();
    set(d, "spec", "selector",
        json_pack("{s:[{s:s, s:s, s:[s]}, {s:s, s:s}]}", "matchExpressions", "key",
                  "model.aibrix.ai/name", "operator", "In", "values", "big-model", "key", "tier",
                  "operator", "DoesNotExist"));
    set(d, "spec.template.metadata", "labels", json_pack("{s:s}", "model.aibrix.ai/name", "x"));
    set(d, "spec.template.metadata.labels", "model.aibrix.ai/name", json_string("big-model"));
    set(d, "metadata", "labels", json_pack("{s:s}", "model.aibrix.ai/name", "own"));
    o = parse_doc(d, err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_string_equal(ctl_obj_model(o), "big-model"); /* the template's first */
    ctl_obj_free(o);
    d = fleet();
    set(d, "spec", "selector", json_pack("{s:{s:s}}", "matchLabels", "app", "x"));
    set(d, "spec.template.metadata", "labels", json_pack("{s:s}", "app", "x"));
    set(d, "metadata", "labels", json_pack("{s:s}", "model.aibrix.ai/name", "own"));
    o = parse_doc(d, err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_string_equal(ctl_obj_model(o), "own");
    ctl_obj_free(o);
}

#define F "RayClusterFleet big-model: "
#define TS "spec.template.spec."

static void test_fleet_errors(void **st)
{
    (void)st;
    json_t *d;
#define MUT(parent, key, val, want)                                                                \
    do {                                                                                           \
        d = fleet();                                                                               \
        set(d, parent, key, val);                                                                  \
        expect(d, want);                                                                           \
    } while (0)
    MUT("", "spec", NULL, F "spec: required");
    MUT("spec", "replicas", json_integer(-1), F "spec.replicas: must be between 0 and 256");
    MUT("spec", "replicas", json_integer(257), F "spec.replicas: must be between 0 and 256");
    MUT("spec", "selector", NULL, F "spec.selector: required");
    MUT("spec", "selector", json_object(),
        F "spec.selector: empty: it would select every RayCluster (AIBrix only warns "
          "SelectingAll and does nothing; Kubernetes refuses an empty selector)");
    MUT("spec", "selector", json_pack("{s:{}, s:[]}", "matchLabels", "matchExpressions"),
        F "spec.selector: empty: it would select every RayCluster (AIBrix only warns "
          "SelectingAll and does nothing; Kubernetes refuses an empty selector)");
    MUT("spec.selector", "matchLabels", json_pack("{s:s}", "model.aibrix.ai/name", "other"),
        F "spec.template.metadata.labels: selector does not match template labels (Kubernetes "
          "refuses such an object)");
    MUT("spec.template", "metadata", NULL,
        F "spec.template.metadata.labels: selector does not match template labels (Kubernetes "
          "refuses such an object)");
    MUT("spec.selector", "matchExpressions",
        json_pack("[{s:s, s:s}]", "key", "model.aibrix.ai/name", "operator", "DoesNotExist"),
        F "spec.template.metadata.labels: selector does not match template labels (Kubernetes "
          "refuses such an object)");
    MUT("spec.selector", "matchExpressions",
        json_pack("[{s:s, s:s}]", "key", "a", "operator", "Is"),
        F "spec.selector.matchExpressions[0].operator: unsupported value 'Is': supported values: "
          "\"In\", \"NotIn\", \"Exists\", \"DoesNotExist\"");
    MUT("spec.selector", "matchExpressions",
        json_pack("[{s:s, s:s}]", "key", "a", "operator", "In"),
        F "spec.selector.matchExpressions[0].values: must be specified when `operator` is 'In' "
          "or 'NotIn'");
    MUT("spec.selector", "matchExpressions",
        json_pack("[{s:s, s:s, s:[s]}]", "key", "a", "operator", "Exists", "values", "x"),
        F "spec.selector.matchExpressions[0].values: may not be specified when `operator` is "
          "'Exists' or 'DoesNotExist'");
    MUT("spec.selector", "matchExpressions", json_pack("[{s:s}]", "operator", "Exists"),
        F "spec.selector.matchExpressions[0].key: required, 1..253 bytes");
    MUT("spec", "template", NULL, F "spec.template: required");
    MUT("spec.template", "spec", NULL, F "spec.template.spec: required (a RayClusterSpec)");
    d = fleet();
    set(d, "spec.template.metadata.labels", "model.aibrix.ai/name", json_string("bad model"));
    set(d, "spec.selector.matchLabels", "model.aibrix.ai/name", json_string("bad model"));
    expect(d, F "spec.template.metadata.labels[\"model.aibrix.ai/name\"]: 'bad model' is not a "
                "valid model name (1..255 of A-Za-z0-9._/:-)");
    /* RayClusterSpec */
    MUT(TS "headGroupSpec", "template", NULL, F TS "headGroupSpec.template: required");
    MUT(TS "", "headGroupSpec", NULL, F TS "headGroupSpec: required");
    MUT(TS "headGroupSpec.template.spec", "containers", json_array(),
        F TS "headGroupSpec.template.spec.containers: required: containers[0] runs the node's "
             "engine");
    MUT(TS "headGroupSpec.template", "spec", NULL, F TS "headGroupSpec.template.spec: required");
    MUT(TS "headGroupSpec", "rayStartParams", json_pack("{s:i}", "num-gpus", 1),
        F TS "headGroupSpec.rayStartParams[\"num-gpus\"]: must be a string");
    MUT(TS "workerGroupSpecs.0", "template", NULL, F TS "workerGroupSpecs[0].template: required");
    MUT(TS "workerGroupSpecs.0.template.spec", "containers", NULL,
        F TS "workerGroupSpecs[0].template.spec.containers: required: containers[0] runs the "
             "node's engine");
    MUT(TS "workerGroupSpecs.0", "groupName", NULL, F TS "workerGroupSpecs[0].groupName: required");
    MUT(TS "workerGroupSpecs.0", "groupName", json_string(""),
        F TS "workerGroupSpecs[0].groupName: required");
    MUT(TS "workerGroupSpecs.0", "groupName", json_string("Small_Group"),
        F TS "workerGroupSpecs[0].groupName: 'Small_Group' is not a DNS-1123 subdomain of at "
             "most 63 bytes (it names the group's pods and their ray.io/group label)");
    MUT(TS "workerGroupSpecs.0", "replicas", json_integer(-1),
        F TS "workerGroupSpecs[0].replicas: must be between 0 and 2147483647");
    MUT(TS "workerGroupSpecs.0", "minReplicas", json_integer(6),
        F TS "workerGroupSpecs[0].minReplicas: 6 is greater than maxReplicas 5 (KubeRay refuses "
             "it)");
    MUT(TS "workerGroupSpecs.0", "numOfHosts", json_integer(0),
        F TS "workerGroupSpecs[0].numOfHosts: must be between 1 and 256");
    MUT(TS "", "suspend", json_string("yes"), F TS "suspend: must be true or false");
    MUT(TS "", "workerGroupSpecs", json_object(), F TS "workerGroupSpecs: must be a list");
    d = fleet();
    json_array_append_new(at(d, TS "workerGroupSpecs"),
                          json_deep_copy(at(d, TS "workerGroupSpecs.0")));
    expect(d, F TS "workerGroupSpecs[1].groupName: duplicate 'small-group' (workerGroupSpecs[0] "
                   "has it)");
    d = fleet();
    set(d, TS "workerGroupSpecs.0", "maxReplicas", json_integer(200));
    set(d, TS "workerGroupSpecs.0", "replicas", json_integer(200));
    set(d, TS "workerGroupSpecs.0", "numOfHosts", json_integer(2));
    expect(d, F TS "workerGroupSpecs[0].replicas: 200 replicas of 2 hosts: more than 256 worker "
                   "nodes");
    /* strategy, as Kubernetes validates a Deployment's */
    MUT("spec.strategy", "type", json_string("BlueGreen"),
        F "spec.strategy.type: unsupported value 'BlueGreen': supported values: \"Recreate\", "
          "\"RollingUpdate\"");
    MUT("spec.strategy", "type", json_string("Recreate"),
        F "spec.strategy.rollingUpdate: may not be specified when strategy `type` is 'Recreate'");
    MUT("spec.strategy.rollingUpdate", "maxSurge", json_string("0%"),
        F "spec.strategy.rollingUpdate.maxUnavailable: may not be 0 when `maxSurge` is 0");
    MUT("spec.strategy.rollingUpdate", "maxSurge", json_integer(0),
        F "spec.strategy.rollingUpdate.maxUnavailable: may not be 0 when `maxSurge` is 0");
    MUT("spec.strategy.rollingUpdate", "maxSurge", json_string("1"),
        F "spec.strategy.rollingUpdate.maxSurge: must be an integer or a percentage (e.g. '25%')");
    MUT("spec.strategy.rollingUpdate", "maxSurge", json_string("x%"),
        F "spec.strategy.rollingUpdate.maxSurge: must be an integer or a percentage (e.g. '25%')");
    MUT("spec.strategy.rollingUpdate", "maxSurge", json_integer(-1),
        F "spec.strategy.rollingUpdate.maxSurge: must be between 0 and 2147483647");
    MUT("spec.strategy.rollingUpdate", "maxUnavailable", json_string("101%"),
        F "spec.strategy.rollingUpdate.maxUnavailable: must not be greater than 100%");
    MUT("spec", "strategy", json_string("Recreate"), F "spec.strategy: must be a mapping");
    MUT("spec", "minReadySeconds", json_integer(-1),
        F "spec.minReadySeconds: must be between 0 and 2147483647");
    MUT("spec", "minReadySeconds", json_integer(600),
        F "spec.progressDeadlineSeconds: 600: must be greater than minReadySeconds (600)");
    MUT("spec", "progressDeadlineSeconds", json_integer(0),
        F "spec.progressDeadlineSeconds: 0: must be greater than minReadySeconds (0)");
    MUT("spec", "revisionHistoryLimit", json_integer(-1),
        F "spec.revisionHistoryLimit: must be between 0 and 2147483647");
    MUT("spec", "paused", json_string("true"), F "spec.paused: must be true or false");
    MUT("metadata", "name", json_string("Big"),
        "RayClusterFleet: metadata.name: 'Big' is not a DNS-1123 subdomain of at most 63 bytes "
        "(a-z, 0-9, '-' and '.', alphanumeric at both ends of each part)");
    MUT("", "apiVersion", NULL, F "apiVersion: required (orchestration.aibrix.ai/v1alpha1)");
#undef MUT
}

#define RS_YAML                                                                                    \
    "apiVersion: orchestration.aibrix.ai/v1alpha1\n"                                               \
    "kind: RayClusterReplicaSet\n"                                                                 \
    "metadata:\n"                                                                                  \
    "  name: big-model-7d9f\n"                                                                     \
    "  ownerReferences: [{apiVersion: orchestration.aibrix.ai/v1alpha1, kind: RayClusterFleet,"    \
    " name: big-model, uid: u1, controller: true}]\n"                                              \
    "spec:\n"                                                                                      \
    "  minReadySeconds: 5\n"                                                                       \
    "  selector: {matchLabels: {pod-template-hash: 7d9f}}\n"                                       \
    "  template:\n"                                                                                \
    "    metadata: {labels: {pod-template-hash: 7d9f, model.aibrix.ai/name: big-model}}\n"         \
    "    spec:\n"                                                                                  \
    "      headGroupSpec:\n"                                                                       \
    "        template: {spec: {containers: [{name: head, args: [\"{brix}\"]}]}}\n"                 \
    "      workerGroupSpecs:\n"                                                                    \
    "      - {groupName: g, replicas: 3, template: {spec: {containers: [{name: w}]}}}\n"

static void test_replicaset(void **st)
{
    (void)st;
    char err[512];
    ctl_obj *o = parse_doc(load(RS_YAML), err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_int_equal(o->kind, CTL_KIND_RAYCLUSTER_REPLICASET);
    const ctl_fleet *f = &o->u.fleet;
    assert_int_equal(f->replicas, 1);
    assert_int_equal(f->min_ready_s, 5);
    assert_int_equal(f->cluster.desired_workers, 3);
    /* the fleet-only fields keep their defaults */
    assert_int_equal(f->recreate, 0);
    assert_string_equal(f->max_surge, "25%");
    assert_int_equal(f->revision_history_limit, 10);
    assert_int_equal(f->progress_deadline_s, 600);
    assert_string_equal(ctl_obj_model(o), "big-model");
    assert_string_equal(o->notes, "");
    ctl_obj_free(o);
    /* a Deployment's fields are no replica set's: named, not validated */
    json_t *d = load(RS_YAML);
    set(d, "spec", "strategy", json_pack("{s:s}", "type", "Bogus"));
    set(d, "spec", "paused", json_string("x"));
    o = parse_doc(d, err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_string_equal(o->notes, "accepted, not acted on locally: spec.strategy, .paused");
    ctl_obj_free(o);
    d = load(RS_YAML);
    set(d, "spec", "selector", json_pack("{s:{}}", "matchLabels"));
    expect(d, "RayClusterReplicaSet big-model-7d9f: spec.selector: empty: it would select every "
              "RayCluster (AIBrix only warns SelectingAll and does nothing; Kubernetes refuses "
              "an empty selector)");
}

#define RC_YAML                                                                                    \
    "apiVersion: ray.io/v1\n"                                                                      \
    "kind: RayCluster\n"                                                                           \
    "metadata:\n"                                                                                  \
    "  name: big-model-7d9f-x2k4\n"                                                                \
    "  labels: {model.aibrix.ai/name: big-model}\n"                                                \
    "spec:\n"                                                                                      \
    "  rayVersion: \"2.10.0\"\n"                                                                   \
    "  enableInTreeAutoscaling: false\n"                                                           \
    "  autoscalerOptions: {idleTimeoutSeconds: 60}\n"                                              \
    "  headServiceAnnotations: {a: b}\n"                                                           \
    "  headGroupSpec:\n"                                                                           \
    "    serviceType: ClusterIP\n"                                                                 \
    "    rayStartParams: {}\n"                                                                     \
    "    template: {spec: {containers: [{name: head}]}}\n"                                         \
    "  workerGroupSpecs:\n"                                                                        \
    "  - {groupName: a, replicas: 2, numOfHosts: 2, template: {spec: {containers: [{name: "        \
    "w}]}}}\n"                                                                                     \
    "  - {groupName: b, maxReplicas: 1, template: {spec: {containers: [{name: w}]}}}\n"

static void test_raycluster(void **st)
{
    (void)st;
    char err[512];
    ctl_obj *o = parse_doc(load(RC_YAML), err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_int_equal(o->kind, CTL_KIND_RAYCLUSTER);
    const ctl_raycluster *rc = &o->u.rc;
    assert_string_equal(rc->head.name, "headgroup");
    assert_int_equal(rc->nworkers, 2);
    assert_int_equal(rc->workers[0].num_of_hosts, 2);
    assert_int_equal(rc->workers[1].replicas, 0);
    assert_int_equal(rc->desired_workers, 4);
    assert_string_equal(ctl_obj_model(o), "big-model");
    assert_string_equal(o->notes, "accepted, not acted on locally: spec.rayVersion, "
                                  ".enableInTreeAutoscaling, .autoscalerOptions, "
                                  ".headServiceAnnotations, spec.headGroupSpec.serviceType, "
                                  ".rayStartParams");
    ctl_obj_free(o);
    /* v1alpha1 is still served by KubeRay */
    json_t *d = load(RC_YAML);
    set(d, "", "apiVersion", json_string("ray.io/v1alpha1"));
    o = parse_doc(d, err, sizeof(err));
    if (!o) fail_msg("%s", err);
    ctl_obj_free(o);
    /* no model label: the head template's */
    d = load(RC_YAML);
    set(d, "metadata", "labels", NULL);
    set(d, "spec.headGroupSpec.template", "metadata",
        json_pack("{s:{s:s}}", "labels", "model.aibrix.ai/name", "from-head"));
    o = parse_doc(d, err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_string_equal(ctl_obj_model(o), "from-head");
    ctl_obj_free(o);
    d = load(RC_YAML);
    set(d, "metadata", "labels", NULL);
    o = parse_doc(d, err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_null(ctl_obj_model(o));
    ctl_obj_free(o);
    /* errors name spec.<field> */
    d = load(RC_YAML);
    set(d, "", "spec", NULL);
    expect(d, "RayCluster big-model-7d9f-x2k4: spec: required");
    d = load(RC_YAML);
    set(d, "spec", "headGroupSpec", NULL);
    expect(d, "RayCluster big-model-7d9f-x2k4: spec.headGroupSpec: required");
    d = load(RC_YAML);
    set(d, "spec.workerGroupSpecs.1", "groupName", json_string("a"));
    expect(d, "RayCluster big-model-7d9f-x2k4: spec.workerGroupSpecs[1].groupName: duplicate 'a' "
              "(workerGroupSpecs[0] has it)");
    d = load(RC_YAML);
    set(d, "spec.workerGroupSpecs.0.template.spec.containers", "0", NULL);
    json_array_clear(at(d, "spec.workerGroupSpecs.0.template.spec.containers"));
    expect(d, "RayCluster big-model-7d9f-x2k4: spec.workerGroupSpecs[0].template.spec."
              "containers: required: containers[0] runs the node's engine");
    d = load(RC_YAML);
    set(d, "", "apiVersion", json_string("ray.io/v2"));
    char e2[512];
    assert_null(parse_doc(d, e2, sizeof(e2)));
    assert_string_equal(e2, "RayCluster big-model-7d9f-x2k4: apiVersion: ray.io/v2 is not one brix "
                            "knows (ray.io/v1), skipped");
}

/* Local mode: a PodAutoscaler may target a RayClusterFleet; a StatefulSet
 * is still refused (test_ctl_obj.c has that warning). */
static void test_autoscaler_targets_fleet(void **st)
{
    (void)st;
    const char *y = FLEET_YAML "---\n"
                               "apiVersion: autoscaling.aibrix.ai/v1alpha1\n"
                               "kind: PodAutoscaler\n"
                               "metadata: {name: big-model-pa}\n"
                               "spec:\n"
                               "  scaleTargetRef: {apiVersion: orchestration.aibrix.ai/v1alpha1,"
                               " kind: RayClusterFleet, name: big-model}\n"
                               "  minReplicas: 1\n"
                               "  maxReplicas: 4\n"
                               "  scalingStrategy: KPA\n"
                               "---\n"
                               "apiVersion: autoscaling.aibrix.ai/v1alpha1\n"
                               "kind: PodAutoscaler\n"
                               "metadata: {name: sts-pa}\n"
                               "spec:\n"
                               "  scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet,"
                               " name: x}\n"
                               "  scalingStrategy: KPA\n";
    json_t *docs = NULL, *warnings = json_array();
    ctl_obj **objs = NULL;
    size_t n = 0;
    char err[512];
    assert_int_equal(bx_yaml_load_all(y, strlen(y), NULL, &docs, err, sizeof(err)), 0);
    if (ctl_obj_parse_all(docs, warnings, &objs, &n, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(n, 2);
    assert_int_equal(objs[0]->kind, CTL_KIND_RAYCLUSTER_FLEET);
    assert_int_equal(objs[1]->kind, CTL_KIND_POD_AUTOSCALER);
    assert_string_equal(objs[1]->u.pa.target_kind, "RayClusterFleet");
    assert_int_equal(json_array_size(warnings), 1);
    assert_non_null(strstr(json_string_value(json_array_get(warnings, 0)),
                           "document 3: PodAutoscaler sts-pa: spec.scaleTargetRef.kind: only a "
                           "Deployment or a RayClusterFleet scales locally"));
    ctl_objs_free(objs, n);
    json_decref(docs);
    json_decref(warnings);
}

/* A Service selecting a fleet's head pods (its head template's labels)
 * names the fleet's model; one selecting nothing of it names none. */
static void test_service_models(void **st)
{
    (void)st;
    char err[512];
    ctl_obj *f = parse_doc(fleet(), err, sizeof(err));
    if (!f) fail_msg("%s", err);
    ctl_obj *svc = parse_doc(load("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
                                  "spec: {selector: {model.aibrix.ai/name: big-model}}\n"),
                             err, sizeof(err));
    ctl_obj *other = parse_doc(load("apiVersion: v1\nkind: Service\nmetadata: {name: t}\n"
                                    "spec: {selector: {app: x}}\n"),
                               err, sizeof(err));
    assert_non_null(svc);
    assert_non_null(other);
    ctl_obj *objs[] = {f, svc};
    json_t *m = ctl_obj_service_models(svc, objs, 2);
    assert_int_equal(json_array_size(m), 1);
    assert_string_equal(json_string_value(json_array_get(m, 0)), "big-model");
    json_decref(m);
    m = ctl_obj_service_models(other, objs, 2);
    assert_int_equal(json_array_size(m), 0);
    json_decref(m);
    ctl_obj_free(f);
    ctl_obj_free(svc);
    ctl_obj_free(other);
}

static void test_kinds(void **st)
{
    (void)st;
    assert_int_equal(ctl_kind_parse("RayClusterFleet"), CTL_KIND_RAYCLUSTER_FLEET);
    assert_int_equal(ctl_kind_parse("rayclusterfleets"), CTL_KIND_RAYCLUSTER_FLEET);
    assert_int_equal(ctl_kind_parse("rayclusterreplicaset"), CTL_KIND_RAYCLUSTER_REPLICASET);
    assert_int_equal(ctl_kind_parse("rayclusters"), CTL_KIND_RAYCLUSTER);
    assert_string_equal(ctl_kind_lower(CTL_KIND_RAYCLUSTER_FLEET), "rayclusterfleet");
    assert_string_equal(ctl_obj_kind_api_version(CTL_KIND_RAYCLUSTER), "ray.io/v1");
    assert_true(ctl_obj_kind_api_ok(CTL_KIND_RAYCLUSTER, "ray.io/v1alpha1"));
    assert_false(ctl_obj_kind_api_ok(CTL_KIND_RAYCLUSTER_FLEET, "ray.io/v1"));
    assert_true(ctl_kind_acted_on(CTL_KIND_RAYCLUSTER_REPLICASET));
    assert_true(ctl_kind_acted_on(CTL_KIND_RAYCLUSTER));
    /* no short names are invented (AIBrix defines none) */
    assert_int_equal(ctl_kind_parse("rcf"), CTL_KIND_NONE);
    assert_int_equal(ctl_kind_parse("rc"), CTL_KIND_NONE);
}

static void test_selector_match(void **st)
{
    (void)st;
    json_t *labels = json_pack("{s:s, s:s}", "app", "a", "tier", "gpu");
    json_t *sel = json_pack("{s:{s:s}, s:[{s:s, s:s, s:[s, s]}, {s:s, s:s}, {s:s, s:s, s:[s]}]}",
                            "matchLabels", "app", "a", "matchExpressions", "key", "tier",
                            "operator", "In", "values", "cpu", "gpu", "key", "zone", "operator",
                            "DoesNotExist", "key", "app", "operator", "NotIn", "values", "b");
    assert_true(ctl_selector_match(sel, labels));
    json_object_set_new(labels, "zone", json_string("z"));
    assert_false(ctl_selector_match(sel, labels));
    json_t *ex =
        json_pack("{s:[{s:s, s:s}]}", "matchExpressions", "key", "zone", "operator", "Exists");
    assert_true(ctl_selector_match(ex, labels));
    json_t *notin = json_pack("{s:[{s:s, s:s, s:[s]}]}", "matchExpressions", "key", "missing",
                              "operator", "NotIn", "values", "x");
    assert_true(ctl_selector_match(notin, labels)); /* absent: not in */
    json_t *empty = json_object();
    assert_true(ctl_selector_match(empty, labels));
    json_decref(labels);
    json_decref(sel);
    json_decref(ex);
    json_decref(notin);
    json_decref(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fleet_sample),   cmocka_unit_test(test_fleet_defaults),
        cmocka_unit_test(test_fleet_errors),   cmocka_unit_test(test_replicaset),
        cmocka_unit_test(test_raycluster),     cmocka_unit_test(test_autoscaler_targets_fleet),
        cmocka_unit_test(test_service_models), cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_selector_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
