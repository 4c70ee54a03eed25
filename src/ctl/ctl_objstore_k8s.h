/* ctl_objstore_k8s: the "kubernetes" object store (ctl_objstore.h) over a
 * Kubernetes API server (src/k8s): AIBrix's ModelAdapters
 * (model.aibrix.ai/v1alpha1 modeladapters), PodAutoscalers
 * (autoscaling.aibrix.ai/v1alpha1 podautoscalers), RayClusterFleets and
 * RayClusterReplicaSets (orchestration.aibrix.ai/v1alpha1 rayclusterfleets,
 * rayclusterreplicasets) and KubeRay's RayClusters (ray.io/v1 rayclusters)
 * of one namespace.
 *
 * Optional kinds. The last three need CRDs that a cluster without fleets
 * may lack (KubeRay's RayCluster comes with the KubeRay operator): while
 * their LIST answers 404 (or 403: RBAC without them) the kind counts as
 * synced and empty, its reflector keeps trying with its backoff, and once
 * the CRD is installed its objects arrive as PUT notifications.
 *
 * Reads. A reflector per kind (LIST + WATCH, k8s_reflector.h) keeps the
 * objects; get and list answer from those caches (no API read at steady
 * state). A record's object is the manifest: the CR without status and
 * with only name, namespace, labels and annotations left of its metadata;
 * its status is the CR's status ({} when none); generation is
 * metadata.generation; created_ms and updated_ms come from
 * creationTimestamp. An object being deleted (deletionTimestamp set) is
 * not found and not listed.
 *
 * A record's object keeps metadata.ownerReferences too (the RayClusters
 * of a RayClusterReplicaSet are found by their controller reference).
 *
 * Watch. The reflectors' changes are filtered as the sqlite store's puts
 * are: CTL_WATCH_PUT when an object appears or its metadata.generation
 * changes (a status or metadata write changes neither, so a controller
 * writing its own status does not wake itself), CTL_WATCH_DELETE when it
 * gets a deletionTimestamp or, without one, goes away. An object first
 * seen while being deleted is reported as PUT then DELETE, so the
 * controller learns it before removing it. The status watchers
 * (ctl_objstore_watch_status) get CTL_WATCH_STATUS when a watch event (or
 * a relist) shows an object, not being deleted, whose status differs from
 * the cached one: whoever wrote it (this process, another, KubeRay).
 *
 * Names. The controllers key objects by metadata.name, a DNS label that
 * ctl_obj checks; so one store serves one namespace (opts.ns). Watching
 * every namespace needs a namespace in ctl_obj/ctl_record (keys
 * "ns/name" do not fit ctl_obj's DNS-label names): not done yet.
 *
 * All writes wait for a 0 ms timer: the reflectors' callbacks run inside
 * libcurl's, where no request may be started.
 *
 * Writes, only while active (ctl_objstore_k8s_set_active: the process
 * leads; otherwise set_status, put and delete fail with "not leading" and
 * events are dropped). All are asynchronous: the call returns 0 once the
 * request is queued and a failure is logged. A status write that failed
 * for a passing reason (no answer, 429, 5xx) is queued again unless a newer
 * one waits, and goes after a backoff (1 s doubling to 60 s per object;
 * ctl_objstore_k8s_retry_ms): the skeleton writes a status only when it
 * changes, so a lost write would otherwise stay lost. Other failures (a 422
 * the schema refused) are logged and dropped: the next change writes.
 *   put         ModelAdapter, PodAutoscaler: create (POST) or merge-patch
 *               of labels, annotations, spec. The other kinds: create
 *               (POST; 409 AlreadyExists, when the cache was behind, turns
 *               into the update) or update: GET, then PUT with its
 *               resourceVersion of the object with labels, annotations,
 *               ownerReferences and spec as put (a spec that is a subset
 *               of the server's, which adds CRD defaults, is left alone:
 *               no write; a spec field only removed is therefore not
 *               sent until another change), retried on 409 Conflict
 *               (k8s_update_retry); one update per object at a time, the
 *               latest put waiting. Each ownerReference naming a kind of
 *               this store gets the uid of that owner as cached (the
 *               controllers know names, not uids; the garbage collector
 *               deletes a dependent whose owner uid does not exist): a put
 *               whose owner is not cached fails;
 *   del         DELETE;
 *   set_status  a JSON patch {"op":"add","path":"/status"} of the /status
 *               subresource with the status mapped to AIBrix's schema
 *               (ctl_objstore_k8s_status), conditions keeping their
 *               lastTransitionTime while their status holds
 *               (ctl_objstore_k8s_keep_transitions); nothing is sent when the cached
 *               status is equal (no write at steady state, even after a
 *               handover). Until the watch shows the resourceVersion of the
 *               last status written, the comparison is with that status, not
 *               the older cache (else a status equal to the old one, written
 *               right after another, was dropped: A, then B, then A again
 *               left B). Writes of one object go one at a time, in order
 *               (a newer status waiting replaces an older one);
 *   event       a core/v1 Event through k8s_event (aggregated there);
 *   events      reads nothing: returns no events (read them with kubectl).
 *
 * Finalizer adapter.model.aibrix.ai/finalizer on ModelAdapters. While
 * active: every ModelAdapter seen without it (and not being deleted) gets
 * it (a PUT with the resourceVersion, retried on 409: k8s_update_retry).
 * When one carrying it gets a deletionTimestamp, the store notifies DELETE
 * (ctl_lora then unloads it from every pod) and keeps the name pending;
 * every 200 ms it asks opts.released(kind, name) whether the controller has
 * let go (brix controller answers !ctl_lora_has) and then removes the
 * finalizer, after which the API server deletes the object. Becoming active
 * (a new leader) takes over the adapters being deleted the same way.
 *
 * Threads and ownership: the client's loop. The client and recorder are
 * borrowed (close the store first). ctl_objstore_close cancels what is in
 * flight (no callback after it). */
