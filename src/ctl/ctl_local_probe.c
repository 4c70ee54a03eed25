/* ctl_local_probe: the local orchestrator's probes (see ctl_local_int.h):
 * one probe of a pod at a time per ctl_local_probe, against
 * 127.0.0.1:<port>, bounded by the probe's timeout:
 *   httpGet    GET <path> through the orchestrator's bx_http client;
 *              success is a 2xx or 3xx answer (as the kubelet's)
 *   tcpSocket  the same client's GET /: success is anything but a failed
 *              connection (the kubelet only connects; an answer, a parse
 *              error or a timeout after connecting all mean it accepted)
 *   exec       the command run directly (no shell), in brix's environment
 *              and directory; success is exit code 0; killed at the
 *              timeout (a failure)
 * The result goes to the callback the pod state machine handed down; what
 * it means for the pod is decided there. An exec probe owns a small
 * heap record (process and timer) freed after both handles closed; the
 * callback comes after that, so nothing of it outlives the answer. */
#include "ctl/ctl_local_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctl_local_exec {
    uv_process_t proc;
    uv_timer_t timer;
    ctl_local_probe *pr;
    int open; /* handles not yet closed */
    int code, sig, exited, timed_out, spawn_err;
};

static void ctl_local_probe_finish(ctl_local_probe *pr, int res)
{
    int canceled = pr->canceled;
    pr->canceled = 0;
    pr->done(pr, canceled ? -1 : res);
}

static void ctl_local_probe_on_response(bx_http_creq *cr, int status, const bx_http_header *h,
                                        size_t nh, void *ud)
{
    (void)cr;
    (void)h;
    (void)nh;
    ctl_local_probe *pr = ud;
    pr->status = status;
}

static void ctl_local_probe_on_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    ctl_local_probe *pr = ud;
    pr->req = NULL;
    int ok;
    if (pr->tcp) {
        ok = err != BX_HTTP_ECONNECT;
        snprintf(pr->why, sizeof(pr->why), "%s", ok ? "connected" : bx_http_strerror(err));
    } else {
        ok = err == 0 && pr->status >= 200 && pr->status < 400;
        if (err)
            snprintf(pr->why, sizeof(pr->why), "%s", bx_http_strerror(err));
        else
            snprintf(pr->why, sizeof(pr->why), "HTTP %d", pr->status);
    }
    if (err == BX_HTTP_ECANCELED) pr->canceled = 1;
    ctl_local_probe_finish(pr, ok);
}

static void ctl_local_probe_exec_closed(uv_handle_t *h)
{
    struct ctl_local_exec *ex = h->data;
    if (--ex->open > 0) return;
    ctl_local_probe *pr = ex->pr;
    int ok = !ex->spawn_err && ex->exited && !ex->timed_out && !ex->sig && ex->code == 0;
    if (ex->spawn_err)
        snprintf(pr->why, sizeof(pr->why), "exec %s: %s", pr->argv0, uv_strerror(ex->spawn_err));
    else if (ex->timed_out)
        snprintf(pr->why, sizeof(pr->why), "exec %s: timed out", pr->argv0);
    else if (ex->sig)
        snprintf(pr->why, sizeof(pr->why), "exec %s: killed by signal %d", pr->argv0, ex->sig);
    else
        snprintf(pr->why, sizeof(pr->why), "exec %s: exit code %d", pr->argv0, ex->code);
    free(ex);
    pr->ex = NULL;
    ctl_local_probe_finish(pr, ok);
}

static void ctl_local_probe_exec_close(struct ctl_local_exec *ex)
{
    uv_timer_stop(&ex->timer);
    uv_close((uv_handle_t *)&ex->timer, ctl_local_probe_exec_closed);
    uv_close((uv_handle_t *)&ex->proc, ctl_local_probe_exec_closed);
}

