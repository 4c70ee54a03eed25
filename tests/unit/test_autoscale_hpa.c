/* HPA: Kubernetes replica calculator (tolerance band, missing pods),
 * stabilization windows up and down (Kubernetes semantics: min over the up
 * window, max over the down window), behavior rate policies per 60 s
 * period, clamps, boundary checks. Defaults unless said: T 10, tau 0.1,
 * r_up = r_down = 2 (+100 % / -50 % per 60 s), up window 0, down window
 * 300 s, min 1, max 10. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "autoscale/as_policy.h"
#include "autoscale_fixture.h"

static as_spec mkspec(int32_t min, int32_t max, double target)
{
    as_spec s = as_test_spec(AS_STRATEGY_HPA, "llm-hpa", "num_requests_waiting", min, max, target);
    return s;
}

static as_input mkin(int64_t now_s, int32_t cur, uint32_t pods, double total)
{
    as_input in;
    memset(&in, 0, sizeof(in));
    in.now_ms = now_s * 1000;
    in.current = cur;
    in.ready = (int32_t)pods;
    in.n_metrics = 1;
    in.m[0].valid = true;
    in.m[0].stable_total = total;
    in.m[0].stable_pods = pods;
    return in;
}

static int32_t decide(const as_spec *s, as_state *st, as_input in, as_decision *d)
{
    assert_int_equal(as_decide(s, st, &in, d), 0);
    return d->desired;
}

static void test_tolerance_band(void **unused)
{
    (void)unused;
    as_spec s = mkspec(1, 10, 10);
    as_state st;
    as_decision d;
    as_state_init(&st);
    /* 4 pods, total 42: avg 10.5, ratio 1.05, |1 - 1.05| <= 0.1 -> hold 4 */
    assert_int_equal(decide(&s, &st, mkin(0, 4, 4, 42), &d), 4);
    assert_false(d.scale);
    /* total 46: ratio 1.15 -> ceil(1.15 * 4) = ceil(4.6) = 5 */
    as_state_init(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 4, 4, 46), &d), 5);
    assert_non_null(strstr(d.reason, "HPA scale up"));
    /* total 35: ratio 0.875 < 0.9 -> ceil(3.5) = 4: no change */
    as_state_init(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 4, 4, 35), &d), 4);
    /* total 33: ratio 0.825 -> ceil(3.3) = 4; total 29: 0.725 -> ceil(2.9) = 3 */
    as_state_init(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 4, 4, 29), &d), 3);
    /* asymmetric band: tau_down 0.3 keeps ratio 0.725 -> 4 */
    s.scale_down_tolerance = 0.3;
    as_state_init(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 4, 4, 29), &d), 4);
}

static void test_scale_down_window(void **unused)
{
    (void)unused;
    as_spec s = mkspec(1, 10, 10);
    as_state st;
    as_decision d;
    as_state_init(&st);
    /* t=0: total 40 over 4 -> ratio 1 -> 4 */
    assert_int_equal(decide(&s, &st, mkin(0, 4, 4, 40), &d), 4);
    /* t=10: total 20 -> ratio 0.5 -> rec ceil(2) = 2; max over the last
     * 300 s = max(4, 2) = 4 -> hold */
    assert_int_equal(decide(&s, &st, mkin(10, 4, 4, 20), &d), 4);
    assert_int_equal(d.recommended, 2);
    /* t=200: total 30 -> ratio 0.75 -> ceil(3) = 3; max(4, 2, 3) = 4 */
    assert_int_equal(decide(&s, &st, mkin(200, 4, 4, 30), &d), 4);
    /* t=305: cutoff 5 s drops the 4 of t=0; total 20 -> rec 2; window
     * {2@10, 3@200, 2@305} -> 3. Rate: floor(4 / 2) = 2 <= 3, fine. */
    assert_int_equal(decide(&s, &st, mkin(305, 4, 4, 20), &d), 3);
    assert_non_null(strstr(d.reason, "scale-down window 300s holds 3"));
    /* t=505 at 3 pods: total 15 -> ratio 0.5 -> ceil(1.5) = 2; the 3 of
     * t=200 expired (cutoff 205 s) -> max(2@305, 2) = 2 */
    assert_int_equal(decide(&s, &st, mkin(505, 3, 3, 15), &d), 2);
}

static void test_scale_up_window(void **unused)
{
    (void)unused;
    as_spec s = mkspec(1, 10, 10);
    s.up_stabilization_ms = 60000;
    as_state st;
    as_decision d;
    as_state_init(&st);
    /* t=0: 2 pods, total 20 -> ratio 1 -> 2 */
    assert_int_equal(decide(&s, &st, mkin(0, 2, 2, 20), &d), 2);
    /* t=10: total 60 -> ratio 3 -> ceil(6) = 6; the min over the last 60 s
     * = min(2, 6) = 2 -> held at 2 */
    assert_int_equal(decide(&s, &st, mkin(10, 2, 2, 60), &d), 2);
    assert_int_equal(d.recommended, 6);
    assert_non_null(strstr(d.reason, "scale-up window 60s holds 2"));
    assert_int_equal(decide(&s, &st, mkin(30, 2, 2, 60), &d), 2);
    /* t=61: the 2 of t=0 expired -> min(6, 6, 6) = 6; then the rate policy:
     * ceil(2 * 2) = 4 per 60 s -> 4 */
    assert_int_equal(decide(&s, &st, mkin(61, 2, 2, 60), &d), 4);
    assert_non_null(strstr(d.reason, "rate limit 4"));
    /* a short dip resets nothing upward: with a dip to ratio 1 at t=62 the
     * up window min is back to 4 (current) for the next 60 s */
    assert_int_equal(decide(&s, &st, mkin(62, 4, 4, 40), &d), 4);
    assert_int_equal(decide(&s, &st, mkin(90, 4, 4, 120), &d),
                     4); /* ratio 3 -> 12 -> max 10; min(4@62, 10) = 4 */
}

