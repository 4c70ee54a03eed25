/* opt_bucket: AIBrix's bucketing, against values computed by its formula
 * (Go: int64(math.Round(math.Log2(x)/0.1)*0.1/0.1)). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "opt/opt_bucket.h"

static void test_ticks(void **st)
{
    (void)st;
    assert_int_equal(opt_bucket_tick(0), 0);
    assert_int_equal(opt_bucket_tick(-5), 0);
    assert_int_equal(opt_bucket_tick(1), 0);
    assert_int_equal(opt_bucket_tick(2), 10);
    assert_int_equal(opt_bucket_tick(1000), 100); /* log2 9.966 -> 10.0 */
    assert_int_equal(opt_bucket_tick(100),
                     66); /* 6.644 -> 6.6 (6.6000000000000005 / 0.1 = 66.00000000000001) */
    assert_int_equal(opt_bucket_tick(128), 70);
    assert_int_equal(opt_bucket_tick(3), 16); /* 1.585 -> 1.6 */
    /* Go's float quirk kept: 20 tokens round to 43 tenths, and 43 * 0.1 /
     * 0.1 is 42.99999999999999, which int64() truncates to 42. */
    assert_int_equal(opt_bucket_tick(20), 42);
    assert_int_equal(opt_bucket_tick(52), 57);
    assert_int_equal(opt_bucket_tick(4096), 120);
}

static void test_keys(void **st)
{
    (void)st;
    char k[OPT_BUCKET_KEY_MAX];
    assert_int_equal(opt_bucket_key(1000, 100, k, sizeof(k)), 6);
    assert_string_equal(k, "100:66");
    assert_int_equal(opt_bucket_key(0, 0, k, sizeof(k)), 3);
    assert_string_equal(k, "0:0");
    assert_int_equal(opt_bucket_key(1000, 100, k, 4), -1);
    int64_t a, b;
    assert_int_equal(opt_bucket_parse_key("100:66", 6, &a, &b), 0);
    assert_int_equal(a, 100);
    assert_int_equal(b, 66);
    assert_int_equal(opt_bucket_parse_key("meta_v", 6, &a, &b), -1);
    assert_int_equal(opt_bucket_parse_key("100:", 4, &a, &b), -1);
    assert_int_equal(opt_bucket_parse_key(":1", 2, &a, &b), -1);
    assert_int_equal(opt_bucket_parse_key("1:2:3", 5, &a, &b), -1);
    assert_int_equal(opt_bucket_parse_key("1:-2", 4, &a, &b), -1);
    assert_int_equal(opt_bucket_parse_key("999999:1", 8, &a, &b), -1);
    assert_true(opt_bucket_tokens(100) > 1023.9 && opt_bucket_tokens(100) < 1024.1);
    assert_true(opt_bucket_tokens(0) == 1.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticks),
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
