/* ctl_obj: the object model of brix's local control plane. Parses and
 * validates the objects users apply (`brix apply -f`, `brix up -f`), given as
 * jansson values (one per YAML document, from bx_yaml_load_all):
 *
 *   Deployment     apps/v1                         a model deployment, in
 *                                                  Kubernetes' shape
 *   ModelAdapter   model.aibrix.ai/v1alpha1        a LoRA adapter (AIBrix)
 *   PodAutoscaler  autoscaling.aibrix.ai/v1alpha1  identity only; the full
 *                                                  spec is src/autoscale's
 *   RayClusterFleet, RayClusterReplicaSet
 *                  orchestration.aibrix.ai/v1alpha1  a Deployment / ReplicaSet
 *                                                  of multi-node replicas
 *   RayCluster     ray.io/v1 (v1alpha1)            one multi-node replica
 *                                                  (KubeRay's)
 *
 * and the Kubernetes kinds a file written for a cluster carries next to
 * them (ctl_kind; ctl_obj_core.c): stored as written and noted "stored, not
 * acted on locally (why)", but for a Secret (its data and stringData are
 * dropped) and a Service (spec.selector: ctl_obj_service_models).
 *
 * Errors name the object and the field path: "ModelAdapter lora-1:
 * spec.artifactURL: required". Every field the kind does not act on is
 * named in one note ("accepted, not acted on locally: spec.strategy,
 * spec.template.spec.containers[0].image, .resources"; ctl_obj_fields.c
 * has the fields acted on per kind), next to what brix changed (a --port
 * remapped), in ctl_obj.notes for `brix apply` and `brix up -f` to print.
 * ctl_obj_parse_all skips documents of unknown kinds with a warning.
 *
 * Common: apiVersion must be one the kind takes; metadata.name is a DNS-1123
 * subdomain of at most 63 bytes (a label for Service, Namespace and
 * ModelAdapter); metadata.labels/annotations are string maps; metadata.namespace is
 * a DNS-1123 label when given; a `status` is dropped. ctl_obj_parse keeps
 * metadata.name in name; local mode (ctl_obj_parse_all) puts the object's
 * key there instead (ctl_key.h: "ns:name" outside the default namespace).
 *
 * Deployment. Honoured: metadata.labels["model.aibrix.ai/name"] (required;
 * spec.template.metadata.labels may carry it instead), label
 * model.aibrix.ai/engine (default vllm), spec.replicas (default 1),
 * spec.template.metadata.labels (pod labels, for ModelAdapter selectors),
 * spec.template.spec.containers[0].{command,args,env[].name/value,
 * readinessProbe,livenessProbe,startupProbe (httpGet.path/port, tcpSocket,
 * exec.command; initialDelaySeconds, periodSeconds, timeoutSeconds,
 * failureThreshold, successThreshold)},
 * spec.template.spec.terminationGracePeriodSeconds. The command template
 * must use {port} somewhere (argv or env): ports are allocated per replica.
 * spec.selector.matchLabels must match the pod labels (as in Kubernetes).
 * Named as not acted on: image, containers[1..], env[].valueFrom, ports
 * (brix allocates each replica's port; a probe port may name one), resources,
 * volumes, strategy, a probe's grpc and httpGet host/scheme/httpHeaders, ...
 * (everything but the above and the probes). Probes: see ctl_probe below and
 * docs/control-plane.md.
 * brix annotations (values are strings, as Kubernetes requires):
 *   brix.ai/startup-timeout-seconds  seconds a replica may take to become
 *                                    ready before it is restarted (600;
 *                                    a startupProbe's budget replaces it)
 *   brix.ai/drain-grace-seconds      seconds between SIGTERM and SIGKILL
 *                                    when a replica stops (30; falls back to
 *                                    terminationGracePeriodSeconds)
 *   brix.ai/routing-strategy         gateway strategy for this model (a name
 *                                    or weighted list gw_strategy_plan_parse takes)
 *
 * ModelAdapter (docs/control-plane-lora.md). spec.artifactURL required and must
 * start with s3:// gcs:// tos:// huggingface:// hf:// or / (the webhook's
 * list) or, brix's additions, http:// https:// (downloaded into the adapter
 * cache, checked against additionalConfig["sha256"] when given) or file://;
 * spec.podSelector.matchLabels selects pods (matchExpressions named as not acted on); with
 * no podSelector it is derived from spec.baseModel, and one of the two is required; spec.replicas
 * absent means every matching pod, else >= 1 (AIBrix's CRD allows only 1; brix accepts up to
 * CTL_MAX_REPLICAS); spec.schedulerName is honoured locally (AIBrix ignores it):
 * default|leastAdapters|binPack|leastLatency|leastThroughput| random; spec.additionalConfig string
 * map ("api-key" becomes a bearer token); spec.credentialsSecretRef named as not acted on
 * (no Secrets locally).
 *
 * RayClusterFleet (ctl_fleet; ctl_obj_ray.c). spec.replicas (default 1,
 * 0..CTL_MAX_REPLICAS); spec.selector required and not empty (AIBrix only
 * warns "SelectingAll"), matchLabels and matchExpressions checked as
 * Kubernetes does and matching spec.template.metadata.labels;
 * spec.template.spec a RayClusterSpec (below); spec.strategy.type
 * RollingUpdate (also when absent) or Recreate (no rollingUpdate with it),
 * rollingUpdate.maxSurge / maxUnavailable an integer >= 0 or "N%" (25% each
 * when absent; maxUnavailable at most 100%; not both 0); minReadySeconds >=
 * 0; revisionHistoryLimit >= 0 (10); paused; progressDeadlineSeconds (600)
 * greater than minReadySeconds. The model is the template's (else the
 * fleet's) model.aibrix.ai/name label (ctl_obj_model), validated when given.
 * RayClusterReplicaSet: the same but strategy, revisionHistoryLimit, paused
 * and progressDeadlineSeconds (defaults kept, the fields named as not acted
 * on). RayCluster (ctl_raycluster): spec is a RayClusterSpec:
 * headGroupSpec{template required, rayStartParams (a string map)};
 * workerGroupSpecs[]{groupName required, unique, a DNS-1123 subdomain;
 * replicas (0) clamped into [minReplicas (0), maxReplicas (2^31-1)], min <=
 * max; numOfHosts (1) 1..CTL_MAX_REPLICAS; rayStartParams; template
 * required}; suspend; at most CTL_MAX_REPLICAS worker nodes in all; every
 * template's spec.containers[0] must exist. Named as not acted on:
 * rayVersion, rayStartParams, enableInTreeAutoscaling, autoscalerOptions,
 * headGroupSpec.serviceType/headService, containers[0].image/resources,
 * containers[1..], ... (ctl_obj_fields.c).
 *
 * PodAutoscaler: identity only (spec.scaleTargetRef.kind any kind, .name a
 * DNS label; spec.scalingStrategy present); src/autoscale/as_spec
 * validates the rest from raw. Local mode takes documents through
 * ctl_obj_parse_all, which also refuses a target kind other than
 * Deployment or RayClusterFleet (brix controller, through ctl_obj_parse, takes any kind with a
 * scale subresource: ctl_orch_k8s.h).
 *
 * Ownership: ctl_obj_parse returns a heap ctl_obj that owns everything it
 * points to: raw (a deep copy of the input; the caller's value is not kept),
 * and the typed view's strings and arrays. Free it with ctl_obj_free. Typed
 * strings stay valid for the object's lifetime and must not be modified.
 * Nothing here keeps global state; all functions are thread-safe on distinct
 * objects.
 *
 * Names: ctl_obj_* but for ctl_kind_name/lower/parse, ctl_name_valid,
 * ctl_objs_free, ctl_adapter_sched_name, ctl_deployment_render,
 * ctl_labels_match and ctl_selector_match, which the controllers and the admin API call under
 * these names. */
