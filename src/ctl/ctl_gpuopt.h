/* ctl_gpuopt: the heterogeneous-GPU optimizer as a service (docs/hetero.md,
 * "Optimizer service"; AIBrix's aibrix-gpu-optimizer), one code path for
 * `brix up` (SQLite store) and `brix controller` (the API server's store):
 *
 *   models     one opt_model (opt_core.h) per model: the Deployments
 *              labelled model.aibrix.ai/name, floor from the label
 *              model.aibrix.ai/min_replicas, bound from the maxReplicas of
 *              a PodAutoscaler targeting the Deployment. Under `brix up`
 *              they are listed from the store every period (list_store);
 *              under `brix controller` the orchestrator's Deployment watch
 *              feeds them (ctl_gpuopt_deployment).
 *   profiles   every *.json of profiles_dir (opt_profile_parse), re-read
 *              when a file's size or mtime changes and on GET
 *              /update_profile/<model>; matched to a Deployment by gpu ==
 *              name or ns/name (opt_server_profile_matches); one replaces
 *              another of the same gpu only with a newer `created`.
 *              With redis_host, also every aibrix:profile_<model>_* key
 *              (SCAN, MGET; ctl_gpuopt_redis.c), every period and on
 *              /update_profile; a newer `created` wins, file or key.
 *   load       every period per model: GET <gateway>/brix/load?model=M&since=T
 *              (opt_server_load_parse), windows into the model. With
 *              redis_host instead: AIBrix's trace keys (the first time
 *              every key SCAN finds, then the windows ended since).
 *   runs       after each load answer (or its failure): opt_model_run. A
 *              Deployment whose replicas changed gets an Event
 *              GPUMixChosen (the message: the result's reason line).
 *   HTTP       opt_server.h's routes: GET /metrics/<ns>/<dep> (AIBrix's
 *              vllm:deployment_replicas text, units), /assignment/<model>,
 *              /status, /healthz, /update_profile/<model>; PUT
 *              /scale/<ns>/<dep> {"replicas": n} and AIBrix's POST
 *              /scale/<ns>/<dep>/<n> (-1 clears the model's overrides);
 *              POST/DELETE /monitor/<ns>/<dep> (start/stop optimizing it).
 *              Keys (Bearer, cfg.keys) on every route but /healthz, GET
 *              /metrics/... (what PodAutoscalers scrape, without
 *              credentials, as AIBrix's do) and GET /assignment/... (what
 *              the gateway reads). Without keys, the routes that
 *              change something are refused (403) unless cfg.open_writes
 *              (brix up: loopback). Bodies at most 4 KiB; 128 connections;
 *              bx_http's read deadlines.
 *
 * Threads and ownership: the loop thread; the store is borrowed and must
 * outlive the service. cfg's strings are copied. */
#ifndef CTL_GPUOPT_H
#define CTL_GPUOPT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/bx_apikey.h"
#include "ctl/ctl_objstore.h"
#include "opt/opt_core.h"

#define CTL_GPUOPT_DEFAULT_PORT 8890
#define CTL_GPUOPT_SERVICE "aibrix-gpu-optimizer" /* AIBrix's Service, aibrix-system:8080 */
#define CTL_GPUOPT_SERVICE_NS "aibrix-system"
#define CTL_GPUOPT_SERVICE_PORT 8080

typedef struct ctl_gpuopt ctl_gpuopt; /* opaque */

typedef struct ctl_gpuopt_cfg {
    const char *host;         /* listen address; default 127.0.0.1 */
    int port;                 /* 0: any free port */
    bx_apikeys keys;          /* n == 0: no keys */
    int open_writes;          /* 1: without keys, the changing routes are open too */
    const char *profiles_dir; /* NULL: none (then only Redis profiles, with redis_host) */
    const char *load_host;    /* the gateway's /brix/load; NULL: no load */
    int load_port;
    const char *load_key; /* Bearer sent to the gateway (a comma list: its first); NULL: none */
    /* Redis in AIBrix's keys (docs/hetero.md, "Redis"): profiles
     * aibrix:profile_<model>_<dep> besides profiles_dir, and the load from
     * aibrix:<model>_request_trace_<end> instead of load_host. NULL: none. */
    const char *redis_host;
    int redis_port;             /* 0: 6379 */
    const char *redis_password; /* NULL or "": no AUTH */
    const char *ns;             /* the namespace of plain keys; NULL: "default" */
    int list_store;             /* 1: Deployments listed from the store (brix up) */
    uint64_t period_ms;         /* 0: 10000 */
    opt_core_opts core;
    /* Records an Event on Deployment key; NULL: through the store
     * (ctl_ctrl_event). brix controller's store writes Events only for the
     * kinds it caches, so it records them itself. */
    void (*event)(void *ud, const char *key, const char *reason, const char *message);
    void *event_ud;
    /* Called after a run whose result changed (its generation) with the
     * model's assignment JSON (docs/hetero.md; borrowed for the call): brix
     * up hands it to its in-process gateway. NULL: none (a gateway polls
     * GET /assignment/<model>). */
    void (*assignment)(void *ud, const char *model, const char *json, size_t len);
    void *assignment_ud;
} ctl_gpuopt_cfg;

/* 0 and *out (listening), or -1 with a message. */
int ctl_gpuopt_init(ctl_gpuopt **out, uv_loop_t *loop, ctl_objstore *store,
                    const ctl_gpuopt_cfg *cfg, char *err, size_t errlen);
/* The port it listens on. */
int ctl_gpuopt_port(const ctl_gpuopt *g);
/* A Deployment (key: ctl_key.h) seen with model (NULL or "": not, or no
 * longer, a model's: dropped) and floor min_replicas. For callers without
 * list_store. */
void ctl_gpuopt_deployment(ctl_gpuopt *g, const char *key, const char *model, int min_replicas);
/* 1 when host:port names AIBrix's optimizer Service (aibrix-gpu-optimizer,
 * .aibrix-system, .svc, .svc.cluster.local, port 8080): what `brix up`
 * sends to the local service instead. */
int ctl_gpuopt_is_service(const char *host, int port);
/* Stops; done(ud) (may be NULL) once everything is closed. NULL is fine. */
void ctl_gpuopt_close(ctl_gpuopt *g, void (*done)(void *ud), void *ud);

#endif
