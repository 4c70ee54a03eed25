/* eng_offload: the engine simulator's KV offloading through libbrixkv
 * (`brix engine --kv-offload`, docs/engine.md "KV offloading").
 *
 * Blocks evicted from simulated GPU memory go to libbrixkv (L1 DRAM, and L2
 * Redis when configured); at admission the blocks that follow a request's
 * GPU prefix hit are looked up there, and those found cost a load (the
 * model's real KV bytes per block over the tier's bandwidth) instead of a
 * recompute. Each block stores block_bytes of real data, a deterministic
 * function of the block's key (eng_offload_fill), so stores and loads copy
 * real bytes and a load is checked against what must have been stored.
 *
 * libbrixkv keys blocks by the whole token prefix, so for every cached GPU
 * block this module keeps its tokens and its parent's key
 * (eng_offload_cached); on eviction it rebuilds the block's chain from its
 * still-cached ancestors and stores the chain once (each block is marked so
 * an ancestor evicted later is not stored again).
 *
 * Namespace: model = the served model, adapter = the LoRA adapter's name,
 * dtype = the profile's, layout "sim". Single-threaded (the engine's loop).
 * Ownership: the handle owns its libbrixkv and buffers; strings in the
 * config are copied where kept; callers' token and key arrays are read
 * during the call only. */
#ifndef ENG_OFFLOAD_H
#define ENG_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "common/bx_buf.h"
#include "engine/eng_blocks.h"
#include "engine/eng_sched.h"

typedef struct eng_offload eng_offload;

typedef struct eng_offload_cfg {
    const char *model;       /* served model name (required) */
    const char *dtype;       /* KV dtype (NULL: "") */
    int32_t block_size;      /* tokens per block, the GPU's */
    int32_t num_gpu_blocks;  /* GPU blocks whose contents are tracked */
    int32_t max_blocks;      /* most full blocks in one sequence */
    size_t block_bytes;      /* real bytes stored per block */
    double real_block_bytes; /* the model's KV bytes per block (for load time) */
    double l1_gb;            /* L1 capacity, GiB */
    const char *l1_policy;   /* S3FIFO, LRU, FIFO */
    const char *redis;       /* NULL or "": no L2 */
    const char *ingestion;   /* ALL, EVICTED, HOT */
    double l1_gbps, l2_gbps; /* simulated load bandwidth, 1e9 bytes/s */
} eng_offload_cfg;

typedef struct eng_offload_stats {
    uint64_t lookup_blocks;  /* blocks asked for after GPU hits, at admission */
    uint64_t hit_l1, hit_l2; /* blocks loaded, by tier */
    uint64_t stored_blocks;  /* GPU blocks written to libbrixkv on eviction */
    uint64_t bad_blocks;     /* loaded bytes that were not what was stored */
    uint64_t l2_dropped;     /* libbrixkv's L2 writes dropped */
    uint64_t l2_corrupt;     /* libbrixkv's L2 values that did not verify */
} eng_offload_stats;

/* 0, or -1 with a message in err. */
int eng_offload_open(const eng_offload_cfg *c, eng_offload **out, char *err, size_t errlen);
void eng_offload_close(eng_offload *o);

/* Installs the scheduler hooks (eng_sched_set_offload, ud = o): lookup,
 * admitted and evict below, with adapter names read from s's eng_lora. o
 * must outlive the hooks (eng_sched_set_offload(s, NULL, NULL) removes them). */
void eng_offload_attach(eng_offload *o, eng_sched *s);
/* Records the blocks [first, first + n) of q that the scheduler just cached
 * (its on_stored callback), with eng_offload_cached. */
void eng_offload_seq_stored(eng_offload *o, const eng_seq *q, int32_t first, int32_t n);

/* GPU block b now caches key: the block of tokens[0..block_size) after the
 * block keyed parent (has_parent 0: the sequence's first block), under
 * adapter (NULL or "": the base model). */
void eng_offload_cached(eng_offload *o, int32_t b, uint64_t key, int has_parent, uint64_t parent,
                        const uint32_t *tokens, const char *adapter);
/* GPU block b (key) is being evicted from bm: stores it with its chain of
 * cached ancestors unless it was stored already. Returns the blocks put
 * (0: already stored, unknown block, or a broken chain). */
long eng_offload_evict(eng_offload *o, const eng_blocks *bm, int32_t b, uint64_t key);
/* Blocks [gpu_hit, max) of a sequence (tokens[0..max*block_size), its GPU
 * block keys keys[0..max)): copies the leading ones libbrixkv holds, checks
 * their bytes and fills *out (blocks, per tier, bad, load_s). Counts
 * nothing (see eng_offload_admitted). */
void eng_offload_lookup(eng_offload *o, const uint32_t *tokens, const uint64_t *keys,
                        int32_t gpu_hit, int32_t max, const char *adapter, eng_sched_loaded *out);
/* The admission that looked up [gpu_hit, max) happened with *l loaded. */
void eng_offload_admitted(eng_offload *o, int32_t gpu_hit, int32_t max, const eng_sched_loaded *l);
/* real_block_bytes * (l1 / l1_gbps + l2 / l2_gbps) / 1e9 */
double eng_offload_load_seconds(const eng_offload *o, int32_t l1, int32_t l2);
/* The bytes of the block keyed key: a splitmix64 stream seeded by it. */
void eng_offload_fill(uint64_t key, void *buf, size_t len);
/* 1 when buf holds eng_offload_fill(key)'s bytes. */
int eng_offload_verify(uint64_t key, const void *buf, size_t len);

void eng_offload_stats_get(eng_offload *o, eng_offload_stats *out);
/* Appends the brix:kv_offload_* counters, each sample with labels (the
 * engine's model_name and engine pair). 0, or -1 when out of memory. */
int eng_offload_render(eng_offload *o, bx_buf *b, const char *labels);

#endif
