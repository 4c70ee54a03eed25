/* session-affinity (docs/gateway.md "Strategies", AIBrix
 * simple_session_affinity.go):
 *
 *  1. x-session-id = base64("host:port") of a candidate: that engine;
 *  2. else x-aibrix-session-key (at most GW_SESSION_KEY_MAX bytes):
 *     rendezvous hashing, weight = FNV-1a-64(key, 0, "host:port"), the
 *     largest weight wins, ties to the lexicographically smaller address.
 *     Removing or adding an engine moves only the keys it owned;
 *  3. else -1: the router picks at random.
 *
 * The proxy sets a fresh x-session-id for the chosen engine on every
 * response (gw_session_id_encode), whichever strategy chose it. Stateless.
 * In a weighted list the engine it would pick scores 1, the others 0. */
#include <string.h>

#include "gateway/gw_session.h"
#include "gateway/gw_strategy.h"

static int gw_session_affinity_pick(void *st, const gw_route_req *r, gw_engine *const *cands, int n)
{
    (void)st;
    if (r->session_id && r->session_id[0]) {
        char addr[GW_NAME_MAX];
        size_t len = strnlen(r->session_id, GW_SESSION_ID_MAX + 1);
        if (len <= GW_SESSION_ID_MAX &&
            gw_session_id_decode(r->session_id, len, addr, sizeof(addr)) > 0) {
            for (int i = 0; i < n; i++)
                if (!strcmp(cands[i]->addr, addr)) return i;
        }
    }
    if (r->session_key && r->session_key[0]) {
        size_t klen = strnlen(r->session_key, GW_SESSION_KEY_MAX + 1);
        if (klen > GW_SESSION_KEY_MAX) return -1;
        int best = -1;
        uint64_t bw = 0;
        for (int i = 0; i < n; i++) {
            uint64_t w = gw_session_rendezvous(r->session_key, klen, cands[i]->addr);
            if (best < 0 || w > bw || (w == bw && strcmp(cands[i]->addr, cands[best]->addr) < 0)) {
                best = i;
                bw = w;
            }
        }
        return best;
    }
    return -1;
}

/* Combined with others (AIBrix's ScoreAll): the engine pick would choose
 * scores 1, every other 0; nothing scored when it would decline. */
static int gw_session_affinity_score(void *st, const gw_route_req *r, gw_engine *const *cands,
                                     int n, double *out)
{
    int k = gw_session_affinity_pick(st, r, cands, n);
    if (k < 0) return -1;
    for (int i = 0; i < n; i++)
        out[i] = i == k ? 1.0 : 0.0;
    return GW_SCORE_HIGHER;
}

const gw_strategy gw_strategy_session_affinity = {
    .name = "session-affinity",
    .sets_session_id = 1,
    .pick = gw_session_affinity_pick,
    .score = gw_session_affinity_score,
};
