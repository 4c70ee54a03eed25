/* Tests for ctl_rollout, every expectation computed by hand from
 * Kubernetes' Deployment controller rules (the comments show the sums):
 * int-or-percent parsing and rounding, the fenceposts, the rolling update
 * of R = 4 with 25%/25% stepped to completion (availability lagging a step,
 * and instant), the guarantees (never above R + maxSurge, never
 * below R - maxUnavailable available) over many shapes, unhealthy old
 * replicas cleaned up first, a new RS that is not yet available holding
 * back the old ones' scale-down, proportional scaling mid-rollout (R 10 ->
 * 15 and 10 -> 5, rounding, leftovers and ties), Recreate's order, the
 * fleet status and its Available and Progressing conditions, history
 * cleanup, revisions and rollback, the template hash and label-ignoring
 * equality, and the RayCluster predicates and scale-down order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/bx_rand.h"
#include "ctl/ctl_rollout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An RS whose status matches its spec, no annotations, no clusters listed. */
static ctl_rollout_rs rs_make(const char *name, int64_t created, int64_t rev, int spec, int avail)
{
    ctl_rollout_rs r;
    memset(&r, 0, sizeof(r));
    r.name = name;
    r.created_ms = created;
    r.revision = rev;
    r.spec_replicas = spec;
    r.status_replicas = spec;
    r.ready = avail;
    r.available = avail;
    r.desired_ann = -1;
    r.max_ann = -1;
    return r;
}

static ctl_rollout_fleet fleet_make(int replicas, const char *surge, const char *unav)
{
    ctl_rollout_fleet f;
    memset(&f, 0, sizeof(f));
    f.replicas = replicas;
    f.revision_history_limit = 10;
    char err[256];
    assert_int_equal(ctl_rollout_strategy_parse(0, surge, unav, &f.strategy, err, sizeof(err)), 0);
    return f;
}

static ctl_rollout_ios ios(const char *s)
{
    ctl_rollout_ios v;
    char err[128];
    assert_int_equal(ctl_rollout_ios_parse(s, &v, err, sizeof(err)), 0);
    return v;
}

/* ---- int-or-percent -------------------------------------------------------------- */

