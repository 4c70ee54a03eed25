/* ctl_obj: valid objects of each kind from YAML text, defaults, the command
 * template and its rendering, label selectors, and every rejection naming
 * its field. */
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

static ctl_obj *parse_one(const char *yaml, char *err, size_t errlen)
{
    json_t *docs = NULL;
    if (bx_yaml_load_all(yaml, strlen(yaml), NULL, &docs, err, errlen) != 0) return NULL;
    assert_int_equal(json_array_size(docs), 1);
    ctl_obj *o = NULL;
    int r = ctl_obj_parse(json_array_get(docs, 0), &o, err, errlen);
    json_decref(docs);
    if (r != 0) {
        assert_null(o);
        return NULL;
    }
    assert_non_null(o);
    return o;
}

static void expect_error(const char *yaml, const char *want)
{
    char err[512] = "";
    ctl_obj *o = parse_one(yaml, err, sizeof(err));
    if (o) fail_msg("accepted, expected error: %s", want);
    if (strcmp(err, want) != 0) fail_msg("error\n  got:  %s\n  want: %s", err, want);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[*len] = '\0';
    return buf;
}

#define DEP_HEAD                                                                                   \
    "apiVersion: apps/v1\n"                                                                        \
    "kind: Deployment\n"                                                                           \
    "metadata:\n"                                                                                  \
    "  name: llama\n"                                                                              \
    "  labels: {model.aibrix.ai/name: llama-3-8b}\n"

static void test_deployment_defaults(void **st)
{
    (void)st;
    char err[512];
    ctl_obj *o = parse_one(DEP_HEAD "spec: {}\n", err, sizeof(err));
    assert_non_null(o);
    assert_int_equal(o->kind, CTL_KIND_DEPLOYMENT);
    assert_string_equal(o->name, "llama");
    assert_int_equal(o->generation, 0);
    const ctl_deployment *d = &o->u.dep;
    assert_string_equal(d->model, "llama-3-8b");
    assert_string_equal(d->engine, "vllm");
    assert_int_equal(d->replicas, 1);
    assert_true(d->default_command);
    assert_int_equal(d->argc, 7);
    const char *want[] = {"{brix}",  "engine",  "--port",       "{port}",
                          "--model", "{model}", "--enable-lora"};
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(d->argv[i], want[i]);
    assert_null(d->argv[7]);
    assert_int_equal(d->nenv, 0);
    assert_string_equal(d->readiness.path, "/health");
    assert_true(d->readiness.period_s == 1);
    assert_true(d->startup_timeout_s == 600);
    assert_true(d->drain_grace_s == 30);
    assert_null(d->routing_strategy);
    assert_string_equal(json_string_value(json_object_get(d->pod_labels, "model.aibrix.ai/name")),
                        "llama-3-8b");
    assert_string_equal(o->notes, "");

    char **argv = NULL, **envp = NULL;
    ctl_render_vars v = {"/usr/bin/brix", 9001, 3, NULL};
    assert_int_equal(ctl_deployment_render(o, &v, &argv, &envp, err, sizeof(err)), 0);
    const char *rendered[] = {"/usr/bin/brix", "engine",     "--port",       "9001",
                              "--model",       "llama-3-8b", "--enable-lora"};
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(argv[i], rendered[i]);
    assert_null(argv[7]);
    assert_null(envp[0]);
    free(argv);
    free(envp);
    ctl_obj_free(o);
}

static void test_deployment_full(void **st)
{
    (void)st;
    char err[512];
    const char *y = "apiVersion: apps/v1\n"
                    "kind: Deployment\n"
                    "metadata:\n"
                    "  name: mistral-7b\n"
                    "  namespace: default\n"
                    "  annotations:\n"
                    "    brix.ai/startup-timeout-seconds: \"90\"\n"
                    "    brix.ai/drain-grace-seconds: \"5\"\n"
                    "    brix.ai/routing-strategy: prefix-cache\n"
                    "spec:\n"
                    "  replicas: 0\n"
                    "  template:\n"
                    "    metadata:\n"
                    "      labels:\n"
                    "        model.aibrix.ai/name: mistral-7b\n"
                    "        model.aibrix.ai/engine: sglang\n"
                    "        adapter.model.aibrix.ai/enabled: \"true\"\n"
                    "    spec:\n"
                    "      terminationGracePeriodSeconds: 45\n"
                    "      containers:\n"
                    "        - name: vllm\n"
                    "          image: vllm/vllm-openai:v0.8.0\n"
                    "          command: [python3, -m, vllm.entrypoints.openai.api_server]\n"
                    "          args: [--port, \"{port}\", --served-model-name, \"{model}\", --x, "
                    "\"{name}-{replica}-{nope}\"]\n"
                    "          ports: [{containerPort: 8000}]\n"
                    "          env:\n"
                    "            - {name: VLLM_ALLOW_RUNTIME_LORA_UPDATING, value: \"True\"}\n"
                    "            - {name: REPLICA, value: \"r{replica}\"}\n"
                    "            - name: HF_TOKEN\n"
                    "              valueFrom: {secretKeyRef: {name: hf, key: token}}\n"
                    "            - {name: EMPTY}\n"
                    "          readinessProbe:\n"
                    "            httpGet: {path: /v1/models, port: 8000}\n"
                    "            periodSeconds: 3\n"
                    "        - name: sidecar\n"
                    "          image: aibrix/runtime\n"
                    "status: {replicas: 7}\n";
    ctl_obj *o = parse_one(y, err, sizeof(err));
    if (!o) fail_msg("%s", err);
    const ctl_deployment *d = &o->u.dep;
    assert_string_equal(d->model, "mistral-7b");
    assert_string_equal(d->engine, "sglang");
    assert_int_equal(d->replicas, 0);
    assert_false(d->default_command);
    assert_int_equal(d->argc, 9);
    assert_string_equal(d->argv[0], "python3");
    assert_string_equal(d->argv[8], "{name}-{replica}-{nope}");
    assert_int_equal(d->nenv, 3); /* valueFrom skipped */
    assert_string_equal(d->env[2].name, "EMPTY");
    assert_string_equal(d->env[2].value, "");
    assert_string_equal(d->readiness.path, "/v1/models");
    assert_true(d->readiness.period_s == 3);
    assert_true(d->startup_timeout_s == 90);
    assert_true(d->drain_grace_s == 5); /* annotation beats terminationGracePeriodSeconds */
    assert_string_equal(d->routing_strategy, "prefix-cache");
    assert_string_equal(
        json_string_value(json_object_get(d->pod_labels, "adapter.model.aibrix.ai/enabled")),
        "true");
    assert_null(json_object_get(o->raw, "status"));
    /* one note names every field not acted on, siblings after the first
     * from their last dot; probes are the pod runner's, not named */
    assert_string_equal(o->notes, "accepted, not acted on locally: "
                                  "spec.template.spec.containers[0].image, .ports, "
                                  "spec.template.spec.containers[0].env[2].valueFrom, "
                                  "spec.template.spec.containers[1]");

    char **argv = NULL, **envp = NULL;
    ctl_render_vars v = {NULL, 18001, 2, NULL};
    assert_int_equal(ctl_deployment_render(o, &v, &argv, &envp, err, sizeof(err)), 0);
    assert_string_equal(argv[4], "18001");
    assert_string_equal(argv[6], "mistral-7b");
    assert_string_equal(argv[8], "mistral-7b-2-{nope}");
    assert_string_equal(envp[0], "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True");
    assert_string_equal(envp[1], "REPLICA=r2");
    assert_string_equal(envp[2], "EMPTY=");
    assert_null(envp[3]);
    free(argv);
    free(envp);
    ctl_obj_free(o);
}

