/* kv_l2_store: the L2 connector table. Lookup by name (case-insensitive,
 * unknown names refused with a message), and a store opened by name
 * ("redis", against a real redis-server started here) answering every call
 * of the table: put with then() once, get, exists, del, stats, close. The
 * Redis connector's own behaviour is test_kv_l2_redis's; brixkv's over it,
 * test_brixkv_l2's. The round trip is skipped when redis-server is not on
 * PATH. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "kv/kv_l2_redis.h"
#include "kv/kv_l2_store.h"
#include "redis_fixture.h"

static void test_find(void **state)
{
    (void)state;
    assert_ptr_equal(kv_l2_connector_find("redis"), &kv_l2_redis_connector);
    assert_ptr_equal(kv_l2_connector_find("REDIS"), &kv_l2_redis_connector);
    assert_null(kv_l2_connector_find("memcached"));
    assert_null(kv_l2_connector_find(NULL));
    const kv_l2_connector *c = kv_l2_connector_find("redis");
    assert_non_null(c->open);
    assert_non_null(c->close);
    assert_non_null(c->get_many);
    assert_non_null(c->put_many_then);
    assert_non_null(c->exists_many);
    assert_non_null(c->del_many);
    assert_non_null(c->stats_get);

    kv_l2_addr a = {.host = "127.0.0.1", .port = 1};
    kv_l2_store_config cfg = {.nodes = &a, .nnodes = 1};
    kv_l2_store *s = (kv_l2_store *)&a; /* must stay untouched */
    char err[128] = "";
    assert_int_equal(kv_l2_store_open("memcached", &cfg, &s, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "brixkv: unknown L2 connector 'memcached'");
    assert_ptr_equal(s, (kv_l2_store *)&a);
    kv_l2_store_close(NULL); /* nothing */
}

static void on_then(void *arg)
{
    ++*(int *)arg;
}

typedef struct got {
    size_t n;
    uint8_t seen[8];
} got;

static void collect(void *arg, size_t i, const uint8_t *val, size_t len)
{
    got *g = arg;
    assert_true(i < 8);
    assert_int_equal(len, 4);
    assert_int_equal(val[0], 'v');
    assert_int_equal(val[3], (uint8_t)i);
    g->seen[i] = 1;
    g->n++;
}

static void test_round_trip_by_name(void **state)
{
    (void)state;
    NEED_REDIS();
    rsrv rs;
    rs_start(&rs, 0);
    kv_l2_addr a = {.host = "127.0.0.1", .port = rs.port};
    kv_l2_store_config cfg = {.nodes = &a, .nnodes = 1, .timeout_ms = 1000, .ns = "st"};
    kv_l2_store *s = NULL;
    char err[128];
    assert_int_equal(kv_l2_store_open("redis", &cfg, &s, err, sizeof(err)), 0);
    assert_ptr_equal(s->type, &kv_l2_redis_connector);

    kv_key keys[8];
    uint8_t heads[8][3];
    uint8_t tails[8];
    brixkv_iov pieces[8];
    kv_l2_val vals[8];
    for (size_t i = 0; i < 8; i++) {
        keys[i] = (kv_key){i + 1, i * 77};
        memcpy(heads[i], "v\0x", 3);
        tails[i] = (uint8_t)i;
        pieces[i] = (brixkv_iov){&tails[i], 1};
        vals[i] = (kv_l2_val){.head = heads[i], .head_len = 3, .v = &pieces[i], .nv = 1};
    }
    int thens = 0;
    assert_int_equal(kv_l2_store_put_many_then(s, keys, vals, 6, on_then, &thens), 6);
    assert_int_equal(thens, 1);

    got g = {0};
    kv_l2_store_get_many(s, keys, 8, collect, &g); /* 6 and 7 were never put */
    assert_int_equal(g.n, 6);
    assert_false(g.seen[6] || g.seen[7]);
    uint8_t found[8];
    kv_l2_store_exists_many(s, keys, 8, found);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(found[i], i < 6);
    assert_int_equal(kv_l2_store_del_many(s, keys, 8), 6);
    kv_l2_store_exists_many(s, keys, 8, found);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(found[i], 0);
    kv_l2_store_stats st;
    kv_l2_store_stats_get(s, &st);
    assert_int_equal(st.nodes, 1);
    assert_int_equal(st.nodes_up, 1);
    assert_int_equal(st.errors, 0);
    kv_l2_store_close(s);
    rs_stop(&rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_round_trip_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
