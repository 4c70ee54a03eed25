/* kv_evict: L1 eviction policies (LRU, FIFO, S3-FIFO) behind one interface.
 *
 * Owns: the policy's queues (intrusive lists threaded through caller nodes), byte accounting and,
 * for S3-FIFO, a ghost of recently evicted keys (a ring plus an open-addressing set, allocated
 * once in kv_evict_init and freed in kv_evict_close; its size is bounded by entry count).
 *
 * Memory: nodes (struct kv_evict_node) are owned by the caller and embedded in the caller's entry;
 * the policy only links them. A node is "tracked" from kv_evict_insert until kv_evict_remove or
 * until kv_evict_evict_one returns it; after that the caller may free or reuse it. No operation
 * allocates. The policy does no key lookup: the caller's hash table finds nodes (node->key may
 * serve as the table's key).
 *
 * Semantics follow AIBrix's Python policies (docs/kvcache.md "L1"), except that the S3-FIFO ghost
 * is bounded (AIBrix's is not). One eviction = one call to kv_evict_evict_one; the caller loops
 * while kv_evict_over_capacity() (or while it needs room) and frees each node returned.
 *
 * NOT thread-safe: the caller's shard lock must protect every call on one kv_evict.
 */
#ifndef BRIX_KV_EVICT_H
#define BRIX_KV_EVICT_H

#include <stdint.h>

#include "common/bx_oahash.h"
#include "common/bx_queue.h"

typedef enum kv_evict_kind {
    KV_EVICT_LRU = 0,
    KV_EVICT_FIFO = 1,
    KV_EVICT_S3FIFO = 2,
} kv_evict_kind;

/* Queue a tracked node sits in. LRU and FIFO use only KV_EVICT_Q_MAIN. */
enum {
    KV_EVICT_Q_NONE = 0, /* not tracked */
    KV_EVICT_Q_MAIN = 1,
    KV_EVICT_Q_SMALL = 2,
};

/* Embedded in the caller's entry. Set key and size before kv_evict_insert; the policy owns the
 * other fields while the node is tracked (read them, do not write them). */
typedef struct kv_evict_node {
    bx_queue link;   /* in its queue's list, newest first */
    uint64_t key[2]; /* 128-bit key; S3-FIFO's ghost remembers it after eviction */
    uint64_t size;   /* bytes charged to the policy */
    uint8_t queue;   /* KV_EVICT_Q_* */
    int8_t hotness;  /* LRU/FIFO: 0 or 1; S3-FIFO: 0..3 */
} kv_evict_node;

typedef struct kv_evict_params {
    double small_ratio;    /* S3-FIFO: small queue's share of capacity, in (0,1); default 0.3 */
    int promote_threshold; /* S3-FIFO: small -> main at hotness >= T, T in [1,3]; default 1 */
    uint64_t block_bytes; /* S3-FIFO: typical entry size; ghost holds main_cap / block_bytes keys */
    uint32_t ghost_entries; /* S3-FIFO: explicit ghost bound (overrides block_bytes); 0 = derive */
} kv_evict_params;

/* One intrusive FIFO/LRU list (kv_evict_node.link): head = newest, tail = oldest. The kv_evict
 * must not move after kv_evict_init (the lists point into it). */
typedef struct kv_evict_list {
    bx_queue nodes;
    uint64_t bytes;
    uint64_t count;
} kv_evict_list;

/* S3-FIFO ghost: ring of the last `cap` evicted keys plus a set over the live ones. */
typedef struct kv_evict_ghost {
    uint64_t (*ring)[2]; /* cap keys */
    bx_oaidx set;        /* ring indexes of the live keys, at most half full */
    uint32_t cap;
    uint32_t wpos; /* next ring slot to write (the oldest once full) */
    uint32_t used; /* ring slots written, <= cap */
    uint32_t live; /* keys currently in the set, <= cap */
} kv_evict_ghost;

typedef struct kv_evict_stats {
    uint64_t evictions;     /* nodes returned by evict_one */
    uint64_t promotions;    /* S3-FIFO: small -> main */
    uint64_t second_chance; /* S3-FIFO: main re-appends */
    uint64_t ghost_hits;    /* S3-FIFO: inserts found in ghost */
} kv_evict_stats;

struct kv_evict_ops;

typedef struct kv_evict {
    const struct kv_evict_ops *ops;
    kv_evict_kind kind;
    uint64_t capacity;  /* bytes */
    uint64_t usage;     /* bytes of tracked nodes */
    uint64_t small_cap; /* S3-FIFO: floor(capacity * small_ratio) */
    uint64_t main_cap;  /* capacity - small_cap (LRU/FIFO: capacity) */
    int threshold;      /* S3-FIFO promotion threshold */
    kv_evict_list q[3]; /* indexed by KV_EVICT_Q_*; q[0] unused */
    kv_evict_ghost ghost;
    kv_evict_stats stats;
} kv_evict;

