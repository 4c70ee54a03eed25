/* gw_k8s: the pure pod -> engine mapping (AIBrix's rules: model label, Ready,
 * podIP, not deleting, not a Ray worker, port label), the adapter index
 * from ModelAdapters' status.instances, and the registry side: engines
 * given with their served names (gw_disc_set_engines_info) are ready at
 * once, take their names from the source, and go when no longer listed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <uv.h>

#include "gateway/gw_discovery.h"
#include "gateway/gw_engine.h"
#include "gateway/gw_k8s.h"

static json_t *pod(const char *extra_labels, const char *status, const char *meta_extra)
{
    char buf[2048];
    snprintf(buf, sizeof(buf),
             "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p1\",\"namespace\":\"ns1\"%s%s,"
             "\"labels\":{\"model.aibrix.ai/name\":\"llama\"%s%s}},\"status\":%s}",
             meta_extra ? "," : "", meta_extra ? meta_extra : "", extra_labels ? "," : "",
             extra_labels ? extra_labels : "", status);
    json_error_t e;
    json_t *j = json_loads(buf, 0, &e);
    if (!j) fail_msg("bad test JSON: %s: %s", e.text, buf);
    return j;
}

#define READY                                                                                      \
    "{\"podIP\":\"10.1.2.3\",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\"},"     \
    "{\"type\":\"Ready\",\"status\":\"True\"}]}"

static gw_k8s_pod_why why_of(const char *labels, const char *status, const char *meta)
{
    json_t *p = pod(labels, status, meta);
    gw_k8s_pod out;
    gw_k8s_pod_why w = gw_k8s_pod_engine(p, &out);
    json_decref(p);
    return w;
}

static void test_pod_engine(void **st)
{
    (void)st;
    json_t *p = pod(NULL, READY, NULL);
    gw_k8s_pod out;
    assert_int_equal(gw_k8s_pod_engine(p, &out), GW_K8S_POD_OK);
    assert_string_equal(out.addr, "10.1.2.3:8000"); /* default port */
    assert_string_equal(out.model, "llama");
    assert_string_equal(out.ns, "ns1");
    assert_string_equal(out.name, "p1");
    assert_int_equal(out.kv_events, 0);
    json_decref(p);

    /* AIBrix's label: the gateway follows its KV events */
    p = pod("\"model.aibrix.ai/kv-events-enabled\":\"true\"", READY, NULL);
    assert_int_equal(gw_k8s_pod_engine(p, &out), GW_K8S_POD_OK);
    assert_int_equal(out.kv_events, 1);
    json_decref(p);
    p = pod("\"model.aibrix.ai/kv-events-enabled\":\"false\"", READY, NULL);
    assert_int_equal(gw_k8s_pod_engine(p, &out), GW_K8S_POD_OK);
    assert_int_equal(out.kv_events, 0);
    json_decref(p);

    p = pod("\"model.aibrix.ai/port\":\"8081\"", READY, NULL);
    assert_int_equal(gw_k8s_pod_engine(p, &out), GW_K8S_POD_OK);
    assert_string_equal(out.addr, "10.1.2.3:8081");
    json_decref(p);

    p = pod(NULL,
            "{\"podIP\":\"fd00::5\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}",
            NULL);
    assert_int_equal(gw_k8s_pod_engine(p, &out), GW_K8S_POD_OK);
    assert_string_equal(out.addr, "[fd00::5]:8000");
    json_decref(p);

    /* P/D: AIBrix's role labels (gw_pd.h), both or neither */
    p = pod("\"role-name\":\"decode\",\"roleset-name\":\"rs-7\"", READY, NULL);
    assert_int_equal(gw_k8s_pod_engine(p, &out), GW_K8S_POD_OK);
    assert_string_equal(out.pd_role, "decode");
    assert_string_equal(out.roleset, "rs-7");
    json_decref(p);
    p = pod("\"role-name\":\"decode\"", READY, NULL);
    assert_int_equal(gw_k8s_pod_engine(p, &out), GW_K8S_POD_OK);
    assert_string_equal(out.pd_role, "");
    assert_string_equal(out.roleset, "");
    json_decref(p);

    /* Ray: the head serves, workers never */
    assert_int_equal(why_of("\"ray.io/node-type\":\"head\"", READY, NULL), GW_K8S_POD_OK);
    assert_int_equal(why_of("\"ray.io/node-type\":\"worker\"", READY, NULL), GW_K8S_POD_RAY_WORKER);
    /* StormService pod groups: index 0 serves, the others never */
