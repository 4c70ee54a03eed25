/* bx_http_server: the libuv HTTP/1.1 server of bx_http.h.
 *
 * One struct conn per TCP connection holds everything the connection needs:
 * its request parser, the one response in progress (bx_http_res is embedded,
 * not allocated), an input buffer for bytes not yet parsed, and two output
 * buffers. Nothing is allocated per request in steady state.
 *
 * Input: reads land in one 64 KiB buffer shared by the server (libuv calls
 * alloc, read and the read callback in sequence, one connection at a time)
 * and are fed straight to the parser; only bytes the parser could not take
 * yet (pipelined requests behind a response in progress) are copied into
 * the connection's own buffer. The parser is paused after every request and
 * resumed when its response finishes, so requests are answered in order,
 * one at a time. Reading goes on during a response so that a peer that
 * hangs up is noticed (the abort callback), up to IN_PENDING_MAX buffered
 * bytes; past that the connection stops reading until the response ends.
 *
 * Output: writes go out at once with uv_try_write (status line, headers and
 * body as several bufs of one call); what the kernel does not take is
 * appended to obuf. At most one uv_write is in flight, on wbuf; when it
 * completes the buffers swap, so writes queued meanwhile leave coalesced.
 *
 * Closing: after "Connection: close", HTTP/1.0 streams and error answers,
 * the connection flushes, shuts down its write side and then discards input
 * until EOF or LINGER_MS (so the peer is not reset before it reads the
 * answer). A connection whose handles closed while the handler still owns
 * its response, with no abort callback, stays allocated (a "zombie") until
 * the handler finishes the response; writes to it return BX_HTTP_ECLOSED.
 *
 * Deadlines: a connection not answering a request is in one of three
 * phases (idle between requests, in a request's head, in its body; the
 * parser says which), each with a deadline from the phase's start that
 * bytes arriving do not move (bx_http.h, bx_http_limits). One timer per
 * connection, restarted lazily: it may fire before the deadline of the
 * phase the connection is in by then, and then waits the rest; it is
 * restarted early only when a phase with a nearer deadline begins, which a
 * request that arrives in one read never does (the read that carries it
 * completes it). While a response is in progress the timer may lapse: the
 * handler owns that time, and res_done arms it again.
 *
 * Bounds shared by several servers (bx_http_shared, C11 atomics, any
 * thread): open connections, checked at accept (a connection over the cap
 * is accepted and closed at once, so it does not wait in the backlog), and
 * buffered body bytes, charged through the parser's body hook for bodies
 * over BX_HTTP_BODY_UNCHARGED and given back when the response ends or the
 * connection goes. A request's atomics are for large bodies only: the
 * small-request path touches none. */
#include "common/bx_http.h"

#include "common/bx_buf.h"
#include "common/bx_log.h"
#include "common/bx_queue.h"

#include <errno.h>
#include <http_parser.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define READ_BUF_SIZE (64 * 1024)
#define IN_PENDING_MAX (64 * 1024)
#define IN_READ_CHUNK (16 * 1024)
#define OUT_KEEP (256 * 1024)
#define LINGER_MS 2000
#define LISTEN_BACKLOG 1024
#define FD_RESERVE 64 /* descriptors kept for everything else (default cap) */
#define RETRY_AFTER_S "1"

struct bx_http_shared {
    atomic_size_t open;
    atomic_size_t body_bytes;
    atomic_uint_fast64_t rejected, head_timeouts, body_timeouts, idle_timeouts, budget_rejected;
    atomic_uint_fast64_t refused_unlogged; /* refusals since the last log line */
    atomic_uint_fast64_t log_ms;           /* loop time of that line + 1; 0 = none yet */
};

/* What a connection not answering a request waits for; the values are
 * bx_http_reqparser_progress's. */
enum conn_phase { PH_IDLE = 0, PH_HEAD = 1, PH_BODY = 2 };

enum res_state { RES_NONE, RES_PENDING, RES_STREAMING };

struct bx_http_res {
    struct conn *c;
    bx_http_abort_cb abort_cb;
    void *abort_ud;
    bx_buf hdrs; /* extra headers, already formatted */
    enum res_state state;
    int chunked; /* chunked framing; else raw bytes until close (HTTP/1.0) */
    int head;    /* HEAD request: headers only */
};

