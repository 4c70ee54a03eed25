/* opt_ilp: Melange's ILP on GLPK, on cases solved by hand (the expected
 * numbers worked out in each comment) and against brute force over the
 * binary-slice model of opt_ilp.h on small random cases (the solver uses
 * integer slice counts per bucket and type instead; the optimum must be
 * the same). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "opt/opt_ilp.h"

#define EPS 1e-9

static opt_ilp_status solve(opt_ilp_in *in, opt_ilp_out *out, int64_t *units, double *share)
{
    memset(out, 0, sizeof(*out));
    out->units = units;
    out->share = share;
    return opt_ilp_solve(in, out);
}

/* A $1/h, B $2/h. Per request A costs 1/10 = 0.10 and 1/5 = 0.20, B 2/15 =
 * 0.133 and 2/8 = 0.25: A is cheaper on both buckets and takes everything.
 * A: 10/10 + 5/5 = 2 replicas = 200 units, $2.00; B 0. */
static void test_one_type_dominates(void **st)
{
    (void)st;
    double cost[] = {1.0, 2.0}, tput[] = {10, 5, /* B */ 15, 8}, load[] = {10, 5};
    opt_ilp_in in = {.ntypes = 2, .nbuckets = 2, .cost = cost, .tput = tput, .load = load};
    int64_t units[2];
    double share[4];
    opt_ilp_out out;
    assert_int_equal(solve(&in, &out, units, share), OPT_ILP_OPTIMAL);
    assert_string_equal(out.msg, "");
    assert_int_equal(units[0], 200);
    assert_int_equal(units[1], 0);
    assert_true(fabs(out.cost - 2.0) < EPS);
    assert_true(share[0] == 1.0 && share[1] == 0.0); /* bucket 0: A, B */
    assert_true(share[2] == 1.0 && share[3] == 0.0); /* bucket 1 */
    assert_int_equal(out.nunserved, 0);
    assert_true(out.solve_ms >= 0);
}

/* Short requests (bucket 0) and long ones (bucket 1). A $1/h serves 20 short
 * or 1 long rps, B $3/h 30 short or 5 long. Per request: short A 0.05 < B
 * 0.10, long B 0.60 < A 1.00. Loads 40 short, 10 long: A 40/20 = 2
 * replicas (200 units), B 10/5 = 2 (200 units): $2 + $6 = $8. */
static double two_cost[] = {1.0, 3.0}, two_tput[] = {20, 1, /* B */ 30, 5};

static void test_two_types_split(void **st)
{
    (void)st;
    double load[] = {40, 10};
    opt_ilp_in in = {.ntypes = 2, .nbuckets = 2, .cost = two_cost, .tput = two_tput, .load = load};
    int64_t units[2];
    double share[4];
    opt_ilp_out out;
    assert_int_equal(solve(&in, &out, units, share), OPT_ILP_OPTIMAL);
    assert_int_equal(units[0], 200);
    assert_int_equal(units[1], 200);
    assert_true(fabs(out.cost - 8.0) < EPS);
    assert_true(share[0] == 1.0 && share[1] == 0.0);
    assert_true(share[2] == 0.0 && share[3] == 1.0);
}

/* As above with a third bucket of 7 rps that neither type serves (tput 0):
 * reported unserved, the rest solved as before ($8, 200 + 200 units). */
static void test_infeasible_bucket(void **st)
{
    (void)st;
    double tput[] = {20, 1, 0, /* B */ 30, 5, 0}, load[] = {40, 10, 7};
    opt_ilp_in in = {.ntypes = 2, .nbuckets = 3, .cost = two_cost, .tput = tput, .load = load};
    int64_t units[2];
    double share[6];
    opt_ilp_out out;
    assert_int_equal(solve(&in, &out, units, share), OPT_ILP_OPTIMAL);
    assert_int_equal(out.nunserved, 1);
    assert_true(out.unserved_rps == 7.0);
    assert_int_equal(units[0], 200);
    assert_int_equal(units[1], 200);
    assert_true(fabs(out.cost - 8.0) < EPS);
    assert_true(share[4] == 0.0 && share[5] == 0.0);
    assert_true(share[0] == 1.0 && share[3] == 1.0);
}

