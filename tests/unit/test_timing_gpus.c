/* eng_timing's GPU types: the 24 and 48 GB cards (A10G, L4, L40S) against
 * the published figures they were fitted to (docs/engine.md, "GPU types"),
 * their KV capacity from memory, their prices, and the cost ordering the
 * heterogeneous optimizer relies on. Step times are hand-computed from the
 * roofline; the loaded figures come from running the scheduler (eng_sched)
 * offline with eng_timing's step times: simulated seconds, never wall-clock
 * times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_buf.h"
#include "engine/eng_config.h"
#include "engine/eng_metrics.h"
#include "engine/eng_sched.h"
#include "engine/eng_timing.h"

#define L8B_W 16.06e9
#define L8B_KV 131072.0 /* 32 layers x 8 KV heads x 128 x (K,V) x 2 B */

static const eng_profile *prof(const char *name)
{
    const eng_profile *p = eng_timing_find(name);
    assert_non_null(p);
    return p;
}

static double decode_step(const eng_profile *p, int batch, int ctx)
{
    eng_step_work w = {.tokens = batch, .decode_ctx = (int64_t)batch * ctx, .seqs = batch};
    return eng_timing_step(p, &w);
}

static int near(double got, double want, double rel)
{
    return got > want * (1 - rel) && got < want * (1 + rel);
}

/* ---- the scheduler run offline: n requests of in/out tokens ---- */

typedef struct sim_req {
    double arrival, first, last;
    int32_t ntok;
} sim_req;

typedef struct sim_out {
    double req_s, ttft, tpot; /* requests/s over the run; mean TTFT and TPOT, s */
} sim_out;

typedef struct sim_ctx {
    int done, tpot_n;
    double ttft_sum, tpot_sum;
} sim_ctx;

static void sim_on_token(eng_seq *s, uint32_t id, double now, void *ud)
{
    (void)id, (void)ud;
    sim_req *r = s->ud;
    if (r->ntok++ == 0) r->first = now;
    r->last = now;
}

static void sim_on_finish(eng_seq *s, enum eng_finish why, double now, void *ud)
{
    (void)why, (void)now;
    sim_ctx *c = ud;
    sim_req *r = s->ud;
    c->done++;
    c->ttft_sum += r->first - r->arrival;
    if (r->ntok > 1) {
        c->tpot_sum += (r->last - r->first) / (r->ntok - 1);
        c->tpot_n++;
    }
}

static void sim_on_stored(eng_seq *s, int32_t first, int32_t n, void *ud)
{
    (void)s, (void)first, (void)n, (void)ud;
}

static void sim_on_removed(uint64_t key, void *ud)
{
    (void)key, (void)ud;
}

static uint32_t sim_gen(eng_seq *s, int32_t i, void *ud)
{
    (void)s, (void)ud;
    return 1000u + (uint32_t)i;
}

/* concurrency > 0: a closed loop keeping that many requests in flight;
 * else one arrival every 1/rate s (rate 0: all at once). Prompts differ
 * (no prefix hits); TTFT counts the profile's frontend time. */
