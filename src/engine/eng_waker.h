/* eng_waker: a one-shot wake-up on a libuv loop after a delay given in
 * nanoseconds. libuv's timers count whole milliseconds; at --time-scale 1000
 * a millisecond is a simulated second, dozens of decode steps, so a step
 * timer rounded up to it made every answer take at least a millisecond
 * whatever the timing model said. On Linux the waker is a timerfd the loop
 * polls (microsecond precision, one syscall to arm and one to fire); where
 * timerfd is missing or fails it falls back to a uv_timer rounded up to
 * milliseconds.
 *
 * The waker owns its fd and handles: eng_waker_close releases them through
 * the loop's close callbacks, so the struct must stay alive until the loop
 * has run once after the close. Its handles are unreferenced: an armed
 * waker alone does not keep the loop running. */
#ifndef ENG_WAKER_H
#define ENG_WAKER_H

#include <stdint.h>
#include <uv.h>

typedef struct eng_waker eng_waker;
typedef void (*eng_waker_cb)(eng_waker *w);

struct eng_waker {
    uv_poll_t poll;   /* on fd, when fd >= 0 */
    uv_timer_t timer; /* the fallback */
    int fd;           /* the timerfd, or -1 */
    int use_timer;    /* no working timerfd: the timer wakes */
    int open;
    eng_waker_cb cb;
    void *data; /* the caller's */
};

/* 0, or a negative libuv error when not even the fallback timer could be
 * made. */
int eng_waker_init(uv_loop_t *loop, eng_waker *w, eng_waker_cb cb, void *data);
/* Arms (or re-arms) the waker to call cb once, delay_ns from now. 0, or a
 * negative libuv error (UV_EINVAL on a closed waker). */
int eng_waker_start(eng_waker *w, uint64_t delay_ns);
void eng_waker_stop(eng_waker *w);
/* Stops it and releases the fd and handles (safe on a waker never opened). */
void eng_waker_close(eng_waker *w);

#endif
