/* ctl_deploy: the Deployment controller of brix's control plane. For every
 * Deployment in the object store it decides how many replicas should run,
 * has the orchestrator run them, and writes the Deployment's status from
 * the pods it sees:
 *
 *   desired  spec.replicas, or, while a PodAutoscaler targets the
 *            Deployment, the autoscaler's last decision (ctl_deploy_scale).
 *            A Deployment seen at start that is autoscaled starts at
 *            status.autoscaledReplicas (what the autoscaler last decided
 *            before a restart), so a restart resumes at that size.
 *   apply    the orchestrator makes that many replicas of the pod template
 *            exist (ctl_orch_apply; at start ctl_orch_adopt, which takes over
 *            the engines a previous `brix up` left running); a deleted
 *            Deployment's replicas are removed (ctl_orch_remove).
 *   status   {replicas, readyReplicas, availableReplicas, updatedReplicas,
 *            desiredReplicas, conditions: [Available], autoscaledReplicas
 *            (when autoscaled)}, from each pod snapshot (ctl_deploy_pods),
 *            written only when it changed (the skeleton's).
 *
 * Objects come from the store's watch: Deployments (SYNC at start: adopt;
 * PUT: apply; DELETE: remove) and PodAutoscalers (whether a Deployment is
 * autoscaled: one targets it by spec.scaleTargetRef.name). It runs on the
 * controller skeleton (ctl_ctrl) and knows nothing of SQLite or of how
 * replicas run: it calls the orchestrator table (ctl_orch.h: local
 * processes, or a Kubernetes backend). The gateway and the autoscaler
 * are reached through callbacks, which `brix up` wires.
 *
 * Ownership: borrows the loop, the store and the orchestrator (all outlive
 * the controller); copies every object it is given (re-parsed from raw).
 * Views filled by ctl_deploy_by_model point into the controller: valid
 * until its next call. Callbacks run on the loop thread; strings passed to
 * them are valid only during the call. */
#ifndef CTL_DEPLOY_H
#define CTL_DEPLOY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ctl/ctl_objstore.h"
#include "ctl/ctl_podview.h"
#include "ctl/ctl_orch.h"

#define CTL_DEPLOY_MAX 256 /* Deployments one controller keeps */

typedef struct ctl_deploy ctl_deploy; /* opaque */

typedef struct ctl_deploy_cbs {
    /* The routing strategy of a Deployment's model at the gateway
     * (strategy NULL: back to the default, when the Deployment goes). 0,
     * or -1 (logged). May be NULL. */
    int (*set_strategy)(void *ud, const char *model, const char *strategy);
    /* The replicas a Deployment was just applied with (the autoscaler's
     * current size). May be NULL. */
    void (*replicas)(void *ud, const char *deployment, const char *model, int replicas);
} ctl_deploy_cbs;

/* 0 and *out, or -1 with a message. Watches the store's Deployments and
 * PodAutoscalers; cbs may be NULL. */
int ctl_deploy_init(ctl_deploy **out, uv_loop_t *loop, ctl_objstore *store, ctl_orch *orch,
                    const ctl_deploy_cbs *cbs, void *ud, char *err, size_t errlen);

/* The latest snapshot of every pod (all deployments): each Deployment's
 * status. The views are borrowed for the call. */
void ctl_deploy_pods(ctl_deploy *d, const ctl_podview *pods, size_t n);

/* An autoscaler's decision: deployment runs `replicas` from now on (it is
 * autoscaled). Unknown deployments are ignored. */
void ctl_deploy_scale(ctl_deploy *d, const char *deployment, int replicas, const char *reason);

typedef struct ctl_deploy_info {
    const char *name;  /* the Deployment */
    const char *model; /* its served model */
    int replicas;      /* wanted now */
    int autoscaled;    /* a PodAutoscaler targets it */
} ctl_deploy_info;

/* The Deployment serving model: 0 and *out, or 1 when none. */
int ctl_deploy_by_model(const ctl_deploy *d, const char *model, ctl_deploy_info *out);

/* Requests/s routed to the engines of model's Deployment, from the
 * gateway's counter of requests routed to them (routed_total, read now):
 * the rate over the last second or more (0 until a second has passed; a
 * counter that went back, an engine leaving the set, gives 0). 0 and
 * *rate, or -1 when no Deployment serves model. */
int ctl_deploy_request_rate(ctl_deploy *d, const char *model, uint64_t routed_total, double *rate);

/* Stops watching; done(ud) (may be NULL) runs from the loop once the
 * controller is freed. The orchestrator is not touched (`brix up` closes
 * it: engines are stopped or kept there). */
void ctl_deploy_close(ctl_deploy *d, void (*done)(void *ud), void *ud);

#endif
