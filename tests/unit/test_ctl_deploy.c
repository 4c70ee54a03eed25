/* ctl_deploy, the Deployment controller, over the "sqlite" object store
 * and the real local orchestrator (ctl_orch_local) running `sleep {port}` as its engines
 * (they never become Ready; the statuses from Ready pods are checked with
 * hand-made pod views). Objects reach the controller as in `brix up`:
 * stored, then the store's watch; a restart is a new controller and a new
 * orchestrator over the same store, synced. Checked: the replicas wanted
 * (spec, then the autoscaler's, then resumed from status after a restart),
 * the callbacks (routing strategy, replicas), the status written from the
 * pods, the is-autoscaled check following PodAutoscalers, and delete. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl/ctl_deploy.h"
#include "ctl/ctl_objstore_sqlite.h"
#include "ctl/ctl_orch_local.h"

#define DEADLINE_MS 20000

typedef struct env {
    uv_loop_t loop;
    ctl_objstore *st;
    ctl_orch *orch;
    ctl_deploy *dep;
    char logdir[64];
    char strategy_model[64], strategy[64];
    int strategy_calls;
    char replicas_dep[64];
    int replicas, replicas_calls;
    int closed;
} env;

static int on_strategy(void *ud, const char *model, const char *strategy)
{
    env *e = ud;
    e->strategy_calls++;
    snprintf(e->strategy_model, sizeof(e->strategy_model), "%s", model);
    snprintf(e->strategy, sizeof(e->strategy), "%s", strategy ? strategy : "(null)");
    return 0;
}

static void on_replicas(void *ud, const char *deployment, const char *model, int replicas)
{
    env *e = ud;
    (void)model;
    e->replicas_calls++;
    snprintf(e->replicas_dep, sizeof(e->replicas_dep), "%s", deployment);
    e->replicas = replicas;
}

static void on_closed(void *ud)
{
    ((env *)ud)->closed++;
}

static void start_controllers(env *e)
{
    char err[256];
    ctl_orch_local_cfg cfg;
    ctl_orch_local_cfg_default(&cfg);
    cfg.log_dir = e->logdir;
    cfg.probe_period_s = 0.05;
    assert_int_equal(ctl_orch_local_init(&e->orch, &e->loop, ctl_objstore_sqlite_store(e->st), &cfg,
                                         NULL, NULL, err, sizeof(err)),
                     0);
    ctl_deploy_cbs cbs = {.set_strategy = on_strategy, .replicas = on_replicas};
    assert_int_equal(ctl_deploy_init(&e->dep, &e->loop, e->st, e->orch, &cbs, e, err, sizeof(err)),
                     0);
}

/* Closes both (engines stopped) and runs the loop until they are gone. */
static void stop_controllers(env *e)
{
    e->closed = 0;
    ctl_deploy_close(e->dep, on_closed, e);
    ctl_orch_close(e->orch, 1, on_closed, e);
    e->dep = NULL;
    e->orch = NULL;
    uv_update_time(&e->loop);
    uint64_t start = uv_now(&e->loop);
    while (e->closed < 2) {
        uv_run(&e->loop, UV_RUN_ONCE);
        if (uv_now(&e->loop) - start > DEADLINE_MS) fail_msg("controllers did not close");
    }
}

static void env_init(env *e)
{
    memset(e, 0, sizeof(*e));
    assert_int_equal(uv_loop_init(&e->loop), 0);
    char err[256];
    assert_int_equal(ctl_objstore_sqlite_open(":memory:", &e->st, err, sizeof(err)), 0);
    snprintf(e->logdir, sizeof(e->logdir), "/tmp/brix-deploy-XXXXXX");
    assert_non_null(mkdtemp(e->logdir));
    start_controllers(e);
}

static void env_free(env *e)
{
    stop_controllers(e);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    ctl_objstore_close(e->st);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", e->logdir);
    assert_int_equal(system(cmd), 0);
}

static void put(env *e, const char *y)
{
    ctl_obj **objs;
    size_t n;
    char err[512];
    if (ctl_obj_load_yaml(y, strlen(y), &objs, &n, err, sizeof(err)) != 0) fail_msg("%s", err);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ctl_objstore_put(e->st, objs[i], NULL, err, sizeof(err)), 0);
    ctl_objs_free(objs, n);
}

static void put_deployment(env *e, int replicas)
{
    char y[1024];
    snprintf(y, sizeof(y),
             "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: llm\n  labels:\n"
             "    model.aibrix.ai/name: llm-model\n  annotations:\n"
             "    brix.ai/routing-strategy: least-request\nspec:\n  replicas: %d\n"
             "  template:\n    spec:\n      containers:\n"
             "        - command: [sleep, \"{port}\"]\n",
             replicas);
    put(e, y);
}

static const char pa_yaml[] =
    "apiVersion: autoscaling.aibrix.ai/v1alpha1\nkind: PodAutoscaler\n"
    "metadata: {name: llm-pa}\nspec:\n"
    "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llm}\n"
    "  minReplicas: 0\n  maxReplicas: 4\n  scalingStrategy: KPA\n"
    "  metricsSources:\n    - metricSourceType: pod\n"
    "      protocolType: http\n      path: /metrics\n"
    "      targetMetric: num_requests_running\n      targetValue: \"4\"\n";

static json_t *status(env *e)
{
    ctl_record r;
    char err[256];
    assert_int_equal(ctl_objstore_get(e->st, "Deployment", "llm", &r, err, sizeof(err)), 0);
    json_t *s = json_incref(r.status);
    ctl_record_clear(&r);
    return s;
}

