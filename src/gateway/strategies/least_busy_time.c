/* least-busy-time: the candidate whose GPU is busy the smallest fraction of
 * the time, uniformly random among ties.
 *
 * Signal: busy_ratio (gpu_busy_time_ratio) when the engine exports it.
 * AIBrix declares that metric but never populates it, so its strategy is
 * always random. vLLM does not export it either, so an engine without it is
 * scored with a proxy on the same 0..1 scale: with L = running + waiting
 * requests (waiting missing counts 0), busy ~= L / (1 + L). This is the
 * M/M/1 relation between the mean number of requests in the system and the
 * server's utilisation (L = rho / (1 - rho)  <=>  rho = L / (1 + L)): 0 for
 * an idle engine, approaching 1 as work piles up, and monotone in L, so
 * among proxy-scored engines it ranks by outstanding work. Engines with a
 * real ratio and engines with the proxy are compared on the same scale.
 *
 * Missing: an engine with neither busy_ratio nor running is not scored;
 * when none is scored, pick returns -1 and the router picks at random. */
#include <math.h>

#include "gateway/gw_strategy.h"

static double gw_busy_score(const gw_engine *e)
{
    if (!isnan(e->busy_ratio)) return e->busy_ratio;
    if (isnan(e->running)) return NAN;
    double l = e->running + (isnan(e->waiting) ? 0 : e->waiting);
    if (l < 0) l = 0;
    return l / (1.0 + l);
}

static int gw_least_busy_time_score(void *st, const gw_route_req *r, gw_engine *const *cands, int n,
                                    double *out)
{
    (void)r;
    (void)st;
    for (int i = 0; i < n; i++)
        out[i] = gw_busy_score(cands[i]);
    return GW_SCORE_LOWER;
}

static int gw_least_busy_time_pick(void *st, const gw_route_req *r, gw_engine *const *cands, int n)
{
    double score[GW_MAX_ENGINES];
    if (n > GW_MAX_ENGINES) n = GW_MAX_ENGINES;
    gw_least_busy_time_score(st, r, cands, n, score);
    return gw_pick_min(r, score, n);
}

const gw_strategy gw_strategy_least_busy_time = {
    .name = "least-busy-time",
    .pick = gw_least_busy_time_pick,
    .score = gw_least_busy_time_score,
};
