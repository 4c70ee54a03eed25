/* gw_kvindex: the exact prefix index, fed by the engines' KV events
 * (vLLM's BlockStored / BlockRemoved / AllBlocksCleared, decoded by
 * bx_kvev, received by gw_kvsub), and laid over the approximate index
 * (gw_prefix) so that the strategies that read prefix matches
 * (prefix-cache, predicted-ttft) use it without knowing it exists.
 *
 * What it owns:
 * - the exact pairs (block hash, engine) from BlockStored, removed by
 *   BlockRemoved for that engine only (AIBrix's sync indexer removes a
 *   block for every pod: not copied), all of an engine's on AllBlocksCleared
 *   or a restart. Stored in a gw_prefix (its hard memory bound and
 *   per-engine LRU eviction; keys are the engine's own block hashes);
 * - speculative pairs: a routing decision (gw_prefix_insert through the
 *   overlay) inserts the prompt's chain for the chosen engine at once; a
 *   BlockStored for the pair confirms it (it moves to the exact pairs), a
 *   BlockRemoved drops it, and an unconfirmed one expires after spec_ttl
 *   (two generations, each a gw_prefix, swapped every spec_ttl / 2 by
 *   gw_kvindex_tick: a pair lives between ttl / 2 and ttl);
 * - one stream state per engine: the next sequence number expected,
 *   whether a replay is in progress, and the engine's confidence:
 *     approximate (GW_KVCONF_APPROX): no event stream followed: its matches
 *       are the approximate index's;
 *     exact (GW_KVCONF_EXACT): every batch from seq 0 (or since its last
 *       AllBlocksCleared) applied in order: match = longest prefix held in
 *       the exact or speculative pairs;
 *     degraded (GW_KVCONF_DEGRADED): followed but some batches are missing
 *       (not yet replayed from seq 0, a gap being replayed, a replay that
 *       failed or no longer reached back far enough, a batch that did not
 *       decode): match = the larger of the exact and the approximate
 *       answers, until the gap is filled, an AllBlocksCleared or a restart.
 *   Matching walks block by block over the union of the exact and
 *   speculative pairs (gw_prefix_walk_all): BlockRemoved takes single blocks
 *   out, so the bisection of the approximate index would not be exact.
 *   Exact pairs evicted under the memory bound make the index under-report
 *   that engine's blocks (brix_gateway_kv_index_evictions_total counts them;
 *   the engine stays exact: size the bound so this stays rare).
 *
 * Ordering: batches are applied strictly in sequence order. A live batch
 * whose seq is past the next expected one is a gap: it is not applied,
 * gw_kvindex_on_batch answers GW_KVIX_REPLAY with the seq to replay from,
 * and live batches are ignored until gw_kvindex_replay_end (the replay
 * answer covers them). A live seq below the expected one is a restart
 * (vLLM numbers from 0 again): the engine's pairs are dropped and it is
 * replayed from 0 (or applied at once when the seq is 0).
 *
 * Ownership: gw_kvindex_create returns an index freed by
 * gw_kvindex_destroy (after gw_kvindex_attach(NULL) or the approximate
 * index's end). Batches are borrowed for the call. Not locked: the
 * gateway calls everything under its registry lock, as the router and the
 * approximate index (gw_gateway_int.h). */
#ifndef GW_KVINDEX_H
#define GW_KVINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "common/bx_kvev.h"
#include "gateway/gw_engine.h"
#include "gateway/gw_prefix.h"

typedef enum gw_kvconf {
    GW_KVCONF_APPROX = 0,
    GW_KVCONF_EXACT = 1,
    GW_KVCONF_DEGRADED = 2,
} gw_kvconf;

const char *gw_kvconf_name(gw_kvconf c); /* "approximate", "exact", "degraded" */

typedef struct gw_kvindex gw_kvindex;

