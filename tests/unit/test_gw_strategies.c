/* Unit tests of the metric- and counter-driven routing strategies
 * (src/gateway/strategies/) and of gw_session. Engine tables are built by
 * hand; every expected pick below is worked out in the comment next to it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/gw_router.h"
#include "gateway/gw_session.h"
#include "gateway/gw_strategy.h"

#define NE 6

typedef struct fx {
    gw_registry reg;
    gw_engine *c[NE]; /* candidates, sorted by address as the router gives them */
    int n;
} fx;

static void fx_init(fx *f, int n)
{
    assert_int_equal(gw_registry_init(&f->reg), 0);
    f->n = n;
    for (int i = 0; i < n; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "10.0.0.%d:8000", i + 1);
        gw_engine *e = gw_registry_add(&f->reg, addr);
        assert_non_null(e);
        snprintf(e->model, sizeof(e->model), "m");
        e->ready = 1;
        f->c[i] = e;
    }
}

static void fx_close(fx *f)
{
    gw_registry_close(&f->reg);
}

static gw_route_req req(uint64_t rnd)
{
    gw_route_req r;
    memset(&r, 0, sizeof(r));
    r.model = "m";
    r.max_tokens = -1;
    r.rnd = rnd;
    return r;
}

static const gw_strategy *strat(const char *name)
{
    const gw_strategy *s = gw_strategy_find(name);
    assert_non_null(s);
    assert_string_equal(s->name, name);
    return s;
}

static int pick(const gw_strategy *s, void *st, const fx *f, uint64_t rnd)
{
    gw_route_req r = req(rnd);
    return s->pick(st, &r, f->c, f->n);
}

/* Picks over 400 rnd values; counts per index into hist (n entries). */
static void spread(const gw_strategy *s, void *st, const fx *f, int *hist)
{
    memset(hist, 0, sizeof(int) * (size_t)f->n);
    for (uint64_t k = 0; k < 400; k++) {
        int i = pick(s, st, f, k * 0x9e3779b97f4a7c15ULL + 17);
        assert_true(i >= 0 && i < f->n);
        hist[i]++;
    }
}

/* ---------------------------------------------------------------- table */

static void test_table_order(void **state)
{
    (void)state;
    static const char *const want[] = {"random",          "least-request",    "throughput",
                                       "least-kv-cache",  "least-gpu-cache",  "least-latency",
                                       "least-busy-time", "session-affinity", "vtc-basic"};
    const gw_strategy *const *all = gw_strategy_all();
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_non_null(all[i]);
        assert_string_equal(all[i]->name, want[i]);
        assert_non_null(all[i]->pick);
        assert_null(all[i]->fallback); /* each falls back to random */
    }
}

/* ---------------------------------------------------------- least-request */

static void test_least_request(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 4);
    const gw_strategy *s = strat("least-request");
    int32_t infl[] = {3, 1, 2, 5}; /* min 1 at index 1 */
    for (int i = 0; i < 4; i++)
        f.c[i]->inflight = infl[i];
    for (uint64_t k = 0; k < 50; k++)
        assert_int_equal(pick(s, NULL, &f, k), 1);

    /* metrics are irrelevant: NaN everywhere still picks by inflight */
    f.c[1]->inflight = 4; /* now min 2 at index 2 */
    assert_int_equal(pick(s, NULL, &f, 7), 2);
    fx_close(&f);
}

static void test_least_request_ties_spread(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 5);
    const gw_strategy *s = strat("least-request");
    int32_t infl[] = {2, 0, 0, 4, 0}; /* tied minimum 0 at 1, 2, 4 */
    for (int i = 0; i < 5; i++)
        f.c[i]->inflight = infl[i];
    int h[NE];
    spread(s, NULL, &f, h);
    assert_int_equal(h[0], 0);
    assert_int_equal(h[3], 0);
    /* 400 picks over 3 tied engines: ~133 each */
    assert_true(h[1] > 80 && h[2] > 80 && h[4] > 80);
    fx_close(&f);
}

/* ------------------------------------------------------------- throughput */

static void test_throughput(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 4);
    const gw_strategy *s = strat("throughput");
    /* all missing -> -1 (router falls back to random) */
    assert_int_equal(pick(s, NULL, &f, 1), -1);

    /* scores 2p + g: 2*100+10 = 210, 2*50+20 = 120, 2*10+200 = 220, NaN */
    double p[] = {100, 50, 10, NAN}, g[] = {10, 20, 200, 1};
    for (int i = 0; i < 4; i++) {
        f.c[i]->avg_prompt_per_req = p[i];
        f.c[i]->avg_gen_per_req = g[i];
    }
    assert_int_equal(pick(s, NULL, &f, 1), 1);
    /* engine 3 gets a prompt average: 2*1 + 1 = 3 is now the minimum */
    f.c[3]->avg_prompt_per_req = 1;
    assert_int_equal(pick(s, NULL, &f, 2), 3);
    /* one term missing un-scores the engine: back to 1 (120) */
    f.c[3]->avg_gen_per_req = NAN;
    assert_int_equal(pick(s, NULL, &f, 3), 1);
    /* tie 120 = 2*40+40 at index 0: spread over 0 and 1 only */
    f.c[0]->avg_prompt_per_req = 40;
    f.c[0]->avg_gen_per_req = 40;
    int h[NE];
    spread(s, NULL, &f, h);
    assert_true(h[0] > 120 && h[1] > 120);
    assert_int_equal(h[0] + h[1], 400);
    fx_close(&f);
}

