/* Throughput and latency microbenchmark of libbrixkv (driver for
 * bench/micro/kvcache.sh), through the public API only (include/brix/brixkv.h).
 *
 *   kvcache_bench l1 [--quick]            L1 put/get GB/s against memcpy of the same
 *                                         bytes, 1 and 2 threads, per block size
 *   kvcache_bench lookup [--quick]        prefix lookup of a 32k-token sequence
 *   kvcache_bench l2 HOST:PORT [--quick] [--batch N] [--conns C]
 *                                         L2 (Redis) put/get GB/s against raw
 *                                         pipelined hiredis SET/GET
 *
 * Peers are chosen so caches are treated alike: memcpy copies the same
 * working set (bigger than the CPU caches) between two pre-faulted buffers
 * of the same size, block by block; brixkv's slabs are faulted by a warm-up
 * round that is not counted. Each figure is the median of several rounds;
 * between rounds the blocks are deleted (not timed) so every put stores a
 * new block rather than replacing one. Exits 1 when a round returns fewer
 * blocks or different bytes than were stored. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "brix/brixkv.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)
#define GIB ((size_t)1 << 30)
#define MAXREP 15

typedef struct kvb_opts {
    int quick;
    const char *redis; /* l2: host:port */
    size_t batch;      /* l2: commands per pipelined batch of the raw peer */
    unsigned conns;    /* l2: connections (brixkv's l2_conns, raw peer's threads) */
} kvb_opts;

static double kvb_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int kvb_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double kvb_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), kvb_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t kvb_rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void kvb_fill(void *buf, size_t len, uint64_t seed)
{
    uint64_t s = seed | 1, *p = buf;
    for (size_t i = 0; i < len / 8; i++)
        p[i] = kvb_rnd(&s);
}

/* Page-aligned, as an engine's (pinned) KV buffers are; NULL on failure. */
static char *kvb_alloc(size_t len)
{
    void *p = NULL;
    return posix_memalign(&p, 4096, len) == 0 ? p : NULL;
}

static uint32_t *kvb_tokens(size_t n, uint64_t seed)
{
    uint32_t *t = malloc(n * sizeof(*t));
    if (!t) return NULL;
    uint64_t s = seed | 1;
    for (size_t i = 0; i < n; i++)
        t[i] = (uint32_t)(kvb_rnd(&s) % 128000);
    return t;
}

static const brixkv_ns kvb_ns = {.model = "bench-model", .dtype = "bf16", .layout = "lcnd16"};

/* ---- L1 ---------------------------------------------------------------- */

/* One thread's share of a round: its own token sequence and its slice of
 * the source and destination buffers (nb blocks of bs bytes). */
typedef struct kvb_part {
    brixkv *kv;
    uint32_t *tok;
    size_t ntok, nb, bs;
    char *src, *dst;
    void **sp, **dp; /* block pointers into src / dst */
    int op;          /* 0 memcpy, 1 put, 2 get */
    long got;
} kvb_part;

static void *kvb_part_run(void *arg)
{
    kvb_part *p = arg;
    if (p->op == 0) {
        for (size_t i = 0; i < p->nb; i++)
            memcpy(p->dst + i * p->bs, p->src + i * p->bs, p->bs);
        p->got = (long)p->nb;
    } else if (p->op == 1) {
        p->got = brixkv_put(p->kv, &kvb_ns, p->tok, p->ntok, (const void *const *)p->sp, p->nb);
    } else {
        p->got = brixkv_get(p->kv, &kvb_ns, p->tok, p->ntok, p->dp, p->nb);
    }
    return NULL;
}

/* Runs op on every part (threads when more than one); seconds, or -1 when
 * a part did not move all its blocks. */
static double kvb_parts_time(kvb_part *parts, int nthr, int op)
{
    pthread_t th[8];
    for (int t = 0; t < nthr; t++)
        parts[t].op = op;
    double t0 = kvb_now();
    if (nthr == 1) {
        kvb_part_run(&parts[0]);
    } else {
        for (int t = 0; t < nthr; t++)
            if (pthread_create(&th[t], NULL, kvb_part_run, &parts[t]) != 0) return -1;
        for (int t = 0; t < nthr; t++)
            pthread_join(th[t], NULL);
    }
    double dt = kvb_now() - t0;
    for (int t = 0; t < nthr; t++)
        if (parts[t].got != (long)parts[t].nb) {
            fprintf(stderr, "op %d: thread %d moved %ld of %zu blocks\n", op, t, parts[t].got,
                    parts[t].nb);
            return -1;
        }
    return dt;
}