static void test_rate_period(void **unused)
{
    (void)unused;
    as_spec s = mkspec(1, 20, 10);
    as_state st;
    as_decision d;
    as_state_init(&st);
    /* t=0: 2 pods, total 100 -> ratio 5 -> ceil(10) = 10; limit ceil(2 * 2)
     * = 4; event +2 at t=0 */
    assert_int_equal(decide(&s, &st, mkin(0, 2, 2, 100), &d), 4);
    /* t=30, now 4 pods, total 100 -> rec ceil(10) = 10; period start =
     * 4 - 2 added = 2 -> limit 4 -> hold 4 */
    assert_int_equal(decide(&s, &st, mkin(30, 4, 4, 100), &d), 4);
    /* t=61: the +2 of t=0 left the period -> start 4 -> limit 8 -> 8 */
    assert_int_equal(decide(&s, &st, mkin(61, 4, 4, 100), &d), 8);
    /* scale-down: with an empty down window, 8 pods, total 8 -> ceil(0.8)
     * = 1; start 8 -> floor(8 / 2) = 4 -> 4; 30 s later at 4 pods, total 4
     * -> rec 1, but the period start is 4 + 4 removed = 8 -> floor(8/2) = 4 */
    s.down_stabilization_ms = 0;
    as_state_init(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 8, 8, 8), &d), 4);
    assert_int_equal(decide(&s, &st, mkin(30, 4, 4, 4), &d), 4);
    /* t=61: the -4 left the period: floor(4 / 2) = 2 vs rec ceil(0.4) = 1 -> 2 */
    assert_int_equal(decide(&s, &st, mkin(61, 4, 4, 4), &d), 2);
}

static void test_missing_pods(void **unused)
{
    (void)unused;
    as_spec s = mkspec(1, 10, 10);
    as_state st;
    as_decision d;
    as_state_init(&st);
    /* 4 replicas, 2 report total 30: ratio 1.5 (up). The 2 missing count as
     * 0: 30 / (10 * 4) = 0.75 < 1: direction flips -> hold 4 (no cascade) */
    assert_int_equal(decide(&s, &st, mkin(0, 4, 2, 30), &d), 4);
    /* same load with every pod reporting (2 replicas): ceil(1.5 * 2) = 3 */
    as_state_init(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 2, 2, 30), &d), 3);
    /* scale-down with missing pods at target: 2 of 4 report total 6 (0.3);
     * (6 + 2 * 10) / 40 = 0.65 -> ceil(0.65 * 4) = ceil(2.6) = 3 */
    as_state_init(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 4, 2, 6), &d), 3);
    /* heavy load with missing pods: 2 of 4 report total 100 (ratio 5);
     * 100 / 40 = 2.5 -> ceil(2.5 * 4) = 10 -> rate ceil(4 * 2) = 8 */
    as_state_init(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 4, 2, 100), &d), 8);
}

static void test_external_clamps_and_bounds(void **unused)
{
    (void)unused;
    as_spec s = mkspec(1, 10, 10);
    as_state st;
    as_decision d;
    as_state_init(&st);
    /* external (pods 0) total 55 at 2 replicas: 55 / (10 * 2) = 2.75 ->
     * ceil(5.5) = 6 -> rate ceil(2 * 2) = 4 */
    as_input in = mkin(0, 2, 2, 55);
    in.m[0].stable_pods = 0;
    assert_int_equal(decide(&s, &st, in, &d), 4);
    /* max clamp: 8 pods, total 400 -> ceil(40) = 40 -> max 10 (<= rate 16) */
    as_state_init(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 8, 8, 400), &d), 10);
    assert_int_equal(d.metrics[0].recommended, 10);
    /* min clamp: min 3, 4 pods idle -> rec ceil(0) = 0 -> 3; rate floor(4/2)
     * = 2 allows it */
    s.min_replicas = 3;
    s.down_stabilization_ms = 0;
    as_state_init(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 4, 4, 0), &d), 3);
    /* current above max / below min: straight to the bound */
    as_state_init(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 12, 12, 120), &d), 10);
    assert_non_null(strstr(d.reason, "above maxReplicas"));
    assert_int_equal(decide(&s, &st, mkin(0, 2, 2, 20), &d), 3);
    assert_non_null(strstr(d.reason, "below minReplicas"));
    /* current 0 with min > 0: Kubernetes treats it as scaling disabled */
    assert_int_equal(decide(&s, &st, mkin(0, 0, 0, 50), &d), 0);
    assert_non_null(strstr(d.reason, "scaling disabled"));
}

static void test_clock_backwards_clears_history(void **unused)
{
    (void)unused;
    as_spec s = mkspec(1, 10, 10);
    as_state st;
    as_decision d;
    as_state_init(&st);
    assert_int_equal(decide(&s, &st, mkin(1000, 4, 4, 40), &d), 4);
    assert_int_equal(st.stab_down.n, 1);
    /* the clock jumps back: histories cleared, the 4 no longer holds */
    assert_int_equal(decide(&s, &st, mkin(10, 4, 4, 20), &d), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tolerance_band),
        cmocka_unit_test(test_scale_down_window),
        cmocka_unit_test(test_scale_up_window),
        cmocka_unit_test(test_rate_period),
        cmocka_unit_test(test_missing_pods),
        cmocka_unit_test(test_external_clamps_and_bounds),
        cmocka_unit_test(test_clock_backwards_clears_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
