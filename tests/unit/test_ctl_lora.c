/* ctl_lora: the ModelAdapter controller against real brix engine simulators
 * started in-process on the test's loop (port 0, 127.0.0.1, --enable-lora).
 * Every placement is checked on the engines themselves (GET /v1/models),
 * in the status the controller wrote to the store, in its events and in
 * the on_adapters sequence. Adapters reach the controller as in `brix up`:
 * stored in the object store, whose watch applies them. Backoffs and probe intervals are scaled
 * down; waits are bounded by a guard timer (a hang fails, no time is asserted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <uv.h>

#include "loop_fixture.h"

#include "common/bx_buf.h"
#include "common/bx_http.h"
#include "ctl/ctl_lora.h"
#include "ctl/ctl_obj.h"
#include "ctl/ctl_objstore_sqlite.h"
#include "engine/eng_config.h"
#include "engine/eng_server.h"

#define MAXE 4

typedef struct env {
    uv_loop_t loop;
    ctl_objstore *store;
    ctl_lora *lora;
    eng_config cfg[MAXE];
    eng_server *eng[MAXE];
    char name[MAXE][32];
    char url[MAXE][64];
    json_t *labels[MAXE];
    ctl_podview pods[MAXE];
    int present[MAXE];
    int neng;
    uv_timer_t tick;
    char log[8192]; /* on_adapters calls: "pod=a,b;" */
    char dir[64];   /* temp dir: artifact + cache */
    char artifact[128];
    bx_http_client *http;
} env;

/* ---- harness ---- */

static void on_adapters(void *ud, const char *pod, const char *const *ads, size_t n)
{
    env *e = ud;
    size_t o = strlen(e->log);
    o += (size_t)snprintf(e->log + o, sizeof(e->log) - o, "%s=", pod);
    for (size_t i = 0; i < n && o < sizeof(e->log); i++)
        o += (size_t)snprintf(e->log + o, sizeof(e->log) - o, "%s%s", i ? "," : "", ads[i]);
    if (o < sizeof(e->log)) snprintf(e->log + o, sizeof(e->log) - o, ";");
}

/* Hands the present engines to the controller, as the supervisor does on
 * every tick. */
static void push_pods(env *e)
{
    ctl_podview v[MAXE];
    size_t n = 0;
    for (int i = 0; i < e->neng; i++)
        if (e->present[i]) v[n++] = e->pods[i];
    ctl_lora_pods(e->lora, v, n);
}

static void on_tick(uv_timer_t *t)
{
    push_pods(t->data);
}

typedef struct eng_spec {
    const char *name;
    int lora;      /* --enable-lora */
    int max_loras; /* --max-loras */
    const char *modules[3];
    const char *labels; /* JSON object of extra labels, or NULL */
} eng_spec;

/* A controller over e's store, with the test's short backoffs. */
static void lora_start(env *e)
{
    char err[512];
    ctl_lora_cfg cfg;
    ctl_lora_cfg_default(&cfg);
    cfg.cache_dir = e->dir;
    cfg.backoff_base_ms = 30;
    cfg.backoff_max_ms = 120;
    cfg.max_retries = 3;
    cfg.probe_interval_ms = 150;
    cfg.http_timeout_ms = 3000;
    cfg.ready_min_ms = 0;
    ctl_lora_cbs cbs = {.on_adapters = on_adapters};
    assert_int_equal(ctl_lora_init(&e->lora, &e->loop, e->store, &cfg, &cbs, e, err, sizeof(err)),
                     0);
}

