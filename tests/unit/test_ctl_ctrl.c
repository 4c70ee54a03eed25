/* ctl_ctrl, the controller skeleton: kicks coalesce into one pass (and a
 * kick during a pass gives one more), the earliest wake-up wins, status is
 * written only when it changed, events go through the object store, calls
 * reach a real HTTP server (bx_http_server in-process) with their context
 * and a body limit, and close waits for what is in flight (a held job, a
 * call the server never answers) before its done callback; no pass or
 * reply runs after close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/bx_http.h"
#include "ctl/ctl_ctrl.h"
#include "ctl/ctl_objstore_sqlite.h"

typedef struct env {
    uv_loop_t loop;
    ctl_objstore *st;
    ctl_ctrl *c;
    int passes, ticks, kicks;
    int kick_in_pass; /* the first pass kicks once */
    int done;
    int replies;
    ctl_ctrl_reply last;
    char body[64];
    char ctx[32];
    /* the HTTP server */
    bx_http_server *srv;
    int port;
    int requests;
    int answer; /* 1: answer at once; 0: never (hold the response) */
    int aborted;
} env;

static void on_pass(void *ud, ctl_ctrl_why why)
{
    env *e = ud;
    e->passes++;
    if (why == CTL_CTRL_TICK)
        e->ticks++;
    else
        e->kicks++;
    if (e->kick_in_pass) {
        e->kick_in_pass = 0;
        ctl_ctrl_kick(e->c);
        ctl_ctrl_kick(e->c);
    }
}

static void on_done(void *ud)
{
    ((env *)ud)->done++;
}

