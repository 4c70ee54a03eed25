/* ctl_autoscale: the autoscaling controller against real brix engine
 * simulators started in-process on the test's loop (127.0.0.1, port 0).
 * Load is real: long completions (a slow simulated clock keeps them
 * running), so vllm:num_requests_running on the engines is what the
 * controller scrapes. The expected sizes are computed from what the
 * engines themselves report (the test scrapes them too). Status and events
 * are read back from the store. Ticks are 100 ms and windows 1-2 s; waits
 * are bounded by a guard timer (a hang fails, no time is asserted). */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <uv.h>

#include "loop_fixture.h"

#include "common/bx_buf.h"
#include "common/bx_http.h"
#include "common/bx_yaml.h"
#include "ctl/ctl_autoscale.h"
#include "ctl/ctl_obj.h"
#include "ctl/ctl_objstore_sqlite.h"
#include "engine/eng_config.h"
#include "engine/eng_server.h"

#define MAXE 3
#define MAXCALLS 16

typedef struct scale_call {
    char deployment[64];
    int replicas;
    char reason[256];
} scale_call;

typedef struct env {
    uv_loop_t loop;
    ctl_objstore *store;
    ctl_as *as;
    eng_config cfg[MAXE];
    eng_server *eng[MAXE];
    int port[MAXE];
    char name[MAXE][32];
    char url[MAXE][64];
    json_t *labels[MAXE];
    ctl_podview pods[MAXE];
    int npods;
    int neng;
    bx_http_client *http;
    scale_call calls[MAXCALLS];
    int ncalls;
    /* gateway side */
    double gw_waiting, gw_inflight;
    int gw_has_waiting;
    char gw_model_seen[64];
    int ntargets_calls;    /* targets callbacks */
    char targets[256];     /* the last one's keys, space-separated */
    int load_done;         /* completions that ended (should stay 0: long ones) */
    bx_http_creq *load[8]; /* in flight, to cancel before the engines close */
    int nload;
    int64_t wall_ms; /* the wall clock the schedules see; 0: the system's */
} env;

/* ---- harness ---- */

static void on_targets(void *ud, const ctl_target *ts, size_t n)
{
    env *e = ud;
    e->ntargets_calls++;
    e->targets[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(e->targets);
        snprintf(e->targets + l, sizeof(e->targets) - l, "%s%s", l ? " " : "", ts[i].key);
    }
}

static void on_scale(void *ud, const char *dep, int replicas, const char *reason)
{
    env *e = ud;
    assert_true(e->ncalls < MAXCALLS);
    scale_call *c = &e->calls[e->ncalls++];
    snprintf(c->deployment, sizeof(c->deployment), "%s", dep);
    c->replicas = replicas;
    snprintf(c->reason, sizeof(c->reason), "%s", reason);
}

static int on_gw_metric(void *ud, const char *model, const char *metric, double *v)
{
    env *e = ud;
    snprintf(e->gw_model_seen, sizeof(e->gw_model_seen), "%s", model);
    if (strcmp(metric, CTL_AS_GW_WAITING) == 0) {
        if (!e->gw_has_waiting) return -1;
        *v = e->gw_waiting;
        return 0;
    }
    if (strcmp(metric, CTL_AS_GW_INFLIGHT) == 0) {
        *v = e->gw_inflight;
        return 0;
    }
    return -1;
}

