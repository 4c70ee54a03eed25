/* gw_scrape: see gw_scrape.h. One uv timer starts a round; each engine has
 * a small state (request in flight, reused body buffer, previous histogram
 * sums and counts) in a table indexed by the registry's stable engine id.
 * Parsing is split from I/O: gw_scrape_extract reads a parsed document and
 * gw_scrape_apply turns samples into the engine's fields. */
#include "gateway/gw_scrape.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_buf.h"
#include "common/bx_log.h"

enum { GW_H_QUEUE, GW_H_PREFILL, GW_H_DECODE, GW_H_TTFT, GW_H_N };

typedef struct gw_scrape_hist {
    double sum, count; /* at the previous good scrape */
    int have;
    double window_mean; /* last mean over new observations */
    int have_window;
} gw_scrape_hist;

typedef struct gw_scrape_eng {
    gw_scrape *s;
    int id;
    bx_http_creq *cr;
    int status;
    int toobig;
    int failing; /* last scrape failed (log state changes only) */
    int stale;   /* metrics cleared */
    int unreach; /* consecutive scrapes that reached nothing (timeout, refused, reset) */
    bx_buf body;
    gw_scrape_hist hist[GW_H_N];
} gw_scrape_eng;

struct gw_scrape {
    uv_loop_t *loop;
    gw_registry *reg;
    bx_http_client *client;
    int own_client;
    gw_scrape_opts opts;
    char path[256];
    uv_timer_t timer;
    int running, closing, timer_closed;
    int inflight;
    gw_scrape_eng **eng; /* GW_MAX_ENGINES slots, by engine id */
    gw_scrape_stats stats;
    void (*close_cb)(void *ud);
    void *close_ud;
};

void gw_scrape_opts_default(gw_scrape_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->interval_ms = 1000;
    o->timeout_ms = 3000;
    o->down_after = 2;
    o->max_body_bytes = 4u << 20;
    o->path = "/metrics";
}

/* ---- reading a document ---- */

/* Sum (or mean) of the series of name: those labelled model_name = model
 * when there are any, else all. NaN when none. */
static double gw_scrape_pick(const bx_prom_doc *doc, const char *name, const char *model, int mean)
{
    size_t found = 0;
    double v = 0;
    if (model && model[0]) v = bx_prom_sum(doc, name, "model_name", model, &found);
    if (!found) v = bx_prom_sum(doc, name, NULL, NULL, &found);
    if (!found) return NAN;
    return mean ? v / (double)found : v;
}

/* The first of names (NULL-terminated) that the engine exports. */
static double gw_scrape_pick_any(const bx_prom_doc *doc, const char *const *names,
                                 const char *model, int mean)
{
    for (; *names; names++) {
        double v = gw_scrape_pick(doc, *names, model, mean);
        if (!isnan(v)) return v;
    }
    return NAN;
}

#define GW_NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

static void gw_scrape_hist_pick(const bx_prom_doc *doc, const char *family, const char *model,
                                double *sum, double *count)
{
    char n[160];
    snprintf(n, sizeof(n), "%s_sum", family);
    *sum = gw_scrape_pick(doc, n, model, 0);
    snprintf(n, sizeof(n), "%s_count", family);
    *count = gw_scrape_pick(doc, n, model, 0);
    if (isnan(*sum) || isnan(*count)) *sum = *count = NAN;
}

static const char *const gw_hq_names[GW_HQ_N] = {"time_to_first_token_seconds",
                                                 "time_per_output_token_seconds",
                                                 "e2e_request_latency_seconds",
                                                 "request_queue_time_seconds",
                                                 "request_inference_time_seconds",
                                                 "request_prefill_time_seconds",
                                                 "request_decode_time_seconds",
                                                 "iteration_tokens_total",
                                                 "request_prompt_tokens",
                                                 "request_generation_tokens",
                                                 "request_max_num_generation_tokens"};

const char *gw_scrape_hq_name(int i)
{
    return i >= 0 && i < GW_HQ_N ? gw_hq_names[i] : NULL;
}

double gw_scrape_quantile(const bx_prom_hist_view *h, double q)
{
    if (h->nbuckets == 0) return NAN;
    double total = h->cum[h->nbuckets - 1];
    if (!(total > 0)) return NAN;
    double rank = q * total, lo = 0, below = 0;
    for (size_t i = 0; i < h->nbuckets; i++) {
        if (h->cum[i] >= rank) {
            if (isinf(h->le[i])) return lo; /* in +Inf: the highest finite bound */
            double in = h->cum[i] - below;
            return in > 0 ? lo + (h->le[i] - lo) * (rank - below) / in : h->le[i];
        }
        lo = h->le[i];
        below = h->cum[i];
    }
    return lo;
}

