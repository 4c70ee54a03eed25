/* libbrixkv with the L2 tier on real redis-server processes started here:
 * a round trip through L2 with an L1 too small to hold the sequence,
 * scatter lists, two handles reusing each other's blocks (ALL, HOT and
 * EVICTED ingestion; blocks read from L2 are not written back), Redis
 * killed mid-run and restarted on the same port, values corrupted in Redis
 * rejected and counted, two nodes splitting the keys, four threads at
 * once, and the L2 configuration (environment and bad settings). Skipped
 * when redis-server is not on PATH. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
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

#include "brix/brixkv.h"
#include "kv/kv_key.h"
#include "kv/kv_l2_redis.h"
#include "redis_fixture.h"

#define BB 4096
#define NB 32 /* blocks per sequence */
#define NT (NB * 16)

static const brixkv_ns NS = {.model = "llama-3-8b", .dtype = "bf16"};

static void fill(uint8_t *b, int seq, int i)
{
    for (int j = 0; j < BB; j++)
        b[j] = (uint8_t)(seq * 131 + i * 17 + j + (j >> 8));
}

static void tokens(uint32_t *t, int seq)
{
    for (int i = 0; i < NT; i++)
        t[i] = (uint32_t)(seq * 100000 + i);
}

typedef struct seqbuf {
    uint32_t t[NT];
    uint8_t data[NB][BB], out[NB][BB];
    const void *in[NB];
    void *dst[NB];
} seqbuf;

static seqbuf *seq_new(int seq)
{
    seqbuf *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    tokens(s->t, seq);
    for (int i = 0; i < NB; i++) {
        fill(s->data[i], seq, i);
        s->in[i] = s->data[i];
        s->dst[i] = s->out[i];
    }
    return s;
}