typedef struct kvb_l1_row {
    double cp, put, get, lookup_ns; /* GB/s, GB/s, GB/s, ns per block of exists() */
} kvb_l1_row;

/* One row: nthr threads, buffers at off bytes past a page boundary. */
static int kvb_l1_one(size_t bs, size_t ws, size_t cap, int nthr, size_t off, int reps,
                      kvb_l1_row *row)
{
    char err[256];
    brixkv_config c;
    memset(&c, 0, sizeof(c));
    c.block_ntokens = 16;
    c.block_bytes = bs;
    c.l1_capacity = cap;
    c.l1_policy = "S3FIFO";
    brixkv *kv;
    int rc = brixkv_open(&c, &kv, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "brixkv_open: %s (%d)\n", err, rc);
        return -1;
    }
    size_t nb = ws / bs / (size_t)nthr;
    char *sbuf = kvb_alloc(ws + 4096), *dbuf = kvb_alloc(ws + 4096);
    char *src = sbuf ? sbuf + off : NULL, *dst = dbuf ? dbuf + off : NULL;
    kvb_part parts[8];
    memset(parts, 0, sizeof(parts));
    int ok = src && dst;
    if (ok) {
        kvb_fill(src, ws, 42);
        memset(dst, 0, ws); /* fault it in */
    }
    for (int t = 0; ok && t < nthr; t++) {
        kvb_part *p = &parts[t];
        p->kv = kv;
        p->nb = nb;
        p->bs = bs;
        p->ntok = nb * 16;
        p->src = src + (size_t)t * nb * bs;
        p->dst = dst + (size_t)t * nb * bs;
        p->tok = kvb_tokens(p->ntok, 1000 + 2 * (uint64_t)t);
        p->sp = malloc(nb * sizeof(void *));
        p->dp = malloc(nb * sizeof(void *));
        ok = p->tok && p->sp && p->dp;
        for (size_t i = 0; ok && i < nb; i++) {
            p->sp[i] = p->src + i * bs;
            p->dp[i] = p->dst + i * bs;
        }
    }
    double tc[MAXREP], tp[MAXREP], tg[MAXREP], tl[MAXREP];
    int n = 0;
    for (int r = 0; ok && r <= reps; r++) { /* round 0 warms up */
        for (int t = 0; t < nthr; t++)
            brixkv_delete(kv, &kvb_ns, parts[t].tok, parts[t].ntok);
        double a = kvb_parts_time(parts, nthr, 0);
        double b = kvb_parts_time(parts, nthr, 1);
        memset(dst, 0, ws);
        double g = kvb_parts_time(parts, nthr, 2);
        if (a < 0 || b < 0 || g < 0 || memcmp(src, dst, nb * bs * (size_t)nthr) != 0) {
            fprintf(stderr, "L1 round at %zu bytes: blocks lost or bytes differ\n", bs);
            ok = 0;
            break;
        }
        double l0 = kvb_now();
        long have = brixkv_exists(kv, &kvb_ns, parts[0].tok, parts[0].ntok);
        double l = kvb_now() - l0;
        if (have != (long)parts[0].ntok) {
            fprintf(stderr, "exists: %ld of %zu tokens\n", have, parts[0].ntok);
            ok = 0;
            break;
        }
        if (r == 0) continue;
        tc[n] = a;
        tp[n] = b;
        tg[n] = g;
        tl[n] = l;
        n++;
    }
    if (ok) {
        double bytes = (double)(nb * bs * (size_t)nthr);
        row->cp = bytes / kvb_median(tc, n) / 1e9;
        row->put = bytes / kvb_median(tp, n) / 1e9;
        row->get = bytes / kvb_median(tg, n) / 1e9;
        row->lookup_ns = kvb_median(tl, n) * 1e9 / (double)nb;
    }
    for (int t = 0; t < nthr; t++) {
        free(parts[t].tok);
        free(parts[t].sp);
        free(parts[t].dp);
    }
    free(sbuf);
    free(dbuf);
    brixkv_close(kv);
    return ok ? 0 : -1;
}

