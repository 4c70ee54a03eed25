/* The "kubernetes" object store (ctl_objstore_k8s.h) against the fake API
 * server (tests/k8s/fake_apiserver.py, a test fixture) for the kinds of
 * issue 17: RayClusterFleet and RayClusterReplicaSet with brix's CRDs
 * (deploy/crds), KubeRay's RayCluster (deploy/kuberay, installed only after
 * the store synced: a cluster without it is synced and empty, then its
 * objects arrive). Puts create (POST) with the owners' uids filled in, and
 * update (GET + PUT with the resourceVersion, retried on a forced 409);
 * set_status goes through /status with the CRD's fields; status watchers
 * hear of status changes, whoever wrote them (KubeRay's here); deletion
 * cascades through the ownerReferences (the fake's garbage collector).
 * Skipped, with a message, when python3 or the fake is absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <cmocka.h>

#include "ctl/ctl_objstore_k8s.h"
#include "k8s/k8s_parse.h"
#include "k8s_fake_fixture.h"
#include "loop_fixture.h"

#define TOKEN "t"
#define NS "default"
#define CRDS "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
#define ORCH "/apis/orchestration.aibrix.ai/v1alpha1/namespaces/" NS

static uv_loop_t loop;

static int setup(void **state)
{
    (void)state;
    if (k8s_fake_start(TOKEN, NULL) != 0) return -1;
    uv_loop_init(&loop);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    k8s_fake_stop();
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    return 0;
}

/* What the watchers heard. */
typedef struct heard {
    int synced;
    json_t *puts, *deletes, *statuses; /* "Kind/name" -> count */
} heard;

static void count(json_t *m, ctl_kind k, const char *name)
{
    char key[128];
    snprintf(key, sizeof(key), "%s/%s", ctl_kind_name(k), name);
    json_t *v = json_object_get(m, key);
    json_object_set_new(m, key, json_integer(v ? json_integer_value(v) + 1 : 1));
}

static int heard_n(json_t *m, const char *key)
{
    return (int)json_integer_value(json_object_get(m, key));
}

static void on_watch(void *ud, const ctl_watch_event *ev)
{
    heard *h = ud;
    if (ev->type == CTL_WATCH_PUT || ev->type == CTL_WATCH_SYNC) {
        assert_non_null(ev->obj);
        assert_string_equal(ev->obj->name, ev->name);
        count(h->puts, ev->kind, ev->name);
    } else if (ev->type == CTL_WATCH_DELETE) {
        count(h->deletes, ev->kind, ev->name);
    }
}

static void on_status(void *ud, const ctl_watch_event *ev)
{
    heard *h = ud;
    assert_int_equal(ev->type, CTL_WATCH_STATUS);
    assert_null(ev->obj);
    count(h->statuses, ev->kind, ev->name);
}

static void on_synced(void *ud)
{
    ((heard *)ud)->synced = 1;
}

static ctl_obj *obj_of(const char *txt)
{
    json_error_t je;
    json_t *j = json_loads(txt, 0, &je);
    assert_non_null(j);
    ctl_obj *o = NULL;
    char err[512];
    if (ctl_obj_parse(j, &o, err, sizeof(err)) != 0) fail_msg("parse: %s", err);
    json_decref(j);
    return o;
}

static int put(ctl_objstore *st, const char *txt, int *changed, char *err, size_t errlen)
{
    ctl_obj *o = obj_of(txt);
    int r = ctl_objstore_put(st, o, changed, err, errlen);
    ctl_obj_free(o);
    return r;
}

/* The store's record (found 0, or 1), its JSON freed by the caller. */
static int rec(ctl_objstore *st, const char *kind, const char *name, ctl_record *r)
{
    char err[256];
    int x = ctl_objstore_get(st, kind, name, r, err, sizeof(err));
    assert_true(x == 0 || x == 1);
    return x;
}

static int64_t gen_in_store(ctl_objstore *st, const char *kind, const char *name)
{
    ctl_record r;
    if (rec(st, kind, name, &r) != 0) return 0;
    int64_t g = r.generation;
    ctl_record_clear(&r);
    return g;
}

