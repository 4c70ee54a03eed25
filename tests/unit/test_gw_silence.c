/* gw_silence: the pace-scaled silence bound of a stream in flight (issue 13,
 * finding 5: a stream on a hung engine stayed silent for the 300 s idle
 * default). GW_SILENCE_FACTOR x the longest gap so far, within
 * [floor, ceiling]; ceiling 0 means no bound, floor 0 the ceiling alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gateway/gw_silence.h"

static void test_scaled_by_the_longest_gap(void **st)
{
    (void)st;
    /* 2 s gaps seen: 10x, inside [15 s, 60 s] */
    assert_int_equal(gw_silence_bound_ms(2000, 15000, 60000), 2000 * GW_SILENCE_FACTOR);
    assert_int_equal(gw_silence_bound_ms(3000, 1000, 60000), 3000 * GW_SILENCE_FACTOR);
}

static void test_floor_for_fast_streams(void **st)
{
    (void)st;
    /* 20 ms between tokens must not make a 200 ms bound */
    assert_int_equal(gw_silence_bound_ms(20, 15000, 60000), 15000);
    assert_int_equal(gw_silence_bound_ms(0, 15000, 60000), 15000); /* one chunk so far */
    assert_int_equal(gw_silence_bound_ms(1500, 15000, 60000), 15000);
}

static void test_ceiling_is_the_idle_timeout(void **st)
{
    (void)st;
    assert_int_equal(gw_silence_bound_ms(6000, 15000, 60000), 60000);
    assert_int_equal(gw_silence_bound_ms(6001, 15000, 60000), 60000);
    assert_int_equal(gw_silence_bound_ms(5999, 15000, 60000), 59990);
    /* huge gaps do not overflow into a small bound */
    assert_int_equal(gw_silence_bound_ms(UINT64_MAX, 15000, 60000), 60000);
    assert_int_equal(gw_silence_bound_ms(UINT64_MAX / 10 + 1, 1, UINT64_MAX), UINT64_MAX);
    assert_int_equal(gw_silence_bound_ms(UINT64_MAX / 10, 1, UINT64_MAX), UINT64_MAX / 10 * 10);
}

static void test_off_switches(void **st)
{
    (void)st;
    /* --stream-idle-timeout-ms 0: no bound at all */
    assert_int_equal(gw_silence_bound_ms(2000, 15000, 0), 0);
    /* --stream-silence-min-ms 0, or a floor at or over the ceiling: the ceiling alone */
    assert_int_equal(gw_silence_bound_ms(20, 0, 60000), 60000);
    assert_int_equal(gw_silence_bound_ms(20, 60000, 60000), 60000);
    assert_int_equal(gw_silence_bound_ms(20, 90000, 60000), 60000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scaled_by_the_longest_gap),
        cmocka_unit_test(test_floor_for_fast_streams),
        cmocka_unit_test(test_ceiling_is_the_idle_timeout),
        cmocka_unit_test(test_off_switches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
