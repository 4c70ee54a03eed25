/* eng_kvxfer and eng_kvlink: vLLM's --kv-transfer-config and
 * kv_transfer_params as the engine reads them, the pin table of finished
 * prefills (bound, take, expiry) and the KV link model's arithmetic. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "engine/eng_kvlink.h"
#include "engine/eng_kvxfer.h"

static int cfg(const char *j, eng_kvxfer_cfg *c, char *err)
{
    return eng_kvxfer_config_parse(j, strlen(j), c, err, 200);
}

static void test_config(void **st)
{
    (void)st;
    eng_kvxfer_cfg c;
    char err[200];
    assert_int_equal(
        cfg("{\"kv_connector\":\"NixlConnector\",\"kv_role\":\"kv_producer\"}", &c, err), 0);
    assert_int_equal(c.role, ENG_KV_PRODUCER);
    assert_int_equal(c.fail_policy, ENG_KV_FAIL_ERROR);
    assert_string_equal(c.connector, "NixlConnector");
    assert_int_equal(cfg("{\"kv_connector\":\"P2pNcclConnector\",\"kv_role\":\"kv_both\","
                         "\"kv_buffer_device\":\"cuda\",\"kv_connector_extra_config\":{},"
                         "\"kv_load_failure_policy\":\"recompute\"}",
                         &c, err),
                     0);
    assert_int_equal(c.role, ENG_KV_BOTH);
    assert_true(c.role & ENG_KV_PRODUCER);
    assert_true(c.role & ENG_KV_CONSUMER);
    assert_int_equal(c.fail_policy, ENG_KV_FAIL_RECOMPUTE);
    assert_int_equal(cfg("{\"kv_connector\":\"X\",\"kv_role\":\"kv_consumer\"}", &c, err), 0);
    assert_int_equal(c.role, ENG_KV_CONSUMER);
    /* refused, each with its reason */
    assert_int_equal(cfg("{\"kv_connector\":\"X\",\"kv_role\":\"prefill\"}", &c, err), -1);
    assert_non_null(strstr(err, "kv_role must be"));
    assert_int_equal(cfg("{\"kv_connector\":\"X\"}", &c, err), -1);
    assert_non_null(strstr(err, "kv_role is required"));
    assert_int_equal(cfg("{\"kv_role\":\"kv_both\"}", &c, err), -1);
    assert_non_null(strstr(err, "kv_connector is required"));
    assert_int_equal(
        cfg("{\"kv_connector\":\"X\",\"kv_role\":\"kv_both\",\"kv_rolee\":1}", &c, err), -1);
    assert_non_null(strstr(err, "unknown field 'kv_rolee'"));
    assert_int_equal(
        cfg("{\"kv_connector\":\"X\",\"kv_role\":\"kv_both\",\"kv_load_failure_policy\":\"retry\"}",
            &c, err),
        -1);
    assert_int_equal(cfg("[]", &c, err), -1);
    assert_int_equal(cfg("{", &c, err), -1);
    assert_int_equal(
        cfg("{\"kv_connector\":\"X\",\"kv_role\":\"kv_both\",\"kv_role\":\"kv_producer\"}", &c,
            err),
        -1);
}

static int params(const char *j, eng_kvxfer_params *p, char *err)
{
    json_t *o = json_loads(j, 0, NULL);
    int rc = eng_kvxfer_params_parse(o, p, err, 200);
    json_decref(o); /* the strings are not read after this here */
    return rc;
}

static void test_params(void **st)
{
    (void)st;
    eng_kvxfer_params p;
    char err[200];
    assert_int_equal(eng_kvxfer_params_parse(NULL, &p, err, sizeof(err)), 0);
    assert_int_equal(p.do_remote_decode + p.do_remote_prefill, 0);
    /* what a proxy sends a prefill engine: nulls beside the flag */
    assert_int_equal(params("{\"do_remote_decode\":true,\"do_remote_prefill\":false,"
                            "\"remote_engine_id\":null,\"remote_block_ids\":null,"
                            "\"remote_host\":null,\"remote_port\":null}",
                            &p, err),
                     0);
    assert_int_equal(p.do_remote_decode, 1);
    json_t *o = json_loads("{\"do_remote_prefill\":true,\"remote_engine_id\":\"brix-1\","
                           "\"remote_host\":\"10.0.0.5\",\"remote_port\":8000,"
                           "\"remote_request_id\":\"cmpl-1\",\"remote_block_ids\":[0,1,7]}",
                           0, NULL);
    assert_int_equal(eng_kvxfer_params_parse(o, &p, err, sizeof(err)), 0);
    assert_int_equal(p.do_remote_prefill, 1);
    assert_string_equal(p.remote_host, "10.0.0.5");
    assert_int_equal(p.remote_port, 8000);
    assert_string_equal(p.remote_request_id, "cmpl-1");
    assert_string_equal(p.remote_engine_id, "brix-1");
    assert_int_equal(p.num_blocks, 3);
    json_decref(o);
    /* a decode without where to pull from */
    assert_int_equal(params("{\"do_remote_prefill\":true,\"remote_port\":8000,"
                            "\"remote_request_id\":\"x\"}",
                            &p, err),
                     -1);
    assert_non_null(strstr(err, "needs remote_host"));
    assert_int_equal(params("{\"do_remote_prefill\":true,\"do_remote_decode\":true}", &p, err), -1);
    assert_int_equal(params("{\"do_remote_decode\":\"yes\"}", &p, err), -1);
    assert_int_equal(params("{\"remote_port\":70000}", &p, err), -1);
    assert_int_equal(params("{\"remote_block_ids\":[1,-2]}", &p, err), -1);
    assert_int_equal(params("{\"remote_request_id\":\"a\\\"b\"}", &p, err), -1);
    assert_int_equal(params("{\"remote_host\":\"a/b\"}", &p, err), -1);
    assert_int_equal(params("[]", &p, err), -1);
}

