/* ctl_up: `brix up -f stack.yaml`, the local stack in one process on one
 * libuv loop: the gateway (embedded, gw_gateway), the admin API (ctl_api),
 * the engine orchestrator (ctl_orch: local processes), the Deployment
 * controller (ctl_deploy), the RayCluster runner (ctl_raycluster), the
 * adapter controller (ctl_lora) and the autoscaler (ctl_autoscale), over
 * one object store (ctl_objstore, its
 * "sqlite" implementation).
 *
 * ctl_up wires them together and owns nothing else:
 * - objects from -f files and from the admin API go to the store; each
 *   controller learns of its kind from the store's watch (Deployment ->
 *   ctl_deploy -> orchestrator, RayCluster -> ctl_raycluster ->
 *   orchestrator, ModelAdapter -> adapter controller, PodAutoscaler ->
 *   autoscaler); the stored ones are replayed at start (ctl_objstore_sync),
 *   Deployments first, then RayClusters;
 * - every pod change updates the gateway's engine set (Ready pods only,
 *   RayCluster workers, ray.io/node-type=worker, never: heads serve),
 *   the adapter controller's and the autoscaler's views, and the
 *   Deployment's status (replicas, readyReplicas, conditions);
 * - the orchestrator's events go to the store under their Deployment, or,
 *   for a RayCluster's member, under the RayCluster;
 * - draining asks the gateway for the pod's requests in flight;
 * - a loaded adapter makes the gateway re-read that engine's models;
 * - a request for a model with no ready engine is held by the gateway and
 *   wakes the model's autoscaler (scale from zero);
 * - an autoscaler's decision sets the Deployment's replicas (kept in its
 *   status as autoscaledReplicas, so a restart resumes at that size).
 *
 * Restart: a new `brix up` on the same state directory adopts the engines a
 * previous one left running (--keep-engines, or a crash) and restarts the
 * rest; objects, adapters' status and autoscaled sizes come from the store.
 * SIGINT/SIGTERM stop the stack gracefully: engines are drained and
 * stopped unless --keep-engines. */
#ifndef CTL_UP_H
#define CTL_UP_H

/* argv[0] = "up". Returns the process exit code. */
int ctl_up_main(int argc, char **argv);

#endif
