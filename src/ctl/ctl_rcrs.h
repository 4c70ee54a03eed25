/* ctl_rcrs: the RayClusterReplicaSet controller (AIBrix's
 * pkg/controller/rayclusterreplicaset, which copies Kubernetes' ReplicaSet
 * controller with a KubeRay RayCluster in place of a Pod). For every
 * RayClusterReplicaSet in the object store it keeps spec.replicas active
 * RayClusters that it owns, and writes the replica set's status from them:
 *
 *   owned     RayClusters whose controller owner reference names the replica
 *             set (ctl_owner.h). RayClusters whose owning replica set is gone
 *             are deleted (the API server's garbage collector does the same).
 *   active    not being deleted, and either still initialising (not yet
 *             RayClusterProvisioned) or Ready. Ready is KubeRay's:
 *             RayClusterProvisioned and HeadPodReady True and
 *             readyWorkerReplicas == desiredWorkerReplicas.
 *   failed    provisioned and no longer Ready: deleted (and so replaced).
 *             AIBrix leaves such a cluster running for ever while it makes
 *             a replacement (lora_fleet_hetero.md §2.5, observation).
 *   scale up  creates the missing RayClusters, named "<replica set>-<5
 *             random characters>" (Kubernetes' generateName alphabet), with
 *             the template's labels, annotations and spec and a controller
 *             owner reference.
 *   scale down deletes the surplus in Kubernetes' order: not ready first,
 *             then the lower controller.kubernetes.io/pod-deletion-cost
 *             annotation, then the older, then by name.
 *   status   {replicas, fullyLabeledReplicas, readyReplicas,
 *             availableReplicas (Ready for at least spec.minReadySeconds,
 *             counted from the later of the RayClusterProvisioned and
 *             HeadPodReady transitions), observedGeneration, conditions
 *             [ReplicaFailure while a create or delete fails]}, written only
 *             when it changed.
 *
 * Expectations (Kubernetes' name for them): after creating or deleting, a
 * replica set is not scaled again until the store shows what was done (or
 * 5 minutes passed), so a store whose reads lag its writes (an API server's
 * watch cache) gets no duplicate clusters.
 *
 * It runs on the controller skeleton (ctl_ctrl.h): a pass on every change of
 * a replica set, of a RayCluster, and of a RayCluster's status (a status
 * watcher), at the time a cluster becomes available, and every 10 s. It
 * reads and writes only the object store, so the same code runs in `brix up`
 * (RayClusters run by ctl_raycluster, locally) and in `brix controller`
 * (RayClusters run by KubeRay).
 *
 * Ownership: borrows the loop and the store (both outlive it). */
#ifndef CTL_RCRS_H
#define CTL_RCRS_H

#include <stddef.h>
#include <uv.h>

#include "ctl/ctl_objstore.h"

#define CTL_RCRS_MAX 128          /* replica sets one controller tracks */
#define CTL_RCRS_BURST 10         /* creates or deletes per replica set per pass */
#define CTL_RCRS_EXPECT_MS 300000 /* expectations time out after 5 minutes */

typedef struct ctl_rcrs ctl_rcrs; /* opaque */

/* 0 and *out, or -1 with a message. Watches RayClusterReplicaSets and
 * RayClusters. */
int ctl_rcrs_init(ctl_rcrs **out, uv_loop_t *loop, ctl_objstore *store, char *err, size_t errlen);

/* Stops; done(ud) (may be NULL) runs from the loop once it is freed. The
 * RayClusters are left as they are. */
void ctl_rcrs_close(ctl_rcrs *r, void (*done)(void *ud), void *ud);

#endif
