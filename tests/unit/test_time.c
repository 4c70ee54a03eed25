/* bx_time: RFC 3339 to and from Unix ms (Kubernetes' condition and event
 * times): offsets and fractions applied, invalid dates refused, and what
 * bx_time_rfc3339 writes parses back to the same second. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/bx_time.h"

static void test_parse(void **state)
{
    (void)state;
    int64_t ms = -1;
    assert_int_equal(bx_time_parse_rfc3339("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(bx_time_parse_rfc3339("1970-01-01T00:00:01.250Z", &ms), 0);
    assert_int_equal(ms, 1250);
    assert_int_equal(bx_time_parse_rfc3339("1970-01-01T01:00:00+01:00", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(bx_time_parse_rfc3339("2026-12-07T15:04:05Z", &ms), 0);
    assert_int_equal(ms, 1796655845000LL);
    const char *bad[] = {"",
                         "2026-02-29T00:00:00Z",
                         "2026-12-07 15:04:05Z",
                         "2026-12-07T15:04:05",
                         "2026-12-07T25:00:00Z",
                         "2026-12-07T15:04:05.Z",
                         NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(bx_time_parse_rfc3339(bad[i], &ms), -1);
}

static void test_format_round_trip(void **state)
{
    (void)state;
    char buf[32];
    bx_time_rfc3339(1796655845123LL, buf, sizeof(buf));
    assert_string_equal(buf, "2026-12-07T15:04:05Z");
    int64_t ms;
    assert_int_equal(bx_time_parse_rfc3339(buf, &ms), 0);
    assert_int_equal(ms, 1796655845000LL);
    bx_time_rfc3339(-5, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    assert_true(bx_time_unix_ms() > 1796655845000LL - 86400000LL * 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_format_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