#define GI "\"stormservice.orchestration.aibrix.ai/pod-group-index\":"
    assert_int_equal(why_of(GI "\"0\"", READY, NULL), GW_K8S_POD_OK);
    assert_int_equal(why_of(GI "\"2\"", READY, NULL), GW_K8S_POD_GROUP_MEMBER);
    assert_int_equal(why_of(GI "\"x\"", READY, NULL), GW_K8S_POD_OK); /* unparsable: kept */
}

static void test_pod_not_engine(void **st)
{
    (void)st;
    /* Ready False, absent, or no conditions */
    assert_int_equal(
        why_of(
            NULL,
            "{\"podIP\":\"10.1.2.3\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}",
            NULL),
        GW_K8S_POD_NOT_READY);
    assert_int_equal(why_of(NULL,
                            "{\"podIP\":\"10.1.2.3\",\"conditions\":[{\"type\":\"ContainersReady\","
                            "\"status\":\"True\"}]}",
                            NULL),
                     GW_K8S_POD_NOT_READY);
    assert_int_equal(why_of(NULL, "{\"podIP\":\"10.1.2.3\"}", NULL), GW_K8S_POD_NOT_READY);
    /* no IP yet (scheduled, not started), or an empty one */
    assert_int_equal(
        why_of(NULL, "{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}", NULL),
        GW_K8S_POD_NO_IP);
    assert_int_equal(why_of(NULL, "{\"podIP\":\"\",\"conditions\":[]}", NULL), GW_K8S_POD_NO_IP);
    assert_int_equal(why_of(NULL,
                            "{\"podIP\":\"10.0.0.1/x\",\"conditions\":[{\"type\":\"Ready\","
                            "\"status\":\"True\"}]}",
                            NULL),
                     GW_K8S_POD_NO_IP);
    /* terminating: Ready may still be True, no new requests */
    assert_int_equal(why_of(NULL, READY, "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\""),
                     GW_K8S_POD_DELETING);
    /* bad port labels */
    assert_int_equal(why_of("\"model.aibrix.ai/port\":\"0\"", READY, NULL), GW_K8S_POD_BAD_PORT);
    assert_int_equal(why_of("\"model.aibrix.ai/port\":\"65536\"", READY, NULL),
                     GW_K8S_POD_BAD_PORT);
    assert_int_equal(why_of("\"model.aibrix.ai/port\":\"80x\"", READY, NULL), GW_K8S_POD_BAD_PORT);
    assert_int_equal(why_of("\"model.aibrix.ai/port\":\"-1\"", READY, NULL), GW_K8S_POD_BAD_PORT);
    assert_int_equal(why_of("\"model.aibrix.ai/port\":\"\"", READY, NULL), GW_K8S_POD_BAD_PORT);
    /* no model label: empty, missing, not a string */
    json_t *p = pod(NULL, READY, NULL);
    json_object_set_new(json_object_get(json_object_get(p, "metadata"), "labels"),
                        "model.aibrix.ai/name", json_string(""));
    gw_k8s_pod out;
    assert_int_equal(gw_k8s_pod_engine(p, &out), GW_K8S_POD_NO_MODEL);
    json_object_del(json_object_get(json_object_get(p, "metadata"), "labels"),
                    "model.aibrix.ai/name");
    assert_int_equal(gw_k8s_pod_engine(p, &out), GW_K8S_POD_NO_MODEL);
    json_decref(p);
    json_t *junk = json_loads("[1,2]", 0, NULL);
    assert_int_equal(gw_k8s_pod_engine(junk, &out), GW_K8S_POD_NO_MODEL);
    json_decref(junk);
    assert_string_equal(gw_k8s_pod_why_str(GW_K8S_POD_NOT_READY), "not Ready");
}

