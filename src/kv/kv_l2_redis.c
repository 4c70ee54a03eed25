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
#include <sys/socket.h>
#include <sys/uio.h>
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
    kv_l2_store base; /* first: the table's handle (kv_l2_store.h) */
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
        c->reader->maxbuf = 0; /* keep the read buffer (one reply long) between replies */
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

/* One call: op on keys[0..n), each key's node in node[]. GET replies go to
 * cb as parsed; SET/DEL/EXISTS results to out[i] (1: OK / > 0). */
typedef struct kv_l2r_call {
    kv_l2_redis *r;
    int op;
    const kv_key *keys;
    const kv_l2_redis_val *vals;
    size_t n;
    uint32_t *node;
    kv_l2_redis_get_cb cb;
    void *arg;
    uint8_t *out;
    size_t cur;           /* GET: the key whose reply is being parsed */
    void (*then)(void *); /* between sending and reading */
} kv_l2r_call;

/* ---- GET replies: parsed straight out of hiredis' read buffer ---------- */

static const int kv_l2r_reply_token; /* every reply object is this (nothing allocated) */
#define KV_L2R_TOKEN ((void *)(uintptr_t)&kv_l2r_reply_token)

static void *kv_l2r_get_string(const redisReadTask *t, char *str, size_t len)
{
    kv_l2r_call *call = t->privdata;
    if (t->parent) return KV_L2R_TOKEN; /* not a GET reply: ignored */
    if (t->type == REDIS_REPLY_STRING)
        call->cb(call->arg, call->cur, (const uint8_t *)str, len);
    else if (t->type == REDIS_REPLY_ERROR)
        atomic_fetch_add(&call->r->errors, 1);
    return KV_L2R_TOKEN;
}

static void *kv_l2r_get_array(const redisReadTask *t, int n)
{
    (void)t, (void)n;
    return KV_L2R_TOKEN;
}

static void *kv_l2r_get_int(const redisReadTask *t, long long v)
{
    (void)t, (void)v;
    return KV_L2R_TOKEN;
}

static void *kv_l2r_get_nil(const redisReadTask *t)
{
    (void)t;
    return KV_L2R_TOKEN;
}

static void kv_l2r_get_free(void *o)
{
    (void)o;
}

static const redisReplyObjectFunctions kv_l2r_get_fns = {
    kv_l2r_get_string, kv_l2r_get_array, kv_l2r_get_int, kv_l2r_get_nil, kv_l2r_get_free};

/* ---- SET: RESP framing by hand, the value's pieces sent in place -------- */

#define KV_L2R_IOV 64 /* pieces per sendmsg */
#define KV_L2R_PRE 16 /* command prefixes per sendmsg */
#define KV_L2R_PRE_MAX (KV_L2_KEYNAME_MAX + 64)

typedef struct kv_l2r_out {
    int fd;
    struct iovec iov[KV_L2R_IOV];
    char pre[KV_L2R_PRE][KV_L2R_PRE_MAX];
    size_t niov, npre;
} kv_l2r_out;

/* Sends the pieces gathered; 0 or -1 (I/O error or the send timeout). The
 * prefixes stay reserved (a command's prefix may be among the pieces of a
 * command still being added): only kv_l2r_out_flush, at a command
 * boundary, frees them. */
