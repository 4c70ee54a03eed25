/* Tests for the admin API (ctl_api) driven through the real CLI (ctl_cli):
 * the API runs on its own libuv loop in a background thread over a
 * temp-file store (the "sqlite" object store, whose watch stands for the
 * controllers); the test thread runs `brix apply/get/describe/delete`
 * with --server pointing at it and reads the store through a second handle
 * (WAL lets both work on one file). Printers are also checked alone with a
 * fixed clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/bx_yaml.h"
#include "common/bx_query.h"
#include "ctl/ctl_api.h"
#include "ctl/ctl_cli.h"
#include "ctl/ctl_key.h"
#include "ctl/ctl_objstore_sqlite.h"
#include "ctl/ctl_store.h"

static const char quickstart[] = "apiVersion: apps/v1\n"
                                 "kind: Deployment\n"
                                 "metadata:\n"
                                 "  name: llama-3-8b\n"
                                 "  labels:\n"
                                 "    model.aibrix.ai/name: llama-3-8b\n"
                                 "    adapter.model.aibrix.ai/enabled: \"true\"\n"
                                 "  annotations:\n"
                                 "    brix.ai/routing-strategy: least-request\n"
                                 "spec:\n"
                                 "  replicas: REPLICAS\n"
                                 "  template:\n"
                                 "    metadata:\n"
                                 "      labels:\n"
                                 "        model.aibrix.ai/name: llama-3-8b\n"
                                 "        adapter.model.aibrix.ai/enabled: \"true\"\n"
                                 "    spec:\n"
                                 "      containers:\n"
                                 "        - name: engine\n"
                                 "          command: [\"{brix}\", \"engine\"]\n"
                                 "          args: [--port, \"{port}\", --model, \"{model}\"]\n"
                                 "---\n"
                                 "apiVersion: model.aibrix.ai/v1alpha1\n"
                                 "kind: ModelAdapter\n"
                                 "metadata:\n"
                                 "  name: sql-lora\n"
                                 "spec:\n"
                                 "  baseModel: llama-3-8b\n"
                                 "  podSelector:\n"
                                 "    matchLabels:\n"
                                 "      model.aibrix.ai/name: llama-3-8b\n"
                                 "  artifactURL: huggingface://yard1/llama-2-7b-sql-lora-test\n"
                                 "  replicas: 1\n"
                                 "---\n"
                                 "apiVersion: autoscaling.aibrix.ai/v1alpha1\n"
                                 "kind: PodAutoscaler\n"
                                 "metadata:\n"
                                 "  name: llama-3-8b-kpa\n"
                                 "spec:\n"
                                 "  scaleTargetRef:\n"
                                 "    apiVersion: apps/v1\n"
                                 "    kind: Deployment\n"
                                 "    name: llama-3-8b\n"
                                 "  minReplicas: 1\n"
                                 "  maxReplicas: 4\n"
                                 "  scalingStrategy: KPA\n"
                                 "  metricsSources:\n"
                                 "    - metricSourceType: pod\n"
                                 "      protocolType: http\n"
                                 "      port: \"8000\"\n"
                                 "      path: /metrics\n"
                                 "      targetMetric: num_requests_running\n"
                                 "      targetValue: \"8\"\n";

/* ---- the server thread ---- */

typedef struct srv {
    char dir[64];
    char db[96];
    ctl_objstore *store; /* the API's handle (server thread only) */
    ctl_store *peek;     /* the test's handle */
    uv_loop_t loop;
    uv_async_t stop;
    ctl_api *api;
    pthread_t th;
    char url[64];
    int port;
    atomic_int applied, deleted;         /* the store's watch: PUT and DELETE events */
    char last_deleted[CTL_NAME_MAX + 1]; /* written before the reply is sent */
    json_t *labels;
    ctl_podview pods[2];
} srv;

/* The store's watch, as `brix up`'s controllers see it. */
static void on_watch(void *ud, const ctl_watch_event *ev)
{
    srv *s = ud;
    if (ev->type == CTL_WATCH_PUT) {
        assert_non_null(ev->obj);
        atomic_fetch_add(&s->applied, 1);
    } else if (ev->type == CTL_WATCH_DELETE) {
        snprintf(s->last_deleted, sizeof(s->last_deleted), "%s", ev->name);
        atomic_fetch_add(&s->deleted, 1);
    }
}

static int list_pods(void *ud, const ctl_podview **out, size_t *n)
{
    srv *s = ud;
    *out = s->pods;
    *n = 2;
    return 0;
}

static void on_stop(uv_async_t *a)
{
    srv *s = a->data;
    ctl_api_close(s->api, NULL, NULL);
    uv_close((uv_handle_t *)&s->stop, NULL);
}

static void *loop_main(void *ud)
{
    srv *s = ud;
    uv_run(&s->loop, UV_RUN_DEFAULT);
    return NULL;
}

static int srv_setup(void **state)
{
    srv *s = calloc(1, sizeof(*s));
    char err[256];
    snprintf(s->dir, sizeof(s->dir), "/tmp/brix-api-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->db, sizeof(s->db), "%s/store.db", s->dir);
    assert_int_equal(ctl_objstore_sqlite_open(s->db, &s->store, err, sizeof(err)), 0);
    assert_int_equal(ctl_objstore_watch(s->store, CTL_KIND_NONE, on_watch, s), 0);
    assert_int_equal(ctl_store_open(s->db, &s->peek, err, sizeof(err)), 0);
    s->labels = json_pack("{s:s}", "model.aibrix.ai/name", "llama-3-8b");
    s->pods[0] = (ctl_podview){.name = "llama-3-8b-0",
                               .deployment = "llama-3-8b",
                               .model = "llama-3-8b",
                               .url = "http://127.0.0.1:20001",
                               .labels = s->labels,
                               .replica = 0,
                               .port = 20001,
                               .pid = 4242,
                               .phase = CTL_POD_READY,
                               .restarts = 0,
                               .ready_since_ms = 1700000000000};
    s->pods[1] = (ctl_podview){.name = "llama-3-8b-1",
                               .deployment = "llama-3-8b",
                               .model = "llama-3-8b",
                               .url = "http://127.0.0.1:20002",
                               .labels = s->labels,
                               .replica = 1,
                               .port = 20002,
                               .pid = 0,
                               .phase = CTL_POD_BACKOFF,
                               .restarts = 3};
    assert_int_equal(uv_loop_init(&s->loop), 0);
    assert_int_equal(uv_async_init(&s->loop, &s->stop, on_stop), 0);
    s->stop.data = s;
    ctl_api_config cfg;
    ctl_api_config_default(&cfg);
    cfg.port = 0;
    cfg.max_body_bytes = 64 * 1024;
    cfg.gateway_url = "http://127.0.0.1:8888";
    ctl_api_callbacks cbs = {.pods = list_pods, .ud = s};
    assert_int_equal(ctl_api_init(&s->api, &s->loop, s->store, &cfg, &cbs, err, sizeof(err)), 0);
    s->port = ctl_api_listen(s->api, err, sizeof(err));
    assert_true(s->port > 0);
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
    assert_int_equal(pthread_create(&s->th, NULL, loop_main, s), 0);
    *state = s;
    return 0;
}

static int srv_teardown(void **state)
{
    srv *s = *state;
    uv_async_send(&s->stop);
    pthread_join(s->th, NULL);
    assert_int_equal(uv_loop_close(&s->loop), 0);
    ctl_objstore_unwatch(s->store, on_watch, s);
    ctl_objstore_close(s->store);
    ctl_store_close(s->peek);
    json_decref(s->labels);
    char path[128];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s%s", s->db, sfx[i]);
        unlink(path);
    }
    rmdir(s->dir);
    free(s);
    return 0;
}

/* ---- running the CLI ---- */

typedef struct out {
    int rc;
    char *out, *err;
} out;

static void out_free(out *o)
{
    free(o->out);
    free(o->err);
}

/* Runs ctl_cli_run with the NULL-terminated words plus --server. */
static out cli(srv *s, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, s);
    const char *w;
    while ((w = va_arg(ap, const char *)) != NULL && argc < 28)
        argv[argc++] = (char *)w;
    va_end(ap);
    argv[argc++] = "--server";
    argv[argc++] = s->url;
    argv[argc] = NULL;
    out o = {0};
    size_t ol = 0, el = 0;
    FILE *fo = open_memstream(&o.out, &ol), *fe = open_memstream(&o.err, &el);
    assert_non_null(fo);
    assert_non_null(fe);
    o.rc = ctl_cli_run(argc, argv, fo, fe);
    fclose(fo);
    fclose(fe);
    return o;
}

static char *write_tmp(srv *s, const char *name, const char *text)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", s->dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* The quickstart with spec.replicas = n. */
static char *quickstart_with(int n)
{
    static char buf[sizeof(quickstart) + 16];
    const char *p = strstr(quickstart, "REPLICAS");
    snprintf(buf, sizeof(buf), "%.*s%d%s", (int)(p - quickstart), quickstart, n, p + 8);
    return buf;
}

