/* opt_core: windows -> load per cell -> ILP -> floors, overrides,
 * hysteresis -> result and assignment, on hand-computed cases.
 *
 * Two GPU types on a 2x2 grid (in 128 | 2048 tokens, out 64 | 512):
 *   l4   $1/h: tputs[out][in] = {{10, 0}, {4, 0}}   cheap, short requests only
 *   a100 $4/h: tputs[out][in] = {{20, 5}, {8, 2}}   needed for long ones
 * Per request on the short cell l4 costs 1/10, a100 4/20: short load goes to
 * l4 (20 rps -> 200 units); the long cell only a100 serves (3 rps -> 150). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "opt/opt_bucket.h"
#include "opt/opt_core.h"

static opt_deploy dep[OPT_CORE_MAX_DEPLOYS + 1];
static opt_trace tr;
static opt_result res;

static void mk_profile(opt_profile *p, const char *gpu, double cost, const double t[2][2])
{
    memset(p, 0, sizeof(*p));
    strcpy(p->gpu, gpu);
    p->cost = cost;
    p->nout = p->nin = 2;
    p->in_tokens[0] = 128;
    p->in_tokens[1] = 2048;
    p->out_tokens[0] = 64;
    p->out_tokens[1] = 512;
    for (int o = 0; o < 2; o++)
        for (int i = 0; i < 2; i++)
            p->tputs[o][i] = t[o][i];
}

static const double T_L4[2][2] = {{10, 0}, {4, 0}};
static const double T_A100[2][2] = {{20, 5}, {8, 2}};

/* dep[0] = l4, dep[1] = a100, no floors, bounds or overrides */
static void two_types(void)
{
    memset(dep, 0, sizeof(dep));
    strcpy(dep[0].name, "l4");
    strcpy(dep[1].name, "a100");
    for (int i = 0; i < 2; i++) {
        strcpy(dep[i].ns, "default");
        dep[i].has_profile = 1;
        dep[i].override = -1;
    }
    mk_profile(&dep[0].profile, "l4", 1.0, T_L4);
    mk_profile(&dep[1].profile, "a100", 4.0, T_A100);
}

static opt_model *model(int window_s, double delay)
{
    /* AIBrix's model (4 slices, 1/100 replica units): the hand-computed
     * numbers below; brix's default is checked in test_whole_replicas */
    opt_core_opts o = {
        .window_s = window_s, .scale_down_delay_s = delay, .slices = 4, .fractional = 1};
    opt_model *m = opt_model_new("m", &o);
    assert_non_null(m);
    char err[160];
    assert_int_equal(opt_model_set_deployments(m, dep, 2, err, sizeof(err)), 0);
    return m;
}

/* one window at ts: nshort of (128 in, 64 out), nlong of (2048, 512) completed;
 * total arrivals (meta_total_reqs; -1 = absent) */
static void window(opt_model *m, int64_t ts, int64_t nshort, int64_t nlong, int64_t total)
{
    opt_trace_init(&tr, ts);
    if (nshort)
        opt_trace_add(&tr, (int32_t)opt_bucket_tick(128), (int32_t)opt_bucket_tick(64), nshort);
    if (nlong)
        opt_trace_add(&tr, (int32_t)opt_bucket_tick(2048), (int32_t)opt_bucket_tick(512), nlong);
    tr.total_reqs = total;
    opt_model_add_window(m, &tr);
}

/* window_s 60 ending at 1000: six windows */
static void six(opt_model *m, int64_t nshort, int64_t nlong)
{
    for (int64_t ts = 940; ts < 1000; ts += 10)
        window(m, ts, nshort, nlong, nshort + nlong);
}

static void run(opt_model *m, int64_t now)
{
    assert_int_equal(opt_model_run(m, now, &res), 0);
    assert_int_equal(res.ok, 1);
    assert_int_equal(res.ndeploys, 2);
}

static void units(int64_t l4, int64_t a100)
{
    assert_int_equal(res.deploys[0].units, l4);
    assert_int_equal(res.deploys[1].units, a100);
    assert_int_equal(res.deploys[0].replicas, (l4 + 99) / 100);
    assert_int_equal(res.deploys[1].replicas, (a100 + 99) / 100);
}