static int kvb_l1(const kvb_opts *o)
{
    static const size_t sizes[] = {64 * KIB, 256 * KIB, 1 * MIB, 4 * MIB};
    size_t ws = o->quick ? 64 * MIB : 256 * MIB, cap = o->quick ? 256 * MIB : 1 * GIB;
    int reps = o->quick ? 3 : 5;
    printf("L1 put/get vs memcpy: working set %zu MiB (CPU caches are smaller), L1 %zu MiB "
           "S3FIFO 16 shards,\n  block of 16 tokens, one put/get call per sequence, median of "
           "%d rounds (goal: ratio >= 0.8 at >= 256 KiB)\n",
           ws / MIB, cap / MIB, reps);
    printf("%-8s %-6s %11s %9s %9s %9s %9s %14s\n", "threads", "block", "memcpy GB/s", "put GB/s",
           "put/cpy", "get GB/s", "get/cpy", "exists ns/blk");
    /* Rows: page-aligned buffers (as pinned/GPU-staging buffers are) with 1
     * and 2 threads, then 1 thread with buffers 16 bytes past a page
     * boundary (what malloc returns for big sizes). */
    for (int row_kind = 0; row_kind < 3; row_kind++)
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            int nthr = row_kind == 1 ? 2 : 1;
            size_t off = row_kind == 2 ? 16 : 0;
            if (row_kind == 2 && sizes[i] > 256 * KIB) continue;
            kvb_l1_row row;
            if (kvb_l1_one(sizes[i], ws, cap, nthr, off, reps, &row) != 0) return 1;
            char label[16];
            snprintf(label, sizeof(label), "%d%s", nthr, off ? " +16B" : "");
            printf("%-8s %4zuK  %11.2f %9.2f %8.2fx %9.2f %8.2fx %14.0f\n", label, sizes[i] / KIB,
                   row.cp, row.put, row.put / row.cp, row.get, row.get / row.cp, row.lookup_ns);
            fflush(stdout);
        }
    return 0;
}

/* ---- prefix lookup of a 32k-token sequence ----------------------------- */

static int kvb_lookup(const kvb_opts *o)
{
    const size_t ntok = 32768, bt = 16, nb = ntok / bt, bs = 4 * KIB;
    int iters = o->quick ? 21 : 101;
    char err[256];
    brixkv_config c;
    memset(&c, 0, sizeof(c));
    c.block_ntokens = bt;
    c.block_bytes = bs;
    c.l1_capacity = 64 * MIB;
    brixkv *kv;
    int rc = brixkv_open(&c, &kv, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "brixkv_open: %s (%d)\n", err, rc);
        return 1;
    }
    uint32_t *hit = kvb_tokens(ntok, 7), *miss = kvb_tokens(ntok, 8);
    char *data = kvb_alloc(nb * bs), *out = kvb_alloc(nb * bs);
    void **sp = malloc(nb * sizeof(void *)), **dp = malloc(nb * sizeof(void *));
    int ret = 1;
    if (!hit || !miss || !data || !out || !sp || !dp) goto done;
    kvb_fill(data, nb * bs, 9);
    for (size_t i = 0; i < nb; i++) {
        sp[i] = data + i * bs;
        dp[i] = out + i * bs;
    }
    if (brixkv_put(kv, &kvb_ns, hit, ntok, (const void *const *)sp, nb) != (long)nb) {
        fprintf(stderr, "lookup: put of the 32k sequence failed\n");
        goto done;
    }
    double t[4][128];
    for (int i = 0; i < iters; i++) {
        double t0 = kvb_now();
        long a = brixkv_exists(kv, &kvb_ns, hit, ntok);
        double t1 = kvb_now();
        long b = brixkv_get(kv, &kvb_ns, miss, ntok, dp, nb);
        double t2 = kvb_now();
        long d = brixkv_exists(kv, &kvb_ns, miss, ntok);
        double t3 = kvb_now();
        long e = brixkv_get(kv, &kvb_ns, hit, ntok, dp, nb);
        double t4 = kvb_now();
        if (a != (long)ntok || b != 0 || d != 0 || e != (long)nb) {
            fprintf(stderr, "lookup: exists %ld/get-miss %ld/exists-miss %ld/get %ld\n", a, b, d,
                    e);
            goto done;
        }
        t[0][i] = t1 - t0;
        t[1][i] = t2 - t1;
        t[2][i] = t3 - t2;
        t[3][i] = t4 - t3;
    }
    if (memcmp(data, out, nb * bs) != 0) {
        fprintf(stderr, "lookup: get returned other bytes\n");
        goto done;
    }
    printf("Prefix lookup, 32768 tokens = %zu blocks of %zu tokens, median of %d runs:\n", nb, bt,
           iters);
    printf("  exists, fully cached        %8.1f us  (%.0f ns/block: key chain + match)\n",
           kvb_median(t[0], iters) * 1e6, kvb_median(t[0], iters) * 1e9 / (double)nb);
    printf("  get, fully missing          %8.1f us\n", kvb_median(t[1], iters) * 1e6);
    printf("  exists, fully missing       %8.1f us\n", kvb_median(t[2], iters) * 1e6);
    printf("  get, fully cached (4 KiB)   %8.1f us  (%.2f GB/s, 8 MiB: fits the L3)\n",
           kvb_median(t[3], iters) * 1e6, (double)(nb * bs) / kvb_median(t[3], iters) / 1e9);
    ret = 0;
