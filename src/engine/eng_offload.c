/* eng_offload: see eng_offload.h. Per GPU block: its tokens, key, parent's
 * key, adapter id and flags, in arrays sized at open. A chain is rebuilt
 * leaf to root through eng_blocks_find on the parents' keys, then written
 * root first in one brixkv_put. Scratch buffers for one sequence's blocks
 * grow on demand up to max_blocks * block_bytes. */
#include "engine/eng_offload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brix/brixkv.h"
#include "common/bx_prom.h"
#include "common/bx_rand.h"

#define EO_MAX_ADAPTERS 256
#define EO_VALID 1u      /* the record describes the block's cached key */
#define EO_HAS_PARENT 2u /* not a sequence's first block */
#define EO_STORED 4u     /* already written to libbrixkv */
#define EO_SEED 0x6b766f66666c6f61ULL

struct eng_offload {
    eng_offload_cfg cfg;
    char model[256], dtype[64];
    brixkv *kv;
    int has_l2;
    size_t bs;         /* tokens per block */
    uint32_t *tok;     /* num_gpu_blocks * bs */
    uint64_t *key;     /* per GPU block */
    uint64_t *parent;  /* per GPU block */
    uint8_t *flags;    /* per GPU block */
    uint16_t *adapter; /* per GPU block: 0 base model, i: adapters[i - 1] */
    char *adapters[EO_MAX_ADAPTERS];
    int nadapters;
    int32_t *chain;      /* max_blocks */
    uint32_t *seq;       /* max_blocks * bs */
    void **ptrs;         /* max_blocks */
    unsigned char *data; /* data_blocks * block_bytes */
    size_t data_blocks;
    unsigned char *junk; /* one block: destination of blocks already on the GPU */
    eng_offload_stats st;
    eng_sched *sched; /* for adapter names (eng_offload_attach) */
};

void eng_offload_fill(uint64_t key, void *buf, size_t len)
{
    uint64_t x = key ^ EO_SEED;
    unsigned char *p = buf;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v = bx_splitmix64(&x);
        memcpy(p + i, &v, 8);
    }
    if (i < len) {
        uint64_t v = bx_splitmix64(&x);
        memcpy(p + i, &v, len - i);
    }
}

int eng_offload_verify(uint64_t key, const void *buf, size_t len)
{
    uint64_t x = key ^ EO_SEED;
    const unsigned char *p = buf;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v = bx_splitmix64(&x);
        if (memcmp(p + i, &v, 8) != 0) return 0;
    }
    if (i < len) {
        uint64_t v = bx_splitmix64(&x);
        if (memcmp(p + i, &v, len - i) != 0) return 0;
    }
    return 1;
}

int eng_offload_open(const eng_offload_cfg *c, eng_offload **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!c->model || !*c->model || c->block_size <= 0 || c->num_gpu_blocks <= 0 ||
        c->max_blocks <= 0 || c->block_bytes == 0 || !(c->l1_gb > 0) || !(c->l1_gbps > 0) ||
        !(c->l2_gbps > 0)) {
        snprintf(err, errlen, "kv offload: invalid settings");
        return -1;
    }
    eng_offload *o = calloc(1, sizeof(*o));
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    o->cfg = *c;
    snprintf(o->model, sizeof(o->model), "%s", c->model);
    snprintf(o->dtype, sizeof(o->dtype), "%s", c->dtype ? c->dtype : "");
    o->cfg.model = o->model;
    o->cfg.dtype = o->dtype;
    o->cfg.l1_policy = o->cfg.redis = o->cfg.ingestion = NULL; /* not kept */
    o->bs = (size_t)c->block_size;
    size_t ng = (size_t)c->num_gpu_blocks, mb = (size_t)c->max_blocks;
    o->tok = malloc(ng * o->bs * sizeof(*o->tok));
    o->key = calloc(ng, sizeof(*o->key));
    o->parent = calloc(ng, sizeof(*o->parent));
    o->flags = calloc(ng, sizeof(*o->flags));
    o->adapter = calloc(ng, sizeof(*o->adapter));
    o->chain = malloc(mb * sizeof(*o->chain));
    o->seq = malloc(mb * o->bs * sizeof(*o->seq));
    o->ptrs = malloc(mb * sizeof(*o->ptrs));
    o->junk = malloc(c->block_bytes);
    if (!o->tok || !o->key || !o->parent || !o->flags || !o->adapter || !o->chain || !o->seq ||
        !o->ptrs || !o->junk) {
        snprintf(err, errlen, "kv offload: out of memory");
        eng_offload_close(o);
        return -1;
    }
    brixkv_config kc;
    char kerr[256];
    if (brixkv_config_from_env(&kc, kerr, sizeof(kerr)) != 0) {
        snprintf(err, errlen, "kv offload: %s", kerr);
        eng_offload_close(o);
        return -1;
    }
    /* the engine's flags decide, not the environment */
    kc.block_ntokens = o->bs;
    kc.block_bytes = c->block_bytes;
    kc.l1_capacity = (size_t)(c->l1_gb * (double)(1u << 30));
    kc.l1_policy = c->l1_policy ? c->l1_policy : "S3FIFO";
    kc.l2_redis = c->redis && *c->redis ? c->redis : NULL;
    kc.l2_ingestion = c->ingestion ? c->ingestion : "ALL";
    kc.l2_timeout_ms = 250; /* the engine's loop waits on L2 reads: keep them short */
    int rc = brixkv_open(&kc, &o->kv, kerr, sizeof(kerr));
    if (rc != 0) {
        snprintf(err, errlen, "kv offload: %s", kerr);
        eng_offload_close(o);
        return -1;
    }
    o->has_l2 = kc.l2_redis != NULL;
    *out = o;
    return 0;
}