static int kv_l2r_out_send(kv_l2r_out *o)
{
    struct iovec *v = o->iov;
    size_t nv = o->niov;
    o->niov = 0;
    while (nv) {
        struct msghdr m = {.msg_iov = v, .msg_iovlen = nv};
        ssize_t w = sendmsg(o->fd, &m, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        for (size_t left = (size_t)w; left;) {
            if (left >= v->iov_len) {
                left -= v->iov_len;
                v++;
                nv--;
            } else {
                v->iov_base = (char *)v->iov_base + left;
                v->iov_len -= left;
                left = 0;
            }
        }
    }
    return 0;
}

/* At a command boundary: sends everything and frees the prefixes. */
static int kv_l2r_out_flush(kv_l2r_out *o)
{
    o->npre = 0;
    return kv_l2r_out_send(o);
}

static int kv_l2r_out_add(kv_l2r_out *o, const void *p, size_t len)
{
    if (len == 0) return 0;
    if (o->niov == KV_L2R_IOV && kv_l2r_out_send(o) != 0) return -1;
    o->iov[o->niov].iov_base = (void *)(uintptr_t)p;
    o->iov[o->niov++].iov_len = len;
    return 0;
}

static int kv_l2r_out_set(kv_l2_redis *r, kv_l2r_out *o, const kv_key *key,
                          const kv_l2_redis_val *val)
{
    /* a new command starts on a fresh batch when its pieces (prefix,
     * header, value pieces, CRLF) would not all fit in this one */
    if ((o->npre == KV_L2R_PRE || o->niov + val->nv + 3 > KV_L2R_IOV) && kv_l2r_out_flush(o) != 0)
        return -1;
    size_t vlen = val->head_len;
    for (size_t i = 0; i < val->nv; i++)
        vlen += val->v[i].len;
    char name[KV_L2_KEYNAME_MAX];
    size_t kl = kv_l2_redis_keyname(r->ns, key, name);
    char *p = o->pre[o->npre++];
    int n = snprintf(p, KV_L2R_PRE_MAX, "*3\r\n$3\r\nSET\r\n$%zu\r\n%.*s\r\n$%zu\r\n", kl, (int)kl,
                     name, vlen);
    if (n < 0 || n >= KV_L2R_PRE_MAX || kv_l2r_out_add(o, p, (size_t)n) != 0 ||
        kv_l2r_out_add(o, val->head, val->head_len) != 0)
        return -1;
    for (size_t i = 0; i < val->nv; i++)
        if (kv_l2r_out_add(o, val->v[i].base, val->v[i].len) != 0) return -1;
    return kv_l2r_out_add(o, "\r\n", 2);
}

/* ---- one pipelined pass over every node -------------------------------- */

/* Sends node j's commands on c; 0 or -1 (the connection is broken). */
static int kv_l2r_send(kv_l2r_call *call, redisContext *c, unsigned j)
{
    static const char *const cmd[] = {"GET", "SET", "DEL", "EXISTS"};
    kv_l2_redis *r = call->r;
    if (call->op == OP_SET) { /* hiredis' output buffer is empty between calls */
        kv_l2r_out o = {.fd = c->fd};
        for (size_t i = 0; i < call->n; i++)
            if (call->node[i] == j && kv_l2r_out_set(r, &o, &call->keys[i], &call->vals[i]) != 0)
                return -1;
        return kv_l2r_out_flush(&o);
    }
    for (size_t i = 0; i < call->n; i++) {
        if (call->node[i] != j) continue;
        char name[KV_L2_KEYNAME_MAX];
        const char *argv[2] = {cmd[call->op], name};
        size_t argl[2] = {strlen(cmd[call->op]), kv_l2_redis_keyname(r->ns, &call->keys[i], name)};
        if (redisAppendCommandArgv(c, 2, argv, argl) != REDIS_OK) return -1;
    }
    int done = 0;
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK) return -1;
    return 0;
}

/* Reads node j's replies from c; 0 or -1 (the connection is broken). */
static int kv_l2r_recv(kv_l2r_call *call, redisContext *c, unsigned j)
{
    redisReplyObjectFunctions *fns = c->reader->fn;
    if (call->op == OP_GET) {
        c->reader->fn = (redisReplyObjectFunctions *)(uintptr_t)&kv_l2r_get_fns; /* only read */
        c->reader->privdata = call;
    }
    int rc = 0;
    for (size_t i = 0; i < call->n && rc == 0; i++) {
        if (call->node[i] != j) continue;
        void *rp = NULL;
        call->cur = i;
        if (redisGetReply(c, &rp) != REDIS_OK) {
            rc = -1;
        } else if (call->op != OP_GET) {
            redisReply *p = rp;
            if (p && p->type == REDIS_REPLY_ERROR) atomic_fetch_add(&call->r->errors, 1);
            call->out[i] =
                p && (call->op == OP_SET ? p->type == REDIS_REPLY_STATUS
                                         : p->type == REDIS_REPLY_INTEGER && p->integer > 0);
            if (p) freeReplyObject(p);
        }
    }
    c->reader->fn = fns;
    c->reader->privdata = NULL;
    return rc;
}

static void kv_l2r_run(kv_l2r_call *call)
{
    kv_l2_redis *r = call->r;
    size_t n = call->n;
    call->node = malloc(n * sizeof(*call->node));
    kv_l2r_conn **held = calloc(r->nnodes, sizeof(*held));
    if (!call->node || !held) {
        free(call->node);
        free(held);
        return;
    }
    for (size_t i = 0; i < n; i++)
        call->node[i] = kv_l2_ring_node(&r->ring, &call->keys[i]);
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
            cnt += call->node[i] == j;
        if (!cnt || !(held[j] = kv_l2r_acquire(r, &r->nodes[j]))) continue;
        if (kv_l2r_send(call, held[j]->c, j) != 0) {
            kv_l2r_broken(r, &r->nodes[j], held[j]);
            pthread_mutex_unlock(&held[j]->mu);
            held[j] = NULL;
        }
    }
    if (call->then) {
        call->then(call->arg);
        call->then = NULL;
    }
    for (unsigned j = 0; j < r->nnodes; j++) { /* read */
        if (!held[j]) continue;
        if (kv_l2r_recv(call, held[j]->c, j) != 0) kv_l2r_broken(r, &r->nodes[j], held[j]);
        pthread_mutex_unlock(&held[j]->mu);
    }
    if (!was_pending) { /* consume a SIGPIPE our writes raised */
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) > 0) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    free(call->node);
    free(held);
}