/* Whitespace-separated cells of the line starting with "first ". */
static int row_cells(const char *text, const char *first, char cells[][64], int max)
{
    size_t fl = strlen(first);
    const char *l = text;
    while (l && *l) {
        if (strncmp(l, first, fl) == 0 && l[fl] == ' ') break;
        l = strchr(l, '\n');
        if (l) l++;
    }
    if (!l || !*l) return 0;
    int n = 0;
    const char *end = strchr(l, '\n');
    if (!end) end = l + strlen(l);
    while (l < end && n < max) {
        while (l < end && *l == ' ')
            l++;
        if (l >= end) break;
        size_t k = strcspn(l, " \n");
        snprintf(cells[n++], 64, "%.*s", (int)k, l);
        l += k;
    }
    return n;
}

static void apply_quickstart(srv *s, int replicas)
{
    char *f = write_tmp(s, "qs.yaml", quickstart_with(replicas));
    out o = cli(s, "apply", "-f", f, NULL);
    assert_int_equal(o.rc, 0);
    out_free(&o);
}

/* ---- tests through the CLI ---- */

static void test_apply_created_unchanged_configured(void **state)
{
    srv *s = *state;
    char *f = write_tmp(s, "qs.yaml", quickstart_with(2));
    out o = cli(s, "apply", "-f", f, NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "deployment/llama-3-8b created\n"));
    assert_non_null(strstr(o.out, "modeladapter/sql-lora created\n"));
    assert_non_null(strstr(o.out, "podautoscaler/llama-3-8b-kpa created\n"));
    assert_int_equal(atomic_load(&s->applied), 3);
    out_free(&o);

    o = cli(s, "apply", "-f", f, NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "deployment/llama-3-8b unchanged\n"));
    assert_non_null(strstr(o.out, "modeladapter/sql-lora unchanged\n"));
    assert_non_null(strstr(o.out, "podautoscaler/llama-3-8b-kpa unchanged\n"));
    assert_int_equal(atomic_load(&s->applied), 3); /* unchanged: no controller is told */
    out_free(&o);

    f = write_tmp(s, "qs3.yaml", quickstart_with(3));
    o = cli(s, "apply", "-f", f, NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "deployment/llama-3-8b configured\n"));
    assert_non_null(strstr(o.out, "modeladapter/sql-lora unchanged\n"));
    assert_int_equal(atomic_load(&s->applied), 4);
    out_free(&o);

    ctl_record r = {0};
    char err[256];
    assert_int_equal(ctl_store_get(s->peek, "Deployment", "llama-3-8b", &r, err, sizeof(err)), 0);
    assert_int_equal(r.generation, 2);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r.object, "spec"), "replicas")), 3);
    ctl_record_clear(&r);
}

static void test_apply_invalid_stores_nothing(void **state)
{
    srv *s = *state;
    const char *bad = "apiVersion: apps/v1\n"
                      "kind: Deployment\n"
                      "metadata:\n"
                      "  name: other-model\n"
                      "  labels: {model.aibrix.ai/name: other}\n"
                      "spec: {replicas: 1}\n"
                      "---\n"
                      "apiVersion: model.aibrix.ai/v1alpha1\n"
                      "kind: ModelAdapter\n"
                      "metadata: {name: bad-lora}\n"
                      "spec: {baseModel: other}\n";
    char *f = write_tmp(s, "bad.yaml", bad);
    out o = cli(s, "apply", "-f", f, NULL);
    assert_int_equal(o.rc, 1);
    assert_string_equal(o.out, "");
    assert_non_null(strstr(o.err, "Error from server (BadRequest)"));
    assert_non_null(strstr(o.err, "document 2"));
    assert_non_null(strstr(o.err, "spec.artifactURL"));
    out_free(&o);
    assert_int_equal(atomic_load(&s->applied), 0);
    ctl_record r = {0};
    char err[256];
    assert_int_equal(ctl_store_get(s->peek, "Deployment", "other-model", &r, err, sizeof(err)), 1);

    /* The autoscaler's own validation runs too. */
    char pa[2048];
    snprintf(pa, sizeof(pa), "%s", strstr(quickstart, "apiVersion: autoscaling"));
    char *mx = strstr(pa, "maxReplicas: 4");
    assert_non_null(mx);
    mx[13] = '0';
    f = write_tmp(s, "badpa.yaml", pa);
    o = cli(s, "apply", "-f", f, NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "PodAutoscaler llama-3-8b-kpa"));
    assert_non_null(strstr(o.err, "spec.maxReplicas"));
    out_free(&o);
    assert_int_equal(
        ctl_store_get(s->peek, "PodAutoscaler", "llama-3-8b-kpa", &r, err, sizeof(err)), 1);

    /* Not YAML at all. */
    f = write_tmp(s, "junk.yaml", "a: [unclosed\n");
    o = cli(s, "apply", "-f", f, NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "invalid YAML"));
    out_free(&o);
}

static void test_get_tables(void **state)
{
    srv *s = *state;
    apply_quickstart(s, 3);
    char err[256];
    json_t *st =
        json_pack("{s:i, s:i, s:i, s:i, s:[{s:s, s:s, s:s, s:s, s:s}]}", "replicas", 2,
                  "readyReplicas", 1, "availableReplicas", 1, "updatedReplicas", 2, "conditions",
                  "type", "Available", "status", "False", "reason", "MinimumReplicasUnavailable",
                  "message", "1 of 3 replicas ready", "lastTransitionTime", "2024-01-01T00:00:00Z");
    assert_int_equal(
        ctl_store_set_status(s->peek, "Deployment", "llama-3-8b", st, err, sizeof(err)), 0);
    json_decref(st);
    st = json_pack("{s:s, s:[s]}", "phase", "Running", "instances", "llama-3-8b-0");
    assert_int_equal(
        ctl_store_set_status(s->peek, "ModelAdapter", "sql-lora", st, err, sizeof(err)), 0);
    json_decref(st);
    st = json_pack("{s:i, s:i}", "desiredScale", 3, "actualScale", 2);
    assert_int_equal(
        ctl_store_set_status(s->peek, "PodAutoscaler", "llama-3-8b-kpa", st, err, sizeof(err)), 0);
    json_decref(st);

    char c[12][64];
    out o = cli(s, "get", "deployments", NULL);
    assert_int_equal(o.rc, 0);
    assert_int_equal(row_cells(o.out, "NAME", c, 12), 5);
    assert_string_equal(c[1], "READY");
    assert_string_equal(c[2], "UP-TO-DATE");
    assert_string_equal(c[3], "AVAILABLE");
    assert_string_equal(c[4], "AGE");
    assert_int_equal(row_cells(o.out, "llama-3-8b", c, 12), 5);
    assert_string_equal(c[1], "1/3");
    assert_string_equal(c[2], "2");
    assert_string_equal(c[3], "1");
    assert_true(strlen(c[4]) >= 2 && strchr("smhdy", c[4][strlen(c[4]) - 1]));
    /* columns are aligned: READY starts where the row's second cell does */
    const char *row = strstr(o.out, "\nllama-3-8b ");
    assert_non_null(row);
    assert_int_equal(strstr(o.out, "READY") - o.out, strstr(row + 1, "1/3") - (row + 1));
    out_free(&o);

    o = cli(s, "get", "models", NULL);
    assert_int_equal(o.rc, 0);
    assert_int_equal(row_cells(o.out, "NAME", c, 12), 6);
    assert_string_equal(c[1], "MODEL");
    assert_int_equal(row_cells(o.out, "llama-3-8b", c, 12), 6);
    assert_string_equal(c[1], "llama-3-8b");
    assert_string_equal(c[2], "1/3");
    out_free(&o);

    o = cli(s, "get", "deploy", "llama-3-8b", "-o", "wide", NULL);
    assert_int_equal(o.rc, 0);
    assert_int_equal(row_cells(o.out, "llama-3-8b", c, 12), 8);
    assert_string_equal(c[6], "vllm");
    assert_string_equal(c[7], "least-request");
    out_free(&o);

    o = cli(s, "get", "adapters", NULL);
    assert_int_equal(o.rc, 0);
    /* AIBrix's printer columns: Phase Desired Ready Candidates "Model Path" Age */
    assert_int_equal(row_cells(o.out, "NAME", c, 12), 8);
    assert_string_equal(c[1], "PHASE");
    assert_string_equal(c[2], "DESIRED");
    assert_string_equal(c[4], "CANDIDATES");
    assert_string_equal(c[5], "MODEL");
    assert_string_equal(c[6], "PATH");
    assert_int_equal(row_cells(o.out, "sql-lora", c, 12), 7);
    assert_string_equal(c[1], "Running");
    assert_string_equal(c[5], "huggingface://yard1/llama-2-7b-sql-lora-test");
    out_free(&o);
    o = cli(s, "get", "ma", "-o", "wide", NULL);
    assert_int_equal(o.rc, 0);
    assert_int_equal(row_cells(o.out, "sql-lora", c, 12), 11);
    assert_string_equal(c[7], "llama-3-8b");
    assert_string_equal(c[8], "llama-3-8b-0");
    out_free(&o);

    o = cli(s, "get", "pa", NULL);
    assert_int_equal(o.rc, 0);
    /* AIBrix's printer columns: MINPODS MAXPODS REPLICAS STRATEGY AGE */
    assert_int_equal(row_cells(o.out, "NAME", c, 12), 6);
    assert_string_equal(c[1], "MINPODS");
    assert_string_equal(c[2], "MAXPODS");
    assert_string_equal(c[3], "REPLICAS");
    assert_string_equal(c[4], "STRATEGY");
    assert_int_equal(row_cells(o.out, "llama-3-8b-kpa", c, 12), 6);
    assert_string_equal(c[1], "1");
    assert_string_equal(c[2], "4");
    assert_string_equal(c[3], "2");
    assert_string_equal(c[4], "KPA");
    out_free(&o);
    o = cli(s, "get", "podautoscalers.autoscaling.aibrix.ai", "-o", "wide", NULL);
    assert_int_equal(o.rc, 0);
    assert_int_equal(row_cells(o.out, "llama-3-8b-kpa", c, 12), 10);
    assert_string_equal(c[6], "Deployment/llama-3-8b");
    assert_string_equal(c[8], "3");
    out_free(&o);

    o = cli(s, "get", "pods", NULL);
    assert_int_equal(o.rc, 0);
    /* kubectl's: NAME READY STATUS RESTARTS AGE */
    assert_int_equal(row_cells(o.out, "NAME", c, 12), 5);
    assert_string_equal(c[1], "READY");
    assert_string_equal(c[2], "STATUS");
    assert_int_equal(row_cells(o.out, "llama-3-8b-0", c, 12), 5);
    assert_string_equal(c[1], "1/1");
    assert_string_equal(c[2], "Running");
    assert_string_equal(c[3], "0");
    assert_int_equal(row_cells(o.out, "llama-3-8b-1", c, 12), 5);
    assert_string_equal(c[1], "0/1");
    assert_string_equal(c[2], "CrashLoopBackOff");
    assert_string_equal(c[3], "3");
    assert_string_equal(c[4], "<unknown>"); /* never ready, not in the store */
    out_free(&o);
    o = cli(s, "get", "po", "-o", "wide", NULL);
    assert_int_equal(o.rc, 0);
    assert_int_equal(row_cells(o.out, "NAME", c, 12), 11);
    assert_string_equal(c[5], "DEPLOYMENT");
    assert_string_equal(c[8], "PID");
    assert_int_equal(row_cells(o.out, "llama-3-8b-0", c, 12), 11);
    assert_string_equal(c[5], "llama-3-8b");
    assert_string_equal(c[6], "Ready");
    assert_string_equal(c[7], "20001");
    assert_string_equal(c[8], "4242");
    assert_int_equal(row_cells(o.out, "llama-3-8b-1", c, 12), 11);
    assert_string_equal(c[6], "Backoff");
    assert_string_equal(c[8], "<none>");
    out_free(&o);

    o = cli(s, "get", "pods", "llama-3-8b-1", "nope-0", NULL);
    assert_int_equal(o.rc, 1);
    assert_null(strstr(o.out, "llama-3-8b-0"));
    assert_non_null(strstr(o.out, "llama-3-8b-1"));
    assert_non_null(strstr(o.err, "pod \"nope-0\" not found"));
    out_free(&o);

    o = cli(s, "get", "gizmos", NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "gizmos"));
    out_free(&o);
}

