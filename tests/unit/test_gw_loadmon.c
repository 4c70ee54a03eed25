/* gw_loadmon: the gateway's load windows with an injected clock: alignment,
 * buckets, totals, bounds, /brix/load's JSON, /metrics, the query string. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <uv.h>

#include "gateway/gw_config.h"
#include "gateway/gw_gateway.h"
#include "gateway/gw_loadmon.h"
#include "opt/opt_bucket.h"
#include "opt/opt_trace.h"

static int64_t clock_ms;

static int64_t fake_now(void *ud)
{
    (void)ud;
    return __atomic_load_n(&clock_ms, __ATOMIC_RELAXED);
}

static gw_loadmon *mk(int64_t start_ms)
{
    clock_ms = start_ms;
    gw_loadmon_opts o = {.now_ms = fake_now};
    gw_loadmon *lm = NULL;
    assert_int_equal(gw_loadmon_new(&lm, &o), 0);
    return lm;
}

/* /brix/load for model as parsed JSON (the caller decrefs). */
static json_t *load_json(gw_loadmon *lm, const char *model, int64_t since)
{
    bx_buf b;
    bx_buf_init(&b);
    assert_int_equal(gw_loadmon_json(lm, model, since, &b), 0);
    json_error_t je;
    json_t *j = json_loads(b.data, 0, &je);
    if (!j) fail_msg("bad JSON (%s): %s", je.text, b.data);
    bx_buf_free(&b);
    return j;
}

static json_t *windows(json_t *j)
{
    json_t *w = json_object_get(j, "windows");
    assert_true(json_is_array(w));
    return w;
}

