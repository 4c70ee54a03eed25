/* gw_scrape: metric selection from parsed expositions (vLLM and SGLang
 * names, model_name selection), then the scraper over real HTTP: against a
 * scripted /metrics server (windowed histogram means, kv/gpu fill-in, rates,
 * staleness, body limit) and against two real in-process brix engines with
 * discovery (models found, numbers parsed, prompt_tps after traffic, a closed
 * engine goes not ready and its metrics NaN). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "loop_fixture.h"

#include "common/bx_http.h"
#include "common/bx_prom_parse.h"
#include "engine/eng_config.h"
#include "engine/eng_server.h"
#include "gateway/gw_discovery.h"
#include "gateway/gw_engine.h"
#include "gateway/gw_scrape.h"

#define assert_nan(x) assert_true(isnan(x))
#define assert_near(x, want) assert_true(fabs((x) - (want)) < 1e-9)

/* ---- pure selection ---- */

static void extract(const char *text, const char *model, gw_scrape_sample *x)
{
    bx_prom_doc doc;
    char err[128];
    assert_int_equal(bx_prom_parse(text, strlen(text), NULL, &doc, err, sizeof(err)), 0);
    gw_scrape_extract(&doc, model, x);
    bx_prom_doc_free(&doc);
}

static const char *const VLLM_TWO_MODELS =
    "# TYPE vllm:num_requests_running gauge\n"
    "vllm:num_requests_running{engine=\"0\",model_name=\"a\"} 3\n"
    "vllm:num_requests_running{engine=\"0\",model_name=\"b\"} 4\n"
    "# TYPE vllm:num_requests_waiting gauge\n"
    "vllm:num_requests_waiting{engine=\"0\",model_name=\"a\"} 1\n"
    "vllm:num_requests_waiting{engine=\"1\",model_name=\"a\"} 2\n"
    "# TYPE vllm:kv_cache_usage_perc gauge\n"
    "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"a\"} 0.2\n"
    "vllm:kv_cache_usage_perc{engine=\"1\",model_name=\"a\"} 0.4\n"
    "# TYPE vllm:prompt_tokens counter\n"
    "vllm:prompt_tokens_total{model_name=\"a\"} 1000\n"
    "vllm:prompt_tokens_total{model_name=\"b\"} 50\n"
    "# TYPE vllm:request_queue_time_seconds histogram\n"
    "vllm:request_queue_time_seconds_bucket{le=\"1.0\",model_name=\"a\"} 2\n"
    "vllm:request_queue_time_seconds_bucket{le=\"+Inf\",model_name=\"a\"} 4\n"
    "vllm:request_queue_time_seconds_sum{model_name=\"a\"} 6\n"
    "vllm:request_queue_time_seconds_count{model_name=\"a\"} 4\n"
    "# TYPE vllm:request_prompt_tokens histogram\n"
    "vllm:request_prompt_tokens_bucket{le=\"+Inf\",model_name=\"a\"} 10\n"
    "vllm:request_prompt_tokens_sum{model_name=\"a\"} 1000\n"
    "vllm:request_prompt_tokens_count{model_name=\"a\"} 10\n"
    "vllm:request_prompt_tokens_bucket{le=\"+Inf\",model_name=\"b\"} 1\n"
    "vllm:request_prompt_tokens_sum{model_name=\"b\"} 50\n"
    "vllm:request_prompt_tokens_count{model_name=\"b\"} 1\n";

