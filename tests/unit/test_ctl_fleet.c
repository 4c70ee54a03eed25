/* The RayClusterFleet and RayClusterReplicaSet controllers (ctl_fleet,
 * ctl_rcrs) together over the SQLite object store, with the test playing
 * KubeRay: it writes each RayCluster's status (ready or failed) itself.
 * Checked: a fleet makes one replica set and its RayClusters; a template
 * change rolls through with maxSurge 1 / maxUnavailable 0 never running more
 * than replicas + 1 RayClusters nor fewer than replicas ready ones, and ends
 * with only the new revision's; Recreate removes every old RayCluster before
 * the first new one; a failed RayCluster is deleted and replaced; scaling the
 * fleet resizes it; deleting the fleet deletes its replica sets and
 * RayClusters; the status fields and the scale selector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "common/bx_time.h"
#include "ctl/ctl_fleet.h"
#include "ctl/ctl_objstore_sqlite.h"
#include "ctl/ctl_owner.h"
#include "ctl/ctl_rcrs.h"

#define FLEET_YAML(name, replicas, strategy, arg)                                                  \
    "apiVersion: orchestration.aibrix.ai/v1alpha1\nkind: RayClusterFleet\n"                        \
    "metadata: {name: " name ", labels: {model.aibrix.ai/name: " name "}}\n"                       \
    "spec:\n  replicas: " replicas "\n"                                                            \
    "  selector: {matchLabels: {model.aibrix.ai/name: " name "}}\n" strategy                       \
    "  template:\n    metadata: {labels: {model.aibrix.ai/name: " name "}}\n"                      \
    "    spec:\n      headGroupSpec:\n        rayStartParams: {}\n        template:\n"             \
    "          spec: {containers: [{name: head, command: [\"{brix}\", engine, --port, "            \
    "\"{port}\", " arg "]}]}\n"                                                                    \
    "      workerGroupSpecs:\n        - groupName: g\n          replicas: 1\n"                     \
    "          minReplicas: 1\n          maxReplicas: 1\n          rayStartParams: {}\n"           \
    "          template: {spec: {containers: [{name: w, command: [\"{brix}\", engine]}]}}\n"

#define ROLLING                                                                                    \
    "  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}\n"
#define RECREATE "  strategy: {type: Recreate}\n"

#define PA_YAML                                                                                    \
    "apiVersion: autoscaling.aibrix.ai/v1alpha1\nkind: PodAutoscaler\nmetadata: {name: qwen-pa}\n" \
    "spec:\n  scaleTargetRef: {apiVersion: orchestration.aibrix.ai/v1alpha1, kind: "               \
    "RayClusterFleet, name: qwen}\n  minReplicas: 1\n  maxReplicas: 4\n  scalingStrategy: KPA\n"   \
    "  metricsSources: [{metricSourceType: pod, protocolType: http, port: '8000', path: "          \
    "metrics, targetMetric: gpu_cache_usage_perc, targetValue: '70'}]\n"

typedef struct fx {
    uv_loop_t loop;
    char dir[64];
    ctl_objstore *st;
    ctl_fleet_ctl *fleet;
    ctl_rcrs *rcrs;
} fx;

static void settle(fx *f)
{
    for (int i = 0; i < 60; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    snprintf(f->dir, sizeof(f->dir), "/tmp/brix-fleet-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/state.db", f->dir);
    assert_int_equal(ctl_objstore_sqlite_open(path, &f->st, err, sizeof(err)), 0);
    assert_int_equal(ctl_fleet_init(&f->fleet, &f->loop, f->st, 1, err, sizeof(err)), 0);
    assert_int_equal(ctl_rcrs_init(&f->rcrs, &f->loop, f->st, err, sizeof(err)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    ctl_fleet_close(f->fleet, NULL, NULL);
    ctl_rcrs_close(f->rcrs, NULL, NULL);
    while (uv_run(&f->loop, UV_RUN_NOWAIT))
        ;
    ctl_objstore_close(f->st);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void apply(fx *f, const char *yaml)
{
    ctl_obj **objs;
    size_t n;
    char err[512];
    if (ctl_obj_load_yaml(yaml, strlen(yaml), &objs, &n, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ctl_objstore_put(f->st, objs[i], NULL, err, sizeof(err)), 0);
    ctl_objs_free(objs, n);
    settle(f);
}

/* KubeRay's part: every RayCluster without a status becomes ready (or, with
 * fail_name, that one turns failed: provisioned, head not ready). */
