/* vtc-basic: windowed adaptive fairness routing (docs/gateway.md "Strategies", AIBrix
 * vtc/vtc_basic.go). A user's token usage over a sliding window is mapped
 * linearly onto a candidate index: light users land near index 0, heavy
 * users are pushed towards index n-1, so heavy users share a few engines
 * and light users keep the others responsive.
 *
 *   B   = max(min_tokens, (minT + maxT) / 2)   minT/maxT: smallest/largest
 *         windowed total over users with usage (cfg min/max when none)
 *   tau = min(T_user / B, n - 1)
 *   score_i = w_f * |i - tau| + w_u * min(running_i / max_pod_load, 1)
 *           + U[0, 0.1) from r->rnd;   minimum wins.
 *
 * Differences from AIBrix, on purpose:
 *  - Candidate order is the router's stable order (sorted by address), not
 *    a per-request shuffle, so "index" names the same engine from request
 *    to request and the mapping means what the design intends.
 *  - Input tokens are r->ntokens (the gateway tokenizes the prompt), not
 *    bytes/4; output = r->max_tokens when given, else ceil(1.5 * input).
 *    Usage is charged at routing time (as AIBrix) and the output estimate is
 *    corrected with the real completion_tokens when the request finishes.
 *  - The user table has a hard bound (GW_VTC_MAX_USERS); a new user beyond
 *    it evicts the least recently seen one. All memory is allocated in
 *    create(); routing allocates nothing.
 *  - minT/maxT are recomputed over all users at most once a second (and
 *    widened at once by every update), not rescanned per request.
 * A missing running metric counts as load 0 (as AIBrix). No user (or "")
 * -> -1: the router picks at random and nothing is tracked.
 *
 * Settings (configure; AIBrix's knobs and defaults, numbers >= 0):
 * window-s (300, > 0), input-weight (1), output-weight (2),
 * fairness-weight (1), util-weight (1), max-pod-load (100), min-tokens
 * (1000), max-tokens (8000). */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_oahash.h"
#include "common/bx_queue.h"
#include "common/bx_rand.h"
#include "gateway/gw_strategy.h"

#define GW_VTC_MAX_USERS 4096
#define GW_VTC_BUCKETS 16 /* the window is cut into this many time buckets */
#define GW_VTC_NAME_MAX 128
#define GW_VTC_MINMAX_REFRESH_MS 1000
#define GW_VTC_RAND_SPAN 0.1

typedef struct gw_vtc_user {
    uint64_t hash;              /* FNV-1a-64 of the full user string */
    char name[GW_VTC_NAME_MAX]; /* its first bytes (the hash covers the rest) */
    double tokens[GW_VTC_BUCKETS];
    uint64_t epoch[GW_VTC_BUCKETS]; /* time bucket (now_ms / width) a slot holds */
    bx_queue lru;                   /* in gw_vtc.lru */
} gw_vtc_user;

/* The settings (configure). */
typedef struct gw_vtc_cfg {
    double vtc_window_s;
    double vtc_input_weight, vtc_output_weight;
    double vtc_fairness_weight, vtc_util_weight;
    double vtc_max_pod_load;
    double vtc_min_tokens, vtc_max_tokens;
} gw_vtc_cfg;

static const struct {
    const char *key;
    size_t off;
    double lo;
} gw_vtc_keys[] = {
    {"window-s", offsetof(gw_vtc_cfg, vtc_window_s), 0.001},
    {"input-weight", offsetof(gw_vtc_cfg, vtc_input_weight), 0},
    {"output-weight", offsetof(gw_vtc_cfg, vtc_output_weight), 0},
    {"fairness-weight", offsetof(gw_vtc_cfg, vtc_fairness_weight), 0},
    {"util-weight", offsetof(gw_vtc_cfg, vtc_util_weight), 0},
    {"max-pod-load", offsetof(gw_vtc_cfg, vtc_max_pod_load), 0},
    {"min-tokens", offsetof(gw_vtc_cfg, vtc_min_tokens), 0},
    {"max-tokens", offsetof(gw_vtc_cfg, vtc_max_tokens), 0},
};