static sim_out sim_run(const eng_profile *p, int n, int in, int out, int concurrency, double rate)
{
    sim_ctx c = {0};
    sim_req *r = calloc((size_t)n, sizeof(*r));
    uint32_t *prompt = malloc(sizeof(uint32_t) * (size_t)in);
    assert_non_null(r);
    assert_non_null(prompt);
    eng_sched s;
    eng_sched_cfg cfg = {.max_num_seqs = p->max_num_seqs,
                         .max_num_batched_tokens = p->max_num_batched_tokens,
                         .block_size = 16,
                         .num_gpu_blocks = p->num_gpu_blocks,
                         .max_loras = 1,
                         .hash_seed = "0"};
    eng_sched_cbs cbs = {sim_on_token, sim_on_finish, sim_on_stored, sim_on_removed, sim_gen};
    assert_int_equal(eng_sched_init(&s, &cfg, &cbs, &c), 0);
    double now = 0;
    int added = 0;
    while (c.done < n) {
        while (added < n) {
            double arr = now;
            if (concurrency > 0 && added - c.done >= concurrency) break;
            if (concurrency <= 0 && rate > 0) {
                arr = added / rate;
                if (arr > now && eng_sched_has_work(&s)) break;
                if (arr > now) now = arr;
            }
            for (int k = 0; k < in; k++)
                prompt[k] =
                    256u + (uint32_t)(((int64_t)added * 7919 + (int64_t)k * 104729) % 120000);
            r[added].arrival = arr - p->api_overhead_s;
            assert_non_null(eng_sched_add(&s, prompt, in, out, -1, arr, &r[added]));
            added++;
        }
        eng_step_work w;
        if (eng_sched_plan(&s, now, &w) == 0) {
            assert_true(concurrency <= 0 && rate > 0 && added < n);
            now = added / rate;
            continue;
        }
        now += eng_timing_step(p, &w);
        eng_sched_commit(&s, now);
    }
    sim_out o = {.req_s = n / now, .ttft = c.ttft_sum / n, .tpot = c.tpot_sum / c.tpot_n};
    eng_sched_close(&s);
    free(r);
    free(prompt);
    return o;
}

/* ---- the profiles ---- */