static void test_get_json_yaml_name(void **state)
{
    srv *s = *state;
    apply_quickstart(s, 2);
    out o = cli(s, "get", "deployments", "-o", "json", NULL);
    assert_int_equal(o.rc, 0);
    json_error_t je;
    json_t *j = json_loads(o.out, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "List");
    json_t *items = json_object_get(j, "items");
    assert_int_equal(json_array_size(items), 1);
    json_t *d = json_array_get(items, 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, "metadata"), "name")),
                        "llama-3-8b");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(d, "metadata"), "generation")), 1);
    assert_true(json_is_object(json_object_get(d, "status")));
    json_decref(j);
    out_free(&o);

    o = cli(s, "get", "ma", "sql-lora", "-o=json", NULL);
    assert_int_equal(o.rc, 0);
    j = json_loads(o.out, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "ModelAdapter");
    json_decref(j);
    out_free(&o);

    o = cli(s, "get", "autoscalers", "llama-3-8b-kpa", "-o", "yaml", NULL);
    assert_int_equal(o.rc, 0);
    char err[256];
    assert_int_equal(bx_yaml_load(o.out, strlen(o.out), NULL, &j, err, sizeof(err)), 0);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "PodAutoscaler");
    json_t *ms = json_array_get(json_object_get(json_object_get(j, "spec"), "metricsSources"), 0);
    /* "8000" and "8" stay strings through YAML */
    assert_string_equal(json_string_value(json_object_get(ms, "port")), "8000");
    assert_string_equal(json_string_value(json_object_get(ms, "targetValue")), "8");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "spec"), "maxReplicas")),
                     4);
    json_decref(j);
    out_free(&o);

    o = cli(s, "get", "pods", "-o", "name", NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.out, "pod/llama-3-8b-0\npod/llama-3-8b-1\n");
    out_free(&o);

    o = cli(s, "get", "deployments", "-o", "toml", NULL);
    assert_int_equal(o.rc, 1);
    out_free(&o);
}

static void test_describe(void **state)
{
    srv *s = *state;
    apply_quickstart(s, 2);
    char err[256];
    json_t *st =
        json_pack("{s:i, s:i, s:i, s:i, s:[{s:s, s:s, s:s, s:s, s:s}]}", "replicas", 2,
                  "readyReplicas", 2, "availableReplicas", 2, "updatedReplicas", 2, "conditions",
                  "type", "Available", "status", "True", "reason", "MinimumReplicasAvailable",
                  "message", "2 of 2 replicas ready", "lastTransitionTime", "2024-01-01T00:00:00Z");
    assert_int_equal(
        ctl_store_set_status(s->peek, "Deployment", "llama-3-8b", st, err, sizeof(err)), 0);
    json_decref(st);
    for (int i = 0; i < 2; i++)
        assert_int_equal(ctl_store_event(s->peek, "Deployment", "llama-3-8b", CTL_EVENT_NORMAL,
                                         "ScalingReplicaSet", "Scaled up to 2 replicas", 0, err,
                                         sizeof(err)),
                         0);
    assert_int_equal(ctl_store_event(s->peek, "Deployment", "llama-3-8b", CTL_EVENT_WARNING,
                                     "Unhealthy", "replica 1 failed its readiness probe", 0, err,
                                     sizeof(err)),
                     0);

    out o = cli(s, "describe", "deployment", "llama-3-8b", NULL);
    assert_int_equal(o.rc, 0);
    const char *t = o.out;
    assert_non_null(strstr(t, "Name:               llama-3-8b\n"));
    assert_non_null(strstr(t, "Kind:               Deployment\n"));
    assert_non_null(strstr(t, "Model:              llama-3-8b\n"));
    assert_non_null(
        strstr(t, "Replicas:           2 desired | 2 updated | 2 total | 2 available | 2 ready\n"));
    assert_non_null(strstr(t, "Command:            {brix} engine --port {port} --model {model}"));
    assert_non_null(strstr(t, "Routing Strategy:   least-request\n"));
    /* pods from the pods callback */
    assert_non_null(strstr(t, "Pods:\n"));
    assert_non_null(strstr(t, "llama-3-8b-1"));
    /* conditions */
    char c[12][64];
    assert_true(row_cells(t, "  Available", c, 12) >= 4);
    assert_string_equal(c[1], "True");
    assert_string_equal(c[2], "MinimumReplicasAvailable");
    /* events: aggregated count 2, then the warning */
    assert_non_null(strstr(t, "Events:\n"));
    assert_true(row_cells(t, "  Normal", c, 12) >= 5);
    assert_string_equal(c[1], "ScalingReplicaSet");
    assert_non_null(strstr(t, "Scaled up to 2 replicas"));
    const char *ev = strstr(t, "  Normal ");
    assert_non_null(strstr(ev, " 2       Scaled up to 2 replicas\n"));
    const char *w = strstr(t, "  Warning ");
    assert_non_null(w);
    assert_true(w > ev);
    assert_non_null(strstr(w, "Unhealthy"));
    assert_non_null(strstr(w, "replica 1 failed its readiness probe"));
    out_free(&o);

    o = cli(s, "describe", "adapters", "sql-lora", NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(
        strstr(o.out, "Artifact URL:       huggingface://yard1/llama-2-7b-sql-lora-test\n"));
    assert_non_null(strstr(o.out, "Pod Selector:       model.aibrix.ai/name=llama-3-8b\n"));
    assert_non_null(strstr(o.out, "Events:             <none>\n"));
    out_free(&o);

    o = cli(s, "describe", "pa", "llama-3-8b-kpa", NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "Target:             Deployment/llama-3-8b\n"));
    assert_non_null(strstr(o.out, "  num_requests_running target 8 (pod)\n"));
    assert_non_null(strstr(o.out, "Desired Scale:      <none>\n"));
    out_free(&o);

    o = cli(s, "describe", "deployment", "missing", NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(
        strstr(o.err, "Error from server (NotFound): deployment \"missing\" not found"));
    out_free(&o);
}

static void test_delete(void **state)
{
    srv *s = *state;
    apply_quickstart(s, 2);
    out o = cli(s, "delete", "deployment", "llama-3-8b", NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.out, "deployment \"llama-3-8b\" deleted\n");
    assert_int_equal(atomic_load(&s->deleted), 1);
    assert_string_equal(s->last_deleted, "llama-3-8b");
    out_free(&o);
    ctl_record r = {0};
    char err[256];
    assert_int_equal(ctl_store_get(s->peek, "Deployment", "llama-3-8b", &r, err, sizeof(err)), 1);

    o = cli(s, "get", "deployments", "llama-3-8b", NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "NotFound"));
    out_free(&o);

    o = cli(s, "delete", "deployment", "llama-3-8b", NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "Error from server (NotFound)"));
    assert_int_equal(atomic_load(&s->deleted), 1);
    out_free(&o);

    o = cli(s, "delete", "deployment", "llama-3-8b", "--ignore-not-found", NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.err, "");
    out_free(&o);

    /* -f: every object of the file; the deployment is already gone. */
    char *f = write_tmp(s, "qs.yaml", quickstart_with(2));
    o = cli(s, "delete", "-f", f, NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.out, "modeladapter \"sql-lora\" deleted\n"));
    assert_non_null(strstr(o.out, "podautoscaler \"llama-3-8b-kpa\" deleted\n"));
    assert_non_null(strstr(o.err, "deployment \"llama-3-8b\" not found"));
    assert_int_equal(atomic_load(&s->deleted), 3);
    out_free(&o);

    o = cli(s, "get", "adapters", NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.out, "");
    assert_string_equal(o.err, "No resources found in default namespace.\n");
    out_free(&o);
}