typedef struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* phase deadline, lingering close, deferred resume */
    bx_http_server *srv;
    bx_queue node; /* in srv->conns until closing */
    bx_http_reqparser *parser;
    bx_buf in; /* bytes read but not parsed yet, from in_off */
    size_t in_off;
    bx_buf obuf; /* output not handed to libuv yet */
    bx_buf wbuf; /* output of the uv_write in flight */
    bx_buf head; /* status line and headers being built */
    uv_write_t wreq;
    uv_shutdown_t sreq;
    bx_http_req req;
    bx_http_res res;
    uint64_t phase_start; /* loop ms: when the current phase began */
    uint64_t timer_due;   /* loop ms: when the timer fires, while active */
    size_t body_charged;  /* bytes of the budget this request holds */
    int trim;             /* a large body's parser store goes once its handler has returned */
    enum conn_phase phase;
    int fresh; /* no request answered yet: the first head counts from accept */
    int handles_open;
    int writing;
    int reading;
    int res_active;
    int in_feed;
    int close_after; /* close once the response is flushed */
    int lingering;
    int closing; /* uv_close called */
    int zombie;  /* handles closed, handler still owns the response */
} conn;

struct bx_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    bx_http_limits lim; /* zeros replaced by defaults at init */
    bx_http_shared *sh; /* lim.shared, or own_sh */
    bx_http_shared *own_sh;
    bx_http_handler handler;
    void *ud;
    bx_queue conns; /* conn.node, newest first: the open ones */
    size_t nconns;  /* allocated, zombies included */
    bx_http_server_stats stats;
    int listener_open;
    int listening;
    int closing;
    void (*close_cb)(void *ud);
    void *close_ud;
    char rbuf[READ_BUF_SIZE];
};

static void conn_close(conn *c);
static void process_pending(conn *c);
static void read_start(conn *c);

/* ---- shared bounds and counters ---- */

bx_http_shared *bx_http_shared_new(void)
{
    bx_http_shared *sh = calloc(1, sizeof(*sh));
    if (!sh) return NULL;
    atomic_init(&sh->open, 0);
    atomic_init(&sh->body_bytes, 0);
    atomic_init(&sh->rejected, 0);
    atomic_init(&sh->head_timeouts, 0);
    atomic_init(&sh->body_timeouts, 0);
    atomic_init(&sh->idle_timeouts, 0);
    atomic_init(&sh->budget_rejected, 0);
    atomic_init(&sh->refused_unlogged, 0);
    atomic_init(&sh->log_ms, 0);
    return sh;
}

void bx_http_shared_free(bx_http_shared *sh)
{
    free(sh);
}

void bx_http_shared_get_stats(const bx_http_shared *sh, bx_http_shared_stats *out)
{
    bx_http_shared *m = (bx_http_shared *)sh; /* atomic loads want a non-const pointer in C17 */
    out->open = atomic_load_explicit(&m->open, memory_order_relaxed);
    out->body_bytes = atomic_load_explicit(&m->body_bytes, memory_order_relaxed);
    out->rejected = atomic_load_explicit(&m->rejected, memory_order_relaxed);
    out->head_timeouts = atomic_load_explicit(&m->head_timeouts, memory_order_relaxed);
    out->body_timeouts = atomic_load_explicit(&m->body_timeouts, memory_order_relaxed);
    out->idle_timeouts = atomic_load_explicit(&m->idle_timeouts, memory_order_relaxed);
    out->budget_rejected = atomic_load_explicit(&m->budget_rejected, memory_order_relaxed);
}

static void count_event(atomic_uint_fast64_t *shared, uint64_t *mine)
{
    atomic_fetch_add_explicit(shared, 1, memory_order_relaxed);
    (*mine)++;
}

size_t bx_http_default_max_connections(unsigned fds_per_conn)
{
    struct rlimit rl;
    size_t nofile = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        nofile = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > ((rlim_t)1 << 20)
                     ? ((size_t)1 << 20)
                     : (size_t)rl.rlim_cur;
    size_t n = (nofile > FD_RESERVE ? nofile - FD_RESERVE : 0) / (fds_per_conn ? fds_per_conn : 1);
    return n < 16 ? 16 : n;
}

/* A connection refused (over the cap, or accept failed): one log line a
 * second at most, over every server sharing sh. */
static void note_refused(bx_http_server *srv, int accept_err)
{
    bx_http_shared *sh = srv->sh;
    atomic_fetch_add_explicit(&sh->refused_unlogged, 1, memory_order_relaxed);
    uint64_t now = uv_now(srv->loop) + 1;
    uint64_t last = atomic_load_explicit(&sh->log_ms, memory_order_relaxed);
    if (last && now - last < 1000) return;
    if (!atomic_compare_exchange_strong(&sh->log_ms, &last, now)) return;
    unsigned long long k = atomic_exchange(&sh->refused_unlogged, 0);
    if (accept_err)
        bx_warn("http: accept failed (%s), %llu connection(s) refused since the last report",
                uv_strerror(accept_err), k);
    else
        bx_warn("http: connection cap %zu reached, %llu refused since the last report",
                srv->lim.max_connections, k);
}

/* ---- server lifetime ---- */

static void srv_maybe_done(bx_http_server *srv)
{
    if (!srv->closing || srv->listener_open || srv->nconns > 0) return;
    void (*cb)(void *) = srv->close_cb;
    void *ud = srv->close_ud;
    bx_http_shared_free(srv->own_sh);
    free(srv);
    if (cb) cb(ud);
}