void eng_offload_close(eng_offload *o)
{
    if (!o) return;
    brixkv_close(o->kv);
    for (int i = 0; i < o->nadapters; i++)
        free(o->adapters[i]);
    free(o->tok);
    free(o->key);
    free(o->parent);
    free(o->flags);
    free(o->adapter);
    free(o->chain);
    free(o->seq);
    free(o->ptrs);
    free(o->data);
    free(o->junk);
    free(o);
}

/* Id of an adapter name (0 for none), adding it; -1 when the table is full. */
static int eo_adapter_id(eng_offload *o, const char *name)
{
    if (!name || !*name) return 0;
    for (int i = 0; i < o->nadapters; i++)
        if (!strcmp(o->adapters[i], name)) return i + 1;
    if (o->nadapters == EO_MAX_ADAPTERS) return -1;
    char *d = strdup(name);
    if (!d) return -1;
    o->adapters[o->nadapters++] = d;
    return o->nadapters;
}

static void eo_ns(const eng_offload *o, const char *adapter, brixkv_ns *ns)
{
    memset(ns, 0, sizeof(*ns));
    ns->model = o->model;
    ns->adapter = adapter && *adapter ? adapter : NULL;
    ns->dtype = o->dtype;
    ns->layout = "sim";
}

/* Room for n blocks in o->data. */
static int eo_data_reserve(eng_offload *o, size_t n)
{
    if (n <= o->data_blocks) return 0;
    unsigned char *d = realloc(o->data, n * o->cfg.block_bytes);
    if (!d) return -1;
    o->data = d;
    o->data_blocks = n;
    return 0;
}

void eng_offload_cached(eng_offload *o, int32_t b, uint64_t key, int has_parent, uint64_t parent,
                        const uint32_t *tokens, const char *adapter)
{
    if (b < 0 || b >= o->cfg.num_gpu_blocks) return;
    int id = eo_adapter_id(o, adapter);
    if (id < 0) {
        o->flags[b] = 0;
        return;
    }
    memcpy(o->tok + (size_t)b * o->bs, tokens, o->bs * sizeof(*tokens));
    o->key[b] = key;
    o->parent[b] = parent;
    o->adapter[b] = (uint16_t)id;
    o->flags[b] = (uint8_t)(EO_VALID | (has_parent ? EO_HAS_PARENT : 0));
}

/* Leaf-to-root chain of b in o->chain; its length, or 0 if an ancestor is
 * no longer cached (its tokens are gone). */
static int32_t eo_chain(eng_offload *o, const eng_blocks *bm, int32_t b)
{
    int32_t depth = 0, cur = b;
    for (;;) {
        if (depth >= o->cfg.max_blocks) return 0;
        o->chain[depth++] = cur;
        if (!(o->flags[cur] & EO_HAS_PARENT)) return depth;
        int32_t p = eng_blocks_find(bm, o->parent[cur]);
        if (p < 0 || p >= o->cfg.num_gpu_blocks || !(o->flags[p] & EO_VALID) ||
            o->key[p] != o->parent[cur] || o->adapter[p] != o->adapter[b])
            return 0;
        cur = p;
    }
}

