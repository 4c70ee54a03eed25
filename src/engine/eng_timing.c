/* eng_timing: see eng_timing.h. The constants below are the calibration;
 * docs/engine.md shows the figures each profile reproduces. */
#include "engine/eng_timing.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Llama-3-8B, BF16: 16 GB of weights, 32 layers x 8 KV heads x 128 dims x
 * (K,V) x 2 bytes = 128 KiB of KV per token. */
#define L8B_W 16.06e9
#define L8B_KV (32.0 * 8 * 128 * 2 * 2)
#define L8B_P 8.03e9

/* On-demand $ per GPU-hour, AWS us-east-1 list prices (docs/engine.md):
 * p5.48xlarge $98.32 for 8 H100; the others at their profiles. */
#define H100_USD_H (98.32 / 8)

/* Per-step and per-sequence costs of the 8B profiles on H100 and A100,
 * refitted on published runs that span small and large batches
 * (bench/fidelity, docs/engine.md "Fidelity"): vLLM 0.6.0 replays of 320
 * ShareGPT requests (LambdaLabsML/vllm-benchmark; a decode step of ~256
 * sequences 13-17 ms on H100, 26-29 ms on A100, ~7.5 / 12 ms with few),
 * vLLM's CI latency test (a batch of 8) and one stream on H100 (6.48 ms
 * per token): each within 15 %. */
#define H100_8B_T_FIXED 1.3e-3
#define H100_8B_T_SEQ 0.02e-3
#define A100_8B_T_FIXED 1.3e-3
#define A100_8B_T_SEQ 0.06e-3

/* The 24/48 GB cards' fit (docs/engine.md, "GPU types"). */
#define A24_T_FIXED 1.0e-3
#define A24_T_SEQ 0.25e-3
#define A10G_BW_EFF 0.72
#define A10G_FLOPS_EFF 0.50
#define L4_BW_EFF 0.72
#define L4_FLOPS_EFF 0.30
#define L40S_BW_EFF 0.72
#define L40S_FLOPS_EFF 0.50

