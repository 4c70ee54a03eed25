/* prefix-cache strategy: matching on real vLLM block keys (bx_tok +
 * bx_blockhash_chain), the load-imbalance guard, the stddev test, ties and
 * the fallback through the router. Expected picks are computed by hand in
 * the comments. Prompts are built from " xyz" words, one token each, so a
 * prompt of w words is w tokens and w / 16 blocks. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_blockhash.h"
#include "common/bx_tok.h"
#include "gateway/gw_prefix.h"
#include "gateway/gw_router.h"
#include "gateway/gw_strategy.h"

extern const gw_strategy gw_strategy_prefix_cache;

#define MAXTOK 8192

typedef struct preq {
    char text[MAXTOK * 4 + 1];
    uint32_t tok[MAXTOK];
    uint64_t keys[MAXTOK / 16];
    gw_route_req rq;
} preq;

/* appends words [from, from + n) as " abc" pieces */
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

/* prompt = words [0, shared) then words [tail_from, tail_from + tail) */
static void mkreq(preq *q, int shared, int tail_from, int tail, uint64_t rnd)
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
                           .max_tokens = -1,
                           .rnd = rnd};
}

static gw_engine eng[4];
static gw_engine *cands[4];
static preq q1, q2, q3;

static void fleet(const int32_t *inflight)
{
    for (int i = 0; i < 4; i++) {
        memset(&eng[i], 0, sizeof(eng[i]));
        eng[i].id = i;
        gw_engine_clear_metrics(&eng[i]);
        eng[i].inflight = inflight[i];
        cands[i] = &eng[i];
    }
}

static gw_prefix *idx; /* the index of the strategy made by mk */

static void *mk(gw_strategy_cfg *cfg, double factor)
{
    gw_strategy_cfg_default(cfg);
    cfg->prefix_max_bytes = 1 << 20;
    idx = gw_prefix_create(cfg->prefix_max_bytes); /* what the router lends */
    assert_non_null(idx);
    void *st = gw_strategy_prefix_cache.create(cfg, idx);
    assert_non_null(st);
    char val[32], err[128];
    snprintf(val, sizeof(val), "%.17g", factor);
    assert_int_equal(gw_strategy_prefix_cache.configure(st, "stddev-factor", val, err, sizeof(err)),
                     0);
    return st;
}

static void rm(void *st)
{
    gw_strategy_prefix_cache.destroy(st);
    gw_prefix_destroy(idx);
    idx = NULL;
}

static int pick(void *st, preq *q, uint64_t rnd)
{
    q->rq.rnd = rnd;
    return gw_strategy_prefix_cache.pick(st, &q->rq, cands, 4);
}

static void test_table_entry(void **state)
{
    (void)state;
    const gw_strategy *s = gw_strategy_find("prefix-cache");
    assert_ptr_equal(s, &gw_strategy_prefix_cache);
    assert_string_equal(s->fallback, "least-request");
}

static void test_no_match(void **state)
{
    (void)state;
    gw_strategy_cfg cfg;
    void *st = mk(&cfg, 1);
    fleet((int32_t[]){0, 0, 0, 0});
    mkreq(&q1, 64, 0, 0, 1);
    assert_int_equal(q1.rq.nblocks, 4);
    assert_int_equal(pick(st, &q1, 1), -1); /* empty index */
    mkreq(&q2, 10, 0, 0, 1);                /* under one block: no keys */
    assert_int_equal(q2.rq.nblocks, 0);
    gw_strategy_prefix_cache.on_routed(st, &q2.rq, &eng[0]);
    assert_int_equal(pick(st, &q2, 1), -1);
    rm(st);
}

static void test_routed_then_match(void **state)
{
    (void)state;
    gw_strategy_cfg cfg;
    void *st = mk(&cfg, 1);
    fleet((int32_t[]){0, 0, 0, 0});
    mkreq(&q1, 64, 0, 0, 1);
    gw_strategy_prefix_cache.on_routed(st, &q1.rq, &eng[2]);
    for (uint64_t r = 0; r < 32; r++)
        assert_int_equal(pick(st, &q1, r), 2);
    rm(st);
}

