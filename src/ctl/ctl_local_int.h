/* ctl_local_int: the local orchestrator's private header (ctl_orch_local.h
 * is the public one). Its files, and which way they call:
 *
 *   ctl_orch_local.c   the table, deployments (settings, template ids),
 *        |             reconcile and rollout, adoption, remove, close
 *        v
 *   ctl_local_pod.c    the pod state machine: phases, timers, backoff,
 *        |             drain, terminate, exits, probe results, release
 *        v
 *   ctl_local_spawn.c  ports, environment, log files, uv_spawn, process
 *   ctl_local_probe.c  groups, signals; the probes (httpGet, tcpSocket,
 *   ctl_local_vllm.c   exec); vLLM command lines for the simulator
 *
 * Nothing calls back up by name: a process exit and a probe answer reach
 * the pod file through the callbacks it hands down, and a pod that needs
 * its deployment reconciled starts the kick timer, whose callback
 * (on_kick) ctl_orch_local.c registered at init.
 *
 * Structure. A ctl_local_dep per Deployment holds its current settings (a
 * refcounted ctl_local_spec: a private copy of the ctl_obj plus a template
 * id that changes only when the command/env/labels change) and its pods. A
 * ctl_local_pod embeds its uv_process_t and three timers: probe_t ticks
 * every probe period (the startupProbe until it passed, then the readiness
 * probe, and for adopted pods the kill(pid, 0) liveness poll), live_t ticks
 * the livenessProbe once started, and state_t carries the one deadline of
 * the current phase (startup timeout, backoff delay, drain poll, SIGKILL
 * after grace).
 * Phase changes go through ctl_local_pod_set_phase, which writes the row,
 * calls on_change and marks the deployment for reconciling.
 *
 * Reconciling (desired replicas vs. pods) runs synchronously from apply
 * and, for changes coming from the loop (a pod became Ready or Gone), from
 * a zero-delay "kick" timer, so callbacks never recurse into it.
 *
 * Lifetime: a pod that reaches Gone (or is left running at close) is
 * "released": unlinked from its deployment (onto the dying list), its
 * handles closed, any probe cancelled; it is freed once every close
 * callback and the probe's answer came back (pending == 0). Freed memory is
 * therefore never touched by a libuv callback, and views stay valid until
 * control returns to the loop. */
#ifndef CTL_LOCAL_INT_H
#define CTL_LOCAL_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "common/bx_http.h"
#include "common/bx_queue.h"
#include "ctl/ctl_obj.h"
#include "ctl/ctl_orch_local.h"

#define CTL_LOCAL_POD_NAME_MAX 128
#define CTL_LOCAL_HOST "127.0.0.1" /* engines listen on loopback */

typedef struct ctl_orch_local ctl_orch_local;
typedef struct ctl_local_dep ctl_local_dep;
typedef struct ctl_local_pod ctl_local_pod;

/* A deployment's settings, shared by the pods launched with them. */
typedef struct ctl_local_spec {
    ctl_obj *o; /* owned copy */
    int refs;
    int tmpl; /* template id within its deployment */
} ctl_local_spec;

/* One probe in flight (ctl_local_probe.c). res: 1 passed, 0 failed (why
 * says how), -1 cancelled. */
typedef struct ctl_local_probe ctl_local_probe;
typedef void (*ctl_local_probe_cb)(ctl_local_probe *pr, int res);
struct ctl_local_exec;
struct ctl_local_probe {
    bx_http_creq *req;         /* an HTTP or TCP probe in flight, or NULL */
    struct ctl_local_exec *ex; /* an exec probe in flight, or NULL */
    int status;                /* HTTP status of the answer */
    int tcp, canceled;
    ctl_local_probe_cb done;
    void *ud; /* the caller's */
    char argv0[64];
    char why[128]; /* what the last answer was */
};

