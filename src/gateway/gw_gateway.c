/* gw_gateway: see gw_gateway.h. This file owns the lifecycle, the HTTP
 * routing table and the endpoints that are not proxied (/v1/models as the
 * union of the fleet, /healthz, /readyz, /metrics, /brix/load (the load
 * monitor's windows, closed and written to Redis by a timer on this loop),
 * and the optional --metrics-port listener); the proxied requests are
 * gw_proxy.c's. The access step (gw_auth) runs before the routing table. */
#include "gateway/gw_gateway.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/bx_addr.h"
#include "common/bx_buf.h"
#include "common/bx_json.h"
#include "common/bx_reply.h"
#include "common/bx_log.h"
#include "gateway/gw_auth.h"
#include "gateway/gw_discovery.h"
#include "gateway/gw_gateway_int.h"
#include "gateway/gw_k8s.h"
#include "gateway/gw_kvroute.h"
#include "gateway/gw_prefix.h"
#include "gateway/gw_ratelimit.h"
#include "gateway/gw_scrape.h"

/* ---------- rate limits ---------- */

/* The limiter's view of Redis changed (on w's loop). Each limiter starts
 * down and was counted so in gw_worker_init. */
static void gw_limits_health(void *ud, int up)
{
    gw_worker *w = ud;
    gw_registry_lock(&w->g->reg);
    w->g->stats.rl_down += up ? -1 : 1;
    gw_registry_unlock(&w->g->reg);
}

/* ---------- local endpoints ---------- */

/* One entry of /v1/models: an id (a base model or an adapter) and, for an
 * adapter, its base model. Offsets into the names buffer. */
typedef struct gw_model_row {
    size_t id, parent;  /* offsets; parent SIZE_MAX for a base model */
    size_t pos;         /* first-seen order */
    const char *id_str; /* set once the buffer stops growing */
} gw_model_row;

typedef struct gw_model_list {
    bx_buf names; /* NUL-terminated names */
    gw_model_row *rows;
    size_t n, cap;
} gw_model_list;

static int gw_model_add(gw_model_list *l, const char *id, size_t parent)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        gw_model_row *r = realloc(l->rows, cap * sizeof(*r));
        if (!r) return -1;
        l->rows = r;
        l->cap = cap;
    }
    size_t off = l->names.len;
    if (bx_buf_append(&l->names, id, strlen(id) + 1) != 0) return -1;
    l->rows[l->n] = (gw_model_row){.id = off, .parent = parent, .pos = l->n};
    l->n++;
    return 0;
}

