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
 * response (gw_session_id_encode), whichever strategy chose it. Stateless. */
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

const gw_strategy gw_strategy_session_affinity = {
    .name = "session-affinity",
    .sets_session_id = 1,
    .pick = gw_session_affinity_pick,
};