static brixkv *open_kv(int port, const char *ingestion, int sync, size_t l1_blocks)
{
    static char addr[64];
    brixkv_config c;
    char err[256];
    assert_int_equal(brixkv_config_from_env(&c, err, sizeof(err)), 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    c.block_bytes = BB;
    c.l1_capacity = l1_blocks * BB;
    c.l1_shards = 1;
    c.l1_policy = "LRU";
    c.l2_redis = addr;
    c.l2_ingestion = ingestion;
    c.l2_sync = sync;
    c.l2_timeout_ms = 300;
    c.l2_namespace = "test";
    brixkv *kv = NULL;
    assert_int_equal(brixkv_open(&c, &kv, err, sizeof(err)), 0);
    return kv;
}

static void check_out(seqbuf *s, int seq, long n)
{
    uint8_t want[BB];
    for (long i = 0; i < n; i++) {
        fill(want, seq, (int)i);
        assert_memory_equal(s->out[i], want, BB);
    }
}

static void test_round_trip_small_l1(void **st)
{
    (void)st;
    NEED_REDIS();
    rsrv r;
    rs_start(&r, 0);
    brixkv *kv = open_kv(r.port, "ALL", 0, 8); /* L1: 8 of the 32 blocks */
    seqbuf *s = seq_new(1);
    assert_int_equal(brixkv_put(kv, &NS, s->t, NT, s->in, NB), NB);
    assert_int_equal(brixkv_flush(kv, 5000), 0);
    assert_int_equal(brixkv_exists(kv, &NS, s->t, NT), NT);
    assert_int_equal(brixkv_get(kv, &NS, s->t, NT, s->dst, NB), NB);
    check_out(s, 1, NB);
    brixkv_stats st1;
    brixkv_stats_get(kv, &st1);
    assert_int_equal(st1.l2_puts, NB);
    assert_true(st1.l2_hits >= NB - 8);
    assert_int_equal(st1.l2_nodes, 1);
    assert_int_equal(st1.l2_nodes_up, 1);
    assert_int_equal(st1.l2_dropped + st1.l2_errors + st1.l2_corrupt, 0);
    /* L2 fills did not go back to L2 */
    assert_int_equal(rs_int(r.port, "DBSIZE"), NB);

    /* scatter lists: 3 uneven pieces a block in, 2 others out */
    seqbuf *q = seq_new(2);
    static uint8_t pieces[NB][BB];
    brixkv_iov in[NB * 3], out[NB * 2];
    for (int i = 0; i < NB; i++) {
        in[i * 3] = (brixkv_iov){q->data[i], 1000};
        in[i * 3 + 1] = (brixkv_iov){q->data[i] + 1000, 96};
        in[i * 3 + 2] = (brixkv_iov){q->data[i] + 1096, BB - 1096};
        out[i * 2] = (brixkv_iov){pieces[i], 7};
        out[i * 2 + 1] = (brixkv_iov){pieces[i] + 7, BB - 7};
    }
    assert_int_equal(brixkv_put_iov(kv, &NS, q->t, NT, in, 3, NB), NB);
    assert_int_equal(brixkv_flush(kv, 5000), 0);
    assert_int_equal(brixkv_get_iov(kv, &NS, q->t, NT, out, 2, NB), NB); /* mostly from L2 */
    for (int i = 0; i < NB; i++)
        assert_memory_equal(pieces[i], q->data[i], BB);
    in[4].len = 95; /* block 1 one byte short */
    assert_int_equal(brixkv_put_iov(kv, &NS, q->t, NT, in, 3, NB), -EINVAL);
    out[0].len = 8;
    assert_int_equal(brixkv_get_iov(kv, &NS, q->t, NT, out, 2, NB), -EINVAL);

    /* delete reaches L2 */
    assert_int_equal(brixkv_delete(kv, &NS, s->t, NT) >= 0, 1);
    assert_int_equal(brixkv_exists(kv, &NS, s->t, NT), 0);
    assert_int_equal(rs_int(r.port, "DBSIZE"), NB);
    brixkv_close(kv);
    free(s);
    free(q);
    rs_stop(&r);
}

/* Sequences longer than one pipelined batch (64 blocks): 200 blocks put
 * with l2_sync, read back by a second handle through a scatter list with
 * pieces of uneven size; a block missing in the store ends the prefix
 * exactly there (in the middle of a batch), and exists agrees. */
static void test_long_sequence(void **st)
{
    (void)st;
    NEED_REDIS();
    enum { LN = 200, LT = LN * 16 };
    rsrv r;
    rs_start(&r, 0);
    brixkv *a = open_kv(r.port, "ALL", 1, 256), *b = open_kv(r.port, "ALL", 1, 256);
    uint32_t *t = malloc(LT * sizeof(*t));
    uint8_t *in = malloc((size_t)LN * BB), *out = calloc((size_t)LN, BB);
    const void **ip = malloc(LN * sizeof(*ip));
    brixkv_iov *iov = malloc(LN * 3 * sizeof(*iov));
    assert_true(t && in && out && ip && iov);
    for (int i = 0; i < LT; i++)
        t[i] = (uint32_t)(7000000 + i * 3);
    for (int i = 0; i < LN; i++) {
        fill(in + (size_t)i * BB, 40, i);
        ip[i] = in + (size_t)i * BB;
        uint8_t *o = out + (size_t)i * BB;
        iov[3 * i] = (brixkv_iov){o, 100};
        iov[3 * i + 1] = (brixkv_iov){o + 100, 0};
        iov[3 * i + 2] = (brixkv_iov){o + 100, BB - 100};
    }
    assert_int_equal(brixkv_put(a, &NS, t, LT, ip, LN), LN);
    brixkv_stats sa;
    brixkv_stats_get(a, &sa);
    assert_int_equal(sa.l2_puts, LN); /* written before put returned */
    assert_int_equal(brixkv_get_iov(b, &NS, t, LT, iov, 3, LN), LN);
    assert_memory_equal(out, in, (size_t)LN * BB);
    brixkv_stats sb;
    brixkv_stats_get(b, &sb);
    assert_int_equal(sb.l2_hits, LN);
    assert_int_equal(sb.l2_misses, 0);

    /* block 150 gone from the store (and from b's L1): prefix of 150 */
    kv_key root, keys[LN];
    assert_int_equal(
        kv_key_ns_root(NS.model, NS.revision, NS.adapter, NS.dtype, NS.layout, NS.shard, &root), 0);
    assert_int_equal(kv_key_chain(&root, t, LT, 16, keys, LN), LN);
    char name[KV_L2_KEYNAME_MAX], cmd[256];
    kv_l2_redis_keyname("test", &keys[150], name);
    snprintf(cmd, sizeof(cmd), "DEL %s", name);
    assert_int_equal(rs_int(r.port, cmd), 1);
    brixkv *c = open_kv(r.port, "ALL", 1, 256);
    assert_int_equal(brixkv_exists(c, &NS, t, LT), 150 * 16);
    memset(out, 0, (size_t)LN * BB);
    assert_int_equal(brixkv_get_iov(c, &NS, t, LT, iov, 3, LN), 150);
    assert_memory_equal(out, in, (size_t)150 * BB);
    brixkv_stats sc;
    brixkv_stats_get(c, &sc);
    assert_int_equal(sc.l2_hits, 150);
    assert_int_equal(sc.blocks, 150); /* blocks after the gap stay out of L1 */
    brixkv_close(a);
    brixkv_close(b);
    brixkv_close(c);
    free(t);
    free(in);
    free(out);
    free(ip);
    free(iov);
    rs_stop(&r);
}

static void test_cross_engine(void **st)
{
    (void)st;
    NEED_REDIS();
    rsrv r;
    rs_start(&r, 0);
    brixkv *a = open_kv(r.port, "ALL", 1, 64), *b = open_kv(r.port, "ALL", 1, 64);
    seqbuf *s = seq_new(3);
    assert_int_equal(brixkv_put(a, &NS, s->t, NT, s->in, NB), NB); /* sync: in L2 now */
    assert_int_equal(brixkv_exists(b, &NS, s->t, NT), NT);
    assert_int_equal(brixkv_get(b, &NS, s->t, NT, s->dst, NB), NB);
    check_out(s, 3, NB);
    brixkv_stats sb;
    brixkv_stats_get(b, &sb);
    assert_int_equal(sb.l2_hits, NB);
    assert_int_equal(sb.l2_puts, 0); /* read from L2: not written back */
    brixkv_ns other = NS;
    other.model = "mistral-7b";
    assert_int_equal(brixkv_exists(b, &other, s->t, NT), 0); /* another model's key space */

    /* HOT (the default): a block reaches L2 on its first re-read */
    brixkv *h = open_kv(r.port, "HOT", 0, 64);
    seqbuf *q = seq_new(4);
    assert_int_equal(brixkv_put(h, &NS, q->t, NT, q->in, NB), NB);
    assert_int_equal(brixkv_flush(h, 5000), 0);
    assert_int_equal(brixkv_exists(b, &NS, q->t, NT), 0);
    assert_int_equal(brixkv_get(h, &NS, q->t, 64, q->dst, NB), 4); /* re-read 4 blocks */
    assert_int_equal(brixkv_get(h, &NS, q->t, 64, q->dst, NB), 4); /* hot once only */
    assert_int_equal(brixkv_flush(h, 5000), 0);
    assert_int_equal(brixkv_exists(b, &NS, q->t, NT), 64);
    brixkv_stats sh;
    brixkv_stats_get(h, &sh);
    assert_int_equal(sh.l2_puts, 4);

    /* EVICTED: blocks pushed out of a 4-block L1 go to L2 */
    brixkv *e = open_kv(r.port, "EVICTED", 1, 4);
    seqbuf *w = seq_new(5);
    assert_int_equal(brixkv_put(e, &NS, w->t, 8 * 16, w->in, 8), 8);
    brixkv_stats se;
    brixkv_stats_get(e, &se);
    assert_int_equal(se.l2_puts, 4); /* sync: written before put returned */
    assert_int_equal(brixkv_exists(b, &NS, w->t, 8 * 16), 4 * 16);
    brixkv_close(a);
    brixkv_close(b);
    brixkv_close(h);
    brixkv_close(e);
    free(s);
    free(q);
    free(w);
    rs_stop(&r);
}

/* A synchronous put of scatter lists whose SET commands fill the send
 * batch exactly (5 pieces + prefix, header and CRLF = 8 iovecs, 8 commands
 * a batch): every block must reach Redis under its own key (a command's
 * prefix was once reused before it was sent). */
static void test_sync_scatter_batches(void **st)
{
    (void)st;
    NEED_REDIS();
    rsrv r;
    rs_start(&r, 0);
    for (size_t niov = 1; niov <= 13; niov += 4) { /* 1, 5, 9, 13 pieces per block */
        brixkv *a = open_kv(r.port, "ALL", 1, 64), *b = open_kv(r.port, "ALL", 1, 64);
        seqbuf *s = seq_new(20 + (int)niov);
        brixkv_iov *in = calloc(NB * niov, sizeof(*in));
        assert_non_null(in);
        for (int i = 0; i < NB; i++) {
            size_t off = 0;
            for (size_t k = 0; k < niov; k++) {
                size_t len = k + 1 == niov ? BB - off : BB / niov;
                in[i * niov + k] = (brixkv_iov){s->data[i] + off, len};
                off += len;
            }
        }
        assert_int_equal(brixkv_put_iov(a, &NS, s->t, NT, in, niov, NB), NB);
        assert_int_equal(brixkv_get(b, &NS, s->t, NT, s->dst, NB), NB);
        check_out(s, 20 + (int)niov, NB);
        brixkv_stats sb;
        brixkv_stats_get(b, &sb);
        assert_int_equal(sb.l2_corrupt, 0);
        assert_int_equal(sb.l2_hits, NB);
        brixkv_close(a);
        brixkv_close(b);
        free(in);
        free(s);
    }
    rs_stop(&r);
}

static void test_redis_killed_and_back(void **st)
{
    (void)st;
    NEED_REDIS();
    rsrv r;
    rs_start(&r, 0);
    brixkv *kv = open_kv(r.port, "ALL", 0, 64);
    seqbuf *s = seq_new(6), *q = seq_new(7);
    assert_int_equal(brixkv_put(kv, &NS, s->t, NT, s->in, NB), NB);
    assert_int_equal(brixkv_flush(kv, 5000), 0);
    rs_stop(&r);
    assert_int_equal(brixkv_put(kv, &NS, q->t, 4 * 16, q->in, 4), 4); /* L1 takes them */
    assert_int_equal(brixkv_flush(kv, 5000), 0);                      /* L2 drops them */
    assert_int_equal(brixkv_get(kv, &NS, s->t, NT, s->dst, NB), NB);  /* L1 still serves */
    check_out(s, 6, NB);
    seqbuf *x = seq_new(8);
    assert_int_equal(brixkv_get(kv, &NS, x->t, NT, x->dst, NB), 0); /* L2 down: a miss */
    assert_int_equal(brixkv_exists(kv, &NS, x->t, NT), 0);
    brixkv_stats s1;
    brixkv_stats_get(kv, &s1);
    assert_int_equal(s1.l2_dropped, 4);
    assert_true(s1.l2_errors >= 1);
    assert_int_equal(s1.l2_nodes_up, 0);

    rs_start(&r, r.port); /* same port, empty */
    int tries = 0;
    for (; tries < 100; tries++) { /* the connector comes back by itself */
        brixkv_stats sn;
        x->t[0] = (uint32_t)(900000 + tries); /* a new sequence each try */
        assert_int_equal(brixkv_put(kv, &NS, x->t, 16, x->in, 1), 1);
        assert_int_equal(brixkv_flush(kv, 5000), 0);
        brixkv_stats_get(kv, &sn);
        if (sn.l2_puts > s1.l2_puts) break;
        usleep(100000);
    }
    assert_true(tries < 100);
    brixkv *b = open_kv(r.port, "ALL", 1, 64);
    assert_int_equal(brixkv_exists(b, &NS, x->t, 16), 16);
    brixkv_stats s2;
    brixkv_stats_get(kv, &s2);
    assert_int_equal(s2.l2_nodes_up, 1);
    brixkv_close(b);
    brixkv_close(kv);
    free(s);
    free(q);
    free(x);
    rs_stop(&r);
}

/* Store key name of block i of tokens t under NS. */
static void block_name(const uint32_t *t, int i, char name[KV_L2_KEYNAME_MAX])
{
    kv_key root, keys[NB];
    assert_int_equal(
        kv_key_ns_root(NS.model, NS.revision, NS.adapter, NS.dtype, NS.layout, NS.shard, &root), 0);
    assert_int_equal(kv_key_chain(&root, t, NT, 16, keys, NB), NB);
    kv_l2_redis_keyname("test", &keys[i], name);
}

static void test_corrupt_rejected(void **st)
{
    (void)st;
    NEED_REDIS();
    rsrv r;
    rs_start(&r, 0);
    brixkv *a = open_kv(r.port, "ALL", 1, 64);
    seqbuf *s = seq_new(9);
    assert_int_equal(brixkv_put(a, &NS, s->t, NT, s->in, NB), NB);
    redisContext *c = rs_connect(r.port);
    assert_non_null(c);
    char n2[KV_L2_KEYNAME_MAX], n5[KV_L2_KEYNAME_MAX], n6[KV_L2_KEYNAME_MAX];
    block_name(s->t, 2, n2);
    block_name(s->t, 5, n5);
    block_name(s->t, 6, n6);
    redisReply *v = redisCommand(c, "GET %s", n2);
    assert_non_null(v);
    assert_int_equal(v->type, REDIS_REPLY_STRING);
    assert_int_equal(v->len, 40 + BB);
    v->str[40 + 100] ^= 1; /* one payload bit */
    redisReply *ok = redisCommand(c, "SET %s %b", n2, v->str, (size_t)v->len);
    assert_non_null(ok);
    freeReplyObject(ok);
    v->str[40 + 100] ^= 1; /* block 2's good value, kept to be put under a wrong key */

    brixkv *b = open_kv(r.port, "ALL", 1, 64);
    assert_int_equal(brixkv_get(b, &NS, s->t, NT, s->dst, NB), 2); /* stops at block 2 */
    check_out(s, 9, 2);
    brixkv_stats sb;
    brixkv_stats_get(b, &sb);
    assert_int_equal(sb.l2_corrupt, 1);
    assert_int_equal(sb.l2_hits, 2);
    /* mend block 2 (from a, sync); block 2's value under block 5's key is refused */
    assert_int_equal(brixkv_delete(a, &NS, s->t, NT), NB);
    assert_int_equal(brixkv_put(a, &NS, s->t, 7 * 16, s->in, 7), 7);
    ok = redisCommand(c, "SET %s %b", n5, v->str, (size_t)v->len);
    freeReplyObject(ok);
    freeReplyObject(v);
    assert_int_equal(brixkv_get(b, &NS, s->t, NT, s->dst, NB), 5);
    check_out(s, 9, 5);
    brixkv_stats_get(b, &sb);
    assert_int_equal(sb.l2_corrupt, 2);
    ok = redisCommand(c, "SET %s %s", n5, "short"); /* garbage: shorter than a header */
    freeReplyObject(ok);
    assert_int_equal(brixkv_get(b, &NS, s->t, NT, s->dst, NB), 5);
    brixkv_stats_get(b, &sb);
    assert_int_equal(sb.l2_corrupt, 3);
    ok = redisCommand(c, "EXISTS %s", n6); /* block 6 itself is fine: the read stopped early */
    assert_int_equal(ok->integer, 1);
    freeReplyObject(ok);
    redisFree(c);
    brixkv_close(a);
    brixkv_close(b);
    free(s);
    rs_stop(&r);
}

static void test_two_nodes(void **st)
{
    (void)st;
    NEED_REDIS();
    rsrv r1, r2;
    rs_start(&r1, 0);
    rs_start(&r2, 0);
    char ab[64], ba[64], err[256];
    snprintf(ab, sizeof(ab), "127.0.0.1:%d,127.0.0.1:%d", r1.port, r2.port);
    snprintf(ba, sizeof(ba), "127.0.0.1:%d, 127.0.0.1:%d", r2.port, r1.port);
    brixkv_config c;
    assert_int_equal(brixkv_config_from_env(&c, err, sizeof(err)), 0);
    c.block_bytes = BB;
    c.l1_capacity = 64 * BB;
    c.l2_redis = ab;
    c.l2_ingestion = "ALL";
    c.l2_sync = 1;
    brixkv *a = NULL, *b = NULL;
    assert_int_equal(brixkv_open(&c, &a, err, sizeof(err)), 0);
    c.l2_redis = ba; /* the same nodes in another order: the same placement */
    assert_int_equal(brixkv_open(&c, &b, err, sizeof(err)), 0);
    seqbuf *s = seq_new(10);
    assert_int_equal(brixkv_put(a, &NS, s->t, NT, s->in, NB), NB);
    long long n1 = rs_int(r1.port, "DBSIZE"), n2 = rs_int(r2.port, "DBSIZE");
    assert_int_equal(n1 + n2, NB);
    assert_true(n1 > 0 && n2 > 0);
    assert_int_equal(brixkv_get(b, &NS, s->t, NT, s->dst, NB), NB);
    check_out(s, 10, NB);
    brixkv_stats sb;
    brixkv_stats_get(b, &sb);
    assert_int_equal(sb.l2_nodes, 2);
    assert_int_equal(sb.l2_nodes_up, 2);
    brixkv_close(a);
    brixkv_close(b);
    free(s);
    rs_stop(&r1);
    rs_stop(&r2);
}

typedef struct worker {
    brixkv *kv;
    int id;
    int bad;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    seqbuf *own = seq_new(100 + w->id), *shared = seq_new(99);
    for (int it = 0; it < 20; it++) {
        seqbuf *s = (it & 1) ? shared : own;
        int seq = (it & 1) ? 99 : 100 + w->id;
        if (brixkv_put(w->kv, &NS, s->t, NT, s->in, NB) != NB) w->bad++;
        long n = brixkv_get(w->kv, &NS, s->t, NT, s->dst, NB);
        uint8_t want[BB];
        for (long i = 0; i < n; i++) {
            fill(want, seq, (int)i);
            if (memcmp(s->out[i], want, BB) != 0) w->bad++;
        }
        if (n < 0 || brixkv_exists(w->kv, &NS, s->t, NT) < 0) w->bad++;
    }
    free(own);
    free(shared);
    return NULL;
}

static void test_threads(void **st)
{
    (void)st;
    NEED_REDIS();
    rsrv r;
    rs_start(&r, 0);
    brixkv *kv = open_kv(r.port, "ALL", 0, 16); /* L1 much smaller than the work */
    pthread_t th[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){kv, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].bad, 0);
    }
    assert_int_equal(brixkv_flush(kv, 10000), 0);
    brixkv_stats s;
    brixkv_stats_get(kv, &s);
    assert_int_equal(s.l2_corrupt + s.l2_errors, 0);
    assert_true(s.l2_puts > 0);
    assert_true(s.l2_puts + s.l2_dropped == 4 * 20 * NB); /* every block written or dropped */
    brixkv_close(kv);
    rs_stop(&r);
}

