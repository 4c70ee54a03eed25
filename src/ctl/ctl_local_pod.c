/* ctl_local_pod: the local orchestrator's pod state machine (the phases
 * and transitions are listed in ctl_orch_local.h, the structure and the
 * lifetime rules in ctl_local_int.h). It owns everything that happens to
 * one pod: launching it (ctl_local_spawn.c does the process work), its
 * three timers (probe_t: the startupProbe until it passed, then readiness
 * probes and, for adopted pids, the kill(pid, 0) poll; live_t: the
 * livenessProbe; state_t: the one deadline of the current phase), what
 * each probe's answers mean (ctl_local_probe.c runs them), backoff,
 * draining, SIGTERM then SIGKILL, exits, the pod row and the events, and
 * releasing it. It decides nothing about how many pods a deployment has:
 * ctl_orch_local.c does, and a phase change here marks the deployment for
 * its next reconcile pass. */
#include "ctl/ctl_local_int.h"

#include "common/bx_log.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTL_LOCAL_GIVE_UP_MS 5000 /* adopted pod still alive this long after SIGKILL */
#define CTL_LOCAL_REAP_RETRY_MS 10

static void ctl_local_pod_backoff(ctl_local_pod *p);
static void ctl_local_pod_on_state_timer(uv_timer_t *t);

/* ---- settings ---- */

static const ctl_deployment *ctl_local_pod_dep(const ctl_local_pod *p)
{
    return p->sp ? &p->sp->o->u.dep : NULL;
}

/* A pod without settings (an orphan being stopped) is probed as brix's
 * default readiness: GET /health. */
static const ctl_probe ctl_local_pod_default_probe = {.path = "/health", .period_s = 1};

static const ctl_probe *ctl_local_pod_readiness(const ctl_local_pod *p)
{
    return ctl_local_pod_dep(p) ? &ctl_local_pod_dep(p)->readiness : &ctl_local_pod_default_probe;
}

static const ctl_probe *ctl_local_pod_liveness(const ctl_local_pod *p)
{
    const ctl_deployment *d = ctl_local_pod_dep(p);
    return d && d->liveness.given ? &d->liveness : NULL;
}

static const ctl_probe *ctl_local_pod_startup_probe(const ctl_local_pod *p)
{
    const ctl_deployment *d = ctl_local_pod_dep(p);
    return d && d->startup.given ? &d->startup : NULL;
}

/* Kubernetes' meaning: a Ready pod failing its readinessProbe is only
 * taken out of routing; without any probe given, brix's default restarts
 * it (its /health answers as long as the engine works). */
static int ctl_local_pod_k8s_probes(const ctl_local_pod *p)
{
    const ctl_deployment *d = ctl_local_pod_dep(p);
    return d && (d->readiness.given || d->liveness.given);
}

static uint64_t ctl_local_pod_period_ms(const ctl_local_pod *p, const ctl_probe *pr)
{
    uint64_t ms = 0;
    if (pr == ctl_local_pod_readiness(p)) ms = ctl_local_ms(p->l->cfg.probe_period_s);
    if (!ms) ms = ctl_local_ms(pr->period_s);
    return ms ? ms : 1000;
}

static uint64_t ctl_local_pod_probe_ms(const ctl_local_pod *p)
{
    return ctl_local_pod_period_ms(p, ctl_local_pod_readiness(p));
}

/* The first probe: initialDelaySeconds after the launch (what is left of
 * it), else a period, at most a second (the kubelet probes at once). A
 * vLLM command run as the simulator has no model to load: its delay
 * (AIBrix's samples wait up to 6 minutes) is not waited. */
static uint64_t ctl_local_pod_first_ms(const ctl_local_pod *p, const ctl_probe *pr)
{
    uint64_t delay = p->simulated ? 0 : ctl_local_ms(pr->initial_delay_s);
    uint64_t since = uv_now(p->l->loop) - p->phase_at;
    if (delay) return delay > since ? delay - since : 0;
    uint64_t period = ctl_local_pod_period_ms(p, pr);
    return period < 1000 ? period : 1000;
}

static uint64_t ctl_local_pod_timeout_ms(const ctl_local_pod *p, const ctl_probe *pr)
{
    uint64_t ms = ctl_local_ms(pr->timeout_s);
    return ms ? ms : ctl_local_ms(p->l->cfg.probe_timeout_s);
}

