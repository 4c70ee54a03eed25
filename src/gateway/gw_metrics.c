/* gw_metrics: see gw_metrics.h. */
#include "gateway/gw_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "common/bx_prom.h"
#include "gateway/gw_gateway_int.h"
#include "gateway/gw_metrics_aibrix.h"

#define GW_M_SERIES 1024

typedef struct gw_series {
    char labels[640]; /* rendered once, when the series is created */
    uint64_t hash;    /* of the raw label values, to find the series */
    uint64_t count;
} gw_series;

struct gw_metrics {
    pthread_mutex_t mu; /* the owner's thread updates, a renderer merges */
    gw_series series[GW_M_SERIES];
    int nseries;
    uint64_t other;
    bx_prom_hist ttft, decision;
    uint64_t ended_down, ended_silence; /* answers cut: engine declared down, silence */
    gw_am *am; /* the same requests under AIBrix's names (gw_metrics_aibrix.c) */
};

/* 10 us x 2^k, 15 buckets (AIBrix's routing-latency buckets) */
static const double gw_decision_b[] = {1e-5,     2e-5,     4e-5,     8e-5,     1.6e-4,
                                       3.2e-4,   6.4e-4,   1.28e-3,  2.56e-3,  5.12e-3,
                                       1.024e-2, 2.048e-2, 4.096e-2, 8.192e-2, 0.16384};

gw_metrics *gw_metrics_new(void)
{
    gw_metrics *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    if (!(m->am = gw_am_new())) {
        free(m);
        return NULL;
    }
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        gw_am_free(m->am);
        free(m);
        return NULL;
    }
    bx_prom_hist_init(&m->ttft, bx_prom_buckets_ttft, BX_PROM_BUCKETS_TTFT_N);
    bx_prom_hist_init(&m->decision, gw_decision_b, 15);
    return m;
}

void gw_metrics_free(gw_metrics *m)
{
    if (!m) return;
    gw_am_free(m->am);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* The series key: the raw values hashed, so a request costs one hash and
 * no formatting (labels are rendered once, for a new series). Two label
 * sets with one 64-bit hash would share a series: odds about n^2 / 2^65. */
static uint64_t gw_metrics_key(const char *model, const char *strategy, const char *engine,
                               int status)
{
    uint64_t h = XXH3_64bits_withSeed(model, strlen(model), (uint64_t)status);
    h = XXH3_64bits_withSeed(strategy, strlen(strategy), h);
    return XXH3_64bits_withSeed(engine, strlen(engine), h ^ 0x9e3779b97f4a7c15ULL);
}

/* Adds n to the series of hash h, creating it with labels l (rendered by
 * the caller, or copied from another set) when new. Under m->mu. */
static void gw_metrics_add(gw_metrics *m, uint64_t h, const char *l, uint64_t n)
{
    for (int i = 0; i < m->nseries; i++) {
        if (m->series[i].hash == h) {
            m->series[i].count += n;
            return;
        }
    }
    if (m->nseries == GW_M_SERIES) {
        m->other += n;
        return;
    }
    m->series[m->nseries].hash = h;
    snprintf(m->series[m->nseries].labels, sizeof(m->series[0].labels), "%s", l);
    m->series[m->nseries++].count = n;
}

static void gw_metrics_count(gw_metrics *m, const char *model, const char *strategy,
                             const char *engine, int status)
{
    model = model ? model : "-";
    strategy = strategy ? strategy : "-";
    engine = engine ? engine : "-";
    uint64_t h = gw_metrics_key(model, strategy, engine, status);
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->nseries; i++) {
        if (m->series[i].hash == h) {
            m->series[i].count++;
            pthread_mutex_unlock(&m->mu);
            return;
        }
    }
    pthread_mutex_unlock(&m->mu);
    char em[256], es[64], ee[GW_NAME_MAX * 2], l[sizeof(em) + sizeof(es) + sizeof(ee) + 64];
    bx_prom_escape(em, sizeof(em), model);
    bx_prom_escape(es, sizeof(es), strategy);
    bx_prom_escape(ee, sizeof(ee), engine);
    snprintf(l, sizeof(l), "model=\"%s\",strategy=\"%s\",engine=\"%s\",status=\"%d\"", em, es, ee,
             status);
    pthread_mutex_lock(&m->mu);
    gw_metrics_add(m, h, l, 1);
    pthread_mutex_unlock(&m->mu);
}

static void gw_metrics_ttft(gw_metrics *m, double s)
{
    pthread_mutex_lock(&m->mu);
    bx_prom_hist_observe(&m->ttft, s);
    pthread_mutex_unlock(&m->mu);
}