static void play_kuberay(fx *f, const char *fail_name)
{
    ctl_record *rcs;
    size_t n;
    char err[256], ts[32];
    bx_time_rfc3339(bx_time_unix_ms() - 60000, ts, sizeof(ts));
    assert_int_equal(ctl_objstore_list(f->st, "RayCluster", &rcs, &n, err, sizeof(err)), 0);
    for (size_t i = 0; i < n; i++) {
        int fail = fail_name && !strcmp(rcs[i].name, fail_name);
        if (!fail && json_object_size(rcs[i].status) > 0) continue;
        json_t *s =
            json_pack("{s:i,s:i,s:[{s:s,s:s,s:s},{s:s,s:s,s:s}]}", "desiredWorkerReplicas", 1,
                      "readyWorkerReplicas", fail ? 0 : 1, "conditions", "type",
                      "RayClusterProvisioned", "status", "True", "lastTransitionTime", ts, "type",
                      "HeadPodReady", "status", fail ? "False" : "True", "lastTransitionTime", ts);
        if (!fail) json_object_set_new(s, "state", json_string("ready"));
        assert_int_equal(
            ctl_objstore_set_status(f->st, "RayCluster", rcs[i].name, s, err, sizeof(err)), 0);
        json_decref(s);
    }
    ctl_records_free(rcs, n);
    settle(f);
}

typedef struct counts {
    int rs, clusters, ready;
    char owner[8][64]; /* replica set of each cluster */
    int per_rs[8];
    char rs_name[8][64];
} counts;

static void count(fx *f, counts *c)
{
    memset(c, 0, sizeof(*c));
    ctl_record *r;
    size_t n;
    char err[256];
    assert_int_equal(ctl_objstore_list(f->st, "RayClusterReplicaSet", &r, &n, err, sizeof(err)), 0);
    c->rs = (int)n;
    for (size_t i = 0; i < n && i < 8; i++)
        snprintf(c->rs_name[i], 64, "%s", r[i].name);
    ctl_records_free(r, n);
    assert_int_equal(ctl_objstore_list(f->st, "RayCluster", &r, &n, err, sizeof(err)), 0);
    c->clusters = (int)n;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_object_get(r[i].status, "state"));
        if (s && !strcmp(s, "ready")) c->ready++;
        const char *o = ctl_owner_name(r[i].object, "RayClusterReplicaSet");
        for (int k = 0; o && k < c->rs; k++)
            if (!strcmp(c->rs_name[k], o)) c->per_rs[k]++;
    }
    ctl_records_free(r, n);
}

static json_t *fleet_status(fx *f, const char *name)
{
    ctl_record r;
    char err[256];
    assert_int_equal(ctl_objstore_get(f->st, "RayClusterFleet", name, &r, err, sizeof(err)), 0);
    json_t *s = json_incref(r.status);
    ctl_record_clear(&r);
    return s;
}

static int status_int(json_t *s, const char *k)
{
    return (int)json_integer_value(json_object_get(s, k));
}

static void test_create_and_status(void **state)
{
    fx *f = *state;
    apply(f, FLEET_YAML("qwen", "2", ROLLING, "--v, \"1\""));
    counts c;
    count(f, &c);
    assert_int_equal(c.rs, 1);
    assert_int_equal(c.clusters, 2);
    assert_int_equal(c.ready, 0);
    assert_non_null(strstr(c.rs_name[0], "qwen-"));
    play_kuberay(f, NULL);
    json_t *s = fleet_status(f, "qwen");
    assert_int_equal(status_int(s, "replicas"), 2);
    assert_int_equal(status_int(s, "readyReplicas"), 2);
    assert_int_equal(status_int(s, "availableReplicas"), 2);
    assert_int_equal(status_int(s, "updatedReplicas"), 2);
    assert_int_equal(status_int(s, "unavailableReplicas"), 0);
    assert_string_equal(json_string_value(json_object_get(s, "scalingTargetSelector")),
                        "orchestration.aibrix.ai/raycluster-fleet-name=qwen,ray.io/node-type=head");
    json_decref(s);
    /* the replica set's template carries the hash and the fleet's name */
    ctl_record r;
    char err[256];
    assert_int_equal(
        ctl_objstore_get(f->st, "RayClusterReplicaSet", c.rs_name[0], &r, err, sizeof(err)), 0);
    const json_t *t = json_object_get(json_object_get(r.object, "spec"), "template");
    const char *hash = json_string_value(json_object_get(
        json_object_get(json_object_get(t, "metadata"), "labels"), "pod-template-hash"));
    assert_non_null(hash);
    assert_non_null(strstr(c.rs_name[0], hash));
    const json_t *hl =
        json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(t, "spec"),
                                                                        "headGroupSpec"),
                                                        "template"),
                                        "metadata"),
                        "labels");
    assert_string_equal(
        json_string_value(json_object_get(hl, "orchestration.aibrix.ai/raycluster-fleet-name")),
        "qwen");
    assert_int_equal(json_integer_value(json_object_get(r.status, "readyReplicas")), 2);
    ctl_record_clear(&r);
}

