/* ctl_sup: the engine supervisor of brix's local control plane. It runs the
 * replicas ("pods") of Deployments as child processes on one libuv loop:
 * allocates their ports, launches them (uv_spawn, each in its own session
 * and process group, with a clean environment plus the deployment's env,
 * stdout/stderr appended to <log_dir>/<pod>.log), probes readiness over
 * HTTP, restarts them with exponential backoff when they exit or turn
 * unhealthy, drains them gracefully on scale-down (the gateway stops routing,
 * in-flight requests finish, then SIGTERM to the group, SIGKILL after the
 * grace period), replaces them one at a time when the command changes, and
 * adopts the ones a previous `brix up` left running.
 *
 * Phases (ctl_podview.h) and transitions:
 *   Starting -> Ready      the readiness probe (GET health_path) answered 200
 *   Starting -> Stopping   startup_timeout_s without readiness (Unhealthy)
 *   Ready    -> Stopping   failure_threshold consecutive probes failed
 *   Ready    -> Draining   scale-down, replacement Ready, remove, close
 *   Starting -> Stopping   scale-down etc. of a pod nobody routes to yet
 *   Draining -> Stopping   inflight() returned 0, or drain_grace_s passed
 *   Stopping -> Gone       exited after SIGTERM (or SIGKILL after grace)
 *   Stopping -> Backoff    exited, and a restart was wanted (Unhealthy)
 *   any live -> Backoff    unexpected exit (Exited event)
 *   Backoff  -> Starting   the backoff delay passed (restarts + 1)
 *   Backoff  -> Gone       no longer wanted
 * Every transition writes the pod row (state = phase name) and calls
 * on_change; Gone deletes the row. Events go to the store under
 * ("Deployment", <deployment>): Started, Ready, Adopted, Exited, Restarting,
 * Unhealthy, Draining, Stopped, Killed, FailedStart.
 *
 * Pod names: "<deployment>-<replica>"; a replacement started while the old
 * pod of that index still runs is "<deployment>-<replica>-g<generation>".
 *
 * Threads: everything runs on the loop given to ctl_sup_init; no call
 * blocks on a child (SQLite writes are synchronous, as ctl_store is).
 *
 * Ownership: ctl_sup borrows the loop and the store (both must outlive it)
 * and copies cfg (strings included) and every deployment object it is given
 * (ctl_sup_apply re-parses obj->raw; the caller keeps its object). Views
 * handed to callbacks or filled by ctl_sup_pods point into the supervisor:
 * valid until control returns to the loop (do not keep them; copy). */
#ifndef CTL_SUP_H
#define CTL_SUP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ctl/ctl_obj.h"
#include "ctl/ctl_podview.h"
#include "ctl/ctl_store.h"

#define CTL_SUP_MAX_PASS_ENV 32

typedef struct ctl_sup ctl_sup; /* opaque */

typedef struct ctl_sup_cfg {
    const char *brix_path;  /* substituted for {brix}; default "brix" */
    const char *log_dir;    /* children's stdout/stderr appended to
                               <log_dir>/<pod>.log; NULL: /dev/null */
    int port_min, port_max; /* ports to hand out; 0/0: ask the kernel */
    double backoff_base_s;  /* first restart delay (1) */
    double backoff_max_s;   /* doubling stops here (60) */
    double backoff_reset_s; /* Ready this long resets the delay (60) */
    double probe_period_s;  /* 0: the deployment's readinessProbe period */
    double probe_timeout_s; /* one probe's whole request (1) */
    int failure_threshold;  /* failed probes that restart a Ready pod (3) */
    double drain_poll_s;    /* how often inflight() is asked (0.25) */
    double orphan_grace_s;  /* SIGTERM->SIGKILL for pods of a deployment
                               ctl_sup does not know (30) */
    /* Names of variables passed from brix's own environment to engines,
     * besides PATH HOME USER LOGNAME LANG LC_ALL TZ TMPDIR (e.g. HF_TOKEN,
     * CUDA_VISIBLE_DEVICES). NULL-terminated; copied; at most
     * CTL_SUP_MAX_PASS_ENV. The deployment's env overrides them. */
    const char *const *pass_env;
    /* "NAME=value" strings every engine gets unless the deployment's env
     * names NAME (brix up: VLLM_ALLOW_RUNTIME_LORA_UPDATING=true, for its
     * adapter controller). NULL-terminated; copied; at most
     * CTL_SUP_MAX_PASS_ENV. */
    const char *const *set_env;
} ctl_sup_cfg;