/* Gives the request's body bytes back to the budget. */
static void body_release(conn *c)
{
    atomic_fetch_sub_explicit(&c->srv->sh->body_bytes, c->body_charged, memory_order_relaxed);
    c->body_charged = 0;
}

/* The parser's body hook: charges a body over BX_HTTP_BODY_UNCHARGED to the
 * budget; a chunked body that grows is charged in doubling steps, as its
 * buffer grows. */
static int on_body_need(size_t need, void *ud)
{
    conn *c = ud;
    bx_http_server *srv = c->srv;
    if (need <= c->body_charged) return 0;
    size_t want = c->body_charged * 2;
    if (want < need || want > srv->lim.max_body_bytes) want = need;
    for (;;) {
        size_t add = want - c->body_charged;
        size_t was = atomic_fetch_add_explicit(&srv->sh->body_bytes, add, memory_order_relaxed);
        if (was + add <= srv->lim.body_budget_bytes) {
            c->body_charged = want;
            return 0;
        }
        atomic_fetch_sub_explicit(&srv->sh->body_bytes, add, memory_order_relaxed);
        if (want == need) break;
        want = need;
    }
    count_event(&srv->sh->budget_rejected, &srv->stats.budget_rejected);
    return -1;
}

/* Counts a connection out of the open ones (once, at close). */
static void conn_uncount(conn *c)
{
    c->srv->stats.open--;
    atomic_fetch_sub_explicit(&c->srv->sh->open, 1, memory_order_relaxed);
}

static void conn_free(conn *c)
{
    bx_http_server *srv = c->srv;
    bx_http_reqparser_free(c->parser);
    bx_buf_free(&c->in);
    bx_buf_free(&c->obuf);
    bx_buf_free(&c->wbuf);
    bx_buf_free(&c->head);
    bx_buf_free(&c->res.hdrs);
    free(c);
    srv->nconns--;
    srv_maybe_done(srv);
}

/* Both handles are closed: the connection is gone. */
static void conn_final(conn *c)
{
    if (c->res_active) {
        if (c->res.abort_cb) {
            bx_http_abort_cb cb = c->res.abort_cb;
            c->res_active = 0;
            c->res.state = RES_NONE;
            c->srv->stats.aborted++;
            cb(&c->res, c->res.abort_ud);
        } else {
            c->srv->stats.aborted++;
            c->zombie = 1; /* freed when the handler finishes the response */
            return;
        }
    }
    conn_free(c);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    conn *c = h->data;
    if (--c->handles_open == 0) conn_final(c);
}

static void conn_unlink(conn *c)
{
    bx_queue_remove(&c->node);
}

static void conn_close(conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    conn_unlink(c);
    conn_uncount(c);
    /* given back now, not when the memory goes: after bx_http_server_close
     * returns, nothing touches the shared object (it may be freed) */
    if (c->body_charged) body_release(c);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

/* ---- output ---- */

static void on_write(uv_write_t *wr, int status);

static void start_write(conn *c)
{
    bx_buf t = c->wbuf;
    c->wbuf = c->obuf;
    c->obuf = t;
    bx_buf_reset(&c->obuf);
    uv_buf_t b = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
    int r = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (r < 0) {
        bx_buf_reset(&c->wbuf);
        conn_close(c);
        return;
    }
    c->writing = 1;
}

static void on_shutdown(uv_shutdown_t *sr, int status)
{
    conn *c = sr->data;
    if (c->closing) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
}

static void on_timer(uv_timer_t *t);

static void timer_start(conn *c, uint64_t ms)
{
    c->timer_due = uv_now(c->srv->loop) + ms;
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* The loop time by which the current phase must end. */
static uint64_t conn_deadline(const conn *c)
{
    const bx_http_limits *l = &c->srv->lim;
    switch (c->phase) {
    case PH_HEAD:
        return c->phase_start + l->head_timeout_ms;
    case PH_BODY: {
        size_t got = 0;
        bx_http_reqparser_progress(c->parser, &got);
        return c->phase_start + l->body_timeout_ms + (uint64_t)got * 1000 / l->body_min_rate;
    }
    default: /* idle; before the first request, no longer than a head may take */
        return c->phase_start + (c->fresh && l->head_timeout_ms < l->idle_timeout_ms
                                     ? l->head_timeout_ms
                                     : l->idle_timeout_ms);
    }
}

/* Makes sure the timer fires by the current phase's deadline (earlier is
 * fine: on_timer then waits the rest). */
static void conn_arm(conn *c)
{
    uint64_t dl = conn_deadline(c);
    if (uv_is_active((uv_handle_t *)&c->timer) && c->timer_due <= dl) return;
    uint64_t now = uv_now(c->srv->loop);
    timer_start(c, dl > now ? dl - now : 0);
}

/* Response done and flushed on a connection that must close: send FIN, then
 * read and drop input until EOF or LINGER_MS. */
static void maybe_linger(conn *c)
{
    if (c->closing || c->lingering || !c->close_after || c->res_active || c->writing ||
        c->obuf.len > 0)
        return;
    c->lingering = 1;
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        conn_close(c);
        return;
    }
    timer_start(c, LINGER_MS);
    read_start(c);
}

static void on_write(uv_write_t *wr, int status)
{
    conn *c = wr->data;
    c->writing = 0;
    bx_buf_reset(&c->wbuf);
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->closing) return;
    if (c->obuf.len > 0) {
        start_write(c);
        return;
    }
    if (c->wbuf.cap > OUT_KEEP) bx_buf_free(&c->wbuf);
    if (c->obuf.cap > OUT_KEEP) bx_buf_free(&c->obuf);
    maybe_linger(c);
}

