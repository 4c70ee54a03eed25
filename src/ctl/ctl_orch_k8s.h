/* ctl_orch_k8s: the "kubernetes" orchestrator (ctl_orch.h) over a
 * Kubernetes API server (src/k8s), for `brix controller`. The cluster runs
 * the pods (Deployments, ReplicaSets, kubelets); this orchestrator watches
 * them and scales Deployments, nothing more.
 *
 * Pods: a reflector on the namespace's Pods with the label selector
 * model.aibrix.ai/name, its cache cut down by k8s_pod_slim (labels, owners,
 * readiness, restarts: 10,000 pods fit in tens of MiB); which of them are engines, and their port,
 * is k8s_pod's rule, the gateway's too (Ray workers, StormService group members and bad port labels
 * are skipped). A pod becomes a ctl_podview: name        the pod's name deployment  the key
 * (ctl_target.h) of the first tracked scale target whose Scale status.selector selects the pod's
 * labels; else its Deployment: the owning ReplicaSet's name without the
 *               "-<pod-template-hash>" suffix (the Deployment controller's
 *               naming); else the controller owner's name; else the model
 *   model       label model.aibrix.ai/name
 *   host, port  status.podIP, label model.aibrix.ai/port (default 8000)
 *   url         http://host:port
 *   phase       Stopping with a deletionTimestamp; Ready when the Ready
 *               condition is True and it has a podIP; else Starting
 *   replica     its index among its Deployment's pods, by name
 *   restarts    containerStatuses[0].restartCount; pid 0
 *   ready_since the Ready condition's lastTransitionTime
 * Snapshots (ctl_orch_pods) are rebuilt lazily after a change, sorted by
 * deployment then name. on_change runs for every pod change once the first
 * list is done (before it, on_synced runs once instead); its view's replica
 * is the pod's index in the last snapshot (0 when it was not in it): the
 * snapshot is not rebuilt per event.
 *
 * Deployments: a second reflector (the namespace's apps/v1 Deployments)
 * reports spec.replicas through on_replicas, so the autoscaler knows the
 * current size.
 *
 * Other scale targets (track: the autoscalers' targets that are not
 * Deployments, e.g. apps/v1 StatefulSets, orchestration.aibrix.ai
 * RayClusterFleets and StormServices): ctl_orch_k8s_tgt.h resolves each
 * through API discovery (cached per group/version), watches its kind with
 * one reflector per kind (started by the first target of that kind) and
 * reads the target's Scale after each change of its object: spec.replicas
 * goes to on_replicas under the target's key, status.selector decides its
 * pods (above; every pod is reported again through on_change when a
 * selector changes). A kind without a scale subresource, one not served, or
 * a missing object goes to on_target_error. Deployments keep their own
 * path (every Deployment is watched; pods by ReplicaSet owner), which
 * needs no Scale read.
 *
 * Operations:
 *   apply   merge-patches the Deployment's /scale spec.replicas (only the
 *           name of the ctl_obj is read: a Deployment ctl_obj made of a
 *           name is enough); the cluster starts and stops the pods.
 *   scale   the same by key: a tracked target's /scale (once resolved, not
 *           in error), else the Deployment of that name.
 *   track   the set of targets (ctl_orch_k8s_tgt_set).
 *   adopt   a no-op (the pods belong to the cluster; nothing to take over).
 *   remove  a no-op: the Deployments are the user's (kubectl delete).
 *   close   stop_pods is ignored (nothing is scaled down on exit); the
 *           reflectors stop, reads and writes in flight are cancelled; done
 *           runs from the loop.
 * No events are raised (the cluster's controllers write their own).
 *
 * Threads and ownership: the client's loop; the client is borrowed (close
 * the orchestrator first). */
#ifndef CTL_ORCH_K8S_H
#define CTL_ORCH_K8S_H

#include "ctl/ctl_orch.h"
#include "k8s/k8s_client.h"
#include "k8s/k8s_pod.h"

#define CTL_K8S_LABEL_PORT K8S_POD_LABEL_PORT
#define CTL_K8S_DEFAULT_PORT K8S_POD_DEFAULT_PORT

typedef struct ctl_orch_k8s_cfg {
    const char *ns; /* the namespace watched (required; copied) */
    /* A Deployment's spec.replicas as the cluster has it (on every change;
     * model: its model.aibrix.ai/name label or NULL). May be NULL. */
    void (*on_replicas)(void *ud, const char *deployment, const char *model, int replicas);
    /* Every Deployment added or updated (dep: the object, valid for the
     * call) and deleted (dep NULL), e.g. for its labels (the GPU
     * optimizer's model.aibrix.ai/min_replicas). May be NULL. */
    void (*on_deployment)(void *ud, const char *deployment, const json_t *dep);
    /* Once, when pods and Deployments have been listed. May be NULL. */
    void (*on_synced)(void *ud);
    /* A scale target other than a Deployment (track) cannot be scaled:
     * reason (FailedGetScale) and message, or no longer (reason NULL).
     * on_replicas reports such targets' replicas too, by key. May be NULL. */
    void (*on_target_error)(void *ud, const char *key, const char *reason, const char *message);
} ctl_orch_k8s_cfg;

/* 0 and *out (its reflectors started), or -1. cbs and ud as ctl_orch's. */
int ctl_orch_k8s_init(ctl_orch **out, k8s_client *c, const ctl_orch_k8s_cfg *cfg,
                      const ctl_orch_cbs *cbs, void *ud, char *err, size_t errlen);
/* 1 when o is this implementation and both reflectors listed once. */
int ctl_orch_k8s_synced(const ctl_orch *o);
/* Scale requests sent (apply, scale). */
unsigned long ctl_orch_k8s_scales(const ctl_orch *o);
/* GETs of discovery and of targets' Scales (track). */
unsigned long ctl_orch_k8s_target_reads(const ctl_orch *o);

/* ---- pure helpers (unit-tested) ---- */

/* The Deployment a pod belongs to (rules above) into buf; 0, or -1 when
 * none can be told. */
int ctl_orch_k8s_pod_deployment(const json_t *pod, char *buf, size_t cap);

#endif
