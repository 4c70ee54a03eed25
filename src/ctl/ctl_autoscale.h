/* ctl_autoscale: the autoscaling controller of brix's local control plane.
 * For each PodAutoscaler (autoscaling.aibrix.ai/v1alpha1) it scrapes the
 * Ready engines of its target Deployment every tick (default 1 s),
 * concurrently, adds the fleet total of each metric to a sliding window
 * (src/autoscale/as_window), asks the strategy for a size (as_decide: HPA,
 * KPA or APA), hands a change to the caller (scale callback: `brix up` sets
 * the Deployment's replicas and the orchestrator starts or drains engines),
 * and writes status and events to the object store (ctl_objstore). It runs
 * on the controller skeleton (ctl_ctrl), takes its autoscalers from the
 * store's watch (PodAutoscaler: created, changed, deleted, and replayed at
 * start) and knows nothing of SQLite or of how engines are started. Its
 * files are listed in ctl_autoscale_int.h.
 *
 * Metric sources (spec.metricsSources[]):
 *  - pod: GET http://<engine host:port><path> (path default /metrics; host
 *    and port from the engine's url). The spec's `port` and `protocolType`
 *    are ignored locally: every engine has its own allocated port. The body
 *    (at most CTL_AS_METRICS_MAX_BYTES) is parsed by bx_prom_parse.
 *    targetMetric is an AIBrix registry key (num_requests_running,
 *    num_requests_waiting, gpu_cache_usage_perc, kv_cache_usage_perc),
 *    translated by the pod label model.aibrix.ai/engine (default vllm:
 *    vllm:num_requests_running, ...; sglang: sglang:num_running_reqs, ...),
 *    or any raw metric name. Per engine the matching samples are summed (for
 *    the *_perc keys averaged: one value per engine). An engine whose scrape
 *    fails, answers non-200, does not parse or lacks the metric is EXCLUDED:
 *    the fleet total is the sum over the engines that answered, passed to
 *    as_decide with that count (never a 0 for the missing engine); when none
 *    answered nothing is added to the window. Failures raise a Warning
 *    FailedGetMetrics, at most one a minute per autoscaler.
 *  - external / domain with an endpoint: GET http://<endpoint>[:port]<path>
 *    (AIBrix's legacy fetcher), the metric summed over its samples, a global
 *    value (pods 0).
 *  - custom / external / domain without an endpoint: the gateway_metric
 *    callback with the target's model and targetMetric (e.g.
 *    "gateway_inflight"); a global value. -1 means no data this tick.
 *  - resource: not available locally (no data; FailedGetMetrics warning).
 *
 * Targets: spec.scaleTargetRef is named by its key (ctl_target.h): a
 * Deployment by its name, any other kind by Kind.group/name. Pod views'
 * `deployment`, ctl_as_set_current, ctl_as_wake, ctl_as_target_error and the
 * scale callback all speak in keys; what a key means to the cluster is the
 * orchestrator's business (ctl_orch.h track/scale).
 *
 * Schedules (spec.schedules, as_sched.h): the schedules' zone is loaded
 * from the tz database (bx_tz) when the object is applied (an unknown zone
 * makes the spec invalid); every round converts the wall clock (cbs.wall_ms
 * or the system's) to that zone, and as_decide uses the bounds of the first
 * active schedule. The round runs every tick (1 s), so a start or end of a
 * window takes effect within a tick; no separate timer. A change of the
 * active schedule is logged.
 *
 * Readiness: only Ready pods are scraped; `ready` is their count. The
 * current size is the Deployment's replicas as the caller last reported it
 * (ctl_as_set_current) or as this controller last set it; before either,
 * the pods that exist (Starting, Ready, Backoff).
 *
 * Scale from zero: when a request waits at the gateway for a model with no
 * ready engine, the caller calls ctl_as_wake(deployment): the autoscalers of
 * that deployment decide at once instead of at the next tick, with
 * waiting = max(1, gateway_metric(model, "gateway_waiting")), which as_decide
 * turns into activation-scale replicas when minReplicas is 0.
 *
 * Status (store, kind PodAutoscaler), written when it changes:
 *   {desiredScale, actualScale, readyReplicas, lastScaleTime (RFC 3339, once
 *    scaled), strategy, panic (KPA), reason (the decision's words),
 *    metrics: {<targetMetric>: stable-window fleet total},
 *    metricDetails: [{name, source, value, panicValue, target, pods,
 *                     recommended}],
 *    scrape: {pods, answered, failed: [pod names]},
 *    scheduledBounds: {activeSchedule (only while one is active),
 *                      effectiveMinReplicas, effectiveMaxReplicas} (AIBrix's,
 *                      also without schedules: the base bounds),
 *    conditions: [{type, status, reason, message, lastTransitionTime}]}
 * Conditions as AIBrix: ValidSpec, AbleToScale, ScalingActive (True
 * ReconcilingScaleDiff "desired=X, actual=Y" / False Stable), Ready, and
 * MultiPodAutoscalerConflict while another autoscaler (applied earlier)
 * already targets the same Deployment (that one scales; this one waits).
 * Events: Normal SuccessfulRescale "New size: N; reason: ...", Warning
 * InvalidSpec, FailedGetMetrics (rate-limited), FailedComputeScale,
 * FailedGetScale (ctl_as_target_error).
 *
 * Strategy state (as_state) and windows live in memory: a restart starts
 * them fresh (KPA then starts in panic when current > 1, so it does not
 * scale down at once). Re-applying an unchanged object keeps them; a changed
 * one starts fresh.
 *
 * Ownership: borrows the loop and the store (both must outlive the
 * controller); copies every object and pod view it is given; strings passed
 * to callbacks are valid only during the call. Callbacks are never called
 * from inside an API call (always from the loop), except that the store's
 * watch applies from inside a put. One loop, one thread. */
