/* gw_ratelimit: AIBrix-compatible per-user RPM/TPM limits on Redis.
 *
 * Built on hiredis's async API attached to the gateway's libuv loop. Every
 * check is a small state machine (user record -> RPM counter -> TPM counter)
 * with its own uv timer for the deadline. hiredis calls every callback it
 * accepted exactly once (with a NULL reply when the connection goes away or
 * is freed), so a check keeps a count of its outstanding commands and is
 * freed only when it has answered AND that count is zero: a reply that
 * arrives after the deadline finds the check still allocated, sees it has
 * answered, and drops the reply.
 *
 * The connection is one redisAsyncContext, and Redis's health is a state
 * of it: DOWN (no context; backoff timer) -> RESOLVING -> CONNECTING ->
 * PROBING (a PING in flight, deadline connect_timeout_ms) -> UP (a PING
 * every ping_interval_ms). Only UP sends checks; in every other state a
 * check is answered on the next loop turn, so once an outage is known no
 * request waits for a deadline. A check that times out (a hung server: its
 * kernel still accepts connections and buffers commands), or a LOADING/BUSY
 * reply, turns UP into PROBING on the same connection: the checks waiting
 * on it are answered at once, and a PING answered there (the server caught
 * up) brings it back without reconnecting. An unanswered probe, a refused
 * or reset connection frees the context and reconnects after an
 * exponential backoff that resets only once a PING is answered, so a server
 * that accepts connections but never answers does not cause a tight
 * reconnect loop. Only one PING is in flight per connection. */
#include "gateway/gw_ratelimit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bx_json.h"
#include "common/bx_log.h"
#include "common/bx_queue.h"

#define RL_PROBE 8                    /* cache slots probed per lookup */
#define RL_USER_RECORD_MAX (64 << 10) /* bytes of a user record we parse */
#define RL_KEY_MAX (GW_RL_USER_MAX + 64)

enum rl_state { RL_DOWN = 0, RL_RESOLVING, RL_CONNECTING, RL_PROBING, RL_UP };
enum req_stage { ST_IMMEDIATE = 0, ST_USER, ST_RPM, ST_TPM };

typedef struct ucache_ent {
    int used;
    int exists;
    uint64_t hash;
    uint64_t fetched_ms; /* uv_now */
    int64_t rpm, tpm;
    char name[GW_RL_USER_MAX + 1];
} ucache_ent;

struct gw_ratelimit_req {
    gw_ratelimit *rl;
    bx_queue node; /* in rl->reqs */
    uv_timer_t timer;
    gw_ratelimit_cb cb;
    void *ud;
    int pending;        /* hiredis callbacks still owed to us */
    int done;           /* answered or cancelled */
    int handle_closing; /* uv_close issued; freed in its callback */
    int stage;
    gw_rl_verdict imm_v; /* ST_IMMEDIATE: the answer */
    int imm_redis_err;   /* ST_IMMEDIATE: count it as a Redis failure */
    int64_t now_s, rpm, tpm;
    char user[GW_RL_USER_MAX + 1];
};

struct gw_ratelimit {
    uv_loop_t *loop;
    gw_ratelimit_opts o;
    char host[256];
    int port;
    int numeric_host;
    redisAsyncContext *ac;
    enum rl_state state;
    uv_timer_t timer; /* backoff (DOWN), deadline (RESOLVING..PROBING) or PING period (UP) */
    int timer_closed;
    uv_getaddrinfo_t gai;
    int gai_pending;
    int64_t backoff_ms;
    int ping_pending; /* a PING on ac not answered yet */
    int logged_down;
    ucache_ent *cache;
    size_t cache_mask;
    bx_queue reqs; /* gw_ratelimit_req.node, newest first, until their timer closed */
    int closing;
    gw_ratelimit_stats st;
};

/* ---- pure helpers ---------------------------------------------------- */

void gw_ratelimit_opts_default(gw_ratelimit_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->fail_open = 1;
    o->timeout_ms = 50;
    o->connect_timeout_ms = 1000;
    o->reconnect_min_ms = 250;
    o->reconnect_max_ms = 2000;
    o->user_cache_ms = 5000;
    o->user_cache_max = 4096;
    o->max_inflight = 65536;
    o->unknown = GW_RL_UNKNOWN_ALLOW;
    o->ping_interval_ms = 1000;
}

