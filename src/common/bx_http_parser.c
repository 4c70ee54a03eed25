/* bx_http_parser: the resumable HTTP/1.x request parser of bx_http.h, on
 * http-parser. Pure: no I/O, no clock; fed byte pieces split anywhere.
 *
 * Every string of the request being parsed (URL, header names and values,
 * body) is appended to one growable store owned by the parser, each string
 * followed by a NUL. While parsing, headers are kept as offsets into the
 * store (it may move when it grows); pointers are built once the request is
 * complete. The store and the header arrays are reused from request to
 * request, so a keep-alive connection allocates nothing in steady state; a
 * store grown past STORE_KEEP by a large body is released at the next
 * request.
 *
 * Limits: header bytes and header count are checked as the bytes arrive
 * (431), the body size at the headers when Content-Length is known, at each
 * chunk header when chunked (413). Anything else http-parser rejects is 400.
 * A body over BX_HTTP_BODY_UNCHARGED is also put to the owner's body hook
 * at the same points (the server's process-wide budget; 503 when refused).
 */
#include "common/bx_http.h"

#include "common/bx_buf.h"
#include "common/bx_http_fast.h"

#include <http_parser.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STORE_KEEP (64 * 1024)
#define HEADER_LINE_OVERHEAD 4 /* ": " and CRLF */
#define REQUEST_LINE_OVERHEAD 16
#define BX_HTTP_FAST_HEADERS 64 /* more: http-parser reads the request */

enum last_cb { LAST_NONE, LAST_URL, LAST_FIELD, LAST_VALUE };

struct hdr_off {
    size_t name;
    size_t value;
};

struct bx_http_reqparser {
    http_parser hp;
    bx_http_limits lim;
    bx_http_req_cb cb;
    void *ud;
    bx_http_body_cb body_cb; /* NULL: bodies are not put to the owner */
    void *body_ud;

    bx_buf store;
    size_t url_off;
    struct hdr_off *hoff;
    bx_http_header *hdrs;
    unsigned nhdr;
    unsigned hcap;
    enum last_cb last;
    size_t header_bytes;
    size_t body_off;
    size_t body_len;
    int in_body;
    int headers_done; /* later header callbacks are chunked trailers: dropped */
    int in_msg;       /* http-parser is inside a message: no fast path */
    bx_http_req req;

    int err;    /* BX_HTTP_E* once dead */
    int status; /* HTTP status to answer once dead */
    int dead;
    int upgraded;          /* Upgrade/CONNECT seen: the rest is not HTTP */
    int continue_pending;  /* Expect: 100-continue, body not yet complete */
    int continue_reported; /* take_continue already said yes for this request */
};

void bx_http_limits_default(bx_http_limits *lim)
{
    lim->max_header_bytes = 16 * 1024;
    lim->max_headers = 64;
    lim->max_body_bytes = 8 * 1024 * 1024;
    lim->idle_timeout_ms = 60000;
    lim->head_timeout_ms = 10000;
    lim->body_timeout_ms = 60000;
    lim->body_min_rate = 16 * 1024;
    lim->max_connections = 0; /* the server derives it from the fd limit */
    lim->body_budget_bytes = (size_t)256 << 20;
    lim->shared = NULL;
}

const char *bx_http_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case BX_HTTP_EPARSE:
        return "malformed HTTP";
    case BX_HTTP_ETOOBIG:
        return "HTTP limit exceeded";
    case BX_HTTP_ECONNECT:
        return "could not connect";
    case BX_HTTP_ECLOSED:
        return "connection closed by peer";
    case BX_HTTP_ETIMEOUT:
        return "timed out";
    case BX_HTTP_ECANCELED:
        return "cancelled";
    case BX_HTTP_ENOMEM:
        return "out of memory";
    case BX_HTTP_ESTATE:
        return "call not allowed in this state";
    case BX_HTTP_EIO:
        return "I/O error";
    default:
        return "unknown error";
    }
}

