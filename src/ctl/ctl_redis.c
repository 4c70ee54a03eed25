/* ctl_redis: a reader's Redis connection on a libuv loop (ctl_redis.h). */
#include "ctl/ctl_redis.h"

#include <arpa/inet.h>
#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"

#define RD_SCAN_COUNT "1000"

struct ctl_redis {
    uv_loop_t *loop;
    char host[256], addr[300], password[512], log_name[64];
    int port;
    uint64_t timeout_ms;
    char ip[INET6_ADDRSTRLEN]; /* resolved; "" not yet */
    int numeric;               /* host is an address: never resolved */
    redisAsyncContext *ac;
    uv_timer_t timer; /* the deadline of pending commands */
    uv_getaddrinfo_t gai;
    int gai_pending, timer_open, closing;
    int pending;      /* commands owed a callback */
    uint64_t last_ms; /* loop time of the last progress */
    char why[256];    /* why the connection was dropped */
    char err[256];    /* ctl_redis_error */
    int logged_down;
};

typedef struct rd_op {
    ctl_redis *r;
    int scan; /* 1: SCAN, 0: MGET */
    ctl_redis_keys_cb kcb;
    ctl_redis_vals_cb vcb;
    void *ud;
    char *pattern;
    size_t max;
    char **keys;
    size_t *lens, n, cap;
    size_t want; /* MGET: the values the reply must have */
} rd_op;

static void rd_set_err(ctl_redis *r, const char *e)
{
    snprintf(r->err, sizeof(r->err), "%.250s", e);
    if (!r->logged_down && !r->closing) {
        char esc[300];
        bx_warn("%s: redis %s: %s", r->log_name, r->addr,
                bx_log_escape(esc, sizeof(esc), e, strlen(e)));
        r->logged_down = 1;
    }
}

static void rd_maybe_free(ctl_redis *r)
{
    if (r->closing && !r->gai_pending && !r->timer_open && !r->ac) free(r);
}

static void rd_timer_closed(uv_handle_t *h)
{
    ctl_redis *r = h->data;
    r->timer_open = 0;
    rd_maybe_free(r);
}

/* Drops the connection (outside hiredis's callbacks): every pending
 * command fails with why. */
static void rd_drop(ctl_redis *r, const char *why)
{
    redisAsyncContext *ac = r->ac;
    if (!ac) return;
    snprintf(r->why, sizeof(r->why), "%s", why);
    r->ac = NULL;
    if (!r->numeric) r->ip[0] = '\0';
    redisAsyncFree(ac);
}

static void rd_timer_cb(uv_timer_t *t)
{
    ctl_redis *r = t->data;
    if (r->pending == 0) {
        uv_timer_stop(t);
        return;
    }
    if (uv_now(r->loop) - r->last_ms >= r->timeout_ms) {
        char why[64];
        snprintf(why, sizeof(why), "timeout (no answer in %llu ms)",
                 (unsigned long long)r->timeout_ms);
        rd_drop(r, why);
    }
}

