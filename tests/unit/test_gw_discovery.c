/* gw_discovery: /v1/models parsing and backend specs as pure functions, and
 * discovery of real in-process engines (brix engine servers on the same
 * libuv loop) over real HTTP: models and adapters found, a poke picks up a
 * newly loaded adapter, a closed engine turns not ready, a removed one gone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "loop_fixture.h"

#include "common/bx_http.h"
#include "engine/eng_config.h"
#include "engine/eng_server.h"
#include "gateway/gw_discovery.h"
#include "gateway/gw_engine.h"

/* ---- pure parts ---- */

static void test_parse_models(void **st)
{
    (void)st;
    const char *body =
        "{\"object\":\"list\",\"data\":["
        "{\"id\":\"llama\",\"object\":\"model\",\"root\":\"/m\",\"parent\":null},"
        "{\"id\":\"ad1\",\"object\":\"model\",\"root\":\"/a1\",\"parent\":\"llama\"},"
        "{\"id\":\"ad2\",\"parent\":\"llama\"},"
        "{\"id\":\"ad1\",\"parent\":\"llama\"},"
        "{\"id\":\"alias\"},"
        "{\"id\":5},"
        "\"junk\","
        "{\"id\":\"x\",\"parent\":7}]}";
    gw_disc_models m;
    char err[128];
    assert_int_equal(gw_disc_parse_models(body, strlen(body), 0, &m, err, sizeof(err)), 0);
    assert_string_equal(m.model, "llama");
    assert_int_equal(m.nbase, 2); /* "alias" has no parent: a second base, not kept */
    assert_int_equal(m.nadapters, 2);
    assert_string_equal(m.adapters[0], "ad1");
    assert_string_equal(m.adapters[1], "ad2");
    assert_int_equal(m.nskipped, 3);

    char big[GW_NAME_MAX + 64];
    char longid[GW_NAME_MAX + 1];
    memset(longid, 'a', GW_NAME_MAX);
    longid[GW_NAME_MAX] = '\0';
    snprintf(big, sizeof(big), "{\"data\":[{\"id\":\"%s\",\"parent\":null}]}", longid);
    assert_int_equal(gw_disc_parse_models(big, strlen(big), 0, &m, err, sizeof(err)), 0);
    assert_string_equal(m.model, "");
    assert_int_equal(m.nskipped, 1);

    const char *bad[] = {"", "{", "[]", "{\"data\":{}}", "{\"object\":\"list\"}", "null"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(gw_disc_parse_models(bad[i], strlen(bad[i]), 0, &m, err, sizeof(err)), -1);
    const char *ok = "{\"data\":[]}";
    assert_int_equal(gw_disc_parse_models(ok, strlen(ok), 0, &m, err, sizeof(err)), 0);
    assert_int_equal(gw_disc_parse_models(ok, strlen(ok), 5, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "limit"));
}

static void test_parse_models_adapter_table_full(void **st)
{
    (void)st;
    char body[16384];
    size_t n = (size_t)snprintf(body, sizeof(body), "{\"data\":[{\"id\":\"b\",\"parent\":null}");
    for (int i = 0; i < GW_MAX_ADAPTERS + 5; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n, ",{\"id\":\"a%d\",\"parent\":\"b\"}", i);
    n += (size_t)snprintf(body + n, sizeof(body) - n, "]}");
    gw_disc_models m;
    char err[128];
    assert_int_equal(gw_disc_parse_models(body, n, 0, &m, err, sizeof(err)), 0);
    assert_int_equal(m.nadapters, GW_MAX_ADAPTERS);
    assert_int_equal(m.nskipped, 5);
    assert_string_equal(m.adapters[GW_MAX_ADAPTERS - 1], "a63");
}

static void test_backend_addr(void **st)
{
    (void)st;
    char out[GW_NAME_MAX];
    struct {
        const char *in, *want;
    } good[] = {{"http://127.0.0.1:8000", "127.0.0.1:8000"},
                {"HTTP://eng-1:80/", "eng-1:80"},
                {"localhost:9", "localhost:9"},
                {"http://[::1]:8000", "[::1]:8000"}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(gw_disc_backend_addr(good[i].in, out, sizeof(out)), 0);
        assert_string_equal(out, good[i].want);
    }
    const char *bad[] = {"https://h:1",  "http://h",        "http://h:0", "http://h:70000",
                         "http://h:1/x", "::1:8000",        "h:12a",      "",
                         ":80",          "http://h:123456", "grpc://h:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(gw_disc_backend_addr(bad[i], out, sizeof(out)), -1);
    assert_int_equal(gw_disc_backend_addr("http://h:1", out, 3), -1); /* no room */
    assert_int_equal(gw_disc_backend_addr("http://h:1", out, 4), 0);
}

static void test_static_source_rejects_bad_backend(void **st)
{
    (void)st;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    gw_registry reg;
    assert_int_equal(gw_registry_init(&reg), 0);
    gw_disc *d = NULL;
    char err[256] = "";
    const char *args[] = {"http://127.0.0.1:1", "https://x:1"};
    assert_int_equal(gw_disc_init(&d, &loop, &reg, NULL, &gw_disc_source_static, args, 2, NULL, err,
                                  sizeof(err)),
                     -1);
    assert_null(d);
    assert_non_null(strstr(err, "https://x:1"));
    assert_int_equal(reg.n, 0);
    uv_run(&loop, UV_RUN_DEFAULT); /* the client made for it closes */
    assert_int_equal(uv_loop_close(&loop), 0);
    gw_registry_close(&reg);
}

/* ---- against real engines ---- */

typedef struct fixture {
    uv_loop_t loop;
    uv_timer_t tick; /* keeps UV_RUN_ONCE from blocking long */
    eng_server *eng[2];
    int port[2];
    eng_config cfg[2];
    const char *lora[1];
    bx_http_client *client;
    gw_registry reg;
    gw_disc *disc;
    int changes;
    int closed;
} fixture;

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void on_change(gw_engine *e, void *ud)
{
    (void)e;
    ((fixture *)ud)->changes++;
}

static void on_closed(void *ud)
{
    ((fixture *)ud)->closed = 1;
}

static void fixture_up(fixture *f, uint64_t interval_ms)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->tick), 0);
    assert_int_equal(uv_timer_start(&f->tick, on_tick, 10, 10), 0);
    const char *models[2] = {"m1", "m2"};
    for (int i = 0; i < 2; i++) {
        eng_config *c = &f->cfg[i];
        eng_config_default(c);
        c->host = "127.0.0.1";
        c->port = 0;
        c->model = models[i];
        c->time_scale = 1000;
        c->jitter = 0;
        c->hash_seed = "0";
        c->log_level = "error";
        char err[256];
        if (i == 0) {
            c->enable_lora = 1;
            c->allow_runtime_lora = 1;
            c->max_loras = 2;
            f->lora[0] = "ad1=/adapters/ad1";
            c->lora_modules[0] = f->lora[0];
            c->n_lora_modules = 1;
        }
        assert_int_equal(eng_server_init(&f->eng[i], &f->loop, c, err, sizeof(err)), 0);
        f->port[i] = eng_server_port(f->eng[i]);
        assert_true(f->port[i] > 0);
    }
    assert_int_equal(bx_http_client_init(&f->client, &f->loop, NULL), 0);
    assert_int_equal(gw_registry_init(&f->reg), 0);
    char b0[64], b1[64];
    snprintf(b0, sizeof(b0), "http://127.0.0.1:%d", f->port[0]);
    snprintf(b1, sizeof(b1), "127.0.0.1:%d/", f->port[1]);
    const char *args[] = {b0, b1};
    gw_disc_opts o;
    gw_disc_opts_default(&o);
    o.interval_ms = interval_ms;
    o.timeout_ms = 2000;
    o.on_change = on_change;
    o.ud = f;
    char err[256];
    assert_int_equal(gw_disc_init(&f->disc, &f->loop, &f->reg, NULL, &gw_disc_source_static, args,
                                  2, &o, err, sizeof(err)),
                     0);
}

