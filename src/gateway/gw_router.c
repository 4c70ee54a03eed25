/* gw_router: see gw_router.h. */
#include "gateway/gw_router.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int gw_router_init(gw_router *r, const gw_strategy_cfg *cfg, const char *default_name)
{
    memset(r, 0, sizeof(*r));
    r->cfg = *cfg;
    int need_prefix = 0;
    for (const gw_strategy *const *s = gw_strategy_all(); *s; s++)
        need_prefix |= (*s)->needs_prefix_index;
    /* NULL when the bound is too small or memory short: the strategies
     * that need it then decline every pick */
    if (need_prefix) r->prefix = gw_prefix_create(r->cfg.prefix_max_bytes);
    for (const gw_strategy *const *s = gw_strategy_all(); *s; s++) {
        if (r->n == GW_ROUTER_MAX_STRATEGIES) break;
        r->strategies[r->n] = *s;
        gw_prefix *idx = (*s)->needs_prefix_index ? r->prefix : NULL;
        r->states[r->n] = (*s)->create ? (*s)->create(&r->cfg, idx) : NULL;
        r->n++;
    }
    char err[256];
    if (gw_strategy_plan_parse(default_name ? default_name : "least-request", &r->defplan, err,
                               sizeof(err)) != 0) {
        gw_router_close(r);
        return -1;
    }
    r->def = r->defplan.s[0];
    return 0;
}

void gw_router_close(gw_router *r)
{
    for (int i = 0; i < r->n; i++)
        if (r->strategies[i]->destroy) r->strategies[i]->destroy(r->states[i]);
    gw_prefix_destroy(r->prefix); /* after the strategies it was lent to */
    memset(r, 0, sizeof(*r));
}

static void *gw_router_state(const gw_router *r, const gw_strategy *s)
{
    for (int i = 0; i < r->n; i++)
        if (r->strategies[i] == s) return r->states[i];
    return NULL;
}

int gw_router_configure(gw_router *r, const char *strategy, const char *key, const char *value,
                        char *err, size_t errlen)
{
    const gw_strategy *s = strategy && *strategy ? gw_router_strategy(r, strategy) : NULL;
    if (!s) {
        snprintf(err, errlen, "unknown routing strategy '%s'", strategy ? strategy : "");
        return -1;
    }
    void *st = gw_router_state(r, s);
    if (!s->configure) {
        snprintf(err, errlen, "routing strategy '%s' has no settings", s->name);
        return -1;
    }
    if (!st) { /* its create() failed: it declines every pick */
        snprintf(err, errlen, "routing strategy '%s' is not available", s->name);
        return -1;
    }
    return s->configure(st, key, value, err, errlen);
}

const gw_strategy *gw_router_strategy(const gw_router *r, const char *name)
{
    if (!name || !*name) return r->def;
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->strategies[i]->name, name)) return r->strategies[i];
    const gw_strategy *s = gw_strategy_resolve(name); /* an alias */
    for (int i = 0; s && i < r->n; i++)
        if (r->strategies[i] == s) return s;
    return NULL;
}

gw_engine *gw_router_pick(gw_router *r, const gw_strategy *s, const gw_route_req *rq,
                          gw_engine *const *cands, int n, const gw_strategy **decided)
{
    const gw_strategy *cur = s;
    int idx = -1;
    r->picks++;
    for (int hop = 0; hop < 4 && cur; hop++) {
        idx = cur->pick(gw_router_state(r, cur), rq, cands, n);
        if (idx == GW_PICK_HOLD) { /* the caller holds the request */
            if (decided) *decided = cur;
            return NULL;
        }
        if (idx >= 0 && idx < n) break;
        idx = -1;
        r->fallbacks++;
        cur = gw_router_strategy(r, cur->fallback ? cur->fallback : "random");
    }
    if (idx < 0) { /* every hop declined: uniform random */
        idx = gw_rand_index(rq, 0x66616c6cULL, n);
        cur = gw_router_strategy(r, "random");
    }
    if (decided) *decided = cur;
    gw_engine *e = cands[idx];
    if (s->on_routed) s->on_routed(gw_router_state(r, s), rq, e);
    return e;
}

gw_engine *gw_router_pick_plan(gw_router *r, const gw_strategy_plan *p, const gw_route_req *rq,
                               gw_engine *const *cands, int n, const gw_strategy **fallback)
{
    if (!p) p = &r->defplan;
    if (fallback) *fallback = NULL;
    if (p->n == 1) {
        const gw_strategy *decided = NULL;
        gw_engine *e = gw_router_pick(r, p->s[0], rq, cands, n, &decided);
        if (fallback && decided != p->s[0]) *fallback = decided;
        return e;
    }
    if (n > GW_MAX_ENGINES) n = GW_MAX_ENGINES;
    double total[GW_MAX_ENGINES], raw[GW_MAX_ENGINES];
    double wsum = 0;
    int scored_any = 0;
    r->picks++;
    for (int i = 0; i < n; i++)
        total[i] = 0;
    for (int k = 0; k < p->n; k++) {
        wsum += p->w[k];
        int pol = p->s[k]->score(gw_router_state(r, p->s[k]), rq, cands, n, raw);
        if (pol < 0) continue; /* nothing scored: this entry adds 0 everywhere */
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < n; i++) {
            if (!isfinite(raw[i])) continue;
            lo = raw[i] < lo ? raw[i] : lo;
            hi = raw[i] > hi ? raw[i] : hi;
        }
        if (lo > hi) continue;
        scored_any = 1;
        for (int i = 0; i < n; i++) {
            if (!isfinite(raw[i])) continue;
            double v = hi == lo                 ? 1.0
                       : pol == GW_SCORE_HIGHER ? (raw[i] - lo) / (hi - lo)
                                                : (hi - raw[i]) / (hi - lo);
            total[i] += v * p->w[k];
        }
    }
    int idx;
    if (scored_any) {
        for (int i = 0; i < n; i++)
            total[i] /= wsum;
        idx = gw_pick_max(rq, total, n);
    } else {
        idx = -1;
    }
    if (idx < 0) { /* no entry scored anything: uniform random */
        r->fallbacks++;
        idx = gw_rand_index(rq, 0x66616c6cULL, n);
        if (fallback) *fallback = gw_router_strategy(r, "random");
    }
    gw_engine *e = cands[idx];
    for (int k = 0; k < p->n; k++)
        if (p->s[k]->on_routed) p->s[k]->on_routed(gw_router_state(r, p->s[k]), rq, e);
    return e;
}

void gw_router_done_plan(gw_router *r, const gw_strategy_plan *p, const gw_route_req *rq,
                         gw_engine *e, const gw_route_result *res)
{
    if (!p) p = &r->defplan;
    for (int k = 0; k < p->n; k++)
        gw_router_done(r, p->s[k], rq, e, res);
}

void gw_router_done(gw_router *r, const gw_strategy *s, const gw_route_req *rq, gw_engine *e,
                    const gw_route_result *res)
{
    if (s->on_done) s->on_done(gw_router_state(r, s), rq, e, res);
}

size_t gw_router_mem_bytes(const gw_router *r)
{
    size_t total = gw_prefix_mem_bytes(r->prefix);
    for (int i = 0; i < r->n; i++)
        if (r->strategies[i]->mem_bytes) total += r->strategies[i]->mem_bytes(r->states[i]);
    return total;
}