/* --------------------------------------------------------- least-kv-cache */

static void test_least_kv_cache(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3);
    const gw_strategy *s = strat("least-kv-cache");
    assert_int_equal(pick(s, NULL, &f, 1), -1);

    /* vLLM V1: no cpu metric; AIBrix would fall back to random here */
    f.c[0]->kv_usage = 0.5;
    f.c[1]->kv_usage = 0.2;
    f.c[2]->kv_usage = 0.3;
    for (uint64_t k = 0; k < 20; k++)
        assert_int_equal(pick(s, NULL, &f, k), 1);

    /* cpu term added where present: 0.5, 0.2+0.2 = 0.4, 0.3+0 = 0.3 */
    f.c[1]->cpu_cache_usage = 0.2;
    f.c[2]->cpu_cache_usage = 0.0;
    assert_int_equal(pick(s, NULL, &f, 5), 2);

    /* kv missing un-scores the engine even with a cpu value */
    f.c[2]->kv_usage = NAN;
    assert_int_equal(pick(s, NULL, &f, 5), 1); /* 0.5 vs 0.4 */

    /* tie 0.4 at index 0 and 1: both chosen */
    f.c[0]->kv_usage = 0.4;
    int h[NE];
    spread(s, NULL, &f, h);
    assert_true(h[0] > 120 && h[1] > 120);
    assert_int_equal(h[2], 0);
    fx_close(&f);
}

/* -------------------------------------------------------- least-gpu-cache */

static void test_least_gpu_cache(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3);
    const gw_strategy *s = strat("least-gpu-cache");
    assert_int_equal(pick(s, NULL, &f, 1), -1);

    f.c[0]->gpu_cache_usage = 0.7;
    f.c[1]->gpu_cache_usage = 0.1;
    assert_int_equal(pick(s, NULL, &f, 1), 1); /* 0.7, 0.1, unscored */

    /* gpu gauge preferred over kv where both exist */
    f.c[1]->kv_usage = 0.9;
    assert_int_equal(pick(s, NULL, &f, 1), 1);

    /* engine 2 exports only the new name: ranked by kv_usage 0.05 */
    f.c[2]->kv_usage = 0.05;
    assert_int_equal(pick(s, NULL, &f, 1), 2);
    fx_close(&f);
}

/* ---------------------------------------------------------- least-latency */

static void set_lat(gw_engine *e, double q, double pf, double dc, double ap, double ag)
{
    e->queue_mean_s = q;
    e->prefill_mean_s = pf;
    e->decode_mean_s = dc;
    e->avg_prompt_per_req = ap;
    e->avg_gen_per_req = ag;
}

static void test_least_latency(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 4);
    const gw_strategy *s = strat("least-latency");
    assert_int_equal(pick(s, NULL, &f, 1), -1);

    /* guessP = (100+100+400)/3 = 200, guessG = (200+100+300)/3 = 200
     * e0: 0.5 + 0.2/100*200 + 2.0/200*200 = 0.5 + 0.4  + 2 = 2.9
     * e1: 0.0 + 0.4/100*200 + 1.0/100*200 = 0   + 0.8  + 2 = 2.8
     * e2: 0.1 + 0.1/400*200 + 3.0/300*200 = 0.1 + 0.05 + 2 = 2.15
     * e3: missing everything: unscored */
    set_lat(f.c[0], 0.5, 0.2, 2.0, 100, 200);
    set_lat(f.c[1], 0.0, 0.4, 1.0, 100, 100);
    set_lat(f.c[2], 0.1, 0.1, 3.0, 400, 300);
    assert_int_equal(pick(s, NULL, &f, 1), 2);

    /* the queue term counts (AIBrix's is always 0 and would keep e2 at
     * 2.05): e2 queue 1.0 -> 3.05, so e1 (2.8) wins */
    f.c[2]->queue_mean_s = 1.0;
    assert_int_equal(pick(s, NULL, &f, 1), 1);

    /* one missing metric un-scores e1: e0 2.9 < e2 3.05 */
    f.c[1]->decode_mean_s = NAN;
    assert_int_equal(pick(s, NULL, &f, 1), 0);

    /* a fresh engine (no tokens served, averages 0) scores its queue only
     * and is excluded from the guesses: e3 = 0.01 wins */
    set_lat(f.c[3], 0.01, 0, 0, 0, 0);
    assert_int_equal(pick(s, NULL, &f, 1), 3);
    fx_close(&f);
}

/* -------------------------------------------------------- least-busy-time */

static void test_least_busy_time(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 4);
    const gw_strategy *s = strat("least-busy-time");
    assert_int_equal(pick(s, NULL, &f, 1), -1);

    /* e0 busy 0.6; e1 running 0 -> 0/(1+0) = 0; e2 busy 0.3 (preferred
     * over running 5); e3 running 1 + waiting 1 -> 2/3 */
    f.c[0]->busy_ratio = 0.6;
    f.c[1]->running = 0;
    f.c[2]->busy_ratio = 0.3;
    f.c[2]->running = 5;
    f.c[3]->running = 1;
    f.c[3]->waiting = 1;
    assert_int_equal(pick(s, NULL, &f, 1), 1);

    /* e1 running 3 -> 0.75: min is e2 0.3 */
    f.c[1]->running = 3;
    assert_int_equal(pick(s, NULL, &f, 1), 2);

    /* proxy only: e0 L=4 -> 0.8, e1 L=2+3=5 -> 0.833, e2 L=6 -> 0.857,
     * e3 L=2 -> 0.667 (waiting missing counts 0 on e2) */
    f.c[0]->busy_ratio = NAN;
    f.c[0]->running = 4;
    f.c[1]->running = 2;
    f.c[1]->waiting = 3;
    f.c[2]->busy_ratio = NAN;
    f.c[2]->running = 6;
    assert_int_equal(pick(s, NULL, &f, 1), 3);
    /* e3 unscored: e0 0.8 */
    f.c[3]->running = NAN;
    assert_int_equal(pick(s, NULL, &f, 1), 0);
    fx_close(&f);
}