/* Writes bufs: at once if nothing is queued, else (and for what the kernel
 * does not take) through obuf. The bufs may be on the caller's stack. */
static int conn_write(conn *c, const uv_buf_t *bufs, unsigned n)
{
    if (c->closing) return BX_HTTP_ECLOSED;
    size_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += bufs[i].len;
    if (total == 0) return 0;
    size_t skip = 0;
    if (!c->writing && c->obuf.len == 0) {
        int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
        if (r >= 0) {
            skip = (size_t)r;
            if (skip == total) return 0;
        } else if (r != UV_EAGAIN) {
            conn_close(c);
            return BX_HTTP_ECLOSED;
        }
    }
    if (bx_buf_reserve(&c->obuf, total - skip) != 0) {
        conn_close(c);
        return BX_HTTP_ENOMEM;
    }
    for (unsigned i = 0; i < n; i++) {
        if (skip >= bufs[i].len) {
            skip -= bufs[i].len;
            continue;
        }
        bx_buf_append(&c->obuf, bufs[i].base + skip, bufs[i].len - skip);
        skip = 0;
    }
    if (!c->writing) start_write(c);
    return c->closing ? BX_HTTP_ECLOSED : 0;
}

static const char *reason(int status)
{
    const char *s = http_status_str((enum http_status)status);
    return (s && s[0] != '<') ? s : "Status";
}

/* Answers a request the parser refused or a deadline cut short, then
 * closes (once the answer is out, or the idle time is up). */
static void send_error(conn *c, int status)
{
    char msg[320];
    const char *why = reason(status);
    const char *more = "";
    if (status == 503) {
        why = "request bodies being received fill the server's buffer; retry later";
        more = "Retry-After: " RETRY_AFTER_S "\r\n";
    }
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "%sConnection: close\r\n\r\n%s\n",
                     status, reason(status), strlen(why) + 1, more, why);
    c->close_after = 1;
    c->phase = PH_IDLE;
    c->phase_start = uv_now(c->srv->loop);
    uv_buf_t b = uv_buf_init(msg, (unsigned)n);
    if (conn_write(c, &b, 1) == 0) maybe_linger(c);
    if (!c->closing && !c->lingering) conn_arm(c);
}

/* ---- input ---- */

static int on_request(const bx_http_req *req, void *ud)
{
    conn *c = ud;
    bx_http_server *srv = c->srv;
    c->req = *req;
    c->res_active = 1;
    c->res.c = c;
    c->res.abort_cb = NULL;
    c->res.abort_ud = NULL;
    c->res.state = RES_PENDING;
    c->res.chunked = 0;
    c->res.head = strcmp(req->method, "HEAD") == 0;
    bx_buf_reset(&c->res.hdrs);
    if (!req->keep_alive) c->close_after = 1;
    srv->stats.requests++;
    srv->handler(&c->req, &c->res, srv->ud);
    return 1; /* pause: the req lives in the parser until the response ends */
}

/* Frees the store a large body grew, once nothing can still read the last
 * request's strings: res_done runs inside bx_http_res_send/_end, and the
 * handler may go on reading its req after them (the gateway logs the path,
 * a strategy reads a header), so the trim waits for the next feed or the
 * connection's timer (armed at once by res_done). */
static void trim_store(conn *c)
{
    if (!c->trim) return;
    c->trim = 0;
    bx_http_reqparser_trim(c->parser);
}

/* Feeds data to the parser while no response is in progress; returns how
 * many bytes were used (all of them when the rest is to be dropped). */