int gw_ratelimit_user_key(const char *user, char *out, size_t cap)
{
    int n = snprintf(out, cap, "aibrix-users/%s", user);
    return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

static int bin_of(int64_t unix_s)
{
    int64_t m = unix_s / GW_RL_WINDOW_S;
    return (int)(((m % GW_RL_BINS) + GW_RL_BINS) % GW_RL_BINS);
}

int gw_ratelimit_counter_key(const char *user, int tpm, int64_t unix_s, char *out, size_t cap)
{
    int n =
        snprintf(out, cap, "aibrix:%s_%s_CURRENT:%d", user, tpm ? "TPM" : "RPM", bin_of(unix_s));
    return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

int gw_ratelimit_retry_after(int64_t unix_s)
{
    int64_t r = unix_s % GW_RL_WINDOW_S;
    if (r < 0) r += GW_RL_WINDOW_S;
    return (int)(GW_RL_WINDOW_S - r);
}

int gw_ratelimit_parse_user(const char *json, size_t len, int64_t *rpm, int64_t *tpm)
{
    char err[128];
    json_t *o = bx_json_parse_object(json, len, RL_USER_RECORD_MAX, err, sizeof(err));
    if (!o) return -1;
    int64_t r = 0, t = 0;
    int rc = 0;
    if (bx_json_get_int(o, "rpm", 0, &r, err, sizeof(err)) < 0) rc = -1;
    if (bx_json_get_int(o, "tpm", 0, &t, err, sizeof(err)) < 0) rc = -1;
    json_decref(o);
    if (rc < 0) return -1;
    /* AIBrix: rpm 0 -> 100, then tpm 0 -> rpm * 1000. Its metadata service
     * refuses negative values; a negative one written by hand would make
     * AIBrix reject every request, so brix treats it like 0. */
    if (r <= 0) r = GW_RL_DEFAULT_RPM;
    if (t <= 0)
        t = r > INT64_MAX / GW_RL_DEFAULT_TPM_MULTIPLIER ? INT64_MAX
                                                         : r * GW_RL_DEFAULT_TPM_MULTIPLIER;
    *rpm = r;
    *tpm = t;
    return 0;
}

static int64_t rl_now_s(const gw_ratelimit *rl)
{
    if (rl->o.now_s) return rl->o.now_s(rl->o.now_ud);
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return (int64_t)time(NULL);
    return (int64_t)ts.tv_sec;
}

/* ---- user cache -------------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static ucache_ent *cache_find(gw_ratelimit *rl, const char *user, uint64_t h)
{
    if (!rl->cache) return NULL;
    for (size_t i = 0; i < RL_PROBE; i++) {
        ucache_ent *e = &rl->cache[(h + i) & rl->cache_mask];
        if (e->used && e->hash == h && strcmp(e->name, user) == 0) return e;
    }
    return NULL;
}

static ucache_ent *cache_fresh(gw_ratelimit *rl, const char *user)
{
    ucache_ent *e = cache_find(rl, user, fnv1a(user));
    if (!e) return NULL;
    if (uv_now(rl->loop) - e->fetched_ms >= (uint64_t)rl->o.user_cache_ms) return NULL;
    return e;
}

static void cache_put(gw_ratelimit *rl, const char *user, int exists, int64_t rpm, int64_t tpm)
{
    if (!rl->cache) return;
    uint64_t h = fnv1a(user);
    ucache_ent *e = cache_find(rl, user, h);
    if (!e) { /* a free slot in the probe window, else the oldest there */
        for (size_t i = 0; i < RL_PROBE; i++) {
            ucache_ent *c = &rl->cache[(h + i) & rl->cache_mask];
            if (!c->used) {
                e = c;
                break;
            }
            if (!e || c->fetched_ms < e->fetched_ms) e = c;
        }
    }
    e->used = 1;
    e->exists = exists;
    e->hash = h;
    e->fetched_ms = uv_now(rl->loop);
    e->rpm = rpm;
    e->tpm = tpm;
    snprintf(e->name, sizeof(e->name), "%s", user);
}

/* ---- connection -------------------------------------------------------- */

static void rl_connect(gw_ratelimit *rl);
static void rl_timer_cb(uv_timer_t *t);
static void rl_maybe_free(gw_ratelimit *rl);

static void req_fail(gw_ratelimit_req *req);

static void rl_set_up(gw_ratelimit *rl, int up)
{
    if (rl->st.up == (uint64_t)up) return;
    rl->st.up = (uint64_t)up;
    if (!up) rl->st.downs++;
    if (!rl->closing && rl->o.on_health) rl->o.on_health(rl->o.health_ud, up);
}

/* The connection is gone (rl->ac is NULL): reconnect after the backoff. */
static void rl_go_down(gw_ratelimit *rl, const char *why)
{
    rl->state = RL_DOWN;
    rl->ping_pending = 0;
    if (rl->closing) return;
    rl_set_up(rl, 0);
    if (!rl->logged_down) {
        bx_warn("ratelimit: redis %s:%d unavailable (%s); retrying", rl->host, rl->port, why);
        rl->logged_down = 1;
    }
    int64_t d = rl->backoff_ms;
    rl->backoff_ms = d > rl->o.reconnect_max_ms / 2 ? rl->o.reconnect_max_ms : d * 2;
    uv_timer_start(&rl->timer, rl_timer_cb, (uint64_t)d, 0);
}