struct ctl_local_pod {
    ctl_orch_local *l;
    ctl_local_dep *d;   /* NULL once released */
    ctl_local_spec *sp; /* settings it runs with; NULL for orphans */
    bx_queue link;      /* in d->pods, then (released) in l->dying */
    char name[CTL_LOCAL_POD_NAME_MAX];
    char dep[CTL_NAME_MAX + 1];
    char url[40];
    int replica, port, pid;
    ctl_pod_phase phase;
    int restarts;
    int64_t generation;
    int64_t started_ms, ready_since_ms; /* Unix ms */
    uint64_t phase_at, ready_at;        /* uv_now */
    uint64_t backoff_ms;
    int tmpl;              /* template it runs; 0 = unknown */
    int adopted;           /* pid is not our child: liveness polled */
    int adopt_pending;     /* adopted, not yet Ready */
    int row_was_ready;     /* adopted from a Ready row */
    int proc_open;         /* proc initialized, not yet uv_close'd */
    int proc_closing;      /* uv_close'd, close callback pending */
    int for_good;          /* stopping, never to be restarted */
    int restart_wanted;    /* Stopping in order to restart */
    int ready_this_launch; /* became Ready since the last spawn */
    int new_port;          /* pick another port at the next spawn */
    int fails;             /* consecutive failed readiness probes */
    int oks;               /* consecutive passed readiness probes (successThreshold) */
    int lfails, sfails;    /* consecutive failed liveness / startup probes */
    int startup_ok;        /* the startupProbe passed (or there is none) */
    int unready;           /* was Ready, failed readinessProbe: Starting, unrouted */
    int sigkilled;
    int vllm_hint; /* runs vLLM itself: an early exit suggests the simulator */
    int simulated; /* a vLLM command run as brix's simulator (--engine simulator): the
                      probes' initialDelaySeconds, written for a model load, are not waited */
    int released;
    int pending; /* close callbacks and probe answers outstanding */
    uv_process_t proc;
    uv_timer_t probe_t, state_t, live_t;
    ctl_local_probe probe;  /* startup, then readiness */
    ctl_local_probe lprobe; /* liveness */
};

struct ctl_local_dep {
    ctl_orch_local *l;
    bx_queue link; /* in l->deps, by name */
    char name[CTL_NAME_MAX + 1];
    ctl_local_spec *cur; /* NULL for a stub holding orphans */
    int desired;
    int removing;
    int dirty;
    int tmpl_seq;
    bx_queue pods; /* ctl_local_pod, by replica, then name */
};

struct ctl_orch_local {
    ctl_orch base; /* first: the table and the callbacks */
    uv_loop_t *loop;
    ctl_store *store;
    char *brix;
    char *log_dir;
    ctl_orch_local_cfg cfg; /* numbers only; strings above */
    char *pass_env[CTL_ORCH_LOCAL_MAX_PASS_ENV + 1];
    char *set_env[CTL_ORCH_LOCAL_MAX_PASS_ENV + 1]; /* "NAME=value" */
    bx_http_client *http;
    uv_timer_t kick;
    uv_timer_cb on_kick; /* the reconcile pass (ctl_orch_local.c) */
    bx_queue deps;       /* ctl_local_dep */
    bx_queue dying;      /* released pods waiting for their callbacks */
    int in_reconcile;
    int closing, finished;
    void (*done)(void *ud);
    void *done_ud;
    int next_port;
    ctl_orch_stats st;
};

/* ---- small helpers ---- */

static inline int64_t ctl_local_unix_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Seconds to milliseconds, 0 for anything not positive, capped. */
static inline uint64_t ctl_local_ms(double s)
{
    if (!(s > 0)) return 0;
    if (s > 1e9) s = 1e9;
    return (uint64_t)(s * 1000.0 + 0.5);
}

/* ---- ctl_local_pod.c: the pod state machine ---- */

/* A new pod of d (name NULL: "<dep>-<replica>", or a -g<generation> name
 * when that is taken), in phase Backoff, not launched; NULL when out of
 * memory. */
ctl_local_pod *ctl_local_pod_new(ctl_local_dep *d, int replica, const char *name);
/* Launches p: Starting, or FailedStart and Backoff. */
void ctl_local_pod_spawn(ctl_local_pod *p);
/* Takes over the process of a store row (p new, named after it): probed
 * until Ready (Adopted), or, for_stop, stopped for good at once. */
