/* gw_prefix: the gateway's prefix-cache index: which engines are believed
 * to hold which KV block, keyed by the 64-bit vLLM block key
 * (bx_blockhash_chain over the engine's own tokenizer and block size, so the
 * keys equal the engine's KV block hashes and can later be fed by KV events).
 *
 * One entry per (block key, engine) pair (16 bytes; 21.3 bytes of the bound
 * at the 3/4 load limit), in an open-addressing table
 * allocated once at create time: the memory bound is hard (max_bytes covers
 * the table and every per-engine array) and inserting or matching never
 * allocates. Entries of one engine form an LRU list; when the table is full
 * an insert evicts per engine: the inserting engine's own least recent
 * block when it holds its fair share (capacity / engines with entries) or
 * more, else the least recent block of an engine over its share. A chain is
 * inserted last block first, so a prompt's head is the most recent and an
 * engine loses the tail of a prefix before its head (as vLLM's own
 * eviction does), keeping matches contiguous. Matching does not refresh
 * recency (as AIBrix: only routing a request there does).
 *
 * Ownership: gw_prefix_create returns an index the caller frees with
 * gw_prefix_destroy; key arrays are borrowed for the duration of a call.
 * In the gateway the router owns the one index (gw_router.h) and lends it
 * to the strategies that declare needs_prefix_index.
 * Not locked: the owner serializes every call (the gateway holds its
 * registry lock around the router and the index). */
#ifndef GW_PREFIX_H
#define GW_PREFIX_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/gw_engine.h"

typedef struct gw_prefix gw_prefix;

typedef struct gw_prefix_stats {
    size_t entries;         /* (key, engine) pairs held now */
    size_t capacity;        /* most pairs it can hold */
    size_t bytes;           /* memory reserved, <= max_bytes given at create */
    double bytes_per_entry; /* bytes / capacity */
    uint64_t inserts;       /* pairs added (not refreshes) */
    uint64_t evictions;     /* pairs evicted for room */
    int engines;            /* engines holding at least one pair */
} gw_prefix_stats;

/* An index that never holds more than max_bytes. NULL when max_bytes is too
 * small for a useful table (under ~32 KiB) or on allocation failure. */
gw_prefix *gw_prefix_create(size_t max_bytes);
void gw_prefix_destroy(gw_prefix *p);

/* Records that engine_id (0 <= id < GW_MAX_ENGINES) holds keys[0..n), a
 * chain from its first block (a prompt's): it is inserted last key first,
 * so keys[0] ends most recent. Pairs already present are refreshed.
 * Out-of-range ids are ignored. */
void gw_prefix_insert(gw_prefix *p, const uint64_t *keys, size_t n, int engine_id);
/* Number of leading keys engine_id holds. Inserting whole chains and
 * evicting per-engine LRU keep every engine's share of a chain a
 * contiguous prefix (see gw_prefix.c), so this bisects: log2(n) lookups,
 * the same answer as a walk that stops at the first missing key. (Were
 * single mid-chain keys inserted, it would return some k with key k-1 held
 * and key k not.) */
size_t gw_prefix_match(const gw_prefix *p, const uint64_t *keys, size_t n, int engine_id);
/* The same for m engines at once (m <= GW_MAX_ENGINES): one scan of a
 * block's probe run tells every engine holding it, and engines with equal
 * answers share every scan of the bisection, so the cost is about
 * (distinct answers) x log2(n) scans. out[i] = leading blocks engine_ids[i]
 * holds. */
void gw_prefix_match_all(const gw_prefix *p, const uint64_t *keys, size_t n, const int *engine_ids,
                         int m, uint32_t *out);
/* Forgets every pair of engine_id (engine gone or restarted). */
void gw_prefix_remove_engine(gw_prefix *p, int engine_id);
/* Pairs engine_id holds now. */
size_t gw_prefix_engine_entries(const gw_prefix *p, int engine_id);
void gw_prefix_stats_get(const gw_prefix *p, gw_prefix_stats *out);
size_t gw_prefix_mem_bytes(const gw_prefix *p);
/* For tests: verifies every invariant (each pair reachable from its probe
 * start, LRU lists and counts consistent, n <= capacity). O(slots).
 * 0, or -1 when broken. */
int gw_prefix_check(const gw_prefix *p);

/* Removes the pair (key, engine_id) if held (a KV event's BlockRemoved,
 * scoped to one engine). 1 if it was held, else 0. */
int gw_prefix_remove(gw_prefix *p, uint64_t key, int engine_id);
/* Forgets every pair (O(slots)). */
void gw_prefix_clear(gw_prefix *p);

/* An overlay: a second source of truth the index consults (gw_kvindex.h:
 * the index fed by the engines' KV events). With one set, gw_prefix_match
 * and gw_prefix_match_all compute the approximate answers as above, then
 * hand them to match_all, which may replace any of them (for engines whose
 * event stream it follows); gw_prefix_insert calls insert before recording
 * the chain (a routing decision: the overlay may insert it speculatively).
 * The callbacks get the index itself and may use the *_raw calls below,
 * which skip the overlay. ops and ctx are borrowed and must outlive the
 * index or be unset (NULL) first. Called under the index owner's
 * serialization like every other call. */
typedef struct gw_prefix_overlay {
    void (*match_all)(void *ctx, const gw_prefix *p, const uint64_t *keys, size_t n,
                      const int *engine_ids, int m, uint32_t *out);
    void (*insert)(void *ctx, const gw_prefix *p, const uint64_t *keys, size_t n, int engine_id);
} gw_prefix_overlay;
void gw_prefix_set_overlay(gw_prefix *p, const gw_prefix_overlay *ops, void *ctx);
/* Leading blocks each engine holds in the union of the indexes ps[0..np),
 * by a block-by-block walk (one scan per index per block, until no engine
 * is left): exact even when an engine's blocks are not a contiguous prefix
 * (pairs removed one by one, gw_prefix_remove), where the bisection of
 * gw_prefix_match_all assumes they are. NULL entries in ps are skipped. */
void gw_prefix_walk_all(const gw_prefix *const *ps, int np, const uint64_t *keys, size_t n,
                        const int *engine_ids, int m, uint32_t *out);
/* gw_prefix_match / gw_prefix_match_all without the overlay. */
size_t gw_prefix_match_raw(const gw_prefix *p, const uint64_t *keys, size_t n, int engine_id);
void gw_prefix_match_all_raw(const gw_prefix *p, const uint64_t *keys, size_t n,
                             const int *engine_ids, int m, uint32_t *out);

#endif