done:
    free(hit);
    free(miss);
    free(data);
    free(out);
    free(sp);
    free(dp);
    brixkv_close(kv);
    return ret;
}

/* ---- L2: brixkv over Redis vs raw pipelined hiredis -------------------- */

typedef struct kvb_raw {
    const char *host;
    int port;
    size_t first, step, n; /* keys first, first+step, ... below n */
    size_t bs, batch;
    char *src, *dst;
    int get; /* 0 SET, 1 GET */
    int ok;
} kvb_raw;

static void *kvb_raw_run(void *arg)
{
    kvb_raw *r = arg;
    r->ok = 0;
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout(r->host, r->port, tv);
    if (!c || c->err) {
        fprintf(stderr, "raw: connect: %s\n", c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    size_t i = r->first;
    int ok = 1;
    while (ok && i < r->n) {
        size_t sent = 0, keys[1024];
        for (; i < r->n && sent < r->batch; i += r->step) {
            char key[32];
            int kl = snprintf(key, sizeof(key), "raw:%zu", i);
            int rc = r->get ? redisAppendCommand(c, "GET %b", key, (size_t)kl)
                            : redisAppendCommand(c, "SET %b %b", key, (size_t)kl,
                                                 r->src + i * r->bs, r->bs);
            if (rc != REDIS_OK) ok = 0;
            keys[sent++] = i;
        }
        for (size_t k = 0; ok && k < sent; k++) {
            redisReply *rep;
            if (redisGetReply(c, (void **)&rep) != REDIS_OK || !rep) {
                ok = 0;
                break;
            }
            if (r->get) {
                if (rep->type != REDIS_REPLY_STRING || rep->len != r->bs)
                    ok = 0;
                else
                    memcpy(r->dst + keys[k] * r->bs, rep->str, r->bs);
            } else if (rep->type == REDIS_REPLY_ERROR) {
                ok = 0;
            }
            freeReplyObject(rep);
        }
    }
    if (!ok) fprintf(stderr, "raw: %s failed: %s\n", r->get ? "GET" : "SET", c->errstr);
    redisFree(c);
    r->ok = ok;
    return NULL;
}

/* One raw round with conns connections (a thread each, keys dealt round
 * robin). Seconds, or -1. */
static double kvb_raw_time(kvb_raw *tmpl, unsigned conns, int get)
{
    kvb_raw rs[16];
    pthread_t th[16];
    double t0 = kvb_now();
    for (unsigned t = 0; t < conns; t++) {
        rs[t] = *tmpl;
        rs[t].first = t;
        rs[t].step = conns;
        rs[t].get = get;
        if (pthread_create(&th[t], NULL, kvb_raw_run, &rs[t]) != 0) return -1;
    }
    int ok = 1;
    for (unsigned t = 0; t < conns; t++) {
        pthread_join(th[t], NULL);
        ok &= rs[t].ok;
    }
    double dt = kvb_now() - t0;
    return ok ? dt : -1;
}

static int kvb_redis_cmd(const char *host, int port, const char *cmd)
{
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return -1;
    }
    redisReply *r = redisCommand(c, cmd);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    redisFree(c);
    return ok ? 0 : -1;
}

static int kvb_l2_open(const kvb_opts *o, size_t bs, size_t cap, brixkv **kv)
{
    char err[256];
    brixkv_config c;
    memset(&c, 0, sizeof(c));
    c.block_ntokens = 16;
    c.block_bytes = bs;
    c.l1_capacity = cap;
    c.l2_redis = o->redis;
    c.l2_ingestion = "ALL";
    c.l2_sync = 1;
    c.l2_conns = o->conns;
    c.l2_timeout_ms = 5000;
    c.l2_namespace = "kvbench";
    int rc = brixkv_open(&c, kv, err, sizeof(err));
    if (rc != 0) fprintf(stderr, "brixkv_open with L2: %s (%d)\n", err, rc);
    return rc;
}

static int kvb_l2(const kvb_opts *o)
{
    static const size_t sizes[] = {64 * KIB, 256 * KIB, 1 * MIB, 4 * MIB};
    size_t ws = o->quick ? 16 * MIB : 128 * MIB;
    int reps = o->quick ? 2 : 3;
    char host[256];
    const char *colon = strrchr(o->redis, ':');
    if (!colon || (size_t)(colon - o->redis) >= sizeof(host)) {
        fprintf(stderr, "l2: want HOST:PORT, got '%s'\n", o->redis);
        return 2;
    }
    memcpy(host, o->redis, (size_t)(colon - o->redis));
    host[colon - o->redis] = '\0';
    int port = atoi(colon + 1);

    /* Is the L2 tier there at all? */
    brixkv *probe;
    if (kvb_l2_open(o, 64 * KIB, 64 * MIB, &probe) != 0) return 1;
    brixkv_stats st;
    brixkv_stats_get(probe, &st);
    brixkv_close(probe);
    if (st.l2_nodes == 0) {
        printf("L2: not built yet (brixkv_open ignores l2_redis: no L2 nodes in stats)\n");
        return 0;
    }

    printf("L2 (Redis at %s) vs raw pipelined hiredis SET/GET: working set %zu MiB, %u "
           "connection(s),\n  raw batch %zu (brixkv: 64); brixkv l2_sync=1 ingestion ALL (put = "
           "L1 + L2, checksummed),\n  get from a second handle with an empty L1 (every block read "
           "from L2, verified,\n  copied out and into L1); median of %d rounds (goal: ratio >= "
           "0.9)\n",
           o->redis, ws / MIB, o->conns, o->batch, reps);
    printf("%-6s %9s %9s %8s %9s %9s %8s\n", "block", "SET GB/s", "put GB/s", "put/SET", "GET GB/s",
           "get GB/s", "get/GET");
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        size_t bs = sizes[si], nb = ws / bs, ntok = nb * 16;
        size_t cap = 2 * ws > 64 * bs ? 2 * ws : 64 * bs; /* >= 4 slots per shard */
        brixkv *pk = NULL, *gk = NULL;
        char *src = kvb_alloc(ws), *dst = kvb_alloc(ws);
        uint32_t *tok = kvb_tokens(ntok, 77);
        void **sp = malloc(nb * sizeof(void *)), **dp = malloc(nb * sizeof(void *));
        int ok = src && dst && tok && sp && dp && kvb_l2_open(o, bs, cap, &pk) == 0 &&
                 kvb_l2_open(o, bs, cap, &gk) == 0;
        if (ok) {
            kvb_fill(src, ws, 5);
            memset(dst, 0, ws);
            for (size_t i = 0; i < nb; i++) {
                sp[i] = src + i * bs;
                dp[i] = dst + i * bs;
            }
        }
        kvb_raw tmpl = {.host = host,
                        .port = port,
                        .n = nb,
                        .bs = bs,
                        .batch = o->batch,
                        .src = src,
                        .dst = dst};
        double ts[MAXREP], tg[MAXREP], tp[MAXREP], tb[MAXREP];
        int n = 0;
        for (int r = 0; ok && r <= reps; r++) {
            brixkv_delete(pk, &kvb_ns, tok, ntok); /* L1 of both handles and L2 */
            brixkv_delete(gk, &kvb_ns, tok, ntok);
            if (kvb_redis_cmd(host, port, "FLUSHALL") != 0) {
                fprintf(stderr, "l2: FLUSHALL failed\n");
                ok = 0;
                break;
            }
            double a = kvb_raw_time(&tmpl, o->conns, 0);
            memset(dst, 0, ws);
            double b = kvb_raw_time(&tmpl, o->conns, 1);
            if (a < 0 || b < 0 || memcmp(src, dst, ws) != 0) {
                fprintf(stderr, "l2: raw round failed\n");
                ok = 0;
                break;
            }
            if (kvb_redis_cmd(host, port, "FLUSHALL") != 0) {
                ok = 0;
                break;
            }
            double t0 = kvb_now();
            long put = brixkv_put(pk, &kvb_ns, tok, ntok, (const void *const *)sp, nb);
            double t1 = kvb_now();
            memset(dst, 0, ws);
            double t2 = kvb_now();
            long got = brixkv_get(gk, &kvb_ns, tok, ntok, dp, nb);
            double t3 = kvb_now();
            brixkv_stats gs;
            brixkv_stats_get(gk, &gs);
            if (put != (long)nb || got != (long)nb || memcmp(src, dst, ws) != 0) {
                fprintf(stderr,
                        "l2: brixkv put %ld get %ld of %zu blocks (l2 hits %llu, errors "
                        "%llu, dropped %llu)\n",
                        put, got, nb, (unsigned long long)gs.l2_hits,
                        (unsigned long long)gs.l2_errors, (unsigned long long)gs.l2_dropped);
                ok = 0;
                break;
            }
            if (r == 0) continue;
            ts[n] = a;
            tg[n] = b;
            tp[n] = t1 - t0;
            tb[n] = t3 - t2;
            n++;
        }
        if (ok) {
            double bytes = (double)ws, s = bytes / kvb_median(ts, n) / 1e9,
                   g = bytes / kvb_median(tg, n) / 1e9, p = bytes / kvb_median(tp, n) / 1e9,
                   b = bytes / kvb_median(tb, n) / 1e9;
            printf("%4zuK  %9.2f %9.2f %7.2fx %9.2f %9.2f %7.2fx\n", bs / KIB, s, p, p / s, g, b,
                   b / g);
            fflush(stdout);
        }
        brixkv_close(pk);
        brixkv_close(gk);
        free(src);
        free(dst);
        free(tok);
        free(sp);
        free(dp);
        kvb_redis_cmd(host, port, "FLUSHALL");
        if (!ok) return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    kvb_opts o = {.batch = 32, .conns = 2};
    if (argc < 2) {
        fprintf(stderr, "usage: kvcache_bench l1|lookup|l2 [HOST:PORT] [--quick] [--batch N] "
                        "[--conns C]\n");
        return 2;
    }
    const char *what = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            o.quick = 1;
        } else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            long v = strtol(argv[++i], NULL, 10);
            if (v < 1 || v > 1024) {
                fprintf(stderr, "--batch: 1..1024\n");
                return 2;
            }
            o.batch = (size_t)v;
        } else if (strcmp(argv[i], "--conns") == 0 && i + 1 < argc) {
            long v = strtol(argv[++i], NULL, 10);
            if (v < 1 || v > 16) {
                fprintf(stderr, "--conns: 1..16\n");
                return 2;
            }
            o.conns = (unsigned)v;
        } else if (!o.redis && argv[i][0] != '-') {
            o.redis = argv[i];
        } else {
            fprintf(stderr, "unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (strcmp(what, "l1") == 0) return kvb_l1(&o);
    if (strcmp(what, "lookup") == 0) return kvb_lookup(&o);
    if (strcmp(what, "l2") == 0) {
        if (!o.redis) {
            fprintf(stderr, "l2: want HOST:PORT\n");
            return 2;
        }
        return kvb_l2(&o);
    }
    fprintf(stderr, "unknown benchmark '%s' (l1, lookup, l2)\n", what);
    return 2;
}
