/* bx_http_client: the libuv HTTP/1.1 client of bx_http.h.
 *
 * A request (bx_http_creq) owns its serialized bytes and one timer; a
 * connection (cconn) owns its socket, its response parser and a write
 * buffer. Connections that finished a keep-alive response go back to an idle
 * list per "host:port" pool (most recent first) and keep reading, so a close
 * by the server is noticed and the connection dropped. A request sent on a
 * reused connection that dies before any response byte is retried once on a
 * fresh connection (the usual keep-alive race).
 *
 * Every user callback runs from a libuv callback. Errors found inside
 * bx_http_client_request and cancellations are delivered through the
 * request's timer started with timeout 0. The timer also carries the connect
 * timeout (reported as BX_HTTP_ECONNECT) and the whole-request timeout
 * (BX_HTTP_ETIMEOUT). The timer is armed lazily: it may fire before the
 * nearest deadline (which only ever moves later while a response streams),
 * and then re-arms. Once its on_done returned, a request (its timer and its
 * request buffer) is kept on the client's spare list for the next request,
 * up to CL_SPARE_KEEP of them; others, and all when the client closes, are
 * freed once their timer closed and their name lookup (if any) came back.
 *
 * Responses: http-parser de-chunks; bodies without length end at EOF; 1xx
 * interim responses are skipped; HEAD responses carry no body. */
#include "common/bx_http.h"

#include "common/bx_buf.h"
#include "common/bx_http_fast.h"
#include "common/bx_queue.h"

#include <http_parser.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CL_READ_BUF (64 * 1024)
#define CL_MAX_HEADERS 256
#define CL_FAST_HEADERS 64 /* more: http-parser reads the answer */
#define CL_WBUF_KEEP (256 * 1024)
#define CL_REQ_KEEP (16 * 1024) /* a spare request keeps a buffer this big */
#define CL_SPARE_KEEP 64
/* A spare's fields are poisoned under AddressSanitizer (the macros are
 * no-ops without it): a stale bx_http_creq pointer is still reported. */
#if defined(__SANITIZE_ADDRESS__)
#define CL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CL_ASAN 1
#endif
#endif
#ifdef CL_ASAN
#include <sanitizer/asan_interface.h>
#define CL_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define CL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define CL_POISON(p, n) ((void)(p), (void)(n))
#define CL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

enum cr_state { CR_NEW, CR_RESOLVING, CR_CONNECTING, CR_SENT, CR_DONE };
enum last_cb { LAST_NONE, LAST_FIELD, LAST_VALUE };

typedef struct pool {
    struct pool *next;
    bx_queue idle; /* cconn.idle_node, most recently used first */
    unsigned nidle;
    struct sockaddr_storage addr; /* of the last successful connect */
    int have_addr;
    char key[]; /* "host:port" */
} pool;

struct hdr_off {
    size_t name;
    size_t value;
};

typedef struct cconn {
    uv_tcp_t tcp;
    uv_connect_t conreq;
    uv_write_t wreq;
    bx_http_client *cl;
    pool *pool;
    bx_queue idle_node; /* in pool->idle while idle */
    bx_http_creq *cr;
    http_parser hp;
    bx_buf wbuf;
    bx_buf hstore;
    struct hdr_off *hoff;
    bx_http_header *hdrs;
    unsigned nhdr, hcap;
    enum last_cb last;
    size_t header_bytes;
    int msg_done;
    int skip_1xx;
    int idle;
    int closing;
    int writing;
    int reused;   /* has served a request before the current one */
    int parsing;  /* http-parser has seen bytes of the current response */
    int fail_err; /* set by a parser callback that refused the response */
} cconn;

struct bx_http_creq {
    uv_timer_t timer; /* kept initialised while the request is a spare */
    bx_buf req;       /* the serialized request; its memory kept by a spare */
    struct bx_http_creq *spare_next;
    bx_http_client *cl; /* the fields from here on are zeroed for each request */
    bx_queue node;      /* in cl->live once requested */
    bx_http_client_cbs cbs;
    void *ud;
    cconn *conn;
    pool *pool;
    uv_getaddrinfo_t gai;
    char *host; /* host_inl, or a copy when longer */
    char host_inl[64];
    int port;
    uint64_t deadline;         /* uv_now-based, 0 = none */
    uint64_t connect_deadline; /* while resolving/connecting */
    uint64_t fb_deadline;      /* until the response's headers, 0 = none */
    uint64_t idle_ms;          /* longest gap between body bytes, 0 = none */
    uint64_t idle_deadline;    /* after the headers: last body bytes + idle_ms */
    uint64_t armed_at;         /* when the timer fires, 0 = not armed */
    enum cr_state state;
    int pending_err; /* to deliver from the timer */
    int gai_pending;
    int timer_closed;
    int head;
    int got_bytes;
    int retried;
    int in_call; /* inside bx_http_client_request */
};

