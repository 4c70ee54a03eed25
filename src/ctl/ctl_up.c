/* ctl_up: see ctl_up.h. */
#include "ctl/ctl_up.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "common/bx_apikey.h"
#include "common/bx_log.h"
#include "common/bx_yaml.h"
#include "ctl/ctl_api.h"
#include "ctl/ctl_autoscale.h"
#include "ctl/ctl_cli.h"
#include "ctl/ctl_deploy.h"
#include "ctl/ctl_fleet.h"
#include "ctl/ctl_gpuopt.h"
#include "ctl/ctl_redis.h"
#include "ctl/ctl_key.h"
#include "ctl/ctl_lora.h"
#include "ctl/ctl_obj.h"
#include "ctl/ctl_objstore_sqlite.h"
#include "ctl/ctl_orch_local.h"
#include "ctl/ctl_raycluster.h"
#include "ctl/ctl_rcrs.h"
#include "ctl/ctl_rollout.h"
#include "gateway/gw_config.h"
#include "gateway/gw_gateway.h"

#define CTL_UP_MAX_FILES 16
#define CTL_UP_MAX_PODS 1024
/* a RayClusterFleet's scale-target key (ctl_target.h), its name after it */
#define CTL_UP_FLEET_KEY "RayClusterFleet.orchestration.aibrix.ai/"
#define CTL_UP_FLEET_KEY_MAX (sizeof(CTL_UP_FLEET_KEY) + CTL_NAME_MAX + 1)

typedef struct ctl_up_cfg {
    const char *files[CTL_UP_MAX_FILES];
    int nfiles;
    const char *key_files[CTL_UP_MAX_FILES]; /* --api-key-file */
    int nkey_files;
    const char *state_dir;
    const char *host;
    int port;
    int admin_port;
    const char *strategy;
    /* the gateway's slo strategies (gw_config's): 0, their defaults */
    int64_t slo_default_out, slo_max_outstanding;
    int64_t slo_queue_max, slo_queue_timeout_ms; /* the slo queue's bounds; 0: defaults */
    const char *redis;
    double hold_s;
    int keep_engines;
    int engine_simulator; /* --engine simulator */
    const char *log_level;
    /* the GPU optimizer (ctl_gpuopt): on with --gpu-profiles */
    const char *gpu_profiles;
    const char *gpuopt_redis; /* --gpu-optimizer-redis HOST:PORT */
    int gpuopt_port;
    double gpuopt_window_s, gpuopt_period_s, gpuopt_down_s;
} ctl_up_cfg;

typedef struct ctl_up {
    uv_loop_t *loop;
    ctl_up_cfg cfg;
    char brix_path[PATH_MAX];
    char db_path[PATH_MAX], log_dir[PATH_MAX], cache_dir[PATH_MAX];
    ctl_objstore *st; /* objects, status, events */
    ctl_store *store; /* the same file: the local orchestrator's pod rows */
    bx_apikeys keys;  /* the gateway's: --api-key-file, BRIX_API_KEYS, GatewayConfig */
    gw_gateway *gw;
    char gateway_url[320]; /* "http://host:port", for Services' status */
    ctl_orch *orch;
    ctl_lora *lora;
    ctl_as *as;
    ctl_deploy *deploy;
    ctl_raycluster_runner *rc; /* RayClusters: groups of pods */
    ctl_rcrs *rcrs;            /* RayClusterReplicaSets -> RayClusters */
    ctl_fleet_ctl *fleet;      /* RayClusterFleets -> RayClusterReplicaSets */
    ctl_api *api;
    ctl_gpuopt *gpuopt;
    uv_timer_t tick;
    uv_signal_t sigint, sigterm;
    int stopping;
    int exit_code;
    ctl_podview pods[CTL_UP_MAX_PODS];
    size_t npods;
    /* what the autoscalers see: a fleet's head pods under the fleet's
     * target key (ctl_target.h), its workers left out */
    ctl_podview as_pods[CTL_UP_MAX_PODS];
    char as_keys[CTL_UP_MAX_PODS][CTL_UP_FLEET_KEY_MAX];
    size_t nas_pods;
} ctl_up;

/* ---------- flags ---------- */

static void ctl_up_usage(FILE *f)
{
    fprintf(f,
            "usage: brix up -f STACK.yaml [options]\n\n"
            "Runs the local stack: the gateway, the admin API, engines as child processes,\n"
            "the LoRA adapter controller and the autoscaler, with state in SQLite.\n\n"
            "  -f, --filename FILE   objects to apply at start (repeatable; optional when the\n"
            "                        state directory already holds objects)\n"
            "  --state DIR           state directory: brix.db, logs/, adapters/ (default .brix)\n"
            "  --host ADDR           gateway address (default 127.0.0.1; 0.0.0.0 opens it to\n"
            "                        the network: set API keys, see docs/security.md)\n"
            "  --api-key-file FILE   keys the gateway accepts (Bearer), one per line, '#'\n"
            "                        comment lines (repeatable); also $BRIX_API_KEYS (comma-\n"
            "                        separated) and a GatewayConfig document in a -f file\n"
            "  --port N              gateway port (default 8888)\n"
            "  --admin-port N        admin API port on 127.0.0.1 (default 8889)\n"
            "  --strategy NAME       the gateway's default routing strategy (least-request)\n"
            "  --slo-default-output-tokens N  slo strategies: output tokens of a request\n"
            "                        without max_tokens (default 128)\n"
            "  --slo-max-outstanding N  slo strategies: requests in flight at which an\n"
            "                        engine is saturated (default 32)\n"
            "  --slo-queue-max N     slo: requests of a model held while every engine is\n"
            "                        saturated, then 429 (default 256)\n"
            "  --slo-queue-timeout-ms N  slo: longest a request is held, then 429 (5000)\n"
            "  --redis HOST:PORT     per-user RPM/TPM limits in Redis\n"
            "  --hold-seconds S      how long a request waits for a scaled-to-zero model (30)\n"
            "  --keep-engines        on exit, leave engines running for the next brix up\n"
            "  --engine vllm|simulator\n"
            "                        vllm (default): Deployments' commands run as written;\n"
            "                        simulator: a vLLM server command line (vllm serve, python\n"
            "                        -m vllm.entrypoints.openai.api_server) runs brix engine in\n"
            "                        its place, its arguments translated (docs/control-plane.md)\n"
            "  --log-level LEVEL     debug|info|warn|error (default info)\n"
            "  --gpu-profiles DIR    run the GPU optimizer (docs/hetero.md): AIBrix GPU\n"
            "                        profiles, every *.json of DIR\n"
            "  --gpu-optimizer-redis HOST:PORT  run it with profiles and load from Redis in\n"
            "                        AIBrix's keys (aibrix:profile_*, aibrix:*_request_trace_*)\n"
            "                        instead of the gateway's /brix/load; password:\n"
            "                        $REDIS_PASSWORD\n"
            "  --gpu-optimizer-port N      its port on 127.0.0.1 (default 8890; 0: any)\n"
            "  --gpu-optimizer-window S    load it considers (default 240)\n"
            "  --gpu-optimizer-period S    seconds between runs (default 10)\n"
            "  --gpu-optimizer-scale-down-delay S  hysteresis (default 60; 0: none)\n");
}

