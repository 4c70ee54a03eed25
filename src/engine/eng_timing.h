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
 * Profiles are a const table; eng_timing_find looks one up by name. Pure.
 *
 * Several GPUs and nodes (eng_timing_layout): a profile's per-GPU figures
 * are for its own tensor x pipeline layout (tp, pp); another layout
 * rescales them (weights, parameters and FLOPs over tp x pp GPUs, KV over
 * min(tp, kv_split_max) x pp, layers over pp stages, hidden over tp) and
 * adds, per step:
 *   the roofline terms above once per pipeline stage (one batch passes the
 *     stages in turn: a stage idles (pp-1)/pp of the time, the bubble),
 *   + 2 * L * [2(n-1) * lat + 2(n-1)/n * N_tok * H * a / B]   (TP across n nodes:
 *     two all-reduces per layer over the inter-node link, ring/hierarchical)
 *   + links * (lat + N_tok * H * a / B)      (PP: activations to the next stage
 *     across nodes; links = stage boundaries that cross a node)
 * L: all layers, H: the model's hidden size, a: bytes per element (2),
 * B: inter-node bandwidth per node, lat: its latency per message. Routed
 * experts (MoE) are read in the fraction of them a step's tokens touch:
 * 1 - (1 - k/E)^N_tok. The KV capacity of a layout is what is left of 90%
 * of a GPU's memory after its weights and a reserve, in KV blocks.
 *
 * Prices: each profile carries a public on-demand price per GPU-hour
 * (docs/engine.md cites them); a replica costs that times its GPUs
 * (eng_timing_price), unless the engine's --price-per-hour gives it. */
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
    /* several GPUs (0 = the defaults noted) */
    int32_t tp, pp;           /* the layout the per-GPU figures are for (0: 1) */
    int32_t kv_split_max;     /* KV splits over at most this many TP ranks (KV heads; MLA: 1);
                                 0: any */
    double hidden_model;      /* the model's hidden size (0: hidden x tp) */
    double moe_expert_bytes;  /* per GPU: routed experts' weights, part of weight_bytes */
    double moe_route_frac;    /* experts per token / routed experts (k/E) */
    double gpu_mem_bytes;     /* one GPU's memory (0: no KV capacity for other layouts) */
    double mem_reserve_bytes; /* per GPU: activations, CUDA graphs, NCCL buffers */
    double act_bytes;         /* bytes per activation element between GPUs (0: 2) */
    double price_usd_h;       /* on-demand $ per GPU-hour of this GPU type (0: none known) */
    /* set by eng_timing_layout (0 in the table: one stage, one node) */
    int32_t stages;             /* pipeline stages a step passes in turn */
    int32_t tp_nodes;           /* nodes one TP group spans (> 1: all-reduces cross nodes) */
    int32_t pp_links;           /* stage boundaries crossing nodes */
    double link_bw, link_lat_s; /* inter-node: bytes/s per node, seconds per message */
} eng_profile;

/* A replica's layout over GPUs and nodes (vLLM's flags). */
typedef struct eng_layout {
    int32_t tp, pp;        /* 0: the profile's own */
    int32_t gpus_per_node; /* 0: 8 */
    double link_gbps;      /* GB/s per node */
    double link_latency_us;
    int32_t num_gpu_blocks; /* > 0: the KV capacity is given (--num-gpu-blocks): not sized
                               from memory */
} eng_layout;

/* What one step computes. */
typedef struct eng_step_work {
    int64_t tokens;      /* all tokens scheduled (prefill chunks + decodes) */
    int64_t decode_ctx;  /* sum of context lengths of decoding sequences */
    double prefill_attn; /* sum over prefill chunks of chunk * context */
    int32_t seqs;        /* sequences in the batch */
    int32_t lora_swaps;  /* adapters moved into GPU slots for this step */
    int32_t lora_loads;  /* adapters loaded from disk for this step */
    double load_s;       /* KV blocks loaded from offload tiers (eng_offload), added as is */
    int32_t iters;       /* forward passes of this work in a row (multi-step decode burst; 0: 1);
                            the LoRA and load terms count once */
} eng_step_work;

const eng_profile *eng_timing_find(const char *name);
/* NULL-terminated list of every profile. */
const eng_profile *const *eng_timing_profiles(void);
double eng_timing_step(const eng_profile *p, const eng_step_work *w);
/* The profile's own degrees (at least 1). */
int32_t eng_timing_tp(const eng_profile *p);
int32_t eng_timing_pp(const eng_profile *p);
/* $ per replica-hour: price_usd_h x the profile's GPUs (tp x pp). */
double eng_timing_price(const eng_profile *p);
/* *out = base rescaled to layout l (see above), num_gpu_blocks from
 * memory when the layout differs from the profile's or the profile gives
 * none. Returns 0, or -1 with a message in err (the weights do not fit,
 * degrees out of range). */
int eng_timing_layout(const eng_profile *base, const eng_layout *l, eng_profile *out, char *err,
                      size_t errlen);

#endif