static void test_extract_selects_model_name(void **st)
{
    (void)st;
    gw_scrape_sample x;
    extract(VLLM_TWO_MODELS, "a", &x);
    assert_near(x.running, 3);
    assert_near(x.waiting, 3);    /* two engine series of model a: summed */
    assert_near(x.kv_usage, 0.3); /* usage: averaged */
    assert_nan(x.gpu_cache_usage);
    assert_nan(x.cpu_cache_usage);
    assert_nan(x.busy_ratio);
    assert_near(x.prompt_total, 1000);
    assert_nan(x.gen_total);
    assert_near(x.queue_sum, 6);
    assert_near(x.queue_count, 4);
    assert_near(x.prompt_sum, 1000);
    assert_near(x.prompt_count, 10);
    assert_nan(x.ttft_sum);
    assert_nan(x.ttft_count);

    extract(VLLM_TWO_MODELS, "b", &x);
    assert_near(x.running, 4);
    assert_near(x.waiting, 3); /* no series for b: all series */
    assert_near(x.prompt_total, 50);
    assert_near(x.prompt_count, 1);

    extract(VLLM_TWO_MODELS, "", &x); /* model unknown yet: everything */
    assert_near(x.running, 7);
    assert_near(x.prompt_total, 1050);
    assert_near(x.prompt_sum, 1050);
    extract(VLLM_TWO_MODELS, NULL, &x);
    assert_near(x.running, 7);

    extract("vllm:num_requests_running 2\nvllm:gpu_cache_usage_perc 0.5\n"
            "vllm:cpu_cache_usage_perc 0.25\nvllm:gpu_busy_time_ratio 0.75\n",
            "a", &x);
    assert_near(x.running, 2); /* no model_name label at all */
    assert_nan(x.waiting);
    assert_nan(x.kv_usage);
    assert_near(x.gpu_cache_usage, 0.5);
    assert_near(x.cpu_cache_usage, 0.25);
    assert_near(x.busy_ratio, 0.75);
}

static void test_extract_sglang_names(void **st)
{
    (void)st;
    gw_scrape_sample x;
    extract("# TYPE sglang:num_running_reqs gauge\n"
            "sglang:num_running_reqs{model_name=\"q\"} 5\n"
            "sglang:num_queue_reqs{model_name=\"q\"} 7\n"
            "sglang:token_usage{model_name=\"q\"} 0.6\n"
            "sglang:prompt_tokens_total{model_name=\"q\"} 900\n"
            "sglang:generation_tokens_total{model_name=\"q\"} 300\n"
            "# TYPE sglang:time_to_first_token_seconds histogram\n"
            "sglang:time_to_first_token_seconds_bucket{le=\"+Inf\",model_name=\"q\"} 2\n"
            "sglang:time_to_first_token_seconds_sum{model_name=\"q\"} 0.5\n"
            "sglang:time_to_first_token_seconds_count{model_name=\"q\"} 2\n",
            "q", &x);
    assert_near(x.running, 5);
    assert_near(x.waiting, 7);
    assert_near(x.kv_usage, 0.6);
    assert_near(x.gpu_cache_usage, 0.6);
    assert_near(x.prompt_total, 900);
    assert_near(x.gen_total, 300);
    assert_near(x.ttft_sum, 0.5);
    assert_near(x.ttft_count, 2);
    assert_nan(x.queue_sum);
}

/* ---- a scripted /metrics server ---- */

typedef struct fake {
    bx_http_server *srv;
    int port;
    int status;
    char *body;
    unsigned hits;
    int hold;          /* keep responses instead of answering */
    bx_http_res *held; /* the last one kept */
} fake;

/* A kept response whose client hung up (timed out) is freed with it. */
static void fake_abort(bx_http_res *res, void *ud)
{
    fake *f = ud;
    if (f->held == res) f->held = NULL;
}

static void fake_handler(bx_http_req *req, bx_http_res *res, void *ud)
{
    (void)req;
    fake *f = ud;
    f->hits++;
    if (f->hold) {
        f->held = res;
        bx_http_res_set_abort(res, fake_abort, f);
        return;
    }
    bx_http_res_send(res, f->status, "text/plain; version=0.0.4", f->body, strlen(f->body));
}

