/* eng_sched: continuous batching as vLLM v1's scheduler does it.
 *
 * One step: running sequences first (a decode takes one token, an unfinished
 * prefill a chunk of the token budget); when blocks run out the newest
 * running sequence is preempted by recompute (its blocks are freed but stay
 * cached, it returns to the front of the waiting queue). Then, if nothing
 * was preempted, waiting sequences are admitted first come first served
 * while there is budget, fewer than max_num_seqs run and blocks suffice; a
 * LoRA sequence whose adapter would exceed max_loras is skipped, not
 * blocking those behind it. A new sequence first takes its cached prefix
 * blocks (capped so at least one token is computed).
 *
 * The step is split in two so a caller can let simulated time pass between:
 * eng_sched_plan decides the batch and returns its work (for the timing
 * model); eng_sched_commit applies it at the step's end time: tokens are
 * emitted, full blocks are hashed and cached, finished sequences leave.
 * Time is a double in simulated seconds supplied by the caller.
 *
 * Policies (eng_sched_cfg.policy): ENG_SCHED_VLLM_V1 (the default) is the
 * above. ENG_SCHED_VLLM_V0 models vLLM 0.x's default scheduler, for
 * replaying runs of those versions (bench/fidelity): no chunked prefill (a
 * prompt is admitted whole, or admission stops), and a step either
 * prefills newly admitted sequences or decodes the running ones, prefills
 * first (decodes stall while sequences are admitted). With
 * num_scheduler_steps k > 1 (vLLM's multi-step scheduling) a decode step is
 * a burst of k forward passes (work.iters = k): each running sequence
 * generates up to k tokens, all emitted at the burst's end, and admission
 * waits for the burst to end.
 *
 * KV offloading (eng_sched_set_offload, optional): after the GPU prefix
 * match, admission asks an outside tier for the blocks that follow; those it
 * holds are loaded instead of computed (their time is added to the step as
 * work.load_s) and become GPU-cached blocks at the step's end. The evict
 * hook sees each cached GPU block before it is reused.
 *
 * Ownership: the scheduler owns every eng_seq from eng_sched_add until the
 * on_finish callback has returned; the caller's ud pointer is opaque here. */
#ifndef ENG_SCHED_H
#define ENG_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "common/bx_blockhash.h"
#include "common/bx_queue.h"
#include "engine/eng_blocks.h"
#include "engine/eng_lora.h"
#include "engine/eng_timing.h"

enum eng_seq_state { ENG_SEQ_WAITING = 0, ENG_SEQ_RUNNING, ENG_SEQ_DONE };
enum eng_finish { ENG_FINISH_LENGTH = 0, ENG_FINISH_STOP, ENG_FINISH_ABORT, ENG_FINISH_ERROR };

typedef struct eng_seq {
    bx_queue node;    /* in the waiting or the running list */
    uint32_t *tokens; /* prompt then generated ids; cap = prompt + max_tokens */
    int32_t num_prompt, num_tokens, max_tokens;
    int32_t num_computed; /* tokens whose KV is computed */
    int32_t *blocks;      /* block table */
    int32_t num_blocks;   /* blocks held */
    uint64_t *keys;       /* block keys of full blocks, computed lazily */
    bx_blockhash *digests;
    int32_t num_keys;   /* full blocks hashed so far */
    int32_t num_stored; /* held blocks already offered to the cache */
    int32_t stop_after; /* generate this many then finish with "stop" (0 = max_tokens) */
    int lora;           /* adapter index in eng_lora, -1 = base model */
    enum eng_seq_state state;
    int32_t step_tokens; /* scheduled in the current plan (0 = not in it) */
    int in_plan, abort_pending;
    int32_t num_cached_tokens; /* prefix hit at first scheduling */
    int32_t preemptions;
    int32_t step_burst; /* ENG_SCHED_VLLM_V0 decode burst: tokens to generate (0: not one) */
    double arrival, scheduled_ts, first_token_ts, last_token_ts;
    int ever_scheduled;
    /* P/D (eng_pd.c): remote_computed prompt tokens arrived from a remote
     * prefill: the first admission counts them computed (at most all but
     * the last prompt token, as vLLM's connector), then it is cleared (a
     * preemption recomputes). keep_blocks: on finish the blocks are not
     * released before on_finish, which may take them (setting num_blocks
     * to 0) and later give them back with eng_sched_unpin. */
    int32_t remote_computed;
    int keep_blocks;
    void *ud;
} eng_seq;

typedef struct eng_sched_cbs {
    /* A token was generated (index = num_generated - 1). */
    void (*on_token)(eng_seq *s, uint32_t id, double now, void *ud);
    /* The sequence is done; it is freed after this returns. */
    void (*on_finish)(eng_seq *s, enum eng_finish why, double now, void *ud);
    /* Full blocks were cached: keys[0..n) of sequence s, starting at block
     * first (for the BlockStored event: parent = key of block first-1). */
    void (*on_stored)(eng_seq *s, int32_t first, int32_t n, void *ud);
    /* A cached block was evicted (lazy BlockRemoved). */
    void (*on_removed)(uint64_t key, void *ud);
    /* A token id for generated token i of s (deterministic text). */
    uint32_t (*gen_token)(eng_seq *s, int32_t i, void *ud);
} eng_sched_cbs;

