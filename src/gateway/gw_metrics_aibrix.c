/* gw_metrics_aibrix: see gw_metrics_aibrix.h. */
#include "gateway/gw_metrics_aibrix.h"

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "common/bx_prom.h"
#include "gateway/gw_engine.h"
#include "gateway/gw_scrape.h"

#define GW_AM_SLOTS 8192               /* open addressing, a power of two */
#define GW_AM_SERIES (GW_AM_SLOTS / 2) /* label sets held, at most */
#define GW_AM_LABELS_MAX 1024          /* one rendered label list */

enum {
    GW_AM_SUCCESS,
    GW_AM_FAIL,
    GW_AM_MODEL_INFLIGHT,
    GW_AM_PROMPT_BUCKET,
    GW_AM_COMPLETION_BUCKET,
    GW_AM_INPUT_TOKENS,
    GW_AM_OUTPUT_TOKENS,
    GW_AM_WITH_USAGE,
    GW_AM_TTFT_BUCKET,
    GW_AM_TPOT_BUCKET,
    GW_AM_ROUTING_BUCKET,
    GW_AM_TOTAL_BUCKET,
    GW_AM_N
};

static const struct {
    const char *name, *type, *help;
} gw_am_def[GW_AM_N] = {
    {"gateway_request_model_success_total", "counter",
     "Requests answered in full with a status below 400, by model, status and status code."},
    {"gateway_request_model_fail_total", "counter",
     "Requests that failed, by model, status (the phase) and the status code sent (499: the "
     "client left)."},
    {"gateway_model_in_flight_requests", "gauge", "Requests in the gateway per model."},
    {"gateway_prompt_token_bucket_total", "counter", "Requests counted by prompt token bucket."},
    {"gateway_completion_token_bucket_total", "counter",
     "Requests counted by completion token bucket."},
    {"gateway_input_tokens_total", "counter", "Prompt tokens of the requests with usage."},
    {"gateway_output_tokens_total", "counter", "Completion tokens of the requests with usage."},
    {"gateway_requests_with_usage_total", "counter", "Requests whose answer carried usage."},
    {"gateway_ttft_bucket_total", "counter", "Streamed requests counted by TTFT bucket."},
    {"gateway_tpot_bucket_total", "counter", "Streamed requests counted by TPOT bucket."},
    {"gateway_routing_time_bucket_total", "counter",
     "Routed requests counted by the time spent picking engines."},
    {"gateway_total_time_bucket_total", "counter",
     "Requests answered by an engine counted by total time bucket."},
};

typedef struct gw_am_series {
    uint64_t hash;
    int64_t count;
    int metric;
    char *labels; /* owned; NULL: a free slot */
} gw_am_series;

struct gw_am {
    pthread_mutex_t mu; /* the owner's thread updates, a renderer merges */
    gw_am_series slots[GW_AM_SLOTS];
    int nseries;
    int64_t overflow[GW_AM_N]; /* samples beyond the table, per metric */
    int64_t requests, inflight;
};

/* ---------- buckets (AIBrix's label strings) ---------- */

static const int64_t gw_am_tok_b[] = {256, 512, 1024, 2048, 4096, 8192, 16384, 32768};
static const char *const gw_am_tok_l[] = {"0-256",      "256-512",     "512-1024",
                                          "1024-2048",  "2048-4096",   "4096-8192",
                                          "8192-16384", "16384-32768", "32768+"};
static const int64_t gw_am_ms_b[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};
static const char *const gw_am_ms_l[] = {
    "0-1ms",     "1-2ms",     "2-5ms",      "5-10ms",      "10-20ms",     "20-50ms", "50-100ms",
    "100-200ms", "200-500ms", "500-1000ms", "1000-2000ms", "2000-5000ms", "5000ms+"};
static const int64_t gw_am_tot_b[] = {100, 250, 500, 1000, 5000, 20000, 60000};
static const char *const gw_am_tot_l[] = {"0-100ms",       "100-250ms",   "250-500ms",
                                          "500-1000ms",    "1000-5000ms", "5000-20000ms",
                                          "20000-60000ms", "60000ms+"};

static const char *gw_am_bucket(int64_t v, const int64_t *b, size_t nb, const char *const *l)
{
    size_t i = 0;
    while (i < nb && v >= b[i])
        i++;
    return l[i];
}

#define GW_AM_NB(a) (sizeof(a) / sizeof((a)[0]))