#ifndef CTL_OBJSTORE_K8S_H
#define CTL_OBJSTORE_K8S_H

#include "ctl/ctl_objstore.h"
#include "k8s/k8s_client.h"
#include "k8s/k8s_event.h"

#define CTL_K8S_ADAPTER_FINALIZER "adapter.model.aibrix.ai/finalizer"

typedef struct ctl_objstore_k8s_opts {
    const char *ns; /* the namespace watched and written (required; copied) */
    /* 1 once the controllers let go of a deleted object (its finalizer may
     * go). NULL: at once. */
    int (*released)(void *ud, ctl_kind kind, const char *name);
    /* Once, when every reflector has listed the first time. May be NULL. */
    void (*on_synced)(void *ud);
    /* After any change to a cached object of kind, status included (the
     * watchers hear only of new generations). Runs inside a reflector
     * callback: start no request there. May be NULL. */
    void (*on_object)(void *ud, ctl_kind kind);
    void *ud;
} ctl_objstore_k8s_opts;

/* Opens the store and starts its reflectors. 0 and *out, or -1. */
int ctl_objstore_k8s_open(k8s_client *c, k8s_recorder *rec, const ctl_objstore_k8s_opts *opts,
                          ctl_objstore **out, char *err, size_t errlen);
/* The cache of kind as the API server has it: "ns/name" -> the CR, uid,
 * status and objects being deleted included (borrowed, read-only, valid
 * until the loop runs again). NULL when st is not this implementation. */
const json_t *ctl_objstore_k8s_cache(const ctl_objstore *st, ctl_kind kind);
/* 1 when st is this implementation and every reflector has listed once. */
int ctl_objstore_k8s_synced(const ctl_objstore *st);
/* 1: writes allowed (adds missing finalizers and takes over deletions now);
 * 0: writes stop at once (what is in flight is cancelled). */
void ctl_objstore_k8s_set_active(ctl_objstore *st, int active);

typedef struct ctl_objstore_k8s_stats {
    unsigned long status_writes, status_skipped; /* skipped: equal to the cached one */
    unsigned long status_retries;                /* failed writes queued again */
    unsigned long finalizers_added, finalizers_removed;
    unsigned long notify_put, notify_delete;
    unsigned long notify_status; /* CTL_WATCH_STATUS notifications */
    unsigned long updates;       /* updates (GET + PUT) sent by put */
} ctl_objstore_k8s_stats;
void ctl_objstore_k8s_get_stats(const ctl_objstore *st, ctl_objstore_k8s_stats *out);

