/* ctl_scale: the autoscaling controller of brix's local control plane. For
 * each PodAutoscaler (autoscaling.aibrix.ai/v1alpha1) it scrapes the Ready
 * engines of its target Deployment every tick (1 s), concurrently, keeps
 * the fleet totals in sliding windows (src/autoscale/as_window), asks the
 * strategy (as_decide: HPA, KPA or APA) for a size, and hands a change to
 * the caller (scale callback), writing status and events to the store.
 *
 * Metrics. `pod` sources: GET <engine url><path> (default /metrics), the
 * Prometheus text parsed by bx_prom_parse; targetMetric is a registry key
 * of AIBrix (num_requests_running, num_requests_waiting,
 * gpu_cache_usage_perc, kv_cache_usage_perc -> vllm:...) or a raw name;
 * all samples of the metric are summed per engine. The spec's port is not
 * used locally: each engine has its own allocated port. An engine whose
 * scrape fails is excluded, not counted as zero: the fleet total is the
 * mean of the engines that answered times the Ready engines. `external` /
 * `custom` sources ask the gateway_metric callback: gateway_inflight
 * (requests at the model's engines plus those held) and gateway_held
 * (requests held for a model with no ready engine). Requests held at the gateway are
 * also the activation signal that scales a model up from zero (wake).
 *
 * Status (store, kind PodAutoscaler): desiredScale, actualScale,
 * lastScaleTime, metrics {name: value}, reason, conditions [AbleToScale,
 * ScalingActive] with type/status/reason/message/lastTransitionTime.
 * Events: SuccessfulRescale ("New size: N; reason: ..."), FailedGetMetrics
 * (at most one a minute per autoscaler), InvalidSpec.
 *
 * Ownership: borrows the loop and the store; copies every object and view
 * it is given. Strategy state is kept in memory (a restart starts fresh;
 * the last size is kept by the caller in the Deployment's status). */
#ifndef CTL_SCALE_H
#define CTL_SCALE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ctl/ctl_obj.h"
#include "ctl/ctl_podview.h"
#include "ctl/ctl_store.h"

typedef struct ctl_scale ctl_scale; /* opaque */

typedef struct ctl_scale_cfg {
    uint64_t tick_ms;           /* scrape and decide every tick (1000) */
    uint64_t scrape_timeout_ms; /* one engine's /metrics (800) */
} ctl_scale_cfg;

void ctl_scale_cfg_default(ctl_scale_cfg *c);

typedef struct ctl_scale_cbs {
    /* Sets the deployment's replicas (the caller reconciles the engines). */
    void (*scale)(void *ud, const char *deployment, int replicas, const char *reason);
    /* A gateway-side value for the deployment's model: "gateway_held"
     * (requests waiting for an engine). 0, or -1 unknown. May be NULL. */
    int (*gateway_metric)(void *ud, const char *deployment, const char *metric, double *value);
} ctl_scale_cbs;

int ctl_scale_init(ctl_scale **out, uv_loop_t *loop, ctl_store *store, const ctl_scale_cfg *cfg,
                   const ctl_scale_cbs *cbs, void *ud, char *err, size_t errlen);
/* Creates or replaces the autoscaler named pa->name. An invalid spec is
 * kept as such: a Warning event and a status condition, no scaling.
 * 0, or -1 (invalid spec or not a PodAutoscaler). */
int ctl_scale_apply(ctl_scale *s, const ctl_obj *pa);
/* Forgets an autoscaler. 0, or 1 when unknown. */
int ctl_scale_remove(ctl_scale *s, const char *name);
/* The current engines (every change); views are copied. */
void ctl_scale_pods(ctl_scale *s, const ctl_podview *pods, size_t n);
/* The deployment's replicas as the caller applies them (decisions start
 * from this; also after a restart). */
void ctl_scale_set_current(ctl_scale *s, const char *deployment, int replicas);
/* A request waits for deployment (scale from zero): decide now. */
void ctl_scale_wake(ctl_scale *s, const char *deployment);
/* 1 when some autoscaler targets deployment. */
int ctl_scale_targets(const ctl_scale *s, const char *deployment);
/* Stops the timer, cancels scrapes, frees once its handles are closed
 * (the loop must keep running). */
void ctl_scale_close(ctl_scale *s);

#endif
