/* least-kv-cache: the candidate with the lowest KV-cache usage, uniformly
 * random among ties.
 *
 * Score = kv_usage (vllm:kv_cache_usage_perc) + cpu_cache_usage when the
 * engine exports it. AIBrix (least_kv_cache.go) requires both metrics and
 * falls back to random when either is missing; vLLM V1 has no
 * cpu_cache_usage_perc, so AIBrix's strategy is random in practice. Here a
 * missing CPU term counts as "no CPU cache", so V1 engines are ranked by
 * their GPU KV usage alone. AIBrix's `<=` scan (the last tied pod of a
 * shuffled list wins) is a random tie-break; gw_pick_min does the same.
 *
 * Missing: an engine without kv_usage is not scored; when none is scored,
 * pick returns -1 and the router picks at random. */
#include <math.h>

#include "gateway/gw_strategy.h"

static int gw_least_kv_cache_score(void *st, const gw_route_req *r, gw_engine *const *cands, int n,
                                   double *out)
{
    (void)r;
    (void)st;
    for (int i = 0; i < n; i++) {
        const gw_engine *e = cands[i];
        double s = e->kv_usage; /* NaN stays NaN: not scored */
        if (!isnan(e->cpu_cache_usage)) s += e->cpu_cache_usage;
        out[i] = s;
    }
    return GW_SCORE_LOWER;
}

static int gw_least_kv_cache_pick(void *st, const gw_route_req *r, gw_engine *const *cands, int n)
{
    double score[GW_MAX_ENGINES];
    if (n > GW_MAX_ENGINES) n = GW_MAX_ENGINES;
    gw_least_kv_cache_score(st, r, cands, n, score);
    return gw_pick_min(r, score, n);
}

const gw_strategy gw_strategy_least_kv_cache = {
    .name = "least-kv-cache",
    .pick = gw_least_kv_cache_pick,
    .score = gw_least_kv_cache_score,
};
