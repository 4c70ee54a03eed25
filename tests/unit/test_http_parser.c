/* Tests for the pure HTTP request parser (bx_http_reqparser). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/bx_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXREQ 8

typedef struct seen {
    char method[16];
    char path[128];
    char query[128];
    char body[4096];
    size_t body_len;
    size_t nheaders;
    char host[64];
    char xcase[64];
    int keep_alive;
    int http_minor;
} seen;

typedef struct rec {
    seen reqs[MAXREQ];
    int n;
    int pause; /* callback return value */
    const bx_http_req *last;
} rec;

static int on_req(const bx_http_req *req, void *ud)
{
    rec *r = ud;
    assert_true(r->n < MAXREQ);
    seen *s = &r->reqs[r->n++];
    memset(s, 0, sizeof(*s));
    snprintf(s->method, sizeof(s->method), "%s", req->method);
    snprintf(s->path, sizeof(s->path), "%s", req->path);
    snprintf(s->query, sizeof(s->query), "%s", req->query);
    assert_true(req->body_len < sizeof(s->body));
    memcpy(s->body, req->body, req->body_len);
    assert_int_equal(req->body[req->body_len], '\0');
    s->body_len = req->body_len;
    s->nheaders = req->nheaders;
    const char *h = bx_http_req_header(req, "HOST");
    snprintf(s->host, sizeof(s->host), "%s", h ? h : "(none)");
    h = bx_http_req_header(req, "x-CaSe");
    snprintf(s->xcase, sizeof(s->xcase), "%s", h ? h : "(none)");
    s->keep_alive = req->keep_alive;
    s->http_minor = req->http_minor;
    r->last = req;
    return r->pause;
}

static const char PIPELINE[] = "GET /v1/models?a=1&b=2 HTTP/1.1\r\n"
                               "Host: example\r\n"
                               "X-Case: MiXeD\r\n"
                               "\r\n"
                               "POST /v1/completions HTTP/1.1\r\n"
                               "Host: h2\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: 11\r\n"
                               "\r\n"
                               "{\"a\":\"b\"}\r\n"
                               "POST /chunked HTTP/1.1\r\n"
                               "Host: h3\r\n"
                               "Transfer-Encoding: chunked\r\n"
                               "Connection: close\r\n"
                               "\r\n"
                               "5\r\nhello\r\n"
                               "7;ext=1\r\n, world\r\n"
                               "0\r\n"
                               "Trailer: x\r\n"
                               "\r\n";

static void check_pipeline(const rec *r)
{
    assert_int_equal(r->n, 3);
    assert_string_equal(r->reqs[0].method, "GET");
    assert_string_equal(r->reqs[0].path, "/v1/models");
    assert_string_equal(r->reqs[0].query, "a=1&b=2");
    assert_string_equal(r->reqs[0].host, "example");
    assert_string_equal(r->reqs[0].xcase, "MiXeD");
    assert_int_equal(r->reqs[0].nheaders, 2);
    assert_int_equal(r->reqs[0].body_len, 0);
    assert_int_equal(r->reqs[0].keep_alive, 1);
    assert_int_equal(r->reqs[0].http_minor, 1);

    assert_string_equal(r->reqs[1].method, "POST");
    assert_string_equal(r->reqs[1].path, "/v1/completions");
    assert_string_equal(r->reqs[1].query, "");
    assert_string_equal(r->reqs[1].host, "h2");
    assert_int_equal(r->reqs[1].body_len, 11);
    assert_memory_equal(r->reqs[1].body, "{\"a\":\"b\"}\r\n", 11);
    assert_int_equal(r->reqs[1].keep_alive, 1);

    assert_string_equal(r->reqs[2].path, "/chunked");
    assert_int_equal(r->reqs[2].body_len, 12);
    assert_memory_equal(r->reqs[2].body, "hello, world", 12);
    assert_int_equal(r->reqs[2].nheaders, 3); /* the trailer is dropped */
    assert_int_equal(r->reqs[2].keep_alive, 0);
}

