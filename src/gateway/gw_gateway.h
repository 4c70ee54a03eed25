/* gw_gateway: the `brix gateway` process: its HTTP server, the proxy path
 * (parse once, resolve the model, pick an engine, forward, stream back,
 * account), discovery and scraping, limits and its own /metrics.
 *
 * Lifecycle like libuv's: gw_gateway_init binds the port on the caller's
 * loop; uv_run serves; gw_gateway_close stops everything and frees it.
 * With cfg->workers = N > 1, N - 1 more event loops on their own threads
 * serve the same port (one listening socket polled by every loop, or one
 * SO_REUSEPORT socket each: cfg->accept_mode);
 * discovery and scraping stay on the caller's loop. The functions below
 * are called from the caller's loop thread. */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "gateway/gw_config.h"

typedef struct gw_gateway gw_gateway; /* opaque */

/* cfg is copied; the strings it points to must outlive the gateway. */
int gw_gateway_init(gw_gateway **out, uv_loop_t *loop, const gw_config *cfg, char *err,
                    size_t errlen);
int gw_gateway_port(const gw_gateway *g);
/* The --metrics-port listener's bound port; 0 when there is none. */
int gw_gateway_metrics_port(const gw_gateway *g);
void gw_gateway_close(gw_gateway *g);
/* The access log file is opened again (logrotate moved it; SIGHUP): each
 * worker does so before its next line or flush. Callable from any thread. */
void gw_gateway_reopen_logs(gw_gateway *g);

/* ---- for a control plane that embeds the gateway on its loop (brix up) ---- */

/* Replaces the set of engine addresses ("host:port"): new ones are polled
 * for their models at once, missing ones stop taking new requests (their
 * requests in flight finish). names[i] (names or an entry may be NULL) is
 * the engine's name, the answers' target-pod header (a replica's pod
 * name). keys[i] is the key the engine wants (vLLM --api-key; NULL or
 * "": none), sent as Bearer on its polls, scrapes and requests instead of
 * the client's Authorization; keys NULL: --backend-api-key's. Strings are
 * copied. Returns the number accepted. */
int gw_gateway_set_engines(gw_gateway *g, const char *const *addrs, const char *const *names,
                           const char *const *keys, int n);
/* As gw_gateway_set_engines, with each engine's group (its Deployment,
 * the GPU type the slo strategies route by; groups or an entry NULL:
 * none). */
int gw_gateway_set_engines_grouped(gw_gateway *g, const char *const *addrs,
                                   const char *const *names, const char *const *keys,
                                   const char *const *groups, int n);
/* As gw_gateway_set_engines_grouped, with each engine's P/D role and
 * roleset (its pod's labels role-name and roleset-name, gw_pd.h; the
 * arrays or an entry NULL: none). */
int gw_gateway_set_engines_roles(gw_gateway *g, const char *const *addrs, const char *const *names,
                                 const char *const *keys, const char *const *groups,
                                 const char *const *roles, const char *const *rolesets, int n);
/* As gw_gateway_set_engines_roles, with whether each engine publishes KV
 * events (gw_engine.kv_events: 1 yes, -1 no, 0 unknown; kv_events NULL:
 * all unknown), followed with --kv-events-port(-offset) unless -1. */
int gw_gateway_set_engines_kv(gw_gateway *g, const char *const *addrs, const char *const *names,
                              const char *const *keys, const char *const *groups,
                              const char *const *roles, const char *const *rolesets,
                              const int *kv_events, int n);
/* Makes json (the optimizer's assignment, docs/hetero.md) model's
 * assignment for the slo strategies, as a --gpu-optimizer poll would.
 * Callable from any thread. 0, or -1 with why in err. */
int gw_gateway_set_assignment(gw_gateway *g, const char *model, const char *json, size_t len,
                              char *err, size_t errlen);
/* Requests in flight at the engine at addr (0 when unknown). */
int gw_gateway_engine_inflight(gw_gateway *g, const char *addr);
/* Requests in flight for model (base or adapter) over all its engines. */
int gw_gateway_model_inflight(gw_gateway *g, const char *model);
/* Requests routed so far to the engines that serve model now (a counter
 * for rates: it drops when an engine leaves the set). */
uint64_t gw_gateway_model_routed(gw_gateway *g, const char *model);
/* Re-reads the engine's /v1/models now (after an adapter was loaded). */
void gw_gateway_poke(gw_gateway *g, const char *addr);
/* The default strategy for requests for model without a routing-strategy
 * header (NULL strategy: back to the gateway's). 0, or -1 when the name is
 * unknown or the table (GW_MAX_MODEL_STRATEGIES) is full. */
#define GW_MAX_MODEL_STRATEGIES 64
int gw_gateway_set_model_strategy(gw_gateway *g, const char *model, const char *strategy);
/* (strategy: a routing-strategy value, gw_strategy_plan_parse: a name, an
 * alias or a weighted list) */

/* Scale from zero: with hooks set, a request for a model that has no ready
 * engine (and either some engine serves it or is_model says the control
 * plane does) is held up to hold_ms instead of answered 503 at once; wake
 * is called (once per held request) so a replica is started, and held
 * requests go out as soon as an engine for their model is ready. After
 * hold_ms: 503 with Retry-After. A model that cannot become ready
 * (unservable) is answered 503 at once instead. The hooks are copied; ud must outlive the
 * gateway. */
typedef struct gw_hold_hooks {
    int (*is_model)(void *ud, const char *model);
    void (*wake)(void *ud, const char *model);
    /* Can model not become ready (NULL: it always can)? 0: it can (scaling
     * from zero, a replica starting): the request is held. 1: it cannot
     * now (no autoscaler can scale it from zero, its replicas crash-loop,
     * its adapter Failed): answered 503 at once with why (the message,
     * NUL-terminated) and, when *retry_after_s > 0 (it may become ready
     * later), Retry-After. Asked before holding and on every retry of a
     * held request, so one held for a replica that then crashes is
     * answered then. */
    int (*unservable)(void *ud, const char *model, char *why, size_t whylen, int *retry_after_s);
    void *ud;
    uint64_t hold_ms;
} gw_hold_hooks;
/* 0, or -1 when the gateway runs several workers (holding needs one). */
int gw_gateway_set_hold(gw_gateway *g, const gw_hold_hooks *h);
/* Requests held now for model (NULL: all models) until an engine of it is
 * ready (the hooks above; not the slo queue). */
int gw_gateway_held(gw_gateway *g, const char *model);
/* Requests held now in the slo queue for model (NULL: all models): engines
 * saturated, not missing (so not an activation signal); with one worker
 * only (else 0), as gw_gateway_held. */
int gw_gateway_queued(gw_gateway *g, const char *model);

/* The gateway's load monitor (gw_loadmon.h: its windows per model, what GET
 * /brix/load serves), for an optimizer in the same process; owned by the
 * gateway, valid until gw_gateway_close; its functions may be called from
 * any thread. */
struct gw_loadmon;
struct gw_loadmon *gw_gateway_loadmon(gw_gateway *g);

#endif