#ifndef CTL_OBJ_H
#define CTL_OBJ_H

#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bx_apikey.h"
#include "ctl/ctl_place.h"

#define CTL_NAME_MAX 63        /* object names: a DNS-1123 subdomain this long */
#define CTL_MODEL_NAME_MAX 255 /* served model name */
#define CTL_MAX_REPLICAS 256   /* local machine: replicas of one object */
#define CTL_MAX_ARGS 256       /* command + args entries */
#define CTL_API_KEY_MAX 256    /* an engine's --api-key, with its NUL (GW_KEY_MAX) */
#define CTL_MAX_ENV 256        /* env entries */
#define CTL_MAX_MAP 256        /* entries of labels/annotations/matchLabels/additionalConfig */
#define CTL_MAX_STR 4096       /* any one string we keep */
#define CTL_MAX_DOCS 256       /* documents in one file */
#define CTL_NOTES_MAX 2048

/* Well-known keys. */
#define CTL_LABEL_MODEL "model.aibrix.ai/name"
#define CTL_LABEL_ENGINE "model.aibrix.ai/engine"
#define CTL_LABEL_PORT "model.aibrix.ai/port"
#define CTL_LABEL_ADAPTER_ENABLED "adapter.model.aibrix.ai/enabled"
#define CTL_LABEL_KV_EVENTS "model.aibrix.ai/kv-events-enabled"
/* brix up's engines with that label publish KV events at their HTTP port +
 * this (replay + 1); its gateway follows them there */
