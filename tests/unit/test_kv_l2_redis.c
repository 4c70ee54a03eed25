/* kv_l2_redis against real redis-server processes started here: pipelined
 * put/get/exists/del round trips with binary values, two nodes splitting
 * the keys where the ring says, a node that is down failing fast (misses,
 * writes refused, errors counted) and coming back by itself. Skipped when
 * redis-server is not on PATH. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "kv/kv_l2_redis.h"
#include "redis_fixture.h"

static kv_key key_of(uint64_t i)
{
    kv_key k = {i * 0x9e3779b97f4a7c15ULL + 11, i ^ 0x5555};
    return k;
}

typedef struct got {
    size_t n, last;
    uint8_t seen[64];
} got;

/* Found keys only, each once, in key order (one node here). */
static void collect(void *arg, size_t i, const uint8_t *val, size_t len)
{
    got *g = arg;
    assert_non_null(val);
    assert_true(g->n == 0 || i > g->last);
    assert_false(g->seen[i]);
    g->n++;
    assert_int_equal(len, 5);
    assert_int_equal(val[0], (uint8_t)i);
    assert_int_equal(val[1], 0); /* binary-safe: NUL inside */
    g->seen[i] = 1;
    g->last = i;
}

static kv_l2_redis *mk(const char *addrs, int timeout_ms)
{
    kv_l2_addr a[4];
    char err[256];
    int n = kv_l2_addrs_parse(addrs, a, 4, err, sizeof(err));
    assert_true(n > 0);
    kv_l2_redis_config c = {
        .nodes = a, .nnodes = (unsigned)n, .conns = 2, .timeout_ms = timeout_ms, .ns = "t"};
    kv_l2_redis *r = NULL;
    assert_int_equal(kv_l2_redis_create(&c, &r, err, sizeof(err)), 0);
    return r;
}

static void put_n(kv_l2_redis *r, size_t first, size_t n, size_t expect)
{
    kv_key keys[64];
    uint8_t vals[64][5];
    brixkv_iov tail[64];
    kv_l2_redis_val vp[64];
    for (size_t i = 0; i < n; i++) {
        keys[i] = key_of(first + i);
        uint8_t v[5] = {(uint8_t)i, 0, 0xff, '\r', '\n'};
        memcpy(vals[i], v, 5);
        /* a head and two pieces (one empty): sent as one value */
        tail[i] = (brixkv_iov){vals[i] + 2, 3};
        brixkv_iov *pieces = &tail[i];
        vp[i] = (kv_l2_redis_val){.head = vals[i], .head_len = 2, .v = pieces, .nv = 1};
    }
    assert_int_equal(kv_l2_redis_put_many(r, keys, vp, n), expect);
}

static void test_round_trip(void **st)
{
    (void)st;
    NEED_REDIS();
    rsrv s;
    rs_start(&s, 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", s.port);
    kv_l2_redis *r = mk(addr, 1000);
    put_n(r, 0, 10, 10);
    kv_key keys[12];
    for (int i = 0; i < 12; i++)
        keys[i] = key_of((uint64_t)i);
    got g = {0};
    kv_l2_redis_get_many(r, keys, 12, collect, &g);
    assert_int_equal(g.n, 10); /* the 10 values; the 2 misses get no call */
    assert_int_equal(g.last, 9);
    uint8_t found[12];
    kv_l2_redis_exists_many(r, keys, 12, found);
    for (int i = 0; i < 12; i++)
        assert_int_equal(found[i], i < 10);
    char name[KV_L2_KEYNAME_MAX];
    kv_l2_redis_keyname("t", &keys[3], name);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "EXISTS %s", name);
    assert_int_equal(rs_int(s.port, cmd), 1); /* "<ns>:<hex>" */
    assert_int_equal(kv_l2_redis_del_many(r, keys + 2, 10), 8);
    kv_l2_redis_exists_many(r, keys, 12, found);
    assert_int_equal(found[1], 1);
    assert_int_equal(found[2], 0);
    kv_l2_redis_stats rs;
    kv_l2_redis_stats_get(r, &rs);
    assert_int_equal(rs.errors, 0);
    assert_int_equal(rs.nodes_up, 1);
    kv_l2_redis_destroy(r);
    rs_stop(&s);
}

typedef struct big {
    size_t n, len;
    uint8_t seen[40];
} big;

static uint8_t big_byte(size_t key, size_t off)
{
    return (uint8_t)(key * 131 + off * 7 + (off >> 9));
}

static void big_check(void *arg, size_t i, const uint8_t *val, size_t len)
{
    big *b = arg;
    assert_true(i < 40);
    assert_false(b->seen[i]);
    assert_int_equal(len, b->len);
    for (size_t off = 0; off < len; off++)
        if (val[off] != big_byte(i, off)) fail_msg("key %zu byte %zu differs", i, off);
    b->seen[i] = 1;
    b->n++;
}

/* Values far bigger than a socket buffer and than hiredis' 16 KiB reads,
 * in one pipeline: 40 x 300 KiB, each sent as a head and 100 pieces (more
 * than one sendmsg's worth), read back whole. */