static void gw_scrape_hq(const bx_prom_doc *doc, const char *model, gw_scrape_sample *o)
{
    static const double qs[3] = {0.5, 0.9, 0.99};
    for (int i = 0; i < GW_HQ_N; i++) {
        char fam[96];
        snprintf(fam, sizeof(fam), "vllm:%s", gw_hq_names[i]);
        bx_prom_hist_view h;
        int ok = (model && model[0] && bx_prom_histogram(doc, fam, "model_name", model, &h) == 0) ||
                 bx_prom_histogram(doc, fam, NULL, NULL, &h) == 0;
        for (int k = 0; k < 3; k++)
            o->hq[i][k] = ok ? gw_scrape_quantile(&h, qs[k]) : NAN;
    }
}

void gw_scrape_extract(const bx_prom_doc *doc, const char *model, gw_scrape_sample *o)
{
    gw_scrape_hq(doc, model, o);
    o->running = gw_scrape_pick_any(
        doc, GW_NAMES("vllm:num_requests_running", "sglang:num_running_reqs"), model, 0);
    o->waiting = gw_scrape_pick_any(
        doc, GW_NAMES("vllm:num_requests_waiting", "sglang:num_queue_reqs"), model, 0);
    o->kv_usage = gw_scrape_pick_any(
        doc, GW_NAMES("vllm:kv_cache_usage_perc", "sglang:token_usage"), model, 1);
    o->gpu_cache_usage = gw_scrape_pick_any(
        doc, GW_NAMES("vllm:gpu_cache_usage_perc", "sglang:token_usage"), model, 1);
    o->cpu_cache_usage = gw_scrape_pick(doc, "vllm:cpu_cache_usage_perc", model, 1);
    o->busy_ratio = gw_scrape_pick_any(
        doc, GW_NAMES("vllm:gpu_busy_time_ratio", "gpu_busy_time_ratio"), model, 1);
    o->prompt_total = gw_scrape_pick_any(
        doc, GW_NAMES("vllm:prompt_tokens_total", "sglang:prompt_tokens_total"), model, 0);
    o->gen_total = gw_scrape_pick_any(
        doc, GW_NAMES("vllm:generation_tokens_total", "sglang:generation_tokens_total"), model, 0);
    gw_scrape_hist_pick(doc, "vllm:request_prompt_tokens", model, &o->prompt_sum, &o->prompt_count);
    gw_scrape_hist_pick(doc, "vllm:request_generation_tokens", model, &o->gen_sum, &o->gen_count);
    gw_scrape_hist_pick(doc, "vllm:request_queue_time_seconds", model, &o->queue_sum,
                        &o->queue_count);
    gw_scrape_hist_pick(doc, "vllm:request_prefill_time_seconds", model, &o->prefill_sum,
                        &o->prefill_count);
    gw_scrape_hist_pick(doc, "vllm:request_decode_time_seconds", model, &o->decode_sum,
                        &o->decode_count);
    gw_scrape_hist_pick(doc, "vllm:time_to_first_token_seconds", model, &o->ttft_sum,
                        &o->ttft_count);
    if (isnan(o->ttft_count))
        gw_scrape_hist_pick(doc, "sglang:time_to_first_token_seconds", model, &o->ttft_sum,
                            &o->ttft_count);
}

/* ---- applying samples to an engine ---- */

static double gw_scrape_rate(double cur, double prev, double dt_s)
{
    if (isnan(cur) || isnan(prev)) return NAN;
    double d = cur >= prev ? cur - prev : cur; /* went down: restarted from 0 */
    return d / dt_s;
}

static double gw_scrape_mean(gw_scrape_hist *h, double sum, double count)
{
    if (isnan(sum) || isnan(count)) {
        memset(h, 0, sizeof(*h));
        return NAN;
    }
    if (h->have && count != h->count) {
        double dc = count > h->count ? count - h->count : count;
        double ds = count > h->count ? sum - h->sum : sum;
        if (dc > 0 && ds >= 0) {
            h->window_mean = ds / dc;
            h->have_window = 1;
        }
    }
    h->sum = sum;
    h->count = count;
    h->have = 1;
    if (h->have_window) return h->window_mean;
    return count > 0 ? sum / count : NAN;
}

