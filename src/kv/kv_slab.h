/* kv_slab: libbrixkv's L1 memory pool. A byte budget is reserved up front
 * as a few large mmap'd slabs (optionally MAP_HUGETLB, falling back to
 * normal pages, and optionally mlock'd), cut into fixed-size slots of one
 * block each (block bytes rounded up to 64). Slots are split equally among
 * nshards shards, each with its own mutex and free stack of slot indices,
 * so an L1 shard allocates without contending with the others. Nothing is
 * allocated per alloc/free; the pool never grows.
 *
 * Memory: kv_slab owns the slabs and its bookkeeping; kv_slab_destroy
 * unmaps them. A slot pointer returned by kv_slab_alloc belongs to the
 * caller until passed to kv_slab_free, and is invalid after destroy.
 * alloc/free/index/ptr/stats are thread-safe; create and destroy are not
 * (no other call may run concurrently with them). */
#ifndef KV_SLAB_H
#define KV_SLAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_SLAB_ALIGN 64 /* slot size and slot address alignment */

enum {
    KV_SLAB_HUGETLB = 1 << 0,  /* try MAP_HUGETLB; normal pages if unavailable */
    KV_SLAB_MLOCK = 1 << 1,    /* mlock every slab; create fails if not allowed */
    KV_SLAB_POPULATE = 1 << 2, /* prefault (MAP_POPULATE) */
};

typedef struct kv_slab_config {
    size_t budget_bytes; /* slots = budget / slot size, rounded down to a multiple of nshards */
    size_t block_bytes;  /* bytes per block (> 0); slot size = this rounded up to 64 */
    size_t slab_bytes;   /* bytes per mmap; 0 = 1 GiB (AIBrix's slab size) */
    unsigned nshards;    /* 0 means 1 */
    unsigned flags;      /* KV_SLAB_* */
} kv_slab_config;

typedef struct kv_slab_stats {
    size_t slot_bytes;     /* slot size (block bytes rounded up to 64) */
    size_t slots_total;    /* all shards */
    size_t slots_used;     /* handed out now, all shards */
    size_t bytes_reserved; /* mapped bytes, all slabs */
    unsigned nshards;
    unsigned nslabs;
    unsigned nslabs_huge; /* slabs on MAP_HUGETLB pages (0 after a fallback) */
    bool huge_pages;      /* every slab is on huge pages */
    bool locked;          /* slabs are mlock'd */
} kv_slab_stats;

typedef struct kv_slab kv_slab;

/* 0 and *out, or a negative errno with a message in err (may be NULL):
 * -EINVAL (bad config, or a budget too small for one slot per shard),
 * -ENOMEM (mmap or bookkeeping failed), -ENOMEM/-EPERM/-EAGAIN when
 * KV_SLAB_MLOCK is refused (the message names RLIMIT_MEMLOCK). */
int kv_slab_create(const kv_slab_config *cfg, kv_slab **out, char *err, size_t errlen);
void kv_slab_destroy(kv_slab *s);

/* A free slot of shard `shard` (KV_SLAB_ALIGN-aligned, slot_bytes long),
 * or NULL when that shard is full or shard >= nshards. */
void *kv_slab_alloc(kv_slab *s, unsigned shard);
/* Returns slot to its shard (found from the pointer). 0, or -EINVAL when
 * slot is not a slot start of this pool, -EALREADY when it is already free. */
int kv_slab_free(kv_slab *s, void *slot);

/* Slot index (0 .. slots_total-1) of a slot pointer, or -1 when ptr is not
 * the start of one of this pool's slots. */
long kv_slab_index(const kv_slab *s, const void *ptr);
/* Slot pointer for an index, or NULL when out of range. */
void *kv_slab_ptr(const kv_slab *s, size_t index);
/* Shard owning a slot index (shard k owns a contiguous index range). */
unsigned kv_slab_shard_of(const kv_slab *s, size_t index);
size_t kv_slab_slot_bytes(const kv_slab *s);

/* Slots in use in one shard (0 for a bad shard). */
size_t kv_slab_shard_used(kv_slab *s, unsigned shard);
void kv_slab_stats_get(kv_slab *s, kv_slab_stats *out);

#endif