static void on_guard(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* Runs the loop until cond holds or ms passed; returns whether it held. */
#define RUN_FOR(e, ms, cond)                                                                       \
    ({                                                                                             \
        int expired_ = 0;                                                                          \
        uv_timer_t guard_;                                                                         \
        uv_timer_init(&(e)->loop, &guard_);                                                        \
        guard_.data = &expired_;                                                                   \
        uv_timer_start(&guard_, on_guard, (ms), 0);                                                \
        while (!(cond) && !expired_)                                                               \
            uv_run(&(e)->loop, UV_RUN_ONCE);                                                       \
        uv_close((uv_handle_t *)&guard_, NULL);                                                    \
        uv_run(&(e)->loop, UV_RUN_NOWAIT);                                                         \
        (cond);                                                                                    \
    })

static void on_abort(bx_http_res *res, void *ud)
{
    (void)res;
    ((env *)ud)->aborted++;
}

static void handler(bx_http_req *req, bx_http_res *res, void *ud)
{
    env *e = ud;
    (void)req;
    e->requests++;
    if (e->answer)
        bx_http_res_send(res, 200, "text/plain", "hello world", 11);
    else
        bx_http_res_set_abort(res, on_abort, e); /* never answered */
}

static void env_init(env *e, uint64_t period_ms)
{
    memset(e, 0, sizeof(*e));
    assert_int_equal(uv_loop_init(&e->loop), 0);
    char err[256];
    assert_int_equal(ctl_objstore_sqlite_open(":memory:", &e->st, err, sizeof(err)), 0);
    ctl_ctrl_cfg cfg = {.kind = "Deployment",
                        .log_name = "deployment",
                        .period_ms = period_ms,
                        .log_events = 1,
                        .pass = on_pass,
                        .ud = e};
    assert_int_equal(ctl_ctrl_init(&e->c, &e->loop, e->st, &cfg, err, sizeof(err)), 0);
}

static void env_listen(env *e, int answer)
{
    bx_http_limits lim;
    bx_http_limits_default(&lim);
    assert_int_equal(bx_http_server_init(&e->srv, &e->loop, &lim, handler, e), 0);
    e->port = bx_http_server_listen(e->srv, "127.0.0.1", 0, 0);
    assert_true(e->port > 0);
    e->answer = answer;
}

static void env_free(env *e)
{
    if (e->c) {
        ctl_ctrl_close(e->c, NULL, on_done, e);
        e->c = NULL;
    }
    if (e->srv) bx_http_server_close(e->srv, NULL, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(e->done, 1);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    ctl_objstore_close(e->st);
}

static void put_deployment(env *e, const char *name)
{
    char y[512], err[512];
    snprintf(y, sizeof(y),
             "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\n  labels: "
             "{model.aibrix.ai/name: %s}\nspec:\n  template:\n    spec:\n      containers:\n"
             "        - command: [\"{brix}\", engine, --port, \"{port}\"]\n",
             name, name);
    ctl_obj **objs;
    size_t n;
    if (ctl_obj_load_yaml(y, strlen(y), &objs, &n, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(ctl_objstore_put(e->st, objs[0], NULL, err, sizeof(err)), 0);
    ctl_objs_free(objs, n);
}

/* The stored status of Deployment name (new reference). */
static json_t *stored_status(env *e, const char *name)
{
    ctl_record r;
    char err[256];
    assert_int_equal(ctl_objstore_get(e->st, "Deployment", name, &r, err, sizeof(err)), 0);
    json_t *s = json_incref(r.status);
    ctl_record_clear(&r);
    return s;
}

/* ---- passes ---- */

static void test_kicks_coalesce(void **state)
{
    (void)state;
    env e;
    env_init(&e, 0);
    for (int i = 0; i < 5; i++)
        ctl_ctrl_kick(e.c);
    assert_int_equal(e.passes, 0); /* never from inside the call */
    assert_true(RUN_FOR(&e, 5000, e.passes >= 1));
    RUN_FOR(&e, 50, 0);
    assert_int_equal(e.passes, 1);
    assert_int_equal(e.kicks, 1);
    assert_int_equal(ctl_ctrl_passes(e.c), 1);

    /* kicks during a pass: one more pass after it, not two */
    e.kick_in_pass = 1;
    ctl_ctrl_kick(e.c);
    assert_true(RUN_FOR(&e, 5000, e.passes >= 3));
    RUN_FOR(&e, 50, 0);
    assert_int_equal(e.passes, 3);
    env_free(&e);
}

static void test_earliest_wake_wins(void **state)
{
    (void)state;
    env e;
    env_init(&e, 0);
    uint64_t now = ctl_ctrl_now(e.c);
    ctl_ctrl_wake_at(e.c, now + 10000); /* would fail the test: never reached */
    ctl_ctrl_wake_at(e.c, now + 20);
    ctl_ctrl_wake_at(e.c, now + 5000);
    ctl_ctrl_wake_at(e.c, CTL_CTRL_NEVER);
    assert_true(RUN_FOR(&e, 3000, e.passes >= 1));
    assert_true(ctl_ctrl_now(e.c) >= now + 20);
    RUN_FOR(&e, 100, 0);
    assert_int_equal(e.passes, 1);
    env_free(&e);
}

static void test_period_ticks(void **state)
{
    (void)state;
    env e;
    env_init(&e, 10);
    assert_true(RUN_FOR(&e, 5000, e.ticks >= 3));
    assert_int_equal(e.kicks, 0);
    env_free(&e);
}

static void test_no_pass_after_close(void **state)
{
    (void)state;
    env e;
    env_init(&e, 10);
    ctl_ctrl_kick(e.c);
    ctl_ctrl_close(e.c, NULL, on_done, &e);
    ctl_ctrl_kick(e.c); /* ignored while closing */
    e.c = NULL;
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(e.passes, 0);
    assert_int_equal(e.done, 1);
    env_free(&e);
}

/* ---- status and events ---- */

static void test_status_only_on_change(void **state)
{
    (void)state;
    env e;
    env_init(&e, 0);
    put_deployment(&e, "llama");
    char err[256];
    json_t *a = json_pack("{s:i}", "readyReplicas", 1);
    json_t *b = json_pack("{s:i}", "readyReplicas", 2);
    json_t *other = json_pack("{s:s}", "written", "by someone else");
    assert_int_equal(ctl_ctrl_status(e.c, "llama", json_deep_copy(a)), 0);
    json_t *s = stored_status(&e, "llama");
    assert_true(json_equal(s, a));
    json_decref(s);

    /* the same again is not written: what someone else wrote stays */
    assert_int_equal(ctl_objstore_set_status(e.st, "Deployment", "llama", other, err, sizeof(err)),
                     0);
    assert_int_equal(ctl_ctrl_status(e.c, "llama", json_deep_copy(a)), 1);
    s = stored_status(&e, "llama");
    assert_true(json_equal(s, other));
    json_decref(s);

    /* a change is written */
    assert_int_equal(ctl_ctrl_status(e.c, "llama", json_deep_copy(b)), 0);
    s = stored_status(&e, "llama");
    assert_true(json_equal(s, b));
    json_decref(s);

    /* forgotten: written again even though it equals the last */
    assert_int_equal(ctl_objstore_set_status(e.st, "Deployment", "llama", other, err, sizeof(err)),
                     0);
    ctl_ctrl_forget(e.c, "llama");
    assert_int_equal(ctl_ctrl_status(e.c, "llama", json_deep_copy(b)), 0);
    s = stored_status(&e, "llama");
    assert_true(json_equal(s, b));
    json_decref(s);

    /* an object not stored yet: not written, and tried again once it is */
    assert_int_equal(ctl_ctrl_status(e.c, "later", json_deep_copy(a)), -1);
    put_deployment(&e, "later");
    assert_int_equal(ctl_ctrl_status(e.c, "later", json_deep_copy(a)), 0);
    s = stored_status(&e, "later");
    assert_true(json_equal(s, a));
    json_decref(s);
    assert_int_equal(ctl_ctrl_status(e.c, "later", NULL), -1); /* out of memory: logged */

    json_decref(a);
    json_decref(b);
    json_decref(other);
    env_free(&e);
}

static void test_events_through_the_store(void **state)
{
    (void)state;
    env e;
    env_init(&e, 0);
    put_deployment(&e, "llama");
    ctl_ctrl_event(e.c, "llama", CTL_EVENT_WARNING, "Exited", "pod %s exited (code %d)", "llama-0",
                   3);
    ctl_ctrl_event(e.c, "llama", CTL_EVENT_WARNING, "Exited", "pod %s exited (code %d)", "llama-0",
                   3);
    ctl_ctrl_event(e.c, "llama", CTL_EVENT_NORMAL, "Started", "pod llama-0 started");
    ctl_event *ev;
    size_t n;
    char err[256];
    assert_int_equal(
        ctl_objstore_events(e.st, "Deployment", "llama", 10, &ev, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ev[0].type, CTL_EVENT_WARNING);
    assert_string_equal(ev[0].reason, "Exited");
    assert_string_equal(ev[0].message, "pod llama-0 exited (code 3)");
    assert_int_equal(ev[0].count, 2);
    assert_string_equal(ev[1].reason, "Started");
    ctl_events_free(ev, n);
    env_free(&e);
}

/* ---- calls and close ---- */

static void on_reply(void *ud, const ctl_ctrl_reply *r, void *ctx)
{
    env *e = ud;
    e->replies++;
    e->last = *r;
    snprintf(e->body, sizeof(e->body), "%s", r->body);
    snprintf(e->ctx, sizeof(e->ctx), "%s", (const char *)ctx);
    e->last.body = NULL;
}

static int call(env *e, size_t max_body)
{
    bx_http_client_req req = {
        .method = "GET", .host = "127.0.0.1", .port = e->port, .path = "/x", .timeout_ms = 5000};
    char ctx[16] = "pod-7";
    int rc = ctl_ctrl_call(e->c, &req, max_body, on_reply, ctx, sizeof(ctx));
    memset(ctx, 'X', sizeof(ctx) - 1); /* the call keeps its own copy */
    return rc;
}

static void test_call_reply(void **state)
{
    (void)state;
    env e;
    env_init(&e, 0);
    env_listen(&e, 1);
    assert_int_equal(call(&e, 1024), 0);
    assert_int_equal(ctl_ctrl_inflight(e.c), 1);
    assert_true(RUN_FOR(&e, 5000, e.replies == 1));
    assert_int_equal(e.last.err, 0);
    assert_int_equal(e.last.status, 200);
    assert_int_equal(e.last.len, 11);
    assert_false(e.last.toobig);
    assert_string_equal(e.body, "hello world");
    assert_string_equal(e.ctx, "pod-7");
    assert_int_equal(ctl_ctrl_inflight(e.c), 0);

    /* over the body limit: cancelled, flagged */
    assert_int_equal(call(&e, 4), 0);
    assert_true(RUN_FOR(&e, 5000, e.replies == 2));
    assert_true(e.last.toobig);
    assert_int_equal(e.last.err, BX_HTTP_ECANCELED);
    env_free(&e);
}

/* close waits for work in flight: done runs only after the last hold is
 * released */
static void test_close_waits_for_holds(void **state)
{
    (void)state;
    env e;
    env_init(&e, 0);
    ctl_ctrl_hold(e.c);
    ctl_ctrl *c = e.c;
    ctl_ctrl_close(c, NULL, on_done, &e);
    e.c = NULL;
    for (int i = 0; i < 20; i++)
        uv_run(&e.loop, UV_RUN_NOWAIT);
    assert_int_equal(e.done, 0);
    ctl_ctrl_release(c);
    assert_int_equal(e.done, 1);
    env_free(&e);
}

/* close with a call in flight to an engine that never answers: the call
 * is cancelled (the server sees its client go), done runs once it came
 * back, and the reply callback never runs. */
static void test_close_waits_for_call(void **state)
{
    (void)state;
    env e;
    env_init(&e, 0);
    env_listen(&e, 0);
    assert_int_equal(call(&e, 1024), 0);
    assert_true(RUN_FOR(&e, 5000, e.requests == 1)); /* the server holds it */
    assert_int_equal(ctl_ctrl_inflight(e.c), 1);
    ctl_ctrl_close(e.c, NULL, on_done, &e);
    e.c = NULL;
    assert_int_equal(e.done, 0);
    assert_true(RUN_FOR(&e, 5000, e.done == 1));
    assert_true(RUN_FOR(&e, 5000, e.aborted == 1));
    assert_int_equal(e.replies, 0);
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kicks_coalesce),
        cmocka_unit_test(test_earliest_wake_wins),
        cmocka_unit_test(test_period_ticks),
        cmocka_unit_test(test_no_pass_after_close),
        cmocka_unit_test(test_status_only_on_change),
        cmocka_unit_test(test_events_through_the_store),
        cmocka_unit_test(test_call_reply),
        cmocka_unit_test(test_close_waits_for_holds),
        cmocka_unit_test(test_close_waits_for_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