/* Namespaces: the same names in two namespaces are two objects; -n, -A,
 * -l, resource.group and short names, get all, -o name on every kind. */
static void test_namespaces(void **state)
{
    srv *s = *state;
    apply_quickstart(s, 2);
    char *f = write_tmp(s, "qs.yaml", quickstart_with(3));
    out o = cli(s, "apply", "-n", "team-a", "-f", f, NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "deployment/llama-3-8b created\n")); /* not configured */
    out_free(&o);
    /* two rows in the store, the default one unchanged */
    ctl_record r = {0};
    char err[256];
    assert_int_equal(ctl_store_get(s->peek, "Deployment", "llama-3-8b", &r, err, sizeof(err)), 0);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r.object, "spec"), "replicas")), 2);
    ctl_record_clear(&r);
    assert_int_equal(
        ctl_store_get(s->peek, "Deployment", "team-a:llama-3-8b", &r, err, sizeof(err)), 0);
    ctl_record_clear(&r);
    /* the autoscaler in team-a targets team-a's deployment: its key */
    char c[12][64];
    o = cli(s, "get", "deploy", NULL);
    assert_int_equal(o.rc, 0);
    assert_int_equal(row_cells(o.out, "llama-3-8b", c, 12), 5);
    assert_string_equal(c[1], "0/2");
    out_free(&o);
    o = cli(s, "get", "deployments.apps", "--namespace", "team-a", NULL);
    assert_int_equal(o.rc, 0);
    assert_int_equal(row_cells(o.out, "llama-3-8b", c, 12), 5);
    assert_string_equal(c[1], "0/3");
    out_free(&o);
    o = cli(s, "get", "deployment.v1.apps", "-A", NULL);
    assert_int_equal(o.rc, 0);
    assert_int_equal(row_cells(o.out, "NAMESPACE", c, 12), 6);
    assert_string_equal(c[1], "NAME");
    assert_int_equal(row_cells(o.out, "default", c, 12), 6);
    assert_string_equal(c[1], "llama-3-8b");
    assert_string_equal(c[2], "0/2");
    assert_int_equal(row_cells(o.out, "team-a", c, 12), 6);
    assert_string_equal(c[2], "0/3");
    out_free(&o);
    o = cli(s, "get", "ma", "sql-lora", "-n", "team-a", "-o", "json", NULL);
    assert_int_equal(o.rc, 0);
    json_t *j = json_loads(o.out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "metadata"), "namespace")), "team-a");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "metadata"), "name")),
                        "sql-lora");
    json_decref(j);
    out_free(&o);
    o = cli(s, "get", "ma", "sql-lora", "-n", "team-b", NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "not found"));
    out_free(&o);
    /* a document naming another namespace than -n: refused, as kubectl does */
    f = write_tmp(s, "b.yaml",
                  "apiVersion: model.aibrix.ai/v1alpha1\nkind: ModelAdapter\n"
                  "metadata: {name: x, namespace: team-b}\n"
                  "spec: {baseModel: m, artifactURL: 'hf://a/b'}\n");
    o = cli(s, "apply", "-n", "team-a", "-f", f, NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "does not match the namespace"));
    out_free(&o);
    o = cli(s, "apply", "-f", f, NULL); /* its own namespace */
    assert_int_equal(o.rc, 0);
    out_free(&o);
    o = cli(s, "get", "modeladapters.model.aibrix.ai", "-A", "-o", "name", NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.out, "modeladapter.model.aibrix.ai/sql-lora\n"
                               "modeladapter.model.aibrix.ai/sql-lora\n"
                               "modeladapter.model.aibrix.ai/x\n");
    out_free(&o);
    /* -l */
    o = cli(s, "get", "deploy", "-A", "-l", "model.aibrix.ai/name=llama-3-8b", "-o", "name", NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.out, "deployment.apps/llama-3-8b\ndeployment.apps/llama-3-8b\n");
    out_free(&o);
    o = cli(s, "get", "deploy", "-l", "model.aibrix.ai/name!=llama-3-8b", NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.out, "");
    out_free(&o);
    o = cli(s, "get", "po", "-l", "!model.aibrix.ai/name", "-o", "name", NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.out, "");
    out_free(&o);
    o = cli(s, "get", "po", "-l", "model.aibrix.ai/name,app!=x", "-o", "name", NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.out, "pod/llama-3-8b-0\npod/llama-3-8b-1\n");
    out_free(&o);
    o = cli(s, "get", "po", "-l", "a=b=c", NULL);
    assert_int_equal(o.rc, 1);
    out_free(&o);
    /* get all: every kind, names with their kind */
    o = cli(s, "get", "all", NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "\npod/llama-3-8b-0 "));
    assert_non_null(strstr(o.out, "\ndeployment.apps/llama-3-8b "));
    assert_non_null(strstr(o.out, "\nmodeladapter.model.aibrix.ai/sql-lora "));
    assert_non_null(strstr(o.out, "\npodautoscaler.autoscaling.aibrix.ai/llama-3-8b-kpa "));
    out_free(&o);
    o = cli(s, "get", "ev", "-o", "name", NULL);
    assert_int_equal(o.rc, 0);
    out_free(&o);
    /* the pods are default's: none in team-a */
    o = cli(s, "get", "pods", "-n", "team-a", NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.out, "");
    assert_string_equal(o.err, "No resources found in team-a namespace.\n");
    out_free(&o);
    /* delete in one namespace leaves the other */
    o = cli(s, "delete", "deploy", "llama-3-8b", "-n", "team-a", NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(s->last_deleted, "team-a:llama-3-8b");
    out_free(&o);
    o = cli(s, "get", "deploy", "-A", "-o", "name", NULL);
    assert_string_equal(o.out, "deployment.apps/llama-3-8b\n");
    out_free(&o);
    o = cli(s, "get", "deploy", "llama-3-8b", "-A", NULL);
    assert_int_equal(o.rc, 1);
    out_free(&o);
    o = cli(s, "delete", "deploy", "llama-3-8b", "-A", NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "-A is for get and describe"));
    out_free(&o);
    o = cli(s, "get", "deploy", "-n", "Bad_NS", NULL);
    assert_int_equal(o.rc, 1);
    out_free(&o);
    o = cli(s, "describe", "deploy", "-A", NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "llama-3-8b"));
    out_free(&o);
}