static void env_start(env *e, const eng_spec *specs, int n)
{
    memset(e, 0, sizeof(*e));
    assert_int_equal(uv_loop_init(&e->loop), 0);
    snprintf(e->dir, sizeof(e->dir), "/tmp/brix-ctl-lora-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->artifact, sizeof(e->artifact), "%s/adapter", e->dir);
    assert_int_equal(mkdir(e->artifact, 0700), 0);
    char err[512];
    assert_int_equal(ctl_objstore_sqlite_open(":memory:", &e->store, err, sizeof(err)), 0);
    for (int i = 0; i < n; i++) {
        eng_config *c = &e->cfg[i];
        eng_config_default(c);
        c->host = "127.0.0.1";
        c->port = 0;
        c->model = "base";
        c->jitter = 0;
        c->hash_seed = "0";
        c->lora_load_s = 0.01;
        c->enable_lora = specs[i].lora;
        c->allow_runtime_lora = specs[i].lora; /* as brix up's engines (VLLM_ALLOW_RUNTIME_...) */
        c->max_loras = specs[i].max_loras;
        for (int k = 0; k < 3 && specs[i].modules[k]; k++)
            c->lora_modules[c->n_lora_modules++] = specs[i].modules[k];
        if (eng_server_init(&e->eng[i], &e->loop, c, err, sizeof(err)) != 0)
            fail_msg("engine %d: %s", i, err);
        snprintf(e->name[i], sizeof(e->name[i]), "%s", specs[i].name);
        snprintf(e->url[i], sizeof(e->url[i]), "http://127.0.0.1:%d", eng_server_port(e->eng[i]));
        json_error_t je;
        e->labels[i] = specs[i].labels ? json_loads(specs[i].labels, 0, &je) : json_object();
        assert_non_null(e->labels[i]);
        json_object_set_new(e->labels[i], CTL_LABEL_MODEL, json_string("base"));
        e->pods[i] = (ctl_podview){
            .name = e->name[i],
            .deployment = "base",
            .model = "base",
            .url = e->url[i],
            .labels = e->labels[i],
            .replica = i,
            .port = eng_server_port(e->eng[i]),
            .pid = 1000 + i,
            .phase = CTL_POD_READY,
            .ready_since_ms = 0,
        };
        e->present[i] = 1;
    }
    e->neng = n;
    lora_start(e);
    assert_int_equal(bx_http_client_init(&e->http, &e->loop, NULL), 0);
    uv_timer_init(&e->loop, &e->tick);
    e->tick.data = e;
    uv_timer_start(&e->tick, on_tick, 0, 50);
}

static void env_stop(env *e)
{
    ctl_lora_close(e->lora, NULL, NULL);
    bx_http_client_close(e->http);
    uv_close((uv_handle_t *)&e->tick, NULL);
    for (int i = 0; i < e->neng; i++) {
        eng_server_close(e->eng[i]);
        json_decref(e->labels[i]);
    }
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    ctl_objstore_close(e->store);
    rmdir(e->artifact);
    rmdir(e->dir);
}

/* The loop fixture's RUN_UNTIL on this test's loop. */
#define WAIT_FOR(e, cond) RUN_UNTIL(&(e)->loop, cond)

/* ---- engine side: GET /v1/models ---- */

typedef struct get_ctx {
    int done, status, err;
    bx_buf body;
} get_ctx;

static void g_resp(bx_http_creq *cr, int status, const bx_http_header *h, size_t nh, void *ud)
{
    ((get_ctx *)ud)->status = status;
}
static void g_data(bx_http_creq *cr, const char *d, size_t n, void *ud)
{
    bx_buf_append(&((get_ctx *)ud)->body, d, n);
}
static void g_done(bx_http_creq *cr, int err, void *ud)
{
    get_ctx *g = ud;
    g->err = err;
    g->done = 1;
}

static void engine_call(env *e, int i, const char *method, const char *path, const char *body,
                        get_ctx *g)
{
    memset(g, 0, sizeof(*g));
    bx_buf_init(&g->body);
    bx_http_header h = {"Content-Type", "application/json"};
    bx_http_client_req r = {.method = method,
                            .host = "127.0.0.1",
                            .port = eng_server_port(e->eng[i]),
                            .path = path,
                            .headers = &h,
                            .nheaders = body ? 1 : 0,
                            .body = body,
                            .body_len = body ? strlen(body) : 0,
                            .timeout_ms = 5000};
    static const bx_http_client_cbs cbs = {g_resp, g_data, g_done};
    assert_int_equal(bx_http_client_request(e->http, &r, &cbs, g, NULL), 0);
    WAIT_FOR(e, g->done);
    assert_int_equal(g->err, 0);
}

/* 1 when engine i lists adapter ad in GET /v1/models. */
static int engine_has(env *e, int i, const char *ad)
{
    get_ctx g;
    engine_call(e, i, "GET", "/v1/models", NULL, &g);
    assert_int_equal(g.status, 200);
    char **names;
    size_t n;
    char err[256];
    assert_int_equal(ctl_lora_parse_models(g.body.data, g.body.len, &names, &n, err, sizeof(err)),
                     0);
    int has = 0;
    for (size_t k = 0; k < n; k++)
        if (!strcmp(names[k], ad)) has = 1;
    ctl_lora_names_free(names, n);
    bx_buf_free(&g.body);
    return has;
}

/* ---- store side ---- */

static void apply_yaml(env *e, const char *y)
{
    ctl_obj **objs;
    size_t n;
    char err[512];
    if (ctl_obj_load_yaml(y, strlen(y), &objs, &n, err, sizeof(err)) != 0) fail_msg("%s", err);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ctl_objstore_put(e->store, objs[i], NULL, err, sizeof(err)), 0);
        assert_true(ctl_lora_has(e->lora, objs[i]->name)); /* the store's watch applied it */
    }
    ctl_objs_free(objs, n);
}

