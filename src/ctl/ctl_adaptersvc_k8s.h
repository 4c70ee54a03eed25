/* ctl_adaptersvc_k8s: the headless Service and the EndpointSlice of each
 * ModelAdapter, Kubernetes mode's part of AIBrix's ModelAdapter controller
 * (resources.go) that the backend-agnostic controller (ctl_lora) knows
 * nothing of. `brix controller` wires it in.
 *
 * What it makes, per ModelAdapter <a> of the namespace (not being deleted):
 *   Service <a>        labels adapter.model.aibrix.ai/name=<a> and
 *                      model.aibrix.ai/name=<spec.baseModel> (when set);
 *                      type ClusterIP, clusterIP None, no selector,
 *                      publishNotReadyAddresses, one port "http" TCP;
 *   EndpointSlice <a>  labels kubernetes.io/service-name=<a>,
 *                      adapter.model.aibrix.ai/name=<a> and
 *                      endpointslice.kubernetes.io/managed-by=
 *                      CTL_ADAPTERSVC_MANAGED_BY (Kubernetes' own EndpointSlice
 *                      controller leaves it alone); addressType IPv4; one
 *                      endpoint per pod of status.instances the orchestrator
 *                      knows with an IPv4 address (conditions.ready: the pod
 *                      is Ready; terminating: it is being deleted; targetRef
 *                      the Pod), sorted by pod name; port "http" TCP. The
 *                      slice exists with no endpoints too (AIBrix creates it
 *                      only once a pod has the adapter).
 * The port is the pods' (label model.aibrix.ai/port, default 8000: k8s_pod.h)
 * where AIBrix hard-codes 8000: the first endpoint's; with none, the first
 * (by name) pod's of the base model; else 8000.
 * Both carry a controller ownerReference to the adapter (apiVersion
 * model.aibrix.ai/v1alpha1, kind ModelAdapter, name, uid, controller,
 * blockOwnerDeletion), so the API server's garbage collector deletes them
 * with it: this module never deletes, and makes nothing for an adapter
 * being deleted.
 *
 * How. Inputs: the ModelAdapters as the object store's cache has them
 * (ctl_objstore_k8s_cache: name, uid, baseModel, status.instances) and the
 * orchestrator's pods (ctl_orch_pods: name, host, port, phase). Two
 * reflectors keep the namespace's Services and EndpointSlices with the
 * label selector adapter.model.aibrix.ai/name. A reconcile compares what is
 * wanted with the cache and writes only on a difference: a POST when
 * absent, else a merge patch of the wanted fields carrying the cached
 * metadata.resourceVersion (a stale cache gets 409 and waits for the
 * watch). So at steady state it makes no API request. A reconcile runs on a
 * 0 ms timer after ctl_adaptersvc_kick (the controller calls it when an
 * adapter or a pod changes), after a change in its own caches, and when it
 * becomes active; nothing runs while nothing changed. After a write of an
 * object it waits for the watch to show the written resourceVersion (at
 * most CTL_ADAPTERSVC_EXPECT_MS) before judging that object again; a failed
 * write is retried with a backoff per object (1 s doubling to 60 s).
 *
 * Writes only while active (ctl_adaptersvc_set_active: the process leads,
 * as ctl_objstore_k8s_set_active); deactivation cancels what is in flight.
 * The reflectors run from ctl_adaptersvc_open on, leader or not.
 *
 * Threads and ownership: the client's loop. The client, the store and the
 * orchestrator are borrowed (close this module before them).
 * ctl_adaptersvc_close cancels what is in flight (no callback after it). */
#ifndef CTL_ADAPTERSVC_K8S_H
#define CTL_ADAPTERSVC_K8S_H

#include <jansson.h>
#include <stddef.h>

#include "ctl/ctl_objstore.h"
#include "ctl/ctl_orch.h"
#include "k8s/k8s_client.h"

#define CTL_ADAPTERSVC_LABEL_ADAPTER "adapter.model.aibrix.ai/name"
#define CTL_ADAPTERSVC_LABEL_SERVICE "kubernetes.io/service-name"
#define CTL_ADAPTERSVC_LABEL_MANAGED_BY "endpointslice.kubernetes.io/managed-by"
#define CTL_ADAPTERSVC_MANAGED_BY "adapter-controller.brix"
#define CTL_ADAPTERSVC_PORT_NAME "http"
#define CTL_ADAPTERSVC_EXPECT_MS 10000

typedef struct ctl_adaptersvc ctl_adaptersvc;

typedef struct ctl_adaptersvc_opts {
    const char *ns;      /* the namespace (required; copied) */
    ctl_objstore *store; /* the "kubernetes" object store (borrowed) */
    ctl_orch *orch;      /* its pods (borrowed) */
} ctl_adaptersvc_opts;

typedef struct ctl_adaptersvc_stats {
    unsigned long reconciles; /* reconcile passes run */
    unsigned long creates, patches, failures;
} ctl_adaptersvc_stats;

/* Starts the reflectors. 0 and *out, or -1 with err. */
int ctl_adaptersvc_open(k8s_client *c, const ctl_adaptersvc_opts *o, ctl_adaptersvc **out,
                        char *err, size_t errlen);
/* 1 once both reflectors have listed. */
int ctl_adaptersvc_synced(const ctl_adaptersvc *a);
/* 1: writes allowed (a reconcile follows); 0: stop writing now. */
void ctl_adaptersvc_set_active(ctl_adaptersvc *a, int active);
/* Something it reads changed: reconcile soon (coalesced). Safe from inside
 * a reflector callback. NULL: nothing. */
void ctl_adaptersvc_kick(ctl_adaptersvc *a);
void ctl_adaptersvc_get_stats(const ctl_adaptersvc *a, ctl_adaptersvc_stats *out);
/* Cancels, frees (handles close on the loop). NULL: nothing. */
void ctl_adaptersvc_close(ctl_adaptersvc *a);

/* ---- pure helpers (ctl_adaptersvc_desired.c, unit-tested) ---- */

/* The Service and EndpointSlice wanted for a ModelAdapter CR (borrowed),
 * its endpoints taken from pods (n of them, sorted by name: strcmp) named
 * in its status.instances. Labels the objects must not have are null (a
 * merge patch removes them; ctl_adaptersvc_strip_nulls for a create). 0 and
 * two new references, or -1 when the adapter lacks a name, namespace or uid
 * (or on OOM). */
int ctl_adaptersvc_desired(const json_t *adapter, const ctl_podview *pods, size_t n,
                           json_t **service, json_t **slice);
/* 1 when applying want as a JSON merge patch (RFC 7386) would change cur:
 * a null in want means the key must be absent; objects compare key by key
 * (keys only in cur do not matter: the server's defaults); other values,
 * arrays included, must be equal, an empty array matching an absent or
 * null one (the API server drops empty lists). */
int ctl_adaptersvc_differs(const json_t *cur, const json_t *want);
/* A deep copy of v without the null members of its objects. NULL on OOM. */
json_t *ctl_adaptersvc_strip_nulls(const json_t *v);

#endif