/* maxSurge 1, maxUnavailable 0: at every step at most R + 1 RayClusters and
 * at least R ready ones; ends with R of the new revision. */
static void test_rolling_update(void **state)
{
    fx *f = *state;
    apply(f, FLEET_YAML("qwen", "2", ROLLING, "--v, \"1\""));
    play_kuberay(f, NULL);
    apply(f, FLEET_YAML("qwen", "2", ROLLING, "--v, \"2\""));
    int steps = 0;
    counts c;
    for (;; steps++) {
        count(f, &c);
        assert_true(c.clusters <= 3);
        assert_true(c.ready >= 2);
        if (c.rs == 2 && c.clusters == 2 && c.ready == 2) {
            int on_new = c.per_rs[0] == 2 || c.per_rs[1] == 2;
            json_t *s = fleet_status(f, "qwen");
            int done = on_new && status_int(s, "updatedReplicas") == 2 &&
                       status_int(s, "availableReplicas") == 2 && status_int(s, "replicas") == 2;
            json_decref(s);
            if (done && steps > 0) break;
        }
        assert_true(steps < 20);
        play_kuberay(f, NULL);
    }
    assert_true(steps >= 2); /* one RayCluster at a time */
}

static void test_recreate(void **state)
{
    fx *f = *state;
    apply(f, FLEET_YAML("qwen", "2", RECREATE, "--v, \"1\""));
    play_kuberay(f, NULL);
    counts c;
    count(f, &c);
    assert_int_equal(c.ready, 2);
    apply(f, FLEET_YAML("qwen", "2", RECREATE, "--v, \"2\""));
    count(f, &c);
    /* every old RayCluster is gone before a new one exists */
    assert_int_equal(c.rs, 2);
    assert_int_equal(c.clusters, 2);
    assert_int_equal(c.ready, 0);
    assert_true(c.per_rs[0] == 2 || c.per_rs[1] == 2);
    play_kuberay(f, NULL);
    json_t *s = fleet_status(f, "qwen");
    assert_int_equal(status_int(s, "updatedReplicas"), 2);
    assert_int_equal(status_int(s, "availableReplicas"), 2);
    json_decref(s);
}