static int64_t on_wall(void *ud)
{
    env *e = ud;
    if (e->wall_ms) return e->wall_ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void env_start(env *e, int neng, double time_scale, uint64_t tick_ms)
{
    memset(e, 0, sizeof(*e));
    assert_int_equal(uv_loop_init(&e->loop), 0);
    char err[512];
    assert_int_equal(ctl_objstore_sqlite_open(":memory:", &e->store, err, sizeof(err)), 0);
    for (int i = 0; i < neng; i++) {
        eng_config *c = &e->cfg[i];
        eng_config_default(c);
        c->host = "127.0.0.1";
        c->port = 0;
        c->model = "llm";
        c->jitter = 0;
        c->hash_seed = "0";
        c->time_scale = time_scale;
        if (eng_server_init(&e->eng[i], &e->loop, c, err, sizeof(err)) != 0)
            fail_msg("engine %d: %s", i, err);
        e->port[i] = eng_server_port(e->eng[i]);
        snprintf(e->url[i], sizeof(e->url[i]), "http://127.0.0.1:%d", e->port[i]);
    }
    e->neng = neng;
    ctl_as_cfg cfg;
    ctl_as_cfg_default(&cfg);
    cfg.tick_ms = tick_ms;
    cfg.scrape_timeout_ms = 2000;
    ctl_as_cbs cbs = {.scale = on_scale,
                      .gateway_metric = on_gw_metric,
                      .targets = on_targets,
                      .wall_ms = on_wall};
    assert_int_equal(ctl_as_init(&e->as, &e->loop, e->store, &cfg, &cbs, e, err, sizeof(err)), 0);
    assert_int_equal(bx_http_client_init(&e->http, &e->loop, NULL), 0);
}

/* A pod view of deployment dep at url (a running engine or a closed port). */
static void add_pod(env *e, const char *dep, const char *url, int port, ctl_pod_phase phase)
{
    int i = e->npods++;
    assert_true(i < MAXE);
    snprintf(e->name[i], sizeof(e->name[i]), "%s-%d", dep, i);
    if (url != e->url[i]) snprintf(e->url[i], sizeof(e->url[i]), "%s", url);
    e->labels[i] = json_pack("{s:s}", CTL_LABEL_MODEL, dep);
    assert_non_null(e->labels[i]);
    e->pods[i] = (ctl_podview){.name = e->name[i],
                               .deployment = dep,
                               .model = dep,
                               .url = e->url[i],
                               .labels = e->labels[i],
                               .replica = i,
                               .port = port,
                               .pid = 1000 + i,
                               .phase = phase};
}

static void push_pods(env *e)
{
    ctl_as_pods(e->as, e->pods, (size_t)e->npods);
}

static double engine_metric(env *e, int i, const char *metric);
static void stop_load(env *e);

static void env_stop(env *e)
{
    stop_load(e);
    ctl_as_close(e->as, NULL, NULL);
    bx_http_client_close(e->http);
    for (int i = 0; i < e->neng; i++)
        eng_server_close(e->eng[i]);
    for (int i = 0; i < e->npods; i++)
        json_decref(e->labels[i]);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    ctl_objstore_close(e->store);
}

static void on_guard(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* The loop fixture's RUN_UNTIL on this test's loop. */
#define WAIT_FOR(e, cond) RUN_UNTIL(&(e)->loop, cond)

/* Runs the loop for ms (no assertion on time: only lets ticks happen). */
static void run_for(env *e, uint64_t ms)
{
    int expired = 0;
    uv_timer_t t;
    uv_timer_init(&e->loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_guard, ms, 0);
    while (!expired)
        uv_run(&e->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&e->loop, UV_RUN_NOWAIT);
}

static ctl_as_info info_of(env *e, const char *pa)
{
    ctl_as_info in;
    assert_int_equal(ctl_as_get_info(e->as, pa, &in), 0);
    return in;
}

/* Waits until the autoscaler has finished k more rounds. */
static void wait_rounds(env *e, const char *pa, uint64_t k)
{
    uint64_t r0 = info_of(e, pa).rounds;
    WAIT_FOR(e, info_of(e, pa).rounds >= r0 + k);
}

/* ---- engine side ---- */

typedef struct get_ctx {
    int done, status, err;
    bx_buf body;
} get_ctx;

static void g_resp(bx_http_creq *cr, int status, const bx_http_header *h, size_t nh, void *ud)
{
    (void)cr, (void)h, (void)nh;
    ((get_ctx *)ud)->status = status;
}
static void g_data(bx_http_creq *cr, const char *d, size_t n, void *ud)
{
    (void)cr;
    bx_buf_append(&((get_ctx *)ud)->body, d, n);
}
static void g_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    get_ctx *g = ud;
    g->err = err;
    g->done = 1;
}

/* What engine i reports for a metric now (its own /metrics). */
static double engine_metric(env *e, int i, const char *metric)
{
    get_ctx g;
    memset(&g, 0, sizeof(g));
    bx_buf_init(&g.body);
    bx_http_client_req r = {.method = "GET",
                            .host = "127.0.0.1",
                            .port = e->port[i],
                            .path = "/metrics",
                            .timeout_ms = 5000};
    static const bx_http_client_cbs cbs = {g_resp, g_data, g_done};
    assert_int_equal(bx_http_client_request(e->http, &r, &cbs, &g, NULL), 0);
    WAIT_FOR(e, g.done);
    assert_int_equal(g.err, 0);
    assert_int_equal(g.status, 200);
    double v = NAN;
    char err[256];
    if (ctl_as_metric_value(g.body.data, g.body.len, metric, "vllm", &v, err, sizeof(err)) != 0)
        fail_msg("engine %d: %s", i, err);
    bx_buf_free(&g.body);
    return v;
}

static void load_done(bx_http_creq *cr, int err, void *ud)
{
    (void)err;
    env *e = ud;
    e->load_done++;
    for (int i = 0; i < e->nload; i++)
        if (e->load[i] == cr) e->load[i] = NULL;
}

/* n long completions to engine i (they stay running: slow clock). */
static void send_load(env *e, int i, int n)
{
    static const char *body =
        "{\"model\":\"llm\",\"prompt\":\"tell me a long story about autoscaling\","
        "\"max_tokens\":2000}";
    bx_http_header h = {"Content-Type", "application/json"};
    bx_http_client_req r = {.method = "POST",
                            .host = "127.0.0.1",
                            .port = e->port[i],
                            .path = "/v1/completions",
                            .headers = &h,
                            .nheaders = 1,
                            .body = body,
                            .body_len = strlen(body)};
    static const bx_http_client_cbs cbs = {NULL, NULL, load_done};
    for (int k = 0; k < n; k++) {
        assert_true(e->nload < 8);
        assert_int_equal(bx_http_client_request(e->http, &r, &cbs, e, &e->load[e->nload++]), 0);
    }
}

/* Cancels the load and waits until the engines dropped it (closing an
 * engine with requests in flight is not what these tests are about). */
static void stop_load(env *e)
{
    for (int i = 0; i < e->nload; i++)
        if (e->load[i]) bx_http_client_cancel(e->load[i]);
    WAIT_FOR(e, e->load_done == e->nload);
    for (int i = 0; i < e->neng; i++)
        WAIT_FOR(e, engine_metric(e, i, "num_requests_running") == 0 &&
                        engine_metric(e, i, "num_requests_waiting") == 0);
}

/* A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* ---- store side ---- */

/* Stores a PodAutoscaler (the store's watch applies it, as in `brix up`);
 * returns ctl_as_apply's result for it (applying an unchanged object again
 * keeps its state and repeats no event). */
static int apply_yaml(env *e, const char *y, char *err, size_t errlen)
{
    ctl_obj **objs;
    size_t n;
    if (ctl_obj_load_yaml(y, strlen(y), &objs, &n, err, errlen) != 0) fail_msg("%s", err);
    assert_int_equal(n, 1);
    assert_int_equal(ctl_objstore_put(e->store, objs[0], NULL, err, errlen), 0);
    int rc = ctl_as_apply(e->as, objs[0], err, errlen);
    ctl_objs_free(objs, n);
    return rc;
}

static json_t *status_of(env *e, const char *pa)
{
    ctl_record r;
    char err[256];
    assert_int_equal(ctl_objstore_get(e->store, "PodAutoscaler", pa, &r, err, sizeof(err)), 0);
    json_t *st = json_incref(r.status);
    ctl_record_clear(&r);
    return st;
}

static const json_t *cond_of(const json_t *st, const char *type)
{
    const json_t *arr = json_object_get(st, "conditions");
    size_t i;
    const json_t *c;
    json_array_foreach(arr, i, c)
    {
        if (!strcmp(json_string_value(json_object_get(c, "type")), type)) return c;
    }
    return NULL;
}

/* The events of pa with this reason: how many rows, the first's message and
 * count. */
static int events_with(env *e, const char *pa, const char *reason, char *msg, size_t msglen,
                       int64_t *count)
{
    ctl_event *ev;
    size_t n;
    char err[256];
    assert_int_equal(
        ctl_objstore_events(e->store, "PodAutoscaler", pa, 100, &ev, &n, err, sizeof(err)), 0);
    int rows = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ev[i].reason, reason) != 0) continue;
        if (!rows && msg) snprintf(msg, msglen, "%s", ev[i].message);
        if (!rows && count) *count = ev[i].count;
        rows++;
    }
    ctl_events_free(ev, n);
    return rows;
}