static void rd_gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    ctl_redis *r = req->data;
    r->gai_pending = 0;
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *a = res; status == 0 && a; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
        if (!pick && a->ai_family == AF_INET6) pick = a;
    }
    if (pick && !r->closing) {
        const void *addr = pick->ai_family == AF_INET
                               ? (const void *)&((struct sockaddr_in *)pick->ai_addr)->sin_addr
                               : (const void *)&((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr;
        if (!inet_ntop(pick->ai_family, addr, r->ip, sizeof(r->ip))) r->ip[0] = '\0';
    } else if (!r->closing) {
        char e[200];
        snprintf(e, sizeof(e), "cannot resolve %.120s: %s", r->host,
                 status ? uv_strerror(status) : "no address");
        rd_set_err(r, e);
    }
    if (res) uv_freeaddrinfo(res);
    rd_maybe_free(r);
}

static void rd_resolve(ctl_redis *r)
{
    if (r->gai_pending || r->closing) return;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    r->gai.data = r;
    if (uv_getaddrinfo(r->loop, &r->gai, rd_gai_cb, r->host, NULL, &hints) == 0) r->gai_pending = 1;
}

static void rd_on_connect(const redisAsyncContext *ac, int status)
{
    ctl_redis *r = ac->data;
    if (!r || ac != r->ac) return;
    if (status != REDIS_OK) {
        r->ac = NULL;                     /* hiredis frees it after this callback */
        if (!r->numeric) r->ip[0] = '\0'; /* resolve again: the address may have moved */
        rd_set_err(r, ac->errstr[0] ? ac->errstr : "connect failed");
    }
}

static void rd_on_disconnect(const redisAsyncContext *ac, int status)
{
    ctl_redis *r = ac->data;
    if (!r || ac != r->ac) return; /* one we dropped */
    r->ac = NULL;                  /* hiredis frees it after this callback */
    if (!r->numeric) r->ip[0] = '\0';
    if (!r->closing) rd_set_err(r, ac->errstr[0] ? ac->errstr : "disconnected");
}

static void rd_auth_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    ctl_redis *r = priv;
    const redisReply *rep = reply;
    r->pending--;
    if (rep && rep->type == REDIS_REPLY_ERROR) {
        char e[200];
        snprintf(e, sizeof(e), "AUTH: %.*s", (int)(rep->len > 150 ? 150 : rep->len),
                 rep->str ? rep->str : "");
        rd_set_err(r, e);
    }
    (void)ac;
}

/* A connection (commands queue in hiredis until it is up). 0 or -1. */
static int rd_connect(ctl_redis *r)
{
    if (r->ac) return 0;
    if (!r->ip[0]) {
        rd_resolve(r);
        if (!r->err[0]) snprintf(r->err, sizeof(r->err), "resolving %.200s", r->host);
        return -1;
    }
    redisAsyncContext *ac = redisAsyncConnect(r->ip, r->port);
    if (!ac) {
        rd_set_err(r, "out of memory");
        return -1;
    }
    if (ac->err) {
        char e[200];
        snprintf(e, sizeof(e), "%s", ac->errstr);
        redisAsyncFree(ac);
        rd_set_err(r, e);
        return -1;
    }
    if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
        /* the adapter sets its hooks before it can fail (see gw_ratelimit) */
        if (!ac->ev.data) memset(&ac->ev, 0, sizeof(ac->ev));
        redisAsyncFree(ac);
        rd_set_err(r, "libuv attach failed");
        return -1;
    }
    ac->data = r;
    redisAsyncSetConnectCallback(ac, rd_on_connect);
    redisAsyncSetDisconnectCallback(ac, rd_on_disconnect);
    r->ac = ac;
    r->why[0] = '\0';
    if (r->password[0]) {
        const char *argv[2] = {"AUTH", r->password};
        if (redisAsyncCommandArgv(ac, rd_auth_cb, r, 2, argv, NULL) == REDIS_OK) {
            if (r->pending++ == 0) r->last_ms = uv_now(r->loop);
        }
    }
    return 0;
}

static void rd_op_free(rd_op *op)
{
    for (size_t i = 0; i < op->n; i++)
        free(op->keys[i]);
    free(op->keys);
    free(op->lens);
    free(op->pattern);
    free(op);
}

static void rd_op_fail(rd_op *op, const char *why)
{
    if (op->scan)
        op->kcb(op->ud, why, NULL, NULL, 0);
    else
        op->vcb(op->ud, why, NULL, NULL, 0);
    rd_op_free(op);
}

static void rd_reply_cb(redisAsyncContext *ac, void *reply, void *priv);

