/* prefix-cache: send a request where its prompt's KV blocks already are
 * (docs/gateway.md "Strategies", AIBrix algorithms/prefix_cache.go routeOriginal).
 *
 *  1. Load-imbalance guard on the gateway's in-flight counts c(p) (AIBrix's
 *     realtime running requests): if max c - min c > imbalance-abs
 *     (strictly), only the pods with c = min stay candidates.
 *  2. Longest contiguous matched prefix per candidate, from the prefix
 *     index, as match% = floor(blocks * 100 / nblocks).
 *  3. Among pods with a match, those with c <= mean + F * stddev (mean and
 *     sample stddev over all candidates, F = stddev-factor) compete:
 *     highest match%, then lowest c, ties at random (r->rnd).
 *  4. Nothing matched or nobody passed the stddev test: -1, and the router
 *     falls back to least-request over all candidates (as AIBrix).
 *  5. on_routed inserts the prompt's blocks for the chosen engine, whoever
 *     chose it (optimistic, as AIBrix; the router runs it on fallback too).
 *  In a weighted list (score): match% per candidate, higher is better, no
 *  load guard (AIBrix's ScoreAll).
 *
 * Keys differ from AIBrix on purpose: AIBrix hashes the prompt's bytes
 * with xxhash in blocks of 4 "characters" (or tiktoken ids as bytes), which
 * no engine computes. brix keys the index by r->block_keys: vLLM's own
 * chained block hashes (bx_blockhash) over the engine's tokenizer (bx_tok)
 * and block size, so an index entry names a block the engine really holds
 * (same LoRA extra key too) and the index can later be fed and corrected by
 * the engines' KV events.
 *
 * Other deliberate differences: with a single candidate the sample stddev
 * is taken as 0 (AIBrix divides by n-1 = 0, gets NaN and always falls
 * back); the index has a hard byte bound with per-engine LRU eviction
 * instead of a global block count and a 20-minute TTL (gw_prefix.h).
 *
 * Settings (configure; AIBrix's knobs and defaults): imbalance-abs, an
 * integer >= 0 (default 8); stddev-factor, a number >= 0 (default 1).
 *
 * State: the router's prefix index, lent at create (needs_prefix_index:
 * the same one predicted-ttft uses); the router counts its memory, so
 * mem_bytes reports this strategy's own state only. Picking allocates
 * nothing. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_strategy.h"

typedef struct gw_pc {
    gw_prefix *idx;
    int imbalance_abs;
    double stddev_factor;
} gw_pc;

static void *gw_pc_create(const gw_strategy_cfg *cfg, gw_prefix *idx)
{
    if (!idx) return NULL; /* the router could not make one: declines every pick */
    gw_pc *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    (void)cfg;
    s->idx = idx;
    s->imbalance_abs = 8;
    s->stddev_factor = 1.0;
    return s;
}

static int gw_pc_configure(void *st, const char *key, const char *value, char *err, size_t errlen)
{
    gw_pc *s = st;
    double v;
    if (!strcmp(key, "imbalance-abs")) {
        if (gw_strategy_number("prefix-cache", key, value, 0, INT_MAX, &v, err, errlen) != 0)
            return -1;
        if (v != floor(v)) {
            snprintf(err, errlen, "prefix-cache: %s must be an integer", key);
            return -1;
        }
        s->imbalance_abs = (int)v;
        return 0;
    }
    if (!strcmp(key, "stddev-factor")) {
        if (gw_strategy_number("prefix-cache", key, value, 0, 1e9, &v, err, errlen) != 0) return -1;
        s->stddev_factor = v;
        return 0;
    }
    return gw_strategy_unknown_setting("prefix-cache", key, err, errlen);
}

static void gw_pc_destroy(void *st)
{
    free(st);
}