static void gw_scrape_apply(gw_engine *e, gw_scrape_eng *se, const gw_scrape_sample *x,
                            uint64_t now)
{
    e->running = x->running;
    e->waiting = x->waiting;
    e->kv_usage = isnan(x->kv_usage) ? x->gpu_cache_usage : x->kv_usage;
    e->gpu_cache_usage = isnan(x->gpu_cache_usage) ? x->kv_usage : x->gpu_cache_usage;
    e->cpu_cache_usage = x->cpu_cache_usage;
    e->busy_ratio = x->busy_ratio;
    if (!e->prev_counters_ms) {
        e->prompt_tps = e->gen_tps = NAN;
    } else if (now > e->prev_counters_ms) {
        double dt = (double)(now - e->prev_counters_ms) / 1000.0;
        e->prompt_tps = gw_scrape_rate(x->prompt_total, e->prev_prompt_total, dt);
        e->gen_tps = gw_scrape_rate(x->gen_total, e->prev_gen_total, dt);
    }
    if (!e->prev_counters_ms || now > e->prev_counters_ms) {
        /* same millisecond as the previous scrape: keep both rates and base */
        e->prev_prompt_total = x->prompt_total;
        e->prev_gen_total = x->gen_total;
        e->prev_counters_ms = now;
    }
    e->avg_prompt_per_req = x->prompt_count > 0 ? x->prompt_sum / x->prompt_count : NAN;
    e->avg_gen_per_req = x->gen_count > 0 ? x->gen_sum / x->gen_count : NAN;
    e->queue_mean_s = gw_scrape_mean(&se->hist[GW_H_QUEUE], x->queue_sum, x->queue_count);
    e->prefill_mean_s = gw_scrape_mean(&se->hist[GW_H_PREFILL], x->prefill_sum, x->prefill_count);
    e->decode_mean_s = gw_scrape_mean(&se->hist[GW_H_DECODE], x->decode_sum, x->decode_count);
    e->ttft_mean_s = gw_scrape_mean(&se->hist[GW_H_TTFT], x->ttft_sum, x->ttft_count);
    memcpy(e->hq, x->hq, sizeof(e->hq));
}

static void gw_scrape_forget(gw_engine *e, gw_scrape_eng *se)
{
    gw_engine_clear_metrics(e);
    e->prev_counters_ms = 0;
    e->prev_prompt_total = e->prev_gen_total = NAN;
    memset(se->hist, 0, sizeof(se->hist));
}

/* ---- I/O ---- */

static void gw_scrape_maybe_free(gw_scrape *s)
{
    if (!s->closing || !s->timer_closed || s->inflight) return;
    for (int i = 0; i < GW_MAX_ENGINES; i++) {
        if (!s->eng[i]) continue;
        bx_buf_free(&s->eng[i]->body);
        free(s->eng[i]);
    }
    free(s->eng);
    if (s->own_client) bx_http_client_close(s->client);
    void (*cb)(void *) = s->close_cb;
    void *ud = s->close_ud;
    free(s);
    if (cb) cb(ud);
}

static void gw_scrape_on_response(bx_http_creq *cr, int status, const bx_http_header *h, size_t n,
                                  void *ud)
{
    (void)cr;
    (void)h;
    (void)n;
    ((gw_scrape_eng *)ud)->status = status;
}

static void gw_scrape_on_data(bx_http_creq *cr, const char *data, size_t len, void *ud)
{
    gw_scrape_eng *se = ud;
    if (se->toobig) return;
    if (se->body.len + len > se->s->opts.max_body_bytes ||
        bx_buf_append(&se->body, data, len) != 0) {
        se->toobig = 1;
        bx_http_client_cancel(cr);
    }
}

/* Parses the body into the engine; 0, or -1 with a reason in why. */
static int gw_scrape_parse(gw_scrape *s, gw_scrape_eng *se, gw_engine *e, char *why, size_t whylen)
{
    bx_prom_doc doc;
    if (bx_prom_parse(se->body.data ? se->body.data : "", se->body.len, &s->opts.limits, &doc, why,
                      whylen) != 0)
        return -1;
    gw_scrape_sample x;
    gw_scrape_extract(&doc, e->model, &x);
    bx_prom_doc_free(&doc);
    gw_registry_lock(s->reg);
    gw_scrape_apply(e, se, &x, uv_now(s->loop));
    gw_registry_unlock(s->reg);
    return 0;
}

/* Reachability, the quick down signal: down_after scrapes in a row that got
 * no answer at all (timed out, refused, reset) declare the engine
 * unreachable; one answer of any kind (even an error status) makes it
 * reachable again. A SIGSTOPped or wedged engine still accepts connections
 * (the kernel does) but answers nothing, which /v1/models polls notice only
 * after fail_after longer rounds. Only this file writes e->unreachable, on
 * this loop: it reads it without the lock. */