static size_t feed(conn *c, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len && !c->res_active && !c->close_after && !c->closing) {
        size_t used = 0;
        int status = 0;
        trim_store(c);
        c->in_feed = 1;
        int r = bx_http_reqparser_feed(c->parser, data + off, len - off, &used, &status);
        c->in_feed = 0;
        off += used;
        if (r != 0) {
            if (!c->closing) send_error(c, status ? status : 400);
            return len;
        }
        if (!c->res_active && !c->closing && bx_http_reqparser_take_continue(c->parser)) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            uv_buf_t b = uv_buf_init((char *)cont, sizeof(cont) - 1);
            conn_write(c, &b, 1);
        }
        if (used == 0) break;
    }
    if (!c->res_active) trim_store(c); /* an answer sent from the handler: it has returned */
    if (c->close_after || c->closing) return len;
    return off;
}

/* After feeding with no response in progress: follows the parser into a
 * request's head or body (a new phase, a new deadline). Nothing to do for a
 * request that came whole. */
static void track_phase(conn *c)
{
    if (c->res_active || c->close_after || c->closing) return;
    enum conn_phase ph = (enum conn_phase)bx_http_reqparser_progress(c->parser, NULL);
    if (ph == c->phase) return;
    if (ph != PH_HEAD || !c->fresh) c->phase_start = uv_now(c->srv->loop);
    c->phase = ph;
    conn_arm(c);
}

static int keep_pending(conn *c, const char *data, size_t len)
{
    if (len == 0) return 0;
    if (c->in_off > 0 && c->in_off == c->in.len) {
        bx_buf_reset(&c->in);
        c->in_off = 0;
    }
    if (bx_buf_append(&c->in, data, len) != 0) return -1;
    return 0;
}

static size_t pending_len(const conn *c)
{
    return c->in.len - c->in_off;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn *c = h->data;
    if (pending_len(c) == 0 || c->lingering) {
        *buf = uv_buf_init(c->srv->rbuf, READ_BUF_SIZE);
        return;
    }
    if (c->in_off > 0) {
        memmove(c->in.data, c->in.data + c->in_off, pending_len(c));
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    if (bx_buf_reserve(&c->in, IN_READ_CHUNK) != 0) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init(c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len - 1));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = s->data;
    if (nread < 0) {
        conn_close(c); /* EOF or error: a response in progress is aborted */
        return;
    }
    if (nread == 0 || c->closing) return;
    if (c->lingering || c->close_after) return; /* input after the last request */
    size_t n = (size_t)nread;
    if (buf->base == c->srv->rbuf) {
        size_t used = c->res_active ? 0 : feed(c, buf->base, n);
        if (!c->closing && keep_pending(c, buf->base + used, n - used) != 0) {
            conn_close(c);
            return;
        }
    } else {
        c->in.len += n;
        c->in.data[c->in.len] = '\0';
        if (!c->res_active) {
            size_t used = feed(c, c->in.data + c->in_off, pending_len(c));
            c->in_off += used;
        }
    }
    if (c->closing) return;
    track_phase(c);
    if (pending_len(c) == 0) {
        bx_buf_reset(&c->in);
        c->in_off = 0;
        if (c->in.cap > IN_PENDING_MAX * 2) bx_buf_free(&c->in);
    } else if (c->res_active && pending_len(c) >= IN_PENDING_MAX && c->reading) {
        uv_read_stop(s);
        c->reading = 0;
    }
}

static void read_start(conn *c)
{
    if (c->reading || c->closing) return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        conn_close(c);
        return;
    }
    c->reading = 1;
}

/* The current phase's deadline passed. */
static void conn_expire(conn *c)
{
    bx_http_server *srv = c->srv;
    switch (c->phase) {
    case PH_HEAD:
        count_event(&srv->sh->head_timeouts, &srv->stats.head_timeouts);
        send_error(c, 408);
        break;
    case PH_BODY:
        count_event(&srv->sh->body_timeouts, &srv->stats.body_timeouts);
        send_error(c, 408);
        break;
    default: /* idle, or an error answer not flushed in the idle time */
        if (!c->close_after) count_event(&srv->sh->idle_timeouts, &srv->stats.idle_timeouts);
        conn_close(c);
        break;
    }
}

static void on_timer(uv_timer_t *t)
{
    conn *c = t->data;
    if (c->closing) return;
    if (c->lingering) {
        conn_close(c);
        return;
    }
    if (!c->res_active) trim_store(c);
    if (!c->res_active && pending_len(c) > 0) {
        process_pending(c);
        if (c->closing) return;
    }
    /* a response in progress: no deadline (res_done arms the timer again) */
    if (c->res_active || c->lingering) return;
    uint64_t now = uv_now(c->srv->loop);
    uint64_t dl = conn_deadline(c);
    if (now < dl) {
        timer_start(c, dl - now);
        return;
    }
    conn_expire(c);
}

/* Parses pipelined bytes left behind by the response that just ended. */
static void process_pending(conn *c)
{
    size_t used = feed(c, c->in.data + c->in_off, pending_len(c));
    c->in_off += used;
    if (c->closing) return;
    track_phase(c);
    if (pending_len(c) == 0) {
        bx_buf_reset(&c->in);
        c->in_off = 0;
    }
    read_start(c);
}