static int64_t wint(json_t *win, const char *key)
{
    json_t *t = json_object_get(win, "trace");
    json_t *v = json_object_get(t, key);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

static void test_alignment_and_buckets(void **st)
{
    (void)st;
    /* 1700000003.5 s: the window of 1700000000 */
    gw_loadmon *lm = mk(1700000003500LL);
    int a = gw_loadmon_arrive(lm, "m");
    int b = gw_loadmon_arrive(lm, "m");
    assert_true(a > 0 && a == b);
    gw_loadmon_done(lm, a, 1, 1000, 100); /* "100:66" */
    clock_ms = 1700000009999LL;           /* still the same window */
    gw_loadmon_done(lm, b, 1, 1000, 100);
    int c = gw_loadmon_arrive(lm, "m");
    /* nothing complete yet */
    json_t *j = load_json(lm, "m", -1);
    assert_int_equal(json_array_size(windows(j)), 0);
    json_decref(j);
    clock_ms = 1700000010000LL; /* the boundary: completes in the next window */
    gw_loadmon_done(lm, c, 1, 20, 7);
    clock_ms = 1700000020001LL;
    j = load_json(lm, "m", -1);
    json_t *w = windows(j);
    assert_int_equal(json_array_size(w), 2);
    json_t *w0 = json_array_get(w, 0), *w1 = json_array_get(w, 1);
    assert_int_equal(json_integer_value(json_object_get(w0, "ts")), 1700000000);
    assert_int_equal(json_integer_value(json_object_get(w1, "ts")), 1700000010);
    assert_int_equal(wint(w0, "100:66"), 2);
    assert_int_equal(wint(w0, "meta_total_reqs"), 3);
    assert_int_equal(wint(w0, "meta_pending_reqs"), 1); /* c in flight at the close */
    assert_int_equal(wint(w0, "meta_v"), 4);
    assert_int_equal(wint(w0, "meta_interval_sec"), 10);
    assert_int_equal(wint(w0, "meta_precision"), 10);
    char key[OPT_BUCKET_KEY_MAX];
    opt_bucket_key(20, 7, key, sizeof(key)); /* AIBrix's 20 tokens: tick 42 */
    assert_string_equal(key, "42:28");
    assert_int_equal(wint(w1, key), 1);
    assert_int_equal(wint(w1, "meta_total_reqs"), 0); /* arrived in the window before */
    assert_int_equal(wint(w1, "meta_pending_reqs"), 0);
    json_decref(j);
    /* since excludes ts <= since */
    j = load_json(lm, "m", 1700000000);
    assert_int_equal(json_array_size(windows(j)), 1);
    json_decref(j);
    gw_loadmon_free(lm);
}

static void test_empty_windows_and_ring(void **st)
{
    (void)st;
    gw_loadmon *lm = mk(1700000000000LL);
    int h = gw_loadmon_arrive(lm, "m");
    gw_loadmon_done(lm, h, 1, 10, 10);
    clock_ms += 35000; /* three complete windows: one with the request, two empty */
    json_t *j = load_json(lm, "m", -1);
    assert_int_equal(json_array_size(windows(j)), 3);
    assert_int_equal(wint(json_array_get(windows(j), 2), "meta_total_reqs"), 0);
    json_decref(j);
    clock_ms += 3600 * 1000; /* an hour idle: only the last 60 windows */
    h = gw_loadmon_arrive(lm, "m");
    gw_loadmon_done(lm, h, 1, 10, 10);
    clock_ms += 10000;
    j = load_json(lm, "m", -1);
    json_t *w = windows(j);
    assert_int_equal(json_array_size(w), GW_LOADMON_WINDOWS);
    int64_t prev = 0;
    for (size_t i = 0; i < json_array_size(w); i++) { /* oldest first, consecutive */
        int64_t ts = json_integer_value(json_object_get(json_array_get(w, i), "ts"));
        assert_int_equal(ts % 10, 0);
        if (i) assert_int_equal(ts, prev + 10);
        prev = ts;
    }
    assert_int_equal(wint(json_array_get(w, GW_LOADMON_WINDOWS - 1), "meta_total_reqs"), 1);
    json_decref(j);
    gw_loadmon_free(lm);
}

/* A request recorded for a window already closed (its clock read before the
 * close, or the clock stepped back) counts in the first open one. */
static void test_late_record(void **st)
{
    (void)st;
    gw_loadmon *lm = mk(1700000001000LL);
    int h = gw_loadmon_arrive(lm, "m");
    clock_ms = 1700000011000LL;
    json_t *j = load_json(lm, "m", -1); /* closes window 1700000000 */
    assert_int_equal(json_array_size(windows(j)), 1);
    json_decref(j);
    clock_ms = 1700000009000LL; /* back */
    gw_loadmon_arrive(lm, "m");
    gw_loadmon_done(lm, h, 1, 10, 10);
    clock_ms = 1700000020000LL;
    j = load_json(lm, "m", -1);
    assert_int_equal(json_array_size(windows(j)), 2);
    assert_int_equal(wint(json_array_get(windows(j), 0), "meta_total_reqs"), 1);
    assert_int_equal(wint(json_array_get(windows(j), 1), "meta_total_reqs"), 1);
    assert_int_equal(wint(json_array_get(windows(j), 1), "33:33"), 1);
    json_decref(j);
    gw_loadmon_free(lm);
}

typedef struct emitted {
    int n;
    char model[64];
    int64_t ts, key_ts;
    char json[512];
} emitted;

static void on_emit(void *ud, const char *model, int64_t ts, int64_t key_ts, const char *json)
{
    emitted *e = ud;
    e->n++;
    snprintf(e->model, sizeof(e->model), "%s", model);
    e->ts = ts;
    e->key_ts = key_ts;
    snprintf(e->json, sizeof(e->json), "%s", json);
}

static int three_queued(void *ud, const char *model)
{
    (void)ud;
    return strcmp(model, "m") == 0 ? 3 : 0;
}

static void test_tick_emits_once(void **st)
{
    (void)st;
    gw_loadmon *lm = mk(1700000001000LL);
    emitted e = {0};
    int64_t left = gw_loadmon_tick(lm, three_queued, NULL, on_emit, &e);
    assert_int_equal(left, 9000);
    int h = gw_loadmon_arrive(lm, "m");
    gw_loadmon_done(lm, h, 1, 1000, 100);
    gw_loadmon_arrive(lm, "idle"); /* a second model, in flight */
    clock_ms = 1700000010020LL;    /* the tick, 20 ms after the boundary */
    left = gw_loadmon_tick(lm, three_queued, NULL, on_emit, &e);
    assert_int_equal(left, 9980);
    assert_int_equal(e.n, 2); /* both saw an arrival */
    clock_ms = 1700000010500LL;
    gw_loadmon_tick(lm, three_queued, NULL, on_emit, &e);
    assert_int_equal(e.n, 2); /* once each */
    clock_ms = 1700000020020LL;
    gw_loadmon_tick(lm, three_queued, NULL, on_emit, &e);
    assert_int_equal(e.n, 2); /* a window without a request is not written */
    /* the "m" window: AIBrix's value, with the queueing count of the tick */
    bx_buf b;
    bx_buf_init(&b);
    assert_int_equal(gw_loadmon_json(lm, "m", 1699999999, &b), 0);
    assert_non_null(strstr(b.data,
                           "{\"ts\":1700000000,\"trace\":{\"100:66\":1,\"meta_interval_sec\":"
                           "10,\"meta_pending_reqs\":0,\"meta_precision\":10,\"meta_"
                           "queueing_reqs\":3,\"meta_total_reqs\":1,\"meta_v\":4}}"));
    bx_buf_free(&b);
    gw_loadmon_free(lm);
    /* the last emit was "idle": window start and the key's suffix (its end) */
    assert_string_equal(e.model, "idle");
    assert_int_equal(e.ts, 1700000000);
    assert_int_equal(e.key_ts, 1700000010);
    assert_non_null(strstr(e.json, "\"meta_pending_reqs\":1"));
    assert_non_null(strstr(e.json, "\"meta_total_reqs\":1"));
}

static void test_bounds(void **st)
{
    (void)st;
    gw_loadmon *lm = mk(1700000000000LL);
    char name[32];
    for (int i = 0; i < GW_LOADMON_MODELS; i++) {
        snprintf(name, sizeof(name), "model-%d", i);
        assert_true(gw_loadmon_arrive(lm, name) > 0);
    }
    assert_int_equal(gw_loadmon_arrive(lm, "one-too-many"), 0);
    assert_int_equal(gw_loadmon_arrive(lm, "two-too-many"), 0);
    assert_true(gw_loadmon_arrive(lm, "model-7") > 0); /* known ones still count */
    assert_int_equal(gw_loadmon_arrive(lm, ""), 0);
    assert_int_equal(gw_loadmon_arrive(lm, NULL), 0);
    char longname[GW_LOADMON_NAME_MAX + 1];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(gw_loadmon_arrive(lm, longname), 0);
    gw_loadmon_done(lm, 0, 1, 1, 1); /* no handle: nothing */
    gw_loadmon_stats s;
    gw_loadmon_stats_get(lm, &s);
    assert_int_equal(s.models, GW_LOADMON_MODELS);
    assert_int_equal(s.overflow, 2);
    /* buckets: more than OPT_TRACE_MAX_CELLS distinct ones go to dropped */
    int h = gw_loadmon_arrive(lm, "model-0");
    int n = 0; /* 30 x 20 distinct buckets (ticks 100.. are 7 % apart: exact) */
    for (int in = 100; in < 130; in++)
        for (int out = 100; out < 120; out++, n++) {
            int64_t it = llround(opt_bucket_tokens(in)), ot = llround(opt_bucket_tokens(out));
            assert_int_equal(opt_bucket_tick(it), in);
            assert_int_equal(opt_bucket_tick(ot), out);
            gw_loadmon_done(lm, h, 1, it, ot);
        }
    clock_ms += 10000;
    bx_buf b;
    bx_buf_init(&b);
    assert_int_equal(gw_loadmon_json(lm, "model-0", -1, &b), 0);
    opt_trace *t = malloc(sizeof(*t));
    json_t *j = json_loads(b.data, 0, NULL);
    json_t *tr = json_object_get(json_array_get(json_object_get(j, "windows"), 0), "trace");
    char *ts = json_dumps(tr, JSON_COMPACT);
    char err[128];
    assert_int_equal(opt_trace_parse(ts, strlen(ts), 0, t, err, sizeof(err)), 0);
    assert_int_equal(t->ncells, OPT_TRACE_MAX_CELLS);
    gw_loadmon_stats_get(lm, &s);
    assert_int_equal(s.dropped, n - OPT_TRACE_MAX_CELLS);
    assert_int_equal(opt_trace_count(t) + (int64_t)s.dropped, n);
    free(ts);
    json_decref(j);
    free(t);
    bx_buf_free(&b);
    /* unknown model: no windows; all models: every one listed */
    j = load_json(lm, "nope", -1);
    assert_int_equal(json_array_size(windows(j)), 0);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "nope");
    json_decref(j);
    j = load_json(lm, NULL, -1);
    assert_int_equal(json_array_size(json_object_get(j, "models")), GW_LOADMON_MODELS);
    json_decref(j);
    gw_loadmon_free(lm);
}

