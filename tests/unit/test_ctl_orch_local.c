/* The local orchestrator (ctl_orch_local, driven through the ctl_orch
 * table) with real child processes: each engine is python3 running a tiny
 * HTTP server (PY below) on {port}, answering /health with 200 (or the
 * status given by status=N), optionally ignoring SIGTERM (noterm) or
 * exiting with a code after a while (exit=SECONDS:CODE). The loop runs
 * until a condition holds (bounded by a generous deadline that only turns a
 * hang into a failure); nothing asserts how long anything took. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl/ctl_obj.h"
#include "ctl/ctl_store.h"
#include "ctl/ctl_orch_local.h"
#include "loop_fixture.h"

static const char *PY =
    "import sys,os,signal,threading,time\n"
    "from http.server import HTTPServer,BaseHTTPRequestHandler\n"
    "port=int(sys.argv[1]);code=200;sick=None;t0=time.time()\n"
    "for o in sys.argv[2:]:\n"
    "  k,_,v=o.partition('=')\n"
    "  if k=='exit':\n"
    "    s,c=v.split(':');threading.Timer(float(s),lambda c=int(c):os._exit(c)).start()\n"
    "  elif k=='noterm': signal.signal(signal.SIGTERM,signal.SIG_IGN)\n"
    "  elif k=='status': code=int(v)\n"
    "  elif k=='sick': sick=float(v)\n"
    "  elif k=='badport' and int(v)==port: sys.exit(98)\n"
    "class H(BaseHTTPRequestHandler):\n"
    "  def do_GET(self):\n"
    "    c=code if self.path=='/health' else 404\n"
    "    if sick is not None and time.time()-t0>sick: c=500\n"
    "    self.send_response(c);self.send_header('Content-Length','2');self.end_headers()\n"
    "    self.wfile.write(b'ok')\n"
    "  def log_message(self,*a): pass\n"
    "print('listening',port,'FOO=%s SECRET=%s SET=%s'%(os.environ.get('FOO'),"
    "os.environ.get('BRIX_TEST_SECRET'),os.environ.get('BRIX_TEST_SET')),flush=True)\n"
    "HTTPServer(('127.0.0.1',port),H).serve_forever()\n";

#define MAX_LOG 1024
#define MAX_PIDS 64

/* Every engine pid any test saw, so that a failed test (which leaves by
 * longjmp, skipping its teardown) does not leave servers behind: main kills
 * those that are still unreaped children of this process. */
static int all_pids[4096];
static size_t n_all_pids;

typedef struct change {
    char name[128];
    ctl_pod_phase phase;
    int pid;
} change;

typedef struct T {
    uv_loop_t loop;
    uv_timer_t tick;
    ctl_store *store;
    ctl_orch *sup;
    char logdir[64];
    change log[MAX_LOG];
    size_t nlog;
    int pids[MAX_PIDS];
    size_t npids;
    char inflight_name[128];
    int inflight_val;
    int inflight_calls;
    int closed;
    int port_lo, port_hi; /* cfg overrides for the next sup_new */
    double reset_s;
} T;

static void on_change(void *ud, const ctl_podview *v)
{
    T *t = ud;
    assert_true(t->nlog < MAX_LOG);
    change *c = &t->log[t->nlog++];
    snprintf(c->name, sizeof(c->name), "%s", v->name);
    c->phase = v->phase;
    c->pid = v->pid;
    assert_non_null(v->url);
    assert_non_null(v->deployment);
    assert_string_equal(v->host, "127.0.0.1");
    if (v->phase == CTL_POD_READY) {
        char want[64];
        snprintf(want, sizeof(want), "http://127.0.0.1:%d", v->port);
        assert_string_equal(v->url, want);
        assert_true(v->ready_since_ms > 0);
    }
    if (v->pid > 0) {
        size_t i = 0;
        while (i < t->npids && t->pids[i] != v->pid)
            i++;
        if (i == t->npids) {
            assert_true(t->npids < MAX_PIDS);
            t->pids[t->npids++] = v->pid;
            if (n_all_pids < sizeof(all_pids) / sizeof(all_pids[0]))
                all_pids[n_all_pids++] = v->pid;
        }
    }
}

static int inflight(void *ud, const ctl_podview *v)
{
    T *t = ud;
    if (strcmp(v->name, t->inflight_name) != 0) return 0;
    assert_int_equal(v->phase, CTL_POD_DRAINING);
    t->inflight_calls++;
    return t->inflight_val;
}