/* ------------------------------------------------------------- gw_session */

static void test_session_codec(void **state)
{
    (void)state;
    gw_registry reg;
    assert_int_equal(gw_registry_init(&reg), 0);
    gw_engine *e = gw_registry_add(&reg, "10.0.0.2:8000");
    gw_engine *v6 = gw_registry_add(&reg, "[::1]:8000");
    gw_engine *a = gw_registry_add(&reg, "a:1");
    assert_non_null(e);
    assert_non_null(v6);
    assert_non_null(a);

    char id[GW_SESSION_ID_MAX], addr[GW_NAME_MAX];
    assert_int_equal(gw_session_id_encode(e, id, sizeof(id)), 20);
    assert_string_equal(id, "MTAuMC4wLjI6ODAwMA==");
    assert_int_equal(gw_session_id_encode(v6, id, sizeof(id)), 16);
    assert_string_equal(id, "Wzo6MV06ODAwMA==");
    assert_int_equal(gw_session_id_encode(a, id, sizeof(id)), 4);
    assert_string_equal(id, "YTox");
    assert_int_equal(gw_session_id_encode(a, id, 4), -1); /* no room for the NUL */

    /* round trip */
    gw_engine *all[] = {e, v6, a};
    for (int i = 0; i < 3; i++) {
        int n = gw_session_id_encode(all[i], id, sizeof(id));
        assert_true(n > 0);
        assert_int_equal(gw_session_id_decode(id, (size_t)n, addr, sizeof(addr)),
                         (int)strlen(all[i]->addr));
        assert_string_equal(addr, all[i]->addr);
    }
    /* unpadded and URL-safe forms decode too */
    assert_int_equal(gw_session_id_decode("MTAuMC4wLjI6ODAwMA", 18, addr, sizeof(addr)), 13);
    assert_string_equal(addr, "10.0.0.2:8000");
    assert_int_equal(gw_session_id_decode("Pz8-", 4, addr, sizeof(addr)), 3); /* "?" "?>" */
    assert_string_equal(addr, "?"
                              "?>");
    /* rejects */
    assert_int_equal(gw_session_id_decode("YTo*", 4, addr, sizeof(addr)), -1);  /* bad char */
    assert_int_equal(gw_session_id_decode("YTox0", 5, addr, sizeof(addr)), -1); /* 1 extra char */
    assert_int_equal(gw_session_id_decode("YQ=", 3, addr, sizeof(addr)), -1);   /* short pad */
    assert_int_equal(gw_session_id_decode("YR==", 4, addr, sizeof(addr)), -1);  /* stray bits */
    assert_int_equal(gw_session_id_decode("AAAA", 4, addr, sizeof(addr)), -1);  /* NUL bytes */
    assert_int_equal(gw_session_id_decode("YTox", 4, addr, 3), -1);             /* too small */
    assert_int_equal(gw_session_id_decode("YTox", 4, addr, 4), 3);

    /* FNV-1a-64: empty key, separator, empty address = FNV of one 0 byte */
    assert_true(gw_session_rendezvous("", 0, "") == 0xaf63bd4c8601b7dfULL);
    assert_true(gw_session_rendezvous("k", 1, "a:1") == 0xb58f57a5648d05acULL);
    gw_registry_close(&reg);
}

/* ------------------------------------------------------- session-affinity */

static int pick_sess(const gw_strategy *s, const fx *f, const char *sid, const char *key,
                     uint64_t rnd)
{
    gw_route_req r = req(rnd);
    r.session_id = sid;
    r.session_key = key;
    return s->pick(NULL, &r, f->c, f->n);
}

static void test_session_affinity_id(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 5);
    const gw_strategy *s = strat("session-affinity");
    assert_int_equal(pick_sess(s, &f, NULL, NULL, 1), -1); /* nothing: random */
    assert_int_equal(pick_sess(s, &f, "", "", 1), -1);

    char id[GW_SESSION_ID_MAX];
    assert_true(gw_session_id_encode(f.c[3], id, sizeof(id)) > 0);
    for (uint64_t k = 0; k < 20; k++)
        assert_int_equal(pick_sess(s, &f, id, "session-abc", k), 3); /* id beats key */

    /* an id for an engine that is not a candidate: the key decides
     * ("session-abc" -> index 1, see below); without key: -1 */
    /* "MTAuMC4wLjk6ODAwMA==" is base64("10.0.0.9:8000") */
    assert_int_equal(pick_sess(s, &f, "MTAuMC4wLjk6ODAwMA==", "session-abc", 1), 1);
    assert_int_equal(pick_sess(s, &f, "MTAuMC4wLjk6ODAwMA==", NULL, 1), -1);
    /* garbage id: same */
    assert_int_equal(pick_sess(s, &f, "%%%not base64", NULL, 1), -1);
    fx_close(&f);
}