static const char *owner_uid(ctl_objstore *st, const char *kind, const char *name)
{
    static char uid[64];
    ctl_record r;
    uid[0] = '\0';
    if (rec(st, kind, name, &r) != 0) return uid;
    json_t *ref = json_array_get(
        json_object_get(json_object_get(r.object, "metadata"), "ownerReferences"), 0);
    snprintf(uid, sizeof(uid), "%s", json_string_value(json_object_get(ref, "uid")) ?: "");
    ctl_record_clear(&r);
    return uid;
}

static const char *cached_uid(ctl_objstore *st, ctl_kind k, const char *name)
{
    char key[128];
    snprintf(key, sizeof(key), NS "/%s", name);
    return k8s_meta(json_object_get(ctl_objstore_k8s_cache(st, k), key), "uid");
}

#define POD_TMPL                                                                                   \
    "{\"metadata\":{\"labels\":{\"model.aibrix.ai/name\":\"big\"}},\"spec\":{\"containers\":[{"    \
    "\"name\":\"engine\",\"image\":\"brix:test\",\"command\":[\"brix\",\"engine\"]}]}}"
#define RC_SPEC                                                                                    \
    "{\"headGroupSpec\":{\"rayStartParams\":{},\"template\":" POD_TMPL "},"                        \
    "\"workerGroupSpecs\":[{\"groupName\":\"w\",\"replicas\":1,\"minReplicas\":1,"                 \
    "\"maxReplicas\":1,\"rayStartParams\":{},\"template\":" POD_TMPL "}]}"
#define SEL "{\"matchLabels\":{\"app\":\"big\"}}"

static const char FLEET[] =
    "{\"apiVersion\":\"orchestration.aibrix.ai/v1alpha1\",\"kind\":\"RayClusterFleet\","
    "\"metadata\":{\"name\":\"big\",\"labels\":{\"model.aibrix.ai/name\":\"big\"}},"
    "\"spec\":{\"replicas\":1,\"selector\":" SEL ",\"strategy\":{\"type\":\"RollingUpdate\"},"
    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"big\"}},\"spec\":" RC_SPEC "}}}";

/* an RS owned by a fleet (no uid: the store fills it) with `replicas` */
static void rs_json(char *buf, size_t cap, const char *owner, int replicas)
{
    snprintf(buf, cap,
             "{\"apiVersion\":\"orchestration.aibrix.ai/v1alpha1\",\"kind\":"
             "\"RayClusterReplicaSet\",\"metadata\":{\"name\":\"big-abc\",\"labels\":{\"app\":"
             "\"big\"},\"ownerReferences\":[{\"apiVersion\":\"orchestration.aibrix.ai/v1alpha1\","
             "\"kind\":\"RayClusterFleet\",\"name\":\"%s\",\"controller\":true,"
             "\"blockOwnerDeletion\":true}]},\"spec\":{\"replicas\":%d,\"selector\":" SEL ","
             "\"template\":{\"metadata\":{\"labels\":{\"app\":\"big\"}},\"spec\":" RC_SPEC "}}}",
             owner, replicas);
}

static const char RC[] =
    "{\"apiVersion\":\"ray.io/v1\",\"kind\":\"RayCluster\",\"metadata\":{\"name\":\"big-abc-x1\","
    "\"labels\":{\"app\":\"big\"},\"ownerReferences\":[{\"apiVersion\":"
    "\"orchestration.aibrix.ai/v1alpha1\",\"kind\":\"RayClusterReplicaSet\",\"name\":\"big-abc\","
    "\"controller\":true,\"blockOwnerDeletion\":true}]},\"spec\":" RC_SPEC "}";