static void test_short_only(void **st)
{
    (void)st;
    two_types();
    opt_model *m = model(60, -1);
    six(m, 200, 0);
    run(m, 1000);
    assert_int_equal(res.status, OPT_ILP_OPTIMAL);
    assert_true(res.rps > 19.999 && res.rps < 20.001);
    assert_int_equal(res.ncells_loaded, 1);
    units(200, 0);
    assert_true(res.cost > 1.999 && res.cost < 2.001);
    assert_true(res.deploys[0].cost > 1.999 && res.deploys[0].cost < 2.001);
    assert_non_null(strstr(res.reason, "20.00 rps in 1 cells"));
    assert_non_null(strstr(res.reason, "l4 2 (200)"));
    assert_non_null(strstr(res.reason, "$2.00/h"));
    opt_model_free(m);
}

static void test_long_only(void **st)
{
    (void)st;
    two_types();
    opt_model *m = model(60, -1);
    six(m, 0, 30);
    run(m, 1000);
    assert_int_equal(res.status, OPT_ILP_OPTIMAL);
    units(0, 150);
    assert_true(res.cost > 7.999 && res.cost < 8.001); /* 2 replicas at $4 */
    opt_model_free(m);
}

static void test_mixed(void **st)
{
    (void)st;
    two_types();
    opt_model *m = model(60, -1);
    six(m, 200, 30);
    run(m, 1000);
    assert_true(res.rps > 22.999 && res.rps < 23.001);
    assert_int_equal(res.ncells_loaded, 2);
    units(200, 150);
    assert_int_equal(res.deploys[0].ilp_units, 200);
    assert_int_equal(res.deploys[1].ilp_units, 150);
    assert_true(res.cost > 9.999 && res.cost < 10.001);
    opt_model_free(m);
}

/* Short chats, then long documents: a100 at once, l4 held for the delay. */
static void test_shift(void **st)
{
    (void)st;
    two_types();
    opt_model *m = model(10, 30);
    window(m, 990, 200, 0, 200);
    run(m, 1000);
    units(200, 0);
    for (int64_t now = 1010; now <= 1030; now += 10) {
        window(m, now - 10, 0, 30, 30);
        run(m, now);
        units(200, 150); /* up at once; down held */
        assert_int_equal(res.deploys[0].ilp_units, 0);
        assert_non_null(strstr(res.reason, "held: l4 2 (asks 0"));
    }
    window(m, 1030, 0, 30, 30);
    run(m, 1040); /* every run for 30 s asked 0 */
    units(0, 150);
    assert_null(strstr(res.reason, "held"));
    opt_model_free(m);
}

/* The count applied after the delay is the highest the runs asked. */
static void test_hysteresis_highest(void **st)
{
    (void)st;
    two_types();
    opt_model *m = model(10, 30);
    window(m, 990, 200, 0, 200);
    run(m, 1000);
    units(200, 0);
    window(m, 1000, 50, 0, 50); /* 5 rps: 50 units, 1 replica */
    run(m, 1010);
    units(200, 0);
    run(m, 1020); /* no load: floor 0 */
    units(200, 0);
    run(m, 1030);
    units(200, 0);
    run(m, 1040); /* runs 1010..1040 asked 1, 0, 0, 0 replicas */
    units(50, 0);
    run(m, 1050); /* runs 1020..1050 all asked 0 */
    units(0, 0);
    /* a run asking as much as applied breaks the streak */
    window(m, 1050, 200, 0, 200);
    run(m, 1060);
    units(200, 0);
    run(m, 1070);
    window(m, 1070, 200, 0, 200);
    run(m, 1080);
    units(200, 0);
    run(m, 1090);
    run(m, 1100);
    units(200, 0); /* the streak began at 1090 */
    run(m, 1120);
    units(0, 0);
    opt_model_free(m);
}

