/* brixkv: the public API (include/brix/brixkv.h) over the L1 tier and the
 * optional L2 tier. A call turns the token sequence into its chain of block
 * keys under the namespace's root, then works block by block; gets stop at
 * the first missing block, so only a cached prefix is ever returned.
 *
 * Keys are hashed lazily, BRIXKV_CHUNK at a time, so a lookup that misses
 * early costs only what it looked at.
 *
 * L2 (a connector from kv_l2_store.h's table: Redis for l2_redis; written
 * through kv_ingest): a get reads L1 first, then the missing tail from L2
 * in pipelined batches of BRIXKV_CHUNK, stopping
 * after the batch with the first miss; each value is verified (kv_l2
 * header) in the connector's read buffer as it arrives, copied to the
 * caller and into L1 marked "from L2" (never written back). Ingestion: ALL
 * queues every block put (one copy), or with l2_sync sends it from the
 * caller's buffer before returning (no copy); EVICTED and HOT take blocks
 * from the L1 hook, always through the queue, since the hook runs under an
 * L1 lock (spec 9.4); with l2_sync a put then waits for the queue. */
#include "brix/brixkv.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kv/kv_evict.h"
#include "kv/kv_ingest.h"
#include "kv/kv_key.h"
#include "kv/kv_l1.h"
#include "kv/kv_l2.h"
#include "kv/kv_l2_store.h"
#include "kv/kv_slab.h"

#define BRIXKV_MAX_CONNS 64
/* Keys hashed at a time, and blocks per pipelined L2 batch (GET, and SET
 * with l2_sync; the ingest worker also writes 64 a batch). */
#define BRIXKV_CHUNK 64

enum { ING_ALL, ING_EVICTED, ING_HOT };

struct brixkv {
    brixkv_config cfg;
    kv_l1 *l1;
    kv_l2_store *l2; /* NULL: no L2 */
    kv_ingest *ing;
    int ingestion;
    atomic_uint_fast64_t l2_hits, l2_misses, l2_corrupt;
};

/* A call's blocks: one buffer each (flat or dst), or niov pieces each. */
typedef struct brixkv_blocks {
    const void *const *flat;
    void *const *dst;
    const brixkv_iov *iov;
    size_t niov;
} brixkv_blocks;

static const brixkv_iov *brixkv_block(const brixkv *kv, const brixkv_blocks *b, size_t i,
                                      brixkv_iov *one, size_t *nv)
{
    if (b->iov) {
        *nv = b->niov;
        return &b->iov[i * b->niov];
    }
    one->base = b->flat ? (void *)(uintptr_t)b->flat[i] : b->dst[i];
    one->len = kv->cfg.block_bytes;
    *nv = 1;
    return one;
}

static int brixkv_ingestion_parse(const char *s)
{
    if (!s || !*s || strcasecmp(s, "HOT") == 0) return ING_HOT;
    if (strcasecmp(s, "ALL") == 0) return ING_ALL;
    if (strcasecmp(s, "EVICTED") == 0) return ING_EVICTED;
    return -EINVAL;
}

/* The L1 hook: EVICTED or HOT blocks into the queue, never blocking. */
static void brixkv_on_l1(void *arg, int event, const kv_key *key, const void *data, size_t len)
{
    brixkv *kv = arg;
    if (event != (kv->ingestion == ING_HOT ? KV_L1_EV_HOT : KV_L1_EV_EVICT)) return;
    brixkv_iov v = {(void *)(uintptr_t)data, len};
    kv_ingest_offer(kv->ing, key, &v, 1, len); /* dropped and counted when full */
}