const char *gw_am_token_bucket(int64_t n)
{
    return gw_am_bucket(n, gw_am_tok_b, GW_AM_NB(gw_am_tok_b), gw_am_tok_l);
}

/* whole milliseconds, truncated (Go's Duration.Milliseconds), never below 0 */
static int64_t gw_am_ms(double s)
{
    return s > 0 ? (int64_t)(s * 1000.0) : 0;
}

const char *gw_am_ms_bucket(double seconds)
{
    return gw_am_bucket(gw_am_ms(seconds), gw_am_ms_b, GW_AM_NB(gw_am_ms_b), gw_am_ms_l);
}

const char *gw_am_total_bucket(double seconds)
{
    return gw_am_bucket(gw_am_ms(seconds), gw_am_tot_b, GW_AM_NB(gw_am_tot_b), gw_am_tot_l);
}

/* ---------- the series table ---------- */

gw_am *gw_am_new(void)
{
    gw_am *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void gw_am_free(gw_am *m)
{
    if (!m) return;
    for (int i = 0; i < GW_AM_SLOTS; i++)
        free(m->slots[i].labels);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* The slot of (metric, h), or the free slot where it would go; NULL when
 * the table is full and it is not there. Under m->mu. */
static gw_am_series *gw_am_slot(gw_am *m, int metric, uint64_t h)
{
    for (uint64_t i = 0; i < GW_AM_SLOTS; i++) {
        gw_am_series *s = &m->slots[(h + i) & (GW_AM_SLOTS - 1)];
        if (!s->labels) return s;
        if (s->hash == h && s->metric == metric) return s;
    }
    return NULL;
}

/* Adds n to the series (metric, h), creating it with a copy of labels when
 * new, or to the metric's overflow when the table is full. Under m->mu. */
static void gw_am_add_rendered(gw_am *m, int metric, uint64_t h, const char *labels, int64_t n)
{
    gw_am_series *s = gw_am_slot(m, metric, h);
    if (s && !s->labels) {
        if (m->nseries >= GW_AM_SERIES || !(s->labels = strdup(labels))) s = NULL;
        if (s) {
            s->hash = h;
            s->metric = metric;
            s->count = 0;
            m->nseries++;
        }
    }
    if (s)
        s->count += n;
    else
        m->overflow[metric] += n;
}

/* The key of a label set: its values hashed (names are fixed per metric),
 * so a hit costs a hash and no formatting. NULL values count as "". */
static uint64_t gw_am_key(int metric, const bx_prom_label *l, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL * (uint64_t)(metric + 1);
    for (size_t i = 0; i < n; i++) {
        const char *v = l[i].value ? l[i].value : "";
        h = XXH3_64bits_withSeed(v, strlen(v) + 1, h);
    }
    return h;
}

/* Renders the pairs with a value (an empty value is an absent label). */
static void gw_am_render_labels(char *out, size_t cap, const bx_prom_label *l, size_t n)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && off < cap; i++) {
        if (!l[i].value || !*l[i].value) continue;
        char esc[512];
        bx_prom_escape(esc, sizeof(esc), l[i].value);
        int w = snprintf(out + off, cap - off, "%s%s=\"%s\"", off ? "," : "", l[i].name, esc);
        if (w < 0 || (size_t)w >= cap - off) break; /* truncated: keep what fits whole */
        off += (size_t)w;
    }
    out[off < cap ? off : cap - 1] = '\0';
}

/* Adds n to metric's series of labels l. Under m->mu. */
static uint64_t gw_am_add(gw_am *m, int metric, const bx_prom_label *l, size_t n, int64_t v)
{
    uint64_t h = gw_am_key(metric, l, n);
    gw_am_series *s = gw_am_slot(m, metric, h);
    if (s && s->labels) {
        s->count += v;
        return h;
    }
    char rendered[GW_AM_LABELS_MAX];
    gw_am_render_labels(rendered, sizeof(rendered), l, n);
    gw_am_add_rendered(m, metric, h, rendered, v);
    return h;
}

void gw_am_merge(gw_am *dst, gw_am *src)
{
    pthread_mutex_lock(&src->mu);
    pthread_mutex_lock(&dst->mu);
    for (int i = 0; i < GW_AM_SLOTS; i++) {
        const gw_am_series *s = &src->slots[i];
        if (s->labels) gw_am_add_rendered(dst, s->metric, s->hash, s->labels, s->count);
    }
    for (int k = 0; k < GW_AM_N; k++)
        dst->overflow[k] += src->overflow[k];
    dst->requests += src->requests;
    dst->inflight += src->inflight;
    pthread_mutex_unlock(&dst->mu);
    pthread_mutex_unlock(&src->mu);
}

