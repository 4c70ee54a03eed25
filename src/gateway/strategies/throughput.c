/* throughput: AIBrix's definition (throughput.go), kept as is: score =
 * 2 * avg_prompt_per_req + avg_gen_per_req, the minimum wins, uniformly
 * random among ties.
 *
 * Note what this measures: both terms are per-request token averages (the
 * request_prompt_tokens / request_generation_tokens histogram means the
 * scraper fills in; AIBrix takes 1-day PromQL averages of the same
 * quantities), i.e. the size of the requests an engine has been served,
 * not how busy it is now nor its token rate. It steers new work to engines
 * that have been getting lighter requests, which only balances load when
 * request counts are already even. The name is AIBrix's; the token rates
 * (e->prompt_tps, e->gen_tps) are deliberately not used, so that a
 * `throughput` deployment behaves like AIBrix's.
 *
 * Missing: an engine without both averages is not scored; when none is
 * scored, pick returns -1 and the router picks at random. */
#include <math.h>

#include "gateway/gw_strategy.h"

static int gw_throughput_score(void *st, const gw_route_req *r, gw_engine *const *cands, int n,
                               double *out)
{
    (void)r;
    (void)st;
    for (int i = 0; i < n; i++) {
        const gw_engine *e = cands[i];
        /* NaN in either term propagates: the engine is not scored */
        out[i] = 2.0 * e->avg_prompt_per_req + e->avg_gen_per_req;
    }
    return GW_SCORE_LOWER;
}

static int gw_throughput_pick(void *st, const gw_route_req *r, gw_engine *const *cands, int n)
{
    double score[GW_MAX_ENGINES];
    if (n > GW_MAX_ENGINES) n = GW_MAX_ENGINES;
    gw_throughput_score(st, r, cands, n, score);
    return gw_pick_min(r, score, n);
}

const gw_strategy gw_strategy_throughput = {
    .name = "throughput",
    .pick = gw_throughput_pick,
    .score = gw_throughput_score,
};