/* Events go to the store, as brix up records them. */
static void on_event(void *ud, const char *kind, const char *name, ctl_event_type type,
                     const char *reason, const char *message)
{
    T *t = ud;
    char err[256];
    if (ctl_store_event(t->store, kind, name, type, reason, message, 0, err, sizeof(err)) != 0)
        fail_msg("event: %s", err);
}

static void on_tick(uv_timer_t *h)
{
    (void)h;
}

static void sup_new(T *t)
{
    ctl_orch_local_cfg cfg;
    ctl_orch_local_cfg_default(&cfg);
    cfg.brix_path = "/nonexistent/brix";
    cfg.log_dir = t->logdir;
    cfg.backoff_base_s = 0.1;
    cfg.backoff_max_s = 0.4;
    cfg.probe_period_s = 0.05;
    cfg.probe_timeout_s = 1;
    cfg.drain_poll_s = 0.05;
    /* set_env: given to every engine, but the deployment's FOO=bar wins */
    static const char *const set_env[] = {"BRIX_TEST_SET=on", "FOO=from-set-env", NULL};
    cfg.set_env = set_env;
    if (t->port_lo) {
        cfg.port_min = t->port_lo;
        cfg.port_max = t->port_hi;
    }
    if (t->reset_s > 0) cfg.backoff_reset_s = t->reset_s;
    ctl_orch_cbs cbs = {.on_change = on_change, .inflight = inflight, .on_event = on_event};
    char err[256] = "";
    int r = ctl_orch_local_init(&t->sup, &t->loop, t->store, &cfg, &cbs, t, err, sizeof(err));
    if (r != 0) fail_msg("ctl_orch_local_init: %s", err);
    assert_string_equal(ctl_orch_name(t->sup), "local");
}

static T *setup(void)
{
    T *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    assert_int_equal(uv_loop_init(&t->loop), 0);
    assert_int_equal(uv_timer_init(&t->loop, &t->tick), 0);
    assert_int_equal(uv_timer_start(&t->tick, on_tick, 20, 20), 0);
    char err[256];
    assert_int_equal(ctl_store_open(":memory:", &t->store, err, sizeof(err)), 0);
    snprintf(t->logdir, sizeof(t->logdir), "/tmp/brix-sup-XXXXXX");
    assert_non_null(mkdtemp(t->logdir));
    sup_new(t);
    return t;
}

static int find_pod(T *t, const char *name, ctl_podview *out)
{
    ctl_podview v[64];
    size_t n = ctl_orch_pods(t->sup, NULL, v, 64);
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].name, name) == 0) {
            *out = v[i];
            return 1;
        }
    }
    return 0;
}

typedef struct want_pod {
    const char *name;
    ctl_pod_phase phase;
    int not_pid;  /* pid must differ from this (0: any) */
    int restarts; /* at least */
} want_pod;

static int pod_is(T *t, const void *arg)
{
    const want_pod *w = arg;
    ctl_podview v = {0};
    if (!find_pod(t, w->name, &v)) return 0;
    return v.phase == w->phase && v.pid > 0 && v.pid != w->not_pid && v.restarts >= w->restarts;
}

static int pod_absent(T *t, const void *arg)
{
    ctl_podview v = {0};
    return !find_pod(t, arg, &v);
}

static int saw_phase(T *t, const char *name, ctl_pod_phase ph)
{
    for (size_t i = 0; i < t->nlog; i++)
        if (strcmp(t->log[i].name, name) == 0 && t->log[i].phase == ph) return (int)i + 1;
    return 0;
}

typedef struct want_change {
    const char *name;
    ctl_pod_phase phase;
} want_change;

static int changed_to(T *t, const void *arg)
{
    const want_change *w = arg;
    return saw_phase(t, w->name, w->phase);
}

static int inflight_asked(T *t, const void *arg)
{
    return t->inflight_calls >= *(const int *)arg;
}

static int is_closed(T *t, const void *arg)
{
    (void)arg;
    return t->closed;
}

static int has_event(T *t, const char *dep, const char *reason, const char *substr)
{
    ctl_event *ev = NULL;
    size_t n = 0;
    char err[256];
    assert_int_equal(ctl_store_events(t->store, "Deployment", dep, 100, &ev, &n, err, sizeof(err)),
                     0);
    int found = 0;
    for (size_t i = 0; i < n && !found; i++)
        found = strcmp(ev[i].reason, reason) == 0 && (!substr || strstr(ev[i].message, substr));
    ctl_events_free(ev, n);
    return found;
}

