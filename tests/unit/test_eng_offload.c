/* eng_offload: the engine's KV offloading through libbrixkv, driven by the
 * real scheduler with a tiny GPU pool: evicted blocks are stored with their
 * chain, a later request loads them from L1 instead of recomputing (load
 * time from the formula, only the rest computed), loaded blocks become GPU
 * cached, wrong bytes are refused, and the flags parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/eng_config.h"
#include "engine/eng_offload.h"
#include "engine/eng_sched.h"
#include "engine/eng_timing.h"

#define BS 4         /* tokens per block */
#define GPU_BLOCKS 6 /* blocks of simulated GPU memory */
#define BLOCK_BYTES 256
#define REAL_BYTES 2097152.0 /* llama3-8b: 2 * 32 * 8 * 128 * 2 B * 16 tokens */

struct rec {
    eng_offload *off;
    int finished;
};

static void on_token(eng_seq *q, uint32_t id, double now, void *ud)
{
    (void)q, (void)id, (void)now, (void)ud;
}
static void on_finish(eng_seq *q, enum eng_finish why, double now, void *ud)
{
    (void)q, (void)why, (void)now;
    ((struct rec *)ud)->finished++;
}
static void on_stored(eng_seq *q, int32_t first, int32_t n, void *ud)
{
    eng_offload_seq_stored(((struct rec *)ud)->off, q, first, n);
}
static uint32_t gen_token(eng_seq *q, int32_t i, void *ud)
{
    (void)ud;
    return 9000u + (uint32_t)i + (uint32_t)q->num_prompt;
}
static const eng_sched_cbs cbs = {on_token, on_finish, on_stored, NULL, gen_token};

static void open_offload(eng_offload **o)
{
    eng_offload_cfg c = {.model = "m",
                         .dtype = "bfloat16",
                         .block_size = BS,
                         .num_gpu_blocks = GPU_BLOCKS,
                         .max_blocks = 8,
                         .block_bytes = BLOCK_BYTES,
                         .real_block_bytes = REAL_BYTES,
                         .l1_gb = 1.0 / 1024, /* 1 MiB */
                         .l1_policy = "LRU",
                         .ingestion = "ALL",
                         .l1_gbps = 20,
                         .l2_gbps = 5};
    char err[256] = "";
    assert_int_equal(eng_offload_open(&c, o, err, sizeof(err)), 0);
}

static void mk(eng_sched *s, struct rec *r)
{
    memset(r, 0, sizeof(*r));
    open_offload(&r->off);
    eng_sched_cfg c = {.max_num_seqs = 4,
                       .max_num_batched_tokens = 64,
                       .block_size = BS,
                       .num_gpu_blocks = GPU_BLOCKS,
                       .max_loras = 1,
                       .max_cpu_loras = 1,
                       .hash_seed = "0"};
    assert_int_equal(eng_sched_init(s, &c, &cbs, r), 0);
    eng_offload_attach(r->off, s);
}

static void done(eng_sched *s, struct rec *r)
{
    eng_sched_close(s);
    eng_offload_close(r->off);
}

static void prompt(uint32_t *p, int n, uint32_t base)
{
    for (int i = 0; i < n; i++)
        p[i] = base + (uint32_t)i;
}

/* One request of 17 tokens (4 full blocks + 1), max_tokens 1: plans its
 * single step into *w and runs it to completion. */
static eng_seq *run_one(eng_sched *s, struct rec *r, const uint32_t *p, double t, eng_step_work *w)
{
    int before = r->finished;
    eng_seq *q = eng_sched_add(s, p, 17, 1, -1, t, NULL);
    assert_non_null(q);
    assert_int_equal(eng_sched_plan(s, t, w), 1);
    eng_sched_commit(s, t + 0.5);
    assert_int_equal(r->finished, before + 1);
    return q;
}

