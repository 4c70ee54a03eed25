/* least-latency: the candidate with the lowest expected latency for a
 * typical request, AIBrix's formula (least_latency.go):
 *
 *   guessP = mean of the positive avg_prompt_per_req over the candidates
 *            (10 when none), guessG likewise with avg_gen_per_req (100);
 *   score  = queue_mean_s
 *          + prefill_mean_s / avg_prompt_per_req * guessP
 *          + decode_mean_s  / avg_gen_per_req    * guessG
 *
 * i.e. the engine's mean queueing time plus its observed seconds per
 * prompt token and per generated token, priced for a request of the fleet's
 * average shape. Minimum wins, uniformly random among ties.
 *
 * Fix: AIBrix reads request_queue_time_seconds with GetSimpleValue(), which
 * is 0 for a histogram, so its queue term is always 0. Here the term is the
 * histogram's mean (sum/count) as the scraper stores it in queue_mean_s.
 *
 * An engine whose average prompt (or generation) size is 0 has served no
 * such tokens; its per-token time for that term is unknown and counts as
 * 0, so a fresh engine is tried rather than starved.
 *
 * Missing: an engine lacking any of the five metrics is not scored; when
 * none is scored, pick returns -1 and the router picks at random. */
#include <math.h>

#include "gateway/gw_strategy.h"

#define GW_LATENCY_GUESS_PROMPT 10.0
#define GW_LATENCY_GUESS_GEN 100.0

/* mean of the positive finite values of avg (over n engines), or dflt */
static double gw_latency_guess(gw_engine *const *cands, int n, int gen, double dflt)
{
    double sum = 0;
    int cnt = 0;
    for (int i = 0; i < n; i++) {
        double v = gen ? cands[i]->avg_gen_per_req : cands[i]->avg_prompt_per_req;
        if (isfinite(v) && v > 0) {
            sum += v;
            cnt++;
        }
    }
    return cnt ? sum / cnt : dflt;
}

/* seconds per token times guess; 0 when the engine has no tokens of it */
static double gw_latency_term(double mean_s, double avg_tokens, double guess)
{
    if (isnan(mean_s) || isnan(avg_tokens)) return NAN;
    if (avg_tokens <= 0) return 0;
    return mean_s / avg_tokens * guess;
}

static int gw_least_latency_score(void *st, const gw_route_req *r, gw_engine *const *cands, int n,
                                  double *out)
{
    (void)r;
    (void)st;
    double gp = gw_latency_guess(cands, n, 0, GW_LATENCY_GUESS_PROMPT);
    double gg = gw_latency_guess(cands, n, 1, GW_LATENCY_GUESS_GEN);
    for (int i = 0; i < n; i++) {
        const gw_engine *e = cands[i];
        out[i] = e->queue_mean_s + gw_latency_term(e->prefill_mean_s, e->avg_prompt_per_req, gp) +
                 gw_latency_term(e->decode_mean_s, e->avg_gen_per_req, gg);
    }
    return GW_SCORE_LOWER;
}

static int gw_least_latency_pick(void *st, const gw_route_req *r, gw_engine *const *cands, int n)
{
    double score[GW_MAX_ENGINES];
    if (n > GW_MAX_ENGINES) n = GW_MAX_ENGINES;
    gw_least_latency_score(st, r, cands, n, score);
    return gw_pick_min(r, score, n);
}

const gw_strategy gw_strategy_least_latency = {
    .name = "least-latency",
    .pick = gw_least_latency_pick,
    .score = gw_least_latency_score,
};
