/* libbrixkv's public API (L1 tier): put then get the longest cached
 * prefix, partial blocks ignored, a sequence that diverges in block 3 hits
 * two blocks, namespaces (model, adapter) never share blocks, delete, the
 * AIBRIX_KV_CACHE_OL_* variables, and bad arguments. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "brix/brixkv.h"

#define BB 512

static void block(uint8_t *b, int seq, int i)
{
    for (int j = 0; j < BB; j++)
        b[j] = (uint8_t)(seq * 131 + i * 17 + j);
}

static void test_put_get_prefix(void **st)
{
    (void)st;
    brixkv_config c;
    char err[256];
    assert_int_equal(brixkv_config_from_env(&c, err, sizeof(err)), 0);
    c.block_bytes = BB;
    c.l1_capacity = 256 * BB;
    c.l1_shards = 4;
    brixkv *kv = NULL;
    assert_int_equal(brixkv_open(&c, &kv, err, sizeof(err)), 0);
    brixkv_ns ns = {.model = "llama-3-8b", .dtype = "bf16", .layout = "lcnd16"};

    uint32_t a[70], b[70];
    for (int i = 0; i < 70; i++)
        a[i] = b[i] = (uint32_t)(100 + i);
    b[40] = 7; /* b diverges in block 2 (tokens 32..47) */
    static uint8_t data[4][BB], out[4][BB];
    const void *in[4];
    void *dst[4];
    for (int i = 0; i < 4; i++) {
        block(data[i], 1, i);
        in[i] = data[i];
        dst[i] = out[i];
    }
    assert_int_equal(brixkv_exists(kv, &ns, a, 70), 0);
    assert_int_equal(brixkv_put(kv, &ns, a, 70, in, 4), 4); /* 4 full blocks, 6 tokens left */
    assert_int_equal(brixkv_exists(kv, &ns, a, 70), 64);
    assert_int_equal(brixkv_get(kv, &ns, a, 70, dst, 4), 4);
    for (int i = 0; i < 4; i++)
        assert_memory_equal(out[i], data[i], BB);
    assert_int_equal(brixkv_exists(kv, &ns, b, 70), 32);
    assert_int_equal(brixkv_get(kv, &ns, b, 70, dst, 4), 2);
    assert_int_equal(brixkv_get(kv, &ns, a, 70, dst, 1), 1); /* room for one */

    /* another model, or an adapter, is another key space */
    brixkv_ns other = ns;
    other.model = "mistral-7b";
    assert_int_equal(brixkv_exists(kv, &other, a, 70), 0);
    other = ns;
    other.adapter = "sql-lora";
    assert_int_equal(brixkv_exists(kv, &other, a, 70), 0);

    assert_int_equal(brixkv_delete(kv, &ns, a, 70), 4);
    assert_int_equal(brixkv_exists(kv, &ns, a, 70), 0);
    brixkv_stats s;
    brixkv_stats_get(kv, &s);
    assert_int_equal(s.blocks, 0);
    assert_true(s.hits >= 7);
    assert_int_equal(s.capacity_blocks, 256);

    brixkv_ns bad = {.model = ""};
    assert_int_equal(brixkv_put(kv, &bad, a, 70, in, 4), -EINVAL);
    assert_int_equal(brixkv_exists(kv, NULL, a, 70), -EINVAL);
    brixkv_close(kv);
}

static void test_long_sequence_and_eviction(void **st)
{
    (void)st;
    brixkv_config c;
    char err[256];
    assert_int_equal(brixkv_config_from_env(&c, err, sizeof(err)), 0);
    c.block_bytes = 64;
    c.l1_capacity = 1024 * 64; /* 1024 blocks */
    c.l1_shards = 1;
    c.l1_policy = "LRU";
    brixkv *kv = NULL;
    assert_int_equal(brixkv_open(&c, &kv, err, sizeof(err)), 0);
    brixkv_ns ns = {.model = "m"};
    enum { NT = 16 * 2000 }; /* 2000 blocks: over the stack key array and the capacity */
    uint32_t *t = malloc(NT * sizeof(*t));
    const void **in = malloc(2000 * sizeof(*in));
    assert_non_null(t);
    assert_non_null(in);
    static uint8_t one[64];
    for (int i = 0; i < NT; i++)
        t[i] = (uint32_t)i;
    for (int i = 0; i < 2000; i++)
        in[i] = one;
    assert_int_equal(brixkv_put(kv, &ns, t, NT, in, 2000), 2000);
    /* LRU kept the last 1024 blocks put: the head of the sequence is gone */
    assert_int_equal(brixkv_exists(kv, &ns, t, NT), 0);
    brixkv_stats s;
    brixkv_stats_get(kv, &s);
    assert_int_equal(s.blocks, 1024);
    assert_int_equal(s.evictions, 2000 - 1024);
    free(t);
    free(in);
    brixkv_close(kv);
}

static void test_env(void **st)
{
    (void)st;
    brixkv_config c;
    char err[256];
    setenv("AIBRIX_KV_CACHE_OL_BLOCK_SIZE", "32", 1);
    setenv("AIBRIX_KV_CACHE_OL_L1_CACHE_CAPACITY_GB", "0.5", 1);
    setenv("AIBRIX_KV_CACHE_OL_L1_CACHE_EVICTION_POLICY", "lru", 1);
    assert_int_equal(brixkv_config_from_env(&c, err, sizeof(err)), 0);
    assert_int_equal(c.block_ntokens, 32);
    assert_int_equal(c.l1_capacity, (size_t)1 << 29);
    assert_string_equal(c.l1_policy, "lru");
    setenv("AIBRIX_KV_CACHE_OL_BLOCK_SIZE", "24", 1);
    assert_int_equal(brixkv_config_from_env(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "AIBRIX_KV_CACHE_OL_BLOCK_SIZE"));
    setenv("AIBRIX_KV_CACHE_OL_BLOCK_SIZE", "-1", 1); /* the engine's: our default */
    setenv("AIBRIX_KV_CACHE_OL_L1_CACHE_EVICTION_POLICY", "ARC", 1);
    assert_int_equal(brixkv_config_from_env(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "EVICTION_POLICY"));
    unsetenv("AIBRIX_KV_CACHE_OL_BLOCK_SIZE");
    unsetenv("AIBRIX_KV_CACHE_OL_L1_CACHE_CAPACITY_GB");
    unsetenv("AIBRIX_KV_CACHE_OL_L1_CACHE_EVICTION_POLICY");
    brixkv *kv = NULL;
    assert_int_equal(brixkv_config_from_env(&c, err, sizeof(err)), 0);
    assert_int_equal(brixkv_open(&c, &kv, err, sizeof(err)), -EINVAL); /* no block_bytes */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_prefix),
        cmocka_unit_test(test_long_sequence_and_eviction),
        cmocka_unit_test(test_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