/* Frees the context now (not from inside a hiredis callback: there hiredis
 * defers it to when the callback returns). Pending commands get NULL
 * replies; our disconnect callback ignores a context we let go of. */
static void rl_drop(gw_ratelimit *rl, const char *why)
{
    redisAsyncContext *ac = rl->ac;
    rl->ac = NULL;
    uv_timer_stop(&rl->timer);
    if (ac) redisAsyncFree(ac);
    rl_go_down(rl, why);
}

static void ping_reply_cb(redisAsyncContext *ac, void *r, void *priv);

/* Sends the one PING in flight on the connection (the probe, or the
 * heartbeat while UP). 0, or -1 when it cannot be sent. */
static int rl_ping(gw_ratelimit *rl)
{
    if (rl->ping_pending) return 0;
    if (!rl->ac || redisAsyncCommand(rl->ac, ping_reply_cb, rl, "PING") != REDIS_OK) return -1;
    rl->ping_pending = 1;
    return 0;
}

/* Connected, Redis not (yet, or no longer) known up: checks are answered
 * without it while a PING has connect_timeout_ms to be answered. A PING
 * that cannot be sent is left to that deadline (which frees the context
 * outside hiredis's callbacks). */
static void rl_probe(gw_ratelimit *rl)
{
    rl->state = RL_PROBING;
    uv_timer_start(&rl->timer, rl_timer_cb, (uint64_t)rl->o.connect_timeout_ms, 0);
    (void)rl_ping(rl);
}

/* UP -> PROBING on the same connection (no-op in any other state): the
 * checks waiting on it are answered now rather than each at its deadline.
 * Never for a NULL reply (the context is being freed). */
static void rl_mark_down(gw_ratelimit *rl, const char *why)
{
    if (rl->closing || rl->state != RL_UP) return;
    if (!rl->logged_down) {
        bx_warn("ratelimit: redis %s:%d unavailable (%s); answering without it until it "
                "answers PING",
                rl->host, rl->port, why);
        rl->logged_down = 1;
    }
    rl_probe(rl);
    rl_set_up(rl, 0);
    /* New checks see PROBING (even from these callbacks); a finished one's
     * memory lives until the loop closes its timer, so the walk is safe. */
    bx_queue *q;
    BX_QUEUE_FOREACH(q, &rl->reqs)
    {
        gw_ratelimit_req *r = bx_container_of(q, gw_ratelimit_req, node);
        if (!r->done && r->stage != ST_IMMEDIATE) req_fail(r);
    }
}

static void ping_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    gw_ratelimit *rl = priv;
    const redisReply *reply = r;
    /* NULL: the context is being freed (by rl_drop, or by hiredis, whose
     * disconnect callback follows); a context we let go of: not ours. */
    if (!reply || rl->closing || ac != rl->ac) return;
    rl->ping_pending = 0;
    if (reply->type == REDIS_REPLY_ERROR) { /* LOADING, BUSY, NOAUTH... */
        char why[160];
        snprintf(why, sizeof(why), "PING: %.*s", (int)(reply->len > 120 ? 120 : reply->len),
                 reply->str ? reply->str : "");
        if (rl->state == RL_PROBING)
            rl_drop(rl, why); /* hiredis frees it when this callback returns */
        else
            rl_mark_down(rl, why);
        return;
    }
    if (rl->state != RL_PROBING) return; /* a heartbeat answered */
    rl->state = RL_UP;
    rl->backoff_ms = rl->o.reconnect_min_ms;
    uv_timer_start(&rl->timer, rl_timer_cb, (uint64_t)rl->o.ping_interval_ms, 0);
    if (rl->logged_down) bx_info("ratelimit: redis %s:%d up", rl->host, rl->port);
    rl->logged_down = 0;
    rl_set_up(rl, 1);
}

static void rl_on_connect(const redisAsyncContext *ac, int status)
{
    gw_ratelimit *rl = ac->data;
    if (!rl || ac != rl->ac) return;
    uv_timer_stop(&rl->timer);
    if (status != REDIS_OK) {
        rl->ac = NULL; /* hiredis frees it after this callback */
        rl_go_down(rl, ac->errstr[0] ? ac->errstr : "connect failed");
        return;
    }
    rl->st.reconnects++;
    rl->ping_pending = 0;
    rl_probe(rl);
}

static void rl_on_disconnect(const redisAsyncContext *ac, int status)
{
    gw_ratelimit *rl = ac->data;
    if (!rl || ac != rl->ac) return; /* one we freed on purpose */
    rl->ac = NULL;                   /* hiredis frees it after this callback */
    rl_go_down(rl, ac->errstr[0] ? ac->errstr : "disconnected");
}