static void test_fill_verify(void **st)
{
    (void)st;
    unsigned char a[1000], b[1000];
    eng_offload_fill(42, a, sizeof(a));
    eng_offload_fill(42, b, sizeof(b));
    assert_memory_equal(a, b, sizeof(a)); /* deterministic */
    assert_true(eng_offload_verify(42, a, sizeof(a)));
    assert_false(eng_offload_verify(43, a, sizeof(a))); /* another key, other bytes */
    a[999] ^= 1;                                        /* the odd tail is checked too */
    assert_false(eng_offload_verify(42, a, sizeof(a)));
    a[999] ^= 1;
    a[0] ^= 0x80;
    assert_false(eng_offload_verify(42, a, sizeof(a)));
}

static void test_evicted_prefix_loads_from_l1(void **st)
{
    (void)st;
    eng_sched s;
    struct rec r;
    mk(&s, &r);
    uint32_t pa[17], pb[17];
    prompt(pa, 17, 100);
    prompt(pb, 17, 500);
    eng_step_work w;
    eng_offload_stats os;

    /* A: nothing anywhere; computes all 17 tokens. GPU blocks 0..4, 0..3
     * cached; released tail first, the free queue is [5, 4, 3, 2, 1, 0]. */
    run_one(&s, &r, pa, 1, &w);
    assert_int_equal(w.tokens, 17);
    assert_true(w.load_s == 0.0);
    eng_offload_stats_get(r.off, &os);
    assert_int_equal(os.stored_blocks, 0);
    assert_int_equal(os.lookup_blocks, 4); /* blocks 0..3 asked, none there */
    assert_int_equal(os.hit_l1 + os.hit_l2, 0);

    /* B takes blocks 5, 4, 3, 2, 1: evicting A's block 3 stores A's chain
     * (blocks 0..3, one put); evicting 2 and 1 then stores nothing more. A's
     * first block stays cached in GPU block 0. */
    run_one(&s, &r, pb, 2, &w);
    assert_int_equal(w.tokens, 17);
    eng_offload_stats_get(r.off, &os);
    assert_int_equal(os.stored_blocks, 4);

    /* A again: GPU hit 1 block; blocks 1..3 found in L1 and loaded, so only
     * the last token is computed and the step pays 3 blocks' load. */
    eng_seq *q = eng_sched_add(&s, pa, 17, 1, -1, 3, NULL);
    assert_int_equal(eng_sched_plan(&s, 3, &w), 1);
    assert_int_equal(w.tokens, 1);
    assert_int_equal(q->num_computed, 16);
    assert_int_equal(q->num_cached_tokens, 16);      /* cached_tokens: GPU + offload */
    assert_int_equal(s.stats.prefix_hits, BS);       /* vLLM's counter: GPU only */
    const double load = 3 * REAL_BYTES / (20 * 1e9); /* 3.145728e-4 s */
    assert_true(w.load_s > load * (1 - 1e-12) && w.load_s < load * (1 + 1e-12));
    assert_true(eng_offload_load_seconds(r.off, 3, 0) == w.load_s);
    assert_true(eng_offload_load_seconds(r.off, 0, 2) == 2 * REAL_BYTES / 5e9);
    /* the step model adds the load as is; the same step computing all 17
     * tokens (the recompute) pays no load */
    const eng_profile *p = eng_timing_find("llama3-8b-h100");
    eng_step_work nol = w;
    nol.load_s = 0;
    double d = eng_timing_step(p, &w) - eng_timing_step(p, &nol);
    assert_true(d > load * (1 - 1e-9) && d < load * (1 + 1e-9));
    /* prefill attention spans the loaded context: 1 token over 17 */
    assert_true(w.prefill_attn == 17.0);
    eng_offload_stats_get(r.off, &os);
    assert_int_equal(os.hit_l1, 3);
    assert_int_equal(os.hit_l2, 0);
    assert_int_equal(os.bad_blocks, 0);
    assert_int_equal(os.lookup_blocks, 4 + 4 + 3);
    /* taking 4 more blocks evicted B's chain (4 blocks) */
    assert_int_equal(os.stored_blocks, 8);
    uint64_t keys[4];
    memcpy(keys, q->keys, sizeof(keys));
    eng_sched_commit(&s, 3.5);

    /* the loaded blocks are GPU-cached now: a follow-up hits all 4 on the
     * GPU and asks L1 for nothing */
    for (int i = 0; i < 4; i++)
        assert_true(eng_blocks_find(&s.blocks, keys[i]) >= 0);
    run_one(&s, &r, pa, 4, &w);
    assert_int_equal(w.tokens, 1);
    assert_true(w.load_s == 0.0);
    eng_offload_stats_get(r.off, &os);
    assert_int_equal(os.hit_l1, 3);
    assert_int_equal(os.lookup_blocks, 11);
    done(&s, &r);
}