static void test_incomplete_requests_not_bucketed(void **st)
{
    (void)st;
    gw_loadmon *lm = mk(1700000000000LL);
    int h = gw_loadmon_arrive(lm, "m");
    gw_loadmon_done(lm, h, 0, 100, 100); /* failed: no bucket, no longer pending */
    clock_ms += 10000;
    json_t *j = load_json(lm, "m", -1);
    json_t *w0 = json_array_get(windows(j), 0);
    assert_int_equal(wint(w0, "meta_total_reqs"), 1);
    assert_int_equal(wint(w0, "meta_pending_reqs"), 0);
    assert_int_equal(json_object_size(json_object_get(w0, "trace")), 6); /* meta only */
    json_decref(j);
    gw_loadmon_free(lm);
}

static void test_metrics(void **st)
{
    (void)st;
    gw_loadmon *lm = mk(1700000000000LL);
    for (int i = 0; i < 30; i++) { /* 30 distinct buckets, bucket i holding i + 1 */
        for (int k = 0; k <= i; k++) {
            int h = gw_loadmon_arrive(lm, "m\"x");
            gw_loadmon_done(lm, h, 1, 1, (int64_t)1 << (i % 30));
        }
    }
    clock_ms += 10000;
    bx_buf b;
    bx_buf_init(&b);
    assert_int_equal(gw_loadmon_metrics(lm, &b), 0);
    assert_non_null(strstr(b.data, "brix_gateway_load_requests{model=\"m\\\"x\"} 465.0\n"));
    assert_non_null(strstr(b.data, "brix_gateway_load_rps{model=\"m\\\"x\"} 46.5\n"));
    assert_non_null(strstr(b.data, "brix_gateway_load_completed{model=\"m\\\"x\"} 465.0\n"));
    /* the biggest bucket: 2^29 output tokens, 30 requests */
    char want[128];
    snprintf(want, sizeof(want), "bucket=\"0:%d\"} 30.0\n", (int)opt_bucket_tick(1 << 29));
    assert_non_null(strstr(b.data, want));
    /* 20 named buckets plus other = the 10 smallest: 1 + ... + 10 = 55 */
    assert_non_null(strstr(b.data, "bucket=\"other\"} 55.0\n"));
    int named = 0;
    for (const char *p = b.data; (p = strstr(p, "brix_gateway_load_bucket_requests{")); p++)
        named++;
    assert_int_equal(named, GW_LOADMON_TOP + 1);
    assert_non_null(strstr(b.data, "brix_gateway_load_overflow_total 0.0\n"));
    bx_buf_free(&b);
    gw_loadmon_free(lm);
}

