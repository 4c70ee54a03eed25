/* Decision-time microbenchmark for the prefix-aware strategies (driver for
 * bench/micro/prefix_decision.sh). For 8k- and 32k-token prompts over 64 engines
 * it times one pick() of prefix-cache and of predicted-ttft against an
 * index filled to its bound with other engines' chains, and compares each
 * with the peer: a plain memcpy of the request's key array (the least any
 * decision that looks at every block must cost). Also prints the index's
 * bytes per entry and the cost of hashing the prompt (bx_blockhash_chain,
 * done once per request by the request parser, not by the strategies) in
 * both of vLLM's cross-language modes. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bx_blockhash.h"
#include "gateway/gw_prefix.h"
#include "gateway/gw_strategy.h"

extern const gw_strategy gw_strategy_prefix_cache;
extern const gw_strategy gw_strategy_predicted_ttft;

#define NENG 64
#define BS 16

static uint64_t rs = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd64(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static volatile uint64_t sink;

/* median of reps timings of iters calls, ns per call */
typedef double (*run_fn)(void *ctx, int iters);

static double measure(run_fn f, void *ctx, int iters)
{
    double best[7];
    for (int r = 0; r < 7; r++)
        best[r] = f(ctx, iters) / iters;
    for (int i = 1; i < 7; i++)
        for (int j = i; j > 0 && best[j] < best[j - 1]; j--) {
            double t = best[j];
            best[j] = best[j - 1];
            best[j - 1] = t;
        }
    return best[3];
}

typedef struct ctx {
    const gw_strategy *s;
    void *st;
    gw_route_req rq;
    gw_engine *const *cands;
    uint64_t *dst;
} ctx;

static double run_pick(void *p, int iters)
{
    ctx *c = p;
    double t0 = now_ns();
    for (int i = 0; i < iters; i++) {
        c->rq.rnd = (uint64_t)i * 0x9e3779b97f4a7c15ULL;
        sink += (uint64_t)c->s->pick(c->st, &c->rq, c->cands, NENG);
    }
    return now_ns() - t0;
}

static double run_memcpy(void *p, int iters)
{
    ctx *c = p;
    double t0 = now_ns();
    for (int i = 0; i < iters; i++) {
        memcpy(c->dst, c->rq.block_keys, c->rq.nblocks * sizeof(uint64_t));
        __asm__ volatile("" ::"r"(c->dst) : "memory");
        sink += c->dst[i % c->rq.nblocks];
    }
    return now_ns() - t0;
}

