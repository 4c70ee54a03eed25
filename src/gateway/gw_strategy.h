/* gw_strategy: the routing-strategy plug-in point. Each strategy lives in
 * src/gateway/strategies/<name>.c and exports one `const gw_strategy`; the
 * table in gw_strategies.c lists them, so adding a strategy is adding a file
 * and one line there.
 *
 * The router calls pick() with the candidate engines (ready, serving the
 * model, breaker allowing) in a stable order (by address). A strategy
 * returns an index into cands, or -1 when its signals are missing or stale;
 * the router then applies the strategy's documented fallback (fallback
 * names another strategy, NULL = random). After a pick, on_routed() lets it
 * record state (prefix index insert, fairness counters); on_done() reports
 * the outcome (usage, observed TTFT).
 *
 * State: create() returns the strategy's own state (NULL allowed), owned by
 * the router and released with destroy(). Settings: a strategy with knobs
 * keeps them in its state, defaults set by create(), and parses them itself
 * in configure() (key and value strings, as a flag or a YAML scalar gives
 * them, after create and before the first pick; gw_router_configure), so a
 * configurable strategy is its one file and its line in gw_strategies.c.
 * A strategy that declares
 * needs_prefix_index gets the router's prefix index in create(): borrowed,
 * it outlives the state, and every strategy that declares it shares the one
 * index (prefix-cache records, predicted-ttft reads the same blocks); the
 * others get NULL. Threads: the router's caller serializes every call on a
 * router (the gateway holds its registry lock), so a strategy and the index
 * it was lent are never used by two threads at once; they must not block
 * and should not allocate per request in steady state. */
#ifndef GW_STRATEGY_H
#define GW_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/gw_engine.h"
#include "gateway/gw_prefix.h"

/* What a strategy may look at for one request. */
typedef struct gw_route_req {
    const char *model;
    const char *user;        /* OpenAI `user` field or `user` header; NULL */
    const char *session_id;  /* x-session-id header; NULL */
    const char *session_key; /* x-aibrix-session-key header; NULL */
    const uint32_t *tokens;  /* the prompt as the engine tokenizes it (bx_tok) */
    size_t ntokens;
    const uint64_t *block_keys; /* vLLM block hashes of the full blocks (bx_blockhash) */
    size_t nblocks;
    int32_t max_tokens; /* requested output, -1 unknown */
    uint64_t now_ms;    /* loop time */
    uint64_t rnd;       /* per-request random bits */
} gw_route_req;

/* What came back, for on_done. */
typedef struct gw_route_result {
    int status;                               /* HTTP status from the engine, 0 when none */
    int32_t prompt_tokens, completion_tokens; /* -1 unknown */
    double ttft_s;                            /* first byte of the answer, -1 unknown */
    double e2e_s;
} gw_route_result;

/* The gateway-wide settings the router is made with and hands every
 * strategy's create(). A strategy's own knobs are not here: configure(). */
typedef struct gw_strategy_cfg {
    size_t prefix_max_bytes; /* hard memory bound of the router's prefix index */
    int block_size;          /* tokens per block (engine's, default 16) */
    /* the GPU optimizer's assignments (gw_hetero.h), read by the slo
     * strategies; borrowed, outlives the router; NULL: none (they route as
     * least-request) */
    struct gw_hetero *hetero;
} gw_strategy_cfg;

void gw_strategy_cfg_default(gw_strategy_cfg *c);

typedef struct gw_strategy {
    const char *name;       /* the routing-strategy header value */
    const char *fallback;   /* strategy used when pick returns -1; NULL = random */
    int needs_tokens;       /* reads r->tokens / r->ntokens: the proxy tokenizes only then */
    int needs_blocks;       /* reads r->block_keys (implies tokens): hashed only then */
    int sets_session_id;    /* answers carry x-session-id (base64 of the engine's address) */
    int needs_prefix_index; /* create() gets the router's prefix index (else NULL) */
    void *(*create)(const gw_strategy_cfg *cfg, gw_prefix *idx);
    void (*destroy)(void *st);
    /* Sets one of the strategy's own settings (names in its file's
     * comment): 0, or -1 with a message in err (unknown key, bad value;
     * the state keeps its previous value). NULL: it has none. */
    int (*configure)(void *st, const char *key, const char *value, char *err, size_t errlen);
    /* An index into cands, -1 (declined: the fallback picks) or
     * GW_PICK_HOLD (below). */
    int (*pick)(void *st, const gw_route_req *r, gw_engine *const *cands, int n);
    void (*on_routed)(void *st, const gw_route_req *r, gw_engine *e); /* may be NULL */
    void (*on_done)(void *st, const gw_route_req *r, gw_engine *e,
                    const gw_route_result *res); /* may be NULL */
    /* memory the state holds now (for gateway metrics); may be NULL */
    size_t (*mem_bytes)(void *st);
    /* For weighted multi-strategy routing (AIBrix's ScoreAll/Polarity): a
     * raw score per candidate in out[0..n) (NaN: not scored, missing
     * signals) and the polarity, GW_SCORE_LOWER or GW_SCORE_HIGHER; -1 when
     * nothing can be scored. NULL: the strategy cannot be combined. */
    int (*score)(void *st, const gw_route_req *r, gw_engine *const *cands, int n, double *out);
} gw_strategy;

