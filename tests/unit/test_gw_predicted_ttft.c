/* predicted-ttft strategy: predictions from the prior, the prefix index
 * (real vLLM block keys from bx_tok + bx_blockhash_chain), queue estimates
 * from scraped waiting/running or gateway in-flight, the near-best random
 * pick, the online fit, and the index shared with prefix-cache. Expected
 * values are computed by hand in the comments (prior: 30 us/token, 10 ms).
 * Prompts are " xyz" words, one token each. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_blockhash.h"
#include "common/bx_tok.h"
#include "gateway/gw_strategy.h"

extern const gw_strategy gw_strategy_predicted_ttft;
extern const gw_strategy gw_strategy_prefix_cache;

#define MAXTOK 8192

typedef struct preq {
    char text[MAXTOK * 4 + 1];
    uint32_t tok[MAXTOK];
    uint64_t keys[MAXTOK / 16];
    gw_route_req rq;
} preq;

static size_t words(char *out, size_t at, int from, int n)
{
    for (int w = from; w < from + n; w++) {
        out[at++] = ' ';
        out[at++] = (char)('a' + w / 676 % 26);
        out[at++] = (char)('a' + w / 26 % 26);
        out[at++] = (char)('a' + w % 26);
    }
    out[at] = 0;
    return at;
}

static void mkreq(preq *q, int shared, int tail_from, int tail)
{
    size_t len = words(q->text, 0, 0, shared);
    len = words(q->text, len, tail_from, tail);
    size_t n = bx_tok_encode(q->text, len, q->tok, NULL, MAXTOK);
    assert_int_equal(n, (size_t)(shared + tail));
    bx_blockhash root;
    bx_blockhash_root("0", &root);
    size_t nb = bx_blockhash_chain(&root, q->tok, n, 16, NULL, n / 16, q->keys, NULL);
    q->rq = (gw_route_req){.model = "m",
                           .tokens = q->tok,
                           .ntokens = n,
                           .block_keys = q->keys,
                           .nblocks = nb,
                           .max_tokens = -1};
}

static gw_engine eng[3];
static gw_engine *cands[3];
static preq q1, q2;

static void fleet(const int32_t *inflight)
{
    for (int i = 0; i < 3; i++) {
        memset(&eng[i], 0, sizeof(eng[i]));
        eng[i].id = i;
        gw_engine_clear_metrics(&eng[i]);
        eng[i].inflight = inflight[i];
        cands[i] = &eng[i];
    }
}

static gw_prefix *idx; /* the index of the strategy made by mk */

static void *mk(gw_strategy_cfg *cfg)
{
    gw_strategy_cfg_default(cfg);
    cfg->prefix_max_bytes = 1 << 20;
    idx = gw_prefix_create(cfg->prefix_max_bytes); /* what the router lends */
    assert_non_null(idx);
    void *st = gw_strategy_predicted_ttft.create(cfg, idx);
    assert_non_null(st);
    return st;
}

static void rm(void *st)
{
    gw_strategy_predicted_ttft.destroy(st);
    gw_prefix_destroy(idx);
    idx = NULL;
}

static int pick(void *st, preq *q, int n, uint64_t rnd)
{
    q->rq.rnd = rnd;
    return gw_strategy_predicted_ttft.pick(st, &q->rq, cands, n);
}

static void test_table_entry(void **state)
{
    (void)state;
    const gw_strategy *s = gw_strategy_find("predicted-ttft");
    assert_ptr_equal(s, &gw_strategy_predicted_ttft);
    assert_string_equal(s->fallback, "least-request");
}

static void test_prior_inflight(void **state)
{
    (void)state;
    gw_strategy_cfg cfg;
    void *st = mk(&cfg);
    /* 160 tokens, nothing cached, waiting NaN -> ahead = in-flight;
     * per request 0.01 + 160 * 30e-6 = 0.0148 s;
     * TTFT = [3, 1, 2] * 0.0148 = [0.0444, 0.0148, 0.0296]: only eng1 is
     * within max(10 %, 2 ms) of the best */
    fleet((int32_t[]){2, 0, 1});
    mkreq(&q1, 160, 0, 0);
    for (uint64_t r = 0; r < 32; r++)
        assert_int_equal(pick(st, &q1, 3, r), 1);
    assert_int_equal(gw_strategy_predicted_ttft.pick(st, &q1.rq, cands, 0), -1);
    rm(st);
}