static int status_int(env *e, const char *field)
{
    json_t *s = status(e);
    json_t *v = json_object_get(s, field);
    int r = json_is_integer(v) ? (int)json_integer_value(v) : -1;
    json_decref(s);
    return r;
}

static const char *available(env *e, char *buf, size_t len)
{
    json_t *s = status(e);
    json_t *c = json_array_get(json_object_get(s, "conditions"), 0);
    snprintf(buf, len, "%s", json_string_value(json_object_get(c, "status")));
    json_decref(s);
    return buf;
}

static size_t orch_pods(env *e)
{
    ctl_podview v[16];
    return ctl_orch_pods(e->orch, "llm", v, 16);
}

static void feed_pods(env *e, int ready)
{
    ctl_podview v[16];
    size_t n = ctl_orch_pods(e->orch, NULL, v, 16);
    for (size_t i = 0; i < n && (int)i < ready; i++)
        v[i].phase = CTL_POD_READY; /* as if they had answered their probe */
    ctl_deploy_pods(e->dep, v, n);
}

static void test_spec_replicas_status_and_delete(void **state)
{
    (void)state;
    env e;
    env_init(&e);
    put_deployment(&e, 2);
    ctl_deploy_info di;
    assert_int_equal(ctl_deploy_by_model(e.dep, "llm-model", &di), 0);
    assert_string_equal(di.name, "llm");
    assert_int_equal(di.replicas, 2);
    assert_false(di.autoscaled);
    assert_int_equal(ctl_deploy_by_model(e.dep, "other", &di), 1);
    assert_string_equal(e.strategy_model, "llm-model");
    assert_string_equal(e.strategy, "least-request");
    assert_string_equal(e.replicas_dep, "llm");
    assert_int_equal(e.replicas, 2);
    assert_int_equal(orch_pods(&e), 2); /* the orchestrator was asked for two */

    char buf[16];
    feed_pods(&e, 1);
    assert_int_equal(status_int(&e, "replicas"), 2);
    assert_int_equal(status_int(&e, "readyReplicas"), 1);
    assert_int_equal(status_int(&e, "desiredReplicas"), 2);
    assert_int_equal(status_int(&e, "autoscaledReplicas"), -1);
    assert_string_equal(available(&e, buf, sizeof(buf)), "False");
    feed_pods(&e, 2);
    assert_int_equal(status_int(&e, "readyReplicas"), 2);
    assert_string_equal(available(&e, buf, sizeof(buf)), "True");

    /* the spec changes the size while nothing autoscales it */
    put_deployment(&e, 1);
    assert_int_equal(ctl_deploy_by_model(e.dep, "llm-model", &di), 0);
    assert_int_equal(di.replicas, 1);

    /* delete: gone from the controller, the strategy reset */
    char err[256];
    assert_int_equal(ctl_objstore_delete(e.st, "Deployment", "llm", err, sizeof(err)), 0);
    assert_int_equal(ctl_deploy_by_model(e.dep, "llm-model", &di), 1);
    assert_string_equal(e.strategy, "(null)");
    env_free(&e);
}

static void test_autoscaled_and_resumed_after_restart(void **state)
{
    (void)state;
    env e;
    env_init(&e);
    put_deployment(&e, 1);
    put(&e, pa_yaml);
    ctl_deploy_info di;
    assert_int_equal(ctl_deploy_by_model(e.dep, "llm-model", &di), 0);
    assert_true(di.autoscaled);
    assert_int_equal(e.replicas, 1);

    ctl_deploy_scale(e.dep, "llm", 3, "test");
    ctl_deploy_scale(e.dep, "nosuch", 3, "ignored");
    assert_int_equal(ctl_deploy_by_model(e.dep, "llm-model", &di), 0);
    assert_int_equal(di.replicas, 3);
    assert_int_equal(orch_pods(&e), 3);
    assert_int_equal(status_int(&e, "autoscaledReplicas"), 3);
    assert_int_equal(status_int(&e, "desiredReplicas"), 3);

    /* a spec change keeps the autoscaler's size */
    put_deployment(&e, 2);
    assert_int_equal(ctl_deploy_by_model(e.dep, "llm-model", &di), 0);
    assert_int_equal(di.replicas, 3);

    /* restart: a new controller over the same store starts at the size the
     * autoscaler last decided */
    stop_controllers(&e);
    start_controllers(&e);
    char err[256];
    assert_int_equal(ctl_objstore_sync(e.st, CTL_KIND_DEPLOYMENT, err, sizeof(err)), 0);
    assert_int_equal(ctl_objstore_sync(e.st, CTL_KIND_POD_AUTOSCALER, err, sizeof(err)), 0);
    assert_int_equal(ctl_deploy_by_model(e.dep, "llm-model", &di), 0);
    assert_true(di.autoscaled);
    assert_int_equal(di.replicas, 3);
    assert_int_equal(orch_pods(&e), 3);

    /* the autoscaler deleted: no longer autoscaled, the size stays */
    assert_int_equal(ctl_objstore_delete(e.st, "PodAutoscaler", "llm-pa", err, sizeof(err)), 0);
    assert_int_equal(ctl_deploy_by_model(e.dep, "llm-model", &di), 0);
    assert_false(di.autoscaled);
    feed_pods(&e, 0);
    assert_int_equal(status_int(&e, "autoscaledReplicas"), -1);
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_replicas_status_and_delete),
        cmocka_unit_test(test_autoscaled_and_resumed_after_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