static int process_gone(int pid)
{
    return kill(pid, 0) != 0 && errno == ESRCH;
}

/* probes: a JSON object of containers[0] probes (readinessProbe, ...),
 * or NULL. */
static ctl_obj *mk_dep_probes(const char *name, int64_t gen, const char *startup, const char *grace,
                              const char *const *args, const char *probes)
{
    json_t *a = json_array();
    json_array_append_new(a, json_string("{port}"));
    for (size_t i = 0; args && args[i]; i++)
        json_array_append_new(a, json_string(args[i]));
    char model[80];
    snprintf(model, sizeof(model), "m-%s", name);
    json_t *doc = json_pack(
        "{s:s, s:s, s:{s:s, s:{s:s}, s:{s:s, s:s}}, s:{s:i, s:{s:{s:{s:s}}, s:{s:[{s:s, "
        "s:[s, s, s], s:o, s:[{s:s, s:s}]}]}}}}",
        "apiVersion", "apps/v1", "kind", "Deployment", "metadata", "name", name, "labels",
        "model.aibrix.ai/name", model, "annotations", "brix.ai/startup-timeout-seconds", startup,
        "brix.ai/drain-grace-seconds", grace, "spec", "replicas", 1, "template", "metadata",
        "labels", "app", name, "spec", "containers", "name", "engine", "command", "python3", "-u",
        "-c", "args", a, "env", "name", "FOO", "value", "bar");
    assert_non_null(doc);
    /* "-c" then the script: the command is python3 -u -c, args start with it */
    json_t *cmd = json_object_get(
        json_array_get(
            json_object_get(
                json_object_get(json_object_get(json_object_get(doc, "spec"), "template"), "spec"),
                "containers"),
            0),
        "command");
    json_array_append_new(cmd, json_string(PY));
    if (probes) {
        json_t *pj = json_loads(probes, 0, NULL);
        assert_non_null(pj);
        json_t *c0 = json_array_get(
            json_object_get(
                json_object_get(json_object_get(json_object_get(doc, "spec"), "template"), "spec"),
                "containers"),
            0);
        assert_int_equal(json_object_update(c0, pj), 0);
        json_decref(pj);
    }
    ctl_obj *o = NULL;
    char err[512];
    if (ctl_obj_parse(doc, &o, err, sizeof(err)) != 0) fail_msg("parse: %s", err);
    json_decref(doc);
    o->generation = gen;
    return o;
}

static ctl_obj *mk_dep(const char *name, int64_t gen, const char *startup, const char *grace,
                       const char *const *args)
{
    return mk_dep_probes(name, gen, startup, grace, args, NULL);
}

static void apply(T *t, const ctl_obj *o, int replicas)
{
    char err[256] = "";
    if (ctl_orch_apply(t->sup, o, replicas, err, sizeof(err)) != 0) fail_msg("apply: %s", err);
}

static void on_closed(void *ud)
{
    ((T *)ud)->closed = 1;
}

static void close_sup(T *t, int stop_pods)
{
    t->closed = 0;
    ctl_orch_close(t->sup, stop_pods, on_closed, t);
    RUN_UNTIL(&t->loop, is_closed(t, NULL));
    t->sup = NULL;
}

static void rm_logdir(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        assert_int_equal(unlink(path), 0);
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
}

/* close(stop_pods=1): every process seen is gone and every row deleted. */
static void teardown(T *t)
{
    if (t->sup) close_sup(t, 1);
    for (size_t i = 0; i < t->npids; i++)
        if (!process_gone(t->pids[i])) fail_msg("pid %d still running", t->pids[i]);
    ctl_pod *rows = NULL;
    size_t n = 0;
    char err[256];
    assert_int_equal(ctl_store_pod_list(t->store, NULL, &rows, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    free(rows);
    uv_close((uv_handle_t *)&t->tick, NULL);
    assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&t->loop), 0);
    ctl_store_close(t->store);
    rm_logdir(t->logdir);
    free(t);
}

static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

/* Two replicas Ready; one killed comes back; scale to 1 drains replica 1
 * while the gateway reports a request in flight, then stops it. */