static void test_session_affinity_rendezvous(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 5);
    const gw_strategy *s = strat("session-affinity");
    /* FNV-1a-64(key 0 "10.0.0.i:8000") for i = 1..5, worked out offline:
     * "user-42":     a79103045a42a779 0634f8190387dc7e 5b8854f24385800b
     *                bfe5c8e6bf2ae068 5168be07e948ff4d -> index 3, then 0
     * "session-abc": 684ec35d8798ef74 b5f87a5e7c15ef6b 0e8732c6593e675e
     *                a92e679f3cb6ddad 195e727e140a5348 -> index 1, then 3 */
    for (uint64_t k = 0; k < 20; k++) {
        assert_int_equal(pick_sess(s, &f, NULL, "user-42", k), 3);
        assert_int_equal(pick_sess(s, &f, NULL, "session-abc", k), 1);
        assert_int_equal(pick_sess(s, &f, NULL, "chat-7", k), 3);
    }

    /* removing engines the key does not own does not move it */
    gw_engine *keep[NE];
    memcpy(keep, f.c, sizeof(keep));
    f.c[0] = keep[1];
    f.c[1] = keep[2];
    f.c[2] = keep[4]; /* drop 10.0.0.1 and 10.0.0.4 */
    f.n = 3;
    assert_string_equal(f.c[pick_sess(s, &f, NULL, "session-abc", 1)]->addr, "10.0.0.2:8000");
    /* removing the owner moves the key to its runner-up (index 0 of the
     * original list for user-42) */
    f.c[0] = keep[0];
    f.c[1] = keep[1];
    f.c[2] = keep[2];
    f.c[3] = keep[4];
    f.n = 4;
    assert_string_equal(f.c[pick_sess(s, &f, NULL, "user-42", 1)]->addr, "10.0.0.1:8000");

    /* over-long key: ignored */
    char big[GW_SESSION_KEY_MAX + 2];
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(pick_sess(s, &f, NULL, big, 1), -1);
    big[GW_SESSION_KEY_MAX] = '\0'; /* exactly the limit: honoured */
    assert_true(pick_sess(s, &f, NULL, big, 1) >= 0);
    fx_close(&f);
}

/* -------------------------------------------------------------- vtc-basic */

typedef struct vtc_fx {
    fx f;
    const gw_strategy *s;
    void *st;
    gw_strategy_cfg cfg;
} vtc_fx;

static void vtc_init(vtc_fx *v, int n)
{
    fx_init(&v->f, n);
    v->s = strat("vtc-basic");
    gw_strategy_cfg_default(&v->cfg);
    v->st = v->s->create(&v->cfg, NULL);
    assert_non_null(v->st);
}

static void vtc_close(vtc_fx *v)
{
    v->s->destroy(v->st);
    fx_close(&v->f);
}

static int vtc_pick(vtc_fx *v, const char *user, uint64_t now, uint64_t rnd)
{
    gw_route_req r = req(rnd);
    r.user = user;
    r.now_ms = now;
    return v->s->pick(v->st, &r, v->f.c, v->f.n);
}

/* charges user with in*1 + out*2 (out = max_tokens, or ceil(1.5*in) when -1) */
static void vtc_route(vtc_fx *v, const char *user, size_t in, int32_t max_tokens, uint64_t now)
{
    gw_route_req r = req(0);
    r.user = user;
    r.ntokens = in;
    r.max_tokens = max_tokens;
    r.now_ms = now;
    v->s->on_routed(v->st, &r, v->f.c[0]);
}

static void test_vtc_no_user(void **state)
{
    (void)state;
    vtc_fx v;
    vtc_init(&v, 4);
    assert_int_equal(vtc_pick(&v, NULL, 1000, 1), -1);
    assert_int_equal(vtc_pick(&v, "", 1000, 1), -1);
    /* untracked user, empty tracker: tau = 0, score_i = i + noise < i + 0.1 */
    for (uint64_t k = 0; k < 50; k++)
        assert_int_equal(vtc_pick(&v, "new", 1000, k), 0);
    assert_true(v.s->mem_bytes(v.st) > 0);
    vtc_close(&v);
}

static void test_vtc_fairness(void **state)
{
    (void)state;
    vtc_fx v;
    vtc_init(&v, 4);
    uint64_t t = 10000;
    /* heavy: 2000 + 2*1000 = 4000; light: 200 + 2*100 = 400 */
    vtc_route(&v, "heavy", 2000, 1000, t);
    vtc_route(&v, "light", 200, 100, t);
    /* min 400, max 4000: B = max(1000, 2200) = 2200
     * heavy tau = 4000/2200 = 1.82 -> index 2; light tau = 0.18 -> index 0 */
    for (uint64_t k = 0; k < 50; k++) {
        assert_int_equal(vtc_pick(&v, "heavy", t, k), 2);
        assert_int_equal(vtc_pick(&v, "light", t, k), 0);
    }
    /* heavy doubles (8000): B = 4200, tau = 1.90 -> still 2; a medium user
     * at 2000 + 2*1000 = 4000: tau = 0.95 -> index 1 */
    vtc_route(&v, "heavy", 2000, 1000, t);
    vtc_route(&v, "medium", 2000, 1000, t);
    assert_int_equal(vtc_pick(&v, "heavy", t, 3), 2);
    assert_int_equal(vtc_pick(&v, "medium", t, 3), 1);
    assert_int_equal(vtc_pick(&v, "light", t, 3), 0);

    /* utilisation: engine 2 saturated (running >= 100 -> u = 1); heavy's
     * scores: e1 |1-1.905| = 0.905, e2 0.095 + 1 = 1.095 -> index 1 */
    v.f.c[2]->running = 150;
    assert_int_equal(vtc_pick(&v, "heavy", t, 3), 1);
    v.f.c[2]->running = NAN; /* missing load counts 0 */
    assert_int_equal(vtc_pick(&v, "heavy", t, 3), 2);

    /* the window (300 s) passes: everyone's usage expires; after the 1 s
     * min/max refresh the tracker is empty and heavy maps to index 0 */
    t += 301000;
    assert_int_equal(vtc_pick(&v, "heavy", t, 3), 0);
    vtc_close(&v);
}