static void test_cache_vs_queue(void **state)
{
    (void)state;
    gw_strategy_cfg cfg;
    void *st = mk(&cfg);
    fleet((int32_t[]){0, 0, 0});
    mkreq(&q1, 4096, 0, 0); /* 4096 tokens, 256 blocks */
    q1.rq.rnd = 99;
    gw_strategy_predicted_ttft.on_routed(st, &q1.rq, &eng[0]); /* eng0 avg uncached 4096 */
    /* eng0: 0.01 + 0 tokens = 0.01; eng1, eng2: 0.01 + 4096 * 30e-6 = 0.13288 */
    for (uint64_t r = 0; r < 16; r++)
        assert_int_equal(pick(st, &q1, 2, r), 0);
    /* eng0 has 5 in flight, waiting NaN: 5 * (0.01 + 4096 * 30e-6) + 0.01
     * = 0.6744 > 0.13288: eng1 */
    eng[0].inflight = 5;
    for (uint64_t r = 0; r < 16; r++)
        assert_int_equal(pick(st, &q1, 2, r), 1);
    /* scraped waiting 0 with running 5 = in-flight 5: nobody queued: 0.01 */
    eng[0].waiting = 0;
    eng[0].running = 5;
    assert_int_equal(pick(st, &q1, 2, 3), 0);
    /* running 2 while the gateway has 5 in flight: 3 queued by the live
     * count, beating the scrape's 0: 3 * 0.13288 + 0.01 = 0.40864 */
    eng[0].running = 2;
    assert_int_equal(pick(st, &q1, 2, 3), 1);
    /* half cached: q2 shares 2048 tokens (128 blocks) with q1;
     * eng0 idle: 0.01 + 2048 * 30e-6 = 0.07144 < 0.13288 */
    eng[0].inflight = 0;
    eng[0].waiting = NAN;
    mkreq(&q2, 2048, 5000, 2048);
    assert_int_equal(q2.rq.ntokens, 4096);
    for (uint64_t r = 0; r < 16; r++)
        assert_int_equal(pick(st, &q2, 2, r), 0);
    rm(st);
}

static void test_near_best_random(void **state)
{
    (void)state;
    gw_strategy_cfg cfg;
    void *st = mk(&cfg);
    fleet((int32_t[]){0, 0, 0});
    mkreq(&q1, 160, 0, 0);
    /* eng0 prior: 0.0148; eng1 fitted base 0.011: 0.0158 <= 0.0148 + 2 ms;
     * eng2 fitted base 0.1: 0.1048, never */
    eng[1].obs_samples = 1;
    eng[1].obs_prefill_s_per_tok = 30e-6;
    eng[1].obs_ttft_base_s = 0.011;
    eng[2].obs_samples = 1;
    eng[2].obs_prefill_s_per_tok = 30e-6;
    eng[2].obs_ttft_base_s = 0.1;
    int seen[3] = {0};
    for (uint64_t r = 0; r < 64; r++)
        seen[pick(st, &q1, 3, r * 0x9e3779b97f4a7c15ULL)]++;
    assert_true(seen[0] > 0 && seen[1] > 0);
    assert_int_equal(seen[2], 0);
    /* eng1 base 0.017: 0.0218 > 0.0168: only eng0 */
    eng[1].obs_ttft_base_s = 0.017;
    for (uint64_t r = 0; r < 32; r++)
        assert_int_equal(pick(st, &q1, 3, r), 0);
    rm(st);
}

static void route_done(void *st, gw_engine *e, size_t ntok, uint64_t rnd, int status, double ttft)
{
    gw_route_req rq = {.model = "m", .ntokens = ntok, .max_tokens = -1, .rnd = rnd};
    gw_route_result res = {.status = status,
                           .prompt_tokens = (int32_t)ntok,
                           .completion_tokens = 1,
                           .ttft_s = ttft,
                           .e2e_s = ttft};
    gw_strategy_predicted_ttft.on_routed(st, &rq, e);
    gw_strategy_predicted_ttft.on_done(st, &rq, e, &res);
}

