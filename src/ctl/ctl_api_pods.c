/* ctl_api_pods: the admin API's pods (GET /v1/pods, the live podviews of
 * the pods callback) and their output (GET /v1/pods/{name}/log, the files
 * ctl_orch_local writes under cfg.log_dir). See ctl_api.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_query.h"
#include "common/bx_reply.h"
#include "ctl/ctl_api_int.h"
#include "ctl/ctl_key.h"

static const char *ctl_api_phase_name(ctl_pod_phase p)
{
    static const char *const names[] = {"Starting", "Ready",   "Draining",
                                        "Stopping", "Backoff", "Gone"};
    return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "Unknown";
}

const char *ctl_api_pod_status(const ctl_podview *p)
{
    switch (p->phase) {
    case CTL_POD_STARTING:
        return p->pid > 0 ? "Running" : "ContainerCreating";
    case CTL_POD_READY:
        return "Running";
    case CTL_POD_DRAINING:
    case CTL_POD_STOPPING:
        return "Terminating";
    case CTL_POD_BACKOFF:
        return p->restarts > 0 ? "CrashLoopBackOff" : "Error";
    case CTL_POD_GONE:
        return "Completed";
    }
    return "Unknown";
}

static json_t *ctl_api_pod_json(const ctl_podview *p, int64_t started_ms)
{
    char ns[CTL_NAME_MAX + 1];
    ctl_key_ns(p->name ? p->name : "", ns, sizeof(ns));
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:O?, s:i, s:i, s:i, s:s, s:s, s:b, s:i, s:o, s:o}",
                  "name", ctl_key_name(p->name ? p->name : ""), "namespace", ns, "deployment",
                  ctl_key_name(p->deployment ? p->deployment : ""), "model", p->model, "url",
                  p->url, "labels", p->labels, "replica", p->replica, "port", p->port, "pid",
                  p->pid, "phase", ctl_api_phase_name(p->phase), "status", ctl_api_pod_status(p),
                  "ready", p->phase == CTL_POD_READY, "restarts", p->restarts, "readySince",
                  ctl_api_ts_json(p->ready_since_ms), "startedAt", ctl_api_ts_json(started_ms));
    if (j && !json_object_get(j, "labels")) json_object_set_new(j, "labels", json_object());
    return j;
}

void ctl_api_route_pods(ctl_api *a, bx_http_req *req, bx_http_res *res)
{
    char dep[CTL_NAME_MAX + 1], ns[CTL_NAME_MAX + 1];
    if (ctl_api_ns_param(req, res, ns, sizeof(ns)) < 0) return;
    int has_dep = bx_query_get(req->query, "deployment", dep, sizeof(dep));
    if (has_dep < 0) {
        bx_reply_error(res, 400, NULL, "invalid deployment parameter");
        return;
    }
    json_t *items = json_array();
    if (!items) {
        bx_reply_error(res, 500, NULL, "out of memory");
        return;
    }
    int ok = 1;
    const ctl_podview *pv = NULL;
    size_t n = 0;
    if (a->cbs.pods && a->cbs.pods(a->cbs.ud, &pv, &n) < 0) {
        json_decref(items);
        bx_reply_error(res, 500, NULL, "could not list pods");
        return;
    }
    for (size_t i = 0; ok && i < n; i++) {
        const ctl_podview *p = &pv[i];
        if (!p->name || !ctl_api_in_ns(p->name, ns)) continue;
        if (has_dep && (!p->deployment || strcmp(ctl_key_name(p->deployment), dep) != 0)) continue;
        int64_t started =
            p->name && a->cbs.pod_started ? a->cbs.pod_started(a->cbs.ud, p->name) : 0;
        json_t *j = ctl_api_pod_json(p, started);
        ok = j && json_array_append_new(items, j) == 0;
    }
    if (!ok) {
        json_decref(items);
        bx_reply_error(res, 500, NULL, "out of memory");
        return;
    }
    bx_reply_json(res, 200, json_pack("{s:o}", "items", items));
}

/* ---- logs ---- */

