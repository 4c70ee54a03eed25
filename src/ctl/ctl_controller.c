/* ctl_controller: `brix controller` (ctl_controller.h): wiring only. The
 * Kubernetes client, the object store and orchestrator over it, the Lease,
 * the controllers while leading, and the health and metrics listeners. */
#include "ctl/ctl_controller.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "common/bx_buf.h"
#include "common/bx_flags.h"
#include "common/bx_http.h"
#include "common/bx_log.h"
#include "ctl/ctl_adaptersvc_k8s.h"
#include "ctl/ctl_autoscale.h"
#include "ctl/ctl_fleet.h"
#include "ctl/ctl_gpuopt.h"
#include "ctl/ctl_redis.h"
#include "ctl/ctl_lora.h"
#include "ctl/ctl_objstore_k8s.h"
#include "ctl/ctl_orch_k8s.h"
#include "ctl/ctl_rcrs.h"
#include "k8s/k8s_config.h"
#include "k8s/k8s_event.h"
#include "k8s/k8s_lease.h"

#define CTLR_REFRESH_MS 50 /* at most 20 pod-list refreshes a second */

typedef struct ctlr_cfg {
    const char *kubeconfig, *context, *ns;
    int kubernetes; /* accepted: the controller always talks to Kubernetes */
    int leader_elect;
    const char *lease_name, *lease_ns;
    double lease_s, renew_s, retry_s;
    const char *bind_host;
    int health_port, metrics_port;
    const char *log_level;
    double api_qps;
    int api_burst;
    /* the GPU optimizer (ctl_gpuopt), on with --gpu-optimizer-port */
    int gpuopt_port;
    const char *gpu_profiles, *gpuopt_gw_host, *gpuopt_key_file, *gpuopt_redis;
    int gpuopt_gw_port;
} ctlr_cfg;