static void test_big_values(void **st)
{
    (void)st;
    NEED_REDIS();
    rsrv s;
    rs_start(&s, 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", s.port);
    kv_l2_redis *r = mk(addr, 5000);
    enum { N = 40, LEN = 300 * 1024, PIECES = 100, HEAD = 40 };
    uint8_t *buf = malloc((size_t)N * LEN);
    brixkv_iov *pieces = calloc((size_t)N * PIECES, sizeof(*pieces));
    kv_l2_redis_val vals[N];
    kv_key keys[N];
    assert_non_null(buf);
    assert_non_null(pieces);
    size_t plen = (LEN - HEAD) / PIECES; /* the last piece takes the rest */
    for (size_t i = 0; i < N; i++) {
        uint8_t *v = buf + i * LEN;
        for (size_t off = 0; off < LEN; off++)
            v[off] = big_byte(i, off);
        keys[i] = key_of(1000 + i);
        for (size_t j = 0; j < PIECES; j++) {
            size_t at = HEAD + j * plen;
            pieces[i * PIECES + j] = (brixkv_iov){v + at, j + 1 < PIECES ? plen : LEN - at};
        }
        vals[i] =
            (kv_l2_redis_val){.head = v, .head_len = HEAD, .v = &pieces[i * PIECES], .nv = PIECES};
    }
    assert_int_equal(kv_l2_redis_put_many(r, keys, vals, N), N);
    big b = {.len = LEN};
    kv_l2_redis_get_many(r, keys, N, big_check, &b);
    assert_int_equal(b.n, N);
    kv_l2_redis_stats rs;
    kv_l2_redis_stats_get(r, &rs);
    assert_int_equal(rs.errors, 0);
    kv_l2_redis_destroy(r);
    free(pieces);
    free(buf);
    rs_stop(&s);
}

static void test_two_nodes(void **st)
{
    (void)st;
    NEED_REDIS();
    rsrv s1, s2;
    rs_start(&s1, 0);
    rs_start(&s2, 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d,127.0.0.1:%d", s1.port, s2.port);
    kv_l2_redis *r = mk(addr, 1000);
    put_n(r, 100, 64, 64);
    long long n1 = rs_int(s1.port, "DBSIZE"), n2 = rs_int(s2.port, "DBSIZE");
    assert_int_equal(n1 + n2, 64);
    assert_true(n1 > 8 && n2 > 8);
    for (uint64_t i = 100; i < 164; i++) { /* each key sits where the ring says */
        kv_key k = key_of(i);
        char name[KV_L2_KEYNAME_MAX], cmd[256];
        kv_l2_redis_keyname("t", &k, name);
        snprintf(cmd, sizeof(cmd), "EXISTS %s", name);
        int on = kv_l2_redis_node_of(r, &k) == 0 ? s1.port : s2.port;
        assert_int_equal(rs_int(on, cmd), 1);
    }
    /* one node down: its keys miss at once, the other's still read */
    rs_stop(&s2);
    kv_key keys[64];
    uint8_t found[64];
    for (int i = 0; i < 64; i++)
        keys[i] = key_of(100 + (uint64_t)i);
    for (int round = 0; round < 2; round++) { /* the first finds the broken link */
        kv_l2_redis_exists_many(r, keys, 64, found);
        for (int i = 0; i < 64; i++)
            assert_int_equal(found[i], kv_l2_redis_node_of(r, &keys[i]) == 0);
    }
    kv_l2_redis_stats rs;
    kv_l2_redis_stats_get(r, &rs);
    assert_int_equal(rs.nodes, 2);
    assert_int_equal(rs.nodes_up, 1);
    assert_true(rs.errors >= 1);
    kv_l2_redis_destroy(r);
    rs_stop(&s1);
}

static void test_down_and_back(void **st)
{
    (void)st;
    NEED_REDIS();
    int port = free_port(); /* nothing listens yet */
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    kv_l2_redis *r = mk(addr, 200);
    kv_l2_redis_stats rs;
    kv_l2_redis_stats_get(r, &rs);
    assert_int_equal(rs.nodes_up, 0);
    assert_int_equal(rs.errors, 1); /* the connect at create */
    put_n(r, 0, 4, 0);              /* refused, inside the backoff window */
    kv_l2_redis_stats_get(r, &rs);
    assert_int_equal(rs.errors, 1); /* failed fast: no new attempt */
    rsrv s;
    rs_start(&s, port);
    int tries = 0;
    for (; tries < 200; tries++) { /* backoff ends, a probe reconnects */
        kv_key k = key_of(1);
        uint8_t v[5] = {0};
        kv_l2_redis_val vp = {.head = v, .head_len = 5};
        if (kv_l2_redis_put_many(r, &k, &vp, 1) == 1) break;
        usleep(50000);
    }
    assert_true(tries < 200);
    kv_l2_redis_stats_get(r, &rs);
    assert_int_equal(rs.nodes_up, 1);
    kv_l2_redis_destroy(r);
    rs_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_big_values),
        cmocka_unit_test(test_two_nodes),
        cmocka_unit_test(test_down_and_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
