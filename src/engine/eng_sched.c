/* eng_sched: see eng_sched.h. Lists are intrusive; per-sequence arrays are
 * sized once at eng_sched_add from prompt + max_tokens, so a step allocates
 * nothing. */
#include "engine/eng_sched.h"

#include <stdlib.h>
#include <string.h>

static void eng_sched_on_removed(uint64_t key, void *ud)
{
    eng_sched *s = ud;
    if (s->cbs.on_removed) s->cbs.on_removed(key, s->ud);
}

int eng_sched_init(eng_sched *s, const eng_sched_cfg *cfg, const eng_sched_cbs *cbs, void *ud)
{
    memset(s, 0, sizeof(*s));
    bx_queue_init(&s->waiting);
    bx_queue_init(&s->running);
    s->cfg = *cfg;
    s->cbs = *cbs;
    s->ud = ud;
    if (cfg->block_size <= 0 || cfg->max_num_seqs <= 0 || cfg->max_num_batched_tokens <= 0)
        return -1;
    if (eng_blocks_init(&s->blocks, cfg->num_gpu_blocks, cfg->block_size, eng_sched_on_removed,
                        s) != 0)
        return -1;
    eng_lora_init(&s->lora, cfg->max_loras, cfg->max_cpu_loras);
    bx_blockhash_root_algo((bx_blockhash_algo)cfg->hash_algo, cfg->hash_seed ? cfg->hash_seed : "0",
                           &s->root);
    s->plan_cap = cfg->max_num_seqs + 1;
    s->plan = calloc((size_t)s->plan_cap, sizeof(*s->plan));
    if (!s->plan) {
        eng_blocks_close(&s->blocks);
        return -1;
    }
    return 0;
}

void eng_sched_set_offload(eng_sched *s, const eng_sched_offload *ops, void *ud)
{
    memset(&s->off, 0, sizeof(s->off));
    s->off_ud = NULL;
    if (ops) {
        s->off = *ops;
        s->off_ud = ud;
    }
    eng_blocks_set_evict_cb(&s->blocks, s->off.evict, s->off_ud);
}

static void eng_seq_free(eng_seq *q)
{
    free(q->tokens);
    free(q->blocks);
    free(q->keys);
    free(q->digests);
    free(q);
}

void eng_sched_close(eng_sched *s)
{
    bx_queue *q, *n;
    BX_QUEUE_FOREACH_SAFE(q, n, &s->waiting)
    {
        eng_seq_free(bx_container_of(q, eng_seq, node));
    }
    BX_QUEUE_FOREACH_SAFE(q, n, &s->running)
    {
        eng_seq_free(bx_container_of(q, eng_seq, node));
    }
    free(s->plan);
    eng_blocks_close(&s->blocks);
    memset(s, 0, sizeof(*s));
}

eng_seq *eng_sched_add(eng_sched *s, const uint32_t *prompt, int32_t num_prompt, int32_t max_tokens,
                       int lora, double arrival, void *ud)
{
    if (num_prompt <= 0 || max_tokens <= 0) return NULL;
    eng_seq *q = calloc(1, sizeof(*q));
    if (!q) return NULL;
    size_t total = (size_t)num_prompt + (size_t)max_tokens;
    size_t nb = total / (size_t)s->cfg.block_size + 2;
    q->tokens = malloc(total * sizeof(*q->tokens));
    q->blocks = malloc(nb * sizeof(*q->blocks));
    q->keys = malloc(nb * sizeof(*q->keys));
    q->digests = malloc(nb * sizeof(*q->digests));
    if (!q->tokens || !q->blocks || !q->keys || !q->digests) {
        eng_seq_free(q);
        return NULL;
    }
    memcpy(q->tokens, prompt, (size_t)num_prompt * sizeof(*prompt));
    q->num_prompt = q->num_tokens = num_prompt;
    q->max_tokens = max_tokens;
    q->lora = lora;
    q->arrival = arrival;
    q->ud = ud;
    q->state = ENG_SEQ_WAITING;
    if (lora >= 0) s->lora.a[lora].waiting++;
    bx_queue_insert_tail(&s->waiting, &q->node);
    s->num_waiting++;
    return q;
}