static void test_orch_kinds(void **state)
{
    (void)state;
    K8S_NEED_FAKE();
    /* AIBrix's CRDs as brix ships them; no RayCluster CRD yet */
    static const char *const crds[] = {"deploy/crds/modeladapters.model.aibrix.ai.yaml",
                                       "deploy/crds/podautoscalers.autoscaling.aibrix.ai.yaml",
                                       "deploy/crds/rayclusterfleets.orchestration.aibrix.ai.yaml",
                                       "deploy/crds/rayclusterreplicasets.orchestration.aibrix.ai"
                                       ".yaml"};
    for (size_t i = 0; i < sizeof(crds) / sizeof(crds[0]); i++)
        assert_int_equal(k8s_fake_apply_file(TOKEN, crds[i], CRDS), 201);

    k8s_config cfg = {0};
    cfg.server = strdup(k8s_fake_url);
    cfg.ns = strdup(NS);
    cfg.token = strdup(TOKEN);
    k8s_client *c;
    char err[512];
    assert_int_equal(k8s_client_new(&loop, &cfg, NULL, &c, err, sizeof(err)), 0);
    heard h = {0};
    h.puts = json_object();
    h.deletes = json_object();
    h.statuses = json_object();
    ctl_objstore_k8s_opts so = {.ns = NS, .on_synced = on_synced, .ud = &h};
    ctl_objstore *st;
    assert_int_equal(ctl_objstore_k8s_open(c, NULL, &so, &st, err, sizeof(err)), 0);
    assert_int_equal(ctl_objstore_watch(st, CTL_KIND_NONE, on_watch, &h), 0);
    assert_int_equal(ctl_objstore_watch_status(st, CTL_KIND_NONE, on_status, &h), 0);
    /* synced though rayclusters.ray.io is not served (404) */
    RUN_UNTIL(&loop, h.synced);
    assert_true(ctl_objstore_k8s_synced(st));
    ctl_objstore_k8s_set_active(st, 1);

    /* a fleet: created */
    int changed = -1;
    assert_int_equal(put(st, FLEET, &changed, err, sizeof(err)), 0);
    assert_int_equal(changed, 1);
    RUN_UNTIL(&loop, heard_n(h.puts, "RayClusterFleet/big") == 1);
    assert_int_equal(gen_in_store(st, "RayClusterFleet", "big"), 1);

    /* its replica set: the owner's uid filled in from the cache */
    char rs[4096];
    rs_json(rs, sizeof(rs), "nope", 1);
    assert_int_equal(put(st, rs, NULL, err, sizeof(err)), -1); /* owner not seen */
    assert_non_null(strstr(err, "not found"));
    rs_json(rs, sizeof(rs), "big", 1);
    assert_int_equal(put(st, rs, &changed, err, sizeof(err)), 0);
    RUN_UNTIL(&loop, heard_n(h.puts, "RayClusterReplicaSet/big-abc") == 1);
    const char *fuid = cached_uid(st, CTL_KIND_RAYCLUSTER_FLEET, "big");
    assert_true(fuid[0]);
    assert_string_equal(owner_uid(st, "RayClusterReplicaSet", "big-abc"), fuid);

    /* KubeRay's CRD installed now: the RayCluster reflector lists it (after its backoff) and a
     * RayCluster put then is created, owned by the replica set */
    assert_int_equal(k8s_fake_apply_file(TOKEN, "deploy/kuberay/rayclusters.ray.io.yaml", CRDS),
                     201);
    json_t *x = NULL;
    assert_int_equal(put(st, RC, NULL, err, sizeof(err)), 0);
    RUN_UNTIL(&loop, heard_n(h.puts, "RayCluster/big-abc-x1") == 1);
    const char *rsuid = cached_uid(st, CTL_KIND_RAYCLUSTER_REPLICASET, "big-abc");
    assert_string_equal(owner_uid(st, "RayCluster", "big-abc-x1"), rsuid);
    /* the server's defaults (workerGroupSpecs[].numOfHosts) do not make an equal put a change */
    assert_int_equal(put(st, RC, &changed, err, sizeof(err)), 0);
    assert_int_equal(changed, 0);

    /* KubeRay writes the RayCluster's status: its status watchers hear of it */
    const char *kr = "{\"status\":{\"state\":\"ready\",\"readyWorkerReplicas\":1,"
                     "\"desiredWorkerReplicas\":1,\"conditions\":[{\"type\":\"HeadPodReady\","
                     "\"status\":\"True\"}]}}";
    assert_int_equal(k8s_fake_http(TOKEN, "PATCH",
                                   "/apis/ray.io/v1/namespaces/" NS
                                   "/rayclusters/big-abc-x1/status",
                                   kr, "application/merge-patch+json", NULL),
                     200);
    RUN_UNTIL(&loop, heard_n(h.statuses, "RayCluster/big-abc-x1") == 1);
    ctl_record r;
    assert_int_equal(rec(st, "RayCluster", "big-abc-x1", &r), 0);
    assert_string_equal(json_string_value(json_object_get(r.status, "state")), "ready");
    ctl_record_clear(&r);

    /* the RS controller's status: through /status, AIBrix's fields only */
    json_t *rst = json_pack("{s:i,s:i,s:i,s:i,s:i,s:s}", "replicas", 1, "readyReplicas", 1,
                            "availableReplicas", 1, "fullyLabeledReplicas", 1, "observedGeneration",
                            1, "notInTheCRD", "x");
    assert_int_equal(
        ctl_objstore_set_status(st, "RayClusterReplicaSet", "big-abc", rst, err, sizeof(err)), 0);
    json_decref(rst);
    RUN_UNTIL(&loop, heard_n(h.statuses, "RayClusterReplicaSet/big-abc") == 1);
    assert_int_equal(
        k8s_fake_http(TOKEN, "GET", ORCH "/rayclusterreplicasets/big-abc", NULL, NULL, &x), 200);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(x, "status"), "readyReplicas")), 1);
    assert_null(json_object_get(json_object_get(x, "status"), "notInTheCRD"));
    json_decref(x);
    assert_int_equal(heard_n(h.puts, "RayClusterReplicaSet/big-abc"), 1); /* no PUT for it */

    /* scaling the replica set: an update (GET + PUT), retried past a forced 409 */
    assert_int_equal(k8s_fake_http(TOKEN, "POST", "/fake/fault",
                                   "{\"method\":\"PUT\",\"path\":\"rayclusterreplicasets/big-abc\","
                                   "\"code\":409,\"count\":1}",
                                   NULL, NULL),
                     200);
    rs_json(rs, sizeof(rs), "big", 2);
    assert_int_equal(put(st, rs, &changed, err, sizeof(err)), 0);
    assert_int_equal(changed, 1);
    RUN_UNTIL(&loop, gen_in_store(st, "RayClusterReplicaSet", "big-abc") == 2);
    assert_int_equal(heard_n(h.puts, "RayClusterReplicaSet/big-abc"), 2);
    assert_string_equal(owner_uid(st, "RayClusterReplicaSet", "big-abc"), fuid); /* kept */
    ctl_objstore_k8s_stats ss;
    ctl_objstore_k8s_get_stats(st, &ss);
    assert_true(ss.updates >= 1);
    assert_true(ss.notify_status >= 2);

    /* deleting the fleet: the garbage collector takes its replica set, then the RayCluster */
    assert_int_equal(ctl_objstore_delete(st, "RayClusterFleet", "big", err, sizeof(err)), 0);
    RUN_UNTIL(&loop, heard_n(h.deletes, "RayClusterFleet/big") == 1 &&
                         heard_n(h.deletes, "RayClusterReplicaSet/big-abc") == 1 &&
                         heard_n(h.deletes, "RayCluster/big-abc-x1") == 1);
    ctl_record *all = NULL;
    size_t n = 0;
    assert_int_equal(ctl_objstore_list(st, NULL, &all, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    ctl_records_free(all, n);

    ctl_objstore_unwatch(st, on_watch, &h);
    ctl_objstore_unwatch(st, on_status, &h);
    ctl_objstore_close(st);
    k8s_client_close(c, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    json_decref(h.puts);
    json_decref(h.deletes);
    json_decref(h.statuses);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orch_kinds),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
