/* pd: AIBrix's prefill/decode disaggregation strategy; the selection
 * arithmetic and its rules are in gw_pd.h (gw_pd_select), the two legs in
 * gw_proxy.c with gw_pd.c's helpers.
 *
 * pick() returns the decode engine and keeps the prefill engine for the
 * proxy (gw_pd_take_prefill, same lock hold); without a complete roleset it
 * picks a combined pod (no role), else declines (-1: least-request among
 * all). on_routed records the prompt's blocks in the prefix index for the
 * prefill engine (where the prompt's KV is computed).
 *
 * Settings (configure): prefill-policy (prefix-cache | least-request),
 * decode-policy (load-balancing | least-request), imbalance-prefill,
 * imbalance-decode (numbers >= 0, default 16), stddev-factor (default 1).
 *
 * State: the router's prefix index (borrowed), the settings, the prefill
 * engine of the last pick. Picking allocates nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_pd.h"
#include "gateway/gw_router.h"
#include "gateway/gw_strategy.h"

int gw_pd_role_parse(const char *s)
{
    if (s && !strcmp(s, "prefill")) return GW_PD_ROLE_PREFILL;
    if (s && !strcmp(s, "decode")) return GW_PD_ROLE_DECODE;
    return GW_PD_ROLE_NONE;
}

void gw_pd_params_default(gw_pd_params *p)
{
    p->imbalance_prefill = 16;
    p->imbalance_decode = 16;
    p->tps_spread = 2048;
    p->ratio_spread = 1.5;
    p->stddev_factor = 1;
    p->prefill_policy = GW_PD_PREFILL_PREFIX;
    p->decode_policy = GW_PD_DECODE_LOAD_BALANCING;
}

/* ---------- selection ---------- */

static double gw_pd_eff_running(const gw_pd_pod *d)
{
    return (isnan(d->running) ? 0 : d->running) + d->req;
}

/* The first minimum of v over idx[0..m) in the order rotated by rnd; NaN
 * skipped. -1 when none. */
static int gw_pd_argmin(const int *idx, const double *v, int m, uint64_t rnd)
{
    int best = -1;
    for (int k = 0; k < m; k++) {
        int i = idx[(size_t)((rnd + (uint64_t)k) % (uint64_t)m)];
        if (isnan(v[i])) continue;
        if (best < 0 || v[i] < v[best]) best = i;
    }
    return best;
}

