/* gw_kvsub: see gw_kvsub.h. */
#include "gateway/gw_kvsub.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "common/bx_log.h"

#define GW_KVSUB_MAX_FRAMES 4

typedef struct gw_kvsub_want_t {
    uint8_t on;
    char pub[GW_KVSUB_EP_MAX];
    char rep[GW_KVSUB_EP_MAX];
} gw_kvsub_want_t;

typedef struct gw_kvsub_conn {
    uint8_t on;
    char pub[GW_KVSUB_EP_MAX];
    char rep[GW_KVSUB_EP_MAX];
    void *sub;
    void *dealer;           /* NULL without a replay endpoint */
    uint64_t replay_due_ms; /* 0 = no replay in progress */
} gw_kvsub_conn;

struct gw_kvsub {
    gw_kvsub_opts o;
    void *ctx;
    pthread_t th;
    pthread_mutex_t mu; /* guards want, dirty, stop, st */
    int stop, dirty, nwant;
    gw_kvsub_want_t want[GW_MAX_ENGINES];
    gw_kvsub_conn conn[GW_MAX_ENGINES];    /* the thread's own */
    gw_kvsub_want_t wcopy[GW_MAX_ENGINES]; /* the thread's copy of want */
    gw_kvsub_stats st;
    char *buf; /* payload scratch, limits.max_bytes */
};

void gw_kvsub_opts_default(gw_kvsub_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->poll_ms = 100;
    o->replay_timeout_ms = 5000;
    o->max_engines = 256;
    bx_kvev_limits_default(&o->limits);
    o->limits.max_bytes = 16u << 20; /* a step's batch; vLLM's are far smaller */
}

static uint64_t gw_kvsub_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* CPU time of this thread: the cost of applying a batch, not the time the
 * thread spent preempted on a busy machine */
static uint64_t gw_kvsub_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void gw_kvsub_lock(gw_kvsub *s)
{
    if (s->o.lock) s->o.lock(s->o.ud);
}

static void gw_kvsub_unlock(gw_kvsub *s)
{
    if (s->o.unlock) s->o.unlock(s->o.ud);
}

static void gw_kvsub_count(gw_kvsub *s, uint64_t *field)
{
    pthread_mutex_lock(&s->mu);
    (*field)++;
    pthread_mutex_unlock(&s->mu);
}

static void *gw_kvsub_socket(gw_kvsub *s, int type, const char *ep)
{
    void *z = zmq_socket(s->ctx, type);
    if (!z) return NULL;
    int zero = 0, ivl = 100, ivl_max = 5000;
    int64_t max = (int64_t)s->o.limits.max_bytes;
    if (zmq_setsockopt(z, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
        zmq_setsockopt(z, ZMQ_MAXMSGSIZE, &max, sizeof(max)) != 0 ||
        zmq_setsockopt(z, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)) != 0 ||
        zmq_setsockopt(z, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max)) != 0 ||
        (type == ZMQ_SUB && zmq_setsockopt(z, ZMQ_SUBSCRIBE, "", 0) != 0) ||
        zmq_connect(z, ep) != 0) {
        bx_warn("kvsub: %s: %s", ep, zmq_strerror(zmq_errno()));
        zmq_close(z);
        return NULL;
    }
    return z;
}

static void gw_kvsub_close_dealer(gw_kvsub_conn *c)
{
    if (c->dealer) zmq_close(c->dealer);
    c->dealer = NULL;
    c->replay_due_ms = 0;
}

static void gw_kvsub_close(gw_kvsub *s, int e)
{
    gw_kvsub_conn *c = &s->conn[e];
    if (!c->on) return;
    if (c->sub) zmq_close(c->sub);
    gw_kvsub_close_dealer(c);
    memset(c, 0, sizeof(*c));
    gw_kvsub_lock(s);
    gw_kvindex_unfollow(s->o.ix, e);
    gw_kvsub_unlock(s);
}

