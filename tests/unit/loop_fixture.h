/* Shared by the unit tests that drive a libuv loop until something happens
 * (test_gw_discovery, test_gw_scrape, test_ctl_orch_local, test_ctl_lora,
 * test_ctl_autoscale): RUN_UNTIL.
 * Header-only. Include after <cmocka.h> and <uv.h>. */
#ifndef LOOP_FIXTURE_H
#define LOOP_FIXTURE_H

#include <stdint.h>
#include <uv.h>

/* Loop time RUN_UNTIL waits before it fails a test: generous, so that a
 * busy machine does not fail it; a passing test never waits for it. */
#define LOOP_FIXTURE_DEADLINE_MS 20000

static inline void loop_fixture_beat(uv_timer_t *t)
{
    (void)t;
}

/* Runs loop (a uv_loop_t *) one iteration at a time (UV_RUN_ONCE) until
 * cond holds, and fails the test, naming cond, when LOOP_FIXTURE_DEADLINE_MS
 * of loop time passed first. cond is read before each iteration. A beat
 * timer (every LOOP_FIXTURE_BEAT_MS) wakes the loop while it waits, so a
 * condition on time alone is seen and the deadline is always checked; it is
 * closed before RUN_UNTIL returns. */
#define LOOP_FIXTURE_BEAT_MS 20
#define RUN_UNTIL(loop, cond)                                                                      \
    do {                                                                                           \
        uv_loop_t *l_ = (loop);                                                                    \
        uv_timer_t beat_;                                                                          \
        uv_timer_init(l_, &beat_);                                                                 \
        uv_timer_start(&beat_, loop_fixture_beat, LOOP_FIXTURE_BEAT_MS, LOOP_FIXTURE_BEAT_MS);     \
        uv_update_time(l_);                                                                        \
        uint64_t t0_ = uv_now(l_);                                                                 \
        int ok_;                                                                                   \
        while (!(ok_ = !!(cond))) {                                                                \
            uv_update_time(l_);                                                                    \
            if (uv_now(l_) - t0_ > LOOP_FIXTURE_DEADLINE_MS) break;                                \
            uv_run(l_, UV_RUN_ONCE);                                                               \
        }                                                                                          \
        uv_close((uv_handle_t *)&beat_, NULL);                                                     \
        uv_run(l_, UV_RUN_NOWAIT);                                                                 \
        if (!ok_) fail_msg("timed out waiting for: %s", #cond);                                    \
    } while (0)

#endif
