/* KPA: fleet-total formula, panic entry / hold / extension / exit, initial
 * panic of a fresh state, rate limits on ready pods, the pending-replica
 * guard, scale-down window, scale to zero after the grace, activation.
 * Defaults unless said: T 10, r_up = r_down = 2, tau 0.1, theta 2, observe
 * 180 s, panic 60 s, down window 0 (to isolate the algorithm), grace 30 s. */
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
    as_spec s = as_test_spec(AS_STRATEGY_KPA, "llm-kpa", "num_requests_running", min, max, target);
    s.down_stabilization_ms = 0;
    return s;
}

/* now in seconds; totals over `pods` reporting pods (pods = ready) */
static as_input mkin(int64_t now_s, int32_t cur, int32_t ready, double stable, double panic)
{
    as_input in;
    memset(&in, 0, sizeof(in));
    in.now_ms = now_s * 1000;
    in.current = cur;
    in.ready = ready;
    in.n_metrics = 1;
    in.m[0].valid = true;
    in.m[0].stable_total = stable;
    in.m[0].stable_pods = (uint32_t)ready;
    in.m[0].panic_valid = true;
    in.m[0].panic_total = panic;
    in.m[0].panic_pods = (uint32_t)ready;
    return in;
}

/* A state as restored from storage: used before, not panicking. */
static void calm(as_state *st)
{
    as_state_init(st);
    st->version = AS_STATE_VERSION;
    st->decisions = 1;
}

static int32_t decide(const as_spec *s, as_state *st, as_input in, as_decision *d)
{
    assert_int_equal(as_decide(s, st, &in, d), 0);
    return d->desired;
}

static void test_stable_uses_fleet_total(void **unused)
{
    (void)unused;
    as_spec s = mkspec(1, 20, 10);
    as_state st;
    as_decision d;
    calm(&st);
    /* 4 pods, total 60: rho = 60/(10*4) = 1.5 > 1.1 -> ceil(60/10) = 6 <= ceil(2*4) = 8 */
    assert_int_equal(decide(&s, &st, mkin(0, 4, 4, 60, 60), &d), 6);
    assert_false(d.panic);
    assert_true(d.scale);
    assert_int_equal(d.recommended, 6);
    assert_non_null(strstr(d.reason, "KPA stable"));
    /* within the band: total 42 -> rho 1.05 -> hold 4 */
    calm(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 4, 4, 42, 42), &d), 4);
    assert_false(d.scale);
    assert_non_null(strstr(d.reason, "within tolerance"));

    /* AIBrix HEAD's bug case: 4 pods at gpu_cache 0.8, T 0.5. HEAD feeds the
     * per-pod 0.8 and gets ceil(0.8/0.5) = 2 (a scale DOWN). Totals: 3.2 ->
     * ceil(3.2/0.5) = ceil(6.4) = 7 (cap 8). */
    as_spec g = mkspec(1, 20, 0.5);
    calm(&st);
    assert_int_equal(decide(&g, &st, mkin(0, 4, 4, 3.2, 3.2), &d), 7);
}

static void test_panic_entry_hold_exit(void **unused)
{
    (void)unused;
    as_spec s = mkspec(1, 20, 10);
    as_state st;
    as_decision d;
    calm(&st);
    /* t=0, 2 pods: stable 20 (rho 1 -> hold 2); panic 50: dppc = ceil(5) = 5,
     * 5 / 2 ready = 2.5 >= 2 -> panic. dP = min(5, ceil(2*2) = 4) = 4;
     * desired = max(dS 2, dP 4) = 4. */
    assert_int_equal(decide(&s, &st, mkin(0, 2, 2, 20, 50), &d), 4);
    assert_true(d.panic);
    assert_non_null(strstr(d.reason, "KPA panic (entered)"));
    assert_true(st.in_panic);
    assert_int_equal(st.max_panic_pods, 4);

    /* t=10, 4 pods, load gone: total 20, rho = 20/40 = 0.5 < 0.9 ->
     * ceil(2) = 2 (>= floor(4/2) = 2); dppc 2 / 4 = 0.5 < 2, not over. Still
     * inside 180 s of panic: no scale-down, max panic pods 4 holds. */
    assert_int_equal(decide(&s, &st, mkin(10, 4, 4, 20, 20), &d), 4);
    assert_true(d.panic);
    assert_int_equal(d.recommended, 4);
    assert_non_null(strstr(d.reason, "panic hold"));
    /* t=180: 180000 > 0 + 180000 is false -> still panicking */
    assert_int_equal(decide(&s, &st, mkin(180, 4, 4, 20, 20), &d), 4);
    assert_true(d.panic);
    /* t=181: past the stable window with no burst -> exit, desired 2 */
    assert_int_equal(decide(&s, &st, mkin(181, 4, 4, 20, 20), &d), 2);
    assert_false(d.panic);
    assert_false(st.in_panic);
    assert_int_equal(st.max_panic_pods, 0);
}