static void test_no_delay_and_no_load(void **st)
{
    (void)st;
    two_types();
    dep[0].min_replicas = 1;
    dep[1].min_replicas = 2;
    opt_model *m = model(60, -1);
    run(m, 1000);
    units(100, 200);
    assert_int_equal(res.status, OPT_ILP_OPTIMAL);
    assert_true(res.rps == 0);
    assert_true(res.cost > 8.999 && res.cost < 9.001);
    assert_non_null(strstr(res.reason, "no load in the last 60 s: floors"));
    /* under load the floors' replicas are paid for: the solve fills them
     * first. a100's two (40 rps of short requests) take all 20 rps: l4
     * stays at its floor, $9/h (the floor applied after the solve, AIBrix's
     * way, would buy l4 a second replica: $10/h) */
    six(m, 200, 0);
    run(m, 1000);
    units(100, 200);
    assert_int_equal(res.deploys[0].ilp_units, 100); /* its floor, in the solve */
    assert_int_equal(res.deploys[1].ilp_units, 200);
    assert_true(res.cost > 8.999 && res.cost < 9.001);
    opt_model_free(m);
}

static void test_override(void **st)
{
    (void)st;
    two_types();
    dep[0].override = 3;
    dep[1].override = 0;
    dep[1].min_replicas = 1; /* the floor holds over an override */
    opt_model *m = model(60, -1);
    six(m, 200, 0);
    run(m, 1000);
    units(300, 100);
    /* a100's floor replica (20 rps) takes the load in the solve */
    assert_int_equal(res.deploys[0].ilp_units, 0);
    assert_non_null(strstr(res.reason, "override: l4 3, a100 0"));
    /* cleared: the optimizer's count again, at once (no delay set) */
    dep[0].override = -1;
    char err[160];
    assert_int_equal(opt_model_set_deployments(m, dep, 2, err, sizeof(err)), 0);
    run(m, 1000);
    units(0, 100);
    opt_model_free(m);
}

static void test_refused(void **st)
{
    (void)st;
    two_types();
    opt_model *m = model(60, -1);
    char err[160] = "";
    dep[1].profile.in_tokens[1] = 4096;
    assert_int_equal(opt_model_set_deployments(m, dep, 2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "a100"));
    two_types();
    err[0] = 0;
    assert_int_equal(opt_model_set_deployments(m, dep, OPT_CORE_MAX_DEPLOYS + 1, err, sizeof(err)),
                     -1);
    assert_true(err[0] != 0);
    err[0] = 0;
    dep[1] = dep[0];
    assert_int_equal(opt_model_set_deployments(m, dep, 2, err, sizeof(err)), -1);
    assert_true(err[0] != 0);
    /* no profile anywhere: nothing to decide */
    two_types();
    dep[0].has_profile = dep[1].has_profile = 0;
    assert_int_equal(opt_model_set_deployments(m, dep, 2, err, sizeof(err)), 0);
    assert_int_equal(opt_model_run(m, 1000, &res), -1);
    assert_non_null(strstr(res.reason, "no Deployment with a profile"));
    opt_model_result(m, &res);
    assert_int_equal(res.ok, 0);
    assert_null(opt_model_assignment_json(m));
    opt_model_free(m);
}

static void test_no_profile_gets_floor(void **st)
{
    (void)st;
    two_types();
    dep[2] = dep[0];
    strcpy(dep[2].name, "t4");
    dep[2].has_profile = 0;
    dep[2].min_replicas = 1;
    opt_core_opts o = {.window_s = 60, .scale_down_delay_s = -1, .slices = 4, .fractional = 1};
    opt_model *m = opt_model_new("m", &o);
    char err[160];
    assert_int_equal(opt_model_set_deployments(m, dep, 3, err, sizeof(err)), 0);
    six(m, 200, 0);
    assert_int_equal(opt_model_run(m, 1000, &res), 0);
    assert_int_equal(res.ndeploys, 3);
    units(200, 0);
    assert_int_equal(res.deploys[2].units, 100);
    assert_non_null(strstr(res.reason, "no profile (floor): t4"));
    opt_model_free(m);
}