static void test_gpu_types_listed_with_prices(void **st)
{
    (void)st;
    static const char *types[] = {"llama3-8b-h100", "llama3-8b-a100-80g", "llama3-8b-a100-40g",
                                  "llama3-8b-a10g", "llama3-8b-l4",       "llama3-8b-l40s"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        assert_true(eng_timing_price(prof(types[i])) > 0);
    for (const eng_profile *const *p = eng_timing_profiles(); *p; p++)
        assert_true((*p)->price_usd_h > 0);
    /* AWS on-demand, us-east-1: g5.xlarge, g6.xlarge, g6e.xlarge, p5.48xlarge / 8 */
    assert_true(eng_timing_price(prof("llama3-8b-a10g")) == 1.006);
    assert_true(eng_timing_price(prof("llama3-8b-l4")) == 0.805);
    assert_true(eng_timing_price(prof("llama3-8b-l40s")) == 1.861);
    assert_true(near(eng_timing_price(prof("llama3-8b-h100")), 12.29, 1e-9));
    /* a replica of several GPUs costs them all */
    assert_true(near(eng_timing_price(prof("llama3-70b-tp8-h100")), 98.32, 1e-9));
    assert_true(near(eng_timing_price(prof("llama3.1-405b-tp8pp2-h100")), 16 * 12.29, 1e-9));
    eng_layout l = {.tp = 2};
    eng_profile two;
    char err[256];
    assert_int_equal(eng_timing_layout(prof("llama3-8b-l4"), &l, &two, err, sizeof(err)), 0);
    assert_true(near(eng_timing_price(&two), 2 * 0.805, 1e-9));
}

/* num_gpu_blocks as vLLM sizes it: (0.9 x memory - weights - reserve) /
 * (16 tokens x 128 KiB); 8192 tokens fit a request. */
static void test_kv_capacity_from_memory(void **st)
{
    (void)st;
    static const char *types[] = {"llama3-8b-a10g", "llama3-8b-l4", "llama3-8b-l40s"};
    /* A10G: (0.9 x 24.15e9 - 16.06e9 - 1.5e9) / 2097152 = 1989.4;
     * L4: same 24.15e9 (23034 MiB) -> 1992 as listed (nvidia-smi's 6 MiB more);
     * L40S: (0.9 x 48.3e9 - 16.06e9 - 2e9) / 2097152 = 12118.2 */
    static const int32_t blocks[] = {1989, 1992, 12118};
    for (int i = 0; i < 3; i++) {
        const eng_profile *p = prof(types[i]);
        double free_b = 0.9 * p->gpu_mem_bytes - p->weight_bytes - p->mem_reserve_bytes;
        assert_true(abs((int)(free_b / (16 * L8B_KV)) - blocks[i]) <= 3);
        assert_int_equal(p->num_gpu_blocks, blocks[i]);
        assert_int_equal(p->max_model_len, 8192);
        assert_true((int64_t)p->num_gpu_blocks * 16 >= p->max_model_len);
        assert_int_equal(p->max_num_batched_tokens, 2048);
        assert_int_equal(p->max_num_seqs, 256);
        /* the same sizing from memory gives the same capacity */
        eng_layout l = {.tp = 1, .pp = 1};
        eng_profile q = *p, out;
        char err[256];
        q.num_gpu_blocks = 0;
        assert_int_equal(eng_timing_layout(&q, &l, &out, err, sizeof(err)), 0);
        assert_true(abs(out.num_gpu_blocks - blocks[i]) <= 3);
    }
}

/* A10G (600 GB/s x 0.72, 125 TF x 0.50, t_fixed 1.0 ms, t_seq 0.25 ms). */
static void test_a10g_figures(void **st)
{
    (void)st;
    const eng_profile *p = prof("llama3-8b-a10g");
    /* batch 1 at 512 context: 1.25 ms + (16.06e9 + 512 x 131072) / 432e9 = 38.58 ms */
    double b1 = decode_step(p, 1, 512);
    assert_true(near(b1, 1.25e-3 + (L8B_W + 512 * L8B_KV) / 432e9, 1e-9));
    assert_true(near(b1, 38.58e-3, 0.001));
    /* 8 running at 400 context (ShareGPT at 1 request/s): 3.0 ms + 16.48e9 / 432e9 =
     * 41.15 ms; published TPOT 42.5 ms (llm-compressor, A10G) */
    double b8 = decode_step(p, 8, 400);
    assert_true(near(b8, 3.0e-3 + (L8B_W + 8 * 400 * L8B_KV) / 432e9, 1e-9));
    assert_true(near(b8, 42.5e-3, 0.05));
    /* the same run through the scheduler: 100 requests of 228 in / 180 out at 1 per
     * second: TPOT 41.6 ms (published 42.5), TTFT 91 ms (published mean 106, median 79) */
    sim_out o = sim_run(p, 100, 228, 180, 0, 1.0);
    assert_true(near(o.tpot, 42.5e-3, 0.05));
    assert_true(o.ttft > 79e-3 && o.ttft < 106e-3);
    /* offline, 1000 requests of 545 in / 225 out at once: 2.19 requests/s (published
     * 2.16 requests/s, 488 generated tokens/s) */
    o = sim_run(p, 1000, 545, 225, 0, 0);
    assert_true(near(o.req_s, 2.16, 0.05));
    assert_true(near(o.req_s * 225, 488, 0.05));
}

/* L4 (300 GB/s x 0.72, 121 TF x 0.30). */
static void test_l4_figures(void **st)
{
    (void)st;
    const eng_profile *p = prof("llama3-8b-l4");
    /* batch 1 at 512 context: 1.25 ms + 16.127e9 / 216e9 = 75.91 ms (13.2 tokens/s) */
    double b1 = decode_step(p, 1, 512);
    assert_true(near(b1, 1.25e-3 + (L8B_W + 512 * L8B_KV) / 216e9, 1e-9));
    assert_true(near(b1, 75.91e-3, 0.001));
    /* 64 running at 400 context: 17 ms + (16.06e9 + 3.355e9) / 216e9 = 106.9 ms; the
     * matmuls (2 x 8.03e9 x 64 / 36.3e12 = 28.3 ms) stay under the reads */
    double b64 = decode_step(p, 64, 400);
    assert_true(near(b64, 17e-3 + (L8B_W + 64 * 400 * L8B_KV) / 216e9, 1e-9));
    assert_true(near(b64, 106.9e-3, 0.002));
    /* a 2048-token prefill chunk is compute bound: 2 x 8.03e9 x 2048 / 36.3e12 = 906 ms
     * plus 1.25 ms */
    eng_step_work w = {.tokens = 2048, .seqs = 1};
    assert_true(near(eng_timing_step(p, &w), 1.25e-3 + 2 * 8.03e9 * 2048 / 36.3e12, 1e-9));
    /* loaded: 1000 requests of 215 in / 198 out at once (ShareGPT's means): 2.62
     * requests/s, 518 tokens/s; published 2.60 requests/s, 513 tokens/s (vLLM on one L4,
     * arc53/llm-price-compass) */
    sim_out o = sim_run(p, 1000, 215, 198, 0, 0);
    assert_true(near(o.req_s, 2.60, 0.05));
    assert_true(near(o.req_s * 198, 513, 0.05));
}

/* L40S (864 GB/s x 0.72, 362 TF x 0.50): the A10G's efficiencies, not fitted. */
static void test_l40s_figures(void **st)
{
    (void)st;
    const eng_profile *p = prof("llama3-8b-l40s");
    /* batch 1 at 512 context: 1.25 ms + 16.127e9 / 622.08e9 = 27.17 ms */
    double b1 = decode_step(p, 1, 512);
    assert_true(near(b1, 1.25e-3 + (L8B_W + 512 * L8B_KV) / 622.08e9, 1e-9));
    assert_true(near(b1, 27.17e-3, 0.001));
    /* 64 at 400 context: 17 ms + 19.415e9 / 622.08e9 = 48.21 ms */
    double b64 = decode_step(p, 64, 400);
    assert_true(near(b64, 48.21e-3, 0.002));
    /* between the A10G and the A100 40GB at one request (bandwidth 864 vs 600 and 1555) */
    assert_true(b1 < decode_step(prof("llama3-8b-a10g"), 1, 512));
    assert_true(b1 > decode_step(prof("llama3-8b-a100-40g"), 1, 512));
    assert_true(decode_step(prof("llama3-8b-a10g"), 1, 512) <
                decode_step(prof("llama3-8b-l4"), 1, 512));
}

/* What makes a mix worth it: the cheapest type per request differs between
 * short chats and long documents. $ per 1000 requests = price / (requests/s x 3.6)
 * at the highest closed-loop concurrency (1, 2, 3, 4, 6, 8, 12, ..., 256 swept
 * offline) with mean TPOT <= 100 ms and mean TTFT <= 1 s (chat) or 5 s
 * (documents):
 *
 *   type        chat 128 in / 64 out          documents 4096 in / 256 out
 *   H100        c=256 135.5 req/s  $0.0252    c=96 4.78 req/s  $0.714
 *   A100 80GB   c=256  51.5 req/s  $0.0276    c=48 2.08 req/s  $0.684
 *   A100 40GB   c=256  51.5 req/s  $0.0221    c=32 1.70 req/s  $0.669
 *   A10G        c=64   11.3 req/s  $0.0247    c=8  0.33 req/s  $0.840
 *   L4          c=32   4.46 req/s  $0.0501    c=3  0.11 req/s  $2.02
 *   L40S        c=128  24.0 req/s  $0.0216    c=32 1.23 req/s  $0.420
 *
 * The A10G is cheaper than the A100 80GB and the H100 for chats and dearer
 * for documents (its 1989 KV blocks hold 7 such prompts); the L40S, with
 * 48 GB at $1.861, is the cheapest for both at these prices. The points
 * below were the sweep's choices; the H100 and A100 rows are the step model
 * refitted on published runs (issue 20: t_fixed 1.3 ms, per sequence 0.02 /
 * 0.06 ms, was 0.45-0.6 and 0.05 / 0.08) at the same concurrencies. Checked
 * here: they meet the SLO, and the ordering. */
static double cost_per_1k(const char *name, int in, int out, int c, double ttft_slo)
{
    const eng_profile *p = prof(name);
    sim_out o = sim_run(p, c * 8, in, out, c, 0);
    assert_true(o.tpot <= 100e-3);
    assert_true(o.ttft <= ttft_slo);
    return eng_timing_price(p) / (o.req_s * 3.6);
}

static void test_cheapest_type_depends_on_shape(void **st)
{
    (void)st;
    double chat_a10g = cost_per_1k("llama3-8b-a10g", 128, 64, 64, 1.0);
    double chat_a100 = cost_per_1k("llama3-8b-a100-80g", 128, 64, 256, 1.0);
    double chat_h100 = cost_per_1k("llama3-8b-h100", 128, 64, 256, 1.0);
    double chat_l40s = cost_per_1k("llama3-8b-l40s", 128, 64, 128, 1.0);
    double doc_a10g = cost_per_1k("llama3-8b-a10g", 4096, 256, 8, 5.0);
    double doc_a100 = cost_per_1k("llama3-8b-a100-80g", 4096, 256, 48, 5.0);
    double doc_h100 = cost_per_1k("llama3-8b-h100", 4096, 256, 96, 5.0);
    double doc_l40s = cost_per_1k("llama3-8b-l40s", 4096, 256, 32, 5.0);
    assert_true(near(chat_a10g, 0.0247, 0.03) && near(doc_a10g, 0.840, 0.03));
    assert_true(near(chat_a100, 0.0276, 0.03) && near(doc_a100, 0.684, 0.03));
    assert_true(near(chat_h100, 0.0252, 0.03) && near(doc_h100, 0.714, 0.03));
    assert_true(chat_a10g < chat_a100 && chat_a10g < chat_h100);
    assert_true(doc_a10g > doc_a100 && doc_a10g > doc_h100);
    assert_true(chat_l40s < chat_a10g && doc_l40s < doc_a100);
}

/* ---- the price in configuration ---- */

static void test_price_flag_and_metric(void **st)
{
    (void)st;
    eng_config c;
    eng_config_default(&c);
    char *argv[] = {"engine", "--profile", "llama3-8b-l4", "--price-per-hour", "0.62"};
    FILE *dn = fopen("/dev/null", "w");
    assert_non_null(dn);
    assert_int_equal(eng_config_parse(&c, 5, argv, dn, dn), 0);
    assert_true(c.price_per_hour == 0.62);
    eng_config_default(&c);
    assert_true(c.price_per_hour < 0); /* absent: the profile's */
    char *bad[] = {"engine", "--price-per-hour", "2e7"};
    assert_int_equal(eng_config_parse(&c, 3, bad, dn, dn), -1);
    fclose(dn);

    /* --help lists each profile with its price */
    char *help = NULL;
    size_t hlen = 0;
    FILE *hf = open_memstream(&help, &hlen);
    assert_non_null(hf);
    char *hargv[] = {"engine", "--help"};
    eng_config_default(&c);
    assert_int_equal(eng_config_parse(&c, 2, hargv, hf, hf), 1);
    fclose(hf);
    assert_non_null(strstr(help, "--price-per-hour"));
    const char *l4 = strstr(help, "  llama3-8b-l4 ");
    assert_non_null(l4);
    assert_non_null(strstr(l4, "0.805"));
    free(help);

    eng_metrics *m = eng_metrics_new("m", 8192, 0);
    assert_non_null(m);
    bx_buf b;
    bx_buf_init(&b);
    eng_metrics_state s = {.block_size = 16, .num_gpu_blocks = 1992};
    assert_int_equal(eng_metrics_render(m, &s, &b), 0);
    assert_null(strstr(b.data, "brix:engine_price_per_hour"));
    bx_buf_reset(&b);
    s.profile = "llama3-8b-l4";
    s.price_per_hour = 0.805;
    assert_int_equal(eng_metrics_render(m, &s, &b), 0);
    assert_non_null(strstr(b.data, "# TYPE brix:engine_price_per_hour gauge\n"));
    assert_non_null(strstr(b.data, "brix:engine_price_per_hour{engine=\"0\",model_name=\"m\","
                                   "profile=\"llama3-8b-l4\"} 0.805\n"));
    bx_buf_free(&b);
    eng_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpu_types_listed_with_prices),
        cmocka_unit_test(test_kv_capacity_from_memory),
        cmocka_unit_test(test_a10g_figures),
        cmocka_unit_test(test_l4_figures),
        cmocka_unit_test(test_l40s_figures),
        cmocka_unit_test(test_cheapest_type_depends_on_shape),
        cmocka_unit_test(test_price_flag_and_metric),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