static const bx_flag CTLR_FLAGS[] = {
    {"--kubeconfig FILE", BX_FLAG_STR_NONEMPTY, offsetof(ctlr_cfg, kubeconfig),
     "kubeconfig file(s), a colon list (default: in-cluster when KUBERNETES_SERVICE_HOST is set, "
     "else $KUBECONFIG, else ~/.kube/config)"},
    {"--context NAME", BX_FLAG_STR_NONEMPTY, offsetof(ctlr_cfg, context),
     "kubeconfig context (default: current-context)"},
    {"--namespace NS", BX_FLAG_STR_NONEMPTY, offsetof(ctlr_cfg, ns),
     "namespace whose ModelAdapters, PodAutoscalers, Pods and Deployments are watched (default: "
     "the kubeconfig context's or the service account's)"},
    {"--kubernetes", BX_FLAG_ON, offsetof(ctlr_cfg, kubernetes),
     "accepted for deploy/controller.yaml: the controller always uses the Kubernetes API"},
    {"--leader-elect", BX_FLAG_ON, offsetof(ctlr_cfg, leader_elect),
     "act only while holding the Lease (one active replica among several)"},
    {"--leader-elect-lease NAME", BX_FLAG_STR_NONEMPTY, offsetof(ctlr_cfg, lease_name),
     "the Lease's name (default brix-controller-manager)"},
    {"--leader-elect-namespace NS", BX_FLAG_STR_NONEMPTY, offsetof(ctlr_cfg, lease_ns),
     "the Lease's namespace (default $POD_NAMESPACE, else the client's namespace)"},
    {"--leader-elect-lease-duration S", BX_FLAG_DBL_NONNEG, offsetof(ctlr_cfg, lease_s),
     "seconds a candidate waits for an unrenewed Lease (default 15)"},
    {"--leader-elect-renew-deadline S", BX_FLAG_DBL_NONNEG, offsetof(ctlr_cfg, renew_s),
     "seconds a leader keeps acting without a renewal (default 10)"},
    {"--leader-elect-retry-period S", BX_FLAG_DBL_NONNEG, offsetof(ctlr_cfg, retry_s),
     "seconds between Lease attempts (default 2)"},
    {"--bind-host HOST", BX_FLAG_STR_NONEMPTY, offsetof(ctlr_cfg, bind_host),
     "address of the health and metrics listeners (default 0.0.0.0)"},
    {"--health-port N", BX_FLAG_INT, offsetof(ctlr_cfg, health_port),
     "GET /healthz (alive) and /readyz (caches listed) (default 8081; 0: off)"},
    {"--metrics-port N", BX_FLAG_INT, offsetof(ctlr_cfg, metrics_port),
     "GET /metrics, Prometheus text (default 8080; 0: off)"},
    {"--kube-api-qps N", BX_FLAG_DBL_NONNEG, offsetof(ctlr_cfg, api_qps),
     "API requests a second other than watches (default 50; 0: no limit)"},
    {"--kube-api-burst N", BX_FLAG_INT, offsetof(ctlr_cfg, api_burst),
     "... in a burst (default 100)"},
    {"--log-level L", BX_FLAG_STR_NONEMPTY, offsetof(ctlr_cfg, log_level),
     "debug|info|warn|error (default info)"},
    {"--gpu-optimizer-port N", BX_FLAG_INT, offsetof(ctlr_cfg, gpuopt_port),
     "serve the GPU optimizer (AIBrix's aibrix-gpu-optimizer endpoints, docs/hetero.md) on this "
     "port (default 0: off)"},
    {"--gpu-profiles DIR", BX_FLAG_STR_NONEMPTY, offsetof(ctlr_cfg, gpu_profiles),
     "the optimizer's GPU profiles: every *.json of DIR (a ConfigMap volume)"},
    {"--gpu-optimizer-gateway HOST", BX_FLAG_STR_NONEMPTY, offsetof(ctlr_cfg, gpuopt_gw_host),
     "the gateway whose GET /brix/load the optimizer reads (a Service name)"},
    {"--gpu-optimizer-gateway-port N", BX_FLAG_INT, offsetof(ctlr_cfg, gpuopt_gw_port),
     "... its port (default 8888); key: $BRIX_GPU_OPTIMIZER_GATEWAY_KEY"},
    {"--gpu-optimizer-redis HOST:PORT", BX_FLAG_STR_NONEMPTY, offsetof(ctlr_cfg, gpuopt_redis),
     "read profiles (aibrix:profile_<model>_<dep>) and load (aibrix:<model>_request_trace_<ts>) "
     "from Redis as AIBrix's optimizer does, instead of the gateway's /brix/load (default: "
     "$REDIS_HOST:$REDIS_PORT when REDIS_HOST is set, as AIBrix's deployment; password: "
     "$REDIS_PASSWORD)"},
    {"--gpu-optimizer-api-key-file FILE", BX_FLAG_STR_NONEMPTY, offsetof(ctlr_cfg, gpuopt_key_file),
     "keys the optimizer's routes take (all but /healthz and /metrics/...); also "
     "$BRIX_GPU_OPTIMIZER_API_KEYS. Without keys its changing routes are refused"},
};

static const bx_flags_spec CTLR_SPEC = {
    .flags = CTLR_FLAGS,
    .nflags = sizeof(CTLR_FLAGS) / sizeof(CTLR_FLAGS[0]),
    .prog = "brix controller",
    .int_max = 65535,
    .bool_values = 1,
    .usage = "usage: brix controller [options]\n\n"
             "The controller manager of Kubernetes mode: ModelAdapters (finalizer, load/unload on "
             "pods, status, their Service and EndpointSlice) and PodAutoscalers (scaling "
             "Deployments, StatefulSets and any kind with a scale subresource through /scale), "
             "leader-elected (docs/kubernetes.md).\n\noptions:\n",
    .name_width = 34,
    .wrap = 100,
};