struct bx_http_client {
    uv_loop_t *loop;
    bx_http_client_opts opts;
    pool *pools;
    bx_queue live;       /* bx_http_creq.node, newest first */
    bx_http_creq *spare; /* finished requests kept for reuse, by spare_next */
    unsigned nspare;
    size_t nlive; /* requests (spares too) and connections not freed yet */
    int closing;
    char rbuf[CL_READ_BUF];
};

static void conn_close(cconn *k);
static void finish(bx_http_creq *cr, int err, int keepalive);
static void arm_timer(bx_http_creq *cr);
static void start_connect(bx_http_creq *cr);
static void on_cr_timer(uv_timer_t *t);
static void defer_error(bx_http_creq *cr, int err);

/* ---- client lifetime ---- */

static void client_maybe_free(bx_http_client *cl)
{
    if (!cl->closing || cl->nlive > 0) return;
    pool *p = cl->pools;
    while (p) {
        pool *n = p->next;
        free(p);
        p = n;
    }
    free(cl);
}

static pool *pool_get(bx_http_client *cl, const char *key)
{
    for (pool *p = cl->pools; p; p = p->next)
        if (strcmp(p->key, key) == 0) return p;
    size_t kl = strlen(key);
    pool *p = calloc(1, sizeof(*p) + kl + 1);
    if (!p) return NULL;
    memcpy(p->key, key, kl + 1);
    bx_queue_init(&p->idle);
    p->next = cl->pools;
    cl->pools = p;
    return p;
}

static void pool_remove(cconn *k)
{
    pool *p = k->pool;
    bx_queue_remove(&k->idle_node);
    k->idle = 0;
    p->nidle--;
}

static void pool_put(cconn *k)
{
    pool *p = k->pool;
    if (k->cl->closing || p->nidle >= k->cl->opts.max_idle_per_host) {
        conn_close(k);
        return;
    }
    k->idle = 1;
    k->reused = 1;
    bx_queue_insert_head(&p->idle, &k->idle_node);
    p->nidle++;
    if (k->wbuf.cap > CL_WBUF_KEEP) bx_buf_free(&k->wbuf);
    if (k->hstore.cap > CL_WBUF_KEEP) bx_buf_free(&k->hstore);
}

static void cr_free(bx_http_creq *cr)
{
    bx_http_client *cl = cr->cl;
    bx_buf_free(&cr->req);
    if (cr->host != cr->host_inl) free(cr->host);
    free(cr);
    cl->nlive--;
    client_maybe_free(cl);
}

/* ---- connections ---- */

static void on_conn_closed(uv_handle_t *h)
{
    cconn *k = h->data;
    bx_http_client *cl = k->cl;
    bx_buf_free(&k->wbuf);
    bx_buf_free(&k->hstore);
    free(k->hoff);
    free(k->hdrs);
    free(k);
    cl->nlive--;
    client_maybe_free(cl);
}

static void detach(cconn *k)
{
    if (k->cr) k->cr->conn = NULL;
    k->cr = NULL;
}

static void conn_close(cconn *k)
{
    if (k->closing) return;
    k->closing = 1;
    if (k->idle) pool_remove(k);
    detach(k);
    uv_close((uv_handle_t *)&k->tcp, on_conn_closed);
}

/* The connection broke while cr was using it. */
static void conn_fail(cconn *k, int err)
{
    bx_http_creq *cr = k->cr;
    int reused = k->reused;
    conn_close(k);
    if (!cr || cr->state == CR_DONE || cr->pending_err) return;
    if (reused && !cr->got_bytes && !cr->retried && err == BX_HTTP_ECLOSED) {
        cr->retried = 1;
        start_connect(cr);
        return;
    }
    finish(cr, err, 0);
}

/* ---- response parsing ---- */

static cconn *conn_of(http_parser *hp)
{
    return (cconn *)hp->data;
}

static int hdr_count(cconn *k, size_t n)
{
    k->header_bytes += n;
    if (k->header_bytes <= k->cl->opts.max_header_bytes) return 0;
    k->fail_err = BX_HTTP_ETOOBIG;
    return -1;
}

