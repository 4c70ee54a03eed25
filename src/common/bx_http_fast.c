/* bx_http_fast: see bx_http_fast.h. Each rule below is the narrower of
 * RFC 9112 and http-parser 2.9 (non-strict, as Debian builds it):
 * - request line: one of seven methods, one space, a URL of RFC 3986
 *   path and query characters starting with '/', one space, HTTP/1.0 or
 *   HTTP/1.1, CRLF;
 * - status line: HTTP/1.x, three digits, then a space and a printable
 *   reason, or CRLF at once;
 * - header: a name of letters, digits, '-' and '_', ':' at once, a value
 *   of printable ASCII and tabs, CRLF; no line folding;
 * - Content-Length: digits only (at most 15), at most once;
 * - Connection: exactly "close" or "keep-alive" (any case).
 * Bytes are counted against the limits exactly as bx_http_reqparser (for
 * requests) and bx_http_client (for responses) count them. */
#include "common/bx_http_fast.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#define FAST_MAX_HEAD (80 * 1024) /* http-parser's HTTP_MAX_HEADER_SIZE */
#define FAST_REQUEST_LINE_OVERHEAD 16
#define FAST_HEADER_LINE_OVERHEAD 4

typedef unsigned char uchar;

/* Byte classes, one table lookup per byte:
 * - FAST_URL: RFC 3986 unreserved, sub-delims, ':', '@', '/', '%' and '?',
 *   every one a plain URL byte to http-parser;
 * - FAST_NAME: a header name byte (letters, digits, '-', '_');
 * - FAST_VAL: a header value byte (printable ASCII or tab). */
enum { FAST_URL = 1, FAST_NAME = 2, FAST_VAL = 4 };
#define FAST_ALNUM(c)                                                                              \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= '0' && (c) <= '9'))
#define FAST_URL_SYM(c)                                                                            \
    ((c) == '-' || (c) == '.' || (c) == '_' || (c) == '~' || (c) == '!' || (c) == '$' ||           \
     (c) == '&' || (c) == '\'' || (c) == '(' || (c) == ')' || (c) == '*' || (c) == '+' ||          \
     (c) == ',' || (c) == ';' || (c) == '=' || (c) == ':' || (c) == '@' || (c) == '/' ||           \
     (c) == '%' || (c) == '?')
#define FAST_CLS(c)                                                                                \
    ((FAST_ALNUM(c) || FAST_URL_SYM(c) ? FAST_URL : 0) |                                           \
     (FAST_ALNUM(c) || (c) == '-' || (c) == '_' ? FAST_NAME : 0) |                                 \
     (((c) >= 0x20 && (c) < 0x7f) || (c) == '\t' ? FAST_VAL : 0))
#define FAST_R4(b) FAST_CLS(b), FAST_CLS(b + 1), FAST_CLS(b + 2), FAST_CLS(b + 3)
#define FAST_R16(b) FAST_R4(b), FAST_R4(b + 4), FAST_R4(b + 8), FAST_R4(b + 12)
#define FAST_R64(b) FAST_R16(b), FAST_R16(b + 16), FAST_R16(b + 32), FAST_R16(b + 48)
static const uchar fast_cls[256] = {FAST_R64(0), FAST_R64(64), FAST_R64(128), FAST_R64(192)};

static int fast_value_byte(uchar c)
{
    return fast_cls[c] & FAST_VAL;
}

/* 1 when every byte of [p, e) is a value byte: eight at a time while none
 * is below 0x20 or above 0x7e, then (a tab, or the tail) one at a time. */
static int fast_values_ok(const uchar *p, const uchar *e)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (e - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        uint64_t below = (x - ones * 0x20) & ~x & highs; /* some byte < 0x20 */
        uint64_t above = ((x + ones) | x) & highs;       /* some byte > 0x7e */
        if (below | above) break;
        p += 8;
    }
    for (; p < e; p++)
        if (!fast_value_byte(*p)) return 0;
    return 1;
}

static int fast_is(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && ((unsigned char)s[0] | 0x20) == (unsigned char)lit[0] &&
           strncasecmp(s, lit, n) == 0;
}

/* The first l bytes of the header name s are lit (lower case) in any case.
 * Exact for name bytes: | 0x20 lowers a letter and leaves digits and '-'
 * alone, and turns '_' into 0x7f, which no literal holds. */