/* Sends a replay request from seq from; the index waits for its end. */
static void gw_kvsub_ask_replay(gw_kvsub *s, int e, uint64_t from)
{
    gw_kvsub_conn *c = &s->conn[e];
    if (!c->dealer && c->rep[0]) c->dealer = gw_kvsub_socket(s, ZMQ_DEALER, c->rep);
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(from >> (56 - 8 * i));
    int sent = c->dealer && zmq_send(c->dealer, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
               zmq_send(c->dealer, b, 8, ZMQ_DONTWAIT) >= 0;
    gw_kvsub_lock(s);
    gw_kvindex_replay_begin(s->o.ix, e, from);
    if (!sent) gw_kvindex_replay_end(s->o.ix, e, 0);
    gw_kvsub_unlock(s);
    if (sent) {
        c->replay_due_ms = gw_kvsub_now_ms() + (uint64_t)s->o.replay_timeout_ms;
        gw_kvsub_count(s, &s->st.replay_requests);
    } else {
        gw_kvsub_close_dealer(c);
    }
}

static void gw_kvsub_open(gw_kvsub *s, int e, const gw_kvsub_want_t *w)
{
    gw_kvsub_conn *c = &s->conn[e];
    c->on = 1;
    memcpy(c->pub, w->pub, sizeof(c->pub));
    memcpy(c->rep, w->rep, sizeof(c->rep));
    c->sub = gw_kvsub_socket(s, ZMQ_SUB, c->pub);
    gw_kvsub_lock(s);
    gw_kvindex_follow(s->o.ix, e);
    gw_kvsub_unlock(s);
    if (c->rep[0]) gw_kvsub_ask_replay(s, e, 0); /* what it did before we listened */
}

/* Reads one multipart message into frames (the last one into s->buf).
 * Returns the number of frames, 0 when none waits, -1 when malformed. */
static int gw_kvsub_recv(gw_kvsub *s, void *z, unsigned char hdr[GW_KVSUB_MAX_FRAMES][8],
                         size_t *len, size_t *paylen)
{
    int n = 0, bad = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, z, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&m);
            return n == 0 ? 0 : -1;
        }
        size_t sz = zmq_msg_size(&m);
        more = zmq_msg_more(&m);
        if (n < GW_KVSUB_MAX_FRAMES) {
            len[n] = sz;
            memcpy(hdr[n], zmq_msg_data(&m), sz < 8 ? sz : 8);
            if (sz <= s->o.limits.max_bytes) {
                memcpy(s->buf, zmq_msg_data(&m), sz);
                *paylen = sz;
            } else {
                bad = 1;
            }
        } else {
            bad = 1;
        }
        n++;
        zmq_msg_close(&m);
    }
    return bad ? -1 : n;
}

static uint64_t gw_kvsub_be64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

/* A decoded batch applied under the lock; ok = 0 when it did not decode. */
static int gw_kvsub_decode(gw_kvsub *s, size_t len, bx_kvev_batch *b)
{
    bx_kvev_err err;
    if (bx_kvev_decode(s->buf, len, &s->o.limits, b, &err) == BX_KVEV_OK) return 1;
    gw_kvsub_count(s, &s->st.decode_errors);
    bx_debug("kvsub: undecodable batch: %s", err.msg);
    return 0;
}

static void gw_kvsub_on_sub(gw_kvsub *s, int e)
{
    gw_kvsub_conn *c = &s->conn[e];
    for (int k = 0; k < 256 && c->sub; k++) { /* a bounded burst per poll */
        unsigned char hdr[GW_KVSUB_MAX_FRAMES][8];
        size_t len[GW_KVSUB_MAX_FRAMES], plen = 0;
        int n = gw_kvsub_recv(s, c->sub, hdr, len, &plen);
        if (n == 0) return;
        gw_kvsub_count(s, &s->st.messages);
        if (n != 3 || len[1] != 8) {
            gw_kvsub_count(s, &s->st.bad_frames);
            continue;
        }
        uint64_t seq = gw_kvsub_be64(hdr[1]), from = 0;
        bx_kvev_batch b;
        memset(&b, 0, sizeof(b));
        int ok = gw_kvsub_decode(s, plen, &b);
        gw_kvsub_lock(s);
        uint64_t t0 = gw_kvsub_now_ns();
        int r = gw_kvindex_on_batch(s->o.ix, e, seq, ok ? &b : NULL, &from);
        if (r == GW_KVIX_APPLIED) gw_kvindex_note_apply_ns(s->o.ix, gw_kvsub_now_ns() - t0);
        if (r == GW_KVIX_REPLAY && !c->rep[0]) { /* no replay socket: accept the gap */
            gw_kvindex_replay_begin(s->o.ix, e, from);
            gw_kvindex_on_replay(s->o.ix, e, seq, ok ? &b : NULL);
            gw_kvindex_replay_end(s->o.ix, e, 1);
            r = GW_KVIX_APPLIED;
        }
        gw_kvsub_unlock(s);
        bx_kvev_batch_free(&b);
        if (r == GW_KVIX_REPLAY) gw_kvsub_ask_replay(s, e, from);
    }
}