/* Room for cap headers in k's offset and pointer arrays. */
static int hdrs_grow(cconn *k, unsigned cap)
{
    struct hdr_off *ho = realloc(k->hoff, cap * sizeof(*ho));
    if (!ho) return -1;
    k->hoff = ho;
    bx_http_header *h = realloc(k->hdrs, cap * sizeof(*h));
    if (!h) return -1;
    k->hdrs = h;
    k->hcap = cap;
    return 0;
}

static int on_message_begin(http_parser *hp)
{
    cconn *k = conn_of(hp);
    bx_buf_reset(&k->hstore);
    k->nhdr = 0;
    k->last = LAST_NONE;
    k->header_bytes = 0;
    return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
    cconn *k = conn_of(hp);
    if (hdr_count(k, len + 4)) return -1;
    if (k->last != LAST_FIELD) {
        if (k->nhdr >= CL_MAX_HEADERS) {
            k->fail_err = BX_HTTP_ETOOBIG;
            return -1;
        }
        if (k->nhdr >= k->hcap && hdrs_grow(k, k->hcap ? k->hcap * 2 : 16) != 0) return -1;
        if (k->nhdr > 0 && bx_buf_append(&k->hstore, "", 1) != 0) return -1;
        k->hoff[k->nhdr].name = k->hstore.len;
        k->hoff[k->nhdr].value = 0;
        k->nhdr++;
        k->last = LAST_FIELD;
    }
    return bx_buf_append(&k->hstore, at, len);
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
    cconn *k = conn_of(hp);
    if (hdr_count(k, len)) return -1;
    if (k->last != LAST_VALUE) {
        if (k->last != LAST_FIELD) return -1;
        if (bx_buf_append(&k->hstore, "", 1) != 0) return -1;
        k->hoff[k->nhdr - 1].value = k->hstore.len;
        k->last = LAST_VALUE;
    }
    return bx_buf_append(&k->hstore, at, len);
}

/* The head in k->hstore/hoff is complete: to the caller. -1 when it
 * cancelled the request meanwhile. */
static int deliver_head(cconn *k, bx_http_creq *cr, int status)
{
    for (unsigned i = 0; i < k->nhdr; i++) {
        k->hdrs[i].name = k->hstore.data + k->hoff[i].name;
        k->hdrs[i].value = k->hstore.data + k->hoff[i].value;
    }
    cr->fb_deadline = 0; /* the first byte came */
    if (cr->idle_ms) cr->idle_deadline = uv_now(cr->cl->loop) + cr->idle_ms;
    arm_timer(cr);
    if (cr->cbs.on_response) cr->cbs.on_response(cr, status, k->hdrs, k->nhdr, cr->ud);
    if (k->cr != cr || cr->pending_err) return -1; /* cancelled meanwhile */
    return 0;
}

static int on_headers_complete(http_parser *hp)
{
    cconn *k = conn_of(hp);
    bx_http_creq *cr = k->cr;
    if (!cr) return -1;
    if (k->last == LAST_FIELD) {
        if (bx_buf_append(&k->hstore, "", 1) != 0) return -1;
        k->hoff[k->nhdr - 1].value = k->hstore.len;
    }
    if (bx_buf_append(&k->hstore, "", 1) != 0) return -1;
    if (hp->status_code >= 100 && hp->status_code < 200 && hp->status_code != 101) {
        k->skip_1xx = 1;
        return 0;
    }
    if (deliver_head(k, cr, (int)hp->status_code) != 0) return -1;
    return cr->head ? 1 : 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    cconn *k = conn_of(hp);
    bx_http_creq *cr = k->cr;
    if (!cr) return -1;
    /* the timer sees the later deadline when it fires; no re-arm per chunk */
    if (cr->idle_ms) cr->idle_deadline = uv_now(cr->cl->loop) + cr->idle_ms;
    if (cr->cbs.on_data) cr->cbs.on_data(cr, at, len, cr->ud);
    if (k->cr != cr || cr->pending_err) return -1;
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    cconn *k = conn_of(hp);
    if (k->skip_1xx) {
        k->skip_1xx = 0;
        return 0;
    }
    k->msg_done = 1;
    http_parser_pause(hp, 1);
    return 0;
}

static const http_parser_settings resp_settings = {
    .on_message_begin = on_message_begin,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    cconn *k = h->data;
    *buf = uv_buf_init(k->cl->rbuf, CL_READ_BUF);
}

