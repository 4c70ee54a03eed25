/* ctl_obj: the object model of brix's local control plane. Parses and
 * validates the objects users apply (`brix apply -f`, `brix up -f`), given as
 * jansson values (one per YAML document, from bx_yaml_load_all):
 *
 *   Deployment     apps/v1                         a model deployment, in
 *                                                  Kubernetes' shape
 *   ModelAdapter   model.aibrix.ai/v1alpha1        a LoRA adapter (AIBrix)
 *   PodAutoscaler  autoscaling.aibrix.ai/v1alpha1  identity only; the full
 *                                                  spec is src/autoscale's
 *
 * Errors name the object and the field path: "ModelAdapter lora-1:
 * spec.artifactURL: required". Some fields are accepted but have no local
 * effect; those a user would expect to matter are listed in ctl_obj.notes
 * (for `brix apply` to print).
 *
 * Common: apiVersion must match the kind; metadata.name is a DNS-1123 label;
 * metadata.labels/annotations are string maps; metadata.namespace is a
 * DNS-1123 label when given; a `status` is dropped. ctl_obj_parse keeps
 * metadata.name in name; local mode (ctl_obj_parse_all) puts the object's
 * key there instead (ctl_key.h: "ns:name" outside the default namespace).
 *
 * Deployment. Honoured: metadata.labels["model.aibrix.ai/name"] (required;
 * spec.template.metadata.labels may carry it instead), label
 * model.aibrix.ai/engine (default vllm), spec.replicas (default 1),
 * spec.template.metadata.labels (pod labels, for ModelAdapter selectors),
 * spec.template.spec.containers[0].{command,args,env[].name/value,
 * readinessProbe.httpGet.path,readinessProbe.periodSeconds},
 * spec.template.spec.terminationGracePeriodSeconds. The command template
 * must use {port} somewhere (argv or env): ports are allocated per replica.
 * Ignored: image (noted), containers[1..] (noted), env[].valueFrom (noted),
 * ports/containerPort and the model.aibrix.ai/port label (allocated
 * locally), selector, resources, volumes, other probes.
 * brix annotations (values are strings, as Kubernetes requires):
 *   brix.ai/startup-timeout-seconds  seconds a replica may take to become
 *                                    ready before it is restarted (600)
 *   brix.ai/drain-grace-seconds      seconds between SIGTERM and SIGKILL
 *                                    when a replica stops (30; falls back to
 *                                    terminationGracePeriodSeconds)
 *   brix.ai/routing-strategy         gateway strategy for this model (a name
 *                                    gw_strategy_find knows)
 *
 * ModelAdapter (docs/control-plane-lora.md). spec.artifactURL required and must
 * start with s3:// gcs:// tos:// huggingface:// hf:// or / (the webhook's
 * list) or, brix's additions, http:// https:// (downloaded into the adapter
 * cache, checked against additionalConfig["sha256"] when given) or file://;
 * spec.podSelector.matchLabels selects pods (matchExpressions ignored, noted, as AIBrix does); with
 * no podSelector it is derived from spec.baseModel, and one of the two is required; spec.replicas
 * absent means every matching pod, else >= 1 (AIBrix's CRD allows only 1; brix accepts up to
 * CTL_MAX_REPLICAS); spec.schedulerName is honoured locally (AIBrix ignores it):
 * default|leastAdapters|binPack|leastLatency|leastThroughput| random; spec.additionalConfig string
 * map ("api-key" becomes a bearer token); spec.credentialsSecretRef accepted and noted as
 * unsupported.
 *
 * PodAutoscaler: identity only (spec.scaleTargetRef.kind any kind, .name a
 * DNS label; spec.scalingStrategy present); src/autoscale/as_spec
 * validates the rest from raw. Local mode takes documents through
 * ctl_obj_parse_all, which also refuses a target kind other than
 * Deployment (brix controller, through ctl_obj_parse, takes any kind with a
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
 * ctl_objs_free, ctl_adapter_sched_name, ctl_deployment_render and
 * ctl_labels_match, which the controllers and the admin API call under
 * these names. */
#ifndef CTL_OBJ_H
#define CTL_OBJ_H

#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bx_apikey.h"
#include "ctl/ctl_place.h"

#define CTL_NAME_MAX 63        /* DNS-1123 label */
#define CTL_MODEL_NAME_MAX 255 /* served model name */
#define CTL_MAX_REPLICAS 256   /* local machine: replicas of one object */
#define CTL_MAX_ARGS 256       /* command + args entries */
#define CTL_MAX_ENV 256        /* env entries */
#define CTL_MAX_MAP 256        /* entries of labels/annotations/matchLabels/additionalConfig */
#define CTL_MAX_STR 4096       /* any one string we keep */
#define CTL_MAX_DOCS 256       /* documents in one file */
#define CTL_NOTES_MAX 1024