static int rd_send_scan(ctl_redis *r, redisAsyncContext *ac, rd_op *op, const char *cursor,
                        size_t clen)
{
    const char *argv[6] = {"SCAN", cursor, "MATCH", op->pattern, "COUNT", RD_SCAN_COUNT};
    size_t lens[6] = {4, clen, 5, strlen(op->pattern), 5, sizeof(RD_SCAN_COUNT) - 1};
    if (redisAsyncCommandArgv(ac, rd_reply_cb, op, 6, argv, lens) != REDIS_OK) return -1;
    if (r->pending++ == 0) r->last_ms = uv_now(r->loop);
    if (!uv_is_active((uv_handle_t *)&r->timer)) {
        uint64_t tick = r->timeout_ms < 1000 ? r->timeout_ms : 1000;
        uv_timer_start(&r->timer, rd_timer_cb, tick, tick);
    }
    return 0;
}

static int rd_cmp_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void rd_scan_done(rd_op *op)
{
    /* SCAN may return a key twice: sort, keep one (keys hold no NUL: the
     * ones that did were left out) */
    if (op->n > 1) qsort(op->keys, op->n, sizeof(op->keys[0]), rd_cmp_key);
    size_t w = 0;
    for (size_t i = 0; i < op->n; i++) {
        if (w > 0 && !strcmp(op->keys[w - 1], op->keys[i])) {
            free(op->keys[i]);
            continue;
        }
        op->keys[w++] = op->keys[i];
    }
    op->n = w;
    for (size_t i = 0; i < op->n; i++)
        op->lens[i] = strlen(op->keys[i]);
    op->kcb(op->ud, NULL, op->keys, op->lens, op->n);
    rd_op_free(op);
}

static void rd_on_scan(ctl_redis *r, redisAsyncContext *ac, rd_op *op, const redisReply *rep)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_ARRAY ||
        rep->element[0]->len > 32) {
        rd_op_fail(op, "SCAN: unexpected reply");
        return;
    }
    const redisReply *ks = rep->element[1];
    for (size_t i = 0; i < ks->elements; i++) {
        const redisReply *k = ks->element[i];
        if (k->type != REDIS_REPLY_STRING || memchr(k->str, '\0', k->len)) continue;
        if (op->n == op->max) {
            char e[64];
            snprintf(e, sizeof(e), "SCAN: more than %zu keys", op->max);
            rd_op_fail(op, e);
            return;
        }
        if (op->n == op->cap) {
            size_t nc = op->cap ? op->cap * 2 : 64;
            char **nk = realloc(op->keys, nc * sizeof(*nk));
            if (nk) op->keys = nk;
            size_t *nl = nk ? realloc(op->lens, nc * sizeof(*nl)) : NULL;
            if (nl) op->lens = nl;
            if (!nk || !nl) {
                rd_op_fail(op, "out of memory");
                return;
            }
            op->cap = nc;
        }
        char *s = malloc(k->len + 1);
        if (!s) {
            rd_op_fail(op, "out of memory");
            return;
        }
        memcpy(s, k->str, k->len);
        s[k->len] = '\0';
        op->keys[op->n++] = s;
    }
    const redisReply *c = rep->element[0];
    if (c->len == 1 && c->str[0] == '0') {
        rd_scan_done(op);
        return;
    }
    if (r->closing || ac != r->ac || rd_send_scan(r, ac, op, c->str, c->len) != 0)
        rd_op_fail(op, "SCAN: cannot continue");
}

static void rd_on_mget(rd_op *op, const redisReply *rep)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != op->want) {
        rd_op_fail(op, "MGET: unexpected reply");
        return;
    }
    size_t n = op->want;
    char **vals = calloc(n, sizeof(*vals));
    size_t *lens = calloc(n, sizeof(*lens));
    if (!vals || !lens) {
        free(vals);
        free(lens);
        rd_op_fail(op, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *v = rep->element[i];
        if (v->type != REDIS_REPLY_STRING || v->len > CTL_REDIS_VALUE_MAX) continue;
        vals[i] = v->str;
        lens[i] = v->len;
    }
    op->vcb(op->ud, NULL, vals, lens, n);
    free(vals);
    free(lens);
    rd_op_free(op);
}