static void after_parse(cconn *k, size_t n, size_t len)
{
    if (k->closing) return; /* cancelled or failed inside a callback */
    bx_http_creq *cr = k->cr;
    if (k->msg_done) {
        int keep = http_should_keep_alive(&k->hp) && n == len && !k->writing;
        finish(cr, 0, keep);
        return;
    }
    if (HTTP_PARSER_ERRNO(&k->hp) != HPE_OK) {
        conn_fail(k, k->fail_err ? k->fail_err : BX_HTTP_EPARSE);
        return;
    }
}

/* A whole plain answer in the first bytes read (bx_http_fast): delivered
 * without http-parser, as the callbacks would. -1 (nothing done) when
 * http-parser must read it. */
static int fast_response(cconn *k, bx_http_creq *cr, const char *data, size_t len)
{
    bx_http_fast_header fh[CL_FAST_HEADERS];
    bx_http_fast_msg m;
    bx_http_fast_limits fl = {k->cl->opts.max_header_bytes, CL_FAST_HEADERS, (size_t)-1};
    if (bx_http_fast_response(data, len, &fl, fh, &m) != BX_HTTP_FAST_OK) return -1;
    if (k->hcap < m.nheaders && hdrs_grow(k, CL_FAST_HEADERS) != 0) return -1;
    bx_buf_reset(&k->hstore);
    size_t need = 0;
    for (size_t i = 0; i < m.nheaders; i++)
        need += fh[i].name_len + fh[i].value_len + 2;
    if (bx_buf_reserve(&k->hstore, need) != 0) return -1;
    for (size_t i = 0; i < m.nheaders; i++) {
        k->hoff[i].name = k->hstore.len;
        bx_buf_append(&k->hstore, fh[i].name, fh[i].name_len);
        bx_buf_append(&k->hstore, "", 1);
        k->hoff[i].value = k->hstore.len;
        bx_buf_append(&k->hstore, fh[i].value, fh[i].value_len);
        bx_buf_append(&k->hstore, "", 1);
    }
    k->nhdr = (unsigned)m.nheaders;
    if (deliver_head(k, cr, m.status) != 0) {
        if (!k->closing) conn_fail(k, BX_HTTP_EPARSE); /* as a refusing callback does */
        return 0;
    }
    if (k->closing) return 0;
    if (m.body_len) {
        if (cr->idle_ms) cr->idle_deadline = uv_now(cr->cl->loop) + cr->idle_ms;
        if (cr->cbs.on_data) cr->cbs.on_data(cr, m.body, m.body_len, cr->ud);
        if (k->closing) return 0;
        if (k->cr != cr || cr->pending_err) {
            conn_fail(k, BX_HTTP_EPARSE); /* as a refusing callback does */
            return 0;
        }
    }
    k->msg_done = 1;
    int keep = m.keep_alive && m.total == len && !k->writing;
    finish(cr, 0, keep);
    return 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    cconn *k = s->data;
    if (k->closing) return;
    bx_http_creq *cr = k->cr;
    if (nread < 0) {
        if (!cr) {
            conn_close(k); /* an idle connection closed by the server */
            return;
        }
        if (nread == UV_EOF && cr->got_bytes) {
            /* A body delimited by the close ends now. */
            http_parser_execute(&k->hp, &resp_settings, NULL, 0);
            if (k->closing) return;
            if (k->msg_done) {
                finish(cr, 0, 0);
                return;
            }
        }
        conn_fail(k, nread == UV_EOF || nread == UV_ECONNRESET ? BX_HTTP_ECLOSED : BX_HTTP_EIO);
        return;
    }
    if (nread == 0) return;
    if (!cr) {
        conn_close(k); /* bytes nobody asked for */
        return;
    }
    cr->got_bytes = 1;
    if (!k->parsing && !cr->head && fast_response(k, cr, buf->base, (size_t)nread) == 0) return;
    k->parsing = 1;
    size_t n = http_parser_execute(&k->hp, &resp_settings, buf->base, (size_t)nread);
    after_parse(k, n, (size_t)nread);
}

static void on_write(uv_write_t *wr, int status)
{
    cconn *k = wr->data;
    k->writing = 0;
    bx_buf_reset(&k->wbuf);
    if (k->closing) return;
    if (status < 0) conn_fail(k, BX_HTTP_ECLOSED);
}