#define CTL_KV_EVENTS_OFFSET 700
#define CTL_ANN_STARTUP_TIMEOUT "brix.ai/startup-timeout-seconds"
#define CTL_ANN_DRAIN_GRACE "brix.ai/drain-grace-seconds"
#define CTL_ANN_ROUTING_STRATEGY "brix.ai/routing-strategy"
/* A document of this kind (apiVersion brix.ai/v1alpha1) in a `brix up -f`
 * file configures brix up's gateway (API keys); brix up takes it out before
 * the objects are parsed (ctl_up.c). It is no object: ctl_obj_parse refuses
 * it, saying so (`brix apply` of it is an error). */
#define CTL_GATEWAY_CONFIG_KIND "GatewayConfig"
#define CTL_GATEWAY_CONFIG_API "brix.ai/v1alpha1"

/* brix's kinds (acted on), then the Kubernetes kinds a file may carry next
 * to them (AIBrix's manifests do): stored, so that `brix get` and `brix
 * delete -f` of the same file work, and reported as not acted on locally,
 * but for Service, whose selector names a model (ctl_obj_service_models). */
typedef enum ctl_kind {
    CTL_KIND_NONE = 0,
    CTL_KIND_DEPLOYMENT,
    CTL_KIND_MODEL_ADAPTER,
    CTL_KIND_POD_AUTOSCALER,
    CTL_KIND_SERVICE,              /* v1 */
    CTL_KIND_SERVICE_ACCOUNT,      /* v1 */
    CTL_KIND_CONFIG_MAP,           /* v1 */
    CTL_KIND_SECRET,               /* v1: stored without data/stringData */
    CTL_KIND_NAMESPACE,            /* v1 */
    CTL_KIND_PVC,                  /* v1 PersistentVolumeClaim */
    CTL_KIND_HPA,                  /* autoscaling/v2 (v1) HorizontalPodAutoscaler */
    CTL_KIND_ROLE,                 /* rbac.authorization.k8s.io/v1 */
    CTL_KIND_CLUSTER_ROLE,         /* rbac.authorization.k8s.io/v1 */
    CTL_KIND_ROLE_BINDING,         /* rbac.authorization.k8s.io/v1 */
    CTL_KIND_CLUSTER_ROLE_BINDING, /* rbac.authorization.k8s.io/v1 */
    CTL_KIND_INGRESS,              /* networking.k8s.io/v1 */
    CTL_KIND_HTTP_ROUTE,           /* gateway.networking.k8s.io/v1 (v1beta1) */
    CTL_KIND_GATEWAY,              /* gateway.networking.k8s.io/v1 (v1beta1) */
    CTL_KIND_STATEFUL_SET,         /* apps/v1: not run locally (brix runs Deployments) */
    /* multi-node replicas (acted on): AIBrix's orchestration.aibrix.ai/v1alpha1
     * kinds, and KubeRay's RayCluster (ray.io/v1; v1alpha1 accepted) */
    CTL_KIND_RAYCLUSTER_FLEET,      /* RayClusterFleet */
    CTL_KIND_RAYCLUSTER_REPLICASET, /* RayClusterReplicaSet */
    CTL_KIND_RAYCLUSTER,            /* RayCluster */
} ctl_kind;
#define CTL_KIND_COUNT (CTL_KIND_RAYCLUSTER + 1)

