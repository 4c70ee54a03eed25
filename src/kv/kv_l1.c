/* kv_l1: see kv_l1.h. Each block lives in one slab slot; its entry (the
 * eviction node, the length) sits in an array indexed by the slot's index,
 * so a shard's hash table holds entry indexes (a bx_oaidx: linear probing,
 * deletion by backward shift, at most half full). */
#include "kv/kv_l1.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_oahash.h"
#include "common/bx_queue.h"
#include "kv/kv_slab.h"

typedef struct kv_l1_entry {
    kv_evict_node node; /* first: a node pointer is its entry's */
    uint32_t len;
    uint8_t from_l2; /* put with KV_L1_FROM_L2: never handed to the hook */
} kv_l1_entry;

typedef struct kv_l1_shard {
    pthread_mutex_t mu;
    kv_evict ev;
    bx_oaidx table;   /* entry indexes */
    kv_l1_entry *ent; /* the kv_l1's, for the table's callbacks */
    uint64_t puts, hits, misses, evictions;
    size_t blocks, cap;
} kv_l1_shard;

struct kv_l1 {
    kv_l1_config cfg;
    kv_slab *slab;
    kv_l1_entry *ent; /* one per slab slot */
    kv_l1_shard *sh;
    unsigned nsh;
    kv_l1_hook hook;
    void *hook_arg;
};

void kv_l1_config_default(kv_l1_config *c)
{
    memset(c, 0, sizeof(*c));
    c->nshards = 16;
    c->policy = KV_EVICT_S3FIFO;
}

static unsigned kv_l1_shard_of(const kv_l1 *l, const kv_key *k)
{
    return (unsigned)(kv_key_hash64(*k) & (l->nsh - 1));
}

static size_t kv_l1_home(const kv_l1_shard *s, const uint64_t key[2])
{
    uint64_t h = (key[0] ^ (key[1] >> 7)) * 0x9e3779b97f4a7c15ULL;
    return (uint32_t)(h >> 32) & s->table.mask;
}

/* The shard's table, for bx_oahash: tab is &shard->table. */
static size_t kv_l1_slot_home(const void *tab, size_t i)
{
    const kv_l1_shard *s = bx_container_of(tab, kv_l1_shard, table);
    return kv_l1_home(s, s->ent[bx_oaidx_at(tab, i)].node.key);
}

static int kv_l1_slot_is(const void *tab, size_t i, const void *key)
{
    const kv_l1_shard *s = bx_container_of(tab, kv_l1_shard, table);
    const uint64_t *k = key, *e = s->ent[bx_oaidx_at(tab, i)].node.key;
    return e[0] == k[0] && e[1] == k[1];
}

static const bx_oahash_ops kv_l1_table_ops = {bx_oaidx_empty, kv_l1_slot_home, bx_oaidx_move,
                                              bx_oaidx_clear, 0};

static kv_l1_entry *kv_l1_find(const kv_l1_shard *s, const kv_key *k, size_t *pos)
{
    uint64_t key[2] = {k->hi, k->lo};
    size_t i = bx_oaidx_find(&kv_l1_table_ops, &s->table, kv_l1_home(s, key), kv_l1_slot_is, key);
    if (i == BX_OAHASH_NONE) return NULL;
    if (pos) *pos = i;
    return &s->ent[bx_oaidx_at(&s->table, i)];
}

