/* Unit tests of gw_hetero (the GPU optimizer's assignment in the gateway:
 * parse, nearest cell, weighted order, the store's deterministic draws) and
 * of the slo strategies (strategies/gw_strat_slo.c) on a hand-built
 * registry; also the engines' groups from a static backend spec and from a
 * Kubernetes pod (gw_disc_backend_spec, gw_k8s_pod_group). */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/gw_config.h"
#include "gateway/gw_discovery.h"
#include "gateway/gw_hetero.h"
#include "gateway/gw_k8s.h"
#include "gateway/gw_router.h"
#include "gateway/gw_strategy.h"

/* docs/hetero.md's example, two types, a 2 x 2 grid */
static const char *EXAMPLE =
    "{\"model\": \"m\", \"generation\": 7, \"ts\": 1765000000,"
    " \"deployments\": [{\"name\": \"m-l4\", \"namespace\": \"default\", \"units\": 230,"
    " \"replicas\": 3}, {\"name\": \"m-a100\", \"replicas\": 1}],"
    " \"cells\": [{\"in\": 128, \"out\": 64, \"share\": {\"m-l4\": 0.75, \"m-a100\": 0.25}},"
    "            {\"in\": 1024, \"out\": 64, \"share\": {\"m-a100\": 2}},"
    "            {\"in\": 128, \"out\": 512, \"share\": {\"m-l4\": 1, \"m-a100\": 0}},"
    "            {\"in\": 1024, \"out\": 512, \"share\": {\"m-l4\": 0, \"m-a100\": 0}}]}";

static void test_parse(void **state)
{
    (void)state;
    gw_hetero_assign *a = malloc(sizeof(*a));
    char err[256];
    assert_int_equal(gw_hetero_parse(EXAMPLE, strlen(EXAMPLE), a, err, sizeof(err)), 0);
    assert_string_equal(a->model, "m");
    assert_int_equal(a->generation, 7);
    assert_int_equal(a->ts, 1765000000);
    assert_int_equal(a->ngroups, 2);
    assert_string_equal(a->groups[0], "m-l4");
    assert_string_equal(a->groups[1], "m-a100");
    assert_int_equal(a->replicas[0], 3);
    assert_int_equal(a->nin, 2);
    assert_int_equal(a->nout, 2);
    assert_true(a->in_tokens[0] == 128 && a->in_tokens[1] == 1024);
    assert_true(a->out_tokens[0] == 64 && a->out_tokens[1] == 512);
    /* [out][in][group] */
    assert_true(fabsf(a->share[0][0][0] - 0.75f) < 1e-6 && fabsf(a->share[0][0][1] - 0.25f) < 1e-6);
    assert_true(a->share[0][1][1] == 1.0f); /* 2 alone normalises to 1 */
    assert_int_equal(a->listed[1][1], 0);   /* all zero: not listed */
    assert_int_equal(a->listed[1][0], 1);

    static const char *bad[] = {
        "",
        "[]",
        "{\"cells\": []}",
        "{\"model\": \"\", \"cells\": []}",
        "{\"model\": \"m\"}", /* no cells */
        "{\"model\": \"m\", \"cells\": [{\"in\": 0, \"out\": 4, \"share\": {}}]}",
        "{\"model\": \"m\", \"cells\": [{\"in\": 4, \"out\": 4, \"share\": {\"a\": -1}}]}",
        "{\"model\": \"m\", \"cells\": [{\"in\": 4, \"out\": 4, \"share\": {\"a\": \"x\"}}]}",
        "{\"model\": \"m\", \"cells\": [{\"in\": 4, \"out\": 4, \"share\": {\"a\": 1}},"
        " {\"in\": 4, \"out\": 4, \"share\": {\"a\": 1}}]}", /* one point twice */
        "{\"model\": \"m\", \"generation\": \"7\", \"cells\": []}",
        "{\"model\": \"m\", \"model\": \"n\", \"cells\": []}", /* duplicate key */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (gw_hetero_parse(bad[i], strlen(bad[i]), a, err, sizeof(err)) != -1)
            fail_msg("accepted: %s", bad[i]);
        assert_true(err[0] != '\0');
    }
    /* 25 distinct input counts: over GW_HETERO_GRID_MAX */
    char big[4096];
    int o = snprintf(big, sizeof(big), "{\"model\": \"m\", \"cells\": [");
    for (int i = 0; i < 25; i++)
        o += snprintf(big + o, sizeof(big) - (size_t)o,
                      "%s{\"in\": %d, \"out\": 4, \"share\": {\"a\": 1}}", i ? "," : "", i + 1);
    snprintf(big + o, sizeof(big) - (size_t)o, "]}");
    assert_int_equal(gw_hetero_parse(big, strlen(big), a, err, sizeof(err)), -1);
    free(a);
}