/* Fills AIBrix's defaults: small_ratio 0.3, promote_threshold 1, block_bytes 0, ghost_entries 0. */
void kv_evict_params_default(kv_evict_params *prm);

/* "LRU", "FIFO", "S3FIFO" (case-insensitive, as AIBRIX_KV_CACHE_OL_L1_CACHE_EVICTION_POLICY) ->
 * 0 and *out, else -EINVAL. */
int kv_evict_kind_parse(const char *s, kv_evict_kind *out);
const char *kv_evict_kind_name(kv_evict_kind kind);

/* capacity in bytes (> 0). prm may be NULL for defaults; S3-FIFO needs block_bytes or
 * ghost_entries. Returns 0, -EINVAL (bad kind or parameter) or -ENOMEM. */
int kv_evict_init(kv_evict *p, kv_evict_kind kind, uint64_t capacity, const kv_evict_params *prm);
/* Frees the ghost. Tracked nodes are simply forgotten (the caller owns them). */
void kv_evict_close(kv_evict *p);

/* Tracks a new node (n->key and n->size set by the caller; n not tracked). LRU/FIFO: head,
 * S3-FIFO: small, or main when the key is in ghost (the ghost entry is consumed).
 * Returns 1 if the entry is hot on arrival (S3-FIFO ghost hit, AIBrix's on_hot_access), else 0. */
int kv_evict_insert(kv_evict *p, kv_evict_node *n);

/* A hit on a tracked node. LRU: to head; FIFO: stays; S3-FIFO: hotness + 1, at most 3.
 * Returns 1 if the entry became hot (LRU/FIFO: first access; S3-FIFO: in small with hotness
 * T - 1), 0 if not, -EINVAL if n is not tracked. */
int kv_evict_access(kv_evict *p, kv_evict_node *n);

/* The entry's value was replaced (AIBrix put on an existing key); n->size may be changed first
 * through new_size. LRU: hotness 0, to head; FIFO: hotness 0, stays; S3-FIFO: re-appended to its
 * queue. Returns 0 or -EINVAL if n is not tracked. */
int kv_evict_replace(kv_evict *p, kv_evict_node *n, uint64_t new_size);

/* Stops tracking n (explicit delete; not remembered in ghost). 0 or -EINVAL if not tracked. */
int kv_evict_remove(kv_evict *p, kv_evict_node *n);

/* Picks and untracks the next victim; the caller frees it. NULL when nothing is tracked.
 * S3-FIFO may promote small entries and give main entries a second chance on the way. */
kv_evict_node *kv_evict_evict_one(kv_evict *p);

static inline int kv_evict_over_capacity(const kv_evict *p)
{
    return p->usage > p->capacity;
}
static inline uint64_t kv_evict_usage(const kv_evict *p)
{
    return p->usage;
}
static inline uint64_t kv_evict_count(const kv_evict *p)
{
    return p->q[KV_EVICT_Q_MAIN].count + p->q[KV_EVICT_Q_SMALL].count;
}
/* Keys currently remembered by the S3-FIFO ghost (always <= its bound). */
static inline uint32_t kv_evict_ghost_count(const kv_evict *p)
{
    return p->ghost.live;
}
/* Non-zero if key is in the S3-FIFO ghost (for tests and stats). */
int kv_evict_ghost_contains(const kv_evict *p, const uint64_t key[2]);

/* ---- internal: shared by kv_evict*.c only ---- */
struct kv_evict_ops {
    int (*init)(kv_evict *p, const kv_evict_params *prm);
    void (*close)(kv_evict *p);
    int (*insert)(kv_evict *p, kv_evict_node *n);
    int (*access)(kv_evict *p, kv_evict_node *n);
    void (*replace)(kv_evict *p, kv_evict_node *n);
    kv_evict_node *(*evict_one)(kv_evict *p);
};
extern const struct kv_evict_ops kv_evict_lru_ops;
extern const struct kv_evict_ops kv_evict_fifo_ops;
extern const struct kv_evict_ops kv_evict_s3fifo_ops;

/* List helpers: push at head (newest) into queue q, unlink from its queue. Keep q[].bytes/count
 * in step; p->usage is kept by kv_evict.c. */
void kv_evict_list_push(kv_evict *p, int q, kv_evict_node *n);
void kv_evict_list_unlink(kv_evict *p, kv_evict_node *n);
/* The oldest node of l, or NULL when it is empty. */
static inline kv_evict_node *kv_evict_list_tail(const kv_evict_list *l)
{
    bx_queue *t = bx_queue_tail(&l->nodes);
    return t ? bx_container_of(t, kv_evict_node, link) : NULL;
}

#endif