static int feed_all(bx_http_reqparser *p, const char *d, size_t len)
{
    while (len > 0) {
        size_t used = 0;
        int st = 0;
        int rc = bx_http_reqparser_feed(p, d, len, &used, &st);
        if (rc != 0) return rc;
        assert_true(used <= len);
        d += used;
        len -= used;
    }
    return 0;
}

static void test_pipeline_whole(void **state)
{
    rec r = {0};
    bx_http_reqparser *p = bx_http_reqparser_new(NULL, on_req, &r);
    assert_non_null(p);
    size_t used = 0;
    int st = -1;
    assert_int_equal(bx_http_reqparser_feed(p, PIPELINE, sizeof(PIPELINE) - 1, &used, &st), 0);
    assert_int_equal(used, sizeof(PIPELINE) - 1);
    assert_int_equal(st, 0);
    check_pipeline(&r);
    bx_http_reqparser_free(p);
}

/* Every split point, with and without pausing after each request. */
static void test_split_every_offset(void **state)
{
    size_t len = sizeof(PIPELINE) - 1;
    for (int pause = 0; pause <= 1; pause++) {
        for (size_t cut = 0; cut <= len; cut++) {
            rec r = {0};
            r.pause = pause;
            bx_http_reqparser *p = bx_http_reqparser_new(NULL, on_req, &r);
            assert_int_equal(feed_all(p, PIPELINE, cut), 0);
            assert_int_equal(feed_all(p, PIPELINE + cut, len - cut), 0);
            check_pipeline(&r);
            bx_http_reqparser_free(p);
        }
    }
}

static void test_byte_by_byte(void **state)
{
    rec r = {0};
    bx_http_reqparser *p = bx_http_reqparser_new(NULL, on_req, &r);
    for (size_t i = 0; i < sizeof(PIPELINE) - 1; i++)
        assert_int_equal(feed_all(p, PIPELINE + i, 1), 0);
    check_pipeline(&r);
    bx_http_reqparser_free(p);
}

/* Pausing: consumed stops right after the request, and the request stays
 * readable until the next feed. */
static void test_pause_semantics(void **state)
{
    rec r = {0};
    r.pause = 1;
    bx_http_reqparser *p = bx_http_reqparser_new(NULL, on_req, &r);
    size_t len = sizeof(PIPELINE) - 1, used = 0;
    int st = 0;
    assert_int_equal(bx_http_reqparser_feed(p, PIPELINE, len, &used, &st), 0);
    const char *first_end = strstr(PIPELINE, "POST");
    assert_int_equal(used, (size_t)(first_end - PIPELINE));
    assert_int_equal(r.n, 1);
    assert_string_equal(r.last->path, "/v1/models");
    assert_string_equal(bx_http_req_header(r.last, "x-case"), "MiXeD");
    assert_null(bx_http_req_header(r.last, "x-absent"));
    size_t off = used;
    assert_int_equal(bx_http_reqparser_feed(p, PIPELINE + off, len - off, &used, &st), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.last->path, "/v1/completions");
    off += used;
    assert_int_equal(bx_http_reqparser_feed(p, PIPELINE + off, len - off, &used, &st), 0);
    assert_int_equal(off + used, len);
    check_pipeline(&r);
    bx_http_reqparser_free(p);
}

static int feed_status(const bx_http_limits *lim, const char *data, size_t len, int *nreq)
{
    rec r = {0};
    bx_http_reqparser *p = bx_http_reqparser_new(lim, on_req, &r);
    size_t used = 0;
    int st = 0;
    int rc = bx_http_reqparser_feed(p, data, len, &used, &st);
    if (rc != 0) {
        /* The parser stays dead with the same answer. */
        int st2 = 0;
        assert_int_equal(bx_http_reqparser_feed(p, "GET", 3, &used, &st2), rc);
        assert_int_equal(st2, st);
        assert_int_equal(rc, st == 400 ? BX_HTTP_EPARSE : BX_HTTP_ETOOBIG);
    }
    if (nreq) *nreq = r.n;
    bx_http_reqparser_free(p);
    return rc ? st : 0;
}