/* The split case with max_units {100, 500}: A holds at most 1 replica (20
 * short rps = 2 of the 4 short slices of 10 rps). A: 2 slices = 100 units,
 * $1. B: 2 short slices 20/30 = 66.67 units + long 200 = 266.67 -> 267,
 * $8.01. $9.01 (1 short slice on A: 50 units $0.50 + B 33.3+66.7+200 = 300
 * units $9 = $9.50, worse). With {100, 200} B's 200 units are all taken by
 * the long bucket (a long slice of 2.5 rps on A needs 250 units), and A's
 * 100 serve only 20 of the 40 short rps: infeasible. */
static void test_max_units(void **st)
{
    (void)st;
    double load[] = {40, 10};
    int64_t max[] = {100, 500};
    opt_ilp_in in = {.ntypes = 2,
                     .nbuckets = 2,
                     .cost = two_cost,
                     .tput = two_tput,
                     .load = load,
                     .max_units = max};
    int64_t units[2];
    double share[4];
    opt_ilp_out out;
    assert_int_equal(solve(&in, &out, units, share), OPT_ILP_OPTIMAL);
    assert_int_equal(units[0], 100);
    assert_int_equal(units[1], 267);
    assert_true(fabs(out.cost - 9.01) < EPS);
    assert_true(share[0] == 0.5 && share[1] == 0.5);

    max[1] = 200;
    assert_int_equal(solve(&in, &out, units, share), OPT_ILP_INFEASIBLE);
    assert_string_equal(opt_ilp_status_name(out.status), "infeasible");
    assert_true(strlen(out.msg) > 0);
    assert_int_equal(units[0], 0);
    assert_int_equal(units[1], 0);

    max[0] = 0, max[1] = 0;
    assert_int_equal(solve(&in, &out, units, share), OPT_ILP_INFEASIBLE);
}

/* No load at all (even where no type serves): optimal, every unit 0. */
static void test_zero_load(void **st)
{
    (void)st;
    double tput[] = {20, 0, /* B */ 30, 0}, load[] = {0, 0};
    opt_ilp_in in = {.ntypes = 2, .nbuckets = 2, .cost = two_cost, .tput = tput, .load = load};
    int64_t units[2] = {5, 5};
    double share[4] = {1, 1, 1, 1};
    opt_ilp_out out;
    assert_int_equal(solve(&in, &out, units, share), OPT_ILP_OPTIMAL);
    assert_int_equal(units[0], 0);
    assert_int_equal(units[1], 0);
    assert_true(out.cost == 0);
    assert_int_equal(out.nunserved, 0);
    for (int i = 0; i < 4; i++)
        assert_true(share[i] == 0);
}

/* Defaults and rounding. One type, $1/h, 3 rps per replica, 1 rps: 1/3
 * replica = 33.33 units -> 34 (units_per_gpu 0 = 100), $0.34.
 * Slices: one bucket of 10 rps, whole replicas (units_per_gpu 1); A $1 at 4
 * rps, B $0.31 at 1 rps (per request A 0.25 < B 0.31). slices 0 = 4 (slices
 * of 2.5 rps): all on A 10/4 = 2.5 -> 3 units, $3; 3 on A 7.5/4 = 1.875 ->
 * 2 ($2) + 1 on B 2.5 -> 3 ($0.93) = $2.93; 2 + 2: 2 ($2) + 5 ($1.55) =
 * $3.55; 1 + 3: 1 + 8 = $3.48; all B 10 = $3.10. Optimum $2.93, A 2, B 3,
 * shares 0.75 / 0.25. With slices 2 (5 rps): all A $3, 1 + 1: 2 ($2) + 5
 * ($1.55) = $3.55, all B $3.10: optimum all on A, 3 units, $3. */
static void test_defaults_and_rounding(void **st)
{
    (void)st;
    double c1[] = {1.0}, t1[] = {3}, l1[] = {1};
    opt_ilp_in in = {.ntypes = 1, .nbuckets = 1, .cost = c1, .tput = t1, .load = l1};
    int64_t units[2];
    double share[2];
    opt_ilp_out out;
    assert_int_equal(solve(&in, &out, units, share), OPT_ILP_OPTIMAL);
    assert_int_equal(units[0], 34);
    assert_true(fabs(out.cost - 0.34) < EPS);
    assert_true(share[0] == 1.0);

    double c2[] = {1.0, 0.31}, t2[] = {4, 1}, l2[] = {10};
    opt_ilp_in in2 = {
        .ntypes = 2, .nbuckets = 1, .cost = c2, .tput = t2, .load = l2, .units_per_gpu = 1};
    assert_int_equal(solve(&in2, &out, units, share), OPT_ILP_OPTIMAL);
    assert_int_equal(units[0], 2);
    assert_int_equal(units[1], 3);
    assert_true(fabs(out.cost - 2.93) < EPS);
    assert_true(share[0] == 0.75 && share[1] == 0.25);

    in2.slices = 2;
    assert_int_equal(solve(&in2, &out, units, share), OPT_ILP_OPTIMAL);
    assert_int_equal(units[0], 3);
    assert_int_equal(units[1], 0);
    assert_true(fabs(out.cost - 3.0) < EPS);
    assert_true(share[0] == 1.0 && share[1] == 0.0);
}