/* ---------- the request path ---------- */

static const char *gw_am_pod_name(void)
{
    const char *p = getenv("POD_NAME"); /* the gateway's pod, as AIBrix's gateway_pod */
    return p ? p : "";
}

void gw_am_begin(gw_am *m)
{
    pthread_mutex_lock(&m->mu);
    m->requests++;
    m->inflight++;
    pthread_mutex_unlock(&m->mu);
}

uint64_t gw_am_model_begin(gw_am *m, const char *model)
{
    bx_prom_label l[] = {{"model", model}, {"gateway_pod", gw_am_pod_name()}};
    pthread_mutex_lock(&m->mu);
    uint64_t k = gw_am_add(m, GW_AM_MODEL_INFLIGHT, l, 2, 1);
    pthread_mutex_unlock(&m->mu);
    return k;
}

void gw_am_end(gw_am *m, uint64_t model_key, const gw_am_req *r)
{
    const char *gp = gw_am_pod_name();
    char code[16];
    snprintf(code, sizeof(code), "%d", r->status_code);
    /* "-": no model in the request; AIBrix labels it "unknown" */
    const char *model = strcmp(r->model, "-") ? r->model : "unknown";
    bx_prom_label res[] = {{"model", model},      {"lora_adapter", r->lora_adapter},
                           {"status", r->status}, {"status_code", code},
                           {"pod_name", gp},      {"gateway_pod", gp}};
    /* the per-engine counters: AIBrix's pod labels, bucket last */
    bx_prom_label pl[] = {{"model", model},    {"lora_adapter", r->lora_adapter},
                          {"pod", r->pod},     {"engine_type", r->pod ? "vllm" : NULL},
                          {"gateway_pod", gp}, {"bucket", NULL}};
    const size_t npl = sizeof(pl) / sizeof(pl[0]);
    int usage = r->prompt_tokens >= 0 && r->completion_tokens >= 0;
    pthread_mutex_lock(&m->mu);
    m->inflight--;
    if (model_key) {
        gw_am_series *s = gw_am_slot(m, GW_AM_MODEL_INFLIGHT, model_key);
        if (s && s->labels)
            s->count--;
        else
            m->overflow[GW_AM_MODEL_INFLIGHT]--;
    }
    gw_am_add(m, r->success ? GW_AM_SUCCESS : GW_AM_FAIL, res, sizeof(res) / sizeof(res[0]), 1);
    if (usage) {
        pl[npl - 1].value = gw_am_token_bucket(r->prompt_tokens);
        gw_am_add(m, GW_AM_PROMPT_BUCKET, pl, npl, 1);
        pl[npl - 1].value = gw_am_token_bucket(r->completion_tokens);
        gw_am_add(m, GW_AM_COMPLETION_BUCKET, pl, npl, 1);
        gw_am_add(m, GW_AM_INPUT_TOKENS, pl, npl - 1, r->prompt_tokens);
        gw_am_add(m, GW_AM_OUTPUT_TOKENS, pl, npl - 1, r->completion_tokens);
        pl[npl - 1] = (bx_prom_label){"has_usage", "true"};
        gw_am_add(m, GW_AM_WITH_USAGE, pl, npl, 1);
        pl[npl - 1].name = "bucket";
    }
    if (r->stream && usage && r->ttft_s >= 0) {
        pl[npl - 1].value = gw_am_ms_bucket(r->ttft_s);
        gw_am_add(m, GW_AM_TTFT_BUCKET, pl, npl, 1);
        double decode = r->e2e_s - r->ttft_s;
        if (r->completion_tokens > 0 && decode > 0) {
            pl[npl - 1].value = gw_am_ms_bucket(decode / r->completion_tokens);
            gw_am_add(m, GW_AM_TPOT_BUCKET, pl, npl, 1);
        }
    }
    if (r->routing_s >= 0) {
        pl[npl - 1].value = gw_am_ms_bucket(r->routing_s);
        gw_am_add(m, GW_AM_ROUTING_BUCKET, pl, npl, 1);
    }
    if (r->pod && r->success && r->e2e_s >= 0) {
        pl[npl - 1].value = gw_am_total_bucket(r->e2e_s);
        gw_am_add(m, GW_AM_TOTAL_BUCKET, pl, npl, 1);
    }
    pthread_mutex_unlock(&m->mu);
}

/* ---------- rendering ---------- */

