/* k8s_pod: which pods are model engines, and where they listen: the rules
 * the gateway's discovery (gw_k8s) and the controller's orchestrator
 * (ctl_orch_k8s) share, so both see the same engines. Pure functions over a
 * Pod object (borrowed; nothing kept); fuzzed through fuzz_gw_k8s and
 * fuzz_ctl_k8s.
 *
 * An engine pod carries the label model.aibrix.ai/name; Ray worker pods
 * (ray.io/node-type=worker) and StormService pod-group members with an
 * integer index above 0 are not engines (their leader serves), as AIBrix.
 * Its port is the label model.aibrix.ai/port (1..65535), default 8000.
 * k8s_pod_slim cuts a pod down to what these rules (and the caller) read,
 * for the informers' caches. */
#ifndef K8S_POD_H
#define K8S_POD_H

#include <jansson.h>

#define K8S_POD_LABEL_MODEL "model.aibrix.ai/name"
#define K8S_POD_LABEL_PORT "model.aibrix.ai/port"
#define K8S_POD_LABEL_GROUP_INDEX "stormservice.orchestration.aibrix.ai/pod-group-index"
#define K8S_POD_DEFAULT_PORT 8000

typedef enum k8s_pod_role {
    K8S_POD_ENGINE = 0,   /* an engine pod: *model and *port set */
    K8S_POD_NO_MODEL,     /* no (or an empty) model label */
    K8S_POD_RAY_WORKER,   /* ray.io/node-type=worker */
    K8S_POD_GROUP_MEMBER, /* pod-group-index above 0 */
    K8S_POD_BAD_PORT,     /* port label not 1..65535 */
} k8s_pod_role;

/* What k8s_pod_slim keeps beyond metadata.name, .namespace,
 * .resourceVersion, .deletionTimestamp, status.podIP and the Ready
 * condition's type and status (what the engine rule and readiness read). */
enum {
    K8S_POD_SLIM_ALL_LABELS = 1, /* every label (else the engine rule's four) */
    K8S_POD_SLIM_OWNERS = 2,     /* metadata.ownerReferences' kind, name, controller */
    K8S_POD_SLIM_DETAIL = 4,     /* the Ready condition's lastTransitionTime and
                                  * status.containerStatuses[0].restartCount */
};
/* A new object with only what `keep` asks of pod (a reflector's transform:
 * the full objects of 10,000 pods take about 20 KB each in jansson). NULL
 * on out of memory. */
json_t *k8s_pod_slim(const json_t *pod, unsigned keep);

/* What the labels say; *model points into pod. */
k8s_pod_role k8s_pod_engine_labels(const json_t *pod, const char **model, int *port);
/* 1 when the pod's Ready condition is True. */
int k8s_pod_ready(const json_t *pod);

#endif