/* ---- tests ---- */

static const char *kpa_yaml =
    "apiVersion: autoscaling.aibrix.ai/v1alpha1\n"
    "kind: PodAutoscaler\n"
    "metadata:\n"
    "  name: llm-kpa\n"
    "  annotations:\n"
    "    autoscaling.aibrix.ai/max-scale-up-rate: '10'\n"
    "spec:\n"
    "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llm}\n"
    "  minReplicas: 1\n"
    "  maxReplicas: 10\n"
    "  observeWindowSeconds: 2\n"
    "  panicWindowSeconds: 1\n"
    "  metricsSources:\n"
    "    - metricSourceType: pod\n"
    "      protocolType: http\n"
    "      port: '8000'\n"
    "      path: /metrics\n"
    "      targetMetric: num_requests_running\n"
    "      targetValue: '1'\n"
    "  scalingStrategy: KPA\n";

/* Two engines with 3 and 2 long requests running; KPA target 1 on
 * num_requests_running at 2 replicas: ceil(total / 1) replicas. */
static void test_kpa_scales_up_from_engine_load(void **st)
{
    (void)st;
    env e;
    env_start(&e, 2, 0.01, 100);
    add_pod(&e, "llm", e.url[0], e.port[0], CTL_POD_READY);
    add_pod(&e, "llm", e.url[1], e.port[1], CTL_POD_READY);
    push_pods(&e);
    ctl_as_set_current(e.as, "llm", "llm", 2);
    send_load(&e, 0, 3);
    send_load(&e, 1, 2);
    WAIT_FOR(&e, engine_metric(&e, 0, "num_requests_running") == 3 &&
                     engine_metric(&e, 1, "num_requests_running") == 2);
    double total =
        engine_metric(&e, 0, "num_requests_running") + engine_metric(&e, 1, "num_requests_running");
    assert_true(total == 5);
    int expected = (int)ceil(total / 1.0); /* target 1, within max 10 and rate 10x */

    char err[512];
    assert_int_equal(apply_yaml(&e, kpa_yaml, err, sizeof(err)), 0);
    assert_true(ctl_as_targets(e.as, "llm"));
    assert_false(ctl_as_targets(e.as, "other"));
    WAIT_FOR(&e, e.ncalls >= 1);
    assert_int_equal(e.ncalls, 1);
    assert_string_equal(e.calls[0].deployment, "llm");
    assert_int_equal(e.calls[0].replicas, expected);
    assert_non_null(strstr(e.calls[0].reason, "KPA"));

    ctl_as_info in = info_of(&e, "llm-kpa");
    assert_true(in.valid);
    assert_int_equal(in.current, 2);
    assert_int_equal(in.desired, expected);
    assert_int_equal(in.ready, 2);
    assert_int_equal(in.scraped, 2);
    assert_int_equal(in.answered, 2);
    assert_true(in.value[0] == total);
    assert_int_equal(in.pods[0], 2);

    /* status: the numbers behind the decision */
    json_t *s = status_of(&e, "llm-kpa");
    assert_int_equal(json_integer_value(json_object_get(s, "desiredScale")), expected);
    assert_int_equal(json_integer_value(json_object_get(s, "actualScale")), 2);
    assert_int_equal(json_integer_value(json_object_get(s, "readyReplicas")), 2);
    assert_string_equal(json_string_value(json_object_get(s, "strategy")), "KPA");
    assert_true(json_real_value(json_object_get(json_object_get(s, "metrics"),
                                                "num_requests_running")) == total);
    const json_t *det = json_array_get(json_object_get(s, "metricDetails"), 0);
    assert_int_equal(json_integer_value(json_object_get(det, "pods")), 2);
    assert_string_equal(json_string_value(json_object_get(det, "source")), "pod");
    assert_non_null(json_object_get(s, "lastScaleTime"));
    assert_non_null(
        strstr(json_string_value(json_object_get(s, "reason")), "num_requests_running"));
    const json_t *c = cond_of(s, "ScalingActive");
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "status")), "True");
    assert_string_equal(json_string_value(json_object_get(c, "reason")), "ReconcilingScaleDiff");
    char want[64];
    snprintf(want, sizeof(want), "desired=%d, actual=2", expected);
    assert_string_equal(json_string_value(json_object_get(c, "message")), want);
    assert_non_null(json_object_get(c, "lastTransitionTime"));
    c = cond_of(s, "AbleToScale");
    assert_string_equal(json_string_value(json_object_get(c, "status")), "True");
    c = cond_of(s, "ValidSpec");
    assert_string_equal(json_string_value(json_object_get(c, "status")), "True");
    json_decref(s);

    /* event as Kubernetes' HPA words it */
    char msg[512];
    int64_t cnt = 0;
    assert_int_equal(events_with(&e, "llm-kpa", "SuccessfulRescale", msg, sizeof(msg), &cnt), 1);
    snprintf(want, sizeof(want), "New size: %d; reason: ", expected);
    assert_memory_equal(msg, want, strlen(want));

    /* the decision is applied (current = expected): later rounds hold, no
     * second call, and the status turns Stable */
    wait_rounds(&e, "llm-kpa", 4);
    assert_int_equal(e.ncalls, 1);
    in = info_of(&e, "llm-kpa");
    assert_int_equal(in.current, expected);
    assert_int_equal(in.desired, expected);
    s = status_of(&e, "llm-kpa");
    c = cond_of(s, "ScalingActive");
    assert_string_equal(json_string_value(json_object_get(c, "status")), "False");
    assert_string_equal(json_string_value(json_object_get(c, "reason")), "Stable");
    json_decref(s);
    assert_int_equal(e.load_done, 0); /* the load stayed running throughout */
    env_stop(&e);
}