static const eng_profile eng_profiles[] = {
    {.name = "llama3-8b-h100",
     .desc = "Llama-3-8B BF16 on one H100 SXM 80GB",
     .t_fixed_s = H100_8B_T_FIXED,
     .t_seq_s = H100_8B_T_SEQ,
     .weight_bytes = L8B_W,
     .kv_bytes_per_token = L8B_KV,
     .bw_eff = 0.80 * 3.35e12,
     .flops_eff = 0.55 * 989e12,
     .params = L8B_P,
     .layers = 32,
     .hidden = 4096,
     .api_overhead_s = 4e-3,
     .lora_swap_s = 2e-3,
     .lora_load_s = 0.5,
     .max_num_batched_tokens = 8192,
     .max_num_seqs = 1024,
     .num_gpu_blocks = 25000,
     .gpu_mem_bytes = 85.5e9, /* 81559 MiB, as nvidia-smi reports an H100 80GB */
     .mem_reserve_bytes = 2e9,
     .max_model_len = 8192,
     .dtype = "bfloat16",
     .price_usd_h = H100_USD_H},
    {.name = "llama3-8b-a100-80g",
     .desc = "Llama-3-8B BF16 on one A100 SXM 80GB",
     .t_fixed_s = A100_8B_T_FIXED,
     .t_seq_s = A100_8B_T_SEQ,
     .weight_bytes = L8B_W,
     .kv_bytes_per_token = L8B_KV,
     .bw_eff = 0.76 * 2.039e12,
     .flops_eff = 0.65 * 312e12,
     .params = L8B_P,
     .layers = 32,
     .hidden = 4096,
     .api_overhead_s = 5e-3,
     .lora_swap_s = 3e-3,
     .lora_load_s = 0.5,
     .max_num_batched_tokens = 2048,
     .max_num_seqs = 256,
     .num_gpu_blocks = 25000,
     .gpu_mem_bytes = 85.1e9, /* 81154 MiB (A100 80GB) */
     .mem_reserve_bytes = 2e9,
     .max_model_len = 8192,
     .dtype = "bfloat16",
     .price_usd_h = 40.97 / 8}, /* p4de.24xlarge */
    {.name = "llama3-8b-a100-40g",
     .desc = "Llama-3-8B BF16 on one A100 40GB",
     .t_fixed_s = A100_8B_T_FIXED,
     .t_seq_s = A100_8B_T_SEQ,
     .weight_bytes = L8B_W,
     .kv_bytes_per_token = L8B_KV,
     .bw_eff = 0.77 * 1.555e12,
     .flops_eff = 0.65 * 312e12,
     .params = L8B_P,
     .layers = 32,
     .hidden = 4096,
     .api_overhead_s = 5e-3,
     .lora_swap_s = 3e-3,
     .lora_load_s = 0.5,
     .max_num_batched_tokens = 2048,
     .max_num_seqs = 256,
     .num_gpu_blocks = 7800,
     .gpu_mem_bytes = 42.5e9, /* 40536 MiB (A100 40GB) */
     .mem_reserve_bytes = 2e9,
     .max_model_len = 8192,
     .dtype = "bfloat16",
     .price_usd_h = 32.77 / 8}, /* p4d.24xlarge */
    /* The 24 and 48 GB cards (docs/engine.md, "GPU types"): GDDR6, fitted to
     * vLLM runs of 2024 whose per-step and per-request costs (t_fixed,
     * t_seq) are those of vLLM then; KV capacity from memory as vLLM sizes
     * it at --gpu-memory-utilization 0.9, 1.5-2 GB kept for activations and
     * CUDA graphs. */
    {.name = "llama3-8b-a10g",
     .desc = "Llama-3-8B BF16 on one A10G 24GB (AWS g5)",
     .t_fixed_s = A24_T_FIXED,
     .t_seq_s = A24_T_SEQ,
     .weight_bytes = L8B_W,
     .kv_bytes_per_token = L8B_KV,
     .bw_eff = A10G_BW_EFF * 600e9,
     .flops_eff = A10G_FLOPS_EFF * 125e12,
     .params = L8B_P,
     .layers = 32,
     .hidden = 4096,
     .api_overhead_s = 5e-3,
     .lora_swap_s = 5e-3,
     .lora_load_s = 0.5,
     .max_num_batched_tokens = 2048,
     .max_num_seqs = 256,
     .num_gpu_blocks = 1989,
     .gpu_mem_bytes = 24.15e9, /* 23028 MiB, as nvidia-smi reports an A10G */
     .mem_reserve_bytes = 1.5e9,
     .max_model_len = 8192,
     .dtype = "bfloat16",
     .price_usd_h = 1.006}, /* g5.xlarge */
    {.name = "llama3-8b-l4",
     .desc = "Llama-3-8B BF16 on one L4 24GB (AWS g6, GCP g2)",
     .t_fixed_s = A24_T_FIXED,
     .t_seq_s = A24_T_SEQ,
     .weight_bytes = L8B_W,
     .kv_bytes_per_token = L8B_KV,
     .bw_eff = L4_BW_EFF * 300e9,
     .flops_eff = L4_FLOPS_EFF * 121e12,
     .params = L8B_P,
     .layers = 32,
     .hidden = 4096,
     .api_overhead_s = 5e-3,
     .lora_swap_s = 5e-3,
     .lora_load_s = 0.5,
     .max_num_batched_tokens = 2048,
     .max_num_seqs = 256,
     .num_gpu_blocks = 1992,
     .gpu_mem_bytes = 24.15e9, /* 23034 MiB (L4) */
     .mem_reserve_bytes = 1.5e9,
     .max_model_len = 8192,
     .dtype = "bfloat16",
     .price_usd_h = 0.805}, /* g6.xlarge */
    {.name = "llama3-8b-l40s",
     .desc = "Llama-3-8B BF16 on one L40S 48GB (AWS g6e)",
     .t_fixed_s = A24_T_FIXED,
     .t_seq_s = A24_T_SEQ,
     .weight_bytes = L8B_W,
     .kv_bytes_per_token = L8B_KV,
     .bw_eff = L40S_BW_EFF * 864e9,
     .flops_eff = L40S_FLOPS_EFF * 362e12,
     .params = L8B_P,
     .layers = 32,
     .hidden = 4096,
     .api_overhead_s = 5e-3,
     .lora_swap_s = 5e-3,
     .lora_load_s = 0.5,
     .max_num_batched_tokens = 2048,
     .max_num_seqs = 256,
     .num_gpu_blocks = 12118,
     .gpu_mem_bytes = 48.3e9, /* 46068 MiB (L40S) */
     .mem_reserve_bytes = 2e9,
     .max_model_len = 8192,
     .dtype = "bfloat16",
     .price_usd_h = 1.861}, /* g6e.xlarge */
    /* Llama-3-70B BF16, tensor parallel 8 on H100: 1/8 of the weights, KV
     * (80 layers x 8 KV heads x 128 x 2 x 2 B / 8) and FLOPs per GPU, plus
     * all-reduce latency in the fixed cost. */
    {.name = "llama3-70b-tp8-h100",
     .desc = "Llama-3-70B BF16 on 8x H100 SXM (tensor parallel 8)",
     .t_fixed_s = 3.0e-3,
     .t_seq_s = 0.05e-3,
     .weight_bytes = 141e9 / 8,
     .kv_bytes_per_token = 80.0 * 8 * 128 * 2 * 2 / 8,
     .bw_eff = 0.75 * 3.35e12,
     .flops_eff = 0.50 * 989e12,
     .params = 70.6e9 / 8,
     .layers = 80,
     .hidden = 8192 / 8.0,
     .api_overhead_s = 5e-3,
     .lora_swap_s = 4e-3,
     .lora_load_s = 1.5,
     .max_num_batched_tokens = 8192,
     .max_num_seqs = 1024,
     .num_gpu_blocks = 30000,
     .gpu_mem_bytes = 85.5e9, /* 81559 MiB (H100 80GB) */
     .mem_reserve_bytes = 2e9,
     .max_model_len = 8192,
     .dtype = "bfloat16",
     .price_usd_h = 8 * H100_USD_H}, /* its figures fold TP 8 into one layout unit */
    /* Llama-3.1-405B BF16 over two 8-GPU H100 nodes, vLLM's multi-node
     * recipe: tensor parallel 8 inside a node, pipeline parallel 2 across.
     * Per GPU: 1/16 of 811.7 GB of weights, 126 layers x 8 KV heads x 128 x
     * (K,V) x 2 B / (8 x 2) of KV per token. A stage's GPU reads as many
     * weight bytes a token as one GPU of the FP8 model on a single 8-GPU
     * node, so t_fixed and t_seq are fitted to vLLM's published FP8 TP8
     * run of the same architecture (docs/engine.md: ITL 30.0 ms at 2
     * requests, 33.5 ms at 10); the second stage and the link are the
     * layout model's. */
    {.name = "llama3.1-405b-tp8pp2-h100",
     .desc = "Llama-3.1-405B BF16 on 2x8 H100 SXM (tensor parallel 8, pipeline parallel 2)",
     .t_fixed_s = 9.0e-3,
     .t_seq_s = 0.4e-3,
     .weight_bytes = 811.7e9 / 16,
     .kv_bytes_per_token = 126.0 * 8 * 128 * 2 * 2 / 16,
     .bw_eff = 0.75 * 3.35e12,
     .flops_eff = 0.50 * 989e12,
     .params = 405.9e9 / 16,
     .layers = 126 / 2.0,
     .hidden = 16384 / 8.0,
     .api_overhead_s = 5e-3,
     .lora_swap_s = 6e-3,
     .lora_load_s = 3.0,
     .max_num_batched_tokens = 8192,
     .max_num_seqs = 1024,
     .num_gpu_blocks = 0, /* from memory */
     .max_model_len = 131072,
     .dtype = "bfloat16",
     .tp = 8,
     .pp = 2,
     .kv_split_max = 8,
     .hidden_model = 16384,
     .gpu_mem_bytes = 85.5e9,
     .mem_reserve_bytes = 3e9,
     .price_usd_h = H100_USD_H},
    /* DeepSeek-V3/R1 671B FP8 over two 8-GPU H100 nodes, tensor parallel
     * 16 (its 680 GB of FP8 weights do not fit one node). MoE: 58 layers x
     * 256 routed experts x 3 x 7168 x 2048 = 654 G routed-expert bytes, 8
     * routed per token; 37 G parameters active per token. MLA: 61 layers x
     * (512 + 64) x 2 B of KV per token, the same on every TP rank. Fitted
     * to the 16x H100 figures cited in docs/engine.md. */
    {.name = "deepseek-v3-tp16-h100",
     .desc = "DeepSeek-V3/R1 671B FP8 on 2x8 H100 SXM (tensor parallel 16)",
     .t_fixed_s = 19.0e-3,
     .t_seq_s = 0.1e-3,
     .weight_bytes = 680e9 / 16,
     .kv_bytes_per_token = 61.0 * 576 * 2,
     .bw_eff = 0.70 * 3.35e12,
     .flops_eff = 0.45 * 1979e12,
     .params = 37e9 / 16,
     .layers = 61,
     .hidden = 7168 / 16.0,
     .api_overhead_s = 5e-3,
     .lora_swap_s = 6e-3,
     .lora_load_s = 3.0,
     .max_num_batched_tokens = 8192,
     .max_num_seqs = 1024,
     .num_gpu_blocks = 0, /* from memory */
     .max_model_len = 163840,
     .dtype = "bfloat16",
     .tp = 16,
     .pp = 1,
     .kv_split_max = 1,
     .hidden_model = 7168,
     .moe_expert_bytes = 654e9 / 16,
     .moe_route_frac = 8.0 / 256,
     .gpu_mem_bytes = 85.5e9,
     .mem_reserve_bytes = 4e9,
     .act_bytes = 2,
     .price_usd_h = H100_USD_H},
};

