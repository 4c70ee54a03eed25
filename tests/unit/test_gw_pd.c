/* gw_pd: the pd strategy's selection arithmetic (gw_pd_select, spec
 * gateway.md §8.2), every expected pick computed by hand in the comments,
 * and the two legs' body rewriting. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "gateway/gw_pd.h"
#include "gateway/gw_router.h"
#include "gateway/gw_strategy.h"

#define P GW_PD_ROLE_PREFILL
#define D GW_PD_ROLE_DECODE

static gw_pd_pod pre(int rs, double req, double match)
{
    return (gw_pd_pod){.roleset = rs,
                       .role = P,
                       .req = req,
                       .running = NAN,
                       .gen_tps = NAN,
                       .drain = NAN,
                       .kv_usage = NAN,
                       .match_pct = match};
}

static gw_pd_pod dec(int rs, double req, double running, double tps, double kv)
{
    return (gw_pd_pod){.roleset = rs,
                       .role = D,
                       .req = req,
                       .running = running,
                       .gen_tps = tps,
                       .drain = NAN,
                       .kv_usage = kv,
                       .match_pct = 0};
}

static void sel(const gw_pd_pod *pods, int n, int *a, int *b, int *why)
{
    gw_pd_params prm;
    gw_pd_params_default(&prm);
    assert_int_equal(gw_pd_select(pods, n, &prm, 0, a, b, why), 0);
}

/* Two rolesets.
 * prefill: P0 req 0 match 50, P1 req 2 match 0; mean 1, sd sqrt(2) -> both
 *   pass; max req 2: ps0 = 50*0.1 + 0/2 = 5, ps1 = 100*0.1 + 2/2 = 11.
 * decode: D0 running 3 + req 1 = 4, tps 100, kv .5 (free 50); D1 running 2
 *   + 0 = 2, tps 200, kv .2 (free 80). Spreads 2 (< 16) and 100 (< 2048), no
 *   drain: scores. max run 4, max tps 200, max free 80:
 *   ds0 = (4/4 + 1 - 100/200) / (50/80) = 1.5 / .625 = 2.4
 *   ds1 = (2/4 + 0) / 1 = .5
 * final: rs0 5/11 + 2.4/2.4 = 1.4545, rs1 11/11 + .5/2.4 = 1.2083: rs1
 * (P1, D1) although P0 has the prefix. */
static void test_scores(void **st)
{
    (void)st;
    gw_pd_pod pods[] = {pre(0, 0, 50), dec(0, 1, 3, 100, .5), pre(1, 2, 0), dec(1, 0, 2, 200, .2)};
    int a, b, why;
    sel(pods, 4, &a, &b, &why);
    assert_int_equal(a, 2);
    assert_int_equal(b, 3);
    assert_int_equal(why, GW_PD_WHY_SCORE);
    /* P0 with the whole prefix: ps0 = 0 + 0 = 0, rs0 = 0/11 + 1 = 1 < 1.2083 */
    pods[0].match_pct = 100;
    sel(pods, 4, &a, &b, &why);
    assert_int_equal(a, 0);
    assert_int_equal(b, 1);
}

/* Prefill imbalance: P0 req 20, P1 req 2: 18 > 16, the least loaded P1;
 * then the best decode of rs1 by score: D1 (running 2, kv .2) and D2
 * (running 0, kv 0); max run 4 (D0: 3 + 1), max tps 200, max free 100:
 * D1 (2/4 + 0) / (80/100) = .625, D2 (0 + 0) / 1 = 0: D2. */
static void test_prefill_imbalance(void **st)
{
    (void)st;
    gw_pd_pod pods[] = {pre(0, 20, 100), dec(0, 1, 3, 100, .5), pre(1, 2, 0), dec(1, 0, 2, 200, .2),
                        dec(1, 0, 0, 200, 0)};
    int a, b, why;
    sel(pods, 5, &a, &b, &why);
    assert_int_equal(why, GW_PD_WHY_PREFILL_IMBALANCE);
    assert_int_equal(a, 2);
    assert_int_equal(b, 4);
}

