/* ctl_api_int: what the admin API's files share (ctl_api.h is the
 * public contract): ctl_api.c (lifecycle, routing, apply, objects, events),
 * ctl_api_pods.c (the pods and their logs) and ctl_api_util.c (the helpers
 * below that both call). Everything runs on the loop thread. */
#ifndef CTL_API_INT_H
#define CTL_API_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bx_http.h"
#include "ctl/ctl_api.h"

#define API_HOST_MAX 64
#define API_ERR_MAX 1024

struct ctl_api {
    uv_loop_t *loop;
    ctl_objstore *store;
    ctl_api_config cfg;
    char host[API_HOST_MAX];
    ctl_api_callbacks cbs;
    bx_http_server *srv;
    void (*close_cb)(void *ud);
    void *close_ud;
};

/* ---- ctl_api_util.c ---- */

/* RFC 3339 (seconds, UTC) of Unix ms; JSON null for 0. New reference. */
json_t *ctl_api_ts_json(int64_t ms);
void ctl_api_reply_errorf(bx_http_res *res, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 405 with Allow. */
void ctl_api_reply_405(bx_http_res *res, const char *allow, const char *method);
/* Which namespace a request means: ?namespace=NS (default "default"), or
 * every namespace with ?allNamespaces=true (ns[0] = 0). 0, or -1 after a
 * 400 answer. */
int ctl_api_ns_param(bx_http_req *req, bx_http_res *res, char *ns, size_t len);
/* 1 when key is in ns ("" = every namespace). */
int ctl_api_in_ns(const char *key, const char *ns);
/* A request's object key: ns and the name of the path. 0, or -1 after a
 * 400 answer. */
int ctl_api_key_of(bx_http_res *res, const char *ns, const char *name, char *key, size_t len);

/* ---- ctl_api_pods.c ---- */

/* GET /v1/pods. */
void ctl_api_route_pods(ctl_api *a, bx_http_req *req, bx_http_res *res);
/* /v1/pods/{name}/log (rest: what follows /v1/pods/). */
void ctl_api_route_log(ctl_api *a, bx_http_req *req, bx_http_res *res, const char *rest);

#endif