static void rl_connect_ip(gw_ratelimit *rl, const char *ip)
{
    redisAsyncContext *ac = redisAsyncConnect(ip, rl->port);
    if (!ac) {
        rl_go_down(rl, "out of memory");
        return;
    }
    if (ac->err) {
        char why[128];
        snprintf(why, sizeof(why), "%s", ac->errstr);
        redisAsyncFree(ac);
        rl_go_down(rl, why);
        return;
    }
    if (redisLibuvAttach(ac, rl->loop) != REDIS_OK) {
        /* The adapter sets its hooks before it can fail; without its data
         * its cleanup hook would dereference NULL. */
        if (!ac->ev.data) memset(&ac->ev, 0, sizeof(ac->ev));
        redisAsyncFree(ac);
        rl_go_down(rl, "libuv attach failed");
        return;
    }
    ac->data = rl;
    redisAsyncSetConnectCallback(ac, rl_on_connect);
    redisAsyncSetDisconnectCallback(ac, rl_on_disconnect);
    rl->ac = ac;
    rl->state = RL_CONNECTING;
    uv_timer_start(&rl->timer, rl_timer_cb, (uint64_t)rl->o.connect_timeout_ms, 0);
}

static void rl_gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    gw_ratelimit *rl = req->data;
    rl->gai_pending = 0;
    if (rl->closing || rl->state != RL_RESOLVING) {
        if (res) uv_freeaddrinfo(res);
        if (rl->closing) rl_maybe_free(rl);
        return;
    }
    uv_timer_stop(&rl->timer);
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *a = res; status == 0 && a; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
        if (!pick && a->ai_family == AF_INET6) pick = a;
    }
    char ip[INET6_ADDRSTRLEN] = "";
    if (pick) {
        const void *addr = pick->ai_family == AF_INET
                               ? (const void *)&((struct sockaddr_in *)pick->ai_addr)->sin_addr
                               : (const void *)&((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr;
        if (!inet_ntop(pick->ai_family, addr, ip, sizeof(ip))) ip[0] = 0;
    }
    if (res) uv_freeaddrinfo(res);
    if (!ip[0]) {
        rl_go_down(rl, status ? uv_strerror(status) : "no address");
        return;
    }
    rl_connect_ip(rl, ip);
}

static void rl_connect(gw_ratelimit *rl)
{
    if (rl->closing || rl->ac) return;
    if (rl->numeric_host) {
        rl_connect_ip(rl, rl->host);
        return;
    }
    if (rl->gai_pending) { /* an old lookup is still running: try later */
        rl_go_down(rl, "name lookup still running");
        return;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rl->gai.data = rl;
    int rc = uv_getaddrinfo(rl->loop, &rl->gai, rl_gai_cb, rl->host, NULL, &hints);
    if (rc != 0) {
        rl_go_down(rl, uv_strerror(rc));
        return;
    }
    rl->gai_pending = 1;
    rl->state = RL_RESOLVING;
    uv_timer_start(&rl->timer, rl_timer_cb, (uint64_t)rl->o.connect_timeout_ms, 0);
}

static void rl_timer_cb(uv_timer_t *t)
{
    gw_ratelimit *rl = t->data;
    switch (rl->state) {
    case RL_DOWN:
        rl_connect(rl);
        break;
    case RL_RESOLVING:
        uv_cancel((uv_req_t *)&rl->gai); /* may fail if running; its cb ignores it */
        rl_go_down(rl, "name lookup timed out");
        break;
    case RL_CONNECTING:
        rl_drop(rl, "connect timed out");
        break;
    case RL_PROBING:
        rl_drop(rl, "no reply to PING");
        break;
    case RL_UP: /* heartbeat: the last PING must have been answered */
        if (rl->ping_pending || rl_ping(rl) != 0) {
            rl_mark_down(rl, "no reply to PING");
            break;
        }
        uv_timer_start(&rl->timer, rl_timer_cb, (uint64_t)rl->o.ping_interval_ms, 0);
        break;
    }
}

/* ---- checks ------------------------------------------------------------ */

static void req_closed(uv_handle_t *h)
{
    gw_ratelimit_req *req = h->data;
    gw_ratelimit *rl = req->rl;
    bx_queue_remove(&req->node);
    rl->st.inflight--;
    free(req);
    if (rl->closing) rl_maybe_free(rl);
}

static void req_maybe_free(gw_ratelimit_req *req)
{
    if (!req->done || req->pending > 0 || req->handle_closing) return;
    req->handle_closing = 1;
    uv_close((uv_handle_t *)&req->timer, req_closed);
}

static void req_finish(gw_ratelimit_req *req, gw_rl_verdict v, int retry_after)
{
    if (req->done) return;
    req->done = 1;
    uv_timer_stop(&req->timer);
    gw_ratelimit *rl = req->rl;
    if (!rl->closing) {
        switch (v) {
        case GW_RL_ALLOW:
            rl->st.allowed++;
            break;
        case GW_RL_REJECT_RPM:
            rl->st.rejected_rpm++;
            break;
        case GW_RL_REJECT_TPM:
            rl->st.rejected_tpm++;
            break;
        case GW_RL_ERROR:
            rl->st.errors++;
            break;
        case GW_RL_REJECT_UNKNOWN:
            rl->st.rejected_unknown++;
            break;
        case GW_RL_FAIL_OPEN:
            rl->st.allowed++;
            rl->st.fail_open++;
            break;
        }
    }
    gw_ratelimit_cb cb = req->cb;
    req->cb = NULL;
    if (cb) cb(req->ud, v, retry_after);
    req_maybe_free(req); /* memory stays valid until the loop runs req_closed */
}

/* Redis could not answer this check. */
static void req_fail(gw_ratelimit_req *req)
{
    gw_ratelimit *rl = req->rl;
    if (rl->closing) {
        req_finish(req, GW_RL_ERROR, 0);
        return;
    }
    rl->st.redis_errors++;
    req_finish(req, rl->o.fail_open ? GW_RL_FAIL_OPEN : GW_RL_ERROR, 0);
}

/* Answers from the loop, never from inside gw_ratelimit_check. */
static void req_answer_soon(gw_ratelimit_req *req, gw_rl_verdict v, int redis_err)
{
    req->stage = ST_IMMEDIATE;
    req->imm_v = v;
    req->imm_redis_err = redis_err;
}

static void req_timer_cb(uv_timer_t *t)
{
    gw_ratelimit_req *req = t->data;
    gw_ratelimit *rl = req->rl;
    if (req->stage == ST_IMMEDIATE) {
        if (req->imm_redis_err) {
            req_fail(req);
        } else {
            req_finish(req, req->imm_v, 0);
        }
        return;
    }
    int waiting = req->pending > 0;
    rl->st.timeouts++;
    req_fail(req); /* req may be gone from here on */
    if (waiting) {
        char why[64];
        snprintf(why, sizeof(why), "no reply within %" PRId64 " ms", rl->o.timeout_ms);
        rl_mark_down(rl, why);
    }
}

static void req_reply_cb(redisAsyncContext *ac, void *r, void *priv);
static void aux_reply_cb(redisAsyncContext *ac, void *r, void *priv);

static int req_send(gw_ratelimit_req *req, redisCallbackFn *fn, void *priv, int argc,
                    const char **argv)
{
    gw_ratelimit *rl = req->rl;
    if (!rl->ac) return -1;
    if (redisAsyncCommandArgv(rl->ac, fn, priv, argc, argv, NULL) != REDIS_OK) return -1;
    if (fn == req_reply_cb) req->pending++;
    return 0;
}

static int req_get(gw_ratelimit_req *req, const char *key, int stage)
{
    const char *argv[2] = {"GET", key};
    req->stage = stage;
    return req_send(req, req_reply_cb, req, 2, argv);
}

/* A counter reply: nil = 0. Returns -1 when it is not a number. */
static int counter_value(const redisReply *r, int64_t *out)
{
    if (r->type == REDIS_REPLY_NIL) {
        *out = 0;
        return 0;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return 0;
    }
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 20) return -1;
    char buf[24];
    memcpy(buf, r->str, (size_t)r->len);
    buf[r->len] = 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

static void req_start_rpm(gw_ratelimit_req *req)
{
    char key[RL_KEY_MAX];
    if (gw_ratelimit_counter_key(req->user, 0, req->now_s, key, sizeof(key)) < 0 ||
        req_get(req, key, ST_RPM) < 0)
        req_fail(req);
}

/* The user is known to have no record. */
static void req_unknown(gw_ratelimit_req *req)
{
    gw_ratelimit *rl = req->rl;
    rl->st.unknown_users++;
    switch (rl->o.unknown) {
    case GW_RL_UNKNOWN_ALLOW:
        req_finish(req, GW_RL_ALLOW, 0);
        break;
    case GW_RL_UNKNOWN_REJECT:
        req_finish(req, GW_RL_REJECT_UNKNOWN, 0);
        break;
    case GW_RL_UNKNOWN_DEFAULTS:
        req->rpm = GW_RL_DEFAULT_RPM;
        req->tpm = (int64_t)GW_RL_DEFAULT_RPM * GW_RL_DEFAULT_TPM_MULTIPLIER;
        req_start_rpm(req);
        break;
    }
}

static void req_on_user(gw_ratelimit_req *req, const redisReply *r)
{
    gw_ratelimit *rl = req->rl;
    if (r->type == REDIS_REPLY_NIL) {
        cache_put(rl, req->user, 0, 0, 0);
        req_unknown(req);
        return;
    }
    if (r->type != REDIS_REPLY_STRING) {
        req_fail(req);
        return;
    }
    if (gw_ratelimit_parse_user(r->str, (size_t)r->len, &req->rpm, &req->tpm) < 0) {
        /* AIBrix answers 500 here; brix applies the Redis-down policy. */
        rl->st.bad_records++;
        char eu[BX_LOG_ESC_MAX];
        if (rl->st.bad_records == 1)
            bx_warn("ratelimit: bad record for user '%s'",
                    bx_log_escape(eu, sizeof(eu), req->user, BX_LOG_CSTR));
        req_finish(req, rl->o.fail_open ? GW_RL_FAIL_OPEN : GW_RL_ERROR, 0);
        return;
    }
    cache_put(rl, req->user, 1, req->rpm, req->tpm);
    req_start_rpm(req);
}

static void req_on_rpm(gw_ratelimit_req *req, int64_t cur)
{
    if (cur >= req->rpm) {
        req_finish(req, GW_RL_REJECT_RPM, gw_ratelimit_retry_after(req->now_s));
        return;
    }
    char rkey[RL_KEY_MAX], tkey[RL_KEY_MAX], win[16];
    snprintf(win, sizeof(win), "%d", GW_RL_WINDOW_S);
    if (gw_ratelimit_counter_key(req->user, 0, req->now_s, rkey, sizeof(rkey)) < 0 ||
        gw_ratelimit_counter_key(req->user, 1, req->now_s, tkey, sizeof(tkey)) < 0) {
        req_fail(req);
        return;
    }
    /* One write: INCRBY + EXPIRE (AIBrix's Incr pipeline), then GET TPM. */
    const char *incr[3] = {"INCRBY", rkey, "1"};
    const char *exp[3] = {"EXPIRE", rkey, win};
    if (req_send(req, aux_reply_cb, req->rl, 3, incr) < 0 ||
        req_send(req, aux_reply_cb, req->rl, 3, exp) < 0 || req_get(req, tkey, ST_TPM) < 0)
        req_fail(req);
}

/* An error reply that says the server cannot serve anything now, rather
 * than something about one key (WRONGTYPE, not an integer). */
static int server_unavailable(const redisReply *r)
{
    static const char *const pre[] = {"LOADING", "BUSY"};
    for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
        size_t n = strlen(pre[i]);
        if (r->str && (size_t)r->len >= n && !memcmp(r->str, pre[i], n) &&
            ((size_t)r->len == n || r->str[n] == ' '))
            return 1;
    }
    return 0;
}

static void req_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    gw_ratelimit_req *req = priv;
    gw_ratelimit *rl = req->rl;
    const redisReply *reply = r;
    req->pending--;
    if (req->done) { /* late reply after the deadline, or cancelled */
        req_maybe_free(req);
        return;
    }
    if (!reply) { /* the connection is going: its disconnect path marks it down */
        req_fail(req);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        req_fail(req);
        if (ac == rl->ac && server_unavailable(reply)) {
            char why[160];
            snprintf(why, sizeof(why), "%.*s", (int)(reply->len > 120 ? 120 : reply->len),
                     reply->str ? reply->str : "");
            rl_mark_down(rl, why);
        }
        return;
    }
    int64_t cur = 0;
    switch (req->stage) {
    case ST_USER:
        req_on_user(req, reply);
        break;
    case ST_RPM:
        if (counter_value(reply, &cur) < 0)
            req_fail(req);
        else
            req_on_rpm(req, cur);
        break;
    case ST_TPM:
        if (counter_value(reply, &cur) < 0)
            req_fail(req);
        else if (cur >= req->tpm)
            req_finish(req, GW_RL_REJECT_TPM, gw_ratelimit_retry_after(req->now_s));
        else
            req_finish(req, GW_RL_ALLOW, 0);
        break;
    default:
        req_fail(req);
        break;
    }
}

