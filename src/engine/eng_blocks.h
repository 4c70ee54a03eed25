/* eng_blocks: the engine's paged KV cache, as vLLM v1's BlockPool.
 *
 * num_blocks blocks of block_size tokens. A block is in use while its
 * reference count is above zero. Free blocks sit in one LRU queue; a freed
 * block that holds a full, hashed block of tokens stays in the prefix-cache
 * index until it is taken again for a new allocation ("lazy eviction"), at
 * which point its hash leaves the index and the removed callback fires (the
 * BlockRemoved KV event). Requests free their blocks tail first so that the
 * end of a sequence is evicted before its shared prefix.
 *
 * The index maps the 64-bit block key to a block; a key is cached at most
 * once (a duplicate full block stays uncached, as it would be freed first).
 * All state lives in one struct; arrays are allocated at init and never
 * grow. O(1) per operation. */
#ifndef ENG_BLOCKS_H
#define ENG_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#include "common/bx_queue.h"

typedef void (*eng_blocks_removed_cb)(uint64_t key, void *ud);
struct eng_blocks;
/* A cached block is being evicted for reuse: called from eng_blocks_alloc
 * before its key leaves the index (so the block and its ancestors can still
 * be looked up), then on_removed fires. KV offloading copies it out here. */
typedef void (*eng_blocks_evict_cb)(const struct eng_blocks *bm, int32_t b, uint64_t key, void *ud);

typedef struct eng_block {
    uint64_t key;       /* valid when cached */
    int32_t ref;        /* requests holding it */
    int32_t hnext;      /* index chain */
    bx_queue free_node; /* in the free queue while in_free */
    uint8_t cached;     /* key is in the index */
    uint8_t in_free;    /* on the free queue */
} eng_block;

typedef struct eng_blocks {
    eng_block *blocks;
    int32_t *buckets; /* index heads, nbuckets = power of two */
    uint32_t nbuckets;
    int32_t num_blocks;
    int32_t block_size;
    bx_queue free_q;    /* eng_block.free_node, least recently freed first; the
                         * struct must not move after init (the list points into it) */
    int32_t num_free;   /* includes cached free blocks */
    int32_t num_cached; /* keys in the index */
    eng_blocks_removed_cb on_removed;
    void *ud;
    eng_blocks_evict_cb on_evict; /* NULL: none (eng_blocks_set_evict_cb) */
    void *evict_ud;
} eng_blocks;

int eng_blocks_init(eng_blocks *bm, int32_t num_blocks, int32_t block_size,
                    eng_blocks_removed_cb on_removed, void *ud);
void eng_blocks_close(eng_blocks *bm);
/* Sets (or clears, with NULL) the eviction hook. */
void eng_blocks_set_evict_cb(eng_blocks *bm, eng_blocks_evict_cb cb, void *ud);

/* Block holding key, or -1. */
int32_t eng_blocks_find(const eng_blocks *bm, uint64_t key);
/* Number of leading keys that are cached (a prefix match). */
size_t eng_blocks_match(const eng_blocks *bm, const uint64_t *keys, size_t n);
/* Takes a reference to a block found in the index (removing it from the free
 * queue if it was free). */
void eng_blocks_touch(eng_blocks *bm, int32_t b);
/* Allocates a fresh block with ref 1, evicting the LRU free block's key if
 * it had one; -1 when no block is free. */
int32_t eng_blocks_alloc(eng_blocks *bm);
/* Puts a full block's key in the index. Returns 1 if it was added, 0 if the
 * key was already cached by another block (this one stays uncached). */
int eng_blocks_cache(eng_blocks *bm, int32_t b, uint64_t key);
/* Drops one reference; at zero the block goes to the free queue's tail. */
void eng_blocks_release(eng_blocks *bm, int32_t b);
/* Drops every cached key of a free block (reset_prefix_cache). Returns -1 if
 * some block is still in use (nothing changes then), else 0. */
int eng_blocks_reset_cache(eng_blocks *bm);
/* Fraction of blocks in use (ref > 0), 0..1: vLLM's kv_cache_usage_perc. */
double eng_blocks_usage(const eng_blocks *bm);

#endif