/* log2 space, nearest, midpoints up, clamped (opt_profile_cell's rule) */
static void test_nearest_cell(void **state)
{
    (void)state;
    const double g[] = {4, 16, 128, 1024};
    assert_int_equal(gw_hetero_index(g, 4, 0), 0); /* <= 0 counts as 1: clamped low */
    assert_int_equal(gw_hetero_index(g, 4, 4), 0);
    assert_int_equal(gw_hetero_index(g, 4, 7.9), 0); /* log2 7.9 < 3, the midpoint of 2 and 4 */
    assert_int_equal(gw_hetero_index(g, 4, 8), 1);   /* the midpoint: the larger */
    assert_int_equal(gw_hetero_index(g, 4, 45), 1);  /* 45 < 2^5.5 = 45.25 */
    assert_int_equal(gw_hetero_index(g, 4, 46), 2);
    assert_int_equal(gw_hetero_index(g, 4, 362), 2); /* sqrt(128 * 1024) = 362.04 */
    assert_int_equal(gw_hetero_index(g, 4, 363), 3);
    assert_int_equal(gw_hetero_index(g, 4, 1e9), 3); /* clamped high */
    assert_int_equal(gw_hetero_index(g, 0, 5), -1);

    gw_hetero_assign *a = malloc(sizeof(*a));
    char err[256];
    assert_int_equal(gw_hetero_parse(EXAMPLE, strlen(EXAMPLE), a, err, sizeof(err)), 0);
    int ii, oi;
    assert_int_equal(gw_hetero_cell(a, 200, 10, &ii, &oi), 1);
    assert_true(ii == 0 && oi == 0);
    assert_int_equal(gw_hetero_cell(a, 5000, 100, &ii, &oi), 1);
    assert_true(ii == 1 && oi == 0);
    assert_int_equal(gw_hetero_cell(a, 5000, 5000, &ii, &oi), 0); /* not listed */
    assert_true(ii == 1 && oi == 1);

    int order[4];
    assert_int_equal(gw_hetero_order(a, 0, 0, 0.10, order, 4), 2);
    assert_true(order[0] == 0 && order[1] == 1); /* u < 0.75: m-l4, then m-a100 */
    assert_int_equal(gw_hetero_order(a, 0, 0, 0.80, order, 4), 2);
    assert_true(order[0] == 1 && order[1] == 0); /* drawn m-a100, then the bigger share */
    assert_int_equal(gw_hetero_order(a, 1, 0, 0.01, order, 4), 1); /* in 1024: only m-a100 */
    assert_int_equal(order[0], 1);
    assert_int_equal(gw_hetero_order(a, 0, 1, 0.99, order, 4), 1); /* m-a100 0: only m-l4 */
    assert_int_equal(order[0], 0);
    assert_int_equal(gw_hetero_order(a, 1, 1, 0.5, order, 4), 0);
    free(a);
}

/* The store's draws meet the shares: over 1000 requests of one cell, each
 * group's count is within 3 of its share (a Weyl sequence, not chance). */
static void test_weighted_shares(void **state)
{
    (void)state;
    gw_hetero *h = gw_hetero_new();
    assert_non_null(h);
    char err[256];
    gw_hetero_route_out ro;
    assert_int_equal(gw_hetero_route(h, "m", 100, 50, &ro), -1); /* no assignment */
    assert_int_equal(gw_hetero_set_json(h, "other", EXAMPLE, strlen(EXAMPLE), err, sizeof(err)),
                     -1); /* the JSON's model is m */
    assert_int_equal(gw_hetero_set_json(h, "m", EXAMPLE, strlen(EXAMPLE), err, sizeof(err)), 0);
    assert_int_equal(gw_hetero_generation(h, "m"), 7);
    int l4 = 0;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(gw_hetero_route(h, "m", 100, 50, &ro), 2);
        l4 += !strcmp(ro.groups[0], "m-l4");
    }
    assert_true(l4 >= 747 && l4 <= 753);
    /* a bad document keeps the last good one */
    assert_int_equal(gw_hetero_set_json(h, NULL, "{", 1, err, sizeof(err)), -1);
    assert_int_equal(gw_hetero_generation(h, "m"), 7);
    assert_int_equal(gw_hetero_route(h, "m", 5000, 5000, &ro), 0); /* cell not listed */
    gw_hetero_clear(h, "m");
    assert_int_equal(gw_hetero_generation(h, "m"), -1);
    gw_hetero_free(h);
}