static const eng_profile *const eng_profile_list[] = {
    &eng_profiles[0], &eng_profiles[1], &eng_profiles[2], &eng_profiles[3], &eng_profiles[4],
    &eng_profiles[5], &eng_profiles[6], &eng_profiles[7], &eng_profiles[8], NULL};

_Static_assert(sizeof(eng_profile_list) / sizeof(eng_profile_list[0]) ==
                   sizeof(eng_profiles) / sizeof(eng_profiles[0]) + 1,
               "every profile is listed");

const eng_profile *eng_timing_find(const char *name)
{
    for (size_t i = 0; eng_profile_list[i]; i++)
        if (!strcmp(eng_profile_list[i]->name, name)) return eng_profile_list[i];
    return NULL;
}

const eng_profile *const *eng_timing_profiles(void)
{
    return eng_profile_list;
}

int32_t eng_timing_tp(const eng_profile *p)
{
    return p->tp > 0 ? p->tp : 1;
}

int32_t eng_timing_pp(const eng_profile *p)
{
    return p->pp > 0 ? p->pp : 1;
}

double eng_timing_price(const eng_profile *p)
{
    return p->price_usd_h * eng_timing_tp(p) * eng_timing_pp(p);
}

double eng_timing_step(const eng_profile *p, const eng_step_work *w)
{
    if (w->tokens <= 0 && w->lora_loads == 0) return 0.0;
    double tok = w->tokens > 0 ? (double)w->tokens : 0.0;
    double wread = p->weight_bytes;
    if (p->moe_expert_bytes > 0) /* routed experts: only those some token picked */
        wread -= p->moe_expert_bytes * pow(1.0 - p->moe_route_frac, tok);
    double mem = (wread + (double)w->decode_ctx * p->kv_bytes_per_token) / p->bw_eff;
    double comp = 2.0 * p->params * tok / p->flops_eff;
    double attn = 4.0 * p->layers * p->hidden * w->prefill_attn / p->flops_eff;
    double stages = p->stages > 1 ? p->stages : 1;
    double t =
        p->t_fixed_s + (double)w->seqs * p->t_seq_s + stages * ((mem > comp ? mem : comp) + attn);
    if ((p->tp_nodes > 1 || p->pp_links > 0) && p->link_bw > 0) {
        double a = p->act_bytes > 0 ? p->act_bytes : 2.0;
        double bytes = tok * p->hidden_model * a; /* one activation tensor of the step */
        if (p->tp_nodes > 1) {
            double n = p->tp_nodes;
            double ar = 2.0 * (n - 1) * p->link_lat_s + 2.0 * (n - 1) / n * bytes / p->link_bw;
            t += 2.0 * p->layers * stages * ar;
        }
        t += (double)p->pp_links * (p->link_lat_s + bytes / p->link_bw);
    }
    if (w->iters > 1) t *= (double)w->iters;
    t += (double)w->lora_swaps * p->lora_swap_s + (double)w->lora_loads * p->lora_load_s;
    return t + w->load_s;
}

