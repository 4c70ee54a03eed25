/* least-request: the candidate with the fewest requests the gateway has in
 * flight to it (e->inflight, counted at pick and at completion), uniformly
 * random among ties (AIBrix least_request.go). The counter is the
 * gateway's own, so it is never missing: this strategy never falls back,
 * and it is the fallback of prefix-cache. */
#include "gateway/gw_strategy.h"

static int gw_least_request_score(void *st, const gw_route_req *r, gw_engine *const *cands, int n,
                                  double *out)
{
    (void)r;
    (void)st;
    for (int i = 0; i < n; i++)
        out[i] = (double)cands[i]->inflight;
    return GW_SCORE_LOWER;
}

static int gw_least_request_pick(void *st, const gw_route_req *r, gw_engine *const *cands, int n)
{
    double score[GW_MAX_ENGINES];
    if (n > GW_MAX_ENGINES) n = GW_MAX_ENGINES;
    gw_least_request_score(st, r, cands, n, score);
    return gw_pick_min(r, score, n);
}

const gw_strategy gw_strategy_least_request = {
    .name = "least-request",
    .pick = gw_least_request_pick,
    .score = gw_least_request_score,
};