/* The informer keeps a slim copy: it maps the same, and is small. */
static void test_slim(void **st)
{
    (void)st;
    const char *cases[][3] = {
        {NULL, READY, NULL},
        {"\"model.aibrix.ai/port\":\"8081\",\"app\":\"x\"", READY, NULL},
        {"\"role-name\":\"prefill\",\"roleset-name\":\"rs1\",\"app\":\"x\"", READY, NULL},
        {"\"model.aibrix.ai/kv-events-enabled\":\"true\"", READY, NULL},
        {"\"ray.io/node-type\":\"worker\"", READY, NULL},
        {GI "\"1\"", READY, NULL},
        {NULL, READY, "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\""},
        {NULL,
         "{\"podIP\":\"10.1.2.3\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"},"
         "{\"type\":\"Ready\",\"status\":\"True\"}]}",
         NULL},
        {"\"model.aibrix.ai/port\":\"x\"", READY, NULL},
        {NULL, "{\"phase\":\"Pending\"}", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *p = pod(cases[i][0], cases[i][1], cases[i][2]);
        json_object_set_new(json_object_get(p, "metadata"), "resourceVersion", json_string("42"));
        json_object_set_new(p, "spec",
                            json_pack("{s:[{s:s,s:s}]}", "containers", "name", "c", "image", "i"));
        json_t *sl = gw_k8s_pod_slim(p);
        assert_non_null(sl);
        gw_k8s_pod a, b;
        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));
        assert_int_equal(gw_k8s_pod_engine(p, &a), gw_k8s_pod_engine(sl, &b));
        assert_memory_equal(&a, &b, sizeof(a));
        assert_null(json_object_get(sl, "spec"));
        assert_null(
            json_object_get(json_object_get(json_object_get(sl, "metadata"), "labels"), "app"));
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(sl, "metadata"), "resourceVersion")),
            "42");
        json_decref(sl);
        json_decref(p);
    }
    json_t *ma = json_loads("{\"metadata\":{\"name\":\"sql\",\"namespace\":\"ns1\","
                            "\"resourceVersion\":\"7\",\"finalizers\":[\"f\"]},\"spec\":{\"x\":1},"
                            "\"status\":{\"phase\":\"Running\",\"instances\":[\"p1\"]}}",
                            0, NULL);
    json_t *sl = gw_k8s_adapter_slim(ma);
    json_t *c1 = json_pack("{s:O}", "ns1/sql", ma), *c2 = json_pack("{s:O}", "ns1/sql", sl);
    json_t *i1 = gw_k8s_adapter_index(c1), *i2 = gw_k8s_adapter_index(c2);
    assert_true(json_equal(i1, i2));
    assert_int_equal(json_object_size(i1), 1);
    assert_null(json_object_get(sl, "spec"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(sl, "metadata"), "resourceVersion")),
        "7");
    json_decref(i1);
    json_decref(i2);
    json_decref(c1);
    json_decref(c2);
    json_decref(sl);
    json_decref(ma);
}

static void test_adapter_index(void **st)
{
    (void)st;
    const char *cache =
        "{\"ns1/sql\":{\"metadata\":{\"name\":\"sql\",\"namespace\":\"ns1\"},"
        "  \"status\":{\"instances\":[\"p1\",\"p2\",\"p1\"]}},"
        " \"ns1/chat\":{\"metadata\":{\"name\":\"chat\",\"namespace\":\"ns1\"},"
        "  \"status\":{\"instances\":[\"p2\"]}},"
        " \"ns2/sql\":{\"metadata\":{\"name\":\"sql\",\"namespace\":\"ns2\"},"
        "  \"status\":{\"instances\":[\"p1\", 7, \"\"]}},"
        " \"ns1/pending\":{\"metadata\":{\"name\":\"pending\",\"namespace\":\"ns1\"}},"
        " \"ns1/odd\":{\"metadata\":{\"name\":\"odd\",\"namespace\":\"ns1\"},"
        "  \"status\":{\"instances\":\"p1\"}}}";
    json_t *c = json_loads(cache, 0, NULL);
    assert_non_null(c);
    json_t *idx = gw_k8s_adapter_index(c);
    assert_non_null(idx);
    /* sql listed once for ns1/p1 though named twice; other namespaces apart */
    json_t *l = json_object_get(idx, "ns1/p1");
    assert_int_equal(json_array_size(l), 1);
    assert_string_equal(json_string_value(json_array_get(l, 0)), "sql");
    l = json_object_get(idx, "ns1/p2");
    assert_int_equal(json_array_size(l), 2);
    l = json_object_get(idx, "ns2/p1");
    assert_int_equal(json_array_size(l), 1);
    assert_null(json_object_get(idx, "ns2/p2"));
    assert_int_equal(json_object_size(idx), 3);
    json_decref(idx);
    json_decref(c);
    json_t *empty = json_object();
    idx = gw_k8s_adapter_index(empty);
    assert_int_equal(json_object_size(idx), 0);
    json_decref(idx);
    json_decref(empty);
}