static const char *apa_yaml =
    "apiVersion: autoscaling.aibrix.ai/v1alpha1\n"
    "kind: PodAutoscaler\n"
    "metadata:\n"
    "  name: llm-apa\n"
    "  annotations:\n"
    "    autoscaling.aibrix.ai/scale-down-cooldown-window: 0s\n"
    "spec:\n"
    "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llm}\n"
    "  minReplicas: 1\n"
    "  maxReplicas: 4\n"
    "  observeWindowSeconds: 2\n"
    "  panicWindowSeconds: 1\n"
    "  metricsSources:\n"
    "    - metricSourceType: pod\n"
    "      protocolType: http\n"
    "      port: 8000\n"
    "      path: /metrics\n"
    "      targetMetric: num_requests_running\n"
    "      targetValue: 2\n"
    "  scalingStrategy: APA\n";

/* One engine at exactly the target (2 running, target 2) and one Ready pod
 * whose port is closed. Excluded, the failed pod leaves rho = 2 / (2 x 1) =
 * 1: hold. Counted as 0 it would give rho 0.5 and a scale-down to 1 (no
 * down cooldown here). One FailedGetMetrics warning, however many rounds. */
static void test_failed_scrape_is_excluded(void **st)
{
    (void)st;
    env e;
    env_start(&e, 1, 0.01, 100);
    add_pod(&e, "llm", e.url[0], e.port[0], CTL_POD_READY);
    int dead = closed_port();
    char dead_url[64];
    snprintf(dead_url, sizeof(dead_url), "http://127.0.0.1:%d", dead);
    add_pod(&e, "llm", dead_url, dead, CTL_POD_READY);
    push_pods(&e);
    ctl_as_set_current(e.as, "llm", "llm", 2);
    send_load(&e, 0, 2);
    WAIT_FOR(&e, engine_metric(&e, 0, "num_requests_running") == 2);

    char err[512];
    assert_int_equal(apply_yaml(&e, apa_yaml, err, sizeof(err)), 0);
    wait_rounds(&e, "llm-apa", 6);
    assert_int_equal(e.ncalls, 0); /* held at 2 */
    ctl_as_info in = info_of(&e, "llm-apa");
    assert_true(in.decisions >= 6);
    assert_int_equal(in.current, 2);
    assert_int_equal(in.desired, 2);
    assert_int_equal(in.ready, 2);
    assert_int_equal(in.scraped, 2);
    assert_int_equal(in.answered, 1);
    assert_int_equal(in.pods[0], 1); /* the total is over the pod that answered */
    assert_true(in.value[0] == 2);
    assert_true(in.has_data);

    json_t *s = status_of(&e, "llm-apa");
    const json_t *sc = json_object_get(s, "scrape");
    assert_int_equal(json_integer_value(json_object_get(sc, "pods")), 2);
    assert_int_equal(json_integer_value(json_object_get(sc, "answered")), 1);
    const json_t *failed = json_object_get(sc, "failed");
    assert_int_equal(json_array_size(failed), 1);
    assert_string_equal(json_string_value(json_array_get(failed, 0)), "llm-1");
    assert_true(json_real_value(
                    json_object_get(json_object_get(s, "metrics"), "num_requests_running")) == 2);
    json_decref(s);

    char msg[1024];
    int64_t cnt = 0;
    assert_int_equal(events_with(&e, "llm-apa", "FailedGetMetrics", msg, sizeof(msg), &cnt), 1);
    assert_int_equal(cnt, 1); /* rate-limited, not aggregated per round */
    assert_non_null(strstr(msg, "1 of 2 pods failed"));
    assert_non_null(strstr(msg, "llm-1"));
    assert_int_equal(events_with(&e, "llm-apa", "SuccessfulRescale", NULL, 0, NULL), 0);

    /* every pod failing: no sample at all (not a 0), the window keeps the
     * earlier data and the size holds */
    e.pods[0].phase = CTL_POD_STARTING; /* only the dead one is scraped */
    push_pods(&e);
    wait_rounds(&e, "llm-apa", 3);
    in = info_of(&e, "llm-apa");
    assert_int_equal(in.scraped, 1);
    assert_int_equal(in.answered, 0);
    assert_int_equal(e.ncalls, 0);
    env_stop(&e);
}