static void rd_reply_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    rd_op *op = priv;
    ctl_redis *r = op->r;
    const redisReply *rep = reply;
    r->pending--;
    if (!rep) { /* the connection went (dropped, lost, or closing) */
        const char *why = r->closing      ? "closed"
                          : r->why[0]     ? r->why
                          : ac->errstr[0] ? ac->errstr
                                          : "connection lost";
        char w[300];
        snprintf(w, sizeof(w), "%s", why);
        rd_set_err(r, w);
        rd_op_fail(op, w);
        return;
    }
    r->last_ms = uv_now(r->loop);
    if (rep->type == REDIS_REPLY_ERROR) {
        char e[200];
        snprintf(e, sizeof(e), "%s: %.*s", op->scan ? "SCAN" : "MGET",
                 (int)(rep->len > 150 ? 150 : rep->len), rep->str ? rep->str : "");
        rd_set_err(r, e);
        rd_op_fail(op, e);
        return;
    }
    if (r->logged_down) bx_info("%s: redis %s answers again", r->log_name, r->addr);
    r->logged_down = 0;
    r->err[0] = '\0';
    if (op->scan)
        rd_on_scan(r, ac, op, rep);
    else
        rd_on_mget(op, rep);
}

int ctl_redis_new(ctl_redis **out, uv_loop_t *loop, const ctl_redis_cfg *cfg, char *err,
                  size_t errlen)
{
    if (!cfg->host || !cfg->host[0] || strlen(cfg->host) >= 256 || cfg->port < 0 ||
        cfg->port > 65535 || (cfg->password && strlen(cfg->password) >= 512)) {
        snprintf(err, errlen,
                 "redis: a host (under 256 bytes), a port and a password under 512 "
                 "bytes are wanted");
        return -1;
    }
    ctl_redis *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->loop = loop;
    snprintf(r->host, sizeof(r->host), "%s", cfg->host);
    r->port = cfg->port ? cfg->port : 6379;
    snprintf(r->addr, sizeof(r->addr), "%s:%d", r->host, r->port);
    snprintf(r->password, sizeof(r->password), "%s", cfg->password ? cfg->password : "");
    snprintf(r->log_name, sizeof(r->log_name), "%s", cfg->log_name ? cfg->log_name : "redis");
    r->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 5000;
    if (uv_timer_init(loop, &r->timer) != 0) {
        free(r);
        snprintf(err, errlen, "redis: cannot create a timer");
        return -1;
    }
    r->timer.data = r;
    r->timer_open = 1;
    uv_unref((uv_handle_t *)&r->timer);
    struct in6_addr a6;
    struct in_addr a4;
    r->numeric = inet_pton(AF_INET, r->host, &a4) == 1 || inet_pton(AF_INET6, r->host, &a6) == 1;
    if (r->numeric)
        snprintf(r->ip, sizeof(r->ip), "%.45s", r->host);
    else
        rd_resolve(r);
    *out = r;
    return 0;
}

static rd_op *rd_op_new(ctl_redis *r, int scan, void *ud)
{
    rd_op *op = calloc(1, sizeof(*op));
    if (!op) {
        rd_set_err(r, "out of memory");
        return NULL;
    }
    op->r = r;
    op->scan = scan;
    op->ud = ud;
    return op;
}

int ctl_redis_scan(ctl_redis *r, const char *pattern, size_t max, ctl_redis_keys_cb cb, void *ud)
{
    if (!r || r->closing || !pattern || !cb || max == 0 || rd_connect(r) != 0) return -1;
    rd_op *op = rd_op_new(r, 1, ud);
    if (!op) return -1;
    op->kcb = cb;
    op->max = max;
    if (!(op->pattern = strdup(pattern)) || rd_send_scan(r, r->ac, op, "0", 1) != 0) {
        rd_op_free(op);
        return -1;
    }
    return 0;
}