enum { GW_SCORE_LOWER = 0, GW_SCORE_HIGHER = 1 };

/* pick()'s answer when the request must wait in the gateway (the pulling
 * slo strategies: every engine it may use is saturated). The router then
 * returns NULL (no fallback, no on_routed); the proxy holds the request in
 * its queue and asks again when a request ends and on the hold timer's
 * tick, until gw_queue_verdict says otherwise. */
#define GW_PICK_HOLD (-2)
/* For a request a strategy holds: wait (GW_QUEUE_WAIT), or answer 429 as
 * the queue is full (GW_QUEUE_FULL: not held yet and queued others of its
 * model wait already, queued >= max_queue) or its wait is over
 * (GW_QUEUE_TIMEOUT: held, now_ms >= until_ms). */
enum { GW_QUEUE_WAIT = 0, GW_QUEUE_FULL, GW_QUEUE_TIMEOUT };
int gw_queue_verdict(int held, uint64_t until_ms, uint64_t now_ms, int queued, int max_queue);

/* A routing-strategy value: one name, or AIBrix's weighted list
 * `name[:w],name[:w],...` (w an integer in [0, 1000000], omitted = 1; a 0
 * drops the entry; every entry of a list of two or more must have score();
 * `pd` or a name starting with `slo` wins alone, the first such). Names
 * are a strategy's or an alias's (gw_strategy_alias_all). The strategies
 * point into the static table. */
#define GW_PLAN_MAX 8
#define GW_PLAN_SPEC_MAX 192
typedef struct gw_strategy_plan {
    int n;
    const gw_strategy *s[GW_PLAN_MAX];
    uint32_t w[GW_PLAN_MAX];
    int needs_tokens, needs_blocks, sets_session_id; /* any entry's */
    /* what was requested, canonical: the names as asked (aliases kept),
     * ":w" where w != 1, joined by ',' (the routing-strategy answer header) */
    char spec[GW_PLAN_SPEC_MAX];
} gw_strategy_plan;
/* 0, or -1 with "incorrect routing strategy ..." (AIBrix's message) or
 * why in err. */
int gw_strategy_plan_parse(const char *spec, gw_strategy_plan *p, char *err, size_t errlen);

/* AIBrix's names brix serves with another implementation (gw_strategies.c):
 * the request is routed by `target`; the documented reason is `why`. */
typedef struct gw_strategy_alias {
    const char *name, *target, *why;
} gw_strategy_alias;
const gw_strategy_alias *gw_strategy_alias_all(void); /* ends with name NULL */
/* A strategy by its name or an alias's; NULL when unknown. */
const gw_strategy *gw_strategy_resolve(const char *name);

/* The table of every strategy (gw_strategies.c), NULL-terminated. */
const gw_strategy *const *gw_strategy_all(void);
const gw_strategy *gw_strategy_find(const char *name);

/* Helpers shared by strategies. */
/* Uniform index in [0, n) from r->rnd mixed with salt. */
int gw_rand_index(const gw_route_req *r, uint64_t salt, int n);
/* Index of the minimum of score[i] (NaN skipped); ties broken uniformly at
 * random with r->rnd. -1 when every score is NaN. */
int gw_pick_min(const gw_route_req *r, const double *score, int n);
/* Index of the maximum of score[i] (NaN skipped), ties within 1e-9 broken
 * uniformly at random. -1 when every score is NaN. */
int gw_pick_max(const gw_route_req *r, const double *score, int n);
/* For configure(): value as a finite number in [lo, hi], the whole string.
 * 0, or -1 with "<strategy>: <key> must be a number in [lo, hi]" in err. */
int gw_strategy_number(const char *strategy, const char *key, const char *value, double lo,
                       double hi, double *out, char *err, size_t errlen);
/* For configure(): the message for a key the strategy does not know. -1. */
int gw_strategy_unknown_setting(const char *strategy, const char *key, char *err, size_t errlen);

#endif
