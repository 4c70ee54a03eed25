/* ctl_api: the admin HTTP API `brix up` serves on loopback (default
 * 127.0.0.1:8889) for `brix apply/get/describe/delete` (ctl_cli). It runs on
 * the caller's libuv loop over an object store (ctl_objstore) and answers
 * JSON:
 *
 * Namespaces: every route but /healthz takes ?namespace=NS (default
 * "default"); the lists (objects, pods, events) take ?allNamespaces=true
 * instead. Objects, pods and events name their namespace and their name
 * apart (the store's keys, ctl_key.h, do not leave the API).
 *
 *   POST   /v1/apply                  body: YAML or JSON, one or more
 *                                     documents. Every document is validated
 *                                     first (ctl_obj, and as_spec for
 *                                     PodAutoscalers); any invalid one -> 400
 *                                     naming the document and field, nothing
 *                                     stored. Documents of kinds brix does
 *                                     not know are skipped (ctl_obj_parse_all).
 *                                     Else each is stored and the answer is
 *                                     {"items":[{kind,name,result,generation,
 *                                     notes}...], "warnings":[string...]}
 *                                     with result "created" / "configured" /
 *                                     "unchanged", notes the object's one
 *                                     warning ("" when none), warnings the
 *                                     skipped documents'.
 *   GET    /v1/objects/{kind}         {"kind","items":[object...]}
 *   GET    /v1/objects/{kind}/{name}  {"object","events":[event...]}
 *   DELETE /v1/objects/{kind}/{name}  {"kind","name","result":"deleted"}; 404
 *                                     (the watch tells the controllers)
 *   GET    /v1/pods[?deployment=D]    {"items":[pod...]}: live podviews
 *   GET    /v1/pods/{name}/log[?tailLines=N][&offset=B]  {"log","offset"}:
 *                                     the pod's output file (cfg.log_dir)
 *   GET    /v1/events[?kind=K[&name=N]][&limit=L]   {"items":[event...]}
 *   GET    /healthz                   {"status":"ok"}
 *
 * {kind} is any spelling ctl_api_kind_parse knows (deployments, models,
 * ma, PodAutoscaler, ...). An object is its stored manifest plus
 * metadata.generation, metadata.creationTimestamp (RFC 3339) and "status".
 * An event is {type,reason,message,count,firstTimestamp,lastTimestamp,
 * involvedObject:{kind,namespace,name}}. A pod is {name,namespace,
 * deployment,model,url,labels,replica,port,pid,phase,status (kubectl's
 * STATUS word),ready,restarts,readySince,startedAt} (times RFC
 * 3339 or null; startedAt from the pod_started callback). A Service's
 * status gets models (the models of the Deployments of its namespace whose
 * pods its selector matches) and endpoint (the config's gateway_url when it
 * names a model, else null), computed when read.
 * Errors: {"error":{"message",...}} (bx_reply_error) with 400, 403, 404,
 * 405 (with Allow), 413 (body over the limit), 415, 500.
 *
 * Loopback only, no authentication, so two guards against web pages that
 * reach 127.0.0.1 through a browser: the Host header must name a loopback
 * host (DNS rebinding), and POST bodies must be declared application/yaml,
 * application/x-yaml, text/yaml or application/json (a cross-site form
 * cannot send those without a CORS preflight, which this API never grants).
 *
 * Files: ctl_api.c (lifecycle, routing, apply, objects, events),
 * ctl_api_pods.c (pods, logs); ctl_api_int.h is what they share.
 *
 * Ownership and threads: everything runs on the loop thread; the store is
 * borrowed (only used from that thread) and must outlive the api. Callbacks
 * run on the loop thread. The pods callback returns an array the producer
 * owns; it is read before the handler returns and not kept. */
#ifndef CTL_API_H
#define CTL_API_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ctl/ctl_obj.h"
#include "ctl/ctl_podview.h"
#include "ctl/ctl_objstore.h"

#define CTL_API_DEFAULT_PORT 8889

typedef struct ctl_api ctl_api; /* opaque */