static void test_limits(void **state)
{
    bx_http_limits lim;
    bx_http_limits_default(&lim);
    assert_int_equal(lim.max_header_bytes, 16 * 1024);
    assert_int_equal(lim.max_headers, 64);
    assert_int_equal(lim.max_body_bytes, 8 * 1024 * 1024);
    lim.max_header_bytes = 256;
    lim.max_headers = 4;
    lim.max_body_bytes = 10;

    /* header bytes */
    char big[1024];
    snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX-Big: %0300d\r\n\r\n", 7);
    assert_int_equal(feed_status(&lim, big, strlen(big), NULL), 431);
    /* a long URL counts too */
    snprintf(big, sizeof(big), "GET /%0300d HTTP/1.1\r\n\r\n", 7);
    assert_int_equal(feed_status(&lim, big, strlen(big), NULL), 431);
    /* header count: 4 is fine, 5 is not */
    const char *four = "GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n\r\n";
    int n = 0;
    assert_int_equal(feed_status(&lim, four, strlen(four), &n), 0);
    assert_int_equal(n, 1);
    const char *five = "GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\n\r\n";
    assert_int_equal(feed_status(&lim, five, strlen(five), NULL), 431);
    /* body: Content-Length over the limit is refused at the headers */
    const char *cl = "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n";
    assert_int_equal(feed_status(&lim, cl, strlen(cl), NULL), 413);
    const char *cl10 = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789";
    assert_int_equal(feed_status(&lim, cl10, strlen(cl10), &n), 0);
    assert_int_equal(n, 1);
    /* chunked body over the limit */
    const char *ch = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n";
    assert_int_equal(feed_status(&lim, ch, strlen(ch), NULL), 413);
    /* malformed */
    const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        "GET / HTTP/9.1\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "GET nopath HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(feed_status(&lim, bad[i], strlen(bad[i]), NULL), 400);
}

static void test_http10_and_keepalive(void **state)
{
    rec r = {0};
    bx_http_reqparser *p = bx_http_reqparser_new(NULL, on_req, &r);
    const char *a = "GET /a HTTP/1.0\r\n\r\n";
    assert_int_equal(feed_all(p, a, strlen(a)), 0);
    bx_http_reqparser_free(p);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.reqs[0].http_minor, 0);
    assert_int_equal(r.reqs[0].keep_alive, 0);

    memset(&r, 0, sizeof(r));
    p = bx_http_reqparser_new(NULL, on_req, &r);
    const char *b = "GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                    "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n"
                    "GET /d HTTP/1.1\r\nConnection: keep-alive\r\n\r\n";
    assert_int_equal(feed_all(p, b, strlen(b)), 0);
    bx_http_reqparser_free(p);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.reqs[0].http_minor, 0);
    assert_int_equal(r.reqs[0].keep_alive, 1);
    assert_int_equal(r.reqs[1].http_minor, 1);
    assert_int_equal(r.reqs[1].keep_alive, 0);
    assert_int_equal(r.reqs[2].keep_alive, 1);
}