/* Fills the defaults above. Fields left 0 in a cfg also mean the default. */
void ctl_sup_cfg_default(ctl_sup_cfg *cfg);

typedef struct ctl_sup_cbs {
    /* Every phase change, after the row is written. The gateway adds the
     * engine on Ready, stops routing on Draining, removes it on Stopping,
     * Backoff and Gone. May call ctl_sup_pods/apply/remove. */
    void (*on_change)(void *ud, const ctl_podview *pod);
    /* Requests in flight at the gateway for this pod; a Draining pod is
     * stopped when this returns 0 (or after drain_grace_s). NULL: 0. */
    int (*inflight)(void *ud, const ctl_podview *pod);
} ctl_sup_cbs;

/* 0 with *out set, or -1 with a message. cfg and cbs may be NULL. */
int ctl_sup_init(ctl_sup **out, uv_loop_t *loop, ctl_store *store, const ctl_sup_cfg *cfg,
                 const ctl_sup_cbs *cbs, void *ud, char *err, size_t errlen);

/* Reconciles a Deployment to `replicas` (0..CTL_MAX_REPLICAS): starts the
 * missing indexes 0..replicas-1, drains and stops indexes >= replicas
 * (highest first). When the pod template changed (command, args, env,
 * model, labels) the pods are replaced one index at a time: the new pod
 * starts beside the old, and the old is drained once the new is Ready.
 * Other changes (probe, timeouts, grace) apply to the running pods.
 * 0, or -1 with a message (not a Deployment, out of memory, closing). */
int ctl_sup_apply(ctl_sup *s, const ctl_obj *deployment, int replicas, char *err, size_t errlen);

/* At startup: takes over the store's pod rows of this deployment whose pid
 * is alive and leads its process group: they are probed (liveness polled
 * with kill(pid, 0) every probe period, since they are not our children)
 * and become Ready (event Adopted) when health_path answers, or are
 * restarted when it does not (startup timeout for rows not Ready before,
 * failure_threshold probes for rows that were). Rows of dead pids are
 * deleted. Then reconciles to `replicas` as ctl_sup_apply does, which
 * launches what is missing. Rows launched from another generation are
 * treated as an older template and rolled. 0 or -1. */
int ctl_sup_adopt(ctl_sup *s, const ctl_obj *deployment, int replicas, char *err, size_t errlen);

/* Drains and stops every pod of the deployment and deletes their rows
 * (each on Gone). Rows of a deployment ctl_sup does not track are taken
 * over and stopped the same way (grace orphan_grace_s). 0 or -1. */
int ctl_sup_remove(ctl_sup *s, const char *deployment, char *err, size_t errlen);

/* Snapshot of the live pods (Gone ones excluded) of one deployment (NULL:
 * all), in deployment then replica order. Fills up to max views and
 * returns how many there are. The views are valid until control returns
 * to the loop. */
size_t ctl_sup_pods(ctl_sup *s, const char *deployment, ctl_podview *out, size_t max);

typedef struct ctl_sup_stats {
    uint64_t spawns;   /* processes launched */
    uint64_t restarts; /* of them, relaunches after an exit or a failure */
    uint64_t adopted;  /* pods taken over from the store */
    uint64_t killed;   /* SIGKILLs after a grace period */
    size_t pods;       /* pods tracked now */
} ctl_sup_stats;

void ctl_sup_get_stats(const ctl_sup *s, ctl_sup_stats *out);

/* Shuts the supervisor down; `done` (may be NULL) runs from the loop once
 * everything is closed, after which the ctl_sup is freed. stop_pods 1:
 * drain and stop every pod first (graceful `brix up` shutdown); 0: leave
 * the processes running and their rows in place, for ctl_sup_adopt by the
 * next supervisor. Other calls after this fail. */
void ctl_sup_close(ctl_sup *s, int stop_pods, void (*done)(void *ud), void *ud);

#endif
