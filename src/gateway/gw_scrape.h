/* gw_scrape: the engine metrics scraper. Owns the metric fields of every
 * gw_engine in a registry (running, waiting, cache usage, token rates,
 * histogram means) and their scrape health (missed_scrapes, last_scrape_ms).
 *
 * Every interval it GETs /metrics from each engine not gone, all at once,
 * at most one request in flight per engine (an engine whose previous scrape
 * is still running is skipped this round). Bodies land in a per-engine
 * buffer that is reused across scrapes; a body over max_body_bytes fails the
 * scrape (so the buffer stays under twice that); bodies are parsed with
 * bx_prom_parse under limits.
 *
 * What is read (vLLM names; SGLang's as AIBrix maps them):
 *   running   vllm:num_requests_running | sglang:num_running_reqs   (sum)
 *   waiting   vllm:num_requests_waiting | sglang:num_queue_reqs     (sum)
 *   kv_usage  vllm:kv_cache_usage_perc | sglang:token_usage         (mean)
 *   gpu_cache_usage vllm:gpu_cache_usage_perc | sglang:token_usage  (mean)
 *   cpu_cache_usage vllm:cpu_cache_usage_perc                       (mean)
 *   busy_ratio gpu_busy_time_ratio (vllm: prefix optional)          (mean)
 *   prompt_tps / gen_tps: rate of vllm:prompt_tokens_total /
 *     generation_tokens_total (sglang: the same names) between this scrape
 *     and the previous good one; a counter that went down (engine restart)
 *     counts from zero, as Prometheus' rate() does. NaN on the first scrape.
 *   avg_prompt_per_req / avg_gen_per_req: cumulative sum / count of the
 *     request_prompt_tokens / request_generation_tokens histograms.
 *   queue / prefill / decode / ttft means: of request_queue_time_seconds,
 *     request_prefill_time_seconds, request_decode_time_seconds,
 *     time_to_first_token_seconds. When the count grew since the previous
 *     scrape, the mean of just the new observations (delta sum / delta
 *     count: recent latency, not the lifetime's); when it did not, the last
 *     such windowed mean is kept; before any window, the cumulative mean.
 *   hq: p50, p90, p99 of the vllm: histograms gw_scrape_hq_name lists,
 *     from their cumulative buckets (since the engine started), as AIBrix's
 *     gateway re-exports them (NAME_p50 ...; gw_metrics_aibrix.c).
 * kv_usage and gpu_cache_usage measure the same thing (share of GPU KV
 * blocks in use); vLLM renamed the gauge, so when only one is exported it
 * fills both (AIBrix reads them separately, and least-gpu-cache then never
 * scores on a current vLLM: a bug we do not copy).
 *
 * Series are selected by label model_name = e->model when some series
 * carries it; otherwise (no label, or the model unknown yet) all series of a
 * name are summed (or averaged, as above). A metric an engine does not
 * export stays NaN.
 *
 * Reachability: down_after scrapes in a row that get no answer at all
 * (timeout, refused, reset) mark the engine unreachable and declare it down
 * (gw_registry_note_down: no new requests, its answers in flight end); any
 * answer clears it. This is the gateway's quick down signal for an engine
 * that accepts connections but answers nothing (stopped, wedged).
 *
 * After the registry's stale_after consecutive failed scrapes the engine's
 * metrics are cleared to NaN (gw_engine_clear_metrics), so strategies fall
 * back, and rates start over.
 *
 * Lifecycle as libuv's: init, start, stop, close, on the caller's loop.
 * Ownership: the gw_scrape is allocated by init and freed after close once
 * its requests and handles are done (cb runs then); registry and loop are
 * the caller's and must outlive it. */
#ifndef GW_SCRAPE_H
#define GW_SCRAPE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/bx_http.h"
#include "common/bx_prom_parse.h"
#include "gateway/gw_engine.h"

typedef struct gw_scrape gw_scrape; /* opaque */

typedef struct gw_scrape_opts {
    uint64_t interval_ms;  /* default 1000 */
    uint64_t timeout_ms;   /* per scrape; default 3000 */
    int down_after;        /* unanswered scrapes in a row: unreachable; default 2, 0 = never */
    size_t max_body_bytes; /* default 4 MiB */
    const char *path;      /* default "/metrics" (copied) */
    bx_prom_limits limits; /* parse limits; zeroed: bx_prom defaults, max_bytes = body limit */
} gw_scrape_opts;

void gw_scrape_opts_default(gw_scrape_opts *o);

/* Raw values read from one exposition (NaN = absent): pure, no state. */
typedef struct gw_scrape_sample {
    double running, waiting, kv_usage, gpu_cache_usage, cpu_cache_usage, busy_ratio;
    double prompt_total, gen_total;                      /* counters */
    double prompt_sum, prompt_count, gen_sum, gen_count; /* token histograms */
    double queue_sum, queue_count, prefill_sum, prefill_count;
    double decode_sum, decode_count, ttft_sum, ttft_count;
    double hq[GW_HQ_N][3]; /* p50, p90, p99 of the histograms gw_scrape_hq_name names */
} gw_scrape_sample;

/* The name, without "vllm:", of the i-th histogram whose quantiles the
 * scraper keeps (i < GW_HQ_N): AIBrix's names for them. */
const char *gw_scrape_hq_name(int i);
/* The q-quantile (0..1) of cumulative buckets, interpolated linearly
 * within the bucket it falls in (as Prometheus's histogram_quantile);
 * NaN when the histogram is empty. */
double gw_scrape_quantile(const bx_prom_hist_view *h, double q);

/* Reads the metrics above for model (NULL or "": all series) from doc. */
void gw_scrape_extract(const bx_prom_doc *doc, const char *model, gw_scrape_sample *out);

/* client may be NULL (then the scraper makes and owns one); opts NULL:
 * defaults. Returns 0, or -1 with a message in err. */
int gw_scrape_init(gw_scrape **out, uv_loop_t *loop, gw_registry *reg, bx_http_client *client,
                   const gw_scrape_opts *opts, char *err, size_t errlen);
/* First round at once, then every interval. */
int gw_scrape_start(gw_scrape *s);
/* Stops the timer and cancels scrapes in flight. */
void gw_scrape_stop(gw_scrape *s);
void gw_scrape_close(gw_scrape *s, void (*cb)(void *ud), void *ud);

typedef struct gw_scrape_stats {
    uint64_t rounds;  /* timer ticks */
    uint64_t ok;      /* good scrapes (all engines) */
    uint64_t failed;  /* failed scrapes */
    uint64_t skipped; /* engine skipped: previous scrape still running */
} gw_scrape_stats;

void gw_scrape_get_stats(const gw_scrape *s, gw_scrape_stats *out);

#endif