static void gw_metrics_decision_time(gw_metrics *m, double s)
{
    pthread_mutex_lock(&m->mu);
    bx_prom_hist_observe(&m->decision, s);
    pthread_mutex_unlock(&m->mu);
}

static void gw_hist_add(bx_prom_hist *dst, const bx_prom_hist *src)
{
    for (int i = 0; i < dst->n && i < src->n; i++)
        dst->counts[i] += src->counts[i];
    dst->count += src->count;
    dst->sum += src->sum;
}

void gw_metrics_merge(gw_metrics *dst, gw_metrics *src)
{
    pthread_mutex_lock(&src->mu);
    pthread_mutex_lock(&dst->mu);
    for (int i = 0; i < src->nseries; i++)
        gw_metrics_add(dst, src->series[i].hash, src->series[i].labels, src->series[i].count);
    dst->other += src->other;
    gw_hist_add(&dst->ttft, &src->ttft);
    gw_hist_add(&dst->decision, &src->decision);
    dst->ended_down += src->ended_down;
    dst->ended_silence += src->ended_silence;
    pthread_mutex_unlock(&dst->mu);
    pthread_mutex_unlock(&src->mu);
    gw_am_merge(dst->am, src->am);
}

static void gw_m_counter(bx_buf *b, const char *name, const char *help, double v)
{
    bx_prom_head(b, name, "counter", help);
    bx_prom_value(b, name, "", v);
}