static void test_vtc_ties_spread(void **state)
{
    (void)state;
    vtc_fx v;
    vtc_init(&v, 4);
    /* one user at 100 + 2*200 = 500: min = max = 500, B = 1000, tau = 0.5:
     * engines 0 and 1 tie at 0.5 and the random term decides */
    vtc_route(&v, "u", 100, 200, 5000);
    int h[NE] = {0};
    for (uint64_t k = 0; k < 400; k++) {
        int i = vtc_pick(&v, "u", 5000, k * 0x9e3779b97f4a7c15ULL + 1);
        assert_true(i == 0 || i == 1);
        h[i]++;
    }
    assert_true(h[0] > 120 && h[1] > 120);
    vtc_close(&v);
}

static void test_vtc_output_estimate_and_correction(void **state)
{
    (void)state;
    vtc_fx v;
    vtc_init(&v, 4);
    uint64_t t = 20000;
    /* max_tokens unknown: out = ceil(1.5 * 101) = 152 -> 101 + 304 = 405;
     * tau = 405/1000 -> index 0 */
    vtc_route(&v, "x", 101, -1, t);
    assert_int_equal(vtc_pick(&v, "x", t, 1), 0);

    /* it produced 950 tokens: + (950 - 152) * 2 = 1596 -> 2001; after the
     * min/max refresh, min = max = 2001, B = 2001, tau = 1 -> index 1 */
    gw_route_req r = req(0);
    r.user = "x";
    r.ntokens = 101;
    r.max_tokens = -1;
    r.now_ms = t;
    gw_route_result res = {.status = 200, .prompt_tokens = 101, .completion_tokens = 950};
    v.s->on_done(v.st, &r, v.f.c[0], &res);
    assert_int_equal(vtc_pick(&v, "x", t + 1000, 1), 1);

    /* unknown completion: no change */
    res.completion_tokens = -1;
    v.s->on_done(v.st, &r, v.f.c[0], &res);
    assert_int_equal(vtc_pick(&v, "x", t + 2000, 1), 1);
    vtc_close(&v);
}

static void test_vtc_user_bound(void **state)
{
    (void)state;
    vtc_fx v;
    vtc_init(&v, 4);
    size_t mem = v.s->mem_bytes(v.st);
    uint64_t t = 1000;
    char name[32];
    /* heavy alone has usage (4000): tau = 4000/4000 = 1 -> index 1.
     * Many zero-cost users (ntokens 0 -> cost 0) fill and churn the table
     * (bound 4096, least recently seen evicted); heavy is touched every
     * 1000 new users (cost 0) and must survive three table turnovers. */
    vtc_route(&v, "heavy", 2000, 1000, t);
    assert_int_equal(vtc_pick(&v, "heavy", t, 1), 1);
    for (int i = 0; i < 3 * 4096; i++) {
        snprintf(name, sizeof(name), "u%d", i);
        vtc_route(&v, name, 0, -1, t);
        if (i % 1000 == 999) vtc_route(&v, "heavy", 0, -1, t);
    }
    assert_int_equal(v.s->mem_bytes(v.st), mem); /* no growth */
    assert_int_equal(vtc_pick(&v, "heavy", t + 1000, 1), 1);

    /* not touched for 4096 new users: heavy is evicted, its usage gone */
    for (int i = 0; i < 4096; i++) {
        snprintf(name, sizeof(name), "w%d", i);
        vtc_route(&v, name, 0, -1, t);
    }
    assert_int_equal(vtc_pick(&v, "heavy", t + 2000, 1), 0);
    vtc_close(&v);
}

/* --------------------------------------------------------- settings */

static void refuse(gw_router *r, const char *strategy, const char *key, const char *value,
                   const char *want)
{
    char err[160] = "";
    assert_int_equal(gw_router_configure(r, strategy, key, value, err, sizeof(err)), -1);
    if (!strstr(err, want)) fail_msg("'%s' lacks '%s'", err, want);
}

/* vtc-basic charges user (in + 2 * out) through the router at now */
static gw_engine *vtc_charge(gw_router *r, const fx *f, const char *user, size_t in, int32_t out,
                             uint64_t now, uint64_t rnd)
{
    gw_route_req q = req(rnd);
    q.user = user;
    q.ntokens = in;
    q.max_tokens = out;
    q.now_ms = now;
    return gw_router_pick(r, gw_router_strategy(r, "vtc-basic"), &q, f->c, f->n, NULL);
}