static void test_panic_extended_and_grows(void **unused)
{
    (void)unused;
    as_spec s = mkspec(1, 20, 10);
    as_state st;
    as_decision d;
    calm(&st);
    /* t=0: as above -> 4, panic */
    assert_int_equal(decide(&s, &st, mkin(0, 2, 2, 20, 50), &d), 4);
    /* t=100, 4 pods, new burst: panic 100 -> dppc 10, 10/4 = 2.5 >= 2:
     * panic extended to t=100. dP: rho 2.5 -> min(10, ceil(2*4) = 8) = 8. */
    assert_int_equal(decide(&s, &st, mkin(100, 4, 4, 40, 100), &d), 8);
    assert_int_equal(st.panic_time_ms, 100000);
    assert_int_equal(st.max_panic_pods, 8);
    /* t=279 calm (8 pods, total 40: rho 0.5 -> max(4, floor(8/2)=4) = 4):
     * 279000 > 100000 + 180000 is false -> held at 8 */
    assert_int_equal(decide(&s, &st, mkin(279, 8, 8, 40, 40), &d), 8);
    assert_true(d.panic);
    /* t=281: exit -> 4 */
    assert_int_equal(decide(&s, &st, mkin(281, 8, 8, 40, 40), &d), 4);
    assert_false(d.panic);
}

static void test_fresh_state_starts_in_panic(void **unused)
{
    (void)unused;
    as_spec s = mkspec(1, 20, 10);
    as_state st;
    as_decision d;
    as_state_init(&st);
    /* A fresh scaler with 5 pods: Knative starts in panic holding 5. Load
     * 10: rho 10/50 = 0.2 -> max(ceil(1) = 1, floor(5/2) = 2) = 2, held at 5. */
    assert_int_equal(decide(&s, &st, mkin(0, 5, 5, 10, 10), &d), 5);
    assert_true(d.panic);
    assert_int_equal(decide(&s, &st, mkin(181, 5, 5, 10, 10), &d), 2);
    assert_false(d.panic);
    /* fresh with 1 pod: no initial panic */
    as_state_init(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 1, 1, 10, 10), &d), 1);
    assert_false(d.panic);
}

static void test_rate_limits(void **unused)
{
    (void)unused;
    as_spec s = mkspec(1, 100, 10);
    s.panic_threshold = 100; /* keep panic out of the way */
    as_state st;
    as_decision d;
    calm(&st);
    /* 3 ready, total 300: ceil(30) = 30 > ceil(2 * 3) = 6 -> 6 */
    assert_int_equal(decide(&s, &st, mkin(0, 3, 3, 300, 300), &d), 6);
    /* 8 ready, total 10: rho 0.125 -> ceil(1) = 1 < floor(8 / 2) = 4 -> 4 */
    calm(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 8, 8, 10, 10), &d), 4);
    /* custom rates: r_up 3, r_down 4: ceil(3*3) = 9; floor(8/4) = 2 */
    s.max_scale_up_rate = 3;
    s.max_scale_down_rate = 4;
    calm(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 3, 3, 300, 300), &d), 9);
    calm(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 8, 8, 10, 10), &d), 2);
    /* max clamp: 8 ready, total 1000, r_up 3 -> min(100, 24) = 24 -> max 20 */
    s.max_replicas = 20;
    calm(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 8, 8, 1000, 1000), &d), 20);
    /* min clamp: min 3, 4 ready idle -> max(0, floor(4/4) = 1) = 1 -> 3 */
    s.min_replicas = 3;
    calm(&st);
    assert_int_equal(decide(&s, &st, mkin(0, 4, 4, 0, 0), &d), 3);
}

