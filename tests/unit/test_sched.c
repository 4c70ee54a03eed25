/* eng_sched: continuous batching, chunked prefill, prefix hits, preemption,
 * LoRA skipping, aborts, and the block events it reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/eng_sched.h"

struct rec {
    int tokens[16];   /* tokens seen per tag */
    int finished[16]; /* finish reason + 1 */
    int first_step[16];
    int stored_blocks;
    int removed;
    int step;
};

static void on_token(eng_seq *q, uint32_t id, double now, void *ud)
{
    (void)id;
    (void)now;
    struct rec *r = ud;
    int tag = (int)(intptr_t)q->ud;
    if (r->tokens[tag]++ == 0) r->first_step[tag] = r->step;
}
static void on_finish(eng_seq *q, enum eng_finish why, double now, void *ud)
{
    (void)now;
    struct rec *r = ud;
    r->finished[(int)(intptr_t)q->ud] = (int)why + 1;
}
static void on_stored(eng_seq *q, int32_t first, int32_t n, void *ud)
{
    (void)q;
    (void)first;
    ((struct rec *)ud)->stored_blocks += n;
}
static void on_removed(uint64_t key, void *ud)
{
    (void)key;
    ((struct rec *)ud)->removed++;
}
static uint32_t gen_token(eng_seq *q, int32_t i, void *ud)
{
    (void)ud;
    return 1000u + (uint32_t)i + (uint32_t)q->num_prompt;
}

static const eng_sched_cbs cbs = {on_token, on_finish, on_stored, on_removed, gen_token};

static void mk(eng_sched *s, struct rec *r, int32_t seqs, int32_t budget, int32_t bs,
               int32_t blocks, int32_t loras)
{
    memset(r, 0, sizeof(*r));
    eng_sched_cfg c = {.max_num_seqs = seqs,
                       .max_num_batched_tokens = budget,
                       .block_size = bs,
                       .num_gpu_blocks = blocks,
                       .max_loras = loras,
                       .max_cpu_loras = loras,
                       .hash_seed = "0"};
    assert_int_equal(eng_sched_init(s, &c, &cbs, r), 0);
}

static int run_step(eng_sched *s, struct rec *r, eng_step_work *w)
{
    r->step++;
    int n = eng_sched_plan(s, r->step, w);
    eng_sched_commit(s, r->step + 0.5);
    return n;
}

static void prompt(uint32_t *p, int n, uint32_t base)
{
    for (int i = 0; i < n; i++)
        p[i] = base + (uint32_t)i;
}

static void test_single_request_lifecycle(void **st)
{
    (void)st;
    eng_sched s;
    struct rec r;
    eng_step_work w;
    mk(&s, &r, 8, 512, 16, 64, 1);
    uint32_t p[40];
    prompt(p, 40, 500);
    assert_non_null(eng_sched_add(&s, p, 40, 3, -1, 0, (void *)1));
    assert_int_equal(run_step(&s, &r, &w), 1);
    assert_int_equal(w.tokens, 40); /* whole prefill in one step */
    assert_int_equal(r.tokens[1], 1);
    run_step(&s, &r, &w);
    assert_int_equal(w.tokens, 1);
    assert_int_equal(w.decode_ctx, 40);
    run_step(&s, &r, &w);
    assert_int_equal(r.tokens[1], 3);
    assert_int_equal(r.finished[1], ENG_FINISH_LENGTH + 1);
    assert_false(eng_sched_has_work(&s));
    assert_true(eng_blocks_usage(&s.blocks) == 0.0);
    assert_int_equal(r.stored_blocks, 2); /* 42 computed tokens: 2 full blocks */
    assert_int_equal(s.stats.prompt_tokens, 40);
    assert_int_equal(s.stats.generation_tokens, 3);
    eng_sched_close(&s);
}

static void test_chunked_prefill(void **st)
{
    (void)st;
    eng_sched s;
    struct rec r;
    eng_step_work w;
    mk(&s, &r, 8, 16, 16, 64, 1);
    uint32_t p[40];
    prompt(p, 40, 500);
    eng_sched_add(&s, p, 40, 2, -1, 0, (void *)1);
    run_step(&s, &r, &w);
    assert_int_equal(w.tokens, 16);
    run_step(&s, &r, &w);
    assert_int_equal(r.tokens[1], 0);
    run_step(&s, &r, &w);
    assert_int_equal(w.tokens, 8);
    assert_int_equal(r.tokens[1], 1);
    assert_int_equal(r.first_step[1], 3);
    eng_sched_close(&s);
}