/* "Deployment", "ModelAdapter", "Service", ...; NULL for CTL_KIND_NONE. */
const char *ctl_kind_name(ctl_kind k);
/* kubectl's lower-case spelling: "deployment", "modeladapter",
 * "service", ...; "object" for CTL_KIND_NONE. */
const char *ctl_kind_lower(ctl_kind k);
/* The apiVersion each kind is written with (its first, for kinds that
 * take several). */
const char *ctl_obj_kind_api_version(ctl_kind k);
/* 1 when the kind takes api as its apiVersion. */
int ctl_obj_kind_api_ok(ctl_kind k, const char *api);
/* 1 for brix's kinds (Deployment, ModelAdapter, PodAutoscaler, the
 * RayCluster kinds) and Service: acted on locally. 0 for the kinds only stored. */
int ctl_kind_acted_on(ctl_kind k);
/* Exact kind names, and for the CLI, case-insensitive aliases: the lower
 * case name, its plural and kubectl's short name (deployment(s), deploy;
 * modeladapter(s), ma; podautoscaler(s), pa; service(s), svc;
 * serviceaccount(s), sa; configmap(s), cm; namespace(s), ns;
 * persistentvolumeclaim(s), pvc; horizontalpodautoscaler(s), hpa;
 * ingress(es), ing; statefulset(s), sts; rayclusterfleet(s),
 * rayclusterreplicaset(s), raycluster(s): AIBrix and KubeRay give these
 * no short name; ...). CTL_KIND_NONE when unknown. */
ctl_kind ctl_kind_parse(const char *s);

/* 1 when s is a name brix stores: a DNS-1123 subdomain (labels joined by
 * '.', as Kubernetes names Deployments, ConfigMaps, ...) of 1..63 bytes. */
int ctl_name_valid(const char *s);
/* 1 when s is a DNS-1123 label: 1..63 of [a-z0-9-], alphanumeric at both
 * ends (Services, Namespaces, and ModelAdapters: a Service is named after
 * each in Kubernetes). */
int ctl_name_is_label(const char *s);

typedef struct ctl_env {
    char *name;
    char *value; /* may hold placeholders, like the command */
} ctl_env;

/* A probe of containers[0] (readinessProbe, livenessProbe, startupProbe),
 * run by the local orchestrator against the pod's own port: httpGet's
 * port (a number, or the name of a containers[0] port) always means the
 * port brix allocated, since that is where the engine listens. */
typedef enum ctl_probe_kind {
    CTL_PROBE_HTTP = 0, /* httpGet: success is a 2xx or 3xx answer */
    CTL_PROBE_TCP,      /* tcpSocket: success is a connection */
    CTL_PROBE_EXEC,     /* exec.command: success is exit code 0 */
} ctl_probe_kind;

typedef struct ctl_probe {
    int given; /* 1 when the manifest has it */
    ctl_probe_kind kind;
    char *path;  /* httpGet.path (owned; "/" when absent) */
    char **exec; /* exec.command (owned, NULL-terminated), for CTL_PROBE_EXEC */
    double initial_delay_s, period_s, timeout_s; /* Kubernetes' defaults: 0, 10, 1 */
    int failure_threshold, success_threshold;    /* 3, 1 */
} ctl_probe;

/* A model deployment. Pods get the labels of spec.template.metadata.labels
 * plus model.aibrix.ai/name; ModelAdapter podSelectors match those. */
