/* gw_prefix: insert/match, chain semantics, per-engine eviction under the
 * byte bound, remove_engine, no growth past the bound, and bisection
 * matching equal to a block-by-block walk under eviction pressure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "gateway/gw_prefix.h"

static uint64_t rng_state = 0x1234567887654321ULL;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* keys of a fake chain: distinct per (chain, position) */
static void chain(uint64_t id, uint64_t *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        keys[i] = (id * 0x9e3779b97f4a7c15ULL) ^ ((i + 1) * 0xc2b2ae3d27d4eb4fULL);
}

static void test_insert_match(void **state)
{
    (void)state;
    gw_prefix *p = gw_prefix_create(1 << 20);
    assert_non_null(p);
    uint64_t a[10], b[10];
    chain(1, a, 10);
    assert_int_equal(gw_prefix_match(p, a, 10, 3), 0);
    gw_prefix_insert(p, a, 10, 3);
    assert_int_equal(gw_prefix_match(p, a, 10, 3), 10);
    assert_int_equal(gw_prefix_match(p, a, 4, 3), 4);
    assert_int_equal(gw_prefix_match(p, a, 10, 4), 0); /* other engine */
    assert_int_equal(gw_prefix_engine_entries(p, 3), 10);
    /* a chain that shares the first 5 blocks */
    chain(2, b, 10);
    for (int i = 0; i < 5; i++)
        b[i] = a[i];
    assert_int_equal(gw_prefix_match(p, b, 10, 3), 5);
    /* first block differs: nothing */
    b[0] ^= 1 << 20;
    assert_int_equal(gw_prefix_match(p, b, 10, 3), 0);
    /* re-insert refreshes, does not duplicate */
    gw_prefix_insert(p, a, 10, 3);
    gw_prefix_stats st;
    gw_prefix_stats_get(p, &st);
    assert_int_equal(st.entries, 10);
    assert_int_equal(st.inserts, 10);
    assert_int_equal(st.engines, 1);
    /* out-of-range engine ids are ignored */
    gw_prefix_insert(p, a, 10, -1);
    gw_prefix_insert(p, a, 10, GW_MAX_ENGINES);
    assert_int_equal(gw_prefix_match(p, a, 10, GW_MAX_ENGINES), 0);
    gw_prefix_stats_get(p, &st);
    assert_int_equal(st.entries, 10);
    assert_int_equal(gw_prefix_check(p), 0);
    gw_prefix_destroy(p);
}

static void test_chain_semantics(void **state)
{
    (void)state;
    gw_prefix *p = gw_prefix_create(1 << 20);
    assert_non_null(p);
    uint64_t a[12];
    chain(7, a, 12);
    gw_prefix_insert(p, a, 5, 1);  /* engine 1: first 5 blocks */
    gw_prefix_insert(p, a, 12, 2); /* engine 2: all 12 */
    /* engine 3 holds block 0 only, and another chain's blocks */
    uint64_t b[4];
    chain(8, b, 4);
    gw_prefix_insert(p, &a[0], 1, 3);
    gw_prefix_insert(p, b, 4, 3);
    int ids[5] = {1, 2, 3, 4, 2};
    uint32_t out[5];
    gw_prefix_match_all(p, a, 12, ids, 5, out);
    assert_int_equal(out[0], 5);
    assert_int_equal(out[1], 12);
    assert_int_equal(out[2], 1);
    assert_int_equal(out[3], 0);
    assert_int_equal(out[4], 12);
    for (int i = 0; i < 5; i++)
        assert_int_equal(out[i], gw_prefix_match(p, a, 12, ids[i]));
    /* a request shorter than what is held */
    gw_prefix_match_all(p, a, 3, ids, 5, out);
    assert_int_equal(out[0], 3);
    assert_int_equal(out[1], 3);
    assert_int_equal(out[2], 1);
    /* no keys: every match is 0 */
    gw_prefix_match_all(p, a, 0, ids, 5, out);
    for (int i = 0; i < 5; i++)
        assert_int_equal(out[i], 0);
    /* an invalid id matches nothing */
    int bad[2] = {-5, 2};
    gw_prefix_match_all(p, a, 12, bad, 2, out);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 12);
    gw_prefix_destroy(p);
}

/* one block chain held by many engines: all their pairs share one probe
 * run; removing engines from the middle of it keeps the rest findable */
