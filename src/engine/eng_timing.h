/* eng_timing: how long one engine step takes, from what it computes.
 *
 * A roofline fitted to published vLLM figures (docs/engine.md has the
 * table and sources):
 *   t = t_fixed + n_seqs * t_seq
 *       + max((W + KV_read) / BW_eff, 2 * P * N_tok / FLOPS_eff)
 *       + 4 * L * d * sum(chunk * ctx) / FLOPS_eff            (prefill attention)
 *       + lora_swaps * t_lora_swap
 *       + load_s                                              (KV offload loads)
 * W: weight bytes per GPU, KV_read: context tokens read by decodes times KV
 * bytes per token, N_tok: tokens computed in the step, P: parameters per GPU.
 * Profiles are a const table; eng_timing_find looks one up by name. Pure. */
#ifndef ENG_TIMING_H
#define ENG_TIMING_H

#include <stddef.h>
#include <stdint.h>

typedef struct eng_profile {
    const char *name;
    const char *desc;
    double t_fixed_s;          /* scheduler, sampling, launch per step */
    double t_seq_s;            /* per sequence in the batch */
    double weight_bytes;       /* per GPU */
    double kv_bytes_per_token; /* per GPU */
    double bw_eff;             /* bytes/s */
    double flops_eff;          /* FLOP/s */
    double params;             /* per GPU */
    double layers, hidden;
    double api_overhead_s;          /* frontend: HTTP, tokenization, detokenization */
    double lora_swap_s;             /* CPU -> GPU slot */
    double lora_load_s;             /* disk -> CPU */
    int32_t max_num_batched_tokens; /* vLLM's defaults for the GPU */
    int32_t max_num_seqs;
    int32_t num_gpu_blocks; /* at block size 16, gpu_memory_utilization 0.9 */
    int32_t max_model_len;
    const char *dtype; /* KV cache dtype (the offload namespace's) */
} eng_profile;

/* What one step computes. */
typedef struct eng_step_work {
    int64_t tokens;      /* all tokens scheduled (prefill chunks + decodes) */
    int64_t decode_ctx;  /* sum of context lengths of decoding sequences */
    double prefill_attn; /* sum over prefill chunks of chunk * context */
    int32_t seqs;        /* sequences in the batch */
    int32_t lora_swaps;  /* adapters moved into GPU slots for this step */
    int32_t lora_loads;  /* adapters loaded from disk for this step */
    double load_s;       /* KV blocks loaded from offload tiers (eng_offload), added as is */
} eng_step_work;

const eng_profile *eng_timing_find(const char *name);
/* NULL-terminated list of every profile. */
const eng_profile *const *eng_timing_profiles(void);
double eng_timing_step(const eng_profile *p, const eng_step_work *w);

#endif