int eng_timing_layout(const eng_profile *base, const eng_layout *l, eng_profile *out, char *err,
                      size_t errlen)
{
    int32_t tp0 = eng_timing_tp(base), pp0 = eng_timing_pp(base);
    int32_t tp = l->tp > 0 ? l->tp : tp0, pp = l->pp > 0 ? l->pp : pp0;
    int32_t gpn = l->gpus_per_node > 0 ? l->gpus_per_node : 8;
    if (tp > 4096 || pp > 1024 || (double)tp * pp > 65536) {
        snprintf(err, errlen, "tensor-parallel-size %d x pipeline-parallel-size %d is too large",
                 tp, pp);
        return -1;
    }
    if ((double)pp > base->layers * pp0) {
        snprintf(err, errlen, "pipeline-parallel-size %d exceeds the model's %g layers", pp,
                 base->layers * pp0);
        return -1;
    }
    *out = *base;
    double ratio = (double)tp0 * pp0 / ((double)tp * pp);
    out->weight_bytes = base->weight_bytes * ratio;
    out->moe_expert_bytes = base->moe_expert_bytes * ratio;
    out->params = base->params * ratio;
    int32_t ksm = base->kv_split_max > 0 ? base->kv_split_max : 1 << 30;
    double kv_total = base->kv_bytes_per_token * (tp0 < ksm ? tp0 : ksm) * pp0;
    out->kv_bytes_per_token = kv_total / ((double)(tp < ksm ? tp : ksm) * pp);
    out->layers = base->layers * pp0 / pp;
    double hm = base->hidden_model > 0 ? base->hidden_model : base->hidden * tp0;
    out->hidden_model = hm;
    out->hidden = hm / tp;
    out->tp = tp;
    out->pp = pp;
    out->stages = pp;
    /* ranks fill nodes in order, tensor parallel innermost (as vLLM) */
    out->tp_nodes = tp > gpn ? (tp + gpn - 1) / gpn : 1;
    out->pp_links = 0;
    for (int32_t s = 0; s + 1 < pp; s++)
        if (((int64_t)(s + 1) * tp - 1) / gpn != ((int64_t)(s + 1) * tp) / gpn) out->pp_links++;
    out->link_bw = l->link_gbps * 1e9;
    out->link_lat_s = l->link_latency_us * 1e-6;
    if (tp == tp0 && pp == pp0 && base->num_gpu_blocks > 0) return 0;
    if (l->num_gpu_blocks > 0) {
        out->num_gpu_blocks = l->num_gpu_blocks;
        return 0;
    }
    if (!(base->gpu_mem_bytes > 0)) {
        snprintf(err, errlen,
                 "profile %s has no GPU memory figure to size the KV cache of another layout: "
                 "give --num-gpu-blocks",
                 base->name);
        return -1;
    }
    double free_b = 0.9 * base->gpu_mem_bytes - out->weight_bytes - base->mem_reserve_bytes;
    double blocks = free_b / (out->kv_bytes_per_token * 16.0);
    if (!(blocks >= 1)) {
        snprintf(err, errlen,
                 "the weights of %s need %.1f GB per GPU over tensor-parallel-size %d x "
                 "pipeline-parallel-size %d, and 90%% of a %.1f GB GPU leaves no room for the KV "
                 "cache: raise the parallel sizes",
                 base->name, out->weight_bytes / 1e9, tp, pp, base->gpu_mem_bytes / 1e9);
        return -1;
    }
    out->num_gpu_blocks = blocks > 2e9 ? 2000000000 : (int32_t)blocks;
    return 0;
}