static void test_online_fit(void **state)
{
    (void)state;
    gw_strategy_cfg cfg;
    void *st = mk(&cfg);
    fleet((int32_t[]){0, 0, 0});
    /* failures, unknown TTFT and unknown requests teach nothing */
    route_done(st, &eng[0], 1000, 1, 500, 0.5);
    route_done(st, &eng[0], 1000, 2, 200, -1);
    gw_route_req other = {.ntokens = 10, .rnd = 77};
    gw_route_result ok = {.status = 200, .ttft_s = 0.1};
    gw_strategy_predicted_ttft.on_done(st, &other, &eng[0], &ok);
    assert_int_equal(eng[0].obs_samples, 0);
    /* one sample at x = 1000, y = 0.055 against the prior seeds (0, 0.01)
     * and (1024, 0.04072): it moves the line, once */
    route_done(st, &eng[0], 1000, 3, 200, 0.055);
    assert_int_equal(eng[0].obs_samples, 1);
    gw_route_req again = {.ntokens = 1000, .rnd = 3};
    gw_strategy_predicted_ttft.on_done(st, &again, &eng[0], &ok); /* done twice: ignored */
    assert_int_equal(eng[0].obs_samples, 1);
    assert_true(eng[0].obs_prefill_s_per_tok > 30e-6);
    /* the engine really runs 5 ms + 50 us/token: the fit converges */
    uint64_t x = 12345;
    for (int i = 0; i < 400; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t ntok = 100 + (size_t)(x >> 33) % 4000;
        route_done(st, &eng[0], ntok, 1000 + (uint64_t)i, 200, 0.005 + 50e-6 * (double)ntok);
    }
    assert_int_equal(eng[0].obs_samples, 401);
    assert_true(fabs(eng[0].obs_prefill_s_per_tok - 50e-6) < 0.5e-6);
    assert_true(fabs(eng[0].obs_ttft_base_s - 0.005) < 0.0005);
    /* the other engines keep the prior */
    assert_int_equal(eng[1].obs_samples, 0);
    /* a faster engine (2 ms + 10 us/token) learned the same way is now
     * preferred for a long prompt: 0.002 + 0.04 < 0.005 + 0.2 */
    for (int i = 0; i < 400; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t ntok = 100 + (size_t)(x >> 33) % 4000;
        route_done(st, &eng[1], ntok, 5000 + (uint64_t)i, 200, 0.002 + 10e-6 * (double)ntok);
    }
    assert_true(fabs(eng[1].obs_prefill_s_per_tok - 10e-6) < 0.5e-6);
    mkreq(&q1, 4000, 0, 0);
    for (uint64_t r = 0; r < 16; r++)
        assert_int_equal(pick(st, &q1, 2, r), 1);
    rm(st);
}

static void test_shared_index(void **state)
{
    (void)state;
    gw_strategy_cfg cfg;
    gw_strategy_cfg_default(&cfg);
    cfg.prefix_max_bytes = 1 << 20;
    gw_prefix *shared = gw_prefix_create(cfg.prefix_max_bytes); /* the router's */
    assert_non_null(shared);
    void *pc = gw_strategy_prefix_cache.create(&cfg, shared);
    void *pt = gw_strategy_predicted_ttft.create(&cfg, shared);
    assert_non_null(pc);
    assert_non_null(pt);
    /* the index counts once: in the router's mem_bytes, in neither strategy's */
    assert_true(gw_strategy_prefix_cache.mem_bytes(pc) < (1 << 19));
    assert_true(gw_strategy_predicted_ttft.mem_bytes(pt) < (1 << 19));
    fleet((int32_t[]){0, 0, 0});
    mkreq(&q1, 1024, 0, 0);
    /* prefix-cache records q1 on eng2; predicted-ttft sees it: 0.01 vs
     * 0.01 + 1024 * 30e-6 = 0.04072 */
    gw_strategy_prefix_cache.on_routed(pc, &q1.rq, &eng[2]);
    for (uint64_t r = 0; r < 16; r++)
        assert_int_equal(pick(pt, &q1, 3, r), 2);
    /* and the other way, after prefix-cache is gone (the index lives on) */
    gw_strategy_prefix_cache.destroy(pc);
    mkreq(&q2, 0, 3000, 1024);
    q2.rq.rnd = 5;
    gw_strategy_predicted_ttft.on_routed(pt, &q2.rq, &eng[1]);
    for (uint64_t r = 0; r < 16; r++)
        assert_int_equal(pick(pt, &q2, 3, r), 1);
    gw_strategy_predicted_ttft.destroy(pt);
    gw_prefix_destroy(shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_entry),    cmocka_unit_test(test_prior_inflight),
        cmocka_unit_test(test_cache_vs_queue), cmocka_unit_test(test_near_best_random),
        cmocka_unit_test(test_online_fit),     cmocka_unit_test(test_shared_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