static int gw_pc_pick(void *st, const gw_route_req *r, gw_engine *const *cands, int n)
{
    gw_pc *s = st;
    if (!s || n <= 0 || r->nblocks == 0 || !r->block_keys) return -1;
    if (n > GW_MAX_ENGINES) n = GW_MAX_ENGINES;

    int32_t cmin = INT32_MAX, cmax = INT32_MIN;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        int32_t c = cands[i]->inflight;
        cmin = c < cmin ? c : cmin;
        cmax = c > cmax ? c : cmax;
        sum += c;
    }
    double mean = sum / n, ss = 0;
    for (int i = 0; i < n; i++)
        ss += (cands[i]->inflight - mean) * (cands[i]->inflight - mean);
    double sd = n > 1 ? sqrt(ss / (n - 1)) : 0.0;
    double limit = mean + s->stddev_factor * sd;

    /* candidates to match: all, or the least loaded under imbalance */
    int pos[GW_MAX_ENGINES], ids[GW_MAX_ENGINES];
    int m = 0;
    int guard = (int64_t)cmax - (int64_t)cmin > (int64_t)s->imbalance_abs;
    for (int i = 0; i < n; i++) {
        if (guard && cands[i]->inflight != cmin) continue;
        pos[m] = i;
        ids[m] = cands[i]->id;
        m++;
    }
    uint32_t blocks[GW_MAX_ENGINES];
    gw_prefix_match_all(s->idx, r->block_keys, r->nblocks, ids, m, blocks);

    /* best (match% desc, in-flight asc) among matched pods under the limit */
    int best_pct = 0, nbest = 0;
    int32_t best_c = INT32_MAX;
    for (int j = 0; j < m; j++) {
        if (blocks[j] == 0 || cands[pos[j]]->inflight > limit) continue;
        int pct = (int)((uint64_t)blocks[j] * 100 / r->nblocks);
        int32_t c = cands[pos[j]]->inflight;
        if (pct > best_pct || (pct == best_pct && c < best_c)) {
            best_pct = pct;
            best_c = c;
            nbest = 1;
        } else if (pct == best_pct && c == best_c) {
            nbest++;
        }
    }
    if (nbest == 0) return -1;
    int k = gw_rand_index(r, 0x70726566ULL, nbest);
    for (int j = 0; j < m; j++) {
        if (blocks[j] == 0 || cands[pos[j]]->inflight > limit) continue;
        int pct = (int)((uint64_t)blocks[j] * 100 / r->nblocks);
        if (pct == best_pct && cands[pos[j]]->inflight == best_c && k-- == 0) return pos[j];
    }
    return -1;
}

/* Combined with others (AIBrix's ScoreAll): match% per candidate, higher
 * is better, without the load guard (the other entries weigh load). */
static int gw_pc_score(void *st, const gw_route_req *r, gw_engine *const *cands, int n, double *out)
{
    gw_pc *s = st;
    if (!s || n <= 0 || r->nblocks == 0 || !r->block_keys) return -1;
    if (n > GW_MAX_ENGINES) n = GW_MAX_ENGINES;
    int ids[GW_MAX_ENGINES];
    uint32_t blocks[GW_MAX_ENGINES];
    for (int i = 0; i < n; i++)
        ids[i] = cands[i]->id;
    gw_prefix_match_all(s->idx, r->block_keys, r->nblocks, ids, n, blocks);
    for (int i = 0; i < n; i++)
        out[i] = (double)((uint64_t)blocks[i] * 100 / r->nblocks);
    return GW_SCORE_HIGHER;
}

static void gw_pc_on_routed(void *st, const gw_route_req *r, gw_engine *e)
{
    gw_pc *s = st;
    if (!s || !e || !r->block_keys) return;
    gw_prefix_insert(s->idx, r->block_keys, r->nblocks, e->id);
}

static size_t gw_pc_mem_bytes(void *st)
{
    gw_pc *s = st;
    return s ? sizeof(*s) : 0;
}

const gw_strategy gw_strategy_prefix_cache = {
    .name = "prefix-cache",
    .fallback = "least-request",
    .needs_blocks = 1,
    .needs_prefix_index = 1,
    .create = gw_pc_create,
    .destroy = gw_pc_destroy,
    .configure = gw_pc_configure,
    .pick = gw_pc_pick,
    .on_routed = gw_pc_on_routed,
    .mem_bytes = gw_pc_mem_bytes,
    .score = gw_pc_score,
};