/* Each strategy parses its own settings (its configure(), reached by name
 * through the router): a value takes effect, a bad one is refused with a
 * message naming the strategy and the key. */
static void test_strategy_settings(void **state)
{
    (void)state;
    gw_strategy_cfg cfg;
    gw_strategy_cfg_default(&cfg);
    cfg.prefix_max_bytes = 1 << 20;
    gw_router r;
    assert_int_equal(gw_router_init(&r, &cfg, NULL), 0);
    char err[160];
    assert_int_equal(gw_router_configure(&r, "prefix-cache", "imbalance-abs", "3", err, 160), 0);
    assert_int_equal(gw_router_configure(&r, "prefix-cache", "stddev-factor", "0.5", err, 160), 0);
    assert_int_equal(gw_router_configure(&r, "vtc-basic", "window-s", "1.6", err, 160), 0);
    refuse(&r, "prefix-cache", "imbalance-abs", "2.5",
           "prefix-cache: imbalance-abs must be an integer");
    refuse(&r, "prefix-cache", "imbalance-abs", "-1",
           "prefix-cache: imbalance-abs must be a number");
    refuse(&r, "prefix-cache", "stddev-factor", "1x",
           "prefix-cache: stddev-factor must be a number");
    refuse(&r, "prefix-cache", "stddev-factor", "", "stddev-factor must be a number");
    refuse(&r, "prefix-cache", "stddev-factor", "nan", "stddev-factor must be a number");
    refuse(&r, "vtc-basic", "window-s", "0", "vtc-basic: window-s must be a number");
    refuse(&r, "vtc-basic", "window", "1", "vtc-basic: unknown setting 'window'");
    refuse(&r, "least-request", "x", "1", "routing strategy 'least-request' has no settings");
    refuse(&r, "nope", "x", "1", "unknown routing strategy 'nope'");

    /* the 1.6 s window took effect: heavy (4000) and light (400) map to
     * engines 2 and 0 (as in test_vtc_fairness), and 2 s later (window gone,
     * min/max refreshed) heavy's usage has expired: index 0 */
    fx f;
    fx_init(&f, 4);
    uint64_t t = 10000;
    vtc_charge(&r, &f, "heavy", 2000, 1000, t, 1);
    vtc_charge(&r, &f, "light", 200, 100, t, 1);
    assert_ptr_equal(vtc_charge(&r, &f, "heavy", 0, 0, t, 3), f.c[2]);
    t += 2000;
    assert_ptr_equal(vtc_charge(&r, &f, "heavy", 0, 0, t, 3), f.c[0]);
    fx_close(&f);
    gw_router_close(&r);
}

/* --------------------------------------------------- AIBrix's names and lists */

/* Every strategy name AIBrix registers (its algorithms' init()) is
 * accepted: brix's own, or an alias routed by a documented equivalent. */
static void test_every_aibrix_name(void **state)
{
    (void)state;
    static const char *const aibrix[] = {"random",
                                         "least-request",
                                         "throughput",
                                         "least-kv-cache",
                                         "least-gpu-cache",
                                         "least-latency",
                                         "least-busy-time",
                                         "least-utilization",
                                         "power-of-two",
                                         "prefix-cache",
                                         "prefix-cache-preble",
                                         "vtc-basic",
                                         "session-affinity",
                                         "pd",
                                         "slo",
                                         "slo-pack-load",
                                         "slo-least-load",
                                         "slo-least-load-pulling"};
    for (size_t i = 0; i < sizeof(aibrix) / sizeof(aibrix[0]); i++) {
        gw_strategy_plan p;
        char err[256] = "";
        if (gw_strategy_plan_parse(aibrix[i], &p, err, sizeof(err)) != 0)
            fail_msg("'%s' refused: %s", aibrix[i], err);
        assert_int_equal(p.n, 1);
        assert_string_equal(p.spec, aibrix[i]); /* the answer says what was asked */
        assert_non_null(gw_strategy_resolve(aibrix[i]));
    }
    assert_string_equal(gw_strategy_resolve("pd")->name, "pd"); /* its own since gw_pd */
    assert_string_equal(gw_strategy_resolve("pd")->fallback, "least-request");
    assert_string_equal(gw_strategy_resolve("slo-pack-load")->name, "slo-pack-load");
    assert_string_equal(gw_strategy_resolve("slo")->fallback, "least-request");
    assert_string_equal(gw_strategy_resolve("prefix-cache-preble")->name, "prefix-cache");
    assert_string_equal(gw_strategy_resolve("least-utilization")->name, "least-busy-time");
    assert_null(gw_strategy_resolve("least-load")); /* AIBrix has none either */
    assert_null(gw_strategy_resolve("prefix-aware"));
}

static void plan_ok(const char *spec, int n, const char *canon)
{
    gw_strategy_plan p;
    char err[256] = "";
    if (gw_strategy_plan_parse(spec, &p, err, sizeof(err)) != 0)
        fail_msg("'%s' refused: %s", spec, err);
    assert_int_equal(p.n, n);
    assert_string_equal(p.spec, canon);
}

static void plan_bad(const char *spec, const char *want)
{
    gw_strategy_plan p;
    char err[256] = "";
    assert_int_equal(gw_strategy_plan_parse(spec, &p, err, sizeof(err)), -1);
    if (!strstr(err, want)) fail_msg("'%s': '%s' lacks '%s'", spec, err, want);
}