typedef struct gw_vtc {
    gw_vtc_cfg cfg;
    uint64_t width_ms; /* one bucket */
    int nusers;
    bx_queue lru; /* gw_vtc_user.lru, most recently seen first */
    int have_minmax;
    double min_t, max_t;
    uint64_t minmax_at_ms;
    bx_oaidx table; /* user indexes by name, <= 50 % full */
    gw_vtc_user users[GW_VTC_MAX_USERS];
} gw_vtc;

static uint64_t gw_vtc_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* One bucket's width from the window. */
static void gw_vtc_set_width(gw_vtc *v)
{
    v->width_ms = (uint64_t)(v->cfg.vtc_window_s * 1000.0 / GW_VTC_BUCKETS);
    if (v->width_ms == 0) v->width_ms = 1;
}

static void *gw_vtc_create(const gw_strategy_cfg *cfg, gw_prefix *idx)
{
    (void)cfg, (void)idx;
    gw_vtc *v = calloc(1, sizeof(*v));
    if (!v) return NULL;
    v->cfg = (gw_vtc_cfg){.vtc_window_s = 300,
                          .vtc_input_weight = 1.0,
                          .vtc_output_weight = 2.0,
                          .vtc_fairness_weight = 1.0,
                          .vtc_util_weight = 1.0,
                          .vtc_max_pod_load = 100,
                          .vtc_min_tokens = 1000,
                          .vtc_max_tokens = 8000};
    gw_vtc_set_width(v);
    bx_queue_init(&v->lru);
    if (bx_oaidx_init(&v->table, GW_VTC_MAX_USERS) != 0) {
        free(v);
        return NULL;
    }
    return v;
}

static void gw_vtc_destroy(void *st)
{
    gw_vtc *v = st;
    if (v) bx_oaidx_free(&v->table);
    free(v);
}

static int gw_vtc_configure(void *st, const char *key, const char *value, char *err, size_t errlen)
{
    gw_vtc *v = st;
    for (size_t i = 0; i < sizeof(gw_vtc_keys) / sizeof(gw_vtc_keys[0]); i++) {
        if (strcmp(key, gw_vtc_keys[i].key) != 0) continue;
        double x;
        if (gw_strategy_number("vtc-basic", key, value, gw_vtc_keys[i].lo, 1e15, &x, err, errlen) !=
            0)
            return -1;
        *(double *)((char *)&v->cfg + gw_vtc_keys[i].off) = x;
        gw_vtc_set_width(v);
        return 0;
    }
    return gw_strategy_unknown_setting("vtc-basic", key, err, errlen);
}

static size_t gw_vtc_mem_bytes(void *st)
{
    gw_vtc *v = st;
    return v ? sizeof(gw_vtc) + bx_oaidx_nslots(&v->table) * sizeof(*v->table.slots) : 0;
}

/* windowed total of u at now: the buckets of the last GW_VTC_BUCKETS epochs */
static double gw_vtc_total(const gw_vtc *v, const gw_vtc_user *u, uint64_t now_ms)
{
    uint64_t now_ep = now_ms / v->width_ms;
    double t = 0;
    for (int b = 0; b < GW_VTC_BUCKETS; b++)
        if (u->epoch[b] <= now_ep && u->epoch[b] + GW_VTC_BUCKETS > now_ep) t += u->tokens[b];
    return t;
}

static int gw_vtc_match(const gw_vtc_user *u, uint64_t h, const char *user)
{
    return user && u->hash == h && !strncmp(u->name, user, GW_VTC_NAME_MAX - 1);
}

/* The user table's callbacks: tab is &v->table. */
static size_t gw_vtc_home(const void *tab, size_t i)
{
    const gw_vtc *v = bx_container_of(tab, gw_vtc, table);
    return v->users[bx_oaidx_at(tab, i)].hash & v->table.mask;
}

typedef struct gw_vtc_key {
    uint64_t hash;
    const char *user;
} gw_vtc_key;

static int gw_vtc_slot_is_user(const void *tab, size_t i, const void *key)
{
    const gw_vtc *v = bx_container_of(tab, gw_vtc, table);
    const gw_vtc_key *k = key;
    return gw_vtc_match(&v->users[bx_oaidx_at(tab, i)], k->hash, k->user);
}

