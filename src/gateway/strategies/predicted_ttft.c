/* predicted-ttft (brix's own): send a request where its first token is
 * expected soonest, trading prefix-cache hits against queueing.
 *
 * For each candidate e:
 *   uncached = ntokens - matched_blocks(e) * block_size      (>= 0)
 *   ahead    = requests queued before ours: the scraped waiting count,
 *              raised to inflight - running when the gateway's own live
 *              count says more are queued than the (older) scrape; when
 *              waiting is missing (NaN), the gateway's in-flight count
 *   per_req  = base + s_per_tok * avg_uncached(e)   (the prefill of one
 *              queued request; avg_uncached is an EWMA of what we routed to
 *              e, else the engine's avg prompt per request, else ntokens)
 *   TTFT(e)  = ahead * per_req + base + s_per_tok * uncached
 * matched_blocks comes from the router's prefix index, shared with
 * prefix-cache (needs_prefix_index), keyed by vLLM's own block hashes.
 * s_per_tok and base are e->obs_prefill_s_per_tok / e->obs_ttft_base_s,
 * fitted online here; until an engine has a sample the prior is 30 us per
 * token and 10 ms.
 *
 * Pick: uniformly at random among the candidates within 10 % (or 2 ms,
 * whichever is larger) of the best prediction, so a burst of similar
 * requests spreads over near-equal engines instead of piling onto one.
 * The gateway's in-flight count is never missing, so this never declines
 * (-1 only without candidates); fallback least-request is declared anyway.
 *
 * Fit: on_routed notes (per request, keyed by r->rnd in a small
 * direct-mapped table) the uncached tokens and the queue wait predicted for
 * the chosen engine, then inserts the prompt's blocks into the index. On a
 * successful on_done with a TTFT, y = ttft - predicted queue wait (>= 0) is
 * regressed on x = uncached tokens by exponentially weighted least squares
 * (weight GW_PT_ALPHA per sample). The first sample also seeds two prior
 * points (x = 0 and x = GW_PT_PRIOR_X on the prior line) that decay away,
 * so a few early samples cannot swing the slope wildly. A slope below 0 is
 * clamped to 0 with the base refitted through the mean; with no spread in x
 * the slope is kept and only the base moves.
 *
 * Limits, on purpose: running decodes slowing prefill (chunked prefill) and
 * the queue's real prompt sizes are folded into the fitted base and the
 * average; a lost pending slot (two in-flight requests whose rnd share a
 * slot) only drops a sample. mem_bytes counts this state, not the index
 * (the router counts that). Nothing is allocated per request. */
#include <math.h>
#include <stdlib.h>

#include "gateway/gw_strategy.h"

#define GW_PT_PRIOR_S_PER_TOK 30e-6
#define GW_PT_PRIOR_BASE_S 0.010
#define GW_PT_PRIOR_X 1024.0
#define GW_PT_ALPHA 0.05
#define GW_PT_AVG_ALPHA 0.1
#define GW_PT_NEAR_FRAC 0.10
#define GW_PT_NEAR_ABS_S 0.002
#define GW_PT_PENDING 4096 /* power of two */

typedef struct gw_pt_fit {
    double w, x, y, xx, xy; /* EWMA sums */
    double avg_uncached;    /* EWMA of uncached tokens routed here, 0 = none yet */
} gw_pt_fit;

typedef struct gw_pt_pending {
    uint64_t rnd;
    int32_t engine; /* -1 = free */
    uint32_t uncached;
    double qwait_s;
} gw_pt_pending;

typedef struct gw_pt {
    gw_prefix *idx;
    size_t block_size;
    gw_pt_fit fit[GW_MAX_ENGINES];
    gw_pt_pending pend[GW_PT_PENDING];
} gw_pt;

static void *gw_pt_create(const gw_strategy_cfg *cfg, gw_prefix *idx)
{
    if (!idx) return NULL; /* the router could not make one */
    gw_pt *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->idx = idx;
    s->block_size = cfg->block_size > 0 ? (size_t)cfg->block_size : 16;
    for (int i = 0; i < GW_PT_PENDING; i++)
        s->pend[i].engine = -1;
    return s;
}

static void gw_pt_destroy(void *st)
{
    free(st);
}

static void gw_pt_model(const gw_engine *e, double *spt, double *base)
{
    if (e->obs_samples > 0 && isfinite(e->obs_prefill_s_per_tok) && isfinite(e->obs_ttft_base_s)) {
        *spt = e->obs_prefill_s_per_tok;
        *base = e->obs_ttft_base_s;
    } else {
        *spt = GW_PT_PRIOR_S_PER_TOK;
        *base = GW_PT_PRIOR_BASE_S;
    }
}

static double gw_pt_queue_wait(const gw_pt *s, const gw_route_req *r, const gw_engine *e)
{
    double infl = e->inflight > 0 ? (double)e->inflight : 0.0;
    double ahead = infl;
    if (!isnan(e->waiting)) {
        ahead = e->waiting;
        if (!isnan(e->running) && infl - e->running > ahead) ahead = infl - e->running;
    }
    if (!(ahead > 0)) return 0.0;
    double avg = s->fit[e->id].avg_uncached;
    if (!(avg > 0)) avg = e->avg_prompt_per_req;
    if (!(avg >= 0) || !isfinite(avg)) avg = (double)r->ntokens;
    double spt, base;
    gw_pt_model(e, &spt, &base);
    return ahead * (base + spt * avg);
}