static int ctl_local_pod_threshold(const ctl_local_pod *p, const ctl_probe *pr)
{
    return pr->failure_threshold > 0 ? pr->failure_threshold : p->l->cfg.failure_threshold;
}

static uint64_t ctl_local_pod_grace_ms(const ctl_local_pod *p)
{
    return ctl_local_pod_dep(p) ? ctl_local_ms(ctl_local_pod_dep(p)->drain_grace_s)
                                : ctl_local_ms(p->l->cfg.orphan_grace_s);
}

static uint64_t ctl_local_pod_startup_ms(const ctl_local_pod *p)
{
    uint64_t ms = ctl_local_pod_dep(p) ? ctl_local_ms(ctl_local_pod_dep(p)->startup_timeout_s) : 0;
    return ms ? ms : 600000;
}

static const char *ctl_local_pod_health(const ctl_local_pod *p)
{
    const ctl_probe *pr = ctl_local_pod_readiness(p);
    return pr->path ? pr->path : "/health";
}

/* "GET /path", "tcp :port" or "exec prog" of pr, for events. */
static const char *ctl_local_pod_probe_desc(const ctl_local_pod *p, const ctl_probe *pr, char *buf,
                                            size_t len)
{
    if (pr->kind == CTL_PROBE_TCP)
        snprintf(buf, len, "tcp :%d", p->port);
    else if (pr->kind == CTL_PROBE_EXEC && pr->exec)
        snprintf(buf, len, "exec %.60s", pr->exec[0]);
    else
        snprintf(buf, len, "GET %.100s", pr->path ? pr->path : "/");
    return buf;
}

void ctl_local_spec_unref(ctl_local_spec *sp)
{
    if (!sp || --sp->refs > 0) return;
    ctl_obj_free(sp->o);
    free(sp);
}

ctl_local_spec *ctl_local_spec_ref(ctl_local_spec *sp)
{
    if (sp) sp->refs++;
    return sp;
}

int ctl_local_pod_outdated(const ctl_local_pod *p)
{
    return !p->d || !p->d->cur || p->tmpl != p->d->cur->tmpl;
}

/* ---- what the world sees: views, events, rows ---- */

void ctl_local_pod_view(const ctl_local_pod *p, ctl_podview *v)
{
    memset(v, 0, sizeof(*v));
    v->name = p->name;
    v->deployment = p->dep;
    v->model =
        ctl_local_pod_dep(p) && ctl_local_pod_dep(p)->model ? ctl_local_pod_dep(p)->model : "";
    v->url = p->url;
    v->host = CTL_LOCAL_HOST;
    v->labels = ctl_local_pod_dep(p) ? ctl_local_pod_dep(p)->pod_labels : NULL;
    v->api_key = ctl_local_pod_dep(p) ? ctl_local_pod_dep(p)->api_key : NULL;
    v->replica = p->replica;
    v->port = p->port;
    v->pid = p->pid;
    v->phase = p->phase;
    v->restarts = p->restarts;
    v->ready_since_ms = p->ready_since_ms;
}

