/* eng_timing: the step model reproduces the figures it was fitted to
 * (docs/engine.md): these are simulated seconds, not wall-clock times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "engine/eng_timing.h"

static double decode_step(const eng_profile *p, int batch, int ctx)
{
    eng_step_work w = {.tokens = batch, .decode_ctx = (int64_t)batch * ctx, .seqs = batch};
    return eng_timing_step(p, &w);
}

static void test_profiles_exist(void **st)
{
    (void)st;
    int n = 0;
    for (const eng_profile *const *p = eng_timing_profiles(); *p; p++)
        n++;
    assert_int_equal(n, 9);
    assert_non_null(eng_timing_find("llama3-8b-h100"));
    assert_non_null(eng_timing_find("llama3-8b-a100-40g"));
    assert_null(eng_timing_find("nope"));
}

static void test_h100_decode_figures(void **st)
{
    (void)st;
    const eng_profile *p = eng_timing_find("llama3-8b-h100");
    double b1 = decode_step(p, 1, 512);
    /* measured TPOT p50 6.48 ms (vLLM 0.21); the refit on vLLM 0.6.0's large
     * batches and the CI's batch of 8 (issue 20) gives 7.35 ms: within 15 % */
    assert_true(b1 > 5.5e-3 && b1 < 7.45e-3);
    double b32 = decode_step(p, 32, 1500);
    assert_true(b32 > 8.5e-3 && b32 < 12.5e-3); /* ~9-12 ms */
    double b128 = decode_step(p, 128, 1500);
    assert_true(b128 > 15e-3 && b128 < 25e-3); /* ~15-25 ms */
    assert_true(b1 < b32 && b32 < b128);
}

static void test_a100_slower_and_prefill_compute_bound(void **st)
{
    (void)st;
    const eng_profile *h = eng_timing_find("llama3-8b-h100");
    const eng_profile *a = eng_timing_find("llama3-8b-a100-40g");
    double a1 = decode_step(a, 1, 512);
    assert_true(a1 > 12e-3 && a1 < 15e-3); /* ~13 ms on A100 40GB */
    assert_true(a1 > decode_step(h, 1, 512));
    /* a long prefill is compute bound: ~25-35k tokens/s on H100 */
    eng_step_work w = {.tokens = 8192, .prefill_attn = 0, .seqs = 1};
    double t = eng_timing_step(h, &w);
    double tps = 8192 / t;
    assert_true(tps > 25000 && tps < 36000);
    /* A100: ~12-15k tokens/s */
    w.tokens = 2048;
    tps = 2048 / eng_timing_step(a, &w);
    assert_true(tps > 11000 && tps < 15500);
}

static void test_lora_and_empty(void **st)
{
    (void)st;
    const eng_profile *p = eng_timing_find("llama3-8b-h100");
    eng_step_work w = {0};
    assert_true(eng_timing_step(p, &w) == 0.0);
    w.tokens = 1;
    w.seqs = 1;
    double base = eng_timing_step(p, &w);
    w.iters = 3; /* a multi-step burst: three passes of the same work */
    assert_true(fabs(eng_timing_step(p, &w) - 3 * base) < 1e-12);
    w.iters = 0;
    w.lora_swaps = 1;
    assert_true(eng_timing_step(p, &w) > base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles_exist),
        cmocka_unit_test(test_h100_decode_figures),
        cmocka_unit_test(test_a100_slower_and_prefill_compute_bound),
        cmocka_unit_test(test_lora_and_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