static void test_max_num_seqs_and_budget_share(void **st)
{
    (void)st;
    eng_sched s;
    struct rec r;
    eng_step_work w;
    mk(&s, &r, 2, 512, 16, 64, 1);
    uint32_t p[8];
    prompt(p, 8, 1);
    for (int i = 1; i <= 3; i++)
        eng_sched_add(&s, p, 8, 4, -1, 0, (void *)(intptr_t)i);
    assert_int_equal(run_step(&s, &r, &w), 2);
    assert_int_equal(s.num_waiting, 1);
    assert_int_equal(r.tokens[3], 0);
    while (eng_sched_has_work(&s))
        run_step(&s, &r, &w);
    assert_int_equal(r.tokens[3], 4);
    assert_true(r.first_step[3] > r.first_step[1]);
    eng_sched_close(&s);
}

static void test_prefix_cache_hit(void **st)
{
    (void)st;
    eng_sched s;
    struct rec r;
    eng_step_work w;
    mk(&s, &r, 8, 512, 16, 64, 1);
    uint32_t p[40];
    prompt(p, 40, 7);
    eng_sched_add(&s, p, 40, 1, -1, 0, (void *)1);
    run_step(&s, &r, &w);
    assert_int_equal(r.finished[1], ENG_FINISH_LENGTH + 1);
    eng_seq *q = eng_sched_add(&s, p, 40, 1, -1, 0, (void *)2);
    int32_t cached = -1;
    eng_sched_plan(&s, 10, &w);
    cached = q->num_cached_tokens;
    eng_sched_commit(&s, 11);
    assert_int_equal(cached, 32);
    assert_int_equal(w.tokens, 8);
    assert_int_equal(s.stats.prefix_queries, 80);
    assert_int_equal(s.stats.prefix_hits, 32);
    /* a fully cached 32-token prompt still computes its last block */
    uint32_t p2[32];
    prompt(p2, 32, 7);
    q = eng_sched_add(&s, p2, 32, 1, -1, 0, (void *)3);
    eng_sched_plan(&s, 12, &w);
    assert_int_equal(q->num_cached_tokens, 16);
    eng_sched_commit(&s, 13);
    eng_sched_close(&s);
}

static void test_preemption_by_recompute(void **st)
{
    (void)st;
    eng_sched s;
    struct rec r;
    eng_step_work w;
    /* 6 blocks of 4 tokens: two requests of 6 + 10 tokens need 4 each */
    mk(&s, &r, 8, 512, 4, 6, 1);
    uint32_t a[6], b[6];
    prompt(a, 6, 100);
    prompt(b, 6, 200);
    eng_sched_add(&s, a, 6, 10, -1, 0, (void *)1);
    eng_sched_add(&s, b, 6, 10, -1, 0, (void *)2);
    int guard = 0;
    int saw_waiting_with_free_slot = 0;
    while (eng_sched_has_work(&s) && guard++ < 200) {
        run_step(&s, &r, &w);
        if (s.num_waiting > 0 && s.num_running < 8) saw_waiting_with_free_slot = 1;
    }
    assert_true(guard < 200);
    assert_true(s.stats.preemptions > 0);
    assert_true(saw_waiting_with_free_slot);
    assert_int_equal(r.tokens[1], 10);
    assert_int_equal(r.tokens[2], 10);
    assert_int_equal(r.finished[2], ENG_FINISH_LENGTH + 1);
    assert_true(eng_blocks_usage(&s.blocks) == 0.0);
    assert_true(r.removed > 0);
    eng_sched_close(&s);
}

static void test_lora_skip_does_not_block(void **st)
{
    (void)st;
    eng_sched s;
    struct rec r;
    eng_step_work w;
    mk(&s, &r, 8, 512, 16, 64, 1);
    assert_int_equal(eng_lora_add(&s.lora, "a", "/a"), 0);
    assert_int_equal(eng_lora_add(&s.lora, "b", "/b"), 0);
    int la = eng_lora_find(&s.lora, "a"), lb = eng_lora_find(&s.lora, "b");
    uint32_t p[8];
    prompt(p, 8, 1);
    eng_sched_add(&s, p, 8, 3, la, 0, (void *)1);
    eng_sched_add(&s, p, 8, 3, lb, 0, (void *)2);
    eng_sched_add(&s, p, 8, 3, -1, 0, (void *)3);
    assert_int_equal(run_step(&s, &r, &w), 2); /* a and base; b skipped */
    assert_int_equal(w.lora_swaps, 1);
    assert_int_equal(r.tokens[2], 0);
    assert_int_equal(r.tokens[3], 1);
    while (eng_sched_has_work(&s))
        run_step(&s, &r, &w);
    assert_int_equal(r.tokens[2], 3);
    assert_int_equal(s.lora.active, 0);
    eng_sched_close(&s);
}