static void test_ios_parse(void **state)
{
    (void)state;
    ctl_rollout_ios v;
    char err[128];
    assert_int_equal(ctl_rollout_ios_parse("25%", &v, err, sizeof(err)), 0);
    assert_int_equal(v.value, 25);
    assert_int_equal(v.percent, 1);
    assert_int_equal(ctl_rollout_ios_parse("1", &v, err, sizeof(err)), 0);
    assert_int_equal(v.value, 1);
    assert_int_equal(v.percent, 0);
    assert_int_equal(ctl_rollout_ios_parse("150%", &v, err, sizeof(err)), 0);
    assert_int_equal(v.value, 150);
    const char *bad[] = {"",   "%",  "-1", "-5%", "1.5",       "abc%",
                         " 1", "1 ", "+1", "1%%", "1234567890"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ctl_rollout_ios_parse(bad[i], &v, err, sizeof(err)), -1);
    assert_int_equal(ctl_rollout_ios_parse(NULL, &v, err, sizeof(err)), -1);

    /* JSON: integers >= 0 and "N%" strings; a string without '%' is refused */
    json_t *j = json_integer(3);
    assert_int_equal(ctl_rollout_ios_from_json(j, &v, err, sizeof(err)), 0);
    assert_int_equal(v.value, 3);
    assert_int_equal(v.percent, 0);
    json_decref(j);
    j = json_string("30%");
    assert_int_equal(ctl_rollout_ios_from_json(j, &v, err, sizeof(err)), 0);
    assert_int_equal(v.value, 30);
    assert_int_equal(v.percent, 1);
    json_decref(j);
    json_t *nope[] = {json_integer(-1), json_string("1"), json_real(1.5), json_true(),
                      json_string("x%")};
    for (size_t i = 0; i < sizeof(nope) / sizeof(nope[0]); i++) {
        assert_int_equal(ctl_rollout_ios_from_json(nope[i], &v, err, sizeof(err)), -1);
        json_decref(nope[i]);
    }
    assert_non_null(strstr(err, "x%"));

    char buf[16];
    v = ios("25%");
    assert_int_equal(ctl_rollout_ios_format(&v, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "25%");
    v = ios("7");
    assert_int_equal(ctl_rollout_ios_format(&v, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "7");
    assert_int_equal(ctl_rollout_ios_format(&v, buf, 1), -1);
}

static void test_percent_rounding(void **state)
{
    (void)state;
    ctl_rollout_ios p25 = ios("25%"), p33 = ios("33%"), p100 = ios("100%"), p0 = ios("0%");
    ctl_rollout_ios p150 = ios("150%"), two = ios("2");
    /* 25% of 4 = 1 exactly */
    assert_int_equal(ctl_rollout_ios_scaled(&p25, 4, 1), 1);
    assert_int_equal(ctl_rollout_ios_scaled(&p25, 4, 0), 1);
    /* 25% of 3 = 0.75: up 1, down 0 */
    assert_int_equal(ctl_rollout_ios_scaled(&p25, 3, 1), 1);
    assert_int_equal(ctl_rollout_ios_scaled(&p25, 3, 0), 0);
    /* 33% of 10 = 3.3: up 4, down 3 */
    assert_int_equal(ctl_rollout_ios_scaled(&p33, 10, 1), 4);
    assert_int_equal(ctl_rollout_ios_scaled(&p33, 10, 0), 3);
    /* 100% of 7 = 7 both ways; 0% = 0; of 0 replicas = 0 */
    assert_int_equal(ctl_rollout_ios_scaled(&p100, 7, 1), 7);
    assert_int_equal(ctl_rollout_ios_scaled(&p100, 7, 0), 7);
    assert_int_equal(ctl_rollout_ios_scaled(&p0, 7, 1), 0);
    assert_int_equal(ctl_rollout_ios_scaled(&p25, 0, 1), 0);
    /* 150% of 4 = 6; 25% of 10 = 2.5: up 3, down 2 */
    assert_int_equal(ctl_rollout_ios_scaled(&p150, 4, 1), 6);
    assert_int_equal(ctl_rollout_ios_scaled(&p25, 10, 1), 3);
    assert_int_equal(ctl_rollout_ios_scaled(&p25, 10, 0), 2);
    /* a count is a count whatever the total */
    assert_int_equal(ctl_rollout_ios_scaled(&two, 100, 1), 2);
    assert_int_equal(ctl_rollout_ios_scaled(&two, 1, 0), 2);
}

static void test_fenceposts(void **state)
{
    (void)state;
    ctl_rollout_strategy st;
    char err[256];
    int s, u;

    /* the API refuses 0/0, and maxUnavailable above 100% */
    assert_int_equal(ctl_rollout_strategy_parse(0, "0", "0", &st, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "may not be 0"));
    assert_int_equal(ctl_rollout_strategy_parse(0, "0%", "0", &st, err, sizeof(err)), -1);
    assert_int_equal(ctl_rollout_strategy_parse(0, "1", "101%", &st, err, sizeof(err)), -1);
    assert_int_equal(ctl_rollout_strategy_parse(0, "x", "1", &st, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "maxSurge"));
    assert_int_equal(ctl_rollout_strategy_parse(0, "200%", "100%", &st, err, sizeof(err)), 0);
    /* Recreate ignores the limits' values being 0 */
    assert_int_equal(ctl_rollout_strategy_parse(1, "0", "0", &st, err, sizeof(err)), 0);
    assert_int_equal(ctl_rollout_max_surge(&st, 5), 0);
    assert_int_equal(ctl_rollout_max_unavailable(&st, 5), 0);

    /* defaults: 25% / 25% */
    assert_int_equal(ctl_rollout_strategy_parse(0, NULL, "", &st, err, sizeof(err)), 0);
    assert_int_equal(st.max_surge.value, 25);
    assert_int_equal(st.max_surge.percent, 1);
    assert_int_equal(st.max_unavailable.value, 25);

    /* 25%/25% of 4: 1/1. Of 3: surge ceil(0.75) = 1, unavailable floor = 0 (one of them is
     * not 0, so no fencepost). Of 1: 1/0. */
    ctl_rollout_fenceposts(&st, 4, &s, &u);
    assert_int_equal(s, 1);
    assert_int_equal(u, 1);
    ctl_rollout_fenceposts(&st, 3, &s, &u);
    assert_int_equal(s, 1);
    assert_int_equal(u, 0);
    ctl_rollout_fenceposts(&st, 1, &s, &u);
    assert_int_equal(s, 1);
    assert_int_equal(u, 0);

    /* 0/0 (as a stored fleet could hold it): 0/1 */
    st.recreate = 0;
    st.max_surge = ios("0");
    st.max_unavailable = ios("0%");
    ctl_rollout_fenceposts(&st, 5, &s, &u);
    assert_int_equal(s, 0);
    assert_int_equal(u, 1);
    assert_int_equal(ctl_rollout_max_unavailable(&st, 5), 1);
    /* R = 0: MaxUnavailable 0 */
    assert_int_equal(ctl_rollout_max_unavailable(&st, 0), 0);
    /* 10% of 5 both ways: ceil 0.5 = 1, floor = 0 */
    st.max_surge = ios("10%");
    st.max_unavailable = ios("10%");
    ctl_rollout_fenceposts(&st, 5, &s, &u);
    assert_int_equal(s, 1);
    assert_int_equal(u, 0);

    /* maxUnavailable 10 with R = 4: the fencepost says 10, MaxUnavailable caps it at 4 */
    st.max_surge = ios("1");
    st.max_unavailable = ios("10");
    ctl_rollout_fenceposts(&st, 4, &s, &u);
    assert_int_equal(u, 10);
    assert_int_equal(ctl_rollout_max_unavailable(&st, 4), 4);
    assert_int_equal(ctl_rollout_max_surge(&st, 4), 1);
}

/* ---- the rolling update ------------------------------------------------------- */

/* NewRSNewReplicas on its own: R 4, surge 1 (max total 5). */
static void test_new_rs_new_replicas(void **state)
{
    (void)state;
    ctl_rollout_fleet f = fleet_make(4, "25%", "25%");
    assert_int_equal(ctl_rollout_new_rs_new_replicas(&f, 4, 0), 1); /* min(5-4, 4-0) */
    assert_int_equal(ctl_rollout_new_rs_new_replicas(&f, 5, 1), 1); /* total at 5: stay */
    assert_int_equal(ctl_rollout_new_rs_new_replicas(&f, 7, 2), 2); /* above 5: stay too */
    assert_int_equal(ctl_rollout_new_rs_new_replicas(&f, 2, 1), 4); /* min(3, 3) */
    assert_int_equal(ctl_rollout_new_rs_new_replicas(&f, 0, 0), 4); /* min(5, 4): never above R */
    f.strategy.recreate = 1;
    assert_int_equal(ctl_rollout_new_rs_new_replicas(&f, 9, 2), 4);
}

/* The world as the RS controller and KubeRay would make it between passes:
 * spec := target, status.replicas := spec; the new RS's clusters become
 * available one step after they were asked for (lag) or at once; an old RS
 * loses available replicas only as it is scaled down. */
static void world(ctl_rollout_rs *rs, size_t n, int new_idx, const int *target, int lag)
{
    for (size_t i = 0; i < n; i++) {
        int prev = rs[i].spec_replicas;
        rs[i].spec_replicas = target[i];
        rs[i].status_replicas = target[i];
        if ((int)i == new_idx)
            rs[i].available = lag ? (target[i] < prev ? target[i] : prev) : target[i];
        else if (rs[i].available > target[i])
            rs[i].available = target[i];
        rs[i].ready = rs[i].available;
    }
}

/* R = 4, 25% / 25%: surge 1, unavailable 1, so never more than 5 clusters and never fewer than 3
 * available. The new RS's clusters become available a step after they are asked for:
 *   pass 1: no new RS; total 4 < 5: create B with min(1, 4) = 1. Old: maxScaledDown =
 *           5 - 3 - (1 - 0) = 1; available 4 + 0 > 3: A 4 -> 3.        (A, B) = (3, 1)
 *   pass 2: B 1/0: total 4: B + min(1, 3) = 2, stop.                   (3, 2)
 *   pass 3: B 2/1: total 5, no scale up; maxScaledDown = 5 - 3 - 1 = 1;
 *           available 3 + 1 = 4 > 3: A -1.                             (2, 2)
 *   pass 4: B 2/2: total 4: B + 1.                                     (2, 3)
 *   pass 5: B 3/2: maxScaledDown = 5 - 3 - 1 = 1; available 4: A -1.   (1, 3)
 *   pass 6: B 3/3: B + 1.                                              (1, 4)
 *   pass 7: B 4/3: maxScaledDown 1; available 4: A -1.                 (0, 4)
 *   pass 8: B 4/4, no active old RS: nothing.                          */
static void test_worked_example_lagging(void **state)
{
    (void)state;
    ctl_rollout_fleet f = fleet_make(4, "25%", "25%");
    ctl_rollout_rs rs[2] = {rs_make("a", 1000, 1, 4, 4), rs_make("b", 2000, 2, 0, 0)};
    int target[2];
    ctl_rollout_step st;
    static const int want[][2] = {{3, 1}, {3, 2}, {2, 2}, {2, 3}, {1, 3}, {1, 4}, {0, 4}, {0, 4}};

    /* pass 1: the new RS does not exist yet (n = 1) */
    ctl_rollout_rolling(&f, rs, 1, -1, target, &st);
    assert_int_equal(st.create_new, 1);
    assert_int_equal(st.new_replicas, 1);
    assert_int_equal(st.scaled_new, 0);
    assert_int_equal(st.cleaned_up, 0);
    assert_int_equal(st.scaled_down, 1);
    assert_int_equal(target[0], 3);
    target[1] = st.new_replicas;
    world(rs, 2, 1, target, 1);

    for (int pass = 1; pass < 8; pass++) {
        ctl_rollout_rolling(&f, rs, 2, 1, target, &st);
        assert_int_equal(st.create_new, 0);
        assert_int_equal(target[0], want[pass][0]);
        assert_int_equal(target[1], want[pass][1]);
        assert_int_equal(st.new_replicas, target[1]);
        /* +1 new passes scale only the new RS; the others only the old one */
        assert_int_equal(st.scaled_new, target[1] != rs[1].spec_replicas);
        assert_false(st.scaled_new && target[0] != rs[0].spec_replicas);
        assert_true(target[0] + target[1] <= 5);
        world(rs, 2, 1, target, 1);
        assert_true(rs[0].available + rs[1].available >= 3);
    }
    /* done: the status says complete, and the old RS may go under a history limit of 0 */
    ctl_rollout_status s;
    ctl_rollout_status_calc(&f, rs, 2, 1, &s);
    assert_int_equal(s.replicas, 4);
    assert_int_equal(s.updated, 4);
    assert_int_equal(s.available, 4);
    assert_int_equal(s.unavailable, 0);
    assert_int_equal(s.available_cond, 1);
    f.status_replicas = s.replicas;
    f.status_updated = s.updated;
    f.status_available = s.available;
    f.generation = f.observed_generation = 2;
    assert_int_equal(ctl_rollout_complete(&f), 1);
    f.revision_history_limit = 0;
    size_t del[2];
    assert_int_equal(ctl_rollout_history_cleanup(&f, rs, 2, 1, del, 2), 1);
    assert_int_equal(del[0], 0);
}

/* The same with clusters available as soon as asked for:
 *   pass 1: (3, 1) as above.  pass 2: B 1/1, total 4: B + 1 -> (3, 2).
 *   pass 3: B 2/2: maxScaledDown = 5 - 3 - 0 = 2; available 5 > 3: A -2 -> (1, 2).
 *   pass 4: total 3: B + min(2, 2) -> (1, 4).  pass 5: available 5: A -1 -> (0, 4). */
static void test_worked_example_instant(void **state)
{
    (void)state;
    ctl_rollout_fleet f = fleet_make(4, "25%", "25%");
    ctl_rollout_rs rs[2] = {rs_make("a", 1000, 1, 4, 4), rs_make("b", 2000, 2, 0, 0)};
    int target[2];
    ctl_rollout_step st;
    static const int want[][2] = {{3, 1}, {3, 2}, {1, 2}, {1, 4}, {0, 4}, {0, 4}};
    ctl_rollout_rolling(&f, rs, 1, -1, target, &st);
    target[1] = st.new_replicas;
    assert_int_equal(target[0], 3);
    assert_int_equal(target[1], 1);
    world(rs, 2, 1, target, 0);
    for (int pass = 1; pass < 6; pass++) {
        ctl_rollout_rolling(&f, rs, 2, 1, target, &st);
        assert_int_equal(target[0], want[pass][0]);
        assert_int_equal(target[1], want[pass][1]);
        world(rs, 2, 1, target, 0);
    }
}

/* The guarantees over many shapes: from R old replicas, all available, a rolling
 * update never has more than R + surge clusters nor fewer than R - maxUnavailable available,
 * and ends with the new RS at R, all available, and the old one at 0. Each pass the new RS's
 * unavailable clusters become available in random numbers (seeded), an old RS keeps its
 * available ones until scaled below them. Two old RSs (an interrupted earlier rollout). */
static void test_rolling_invariants(void **state)
{
    (void)state;
    static const char *strat[][2] = {{"25%", "25%"}, {"1", "0"}, {"0", "1"},    {"50%", "0"},
                                     {"0%", "100%"}, {"3", "2"}, {"10%", "10%"}};
    uint64_t rng = 7;
    for (int r = 1; r <= 9; r++) {
        for (size_t k = 0; k < sizeof(strat) / sizeof(strat[0]); k++) {
            ctl_rollout_fleet f = fleet_make(r, strat[k][0], strat[k][1]);
            int surge = ctl_rollout_max_surge(&f.strategy, r);
            int min_avail = r - ctl_rollout_max_unavailable(&f.strategy, r);
            int first = r / 3;
            ctl_rollout_rs rs[3] = {rs_make("a", 1, 1, first, first),
                                    rs_make("b", 2, 2, r - first, r - first),
                                    rs_make("c", 3, 3, 0, 0)};
            int target[3], pass, n = 2, new_idx = -1;
            for (pass = 0; pass < 20 * r + 20; pass++) {
                ctl_rollout_step st;
                ctl_rollout_rolling(&f, rs, (size_t)n, new_idx, target, &st);
                assert_int_equal(st.invalid, 0);
                if (new_idx < 0) {
                    n = 3;
                    new_idx = 2;
                    target[2] = st.new_replicas;
                }
                int total = target[0] + target[1] + target[2];
                assert_true(total <= r + surge);
                for (int i = 0; i < 3; i++) {
                    rs[i].spec_replicas = rs[i].status_replicas = target[i];
                    if (i == new_idx) {
                        int missing = target[i] - rs[i].available;
                        if (missing > 0)
                            rs[i].available += (int)(bx_splitmix64(&rng) % (uint64_t)(missing + 1));
                    } else if (rs[i].available > target[i]) {
                        rs[i].available = target[i];
                    }
                    rs[i].ready = rs[i].available;
                }
                assert_true(rs[0].available + rs[1].available + rs[2].available >= min_avail);
                if (rs[0].spec_replicas == 0 && rs[1].spec_replicas == 0 &&
                    rs[2].spec_replicas == r && rs[2].available == r)
                    break;
            }
            if (pass == 20 * r + 20)
                fail_msg("R %d, %s/%s: no end (old %d+%d, new %d/%d)", r, strat[k][0], strat[k][1],
                         rs[0].spec_replicas, rs[1].spec_replicas, rs[2].spec_replicas,
                         rs[2].available);
        }
    }
}

/* A new RS above R comes down to R first (a scale-down of R mid-rollout
 * without annotations). */
static void test_new_rs_above_r(void **state)
{
    (void)state;
    ctl_rollout_fleet f = fleet_make(4, "25%", "25%");
    ctl_rollout_rs rs[2] = {rs_make("a", 1, 1, 2, 2), rs_make("b", 2, 2, 6, 6)};
    int target[2];
    ctl_rollout_step st;
    ctl_rollout_rolling(&f, rs, 2, 1, target, &st);
    assert_int_equal(st.scaled_new, 1);
    assert_int_equal(target[1], 4);
    assert_int_equal(target[0], 2);
}

/* The new RS's unavailable replicas hold the old ones back: R 4, 25%/25%, A 3/3, B 2/0:
 * maxScaledDown = 5 - 3 - (2 - 0) = 0: nothing. With B 2/1: 5 - 3 - 1 = 1, available 3 + 1 = 4
 * > 3: A 3 -> 2. */
static void test_new_not_available_limits(void **state)
{
    (void)state;
    ctl_rollout_fleet f = fleet_make(4, "25%", "25%");
    ctl_rollout_rs rs[2] = {rs_make("a", 1, 1, 3, 3), rs_make("b", 2, 2, 2, 0)};
    int target[2];
    ctl_rollout_step st;
    ctl_rollout_rolling(&f, rs, 2, 1, target, &st);
    assert_int_equal(st.scaled_new, 0);
    assert_int_equal(st.cleaned_up + st.scaled_down, 0);
    assert_int_equal(target[0], 3);
    assert_int_equal(target[1], 2);
    rs[1].available = 1;
    ctl_rollout_rolling(&f, rs, 2, 1, target, &st);
    assert_int_equal(st.scaled_down, 1);
    assert_int_equal(target[0], 2);
    assert_int_equal(target[1], 2);

    /* They bound the cleanup of unhealthy old replicas too. A 3/2, B 2/0: maxScaledDown =
     * 5 - 3 - 2 = 0: A's unhealthy replica stays. A 4/2, B 1/0: 5 - 3 - 1 = 1: A 4 -> 3 (one of
     * its two unhealthy); available 2 + 0 <= 3: nothing more. */
    rs[0] = rs_make("a", 1, 1, 3, 2);
    rs[1] = rs_make("b", 2, 2, 2, 0);
    ctl_rollout_rolling(&f, rs, 2, 1, target, &st);
    assert_int_equal(st.cleaned_up, 0);
    assert_int_equal(target[0], 3);
    rs[0] = rs_make("a", 1, 1, 4, 2);
    rs[1] = rs_make("b", 2, 2, 1, 0);
    ctl_rollout_rolling(&f, rs, 2, 1, target, &st);
    assert_int_equal(st.scaled_new, 0);
    assert_int_equal(st.cleaned_up, 1);
    assert_int_equal(st.scaled_down, 0);
    assert_int_equal(target[0], 3);
    assert_int_equal(target[1], 1);
}

/* Unhealthy old replicas go first (oldest RS first), within maxScaledDown:
 * R 4, 25%/25% (minAvailable 3). Old A (oldest) 2 spec / 1 available, old B 2/2, new C 1/1:
 * total 5, no scale up; maxScaledDown = 5 - 3 - 0 = 2. Cleanup: A min(2, 2 - 1) = 1 -> A 1;
 * B healthy. Then available 1 + 2 + 1 = 4 > 3: one more from the oldest, A 1 -> 0. */
static void test_cleanup_unhealthy_first(void **state)
{
    (void)state;
    ctl_rollout_fleet f = fleet_make(4, "25%", "25%");
    /* listed out of order: the function sorts by creation */
    ctl_rollout_rs rs[3] = {rs_make("b", 2000, 2, 2, 2), rs_make("c", 3000, 3, 1, 1),
                            rs_make("a", 1000, 1, 2, 1)};
    int target[3];
    ctl_rollout_step st;
    ctl_rollout_rolling(&f, rs, 3, 1, target, &st);
    assert_int_equal(st.cleaned_up, 1);
    assert_int_equal(st.scaled_down, 1);
    assert_int_equal(target[2], 0); /* a */
    assert_int_equal(target[0], 2); /* b */
    assert_int_equal(target[1], 1); /* c */

    /* The budget bounds the cleanup: maxSurge 1, maxUnavailable 0 (minAvailable 4).
     * A (oldest) 3/1, B 1/0, new C 1/1: total 5, maxScaledDown = 5 - 4 - 0 = 1.
     * Cleanup: A min(1, 2) = 1 -> 2; budget spent, B (unhealthy too) stays.
     * Available 1 + 0 + 1 = 2 <= 4: no further scale-down. */
    f = fleet_make(4, "1", "0");
    ctl_rollout_rs rs2[3] = {rs_make("a", 1000, 1, 3, 1), rs_make("b", 2000, 2, 1, 0),
                             rs_make("c", 3000, 3, 1, 1)};
    ctl_rollout_rolling(&f, rs2, 3, 2, target, &st);
    assert_int_equal(st.cleaned_up, 1);
    assert_int_equal(st.scaled_down, 0);
    assert_int_equal(target[0], 2);
    assert_int_equal(target[1], 1);
    assert_int_equal(target[2], 1);

    /* An old RS reporting more available than spec: Kubernetes fails the pass there */
    ctl_rollout_rs rs3[2] = {rs_make("a", 1000, 1, 2, 3), rs_make("c", 3000, 3, 3, 3)};
    f = fleet_make(4, "25%", "25%");
    ctl_rollout_rolling(&f, rs3, 2, 1, target, &st);
    assert_int_equal(st.invalid, 1);
    assert_int_equal(target[0], 2);
}

/* ---- Recreate -------------------------------------------------------------------- */

static void test_recreate_order(void **state)
{
    (void)state;
    ctl_rollout_fleet f = fleet_make(3, NULL, NULL);
    f.strategy.recreate = 1;
    ctl_rollout_rs rs[2] = {rs_make("a", 1000, 1, 3, 3), rs_make("b", 2000, 2, 0, 0)};
    rs[0].clusters = 3;
    int target[2];
    ctl_rollout_step st;

    /* 1: every active old RS to 0 (the new one does not exist yet) */
    assert_int_equal(ctl_rollout_recreate(&f, rs, 1, -1, target, &st), CTL_RECREATE_SCALE_DOWN_OLD);
    assert_int_equal(target[0], 0);
    assert_int_equal(st.create_new, 0);
    /* 2: wait while the old RS reports clusters, then while any is still listed */
    rs[0].spec_replicas = 0;
    assert_int_equal(ctl_rollout_recreate(&f, rs, 1, -1, target, &st), CTL_RECREATE_WAIT_OLD);
    rs[0].status_replicas = 0;
    rs[0].available = rs[0].ready = 0;
    rs[0].clusters = 1;
    assert_int_equal(ctl_rollout_recreate(&f, rs, 1, -1, target, &st), CTL_RECREATE_WAIT_OLD);
    /* 3: none left: create the new RS with R */
    rs[0].clusters = 0;
    assert_int_equal(ctl_rollout_recreate(&f, rs, 1, -1, target, &st), CTL_RECREATE_SCALE_UP_NEW);
    assert_int_equal(st.create_new, 1);
    assert_int_equal(st.new_replicas, 3);
    /* an existing new RS (e.g. a rollback) at 0 is scaled to R, then nothing */
    assert_int_equal(ctl_rollout_recreate(&f, rs, 2, 1, target, &st), CTL_RECREATE_SCALE_UP_NEW);
    assert_int_equal(st.create_new, 0);
    assert_int_equal(st.scaled_new, 1);
    assert_int_equal(target[1], 3);
    rs[1].spec_replicas = 3;
    assert_int_equal(ctl_rollout_recreate(&f, rs, 2, 1, target, &st), CTL_RECREATE_DONE);
    /* the new RS is never scaled up while an old one has replicas */
    rs[0].spec_replicas = 1;
    rs[1].spec_replicas = 0;
    assert_int_equal(ctl_rollout_recreate(&f, rs, 2, 1, target, &st), CTL_RECREATE_SCALE_DOWN_OLD);
    assert_int_equal(target[1], 0);
}

/* ---- proportional scaling -------------------------------------------------------------- */

/* Mid-rollout at R 10 (25%: surge 3, so max 13): old A 8, new B 5, both annotated desired 10,
 * max 13. */
static void mid_rollout(ctl_rollout_rs *rs)
{
    rs[0] = rs_make("a", 1000, 1, 8, 8);
    rs[1] = rs_make("b", 2000, 2, 5, 2);
    for (int i = 0; i < 2; i++) {
        rs[i].desired_ann = 10;
        rs[i].max_ann = 13;
    }
}

static void test_proportional_mid_rollout(void **state)
{
    (void)state;
    ctl_rollout_rs rs[2];
    int target[2];
    unsigned char touch[2];
    mid_rollout(rs);

    /* no scaling event at R 10 */
    ctl_rollout_fleet f = fleet_make(10, "25%", "25%");
    assert_int_equal(ctl_rollout_is_scaling_event(&f, rs, 2), 0);

    /* R 10 -> 15: surge ceil(3.75) = 4, allowed 19, add 19 - 13 = 6, largest first:
     * A: round(8 * 19 / 13) - 8 = round(11.69) - 8 = 4 (<= 6) -> 12;
     * B: round(5 * 19 / 13) - 5 = round(7.31) - 5 = 2 (<= 6 - 4) -> 7; leftover 0. */
    f = fleet_make(15, "25%", "25%");
    assert_int_equal(ctl_rollout_is_scaling_event(&f, rs, 2), 1);
    assert_int_equal(ctl_rollout_scale(&f, rs, 2, 1, target, touch), 1);
    assert_int_equal(target[0], 12);
    assert_int_equal(target[1], 7);
    assert_int_equal(touch[0], 1);
    assert_int_equal(touch[1], 1);

    /* the same without max-replicas annotations: status.replicas 13 stands in */
    rs[0].max_ann = rs[1].max_ann = -1;
    f.status_replicas = 13;
    ctl_rollout_scale(&f, rs, 2, 1, target, touch);
    assert_int_equal(target[0], 12);
    assert_int_equal(target[1], 7);
    /* neither annotation nor status: no proportion, the largest takes it all: A 8 + 6 */
    f.status_replicas = 0;
    ctl_rollout_scale(&f, rs, 2, 1, target, NULL);
    assert_int_equal(target[0], 14);
    assert_int_equal(target[1], 5);

    /* R 10 -> 5: surge ceil(1.25) = 2, allowed 7, add 7 - 13 = -6, largest first:
     * A: round(8 * 7 / 13) - 8 = round(4.31) - 8 = -4 (>= -6) -> 4;
     * B: round(5 * 7 / 13) - 5 = round(2.69) - 5 = -2 (>= -2) -> 3. */
    mid_rollout(rs);
    f = fleet_make(5, "25%", "25%");
    assert_int_equal(ctl_rollout_scale(&f, rs, 2, 1, target, touch), 1);
    assert_int_equal(target[0], 4);
    assert_int_equal(target[1], 3);

    /* Rounding to nearest matters with three RSs: A 6, B 4 (old), C 3 (new), max 13,
     * R 10 -> 15 (allowed 19, add 6): A round(6 * 19 / 13 = 8.77) - 6 = 3; B round(5.85) - 4 = 2;
     * C round(4.38) - 3 = 1; leftover 0: 9, 6, 4. */
    ctl_rollout_rs three[3] = {rs_make("a", 1, 1, 6, 6), rs_make("b", 2, 2, 4, 4),
                               rs_make("c", 3, 3, 3, 3)};
    for (int i = 0; i < 3; i++)
        three[i].max_ann = 13;
    int t3[3];
    f = fleet_make(15, "25%", "25%");
    ctl_rollout_scale(&f, three, 3, 2, t3, NULL);
    assert_int_equal(t3[0], 9);
    assert_int_equal(t3[1], 6);
    assert_int_equal(t3[2], 4);

    /* R -> 0: every RS gives up its whole size */
    f = fleet_make(0, "25%", "25%");
    ctl_rollout_scale(&f, rs, 2, 1, target, touch);
    assert_int_equal(target[0], 0);
    assert_int_equal(target[1], 0);
}

/* Leftovers and ties: three RSs of 1 (created 1, 2, 3), max annotation 3, maxSurge 0 /
 * maxUnavailable 1. R 3 -> 4: add 1; every fraction round(1 * 4 / 3) - 1 = 0; the leftover 1
 * goes to the first in size order, ties newest first: c. R 3 -> 2: add -1; fractions
 * round(2 / 3) - 1 = 0; the leftover -1 to the first, ties oldest first: a. */
static void test_proportional_leftover(void **state)
{
    (void)state;
    ctl_rollout_rs rs[3] = {rs_make("b", 2, 2, 1, 1), rs_make("a", 1, 1, 1, 1),
                            rs_make("c", 3, 3, 1, 1)};
    for (int i = 0; i < 3; i++)
        rs[i].max_ann = 3;
    int target[3];
    ctl_rollout_fleet f = fleet_make(4, "0", "1");
    assert_int_equal(ctl_rollout_scale(&f, rs, 3, 2, target, NULL), 1);
    assert_int_equal(target[0], 1);
    assert_int_equal(target[1], 1);
    assert_int_equal(target[2], 2);
    f = fleet_make(2, "0", "1");
    ctl_rollout_scale(&f, rs, 3, 2, target, NULL);
    assert_int_equal(target[0], 1);
    assert_int_equal(target[1], 0);
    assert_int_equal(target[2], 1);
}

/* The short cuts of scale(): one active RS takes R; none active: the new RS (or the newest old
 * one) takes R; a saturated new RS sends the old ones to 0; Recreate spreads nothing. */
static void test_proportional_shortcuts(void **state)
{
    (void)state;
    int target[3];
    unsigned char touch[3];
    ctl_rollout_fleet f = fleet_make(7, "25%", "25%");
    ctl_rollout_rs rs[3] = {rs_make("a", 1, 1, 0, 0), rs_make("b", 2, 2, 5, 5),
                            rs_make("c", 3, 3, 0, 0)};
    assert_int_equal(ctl_rollout_scale(&f, rs, 3, 2, target, touch), 1);
    assert_int_equal(target[1], 7);
    assert_int_equal(touch[0] + touch[1] * 2 + touch[2] * 4, 2);
    rs[1].spec_replicas = 7;
    assert_int_equal(ctl_rollout_scale(&f, rs, 3, 2, target, touch), 0);
    assert_int_equal(touch[1], 0);

    rs[1].spec_replicas = 0; /* none active */
    ctl_rollout_scale(&f, rs, 3, 0, target, NULL);
    assert_int_equal(target[0], 7); /* the new RS */
    assert_int_equal(target[2], 0);
    ctl_rollout_scale(&f, rs, 3, -1, target, NULL);
    assert_int_equal(target[2], 7); /* no new RS: the newest, c */
    assert_int_equal(target[0], 0);

    /* saturated: new c at 7, desired 7, 7 available */
    rs[0].spec_replicas = 2;
    rs[2] = rs_make("c", 3, 3, 7, 7);
    rs[2].desired_ann = 7;
    assert_int_equal(ctl_rollout_scale(&f, rs, 3, 2, target, touch), 1);
    assert_int_equal(target[0], 0);
    assert_int_equal(target[1], 0);
    assert_int_equal(target[2], 7);
    assert_int_equal(touch[0], 1);
    assert_int_equal(touch[1], 0);
    /* not saturated without the desired annotation: proportional instead */
    rs[2].desired_ann = -1;
    rs[0].max_ann = rs[2].max_ann = 9;
    /* 2 + 7 = 7 + 2 (R + surge): nothing to spread, but both get their annotations */
    assert_int_equal(ctl_rollout_scale(&f, rs, 3, 2, target, touch), 0);
    assert_int_equal(touch[0], 1);
    assert_int_equal(touch[2], 1);
    f.strategy.recreate = 1;
    assert_int_equal(ctl_rollout_scale(&f, rs, 3, 2, target, touch), 0);

    /* scaling event: only active RSs with a desired annotation count */
    f = fleet_make(7, "25%", "25%");
    rs[1].desired_ann = 3; /* b has spec 0 */
    rs[2].desired_ann = 7;
    assert_int_equal(ctl_rollout_is_scaling_event(&f, rs, 3), 0);
    rs[0].desired_ann = 6;
    assert_int_equal(ctl_rollout_is_scaling_event(&f, rs, 3), 1);
}

/* ---- status and history ------------------------------------------------------------------- */

static void test_status(void **state)
{
    (void)state;
    /* R 4, 25%/25%: maxUnavailable 1. Old A spec 1, 2 clusters, 2 ready, 1 available;
     * new B spec 4, 3 clusters, 2 ready, 2 available. */
    ctl_rollout_fleet f = fleet_make(4, "25%", "25%");
    ctl_rollout_rs rs[2] = {rs_make("a", 1, 1, 1, 1), rs_make("b", 2, 2, 4, 2)};
    rs[0].status_replicas = 2;
    rs[0].ready = 2;
    rs[1].status_replicas = 3;
    ctl_rollout_status s;
    ctl_rollout_status_calc(&f, rs, 2, 1, &s);
    assert_int_equal(s.replicas, 5);
    assert_int_equal(s.updated, 3);
    assert_int_equal(s.ready, 4);
    assert_int_equal(s.available, 3);
    assert_int_equal(s.unavailable, 2);    /* 5 spec - 3 */
    assert_int_equal(s.available_cond, 1); /* 3 >= 4 - 1 */
    rs[1].available = 1;
    ctl_rollout_status_calc(&f, rs, 2, 1, &s);
    assert_int_equal(s.available_cond, 0); /* 2 < 3 */
    /* Recreate: maxUnavailable 0, so Available needs all 4 */
    f.strategy.recreate = 1;
    rs[1].available = 3;
    ctl_rollout_status_calc(&f, rs, 2, 1, &s);
    assert_int_equal(s.available, 4);
    assert_int_equal(s.available_cond, 1);
    rs[1].available = 2;
    ctl_rollout_status_calc(&f, rs, 2, 1, &s);
    assert_int_equal(s.available_cond, 0);
    /* more available than spec (scaling down): unavailable 0, not negative; no new RS */
    rs[0].spec_replicas = 0;
    rs[1].spec_replicas = 2;
    rs[1].available = 3;
    ctl_rollout_status_calc(&f, rs, 2, -1, &s);
    assert_int_equal(s.unavailable, 0);
    assert_int_equal(s.updated, 0);

    /* complete: updated == replicas == available == R and the generation observed */
    f = fleet_make(4, "25%", "25%");
    f.status_replicas = f.status_updated = f.status_available = 4;
    f.generation = 3;
    f.observed_generation = 3;
    assert_int_equal(ctl_rollout_complete(&f), 1);
    f.generation = 4;
    assert_int_equal(ctl_rollout_complete(&f), 0);
    f.generation = 3;
    f.status_replicas = 5; /* an old cluster still around */
    assert_int_equal(ctl_rollout_complete(&f), 0);
    f.status_replicas = 4;
    f.status_updated = 3;
    assert_int_equal(ctl_rollout_complete(&f), 0);
}

/* The Progressing condition: R 4, last written status 5 replicas, 2 updated, 3 ready,
 * 3 available; deadline 600 s. */
static void test_progress(void **state)
{
    (void)state;
    ctl_rollout_fleet f = fleet_make(4, "25%", "25%");
    f.status_replicas = 5;
    f.status_updated = 2;
    f.status_ready = 3;
    f.status_available = 3;
    f.progress_deadline_s = 600;
    const char *upd = CTL_ROLLOUT_REASON_RS_UPDATED;
    ctl_rollout_status s = {.replicas = 5, .updated = 2, .ready = 3, .available = 3};
    /* nothing moved: keep until 600 s after the last update, strictly */
    assert_int_equal(ctl_rollout_progress(&f, &s, upd, 1000, 601000), CTL_PROGRESS_KEEP);
    assert_int_equal(ctl_rollout_progress(&f, &s, upd, 1000, 601001), CTL_PROGRESS_TIMED_OUT);
    assert_int_equal(ctl_rollout_progress_requeue_ms(&f, &s, upd, 1000, 1000), 600000);
    assert_int_equal(ctl_rollout_progress_requeue_ms(&f, &s, upd, 1000, 600500), 0);
    /* no condition yet: no base to time out from */
    assert_int_equal(ctl_rollout_progress(&f, &s, NULL, 0, 999999999), CTL_PROGRESS_KEEP);
    assert_int_equal(ctl_rollout_progress_requeue_ms(&f, &s, NULL, 0, 0), -1);
    /* already timed out: stays so (and no requeue) */
    assert_int_equal(ctl_rollout_progress(&f, &s, CTL_ROLLOUT_REASON_TIMED_OUT, 1000, 2000),
                     CTL_PROGRESS_TIMED_OUT);
    assert_int_equal(
        ctl_rollout_progress_requeue_ms(&f, &s, CTL_ROLLOUT_REASON_TIMED_OUT, 1000, 2000), -1);
    /* each sign of progress: one more updated, one old fewer, one more ready or available */
    ctl_rollout_status p = s;
    p.updated = 3;
    assert_int_equal(ctl_rollout_progress(&f, &p, upd, 1000, 999999999), CTL_PROGRESS_UPDATED);
    p = s;
    p.replicas = 4; /* old 3 -> 2 */
    assert_int_equal(ctl_rollout_progress(&f, &p, upd, 1000, 999999999), CTL_PROGRESS_UPDATED);
    p = s;
    p.ready = 4;
    assert_int_equal(ctl_rollout_progress(&f, &p, upd, 1000, 999999999), CTL_PROGRESS_UPDATED);
    p = s;
    p.available = 4;
    assert_int_equal(ctl_rollout_progress(&f, &p, upd, 1000, 999999999), CTL_PROGRESS_UPDATED);
    /* complete: 4/4/4 */
    p.replicas = p.updated = p.available = 4;
    assert_int_equal(ctl_rollout_progress(&f, &p, upd, 1000, 2000), CTL_PROGRESS_COMPLETE);
    assert_int_equal(ctl_rollout_progress_requeue_ms(&f, &p, upd, 1000, 2000), -1);
    /* after a completed rollout, a resync with nothing new keeps NewReplicaSetAvailable */
    assert_int_equal(
        ctl_rollout_progress(&f, &p, CTL_ROLLOUT_REASON_NEW_RS_AVAILABLE, 0, 999999999),
        CTL_PROGRESS_KEEP);
    s.replicas = s.updated;
    assert_int_equal(
        ctl_rollout_progress(&f, &s, CTL_ROLLOUT_REASON_NEW_RS_AVAILABLE, 0, 999999999),
        CTL_PROGRESS_KEEP);
    /* no deadline: remove the condition */
    f.progress_deadline_s = 0;
    assert_int_equal(ctl_rollout_progress(&f, &s, upd, 0, 0), CTL_PROGRESS_REMOVE);
    assert_int_equal(ctl_rollout_progress_requeue_ms(&f, &s, upd, 0, 0), -1);
}

static void test_history_cleanup(void **state)
{
    (void)state;
    ctl_rollout_fleet f = fleet_make(2, "25%", "25%");
    /* old r1..r4 (revisions 1..4) listed out of order, r4 still has a replica, r2's last
     * change is not observed yet, x is being deleted (not counted), n is the new RS */
    ctl_rollout_rs rs[6] = {rs_make("r3", 30, 3, 0, 0), rs_make("n", 60, 6, 2, 2),
                            rs_make("r1", 10, 1, 0, 0), rs_make("r4", 40, 4, 1, 1),
                            rs_make("r2", 20, 2, 0, 0), rs_make("x", 5, 0, 0, 0)};
    rs[4].generation = 3;
    rs[4].observed_generation = 2;
    rs[5].deleting = 1;
    size_t del[6];
    /* limit 2: 4 cleanable, 2 candidates by revision: r1 (deleted), r2 (not observed: kept) */
    f.revision_history_limit = 2;
    assert_int_equal(ctl_rollout_history_cleanup(&f, rs, 6, 1, del, 6), 1);
    assert_int_equal(del[0], 2);
    /* limit 0: r1, r2 (kept), r3, r4 (has a replica: kept) */
    f.revision_history_limit = 0;
    assert_int_equal(ctl_rollout_history_cleanup(&f, rs, 6, 1, del, 6), 2);
    assert_int_equal(del[0], 2);
    assert_int_equal(del[1], 0);
    assert_int_equal(ctl_rollout_history_cleanup(&f, rs, 6, 1, del, 1), 1); /* max */
    /* limit 4 (as many as there are): nothing; unlimited: nothing */
    f.revision_history_limit = 4;
    assert_int_equal(ctl_rollout_history_cleanup(&f, rs, 6, 1, del, 6), 0);
    f.revision_history_limit = -1;
    assert_int_equal(ctl_rollout_history_cleanup(&f, rs, 6, 1, del, 6), 0);
    /* status.replicas still 1 (a cluster being deleted) keeps r1 */
    f.revision_history_limit = 2;
    rs[2].status_replicas = 1;
    assert_int_equal(ctl_rollout_history_cleanup(&f, rs, 6, 1, del, 6), 0);

    /* revisions: max, and the second highest for a rollback to 0; -1 (not a number) skipped */
    ctl_rollout_rs rv[4] = {rs_make("a", 1, 1, 0, 0), rs_make("b", 2, 4, 0, 0),
                            rs_make("c", 3, -1, 0, 0), rs_make("d", 4, 3, 0, 0)};
    assert_int_equal(ctl_rollout_max_revision(rv, 4), 4);
    assert_int_equal(ctl_rollout_last_revision(rv, 4), 3);
    assert_int_equal(ctl_rollout_max_revision(rv, 0), 0);
    rv[3].revision = 4;
    assert_int_equal(ctl_rollout_last_revision(rv, 4), 4);

    /* rollback: revision 0 is the last one (second highest); an unknown revision: -1 */
    assert_int_equal(ctl_rollout_rollback_target(rv, 4, 0), 1); /* b and d are 4: b first */
    rv[3].revision = 3;
    assert_int_equal(ctl_rollout_rollback_target(rv, 4, 0), 3); /* d, revision 3 */
    assert_int_equal(ctl_rollout_rollback_target(rv, 4, 1), 0);
    assert_int_equal(ctl_rollout_rollback_target(rv, 4, 7), -1);
    assert_int_equal(ctl_rollout_rollback_target(rv, 1, 0), -1); /* one revision: no last */

    /* the new RS's revision: the old ones' max + 1 (the new RS's own does not count) */
    ctl_rollout_rs nr[3] = {rs_make("a", 1, 1, 0, 0), rs_make("n", 3, 5, 0, 0),
                            rs_make("b", 2, 3, 0, 0)};
    assert_int_equal(ctl_rollout_new_revision(nr, 3, 1), 4);
    assert_int_equal(ctl_rollout_new_revision(nr, 3, -1), 6);
    assert_int_equal(ctl_rollout_new_revision(nr, 0, -1), 1);

    /* revision-history: appended; an empty first entry resets it; the oldest entries go
     * when it would pass 2000 characters; nothing when even the new entry alone is too long */
    char out[4100];
    assert_int_equal(ctl_rollout_revision_history(NULL, "3", out, sizeof(out)), 0);
    assert_string_equal(out, "3");
    assert_int_equal(ctl_rollout_revision_history("1,2", "3", out, sizeof(out)), 0);
    assert_string_equal(out, "1,2,3");
    assert_int_equal(ctl_rollout_revision_history(",9", "3", out, sizeof(out)), 0);
    assert_string_equal(out, "3");
    char hist[2001], big[2002];
    memset(hist, 'a', 1000);
    hist[1000] = ',';
    memset(hist + 1001, 'b', 999);
    hist[2000] = 0; /* 2000 characters: + ",7" is 2002, so the a's go */
    assert_int_equal(ctl_rollout_revision_history(hist, "7", out, sizeof(out)), 0);
    assert_int_equal(strlen(out), 1001);
    assert_true(out[0] == 'b' && strcmp(out + 999, ",7") == 0);
    memset(big, '9', 2001);
    big[2001] = 0;
    assert_int_equal(ctl_rollout_revision_history(hist, big, out, sizeof(out)), 1);
    assert_int_equal(ctl_rollout_revision_history("1,2", "3", out, 5), -1);

    /* annotation parsing */
    assert_int_equal(ctl_rollout_ann_revision(NULL), 0);
    assert_int_equal(ctl_rollout_ann_revision("7"), 7);
    assert_int_equal(ctl_rollout_ann_revision(""), -1);
    assert_int_equal(ctl_rollout_ann_revision("x"), -1);
    assert_int_equal(ctl_rollout_ann_int("3"), 3);
    assert_int_equal(ctl_rollout_ann_int("+3"), 3);
    assert_int_equal(ctl_rollout_ann_int("3x"), -1);
    assert_int_equal(ctl_rollout_ann_int(NULL), -1);
    assert_int_equal(ctl_rollout_ann_int("99999999999"), -1);
}

/* ---- templates ---------------------------------------------------------------------------- */

static const char *TMPL =
    "{\"metadata\":{\"labels\":{\"app\":\"llama\"}},\"spec\":{\"headGroupSpec\":{"
    "\"rayStartParams\":{\"dashboard-host\":\"0.0.0.0\"},\"template\":{\"metadata\":{\"labels\":"
    "{\"role\":\"head\"}},\"spec\":{\"containers\":[{\"name\":\"ray-head\",\"image\":\"vllm:1\"}]"
    "}}},\"workerGroupSpecs\":[{\"groupName\":\"w\",\"replicas\":1,\"rayStartParams\":{},"
    "\"template\":{\"spec\":{\"containers\":[{\"name\":\"ray-worker\",\"image\":\"vllm:1\"}]}}}]}}";

/* The member at a dotted path ("a.b.0.c": digits index arrays), or NULL. */
static json_t *at(json_t *v, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && v;
         tok = strtok_r(NULL, ".", &save))
        v = json_is_array(v) ? json_array_get(v, (size_t)atoi(tok)) : json_object_get(v, tok);
    return v;
}

static json_t *tmpl(void)
{
    json_error_t e;
    json_t *t = json_loads(TMPL, 0, &e);
    assert_non_null(t);
    return t;
}

/* The same template as the RS carries it: the hash label on the RayCluster labels, the fleet
 * label on the head and worker pod templates (and the worker's labels object created). */
static json_t *labelled(void)
{
    json_t *t = tmpl();
    json_object_set_new(json_object_get(json_object_get(t, "metadata"), "labels"),
                        CTL_ROLLOUT_LABEL_HASH, json_string("67dfddbcbc"));
    json_t *spec = json_object_get(t, "spec");
    json_t *head = json_object_get(json_object_get(spec, "headGroupSpec"), "template");
    json_object_set_new(json_object_get(json_object_get(head, "metadata"), "labels"),
                        CTL_ROLLOUT_LABEL_FLEET, json_string("f"));
    json_t *wt =
        json_object_get(json_array_get(json_object_get(spec, "workerGroupSpecs"), 0), "template");
    json_t *meta = json_pack("{s:{s:s, s:s}}", "labels", CTL_ROLLOUT_LABEL_FLEET, "f",
                             CTL_ROLLOUT_LABEL_HASH, "zzz");
    json_object_set_new(wt, "metadata", meta);
    return t;
}

static void test_template_hash(void **state)
{
    (void)state;
    char h1[CTL_ROLLOUT_HASH_LEN], h2[CTL_ROLLOUT_HASH_LEN], err[128];
    json_t *t = tmpl();
    /* FNV-32a of the canonical text (empty rayStartParams dropped, keys sorted):
     * 2389886767 -> SafeEncodeString "67dfddbcbc"; with collisionCount 0: 2156207631 ->
     * "659b64cb75"; 1: 589545198 -> "9df9895fd" */
    assert_int_equal(ctl_rollout_template_hash(t, NULL, h1, err, sizeof(err)), 0);
    assert_string_equal(h1, "67dfddbcbc");
    int32_t cc = 0;
    assert_int_equal(ctl_rollout_template_hash(t, &cc, h2, err, sizeof(err)), 0);
    assert_string_equal(h2, "659b64cb75");
    cc = 1;
    assert_int_equal(ctl_rollout_template_hash(t, &cc, h2, err, sizeof(err)), 0);
    assert_string_equal(h2, "9df9895fd");
    /* stable: again, after the labels are added, and with keys in another order */
    json_t *l = labelled();
    assert_int_equal(ctl_rollout_template_hash(l, NULL, h2, err, sizeof(err)), 0);
    assert_string_equal(h2, h1);
    json_t *r = json_pack("{s:O, s:O}", "spec", json_object_get(t, "spec"), "metadata",
                          json_object_get(t, "metadata"));
    assert_int_equal(ctl_rollout_template_hash(r, NULL, h2, err, sizeof(err)), 0);
    assert_string_equal(h2, h1);
    /* the input is not modified */
    assert_non_null(json_object_get(json_object_get(json_object_get(l, "metadata"), "labels"),
                                    CTL_ROLLOUT_LABEL_HASH));
    /* a different image: a different hash */
    json_t *img = at(t, "spec.headGroupSpec.template.spec.containers.0.image");
    json_string_set(img, "vllm:2");
    assert_int_equal(ctl_rollout_template_hash(t, NULL, h2, err, sizeof(err)), 0);
    assert_string_not_equal(h2, h1);
    for (const char *p = h2; *p; p++)
        assert_non_null(strchr(CTL_ROLLOUT_ALPHANUMS, *p));
    json_t *arr = json_array();
    assert_int_equal(ctl_rollout_template_hash(arr, NULL, h2, err, sizeof(err)), -1);
    json_decref(arr);
    json_decref(t);
    json_decref(l);
    json_decref(r);
}

static void test_template_equal(void **state)
{
    (void)state;
    json_t *t = tmpl(), *l = labelled();
    assert_true(ctl_rollout_template_equal(t, l));
    assert_true(ctl_rollout_template_equal(l, t));
    /* another label is not ignored */
    json_object_set_new(json_object_get(json_object_get(l, "metadata"), "labels"), "x",
                        json_string("1"));
    assert_false(ctl_rollout_template_equal(t, l));
    /* nulls and empty objects count as absent */
    json_t *t2 = tmpl();
    json_object_set_new(json_object_get(t2, "metadata"), "annotations", json_object());
    json_object_set_new(json_object_get(t2, "spec"), "rayVersion", json_null());
    assert_true(ctl_rollout_template_equal(t, t2));
    /* a different worker count is a different template */
    json_object_set_new(
        json_array_get(json_object_get(json_object_get(t2, "spec"), "workerGroupSpecs"), 0),
        "replicas", json_integer(2));
    assert_false(ctl_rollout_template_equal(t, t2));
    assert_false(ctl_rollout_template_equal(t, NULL));
    assert_true(ctl_rollout_template_equal(NULL, NULL));

    /* FindNewReplicaSet: the oldest of the equal ones */
    ctl_rollout_rs rs[3] = {rs_make("n2", 500, 3, 1, 1), rs_make("o", 100, 1, 1, 1),
                            rs_make("n1", 300, 2, 1, 1)};
    json_t *l2 = labelled();
    const json_t *tmpls[3] = {l2, t2, l2};
    assert_int_equal(ctl_rollout_find_new(t, tmpls, rs, 3), 2);
    assert_int_equal(ctl_rollout_find_new(t, tmpls, rs, 2), 0);
    const json_t *none[1] = {t2};
    assert_int_equal(ctl_rollout_find_new(t, none, rs, 1), -1);

    /* rollback's template: the RS's, without the pod-template-hash label, equal to the
     * fleet's it came from */
    json_t *back = ctl_rollout_rollback_template(l2);
    assert_non_null(back);
    assert_null(at(back, "metadata.labels." CTL_ROLLOUT_LABEL_HASH));
    assert_non_null(at(l2, "metadata.labels." CTL_ROLLOUT_LABEL_HASH));
    assert_string_equal(json_string_value(at(back, "metadata.labels.app")), "llama");
    assert_true(ctl_rollout_template_equal(back, t));
    assert_null(ctl_rollout_rollback_template(NULL));
    json_decref(back);
    json_decref(t);
    json_decref(t2);
    json_decref(l);
    json_decref(l2);
}

/* ---- RayClusters ---------------------------------------------------------------------------- */

static ctl_rollout_cluster cl(const char *name, int ready, int64_t cost, int64_t created)
{
    ctl_rollout_cluster c;
    memset(&c, 0, sizeof(c));
    c.name = name;
    c.provisioned = 1;
    c.head_ready = ready;
    c.desired_workers = 2;
    c.ready_workers = 2;
    c.deletion_cost = cost;
    c.created_ms = created;
    return c;
}

static void test_cluster_predicates(void **state)
{
    (void)state;
    ctl_rollout_cluster c = cl("a", 1, 0, 0);
    assert_true(ctl_rollout_cluster_ready(&c));
    assert_true(ctl_rollout_cluster_active(&c));
    c.ready_workers = 1; /* a worker down after provisioning: neither ready nor active */
    assert_false(ctl_rollout_cluster_ready(&c));
    assert_false(ctl_rollout_cluster_active(&c));
    c.provisioned = 0; /* initialising (or the local runner restarting it): active */
    assert_true(ctl_rollout_cluster_active(&c));
    assert_false(ctl_rollout_cluster_ready(&c));
    c.replica_failure = 1;
    assert_false(ctl_rollout_cluster_active(&c));
    c = cl("a", 1, 0, 0);
    c.deleting = 1;
    assert_false(ctl_rollout_cluster_active(&c));
    c = cl("a", 0, 0, 0); /* provisioned, head not ready */
    assert_false(ctl_rollout_cluster_active(&c));

    /* available: Ready for more than minReadySeconds */
    c = cl("a", 1, 0, 0);
    assert_true(ctl_rollout_cluster_available(&c, 0, 0));
    assert_false(ctl_rollout_cluster_available(&c, 10, 50000)); /* ready_since unknown */
    c.ready_since_ms = 1000;
    assert_false(ctl_rollout_cluster_available(&c, 10, 11000)); /* not strictly after */
    assert_true(ctl_rollout_cluster_available(&c, 10, 11001));
    c.head_ready = 0;
    assert_false(ctl_rollout_cluster_available(&c, 0, 11001));

    assert_int_equal(ctl_rollout_ann_deletion_cost("5"), 5);
    assert_int_equal(ctl_rollout_ann_deletion_cost("-3"), -3);
    assert_int_equal(ctl_rollout_ann_deletion_cost("+3"), 0);
    assert_int_equal(ctl_rollout_ann_deletion_cost("x"), 0);
    assert_int_equal(ctl_rollout_ann_deletion_cost(""), 0);
    assert_int_equal(ctl_rollout_ann_deletion_cost(NULL), 0);
    assert_int_equal(ctl_rollout_ann_deletion_cost("3000000000"), 0);
}

static void test_cluster_sort(void **state)
{
    (void)state;
    /* not ready first; then lower deletion cost; then older; then name */
    ctl_rollout_cluster c[6] = {cl("a", 1, 0, 100), cl("b", 0, 9, 300), cl("c", 1, -5, 200),
                                cl("e", 1, 0, 50),  cl("d", 1, 0, 50),  cl("f", 0, 0, 400)};
    ctl_rollout_cluster_sort_delete(c, 6);
    const char *want[] = {"f", "b", "c", "d", "e", "a"};
    for (int i = 0; i < 6; i++)
        assert_string_equal(c[i].name, want[i]);
    assert_true(ctl_rollout_cluster_cmp_delete(&c[0], &c[0]) == 0);
}

static void test_name_suffix(void **state)
{
    (void)state;
    uint64_t s1 = 42, s2 = 42;
    char a[CTL_ROLLOUT_SUFFIX_LEN + 1], b[CTL_ROLLOUT_SUFFIX_LEN + 1];
    ctl_rollout_name_suffix(&s1, a);
    ctl_rollout_name_suffix(&s2, b);
    assert_int_equal(strlen(a), 5);
    assert_string_equal(a, b); /* same seed, same name */
    for (int i = 0; i < 5; i++)
        assert_non_null(strchr(CTL_ROLLOUT_ALPHANUMS, a[i]));
    int differ = 0;
    for (int k = 0; k < 4; k++) {
        ctl_rollout_name_suffix(&s1, b);
        differ |= strcmp(a, b) != 0;
    }
    assert_true(differ);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ios_parse),
        cmocka_unit_test(test_percent_rounding),
        cmocka_unit_test(test_fenceposts),
        cmocka_unit_test(test_new_rs_new_replicas),
        cmocka_unit_test(test_worked_example_lagging),
        cmocka_unit_test(test_worked_example_instant),
        cmocka_unit_test(test_rolling_invariants),
        cmocka_unit_test(test_new_rs_above_r),
        cmocka_unit_test(test_new_not_available_limits),
        cmocka_unit_test(test_cleanup_unhealthy_first),
        cmocka_unit_test(test_recreate_order),
        cmocka_unit_test(test_proportional_mid_rollout),
        cmocka_unit_test(test_proportional_leftover),
        cmocka_unit_test(test_proportional_shortcuts),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_history_cleanup),
        cmocka_unit_test(test_template_hash),
        cmocka_unit_test(test_template_equal),
        cmocka_unit_test(test_cluster_predicates),
        cmocka_unit_test(test_cluster_sort),
        cmocka_unit_test(test_name_suffix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