/* Puts cr's request on connection k (connected, idle or fresh). */
static void send_request(bx_http_creq *cr, cconn *k)
{
    k->cr = cr;
    cr->conn = k;
    cr->state = CR_SENT;
    cr->got_bytes = 0;
    http_parser_init(&k->hp, HTTP_RESPONSE);
    k->hp.data = k;
    k->parsing = 0;
    k->msg_done = 0;
    k->skip_1xx = 0;
    k->fail_err = 0;
    arm_timer(cr);
    uv_buf_t b = uv_buf_init(cr->req.data, (unsigned)cr->req.len);
    size_t skip = 0;
    int r = uv_try_write((uv_stream_t *)&k->tcp, &b, 1);
    if (r >= 0) {
        skip = (size_t)r;
        if (skip == cr->req.len) return;
    } else if (r != UV_EAGAIN) {
        conn_fail(k, BX_HTTP_ECLOSED);
        return;
    }
    if (bx_buf_append(&k->wbuf, cr->req.data + skip, cr->req.len - skip) != 0) {
        conn_fail(k, BX_HTTP_ENOMEM);
        return;
    }
    uv_buf_t w = uv_buf_init(k->wbuf.data, (unsigned)k->wbuf.len);
    if (uv_write(&k->wreq, (uv_stream_t *)&k->tcp, &w, 1, on_write) < 0) {
        conn_fail(k, BX_HTTP_EIO);
        return;
    }
    k->writing = 1;
}

static void on_connect(uv_connect_t *req, int status)
{
    cconn *k = req->data;
    if (status == UV_ECANCELED || k->closing) return;
    bx_http_creq *cr = k->cr;
    if (!cr) {
        conn_close(k);
        return;
    }
    if (status < 0) {
        conn_close(k);
        finish(cr, BX_HTTP_ECONNECT, 0);
        return;
    }
    int r = uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read);
    if (r < 0) {
        conn_close(k);
        finish(cr, BX_HTTP_ECONNECT, 0);
        return;
    }
    uv_tcp_nodelay(&k->tcp, 1);
    cr->connect_deadline = 0;
    send_request(cr, k);
}

/* Delivers err from the loop (never from inside the caller's call). */
static void defer_error(bx_http_creq *cr, int err)
{
    if (cr->state == CR_DONE || cr->pending_err) return;
    cr->pending_err = err;
    uv_timer_start(&cr->timer, on_cr_timer, 0, 0);
    cr->armed_at = uv_now(cr->cl->loop) + 1; /* nonzero: armed */
}

static void connect_addr(bx_http_creq *cr, const struct sockaddr *addr)
{
    bx_http_client *cl = cr->cl;
    cconn *k = calloc(1, sizeof(*k));
    if (!k) {
        defer_error(cr, BX_HTTP_ENOMEM);
        return;
    }
    k->cl = cl;
    k->pool = cr->pool;
    bx_buf_init(&k->wbuf);
    bx_buf_init(&k->hstore);
    if (uv_tcp_init(cl->loop, &k->tcp) < 0) {
        free(k);
        defer_error(cr, BX_HTTP_EIO);
        return;
    }
    k->tcp.data = k;
    k->conreq.data = k;
    k->wreq.data = k;
    cl->nlive++;
    k->cr = cr;
    cr->conn = k;
    cr->state = CR_CONNECTING;
    if (uv_tcp_connect(&k->conreq, &k->tcp, addr, on_connect) < 0) {
        conn_close(k);
        defer_error(cr, BX_HTTP_ECONNECT);
    }
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
    bx_http_creq *cr = g->data;
    cr->gai_pending = 0;
    if (cr->state == CR_DONE || cr->pending_err) {
        if (res) uv_freeaddrinfo(res);
        if (cr->state == CR_DONE && cr->timer_closed) cr_free(cr); /* it waited for us */
        return;
    }
    if (status < 0 || !res) {
        if (res) uv_freeaddrinfo(res);
        finish(cr, BX_HTTP_ECONNECT, 0);
        return;
    }
    memcpy(&cr->pool->addr, res->ai_addr, res->ai_addrlen);
    cr->pool->have_addr = 1;
    uv_freeaddrinfo(res);
    connect_addr(cr, (const struct sockaddr *)&cr->pool->addr);
}