static void apply_adapter(env *e, const char *name, const char *path, const char *extra)
{
    char y[2048];
    snprintf(y, sizeof(y),
             "apiVersion: model.aibrix.ai/v1alpha1\nkind: ModelAdapter\nmetadata: {name: %s}\n"
             "spec:\n  baseModel: base\n  artifactURL: %s\n%s",
             name, path, extra ? extra : "");
    apply_yaml(e, y);
}

/* The stored status (new reference; json_object() when none). */
static json_t *status_of(env *e, const char *name)
{
    ctl_record r;
    char err[256];
    if (ctl_objstore_get(e->store, "ModelAdapter", name, &r, err, sizeof(err)) != 0)
        return json_object();
    json_t *s = json_incref(r.status);
    ctl_record_clear(&r);
    return s;
}

static int phase_is(env *e, const char *name, const char *phase)
{
    json_t *s = status_of(e, name);
    const char *p = json_string_value(json_object_get(s, "phase"));
    int ok = p && !strcmp(p, phase);
    json_decref(s);
    return ok;
}

/* "a,b" of status.instances. */
static void instances_of(env *e, const char *name, char *out, size_t len)
{
    json_t *s = status_of(e, name);
    json_t *in = json_object_get(s, "instances");
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < json_array_size(in) && o < len; i++)
        o += (size_t)snprintf(out + o, len - o, "%s%s", i ? "," : "",
                              json_string_value(json_array_get(in, i)));
    json_decref(s);
}

static int status_int(env *e, const char *name, const char *field)
{
    json_t *s = status_of(e, name);
    int v = (int)json_integer_value(json_object_get(s, field));
    json_decref(s);
    return v;
}

static json_t *condition(json_t *status, const char *type)
{
    json_t *cs = json_object_get(status, "conditions");
    for (size_t i = 0; i < json_array_size(cs); i++) {
        json_t *c = json_array_get(cs, i);
        if (!strcmp(json_string_value(json_object_get(c, "type")), type)) return c;
    }
    return NULL;
}

static int running_with(env *e, const char *name, const char *inst)
{
    char got[256];
    if (!phase_is(e, name, "Running")) return 0;
    instances_of(e, name, got, sizeof(got));
    return !strcmp(got, inst);
}

/* Number of events of reason whose message contains sub (NULL: any); sums
 * aggregated counts. */
static int events_count(env *e, const char *name, const char *reason, const char *sub)
{
    ctl_event *ev;
    size_t n;
    char err[256];
    assert_int_equal(
        ctl_objstore_events(e->store, "ModelAdapter", name, 100, &ev, &n, err, sizeof(err)), 0);
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ev[i].reason, reason) && (!sub || strstr(ev[i].message, sub)))
            k += (int)ev[i].count;
    ctl_events_free(ev, n);
    return k;
}

/* ---- tests ---- */

/* replicas 1 on three engines: leastAdapters picks the one with the fewest
 * adapters already loaded (e1: 0, e0: 2, e2: 1). */