static int ctl_up_parse(ctl_up_cfg *c, int argc, char **argv)
{
    memset(c, 0, sizeof(*c));
    c->state_dir = ".brix";
    c->host = "127.0.0.1";
    c->port = 8888;
    c->admin_port = 8889;
    c->strategy = "least-request";
    c->hold_s = 30;
    c->log_level = "info";
    c->gpuopt_port = CTL_GPUOPT_DEFAULT_PORT;
    c->gpuopt_period_s = 10;
    c->gpuopt_down_s = 60;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            ctl_up_usage(stdout);
            return 1;
        }
        if (!strcmp(a, "--keep-engines")) {
            c->keep_engines = 1;
            continue;
        }
        if (!strncmp(a, "--engine", 8) && (a[8] == '=' || (a[8] == '\0' && i + 1 < argc))) {
            const char *v = a[8] == '=' ? a + 9 : argv[++i];
            if (strcmp(v, "simulator") && strcmp(v, "vllm")) {
                fprintf(stderr, "brix up: --engine wants vllm or simulator, not '%s'\n", v);
                return -1;
            }
            c->engine_simulator = !strcmp(v, "simulator");
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "brix up: %s needs a value (see --help)\n", a);
            return -1;
        }
        const char *v = argv[++i];
        char *end;
        if (!strcmp(a, "-f") || !strcmp(a, "--filename")) {
            if (c->nfiles == CTL_UP_MAX_FILES) {
                fprintf(stderr, "brix up: at most %d files\n", CTL_UP_MAX_FILES);
                return -1;
            }
            c->files[c->nfiles++] = v;
        } else if (!strcmp(a, "--api-key-file")) {
            if (c->nkey_files == CTL_UP_MAX_FILES) {
                fprintf(stderr, "brix up: at most %d key files\n", CTL_UP_MAX_FILES);
                return -1;
            }
            c->key_files[c->nkey_files++] = v;
        } else if (!strcmp(a, "--state")) {
            c->state_dir = v;
        } else if (!strcmp(a, "--host")) {
            c->host = v;
        } else if (!strcmp(a, "--port") || !strcmp(a, "--admin-port")) {
            long p = strtol(v, &end, 10);
            if (*end || p < 0 || p > 65535) {
                fprintf(stderr, "brix up: %s wants a port number\n", a);
                return -1;
            }
            if (!strcmp(a, "--port"))
                c->port = (int)p;
            else
                c->admin_port = (int)p;
        } else if (!strcmp(a, "--strategy")) {
            c->strategy = v;
        } else if (!strcmp(a, "--slo-default-output-tokens") ||
                   !strcmp(a, "--slo-max-outstanding") || !strcmp(a, "--slo-queue-max") ||
                   !strcmp(a, "--slo-queue-timeout-ms")) {
            long long n = strtoll(v, &end, 10);
            long long hi = !strcmp(a, "--slo-queue-timeout-ms") ? 3600000 : 1000000;
            if (*end || end == v || n < 1 || n > hi) {
                fprintf(stderr, "brix up: %s wants 1..%lld\n", a, hi);
                return -1;
            }
            if (!strcmp(a, "--slo-max-outstanding"))
                c->slo_max_outstanding = n;
            else if (!strcmp(a, "--slo-queue-max"))
                c->slo_queue_max = n;
            else if (!strcmp(a, "--slo-queue-timeout-ms"))
                c->slo_queue_timeout_ms = n;
            else
                c->slo_default_out = n;
        } else if (!strcmp(a, "--redis")) {
            c->redis = v;
        } else if (!strcmp(a, "--hold-seconds")) {
            c->hold_s = strtod(v, &end);
            if (*end || c->hold_s < 0) {
                fprintf(stderr, "brix up: --hold-seconds wants seconds >= 0\n");
                return -1;
            }
        } else if (!strcmp(a, "--log-level")) {
            c->log_level = v;
        } else if (!strcmp(a, "--gpu-profiles")) {
            c->gpu_profiles = v;
        } else if (!strcmp(a, "--gpu-optimizer-redis")) {
            c->gpuopt_redis = v;
        } else if (!strcmp(a, "--gpu-optimizer-port")) {
            long p = strtol(v, &end, 10);
            if (*end || p < 0 || p > 65535) {
                fprintf(stderr, "brix up: %s wants a port number\n", a);
                return -1;
            }
            c->gpuopt_port = (int)p;
        } else if (!strcmp(a, "--gpu-optimizer-window") || !strcmp(a, "--gpu-optimizer-period") ||
                   !strcmp(a, "--gpu-optimizer-scale-down-delay")) {
            double d = strtod(v, &end);
            if (*end || d < 0 || (d == 0 && strcmp(a, "--gpu-optimizer-scale-down-delay"))) {
                fprintf(stderr, "brix up: %s wants seconds\n", a);
                return -1;
            }
            if (!strcmp(a, "--gpu-optimizer-window"))
                c->gpuopt_window_s = d;
            else if (!strcmp(a, "--gpu-optimizer-period"))
                c->gpuopt_period_s = d;
            else
                c->gpuopt_down_s = d;
        } else {
            fprintf(stderr, "brix up: unknown option '%s' (see --help)\n", a);
            return -1;
        }
    }
    return 0;
}