int gw_pd_select(const gw_pd_pod *pods, int n, const gw_pd_params *p, uint64_t rnd, int *prefill,
                 int *decode, int *why)
{
    if (n <= 0) return -1;
    if (n > GW_MAX_ENGINES) n = GW_MAX_ENGINES;
    /* eligible rolesets: one of each role */
    int maxrs = 0;
    for (int i = 0; i < n; i++)
        if (pods[i].roleset + 1 > maxrs) maxrs = pods[i].roleset + 1;
    static _Thread_local unsigned char has[GW_MAX_ENGINES];
    static _Thread_local int pi[GW_MAX_ENGINES], di[GW_MAX_ENGINES];
    static _Thread_local double ps[GW_MAX_ENGINES], ds[GW_MAX_ENGINES], eff[GW_MAX_ENGINES];
    if (maxrs > GW_MAX_ENGINES) return -1;
    memset(has, 0, (size_t)maxrs);
    for (int i = 0; i < n; i++)
        if (pods[i].roleset >= 0 && pods[i].role >= GW_PD_ROLE_PREFILL &&
            pods[i].role <= GW_PD_ROLE_DECODE)
            has[pods[i].roleset] |= (unsigned char)pods[i].role;
    int np = 0, nd = 0;
    for (int i = 0; i < n; i++) {
        ps[i] = ds[i] = NAN;
        if (pods[i].roleset < 0 || has[pods[i].roleset] != 3) continue;
        if (pods[i].role == GW_PD_ROLE_PREFILL)
            pi[np++] = i;
        else if (pods[i].role == GW_PD_ROLE_DECODE)
            di[nd++] = i;
    }
    if (!np || !nd) return -1;

    /* prefill scores (skipping the overloaded) */
    double sum = 0, maxreq = 0, minreq = INFINITY;
    for (int k = 0; k < np; k++) {
        double r = pods[pi[k]].req;
        sum += r;
        if (r > maxreq) maxreq = r;
        if (r < minreq) minreq = r;
    }
    double mean = sum / np, var = 0;
    for (int k = 0; k < np; k++)
        var += (pods[pi[k]].req - mean) * (pods[pi[k]].req - mean);
    double sd = np > 1 ? sqrt(var / (np - 1)) : 0;
    for (int k = 0; k < np; k++) {
        const gw_pd_pod *q = &pods[pi[k]];
        if (q->req > mean + p->stddev_factor * sd) continue;
        if (p->prefill_policy == GW_PD_PREFILL_LEAST_REQUEST)
            ps[pi[k]] = q->req;
        else
            ps[pi[k]] = (100.0 - q->match_pct) * 0.1 + (maxreq > 0 ? q->req / maxreq : 0);
    }
    /* decode scores */
    double maxrun = 0, maxtps = 0, maxfree = 0;
    int with_metrics = 0;
    for (int k = 0; k < nd; k++) {
        const gw_pd_pod *q = &pods[di[k]];
        eff[di[k]] = gw_pd_eff_running(q);
        if (eff[di[k]] > maxrun) maxrun = eff[di[k]];
        if (!isnan(q->gen_tps) && q->gen_tps > maxtps) maxtps = q->gen_tps;
        if (!isnan(q->kv_usage)) {
            double f = fmax(100.0 - 100.0 * q->kv_usage, 0.1);
            if (f > maxfree) maxfree = f;
        }
        if (!isnan(q->running) && !isnan(q->kv_usage)) with_metrics++;
    }
    for (int k = 0; k < nd; k++) {
        const gw_pd_pod *q = &pods[di[k]];
        if (p->decode_policy == GW_PD_DECODE_LEAST_REQUEST) {
            ds[di[k]] = eff[di[k]];
        } else if (isnan(q->running) || isnan(q->kv_usage)) {
            ds[di[k]] = with_metrics ? 1.0 + q->req : eff[di[k]];
        } else {
            double run = maxrun > 0 ? eff[di[k]] / maxrun : 0;
            double thr = maxtps > 0 && !isnan(q->gen_tps) ? 1.0 - q->gen_tps / maxtps : 0;
            double f = fmax(100.0 - 100.0 * q->kv_usage, 0.1);
            ds[di[k]] = (run + thr) / (maxfree > 0 ? f / maxfree : 1.0);
        }
    }

    /* 1. prefill imbalance */
    if (maxreq - minreq > p->imbalance_prefill) {
        static _Thread_local double req[GW_MAX_ENGINES];
        for (int k = 0; k < np; k++)
            req[pi[k]] = pods[pi[k]].req;
        int a = gw_pd_argmin(pi, req, np, rnd);
        int m = 0;
        for (int k = 0; k < nd; k++)
            if (pods[di[k]].roleset == pods[a].roleset) pi[m++] = di[k]; /* reuse pi */
        *prefill = a;
        *decode = gw_pd_argmin(pi, ds, m, rnd);
        if (*decode < 0) *decode = gw_pd_argmin(pi, eff, m, rnd);
        *why = GW_PD_WHY_PREFILL_IMBALANCE;
        return 0;
    }
    /* 2. decode fast paths */
    double emin = INFINITY, emax = 0, tmin = INFINITY, tmax = 0, rmin = INFINITY, rmax = 0;
    int ntps = 0, nratio = 0;
    static _Thread_local double tps[GW_MAX_ENGINES], ratio[GW_MAX_ENGINES];
    for (int k = 0; k < nd; k++) {
        int i = di[k];
        const gw_pd_pod *q = &pods[i];
        emin = fmin(emin, eff[i]);
        emax = fmax(emax, eff[i]);
        tps[i] = q->gen_tps;
        if (!isnan(q->gen_tps)) {
            ntps++;
            tmin = fmin(tmin, q->gen_tps);
            tmax = fmax(tmax, q->gen_tps);
        }
        ratio[i] = NAN;
        if (!isnan(q->drain) && q->drain > 0) {
            ratio[i] = eff[i] / q->drain;
            nratio++;
            rmin = fmin(rmin, ratio[i]);
            rmax = fmax(rmax, ratio[i]);
        }
    }
    int dpick = -1;
    if (emax - emin >= p->imbalance_decode) {
        dpick = gw_pd_argmin(di, eff, nd, rnd);
        *why = GW_PD_WHY_DECODE_SPREAD;
    } else if (ntps >= 2 && tmax - tmin > p->tps_spread) {
        dpick = gw_pd_argmin(di, tps, nd, rnd);
        *why = GW_PD_WHY_DECODE_TPS;
    } else if (nratio >= 2 && rmax > 0 && (rmin <= 0 || rmax / rmin > p->ratio_spread)) {
        dpick = gw_pd_argmin(di, ratio, nd, rnd);
        *why = GW_PD_WHY_DECODE_RATIO;
    }
    if (dpick >= 0) {
        int m = 0;
        for (int k = 0; k < np; k++)
            if (pods[pi[k]].roleset == pods[dpick].roleset) di[m++] = pi[k]; /* reuse di */
        int a = gw_pd_argmin(di, ps, m, rnd);
        if (a < 0) { /* every prefill pod of the roleset was skipped: least loaded */
            static _Thread_local double req[GW_MAX_ENGINES];
            for (int k = 0; k < m; k++)
                req[di[k]] = pods[di[k]].req;
            a = gw_pd_argmin(di, req, m, rnd);
        }
        *prefill = a;
        *decode = dpick;
        return 0;
    }
    /* 3-4. per roleset: best prefill / max + best decode / max */
    static _Thread_local int bp[GW_MAX_ENGINES], bd[GW_MAX_ENGINES];
    for (int r = 0; r < maxrs; r++)
        bp[r] = bd[r] = -1;
    for (int k = 0; k < n; k++) {
        int i = (int)((rnd + (uint64_t)k) % (uint64_t)n); /* ties: rotated order */
        int r = pods[i].roleset;
        if (r < 0 || has[r] != 3) continue;
        if (pods[i].role == GW_PD_ROLE_PREFILL && !isnan(ps[i]) && (bp[r] < 0 || ps[i] < ps[bp[r]]))
            bp[r] = i;
        if (pods[i].role == GW_PD_ROLE_DECODE && !isnan(ds[i]) && (bd[r] < 0 || ds[i] < ds[bd[r]]))
            bd[r] = i;
    }
    double mp = 0, md = 0;
    for (int r = 0; r < maxrs; r++) {
        if (bp[r] >= 0 && ps[bp[r]] > mp) mp = ps[bp[r]];
        if (bd[r] >= 0 && ds[bd[r]] > md) md = ds[bd[r]];
    }
    int best = -1;
    double bestv = 0;
    for (int k = 0; k < maxrs; k++) {
        int r = (int)((rnd + (uint64_t)k) % (uint64_t)maxrs);
        if (bp[r] < 0 || bd[r] < 0) continue;
        double v = (mp > 0 ? ps[bp[r]] / mp : 0) + (md > 0 ? ds[bd[r]] / md : 0);
        if (best < 0 || v < bestv) {
            best = r;
            bestv = v;
        }
    }
    if (best < 0) return -1;
    *prefill = bp[best];
    *decode = bd[best];
    *why = GW_PD_WHY_SCORE;
    return 0;
}