static void gw_scrape_reach(gw_scrape *s, gw_scrape_eng *se, gw_engine *e, int reached,
                            const char *why)
{
    if (reached) {
        se->unreach = 0;
        if (!e->unreachable) return;
        gw_registry_lock(s->reg);
        e->unreachable = 0;
        gw_registry_unlock(s->reg);
        bx_info("scrape: engine %s reachable again", e->addr);
        return;
    }
    se->unreach++;
    if (!s->opts.down_after || se->unreach < s->opts.down_after || e->unreachable) return;
    gw_registry_lock(s->reg);
    e->unreachable = 1;
    gw_registry_note_down(s->reg, e);
    gw_registry_unlock(s->reg);
    bx_warn("scrape: engine %s unreachable (%d scrapes in a row: %s): no new requests, its "
            "answers in flight end",
            e->addr, se->unreach, why);
}

static void gw_scrape_on_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    gw_scrape_eng *se = ud;
    gw_scrape *s = se->s;
    se->cr = NULL;
    s->inflight--;
    if (s->closing) {
        gw_scrape_maybe_free(s);
        return;
    }
    if (err == BX_HTTP_ECANCELED && !se->toobig) return; /* stopped */
    gw_engine *e = &s->reg->engines[se->id];
    char why[256] = "";
    int ok = 0;
    if (se->toobig)
        snprintf(why, sizeof(why), "body over %zu bytes", s->opts.max_body_bytes);
    else if (err)
        snprintf(why, sizeof(why), "%s", bx_http_strerror(err));
    else if (se->status != 200)
        snprintf(why, sizeof(why), "HTTP %d", se->status);
    else
        ok = gw_scrape_parse(s, se, e, why, sizeof(why)) == 0;
    bx_buf_reset(&se->body);
    gw_scrape_reach(s, se, e, !err || se->toobig || err == BX_HTTP_EPARSE, why);
    if (ok) {
        s->stats.ok++;
        gw_registry_lock(s->reg);
        e->missed_scrapes = 0;
        e->last_scrape_ms = uv_now(s->loop);
        gw_registry_unlock(s->reg);
        if (se->failing) bx_info("scrape: engine %s metrics back", e->addr);
        se->failing = se->stale = 0;
        return;
    }
    s->stats.failed++;
    gw_registry_lock(s->reg);
    int missed = ++e->missed_scrapes;
    gw_registry_unlock(s->reg);
    char ew[BX_LOG_ESC_MAX]; /* a parse error may quote the engine's bytes */
    if (!se->failing)
        bx_warn("scrape: engine %s %s failed: %s", e->addr, s->path,
                bx_log_escape(ew, sizeof(ew), why, BX_LOG_CSTR));
    se->failing = 1;
    if (!se->stale && missed >= s->reg->stale_after) {
        se->stale = 1;
        gw_registry_lock(s->reg);
        gw_scrape_forget(e, se);
        gw_registry_unlock(s->reg);
        bx_warn("scrape: engine %s metrics stale after %d missed scrapes", e->addr,
                e->missed_scrapes);
    }
}

static void gw_scrape_one(gw_scrape *s, gw_engine *e)
{
    gw_scrape_eng *se = s->eng[e->id];
    if (!se) {
        se = calloc(1, sizeof(*se));
        if (!se) {
            bx_error("scrape: out of memory for %s", e->addr);
            return;
        }
        se->s = s;
        se->id = e->id;
        bx_buf_init(&se->body);
        s->eng[e->id] = se;
    }
    if (se->cr) {
        s->stats.skipped++;
        return;
    }
    se->status = 0;
    se->toobig = 0;
    bx_buf_reset(&se->body);
    char auth[GW_KEY_MAX + 8];
    gw_registry_lock(s->reg);
    int keyed = gw_engine_auth(e, auth, sizeof(auth));
    gw_registry_unlock(s->reg);
    bx_http_header h[] = {{"Accept", "text/plain"}, {"Authorization", auth}};
    bx_http_client_req r = {.method = "GET",
                            .host = e->host,
                            .port = e->port,
                            .path = s->path,
                            .headers = h,
                            .nheaders = keyed ? 2 : 1,
                            .timeout_ms = s->opts.timeout_ms};
    static const bx_http_client_cbs cbs = {gw_scrape_on_response, gw_scrape_on_data,
                                           gw_scrape_on_done};
    int rc = bx_http_client_request(s->client, &r, &cbs, se, &se->cr);
    if (rc != 0) {
        se->cr = NULL;
        if (!se->failing) bx_warn("scrape: cannot start for %s: %s", e->addr, bx_http_strerror(rc));
        return;
    }
    s->inflight++;
}