static const char *bad_yaml =
    "apiVersion: autoscaling.aibrix.ai/v1alpha1\n"
    "kind: PodAutoscaler\n"
    "metadata: {name: llm-bad}\n"
    "spec:\n"
    "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llm}\n"
    "  minReplicas: 2\n"
    "  maxReplicas: 4\n"
    "  observeWindowSeconds: 2\n"
    "  panicWindowSeconds: 5\n"
    "  metricsSources:\n"
    "    - {metricSourceType: pod, protocolType: http, port: '8000',"
    " path: /metrics,"
    " targetMetric: num_requests_running,"
    " targetValue: '1'}\n"
    "  scalingStrategy: KPA\n";

/* panicWindowSeconds > observeWindowSeconds: a Warning, ValidSpec False,
 * never a scale, although the deployment is below minReplicas. Fixing the
 * spec makes the same autoscaler scale it to 2 (so the harness would have
 * seen a scale). */
static void test_invalid_spec_warns_and_never_scales(void **st)
{
    (void)st;
    env e;
    env_start(&e, 1, 1.0, 100);
    add_pod(&e, "llm", e.url[0], e.port[0], CTL_POD_READY);
    push_pods(&e); /* current 1 from the pods: no set_current */

    char err[512] = "";
    assert_int_equal(apply_yaml(&e, bad_yaml, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "panicWindowSeconds"));
    assert_false(ctl_as_targets(e.as, "llm"));
    run_for(&e, 600); /* several ticks */
    assert_int_equal(e.ncalls, 0);
    ctl_as_info in = info_of(&e, "llm-bad");
    assert_false(in.valid);
    assert_int_equal(in.decisions, 0);
    assert_int_equal(in.rounds, 0);

    json_t *s = status_of(&e, "llm-bad");
    const json_t *c = cond_of(s, "ValidSpec");
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "status")), "False");
    assert_string_equal(json_string_value(json_object_get(c, "reason")), "InvalidSpec");
    assert_non_null(strstr(json_string_value(json_object_get(c, "message")), "panicWindowSeconds"));
    c = cond_of(s, "AbleToScale");
    assert_string_equal(json_string_value(json_object_get(c, "status")), "False");
    assert_null(json_object_get(s, "desiredScale"));
    json_decref(s);
    char msg[512];
    int64_t cnt;
    assert_int_equal(events_with(&e, "llm-bad", "InvalidSpec", msg, sizeof(msg), &cnt), 1);
    assert_non_null(strstr(msg, "panicWindowSeconds"));

    /* the same object, fixed */
    char fixed[2048];
    snprintf(fixed, sizeof(fixed), "%s", bad_yaml);
    char *p = strstr(fixed, "panicWindowSeconds: 5");
    assert_non_null(p);
    p[strlen("panicWindowSeconds: ")] = '1';
    assert_int_equal(apply_yaml(&e, fixed, err, sizeof(err)), 0);
    WAIT_FOR(&e, e.ncalls >= 1);
    assert_int_equal(e.calls[0].replicas, 2); /* current 1 < min 2 */
    s = status_of(&e, "llm-bad");
    c = cond_of(s, "ValidSpec");
    assert_string_equal(json_string_value(json_object_get(c, "status")), "True");
    json_decref(s);
    env_stop(&e);
}