/* ---------- the Deployment controller's callbacks ---------- */

static int ctl_up_set_strategy(void *ud, const char *model, const char *strategy)
{
    ctl_up *u = ud;
    return gw_gateway_set_model_strategy(u->gw, model, strategy);
}

static void ctl_up_replicas(void *ud, const char *deployment, const char *model, int replicas)
{
    ctl_up *u = ud;
    ctl_as_set_current(u->as, deployment, model, replicas);
}

/* ---------- pods: one snapshot fans out to everyone ---------- */

static void ctl_up_snapshot(ctl_up *u)
{
    u->npods = ctl_orch_pods(u->orch, NULL, u->pods, CTL_UP_MAX_PODS);
    if (u->npods > CTL_UP_MAX_PODS) u->npods = CTL_UP_MAX_PODS;
}

/* The pods as the autoscalers see them: a RayClusterFleet's head pods
 * (labels orchestration.aibrix.ai/raycluster-fleet-name and
 * ray.io/node-type=head: the fleet's scale selector) under the fleet's
 * target key, the workers of any RayCluster left out, the rest as they
 * are. Fills u->as_pods; returns how many. */
static size_t ctl_up_autoscaled_pods(ctl_up *u)
{
    size_t n = 0;
    for (size_t i = 0; i < u->npods; i++) {
        const ctl_podview *p = &u->pods[i];
        const char *nt = json_string_value(json_object_get(p->labels, CTL_RAY_LABEL_NODE_TYPE));
        const char *fl = json_string_value(json_object_get(p->labels, CTL_ROLLOUT_LABEL_FLEET));
        if (nt && !strcmp(nt, "worker")) continue;
        u->as_pods[n] = *p;
        if (nt && fl && !strcmp(nt, "head") &&
            (size_t)snprintf(u->as_keys[n], sizeof(u->as_keys[n]), "%s%s", CTL_UP_FLEET_KEY, fl) <
                sizeof(u->as_keys[n]))
            u->as_pods[n].deployment = u->as_keys[n];
        n++;
    }
    u->nas_pods = n;
    return n;
}

static void ctl_up_refresh(ctl_up *u)
{
    ctl_up_snapshot(u);
    char addrbuf[CTL_UP_MAX_PODS][80];
    const char *addrs[CTL_UP_MAX_PODS], *names[CTL_UP_MAX_PODS], *keys[CTL_UP_MAX_PODS],
        *groups[CTL_UP_MAX_PODS], *roles[CTL_UP_MAX_PODS], *rolesets[CTL_UP_MAX_PODS];
    int kv[CTL_UP_MAX_PODS];
    int n = 0;
    for (size_t i = 0; i < u->npods; i++) {
        if (u->pods[i].phase != CTL_POD_READY) continue;
        /* a RayCluster's workers serve no API: only heads are routed (as AIBrix's gateway) */
        const char *nt =
            json_string_value(json_object_get(u->pods[i].labels, CTL_RAY_LABEL_NODE_TYPE));
        if (nt && !strcmp(nt, "worker")) continue;
        snprintf(addrbuf[n], sizeof(addrbuf[n]), "%s:%d", u->pods[i].host, u->pods[i].port);
        addrs[n] = addrbuf[n];
        names[n] = ctl_key_name(u->pods[i].name); /* target-pod: the pod name, no namespace */
        keys[n] = u->pods[i].api_key;             /* vLLM --api-key: the gateway sends it */
        groups[n] = u->pods[i].deployment;        /* its GPU type, for the slo strategies */
        /* its P/D role for the pd strategy (AIBrix's pod labels) */
        roles[n] = json_string_value(json_object_get(u->pods[i].labels, "role-name"));
        rolesets[n] = json_string_value(json_object_get(u->pods[i].labels, "roleset-name"));
        /* labelled: started publishing KV events at its port + CTL_KV_EVENTS_OFFSET */
        const char *ke = json_string_value(json_object_get(u->pods[i].labels, CTL_LABEL_KV_EVENTS));
        kv[n] = ke && !strcmp(ke, "true") ? 1 : -1;
        n++;
    }
    gw_gateway_set_engines_kv(u->gw, addrs, names, keys, groups, roles, rolesets, kv, n);
    ctl_lora_pods(u->lora, u->pods, u->npods);
    ctl_as_pods(u->as, u->as_pods, ctl_up_autoscaled_pods(u));
    ctl_deploy_pods(u->deploy, u->pods, u->npods);
    ctl_raycluster_pods_changed(u->rc);
}

static void ctl_up_on_pod(void *ud, const ctl_podview *pod)
{
    ctl_up *u = ud;
    bx_debug("pod %s: %s (port %d, pid %d)", pod->name, ctl_pod_phase_name(pod->phase), pod->port,
             pod->pid);
    if (!u->stopping) ctl_up_refresh(u);
}

static int ctl_up_inflight(void *ud, const ctl_podview *pod)
{
    ctl_up *u = ud;
    char addr[80];
    snprintf(addr, sizeof(addr), "%s:%d", pod->host, pod->port);
    return gw_gateway_engine_inflight(u->gw, addr);
}

/* The orchestrator's events go to the object store under their object. */
static void ctl_up_on_orch_event(void *ud, const char *kind, const char *name, ctl_event_type type,
                                 const char *reason, const char *message)
{
    ctl_up *u = ud;
    char err[256];
    if (ctl_raycluster_member_event(u->rc, name, type, reason, message)) return; /* a member's */
    if (ctl_objstore_event(u->st, kind, name, type, reason, message, err, sizeof(err)) != 0)
        bx_warn("event for %s %s: %s", kind, name, err);
}

static void ctl_up_on_adapters(void *ud, const char *pod, const char *const *adapters, size_t n)
{
    ctl_up *u = ud;
    (void)adapters;
    for (size_t i = 0; i < u->npods; i++) {
        if (strcmp(u->pods[i].name, pod) != 0) continue;
        char addr[80];
        snprintf(addr, sizeof(addr), "%s:%d", u->pods[i].host, u->pods[i].port);
        gw_gateway_poke(u->gw, addr); /* re-read its models: route the adapter now */
        bx_info("pod %s: %zu adapter(s) loaded", pod, n);
    }
}

