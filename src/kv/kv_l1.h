/* kv_l1: libbrixkv's L1 tier, a DRAM cache of fixed-size KV blocks keyed by
 * 128-bit chained block keys (kv_key). Sharded by key: each shard has its
 * own lock, hash table, eviction policy (kv_evict: LRU, FIFO, S3-FIFO) and
 * share of the slab pool (kv_slab), so threads working on different blocks
 * rarely meet on one lock. Everything is allocated at create time: a put
 * copies into a slot (evicting the policy's victim when the shard is full)
 * and a get copies out, with no allocation.
 *
 * Hooks (for L2 ingestion): an optional callback sees each block evicted
 * and each block that turns hot (the policy's on_hot_access: first re-read
 * for LRU/FIFO, S3-FIFO's threshold or ghost re-insert), with its bytes,
 * under the shard lock: it must copy what it keeps, not block and not call
 * back into the cache. Blocks put with KV_L1_FROM_L2 are never reported.
 *
 * Thread-safe. Ownership: the caller's buffers are only read (put) or
 * written (get) during the call; keys are copied. */
#ifndef KV_L1_H
#define KV_L1_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "brix/brixkv.h"
#include "kv/kv_evict.h"
#include "kv/kv_key.h"

typedef struct kv_l1 kv_l1;

/* memcpy for block-sized copies. When dst sits 1..63 bytes past src modulo
 * 4 KiB (a page-aligned slot copied to a malloc'd buffer 16 bytes into a
 * page, or back), the "rep movsb" glibc uses for big copies runs at ~0.4x
 * on this hardware (4K aliasing of the stores with the next loads);
 * 2 KiB pieces stay on glibc's vector loop and run at ~0.8-0.9x. */
#define KV_L1_COPY_PIECE 2048
static inline void kv_l1_copy(void *dst, const void *src, size_t n)
{
    size_t dist = ((uintptr_t)dst - (uintptr_t)src) & 4095;
    if (n < 2 * KV_L1_COPY_PIECE || dist == 0 || dist >= 64) {
        memcpy(dst, src, n);
        return;
    }
    for (size_t off = 0; off < n; off += KV_L1_COPY_PIECE)
        memcpy((char *)dst + off, (const char *)src + off,
               n - off < KV_L1_COPY_PIECE ? n - off : KV_L1_COPY_PIECE);
}

typedef struct kv_l1_config {
    size_t capacity_bytes; /* DRAM budget for block data */
    size_t block_bytes;    /* bytes of one block (> 0) */
    unsigned nshards;      /* 0: 16; rounded down to a power of two */
    kv_evict_kind policy;  /* default KV_EVICT_S3FIFO (AIBrix's) */
    unsigned slab_flags;   /* KV_SLAB_HUGETLB / MLOCK / POPULATE */
} kv_l1_config;

typedef struct kv_l1_stats {
    uint64_t puts, hits, misses, evictions;
    size_t blocks;   /* held now */
    size_t capacity; /* most blocks held */
} kv_l1_stats;

enum { KV_L1_EV_EVICT = 1, KV_L1_EV_HOT = 2 };
#define KV_L1_FROM_L2 1u /* put flag: the block came from L2, do not report it */
typedef void (*kv_l1_hook)(void *arg, int event, const kv_key *key, const void *data, size_t len);

void kv_l1_config_default(kv_l1_config *c);
/* 0, or a negative errno with a message. */
int kv_l1_create(const kv_l1_config *c, kv_l1 **out, char *err, size_t errlen);
void kv_l1_destroy(kv_l1 *l);
/* Stores len (<= block_bytes) bytes under key, replacing a block already
 * there. 0, or -EINVAL (too long) / -ENOSPC (a shard without slots). */
int kv_l1_put(kv_l1 *l, const kv_key *key, const void *data, size_t len);
/* Sets the hook (NULL: none); call before the cache is shared. */
void kv_l1_set_hook(kv_l1 *l, kv_l1_hook fn, void *arg);
/* kv_l1_put from the pieces v[0..nv) (lengths summing to <= block_bytes),
 * with KV_L1_FROM_L2 or 0 in flags. */
int kv_l1_putv(kv_l1 *l, const kv_key *key, const brixkv_iov *v, size_t nv, unsigned flags);
/* Copies the block out into the pieces v[0..nv) in order (at most their
 * total length); its length, or -ENOENT. */
long kv_l1_getv(kv_l1 *l, const kv_key *key, const brixkv_iov *v, size_t nv);
/* Copies the block out (at most cap bytes); its length, or -ENOENT. */
long kv_l1_get(kv_l1 *l, const kv_key *key, void *dst, size_t cap);
/* How many of keys[0..n) are held, counted from the first (a prefix's
 * cached blocks); no copy, no recency change. */
size_t kv_l1_match(kv_l1 *l, const kv_key *keys, size_t n);
/* 0 deleted, -ENOENT. */
int kv_l1_delete(kv_l1 *l, const kv_key *key);
void kv_l1_stats_get(kv_l1 *l, kv_l1_stats *out);

#endif
