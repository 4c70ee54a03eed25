/* ctl_raycluster's pure parts: the spec read from a RayCluster (defaults,
 * min/max clamping, numOfHosts, errors), the members' names (plain, cut
 * with a hash, namespaced), each member's synthesized Deployment (parsed
 * with ctl_obj_parse: KubeRay's labels, the group variables, a worker
 * without command runs brix's engine) and the status in KubeRay's shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/ctl_key.h"
#include "ctl/ctl_raycluster.h"

static const char *RC_DOC =
    "{\"apiVersion\":\"ray.io/v1\",\"kind\":\"RayCluster\","
    "\"metadata\":{\"name\":\"rc\",\"labels\":{\"model.aibrix.ai/name\":\"own\"},"
    " \"annotations\":{\"brix.ai/drain-grace-seconds\":\"5\",\"other\":\"x\"}},"
    "\"spec\":{\"headGroupSpec\":{\"rayStartParams\":{\"dashboard-host\":\"0.0.0.0\"},"
    "  \"template\":{\"metadata\":{\"labels\":{\"model.aibrix.ai/name\":\"m1\",\"team\":\"a\","
    "   \"ray.io/node-type\":\"worker\"}},"
    "   \"spec\":{\"containers\":[{\"name\":\"ray-head\",\"env\":[{\"name\":\"BRIX_GROUP_SIZE\","
    "    \"value\":\"9\"},{\"name\":\"KEEP\",\"value\":\"1\"}]}]}}},"
    " \"workerGroupSpecs\":[{\"groupName\":\"small\",\"replicas\":0,\"minReplicas\":2,"
    "   \"maxReplicas\":5,\"numOfHosts\":1,\"template\":{\"spec\":{\"containers\":[{}]}}},"
    "  {\"groupName\":\"big\",\"replicas\":9,\"maxReplicas\":1,\"numOfHosts\":2,"
    "   \"template\":{\"spec\":{\"containers\":[{\"command\":[\"sh\",\"-c\",\"x {port}\"]}]}}}]}}";

static ctl_obj *rc_obj(const char *text)
{
    json_t *doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    ctl_obj *o = NULL;
    char err[512];
    if (ctl_obj_parse(doc, &o, err, sizeof(err)) != 0) fail_msg("%s", err);
    json_decref(doc);
    o->generation = 3;
    return o;
}

static void test_view(void **st)
{
    (void)st;
    ctl_obj *o = rc_obj(RC_DOC);
    ctl_raycluster_view v;
    char err[256];
    assert_int_equal(ctl_raycluster_view_read(o, &v, err, sizeof(err)), 0);
    assert_string_equal(v.model, "m1"); /* the head template's label wins */
    assert_int_equal(v.ngroups, 2);
    assert_int_equal(v.workers[0].hosts, 2); /* replicas 0 raised to minReplicas 2 */
    assert_int_equal(v.workers[1].hosts, 2); /* replicas 9 cut to maxReplicas 1, x 2 hosts */
    assert_int_equal(v.desired_workers, 4);
    assert_string_equal(v.head.name, "headgroup");
    ctl_obj_free(o);

    /* no model label anywhere: named (the rest is ctl_obj_parse's, test_ctl_obj_ray) */
    o = rc_obj(
        "{\"apiVersion\":\"ray.io/v1\",\"kind\":\"RayCluster\",\"metadata\":{\"name\":\"x\"},"
        "\"spec\":{\"headGroupSpec\":{\"template\":{\"spec\":{\"containers\":[{}]}}}}}");
    assert_int_equal(ctl_raycluster_view_read(o, &v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "model.aibrix.ai/name"));
    ctl_obj_free(o);
}

static void test_names(void **st)
{
    (void)st;
    char out[CTL_NAME_MAX + 1];
    assert_int_equal(ctl_raycluster_member_name("rc", NULL, -1, out, sizeof(out)), 0);
    assert_string_equal(out, "rc-head");
    assert_int_equal(ctl_raycluster_member_name("rc", "small", 3, out, sizeof(out)), 0);
    assert_string_equal(out, "rc-small-worker-3");
    assert_int_equal(ctl_raycluster_member_name("team:rc", "small", 0, out, sizeof(out)), 0);
    assert_string_equal(out, "team:rc-small-worker-0");
    /* not a DNS label: cut to a clean form plus a hash, the index kept last */
    assert_int_equal(ctl_raycluster_member_name("rc", "Small_Group", 1, out, sizeof(out)), 0);
    assert_true(ctl_key_valid(out));
    assert_int_equal(strncmp(out, "rc-small-group-worker-", 22), 0);
    assert_int_equal(strlen(out), strlen("rc-small-group-worker-") + 8 + 2);
    assert_string_equal(out + strlen(out) - 2, "-1");
    /* too long: cut, hashed, unique per input */
    char a[CTL_NAME_MAX + 1], b[CTL_NAME_MAX + 1];
    const char *longname = "a-very-long-cluster-name-that-uses-most-of-the-sixty-three-b";
    assert_int_equal(ctl_raycluster_member_name(longname, "group-one", 12, a, sizeof(a)), 0);
    assert_int_equal(ctl_raycluster_member_name(longname, "group-two", 12, b, sizeof(b)), 0);
    assert_true(strlen(a) <= CTL_NAME_MAX && ctl_key_valid(a) && ctl_key_valid(b));
    assert_string_not_equal(a, b);
    assert_string_equal(a + strlen(a) - 3, "-12");
    assert_int_equal(ctl_raycluster_member_name(longname, NULL, -1, a, sizeof(a)), 0);
    assert_true(strlen(a) <= CTL_NAME_MAX && ctl_key_valid(a));
}