static void fixture_down(fixture *f)
{
    gw_disc_close(f->disc, on_closed, f);
    for (int i = 0; i < 2; i++)
        if (f->eng[i]) eng_server_close(f->eng[i]);
    bx_http_client_close(f->client);
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->closed, 1);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    gw_registry_close(&f->reg);
}

/* Runs the loop until cond holds, at most 500 turns (a 10 ms tick bounds each). */
static gw_engine *engine_at(fixture *f, int i)
{
    char a[64];
    snprintf(a, sizeof(a), "127.0.0.1:%d", f->port[i]);
    return gw_registry_find(&f->reg, a);
}

struct post_ctx {
    int status, done;
};
static void p_resp(bx_http_creq *cr, int status, const bx_http_header *h, size_t n, void *ud)
{
    (void)cr;
    (void)h;
    (void)n;
    ((struct post_ctx *)ud)->status = status;
}
static void p_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    (void)err;
    ((struct post_ctx *)ud)->done = 1;
}

static int post(fixture *f, int port, const char *path, const char *body)
{
    struct post_ctx c = {0, 0};
    bx_http_header h[] = {{"Content-Type", "application/json"}};
    bx_http_client_req r = {.method = "POST",
                            .host = "127.0.0.1",
                            .port = port,
                            .path = path,
                            .headers = h,
                            .nheaders = 1,
                            .body = body,
                            .body_len = strlen(body),
                            .timeout_ms = 5000};
    bx_http_client_cbs cbs = {p_resp, NULL, p_done};
    if (bx_http_client_request(f->client, &r, &cbs, &c, NULL) != 0) return -1;
    RUN_UNTIL(&f->loop, c.done);
    return c.status;
}