static int brixkv_open_l2(brixkv *kv, const brixkv_config *c, char *err, size_t errlen)
{
    kv_l2_addr addrs[KV_L2_MAX_NODES];
    int n = kv_l2_addrs_parse(c->l2_redis, addrs, KV_L2_MAX_NODES, err, errlen);
    if (n < 0) return n;
    kv->ingestion = brixkv_ingestion_parse(c->l2_ingestion);
    if (kv->ingestion < 0 || c->l2_conns > BRIXKV_MAX_CONNS || c->l2_timeout_ms < 0 ||
        c->l2_timeout_ms > 600000 || (c->l2_namespace && strlen(c->l2_namespace) > KV_L2_NS_MAX)) {
        snprintf(err, errlen,
                 "brixkv: bad L2 setting (l2_ingestion HOT|ALL|EVICTED, l2_conns <= %d, "
                 "l2_timeout_ms 0..600000, l2_namespace <= %d bytes)",
                 BRIXKV_MAX_CONNS, KV_L2_NS_MAX);
        return -EINVAL;
    }
    kv_l2_store_config rc = {.nodes = addrs,
                             .nnodes = (unsigned)n,
                             .conns = c->l2_conns,
                             .timeout_ms = c->l2_timeout_ms,
                             .ns = c->l2_namespace};
    int rv = kv_l2_store_open("redis", &rc, &kv->l2, err, errlen); /* l2_redis names its nodes */
    if (rv == 0) rv = kv_ingest_create(kv->l2, c->l2_queue_blocks, &kv->ing);
    if (rv != 0) return rv;
    if (kv->ingestion != ING_ALL) kv_l1_set_hook(kv->l1, brixkv_on_l1, kv);
    return 0;
}

int brixkv_open(const brixkv_config *c, brixkv **out, char *err, size_t errlen)
{
    if (!c || !out || c->block_bytes == 0 || c->block_ntokens == 0) {
        snprintf(err, errlen, "brixkv: block_bytes and block_ntokens must be > 0");
        return -EINVAL;
    }
    kv_l1_config lc;
    kv_l1_config_default(&lc);
    lc.block_bytes = c->block_bytes;
    lc.capacity_bytes = c->l1_capacity ? c->l1_capacity : (size_t)1 << 30;
    if (c->l1_shards) lc.nshards = c->l1_shards;
    if (c->l1_policy && kv_evict_kind_parse(c->l1_policy, &lc.policy) != 0) {
        snprintf(err, errlen, "brixkv: unknown L1 policy '%s' (S3FIFO, LRU or FIFO)", c->l1_policy);
        return -EINVAL;
    }
    lc.slab_flags = (c->l1_huge_pages ? KV_SLAB_HUGETLB : 0) | (c->l1_mlock ? KV_SLAB_MLOCK : 0);
    brixkv *kv = calloc(1, sizeof(*kv));
    if (!kv) return -ENOMEM;
    kv->cfg = *c;
    /* the caller's strings are not kept */
    kv->cfg.l1_policy = kv->cfg.l2_redis = kv->cfg.l2_ingestion = kv->cfg.l2_namespace = NULL;
    int rc = kv_l1_create(&lc, &kv->l1, err, errlen);
    if (rc == 0 && c->l2_redis && *c->l2_redis) rc = brixkv_open_l2(kv, c, err, errlen);
    if (rc != 0) {
        brixkv_close(kv);
        return rc;
    }
    *out = kv;
    return 0;
}

void brixkv_close(brixkv *kv)
{
    if (!kv) return;
    if (kv->ing) kv_ingest_flush(kv->ing, kv->cfg.l2_timeout_ms > 0 ? kv->cfg.l2_timeout_ms : 1000);
    kv_ingest_destroy(kv->ing); /* before L1 and L2: it writes to L2 */
    kv_l2_store_close(kv->l2);
    kv_l1_destroy(kv->l1);
    free(kv);
}

/* The sequence's keys, hashed lazily BRIXKV_CHUNK at a time (kv_key_iter). */
static int brixkv_chain_init(const brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens,
                             size_t ntok, size_t max_blocks, kv_key_iter *it)
{
    kv_key root;
    if (!ns || (ntok && !tokens) ||
        kv_key_ns_root(ns->model, ns->revision, ns->adapter, ns->dtype, ns->layout, ns->shard,
                       &root) != 0)
        return -EINVAL;
    kv_key_iter_init(it, &root, tokens, ntok, kv->cfg.block_ntokens, max_blocks);
    return 0;
}