/* Hashes full blocks of q up to nfull (their tokens must be known). */
static void eng_sched_hash_upto(eng_sched *s, eng_seq *q, int32_t nfull)
{
    const int32_t bs = s->cfg.block_size;
    const char *extra = q->lora >= 0 ? s->lora.a[q->lora].name : NULL;
    if (extra && !extra[0]) extra = NULL;
    while (q->num_keys < nfull && (q->num_keys + 1) * bs <= q->num_tokens) {
        int32_t k = q->num_keys;
        const bx_blockhash *parent = k == 0 ? &s->root : &q->digests[k - 1];
        if (bx_blockhash_block(parent, q->tokens + (size_t)k * bs, (size_t)bs, extra,
                               &q->digests[k]) != 0)
            return;
        q->keys[k] = bx_blockhash_u64(&q->digests[k]);
        q->num_keys++;
    }
}

static void eng_sched_free_blocks(eng_sched *s, eng_seq *q)
{
    for (int32_t i = q->num_blocks - 1; i >= 0; i--)
        eng_blocks_release(&s->blocks, q->blocks[i]);
    q->num_blocks = 0;
    q->num_stored = 0;
}

void eng_sched_unpin(eng_sched *s, const int32_t *blocks, int32_t n)
{
    for (int32_t i = n - 1; i >= 0; i--)
        eng_blocks_release(&s->blocks, blocks[i]);
}

static int32_t eng_blocks_for(const eng_sched *s, int32_t tokens)
{
    return (tokens + s->cfg.block_size - 1) / s->cfg.block_size;
}

static void eng_sched_finish(eng_sched *s, eng_seq *q, enum eng_finish why, double now)
{
    if (q->state == ENG_SEQ_RUNNING) {
        bx_queue_remove(&q->node);
        s->num_running--;
        if (q->lora >= 0) eng_lora_deactivate(&s->lora, q->lora);
    } else if (q->state == ENG_SEQ_WAITING) {
        bx_queue_remove(&q->node);
        s->num_waiting--;
        if (q->lora >= 0) {
            s->lora.a[q->lora].waiting--;
            eng_lora_deactivate(&s->lora, q->lora); /* recycles a removed entry */
        }
    }
    q->state = ENG_SEQ_DONE;
    if (!q->keep_blocks) eng_sched_free_blocks(s, q);
    if (s->cbs.on_finish) s->cbs.on_finish(q, why, now, s->ud);
    eng_sched_free_blocks(s, q); /* what on_finish left of a keep_blocks one */
    eng_seq_free(q);
}

void eng_sched_abort(eng_sched *s, eng_seq *q, double now)
{
    if (q->in_plan) {
        q->abort_pending = 1;
        return;
    }
    eng_sched_finish(s, q, ENG_FINISH_ABORT, now);
}

int eng_sched_has_work(const eng_sched *s)
{
    return s->num_running > 0 || s->num_waiting > 0;
}

static void eng_sched_preempt(eng_sched *s, eng_seq *q, int32_t *budget)
{
    if (q->in_plan) { /* scheduled earlier in this step: take it back */
        *budget += q->step_tokens;
        q->in_plan = 0;
        q->step_tokens = 0;
        q->step_burst = 0;
    }
    bx_queue_remove(&q->node);
    s->num_running--;
    if (q->lora >= 0) {
        eng_lora_deactivate(&s->lora, q->lora);
        s->lora.a[q->lora].waiting++;
    }
    eng_sched_free_blocks(s, q);
    q->num_computed = 0;
    q->state = ENG_SEQ_WAITING;
    q->preemptions++;
    s->stats.preemptions++;
    bx_queue_insert_head(&s->waiting, &q->node);
    s->num_waiting++;
}