static void gw_kvsub_on_dealer(gw_kvsub *s, int e)
{
    gw_kvsub_conn *c = &s->conn[e];
    for (int k = 0; k < 1024 && c->dealer; k++) {
        unsigned char hdr[GW_KVSUB_MAX_FRAMES][8];
        size_t len[GW_KVSUB_MAX_FRAMES], plen = 0;
        int n = gw_kvsub_recv(s, c->dealer, hdr, len, &plen);
        if (n == 0) return;
        if (n != 3 || len[0] != 0 || len[1] != 8) {
            gw_kvsub_count(s, &s->st.bad_frames);
            continue;
        }
        uint64_t seq = gw_kvsub_be64(hdr[1]);
        if (seq == UINT64_MAX) { /* the end of the answer */
            c->replay_due_ms = 0;
            gw_kvsub_lock(s);
            gw_kvindex_replay_end(s->o.ix, e, 1);
            gw_kvsub_unlock(s);
            continue;
        }
        bx_kvev_batch b;
        memset(&b, 0, sizeof(b));
        int ok = gw_kvsub_decode(s, plen, &b);
        gw_kvsub_lock(s);
        uint64_t t0 = gw_kvsub_now_ns();
        if (gw_kvindex_on_replay(s->o.ix, e, seq, ok ? &b : NULL) == GW_KVIX_APPLIED)
            gw_kvindex_note_apply_ns(s->o.ix, gw_kvsub_now_ns() - t0);
        gw_kvsub_unlock(s);
        bx_kvev_batch_free(&b);
    }
}

/* Brings the sockets in line with what was asked for. */
static void gw_kvsub_reconcile(gw_kvsub *s)
{
    gw_kvsub_want_t *w = s->wcopy;
    pthread_mutex_lock(&s->mu);
    int dirty = s->dirty;
    if (dirty) memcpy(w, s->want, sizeof(s->wcopy));
    s->dirty = 0;
    pthread_mutex_unlock(&s->mu);
    if (!dirty) return;
    for (int e = 0; e < GW_MAX_ENGINES; e++) {
        gw_kvsub_conn *c = &s->conn[e];
        int same = c->on && w[e].on && !strcmp(c->pub, w[e].pub) && !strcmp(c->rep, w[e].rep);
        if (same) continue;
        if (c->on) gw_kvsub_close(s, e);
        if (w[e].on) gw_kvsub_open(s, e, &w[e]);
    }
}

