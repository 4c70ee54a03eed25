/* bx_curlm: see bx_curlm.h. Every libuv handle this file opens (the multi's
 * timer, one poll per socket) is counted; close ends with curl_multi_cleanup
 * once the timer has closed, and m is freed when the last handle has.
 * Adds and removes asked for while curl_multi_socket_action is running (from
 * a transfer's callback) wait in a queue that is run right after it returns,
 * because libcurl refuses them then (CURLM_RECURSIVE_API_CALL). */
#include "common/bx_curlm.h"

#include <stdlib.h>

#include "common/bx_log.h"
#include "common/bx_queue.h"

struct bx_curlm {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    bx_curlm_done_cb done;
    void *ud;
    bx_queue socks;   /* every live socket watcher */
    bx_queue pending; /* adds/removes asked for inside socket_action */
    int open_handles;
    int in_action; /* inside curl_multi_socket_action */
    int closing;
    void (*closed_cb)(void *);
    void *closed_ud;
};

struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    bx_curlm *m;
    bx_queue node;
};

enum { OP_ADD, OP_REMOVE };

struct op {
    bx_queue node;
    CURL *easy;
    int kind;
};

static void maybe_free(bx_curlm *m)
{
    if (!m->closing || m->open_handles > 0) return;
    void (*cb)(void *) = m->closed_cb;
    void *ud = m->closed_ud;
    free(m);
    if (cb) cb(ud);
}

static int add_now(bx_curlm *m, CURL *easy)
{
    CURLMcode e = curl_multi_add_handle(m->multi, easy);
    if (e != CURLM_OK) {
        bx_error("curl_multi_add_handle: %s", curl_multi_strerror(e));
        return -1;
    }
    return 0;
}

/* The queue of adds/removes asked for inside socket_action. */
static void run_pending(bx_curlm *m)
{
    bx_queue *q;
    while ((q = bx_queue_head(&m->pending))) {
        struct op *o = bx_container_of(q, struct op, node);
        bx_queue_remove(q);
        CURL *easy = o->easy;
        int kind = o->kind;
        free(o);
        if (kind == OP_REMOVE)
            curl_multi_remove_handle(m->multi, easy);
        else if (m->closing || add_now(m, easy) != 0)
            m->done(m->ud, easy, CURLE_FAILED_INIT);
    }
}

static void check_done(bx_curlm *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result;
        curl_multi_remove_handle(m->multi, easy);
        m->done(m->ud, easy, rc);
    }
}

static void action(bx_curlm *m, curl_socket_t fd, int flags)
{
    int running;
    m->in_action = 1;
    curl_multi_socket_action(m->multi, fd, flags, &running);
    m->in_action = 0;
    run_pending(m);
    check_done(m);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sock *s = h->data;
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    action(s->m, s->fd, flags);
}

static void on_timer(uv_timer_t *t)
{
    action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    bx_curlm *m = userp;
    (void)multi;
    if (timeout_ms < 0) {
        uv_timer_stop(&m->timer);
        return 0;
    }
    if (m->closing) return 0;
    /* 0 means "call socket_action now": do it from the loop, not from
     * inside curl, with a zero timer. */
    return uv_timer_start(&m->timer, on_timer, (uint64_t)timeout_ms, 0) == 0 ? 0 : -1;
}

static void sock_closed(uv_handle_t *h)
{
    struct sock *s = h->data;
    bx_curlm *m = s->m;
    free(s);
    m->open_handles--;
    maybe_free(m);
}

static void sock_drop(struct sock *s)
{
    uv_poll_stop(&s->poll);
    bx_queue_remove(&s->node);
    uv_close((uv_handle_t *)&s->poll, sock_closed);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    bx_curlm *m = userp;
    struct sock *s = socketp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(m->multi, fd, NULL);
            sock_drop(s);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s) return -1;
        s->fd = fd;
        s->m = m;
        if (uv_poll_init_socket(m->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        m->open_handles++;
        bx_queue_insert_tail(&m->socks, &s->node);
        curl_multi_assign(m->multi, fd, s);
    }
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
    return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

bx_curlm *bx_curlm_new(uv_loop_t *loop, bx_curlm_done_cb done, void *ud)
{
    bx_curlm *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->loop = loop;
    m->done = done;
    m->ud = ud;
    bx_queue_init(&m->socks);
    bx_queue_init(&m->pending);
    m->multi = curl_multi_init();
    if (!m->multi || uv_timer_init(loop, &m->timer) != 0) {
        if (m->multi) curl_multi_cleanup(m->multi);
        free(m);
        return NULL;
    }
    m->timer.data = m;
    m->open_handles = 1;
    CURLMcode e = curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    if (!e) e = curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
    if (!e) e = curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    if (!e) e = curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
    if (e) {
        bx_error("curl_multi_setopt: %s", curl_multi_strerror(e));
        /* the timer is a live handle: it closes through the loop */
        bx_curlm_close(m, NULL, NULL);
        return NULL;
    }
    return m;
}

CURLM *bx_curlm_multi(bx_curlm *m)
{
    return m->multi;
}

static int queue_op(bx_curlm *m, CURL *easy, int kind)
{
    struct op *o = malloc(sizeof(*o));
    if (!o) return -1;
    o->easy = easy;
    o->kind = kind;
    bx_queue_insert_tail(&m->pending, &o->node);
    return 0;
}

int bx_curlm_add(bx_curlm *m, CURL *easy)
{
    if (m->closing) return -1;
    if (m->in_action) return queue_op(m, easy, OP_ADD);
    return add_now(m, easy);
}

int bx_curlm_remove(bx_curlm *m, CURL *easy)
{
    if (!m->in_action) {
        curl_multi_remove_handle(m->multi, easy);
        return 0;
    }
    /* An add still queued is simply dropped. */
    bx_queue *q;
    BX_QUEUE_FOREACH(q, &m->pending)
    {
        struct op *o = bx_container_of(q, struct op, node);
        if (o->easy == easy && o->kind == OP_ADD) {
            bx_queue_remove(q);
            free(o);
            return 0;
        }
    }
    if (queue_op(m, easy, OP_REMOVE) != 0) {
        bx_error("bx_curlm: out of memory queueing a remove");
        return -1;
    }
    return 1;
}

static void timer_closed(uv_handle_t *h)
{
    bx_curlm *m = h->data;
    /* Nothing is inside curl now: the queue only holds removes (adds fail
     * once closing); run them, then cleanup closes the cached connections,
     * and whatever socket curl did not tell us about is dropped here. */
    run_pending(m);
    curl_multi_cleanup(m->multi);
    m->multi = NULL;
    while (!bx_queue_empty(&m->socks))
        sock_drop(bx_container_of(bx_queue_head(&m->socks), struct sock, node));
    m->open_handles--;
    maybe_free(m);
}

void bx_curlm_close(bx_curlm *m, void (*closed_cb)(void *ud), void *ud)
{
    if (m->closing) return;
    m->closing = 1;
    m->closed_cb = closed_cb;
    m->closed_ud = ud;
    uv_timer_stop(&m->timer);
    uv_close((uv_handle_t *)&m->timer, timer_closed);
}