static void eng_sched_take(eng_sched *s, eng_seq *q, int32_t n, eng_step_work *w)
{
    q->in_plan = 1;
    q->step_tokens = n;
    s->plan[s->plan_len++] = q;
    w->tokens += n;
    w->seqs++;
    if (n == 1 && q->num_computed == q->num_tokens - 1 && q->num_computed >= q->num_prompt)
        w->decode_ctx += q->num_computed;
    else
        w->prefill_attn += (double)n * (double)(q->num_computed + n);
}

static int eng_sched_alloc(eng_sched *s, eng_seq *q, int32_t need)
{
    for (int32_t i = 0; i < need; i++) {
        int32_t b = eng_blocks_alloc(&s->blocks);
        if (b < 0) return -1;
        q->blocks[q->num_blocks++] = b;
    }
    return 0;
}

/* Admits waiting sequences FCFS into the plan while *budget lasts (see
 * eng_sched.h); whole: a prompt is taken whole or admission stops (unless
 * the plan is empty, so that a prompt over the budget still runs). */
static void eng_sched_admit(eng_sched *s, double now, eng_step_work *w, int32_t *budget, int whole)
{
    const int32_t bs = s->cfg.block_size;
    for (bx_queue *qn = bx_queue_head(&s->waiting), *next; qn && *budget > 0; qn = next) {
        eng_seq *q = bx_container_of(qn, eng_seq, node);
        next = bx_queue_next(&s->waiting, qn);
        if (s->num_running >= s->cfg.max_num_seqs) break;
        if (q->arrival > now) continue; /* arrives during this step: next one */
        if (q->lora >= 0 && !eng_lora_can_run(&s->lora, q->lora)) continue;
        int32_t total = q->num_tokens;
        int32_t max_hit = (total - 1) / bs;
        eng_sched_hash_upto(s, q, max_hit);
        int32_t nkeys = q->num_keys < max_hit ? q->num_keys : max_hit;
        int32_t hit = (int32_t)eng_blocks_match(&s->blocks, q->keys, (size_t)nkeys);
        int32_t hit_free = 0;
        for (int32_t i = 0; i < hit; i++)
            if (s->blocks.blocks[eng_blocks_find(&s->blocks, q->keys[i])].in_free) hit_free++;
        eng_sched_loaded ld = {0};
        int32_t n0 = total - hit * bs < *budget ? total - hit * bs : *budget;
        /* loading never lowers the blocks needed: a request that cannot
         * start without it cannot with it, so skip the lookup (a copy) */
        if (s->off.lookup && hit < nkeys &&
            eng_blocks_for(s, hit * bs + n0) - hit <= s->blocks.num_free - hit_free) {
            s->off.lookup(q, hit, nkeys, &ld, s->off_ud);
            if (ld.blocks < 0 || ld.blocks > nkeys - hit) ld.blocks = 0;
        }
        int32_t computed = (hit + ld.blocks) * bs;
        if (q->remote_computed > computed) /* pulled from a remote prefill */
            computed = q->remote_computed < total - 1 ? q->remote_computed : total - 1;
        int32_t n = total - computed;
        if (n > *budget) {
            if (whole && s->plan_len > 0) break; /* vllm-v0: no chunked prefill */
            n = *budget;
        }
        int32_t need = eng_blocks_for(s, computed + n) - hit;
        if (need > s->blocks.num_free - hit_free) break;
        for (int32_t i = 0; i < hit; i++) {
            int32_t b = eng_blocks_find(&s->blocks, q->keys[i]);
            eng_blocks_touch(&s->blocks, b);
            q->blocks[q->num_blocks++] = b;
        }
        q->num_stored = hit;
        q->num_computed = computed;
        if (eng_sched_alloc(s, q, need) != 0) { /* cannot happen: checked above */
            eng_sched_free_blocks(s, q);
            q->num_computed = 0;
            break;
        }
        if (!q->ever_scheduled) {
            q->ever_scheduled = 1;
            q->scheduled_ts = now;
            q->num_cached_tokens = computed; /* GPU and offload hits, as vLLM */
            s->stats.prefix_queries += (uint64_t)total;
            s->stats.prefix_hits += (uint64_t)hit * (uint64_t)bs; /* GPU prefix cache only */
        }
        if (s->off.admitted && hit < nkeys) s->off.admitted(q, hit, nkeys, &ld, s->off_ud);
        q->remote_computed = 0;
        w->load_s += ld.blocks > 0 ? ld.load_s : 0.0;
        bx_queue_remove(&q->node);
        s->num_waiting--;
        bx_queue_insert_tail(&s->running, &q->node);
        s->num_running++;
        q->state = ENG_SEQ_RUNNING;
        if (q->lora >= 0) {
            int loaded, swapped;
            s->lora.a[q->lora].waiting--;
            eng_lora_activate(&s->lora, q->lora, &loaded, &swapped);
            w->lora_loads += loaded;
            w->lora_swaps += swapped;
        }
        eng_sched_take(s, q, n, w);
        *budget -= n;
    }
}

