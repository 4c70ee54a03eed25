/* kv_evict_s3fifo: S3-FIFO as in AIBrix s3fifo.py (docs/kvcache.md "L1"): a small FIFO (a share
 * of the capacity, default 0.3), a main FIFO with CLOCK-like second chance, and a ghost of keys
 * evicted from small. New keys enter small; a key found in ghost enters main directly.
 *
 * Unlike AIBrix, whose ghost never shrinks (spec 9.3), the ghost here is bounded by entry count:
 * a ring of the last `cap` evicted keys (the oldest is overwritten) and a linear-probing set of
 * ring indexes (a bx_oaidx: backward-shift deletion, a power of two >= 2 * cap slots), so the
 * load factor stays <= 0.5. A key taken out of ghost leaves a stale ring slot; when the ring
 * overwrites it, the set is only touched if its entry still points at that slot. */
#include "kv/kv_evict.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "common/bx_queue.h"

#define KV_EVICT_GHOST_MAX (1u << 28)
#define HOT_MAX 3

static uint32_t key_hash(const uint64_t k[2])
{
    uint64_t h = (k[0] ^ (k[1] * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(h ^ (h >> 31) ^ (h >> 47));
}

/* The set's callbacks: tab is &ghost->set. */
static size_t ghost_home(const void *tab, size_t i)
{
    const kv_evict_ghost *g = bx_container_of(tab, kv_evict_ghost, set);
    return key_hash(g->ring[bx_oaidx_at(tab, i)]) & g->set.mask;
}

static int ghost_slot_is(const void *tab, size_t i, const void *key)
{
    const kv_evict_ghost *g = bx_container_of(tab, kv_evict_ghost, set);
    const uint64_t *k = key, *r = g->ring[bx_oaidx_at(tab, i)];
    return r[0] == k[0] && r[1] == k[1];
}

static const bx_oahash_ops ghost_ops = {bx_oaidx_empty, ghost_home, bx_oaidx_move, bx_oaidx_clear,
                                        0};

/* Set slot holding key, or BX_OAHASH_NONE. */
static size_t ghost_find(const kv_evict_ghost *g, const uint64_t k[2])
{
    return bx_oaidx_find(&ghost_ops, &g->set, key_hash(k) & g->set.mask, ghost_slot_is, k);
}

static void ghost_del_slot(kv_evict_ghost *g, size_t i)
{
    bx_oaidx_del(&ghost_ops, &g->set, i);
    g->live--;
}

static void ghost_add(kv_evict_ghost *g, const uint64_t k[2])
{
    size_t s = ghost_find(g, k);
    if (s != BX_OAHASH_NONE) ghost_del_slot(g, s);
    uint32_t w = g->wpos;
    if (g->used == g->cap) { /* overwrite the oldest: forget it if still live */
        size_t o = ghost_find(g, g->ring[w]);
        if (o != BX_OAHASH_NONE && bx_oaidx_at(&g->set, o) == w) ghost_del_slot(g, o);
    } else {
        g->used++;
    }
    g->ring[w][0] = k[0];
    g->ring[w][1] = k[1];
    bx_oaidx_add(&ghost_ops, &g->set, key_hash(k) & g->set.mask, w);
    g->live++;
    g->wpos = (w + 1 == g->cap) ? 0 : w + 1;
}

static int ghost_take(kv_evict_ghost *g, const uint64_t k[2])
{
    size_t s = ghost_find(g, k);
    if (s == BX_OAHASH_NONE) return 0;
    ghost_del_slot(g, s);
    return 1;
}

int kv_evict_ghost_contains(const kv_evict *p, const uint64_t key[2])
{
    if (p->kind != KV_EVICT_S3FIFO || !p->ghost.set.slots) return 0;
    return ghost_find(&p->ghost, key) != BX_OAHASH_NONE;
}

static int s3_init(kv_evict *p, const kv_evict_params *prm)
{
    if (!(prm->small_ratio > 0.0 && prm->small_ratio < 1.0)) return -EINVAL;
    if (prm->promote_threshold < 1 || prm->promote_threshold > 3) return -EINVAL;
    p->threshold = prm->promote_threshold;
    p->small_cap = (uint64_t)((double)p->capacity * prm->small_ratio);
    p->main_cap = p->capacity - p->small_cap;

    uint64_t cap = prm->ghost_entries;
    if (cap == 0) {
        if (prm->block_bytes == 0) return -EINVAL;
        cap = p->main_cap / prm->block_bytes;
        if (cap == 0) cap = 1;
    }
    if (cap > KV_EVICT_GHOST_MAX) return -EINVAL;
    kv_evict_ghost *g = &p->ghost;
    g->ring = calloc(cap, sizeof *g->ring);
    if (!g->ring || bx_oaidx_init(&g->set, cap) != 0) {
        free(g->ring);
        g->ring = NULL;
        return -ENOMEM;
    }
    g->cap = (uint32_t)cap;
    return 0;
}

static void s3_close(kv_evict *p)
{
    free(p->ghost.ring);
    bx_oaidx_free(&p->ghost.set);
    p->ghost.ring = NULL;
}

static int s3_insert(kv_evict *p, kv_evict_node *n)
{
    if (ghost_take(&p->ghost, n->key)) {
        p->stats.ghost_hits++;
        kv_evict_list_push(p, KV_EVICT_Q_MAIN, n);
        return 1;
    }
    kv_evict_list_push(p, KV_EVICT_Q_SMALL, n);
    return 0;
}

static int s3_access(kv_evict *p, kv_evict_node *n)
{
    int hot = n->queue == KV_EVICT_Q_SMALL && n->hotness == p->threshold - 1;
    if (n->hotness < HOT_MAX) n->hotness++;
    return hot;
}

static void s3_replace(kv_evict *p, kv_evict_node *n)
{
    int q = n->queue;
    kv_evict_list_unlink(p, n);
    kv_evict_list_push(p, q, n);
}

/* One step on main's tail: second chance (NULL) or the victim, unlinked. */
static kv_evict_node *main_step(kv_evict *p)
{
    kv_evict_node *n = kv_evict_list_tail(&p->q[KV_EVICT_Q_MAIN]);
    kv_evict_list_unlink(p, n);
    if (n->hotness >= 1) {
        n->hotness--;
        kv_evict_list_push(p, KV_EVICT_Q_MAIN, n);
        p->stats.second_chance++;
        return NULL;
    }
    return n;
}

static kv_evict_node *s3_evict_one(kv_evict *p)
{
    kv_evict_list *small = &p->q[KV_EVICT_Q_SMALL], *mainq = &p->q[KV_EVICT_Q_MAIN];
    /* Terminates: each pass evicts, moves a small entry to main with hotness 0, or lowers the
     * hotness of a main entry. */
    for (;;) {
        kv_evict_node *small_tail = kv_evict_list_tail(small);
        if (!small_tail && !kv_evict_list_tail(mainq)) return NULL;
        if (small->bytes > p->small_cap || !kv_evict_list_tail(mainq)) {
            kv_evict_node *n = small_tail;
            kv_evict_list_unlink(p, n);
            if (n->hotness >= p->threshold) {
                n->hotness = 0;
                kv_evict_list_push(p, KV_EVICT_Q_MAIN, n);
                p->stats.promotions++;
                while (mainq->bytes > p->main_cap) { /* trim main to its share */
                    kv_evict_node *v = main_step(p);
                    if (v) return v;
                }
                continue;
            }
            ghost_add(&p->ghost, n->key);
            return n;
        }
        kv_evict_node *v = main_step(p);
        if (v) return v;
    }
}

const struct kv_evict_ops kv_evict_s3fifo_ops = {
    .init = s3_init,
    .close = s3_close,
    .insert = s3_insert,
    .access = s3_access,
    .replace = s3_replace,
    .evict_one = s3_evict_one,
};