/* ---- pure helpers (unit-tested) ---- */

/* The manifest of a CR: a new object without status and with only name,
 * namespace, labels and annotations left of metadata. NULL on OOM. */
json_t *ctl_objstore_k8s_manifest(const json_t *cr);
/* 1 when the CR's metadata.finalizers holds name. */
int ctl_objstore_k8s_has_finalizer(const json_t *cr, const char *name);
/* The status written for a controller's: only the fields AIBrix's CRD
 * schema has (the API server would prune the others: ModelAdapter phase,
 * candidates, desiredReplicas, readyReplicas, instances, conditions;
 * PodAutoscaler lastScaleTime, desiredScale, actualScale, conditions,
 * scalingHistory, scheduledBounds, predictive), and observedGeneration
 * (status.observedGeneration, else generation) in every condition lacking
 * one, where the schema keeps it. NULL on OOM. */
json_t *ctl_objstore_k8s_status(ctl_kind kind, const json_t *status, int64_t generation);
/* The same for the issue 17 kinds (ctl_objstore_k8s_status dispatches
 * here): RayClusterFleet observedGeneration, replicas, updatedReplicas,
 * readyReplicas, availableReplicas, unavailableReplicas, conditions (type,
 * status, lastUpdateTime, lastTransitionTime, reason, message),
 * collisionCount, scalingTargetSelector; RayClusterReplicaSet replicas,
 * fullyLabeledReplicas, readyReplicas, availableReplicas,
 * observedGeneration, conditions (type, status, lastTransitionTime,
 * reason, message); RayCluster: all of it (KubeRay's status is written by
 * KubeRay; its CRD keeps unknown fields). NULL for other kinds or OOM. */
json_t *ctl_objstore_k8s_status_orch(ctl_kind kind, const json_t *status);
/* 1 when every field of a is in b with an equal value, recursively into
 * objects and into arrays of the same length (b may carry more: the
 * defaults the API server adds). */
int ctl_objstore_k8s_subset(const json_t *a, const json_t *b);
/* An update's change: obj (the server's object) gets want's (a manifest)
 * metadata.labels, .annotations and .ownerReferences (absent in want:
 * removed) and want's spec unless want's spec is a subset of obj's. 0 when
 * obj changed, 1 when there is nothing to write, -1 on OOM. */
int ctl_objstore_k8s_apply(json_t *obj, const json_t *want);
/* Fills the uid of each of manifest's ownerReferences from the owner found
 * by lookup(kind, name, ud) (its object, borrowed; NULL: not known). A
 * reference whose owner lookup does not find keeps the uid it has (an
 * owner of a kind this store does not watch); without one the put fails.
 * 0, or -1 with err (an owner not found, a reference without kind or name,
 * OOM). */
int ctl_objstore_k8s_fill_owners(json_t *manifest,
                                 const json_t *(*lookup)(const char *kind, const char *name,
                                                         void *ud),
                                 void *ud, char *err, size_t errlen);
/* Kubernetes' rule for conditions: lastTransitionTime changes only when a
 * condition's status does. Each condition of status whose type is in cur
 * (the status on the server) with the same status gets cur's
 * lastTransitionTime (a controller restarted on another replica would
 * otherwise stamp every condition anew). Changes status in place. */
void ctl_objstore_k8s_keep_transitions(json_t *status, const json_t *cur);
/* The wait before a status write's next try after `fails` (>= 1) failures:
 * 1 s, 2 s, 4 s, ... up to 60 s. */
uint64_t ctl_objstore_k8s_retry_ms(unsigned fails);
/* RFC 3339 (creationTimestamp) -> Unix ms; 0 when it does not parse. */
int64_t ctl_objstore_k8s_time_ms(const char *ts);
/* What an update of old to obj means for the watchers: 0 nothing,
 * CTL_WATCH_PUT + 1 (a new generation), CTL_WATCH_DELETE + 1 (deletion
 * started). old NULL: a new object (PUT, or DELETE when being deleted). */
int ctl_objstore_k8s_change(const json_t *old, const json_t *obj);

#endif
