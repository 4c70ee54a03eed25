/* opt_trace: AIBrix's request-trace values, both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "opt/opt_trace.h"

static opt_trace t, u;

static void test_roundtrip(void **st)
{
    (void)st;
    opt_trace_init(&t, 1700000010);
    opt_trace_add(&t, 100, 66, 2);
    opt_trace_add(&t, 70, 70, 1);
    opt_trace_add(&t, 100, 66, 3);
    t.total_reqs = 7;
    t.pending_reqs = 1;
    assert_int_equal(t.ncells, 2);
    assert_int_equal(opt_trace_count(&t), 6);
    char *s = opt_trace_to_json(&t);
    assert_non_null(s);
    assert_string_equal(
        s, "{\"100:66\":5,\"70:70\":1,\"meta_interval_sec\":10,\"meta_pending_reqs\":1,"
           "\"meta_precision\":10,\"meta_queueing_reqs\":0,\"meta_total_reqs\":7,"
           "\"meta_v\":4}");
    char err[128];
    assert_int_equal(opt_trace_parse(s, strlen(s), 1700000010, &u, err, sizeof(err)), 0);
    assert_int_equal(u.ncells, 2);
    assert_int_equal(opt_trace_count(&u), 6);
    assert_int_equal(u.total_reqs, 7);
    assert_int_equal(u.version, 4);
    free(s);
}

static void test_old_and_bad(void **st)
{
    (void)st;
    char err[128];
    const char *v1 = "{\"10:20\":4}"; /* version 1: no meta */
    assert_int_equal(opt_trace_parse(v1, strlen(v1), 0, &u, err, sizeof(err)), 0);
    assert_int_equal(u.version, 1);
    assert_int_equal(u.total_reqs, -1);
    assert_int_equal(u.interval_s, 10);
    const char *bad[] = {"[]",
                         "{\"x:1\":1}",
                         "{\"1:1\":-1}",
                         "{\"1:1\":1.5}",
                         "{\"meta_v\":\"4\"}",
                         "{\"meta_interval_sec\":0}",
                         "{"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(opt_trace_parse(bad[i], strlen(bad[i]), 0, &u, err, sizeof(err)), -1);
    /* too many buckets: the rest counted as dropped */
    opt_trace_init(&t, 0);
    for (int i = 0; i < OPT_TRACE_MAX_CELLS + 3; i++)
        opt_trace_add(&t, i, 0, 2);
    assert_int_equal(t.ncells, OPT_TRACE_MAX_CELLS);
    assert_int_equal(t.dropped, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_old_and_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
