/* bx_http: HTTP/1.1 server and client on libuv and http-parser (whole
 * plain messages take bx_http_fast's one-pass reader; see bx_http_fast.h).
 *
 * Protocol apart from I/O (as hiredis does it): bx_http_reqparser is a
 * resumable, pure parser fed bytes by whoever owns the socket; the server and
 * client only move bytes. Limits on header bytes, header count and body size
 * are enforced by the parser, so a peer can never make us buffer without
 * bound.
 *
 * Server: keep-alive, pipelined requests answered in order (one at a time),
 * request bodies with Content-Length or chunked, responses either whole
 * (Content-Length) or streamed as chunked transfer encoding (used for SSE).
 * Malformed requests get 400, oversized headers 431, oversized bodies 413,
 * a head or body past its deadline 408, a body the process-wide budget
 * cannot take 503 with Retry-After, and the connection is closed after
 * those. Connections over the cap are closed at once (bx_http_limits).
 *
 * Client: pooled keep-alive connections per host:port, streamed response
 * bodies (de-chunked) through callbacks, per-request timeouts.
 *
 * Ownership: every struct named here as "opaque" is allocated and freed by
 * this module. A bx_http_req and its strings stay valid until the response to
 * it is finished (bx_http_res_send / bx_http_res_end) or aborted, and, after
 * a finish, until the code that called it returns to the loop (the gateway
 * logs and accounts a request right after answering it). */
#ifndef BX_HTTP_H
#define BX_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/bx_buf.h"

/* Error codes (negative). */
#define BX_HTTP_EPARSE (-1)    /* malformed HTTP */
#define BX_HTTP_ETOOBIG (-2)   /* a limit was exceeded */
#define BX_HTTP_ECONNECT (-3)  /* could not connect */
#define BX_HTTP_ECLOSED (-4)   /* peer closed the connection early */
#define BX_HTTP_ETIMEOUT (-5)  /* request or idle timeout */
#define BX_HTTP_ECANCELED (-6) /* cancelled by the caller */
#define BX_HTTP_ENOMEM (-7)
#define BX_HTTP_ESTATE (-8) /* call not allowed in the current state */
#define BX_HTTP_EIO (-9)

const char *bx_http_strerror(int err);

typedef struct bx_http_header {
    const char *name; /* NUL-terminated */
    const char *value;
} bx_http_header;

typedef struct bx_http_shared bx_http_shared; /* opaque: see below */

/* Every field: 0 = its default. Servers that share one bx_http_shared
 * should be given the same max_connections and body_budget_bytes. */
typedef struct bx_http_limits {
    size_t max_header_bytes; /* request line + all headers; default 16 KiB */
    unsigned max_headers;    /* default 64 */
    size_t max_body_bytes;   /* one request's body; default 8 MiB (413 beyond) */
    /* Read deadlines (server), one per phase of a request, none while a
     * response is in progress (the handler owns that time):
     * - idle: between requests, from the end of the last response (or from
     *   accept, then at most head_timeout_ms) to the first byte of the next
     *   one; the connection is closed without an answer. Default 60 s.
     * - head: the whole request head; the first request's counts from
     *   accept, a kept-alive one's from its first byte; 408 and close.
     *   Default 10 s.
     * - body: the whole body, from the end of the head, extended by 1 s for
     *   every body_min_rate bytes received (so a body arriving at that rate
     *   or faster never expires); 408 and close. Default 60 s and 16 KiB/s.
     * Bytes that arrive do not move a deadline (a client trickling a byte
     * at a time gets no more time than one that sends nothing). */
    uint64_t idle_timeout_ms;
    uint64_t head_timeout_ms;
    uint64_t body_timeout_ms;
    size_t body_min_rate; /* bytes per second */
    /* Most connections open at once over the servers sharing `shared`;
     * past it a new connection is accepted and closed at once, counted
     * (rejected) and logged at most once a second. Default:
     * bx_http_default_max_connections(1). */
    size_t max_connections;
    /* Most bytes of request bodies buffered at once over the servers
     * sharing `shared` (default 256 MiB). A body over 64 KiB
     * (BX_HTTP_BODY_UNCHARGED) is charged its Content-Length at the head
     * (chunked: as it grows, in doubling steps) and given back when its
     * response ends or its connection goes; a request that does not fit
     * gets 503 with Retry-After and the connection is closed. Smaller
     * bodies are not charged: like the read buffers they are bounded by
     * the connection cap. */
    size_t body_budget_bytes;
    /* Process-wide counters and the two bounds above, shared by several
     * servers (a gateway's workers, each on its own thread). Owned by the
     * caller; must outlive every server using it, up to the return of its
     * bx_http_server_close. NULL = the server makes one of its own. */
    bx_http_shared *shared;
} bx_http_limits;

#define BX_HTTP_BODY_UNCHARGED (64 * 1024)

void bx_http_limits_default(bx_http_limits *lim);

/* The default connection cap: (the soft RLIMIT_NOFILE - 64 kept for other
 * descriptors) / fds_per_conn, at least 16. A proxy passes 2 (a client
 * socket and an upstream one per request). */