/* ---------- the strategy ---------- */

typedef struct gw_pd_state {
    gw_prefix *idx; /* borrowed; NULL: no prefix match (least-request-like prefill) */
    gw_pd_params prm;
    gw_engine *last_prefill;
    gw_pd_pod pods[GW_MAX_ENGINES];
    int map[GW_MAX_ENGINES]; /* pods[k] is cands[map[k]] */
    int ids[GW_MAX_ENGINES]; /* engine ids for the prefix match */
    uint32_t blocks[GW_MAX_ENGINES];
} gw_pd_state;

static void *gw_pd_create(const gw_strategy_cfg *cfg, gw_prefix *idx)
{
    (void)cfg;
    gw_pd_state *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->idx = idx;
    gw_pd_params_default(&s->prm);
    return s;
}

static void gw_pd_destroy(void *st)
{
    free(st);
}

static int gw_pd_configure(void *st, const char *key, const char *value, char *err, size_t errlen)
{
    gw_pd_state *s = st;
    if (!s) return gw_strategy_unknown_setting("pd", key, err, errlen);
    double v;
    if (!strcmp(key, "prefill-policy")) {
        if (!strcmp(value, "prefix-cache"))
            s->prm.prefill_policy = GW_PD_PREFILL_PREFIX;
        else if (!strcmp(value, "least-request"))
            s->prm.prefill_policy = GW_PD_PREFILL_LEAST_REQUEST;
        else {
            snprintf(err, errlen, "pd: prefill-policy must be prefix-cache or least-request");
            return -1;
        }
        return 0;
    }
    if (!strcmp(key, "decode-policy")) {
        if (!strcmp(value, "load-balancing"))
            s->prm.decode_policy = GW_PD_DECODE_LOAD_BALANCING;
        else if (!strcmp(value, "least-request"))
            s->prm.decode_policy = GW_PD_DECODE_LEAST_REQUEST;
        else {
            snprintf(err, errlen, "pd: decode-policy must be load-balancing or least-request");
            return -1;
        }
        return 0;
    }
    double *t = !strcmp(key, "imbalance-prefill")  ? &s->prm.imbalance_prefill
                : !strcmp(key, "imbalance-decode") ? &s->prm.imbalance_decode
                : !strcmp(key, "stddev-factor")    ? &s->prm.stddev_factor
                                                   : NULL;
    if (!t) return gw_strategy_unknown_setting("pd", key, err, errlen);
    if (gw_strategy_number("pd", key, value, 0, 1e9, &v, err, errlen) != 0) return -1;
    *t = v;
    return 0;
}