const char *bx_http_req_header(const bx_http_req *req, const char *name)
{
    unsigned first = (unsigned char)name[0] | 0x20; /* a cheap first-letter filter */
    for (size_t i = 0; i < req->nheaders; i++)
        if (((unsigned char)req->headers[i].name[0] | 0x20) == first &&
            strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

static bx_http_reqparser *parser_of(http_parser *hp)
{
    return (bx_http_reqparser *)hp->data;
}

static int fail(bx_http_reqparser *p, int err, int status)
{
    if (!p->err) {
        p->err = err;
        p->status = status;
    }
    return -1;
}

static int store_nul(bx_http_reqparser *p)
{
    return bx_buf_append(&p->store, "", 1) == 0 ? 0 : fail(p, BX_HTTP_ENOMEM, 500);
}

static int store_add(bx_http_reqparser *p, const char *at, size_t len)
{
    return bx_buf_append(&p->store, at, len) == 0 ? 0 : fail(p, BX_HTTP_ENOMEM, 500);
}

/* Drops the optional whitespace http-parser leaves at the end of a value. */
static void trim_value(bx_http_reqparser *p)
{
    if (p->last != LAST_VALUE) return;
    size_t start = p->hoff[p->nhdr - 1].value;
    while (p->store.len > start &&
           (p->store.data[p->store.len - 1] == ' ' || p->store.data[p->store.len - 1] == '\t'))
        p->store.len--;
}

/* Counts header bytes against the limit. */
static int count_header(bx_http_reqparser *p, size_t n)
{
    p->header_bytes += n;
    if (p->header_bytes > p->lim.max_header_bytes) return fail(p, BX_HTTP_ETOOBIG, 431);
    return 0;
}

static int on_message_begin(http_parser *hp)
{
    bx_http_reqparser *p = parser_of(hp);
    p->in_msg = 1;
    if (p->store.cap > STORE_KEEP) bx_buf_free(&p->store);
    bx_buf_reset(&p->store);
    p->url_off = 0;
    p->nhdr = 0;
    p->last = LAST_NONE;
    p->header_bytes = REQUEST_LINE_OVERHEAD;
    p->body_off = 0;
    p->body_len = 0;
    p->in_body = 0;
    p->headers_done = 0;
    p->continue_pending = 0;
    p->continue_reported = 0;
    return 0;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
    bx_http_reqparser *p = parser_of(hp);
    if (count_header(p, len)) return -1;
    p->last = LAST_URL;
    return store_add(p, at, len);
}

static int grow_headers(bx_http_reqparser *p)
{
    unsigned cap = p->hcap ? p->hcap * 2 : 16;
    if (cap > p->lim.max_headers) cap = p->lim.max_headers;
    struct hdr_off *ho = realloc(p->hoff, cap * sizeof(*ho));
    if (!ho) return fail(p, BX_HTTP_ENOMEM, 500);
    p->hoff = ho;
    bx_http_header *h = realloc(p->hdrs, cap * sizeof(*h));
    if (!h) return fail(p, BX_HTTP_ENOMEM, 500);
    p->hdrs = h;
    p->hcap = cap;
    return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
    bx_http_reqparser *p = parser_of(hp);
    if (count_header(p, len)) return -1;
    if (p->headers_done) return 0;
    if (p->last != LAST_FIELD) {
        /* A new header: ends the URL or the previous value. */
        if (p->nhdr >= p->lim.max_headers) return fail(p, BX_HTTP_ETOOBIG, 431);
        if (p->nhdr >= p->hcap && grow_headers(p)) return -1;
        if (count_header(p, HEADER_LINE_OVERHEAD)) return -1;
        trim_value(p);
        if (store_nul(p)) return -1;
        p->hoff[p->nhdr].name = p->store.len;
        p->hoff[p->nhdr].value = 0;
        p->nhdr++;
        p->last = LAST_FIELD;
    }
    return store_add(p, at, len);
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
    bx_http_reqparser *p = parser_of(hp);
    if (count_header(p, len)) return -1;
    if (p->headers_done) return 0;
    if (p->last != LAST_VALUE) {
        if (p->last != LAST_FIELD) return fail(p, BX_HTTP_EPARSE, 400);
        if (store_nul(p)) return -1;
        p->hoff[p->nhdr - 1].value = p->store.len;
        p->last = LAST_VALUE;
    }
    return store_add(p, at, len);
}

/* Splits the URL (in place in the store) into path and query. Accepts
 * origin-form ("/a?b"), absolute-form ("http://h/a?b") and "*". */
static int split_url(bx_http_reqparser *p)
{
    char *url = p->store.data + p->url_off;
    char *hash = strchr(url, '#');
    if (hash) *hash = '\0';
    char *path = url;
    if (url[0] != '/' && strcmp(url, "*") != 0) {
        char *sep = strstr(url, "://");
        if (!sep) return fail(p, BX_HTTP_EPARSE, 400);
        path = strchr(sep + 3, '/');
        if (!path) {
            /* "http://host" or "http://host?q": empty path means "/". */
            char *q = strchr(sep + 3, '?');
            p->req.path = "/";
            p->req.query = q ? q + 1 : "";
            return 0;
        }
    }
    char *q = strchr(path, '?');
    if (q) *q++ = '\0';
    p->req.path = path;
    p->req.query = q ? q : "";
    return 0;
}

/* A body of need bytes: over BX_HTTP_BODY_UNCHARGED, the owner's hook may
 * refuse it (503). */
static int body_refused(bx_http_reqparser *p, size_t need)
{
    if (need <= BX_HTTP_BODY_UNCHARGED || !p->body_cb || p->body_cb(need, p->body_ud) == 0)
        return 0;
    return fail(p, BX_HTTP_ETOOBIG, 503);
}

static int on_headers_complete(http_parser *hp)
{
    bx_http_reqparser *p = parser_of(hp);
    if (p->last == LAST_FIELD) {
        /* A name with no value callback: the value is empty. */
        if (store_nul(p)) return -1;
        p->hoff[p->nhdr - 1].value = p->store.len;
    }
    if (p->last == LAST_NONE) return fail(p, BX_HTTP_EPARSE, 400); /* no URL */
    trim_value(p);
    if (store_nul(p)) return -1;
    p->headers_done = 1;
    if (hp->http_major != 1) return fail(p, BX_HTTP_EPARSE, 400);
    if ((hp->flags & F_CONTENTLENGTH) && hp->content_length > p->lim.max_body_bytes)
        return fail(p, BX_HTTP_ETOOBIG, 413);
    if ((hp->flags & F_CONTENTLENGTH) && body_refused(p, (size_t)hp->content_length)) return -1;
    p->body_off = p->store.len;
    if ((hp->flags & F_CONTENTLENGTH) && hp->content_length > 0) {
        if (bx_buf_reserve(&p->store, (size_t)hp->content_length) != 0)
            return fail(p, BX_HTTP_ENOMEM, 500);
        p->in_body = 1;
    }
    if (hp->flags & F_CHUNKED) p->in_body = 1;
    if (p->in_body && hp->http_minor >= 1) {
        for (unsigned i = 0; i < p->nhdr; i++) {
            const char *n = p->store.data + p->hoff[i].name;
            const char *v = p->store.data + p->hoff[i].value;
            if (strcasecmp(n, "expect") == 0 && strcasecmp(v, "100-continue") == 0)
                p->continue_pending = 1;
        }
    }
    return 0;
}

static int on_chunk_header(http_parser *hp)
{
    bx_http_reqparser *p = parser_of(hp);
    if (hp->content_length > p->lim.max_body_bytes - p->body_len)
        return fail(p, BX_HTTP_ETOOBIG, 413);
    return body_refused(p, p->body_len + (size_t)hp->content_length);
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    bx_http_reqparser *p = parser_of(hp);
    if (len > p->lim.max_body_bytes - p->body_len) return fail(p, BX_HTTP_ETOOBIG, 413);
    p->body_len += len;
    return store_add(p, at, len);
}

/* Hands the request in the store to the callback: -1 on a bad URL, 1 when
 * the callback pauses, else 0. */
static int deliver(bx_http_reqparser *p, const char *method, int http_minor, int keep_alive)
{
    p->continue_pending = 0;
    p->in_body = 0;
    p->in_msg = 0;
    char *base = p->store.data;
    for (unsigned i = 0; i < p->nhdr; i++) {
        p->hdrs[i].name = base + p->hoff[i].name;
        p->hdrs[i].value = base + p->hoff[i].value;
    }
    bx_http_req *r = &p->req;
    if (split_url(p)) return -1;
    r->method = method;
    r->headers = p->hdrs;
    r->nheaders = p->nhdr;
    r->body = base + p->body_off;
    r->body_len = p->body_len;
    r->http_minor = http_minor >= 1 ? 1 : 0;
    r->keep_alive = keep_alive;
    return p->cb(r, p->ud) != 0;
}

static int on_message_complete(http_parser *hp)
{
    bx_http_reqparser *p = parser_of(hp);
    if (hp->upgrade) p->upgraded = 1;
    int r = deliver(p, http_method_str((enum http_method)hp->method), hp->http_minor,
                    http_should_keep_alive(hp) && !hp->upgrade);
    if (r < 0) return -1;
    if (r > 0) http_parser_pause(hp, 1);
    return 0;
}

/* A whole plain request read by bx_http_fast (same layout in the store as
 * the callbacks build): as deliver. */
static int fast_deliver(bx_http_reqparser *p, const bx_http_fast_msg *m,
                        const bx_http_fast_header *h)
{
    if (p->store.cap > STORE_KEEP) bx_buf_free(&p->store);
    bx_buf_reset(&p->store);
    p->headers_done = 1;
    p->continue_reported = 0;
    if (body_refused(p, m->body_len)) return -1;
    while (p->hcap < m->nheaders)
        if (grow_headers(p)) return -1;
    size_t need = m->url_len + m->body_len + 1;
    for (size_t i = 0; i < m->nheaders; i++)
        need += h[i].name_len + h[i].value_len + 2;
    if (bx_buf_reserve(&p->store, need) != 0) return fail(p, BX_HTTP_ENOMEM, 500);
    p->url_off = 0;
    bx_buf_append(&p->store, m->url, m->url_len);
    bx_buf_append(&p->store, "", 1);
    for (size_t i = 0; i < m->nheaders; i++) {
        p->hoff[i].name = p->store.len;
        bx_buf_append(&p->store, h[i].name, h[i].name_len);
        bx_buf_append(&p->store, "", 1);
        p->hoff[i].value = p->store.len;
        bx_buf_append(&p->store, h[i].value, h[i].value_len);
        bx_buf_append(&p->store, "", 1);
    }
    p->nhdr = (unsigned)m->nheaders;
    p->body_off = p->store.len;
    p->body_len = m->body_len;
    bx_buf_append(&p->store, m->body, m->body_len);
    return deliver(p, m->method, m->http_minor, m->keep_alive);
}

static const http_parser_settings req_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_header = on_chunk_header,
};

bx_http_reqparser *bx_http_reqparser_new(const bx_http_limits *lim, bx_http_req_cb cb, void *ud)
{
    bx_http_reqparser *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    if (lim)
        p->lim = *lim;
    else
        bx_http_limits_default(&p->lim);
    if (p->lim.max_headers == 0) p->lim.max_headers = 1;
    p->cb = cb;
    p->ud = ud;
    bx_buf_init(&p->store);
    http_parser_init(&p->hp, HTTP_REQUEST);
    p->hp.data = p;
    return p;
}

void bx_http_reqparser_free(bx_http_reqparser *p)
{
    if (!p) return;
    bx_buf_free(&p->store);
    free(p->hoff);
    free(p->hdrs);
    free(p);
}

int bx_http_reqparser_feed(bx_http_reqparser *p, const char *data, size_t len, size_t *consumed,
                           int *status_out)
{
    *consumed = 0;
    if (status_out) *status_out = 0;
    if (p->dead) {
        if (status_out) *status_out = p->status;
        return p->err;
    }
    if (p->upgraded) {
        *consumed = len; /* not HTTP any more: the owner closes after the response */
        return 0;
    }
    if (HTTP_PARSER_ERRNO(&p->hp) == HPE_PAUSED) http_parser_pause(&p->hp, 0);
    if (len == 0) return 0; /* http-parser reads len 0 as EOF */
    /* Whole plain keep-alive requests between messages skip http-parser
     * (a request that closes goes to http-parser, as does whatever follows
     * it, as before). */
    size_t off = 0;
    while (!p->in_msg && off < len) {
        bx_http_fast_header fh[BX_HTTP_FAST_HEADERS];
        bx_http_fast_msg m;
        bx_http_fast_limits fl = {p->lim.max_header_bytes,
                                  p->lim.max_headers < BX_HTTP_FAST_HEADERS ? p->lim.max_headers
                                                                            : BX_HTTP_FAST_HEADERS,
                                  p->lim.max_body_bytes};
        if (bx_http_fast_request(data + off, len - off, &fl, fh, &m) != BX_HTTP_FAST_OK ||
            !m.keep_alive)
            break;
        int r = fast_deliver(p, &m, fh);
        if (r < 0) {
            p->dead = 1;
            *consumed = off;
            if (status_out) *status_out = p->status;
            return p->err;
        }
        off += m.total;
        /* http-parser counts the CR/LF it skips between messages toward the
         * next head's 80 KiB and resets the count only at a head's end,
         * which it did not see: reset it here as it would have. */
        p->hp.nread = 0;
        if (r > 0) {
            *consumed = off;
            return 0;
        }
    }
    if (off == len) {
        *consumed = len;
        return 0;
    }
    size_t n = http_parser_execute(&p->hp, &req_settings, data + off, len - off);
    enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
    if (e == HPE_OK || e == HPE_PAUSED) {
        *consumed = p->upgraded ? len : off + n;
        if (e == HPE_OK && n != len - off && !p->upgraded) {
            n += off;
            goto bad;
        }
        return 0;
    }
    n += off;
bad:
    p->dead = 1;
    if (!p->err) {
        if (e == HPE_HEADER_OVERFLOW) {
            p->err = BX_HTTP_ETOOBIG;
            p->status = 431;
        } else {
            p->err = BX_HTTP_EPARSE;
            p->status = 400;
        }
    }
    *consumed = n;
    if (status_out) *status_out = p->status;
    return p->err;
}

int bx_http_reqparser_take_continue(bx_http_reqparser *p)
{
    if (!p->continue_pending || p->continue_reported || p->dead) return 0;
    p->continue_reported = 1;
    return 1;
}

int bx_http_reqparser_progress(const bx_http_reqparser *p, size_t *body_bytes)
{
    if (body_bytes) *body_bytes = p->in_msg ? p->body_len : 0;
    return !p->in_msg ? 0 : p->headers_done ? 2 : 1;
}

void bx_http_reqparser_set_body_hook(bx_http_reqparser *p, bx_http_body_cb cb, void *ud)
{
    p->body_cb = cb;
    p->body_ud = ud;
}

void bx_http_reqparser_trim(bx_http_reqparser *p)
{
    if (!p->in_msg && p->store.cap > STORE_KEEP) bx_buf_free(&p->store);
}