/* Workers record while a reader ticks, reads and moves the clock: nothing
 * lost, every request in some window. */
#define THREADS 4
#define PER_THREAD 20000
static gw_loadmon *shared;
static int running;

static void *worker(void *arg)
{
    const char *model = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        int h = gw_loadmon_arrive(shared, model);
        gw_loadmon_done(shared, h, 1, 100 + (i & 7), 10);
    }
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    emitted e = {0};
    for (int i = 0; i < 200 && __atomic_load_n(&running, __ATOMIC_RELAXED); i++) {
        __atomic_add_fetch(&clock_ms, 1000, __ATOMIC_RELAXED); /* 200 s: 20 windows */
        gw_loadmon_tick(shared, three_queued, NULL, on_emit, &e);
        bx_buf b;
        bx_buf_init(&b);
        assert_int_equal(gw_loadmon_json(shared, NULL, -1, &b), 0);
        assert_int_equal(gw_loadmon_metrics(shared, &b), 0);
        bx_buf_free(&b);
    }
    return NULL;
}

static int64_t sum_windows(gw_loadmon *lm, const char *model, const char *key)
{
    json_t *j = load_json(lm, model, -1);
    int64_t n = 0;
    for (size_t i = 0; i < json_array_size(windows(j)); i++)
        n += wint(json_array_get(windows(j), i), key) > 0 ? wint(json_array_get(windows(j), i), key)
                                                          : 0;
    json_decref(j);
    return n;
}

