/* kv_evict_s3fifo: S3-FIFO as in AIBrix s3fifo.py (docs/kvcache.md "L1"): a small FIFO (a share
 * of the capacity, default 0.3), a main FIFO with CLOCK-like second chance, and a ghost of keys
 * evicted from small. New keys enter small; a key found in ghost enters main directly.
 *
 * Unlike AIBrix, whose ghost never shrinks (spec 9.3), the ghost here is bounded by entry count:
 * a ring of the last `cap` evicted keys (the oldest is overwritten) and a linear-probing set
 * (ring index + 1 per slot, backward-shift deletion) sized to a power of two >= 2 * cap, so the
 * load factor stays <= 0.5. A key taken out of ghost leaves a stale ring slot; when the ring
 * overwrites it, the set is only touched if its entry still points at that slot. */
#include "kv/kv_evict.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#define KV_EVICT_GHOST_MAX (1u << 28)
#define HOT_MAX 3

static uint32_t key_hash(const uint64_t k[2])
{
    uint64_t h = (k[0] ^ (k[1] * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(h ^ (h >> 31) ^ (h >> 47));
}

static int key_eq(const uint64_t a[2], const uint64_t b[2])
{
    return a[0] == b[0] && a[1] == b[1];
}

/* Set slot holding key, or -1. */
static long ghost_find(const kv_evict_ghost *g, const uint64_t k[2])
{
    uint32_t i = key_hash(k) & g->mask;
    while (g->slots[i]) {
        if (key_eq(g->ring[g->slots[i] - 1], k)) return (long)i;
        i = (i + 1) & g->mask;
    }
    return -1;
}

static void ghost_del_slot(kv_evict_ghost *g, uint32_t i)
{
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & g->mask;
        if (!g->slots[j]) break;
        uint32_t home = key_hash(g->ring[g->slots[j] - 1]) & g->mask;
        /* Move j back into the hole at i unless its home lies cyclically in (i, j]. */
        int stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            g->slots[i] = g->slots[j];
            i = j;
        }
    }
    g->slots[i] = 0;
    g->live--;
}

static void ghost_add(kv_evict_ghost *g, const uint64_t k[2])
{
    long s = ghost_find(g, k);
    if (s >= 0) ghost_del_slot(g, (uint32_t)s);
    uint32_t w = g->wpos;
    if (g->used == g->cap) { /* overwrite the oldest: forget it if still live */
        long o = ghost_find(g, g->ring[w]);
        if (o >= 0 && g->slots[o] == w + 1) ghost_del_slot(g, (uint32_t)o);
    } else {
        g->used++;
    }
    g->ring[w][0] = k[0];
    g->ring[w][1] = k[1];
    uint32_t i = key_hash(k) & g->mask;
    while (g->slots[i])
        i = (i + 1) & g->mask;
    g->slots[i] = w + 1;
    g->live++;
    g->wpos = (w + 1 == g->cap) ? 0 : w + 1;
}

static int ghost_take(kv_evict_ghost *g, const uint64_t k[2])
{
    long s = ghost_find(g, k);
    if (s < 0) return 0;
    ghost_del_slot(g, (uint32_t)s);
    return 1;
}

int kv_evict_ghost_contains(const kv_evict *p, const uint64_t key[2])
{
    if (p->kind != KV_EVICT_S3FIFO || !p->ghost.slots) return 0;
    return ghost_find(&p->ghost, key) >= 0;
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
    uint32_t nslots = 2;
    while (nslots < 2 * cap)
        nslots <<= 1;
    kv_evict_ghost *g = &p->ghost;
    g->ring = calloc(cap, sizeof *g->ring);
    g->slots = calloc(nslots, sizeof *g->slots);
    if (!g->ring || !g->slots) {
        free(g->ring);
        free(g->slots);
        g->ring = NULL;
        g->slots = NULL;
        return -ENOMEM;
    }
    g->cap = (uint32_t)cap;
    g->mask = nslots - 1;
    return 0;
}

static void s3_close(kv_evict *p)
{
    free(p->ghost.ring);
    free(p->ghost.slots);
    p->ghost.ring = NULL;
    p->ghost.slots = NULL;
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
    kv_evict_node *n = p->q[KV_EVICT_Q_MAIN].tail;
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
        if (!small->tail && !mainq->tail) return NULL;
        if (small->bytes > p->small_cap || !mainq->tail) {
            kv_evict_node *n = small->tail;
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