/* Decode fast paths, in order. Prefill reqs 0 and 2 (no imbalance). */
static void test_decode_fast_paths(void **st)
{
    (void)st;
    int a, b, why;
    /* running spread: D0 20 + 1 = 21, D1 2 + 0 = 2: 19 >= 16 -> D1, rs1's P1 */
    gw_pd_pod s1[] = {pre(0, 0, 100), dec(0, 1, 20, 100, .5), pre(1, 2, 0), dec(1, 0, 2, 200, .2)};
    sel(s1, 4, &a, &b, &why);
    assert_int_equal(why, GW_PD_WHY_DECODE_SPREAD);
    assert_int_equal(b, 3);
    assert_int_equal(a, 2);
    /* throughput spread: 3000 vs 500 (2500 > 2048) -> the lowest, D1 */
    gw_pd_pod s2[] = {pre(0, 0, 100), dec(0, 1, 3, 3000, .5), pre(1, 2, 0), dec(1, 0, 2, 500, .2)};
    sel(s2, 4, &a, &b, &why);
    assert_int_equal(why, GW_PD_WHY_DECODE_TPS);
    assert_int_equal(b, 3);
    /* running / drain: D0 4 / 1 = 4, D1 2 / 2 = 1; 4 > 1.5 -> D1 */
    gw_pd_pod s3[] = {pre(0, 0, 100), dec(0, 1, 3, 100, .5), pre(1, 2, 0), dec(1, 0, 2, 200, .2)};
    s3[1].drain = 1;
    s3[3].drain = 2;
    sel(s3, 4, &a, &b, &why);
    assert_int_equal(why, GW_PD_WHY_DECODE_RATIO);
    assert_int_equal(b, 3);
    assert_int_equal(a, 2);
}

/* The stddev test: prefill reqs 0, 0, 9: mean 3, sample sd sqrt(27) =
 * 5.196, bound 8.196: P2 (9, the whole prefix) is skipped and its roleset
 * drops out. Equal decodes (running 1, tps 100, kv .5): ds = (1/1 + 0) / 1
 * = 1 each. ps0 = 100*.1 + 0 = 10, ps1 = 90*.1 + 0 = 9: rs1 = 9/10 + 1 =
 * 1.9 < rs0 = 2. */
static void test_stddev_skip(void **st)
{
    (void)st;
    gw_pd_pod pods[] = {pre(0, 0, 0),          dec(0, 0, 1, 100, .5), pre(1, 0, 10),
                        dec(1, 0, 1, 100, .5), pre(2, 9, 100),        dec(2, 0, 1, 100, .5)};
    int a, b, why;
    sel(pods, 6, &a, &b, &why);
    assert_int_equal(a, 2);
    assert_int_equal(b, 3);
}

/* A decode pod without metrics while others have them scores 1 + req:
 * D0 (rs0, no metrics, req 0) = 1. rs1: D1 running 1, D2 running 2, both
 * tps 100, kv .5; max run 2, max tps 100, max free 50: D1 (1/2 + 0) / 1 =
 * .5, D2 1. Prefill scores tie (10 each, max 10): rs0 1 + 1/1 = 2, rs1
 * 1 + .5/1 = 1.5: P1, D1. */
static void test_missing_metrics(void **st)
{
    (void)st;
    gw_pd_pod pods[] = {pre(0, 0, 0), dec(0, 0, NAN, NAN, NAN), pre(1, 0, 0), dec(1, 0, 1, 100, .5),
                        dec(1, 0, 2, 100, .5)};
    int a, b, why;
    sel(pods, 5, &a, &b, &why);
    assert_int_equal(a, 2);
    assert_int_equal(b, 3);
    /* and D1 busy: running 6: max run 6: D1 1, D2 2/6 = .333: rs1 picks D2
     * (1 + .333/1 = 1.333 < rs0 2) */
    pods[3].running = 6;
    sel(pods, 5, &a, &b, &why);
    assert_int_equal(b, 4);
}

static void test_incomplete(void **st)
{
    (void)st;
    gw_pd_params prm;
    gw_pd_params_default(&prm);
    int a, b, why;
    /* rs0 has only a prefill, rs1 only a decode */
    gw_pd_pod pods[] = {pre(0, 0, 0), dec(1, 0, 1, 100, .5)};
    assert_int_equal(gw_pd_select(pods, 2, &prm, 0, &a, &b, &why), -1);
    assert_int_equal(gw_pd_select(pods, 0, &prm, 0, &a, &b, &why), -1);
}

