/* random: a uniformly random candidate. The fallback of most strategies. */
#include "gateway/gw_strategy.h"

static int gw_random_pick(void *st, const gw_route_req *r, gw_engine *const *cands, int n)
{
    (void)st;
    (void)cands;
    return gw_rand_index(r, 0x72616e64ULL, n);
}

const gw_strategy gw_strategy_random = {
    .name = "random",
    .pick = gw_random_pick,
};
