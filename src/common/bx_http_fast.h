/* bx_http_fast: a one-pass reader for the plain shape of an HTTP/1.x
 * message that is wholly in one buffer: a request or response line, simple
 * headers and a Content-Length body. http-parser's byte-at-a-time state
 * machine was a quarter of the gateway's own instructions per proxied
 * request (6.4k of 23.6k, callgrind; nginx's whole request costs 19k), and
 * nearly every request and answer the gateway sees has this shape.
 *
 * It answers BX_HTTP_FAST_OK only for messages that http-parser accepts
 * with the same method, URL, status, headers, body and keep-alive, and
 * BX_HTTP_FAST_UNSURE for everything else: incomplete bytes, chunked or
 * EOF-delimited bodies, Transfer-Encoding, Upgrade, Expect, Connection
 * tokens other than a lone close or keep-alive, obs-fold, bytes outside a
 * conservative set, heads over the caller's limits. The caller then feeds
 * the same bytes to http-parser, which has the last word, so there is no
 * second notion of valid HTTP: fuzz/fuzz_http_fast.c checks that OK implies
 * http-parser's acceptance and the same message.
 *
 * Ownership: spans point into the caller's buffer. Pure; no allocation. */
#ifndef BX_HTTP_FAST_H
#define BX_HTTP_FAST_H

#include <stddef.h>

typedef enum bx_http_fast_rc { BX_HTTP_FAST_OK = 0, BX_HTTP_FAST_UNSURE = 1 } bx_http_fast_rc;

typedef struct bx_http_fast_header {
    const char *name; /* not NUL-terminated */
    size_t name_len;
    const char *value; /* without surrounding spaces and tabs */
    size_t value_len;
} bx_http_fast_header;

typedef struct bx_http_fast_msg {
    const char *method; /* requests: http-parser's name for it ("GET", ...) */
    const char *url;    /* requests: origin-form, starts with '/' */
    size_t url_len;
    int status; /* responses: 100..999 */
    int http_minor;
    int keep_alive; /* http_should_keep_alive's answer */
    size_t nheaders;
    const char *body;
    size_t body_len;
    size_t head_len; /* bytes up to and including the blank line */
    size_t total;    /* head_len + body_len: bytes the message used */
} bx_http_fast_msg;

typedef struct bx_http_fast_limits {
    size_t max_header_bytes; /* as bx_http_reqparser counts them; over = UNSURE */
    size_t max_headers;      /* and the capacity of the caller's array */
    size_t max_body_bytes;   /* over = UNSURE */
} bx_http_fast_limits;

/* A request at the start of buf (len bytes), with its whole body. */
bx_http_fast_rc bx_http_fast_request(const char *buf, size_t len, const bx_http_fast_limits *lim,
                                     bx_http_fast_header *hdrs, bx_http_fast_msg *out);

/* A response at the start of buf with a Content-Length body, all of it
 * there. 1xx, 204 and 304 are UNSURE; so is any answer to HEAD, which the
 * caller must not pass here. */
bx_http_fast_rc bx_http_fast_response(const char *buf, size_t len, const bx_http_fast_limits *lim,
                                      bx_http_fast_header *hdrs, bx_http_fast_msg *out);

#endif