/* Ties: identical rolesets; the rotation by rnd decides. */
static void test_ties(void **st)
{
    (void)st;
    gw_pd_params prm;
    gw_pd_params_default(&prm);
    gw_pd_pod pods[] = {pre(0, 0, 0), dec(0, 0, 1, 100, .5), pre(1, 0, 0), dec(1, 0, 1, 100, .5)};
    int a, b, why, seen[2] = {0, 0};
    for (uint64_t r = 0; r < 8; r++) {
        assert_int_equal(gw_pd_select(pods, 4, &prm, r, &a, &b, &why), 0);
        assert_int_equal(pods[a].roleset, pods[b].roleset);
        seen[pods[a].roleset] = 1;
    }
    assert_true(seen[0] && seen[1]);
}

static void test_prefill_body(void **st)
{
    (void)st;
    const char *in = "{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":50,\"stream\":true,"
                     "\"stream_options\":{\"include_usage\":true},\"min_tokens\":3,\"user\":\"u\"}";
    char *out;
    size_t len;
    assert_int_equal(gw_pd_prefill_body(in, strlen(in), &out, &len), 0);
    json_t *o = json_loadb(out, len, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "max_tokens")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "max_completion_tokens")), 1);
    assert_true(json_is_false(json_object_get(o, "stream")));
    assert_null(json_object_get(o, "stream_options"));
    assert_null(json_object_get(o, "min_tokens"));
    assert_string_equal(json_string_value(json_object_get(o, "model")), "m");
    assert_string_equal(json_string_value(json_object_get(o, "user")), "u");
    json_t *kv = json_object_get(o, "kv_transfer_params");
    assert_true(json_is_true(json_object_get(kv, "do_remote_decode")));
    assert_true(json_is_false(json_object_get(kv, "do_remote_prefill")));
    json_decref(o);
    free(out);
    assert_int_equal(gw_pd_prefill_body("[1]", 3, &out, &len), -1);
    assert_int_equal(gw_pd_prefill_body("{", 1, &out, &len), -1);
}

static void test_decode_body(void **st)
{
    (void)st;
    const char *in = "{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":50,\"stream\":true}";
    const char *resp = "{\"id\":\"c\",\"kv_transfer_params\":{\"do_remote_prefill\":true,"
                       "\"remote_host\":\"127.0.0.1\",\"remote_port\":8000,"
                       "\"remote_request_id\":\"r1\",\"remote_block_ids\":[1,2]}}";
    char *out, err[128];
    size_t len;
    assert_int_equal(gw_pd_decode_body(in, strlen(in), resp, strlen(resp), "10.0.0.5", &out, &len,
                                       err, sizeof(err)),
                     0);
    json_t *o = json_loadb(out, len, 0, NULL);
    json_t *kv = json_object_get(o, "kv_transfer_params");
    assert_string_equal(json_string_value(json_object_get(kv, "remote_host")), "10.0.0.5");
    assert_int_equal(json_integer_value(json_object_get(kv, "remote_port")), 8000);
    assert_string_equal(json_string_value(json_object_get(kv, "remote_request_id")), "r1");
    assert_int_equal(json_array_size(json_object_get(kv, "remote_block_ids")), 2);
    assert_true(json_is_true(json_object_get(o, "stream")));
    assert_int_equal(json_integer_value(json_object_get(o, "max_tokens")), 50);
    json_decref(o);
    free(out);
    const char *noparams = "{\"id\":\"c\",\"choices\":[]}";
    assert_int_equal(gw_pd_decode_body(in, strlen(in), noparams, strlen(noparams), "h", &out, &len,
                                       err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "kv_transfer_params"));
    assert_int_equal(
        gw_pd_decode_body(in, strlen(in), "not json", 8, "h", &out, &len, err, sizeof(err)), -1);
}

/* The strategy through the router: grouping by the engines' roleset
 * names, the decode engine returned and the prefill engine handed over
 * (gw_pd_take_prefill), a combined engine when no roleset is complete, the
 * fallback (least-request) when there is none either. */
