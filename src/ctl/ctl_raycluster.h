/* ctl_raycluster: brix's local "KubeRay": the controller that runs KubeRay
 * RayCluster objects (ray.io/v1) of the object store as groups of local
 * engine processes, through the orchestrator table (ctl_orch.h), on the
 * controller skeleton (ctl_ctrl.h). `brix up` wires it (ctl_up.c).
 *
 *   members  a RayCluster runs as Deployments of the orchestrator, one per
 *            member, synthesized from the head template and each worker
 *            group's template (a Deployment document parsed with
 *            ctl_obj_parse, so commands, env, probes and --engine simulator
 *            work as for Deployments): "<cluster>-head", and one per worker
 *            host "<cluster>-<group>-worker-<k>" (k from 0; each worker
 *            needs its own BRIX_GROUP_RANK). Names longer than a key allows
 *            (or not DNS labels) are cut and get a hash suffix
 *            (ctl_raycluster_member_name). Pods carry KubeRay's labels
 *            ray.io/cluster, ray.io/node-type (head|worker), ray.io/group
 *            (headgroup|<groupName>), ray.io/is-ray-node=yes, plus the
 *            template's. The head gets BRIX_GROUP_SIZE = 1 + workers; the
 *            workers start once the head's pod has a port, with
 *            BRIX_GROUP_LEADER=http://127.0.0.1:<head port> and
 *            BRIX_GROUP_RANK=1.. (the engine group contract, docs/engine.md).
 *            A template without a command runs brix's engine (the head as a
 *            Deployment without command does; a worker `{brix} engine
 *            --port {port}`).
 *   unit     when any member exits, is restarted by a probe, or its pid
 *            changes, every member is stopped (ctl_orch_remove: drained)
 *            and, once all are gone, the group starts again from the head:
 *            RayClusterProvisioned is False meanwhile, and a Warning event
 *            GroupRestart on the RayCluster names the member and why (the
 *            orchestrator's last event about it). A spec change restarts the
 *            group the same way (Normal event SpecChanged). Member pods never
 *            come back one by one.
 *   delete   a deleted RayCluster's members are all removed (drained: the
 *            gateway stops routing to the head first).
 *   status   KubeRay's shape (ctl_raycluster_status): state "ready" (else
 *            absent; "suspended" under spec.suspend), desired/ready/available
 *            WorkerReplicas, head{podIP, podName}, observedGeneration,
 *            conditions RayClusterProvisioned and HeadPodReady with
 *            lastTransitionTime; written only when it changed (the skeleton).
 *   events   the orchestrator's events about members (kind Deployment,
 *            name a member) are recorded under the RayCluster instead
 *            (ctl_raycluster_member_event), as KubeRay's pods' events are
 *            under their pods.
 *
 * Objects come from the store's watch: SYNC at start (adopt what a
 * previous `brix up --keep-engines` left: head first, then the workers on
 * the head's port), PUT (create, or restart on a spec change), DELETE.
 * The spec is read from obj->raw by one function (ctl_raycluster_view_read)
 * until ctl_obj's typed view carries it.
 *
 * Threads: the loop's. Ownership: borrows the loop, the store and the
 * orchestrator (they outlive it); copies the objects it is given. */
#ifndef CTL_RAYCLUSTER_H
#define CTL_RAYCLUSTER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ctl/ctl_obj.h"
#include "ctl/ctl_objstore.h"
#include "ctl/ctl_orch.h"
#include "ctl/ctl_podview.h"

#define CTL_RAYCLUSTER_MAX 64         /* RayClusters one runner keeps */
#define CTL_RAYCLUSTER_MAX_GROUPS 16  /* worker groups of one cluster */
#define CTL_RAYCLUSTER_MAX_MEMBERS 64 /* head + workers of one cluster */

/* KubeRay's label keys */
#define CTL_RAY_LABEL_CLUSTER "ray.io/cluster"
#define CTL_RAY_LABEL_NODE_TYPE "ray.io/node-type"
#define CTL_RAY_LABEL_GROUP "ray.io/group"
#define CTL_RAY_LABEL_IS_NODE "ray.io/is-ray-node"
#define CTL_RAY_HEAD_GROUP "headgroup"

typedef struct ctl_raycluster_runner ctl_raycluster_runner; /* opaque */

/* 0 and *out, or -1 with a message. Watches the store's RayClusters. */
int ctl_raycluster_init(ctl_raycluster_runner **out, uv_loop_t *loop, ctl_objstore *store,
                        ctl_orch *orch, char *err, size_t errlen);

/* Something about the pods changed (brix up calls it on every snapshot):
 * a pass runs on the next loop turn. */