static void test_start_crash_drain(void **st)
{
    (void)st;
    T *t = setup();
    assert_int_equal(setenv("BRIX_TEST_SECRET", "leak", 1), 0);
    ctl_obj *o = mk_dep("alpha", 1, "20", "20", NULL);
    apply(t, o, 2);

    want_pod r0 = {"alpha-0", CTL_POD_READY, 0, 0}, r1 = {"alpha-1", CTL_POD_READY, 0, 0};
    RUN_UNTIL(&t->loop, pod_is(t, &r0));
    RUN_UNTIL(&t->loop, pod_is(t, &r1));
    ctl_podview v0 = {0}, v1 = {0};
    assert_true(find_pod(t, "alpha-0", &v0));
    assert_true(find_pod(t, "alpha-1", &v1));
    assert_int_not_equal(v0.pid, v1.pid);
    assert_int_not_equal(v0.port, v1.port);
    assert_string_equal(v0.model, "m-alpha");
    assert_string_equal(json_string_value(json_object_get(v0.labels, "app")), "alpha");
    assert_true(saw_phase(t, "alpha-0", CTL_POD_STARTING) < saw_phase(t, "alpha-0", CTL_POD_READY));
    assert_int_equal(unsetenv("BRIX_TEST_SECRET"), 0);

    /* rows in the store */
    ctl_pod row;
    char err[256];
    assert_int_equal(ctl_store_pod_get(t->store, "alpha-1", &row, err, sizeof(err)), 0);
    assert_string_equal(row.state, "Ready");
    assert_string_equal(row.deployment, "alpha");
    assert_int_equal(row.pid, v1.pid);
    assert_int_equal(row.port, v1.port);
    assert_int_equal(row.replica, 1);
    assert_int_equal(row.generation, 1);
    assert_true(has_event(t, "alpha", "Started", "pod alpha-0"));
    assert_true(has_event(t, "alpha", "Ready", "pod alpha-1"));

    /* the log file: output appended, env clean plus the deployment's */
    char path[256];
    snprintf(path, sizeof(path), "%s/alpha-0.log", t->logdir);
    assert_true(file_contains(path, "--- brix: launching alpha-0"));
    assert_true(file_contains(path, "FOO=bar SECRET=None SET=on"));

    /* crash: kill -9 -> Backoff -> new pid Ready, restarts=1 */
    assert_int_equal(kill(v1.pid, SIGKILL), 0);
    want_change back = {"alpha-1", CTL_POD_BACKOFF};
    RUN_UNTIL(&t->loop, changed_to(t, &back));
    want_pod again = {"alpha-1", CTL_POD_READY, v1.pid, 1};
    RUN_UNTIL(&t->loop, pod_is(t, &again));
    ctl_podview v1b = {0};
    assert_true(find_pod(t, "alpha-1", &v1b));
    assert_int_equal(v1b.restarts, 1);
    assert_true(process_gone(v1.pid));
    assert_true(has_event(t, "alpha", "Exited", "killed by signal 9"));
    assert_true(has_event(t, "alpha", "Restarting", "restart 1"));
    assert_int_equal(ctl_store_pod_get(t->store, "alpha-1", &row, err, sizeof(err)), 0);
    assert_int_equal(row.restarts, 1);
    assert_int_equal(row.pid, v1b.pid);

    /* scale to 1: replica 1 drains while a request is in flight */
    snprintf(t->inflight_name, sizeof(t->inflight_name), "alpha-1");
    t->inflight_val = 1;
    apply(t, o, 1);
    ctl_podview d = {0};
    assert_true(find_pod(t, "alpha-1", &d));
    assert_int_equal(d.phase, CTL_POD_DRAINING); /* at once, synchronously */
    int asked = 4;
    RUN_UNTIL(&t->loop, inflight_asked(t, &asked));
    assert_true(find_pod(t, "alpha-1", &d));
    assert_int_equal(d.phase, CTL_POD_DRAINING);
    assert_int_equal(kill(v1b.pid, 0), 0);
    assert_false(saw_phase(t, "alpha-1", CTL_POD_STOPPING) >
                 saw_phase(t, "alpha-1", CTL_POD_DRAINING));
    t->inflight_val = 0;
    RUN_UNTIL(&t->loop, pod_absent(t, "alpha-1"));
    size_t i_drain = 0, i_stop = 0, i_gone = 0;
    for (size_t i = 0; i < t->nlog; i++) {
        if (strcmp(t->log[i].name, "alpha-1") || t->log[i].pid == v1.pid) continue;
        if (t->log[i].phase == CTL_POD_DRAINING) i_drain = i + 1;
        if (t->log[i].phase == CTL_POD_STOPPING) i_stop = i + 1;
        if (t->log[i].phase == CTL_POD_GONE) i_gone = i + 1;
    }
    assert_true(i_drain && i_stop && i_gone);
    assert_true(i_drain < i_stop && i_stop < i_gone);
    assert_true(process_gone(v1b.pid));
    assert_int_equal(ctl_store_pod_get(t->store, "alpha-1", &row, err, sizeof(err)), 1);
    assert_true(has_event(t, "alpha", "Draining", "pod alpha-1"));
    assert_true(has_event(t, "alpha", "Stopped", "pod alpha-1"));
    assert_false(has_event(t, "alpha", "Killed", NULL));

    /* replica 0 untouched */
    ctl_podview v0b = {0};
    assert_true(find_pod(t, "alpha-0", &v0b));
    assert_int_equal(v0b.pid, v0.pid);
    assert_int_equal(v0b.phase, CTL_POD_READY);
    assert_int_equal(ctl_orch_pods(t->sup, "alpha", NULL, 0), 1);

    ctl_orch_stats sst;
    ctl_orch_get_stats(t->sup, &sst);
    assert_int_equal(sst.spawns, 3);
    assert_int_equal(sst.restarts, 1);
    ctl_obj_free(o);
    teardown(t);
}