static int ctl_up_api_pods(void *ud, const ctl_podview **out, size_t *n)
{
    ctl_up *u = ud;
    ctl_up_snapshot(u);
    *out = u->pods;
    *n = u->npods;
    return 0;
}

/* startedAt of a pod: the local orchestrator's row. */
static int64_t ctl_up_pod_started(void *ud, const char *pod)
{
    ctl_up *u = ud;
    ctl_pod row;
    char err[256];
    return ctl_store_pod_get(u->store, pod, &row, err, sizeof(err)) == 0 ? row.started_ms : 0;
}

/* ---------- autoscaling ---------- */

static void ctl_up_scale(void *ud, const char *deployment, int replicas, const char *reason)
{
    ctl_up *u = ud;
    size_t fl = strlen(CTL_UP_FLEET_KEY);
    if (strncmp(deployment, CTL_UP_FLEET_KEY, fl) != 0) {
        ctl_deploy_scale(u->deploy, deployment, replicas, reason);
        return;
    }
    /* a RayClusterFleet: its key in the namespace of its head pods */
    char key[CTL_NAME_MAX + 1];
    snprintf(key, sizeof(key), "%s", deployment + fl);
    for (size_t i = 0; i < u->nas_pods; i++)
        if (u->as_pods[i].deployment == u->as_keys[i] && !strcmp(u->as_keys[i], deployment) &&
            ctl_key_sibling(u->as_pods[i].name, deployment + fl, key, sizeof(key)) == 0)
            break;
    if (ctl_fleet_scale(u->fleet, key, replicas, reason) != 0)
        bx_warn("rayclusterfleet %s: cannot scale to %d", key, replicas);
}

/* AIBrix's optimizer Service -> the local optimizer (optimizer-KPA samples
 * work unchanged). */
static void ctl_up_endpoint(void *ud, char *host, size_t hlen, int *port)
{
    ctl_up *u = ud;
    if (!u->gpuopt || !ctl_gpuopt_is_service(host, *port)) return;
    snprintf(host, hlen, "127.0.0.1");
    *port = ctl_gpuopt_port(u->gpuopt);
}

static int ctl_up_gateway_metric(void *ud, const char *model, const char *metric, double *value)
{
    ctl_up *u = ud;
    if (!strcmp(metric, CTL_AS_GW_WAITING) || !strcmp(metric, "gateway_held")) {
        *value = gw_gateway_held(u->gw, model);
        return 0;
    }
    if (!strcmp(metric, "gateway_request_rate")) /* requests/s routed to its engines */
        return ctl_deploy_request_rate(u->deploy, model, gw_gateway_model_routed(u->gw, model),
                                       value);
    if (!strcmp(metric, CTL_AS_GW_INFLIGHT)) { /* at its engines, held and queued ones too */
        *value = gw_gateway_model_inflight(u->gw, model) + gw_gateway_held(u->gw, model) +
                 gw_gateway_queued(u->gw, model);
        return 0;
    }
    return -1;
}

/* The base model of the adapter served as `model` (its name, in any
 * namespace: the gateway's model names have none) into base. 0, or -1 when
 * no adapter has that name. */
/* The ModelAdapter named model (its plain name: engines and the gateway know
 * adapters without their namespace) in any namespace, the first found, into
 * out (cleared with ctl_record_clear). 0, or -1 when there is none. */
static int ctl_up_adapter_find(ctl_up *u, const char *model, ctl_record *out)
{
    ctl_record *rs = NULL;
    size_t n = 0;
    char err[256];
    int rc = -1;
    if (ctl_objstore_list(u->st, "ModelAdapter", &rs, &n, err, sizeof(err)) != 0) return -1;
    for (size_t i = 0; i < n && rc != 0; i++) {
        if (strcmp(ctl_key_name(rs[i].name), model) != 0) continue;
        *out = rs[i];
        memset(&rs[i], 0, sizeof(rs[i])); /* moved to out */
        rc = 0;
    }
    ctl_records_free(rs, n);
    return rc;
}

/* Scale from zero: the gateway holds a request for model. */
static int ctl_up_is_model(void *ud, const char *model)
{
    ctl_up *u = ud;
    ctl_deploy_info di;
    /* in memory only: asked for every request naming a model no engine serves */
    return ctl_deploy_by_model(u->deploy, model, &di) == 0 || ctl_lora_serves(u->lora, model) ||
           ctl_raycluster_serves(u->rc, model);
}

/* Can model not become ready? (the gateway answers 503 at once instead of
 * holding): its Deployment has 0 replicas and no autoscaler (every brix
 * policy scales from zero on a waiting request: as_policy.c activation);
 * every replica of it is in back-off after exiting (crash-looping); its
 * adapter is Failed. The last two may recover (restarts, the adapter
 * controller's retries): Retry-After 10. A replica starting, or a restart
 * under way, is held for. */