typedef struct ctlr {
    ctlr_cfg cfg;
    uv_loop_t *loop;
    k8s_client *client;
    k8s_recorder *rec;
    ctl_objstore *store;
    ctl_orch *orch;
    ctl_adaptersvc *asvc; /* the Service and EndpointSlice per adapter */
    k8s_lease *lease;
    bx_http_server *health, *metrics;
    ctl_lora *lora;
    ctl_as *as;
    ctl_fleet_ctl *fleet; /* RayClusterFleets -> RayClusterReplicaSets */
    ctl_gpuopt *gpuopt;   /* --gpu-optimizer-port */
    ctl_rcrs *rcrs;       /* RayClusterReplicaSets -> RayClusters (run by KubeRay) */
    json_t *deps;         /* Deployment name -> [model or null, replicas] */
    char ns[128], lease_ns[128], identity[256];
    int leading, running, stopping;
    unsigned long starts, stops;
    uv_timer_t tick;
    /* pod changes refresh the controllers' pod lists at most once per
     * CTLR_REFRESH_MS: a list of 10,000 pods arriving one watch event at a
     * time must not copy 10,000 views per event */
    uv_timer_t refresh;
    uint64_t refreshed_at; /* loop ms of the last refresh */
    uv_signal_t sigint, sigterm;
} ctlr;

/* ---------------------------------------------------------------- controllers */

static void ctlr_refresh(ctlr *c)
{
    uv_timer_stop(&c->refresh);
    c->refreshed_at = uv_now(c->loop);
    if (!c->running) return;
    size_t n = ctl_orch_pods(c->orch, NULL, NULL, 0);
    ctl_podview *pods = n ? calloc(n, sizeof(*pods)) : NULL;
    if (n && !pods) return;
    n = ctl_orch_pods(c->orch, NULL, pods, n);
    ctl_lora_pods(c->lora, pods, n);
    ctl_as_pods(c->as, pods, n);
    free(pods);
}

/* target: a Deployment's name or another kind's key (ctl_target.h). */
static void ctlr_on_scale(void *ud, const char *target, int replicas, const char *reason)
{
    ctlr *c = ud;
    if (!c->running) return;
    char err[256];
    bx_info("%s: scale to %d (%s)", target, replicas, reason ? reason : "");
    if (ctl_orch_scale(c->orch, target, replicas, err, sizeof(err)) != 0)
        bx_warn("%s: %s", target, err);
}

static void ctlr_on_targets(void *ud, const ctl_target *targets, size_t n)
{
    ctlr *c = ud;
    ctl_orch_track(c->orch, targets, n);
}

static int ctlr_released(void *ud, ctl_kind kind, const char *name)
{
    ctlr *c = ud;
    if (kind != CTL_KIND_MODEL_ADAPTER) return 1;
    return !c->lora || !ctl_lora_has(c->lora, name);
}

static void ctlr_start(ctlr *c)
{
    if (c->running || c->stopping || !c->leading || !ctl_objstore_k8s_synced(c->store) ||
        !ctl_orch_k8s_synced(c->orch))
        return;
    char err[512];
    ctl_lora_cfg lc;
    ctl_lora_cfg_default(&lc);
    if (ctl_lora_init(&c->lora, c->loop, c->store, &lc, NULL, c, err, sizeof(err)) != 0) {
        bx_error("adapters: %s", err);
        return;
    }
    ctl_as_cfg ac;
    ctl_as_cfg_default(&ac);
    ctl_as_cbs acb = {.scale = ctlr_on_scale, .targets = ctlr_on_targets};
    if (ctl_as_init(&c->as, c->loop, c->store, &ac, &acb, c, err, sizeof(err)) != 0) {
        bx_error("autoscaler: %s", err);
        ctl_lora_close(c->lora, NULL, NULL);
        c->lora = NULL;
        return;
    }
    if (ctl_fleet_init(&c->fleet, c->loop, c->store, 0, err, sizeof(err)) != 0 ||
        ctl_rcrs_init(&c->rcrs, c->loop, c->store, err, sizeof(err)) != 0) {
        bx_error("fleets: %s", err);
        ctl_fleet_close(c->fleet, NULL, NULL);
        c->fleet = NULL;
        ctl_as_close(c->as, NULL, NULL);
        ctl_lora_close(c->lora, NULL, NULL);
        c->as = NULL;
        c->lora = NULL;
        return;
    }
    c->running = 1;
    c->starts++;
    bx_info("controllers started (namespace %s)", c->ns);
    ctl_objstore_k8s_set_active(c->store, 1);
    ctl_adaptersvc_set_active(c->asvc, 1);
    const char *k;
    json_t *v;
    json_object_foreach(c->deps, k, v)
        ctl_as_set_current(c->as, k, json_string_value(json_array_get(v, 0)),
                           (int)json_integer_value(json_array_get(v, 1)));
    ctlr_refresh(c);
    static const ctl_kind order[] = {CTL_KIND_MODEL_ADAPTER, CTL_KIND_POD_AUTOSCALER};
    for (size_t i = 0; i < 2; i++)
        if (ctl_objstore_sync(c->store, order[i], err, sizeof(err)) != 0) bx_error("sync: %s", err);
}