/* AIBrix's ParseMultiRouterConfig: name[:w] items, w an integer in
 * [0, 1000000] (1 when omitted, 0 drops), pd / slo* alone, every item of
 * a list must have scores, an invalid string is an error (never random). */
static void test_plan_parse(void **state)
{
    (void)state;
    plan_ok("prefix-cache:2,least-request", 2, "prefix-cache:2,least-request");
    plan_ok(" prefix-cache : 2 , least-request:1 ", 2, "prefix-cache:2,least-request");
    plan_ok("least-request:0,least-kv-cache:3", 1, "least-kv-cache");
    plan_ok("least-request:2,least-request:3", 1, "least-request"); /* one entry, weight 5 */
    plan_ok("prefix-cache:2,pd,least-request", 1, "pd");
    plan_ok("slo-least-load,pd", 1, "slo-least-load");
    plan_ok("prefix-cache-preble:3,least-utilization", 2,
            "prefix-cache-preble:3,least-utilization");
    plan_ok("session-affinity,least-request:1000000", 2, "session-affinity,least-request:1000000");
    plan_bad("bogus", "incorrect routing strategy bogus");
    plan_bad("least-request,bogus", "incorrect routing strategy");
    plan_bad("least-request:0", "every weight is 0");
    plan_bad("least-request:1000001", "incorrect routing strategy");
    plan_bad("least-request:-1", "incorrect routing strategy");
    plan_bad("least-request:", "incorrect routing strategy");
    plan_bad("least-request:1.5", "incorrect routing strategy");
    plan_bad("least-request,,random", "incorrect routing strategy");
    plan_bad("", "incorrect routing strategy");
    plan_bad("random,least-request", "random cannot be combined");
    plan_bad("power-of-two:2,least-request", "power-of-two cannot be combined");
    plan_bad("least-request,predicted-ttft", "predicted-ttft cannot be combined");
    plan_ok("vtc-basic:2,least-request", 2, "vtc-basic:2,least-request");

    gw_strategy_plan p;
    char err[256];
    assert_int_equal(gw_strategy_plan_parse("prefix-cache:2,least-request:3", &p, err, 256), 0);
    assert_int_equal(p.w[0], 2);
    assert_int_equal(p.w[1], 3);
    assert_true(p.needs_blocks && p.needs_tokens && !p.sets_session_id);
    assert_int_equal(gw_strategy_plan_parse("least-request:2,least-request:3", &p, err, 256), 0);
    assert_int_equal(p.w[0], 5);
    assert_int_equal(gw_strategy_plan_parse("session-affinity:1,least-request", &p, err, 256), 0);
    assert_true(p.sets_session_id && !p.needs_tokens);
}

/* The soft-scoring combiner (AIBrix router.go scoreAndRank), worked out:
 * inflight {0, 4, 8}, kv {0.9, 0.1, 0.5}; least-request normalised
 * (8 - c) / 8 = {1, .5, 0}, least-kv-cache (0.9 - k) / 0.8 = {0, 1, .5}.
 *   3:1 -> F = {.75, .625, .125}: engine 0
 *   1:3 -> F = {.25, .875, .375}: engine 1
 *   1:1 -> F = {.5, .75, .25}:    engine 1 */
static void test_plan_combine(void **state)
{
    (void)state;
    gw_strategy_cfg cfg;
    gw_strategy_cfg_default(&cfg);
    cfg.prefix_max_bytes = 1 << 20;
    gw_router r;
    assert_int_equal(gw_router_init(&r, &cfg, NULL), 0);
    fx f;
    fx_init(&f, 3);
    const int32_t infl[3] = {0, 4, 8};
    const double kv[3] = {0.9, 0.1, 0.5};
    for (int i = 0; i < 3; i++) {
        f.c[i]->inflight = infl[i];
        f.c[i]->kv_usage = kv[i];
    }
    static const struct {
        const char *spec;
        int want;
    } cases[] = {{"least-request:3,least-kv-cache", 0},
                 {"least-request,least-kv-cache:3", 1},
                 {"least-request,least-kv-cache", 1}};
    char err[256];
    for (size_t k = 0; k < 3; k++) {
        gw_strategy_plan p;
        assert_int_equal(gw_strategy_plan_parse(cases[k].spec, &p, err, sizeof(err)), 0);
        for (uint64_t rnd = 1; rnd < 50; rnd++) {
            gw_route_req q = req(rnd);
            const gw_strategy *fb = (const gw_strategy *)1;
            assert_ptr_equal(gw_router_pick_plan(&r, &p, &q, f.c, f.n, &fb), f.c[cases[k].want]);
            assert_null(fb);
        }
    }
    /* an unscored engine gets 0 for that entry: engine 1 without kv loses
     * its 1 there; 1:1 -> F = {.5, .25, .25}: engine 0 */
    f.c[1]->kv_usage = NAN;
    gw_strategy_plan p;
    assert_int_equal(gw_strategy_plan_parse("least-request,least-kv-cache", &p, err, 256), 0);
    gw_route_req q = req(7);
    assert_ptr_equal(gw_router_pick_plan(&r, &p, &q, f.c, f.n, NULL), f.c[0]);
    /* no entry scores anything: random, reported as the fallback */
    for (int i = 0; i < 3; i++)
        f.c[i]->kv_usage = f.c[i]->gpu_cache_usage = NAN;
    assert_int_equal(gw_strategy_plan_parse("least-kv-cache,least-gpu-cache", &p, err, 256), 0);
    int seen[3] = {0};
    for (uint64_t rnd = 1; rnd < 200; rnd++) {
        q = req(rnd * 0x9e3779b97f4a7c15ULL);
        const gw_strategy *fb = NULL;
        gw_engine *e = gw_router_pick_plan(&r, &p, &q, f.c, f.n, &fb);
        assert_non_null(fb);
        assert_string_equal(fb->name, "random");
        seen[e->id]++;
    }
    assert_true(seen[0] && seen[1] && seen[2]);
    /* one entry: a strategy that declines reports the one that decided */
    assert_int_equal(gw_strategy_plan_parse("least-kv-cache", &p, err, 256), 0);
    const gw_strategy *fb = NULL;
    gw_router_pick_plan(&r, &p, &q, f.c, f.n, &fb);
    assert_non_null(fb);
    assert_string_equal(fb->name, "random");
    /* an alias that decides is no fallback */
    assert_int_equal(gw_strategy_plan_parse("pd", &p, err, 256), 0);
    fb = (const gw_strategy *)1;
    assert_ptr_equal(gw_router_pick_plan(&r, &p, &q, f.c, f.n, &fb), f.c[0]);
    assert_null(fb);
    fx_close(&f);
    gw_router_close(&r);
}

