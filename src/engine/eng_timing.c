/* eng_timing: see eng_timing.h. The constants below are the calibration;
 * docs/engine.md shows the figures each profile reproduces. */
#include "engine/eng_timing.h"

#include <string.h>

/* Llama-3-8B, BF16: 16 GB of weights, 32 layers x 8 KV heads x 128 dims x
 * (K,V) x 2 bytes = 128 KiB of KV per token. */
#define L8B_W 16.06e9
#define L8B_KV (32.0 * 8 * 128 * 2 * 2)
#define L8B_P 8.03e9

static const eng_profile eng_profiles[] = {
    {.name = "llama3-8b-h100",
     .desc = "Llama-3-8B BF16 on one H100 SXM 80GB",
     .t_fixed_s = 0.45e-3,
     .t_seq_s = 0.05e-3,
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
     .max_model_len = 8192,
     .dtype = "bfloat16"},
    {.name = "llama3-8b-a100-80g",
     .desc = "Llama-3-8B BF16 on one A100 SXM 80GB",
     .t_fixed_s = 0.6e-3,
     .t_seq_s = 0.08e-3,
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
     .max_model_len = 8192,
     .dtype = "bfloat16"},
    {.name = "llama3-8b-a100-40g",
     .desc = "Llama-3-8B BF16 on one A100 40GB",
     .t_fixed_s = 0.6e-3,
     .t_seq_s = 0.08e-3,
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
     .max_model_len = 8192,
     .dtype = "bfloat16"},
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
     .max_model_len = 8192,
     .dtype = "bfloat16"},
};

static const eng_profile *const eng_profile_list[] = {&eng_profiles[0], &eng_profiles[1],
                                                      &eng_profiles[2], &eng_profiles[3], NULL};

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

double eng_timing_step(const eng_profile *p, const eng_step_work *w)
{
    if (w->tokens <= 0 && w->lora_loads == 0) return 0.0;
    double mem = (p->weight_bytes + (double)w->decode_ctx * p->kv_bytes_per_token) / p->bw_eff;
    double comp = 2.0 * p->params * (double)w->tokens / p->flops_eff;
    double attn = 4.0 * p->layers * p->hidden * w->prefill_attn / p->flops_eff;
    double t = p->t_fixed_s + (double)w->seqs * p->t_seq_s + (mem > comp ? mem : comp) + attn;
    t += (double)w->lora_swaps * p->lora_swap_s + (double)w->lora_loads * p->lora_load_s;
    return t + w->load_s;
}