/* ---- the strategies on a registry: engines 0, 1 in group A, 2, 3 in B ---- */

typedef struct fx {
    gw_registry reg;
    gw_engine *c[4];
    gw_hetero *h;
    gw_strategy_cfg cfg;
} fx;

static const char *AB = "{\"model\": \"m\", \"generation\": 1, \"cells\": ["
                        "{\"in\": 16, \"out\": 16, \"share\": {\"A\": 1}},"
                        "{\"in\": 4096, \"out\": 16, \"share\": {\"B\": 1}}]}";

static void fx_init(fx *f)
{
    assert_int_equal(gw_registry_init(&f->reg), 0);
    for (int i = 0; i < 4; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "10.0.0.%d:8000", i + 1);
        gw_engine *e = gw_registry_add(&f->reg, addr);
        assert_non_null(e);
        snprintf(e->model, sizeof(e->model), "m");
        snprintf(e->group, sizeof(e->group), "%s", i < 2 ? "A" : "B");
        e->ready = 1;
        e->waiting = 0;
        f->c[i] = e;
    }
    f->h = gw_hetero_new();
    assert_non_null(f->h);
    char err[256];
    assert_int_equal(gw_hetero_set_json(f->h, "m", AB, strlen(AB), err, sizeof(err)), 0);
    gw_strategy_cfg_default(&f->cfg);
    f->cfg.hetero = f->h;
}

static void fx_close(fx *f)
{
    gw_registry_close(&f->reg);
    gw_hetero_free(f->h);
}

static int slo_pick(const gw_strategy *s, void *st, fx *f, size_t ntokens, uint64_t rnd)
{
    gw_route_req r;
    memset(&r, 0, sizeof(r));
    r.model = "m";
    r.ntokens = ntokens;
    r.max_tokens = 16;
    r.rnd = rnd;
    return s->pick(st, &r, f->c, 4);
}

static void test_slo_routes_by_cell(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    const gw_strategy *s = gw_strategy_find("slo");
    assert_non_null(s);
    assert_int_equal(s->needs_tokens, 1);
    void *st = s->create(&f.cfg, NULL);
    f.c[0]->inflight = 3;
    f.c[1]->inflight = 1;
    f.c[2]->inflight = 0;
    f.c[3]->inflight = 5;
    for (uint64_t k = 0; k < 50; k++) {
        assert_int_equal(slo_pick(s, st, &f, 10, k), 1);   /* short: A, its least loaded */
        assert_int_equal(slo_pick(s, st, &f, 3000, k), 2); /* long: B, its least loaded */
    }
    /* slo-pack-load: the busiest engine of the group that is not saturated */
    const gw_strategy *p = gw_strategy_find("slo-pack-load");
    void *pst = p->create(&f.cfg, NULL);
    assert_int_equal(slo_pick(p, pst, &f, 10, 1), 0);
    f.c[0]->waiting = 2; /* saturated: the next busiest */
    assert_int_equal(slo_pick(p, pst, &f, 10, 1), 1);
    p->destroy(pst);
    s->destroy(st);
    fx_close(&f);
}