/* Sorting by (id, first seen) puts each id's first occurrence first. */
static int gw_model_cmp(const void *a, const void *b)
{
    const gw_model_row *x = a, *y = b;
    int c = strcmp(x->id_str, y->id_str);
    if (c) return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int gw_model_pos_cmp(const void *a, const void *b)
{
    const gw_model_row *x = a, *y = b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The union of what the fleet serves: the registry's names are copied under
 * its lock (a memcpy per name), then deduplicated (n log n) and written out
 * after it, so picks on other loops never wait for JSON. */
static void gw_models(gw_gateway *g, bx_http_res *res)
{
    gw_model_list l = {0};
    bx_buf_init(&l.names);
    int oom = 0;
    gw_registry_lock(&g->reg);
    for (int i = 0; i < g->reg.n && !oom; i++) {
        const gw_engine *e = &g->reg.engines[i];
        if (!gw_engine_up(e) || !e->model[0]) continue;
        size_t parent = l.names.len;
        oom |= gw_model_add(&l, e->model, SIZE_MAX);
        for (int k = 0; k < e->nadapters && !oom; k++)
            oom |= gw_model_add(&l, e->adapters[k], parent);
    }
    gw_registry_unlock(&g->reg);
    json_t *data = oom ? NULL : json_array();
    if (data) {
        for (size_t i = 0; i < l.n; i++)
            l.rows[i].id_str = l.names.data + l.rows[i].id;
        if (l.n) qsort(l.rows, l.n, sizeof(*l.rows), gw_model_cmp);
        size_t kept = 0;
        for (size_t i = 0; i < l.n; i++)
            if (i == 0 || strcmp(l.rows[i].id_str, l.rows[i - 1].id_str) != 0)
                l.rows[kept++] = l.rows[i];
        if (kept) qsort(l.rows, kept, sizeof(*l.rows), gw_model_pos_cmp);
        long long now = (long long)time(NULL);
        for (size_t i = 0; i < kept; i++) {
            const gw_model_row *r = &l.rows[i];
            const char *id = r->id_str;
            json_t *m =
                r->parent == SIZE_MAX
                    ? json_pack("{s:s, s:s, s:I, s:s, s:n}", "id", id, "object", "model", "created",
                                now, "owned_by", "brix", "parent")
                    : json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", id, "object", "model", "created",
                                now, "owned_by", "brix", "parent", l.names.data + r->parent);
            if (json_array_append_new(data, m) != 0) oom = 1;
        }
    }
    free(l.rows);
    bx_buf_free(&l.names);
    if (oom) {
        json_decref(data);
        bx_reply_error(res, 500, "InternalServerError", "out of memory");
        return;
    }
    bx_reply_json(res, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

static void gw_metrics_endpoint(gw_gateway *g, bx_http_res *res)
{
    gw_metrics *all = gw_metrics_new();
    if (!all) {
        bx_reply_error(res, 500, "InternalServerError", "out of memory");
        return;
    }
    for (int i = 0; i < g->nworkers; i++)
        if (g->workers[i].metrics) gw_metrics_merge(all, g->workers[i].metrics);
    bx_buf b;
    bx_buf_init(&b);
    gw_registry_lock(&g->reg);
    gw_metrics_engine *es = malloc(((size_t)g->reg.n + 1) * sizeof(*es));
    int ne = 0;
    for (int i = 0; es && i < g->reg.n; i++, ne++) {
        const gw_engine *e = &g->reg.engines[i];
        memcpy(es[i].addr, e->addr, sizeof(es[i].addr));
        es[i].inflight = e->inflight;
        es[i].breaker = (int)e->breaker.state;
        es[i].ready = gw_engine_up(e);
        es[i].gone = e->gone;
        memcpy(es[i].model, e->model, sizeof(es[i].model));
        es[i].running = e->running;
        es[i].waiting = e->waiting;
        es[i].kv_usage = e->kv_usage;
        es[i].gpu_cache_usage = e->gpu_cache_usage;
        es[i].prompt_tps = e->prompt_tps;
        es[i].gen_tps = e->gen_tps;
        memcpy(es[i].hq, e->hq, sizeof(es[i].hq));
    }
    gw_metrics_view v = {.engines = es,
                         .nengines = ne,
                         .retries = g->stats.retries,
                         .migrations = g->stats.migrations,
                         .breaker_opens = g->stats.breaker_opens,
                         .rl_rejected_rpm = g->stats.rl_rejected_rpm,
                         .rl_rejected_tpm = g->stats.rl_rejected_tpm,
                         .rl_errors = g->stats.rl_fail_open + g->stats.rl_fail_closed,
                         .rl_fail_open = g->stats.rl_fail_open,
                         .rl_fail_closed = g->stats.rl_fail_closed,
                         .have_redis = g->cfg.redis != NULL,
                         .redis_up = g->stats.rl_down == 0,
                         .strategy_mem_bytes = gw_router_mem_bytes(&g->router),
                         .router_picks = g->router.picks,
                         .router_fallbacks = g->router.fallbacks};
    bx_http_shared_get_stats(g->http_shared, &v.http);
    if (g->router.prefix) {
        gw_prefix_stats ps;
        gw_prefix_stats_get(g->router.prefix, &ps);
        v.have_prefix = 1;
        v.prefix_entries = ps.entries;
        v.prefix_capacity = ps.capacity;
        v.prefix_bytes = ps.bytes;
        v.prefix_evictions = ps.evictions;
    }
    gw_registry_unlock(&g->reg); /* the engines are copied: render without the lock */
    gw_metrics_render(all, &v, &b);
    if (g->loadmon) gw_loadmon_metrics(g->loadmon, &b);
    gw_kvroute_metrics(g->kvroute, &b); /* NULL: nothing */
    free(es);
    gw_metrics_free(all);
    bx_http_res_send(res, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "",
                     b.len);
    bx_buf_free(&b);
}

/* GET /brix/load?model=M&since=TS: the load monitor's windows (gw_loadmon.h) */
static void gw_load_endpoint(gw_gateway *g, bx_http_req *hr, bx_http_res *res)
{
    char model[GW_LOADMON_NAME_MAX], err[128];
    int64_t since;
    if (gw_loadmon_query(hr->query, model, sizeof(model), &since, err, sizeof(err)) != 0) {
        bx_reply_error(res, 400, "BadRequestError", err);
        return;
    }
    bx_buf b;
    bx_buf_init(&b);
    if (gw_loadmon_json(g->loadmon, model[0] ? model : NULL, since, &b) != 0) {
        bx_buf_free(&b);
        bx_reply_error(res, 500, "InternalServerError", "out of memory");
        return;
    }
    bx_http_res_send(res, 200, "application/json", b.data ? b.data : "", b.len);
    bx_buf_free(&b);
}

static void gw_handle(bx_http_req *hr, bx_http_res *res, void *ud)
{
    gw_worker *w = ud;
    gw_gateway *g = w->g;
    gw_worker_busy(w);
    if (!gw_auth_step(&g->cfg.keys, hr, res)) { /* answered 401 */
        gw_metrics_call_begin(w);
        gw_am_req r = {.model = "-",
                       .status = "gateway_req_headers_fail",
                       .status_code = 401,
                       .prompt_tokens = -1,
                       .completion_tokens = -1,
                       .ttft_s = -1,
                       .e2e_s = -1,
                       .routing_s = -1};
        gw_metrics_request_end(w, "-", 0, &r);
        /* hr is freed with the answer: the access log copies the path now */
        gw_alog_rec ar = {.path = hr->path,
                          .status = 401,
                          .ttft_ms = -1,
                          .prompt_tokens = -1,
                          .completion_tokens = -1};
        gw_alog_request(&w->alog, &ar);
        return;
    }
    const char *p = hr->path;
    int get = !strcmp(hr->method, "GET"), post = !strcmp(hr->method, "POST");
    if (!strcmp(p, "/v1/chat/completions") || !strcmp(p, "/v1/completions") ||
        !strcmp(p, "/v1/embeddings")) {
        if (!post) goto not_allowed;
        gw_api api = !strcmp(p, "/v1/chat/completions") ? GW_API_CHAT
                     : !strcmp(p, "/v1/completions")    ? GW_API_COMPLETIONS
                                                        : GW_API_EMBEDDINGS;
        gw_proxy_handle(w, hr, res, api);
        return;
    }
    if (!strcmp(p, "/v1/models")) {
        if (!get) goto not_allowed;
        gw_models(g, res);
        return;
    }
    if (!strcmp(p, "/healthz")) {
        if (!get) goto not_allowed;
        bx_http_res_send(res, 200, "text/plain", "ok\n", 3);
        return;
    }
    if (!strcmp(p, "/readyz")) { /* open to all (gw_auth): says ready or not, nothing more */
        if (!get) goto not_allowed;
        int ready = 0;
        if (g->cfg.kubernetes) { /* once the pods are listed, even if none is a model's */
            ready = g->discovery && gw_disc_synced(g->discovery);
        } else {
            gw_registry_lock(&g->reg);
            for (int i = 0; i < g->reg.n; i++)
                ready |= gw_engine_up(&g->reg.engines[i]);
            gw_registry_unlock(&g->reg);
        }
        if (ready)
            bx_http_res_send(res, 200, "text/plain", "ok\n", 3);
        else
            bx_http_res_send(res, 503, "text/plain", "not ready\n", 10);
        return;
    }
    if (!strcmp(p, "/metrics")) {
        if (!get) goto not_allowed;
        gw_metrics_endpoint(g, res);
        return;
    }
    if (!strcmp(p, "/brix/load")) { /* keyed like /metrics (gw_auth) */
        if (!get) goto not_allowed;
        gw_load_endpoint(g, hr, res);
        return;
    }
    bx_reply_error(res, 404, NULL, "unknown request path");
    return;
not_allowed:
    bx_http_res_send(res, 405, "application/json", "{\"detail\":\"Method Not Allowed\"}", 31);
}

/* --metrics-port: /metrics without a key, for a scraper on the host; the
 * listener serves nothing else. On the gateway's loop. */
static void gw_metrics_handle(bx_http_req *hr, bx_http_res *res, void *ud)
{
    gw_gateway *g = ud;
    if (strcmp(hr->path, "/metrics") != 0) {
        bx_http_res_send(res, 404, "text/plain", "not found\n", 10);
        return;
    }
    if (strcmp(hr->method, "GET") != 0) {
        bx_http_res_send(res, 405, "text/plain", "method not allowed\n", 19);
        return;
    }
    gw_metrics_endpoint(g, res);
}

static int gw_metrics_listen(gw_gateway *g, char *err, size_t errlen)
{
    const gw_config *cfg = &g->cfg;
    if (cfg->metrics_port <= 0) return 0;
    const char *host = cfg->metrics_host ? cfg->metrics_host : "127.0.0.1";
    bx_http_limits lim;
    bx_http_limits_default(&lim);
    lim.max_body_bytes = 4096; /* GET only */
    lim.idle_timeout_ms = (uint64_t)cfg->idle_timeout_ms;
    if (bx_http_server_init(&g->metrics_http, g->loop, &lim, gw_metrics_handle, g) != 0) {
        snprintf(err, errlen, "cannot create the metrics HTTP server");
        return -1;
    }
    int port = bx_http_server_listen(g->metrics_http, host, cfg->metrics_port, 0);
    if (port <= 0) {
        snprintf(err, errlen, "cannot listen on %s:%d (--metrics-port): %s", host,
                 cfg->metrics_port, port < 0 ? uv_strerror(port) : "no port");
        return -1;
    }
    g->metrics_port = port;
    return 0;
}

int gw_gateway_set_hold(gw_gateway *g, const gw_hold_hooks *h)
{
    if (h && g->nworkers > 1) return -1; /* the hooks run on the control plane's loop */
    if (h)
        g->hold = *h;
    else
        memset(&g->hold, 0, sizeof(g->hold));
    return 0;
}

int gw_gateway_held(gw_gateway *g, const char *model)
{
    return g->nworkers == 1 ? gw_proxy_held(&g->workers[0], model, GW_HELD_ZERO) : 0;
}

int gw_gateway_queued(gw_gateway *g, const char *model)
{
    return g->nworkers == 1 ? gw_proxy_held(&g->workers[0], model, GW_HELD_QUEUE) : 0;
}

gw_loadmon *gw_gateway_loadmon(gw_gateway *g)
{
    return g->loadmon;
}

/* ---------- the load monitor's windows: closed at each boundary, to Redis ---------- */

static int gw_load_queueing(void *ud, const char *model)
{
    gw_gateway *g = ud; /* held requests exist with one worker, on this loop */
    return g->nworkers == 1 ? gw_proxy_held(&g->workers[0], model, GW_HELD_ANY) : 0;
}

/* A closed window to Redis (AIBrix's key: the boundary it closed at). */
static void gw_load_emit(void *ud, const char *model, int64_t ts, int64_t key_ts, const char *json)
{
    (void)ts;
    gw_gateway *g = ud;
    gw_ratelimit *rl = g->workers[0].limits;
    if (!g->cfg.load_trace || !rl) return;
    char key[GW_LOADMON_NAME_MAX + 64];
    snprintf(key, sizeof(key), "aibrix:%s_request_trace_%lld", model, (long long)key_ts);
    if (gw_ratelimit_set(rl, key, json, GW_LOADMON_REDIS_TTL_S) == 0) {
        if (g->load_trace_failing) bx_info("load monitor: writing windows to Redis again");
        g->load_trace_failing = 0;
        return;
    }
    if (!g->load_trace_failing) /* once per outage */
        bx_warn("load monitor: Redis unavailable, windows not written (still at /brix/load)");
    g->load_trace_failing = 1;
}

static void gw_load_tick(uv_timer_t *t)
{
    gw_gateway *g = t->data;
    int64_t left = gw_loadmon_tick(g->loadmon, gw_load_queueing, g, gw_load_emit, g);
    uv_timer_start(t, gw_load_tick, (uint64_t)left + 5, 0); /* just past the boundary */
}

static int gw_load_start(gw_gateway *g, char *err, size_t errlen)
{
    if (gw_loadmon_new(&g->loadmon, NULL) != 0 || uv_timer_init(g->loop, &g->loadmon_timer) != 0) {
        snprintf(err, errlen, "cannot start the load monitor");
        return -1;
    }
    g->loadmon_timer_init = 1;
    g->loadmon_timer.data = g;
    /* AIBrix's switch for its request traces (pkg/cache/trace.go), read as
     * Go's strconv.ParseBool; here, so that an embedded gateway (brix up)
     * honours it too */
    if (gw_loadmon_flag_true(getenv("AIBRIX_GPU_OPTIMIZER_TRACING_FLAG"))) g->cfg.load_trace = 1;
    if (g->cfg.load_trace && !g->cfg.redis)
        bx_warn("load monitor: tracing asked for without --redis: windows are kept in memory "
                "only (GET /brix/load)");
    uv_unref((uv_handle_t *)&g->loadmon_timer); /* never keeps the loop alive */
    gw_load_tick(&g->loadmon_timer);
    return 0;
}

/* ---------- embedding: engines and model defaults from a control plane ---------- */

int gw_gateway_set_engines(gw_gateway *g, const char *const *addrs, const char *const *names,
                           const char *const *keys, int n)
{
    return gw_gateway_set_engines_grouped(g, addrs, names, keys, NULL, n);
}

int gw_gateway_set_engines_grouped(gw_gateway *g, const char *const *addrs,
                                   const char *const *names, const char *const *keys,
                                   const char *const *groups, int n)
{
    return gw_gateway_set_engines_roles(g, addrs, names, keys, groups, NULL, NULL, n);
}

int gw_gateway_set_engines_roles(gw_gateway *g, const char *const *addrs, const char *const *names,
                                 const char *const *keys, const char *const *groups,
                                 const char *const *roles, const char *const *rolesets, int n)
{
    return gw_gateway_set_engines_kv(g, addrs, names, keys, groups, roles, rolesets, NULL, n);
}

int gw_gateway_set_engines_kv(gw_gateway *g, const char *const *addrs, const char *const *names,
                              const char *const *keys, const char *const *groups,
                              const char *const *roles, const char *const *rolesets,
                              const int *kv_events, int n)
{
    if (!g->discovery) return 0;
    if (n <= 0) return gw_disc_set_engines_info(g->discovery, NULL, 0);
    gw_disc_engine_info *in = calloc((size_t)n, sizeof(*in));
    if (!in) return 0;
    for (int i = 0; i < n; i++) {
        in[i].addr = addrs[i];
        in[i].name = names ? names[i] : NULL;
        in[i].api_key = keys ? (keys[i] ? keys[i] : "") : NULL;
        in[i].group = groups ? groups[i] : NULL;
        in[i].pd_role = roles ? roles[i] : NULL;
        in[i].roleset = rolesets ? rolesets[i] : NULL;
        in[i].kv_events = kv_events ? kv_events[i] : 0;
    }
    int r = gw_disc_set_engines_info(g->discovery, in, n);
    free(in);
    return r;
}

int gw_gateway_engine_inflight(gw_gateway *g, const char *addr)
{
    gw_registry_lock(&g->reg);
    gw_engine *e = gw_registry_find(&g->reg, addr);
    int n = e ? (int)e->inflight : 0;
    gw_registry_unlock(&g->reg);
    return n;
}

int gw_gateway_model_inflight(gw_gateway *g, const char *model)
{
    int n = 0;
    gw_registry_lock(&g->reg);
    for (int i = 0; i < g->reg.n; i++) {
        const gw_engine *e = &g->reg.engines[i];
        if (!e->gone && gw_engine_serves(e, model)) n += e->inflight;
    }
    gw_registry_unlock(&g->reg);
    return n;
}

uint64_t gw_gateway_model_routed(gw_gateway *g, const char *model)
{
    uint64_t n = 0;
    gw_registry_lock(&g->reg);
    for (int i = 0; i < g->reg.n; i++) {
        const gw_engine *e = &g->reg.engines[i];
        if (!e->gone && gw_engine_serves(e, model)) n += e->routed_total;
    }
    gw_registry_unlock(&g->reg);
    return n;
}

void gw_gateway_poke(gw_gateway *g, const char *addr)
{
    gw_engine *e = gw_registry_find(&g->reg, addr);
    if (e && g->discovery) gw_disc_poke(g->discovery, e);
}

int gw_gateway_set_model_strategy(gw_gateway *g, const char *model, const char *strategy)
{
    gw_strategy_plan plan;
    char err[256];
    const gw_strategy_plan *s = NULL;
    if (strategy) {
        if (gw_strategy_plan_parse(strategy, &plan, err, sizeof(err)) != 0) return -1;
        s = &plan;
    }
    int rc = 0;
    gw_registry_lock(&g->reg);
    int i = 0;
    while (i < g->nmodel_strategy && strcmp(g->model_strategy[i].model, model) != 0)
        i++;
    if (i < g->nmodel_strategy) {
        if (s) {
            g->model_strategy[i].plan = *s;
        } else {
            g->model_strategy[i] = g->model_strategy[g->nmodel_strategy - 1];
            __atomic_store_n(&g->nmodel_strategy, g->nmodel_strategy - 1, __ATOMIC_RELEASE);
        }
    } else if (s) {
        if (g->nmodel_strategy == GW_MAX_MODEL_STRATEGIES || strlen(model) >= GW_NAME_MAX) {
            rc = -1;
        } else {
            snprintf(g->model_strategy[g->nmodel_strategy].model, GW_NAME_MAX, "%s", model);
            g->model_strategy[g->nmodel_strategy].plan = *s;
            /* read without the lock by workers' fast path (gw_proxy_handle) */
            __atomic_store_n(&g->nmodel_strategy, g->nmodel_strategy + 1, __ATOMIC_RELEASE);
        }
    }
    gw_registry_unlock(&g->reg);
    return rc;
}

int gw_gateway_set_assignment(gw_gateway *g, const char *model, const char *json, size_t len,
                              char *err, size_t errlen)
{
    return gw_hetero_set_json(g->hetero, model, json, len, err, errlen);
}

/* --gpu-optimizer asks about the models served from engines of two groups
 * or more, and those whose strategy (the model's, else the gateway's) is
 * one of slo*. On the gateway's loop: the engines' models and groups are
 * copied under the lock, compared after it. */
typedef struct gw_hetero_eng {
    char model[GW_NAME_MAX], group[GW_NAME_MAX];
    int slo;
} gw_hetero_eng;

static int gw_hetero_models(void *ud, char (*out)[GW_NAME_MAX], int cap)
{
    gw_gateway *g = ud;
    int slo_default = !strncmp(g->router.defplan.s[0]->name, "slo", 3);
    gw_hetero_eng *es = malloc(GW_MAX_ENGINES * sizeof(*es));
    if (!es) return 0;
    int ne = 0, n = 0;
    gw_registry_lock(&g->reg);
    for (int i = 0; i < g->reg.n; i++) {
        const gw_engine *e = &g->reg.engines[i];
        if (e->gone || !e->model[0]) continue;
        memcpy(es[ne].model, e->model, GW_NAME_MAX);
        memcpy(es[ne].group, e->group, GW_NAME_MAX);
        es[ne].slo = slo_default;
        for (int k = 0; k < g->nmodel_strategy; k++)
            if (!strcmp(g->model_strategy[k].model, e->model))
                es[ne].slo = !strncmp(g->model_strategy[k].plan.s[0]->name, "slo", 3);
        ne++;
    }
    gw_registry_unlock(&g->reg);
    for (int i = 0; i < ne && n < cap; i++) {
        int first = 1, other_group = 0;
        for (int j = 0; j < i && first; j++)
            first = strcmp(es[j].model, es[i].model) != 0;
        if (!first) continue; /* the model's first engine decides */
        for (int j = i + 1; j < ne && !es[i].slo && !other_group; j++)
            other_group = !strcmp(es[j].model, es[i].model) && strcmp(es[j].group, es[i].group);
        if (es[i].slo || other_group) memcpy(out[n++], es[i].model, GW_NAME_MAX);
    }
    free(es);
    return n;
}

/* ---------- signals: discovery and scraping ---------- */

/* An engine that went away or stopped answering loses its prefix-index
 * entries: its KV cache is gone or about to be (a restart empties it).
 * Runs on the gateway's loop under the registry lock (gw_discovery). */
static void gw_on_engine_change(gw_engine *e, void *ud)
{
    gw_gateway *g = ud;
    if (!e->gone && e->ready) {
        /* held requests may go now; from the loop, not from inside
         * discovery (held requests exist with one worker only, on this loop) */
        gw_worker *w = &g->workers[0];
        if (g->nworkers == 1) gw_proxy_hold_kick(w);
        return;
    }
    gw_prefix_remove_engine(g->router.prefix, e->id); /* NULL: nothing */
    gw_kvroute_engine_change(g->kvroute, e);
}

/* KV events (--kv-events-port / --kv-events-port-offset): the exact
 * prefix index over the router's (gw_kvroute.h); off without a prefix
 * strategy's index. */
static int gw_gateway_start_kv(gw_gateway *g, char *err, size_t errlen)
{
    const gw_config *c = &g->cfg;
    if (!c->kv_events_port && !c->kv_events_port_offset) return 0;
    if (!g->router.prefix) {
        bx_warn("--kv-events-*: no prefix strategy in use, KV events are not followed");
        return 0;
    }
    gw_kvroute_cfg kc = {.port = c->kv_events_port,
                         .replay_port = c->kv_events_replay_port,
                         .offset = c->kv_events_port_offset,
                         .max_bytes = (size_t)c->kv_index_max_bytes,
                         .spec_ttl_ms = (uint32_t)c->kv_spec_ttl_ms};
    g->kvroute = gw_kvroute_start(&kc, g->loop, &g->reg, g->router.prefix, err, errlen);
    return g->kvroute ? 0 : -1;
}

static int gw_gateway_start_signals(gw_gateway *g, char *err, size_t errlen)
{
    gw_disc_opts dopt;
    gw_disc_opts_default(&dopt);
    dopt.on_change = gw_on_engine_change;
    dopt.ud = g;
    dopt.interval_ms = (uint64_t)g->cfg.models_interval_ms;
    dopt.api_key = g->cfg.backend_api_key;
    gw_disc *d = NULL;
    const gw_disc_source *src = &gw_disc_source_static;
    const char *const *args = g->cfg.backends;
    int nargs = g->cfg.nbackends;
    const char *kargs[2] = {g->cfg.kubeconfig ? g->cfg.kubeconfig : "",
                            g->cfg.k8s_namespace ? g->cfg.k8s_namespace : ""};
    if (g->cfg.kubernetes) {
        src = &gw_disc_source_k8s;
        args = kargs;
        nargs = 2;
    }
    if (gw_disc_init(&d, g->loop, &g->reg, g->workers[0].client, src, args, nargs, &dopt, err,
                     errlen) != 0)
        return -1;
    g->discovery = d;
    gw_scrape_opts sopt;
    gw_scrape_opts_default(&sopt);
    sopt.interval_ms = (uint64_t)g->cfg.scrape_interval_ms;
    /* three rounds, within 1-3 s: with the default 1 s rounds the 3 s it
     * always was; shorter rounds notice a stopped engine sooner (two
     * unanswered scrapes in a row declare it down: gw_scrape.h) */
    uint64_t st = 3 * sopt.interval_ms;
    sopt.timeout_ms = st < 1000 ? 1000 : st > 3000 ? 3000 : st;
    gw_scrape *s = NULL;
    if (gw_scrape_init(&s, g->loop, &g->reg, g->workers[0].client, &sopt, err, errlen) != 0)
        return -1;
    g->scraper = s;
    if (gw_disc_start(d) != 0 || gw_scrape_start(s) != 0) {
        snprintf(err, errlen, "cannot start discovery or scraping");
        return -1;
    }
    if (g->cfg.gpu_optimizer && *g->cfg.gpu_optimizer) {
        gw_hetero_poll_opts ho;
        gw_hetero_poll_opts_default(&ho);
        ho.url = g->cfg.gpu_optimizer;
        ho.interval_ms = (uint64_t)g->cfg.gpu_optimizer_interval_ms;
        ho.models = gw_hetero_models;
        ho.ud = g;
        if (gw_hetero_poll_start(&g->hpoll, g->loop, g->workers[0].client, g->hetero, &ho, err,
                                 errlen) != 0)
            return -1;
    }
    return 0;
}

static void gw_gateway_stop_signals(gw_gateway *g)
{
    gw_hetero_poll_close(g->hpoll); /* freed once its request ends */
    g->hpoll = NULL;
    if (g->scraper) {
        gw_scrape_stop(g->scraper);
        gw_scrape_close(g->scraper, NULL, NULL);
        g->scraper = NULL;
    }
    if (g->discovery) {
        gw_disc_stop(g->discovery);
        gw_disc_close(g->discovery, NULL, NULL);
        g->discovery = NULL;
    }
}

/* ---------- workers ---------- */

static int gw_redis_addr(const char *spec, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(spec, ':');
    *port = colon ? atoi(colon + 1) : 6379;
    size_t hl = colon ? (size_t)(colon - spec) : strlen(spec);
    if (hl >= hostlen || *port <= 0 || *port > 65535) return -1;
    memcpy(host, spec, hl);
    host[hl] = '\0';
    return 0;
}

/* Sets up worker idx on loop (worker 0: the caller's) or on a loop of its
 * own, listening on the gateway's port (SO_REUSEPORT when several). */
static int gw_worker_init(gw_gateway *g, int idx, uv_loop_t *loop, char *err, size_t errlen)
{
    gw_worker *w = &g->workers[idx];
    const gw_config *cfg = &g->cfg;
    w->g = g;
    w->idx = idx;
    bx_queue_init(&w->calls);
    if (loop) {
        w->loop = loop;
    } else {
        if (uv_loop_init(&w->own_loop) != 0) {
            snprintf(err, errlen, "cannot create worker %d's event loop", idx);
            return -1;
        }
        w->loop = &w->own_loop;
    }
    g->nworkers = idx + 1; /* from here on, gw_gateway_close cleans it up */
    if (!(w->metrics = gw_metrics_new())) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (gw_alog_init(&w->alog, w->loop, cfg->access_log, (uint32_t)cfg->access_log_sample,
                     &g->alog_gen, err, errlen) != 0)
        return -1;
    if (gw_worker_spin_init(w) != 0) {
        snprintf(err, errlen, "cannot set up busy polling");
        return -1;
    }
    w->rng = uv_hrtime() ^ ((uint64_t)(uintptr_t)w << 16);
    w->id_salt = gw_next_random(w);
    bx_http_client_opts co = {.max_idle_per_host = 256,
                              .connect_timeout_ms = (uint64_t)cfg->connect_timeout_ms};
    if (bx_http_client_init(&w->client, w->loop, &co) != 0) {
        snprintf(err, errlen, "cannot create the HTTP client");
        return -1;
    }
    if (cfg->redis) {
        char host[256];
        int rport;
        if (gw_redis_addr(cfg->redis, host, sizeof(host), &rport) != 0) {
            snprintf(err, errlen, "--redis wants host:port");
            return -1;
        }
        gw_ratelimit_opts ro;
        gw_ratelimit_opts_default(&ro);
        ro.fail_open = !cfg->ratelimit_fail_closed;
        ro.timeout_ms = cfg->redis_timeout_ms; /* >= 1: gw_config checks */
        ro.on_health = gw_limits_health;
        ro.health_ud = w;
        gw_registry_lock(&g->reg);
        g->stats.rl_down++; /* down until its first PING is answered */
        gw_registry_unlock(&g->reg);
        gw_ratelimit *rl = NULL;
        if (gw_ratelimit_init(&rl, w->loop, host, rport, &ro, err, errlen) != 0) return -1;
        w->limits = rl;
    }
    bx_http_limits lim;
    bx_http_limits_default(&lim);
    lim.max_body_bytes = (size_t)cfg->max_body_bytes;
    lim.idle_timeout_ms = (uint64_t)cfg->idle_timeout_ms;
    lim.head_timeout_ms = (uint64_t)cfg->header_timeout_ms;
    lim.body_timeout_ms = (uint64_t)cfg->body_timeout_ms;
    /* a proxied request holds two descriptors: the client's and the engine's */
    lim.max_connections = cfg->max_connections > 0 ? (size_t)cfg->max_connections
                                                   : bx_http_default_max_connections(2);
    lim.body_budget_bytes = (size_t)cfg->max_body_buffer_bytes;
    lim.shared = g->http_shared;
    if (bx_http_server_init(&w->http, w->loop, &lim, gw_handle, w) != 0) {
        snprintf(err, errlen, "cannot create the HTTP server");
        return -1;
    }
    int reuseport = cfg->workers > 1 && cfg->accept_mode && !strcmp(cfg->accept_mode, "reuseport");
    int port;
    if (idx > 0 && !reuseport) { /* one listening socket, polled by every loop */
        int rc = bx_http_server_listen_shared(w->http, g->workers[0].http);
        port = rc == 0 ? g->port : rc;
    } else
        port = bx_http_server_listen(w->http, cfg->host, idx == 0 ? cfg->port : g->port, reuseport);
    if (port <= 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", cfg->host, cfg->port,
                 port < 0 ? uv_strerror(port) : "no port");
        return -1;
    }
    if (idx == 0) g->port = port;
    return 0;
}

/* Stops taking requests and finishes the calls in flight (their clients
 * get what the engines sent so far). On the worker's own thread, outside
 * uv_run. */
static void gw_worker_drain(gw_worker *w)
{
    if (w->http) bx_http_server_close(w->http, NULL, NULL); /* aborts client responses */
    w->http = NULL;
    /* Before gw_proxy_cancel_all, while the calls waiting for Redis still
     * own their (now closing) responses: the limiter answers them at once,
     * they answer their client (a no-op on a closed connection) and finish,
     * so the server never calls their abort callback after they are freed.
     * It drops the connection and closes its handles; its memory goes when
     * the loop runs their close callbacks (here, and in the loop's last
     * uv_run, before which every limiter handle is already closing). */
    if (w->limits) gw_ratelimit_close(w->limits);
    w->limits = NULL;
    /* One turn runs the closed connections' callbacks, so every call still
     * owning a response learns of it through its abort callback now, not
     * after gw_proxy_cancel_all let it finish and be freed. */
    uv_run(w->loop, UV_RUN_NOWAIT);
    gw_proxy_cancel_all(w);
    /* cancelled calls end on the next turns; one waiting on the resolver's
     * thread pool may take longer: up to ~2 s more, then it is abandoned */
    for (int i = 0; i < 2100 && !bx_queue_empty(&w->calls); i++) {
        uv_run(w->loop, UV_RUN_NOWAIT);
        if (!bx_queue_empty(&w->calls) && i >= 100) uv_sleep(1);
    }
    if (!bx_queue_empty(&w->calls))
        bx_warn("worker %d: requests still running at shutdown", w->idx);
}

/* Closes the worker's handles; the spare calls go after its loop's last
 * turn (a late callback may still park one there). */
static void gw_worker_release(gw_worker *w)
{
    gw_alog_close(&w->alog); /* after the drain: the last calls have logged */
    if (w->client) bx_http_client_close(w->client);
    w->client = NULL;
    if (w->hold_timer_init) uv_close((uv_handle_t *)&w->hold_timer, NULL);
    w->hold_timer_init = 0;
    if (w->watch_init) uv_close((uv_handle_t *)&w->watch_timer, NULL);
    w->watch_init = w->watch_on = 0;
    if (w->spin_init) {
        uv_close((uv_handle_t *)&w->spin, NULL);
        uv_close((uv_handle_t *)&w->spin_check, NULL);
        w->spin_init = w->spin_on = 0;
    }
}

static void gw_close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Drains and frees a worker with a loop of its own, then its loop. */
static void gw_worker_finish_own_loop(gw_worker *w)
{
    gw_worker_drain(w);
    gw_worker_release(w);
    uv_walk(w->loop, gw_close_walk, NULL);
    uv_run(w->loop, UV_RUN_DEFAULT);
    gw_proxy_free_spares(w);
    if (uv_loop_close(w->loop) != 0) bx_warn("worker %d: loop closed with handles open", w->idx);
}

static void gw_worker_on_stop(uv_async_t *a)
{
    uv_stop(a->loop);
}

static void gw_worker_main(void *arg)
{
    gw_worker *w = arg;
    uv_run(w->loop, UV_RUN_DEFAULT);
    gw_worker_finish_own_loop(w);
}

static int gw_worker_start(gw_worker *w, char *err, size_t errlen)
{
    if (uv_async_init(w->loop, &w->stop, gw_worker_on_stop) != 0 ||
        uv_thread_create(&w->thread, gw_worker_main, w) != 0) {
        snprintf(err, errlen, "cannot start worker %d's thread", w->idx);
        return -1;
    }
    w->thread_on = 1;
    return 0;
}

/* ---------- lifecycle ---------- */

int gw_gateway_init(gw_gateway **out, uv_loop_t *loop, const gw_config *cfg, char *err,
                    size_t errlen)
{
    gw_gateway *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    g->loop = loop;
    g->cfg = *cfg;
    if (g->cfg.workers < 1) g->cfg.workers = 1;
    if (g->cfg.workers > GW_MAX_WORKERS) g->cfg.workers = GW_MAX_WORKERS;
    bx_blockhash_algo algo = BX_BLOCKHASH_XXHASH_CBOR;
    if (cfg->hash_algo && bx_blockhash_algo_parse(cfg->hash_algo, &algo) != 0) {
        snprintf(err, errlen, "unknown prefix hash algorithm '%s'", cfg->hash_algo);
        free(g);
        return -1;
    }
    bx_blockhash_root_algo(algo, cfg->hash_seed, &g->hash_root);
    if (gw_registry_init(&g->reg) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    g->reg_ok = 1;
    g->reg.stale_after = cfg->stale_after > 0 ? cfg->stale_after : 3;
    gw_strategy_cfg sc;
    gw_strategy_cfg_default(&sc);
    sc.block_size = cfg->block_size;
    sc.prefix_max_bytes = (size_t)cfg->prefix_max_bytes;
    if (!(g->hetero = gw_hetero_new())) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    sc.hetero = g->hetero;
    if (gw_router_init(&g->router, &sc, cfg->strategy) != 0) {
        snprintf(err, errlen, "unknown routing strategy '%s'", cfg->strategy);
        goto fail;
    }
    g->router_ok = 1;
    if (gw_config_configure_router(cfg, &g->router, err, errlen) != 0) goto fail;
    if (!(g->http_shared = bx_http_shared_new())) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (gw_load_start(g, err, errlen) != 0) goto fail;
    if (gw_worker_init(g, 0, loop, err, errlen) != 0) goto fail;
    if (g->cfg.keys.n == 0 && !bx_addr_is_loopback(g->cfg.host))
        bx_warn("listening on %s without API keys: whoever reaches port %d may use it "
                "(see docs/security.md)",
                g->cfg.host, g->port);
    if (gw_metrics_listen(g, err, errlen) != 0) goto fail;
    if (gw_gateway_start_signals(g, err, errlen) != 0) goto fail;
    if (gw_gateway_start_kv(g, err, errlen) != 0) goto fail;
    /* every worker set up before any thread runs: a running worker reads
     * the others' metrics (/metrics) and g->nworkers */
    for (int i = 1; i < g->cfg.workers; i++)
        if (gw_worker_init(g, i, NULL, err, errlen) != 0) goto fail;
    for (int i = 1; i < g->cfg.workers; i++)
        if (gw_worker_start(&g->workers[i], err, errlen) != 0) goto fail;
    *out = g;
    return 0;
fail:
    gw_gateway_close(g);
    return -1;
}

void gw_gateway_reopen_logs(gw_gateway *g)
{
    __atomic_add_fetch(&g->alog_gen, 1, __ATOMIC_RELAXED);
}

int gw_gateway_port(const gw_gateway *g)
{
    return g->port;
}

int gw_gateway_metrics_port(const gw_gateway *g)
{
    return g->metrics_port;
}

void gw_gateway_close(gw_gateway *g)
{
    if (!g) return;
    for (int i = 1; i < g->nworkers; i++) {
        gw_worker *w = &g->workers[i];
        if (w->thread_on) {
            uv_async_send(&w->stop);
            uv_thread_join(&w->thread);
        } else {
            gw_worker_finish_own_loop(w); /* set up, never started */
        }
    }
    if (g->metrics_http) bx_http_server_close(g->metrics_http, NULL, NULL);
    g->metrics_http = NULL;
    if (g->nworkers > 0) gw_worker_drain(&g->workers[0]);
    gw_gateway_stop_signals(g);  /* before the client they use goes */
    gw_kvroute_stop(g->kvroute); /* before the router whose index it overlays */
    g->kvroute = NULL;
    if (g->nworkers > 0) gw_worker_release(&g->workers[0]);
    if (g->loadmon_timer_init) uv_close((uv_handle_t *)&g->loadmon_timer, NULL);
    g->loadmon_timer_init = 0;
    uv_run(g->loop, UV_RUN_NOWAIT);
    if (g->nworkers > 0) gw_proxy_free_spares(&g->workers[0]);
    if (g->router_ok) gw_router_close(&g->router);
    gw_hetero_free(g->hetero); /* after the strategies it was lent to */
    if (g->reg_ok) gw_registry_close(&g->reg);
    for (int i = 0; i < g->nworkers; i++)
        gw_metrics_free(g->workers[i].metrics);
    bx_http_shared_free(g->http_shared); /* every worker's server is closed */
    gw_loadmon_free(g->loadmon);         /* after the last call ended */
    free(g);
}