static void *gw_kvsub_main(void *arg)
{
    gw_kvsub *s = arg;
    zmq_pollitem_t *items = calloc(2 * GW_MAX_ENGINES, sizeof(*items));
    int *who = calloc(2 * GW_MAX_ENGINES, sizeof(*who));
    if (!items || !who) {
        bx_error("kvsub: out of memory; KV events are not followed");
        free(items);
        free(who);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&s->mu);
        int stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (stop) break;
        gw_kvsub_reconcile(s);
        int n = 0, following = 0;
        uint64_t now = gw_kvsub_now_ms();
        for (int e = 0; e < GW_MAX_ENGINES; e++) {
            gw_kvsub_conn *c = &s->conn[e];
            if (!c->on) continue;
            following++;
            if (c->replay_due_ms && now >= c->replay_due_ms) { /* the answer never ended */
                gw_kvsub_close_dealer(c);
                gw_kvsub_count(s, &s->st.replay_timeouts);
                gw_kvsub_lock(s);
                gw_kvindex_replay_end(s->o.ix, e, 0);
                gw_kvsub_unlock(s);
            }
            if (c->sub) {
                items[n] = (zmq_pollitem_t){.socket = c->sub, .events = ZMQ_POLLIN};
                who[n++] = e;
            }
            if (c->dealer) {
                items[n] = (zmq_pollitem_t){.socket = c->dealer, .events = ZMQ_POLLIN};
                who[n++] = -1 - e;
            }
        }
        pthread_mutex_lock(&s->mu);
        s->st.following = following;
        pthread_mutex_unlock(&s->mu);
        gw_kvsub_lock(s);
        gw_kvindex_tick(s->o.ix, now);
        gw_kvsub_unlock(s);
        if (n == 0) {
            struct timespec ts = {0, (long)s->o.poll_ms * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        int pr = zmq_poll(items, n, s->o.poll_ms);
        if (pr <= 0) continue;
        for (int i = 0; i < n; i++) {
            if (!(items[i].revents & ZMQ_POLLIN)) continue;
            if (who[i] >= 0)
                gw_kvsub_on_sub(s, who[i]);
            else
                gw_kvsub_on_dealer(s, -1 - who[i]);
        }
    }
    for (int e = 0; e < GW_MAX_ENGINES; e++)
        gw_kvsub_close(s, e);
    free(items);
    free(who);
    return NULL;
}

gw_kvsub *gw_kvsub_start(const gw_kvsub_opts *o, char *err, size_t errlen)
{
    gw_kvsub *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "kvsub: out of memory");
        return NULL;
    }
    s->o = *o;
    if (s->o.poll_ms <= 0) s->o.poll_ms = 100;
    if (s->o.replay_timeout_ms <= 0) s->o.replay_timeout_ms = 5000;
    if (s->o.max_engines <= 0 || s->o.max_engines > GW_MAX_ENGINES) s->o.max_engines = 256;
    s->buf = malloc(s->o.limits.max_bytes ? s->o.limits.max_bytes : 1);
    s->ctx = zmq_ctx_new();
    if (!s->buf || !s->ctx || pthread_mutex_init(&s->mu, NULL) != 0) {
        snprintf(err, errlen, "kvsub: cannot start: %s", zmq_strerror(zmq_errno()));
        if (s->ctx) zmq_ctx_term(s->ctx);
        free(s->buf);
        free(s);
        return NULL;
    }
    if (pthread_create(&s->th, NULL, gw_kvsub_main, s) != 0) {
        snprintf(err, errlen, "kvsub: cannot start its thread");
        pthread_mutex_destroy(&s->mu);
        zmq_ctx_term(s->ctx);
        free(s->buf);
        free(s);
        return NULL;
    }
    return s;
}

void gw_kvsub_stop(gw_kvsub *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->th, NULL);
    zmq_ctx_term(s->ctx);
    pthread_mutex_destroy(&s->mu);
    free(s->buf);
    free(s);
}

int gw_kvsub_want(gw_kvsub *s, int e, const char *pub, const char *replay)
{
    if (!s || e < 0 || e >= GW_MAX_ENGINES || !pub || strlen(pub) >= GW_KVSUB_EP_MAX ||
        (replay && strlen(replay) >= GW_KVSUB_EP_MAX))
        return -1;
    if (!replay) replay = "";
    pthread_mutex_lock(&s->mu);
    gw_kvsub_want_t *w = &s->want[e];
    int rc = 0;
    if (!w->on && s->nwant >= s->o.max_engines) {
        rc = -1;
    } else if (!w->on || strcmp(w->pub, pub) || strcmp(w->rep, replay)) {
        if (!w->on) s->nwant++;
        w->on = 1;
        snprintf(w->pub, sizeof(w->pub), "%s", pub);
        snprintf(w->rep, sizeof(w->rep), "%s", replay);
        s->dirty = 1;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void gw_kvsub_drop(gw_kvsub *s, int e)
{
    if (!s || e < 0 || e >= GW_MAX_ENGINES) return;
    pthread_mutex_lock(&s->mu);
    if (s->want[e].on) {
        s->want[e].on = 0;
        s->nwant--;
        s->dirty = 1;
    }
    pthread_mutex_unlock(&s->mu);
}

void gw_kvsub_stats_get(gw_kvsub *s, gw_kvsub_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    pthread_mutex_unlock(&s->mu);
}