/* Windows starting before now - window_s or at/after now do not count. */
static void test_outside_window(void **st)
{
    (void)st;
    two_types();
    opt_model *m = model(60, -1);
    window(m, 930, 0, 1000, 1000);
    window(m, 1000, 0, 1000, 1000);
    six(m, 200, 0);
    run(m, 1000);
    assert_true(res.rps > 19.999 && res.rps < 20.001);
    units(200, 0);
    /* a window far older than the newest is dropped when added */
    window(m, 1000 - OPT_CORE_MAX_WINDOWS * 10 - 10, 0, 1000, 1000);
    opt_model_free(m);
}

static void test_rate_rule(void **st)
{
    (void)st;
    two_types();
    /* the newest window's arrivals (300 / 10 s) beat the span rate (600 / 60 s) */
    opt_model *m = model(60, -1);
    for (int64_t ts = 940; ts < 990; ts += 10)
        window(m, ts, 100, 0, 100);
    window(m, 990, 100, 0, 300);
    run(m, 1000);
    assert_true(res.rps > 29.999 && res.rps < 30.001);
    units(300, 0);
    opt_model_free(m);
    /* the span rate beats the newest window's (50 / 10 s); re-adding a window replaces it */
    m = model(60, -1);
    six(m, 100, 0);
    window(m, 990, 100, 0, 50);
    run(m, 1000);
    assert_true(res.rps > 9.999 && res.rps < 10.001);
    units(100, 0);
    opt_model_free(m);
    /* the span runs from the oldest start to the newest end: 200 in 240 s */
    m = model(240, -1);
    window(m, 760, 100, 0, 0);
    window(m, 990, 100, 0, 0);
    run(m, 1000);
    assert_true(res.rps > 200.0 / 240 - 1e-9 && res.rps < 200.0 / 240 + 1e-9);
    opt_model_free(m);
    /* a v1 window (no meta_total_reqs): its completed count is its rate */
    m = model(10, -1);
    window(m, 990, 100, 0, -1);
    run(m, 1000);
    assert_true(res.rps > 9.999 && res.rps < 10.001);
    opt_model_free(m);
    /* arrivals but nothing completed yet: the previous units stay */
    m = model(10, -1);
    window(m, 990, 100, 0, 100);
    run(m, 1000);
    units(100, 0);
    window(m, 1000, 0, 0, 400);
    run(m, 1010);
    units(100, 0);
    assert_non_null(strstr(res.reason, "none completed"));
    opt_model_free(m);
}

static void test_infeasible_keeps(void **st)
{
    (void)st;
    two_types();
    opt_model *m = model(10, -1);
    window(m, 990, 200, 30, 230);
    run(m, 1000);
    units(200, 150);
    dep[1].max_replicas = 1; /* 100 units cannot serve 3 long rps */
    char err[160];
    assert_int_equal(opt_model_set_deployments(m, dep, 2, err, sizeof(err)), 0);
    window(m, 1000, 0, 30, 30);
    run(m, 1010);
    assert_int_equal(res.status, OPT_ILP_INFEASIBLE);
    units(200, 150);
    assert_non_null(strstr(res.reason, "solve infeasible"));
    assert_non_null(strstr(res.reason, "previous units kept"));
    opt_model_free(m);
}

/* cells[i] of the assignment: in, out and the share of each name */
static void cell(json_t *a, size_t i, int in, int out, double l4, double a100)
{
    json_t *c = json_array_get(json_object_get(a, "cells"), i);
    assert_non_null(c);
    assert_int_equal(json_integer_value(json_object_get(c, "in")), in);
    assert_int_equal(json_integer_value(json_object_get(c, "out")), out);
    json_t *s = json_object_get(c, "share");
    assert_true(json_is_object(s));
    assert_int_equal(json_object_size(s), (l4 > 0) + (a100 > 0));
    if (l4 > 0) assert_true(json_real_value(json_object_get(s, "l4")) == l4);
    if (a100 > 0) assert_true(json_real_value(json_object_get(s, "a100")) == a100);
}

static json_t *assignment(opt_model *m)
{
    char *s = opt_model_assignment_json(m);
    assert_non_null(s);
    json_error_t e;
    json_t *a = json_loads(s, 0, &e);
    free(s);
    assert_non_null(a);
    return a;
}