/* ctl_key: namespace and name in one key; the selector parser; log reads. */
static void test_keys_selectors_logs(void **state)
{
    (void)state;
    char k[CTL_NAME_MAX + 1], e[256];
    assert_int_equal(ctl_key_make(NULL, "a", k, sizeof(k), e, sizeof(e)), 0);
    assert_string_equal(k, "a");
    assert_int_equal(ctl_key_make("default", "a", k, sizeof(k), e, sizeof(e)), 0);
    assert_string_equal(k, "a");
    assert_int_equal(ctl_key_make("ns", "a", k, sizeof(k), e, sizeof(e)), 0);
    assert_string_equal(k, "ns:a");
    assert_string_equal(ctl_key_name(k), "a");
    char ns[CTL_NAME_MAX + 1];
    ctl_key_ns(k, ns, sizeof(ns));
    assert_string_equal(ns, "ns");
    ctl_key_ns("a", ns, sizeof(ns));
    assert_string_equal(ns, "default");
    assert_int_equal(ctl_key_make("Bad_NS", "a", k, sizeof(k), e, sizeof(e)), -1);
    char longname[61];
    memset(longname, 'a', 60);
    longname[60] = 0;
    assert_int_equal(ctl_key_make("nsx", longname, k, sizeof(k), e, sizeof(e)), -1);
    assert_non_null(strstr(e, "at most 62"));
    assert_true(ctl_key_same_ns("a", "b"));
    assert_true(ctl_key_same_ns("x:a", "x:b-0"));
    assert_false(ctl_key_same_ns("x:a", "a"));
    assert_false(ctl_key_same_ns("x:a", "y:a"));
    assert_int_equal(ctl_key_sibling("x:pa", "llama", k, sizeof(k)), 0);
    assert_string_equal(k, "x:llama");
    assert_int_equal(ctl_key_sibling("pa", "llama", k, sizeof(k)), 0);
    assert_string_equal(k, "llama");
    assert_true(ctl_key_valid("x:llama-0"));
    assert_false(ctl_key_valid("default:a"));
    assert_false(ctl_key_valid("x:"));

    json_t *l = json_pack("{s:s, s:s}", "app", "llm", "tier", "gpu");
    assert_int_equal(ctl_cli_selector_match("app=llm", l), 1);
    assert_int_equal(ctl_cli_selector_match("app==llm,tier", l), 1);
    assert_int_equal(ctl_cli_selector_match("app!=llm", l), 0);
    assert_int_equal(ctl_cli_selector_match("!tier", l), 0);
    assert_int_equal(ctl_cli_selector_match("!zone,app", l), 1);
    assert_int_equal(ctl_cli_selector_match("zone=a", l), 0);
    assert_int_equal(ctl_cli_selector_match("zone!=a", l), 1);
    assert_int_equal(ctl_cli_selector_match("=a", l), -1);
    assert_int_equal(ctl_cli_selector_match("a,,b", l), -1);
    json_decref(l);

    char path[] = "/tmp/test_ctl_api_logXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "one\ntwo\nthree\n", 14), 14);
    close(fd);
    char *b;
    size_t n;
    int64_t end;
    assert_int_equal(ctl_api_log_read(path, 0, -1, &b, &n, &end), 0);
    assert_string_equal(b, "one\ntwo\nthree\n");
    assert_int_equal(end, 14);
    free(b);
    assert_int_equal(ctl_api_log_read(path, 0, 2, &b, &n, &end), 0);
    assert_string_equal(b, "two\nthree\n");
    free(b);
    assert_int_equal(ctl_api_log_read(path, 0, 0, &b, &n, &end), 0);
    assert_string_equal(b, "");
    free(b);
    assert_int_equal(ctl_api_log_read(path, 8, -1, &b, &n, &end), 0);
    assert_string_equal(b, "three\n");
    free(b);
    assert_int_equal(ctl_api_log_read(path, 99, -1, &b, &n, &end), 0); /* truncated: all */
    assert_string_equal(b, "one\ntwo\nthree\n");
    free(b);
    unlink(path);
    assert_int_equal(ctl_api_log_read(path, 0, -1, &b, &n, &end), -1);
}

/* A file in AIBrix's shape: brix's kinds apply as before; a Service, a
 * ServiceAccount and a ConfigMap are stored (one warning each), a CRD brix
 * does not know is skipped with a warning; `get svc` shows the gateway's
 * address for the model the Service selects; `delete -f` of the same file
 * deletes what was stored. */
static void test_apply_core_kinds(void **state)
{
    srv *s = *state;
    char text[8192];
    snprintf(text, sizeof(text),
             "%s---\n"
             "apiVersion: v1\n"
             "kind: Service\n"
             "metadata: {name: llama-svc, namespace: default}\n"
             "spec:\n"
             "  selector: {model.aibrix.ai/name: llama-3-8b}\n"
             "  ports: [{port: 8000, targetPort: 8000, protocol: TCP}]\n"
             "---\n"
             "apiVersion: v1\n"
             "kind: Service\n"
             "metadata: {name: other-svc}\n"
             "spec: {selector: {app: nothing}}\n"
             "---\n"
             "apiVersion: v1\n"
             "kind: ServiceAccount\n"
             "metadata: {name: llama-sa}\n"
             "---\n"
             "apiVersion: v1\n"
             "kind: ConfigMap\n"
             "metadata: {name: llama-cm}\n"
             "data: {k: v}\n"
             "---\n"
             "apiVersion: orchestration.aibrix.ai/v1alpha1\n"
             "kind: KVCache\n"
             "metadata: {name: kv}\n",
             quickstart_with(1));
    char *f = write_tmp(s, "aibrix.yaml", text);
    out o = cli(s, "apply", "-f", f, NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "deployment/llama-3-8b created\n"));
    assert_non_null(strstr(o.out, "modeladapter/sql-lora created\n"));
    assert_non_null(strstr(o.out, "podautoscaler/llama-3-8b-kpa created\n"));
    assert_non_null(strstr(o.out, "service/llama-svc created\n"));
    assert_non_null(strstr(o.out, "serviceaccount/llama-sa created\n"));
    assert_non_null(strstr(o.out, "configmap/llama-cm created\n"));
    assert_null(strstr(o.out, "kv"));
    assert_non_null(strstr(o.err, "Warning: service/llama-svc: accepted, not acted on locally: "
                                  "spec.ports\n"));
    assert_non_null(strstr(o.err, "Warning: serviceaccount/llama-sa: stored, not acted on "
                                  "locally"));
    assert_non_null(strstr(o.err, "Warning: configmap/llama-cm: stored, not acted on locally"));
    char want[512];
    snprintf(want, sizeof(want),
             "Warning: %s: document 8: kind KVCache (orchestration.aibrix.ai/v1alpha1): unknown "
             "kind, skipped\n",
             f);
    assert_non_null(strstr(o.err, want));
    assert_null(strstr(o.err, "deployment/llama-3-8b")); /* nothing it does not act on */
    out_free(&o);
    assert_int_equal(atomic_load(&s->applied), 7);

    o = cli(s, "get", "svc", NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "NAME        TYPE        ENDPOINT                MODELS       "
                                  "PORT(S)         AGE\n"));
    assert_non_null(strstr(
        o.out, "llama-svc   ClusterIP   http://127.0.0.1:8888   llama-3-8b   8000:8000/TCP   "));
    assert_non_null(
        strstr(o.out, "other-svc   ClusterIP   <none>                  <none>       <none>   "));
    out_free(&o);
    o = cli(s, "get", "svc", "llama-svc", "-o", "json", NULL);
    assert_int_equal(o.rc, 0);
    json_t *j = json_loads(o.out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "status"), "endpoint")),
        "http://127.0.0.1:8888");
    json_decref(j);
    out_free(&o);
    o = cli(s, "describe", "service", "llama-svc", NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "Models:"));
    assert_non_null(strstr(o.out, "http://127.0.0.1:8888"));
    out_free(&o);
    o = cli(s, "get", "configmaps", NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "NAME       AGE\nllama-cm   "));
    out_free(&o);

    o = cli(s, "delete", "-f", f, NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "service \"llama-svc\" deleted\n"));
    assert_non_null(strstr(o.out, "serviceaccount \"llama-sa\" deleted\n"));
    assert_non_null(strstr(o.out, "configmap \"llama-cm\" deleted\n"));
    assert_non_null(strstr(o.out, "deployment \"llama-3-8b\" deleted\n"));
    assert_non_null(strstr(o.err, "kind KVCache: unknown kind, skipped"));
    out_free(&o);
    o = cli(s, "get", "sa", NULL);
    assert_string_equal(o.err, "No resources found in default namespace.\n");
    out_free(&o);

    /* only unknown kinds: nothing stored, not an error */
    f = write_tmp(s, "crd.yaml", "apiVersion: x.io/v1\nkind: Thing\nmetadata: {name: t}\n");
    o = cli(s, "apply", "-f", f, NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.out, "");
    assert_non_null(strstr(o.err, "kind Thing (x.io/v1): unknown kind, skipped"));
    out_free(&o);
}

/* The multi-node kinds: apply (the note names what KubeRay does), get
 * tables with kubectl's / KubeRay's columns, -o wide, resource.group, get
 * all (RayCluster is in KubeRay's category all), no invented short names,
 * and describe of each with what it owns. */
