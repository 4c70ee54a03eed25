/* ctl_local_spawn: the local orchestrator's process mechanics (see
 * ctl_local_int.h): ports (a range handed out round-robin, or the
 * kernel's choice, each checked by binding it before a launch; a pod
 * publishing KV events takes port + CTL_KV_EVENTS_OFFSET and the next
 * too, checked the same way), the
 * environment (clean, plus what the config passes or sets, the
 * deployment's env winning), the per-pod log file (appended, a
 * "--- brix: launching" line before each launch), uv_spawn in a new
 * session and process group, signals to that group, and the liveness
 * check of adopted pids. It knows nothing of phases: the pod state
 * machine (ctl_local_pod.c) decides, this file does. */
#include "ctl/ctl_local_int.h"

#include "common/bx_apikey.h"
#include "common/bx_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- ports ---- */

/* 1 when p publishes KV events: it also takes port + CTL_KV_EVENTS_OFFSET
 * and the one after */
static int ctl_local_spawn_kv(const ctl_local_pod *p)
{
    return p->sp && p->sp->o->u.dep.kv_events;
}

/* 1 when a and b's port sets ({P}, or {P, P + O, P + O + 1}) meet. */
static int ctl_local_spawn_ports_meet(int a, int akv, int b, int bkv)
{
    for (int i = 0; i < (akv ? 3 : 1); i++)
        for (int j = 0; j < (bkv ? 3 : 1); j++) {
            int x = a + (i ? CTL_KV_EVENTS_OFFSET + i - 1 : 0);
            int y = b + (j ? CTL_KV_EVENTS_OFFSET + j - 1 : 0);
            if (x == y) return 1;
        }
    return 0;
}

static int ctl_local_spawn_port_ours(ctl_orch_local *l, int port, const ctl_local_pod *self)
{
    bx_queue *qd, *qp;
    int kv = ctl_local_spawn_kv(self);
    BX_QUEUE_FOREACH(qd, &l->deps)
    {
        ctl_local_dep *d = bx_container_of(qd, ctl_local_dep, link);
        BX_QUEUE_FOREACH(qp, &d->pods)
        {
            const ctl_local_pod *p = bx_container_of(qp, ctl_local_pod, link);
            if (p != self && p->port > 0 &&
                ctl_local_spawn_ports_meet(port, kv, p->port, ctl_local_spawn_kv(p)))
                return 1;
        }
    }
    return 0;
}

/* Binds 127.0.0.1:port (0: any) and closes; returns the port bound, 0 when
 * it is taken, -1 on a socket error. */
static int ctl_local_spawn_port_try(int port)
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

/* ctl_local_spawn_port_try for port and, when kv, port + O and the one
 * after (port 0: the kernel's choice, then those): the port, 0 taken, -1
 * a socket error. */
static int ctl_local_spawn_port_free(int port, int kv)
{
    int r = ctl_local_spawn_port_try(port);
    if (r <= 0 || !kv) return r;
    if (r + CTL_KV_EVENTS_OFFSET + 1 > 65535) return 0;
    for (int i = 0; i < 2; i++) {
        int k = ctl_local_spawn_port_try(r + CTL_KV_EVENTS_OFFSET + i);
        if (k <= 0) return k;
    }
    return r;
}

static int ctl_local_spawn_port_alloc(ctl_orch_local *l, const ctl_local_pod *self)
{
    if (l->cfg.port_min > 0) {
        int n = l->cfg.port_max - l->cfg.port_min + 1;
        for (int k = 0; k < n; k++) {
            int port = l->cfg.port_min + (l->next_port + k) % n;
            if (ctl_local_spawn_port_ours(l, port, self)) continue;
            int r = ctl_local_spawn_port_free(port, ctl_local_spawn_kv(self));
            if (r < 0) return -1;
            if (r > 0) {
                l->next_port = (port - l->cfg.port_min + 1) % n;
                return port;
            }
        }
        return -1;
    }
    for (int tries = 0; tries < 32; tries++) {
        int r = ctl_local_spawn_port_free(0, ctl_local_spawn_kv(self));
        if (r < 0) return -1;
        if (r > 0 && !ctl_local_spawn_port_ours(l, r, self)) return r;
    }
    return -1;
}