static void test_one_replica_least_adapters(void **st)
{
    (void)st;
    env e;
    eng_spec sp[3] = {
        {"e0", 1, 8, {"s1=/x/s1", "s2=/x/s2"}, NULL},
        {"e1", 1, 8, {NULL}, NULL},
        {"e2", 1, 8, {"s3=/x/s3"}, NULL},
    };
    env_start(&e, sp, 3);
    apply_adapter(&e, "lora-a", e.artifact, "  replicas: 1\n");
    WAIT_FOR(&e, running_with(&e, "lora-a", "e1"));
    assert_false(engine_has(&e, 0, "lora-a"));
    assert_true(engine_has(&e, 1, "lora-a"));
    assert_false(engine_has(&e, 2, "lora-a"));
    json_t *s = status_of(&e, "lora-a");
    assert_int_equal(json_integer_value(json_object_get(s, "candidates")), 3);
    assert_int_equal(json_integer_value(json_object_get(s, "desiredReplicas")), 1);
    assert_int_equal(json_integer_value(json_object_get(s, "readyReplicas")), 1);
    assert_int_equal(json_integer_value(json_object_get(s, "observedGeneration")), 1);
    json_t *ready = condition(s, "Ready");
    assert_non_null(ready);
    assert_string_equal(json_string_value(json_object_get(ready, "status")), "True");
    assert_string_equal(json_string_value(json_object_get(ready, "reason")),
                        "ModelAdapterAvailable");
    assert_non_null(json_object_get(ready, "lastTransitionTime"));
    json_t *sch = condition(s, "Scheduled");
    assert_non_null(sch);
    assert_string_equal(json_string_value(json_object_get(sch, "status")), "True");
    json_t *ini = condition(s, "Initialized");
    assert_string_equal(json_string_value(json_object_get(ini, "status")), "True");
    json_decref(s);
    assert_int_equal(events_count(&e, "lora-a", "Scheduled", "e1"), 1);
    assert_int_equal(events_count(&e, "lora-a", "Loaded", "e1"), 1);
    assert_int_equal(events_count(&e, "lora-a", "LoadFailed", NULL), 0);
    /* Several probe rounds later nothing moved and nothing was re-sent. */
    ctl_lora_stats sa, sb;
    ctl_lora_get_stats(e.lora, &sa);
    WAIT_FOR(&e, (ctl_lora_get_stats(e.lora, &sb), sb.probes_sent >= sa.probes_sent + 6));
    assert_int_equal(sb.loads_sent, 1);
    assert_int_equal(sb.loads_confirmed, 1);
    assert_string_equal(e.log, "e1=lora-a;");
    env_stop(&e);
}

/* replicas absent loads on every matching pod; a label selector excludes
 * the pod without the label. */
static void test_all_and_selector(void **st)
{
    (void)st;
    env e;
    eng_spec sp[3] = {
        {"e0", 1, 8, {NULL}, "{\"tier\":\"gold\"}"},
        {"e1", 1, 8, {NULL}, "{\"tier\":\"gold\"}"},
        {"e2", 1, 8, {NULL}, "{\"tier\":\"silver\"}"},
    };
    env_start(&e, sp, 3);
    apply_adapter(&e, "everywhere", e.artifact, NULL);
    apply_adapter(&e, "gold-only", e.artifact,
                  "  podSelector:\n    matchLabels: {model.aibrix.ai/name: base, tier: gold}\n");
    WAIT_FOR(&e,
             running_with(&e, "everywhere", "e0,e1,e2") && running_with(&e, "gold-only", "e0,e1"));
    for (int i = 0; i < 3; i++)
        assert_true(engine_has(&e, i, "everywhere"));
    assert_true(engine_has(&e, 0, "gold-only"));
    assert_true(engine_has(&e, 1, "gold-only"));
    assert_false(engine_has(&e, 2, "gold-only"));
    assert_int_equal(status_int(&e, "gold-only", "candidates"), 2);
    assert_int_equal(status_int(&e, "gold-only", "desiredReplicas"), 2);
    assert_int_equal(status_int(&e, "everywhere", "desiredReplicas"), 3);
    /* Each pod's last routing set. */
    assert_non_null(strstr(e.log, "e2=everywhere;"));
    const char *l0 = strstr(e.log, "e0=everywhere,gold-only;");
    const char *l1 = strstr(e.log, "e1=everywhere,gold-only;");
    assert_non_null(l0);
    assert_non_null(l1);
    assert_null(strstr(e.log, "e2=everywhere,gold-only"));
    env_stop(&e);
}

/* The engine holding a replicas-1 adapter disappears: the adapter is placed
 * on the other one, and routing follows. */