static size_t gw_pt_uncached(const gw_pt *s, const gw_route_req *r, uint32_t blocks)
{
    size_t cached = (size_t)blocks * s->block_size;
    return cached >= r->ntokens ? 0 : r->ntokens - cached;
}

static int gw_pt_pick(void *st, const gw_route_req *r, gw_engine *const *cands, int n)
{
    gw_pt *s = st;
    if (!s || n <= 0) return -1;
    if (n > GW_MAX_ENGINES) n = GW_MAX_ENGINES;
    int ids[GW_MAX_ENGINES];
    uint32_t blocks[GW_MAX_ENGINES];
    double pred[GW_MAX_ENGINES];
    for (int i = 0; i < n; i++)
        ids[i] = cands[i]->id;
    gw_prefix_match_all(s->idx, r->block_keys, r->block_keys ? r->nblocks : 0, ids, n, blocks);
    double best = INFINITY;
    for (int i = 0; i < n; i++) {
        double spt, base;
        gw_pt_model(cands[i], &spt, &base);
        pred[i] =
            gw_pt_queue_wait(s, r, cands[i]) + base + spt * (double)gw_pt_uncached(s, r, blocks[i]);
        if (pred[i] < best) best = pred[i];
    }
    if (!isfinite(best)) return -1;
    double slack = best * GW_PT_NEAR_FRAC;
    double thr = best + (slack > GW_PT_NEAR_ABS_S ? slack : GW_PT_NEAR_ABS_S);
    int near = 0;
    for (int i = 0; i < n; i++)
        near += pred[i] <= thr;
    int k = gw_rand_index(r, 0x74746674ULL, near);
    for (int i = 0; i < n; i++)
        if (pred[i] <= thr && k-- == 0) return i;
    return -1;
}

static void gw_pt_on_routed(void *st, const gw_route_req *r, gw_engine *e)
{
    gw_pt *s = st;
    if (!s || !e || e->id < 0 || e->id >= GW_MAX_ENGINES) return;
    size_t nb = r->block_keys ? r->nblocks : 0;
    size_t matched = gw_prefix_match(s->idx, r->block_keys, nb, e->id);
    size_t unc = gw_pt_uncached(s, r, matched > UINT32_MAX ? UINT32_MAX : (uint32_t)matched);
    gw_pt_pending *p = &s->pend[r->rnd & (GW_PT_PENDING - 1)];
    p->rnd = r->rnd;
    p->engine = e->id;
    p->uncached = unc > UINT32_MAX ? UINT32_MAX : (uint32_t)unc;
    p->qwait_s = gw_pt_queue_wait(s, r, e);
    gw_pt_fit *f = &s->fit[e->id];
    f->avg_uncached = f->avg_uncached > 0
                          ? f->avg_uncached + GW_PT_AVG_ALPHA * ((double)unc - f->avg_uncached)
                          : (double)unc + 1e-9; /* > 0 marks "seen" */
    if (nb) gw_prefix_insert(s->idx, r->block_keys, nb, e->id);
}

static void gw_pt_add(gw_pt_fit *f, double x, double y, double a)
{
    f->w = (1 - a) * f->w + a;
    f->x = (1 - a) * f->x + a * x;
    f->y = (1 - a) * f->y + a * y;
    f->xx = (1 - a) * f->xx + a * x * x;
    f->xy = (1 - a) * f->xy + a * x * y;
}

static void gw_pt_on_done(void *st, const gw_route_req *r, gw_engine *e, const gw_route_result *res)
{
    gw_pt *s = st;
    if (!s || !e || !res || e->id < 0 || e->id >= GW_MAX_ENGINES) return;
    gw_pt_pending *p = &s->pend[r->rnd & (GW_PT_PENDING - 1)];
    if (p->engine != e->id || p->rnd != r->rnd) return; /* slot reused: sample lost */
    p->engine = -1;
    if (res->status < 200 || res->status >= 300 || !(res->ttft_s >= 0) || !isfinite(res->ttft_s))
        return;
    double x = p->uncached, y = res->ttft_s - p->qwait_s;
    if (y < 0) y = 0;
    gw_pt_fit *f = &s->fit[e->id];
    double spt, base;
    gw_pt_model(e, &spt, &base);
    if (f->w == 0) { /* seed with the prior line */
        gw_pt_add(f, 0, base, GW_PT_ALPHA);
        gw_pt_add(f, GW_PT_PRIOR_X, base + spt * GW_PT_PRIOR_X, GW_PT_ALPHA);
    }
    gw_pt_add(f, x, y, GW_PT_ALPHA);
    double mx = f->x / f->w, my = f->y / f->w;
    double var = f->xx / f->w - mx * mx, cov = f->xy / f->w - mx * my;
    if (var > 1.0) spt = cov / var; /* else: no spread in x, keep the slope */
    if (spt < 0) spt = 0;
    base = my - spt * mx;
    if (base < 0) {
        base = 0;
        spt = mx > 0 ? my / mx : spt;
    }
    e->obs_prefill_s_per_tok = spt;
    e->obs_ttft_base_s = base;
    e->obs_samples++;
}

static size_t gw_pt_mem_bytes(void *st)
{
    return st ? sizeof(gw_pt) : 0;
}

const gw_strategy gw_strategy_predicted_ttft = {
    .name = "predicted-ttft",
    .fallback = "least-request",
    .needs_blocks = 1,
    .needs_prefix_index = 1,
    .create = gw_pt_create,
    .destroy = gw_pt_destroy,
    .pick = gw_pt_pick,
    .on_routed = gw_pt_on_routed,
    .on_done = gw_pt_on_done,
    .mem_bytes = gw_pt_mem_bytes,
};