static const char *env_of(const ctl_obj *d, const char *name)
{
    for (size_t i = 0; i < d->u.dep.nenv; i++)
        if (!strcmp(d->u.dep.env[i].name, name)) return d->u.dep.env[i].value;
    return NULL;
}

static ctl_obj *member(const ctl_obj *o, const ctl_raycluster_view *v,
                       const ctl_raycluster_member_cfg *m)
{
    char err[512];
    json_t *doc = ctl_raycluster_member_doc(o, v, m, err, sizeof(err));
    if (!doc) fail_msg("%s", err);
    ctl_obj *d = NULL;
    if (ctl_obj_parse(doc, &d, err, sizeof(err)) != 0) fail_msg("%s", err);
    json_decref(doc);
    return d;
}

static void test_member_doc(void **st)
{
    (void)st;
    ctl_obj *o = rc_obj(RC_DOC);
    ctl_raycluster_view v;
    char err[256];
    assert_int_equal(ctl_raycluster_view_read(o, &v, err, sizeof(err)), 0);

    ctl_raycluster_member_cfg h = {.key = "rc-head", .g = &v.head, .head = 1, .group_size = 5};
    ctl_obj *d = member(o, &v, &h);
    assert_string_equal(d->name, "rc-head");
    assert_string_equal(d->u.dep.model, "m1");
    assert_int_equal(d->u.dep.replicas, 1);
    assert_int_equal(d->u.dep.default_command, 1); /* no command: brix's engine, as a Deployment */
    const json_t *l = d->u.dep.pod_labels;
    assert_string_equal(json_string_value(json_object_get(l, "ray.io/cluster")), "rc");
    /* KubeRay's labels win over the template's */
    assert_string_equal(json_string_value(json_object_get(l, "ray.io/node-type")), "head");
    assert_string_equal(json_string_value(json_object_get(l, "ray.io/group")), "headgroup");
    assert_string_equal(json_string_value(json_object_get(l, "ray.io/is-ray-node")), "yes");
    assert_string_equal(json_string_value(json_object_get(l, "team")), "a");
    assert_string_equal(env_of(d, "BRIX_GROUP_SIZE"), "5"); /* the runner's, not the template's */
    assert_string_equal(env_of(d, "KEEP"), "1");
    assert_string_equal(env_of(d, "KUBERAY_GEN_RAY_START_CMD"),
                        "ray start --head --dashboard-host=0.0.0.0 --block");
    assert_null(env_of(d, "BRIX_GROUP_LEADER"));
    assert_true(d->u.dep.drain_grace_s == 5); /* the RayCluster's brix.ai/ annotation */
    ctl_obj_free(d);

    ctl_raycluster_member_cfg w = {.key = "team:rc-small-worker-1",
                                   .g = &v.workers[0],
                                   .rank = 2,
                                   .group_size = 5,
                                   .head_port = 4321};
    d = member(o, &v, &w);
    assert_string_equal(d->name, "rc-small-worker-1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(d->raw, "metadata"), "namespace")),
        "team");
    assert_string_equal(d->u.dep.model, "m1");
    l = d->u.dep.pod_labels;
    assert_string_equal(json_string_value(json_object_get(l, "ray.io/node-type")), "worker");
    assert_string_equal(json_string_value(json_object_get(l, "ray.io/group")), "small");
    assert_string_equal(env_of(d, "BRIX_GROUP_LEADER"), "http://127.0.0.1:4321");
    assert_string_equal(env_of(d, "BRIX_GROUP_RANK"), "2");
    assert_null(env_of(d, "BRIX_GROUP_SIZE"));
    assert_string_equal(env_of(d, "KUBERAY_GEN_RAY_START_CMD"),
                        "ray start --address=127.0.0.1:6379 --block");
    /* a worker without command: {brix} engine --port {port}, no model, no LoRA */
    assert_int_equal(d->u.dep.argc, 4);
    assert_string_equal(d->u.dep.argv[0], "{brix}");
    assert_string_equal(d->u.dep.argv[1], "engine");
    assert_string_equal(d->u.dep.argv[2], "--port");
    assert_string_equal(d->u.dep.argv[3], "{port}");
    ctl_obj_free(d);

    /* a worker with its own command keeps it */
    w.g = &v.workers[1];
    w.key = "rc-big-worker-0";
    d = member(o, &v, &w);
    assert_string_equal(d->u.dep.argv[0], "sh");
    assert_null(env_of(d, "BRIX_PORT")); /* its command names {port} */
    ctl_obj_free(d);
    ctl_obj_free(o);

    /* a Ray worker's script names no port: BRIX_PORT gives it one of its own */
    o = rc_obj(
        "{\"apiVersion\":\"ray.io/v1\",\"kind\":\"RayCluster\",\"metadata\":{\"name\":\"r\","
        "\"labels\":{\"model.aibrix.ai/name\":\"m\"}},\"spec\":{\"headGroupSpec\":"
        "{\"template\":{\"spec\":{\"containers\":[{}]}}},\"workerGroupSpecs\":[{\"groupName\":"
        "\"g\",\"replicas\":2,"
        "\"template\":{\"spec\":{\"containers\":[{\"command\":[\"bash\",\"-c\"],"
        "\"args\":[\"eval \\\"$KUBERAY_GEN_RAY_START_CMD\\\" && tail -f /dev/null\"]}]}}}]}}");
    assert_int_equal(ctl_raycluster_view_read(o, &v, err, sizeof(err)), 0);
    ctl_raycluster_member_cfg rw = {
        .key = "r-g-worker-0", .g = &v.workers[0], .rank = 1, .group_size = 3, .head_port = 7};
    d = member(o, &v, &rw);
    assert_string_equal(env_of(d, "BRIX_PORT"), "{port}");
    assert_int_equal(d->u.dep.fixed_port, 0); /* brix allocates its port */
    ctl_obj_free(d);
    ctl_obj_free(o);
}

