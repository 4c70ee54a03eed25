/* brixkv: the public API (include/brix/brixkv.h) over the L1 tier. A call
 * turns the token sequence into its chain of block keys under the
 * namespace's root, then works block by block; gets stop at the first
 * missing block, so only a cached prefix is ever returned. */
#include "brix/brixkv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv_evict.h"
#include "kv/kv_key.h"
#include "kv/kv_l1.h"
#include "kv/kv_slab.h"

#define BRIXKV_KEYS_ON_STACK 512 /* blocks per call without a malloc (8k tokens at 16) */

struct brixkv {
    brixkv_config cfg;
    kv_l1 *l1;
};

int brixkv_config_from_env(brixkv_config *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->block_ntokens = 16;
    c->l1_capacity = (size_t)1 << 30;
    c->l1_policy = "S3FIFO";
    c->l1_shards = 16;
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
    kv->cfg.l1_policy = NULL; /* the caller's string is not kept */
    int rc = kv_l1_create(&lc, &kv->l1, err, errlen);
    if (rc != 0) {
        free(kv);
        return rc;
    }
    *out = kv;
    return 0;
}

void brixkv_close(brixkv *kv)
{
    if (!kv) return;
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

long brixkv_put(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok,
                const void *const *blocks, size_t nblocks)
{
    kv_key stack[BRIXKV_KEYS_ON_STACK], *keys;
    long n = brixkv_keys(kv, ns, tokens, ntok, stack, &keys);
    if (n < 0) return n;
    if ((size_t)n > nblocks) n = (long)nblocks;
    long stored = 0;
    for (long i = 0; i < n; i++) {
        if (kv_l1_put(kv->l1, &keys[i], blocks[i], kv->cfg.block_bytes) != 0) break;
        stored++;
    }
    if (keys != stack) free(keys);
    return stored;
}

long brixkv_get(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok,
                void *const *dst, size_t ndst)
{
    kv_key stack[BRIXKV_KEYS_ON_STACK], *keys;
    long n = brixkv_keys(kv, ns, tokens, ntok, stack, &keys);
    if (n < 0) return n;
    if ((size_t)n > ndst) n = (long)ndst;
    long got = 0;
    while (got < n && kv_l1_get(kv->l1, &keys[got], dst[got], kv->cfg.block_bytes) >= 0)
        got++;
    if (keys != stack) free(keys);
    return got;
}

long brixkv_exists(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok)
{
    kv_key stack[BRIXKV_KEYS_ON_STACK], *keys;
    long n = brixkv_keys(kv, ns, tokens, ntok, stack, &keys);
    if (n < 0) return n;
    long blocks = (long)kv_l1_match(kv->l1, keys, (size_t)n);
    if (keys != stack) free(keys);
    return blocks * (long)kv->cfg.block_ntokens;
}

long brixkv_delete(brixkv *kv, const brixkv_ns *ns, const uint32_t *tokens, size_t ntok)
{
    kv_key stack[BRIXKV_KEYS_ON_STACK], *keys;
    long n = brixkv_keys(kv, ns, tokens, ntok, stack, &keys);
    if (n < 0) return n;
    long dropped = 0;
    for (long i = 0; i < n; i++)
        dropped += kv_l1_delete(kv->l1, &keys[i]) == 0;
    if (keys != stack) free(keys);
    return dropped;
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
}