static const char ray_stack[] =
    "apiVersion: orchestration.aibrix.ai/v1alpha1\n"
    "kind: RayClusterFleet\n"
    "metadata: {name: big-model}\n"
    "spec:\n"
    "  replicas: 2\n"
    "  selector: {matchLabels: {model.aibrix.ai/name: big-model}}\n"
    "  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}\n"
    "  template:\n"
    "    metadata: {labels: {model.aibrix.ai/name: big-model}}\n"
    "    spec:\n"
    "      rayVersion: '2.10.0'\n"
    "      headGroupSpec:\n"
    "        rayStartParams: {dashboard-host: 0.0.0.0}\n"
    "        template: {metadata: {labels: {model.aibrix.ai/name: big-model}},\n"
    "                   spec: {containers: [{name: head, args: [serve]}]}}\n"
    "      workerGroupSpecs:\n"
    "      - {groupName: small-group, replicas: 1, minReplicas: 1, maxReplicas: 5,\n"
    "         template: {spec: {containers: [{name: worker}]}}}\n"
    "---\n"
    "apiVersion: orchestration.aibrix.ai/v1alpha1\n"
    "kind: RayClusterReplicaSet\n"
    "metadata:\n"
    "  name: big-model-5f7d\n"
    "  annotations: {deployment.kubernetes.io/revision: '1'}\n"
    "  ownerReferences: [{apiVersion: orchestration.aibrix.ai/v1alpha1, kind: RayClusterFleet,\n"
    "    name: big-model, uid: u1, controller: true}]\n"
    "spec:\n"
    "  replicas: 2\n"
    "  selector: {matchLabels: {model.aibrix.ai/name: big-model, pod-template-hash: 5f7d}}\n"
    "  template:\n"
    "    metadata: {labels: {model.aibrix.ai/name: big-model, pod-template-hash: 5f7d}}\n"
    "    spec:\n"
    "      headGroupSpec: {template: {spec: {containers: [{name: head}]}}}\n"
    "      workerGroupSpecs:\n"
    "      - {groupName: small-group, replicas: 1, template: {spec: {containers: [{name: w}]}}}\n"
    "---\n"
    "apiVersion: ray.io/v1\n"
    "kind: RayCluster\n"
    "metadata:\n"
    "  name: big-model-5f7d-abcde\n"
    "  labels: {model.aibrix.ai/name: big-model, pod-template-hash: 5f7d}\n"
    "  ownerReferences: [{apiVersion: orchestration.aibrix.ai/v1alpha1,\n"
    "    kind: RayClusterReplicaSet, name: big-model-5f7d, uid: u2, controller: true}]\n"
    "spec:\n"
    "  headGroupSpec: {template: {spec: {containers: [{name: head}]}}}\n"
    "  workerGroupSpecs:\n"
    "  - {groupName: small-group, replicas: 1, template: {spec: {containers: [{name: w}]}}}\n"
    "---\n"
    "apiVersion: autoscaling.aibrix.ai/v1alpha1\n"
    "kind: PodAutoscaler\n"
    "metadata: {name: big-model-kpa}\n"
    "spec:\n"
    "  scaleTargetRef: {apiVersion: orchestration.aibrix.ai/v1alpha1, kind: RayClusterFleet,\n"
    "    name: big-model}\n"
    "  minReplicas: 1\n"
    "  maxReplicas: 4\n"
    "  scalingStrategy: KPA\n"
    "  metricsSources:\n"
    "  - {metricSourceType: pod, protocolType: http, port: '8000', path: /metrics,\n"
    "     targetMetric: gpu_cache_usage_perc, targetValue: '50'}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: big-model}\n"
    "spec: {selector: {model.aibrix.ai/name: big-model}}\n";

static void test_ray_kinds(void **state)
{
    srv *s = *state;
    char *f = write_tmp(s, "fleet.yaml", ray_stack);
    out o = cli(s, "apply", "-f", f, NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.out, "rayclusterfleet/big-model created\n"
                               "rayclusterreplicaset/big-model-5f7d created\n"
                               "raycluster/big-model-5f7d-abcde created\n"
                               "podautoscaler/big-model-kpa created\n"
                               "service/big-model created\n");
    assert_non_null(strstr(o.err, "Warning: rayclusterfleet/big-model: accepted, not acted on "
                                  "locally: spec.template.spec.rayVersion, "
                                  "spec.template.spec.headGroupSpec.rayStartParams\n"));
    assert_null(strstr(o.err, "rayclusterreplicaset/"));
    out_free(&o);
    char err[256];
    json_t *st = json_pack(
        "{s:i, s:i, s:i, s:i, s:i, s:s, s:[{s:s, s:s, s:s, s:s, s:s}]}", "replicas", 2,
        "updatedReplicas", 2, "readyReplicas", 1, "availableReplicas", 1, "unavailableReplicas", 1,
        "scalingTargetSelector",
        "orchestration.aibrix.ai/raycluster-fleet-name=big-model,ray.io/"
        "node-type=head",
        "conditions", "type", "Progressing", "status", "True", "reason", "NewReplicaSetAvailable",
        "message", "rolled out", "lastTransitionTime", "2024-01-01T00:00:00Z");
    assert_int_equal(
        ctl_store_set_status(s->peek, "RayClusterFleet", "big-model", st, err, sizeof(err)), 0);
    json_decref(st);
    st = json_pack("{s:i, s:i, s:i}", "replicas", 2, "readyReplicas", 1, "availableReplicas", 1);
    assert_int_equal(ctl_store_set_status(s->peek, "RayClusterReplicaSet", "big-model-5f7d", st,
                                          err, sizeof(err)),
                     0);
    json_decref(st);
    st = json_pack("{s:s, s:i, s:i, s:i, s:{s:s, s:s}}", "state", "ready", "desiredWorkerReplicas",
                   1, "readyWorkerReplicas", 1, "availableWorkerReplicas", 1, "head", "podIP",
                   "127.0.0.1", "podName", "big-model-5f7d-abcde-head");
    assert_int_equal(
        ctl_store_set_status(s->peek, "RayCluster", "big-model-5f7d-abcde", st, err, sizeof(err)),
        0);
    json_decref(st);
    assert_int_equal(ctl_store_event(s->peek, "RayCluster", "big-model-5f7d-abcde",
                                     CTL_EVENT_WARNING, "GroupRestart",
                                     "worker small-group-0 exited: restarting the group", 0, err,
                                     sizeof(err)),
                     0);

    char c[12][64];
    o = cli(s, "get", "rayclusterfleets", NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "NAME        READY   UP-TO-DATE   AVAILABLE   AGE\n"));
    assert_int_equal(row_cells(o.out, "big-model", c, 12), 5);
    assert_string_equal(c[1], "1/2");
    assert_string_equal(c[2], "2");
    assert_string_equal(c[3], "1");
    out_free(&o);
    o = cli(s, "get", "rayclusterfleet", "big-model", "-o", "wide", NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "NAME        READY   UP-TO-DATE   AVAILABLE   AGE   MODEL       "
                                  "STRATEGY        WORKERS\n"));
    assert_int_equal(row_cells(o.out, "big-model", c, 12), 8);
    assert_string_equal(c[5], "big-model");
    assert_string_equal(c[6], "RollingUpdate");
    assert_string_equal(c[7], "1");
    out_free(&o);
    o = cli(s, "get", "rayclusterreplicasets.orchestration.aibrix.ai", NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "NAME             DESIRED   CURRENT   READY   AGE\n"));
    assert_int_equal(row_cells(o.out, "big-model-5f7d", c, 12), 5);
    assert_string_equal(c[1], "2");
    assert_string_equal(c[2], "2");
    assert_string_equal(c[3], "1");
    out_free(&o);
    o = cli(s, "get", "rayclusters", NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "NAME                   DESIRED-WORKERS   AVAILABLE-WORKERS   "
                                  "STATUS   AGE\n"));
    assert_int_equal(row_cells(o.out, "big-model-5f7d-abcde", c, 12), 5);
    assert_string_equal(c[1], "1");
    assert_string_equal(c[2], "1");
    assert_string_equal(c[3], "ready");
    out_free(&o);
    o = cli(s, "get", "raycluster.ray.io", "big-model-5f7d-abcde", "-o", "wide", NULL);
    assert_int_equal(o.rc, 0);
    assert_int_equal(row_cells(o.out, "big-model-5f7d-abcde", c, 12), 8);
    assert_string_equal(c[5], "1");
    assert_string_equal(c[6], "127.0.0.1");
    assert_string_equal(c[7], "big-model");
    out_free(&o);
    o = cli(s, "get", "all", NULL);
    assert_int_equal(o.rc, 0);
    assert_non_null(strstr(o.out, "raycluster.ray.io/big-model-5f7d-abcde "));
    assert_null(strstr(o.out, "rayclusterfleet")); /* no category all */
    out_free(&o);
    /* a Service selecting the fleet's head pods names its model */
    o = cli(s, "get", "svc", "big-model", NULL);
    assert_int_equal(o.rc, 0);
    assert_int_equal(row_cells(o.out, "big-model", c, 12), 6);
    assert_string_equal(c[2], "http://127.0.0.1:8888");
    assert_string_equal(c[3], "big-model");
    out_free(&o);
    o = cli(s, "get", "rcf", NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "doesn't have a resource type \"rcf\""));
    out_free(&o);

    o = cli(s, "describe", "rayclusterfleet", "big-model", NULL);
    assert_int_equal(o.rc, 0);
    const char *t = o.out;
    assert_non_null(strstr(t, "Kind:               RayClusterFleet\n"));
    assert_non_null(strstr(t, "Model:              big-model\n"));
    assert_non_null(strstr(t, "Selector:           model.aibrix.ai/name=big-model\n"));
    assert_non_null(strstr(
        t, "Replicas:           2 desired | 2 updated | 2 total | 1 available | 1 unavailable\n"));
    assert_non_null(strstr(t, "StrategyType:       RollingUpdate\n"));
    assert_non_null(strstr(t, "RollingUpdateStrategy: 0 max unavailable, 1 max surge\n"));
    assert_non_null(strstr(t, "Scaling Selector:   orchestration.aibrix.ai/raycluster-fleet-name="
                              "big-model,ray.io/node-type=head\n"));
    assert_non_null(strstr(t, "Ray Version:        2.10.0\n"));
    assert_non_null(strstr(t, "Head Command:       {brix} engine serve\n"));
    assert_true(row_cells(t, "  small-group", c, 12) == 5);
    assert_string_equal(c[1], "1");
    assert_string_equal(c[3], "5");
    assert_true(row_cells(t, "  big-model-5f7d", c, 12) == 7);
    assert_string_equal(c[1], "2");
    assert_string_equal(c[5], "1"); /* revision */
    assert_true(row_cells(t, "  Progressing", c, 12) >= 4);
    assert_string_equal(c[2], "NewReplicaSetAvailable");
    out_free(&o);

    o = cli(s, "describe", "rayclusterreplicaset", "big-model-5f7d", NULL);
    assert_int_equal(o.rc, 0);
    t = o.out;
    assert_non_null(strstr(t, "Controlled By:      RayClusterFleet/big-model\n"));
    assert_non_null(strstr(t, "Replicas:           2 current / 2 desired\n"));
    assert_non_null(strstr(t, "RayClusters Status: 1 ready / 1 available\n"));
    assert_true(row_cells(t, "  big-model-5f7d-abcde", c, 12) == 7);
    assert_string_equal(c[4], "ready");
    out_free(&o);

    json_object_set_new(s->labels, "ray.io/cluster", json_string("big-model-5f7d-abcde"));
    o = cli(s, "describe", "raycluster", "big-model-5f7d-abcde", NULL);
    json_object_del(s->labels, "ray.io/cluster");
    assert_int_equal(o.rc, 0);
    t = o.out;
    assert_non_null(strstr(t, "Controlled By:      RayClusterReplicaSet/big-model-5f7d\n"));
    assert_non_null(strstr(t, "State:              ready\n"));
    assert_non_null(strstr(t, "Workers:            1 desired | 1 ready | 1 available\n"));
    assert_non_null(strstr(t, "Head:               big-model-5f7d-abcde-head (127.0.0.1)\n"));
    assert_non_null(strstr(t, "Pods:\n"));
    assert_non_null(strstr(t, "  llama-3-8b-0 "));
    assert_non_null(strstr(t, "GroupRestart"));
    out_free(&o);

    o = cli(s, "delete", "-f", f, NULL);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.out, "rayclusterfleet \"big-model\" deleted\n"
                               "rayclusterreplicaset \"big-model-5f7d\" deleted\n"
                               "raycluster \"big-model-5f7d-abcde\" deleted\n"
                               "podautoscaler \"big-model-kpa\" deleted\n"
                               "service \"big-model\" deleted\n");
    out_free(&o);
    o = cli(s, "get", "rayclusters", NULL);
    assert_string_equal(o.err, "No resources found in default namespace.\n");
    out_free(&o);
}