/* What an outside KV tier holds after the GPU hit, as lookup reports it. */
typedef struct eng_sched_loaded {
    int32_t blocks;               /* leading blocks after the GPU hit that load */
    int32_t l1_blocks, l2_blocks; /* of them, from each tier */
    int32_t bad_blocks;           /* found but with wrong bytes (treated as misses) */
    double load_s;                /* simulated time to load them */
} eng_sched_loaded;

typedef struct eng_sched_offload {
    /* Blocks [gpu_hit, max_blocks) of q (keys q->keys[0..max_blocks) are
     * hashed): fills *out. May run again for the same q if its admission
     * has to wait, so it counts nothing itself. */
    void (*lookup)(eng_seq *q, int32_t gpu_hit, int32_t max_blocks, eng_sched_loaded *out,
                   void *ud);
    /* q was admitted after lookup said *l (count it here). */
    void (*admitted)(eng_seq *q, int32_t gpu_hit, int32_t max_blocks, const eng_sched_loaded *l,
                     void *ud);
    /* A cached GPU block is about to be reused (see eng_blocks_evict_cb). */
    eng_blocks_evict_cb evict;
} eng_sched_offload;

enum eng_sched_policy { ENG_SCHED_VLLM_V1 = 0, ENG_SCHED_VLLM_V0 };

typedef struct eng_sched_cfg {
    int32_t max_num_seqs;
    int32_t max_num_batched_tokens;
    int32_t block_size;
    int32_t num_gpu_blocks;
    int32_t max_loras, max_cpu_loras;
    const char *hash_seed;
    int hash_algo;               /* bx_blockhash_algo (0: sha256_cbor) */
    int policy;                  /* enum eng_sched_policy */
    int32_t num_scheduler_steps; /* ENG_SCHED_VLLM_V0: decode passes per step (0, 1: one) */
} eng_sched_cfg;

typedef struct eng_sched_stats {
    uint64_t prompt_tokens, generation_tokens, preemptions;
    uint64_t prefix_queries, prefix_hits; /* tokens */
    uint64_t steps;
} eng_sched_stats;

typedef struct eng_sched {
    eng_sched_cfg cfg;
    eng_blocks blocks;
    eng_lora lora;
    bx_blockhash root;
    bx_queue waiting, running; /* eng_seq.node, in queue order; the struct must not
                                * move after init (the lists point into it) */
    int32_t num_waiting, num_running;
    eng_seq **plan; /* sequences of the current step */
    int32_t plan_len, plan_cap;
    int planned;
    eng_sched_stats stats;
    eng_sched_cbs cbs;
    void *ud;
    eng_sched_offload off; /* all NULL: no offloading */
    void *off_ud;
} eng_sched;

int eng_sched_init(eng_sched *s, const eng_sched_cfg *cfg, const eng_sched_cbs *cbs, void *ud);
void eng_sched_close(eng_sched *s); /* finishes nothing; frees every sequence */
/* Installs (ops NULL: removes) the KV offload hooks; ud is the caller's. */
void eng_sched_set_offload(eng_sched *s, const eng_sched_offload *ops, void *ud);

/* Creates a waiting sequence; the scheduler copies the prompt ids. lora is
 * an index from eng_lora_find or -1. Returns NULL on allocation failure. */
eng_seq *eng_sched_add(eng_sched *s, const uint32_t *prompt, int32_t num_prompt, int32_t max_tokens,
                       int lora, double arrival, void *ud);
/* The client went away: the sequence finishes with ENG_FINISH_ABORT now, or
 * at the end of the step if it is in the current plan. */
void eng_sched_abort(eng_sched *s, eng_seq *q, double now);
int eng_sched_has_work(const eng_sched *s);
/* Plans one step starting at time now. Returns the number of sequences in it (0: nothing to do). */
int eng_sched_plan(eng_sched *s, double now, eng_step_work *work);
/* Applies the planned step at time now (its end). */
void eng_sched_commit(eng_sched *s, double now);
/* Earliest arrival among waiting sequences, -1 when none wait. A plan
 * admits only sequences that have arrived by its start time. */
double eng_sched_next_arrival(const eng_sched *s);
/* Releases blocks on_finish took from a keep_blocks sequence. */
void eng_sched_unpin(eng_sched *s, const int32_t *blocks, int32_t n);
/* Prefix-cache reset (AllBlocksCleared); -1 if blocks are in use. */
int eng_sched_reset_prefix_cache(eng_sched *s);

static inline int32_t eng_seq_generated(const eng_seq *q)
{
    return q->num_tokens - q->num_prompt;
}

#endif
