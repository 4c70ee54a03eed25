/* eng_timing_layout: a profile rescaled to a tensor x pipeline layout over
 * nodes, against hand-computed step times and KV capacities (simulated
 * seconds, not wall-clock times), and the multi-node profiles against the
 * figures they were fitted to (docs/engine.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/eng_timing.h"

static void assert_close(double got, double want, double eps)
{
    if (!(got - want <= eps && want - got <= eps)) fail_msg("got %.15g, want %.15g", got, want);
}

/* Round numbers: 80 GB of weights, 40 G parameters, 1000 B of KV per
 * token, 10 layers of hidden 1000, 1 TB/s, 1 PFLOP/s, a 100 GB GPU. */
static eng_profile round_profile(void)
{
    eng_profile p = {.name = "round",
                     .t_fixed_s = 1e-3,
                     .weight_bytes = 80e9,
                     .kv_bytes_per_token = 1000,
                     .bw_eff = 1e12,
                     .flops_eff = 1e15,
                     .params = 40e9,
                     .layers = 10,
                     .hidden = 1000,
                     .gpu_mem_bytes = 100e9,
                     .max_num_seqs = 256,
                     .max_num_batched_tokens = 8192,
                     .max_model_len = 4096};
    return p;
}

static eng_layout lay(int tp, int pp)
{
    eng_layout l = {
        .tp = tp, .pp = pp, .gpus_per_node = 8, .link_gbps = 100, .link_latency_us = 10};
    return l;
}

static double one_token(const eng_profile *p)
{
    eng_step_work w = {.tokens = 1, .seqs = 1};
    return eng_timing_step(p, &w);
}

static void test_tp_inside_a_node(void **st)
{
    (void)st;
    eng_profile b = round_profile(), o;
    eng_layout l = lay(8, 1);
    char err[256];
    assert_int_equal(eng_timing_layout(&b, &l, &o, err, sizeof(err)), 0);
    assert_int_equal(o.tp_nodes, 1);
    assert_int_equal(o.pp_links, 0);
    /* 1 ms + 10 GB / 1 TB/s; no link term */
    assert_close(one_token(&o), 11e-3, 1e-12);
    /* 0.9 x 100 GB - 10 GB = 80 GB over 16 x 125 B per block */
    assert_int_equal(o.num_gpu_blocks, 40000000);
}

static void test_tp_across_two_nodes(void **st)
{
    (void)st;
    eng_profile b = round_profile(), o;
    eng_layout l = lay(16, 1);
    char err[256];
    assert_int_equal(eng_timing_layout(&b, &l, &o, err, sizeof(err)), 0);
    assert_int_equal(o.tp_nodes, 2);
    /* 1 ms + 5 ms + 2 x 10 layers x (2 x 10 us + 2000 B / 100 GB/s) */
    assert_close(one_token(&o), 6.4004e-3, 1e-12);
    /* a long prefill: compute bound, the all-reduce moves 16.4 MB a layer:
     * 1 ms + 40.96 ms + 20 x (20 us + 163.84 us) */
    eng_step_work w = {.tokens = 8192, .seqs = 1};
    assert_close(eng_timing_step(&o, &w), 45.6368e-3, 1e-12);
}

static void test_pp_across_two_nodes(void **st)
{
    (void)st;
    eng_profile b = round_profile(), o;
    eng_layout l = lay(8, 2);
    char err[256];
    assert_int_equal(eng_timing_layout(&b, &l, &o, err, sizeof(err)), 0);
    assert_int_equal(o.stages, 2);
    assert_int_equal(o.pp_links, 1);
    assert_int_equal(o.tp_nodes, 1);
    /* 1 ms + 2 stages x 5 ms + (10 us + 2000 B / 100 GB/s) */
    assert_close(one_token(&o), 11.01002e-3, 1e-12);
    /* stages on the same node need no link: tp 4 x pp 4 on 8-GPU nodes
     * crosses once, between stage 1 and 2 */
    l = lay(4, 4);
    assert_int_equal(eng_timing_layout(&b, &l, &o, err, sizeof(err)), 0);
    assert_int_equal(o.pp_links, 1);
    assert_int_equal(o.tp_nodes, 1);
}