static int ctl_up_unservable(void *ud, const char *model, char *why, size_t whylen,
                             int *retry_after_s)
{
    ctl_up *u = ud;
    ctl_deploy_info di;
    *retry_after_s = 0;
    if (ctl_deploy_by_model(u->deploy, model, &di) != 0) { /* an adapter? */
        ctl_record r;
        if (ctl_up_adapter_find(u, model, &r) != 0) return 0;
        json_t *status = r.status; /* the controller's, not the manifest's */
        const char *phase = json_string_value(json_object_get(status, "phase"));
        const char *base =
            json_string_value(json_object_get(json_object_get(r.object, "spec"), "baseModel"));
        int failed = phase && !strcmp(phase, "Failed");
        if (failed) {
            const char *msg = NULL;
            size_t i;
            json_t *cond;
            json_array_foreach(json_object_get(status, "conditions"), i, cond)
            {
                const char *t = json_string_value(json_object_get(cond, "type"));
                if (t && !strcmp(t, "Ready"))
                    msg = json_string_value(json_object_get(cond, "message"));
            }
            snprintf(why, whylen, "adapter %.100s is Failed%s%.180s", model, msg ? ": " : "",
                     msg ? msg : "");
        }
        int found = !failed && base && ctl_deploy_by_model(u->deploy, base, &di) == 0;
        ctl_record_clear(&r);
        if (failed) { /* the controller retries it with back-off: it may come */
            *retry_after_s = 10;
            return 1;
        }
        if (!found) return 0;
    }
    if (di.replicas == 0 && !di.autoscaled) {
        snprintf(why, whylen,
                 "model %.100s: deployment %.100s has 0 replicas and no autoscaler to scale it "
                 "from zero",
                 model, di.name);
        return 1;
    }
    ctl_up_snapshot(u);
    int live = 0, backoff = 0, restarts = 0;
    for (size_t i = 0; i < u->npods; i++) {
        const ctl_podview *p = &u->pods[i];
        if (!p->deployment || strcmp(p->deployment, di.name) != 0) continue;
        if (p->phase == CTL_POD_GONE || p->phase == CTL_POD_STOPPING) continue;
        live++;
        if (p->phase == CTL_POD_BACKOFF) {
            backoff++;
            restarts += p->restarts;
        }
    }
    if (live > 0 && backoff == live) {
        snprintf(why, whylen,
                 "model %.100s: every replica of deployment %.100s is crash-looping (exited, "
                 "%d restart(s), restart in back-off)",
                 model, di.name, restarts);
        *retry_after_s = 10;
        return 1;
    }
    return 0;
}

static void ctl_up_wake(void *ud, const char *model)
{
    ctl_up *u = ud;
    ctl_deploy_info di;
    int found = ctl_deploy_by_model(u->deploy, model, &di) == 0;
    ctl_record r;
    if (!found && ctl_up_adapter_find(u, model, &r) == 0) {
        const char *base =
            json_string_value(json_object_get(json_object_get(r.object, "spec"), "baseModel"));
        if (base)
            found = ctl_deploy_by_model(u->deploy, base, &di) == 0; /* wake the base model's */
        ctl_record_clear(&r);
    }
    if (!found) return;
    if (di.autoscaled) {
        ctl_as_wake(u->as, di.name);
    } else if (di.replicas == 0) {
        bx_warn("model %s: request held, but deployment %s has 0 replicas and no autoscaler", model,
                di.name);
    }
}

/* ---------- objects ---------- */

/* The store's watch, registered before the controllers': the log line of
 * each change through the admin API comes before they act on it. */
static void ctl_up_on_watch(void *ud, const ctl_watch_event *ev)
{
    ctl_up *u = ud;
    if (u->stopping || ev->type == CTL_WATCH_SYNC) return;
    bx_info("%s %s %s", ctl_kind_name(ev->kind), ev->name,
            ev->type == CTL_WATCH_PUT ? "applied" : "deleted");
}

/* A GatewayConfig document of a -f file (ctl_obj.h: no object; it is not
 * stored, so each brix up reads it again from its -f files): its keys and
 * those of its apiKeyFile are added to u->keys. */
static int ctl_up_gateway_doc(ctl_up *u, const json_t *doc, const char *file, char *err,
                              size_t errlen)
{
    ctl_gateway_config gc;
    gc.keys = u->keys;
    if (ctl_obj_gateway_config_parse(doc, file, &gc, err, errlen) != 0) return -1;
    char e[512];
    if (gc.key_file[0] && bx_apikeys_load_file(&gc.keys, gc.key_file, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "GatewayConfig: spec.apiKeyFile: %s", e);
        return -1;
    }
    u->keys = gc.keys;
    return 0;
}

/* The -f file's documents: GatewayConfig ones are read (and nulled, which
 * ctl_obj_parse_all skips, so document numbers in errors stay right), the
 * rest parsed as objects. */
static int ctl_up_load_docs(ctl_up *u, const char *file, const char *buf, size_t len,
                            json_t *warnings, ctl_obj ***objs, size_t *n, char *err, size_t errlen)
{
    json_t *docs = NULL;
    if (bx_yaml_load_all(buf, len, NULL, &docs, err, errlen) < 0) return -1;
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d)
    {
        const char *kind = json_string_value(json_object_get(d, "kind"));
        if (!kind || strcmp(kind, CTL_GATEWAY_CONFIG_KIND) != 0) continue;
        char e[768];
        if (ctl_up_gateway_doc(u, d, file, e, sizeof(e)) != 0) {
            snprintf(err, errlen, "document %zu: %s", i + 1, e);
            json_decref(docs);
            return -1;
        }
        json_array_set_new(docs, i, json_null());
    }
    int rc = ctl_obj_parse_all(docs, warnings, objs, n, err, errlen);
    json_decref(docs);
    return rc;
}

/* Reads, validates (all before any is stored) and stores the -f files. */
static int ctl_up_load_files(ctl_up *u)
{
    for (int f = 0; f < u->cfg.nfiles; f++) {
        FILE *fp = fopen(u->cfg.files[f], "rb");
        if (!fp) {
            fprintf(stderr, "brix up: %s: %s\n", u->cfg.files[f], strerror(errno));
            return -1;
        }
        char *buf = NULL;
        size_t len = 0, cap = 0;
        for (;;) {
            if (len > CTL_CLI_MAX_FILE) {
                fprintf(stderr, "brix up: %s: larger than %u bytes\n", u->cfg.files[f],
                        CTL_CLI_MAX_FILE);
                free(buf);
                fclose(fp);
                return -1;
            }
            if (len + 65536 > cap) {
                cap = cap ? cap * 2 : 65536;
                char *nb = realloc(buf, cap);
                if (!nb) {
                    free(buf);
                    fclose(fp);
                    return -1;
                }
                buf = nb;
            }
            size_t r = fread(buf + len, 1, cap - len, fp);
            len += r;
            if (r == 0) break;
        }
        fclose(fp);
        ctl_obj **objs = NULL;
        size_t n = 0;
        char err[1024];
        json_t *warnings = json_array();
        int rc = warnings ? ctl_up_load_docs(u, u->cfg.files[f], buf, len, warnings, &objs, &n, err,
                                             sizeof(err))
                          : -1;
        free(buf);
        if (rc != 0) {
            fprintf(stderr, "brix up: %s: %s\n", u->cfg.files[f], warnings ? err : "out of memory");
            json_decref(warnings);
            return -1;
        }
        size_t w;
        const json_t *wv;
        json_array_foreach(warnings, w, wv)
            fprintf(stderr, "Warning: %s: %s\n", u->cfg.files[f], json_string_value(wv));
        json_decref(warnings);
        for (size_t i = 0; i < n; i++) {
            int changed = 0;
            ctl_record old;
            int existed = ctl_objstore_get(u->st, ctl_kind_name(objs[i]->kind), objs[i]->name, &old,
                                           err, sizeof(err)) == 0;
            if (existed) ctl_record_clear(&old);
            if (ctl_objstore_put(u->st, objs[i], &changed, err, sizeof(err)) != 0) {
                fprintf(stderr, "brix up: %s: %s\n", u->cfg.files[f], err);
                ctl_objs_free(objs, n);
                return -1;
            }
            printf("%s/%s %s\n", ctl_kind_name(objs[i]->kind), objs[i]->name,
                   !existed  ? "created"
                   : changed ? "configured"
                             : "unchanged");
            if (objs[i]->notes[0])
                fprintf(stderr, "Warning: %s/%s: %s\n", ctl_kind_lower(objs[i]->kind),
                        objs[i]->name, objs[i]->notes);
        }
        ctl_objs_free(objs, n);
    }
    return 0;
}