/* Stops acting at once: no more writes, controllers closed. */
static void ctlr_stop_ctrls(ctlr *c)
{
    if (!c->running) return;
    c->running = 0;
    c->stops++;
    ctl_objstore_k8s_set_active(c->store, 0);
    ctl_adaptersvc_set_active(c->asvc, 0);
    ctl_lora_close(c->lora, NULL, NULL);
    ctl_as_close(c->as, NULL, NULL);
    ctl_fleet_close(c->fleet, NULL, NULL);
    ctl_rcrs_close(c->rcrs, NULL, NULL);
    c->lora = NULL;
    c->as = NULL;
    c->fleet = NULL;
    c->rcrs = NULL;
    bx_info("controllers stopped");
}

/* ---------------------------------------------------------------- callbacks */

static void ctlr_on_synced(void *ud)
{
    ctlr *c = ud;
    if (ctl_objstore_k8s_synced(c->store) && ctl_orch_k8s_synced(c->orch)) bx_info("caches synced");
    ctlr_start(c);
}

/* Pods changed: the controllers' lists, and the adapters' EndpointSlices. */
static void ctlr_on_refresh(uv_timer_t *t)
{
    ctlr *c = t->data;
    ctlr_refresh(c);
    ctl_adaptersvc_kick(c->asvc);
}

static void ctlr_on_pod(void *ud, const ctl_podview *pod)
{
    ctlr *c = ud;
    bx_debug("pod %s: %s %s", pod->name, ctl_pod_phase_name(pod->phase), pod->url);
    if (c->stopping || uv_is_active((uv_handle_t *)&c->refresh)) return;
    uint64_t now = uv_now(c->loop), due = c->refreshed_at + CTLR_REFRESH_MS;
    uv_timer_start(&c->refresh, ctlr_on_refresh, due > now ? due - now : 0, 0);
}

static void ctlr_on_object(void *ud, ctl_kind kind)
{
    ctlr *c = ud;
    if (kind == CTL_KIND_MODEL_ADAPTER) ctl_adaptersvc_kick(c->asvc);
}

static void ctlr_on_replicas(void *ud, const char *dep, const char *model, int replicas)
{
    ctlr *c = ud;
    json_object_set_new(c->deps, dep,
                        json_pack("[s?,i]", model, replicas)); /* NULL on OOM: dropped */
    if (c->running) ctl_as_set_current(c->as, dep, model, replicas);
}

/* The GPU optimizer's Deployments: model and floor labels (NULL: deleted). */
static void ctlr_on_deployment(void *ud, const char *name, const json_t *dep)
{
    ctlr *c = ud;
    const json_t *l = json_object_get(json_object_get(dep, "metadata"), "labels");
    const char *min = json_string_value(json_object_get(l, "model.aibrix.ai/min_replicas"));
    ctl_gpuopt_deployment(c->gpuopt, name,
                          json_string_value(json_object_get(l, "model.aibrix.ai/name")),
                          min ? atoi(min) : 0);
}

static void ctlr_on_target_error(void *ud, const char *key, const char *reason, const char *message)
{
    ctlr *c = ud;
    if (c->running) ctl_as_target_error(c->as, key, reason, message);
}

static void ctlr_started_leading(k8s_lease *l, void *ud)
{
    (void)l;
    ctlr *c = ud;
    bx_info("leading (Lease %s/%s, identity %s)", c->lease_ns, c->cfg.lease_name, c->identity);
    c->leading = 1;
    ctlr_start(c);
}