/* Replies nobody waits for (INCRBY/EXPIRE): count Redis error replies. A
 * NULL reply (connection gone) is counted by the check that waits. */
static void aux_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    gw_ratelimit *rl = priv;
    const redisReply *reply = r;
    if (reply && reply->type == REDIS_REPLY_ERROR && !rl->closing) rl->st.redis_errors++;
}

/* The INCRBY of an account: nobody waits for it, so a lost connection is
 * counted here (once per account). */
static void acct_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    gw_ratelimit *rl = priv;
    const redisReply *reply = r;
    if ((!reply || reply->type == REDIS_REPLY_ERROR) && !rl->closing) rl->st.redis_errors++;
}

gw_ratelimit_req *gw_ratelimit_check(gw_ratelimit *rl, const char *user, gw_ratelimit_cb cb,
                                     void *ud)
{
    if (rl->closing) return NULL;
    gw_ratelimit_req *req = calloc(1, sizeof(*req));
    if (!req) return NULL;
    if (uv_timer_init(rl->loop, &req->timer) != 0) {
        free(req);
        return NULL;
    }
    req->rl = rl;
    req->timer.data = req;
    req->cb = cb;
    req->ud = ud;
    req->now_s = rl_now_s(rl);
    bx_queue_insert_head(&rl->reqs, &req->node);
    rl->st.inflight++;

    size_t ulen = user ? strlen(user) : 0;
    if (ulen == 0) {
        req_answer_soon(req, GW_RL_ALLOW, 0);
    } else if (ulen > GW_RL_USER_MAX) {
        rl->st.unknown_users++;
        req_answer_soon(
            req, rl->o.unknown == GW_RL_UNKNOWN_ALLOW ? GW_RL_ALLOW : GW_RL_REJECT_UNKNOWN, 0);
    } else if (rl->st.inflight > (uint64_t)rl->o.max_inflight || rl->state != RL_UP || !rl->ac) {
        req_answer_soon(req, GW_RL_ERROR, 1); /* Redis down: no deadline to wait for */
    } else {
        memcpy(req->user, user, ulen + 1);
        ucache_ent *e = cache_fresh(rl, user);
        char key[RL_KEY_MAX];
        if (!e) {
            rl->st.cache_misses++;
            if (gw_ratelimit_user_key(user, key, sizeof(key)) < 0 || req_get(req, key, ST_USER) < 0)
                req_answer_soon(req, GW_RL_ERROR, 1);
        } else {
            int limited = 1;
            rl->st.cache_hits++;
            if (e->exists) {
                req->rpm = e->rpm;
                req->tpm = e->tpm;
            } else {
                rl->st.unknown_users++;
                if (rl->o.unknown == GW_RL_UNKNOWN_DEFAULTS) {
                    req->rpm = GW_RL_DEFAULT_RPM;
                    req->tpm = (int64_t)GW_RL_DEFAULT_RPM * GW_RL_DEFAULT_TPM_MULTIPLIER;
                } else {
                    limited = 0;
                    req_answer_soon(req,
                                    rl->o.unknown == GW_RL_UNKNOWN_ALLOW ? GW_RL_ALLOW
                                                                         : GW_RL_REJECT_UNKNOWN,
                                    0);
                }
            }
            if (limited && (gw_ratelimit_counter_key(user, 0, req->now_s, key, sizeof(key)) < 0 ||
                            req_get(req, key, ST_RPM) < 0))
                req_answer_soon(req, GW_RL_ERROR, 1);
        }
    }
    uv_timer_start(&req->timer, req_timer_cb,
                   req->stage == ST_IMMEDIATE ? 0 : (uint64_t)rl->o.timeout_ms, 0);
    return req;
}