/* Starts every stored object: Deployments first (adopting the previous
 * run's engines), then adapters and autoscalers. */
static int ctl_up_start_objects(ctl_up *u)
{
    static const ctl_kind order[] = {CTL_KIND_DEPLOYMENT, CTL_KIND_RAYCLUSTER,
                                     CTL_KIND_MODEL_ADAPTER, CTL_KIND_POD_AUTOSCALER};
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
        char err[512];
        if (ctl_objstore_sync(u->st, order[k], err, sizeof(err)) != 0) {
            fprintf(stderr, "brix up: %s\n", err);
            return -1;
        }
    }
    return 0;
}

/* ---------- lifecycle ---------- */

static void ctl_up_on_tick(uv_timer_t *t)
{
    ctl_up *u = t->data;
    if (!u->stopping) ctl_up_refresh(u);
}

static void ctl_up_orch_closed(void *ud)
{
    ctl_up *u = ud;
    /* the Deployment controller answers the gateway's hold hook while the
     * engines drain */
    ctl_deploy_close(u->deploy, NULL, NULL);
    u->deploy = NULL;
    gw_gateway_close(u->gw);
    u->gw = NULL;
    uv_close((uv_handle_t *)&u->tick, NULL);
    uv_close((uv_handle_t *)&u->sigint, NULL);
    uv_close((uv_handle_t *)&u->sigterm, NULL);
}

static void ctl_up_stop(ctl_up *u)
{
    if (u->stopping) return;
    u->stopping = 1;
    bx_info("stopping%s", u->cfg.keep_engines ? " (engines keep running)" : "");
    uv_timer_stop(&u->tick);
    if (u->api) ctl_api_close(u->api, NULL, NULL);
    u->api = NULL;
    ctl_gpuopt_close(u->gpuopt, NULL, NULL);
    u->gpuopt = NULL;
    if (u->as) ctl_as_close(u->as, NULL, NULL);
    u->as = NULL;
    if (u->lora) ctl_lora_close(u->lora, NULL, NULL);
    u->lora = NULL;
    ctl_fleet_close(u->fleet, NULL, NULL);
    u->fleet = NULL;
    ctl_rcrs_close(u->rcrs, NULL, NULL);
    u->rcrs = NULL;
    ctl_raycluster_close(u->rc, NULL, NULL); /* before the orchestrator: it stops the members */
    u->rc = NULL;
    ctl_orch_close(u->orch, !u->cfg.keep_engines, ctl_up_orch_closed, u);
    u->orch = NULL;
}

static void ctl_up_on_signal(uv_signal_t *s, int signum)
{
    ctl_up *u = s->data;
    if (u->stopping) { /* a second signal: do not wait for draining */
        bx_warn("signal %d again: exiting now", signum);
        exit(130);
    }
    ctl_up_stop(u);
}

static int ctl_up_paths(ctl_up *u)
{
    const char *d = u->cfg.state_dir;
    if (mkdir(d, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "brix up: cannot create %s: %s\n", d, strerror(errno));
        return -1;
    }
    if ((size_t)snprintf(u->db_path, sizeof(u->db_path), "%s/brix.db", d) >= sizeof(u->db_path) ||
        (size_t)snprintf(u->log_dir, sizeof(u->log_dir), "%s/logs", d) >= sizeof(u->log_dir) ||
        (size_t)snprintf(u->cache_dir, sizeof(u->cache_dir), "%s/adapters", d) >=
            sizeof(u->cache_dir)) {
        fprintf(stderr, "brix up: state path too long\n");
        return -1;
    }
    if ((mkdir(u->log_dir, 0755) != 0 && errno != EEXIST) ||
        (mkdir(u->cache_dir, 0755) != 0 && errno != EEXIST)) {
        fprintf(stderr, "brix up: cannot create %s/logs or /adapters: %s\n", d, strerror(errno));
        return -1;
    }
    ssize_t n = readlink("/proc/self/exe", u->brix_path, sizeof(u->brix_path) - 1);
    if (n <= 0) {
        snprintf(u->brix_path, sizeof(u->brix_path), "brix");
    } else {
        u->brix_path[n] = '\0';
    }
    return 0;
}

static void ctl_up_assignment(void *ud, const char *model, const char *json, size_t len)
{
    ctl_up *u = ud;
    char err[256];
    if (gw_gateway_set_assignment(u->gw, model, json, len, err, sizeof(err)) != 0)
        bx_warn("gpu optimizer: assignment of %s refused by the gateway: %s", model, err);
}

/* The GPU optimizer (--gpu-profiles), reading the in-process gateway's
 * /brix/load with a key of BRIX_GPU_OPTIMIZER_GATEWAY_KEY, else the first of
 * BRIX_API_KEYS, and taking the gateway's keys on its routes. */