/* ---- environment and log file ---- */

static const char *const ctl_local_spawn_base_env[] = {"PATH", "HOME",   "USER", "LOGNAME",
                                                       "LANG", "LC_ALL", "TZ",   "TMPDIR"};

static int ctl_local_spawn_env_has(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=') return 1;
    return 0;
}

/* envp (the deployment's, rendered), then set_env's and the passed-through
 * variables not set there. *extra gets the strings to free
 * (NULL-terminated). */
static char **ctl_local_spawn_env_build(ctl_orch_local *l, char **envp, char ***extra)
{
    size_t ndep = 0, npass = 0, nset = 0;
    while (envp && envp[ndep])
        ndep++;
    while (l->pass_env[npass])
        npass++;
    while (l->set_env[nset])
        nset++;
    size_t nbase = sizeof(ctl_local_spawn_base_env) / sizeof(ctl_local_spawn_base_env[0]);
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
        const char *kv = l->set_env[i];
        size_t len = strcspn(kv, "=");
        size_t k = 0;
        while (k < ndep && !(strncmp(envp[k], kv, len) == 0 && envp[k][len] == '='))
            k++;
        if (k == ndep) env[n++] = l->set_env[i];
    }
    for (size_t i = 0; i < nbase + npass; i++) {
        const char *name = i < nbase ? ctl_local_spawn_base_env[i] : l->pass_env[i - nbase];
        if (ctl_local_spawn_env_has(env, name) || ctl_local_spawn_env_has(ex, name)) continue;
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

static int ctl_local_spawn_log_open(ctl_orch_local *l, ctl_local_pod *p, char **argv)
{
    if (!l->log_dir) return -1;
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s.log", l->log_dir, p->name);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        bx_warn("ctl_orch_local: log path too long for %s", p->name);
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        bx_warn("ctl_orch_local: open %s: %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    size_t off = 0;
    int w =
        snprintf(line, sizeof(line), "--- brix: launching %s (restart %d):", p->name, p->restarts);
    if (w > 0) off = (size_t)w < sizeof(line) ? (size_t)w : sizeof(line) - 1;
    /* the engine's --api-key is a secret: <redacted> in the log */
    char key[CTL_API_KEY_MAX], red[1024];
    bx_apikey_from_words((const char *const *)argv, (size_t)-1, key, sizeof(key));
    for (size_t i = 0; argv[i] && off + 2 < sizeof(line); i++) {
        bx_apikey_redact(argv[i], key, red, sizeof(red));
        w = snprintf(line + off, sizeof(line) - off, " %s", red);
        if (w < 0) break;
        off += (size_t)w < sizeof(line) - off ? (size_t)w : sizeof(line) - off - 1;
    }
    if (off + 2 > sizeof(line)) off = sizeof(line) - 2;
    line[off++] = '\n';
    if (write(fd, line, off) < 0) bx_warn("ctl_orch_local: write %s: %s", path, strerror(errno));
    return fd;
}

/* ---- launching ---- */

int ctl_local_spawn(ctl_local_pod *p, uv_exit_cb on_exit, char *why, size_t whylen)
{
    ctl_orch_local *l = p->l;
    char err[256];
    int fixed = p->sp ? p->sp->o->u.dep.fixed_port : 0;
    if (fixed > 0) {
        p->port = fixed; /* the command picks its own port: brix only reaches it there */
    } else if (p->port <= 0 || p->new_port ||
               ctl_local_spawn_port_free(p->port, ctl_local_spawn_kv(p)) <= 0) {
        int port = ctl_local_spawn_port_alloc(l, p);
        if (port <= 0) {
            snprintf(why, whylen, "no free port");
            return -1;
        }
        p->port = port;
    }
    p->new_port = 0;
    snprintf(p->url, sizeof(p->url), "http://%s:%d", CTL_LOCAL_HOST, p->port);

    /* engines listen on loopback: the probe, the gateway and the adapter
     * controller all reach them on 127.0.0.1 */
    ctl_render_vars vars = {
        .brix = l->brix, .host = CTL_LOCAL_HOST, .port = p->port, .replica = p->replica};
    char **argv = NULL, **envp = NULL;
    if (ctl_deployment_render(p->sp->o, &vars, &argv, &envp, err, sizeof(err)) != 0) {
        snprintf(why, whylen, "%s", err);
        return -1;
    }
    char **sim = NULL;
    int is_vllm = ctl_local_vllm_is_server(argv);
    if (is_vllm && l->cfg.engine_simulator && ctl_local_vllm_translate(argv, l->brix, &sim) < 0) {
        free(argv);
        free(envp);
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    const char *missing = l->cfg.engine_simulator ? NULL : ctl_local_vllm_missing(argv);
    /* a RayCluster worker's Ray node: brix engine as a group worker */
    if (!sim && l->cfg.engine_simulator &&
        ctl_local_vllm_ray_worker(argv, l->brix, p->port, &sim) < 0) {
        free(argv);
        free(envp);
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    if (missing) {
        free(argv);
        free(envp);
        snprintf(why, whylen,
                 "%s: not found on PATH: %s is not installed here; `brix up --engine simulator` "
                 "runs brix's simulator in its place",
                 missing, !strcmp(missing, "ray") ? "Ray" : "vLLM");
        return -1;
    }
    char **run = sim ? sim : argv;
    char **extra = NULL;
    char **env = ctl_local_spawn_env_build(l, envp, &extra);
    if (!env) {
        ctl_local_vllm_free(sim);
        free(argv);
        free(envp);
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    int fd = ctl_local_spawn_log_open(l, p, run);
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
    o.exit_cb = on_exit;
    o.file = run[0];
    o.args = run;
    o.env = env;
    o.flags = UV_PROCESS_DETACHED; /* setsid: own session and process group */
    o.stdio_count = 3;
    o.stdio = stdio;
    int r = uv_spawn(l->loop, &p->proc, &o);
    p->proc.data = p;
    p->proc_open = 1;
    if (r == UV_ENOENT && is_vllm && !sim)
        snprintf(why, whylen,
                 "%s: not found on PATH: vLLM is not installed here; `brix up --engine simulator` "
                 "runs brix's simulator in its place",
                 run[0]);
    else
        snprintf(why, whylen, "%s: %s", run[0], r ? uv_strerror(r) : "");
    p->vllm_hint = is_vllm && !sim;
    p->simulated = sim != NULL;
    ctl_local_vllm_free(sim);
    if (fd >= 0) close(fd);
    for (size_t i = 0; extra[i]; i++)
        free(extra[i]);
    free(extra);
    free(env);
    free(argv);
    free(envp);
    if (r != 0) return -1;
    p->pid = p->proc.pid;
    return 0;
}

/* ---- signals and liveness ---- */

void ctl_local_spawn_signal(ctl_local_pod *p, int sig)
{
    if (p->pid <= 0) return;
    if (kill(-p->pid, sig) == 0) return;
    int e = errno;
    if (e == ESRCH && kill(p->pid, sig) == 0) return; /* not a group leader */
    e = errno;
    if (e != ESRCH) bx_warn("ctl_orch_local: kill %s pid %d: %s", p->name, p->pid, strerror(e));
}

void ctl_local_spawn_kill_group(const char *pod, int pid)
{
    if (pid > 0 && kill(-pid, SIGKILL) != 0 && errno != ESRCH && errno != EPERM)
        bx_warn("ctl_orch_local: kill group of %s: %s", pod, strerror(errno));
}

int ctl_local_spawn_dead(ctl_local_pod *p, int64_t *status, int *sig, int *known)
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

int ctl_local_spawn_alive_leader(int pid)
{
    if (pid <= 0) return 0;
    if (kill(pid, 0) != 0 && errno != EPERM) return 0;
    return getpgid(pid) == pid; /* we launch every engine as its own group leader */
}
