/* ctl_ctrl: the controller skeleton (see ctl_ctrl.h).
 *
 * Two timers: `tick` repeats every period (TICK passes); `kick` is one-shot
 * and armed by ctl_ctrl_kick (at 0 ms) or ctl_ctrl_wake_at (a deadline);
 * kick_due remembers when it fires so that an earlier request wins and
 * repeated kicks arm it once. The last status written per object is a small
 * array searched linearly (a controller has a handful of objects). A call
 * is one allocation: its bookkeeping, the body buffer and a copy of the
 * caller's context; it points back at the skeleton, which therefore lives
 * until the last call came back (inflight). */
#include "ctl/ctl_ctrl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bx_buf.h"
#include "common/bx_log.h"

typedef struct ctl_ctrl_last {
    char name[CTL_NAME_MAX + 1];
    json_t *status; /* the last written (owned) */
} ctl_ctrl_last;

typedef struct ctl_ctrl_watch_reg {
    ctl_watch_cb cb;
    void *ud;
} ctl_ctrl_watch_reg;

struct ctl_ctrl {
    uv_loop_t *loop;
    ctl_objstore *store;
    ctl_ctrl_cfg cfg;
    bx_http_client_opts http_opts;
    int has_http_opts;
    bx_http_client *http; /* made at the first call */
    uv_timer_t tick, kick;
    int handles_open;
    uint64_t kick_due; /* loop ms the kick timer fires; CTL_CTRL_NEVER: not armed */
    int in_pass, kick_pending, closing;
    size_t inflight; /* calls and holds */
    uint64_t passes, status_writes;
    ctl_ctrl_last *last;
    size_t nlast, caplast;
    ctl_ctrl_watch_reg watches[CTL_CTRL_MAX_WATCHES];
    size_t nwatches;
    void *owner;
    void (*done)(void *ud);
    void *done_ud;
};

typedef struct ctl_ctrl_call_st {
    ctl_ctrl *c;
    ctl_ctrl_reply_cb cb;
    int status, toobig;
    size_t max_body;
    bx_buf body;
    max_align_t ctx[]; /* the caller's context, copied */
} ctl_ctrl_call_st;

static const char *ctl_ctrl_log_name(const ctl_ctrl *c)
{
    return c->cfg.log_name ? c->cfg.log_name : c->cfg.kind;
}

/* ---- lifecycle ---- */

static void ctl_ctrl_maybe_done(ctl_ctrl *c)
{
    if (!c->closing || c->inflight || c->handles_open) return;
    void (*done)(void *) = c->done;
    void *ud = c->done_ud, *owner = c->owner;
    free(c);
    free(owner);
    if (done) done(ud);
}

static void ctl_ctrl_on_handle_closed(uv_handle_t *h)
{
    ctl_ctrl *c = h->data;
    c->handles_open--;
    ctl_ctrl_maybe_done(c);
}

static void ctl_ctrl_run(ctl_ctrl *c, ctl_ctrl_why why)
{
    if (c->closing || !c->cfg.pass) return;
    c->in_pass = 1;
    c->kick_pending = 0;
    c->passes++;
    c->cfg.pass(c->cfg.ud, why);
    c->in_pass = 0;
    if (c->kick_pending) {
        c->kick_pending = 0;
        ctl_ctrl_kick(c);
    }
}

static void ctl_ctrl_on_tick(uv_timer_t *t)
{
    ctl_ctrl_run(t->data, CTL_CTRL_TICK);
}

static void ctl_ctrl_on_kick(uv_timer_t *t)
{
    ctl_ctrl *c = t->data;
    c->kick_due = CTL_CTRL_NEVER;
    ctl_ctrl_run(c, CTL_CTRL_KICK);
}