static void test_config(void **st)
{
    (void)st;
    brixkv_config c;
    char err[256];
    assert_int_equal(brixkv_config_from_env(&c, err, sizeof(err)), 0);
    assert_null(c.l2_redis);
    assert_string_equal(c.l2_ingestion, "HOT");
    setenv("AIBRIX_KV_CACHE_OL_L2_CACHE_BACKEND", "redis", 1);
    setenv("BRIXKV_L2_REDIS", "r1:6379,r2:6380", 1);
    setenv("AIBRIX_KV_CACHE_OL_L2_CACHE_INGESTION_TYPE", "EVICTED", 1);
    setenv("AIBRIX_KV_CACHE_OL_L2_CACHE_NAMESPACE", "team-a", 1);
    assert_int_equal(brixkv_config_from_env(&c, err, sizeof(err)), 0);
    assert_string_equal(c.l2_redis, "r1:6379,r2:6380");
    assert_string_equal(c.l2_ingestion, "EVICTED");
    assert_string_equal(c.l2_namespace, "team-a");
    setenv("AIBRIX_KV_CACHE_OL_L2_CACHE_INGESTION_TYPE", "SOMETIMES", 1);
    assert_int_equal(brixkv_config_from_env(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "INGESTION_TYPE"));
    unsetenv("AIBRIX_KV_CACHE_OL_L2_CACHE_INGESTION_TYPE");
    unsetenv("BRIXKV_L2_REDIS");
    assert_int_equal(brixkv_config_from_env(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "BRIXKV_L2_REDIS"));
    setenv("AIBRIX_KV_CACHE_OL_L2_CACHE_BACKEND", "INFINISTORE", 1);
    assert_int_equal(brixkv_config_from_env(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "AIBRIX_KV_CACHE_OL_L2_CACHE_BACKEND"));
    assert_non_null(strstr(err, "INFINISTORE"));
    unsetenv("AIBRIX_KV_CACHE_OL_L2_CACHE_BACKEND");
    unsetenv("AIBRIX_KV_CACHE_OL_L2_CACHE_NAMESPACE");

    assert_int_equal(brixkv_config_from_env(&c, err, sizeof(err)), 0);
    c.block_bytes = BB;
    c.l1_capacity = 64 * BB;
    brixkv *kv = NULL;
    c.l2_redis = "localhost"; /* no port */
    assert_int_equal(brixkv_open(&c, &kv, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "'localhost'"));
    c.l2_redis = "127.0.0.1:6379";
    c.l2_ingestion = "LATER";
    assert_int_equal(brixkv_open(&c, &kv, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "l2_ingestion"));
    assert_null(kv);
}

static void test_l2_down_from_start(void **st)
{
    (void)st;
    int port = free_port(); /* nothing listens */
    brixkv *kv = open_kv(port, "ALL", 1, 64);
    seqbuf *s = seq_new(11);
    assert_int_equal(brixkv_put(kv, &NS, s->t, NT, s->in, NB), NB);
    assert_int_equal(brixkv_get(kv, &NS, s->t, NT, s->dst, NB), NB); /* L1 */
    brixkv_stats st1;
    brixkv_stats_get(kv, &st1);
    assert_int_equal(st1.l2_dropped, NB);
    assert_int_equal(st1.l2_puts, 0);
    assert_int_equal(st1.l2_nodes_up, 0);
    brixkv_close(kv);
    free(s);
}

int main(void)
{
    signal(SIGPIPE, SIG_DFL); /* the library must cope without SIG_IGN */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_small_l1),
        cmocka_unit_test(test_long_sequence),
        cmocka_unit_test(test_cross_engine),
        cmocka_unit_test(test_sync_scatter_batches),
        cmocka_unit_test(test_redis_killed_and_back),
        cmocka_unit_test(test_corrupt_rejected),
        cmocka_unit_test(test_two_nodes),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_l2_down_from_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