static void test_discovers_engines_and_poke_sees_new_adapter(void **st)
{
    (void)st;
    fixture f;
    fixture_up(&f, 60000); /* only the first poll and pokes happen in this test */
    assert_int_equal(f.reg.n, 0);
    assert_int_equal(gw_disc_start(f.disc), 0);
    assert_int_equal(f.reg.n, 2);
    gw_engine *e0 = engine_at(&f, 0), *e1 = engine_at(&f, 1);
    assert_non_null(e0);
    assert_non_null(e1);
    assert_false(e0->ready);
    RUN_UNTIL(&f.loop, e0->ready && e1->ready);
    assert_true(e0->ready);
    assert_true(e1->ready);
    assert_string_equal(e0->model, "m1");
    assert_int_equal(e0->nadapters, 1);
    assert_string_equal(e0->adapters[0], "ad1");
    assert_string_equal(e1->model, "m2");
    assert_int_equal(e1->nadapters, 0);
    assert_true(f.changes >= 4); /* two added, two ready */

    gw_engine *cand[4];
    int known = 0;
    assert_int_equal(gw_registry_candidates(&f.reg, "ad1", 0, cand, 4, &known), 1);
    assert_ptr_equal(cand[0], e0);
    assert_int_equal(gw_registry_candidates(&f.reg, "ad2", 0, cand, 4, &known), 0);
    assert_int_equal(known, 0);

    assert_int_equal(post(&f, f.port[0], "/v1/load_lora_adapter",
                          "{\"lora_name\":\"ad2\",\"lora_path\":\"/adapters/ad2\"}"),
                     200);
    gw_disc_stats ds;
    gw_disc_get_stats(f.disc, &ds);
    uint64_t polls = ds.polls;
    assert_int_equal(e0->nadapters, 1); /* the 60 s timer has not polled again */
    assert_int_equal(gw_disc_poke(f.disc, e0), 0);
    RUN_UNTIL(&f.loop, e0->nadapters == 2);
    assert_int_equal(e0->nadapters, 2);
    assert_string_equal(e0->adapters[1], "ad2");
    gw_disc_get_stats(f.disc, &ds);
    assert_int_equal(ds.polls, polls + 1);
    assert_int_equal(gw_registry_candidates(&f.reg, "ad2", 0, cand, 4, &known), 1);

    /* poke twice while a poll is in flight: one more poll follows it */
    assert_int_equal(gw_disc_poke(f.disc, e1), 0);
    assert_int_equal(gw_disc_poke(f.disc, e1), 0);
    RUN_UNTIL(&f.loop, (gw_disc_get_stats(f.disc, &ds), ds.polls >= polls + 3));
    assert_int_equal(ds.polls, polls + 3);
    for (int i = 0; i < 20; i++) /* and no further one */
        uv_run(&f.loop, UV_RUN_ONCE);
    gw_disc_get_stats(f.disc, &ds);
    assert_int_equal(ds.polls, polls + 3);
    assert_int_equal(ds.failures, 0);

    gw_engine other = {0};
    other.id = 7;
    assert_int_equal(gw_disc_poke(f.disc, &other), -1);
    fixture_down(&f);
}

