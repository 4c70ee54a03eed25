/* least-gpu-cache: the candidate with the lowest GPU KV-cache usage
 * (vllm:gpu_cache_usage_perc), uniformly random among ties (AIBrix
 * least_gpu_cache.go).
 *
 * vLLM V1 renamed gpu_cache_usage_perc to kv_cache_usage_perc (same value,
 * 0..1) and recent releases no longer export the old name. AIBrix then
 * always falls back to random; here an engine without the old gauge is
 * ranked by kv_usage instead, so the strategy keeps working on current
 * engines and on a fleet that mixes old and new ones.
 *
 * Missing: an engine with neither gauge is not scored; when none is scored,
 * pick returns -1 and the router picks at random. */
#include <math.h>

#include "gateway/gw_strategy.h"

static int gw_least_gpu_cache_score(void *st, const gw_route_req *r, gw_engine *const *cands, int n,
                                    double *out)
{
    (void)r;
    (void)st;
    for (int i = 0; i < n; i++) {
        const gw_engine *e = cands[i];
        out[i] = isnan(e->gpu_cache_usage) ? e->kv_usage : e->gpu_cache_usage;
    }
    return GW_SCORE_LOWER;
}

static int gw_least_gpu_cache_pick(void *st, const gw_route_req *r, gw_engine *const *cands, int n)
{
    double score[GW_MAX_ENGINES];
    if (n > GW_MAX_ENGINES) n = GW_MAX_ENGINES;
    gw_least_gpu_cache_score(st, r, cands, n, score);
    return gw_pick_min(r, score, n);
}

const gw_strategy gw_strategy_least_gpu_cache = {
    .name = "least-gpu-cache",
    .pick = gw_least_gpu_cache_pick,
    .score = gw_least_gpu_cache_score,
};