typedef struct ctl_deployment {
    char *model;  /* metadata.labels["model.aibrix.ai/name"] */
    char *engine; /* label model.aibrix.ai/engine, default "vllm" */
    int replicas; /* spec.replicas, default 1, 0..CTL_MAX_REPLICAS */
    /* Engine command template: containers[0].command followed by .args,
     * NULL-terminated. Placeholders {port} {host} {model} {name} {replica}
     * {kv_events_port} {kv_events_replay_port} (port + CTL_KV_EVENTS_OFFSET,
     * + 1)
     * {brix} are substituted by ctl_deployment_render. Without command the
     * entrypoint is "{brix} engine"; without command and args the whole
     * template is "{brix} engine --port {port} --model {model}
     * --enable-lora". A
     * command whose program is plain "brix" also runs this brix. */
    char **argv;
    size_t argc;
    int default_command; /* 1 when the entrypoint is brix's simulator */
    /* 0: brix allocates each replica's port ({port}). Else the port a
     * command without {port} or --port listens on (label
     * model.aibrix.ai/port, containerPort, 8000): one replica only */
    int fixed_port;
    ctl_env *env; /* containers[0].env with plain values */
    size_t nenv;
    /* the engine's key (vLLM): --api-key K or --api-key=K in argv (a `sh
     * -c` line's words too), else env VLLM_API_KEY; NULL: none. A secret:
     * the gateway sends it to the pods (ctl_podview.api_key); never logged,
     * redacted where the command is shown. Owned. */
    char *api_key;
    /* readinessProbe; without one, GET /health every second (timeout and
     * failure threshold 0: the orchestrator's), and a Ready pod failing it
     * is restarted unless a livenessProbe is given */
    ctl_probe readiness;
    ctl_probe liveness;       /* livenessProbe (given 0: none) */
    ctl_probe startup;        /* startupProbe (given 0: none; startup_timeout_s applies) */
    double startup_timeout_s; /* brix.ai/startup-timeout-seconds, default 600;
                                 a startupProbe's budget replaces it */
    double drain_grace_s;     /* brix.ai/drain-grace-seconds, else
                                 terminationGracePeriodSeconds, else 30 */
    char *routing_strategy;   /* brix.ai/routing-strategy; NULL = gateway's */
    /* 1: the pod template's label model.aibrix.ai/kv-events-enabled is
     * "true" (AIBrix's): a brix engine command publishes vLLM's KV events
     * at {kv_events_port} (replay {kv_events_replay_port}): its --kv-events
     * / --kv-events-replay values are rewritten to those, or added */
    int kv_events;
    json_t *pod_labels; /* owned: the labels each pod carries */
} ctl_deployment;

/* spec.schedulerName: the placement policies of ctl_place.h, with the
 * same values (ctl_place owns their names). */
typedef enum ctl_adapter_sched {
    CTL_SCHED_LEAST_ADAPTERS = CTL_PLACE_LEAST_ADAPTERS, /* "default" and "leastAdapters" */
    CTL_SCHED_BIN_PACK = CTL_PLACE_BIN_PACK,
    CTL_SCHED_LEAST_LATENCY = CTL_PLACE_LEAST_LATENCY,
    CTL_SCHED_LEAST_THROUGHPUT = CTL_PLACE_LEAST_THROUGHPUT,
    CTL_SCHED_RANDOM = CTL_PLACE_RANDOM,
} ctl_adapter_sched;

/* Its AIBrix spelling ("leastAdapters" for an out-of-range value). */
const char *ctl_adapter_sched_name(ctl_adapter_sched s);

#define CTL_ADAPTER_ALL (-1) /* replicas absent: load on every matching pod */

typedef struct ctl_adapter {
    char *base_model;          /* spec.baseModel, NULL when absent */
    json_t *match_labels;      /* owned: spec.podSelector.matchLabels, or
                                  {model.aibrix.ai/name: baseModel} */
    char *artifact_url;        /* spec.artifactURL */
    int replicas;              /* CTL_ADAPTER_ALL or 1..CTL_MAX_REPLICAS */
    ctl_adapter_sched sched;   /* spec.schedulerName */
    json_t *additional_config; /* owned: string->string map ({} when absent) */
    char *api_key;             /* additionalConfig["api-key"], NULL when absent */
    char *sha256;              /* additionalConfig["sha256"]: the downloaded artifact's
                                * checksum (http(s) URLs), NULL when absent */
} ctl_adapter;

typedef struct ctl_autoscaler {
    char *target_kind; /* spec.scaleTargetRef.kind */
    char *target_name; /* spec.scaleTargetRef.name */
    char *strategy;    /* spec.scalingStrategy as written (HPA/KPA/APA) */
} ctl_autoscaler;