int ctl_ctrl_init(ctl_ctrl **out, uv_loop_t *loop, ctl_objstore *store, const ctl_ctrl_cfg *cfg,
                  char *err, size_t errlen)
{
    *out = NULL;
    ctl_ctrl *c = calloc(1, sizeof(*c));
    if (!c) {
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->loop = loop;
    c->store = store;
    c->cfg = *cfg;
    if (cfg->http) {
        c->http_opts = *cfg->http;
        c->has_http_opts = 1;
    }
    c->cfg.http = NULL;
    c->kick_due = CTL_CTRL_NEVER;
    /* uv_timer_init cannot fail (libuv only fills the handle) */
    (void)uv_timer_init(loop, &c->tick);
    (void)uv_timer_init(loop, &c->kick);
    c->tick.data = c->kick.data = c;
    c->handles_open = 2;
    if (c->cfg.period_ms) {
        int rc = uv_timer_start(&c->tick, ctl_ctrl_on_tick, c->cfg.period_ms, c->cfg.period_ms);
        if (rc != 0) {
            if (err && errlen) snprintf(err, errlen, "timer: %s", uv_strerror(rc));
            ctl_ctrl_close(c, NULL, NULL, NULL); /* frees c from the loop */
            return -1;
        }
    }
    *out = c;
    return 0;
}

void ctl_ctrl_close(ctl_ctrl *c, void *owner, void (*done)(void *ud), void *ud)
{
    if (!c || c->closing) return;
    c->closing = 1;
    c->owner = owner;
    c->done = done;
    c->done_ud = ud;
    for (size_t i = 0; i < c->nwatches; i++)
        ctl_objstore_unwatch(c->store, c->watches[i].cb, c->watches[i].ud);
    c->nwatches = 0;
    for (size_t i = 0; i < c->nlast; i++)
        json_decref(c->last[i].status);
    free(c->last);
    c->last = NULL;
    c->nlast = c->caplast = 0;
    if (c->http) bx_http_client_close(c->http); /* cancels: the calls come back later */
    c->http = NULL;
    uv_timer_stop(&c->tick);
    uv_timer_stop(&c->kick);
    uv_close((uv_handle_t *)&c->tick, ctl_ctrl_on_handle_closed);
    uv_close((uv_handle_t *)&c->kick, ctl_ctrl_on_handle_closed);
}

/* ---- passes and the clock ---- */

void ctl_ctrl_kick(ctl_ctrl *c)
{
    if (!c || c->closing) return;
    if (c->in_pass) {
        c->kick_pending = 1;
        return;
    }
    uint64_t now = uv_now(c->loop);
    if (c->kick_due <= now) return; /* armed to fire at once already */
    c->kick_due = now;
    uv_timer_start(&c->kick, ctl_ctrl_on_kick, 0, 0);
}

void ctl_ctrl_wake_at(ctl_ctrl *c, uint64_t at_ms)
{
    if (!c || c->closing || at_ms == CTL_CTRL_NEVER) return;
    uint64_t now = uv_now(c->loop);
    uint64_t due = at_ms > now ? at_ms : now + 1;
    if (due >= c->kick_due) return; /* an earlier pass is asked for already */
    c->kick_due = due;
    uv_timer_start(&c->kick, ctl_ctrl_on_kick, due - now, 0);
}

uint64_t ctl_ctrl_now(const ctl_ctrl *c)
{
    return uv_now(c->loop);
}

int64_t ctl_ctrl_wall_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t ctl_ctrl_passes(const ctl_ctrl *c)
{
    return c->passes;
}

int ctl_ctrl_closing(const ctl_ctrl *c)
{
    return c->closing;
}

/* ---- the object store ---- */

ctl_objstore *ctl_ctrl_store(const ctl_ctrl *c)
{
    return c->store;
}

int ctl_ctrl_watch(ctl_ctrl *c, ctl_kind kind, ctl_watch_cb cb, void *ud)
{
    if (c->closing || c->nwatches == CTL_CTRL_MAX_WATCHES) return -1;
    if (ctl_objstore_watch(c->store, kind, cb, ud) != 0) return -1;
    c->watches[c->nwatches++] = (ctl_ctrl_watch_reg){cb, ud};
    return 0;
}

void ctl_ctrl_event(ctl_ctrl *c, const char *name, ctl_event_type type, const char *reason,
                    const char *fmt, ...)
{
    char msg[1024], err[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->cfg.log_events) {
        char em[1024];
        bx_log_escape(em, sizeof(em), msg, BX_LOG_CSTR); /* may quote an engine's answer */
        if (type == CTL_EVENT_WARNING)
            bx_warn("%s %s: %s: %s", ctl_ctrl_log_name(c), name, reason, em);
        else
            bx_info("%s %s: %s: %s", ctl_ctrl_log_name(c), name, reason, em);
    }
    if (ctl_objstore_event(c->store, c->cfg.kind, name, type, reason, msg, err, sizeof(err)) != 0)
        bx_warn("%s %s: cannot record event %s: %s", ctl_ctrl_log_name(c), name, reason, err);
}

static ctl_ctrl_last *ctl_ctrl_last_find(ctl_ctrl *c, const char *name)
{
    for (size_t i = 0; i < c->nlast; i++)
        if (strcmp(c->last[i].name, name) == 0) return &c->last[i];
    return NULL;
}

void ctl_ctrl_forget(ctl_ctrl *c, const char *name)
{
    ctl_ctrl_last *l = ctl_ctrl_last_find(c, name);
    if (!l) return;
    json_decref(l->status);
    *l = c->last[--c->nlast];
}

/* 1 when the store holds exactly status for name (what a controller
 * started over an existing store, or a new leader, would rewrite). */
static int ctl_ctrl_stored_equal(ctl_ctrl *c, const char *name, const json_t *status)
{
    ctl_record r;
    if (ctl_objstore_get(c->store, c->cfg.kind, name, &r, NULL, 0) != 0) return 0;
    int eq = json_equal(r.status, status);
    ctl_record_clear(&r);
    return eq;
}

uint64_t ctl_ctrl_status_writes(const ctl_ctrl *c)
{
    return c->status_writes;
}

int ctl_ctrl_status(ctl_ctrl *c, const char *name, json_t *status)
{
    if (!status) {
        bx_warn("%s %s: status: out of memory", ctl_ctrl_log_name(c), name);
        return -1;
    }
    ctl_ctrl_last *l = ctl_ctrl_last_find(c, name);
    if (l && json_equal(l->status, status)) {
        json_decref(status);
        return 1;
    }
    /* The first status for name: as stored (e.g. by the previous leader,
     * or before a restart)? Then remember it and write nothing. */
    int same = !l && ctl_ctrl_stored_equal(c, name, status);
    if (!same) {
        char err[256];
        int rc = ctl_objstore_set_status(c->store, c->cfg.kind, name, status, err, sizeof(err));
        if (rc < 0) bx_warn("%s %s: cannot write status: %s", ctl_ctrl_log_name(c), name, err);
        if (rc != 0) { /* not stored (no such object yet, or an error): write again next time */
            json_decref(status);
            ctl_ctrl_forget(c, name);
            return -1;
        }
        c->status_writes++;
    }
    if (!l && strlen(name) <= CTL_NAME_MAX) {
        if (c->nlast == c->caplast) {
            size_t cap = c->caplast ? c->caplast * 2 : 8;
            ctl_ctrl_last *nl = realloc(c->last, cap * sizeof(*nl));
            if (nl) {
                c->last = nl;
                c->caplast = cap;
            }
        }
        if (c->nlast < c->caplast) {
            l = &c->last[c->nlast++];
            snprintf(l->name, sizeof(l->name), "%s", name);
            l->status = NULL;
        }
    }
    if (!l) { /* cannot remember it: the next call writes again */
        json_decref(status);
        return same;
    }
    json_decref(l->status);
    l->status = status;
    return same;
}

/* ---- calls ---- */

static void ctl_ctrl_on_response(bx_http_creq *cr, int status, const bx_http_header *h, size_t nh,
                                 void *ud)
{
    (void)cr;
    (void)h;
    (void)nh;
    ((ctl_ctrl_call_st *)ud)->status = status;
}

static void ctl_ctrl_on_data(bx_http_creq *cr, const char *data, size_t len, void *ud)
{
    ctl_ctrl_call_st *k = ud;
    if (k->toobig) return;
    if (k->body.len + len > k->max_body || bx_buf_append(&k->body, data, len) != 0) {
        k->toobig = 1;
        bx_http_client_cancel(cr);
    }
}

static void ctl_ctrl_on_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    ctl_ctrl_call_st *k = ud;
    ctl_ctrl *c = k->c;
    c->inflight--;
    if (!c->closing) {
        ctl_ctrl_reply r = {.err = err,
                            .status = k->status,
                            .body = k->body.data ? k->body.data : "",
                            .len = k->body.len,
                            .toobig = k->toobig};
        k->cb(c->cfg.ud, &r, k->ctx);
    }
    bx_buf_free(&k->body);
    free(k);
    ctl_ctrl_maybe_done(c);
}