void gw_ratelimit_cancel(gw_ratelimit_req *req)
{
    if (!req || req->done) return;
    req->done = 1;
    req->cb = NULL;
    uv_timer_stop(&req->timer);
    req_maybe_free(req);
}

void gw_ratelimit_account(gw_ratelimit *rl, const char *user, int64_t total_tokens)
{
    if (rl->closing || !user || !user[0] || total_tokens <= 0) return;
    if (strlen(user) > GW_RL_USER_MAX) return;
    ucache_ent *e = cache_fresh(rl, user);
    if (e && !e->exists && rl->o.unknown != GW_RL_UNKNOWN_DEFAULTS) return;
    if (rl->state != RL_UP || !rl->ac) {
        rl->st.redis_errors++;
        return;
    }
    char key[RL_KEY_MAX], n[24], win[16];
    if (gw_ratelimit_counter_key(user, 1, rl_now_s(rl), key, sizeof(key)) < 0) return;
    snprintf(n, sizeof(n), "%" PRId64, total_tokens);
    snprintf(win, sizeof(win), "%d", GW_RL_WINDOW_S);
    const char *incr[3] = {"INCRBY", key, n};
    const char *exp[3] = {"EXPIRE", key, win};
    if (redisAsyncCommandArgv(rl->ac, acct_reply_cb, rl, 3, incr, NULL) != REDIS_OK ||
        redisAsyncCommandArgv(rl->ac, aux_reply_cb, rl, 3, exp, NULL) != REDIS_OK)
        rl->st.redis_errors++;
}

