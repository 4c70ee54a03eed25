/* ctl_api_util: the admin API's shared helpers (ctl_api_int.h): time
 * stamps, error answers, query parameters and namespaces. Called by
 * ctl_api.c and ctl_api_pods.c; calls neither. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_query.h"
#include "common/bx_http.h"
#include "common/bx_reply.h"
#include "common/bx_time.h"
#include "ctl/ctl_api_int.h"
#include "ctl/ctl_key.h"

/* RFC 3339 (seconds, UTC) of Unix ms; JSON null for 0. New reference. */
json_t *ctl_api_ts_json(int64_t ms)
{
    if (ms <= 0) return json_null();
    char buf[40];
    bx_time_rfc3339(ms, buf, sizeof(buf));
    return json_string(buf);
}

void ctl_api_reply_errorf(bx_http_res *res, int status, const char *fmt, ...)
{
    char msg[API_ERR_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    bx_reply_error(res, status, NULL, msg);
}

void ctl_api_reply_405(bx_http_res *res, const char *allow, const char *method)
{
    (void)bx_http_res_header(res, "Allow", allow);
    ctl_api_reply_errorf(res, 405, "method %.16s not allowed (allowed: %s)", method, allow);
}

/* Which namespace a request means: ?namespace=NS (default "default"), or
 * every namespace with ?allNamespaces=true (ns[0] = 0). 0, or -1 after a
 * 400 answer. */
int ctl_api_ns_param(bx_http_req *req, bx_http_res *res, char *ns, size_t len)
{
    char all[16];
    int ha = bx_query_get(req->query, "allNamespaces", all, sizeof(all));
    int hn = bx_query_get(req->query, "namespace", ns, len);
    if (ha < 0 || hn < 0 || (hn && ns[0] && !ctl_name_valid(ns))) {
        bx_reply_error(res, 400, NULL, "namespace: must be a DNS-1123 label");
        return -1;
    }
    if (ha && (!all[0] || !strcmp(all, "true") || !strcmp(all, "1"))) {
        ns[0] = 0;
        return 0;
    }
    if (!hn || !ns[0]) snprintf(ns, len, "%s", CTL_NS_DEFAULT);
    return 0;
}

/* 1 when key is in ns ("" = every namespace). */
int ctl_api_in_ns(const char *key, const char *ns)
{
    if (!ns[0]) return 1;
    char kns[CTL_NAME_MAX + 1];
    ctl_key_ns(key, kns, sizeof(kns));
    return strcmp(kns, ns) == 0;
}

/* A request's object key: ns and the name of the path. 0, or -1 after a
 * 400 answer. */
int ctl_api_key_of(bx_http_res *res, const char *ns, const char *name, char *key, size_t len)
{
    char why[256];
    if (ctl_key_make(ns[0] ? ns : NULL, name, key, len, why, sizeof(why)) == 0) return 0;
    ctl_api_reply_errorf(res, 400, "%s", why);
    return -1;
}