static void test_slo_saturation_fallback(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    char err[256];
    /* the short cell prefers A (0.9) over B (0.1): both listed */
    const char *pref = "{\"model\": \"m\", \"cells\": ["
                       "{\"in\": 16, \"out\": 16, \"share\": {\"A\": 0.9, \"B\": 0.1}}]}";
    assert_int_equal(gw_hetero_set_json(f.h, "m", pref, strlen(pref), err, sizeof(err)), 0);
    const gw_strategy *s = gw_strategy_find("slo-least-load");
    void *st = s->create(&f.cfg, NULL);
    assert_int_equal(s->configure(st, "max-outstanding", "4", err, sizeof(err)), 0);
    assert_int_equal(s->configure(st, "bogus", "4", err, sizeof(err)), -1);
    /* every A engine saturated: one waits in the engine, one is at the cap */
    f.c[0]->waiting = 1;
    f.c[1]->inflight = 4;
    f.c[2]->inflight = 2;
    f.c[3]->inflight = 1;
    for (uint64_t k = 0; k < 40; k++)
        assert_int_equal(slo_pick(s, st, &f, 10, k), 3); /* B's least loaded, whatever was drawn */
    /* everything saturated: the least loaded of all */
    f.c[2]->waiting = 1;
    f.c[3]->waiting = 1;
    f.c[0]->inflight = 0;
    assert_int_equal(slo_pick(s, st, &f, 10, 7), 0);
    s->destroy(st);
    fx_close(&f);
}

/* No assignment for the model: pick declines and the router's fallback,
 * least-request, decides. */
static void test_slo_no_assignment(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    gw_hetero_clear(f.h, "m");
    gw_router r;
    assert_int_equal(gw_router_init(&r, &f.cfg, "slo"), 0);
    f.c[0]->inflight = 2;
    f.c[1]->inflight = 2;
    f.c[2]->inflight = 2;
    f.c[3]->inflight = 0;
    gw_route_req rq;
    memset(&rq, 0, sizeof(rq));
    rq.model = "m";
    rq.ntokens = 10;
    rq.max_tokens = -1;
    const gw_strategy *decided = NULL;
    gw_engine *e = gw_router_pick(&r, gw_router_strategy(&r, "slo"), &rq, f.c, 4, &decided);
    assert_ptr_equal(e, f.c[3]);
    assert_string_equal(decided->name, "least-request");
    /* with the assignment, the same request goes to A */
    char err[256];
    assert_int_equal(gw_hetero_set_json(f.h, NULL, AB, strlen(AB), err, sizeof(err)), 0);
    e = gw_router_pick(&r, gw_router_strategy(&r, "slo-least-load-pulling"), &rq, f.c, 4, &decided);
    assert_true(e == f.c[0] || e == f.c[1]);
    assert_string_equal(decided->name, "slo-least-load-pulling");
    gw_router_close(&r);
    /* no store at all (a router made without one) declines too */
    gw_strategy_cfg bare;
    gw_strategy_cfg_default(&bare);
    const gw_strategy *s = gw_strategy_find("slo");
    void *st = s->create(&bare, NULL);
    assert_int_equal(s->pick(st, &rq, f.c, 4), -1);
    s->destroy(st);
    fx_close(&f);
}

static void test_groups_from_sources(void **state)
{
    (void)state;
    char addr[GW_NAME_MAX], group[GW_NAME_MAX];
    assert_int_equal(gw_disc_backend_spec("m-l4=http://127.0.0.1:8001", addr, sizeof(addr), group,
                                          sizeof(group)),
                     0);
    assert_string_equal(addr, "127.0.0.1:8001");
    assert_string_equal(group, "m-l4");
    assert_int_equal(
        gw_disc_backend_spec("http://127.0.0.1:8001", addr, sizeof(addr), group, sizeof(group)), 0);
    assert_string_equal(group, "");
    assert_int_equal(
        gw_disc_backend_spec("=http://127.0.0.1:8001", addr, sizeof(addr), group, sizeof(group)),
        -1);
    assert_int_equal(
        gw_disc_backend_spec("a b=http://127.0.0.1:8001", addr, sizeof(addr), group, sizeof(group)),
        -1);

    /* a Deployment's pod: ReplicaSet <deployment>-<pod-template-hash> */
    const char *pod =
        "{\"metadata\": {\"name\": \"m-a100-7d9f8c6b5-x2x9z\", \"namespace\": \"default\","
        " \"labels\": {\"model.aibrix.ai/name\": \"m\", \"pod-template-hash\": \"7d9f8c6b5\"},"
        " \"ownerReferences\": [{\"apiVersion\": \"apps/v1\", \"kind\": \"ReplicaSet\","
        " \"name\": \"m-a100-7d9f8c6b5\", \"uid\": \"u\", \"controller\": true}]},"
        " \"status\": {\"podIP\": \"10.1.2.3\", \"conditions\": [{\"type\": \"Ready\","
        " \"status\": \"True\"}]}}";
    json_t *p = json_loads(pod, 0, NULL);
    assert_non_null(p);
    char g[GW_NAME_MAX];
    assert_int_equal(gw_k8s_pod_group(p, g, sizeof(g)), 0);
    assert_string_equal(g, "m-a100");
    gw_k8s_pod e;
    assert_int_equal(gw_k8s_pod_engine(p, &e), GW_K8S_POD_OK);
    assert_string_equal(e.group, "m-a100");
    json_t *slim = gw_k8s_pod_slim(p); /* the informer's copy keeps what the rule reads */
    assert_non_null(slim);
    assert_int_equal(gw_k8s_pod_engine(slim, &e), GW_K8S_POD_OK);
    assert_string_equal(e.group, "m-a100");
    json_decref(slim);
    /* a hash that does not end the ReplicaSet's name: no group */
    json_object_set_new(json_object_get(json_object_get(p, "metadata"), "labels"),
                        "pod-template-hash", json_string("zzz"));
    assert_int_equal(gw_k8s_pod_group(p, g, sizeof(g)), -1);
    assert_string_equal(g, "");
    json_decref(p);
}