/* {host}: the address brix up gives its engines (127.0.0.1 by default). */
static void test_deployment_host_placeholder(void **st)
{
    (void)st;
    char err[512];
    const char *y = DEP_HEAD "spec:\n"
                             "  template:\n"
                             "    spec:\n"
                             "      containers:\n"
                             "        - args: [--host, \"{host}\", --port, \"{port}\"]\n"
                             "          env: [{name: ADDR, value: \"{host}:{port}\"}]\n";
    ctl_obj *o = parse_one(y, err, sizeof(err));
    if (!o) fail_msg("%s", err);
    char **argv = NULL, **envp = NULL;
    ctl_render_vars v = {"brix", 9002, 0, NULL};
    assert_int_equal(ctl_deployment_render(o, &v, &argv, &envp, err, sizeof(err)), 0);
    assert_string_equal(argv[3], "127.0.0.1");
    assert_string_equal(argv[5], "9002");
    assert_string_equal(envp[0], "ADDR=127.0.0.1:9002");
    free(argv);
    free(envp);
    v.host = "::1";
    assert_int_equal(ctl_deployment_render(o, &v, &argv, NULL, err, sizeof(err)), 0);
    assert_string_equal(argv[3], "::1");
    free(argv);
    ctl_obj_free(o);
}

/* AIBrix's manifests run `vllm serve ... --port 8000`: the port, wherever it
 * is written, becomes {port} (noted); an engine server without --port gets
 * one. */