static int fast_name_starts(const uchar *s, const char *lit, size_t l)
{
    for (size_t i = 0; i < l; i++)
        if ((s[i] | 0x20) != (uchar)lit[i]) return 0;
    return 1;
}

enum { FAST_H_PLAIN, FAST_H_CLEN, FAST_H_CONN, FAST_H_UNSURE };

/* What the header name s (n name bytes) is to http-parser: Content-Length,
 * Connection, a name it treats specially (Transfer-Encoding, Upgrade,
 * Expect, Proxy-Connection) or one that starts like any of these six and
 * goes on (2.9 sets some flags on the prefix alone: UNSURE), or plain. */
static int fast_name_kind(const uchar *s, size_t n)
{
    const char *lit;
    size_t l;
    switch (s[0] | 0x20) {
    case 'c':
        if (n >= 14 && fast_name_starts(s, "content-length", 14))
            return n == 14 ? FAST_H_CLEN : FAST_H_UNSURE;
        if (n >= 10 && fast_name_starts(s, "connection", 10))
            return n == 10 ? FAST_H_CONN : FAST_H_UNSURE;
        return FAST_H_PLAIN;
    case 't':
        lit = "transfer-encoding", l = 17;
        break;
    case 'u':
        lit = "upgrade", l = 7;
        break;
    case 'e':
        lit = "expect", l = 6;
        break;
    case 'p':
        lit = "proxy-connection", l = 16;
        break;
    default:
        return FAST_H_PLAIN;
    }
    return n >= l && fast_name_starts(s, lit, l) ? FAST_H_UNSURE : FAST_H_PLAIN;
}

/* The headers from p to the blank line; *after is past it. *counted grows
 * by each header's name + value (untrimmed, as http-parser hands it) +
 * overhead. */
