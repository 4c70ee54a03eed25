/* gw_k8s: Kubernetes discovery for the gateway (`brix gateway --kubernetes`):
 * one more gw_disc source (gw_discovery.h), feeding the same registry as
 * the static --backend list.
 *
 * Two reflectors (k8s_reflector.h) on the gateway's loop, through one
 * k8s_client: pods carrying the label model.aibrix.ai/name, and
 * model.aibrix.ai/v1alpha1 ModelAdapters; all namespaces, or one. After any
 * event of either (coalesced to one rebuild per loop turn) the source gives
 * gw_disc_set_engines_info the full set: each routable pod is an engine at
 * podIP:port serving the pod's model label (pinned: ready at once, the Ready
 * condition being the check) and the adapters whose status.instances name
 * the pod (same namespace). A pod that stops being routable leaves the set:
 * no new requests, those in flight finish (gw_discovery's "gone").
 *
 * A pod is an engine (gw_k8s_pod_engine, AIBrix's rules) when it has the
 * model label, a podIP, no deletionTimestamp, its Ready condition True, and
 * it is not a Ray worker (label ray.io/node-type=worker) nor a StormService
 * pod group's member other than the first (label
 * stormservice.orchestration.aibrix.ai/pod-group-index an integer > 0). Its port is the
 * label model.aibrix.ai/port (1..65535), 8000 without it; a bad port label
 * skips the pod. Two pods at one address (host network): the first in cache
 * order is kept.
 *
 * Known models without an engine (pods not Ready or crash-looping, a Failed
 * ModelAdapter) are handed to the registry on each rebuild
 * (gw_k8s_unready): the gateway answers them 503 with Retry-After.
 *
 * The first complete pod LIST marks discovery synced (gw_disc_synced): the
 * gateway's /readyz in this mode, ready even with no model pods yet (a
 * rollout of the gateway must not wait for models).
 *
 * Ownership: the source owns its client and reflectors; the pure functions
 * copy into caller storage. Threading: the gateway's loop (gw_gateway_int.h). */
#ifndef GW_K8S_H
#define GW_K8S_H

#include <jansson.h>
#include <stddef.h>

#include "gateway/gw_discovery.h"
#include "gateway/gw_engine.h"
#include "k8s/k8s_pod.h"

#define GW_K8S_LABEL_MODEL K8S_POD_LABEL_MODEL
#define GW_K8S_LABEL_KV_EVENTS "model.aibrix.ai/kv-events-enabled"
#define GW_K8S_LABEL_PORT K8S_POD_LABEL_PORT
#define GW_K8S_DEFAULT_PORT K8S_POD_DEFAULT_PORT
/* StormService pod groups: only index 0 of a group serves HTTP */
#define GW_K8S_LABEL_GROUP_INDEX K8S_POD_LABEL_GROUP_INDEX

/* Why a pod is not an engine (GW_K8S_POD_OK: it is). */
typedef enum gw_k8s_pod_why {
    GW_K8S_POD_OK = 0,
    GW_K8S_POD_NO_MODEL,     /* no model label (or too long) */
    GW_K8S_POD_RAY_WORKER,   /* ray.io/node-type=worker */
    GW_K8S_POD_GROUP_MEMBER, /* pod-group-index label above 0 (StormService) */
    GW_K8S_POD_DELETING,     /* deletionTimestamp set */
    GW_K8S_POD_NO_IP,        /* no status.podIP yet */
    GW_K8S_POD_NOT_READY,    /* Ready condition not True */
    GW_K8S_POD_BAD_PORT,     /* port label not 1..65535 */
    GW_K8S_POD_BAD_NAME,     /* no metadata.name / namespace, or too long */
} gw_k8s_pod_why;

typedef struct gw_k8s_pod {
    char ns[GW_NAME_MAX];
    char name[GW_NAME_MAX * 2]; /* pod names are at most 253 */
    char addr[GW_NAME_MAX];     /* "podIP:port" ("[v6]:port") */
    char model[GW_NAME_MAX];
    /* its Deployment (GPU type: gw_engine.group): the name of its
     * controller ownerReference of kind ReplicaSet minus "-" + its
     * pod-template-hash label, as a Deployment names its ReplicaSets; ""
     * when the pod has no such owner or label, or they do not match */
    char group[GW_NAME_MAX];
    /* P/D (gw_pd.h): its labels role-name and roleset-name, "" when absent */
    char pd_role[16];
    char roleset[GW_NAME_MAX];

    /* the label model.aibrix.ai/kv-events-enabled is "true": the gateway
     * follows its KV events (with --kv-events-port; gw_kvroute.h) */
    int kv_events;
} gw_k8s_pod;

/* Pure: is this Pod object an engine, and where. Fills out on OK. */
gw_k8s_pod_why gw_k8s_pod_engine(const json_t *pod, gw_k8s_pod *out);
const char *gw_k8s_pod_why_str(gw_k8s_pod_why w);

/* Pure: a pod's Deployment (gw_k8s_pod.group's rule) into out; 0, or -1
 * (out "") when it has none. */
int gw_k8s_pod_group(const json_t *pod, char *out, size_t outlen);

/* Pure: what the informers keep of a Pod / a ModelAdapter (the reflector's
 * transform): only the fields gw_k8s_pod_engine or gw_k8s_adapter_index
 * read, plus metadata.resourceVersion; either classifies its slim copy as
 * it classifies the whole object. A new reference (NULL when out of
 * memory). A pod's JSON is a few kB and jansson's copy of it ten times
 * that; the slim copy is a few hundred bytes. */
json_t *gw_k8s_pod_slim(const json_t *pod);
json_t *gw_k8s_adapter_slim(const json_t *ma);

/* Pure: the models the caches know but serve from no engine, for a 503 at
 * once instead of a 404 (AIBrix: a known model with no routable pod is
 * 503): a model whose labelled pods exist but none is an engine because
 * not Ready or without an IP yet ("no pod ... is Ready yet", Retry-After 5;
 * when every such pod's container waits in CrashLoopBackOff, "crash-looping",
 * Retry-After 10), and a ModelAdapter whose status.phase is Failed
 * (Retry-After 10: its controller retries). Pods being deleted do not
 * count. Writes at most cap entries; returns the count. */
int gw_k8s_unready(const json_t *pods, const json_t *adapters, gw_unready_model *out, int cap);

/* Pure: the adapter routing table from a cache of ModelAdapters (a JSON
 * object key -> ModelAdapter, as k8s_reflector_cache): a new object
 * "ns/pod" -> array of the names of the adapters whose status.instances list
 * that pod in their own namespace (each name once, in cache order). NULL
 * when out of memory. The caller decrefs it. */
json_t *gw_k8s_adapter_index(const json_t *adapters);

/* The source. Args: [0] kubeconfig file list ("" or absent: in-cluster when
 * KUBERNETES_SERVICE_HOST is set, else $KUBECONFIG or ~/.kube/config),
 * [1] namespace ("" or absent: all namespaces). init loads the config (an
 * error there fails the gateway's start); start begins the LISTs. */
extern const gw_disc_source gw_disc_source_k8s;

#endif