int main(void)
{
    gw_strategy_cfg cfg;
    gw_strategy_cfg_default(&cfg);                           /* 64 MiB bound, block size 16 */
    gw_prefix *idx = gw_prefix_create(cfg.prefix_max_bytes); /* as the router lends it */
    void *pc = gw_strategy_prefix_cache.create(&cfg, idx);
    void *pt = gw_strategy_predicted_ttft.create(&cfg, idx);
    if (!pc || !pt || !idx) {
        fprintf(stderr, "create failed\n");
        return 1;
    }
    static gw_engine eng[NENG];
    gw_engine *cands[NENG];
    for (int i = 0; i < NENG; i++) {
        eng[i].id = i;
        gw_engine_clear_metrics(&eng[i]);
        eng[i].inflight = (int32_t)(rnd64() % 4);
        cands[i] = &eng[i];
    }

    /* fill the index to its bound with random 512-block chains */
    gw_prefix_stats st;
    gw_prefix_stats_get(idx, &st);
    static uint64_t bg[512];
    while (st.entries + 512 <= st.capacity) {
        for (int k = 0; k < 512; k++)
            bg[k] = rnd64();
        gw_prefix_insert(idx, bg, 512, (int)(rnd64() % NENG));
        gw_prefix_stats_get(idx, &st);
    }
    for (int k = 0; k < 4096; k++) { /* and past it: evictions running */
        bg[k % 512] = rnd64();
        if (k % 512 == 511) gw_prefix_insert(idx, bg, 512, (int)(rnd64() % NENG));
    }
    gw_prefix_stats_get(idx, &st);
    printf("index: bound %zu B, %zu entries of %zu, %.1f bytes per entry (capacity), "
           "%.1f per held entry, %llu evictions\n",
           cfg.prefix_max_bytes, st.entries, st.capacity, st.bytes_per_entry,
           (double)st.bytes / (double)st.entries, (unsigned long long)st.evictions);

    bx_blockhash root, sha_root; /* the gateway's default keys, and vLLM's sha256 */
    bx_blockhash_root_algo(BX_BLOCKHASH_XXHASH_CBOR, "0", &root);
    bx_blockhash_root("0", &sha_root);
    static const size_t sizes[2] = {8192, 32768};
    printf("%-7s %-26s %12s %12s %8s\n", "tokens", "case", "pick ns", "memcpy ns", "ratio");
    for (int si = 0; si < 2; si++) {
        size_t ntok = sizes[si], nb = ntok / BS;
        uint32_t *tok = malloc(ntok * sizeof(*tok));
        uint64_t *keys = malloc(nb * sizeof(*keys));
        uint64_t *dst = malloc(nb * sizeof(*dst));
        if (!tok || !keys || !dst) return 1;
        for (size_t i = 0; i < ntok; i++)
            tok[i] = 256 + (uint32_t)(rnd64() % 128000);
        double sha_ns = 1e18, hash_ns = 1e18; /* best of 5 */
        for (int r = 0; r < 5; r++) {
            double t0 = now_ns();
            bx_blockhash_chain(&sha_root, tok, ntok, BS, NULL, nb, keys, NULL);
            double t1 = now_ns();
            bx_blockhash_chain(&root, tok, ntok, BS, NULL, nb, keys, NULL);
            double t2 = now_ns();
            if (t1 - t0 < sha_ns) sha_ns = t1 - t0;
            if (t2 - t1 < hash_ns) hash_ns = t2 - t1;
        }

        ctx c = {.rq = {.model = "m",
                        .tokens = tok,
                        .ntokens = ntok,
                        .block_keys = keys,
                        .nblocks = nb,
                        .max_tokens = -1},
                 .cands = cands,
                 .dst = dst};
        int iters = si == 0 ? 400 : 100;
        double mc = measure(run_memcpy, &c, iters * 10);
        for (int phase = 0; phase < 3; phase++) {
            /* typical: 4 engines hold all of it, 8 hold half; every engine
             * holds all of it; worst for bisection: 64 different lengths */
            if (phase == 0) {
                for (int e = 0; e < 4; e++)
                    gw_prefix_insert(idx, keys, nb, e);
                for (int e = 4; e < 12; e++)
                    gw_prefix_insert(idx, keys, nb / 2, e);
            } else if (phase == 1) {
                for (int e = 0; e < NENG; e++)
                    gw_prefix_insert(idx, keys, nb, e);
            } else {
                for (int e = 0; e < NENG; e++) {
                    gw_prefix_remove_engine(idx, e);
                    gw_prefix_insert(idx, keys, nb * (size_t)(e + 1) / NENG - 1, e);
                }
            }
            static const char *const labels[3] = {"4 full + 8 half", "all 64 full",
                                                  "64 lengths (worst)"};
            const char *label = labels[phase];
            for (int k = 0; k < 2; k++) {
                c.s = k == 0 ? &gw_strategy_prefix_cache : &gw_strategy_predicted_ttft;
                c.st = k == 0 ? pc : pt;
                double ns = measure(run_pick, &c, iters);
                char name[64];
                snprintf(name, sizeof(name), "%s %s", k == 0 ? "pc" : "pt", label);
                printf("%-7zu %-26s %12.0f %12.0f %8.1f\n", ntok, name, ns, mc, ns / mc);
            }
        }
        printf("%-7zu %-26s %12.0f   (once per request, in the parser)\n", ntok,
               "hash prompt xxhash_cbor", hash_ns);
        printf("%-7zu %-26s %12.0f   (--prefix-hash-algo sha256_cbor)\n", ntok,
               "hash prompt sha256_cbor", sha_ns);
        free(tok);
        free(keys);
        free(dst);
    }
    gw_strategy_prefix_cache.destroy(pc);
    gw_strategy_predicted_ttft.destroy(pt);
    gw_prefix_destroy(idx);
    return 0;
}