static int gw_vtc_slot_is_index(const void *tab, size_t i, const void *key)
{
    return bx_oaidx_at(tab, i) == *(const uint32_t *)key;
}

static const bx_oahash_ops gw_vtc_ops = {bx_oaidx_empty, gw_vtc_home, bx_oaidx_move, bx_oaidx_clear,
                                         0};

/* the user's entry, or -1; touch marks it most recently seen */
static int gw_vtc_find(gw_vtc *v, const char *user, int touch)
{
    gw_vtc_key k = {gw_vtc_hash(user), user};
    size_t p =
        bx_oaidx_find(&gw_vtc_ops, &v->table, k.hash & v->table.mask, gw_vtc_slot_is_user, &k);
    if (p == BX_OAHASH_NONE) return -1;
    int i = (int)bx_oaidx_at(&v->table, p);
    if (touch) {
        bx_queue_remove(&v->users[i].lru);
        bx_queue_insert_head(&v->lru, &v->users[i].lru);
    }
    return i;
}

/* finds or inserts user (evicting the least recently seen when full) */
static int gw_vtc_get(gw_vtc *v, const char *user)
{
    int i = gw_vtc_find(v, user, 1);
    if (i >= 0) return i;
    if (v->nusers < GW_VTC_MAX_USERS) {
        i = v->nusers++;
    } else {
        gw_vtc_user *old = bx_container_of(bx_queue_tail(&v->lru), gw_vtc_user, lru);
        bx_queue_remove(&old->lru);
        i = (int)(old - v->users);
        uint32_t idx = (uint32_t)i;
        size_t p = bx_oaidx_find(&gw_vtc_ops, &v->table, v->users[i].hash & v->table.mask,
                                 gw_vtc_slot_is_index, &idx);
        if (p != BX_OAHASH_NONE) bx_oaidx_del(&gw_vtc_ops, &v->table, p);
    }
    gw_vtc_user *u = &v->users[i];
    memset(u, 0, sizeof(*u));
    u->hash = gw_vtc_hash(user);
    strncpy(u->name, user, GW_VTC_NAME_MAX - 1);
    bx_oaidx_add(&gw_vtc_ops, &v->table, u->hash & v->table.mask, (uint32_t)i);
    bx_queue_insert_head(&v->lru, &u->lru);
    return i;
}

/* adds cost to u's bucket for now_ms (loop time never goes backwards) */
static void gw_vtc_charge(gw_vtc *v, gw_vtc_user *u, uint64_t now_ms, double cost)
{
    uint64_t ep = now_ms / v->width_ms;
    int b = (int)(ep % GW_VTC_BUCKETS);
    if (u->epoch[b] != ep) {
        if (u->epoch[b] > ep) return;
        u->epoch[b] = ep;
        u->tokens[b] = 0;
    }
    u->tokens[b] += cost;
}

static void gw_vtc_refresh_minmax(gw_vtc *v, uint64_t now_ms)
{
    if (v->minmax_at_ms && now_ms < v->minmax_at_ms + GW_VTC_MINMAX_REFRESH_MS) return;
    v->minmax_at_ms = now_ms ? now_ms : 1;
    v->have_minmax = 0;
    for (int i = 0; i < v->nusers; i++) {
        double t = gw_vtc_total(v, &v->users[i], now_ms);
        if (t <= 0) continue;
        if (!v->have_minmax) {
            v->min_t = v->max_t = t;
            v->have_minmax = 1;
        } else {
            v->min_t = fmin(v->min_t, t);
            v->max_t = fmax(v->max_t, t);
        }
    }
}

static double gw_vtc_out_estimate(const gw_route_req *r)
{
    if (r->max_tokens > 0) return (double)r->max_tokens;
    return ceil(1.5 * (double)r->ntokens);
}

/* The score of every candidate (lower is better; combined with others as
 * AIBrix's ScoreAll): -1 without a user. */