int kv_l1_create(const kv_l1_config *c, kv_l1 **out, char *err, size_t errlen)
{
    if (!c || !out || c->block_bytes == 0 || c->capacity_bytes < c->block_bytes) {
        snprintf(err, errlen, "kv_l1: need block_bytes > 0 and capacity >= one block");
        return -EINVAL;
    }
    unsigned nsh = c->nshards ? c->nshards : 16;
    while (nsh & (nsh - 1))
        nsh &= nsh - 1; /* down to a power of two */
    kv_l1 *l = calloc(1, sizeof(*l));
    if (!l) return -ENOMEM;
    l->cfg = *c;
    kv_slab_config sc = {.budget_bytes = c->capacity_bytes,
                         .block_bytes = c->block_bytes,
                         .nshards = nsh,
                         .flags = c->slab_flags};
    int rc = kv_slab_create(&sc, &l->slab, err, errlen);
    kv_slab_stats st;
    if (rc == 0) {
        kv_slab_stats_get(l->slab, &st);
        if (st.slots_total < nsh) rc = -EINVAL;
    }
    if (rc != 0) {
        if (rc == -EINVAL && l->slab)
            snprintf(err, errlen, "kv_l1: capacity too small for %u shards", nsh);
        kv_slab_destroy(l->slab);
        free(l);
        return rc;
    }
    l->nsh = nsh;
    l->ent = calloc(st.slots_total, sizeof(*l->ent));
    l->sh = calloc(nsh, sizeof(*l->sh));
    if (!l->ent || !l->sh) {
        kv_l1_destroy(l);
        return -ENOMEM;
    }
    size_t per = st.slots_total / nsh;
    for (unsigned i = 0; i < nsh; i++) {
        kv_l1_shard *s = &l->sh[i];
        s->cap = per;
        s->ent = l->ent;
        kv_evict_params prm;
        kv_evict_params_default(&prm);
        prm.block_bytes = c->block_bytes;
        if (bx_oaidx_init(&s->table, per) != 0 || pthread_mutex_init(&s->mu, NULL) != 0 ||
            kv_evict_init(&s->ev, c->policy, (uint64_t)per * c->block_bytes, &prm) != 0) {
            bx_oaidx_free(&s->table);
            snprintf(err, errlen, "kv_l1: cannot set up shard %u", i);
            kv_l1_destroy(l);
            return -ENOMEM;
        }
    }
    *out = l;
    return 0;
}

void kv_l1_destroy(kv_l1 *l)
{
    if (!l) return;
    for (unsigned i = 0; l->sh && i < l->nsh; i++) {
        if (!l->sh[i].table.slots) continue;
        kv_evict_close(&l->sh[i].ev);
        pthread_mutex_destroy(&l->sh[i].mu);
        bx_oaidx_free(&l->sh[i].table);
    }
    free(l->sh);
    free(l->ent);
    kv_slab_destroy(l->slab);
    free(l);
}

/* Takes the policy's victim out of the shard; its slot stays allocated
 * (returned) so a put can reuse it. NULL when the shard holds nothing. */
static void *kv_l1_evict(kv_l1 *l, kv_l1_shard *s)
{
    kv_evict_node *n = kv_evict_evict_one(&s->ev);
    if (!n) return NULL;
    kv_l1_entry *e = (kv_l1_entry *)n;
    kv_key k = {n->key[0], n->key[1]};
    size_t pos;
    if (kv_l1_find(s, &k, &pos) == e) bx_oaidx_del(&kv_l1_table_ops, &s->table, pos);
    s->evictions++;
    s->blocks--;
    void *slot = kv_slab_ptr(l->slab, (size_t)(e - l->ent));
    if (l->hook && !e->from_l2) l->hook(l->hook_arg, KV_L1_EV_EVICT, &k, slot, e->len);
    return slot;
}

void kv_l1_set_hook(kv_l1 *l, kv_l1_hook fn, void *arg)
{
    l->hook = fn;
    l->hook_arg = arg;
}

static size_t kv_l1_iov_len(const brixkv_iov *v, size_t nv)
{
    size_t n = 0;
    for (size_t i = 0; i < nv; i++)
        n += v[i].len;
    return n;
}

static void kv_l1_gather(void *dst, const brixkv_iov *v, size_t nv)
{
    uint8_t *p = dst;
    for (size_t i = 0; i < nv; i++) {
        if (v[i].len) kv_l1_copy(p, v[i].base, v[i].len);
        p += v[i].len;
    }
}

/* Copies up to len bytes of src into the pieces, in order. */
static void kv_l1_scatter(const brixkv_iov *v, size_t nv, const void *src, size_t len)
{
    const uint8_t *p = src;
    for (size_t i = 0; i < nv && len; i++) {
        size_t n = v[i].len < len ? v[i].len : len;
        if (n) kv_l1_copy(v[i].base, p, n);
        p += n;
        len -= n;
    }
}

int kv_l1_put(kv_l1 *l, const kv_key *key, const void *data, size_t len)
{
    brixkv_iov v = {(void *)(uintptr_t)data, len};
    return kv_l1_putv(l, key, &v, 1, 0);
}