static gw_engine *mkeng(gw_registry *reg, int i, int role, const char *rs, int inflight)
{
    char addr[32];
    snprintf(addr, sizeof(addr), "10.0.0.%d:8000", i + 1);
    gw_engine *e = gw_registry_add(reg, addr);
    assert_non_null(e);
    snprintf(e->model, sizeof(e->model), "m");
    e->ready = 1;
    e->pd_role = role;
    snprintf(e->roleset, sizeof(e->roleset), "%s", rs);
    e->inflight = inflight;
    return e;
}

static void test_strategy_router(void **st)
{
    (void)st;
    gw_registry reg;
    assert_int_equal(gw_registry_init(&reg), 0);
    gw_strategy_cfg cfg;
    gw_strategy_cfg_default(&cfg);
    gw_router r;
    assert_int_equal(gw_router_init(&r, &cfg, "pd"), 0);
    /* rs-a: prefill 0 (idle), decode 1; rs-b: prefill 2 (busy: 20 in
     * flight, imbalance 20 > 16), decode 3; a combined engine 4 */
    gw_engine *c[5] = {mkeng(&reg, 0, P, "rs-a", 0), mkeng(&reg, 1, D, "rs-a", 0),
                       mkeng(&reg, 2, P, "rs-b", 20), mkeng(&reg, 3, D, "rs-b", 0),
                       mkeng(&reg, 4, GW_PD_ROLE_NONE, "", 0)};
    gw_route_req rq;
    memset(&rq, 0, sizeof(rq));
    rq.model = "m";
    rq.max_tokens = -1;
    const gw_strategy *fb = NULL;
    gw_engine *e = gw_router_pick_plan(&r, NULL, &rq, c, 5, &fb);
    assert_ptr_equal(e, c[1]); /* the least loaded prefill's roleset: rs-a's decode */
    assert_null(fb);
    assert_ptr_equal(gw_pd_take_prefill(&r), c[0]);
    assert_null(gw_pd_take_prefill(&r)); /* handed over once */
    /* rs-a's decode gone from the candidates: rs-b only (P2, D3) */
    gw_engine *c2[4] = {c[0], c[2], c[3], c[4]};
    e = gw_router_pick_plan(&r, NULL, &rq, c2, 4, &fb);
    assert_ptr_equal(e, c[3]);
    assert_ptr_equal(gw_pd_take_prefill(&r), c[2]);
    /* no complete roleset: the combined engine, no prefill */
    gw_engine *c3[3] = {c[0], c[3], c[4]};
    e = gw_router_pick_plan(&r, NULL, &rq, c3, 3, &fb);
    assert_ptr_equal(e, c[4]);
    assert_null(gw_pd_take_prefill(&r));
    /* nor a combined one (rs-b's prefill, rs-a's decode): the fallback,
     * least-request (c[1]: 0 in flight against 20) */
    gw_engine *c4[2] = {c[1], c[2]};
    e = gw_router_pick_plan(&r, NULL, &rq, c4, 2, &fb);
    assert_ptr_equal(e, c[1]);
    assert_non_null(fb);
    assert_string_equal(fb->name, "least-request");
    assert_null(gw_pd_take_prefill(&r));
    gw_router_close(&r);
    gw_registry_close(&reg);
}

static void test_role_parse(void **st)
{
    (void)st;
    assert_int_equal(gw_pd_role_parse("prefill"), P);
    assert_int_equal(gw_pd_role_parse("decode"), D);
    assert_int_equal(gw_pd_role_parse("both"), GW_PD_ROLE_NONE);
    assert_int_equal(gw_pd_role_parse(NULL), GW_PD_ROLE_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scores),
        cmocka_unit_test(test_prefill_imbalance),
        cmocka_unit_test(test_decode_fast_paths),
        cmocka_unit_test(test_stddev_skip),
        cmocka_unit_test(test_missing_metrics),
        cmocka_unit_test(test_incomplete),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_prefill_body),
        cmocka_unit_test(test_decode_body),
        cmocka_unit_test(test_role_parse),
        cmocka_unit_test(test_strategy_router),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