static void test_memory_sets_kv_capacity(void **st)
{
    (void)st;
    eng_profile b = round_profile(), o;
    eng_layout l = lay(0, 0); /* the profile's own: one GPU */
    char err[256];
    assert_int_equal(eng_timing_layout(&b, &l, &o, err, sizeof(err)), 0);
    /* 90 GB - 80 GB over 16 x 1000 B */
    assert_int_equal(o.num_gpu_blocks, 625000);
    /* KV heads limit the split: 2 KV heads, tp 8 -> 500 B per GPU */
    b.kv_split_max = 2;
    l = lay(8, 1);
    assert_int_equal(eng_timing_layout(&b, &l, &o, err, sizeof(err)), 0);
    assert_close(o.kv_bytes_per_token, 500, 1e-9);
    assert_int_equal(o.num_gpu_blocks, 10000000); /* 80 GB / (16 x 500 B) */
    /* weights that do not fit */
    b = round_profile();
    b.weight_bytes = 95e9;
    l = lay(0, 0);
    assert_int_equal(eng_timing_layout(&b, &l, &o, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no room for the KV cache"));
}

static void test_moe_reads_touched_experts(void **st)
{
    (void)st;
    eng_profile b = round_profile(), o;
    b.moe_expert_bytes = 60e9;
    b.moe_route_frac = 0.5;
    eng_layout l = lay(0, 0);
    char err[256];
    assert_int_equal(eng_timing_layout(&b, &l, &o, err, sizeof(err)), 0);
    /* 20 GB dense + 60 GB x (1 - 0.5^1) */
    assert_close(one_token(&o), 51e-3, 1e-12);
    eng_step_work w = {.tokens = 2, .seqs = 2};
    /* 20 GB + 60 GB x (1 - 0.5^2) */
    assert_close(eng_timing_step(&o, &w), 66e-3, 1e-12);
}

static void test_single_node_profiles_unchanged(void **st)
{
    (void)st;
    const eng_profile *p = eng_timing_find("llama3-70b-tp8-h100");
    eng_profile o;
    eng_layout l = lay(0, 0);
    char err[256];
    assert_int_equal(eng_timing_layout(p, &l, &o, err, sizeof(err)), 0);
    assert_int_equal(o.num_gpu_blocks, p->num_gpu_blocks);
    eng_step_work w = {.tokens = 32, .decode_ctx = 32 * 1000, .seqs = 32};
    assert_close(eng_timing_step(&o, &w), eng_timing_step(p, &w), 1e-15);
}

/* A single-GPU profile run over 2 GPUs (AIBrix's sample: --tensor-parallel-size 2 on the
 * default profile) sizes its KV cache from memory: (0.9 x 85.5 GB - 16.06 GB / 2 - 2 GB) /
 * (16 x 131072 B / 2) = 63819.9, 63819 blocks; --num-gpu-blocks gives it instead. */
static void test_single_gpu_profile_other_layout(void **st)
{
    (void)st;
    const eng_profile *p = eng_timing_find("llama3-8b-h100");
    eng_profile o;
    eng_layout l = lay(2, 0);
    char err[256];
    assert_int_equal(eng_timing_layout(p, &l, &o, err, sizeof(err)), 0);
    assert_int_equal(o.num_gpu_blocks, 63819);
    l.num_gpu_blocks = 500;
    assert_int_equal(eng_timing_layout(p, &l, &o, err, sizeof(err)), 0);
    assert_int_equal(o.num_gpu_blocks, 500);
}

static void test_multi_node_profiles(void **st)
{
    (void)st;
    eng_layout l = {.gpus_per_node = 8, .link_gbps = 400, .link_latency_us = 10};
    char err[256];
    eng_profile o;
    /* DeepSeek-V3/R1 on 16 H100: TPOT ~23 ms at one request */
    const eng_profile *d = eng_timing_find("deepseek-v3-tp16-h100");
    assert_non_null(d);
    assert_int_equal(eng_timing_layout(d, &l, &o, err, sizeof(err)), 0);
    assert_int_equal(o.tp_nodes, 2);
    eng_step_work w = {.tokens = 1, .decode_ctx = 256, .seqs = 1};
    double t = eng_timing_step(&o, &w);
    assert_true(t > 22e-3 && t < 24.5e-3);
    assert_true(o.num_gpu_blocks * 16 > 163840); /* the full context fits */
    /* Llama-3.1-405B BF16, tp 8 x pp 2: two stages, one node crossing */
    const eng_profile *m = eng_timing_find("llama3.1-405b-tp8pp2-h100");
    assert_non_null(m);
    assert_int_equal(eng_timing_layout(m, &l, &o, err, sizeof(err)), 0);
    assert_int_equal(o.stages, 2);
    assert_int_equal(o.pp_links, 1);
    t = eng_timing_step(&o, &w);
    /* 9.0 ms fixed + 0.4 ms a request + 2 stages x 50.7 GB / 2.51 TB/s
     * (20.2 ms) + one node crossing: 49.8 ms */
    assert_true(t > 49.5e-3 && t < 50.1e-3);
    /* ten requests of 300 tokens: 3.6 ms more of requests, 0.04 ms of KV */
    eng_step_work w10 = {.tokens = 10, .decode_ctx = 3000, .seqs = 10};
    double t10 = eng_timing_step(&o, &w10);
    assert_true(t10 - t > 3.62e-3 && t10 - t < 3.7e-3);
    assert_true(o.num_gpu_blocks * 16 > 131072);
    /* on one node its weights do not fit */
    l.tp = 8;
    l.pp = 1;
    assert_int_equal(eng_timing_layout(m, &l, &o, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tp_inside_a_node),
        cmocka_unit_test(test_tp_across_two_nodes),
        cmocka_unit_test(test_pp_across_two_nodes),
        cmocka_unit_test(test_memory_sets_kv_capacity),
        cmocka_unit_test(test_moe_reads_touched_experts),
        cmocka_unit_test(test_single_node_profiles_unchanged),
        cmocka_unit_test(test_single_gpu_profile_other_layout),
        cmocka_unit_test(test_multi_node_profiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