static int gw_pd_pick(void *st, const gw_route_req *r, gw_engine *const *cands, int n)
{
    gw_pd_state *s = st;
    if (!s) return -1;
    s->last_prefill = NULL;
    if (n > GW_MAX_ENGINES) n = GW_MAX_ENGINES;
    /* rolesets numbered by first appearance (names compared; few pods) */
    int m = 0, nrs = 0;
    static _Thread_local const char *rsname[GW_MAX_ENGINES];
    for (int i = 0; i < n; i++) {
        const gw_engine *e = cands[i];
        if (e->pd_role == GW_PD_ROLE_NONE || !e->roleset[0]) continue;
        int rs = -1;
        for (int k = 0; k < nrs; k++)
            if (!strcmp(rsname[k], e->roleset)) rs = k;
        if (rs < 0) {
            rs = nrs;
            rsname[nrs++] = e->roleset;
        }
        gw_pd_pod *p = &s->pods[m];
        p->roleset = rs;
        p->role = e->pd_role;
        p->req = e->inflight;
        p->running = e->running;
        p->gen_tps = e->gen_tps;
        p->drain =
            !isnan(e->gen_tps) && e->avg_gen_per_req > 0 ? e->gen_tps / e->avg_gen_per_req : NAN;
        p->kv_usage = e->kv_usage;
        p->match_pct = 0;
        s->ids[m] = e->id;
        s->map[m++] = i;
    }
    if (s->idx && r->nblocks > 0 && m > 0 && s->prm.prefill_policy == GW_PD_PREFILL_PREFIX) {
        gw_prefix_match_all(s->idx, r->block_keys, r->nblocks, s->ids, m, s->blocks);
        for (int k = 0; k < m; k++)
            s->pods[k].match_pct = floor((double)s->blocks[k] * 100.0 / (double)r->nblocks);
    }
    int a, b, why;
    if (m > 0 && gw_pd_select(s->pods, m, &s->prm, r->rnd, &a, &b, &why) == 0) {
        s->last_prefill = cands[s->map[a]];
        return s->map[b];
    }
    /* no complete roleset: a combined pod (no role), least in flight */
    double score[GW_MAX_ENGINES];
    int any = 0;
    for (int i = 0; i < n; i++) {
        score[i] = cands[i]->pd_role == GW_PD_ROLE_NONE ? (double)cands[i]->inflight : NAN;
        if (!isnan(score[i])) any = 1;
    }
    return any ? gw_pick_min(r, score, n) : -1;
}

static void gw_pd_on_routed(void *st, const gw_route_req *r, gw_engine *e)
{
    gw_pd_state *s = st;
    if (!s || !s->idx || !r->nblocks) return;
    gw_engine *p = s->last_prefill ? s->last_prefill : e;
    gw_prefix_insert(s->idx, r->block_keys, r->nblocks, p->id);
}

static size_t gw_pd_mem(void *st)
{
    return st ? sizeof(gw_pd_state) : 0;
}

const gw_strategy gw_strategy_pd = {
    .name = "pd",
    .fallback = "least-request",
    .needs_tokens = 1,
    .needs_blocks = 1,
    .needs_prefix_index = 1,
    .create = gw_pd_create,
    .destroy = gw_pd_destroy,
    .configure = gw_pd_configure,
    .pick = gw_pd_pick,
    .on_routed = gw_pd_on_routed,
    .mem_bytes = gw_pd_mem,
};

gw_engine *gw_pd_take_prefill(struct gw_router *r)
{
    for (int i = 0; i < r->n; i++)
        if (r->strategies[i] == &gw_strategy_pd && r->states[i]) {
            gw_pd_state *s = r->states[i];
            gw_engine *e = s->last_prefill;
            s->last_prefill = NULL;
            return e;
        }
    return NULL;
}