/* Well-known keys. */
#define CTL_LABEL_MODEL "model.aibrix.ai/name"
#define CTL_LABEL_ENGINE "model.aibrix.ai/engine"
#define CTL_LABEL_ADAPTER_ENABLED "adapter.model.aibrix.ai/enabled"
#define CTL_ANN_STARTUP_TIMEOUT "brix.ai/startup-timeout-seconds"
#define CTL_ANN_DRAIN_GRACE "brix.ai/drain-grace-seconds"
#define CTL_ANN_ROUTING_STRATEGY "brix.ai/routing-strategy"
/* A document of this kind (apiVersion brix.ai/v1alpha1) in a `brix up -f`
 * file configures brix up's gateway (API keys); brix up takes it out before
 * the objects are parsed (ctl_up.c). It is no object: ctl_obj_parse refuses
 * it, saying so (`brix apply` of it is an error). */
#define CTL_GATEWAY_CONFIG_KIND "GatewayConfig"
#define CTL_GATEWAY_CONFIG_API "brix.ai/v1alpha1"

typedef enum ctl_kind {
    CTL_KIND_NONE = 0,
    CTL_KIND_DEPLOYMENT,
    CTL_KIND_MODEL_ADAPTER,
    CTL_KIND_POD_AUTOSCALER,
} ctl_kind;

/* "Deployment", "ModelAdapter", "PodAutoscaler"; NULL for others. */
const char *ctl_kind_name(ctl_kind k);
/* kubectl's lower-case spelling: "deployment", "modeladapter",
 * "podautoscaler"; "object" for others. */
const char *ctl_kind_lower(ctl_kind k);
/* The apiVersion each kind must carry. */
const char *ctl_obj_kind_api_version(ctl_kind k);
/* Exact kind names, and for the CLI, case-insensitive aliases: deployment(s),
 * deploy; modeladapter(s), ma; podautoscaler(s), pa. CTL_KIND_NONE when
 * unknown. */
ctl_kind ctl_kind_parse(const char *s);

/* 1 when s is a DNS-1123 label: 1..63 of [a-z0-9-], alphanumeric at both
 * ends. */
int ctl_name_valid(const char *s);

typedef struct ctl_env {
    char *name;
    char *value; /* may hold placeholders, like the command */
} ctl_env;

/* A model deployment. Pods get the labels of spec.template.metadata.labels
 * plus model.aibrix.ai/name; ModelAdapter podSelectors match those. */
typedef struct ctl_deployment {
    char *model;  /* metadata.labels["model.aibrix.ai/name"] */
    char *engine; /* label model.aibrix.ai/engine, default "vllm" */
    int replicas; /* spec.replicas, default 1, 0..CTL_MAX_REPLICAS */
    /* Engine command template: containers[0].command followed by .args,
     * NULL-terminated. Placeholders {port} {host} {model} {name} {replica}
     * {brix} are substituted by ctl_deployment_render. Without command the
     * entrypoint is "{brix} engine"; without command and args the whole
     * template is "{brix} engine --port {port} --model {model}". A
     * command whose program is plain "brix" also runs this brix. */
    char **argv;
    size_t argc;
    int default_command; /* 1 when the entrypoint is brix's simulator */
    ctl_env *env;        /* containers[0].env with plain values */
    size_t nenv;
    char *health_path;        /* readinessProbe.httpGet.path, default /health */
    double probe_period_s;    /* readinessProbe.periodSeconds, default 1 */
    double startup_timeout_s; /* brix.ai/startup-timeout-seconds, default 600 */
    double drain_grace_s;     /* brix.ai/drain-grace-seconds, else
                                 terminationGracePeriodSeconds, else 30 */
    char *routing_strategy;   /* brix.ai/routing-strategy; NULL = gateway's */
    json_t *pod_labels;       /* owned: the labels each pod carries */
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

typedef struct ctl_obj {
    ctl_kind kind;
    char name[CTL_NAME_MAX + 1];
    json_t *raw;               /* owned deep copy of the document, status removed */
    int64_t generation;        /* 0 until stored; the store sets it */
    char notes[CTL_NOTES_MAX]; /* "; "-separated fields ignored locally */
    union {
        ctl_deployment dep;
        ctl_adapter ma;
        ctl_autoscaler pa;
    } u;
} ctl_obj;

/* Parses one document. 0 with *out set, or -1 with a message in err. */
int ctl_obj_parse(const json_t *doc, ctl_obj **out, char *err, size_t errlen);
void ctl_obj_free(ctl_obj *o);

/* Every document of a JSON array (bx_yaml_load_all's output), as local
 * mode (brix up, its admin API) takes them: also refuses what local mode
 * cannot run (a PodAutoscaler target other than a Deployment), and names
 * each object by its key (ctl_key_obj). Null
 * documents (empty ones around "---") are skipped. On error nothing is
 * returned and the message starts with "document N: " (1-based) when the
 * array holds more than one document. Free with ctl_objs_free. */
int ctl_obj_parse_all(const json_t *docs, ctl_obj ***out, size_t *n, char *err, size_t errlen);
/* YAML text -> objects (bx_yaml_load_all with default limits, then the
 * above). */
int ctl_obj_load_yaml(const char *buf, size_t len, ctl_obj ***out, size_t *n, char *err,
                      size_t errlen);
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

/* 1 when every key of match_labels is in labels with the same string value
 * (an empty selector matches everything, as in Kubernetes). */
int ctl_labels_match(const json_t *match_labels, const json_t *labels);

#endif