static void test_usage_errors(void **state)
{
    srv *s = *state;
    out o = cli(s, "apply", NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "usage"));
    out_free(&o);
    o = cli(s, "apply", "-f", "/nonexistent/brix.yaml", NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "/nonexistent/brix.yaml"));
    out_free(&o);
    o = cli(s, "get", "deployments", "Bad_Name", NULL);
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "DNS-1123"));
    out_free(&o);
    o = cli(s, "get", "--bogus", NULL);
    assert_int_equal(o.rc, 1);
    out_free(&o);

    /* nothing listening */
    char *argv[] = {"get", "pods", "--server=http://127.0.0.1:1", NULL};
    char *ob = NULL, *eb = NULL;
    size_t ol, el;
    FILE *fo = open_memstream(&ob, &ol), *fe = open_memstream(&eb, &el);
    assert_int_equal(ctl_cli_run(3, argv, fo, fe), 1);
    fclose(fo);
    fclose(fe);
    assert_non_null(strstr(eb, "cannot reach"));
    free(ob);
    free(eb);
}

/* ---- the API's own answers ---- */

static long req(srv *s, const char *method, const char *path, const char *ctype, const char *body,
                size_t len, json_t **j)
{
    long st = 0;
    char *resp = NULL, err[256];
    size_t rl = 0;
    assert_int_equal(
        ctl_cli_request(s->url, method, path, ctype, body, len, &st, &resp, &rl, err, sizeof(err)),
        0);
    json_error_t je;
    *j = json_loadb(resp, rl, 0, &je);
    free(resp);
    return st;
}

static const char *errmsg(json_t *j)
{
    return json_string_value(json_object_get(json_object_get(j, "error"), "message"));
}

