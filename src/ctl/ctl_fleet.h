/* ctl_fleet: the RayClusterFleet controller (AIBrix's
 * pkg/controller/rayclusterfleet, a port of Kubernetes' Deployment
 * controller with RayClusterReplicaSets in place of ReplicaSets). For every
 * RayClusterFleet in the object store, each pass:
 *
 *   1. lists the replica sets it owns (controller owner reference) and the
 *      RayClusters (Recreate waits for the old ones to go);
 *   2. paused: proportional scaling only (Progressing: DeploymentPaused);
 *   3. annotation deprecated.deployment.rollback.to: copies the template of
 *      that revision (0: the previous one) back into the fleet;
 *   4. a scaling event (an active replica set's desired-replicas annotation
 *      differs from the replicas wanted): proportional scaling;
 *   5. else one step of the strategy: RollingUpdate (maxSurge,
 *      maxUnavailable) or Recreate; the arithmetic is ctl_rollout's.
 *   Then old replica sets beyond revisionHistoryLimit go once the rollout is
 *   complete, and the status is written: observedGeneration, replicas,
 *   updatedReplicas, readyReplicas, availableReplicas, unavailableReplicas,
 *   conditions Available / Progressing (NewReplicaSetCreated,
 *   FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable,
 *   ProgressDeadlineExceeded, DeploymentPaused, DeploymentResumed) /
 *   ReplicaFailure, collisionCount, and scalingTargetSelector
 *   "orchestration.aibrix.ai/raycluster-fleet-name=<fleet>,ray.io/node-type=head"
 *   (the scale subresource's selector: autoscalers count head pods).
 *
 * A new replica set is "<fleet>-<hash>" (ctl_rollout_template_hash of the
 * template and status.collisionCount), carrying the label
 * pod-template-hash=<hash> on itself, its selector and its RayClusters'
 * template, the fleet-name label on the head and every worker pod
 * template, the revision (max + 1) and the desired-replicas / max-replicas
 * annotations. A name taken by a replica set with another template is a
 * collision: collisionCount grows and the next pass hashes again.
 * A fleet with no strategy type rolls as RollingUpdate with 25%/25% (AIBrix
 * creates nothing then: lora_fleet_hetero.md §2.2).
 *
 * Autoscaling, locally: ctl_fleet_scale sets the replicas wanted while a
 * PodAutoscaler targets the fleet (kept in status.autoscaledReplicas, so a
 * restart resumes at that size, as ctl_deploy does for Deployments). On
 * Kubernetes the autoscaler writes spec.replicas (the scale subresource).
 *
 * It runs on the controller skeleton (ctl_ctrl.h): a pass on a change of a
 * fleet, of a replica set or its status (a status watcher), and every 10 s
 * (the progress deadline); it reads and writes only the object store, so
 * the same code runs in `brix up` and in `brix controller`.
 *
 * Ownership: borrows the loop and the store (both outlive it). */
#ifndef CTL_FLEET_H
#define CTL_FLEET_H

#include <stddef.h>
#include <uv.h>

#include "ctl/ctl_objstore.h"

#define CTL_FLEET_MAX 64    /* fleets one controller scales by an autoscaler */
#define CTL_FLEET_MAX_RS 64 /* replica sets of one fleet it looks at */
#define CTL_FLEET_SELECTOR_HEAD "ray.io/node-type=head"

typedef struct ctl_fleet_ctl ctl_fleet_ctl; /* opaque */

/* 0 and *out, or -1 with a message. Watches RayClusterFleets and
 * RayClusterReplicaSets. local_scale 1 (brix up): an autoscaler's decisions
 * come through ctl_fleet_scale; 0 (brix controller): autoscalers write the
 * fleet's spec.replicas through its scale subresource, as AIBrix's do, and
 * ctl_fleet_scale is not used. */
int ctl_fleet_init(ctl_fleet_ctl **out, uv_loop_t *loop, ctl_objstore *store, int local_scale,
                   char *err, size_t errlen);

/* An autoscaler's decision: the fleet (its key) runs `replicas`
 * RayClusters from now on. 0, or -1 when out of room. */
int ctl_fleet_scale(ctl_fleet_ctl *f, const char *fleet, int replicas, const char *reason);

/* Stops; done(ud) (may be NULL) runs from the loop once it is freed. The
 * replica sets are left as they are. */
void ctl_fleet_close(ctl_fleet_ctl *f, void (*done)(void *ud), void *ud);

#endif
