/* kv_l2_redis: see kv_l2_redis.h. One batch = one pass of three phases:
 * take one connection of every node that has keys in the batch (in node
 * order, so two batches never wait on each other in a cycle), append and
 * flush every node's commands, then read every node's replies. Nodes are
 * thereby worked in parallel while each keeps its commands in order. */
#include "kv/kv_l2_redis.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

enum { OP_GET, OP_SET, OP_DEL, OP_EXISTS };

typedef struct kv_l2r_conn {
    pthread_mutex_t mu;
    redisContext *c;
    uint64_t gen; /* node generation it was opened in */
} kv_l2r_conn;

typedef struct kv_l2r_node {
    kv_l2_addr addr;
    kv_l2r_conn *conns;
    atomic_uint rr;     /* next connection to use */
    pthread_mutex_t mu; /* the state below */
    int up, probing, backoff_ms;
    int64_t down_until_ms;
    uint64_t gen; /* raised when the node goes down: older connections are stale */
} kv_l2r_node;

struct kv_l2_redis {
    kv_l2r_node *nodes;
    unsigned nnodes, nconns;
    struct timeval tv;
    kv_l2_ring ring;
    char ns[KV_L2_NS_MAX + 1];
    atomic_uint_fast64_t errors;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void kv_l2r_mark_down(kv_l2_redis *r, kv_l2r_node *nd)
{
    atomic_fetch_add(&r->errors, 1);
    pthread_mutex_lock(&nd->mu);
    if (nd->up || nd->backoff_ms == 0)
        nd->backoff_ms = BACKOFF_MIN_MS;
    else if (nd->probing)
        nd->backoff_ms = nd->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : nd->backoff_ms * 2;
    nd->up = 0;
    nd->probing = 0;
    nd->down_until_ms = now_ms() + nd->backoff_ms;
    nd->gen++;
    pthread_mutex_unlock(&nd->mu);
}

/* A connection of nd, locked and connected; NULL (fast) when nd is down. */
static kv_l2r_conn *kv_l2r_acquire(kv_l2_redis *r, kv_l2r_node *nd)
{
    kv_l2r_conn *cn = &nd->conns[atomic_fetch_add(&nd->rr, 1) % r->nconns];
    pthread_mutex_lock(&cn->mu);
    pthread_mutex_lock(&nd->mu);
    if (!nd->up && (nd->probing || now_ms() < nd->down_until_ms)) {
        pthread_mutex_unlock(&nd->mu);
        pthread_mutex_unlock(&cn->mu);
        return NULL;
    }
    if (!nd->up) nd->probing = 1; /* this caller probes; the others fail fast */
    uint64_t gen = nd->gen;
    pthread_mutex_unlock(&nd->mu);
    if (cn->c && cn->gen != gen) {
        redisFree(cn->c);
        cn->c = NULL;
    }
    if (!cn->c) {
        redisContext *c = redisConnectWithTimeout(nd->addr.host, nd->addr.port, r->tv);
        if (!c || c->err || redisSetTimeout(c, r->tv) != REDIS_OK) {
            if (c) redisFree(c);
            kv_l2r_mark_down(r, nd);
            pthread_mutex_unlock(&cn->mu);
            return NULL;
        }
        cn->c = c;
        cn->gen = gen;
        pthread_mutex_lock(&nd->mu);
        if (nd->gen == gen) {
            nd->up = 1;
            nd->probing = 0;
            nd->backoff_ms = 0;
        }
        pthread_mutex_unlock(&nd->mu);
    }
    return cn;
}

/* The connection broke: drop it and mark its node down. */
static void kv_l2r_broken(kv_l2_redis *r, kv_l2r_node *nd, kv_l2r_conn *cn)
{
    redisFree(cn->c);
    cn->c = NULL;
    kv_l2r_mark_down(r, nd);
}

size_t kv_l2_redis_keyname(const char *ns, const kv_key *key, char out[KV_L2_KEYNAME_MAX])
{
    size_t nl = strlen(ns);
    memcpy(out, ns, nl);
    out[nl] = ':';
    kv_key_hex(*key, out + nl + 1);
    return nl + 1 + KV_KEY_HEX_LEN;
}

static int kv_l2r_append(kv_l2_redis *r, redisContext *c, int op, const kv_key *key,
                         const uint8_t *val, size_t vlen)
{
    static const char *const cmd[] = {"GET", "SET", "DEL", "EXISTS"};
    char name[KV_L2_KEYNAME_MAX];
    const char *argv[3] = {cmd[op], name, (const char *)val};
    size_t argl[3] = {strlen(cmd[op]), kv_l2_redis_keyname(r->ns, key, name), vlen};
    return redisAppendCommandArgv(c, op == OP_SET ? 3 : 2, argv, argl);
}

/* Runs op on keys[0..n) over every node; rep[i] gets keys[i]'s reply
 * (NULL when its node was down or failed). The caller frees the replies. */
static void kv_l2r_run(kv_l2_redis *r, int op, const kv_key *keys, const uint8_t *const *vals,
                       const size_t *lens, size_t n, redisReply **rep)
{
    uint32_t *node = malloc(n * sizeof(*node));
    kv_l2r_conn **held = calloc(r->nnodes, sizeof(*held));
    if (!node || !held) {
        free(node);
        free(held);
        return;
    }
    for (size_t i = 0; i < n; i++)
        node[i] = kv_l2_ring_node(&r->ring, &keys[i]);
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigset_t pend;
    sigpending(&pend);
    int was_pending = sigismember(&pend, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    for (unsigned j = 0; j < r->nnodes; j++) { /* take and send */
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++)
            cnt += node[i] == j;
        if (!cnt || !(held[j] = kv_l2r_acquire(r, &r->nodes[j]))) continue;
        redisContext *c = held[j]->c;
        int ok = 1, done = 0;
        for (size_t i = 0; i < n && ok; i++)
            if (node[i] == j)
                ok = kv_l2r_append(r, c, op, &keys[i], vals ? vals[i] : NULL, lens ? lens[i] : 0) ==
                     REDIS_OK;
        while (ok && !done)
            ok = redisBufferWrite(c, &done) == REDIS_OK;
        if (!ok) {
            kv_l2r_broken(r, &r->nodes[j], held[j]);
            pthread_mutex_unlock(&held[j]->mu);
            held[j] = NULL;
        }
    }
    for (unsigned j = 0; j < r->nnodes; j++) { /* read */
        if (!held[j]) continue;
        for (size_t i = 0; i < n; i++) {
            if (node[i] != j) continue;
            void *rp = NULL;
            if (redisGetReply(held[j]->c, &rp) != REDIS_OK) {
                kv_l2r_broken(r, &r->nodes[j], held[j]);
                break;
            }
            rep[i] = rp;
            if (rep[i] && rep[i]->type == REDIS_REPLY_ERROR) atomic_fetch_add(&r->errors, 1);
        }
        pthread_mutex_unlock(&held[j]->mu);
    }
    if (!was_pending) { /* consume a SIGPIPE our writes raised */
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) > 0) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    free(node);
    free(held);
}