/* A child that ignores SIGTERM is SIGKILLed after the grace period. */
static void test_sigterm_ignored(void **st)
{
    (void)st;
    T *t = setup();
    const char *args[] = {"noterm", NULL};
    ctl_obj *o = mk_dep("stubborn", 1, "20", "0.3", args);
    apply(t, o, 1);
    want_pod r = {"stubborn-0", CTL_POD_READY, 0, 0};
    RUN_UNTIL(&t->loop, pod_is(t, &r));
    ctl_podview v = {0};
    assert_true(find_pod(t, "stubborn-0", &v));
    apply(t, o, 0);
    RUN_UNTIL(&t->loop, pod_absent(t, "stubborn-0"));
    assert_true(process_gone(v.pid));
    assert_true(has_event(t, "stubborn", "Killed", "sent SIGKILL"));
    assert_true(has_event(t, "stubborn", "Stopped", "killed by signal 9"));
    ctl_orch_stats sst;
    ctl_orch_get_stats(t->sup, &sst);
    assert_int_equal(sst.killed, 1);
    ctl_obj_free(o);
    teardown(t);
}

/* Never ready (/health answers 503): restarted after the startup timeout. */
static void test_startup_timeout(void **st)
{
    (void)st;
    T *t = setup();
    const char *args[] = {"status=503", NULL};
    ctl_obj *o = mk_dep("sulky", 1, "0.5", "2", args);
    apply(t, o, 1);
    want_pod s0 = {"sulky-0", CTL_POD_STARTING, 0, 0};
    RUN_UNTIL(&t->loop, pod_is(t, &s0));
    ctl_podview v = {0};
    assert_true(find_pod(t, "sulky-0", &v));
    want_pod s1 = {"sulky-0", CTL_POD_STARTING, v.pid, 1};
    RUN_UNTIL(&t->loop, pod_is(t, &s1));
    assert_true(process_gone(v.pid));
    assert_true(has_event(t, "sulky", "Unhealthy", "not ready"));
    assert_false(saw_phase(t, "sulky-0", CTL_POD_READY));
    ctl_obj_free(o);
    teardown(t);
}

/* An exit with a code is recorded and the pod comes back, each time after
 * a doubled delay (0.1 s base, 0.4 s cap here). */
static void test_exit_code_backoff(void **st)
{
    (void)st;
    T *t = setup();
    const char *args[] = {"exit=0.3:3", NULL};
    ctl_obj *o = mk_dep("flaky", 1, "20", "2", args);
    apply(t, o, 1);
    want_pod r = {"flaky-0", CTL_POD_STARTING, 0, 4};
    RUN_UNTIL(&t->loop, pod_is(t, &r));
    assert_true(has_event(t, "flaky", "Exited", "exited with code 3"));
    assert_true(has_event(t, "flaky", "Restarting", "restart 1 in 0.1s"));
    assert_true(has_event(t, "flaky", "Restarting", "restart 2 in 0.2s"));
    assert_true(has_event(t, "flaky", "Restarting", "restart 3 in 0.4s"));
    assert_true(has_event(t, "flaky", "Restarting", "restart 4 in 0.4s"));
    char err[256];
    assert_int_equal(ctl_orch_remove(t->sup, "flaky", err, sizeof(err)), 0);
    RUN_UNTIL(&t->loop, pod_absent(t, "flaky-0"));
    ctl_obj_free(o);
    teardown(t);
}

