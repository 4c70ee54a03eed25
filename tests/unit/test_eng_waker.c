/* Tests for eng_waker, the engine's sub-millisecond one-shot wake-up: it
 * fires once per arm, a re-arm replaces the pending one, a stop cancels it,
 * it can re-arm itself from its callback, and closing it releases every
 * handle (uv_loop_close succeeds). No wall-clock bound is asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/eng_waker.h"

#include <string.h>

typedef struct fx {
    uv_loop_t loop;
    uv_timer_t hold; /* keeps the loop running: the waker alone does not */
    eng_waker w;
    int fired;
    int rearm; /* re-arms from the callback this many more times */
} fx;

static void on_wake(eng_waker *w)
{
    fx *f = w->data;
    f->fired++;
    if (f->rearm > 0) {
        f->rearm--;
        assert_int_equal(eng_waker_start(w, 50 * 1000), 0);
    }
}

static void on_hold(uv_timer_t *t)
{
    (void)t;
    fail_msg("the waker did not fire within a minute");
}

static void fx_open(fx *f)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->hold), 0);
    assert_int_equal(uv_timer_start(&f->hold, on_hold, 60000, 0), 0);
    assert_int_equal(eng_waker_init(&f->loop, &f->w, on_wake, f), 0);
}

static void run_until_fired(fx *f, int n)
{
    while (f->fired < n)
        uv_run(&f->loop, UV_RUN_ONCE);
}

static void on_wait_over(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* Runs the loop until a ms-millisecond timer fires. */
static void run_for(fx *f, uint64_t ms)
{
    int over = 0;
    uv_timer_t t;
    assert_int_equal(uv_timer_init(&f->loop, &t), 0);
    t.data = &over;
    assert_int_equal(uv_timer_start(&t, on_wait_over, ms, 0), 0);
    while (!over)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void fx_close(fx *f)
{
    eng_waker_close(&f->w);
    uv_close((uv_handle_t *)&f->hold, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void test_fires_once(void **state)
{
    (void)state;
    fx f;
    fx_open(&f);
    assert_int_equal(eng_waker_start(&f.w, 200 * 1000), 0); /* 200 us */
    run_until_fired(&f, 1);
    run_for(&f, 5);
    assert_int_equal(f.fired, 1);                  /* one-shot */
    assert_int_equal(eng_waker_start(&f.w, 0), 0); /* zero: at once, not never */
    run_until_fired(&f, 2);
    fx_close(&f);
}

static void test_rearm_replaces_and_stop_cancels(void **state)
{
    (void)state;
    fx f;
    fx_open(&f);
    assert_int_equal(eng_waker_start(&f.w, 200 * 1000 * 1000), 0); /* 200 ms */
    assert_int_equal(eng_waker_start(&f.w, 100 * 1000), 0);        /* replaced: 100 us */
    run_until_fired(&f, 1);
    run_for(&f, 300); /* the 200 ms arm, had it stayed, would fire again */
    assert_int_equal(f.fired, 1);
    assert_int_equal(eng_waker_start(&f.w, 100 * 1000), 0);
    eng_waker_stop(&f.w);
    run_for(&f, 5);
    assert_int_equal(f.fired, 1);
    fx_close(&f);
}

static void test_rearm_from_callback(void **state)
{
    (void)state;
    fx f;
    fx_open(&f);
    f.rearm = 99;
    assert_int_equal(eng_waker_start(&f.w, 50 * 1000), 0);
    run_until_fired(&f, 100);
    run_for(&f, 5);
    assert_int_equal(f.fired, 100);
    fx_close(&f);
}

static void test_close_armed(void **state)
{
    (void)state;
    fx f;
    fx_open(&f);
    assert_int_equal(eng_waker_start(&f.w, 1000 * 1000), 0);
    fx_close(&f); /* uv_loop_close inside: nothing left open */
    assert_int_equal(f.fired, 0);
}

/* Where timerfd is missing or failed, the millisecond timer wakes. */
static void test_timer_fallback(void **state)
{
    (void)state;
    fx f;
    fx_open(&f);
    f.w.use_timer = 1;
    f.rearm = 2;
    assert_int_equal(eng_waker_start(&f.w, 100 * 1000), 0);
    run_until_fired(&f, 3);
    eng_waker_stop(&f.w);
    run_for(&f, 5);
    assert_int_equal(f.fired, 3);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_once),
        cmocka_unit_test(test_rearm_replaces_and_stop_cancels),
        cmocka_unit_test(test_rearm_from_callback),
        cmocka_unit_test(test_close_armed),
        cmocka_unit_test(test_timer_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