static void test_pod_disappears(void **st)
{
    (void)st;
    env e;
    eng_spec sp[2] = {{"e0", 1, 8, {NULL}, NULL}, {"e1", 1, 8, {NULL}, NULL}};
    env_start(&e, sp, 2);
    apply_adapter(&e, "mover", e.artifact, "  replicas: 1\n");
    WAIT_FOR(&e, running_with(&e, "mover", "e0")); /* tie: name order */
    assert_false(engine_has(&e, 1, "mover"));
    e.present[0] = 0;
    push_pods(&e);
    WAIT_FOR(&e, running_with(&e, "mover", "e1"));
    assert_true(engine_has(&e, 1, "mover"));
    assert_int_equal(status_int(&e, "mover", "candidates"), 1);
    assert_string_equal(e.log, "e0=mover;e0=;e1=mover;");
    /* It comes back (same engine, still holding it): the count is 1, so
     * one of the two is unloaded again. */
    e.present[0] = 1;
    push_pods(&e);
    WAIT_FOR(&e, events_count(&e, "mover", "Unloaded", NULL) == 1);
    WAIT_FOR(&e, status_int(&e, "mover", "readyReplicas") == 1 &&
                     engine_has(&e, 0, "mover") + engine_has(&e, 1, "mover") == 1);
    env_stop(&e);
}

/* A pod that stops being Ready drops out of instances; the adapter moves. */
static void test_pod_not_ready(void **st)
{
    (void)st;
    env e;
    eng_spec sp[2] = {{"e0", 1, 8, {NULL}, NULL}, {"e1", 1, 8, {NULL}, NULL}};
    env_start(&e, sp, 2);
    apply_adapter(&e, "drainer", e.artifact, "  replicas: 1\n");
    WAIT_FOR(&e, running_with(&e, "drainer", "e0"));
    e.pods[0].phase = CTL_POD_DRAINING;
    push_pods(&e);
    WAIT_FOR(&e, running_with(&e, "drainer", "e1"));
    assert_true(engine_has(&e, 1, "drainer"));
    env_stop(&e);
}

/* Remove: unloaded from every engine, routing emptied, then forgotten. */
static void test_remove(void **st)
{
    (void)st;
    env e;
    eng_spec sp[2] = {{"e0", 1, 8, {NULL}, NULL}, {"e1", 1, 8, {NULL}, NULL}};
    env_start(&e, sp, 2);
    apply_adapter(&e, "gone", e.artifact, NULL);
    WAIT_FOR(&e, running_with(&e, "gone", "e0,e1"));
    assert_true(engine_has(&e, 0, "gone"));
    assert_int_equal(ctl_lora_remove(e.lora, "gone"), 0);
    assert_int_equal(ctl_lora_remove(e.lora, "never-applied"), 1);
    assert_true(ctl_lora_has(e.lora, "gone"));
    WAIT_FOR(&e, !ctl_lora_has(e.lora, "gone"));
    assert_false(engine_has(&e, 0, "gone"));
    assert_false(engine_has(&e, 1, "gone"));
    assert_int_equal(events_count(&e, "gone", "Unloaded", NULL), 2);
    assert_non_null(strstr(e.log, "e0=;"));
    assert_non_null(strstr(e.log, "e1=;"));
    ctl_lora_stats s;
    ctl_lora_get_stats(e.lora, &s);
    assert_int_equal(s.unloads_sent, 2);
    assert_int_equal(s.adapters, 0);
    env_stop(&e);
}

/* The first-ranked engine rejects the load (no --enable-lora: 404): it is
 * backed off and the spare gets the adapter. */
static void test_failure_then_spare(void **st)
{
    (void)st;
    env e;
    eng_spec sp[2] = {{"a-nolora", 0, 8, {NULL}, NULL}, {"b-lora", 1, 8, {NULL}, NULL}};
    env_start(&e, sp, 2);
    apply_adapter(&e, "picky", e.artifact, "  replicas: 1\n");
    WAIT_FOR(&e, running_with(&e, "picky", "b-lora"));
    assert_int_equal(events_count(&e, "picky", "LoadFailed", "a-nolora"), 1);
    assert_int_equal(events_count(&e, "picky", "LoadFailed", "HTTP 404"), 1);
    assert_true(engine_has(&e, 1, "picky"));
    assert_string_equal(e.log, "b-lora=picky;");
    /* The failed engine's backoff expired long ago; the adapter stays put
     * and the controller idles between probes (no busy re-arming). */
    ctl_lora_stats sa, sb;
    ctl_lora_get_stats(e.lora, &sa);
    WAIT_FOR(&e, (ctl_lora_get_stats(e.lora, &sb), sb.probes_sent >= sa.probes_sent + 8));
    assert_true(sb.passes - sa.passes < 40);
    assert_int_equal(sb.loads_sent, 2);
    assert_false(engine_has(&e, 0, "picky"));
    env_stop(&e);
}

