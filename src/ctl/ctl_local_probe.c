/* ctl_local_probe: the local orchestrator's readiness probe (see
 * ctl_local_int.h): one GET of the deployment's health path on
 * 127.0.0.1:<port> at a time, through the orchestrator's bx_http client,
 * bounded by the probe timeout. The answer (transport error, or the
 * status) goes to the callback the pod state machine handed down; what it
 * means for the pod is decided there. */
#include "ctl/ctl_local_int.h"

#include <string.h>

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
    pr->done(pr, err, pr->status);
}

int ctl_local_probe_start(ctl_local_probe *pr, bx_http_client *http, int port, const char *path,
                          uint64_t timeout_ms, ctl_local_probe_cb done)
{
    bx_http_client_req r;
    memset(&r, 0, sizeof(r));
    r.method = "GET";
    r.host = CTL_LOCAL_HOST;
    r.port = port;
    r.path = path;
    r.timeout_ms = timeout_ms;
    bx_http_client_cbs cbs = {.on_response = ctl_local_probe_on_response,
                              .on_data = NULL,
                              .on_done = ctl_local_probe_on_done};
    pr->status = 0;
    pr->done = done;
    int rc = bx_http_client_request(http, &r, &cbs, pr, &pr->req);
    if (rc != 0) pr->req = NULL;
    return rc;
}

void ctl_local_probe_cancel(ctl_local_probe *pr)
{
    if (pr->req) bx_http_client_cancel(pr->req); /* on_done comes later */
}

int ctl_local_probe_busy(const ctl_local_probe *pr)
{
    return pr->req != NULL;
}