typedef struct gw_kvindex_stats {
    size_t exact_entries, exact_capacity, exact_bytes;
    size_t spec_entries; /* both generations */
    size_t bytes;        /* everything reserved, <= max_bytes */
    double bytes_per_entry;
    uint64_t batches, events, stored_blocks, removed_blocks, clears;
    uint64_t gaps, replays, replay_failures, missed_batches, restarts, ignored;
    uint64_t evictions;
    uint64_t spec_inserts, spec_confirmed, spec_dropped, spec_expired;
    uint64_t apply_ns; /* CPU time spent applying events (gw_kvindex_note_apply_ns) */
    int engines[3];    /* engines per confidence, indexed by gw_kvconf (followed or not) */
    /* routing predictions, at each gw_prefix_insert through the overlay:
     * blocks the chosen engine was predicted to hold, by the approximate
     * index and (engines in exact confidence) by this one, and the blocks
     * asked for */
    uint64_t pred_n, pred_blocks, pred_approx, pred_exact_n, pred_exact_blocks, pred_exact,
        pred_exact_approx;
} gw_kvindex_stats;

/* An index reserving at most max_bytes (3/4 for the exact pairs, 1/8 per
 * speculative generation); NULL when too small (under ~256 KiB) or out of
 * memory. spec_ttl_ms: how long an unconfirmed speculative pair lives
 * (0: no speculative inserts). */
gw_kvindex *gw_kvindex_create(size_t max_bytes, uint32_t spec_ttl_ms);
void gw_kvindex_destroy(gw_kvindex *ix);

/* Lays ix over approx (gw_prefix_set_overlay); NULL approx detaches it
 * from the one it was attached to. */
void gw_kvindex_attach(gw_kvindex *ix, gw_prefix *approx);

/* Starts following engine_id's stream (the subscriber connected): its
 * exact pairs are dropped, confidence degraded until a batch from seq 0
 * or a complete replay. */
void gw_kvindex_follow(gw_kvindex *ix, int engine_id);
/* Stops following (engine gone, down, stream closed): approximate, its
 * exact and speculative pairs dropped. */
void gw_kvindex_unfollow(gw_kvindex *ix, int engine_id);
int gw_kvindex_followed(const gw_kvindex *ix, int engine_id);
gw_kvconf gw_kvindex_conf(const gw_kvindex *ix, int engine_id);

enum {
    GW_KVIX_APPLIED = 0, /* the batch was applied */
    GW_KVIX_IGNORED = 1, /* not applied: a duplicate, live during a replay, not followed */
    GW_KVIX_REPLAY = 2,  /* not applied: ask for a replay from *replay_from */
};

/* A live batch (from the PUB socket). *replay_from is set on GW_KVIX_REPLAY;
 * the caller then sends the request and calls gw_kvindex_replay_begin. */
int gw_kvindex_on_batch(gw_kvindex *ix, int engine_id, uint64_t seq, const bx_kvev_batch *b,
                        uint64_t *replay_from);
void gw_kvindex_replay_begin(gw_kvindex *ix, int engine_id, uint64_t from);
/* A batch of a replay answer: applied in order; a first seq past the one
 * asked for means the engine's ring no longer had the missing ones (the
 * engine is degraded until AllBlocksCleared or a restart). */
int gw_kvindex_on_replay(gw_kvindex *ix, int engine_id, uint64_t seq, const bx_kvev_batch *b);
/* The end of a replay answer (ok) or its timeout (!ok). */
void gw_kvindex_replay_end(gw_kvindex *ix, int engine_id, int ok);
int gw_kvindex_replaying(const gw_kvindex *ix, int engine_id);
uint64_t gw_kvindex_next_seq(const gw_kvindex *ix, int engine_id);

/* Expires speculative pairs: call at least every spec_ttl / 4. */
void gw_kvindex_tick(gw_kvindex *ix, uint64_t now_ms);

/* Longest prefix of keys engine_id holds by this index alone (exact and
 * speculative pairs; 0 for an engine not followed). */
size_t gw_kvindex_match(const gw_kvindex *ix, const uint64_t *keys, size_t n, int engine_id);
/* Adds to the apply-time counter (the subscriber times each batch). */
void gw_kvindex_note_apply_ns(gw_kvindex *ix, uint64_t ns);

/* For tests and fuzzing: every table's invariants (gw_prefix_check) and
 * the counts. 0, or -1 when broken. */
int gw_kvindex_check(const gw_kvindex *ix);

void gw_kvindex_stats_get(const gw_kvindex *ix, gw_kvindex_stats *out);
size_t gw_kvindex_mem_bytes(const gw_kvindex *ix);

#endif
