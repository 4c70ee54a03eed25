/* libbrixkv: KV-cache offloading for LLM engines. An engine stores runs of
 * KV blocks under the token sequence they were computed from and gets back
 * the longest cached prefix of a sequence, across requests (and, with the
 * L2 tier, across engines). Blocks are keyed by a 128-bit chain over the
 * token ids of each full block under a namespace (model, revision,
 * adapter, dtype, layout, shard), so two models never share a key.
 *
 * Tiers: L1 is process memory (slabs of block slots, sharded, LRU, FIFO or
 * S3-FIFO eviction). L2 is a Redis/Valkey store shared by engines (keys
 * placed over several nodes by consistent hashing; values carry a header
 * with magic, version, length and checksum, verified on read). When L2 is
 * down L1 keeps serving; L2 writes are dropped and counted, never blocking
 * the caller, and the connector reconnects by itself. docs/kvcache.md.
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
    /* L2 (none when l2_redis is NULL or "") */
    const char *l2_redis;     /* "host:port[,host:port...]" Redis/Valkey nodes */
    const char *l2_ingestion; /* "HOT" (default: on a re-read), "ALL" (every put), "EVICTED" */
    int l2_sync;              /* 1: a put writes L2 before returning (ALL; EVICTED waits for the
                                 queue; HOT writes from gets stay queued); 0 (default): queued */
    size_t l2_queue_blocks;   /* bound of the write queue (default 1024): full = dropped */
    unsigned l2_conns;        /* connections per node (default 2) */
    int l2_timeout_ms;        /* bound of each connect, send and receive (default 1000,
                                 at most 600000); a batch makes a few of them */
    const char *l2_namespace; /* key prefix in the store (default "brixkv") */
} brixkv_config;

/* Defaults; then AIBrix's variables where they mean the same:
 * AIBRIX_KV_CACHE_OL_BLOCK_SIZE (tokens), AIBRIX_KV_CACHE_OL_L1_CACHE_CAPACITY_GB,
 * AIBRIX_KV_CACHE_OL_L1_CACHE_EVICTION_POLICY, AIBRIX_KV_CACHE_OL_L2_CACHE_BACKEND
 * (REDIS, with BRIXKV_L2_REDIS = host:port[,...]), AIBRIX_KV_CACHE_OL_L2_CACHE_INGESTION_TYPE
 * (HOT|ALL|EVICTED), AIBRIX_KV_CACHE_OL_L2_CACHE_NAMESPACE. 0, or -EINVAL naming
 * the variable in err. block_bytes is the caller's to set; strings point
 * into the environment. */
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
 * blocks) and returns its length in blocks (0: nothing cached). L2 is read
 * in pipelined batches of 64 blocks, so dst blocks past the returned
 * length may have been written too (with good blocks found after a miss). */
long brixkv_get(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok,
                void *const *dst, size_t ndst);
/* Leading tokens of tokens[0..ntok) that are cached (a block multiple). */
long brixkv_exists(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok);
/* Drops every cached full block of tokens (L1 and L2). Returns the number
 * dropped from L1. */
long brixkv_delete(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok);

/* Scatter lists for layer-sliced layouts: block i is the concatenation of
 * iov[i * niov .. i * niov + niov), whose lengths sum to block_bytes. The
 * data is copied once, straight from/to these pieces. */
typedef struct brixkv_iov {
    void *base;
    size_t len;
} brixkv_iov;
long brixkv_put_iov(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok,
                    const brixkv_iov *iov, size_t niov, size_t nblocks);
long brixkv_get_iov(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok,
                    const brixkv_iov *iov, size_t niov, size_t nblocks);

/* Waits until every queued L2 write has been sent (or dropped). 0, or
 * -ETIMEDOUT after timeout_ms (< 0: no bound; under steady writes the
 * queue may never be empty, so pass a bound). */
int brixkv_flush(brixkv *kv, int timeout_ms);

typedef struct brixkv_stats {
    uint64_t puts, hits, misses, evictions; /* L1 */
    size_t blocks, capacity_blocks;         /* L1 */
    uint64_t l2_puts;                       /* blocks written to L2 */
    uint64_t l2_hits;    /* blocks gets returned from L2 (each also put into L1) */
    uint64_t l2_misses;  /* L2 lookups that found nothing */
    uint64_t l2_dropped; /* writes dropped: queue full or L2 down */
    uint64_t l2_errors;  /* failed commands (connection lost, timeout) */
    uint64_t l2_corrupt; /* values whose header or checksum did not verify (also in l2_misses) */
    unsigned l2_nodes, l2_nodes_up;
} brixkv_stats;
void brixkv_stats_get(brixkv *kv, brixkv_stats *out);

#ifdef __cplusplus
}
#endif

#endif