void ctl_local_pod_adopt(ctl_local_pod *p, const ctl_pod *row, int for_stop);
/* Stops p for good: drained first when the gateway routes to it. */
void ctl_local_pod_stop_for_good(ctl_local_pod *p);
/* Unlinks p and closes what it holds; the process and its row stay. */
void ctl_local_pod_release(ctl_local_pod *p);
/* The pod of that name among every deployment's, or NULL. */
ctl_local_pod *ctl_local_pod_find(ctl_orch_local *l, const char *name);
/* 1 when p runs another template than its deployment's current one. */
int ctl_local_pod_outdated(const ctl_local_pod *p);
void ctl_local_pod_view(const ctl_local_pod *p, ctl_podview *v);
/* Writes p's row (Gone: deletes it). */
void ctl_local_pod_write_row(ctl_local_pod *p);

ctl_local_spec *ctl_local_spec_ref(ctl_local_spec *sp);
void ctl_local_spec_unref(ctl_local_spec *sp);

/* Marks d for the next reconcile pass; ctl_local_kick schedules that pass
 * (a zero-delay timer) unless the orchestrator finished. */
void ctl_local_dep_mark(ctl_local_dep *d);
void ctl_local_kick(ctl_orch_local *l);

/* ---- ctl_local_spawn.c: processes ---- */

/* Launches p's command (p->sp) on a checked port: sets p->port, p->url,
 * p->proc (p->proc_open = 1 once uv_spawn was called, even when it
 * failed: the handle must be closed) and p->pid. 0, or -1 with what went
 * wrong in why. */
int ctl_local_spawn(ctl_local_pod *p, uv_exit_cb on_exit, char *why, size_t whylen);
/* Sends sig to p's process group (to p->pid alone when it leads none). */
void ctl_local_spawn_signal(ctl_local_pod *p, int sig);
/* SIGKILL to what is left of the group pid led. */
void ctl_local_spawn_kill_group(const char *pod, int pid);
/* 1 when the adopted p->pid is gone (reaped here when it is our child;
 * *known: *status and *sig are real). */
int ctl_local_spawn_dead(ctl_local_pod *p, int64_t *status, int *sig, int *known);
/* 1 when pid is alive and leads its process group (we launch every
 * engine as its own group leader). */
int ctl_local_spawn_alive_leader(int pid);

/* ---- ctl_local_probe.c: probes ---- */

/* Starts spec's probe of 127.0.0.1:port (exec: its command); pr->done(pr,
 * res) runs once for it, later (res -1 after ctl_local_probe_cancel). 0,
 * or a bx_http error code (no callback then). */
int ctl_local_probe_start(ctl_local_probe *pr, ctl_orch_local *l, const ctl_probe *spec, int port,
                          uint64_t timeout_ms, ctl_local_probe_cb done, void *ud);
/* Cancels the probe in flight, if any; its callback still comes. */
void ctl_local_probe_cancel(ctl_local_probe *pr);
/* 1 while a probe is in flight. */
int ctl_local_probe_busy(const ctl_local_probe *pr);

/* ---- ctl_local_vllm.c: vLLM command lines run by brix's simulator ---- */

/* When argv (rendered, NULL-terminated) starts vLLM's OpenAI server
 * (`vllm serve MODEL ...`, `python[3] -m vllm.entrypoints.openai.api_server
 * ...`, either as a plain `sh -c` line), *out gets brix's engine command
 * line in its place (owned: free with ctl_local_vllm_free) and 1; 0 when
 * argv is no vLLM server (*out NULL); -1 out of memory. The model
 * (positional or --model) becomes --model; the file's header lists the
 * rest. */
int ctl_local_vllm_translate(char *const *argv, const char *brix, char ***out);
void ctl_local_vllm_free(char **argv);
/* 1 when argv starts vLLM's OpenAI server (as above; a sh -c script's last
 * command too). */
int ctl_local_vllm_is_server(char *const *argv);
/* 1 when argv starts a Ray node (`ray start`, a sh -c script running it
 * or evaluating $KUBERAY_GEN_RAY_START_CMD). */
int ctl_local_vllm_is_ray(char *const *argv);
/* A Ray node that is no vLLM server (a RayCluster worker): *out gets
 * `brix engine --port PORT` (free with ctl_local_vllm_free) and 1; 0 when
 * argv is none (*out NULL); -1 out of memory. */
int ctl_local_vllm_ray_worker(char *const *argv, const char *brix, int port, char ***out);
/* For a sh -c script that runs Ray or a vLLM server: "ray" or "vllm" when
 * that program is not on PATH; NULL otherwise (a program run directly is
 * reported by uv_spawn). */
const char *ctl_local_vllm_missing(char *const *argv);

#endif