static void kv_l2r_free_replies(redisReply **rep, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rep[i]) freeReplyObject(rep[i]);
    free(rep);
}

void kv_l2_redis_get_many(kv_l2_redis *r, const kv_key *keys, size_t n, kv_l2_redis_get_cb cb,
                          void *arg)
{
    redisReply **rep = n ? calloc(n, sizeof(*rep)) : NULL;
    if (rep) kv_l2r_run(r, OP_GET, keys, NULL, NULL, n, rep);
    for (size_t i = 0; i < n; i++) {
        const redisReply *p = rep ? rep[i] : NULL;
        int have = p && p->type == REDIS_REPLY_STRING;
        if (cb(arg, i, have ? (const uint8_t *)p->str : NULL, have ? (size_t)p->len : 0)) break;
    }
    if (rep) kv_l2r_free_replies(rep, n);
}

size_t kv_l2_redis_put_many(kv_l2_redis *r, const kv_key *keys, const uint8_t *const *vals,
                            const size_t *lens, size_t n)
{
    redisReply **rep = n ? calloc(n, sizeof(*rep)) : NULL;
    if (!rep) return 0;
    kv_l2r_run(r, OP_SET, keys, vals, lens, n, rep);
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += rep[i] && rep[i]->type == REDIS_REPLY_STATUS;
    kv_l2r_free_replies(rep, n);
    return ok;
}