/* A SET nobody waits for: its error reply is counted and logged. */
static void set_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    gw_ratelimit *rl = priv;
    const redisReply *reply = r;
    if (!reply || rl->closing) return; /* a lost connection is seen by the health probe */
    if (reply->type == REDIS_REPLY_ERROR) {
        rl->st.redis_errors++;
        char e[BX_LOG_ESC_MAX];
        bx_warn("ratelimit: redis SET failed: %s",
                bx_log_escape(e, sizeof(e), reply->str, reply->str ? reply->len : 0));
    }
}

int gw_ratelimit_set(gw_ratelimit *rl, const char *key, const char *value, int64_t ttl_s)
{
    if (rl->closing) return -1;
    if (rl->state != RL_UP || !rl->ac) {
        rl->st.redis_errors++;
        return -1;
    }
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%" PRId64, ttl_s);
    const char *argv[5] = {"SET", key, value, "EX", ttl};
    if (redisAsyncCommandArgv(rl->ac, set_reply_cb, rl, 5, argv, NULL) != REDIS_OK) {
        rl->st.redis_errors++;
        return -1;
    }
    return 0;
}

/* ---- lifecycle --------------------------------------------------------- */

int gw_ratelimit_init(gw_ratelimit **out, uv_loop_t *loop, const char *host, int port,
                      const gw_ratelimit_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    if (!loop || !host || !host[0] || strlen(host) >= sizeof(((gw_ratelimit *)0)->host) ||
        port <= 0 || port > 65535) {
        snprintf(err, errlen, "ratelimit: bad redis address '%s:%d'", host ? host : "", port);
        return -1;
    }
    gw_ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl) {
        snprintf(err, errlen, "ratelimit: out of memory");
        return -1;
    }
    bx_queue_init(&rl->reqs);
    if (opts)
        rl->o = *opts;
    else
        gw_ratelimit_opts_default(&rl->o);
    gw_ratelimit_opts d;
    gw_ratelimit_opts_default(&d);
    if (rl->o.timeout_ms <= 0) rl->o.timeout_ms = d.timeout_ms;
    if (rl->o.connect_timeout_ms <= 0) rl->o.connect_timeout_ms = d.connect_timeout_ms;
    if (rl->o.reconnect_min_ms <= 0) rl->o.reconnect_min_ms = d.reconnect_min_ms;
    if (rl->o.reconnect_max_ms < rl->o.reconnect_min_ms)
        rl->o.reconnect_max_ms = rl->o.reconnect_min_ms;
    if (rl->o.max_inflight <= 0) rl->o.max_inflight = d.max_inflight;
    if (rl->o.ping_interval_ms <= 0) rl->o.ping_interval_ms = d.ping_interval_ms;
    if (rl->o.user_cache_ms < 0) rl->o.user_cache_ms = 0;
    if (rl->o.user_cache_max < 0) rl->o.user_cache_max = 0;
    rl->loop = loop;
    rl->port = port;
    snprintf(rl->host, sizeof(rl->host), "%s", host);
    unsigned char buf[sizeof(struct in6_addr)];
    rl->numeric_host = inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
    rl->backoff_ms = rl->o.reconnect_min_ms;
    if (rl->o.user_cache_ms > 0 && rl->o.user_cache_max > 0) {
        size_t cap = RL_PROBE;
        while (cap < (size_t)rl->o.user_cache_max && cap < ((size_t)1 << 24))
            cap <<= 1;
        rl->cache = calloc(cap, sizeof(*rl->cache));
        if (!rl->cache) {
            free(rl);
            snprintf(err, errlen, "ratelimit: out of memory");
            return -1;
        }
        rl->cache_mask = cap - 1;
    }
    int rc = uv_timer_init(loop, &rl->timer);
    if (rc != 0) {
        free(rl->cache);
        free(rl);
        snprintf(err, errlen, "ratelimit: %s", uv_strerror(rc));
        return -1;
    }
    rl->timer.data = rl;
    rl_connect(rl);
    *out = rl;
    return 0;
}