static int32_t *blocks(int n)
{
    int32_t *b = malloc((size_t)n * sizeof(*b));
    for (int i = 0; i < n; i++)
        b[i] = i;
    return b;
}

static void test_pins(void **st)
{
    (void)st;
    eng_kvpins p;
    eng_kvpin out, dropped;
    eng_kvpins_init(&p);
    assert_int_equal(eng_kvpins_add(&p, "a", blocks(2), 2, 20, 10.0, &dropped), 0);
    assert_int_equal(eng_kvpins_add(&p, "b", blocks(3), 3, 40, 5.0, &dropped), 0);
    assert_int_equal(eng_kvpins_add(&p, "c", blocks(1), 1, 10, 30.0, &dropped), 0);
    assert_int_equal(p.blocks, 6);
    /* take: once */
    assert_int_equal(eng_kvpins_take(&p, "a", &out), 0);
    assert_int_equal(out.num_blocks, 2);
    assert_int_equal(out.tokens, 20);
    free(out.blocks);
    assert_int_equal(eng_kvpins_take(&p, "a", &out), -1);
    assert_int_equal(p.blocks, 4);
    /* expiry: at 6, only b (5.0) */
    assert_int_equal(eng_kvpins_expire(&p, 6.0, &out), 0);
    assert_string_equal(out.id, "b");
    free(out.blocks);
    assert_int_equal(eng_kvpins_expire(&p, 6.0, &out), -1);
    assert_int_equal(p.n, 1);
    /* the bound: the oldest goes */
    for (int i = 1; i < ENG_KVPINS_MAX; i++) {
        char id[16];
        snprintf(id, sizeof(id), "x%d", i);
        assert_int_equal(eng_kvpins_add(&p, id, blocks(1), 1, 1, 100.0, &dropped), 0);
    }
    assert_int_equal(p.n, ENG_KVPINS_MAX);
    assert_int_equal(eng_kvpins_add(&p, "y", blocks(1), 1, 1, 100.0, &dropped), 1);
    assert_string_equal(dropped.id, "c");
    free(dropped.blocks);
    assert_int_equal(p.n, ENG_KVPINS_MAX);
    assert_int_equal(eng_kvpins_take(&p, "y", &out), 0);
    free(out.blocks);
    eng_kvpins_close(&p);
}

/* 25 GB/s, 50 us: 1e9 bytes take .04 s + 50 us; two booked at 0 share the
 * link: the second ends sending at .08. */
/* The side channel's bodies: a pull request needs a plain-size id; an
 * answer's token count is bounded. */
static void test_pull_bodies(void **st)
{
    (void)st;
    char id[ENG_KVXFER_ID_MAX], eid[ENG_KVXFER_ID_MAX];
    const char *ok = "{\"remote_request_id\":\"r1\",\"remote_engine_id\":\"brix-1\"}";
    assert_int_equal(eng_kvxfer_pull_req_parse(ok, strlen(ok), id, eid), 0);
    assert_string_equal(id, "r1");
    assert_string_equal(eid, "brix-1");
    const char *noeid = "{\"remote_request_id\":\"r2\"}";
    assert_int_equal(eng_kvxfer_pull_req_parse(noeid, strlen(noeid), id, eid), 0);
    assert_string_equal(eid, "");
    char big[200];
    snprintf(big, sizeof(big), "{\"remote_request_id\":\"%070d\"}", 1);
    const char *bad[] = {"",
                         "[]",
                         "{\"remote_request_id\":7}",
                         "{\"remote_request_id\":\"\"}",
                         "{\"remote_request_id\":\"r\",\"remote_engine_id\":1}",
                         big};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(eng_kvxfer_pull_req_parse(bad[i], strlen(bad[i]), id, eid), -1);
    const char *ans = "{\"tokens\":300,\"blocks\":19}";
    assert_int_equal(eng_kvxfer_pull_ans_parse(ans, strlen(ans), 1000), 300);
    assert_int_equal(eng_kvxfer_pull_ans_parse(ans, strlen(ans), 299), -1);
    assert_int_equal(eng_kvxfer_pull_ans_parse("{\"tokens\":-1}", 13, 1000), -1);
    assert_int_equal(eng_kvxfer_pull_ans_parse("{\"tokens\":1", 12, 1000), -1);
    assert_int_equal(eng_kvxfer_pull_ans_parse(NULL, 0, 1000), -1);
}

static void test_link(void **st)
{
    (void)st;
    eng_kvlink l;
    eng_kvlink_init(&l, 25, 50);
    assert_true(fabs(eng_kvlink_seconds(&l, 1000000000) - 0.04005) < 1e-12);
    assert_true(fabs(eng_kvlink_seconds(&l, 0) - 0.00005) < 1e-12);
    assert_true(fabs(eng_kvlink_reserve(&l, 0, 1000000000) - 0.04005) < 1e-12);
    assert_true(fabs(eng_kvlink_reserve(&l, 0, 1000000000) - 0.08005) < 1e-12);
    /* after the link is idle again, a transfer starts at its own time */
    assert_true(fabs(eng_kvlink_reserve(&l, 1.0, 500000000) - 1.02005) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config), cmocka_unit_test(test_params),
        cmocka_unit_test(test_pins),   cmocka_unit_test(test_pull_bodies),
        cmocka_unit_test(test_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
