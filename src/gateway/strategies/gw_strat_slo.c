/* slo, slo-least-load, slo-least-load-pulling, slo-pack-load: routing
 * across GPU types by the heterogeneous-GPU optimizer's assignment
 * (docs/hetero.md "Routing"; AIBrix's SLO routers: `slo` is
 * `slo-least-load-pulling`, least-request when there are no profiles).
 *
 * A request's shape: input = the prompt's tokens as the engine counts them
 * (the gateway tokenizes: needs_tokens), at least 1; output = max_tokens /
 * max_completion_tokens, else default-output-tokens (128). Its cell is the
 * assignment's nearest grid point in log2 space (gw_hetero_cell, as
 * opt_profile_cell snaps); the cell's shares over the groups (Deployments,
 * gw_engine.group) draw one group per request, deterministically (a
 * per-model, per-cell Weyl sequence: gw_hetero_route), so every group gets
 * its share of a cell's requests within a few requests. Within the group:
 *   slo, slo-least-load, slo-least-load-pulling: the engine with the fewest
 *     requests the gateway has in flight to it (ties at random);
 *   slo-pack-load: the busiest engine that is not saturated (packs load so
 *     the others can scale in).
 * Saturated: the engine's scraped vllm:num_requests_waiting > 0, or its
 * in-flight count >= max-outstanding (default 32). When every candidate of
 * the drawn group is saturated (or it has none), the other groups of the
 * cell are tried by descending share, then:
 *   slo-least-load, slo-pack-load: the least loaded candidate of any group
 *     (saturated or not; no queue);
 *   slo, slo-least-load-pulling: when the cell's groups have candidates
 *     (all saturated) GW_PICK_HOLD, waiting for them rather than sending
 *     the request to a type its bucket was not given; when they have none
 *     (not running yet), an unsaturated candidate of any group (the least
 *     loaded); else GW_PICK_HOLD: the gateway holds the request in
 *     its queue (gw_proxy: retried when a request ends and every 100 ms, in
 *     arrival order; --slo-queue-max per model, --slo-queue-timeout-ms, then
 *     429 with Retry-After, as AIBrix's pulling variant rejects a request
 *     once its SLO is breached). A held request draws its group again at
 *     each retry (the cell's counter advances).
 *
 * No assignment for the model (no --gpu-optimizer, or it has not answered
 * yet): pick returns -1 (a debug line says so) and the router falls back to
 * least-request. A cell the assignment does not list: the least loaded
 * candidate. The engine's group is the answer's x-brix-gpu-group header.
 *
 * Settings (configure, per strategy name): default-output-tokens (1..1e6,
 * 128), max-outstanding (1..1e6, 32); the gateway's flags
 * --slo-default-output-tokens and --slo-max-outstanding (brix up's too) set
 * them on all four names (gw_config_configure_router). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"
#include "gateway/gw_hetero.h"
#include "gateway/gw_strategy.h"

typedef struct gw_slo {
    gw_hetero *h; /* borrowed (gw_strategy_cfg.hetero); NULL: none */
    int pack;     /* slo-pack-load */
    int pulling;  /* slo, slo-least-load-pulling: GW_PICK_HOLD when all are saturated */
    double default_out;
    double max_outstanding;
} gw_slo;

static void *gw_slo_create_mode(const gw_strategy_cfg *cfg, int pack, int pulling)
{
    gw_slo *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->h = cfg->hetero;
    s->pack = pack;
    s->pulling = pulling;
    s->default_out = GW_HETERO_DEFAULT_OUT;
    s->max_outstanding = 32;
    return s;
}

static void *gw_slo_create(const gw_strategy_cfg *cfg, gw_prefix *idx)
{
    (void)idx;
    return gw_slo_create_mode(cfg, 0, 0);
}

static void *gw_slo_create_pulling(const gw_strategy_cfg *cfg, gw_prefix *idx)
{
    (void)idx;
    return gw_slo_create_mode(cfg, 0, 1);
}

static void *gw_slo_create_pack(const gw_strategy_cfg *cfg, gw_prefix *idx)
{
    (void)idx;
    return gw_slo_create_mode(cfg, 1, 0);
}

static void gw_slo_destroy(void *st)
{
    free(st);
}