static const json_t *cond(const json_t *st, const char *type)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(st, "conditions"), i, c)
    {
        if (!strcmp(json_string_value(json_object_get(c, "type")), type)) return c;
    }
    return NULL;
}

static void test_status(void **st)
{
    (void)st;
    ctl_raycluster_cond prov = {-1, 0}, head = {-1, 0};
    ctl_raycluster_cond_set(&prov, 0, 1000);
    ctl_raycluster_cond_set(&prov, 0, 5000); /* unchanged: the time stays */
    assert_int_equal(prov.since_ms, 1000);
    ctl_raycluster_cond_set(&head, 1, 86400000);
    ctl_raycluster_obs o = {.desired_workers = 2,
                            .ready_workers = 1,
                            .head_pod = "rc-head-0",
                            .head_ready = 1,
                            .generation = 4,
                            .provisioned = prov,
                            .head = head};
    json_t *s = ctl_raycluster_status(&o);
    assert_non_null(s);
    assert_null(json_object_get(s, "state")); /* a worker is not ready */
    assert_int_equal(json_integer_value(json_object_get(s, "desiredWorkerReplicas")), 2);
    assert_int_equal(json_integer_value(json_object_get(s, "readyWorkerReplicas")), 1);
    assert_int_equal(json_integer_value(json_object_get(s, "availableWorkerReplicas")), 1);
    assert_int_equal(json_integer_value(json_object_get(s, "observedGeneration")), 4);
    assert_string_equal(json_string_value(json_object_get(json_object_get(s, "head"), "podName")),
                        "rc-head-0");
    const json_t *p = cond(s, "RayClusterProvisioned");
    assert_string_equal(json_string_value(json_object_get(p, "status")), "False");
    assert_string_equal(json_string_value(json_object_get(p, "reason")),
                        "RayClusterPodsProvisioning");
    assert_string_equal(json_string_value(json_object_get(p, "lastTransitionTime")),
                        "1970-01-01T00:00:01Z");
    const json_t *h = cond(s, "HeadPodReady");
    assert_string_equal(json_string_value(json_object_get(h, "status")), "True");
    assert_string_equal(json_string_value(json_object_get(h, "lastTransitionTime")),
                        "1970-01-02T00:00:00Z");
    json_decref(s);

    /* all ready: state ready; a restart: False with the runner's reason */
    ctl_raycluster_cond_set(&o.provisioned, 1, 2000);
    o.ready_workers = 2;
    s = ctl_raycluster_status(&o);
    assert_string_equal(json_string_value(json_object_get(s, "state")), "ready");
    assert_string_equal(
        json_string_value(json_object_get(cond(s, "RayClusterProvisioned"), "reason")),
        "AllPodRunningAndReadyFirstTime");
    json_decref(s);
    ctl_raycluster_cond_set(&o.provisioned, 0, 3000);
    o.prov_reason = "GroupRestarting";
    o.prov_message = "member rc-x exited";
    o.head_pod = NULL;
    o.head_ready = 0;
    ctl_raycluster_cond_set(&o.head, 0, 3000);
    s = ctl_raycluster_status(&o);
    assert_null(json_object_get(s, "state"));
    assert_null(json_object_get(s, "head"));
    assert_string_equal(
        json_string_value(json_object_get(cond(s, "RayClusterProvisioned"), "reason")),
        "GroupRestarting");
    assert_string_equal(json_string_value(json_object_get(cond(s, "HeadPodReady"), "reason")),
                        "HeadPodNotFound");
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_view),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_member_doc),
        cmocka_unit_test(test_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