static void ctl_local_probe_exec_exit(uv_process_t *h, int64_t status, int sig)
{
    struct ctl_local_exec *ex = h->data;
    ex->exited = 1;
    ex->code = (int)status;
    ex->sig = ex->timed_out ? 0 : sig;
    ctl_local_probe_exec_close(ex);
}

static void ctl_local_probe_exec_timeout(uv_timer_t *t)
{
    struct ctl_local_exec *ex = t->data;
    ex->timed_out = 1;
    uv_process_kill(&ex->proc, SIGKILL); /* the exit callback closes */
}

static int ctl_local_probe_exec(ctl_local_probe *pr, uv_loop_t *loop, char **argv,
                                uint64_t timeout_ms)
{
    struct ctl_local_exec *ex = calloc(1, sizeof(*ex));
    if (!ex) return BX_HTTP_ENOMEM;
    ex->pr = pr;
    snprintf(pr->argv0, sizeof(pr->argv0), "%s", argv[0]);
    if (uv_timer_init(loop, &ex->timer) != 0) {
        free(ex);
        return BX_HTTP_EIO;
    }
    ex->timer.data = ex;
    ex->proc.data = ex;
    ex->open = 2;
    uv_stdio_container_t stdio[3];
    for (int i = 0; i < 3; i++)
        stdio[i].flags = UV_IGNORE;
    uv_process_options_t o;
    memset(&o, 0, sizeof(o));
    o.exit_cb = ctl_local_probe_exec_exit;
    o.file = argv[0];
    o.args = argv;
    o.stdio_count = 3;
    o.stdio = stdio;
    pr->ex = ex;
    int r = uv_spawn(loop, &ex->proc, &o);
    ex->proc.data = ex;
    if (r != 0) {
        ex->spawn_err = r;
        ctl_local_probe_exec_close(ex); /* the answer comes from the close callbacks */
        return 0;
    }
    uv_timer_start(&ex->timer, ctl_local_probe_exec_timeout, timeout_ms ? timeout_ms : 1000, 0);
    return 0;
}

int ctl_local_probe_start(ctl_local_probe *pr, ctl_orch_local *l, const ctl_probe *spec, int port,
                          uint64_t timeout_ms, ctl_local_probe_cb done, void *ud)
{
    pr->status = 0;
    pr->canceled = 0;
    pr->done = done;
    pr->ud = ud;
    pr->why[0] = '\0';
    if (spec->kind == CTL_PROBE_EXEC && spec->exec) {
        pr->tcp = 0;
        return ctl_local_probe_exec(pr, l->loop, spec->exec, timeout_ms);
    }
    if (!l->http) return BX_HTTP_ESTATE;
    pr->tcp = spec->kind == CTL_PROBE_TCP;
    bx_http_client_req r;
    memset(&r, 0, sizeof(r));
    r.method = "GET";
    r.host = CTL_LOCAL_HOST;
    r.port = port;
    r.path = pr->tcp || !spec->path ? "/" : spec->path;
    r.timeout_ms = timeout_ms;
    bx_http_client_cbs cbs = {.on_response = ctl_local_probe_on_response,
                              .on_data = NULL,
                              .on_done = ctl_local_probe_on_done};
    int rc = bx_http_client_request(l->http, &r, &cbs, pr, &pr->req);
    if (rc != 0) pr->req = NULL;
    return rc;
}

void ctl_local_probe_cancel(ctl_local_probe *pr)
{
    if (pr->req) bx_http_client_cancel(pr->req); /* on_done comes later */
    if (pr->ex && !pr->ex->exited && !pr->ex->spawn_err) {
        pr->canceled = 1;
        uv_process_kill(&pr->ex->proc, SIGKILL); /* the answer comes once it exited */
    } else if (pr->ex) {
        pr->canceled = 1;
    }
}

int ctl_local_probe_busy(const ctl_local_probe *pr)
{
    return pr->req != NULL || pr->ex != NULL;
}