void kv_l2_redis_get_many(kv_l2_redis *r, const kv_key *keys, size_t n, kv_l2_redis_get_cb cb,
                          void *arg)
{
    kv_l2r_call call = {.r = r, .op = OP_GET, .keys = keys, .n = n, .cb = cb, .arg = arg};
    if (n) kv_l2r_run(&call);
}

/* Runs a SET/DEL/EXISTS; out[i] = 1 when it took (0 when unknown). */
static size_t kv_l2r_many(kv_l2r_call *call)
{
    size_t n = call->n;
    uint8_t *mine = call->out ? NULL : calloc(n ? n : 1, 1);
    if (mine) call->out = mine;
    if (call->out) {
        memset(call->out, 0, n);
        if (n) kv_l2r_run(call);
    }
    if (call->then) call->then(call->arg); /* not reached in the run */
    size_t sum = 0;
    for (size_t i = 0; call->out && i < n; i++)
        sum += call->out[i];
    free(mine);
    return sum;
}

size_t kv_l2_redis_put_many_then(kv_l2_redis *r, const kv_key *keys, const kv_l2_redis_val *vals,
                                 size_t n, void (*then)(void *), void *arg)
{
    uint8_t stack[64], *out = n <= sizeof(stack) ? stack : NULL;
    kv_l2r_call call = {.r = r,
                        .op = OP_SET,
                        .keys = keys,
                        .vals = vals,
                        .n = n,
                        .out = out,
                        .then = then,
                        .arg = arg};
    return kv_l2r_many(&call);
}

size_t kv_l2_redis_put_many(kv_l2_redis *r, const kv_key *keys, const kv_l2_redis_val *vals,
                            size_t n)
{
    return kv_l2_redis_put_many_then(r, keys, vals, n, NULL, NULL);
}

void kv_l2_redis_exists_many(kv_l2_redis *r, const kv_key *keys, size_t n, uint8_t *found)
{
    kv_l2r_call call = {.r = r, .op = OP_EXISTS, .keys = keys, .n = n, .out = found};
    kv_l2r_many(&call);
}

size_t kv_l2_redis_del_many(kv_l2_redis *r, const kv_key *keys, size_t n)
{
    kv_l2r_call call = {.r = r, .op = OP_DEL, .keys = keys, .n = n};
    return kv_l2r_many(&call);
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
    r->base.type = &kv_l2_redis_connector;
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

/* ---- the L2 connector table's entry (kv_l2_store.h) -------------------- */

static kv_l2_redis *kv_l2r_of(kv_l2_store *s)
{
    return (kv_l2_redis *)s; /* base is the first member */
}

static int kv_l2r_open(const kv_l2_store_config *c, kv_l2_store **out, char *err, size_t errlen)
{
    kv_l2_redis *r;
    int rc = kv_l2_redis_create(c, &r, err, errlen);
    if (rc == 0) *out = &r->base;
    return rc;
}

static void kv_l2r_close(kv_l2_store *s)
{
    kv_l2_redis_destroy(kv_l2r_of(s));
}

static void kv_l2r_get(kv_l2_store *s, const kv_key *keys, size_t n, kv_l2_get_cb cb, void *arg)
{
    kv_l2_redis_get_many(kv_l2r_of(s), keys, n, cb, arg);
}

static size_t kv_l2r_put(kv_l2_store *s, const kv_key *keys, const kv_l2_val *vals, size_t n,
                         void (*then)(void *), void *arg)
{
    return kv_l2_redis_put_many_then(kv_l2r_of(s), keys, vals, n, then, arg);
}

static void kv_l2r_exists(kv_l2_store *s, const kv_key *keys, size_t n, uint8_t *found)
{
    kv_l2_redis_exists_many(kv_l2r_of(s), keys, n, found);
}

static size_t kv_l2r_del(kv_l2_store *s, const kv_key *keys, size_t n)
{
    return kv_l2_redis_del_many(kv_l2r_of(s), keys, n);
}

static void kv_l2r_stats(kv_l2_store *s, kv_l2_store_stats *out)
{
    kv_l2_redis_stats_get(kv_l2r_of(s), out);
}

const kv_l2_connector kv_l2_redis_connector = {
    .name = "redis",
    .open = kv_l2r_open,
    .close = kv_l2r_close,
    .get_many = kv_l2r_get,
    .put_many_then = kv_l2r_put,
    .exists_many = kv_l2r_exists,
    .del_many = kv_l2r_del,
    .stats_get = kv_l2r_stats,
};
