/* eng_group's parsers of what workers send (X-Brix-Group-Rank,
 * X-Brix-Group-Nonce) and of the leader URL (--group-leader,
 * BRIX_GROUP_LEADER). The wire itself: tests/e2e/test_engine_group.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/eng_group.h"

static void test_rank(void **st)
{
    (void)st;
    int r = 0;
    assert_int_equal(eng_group_parse_rank("1", 3, &r), 0);
    assert_int_equal(r, 1);
    assert_int_equal(eng_group_parse_rank("2", 3, &r), 0);
    assert_int_equal(r, 2);
    assert_int_equal(eng_group_parse_rank("3", 3, &r), -1); /* out of 1..N-1 */
    assert_int_equal(eng_group_parse_rank("0", 3, &r), -1); /* the leader's */
    assert_int_equal(eng_group_parse_rank("-1", 3, &r), -1);
    assert_int_equal(eng_group_parse_rank(" 1", 3, &r), -1);
    assert_int_equal(eng_group_parse_rank("1x", 3, &r), -1);
    assert_int_equal(eng_group_parse_rank("", 3, &r), -1);
    assert_int_equal(eng_group_parse_rank(NULL, 3, &r), -1);
    assert_int_equal(eng_group_parse_rank("99999999999", 1024, &r), -1);
}

static void test_nonce(void **st)
{
    (void)st;
    uint64_t n = 0;
    assert_int_equal(eng_group_parse_nonce("00ff", &n), 0);
    assert_true(n == 0xff);
    assert_int_equal(eng_group_parse_nonce("FFFFFFFFFFFFFFFF", &n), 0);
    assert_true(n == UINT64_MAX);
    assert_int_equal(eng_group_parse_nonce("1FFFFFFFFFFFFFFFF", &n), -1); /* 17 digits */
    assert_int_equal(eng_group_parse_nonce("xyz", &n), -1);
    assert_int_equal(eng_group_parse_nonce("", &n), -1);
}

static void test_url(void **st)
{
    (void)st;
    char h[64];
    int port = 0;
    assert_int_equal(eng_group_parse_url("http://127.0.0.1:8000", h, sizeof(h), &port), 0);
    assert_string_equal(h, "127.0.0.1");
    assert_int_equal(port, 8000);
    assert_int_equal(eng_group_parse_url("http://head-svc.ns:8000/", h, sizeof(h), &port), 0);
    assert_string_equal(h, "head-svc.ns");
    assert_int_equal(eng_group_parse_url("http://[fd00::5]:9000", h, sizeof(h), &port), 0);
    assert_string_equal(h, "fd00::5");
    assert_int_equal(port, 9000);
    assert_int_equal(eng_group_parse_url("https://a:1", h, sizeof(h), &port), -1);
    assert_int_equal(eng_group_parse_url("http://a", h, sizeof(h), &port), -1); /* no port */
    assert_int_equal(eng_group_parse_url("http://a:0", h, sizeof(h), &port), -1);
    assert_int_equal(eng_group_parse_url("http://a:65536", h, sizeof(h), &port), -1);
    assert_int_equal(eng_group_parse_url("http://a:80/x", h, sizeof(h), &port), -1); /* a path */
    assert_int_equal(eng_group_parse_url("http://u@a:80", h, sizeof(h), &port), -1);
    assert_int_equal(eng_group_parse_url("http://:80", h, sizeof(h), &port), -1);
    assert_int_equal(eng_group_parse_url("http://[a/b]:80", h, sizeof(h), &port), -1);
    assert_int_equal(eng_group_parse_url("127.0.0.1:8000", h, sizeof(h), &port), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank),
        cmocka_unit_test(test_nonce),
        cmocka_unit_test(test_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