int ctl_api_log_read(const char *path, int64_t offset, long tail, char **buf, size_t *len,
                     int64_t *end)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    if (fseeko(f, 0, SEEK_END) != 0) goto fail;
    off_t size = ftello(f);
    if (size < 0) goto fail;
    if (offset < 0 || offset > (int64_t)size) offset = 0; /* truncated: from the start */
    off_t from = (off_t)offset;
    if (size - from > (off_t)CTL_API_LOG_MAX) from = size - (off_t)CTL_API_LOG_MAX;
    size_t n = (size_t)(size - from);
    char *b = malloc(n + 1);
    if (!b || fseeko(f, from, SEEK_SET) != 0 || fread(b, 1, n, f) != n) {
        free(b);
        goto fail;
    }
    fclose(f);
    b[n] = 0;
    size_t start = 0;
    if (tail >= 0) { /* the last `tail` lines (a last line without \n counts) */
        long lines = 0;
        size_t i = n;
        if (i && b[i - 1] == '\n') i--;
        while (i > 0) {
            if (b[i - 1] == '\n' && ++lines == tail) break;
            i--;
        }
        start = tail == 0 ? n : i;
    }
    memmove(b, b + start, n - start + 1);
    *buf = b;
    *len = n - start;
    *end = (int64_t)size;
    return 0;
fail:
    fclose(f);
    return -1;
}

/* JSON string of log bytes: bytes that are not UTF-8 become '?'. */
static json_t *ctl_api_log_string(char *b, size_t n)
{
    json_t *j = json_stringn(b, n);
    if (j) return j;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)b[i] >= 0x80 || b[i] == 0) b[i] = '?';
    return json_stringn(b, n);
}

/* GET /v1/pods/{name}/log[?namespace=NS][&tailLines=N][&offset=B]:
 * {"log","offset"}: the pod's output (stdout and stderr, one file per pod
 * that its restarts append to) from byte B (0), at most CTL_API_LOG_MAX
 * bytes; offset is where the next read goes on (brix logs -f). */
void ctl_api_route_log(ctl_api *a, bx_http_req *req, bx_http_res *res, const char *rest)
{
    char name[CTL_NAME_MAX + 2], ns[CTL_NAME_MAX + 1], key[CTL_NAME_MAX + 1], v[24];
    size_t nl = strcspn(rest, "/");
    if (strcmp(rest + nl, "/log") != 0 || nl == 0 || nl >= sizeof(name)) {
        ctl_api_reply_errorf(res, 404, "no such path: %.200s", req->path);
        return;
    }
    if (strcmp(req->method, "GET") != 0) {
        ctl_api_reply_405(res, "GET", req->method);
        return;
    }
    memcpy(name, rest, nl);
    name[nl] = 0;
    if (ctl_api_ns_param(req, res, ns, sizeof(ns)) < 0) return;
    if (!ctl_name_valid(name)) {
        ctl_api_reply_errorf(res, 400, "invalid name \"%.64s\": must be a DNS-1123 label", name);
        return;
    }
    if (ctl_api_key_of(res, ns[0] ? ns : CTL_NS_DEFAULT, name, key, sizeof(key)) < 0) return;
    long tail = -1;
    int64_t offset = 0;
    char *end;
    if (bx_query_get(req->query, "tailLines", v, sizeof(v)) == 1) {
        tail = strtol(v, &end, 10);
        if (*end || !v[0] || tail < -1) {
            bx_reply_error(res, 400, NULL, "tailLines: a number >= -1");
            return;
        }
    }
    if (bx_query_get(req->query, "offset", v, sizeof(v)) == 1) {
        offset = strtoll(v, &end, 10);
        if (*end || !v[0] || offset < 0) {
            bx_reply_error(res, 400, NULL, "offset: a number >= 0");
            return;
        }
    }
    char path[4096];
    if (!a->cfg.log_dir ||
        (size_t)snprintf(path, sizeof(path), "%s/%s.log", a->cfg.log_dir, key) >= sizeof(path)) {
        ctl_api_reply_errorf(res, 404, "pod \"%s\" has no log here", name);
        return;
    }
    char *buf;
    size_t len;
    int64_t off_end = 0;
    if (ctl_api_log_read(path, offset, tail, &buf, &len, &off_end) < 0) {
        ctl_api_reply_errorf(res, 404, "pod \"%s\" not found (no log)", name);
        return;
    }
    json_t *s = ctl_api_log_string(buf, len);
    free(buf);
    if (!s) {
        bx_reply_error(res, 500, NULL, "out of memory");
        return;
    }
    bx_reply_json(res, 200, json_pack("{s:o, s:I}", "log", s, "offset", (json_int_t)off_end));
}