/* ---- the registry side: engines with their served names ---- */

static void test_set_engines_info(void **st)
{
    (void)st;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    gw_registry reg;
    assert_int_equal(gw_registry_init(&reg), 0);
    gw_disc *d = NULL;
    char err[256];
    assert_int_equal(gw_disc_init(&d, &loop, &reg, NULL, &gw_disc_source_static, NULL, 0, NULL, err,
                                  sizeof(err)),
                     0);
    /* not started: no polls, so what follows is the source's word alone */
    const char *ad1[] = {"sql", "chat", "sql"};
    gw_disc_engine_info in[2] = {
        {.addr = "127.0.0.1:1", .model = "llama", .adapters = ad1, .nadapters = 3},
        {.addr = "127.0.0.2:1", .model = "llama"},
    };
    assert_int_equal(gw_disc_set_engines_info(d, in, 2), 2);
    gw_engine *e1 = gw_registry_find(&reg, "127.0.0.1:1");
    gw_engine *e2 = gw_registry_find(&reg, "127.0.0.2:1");
    assert_non_null(e1);
    assert_non_null(e2);
    assert_true(gw_engine_up(e1) && gw_engine_up(e2)); /* ready at once */
    assert_string_equal(e1->model, "llama");
    assert_int_equal(e1->nadapters, 2);
    assert_true(gw_engine_serves(e1, "sql") && gw_engine_serves(e1, "chat"));
    assert_false(gw_engine_serves(e2, "sql"));
    gw_engine *out[4];
    int known = 0;
    assert_int_equal(gw_registry_candidates(&reg, "sql", 0, out, 4, &known), 1);
    assert_ptr_equal(out[0], e1);

    /* the adapter moves to the second pod; the first pod leaves */
    in[0] = in[1];
    in[0].adapters = ad1;
    in[0].nadapters = 1;
    assert_int_equal(gw_disc_set_engines_info(d, in, 1), 1);
    assert_true(e1->gone);
    assert_false(gw_engine_up(e1));
    assert_true(gw_engine_up(e2));
    assert_true(gw_engine_serves(e2, "sql"));
    assert_false(gw_engine_serves(e2, "chat"));
    assert_int_equal(gw_registry_candidates(&reg, "sql", 0, out, 4, &known), 1);
    assert_ptr_equal(out[0], e2);

    /* back again (a pod Ready again at the same address): ready at once */
    in[1] = (gw_disc_engine_info){.addr = "127.0.0.1:1", .model = "mistral"};
    assert_int_equal(gw_disc_set_engines_info(d, in, 2), 2);
    assert_true(gw_engine_up(e1));
    assert_string_equal(e1->model, "mistral");
    assert_int_equal(e1->nadapters, 0);

    /* none left */
    assert_int_equal(gw_disc_set_engines_info(d, NULL, 0), 0);
    assert_false(gw_engine_up(e1) || gw_engine_up(e2));

    gw_disc_close(d, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    gw_registry_close(&reg);
}

/* Pod IPs churn: once the registry is full, the slot of an engine gone long
 * enough (reuse_after_ms) with nothing in flight goes to a new address. */
static void test_slot_reuse(void **st)
{
    (void)st;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    gw_registry reg;
    assert_int_equal(gw_registry_init(&reg), 0);
    gw_disc_opts o;
    gw_disc_opts_default(&o);
    o.reuse_after_ms = 300;
    gw_disc *d = NULL;
    char err[256];
    assert_int_equal(
        gw_disc_init(&d, &loop, &reg, NULL, &gw_disc_source_static, NULL, 0, &o, err, sizeof(err)),
        0);
    static char a[GW_MAX_ENGINES][32], b[GW_MAX_ENGINES][32];
    static gw_disc_engine_info ia[GW_MAX_ENGINES], ib[GW_MAX_ENGINES];
    for (int i = 0; i < GW_MAX_ENGINES; i++) {
        snprintf(a[i], sizeof(a[i]), "10.0.%d.%d:8000", i / 250, i % 250 + 1);
        snprintf(b[i], sizeof(b[i]), "10.1.%d.%d:8000", i / 250, i % 250 + 1);
        ia[i] = (gw_disc_engine_info){.addr = a[i], .model = "m"};
        ib[i] = (gw_disc_engine_info){.addr = b[i], .model = "m"};
    }
    assert_int_equal(gw_disc_set_engines_info(d, ia, GW_MAX_ENGINES), GW_MAX_ENGINES);
    assert_int_equal(reg.n, GW_MAX_ENGINES);
    /* the old set is still listed while the new one is added: no room */
    assert_int_equal(gw_disc_set_engines_info(d, ib, GW_MAX_ENGINES), 0);
    for (int i = 0; i < GW_MAX_ENGINES; i++)
        assert_true(reg.engines[i].gone);
    /* gone, but not long enough yet: still no room */
    uv_update_time(&loop);
    assert_int_equal(gw_disc_set_engines_info(d, ib, 1), 0);
    /* one old engine still has a request in flight: its slot is kept */
    gw_engine *busy = gw_registry_find(&reg, a[7]);
    busy->inflight = 1;
    uv_sleep(350);
    uv_update_time(&loop);
    assert_int_equal(gw_disc_set_engines_info(d, ib, GW_MAX_ENGINES), GW_MAX_ENGINES - 1);
    assert_int_equal(reg.n, GW_MAX_ENGINES);
    assert_ptr_equal(gw_registry_find(&reg, a[7]), busy);
    assert_true(busy->gone);
    int up = 0;
    for (int i = 0; i < GW_MAX_ENGINES; i++)
        up += gw_engine_up(&reg.engines[i]) && !strncmp(reg.engines[i].addr, "10.1.", 5);
    assert_int_equal(up, GW_MAX_ENGINES - 1);
    gw_engine *e = gw_registry_find(&reg, b[0]);
    assert_non_null(e);
    assert_string_equal(e->host, "10.1.0.1");
    assert_int_equal(e->port, 8000);
    assert_int_equal(e->inflight, 0);
    busy->inflight = 0;

    gw_disc_close(d, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    gw_registry_close(&reg);
}

/* A kubeconfig that does not exist fails the source's init with a message
 * (the gateway then refuses to start). */
static void test_source_bad_config(void **st)
{
    (void)st;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    gw_registry reg;
    assert_int_equal(gw_registry_init(&reg), 0);
    gw_disc *d = NULL;
    char err[256] = "";
    const char *args[] = {"/nonexistent/kubeconfig", ""};
    assert_int_equal(
        gw_disc_init(&d, &loop, &reg, NULL, &gw_disc_source_k8s, args, 2, NULL, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "kubernetes"));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    gw_registry_close(&reg);
}

/* Known models without an engine (gw_k8s_unready), classified from the
 * slim copies the informers keep: pods not Ready (Retry-After 5), every
 * pod crash-looping (10), a Failed ModelAdapter (10); a model with an
 * engine, pods being deleted and adapters not Failed are not listed. */
static void test_unready(void **st)
{
    (void)st;
    static const char *const crash =
        "{\"podIP\":\"10.1.2.4\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}],"
        "\"containerStatuses\":[{\"name\":\"c\",\"restartCount\":4,\"state\":{\"waiting\":"
        "{\"reason\":\"CrashLoopBackOff\",\"message\":\"back-off 40s\"}}}]}";
    static const char *const notready =
        "{\"podIP\":\"10.1.2.5\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}";
    struct {
        const char *model, *status, *meta;
    } pods[] = {
        {"llama", READY, NULL}, /* an engine: llama is served */
        {"llama", notready, NULL},
        {"crashy", crash, NULL}, /* crash-looping only */
        {"crashy", crash, NULL},
        {"starting", "{\"phase\":\"Pending\"}", NULL}, /* no IP yet */
        {"starting", crash, NULL},
        {"gone", notready, "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\""},
    };
    json_t *cache = json_object();
    for (size_t i = 0; i < sizeof(pods) / sizeof(pods[0]); i++) {
        json_t *p = pod(NULL, pods[i].status, pods[i].meta);
        json_object_set_new(json_object_get(json_object_get(p, "metadata"), "labels"),
                            "model.aibrix.ai/name", json_string(pods[i].model));
        json_t *sl = gw_k8s_pod_slim(p); /* what the cache holds */
        assert_non_null(sl);
        char key[32];
        snprintf(key, sizeof(key), "ns1/p%zu", i);
        json_object_set_new(cache, key, sl);
        json_decref(p);
    }
    json_t *ads = json_object();
    static const char *const aphase[][2] = {{"bad", "Failed"}, {"ok", "Pending"}};
    for (int i = 0; i < 2; i++) {
        json_t *ma = json_pack("{s:{s:s,s:s},s:{s:s}}", "metadata", "name", aphase[i][0],
                               "namespace", "ns1", "status", "phase", aphase[i][1]);
        char key[32];
        snprintf(key, sizeof(key), "ns1/%s", aphase[i][0]);
        json_object_set_new(ads, key, gw_k8s_adapter_slim(ma));
        json_decref(ma);
    }
    gw_unready_model m[8];
    int n = gw_k8s_unready(cache, ads, m, 8);
    assert_int_equal(n, 3);
    int seen = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(m[i].model, "crashy")) {
            assert_int_equal(m[i].retry_after_s, 10);
            assert_non_null(strstr(m[i].why, "crash-looping"));
            seen |= 1;
        } else if (!strcmp(m[i].model, "starting")) {
            assert_int_equal(m[i].retry_after_s, 5);
            assert_non_null(strstr(m[i].why, "is Ready yet (2 not Ready)"));
            seen |= 2;
        } else if (!strcmp(m[i].model, "bad")) {
            assert_int_equal(m[i].retry_after_s, 10);
            assert_string_equal(m[i].why, "adapter bad is Failed");
            seen |= 4;
        } else {
            fail_msg("unexpected unready model %s", m[i].model);
        }
    }
    assert_int_equal(seen, 7);
    assert_int_equal(gw_k8s_unready(cache, ads, m, 1), 1); /* cap */

    /* the registry keeps them for the gateway */
    gw_registry reg;
    assert_int_equal(gw_registry_init(&reg), 0);
    assert_int_equal(gw_registry_set_unready(&reg, m, n), 0);
    gw_registry_lock(&reg);
    assert_non_null(gw_registry_unready(&reg, "bad"));
    assert_null(gw_registry_unready(&reg, "llama"));
    gw_registry_unlock(&reg);
    assert_int_equal(gw_registry_set_unready(&reg, NULL, 0), 0);
    gw_registry_lock(&reg);
    assert_null(gw_registry_unready(&reg, "bad"));
    gw_registry_unlock(&reg);
    gw_registry_close(&reg);
    json_decref(ads);
    json_decref(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pod_engine), cmocka_unit_test(test_pod_not_engine),
        cmocka_unit_test(test_slim),       cmocka_unit_test(test_adapter_index),
        cmocka_unit_test(test_unready),    cmocka_unit_test(test_set_engines_info),
        cmocka_unit_test(test_slot_reuse), cmocka_unit_test(test_source_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