/* Runs an integer-reply op; out[i] = the reply (0 when missing). */
static size_t kv_l2r_int_many(kv_l2_redis *r, int op, const kv_key *keys, size_t n, uint8_t *out)
{
    redisReply **rep = n ? calloc(n, sizeof(*rep)) : NULL;
    size_t sum = 0;
    for (size_t i = 0; i < n; i++)
        if (out) out[i] = 0;
    if (!rep) return 0;
    kv_l2r_run(r, op, keys, NULL, NULL, n, rep);
    for (size_t i = 0; i < n; i++) {
        int v = rep[i] && rep[i]->type == REDIS_REPLY_INTEGER && rep[i]->integer > 0;
        if (out) out[i] = (uint8_t)v;
        sum += (size_t)v;
    }
    kv_l2r_free_replies(rep, n);
    return sum;
}

void kv_l2_redis_exists_many(kv_l2_redis *r, const kv_key *keys, size_t n, uint8_t *found)
{
    kv_l2r_int_many(r, OP_EXISTS, keys, n, found);
}

size_t kv_l2_redis_del_many(kv_l2_redis *r, const kv_key *keys, size_t n)
{
    return kv_l2r_int_many(r, OP_DEL, keys, n, NULL);
}

int kv_l2_redis_create(const kv_l2_redis_config *c, kv_l2_redis **out, char *err, size_t errlen)
{
    const char *ns = c->ns && *c->ns ? c->ns : "brixkv";
    if (c->nnodes == 0 || c->nnodes > KV_L2_MAX_NODES || strlen(ns) > KV_L2_NS_MAX) {
        snprintf(err, errlen, "kv_l2_redis: want 1..%d nodes and a namespace of <= %d bytes",
                 KV_L2_MAX_NODES, KV_L2_NS_MAX);
        return -EINVAL;
    }
    kv_l2_redis *r = calloc(1, sizeof(*r));
    if (!r) return -ENOMEM;
    strcpy(r->ns, ns);
    r->nconns = c->conns ? c->conns : 2;
    int ms = c->timeout_ms > 0 ? c->timeout_ms : 1000;
    r->tv.tv_sec = ms / 1000;
    r->tv.tv_usec = (ms % 1000) * 1000;
    r->nodes = calloc(c->nnodes, sizeof(*r->nodes));
    if (!r->nodes || kv_l2_ring_build(&r->ring, c->nodes, c->nnodes) != 0) {
        free(r->nodes);
        free(r);
        return -ENOMEM;
    }
    for (unsigned j = 0; j < c->nnodes; j++) {
        kv_l2r_node *nd = &r->nodes[j];
        nd->addr = c->nodes[j];
        nd->up = 1;
        pthread_mutex_init(&nd->mu, NULL);
        nd->conns = calloc(r->nconns, sizeof(*nd->conns));
        r->nnodes = j + 1;
        if (!nd->conns) {
            kv_l2_redis_destroy(r);
            return -ENOMEM;
        }
        for (unsigned k = 0; k < r->nconns; k++)
            pthread_mutex_init(&nd->conns[k].mu, NULL);
        kv_l2r_conn *cn = kv_l2r_acquire(r, nd); /* learn whether it is up */
        if (cn) pthread_mutex_unlock(&cn->mu);
    }
    *out = r;
    return 0;
}

void kv_l2_redis_destroy(kv_l2_redis *r)
{
    if (!r) return;
    for (unsigned j = 0; j < r->nnodes; j++) {
        kv_l2r_node *nd = &r->nodes[j];
        for (unsigned k = 0; nd->conns && k < r->nconns; k++) {
            if (nd->conns[k].c) redisFree(nd->conns[k].c);
            pthread_mutex_destroy(&nd->conns[k].mu);
        }
        free(nd->conns);
        pthread_mutex_destroy(&nd->mu);
    }
    kv_l2_ring_free(&r->ring);
    free(r->nodes);
    free(r);
}

void kv_l2_redis_stats_get(kv_l2_redis *r, kv_l2_redis_stats *out)
{
    out->errors = atomic_load(&r->errors);
    out->nodes = r->nnodes;
    out->nodes_up = 0;
    for (unsigned j = 0; j < r->nnodes; j++) {
        pthread_mutex_lock(&r->nodes[j].mu);
        out->nodes_up += (unsigned)r->nodes[j].up;
        pthread_mutex_unlock(&r->nodes[j].mu);
    }
}

unsigned kv_l2_redis_node_of(const kv_l2_redis *r, const kv_key *key)
{
    return kv_l2_ring_node(&r->ring, key);
}