/* Every block's pieces must add up to block_bytes. */
static int brixkv_iov_check(const brixkv *kv, const brixkv_iov *iov, size_t niov, size_t nblocks)
{
    if (!iov || niov == 0) return -EINVAL;
    for (size_t i = 0; i < nblocks; i++) {
        size_t sum = 0;
        for (size_t j = 0; j < niov; j++) {
            if (iov[i * niov + j].len > kv->cfg.block_bytes - sum) return -EINVAL;
            sum += iov[i * niov + j].len;
        }
        if (sum != kv->cfg.block_bytes) return -EINVAL;
    }
    return 0;
}

/* A put's chunk: keys[0..k) for blocks base.., stored in L1 up to *stored. */
typedef struct brixkv_putc {
    brixkv *kv;
    const kv_key *keys;
    const brixkv_blocks *b;
    size_t base, k, stored;
} brixkv_putc;

/* L1 (and, queued, L2 unless l2_sync) for the chunk, up to the first failure. */
static void brixkv_put_l1(void *arg)
{
    brixkv_putc *c = arg;
    brixkv *kv = c->kv;
    int queue = kv->ing && kv->ingestion == ING_ALL && !kv->cfg.l2_sync;
    for (; c->stored < c->k; c->stored++) {
        brixkv_iov one;
        size_t nv;
        const brixkv_iov *v = brixkv_block(kv, c->b, c->base + c->stored, &one, &nv);
        if (kv_l1_putv(kv->l1, &c->keys[c->stored], v, nv, 0) != 0) break;
        if (queue) kv_ingest_offer(kv->ing, &c->keys[c->stored], v, nv, kv->cfg.block_bytes);
    }
}

/* l2_sync with ALL: the chunk to L2 now, sent straight from the caller's
 * buffers (no copy but the kernel's); the L1 copies run while Redis takes
 * the bytes in. */
static void brixkv_put_sync(brixkv_putc *c)
{
    uint8_t hdr[BRIXKV_CHUNK][KV_L2_HDR_BYTES];
    brixkv_iov one[BRIXKV_CHUNK];
    kv_l2_val vals[BRIXKV_CHUNK];
    for (size_t i = 0; i < c->k; i++) {
        size_t nv;
        const brixkv_iov *v = brixkv_block(c->kv, c->b, c->base + i, &one[i], &nv);
        kv_l2_hdr_encode_iov(hdr[i], &c->keys[i], v, nv, c->kv->cfg.block_bytes);
        vals[i] = (kv_l2_val){.head = hdr[i], .head_len = KV_L2_HDR_BYTES, .v = v, .nv = nv};
    }
    kv_ingest_write_now_then(c->kv->ing, c->keys, vals, c->k, brixkv_put_l1, c);
}

static long brixkv_put_blocks(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok,
                              const brixkv_blocks *b, size_t nblocks)
{
    kv_key_iter ch;
    if (brixkv_chain_init(kv, ns, tokens, ntok, nblocks, &ch) != 0) return -EINVAL;
    int sync_all = kv->ing && kv->ingestion == ING_ALL && kv->cfg.l2_sync;
    kv_key keys[BRIXKV_CHUNK];
    brixkv_putc c = {.kv = kv, .keys = keys, .b = b};
    while (c.stored == c.k && (c.k = kv_key_iter_next(&ch, keys, BRIXKV_CHUNK)) > 0) {
        c.base += c.stored;
        c.stored = 0;
        if (sync_all)
            brixkv_put_sync(&c);
        else
            brixkv_put_l1(&c);
    }
    if (kv->ing && kv->cfg.l2_sync && !sync_all && kv_ingest_pending(kv->ing))
        kv_ingest_flush(kv->ing, kv->cfg.l2_timeout_ms > 0 ? 2 * kv->cfg.l2_timeout_ms : 2000);
    return (long)(c.base + c.stored);
}

