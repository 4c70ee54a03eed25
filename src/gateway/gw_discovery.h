/* gw_discovery: which engines exist and what they serve. Owns the engine
 * set of a gw_registry (adds engines, marks removed ones gone) and each
 * engine's model, adapters and readiness.
 *
 * Two layers:
 * - A discovery source (gw_disc_source, a table of function pointers, one
 *   implementation per source: "static", a fixed list of "http://host:port"
 *   backends, here; "kubernetes", pods and ModelAdapters watched on the API
 *   server, in gw_k8s.c) says which engine addresses exist by calling
 *   gw_disc_set_engines (or gw_disc_set_engines_info, with what each serves)
 *   whenever the set changes.
 * - The core polls GET /v1/models on every live engine, at start and then
 *   every interval, with bx_http_client. A good answer sets the base model
 *   (the entry whose "parent" is null), the adapters (entries with a parent)
 *   and ready = 1; fail_after consecutive failures set ready = 0 and declare
 *   the engine down (gw_registry_note_down: its answers in flight end; model
 *   and adapters are kept, so the router can tell "unavailable" from
 *   "unknown model"). Removal (gone) is no down: a draining engine
 *   finishes. gw_disc_poke re-polls one engine at once (the LoRA controller
 *   calls it after loading an adapter).
 *
 * Lifecycle as libuv's: init, start, stop, close; all on the caller's loop.
 * Ownership: the gw_disc is allocated by init and freed by close once its
 * handles and requests are finished (cb runs then); the registry and the
 * loop are the caller's and must outlive it. Strings passed in are copied. */
#ifndef GW_DISCOVERY_H
#define GW_DISCOVERY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/bx_http.h"
#include "gateway/gw_engine.h"

typedef struct gw_disc gw_disc; /* opaque */

/* ---- /v1/models parsing (pure; fuzzed by fuzz/fuzz_gw_models.c) ---- */

#define GW_DISC_MODELS_MAX_BYTES (1u << 20) /* default body limit */

typedef struct gw_disc_models {
    char model[GW_NAME_MAX]; /* first entry with a null/absent parent; "" if none */
    char adapters[GW_MAX_ADAPTERS][GW_NAME_MAX];
    int nadapters;
    int nbase;    /* entries with no parent (only the first is kept) */
    int nskipped; /* entries dropped: id too long, not a string, table full */
} gw_disc_models;

/* Parses a vLLM (OpenAI) /v1/models body: {"object":"list","data":[{"id":..,
 * "parent":null|"base"},..]}. max_bytes 0 means the default. Returns 0, or
 * -1 with a message in err (not JSON, no "data" array, too big). */
int gw_disc_parse_models(const char *body, size_t len, size_t max_bytes, gw_disc_models *out,
                         char *err, size_t errlen);

/* Normalises a backend spec, "http://host:port[/]" or "host:port", into
 * "host:port" (IPv6 as "[::1]:8000"). Returns 0, or -1 (https, a path, no
 * port, too long). */
int gw_disc_backend_addr(const char *spec, char *out, size_t outlen);

/* A static backend: "[GROUP=]URL", URL as gw_disc_backend_addr; GROUP
 * (letters, digits, '-', '_', '.', '/') is the engine's group, its GPU type
 * (gw_engine.group), "" without one; the static source reads a GROUP
 * "ROLESET/ROLE" as a P/D role instead (gw_pd.h). 0, or -1. */
int gw_disc_backend_spec(const char *spec, char *addr, size_t addrlen, char *group,
                         size_t grouplen);

/* ---- sources ---- */

typedef struct gw_disc_source {
    const char *name;
    /* Creates the source's state; args are source-specific strings (static:
     * the backend specs). On error returns -1 with a message in err. */
    int (*init)(void **state, gw_disc *d, uv_loop_t *loop, const char *const *args, int nargs,
                char *err, size_t errlen);
    /* Starts reporting engines through gw_disc_set_engines (maybe at once). */
    int (*start)(void *state);
    void (*stop)(void *state);
    /* Frees the state; the source must not call into d afterwards. */
    void (*close)(void *state);
} gw_disc_source;

extern const gw_disc_source gw_disc_source_static;

/* ---- core ---- */