static void test_failed_cluster_replaced(void **state)
{
    fx *f = *state;
    apply(f, FLEET_YAML("qwen", "2", ROLLING, "--v, \"1\""));
    play_kuberay(f, NULL);
    ctl_record *rcs;
    size_t n;
    char err[256], victim[64];
    assert_int_equal(ctl_objstore_list(f->st, "RayCluster", &rcs, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    snprintf(victim, sizeof(victim), "%s", rcs[0].name);
    ctl_records_free(rcs, n);
    play_kuberay(f, victim);
    ctl_record r;
    assert_int_equal(ctl_objstore_get(f->st, "RayCluster", victim, &r, err, sizeof(err)), 1);
    counts c;
    count(f, &c);
    assert_int_equal(c.clusters, 2);
    assert_int_equal(c.ready, 1);
    play_kuberay(f, NULL);
    count(f, &c);
    assert_int_equal(c.ready, 2);
}

static void test_scale_and_delete(void **state)
{
    fx *f = *state;
    apply(f, FLEET_YAML("qwen", "2", ROLLING, "--v, \"1\""));
    play_kuberay(f, NULL);
    apply(f, PA_YAML);
    assert_int_equal(ctl_fleet_scale(f->fleet, "qwen", 3, "test"), 0);
    settle(f);
    counts c;
    count(f, &c);
    assert_int_equal(c.rs, 1);
    assert_int_equal(c.clusters, 3);
    apply(f, FLEET_YAML("qwen", "1", ROLLING, "--v, \"1\"")); /* spec ignored while scaled */
    count(f, &c);
    assert_int_equal(c.clusters, 3);
    char err[256];
    assert_int_equal(ctl_objstore_delete(f->st, "RayClusterFleet", "qwen", err, sizeof(err)), 0);
    settle(f);
    count(f, &c);
    assert_int_equal(c.rs, 0);
    assert_int_equal(c.clusters, 0);
}

/* the fleet's template as stored: the head's last command argument */
static const char *fleet_arg(fx *f)
{
    static char out[32];
    ctl_record r;
    char err[256];
    assert_int_equal(ctl_objstore_get(f->st, "RayClusterFleet", "qwen", &r, err, sizeof(err)), 0);
    const json_t *t = json_object_get(json_object_get(r.object, "spec"), "template");
    const char *const path[] = {"spec", "headGroupSpec", "template", "spec", "containers", NULL};
    for (int k = 0; path[k]; k++)
        t = json_object_get(t, path[k]);
    const json_t *cmd = json_object_get(json_array_get(t, 0), "command");
    snprintf(out, sizeof(out), "%s",
             json_string_value(json_array_get(cmd, json_array_size(cmd) - 1)));
    ctl_record_clear(&r);
    return out;
}

/* paused: a template change makes no new replica set (Progressing
 * DeploymentPaused); resumed, it rolls. */
static void test_pause_resume(void **state)
{
    fx *f = *state;
    apply(f, FLEET_YAML("qwen", "2", ROLLING, "--v, \"1\""));
    play_kuberay(f, NULL);
    apply(f, FLEET_YAML("qwen", "2", "  paused: true\n" ROLLING, "--v, \"2\""));
    play_kuberay(f, NULL);
    counts c;
    count(f, &c);
    assert_int_equal(c.rs, 1);
    assert_int_equal(c.clusters, 2);
    json_t *s = fleet_status(f, "qwen");
    json_t *cond = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(s, "conditions"), i,
                       v) if (!strcmp(json_string_value(json_object_get(v, "type")), "Progressing"))
        cond = v;
    assert_non_null(cond);
    assert_string_equal(json_string_value(json_object_get(cond, "reason")), "DeploymentPaused");
    json_decref(s);
    apply(f, FLEET_YAML("qwen", "2", ROLLING, "--v, \"2\""));
    for (int k = 0; k < 10; k++)
        play_kuberay(f, NULL);
    count(f, &c);
    assert_int_equal(c.rs, 2);
    assert_int_equal(c.clusters, 2);
    assert_true(c.per_rs[0] == 2 || c.per_rs[1] == 2);
}

/* deprecated.deployment.rollback.to: "1" puts revision 1's template back
 * into the fleet, which rolls back to that replica set (now revision 3). */
static void test_rollback(void **state)
{
    fx *f = *state;
    apply(f, FLEET_YAML("qwen", "2", ROLLING, "--v, \"1\""));
    play_kuberay(f, NULL);
    apply(f, FLEET_YAML("qwen", "2", ROLLING, "--v, \"2\""));
    for (int k = 0; k < 10; k++)
        play_kuberay(f, NULL);
    assert_string_equal(fleet_arg(f), "2");
    /* the same manifest with the annotation */
    ctl_record r;
    char err[256];
    assert_int_equal(ctl_objstore_get(f->st, "RayClusterFleet", "qwen", &r, err, sizeof(err)), 0);
    json_t *doc = json_deep_copy(r.object);
    ctl_record_clear(&r);
    json_object_set_new(json_object_get(doc, "metadata"), "annotations",
                        json_pack("{s:s}", "deprecated.deployment.rollback.to", "1"));
    ctl_obj *o = NULL;
    assert_int_equal(ctl_obj_parse(doc, &o, err, sizeof(err)), 0);
    json_decref(doc);
    assert_int_equal(ctl_objstore_put(f->st, o, NULL, err, sizeof(err)), 0);
    ctl_obj_free(o);
    settle(f);
    assert_string_equal(fleet_arg(f), "1");
    for (int k = 0; k < 10; k++)
        play_kuberay(f, NULL);
    counts c;
    count(f, &c);
    assert_int_equal(c.rs, 2); /* revision 1's replica set came back; no third */
    assert_int_equal(c.clusters, 2);
    ctl_record *rss;
    size_t n;
    assert_int_equal(ctl_objstore_list(f->st, "RayClusterReplicaSet", &rss, &n, err, sizeof(err)),
                     0);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rev = json_string_value(json_object_get(
            json_object_get(json_object_get(rss[i].object, "metadata"), "annotations"),
            "deployment.kubernetes.io/revision"));
        int64_t reps =
            json_integer_value(json_object_get(json_object_get(rss[i].object, "spec"), "replicas"));
        if (rev && !strcmp(rev, "3") && reps == 2) found = 1;
    }
    ctl_records_free(rss, n);
    assert_true(found);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rolling_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recreate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_cluster_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scale_and_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