static void ctl_local_pod_event(ctl_local_pod *p, ctl_event_type type, const char *reason,
                                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void ctl_local_pod_event(ctl_local_pod *p, ctl_event_type type, const char *reason,
                                const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ctl_orch_event(&p->l->base, p->dep, p->name, type, reason, "%s", msg);
}

void ctl_local_pod_write_row(ctl_local_pod *p)
{
    char err[256];
    if (p->phase == CTL_POD_GONE) {
        if (ctl_store_pod_delete(p->l->store, p->name, err, sizeof(err)) < 0)
            bx_warn("ctl_orch_local: deleting pod row %s: %s", p->name, err);
        return;
    }
    ctl_pod r;
    memset(&r, 0, sizeof(r));
    snprintf(r.name, sizeof(r.name), "%s", p->name);
    snprintf(r.deployment, sizeof(r.deployment), "%s", p->dep);
    r.replica = p->replica;
    r.port = p->port;
    r.pid = p->pid;
    snprintf(r.state, sizeof(r.state), "%s", ctl_pod_phase_name(p->phase));
    r.restarts = p->restarts;
    r.generation = p->generation;
    r.started_ms = p->started_ms;
    if (ctl_store_pod_put(p->l->store, &r, 0, err, sizeof(err)) != 0)
        bx_warn("ctl_orch_local: writing pod row %s: %s", p->name, err);
}

static void ctl_local_pod_timer(uv_timer_t *t, uv_timer_cb cb, uint64_t timeout, uint64_t repeat)
{
    int r = uv_timer_start(t, cb, timeout, repeat);
    if (r != 0) bx_error("ctl_orch_local: uv_timer_start: %s", uv_strerror(r));
}

void ctl_local_kick(ctl_orch_local *l)
{
    if (l->finished) return;
    ctl_local_pod_timer(&l->kick, l->on_kick, 0, 0);
}

void ctl_local_dep_mark(ctl_local_dep *d)
{
    if (!d) return;
    d->dirty = 1;
    ctl_local_kick(d->l);
}

static void ctl_local_pod_set_phase(ctl_local_pod *p, ctl_pod_phase ph)
{
    p->phase = ph;
    p->phase_at = uv_now(p->l->loop);
    ctl_local_pod_write_row(p);
    ctl_podview v;
    ctl_local_pod_view(p, &v);
    ctl_orch_changed(&p->l->base, &v);
    ctl_local_dep_mark(p->d);
}

/* ---- lifetime ---- */

static void ctl_local_pod_maybe_free(ctl_local_pod *p)
{
    if (!p->released || p->pending > 0) return;
    ctl_orch_local *l = p->l;
    bx_queue_remove(&p->link); /* from the dying list */
    ctl_local_spec_unref(p->sp);
    free(p);
    if (l->closing) ctl_local_kick(l);
}

static void ctl_local_pod_on_closed(uv_handle_t *h)
{
    ctl_local_pod *p = h->data;
    if (h == (uv_handle_t *)&p->proc) p->proc_closing = 0;
    p->pending--;
    ctl_local_pod_maybe_free(p);
}

static void ctl_local_pod_proc_close(ctl_local_pod *p)
{
    if (!p->proc_open) return;
    p->proc_open = 0;
    p->proc_closing = 1;
    p->pending++;
    p->proc.data = p;
    uv_close((uv_handle_t *)&p->proc, ctl_local_pod_on_closed);
}

void ctl_local_pod_release(ctl_local_pod *p)
{
    if (p->released) return;
    ctl_orch_local *l = p->l;
    ctl_local_dep *d = p->d;
    bx_queue_remove(&p->link);
    if (d) ctl_local_dep_mark(d);
    p->d = NULL;
    p->released = 1;
    bx_queue_insert_head(&l->dying, &p->link);
    l->st.pods--;
    ctl_local_probe_cancel(&p->probe);
    ctl_local_probe_cancel(&p->lprobe);
    uv_timer_stop(&p->probe_t);
    uv_timer_stop(&p->state_t);
    uv_timer_stop(&p->live_t);
    p->probe_t.data = p;
    p->state_t.data = p;
    p->live_t.data = p;
    p->pending += 3;
    uv_close((uv_handle_t *)&p->probe_t, ctl_local_pod_on_closed);
    uv_close((uv_handle_t *)&p->state_t, ctl_local_pod_on_closed);
    uv_close((uv_handle_t *)&p->live_t, ctl_local_pod_on_closed);
    ctl_local_pod_proc_close(p);
}

static void ctl_local_pod_gone(ctl_local_pod *p)
{
    uv_timer_stop(&p->state_t);
    ctl_local_probe_cancel(&p->probe);
    ctl_local_probe_cancel(&p->lprobe);
    ctl_local_pod_set_phase(p, CTL_POD_GONE);
    ctl_local_pod_release(p);
}

ctl_local_pod *ctl_local_pod_find(ctl_orch_local *l, const char *name)
{
    bx_queue *qd, *qp;
    BX_QUEUE_FOREACH(qd, &l->deps)
    {
        ctl_local_dep *d = bx_container_of(qd, ctl_local_dep, link);
        BX_QUEUE_FOREACH(qp, &d->pods)
        {
            ctl_local_pod *p = bx_container_of(qp, ctl_local_pod, link);
            if (strcmp(p->name, name) == 0) return p;
        }
    }
    return NULL;
}

/* Into d->pods, by replica, then name. */
static void ctl_local_pod_link(ctl_local_dep *d, ctl_local_pod *p)
{
    bx_queue *q;
    BX_QUEUE_FOREACH(q, &d->pods)
    {
        const ctl_local_pod *o = bx_container_of(q, ctl_local_pod, link);
        if (o->replica > p->replica || (o->replica == p->replica && strcmp(o->name, p->name) >= 0))
            break;
    }
    bx_queue_insert_before(q, &p->link); /* q is the head when none is larger */
}

ctl_local_pod *ctl_local_pod_new(ctl_local_dep *d, int replica, const char *name)
{
    ctl_orch_local *l = d->l;
    ctl_local_pod *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->l = l;
    p->d = d;
    p->replica = replica;
    bx_queue_init(&p->link);
    snprintf(p->dep, sizeof(p->dep), "%s", d->name);
    if (name) {
        snprintf(p->name, sizeof(p->name), "%s", name);
    } else {
        snprintf(p->name, sizeof(p->name), "%s-%d", d->name, replica);
        long long gen = d->cur ? (long long)d->cur->o->generation : 0;
        for (int k = 1; ctl_local_pod_find(l, p->name); k++) {
            if (k == 1)
                snprintf(p->name, sizeof(p->name), "%s-%d-g%lld", d->name, replica, gen);
            else
                snprintf(p->name, sizeof(p->name), "%s-%d-g%lld-%d", d->name, replica, gen, k);
        }
    }
    p->sp = ctl_local_spec_ref(d->cur);
    p->generation = d->cur ? d->cur->o->generation : 0;
    p->tmpl = d->cur ? d->cur->tmpl : 0;
    p->phase = CTL_POD_BACKOFF; /* not yet launched */
    int r = uv_timer_init(l->loop, &p->probe_t);
    if (r == 0) r = uv_timer_init(l->loop, &p->state_t);
    if (r == 0) r = uv_timer_init(l->loop, &p->live_t);
    if (r != 0) {
        /* Cannot happen on Unix. A half-initialized handle may be linked
         * into the loop, so the pod is leaked rather than freed. */
        bx_error("ctl_orch_local: uv_timer_init: %s", uv_strerror(r));
        return NULL;
    }
    p->probe_t.data = p;
    p->state_t.data = p;
    p->live_t.data = p;
    ctl_local_pod_link(d, p);
    l->st.pods++;
    return p;
}

/* ---- launching, exits, stopping ---- */

static void ctl_local_pod_on_probe_tick(uv_timer_t *t);
static void ctl_local_pod_on_live_tick(uv_timer_t *t);

/* Starts the liveness ticks (the startupProbe passed, or there is none). */
static void ctl_local_pod_start_liveness(ctl_local_pod *p)
{
    const ctl_probe *lp = ctl_local_pod_liveness(p);
    p->startup_ok = 1;
    p->lfails = 0;
    if (!lp) return;
    ctl_local_pod_timer(&p->live_t, ctl_local_pod_on_live_tick, ctl_local_pod_first_ms(p, lp),
                        ctl_local_pod_period_ms(p, lp));
}

/* A failure before the process ran: counted like an exit. */
static void ctl_local_pod_spawn_failed(ctl_local_pod *p, const char *what)
{
    ctl_local_pod_event(p, CTL_EVENT_WARNING, "FailedStart", "%s", what);
    p->new_port = 1;
    ctl_local_pod_backoff(p);
}

static void ctl_local_pod_exited(ctl_local_pod *p, int64_t status, int sig, int known);

static void ctl_local_pod_on_exit(uv_process_t *h, int64_t status, int sig)
{
    ctl_local_pod *p = bx_container_of(h, ctl_local_pod, proc);
    ctl_local_pod_proc_close(p);
    if (p->released) return;
    ctl_local_pod_exited(p, status, sig, 1);
}

void ctl_local_pod_spawn(ctl_local_pod *p)
{
    ctl_orch_local *l = p->l;
    if (!p->sp) {
        ctl_local_pod_gone(p);
        return;
    }
    char what[512];
    if (ctl_local_spawn(p, ctl_local_pod_on_exit, what, sizeof(what)) != 0) {
        ctl_local_pod_proc_close(p); /* libuv wants a failed spawn's handle closed too */
        ctl_local_pod_spawn_failed(p, what);
        return;
    }
    l->st.spawns++;
    p->adopted = 0;
    p->adopt_pending = 0;
    p->row_was_ready = 0;
    p->started_ms = ctl_local_unix_ms();
    p->ready_this_launch = 0;
    p->fails = 0;
    p->oks = 0;
    p->sfails = 0;
    p->lfails = 0;
    p->unready = 0;
    p->startup_ok = 0;
    p->sigkilled = 0;
    p->restart_wanted = 0;
    p->tmpl = p->d && p->d->cur ? p->d->cur->tmpl : p->tmpl;
    ctl_local_pod_event(p, CTL_EVENT_NORMAL, "Started", "pid %d on port %d", p->pid, p->port);
    ctl_local_pod_set_phase(p, CTL_POD_STARTING);
    if (p->released || p->phase != CTL_POD_STARTING) return; /* on_change acted */
    const ctl_probe *sp = ctl_local_pod_startup_probe(p);
    if (sp) { /* its budget replaces the startup timeout */
        ctl_local_pod_timer(&p->probe_t, ctl_local_pod_on_probe_tick, ctl_local_pod_first_ms(p, sp),
                            ctl_local_pod_period_ms(p, sp));
        return;
    }
    const ctl_probe *rp = ctl_local_pod_readiness(p);
    ctl_local_pod_timer(&p->probe_t, ctl_local_pod_on_probe_tick,
                        rp->given ? ctl_local_pod_first_ms(p, rp) : ctl_local_pod_probe_ms(p),
                        ctl_local_pod_probe_ms(p));
    ctl_local_pod_timer(&p->state_t, ctl_local_pod_on_state_timer, ctl_local_pod_startup_ms(p), 0);
    ctl_local_pod_start_liveness(p);
}

static void ctl_local_pod_backoff(ctl_local_pod *p)
{
    ctl_orch_local *l = p->l;
    p->restart_wanted = 0;
    if (p->for_good || ctl_local_pod_outdated(p) || p->d->removing || l->closing) {
        ctl_local_pod_gone(p);
        return;
    }
    uint64_t base = ctl_local_ms(l->cfg.backoff_base_s), max = ctl_local_ms(l->cfg.backoff_max_s);
    uint64_t now = uv_now(l->loop);
    if (p->backoff_ms == 0 || (p->ready_at && p->ready_this_launch &&
                               now - p->ready_at >= ctl_local_ms(l->cfg.backoff_reset_s)))
        p->backoff_ms = base;
    uint64_t delay = p->backoff_ms;
    p->backoff_ms = delay * 2 > max ? max : delay * 2;
    if (p->backoff_ms == 0) p->backoff_ms = 1;
    ctl_local_pod_event(p, CTL_EVENT_NORMAL, "Restarting", "restart %d in %.3gs (backoff)",
                        p->restarts + 1, (double)delay / 1000.0);
    ctl_local_pod_set_phase(p, CTL_POD_BACKOFF);
    if (p->released || p->phase != CTL_POD_BACKOFF) return;
    ctl_local_pod_timer(&p->state_t, ctl_local_pod_on_state_timer, delay, 0);
}

/* The process is gone (exit callback, or the liveness poll of an adopted
 * pid). known: status/sig are real. */
static void ctl_local_pod_exited(ctl_local_pod *p, int64_t status, int sig, int known)
{
    int pid = p->pid;
    p->pid = 0;
    /* Leftover members of its process group (engine workers) go too. */
    ctl_local_spawn_kill_group(p->name, pid);
    uv_timer_stop(&p->state_t);
    uv_timer_stop(&p->live_t);
    ctl_local_probe_cancel(&p->probe);
    ctl_local_probe_cancel(&p->lprobe);
    char how[64];
    if (!known)
        snprintf(how, sizeof(how), "exited");
    else if (sig)
        snprintf(how, sizeof(how), "killed by signal %d", sig);
    else
        snprintf(how, sizeof(how), "exited with code %lld", (long long)status);
    if (p->for_good || p->restart_wanted) {
        ctl_local_pod_event(p, CTL_EVENT_NORMAL, "Stopped", "pid %d %s", pid, how);
        if (p->for_good)
            ctl_local_pod_gone(p);
        else
            ctl_local_pod_backoff(p);
        return;
    }
    ctl_local_pod_event(p, CTL_EVENT_WARNING, "Exited", "pid %d %s in phase %s%s", pid, how,
                        ctl_pod_phase_name(p->phase),
                        p->vllm_hint && !p->ready_this_launch
                            ? " (its log says why; where vLLM is not installed, `brix up --engine "
                              "simulator` runs brix's simulator in its place)"
                            : "");
    if (!p->ready_this_launch) p->new_port = 1; /* the port may have been taken */
    ctl_local_pod_backoff(p);
}

/* SIGTERM to the group, SIGKILL after the grace period. */
static void ctl_local_pod_terminate(ctl_local_pod *p)
{
    ctl_local_probe_cancel(&p->probe);
    ctl_local_probe_cancel(&p->lprobe);
    uv_timer_stop(&p->state_t);
    uv_timer_stop(&p->live_t);
    if (p->pid <= 0) {
        if (p->for_good)
            ctl_local_pod_gone(p);
        else
            ctl_local_pod_backoff(p);
        return;
    }
    ctl_local_spawn_signal(p, SIGTERM);
    p->sigkilled = 0;
    ctl_local_pod_set_phase(p, CTL_POD_STOPPING);
    if (p->released) return;
    ctl_local_pod_timer(&p->state_t, ctl_local_pod_on_state_timer, ctl_local_pod_grace_ms(p), 0);
}

static void ctl_local_pod_restart(ctl_local_pod *p)
{
    p->restart_wanted = 1;
    ctl_local_pod_terminate(p);
}

static void ctl_local_pod_drain(ctl_local_pod *p)
{
    uint64_t poll = ctl_local_ms(p->l->cfg.drain_poll_s);
    if (!poll) poll = 1;
    ctl_local_pod_event(p, CTL_EVENT_NORMAL, "Draining",
                        "no new requests; waiting up to %.3gs for those in flight",
                        (double)ctl_local_pod_grace_ms(p) / 1000.0);
    uv_timer_stop(&p->state_t);
    ctl_local_pod_set_phase(p, CTL_POD_DRAINING);
    if (p->released || p->phase != CTL_POD_DRAINING) return;
    ctl_local_pod_timer(&p->state_t, ctl_local_pod_on_state_timer, poll, poll);
}

void ctl_local_pod_stop_for_good(ctl_local_pod *p)
{
    if (p->for_good || p->released) return;
    p->for_good = 1;
    p->restart_wanted = 0;
    switch (p->phase) {
    case CTL_POD_READY:
        ctl_local_pod_drain(p);
        break;
    case CTL_POD_STARTING:
        ctl_local_pod_terminate(p);
        break;
    case CTL_POD_BACKOFF:
        ctl_local_pod_gone(p);
        break;
    case CTL_POD_DRAINING:
    case CTL_POD_STOPPING:
    case CTL_POD_GONE:
        break;
    }
}

/* ---- probes ---- */

static void ctl_local_pod_ready(ctl_local_pod *p)
{
    ctl_orch_local *l = p->l;
    p->fails = 0;
    p->ready_this_launch = 1;
    p->ready_at = uv_now(l->loop);
    p->ready_since_ms = ctl_local_unix_ms();
    uv_timer_stop(&p->state_t);
    if (p->adopt_pending) {
        p->adopt_pending = 0;
        ctl_local_pod_event(p, CTL_EVENT_NORMAL, "Adopted", "pid %d on port %d answers %s", p->pid,
                            p->port, ctl_local_pod_health(p));
    } else if (p->unready) {
        ctl_local_pod_event(p, CTL_EVENT_NORMAL, "Ready",
                            "pid %d on port %d passes its readiness probe again", p->pid, p->port);
    } else {
        ctl_local_pod_event(p, CTL_EVENT_NORMAL, "Ready", "pid %d on port %d after %.3gs", p->pid,
                            p->port, (double)(p->ready_at - p->phase_at) / 1000.0);
    }
    p->unready = 0;
    ctl_local_pod_set_phase(p, CTL_POD_READY);
}

static void ctl_local_pod_readiness_failed(ctl_local_pod *p, const char *why)
{
    const ctl_probe *rp = ctl_local_pod_readiness(p);
    int threshold = ctl_local_pod_threshold(p, rp);
    char desc[128];
    p->oks = 0;
    if (p->phase == CTL_POD_STARTING && !(p->adopt_pending && p->row_was_ready)) return;
    if (++p->fails < threshold) return;
    ctl_local_pod_probe_desc(p, rp, desc, sizeof(desc));
    if (ctl_local_pod_k8s_probes(p) && p->phase == CTL_POD_READY) {
        ctl_local_pod_event(p, CTL_EVENT_WARNING, "Unhealthy",
                            "readiness probe %s failed %d times in a row (%s); not routed until "
                            "it passes",
                            desc, p->fails, why);
        p->unready = 1;
        p->fails = 0;
        ctl_local_pod_set_phase(p, CTL_POD_STARTING); /* no startup deadline: it started */
        return;
    }
    ctl_local_pod_event(p, CTL_EVENT_WARNING, "Unhealthy",
                        "%s failed %d times in a row (%s); restarting", ctl_local_pod_health(p),
                        p->fails, why);
    ctl_local_pod_restart(p);
}

static void ctl_local_pod_probe_done(ctl_local_probe *pr, int res)
{
    ctl_local_pod *p = pr->ud;
    p->pending--;
    if (p->released) {
        ctl_local_pod_maybe_free(p);
        return;
    }
    if (res < 0 || p->pid <= 0) return;
    if (p->phase != CTL_POD_STARTING && p->phase != CTL_POD_READY) return;
    const ctl_probe *sp = ctl_local_pod_startup_probe(p);
    if (!p->startup_ok && sp) {
        if (res) {
            ctl_local_pod_event(p, CTL_EVENT_NORMAL, "Started", "startup probe passed after %.3gs",
                                (double)(uv_now(p->l->loop) - p->phase_at) / 1000.0);
            ctl_local_pod_start_liveness(p);
            const ctl_probe *rp = ctl_local_pod_readiness(p);
            ctl_local_pod_timer(&p->probe_t, ctl_local_pod_on_probe_tick,
                                rp->given ? ctl_local_pod_first_ms(p, rp) : 0,
                                ctl_local_pod_probe_ms(p));
        } else if (++p->sfails >= sp->failure_threshold) {
            char desc[128];
            ctl_local_pod_event(p, CTL_EVENT_WARNING, "Unhealthy",
                                "startup probe %s failed %d times (%s); restarting",
                                ctl_local_pod_probe_desc(p, sp, desc, sizeof(desc)), p->sfails,
                                pr->why);
            ctl_local_pod_restart(p);
        }
        return;
    }
    if (!res) {
        ctl_local_pod_readiness_failed(p, pr->why);
    } else if (p->phase == CTL_POD_READY) {
        p->fails = 0;
    } else if (++p->oks >= ctl_local_pod_readiness(p)->success_threshold || p->adopt_pending) {
        ctl_local_pod_ready(p);
    }
}

static void ctl_local_pod_live_done(ctl_local_probe *pr, int res)
{
    ctl_local_pod *p = pr->ud;
    p->pending--;
    if (p->released) {
        ctl_local_pod_maybe_free(p);
        return;
    }
    const ctl_probe *lp = ctl_local_pod_liveness(p);
    if (res < 0 || p->pid <= 0 || !lp) return;
    if (p->phase != CTL_POD_STARTING && p->phase != CTL_POD_READY) return;
    if (res) {
        p->lfails = 0;
        return;
    }
    if (++p->lfails < lp->failure_threshold) return;
    char desc[128];
    ctl_local_pod_event(p, CTL_EVENT_WARNING, "Unhealthy",
                        "liveness probe %s failed %d times in a row (%s); restarting",
                        ctl_local_pod_probe_desc(p, lp, desc, sizeof(desc)), p->lfails, pr->why);
    ctl_local_pod_restart(p);
}

static void ctl_local_pod_probe_run(ctl_local_pod *p, ctl_local_probe *pr, const ctl_probe *spec,
                                    ctl_local_probe_cb done)
{
    if (ctl_local_probe_busy(pr)) return;
    int rc =
        ctl_local_probe_start(pr, p->l, spec, p->port, ctl_local_pod_timeout_ms(p, spec), done, p);
    if (rc != 0) {
        bx_warn("ctl_orch_local: probe of %s: %s", p->name, bx_http_strerror(rc));
        return;
    }
    p->pending++;
}

static void ctl_local_pod_probe(ctl_local_pod *p)
{
    const ctl_probe *sp = ctl_local_pod_startup_probe(p);
    const ctl_probe *spec = !p->startup_ok && sp ? sp : ctl_local_pod_readiness(p);
    ctl_local_pod_probe_run(p, &p->probe, spec, ctl_local_pod_probe_done);
}

/* ---- timers ---- */

static void ctl_local_pod_on_probe_tick(uv_timer_t *t)
{
    ctl_local_pod *p = bx_container_of(t, ctl_local_pod, probe_t);
    if (p->released || p->pid <= 0) return;
    if (p->adopted) {
        int64_t status = 0;
        int sig = 0, known = 0;
        if (ctl_local_spawn_dead(p, &status, &sig, &known)) {
            ctl_local_pod_exited(p, status, sig, known);
            return;
        }
    }
    if (p->phase == CTL_POD_STARTING || p->phase == CTL_POD_READY) ctl_local_pod_probe(p);
}

static void ctl_local_pod_on_live_tick(uv_timer_t *t)
{
    ctl_local_pod *p = bx_container_of(t, ctl_local_pod, live_t);
    const ctl_probe *lp = ctl_local_pod_liveness(p);
    if (p->released || p->pid <= 0 || !lp || !p->startup_ok) return;
    if (p->phase == CTL_POD_STARTING || p->phase == CTL_POD_READY)
        ctl_local_pod_probe_run(p, &p->lprobe, lp, ctl_local_pod_live_done);
}

static void ctl_local_pod_on_state_timer(uv_timer_t *t)
{
    ctl_local_pod *p = bx_container_of(t, ctl_local_pod, state_t);
    ctl_orch_local *l = p->l;
    if (p->released) return;
    switch (p->phase) {
    case CTL_POD_STARTING:
        ctl_local_pod_event(p, CTL_EVENT_WARNING, "Unhealthy",
                            "not ready %.3gs after start; restarting",
                            (double)ctl_local_pod_startup_ms(p) / 1000.0);
        ctl_local_pod_restart(p);
        break;
    case CTL_POD_BACKOFF:
        if (p->for_good || ctl_local_pod_outdated(p) || p->d->removing || l->closing) {
            ctl_local_pod_gone(p);
        } else if (p->proc_open || p->proc_closing) {
            ctl_local_pod_timer(&p->state_t, ctl_local_pod_on_state_timer, CTL_LOCAL_REAP_RETRY_MS,
                                0);
        } else {
            p->restarts++;
            l->st.restarts++;
            ctl_local_pod_spawn(p);
        }
        break;
    case CTL_POD_DRAINING: {
        ctl_podview v;
        ctl_local_pod_view(p, &v);
        int n = ctl_orch_inflight(&l->base, &v);
        if (p->released || p->phase != CTL_POD_DRAINING) break;
        if (n <= 0 || uv_now(l->loop) - p->phase_at >= ctl_local_pod_grace_ms(p))
            ctl_local_pod_terminate(p);
        break;
    }
    case CTL_POD_STOPPING:
        if (!p->sigkilled) {
            p->sigkilled = 1;
            l->st.killed++;
            ctl_local_pod_event(p, CTL_EVENT_WARNING, "Killed",
                                "pid %d still running %.3gs after SIGTERM; sent SIGKILL", p->pid,
                                (double)ctl_local_pod_grace_ms(p) / 1000.0);
            ctl_local_spawn_signal(p, SIGKILL);
            ctl_local_pod_timer(&p->state_t, ctl_local_pod_on_state_timer, CTL_LOCAL_GIVE_UP_MS, 0);
        } else if (p->adopted) {
            bx_error("ctl_orch_local: %s pid %d survives SIGKILL; forgetting it", p->name, p->pid);
            ctl_local_pod_exited(p, 0, 0, 0);
        }
        /* our child: its exit callback will come */
        break;
    case CTL_POD_READY:
    case CTL_POD_GONE:
        break;
    }
}

/* ---- adoption ---- */

void ctl_local_pod_adopt(ctl_local_pod *p, const ctl_pod *row, int for_stop)
{
    ctl_orch_local *l = p->l;
    l->st.adopted++;
    p->pid = row->pid;
    p->port = row->port;
    snprintf(p->url, sizeof(p->url), "http://%s:%d", CTL_LOCAL_HOST, p->port);
    p->restarts = row->restarts;
    p->generation = row->generation;
    p->started_ms = row->started_ms;
    p->tmpl =
        p->d && p->d->cur && row->generation == p->d->cur->o->generation ? p->d->cur->tmpl : 0;
    p->adopted = 1;
    p->adopt_pending = 1;
    p->startup_ok = 1;
    p->row_was_ready = strcmp(row->state, "Ready") == 0;
    uint64_t period = ctl_local_pod_probe_ms(p);
    if (for_stop) {
        p->for_good = 1;
        ctl_local_pod_timer(&p->probe_t, ctl_local_pod_on_probe_tick, period, period);
        ctl_local_pod_terminate(p);
        return;
    }
    ctl_local_pod_set_phase(p, CTL_POD_STARTING);
    if (p->released || p->phase != CTL_POD_STARTING) return;
    ctl_local_pod_timer(&p->probe_t, ctl_local_pod_on_probe_tick, 0, period);
    if (!p->row_was_ready)
        ctl_local_pod_timer(&p->state_t, ctl_local_pod_on_state_timer, ctl_local_pod_startup_ms(p),
                            0);
    ctl_local_pod_start_liveness(p);
}