size_t bx_http_default_max_connections(unsigned fds_per_conn);

/* A parsed request. Strings are NUL-terminated; body may contain NULs and is
 * also NUL-terminated (body[body_len] == 0). */
typedef struct bx_http_req {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* URL path without the query, e.g. "/v1/models" */
    const char *query;  /* after '?', or "" */
    const bx_http_header *headers;
    size_t nheaders;
    const char *body;
    size_t body_len;
    int keep_alive;
    int http_minor; /* 0 or 1 */
} bx_http_req;

/* Case-insensitive header lookup; NULL when absent. */
const char *bx_http_req_header(const bx_http_req *req, const char *name);

/* ---- pure request parser (no I/O; fuzzed directly) ---- */

typedef struct bx_http_reqparser bx_http_reqparser; /* opaque */

/* Called once per complete request. Return 0 to continue parsing the rest of
 * the buffer, non-zero to pause (the remaining bytes are reported through
 * *consumed of bx_http_reqparser_feed and must be fed again later). The req
 * and its strings live in the parser: valid during the callback and, when it
 * pauses, until the next bx_http_reqparser_feed or _free. */
typedef int (*bx_http_req_cb)(const bx_http_req *req, void *ud);

bx_http_reqparser *bx_http_reqparser_new(const bx_http_limits *lim, bx_http_req_cb cb, void *ud);
void bx_http_reqparser_free(bx_http_reqparser *p);
/* Feeds bytes. Returns 0, or BX_HTTP_EPARSE / BX_HTTP_ETOOBIG (then the
 * parser is dead; *status_out says which HTTP status to answer: 400/413/431).
 * *consumed says how many bytes were used (less than len only when paused). */
int bx_http_reqparser_feed(bx_http_reqparser *p, const char *data, size_t len, size_t *consumed,
                           int *status_out);
/* Returns 1 once per request when its headers carried "Expect: 100-continue"
 * and its body has not arrived yet (the owner then sends "100 Continue"). */
int bx_http_reqparser_take_continue(bx_http_reqparser *p);
/* Where the parser is: 0 between requests (nothing but blank lines since
 * the last one), 1 inside a request's head, 2 inside its body; *body_bytes
 * (may be NULL) gets the body bytes received so far. */
int bx_http_reqparser_progress(const bx_http_reqparser *p, size_t *body_bytes);
/* Called when the body of the request being parsed will need more than
 * BX_HTTP_BODY_UNCHARGED bytes: need is its Content-Length, or (chunked) the
 * bytes so far plus the chunk starting, so a request may ask again with a
 * larger need. Non-zero refuses: the parser dies with BX_HTTP_ETOOBIG and
 * status 503. */
typedef int (*bx_http_body_cb)(size_t need, void *ud);
void bx_http_reqparser_set_body_hook(bx_http_reqparser *p, bx_http_body_cb cb, void *ud);
/* Between requests: gives back a store grown by a large body (the last
 * request's strings must no longer be used). */
void bx_http_reqparser_trim(bx_http_reqparser *p);

/* ---- server ---- */

typedef struct bx_http_server bx_http_server; /* opaque */
typedef struct bx_http_res bx_http_res;       /* opaque: one response in progress */

/* Called for each request. The handler must eventually finish the response
 * with bx_http_res_send or bx_http_res_start/write/end, now or later from the
 * same loop, unless the abort callback fires first. */
typedef void (*bx_http_handler)(bx_http_req *req, bx_http_res *res, void *ud);
/* The peer went away before the response finished. After this returns the
 * res and its req are freed: do not touch them again. */
typedef void (*bx_http_abort_cb)(bx_http_res *res, void *ud);

int bx_http_server_init(bx_http_server **out, uv_loop_t *loop, const bx_http_limits *lim,
                        bx_http_handler handler, void *ud);
/* Binds and listens. port 0 picks a free port; returns the bound port (>0)
 * or a negative libuv error. reuseport sets SO_REUSEPORT (one loop per core). */
int bx_http_server_listen(bx_http_server *srv, const char *host, int port, int reuseport);
/* Also accepts on another server's listening socket (a dup of it; srv's
 * loop may be on another thread): the loops share one accept queue, and a
 * busy loop takes fewer connections. Returns 0 or a negative libuv error. */
int bx_http_server_listen_shared(bx_http_server *srv, const bx_http_server *listening);
/* Stops listening, closes every connection (aborting responses in progress)
 * and frees the server; cb (may be NULL) runs when all handles are closed. */
void bx_http_server_close(bx_http_server *srv, void (*cb)(void *ud), void *ud);

/* Counters for metrics and tests; read on the server's own thread. */
typedef struct bx_http_server_stats {
    uint64_t accepted;        /* connections accepted since init */
    uint64_t requests;        /* requests handed to the handler */
    uint64_t aborted;         /* responses aborted because the peer went away */
    size_t open;              /* connections open now */
    uint64_t rejected;        /* connections closed at once: over the cap */
    uint64_t head_timeouts;   /* 408: request head not in within head_timeout_ms */
    uint64_t body_timeouts;   /* 408: body not in within its deadline */
    uint64_t idle_timeouts;   /* closed idle between requests */
    uint64_t budget_rejected; /* 503: body over what is left of the budget */
} bx_http_server_stats;