/* The handler finished (or gave up) the response. */
static void res_done(conn *c)
{
    c->res_active = 0;
    c->res.state = RES_NONE;
    if (c->zombie) {
        conn_free(c);
        return;
    }
    if (c->body_charged) { /* a large body: its budget goes now, its buffer soon */
        body_release(c);
        c->trim = 1;
    }
    if (c->closing) return;
    c->phase = PH_IDLE;
    c->phase_start = uv_now(c->srv->loop);
    c->fresh = 0;
    if (c->close_after) {
        maybe_linger(c);
        if (!c->closing && !c->lingering) conn_arm(c);
        return;
    }
    /* Pipelined input is parsed from the loop, not from inside the caller
     * (nor here when the feed loop goes on with the next request).
     * Otherwise the timer stays if it fires by the idle deadline: when it
     * fires it measures from phase_start and waits the rest (no timer
     * restart per response). */
    if ((pending_len(c) > 0 || c->trim) && !c->in_feed) {
        timer_start(c, 0);
    } else {
        conn_arm(c);
        if (c->in_feed) return;
    }
    read_start(c);
}

static void on_rejected_closed(uv_handle_t *h)
{
    free(h);
}

/* Over the cap: accepted (out of the backlog) and closed at once. */
static void conn_reject(bx_http_server *srv, uv_stream_t *ls)
{
    uv_tcp_t *t = malloc(sizeof(*t));
    if (t && uv_tcp_init(srv->loop, t) == 0) {
        uv_accept(ls, (uv_stream_t *)t);
        uv_close((uv_handle_t *)t, on_rejected_closed);
    } else {
        free(t);
    }
    count_event(&srv->sh->rejected, &srv->stats.rejected);
    note_refused(srv, 0);
}

static void on_connection(uv_stream_t *ls, int status)
{
    bx_http_server *srv = ls->data;
    if (status < 0) { /* e.g. out of descriptors: libuv accepted and closed one */
        count_event(&srv->sh->rejected, &srv->stats.rejected);
        note_refused(srv, status);
        return;
    }
    if (atomic_fetch_add_explicit(&srv->sh->open, 1, memory_order_relaxed) >=
        srv->lim.max_connections) {
        atomic_fetch_sub_explicit(&srv->sh->open, 1, memory_order_relaxed);
        conn_reject(srv, ls);
        return;
    }
    conn *c = calloc(1, sizeof(*c));
    if (!c) {
        atomic_fetch_sub_explicit(&srv->sh->open, 1, memory_order_relaxed);
        bx_warn("http: out of memory accepting a connection");
        return;
    }
    c->srv = srv;
    srv->nconns++;
    srv->stats.accepted++;
    srv->stats.open++;
    bx_queue_insert_head(&srv->conns, &c->node);
    bx_buf_init(&c->in);
    bx_buf_init(&c->obuf);
    bx_buf_init(&c->wbuf);
    bx_buf_init(&c->head);
    bx_buf_init(&c->res.hdrs);
    c->tcp.data = c;
    c->timer.data = c;
    c->wreq.data = c;
    c->sreq.data = c;
    if (uv_tcp_init(srv->loop, &c->tcp) < 0) {
        conn_unlink(c);
        conn_uncount(c);
        conn_free(c);
        return;
    }
    c->handles_open = 1;
    if (uv_timer_init(srv->loop, &c->timer) < 0) {
        c->closing = 1;
        conn_unlink(c);
        conn_uncount(c);
        uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
        return;
    }
    c->handles_open = 2;
    c->parser = bx_http_reqparser_new(&srv->lim, on_request, c);
    if (!c->parser || uv_accept(ls, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    bx_http_reqparser_set_body_hook(c->parser, on_body_need, c);
    uv_tcp_nodelay(&c->tcp, 1);
    c->phase = PH_IDLE;
    c->phase_start = uv_now(srv->loop);
    c->fresh = 1;
    conn_arm(c);
    read_start(c);
}

/* ---- public server API ---- */

int bx_http_server_init(bx_http_server **out, uv_loop_t *loop, const bx_http_limits *lim,
                        bx_http_handler handler, void *ud)
{
    *out = NULL;
    bx_http_server *srv = calloc(1, sizeof(*srv));
    if (!srv) return BX_HTTP_ENOMEM;
    bx_queue_init(&srv->conns);
    srv->loop = loop;
    bx_http_limits def;
    bx_http_limits_default(&def);
    srv->lim = lim ? *lim : def;
    bx_http_limits *l = &srv->lim;
    if (!l->idle_timeout_ms) l->idle_timeout_ms = def.idle_timeout_ms;
    if (!l->head_timeout_ms) l->head_timeout_ms = def.head_timeout_ms;
    if (!l->body_timeout_ms) l->body_timeout_ms = def.body_timeout_ms;
    if (!l->body_min_rate) l->body_min_rate = def.body_min_rate;
    if (!l->body_budget_bytes) l->body_budget_bytes = def.body_budget_bytes;
    if (!l->max_connections) l->max_connections = bx_http_default_max_connections(1);
    srv->sh = l->shared;
    if (!srv->sh) {
        srv->sh = srv->own_sh = bx_http_shared_new();
        if (!srv->sh) {
            free(srv);
            return BX_HTTP_ENOMEM;
        }
    }
    srv->handler = handler;
    srv->ud = ud;
    *out = srv;
    return 0;
}

int bx_http_server_listen(bx_http_server *srv, const char *host, int port, int reuseport)
{
    if (srv->listener_open || srv->closing) return UV_EBUSY;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    int family;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) == 0)
        family = AF_INET;
    else if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) == 0)
        family = AF_INET6;
    else
        return UV_EINVAL;
    int r = uv_tcp_init_ex(srv->loop, &srv->listener, (unsigned)family);
    if (r < 0) return r;
    srv->listener_open = 1;
    srv->listener.data = srv;
    if (reuseport) {
#ifdef SO_REUSEPORT
        uv_os_fd_t fd;
        int one = 1;
        r = uv_fileno((uv_handle_t *)&srv->listener, &fd);
        if (r < 0) return r;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
            return uv_translate_sys_error(errno);
#else
        return UV_ENOTSUP;
#endif
    }
    r = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&ss, 0);
    if (r < 0) return r;
    r = uv_listen((uv_stream_t *)&srv->listener, LISTEN_BACKLOG, on_connection);
    if (r < 0) return r;
    srv->listening = 1;
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    r = uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &blen);
    if (r < 0) return r;
    if (bound.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&bound)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
}