/* Brute force over the binary-slice model: every slice of every bucket
 * with load on every type that serves it (x[s][g] = 1), units rounded up as
 * the solver does, the cheapest within max_units. */
typedef struct brute {
    const opt_ilp_in *in;
    int S, upg, nslices;
    int slice_b[64];
    double need[8];
    double best;
} brute;

static int64_t units_of(double v)
{
    if (v <= 0) return 0;
    return (int64_t)ceil(v - 1e-9 * (v > 1 ? v : 1));
}

static void brute_rec(brute *bf, int s)
{
    const opt_ilp_in *in = bf->in;
    if (s == bf->nslices) {
        double c = 0;
        for (int g = 0; g < in->ntypes; g++) {
            int64_t u = units_of(bf->need[g]);
            if (in->max_units && u > in->max_units[g]) return;
            c += in->cost[g] * (double)u / bf->upg;
        }
        if (c < bf->best) bf->best = c;
        return;
    }
    int b = bf->slice_b[s];
    for (int g = 0; g < in->ntypes; g++) {
        double t = in->tput[g * in->nbuckets + b];
        if (t <= 0) continue;
        double a = in->load[b] / bf->S / t * bf->upg;
        bf->need[g] += a;
        brute_rec(bf, s + 1);
        bf->need[g] -= a;
    }
}

static uint64_t rs = 0x2545f4914f6cdd1dULL;
static double rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}

static void test_brute_force(void **st)
{
    (void)st;
    int optimal = 0, infeasible = 0, cheaper = 0;
    for (int it = 0; it < 300; it++) {
        int G = 2 + (int)(rnd() * 2), B = 2 + (int)(rnd() * 2), S = 2 + (int)(rnd() * 3);
        int upgs[] = {1, 10, 100};
        int upg = upgs[(int)(rnd() * 3)];
        double cost[3], tput[9], load[3];
        int64_t max[3];
        for (int g = 0; g < G; g++) {
            cost[g] = 0.5 + 3.5 * rnd();
            max[g] = (int64_t)(rnd() * 4 * upg);
        }
        for (int i = 0; i < G * B; i++)
            tput[i] = rnd() < 0.15 ? 0 : 1 + 20 * rnd();
        for (int b = 0; b < B; b++)
            load[b] = rnd() < 0.1 ? 0 : 0.5 + 30 * rnd();
        opt_ilp_in in = {.ntypes = G,
                         .nbuckets = B,
                         .cost = cost,
                         .tput = tput,
                         .load = load,
                         .slices = S,
                         .units_per_gpu = upg,
                         .max_units = rnd() < 0.3 ? max : NULL};
        brute bf = {.in = &in, .S = S, .upg = upg, .best = INFINITY};
        for (int b = 0; b < B; b++) {
            int any = 0;
            for (int g = 0; g < G; g++)
                any |= tput[g * B + b] > 0;
            if (load[b] > 0 && any)
                for (int s = 0; s < S; s++)
                    bf.slice_b[bf.nslices++] = b;
        }
        brute_rec(&bf, 0);
        int64_t units[3];
        double share[9];
        opt_ilp_out out;
        opt_ilp_status r = solve(&in, &out, units, share);
        if (isinf(bf.best)) {
            assert_int_equal(r, OPT_ILP_INFEASIBLE);
            infeasible++;
            continue;
        }
        assert_int_equal(r, OPT_ILP_OPTIMAL);
        optimal++;
        if (fabs(out.cost - bf.best) > 1e-9 * (1 + bf.best))
            fail_msg("case %d: ilp $%.9f, brute force $%.9f", it, out.cost, bf.best);
        /* the result is a solution: shares in 1/S summing to 1 on served
         * buckets, units covering them, the cost theirs */
        double need[3] = {0}, c = 0;
        for (int b = 0; b < B; b++) {
            double sum = 0;
            for (int g = 0; g < G; g++) {
                double sh = share[b * G + g], n = sh * S;
                assert_true(fabs(n - round(n)) < 1e-12);
                if (sh > 0) {
                    assert_true(tput[g * B + b] > 0);
                    need[g] += sh * load[b] / tput[g * B + b] * upg;
                }
                sum += sh;
            }
            assert_true(sum == 0 || fabs(sum - 1) < 1e-12);
        }
        for (int g = 0; g < G; g++) {
            assert_true((double)units[g] >= need[g] - 1e-6);
            if (in.max_units) assert_true(units[g] <= max[g]);
            c += cost[g] * (double)units[g] / upg;
        }
        assert_true(fabs(c - out.cost) < 1e-9 * (1 + c));
        /* continuous shares: a solution (shares sum to 1, units cover the
         * load), never costlier than the slice model's optimum */
        in.continuous = 1;
        r = solve(&in, &out, units, share);
        assert_int_equal(r, OPT_ILP_OPTIMAL);
        assert_true(out.cost <= bf.best + 1e-9 * (1 + bf.best));
        double needc[3] = {0};
        for (int b = 0; b < B; b++) {
            double sum = 0;
            for (int g = 0; g < G; g++) {
                double sh = share[b * G + g];
                if (sh > 0) needc[g] += sh * load[b] / tput[g * B + b] * upg;
                sum += sh;
            }
            assert_true(sum == 0 || fabs(sum - 1) < 1e-6);
        }
        for (int g = 0; g < G; g++) {
            assert_true((double)units[g] >= needc[g] - 1e-6);
            if (in.max_units) assert_true(units[g] <= max[g]);
        }
        if (out.cost < bf.best - 1e-9 * (1 + bf.best)) cheaper++;
    }
    /* both outcomes were exercised, and finer splits paid off somewhere */
    assert_true(cheaper > 0);
    assert_true(optimal > 100);
    assert_true(infeasible > 5);
}