static void test_url_parse(void **state)
{
    (void)state;
    char h[256], b[256];
    int port;
    assert_int_equal(
        gw_hetero_url_parse("http://aibrix-gpu-optimizer.aibrix-system.svc.cluster.local:8080", h,
                            sizeof(h), &port, b, sizeof(b)),
        0);
    assert_string_equal(h, "aibrix-gpu-optimizer.aibrix-system.svc.cluster.local");
    assert_int_equal(port, 8080);
    assert_string_equal(b, "");
    assert_int_equal(gw_hetero_url_parse("http://[::1]/opt/", h, sizeof(h), &port, b, sizeof(b)),
                     0);
    assert_string_equal(h, "::1");
    assert_int_equal(port, 80);
    assert_string_equal(b, "/opt");
    assert_int_equal(gw_hetero_url_parse("https://x:1", h, sizeof(h), &port, b, sizeof(b)), -1);
    assert_int_equal(gw_hetero_url_parse("http://x:0", h, sizeof(h), &port, b, sizeof(b)), -1);
    assert_int_equal(gw_hetero_url_parse("http://:80", h, sizeof(h), &port, b, sizeof(b)), -1);
}

static int parse_flags(gw_config *c, int argc, const char **argv)
{
    gw_config_default(c);
    FILE *devnull = fopen("/dev/null", "w");
    int rc = gw_config_parse(c, argc, (char **)argv, devnull, devnull);
    fclose(devnull);
    gw_config_free(c);
    return rc;
}

static void test_config_flag(void **state)
{
    (void)state;
    unsetenv("BRIX_GPU_OPTIMIZER");
    gw_config c;
    const char *ok[] = {"gateway", "--gpu-optimizer", "http://opt.example:8080",
                        "--gpu-optimizer-interval-ms", "250"};
    assert_int_equal(parse_flags(&c, 5, ok), 0);
    assert_string_equal(c.gpu_optimizer, "http://opt.example:8080");
    assert_int_equal(c.gpu_optimizer_interval_ms, 250);
    const char *none[] = {"gateway"};
    assert_int_equal(parse_flags(&c, 1, none), 0);
    assert_null(c.gpu_optimizer);
    assert_int_equal(c.gpu_optimizer_interval_ms, 5000);
    const char *bad[] = {"gateway", "--gpu-optimizer", "https://opt:8080"};
    assert_int_equal(parse_flags(&c, 3, bad), -1);
    const char *fast[] = {"gateway", "--gpu-optimizer-interval-ms", "10"};
    assert_int_equal(parse_flags(&c, 3, fast), -1);
    setenv("BRIX_GPU_OPTIMIZER", "http://127.0.0.1:9", 1);
    assert_int_equal(parse_flags(&c, 1, none), 0);
    assert_string_equal(c.gpu_optimizer, "http://127.0.0.1:9");
    unsetenv("BRIX_GPU_OPTIMIZER");
}

/* The slo strategies' settings as gateway flags (--slo-default-output-tokens,
 * --slo-max-outstanding; brix up passes the same), handed to every slo
 * strategy of a router as the gateway does (gw_config_configure_router). */