int ctl_ctrl_call(ctl_ctrl *c, const bx_http_client_req *req, size_t max_body, ctl_ctrl_reply_cb cb,
                  const void *ctx, size_t ctx_len)
{
    static const bx_http_client_cbs cbs = {ctl_ctrl_on_response, ctl_ctrl_on_data,
                                           ctl_ctrl_on_done};
    if (c->closing) return BX_HTTP_ESTATE;
    if (!cb || ctx_len > CTL_CTRL_MAX_CTX || (ctx_len && !ctx)) return BX_HTTP_ESTATE;
    if (!c->http) {
        int rc = bx_http_client_init(&c->http, c->loop, c->has_http_opts ? &c->http_opts : NULL);
        if (rc != 0) {
            c->http = NULL;
            return rc < 0 ? rc : BX_HTTP_ENOMEM;
        }
    }
    ctl_ctrl_call_st *k = calloc(1, sizeof(*k) + ctx_len);
    if (!k) return BX_HTTP_ENOMEM;
    k->c = c;
    k->cb = cb;
    k->max_body = max_body;
    bx_buf_init(&k->body);
    if (ctx_len) memcpy(k->ctx, ctx, ctx_len);
    int rc = bx_http_client_request(c->http, req, &cbs, k, NULL);
    if (rc != 0) {
        free(k);
        return rc;
    }
    c->inflight++;
    return 0;
}

void ctl_ctrl_hold(ctl_ctrl *c)
{
    c->inflight++;
}

void ctl_ctrl_release(ctl_ctrl *c)
{
    c->inflight--;
    ctl_ctrl_maybe_done(c);
}

size_t ctl_ctrl_inflight(const ctl_ctrl *c)
{
    return c->inflight;
}