/* shared prefix 48 tokens (3 blocks) + 32-token tails: 5 blocks each */
static void test_longest_match_and_ties(void **state)
{
    (void)state;
    gw_strategy_cfg cfg;
    void *st = mk(&cfg, 1);
    fleet((int32_t[]){0, 0, 0, 0});
    mkreq(&q1, 48, 1000, 32, 0);
    mkreq(&q2, 48, 2000, 32, 0);
    mkreq(&q3, 48, 3000, 32, 0);
    assert_int_equal(q1.rq.nblocks, 5);
    gw_strategy_prefix_cache.on_routed(st, &q1.rq, &eng[1]);
    gw_strategy_prefix_cache.on_routed(st, &q2.rq, &eng[3]);
    /* q1: eng1 100 %, eng3 60 % -> 1; q2 the other way round */
    for (uint64_t r = 0; r < 16; r++) {
        assert_int_equal(pick(st, &q1, r), 1);
        assert_int_equal(pick(st, &q2, r), 3);
    }
    /* q3: eng1 and eng3 both 60 %, same load: random between them */
    int seen[4] = {0};
    for (uint64_t r = 0; r < 64; r++)
        seen[pick(st, &q3, r * 0x9e3779b97f4a7c15ULL)]++;
    assert_int_equal(seen[0] + seen[2], 0);
    assert_true(seen[1] > 0 && seen[3] > 0);
    /* in-flight [2,1,2,2]: mean 1.75, sd 0.5, limit 2.25: both pass,
     * equal match%: the lower in-flight (eng1) wins */
    fleet((int32_t[]){2, 1, 2, 2});
    for (uint64_t r = 0; r < 16; r++)
        assert_int_equal(pick(st, &q3, r), 1);
    rm(st);
}

static void test_stddev_limit(void **state)
{
    (void)state;
    gw_strategy_cfg cfg;
    void *st = mk(&cfg, 1);
    /* in-flight [0,4,4,8]: max-min 8 is not > 8 (no guard); mean 4,
     * sample sd sqrt(32/3) = 3.27, limit 7.27: eng3 (8) is over it */
    fleet((int32_t[]){0, 4, 4, 8});
    mkreq(&q1, 48, 1000, 32, 0);
    gw_strategy_prefix_cache.on_routed(st, &q1.rq, &eng[3]);
    assert_int_equal(pick(st, &q1, 1), -1); /* only eng3 matches */
    mkreq(&q2, 48, 2000, 32, 0);
    gw_strategy_prefix_cache.on_routed(st, &q2.rq, &eng[1]); /* 3 of q1's 5 blocks */
    assert_int_equal(pick(st, &q1, 1), 1); /* 60 % under the limit beats 100 % over it */
    rm(st);

    /* F = 2: limit 4 + 6.53 = 10.53: eng3's 100 % wins */
    st = mk(&cfg, 2);
    gw_strategy_prefix_cache.on_routed(st, &q1.rq, &eng[3]);
    gw_strategy_prefix_cache.on_routed(st, &q2.rq, &eng[1]);
    assert_int_equal(pick(st, &q1, 1), 3);
    rm(st);
}

static void test_imbalance_guard(void **state)
{
    (void)state;
    gw_strategy_cfg cfg;
    void *st = mk(&cfg, 1);
    mkreq(&q1, 48, 1000, 32, 0);
    mkreq(&q2, 48, 2000, 32, 0);
    fleet((int32_t[]){9, 0, 5, 0});
    gw_strategy_prefix_cache.on_routed(st, &q1.rq, &eng[0]);
    gw_strategy_prefix_cache.on_routed(st, &q1.rq, &eng[2]);
    gw_strategy_prefix_cache.on_routed(st, &q2.rq, &eng[3]);
    /* max-min 9 > 8: only eng1 and eng3 (in-flight 0) stay; eng3 has 60 % */
    for (uint64_t r = 0; r < 16; r++)
        assert_int_equal(pick(st, &q1, r), 3);
    /* [8,0,5,0]: no guard; mean 3.25, sd sqrt(46.75/3) = 3.95, limit 7.2:
     * eng0 (8) fails, eng2 (5) passes with 100 % */
    eng[0].inflight = 8;
    for (uint64_t r = 0; r < 16; r++)
        assert_int_equal(pick(st, &q1, r), 2);
    /* imbalance-abs is the strategy's own setting: at 9, [9,0,5,0] (max -
     * min 9, not > 9) is not guarded; mean 3.5, sd sqrt(57/3) = 4.36, limit
     * 7.86: eng0 (9) fails, eng2 (5) passes with 100 % */
    eng[0].inflight = 9;
    char err[128];
    assert_int_equal(gw_strategy_prefix_cache.configure(st, "imbalance-abs", "9", err, 128), 0);
    for (uint64_t r = 0; r < 16; r++)
        assert_int_equal(pick(st, &q1, r), 2);
    /* guard on (the default 8) and no min-loaded engine matches: -1 */
    rm(st);
    st = mk(&cfg, 1);
    gw_strategy_prefix_cache.on_routed(st, &q1.rq, &eng[0]);
    assert_int_equal(pick(st, &q1, 1), -1);
    rm(st);
}

