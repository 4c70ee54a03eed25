/* eng_blocks: allocation, prefix index, lazy eviction in LRU order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/eng_blocks.h"

static uint64_t removed[16];
static int nremoved;

static void on_removed(uint64_t key, void *ud)
{
    (void)ud;
    if (nremoved < 16) removed[nremoved] = key;
    nremoved++;
}

static void test_alloc_until_full(void **st)
{
    (void)st;
    eng_blocks bm;
    assert_int_equal(eng_blocks_init(&bm, 4, 16, NULL, NULL), 0);
    for (int i = 0; i < 4; i++)
        assert_true(eng_blocks_alloc(&bm) >= 0);
    assert_int_equal(eng_blocks_alloc(&bm), -1);
    assert_true(eng_blocks_usage(&bm) == 1.0);
    eng_blocks_close(&bm);
}

static void test_cached_free_block_is_reused_then_evicted_lazily(void **st)
{
    (void)st;
    eng_blocks bm;
    nremoved = 0;
    assert_int_equal(eng_blocks_init(&bm, 3, 16, on_removed, NULL), 0);
    int32_t a = eng_blocks_alloc(&bm), b = eng_blocks_alloc(&bm);
    assert_int_equal(eng_blocks_cache(&bm, a, 111), 1);
    assert_int_equal(eng_blocks_cache(&bm, b, 222), 1);
    assert_int_equal(eng_blocks_cache(&bm, b, 111), 0); /* already cached elsewhere */
    /* free tail first, like a finishing request */
    eng_blocks_release(&bm, b);
    eng_blocks_release(&bm, a);
    assert_true(eng_blocks_usage(&bm) == 0.0); /* cached free blocks count as free */
    uint64_t keys[3] = {111, 222, 333};
    assert_int_equal(eng_blocks_match(&bm, keys, 3), 2);
    /* a hit takes the block back without eviction */
    eng_blocks_touch(&bm, eng_blocks_find(&bm, 111));
    assert_int_equal(nremoved, 0);
    /* the uncached block goes first, then the LRU cached one (b, 222) */
    int32_t c = eng_blocks_alloc(&bm);
    assert_true(c != a && c != b);
    assert_int_equal(nremoved, 0);
    int32_t d = eng_blocks_alloc(&bm);
    assert_int_equal(d, b);
    assert_int_equal(nremoved, 1);
    assert_true(removed[0] == 222);
    assert_int_equal(eng_blocks_find(&bm, 222), -1);
    assert_int_equal(eng_blocks_find(&bm, 111), a);
    eng_blocks_close(&bm);
}

static void test_shared_block_needs_all_releases(void **st)
{
    (void)st;
    eng_blocks bm;
    assert_int_equal(eng_blocks_init(&bm, 2, 16, NULL, NULL), 0);
    int32_t a = eng_blocks_alloc(&bm);
    eng_blocks_cache(&bm, a, 5);
    eng_blocks_touch(&bm, a); /* second request shares it */
    eng_blocks_release(&bm, a);
    assert_int_equal(bm.num_free, 1);
    eng_blocks_release(&bm, a);
    assert_int_equal(bm.num_free, 2);
    eng_blocks_release(&bm, a); /* extra release is ignored */
    assert_int_equal(bm.num_free, 2);
    eng_blocks_close(&bm);
}

static void test_reset_cache(void **st)
{
    (void)st;
    eng_blocks bm;
    assert_int_equal(eng_blocks_init(&bm, 2, 16, NULL, NULL), 0);
    int32_t a = eng_blocks_alloc(&bm);
    eng_blocks_cache(&bm, a, 9);
    assert_int_equal(eng_blocks_reset_cache(&bm), -1); /* in use */
    eng_blocks_release(&bm, a);
    assert_int_equal(eng_blocks_reset_cache(&bm), 0);
    assert_int_equal(eng_blocks_find(&bm, 9), -1);
    assert_int_equal(bm.num_cached, 0);
    eng_blocks_close(&bm);
}

static void test_many_keys_index(void **st)
{
    (void)st;
    eng_blocks bm;
    assert_int_equal(eng_blocks_init(&bm, 1000, 16, NULL, NULL), 0);
    for (uint64_t k = 0; k < 1000; k++) {
        int32_t b = eng_blocks_alloc(&bm);
        assert_int_equal(eng_blocks_cache(&bm, b, k * 1024), 1);
    }
    for (uint64_t k = 0; k < 1000; k++)
        assert_true(eng_blocks_find(&bm, k * 1024) >= 0);
    assert_int_equal(eng_blocks_find(&bm, 7), -1);
    eng_blocks_close(&bm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_until_full),
        cmocka_unit_test(test_cached_free_block_is_reused_then_evicted_lazily),
        cmocka_unit_test(test_shared_block_needs_all_releases),
        cmocka_unit_test(test_reset_cache),
        cmocka_unit_test(test_many_keys_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