static void gw_am_engine_gauges(bx_buf *b, const gw_am_engine *es, int n)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } g[] = {
        {"num_requests_running", "Requests running on the engine (its vllm:num_requests_running).",
         offsetof(gw_am_engine, running)},
        {"num_requests_waiting", "Requests waiting on the engine (vllm:num_requests_waiting).",
         offsetof(gw_am_engine, waiting)},
        {"kv_cache_usage_perc", "The engine's KV-cache usage, 0..1 (vllm:kv_cache_usage_perc).",
         offsetof(gw_am_engine, kv_usage)},
        {"gpu_cache_usage_perc", "The engine's GPU cache usage, 0..1 (vllm:gpu_cache_usage_perc).",
         offsetof(gw_am_engine, gpu_cache_usage)},
        {"avg_prompt_throughput_toks_per_s",
         "Prompt tokens per second on the engine, between the gateway's last two scrapes.",
         offsetof(gw_am_engine, prompt_tps)},
        {"avg_generation_throughput_toks_per_s",
         "Generated tokens per second on the engine, between the gateway's last two scrapes.",
         offsetof(gw_am_engine, gen_tps)},
    };
    const char *gp = gw_am_pod_name();
    for (size_t k = 0; k < sizeof(g) / sizeof(g[0]); k++) {
        int head = 0;
        for (int i = 0; i < n; i++) {
            double v;
            memcpy(&v, (const char *)&es[i] + g[k].off, sizeof(v));
            if (isnan(v)) continue;
            if (!head++) bx_prom_head(b, g[k].name, "gauge", g[k].help);
            bx_prom_label l[] = {{"model", es[i].model},
                                 {"pod", es[i].pod},
                                 {"engine_type", "vllm"},
                                 {"gateway_pod", gp}};
            char rendered[GW_AM_LABELS_MAX];
            gw_am_render_labels(rendered, sizeof(rendered), l, 4);
            bx_prom_value(b, g[k].name, rendered, v);
        }
    }
    static const char *const qn[3] = {"p50", "p90", "p99"};
    for (int h = 0; h < GW_HQ_N; h++) {
        for (int q = 0; q < 3; q++) {
            char name[128];
            snprintf(name, sizeof(name), "%s_%s", gw_scrape_hq_name(h), qn[q]);
            int head = 0;
            for (int i = 0; i < n; i++) {
                if (!es[i].hq || isnan(es[i].hq[h][q])) continue;
                if (!head++)
                    bx_prom_head(b, name, "gauge",
                                 "A quantile of the engine's histogram of the same name (vllm:), "
                                 "since the engine started, from the gateway's last scrape.");
                bx_prom_label l[] = {{"model", es[i].model},
                                     {"pod", es[i].pod},
                                     {"engine_type", "vllm"},
                                     {"gateway_pod", gp}};
                char rendered[GW_AM_LABELS_MAX];
                gw_am_render_labels(rendered, sizeof(rendered), l, 4);
                bx_prom_value(b, name, rendered, es[i].hq[h][q]);
            }
        }
    }
}

int gw_am_render(gw_am *m, const gw_am_engine *engines, int nengines, bx_buf *b)
{
    char gl[GW_AM_LABELS_MAX];
    const char *gp = gw_am_pod_name();
    bx_prom_label l[] = {{"gateway_pod", gp}, {"pod_name", gp}};
    gw_am_render_labels(gl, sizeof(gl), l, 2);
    bx_prom_head(b, "gateway_request_total", "counter",
                 "Requests received by the gateway on its inference paths.");
    bx_prom_value(b, "gateway_request_total", gl, (double)m->requests);
    gw_am_render_labels(gl, sizeof(gl), l, 1);
    bx_prom_head(b, "gateway_in_flight_requests", "gauge", "Requests in the gateway now.");
    bx_prom_value(b, "gateway_in_flight_requests", gl, (double)m->inflight);
    for (int k = 0; k < GW_AM_N; k++) {
        bx_prom_head(b, gw_am_def[k].name, gw_am_def[k].type, gw_am_def[k].help);
        for (int i = 0; i < GW_AM_SLOTS; i++)
            if (m->slots[i].labels && m->slots[i].metric == k)
                bx_prom_value(b, gw_am_def[k].name, m->slots[i].labels, (double)m->slots[i].count);
        if (m->overflow[k])
            bx_prom_value(b, gw_am_def[k].name, "model=\"other\"", (double)m->overflow[k]);
    }
    gw_am_engine_gauges(b, engines, nengines);
    return 0;
}