/* Opens a fresh connection for cr. */
static void start_connect(bx_http_creq *cr)
{
    bx_http_client *cl = cr->cl;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    uint64_t now = uv_now(cl->loop);
    cr->connect_deadline = now + cl->opts.connect_timeout_ms;
    cr->state = CR_CONNECTING; /* so arm_timer counts the connect deadline */
    if (uv_ip4_addr(cr->host, cr->port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(cr->host, cr->port, (struct sockaddr_in6 *)&ss) == 0) {
        memcpy(&cr->pool->addr, &ss, sizeof(ss));
        cr->pool->have_addr = 1;
        arm_timer(cr);
        connect_addr(cr, (const struct sockaddr *)&ss);
        return;
    }
    if (cr->retried && cr->pool->have_addr) {
        arm_timer(cr);
        connect_addr(cr, (const struct sockaddr *)&cr->pool->addr);
        return;
    }
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", cr->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    cr->gai.data = cr;
    cr->state = CR_RESOLVING;
    arm_timer(cr);
    if (uv_getaddrinfo(cl->loop, &cr->gai, on_resolved, cr->host, portstr, &hints) < 0) {
        defer_error(cr, BX_HTTP_ECONNECT);
        return;
    }
    cr->gai_pending = 1;
}

/* ---- requests ---- */

static void on_cr_timer_closed(uv_handle_t *h)
{
    bx_http_creq *cr = h->data;
    cr->timer_closed = 1;
    if (!cr->gai_pending) cr_free(cr); /* else on_resolved frees it */
}

/* cr is finished (on_done returned) or was never started: keep it as a
 * spare, its timer stopped and initialised, or close it to be freed. */
static void cr_retire(bx_http_creq *cr)
{
    bx_http_client *cl = cr->cl;
    if (cr->host != cr->host_inl) free(cr->host);
    cr->host = NULL;
    if (!cr->gai_pending && !cl->closing && cl->nspare < CL_SPARE_KEEP) {
        if (cr->req.cap > CL_REQ_KEEP)
            bx_buf_free(&cr->req);
        else
            bx_buf_reset(&cr->req);
        cr->spare_next = cl->spare;
        cl->spare = cr;
        cl->nspare++;
        CL_POISON(&cr->cl, sizeof(*cr) - offsetof(bx_http_creq, cl));
        return;
    }
    uv_close((uv_handle_t *)&cr->timer, on_cr_timer_closed);
}

/* A request to fill: a spare, or a new one (counted in nlive). Its fields
 * from cl on are zero but for cl; NULL when out of memory or handles. */
static bx_http_creq *cr_take(bx_http_client *cl)
{
    bx_http_creq *cr = cl->spare;
    if (cr) {
        cl->spare = cr->spare_next;
        cl->nspare--;
        CL_UNPOISON(&cr->cl, sizeof(*cr) - offsetof(bx_http_creq, cl));
        memset(&cr->cl, 0, sizeof(*cr) - offsetof(bx_http_creq, cl));
    } else {
        cr = calloc(1, sizeof(*cr));
        if (!cr) return NULL;
        if (uv_timer_init(cl->loop, &cr->timer) < 0) {
            free(cr);
            return NULL;
        }
        bx_buf_init(&cr->req);
        cr->timer.data = cr;
        cl->nlive++;
    }
    cr->cl = cl;
    bx_queue_init(&cr->node);
    return cr;
}

static void finish(bx_http_creq *cr, int err, int keepalive)
{
    if (cr->state == CR_DONE) return;
    if (cr->in_call) {
        /* Failed inside bx_http_client_request: report from the loop. */
        if (cr->conn) conn_close(cr->conn);
        defer_error(cr, err ? err : BX_HTTP_EIO);
        return;
    }
    cr->state = CR_DONE;
    if (cr->armed_at) uv_timer_stop(&cr->timer);
    cr->armed_at = 0;
    if (cr->gai_pending) uv_cancel((uv_req_t *)&cr->gai);
    cconn *k = cr->conn;
    if (k) {
        detach(k);
        if (err == 0 && keepalive)
            pool_put(k);
        else
            conn_close(k);
    }
    bx_queue_remove(&cr->node);
    if (cr->cbs.on_done) cr->cbs.on_done(cr, err, cr->ud);
    cr_retire(cr);
}

static void on_cr_timer(uv_timer_t *t)
{
    bx_http_creq *cr = t->data;
    cr->armed_at = 0;
    if (cr->state == CR_DONE) return;
    if (cr->pending_err) {
        finish(cr, cr->pending_err, 0);
        return;
    }
    uint64_t now = uv_now(cr->cl->loop);
    if (cr->connect_deadline && now >= cr->connect_deadline &&
        (cr->state == CR_RESOLVING || cr->state == CR_CONNECTING)) {
        finish(cr, BX_HTTP_ECONNECT, 0);
        return;
    }
    if ((cr->deadline && now >= cr->deadline) || (cr->fb_deadline && now >= cr->fb_deadline) ||
        (cr->idle_deadline && now >= cr->idle_deadline)) {
        finish(cr, BX_HTTP_ETIMEOUT, 0);
        return;
    }
    arm_timer(cr);
}

static void arm_timer(bx_http_creq *cr)
{
    if (cr->pending_err || cr->state == CR_DONE) return;
    uint64_t next = cr->deadline;
    if (cr->fb_deadline && (!next || cr->fb_deadline < next)) next = cr->fb_deadline;
    if (cr->idle_deadline && (!next || cr->idle_deadline < next)) next = cr->idle_deadline;
    if (cr->connect_deadline && (cr->state == CR_RESOLVING || cr->state == CR_CONNECTING) &&
        (!next || cr->connect_deadline < next))
        next = cr->connect_deadline;
    uint64_t now = uv_now(cr->cl->loop);
    /* before the headers, the idle deadline they will set is no earlier
     * than now + idle_ms: firing by then spares a re-arm when they come */
    if (cr->idle_ms && !cr->idle_deadline && cr->state == CR_SENT &&
        (!next || now + cr->idle_ms < next))
        next = now + cr->idle_ms;
    if (!next) {
        if (cr->armed_at) uv_timer_stop(&cr->timer);
        cr->armed_at = 0;
        return;
    }
    if (cr->armed_at && cr->armed_at <= next) return; /* fires first, then re-arms */
    if (next < now) next = now;
    uv_timer_start(&cr->timer, on_cr_timer, next - now, 0);
    cr->armed_at = next;
}

static int bad_text(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

static int serialize(bx_buf *b, const bx_http_client_req *r)
{
    const char *path = (r->path && r->path[0]) ? r->path : "/";
    if (bad_text(r->method) || bad_text(path) || strpbrk(path, " ")) return BX_HTTP_EPARSE;
    int have_host = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (!r->headers[i].name || !r->headers[i].value) return BX_HTTP_EPARSE;
        if (bad_text(r->headers[i].name) || bad_text(r->headers[i].value)) return BX_HTTP_EPARSE;
        if (strcasecmp(r->headers[i].name, "host") == 0) have_host = 1;
    }
    size_t est = strlen(r->method) + strlen(path) + strlen(r->host) + 96 + r->body_len;
    for (size_t i = 0; i < r->nheaders; i++)
        est += strlen(r->headers[i].name) + strlen(r->headers[i].value) + 4;
    if (bx_buf_reserve(b, est) != 0) return BX_HTTP_ENOMEM;
    int e = bx_buf_appends(b, r->method);
    e |= bx_buf_append(b, " ", 1);
    e |= bx_buf_appends(b, path);
    e |= bx_buf_append(b, " HTTP/1.1\r\n", 11);
    if (!have_host) {
        int v6 = strchr(r->host, ':') != NULL;
        e |= bx_buf_append(b, v6 ? "Host: [" : "Host: ", v6 ? 7 : 6);
        e |= bx_buf_appends(b, r->host);
        e |= bx_buf_append(b, v6 ? "]:" : ":", v6 ? 2 : 1);
        e |= bx_buf_append_u64(b, (uint64_t)r->port);
        e |= bx_buf_append(b, "\r\n", 2);
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, "content-length") == 0) continue;
        e |= bx_buf_appends(b, r->headers[i].name);
        e |= bx_buf_append(b, ": ", 2);
        e |= bx_buf_appends(b, r->headers[i].value);
        e |= bx_buf_append(b, "\r\n", 2);
    }
    int wants_len = r->body_len > 0 || strcmp(r->method, "POST") == 0 ||
                    strcmp(r->method, "PUT") == 0 || strcmp(r->method, "PATCH") == 0;
    if (wants_len) {
        e |= bx_buf_append(b, "Content-Length: ", 16);
        e |= bx_buf_append_u64(b, (uint64_t)r->body_len);
        e |= bx_buf_append(b, "\r\n", 2);
    }
    e |= bx_buf_append(b, "\r\n", 2);
    if (r->body_len) e |= bx_buf_append(b, r->body, r->body_len);
    return e ? BX_HTTP_ENOMEM : 0;
}