/* Bytes that are not the block's refuse the rest of the prefix; another
 * namespace (adapter) sees nothing; metrics render the counters. */
static void test_bad_bytes_and_namespace(void **st)
{
    (void)st;
    eng_sched s;
    struct rec r;
    mk(&s, &r);
    uint32_t pa[17], pb[17];
    prompt(pa, 17, 100);
    prompt(pb, 17, 500);
    eng_step_work w;
    eng_seq *qa = eng_sched_add(&s, pa, 17, 1, -1, 1, NULL);
    assert_int_equal(eng_sched_plan(&s, 1, &w), 1);
    uint64_t keys[4];
    memcpy(keys, qa->keys, sizeof(keys));
    eng_sched_commit(&s, 1.5);
    run_one(&s, &r, pb, 2, &w); /* stores A's 4 blocks */

    eng_sched_loaded l;
    eng_offload_lookup(r.off, pa, keys, 0, 4, NULL, &l);
    assert_int_equal(l.blocks, 4);
    assert_int_equal(l.l1_blocks, 4);
    assert_int_equal(l.bad_blocks, 0);
    /* the bytes in L1 were made for keys[2]: checked against another key
     * they are wrong, so the prefix ends before block 2 */
    uint64_t wrong[4] = {keys[0], keys[1], keys[2] ^ 1, keys[3]};
    eng_offload_lookup(r.off, pa, wrong, 0, 4, NULL, &l);
    assert_int_equal(l.blocks, 2);
    assert_int_equal(l.bad_blocks, 1);
    assert_true(l.load_s == eng_offload_load_seconds(r.off, 2, 0));
    eng_offload_admitted(r.off, 0, 4, &l);
    /* from a GPU hit of 1, only blocks 1.. are new */
    eng_offload_lookup(r.off, pa, keys, 1, 4, NULL, &l);
    assert_int_equal(l.blocks, 3);
    /* an adapter's namespace holds none of the base model's blocks */
    eng_offload_lookup(r.off, pa, keys, 0, 4, "sql-lora", &l);
    assert_int_equal(l.blocks, 0);

    bx_buf b;
    bx_buf_init(&b);
    assert_int_equal(eng_offload_render(r.off, &b, "engine=\"0\",model_name=\"m\""), 0);
    assert_non_null(strstr(b.data, "brix:kv_offload_hit_blocks_total{engine=\"0\",model_name="
                                   "\"m\",tier=\"l1\"} 2"));
    assert_non_null(strstr(b.data, "brix:kv_offload_bad_blocks_total{engine=\"0\",model_name="
                                   "\"m\"} 1"));
    assert_non_null(strstr(b.data, "brix:kv_offload_stored_blocks_total{engine=\"0\",model_name="
                                   "\"m\"} 4"));
    assert_non_null(strstr(b.data, "# TYPE brix:kv_offload_l2_dropped_total counter"));
    assert_non_null(strstr(b.data, "brix:kv_offload_l2_corrupt_total{"));
    bx_buf_free(&b);
    done(&s, &r);
}