static void test_abort_frees_blocks(void **st)
{
    (void)st;
    eng_sched s;
    struct rec r;
    eng_step_work w;
    mk(&s, &r, 8, 512, 16, 64, 1);
    uint32_t p[40];
    prompt(p, 40, 3);
    eng_seq *q1 = eng_sched_add(&s, p, 40, 100, -1, 0, (void *)1);
    eng_seq *q2 = eng_sched_add(&s, p, 40, 100, -1, 0, (void *)2);
    run_step(&s, &r, &w);
    assert_true(eng_blocks_usage(&s.blocks) > 0);
    eng_sched_abort(&s, q1, 2); /* not in a plan: immediate */
    assert_int_equal(r.finished[1], ENG_FINISH_ABORT + 1);
    eng_sched_plan(&s, 3, &w);
    eng_sched_abort(&s, q2, 3); /* in the plan: at commit */
    assert_int_equal(r.finished[2], 0);
    eng_sched_commit(&s, 4);
    assert_int_equal(r.finished[2], ENG_FINISH_ABORT + 1);
    assert_false(eng_sched_has_work(&s));
    assert_true(eng_blocks_usage(&s.blocks) == 0.0);
    eng_sched_close(&s);
}

/* --scheduler vllm-v0: a prompt is admitted whole and its step stalls the
 * running decodes; with num_scheduler_steps 4 a decode step is a burst of 4
 * passes whose tokens all come at its end. */
static void test_vllm_v0_prefill_first_and_bursts(void **st)
{
    (void)st;
    eng_sched s;
    struct rec r;
    eng_step_work w;
    memset(&r, 0, sizeof(r));
    eng_sched_cfg c = {.max_num_seqs = 8,
                       .max_num_batched_tokens = 64,
                       .block_size = 16,
                       .num_gpu_blocks = 64,
                       .max_loras = 1,
                       .max_cpu_loras = 1,
                       .hash_seed = "0",
                       .policy = ENG_SCHED_VLLM_V0,
                       .num_scheduler_steps = 4};
    assert_int_equal(eng_sched_init(&s, &c, &cbs, &r), 0);
    uint32_t p1[40], p2[40], p3[40];
    prompt(p1, 40, 100);
    prompt(p2, 40, 200);
    prompt(p3, 40, 300);
    eng_sched_add(&s, p1, 40, 10, -1, 0, (void *)1);
    eng_sched_add(&s, p2, 40, 10, -1, 0, (void *)2);
    assert_int_equal(run_step(&s, &r, &w), 1); /* 80 tokens: the second waits, whole */
    assert_int_equal(w.tokens, 40);
    assert_int_equal(run_step(&s, &r, &w), 1); /* prefill of 2; 1 does not decode */
    assert_int_equal(w.tokens, 40);
    assert_int_equal(r.tokens[1], 1);
    assert_int_equal(run_step(&s, &r, &w), 2); /* a burst of 4 for both */
    assert_int_equal(w.iters, 4);
    assert_int_equal(w.tokens, 2);
    assert_int_equal(r.tokens[1], 5);
    assert_int_equal(r.tokens[2], 5);
    eng_sched_add(&s, p3, 40, 10, -1, 0, (void *)3);
    assert_int_equal(run_step(&s, &r, &w), 1); /* the newcomer's prefill alone */
    assert_int_equal(w.iters, 0);
    assert_int_equal(r.tokens[1], 5);
    run_step(&s, &r, &w);
    assert_int_equal(r.tokens[1], 9);
    run_step(&s, &r, &w); /* the last token: a burst of one */
    assert_int_equal(r.tokens[1], 10);
    assert_int_equal(r.finished[1], ENG_FINISH_LENGTH + 1);
    assert_int_equal(r.tokens[3], 9);
    while (eng_sched_has_work(&s))
        run_step(&s, &r, &w);
    assert_int_equal(r.tokens[3], 10);
    assert_true(eng_blocks_usage(&s.blocks) == 0.0);
    eng_sched_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_request_lifecycle),
        cmocka_unit_test(test_chunked_prefill),
        cmocka_unit_test(test_max_num_seqs_and_budget_share),
        cmocka_unit_test(test_prefix_cache_hit),
        cmocka_unit_test(test_preemption_by_recompute),
        cmocka_unit_test(test_lora_skip_does_not_block),
        cmocka_unit_test(test_abort_frees_blocks),
        cmocka_unit_test(test_vllm_v0_prefill_first_and_bursts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