static void test_closed_engine_not_ready_and_removed_gone(void **st)
{
    (void)st;
    fixture f;
    fixture_up(&f, 50);
    assert_int_equal(gw_disc_start(f.disc), 0);
    gw_engine *e0 = engine_at(&f, 0), *e1 = engine_at(&f, 1);
    RUN_UNTIL(&f.loop, e0->ready && e1->ready);
    assert_true(e0->ready && e1->ready);

    eng_server_close(f.eng[1]);
    f.eng[1] = NULL;
    RUN_UNTIL(&f.loop, !e1->ready);
    assert_false(e1->ready);
    assert_string_equal(e1->model, "m2"); /* kept: the model is known, just unavailable */
    assert_true(e0->ready);
    gw_disc_stats ds;
    gw_disc_get_stats(f.disc, &ds);
    assert_true(ds.failures >= 2);
    gw_engine *cand[4];
    int known = 0;
    assert_int_equal(gw_registry_candidates(&f.reg, "m2", 0, cand, 4, &known), 0);
    assert_int_equal(known, 1);

    /* the source now lists only engine 1 (closed): engine 0 is gone */
    char a1[64];
    snprintf(a1, sizeof(a1), "127.0.0.1:%d", f.port[1]);
    const char *only[] = {a1, "not-an-address"};
    int changes = f.changes;
    assert_int_equal(gw_disc_set_engines(f.disc, only, 2), 1);
    assert_true(e0->gone);
    assert_false(e0->ready);
    assert_true(f.changes > changes);
    gw_disc_get_stats(f.disc, &ds);
    uint64_t polls = ds.polls;
    for (int i = 0; i < 30; i++)
        uv_run(&f.loop, UV_RUN_ONCE);
    assert_false(e0->ready); /* no longer polled back to ready */
    gw_disc_get_stats(f.disc, &ds);
    assert_true(ds.polls > polls); /* engine 1 still is */
    assert_int_equal(gw_disc_poke(f.disc, e0), -1);
    assert_int_equal(f.reg.n, 2);

    /* listed again: revived and ready after a poll */
    char a0[64];
    snprintf(a0, sizeof(a0), "127.0.0.1:%d", f.port[0]);
    const char *both[] = {a0, a1};
    assert_int_equal(gw_disc_set_engines(f.disc, both, 2), 2);
    assert_false(e0->gone);
    RUN_UNTIL(&f.loop, e0->ready);
    assert_true(e0->ready);
    fixture_down(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_models),
        cmocka_unit_test(test_parse_models_adapter_table_full),
        cmocka_unit_test(test_backend_addr),
        cmocka_unit_test(test_static_source_rejects_bad_backend),
        cmocka_unit_test(test_discovers_engines_and_poke_sees_new_adapter),
        cmocka_unit_test(test_closed_engine_not_ready_and_removed_gone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