static void ctlr_stopped_leading(k8s_lease *l, void *ud)
{
    (void)l;
    ctlr *c = ud;
    if (c->leading) bx_warn("lost the Lease: stopping the controllers");
    c->leading = 0;
    ctlr_stop_ctrls(c);
}

static void ctlr_on_tick(uv_timer_t *t)
{
    ctlr_refresh(t->data);
}

/* ---------------------------------------------------------------- HTTP */

static int ctlr_ready(const ctlr *c)
{
    return ctl_objstore_k8s_synced(c->store) && ctl_orch_k8s_synced(c->orch) &&
           ctl_adaptersvc_synced(c->asvc);
}

static void ctlr_health(bx_http_req *req, bx_http_res *res, void *ud)
{
    ctlr *c = ud;
    if (!strcmp(req->path, "/healthz")) {
        bx_http_res_send(res, 200, "text/plain", "ok\n", 3);
    } else if (!strcmp(req->path, "/readyz")) {
        if (ctlr_ready(c))
            bx_http_res_send(res, 200, "text/plain", "ok\n", 3);
        else
            bx_http_res_send(res, 503, "text/plain", "caches not synced\n", 18);
    } else {
        bx_http_res_send(res, 404, "text/plain", "not found\n", 10);
    }
}

static void ctlr_metrics(bx_http_req *req, bx_http_res *res, void *ud)
{
    ctlr *c = ud;
    if (strcmp(req->path, "/metrics")) {
        bx_http_res_send(res, 404, "text/plain", "not found\n", 10);
        return;
    }
    ctl_objstore_k8s_stats ss;
    ctl_objstore_k8s_get_stats(c->store, &ss);
    ctl_orch_stats os;
    ctl_orch_get_stats(c->orch, &os);
    bx_buf b;
    bx_buf_init(&b);
    bx_buf_printf(
        &b,
        "# HELP brix_controller_leader 1 while this replica holds the Lease and runs the "
        "controllers.\n# TYPE brix_controller_leader gauge\nbrix_controller_leader %d\n"
        "# HELP brix_controller_ready 1 once the caches have listed.\n"
        "# TYPE brix_controller_ready gauge\nbrix_controller_ready %d\n"
        "# HELP brix_controller_api_requests_total Requests sent to the API server.\n"
        "# TYPE brix_controller_api_requests_total counter\n"
        "brix_controller_api_requests_total %llu\n"
        "# HELP brix_controller_api_throttled_total Requests that waited for the client's "
        "rate limit (--kube-api-qps).\n"
        "# TYPE brix_controller_api_throttled_total counter\n"
        "brix_controller_api_throttled_total %llu\n"
        "# HELP brix_controller_status_writes_total Status subresource writes.\n"
        "# TYPE brix_controller_status_writes_total counter\n"
        "brix_controller_status_writes_total %lu\n"
        "# HELP brix_controller_status_retries_total Status writes that failed (no answer, 429, "
        "5xx) and were queued again.\n"
        "# TYPE brix_controller_status_retries_total counter\n"
        "brix_controller_status_retries_total %lu\n"
        "# HELP brix_controller_event_writes_total Event writes (create and patch).\n"
        "# TYPE brix_controller_event_writes_total counter\n"
        "brix_controller_event_writes_total %lu\n"
        "# HELP brix_controller_scales_total Scale subresource writes.\n"
        "# TYPE brix_controller_scales_total counter\nbrix_controller_scales_total %lu\n"
        "# HELP brix_controller_scale_target_reads_total Discovery and Scale reads of "
        "scale targets other than Deployments.\n"
        "# TYPE brix_controller_scale_target_reads_total counter\n"
        "brix_controller_scale_target_reads_total %lu\n"
        "# HELP brix_controller_pods Engine pods watched.\n"
        "# TYPE brix_controller_pods gauge\nbrix_controller_pods %zu\n",
        c->running, ctlr_ready(c), k8s_client_requests(c->client), k8s_client_throttled(c->client),
        ss.status_writes, ss.status_retries, c->rec ? k8s_recorder_writes(c->rec) : 0,
        ctl_orch_k8s_scales(c->orch), ctl_orch_k8s_target_reads(c->orch), os.pods);
    bx_http_res_send(res, 200, "text/plain; version=0.0.4", b.data ? b.data : "", b.len);
    bx_buf_free(&b);
}

