/* eng_waker: see eng_waker.h. */
#include "engine/eng_waker.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/timerfd.h>
#endif

static void eng_waker_timer_cb(uv_timer_t *t)
{
    eng_waker *w = t->data;
    w->cb(w);
}

#ifdef __linux__
static void eng_waker_poll_cb(uv_poll_t *h, int status, int events)
{
    eng_waker *w = h->data;
    (void)events;
    if (status < 0) {
        /* libuv stopped the poll: the millisecond timer takes over, and
         * this wake-up is delivered now rather than lost */
        w->use_timer = 1;
        w->cb(w);
        return;
    }
    uint64_t expirations;
    /* clears the fd's readiness; EAGAIN when a re-arm beat us to it */
    if (read(w->fd, &expirations, sizeof expirations) != (ssize_t)sizeof expirations) return;
    w->cb(w);
}
#endif

int eng_waker_init(uv_loop_t *loop, eng_waker *w, eng_waker_cb cb, void *data)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    w->cb = cb;
    w->data = data;
    int rc = uv_timer_init(loop, &w->timer);
    if (rc != 0) return rc;
    w->timer.data = w;
    uv_unref((uv_handle_t *)&w->timer);
    w->open = 1;
    w->use_timer = 1;
#ifdef __linux__
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0) return 0; /* the timer alone */
    if (uv_poll_init(loop, &w->poll, fd) != 0) {
        close(fd);
        return 0;
    }
    w->fd = fd;
    w->poll.data = w;
    uv_unref((uv_handle_t *)&w->poll);
    if (uv_poll_start(&w->poll, UV_READABLE, eng_waker_poll_cb) == 0) w->use_timer = 0;
#endif
    return 0;
}

int eng_waker_start(eng_waker *w, uint64_t delay_ns)
{
    if (!w->open) return UV_EINVAL;
#ifdef __linux__
    if (!w->use_timer) {
        if (delay_ns == 0) delay_ns = 1; /* a zero it_value disarms */
        struct itimerspec its = {0};
        its.it_value.tv_sec = (time_t)(delay_ns / 1000000000u);
        its.it_value.tv_nsec = (long)(delay_ns % 1000000000u);
        if (timerfd_settime(w->fd, 0, &its, NULL) == 0) return 0;
        w->use_timer = 1; /* cannot happen on our own fd; if it does, keep going */
    }
#endif
    return uv_timer_start(&w->timer, eng_waker_timer_cb, (delay_ns + 999999u) / 1000000u, 0);
}

void eng_waker_stop(eng_waker *w)
{
    if (!w->open) return;
#ifdef __linux__
    if (w->fd >= 0) {
        struct itimerspec its = {0};
        (void)timerfd_settime(w->fd, 0, &its, NULL); /* disarming our own fd cannot fail */
    }
#endif
    uv_timer_stop(&w->timer);
}

static void eng_waker_poll_closed(uv_handle_t *h)
{
    eng_waker *w = h->data;
    close(w->fd);
    w->fd = -1;
}

void eng_waker_close(eng_waker *w)
{
    if (!w->open) return;
    eng_waker_stop(w);
    w->open = 0;
    if (w->fd >= 0) uv_close((uv_handle_t *)&w->poll, eng_waker_poll_closed);
    uv_close((uv_handle_t *)&w->timer, NULL);
}
