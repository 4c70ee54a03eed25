/* gw_gateway_int: what the gateway's files share (private to
 * src/gateway/gw_gateway.c, gw_proxy.c, gw_worker.c, gw_metrics.c): the
 * gateway struct and the calls between its parts. Not a public API. Calls go
 * one way: gw_gateway.c (lifecycle, routing table) calls down into gw_proxy.c
 * (the request path, with its own timers and rate-limit glue); both use the
 * leaves gw_worker.c and gw_metrics.c. */
#ifndef GW_GATEWAY_INT_H
#define GW_GATEWAY_INT_H

#include <stdint.h>
#include <uv.h>

#include "common/bx_blockhash.h"
#include "common/bx_http.h"
#include "common/bx_queue.h"
#include "gateway/gw_alog.h"
#include "gateway/gw_config.h"
#include "gateway/gw_discovery.h"
#include "gateway/gw_engine.h"
#include "gateway/gw_gateway.h"
#include "gateway/gw_hetero.h"
#include "gateway/gw_loadmon.h"
#include "gateway/gw_metrics.h"
#include "gateway/gw_metrics_aibrix.h"
#include "gateway/gw_ratelimit.h"
#include "gateway/gw_req.h"
#include "gateway/gw_router.h"
#include "gateway/gw_scrape.h"
#include "gateway/gw_session.h"

typedef struct gw_call gw_call;

enum { GW_ADMIT_OK = 0, GW_ADMIT_RPM, GW_ADMIT_TPM, GW_ADMIT_UNAVAILABLE, GW_ADMIT_UNKNOWN };

typedef struct gw_stats {
    uint64_t retries, breaker_opens;
    uint64_t migrations; /* streams continued on another engine (gw_migrate.h) */
    uint64_t rl_rejected_rpm, rl_rejected_tpm;
    uint64_t rl_fail_open, rl_fail_closed; /* checks Redis failed, by the answer given */
    int rl_down; /* workers whose rate limiter has Redis down (0 = brix_gateway_redis_up 1) */
} gw_stats;

/* One proxy event loop: its listener (a dup of worker 0's listening
 * socket, or its own SO_REUSEPORT socket: --accept), upstream connection
 * pool, rate limiter
 * connection and calls. Worker 0 runs on the gateway's loop (the caller's);
 * workers 1.. each own a loop and a thread. Everything here is touched by
 * its own thread only; what workers share lives in gw_gateway under the
 * registry lock. */
typedef struct gw_worker {
    gw_gateway *g;
    int idx;
    uv_loop_t *loop;
    uv_loop_t own_loop; /* workers 1.. */
    uv_thread_t thread;
    uv_async_t stop; /* workers 1..: ends the thread's loop */
    int thread_on;
    bx_http_server *http;
    bx_http_client *client;
    gw_ratelimit *limits; /* owned, when --redis is set */
    bx_queue calls;       /* gw_call.node, newest first (gw_proxy.c) */
    gw_call *spare_calls; /* finished calls kept for reuse (gw_proxy.c) */
    int nspare_calls;
    gw_metrics *metrics; /* this worker's counters (merged at /metrics) */
    gw_alog alog;        /* this worker's access log buffer and file */
    uint64_t next_id, id_salt, rng;
    uv_timer_t hold_timer; /* worker 0: re-tries held requests while any is held */
    int hold_timer_on, hold_timer_init;
    /* ends answers in flight on an engine declared down or silent past their
     * bound (gw_proxy_watch), every GW_WATCH_MS while any is in flight */
    uv_timer_t watch_timer;
    int watch_on, watch_init;
    uint32_t seen_down_seq; /* the registry's down_seq at the last look */
    /* --busy-poll-us: an active idle handle makes the loop poll with a zero
     * timeout; the check handle stops it once the loop has been quiet */
    uv_idle_t spin;
    uv_check_t spin_check;
    int spin_init, spin_on;
    uint64_t spin_last_ns;
} gw_worker;

