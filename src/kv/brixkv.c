/* brixkv: the public API (include/brix/brixkv.h) over the L1 tier and the
 * optional L2 tier. A call turns the token sequence into its chain of block
 * keys under the namespace's root, then works block by block; gets stop at
 * the first missing block, so only a cached prefix is ever returned.
 *
 * L2 (kv_l2_redis, written through kv_ingest): a get reads L1 first, then
 * the missing tail from L2 in one pipelined batch, verifies each value
 * (kv_l2 header), copies it to the caller and fills L1 with it marked as
 * "from L2" so it is never written back. Ingestion: ALL queues (or, with
 * l2_sync, writes) every block put; EVICTED and HOT take blocks from the
 * L1 hook, always through the queue, since the hook runs under an L1 lock
 * (spec 9.4); with l2_sync a put then waits for the queue to drain. */
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
#include "kv/kv_l2_redis.h"
#include "kv/kv_slab.h"

#define BRIXKV_KEYS_ON_STACK 512 /* blocks per call without a malloc (8k tokens at 16) */
#define BRIXKV_MAX_CONNS 64
#define BRIXKV_L2_BATCH 256 /* blocks a GET batch holds in replies at once */

enum { ING_ALL, ING_EVICTED, ING_HOT };

struct brixkv {
    brixkv_config cfg;
    kv_l1 *l1;
    kv_l2_redis *l2; /* NULL: no L2 */
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

int brixkv_config_from_env(brixkv_config *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->block_ntokens = 16;
    c->l1_capacity = (size_t)1 << 30;
    c->l1_policy = "S3FIFO";
    c->l1_shards = 16;
    c->l2_ingestion = "HOT";
    c->l2_queue_blocks = 1024;
    c->l2_conns = 2;
    c->l2_timeout_ms = 1000;
    c->l2_namespace = "brixkv";
    const char *v = getenv("AIBRIX_KV_CACHE_OL_BLOCK_SIZE");
    if (v && *v && strcmp(v, "-1") != 0) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || n <= 0 || (n & (n - 1))) {
            snprintf(err, errlen, "AIBRIX_KV_CACHE_OL_BLOCK_SIZE: want a power of two, got '%s'",
                     v);
            return -EINVAL;
        }
        c->block_ntokens = (size_t)n;
    }
    v = getenv("AIBRIX_KV_CACHE_OL_L1_CACHE_CAPACITY_GB");
    if (v && *v) {
        char *end;
        double gb = strtod(v, &end);
        if (*end || !(gb > 0)) {
            snprintf(err, errlen, "AIBRIX_KV_CACHE_OL_L1_CACHE_CAPACITY_GB: want GiB > 0, got '%s'",
                     v);
            return -EINVAL;
        }
        c->l1_capacity = (size_t)(gb * (double)(1u << 30));
    }
    v = getenv("AIBRIX_KV_CACHE_OL_L1_CACHE_EVICTION_POLICY");
    if (v && *v) {
        kv_evict_kind k;
        if (kv_evict_kind_parse(v, &k) != 0) {
            snprintf(err, errlen,
                     "AIBRIX_KV_CACHE_OL_L1_CACHE_EVICTION_POLICY: want S3FIFO, LRU or FIFO, "
                     "got '%s'",
                     v);
            return -EINVAL;
        }
        c->l1_policy = v;
    }
    v = getenv("AIBRIX_KV_CACHE_OL_L2_CACHE_BACKEND");
    if (v && *v) {
        if (strcasecmp(v, "REDIS") != 0) {
            snprintf(err, errlen,
                     "AIBRIX_KV_CACHE_OL_L2_CACHE_BACKEND: brix has REDIS (or empty), got '%s'", v);
            return -EINVAL;
        }
        c->l2_redis = getenv("BRIXKV_L2_REDIS");
        if (!c->l2_redis || !*c->l2_redis) {
            snprintf(err, errlen,
                     "BRIXKV_L2_REDIS: want host:port[,host:port] with the REDIS L2 backend");
            return -EINVAL;
        }
    }
    v = getenv("AIBRIX_KV_CACHE_OL_L2_CACHE_INGESTION_TYPE");
    if (v && *v) {
        if (brixkv_ingestion_parse(v) < 0) {
            snprintf(err, errlen,
                     "AIBRIX_KV_CACHE_OL_L2_CACHE_INGESTION_TYPE: want HOT, ALL or EVICTED, got "
                     "'%s'",
                     v);
            return -EINVAL;
        }
        c->l2_ingestion = v;
    }
    v = getenv("AIBRIX_KV_CACHE_OL_L2_CACHE_NAMESPACE");
    if (v && *v) c->l2_namespace = v;
    return 0;
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
        (c->l2_namespace && strlen(c->l2_namespace) > KV_L2_NS_MAX)) {
        snprintf(err, errlen,
                 "brixkv: bad L2 setting (l2_ingestion HOT|ALL|EVICTED, l2_conns <= %d, "
                 "l2_timeout_ms >= 0, l2_namespace <= %d bytes)",
                 BRIXKV_MAX_CONNS, KV_L2_NS_MAX);
        return -EINVAL;
    }
    kv_l2_redis_config rc = {.nodes = addrs,
                             .nnodes = (unsigned)n,
                             .conns = c->l2_conns,
                             .timeout_ms = c->l2_timeout_ms,
                             .ns = c->l2_namespace};
    int rv = kv_l2_redis_create(&rc, &kv->l2, err, errlen);
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
    kv_l2_redis_destroy(kv->l2);
    kv_l1_destroy(kv->l1);
    free(kv);
}

