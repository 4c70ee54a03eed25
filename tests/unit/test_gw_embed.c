/* The gateway embedded by a control plane (brix up), with a real engine
 * simulator on the same loop and real HTTP: engines pushed with
 * gw_gateway_set_engines; a request for a model with no engine is held and
 * the control plane woken (scale from zero), then served once the engine
 * it starts is ready; a hold that runs out answers 503 with Retry-After;
 * a model's default strategy applies without a routing-strategy header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "common/bx_http.h"
#include "engine/eng_config.h"
#include "engine/eng_server.h"
#include "gateway/gw_config.h"
#include "gateway/gw_gateway.h"

typedef struct fx {
    uv_loop_t loop;
    gw_gateway *gw;
    eng_server *eng;
    bx_http_client *cli;
    int wakes;
    char last_wake[64];
    /* the answer to the request in flight */
    int status, done, err;
    int inflight_at_headers; /* gw_gateway_model_inflight("m") when the answer started */
    char strategy[64], retry_after[16];
} fx;

static int is_model(void *ud, const char *model)
{
    (void)ud;
    return strcmp(model, "m") == 0 || strcmp(model, "never") == 0 || strcmp(model, "broken") == 0 ||
           strcmp(model, "crashing") == 0;
}

/* the control plane's verdict: "broken" cannot become ready (nothing will
 * start it), "crashing" not now (it may recover: Retry-After) */
static int unservable(void *ud, const char *model, char *why, size_t whylen, int *retry_after_s)
{
    (void)ud;
    if (strcmp(model, "broken") && strcmp(model, "crashing")) return 0;
    *retry_after_s = strcmp(model, "crashing") == 0 ? 10 : 0;
    snprintf(why, whylen, "%s cannot become ready", model);
    return 1;
}

/* the control plane's answer to a wake: start an engine for "m" */
static void wake(void *ud, const char *model)
{
    fx *f = ud;
    f->wakes++;
    snprintf(f->last_wake, sizeof(f->last_wake), "%s", model);
    if (strcmp(model, "m") != 0 || f->eng) return;
    eng_config ec;
    eng_config_default(&ec);
    ec.host = "127.0.0.1";
    ec.port = 0;
    ec.model = "m";
    ec.time_scale = 1; /* a 50-token stream lasts a few hundred ms */
    char err[256];
    assert_int_equal(eng_server_init(&f->eng, &f->loop, &ec, err, sizeof(err)), 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", eng_server_port(f->eng));
    const char *a[1] = {addr};
    assert_int_equal(gw_gateway_set_engines(f->gw, a, NULL, NULL, 1), 1);
}

static void on_response(bx_http_creq *cr, int status, const bx_http_header *h, size_t nh, void *ud)
{
    (void)cr;
    fx *f = ud;
    f->status = status;
    f->inflight_at_headers = gw_gateway_model_inflight(f->gw, "m");
    for (size_t i = 0; i < nh; i++) {
        if (!strcasecmp(h[i].name, "routing-strategy"))
            snprintf(f->strategy, sizeof(f->strategy), "%s", h[i].value);
        if (!strcasecmp(h[i].name, "retry-after"))
            snprintf(f->retry_after, sizeof(f->retry_after), "%s", h[i].value);
    }
}

static void on_data(bx_http_creq *cr, const char *d, size_t n, void *ud)
{
    (void)cr, (void)d, (void)n, (void)ud;
}

static void on_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    fx *f = ud;
    f->err = err;
    f->done = 1;
}

static void post_n(fx *f, const char *model, int max_tokens, int stream)
{
    char body[256];
    snprintf(body, sizeof(body),
             "{\"model\":\"%s\",\"prompt\":\"hello\",\"max_tokens\":%d,\"stream\":%s,"
             "\"ignore_eos\":true}",
             model, max_tokens, stream ? "true" : "false");
    bx_http_header h[1] = {{"Content-Type", "application/json"}};
    bx_http_client_req r = {.method = "POST",
                            .host = "127.0.0.1",
                            .port = gw_gateway_port(f->gw),
                            .path = "/v1/completions",
                            .headers = h,
                            .nheaders = 1,
                            .body = body,
                            .body_len = strlen(body),
                            .timeout_ms = 10000};
    bx_http_client_cbs cbs = {on_response, on_data, on_done};
    f->done = f->status = f->err = 0;
    f->strategy[0] = f->retry_after[0] = 0;
    bx_http_creq *cr;
    assert_int_equal(bx_http_client_request(f->cli, &r, &cbs, f, &cr), 0);
    while (!f->done)
        uv_run(&f->loop, UV_RUN_ONCE);
}

static void post(fx *f, const char *model)
{
    post_n(f, model, 4, 0);
}