int kv_l1_putv(kv_l1 *l, const kv_key *key, const brixkv_iov *v, size_t nv, unsigned flags)
{
    size_t len = kv_l1_iov_len(v, nv);
    if (len > l->cfg.block_bytes) return -EINVAL;
    unsigned si = kv_l1_shard_of(l, key);
    kv_l1_shard *s = &l->sh[si];
    pthread_mutex_lock(&s->mu);
    s->puts++;
    kv_l1_entry *e = kv_l1_find(s, key, NULL);
    if (e) { /* the same key again: new bytes, recency as a re-put */
        kv_l1_gather(kv_slab_ptr(l->slab, (size_t)(e - l->ent)), v, nv);
        e->len = (uint32_t)len;
        e->from_l2 = (flags & KV_L1_FROM_L2) != 0;
        kv_evict_replace(&s->ev, &e->node, l->cfg.block_bytes);
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    void *slot = kv_slab_alloc(l->slab, si);
    if (!slot) slot = kv_l1_evict(l, s);
    if (!slot) {
        pthread_mutex_unlock(&s->mu);
        return -ENOSPC;
    }
    long idx = kv_slab_index(l->slab, slot);
    e = &l->ent[idx];
    memset(e, 0, sizeof(*e));
    e->node.key[0] = key->hi;
    e->node.key[1] = key->lo;
    e->node.size = l->cfg.block_bytes;
    e->len = (uint32_t)len;
    e->from_l2 = (flags & KV_L1_FROM_L2) != 0;
    kv_l1_gather(slot, v, nv);
    bx_oaidx_add(&kv_l1_table_ops, &s->table, kv_l1_home(s, e->node.key), (uint32_t)idx);
    s->blocks++;
    if (kv_evict_insert(&s->ev, &e->node) == 1 && l->hook && !e->from_l2)
        l->hook(l->hook_arg, KV_L1_EV_HOT, key, slot, len);
    while (kv_evict_over_capacity(&s->ev)) { /* a policy may keep less than the slots */
        void *freed = kv_l1_evict(l, s);
        if (!freed) break;
        kv_slab_free(l->slab, freed);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

long kv_l1_get(kv_l1 *l, const kv_key *key, void *dst, size_t cap)
{
    brixkv_iov v = {dst, cap};
    return kv_l1_getv(l, key, &v, 1);
}

long kv_l1_getv(kv_l1 *l, const kv_key *key, const brixkv_iov *v, size_t nv)
{
    kv_l1_shard *s = &l->sh[kv_l1_shard_of(l, key)];
    pthread_mutex_lock(&s->mu);
    kv_l1_entry *e = kv_l1_find(s, key, NULL);
    if (!e) {
        s->misses++;
        pthread_mutex_unlock(&s->mu);
        return -ENOENT;
    }
    s->hits++;
    const void *slot = kv_slab_ptr(l->slab, (size_t)(e - l->ent));
    if (kv_evict_access(&s->ev, &e->node) == 1 && l->hook && !e->from_l2)
        l->hook(l->hook_arg, KV_L1_EV_HOT, key, slot, e->len);
    kv_l1_scatter(v, nv, slot, e->len);
    long len = (long)e->len;
    pthread_mutex_unlock(&s->mu);
    return len;
}

size_t kv_l1_match(kv_l1 *l, const kv_key *keys, size_t n)
{
    size_t i = 0;
    for (; i < n; i++) {
        kv_l1_shard *s = &l->sh[kv_l1_shard_of(l, &keys[i])];
        pthread_mutex_lock(&s->mu);
        int found = kv_l1_find(s, &keys[i], NULL) != NULL;
        pthread_mutex_unlock(&s->mu);
        if (!found) break;
    }
    return i;
}

int kv_l1_delete(kv_l1 *l, const kv_key *key)
{
    kv_l1_shard *s = &l->sh[kv_l1_shard_of(l, key)];
    pthread_mutex_lock(&s->mu);
    size_t pos;
    kv_l1_entry *e = kv_l1_find(s, key, &pos);
    if (!e) {
        pthread_mutex_unlock(&s->mu);
        return -ENOENT;
    }
    kv_evict_remove(&s->ev, &e->node);
    bx_oaidx_del(&kv_l1_table_ops, &s->table, pos);
    s->blocks--;
    kv_slab_free(l->slab, kv_slab_ptr(l->slab, (size_t)(e - l->ent)));
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void kv_l1_stats_get(kv_l1 *l, kv_l1_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < l->nsh; i++) {
        kv_l1_shard *s = &l->sh[i];
        pthread_mutex_lock(&s->mu);
        out->puts += s->puts;
        out->hits += s->hits;
        out->misses += s->misses;
        out->evictions += s->evictions;
        out->blocks += s->blocks;
        out->capacity += s->cap;
        pthread_mutex_unlock(&s->mu);
    }
}