static void test_pending_replica_guard(void **unused)
{
    (void)unused;
    as_spec s = mkspec(1, 100, 10);
    s.panic_threshold = 100;
    as_state st;
    as_decision d;
    calm(&st);
    /* 6 replicas, 2 ready (4 pending) at total 80: rho over the 2 reporting
     * pods = 80/20 = 4 (up); ceil(80/10) = 8 capped at ceil(2 * 2 ready) = 4,
     * never below the current 6 -> hold 6. AIBrix HEAD: per-pod 40,
     * ceil(40/10) = 4 ... and APA min(ceil(6*4), ceil(2*6)) = 12. */
    assert_int_equal(decide(&s, &st, mkin(0, 6, 2, 80, 80), &d), 6);
    assert_false(d.scale);
}

static void test_scale_down_window(void **unused)
{
    (void)unused;
    as_spec s = mkspec(1, 20, 10);
    s.down_stabilization_ms = 60000;
    as_state st;
    as_decision d;
    calm(&st);
    /* t=0: 4 pods, total 40 -> rho 1 -> 4 */
    assert_int_equal(decide(&s, &st, mkin(0, 4, 4, 40, 40), &d), 4);
    /* t=10: total 10 -> rho 0.25 -> max(1, floor(4/2) = 2) = 2, but the
     * down window's max over (t-60 s, t] = max(4, 2) = 4 */
    assert_int_equal(decide(&s, &st, mkin(10, 4, 4, 10, 10), &d), 4);
    assert_int_equal(d.recommended, 2);
    assert_non_null(strstr(d.reason, "scale-down window 60s holds 4"));
    /* t=60: entry of t=0 is at the cutoff (t <= 0 dropped) -> max(2, 2) = 2 */
    assert_int_equal(decide(&s, &st, mkin(60, 4, 4, 10, 10), &d), 2);
}

static void test_scale_to_zero_after_grace(void **unused)
{
    (void)unused;
    as_spec s = mkspec(0, 10, 10);
    as_state st;
    as_decision d;
    calm(&st);
    /* 1 pod idle: rho 0 -> max(ceil(0) = 0, floor(1/2) = 0) = 0 -> grace
     * 30 s starts at t=0, hold 1 */
    assert_int_equal(decide(&s, &st, mkin(0, 1, 1, 0, 0), &d), 1);
    assert_int_equal(d.recommended, 0);
    assert_non_null(strstr(d.reason, "grace"));
    assert_int_equal(decide(&s, &st, mkin(20, 1, 1, 0, 0), &d), 1);
    /* t=25 load back: total 5 -> rho 0.5 -> ceil(0.5) = 1 -> grace reset */
    assert_int_equal(decide(&s, &st, mkin(25, 1, 1, 5, 5), &d), 1);
    assert_false(st.zero_pending);
    /* t=40 idle again: grace from 40 s; t=69 still 1; t=70 -> 0 */
    assert_int_equal(decide(&s, &st, mkin(40, 1, 1, 0, 0), &d), 1);
    assert_int_equal(decide(&s, &st, mkin(69, 1, 1, 0, 0), &d), 1);
    assert_int_equal(decide(&s, &st, mkin(70, 1, 1, 0, 0), &d), 0);
    assert_true(d.scale);
    /* with min 1 the same load stays at 1 */
    as_spec one = mkspec(1, 10, 10);
    calm(&st);
    assert_int_equal(decide(&one, &st, mkin(0, 1, 1, 0, 0), &d), 1);
    assert_int_equal(decide(&one, &st, mkin(100, 1, 1, 0, 0), &d), 1);
}