static gw_engine *settings_pick(gw_router *r, fx *f, const char *strategy, int32_t max_tokens)
{
    gw_route_req rq;
    memset(&rq, 0, sizeof(rq));
    rq.model = "m";
    rq.ntokens = 10;
    rq.max_tokens = max_tokens;
    rq.rnd = 5;
    return gw_router_pick(r, gw_router_strategy(r, strategy), &rq, f->c, 4, NULL);
}

static void test_slo_settings_flags(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    char err[256];
    /* short prompts: 16 output tokens on A, 4096 on B */
    const char *outs = "{\"model\": \"m\", \"cells\": ["
                       "{\"in\": 16, \"out\": 16, \"share\": {\"A\": 1}},"
                       "{\"in\": 16, \"out\": 4096, \"share\": {\"B\": 1}}]}";
    assert_int_equal(gw_hetero_set_json(f.h, "m", outs, strlen(outs), err, sizeof(err)), 0);
    f.c[0]->inflight = 1;
    f.c[1]->inflight = 1;
    f.c[2]->inflight = 0;
    f.c[3]->inflight = 0;
    const char *names[] = {"slo", "slo-least-load", "slo-least-load-pulling", "slo-pack-load"};
    for (int set = 0; set < 2; set++) {
        gw_config c;
        const char *with[] = {"gateway", "--slo-default-output-tokens", "4096",
                              "--slo-max-outstanding", "1"};
        assert_int_equal(parse_flags(&c, set ? 5 : 1, with), 0);
        assert_int_equal(c.slo_default_output_tokens, set ? 4096 : 0);
        assert_int_equal(c.slo_max_outstanding, set ? 1 : 0);
        gw_router r;
        assert_int_equal(gw_router_init(&r, &f.cfg, "slo"), 0);
        assert_int_equal(gw_config_configure_router(&c, &r, err, sizeof(err)), 0);
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
            /* no max_tokens: 128 output tokens by default (cell out 16, A), 4096 when set (B) */
            gw_engine *e = settings_pick(&r, &f, names[k], -1);
            assert_string_equal(e->group, set ? "B" : "A");
            /* 16 output tokens: A, whose engines (1 in flight each) are saturated
             * at 1: the pulling names wait for A, the others take B */
            e = settings_pick(&r, &f, names[k], 16);
            if (set && (k == 0 || k == 2))
                assert_null(e);
            else
                assert_string_equal(e->group, set ? "B" : "A");
        }
        gw_router_close(&r);
    }
    gw_config c;
    const char *big[] = {"gateway", "--slo-max-outstanding", "1000001"};
    assert_int_equal(parse_flags(&c, 3, big), -1);
    const char *neg[] = {"gateway", "--slo-default-output-tokens", "-1"};
    assert_int_equal(parse_flags(&c, 3, neg), -1);
    fx_close(&f);
}

/* The pulling variants (slo, slo-least-load-pulling) hold a request
 * (GW_PICK_HOLD; the router returns NULL) when every engine of its cell's
 * groups is saturated (any engine, when those groups have none), instead
 * of sending it; slo-least-load and slo-pack-load still send it to the
 * least loaded. Then the gateway's queue verdict: wait,
 * full (429 at once), timeout (429). */