/* prefix-cache in a list: every entry's on_routed runs (the chosen engine
 * records the prompt's blocks), and the weights trade the match against
 * load: engine e holds the prompt (match 100, others 0) and 10 in flight
 * (others 0): "prefix-cache:2,least-request" -> F(e) = 2/3, others 1/3: e;
 * "prefix-cache,least-request:3" -> F(e) = 1/4, others 3/4: not e. */
static void test_plan_prefix_weights(void **state)
{
    (void)state;
    gw_strategy_cfg cfg;
    gw_strategy_cfg_default(&cfg);
    cfg.prefix_max_bytes = 1 << 20;
    gw_router r;
    assert_int_equal(gw_router_init(&r, &cfg, NULL), 0);
    fx f;
    fx_init(&f, 3);
    const uint64_t keys[3] = {11, 22, 33};
    gw_strategy_plan heavy, light;
    char err[256];
    assert_int_equal(gw_strategy_plan_parse("prefix-cache:2,least-request", &heavy, err, 256), 0);
    assert_int_equal(gw_strategy_plan_parse("prefix-cache,least-request:3", &light, err, 256), 0);
    gw_route_req q = req(5);
    q.block_keys = keys;
    q.nblocks = 3;
    gw_engine *e = gw_router_pick_plan(&r, &heavy, &q, f.c, f.n, NULL); /* nothing held: a tie */
    e->inflight = 10;
    for (uint64_t rnd = 1; rnd < 30; rnd++) {
        q.rnd = rnd;
        assert_ptr_equal(gw_router_pick_plan(&r, &heavy, &q, f.c, f.n, NULL), e);
    }
    for (uint64_t rnd = 1; rnd < 30; rnd++) {
        q.rnd = rnd;
        gw_engine *o = gw_router_pick_plan(&r, &light, &q, f.c, f.n, NULL);
        assert_ptr_not_equal(o, e);
    }
    fx_close(&f);
    gw_router_close(&r);
}

/* power-of-two: of two distinct random candidates, the one with fewer in
 * flight; with one candidate, that one. */
static void test_power_of_two(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, 3);
    const gw_strategy *s = strat("power-of-two");
    f.c[0]->inflight = 5;
    f.c[1]->inflight = 1;
    f.c[2]->inflight = 9;
    int seen[3] = {0};
    for (uint64_t rnd = 1; rnd < 300; rnd++) {
        gw_route_req q = req(rnd * 0x9e3779b97f4a7c15ULL);
        int k = s->pick(NULL, &q, f.c, 3);
        assert_true(k >= 0 && k < 3);
        seen[k]++;
        assert_int_equal(s->pick(NULL, &q, f.c, 2), 1); /* {5, 1}: always the 1 */
        assert_int_equal(s->pick(NULL, &q, f.c, 1), 0);
    }
    /* engine 2 (9) never wins a pair; engine 0 wins only the pair {0, 2} */
    assert_int_equal(seen[2], 0);
    assert_true(seen[0] > 0 && seen[1] > seen[0]);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_order),
        cmocka_unit_test(test_least_request),
        cmocka_unit_test(test_least_request_ties_spread),
        cmocka_unit_test(test_throughput),
        cmocka_unit_test(test_least_kv_cache),
        cmocka_unit_test(test_least_gpu_cache),
        cmocka_unit_test(test_least_latency),
        cmocka_unit_test(test_least_busy_time),
        cmocka_unit_test(test_session_codec),
        cmocka_unit_test(test_session_affinity_id),
        cmocka_unit_test(test_session_affinity_rendezvous),
        cmocka_unit_test(test_vtc_no_user),
        cmocka_unit_test(test_vtc_fairness),
        cmocka_unit_test(test_vtc_ties_spread),
        cmocka_unit_test(test_vtc_output_estimate_and_correction),
        cmocka_unit_test(test_vtc_user_bound),
        cmocka_unit_test(test_strategy_settings),
        cmocka_unit_test(test_every_aibrix_name),
        cmocka_unit_test(test_plan_parse),
        cmocka_unit_test(test_plan_combine),
        cmocka_unit_test(test_plan_prefix_weights),
        cmocka_unit_test(test_power_of_two),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