int bx_http_client_init(bx_http_client **out, uv_loop_t *loop, const bx_http_client_opts *opts)
{
    *out = NULL;
    bx_http_client *cl = calloc(1, sizeof(*cl));
    if (!cl) return BX_HTTP_ENOMEM;
    bx_queue_init(&cl->live);
    cl->loop = loop;
    if (opts) cl->opts = *opts;
    if (!cl->opts.max_idle_per_host) cl->opts.max_idle_per_host = 64;
    if (!cl->opts.connect_timeout_ms) cl->opts.connect_timeout_ms = 5000;
    if (!cl->opts.max_header_bytes) cl->opts.max_header_bytes = 64 * 1024;
    *out = cl;
    return 0;
}

int bx_http_client_request(bx_http_client *cl, const bx_http_client_req *r,
                           const bx_http_client_cbs *cbs, void *ud, bx_http_creq **out)
{
    if (out) *out = NULL;
    if (cl->closing) return BX_HTTP_ESTATE;
    if (!r->method || !r->host || !r->host[0] || r->port <= 0 || r->port > 65535 ||
        (r->body_len && !r->body))
        return BX_HTTP_EPARSE;
    bx_http_creq *cr = cr_take(cl);
    if (!cr) return BX_HTTP_ENOMEM;
    int e = serialize(&cr->req, r);
    char key[300]; /* "host:port", built without printf (once per request) */
    const size_t host_len = strlen(r->host);
    size_t hl = host_len;
    if (e == 0 && hl + 7 > sizeof(key)) e = BX_HTTP_EPARSE;
    if (e == 0) {
        memcpy(key, r->host, hl);
        key[hl++] = ':';
        char t[6];
        size_t i = sizeof(t);
        for (int p = r->port; p; p /= 10)
            t[--i] = (char)('0' + p % 10);
        memcpy(key + hl, t + i, sizeof(t) - i);
        key[hl + sizeof(t) - i] = '\0';
    }
    if (e == 0) {
        cr->host = host_len < sizeof(cr->host_inl) /* no malloc for the usual short host */
                       ? memcpy(cr->host_inl, r->host, host_len + 1)
                       : strdup(r->host);
        cr->pool = pool_get(cl, key);
        if (!cr->host || !cr->pool) e = BX_HTTP_ENOMEM;
    }
    if (e != 0) {
        cr_retire(cr);
        return e;
    }
    cr->cbs = *cbs;
    cr->ud = ud;
    cr->port = r->port;
    cr->head = strcmp(r->method, "HEAD") == 0;
    cr->state = CR_NEW;
    uint64_t now = uv_now(cl->loop);
    cr->deadline = r->timeout_ms ? now + r->timeout_ms : 0;
    cr->fb_deadline = r->first_byte_timeout_ms ? now + r->first_byte_timeout_ms : 0;
    cr->idle_ms = r->idle_timeout_ms;
    bx_queue_insert_head(&cl->live, &cr->node);
    if (out) *out = cr;

    pool *p = cr->pool;
    cr->in_call = 1;
    if (!bx_queue_empty(&p->idle)) {
        cconn *k = bx_container_of(bx_queue_head(&p->idle), cconn, idle_node);
        pool_remove(k);
        send_request(cr, k);
    } else {
        start_connect(cr);
    }
    cr->in_call = 0;
    return 0;
}