/* A Service: what brix reads of it (the rest is stored as written). */
typedef struct ctl_service {
    json_t *selector; /* owned: spec.selector ({} when absent) */
} ctl_service;

/* One group of a RayClusterSpec: the head (headGroupSpec) or a worker
 * group (workerGroupSpecs[i]). */
typedef struct ctl_ray_group {
    char *name;               /* "headgroup" for the head; workerGroupSpecs[i].groupName */
    int replicas;             /* head 1; worker spec.replicas (default 0), clamped to
                                 [minReplicas, maxReplicas] */
    int num_of_hosts;         /* numOfHosts, default 1 (head 1) */
    json_t *template;         /* owned: the pod template {metadata, spec} as written */
    json_t *ray_start_params; /* owned: {} when absent */
} ctl_ray_group;

/* A KubeRay RayClusterSpec: a RayCluster's spec, and the spec of a
 * RayClusterFleet's or RayClusterReplicaSet's template. */
typedef struct ctl_raycluster {
    ctl_ray_group head;
    ctl_ray_group *workers; /* owned: nworkers groups */
    size_t nworkers;
    int desired_workers; /* sum of workers[i].replicas * num_of_hosts */
    int suspend;         /* spec.suspend */
} ctl_raycluster;

/* A RayClusterFleet (Deployment semantics over RayClusters) or a
 * RayClusterReplicaSet (the fleet-only fields keep their defaults). */
typedef struct ctl_fleet {
    int replicas;           /* spec.replicas, default 1, 0..CTL_MAX_REPLICAS */
    json_t *selector;       /* owned: spec.selector (matchLabels/matchExpressions),
                               required, non-empty */
    json_t *template;       /* owned: spec.template {metadata, spec} */
    ctl_raycluster cluster; /* spec.template.spec parsed */
    int min_ready_s;        /* spec.minReadySeconds, default 0 */
    /* fleet only (RS: defaults) */
    int recreate; /* spec.strategy.type == "Recreate"; absent: RollingUpdate */
    char max_surge[16], max_unavailable[16]; /* int-or-percent as written ("25%", "1");
                                                default "25%" each */
    int revision_history_limit;              /* default 10 */
    int paused;                              /* spec.paused */
    int progress_deadline_s;                 /* default 600 */
} ctl_fleet;

typedef struct ctl_obj {
    ctl_kind kind;
    char name[CTL_NAME_MAX + 1];
    json_t *raw;               /* owned deep copy of the document, status removed */
    int64_t generation;        /* 0 until stored; the store sets it */
    size_t doc;                /* 1-based document number (ctl_obj_parse_all), else 0 */
    char notes[CTL_NOTES_MAX]; /* "; "-separated notes: the fields not acted on
                                  locally (one note, "accepted, not acted on
                                  locally: ..."), and what brix changed */
    union {
        ctl_deployment dep;
        ctl_adapter ma;
        ctl_autoscaler pa;
        ctl_service svc;
        ctl_fleet fleet;   /* RayClusterFleet, RayClusterReplicaSet */
        ctl_raycluster rc; /* RayCluster */
    } u;
} ctl_obj;

/* Parses one document. 0 with *out set, or -1 with a message in err. */
int ctl_obj_parse(const json_t *doc, ctl_obj **out, char *err, size_t errlen);
void ctl_obj_free(ctl_obj *o);

/* Every document of a JSON array (bx_yaml_load_all's output), as local
 * mode (brix up, its admin API) takes them. Null documents (empty ones
 * around "---") are skipped silently. Skipped with a warning (a string
 * appended to warnings, a JSON array the caller owns; NULL: not wanted):
 * a document of a kind brix does not know ("document 3: kind KVCache
 * (orchestration.aibrix.ai/v1alpha1): unknown kind, skipped"), a known kind
 * with an apiVersion it does not take, a stored-only kind whose name is no
 * DNS-1123 subdomain of at most 63 bytes, a PodAutoscaler whose target is neither a Deployment
 * nor a RayClusterFleet (only those scale locally). Any other invalid document is an error:
 * nothing is returned and the message starts with "document N: "
 * (1-based) when the array holds more than one document. Each object is
 * named by its key (ctl_key_obj). Free with ctl_objs_free. */