static void test_threads(void **st)
{
    (void)st;
    shared = mk(1700000000000LL);
    running = 1;
    pthread_t t[THREADS], r;
    const char *names[THREADS] = {"a", "b", "a", "c"};
    assert_int_equal(pthread_create(&r, NULL, reader, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)names[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    __atomic_store_n(&running, 0, __ATOMIC_RELAXED);
    pthread_join(r, NULL);
    clock_ms += 10000;
    assert_int_equal(sum_windows(shared, "a", "meta_total_reqs"), 2 * PER_THREAD);
    json_t *j = load_json(shared, "c", -1); /* every completion in some bucket */
    int64_t done = 0;
    for (size_t i = 0; i < json_array_size(windows(j)); i++) {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(json_array_get(windows(j), i), "trace"), k, v)
        {
            if (strncmp(k, "meta_", 5) != 0) done += json_integer_value(v);
        }
    }
    json_decref(j);
    assert_int_equal(done, PER_THREAD);
    gw_loadmon_free(shared);
}

static void test_query(void **st)
{
    (void)st;
    char m[16], err[128];
    int64_t since;
    assert_int_equal(gw_loadmon_query("", m, sizeof(m), &since, err, sizeof(err)), 0);
    assert_string_equal(m, "");
    assert_int_equal(since, -1);
    assert_int_equal(gw_loadmon_query("model=org%2Fm+1&since=1700000000&x=y", m, sizeof(m), &since,
                                      err, sizeof(err)),
                     0);
    assert_string_equal(m, "org/m 1");
    assert_int_equal(since, 1700000000);
    assert_int_equal(gw_loadmon_query("since=0&model=", m, sizeof(m), &since, err, sizeof(err)), 0);
    assert_string_equal(m, "");
    assert_int_equal(since, 0);
    const char *bad[] = {"model=%zz",
                         "model=%4",
                         "model=a%00b",
                         "model=a&model=b",
                         "since=",
                         "since=-1",
                         "since=1e3",
                         "since=10000000000000",
                         "model=0123456789abcdef",
                         "since=1&since=2",
                         "since"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (gw_loadmon_query(bad[i], m, sizeof(m), &since, err, sizeof(err)) != -1)
            fail_msg("accepted '%s'", bad[i]);
    assert_int_equal(gw_loadmon_flag_true("true"), 1);
    assert_int_equal(gw_loadmon_flag_true("1"), 1);
    assert_int_equal(gw_loadmon_flag_true("yes"), 0);
    assert_int_equal(gw_loadmon_flag_true(NULL), 0);
}

/* An embedding control plane reaches the gateway's monitor (brix up). */
static void test_gateway_accessor(void **st)
{
    (void)st;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    gw_config cfg;
    gw_config_default(&cfg);
    cfg.port = 0;
    gw_gateway *g = NULL;
    char err[256];
    assert_int_equal(gw_gateway_init(&g, &loop, &cfg, err, sizeof(err)), 0);
    gw_loadmon *lm = gw_gateway_loadmon(g);
    assert_non_null(lm);
    assert_true(gw_loadmon_arrive(lm, "m") > 0);
    bx_buf b;
    bx_buf_init(&b);
    assert_int_equal(gw_loadmon_json(lm, "m", -1, &b), 0);
    assert_string_equal(b.data, "{\"model\":\"m\",\"windows\":[]}");
    bx_buf_free(&b);
    gw_gateway_close(g);
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_buckets),
        cmocka_unit_test(test_empty_windows_and_ring),
        cmocka_unit_test(test_late_record),
        cmocka_unit_test(test_tick_emits_once),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_incomplete_requests_not_bucketed),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_gateway_accessor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
