/* ctl_ctrl: the skeleton every controller of the control plane shares
 * (ctl_deploy, ctl_lora, ctl_autoscale). A controller reconciles what its
 * objects want against what runs; what is the same in all of them is here,
 * once, with one lifecycle (libuv's: init, kick, close with a done
 * callback):
 *
 *   passes   the controller's pass function runs on the loop:
 *            - CTL_CTRL_TICK every cfg.period_ms (when not 0);
 *            - CTL_CTRL_KICK after ctl_ctrl_kick, on the next loop turn.
 *              Kicks coalesce: any number before the pass runs give one
 *              pass; a kick during a pass gives one more pass after it.
 *              ctl_ctrl_wake_at asks for a KICK pass at a deadline (the
 *              earliest asked wins).
 *   clock    ctl_ctrl_now (the loop's monotonic ms, for deadlines and
 *            windows) and ctl_ctrl_wall_ms (Unix ms, for what is shown).
 *   watch    ctl_ctrl_watch registers with the object store; close
 *            unwatches.
 *   events   ctl_ctrl_event records a Kubernetes-style event on one of the
 *            controller's objects through the object store (optionally
 *            logged too; failures are logged, never fatal).
 *   status   ctl_ctrl_status writes an object's status only when it differs
 *            (json_equal) from the last one this controller wrote for it;
 *            a write that fails is forgotten, so the next one goes through.
 *   calls    ctl_ctrl_call makes an HTTP request to an engine (probe, load,
 *            scrape...) with bx_http_client, collects its body up to a
 *            limit and hands status and body to a callback. Calls in
 *            flight are counted, as is other work (ctl_ctrl_hold, e.g. a
 *            thread-pool job): close waits for all of them.
 *   close    ctl_ctrl_close stops the timers, unwatches, cancels the calls,
 *            and once every handle, call and hold has come back, frees the
 *            skeleton and the controller and runs the done callback. No pass and no reply
 *            callback runs after ctl_ctrl_close returns.
 *
 * Threads and ownership: everything runs on the loop thread. The skeleton
 * is heap-allocated and opaque; it borrows the loop and the store (both
 * outlive it) and copies cfg (strings: kind and log_name are borrowed, use
 * literals). The context given to ctl_ctrl_call is copied into the call;
 * the reply's body is valid only during the callback. */
#ifndef CTL_CTRL_H
#define CTL_CTRL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/bx_http.h"
#include "ctl/ctl_objstore.h"

#define CTL_CTRL_NEVER UINT64_MAX
#define CTL_CTRL_MAX_WATCHES 4
#define CTL_CTRL_MAX_CTX 1024 /* bytes of context a call carries */

typedef struct ctl_ctrl ctl_ctrl; /* opaque */

typedef enum ctl_ctrl_why {
    CTL_CTRL_TICK = 0, /* the period */
    CTL_CTRL_KICK,     /* ctl_ctrl_kick or ctl_ctrl_wake_at */
} ctl_ctrl_why;

typedef struct ctl_ctrl_cfg {
    const char *kind;     /* the kind whose status and events it writes: "ModelAdapter" */
    const char *log_name; /* its log lines' prefix ("autoscaler"); NULL: kind */
    uint64_t period_ms;   /* a TICK pass every period; 0: none */
    int log_events;       /* 1: events are logged too (Normal as info, Warning as warn) */
    /* The engine client's options; NULL: bx_http's defaults. Copied. */
    const bx_http_client_opts *http;
    /* The pass (may be NULL for a controller without passes). */
    void (*pass)(void *ud, ctl_ctrl_why why);
    void *ud; /* for pass and the call callbacks */
} ctl_ctrl_cfg;

/* 0 and *out, or -1 with a message (nothing then to close). */
int ctl_ctrl_init(ctl_ctrl **out, uv_loop_t *loop, ctl_objstore *store, const ctl_ctrl_cfg *cfg,
                  char *err, size_t errlen);

/* ---- passes and the clock ---- */

