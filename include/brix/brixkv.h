/* libbrixkv: KV-cache offloading for LLM engines. An engine stores runs of
 * KV blocks under the token sequence they were computed from and gets back
 * the longest cached prefix of a sequence, across requests (and, with the
 * L2 tier, across engines). Blocks are keyed by a 128-bit chain over the
 * token ids of each full block under a namespace (model, revision,
 * adapter, dtype, layout, shard), so two models never share a key.
 *
 * Tiers: L1 is process memory (slabs of block slots, sharded, LRU, FIFO or
 * S3-FIFO eviction). The L2 tier (Redis) is not built yet: see
 * docs/kvcache.md.
 *
 * Thread-safe: one brixkv per process, used from any thread. Ownership:
 * buffers passed in are read (put) or written (get) during the call only;
 * the handle owns everything else. Errors are negative errno values. */
#ifndef BRIX_BRIXKV_H
#define BRIX_BRIXKV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct brixkv brixkv;

typedef struct brixkv_config {
    size_t block_ntokens;  /* tokens per block (power of two), default 16 */
    size_t block_bytes;    /* bytes of one block's KV data (> 0, required) */
    size_t l1_capacity;    /* L1 bytes, default 1 GiB */
    const char *l1_policy; /* "S3FIFO" (default), "LRU" or "FIFO" */
    unsigned l1_shards;    /* default 16 */
    int l1_huge_pages;     /* try huge pages for the slabs */
    int l1_mlock;          /* lock the slabs in memory (fails without the right) */
} brixkv_config;

/* Defaults; then AIBrix's variables where they mean the same:
 * AIBRIX_KV_CACHE_OL_BLOCK_SIZE (tokens), AIBRIX_KV_CACHE_OL_L1_CACHE_CAPACITY_GB,
 * AIBRIX_KV_CACHE_OL_L1_CACHE_EVICTION_POLICY. 0, or -EINVAL naming the
 * variable in err. block_bytes is the caller's to set. */
int brixkv_config_from_env(brixkv_config *c, char *err, size_t errlen);

/* What the blocks belong to; NULL fields count as "". model is required. */
typedef struct brixkv_ns {
    const char *model, *revision, *adapter, *dtype, *layout, *shard;
} brixkv_ns;

int brixkv_open(const brixkv_config *c, brixkv **out, char *err, size_t errlen);
void brixkv_close(brixkv *kv);

/* Stores the full blocks of tokens[0..ntok): blocks[i] is block i's
 * block_bytes of data. Returns the number of blocks stored. */
long brixkv_put(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok,
                const void *const *blocks, size_t nblocks);
/* Copies the longest cached prefix of tokens into dst[0..] (at most ndst
 * blocks) and returns its length in blocks (0: nothing cached). */
long brixkv_get(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok,
                void *const *dst, size_t ndst);
/* Leading tokens of tokens[0..ntok) that are cached (a block multiple). */
long brixkv_exists(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok);
/* Drops every cached full block of tokens. Returns the number dropped. */
long brixkv_delete(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok);

typedef struct brixkv_stats {
    uint64_t puts, hits, misses, evictions;
    size_t blocks, capacity_blocks;
} brixkv_stats;
void brixkv_stats_get(brixkv *kv, brixkv_stats *out);

#ifdef __cplusplus
}
#endif

#endif