long brixkv_put(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok,
                const void *const *blocks, size_t nblocks)
{
    brixkv_blocks b = {.flat = blocks};
    return brixkv_put_blocks(kv, ns, tokens, ntok, &b, nblocks);
}

long brixkv_put_iov(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok,
                    const brixkv_iov *iov, size_t niov, size_t nblocks)
{
    int rc = brixkv_iov_check(kv, iov, niov, nblocks);
    if (rc != 0) return rc;
    brixkv_blocks b = {.iov = iov, .niov = niov};
    return brixkv_put_blocks(kv, ns, tokens, ntok, &b, nblocks);
}

typedef struct brixkv_fill {
    brixkv *kv;
    const kv_key *keys; /* the batch asked from L2 */
    size_t k;
    const brixkv_blocks *b;
    size_t base;              /* block index of keys[0] */
    size_t lead, found;       /* keys[0..lead) are in dst and L1; found: verified */
    uint8_t ok[BRIXKV_CHUNK]; /* keys[i] verified and in dst, past a gap (not in L1 yet) */
} brixkv_fill;

/* One L2 value, as its reply is parsed: verify and copy to the caller. A
 * block that extends the leading run goes into L1 too (from the read
 * buffer, still in cache), as do the ones after it that arrived early
 * (another node's replies), from dst; blocks past a gap stay out of L1. */
static void brixkv_fill_one(void *arg, size_t i, const uint8_t *val, size_t len)
{
    brixkv_fill *f = arg;
    brixkv *kv = f->kv;
    brixkv_iov one;
    size_t nv;
    const brixkv_iov *v = brixkv_block(kv, f->b, f->base + i, &one, &nv);
    if (kv_l2_value_copy_out(val, len, &f->keys[i], kv->cfg.block_bytes, v, nv) != 0) {
        atomic_fetch_add(&kv->l2_corrupt, 1);
        return;
    }
    brixkv_iov src = {(void *)(uintptr_t)(val + KV_L2_HDR_BYTES), kv->cfg.block_bytes};
    f->found++;
    if (i != f->lead) {
        f->ok[i] = 1;
        return;
    }
    kv_l1_putv(kv->l1, &f->keys[i], &src, 1, KV_L1_FROM_L2); /* best effort */
    for (f->lead++; f->lead < f->k && f->ok[f->lead]; f->lead++) {
        v = brixkv_block(kv, f->b, f->base + f->lead, &one, &nv);
        kv_l1_putv(kv->l1, &f->keys[f->lead], v, nv, KV_L1_FROM_L2);
    }
}

/* keys[0..k) (blocks base..) from L2; how many lead the batch. */
static size_t brixkv_get_l2(brixkv *kv, const kv_key *keys, size_t k, const brixkv_blocks *b,
                            size_t base)
{
    brixkv_fill f = {.kv = kv, .keys = keys, .k = k, .b = b, .base = base};
    kv_l2_store_get_many(kv->l2, keys, k, brixkv_fill_one, &f);
    atomic_fetch_add(&kv->l2_hits, f.lead);
    atomic_fetch_add(&kv->l2_misses, k - f.found);
    return f.lead;
}

static long brixkv_get_blocks(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok,
                              const brixkv_blocks *b, size_t ndst)
{
    kv_key_iter ch;
    if (brixkv_chain_init(kv, ns, tokens, ntok, ndst, &ch) != 0) return -EINVAL;
    kv_key keys[BRIXKV_CHUNK];
    size_t got = 0, k;
    int l1 = 1; /* L1 until its first miss, then L2 only */
    while ((k = kv_key_iter_next(&ch, keys, BRIXKV_CHUNK)) > 0) {
        size_t i = 0;
        for (; l1 && i < k; i++) {
            brixkv_iov one;
            size_t nv;
            const brixkv_iov *v = brixkv_block(kv, b, got + i, &one, &nv);
            if (kv_l1_getv(kv->l1, &keys[i], v, nv) < 0) break;
        }
        got += i;
        if (i == k) continue;
        l1 = 0;
        if (!kv->l2) break;
        size_t lead = brixkv_get_l2(kv, keys + i, k - i, b, got);
        got += lead;
        if (lead < k - i) break;
    }
    return (long)got;
}