#ifndef CTL_AUTOSCALE_H
#define CTL_AUTOSCALE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "autoscale/as_policy.h"
#include "autoscale/as_spec.h"
#include "common/bx_tz.h"
#include "ctl/ctl_obj.h"
#include "ctl/ctl_podview.h"
#include "ctl/ctl_objstore.h"
#include "ctl/ctl_target.h"

#define CTL_AS_METRICS_MAX_BYTES (8u << 20) /* one /metrics body */
#define CTL_AS_WARN_INTERVAL_MS 60000       /* FailedGetMetrics: at most one a minute */

/* Gateway-side metric names (gateway_metric callback). */
#define CTL_AS_GW_WAITING "gateway_waiting"   /* requests held for an engine (activation) */
#define CTL_AS_GW_INFLIGHT "gateway_inflight" /* requests in flight for the model */

typedef struct ctl_as ctl_as; /* opaque */

typedef struct ctl_as_cfg {
    uint64_t tick_ms;           /* scrape and decide every tick: 1000 */
    uint64_t scrape_timeout_ms; /* one GET /metrics: 800 (0: tick_ms) */
} ctl_as_cfg;

void ctl_as_cfg_default(ctl_as_cfg *c);

typedef struct ctl_as_cbs {
    /* Applies a decision: set the target's replicas (deployment: its key,
     * ctl_target.h). Required. */
    void (*scale)(void *ud, const char *deployment, int replicas, const char *reason);
    /* A gateway-side value for model: CTL_AS_GW_WAITING, CTL_AS_GW_INFLIGHT
     * or a custom/external targetMetric. 0 with *value, or -1 (unknown).
     * May be NULL. */
    int (*gateway_metric)(void *ud, const char *model, const char *metric, double *value);
    /* The targets of every valid autoscaler (the whole set, after each
     * change; may repeat one), so that the caller can follow kinds other
     * than Deployment (ctl_orch_track). Strings valid for the call. May be
     * NULL. */
    void (*targets)(void *ud, const ctl_target *targets, size_t n);
    /* The wall clock (Unix ms) that spec.schedules are evaluated on; NULL:
     * the system's (CLOCK_REALTIME). For tests. */
    int64_t (*wall_ms)(void *ud);
    /* A domain/external metric source's endpoint host and port, before
     * the scrape: the callback may rewrite them in place (host has hlen
     * bytes), e.g. `brix up` sends AIBrix's optimizer Service
     * (aibrix-gpu-optimizer.aibrix-system...:8080) to its local optimizer.
     * May be NULL. */
    void (*endpoint)(void *ud, char *host, size_t hlen, int *port);
} ctl_as_cbs;

/* 0 and *out, or -1 with a message. cfg NULL = defaults. Watches the
 * store's PodAutoscalers. */