static void test_assignment(void **st)
{
    (void)st;
    two_types();
    opt_model *m = model(60, -1);
    six(m, 200, 30);
    run(m, 1000);
    assert_int_equal(res.generation, 1);
    json_t *a = assignment(m);
    assert_string_equal(json_string_value(json_object_get(a, "model")), "m");
    assert_int_equal(json_integer_value(json_object_get(a, "generation")), 1);
    assert_int_equal(json_integer_value(json_object_get(a, "ts")), 1000);
    json_t *ds = json_object_get(a, "deployments");
    assert_int_equal(json_array_size(ds), 2);
    json_t *d0 = json_array_get(ds, 0);
    assert_string_equal(json_string_value(json_object_get(d0, "name")), "l4");
    assert_string_equal(json_string_value(json_object_get(d0, "namespace")), "default");
    assert_int_equal(json_integer_value(json_object_get(d0, "units")), 200);
    assert_int_equal(json_integer_value(json_object_get(d0, "replicas")), 2);
    assert_int_equal(json_array_size(json_object_get(a, "cells")), 4); /* every grid cell */
    cell(a, 0, 128, 64, 1, 0);                                         /* loaded: the ILP's */
    cell(a, 1, 2048, 64, 0, 1);  /* no load: only a100 serves it */
    cell(a, 2, 128, 512, 1, 0);  /* no load: l4 $0.25/request, a100 $0.50 */
    cell(a, 3, 2048, 512, 0, 1); /* loaded */
    json_decref(a);
    /* the same again: no new generation; then short only: one more */
    six(m, 200, 30);
    run(m, 1000);
    assert_int_equal(res.generation, 1);
    six(m, 200, 0);
    run(m, 1000);
    assert_int_equal(res.generation, 2);
    units(200, 0);
    a = assignment(m);
    cell(a, 1, 2048, 64, 0, 1); /* no type with replicas serves it: all types */
    cell(a, 3, 2048, 512, 0, 1);
    json_decref(a);
    opt_model_free(m);
}

/* l4 bounded to one replica: half the short slices spill onto a100. */
static void test_assignment_split(void **st)
{
    (void)st;
    two_types();
    dep[0].max_replicas = 1;
    opt_model *m = model(60, -1);
    six(m, 200, 0);
    run(m, 1000);
    units(100, 50);
    assert_true(res.cost > 4.999 && res.cost < 5.001);
    json_t *a = assignment(m);
    cell(a, 0, 128, 64, 0.5, 0.5);
    json_decref(a);
    opt_model_free(m);
}

/* brix's default: continuous shares, whole replicas. Mixed load (20 rps
 * short, 3 rps long): AIBrix's model asks l4 200 + a100 150 units, which
 * KPA runs as 2 + 2 replicas ($10/h). In whole replicas a100 needs 2 for
 * the long 3 rps (1.5 used); its spare half replica serves 10 rps of short
 * requests (0.5 x 20), so l4 needs 1 for the other 10: $1 + $8 = $9/h. */
static void test_whole_replicas(void **st)
{
    (void)st;
    two_types();
    opt_core_opts o = {.window_s = 60, .scale_down_delay_s = -1};
    opt_model *m = opt_model_new("m", &o);
    assert_non_null(m);
    char err[160];
    assert_int_equal(opt_model_set_deployments(m, dep, 2, err, sizeof(err)), 0);
    six(m, 200, 30);
    run(m, 1000);
    units(100, 200);
    assert_true(res.cost > 8.999 && res.cost < 9.001);
    opt_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_replicas),
        cmocka_unit_test(test_short_only),
        cmocka_unit_test(test_long_only),
        cmocka_unit_test(test_mixed),
        cmocka_unit_test(test_shift),
        cmocka_unit_test(test_hysteresis_highest),
        cmocka_unit_test(test_no_delay_and_no_load),
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_no_profile_gets_floor),
        cmocka_unit_test(test_outside_window),
        cmocka_unit_test(test_rate_rule),
        cmocka_unit_test(test_infeasible_keeps),
        cmocka_unit_test(test_assignment),
        cmocka_unit_test(test_assignment_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
