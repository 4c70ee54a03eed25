/* ctl_orch_local: the local orchestrator, the first implementation of the
 * orchestrator table (ctl_orch.h). It runs the replicas ("pods") of
 * Deployments as child processes on one libuv loop: allocates their ports,
 * launches them (uv_spawn, each in its own session and process group, with
 * a clean environment plus the deployment's env, stdout/stderr appended to
 * <log_dir>/<pod>.log), runs their probes (the pod template's startup,
 * readiness and liveness probes, else GET /health), restarts them with
 * exponential backoff when they exit or turn unhealthy, drains them
 * gracefully on scale-down (the gateway stops routing, in-flight requests
 * finish, then SIGTERM to the group, SIGKILL after the grace period),
 * replaces them one at a time when the template changes, and adopts the
 * ones a previous `brix up` left running.
 *
 * Phases (ctl_podview.h) and transitions:
 *   Starting -> Ready      the startupProbe passed (if any), then the
 *                          readiness probe passed successThreshold times
 *   Starting -> Stopping   startup_timeout_s without readiness, or the
 *                          startupProbe failed failureThreshold times
 *                          (Unhealthy; its budget replaces the timeout)
 *   Ready    -> Stopping   no probe given: failure_threshold consecutive
 *                          GET /health failed (Unhealthy)
 *   Ready    -> Starting   a readiness or liveness probe given: the
 *                          readiness probe failed failureThreshold times
 *                          (Unhealthy; unrouted, no restart)
 *   Starting/Ready -> Stopping  the livenessProbe failed failureThreshold
 *                          times (Unhealthy), then Backoff and a restart
 *   Ready    -> Draining   scale-down, replacement Ready, remove, close
 *   Starting -> Stopping   scale-down etc. of a pod nobody routes to yet
 *   Draining -> Stopping   inflight() returned 0, or drain_grace_s passed
 *   Stopping -> Gone       exited after SIGTERM (or SIGKILL after grace)
 *   Stopping -> Backoff    exited, and a restart was wanted (Unhealthy)
 *   any live -> Backoff    unexpected exit (Exited event)
 *   Backoff  -> Starting   the backoff delay passed (restarts + 1)
 *   Backoff  -> Gone       no longer wanted
 * Every transition writes the pod row (state = phase name) and calls
 * on_change; Gone deletes the row. Events (ctl_orch_cbs.on_event) come
 * under ("Deployment", <deployment>): Started, Ready, Adopted, Exited,
 * Restarting, Unhealthy, Draining, Stopped, Killed, FailedStart.
 *
 * Pod names: "<deployment>-<replica>"; a replacement started while the old
 * pod of that index still runs is "<deployment>-<replica>-g<generation>".
 * Views: host "127.0.0.1", url "http://127.0.0.1:<port>", pid the child's.
 *
 * Adoption (ctl_orch_adopt): takes over the store's pod rows of the
 * deployment whose pid is alive and leads its process group: they are
 * probed (liveness polled with kill(pid, 0) every probe period, since they
 * are not our children) and become Ready (event Adopted) when health_path
 * answers, or are restarted when it does not (startup timeout for rows not
 * Ready before, failure_threshold probes for rows that were). Rows of dead
 * pids are deleted. Rows launched from another generation are treated as
 * an older template and rolled. ctl_orch_remove of a deployment this
 * orchestrator does not track takes its rows over and stops them (grace
 * orphan_grace_s). ctl_orch_close(stop_pods 0) leaves the processes
 * running and their rows in place.
 *
 * Files: ctl_orch_local.c (the table, deployments, reconcile and rollout,
 * adoption), ctl_local_pod.c (the pod state machine), ctl_local_spawn.c
 * (ports, environment, log files, processes, signals), ctl_local_probe.c
 * (the probes: httpGet, tcpSocket, exec), ctl_local_vllm.c (vLLM command
 * lines run as brix engine under engine_simulator); ctl_local_int.h is
 * their shared private header.
 *
 * Threads: everything runs on the loop given to ctl_orch_local_init; no
 * call blocks on a child (SQLite writes are synchronous, as ctl_store is).
 *
 * Ownership: borrows the loop and the store (both must outlive it); copies
 * cfg (strings included) and every deployment object it is given (apply
 * re-parses obj->raw; the caller keeps its object). The pod rows
 * (ctl_store_pod_*) are this implementation's private persistence. */
#ifndef CTL_ORCH_LOCAL_H
#define CTL_ORCH_LOCAL_H

#include <stddef.h>
#include <uv.h>

#include "ctl/ctl_orch.h"
#include "ctl/ctl_store.h"

#define CTL_ORCH_LOCAL_MAX_PASS_ENV 32

typedef struct ctl_orch_local_cfg {
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
                               this orchestrator does not know (30) */
    /* 1: a vLLM server command line (vllm serve, python -m
     * vllm.entrypoints.openai.api_server) runs brix's simulator in its
     * place, its arguments translated (brix up --engine simulator) */
    int engine_simulator;
    /* Names of variables passed from brix's own environment to engines,
     * besides PATH HOME USER LOGNAME LANG LC_ALL TZ TMPDIR (e.g. HF_TOKEN,
     * CUDA_VISIBLE_DEVICES). NULL-terminated; copied; at most
     * CTL_ORCH_LOCAL_MAX_PASS_ENV. The deployment's env overrides them. */
    const char *const *pass_env;
    /* "NAME=value" strings every engine gets unless the deployment's env
     * names NAME (brix up: VLLM_ALLOW_RUNTIME_LORA_UPDATING=true, for its
     * adapter controller). NULL-terminated; copied; at most
     * CTL_ORCH_LOCAL_MAX_PASS_ENV. */
    const char *const *set_env;
} ctl_orch_local_cfg;

/* Fills the defaults above. Fields left 0 in a cfg also mean the default. */
void ctl_orch_local_cfg_default(ctl_orch_local_cfg *cfg);

/* 0 with *out set (freed by ctl_orch_close), or -1 with a message. cfg
 * and cbs may be NULL. */
int ctl_orch_local_init(ctl_orch **out, uv_loop_t *loop, ctl_store *store,
                        const ctl_orch_local_cfg *cfg, const ctl_orch_cbs *cbs, void *ud, char *err,
                        size_t errlen);

#endif