int ctl_as_init(ctl_as **out, uv_loop_t *loop, ctl_objstore *store, const ctl_as_cfg *cfg,
                const ctl_as_cbs *cbs, void *ud, char *err, size_t errlen);

/* as_spec_parse, plus the check that needs the system: the schedules' time
 * zone is in the tz database (bx_tz_load). With tz, the loaded zone is
 * handed over in *tz (NULL without schedules; the caller frees it with
 * bx_tz_free); NULL: it is only checked. 0, or -1 with a message naming the
 * field. What `brix apply` and ctl_as_apply both run. */
int ctl_as_spec_parse(const json_t *obj, as_spec *out, bx_tz **tz, char *err, size_t errlen);

/* Creates or replaces the autoscaler pa->name. An invalid spec (as_spec_parse)
 * is kept as invalid: Warning InvalidSpec, status condition ValidSpec False,
 * never scales; err gets the message. 0, or -1 (invalid spec, not a
 * PodAutoscaler, out of memory). */
int ctl_as_apply(ctl_as *a, const ctl_obj *pa, char *err, size_t errlen);
/* Forgets an autoscaler (scrapes in flight are dropped). 0, or 1 unknown. */
int ctl_as_remove(ctl_as *a, const char *name);
/* The latest snapshot of every engine (all deployments); copied. */
void ctl_as_pods(ctl_as *a, const ctl_podview *pods, size_t n);
/* The deployment's replicas as the caller applies them, and its served
 * model (NULL: keep the known one; the pods' model or the deployment name
 * otherwise). */
void ctl_as_set_current(ctl_as *a, const char *deployment, const char *model, int replicas);
/* The caller cannot scale the target with this key (e.g. its kind has no
 * scale subresource): reason (AIBrix's AbleToScale reason, e.g.
 * FailedGetScale) and message become its autoscalers' AbleToScale False
 * condition and a Warning event with that reason (once per new message),
 * and they do not scale; reason NULL clears it. An autoscaler applied
 * later learns it at its next round (and from the caller again: see
 * ctl_orch_k8s_tgt_set). */
void ctl_as_target_error(ctl_as *a, const char *key, const char *reason, const char *message);
/* A request waits at the gateway for deployment's model: decide now. */
void ctl_as_wake(ctl_as *a, const char *deployment);
/* 1 when some autoscaler targets deployment. */
int ctl_as_targets(const ctl_as *a, const char *deployment);

/* What one autoscaler last did (for the admin API and tests). */
typedef struct ctl_as_info {
    int valid;                     /* the spec parsed */
    int conflict;                  /* another autoscaler owns the target */
    uint64_t rounds;               /* scrape rounds finished */
    uint64_t decisions;            /* as_decide runs */
    uint64_t scales;               /* scale callbacks */
    int32_t current;               /* replicas at the last decision */
    int32_t desired;               /* its result */
    int32_t ready;                 /* ready pods then */
    uint32_t scraped;              /* pods scraped in the last round */
    uint32_t answered;             /* of those, pods that gave every pod metric */
    int has_data;                  /* the last decision had metric data */
    double value[AS_MAX_METRICS];  /* per metric: stable-window total at the last decision */
    uint32_t pods[AS_MAX_METRICS]; /* per metric: pods behind that total (0: global) */
    char reason[AS_REASON_LEN];
} ctl_as_info;

/* 0, or 1 unknown. */
int ctl_as_get_info(const ctl_as *a, const char *name, ctl_as_info *out);

/* Stops the timers and the watch, cancels scrapes; done(ud) (may be NULL)
 * runs from the loop once they came back and the controller is freed (the
 * loop must keep running). */
void ctl_as_close(ctl_as *a, void (*done)(void *ud), void *ud);

/* ---- pure helpers (no I/O; fuzzed) ---- */

/* The raw metric name for an AIBrix registry key and engine type ("vllm",
 * "sglang", "trtllm", "xllm"; NULL = vllm); any other name is returned as
 * is. */
const char *ctl_as_metric_name(const char *target_metric, const char *engine);
/* A /metrics body -> the engine's value of target_metric (registry key or
 * raw name, as above). 0 with *out, or -1 with a message (parse error,
 * limit, metric absent). */
int ctl_as_metric_value(const char *body, size_t len, const char *target_metric, const char *engine,
                        double *out, char *err, size_t errlen);

#endif