void bx_http_client_cancel(bx_http_creq *cr)
{
    if (!cr || cr->state == CR_DONE || cr->pending_err) return;
    if (cr->conn) conn_close(cr->conn);
    if (cr->gai_pending) uv_cancel((uv_req_t *)&cr->gai);
    defer_error(cr, BX_HTTP_ECANCELED);
}

void bx_http_client_close(bx_http_client *cl)
{
    if (!cl || cl->closing) return;
    cl->closing = 1;
    bx_queue *q, *next;
    BX_QUEUE_FOREACH_SAFE(q, next, &cl->live)
    { /* a cancel ends its request later, on the loop */
        bx_http_client_cancel(bx_container_of(q, bx_http_creq, node));
    }
    while (cl->spare) {
        bx_http_creq *cr = cl->spare;
        cl->spare = cr->spare_next;
        cl->nspare--;
        CL_UNPOISON(&cr->cl, sizeof(*cr) - offsetof(bx_http_creq, cl));
        uv_close((uv_handle_t *)&cr->timer, on_cr_timer_closed);
    }
    for (pool *p = cl->pools; p; p = p->next)
        while ((q = bx_queue_head(&p->idle)))
            conn_close(bx_container_of(q, cconn, idle_node));
    client_maybe_free(cl);
}