static int gw_slo_configure(void *st, const char *key, const char *value, char *err, size_t errlen)
{
    gw_slo *s = st;
    const char *name = s->pack ? "slo-pack-load" : "slo";
    if (!strcmp(key, "default-output-tokens"))
        return gw_strategy_number(name, key, value, 1, 1e6, &s->default_out, err, errlen);
    if (!strcmp(key, "max-outstanding"))
        return gw_strategy_number(name, key, value, 1, 1e6, &s->max_outstanding, err, errlen);
    return gw_strategy_unknown_setting(name, key, err, errlen);
}

static int gw_slo_saturated(const gw_slo *s, const gw_engine *e)
{
    return (isfinite(e->waiting) && e->waiting > 0) || (double)e->inflight >= s->max_outstanding;
}

/* The pick among the unsaturated candidates of group (NULL: every
 * candidate, least loaded; saturated ones too unless unsat_only); -1 when
 * there is none. */
static int gw_slo_pick_in(const gw_slo *s, const gw_route_req *r, gw_engine *const *cands, int n,
                          const char *group, int unsat_only)
{
    double score[GW_MAX_ENGINES];
    int any = 0;
    for (int i = 0; i < n; i++) {
        const gw_engine *e = cands[i];
        score[i] = NAN;
        if (group && strcmp(e->group, group) != 0) continue;
        if ((group || unsat_only) && gw_slo_saturated(s, e)) continue;
        score[i] = (double)e->inflight;
        any = 1;
    }
    if (!any) return -1;
    return group && s->pack ? gw_pick_max(r, score, n) : gw_pick_min(r, score, n);
}

static int gw_slo_pick(void *st, const gw_route_req *r, gw_engine *const *cands, int n)
{
    gw_slo *s = st;
    if (n > GW_MAX_ENGINES) n = GW_MAX_ENGINES;
    double in = r->ntokens > 0 ? (double)r->ntokens : 1;
    double out = r->max_tokens > 0 ? (double)r->max_tokens : s ? s->default_out : 128;
    gw_hetero_route_out ro;
    if (!s || gw_hetero_route(s->h, r->model, in, out, &ro) < 0) {
        if (bx_log_get_level() <= BX_LOG_DEBUG) {
            char em[BX_LOG_ESC_MAX];
            bx_debug("slo: no GPU-optimizer assignment for model %s: least-request",
                     bx_log_escape(em, sizeof(em), r->model, BX_LOG_CSTR));
        }
        return -1;
    }
    int assigned = 0; /* candidates in the cell's groups, saturated or not */
    for (int g = 0; g < ro.ngroups; g++) {
        int i = gw_slo_pick_in(s, r, cands, n, ro.groups[g], 1);
        if (i >= 0) return i;
        for (int k = 0; k < n; k++)
            assigned += strcmp(cands[k]->group, ro.groups[g]) == 0;
    }
    if (!s->pulling) return gw_slo_pick_in(s, r, cands, n, NULL, 0);
    /* the cell's groups are running but busy: wait for them rather than
     * send the request to a type its bucket was not given (one that may
     * not meet its SLO at all, as an A10G for long documents) */
    if (assigned > 0) return GW_PICK_HOLD;
    int i = gw_slo_pick_in(s, r, cands, n, NULL, 1);
    return i >= 0 ? i : GW_PICK_HOLD; /* every engine is saturated: wait in the queue */
}

#define GW_SLO_STRATEGY(var, nm, mk)                                                               \
    const gw_strategy var = {                                                                      \
        .name = nm,                                                                                \
        .fallback = "least-request",                                                               \
        .needs_tokens = 1,                                                                         \
        .create = mk,                                                                              \
        .destroy = gw_slo_destroy,                                                                 \
        .configure = gw_slo_configure,                                                             \
        .pick = gw_slo_pick,                                                                       \
    }

GW_SLO_STRATEGY(gw_strategy_slo, "slo", gw_slo_create_pulling);
GW_SLO_STRATEGY(gw_strategy_slo_least_load, "slo-least-load", gw_slo_create);
GW_SLO_STRATEGY(gw_strategy_slo_least_load_pulling, "slo-least-load-pulling",
                gw_slo_create_pulling);
GW_SLO_STRATEGY(gw_strategy_slo_pack_load, "slo-pack-load", gw_slo_create_pack);