long eng_offload_evict(eng_offload *o, const eng_blocks *bm, int32_t b, uint64_t key)
{
    if (b < 0 || b >= o->cfg.num_gpu_blocks) return 0;
    uint8_t f = o->flags[b];
    long put = 0;
    int32_t depth = 0;
    if ((f & EO_VALID) && !(f & EO_STORED) && o->key[b] == key) depth = eo_chain(o, bm, b);
    if (depth > 0 && eo_data_reserve(o, (size_t)depth) == 0) {
        size_t bb = o->cfg.block_bytes;
        for (int32_t i = 0; i < depth; i++) {
            int32_t g = o->chain[depth - 1 - i];
            memcpy(o->seq + (size_t)i * o->bs, o->tok + (size_t)g * o->bs, o->bs * sizeof(*o->seq));
            o->ptrs[i] = o->data + (size_t)i * bb;
            eng_offload_fill(o->key[g], o->ptrs[i], bb);
        }
        brixkv_ns ns;
        eo_ns(o, o->adapter[b] ? o->adapters[o->adapter[b] - 1] : NULL, &ns);
        put = brixkv_put(o->kv, &ns, o->seq, (size_t)depth * o->bs, (const void *const *)o->ptrs,
                         (size_t)depth);
        for (long i = 0; i < put; i++) {
            int32_t g = o->chain[depth - 1 - i];
            if (!(o->flags[g] & EO_STORED)) o->st.stored_blocks++;
            o->flags[g] |= EO_STORED;
        }
        if (put < 0) put = 0;
    }
    o->flags[b] = 0; /* the block is reused: its record is stale */
    return put;
}

double eng_offload_load_seconds(const eng_offload *o, int32_t l1, int32_t l2)
{
    return o->cfg.real_block_bytes *
           ((double)l1 / (o->cfg.l1_gbps * 1e9) + (double)l2 / (o->cfg.l2_gbps * 1e9));
}

void eng_offload_lookup(eng_offload *o, const uint32_t *tokens, const uint64_t *keys,
                        int32_t gpu_hit, int32_t max, const char *adapter, eng_sched_loaded *out)
{
    memset(out, 0, sizeof(*out));
    if (max > o->cfg.max_blocks) max = o->cfg.max_blocks;
    if (gpu_hit < 0 || gpu_hit >= max) return;
    brixkv_ns ns;
    eo_ns(o, adapter, &ns);
    size_t ntok = (size_t)max * o->bs;
    if (!o->has_l2) { /* L1 only: a match without copies says whether a get is worth it */
        long e = brixkv_exists(o->kv, &ns, tokens, ntok);
        if (e < 0 || e / (long)o->bs <= gpu_hit) return;
        max = (int32_t)(e / (long)o->bs);
    }
    if (eo_data_reserve(o, (size_t)(max - gpu_hit)) != 0) return;
    size_t bb = o->cfg.block_bytes;
    for (int32_t i = 0; i < max; i++)
        o->ptrs[i] = i < gpu_hit ? (void *)o->junk : o->data + (size_t)(i - gpu_hit) * bb;
    brixkv_stats before, after;
    brixkv_stats_get(o->kv, &before);
    long got = brixkv_get(o->kv, &ns, tokens, (size_t)max * o->bs, o->ptrs, (size_t)max);
    brixkv_stats_get(o->kv, &after);
    if (got <= gpu_hit) return;
    int32_t good = gpu_hit;
    while (good < got && eng_offload_verify(keys[good], o->ptrs[good], bb))
        good++;
    if (good < got) out->bad_blocks = 1; /* the first bad block ends the prefix */
    out->blocks = good - gpu_hit;
    uint64_t l2 = after.l2_hits - before.l2_hits;
    out->l2_blocks = l2 > (uint64_t)out->blocks ? out->blocks : (int32_t)l2;
    out->l1_blocks = out->blocks - out->l2_blocks;
    out->load_s = eng_offload_load_seconds(o, out->l1_blocks, out->l2_blocks);
}

