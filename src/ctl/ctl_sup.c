/* ctl_sup: the engine supervisor (see ctl_sup.h for the phases and API).
 *
 * Structure. A sup_dep per Deployment holds its current settings (a
 * refcounted sup_spec: a private copy of the ctl_obj plus a template id that
 * changes only when the command/env/labels change) and its pods. A sup_pod
 * embeds its uv_process_t and two timers: probe_t ticks every probe period
 * (readiness GET, and for adopted pods the kill(pid, 0) liveness poll), and
 * state_t carries the one deadline of the current phase (startup timeout,
 * backoff delay, drain poll, SIGKILL after grace). Phase changes go through
 * set_phase, which writes the row, calls on_change and marks the deployment
 * for reconciling.
 *
 * Reconciling (desired replicas vs. pods) runs synchronously from
 * ctl_sup_apply and, for changes coming from the loop (a pod became Ready or
 * Gone), from a zero-delay "kick" timer, so callbacks never recurse into it.
 *
 * Lifetime: a pod that reaches Gone (or is left running at close) is
 * "released": unlinked from its deployment, its handles closed, any probe
 * cancelled; it is freed once every close callback and the probe's on_done
 * came back (pending == 0). Freed memory is therefore never touched by a
 * libuv callback, and views stay valid until control returns to the loop. */
#include "ctl/ctl_sup.h"

#include "common/bx_http.h"
#include "common/bx_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SUP_EVENT_KIND "Deployment"
#define SUP_POD_NAME_MAX 128
#define SUP_GIVE_UP_MS 5000 /* adopted pod still alive this long after SIGKILL */
#define SUP_REAP_RETRY_MS 10

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

const char *ctl_pod_phase_name(ctl_pod_phase p)
{
    switch (p) {
    case CTL_POD_STARTING:
        return "Starting";
    case CTL_POD_READY:
        return "Ready";
    case CTL_POD_DRAINING:
        return "Draining";
    case CTL_POD_STOPPING:
        return "Stopping";
    case CTL_POD_BACKOFF:
        return "Backoff";
    case CTL_POD_GONE:
        return "Gone";
    }
    return "Unknown";
}

typedef struct sup_spec {
    ctl_obj *o; /* owned copy */
    int refs;
    int tmpl; /* template id within its deployment */
} sup_spec;

typedef struct sup_dep sup_dep;
typedef struct sup_pod sup_pod;

struct sup_pod {
    ctl_sup *s;
    sup_dep *d;   /* NULL once released */
    sup_spec *sp; /* settings it runs with; NULL for orphans */
    sup_pod *next;
    char name[SUP_POD_NAME_MAX];
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
    int fails;             /* consecutive failed probes */
    int probe_status;
    int sigkilled;
    int released;
    int pending; /* close callbacks and probe on_done outstanding */
    uv_process_t proc;
    uv_timer_t probe_t, state_t;
    bx_http_creq *probe;
};

struct sup_dep {
    ctl_sup *s;
    sup_dep *next;
    char name[CTL_NAME_MAX + 1];
    sup_spec *cur; /* NULL for a stub holding orphans */
    int desired;
    int removing;
    int dirty;
    int tmpl_seq;
    sup_pod *pods; /* by replica, then name */
};

struct ctl_sup {
    uv_loop_t *loop;
    ctl_store *store;
    ctl_sup_cbs cbs;
    void *ud;
    char *brix;
    char *log_dir;
    ctl_sup_cfg cfg; /* numbers only; strings above */
    char *pass_env[CTL_SUP_MAX_PASS_ENV + 1];
    char *set_env[CTL_SUP_MAX_PASS_ENV + 1]; /* "NAME=value" */
    bx_http_client *http;
    uv_timer_t kick;
    sup_dep *deps;
    sup_pod *dying;
    int in_reconcile;
    int closing, finished;
    void (*done)(void *ud);
    void *done_ud;
    int next_port;
    ctl_sup_stats st;
};

/* ---- small helpers ---- */

