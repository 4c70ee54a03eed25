/* eng_blocks: see eng_blocks.h. The free queue is an intrusive list (bx_queue)
 * through the blocks; the index is a chained hash table whose chains are
 * threaded through the blocks themselves, so nothing is allocated after init. */
#include "engine/eng_blocks.h"

#include <stdlib.h>

static uint32_t eng_blocks_bucket(const eng_blocks *bm, uint64_t key)
{
    /* keys are SHA-256 bits already; mix anyway for non-hash test keys */
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (uint32_t)key & (bm->nbuckets - 1);
}

static void eng_blocks_q_remove(eng_blocks *bm, int32_t b)
{
    eng_block *blk = &bm->blocks[b];
    bx_queue_remove(&blk->free_node);
    blk->in_free = 0;
    bm->num_free--;
}

static void eng_blocks_q_push_tail(eng_blocks *bm, int32_t b)
{
    eng_block *blk = &bm->blocks[b];
    bx_queue_insert_tail(&bm->free_q, &blk->free_node);
    blk->in_free = 1;
    bm->num_free++;
}

static void eng_blocks_uncache(eng_blocks *bm, int32_t b)
{
    eng_block *blk = &bm->blocks[b];
    uint32_t h = eng_blocks_bucket(bm, blk->key);
    int32_t *pp = &bm->buckets[h];
    while (*pp >= 0 && *pp != b)
        pp = &bm->blocks[*pp].hnext;
    if (*pp == b) *pp = blk->hnext;
    blk->hnext = -1;
    blk->cached = 0;
    bm->num_cached--;
}

int eng_blocks_init(eng_blocks *bm, int32_t num_blocks, int32_t block_size,
                    eng_blocks_removed_cb on_removed, void *ud)
{
    if (num_blocks <= 0 || block_size <= 0) return -1;
    bm->blocks = calloc((size_t)num_blocks, sizeof(*bm->blocks));
    uint32_t nb = 16;
    while (nb < (uint32_t)num_blocks * 2u)
        nb <<= 1;
    bm->buckets = malloc(nb * sizeof(*bm->buckets));
    if (!bm->blocks || !bm->buckets) {
        free(bm->blocks);
        free(bm->buckets);
        return -1;
    }
    for (uint32_t i = 0; i < nb; i++)
        bm->buckets[i] = -1;
    bm->nbuckets = nb;
    bm->num_blocks = num_blocks;
    bm->block_size = block_size;
    bx_queue_init(&bm->free_q);
    bm->num_free = 0;
    bm->num_cached = 0;
    bm->on_removed = on_removed;
    bm->ud = ud;
    bm->on_evict = NULL;
    bm->evict_ud = NULL;
    for (int32_t b = 0; b < num_blocks; b++) {
        bm->blocks[b].hnext = -1;
        eng_blocks_q_push_tail(bm, b);
    }
    return 0;
}

void eng_blocks_set_evict_cb(eng_blocks *bm, eng_blocks_evict_cb cb, void *ud)
{
    bm->on_evict = cb;
    bm->evict_ud = ud;
}

void eng_blocks_close(eng_blocks *bm)
{
    free(bm->blocks);
    free(bm->buckets);
    bm->blocks = NULL;
    bm->buckets = NULL;
}

int32_t eng_blocks_find(const eng_blocks *bm, uint64_t key)
{
    for (int32_t b = bm->buckets[eng_blocks_bucket(bm, key)]; b >= 0; b = bm->blocks[b].hnext)
        if (bm->blocks[b].key == key) return b;
    return -1;
}

size_t eng_blocks_match(const eng_blocks *bm, const uint64_t *keys, size_t n)
{
    size_t i = 0;
    while (i < n && eng_blocks_find(bm, keys[i]) >= 0)
        i++;
    return i;
}

void eng_blocks_touch(eng_blocks *bm, int32_t b)
{
    if (bm->blocks[b].in_free) eng_blocks_q_remove(bm, b);
    bm->blocks[b].ref++;
}

int32_t eng_blocks_alloc(eng_blocks *bm)
{
    bx_queue *q = bx_queue_head(&bm->free_q);
    if (!q) return -1;
    int32_t b = (int32_t)(bx_container_of(q, eng_block, free_node) - bm->blocks);
    eng_blocks_q_remove(bm, b);
    eng_block *blk = &bm->blocks[b];
    if (blk->cached) {
        uint64_t key = blk->key;
        if (bm->on_evict) bm->on_evict(bm, b, key, bm->evict_ud);
        eng_blocks_uncache(bm, b);
        if (bm->on_removed) bm->on_removed(key, bm->ud);
    }
    blk->ref = 1;
    return b;
}

int eng_blocks_cache(eng_blocks *bm, int32_t b, uint64_t key)
{
    eng_block *blk = &bm->blocks[b];
    if (blk->cached) return 0;
    if (eng_blocks_find(bm, key) >= 0) return 0;
    uint32_t h = eng_blocks_bucket(bm, key);
    blk->key = key;
    blk->hnext = bm->buckets[h];
    bm->buckets[h] = b;
    blk->cached = 1;
    bm->num_cached++;
    return 1;
}

void eng_blocks_release(eng_blocks *bm, int32_t b)
{
    eng_block *blk = &bm->blocks[b];
    if (blk->ref <= 0) return;
    if (--blk->ref == 0) eng_blocks_q_push_tail(bm, b);
}

int eng_blocks_reset_cache(eng_blocks *bm)
{
    if (bm->num_free != bm->num_blocks) return -1;
    for (int32_t b = 0; b < bm->num_blocks; b++)
        if (bm->blocks[b].cached) eng_blocks_uncache(bm, b);
    return 0;
}

double eng_blocks_usage(const eng_blocks *bm)
{
    return 1.0 - (double)bm->num_free / (double)bm->num_blocks;
}