static const char *sts_yaml =
    "apiVersion: autoscaling.aibrix.ai/v1alpha1\n"
    "kind: PodAutoscaler\n"
    "metadata: {name: sts-hpa}\n"
    "spec:\n"
    "  scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: llm}\n"
    "  minReplicas: 2\n"
    "  maxReplicas: 3\n"
    "  metricsSources:\n"
    "    - metricSourceType: pod\n"
    "      protocolType: http\n"
    "      port: '8000'\n"
    "      path: /metrics\n"
    "      targetMetric: num_requests_running\n"
    "      targetValue: '10'\n"
    "  scalingStrategy: HPA\n";

/* A StatefulSet target (Kubernetes mode: ctl_obj_parse takes any kind) is
 * named by its key everywhere: the targets callback, the pods' deployment,
 * set_current, the scale callback. A target error (the orchestrator cannot
 * scale it) holds it at AbleToScale False with that reason, and scales
 * nothing until cleared. */
static void test_other_kind_target_by_key(void **st)
{
    (void)st;
    const char *key = "StatefulSet.apps/llm";
    env e;
    env_start(&e, 1, 1.0, 100);
    add_pod(&e, key, e.url[0], e.port[0], CTL_POD_READY);
    push_pods(&e);
    ctl_as_set_current(e.as, key, "llm", 1);
    ctl_as_target_error(e.as, key, "FailedGetScale", "StatefulSet (apps/v1) has no scale");

    json_t *docs = NULL;
    char err[512];
    assert_int_equal(bx_yaml_load_all(sts_yaml, strlen(sts_yaml), NULL, &docs, err, sizeof(err)),
                     0);
    ctl_obj *o = NULL;
    assert_int_equal(ctl_obj_parse(json_array_get(docs, 0), &o, err, sizeof(err)), 0);
    json_decref(docs);
    assert_int_equal(ctl_objstore_put(e.store, o, NULL, err, sizeof(err)), 0);
    if (ctl_as_apply(e.as, o, err, sizeof(err)) != 0) fail_msg("%s", err);
    ctl_obj_free(o);
    assert_true(e.ntargets_calls >= 1);
    assert_string_equal(e.targets, key);
    assert_true(ctl_as_targets(e.as, key));
    assert_false(ctl_as_targets(e.as, "llm"));

    run_for(&e, 600);
    assert_int_equal(e.ncalls, 0); /* min 2 > 1, but it cannot be scaled */
    json_t *s = status_of(&e, "sts-hpa");
    const json_t *c = cond_of(s, "AbleToScale");
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "status")), "False");
    assert_string_equal(json_string_value(json_object_get(c, "reason")), "FailedGetScale");
    assert_string_equal(json_string_value(json_object_get(c, "message")),
                        "StatefulSet (apps/v1) has no scale");
    json_decref(s);

    ctl_as_target_error(e.as, key, NULL, NULL); /* resolved */
    WAIT_FOR(&e, e.ncalls >= 1);
    assert_string_equal(e.calls[0].deployment, key);
    assert_int_equal(e.calls[0].replicas, 2);
    ctl_as_info in = info_of(&e, "sts-hpa");
    assert_int_equal(in.scraped, 1); /* the pod whose deployment is the key */
    s = status_of(&e, "sts-hpa");
    c = cond_of(s, "AbleToScale");
    assert_string_equal(json_string_value(json_object_get(c, "status")), "True");
    json_decref(s);

    int calls = e.ntargets_calls;
    assert_int_equal(ctl_as_remove(e.as, "sts-hpa"), 0);
    assert_int_equal(e.ntargets_calls, calls + 1);
    assert_string_equal(e.targets, "");
    env_stop(&e);
}

static const char *zero_yaml = "apiVersion: autoscaling.aibrix.ai/v1alpha1\n"
                               "kind: PodAutoscaler\n"
                               "metadata: {name: zero-kpa}\n"
                               "spec:\n"
                               "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: "
                               "zero}\n"
                               "  minReplicas: 0\n"
                               "  maxReplicas: 3\n"
                               "  observeWindowSeconds: 2\n"
                               "  panicWindowSeconds: 1\n"
                               "  metricsSources:\n"
                               "    - metricSourceType: external\n"
                               "      targetMetric: gateway_inflight\n"
                               "      targetValue: 4\n"
                               "  scalingStrategy: KPA\n";

/* A min 0 target at 0 replicas, ticks far apart: nothing happens until the
 * gateway holds a request and calls wake; then one decision at once asks
 * for activation-scale (1) replica. The gateway's values are asked for the
 * deployment's model. */
