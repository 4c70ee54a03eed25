/* eng_metrics: see eng_metrics.h. Histograms are bx_prom_hist (fixed
 * arrays of bucket counts); rendering appends to the caller's buffer with the
 * label set pre-rendered once, so a scrape costs a few microseconds. */
#include "engine/eng_metrics.h"

#include "common/bx_prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EM_MAX_BUCKETS BX_PROM_HIST_MAX
#define EM_MAX_LORA_SERIES 64

enum em_reason { EM_STOP = 0, EM_LENGTH, EM_ABORT, EM_ERROR, EM_NREASONS };
static const char *const em_reason_names[EM_NREASONS] = {"stop", "length", "abort", "error"};

struct lora_series {
    char running[512], waiting[512];
    double ts;
};

struct eng_metrics {
    char labels[320]; /* model_name="...",engine="0" */
    double tok_b[EM_MAX_BUCKETS];
    int tok_n;
    bx_prom_hist ttft, itl, tpot_req, e2e, queue, prefill, decode, inference, iter;
    bx_prom_hist req_prompt, req_gen, req_max_gen, req_max_tokens, req_n;
    uint64_t success[EM_NREASONS];
    int latest_only;
    struct lora_series lora[EM_MAX_LORA_SERIES];
    int nlora;
    eng_metrics_extra_fn extra;
    void *extra_ud;
};

eng_metrics *eng_metrics_new(const char *model_name, int32_t max_model_len,
                             int lora_info_latest_only)
{
    eng_metrics *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    char esc[256];
    bx_prom_escape(esc, sizeof(esc), model_name);
    snprintf(m->labels, sizeof(m->labels), "engine=\"0\",model_name=\"%s\"", esc);
    m->latest_only = lora_info_latest_only;
    /* vLLM's build_1_2_5_buckets(max_model_len) */
    m->tok_n = bx_prom_buckets_125(m->tok_b, EM_MAX_BUCKETS, max_model_len);
    bx_prom_hist_init(&m->ttft, bx_prom_buckets_ttft, BX_PROM_BUCKETS_TTFT_N);
    bx_prom_hist_init(&m->itl, bx_prom_buckets_itl, BX_PROM_BUCKETS_ITL_N);
    bx_prom_hist_init(&m->tpot_req, bx_prom_buckets_itl, BX_PROM_BUCKETS_ITL_N);
    bx_prom_hist *lat[] = {&m->e2e, &m->queue, &m->prefill, &m->decode, &m->inference};
    for (size_t i = 0; i < 5; i++)
        bx_prom_hist_init(lat[i], bx_prom_buckets_latency, BX_PROM_BUCKETS_LATENCY_N);
    bx_prom_hist_init(&m->iter, bx_prom_buckets_iter_tokens, BX_PROM_BUCKETS_ITER_TOKENS_N);
    bx_prom_hist *tok[] = {&m->req_prompt, &m->req_gen, &m->req_max_gen, &m->req_max_tokens};
    for (size_t i = 0; i < 4; i++)
        bx_prom_hist_init(tok[i], m->tok_b, m->tok_n);
    bx_prom_hist_init(&m->req_n, bx_prom_buckets_n, BX_PROM_BUCKETS_N_N);
    return m;
}

void eng_metrics_free(eng_metrics *m)
{
    free(m);
}

const char *eng_metrics_labels(const eng_metrics *m)
{
    return m->labels;
}

void eng_metrics_set_extra(eng_metrics *m, eng_metrics_extra_fn fn, void *ud)
{
    m->extra = fn;
    m->extra_ud = ud;
}

void eng_metrics_ttft(eng_metrics *m, double s)
{
    bx_prom_hist_observe(&m->ttft, s);
}

void eng_metrics_itl(eng_metrics *m, double s)
{
    bx_prom_hist_observe(&m->itl, s);
}

void eng_metrics_iteration(eng_metrics *m, int64_t tokens)
{
    bx_prom_hist_observe(&m->iter, (double)tokens);
}

void eng_metrics_finished(eng_metrics *m, const eng_metrics_finish *f)
{
    int r = EM_ERROR;
    for (int i = 0; i < EM_NREASONS; i++)
        if (!strcmp(f->reason, em_reason_names[i])) r = i;
    m->success[r]++;
    bx_prom_hist_observe(&m->e2e, f->e2e_s);
    bx_prom_hist_observe(&m->queue, f->queue_s);
    bx_prom_hist_observe(&m->req_prompt, f->prompt_tokens);
    bx_prom_hist_observe(&m->req_gen, f->generation_tokens);
    bx_prom_hist_observe(&m->req_max_gen, f->generation_tokens);
    bx_prom_hist_observe(&m->req_n, 1);
    if (f->max_tokens_param > 0) bx_prom_hist_observe(&m->req_max_tokens, f->max_tokens_param);
    if (f->produced) {
        bx_prom_hist_observe(&m->prefill, f->prefill_s);
        bx_prom_hist_observe(&m->decode, f->decode_s);
        bx_prom_hist_observe(&m->inference, f->inference_s);
        if (f->generation_tokens > 1) bx_prom_hist_observe(&m->tpot_req, f->tpot_s);
    }
}

