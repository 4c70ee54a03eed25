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

/* A throwaway redis-server on a free port (fork/exec, killed at teardown). */
typedef struct rsrv {
    pid_t pid;
    int port;
} rsrv;

static int redis_on_path(void)
{
    const char *path = getenv("PATH");
    char buf[4096];
    while (path && *path) {
        const char *e = strchr(path, ':');
        size_t n = e ? (size_t)(e - path) : strlen(path);
        snprintf(buf, sizeof(buf), "%.*s/redis-server", (int)n, path);
        if (access(buf, X_OK) == 0) return 1;
        path = e ? e + 1 : NULL;
    }
    return 0;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static redisContext *rs_connect(int port)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/* Starts redis-server on port (0: a free one) and waits for PING. */
static void rs_start(rsrv *s, int port)
{
    s->port = port ? port : free_port();
    char p[16];
    snprintf(p, sizeof(p), "%d", s->port);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        int nul = open("/dev/null", O_WRONLY);
        if (nul >= 0) {
            dup2(nul, 1);
            dup2(nul, 2);
        }
        execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) { /* up to ~5 s */
        redisContext *c = rs_connect(s->port);
        if (c) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r && r->type == REDIS_REPLY_STATUS;
            if (r) freeReplyObject(r);
            redisFree(c);
            if (ok) return;
        }
        usleep(10000);
    }
    fail_msg("redis-server did not come up on port %d", s->port);
}

static void rs_stop(rsrv *s)
{
    if (s->pid <= 0) return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

static long long rs_int(int port, const char *cmd)
{
    redisContext *c = rs_connect(port);
    assert_non_null(c);
    redisReply *r = redisCommand(c, cmd);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

#define NEED_REDIS()                                                                               \
    do {                                                                                           \
        if (!redis_on_path()) {                                                                    \
            print_message("redis-server not on PATH: skipped\n");                                  \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static kv_key key_of(uint64_t i)
{
    kv_key k = {i * 0x9e3779b97f4a7c15ULL + 11, i ^ 0x5555};
    return k;
}

typedef struct got {
    size_t n, last;
    uint8_t seen[64];
} got;

static int collect(void *arg, size_t i, const uint8_t *val, size_t len)
{
    got *g = arg;
    assert_int_equal(i, g->n); /* in order */
    g->n++;
    if (!val) return 1;
    assert_int_equal(len, 5);
    assert_int_equal(val[0], (uint8_t)i);
    assert_int_equal(val[1], 0); /* binary-safe: NUL inside */
    g->seen[i] = 1;
    g->last = i;
    return 0;
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
    const uint8_t *vp[64];
    size_t lens[64];
    for (size_t i = 0; i < n; i++) {
        keys[i] = key_of(first + i);
        uint8_t v[5] = {(uint8_t)i, 0, 0xff, '\r', '\n'};
        memcpy(vals[i], v, 5);
        vp[i] = vals[i];
        lens[i] = 5;
    }
    assert_int_equal(kv_l2_redis_put_many(r, keys, vp, lens, n), expect);
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
    assert_int_equal(g.n, 11); /* 10 values, then the miss stops it */
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
        const uint8_t *vp = v;
        size_t len = 5;
        if (kv_l2_redis_put_many(r, &k, &vp, &len, 1) == 1) break;
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
        cmocka_unit_test(test_two_nodes),
        cmocka_unit_test(test_down_and_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
