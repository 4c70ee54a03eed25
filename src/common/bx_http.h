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
 * and the connection is closed after those.
 *
 * Client: pooled keep-alive connections per host:port, streamed response
 * bodies (de-chunked) through callbacks, per-request timeouts.
 *
 * Ownership: every struct named here as "opaque" is allocated and freed by
 * this module. A bx_http_req and its strings stay valid until the response to
 * it is finished (bx_http_res_send / bx_http_res_end) or aborted. */
#ifndef BX_HTTP_H
#define BX_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

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

typedef struct bx_http_limits {
    size_t max_header_bytes;  /* request line + all headers; default 16 KiB */
    unsigned max_headers;     /* default 64 */
    size_t max_body_bytes;    /* default 8 MiB */
    uint64_t idle_timeout_ms; /* keep-alive idle close; 0 = default 60 s */
} bx_http_limits;

void bx_http_limits_default(bx_http_limits *lim);

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

/* Counters for metrics and tests. */
typedef struct bx_http_server_stats {
    uint64_t accepted; /* connections accepted since init */
    uint64_t requests; /* requests handed to the handler */
    uint64_t aborted;  /* responses aborted because the peer went away */
    size_t open;       /* connections open now */
} bx_http_server_stats;

void bx_http_server_get_stats(const bx_http_server *srv, bx_http_server_stats *out);

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