/* A time limit too short for a 4 x 400 instance: TIMEOUT, unless this
 * machine proves it optimal in 1 ms; either way a non-optimal answer
 * carries no units and says why. */
static void test_time_limit(void **st)
{
    (void)st;
    enum { G = 4, B = 400 };
    static double tput[G * B], load[B];
    double cost[G] = {1.0, 0.8, 1.9, 3.7};
    for (int b = 0; b < B; b++) {
        load[b] = 1 + 100 * rnd();
        for (int g = 0; g < G; g++)
            tput[g * B + b] = 0.5 + 50 * rnd();
    }
    opt_ilp_in in = {
        .ntypes = G, .nbuckets = B, .cost = cost, .tput = tput, .load = load, .time_limit_ms = 1};
    int64_t units[G];
    opt_ilp_out out;
    opt_ilp_status r = solve(&in, &out, units, NULL);
    if (r == OPT_ILP_OPTIMAL) return;
    assert_int_equal(r, OPT_ILP_TIMEOUT);
    assert_string_equal(opt_ilp_status_name(out.status), "timeout");
    assert_non_null(strstr(out.msg, "within 1 ms"));
    for (int g = 0; g < G; g++)
        assert_int_equal(units[g], 0);
    assert_true(out.cost == 0);
}

static void test_bad_input(void **st)
{
    (void)st;
    double cost[] = {1.0, 3.0}, tput[] = {20, 1, 30, 5}, load[] = {40, 10};
    int64_t units[2];
    opt_ilp_out out;
    opt_ilp_in ok = {.ntypes = 2, .nbuckets = 2, .cost = cost, .tput = tput, .load = load};
    opt_ilp_in in;
#define BAD(mut, field)                                                                            \
    do {                                                                                           \
        in = ok;                                                                                   \
        mut;                                                                                       \
        assert_int_equal(solve(&in, &out, units, NULL), OPT_ILP_ERROR);                            \
        if (!strstr(out.msg, field)) fail_msg("msg \"%s\" lacks \"%s\"", out.msg, field);          \
    } while (0)
    BAD(in.ntypes = 0, "ntypes");
    BAD(in.ntypes = OPT_ILP_MAX_TYPES + 1, "ntypes");
    BAD(in.nbuckets = 0, "nbuckets");
    BAD(in.nbuckets = OPT_ILP_MAX_BUCKETS + 1, "nbuckets");
    BAD(in.slices = -1, "slices");
    BAD(in.units_per_gpu = -1, "units_per_gpu");
    BAD(in.time_limit_ms = NAN, "time_limit_ms");
    BAD(in.cost = NULL, "cost");
    BAD(in.tput = NULL, "tput");
    BAD(in.load = NULL, "load");
    double nan_cost[] = {1.0, NAN}, neg_tput[] = {20, 1, -30, 5}, inf_load[] = {INFINITY, 1};
    double neg_load[] = {40, -1};
    int64_t neg_max[] = {1, -1};
    BAD(in.cost = nan_cost, "cost[1]");
    BAD(in.tput = neg_tput, "tput[1][0]");
    BAD(in.load = inf_load, "load[0]");
    BAD(in.load = neg_load, "load[1]");
    BAD(in.max_units = neg_max, "max_units[1]");
#undef BAD
    in = ok;
    memset(&out, 0, sizeof(out));
    assert_int_equal(opt_ilp_solve(&in, &out), OPT_ILP_ERROR); /* units NULL */
    assert_non_null(strstr(out.msg, "units"));
    assert_int_equal(opt_ilp_solve(NULL, &out), OPT_ILP_ERROR);
    assert_int_equal(opt_ilp_solve(&in, NULL), OPT_ILP_ERROR);
    /* the good input still solves */
    assert_int_equal(solve(&ok, &out, units, NULL), OPT_ILP_OPTIMAL);
    assert_int_equal(units[0] + units[1], 400);
}