int gw_metrics_render(gw_metrics *m, const gw_metrics_view *v, bx_buf *b)
{
    bx_prom_head(b, "brix_gateway_requests_total", "counter",
                 "Requests answered, by model, deciding strategy, engine and status.");
    for (int i = 0; i < m->nseries; i++)
        bx_prom_value(b, "brix_gateway_requests_total", m->series[i].labels,
                      (double)m->series[i].count);
    if (m->other)
        bx_prom_value(b, "brix_gateway_requests_total",
                      "model=\"other\",strategy=\"other\",engine=\"other\",status=\"other\"",
                      (double)m->other);
    bx_prom_head(b, "brix_gateway_routing_decision_seconds", "histogram",
                 "Time to pick an engine, strategy and fallbacks included.");
    bx_prom_hist_write(b, "brix_gateway_routing_decision_seconds", "", &m->decision);
    bx_prom_head(b, "brix_gateway_upstream_ttft_seconds", "histogram",
                 "Time from the request to the engine's first response byte.");
    bx_prom_hist_write(b, "brix_gateway_upstream_ttft_seconds", "", &m->ttft);
    gw_m_counter(b, "brix_gateway_retries_total", "Requests retried on another engine.",
                 (double)v->retries);
    gw_m_counter(b, "brix_gateway_stream_migrations_total",
                 "Streams continued on another engine after theirs died or stalled mid-answer.",
                 (double)v->migrations);
    gw_m_counter(b, "brix_gateway_breaker_opens_total", "Times an engine's circuit breaker opened.",
                 (double)v->breaker_opens);
    bx_prom_head(b, "brix_gateway_ratelimit_rejections_total", "counter",
                 "Requests rejected by per-user limits.");
    bx_prom_value(b, "brix_gateway_ratelimit_rejections_total", "limit=\"rpm\"",
                  (double)v->rl_rejected_rpm);
    bx_prom_value(b, "brix_gateway_ratelimit_rejections_total", "limit=\"tpm\"",
                  (double)v->rl_rejected_tpm);
    gw_m_counter(b, "brix_gateway_ratelimit_errors_total",
                 "Rate-limit checks that Redis failed (fail-open and fail-closed answers).",
                 (double)v->rl_errors);
    gw_m_counter(b, "brix_gateway_ratelimit_fail_open_total",
                 "Requests admitted without a rate-limit check: Redis unavailable (or a user "
                 "record unreadable) and the gateway fails open.",
                 (double)v->rl_fail_open);
    gw_m_counter(b, "brix_gateway_ratelimit_fail_closed_total",
                 "Requests answered 503 because Redis was unavailable (--ratelimit-fail-closed).",
                 (double)v->rl_fail_closed);
    if (v->have_redis) {
        bx_prom_head(b, "brix_gateway_redis_up", "gauge",
                     "1 when every worker's rate limiter has Redis up (a PING answered), else 0.");
        bx_prom_value(b, "brix_gateway_redis_up", "", v->redis_up ? 1.0 : 0.0);
    }
    gw_m_counter(b, "brix_gateway_routing_fallbacks_total",
                 "Picks where a strategy declined and its fallback decided.",
                 (double)v->router_fallbacks);
    bx_prom_head(b, "brix_gateway_strategy_memory_bytes", "gauge",
                 "Memory held by routing strategies (prefix index, fairness counters).");
    bx_prom_value(b, "brix_gateway_strategy_memory_bytes", "", (double)v->strategy_mem_bytes);
    bx_http_stats_prom(b, "brix_gateway", &v->http);
    if (v->have_prefix) {
        bx_prom_head(b, "brix_gateway_prefix_index_entries", "gauge",
                     "(block, engine) pairs held by the prefix index.");
        bx_prom_value(b, "brix_gateway_prefix_index_entries", "", (double)v->prefix_entries);
        bx_prom_head(b, "brix_gateway_prefix_index_capacity", "gauge",
                     "Most pairs the prefix index can hold (its byte bound).");
        bx_prom_value(b, "brix_gateway_prefix_index_capacity", "", (double)v->prefix_capacity);
        bx_prom_head(b, "brix_gateway_prefix_index_bytes", "gauge",
                     "Memory reserved by the prefix index.");
        bx_prom_value(b, "brix_gateway_prefix_index_bytes", "", (double)v->prefix_bytes);
        gw_m_counter(b, "brix_gateway_prefix_index_evictions_total",
                     "Pairs evicted from the prefix index for room.", (double)v->prefix_evictions);
    }
    bx_prom_head(b, "brix_gateway_streams_ended_total", "counter",
                 "Answers in flight the gateway ended: engine declared down, or silent past the "
                 "stream's bound.");
    bx_prom_value(b, "brix_gateway_streams_ended_total", "reason=\"engine_down\"",
                  (double)m->ended_down);
    bx_prom_value(b, "brix_gateway_streams_ended_total", "reason=\"silence\"",
                  (double)m->ended_silence);
    static const struct {
        const char *name, *help;
    } gauges[] = {
        {"brix_gateway_engine_inflight", "Requests in flight per engine."},
        {"brix_gateway_engine_breaker_state",
         "Circuit breaker per engine: 0 closed, 1 open, 2 half-open."},
        {"brix_gateway_engine_ready", "1 when an engine can take requests."},
    };
    for (int k = 0; k < 3; k++) {
        bx_prom_head(b, gauges[k].name, "gauge", gauges[k].help);
        for (int i = 0; i < v->nengines; i++) {
            const gw_metrics_engine *e = &v->engines[i];
            char l[GW_NAME_MAX * 2 + 16], esc[GW_NAME_MAX * 2];
            bx_prom_escape(esc, sizeof(esc), e->addr);
            snprintf(l, sizeof(l), "engine=\"%s\"", esc);
            double val = k == 0 ? e->inflight : k == 1 ? e->breaker : e->ready;
            bx_prom_value(b, gauges[k].name, l, val);
        }
    }
    gw_am_engine *ae = calloc((size_t)v->nengines + 1, sizeof(*ae));
    if (!ae) return -1;
    int na = 0;
    for (int i = 0; i < v->nengines; i++) {
        const gw_metrics_engine *e = &v->engines[i];
        if (e->gone) continue;
        ae[na++] = (gw_am_engine){.pod = e->addr,
                                  .model = e->model,
                                  .running = e->running,
                                  .waiting = e->waiting,
                                  .kv_usage = e->kv_usage,
                                  .gpu_cache_usage = e->gpu_cache_usage,
                                  .prompt_tps = e->prompt_tps,
                                  .gen_tps = e->gen_tps,
                                  .hq = e->hq};
    }
    gw_am_render(m->am, ae, na, b);
    free(ae);
    return 0;
}

void gw_metrics_call_begin(gw_worker *w)
{
    gw_am_begin(w->metrics->am);
}

uint64_t gw_metrics_model_begin(gw_worker *w, const char *model)
{
    return gw_am_model_begin(w->metrics->am, model);
}

void gw_metrics_request_end(gw_worker *w, const char *strategy, uint64_t model_key,
                            const gw_am_req *r)
{
    /* brix's series: the name the request gave (the adapter's, for one) */
    gw_metrics_count(w->metrics, r->lora_adapter ? r->lora_adapter : r->model, strategy,
                     r->pod ? r->pod : "-", r->status_code);
    if (r->ttft_s >= 0) gw_metrics_ttft(w->metrics, r->ttft_s);
    gw_am_end(w->metrics->am, model_key, r);
}

void gw_metrics_decision(gw_worker *w, double seconds)
{
    gw_metrics_decision_time(w->metrics, seconds);
}

void gw_metrics_stream_ended(gw_worker *w, int reason)
{
    pthread_mutex_lock(&w->metrics->mu);
    if (reason == GW_END_ENGINE_DOWN)
        w->metrics->ended_down++;
    else
        w->metrics->ended_silence++;
    pthread_mutex_unlock(&w->metrics->mu);
}