static int ctlr_listen(ctlr *c, bx_http_server **srv, int port, bx_http_handler h)
{
    if (port <= 0) return 0;
    bx_http_limits lim;
    bx_http_limits_default(&lim);
    lim.max_connections = 64;
    if (bx_http_server_init(srv, c->loop, &lim, h, c) != 0) return -1;
    int p = bx_http_server_listen(*srv, c->cfg.bind_host, port, 0);
    if (p <= 0) {
        fprintf(stderr, "brix controller: cannot listen on %s:%d: %s\n", c->cfg.bind_host, port,
                p < 0 ? uv_strerror(p) : "no port");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- shutdown */

static void ctlr_after_orch(void *ud)
{
    ctlr *c = ud;
    c->orch = NULL;
    ctl_objstore_close(c->store);
    c->store = NULL;
    if (c->rec) k8s_recorder_close(c->rec);
    c->rec = NULL;
    k8s_client_close(c->client, NULL, NULL);
    c->client = NULL;
}

static void ctlr_after_lease(void *ud)
{
    ctlr *c = ud;
    c->lease = NULL;
    ctl_gpuopt_close(c->gpuopt, NULL, NULL);
    c->gpuopt = NULL;
    if (c->health) bx_http_server_close(c->health, NULL, NULL);
    if (c->metrics) bx_http_server_close(c->metrics, NULL, NULL);
    c->health = c->metrics = NULL;
    uv_close((uv_handle_t *)&c->tick, NULL);
    uv_close((uv_handle_t *)&c->refresh, NULL);
    uv_close((uv_handle_t *)&c->sigint, NULL);
    uv_close((uv_handle_t *)&c->sigterm, NULL);
    ctl_adaptersvc_close(c->asvc);
    c->asvc = NULL;
    ctl_orch_close(c->orch, 0, ctlr_after_orch, c);
}

static void ctlr_shutdown(ctlr *c)
{
    if (c->stopping) return;
    c->stopping = 1;
    bx_info("stopping");
    uv_timer_stop(&c->tick);
    uv_timer_stop(&c->refresh);
    ctlr_stop_ctrls(c);
    if (c->lease)
        k8s_lease_close(c->lease, ctlr_after_lease, c);
    else
        ctlr_after_lease(c);
}

static void ctlr_on_signal(uv_signal_t *s, int signum)
{
    ctlr *c = s->data;
    if (c->stopping) {
        bx_warn("signal %d again: exiting now", signum);
        exit(130);
    }
    ctlr_shutdown(c);
}

/* ---------------------------------------------------------------- main */

/* The optimizer's Events on Deployments, by the leader only. */
static void ctlr_gpuopt_event(void *ud, const char *name, const char *reason, const char *message)
{
    ctlr *c = ud;
    if (!c->running || !c->rec) return;
    json_t *io = json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "apps/v1", "kind", "Deployment",
                           "metadata", "name", name, "namespace", c->ns);
    if (io) k8s_event_emit(c->rec, io, "Normal", reason, "%s", message);
    json_decref(io);
}

static int ctlr_start_gpuopt(ctlr *c)
{
    if (c->cfg.gpuopt_port <= 0) return 0;
    char err[512];
    ctl_gpuopt_cfg oc = {.host = c->cfg.bind_host,
                         .port = c->cfg.gpuopt_port,
                         .profiles_dir = c->cfg.gpu_profiles,
                         .load_host = c->cfg.gpuopt_gw_host,
                         .load_port = c->cfg.gpuopt_gw_port ? c->cfg.gpuopt_gw_port : 8888,
                         .load_key = getenv("BRIX_GPU_OPTIMIZER_GATEWAY_KEY"),
                         .ns = c->ns,
                         .event = ctlr_gpuopt_event,
                         .event_ud = c};
    bx_apikeys_init(&oc.keys);
    const char *ek = getenv("BRIX_GPU_OPTIMIZER_API_KEYS");
    if ((c->cfg.gpuopt_key_file &&
         bx_apikeys_load_file(&oc.keys, c->cfg.gpuopt_key_file, err, sizeof(err)) < 0) ||
        (ek && bx_apikeys_add_list(&oc.keys, ek, err, sizeof(err)) < 0)) {
        fprintf(stderr, "brix controller: gpu optimizer keys: %s\n", err);
        return -1;
    }
    char rhost[256] = "";
    int rport = 0;
    if (c->cfg.gpuopt_redis) {
        if (ctl_redis_parse_addr(c->cfg.gpuopt_redis, rhost, sizeof(rhost), &rport) != 0) {
            fprintf(stderr, "brix controller: --gpu-optimizer-redis wants HOST:PORT\n");
            return -1;
        }
    } else if (getenv("REDIS_HOST") && getenv("REDIS_HOST")[0] &&
               ctl_redis_env_addr(rhost, sizeof(rhost), &rport) != 0) {
        fprintf(stderr, "brix controller: REDIS_HOST/REDIS_PORT: a host and a port wanted\n");
        return -1;
    }
    if (rhost[0]) {
        oc.redis_host = rhost;
        oc.redis_port = rport;
        oc.redis_password = getenv("REDIS_PASSWORD");
    }
    if (ctl_gpuopt_init(&c->gpuopt, c->loop, c->store, &oc, err, sizeof(err)) != 0) {
        fprintf(stderr, "brix controller: %s\n", err);
        return -1;
    }
    bx_info("gpu optimizer on %s:%d (%d key%s)%s%s:%d", c->cfg.bind_host,
            ctl_gpuopt_port(c->gpuopt), oc.keys.n, oc.keys.n == 1 ? "" : "s",
            rhost[0] ? ", profiles and load from redis " : "", rhost, rport);
    return 0;
}

static int ctlr_setup(ctlr *c)
{
    char err[512];
    k8s_config kc;
    memset(&kc, 0, sizeof(kc));
    if (k8s_config_load(c->cfg.kubeconfig, c->cfg.context, &kc, err, sizeof(err)) != 0) {
        fprintf(stderr, "brix controller: %s\n", err);
        return -1;
    }
    k8s_client_opts co;
    k8s_client_opts_default(&co);
    co.user_agent = "brix-controller/" BRIX_VERSION;
    co.qps = c->cfg.api_qps;
    co.burst = c->cfg.api_burst;
    if (k8s_client_new(c->loop, &kc, &co, &c->client, err, sizeof(err)) != 0) {
        k8s_config_free(&kc);
        fprintf(stderr, "brix controller: %s\n", err);
        return -1;
    }
    k8s_config_free(&kc);
    snprintf(c->ns, sizeof(c->ns), "%s", c->cfg.ns ? c->cfg.ns : k8s_client_ns(c->client));
    const char *pns = getenv("POD_NAMESPACE");
    snprintf(c->lease_ns, sizeof(c->lease_ns), "%s",
             c->cfg.lease_ns ? c->cfg.lease_ns
             : pns && pns[0] ? pns
                             : k8s_client_ns(c->client));
    const char *pod = getenv("POD_NAME");
    if (pod && pod[0]) {
        snprintf(c->identity, sizeof(c->identity), "%s", pod);
    } else {
        char host[128] = "brix";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        snprintf(c->identity, sizeof(c->identity), "%s_%ld", host, (long)getpid());
    }
    uv_timer_init(c->loop, &c->tick);
    c->tick.data = c;
    uv_timer_init(c->loop, &c->refresh);
    c->refresh.data = c;
    c->rec = k8s_recorder_new(c->client, "brix-controller", 0);
    c->deps = json_object();
    if (!c->rec || !c->deps) {
        fprintf(stderr, "brix controller: out of memory\n");
        return -1;
    }
    ctl_objstore_k8s_opts so = {.ns = c->ns,
                                .released = ctlr_released,
                                .on_synced = ctlr_on_synced,
                                .on_object = ctlr_on_object,
                                .ud = c};
    if (ctl_objstore_k8s_open(c->client, c->rec, &so, &c->store, err, sizeof(err)) != 0) {
        fprintf(stderr, "brix controller: %s\n", err);
        return -1;
    }
    ctl_orch_k8s_cfg oc = {.ns = c->ns,
                           .on_replicas = ctlr_on_replicas,
                           .on_deployment = ctlr_on_deployment,
                           .on_synced = ctlr_on_synced,
                           .on_target_error = ctlr_on_target_error};
    ctl_orch_cbs ocb = {.on_change = ctlr_on_pod};
    if (ctl_orch_k8s_init(&c->orch, c->client, &oc, &ocb, c, err, sizeof(err)) != 0) {
        fprintf(stderr, "brix controller: %s\n", err);
        return -1;
    }
    ctl_adaptersvc_opts ao = {.ns = c->ns, .store = c->store, .orch = c->orch};
    if (ctl_adaptersvc_open(c->client, &ao, &c->asvc, err, sizeof(err)) != 0) {
        fprintf(stderr, "brix controller: %s\n", err);
        return -1;
    }
    if (ctlr_start_gpuopt(c) != 0) return -1;
    if (ctlr_listen(c, &c->health, c->cfg.health_port, ctlr_health) != 0 ||
        ctlr_listen(c, &c->metrics, c->cfg.metrics_port, ctlr_metrics) != 0)
        return -1;
    uv_timer_start(&c->tick, ctlr_on_tick, 1000, 1000);
    uv_signal_init(c->loop, &c->sigint);
    uv_signal_init(c->loop, &c->sigterm);
    c->sigint.data = c->sigterm.data = c;
    uv_signal_start(&c->sigint, ctlr_on_signal, SIGINT);
    uv_signal_start(&c->sigterm, ctlr_on_signal, SIGTERM);
    if (c->cfg.leader_elect) {
        k8s_lease_opts lo;
        k8s_lease_opts_default(&lo);
        lo.ns = c->lease_ns;
        lo.name = c->cfg.lease_name;
        lo.identity = c->identity;
        if (c->cfg.lease_s > 0) lo.lease_ms = (long)(c->cfg.lease_s * 1000);
        if (c->cfg.renew_s > 0) lo.renew_ms = (long)(c->cfg.renew_s * 1000);
        if (c->cfg.retry_s > 0) lo.retry_ms = (long)(c->cfg.retry_s * 1000);
        lo.started_leading = ctlr_started_leading;
        lo.stopped_leading = ctlr_stopped_leading;
        lo.ud = c;
        if (k8s_lease_new(c->client, &lo, &c->lease, err, sizeof(err)) != 0) {
            fprintf(stderr, "brix controller: %s\n", err);
            return -1;
        }
        k8s_lease_start(c->lease);
    } else {
        c->leading = 1;
    }
    bx_info("watching namespace %s%s", c->ns, c->cfg.leader_elect ? "; waiting for the Lease" : "");
    return 0;
}

int ctl_controller_main(int argc, char **argv)
{
    static ctlr c; /* one per process */
    memset(&c, 0, sizeof(c));
    c.cfg.lease_name = "brix-controller-manager";
    c.cfg.bind_host = "0.0.0.0";
    c.cfg.health_port = 8081;
    c.cfg.metrics_port = 8080;
    c.cfg.log_level = "info";
    c.cfg.api_qps = 50;
    c.cfg.api_burst = 100;
    int rc = bx_flags_parse(&CTLR_SPEC, &c.cfg, argc, argv, NULL, stdout, stderr);
    if (rc != 0) return rc > 0 ? 0 : 2;
    enum bx_log_level lvl;
    if (bx_log_parse_level(c.cfg.log_level, &lvl) != 0) {
        fprintf(stderr, "brix controller: unknown --log-level '%s'\n", c.cfg.log_level);
        return 2;
    }
    bx_log_init("brix-controller", lvl);
    signal(SIGPIPE, SIG_IGN);
    c.loop = uv_default_loop();
    if (ctlr_setup(&c) != 0) {
        /* the loop's handles are not all made: exit without tidying */
        return 1;
    }
    uv_run(c.loop, UV_RUN_DEFAULT);
    json_decref(c.deps);
    bx_info("stopped");
    return 0;
}
