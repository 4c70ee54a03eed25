/* ctl_obj: a Deployment's readinessProbe, livenessProbe and startupProbe
 * (httpGet with a numbered or named port, tcpSocket, exec, grpc noted),
 * Kubernetes' defaults, brix's own readiness without one, and the errors
 * naming their field. */
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

#define HEAD                                                                                       \
    "apiVersion: apps/v1\n"                                                                        \
    "kind: Deployment\n"                                                                           \
    "metadata: {name: llama, labels: {model.aibrix.ai/name: llama}}\n"                             \
    "spec:\n"                                                                                      \
    "  template:\n"                                                                                \
    "    spec:\n"                                                                                  \
    "      containers:\n"                                                                          \
    "        - name: vllm\n"                                                                       \
    "          command: [vllm, serve, /m, --port, \"8000\"]\n"                                     \
    "          ports: [{containerPort: 8000, name: http}]\n"

static ctl_obj *parse(const char *yaml, char *err, size_t errlen)
{
    json_t *docs = NULL;
    if (bx_yaml_load_all(yaml, strlen(yaml), NULL, &docs, err, errlen) != 0) return NULL;
    ctl_obj *o = NULL;
    int r = ctl_obj_parse(json_array_get(docs, 0), &o, err, errlen);
    json_decref(docs);
    return r == 0 ? o : NULL;
}

static void test_no_probes(void **st)
{
    (void)st;
    char err[512];
    ctl_obj *o = parse(HEAD, err, sizeof(err));
    if (!o) fail_msg("%s", err);
    const ctl_deployment *d = &o->u.dep;
    assert_false(d->readiness.given);
    assert_int_equal(d->readiness.kind, CTL_PROBE_HTTP);
    assert_string_equal(d->readiness.path, "/health");
    assert_true(d->readiness.period_s == 1);
    assert_true(d->readiness.timeout_s == 0); /* the orchestrator's */
    assert_int_equal(d->readiness.failure_threshold, 0);
    assert_false(d->liveness.given);
    assert_false(d->startup.given);
    assert_true(d->startup_timeout_s == 600);
    ctl_obj_free(o);
}

static void test_all_probes(void **st)
{
    (void)st;
    char err[512];
    ctl_obj *o = parse(HEAD "          readinessProbe:\n"
                            "            httpGet: {path: /ready, port: http}\n"
                            "            initialDelaySeconds: 2\n"
                            "            successThreshold: 2\n"
                            "          livenessProbe:\n"
                            "            tcpSocket: {port: 8000}\n"
                            "            periodSeconds: 4\n"
                            "            timeoutSeconds: 3\n"
                            "            failureThreshold: 5\n"
                            "          startupProbe:\n"
                            "            exec: {command: [test, -f, /tmp/up]}\n"
                            "            failureThreshold: 30\n"
                            "            periodSeconds: 2\n",
                       err, sizeof(err));
    if (!o) fail_msg("%s", err);
    const ctl_deployment *d = &o->u.dep;
    assert_true(d->readiness.given);
    assert_int_equal(d->readiness.kind, CTL_PROBE_HTTP);
    assert_string_equal(d->readiness.path, "/ready");
    assert_true(d->readiness.initial_delay_s == 2);
    assert_true(d->readiness.period_s == 10); /* Kubernetes' defaults */
    assert_true(d->readiness.timeout_s == 1);
    assert_int_equal(d->readiness.failure_threshold, 3);
    assert_int_equal(d->readiness.success_threshold, 2);
    assert_true(d->liveness.given);
    assert_int_equal(d->liveness.kind, CTL_PROBE_TCP);
    assert_true(d->liveness.period_s == 4);
    assert_true(d->liveness.timeout_s == 3);
    assert_int_equal(d->liveness.failure_threshold, 5);
    assert_true(d->startup.given);
    assert_int_equal(d->startup.kind, CTL_PROBE_EXEC);
    assert_string_equal(d->startup.exec[0], "test");
    assert_string_equal(d->startup.exec[2], "/tmp/up");
    assert_null(d->startup.exec[3]);
    assert_int_equal(d->startup.failure_threshold, 30);
    assert_true(d->startup.period_s == 2);
    assert_null(strstr(o->notes, "Probe")); /* nothing ignored */
    ctl_obj_free(o);
}

static void test_notes(void **st)
{
    (void)st;
    char err[512];
    ctl_obj *o = parse(HEAD "          readinessProbe:\n"
                            "            httpGet: {path: /h, port: metrics, scheme: HTTPS}\n"
                            "          livenessProbe:\n"
                            "            grpc: {port: 9000}\n",
                       err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_non_null(strstr(o->notes, "readinessProbe.httpGet.port: 'metrics' names no port of "
                                     "containers[0]; probed on the pod's port"));
    assert_non_null(strstr(o->notes, "readinessProbe.httpGet: host, scheme and httpHeaders"));
    assert_non_null(strstr(o->notes, "livenessProbe.grpc: not run locally"));
    assert_false(o->u.dep.liveness.given);
    ctl_obj_free(o);
}

static void expect_error(const char *probe, const char *want)
{
    char yaml[2048], err[512] = "";
    snprintf(yaml, sizeof(yaml), HEAD "%s", probe);
    ctl_obj *o = parse(yaml, err, sizeof(err));
    if (o) fail_msg("accepted, expected: %s", want);
    if (!strstr(err, want)) fail_msg("\n  got:  %s\n  want: %s", err, want);
}

static void test_errors(void **st)
{
    (void)st;
    expect_error("          livenessProbe: {periodSeconds: 3}\n",
                 "livenessProbe: must have exactly one of httpGet, tcpSocket, exec, grpc");
    expect_error("          livenessProbe: {httpGet: {path: /a}, tcpSocket: {port: 1}}\n",
                 "must have exactly one of");
    expect_error("          startupProbe: {httpGet: {path: /a}, successThreshold: 2}\n",
                 "startupProbe: successThreshold must be 1");
    expect_error("          readinessProbe: {httpGet: {path: /a, port: 0}}\n",
                 "readinessProbe.httpGet.port: must be 1..65535 or a port name");
    expect_error("          readinessProbe: {httpGet: {path: a}}\n",
                 "readinessProbe.httpGet.path: must be an absolute path");
    expect_error("          livenessProbe: {exec: {command: []}}\n",
                 "livenessProbe.exec.command: required");
    expect_error("          livenessProbe: {tcpSocket: {port: 1}, periodSeconds: 0}\n",
                 "livenessProbe.periodSeconds");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_probes),
        cmocka_unit_test(test_all_probes),
        cmocka_unit_test(test_notes),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