static void test_activation_from_zero(void **unused)
{
    (void)unused;
    as_spec s = mkspec(0, 10, 10);
    as_state st;
    as_decision d;
    calm(&st);
    /* no pods, no metric data, 3 requests waiting -> activation-scale 1 */
    as_input in = mkin(0, 0, 0, 0, 0);
    in.m[0].valid = false;
    in.waiting = 3;
    assert_int_equal(decide(&s, &st, in, &d), 1);
    assert_non_null(strstr(d.reason, "activation"));
    /* activation-scale 2 */
    s.activation_scale = 2;
    assert_int_equal(decide(&s, &st, in, &d), 2);
    /* nothing waiting, no data -> stay at 0 */
    in.waiting = 0;
    assert_int_equal(decide(&s, &st, in, &d), 0);
    assert_false(d.scale);
    /* an external total 35 at 0 pods: ceil(3.5) = 4, capped at
     * ceil(r_up * max(1, 0 ready)) = 2 -> 2 */
    s.activation_scale = 1;
    in = mkin(0, 0, 0, 35, 35);
    in.m[0].stable_pods = in.m[0].panic_pods = 0;
    assert_int_equal(decide(&s, &st, in, &d), 2);
    /* min 1 and 0 replicas: scaling disabled (Kubernetes / AIBrix) */
    as_spec one = mkspec(1, 10, 10);
    in.waiting = 5;
    assert_int_equal(decide(&one, &st, in, &d), 0);
    assert_non_null(strstr(d.reason, "scaling disabled"));
}

static void test_multi_metric_and_bad_input(void **unused)
{
    (void)unused;
    as_spec s = mkspec(1, 20, 10);
    s.n_metrics = 2;
    s.metrics[1] = s.metrics[0];
    s.metrics[1].target_value = 5;
    as_state st;
    as_decision d;
    calm(&st);
    /* metric 0: total 30 / 10 -> 3 (rho 1.5 over 2 pods); metric 1: 30 / 5
     * -> 6, capped at ceil(2*2) = 4. max -> 4 from metric 1 */
    as_input in = mkin(0, 2, 2, 30, 30);
    in.n_metrics = 2;
    in.m[1] = in.m[0];
    assert_int_equal(decide(&s, &st, in, &d), 4);
    assert_int_equal(d.metric, 1);
    assert_int_equal(d.metrics[0].recommended, 3);
    /* metric 1 missing: metric 0 alone -> 3 */
    in.m[1].valid = false;
    calm(&st);
    assert_int_equal(decide(&s, &st, in, &d), 3);
    assert_int_equal(d.metric, 0);
    /* none: hold */
    in.m[0].valid = false;
    assert_int_equal(decide(&s, &st, in, &d), 2);
    assert_false(d.has_data);
    /* bad inputs: count mismatch, negative replicas; state untouched */
    as_state before = st;
    in.n_metrics = 1;
    assert_int_equal(as_decide(&s, &st, &in, &d), -1);
    in.n_metrics = 2;
    in.current = -1;
    assert_int_equal(as_decide(&s, &st, &in, &d), -1);
    assert_memory_equal(&before, &st, sizeof(st));
    s.max_replicas = 0;
    in.current = 1;
    assert_int_equal(as_decide(&s, &st, &in, &d), -1);
    assert_non_null(strstr(d.reason, "spec.maxReplicas"));
    assert_int_equal(as_decide(NULL, &st, &in, &d), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stable_uses_fleet_total),
        cmocka_unit_test(test_panic_entry_hold_exit),
        cmocka_unit_test(test_panic_extended_and_grows),
        cmocka_unit_test(test_fresh_state_starts_in_panic),
        cmocka_unit_test(test_rate_limits),
        cmocka_unit_test(test_pending_replica_guard),
        cmocka_unit_test(test_scale_down_window),
        cmocka_unit_test(test_scale_to_zero_after_grace),
        cmocka_unit_test(test_activation_from_zero),
        cmocka_unit_test(test_multi_metric_and_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
