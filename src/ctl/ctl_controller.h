/* ctl_controller: `brix controller`, the controller manager of Kubernetes
 * mode (docs/kubernetes.md, "The controller"). It runs the same
 * controllers as `brix up` (ctl_lora: ModelAdapters; ctl_autoscale:
 * PodAutoscalers), unchanged, over the Kubernetes implementations of the
 * two backend tables: ctl_objstore_k8s (the CRs, their status, Events, the
 * adapter finalizer) and ctl_orch_k8s (Pods, Deployments' /scale).
 *
 * Lifecycle: the reflectors start at once (a standby replica keeps its
 * caches warm); the controllers start when this process leads (with
 * --leader-elect, a coordination.k8s.io/v1 Lease; otherwise at once) and
 * the caches have listed; a leader that loses the Lease closes them and
 * stops writing at once. /healthz answers 200 while the process runs,
 * /readyz once the caches have listed; /metrics (Prometheus text) on its own
 * port. SIGINT/SIGTERM: the controllers stop, the Lease is released, exit 0. */
#ifndef CTL_CONTROLLER_H
#define CTL_CONTROLLER_H

/* brix controller [flags]; argv[0] is "controller". Exit status. */
int ctl_controller_main(int argc, char **argv);

#endif