enum { RUN_ALL, RUN_PREFILLS, RUN_DECODES };

/* Schedules running sequences in order (RUN_ALL: all; RUN_PREFILLS: those
 * whose prompt is not computed yet; RUN_DECODES: the others, each for a burst
 * of up to k tokens), preempting the newest when blocks run out. Returns
 * whether it preempted. */
static int eng_sched_run(eng_sched *s, eng_step_work *w, int32_t *budget, int mode, int32_t k)
{
    int preempted = 0;
    for (bx_queue *qn = bx_queue_head(&s->running), *next; qn && *budget > 0; qn = next) {
        eng_seq *q = bx_container_of(qn, eng_seq, node);
        int32_t n = q->num_tokens - q->num_computed;
        int32_t m = 1; /* tokens the step generates for q */
        if (mode != RUN_ALL && (n > 1) != (mode == RUN_PREFILLS)) n = 0;
        if (mode == RUN_DECODES && n == 1) {
            int32_t left = q->max_tokens - eng_seq_generated(q);
            if (q->stop_after > 0 && q->stop_after - eng_seq_generated(q) < left)
                left = q->stop_after - eng_seq_generated(q);
            m = k < left ? k : left;
            if (m < 1) m = 1;
        }
        if (n > *budget) n = *budget;
        if (n <= 0) {
            next = bx_queue_next(&s->running, qn);
            continue;
        }
        int32_t need = eng_blocks_for(s, q->num_computed + n + m - 1) - q->num_blocks;
        int self = 0;
        while (need > s->blocks.num_free) {
            eng_seq *victim = bx_container_of(bx_queue_tail(&s->running), eng_seq, node);
            eng_sched_preempt(s, victim, budget);
            preempted = 1;
            if (victim == q) {
                self = 1;
                break;
            }
        }
        if (self) break;
        next = bx_queue_next(&s->running, qn); /* after the preemptions */
        if (eng_sched_alloc(s, q, need) != 0) break;
        eng_sched_take(s, q, n, w);
        if (mode == RUN_DECODES && k > 1) {
            q->step_burst = m;
            w->decode_ctx += (k - 1) / 2; /* the context grows over the burst */
        }
        *budget -= n;
    }
    return preempted;
}

int eng_sched_plan(eng_sched *s, double now, eng_step_work *w)
{
    memset(w, 0, sizeof(*w));
    s->plan_len = 0;
    int32_t budget = s->cfg.max_num_batched_tokens;
    if (s->cfg.policy == ENG_SCHED_VLLM_V0) {
        /* prefills first, whole; the running sequences decode only when none is admitted */
        int preempted = eng_sched_run(s, w, &budget, RUN_PREFILLS, 1);
        if (!preempted) eng_sched_admit(s, now, w, &budget, 1);
        if (s->plan_len == 0) {
            int32_t k = s->cfg.num_scheduler_steps > 1 ? s->cfg.num_scheduler_steps : 1;
            budget = s->cfg.max_num_batched_tokens;
            eng_sched_run(s, w, &budget, RUN_DECODES, k);
            if (s->plan_len > 0 && k > 1) w->iters = k;
        }
    } else if (!eng_sched_run(s, w, &budget, RUN_ALL, 1)) {
        eng_sched_admit(s, now, w, &budget, 0);
    }
    s->planned = 1;
    return s->plan_len;
}

