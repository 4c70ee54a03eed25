/* gw_metrics: the gateway's own Prometheus metrics (names prefixed brix_gateway_):
 * requests by model, strategy, engine and status; routing decision time;
 * upstream TTFT; retries; breaker state; rate-limit rejections (and fail-open
 * / fail-closed answers, Redis health); prefix-index memory; per-engine
 * in-flight counts and scrape health; answers ended on hung engines (by
 * reason: engine_down, silence). Label sets are kept in a fixed table
 * (bounded: beyond it they fold into one "other" series); the request path
 * names a model only when the fleet serves it, else "unknown" (gw_proxy.c),
 * so clients cannot fill the table with names.
 * One set per gateway worker, each with its own lock (updated by its
 * worker's thread; merged into a fresh set to render), so workers never
 * meet on one counter. Rendered into a caller-owned bx_buf. The same
 * requests are also counted under AIBrix's gateway metric names
 * (gw_metrics_aibrix.h, rendered after brix's own). */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/bx_buf.h"
#include "common/bx_http.h"
#include "gateway/gw_engine.h"

typedef struct gw_metrics gw_metrics;

/* What the per-engine gauges need, copied out of the registry under its
 * lock so that rendering runs without it. */
typedef struct gw_metrics_engine {
    char addr[GW_NAME_MAX];
    int32_t inflight;
    int breaker;
    int ready; /* ready and not gone */
    int gone;  /* removed from discovery */
    /* re-exported under AIBrix's names (gw_metrics_aibrix.h); NaN = missing */
    char model[GW_NAME_MAX];
    double running, waiting, kv_usage, gpu_cache_usage, prompt_tps, gen_tps;
    double hq[GW_HQ_N][3]; /* the engine's histogram quantiles (gw_engine.h) */
} gw_metrics_engine;

typedef struct gw_metrics_view {
    const gw_metrics_engine *engines;
    int nengines;
    uint64_t retries, breaker_opens;
    uint64_t migrations; /* streams continued on another engine (gw_migrate.h) */
    uint64_t rl_rejected_rpm, rl_rejected_tpm, rl_errors;
    size_t strategy_mem_bytes;
    uint64_t router_picks, router_fallbacks;
    int have_prefix; /* the prefix index exists (a prefix strategy was used) */
    size_t prefix_entries, prefix_capacity, prefix_bytes;
    uint64_t prefix_evictions;
    uint64_t rl_fail_open, rl_fail_closed;
    int have_redis, redis_up;  /* --redis set; every worker's limiter has it up */
    bx_http_shared_stats http; /* client connections, over the workers */
} gw_metrics_view;

gw_metrics *gw_metrics_new(void);
void gw_metrics_free(gw_metrics *m);
/* Adds src's counts into dst (each under its lock). */
void gw_metrics_merge(gw_metrics *dst, gw_metrics *src);
int gw_metrics_render(gw_metrics *m, const gw_metrics_view *v, bx_buf *b);

#endif