int ctl_redis_mget(ctl_redis *r, char *const *keys, const size_t *lens, size_t n,
                   ctl_redis_vals_cb cb, void *ud)
{
    if (!r || r->closing || !keys || !lens || !cb || n < 1 || n > CTL_REDIS_MGET_MAX ||
        rd_connect(r) != 0)
        return -1;
    rd_op *op = rd_op_new(r, 0, ud);
    const char **argv = malloc((n + 1) * sizeof(*argv));
    size_t *al = malloc((n + 1) * sizeof(*al));
    if (!op || !argv || !al) {
        free(op);
        free(argv);
        free(al);
        return -1;
    }
    op->vcb = cb;
    op->want = n; /* the keys are not kept: the reply's order is theirs */
    argv[0] = "MGET";
    al[0] = 4;
    for (size_t i = 0; i < n; i++) {
        argv[i + 1] = keys[i];
        al[i + 1] = lens[i];
    }
    int rc = redisAsyncCommandArgv(r->ac, rd_reply_cb, op, (int)n + 1, argv, al);
    free(argv);
    free(al);
    if (rc != REDIS_OK) {
        free(op);
        return -1;
    }
    if (r->pending++ == 0) r->last_ms = uv_now(r->loop);
    if (!uv_is_active((uv_handle_t *)&r->timer)) {
        uint64_t tick = r->timeout_ms < 1000 ? r->timeout_ms : 1000;
        uv_timer_start(&r->timer, rd_timer_cb, tick, tick);
    }
    return 0;
}

const char *ctl_redis_error(const ctl_redis *r)
{
    return r ? r->err : "";
}

const char *ctl_redis_addr(const ctl_redis *r)
{
    return r ? r->addr : "";
}

void ctl_redis_close(ctl_redis *r)
{
    if (!r || r->closing) return;
    r->closing = 1;
    rd_drop(r, "closed"); /* pending callbacks run now */
    if (r->timer_open) uv_close((uv_handle_t *)&r->timer, rd_timer_closed);
    if (r->gai_pending) uv_cancel((uv_req_t *)&r->gai);
    rd_maybe_free(r);
}

static int rd_port(const char *s, int *port)
{
    char *end;
    long p = strtol(s, &end, 10);
    if (end == s || *end || p < 1 || p > 65535) return -1;
    *port = (int)p;
    return 0;
}

int ctl_redis_parse_addr(const char *spec, char *host, size_t cap, int *port)
{
    if (!spec || !host || !port || !spec[0]) return -1;
    const char *h = spec, *he, *ps = NULL;
    if (spec[0] == '[') {
        h = spec + 1;
        he = strchr(h, ']');
        if (!he) return -1;
        if (he[1] == ':')
            ps = he + 2;
        else if (he[1])
            return -1;
    } else {
        he = strrchr(spec, ':');
        if (he && strchr(spec, ':') != he) return -1; /* a bare IPv6 address: use brackets */
        if (he)
            ps = he + 1;
        else
            he = spec + strlen(spec);
    }
    size_t hl = (size_t)(he - h);
    if (hl == 0 || hl >= cap) return -1;
    *port = 6379;
    if (ps && rd_port(ps, port) != 0) return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    return 0;
}

int ctl_redis_env_addr(char *host, size_t cap, int *port)
{
    const char *h = getenv("REDIS_HOST"), *p = getenv("REDIS_PORT");
    if (!h || !h[0] || strlen(h) >= cap || strchr(h, ':')) return -1;
    *port = 6379;
    if (p && p[0]) {
        const char *c = strncmp(p, "tcp://", 6) == 0 ? strrchr(p + 6, ':') : NULL;
        if (rd_port(c ? c + 1 : p, port) != 0) return -1;
    }
    snprintf(host, cap, "%s", h);
    return 0;
}