static void test_wake_scales_from_zero(void **st)
{
    (void)st;
    env e;
    env_start(&e, 0, 1.0, 60000);
    ctl_as_set_current(e.as, "zero", "zero-model", 0);
    e.gw_has_waiting = 1;
    e.gw_waiting = 0;
    e.gw_inflight = 0;
    char err[512];
    assert_int_equal(apply_yaml(&e, zero_yaml, err, sizeof(err)), 0);
    run_for(&e, 300);
    assert_int_equal(e.ncalls, 0);
    assert_int_equal(info_of(&e, "zero-kpa").decisions, 0);

    ctl_as_wake(e.as, "other"); /* not ours: nothing */
    run_for(&e, 100);
    assert_int_equal(info_of(&e, "zero-kpa").decisions, 0);

    e.gw_waiting = 1; /* the held request */
    ctl_as_wake(e.as, "zero");
    assert_int_equal(e.ncalls, 0); /* never from inside the call */
    WAIT_FOR(&e, e.ncalls >= 1);
    assert_int_equal(e.ncalls, 1);
    assert_string_equal(e.calls[0].deployment, "zero");
    assert_int_equal(e.calls[0].replicas, 1);
    assert_string_equal(e.gw_model_seen, "zero-model");
    ctl_as_info in = info_of(&e, "zero-kpa");
    assert_int_equal(in.decisions, 1);
    assert_int_equal(in.current, 0);
    assert_int_equal(in.desired, 1);
    assert_int_equal(in.pods[0], 0); /* a global value */
    assert_true(in.value[0] == 0);

    json_t *s = status_of(&e, "zero-kpa");
    assert_int_equal(json_integer_value(json_object_get(s, "desiredScale")), 1);
    assert_int_equal(json_integer_value(json_object_get(s, "actualScale")), 0);
    assert_true(
        json_real_value(json_object_get(json_object_get(s, "metrics"), "gateway_inflight")) == 0);
    json_decref(s);
    assert_int_equal(events_with(&e, "zero-kpa", "SuccessfulRescale", NULL, 0, NULL), 1);

    /* removed: wake does nothing, info is gone */
    assert_int_equal(ctl_as_remove(e.as, "zero-kpa"), 0);
    assert_int_equal(ctl_as_remove(e.as, "zero-kpa"), 1);
    ctl_as_wake(e.as, "zero");
    run_for(&e, 100);
    assert_int_equal(e.ncalls, 1);
    ctl_as_info gone;
    assert_int_equal(ctl_as_get_info(e.as, "zero-kpa", &gone), 1);
    env_stop(&e);
}

static const char *sched_yaml = "apiVersion: autoscaling.aibrix.ai/v1alpha1\n"
                                "kind: PodAutoscaler\n"
                                "metadata: {name: sched-apa}\n"
                                "spec:\n"
                                "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: "
                                "sch}\n"
                                "  maxReplicas: 4\n"
                                "  schedules:\n"
                                "    - {name: peak, timezone: Europe/Paris, daysOfWeek: [mon],\n"
                                "       startTime: '09:00', endTime: '17:00', minReplicas: 3}\n"
                                "  metricsSources:\n"
                                "    - metricSourceType: external\n"
                                "      targetMetric: gateway_inflight\n"
                                "      targetValue: 4\n"
                                "  scalingStrategy: APA\n";