/* Ready longer than backoff_reset_s: the next restart starts from the base
 * delay again. */
static void test_backoff_reset(void **st)
{
    (void)st;
    T *t = setup();
    close_sup(t, 1);
    t->reset_s = 0.1;
    sup_new(t);
    const char *args[] = {"exit=1.2:4", NULL};
    ctl_obj *o = mk_dep("steady", 1, "20", "2", args);
    apply(t, o, 1);
    want_pod r = {"steady-0", CTL_POD_STARTING, 0, 2};
    RUN_UNTIL(&t->loop, pod_is(t, &r));
    assert_true(has_event(t, "steady", "Ready", "pod steady-0"));
    assert_true(has_event(t, "steady", "Restarting", "restart 2 in 0.1s"));
    assert_false(has_event(t, "steady", "Restarting", "in 0.2s"));
    ctl_obj_free(o);
    teardown(t);
}

/* A Ready pod whose probe fails failure_threshold times in a row is
 * restarted (through Stopping, not as a crash). */
static void test_unhealthy_ready(void **st)
{
    (void)st;
    T *t = setup();
    const char *args[] = {"sick=0.6", NULL};
    ctl_obj *o = mk_dep("sick", 1, "20", "2", args);
    apply(t, o, 1);
    want_pod r = {"sick-0", CTL_POD_READY, 0, 0};
    RUN_UNTIL(&t->loop, pod_is(t, &r));
    ctl_podview v = {0};
    assert_true(find_pod(t, "sick-0", &v));
    want_pod again = {"sick-0", CTL_POD_STARTING, v.pid, 1};
    RUN_UNTIL(&t->loop, pod_is(t, &again));
    assert_true(process_gone(v.pid));
    assert_true(has_event(t, "sick", "Unhealthy", "failed 3 times in a row (HTTP 500)"));
    assert_false(has_event(t, "sick", "Exited", NULL));
    int ready = saw_phase(t, "sick-0", CTL_POD_READY);
    int stopping = saw_phase(t, "sick-0", CTL_POD_STOPPING);
    int backoff = saw_phase(t, "sick-0", CTL_POD_BACKOFF);
    assert_true(ready && ready < stopping && stopping < backoff);
    ctl_obj_free(o);
    teardown(t);
}

/* With a readinessProbe given, a Ready pod failing it is only taken out
 * of routing (Starting again), as the kubelet does: not restarted, same
 * process. */
static void test_unready_not_restarted(void **st)
{
    (void)st;
    T *t = setup();
    const char *args[] = {"sick=0.6", NULL};
    ctl_obj *o = mk_dep_probes("shy", 1, "20", "2", args,
                               "{\"readinessProbe\": {\"httpGet\": {\"path\": \"/health\"}, "
                               "\"failureThreshold\": 2}}");
    apply(t, o, 1);
    want_pod r = {"shy-0", CTL_POD_READY, 0, 0};
    RUN_UNTIL(&t->loop, pod_is(t, &r));
    ctl_podview v = {0};
    assert_true(find_pod(t, "shy-0", &v));
    RUN_UNTIL(&t->loop, has_event(t, "shy", "Unhealthy", "not routed until it passes"));
    ctl_podview now = {0};
    assert_true(find_pod(t, "shy-0", &now));
    assert_int_equal(now.phase, CTL_POD_STARTING);
    assert_int_equal(now.pid, v.pid);
    assert_int_equal(now.restarts, 0);
    assert_false(process_gone(v.pid));
    assert_true(has_event(t, "shy", "Unhealthy", "readiness probe GET /health failed 2 times"));
    assert_false(saw_phase(t, "shy-0", CTL_POD_STOPPING));
    ctl_obj_free(o);
    teardown(t);
}

/* A livenessProbe failing failureThreshold times restarts the pod. */
static void test_liveness_restarts(void **st)
{
    (void)st;
    T *t = setup();
    ctl_obj *o = mk_dep_probes("dead", 1, "20", "2", NULL,
                               "{\"livenessProbe\": {\"exec\": {\"command\": [\"false\"]}, "
                               "\"periodSeconds\": 1, \"failureThreshold\": 1}}");
    apply(t, o, 1);
    want_pod r = {"dead-0", CTL_POD_STARTING, 0, 1};
    RUN_UNTIL(&t->loop, pod_is(t, &r));
    assert_true(has_event(t, "dead", "Unhealthy", "liveness probe exec false failed 1 times"));
    assert_true(saw_phase(t, "dead-0", CTL_POD_STOPPING));
    ctl_obj_free(o);
    teardown(t);
}