int bx_http_server_listen_shared(bx_http_server *srv, const bx_http_server *listening)
{
    if (srv->listener_open || srv->closing || !listening->listening) return UV_EBUSY;
    uv_os_fd_t fd;
    int r = uv_fileno((const uv_handle_t *)&listening->listener, &fd);
    if (r < 0) return r;
    int dfd = dup(fd);
    if (dfd < 0) return uv_translate_sys_error(errno);
    r = uv_tcp_init(srv->loop, &srv->listener);
    if (r < 0) {
        close(dfd);
        return r;
    }
    srv->listener_open = 1;
    srv->listener.data = srv;
    r = uv_tcp_open(&srv->listener, dfd); /* the handle owns dfd from here */
    if (r < 0) {
        close(dfd);
        return r;
    }
    r = uv_listen((uv_stream_t *)&srv->listener, LISTEN_BACKLOG, on_connection);
    if (r < 0) return r;
    srv->listening = 1;
    return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
    bx_http_server *srv = h->data;
    srv->listener_open = 0;
    srv_maybe_done(srv);
}

void bx_http_server_close(bx_http_server *srv, void (*cb)(void *ud), void *ud)
{
    if (!srv || srv->closing) return;
    srv->closing = 1;
    srv->close_cb = cb;
    srv->close_ud = ud;
    if (srv->listener_open) uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    bx_queue *q;
    while ((q = bx_queue_head(&srv->conns)))
        conn_close(bx_container_of(q, conn, node));
    srv_maybe_done(srv);
}

/* ---- responses ---- */

bx_http_req *bx_http_res_req(bx_http_res *res)
{
    return &res->c->req;
}

void bx_http_res_set_abort(bx_http_res *res, bx_http_abort_cb cb, void *ud)
{
    res->abort_cb = cb;
    res->abort_ud = ud;
}