static int gw_vtc_score(void *st, const gw_route_req *r, gw_engine *const *cands, int n,
                        double *score)
{
    gw_vtc *v = st;
    if (!v || !r->user || !r->user[0] || n <= 0) return -1;
    if (n > GW_MAX_ENGINES) n = GW_MAX_ENGINES;
    gw_vtc_refresh_minmax(v, r->now_ms);
    int ui = gw_vtc_find(v, r->user, 0);
    double tu = ui >= 0 ? gw_vtc_total(v, &v->users[ui], r->now_ms) : 0;
    double min_t = v->have_minmax ? v->min_t : v->cfg.vtc_min_tokens;
    double max_t = v->have_minmax ? v->max_t : v->cfg.vtc_max_tokens;
    double bucket = fmax(v->cfg.vtc_min_tokens, (min_t + max_t) / 2);
    double tau = bucket > 0 ? tu / bucket : 0;
    if (tau > n - 1) tau = n - 1;
    for (int i = 0; i < n; i++) {
        double load = cands[i]->running;
        if (isnan(load) || load < 0) load = 0;
        double util = v->cfg.vtc_max_pod_load > 0 ? load / v->cfg.vtc_max_pod_load : 0;
        if (util > 1) util = 1;
        uint64_t bits = bx_mix64(r->rnd ^ bx_mix64(0x767463ULL + (uint64_t)i));
        double noise = (double)(bits >> 11) / 9007199254740992.0 * GW_VTC_RAND_SPAN;
        score[i] =
            v->cfg.vtc_fairness_weight * fabs(i - tau) + v->cfg.vtc_util_weight * util + noise;
    }
    return GW_SCORE_LOWER;
}

static int gw_vtc_pick(void *st, const gw_route_req *r, gw_engine *const *cands, int n)
{
    double score[GW_MAX_ENGINES];
    if (n > GW_MAX_ENGINES) n = GW_MAX_ENGINES;
    if (gw_vtc_score(st, r, cands, n, score) < 0) return -1;
    return gw_pick_min(r, score, n);
}

static void gw_vtc_on_routed(void *st, const gw_route_req *r, gw_engine *e)
{
    (void)e;
    gw_vtc *v = st;
    if (!v || !r->user || !r->user[0]) return;
    gw_vtc_user *u = &v->users[gw_vtc_get(v, r->user)];
    double in = (double)r->ntokens;
    double cost = in * v->cfg.vtc_input_weight + gw_vtc_out_estimate(r) * v->cfg.vtc_output_weight;
    gw_vtc_charge(v, u, r->now_ms, cost);
    double t = gw_vtc_total(v, u, r->now_ms);
    if (t <= 0) return;
    if (!v->have_minmax) {
        v->min_t = v->max_t = t;
        v->have_minmax = 1;
    } else {
        v->min_t = fmin(v->min_t, t);
        v->max_t = fmax(v->max_t, t);
    }
}

static void gw_vtc_on_done(void *st, const gw_route_req *r, gw_engine *e,
                           const gw_route_result *res)
{
    (void)e;
    gw_vtc *v = st;
    if (!v || !r->user || !r->user[0] || !res || res->completion_tokens < 0) return;
    int ui = gw_vtc_find(v, r->user, 0);
    if (ui < 0) return; /* evicted meanwhile */
    /* r->now_ms is the routing time: correct the bucket the estimate went
     * into, unless it has left the window since (its slot then holds a newer
     * epoch or the user was evicted and re-created) */
    gw_vtc_user *u = &v->users[ui];
    uint64_t ep = r->now_ms / v->width_ms;
    int b = (int)(ep % GW_VTC_BUCKETS);
    if (u->epoch[b] != ep) return;
    double delta =
        ((double)res->completion_tokens - gw_vtc_out_estimate(r)) * v->cfg.vtc_output_weight;
    u->tokens[b] += delta;
    if (u->tokens[b] < 0) u->tokens[b] = 0;
}

const gw_strategy gw_strategy_vtc_basic = {
    .name = "vtc-basic",
    .needs_tokens = 1,
    .create = gw_vtc_create,
    .destroy = gw_vtc_destroy,
    .configure = gw_vtc_configure,
    .pick = gw_vtc_pick,
    .score = gw_vtc_score,
    .on_routed = gw_vtc_on_routed,
    .on_done = gw_vtc_on_done,
    .mem_bytes = gw_vtc_mem_bytes,
};