void eng_offload_admitted(eng_offload *o, int32_t gpu_hit, int32_t max, const eng_sched_loaded *l)
{
    if (max > gpu_hit) o->st.lookup_blocks += (uint64_t)(max - gpu_hit);
    o->st.hit_l1 += (uint64_t)l->l1_blocks;
    o->st.hit_l2 += (uint64_t)l->l2_blocks;
    o->st.bad_blocks += (uint64_t)l->bad_blocks;
}

void eng_offload_stats_get(eng_offload *o, eng_offload_stats *out)
{
    brixkv_stats ks;
    brixkv_stats_get(o->kv, &ks);
    *out = o->st;
    out->l2_dropped = ks.l2_dropped;
    out->l2_corrupt = ks.l2_corrupt;
}

static void eo_counter(bx_buf *b, const char *name, const char *help, const char *labels,
                       uint64_t v)
{
    bx_prom_head(b, name, "counter", help);
    bx_prom_value(b, name, labels, (double)v);
}

int eng_offload_render(eng_offload *o, bx_buf *b, const char *labels)
{
    eng_offload_stats st;
    eng_offload_stats_get(o, &st);
    size_t start = b->len;
    bx_prom_head(b, "brix:kv_offload_hit_blocks_total", "counter",
                 "KV blocks loaded from an offload tier instead of recomputed.");
    const char *tier[2] = {"l1", "l2"};
    uint64_t hits[2] = {st.hit_l1, st.hit_l2};
    for (int i = 0; i < 2; i++) {
        char v[40];
        bx_prom_fmt_num(v, sizeof(v), (double)hits[i]);
        bx_buf_printf(b, "brix:kv_offload_hit_blocks_total{%s,tier=\"%s\"} %s\n", labels, tier[i],
                      v);
    }
    eo_counter(b, "brix:kv_offload_stored_blocks_total",
               "KV blocks written to the offload tiers when evicted from GPU memory.", labels,
               st.stored_blocks);
    eo_counter(b, "brix:kv_offload_lookup_blocks_total",
               "KV blocks looked up in the offload tiers after the GPU prefix hit.", labels,
               st.lookup_blocks);
    eo_counter(b, "brix:kv_offload_bad_blocks_total",
               "Loaded KV blocks whose bytes did not match what was stored (treated as misses).",
               labels, st.bad_blocks);
    eo_counter(b, "brix:kv_offload_l2_dropped_total", "L2 writes dropped (queue full or L2 down).",
               labels, st.l2_dropped);
    eo_counter(b, "brix:kv_offload_l2_corrupt_total",
               "L2 values whose header or checksum did not verify (read as misses).", labels,
               st.l2_corrupt);
    return b->data && b->len > start ? 0 : -1;
}

static const char *eo_seq_adapter(const eng_offload *o, const eng_seq *q)
{
    if (!o->sched || q->lora < 0) return NULL;
    const char *n = o->sched->lora.a[q->lora].name;
    return n[0] ? n : NULL;
}

void eng_offload_seq_stored(eng_offload *o, const eng_seq *q, int32_t first, int32_t n)
{
    const char *adapter = eo_seq_adapter(o, q);
    for (int32_t i = first; i < first + n; i++)
        eng_offload_cached(o, q->blocks[i], q->keys[i], i > 0, i > 0 ? q->keys[i - 1] : 0,
                           q->tokens + (size_t)i * o->bs, adapter);
}

static void eo_hook_lookup(eng_seq *q, int32_t gpu_hit, int32_t max, eng_sched_loaded *out,
                           void *ud)
{
    eng_offload *o = ud;
    eng_offload_lookup(o, q->tokens, q->keys, gpu_hit, max, eo_seq_adapter(o, q), out);
}

static void eo_hook_admitted(eng_seq *q, int32_t gpu_hit, int32_t max, const eng_sched_loaded *l,
                             void *ud)
{
    (void)q;
    eng_offload_admitted(ud, gpu_hit, max, l);
}

static void eo_hook_evict(const eng_blocks *bm, int32_t b, uint64_t key, void *ud)
{
    (void)eng_offload_evict(ud, bm, b, key);
}

void eng_offload_attach(eng_offload *o, eng_sched *s)
{
    eng_sched_offload ops = {
        .lookup = eo_hook_lookup, .admitted = eo_hook_admitted, .evict = eo_hook_evict};
    o->sched = s;
    eng_sched_set_offload(s, &ops, o);
}