/* Every candidate fails: retries with backoff up to max_retries, then
 * gives up; status Failed with the engine's error. */
static void test_failure_everywhere(void **st)
{
    (void)st;
    env e;
    eng_spec sp[1] = {{"e0", 0, 8, {NULL}, NULL}};
    env_start(&e, sp, 1);
    apply_adapter(&e, "doomed", e.artifact, NULL);
    ctl_lora_stats s;
    WAIT_FOR(&e, (ctl_lora_get_stats(e.lora, &s), s.load_failures == 3) &&
                     phase_is(&e, "doomed", "Failed"));
    assert_int_equal(s.loads_sent, 3);
    assert_int_equal(events_count(&e, "doomed", "LoadFailed", NULL), 3);
    assert_int_equal(events_count(&e, "doomed", "LoadFailed", "retry in 0.0"), 1); /* 30 ms */
    assert_int_equal(events_count(&e, "doomed", "LoadFailed", "retry in 0.1"), 1); /* 60 ms */
    assert_int_equal(events_count(&e, "doomed", "LoadFailed", "giving up"), 1);
    json_t *stt = status_of(&e, "doomed");
    json_t *ready = condition(stt, "Ready");
    assert_string_equal(json_string_value(json_object_get(ready, "reason")),
                        "ModelAdapterLoadingError");
    assert_non_null(strstr(json_string_value(json_object_get(ready, "message")), "HTTP 404"));
    assert_int_equal(json_array_size(json_object_get(stt, "instances")), 0);
    json_decref(stt);
    /* Given up: more probe rounds send no more loads. */
    ctl_lora_stats s2;
    WAIT_FOR(&e, (ctl_lora_get_stats(e.lora, &s2), s2.probes_sent >= s.probes_sent + 4));
    assert_int_equal(s2.loads_sent, 3);
    /* A spec change resets the retries. */
    apply_adapter(&e, "doomed", e.artifact, "  additionalConfig: {note: x}\n");
    WAIT_FOR(&e, (ctl_lora_get_stats(e.lora, &s2), s2.loads_sent >= 4));
    assert_string_equal(e.log, "");
    env_stop(&e);
}

/* Engines report max_lora in /metrics: a full engine is skipped; with no
 * room anywhere the adapter stays Pending. */
static void test_max_loras(void **st)
{
    (void)st;
    env e;
    eng_spec sp[2] = {{"e0", 1, 1, {"other=/x/o"}, NULL}, {"e1", 1, 1, {NULL}, NULL}};
    env_start(&e, sp, 2);
    apply_adapter(&e, "first", e.artifact, NULL);
    WAIT_FOR(&e, running_with(&e, "first", "e1"));
    assert_false(engine_has(&e, 0, "first"));
    assert_int_equal(status_int(&e, "first", "desiredReplicas"), 2);
    apply_adapter(&e, "second", e.artifact, NULL);
    WAIT_FOR(&e, phase_is(&e, "second", "Pending"));
    json_t *s = status_of(&e, "second");
    json_t *ready = condition(s, "Ready");
    assert_string_equal(json_string_value(json_object_get(ready, "reason")), "NoSchedulablePods");
    assert_non_null(strstr(json_string_value(json_object_get(ready, "message")), "max_loras"));
    json_decref(s);
    assert_false(engine_has(&e, 0, "second"));
    assert_false(engine_has(&e, 1, "second"));
    /* Removing the first frees e1 for the second. */
    ctl_lora_remove(e.lora, "first");
    WAIT_FOR(&e, running_with(&e, "second", "e1"));
    env_stop(&e);
}

/* The engine loses the adapter behind the controller's back (as after a
 * restart): the next probe notices and loads it again. */