static bx_http_fast_rc fast_headers(const uchar *p, const uchar *end,
                                    const bx_http_fast_limits *lim, bx_http_fast_header *hdrs,
                                    bx_http_fast_msg *out, size_t *counted, int *have_len,
                                    size_t *clen, const uchar **after)
{
    size_t n = 0;
    int conn = 0; /* 1 close, 2 keep-alive */
    *have_len = 0;
    for (;;) {
        if (end - p < 2) return BX_HTTP_FAST_UNSURE;
        if (p[0] == '\r' && p[1] == '\n') {
            p += 2;
            break;
        }
        const uchar *name = p;
        while (p < end && (fast_cls[*p] & FAST_NAME))
            p++;
        if (p == name || p >= end || *p != ':') return BX_HTTP_FAST_UNSURE;
        size_t nl = (size_t)(p - name);
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const uchar *val = p;
        p = memchr(val, '\r', (size_t)(end - val));
        if (!p || !fast_values_ok(val, p)) return BX_HTTP_FAST_UNSURE;
        if (end - p < 3 || p[1] != '\n') return BX_HTTP_FAST_UNSURE;
        if (p[2] == ' ' || p[2] == '\t') return BX_HTTP_FAST_UNSURE; /* obs-fold */
        size_t raw = (size_t)(p - val);
        const uchar *ve = p;
        while (ve > val && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t vl = (size_t)(ve - val);
        p += 2;
        if (n == lim->max_headers) return BX_HTTP_FAST_UNSURE;
        *counted += nl + raw + FAST_HEADER_LINE_OVERHEAD;
        const char *ns = (const char *)name, *vs = (const char *)val;
        int kind = fast_name_kind(name, nl);
        if (kind == FAST_H_CLEN) {
            if (*have_len || raw == 0 || raw > 15) return BX_HTTP_FAST_UNSURE;
            size_t v = 0;
            for (size_t i = 0; i < raw; i++) {
                if (val[i] < '0' || val[i] > '9') return BX_HTTP_FAST_UNSURE;
                v = v * 10 + (size_t)(val[i] - '0');
            }
            *have_len = 1;
            *clen = v;
        } else if (kind == FAST_H_CONN) {
            if (conn || raw != vl) return BX_HTTP_FAST_UNSURE;
            if (fast_is(vs, vl, "close"))
                conn = 1;
            else if (fast_is(vs, vl, "keep-alive"))
                conn = 2;
            else
                return BX_HTTP_FAST_UNSURE;
        } else if (kind == FAST_H_UNSURE) {
            return BX_HTTP_FAST_UNSURE;
        }
        hdrs[n++] = (bx_http_fast_header){ns, nl, vs, vl};
    }
    out->nheaders = n;
    out->keep_alive = out->http_minor == 1 ? conn != 1 : conn == 2;
    *after = p;
    return BX_HTTP_FAST_OK;
}

/* "HTTP/1.0" or "HTTP/1.1" at p: the minor version, else -1. */
static int fast_version(const uchar *p, const uchar *end)
{
    if (end - p < 8 || memcmp(p, "HTTP/1.", 7) != 0) return -1;
    return p[7] == '0' ? 0 : p[7] == '1' ? 1 : -1;
}

/* The body after the head: all of it must be there. */
static bx_http_fast_rc fast_body(const char *buf, size_t len, const uchar *after, size_t clen,
                                 const bx_http_fast_limits *lim, bx_http_fast_msg *out)
{
    size_t head = (size_t)((const char *)after - buf);
    if (head > FAST_MAX_HEAD || clen > lim->max_body_bytes || clen > len - head)
        return BX_HTTP_FAST_UNSURE;
    out->head_len = head;
    out->body = buf + head;
    out->body_len = clen;
    out->total = head + clen;
    return BX_HTTP_FAST_OK;
}

bx_http_fast_rc bx_http_fast_request(const char *buf, size_t len, const bx_http_fast_limits *lim,
                                     bx_http_fast_header *hdrs, bx_http_fast_msg *out)
{
    static const char *const methods[] = {"GET",  "POST",    "PUT",  "DELETE",
                                          "HEAD", "OPTIONS", "PATCH"};
    memset(out, 0, sizeof(*out));
    const uchar *p = (const uchar *)buf, *end = p + len;
    const char *method = NULL;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        size_t ml = strlen(methods[i]);
        if (len > ml && memcmp(buf, methods[i], ml) == 0 && buf[ml] == ' ') {
            method = methods[i];
            p += ml + 1;
            break;
        }
    }
    if (!method || p >= end || *p != '/') return BX_HTTP_FAST_UNSURE;
    const uchar *url = p;
    while (p < end && (fast_cls[*p] & FAST_URL))
        p++;
    if (p >= end || *p != ' ') return BX_HTTP_FAST_UNSURE;
    size_t ul = (size_t)(p - url);
    p++;
    int minor = fast_version(p, end);
    if (minor < 0) return BX_HTTP_FAST_UNSURE;
    p += 8;
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return BX_HTTP_FAST_UNSURE;
    p += 2;
    out->method = method;
    out->url = (const char *)url;
    out->url_len = ul;
    out->http_minor = minor;
    size_t counted = FAST_REQUEST_LINE_OVERHEAD + ul, clen = 0;
    int have_len;
    const uchar *after;
    if (fast_headers(p, end, lim, hdrs, out, &counted, &have_len, &clen, &after) != 0)
        return BX_HTTP_FAST_UNSURE;
    if (counted > lim->max_header_bytes) return BX_HTTP_FAST_UNSURE;
    return fast_body(buf, len, after, have_len ? clen : 0, lim, out);
}

bx_http_fast_rc bx_http_fast_response(const char *buf, size_t len, const bx_http_fast_limits *lim,
                                      bx_http_fast_header *hdrs, bx_http_fast_msg *out)
{
    memset(out, 0, sizeof(*out));
    const uchar *p = (const uchar *)buf, *end = p + len;
    int minor = fast_version(p, end);
    if (minor < 0) return BX_HTTP_FAST_UNSURE;
    p += 8;
    if (end - p < 6 || p[0] != ' ') return BX_HTTP_FAST_UNSURE;
    p++;
    int status = 0;
    for (int i = 0; i < 3; i++, p++) {
        if (*p < '0' || *p > '9') return BX_HTTP_FAST_UNSURE;
        status = status * 10 + (*p - '0');
    }
    if (status < 200 || status == 204 || status == 304) return BX_HTTP_FAST_UNSURE;
    if (*p == ' ') {
        p++;
        while (p < end && fast_value_byte(*p))
            p++;
    }
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return BX_HTTP_FAST_UNSURE;
    p += 2;
    out->status = status;
    out->http_minor = minor;
    size_t counted = 0, clen = 0;
    int have_len;
    const uchar *after;
    if (fast_headers(p, end, lim, hdrs, out, &counted, &have_len, &clen, &after) != 0)
        return BX_HTTP_FAST_UNSURE;
    if (!have_len || counted > lim->max_header_bytes) return BX_HTTP_FAST_UNSURE;
    return fast_body(buf, len, after, clen, lim, out);
}