/* Offers q's newly full blocks to the prefix cache; reports each run of
 * blocks that was actually added. */
static void eng_sched_store(eng_sched *s, eng_seq *q)
{
    int32_t nfull = q->num_computed / s->cfg.block_size;
    if (nfull > q->num_blocks) nfull = q->num_blocks;
    if (nfull <= q->num_stored) return;
    eng_sched_hash_upto(s, q, nfull);
    if (nfull > q->num_keys) nfull = q->num_keys;
    int32_t run = -1;
    for (int32_t i = q->num_stored; i < nfull; i++) {
        int added = eng_blocks_cache(&s->blocks, q->blocks[i], q->keys[i]);
        if (added && run < 0) run = i;
        if (!added && run >= 0) {
            if (s->cbs.on_stored) s->cbs.on_stored(q, run, i - run, s->ud);
            run = -1;
        }
    }
    if (run >= 0 && s->cbs.on_stored) s->cbs.on_stored(q, run, nfull - run, s->ud);
    q->num_stored = nfull;
}

/* q computed its last token: the next one is generated. Returns 1 if q
 * finished (it is freed then). */
static int eng_sched_emit(eng_sched *s, eng_seq *q, double now)
{
    int32_t g = eng_seq_generated(q);
    uint32_t id = s->cbs.gen_token ? s->cbs.gen_token(q, g, s->ud) : 0;
    q->tokens[q->num_tokens++] = id;
    if (g == 0) {
        q->first_token_ts = now;
        s->stats.prompt_tokens += (uint64_t)q->num_prompt;
    }
    q->last_token_ts = now;
    s->stats.generation_tokens++;
    if (s->cbs.on_token) s->cbs.on_token(q, id, now, s->ud);
    g++;
    if (g >= q->max_tokens)
        eng_sched_finish(s, q, ENG_FINISH_LENGTH, now);
    else if (q->stop_after > 0 && g >= q->stop_after)
        eng_sched_finish(s, q, ENG_FINISH_STOP, now);
    else
        return 0;
    return 1;
}

void eng_sched_commit(eng_sched *s, double now)
{
    if (!s->planned) return;
    s->planned = 0;
    s->stats.steps++;
    for (int32_t i = 0; i < s->plan_len; i++) {
        eng_seq *q = s->plan[i];
        if (!q->in_plan) continue; /* preempted after it was planned */
        q->in_plan = 0;
        int32_t burst = q->step_burst > 0 ? q->step_burst : 1, first = q->step_tokens;
        q->step_burst = 0;
        q->step_tokens = 0;
        for (int32_t b = 0; b < burst; b++) {
            q->num_computed += b == 0 ? first : 1;
            eng_sched_store(s, q);
            if (q->abort_pending) {
                eng_sched_finish(s, q, ENG_FINISH_ABORT, now);
                break;
            }
            if (q->num_computed < q->num_tokens) break; /* prefill chunk */
            if (eng_sched_emit(s, q, now)) break;       /* finished (and freed) */
        }
    }
    s->plan_len = 0;
}

int eng_sched_reset_prefix_cache(eng_sched *s)
{
    return eng_blocks_reset_cache(&s->blocks);
}

double eng_sched_next_arrival(const eng_sched *s)
{
    double t = -1;
    const bx_queue *qn;
    BX_QUEUE_FOREACH(qn, &s->waiting)
    {
        const eng_seq *q = bx_container_of(qn, eng_seq, node);
        if (t < 0 || q->arrival < t) t = q->arrival;
    }
    return t;
}