static void fake_set(fake *f, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fake_set(fake *f, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(f->body);
    assert_true(vasprintf(&f->body, fmt, ap) >= 0);
    va_end(ap);
    f->status = status;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void on_closed(void *ud)
{
    (*(int *)ud)++;
}

static uint64_t ok_count(gw_scrape *s)
{
    gw_scrape_stats st;
    gw_scrape_get_stats(s, &st);
    return st.ok;
}

static uint64_t failed_count(gw_scrape *s)
{
    gw_scrape_stats st;
    gw_scrape_get_stats(s, &st);
    return st.failed;
}

/* Runs until n more good scrapes finished: the last of them was requested
 * after anything changed before this call. */
static void wait_ok(uv_loop_t *loop, gw_scrape *s, uint64_t n)
{
    uint64_t want = ok_count(s) + n;
    RUN_UNTIL(loop, ok_count(s) >= want);
    assert_true(ok_count(s) >= want);
}

#define FAKE_METRICS                                                                               \
    "# TYPE vllm:num_requests_running gauge\n"                                                     \
    "vllm:num_requests_running{model_name=\"m\"} %d\n"                                             \
    "vllm:num_requests_waiting{model_name=\"m\"} 0\n"                                              \
    "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.5\n"                                            \
    "# TYPE vllm:prompt_tokens counter\n"                                                          \
    "vllm:prompt_tokens_total{model_name=\"m\"} %d\n"                                              \
    "# TYPE vllm:request_queue_time_seconds histogram\n"                                           \
    "vllm:request_queue_time_seconds_bucket{le=\"+Inf\",model_name=\"m\"} %d\n"                    \
    "vllm:request_queue_time_seconds_sum{model_name=\"m\"} %d\n"                                   \
    "vllm:request_queue_time_seconds_count{model_name=\"m\"} %d\n"

/* The prompt rate computed by the first scrape that reads this total. */
static double rate_when_seen(uv_loop_t *loop, const gw_engine *e, double total)
{
    for (int i = 0; i < 500; i++) {
        uv_run(loop, UV_RUN_ONCE);
        if (e->prev_prompt_total == total) return e->prompt_tps;
    }
    return NAN;
}

static void fake_metrics(fake *f, int running, int prompt_total, int qsum, int qcount)
{
    fake_set(f, 200, FAKE_METRICS, running, prompt_total, qcount, qsum, qcount);
}

static void test_scripted_server_means_rates_stale(void **st)
{
    (void)st;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
    fake f = {0};
    fake_metrics(&f, 2, 100, 10, 10);
    assert_int_equal(bx_http_server_init(&f.srv, &loop, NULL, fake_handler, &f), 0);
    f.port = bx_http_server_listen(f.srv, "127.0.0.1", 0, 0);
    assert_true(f.port > 0);

    gw_registry reg;
    assert_int_equal(gw_registry_init(&reg), 0);
    reg.stale_after = 2;
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", f.port);
    gw_engine *e = gw_registry_add(&reg, addr);
    assert_non_null(e);
    snprintf(e->model, sizeof(e->model), "m");
    gw_scrape *s;
    gw_scrape_opts o;
    gw_scrape_opts_default(&o);
    o.interval_ms = 50;
    o.timeout_ms = 2000;
    char err[256];
    assert_int_equal(gw_scrape_init(&s, &loop, &reg, NULL, &o, err, sizeof(err)), 0);
    assert_int_equal(gw_scrape_start(s), 0);

    wait_ok(&loop, s, 1);
    assert_int_equal(failed_count(s), 0);
    assert_near(e->running, 2);
    assert_near(e->waiting, 0);
    assert_near(e->gpu_cache_usage, 0.5);
    assert_near(e->kv_usage, 0.5); /* filled from the gpu gauge */
    assert_nan(e->cpu_cache_usage);
    assert_nan(e->busy_ratio);
    assert_nan(e->gen_tps);
    assert_near(e->queue_mean_s, 1.0); /* no window yet: cumulative 10/10 */
    assert_int_equal(e->missed_scrapes, 0);
    assert_true(e->last_scrape_ms > 0);
    uint64_t first_ms = e->last_scrape_ms;

    /* two more requests finished, queued 3 s each: the windowed mean; the
     * first scrape that sees 400 compares it with 100: a positive rate */
    fake_metrics(&f, 1, 400, 16, 12);
    assert_true(rate_when_seen(&loop, e, 400) > 0);
    assert_near(e->running, 1);
    assert_near(e->queue_mean_s, 3.0);
    assert_true(e->last_scrape_ms > first_ms);
    wait_ok(&loop, s, 2); /* later ones see no change */
    assert_near(e->prompt_tps, 0);
    assert_near(e->queue_mean_s, 3.0); /* no new observations: the last window stays */

    /* the engine restarted: counters went down; counted from zero */
    fake_metrics(&f, 0, 30, 1, 1);
    assert_true(rate_when_seen(&loop, e, 30) > 0);
    assert_near(e->queue_mean_s, 1.0);

    /* failing: metrics kept until stale_after misses, then NaN */
    fake_set(&f, 500, "oops");
    uint64_t failed = failed_count(s);
    RUN_UNTIL(&loop, failed_count(s) >= failed + 1);
    assert_int_equal(e->missed_scrapes, 1);
    assert_near(e->running, 0); /* one miss: still the last values */
    RUN_UNTIL(&loop, e->missed_scrapes >= 2);
    assert_nan(e->running);
    assert_nan(e->kv_usage);
    assert_nan(e->queue_mean_s);
    assert_nan(e->prompt_tps);

    /* garbage is a failure too */
    fake_set(&f, 200, "vllm:num_requests_running{ 1\n");
    failed = failed_count(s);
    RUN_UNTIL(&loop, failed_count(s) >= failed + 1);
    assert_true(e->missed_scrapes >= 3);

    /* back: numbers again, rates start over */
    fake_metrics(&f, 4, 500, 1, 1);
    wait_ok(&loop, s, 1);
    assert_int_equal(e->missed_scrapes, 0);
    assert_near(e->running, 4);
    assert_nan(e->prompt_tps);
    assert_near(e->queue_mean_s, 1.0);
    wait_ok(&loop, s, 1);
    assert_near(e->prompt_tps, 0);

    /* a removed engine is not scraped and its metrics go */
    e->gone = 1;
    unsigned hits = f.hits;
    for (int i = 0; i < 30; i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_nan(e->running);
    assert_true(f.hits <= hits + 1); /* at most the one already in flight */

    int closed = 0;
    gw_scrape_close(s, on_closed, &closed);
    bx_http_server_close(f.srv, NULL, NULL);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
    gw_registry_close(&reg);
    free(f.body);
}

static void test_body_over_limit_fails(void **st)
{
    (void)st;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
    fake f = {0};
    char *big = malloc(20000);
    assert_non_null(big);
    size_t n = 0;
    for (int i = 0; n < 19000; i++)
        n += (size_t)snprintf(big + n, 20000 - n, "x_%d 1\n", i);
    fake_set(&f, 200, "vllm:num_requests_running 1\n%s", big);
    free(big);
    assert_int_equal(bx_http_server_init(&f.srv, &loop, NULL, fake_handler, &f), 0);
    f.port = bx_http_server_listen(f.srv, "127.0.0.1", 0, 0);
    assert_true(f.port > 0);
    gw_registry reg;
    assert_int_equal(gw_registry_init(&reg), 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", f.port);
    gw_engine *e = gw_registry_add(&reg, addr);
    gw_scrape *s;
    gw_scrape_opts o;
    gw_scrape_opts_default(&o);
    o.interval_ms = 50;
    o.max_body_bytes = 4096;
    char err[256];
    assert_int_equal(gw_scrape_init(&s, &loop, &reg, NULL, &o, err, sizeof(err)), 0);
    assert_int_equal(gw_scrape_start(s), 0);
    RUN_UNTIL(&loop, failed_count(s) >= 3);
    assert_true(failed_count(s) >= 3);
    assert_int_equal(ok_count(s), 0);
    assert_nan(e->running);

    /* small again: fine (the cancelled connections did not poison the pool) */
    fake_set(&f, 200, "vllm:num_requests_running 1\n");
    wait_ok(&loop, s, 1);
    assert_near(e->running, 1);

    /* too many samples for the parse limit fails as well */
    gw_scrape_stop(s);
    int closed = 0;
    gw_scrape_close(s, on_closed, &closed);
    o.limits.max_samples = 2;
    assert_int_equal(gw_scrape_init(&s, &loop, &reg, NULL, &o, err, sizeof(err)), 0);
    fake_set(&f, 200, "a 1\nb 2\nc 3\n");
    assert_int_equal(gw_scrape_start(s), 0);
    RUN_UNTIL(&loop, failed_count(s) >= 1);
    assert_true(failed_count(s) >= 1);
    assert_int_equal(ok_count(s), 0);

    gw_scrape_close(s, on_closed, &closed);
    bx_http_server_close(f.srv, NULL, NULL);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
    gw_registry_close(&reg);
    free(f.body);

    gw_scrape_opts bad;
    gw_scrape_opts_default(&bad);
    bad.path = "metrics";
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(gw_scrape_init(&s, &loop, &reg, NULL, &bad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "path"));
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_slow_engine_one_scrape_in_flight(void **st)
{
    (void)st;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
    fake f = {0};
    f.hold = 1;
    fake_set(&f, 200, "vllm:num_requests_running 6\n");
    assert_int_equal(bx_http_server_init(&f.srv, &loop, NULL, fake_handler, &f), 0);
    f.port = bx_http_server_listen(f.srv, "127.0.0.1", 0, 0);
    assert_true(f.port > 0);
    gw_registry reg;
    assert_int_equal(gw_registry_init(&reg), 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", f.port);
    gw_engine *e = gw_registry_add(&reg, addr);
    gw_scrape *s;
    gw_scrape_opts o;
    gw_scrape_opts_default(&o);
    o.interval_ms = 20;
    o.timeout_ms = 60000;
    char err[256];
    assert_int_equal(gw_scrape_init(&s, &loop, &reg, NULL, &o, err, sizeof(err)), 0);
    assert_int_equal(gw_scrape_start(s), 0);
    gw_scrape_stats ss;
    RUN_UNTIL(&loop, (gw_scrape_get_stats(s, &ss), ss.skipped >= 5));
    assert_true(ss.skipped >= 5);
    assert_int_equal(f.hits, 1);
    assert_non_null(f.held);
    assert_nan(e->running);
    f.hold = 0;
    const char *b = f.body;
    assert_int_equal(bx_http_res_send(f.held, 200, "text/plain", b, strlen(b)), 0);
    wait_ok(&loop, s, 1);
    assert_near(e->running, 6);

    int closed = 0;
    gw_scrape_close(s, on_closed, &closed);
    bx_http_server_close(f.srv, NULL, NULL);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
    gw_registry_close(&reg);
    free(f.body);
}

/* The quick down signal (issue 13, finding 5): an engine that accepts
 * connections but answers nothing (SIGSTOPped, wedged) is declared down
 * after down_after unanswered scrapes in a row, not after one, and is
 * reachable again at its first answer. */
static void test_unanswered_scrapes_declare_down(void **st)
{
    (void)st;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
    fake f = {0};
    f.hold = 1;
    fake_set(&f, 200, "vllm:num_requests_running 6\n");
    assert_int_equal(bx_http_server_init(&f.srv, &loop, NULL, fake_handler, &f), 0);
    f.port = bx_http_server_listen(f.srv, "127.0.0.1", 0, 0);
    assert_true(f.port > 0);
    gw_registry reg;
    assert_int_equal(gw_registry_init(&reg), 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", f.port);
    gw_engine *e = gw_registry_add(&reg, addr);
    e->ready = 1; /* as discovery would have it */
    assert_true(gw_engine_up(e));
    gw_scrape *s;
    gw_scrape_opts o;
    gw_scrape_opts_default(&o);
    assert_int_equal(o.down_after, 2);
    o.interval_ms = 20;
    o.timeout_ms = 100;
    char err[256];
    assert_int_equal(gw_scrape_init(&s, &loop, &reg, NULL, &o, err, sizeof(err)), 0);
    assert_int_equal(gw_scrape_start(s), 0);
    RUN_UNTIL(&loop, failed_count(s) >= 1);
    assert_int_equal(failed_count(s), 1);
    assert_int_equal(e->unreachable, 0); /* one slow scrape is no down */
    assert_int_equal(gw_registry_down_seq(&reg), 0);
    RUN_UNTIL(&loop, failed_count(s) >= 2);
    assert_int_equal(e->unreachable, 1);
    assert_false(gw_engine_up(e));
    assert_int_equal(e->down_epoch, 1);
    assert_int_equal(gw_registry_down_seq(&reg), 1);
    RUN_UNTIL(&loop, failed_count(s) >= 3);
    assert_int_equal(e->down_epoch, 1); /* declared once, not per failure */
    f.hold = 0;
    wait_ok(&loop, s, 1);
    assert_int_equal(e->unreachable, 0);
    assert_true(gw_engine_up(e));
    assert_int_equal(gw_registry_down_seq(&reg), 1);

    int closed = 0;
    gw_scrape_close(s, on_closed, &closed);
    bx_http_server_close(f.srv, NULL, NULL);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
    gw_registry_close(&reg);
    free(f.body);
}

/* ---- two real engines, discovery and scraper together ---- */

struct post_ctx {
    int status, done;
};
static void p_resp(bx_http_creq *cr, int status, const bx_http_header *h, size_t n, void *ud)
{
    (void)cr;
    (void)h;
    (void)n;
    ((struct post_ctx *)ud)->status = status;
}
static void p_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    (void)err;
    ((struct post_ctx *)ud)->done++;
}

static void test_real_engines(void **st)
{
    (void)st;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
    eng_config cfg[2];
    eng_server *eng[2];
    int port[2];
    char bk[2][64];
    const char *models[2] = {"m1", "m2"};
    for (int i = 0; i < 2; i++) {
        eng_config_default(&cfg[i]);
        cfg[i].host = "127.0.0.1";
        cfg[i].port = 0;
        cfg[i].model = models[i];
        cfg[i].time_scale = 20;
        cfg[i].jitter = 0;
        cfg[i].hash_seed = "0";
        char err[256];
        assert_int_equal(eng_server_init(&eng[i], &loop, &cfg[i], err, sizeof(err)), 0);
        port[i] = eng_server_port(eng[i]);
        snprintf(bk[i], sizeof(bk[i]), "http://127.0.0.1:%d", port[i]);
    }
    bx_http_client *cl;
    assert_int_equal(bx_http_client_init(&cl, &loop, NULL), 0);
    gw_registry reg;
    assert_int_equal(gw_registry_init(&reg), 0);
    reg.stale_after = 3;
    const char *args[] = {bk[0], bk[1]};
    gw_disc_opts dopt;
    gw_disc_opts_default(&dopt);
    dopt.interval_ms = 50;
    gw_disc *d;
    char err[256];
    assert_int_equal(
        gw_disc_init(&d, &loop, &reg, cl, &gw_disc_source_static, args, 2, &dopt, err, sizeof(err)),
        0);
    gw_scrape_opts sopt;
    gw_scrape_opts_default(&sopt);
    sopt.interval_ms = 50;
    gw_scrape *s;
    assert_int_equal(gw_scrape_init(&s, &loop, &reg, cl, &sopt, err, sizeof(err)), 0);
    assert_int_equal(gw_disc_start(d), 0);
    assert_int_equal(gw_scrape_start(s), 0);
    gw_engine *e0 = &reg.engines[0], *e1 = &reg.engines[1];
    assert_int_equal(reg.n, 2);
    RUN_UNTIL(&loop, e0->ready && e1->ready && e0->last_scrape_ms && e1->last_scrape_ms);
    assert_true(e0->ready && e1->ready);
    assert_string_equal(e0->model, "m1");
    assert_string_equal(e1->model, "m2");
    RUN_UNTIL(&loop, !isnan(e0->prompt_tps) && !isnan(e1->prompt_tps)); /* two scrapes each */
    for (int i = 0; i < 2; i++) {
        gw_engine *e = &reg.engines[i];
        assert_false(isnan(e->running));
        assert_false(isnan(e->waiting));
        assert_false(isnan(e->kv_usage));
        assert_true(e->kv_usage >= 0 && e->kv_usage <= 1);
        assert_false(isnan(e->gpu_cache_usage));
        assert_nan(e->cpu_cache_usage); /* vLLM V1 does not export it */
        assert_false(isnan(e->prompt_tps));
    }
    assert_near(e0->prompt_tps, 0); /* idle */

    /* traffic to engine 0; the first scrape that sees the counter move
     * measures a positive prompt rate over the interval before it */
    double p0 = e0->prev_prompt_total;
    struct post_ctx pc = {0, 0};
    const char *body = "{\"model\":\"m1\",\"prompt\":\"hello there general kenobi, you are a "
                       "bold one\",\"max_tokens\":8}";
    bx_http_header h[] = {{"Content-Type", "application/json"}};
    bx_http_client_req r = {.method = "POST",
                            .host = "127.0.0.1",
                            .port = port[0],
                            .path = "/v1/completions",
                            .headers = h,
                            .nheaders = 1,
                            .body = body,
                            .body_len = strlen(body),
                            .timeout_ms = 5000};
    bx_http_client_cbs cbs = {p_resp, NULL, p_done};
    for (int i = 0; i < 3; i++)
        assert_int_equal(bx_http_client_request(cl, &r, &cbs, &pc, NULL), 0);
    double first_rate = NAN;
    for (int i = 0; i < 500 && (pc.done < 3 || isnan(first_rate)); i++) {
        uv_run(&loop, UV_RUN_ONCE);
        if (isnan(first_rate) && e0->prev_prompt_total > p0) first_rate = e0->prompt_tps;
    }
    assert_int_equal(pc.done, 3);
    assert_int_equal(pc.status, 200);
    assert_true(first_rate > 0);
    /* after the requests finished: histogram means and per-request averages */
    wait_ok(&loop, s, 4);
    assert_true(e0->avg_prompt_per_req > 1);
    assert_near(e0->avg_gen_per_req, 8);
    assert_false(isnan(e0->ttft_mean_s)); /* sign: see the queue time below */
    assert_true(e0->prefill_mean_s > 0);
    assert_true(e0->decode_mean_s > 0);
    /* numbers; not checked for sign: the simulator can start a request's
     * first step before its arrival stamp when its step timer runs late
     * (scaled by --time-scale), so queue times and TTFTs can come out
     * slightly negative */
    assert_false(isnan(e0->queue_mean_s));
    assert_nan(e1->avg_prompt_per_req); /* engine 1 served nothing: 0/0 */
    assert_nan(e1->ttft_mean_s);

    /* engine 1 dies: not ready (discovery) and metrics NaN (scraper) */
    eng_server_close(eng[1]);
    RUN_UNTIL(&loop, !e1->ready && e1->missed_scrapes >= reg.stale_after);
    assert_false(e1->ready);
    assert_true(e1->missed_scrapes >= 3);
    assert_nan(e1->running);
    assert_nan(e1->waiting);
    assert_nan(e1->kv_usage);
    assert_nan(e1->prompt_tps);
    assert_true(e0->ready);
    assert_false(isnan(e0->running));
    assert_int_equal(e0->missed_scrapes, 0);

    int closed = 0;
    gw_scrape_close(s, on_closed, &closed);
    gw_disc_close(d, on_closed, &closed);
    eng_server_close(eng[0]);
    bx_http_client_close(cl);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
    gw_registry_close(&reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extract_selects_model_name),
        cmocka_unit_test(test_extract_sglang_names),
        cmocka_unit_test(test_scripted_server_means_rates_stale),
        cmocka_unit_test(test_body_over_limit_fails),
        cmocka_unit_test(test_slow_engine_one_scrape_in_flight),
        cmocka_unit_test(test_unanswered_scrapes_declare_down),
        cmocka_unit_test(test_real_engines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