static void test_hot_blocks(void **state)
{
    (void)state;
    gw_prefix *p = gw_prefix_create(128 << 10);
    assert_non_null(p);
    uint64_t a[8];
    chain(42, a, 8);
    int ids[64];
    uint32_t out[64];
    for (int e = 0; e < 64; e++) {
        ids[e] = e;
        gw_prefix_insert(p, a, (size_t)(e % 8) + 1, e); /* engine e holds e % 8 + 1 blocks */
    }
    for (uint64_t k = 0; k < 500; k++) { /* unrelated traffic around them */
        uint64_t b[8];
        chain(1000 + k, b, 8);
        gw_prefix_insert(p, b, 8, (int)(k % 64));
    }
    assert_int_equal(gw_prefix_check(p), 0);
    gw_prefix_match_all(p, a, 8, ids, 64, out);
    for (int e = 0; e < 64; e++)
        assert_int_equal(out[e], e % 8 + 1);
    for (int e = 0; e < 64; e += 3)
        gw_prefix_remove_engine(p, e);
    assert_int_equal(gw_prefix_check(p), 0);
    gw_prefix_match_all(p, a, 8, ids, 64, out);
    for (int e = 0; e < 64; e++) {
        assert_int_equal(out[e], e % 3 == 0 ? 0 : e % 8 + 1);
        assert_int_equal(gw_prefix_match(p, a, 8, e), out[e]);
    }
    gw_prefix_destroy(p);
}

static void test_bound_and_eviction(void **state)
{
    (void)state;
    size_t bound = 64 << 10;
    gw_prefix *p = gw_prefix_create(bound);
    assert_non_null(p);
    assert_null(gw_prefix_create(1024)); /* too small for a table */
    gw_prefix_stats st;
    gw_prefix_stats_get(p, &st);
    assert_true(st.bytes <= bound);
    assert_true(st.capacity > 1000);
    assert_true(st.bytes_per_entry < 32.0);
    size_t cap = st.capacity;

    /* one engine, a chain longer than the whole table: the head survives,
     * the tail is evicted (chains are inserted last block first) */
    size_t n = cap + 100;
    uint64_t *a = malloc(n * sizeof(*a));
    assert_non_null(a);
    chain(11, a, n);
    gw_prefix_insert(p, a, n, 5);
    gw_prefix_stats_get(p, &st);
    assert_int_equal(st.entries, cap);
    assert_int_equal(st.evictions, 100);
    assert_int_equal(gw_prefix_match(p, a, n, 5), cap);
    assert_int_equal(gw_prefix_check(p), 0);

    /* a second engine takes room from the first, which is over its share,
     * and the first loses its least recent blocks (the chain's tail) */
    uint64_t b[100];
    chain(12, b, 100);
    gw_prefix_insert(p, b, 100, 6);
    assert_int_equal(gw_prefix_match(p, b, 100, 6), 100);
    assert_int_equal(gw_prefix_engine_entries(p, 5), cap - 100);
    assert_int_equal(gw_prefix_match(p, a, n, 5), cap - 100);

    /* engine 6 keeps inserting: it grows to half the table, then evicts its
     * own least recent blocks instead of engine 5's */
    uint64_t c[64];
    for (uint64_t k = 0; k < cap / 64 + 10; k++) {
        chain(1000 + k, c, 64);
        gw_prefix_insert(p, c, 64, 6);
        assert_int_equal(gw_prefix_match(p, c, 64, 6), 64); /* newest always held */
    }
    size_t e5 = gw_prefix_engine_entries(p, 5), e6 = gw_prefix_engine_entries(p, 6);
    assert_int_equal(e5 + e6, cap);
    assert_true(e6 >= cap / 2 && e6 <= cap / 2 + 64);
    assert_int_equal(gw_prefix_match(p, a, n, 5), e5);  /* still a contiguous head */
    assert_int_equal(gw_prefix_match(p, b, 100, 6), 0); /* engine 6's oldest went first */
    assert_int_equal(gw_prefix_check(p), 0);
    gw_prefix_stats_get(p, &st);
    assert_true(st.bytes <= bound);
    free(a);
    gw_prefix_destroy(p);
}

static void test_remove_engine(void **state)
{
    (void)state;
    gw_prefix *p = gw_prefix_create(256 << 10);
    assert_non_null(p);
    uint64_t k[40][32];
    for (int i = 0; i < 40; i++) {
        chain((uint64_t)i + 100, k[i], 32);
        gw_prefix_insert(p, k[i], 32, i % 4);
        gw_prefix_insert(p, k[i], 16, 9); /* engine 9 shares every head */
    }
    gw_prefix_remove_engine(p, 2);
    assert_int_equal(gw_prefix_check(p), 0);
    assert_int_equal(gw_prefix_engine_entries(p, 2), 0);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(gw_prefix_match(p, k[i], 32, i % 4), i % 4 == 2 ? 0 : 32);
        assert_int_equal(gw_prefix_match(p, k[i], 32, 9), 16);
    }
    gw_prefix_stats st;
    gw_prefix_stats_get(p, &st);
    assert_int_equal(st.entries, 30 * 32 + 40 * 16);
    assert_int_equal(st.engines, 4);
    gw_prefix_remove_engine(p, 9);
    gw_prefix_remove_engine(p, 9); /* idempotent */
    gw_prefix_remove_engine(p, 5000);
    gw_prefix_stats_get(p, &st);
    assert_int_equal(st.entries, 30 * 32);
    assert_int_equal(gw_prefix_check(p), 0);
    gw_prefix_destroy(p);
}

