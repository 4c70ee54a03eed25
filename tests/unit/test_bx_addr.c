/* bx_addr_is_loopback: the one loopback check of the gateway (may it listen
 * without keys?) and the admin API (is the Host header a loopback name?).
 * A name that only starts like 127.x is not loopback (the gateway's own
 * copy said it was). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/bx_addr.h"

static void test_loopback(void **st)
{
    (void)st;
    assert_true(bx_addr_is_loopback("127.0.0.1"));
    assert_true(bx_addr_is_loopback("127.1.2.3"));
    assert_true(bx_addr_is_loopback("::1"));
    assert_true(bx_addr_is_loopback("localhost"));
    assert_true(bx_addr_is_loopback("LocalHost"));
}

static void test_not_loopback(void **st)
{
    (void)st;
    assert_false(bx_addr_is_loopback(NULL));
    assert_false(bx_addr_is_loopback(""));
    assert_false(bx_addr_is_loopback("0.0.0.0"));
    assert_false(bx_addr_is_loopback("::"));
    assert_false(bx_addr_is_loopback("10.0.0.1"));
    assert_false(bx_addr_is_loopback("128.0.0.1"));
    assert_false(bx_addr_is_loopback("127.evil.example"));
    assert_false(bx_addr_is_loopback("127.0.0.1.nip.io"));
    assert_false(bx_addr_is_loopback("localhost.example"));
    assert_false(bx_addr_is_loopback("[::1]")); /* brackets are the caller's */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_not_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
