/* gw_breaker: the circuit breaker's transitions, which are what
 * brix_gateway_breaker_opens_total counts. The bug it pins: the gateway
 * counted an "open" for every failure while the breaker was already open,
 * so 8 requests failing together on one engine read as 6 openings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gateway/gw_breaker.h"

#define FAILS 3
#define OPEN_MS 5000

/* One result; returns 1 when it opened the breaker (what the gateway
 * counts). */
static int rec(gw_breaker *b, uint64_t now, int ok)
{
    return gw_breaker_record(b, now, ok, FAILS, OPEN_MS) && b->state == GW_BREAKER_OPEN;
}

static void test_opens_once_after_n_failures(void **state)
{
    (void)state;
    gw_breaker b = {0};
    assert_true(gw_breaker_allows(&b, 0));
    assert_int_equal(rec(&b, 100, 0), 0);
    assert_int_equal(rec(&b, 100, 0), 0);
    assert_int_equal(b.state, GW_BREAKER_CLOSED);
    assert_int_equal(rec(&b, 100, 0), 1); /* the third one opens it */
    assert_int_equal(b.state, GW_BREAKER_OPEN);
    assert_int_equal(b.until_ms, 100 + OPEN_MS);
    assert_false(gw_breaker_allows(&b, 100));
    assert_false(gw_breaker_allows(&b, 100 + OPEN_MS - 1));
}

static void test_failures_while_open_are_not_openings(void **state)
{
    (void)state;
    gw_breaker b = {0};
    int opens = 0;
    /* 8 requests in flight fail together (the engine died under them). */
    for (int i = 0; i < 8; i++)
        opens += rec(&b, 1000 + (uint64_t)i, 0);
    assert_int_equal(opens, 1);
    assert_int_equal(b.state, GW_BREAKER_OPEN);
    /* Late failures neither re-open it nor push the cool-down. */
    assert_int_equal(b.until_ms, 1002 + OPEN_MS);
    assert_int_equal(gw_breaker_record(&b, 4000, 0, FAILS, OPEN_MS), 0);
    assert_int_equal(b.until_ms, 1002 + OPEN_MS);
}

static void test_half_open_probe(void **state)
{
    (void)state;
    gw_breaker b = {0};
    int opens = 0;
    for (int i = 0; i < FAILS; i++)
        opens += rec(&b, 0, 0);
    assert_int_equal(opens, 1);

    /* Cool-down over: one request is let through as the probe. */
    assert_true(gw_breaker_allows(&b, OPEN_MS));
    gw_breaker_picked(&b);
    assert_int_equal(b.state, GW_BREAKER_HALF_OPEN);
    assert_false(gw_breaker_allows(&b, OPEN_MS)); /* only one probe */

    /* The client left: no verdict, another probe may go. */
    gw_breaker_cancel(&b);
    assert_true(gw_breaker_allows(&b, OPEN_MS));
    gw_breaker_picked(&b);

    /* The probe fails: open again, one more opening. */
    opens += rec(&b, OPEN_MS + 10, 0);
    assert_int_equal(opens, 2);
    assert_int_equal(b.state, GW_BREAKER_OPEN);
    assert_int_equal(b.until_ms, 2 * OPEN_MS + 10);
    assert_false(gw_breaker_allows(&b, OPEN_MS + 20));

    /* Next probe succeeds: closed, failures forgotten, not an opening. */
    gw_breaker_picked(&b);
    assert_int_equal(gw_breaker_record(&b, 3 * OPEN_MS, 1, FAILS, OPEN_MS), 1);
    assert_int_equal(b.state, GW_BREAKER_CLOSED);
    assert_int_equal(b.failures, 0);
    assert_true(gw_breaker_allows(&b, 3 * OPEN_MS));
    /* It takes FAILS new failures to open it again. */
    assert_int_equal(rec(&b, 3 * OPEN_MS, 0), 0);
    assert_int_equal(rec(&b, 3 * OPEN_MS, 0), 0);
    assert_int_equal(rec(&b, 3 * OPEN_MS, 0), 1);
}

static void test_success_resets_and_is_no_transition_when_closed(void **state)
{
    (void)state;
    gw_breaker b = {0};
    gw_breaker_picked(&b); /* CLOSED: not a probe */
    assert_int_equal(b.state, GW_BREAKER_CLOSED);
    assert_int_equal(b.probe_inflight, 0);
    assert_int_equal(rec(&b, 0, 0), 0);
    assert_int_equal(rec(&b, 0, 0), 0);
    assert_int_equal(gw_breaker_record(&b, 0, 1, FAILS, OPEN_MS), 0); /* stays closed */
    assert_int_equal(b.failures, 0);
    assert_int_equal(rec(&b, 0, 0), 0); /* consecutive count restarted */
    assert_int_equal(rec(&b, 0, 0), 0);
    assert_int_equal(rec(&b, 0, 0), 1);
    /* A late success while OPEN closes it (the engine answers again). */
    assert_int_equal(gw_breaker_record(&b, 1, 1, FAILS, OPEN_MS), 1);
    assert_int_equal(b.state, GW_BREAKER_CLOSED);
    /* A threshold below 1 behaves as 1. */
    assert_int_equal(gw_breaker_record(&b, 2, 0, 0, OPEN_MS), 1);
    assert_int_equal(b.state, GW_BREAKER_OPEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opens_once_after_n_failures),
        cmocka_unit_test(test_failures_while_open_are_not_openings),
        cmocka_unit_test(test_half_open_probe),
        cmocka_unit_test(test_success_resets_and_is_no_transition_when_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