static void em_hist_write(bx_buf *b, const eng_metrics *m, const char *name, const char *help,
                          const bx_prom_hist *h)
{
    bx_prom_head(b, name, "histogram", help);
    bx_prom_hist_write(b, name, m->labels, h);
}

static void em_gauge(bx_buf *b, const eng_metrics *m, const char *name, const char *help, double v)
{
    bx_prom_head(b, name, "gauge", help);
    bx_prom_value(b, name, m->labels, v);
}

static void em_counter(bx_buf *b, const eng_metrics *m, const char *name, const char *help,
                       double v)
{
    char full[128];
    snprintf(full, sizeof(full), "%s_total", name);
    bx_prom_head(b, full, "counter", help);
    bx_prom_value(b, full, m->labels, v);
}

/* vLLM sets lora_requests_info to the update time for each distinct label
 * set and never removes old series; the newest is the current state. */
static void em_lora_info(bx_buf *b, eng_metrics *m, const eng_metrics_state *st)
{
    struct lora_series *cur = NULL;
    for (int i = 0; i < m->nlora; i++)
        if (!strcmp(m->lora[i].running, st->running_loras) &&
            !strcmp(m->lora[i].waiting, st->waiting_loras))
            cur = &m->lora[i];
    if (!cur) {
        if (m->nlora == EM_MAX_LORA_SERIES) { /* drop the oldest */
            memmove(&m->lora[0], &m->lora[1], sizeof(m->lora[0]) * (EM_MAX_LORA_SERIES - 1));
            m->nlora--;
        }
        cur = &m->lora[m->nlora++];
        snprintf(cur->running, sizeof(cur->running), "%s", st->running_loras);
        snprintf(cur->waiting, sizeof(cur->waiting), "%s", st->waiting_loras);
    }
    cur->ts = st->now_unix;
    bx_prom_head(b, "vllm:lora_requests_info", "gauge", "Running stats on lora requests.");
    for (int i = 0; i < m->nlora; i++) {
        if (m->latest_only && &m->lora[i] != cur) continue;
        char r[1024], w[1024], v[40];
        bx_prom_escape(r, sizeof(r), m->lora[i].running);
        bx_prom_escape(w, sizeof(w), m->lora[i].waiting);
        bx_prom_fmt_num(v, sizeof(v), m->lora[i].ts);
        bx_buf_printf(b,
                      "vllm:lora_requests_info{max_lora=\"%d\",running_lora_adapters=\"%s\","
                      "waiting_lora_adapters=\"%s\"} %s\n",
                      st->max_lora, r, w, v);
    }
}

/* The replica's price, labelled with its profile (the GPU type). */
static void em_price(bx_buf *b, const eng_metrics *m, const eng_metrics_state *st)
{
    char prof[128];
    bx_prom_escape(prof, sizeof(prof), st->profile);
    bx_prom_head(b, "brix:engine_price_per_hour", "gauge",
                 "Dollars per replica-hour of this engine's GPU type (--price-per-hour, else the "
                 "profile's on-demand price).");
    bx_buf_printf(b, "brix:engine_price_per_hour{%s,profile=\"%s\"} %.10g\n", m->labels, prof,
                  st->price_per_hour);
}

