/* eng_metrics: the engine's Prometheus metrics with vLLM's names, labels and
 * buckets (docs/engine.md): histograms observed as requests progress,
 * counters and gauges read from the scheduler at render time.
 *
 * Every series carries model_name (the served name) and engine="0", except
 * vllm:lora_requests_info, which has only its own labels as in vLLM. The
 * deprecated names AIBrix still reads (gpu_cache_usage_perc,
 * time_per_output_token_seconds, avg_*_throughput_toks_per_s) are emitted
 * too. brix:engine_price_per_hour{profile} carries the replica's price
 * (--price-per-hour or the profile's), for the optimizer and brix bench
 * profile. Rendering appends to a caller-owned bx_buf. */
#ifndef ENG_METRICS_H
#define ENG_METRICS_H

#include <stdint.h>

#include "common/bx_buf.h"

typedef struct eng_metrics eng_metrics; /* opaque, owned by its creator */

typedef struct eng_metrics_finish {
    const char *reason; /* stop, length, abort, error */
    int produced;       /* at least one token was generated */
    double queue_s, prefill_s, decode_s, inference_s, e2e_s, tpot_s;
    int32_t prompt_tokens, generation_tokens;
    int32_t max_tokens_param; /* <= 0: not given */
} eng_metrics_finish;

typedef struct eng_metrics_state {
    int32_t running, waiting;
    double kv_usage; /* 0..1 */
    uint64_t prompt_tokens, generation_tokens, preemptions;
    uint64_t prefix_queries, prefix_hits;
    int lora_enabled;
    int32_t max_lora;
    const char *running_loras, *waiting_loras; /* comma-joined names */
    double now_unix;
    int32_t block_size, num_gpu_blocks;
    double prompt_tps, generation_tps; /* 10 s moving rates */
    int sleeping;
    const char *profile;   /* NULL: no brix:engine_price_per_hour */
    double price_per_hour; /* $ per replica-hour of this engine's GPU type */
} eng_metrics_state;

/* Appends more families at the end of each render (e.g. eng_offload's),
 * labels being the engine's model_name/engine pair. 0 or -1. */
typedef int (*eng_metrics_extra_fn)(bx_buf *b, const char *labels, void *ud);

eng_metrics *eng_metrics_new(const char *model_name, int32_t max_model_len,
                             int lora_info_latest_only);
void eng_metrics_free(eng_metrics *m);
/* The model_name/engine label pair every series carries (owned by m). */
const char *eng_metrics_labels(const eng_metrics *m);
/* Installs (fn NULL: removes) the extra renderer; ud stays the caller's. */
void eng_metrics_set_extra(eng_metrics *m, eng_metrics_extra_fn fn, void *ud);
void eng_metrics_ttft(eng_metrics *m, double s);
void eng_metrics_itl(eng_metrics *m, double s);
void eng_metrics_iteration(eng_metrics *m, int64_t tokens);
void eng_metrics_finished(eng_metrics *m, const eng_metrics_finish *f);
int eng_metrics_render(eng_metrics *m, const eng_metrics_state *st, bx_buf *out);

#endif
