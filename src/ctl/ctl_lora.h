/* ctl_lora: the ModelAdapter controller of brix's local control plane. It
 * loads dynamic LoRA adapters into running engines, without restarts, over
 * the engines' vLLM HTTP API (docs/control-plane-lora.md), on one libuv
 * loop; nothing here blocks the loop except the (small) object store
 * writes. It runs on the controller skeleton (ctl_ctrl) and reaches objects
 * only through the object store (ctl_objstore): it knows nothing of SQLite
 * or of how engines are started.
 *
 * Adapters come from the store's watch (ModelAdapter: created, changed,
 * deleted, and replayed at start) or ctl_lora_apply/ctl_lora_remove.
 * Per adapter, on every change and on timers:
 *   1. resolve spec.artifactURL once with ctl_artifact_resolve on libuv's
 *      thread pool (uv_queue_work); a failure is retried with the backoff.
 *   2. candidates = engines in phase Ready whose labels match
 *      spec.podSelector.matchLabels and that serve spec.baseModel (when
 *      set). Only engines whose GET /v1/models answered since they last
 *      (re)started are placed on; their listed adapters count as loaded.
 *   3. ctl_place_compute with the adapter's schedulerName (which brix
 *      honours; AIBrix ignores it) and replicas (absent = every candidate).
 *      Counted mode only places on engines Ready for cfg.ready_min_ms.
 *   4. POST /v1/load_lora_adapter {"lora_name","lora_path"} to each chosen
 *      engine; 200/201, or 400 "already loaded", is then confirmed by the
 *      engine's GET /v1/models listing the adapter. Failures back off per
 *      (adapter, engine): base, 2x base, ... up to max; after max_retries
 *      the engine is given up for this adapter until the adapter's spec
 *      changes or the engine restarts. An engine in backoff is not placed
 *      on, so the next ranked spare is tried instead.
 *   5. engines over the replica count are unloaded (POST
 *      /v1/unload_lora_adapter {"lora_name"}); an engine that left the pod
 *      list or stopped being Ready just drops out of status.instances (not
 *      unloaded, as AIBrix) and the adapter is placed elsewhere.
 *   6. every ready engine is re-listed each cfg.probe_interval_ms: an
 *      adapter the engine lost (restart) is reloaded; one found loaded that
 *      we did not load is adopted (idempotent across controller restarts).
 * ctl_lora_remove unloads from every engine holding it (errors are logged
 * as UnloadFailed events and ignored, as AIBrix) and then forgets it.
 *
 * Status (through the store, written only when it changes), AIBrix's
 * shape: {"phase","candidates","desiredReplicas","readyReplicas",
 * "instances":[pod...],"conditions":[{type,status,reason,message,
 * lastTransitionTime}],"observedGeneration"}. Phases: Pending, Scheduled,
 * Running, Failed, Unknown (see docs/control-plane-lora.md). Events:
 * Scheduled, Loaded, LoadFailed, Unloaded, UnloadFailed, AdapterLost,
 * ArtifactFailed. A controller taking over adapters that already have a
 * status (brix up restarted; a new leader in Kubernetes mode) keeps their
 * conditions' lastTransitionTime, and neither writes their status nor
 * places them until the first pod list came (ctl_lora_pods), their
 * artifact resolved and every Ready candidate answered its first GET
 * /v1/models: a handover with nothing changed writes nothing.
 *
 * Files: ctl_lora_int.h lists them (the API and pass here; state, status,
 * engine calls and the pure parsers apart).
 *
 * Ownership: cfg strings (cache_dir) are borrowed and must outlive the
 * controller; the store is borrowed (the caller closes it after
 * ctl_lora_close's done). ctl_lora_apply copies the object (re-parsed from
 * its raw); ctl_lora_pods copies what it keeps of the views. Strings passed
 * to on_adapters are valid only during the call. ctl_lora_close frees the
 * controller once its in-flight HTTP requests and thread-pool work have
 * come back, which needs the loop to keep running; no callback but done
 * runs after ctl_lora_close returns. */
#ifndef CTL_LORA_H
#define CTL_LORA_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ctl/ctl_obj.h"
#include "ctl/ctl_podview.h"
#include "ctl/ctl_objstore.h"

#define CTL_LORA_MODELS_MAX_BYTES (4u << 20) /* a GET /v1/models body */
#define CTL_LORA_MODELS_MAX 4096             /* entries in one list */
#define CTL_LORA_METRICS_MAX_BYTES (16u << 20)

typedef struct ctl_lora ctl_lora; /* opaque */