static void test_router_fallback_records(void **state)
{
    (void)state;
    gw_strategy_cfg cfg;
    gw_strategy_cfg_default(&cfg);
    cfg.prefix_max_bytes = 1 << 20;
    gw_router router;
    assert_int_equal(gw_router_init(&router, &cfg, "prefix-cache"), 0);
    assert_true(gw_router_mem_bytes(&router) >= (1 << 19));
    const gw_strategy *s = gw_router_strategy(&router, NULL);
    assert_ptr_equal(s, &gw_strategy_prefix_cache);
    fleet((int32_t[]){3, 1, 2, 5});
    mkreq(&q1, 48, 1000, 32, 7);
    const gw_strategy *decided = NULL;
    /* nothing cached: least-request picks eng1, and the prefix is recorded */
    gw_engine *e = gw_router_pick(&router, s, &q1.rq, cands, 4, &decided);
    assert_ptr_equal(e, &eng[1]);
    assert_string_equal(decided->name, "least-request");
    /* now eng1 is loaded (in-flight 4: [3,4,2,5], mean 3.5, sd 1.29, limit
     * 4.79) but holds the prompt: prefix-cache decides */
    eng[1].inflight = 4;
    e = gw_router_pick(&router, s, &q1.rq, cands, 4, &decided);
    assert_ptr_equal(e, &eng[1]);
    assert_ptr_equal(decided, &gw_strategy_prefix_cache);
    gw_router_close(&router);
}

/* The router owns the prefix index (no process-wide registry): one per
 * router, even for routers made from one config, lent to every strategy
 * that declares needs_prefix_index (what prefix-cache records,
 * predicted-ttft reads), counted once in the router's memory, freed at
 * close; a bound too small for an index leaves none, and those strategies
 * decline. */
static void test_router_owns_index(void **state)
{
    (void)state;
    gw_strategy_cfg cfg;
    gw_strategy_cfg_default(&cfg);
    cfg.prefix_max_bytes = 1 << 20;
    gw_router a, b;
    assert_int_equal(gw_router_init(&a, &cfg, "prefix-cache"), 0);
    assert_int_equal(gw_router_init(&b, &cfg, "prefix-cache"), 0);
    assert_non_null(a.prefix);
    assert_non_null(b.prefix);
    assert_ptr_not_equal(a.prefix, b.prefix);
    assert_true(gw_prefix_mem_bytes(a.prefix) <= (1 << 20));
    /* counted once: a router with a twice larger index grows by that much */
    gw_strategy_cfg cfg2 = cfg;
    cfg2.prefix_max_bytes = 2 << 20;
    gw_router c;
    assert_int_equal(gw_router_init(&c, &cfg2, NULL), 0);
    assert_int_equal(gw_router_mem_bytes(&c) - gw_router_mem_bytes(&a),
                     gw_prefix_mem_bytes(c.prefix) - gw_prefix_mem_bytes(a.prefix));
    gw_router_close(&c);
    const gw_strategy *pc = gw_router_strategy(&a, "prefix-cache");
    const gw_strategy *pt = gw_router_strategy(&a, "predicted-ttft");
    assert_non_null(pt);
    assert_true(pc->needs_prefix_index && pt->needs_prefix_index);
    assert_false(gw_router_strategy(&a, "least-request")->needs_prefix_index);

    /* nothing cached, all idle: least-request decides, prefix-cache records */
    fleet((int32_t[]){0, 0, 0, 0});
    mkreq(&q1, 1024, 0, 0, 3);
    const gw_strategy *decided = NULL;
    gw_engine *e = gw_router_pick(&a, pc, &q1.rq, cands, 4, &decided);
    assert_string_equal(decided->name, "least-request");
    assert_int_equal(gw_prefix_match(a.prefix, q1.rq.block_keys, q1.rq.nblocks, e->id), 64);
    assert_int_equal(gw_prefix_match(b.prefix, q1.rq.block_keys, q1.rq.nblocks, e->id), 0);
    /* predicted-ttft sees the same blocks: 0.01 s there against
     * 0.01 + 1024 * 30e-6 elsewhere */
    for (uint64_t r = 0; r < 8; r++) {
        q1.rq.rnd = r;
        assert_ptr_equal(gw_router_pick(&a, pt, &q1.rq, cands, 4, &decided), e);
        assert_ptr_equal(decided, pt);
    }
    gw_router_close(&a);
    assert_null(a.prefix);
    gw_router_close(&b);

    cfg.prefix_max_bytes = 1024; /* too small for a table */
    assert_int_equal(gw_router_init(&a, &cfg, "prefix-cache"), 0);
    assert_null(a.prefix);
    e = gw_router_pick(&a, gw_router_strategy(&a, NULL), &q1.rq, cands, 4, &decided);
    assert_string_equal(decided->name, "least-request");
    gw_router_close(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_entry),
        cmocka_unit_test(test_no_match),
        cmocka_unit_test(test_routed_then_match),
        cmocka_unit_test(test_longest_match_and_ties),
        cmocka_unit_test(test_stddev_limit),
        cmocka_unit_test(test_imbalance_guard),
        cmocka_unit_test(test_router_fallback_records),
        cmocka_unit_test(test_router_owns_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
