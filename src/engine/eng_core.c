/* eng_core: what every part of the engine uses: the simulated clock,
 * random numbers, the per-request call records, the step loop that drives
 * the scheduler (eng_sched) on its waker, the KV-event hooks and model-name
 * checks. A leaf below eng_server.c (lifecycle, routing), eng_generate.c and
 * eng_endpoints.c: it calls none of them, so none of them calls in a circle.
 * Shared structs are in eng_server_int.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bx_rand.h"
#include "common/bx_log.h"
#include "engine/eng_offload.h"
#include "engine/eng_server_int.h"

/* ---------- small helpers ---------- */

double eng_now(const eng_server *s)
{
    return (double)(uv_hrtime() - s->wall0_ns) / 1e9 * s->cfg.time_scale;
}

double eng_wall_elapsed(const eng_server *s)
{
    return (double)(uv_hrtime() - s->wall0_ns) / 1e9;
}

double eng_unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double eng_uniform(uint64_t *x)
{
    return (double)(bx_splitmix64(x) >> 11) / 9007199254740992.0;
}

double eng_gauss(uint64_t *x)
{
    double u1 = eng_uniform(x), u2 = eng_uniform(x);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---------- call lifecycle ---------- */

static void eng_call_freed(uv_handle_t *h)
{
    eng_call *c = h->data;
    eng_req_free(&c->req);
    bx_buf_free(&c->text);
    free(c);
}

void eng_call_release(eng_call *c)
{
    eng_server *s = c->srv;
    bx_queue_remove(&c->node);
    eng_pd_call_release(c);
    if (c->in_frontend) s->frontend_pending--;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, eng_call_freed);
}

eng_call *eng_call_new(eng_server *s, bx_http_res *res)
{
    eng_call *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->srv = s;
    c->res = res;
    c->lora = -1;
    bx_buf_init(&c->text);
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    bx_queue_insert_head(&s->calls, &c->node);
    return c;
}

/* ---------- step loop ---------- */

void eng_kv_flush(eng_server *s)
{
    if (!s->kv_on) return;
    eng_kvpub_flush(&s->kvpub, eng_unix_now());
    /* ZMQ_FD is edge-triggered: keep long replay answers moving */
    if (eng_kvpub_replay_active(&s->kvpub) > 0) eng_kvpub_replay_poll(&s->kvpub);
}

/* Plans a step starting at t0; arms the timer for its end. */
static int eng_step_begin(eng_server *s, double t0)
{
    eng_step_work w;
    int n = eng_sched_plan(&s->sched, t0, &w);
    if (n == 0 && s->sched.num_running == 0) {
        /* the timer ran late and the only waiting requests arrived after t0:
         * the GPU idles until the first of them */
        double next = eng_sched_next_arrival(&s->sched);
        if (next > t0) {
            eng_sched_commit(&s->sched, t0);
            t0 = next;
            n = eng_sched_plan(&s->sched, t0, &w);
        }
    }
    if (n == 0) {
        s->stepping = 0;
        eng_sched_commit(&s->sched, t0);
        eng_kv_flush(s);
        return 0;
    }
    double d = eng_timing_step(s->prof, &w);
    if (s->cfg.jitter > 0) {
        double f = 1.0 + s->cfg.jitter * eng_gauss(&s->rng);
        d *= f < 0.5 ? 0.5 : f;
    }
    eng_metrics_iteration(s->metrics, w.tokens);
    s->step_end = t0 + d;
    s->stepping = 1;
    return 1;
}

static void eng_step_arm(eng_server *s)
{
    double wait_s = (s->step_end - eng_now(s)) / s->cfg.time_scale;
    uint64_t ns = wait_s > 0 ? (uint64_t)ceil(wait_s * 1e9) : 0;
    if (eng_waker_start(&s->step_waker, ns) != 0) bx_error("cannot arm the step timer");
}

void eng_kick(eng_server *s)
{
    if (s->stepping || !eng_sched_has_work(&s->sched)) return;
    double now = eng_now(s);
    if (eng_step_begin(s, now > s->step_end ? now : s->step_end)) eng_step_arm(s);
}

void eng_step_timer_cb(eng_waker *w)
{
    eng_server *s = w->data;
    double now = eng_now(s);
    int guard = 0;
    for (;;) {
        double end = s->step_end;
        eng_sched_commit(&s->sched, end);
        eng_kv_flush(s);
        s->stepping = 0;
        if (!eng_sched_has_work(&s->sched)) return;
        if (!eng_step_begin(s, end)) return;
        if (s->step_end > now || ++guard > 10000) break;
    }
    eng_step_arm(s);
}

void eng_on_stored(eng_seq *q, int32_t first, int32_t n, void *ud)
{
    eng_server *s = ud;
    if (s->offload) eng_offload_seq_stored(s->offload, q, first, n);
    if (!s->kv_on) return;
    int32_t bs = s->sched.cfg.block_size;
    bx_kvev_event ev = {.type = BX_KVEV_BLOCK_STORED,
                        .block_hashes = q->keys + first,
                        .n_hashes = (size_t)n,
                        .medium = BX_KVEV_MEDIUM_GPU,
                        .has_parent = first > 0,
                        .parent_block_hash = first > 0 ? q->keys[first - 1] : 0,
                        .token_ids = q->tokens + (size_t)first * bs,
                        .n_tokens = (size_t)n * bs,
                        .block_size = (uint32_t)bs};
    if (q->lora >= 0) {
        ev.has_lora_id = true;
        ev.lora_id = s->sched.lora.a[q->lora].id;
        ev.lora_name = s->sched.lora.a[q->lora].name;
    }
    eng_kvpub_block_stored(&s->kvpub, &ev);
}

void eng_on_removed(uint64_t key, void *ud)
{
    eng_server *s = ud;
    if (s->kv_on) eng_kvpub_block_removed(&s->kvpub, &key, 1);
}

int eng_name_ok(const char *n)
{
    if (!*n || strlen(n) >= ENG_LORA_NAME_MAX) return 0;
    for (const unsigned char *p = (const unsigned char *)n; *p; p++)
        if (*p < 0x20 || *p == '"' || *p == '\\' || *p == 0x7f) return 0;
    return 1;
}

/* Resolves the request's model to the base model (-1) or an adapter. */
int eng_resolve_model(eng_server *s, const char *model, int *lora)
{
    *lora = -1;
    if (!model || !strcmp(model, s->served)) return 0;
    if (s->cfg.enable_lora) {
        int i = eng_lora_find(&s->sched.lora, model);
        if (i >= 0) {
            *lora = i;
            return 0;
        }
    }
    return -1;
}