typedef struct ctl_lora_cfg {
    const char *cache_dir;      /* artifact cache; NULL: ctl_artifact's default */
    uint64_t backoff_base_ms;   /* wait after a first failed load: 10000 (AIBrix 5 s * 2^1) */
    uint64_t backoff_max_ms;    /* doubling up to this: 300000 (AIBrix's 300 s cap) */
    unsigned max_retries;       /* failed loads per (adapter, engine) before giving up: 5 */
    uint64_t probe_interval_ms; /* GET /v1/models of each ready engine: 10000 */
    uint64_t http_timeout_ms;   /* each engine call: 30000 (AIBrix's HTTPTimeoutSeconds) */
    uint64_t ready_min_ms;      /* counted mode: Ready this long before placing: 5000 */
    int engine_max_loras;       /* 1: an engine's capacity is the max_lora its /metrics
                                   reports (vllm:lora_requests_info); 0: unbounded */
    uint64_t seed;              /* for the random policy */
} ctl_lora_cfg;

void ctl_lora_cfg_default(ctl_lora_cfg *cfg);

typedef struct ctl_lora_cbs {
    /* The set of adapters confirmed loaded on pod changed (sorted by name;
     * n = 0 when none is left or the pod went away). The gateway routes
     * model=<adapter> only to those pods. May be NULL. */
    void (*on_adapters)(void *ud, const char *pod, const char *const *adapters, size_t n);
} ctl_lora_cbs;

/* 0 and *out, or -1 with a message. cbs may be NULL; cfg NULL = defaults.
 * Watches the store's ModelAdapters. */
int ctl_lora_init(ctl_lora **out, uv_loop_t *loop, ctl_objstore *store, const ctl_lora_cfg *cfg,
                  const ctl_lora_cbs *cbs, void *ud, char *err, size_t errlen);

/* Creates or updates the adapter named adapter->name (a ModelAdapter; its
 * generation is reported as observedGeneration). A changed artifactURL
 * unloads and reloads it everywhere; a changed spec resets the retry
 * counts. Applying an adapter that is being removed cancels the removal.
 * 0, or -1 (not a ModelAdapter, out of memory). */
int ctl_lora_apply(ctl_lora *c, const ctl_obj *adapter);

/* Unloads the adapter from every engine, then forgets it. It leaves the
 * routing sets (on_adapters) at once. 0, or 1 when unknown. */
int ctl_lora_remove(ctl_lora *c, const char *name);

/* The current engines (every change and every tick); pods absent from the
 * array are gone. The views are borrowed for the call. */
void ctl_lora_pods(ctl_lora *c, const ctl_podview *pods, size_t n);

/* 1 while the controller knows the adapter (applied, or still unloading
 * after ctl_lora_remove), else 0. */
int ctl_lora_has(const ctl_lora *c, const char *name);
/* 1 when an adapter the controller knows is served as model: its name
 * without the namespace (ctl_key_name; engines and the gateway know
 * adapters by it), in any namespace. In memory: the gateway asks it for
 * each request naming a model no engine serves. */
int ctl_lora_serves(const ctl_lora *c, const char *model);

typedef struct ctl_lora_stats {
    uint64_t loads_sent, load_failures, loads_confirmed;
    uint64_t unloads_sent;
    uint64_t probes_sent, probe_failures;
    uint64_t passes;        /* reconcile passes run (all adapters each) */
    uint64_t status_writes; /* sent to the store (unchanged ones are not) */
    size_t adapters, pods;
} ctl_lora_stats;

void ctl_lora_get_stats(const ctl_lora *c, ctl_lora_stats *out);

/* Stops watching and passing, cancels its calls; done(ud) (may be NULL)
 * runs from the loop once they and the thread-pool work came back and the
 * controller is freed. */
void ctl_lora_close(ctl_lora *c, void (*done)(void *ud), void *ud);

/* ---- pure helpers (no I/O; fuzzed) ---- */

/* The adapters in a GET /v1/models body ({"data":[{"id":..,"parent":..}]}):
 * the ids of entries whose "parent" is a string (vLLM lists the base model
 * with parent null). Limits: CTL_LORA_MODELS_MAX_BYTES, CTL_LORA_MODELS_MAX
 * entries, ids of 1..CTL_MODEL_NAME_MAX bytes (longer ones are skipped).
 * 0 with *out a malloc'd array of malloc'd strings (free with
 * ctl_lora_names_free), or -1 with a message. */
int ctl_lora_parse_models(const char *body, size_t len, char ***out, size_t *n, char *err,
                          size_t errlen);
void ctl_lora_names_free(char **names, size_t n);

/* max_lora from a /metrics body (vllm:lora_requests_info's label): 0 and
 * *out, or -1 when absent or malformed. At most
 * CTL_LORA_METRICS_MAX_BYTES. */
int ctl_lora_parse_max_lora(const char *body, size_t len, unsigned *out);

/* 1 when an engine's load-failure reply means the adapter is already
 * there (HTTP 400 with "already" in the message, as vLLM words it). */
int ctl_lora_already_loaded(int status, const char *body, size_t len);

#endif