static void test_million_random_inserts(void **state)
{
    (void)state;
    size_t bound = 256 << 10;
    gw_prefix *p = gw_prefix_create(bound);
    assert_non_null(p);
    gw_prefix_stats st0, st;
    gw_prefix_stats_get(p, &st0);
    uint64_t keys[64];
    size_t total = 0;
    int round = 0;
    while (total < 1000000) {
        size_t n = 1 + rng() % 64;
        int e = (int)(rng() % 64);
        uint64_t base = rng() % 4096; /* reuse chains so refreshes happen */
        chain(base, keys, n);
        gw_prefix_insert(p, keys, n, e);
        assert_int_equal(gw_prefix_match(p, keys, n, e), n);
        total += n;
        if (rng() % 5000 == 0) gw_prefix_remove_engine(p, (int)(rng() % 64));
        if (++round % 4096 == 0) assert_int_equal(gw_prefix_check(p), 0);
        gw_prefix_stats_get(p, &st);
        assert_true(st.entries <= st.capacity);
    }
    gw_prefix_stats_get(p, &st);
    assert_int_equal(st.bytes, st0.bytes);
    assert_true(st.bytes <= bound);
    assert_true(st.evictions > 0);
    assert_int_equal(gw_prefix_check(p), 0);
    gw_prefix_destroy(p);
}

/* keys of a prompt in a tree of shared prefixes, chained as real block
 * hashes are: key i commits to choices 0..i */
static void tree_chain(const uint8_t *choice, size_t n, uint64_t *keys)
{
    uint64_t h = 0x51ed270b27f3a1c5ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint64_t)choice[i] + 1;
        h *= 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
        keys[i] = h;
    }
}

/* the reference: AIBrix's walk, block by block, stopping at the first miss */
static size_t walk(const gw_prefix *p, const uint64_t *keys, size_t n, int e)
{
    size_t k = 0;
    while (k < n && gw_prefix_match(p, keys + k, 1, e) == 1)
        k++;
    return k;
}

static void test_bisection_equals_walk(void **state)
{
    (void)state;
    gw_prefix *p = gw_prefix_create(64 << 10); /* ~3000 pairs: evicting all the time */
    assert_non_null(p);
    enum { NE = 8, MAXN = 48 };
    int ids[NE];
    for (int e = 0; e < NE; e++)
        ids[e] = e;
    uint8_t ch[MAXN];
    uint64_t keys[MAXN];
    uint32_t out[NE];
    size_t checked_nonzero = 0, partial = 0;
    for (int it = 0; it < 20000; it++) {
        size_t n = 1 + rng() % MAXN;
        for (size_t i = 0; i < n; i++)
            ch[i] = (uint8_t)(rng() % 3); /* few choices: prompts share heads */
        tree_chain(ch, n, keys);
        gw_prefix_insert(p, keys, n, (int)(rng() % NE));
        if (it % 7 != 0) continue;
        n = 1 + rng() % MAXN;
        for (size_t i = 0; i < n; i++)
            ch[i] = (uint8_t)(rng() % 3);
        tree_chain(ch, n, keys);
        gw_prefix_match_all(p, keys, n, ids, NE, out);
        for (int e = 0; e < NE; e++) {
            size_t want = walk(p, keys, n, e);
            assert_int_equal(out[e], want);
            assert_int_equal(gw_prefix_match(p, keys, n, e), want);
            checked_nonzero += want > 0;
            partial += want > 0 && want < n;
        }
    }
    assert_int_equal(gw_prefix_check(p), 0);
    assert_true(checked_nonzero > 1000); /* the comparison saw real matches */
    assert_true(partial > 100);          /* and partial ones */
    gw_prefix_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_match),
        cmocka_unit_test(test_chain_semantics),
        cmocka_unit_test(test_hot_blocks),
        cmocka_unit_test(test_bound_and_eviction),
        cmocka_unit_test(test_remove_engine),
        cmocka_unit_test(test_million_random_inserts),
        cmocka_unit_test(test_bisection_equals_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