static int64_t unix_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t ms_of(double s)
{
    if (!(s > 0)) return 0;
    if (s > 1e9) s = 1e9;
    return (uint64_t)(s * 1000.0 + 0.5);
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const ctl_deployment *pod_dep(const sup_pod *p)
{
    return p->sp ? &p->sp->o->u.dep : NULL;
}

static uint64_t pod_probe_ms(const sup_pod *p)
{
    const ctl_sup *s = p->s;
    uint64_t ms = ms_of(s->cfg.probe_period_s);
    if (!ms && pod_dep(p)) ms = ms_of(pod_dep(p)->probe_period_s);
    return ms ? ms : 1000;
}

static uint64_t pod_grace_ms(const sup_pod *p)
{
    return pod_dep(p) ? ms_of(pod_dep(p)->drain_grace_s) : ms_of(p->s->cfg.orphan_grace_s);
}

static uint64_t pod_startup_ms(const sup_pod *p)
{
    uint64_t ms = pod_dep(p) ? ms_of(pod_dep(p)->startup_timeout_s) : 0;
    return ms ? ms : 600000;
}

static const char *pod_health(const sup_pod *p)
{
    const ctl_deployment *d = pod_dep(p);
    return d && d->health_path ? d->health_path : "/health";
}

static void spec_unref(sup_spec *sp)
{
    if (!sp || --sp->refs > 0) return;
    ctl_obj_free(sp->o);
    free(sp);
}

static sup_spec *spec_ref(sup_spec *sp)
{
    if (sp) sp->refs++;
    return sp;
}

static void pod_view(const sup_pod *p, ctl_podview *v)
{
    memset(v, 0, sizeof(*v));
    v->name = p->name;
    v->deployment = p->dep;
    v->model = pod_dep(p) && pod_dep(p)->model ? pod_dep(p)->model : "";
    v->url = p->url;
    v->labels = pod_dep(p) ? pod_dep(p)->pod_labels : NULL;
    v->replica = p->replica;
    v->port = p->port;
    v->pid = p->pid;
    v->phase = p->phase;
    v->restarts = p->restarts;
    v->ready_since_ms = p->ready_since_ms;
}

static void sup_event(sup_pod *p, ctl_event_type type, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void sup_event(sup_pod *p, ctl_event_type type, const char *reason, const char *fmt, ...)
{
    char msg[768], full[1024], err[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full), "pod %s: %s", p->name, msg);
    if (type == CTL_EVENT_WARNING)
        bx_warn("%s %s: %s", reason, p->dep, full);
    else
        bx_info("%s %s: %s", reason, p->dep, full);
    if (ctl_store_event(p->s->store, SUP_EVENT_KIND, p->dep, type, reason, full, 0, err,
                        sizeof(err)) != 0)
        bx_warn("ctl_sup: event for %s: %s", p->name, err);
}

static void pod_write_row(sup_pod *p)
{
    char err[256];
    if (p->phase == CTL_POD_GONE) {
        if (ctl_store_pod_delete(p->s->store, p->name, err, sizeof(err)) < 0)
            bx_warn("ctl_sup: deleting pod row %s: %s", p->name, err);
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
    if (ctl_store_pod_put(p->s->store, &r, 0, err, sizeof(err)) != 0)
        bx_warn("ctl_sup: writing pod row %s: %s", p->name, err);
}

static void kick(ctl_sup *s);

static void timer_start(uv_timer_t *t, uv_timer_cb cb, uint64_t timeout, uint64_t repeat)
{
    int r = uv_timer_start(t, cb, timeout, repeat);
    if (r != 0) bx_error("ctl_sup: uv_timer_start: %s", uv_strerror(r));
}

static void dep_mark(sup_dep *d)
{
    if (!d) return;
    d->dirty = 1;
    kick(d->s);
}

static void set_phase(sup_pod *p, ctl_pod_phase ph)
{
    p->phase = ph;
    p->phase_at = uv_now(p->s->loop);
    pod_write_row(p);
    if (p->s->cbs.on_change) {
        ctl_podview v;
        pod_view(p, &v);
        p->s->cbs.on_change(p->s->ud, &v);
    }
    dep_mark(p->d);
}

static void signal_group(sup_pod *p, int sig)
{
    if (p->pid <= 0) return;
    if (kill(-p->pid, sig) == 0) return;
    int e = errno;
    if (e == ESRCH && kill(p->pid, sig) == 0) return; /* not a group leader */
    e = errno;
    if (e != ESRCH) bx_warn("ctl_sup: kill %s pid %d: %s", p->name, p->pid, strerror(e));
}

/* ---- pod lifetime ---- */

static void sup_maybe_finish(ctl_sup *s);

static void pod_maybe_free(sup_pod *p)
{
    if (!p->released || p->pending > 0) return;
    ctl_sup *s = p->s;
    for (sup_pod **pp = &s->dying; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    spec_unref(p->sp);
    free(p);
    if (s->closing) kick(s);
}

static void on_pod_handle_closed(uv_handle_t *h)
{
    sup_pod *p = h->data;
    if (h == (uv_handle_t *)&p->proc) p->proc_closing = 0;
    p->pending--;
    pod_maybe_free(p);
}

static void proc_close(sup_pod *p)
{
    if (!p->proc_open) return;
    p->proc_open = 0;
    p->proc_closing = 1;
    p->pending++;
    p->proc.data = p;
    uv_close((uv_handle_t *)&p->proc, on_pod_handle_closed);
}

static void probe_cancel(sup_pod *p)
{
    if (p->probe) bx_http_client_cancel(p->probe); /* on_done comes later */
}

/* Unlinks p from its deployment and closes what it holds; freed once every
 * callback came back. The process, if any, is left alone (its row too). */
static void pod_release(sup_pod *p)
{
    if (p->released) return;
    ctl_sup *s = p->s;
    sup_dep *d = p->d;
    if (d) {
        for (sup_pod **pp = &d->pods; *pp; pp = &(*pp)->next) {
            if (*pp == p) {
                *pp = p->next;
                break;
            }
        }
        dep_mark(d);
    }
    p->d = NULL;
    p->released = 1;
    p->next = s->dying;
    s->dying = p;
    s->st.pods--;
    probe_cancel(p);
    uv_timer_stop(&p->probe_t);
    uv_timer_stop(&p->state_t);
    p->probe_t.data = p;
    p->state_t.data = p;
    p->pending += 2;
    uv_close((uv_handle_t *)&p->probe_t, on_pod_handle_closed);
    uv_close((uv_handle_t *)&p->state_t, on_pod_handle_closed);
    proc_close(p);
}

static void go_gone(sup_pod *p)
{
    uv_timer_stop(&p->state_t);
    probe_cancel(p);
    set_phase(p, CTL_POD_GONE);
    pod_release(p);
}

/* ---- ports ---- */

static int port_used_by_us(ctl_sup *s, int port, const sup_pod *self)
{
    for (sup_dep *d = s->deps; d; d = d->next)
        for (sup_pod *p = d->pods; p; p = p->next)
            if (p != self && p->port == port) return 1;
    return 0;
}

/* Binds 127.0.0.1:port (0: any) and closes; returns the port bound, 0 when
 * it is taken, -1 on a socket error. */
static int port_try(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    if (port && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
        close(fd);
        return -1;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int got = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        socklen_t len = sizeof(a);
        if (getsockname(fd, (struct sockaddr *)&a, &len) == 0)
            got = ntohs(a.sin_port);
        else
            got = -1;
    } else if (errno != EADDRINUSE && errno != EACCES) {
        got = -1;
    }
    close(fd);
    return got;
}

static int port_alloc(ctl_sup *s, const sup_pod *self)
{
    if (s->cfg.port_min > 0) {
        int n = s->cfg.port_max - s->cfg.port_min + 1;
        for (int k = 0; k < n; k++) {
            int port = s->cfg.port_min + (s->next_port + k) % n;
            if (port_used_by_us(s, port, self)) continue;
            int r = port_try(port);
            if (r < 0) return -1;
            if (r > 0) {
                s->next_port = (port - s->cfg.port_min + 1) % n;
                return port;
            }
        }
        return -1;
    }
    for (int tries = 0; tries < 32; tries++) {
        int r = port_try(0);
        if (r < 0) return -1;
        if (r > 0 && !port_used_by_us(s, r, self)) return r;
    }
    return -1;
}

/* ---- launching ---- */

static const char *const base_env[] = {"PATH", "HOME",   "USER", "LOGNAME",
                                       "LANG", "LC_ALL", "TZ",   "TMPDIR"};

static int env_has(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=') return 1;
    return 0;
}

/* envp (the deployment's, rendered), then set_env's and the passed-through
 * variables not set there. *extra gets the strings to free
 * (NULL-terminated). */
static char **env_build(ctl_sup *s, char **envp, char ***extra)
{
    size_t ndep = 0, npass = 0, nset = 0;
    while (envp && envp[ndep])
        ndep++;
    while (s->pass_env[npass])
        npass++;
    while (s->set_env[nset])
        nset++;
    size_t nbase = sizeof(base_env) / sizeof(base_env[0]);
    size_t cap = ndep + nset + nbase + npass + 1;
    char **env = calloc(cap, sizeof(*env));
    char **ex = calloc(nbase + npass + 1, sizeof(*ex));
    if (!env || !ex) {
        free(env);
        free(ex);
        return NULL;
    }
    size_t n = 0, nx = 0;
    for (size_t i = 0; i < ndep; i++)
        env[n++] = envp[i];
    for (size_t i = 0; i < nset; i++) { /* the deployment's own value wins */
        const char *kv = s->set_env[i];
        size_t l = strcspn(kv, "=");
        size_t k = 0;
        while (k < ndep && !(strncmp(envp[k], kv, l) == 0 && envp[k][l] == '='))
            k++;
        if (k == ndep) env[n++] = s->set_env[i];
    }
    for (size_t i = 0; i < nbase + npass; i++) {
        const char *name = i < nbase ? base_env[i] : s->pass_env[i - nbase];
        if (env_has(env, name) || env_has(ex, name)) continue;
        const char *val = getenv(name);
        if (!val) continue;
        size_t len = strlen(name) + strlen(val) + 2;
        char *kv = malloc(len);
        if (!kv) {
            for (size_t j = 0; j < nx; j++)
                free(ex[j]);
            free(ex);
            free(env);
            return NULL;
        }
        snprintf(kv, len, "%s=%s", name, val);
        ex[nx++] = kv;
        env[n++] = kv;
    }
    *extra = ex;
    return env;
}

static int log_open(ctl_sup *s, sup_pod *p, char **argv)
{
    if (!s->log_dir) return -1;
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s.log", s->log_dir, p->name);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        bx_warn("ctl_sup: log path too long for %s", p->name);
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        bx_warn("ctl_sup: open %s: %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    size_t off = 0;
    int w =
        snprintf(line, sizeof(line), "--- brix: launching %s (restart %d):", p->name, p->restarts);
    if (w > 0) off = (size_t)w < sizeof(line) ? (size_t)w : sizeof(line) - 1;
    for (size_t i = 0; argv[i] && off + 2 < sizeof(line); i++) {
        w = snprintf(line + off, sizeof(line) - off, " %s", argv[i]);
        if (w < 0) break;
        off += (size_t)w < sizeof(line) - off ? (size_t)w : sizeof(line) - off - 1;
    }
    if (off + 2 > sizeof(line)) off = sizeof(line) - 2;
    line[off++] = '\n';
    if (write(fd, line, off) < 0) bx_warn("ctl_sup: write %s: %s", path, strerror(errno));
    return fd;
}

static void on_exit_cb(uv_process_t *h, int64_t status, int sig);
static void schedule_backoff(sup_pod *p);
static void on_probe_tick(uv_timer_t *t);
static void on_state_timer(uv_timer_t *t);

/* A failure before the process ran: counted like an exit. */
static void spawn_failed(sup_pod *p, const char *what)
{
    sup_event(p, CTL_EVENT_WARNING, "FailedStart", "%s", what);
    p->new_port = 1;
    schedule_backoff(p);
}

static void spawn(sup_pod *p)
{
    ctl_sup *s = p->s;
    char err[256];
    if (!p->sp) {
        go_gone(p);
        return;
    }
    if (p->port <= 0 || p->new_port || port_try(p->port) <= 0) {
        int port = port_alloc(s, p);
        if (port <= 0) {
            spawn_failed(p, "no free port");
            return;
        }
        p->port = port;
    }
    p->new_port = 0;
    snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", p->port);

    /* engines listen on loopback: the probe, the gateway and the adapter
     * controller all reach them on 127.0.0.1 */
    ctl_render_vars vars = {
        .brix = s->brix, .host = "127.0.0.1", .port = p->port, .replica = p->replica};
    char **argv = NULL, **envp = NULL;
    if (ctl_deployment_render(p->sp->o, &vars, &argv, &envp, err, sizeof(err)) != 0) {
        spawn_failed(p, err);
        return;
    }
    char **extra = NULL;
    char **env = env_build(s, envp, &extra);
    if (!env) {
        free(argv);
        free(envp);
        spawn_failed(p, "out of memory");
        return;
    }
    int fd = log_open(s, p, argv);
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    for (int i = 1; i < 3; i++) {
        if (fd >= 0) {
            stdio[i].flags = UV_INHERIT_FD;
            stdio[i].data.fd = fd;
        } else {
            stdio[i].flags = UV_IGNORE;
        }
    }
    uv_process_options_t o;
    memset(&o, 0, sizeof(o));
    o.exit_cb = on_exit_cb;
    o.file = argv[0];
    o.args = argv;
    o.env = env;
    o.flags = UV_PROCESS_DETACHED; /* setsid: own session and process group */
    o.stdio_count = 3;
    o.stdio = stdio;
    int r = uv_spawn(s->loop, &p->proc, &o);
    p->proc.data = p;
    p->proc_open = 1;
    char what[512];
    snprintf(what, sizeof(what), "%s: %s", argv[0], r ? uv_strerror(r) : "");
    if (fd >= 0) close(fd);
    for (size_t i = 0; extra[i]; i++)
        free(extra[i]);
    free(extra);
    free(env);
    free(argv);
    free(envp);
    if (r != 0) {
        proc_close(p); /* libuv wants a failed spawn's handle closed too */
        spawn_failed(p, what);
        return;
    }
    s->st.spawns++;
    p->pid = p->proc.pid;
    p->adopted = 0;
    p->adopt_pending = 0;
    p->row_was_ready = 0;
    p->started_ms = unix_ms();
    p->ready_this_launch = 0;
    p->fails = 0;
    p->sigkilled = 0;
    p->restart_wanted = 0;
    p->tmpl = p->d && p->d->cur ? p->d->cur->tmpl : p->tmpl;
    sup_event(p, CTL_EVENT_NORMAL, "Started", "pid %d on port %d", p->pid, p->port);
    set_phase(p, CTL_POD_STARTING);
    if (p->released || p->phase != CTL_POD_STARTING) return; /* on_change acted */
    uint64_t period = pod_probe_ms(p);
    timer_start(&p->probe_t, on_probe_tick, period, period);
    timer_start(&p->state_t, on_state_timer, pod_startup_ms(p), 0);
}

static int pod_outdated(const sup_pod *p)
{
    return !p->d || !p->d->cur || p->tmpl != p->d->cur->tmpl;
}

static void schedule_backoff(sup_pod *p)
{
    ctl_sup *s = p->s;
    p->restart_wanted = 0;
    if (p->for_good || pod_outdated(p) || p->d->removing || s->closing) {
        go_gone(p);
        return;
    }
    uint64_t base = ms_of(s->cfg.backoff_base_s), max = ms_of(s->cfg.backoff_max_s);
    uint64_t now = uv_now(s->loop);
    if (p->backoff_ms == 0 ||
        (p->ready_at && p->ready_this_launch && now - p->ready_at >= ms_of(s->cfg.backoff_reset_s)))
        p->backoff_ms = base;
    uint64_t delay = p->backoff_ms;
    p->backoff_ms = delay * 2 > max ? max : delay * 2;
    if (p->backoff_ms == 0) p->backoff_ms = 1;
    sup_event(p, CTL_EVENT_NORMAL, "Restarting", "restart %d in %.3gs (backoff)", p->restarts + 1,
              (double)delay / 1000.0);
    set_phase(p, CTL_POD_BACKOFF);
    if (p->released || p->phase != CTL_POD_BACKOFF) return;
    timer_start(&p->state_t, on_state_timer, delay, 0);
}

/* The process is gone (exit callback, or the liveness poll of an adopted
 * pid). known: status/sig are real. */
static void pod_exited(sup_pod *p, int64_t status, int sig, int known)
{
    int pid = p->pid;
    p->pid = 0;
    /* Leftover members of its process group (engine workers) go too. */
    if (pid > 0 && kill(-pid, SIGKILL) != 0 && errno != ESRCH && errno != EPERM)
        bx_warn("ctl_sup: kill group of %s: %s", p->name, strerror(errno));
    uv_timer_stop(&p->state_t);
    probe_cancel(p);
    char how[64];
    if (!known)
        snprintf(how, sizeof(how), "exited");
    else if (sig)
        snprintf(how, sizeof(how), "killed by signal %d", sig);
    else
        snprintf(how, sizeof(how), "exited with code %lld", (long long)status);
    if (p->for_good || p->restart_wanted) {
        sup_event(p, CTL_EVENT_NORMAL, "Stopped", "pid %d %s", pid, how);
        if (p->for_good)
            go_gone(p);
        else
            schedule_backoff(p);
        return;
    }
    sup_event(p, CTL_EVENT_WARNING, "Exited", "pid %d %s in phase %s", pid, how,
              ctl_pod_phase_name(p->phase));
    if (!p->ready_this_launch) p->new_port = 1; /* the port may have been taken */
    schedule_backoff(p);
}

static void on_exit_cb(uv_process_t *h, int64_t status, int sig)
{
    sup_pod *p = container_of(h, sup_pod, proc);
    proc_close(p);
    if (p->released) return;
    pod_exited(p, status, sig, 1);
}

/* SIGTERM to the group, SIGKILL after the grace period. */
static void terminate(sup_pod *p)
{
    probe_cancel(p);
    uv_timer_stop(&p->state_t);
    if (p->pid <= 0) {
        if (p->for_good)
            go_gone(p);
        else
            schedule_backoff(p);
        return;
    }
    signal_group(p, SIGTERM);
    p->sigkilled = 0;
    set_phase(p, CTL_POD_STOPPING);
    if (p->released) return;
    timer_start(&p->state_t, on_state_timer, pod_grace_ms(p), 0);
}

static void restart_pod(sup_pod *p)
{
    p->restart_wanted = 1;
    terminate(p);
}

static void drain(sup_pod *p)
{
    uint64_t poll = ms_of(p->s->cfg.drain_poll_s);
    if (!poll) poll = 1;
    sup_event(p, CTL_EVENT_NORMAL, "Draining",
              "no new requests; waiting up to %.3gs for those in flight",
              (double)pod_grace_ms(p) / 1000.0);
    uv_timer_stop(&p->state_t);
    set_phase(p, CTL_POD_DRAINING);
    if (p->released || p->phase != CTL_POD_DRAINING) return;
    timer_start(&p->state_t, on_state_timer, poll, poll);
}

/* Stops p for good: drained when the gateway routes to it. */
static void stop_for_good(sup_pod *p)
{
    if (p->for_good || p->released) return;
    p->for_good = 1;
    p->restart_wanted = 0;
    switch (p->phase) {
    case CTL_POD_READY:
        drain(p);
        break;
    case CTL_POD_STARTING:
        terminate(p);
        break;
    case CTL_POD_BACKOFF:
        go_gone(p);
        break;
    case CTL_POD_DRAINING:
    case CTL_POD_STOPPING:
    case CTL_POD_GONE:
        break;
    }
}

/* ---- timers and probes ---- */

static void became_ready(sup_pod *p)
{
    ctl_sup *s = p->s;
    p->fails = 0;
    p->ready_this_launch = 1;
    p->ready_at = uv_now(s->loop);
    p->ready_since_ms = unix_ms();
    uv_timer_stop(&p->state_t);
    if (p->adopt_pending) {
        p->adopt_pending = 0;
        sup_event(p, CTL_EVENT_NORMAL, "Adopted", "pid %d on port %d answers %s", p->pid, p->port,
                  pod_health(p));
    } else {
        sup_event(p, CTL_EVENT_NORMAL, "Ready", "pid %d on port %d after %.3gs", p->pid, p->port,
                  (double)(p->ready_at - p->phase_at) / 1000.0);
    }
    set_phase(p, CTL_POD_READY);
}

static void probe_failed(sup_pod *p, int err)
{
    int threshold = p->s->cfg.failure_threshold;
    char why[96];
    if (err)
        snprintf(why, sizeof(why), "%s", bx_http_strerror(err));
    else
        snprintf(why, sizeof(why), "HTTP %d", p->probe_status);
    if (p->phase == CTL_POD_STARTING && !(p->adopt_pending && p->row_was_ready)) return;
    if (++p->fails < threshold) return;
    sup_event(p, CTL_EVENT_WARNING, "Unhealthy", "%s failed %d times in a row (%s); restarting",
              pod_health(p), p->fails, why);
    restart_pod(p);
}

static void on_probe_response(bx_http_creq *cr, int status, const bx_http_header *h, size_t nh,
                              void *ud)
{
    sup_pod *p = ud;
    p->probe_status = status;
}

static void on_probe_done(bx_http_creq *cr, int err, void *ud)
{
    sup_pod *p = ud;
    p->probe = NULL;
    p->pending--;
    if (p->released) {
        pod_maybe_free(p);
        return;
    }
    if (err == BX_HTTP_ECANCELED || p->pid <= 0) return;
    int ok = err == 0 && p->probe_status == 200;
    if (p->phase == CTL_POD_STARTING) {
        if (ok)
            became_ready(p);
        else
            probe_failed(p, err);
    } else if (p->phase == CTL_POD_READY) {
        if (ok)
            p->fails = 0;
        else
            probe_failed(p, err);
    }
}

static void probe_start(sup_pod *p)
{
    ctl_sup *s = p->s;
    if (p->probe || !s->http) return;
    bx_http_client_req r;
    memset(&r, 0, sizeof(r));
    r.method = "GET";
    r.host = "127.0.0.1";
    r.port = p->port;
    r.path = pod_health(p);
    r.timeout_ms = ms_of(s->cfg.probe_timeout_s);
    bx_http_client_cbs cbs = {
        .on_response = on_probe_response, .on_data = NULL, .on_done = on_probe_done};
    p->probe_status = 0;
    int rc = bx_http_client_request(s->http, &r, &cbs, p, &p->probe);
    if (rc != 0) {
        p->probe = NULL;
        bx_warn("ctl_sup: probe of %s: %s", p->name, bx_http_strerror(rc));
        return;
    }
    p->pending++;
}

/* 1 when the adopted pid is gone (reaped here when it is our child). */
static int adopted_dead(sup_pod *p, int64_t *status, int *sig, int *known)
{
    int ws;
    pid_t r = waitpid(p->pid, &ws, WNOHANG);
    if (r == p->pid) {
        *known = 1;
        if (WIFSIGNALED(ws)) {
            *sig = WTERMSIG(ws);
            *status = 0;
        } else {
            *sig = 0;
            *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 0;
        }
        return 1;
    }
    *known = 0;
    if (kill(p->pid, 0) != 0 && errno == ESRCH) return 1;
    return 0;
}

static void on_probe_tick(uv_timer_t *t)
{
    sup_pod *p = container_of(t, sup_pod, probe_t);
    if (p->released || p->pid <= 0) return;
    if (p->adopted) {
        int64_t status = 0;
        int sig = 0, known = 0;
        if (adopted_dead(p, &status, &sig, &known)) {
            pod_exited(p, status, sig, known);
            return;
        }
    }
    if (p->phase == CTL_POD_STARTING || p->phase == CTL_POD_READY) probe_start(p);
}

static void on_state_timer(uv_timer_t *t)
{
    sup_pod *p = container_of(t, sup_pod, state_t);
    ctl_sup *s = p->s;
    if (p->released) return;
    switch (p->phase) {
    case CTL_POD_STARTING:
        sup_event(p, CTL_EVENT_WARNING, "Unhealthy", "not ready %.3gs after start; restarting",
                  (double)pod_startup_ms(p) / 1000.0);
        restart_pod(p);
        break;
    case CTL_POD_BACKOFF:
        if (p->for_good || pod_outdated(p) || p->d->removing || s->closing) {
            go_gone(p);
        } else if (p->proc_open || p->proc_closing) {
            timer_start(&p->state_t, on_state_timer, SUP_REAP_RETRY_MS, 0);
        } else {
            p->restarts++;
            s->st.restarts++;
            spawn(p);
        }
        break;
    case CTL_POD_DRAINING: {
        int n = 0;
        if (s->cbs.inflight) {
            ctl_podview v;
            pod_view(p, &v);
            n = s->cbs.inflight(s->ud, &v);
        }
        if (p->released || p->phase != CTL_POD_DRAINING) break;
        if (n <= 0 || uv_now(s->loop) - p->phase_at >= pod_grace_ms(p)) terminate(p);
        break;
    }
    case CTL_POD_STOPPING:
        if (!p->sigkilled) {
            p->sigkilled = 1;
            s->st.killed++;
            sup_event(p, CTL_EVENT_WARNING, "Killed",
                      "pid %d still running %.3gs after SIGTERM; sent SIGKILL", p->pid,
                      (double)pod_grace_ms(p) / 1000.0);
            signal_group(p, SIGKILL);
            timer_start(&p->state_t, on_state_timer, SUP_GIVE_UP_MS, 0);
        } else if (p->adopted) {
            bx_error("ctl_sup: %s pid %d survives SIGKILL; forgetting it", p->name, p->pid);
            pod_exited(p, 0, 0, 0);
        }
        /* our child: its exit callback will come */
        break;
    case CTL_POD_READY:
    case CTL_POD_GONE:
        break;
    }
}

/* ---- deployments and reconciling ---- */

static sup_dep *dep_find(ctl_sup *s, const char *name)
{
    for (sup_dep *d = s->deps; d; d = d->next)
        if (strcmp(d->name, name) == 0) return d;
    return NULL;
}

static sup_dep *dep_get(ctl_sup *s, const char *name)
{
    sup_dep *d = dep_find(s, name);
    if (d) return d;
    d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->s = s;
    snprintf(d->name, sizeof(d->name), "%s", name);
    sup_dep **pp = &s->deps;
    while (*pp && strcmp((*pp)->name, name) < 0)
        pp = &(*pp)->next;
    d->next = *pp;
    *pp = d;
    return d;
}

static int name_taken(ctl_sup *s, const char *name)
{
    for (sup_dep *d = s->deps; d; d = d->next)
        for (sup_pod *p = d->pods; p; p = p->next)
            if (strcmp(p->name, name) == 0) return 1;
    return 0;
}

static void dep_insert(sup_dep *d, sup_pod *p)
{
    sup_pod **pp = &d->pods;
    while (*pp && ((*pp)->replica < p->replica ||
                   ((*pp)->replica == p->replica && strcmp((*pp)->name, p->name) < 0)))
        pp = &(*pp)->next;
    p->next = *pp;
    *pp = p;
}

static sup_pod *pod_new(sup_dep *d, int replica, const char *name)
{
    ctl_sup *s = d->s;
    sup_pod *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->s = s;
    p->d = d;
    p->replica = replica;
    snprintf(p->dep, sizeof(p->dep), "%s", d->name);
    if (name) {
        snprintf(p->name, sizeof(p->name), "%s", name);
    } else {
        snprintf(p->name, sizeof(p->name), "%s-%d", d->name, replica);
        long long gen = d->cur ? (long long)d->cur->o->generation : 0;
        for (int k = 1; name_taken(s, p->name); k++) {
            if (k == 1)
                snprintf(p->name, sizeof(p->name), "%s-%d-g%lld", d->name, replica, gen);
            else
                snprintf(p->name, sizeof(p->name), "%s-%d-g%lld-%d", d->name, replica, gen, k);
        }
    }
    p->sp = spec_ref(d->cur);
    p->generation = d->cur ? d->cur->o->generation : 0;
    p->tmpl = d->cur ? d->cur->tmpl : 0;
    p->phase = CTL_POD_BACKOFF; /* not yet launched */
    int r = uv_timer_init(s->loop, &p->probe_t);
    if (r == 0) r = uv_timer_init(s->loop, &p->state_t);
    if (r != 0) {
        /* Cannot happen on Unix. A half-initialized handle may be linked
         * into the loop, so the pod is leaked rather than freed. */
        bx_error("ctl_sup: uv_timer_init: %s", uv_strerror(r));
        return NULL;
    }
    p->probe_t.data = p;
    p->state_t.data = p;
    dep_insert(d, p);
    s->st.pods++;
    return p;
}

static void pod_launch_new(sup_dep *d, int replica)
{
    sup_pod *p = pod_new(d, replica, NULL);
    if (!p) {
        bx_error("ctl_sup: out of memory starting %s-%d", d->name, replica);
        return;
    }
    spawn(p);
}

static int pod_current(const sup_pod *p)
{
    return !pod_outdated(p);
}

#define SUP_SLOT_MAX 32

static void reconcile(sup_dep *d)
{
    ctl_sup *s = d->s;
    d->dirty = 0;
    s->in_reconcile++;
    int want = (d->removing || s->closing || !d->cur) ? 0 : d->desired;

    /* Indexes beyond the wanted count: highest first. */
    for (;;) {
        sup_pod *hi = NULL;
        for (sup_pod *p = d->pods; p; p = p->next)
            if (p->replica >= want && !p->for_good && (!hi || p->replica >= hi->replica)) hi = p;
        if (!hi) break;
        stop_for_good(hi);
    }

    sup_pod *slot[SUP_SLOT_MAX];
    int surging = 0;
    for (int i = 0; i < want; i++) {
        int cur_wait = 0, old_ready = 0;
        for (sup_pod *p = d->pods; p; p = p->next) {
            if (p->replica != i || p->for_good) continue;
            if (pod_current(p) && p->phase != CTL_POD_READY) cur_wait = 1;
            if (!pod_current(p) && p->phase == CTL_POD_READY) old_ready = 1;
        }
        surging += cur_wait && old_ready;
    }

    for (int i = 0; i < want; i++) {
        size_t n = 0;
        for (sup_pod *p = d->pods; p && n < SUP_SLOT_MAX; p = p->next)
            if (p->replica == i && !p->for_good) slot[n++] = p;
        sup_pod *cur = NULL;
        int old_ready = 0, old_adopting = 0;
        for (size_t k = 0; k < n; k++) {
            if (!pod_current(slot[k])) {
                old_ready |= slot[k]->phase == CTL_POD_READY;
                old_adopting |= slot[k]->adopt_pending && slot[k]->phase == CTL_POD_STARTING;
                continue;
            }
            if (!cur || (slot[k]->phase == CTL_POD_READY && cur->phase != CTL_POD_READY))
                cur = slot[k];
        }
        for (size_t k = 0; k < n; k++) /* duplicates of the current template */
            if (pod_current(slot[k]) && slot[k] != cur) stop_for_good(slot[k]);
        if (!cur) {
            if (old_ready) {
                if (surging < 1) {
                    surging++;
                    pod_launch_new(d, i);
                }
            } else if (!old_adopting) { /* else: wait until we know it serves */
                for (size_t k = 0; k < n; k++)
                    stop_for_good(slot[k]);
                pod_launch_new(d, i);
            }
        } else {
            for (size_t k = 0; k < n; k++)
                if (slot[k] != cur &&
                    (cur->phase == CTL_POD_READY || slot[k]->phase != CTL_POD_READY))
                    stop_for_good(slot[k]);
        }
    }
    s->in_reconcile--;
}

static void dep_free(sup_dep *d)
{
    ctl_sup *s = d->s;
    for (sup_dep **pp = &s->deps; *pp; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    }
    spec_unref(d->cur);
    free(d);
}

static void sup_free_done(uv_handle_t *h)
{
    ctl_sup *s = h->data;
    void (*done)(void *) = s->done;
    void *ud = s->done_ud;
    for (size_t i = 0; s->pass_env[i]; i++)
        free(s->pass_env[i]);
    for (size_t i = 0; s->set_env[i]; i++)
        free(s->set_env[i]);
    free(s->brix);
    free(s->log_dir);
    free(s);
    if (done) done(ud);
}

static void sup_maybe_finish(ctl_sup *s)
{
    if (!s->closing || s->finished || s->deps || s->dying) return;
    s->finished = 1;
    uv_timer_stop(&s->kick);
    if (s->http) bx_http_client_close(s->http);
    s->http = NULL;
    s->kick.data = s;
    uv_close((uv_handle_t *)&s->kick, sup_free_done);
}

static void on_kick(uv_timer_t *t)
{
    ctl_sup *s = container_of(t, ctl_sup, kick);
    /* Deployments are freed only here, so d stays valid across reconcile;
     * one marked again meanwhile is done at the next kick. */
    for (sup_dep *d = s->deps; d; d = d->next)
        if (d->dirty) reconcile(d);
    for (sup_dep *d = s->deps, *next; d; d = next) {
        next = d->next;
        if ((d->removing || s->closing) && !d->pods) dep_free(d);
    }
    sup_maybe_finish(s);
}

static void kick(ctl_sup *s)
{
    if (s->finished) return;
    timer_start(&s->kick, on_kick, 0, 0);
}

/* ---- API ---- */

void ctl_sup_cfg_default(ctl_sup_cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->brix_path = "brix";
    c->backoff_base_s = 1;
    c->backoff_max_s = 60;
    c->backoff_reset_s = 60;
    c->probe_timeout_s = 1;
    c->failure_threshold = 3;
    c->drain_poll_s = 0.25;
    c->orphan_grace_s = 30;
}

int ctl_sup_init(ctl_sup **out, uv_loop_t *loop, ctl_store *store, const ctl_sup_cfg *cfg,
                 const ctl_sup_cbs *cbs, void *ud, char *err, size_t errlen)
{
    *out = NULL;
    if (!loop || !store) {
        seterr(err, errlen, "ctl_sup: loop and store are required");
        return -1;
    }
    ctl_sup_cfg def, c;
    ctl_sup_cfg_default(&def);
    if (cfg)
        c = *cfg;
    else
        c = def;
    if (!c.brix_path) c.brix_path = def.brix_path;
    if (!(c.backoff_base_s > 0)) c.backoff_base_s = def.backoff_base_s;
    if (!(c.backoff_max_s > 0)) c.backoff_max_s = def.backoff_max_s;
    if (c.backoff_max_s < c.backoff_base_s) c.backoff_max_s = c.backoff_base_s;
    if (!(c.backoff_reset_s > 0)) c.backoff_reset_s = def.backoff_reset_s;
    if (!(c.probe_timeout_s > 0)) c.probe_timeout_s = def.probe_timeout_s;
    if (c.failure_threshold <= 0) c.failure_threshold = def.failure_threshold;
    if (!(c.drain_poll_s > 0)) c.drain_poll_s = def.drain_poll_s;
    if (!(c.orphan_grace_s >= 0)) c.orphan_grace_s = def.orphan_grace_s;
    if (c.probe_period_s < 0) c.probe_period_s = 0;
    if (c.port_min < 0 || c.port_max > 65535 || (c.port_min > 0 && c.port_max < c.port_min) ||
        (c.port_min == 0 && c.port_max != 0)) {
        seterr(err, errlen, "ctl_sup: bad port range %d-%d", c.port_min, c.port_max);
        return -1;
    }
    ctl_sup *s = calloc(1, sizeof(*s));
    if (!s) goto oom;
    s->loop = loop;
    s->store = store;
    if (cbs) s->cbs = *cbs;
    s->ud = ud;
    s->cfg = c;
    s->cfg.brix_path = NULL;
    s->cfg.log_dir = NULL;
    s->cfg.pass_env = NULL;
    s->cfg.set_env = NULL;
    s->brix = strdup(c.brix_path);
    if (!s->brix) goto oom;
    if (c.log_dir && !(s->log_dir = strdup(c.log_dir))) goto oom;
    for (size_t i = 0; c.pass_env && c.pass_env[i]; i++) {
        if (i >= CTL_SUP_MAX_PASS_ENV) {
            seterr(err, errlen, "ctl_sup: more than %d pass_env names", CTL_SUP_MAX_PASS_ENV);
            goto fail;
        }
        if (!(s->pass_env[i] = strdup(c.pass_env[i]))) goto oom;
    }
    for (size_t i = 0; c.set_env && c.set_env[i]; i++) {
        if (i >= CTL_SUP_MAX_PASS_ENV || !strchr(c.set_env[i], '=')) {
            seterr(err, errlen, "ctl_sup: set_env wants at most %d NAME=value strings",
                   CTL_SUP_MAX_PASS_ENV);
            goto fail;
        }
        if (!(s->set_env[i] = strdup(c.set_env[i]))) goto oom;
    }
    int r = bx_http_client_init(&s->http, loop, NULL);
    if (r != 0) {
        seterr(err, errlen, "ctl_sup: http client: %s", bx_http_strerror(r));
        goto fail;
    }
    r = uv_timer_init(loop, &s->kick);
    if (r != 0) {
        seterr(err, errlen, "ctl_sup: uv_timer_init: %s", uv_strerror(r));
        bx_http_client_close(s->http);
        goto fail;
    }
    s->kick.data = s;
    *out = s;
    return 0;
oom:
    seterr(err, errlen, "ctl_sup: out of memory");
fail:
    if (s) {
        for (size_t i = 0; s->pass_env[i]; i++)
            free(s->pass_env[i]);
        for (size_t i = 0; s->set_env[i]; i++)
            free(s->set_env[i]);
        free(s->brix);
        free(s->log_dir);
        free(s);
    }
    return -1;
}

static int str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* 1 when pods launched from a and b would run the same thing. */
static int tmpl_equal(const ctl_obj *a, const ctl_obj *b)
{
    const ctl_deployment *x = &a->u.dep, *y = &b->u.dep;
    if (x->argc != y->argc || x->nenv != y->nenv) return 0;
    for (size_t i = 0; i < x->argc; i++)
        if (!str_eq(x->argv[i], y->argv[i])) return 0;
    for (size_t i = 0; i < x->nenv; i++)
        if (!str_eq(x->env[i].name, y->env[i].name) || !str_eq(x->env[i].value, y->env[i].value))
            return 0;
    if (!str_eq(x->model, y->model) || !str_eq(x->engine, y->engine)) return 0;
    if (!x->pod_labels != !y->pod_labels) return 0;
    return !x->pod_labels || json_equal(x->pod_labels, y->pod_labels);
}

/* Registers (or updates) the deployment's settings; no reconciling. */
static sup_dep *dep_set(ctl_sup *s, const ctl_obj *obj, int replicas, char *err, size_t errlen)
{
    if (s->closing) {
        seterr(err, errlen, "ctl_sup: closing");
        return NULL;
    }
    if (!obj || obj->kind != CTL_KIND_DEPLOYMENT) {
        seterr(err, errlen, "ctl_sup: not a Deployment");
        return NULL;
    }
    if (replicas < 0 || replicas > CTL_MAX_REPLICAS) {
        seterr(err, errlen, "Deployment %s: replicas %d out of 0..%d", obj->name, replicas,
               CTL_MAX_REPLICAS);
        return NULL;
    }
    sup_dep *d = dep_find(s, obj->name);
    if (d && d->cur && d->cur->o->generation == obj->generation &&
        json_equal(d->cur->o->raw, obj->raw)) {
        d->desired = replicas;
        d->removing = 0;
        return d;
    }
    ctl_obj *copy = NULL;
    if (ctl_obj_parse(obj->raw, &copy, err, errlen) != 0) return NULL;
    copy->generation = obj->generation;
    sup_spec *sp = calloc(1, sizeof(*sp));
    if (!sp || !(d = dep_get(s, obj->name))) {
        free(sp);
        ctl_obj_free(copy);
        seterr(err, errlen, "ctl_sup: out of memory");
        return NULL;
    }
    sp->o = copy;
    sp->refs = 1;
    if (d->cur && tmpl_equal(d->cur->o, copy)) {
        /* Same template: running pods take the new settings. */
        sp->tmpl = d->cur->tmpl;
        for (sup_pod *p = d->pods; p; p = p->next) {
            if (p->tmpl != sp->tmpl) continue;
            spec_unref(p->sp);
            p->sp = spec_ref(sp);
            p->generation = copy->generation;
            pod_write_row(p);
        }
    } else {
        sp->tmpl = ++d->tmpl_seq;
    }
    spec_unref(d->cur);
    d->cur = sp;
    d->desired = replicas;
    d->removing = 0;
    return d;
}

static void dep_reconcile_now(sup_dep *d)
{
    if (d->s->in_reconcile)
        dep_mark(d);
    else
        reconcile(d);
}

int ctl_sup_apply(ctl_sup *s, const ctl_obj *deployment, int replicas, char *err, size_t errlen)
{
    sup_dep *d = dep_set(s, deployment, replicas, err, errlen);
    if (!d) return -1;
    dep_reconcile_now(d);
    return 0;
}

static int pid_alive_leader(int pid)
{
    if (pid <= 0) return 0;
    if (kill(pid, 0) != 0 && errno != EPERM) return 0;
    return getpgid(pid) == pid; /* we launch every engine as its own group leader */
}

/* Pods for the store's rows of d that are alive; dead rows are deleted.
 * for_stop: take them over only to stop them. */
static int adopt_rows(ctl_sup *s, sup_dep *d, int for_stop, char *err, size_t errlen)
{
    ctl_pod *rows = NULL;
    size_t n = 0;
    if (ctl_store_pod_list(s->store, d->name, &rows, &n, err, errlen) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        ctl_pod *r = &rows[i];
        if (name_taken(s, r->name)) continue;
        char e2[256];
        if (!pid_alive_leader(r->pid)) {
            bx_info("ctl_sup: pod %s (pid %d) is gone; forgetting its row", r->name, r->pid);
            if (ctl_store_pod_delete(s->store, r->name, e2, sizeof(e2)) < 0)
                bx_warn("ctl_sup: deleting pod row %s: %s", r->name, e2);
            continue;
        }
        sup_pod *p = pod_new(d, r->replica, r->name);
        if (!p) {
            free(rows);
            seterr(err, errlen, "ctl_sup: out of memory");
            return -1;
        }
        s->st.adopted++;
        p->pid = r->pid;
        p->port = r->port;
        snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", p->port);
        p->restarts = r->restarts;
        p->generation = r->generation;
        p->started_ms = r->started_ms;
        p->tmpl = d->cur && r->generation == d->cur->o->generation ? d->cur->tmpl : 0;
        p->adopted = 1;
        p->adopt_pending = 1;
        p->row_was_ready = strcmp(r->state, "Ready") == 0;
        uint64_t period = pod_probe_ms(p);
        if (for_stop) {
            p->for_good = 1;
            timer_start(&p->probe_t, on_probe_tick, period, period);
            terminate(p);
            continue;
        }
        set_phase(p, CTL_POD_STARTING);
        if (p->released || p->phase != CTL_POD_STARTING) continue;
        timer_start(&p->probe_t, on_probe_tick, 0, period);
        if (!p->row_was_ready) timer_start(&p->state_t, on_state_timer, pod_startup_ms(p), 0);
    }
    free(rows);
    return 0;
}

int ctl_sup_adopt(ctl_sup *s, const ctl_obj *deployment, int replicas, char *err, size_t errlen)
{
    sup_dep *d = dep_set(s, deployment, replicas, err, errlen);
    if (!d) return -1;
    int r = adopt_rows(s, d, 0, err, errlen);
    dep_reconcile_now(d);
    return r;
}

int ctl_sup_remove(ctl_sup *s, const char *deployment, char *err, size_t errlen)
{
    if (s->closing) {
        seterr(err, errlen, "ctl_sup: closing");
        return -1;
    }
    if (!deployment || !ctl_name_valid(deployment)) {
        seterr(err, errlen, "ctl_sup: bad deployment name");
        return -1;
    }
    sup_dep *d = dep_find(s, deployment);
    int r = 0;
    if (!d) {
        if (!(d = dep_get(s, deployment))) {
            seterr(err, errlen, "ctl_sup: out of memory");
            return -1;
        }
        d->removing = 1;
        r = adopt_rows(s, d, 1, err, errlen);
    }
    d->removing = 1;
    dep_reconcile_now(d);
    dep_mark(d); /* frees it once empty */
    return r;
}

size_t ctl_sup_pods(ctl_sup *s, const char *deployment, ctl_podview *out, size_t max)
{
    size_t n = 0;
    for (sup_dep *d = s->deps; d; d = d->next) {
        if (deployment && strcmp(d->name, deployment) != 0) continue;
        for (sup_pod *p = d->pods; p; p = p->next) {
            if (p->phase == CTL_POD_GONE) continue;
            if (n < max && out) pod_view(p, &out[n]);
            n++;
        }
    }
    return n;
}

void ctl_sup_get_stats(const ctl_sup *s, ctl_sup_stats *out)
{
    *out = s->st;
}

void ctl_sup_close(ctl_sup *s, int stop_pods, void (*done)(void *ud), void *ud)
{
    if (!s || s->closing) return;
    s->closing = 1;
    s->done = done;
    s->done_ud = ud;
    if (stop_pods) {
        for (sup_dep *d = s->deps; d; d = d->next) {
            d->removing = 1;
            d->dirty = 1;
        }
    } else {
        for (sup_dep *d = s->deps; d; d = d->next)
            while (d->pods)
                pod_release(d->pods); /* processes and rows stay */
    }
    kick(s);
}