static void test_deployment_port_remap(void **st)
{
    (void)st;
    static const struct {
        const char *container, *want_argv, *note;
    } cases[] = {
        {"{command: [vllm, serve, m], args: [--port, \"8000\", --enable-lora]}",
         "vllm serve m --port {port} --enable-lora", "--port 8000 becomes the port"},
        {"{command: [python3, -m, vllm.entrypoints.openai.api_server, --port=8080]}",
         "python3 -m vllm.entrypoints.openai.api_server --port={port}", "--port 8080 becomes"},
        {"{command: [/bin/sh, -c], args: [\"vllm serve m --port 8000 --max-loras 4\"]}",
         "/bin/sh -c vllm serve m --port {port} --max-loras 4", "--port 8000 becomes"},
        {"{command: [vllm, serve, m, --enable-lora]}", "vllm serve m --enable-lora --port {port}",
         "no --port (the server's default is 8000)"},
        {"{command: [brix, engine, --model, m]}", "brix engine --model m --port {port}",
         "no --port"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char y[1024], err[512];
        snprintf(y, sizeof(y), DEP_HEAD "spec: {template: {spec: {containers: [%s]}}}\n",
                 cases[i].container);
        ctl_obj *o = parse_one(y, err, sizeof(err));
        if (!o) fail_msg("case %zu: %s", i, err);
        char got[512] = "";
        size_t n = 0;
        for (size_t k = 0; k < o->u.dep.argc; k++)
            n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s", k ? " " : "", o->u.dep.argv[k]);
        if (strcmp(got, cases[i].want_argv) != 0)
            fail_msg("case %zu: argv '%s', want '%s'", i, got, cases[i].want_argv);
        if (!strstr(o->notes, cases[i].note))
            fail_msg("case %zu: notes '%s' lack '%s'", i, o->notes, cases[i].note);
        ctl_obj_free(o);
    }
}

/* The label model.aibrix.ai/kv-events-enabled=true: a brix engine's
 * --kv-events / --kv-events-replay (AIBrix's one pair) become the pod's
 * own ports on the loopback address (bound: --kv-events-bind), or are
 * added; a vLLM server's --kv-events-config endpoints too (on every
 * address: vLLM binds nothing else); rendered at port + 700 / + 701.
 * Without the label nothing changes. */
static void test_deployment_kv_events(void **st)
{
    (void)st;
    static const struct {
        const char *labels, *container, *want_argv, *want_render;
    } cases[] = {
        {"{model.aibrix.ai/kv-events-enabled: \"true\"}",
         "{command: [brix, engine], args: [--port, \"8000\", --kv-events, \"tcp://*:5557\", "
         "--kv-events-replay, \"tcp://*:5558\"]}",
         "brix engine --port {port} --kv-events tcp://127.0.0.1:{kv_events_port} "
         "--kv-events-replay tcp://127.0.0.1:{kv_events_replay_port} --kv-events-bind",
         "--kv-events tcp://127.0.0.1:9700 --kv-events-replay tcp://127.0.0.1:9701 "
         "--kv-events-bind"},
        {"{model.aibrix.ai/kv-events-enabled: \"true\"}",
         "{command: [brix, engine, --model, m, \"--kv-events=tcp://*:5557\"]}",
         "brix engine --model m --kv-events=tcp://127.0.0.1:{kv_events_port} --port {port} "
         "--kv-events-replay tcp://127.0.0.1:{kv_events_replay_port} --kv-events-bind",
         "--kv-events=tcp://127.0.0.1:9700 --port 9000 --kv-events-replay tcp://127.0.0.1:9701 "
         "--kv-events-bind"},
        {"{model.aibrix.ai/kv-events-enabled: \"true\"}",
         "{command: [vllm, serve, m, --kv-events-config, "
         "'{\"enable_kv_cache_events\":true,\"endpoint\":\"tcp://*:5557\"}']}",
         "vllm serve m --kv-events-config "
         "{\"enable_kv_cache_events\":true,\"endpoint\":\"tcp://*:{kv_events_port}\","
         "\"replay_endpoint\":\"tcp://*:{kv_events_replay_port}\"} --port {port}",
         "\"endpoint\":\"tcp://*:9700\",\"replay_endpoint\":\"tcp://*:9701\""},
        {"{app: x}", "{command: [brix, engine, --kv-events, \"tcp://*:5557\"]}",
         "brix engine --kv-events tcp://*:5557 --port {port}", "--kv-events tcp://*:5557"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char y[1024], err[512];
        snprintf(y, sizeof(y),
                 DEP_HEAD "spec: {template: {metadata: {labels: %s}, spec: {containers: [%s]}}}\n",
                 cases[i].labels, cases[i].container);
        ctl_obj *o = parse_one(y, err, sizeof(err));
        if (!o) fail_msg("case %zu: %s", i, err);
        assert_int_equal(o->u.dep.kv_events, i < 3);
        char got[1024] = "";
        size_t n = 0;
        for (size_t k = 0; k < o->u.dep.argc; k++)
            n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s", k ? " " : "", o->u.dep.argv[k]);
        if (strcmp(got, cases[i].want_argv) != 0)
            fail_msg("case %zu: argv '%s', want '%s'", i, got, cases[i].want_argv);
        ctl_render_vars v = {.brix = "brix", .port = 9000};
        char **argv = NULL;
        assert_int_equal(ctl_deployment_render(o, &v, &argv, NULL, err, sizeof(err)), 0);
        n = 0;
        for (size_t k = 0; argv[k]; k++)
            n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s", k ? " " : "", argv[k]);
        if (!strstr(got, cases[i].want_render))
            fail_msg("case %zu: rendered '%s' lacks '%s'", i, got, cases[i].want_render);
        free(argv);
        ctl_obj_free(o);
    }
}

/* A GatewayConfig document (brix up's) is no object: refused, saying why. */
static void test_gateway_config_refused(void **st)
{
    (void)st;
    char err[512];
    const char *y = "apiVersion: brix.ai/v1alpha1\nkind: GatewayConfig\nmetadata: {name: gw}\n"
                    "spec: {apiKeys: [k]}\n";
    assert_null(parse_one(y, err, sizeof(err)));
    assert_non_null(strstr(err, "brix up"));
}

/* GatewayConfig (brix up -f): parsed by a pure function, keys added to the
 * set given, the key file named (relative to the stack file's folder) but
 * not read; a misspelt or ill-typed field is an error naming it. */
static int gateway_config(const char *yaml, const char *file, ctl_gateway_config *gc, char *err,
                          size_t errlen)
{
    json_t *doc = NULL;
    if (bx_yaml_load(yaml, strlen(yaml), NULL, &doc, err, errlen) != 0) fail_msg("%s", err);
    bx_apikeys_init(&gc->keys);
    assert_int_equal(bx_apikeys_add(&gc->keys, "sk-flag", 7, err, errlen), 0);
    int r = ctl_obj_gateway_config_parse(doc, file, gc, err, errlen);
    json_decref(doc);
    return r;
}

#define GW_HEAD "apiVersion: brix.ai/v1alpha1\nkind: GatewayConfig\nmetadata: {name: gateway}\n"

static void test_gateway_config_parse(void **st)
{
    (void)st;
    char err[512] = "";
    ctl_gateway_config gc;
    assert_int_equal(gateway_config(GW_HEAD "spec:\n  apiKeys: [sk-a, sk-b]\n"
                                            "  apiKeyFile: keys.txt\n",
                                    "/etc/brix/stack.yaml", &gc, err, sizeof(err)),
                     0);
    assert_int_equal(gc.keys.n, 3);
    assert_int_equal(bx_apikeys_check(&gc.keys, "sk-flag", 7), 1);
    assert_int_equal(bx_apikeys_check(&gc.keys, "sk-a", 4), 1);
    assert_int_equal(bx_apikeys_check(&gc.keys, "sk-b", 4), 1);
    assert_string_equal(gc.key_file, "/etc/brix/keys.txt");
    /* an absolute key file, or a stack file in the current folder */
    assert_int_equal(gateway_config(GW_HEAD "spec: {apiKeyFile: /run/keys}\n", "stack.yaml", &gc,
                                    err, sizeof(err)),
                     0);
    assert_string_equal(gc.key_file, "/run/keys");
    assert_int_equal(gc.keys.n, 1);
    assert_int_equal(
        gateway_config(GW_HEAD "spec: {apiKeyFile: k.txt}\n", "stack.yaml", &gc, err, sizeof(err)),
        0);
    assert_string_equal(gc.key_file, "k.txt");
    assert_int_equal(
        gateway_config("apiVersion: brix.ai/v1alpha1\nkind: GatewayConfig\nspec: {apiKeys: [k]}\n",
                       NULL, &gc, err, sizeof(err)),
        0);
    assert_string_equal(gc.key_file, "");
    assert_int_equal(gc.keys.n, 2);
}

static void test_gateway_config_errors(void **st)
{
    (void)st;
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"apiVersion: v1\nkind: GatewayConfig\nspec: {apiKeys: [k]}\n",
         "GatewayConfig: apiVersion must be brix.ai/v1alpha1"},
        {GW_HEAD "spec: {apiKeys: [k]}\nstatus: {}\n", "GatewayConfig: unknown field 'status'"},
        {GW_HEAD, "GatewayConfig: spec: required, a mapping"},
        {GW_HEAD "spec: [k]\n", "GatewayConfig: spec: required, a mapping"},
        {GW_HEAD "spec: {apiKey: [k]}\n",
         "GatewayConfig: spec: unknown field 'apiKey' (apiKeys, apiKeyFile)"},
        {GW_HEAD "spec: {apiKeys: k}\n", "GatewayConfig: spec.apiKeys: a list of strings"},
        {GW_HEAD "spec: {apiKeys: [k, 7]}\n", "GatewayConfig: spec.apiKeys[1]: not a string"},
        {GW_HEAD "spec: {apiKeyFile: \"\"}\n", "GatewayConfig: spec.apiKeyFile: a file name"},
        {GW_HEAD "spec: {apiKeyFile: [a]}\n", "GatewayConfig: spec.apiKeyFile: a file name"},
        {GW_HEAD "spec: {apiKeys: []}\n", "GatewayConfig: spec: no key in apiKeys or apiKeyFile"},
        {GW_HEAD "spec: {}\n", "GatewayConfig: spec: no key in apiKeys or apiKeyFile"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[512] = "";
        ctl_gateway_config gc;
        if (gateway_config(cases[i].yaml, "s.yaml", &gc, err, sizeof(err)) == 0)
            fail_msg("accepted, expected error: %s", cases[i].want);
        if (strcmp(err, cases[i].want) != 0)
            fail_msg("case %zu\n  got:  %s\n  want: %s", i, err, cases[i].want);
    }
    /* a key bx_apikeys refuses: the message says which and why */
    char err[512] = "";
    ctl_gateway_config gc;
    assert_int_equal(
        gateway_config(GW_HEAD "spec: {apiKeys: [\"sk 1\"]}\n", "s.yaml", &gc, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "GatewayConfig: spec.apiKeys[0]: "));
}

static void test_deployment_grace_and_args_only(void **st)
{
    (void)st;
    char err[512];
    const char *y = DEP_HEAD "spec:\n"
                             "  template:\n"
                             "    spec:\n"
                             "      terminationGracePeriodSeconds: 45\n"
                             "      containers:\n"
                             "        - args: [--port, \"{port}\", --time-scale, \"10\"]\n";
    ctl_obj *o = parse_one(y, err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_true(o->u.dep.drain_grace_s == 45);
    assert_true(o->u.dep.default_command);
    assert_int_equal(o->u.dep.argc, 6);
    assert_string_equal(o->u.dep.argv[0], "{brix}");
    assert_string_equal(o->u.dep.argv[1], "engine");
    assert_string_equal(o->u.dep.argv[5], "10");
    ctl_obj_free(o);

    /* a program named plain "brix" is the running brix */
    o = parse_one(DEP_HEAD "spec: {template: {spec: {containers: [{command: [brix, engine, "
                           "--port, \"{port}\"]}]}}}\n",
                  err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_false(o->u.dep.default_command);
    char **argv = NULL;
    ctl_render_vars v = {"/opt/brix/bin/brix", 9000, 0, NULL};
    assert_int_equal(ctl_deployment_render(o, &v, &argv, NULL, err, sizeof(err)), 0);
    assert_string_equal(argv[0], "/opt/brix/bin/brix");
    assert_string_equal(argv[3], "9000");
    assert_null(argv[4]);
    free(argv);
    ctl_obj_free(o);
}

static void test_adapter(void **st)
{
    (void)st;
    char err[512];
    const char *y = "apiVersion: model.aibrix.ai/v1alpha1\n"
                    "kind: ModelAdapter\n"
                    "metadata:\n"
                    "  name: text2sql\n"
                    "spec:\n"
                    "  baseModel: llama-3-8b\n"
                    "  podSelector:\n"
                    "    matchLabels: {model.aibrix.ai/name: llama-3-8b, tier: a}\n"
                    "    matchExpressions: [{key: x, operator: Exists}]\n"
                    "  artifactURL: s3://bucket/adapters/text2sql\n"
                    "  replicas: 1\n"
                    "  schedulerName: binPack\n"
                    "  additionalConfig: {api-key: sk-123, rank: \"8\"}\n"
                    "  credentialsSecretRef: {name: s3-creds}\n";
    ctl_obj *o = parse_one(y, err, sizeof(err));
    if (!o) fail_msg("%s", err);
    const ctl_adapter *a = &o->u.ma;
    assert_int_equal(o->kind, CTL_KIND_MODEL_ADAPTER);
    assert_string_equal(a->base_model, "llama-3-8b");
    assert_string_equal(a->artifact_url, "s3://bucket/adapters/text2sql");
    assert_int_equal(a->replicas, 1);
    assert_int_equal(a->sched, CTL_SCHED_BIN_PACK);
    assert_string_equal(a->api_key, "sk-123");
    assert_int_equal(json_object_size(a->match_labels), 2);
    assert_string_equal(json_string_value(json_object_get(a->additional_config, "rank")), "8");
    assert_string_equal(o->notes, "accepted, not acted on locally: "
                                  "spec.podSelector.matchExpressions, spec.credentialsSecretRef");

    json_t *pod =
        json_pack("{ssssss}", "model.aibrix.ai/name", "llama-3-8b", "tier", "a", "z", "1");
    assert_true(ctl_labels_match(a->match_labels, pod));
    json_object_set_new(pod, "tier", json_string("b"));
    assert_false(ctl_labels_match(a->match_labels, pod));
    json_decref(pod);
    ctl_obj_free(o);
}

static void test_adapter_defaults(void **st)
{
    (void)st;
    char err[512];
    const char *y = "apiVersion: model.aibrix.ai/v1alpha1\n"
                    "kind: ModelAdapter\n"
                    "metadata: {name: lora-1}\n"
                    "spec: {baseModel: llama-3-8b, artifactURL: /models/lora-1}\n";
    ctl_obj *o = parse_one(y, err, sizeof(err));
    if (!o) fail_msg("%s", err);
    const ctl_adapter *a = &o->u.ma;
    assert_int_equal(a->replicas, CTL_ADAPTER_ALL);
    assert_int_equal(a->sched, CTL_SCHED_LEAST_ADAPTERS);
    assert_null(a->api_key);
    assert_int_equal(json_object_size(a->additional_config), 0);
    /* the selector derived from baseModel */
    assert_int_equal(json_object_size(a->match_labels), 1);
    assert_string_equal(json_string_value(json_object_get(a->match_labels, "model.aibrix.ai/name")),
                        "llama-3-8b");
    assert_string_equal(o->notes, "");
    ctl_obj_free(o);

    /* AIBrix's samples write "least-adapters": case, '-' and '_' do not matter */
    const char *scheds[] = {"default",        "leastAdapters",   "binPack",
                            "leastLatency",   "leastThroughput", "random",
                            "least-adapters", "bin_pack",        "LEAST-LATENCY"};
    const ctl_adapter_sched want[] = {
        CTL_SCHED_LEAST_ADAPTERS, CTL_SCHED_LEAST_ADAPTERS,   CTL_SCHED_BIN_PACK,
        CTL_SCHED_LEAST_LATENCY,  CTL_SCHED_LEAST_THROUGHPUT, CTL_SCHED_RANDOM,
        CTL_SCHED_LEAST_ADAPTERS, CTL_SCHED_BIN_PACK,         CTL_SCHED_LEAST_LATENCY};
    for (size_t i = 0; i < sizeof(scheds) / sizeof(scheds[0]); i++) {
        char buf[512];
        snprintf(buf, sizeof(buf),
                 "apiVersion: model.aibrix.ai/v1alpha1\nkind: ModelAdapter\nmetadata: {name: "
                 "a}\nspec: {baseModel: m, artifactURL: hf://org/x, schedulerName: %s}\n",
                 scheds[i]);
        o = parse_one(buf, err, sizeof(err));
        if (!o) fail_msg("%s", err);
        assert_int_equal(o->u.ma.sched, want[i]);
        ctl_obj_free(o);
    }
}

static void test_autoscaler(void **st)
{
    (void)st;
    char err[512];
    const char *y = "apiVersion: autoscaling.aibrix.ai/v1alpha1\n"
                    "kind: PodAutoscaler\n"
                    "metadata: {name: llama-kpa}\n"
                    "spec:\n"
                    "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llama}\n"
                    "  maxReplicas: 4\n"
                    "  scalingStrategy: KPA\n"
                    "  metricsSources: [{metricSourceType: pod, targetMetric: x, targetValue: "
                    "\"1\"}]\n";
    ctl_obj *o = parse_one(y, err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_int_equal(o->kind, CTL_KIND_POD_AUTOSCALER);
    assert_string_equal(o->u.pa.target_kind, "Deployment");
    assert_string_equal(o->u.pa.target_name, "llama");
    assert_string_equal(o->u.pa.strategy, "KPA");
    /* the JSON is kept for the autoscaler's own parser */
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(o->raw, "spec"), "maxReplicas")), 4);
    ctl_obj_free(o);
}

static void test_quickstart_file(void **st)
{
    (void)st;
    size_t len = 0;
    /* The repository root from this file's path (CMake compiles it by its
     * absolute path). */
    char path[4096];
    snprintf(path, sizeof(path), "%s", __FILE__);
    char *cut = strstr(path, "tests/unit/test_ctl_obj.c");
    assert_non_null(cut);
    snprintf(cut, sizeof(path) - (size_t)(cut - path), "examples/quickstart.yaml");
    char *buf = read_file(path, &len);
    assert_non_null(buf);
    ctl_obj **objs = NULL;
    size_t n = 0;
    char err[512];
    if (ctl_obj_load_yaml(buf, len, &objs, &n, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(n, 3);
    assert_int_equal(objs[0]->kind, CTL_KIND_DEPLOYMENT);
    assert_string_equal(objs[0]->name, "llama-3-8b");
    assert_string_equal(objs[0]->u.dep.model, "llama-3-8b");
    assert_int_equal(objs[0]->u.dep.replicas, 2);
    assert_int_equal(objs[1]->kind, CTL_KIND_MODEL_ADAPTER);
    assert_string_equal(objs[1]->name, "sql-lora");
    assert_string_equal(objs[1]->u.ma.base_model, "llama-3-8b");
    assert_int_equal(objs[1]->u.ma.replicas, 1);
    assert_int_equal(objs[2]->kind, CTL_KIND_POD_AUTOSCALER);
    assert_string_equal(objs[2]->u.pa.target_name, "llama-3-8b");
    /* the adapter's selector matches the deployment's pods */
    assert_true(ctl_labels_match(objs[1]->u.ma.match_labels, objs[0]->u.dep.pod_labels));
    ctl_objs_free(objs, n);
    free(buf);
}

static void test_multi_document_errors(void **st)
{
    (void)st;
    const char *y = "---\n"
                    "apiVersion: v1\n"
                    "kind: Service\n"
                    "metadata: {name: x}\n"
                    "---\n"
                    "apiVersion: apps/v1\n"
                    "kind: Deployment\n"
                    "metadata: {name: bad, labels: {model.aibrix.ai/name: m}}\n";
    ctl_obj **objs = NULL;
    size_t n = 0;
    char err[512];
    assert_int_equal(ctl_obj_load_yaml(y, strlen(y), &objs, &n, err, sizeof(err)), -1);
    assert_null(objs);
    assert_int_equal(n, 0);
    assert_string_equal(err, "document 2: Deployment bad: spec: required");
    /* empty documents are skipped */
    const char *ok = "---\n---\n" DEP_HEAD "spec: {}\n---\n";
    assert_int_equal(ctl_obj_load_yaml(ok, strlen(ok), &objs, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 1);
    ctl_objs_free(objs, n);
}

static void test_common_errors(void **st)
{
    (void)st;
    expect_error("- a\n- b\n", "not a mapping (want an object with kind)");
    expect_error("apiVersion: apps/v1\nmetadata: {name: x}\n", "kind: required");
    /* alone (ctl_obj_parse, brix controller's), an unknown kind is an error;
     * ctl_obj_parse_all skips it with this as its warning */
    expect_error("kind: deployment\n", "kind deployment (no apiVersion): unknown kind, skipped");
    expect_error("kind: Deployment\nmetadata: {name: x}\n", "Deployment x: apiVersion: required "
                                                            "(apps/v1)");
    expect_error("kind: ModelAdapter\napiVersion: model.aibrix.ai/v1\nmetadata: {name: m}\n",
                 "ModelAdapter m: apiVersion: model.aibrix.ai/v1 is not one brix knows "
                 "(model.aibrix.ai/v1alpha1), skipped");
    expect_error("kind: Deployment\napiVersion: apps/v1\n", "Deployment: metadata.name: required");
    expect_error(
        "kind: Deployment\napiVersion: apps/v1\nmetadata: {name: Llama}\n",
        "Deployment: metadata.name: 'Llama' is not a DNS-1123 subdomain of at most 63 bytes "
        "(a-z, 0-9, '-' and '.', alphanumeric at both ends of each part)");
    expect_error("kind: Deployment\napiVersion: apps/v1\nmetadata: {name: -x}\n",
                 "Deployment: metadata.name: '-x' is not a DNS-1123 subdomain of at most 63 bytes "
                 "(a-z, 0-9, '-' and '.', alphanumeric at both ends of each part)");
    expect_error("kind: Service\napiVersion: v1\nmetadata: {name: a.b}\n",
                 "Service a.b: metadata.name: 'a.b' is not a DNS-1123 label (1..63 of a-z, 0-9 and "
                 "'-', alphanumeric at both ends)");
    expect_error(
        "kind: ModelAdapter\napiVersion: model.aibrix.ai/v1alpha1\nmetadata: {name: a.b}\n",
        "ModelAdapter a.b: metadata.name: 'a.b' is not a DNS-1123 label (1..63 of a-z, 0-9 "
        "and '-', alphanumeric at both ends)");
    expect_error("kind: Deployment\napiVersion: apps/v1\nmetadata: {name: 7}\n",
                 "Deployment: metadata.name: must be a string");
    expect_error("kind: Deployment\napiVersion: apps/v1\nmetadata: {name: x, labels: {a: 1}}\n",
                 "Deployment x: metadata.labels[\"a\"]: must be a string");
    expect_error("kind: Deployment\napiVersion: apps/v1\nmetadata: {name: x, annotations: []}\n",
                 "Deployment x: metadata.annotations: must be a mapping");
}

static void test_deployment_errors(void **st)
{
    (void)st;
    expect_error(DEP_HEAD, "Deployment llama: spec: required");
    expect_error("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: llama}\nspec: {}\n",
                 "Deployment llama: metadata.labels[\"model.aibrix.ai/name\"]: required (the "
                 "served model name)");
    expect_error(DEP_HEAD "spec: {replicas: -1}\n",
                 "Deployment llama: spec.replicas: must be between 0 and 256");
    expect_error(DEP_HEAD "spec: {replicas: \"2\"}\n",
                 "Deployment llama: spec.replicas: must be an integer");
    expect_error("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: llama\n  labels: "
                 "{model.aibrix.ai/name: \"bad name\"}\nspec: {}\n",
                 "Deployment llama: metadata.labels[\"model.aibrix.ai/name\"]: 'bad name' is "
                 "not a valid model name (1..255 of A-Za-z0-9._/:-)");
    expect_error(DEP_HEAD "spec: {template: {spec: {containers: []}}}\n",
                 "Deployment llama: spec.template.spec.containers: must not be empty");
    expect_error(DEP_HEAD "spec: {template: {spec: {containers: [{command: vllm}]}}}\n",
                 "Deployment llama: spec.template.spec.containers[0].command: must be a list");
    expect_error(DEP_HEAD "spec: {template: {spec: {containers: [{command: [vllm, 8000]}]}}}\n",
                 "Deployment llama: spec.template.spec.containers[0].command[1]: must be a "
                 "string");
    expect_error(DEP_HEAD "spec: {replicas: 2, template: {spec: {containers: [{command: "
                          "[python3, app.py]}]}}}\n",
                 "Deployment llama: spec.template.spec.containers[0]: command/args/env must use "
                 "the {port} placeholder or a --port option (brix allocates each replica's port; "
                 "a command that takes none runs as one replica only)");
    /* one replica of a command that takes no port: run as written, reached
     * on its label's port, else its containerPort, else 8000 */
    char err[512];
    ctl_obj *o = parse_one(DEP_HEAD "spec: {template: {spec: {containers: [{command: [python3, "
                                    "app.py], ports: [{containerPort: 6000}]}]}}}\n",
                           err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_int_equal(o->u.dep.fixed_port, 6000);
    assert_non_null(strstr(o->notes, "runs as written and is reached on port 6000"));
    ctl_obj_free(o);
    o = parse_one(DEP_HEAD
                  "spec: {template: {spec: {containers: [{command: [python3, app.py]}]}}}\n",
                  err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_int_equal(o->u.dep.fixed_port, 8000);
    ctl_obj_free(o);
    o = parse_one(DEP_HEAD "spec: {template: {spec: {containers: [{command: [vllm, serve, m, "
                           "--port, \"8000\"]}]}}}\n",
                  err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_int_equal(o->u.dep.fixed_port, 0); /* --port rewritten: brix allocates */
    ctl_obj_free(o);
    expect_error(DEP_HEAD "spec: {template: {spec: {containers: [{command: [\"\", "
                          "\"{port}\"]}]}}}\n",
                 "Deployment llama: spec.template.spec.containers[0].command: must name a "
                 "program");
    expect_error(DEP_HEAD "spec: {template: {spec: {containers: [{env: [{value: x}]}]}}}\n",
                 "Deployment llama: spec.template.spec.containers[0].env[0].name: required");
    expect_error(DEP_HEAD "spec: {template: {spec: {containers: [{env: [{name: A=B}]}]}}}\n",
                 "Deployment llama: spec.template.spec.containers[0].env[0].name: must be "
                 "1..256 bytes without '=' or control characters");
    expect_error(DEP_HEAD "spec: {template: {spec: {containers: [{readinessProbe: {httpGet: "
                          "{path: health}}}]}}}\n",
                 "Deployment llama: spec.template.spec.containers[0].readinessProbe.httpGet."
                 "path: must be an absolute path of at most 256 bytes");
    expect_error(DEP_HEAD "spec: {template: {spec: {terminationGracePeriodSeconds: -3}}}\n",
                 "Deployment llama: spec.template.spec.terminationGracePeriodSeconds: must be "
                 "between 0 and 3600");
    expect_error(DEP_HEAD "  annotations: {brix.ai/startup-timeout-seconds: soon}\nspec: {}\n",
                 "Deployment llama: metadata.annotations[\"brix.ai/startup-timeout-seconds\"]: "
                 "must be a number of seconds");
    expect_error(DEP_HEAD "  annotations: {brix.ai/drain-grace-seconds: \"-1\"}\nspec: {}\n",
                 "Deployment llama: metadata.annotations[\"brix.ai/drain-grace-seconds\"]: must "
                 "be between 0 and 3600");
    expect_error(DEP_HEAD "  annotations: {brix.ai/drain-grace-seconds: 5}\nspec: {}\n",
                 "Deployment llama: metadata.annotations[\"brix.ai/drain-grace-seconds\"]: must "
                 "be a string");
    expect_error(DEP_HEAD "  annotations: {brix.ai/routing-strategy: fastest}\nspec: {}\n",
                 "Deployment llama: metadata.annotations[\"brix.ai/routing-strategy\"]: unknown "
                 "routing strategy 'fastest'");
}

#define MA_HEAD                                                                                    \
    "apiVersion: model.aibrix.ai/v1alpha1\n"                                                       \
    "kind: ModelAdapter\n"                                                                         \
    "metadata: {name: lora-1}\n"

static void test_adapter_errors(void **st)
{
    (void)st;
    expect_error(MA_HEAD, "ModelAdapter lora-1: spec: required");
    expect_error(MA_HEAD "spec: {artifactURL: s3://b/x}\n",
                 "ModelAdapter lora-1: spec.podSelector.matchLabels: required (or set "
                 "spec.baseModel)");
    expect_error(MA_HEAD "spec: {podSelector: {matchLabels: {}}, artifactURL: s3://b/x}\n",
                 "ModelAdapter lora-1: spec.podSelector.matchLabels: required (or set "
                 "spec.baseModel)");
    expect_error(MA_HEAD "spec: {baseModel: 3, artifactURL: s3://b/x}\n",
                 "ModelAdapter lora-1: spec.baseModel: must be a string");
    expect_error(MA_HEAD "spec: {baseModel: m}\n",
                 "ModelAdapter lora-1: spec.artifactURL: required");
    expect_error(MA_HEAD "spec: {baseModel: m, artifactURL: \"ftp://x/y\"}\n",
                 "ModelAdapter lora-1: spec.artifactURL: 'ftp://x/y' must start with s3://, "
                 "gcs://, tos://, huggingface://, hf://, http://, https://, file:// or /");
    expect_error(MA_HEAD "spec: {baseModel: m, artifactURL: \"s3://\"}\n",
                 "ModelAdapter lora-1: spec.artifactURL: 's3://' must start with s3://, "
                 "gcs://, tos://, huggingface://, hf://, http://, https://, file:// or /");
    expect_error(MA_HEAD "spec: {baseModel: m, artifactURL: \"https://x/y\", "
                         "additionalConfig: {sha256: abc}}\n",
                 "ModelAdapter lora-1: spec.additionalConfig.sha256: must be 64 hex digits");
    expect_error(MA_HEAD "spec: {baseModel: m, artifactURL: /x, replicas: 0}\n",
                 "ModelAdapter lora-1: spec.replicas: must be > 0");
    expect_error(MA_HEAD "spec: {baseModel: m, artifactURL: /x, replicas: 1000}\n",
                 "ModelAdapter lora-1: spec.replicas: must be at most 256");
    expect_error(MA_HEAD "spec: {baseModel: m, artifactURL: /x, schedulerName: leastLoad}\n",
                 "ModelAdapter lora-1: spec.schedulerName: unknown scheduler 'leastLoad' (want "
                 "default, leastAdapters, binPack, leastLatency, leastThroughput or random; "
                 "case, '-' and '_' do not matter)");
    expect_error(MA_HEAD "spec: {baseModel: m, artifactURL: /x, schedulerName: least-adapterss}\n",
                 "ModelAdapter lora-1: spec.schedulerName: unknown scheduler 'least-adapterss' "
                 "(want default, leastAdapters, binPack, leastLatency, leastThroughput or random; "
                 "case, '-' and '_' do not matter)");
    expect_error(MA_HEAD "spec: {baseModel: m, artifactURL: /x, additionalConfig: {rank: 8}}\n",
                 "ModelAdapter lora-1: spec.additionalConfig[\"rank\"]: must be a string");
    expect_error(MA_HEAD "spec: {baseModel: m, artifactURL: /x, podSelector: {matchLabels: "
                         "{model.aibrix.ai/name: n}}}\n",
                 "ModelAdapter lora-1: spec.baseModel: 'm' contradicts "
                 "spec.podSelector.matchLabels[\"model.aibrix.ai/name\"] ('n')");
    expect_error(MA_HEAD "spec: {baseModel: m, artifactURL: /x, credentialsSecretRef: s}\n",
                 "ModelAdapter lora-1: spec.credentialsSecretRef: must be a mapping");
}

#define PA_HEAD                                                                                    \
    "apiVersion: autoscaling.aibrix.ai/v1alpha1\n"                                                 \
    "kind: PodAutoscaler\n"                                                                        \
    "metadata: {name: pa}\n"

static void test_autoscaler_errors(void **st)
{
    (void)st;
    expect_error(PA_HEAD, "PodAutoscaler pa: spec: required");
    expect_error(PA_HEAD "spec: {scalingStrategy: KPA}\n",
                 "PodAutoscaler pa: spec.scaleTargetRef: required");
    expect_error(PA_HEAD "spec: {scaleTargetRef: {name: x}, scalingStrategy: KPA}\n",
                 "PodAutoscaler pa: spec.scaleTargetRef.kind: required");
    /* any kind parses (brix controller); local mode (ctl_obj_parse_all) refuses it */
    const char *sts =
        PA_HEAD "spec: {scaleTargetRef: {apiVersion: orchestration.aibrix.ai/v1alpha1,"
                " kind: StormService, name: x}, scalingStrategy: KPA}\n";
    char err[512] = "";
    ctl_obj *o = parse_one(sts, err, sizeof(err));
    assert_non_null(o);
    assert_string_equal(o->u.pa.target_kind, "StormService");
    ctl_obj_free(o);
    ctl_obj **objs = NULL;
    size_t n = 0;
    json_t *docs = NULL, *warnings = json_array();
    assert_int_equal(bx_yaml_load_all(sts, strlen(sts), NULL, &docs, err, sizeof(err)), 0);
    assert_int_equal(ctl_obj_parse_all(docs, warnings, &objs, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    assert_int_equal(json_array_size(warnings), 1);
    assert_string_equal(json_string_value(json_array_get(warnings, 0)),
                        "PodAutoscaler pa: spec.scaleTargetRef.kind: only a Deployment or a "
                        "RayClusterFleet scales locally (got 'StormService'; brix controller "
                        "scales any kind with a scale subresource), skipped");
    ctl_objs_free(objs, n);
    json_decref(docs);
    json_decref(warnings);
    expect_error(PA_HEAD "spec: {scaleTargetRef: {kind: Deployment}, scalingStrategy: KPA}\n",
                 "PodAutoscaler pa: spec.scaleTargetRef.name: required");
    expect_error(PA_HEAD "spec: {scaleTargetRef: {kind: Deployment, name: X_Y}, "
                         "scalingStrategy: KPA}\n",
                 "PodAutoscaler pa: spec.scaleTargetRef.name: 'X_Y' is not a DNS-1123 subdomain of "
                 "at most 63 bytes");
    expect_error(PA_HEAD "spec: {scaleTargetRef: {kind: Deployment, name: x}}\n",
                 "PodAutoscaler pa: spec.scalingStrategy: required");
}

static void test_kinds_and_names(void **st)
{
    (void)st;
    assert_int_equal(ctl_kind_parse("Deployment"), CTL_KIND_DEPLOYMENT);
    assert_int_equal(ctl_kind_parse("deploy"), CTL_KIND_DEPLOYMENT);
    assert_int_equal(ctl_kind_parse("MA"), CTL_KIND_MODEL_ADAPTER);
    assert_int_equal(ctl_kind_parse("podautoscalers"), CTL_KIND_POD_AUTOSCALER);
    assert_int_equal(ctl_kind_parse("service"), CTL_KIND_SERVICE);
    assert_int_equal(ctl_kind_parse("svc"), CTL_KIND_SERVICE);
    assert_int_equal(ctl_kind_parse("sa"), CTL_KIND_SERVICE_ACCOUNT);
    assert_int_equal(ctl_kind_parse("configmaps"), CTL_KIND_CONFIG_MAP);
    assert_int_equal(ctl_kind_parse("hpa"), CTL_KIND_HPA);
    assert_int_equal(ctl_kind_parse("HTTPRoute"), CTL_KIND_HTTP_ROUTE);
    assert_int_equal(ctl_kind_parse("KVCache"), CTL_KIND_NONE);
    assert_true(ctl_obj_kind_api_ok(CTL_KIND_HPA, "autoscaling/v2"));
    assert_true(ctl_obj_kind_api_ok(CTL_KIND_HPA, "autoscaling/v1"));
    assert_false(ctl_obj_kind_api_ok(CTL_KIND_HPA, "autoscaling/v2beta1"));
    assert_true(ctl_kind_acted_on(CTL_KIND_SERVICE));
    assert_false(ctl_kind_acted_on(CTL_KIND_CONFIG_MAP));
    /* every kind has a name, a lower-case name and an apiVersion */
    for (int k = CTL_KIND_DEPLOYMENT; k < CTL_KIND_COUNT; k++) {
        assert_non_null(ctl_kind_name((ctl_kind)k));
        assert_int_equal(ctl_kind_parse(ctl_kind_name((ctl_kind)k)), k);
        assert_int_equal(ctl_kind_parse(ctl_kind_lower((ctl_kind)k)), k);
        assert_true(ctl_obj_kind_api_ok((ctl_kind)k, ctl_obj_kind_api_version((ctl_kind)k)));
    }
    assert_int_equal(ctl_kind_parse(NULL), CTL_KIND_NONE);
    assert_string_equal(ctl_obj_kind_api_version(CTL_KIND_MODEL_ADAPTER),
                        "model.aibrix.ai/v1alpha1");
    assert_null(ctl_kind_name(CTL_KIND_NONE));
    assert_true(ctl_name_valid("a"));
    assert_true(ctl_name_valid("llama-3-8b"));
    char n63[64], n64[65];
    memset(n63, 'a', 63);
    n63[63] = '\0';
    memset(n64, 'a', 64);
    n64[64] = '\0';
    assert_true(ctl_name_valid(n63));
    assert_false(ctl_name_valid(n64));
    assert_false(ctl_name_valid(""));
    assert_false(ctl_name_valid("a-"));
    assert_true(ctl_name_valid("qwen-coder-1.5b-instruct")); /* Kubernetes names Deployments so */
    assert_false(ctl_name_is_label("qwen-coder-1.5b-instruct"));
    assert_true(ctl_name_is_label("llama-3-8b"));
    assert_false(ctl_name_valid("a..b"));
    assert_false(ctl_name_valid("a.-b"));
    assert_false(ctl_name_valid(".a"));
    assert_false(ctl_name_valid("a."));
    assert_false(ctl_name_valid("A"));
    /* an empty selector matches every pod, as in Kubernetes */
    json_t *empty = json_object(), *labels = json_pack("{ss}", "a", "b");
    assert_true(ctl_labels_match(empty, labels));
    assert_false(ctl_labels_match(labels, empty));
    json_decref(empty);
    json_decref(labels);
}

/* A file in AIBrix's shape: a vLLM Deployment and the Kubernetes kinds
 * around it, a CRD brix does not know, a known kind in an apiVersion it does
 * not know. brix's kinds parse as before; core kinds are kept with one note;
 * the rest is skipped, each with one warning naming its document. */
static void test_parse_all_aibrix_file(void **st)
{
    (void)st;
    const char *y =
        "apiVersion: v1\n"
        "kind: ServiceAccount\n"
        "metadata: {name: mistral-sa, namespace: default}\n"
        "---\n"
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        "  name: mistral-7b\n"
        "  labels: {model.aibrix.ai/name: mistral-7b, model.aibrix.ai/port: \"8000\"}\n"
        "spec:\n"
        "  replicas: 1\n"
        "  selector: {matchLabels: {model.aibrix.ai/name: mistral-7b}}\n"
        "  strategy: {type: Recreate}\n"
        "  template:\n"
        "    metadata:\n"
        "      labels: {model.aibrix.ai/name: mistral-7b}\n"
        "      annotations: {prometheus.io/scrape: \"true\"}\n"
        "    spec:\n"
        "      serviceAccountName: mistral-sa\n"
        "      containers:\n"
        "        - name: vllm-openai\n"
        "          image: vllm/vllm-openai:v0.7.1\n"
        "          command: [python3, -m, vllm.entrypoints.openai.api_server, --port, \"8000\"]\n"
        "          ports: [{containerPort: 8000, protocol: TCP}]\n"
        "          resources: {limits: {nvidia.com/gpu: \"1\"}}\n"
        "          readinessProbe: {httpGet: {path: /health, port: 8000}}\n"
        "          livenessProbe: {httpGet: {path: /health, port: 8000}}\n"
        "          startupProbe: {httpGet: {path: /health, port: 8000}, failureThreshold: 60}\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: Service\n"
        "metadata: {name: mistral-7b, labels: {prometheus-discovery: \"true\"}}\n"
        "spec:\n"
        "  selector: {model.aibrix.ai/name: mistral-7b}\n"
        "  ports: [{name: serve, port: 8000, targetPort: 8000, protocol: TCP}]\n"
        "  type: ClusterIP\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata: {name: mistral-config}\n"
        "data: {a: b}\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata: {name: hf-token}\n"
        "stringData: {token: hf_secret}\n"
        "data: {other: aGk=}\n"
        "---\n"
        "apiVersion: orchestration.aibrix.ai/v1alpha1\n"
        "kind: KVCache\n"
        "metadata: {name: kvcache-cluster}\n"
        "spec: {}\n"
        "---\n"
        "apiVersion: extensions/v1beta1\n"
        "kind: Ingress\n"
        "metadata: {name: old}\n"
        "---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\n"
        "kind: ClusterRole\n"
        "metadata: {name: \"aibrix:reader\"}\n"
        "---\n"
        "apiVersion: autoscaling/v2\n"
        "kind: HorizontalPodAutoscaler\n"
        "metadata: {name: mistral-hpa}\n"
        "spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: mistral-7b}}\n"
        "---\n"
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata: {name: grafana, labels: {app: grafana}}\n"
        "spec: {template: {spec: {containers: [{name: g, image: grafana/grafana}]}}}\n";
    json_t *docs = NULL, *warnings = json_array();
    char err[512];
    assert_int_equal(bx_yaml_load_all(y, strlen(y), NULL, &docs, err, sizeof(err)), 0);
    ctl_obj **objs = NULL;
    size_t n = 0;
    if (ctl_obj_parse_all(docs, warnings, &objs, &n, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(n, 6);
    assert_int_equal(objs[0]->kind, CTL_KIND_SERVICE_ACCOUNT);
    assert_string_equal(objs[0]->notes,
                        "stored, not acted on locally (engines run as this user, no API access "
                        "to grant)");
    assert_int_equal(objs[1]->kind, CTL_KIND_DEPLOYMENT);
    assert_int_equal(objs[1]->doc, 2);
    assert_string_equal(objs[1]->u.dep.argv[4], "{port}"); /* --port 8000 remapped */
    const char *dn = objs[1]->notes;
    if (!strstr(dn, "; accepted, not acted on locally: spec.strategy, "
                    "spec.template.metadata.annotations, spec.template.spec.serviceAccountName, "
                    "spec.template.spec.containers[0].image, .ports, .resources") ||
        strstr(dn, "Probe") || strstr(dn, "selector") || strstr(dn, "metadata.labels"))
        fail_msg("deployment notes: %s", dn);
    assert_int_equal(objs[2]->kind, CTL_KIND_SERVICE);
    assert_string_equal(objs[2]->notes, "accepted, not acted on locally: spec.ports, .type");
    assert_int_equal(objs[3]->kind, CTL_KIND_CONFIG_MAP);
    assert_int_equal(objs[4]->kind, CTL_KIND_SECRET);
    assert_null(json_object_get(objs[4]->raw, "data"));
    assert_null(json_object_get(objs[4]->raw, "stringData"));
    assert_non_null(strstr(objs[4]->notes, "stored without data and stringData"));
    assert_int_equal(objs[5]->kind, CTL_KIND_HPA);
    assert_non_null(strstr(objs[5]->notes, "use a PodAutoscaler"));
    /* the Service names the Deployment's model */
    json_t *models = ctl_obj_service_models(objs[2], objs, n);
    assert_int_equal(json_array_size(models), 1);
    assert_string_equal(json_string_value(json_array_get(models, 0)), "mistral-7b");
    json_decref(models);
    models = ctl_obj_service_models(objs[2], objs, 1); /* the ServiceAccount only */
    assert_int_equal(json_array_size(models), 0);
    json_decref(models);

    assert_int_equal(json_array_size(warnings), 4);
    assert_string_equal(json_string_value(json_array_get(warnings, 3)),
                        "document 10: deployment/grafana: no model.aibrix.ai/name label: not a "
                        "model server, skipped (brix up runs and routes to model servers only)");
    assert_string_equal(json_string_value(json_array_get(warnings, 0)),
                        "document 6: kind KVCache (orchestration.aibrix.ai/v1alpha1): unknown "
                        "kind, skipped");
    assert_string_equal(json_string_value(json_array_get(warnings, 1)),
                        "document 7: Ingress old: apiVersion: extensions/v1beta1 is not one brix "
                        "knows (networking.k8s.io/v1), skipped");
    if (!strstr(
            json_string_value(json_array_get(warnings, 2)),
            "document 8: ClusterRole: metadata.name: 'aibrix:reader' is not a DNS-1123 subdomain"))
        fail_msg("%s", json_string_value(json_array_get(warnings, 2)));
    ctl_objs_free(objs, n);
    json_decref(docs);
    json_decref(warnings);
}

/* A selector that does not match the pod template's labels is refused, as
 * Kubernetes refuses it; a Service without selector names no model. */
static void test_selectors(void **st)
{
    (void)st;
    expect_error(DEP_HEAD "spec: {selector: {matchLabels: {app: other}}}\n",
                 "Deployment llama: spec.selector.matchLabels: does not match "
                 "spec.template.metadata.labels (Kubernetes refuses such a Deployment)");
    char err[512];
    ctl_obj *ok = parse_one(DEP_HEAD "spec:\n  selector: {matchLabels: {app: x}}\n"
                                     "  template: {metadata: {labels: {app: x}}}\n",
                            err, sizeof(err));
    if (!ok) fail_msg("%s", err);
    assert_string_equal(ok->notes, "");
    ctl_obj *svc =
        parse_one("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", err, sizeof(err));
    assert_non_null(svc);
    assert_string_equal(svc->notes, "");
    json_t *m = ctl_obj_service_models(svc, &ok, 1);
    assert_int_equal(json_array_size(m), 0);
    json_decref(m);
    ctl_obj_free(svc);
    expect_error("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selector: [a]}\n",
                 "Service s: spec.selector: must be a mapping");
    ctl_obj_free(ok);
}

/* AIBrix's samples may label the Deployment and its pods differently: the
 * pods' label names the model (AIBrix's gateway reads the pods'), noted. */
static void test_model_label_of_pods(void **st)
{
    (void)st;
    char err[512];
    ctl_obj *o = parse_one(DEP_HEAD "spec:\n  template:\n    metadata:\n      labels: "
                                    "{model.aibrix.ai/name: other}\n",
                           err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_string_equal(o->u.dep.model, "other");
    assert_string_equal(
        json_string_value(json_object_get(o->u.dep.pod_labels, "model.aibrix.ai/name")), "other");
    assert_string_equal(o->notes, "metadata.labels[\"model.aibrix.ai/name\"]: 'llama-3-8b' differs "
                                  "from the pod template's 'other': the pods' label names the "
                                  "model, as in AIBrix");
    ctl_obj_free(o);
    expect_error(DEP_HEAD "spec:\n  template:\n    metadata:\n      labels: "
                          "{model.aibrix.ai/name: \"-x\"}\n",
                 "Deployment llama: spec.template.metadata.labels[\"model.aibrix.ai/name\"]: '-x' "
                 "is not a valid model name (1..255 of A-Za-z0-9._/:-)");
}

/* A PodAutoscaler's pod sources: port and protocolType are named (each
 * engine is scraped at its own URL); an external source's are not. */
static void test_autoscaler_unused(void **st)
{
    (void)st;
    char err[512];
    ctl_obj *o = parse_one(
        PA_HEAD "spec:\n"
                "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: x}\n"
                "  scalingStrategy: KPA\n"
                "  metricsSources:\n"
                "    - {metricSourceType: pod, protocolType: http, port: \"8000\", path: metrics,"
                " targetMetric: m, targetValue: \"1\"}\n"
                "    - {metricSourceType: external, protocolType: http, endpoint: \"a:1\","
                " path: /m, targetMetric: m, targetValue: \"1\"}\n",
        err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_string_equal(o->notes, "accepted, not acted on locally: spec.metricsSources[0].port, "
                                  ".protocolType");
    ctl_obj_free(o);
    /* AIBrix's predictive scaling: checked, accepted, named */
    o = parse_one(PA_HEAD "spec:\n"
                          "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: x}\n"
                          "  scalingStrategy: KPA\n"
                          "  predictive: {mode: Preview, horizonSeconds: 300}\n"
                          "  metricsSources:\n"
                          "    - {metricSourceType: custom, targetMetric: m, targetValue: \"1\"}\n",
                  err, sizeof(err));
    if (!o) fail_msg("%s", err);
    assert_string_equal(o->notes, "accepted, not acted on locally: spec.predictive");
    ctl_obj_free(o);
}

/* Many fields not acted on: the note stays within its buffer and says how
 * many it left out. */
static void test_unused_note_bounded(void **st)
{
    (void)st;
    char y[16384];
    size_t o = (size_t)snprintf(y, sizeof(y), DEP_HEAD "spec:\n");
    for (int i = 0; i < 300; i++)
        o += (size_t)snprintf(y + o, sizeof(y) - o, "  field-number-%03d: x\n", i);
    char err[512];
    ctl_obj *d = parse_one(y, err, sizeof(err));
    if (!d) fail_msg("%s", err);
    assert_true(strlen(d->notes) < CTL_NOTES_MAX);
    assert_non_null(strstr(d->notes, "spec.field-number-000, .field-number-001"));
    assert_non_null(strstr(d->notes, " more"));
    ctl_obj_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deployment_defaults),
        cmocka_unit_test(test_deployment_full),
        cmocka_unit_test(test_deployment_grace_and_args_only),
        cmocka_unit_test(test_deployment_host_placeholder),
        cmocka_unit_test(test_deployment_port_remap),
        cmocka_unit_test(test_deployment_kv_events),
        cmocka_unit_test(test_gateway_config_refused),
        cmocka_unit_test(test_adapter),
        cmocka_unit_test(test_adapter_defaults),
        cmocka_unit_test(test_autoscaler),
        cmocka_unit_test(test_quickstart_file),
        cmocka_unit_test(test_multi_document_errors),
        cmocka_unit_test(test_common_errors),
        cmocka_unit_test(test_deployment_errors),
        cmocka_unit_test(test_adapter_errors),
        cmocka_unit_test(test_autoscaler_errors),
        cmocka_unit_test(test_kinds_and_names),
        cmocka_unit_test(test_parse_all_aibrix_file),
        cmocka_unit_test(test_selectors),
        cmocka_unit_test(test_model_label_of_pods),
        cmocka_unit_test(test_autoscaler_unused),
        cmocka_unit_test(test_unused_note_bounded),
        cmocka_unit_test(test_gateway_config_parse),
        cmocka_unit_test(test_gateway_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