/* The keys of tokens' full blocks into *keys (the stack array, or a malloc
 * the caller frees when it differs). Returns the count, or -errno. */
static long brixkv_keys(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok,
                        kv_key *stack, kv_key **keys)
{
    kv_key root;
    if (!ns || kv_key_ns_root(ns->model, ns->revision, ns->adapter, ns->dtype, ns->layout,
                              ns->shard, &root) != 0)
        return -EINVAL;
    size_t nb = ntok / kv->cfg.block_ntokens;
    *keys = stack;
    if (nb > BRIXKV_KEYS_ON_STACK && !(*keys = malloc(nb * sizeof(kv_key)))) return -ENOMEM;
    return (long)kv_key_chain(&root, tokens, ntok, kv->cfg.block_ntokens, *keys, nb);
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

static long brixkv_put_blocks(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok,
                              const brixkv_blocks *b, size_t nblocks)
{
    kv_key stack[BRIXKV_KEYS_ON_STACK], *keys;
    long n = brixkv_keys(kv, ns, tokens, ntok, stack, &keys);
    if (n < 0) return n;
    if ((size_t)n > nblocks) n = (long)nblocks;
    int all = kv->ing && kv->ingestion == ING_ALL;
    /* sync: this call's items, written in one batch (no memory: queued instead) */
    kv_ingest_item **sync = all && kv->cfg.l2_sync && n ? malloc((size_t)n * sizeof(*sync)) : NULL;
    size_t nsync = 0;
    long stored = 0;
    for (long i = 0; i < n; i++) {
        brixkv_iov one;
        size_t nv;
        const brixkv_iov *v = brixkv_block(kv, b, (size_t)i, &one, &nv);
        if (kv_l1_putv(kv->l1, &keys[i], v, nv, 0) != 0) break;
        stored++;
        if (!all) continue;
        if (!sync) {
            kv_ingest_offer(kv->ing, &keys[i], v, nv, kv->cfg.block_bytes);
            continue;
        }
        kv_ingest_item *it = kv_ingest_item_new(&keys[i], v, nv, kv->cfg.block_bytes);
        if (it)
            sync[nsync++] = it;
        else
            kv_ingest_drop(kv->ing, 1);
    }
    if (sync) kv_ingest_write(kv->ing, sync, nsync);
    free(sync);
    if (kv->ing && kv->cfg.l2_sync && !all && kv_ingest_pending(kv->ing))
        kv_ingest_flush(kv->ing, kv->cfg.l2_timeout_ms > 0 ? 2 * kv->cfg.l2_timeout_ms : 2000);
    if (keys != stack) free(keys);
    return stored;
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
    const kv_key *keys; /* the tail asked from L2 */
    const brixkv_blocks *b;
    size_t base; /* block index of keys[0] */
    size_t got;
} brixkv_fill;

/* One L2 reply, in order: verify, copy to the caller, fill L1. */
static int brixkv_fill_one(void *arg, size_t i, const uint8_t *val, size_t len)
{
    brixkv_fill *f = arg;
    brixkv *kv = f->kv;
    const uint8_t *payload;
    if (!val) {
        atomic_fetch_add(&kv->l2_misses, 1);
        return 1;
    }
    if (kv_l2_value_verify(val, len, &f->keys[i], kv->cfg.block_bytes, &payload) != 0) {
        atomic_fetch_add(&kv->l2_corrupt, 1);
        atomic_fetch_add(&kv->l2_misses, 1);
        return 1;
    }
    brixkv_iov one, src = {(void *)(uintptr_t)payload, kv->cfg.block_bytes};
    size_t nv;
    const brixkv_iov *v = brixkv_block(kv, f->b, f->base + i, &one, &nv);
    const uint8_t *p = payload;
    for (size_t j = 0; j < nv; j++) {
        memcpy(v[j].base, p, v[j].len);
        p += v[j].len;
    }
    kv_l1_putv(kv->l1, &f->keys[i], &src, 1, KV_L1_FROM_L2); /* best effort */
    atomic_fetch_add(&kv->l2_hits, 1);
    f->got++;
    return 0;
}

static long brixkv_get_blocks(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok,
                              const brixkv_blocks *b, size_t ndst)
{
    kv_key stack[BRIXKV_KEYS_ON_STACK], *keys;
    long n = brixkv_keys(kv, ns, tokens, ntok, stack, &keys);
    if (n < 0) return n;
    if ((size_t)n > ndst) n = (long)ndst;
    long got = 0;
    for (; got < n; got++) {
        brixkv_iov one;
        size_t nv;
        const brixkv_iov *v = brixkv_block(kv, b, (size_t)got, &one, &nv);
        if (kv_l1_getv(kv->l1, &keys[got], v, nv) < 0) break;
    }
    while (kv->l2 && got < n) { /* pipelined batches of at most BRIXKV_L2_BATCH blocks */
        size_t k = (size_t)(n - got) < BRIXKV_L2_BATCH ? (size_t)(n - got) : BRIXKV_L2_BATCH;
        brixkv_fill f = {kv, keys + got, b, (size_t)got, 0};
        kv_l2_redis_get_many(kv->l2, keys + got, k, brixkv_fill_one, &f);
        got += (long)f.got;
        if (f.got < k) break;
    }
    if (keys != stack) free(keys);
    return got;
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
    kv_key stack[BRIXKV_KEYS_ON_STACK], *keys;
    long n = brixkv_keys(kv, ns, tokens, ntok, stack, &keys);
    if (n < 0) return n;
    size_t blocks = kv_l1_match(kv->l1, keys, (size_t)n);
    uint8_t *found = kv->l2 && blocks < (size_t)n ? malloc((size_t)n - blocks) : NULL;
    if (found) {
        kv_l2_redis_exists_many(kv->l2, keys + blocks, (size_t)n - blocks, found);
        for (size_t i = 0; blocks < (size_t)n && found[i]; i++)
            blocks++;
        free(found);
    }
    if (keys != stack) free(keys);
    return (long)blocks * (long)kv->cfg.block_ntokens;
}

long brixkv_delete(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok)
{
    kv_key stack[BRIXKV_KEYS_ON_STACK], *keys;
    long n = brixkv_keys(kv, ns, tokens, ntok, stack, &keys);
    if (n < 0) return n;
    long dropped = 0;
    for (long i = 0; i < n; i++)
        dropped += kv_l1_delete(kv->l1, &keys[i]) == 0;
    if (kv->l2 && n > 0) kv_l2_redis_del_many(kv->l2, keys, (size_t)n);
    if (keys != stack) free(keys);
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
    kv_l2_redis_stats rs;
    kv_l2_redis_stats_get(kv->l2, &rs);
    kv_ingest_stats_get(kv->ing, &out->l2_puts, &out->l2_dropped);
    out->l2_hits = atomic_load(&kv->l2_hits);
    out->l2_misses = atomic_load(&kv->l2_misses);
    out->l2_corrupt = atomic_load(&kv->l2_corrupt);
    out->l2_errors = rs.errors;
    out->l2_nodes = rs.nodes;
    out->l2_nodes_up = rs.nodes_up;
}