int eng_metrics_render(eng_metrics *m, const eng_metrics_state *st, bx_buf *b)
{
    size_t start = b->len;
    em_gauge(b, m, "vllm:num_requests_running", "Number of requests in model execution batches.",
             st->running);
    em_gauge(b, m, "vllm:num_requests_waiting", "Number of requests waiting to be processed.",
             st->waiting);
    em_gauge(b, m, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.",
             st->kv_usage);
    em_gauge(b, m, "vllm:gpu_cache_usage_perc",
             "GPU KV-cache usage. 1 means 100 percent usage (deprecated name).", st->kv_usage);
    em_gauge(b, m, "vllm:num_requests_swapped",
             "Number of requests swapped to CPU (always 0 in V1).", 0);
    em_gauge(b, m, "vllm:avg_prompt_throughput_toks_per_s",
             "Average prefill throughput in tokens/s over the last 10 s (V0 name).",
             st->prompt_tps);
    em_gauge(b, m, "vllm:avg_generation_throughput_toks_per_s",
             "Average generation throughput in tokens/s over the last 10 s (V0 name).",
             st->generation_tps);
    bx_prom_head(b, "vllm:engine_sleep_state", "gauge",
                 "Engine sleep state; awake = 0 means awake.");
    bx_buf_printf(b, "vllm:engine_sleep_state{%s,sleep_state=\"awake\"} %d\n", m->labels,
                  st->sleeping ? 0 : 1);
    bx_prom_head(b, "vllm:cache_config_info", "gauge", "Information of the LLMEngine CacheConfig.");
    bx_buf_printf(b,
                  "vllm:cache_config_info{block_size=\"%d\",cache_dtype=\"auto\",enable_prefix_"
                  "caching=\"True\",engine=\"0\",num_gpu_blocks=\"%d\"} 1.0\n",
                  st->block_size, st->num_gpu_blocks);
    em_counter(b, m, "vllm:prefix_cache_queries",
               "Prefix cache queries, in terms of number of queried tokens.",
               (double)st->prefix_queries);
    em_counter(b, m, "vllm:prefix_cache_hits",
               "Prefix cache hits, in terms of number of cached tokens.", (double)st->prefix_hits);
    em_counter(b, m, "vllm:num_preemptions", "Cumulative number of preemption from the engine.",
               (double)st->preemptions);
    em_counter(b, m, "vllm:prompt_tokens", "Number of prefill tokens processed.",
               (double)st->prompt_tokens);
    em_counter(b, m, "vllm:generation_tokens", "Number of generation tokens processed.",
               (double)st->generation_tokens);
    bx_prom_head(b, "vllm:request_success_total", "counter",
                 "Count of successfully processed requests.");
    for (int i = 0; i < EM_NREASONS; i++)
        bx_buf_printf(b, "vllm:request_success_total{%s,finished_reason=\"%s\"} %llu\n", m->labels,
                      em_reason_names[i], (unsigned long long)m->success[i]);
    if (st->lora_enabled) em_lora_info(b, m, st);
    if (st->profile) em_price(b, m, st);
    em_hist_write(b, m, "vllm:iteration_tokens_total",
                  "Histogram of number of tokens per engine_step.", &m->iter);
    em_hist_write(b, m, "vllm:time_to_first_token_seconds",
                  "Histogram of time to first token in seconds.", &m->ttft);
    em_hist_write(b, m, "vllm:inter_token_latency_seconds",
                  "Histogram of inter-token latency in seconds.", &m->itl);
    em_hist_write(b, m, "vllm:time_per_output_token_seconds",
                  "Histogram of time per output token in seconds (deprecated name).", &m->itl);
    em_hist_write(b, m, "vllm:request_time_per_output_token_seconds",
                  "Histogram of time_per_output_token_seconds per request.", &m->tpot_req);
    em_hist_write(b, m, "vllm:e2e_request_latency_seconds",
                  "Histogram of e2e request latency in seconds.", &m->e2e);
    em_hist_write(b, m, "vllm:request_queue_time_seconds",
                  "Histogram of time spent in WAITING phase for request.", &m->queue);
    em_hist_write(b, m, "vllm:request_inference_time_seconds",
                  "Histogram of time spent in RUNNING phase for request.", &m->inference);
    em_hist_write(b, m, "vllm:request_prefill_time_seconds",
                  "Histogram of time spent in PREFILL phase for request.", &m->prefill);
    em_hist_write(b, m, "vllm:request_decode_time_seconds",
                  "Histogram of time spent in DECODE phase for request.", &m->decode);
    em_hist_write(b, m, "vllm:request_prompt_tokens", "Number of prefill tokens processed.",
                  &m->req_prompt);
    em_hist_write(b, m, "vllm:request_generation_tokens", "Number of generation tokens processed.",
                  &m->req_gen);
    em_hist_write(b, m, "vllm:request_max_num_generation_tokens",
                  "Histogram of maximum number of requested generation tokens.", &m->req_max_gen);
    em_hist_write(b, m, "vllm:request_params_max_tokens",
                  "Histogram of the max_tokens request parameter.", &m->req_max_tokens);
    em_hist_write(b, m, "vllm:request_params_n", "Histogram of the n request parameter.",
                  &m->req_n);
    if (m->extra && m->extra(b, m->labels, m->extra_ud) != 0) return -1;
    return b->data && b->len > start ? 0 : -1;
}
