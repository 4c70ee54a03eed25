/* gw_worker: what a gateway worker (one event loop) gives every part of
 * the request path: its random numbers and its busy polling. A leaf: it
 * calls into no other gateway file, so the proxy and the lifecycle file
 * (gw_gateway.c) can both use it without calling each other. The worker's
 * struct and its life (init, threads, close) are gw_gateway.c's. */
#include "common/bx_rand.h"
#include "gateway/gw_gateway_int.h"

uint64_t gw_next_random(gw_worker *w)
{
    return bx_splitmix64(&w->rng);
}

/* ---------- busy polling ---------- */

static void gw_spin_idle(uv_idle_t *h)
{
    (void)h; /* being active is the point: the loop polls without sleeping */
}

static void gw_spin_check(uv_check_t *h)
{
    gw_worker *w = h->data;
    if (!w->spin_on || !bx_queue_empty(&w->calls)) return;
    if (uv_hrtime() - w->spin_last_ns > (uint64_t)w->g->cfg.busy_poll_us * 1000) {
        uv_idle_stop(&w->spin);
        w->spin_on = 0;
    }
}

void gw_worker_busy(gw_worker *w)
{
    if (!w->spin_init) return;
    w->spin_last_ns = uv_hrtime();
    if (!w->spin_on && uv_idle_start(&w->spin, gw_spin_idle) == 0) w->spin_on = 1;
}

int gw_worker_spin_init(gw_worker *w)
{
    if (w->g->cfg.busy_poll_us <= 0) return 0;
    if (uv_idle_init(w->loop, &w->spin) != 0) return -1;
    if (uv_check_init(w->loop, &w->spin_check) != 0) {
        uv_close((uv_handle_t *)&w->spin, NULL);
        return -1;
    }
    w->spin_check.data = w;
    w->spin_init = 1;
    return uv_check_start(&w->spin_check, gw_spin_check);
}