void ctl_ctrl_kick(ctl_ctrl *c);
/* A KICK pass at loop time at_ms (ctl_ctrl_now's clock); at least 1 ms
 * from now. CTL_CTRL_NEVER is ignored. */
void ctl_ctrl_wake_at(ctl_ctrl *c, uint64_t at_ms);
uint64_t ctl_ctrl_now(const ctl_ctrl *c);
int64_t ctl_ctrl_wall_ms(void);
/* Passes run so far. */
uint64_t ctl_ctrl_passes(const ctl_ctrl *c);
/* 1 once ctl_ctrl_close was called. */
int ctl_ctrl_closing(const ctl_ctrl *c);

/* ---- the object store ---- */

ctl_objstore *ctl_ctrl_store(const ctl_ctrl *c);
/* ctl_objstore_watch, undone by close. At most CTL_CTRL_MAX_WATCHES. 0/-1. */
int ctl_ctrl_watch(ctl_ctrl *c, ctl_kind kind, ctl_watch_cb cb, void *ud);
/* Records an event on (cfg.kind, name); the message is printf-formatted.
 * Logged with bx_log_escape when cfg.log_events. */
void ctl_ctrl_event(ctl_ctrl *c, const char *name, ctl_event_type type, const char *reason,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Writes status (stolen; NULL = out of memory, logged) as the status of
 * (cfg.kind, name) unless it equals the last one written for name, or, for
 * the first one since the controller started (or forgot name), the one the
 * store holds (a restart or a new leader rewrites nothing). 0 written, 1
 * unchanged (not written), -1 not written (no such object, or an error,
 * logged): the next call writes again. */
int ctl_ctrl_status(ctl_ctrl *c, const char *name, json_t *status);
/* Status writes sent to the store so far (not the unchanged ones). */
uint64_t ctl_ctrl_status_writes(const ctl_ctrl *c);
/* Forgets the last status written for name (its object went away or starts
 * over): the next ctl_ctrl_status for it writes. */
void ctl_ctrl_forget(ctl_ctrl *c, const char *name);

/* ---- calls to engines and other work in flight ---- */

typedef struct ctl_ctrl_reply {
    int err;          /* 0 or a BX_HTTP_E* code (BX_HTTP_ECANCELED when too big) */
    int status;       /* the HTTP status; 0 when none came */
    const char *body; /* NUL-terminated; "" when none */
    size_t len;
    int toobig; /* the body went over max_body: the call was cancelled */
} ctl_ctrl_reply;

/* Runs once per call, from the loop, unless the skeleton is closing. ctx
 * is the call's copy of the context (writable, valid during the call). */
typedef void (*ctl_ctrl_reply_cb)(void *ud, const ctl_ctrl_reply *r, void *ctx);

/* Starts req (its strings and body are copied) and collects up to max_body
 * bytes of the answer; ctx (ctx_len <= CTL_CTRL_MAX_CTX bytes, may be NULL
 * with 0) is copied into the call. 0, or a negative code (then cb never
 * runs). */
int ctl_ctrl_call(ctl_ctrl *c, const bx_http_client_req *req, size_t max_body, ctl_ctrl_reply_cb cb,
                  const void *ctx, size_t ctx_len);
/* Other work in flight that close must wait for (a thread-pool job): hold
 * when it starts, release when it came back. */
void ctl_ctrl_hold(ctl_ctrl *c);
void ctl_ctrl_release(ctl_ctrl *c);
/* Calls and holds in flight. */
size_t ctl_ctrl_inflight(const ctl_ctrl *c);

/* ---- close ---- */

/* Stops passes, unwatches, cancels the calls. Once the timers are closed
 * and nothing is in flight (from the loop), the skeleton is freed, then
 * owner (may be NULL: the controller's own malloc'd struct, so that what
 * comes back in flight finds it alive until then) is freed, then done(ud)
 * (may be NULL) runs. The loop must keep running. */
void ctl_ctrl_close(ctl_ctrl *c, void *owner, void (*done)(void *ud), void *ud);

#endif
