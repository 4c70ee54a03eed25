/* power-of-two: two distinct candidates drawn uniformly at random, the one
 * with fewer requests the gateway has in flight to it wins, the first on a
 * tie (AIBrix power_of_two.go). AIBrix counts per hour in Redis (shared
 * between gateway replicas) and registers the strategy only with Redis;
 * here the count is the gateway's own in-flight counter (e->inflight), so
 * it needs nothing and is always available. One candidate: that one. No
 * scores: it cannot be combined (as AIBrix). Stateless. */
#include "gateway/gw_strategy.h"

static int gw_power_of_two_pick(void *st, const gw_route_req *r, gw_engine *const *cands, int n)
{
    (void)st;
    if (n <= 1) return n == 1 ? 0 : -1;
    int a = gw_rand_index(r, 0x706f3261ULL, n);
    int b = gw_rand_index(r, 0x706f3262ULL, n - 1);
    if (b >= a) b++; /* distinct, uniform over the other n - 1 */
    return cands[a]->inflight <= cands[b]->inflight ? a : b;
}

const gw_strategy gw_strategy_power_of_two = {
    .name = "power-of-two",
    .pick = gw_power_of_two_pick,
};
