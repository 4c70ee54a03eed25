/* ctl_orch: the orchestrator table, the plug-in point through which the
 * control plane makes engine replicas ("pods") exist. As with libuv's
 * handle types and Redis's tables of function pointers, every
 * implementation exports one ctl_orch_ops and embeds a struct ctl_orch as
 * the first member of its own state; the controllers call the thin
 * dispatch functions below and never learn where pods run. Each
 * implementation has its own init and config (ctl_orch_local.h); after
 * init they are all driven the same way.
 *
 * What an orchestrator does:
 *   apply     makes `replicas` (0..CTL_MAX_REPLICAS) copies of a
 *             Deployment's pod template exist: missing indexes
 *             0..replicas-1 start, indexes >= replicas drain and stop
 *             (highest first). When the template changed (command, args,
 *             env, model, labels) pods are replaced one index at a time: the
 *             new one starts beside the old, which drains once the new one
 *             is Ready. Other changes (probe, timeouts, grace) apply to the
 *             running pods.
 *   adopt     at startup: takes over what a previous run left for this
 *             Deployment, then reconciles as apply does.
 *   remove    drains and stops every replica of a Deployment, including
 *             one this orchestrator never tracked.
 *   pods      a snapshot of the live replicas (Gone excluded) with phase,
 *             readiness and address (ctl_podview.h: host + port, url).
 *   get_stats counters.
 *   track     (optional) the scale targets the autoscalers name
 *             (ctl_target.h), the whole set each time; an orchestrator that
 *             scales kinds other than Deployment starts following the new
 *             ones (their replicas through on_replicas-like reports of its
 *             own config, their pods' `deployment` becomes the target's
 *             key) and drops the others. NULL: Deployments only (local).
 *   scale     (optional) sets a target's replicas by its key (ctl_target.h:
 *             a Deployment's name, or Kind.group/name). NULL: not
 *             available (local mode scales through apply).
 *   close     stop_pods 1: drains and stops every replica (graceful
 *             shutdown); 0: leaves them for the next run's adopt. `done`
 *             runs from the loop once everything is closed, after which
 *             the orchestrator is freed; other calls after close fail.
 *
 * It calls back (ctl_orch_cbs, all on the loop): on_change on every phase
 * change; inflight while a pod drains (it stops once that says 0, or after
 * the grace period); on_event for each event (Started, Ready, Adopted,
 * Exited, Restarting, Unhealthy, Draining, Stopped, Killed, FailedStart)
 * under ("Deployment", <name>), which the caller records in its object
 * store. Implementations raise them through ctl_orch_changed,
 * ctl_orch_inflight and ctl_orch_event, so that the words and the log
 * lines are the same for every backend.
 *
 * Implementations, one file each (docs/architecture.md):
 *   local       ctl_orch_local.c: child processes on this machine, pod rows
 *               in the ctl_store for adoption (docs/control-plane.md).
 *   kubernetes  ctl_orch_k8s.c: the API server (brix controller). The
 *               cluster runs the pods: pods come from a Pod watch (Ready
 *               condition, podIP, the model.aibrix.ai/port label), apply
 *               sets a Deployment's replicas through its /scale
 *               subresource, adopt and remove are no-ops, close leaves
 *               everything as it is (ctl_orch_k8s.h). Still to do: apply
 *               of a template (create or patch the Deployment) and the
 *               drain before a scale-down (pod-deletion-cost).
 *
 * Threads: one loop; nothing blocks. Ownership: an orchestrator copies
 * what it keeps of the objects it is given (the caller keeps its ctl_obj).
 * Views handed to callbacks or filled by ctl_orch_pods point into the
 * orchestrator and are valid until control returns to the loop (copy what
 * you keep). */
#ifndef CTL_ORCH_H
#define CTL_ORCH_H

#include <stddef.h>
#include <stdint.h>

#include "ctl/ctl_obj.h"
#include "ctl/ctl_podview.h"
#include "ctl/ctl_objstore.h" /* ctl_event_type */
#include "ctl/ctl_target.h"

#define CTL_ORCH_EVENT_KIND "Deployment"

typedef struct ctl_orch ctl_orch;

typedef struct ctl_orch_cbs {
    /* Every phase change. `brix up` adds the engine to the gateway on
     * Ready, stops routing to it on Draining, removes it on Stopping,
     * Backoff and Gone. May call ctl_orch_pods/apply/remove. */
    void (*on_change)(void *ud, const ctl_podview *pod);
    /* Requests in flight at the gateway for this pod; a Draining pod is
     * stopped when this returns 0 (or after its grace). NULL: 0. */
    int (*inflight)(void *ud, const ctl_podview *pod);
    /* One event about a Deployment (kind "Deployment", name its name); the
     * message names the pod ("pod <name>: ..."). Strings valid for the
     * call only. NULL: events are only logged. */
    void (*on_event)(void *ud, const char *kind, const char *name, ctl_event_type type,
                     const char *reason, const char *message);
} ctl_orch_cbs;