static void test_lost_and_reloaded(void **st)
{
    (void)st;
    env e;
    eng_spec sp[1] = {{"e0", 1, 8, {NULL}, NULL}};
    env_start(&e, sp, 1);
    apply_adapter(&e, "fragile", e.artifact, NULL);
    WAIT_FOR(&e, running_with(&e, "fragile", "e0"));
    get_ctx g;
    engine_call(&e, 0, "POST", "/v1/unload_lora_adapter", "{\"lora_name\":\"fragile\"}", &g);
    assert_int_equal(g.status, 200);
    bx_buf_free(&g.body);
    WAIT_FOR(&e, events_count(&e, "fragile", "AdapterLost", NULL) == 1);
    WAIT_FOR(&e, running_with(&e, "fragile", "e0") && engine_has(&e, 0, "fragile"));
    ctl_lora_stats s;
    ctl_lora_get_stats(e.lora, &s);
    assert_int_equal(s.loads_sent, 2);
    assert_string_equal(e.log, "e0=fragile;e0=;e0=fragile;");
    env_stop(&e);
}

/* Loaded by someone else first: the engine's 400 "already loaded" (or its
 * listing) counts as loaded; nothing fails. */
static void test_already_loaded(void **st)
{
    (void)st;
    env e;
    eng_spec sp[1] = {{"e0", 1, 8, {NULL}, NULL}};
    env_start(&e, sp, 1);
    char body[512];
    snprintf(body, sizeof(body), "{\"lora_name\":\"pre\",\"lora_path\":\"%s\"}", e.artifact);
    get_ctx g;
    engine_call(&e, 0, "POST", "/v1/load_lora_adapter", body, &g);
    assert_int_equal(g.status, 200);
    bx_buf_free(&g.body);
    apply_adapter(&e, "pre", e.artifact, NULL);
    WAIT_FOR(&e, running_with(&e, "pre", "e0"));
    assert_int_equal(events_count(&e, "pre", "LoadFailed", NULL), 0);
    assert_string_equal(e.log, "e0=pre;");
    env_stop(&e);
}

static void on_closed(void *ud)
{
    *(int *)ud = 1;
}