void bx_http_server_get_stats(const bx_http_server *srv, bx_http_server_stats *out);

/* ---- what several servers share (one process, any threads) ---- */

/* Open connections and buffered body bytes (the two bounds of
 * bx_http_limits) and the sums of the counters above, kept with atomics:
 * read from any thread. */
typedef struct bx_http_shared_stats {
    size_t open;       /* connections open now */
    size_t body_bytes; /* body bytes charged to the budget now */
    uint64_t rejected, head_timeouts, body_timeouts, idle_timeouts, budget_rejected;
} bx_http_shared_stats;

bx_http_shared *bx_http_shared_new(void);
/* Only once no server uses it any more. */
void bx_http_shared_free(bx_http_shared *sh);
void bx_http_shared_get_stats(const bx_http_shared *sh, bx_http_shared_stats *out);
/* The shared counters of srv: those of the bx_http_shared it was given, or
 * of its own when it was given none (then they are srv's alone). */
void bx_http_server_get_shared_stats(const bx_http_server *srv, bx_http_shared_stats *out);
/* The families every brix server exposes about its clients, named
 * <prefix>_connections_open, _connections_rejected_total,
 * _request_timeouts_total{phase=header|body}, _body_buffer_bytes and
 * _body_budget_rejected_total (bx_http_prom.c). 0, or -1 when the buffer
 * could not grow. */
int bx_http_stats_prom(bx_buf *b, const char *prefix, const bx_http_shared_stats *st);

bx_http_req *bx_http_res_req(bx_http_res *res);
void bx_http_res_set_abort(bx_http_res *res, bx_http_abort_cb cb, void *ud);
/* Adds a response header; only before send/start. Copies name and value. */
int bx_http_res_header(bx_http_res *res, const char *name, const char *value);
/* Sends a whole response with Content-Length. body is copied. The res is
 * finished and freed on return (even on error). */
int bx_http_res_send(bx_http_res *res, int status, const char *content_type, const char *body,
                     size_t len);
/* Starts a chunked response (Transfer-Encoding: chunked). */
int bx_http_res_start(bx_http_res *res, int status, const char *content_type);
/* Writes one chunk (copied). len 0 is ignored. */
int bx_http_res_write(bx_http_res *res, const char *data, size_t len);
/* Writes the last chunk; the res is finished and freed on return. */
int bx_http_res_end(bx_http_res *res);
/* Bytes queued on the socket but not yet written (for backpressure). */
size_t bx_http_res_queued(const bx_http_res *res);

/* ---- client ---- */

typedef struct bx_http_client bx_http_client; /* opaque */
typedef struct bx_http_creq bx_http_creq;     /* opaque: one request in flight */

typedef struct bx_http_client_opts {
    unsigned max_idle_per_host;  /* pooled idle keep-alive connections; default 64 */
    uint64_t connect_timeout_ms; /* default 5000 */
    size_t max_header_bytes;     /* response headers; default 64 KiB */
} bx_http_client_opts;

typedef struct bx_http_client_req {
    const char *method; /* "GET", "POST" */
    const char *host;   /* IPv4/IPv6 literal or name (resolved with uv_getaddrinfo) */
    int port;
    const char *path; /* with query */
    const bx_http_header *headers;
    size_t nheaders;
    const char *body; /* copied; may be NULL */
    size_t body_len;
    uint64_t timeout_ms;            /* whole request; 0 = none */
    uint64_t first_byte_timeout_ms; /* until the response's headers; 0 = none */
    uint64_t idle_timeout_ms;       /* longest gap between body bytes after them; 0 = none */
} bx_http_client_req;

typedef struct bx_http_client_cbs {
    /* Status line and headers arrived. */
    void (*on_response)(bx_http_creq *cr, int status, const bx_http_header *headers,
                        size_t nheaders, void *ud);
    /* A piece of the (de-chunked) body. */
    void (*on_data)(bx_http_creq *cr, const char *data, size_t len, void *ud);
    /* Always called exactly once, last; err is 0 or a BX_HTTP_E* code. The
     * creq is freed, or reused for a later request, after this returns:
     * drop every pointer to it here. */
    void (*on_done)(bx_http_creq *cr, int err, void *ud);
} bx_http_client_cbs;

int bx_http_client_init(bx_http_client **out, uv_loop_t *loop, const bx_http_client_opts *opts);
/* Starts a request; callbacks run later from the loop, never from inside
 * this call. Returns 0 or a negative code (then no callback runs). */
int bx_http_client_request(bx_http_client *c, const bx_http_client_req *r,
                           const bx_http_client_cbs *cbs, void *ud, bx_http_creq **out);
/* Aborts a request in flight: its connection is closed, on_done gets
 * BX_HTTP_ECANCELED (from the loop, later). */
void bx_http_client_cancel(bx_http_creq *cr);
/* Cancels everything and frees the client once its handles are closed. */
void bx_http_client_close(bx_http_client *c);

#endif
