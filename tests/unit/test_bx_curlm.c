/* Tests for bx_curlm (libcurl's multi on a libuv loop) against a real
 * bx_http_server on 127.0.0.1: transfers finish through done_cb, and an add
 * or remove from inside a transfer's write callback (inside
 * curl_multi_socket_action, where libcurl answers CURLM_RECURSIVE_API_CALL)
 * is done right after socket_action returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/bx_buf.h"
#include "common/bx_curlm.h"
#include "common/bx_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fx fx;

typedef struct xfer {
    fx *f;
    CURL *easy;
    bx_buf body;
    int done;
    CURLcode rc;
    int on_first_data; /* what the write callback does first: see below */
    int seen_data;
} xfer;

enum { DO_NOTHING, DO_ADD_OTHER, DO_REMOVE_SELF, DO_ADD_AND_REMOVE_OTHER };

struct fx {
    uv_loop_t loop;
    uv_timer_t guard;
    bx_http_server *srv;
    bx_curlm *cm;
    int port;
    int closed;
    int add_rc, remove_rc;
    xfer a, b;
};

static void handler(bx_http_req *req, bx_http_res *res, void *ud)
{
    (void)req;
    (void)ud;
    assert_int_equal(bx_http_res_send(res, 200, "text/plain", "hello", 5), 0);
}

static void srv_closed(void *ud)
{
    ((fx *)ud)->closed++;
}

static void cm_closed(void *ud)
{
    ((fx *)ud)->closed++;
}

static void on_guard(uv_timer_t *t)
{
    (void)t;
    fail_msg("test hung");
}

static void close_all(fx *f)
{
    uv_timer_stop(&f->guard);
    uv_close((uv_handle_t *)&f->guard, NULL);
    bx_curlm_close(f->cm, cm_closed, f);
    bx_http_server_close(f->srv, srv_closed, f);
}

static void maybe_end(fx *f)
{
    int want = 1 + (f->b.easy != NULL);
    if (f->a.on_first_data == DO_REMOVE_SELF) want = 0 + (f->b.easy != NULL);
    if (f->a.on_first_data == DO_ADD_AND_REMOVE_OTHER) want = 1;
    if (f->a.done + f->b.done == want && want > 0) close_all(f);
}

static void on_done(void *ud, CURL *easy, CURLcode rc)
{
    fx *f = ud;
    xfer *x = easy == f->a.easy ? &f->a : &f->b;
    assert_true(easy == x->easy);
    x->done++;
    x->rc = rc;
    maybe_end(f);
}

static int url_for(fx *f, char *buf, size_t n, const char *path)
{
    return snprintf(buf, n, "http://127.0.0.1:%d%s", f->port, path);
}

static size_t write_cb(char *p, size_t size, size_t nmemb, void *ud);

static CURL *make_easy(fx *f, xfer *x, const char *path)
{
    char url[128];
    url_for(f, url, sizeof(url), path);
    x->f = f;
    bx_buf_init(&x->body);
    x->easy = curl_easy_init();
    assert_non_null(x->easy);
    curl_easy_setopt(x->easy, CURLOPT_URL, url);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    return x->easy;
}

static size_t write_cb(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    fx *f = x->f;
    size_t n = size * nmemb;
    assert_int_equal(bx_buf_append(&x->body, p, n), 0);
    if (x->seen_data++) return n;
    switch (x->on_first_data) {
    case DO_ADD_OTHER:
        /* inside curl_multi_socket_action: libcurl alone would refuse it */
        make_easy(f, &f->b, "/b");
        f->add_rc = bx_curlm_add(f->cm, f->b.easy);
        break;
    case DO_REMOVE_SELF:
        f->remove_rc = bx_curlm_remove(f->cm, x->easy);
        /* nothing else runs; end once curl has let go of it */
        break;
    case DO_ADD_AND_REMOVE_OTHER:
        make_easy(f, &f->b, "/b");
        f->add_rc = bx_curlm_add(f->cm, f->b.easy);
        f->remove_rc = bx_curlm_remove(f->cm, f->b.easy);
        break;
    }
    return n;
}

static void setup_fx(fx *f, int what)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->guard), 0);
    uv_timer_start(&f->guard, on_guard, 10000, 0);
    assert_int_equal(bx_http_server_init(&f->srv, &f->loop, NULL, handler, f), 0);
    f->port = bx_http_server_listen(f->srv, "127.0.0.1", 0, 0);
    assert_true(f->port > 0);
    f->cm = bx_curlm_new(&f->loop, on_done, f);
    assert_non_null(f->cm);
    f->add_rc = f->remove_rc = -7;
    make_easy(f, &f->a, "/a");
    f->a.on_first_data = what;
    assert_int_equal(bx_curlm_add(f->cm, f->a.easy), 0);
}

static void teardown_fx(fx *f)
{
    assert_int_equal(f->closed, 2);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    if (f->a.easy) curl_easy_cleanup(f->a.easy);
    if (f->b.easy) curl_easy_cleanup(f->b.easy);
    bx_buf_free(&f->a.body);
    bx_buf_free(&f->b.body);
}

static void test_one_transfer(void **state)
{
    (void)state;
    fx f;
    setup_fx(&f, DO_NOTHING);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(f.a.done, 1);
    assert_int_equal(f.a.rc, CURLE_OK);
    assert_int_equal(f.a.body.len, 5);
    assert_memory_equal(f.a.body.data, "hello", 5);
    teardown_fx(&f);
}

/* A request started from inside another transfer's write callback runs
 * (libcurl alone answers CURLM_RECURSIVE_API_CALL there). */
static void test_add_from_write_callback(void **state)
{
    (void)state;
    fx f;
    setup_fx(&f, DO_ADD_OTHER);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(f.add_rc, 0);
    assert_int_equal(f.a.done, 1);
    assert_int_equal(f.a.rc, CURLE_OK);
    assert_int_equal(f.b.done, 1);
    assert_int_equal(f.b.rc, CURLE_OK);
    assert_int_equal(f.b.body.len, 5);
    assert_memory_equal(f.b.body.data, "hello", 5);
    teardown_fx(&f);
}

static void on_after_remove(uv_timer_t *t)
{
    close_all(t->data);
}

/* A transfer removing itself from its write callback is taken out once
 * socket_action returns: no done callback. */
static void test_remove_from_write_callback(void **state)
{
    (void)state;
    fx f;
    setup_fx(&f, DO_REMOVE_SELF);
    uv_timer_t t;
    uv_timer_init(&f.loop, &t);
    t.data = &f;
    /* the write callback runs long before; the loop then idles */
    uv_timer_start(&t, on_after_remove, 300, 0);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(f.remove_rc, 1);
    assert_int_equal(f.a.done, 0);
    assert_int_equal(f.a.seen_data, 1);
    teardown_fx(&f);
}

/* An add and a remove of the same handle both queued: it never starts. */
static void test_add_then_remove_queued(void **state)
{
    (void)state;
    fx f;
    setup_fx(&f, DO_ADD_AND_REMOVE_OTHER);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(f.add_rc, 0);
    assert_int_equal(f.remove_rc, 0);
    assert_int_equal(f.a.done, 1);
    assert_int_equal(f.b.done, 0);
    assert_int_equal(f.b.seen_data, 0);
    teardown_fx(&f);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_transfer),
        cmocka_unit_test(test_add_from_write_callback),
        cmocka_unit_test(test_remove_from_write_callback),
        cmocka_unit_test(test_add_then_remove_queued),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return r;
}