static void on_hold(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* A controller taking over (brix up restarted, a new leader): adapters that
 * are Running stay as they are; the new one adopts what the engines list,
 * loads nothing and writes no status, not even a transient one. */
static void test_handover(void **st)
{
    (void)st;
    env e;
    eng_spec sp[2] = {{"e0", 1, 8, {NULL}, NULL}, {"e1", 1, 8, {NULL}, NULL}};
    env_start(&e, sp, 2);
    apply_adapter(&e, "ho", e.artifact, NULL);
    apply_adapter(&e, "one", e.artifact, "  replicas: 1\n");
    WAIT_FOR(&e, running_with(&e, "ho", "e0,e1") && status_int(&e, "one", "readyReplicas") == 1);
    /* and settled: three passes in a row without a status write (a slow
     * build may still be writing the last messages) */
    ctl_lora_stats s0;
    for (;;) {
        ctl_lora_get_stats(e.lora, &s0);
        ctl_lora_stats s1;
        WAIT_FOR(&e, (ctl_lora_get_stats(e.lora, &s1), s1.passes >= s0.passes + 3));
        if (s1.status_writes == s0.status_writes) break;
    }
    json_t *before_ho = status_of(&e, "ho"), *before_one = status_of(&e, "one");

    uv_timer_stop(&e.tick);
    int closed = 0;
    ctl_lora_close(e.lora, on_closed, &closed);
    WAIT_FOR(&e, closed);
    lora_start(&e);
    char err[256];
    assert_int_equal(ctl_objstore_sync(e.store, CTL_KIND_MODEL_ADAPTER, err, sizeof(err)), 0);
    e.log[0] = 0;
    /* the adapters come before the pods: passes run (the artifacts resolve)
     * with no pod list yet, which must not count as "no candidates" */
    int waited = 0;
    uv_timer_t hold;
    uv_timer_init(&e.loop, &hold);
    hold.data = &waited;
    uv_timer_start(&hold, on_hold, 300, 0);
    WAIT_FOR(&e, waited);
    uv_close((uv_handle_t *)&hold, NULL);
    uv_timer_start(&e.tick, on_tick, 0, 50);
    /* both engines listed (the routing report follows), then a few passes */
    WAIT_FOR(&e, strstr(e.log, "e0=") && strstr(e.log, "e1="));
    ctl_lora_stats s;
    ctl_lora_get_stats(e.lora, &s);
    uint64_t passes = s.passes;
    WAIT_FOR(&e, (ctl_lora_get_stats(e.lora, &s), s.passes >= passes + 3 && s.probes_sent >= 4));
    assert_int_equal(s.status_writes, 0);
    assert_int_equal(s.loads_sent, 0);
    assert_int_equal(s.unloads_sent, 0);
    json_t *after_ho = status_of(&e, "ho"), *after_one = status_of(&e, "one");
    assert_true(json_equal(before_ho, after_ho));
    assert_true(json_equal(before_one, after_one));
    json_decref(before_ho);
    json_decref(after_ho);
    json_decref(before_one);
    json_decref(after_one);
    env_stop(&e);
}

/* A missing local artifact: Failed with ArtifactError, nothing sent. */
static void test_artifact_missing(void **st)
{
    (void)st;
    env e;
    eng_spec sp[1] = {{"e0", 1, 8, {NULL}, NULL}};
    env_start(&e, sp, 1);
    apply_adapter(&e, "ghost", "/nonexistent/brix/adapter", NULL);
    WAIT_FOR(&e, phase_is(&e, "ghost", "Failed") &&
                     events_count(&e, "ghost", "ArtifactFailed", NULL) >= 2);
    json_t *s = status_of(&e, "ghost");
    json_t *ini = condition(s, "Initialized");
    assert_string_equal(json_string_value(json_object_get(ini, "status")), "False");
    assert_string_equal(json_string_value(json_object_get(ini, "reason")), "ArtifactError");
    json_decref(s);
    ctl_lora_stats st2;
    ctl_lora_get_stats(e.lora, &st2);
    assert_int_equal(st2.loads_sent, 0);
    env_stop(&e);
}

/* Pure helpers. */
static void test_parsers(void **st)
{
    (void)st;
    const char *body =
        "{\"object\":\"list\",\"data\":[{\"id\":\"base\",\"parent\":null},"
        "{\"id\":\"b\",\"parent\":\"base\"},{\"id\":\"a\",\"parent\":\"base\"},{\"id\":7}]}";
    char **n;
    size_t k;
    char err[256];
    assert_int_equal(ctl_lora_parse_models(body, strlen(body), &n, &k, err, sizeof(err)), 0);
    assert_int_equal(k, 2);
    assert_string_equal(n[0], "a");
    assert_string_equal(n[1], "b");
    ctl_lora_names_free(n, k);
    assert_int_equal(ctl_lora_parse_models("{}", 2, &n, &k, err, sizeof(err)), -1);
    assert_int_equal(ctl_lora_parse_models("[", 1, &n, &k, err, sizeof(err)), -1);
    unsigned m = 0;
    const char *met = "# TYPE vllm:lora_requests_info gauge\n"
                      "vllm:lora_requests_info{max_lora=\"4\",running_lora_adapters=\"\","
                      "waiting_lora_adapters=\"\"} 1.7e9\n";
    assert_int_equal(ctl_lora_parse_max_lora(met, strlen(met), &m), 0);
    assert_int_equal(m, 4);
    assert_int_equal(ctl_lora_parse_max_lora("x 1\n", 4, &m), -1);
    const char *al = "{\"error\":{\"message\":\"The lora adapter 'x' has already been loaded.\"}}";
    assert_true(ctl_lora_already_loaded(400, al, strlen(al)));
    assert_false(ctl_lora_already_loaded(404, al, strlen(al)));
    assert_false(ctl_lora_already_loaded(400, "{}", 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_one_replica_least_adapters),
        cmocka_unit_test(test_all_and_selector),
        cmocka_unit_test(test_pod_disappears),
        cmocka_unit_test(test_pod_not_ready),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_failure_then_spare),
        cmocka_unit_test(test_failure_everywhere),
        cmocka_unit_test(test_max_loras),
        cmocka_unit_test(test_lost_and_reloaded),
        cmocka_unit_test(test_already_loaded),
        cmocka_unit_test(test_handover),
        cmocka_unit_test(test_artifact_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