long brixkv_get(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok,
                void *const *dst, size_t ndst)
{
    brixkv_blocks b = {.dst = dst};
    return brixkv_get_blocks(kv, ns, tokens, ntok, &b, ndst);
}

long brixkv_get_iov(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok,
                    const brixkv_iov *iov, size_t niov, size_t nblocks)
{
    int rc = brixkv_iov_check(kv, iov, niov, nblocks);
    if (rc != 0) return rc;
    brixkv_blocks b = {.iov = iov, .niov = niov};
    return brixkv_get_blocks(kv, ns, tokens, ntok, &b, nblocks);
}

long brixkv_exists(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok)
{
    kv_key_iter ch;
    if (brixkv_chain_init(kv, ns, tokens, ntok, SIZE_MAX, &ch) != 0) return -EINVAL;
    kv_key keys[BRIXKV_CHUNK];
    uint8_t found[BRIXKV_CHUNK];
    size_t blocks = 0, k;
    int l1 = 1;
    while ((k = kv_key_iter_next(&ch, keys, BRIXKV_CHUNK)) > 0) {
        size_t i = l1 ? kv_l1_match(kv->l1, keys, k) : 0;
        blocks += i;
        if (i == k) continue;
        l1 = 0;
        if (!kv->l2) break;
        kv_l2_store_exists_many(kv->l2, keys + i, k - i, found);
        size_t j = 0;
        while (j < k - i && found[j])
            j++;
        blocks += j;
        if (j < k - i) break;
    }
    return (long)(blocks * kv->cfg.block_ntokens);
}

long brixkv_delete(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok)
{
    kv_key_iter ch;
    if (brixkv_chain_init(kv, ns, tokens, ntok, SIZE_MAX, &ch) != 0) return -EINVAL;
    kv_key keys[BRIXKV_CHUNK];
    long dropped = 0;
    size_t k;
    while ((k = kv_key_iter_next(&ch, keys, BRIXKV_CHUNK)) > 0) {
        for (size_t i = 0; i < k; i++)
            dropped += kv_l1_delete(kv->l1, &keys[i]) == 0;
        if (kv->l2) kv_l2_store_del_many(kv->l2, keys, k);
    }
    return dropped;
}

int brixkv_flush(brixkv *kv, int timeout_ms)
{
    return kv->ing ? kv_ingest_flush(kv->ing, timeout_ms) : 0;
}

void brixkv_stats_get(brixkv *kv, brixkv_stats *out)
{
    kv_l1_stats s;
    kv_l1_stats_get(kv->l1, &s);
    memset(out, 0, sizeof(*out));
    out->puts = s.puts;
    out->hits = s.hits;
    out->misses = s.misses;
    out->evictions = s.evictions;
    out->blocks = s.blocks;
    out->capacity_blocks = s.capacity;
    if (!kv->l2) return;
    kv_l2_store_stats rs;
    kv_l2_store_stats_get(kv->l2, &rs);
    kv_ingest_stats_get(kv->ing, &out->l2_puts, &out->l2_dropped);
    out->l2_hits = atomic_load(&kv->l2_hits);
    out->l2_misses = atomic_load(&kv->l2_misses);
    out->l2_corrupt = atomic_load(&kv->l2_corrupt);
    out->l2_errors = rs.errors;
    out->l2_nodes = rs.nodes;
    out->l2_nodes_up = rs.nodes_up;
}