static void test_hold_wake_and_serve(void **st)
{
    (void)st;
    static fx f;
    memset(&f, 0, sizeof(f));
    assert_int_equal(uv_loop_init(&f.loop), 0);
    gw_config cfg;
    gw_config_default(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cfg.models_interval_ms = 200;
    cfg.scrape_interval_ms = 200;
    char err[256];
    assert_int_equal(gw_gateway_init(&f.gw, &f.loop, &cfg, err, sizeof(err)), 0);
    assert_int_equal(bx_http_client_init(&f.cli, &f.loop, NULL), 0);

    /* without hooks: an unknown model is a 404 */
    post(&f, "m");
    assert_int_equal(f.status, 404);

    gw_hold_hooks h = {.is_model = is_model, .wake = wake, .ud = &f, .hold_ms = 5000};
    gw_gateway_set_hold(f.gw, &h);
    assert_int_equal(gw_gateway_set_model_strategy(f.gw, "m", "random"), 0);
    assert_int_equal(gw_gateway_set_model_strategy(f.gw, "m", "no-such"), -1);

    /* scale from zero: held, the control plane woken, then served */
    post(&f, "m");
    assert_int_equal(f.err, 0);
    assert_int_equal(f.status, 200);
    assert_int_equal(f.wakes, 1);
    assert_string_equal(f.last_wake, "m");
    assert_string_equal(f.strategy, "random"); /* the model's default */
    assert_int_equal(gw_gateway_held(f.gw, NULL), 0);

    /* served at once now: no wake */
    post(&f, "m");
    assert_int_equal(f.status, 200);
    assert_int_equal(f.wakes, 1);
    assert_int_equal(gw_gateway_model_inflight(f.gw, "m"), 0);
    /* a stream still running when its headers arrive counts as in flight */
    post_n(&f, "m", 50, 1);
    assert_int_equal(f.status, 200);
    assert_int_equal(f.inflight_at_headers, 1);
    assert_int_equal(gw_gateway_model_inflight(f.gw, "m"), 0);
    assert_int_equal(gw_gateway_model_inflight(f.gw, "other"), 0);
    assert_int_equal(gw_gateway_set_model_strategy(f.gw, "m", NULL), 0);
    post(&f, "m");
    assert_string_equal(f.strategy, "least-request");        /* the gateway's default again */
    assert_int_equal(gw_gateway_model_routed(f.gw, "m"), 4); /* the four answered above */
    assert_int_equal(gw_gateway_model_routed(f.gw, "other"), 0);

    /* a model the control plane knows but never starts: 503 after the hold */
    h.hold_ms = 300;
    gw_gateway_set_hold(f.gw, &h);
    post(&f, "never");
    assert_int_equal(f.status, 503);
    assert_string_equal(f.retry_after, "1");
    assert_int_equal(f.wakes, 2);
    /* one it does not know at all: 404, no wake */
    post(&f, "other");
    assert_int_equal(f.status, 404);
    assert_int_equal(f.wakes, 2);

    /* one that cannot become ready: 503 at once (the hold is long again),
     * no wake; Retry-After only where it may recover */
    h.hold_ms = 60000;
    h.unservable = unservable;
    gw_gateway_set_hold(f.gw, &h);
    post(&f, "broken");
    assert_int_equal(f.status, 503);
    assert_string_equal(f.retry_after, "");
    assert_int_equal(f.wakes, 2);
    assert_int_equal(gw_gateway_held(f.gw, NULL), 0);
    post(&f, "crashing");
    assert_int_equal(f.status, 503);
    assert_string_equal(f.retry_after, "10");
    assert_int_equal(f.wakes, 2);
    h.hold_ms = 300;
    gw_gateway_set_hold(f.gw, &h);

    /* a weighted list as the model's default: the answer says it */
    assert_int_equal(gw_gateway_set_model_strategy(f.gw, "m", "least-request:2,least-kv-cache"), 0);
    assert_int_equal(gw_gateway_set_model_strategy(f.gw, "m", "random,least-request"), -1);

    post(&f, "m");
    assert_int_equal(f.status, 200);
    assert_string_equal(f.strategy, "least-request:2,least-kv-cache");
    assert_int_equal(gw_gateway_set_model_strategy(f.gw, "m", NULL), 0);

    /* the engine leaves the set: "m" is held again until the hold ends */
    assert_int_equal(gw_gateway_set_engines(f.gw, NULL, NULL, NULL, 0), 0);
    post(&f, "m");
    assert_int_equal(f.status, 503);

    bx_http_client_close(f.cli);
    gw_gateway_close(f.gw);
    if (f.eng) eng_server_close(f.eng);
    for (int i = 0; i < 50; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    (void)uv_loop_close(&f.loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hold_wake_and_serve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