static void test_url_forms_and_body(void **state)
{
    rec r = {0};
    bx_http_reqparser *p = bx_http_reqparser_new(NULL, on_req, &r);
    const char body[] = "a\0b";
    char req[256];
    int n = snprintf(req, sizeof(req),
                     "GET http://host:80/x/y?q=1#frag HTTP/1.1\r\n\r\n"
                     "OPTIONS * HTTP/1.1\r\n\r\n"
                     "GET /p#f HTTP/1.1\r\nEmpty:\r\nX-Case:  spaced  \r\n\r\n"
                     "PUT /nul HTTP/1.1\r\nContent-Length: 3\r\n\r\n");
    memcpy(req + n, body, 3);
    assert_int_equal(feed_all(p, req, (size_t)n + 3), 0);
    bx_http_reqparser_free(p);
    assert_int_equal(r.n, 4);
    assert_string_equal(r.reqs[0].path, "/x/y");
    assert_string_equal(r.reqs[0].query, "q=1");
    assert_string_equal(r.reqs[1].method, "OPTIONS");
    assert_string_equal(r.reqs[1].path, "*");
    assert_string_equal(r.reqs[2].path, "/p");
    assert_string_equal(r.reqs[2].query, "");
    assert_int_equal(r.reqs[2].nheaders, 2);
    assert_string_equal(r.reqs[2].xcase, "spaced");
    assert_string_equal(r.reqs[3].method, "PUT");
    assert_int_equal(r.reqs[3].body_len, 3);
    assert_memory_equal(r.reqs[3].body, "a\0b", 3);
}

static void test_expect_continue(void **state)
{
    rec r = {0};
    bx_http_reqparser *p = bx_http_reqparser_new(NULL, on_req, &r);
    const char *h = "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
    assert_int_equal(bx_http_reqparser_take_continue(p), 0);
    assert_int_equal(feed_all(p, h, strlen(h)), 0);
    assert_int_equal(bx_http_reqparser_take_continue(p), 1);
    assert_int_equal(bx_http_reqparser_take_continue(p), 0); /* once */
    assert_int_equal(feed_all(p, "data", 4), 0);
    assert_int_equal(r.n, 1);
    assert_memory_equal(r.reqs[0].body, "data", 4);
    /* body in the same piece: no 100 Continue needed */
    const char *all = "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok";
    assert_int_equal(feed_all(p, all, strlen(all)), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(bx_http_reqparser_take_continue(p), 0);
    bx_http_reqparser_free(p);
}

static void test_strerror(void **state)
{
    assert_string_equal(bx_http_strerror(0), "success");
    int codes[] = {BX_HTTP_EPARSE,  BX_HTTP_ETOOBIG,  BX_HTTP_ECONNECT,
                   BX_HTTP_ECLOSED, BX_HTTP_ETIMEOUT, BX_HTTP_ECANCELED,
                   BX_HTTP_ENOMEM,  BX_HTTP_ESTATE,   BX_HTTP_EIO};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        assert_string_not_equal(bx_http_strerror(codes[i]), "unknown error");
    assert_string_equal(bx_http_strerror(-1000), "unknown error");
}

/* Bare CR/LF between requests is skipped. http-parser counts it toward the
 * next head's 80 KiB until a head ends; requests read by the fast path must
 * reset that count as one read by http-parser does, or a long-lived
 * connection with a stray CRLF after each request ends in 431. */
static void test_crlf_between_fast_requests(void **st)
{
    (void)st;
    rec r = {0};
    bx_http_reqparser *p = bx_http_reqparser_new(NULL, on_req, &r);
    assert_non_null(p);
    static char crlf[60000];
    for (size_t i = 0; i < sizeof(crlf); i += 2)
        memcpy(crlf + i, "\r\n", 2);
    const char *get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int round = 0; round < 3; round++) {
        size_t used;
        int status = 0;
        assert_int_equal(bx_http_reqparser_feed(p, get, strlen(get), &used, &status), 0);
        assert_int_equal(used, strlen(get));
        assert_int_equal(bx_http_reqparser_feed(p, crlf, sizeof(crlf), &used, &status), 0);
        assert_int_equal(used, sizeof(crlf));
    }
    assert_int_equal(r.n, 3);
    bx_http_reqparser_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_whole),
        cmocka_unit_test(test_split_every_offset),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_pause_semantics),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_http10_and_keepalive),
        cmocka_unit_test(test_url_forms_and_body),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_crlf_between_fast_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
