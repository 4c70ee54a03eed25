/* bx_err: the error-message writer every module shares (issue 14). The
 * message is formatted, cut to the buffer and NUL-terminated; a NULL or
 * empty buffer is left alone; the result is always -1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_err.h"

static void test_formats(void **st)
{
    (void)st;
    char err[64];
    assert_int_equal(bx_errf(err, sizeof(err), "%s: %d bytes", "body", 42), -1);
    assert_string_equal(err, "body: 42 bytes");
}

static void test_cut_or_not_written(void **st)
{
    (void)st;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_cut_or_not_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