typedef struct ctl_api_config {
    const char *host;        /* must be a loopback address; default "127.0.0.1" */
    int port;                /* default CTL_API_DEFAULT_PORT; 0 picks a free one */
    size_t max_body_bytes;   /* POST body limit; default 4 MiB (bx_yaml's) */
    size_t event_limit;      /* events per object in GET /v1/objects/{k}/{n}; 50 */
    const char *gateway_url; /* the gateway's address ("http://127.0.0.1:8888"), shown as
                                a Service's status.endpoint; borrowed; NULL: none */
    const char *log_dir;     /* pods' output files "<dir>/<pod key>.log" (ctl_orch_local's);
                                NULL: no logs. Borrowed: outlives the api. */
} ctl_api_config;

void ctl_api_config_default(ctl_api_config *c);

typedef struct ctl_api_callbacks {
    /* Live pods: *out gets an array of *n views the producer owns (valid
     * until the producer's loop runs again). 0, or -1 (answered 500). NULL:
     * no pods. */
    int (*pods)(void *ud, const ctl_podview **out, size_t *n);
    /* When the pod was started (Unix ms; startedAt), 0 unknown. May be
     * NULL. */
    int64_t (*pod_started)(void *ud, const char *pod);
    void *ud;
} ctl_api_callbacks;

/* Allocates the api and its HTTP server on loop; nothing listens yet. cfg
 * NULL means the defaults; cbs may be NULL. 0, or -1 with a message. */
int ctl_api_init(ctl_api **out, uv_loop_t *loop, ctl_objstore *store, const ctl_api_config *cfg,
                 const ctl_api_callbacks *cbs, char *err, size_t errlen);
/* Binds and listens; returns the bound port (> 0) or -1 with a message. */
int ctl_api_listen(ctl_api *a, char *err, size_t errlen);
/* Stops listening, closes connections and frees the api; cb (may be NULL)
 * runs from the loop once every handle is closed. */
void ctl_api_close(ctl_api *a, void (*cb)(void *ud), void *ud);

/* The work of POST /v1/apply without HTTP (the route adds the Content-Type
 * check): validates every document of body, then stores each (the store's
 * watchers run from inside each put, before the next is stored). Returns the HTTP status: 200 with
 * *answer (new reference, the route's body), or 400 / 500 with a message in err. */
/* Bytes a log answer carries at most (the end of the file). */
#define CTL_API_LOG_MAX (4u << 20)
/* Reads path from byte offset (an offset past the end: from 0) to the end,
 * at most CTL_API_LOG_MAX bytes, keeping the last `tail` lines when tail >=
 * 0. *buf (malloc'd, NUL-terminated, *len bytes) and *end (the file's size).
 * 0, or -1 (cannot read it). */
int ctl_api_log_read(const char *path, int64_t offset, long tail, char **buf, size_t *len,
                     int64_t *end);
/* kubectl's STATUS word for a pod: Running, ContainerCreating, Terminating,
 * CrashLoopBackOff, Error, Completed. */
const char *ctl_api_pod_status(const ctl_podview *p);

/* ctl_api_apply in namespace ns (NULL: as written): documents without
 * metadata.namespace go there, ones naming another namespace are
 * refused (400), as kubectl apply -n does. */
int ctl_api_apply_in(ctl_api *a, const char *ns, const char *body, size_t len, json_t **answer,
                     char *err, size_t errlen);
int ctl_api_apply(ctl_api *a, const char *body, size_t len, json_t **answer, char *err,
                  size_t errlen);

/* Request pieces the routes parse, exported for tests and the fuzzer.
 * ctl_api_host_ok: 1 when a Host header value names a loopback host
 * (127.x.x.x, localhost, [::1]) with an optional numeric port.
 * (Query strings: bx_query_get, src/common/bx_query.h.) */
int ctl_api_host_ok(const char *value);

/* The CLI's spellings as well as ctl_kind_parse's: models/model ->
 * Deployment, adapters/adapter -> ModelAdapter, autoscalers/autoscaler ->
 * PodAutoscaler (case-insensitive). CTL_KIND_NONE when unknown. */
ctl_kind ctl_api_kind_parse(const char *s);

#endif
