/* bx_http_fast: OK with the right fields for the plain shapes the gateway
 * sees; UNSURE for every shape it leaves to http-parser (each case names
 * why). fuzz/fuzz_http_fast.c checks OK against http-parser itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_http_fast.h"

static const bx_http_fast_limits lim = {16 * 1024, 64, 1 << 20};

static bx_http_fast_rc req(const char *s, bx_http_fast_header *h, bx_http_fast_msg *m)
{
    return bx_http_fast_request(s, strlen(s), &lim, h, m);
}

static bx_http_fast_rc res(const char *s, bx_http_fast_header *h, bx_http_fast_msg *m)
{
    return bx_http_fast_response(s, strlen(s), &lim, h, m);
}

static void test_request_plain(void **st)
{
    (void)st;
    bx_http_fast_header h[64];
    bx_http_fast_msg m;
    const char *s = "POST /v1/completions?a=b HTTP/1.1\r\nHost: gw:8888\r\n"
                    "content-length: 5\r\nX-Pad:  two words \t\r\nEmpty:\r\n\r\nhelloGET /next";
    assert_int_equal(req(s, h, &m), BX_HTTP_FAST_OK);
    assert_string_equal(m.method, "POST");
    assert_int_equal(m.url_len, strlen("/v1/completions?a=b"));
    assert_memory_equal(m.url, "/v1/completions?a=b", m.url_len);
    assert_int_equal(m.http_minor, 1);
    assert_int_equal(m.keep_alive, 1);
    assert_int_equal(m.nheaders, 4);
    assert_int_equal(h[2].value_len, strlen("two words"));
    assert_memory_equal(h[2].value, "two words", h[2].value_len);
    assert_int_equal(h[3].value_len, 0);
    assert_int_equal(m.body_len, 5);
    assert_memory_equal(m.body, "hello", 5);
    assert_int_equal(m.total, strlen(s) - strlen("GET /next"));
    assert_int_equal(m.head_len + m.body_len, m.total);

    assert_int_equal(req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", h, &m),
                     BX_HTTP_FAST_OK);
    assert_int_equal(m.keep_alive, 1);
    assert_int_equal(m.body_len, 0);
    assert_int_equal(req("GET / HTTP/1.0\r\n\r\n", h, &m), BX_HTTP_FAST_OK);
    assert_int_equal(m.keep_alive, 0);
    assert_int_equal(req("GET / HTTP/1.1\r\nconnection: close\r\n\r\n", h, &m), BX_HTTP_FAST_OK);
    assert_int_equal(m.keep_alive, 0);
}

static void test_request_unsure(void **st)
{
    (void)st;
    bx_http_fast_header h[64];
    bx_http_fast_msg m;
    static const char *const unsure[] = {
        "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhel",                /* body not all there */
        "POST / HTTP/1.1\r\nContent-Length: 5\r\n",                       /* head not all there */
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", /* chunked */
        "GET / HTTP/1.1\r\nTransfer-Encodingx: y\r\n\r\n", /* http-parser flags the prefix */
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
        "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
        "GET / HTTP/1.1\r\nConnection: close, upgrade\r\n\r\n", /* a token list */
        "GET / HTTP/1.1\r\nProxy-Connection: close\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", /* twice */
        "GET / HTTP/1.1\r\nContent-Length: 1 \r\n\r\nx",                     /* not digits only */
        "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",                              /* obs-fold */
        "GET / HTTP/1.1\nA: b\n\n",                                          /* bare LF */
        "GET / HTTP/2.0\r\n\r\n",
        "BREW / HTTP/1.1\r\n\r\n",
        "GET http://h/ HTTP/1.1\r\n\r\n",
        "GET /a#b HTTP/1.1\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nA b: c\r\n\r\n",
        "GET / HTTP/1.1\r\n: c\r\n\r\n",
        "GET / HTTP/1.1\r\nA: \x01\r\n\r\n",
        "GET / HTTP/1.1\r\nA: \xc3\xa9\r\n\r\n", /* bytes over 0x7e: left to http-parser */
    };
    for (size_t i = 0; i < sizeof(unsure) / sizeof(unsure[0]); i++)
        assert_int_equal(req(unsure[i], h, &m), BX_HTTP_FAST_UNSURE);
}

static void test_request_limits(void **st)
{
    (void)st;
    bx_http_fast_header h[2];
    bx_http_fast_msg m;
    /* counted as bx_http_reqparser does: 16 + URL + (name + 4 + raw value) each */
    const char *s = "GET /ab HTTP/1.1\r\nAb: cd  \r\n\r\n"; /* 16 + 3 + 2 + 4 + 4 = 29 */
    bx_http_fast_limits l = {29, 2, 0};
    assert_int_equal(bx_http_fast_request(s, strlen(s), &l, h, &m), BX_HTTP_FAST_OK);
    l.max_header_bytes = 28;
    assert_int_equal(bx_http_fast_request(s, strlen(s), &l, h, &m), BX_HTTP_FAST_UNSURE);
    l = (bx_http_fast_limits){1024, 1, 4};
    const char *two = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n";
    assert_int_equal(bx_http_fast_request(two, strlen(two), &l, h, &m), BX_HTTP_FAST_UNSURE);
    const char *body = "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    assert_int_equal(bx_http_fast_request(body, strlen(body), &l, h, &m), BX_HTTP_FAST_UNSURE);
    l.max_body_bytes = 5;
    assert_int_equal(bx_http_fast_request(body, strlen(body), &l, h, &m), BX_HTTP_FAST_OK);
}

static void test_response(void **st)
{
    (void)st;
    bx_http_fast_header h[64];
    bx_http_fast_msg m;
    const char *s =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    assert_int_equal(res(s, h, &m), BX_HTTP_FAST_OK);
    assert_int_equal(m.status, 200);
    assert_int_equal(m.keep_alive, 1);
    assert_int_equal(m.nheaders, 2);
    assert_memory_equal(m.body, "{}", 2);
    assert_int_equal(m.total, strlen(s));
    assert_int_equal(res("HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n", h, &m), BX_HTTP_FAST_OK);
    assert_int_equal(m.status, 503);
    assert_int_equal(res("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", h, &m), BX_HTTP_FAST_OK);
    assert_int_equal(m.keep_alive, 0);
    static const char *const unsure[] = {
        "HTTP/1.1 200 OK\r\n\r\n", /* ends at EOF */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab", /* body not all there */
        "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
    };
    for (size_t i = 0; i < sizeof(unsure) / sizeof(unsure[0]); i++)
        assert_int_equal(res(unsure[i], h, &m), BX_HTTP_FAST_UNSURE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_plain),
        cmocka_unit_test(test_request_unsure),
        cmocka_unit_test(test_request_limits),
        cmocka_unit_test(test_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