static void test_api_routes(void **state)
{
    srv *s = *state;
    json_t *j;
    assert_int_equal(req(s, "GET", "/healthz", NULL, NULL, 0, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    json_decref(j);

    assert_int_equal(req(s, "PUT", "/v1/apply", "application/yaml", "x", 1, &j), 405);
    assert_non_null(errmsg(j));
    json_decref(j);
    assert_int_equal(req(s, "POST", "/v1/objects/deployments", "application/json", "{}", 2, &j),
                     405);
    json_decref(j);
    assert_int_equal(req(s, "GET", "/v1/objects/gizmos", NULL, NULL, 0, &j), 404);
    assert_non_null(strstr(errmsg(j), "gizmos"));
    json_decref(j);
    assert_int_equal(req(s, "GET", "/v1/objects/deployments/a/b", NULL, NULL, 0, &j), 404);
    json_decref(j);
    assert_int_equal(req(s, "GET", "/v1/objects/deployments/UPPER", NULL, NULL, 0, &j), 400);
    json_decref(j);
    assert_int_equal(req(s, "GET", "/nope", NULL, NULL, 0, &j), 404);
    json_decref(j);
    /* namespaces: a bad one is a 400; apply into one; logs without a log folder */
    assert_int_equal(req(s, "GET", "/v1/objects/deployments?namespace=Bad_NS", NULL, NULL, 0, &j),
                     400);
    json_decref(j);
    assert_int_equal(req(s, "GET", "/v1/pods?allNamespaces=true", NULL, NULL, 0, &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "items"), 0), "namespace")),
                        "default");
    json_decref(j);
    assert_int_equal(req(s, "GET", "/v1/pods?namespace=other", NULL, NULL, 0, &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
    json_decref(j);
    assert_int_equal(req(s, "GET", "/v1/pods/llama-3-8b-0/log", NULL, NULL, 0, &j), 404);
    json_decref(j);
    assert_int_equal(req(s, "GET", "/v1/pods/llama-3-8b-0/logs", NULL, NULL, 0, &j), 404);
    json_decref(j);
    assert_int_equal(req(s, "POST", "/v1/pods/llama-3-8b-0/log", "application/json", "{}", 2, &j),
                     405);
    json_decref(j);
    assert_int_equal(req(s, "GET", "/v1/pods/llama-3-8b-0/log?tailLines=x", NULL, NULL, 0, &j),
                     400);
    json_decref(j);

    /* CSRF guard: a form's content type is refused */
    const char *dep = "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
                      "\"j\",\"labels\":{\"model.aibrix.ai/name\":\"j\"}},\"spec\":{}}";
    assert_int_equal(req(s, "POST", "/v1/apply", "text/plain", dep, strlen(dep), &j), 415);
    json_decref(j);
    /* JSON bodies are accepted */
    long xx = req(s, "POST", "/v1/apply", "application/json; charset=utf-8", dep, strlen(dep), &j);
    assert_int_equal(xx, 200);
    json_t *it = json_array_get(json_object_get(j, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(it, "result")), "created");
    assert_string_equal(json_string_value(json_object_get(it, "kind")), "Deployment");
    json_decref(j);
    xx = req(s, "POST", "/v1/apply?namespace=ns-b", "application/json", dep, strlen(dep), &j);
    assert_int_equal(xx, 200);
    it = json_array_get(json_object_get(j, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(it, "result")), "created");
    assert_string_equal(json_string_value(json_object_get(it, "namespace")), "ns-b");
    assert_string_equal(json_string_value(json_object_get(it, "name")), "j");
    json_decref(j);
    assert_int_equal(req(s, "GET", "/v1/objects/deployments/j?namespace=ns-b", NULL, NULL, 0, &j),
                     200);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(j, "object"), "metadata"),
                                          "namespace")),
        "ns-b");
    json_decref(j);
    assert_int_equal(
        req(s, "DELETE", "/v1/objects/deployments/j?namespace=ns-b", NULL, NULL, 0, &j), 200);
    json_decref(j);
    assert_int_equal(req(s, "GET", "/v1/objects/deployments/j", NULL, NULL, 0, &j), 200);
    json_decref(j);
    /* empty body */
    assert_int_equal(req(s, "POST", "/v1/apply", "application/yaml", "", 0, &j), 400);
    json_decref(j);
    /* over the body limit (64 KiB in this fixture) */
    size_t big = 100 * 1024;
    char *b = malloc(big);
    memset(b, '#', big);
    long st = 0;
    char *resp = NULL, err[256];
    size_t rl;
    if (ctl_cli_request(s->url, "POST", "/v1/apply", "application/yaml", b, big, &st, &resp, &rl,
                        err, sizeof(err)) == 0)
        assert_int_equal(st, 413);
    free(resp);
    free(b);

    /* events by kind/name and across objects */
    assert_int_equal(ctl_store_event(s->peek, "Deployment", "j", CTL_EVENT_NORMAL, "Created",
                                     "made", 0, err, sizeof(err)),
                     0);
    assert_int_equal(req(s, "GET", "/v1/events?kind=deploy&name=j", NULL, NULL, 0, &j), 200);
    it = json_array_get(json_object_get(j, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(it, "reason")), "Created");
    assert_int_equal(json_integer_value(json_object_get(it, "count")), 1);
    json_decref(j);
    assert_int_equal(req(s, "GET", "/v1/events", NULL, NULL, 0, &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);
    assert_int_equal(req(s, "GET", "/v1/events?name=j", NULL, NULL, 0, &j), 400);
    json_decref(j);
    assert_int_equal(req(s, "GET", "/v1/events?kind=deploy&limit=0", NULL, NULL, 0, &j), 400);
    json_decref(j);

    /* pods filtered by deployment */
    assert_int_equal(req(s, "GET", "/v1/pods?deployment=other", NULL, NULL, 0, &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
    json_decref(j);
    assert_int_equal(req(s, "GET", "/v1/pods?deployment=llama-3-8b", NULL, NULL, 0, &j), 200);
    it = json_array_get(json_object_get(j, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(it, "readySince")),
                        "2023-11-14T22:13:20Z");
    assert_true(json_is_true(json_object_get(it, "ready")));
    assert_int_equal(json_array_size(json_object_get(j, "items")), 2);
    json_decref(j);
}

/* A page on another origin reaching 127.0.0.1 through DNS rebinding sends
 * its own Host: refused. */
static void test_api_host_guard(void **state)
{
    srv *s = *state;
    const char *reqs[2] = {"GET /healthz HTTP/1.1\r\nHost: evil.example:8889\r\n"
                           "Connection: close\r\n\r\n",
                           "GET /healthz HTTP/1.1\r\nHost: localhost:8889\r\n"
                           "Connection: close\r\n\r\n"};
    const char *want[2] = {"HTTP/1.1 403", "HTTP/1.1 200"};
    for (int i = 0; i < 2; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(write(fd, reqs[i], strlen(reqs[i])), (ssize_t)strlen(reqs[i]));
        char buf[1024];
        size_t n = 0;
        ssize_t r;
        while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
            n += (size_t)r;
        buf[n] = 0;
        close(fd);
        assert_true(strncmp(buf, want[i], strlen(want[i])) == 0);
    }
}

static void test_api_request_parsers(void **state)
{
    assert_true(ctl_api_host_ok("127.0.0.1"));
    assert_true(ctl_api_host_ok("127.0.0.1:8889"));
    assert_true(ctl_api_host_ok("LocalHost:1"));
    assert_true(ctl_api_host_ok("[::1]:8889"));
    assert_false(ctl_api_host_ok("evil.example"));
    assert_false(ctl_api_host_ok("127.0.0.1.evil.example:80"));
    assert_false(ctl_api_host_ok("localhost:80x"));
    assert_false(ctl_api_host_ok("[::1"));
    assert_false(ctl_api_host_ok(""));

    char v[8];
    assert_int_equal(bx_query_get("kind=pa&name=a%2Db+c", "name", v, sizeof(v)), 1);
    assert_string_equal(v, "a-b c");
    assert_int_equal(bx_query_get("kind=pa&name=x", "kind", v, sizeof(v)), 1);
    assert_string_equal(v, "pa");
    assert_int_equal(bx_query_get("kinda=1", "kind", v, sizeof(v)), 0);
    assert_int_equal(bx_query_get("", "kind", v, sizeof(v)), 0);
    assert_int_equal(bx_query_get("kind", "kind", v, sizeof(v)), 1);
    assert_string_equal(v, "");
    assert_int_equal(bx_query_get("kind=%2", "kind", v, sizeof(v)), -1);
    assert_int_equal(bx_query_get("kind=%zz", "kind", v, sizeof(v)), -1);
    assert_int_equal(bx_query_get("kind=%00", "kind", v, sizeof(v)), -1);
    assert_int_equal(bx_query_get("kind=12345678", "kind", v, sizeof(v)), -1);
    assert_int_equal(bx_query_get("kind=1234567", "kind", v, sizeof(v)), 1);
}

/* ---- printers alone, with a fixed clock ---- */

static void test_format_age(void **state)
{
    char b[16];
    struct {
        int64_t ms;
        const char *want;
    } cases[] = {{-5000, "0s"},           {0, "0s"},         {5999, "5s"},
                 {59000, "59s"},          {180000, "3m"},    {3599000, "59m"},
                 {7200000, "2h"},         {86399000, "23h"}, {3 * 86400000LL, "3d"},
                 {400 * 86400000LL, "1y"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ctl_cli_format_age(cases[i].ms, b, sizeof(b));
        assert_string_equal(b, cases[i].want);
    }
    assert_int_equal(ctl_cli_parse_time("1970-01-01T00:00:10Z"), 10000);
    assert_int_equal(ctl_cli_parse_time("1970-01-01T00:00:10.25Z"), 10250);
    assert_int_equal(ctl_cli_parse_time("1970-01-01T01:00:10+01:00"), 10000);
    assert_int_equal(ctl_cli_parse_time("2023-11-14T22:13:20Z"), 1700000000000);
    assert_int_equal(ctl_cli_parse_time("1970-01-01 00:00:10"), -1);
    assert_int_equal(ctl_cli_parse_time("garbage"), -1);
    assert_int_equal(ctl_cli_parse_time(NULL), -1);
}

static void test_print_table_fixed_clock(void **state)
{
    json_t *items = json_pack(
        "[{s:s, s:{s:s, s:s, s:{s:s}}, s:{s:i}, s:{s:i, s:i, s:i}},"
        " {s:s, s:{s:s, s:s, s:{s:s}}, s:{s:i}, s:{}}]",
        "kind", "Deployment", "metadata", "name", "a", "creationTimestamp", "2023-11-14T22:13:15Z",
        "labels", "model.aibrix.ai/name", "m-a", "spec", "replicas", 2, "status", "readyReplicas",
        2, "updatedReplicas", 2, "availableReplicas", 2, "kind", "Deployment", "metadata", "name",
        "a-much-longer-name", "creationTimestamp", "2023-11-14T19:13:20Z", "labels",
        "model.aibrix.ai/name", "m-b", "spec", "replicas", 0, "status");
    assert_non_null(items);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(ctl_cli_print_table(f, CTL_CLI_TABLE_DEPLOYMENTS, items, 0, 1700000000000), 0);
    fclose(f);
    assert_string_equal(buf, "NAME                 READY   UP-TO-DATE   AVAILABLE   AGE\n"
                             "a                    2/2     2            2           5s\n"
                             "a-much-longer-name   0/0     0            0           3h\n");
    free(buf);
    json_decref(items);

    /* describe with a fixed clock: created and event ages */
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s, s:i}, s:{s:s}, s:{s:s}}", "kind", "ModelAdapter",
                          "apiVersion", "model.aibrix.ai/v1alpha1", "metadata", "name", "x",
                          "creationTimestamp", "2023-11-14T22:10:20Z", "generation", 3, "spec",
                          "artifactURL", "/tmp/x", "status", "phase", "Pending");
    json_t *ev = json_pack("[{s:s, s:s, s:s, s:i, s:s, s:s}]", "type", "Warning", "reason",
                           "LoadFailed", "message", "boom", "count", 4, "firstTimestamp",
                           "2023-11-14T21:13:20Z", "lastTimestamp", "2023-11-14T22:12:20Z");
    f = open_memstream(&buf, &len);
    assert_int_equal(ctl_cli_print_describe(f, o, ev, NULL, 1700000000000), 0);
    fclose(f);
    assert_non_null(strstr(buf, "Created:            2023-11-14T22:10:20Z (3m ago)\n"));
    assert_non_null(strstr(buf, "Generation:         3\n"));
    assert_non_null(strstr(buf, "Phase:              Pending\n"));
    assert_non_null(strstr(buf, "Conditions:         <none>\n"));
    assert_non_null(strstr(buf, "  Warning   LoadFailed   1m (x4 over 1h)   4       boom\n"));
    free(buf);
    json_decref(o);
    json_decref(ev);
}

static void test_print_yaml_roundtrip(void **state)
{
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:i, s:f, s:b, s:n, s:[s, {s:s}], s:{}, s:[]}", "a",
                          "true", "b", "0x10", "c", "", "d", "plain text: with colon", "e", 7, "f",
                          1.5, "g", 1, "h", "i", "x", "k", "- dash", "empty", "list");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(ctl_cli_print_yaml(f, v), 0);
    fclose(f);
    json_t *back = NULL;
    char err[256];
    assert_int_equal(bx_yaml_load(buf, len, NULL, &back, err, sizeof(err)), 0);
    assert_true(json_equal(v, back));
    json_decref(back);
    json_decref(v);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply_created_unchanged_configured, srv_setup,
                                        srv_teardown),
        cmocka_unit_test_setup_teardown(test_apply_invalid_stores_nothing, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_get_tables, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_get_json_yaml_name, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_describe, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_delete, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_apply_core_kinds, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_ray_kinds, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_usage_errors, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_namespaces, srv_setup, srv_teardown),
        cmocka_unit_test(test_keys_selectors_logs),
        cmocka_unit_test_setup_teardown(test_api_routes, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_api_host_guard, srv_setup, srv_teardown),
        cmocka_unit_test(test_api_request_parsers),
        cmocka_unit_test(test_format_age),
        cmocka_unit_test(test_print_table_fixed_clock),
        cmocka_unit_test(test_print_yaml_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
