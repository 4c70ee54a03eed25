/* Closing an engine server with requests still streaming frees everything
 * once, and the client sees its request end (the ASan build turns a late
 * abort callback into a failure: eng_server_close used to release its calls
 * and then have the closing connections call back into them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "common/bx_http.h"
#include "engine/eng_config.h"
#include "engine/eng_server.h"

typedef struct fx {
    int started, done, err;
} fx;

static void on_response(bx_http_creq *cr, int status, const bx_http_header *h, size_t nh, void *ud)
{
    (void)cr, (void)h, (void)nh;
    fx *f = ud;
    if (status == 200) f->started++;
}

static void on_data(bx_http_creq *cr, const char *d, size_t n, void *ud)
{
    (void)cr, (void)d, (void)n, (void)ud;
}

static void on_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    fx *f = ud;
    f->done++;
    if (err) f->err++;
}

static void test_close_with_streams_in_flight(void **st)
{
    (void)st;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    eng_config ec;
    eng_config_default(&ec);
    ec.host = "127.0.0.1";
    ec.port = 0;
    ec.model = "m";
    ec.time_scale = 1; /* 2000 tokens: seconds of streaming */
    eng_server *s = NULL;
    char err[256];
    assert_int_equal(eng_server_init(&s, &loop, &ec, err, sizeof(err)), 0);
    bx_http_client *cl = NULL;
    assert_int_equal(bx_http_client_init(&cl, &loop, NULL), 0);
    fx f = {0};
    const char *body = "{\"model\":\"m\",\"prompt\":\"go\",\"max_tokens\":2000,\"stream\":true,"
                       "\"ignore_eos\":true}";
    bx_http_header h[1] = {{"Content-Type", "application/json"}};
    for (int i = 0; i < 3; i++) {
        bx_http_client_req r = {.method = "POST",
                                .host = "127.0.0.1",
                                .port = eng_server_port(s),
                                .path = "/v1/completions",
                                .headers = h,
                                .nheaders = 1,
                                .body = body,
                                .body_len = strlen(body)};
        assert_int_equal(
            bx_http_client_request(cl, &r, &(bx_http_client_cbs){on_response, on_data, on_done}, &f,
                                   NULL),
            0);
    }
    while (f.started < 3)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(f.done, 0); /* all three still streaming */
    eng_server_close(s);
    while (f.done < 3)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(f.err, 3); /* each stream was cut mid-body: an error, not a hang */
    bx_http_client_close(cl);
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    (void)uv_loop_close(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_with_streams_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