int gw_ratelimit_connected(const gw_ratelimit *rl)
{
    return rl->state == RL_UP && rl->ac != NULL;
}

void gw_ratelimit_stats_get(const gw_ratelimit *rl, gw_ratelimit_stats *out)
{
    *out = rl->st;
}

static void rl_timer_closed(uv_handle_t *h)
{
    gw_ratelimit *rl = h->data;
    rl->timer_closed = 1;
    rl_maybe_free(rl);
}

static void rl_maybe_free(gw_ratelimit *rl)
{
    if (!rl->closing || !rl->timer_closed || rl->gai_pending || !bx_queue_empty(&rl->reqs)) return;
    free(rl->cache);
    free(rl);
}

void gw_ratelimit_close(gw_ratelimit *rl)
{
    if (!rl || rl->closing) return;
    rl->closing = 1;
    /* Memory of a finished check lives until the loop runs its close
     * callback, so walking the list while callbacks run is safe. */
    bx_queue *q;
    BX_QUEUE_FOREACH(q, &rl->reqs)
    {
        gw_ratelimit_req *r = bx_container_of(q, gw_ratelimit_req, node);
        if (!r->done) req_finish(r, GW_RL_ERROR, 0);
    }
    redisAsyncContext *ac = rl->ac;
    rl->ac = NULL;
    if (ac) redisAsyncFree(ac);
    rl->state = RL_DOWN;
    uv_timer_stop(&rl->timer);
    if (rl->gai_pending) uv_cancel((uv_req_t *)&rl->gai);
    uv_close((uv_handle_t *)&rl->timer, rl_timer_closed);
}