static void gw_scrape_on_timer(uv_timer_t *t)
{
    gw_scrape *s = t->data;
    s->stats.rounds++;
    for (int i = 0; i < s->reg->n; i++) {
        gw_engine *e = &s->reg->engines[i];
        if (e->gone) {
            gw_scrape_eng *se = s->eng[i];
            if (se) se->unreach = 0;
            if (e->unreachable) { /* not scraped: forget it (a revived engine starts up) */
                gw_registry_lock(s->reg);
                e->unreachable = 0;
                gw_registry_unlock(s->reg);
            }
            if (se && !se->stale) { /* removed: nothing will refresh these */
                se->stale = 1;
                gw_registry_lock(s->reg);
                gw_scrape_forget(e, se);
                gw_registry_unlock(s->reg);
            }
            continue;
        }
        gw_scrape_one(s, e);
    }
}

static void gw_scrape_on_timer_closed(uv_handle_t *h)
{
    gw_scrape *s = h->data;
    s->timer_closed = 1;
    gw_scrape_maybe_free(s);
}

int gw_scrape_init(gw_scrape **out, uv_loop_t *loop, gw_registry *reg, bx_http_client *client,
                   const gw_scrape_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    gw_scrape *s = calloc(1, sizeof(*s));
    gw_scrape_opts def;
    gw_scrape_opts_default(&def);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->loop = loop;
    s->reg = reg;
    s->opts = opts ? *opts : def;
    if (!s->opts.interval_ms) s->opts.interval_ms = def.interval_ms;
    if (!s->opts.max_body_bytes) s->opts.max_body_bytes = def.max_body_bytes;
    if (!s->opts.path) s->opts.path = def.path;
    if (s->opts.path[0] != '/' || strlen(s->opts.path) >= sizeof(s->path)) {
        snprintf(err, errlen, "bad metrics path '%s'", s->opts.path);
        free(s);
        return -1;
    }
    snprintf(s->path, sizeof(s->path), "%s", s->opts.path);
    s->opts.path = s->path;
    bx_prom_limits dl;
    bx_prom_limits_default(&dl);
    bx_prom_limits *l = &s->opts.limits;
    if (!l->max_bytes || l->max_bytes > s->opts.max_body_bytes)
        l->max_bytes = s->opts.max_body_bytes;
    if (!l->max_samples) l->max_samples = dl.max_samples;
    if (!l->max_labels) l->max_labels = dl.max_labels;
    if (!l->max_name_len) l->max_name_len = dl.max_name_len;
    if (!l->max_value_len) l->max_value_len = dl.max_value_len;
    s->eng = calloc(GW_MAX_ENGINES, sizeof(*s->eng));
    if (!s->eng) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (client) {
        s->client = client;
    } else {
        int rc = bx_http_client_init(&s->client, loop, NULL);
        if (rc != 0) {
            free(s->eng);
            free(s);
            snprintf(err, errlen, "http client: %s", bx_http_strerror(rc));
            return -1;
        }
        s->own_client = 1;
    }
    int rc = uv_timer_init(loop, &s->timer);
    if (rc != 0) {
        if (s->own_client) bx_http_client_close(s->client);
        free(s->eng);
        free(s);
        snprintf(err, errlen, "timer: %s", uv_strerror(rc));
        return -1;
    }
    s->timer.data = s;
    *out = s;
    return 0;
}

int gw_scrape_start(gw_scrape *s)
{
    if (s->closing) return -1;
    if (s->running) return 0;
    int rc = uv_timer_start(&s->timer, gw_scrape_on_timer, 0, s->opts.interval_ms);
    if (rc != 0) {
        bx_error("scrape: timer: %s", uv_strerror(rc));
        return -1;
    }
    s->running = 1;
    return 0;
}

void gw_scrape_stop(gw_scrape *s)
{
    s->running = 0;
    uv_timer_stop(&s->timer);
    for (int i = 0; i < GW_MAX_ENGINES && i < s->reg->n; i++)
        if (s->eng[i] && s->eng[i]->cr) bx_http_client_cancel(s->eng[i]->cr);
}

void gw_scrape_close(gw_scrape *s, void (*cb)(void *ud), void *ud)
{
    if (!s || s->closing) return;
    gw_scrape_stop(s);
    s->closing = 1;
    s->close_cb = cb;
    s->close_ud = ud;
    uv_close((uv_handle_t *)&s->timer, gw_scrape_on_timer_closed);
}

void gw_scrape_get_stats(const gw_scrape *s, gw_scrape_stats *out)
{
    *out = s->stats;
}