static int ctl_up_start_gpuopt(ctl_up *u)
{
    if (!u->cfg.gpu_profiles && !u->cfg.gpuopt_redis) return 0;
    char rhost[256] = "";
    int rport = 0;
    if (u->cfg.gpuopt_redis &&
        ctl_redis_parse_addr(u->cfg.gpuopt_redis, rhost, sizeof(rhost), &rport) != 0) {
        fprintf(stderr, "brix up: --gpu-optimizer-redis wants HOST:PORT\n");
        return -1;
    }
    static char load_key[BX_APIKEY_MAX_LEN + 1];
    const char *k = getenv("BRIX_GPU_OPTIMIZER_GATEWAY_KEY");
    if (!k || !k[0]) {
        const char *l = getenv("BRIX_API_KEYS");
        size_t n = l ? strcspn(l, ",") : 0;
        snprintf(load_key, sizeof(load_key), "%.*s", (int)n, l ? l : "");
    } else {
        snprintf(load_key, sizeof(load_key), "%s", k);
    }
    int any = !strcmp(u->cfg.host, "0.0.0.0") || !strcmp(u->cfg.host, "::");
    ctl_gpuopt_cfg oc = {.host = "127.0.0.1",
                         .port = u->cfg.gpuopt_port,
                         .keys = u->keys,
                         .open_writes = 1, /* loopback, as the admin API */
                         .profiles_dir = u->cfg.gpu_profiles,
                         .load_host = any ? "127.0.0.1" : u->cfg.host,
                         .load_port = gw_gateway_port(u->gw),
                         .load_key = load_key,
                         .list_store = 1,
                         .period_ms = (uint64_t)(u->cfg.gpuopt_period_s * 1000)};
    if (rhost[0]) {
        oc.redis_host = rhost;
        oc.redis_port = rport;
        oc.redis_password = getenv("REDIS_PASSWORD");
    }
    oc.assignment = ctl_up_assignment; /* the gateway's slo routing, in process */
    oc.assignment_ud = u;
    oc.core.window_s = (int)u->cfg.gpuopt_window_s;
    oc.core.scale_down_delay_s = u->cfg.gpuopt_down_s > 0 ? u->cfg.gpuopt_down_s : -1;
    char err[512];
    if (ctl_gpuopt_init(&u->gpuopt, u->loop, u->st, &oc, err, sizeof(err)) != 0) {
        fprintf(stderr, "brix up: %s\n", err);
        return -1;
    }
    printf("brix up: gpu optimizer http://127.0.0.1:%d (profiles %s%s%s%s)\n",
           ctl_gpuopt_port(u->gpuopt), u->cfg.gpu_profiles ? u->cfg.gpu_profiles : "",
           u->cfg.gpu_profiles && rhost[0] ? " and " : "", rhost[0] ? "redis " : "",
           rhost[0] ? u->cfg.gpuopt_redis : "");
    return 0;
}