typedef struct gw_disc_opts {
    uint64_t interval_ms;  /* /v1/models poll period; default 5000 */
    uint64_t timeout_ms;   /* per poll; default 3000 */
    int fail_after;        /* consecutive failures before ready = 0; default 2 */
    size_t max_body_bytes; /* default GW_DISC_MODELS_MAX_BYTES */
    /* With the registry full, the slot of an engine removed at least this
     * long ago, with nothing in flight, goes to a new address; default 60000 */
    uint64_t reuse_after_ms;
    /* Called after an engine's readiness, model or adapters changed (also
     * when it is added or goes away); may be NULL. */
    void (*on_change)(gw_engine *e, void *ud);
    void *ud;
    /* the key of engines whose source gives none (gw_disc_engine_info's
     * api_key NULL; the static source's: brix gateway --backend-api-key);
     * NULL: none. Not copied: it must outlive the gw_disc. */
    const char *api_key;
} gw_disc_opts;

void gw_disc_opts_default(gw_disc_opts *o);

/* src: the source (e.g. &gw_disc_source_static) with its args; client may
 * be NULL (then the gw_disc makes and owns its own). opts NULL: defaults.
 * Returns 0, or -1 with a message in err. */
int gw_disc_init(gw_disc **out, uv_loop_t *loop, gw_registry *reg, bx_http_client *client,
                 const gw_disc_source *src, const char *const *args, int nargs,
                 const gw_disc_opts *opts, char *err, size_t errlen);
/* Starts the source and the poll timer (first poll at once). */
int gw_disc_start(gw_disc *d);
/* Stops polling and cancels polls in flight; start may be called again. */
void gw_disc_stop(gw_disc *d);
/* Stops and frees; cb (may be NULL) runs from the loop when all is freed. */
void gw_disc_close(gw_disc *d, void (*cb)(void *ud), void *ud);

/* For sources: the full set of engine addresses ("host:port") now. New ones
 * are added to the registry and polled at once; ones no longer listed are
 * marked gone (ready = 0) and no longer polled. Returns the number of
 * addresses accepted (malformed ones are logged and skipped). */
int gw_disc_set_engines(gw_disc *d, const char *const *addrs, int n);

/* For a source that knows what each engine serves (Kubernetes: the pod's
 * model label, the ModelAdapters listing the pod): the full set, as
 * gw_disc_set_engines, each with its served names. An engine given a model
 * is pinned: ready at once when it is added (the source has checked it:
 * Kubernetes' Ready condition), and its model and adapters are the
 * source's, not its /v1/models (whose polls still count for health: failed
 * polls set ready = 0 until one succeeds). model NULL: as
 * gw_disc_set_engines (learned from /v1/models). At most GW_MAX_ADAPTERS
 * adapters are kept; names of GW_NAME_MAX or more are skipped. */
typedef struct gw_disc_engine_info {
    const char *addr;  /* "host:port" */
    const char *name;  /* the engine's name (pod name); NULL: none (gw_engine.name) */
    const char *group; /* its Deployment (GPU type); NULL: none (gw_engine.group) */
    /* P/D: its role-name and roleset-name labels; NULL: none (gw_pd.h) */
    const char *pd_role, *roleset;
    const char *model; /* NULL: from /v1/models */
    const char *const *adapters;
    int nadapters;
    /* the key the engine wants (vLLM --api-key), sent as "Authorization:
     * Bearer" by discovery, scrapes and the proxy (gw_engine.api_key); NULL:
     * gw_disc_opts.api_key; "": none. Keys of GW_KEY_MAX or more: none. */
    const char *api_key;
    /* its KV events (gw_engine.kv_events): 1 published (Kubernetes: the
     * label model.aibrix.ai/kv-events-enabled=true), -1 not, 0 unknown */
    int kv_events;
} gw_disc_engine_info;
int gw_disc_set_engines_info(gw_disc *d, const gw_disc_engine_info *infos, int n);

/* For a source: the models it knows but has no engine for
 * (gw_registry_set_unready: answered 503 at once, not 404). */
int gw_disc_set_unready(gw_disc *d, const gw_unready_model *m, int n);

/* For a source: it has its first complete view (Kubernetes: the first pod
 * LIST is in), even if it lists no engine. gw_disc_synced reads it from any
 * thread (the gateway's /readyz in --kubernetes mode). */
void gw_disc_source_synced(gw_disc *d);
int gw_disc_synced(const gw_disc *d);

/* Polls e's /v1/models now (after the poll in flight, if any, since that one
 * may predate the change). Returns 0, or -1 when e is not tracked. */
int gw_disc_poke(gw_disc *d, gw_engine *e);

typedef struct gw_disc_stats {
    uint64_t polls;    /* finished polls */
    uint64_t failures; /* of which failed */
} gw_disc_stats;

void gw_disc_get_stats(const gw_disc *d, gw_disc_stats *out);

#endif