static void test_slo_pulling_holds(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    char err[256];
    gw_router r;
    assert_int_equal(gw_router_init(&r, &f.cfg, "slo"), 0);
    const char *names[] = {"slo", "slo-least-load-pulling", "slo-least-load", "slo-pack-load"};
    for (size_t k = 0; k < 4; k++)
        assert_int_equal(
            gw_router_configure(&r, names[k], "max-outstanding", "1", err, sizeof(err)), 0);
    gw_route_req rq;
    memset(&rq, 0, sizeof(rq));
    rq.model = "m";
    rq.ntokens = 10; /* the short cell: A */
    rq.max_tokens = 16;
    rq.rnd = 3;
    /* A (the cell's group) at the cap, B free: the pulling variants wait
     * for A rather than send a request to a type its cell was not given;
     * least-load and pack-load take B */
    f.c[0]->inflight = 1;
    f.c[1]->inflight = 1;
    for (size_t k = 0; k < 4; k++) {
        gw_engine *e = gw_router_pick(&r, gw_router_strategy(&r, names[k]), &rq, f.c, 4, NULL);
        if (k < 2) {
            assert_null(e);
        } else {
            assert_non_null(e);
            assert_string_equal(e->group, "B");
        }
    }
    /* A not running at all (no candidate of it): the pulling variants take B */
    for (size_t k = 0; k < 2; k++) {
        gw_engine *e = gw_router_pick(&r, gw_router_strategy(&r, names[k]), &rq, f.c + 2, 2, NULL);
        assert_non_null(e);
        assert_string_equal(e->group, "B");
    }
    /* every engine at the cap (or waiting in the engine): hold */
    f.c[2]->inflight = 1;
    f.c[3]->waiting = 1;
    for (size_t k = 0; k < 2; k++) {
        const gw_strategy *decided = NULL;
        assert_null(gw_router_pick(&r, gw_router_strategy(&r, names[k]), &rq, f.c, 4, &decided));
        assert_ptr_equal(decided, gw_router_strategy(&r, names[k])); /* no fallback */
        const gw_strategy *s = gw_router_strategy(&r, names[k]);
        assert_int_equal(slo_pick(s, NULL, &f, 10, 1), -1); /* no state: declines */
    }
    /* through a plan (the proxy's call): no engine, no fallback named */
    gw_strategy_plan plan;
    assert_int_equal(gw_strategy_plan_parse("slo", &plan, err, sizeof(err)), 0);
    const gw_strategy *fb = gw_router_strategy(&r, "random");
    assert_null(gw_router_pick_plan(&r, &plan, &rq, f.c, 4, &fb));
    assert_null(fb);
    /* least-load and pack-load: no queue, the least loaded of all */
    for (size_t k = 2; k < 4; k++) {
        gw_engine *e = gw_router_pick(&r, gw_router_strategy(&r, names[k]), &rq, f.c, 4, NULL);
        assert_ptr_equal(e, f.c[3]);
    }
    /* one request ends on A: the held one goes there */
    f.c[1]->inflight = 0;
    assert_ptr_equal(gw_router_pick(&r, gw_router_strategy(&r, "slo"), &rq, f.c, 4, NULL), f.c[1]);
    /* a long prompt (B's cell) with B saturated and A free of load waits
     * for B (slo), goes to A under slo-least-load */
    rq.ntokens = 4000;
    assert_null(gw_router_pick(&r, gw_router_strategy(&r, "slo"), &rq, f.c, 4, NULL));
    assert_ptr_equal(
        gw_router_pick(&r, gw_router_strategy(&r, "slo-least-load"), &rq, f.c, 4, NULL), f.c[1]);
    gw_router_close(&r);
    /* the queue's verdicts */
    assert_int_equal(gw_queue_verdict(0, 0, 100, 0, 1), GW_QUEUE_WAIT);
    assert_int_equal(gw_queue_verdict(0, 0, 100, 1, 1), GW_QUEUE_FULL);
    assert_int_equal(gw_queue_verdict(0, 0, 100, 7, 8), GW_QUEUE_WAIT);
    assert_int_equal(gw_queue_verdict(1, 200, 100, 99, 1), GW_QUEUE_WAIT); /* held: no recount */
    assert_int_equal(gw_queue_verdict(1, 200, 200, 0, 1), GW_QUEUE_TIMEOUT);
    /* the queue's flags */
    gw_config c;
    const char *none[] = {"gateway"};
    assert_int_equal(parse_flags(&c, 1, none), 0);
    assert_int_equal(c.slo_queue_max, 256);
    assert_int_equal(c.slo_queue_timeout_ms, 5000);
    const char *set[] = {"gateway", "--slo-queue-max", "2", "--slo-queue-timeout-ms", "300"};
    assert_int_equal(parse_flags(&c, 5, set), 0);
    assert_int_equal(c.slo_queue_max, 2);
    assert_int_equal(c.slo_queue_timeout_ms, 300);
    const char *zero[] = {"gateway", "--slo-queue-max", "0"};
    assert_int_equal(parse_flags(&c, 3, zero), -1);
    const char *big[] = {"gateway", "--slo-queue-timeout-ms", "3600001"};
    assert_int_equal(parse_flags(&c, 3, big), -1);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_nearest_cell),
        cmocka_unit_test(test_weighted_shares),
        cmocka_unit_test(test_slo_routes_by_cell),
        cmocka_unit_test(test_slo_saturation_fallback),
        cmocka_unit_test(test_slo_no_assignment),
        cmocka_unit_test(test_groups_from_sources),
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_config_flag),
        cmocka_unit_test(test_slo_settings_flags),
        cmocka_unit_test(test_slo_pulling_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