static int ctl_up_start(ctl_up *u)
{
    char err[512];
    if (ctl_up_paths(u) != 0) return -1;
    if (ctl_objstore_sqlite_open(u->db_path, &u->st, err, sizeof(err)) != 0) {
        fprintf(stderr, "brix up: %s: %s\n", u->db_path, err);
        return -1;
    }
    u->store = ctl_objstore_sqlite_store(u->st);
    for (int i = 0; i < u->cfg.nkey_files; i++)
        if (bx_apikeys_load_file(&u->keys, u->cfg.key_files[i], err, sizeof(err)) < 0) {
            fprintf(stderr, "brix up: --api-key-file %s\n", err);
            return -1;
        }
    const char *env_keys = getenv("BRIX_API_KEYS");
    if (env_keys && bx_apikeys_add_list(&u->keys, env_keys, err, sizeof(err)) < 0) {
        fprintf(stderr, "brix up: BRIX_API_KEYS: %s\n", err);
        return -1;
    }
    if (ctl_up_load_files(u) != 0) return -1;

    gw_config gc;
    gw_config_default(&gc);
    gc.keys = u->keys;
    gc.host = u->cfg.host;
    gc.port = u->cfg.port;
    gc.strategy = u->cfg.strategy;
    /* the engines labelled model.aibrix.ai/kv-events-enabled=true publish
     * there (ctl_obj_deployment.c); the others are not followed */
    gc.kv_events_port_offset = CTL_KV_EVENTS_OFFSET;
    gc.slo_default_output_tokens = u->cfg.slo_default_out;
    gc.slo_max_outstanding = u->cfg.slo_max_outstanding;
    if (u->cfg.slo_queue_max > 0) gc.slo_queue_max = u->cfg.slo_queue_max;
    if (u->cfg.slo_queue_timeout_ms > 0) gc.slo_queue_timeout_ms = u->cfg.slo_queue_timeout_ms;
    gc.redis = u->cfg.redis;
    if (gw_gateway_init(&u->gw, u->loop, &gc, err, sizeof(err)) != 0) {
        fprintf(stderr, "brix up: gateway: %s\n", err);
        return -1;
    }
    gw_hold_hooks hh = {.is_model = ctl_up_is_model,
                        .wake = ctl_up_wake,
                        .unservable = ctl_up_unservable,
                        .ud = u,
                        .hold_ms = (uint64_t)(u->cfg.hold_s * 1000)};
    if (gw_gateway_set_hold(u->gw, &hh) != 0) {
        fprintf(stderr, "brix up: gateway: cannot hold requests (scale from zero)\n");
        return -1;
    }

    /* first: its log line comes before the controllers act on a change */
    if (ctl_objstore_watch(u->st, CTL_KIND_NONE, ctl_up_on_watch, u) != 0) {
        fprintf(stderr, "brix up: out of memory\n");
        return -1;
    }
    ctl_orch_local_cfg sc;
    ctl_orch_local_cfg_default(&sc);
    sc.brix_path = u->brix_path;
    sc.log_dir = u->log_dir;
    sc.engine_simulator = u->cfg.engine_simulator;
    /* the adapter controller loads through the engines' runtime endpoints,
     * which vLLM (and brix engine) serve only with this */
    static const char *const set_env[] = {"VLLM_ALLOW_RUNTIME_LORA_UPDATING=true", NULL};
    sc.set_env = set_env;
    ctl_orch_cbs scb = {
        .on_change = ctl_up_on_pod, .inflight = ctl_up_inflight, .on_event = ctl_up_on_orch_event};
    if (ctl_orch_local_init(&u->orch, u->loop, u->store, &sc, &scb, u, err, sizeof(err)) != 0) {
        fprintf(stderr, "brix up: orchestrator: %s\n", err);
        return -1;
    }
    ctl_lora_cfg lc;
    ctl_lora_cfg_default(&lc);
    lc.cache_dir = u->cache_dir;
    lc.engine_max_loras = 0; /* vLLM's --max-loras bounds a batch, not what is loaded */
    ctl_lora_cbs lcb = {.on_adapters = ctl_up_on_adapters};
    if (ctl_lora_init(&u->lora, u->loop, u->st, &lc, &lcb, u, err, sizeof(err)) != 0) {
        fprintf(stderr, "brix up: adapters: %s\n", err);
        return -1;
    }
    ctl_as_cfg ac;
    ctl_as_cfg_default(&ac);
    if (ctl_up_start_gpuopt(u) != 0) return -1;
    ctl_as_cbs acb = {.scale = ctl_up_scale,
                      .gateway_metric = ctl_up_gateway_metric,
                      .endpoint = ctl_up_endpoint};
    if (ctl_as_init(&u->as, u->loop, u->st, &ac, &acb, u, err, sizeof(err)) != 0) {
        fprintf(stderr, "brix up: autoscaler: %s\n", err);
        return -1;
    }
    ctl_deploy_cbs dcb = {.set_strategy = ctl_up_set_strategy, .replicas = ctl_up_replicas};
    if (ctl_deploy_init(&u->deploy, u->loop, u->st, u->orch, &dcb, u, err, sizeof(err)) != 0) {
        fprintf(stderr, "brix up: deployments: %s\n", err);
        return -1;
    }
    if (ctl_raycluster_init(&u->rc, u->loop, u->st, u->orch, err, sizeof(err)) != 0) {
        fprintf(stderr, "brix up: rayclusters: %s\n", err);
        return -1;
    }
    if (ctl_rcrs_init(&u->rcrs, u->loop, u->st, err, sizeof(err)) != 0 ||
        ctl_fleet_init(&u->fleet, u->loop, u->st, 1, err, sizeof(err)) != 0) {
        fprintf(stderr, "brix up: rayclusterfleets: %s\n", err);
        return -1;
    }
    if (ctl_up_start_objects(u) != 0) return -1;

    ctl_api_config apc;
    ctl_api_config_default(&apc);
    apc.port = u->cfg.admin_port;
    int v6 = strchr(u->cfg.host, ':') != NULL;
    snprintf(u->gateway_url, sizeof(u->gateway_url), "http://%s%s%s:%d", v6 ? "[" : "", u->cfg.host,
             v6 ? "]" : "", gw_gateway_port(u->gw));
    apc.gateway_url = u->gateway_url;
    apc.log_dir = u->log_dir; /* brix logs: ctl_orch_local writes one file per pod there */
    ctl_api_callbacks acbs = {.pods = ctl_up_api_pods, .pod_started = ctl_up_pod_started, .ud = u};
    if (ctl_api_init(&u->api, u->loop, u->st, &apc, &acbs, err, sizeof(err)) != 0) {
        fprintf(stderr, "brix up: admin API: %s\n", err);
        return -1;
    }
    int ap = ctl_api_listen(u->api, err, sizeof(err));
    if (ap <= 0) {
        fprintf(stderr, "brix up: admin API: %s\n", err);
        return -1;
    }
    if (uv_timer_init(u->loop, &u->tick) != 0 || uv_signal_init(u->loop, &u->sigint) != 0 ||
        uv_signal_init(u->loop, &u->sigterm) != 0) {
        fprintf(stderr, "brix up: cannot create the loop's handles\n");
        return -1;
    }
    u->tick.data = u->sigint.data = u->sigterm.data = u;
    uv_timer_start(&u->tick, ctl_up_on_tick, 1000, 1000);
    uv_signal_start(&u->sigint, ctl_up_on_signal, SIGINT);
    uv_signal_start(&u->sigterm, ctl_up_on_signal, SIGTERM);
    printf("brix up: gateway http://%s:%d (%d API key%s)  admin http://127.0.0.1:%d  state %s\n",
           u->cfg.host, gw_gateway_port(u->gw), u->keys.n, u->keys.n == 1 ? "" : "s", ap,
           u->cfg.state_dir);
    fflush(stdout);
    return 0;
}

int ctl_up_main(int argc, char **argv)
{
    static ctl_up u; /* large (pod views); one per process */
    memset(&u, 0, sizeof(u));
    int rc = ctl_up_parse(&u.cfg, argc, argv);
    if (rc != 0) return rc > 0 ? 0 : 2;
    enum bx_log_level lvl;
    if (bx_log_parse_level(u.cfg.log_level, &lvl) != 0) {
        fprintf(stderr, "brix up: unknown --log-level '%s'\n", u.cfg.log_level);
        return 2;
    }
    bx_log_init("brix-up", lvl);
    signal(SIGPIPE, SIG_IGN);
    u.loop = uv_default_loop();
    if (ctl_up_start(&u) != 0) {
        if (u.api) ctl_api_close(u.api, NULL, NULL);
        ctl_gpuopt_close(u.gpuopt, NULL, NULL);
        if (u.deploy) ctl_deploy_close(u.deploy, NULL, NULL);
        ctl_fleet_close(u.fleet, NULL, NULL);
        ctl_rcrs_close(u.rcrs, NULL, NULL);
        ctl_raycluster_close(u.rc, NULL, NULL);
        if (u.as) ctl_as_close(u.as, NULL, NULL);
        if (u.lora) ctl_lora_close(u.lora, NULL, NULL);
        if (u.orch) ctl_orch_close(u.orch, 1, NULL, NULL);
        if (u.gw) gw_gateway_close(u.gw);
        uv_run(u.loop, UV_RUN_NOWAIT);
        ctl_objstore_close(u.st);
        return 1;
    }
    uv_run(u.loop, UV_RUN_DEFAULT);
    ctl_objstore_unwatch(u.st, ctl_up_on_watch, &u);
    ctl_objstore_close(u.st);
    bx_info("stopped");
    return u.exit_code;
}