/* With a port range: a child that exits before it is ready gets another
 * port at its next launch (here the engine refuses the first port). */
static void test_port_retry(void **st)
{
    (void)st;
    T *t = setup();
    close_sup(t, 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    int base = ntohs(a.sin_port);
    if (base > 65000) base -= 1000;
    t->port_lo = base;
    t->port_hi = base + 20;
    sup_new(t);
    char bad[32];
    snprintf(bad, sizeof(bad), "badport=%d", base);
    const char *args[] = {bad, NULL};
    ctl_obj *o = mk_dep("picky", 1, "20", "2", args);
    apply(t, o, 1);
    ctl_podview v = {0};
    assert_true(find_pod(t, "picky-0", &v));
    int first = v.port;
    assert_true(first >= base && first <= base + 20);
    want_pod r = {"picky-0", CTL_POD_READY, 0, 0};
    RUN_UNTIL(&t->loop, pod_is(t, &r));
    assert_true(find_pod(t, "picky-0", &v));
    assert_true(v.port >= base && v.port <= base + 20);
    assert_int_equal(first, base);
    assert_int_not_equal(v.port, base);
    assert_int_equal(v.restarts, 1);
    assert_true(has_event(t, "picky", "Exited", "exited with code 98"));
    ctl_obj_free(o);
    teardown(t);
}

/* A new template replaces pods one by one: the new one starts beside the
 * old, the old drains once the new is Ready. A settings-only change
 * restarts nothing. */
static void test_rolling_replace(void **st)
{
    (void)st;
    T *t = setup();
    ctl_obj *o1 = mk_dep("roll", 1, "20", "2", NULL);
    apply(t, o1, 1);
    want_pod r = {"roll-0", CTL_POD_READY, 0, 0};
    RUN_UNTIL(&t->loop, pod_is(t, &r));
    ctl_podview old = {0};
    assert_true(find_pod(t, "roll-0", &old));

    const char *args[] = {"status=200", NULL};
    ctl_obj *o2 = mk_dep("roll", 2, "20", "2", args);
    apply(t, o2, 1);
    want_pod n = {"roll-0-g2", CTL_POD_READY, 0, 0};
    RUN_UNTIL(&t->loop, pod_is(t, &n));
    RUN_UNTIL(&t->loop, pod_absent(t, "roll-0"));
    assert_true(process_gone(old.pid));
    int ready_new = saw_phase(t, "roll-0-g2", CTL_POD_READY);
    int drain_old = saw_phase(t, "roll-0", CTL_POD_DRAINING);
    assert_true(ready_new && drain_old && ready_new < drain_old);
    ctl_podview nv = {0};
    assert_true(find_pod(t, "roll-0-g2", &nv));
    assert_int_equal(nv.replica, 0);

    /* only the grace changes: same pid, no new launch */
    ctl_orch_stats before, after;
    ctl_orch_get_stats(t->sup, &before);
    ctl_obj *o3 = mk_dep("roll", 3, "20", "1", args);
    apply(t, o3, 1);
    ctl_podview nv2 = {0};
    assert_true(find_pod(t, "roll-0-g2", &nv2));
    assert_int_equal(nv2.pid, nv.pid);
    assert_int_equal(nv2.phase, CTL_POD_READY);
    ctl_orch_get_stats(t->sup, &after);
    assert_int_equal(after.spawns, before.spawns);
    ctl_pod row;
    char err[256];
    assert_int_equal(ctl_store_pod_get(t->store, "roll-0-g2", &row, err, sizeof(err)), 0);
    assert_int_equal(row.generation, 3);
    ctl_obj_free(o1);
    ctl_obj_free(o2);
    ctl_obj_free(o3);
    teardown(t);
}

/* close(stop_pods=0) leaves engines running; a new supervisor adopts the
 * live ones without launching them again and relaunches the dead one. */
static void test_adopt(void **st)
{
    (void)st;
    T *t = setup();
    ctl_obj *o = mk_dep("keep", 1, "20", "2", NULL);
    apply(t, o, 2);
    want_pod r0 = {"keep-0", CTL_POD_READY, 0, 0}, r1 = {"keep-1", CTL_POD_READY, 0, 0};
    RUN_UNTIL(&t->loop, pod_is(t, &r0));
    RUN_UNTIL(&t->loop, pod_is(t, &r1));
    ctl_podview v0 = {0}, v1 = {0};
    assert_true(find_pod(t, "keep-0", &v0));
    assert_true(find_pod(t, "keep-1", &v1));
    close_sup(t, 0);
    assert_int_equal(kill(v0.pid, 0), 0);
    assert_int_equal(kill(v1.pid, 0), 0);
    ctl_pod row;
    char err[256];
    assert_int_equal(ctl_store_pod_get(t->store, "keep-0", &row, err, sizeof(err)), 0);
    assert_string_equal(row.state, "Ready");
    assert_int_equal(row.pid, v0.pid);

    /* keep-1 dies while nobody supervises it (reaped here, as init would) */
    assert_int_equal(kill(v1.pid, SIGKILL), 0);
    assert_int_equal(waitpid(v1.pid, NULL, 0), v1.pid);

    sup_new(t);
    if (ctl_orch_adopt(t->sup, o, 2, err, sizeof(err)) != 0) fail_msg("adopt: %s", err);
    want_pod a0 = {"keep-0", CTL_POD_READY, 0, 0};
    want_pod a1 = {"keep-1", CTL_POD_READY, v1.pid, 0};
    RUN_UNTIL(&t->loop, pod_is(t, &a0));
    RUN_UNTIL(&t->loop, pod_is(t, &a1));
    ctl_podview w0 = {0};
    assert_true(find_pod(t, "keep-0", &w0));
    assert_int_equal(w0.pid, v0.pid);
    assert_int_equal(w0.port, v0.port);
    assert_true(has_event(t, "keep", "Adopted", "pod keep-0"));
    assert_false(has_event(t, "keep", "Adopted", "pod keep-1"));
    ctl_orch_stats sst;
    ctl_orch_get_stats(t->sup, &sst);
    assert_int_equal(sst.adopted, 1);
    assert_int_equal(sst.spawns, 1); /* keep-1 only */

    /* the adopted pod is still watched: it dies, it comes back */
    assert_int_equal(kill(v0.pid, SIGKILL), 0);
    want_pod b0 = {"keep-0", CTL_POD_READY, v0.pid, 1};
    RUN_UNTIL(&t->loop, pod_is(t, &b0));
    assert_true(process_gone(v0.pid));
    ctl_obj_free(o);
    teardown(t); /* close(stop_pods=1) */
}

/* remove() stops a deployment this supervisor never tracked (rows left
 * by an earlier run) and an API misuse is refused. */
static void test_remove_orphans_and_errors(void **st)
{
    (void)st;
    T *t = setup();
    ctl_obj *o = mk_dep("orph", 1, "20", "2", NULL);
    apply(t, o, 1);
    want_pod r0 = {"orph-0", CTL_POD_READY, 0, 0};
    RUN_UNTIL(&t->loop, pod_is(t, &r0));
    ctl_podview v = {0};
    assert_true(find_pod(t, "orph-0", &v));
    close_sup(t, 0);
    sup_new(t);
    char err[256] = "";
    assert_int_equal(ctl_orch_remove(t->sup, "orph", err, sizeof(err)), 0);
    want_change gone = {"orph-0", CTL_POD_GONE};
    RUN_UNTIL(&t->loop, changed_to(t, &gone));
    assert_true(process_gone(v.pid));
    assert_true(has_event(t, "orph", "Stopped", "pod orph-0"));

    assert_int_equal(ctl_orch_apply(t->sup, o, CTL_MAX_REPLICAS + 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "replicas"));
    assert_int_equal(ctl_orch_remove(t->sup, "Bad_Name", err, sizeof(err)), -1);
    ctl_obj_free(o);
    teardown(t);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_crash_drain),
        cmocka_unit_test(test_sigterm_ignored),
        cmocka_unit_test(test_startup_timeout),
        cmocka_unit_test(test_exit_code_backoff),
        cmocka_unit_test(test_backoff_reset),
        cmocka_unit_test(test_unhealthy_ready),
        cmocka_unit_test(test_unready_not_restarted),
        cmocka_unit_test(test_liveness_restarts),
        cmocka_unit_test(test_port_retry),
        cmocka_unit_test(test_rolling_replace),
        cmocka_unit_test(test_adopt),
        cmocka_unit_test(test_remove_orphans_and_errors),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    for (size_t i = 0; i < n_all_pids; i++) {
        if (waitpid(all_pids[i], NULL, WNOHANG) != 0) continue; /* reaped, or not ours */
        kill(-all_pids[i], SIGKILL);
        waitpid(all_pids[i], NULL, 0);
    }
    return failed;
}