static int bad_header_text(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

int bx_http_res_header(bx_http_res *res, const char *name, const char *value)
{
    if (res->state != RES_PENDING) return BX_HTTP_ESTATE;
    if (!name[0] || bad_header_text(name) || bad_header_text(value) || strchr(name, ':'))
        return BX_HTTP_EPARSE;
    bx_buf *h = &res->hdrs;
    size_t nl = strlen(name), vl = strlen(value);
    if (bx_buf_reserve(h, nl + vl + 4) != 0) return BX_HTTP_ENOMEM;
    bx_buf_append(h, name, nl);
    bx_buf_append(h, ": ", 2);
    bx_buf_append(h, value, vl);
    bx_buf_append(h, "\r\n", 2);
    return 0;
}

static int no_body_status(int status)
{
    return status < 200 || status == 204 || status == 304;
}

/* Formats the status line and headers into c->head. */
static int build_head(conn *c, int status, const char *ctype, int chunked, size_t clen,
                      int with_len)
{
    bx_buf *h = &c->head;
    bx_buf_reset(h);
    if (c->head.cap > OUT_KEEP) bx_buf_free(h);
    /* appends, not printf: this runs once per response */
    if (status < 100 || status > 999) status = 500;
    int r = bx_buf_append(h, "HTTP/1.1 ", 9);
    r |= bx_buf_append_u64(h, (uint64_t)status);
    r |= bx_buf_append(h, " ", 1);
    r |= bx_buf_appends(h, reason(status));
    r |= bx_buf_append(h, "\r\n", 2);
    if (ctype && ctype[0] && !bad_header_text(ctype)) {
        r |= bx_buf_append(h, "Content-Type: ", 14);
        r |= bx_buf_appends(h, ctype);
        r |= bx_buf_append(h, "\r\n", 2);
    }
    if (!no_body_status(status)) {
        if (chunked) {
            r |= bx_buf_appends(h, "Transfer-Encoding: chunked\r\n");
        } else if (with_len) {
            r |= bx_buf_append(h, "Content-Length: ", 16);
            r |= bx_buf_append_u64(h, (uint64_t)clen);
            r |= bx_buf_append(h, "\r\n", 2);
        }
    }
    if (c->close_after)
        r |= bx_buf_appends(h, "Connection: close\r\n");
    else if (c->req.http_minor == 0)
        r |= bx_buf_appends(h, "Connection: keep-alive\r\n");
    r |= bx_buf_append(h, c->res.hdrs.data ? c->res.hdrs.data : "", c->res.hdrs.len);
    r |= bx_buf_append(h, "\r\n", 2);
    return r ? BX_HTTP_ENOMEM : 0;
}

int bx_http_res_send(bx_http_res *res, int status, const char *content_type, const char *body,
                     size_t len)
{
    conn *c = res->c;
    if (res->state != RES_PENDING) return BX_HTTP_ESTATE;
    int r = BX_HTTP_ECLOSED;
    if (!c->closing && !c->zombie) {
        if (no_body_status(status)) len = 0;
        r = build_head(c, status, content_type, 0, len, 1);
        if (r == 0) {
            uv_buf_t b[2];
            b[0] = uv_buf_init(c->head.data, (unsigned)c->head.len);
            b[1] = uv_buf_init((char *)body, (unsigned)len);
            r = conn_write(c, b, (res->head || len == 0) ? 1 : 2);
        } else {
            conn_close(c);
        }
    }
    res_done(c);
    return r;
}

int bx_http_res_start(bx_http_res *res, int status, const char *content_type)
{
    conn *c = res->c;
    if (res->state != RES_PENDING) return BX_HTTP_ESTATE;
    res->state = RES_STREAMING;
    if (c->closing || c->zombie) return BX_HTTP_ECLOSED;
    res->chunked = c->req.http_minor >= 1 && !no_body_status(status);
    if (!res->chunked) c->close_after = 1; /* HTTP/1.0: the body ends at close */
    int r = build_head(c, status, content_type, res->chunked, 0, 0);
    if (r != 0) {
        conn_close(c);
        return r;
    }
    uv_buf_t b = uv_buf_init(c->head.data, (unsigned)c->head.len);
    return conn_write(c, &b, 1);
}

int bx_http_res_write(bx_http_res *res, const char *data, size_t len)
{
    conn *c = res->c;
    if (res->state != RES_STREAMING) return BX_HTTP_ESTATE;
    if (c->closing || c->zombie) return BX_HTTP_ECLOSED;
    if (len == 0 || res->head) return 0;
    if (!res->chunked) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        return conn_write(c, &b, 1);
    }
    char size[24];
    int n = snprintf(size, sizeof(size), "%zx\r\n", len);
    uv_buf_t b[3];
    b[0] = uv_buf_init(size, (unsigned)n);
    b[1] = uv_buf_init((char *)data, (unsigned)len);
    b[2] = uv_buf_init((char *)"\r\n", 2);
    return conn_write(c, b, 3);
}

int bx_http_res_end(bx_http_res *res)
{
    conn *c = res->c;
    if (res->state != RES_STREAMING) return BX_HTTP_ESTATE;
    int r = 0;
    if (c->closing || c->zombie) {
        r = BX_HTTP_ECLOSED;
    } else if (res->chunked && !res->head) {
        uv_buf_t b = uv_buf_init((char *)"0\r\n\r\n", 5);
        r = conn_write(c, &b, 1);
    }
    res_done(c);
    return r;
}

size_t bx_http_res_queued(const bx_http_res *res)
{
    const conn *c = res->c;
    return c->obuf.len + c->wbuf.len;
}

void bx_http_server_get_shared_stats(const bx_http_server *srv, bx_http_shared_stats *out)
{
    bx_http_shared_get_stats(srv->sh, out);
}

void bx_http_server_get_stats(const bx_http_server *srv, bx_http_server_stats *out)
{
    *out = srv->stats;
}