static void test_status_names(void **st)
{
    (void)st;
    assert_string_equal(opt_ilp_status_name(OPT_ILP_OPTIMAL), "optimal");
    assert_string_equal(opt_ilp_status_name(OPT_ILP_INFEASIBLE), "infeasible");
    assert_string_equal(opt_ilp_status_name(OPT_ILP_TIMEOUT), "timeout");
    assert_string_equal(opt_ilp_status_name(OPT_ILP_ERROR), "error");
    assert_string_equal(opt_ilp_status_name((opt_ilp_status)99), "error");
}

/* Continuous shares with the replicas fixed leave ties; the cheapest type
 * per request takes them. A10G $1.006 (14.4 rps of chats, no documents,
 * a floor of 1), A100 $5.121 (30.1 chats, 0.97 documents), H100 $12.29:
 * 0.29 rps of documents buy one A100, whose spare capacity could take the
 * chats at no cost; the chats go to the A10G floor (cheaper per request)
 * up to its 14.4 rps, the rest to the A100 (17 rps: 14.4/17 = 0.847).
 * Without the tie-break GLPK's vertex put every chat on the A100. */
static void test_tie_cheapest_per_request(void **st)
{
    (void)st;
    double cost[3] = {1.006, 5.121, 12.29}, tput[6] = {14.4, 0, 30.1, 0.97, 30.6, 3.72};
    int64_t minu[3] = {1, 0, 0}, units[3];
    double share[6];
    double chats[] = {5, 11, 14, 17};
    for (size_t k = 0; k < 4; k++) {
        double load[2] = {chats[k], 0.29};
        opt_ilp_in in = {.ntypes = 3,
                         .nbuckets = 2,
                         .cost = cost,
                         .tput = tput,
                         .load = load,
                         .min_units = minu,
                         .units_per_gpu = 1,
                         .continuous = 1};
        opt_ilp_out out;
        assert_int_equal(solve(&in, &out, units, share), OPT_ILP_OPTIMAL);
        assert_int_equal(units[0], 1);
        assert_int_equal(units[1], 1);
        assert_int_equal(units[2], 0);
        double want = chats[k] <= 14.4 ? 1.0 : 14.4 / chats[k];
        assert_true(fabs(share[0 * 3 + 0] - want) < 1e-6);
        assert_true(fabs(share[1 * 3 + 1] - 1.0) < 1e-6); /* documents: A100 */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tie_cheapest_per_request),
        cmocka_unit_test(test_one_type_dominates),
        cmocka_unit_test(test_two_types_split),
        cmocka_unit_test(test_infeasible_bucket),
        cmocka_unit_test(test_max_units),
        cmocka_unit_test(test_zero_load),
        cmocka_unit_test(test_defaults_and_rounding),
        cmocka_unit_test(test_brute_force),
        cmocka_unit_test(test_time_limit),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