static int64_t bound_of(const json_t *st, const char *key)
{
    const json_t *v = json_object_get(json_object_get(st, "scheduledBounds"), key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* The wall clock (injected) crosses a schedule's start and end in Paris:
 * status.scheduledBounds follows, the schedule's minReplicas scales the
 * target up at the start, the end lets the usual scale-down window decide;
 * an unknown zone makes the spec invalid. */
static void test_scheduled_bounds_follow_the_wall_clock(void **st)
{
    (void)st;
    env e;
    env_start(&e, 0, 1.0, 20);
    e.gw_inflight = 0;
    e.wall_ms = INT64_C(1796630370) * 1000; /* Monday 2026-12-07 07:59:30Z = 08:59:30 CET */
    ctl_as_set_current(e.as, "sch", "sch", 1);
    char err[512];
    assert_int_equal(apply_yaml(&e, sched_yaml, err, sizeof(err)), 0);
    uint64_t d0 = info_of(&e, "sched-apa").decisions;
    WAIT_FOR(&e, info_of(&e, "sched-apa").decisions >= d0 + 2);
    json_t *s = status_of(&e, "sched-apa");
    assert_int_equal(bound_of(s, "effectiveMinReplicas"), 1);
    assert_int_equal(bound_of(s, "effectiveMaxReplicas"), 4);
    assert_null(json_object_get(json_object_get(s, "scheduledBounds"), "activeSchedule"));
    json_decref(s);
    assert_int_equal(e.ncalls, 0);

    e.wall_ms += 30 * 1000; /* 09:00:00 in Paris */
    WAIT_FOR(&e, e.ncalls >= 1);
    assert_string_equal(e.calls[0].deployment, "sch");
    assert_int_equal(e.calls[0].replicas, 3);
    assert_non_null(strstr(e.calls[0].reason, "below minReplicas 3 (schedule peak)"));
    s = status_of(&e, "sched-apa");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(s, "scheduledBounds"), "activeSchedule")),
        "peak");
    assert_int_equal(bound_of(s, "effectiveMinReplicas"), 3);
    assert_int_equal(bound_of(s, "effectiveMaxReplicas"), 4);
    json_decref(s);
    d0 = info_of(&e, "sched-apa").decisions; /* decisions at 3 during the window */
    WAIT_FOR(&e, info_of(&e, "sched-apa").decisions >= d0 + 2);

    e.wall_ms += 8 * 3600 * 1000; /* 17:00 in Paris: over (end exclusive) */
    d0 = info_of(&e, "sched-apa").decisions;
    WAIT_FOR(&e, info_of(&e, "sched-apa").decisions >= d0 + 2);
    s = status_of(&e, "sched-apa");
    assert_null(json_object_get(json_object_get(s, "scheduledBounds"), "activeSchedule"));
    assert_int_equal(bound_of(s, "effectiveMinReplicas"), 1);
    json_decref(s);
    /* no load, but the scale-down window (300 s) remembers the window's 3: held */
    assert_int_equal(e.ncalls, 1);

    /* a zone the tz database does not have */
    char bad[2048];
    snprintf(bad, sizeof(bad), "%s", sched_yaml);
    char *tz = strstr(bad, "Europe/Paris");
    assert_non_null(tz);
    memcpy(tz, "Europe/Pariz", 12);
    assert_int_equal(apply_yaml(&e, bad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "spec.schedules[0].timezone: unknown time zone \"Europe/Pariz\""));
    env_stop(&e);
}

/* Registry keys to engine names, raw names, per-engine sums and means,
 * missing metrics and bad bodies. */
static void test_metric_names_and_values(void **st)
{
    (void)st;
    assert_string_equal(ctl_as_metric_name("num_requests_running", NULL),
                        "vllm:num_requests_running");
    assert_string_equal(ctl_as_metric_name("num_requests_waiting", "sglang"),
                        "sglang:num_queue_reqs");
    assert_string_equal(ctl_as_metric_name("kv_cache_usage_perc", "trtllm"),
                        "trtllm_kv_cache_utilization");
    assert_string_equal(ctl_as_metric_name("vllm:num_requests_running", "vllm"),
                        "vllm:num_requests_running");
    assert_string_equal(ctl_as_metric_name("my_metric", "vllm"), "my_metric");
    const char *body = "# TYPE vllm:num_requests_running gauge\n"
                       "vllm:num_requests_running{model_name=\"a\",engine=\"0\"} 3\n"
                       "vllm:num_requests_running{model_name=\"a\",engine=\"1\"} 4\n"
                       "vllm:kv_cache_usage_perc{engine=\"0\"} 0.2\n"
                       "vllm:kv_cache_usage_perc{engine=\"1\"} 0.4\n"
                       "my_metric 1.5\n";
    double v = 0;
    char err[256];
    assert_int_equal(
        ctl_as_metric_value(body, strlen(body), "num_requests_running", NULL, &v, err, sizeof(err)),
        0);
    assert_true(v == 7);
    assert_int_equal(ctl_as_metric_value(body, strlen(body), "kv_cache_usage_perc", "vllm", &v, err,
                                         sizeof(err)),
                     0);
    assert_true(fabs(v - 0.3) < 1e-9);
    /* vLLM V1 has only kv_cache_usage_perc: the old key finds it */
    assert_int_equal(ctl_as_metric_value(body, strlen(body), "gpu_cache_usage_perc", "vllm", &v,
                                         err, sizeof(err)),
                     0);
    assert_true(fabs(v - 0.3) < 1e-9);
    assert_int_equal(
        ctl_as_metric_value(body, strlen(body), "my_metric", "vllm", &v, err, sizeof(err)), 0);
    assert_true(v == 1.5);
    assert_int_equal(ctl_as_metric_value(body, strlen(body), "num_requests_waiting", "vllm", &v,
                                         err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "vllm:num_requests_waiting"));
    const char *bad = "vllm:num_requests_running{model_name=\"a 3\n";
    assert_int_equal(
        ctl_as_metric_value(bad, strlen(bad), "num_requests_running", NULL, &v, err, sizeof(err)),
        -1);
    const char *nan = "vllm:num_requests_running NaN\n";
    assert_int_equal(
        ctl_as_metric_value(nan, strlen(nan), "num_requests_running", NULL, &v, err, sizeof(err)),
        -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metric_names_and_values),
        cmocka_unit_test(test_kpa_scales_up_from_engine_load),
        cmocka_unit_test(test_failed_scrape_is_excluded),
        cmocka_unit_test(test_invalid_spec_warns_and_never_scales),
        cmocka_unit_test(test_wake_scales_from_zero),
        cmocka_unit_test(test_scheduled_bounds_follow_the_wall_clock),
        cmocka_unit_test(test_other_kind_target_by_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