/* An adapter's blocks go to the adapter's namespace and come back for it. */
static void test_adapter_namespace(void **st)
{
    (void)st;
    eng_offload *o;
    open_offload(&o);
    eng_blocks bm;
    assert_int_equal(eng_blocks_init(&bm, GPU_BLOCKS, BS, NULL, NULL), 0);
    uint32_t t[8];
    prompt(t, 8, 7);
    /* two cached blocks 0 <- 1 under adapter "a" */
    int32_t b0 = eng_blocks_alloc(&bm), b1 = eng_blocks_alloc(&bm);
    assert_int_equal(eng_blocks_cache(&bm, b0, 111), 1);
    assert_int_equal(eng_blocks_cache(&bm, b1, 222), 1);
    eng_offload_cached(o, b0, 111, 0, 0, t, "a");
    eng_offload_cached(o, b1, 222, 1, 111, t + BS, "a");
    assert_int_equal(eng_offload_evict(o, &bm, b1, 222), 2); /* chain: both */
    assert_int_equal(eng_offload_evict(o, &bm, b0, 111), 0); /* stored already */
    uint64_t keys[2] = {111, 222};
    eng_sched_loaded l;
    eng_offload_lookup(o, t, keys, 0, 2, NULL, &l);
    assert_int_equal(l.blocks, 0);
    eng_offload_lookup(o, t, keys, 0, 2, "a", &l);
    assert_int_equal(l.blocks, 2);
    /* a block whose parent is no longer cached cannot be stored (its
     * prefix's tokens are gone) */
    int32_t b2 = eng_blocks_alloc(&bm);
    assert_int_equal(eng_blocks_cache(&bm, b2, 333), 1);
    eng_offload_cached(o, b2, 333, 1, 999, t, NULL);
    assert_int_equal(eng_offload_evict(o, &bm, b2, 333), 0);
    /* a stale key (the record is for another key) stores nothing */
    eng_offload_cached(o, b2, 333, 0, 0, t, NULL);
    assert_int_equal(eng_offload_evict(o, &bm, b2, 444), 0);
    eng_blocks_close(&bm);
    eng_offload_close(o);
}

static void test_flags(void **st)
{
    (void)st;
    eng_config c;
    eng_config_default(&c);
    assert_false(c.kv_offload);
    assert_true(c.kv_l1_gb == 1.0 && c.kv_l1_gbps == 20.0 && c.kv_l2_gbps == 5.0);
    assert_int_equal(c.kv_block_bytes, 65536);
    assert_string_equal(c.kv_ingestion, "ALL");
    char *argv[] = {"engine",         "--kv-offload", "--kv-l1-gb",       "0.5",
                    "--kv-l1-policy", "LRU",          "--kv-redis",       "127.0.0.1:6379",
                    "--kv-ingestion", "EVICTED",      "--kv-block-bytes", "4096",
                    "--kv-l1-gbps",   "10",           "--kv-l2-gbps=2.5"};
    FILE *null = fopen("/dev/null", "w");
    assert_non_null(null);
    assert_int_equal(eng_config_parse(&c, (int)(sizeof(argv) / sizeof(argv[0])), argv, null, null),
                     0);
    assert_true(c.kv_offload);
    assert_true(c.kv_l1_gb == 0.5 && c.kv_l1_gbps == 10 && c.kv_l2_gbps == 2.5);
    assert_string_equal(c.kv_l1_policy, "LRU");
    assert_string_equal(c.kv_redis, "127.0.0.1:6379");
    assert_string_equal(c.kv_ingestion, "EVICTED");
    assert_int_equal(c.kv_block_bytes, 4096);
    char *bad[][3] = {{"engine", "--kv-l1-policy", "MRU"},
                      {"engine", "--kv-ingestion", "SOME"},
                      {"engine", "--kv-block-bytes", "0"},
                      {"engine", "--kv-l1-gbps", "0"},
                      {"engine", "--kv-l1-gb", "-1"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        eng_config_default(&c);
        assert_int_equal(eng_config_parse(&c, 3, bad[i], null, null), -1);
    }
    fclose(null);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_verify),
        cmocka_unit_test(test_evicted_prefix_loads_from_l1),
        cmocka_unit_test(test_bad_bytes_and_namespace),
        cmocka_unit_test(test_adapter_namespace),
        cmocka_unit_test(test_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
