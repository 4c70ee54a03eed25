/* bx_err: the message writers every module shares (issue 14). bx_errf:
 * the message is formatted, cut to the buffer and NUL-terminated; a NULL or
 * empty buffer is left alone; the result is always -1. bx_catf: messages
 * appended with a separator, none before the first, nothing when no room. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_err.h"

static void test_errf(void **st)
{
    (void)st;
    char msg[64];
    assert_int_equal(bx_errf(msg, sizeof(msg), "%s: %d bytes", "body", 42), -1);
    assert_string_equal(msg, "body: 42 bytes");
    char err[8];
    memset(err, 'x', sizeof(err));
    assert_int_equal(bx_errf(err, 5, "%s", "longer than five"), -1);
    assert_string_equal(err, "long");
    assert_int_equal(err[5], 'x'); /* nothing past errlen */
    /* no buffer, or an empty one: nothing written */
    assert_int_equal(bx_errf(NULL, 16, "x"), -1);
    assert_int_equal(bx_errf(err, 0, "x"), -1);
    assert_string_equal(err, "long");
}

static void test_catf(void **st)
{
    (void)st;
    char buf[16] = "";
    bx_catf(buf, sizeof(buf), "; ", "a=%d", 1);
    assert_string_equal(buf, "a=1");
    bx_catf(buf, sizeof(buf), "; ", "%s", "bb");
    assert_string_equal(buf, "a=1; bb");
    bx_catf(buf, sizeof(buf), "; ", "%s", "long message");
    assert_string_equal(buf, "a=1; bb; long m"); /* cut to fit */
    bx_catf(buf, sizeof(buf), "; ", "x");
    assert_string_equal(buf, "a=1; bb; long m"); /* full: no room for "; x" */
    char small[13] = "a=1; bb; lon";
    bx_catf(small, sizeof(small), "; ", "x"); /* 12 + 2 + 1 = 15 > 13 */
    assert_string_equal(small, "a=1; bb; lon");
    char fits[15] = "a=1; bb; lo";
    bx_catf(fits, sizeof(fits), "; ", "xyz"); /* 11 + 2 + 1 < 15: "; x" and the NUL */
    assert_string_equal(fits, "a=1; bb; lo; x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errf),
        cmocka_unit_test(test_catf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