int ctl_obj_parse_all(const json_t *docs, json_t *warnings, ctl_obj ***out, size_t *n, char *err,
                      size_t errlen);
/* YAML text -> objects (bx_yaml_load_all with default limits, then the
 * above without warnings: for tests). */
int ctl_obj_load_yaml(const char *buf, size_t len, ctl_obj ***out, size_t *n, char *err,
                      size_t errlen);

/* The models a Service names: the model (ctl_obj_model) of each Deployment
 * of deps whose pods' labels its spec.selector matches, and of each
 * RayClusterFleet whose head pods' labels (its head group template's) it
 * matches; other kinds in deps are passed over (a Service without selector
 * names none). A new JSON array of distinct names, in deps' order; NULL
 * when out of memory. */
json_t *ctl_obj_service_models(const ctl_obj *svc, ctl_obj *const *deps, size_t n);
void ctl_objs_free(ctl_obj **objs, size_t n);

/* Values for one replica's launch. */
typedef struct ctl_render_vars {
    const char *brix; /* path of the brix executable */
    int port;
    int replica;
    const char *host; /* {host}: the address engines listen on (NULL: 127.0.0.1) */
} ctl_render_vars;

/* The deployment's argv (NULL-terminated) and env ("NAME=value" strings,
 * NULL-terminated) with placeholders substituted; unknown {...} sequences are
 * kept verbatim. Both are single malloc'd blocks: free(*argv), free(*envp).
 * envp may be NULL when not wanted. 0 or -1 (out of memory / too long). */
int ctl_deployment_render(const ctl_obj *o, const ctl_render_vars *v, char ***argv, char ***envp,
                          char *err, size_t errlen);

/* A GatewayConfig document of a `brix up -f` file, as read (not stored: each
 * brix up reads it again from its -f files):
 *
 *   apiVersion: brix.ai/v1alpha1
 *   kind: GatewayConfig
 *   metadata: {name: gateway}    optional
 *   spec:
 *     apiKeyFile: keys.txt       a key file (one per line, '#' comment lines),
 *                                relative to the stack file's folder
 *     apiKeys: [sk-...]          keys written in the stack file itself
 *
 * Unknown fields are errors: a misspelt field must not leave the gateway
 * open. A spec with no key (apiKeys empty and no apiKeyFile) is an error. */
typedef struct ctl_gateway_config {
    bx_apikeys keys;         /* in: the keys so far; out: spec.apiKeys added */
    char key_file[PATH_MAX]; /* spec.apiKeyFile, put in file's folder when
                                relative; "" when absent */
} ctl_gateway_config;

/* Validates doc and adds its spec.apiKeys to gc->keys; file is the stack
 * file's path (NULL: the current folder). A pure function: the key file is
 * not read (the caller loads gc->key_file, whose keys count towards "no
 * key"). 0, or -1 with "GatewayConfig: <field>: <what is wrong>" in err;
 * gc->keys may then hold some of the keys. */
int ctl_obj_gateway_config_parse(const json_t *doc, const char *file, ctl_gateway_config *gc,
                                 char *err, size_t errlen);

/* The model an object serves: a Deployment's model; a RayClusterFleet's or
 * RayClusterReplicaSet's spec.template.metadata.labels["model.aibrix.ai/name"],
 * else its own metadata.labels'; a RayCluster's head template's, else its
 * own metadata.labels' (what its pods carry first). Borrowed from o (valid while o lives); NULL
 * when none. */
const char *ctl_obj_model(const ctl_obj *o);

/* 1 when every key of match_labels is in labels with the same string value
 * (an empty selector matches everything, as in Kubernetes). */
int ctl_labels_match(const json_t *match_labels, const json_t *labels);
/* 1 when a Kubernetes LabelSelector ({matchLabels, matchExpressions}, as a
 * RayClusterFleet's spec.selector) selects labels: every matchLabels entry
 * and every expression (In, NotIn, Exists, DoesNotExist) holds. An empty
 * selector matches everything. */
int ctl_selector_match(const json_t *selector, const json_t *labels);

#endif