typedef struct ctl_orch_stats {
    uint64_t spawns;   /* pods launched */
    uint64_t restarts; /* of them, relaunches after an exit or a failure */
    uint64_t adopted;  /* pods taken over from a previous run */
    uint64_t killed;   /* forced stops after a grace period */
    size_t pods;       /* pods tracked now */
} ctl_orch_stats;

/* The table each implementation exports; every entry but track and scale
 * is required. The contracts are those of the dispatch functions below. */
typedef struct ctl_orch_ops {
    const char *name; /* "local", ... */
    int (*apply)(ctl_orch *o, const ctl_obj *deployment, int replicas, char *err, size_t errlen);
    int (*adopt)(ctl_orch *o, const ctl_obj *deployment, int replicas, char *err, size_t errlen);
    int (*remove)(ctl_orch *o, const char *deployment, char *err, size_t errlen);
    size_t (*pods)(ctl_orch *o, const char *deployment, ctl_podview *out, size_t max);
    void (*get_stats)(const ctl_orch *o, ctl_orch_stats *out);
    void (*close)(ctl_orch *o, int stop_pods, void (*done)(void *ud), void *ud);
    /* optional (NULL: not supported) */
    void (*track)(ctl_orch *o, const ctl_target *targets, size_t n);
    int (*scale)(ctl_orch *o, const char *key, int replicas, char *err, size_t errlen);
} ctl_orch_ops;

/* The part every implementation shares; the first member of its state. */
struct ctl_orch {
    const ctl_orch_ops *ops;
    ctl_orch_cbs cbs;
    void *ud;
};

/* "local", ... */
const char *ctl_orch_name(const ctl_orch *o);

/* Reconciles a Deployment to `replicas`. 0, or -1 with a message (not a
 * Deployment, replicas out of range, out of memory, closing). */
int ctl_orch_apply(ctl_orch *o, const ctl_obj *deployment, int replicas, char *err, size_t errlen);

/* Takes over what a previous run left of this Deployment, then reconciles
 * to `replicas` as ctl_orch_apply does. 0 or -1. */
int ctl_orch_adopt(ctl_orch *o, const ctl_obj *deployment, int replicas, char *err, size_t errlen);

/* Drains and stops every replica of the named Deployment. 0 or -1 (bad
 * name, closing). */
int ctl_orch_remove(ctl_orch *o, const char *deployment, char *err, size_t errlen);

/* Snapshot of the live pods of one deployment (NULL: all), in deployment
 * then replica order. Fills up to max views (out may be NULL with max 0)
 * and returns how many there are. */
size_t ctl_orch_pods(ctl_orch *o, const char *deployment, ctl_podview *out, size_t max);

void ctl_orch_get_stats(const ctl_orch *o, ctl_orch_stats *out);

/* The scale targets every autoscaler names (all of them, each time; the
 * same target may repeat). A no-op where track is NULL. */
void ctl_orch_track(ctl_orch *o, const ctl_target *targets, size_t n);

/* Sets the replicas of the target with this key. 0 (sent), or -1 with a
 * message (not supported here, unknown or unresolved target, closing). */
int ctl_orch_scale(ctl_orch *o, const char *key, int replicas, char *err, size_t errlen);

/* Shuts the orchestrator down (see above); o NULL is a no-op. */
void ctl_orch_close(ctl_orch *o, int stop_pods, void (*done)(void *ud), void *ud);

/* ---- for implementations ---- */

/* Fills the shared part; cbs may be NULL. */
void ctl_orch_base_init(ctl_orch *o, const ctl_orch_ops *ops, const ctl_orch_cbs *cbs, void *ud);

/* on_change(pod), when set. */
void ctl_orch_changed(ctl_orch *o, const ctl_podview *pod);

/* inflight(pod), or 0 when not set. */
int ctl_orch_inflight(ctl_orch *o, const ctl_podview *pod);

/* Logs "<reason> <deployment>: pod <pod>: <message>" (warn for Warning,
 * info for Normal) and hands the event to on_event under
 * ("Deployment", deployment). The message is cut at 767 bytes. */
void ctl_orch_event(ctl_orch *o, const char *deployment, const char *pod, ctl_event_type type,
                    const char *reason, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