void ctl_raycluster_pods_changed(ctl_raycluster_runner *r);

/* An orchestrator event about Deployment `deployment`: 1 when it is a
 * member of a RayCluster (the event was recorded under the RayCluster),
 * 0 when not (the caller records it). Strings borrowed for the call. */
int ctl_raycluster_member_event(ctl_raycluster_runner *r, const char *deployment,
                                ctl_event_type type, const char *reason, const char *message);

/* 1 when a RayCluster this runner runs serves model (its pods may be
 * restarting: the gateway holds requests for it). */
int ctl_raycluster_serves(const ctl_raycluster_runner *r, const char *model);

/* Stops watching and passes; done(ud) (may be NULL) runs from the loop once
 * freed. The members are left to the orchestrator's close (stopped, or
 * kept with --keep-engines). */
void ctl_raycluster_close(ctl_raycluster_runner *r, void (*done)(void *ud), void *ud);

/* ---- pure parts (ctl_raycluster_doc.c), for the controller and tests ---- */

/* One group of the spec, as read (pointers borrowed from the object). */
typedef struct ctl_raycluster_grp {
    const char *name;       /* "headgroup" or groupName */
    int hosts;              /* pods: head 1; replicas (clamped to min/max) x numOfHosts */
    const json_t *template; /* the pod template {metadata, spec} */
    const json_t *params;   /* rayStartParams (NULL when absent) */
} ctl_raycluster_grp;

typedef struct ctl_raycluster_view {
    const char *model; /* the head template's model.aibrix.ai/name, else the RayCluster's */
    ctl_raycluster_grp head;
    ctl_raycluster_grp workers[CTL_RAYCLUSTER_MAX_GROUPS];
    size_t ngroups;
    int desired_workers; /* sum of the groups' hosts */
    int suspend;         /* spec.suspend */
} ctl_raycluster_view;

/* Reads a RayCluster's spec from o->raw into v (pointers into o). 0, or -1
 * with "spec.<field>: what is wrong" in err. */
int ctl_raycluster_view_read(const ctl_obj *o, ctl_raycluster_view *v, char *err, size_t errlen);

/* A member's Deployment key for cluster key `cluster` (ctl_key.h): suffix
 * "head" or "<group>-worker-<k>"; "<name>-<suffix>" when that is a valid
 * key part, else cut, with "-<8 hex of a hash of the whole>" (before the
 * "-<k>" of a worker). 0, or -1 when it cannot fit. */
int ctl_raycluster_member_name(const char *cluster, const char *group, int worker, char *out,
                               size_t outlen);

/* What one member runs. */
typedef struct ctl_raycluster_member_cfg {
    const char *key;             /* its Deployment key (ctl_raycluster_member_name) */
    const ctl_raycluster_grp *g; /* its group */
    int head;                    /* 1: the head */
    int rank;                    /* workers: 1..desired_workers */
    int group_size;              /* 1 + desired workers */
    int head_port;               /* workers: the head pod's port */
} ctl_raycluster_member_cfg;

/* The member's Deployment document (a new reference), synthesized from
 * cluster (the RayCluster object) and its view: metadata {name, namespace,
 * labels {model.aibrix.ai/name}, annotations: the RayCluster's brix.ai/
 * ones}, spec {replicas 1, template: the group's, with KubeRay's pod
 * labels over its own, containers[0].env plus the group variables, and for
 * a worker without command `{brix} engine --port {port}`}. NULL when out of
 * memory or the template is no mapping (err says). */
json_t *ctl_raycluster_member_doc(const ctl_obj *cluster, const ctl_raycluster_view *v,
                                  const ctl_raycluster_member_cfg *m, char *err, size_t errlen);

/* One condition as the runner keeps it: status -1 unset, 0 False, 1 True;
 * since_ms the Unix ms of its last transition. */
typedef struct ctl_raycluster_cond {
    int status;
    int64_t since_ms;
} ctl_raycluster_cond;

/* Sets c to status at now_ms (since_ms moves only when status changes). */
void ctl_raycluster_cond_set(ctl_raycluster_cond *c, int status, int64_t now_ms);

/* What the status says, from the runner's observation. */
typedef struct ctl_raycluster_obs {
    int desired_workers;
    int ready_workers;
    const char *head_pod; /* NULL: no head pod */
    int head_ready;
    int suspended;
    int64_t generation;
    ctl_raycluster_cond provisioned, head; /* as kept (cond_set first) */
    const char *prov_reason, *prov_message;
} ctl_raycluster_obs;

/* The status document (a new reference; NULL when out of memory). */
json_t *ctl_raycluster_status(const ctl_raycluster_obs *o);

#endif