struct gw_gateway {
    uv_loop_t *loop;
    gw_config cfg;
    gw_registry reg; /* its lock also guards router, stats, metrics, model_strategy */
    int reg_ok;
    gw_router router;
    int router_ok;
    struct gw_kvroute *kvroute; /* KV events (gw_kvroute.h); NULL = off */
    int port;
    bx_http_server *metrics_http; /* --metrics-port listener, on the gateway's loop */
    int metrics_port;
    bx_blockhash hash_root;
    gw_worker workers[GW_MAX_WORKERS];
    int nworkers;
    bx_http_shared *http_shared; /* the workers' connection cap and body budget */
    gw_stats stats;
    unsigned alog_gen;  /* access-log reopen generation (atomic; gw_gateway_reopen_logs) */
    gw_disc *discovery; /* owned, on the gateway's loop */
    gw_scrape *scraper; /* owned, on the gateway's loop */
    /* the GPU optimizer's assignments (own lock: gw_hetero.h), lent to the
     * router's slo strategies; the poller (--gpu-optimizer) on the loop */
    gw_hetero *hetero;
    gw_hetero_poller *hpoll;
    gw_hold_hooks hold; /* only with one worker (the embedding control plane's loop) */
    struct {
        char model[GW_NAME_MAX];
        gw_strategy_plan plan;
    } model_strategy[GW_MAX_MODEL_STRATEGIES];
    int nmodel_strategy;
    /* the load monitor (gw_loadmon.h): recorded by every worker, its windows
     * closed by loadmon_timer on the gateway's loop at each 10 s boundary
     * (and written to Redis with cfg.load_trace) */
    gw_loadmon *loadmon;
    uv_timer_t loadmon_timer;
    int loadmon_timer_init;
    int load_trace_failing; /* the last Redis write of a window failed (logged once) */
};

/* gw_worker.c (a leaf both files below use) */
uint64_t gw_next_random(gw_worker *w);
/* A request arrived or finished on w: with --busy-poll-us, keep polling. */
void gw_worker_busy(gw_worker *w);
/* Sets up --busy-poll-us's handles on w's loop (nothing when it is 0). */
int gw_worker_spin_init(gw_worker *w);

/* gw_proxy.c (on the worker's thread) */
void gw_proxy_handle(gw_worker *w, bx_http_req *hr, bx_http_res *res, gw_api api);
void gw_proxy_cancel_all(gw_worker *w);
/* Frees the finished calls kept for reuse (at close). */
void gw_proxy_free_spares(gw_worker *w);
/* Sends held requests whose model has a ready engine now (scale from zero)
 * or that an slo strategy now places (its queue, GW_PICK_HOLD), oldest
 * first. */
void gw_proxy_retry_held(gw_worker *w);
/* Held requests of model (NULL: all) on w: of a kind, or every kind. */
enum { GW_HELD_ANY = 0, GW_HELD_ZERO, GW_HELD_QUEUE }; /* gw_call.held: scale from zero, slo */
int gw_proxy_held(gw_worker *w, const char *model, int kind);
/* Held requests are retried every 100 ms while any is held (the worker's
 * hold_timer); this retries them on the loop's next turn (an engine became
 * ready, a request ended). */
void gw_proxy_hold_kick(gw_worker *w);
/* Ends the calls whose engine was declared down or whose answer has been
 * silent past its bound; returns how many calls still wait on an engine. */
int gw_proxy_watch(gw_worker *w);
/* the worker's watch_timer runs gw_proxy_watch every GW_WATCH_MS while calls are upstream */
#define GW_WATCH_MS 250

/* metrics shorthands (gw_metrics.c), on the worker's thread */
/* A request entered the gateway (counted, in flight until its end). */
void gw_metrics_call_begin(gw_worker *w);
/* Its model (the bounded label) is known: that model's in-flight gauge +1;
 * returns the key to give gw_metrics_request_end (0 = none). */
uint64_t gw_metrics_model_begin(gw_worker *w, const char *model);
/* The request ended as r says (r->status_code: what the client was sent,
 * 499 when it left first): brix_gateway_requests_total and AIBrix's
 * series. Every gw_metrics_call_begin has one end. */
void gw_metrics_request_end(gw_worker *w, const char *strategy, uint64_t model_key,
                            const gw_am_req *r);
void gw_metrics_decision(gw_worker *w, double seconds);
/* An answer in flight ended by the gateway: its engine declared down, or silent too long. */
enum { GW_END_NONE = 0, GW_END_ENGINE_DOWN, GW_END_SILENCE };
void gw_metrics_stream_ended(gw_worker *w, int reason);

#endif
