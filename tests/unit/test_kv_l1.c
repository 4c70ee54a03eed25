/* kv_l1: round trips, replacement, eviction at capacity in the policy's
 * order, prefix match over a key chain, delete, and threads hammering
 * shared shards with every block's bytes checked against its key. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kv/kv_l1.h"

#define BB 256 /* block bytes in these tests */

static kv_key key_of(uint64_t i)
{
    kv_key k = {i * 0x9e3779b97f4a7c15ULL + 1, i ^ 0xabcdef};
    return k;
}

static void fill(uint8_t *b, uint64_t i)
{
    for (size_t j = 0; j < BB; j++)
        b[j] = (uint8_t)(i * 31 + j);
}

static kv_l1 *mk(size_t blocks, unsigned shards, kv_evict_kind pol)
{
    kv_l1_config c;
    kv_l1_config_default(&c);
    c.block_bytes = BB;
    c.capacity_bytes = blocks * BB;
    c.nshards = shards;
    c.policy = pol;
    kv_l1 *l = NULL;
    char err[256];
    assert_int_equal(kv_l1_create(&c, &l, err, sizeof(err)), 0);
    return l;
}

static void test_round_trip(void **st)
{
    (void)st;
    kv_l1 *l = mk(64, 4, KV_EVICT_S3FIFO);
    uint8_t in[BB], out[BB];
    kv_key k = key_of(7);
    assert_int_equal(kv_l1_get(l, &k, out, BB), -ENOENT);
    fill(in, 7);
    assert_int_equal(kv_l1_put(l, &k, in, BB), 0);
    assert_int_equal(kv_l1_get(l, &k, out, BB), BB);
    assert_memory_equal(in, out, BB);
    /* replaced with shorter bytes */
    fill(in, 8);
    assert_int_equal(kv_l1_put(l, &k, in, 100), 0);
    memset(out, 0, BB);
    assert_int_equal(kv_l1_get(l, &k, out, BB), 100);
    assert_memory_equal(in, out, 100);
    assert_int_equal(kv_l1_put(l, &k, in, BB + 1), -EINVAL);
    assert_int_equal(kv_l1_delete(l, &k), 0);
    assert_int_equal(kv_l1_delete(l, &k), -ENOENT);
    assert_int_equal(kv_l1_get(l, &k, out, BB), -ENOENT);
    kv_l1_stats s;
    kv_l1_stats_get(l, &s);
    assert_int_equal(s.blocks, 0);
    assert_int_equal(s.capacity, 64);
    kv_l1_destroy(l);
}

/* One shard of 8 blocks, LRU: 10 puts evict the two least recent; a get
 * refreshes a block so the next put evicts another one. */
static void test_lru_eviction_order(void **st)
{
    (void)st;
    kv_l1 *l = mk(8, 1, KV_EVICT_LRU);
    uint8_t b[BB];
    for (uint64_t i = 0; i < 8; i++) {
        kv_key k = key_of(i);
        fill(b, i);
        assert_int_equal(kv_l1_put(l, &k, b, BB), 0);
    }
    kv_key k0 = key_of(0);
    assert_int_equal(kv_l1_get(l, &k0, b, BB), BB); /* 0 is now the most recent */
    for (uint64_t i = 8; i < 10; i++) {
        kv_key k = key_of(i);
        fill(b, i);
        assert_int_equal(kv_l1_put(l, &k, b, BB), 0);
    }
    /* evicted: 1 and 2 (least recent), not 0 */
    for (uint64_t i = 0; i < 10; i++) {
        kv_key k = key_of(i);
        long want = (i == 1 || i == 2) ? -ENOENT : BB;
        assert_int_equal(kv_l1_get(l, &k, b, BB), want);
        if (want == BB) {
            uint8_t e[BB];
            fill(e, i);
            assert_memory_equal(b, e, BB);
        }
    }
    kv_l1_stats s;
    kv_l1_stats_get(l, &s);
    assert_int_equal(s.blocks, 8);
    assert_int_equal(s.evictions, 2);
    kv_l1_destroy(l);
}

static void test_prefix_match(void **st)
{
    (void)st;
    kv_l1 *l = mk(256, 8, KV_EVICT_S3FIFO);
    kv_key root;
    assert_int_equal(kv_key_ns_root("llama", "r1", "", "bf16", "lcnd16", "h0_7_l0_31", &root), 0);
    uint32_t tok[160];
    for (int i = 0; i < 160; i++)
        tok[i] = (uint32_t)(1000 + i);
    kv_key keys[10];
    assert_int_equal(kv_key_chain(&root, tok, 160, 16, keys, 10), 10);
    uint8_t b[BB];
    for (int i = 0; i < 5; i++) {
        fill(b, (uint64_t)i);
        assert_int_equal(kv_l1_put(l, &keys[i], b, BB), 0);
    }
    assert_int_equal(kv_l1_match(l, keys, 10), 5);
    assert_int_equal(kv_l1_delete(l, &keys[2]), 0);
    assert_int_equal(kv_l1_match(l, keys, 10), 2); /* stops at the gap */
    kv_l1_destroy(l);
}

typedef struct worker {
    kv_l1 *l;
    uint64_t base;
    int bad;
} worker;

static void *work(void *p)
{
    worker *w = p;
    uint8_t b[BB], e[BB];
    for (uint64_t r = 0; r < 20000; r++) {
        uint64_t i = w->base + (r / 3) % 300; /* put, then read twice; 600 keys > 512 */
        kv_key k = key_of(i);
        if (r % 3 == 0) {
            fill(b, i);
            if (kv_l1_put(w->l, &k, b, BB) != 0) w->bad++;
        } else {
            long n = kv_l1_get(w->l, &k, b, BB);
            if (n == BB) {
                fill(e, i);
                if (memcmp(b, e, BB) != 0) w->bad++;
            } else if (n != -ENOENT) {
                w->bad++;
            }
        }
    }
    return NULL;
}

static void test_threads(void **st)
{
    (void)st;
    kv_l1 *l = mk(512, 8, KV_EVICT_S3FIFO);
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){.l = l, .base = (uint64_t)i * 150}; /* overlapping key ranges */
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].bad, 0);
    }
    kv_l1_stats s;
    kv_l1_stats_get(l, &s);
    assert_true(s.blocks <= s.capacity);
    assert_true(s.evictions > 0);
    assert_true(s.hits > 0);
    kv_l1_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_lru_eviction_order),
        cmocka_unit_test(test_prefix_match),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
