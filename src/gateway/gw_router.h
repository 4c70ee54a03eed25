/* gw_router: applies a routing strategy with its fallback chain, and owns
 * every strategy's state. The strategy named by the request (or the
 * default) picks; when it declines (-1: its signals are missing or stale)
 * its `fallback` strategy picks, and so on (at most 4 hops, then random).
 * A weighted list of strategies (AIBrix's `prefix-cache:2,least-request`)
 * combines their scores (gw_router_pick_plan).
 * The requested strategy's on_routed/on_done hooks always run, so a
 * prefix-cache request that fell back to least-request still records its
 * prefix for the chosen engine (as AIBrix does).
 *
 * Ownership: the router owns every strategy's state and the prefix index
 * (made at init, with cfg->prefix_max_bytes, when a strategy declares
 * needs_prefix_index; freed at close); it lends the index to those
 * strategies' create() and to the caller through r->prefix (metrics,
 * forgetting a gone engine), valid until close.
 * Threads: nothing here is locked. The caller serializes every call on a
 * router and every use of its index; the gateway holds its registry lock
 * around them (gw_gateway_int.h). */
#ifndef GW_ROUTER_H
#define GW_ROUTER_H

#include "gateway/gw_strategy.h"

#define GW_ROUTER_MAX_STRATEGIES 32

typedef struct gw_router {
    gw_strategy_cfg cfg;
    gw_prefix *prefix; /* owned; NULL when no strategy needs it or it could not be made */
    const gw_strategy *strategies[GW_ROUTER_MAX_STRATEGIES];
    void *states[GW_ROUTER_MAX_STRATEGIES];
    int n;
    const gw_strategy *def;
    gw_strategy_plan defplan; /* the default, as parsed from default_name */
    uint64_t picks, fallbacks;
} gw_router;

/* default_name must be a valid routing-strategy value (a name, an alias
 * or a weighted list: gw_strategy_plan_parse). 0 or -1. */
int gw_router_init(gw_router *r, const gw_strategy_cfg *cfg, const char *default_name);
void gw_router_close(gw_router *r);
/* Sets one of strategy's own settings (its configure()), before the first
 * pick: 0, or -1 with a message in err (unknown strategy, a strategy
 * without settings, the strategy's own error). */
int gw_router_configure(gw_router *r, const char *strategy, const char *key, const char *value,
                        char *err, size_t errlen);
/* The strategy for a request: its header value (NULL: the default).
 * NULL when the name is unknown. */
const gw_strategy *gw_router_strategy(const gw_router *r, const char *name);
/* Picks among cands (n > 0). *decided is the strategy that decided. NULL
 * when it holds the request (GW_PICK_HOLD: the caller asks again later). */
gw_engine *gw_router_pick(gw_router *r, const gw_strategy *s, const gw_route_req *rq,
                          gw_engine *const *cands, int n, const gw_strategy **decided);
void gw_router_done(gw_router *r, const gw_strategy *s, const gw_route_req *rq, gw_engine *e,
                    const gw_route_result *res);
/* Picks with a plan (gw_strategy_plan_parse; NULL: the default). One
 * entry: gw_router_pick (NULL: held), *fallback = the strategy that decided when it is
 * not the one asked for, else NULL. Several: AIBrix's soft scoring: each
 * entry's scores normalised to [0, 1] over the candidates it scored
 * (lower-is-better (max - s) / (max - min), higher-is-better
 * (s - min) / (max - min), 1 for all when max == min, 0 for an unscored
 * candidate), F = sum of w_i * n_i / sum of w_i, the highest F wins, ties
 * (within 1e-9) at random; when no entry scored anything, random, and
 * *fallback = random. Every entry's on_routed runs for the engine chosen. */
gw_engine *gw_router_pick_plan(gw_router *r, const gw_strategy_plan *p, const gw_route_req *rq,
                               gw_engine *const *cands, int n, const gw_strategy **fallback);
void gw_router_done_plan(gw_router *r, const gw_strategy_plan *p, const gw_route_req *rq,
                         gw_engine *e, const gw_route_result *res);
/* Memory held by the prefix index and all strategies (fairness counters...). */
size_t gw_router_mem_bytes(const gw_router *r);

#endif
