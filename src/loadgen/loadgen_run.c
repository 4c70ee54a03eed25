/* loadgen_run: see loadgen_run.h.
 *
 * Scheduling: items that start a chain (no previous turn) are sorted by
 * their time once; later turns become due when their previous turn answers
 * and wait in a small min-heap. One uv_timer fires at the next due time,
 * moves everything due to a FIFO, and the FIFO is drained while the
 * concurrency cap allows. Times come from uv_hrtime (monotonic, ns).
 *
 * Per request: a streamed body goes through the bx_sse parser and each
 * event's JSON through loadgen_api_parse; the first event with text sets TTFT,
 * later ones add an inter-token gap. Only the first 4 KiB of a body are kept
 * (error messages), except for non-streamed answers (up to
 * LOADGEN_API_MAX_OBJECT) which are parsed whole at the end. */
#include "loadgen/loadgen_run.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "loadgen/loadgen_api.h"
#include "loadgen/loadgen_client.h"
#include "common/bx_log.h"
#include "common/bx_queue.h"
#include "common/bx_sse.h"
#include "common/bx_tok.h"

static void loadgen_close_walk(uv_handle_t *h, void *a)
{
    (void)a;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

#define LOADGEN_ERR_BODY 4096
#define LOADGEN_SSE_MAX_EVENT (1024 * 1024)

enum item_state { IT_PENDING = 0, IT_RUNNING, IT_DONE };

struct loadgen_run;

struct loadgen_req {
    loadgen_xfer x;
    struct loadgen_run *run;
    size_t idx;
    bx_queue node; /* in the run's inflight list */
    bx_sse_parser sse;
    bx_buf answer; /* generated text, kept for multi-turn history */
    bx_buf raw;    /* body head (errors) or the whole non-streamed body */
    uint64_t t_send, t_last;
    uint64_t t_recv; /* when the bytes being parsed arrived */
    long chunks;
    int got_first, saw_done, has_usage;
    long prompt_tokens, completion_tokens;
    char err[256];
};

struct heap_ent {
    double at;
    size_t idx;
};

struct loadgen_run {
    uv_loop_t loop;
    loadgen_client client;
    uv_timer_t arrivals;
    uv_timer_t progress;
    uv_signal_t sigint;
    const loadgen_config *cfg;
    const loadgen_plan *plan;
    FILE *jsonl;
    char *url;
    loadgen_result *res;
    unsigned char *state;
    loadgen_conv *convs;
    size_t *roots;
    size_t n_roots, next_root;
    struct heap_ent *heap;
    size_t n_heap, cap_heap;
    size_t *fifo; /* ring of due items waiting for a concurrency slot */
    size_t fifo_head, fifo_len;
    bx_queue inflight; /* loadgen_req.node, newest first */
    size_t n_inflight, n_done, n_failed, n_sent;
    uint64_t t0, t_last_done;
    int stopping, finished, progress_on, fatal;
};

static double since(const struct loadgen_run *r, uint64_t t)
{
    return (double)(t - r->t0) / 1e9;
}

/* ---------------- heap of due later turns ---------------- */

static int heap_push(struct loadgen_run *r, double at, size_t idx)
{
    if (r->n_heap == r->cap_heap) {
        size_t nc = r->cap_heap ? r->cap_heap * 2 : 64;
        struct heap_ent *h = realloc(r->heap, nc * sizeof(*h));
        if (!h) return -1;
        r->heap = h;
        r->cap_heap = nc;
    }
    size_t i = r->n_heap++;
    r->heap[i] = (struct heap_ent){at, idx};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (r->heap[p].at <= r->heap[i].at) break;
        struct heap_ent t = r->heap[p];
        r->heap[p] = r->heap[i];
        r->heap[i] = t;
        i = p;
    }
    return 0;
}

static struct heap_ent heap_pop(struct loadgen_run *r)
{
    struct heap_ent top = r->heap[0];
    r->heap[0] = r->heap[--r->n_heap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < r->n_heap && r->heap[l].at < r->heap[m].at) m = l;
        if (l + 1 < r->n_heap && r->heap[l + 1].at < r->heap[m].at) m = l + 1;
        if (m == i) break;
        struct heap_ent t = r->heap[m];
        r->heap[m] = r->heap[i];
        r->heap[i] = t;
        i = m;
    }
    return top;
}

/* ---------------- results ---------------- */

/* Copies msg with bytes outside printable ASCII replaced, so it is valid JSON text. */
static char *clean_error(const char *msg)
{
    size_t n = strlen(msg);
    if (n > 300) n = 300;
    char *s = malloc(n + 1);
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)msg[i];
        s[i] = (c >= 32 && c < 127) ? (char)c : ' ';
    }
    s[n] = '\0';
    return s;
}

static void finish_result(struct loadgen_run *r, size_t idx, int ok, const char *error)
{
    loadgen_result *res = &r->res[idx];
    res->ok = ok;
    if (!ok) {
        res->error = clean_error(error && *error ? error : "failed");
        r->n_failed++;
    }
    r->state[idx] = IT_DONE;
    r->n_done++;
    r->t_last_done = uv_hrtime();
    if (r->jsonl) {
        json_t *j = loadgen_result_json(res);
        char *line = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
        if (!line || fprintf(r->jsonl, "%s\n", line) < 0) {
            if (!r->fatal) bx_error("cannot write the output JSONL");
            r->fatal = 1;
        }
        free(line);
        json_decref(j);
    }
}

static void init_result(struct loadgen_run *r, size_t idx, double scheduled)
{
    const loadgen_item *it = &r->plan->items[idx];
    loadgen_result *res = &r->res[idx];
    memset(res, 0, sizeof(*res));
    res->id = idx;
    res->session = it->session;
    res->turn = it->turn;
    res->input_len = it->input_len + it->prefix_len;
    res->output_len = it->output_len;
    res->scheduled_s = scheduled;
    res->send_s = since(r, uv_hrtime());
    res->ttft_ms = res->e2e_ms = -1;
    res->prompt_tokens = res->completion_tokens = -1;
}

/* The rest of a session after a failed turn is not sent. */
static void abort_chain(struct loadgen_run *r, long idx, const char *why)
{
    for (long i = idx; i >= 0; i = r->plan->items[i].next) {
        if (r->state[i] != IT_PENDING) continue;
        init_result(r, (size_t)i, -1);
        r->res[i].scheduled_s = 0;
        r->res[i].send_s = 0;
        finish_result(r, (size_t)i, 0, why);
    }
}

/* ---------------- one request ---------------- */

static void req_free(struct loadgen_req *q)
{
    loadgen_xfer_cleanup(&q->x);
    bx_sse_parser_free(&q->sse);
    bx_buf_free(&q->answer);
    bx_buf_free(&q->raw);
    free(q);
}

static void list_remove(struct loadgen_run *r, struct loadgen_req *q)
{
    bx_queue_remove(&q->node);
    r->n_inflight--;
}

static void on_text(struct loadgen_req *q, uint64_t now)
{
    loadgen_result *res = &q->run->res[q->idx];
    if (!q->got_first) {
        q->got_first = 1;
        res->ttft_ms = (double)(now - q->t_send) / 1e6;
    } else if (loadgen_result_add_itl(res, (double)(now - q->t_last) / 1e6) != 0) {
        snprintf(q->err, sizeof(q->err), "out of memory");
    }
    q->t_last = now;
    q->chunks++;
}

static void take_chunk(struct loadgen_req *q, const loadgen_api_chunk *c)
{
    if (c->has_error && !q->err[0]) snprintf(q->err, sizeof(q->err), "server: %.200s", c->error);
    if (c->has_usage) {
        q->has_usage = 1;
        q->prompt_tokens = c->prompt_tokens;
        q->completion_tokens = c->completion_tokens;
    }
}

static int on_event(const bx_sse_event *ev, void *ud)
{
    struct loadgen_req *q = ud;
    if (bx_sse_is_done(ev)) {
        q->saw_done = 1;
        return 0;
    }
    /* Events that came in one read arrived together: they share its time,
     * so parsing time does not leak into the inter-token gaps. */
    uint64_t now = q->t_recv;
    loadgen_api_chunk c;
    /* Only multi-turn needs the text itself; others just count it. */
    bx_buf *text = q->run->plan->items[q->idx].next >= 0 ? &q->answer : NULL;
    if (loadgen_api_parse(ev->data, ev->data_len, &c, text) != 0) {
        if (!q->err[0]) snprintf(q->err, sizeof(q->err), "%s", c.error);
        return 0;
    }
    if (c.text_len > 0) on_text(q, now);
    take_chunk(q, &c);
    return 0;
}

static int on_data(loadgen_xfer *x, const char *data, size_t len)
{
    struct loadgen_req *q = x->ud;
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    int whole = !q->run->cfg->stream && status >= 200 && status < 300;
    size_t limit = whole ? LOADGEN_API_MAX_OBJECT : LOADGEN_ERR_BODY;
    if (q->raw.len < limit) {
        size_t n = len < limit - q->raw.len ? len : limit - q->raw.len;
        if (bx_buf_append(&q->raw, data, n) != 0) return -1;
    } else if (whole) {
        snprintf(q->err, sizeof(q->err), "response larger than %d bytes", LOADGEN_API_MAX_OBJECT);
        return -1;
    }
    if (q->run->cfg->stream && status >= 200 && status < 300) {
        q->t_recv = uv_hrtime();
        int rc = bx_sse_parser_feed(&q->sse, data, len);
        if (rc != 0) {
            snprintf(q->err, sizeof(q->err), "SSE event larger than %d bytes",
                     LOADGEN_SSE_MAX_EVENT);
            return -1;
        }
    }
    return 0;
}

/* Error text of a non-2xx answer: its JSON error message, else its head. */
static void http_error(struct loadgen_req *q, long status)
{
    loadgen_api_chunk c;
    if (q->raw.len && loadgen_api_parse(q->raw.data, q->raw.len, &c, NULL) == 0 && c.has_error)
        snprintf(q->err, sizeof(q->err), "HTTP %ld: %.200s", status, c.error);
    else
        snprintf(q->err, sizeof(q->err), "HTTP %ld: %.200s", status,
                 q->raw.data ? q->raw.data : "");
}

static void schedule(struct loadgen_run *r);

static void on_done(loadgen_xfer *x, CURLcode rc, long status, const char *errmsg)
{
    struct loadgen_req *q = x->ud;
    struct loadgen_run *r = q->run;
    uint64_t now = uv_hrtime();
    loadgen_result *res = &r->res[q->idx];
    const loadgen_item *it = &r->plan->items[q->idx];
    list_remove(r, q);
    res->status = status;
    if (rc != CURLE_OK) {
        if (!q->err[0]) snprintf(q->err, sizeof(q->err), "%s", errmsg);
    } else if (status < 200 || status >= 300) {
        http_error(q, status);
    } else if (!r->cfg->stream) {
        loadgen_api_chunk c;
        bx_buf *text = it->next >= 0 ? &q->answer : NULL;
        if (loadgen_api_parse(q->raw.data ? q->raw.data : "", q->raw.len, &c, text) != 0) {
            if (!q->err[0]) snprintf(q->err, sizeof(q->err), "%s", c.error);
        } else {
            take_chunk(q, &c);
            if (c.text_len > 0 || c.has_usage) {
                q->got_first = 1;
                res->ttft_ms = (double)(now - q->t_send) / 1e6;
                q->chunks = 1;
            }
            if (!q->has_usage && text)
                q->completion_tokens = (long)bx_tok_count(text->data, text->len);
        }
    } else if (!q->saw_done && !q->err[0]) {
        snprintf(q->err, sizeof(q->err), "stream ended before data: [DONE]");
    }
    int ok = !q->err[0];
    if (ok) {
        res->e2e_ms = (double)(now - q->t_send) / 1e6;
        res->usage_reported = q->has_usage;
        res->prompt_tokens = q->has_usage ? q->prompt_tokens : -1;
        res->completion_tokens = q->has_usage     ? q->completion_tokens
                                 : r->cfg->stream ? q->chunks
                                                  : q->completion_tokens;
    }
    if (it->session >= 0 && it->next >= 0 && ok) {
        loadgen_conv *cv = &r->convs[it->session];
        const loadgen_item *nx = &r->plan->items[it->next];
        double due = since(r, now) + nx->think;
        if (nx->at > due) due = nx->at;
        if (loadgen_conv_add(cv, q->answer.data ? q->answer.data : "", q->answer.len) != 0 ||
            heap_push(r, due, (size_t)it->next) != 0)
            snprintf(q->err, sizeof(q->err), "out of memory");
        ok = !q->err[0];
    }
    finish_result(r, q->idx, ok, q->err);
    if (it->session >= 0 && (!ok || it->next < 0)) {
        if (!ok) abort_chain(r, it->next, "previous turn of the session failed");
        loadgen_conv_free(&r->convs[it->session]);
    }
    req_free(q);
    schedule(r);
}

static int start_item(struct loadgen_run *r, size_t idx, double scheduled)
{
    const loadgen_item *it = &r->plan->items[idx];
    init_result(r, idx, scheduled);
    r->state[idx] = IT_RUNNING;
    struct loadgen_req *q = calloc(1, sizeof(*q));
    bx_buf prompt;
    bx_buf_init(&prompt);
    const char *why = "out of memory";
    if (!q) goto fail;
    q->run = r;
    q->idx = idx;
    q->x.ud = q;
    q->x.on_data = on_data;
    q->x.on_done = on_done;
    bx_sse_parser_init(&q->sse, LOADGEN_SSE_MAX_EVENT, on_event, q);
    bx_buf_init(&q->answer);
    bx_buf_init(&q->raw);
    if (loadgen_item_text(&prompt, r->cfg->wl.seed, it) != 0) goto fail;
    loadgen_api_req ar = {.chat = r->cfg->chat,
                          .stream = r->cfg->stream,
                          .model = r->cfg->model,
                          .user = r->cfg->user,
                          .max_tokens = it->output_len};
    loadgen_conv *cv = it->session >= 0 ? &r->convs[it->session] : NULL;
    char *body = loadgen_api_body(&ar, cv, prompt.data ? prompt.data : "", prompt.len);
    if (!body) goto fail;
    if (cv && it->next >= 0 &&
        loadgen_conv_add(cv, prompt.data ? prompt.data : "", prompt.len) != 0) {
        free(body);
        goto fail;
    }
    long timeout_ms = (long)(r->cfg->timeout_s * 1000.0);
    why = "cannot set up the HTTP request";
    if (loadgen_xfer_setup(&q->x, r->url, r->cfg->headers, r->cfg->n_headers, r->cfg->api_key, body,
                           timeout_ms) != 0)
        goto fail;
    q->t_send = uv_hrtime();
    r->res[idx].send_s = since(r, q->t_send);
    if (loadgen_client_start(&r->client, &q->x) != 0) goto fail;
    bx_buf_free(&prompt);
    bx_queue_insert_head(&r->inflight, &q->node);
    r->n_inflight++;
    r->n_sent++;
    return 0;
fail:
    bx_buf_free(&prompt);
    if (q) req_free(q);
    finish_result(r, idx, 0, why);
    if (it->session >= 0) {
        abort_chain(r, it->next, "previous turn of the session failed");
        loadgen_conv_free(&r->convs[it->session]);
    }
    return -1;
}

/* ---------------- the loop ---------------- */

static void on_arrival_timer(uv_timer_t *t)
{
    schedule(t->data);
}

static void draw_progress(struct loadgen_run *r, int final)
{
    size_t total = r->plan->n, done = r->n_done;
    int width = 30, fill = total ? (int)((double)done / (double)total * width) : width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    const char *pre = r->cfg->progress_prefix;
    if (final && pre) {
        fputs("\r\033[2K", stderr); /* a transient bar: the caller prints its own line */
        fflush(stderr);
        return;
    }
    fprintf(stderr, "\r%s[%s] %zu/%zu done, %zu in flight, %zu failed, %.1f s%s", pre ? pre : "",
            bar, done, total, r->n_inflight, r->n_failed, since(r, uv_hrtime()),
            final ? "\n" : "   ");
    fflush(stderr);
}

static void on_progress_timer(uv_timer_t *t)
{
    draw_progress(t->data, 0);
}

static void close_all(struct loadgen_run *r)
{
    if (r->finished) return;
    r->finished = 1;
    uv_timer_stop(&r->arrivals);
    uv_close((uv_handle_t *)&r->arrivals, NULL);
    if (r->progress_on) {
        uv_timer_stop(&r->progress);
        draw_progress(r, 1);
    }
    uv_close((uv_handle_t *)&r->progress, NULL);
    uv_signal_stop(&r->sigint);
    uv_close((uv_handle_t *)&r->sigint, NULL);
    loadgen_client_close(&r->client);
}

static void schedule(struct loadgen_run *r)
{
    if (r->finished) return;
    if (!r->stopping) {
        double now = since(r, uv_hrtime());
        /* Move everything due into the FIFO, in due order. */
        for (;;) {
            double ra =
                r->next_root < r->n_roots ? r->plan->items[r->roots[r->next_root]].at : INFINITY;
            double ha = r->n_heap ? r->heap[0].at : INFINITY;
            if (ra > now && ha > now) break;
            size_t idx;
            if (ra <= ha) {
                idx = r->roots[r->next_root++];
            } else {
                idx = heap_pop(r).idx;
            }
            r->fifo[(r->fifo_head + r->fifo_len) % r->plan->n] = idx;
            r->fifo_len++;
        }
        long cap = r->cfg->max_concurrency;
        while (r->fifo_len && (cap <= 0 || r->n_inflight < (size_t)cap)) {
            size_t idx = r->fifo[r->fifo_head];
            r->fifo_head = (r->fifo_head + 1) % r->plan->n;
            r->fifo_len--;
            if (r->state[idx] != IT_PENDING) continue;
            const loadgen_item *it = &r->plan->items[idx];
            double sched = it->prev < 0 ? it->at : -1;
            start_item(r, idx, sched < 0 ? now : sched);
        }
        double ra =
            r->next_root < r->n_roots ? r->plan->items[r->roots[r->next_root]].at : INFINITY;
        double ha = r->n_heap ? r->heap[0].at : INFINITY;
        double next = ra < ha ? ra : ha;
        uv_timer_stop(&r->arrivals);
        if (isfinite(next)) {
            double ms = ceil((next - since(r, uv_hrtime())) * 1000.0);
            uv_timer_start(&r->arrivals, on_arrival_timer, ms > 0 ? (uint64_t)ms : 0, 0);
        }
    }
    if (r->n_inflight == 0 && (r->stopping || r->n_done == r->plan->n)) close_all(r);
}

static void on_sigint(uv_signal_t *s, int signum)
{
    struct loadgen_run *r = s->data;
    (void)signum;
    if (r->stopping) return;
    r->stopping = 1;
    if (r->progress_on) fputc('\n', stderr);
    bx_warn("interrupted; cancelling %zu requests in flight", r->n_inflight);
    uv_timer_stop(&r->arrivals);
    bx_queue *n;
    while ((n = bx_queue_head(&r->inflight))) {
        struct loadgen_req *q = bx_container_of(n, struct loadgen_req, node);
        loadgen_client_cancel(&r->client, &q->x);
        list_remove(r, q);
        r->res[q->idx].status = 0;
        finish_result(r, q->idx, 0, "interrupted");
        req_free(q);
    }
    schedule(r);
}

static int cmp_root(const void *a, const void *b, void *ud)
{
    const loadgen_plan *p = ud;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    double ax = p->items[x].at, ay = p->items[y].at;
    if (ax != ay) return ax < ay ? -1 : 1;
    return (x > y) - (x < y);
}

static char *full_url(const loadgen_config *cfg)
{
    const char *path = cfg->chat ? "/v1/chat/completions" : "/v1/completions";
    size_t n = strlen(cfg->url);
    while (n > 0 && cfg->url[n - 1] == '/')
        n--;
    size_t len = n + strlen(path) + 1;
    char *u = malloc(len);
    if (u) snprintf(u, len, "%.*s%s", (int)n, cfg->url, path);
    return u;
}

int loadgen_run_exec(const loadgen_config *cfg, const loadgen_plan *plan, FILE *jsonl,
                     loadgen_result **results, size_t *n_results, double *duration_s)
{
    *results = NULL;
    *n_results = 0;
    *duration_s = 0;
    struct loadgen_run *r = calloc(1, sizeof(*r));
    if (!r) return -1;
    bx_queue_init(&r->inflight);
    int rc = -1, loop_ok = 0, client_ok = 0;
    r->cfg = cfg;
    r->plan = plan;
    r->jsonl = jsonl;
    r->url = full_url(cfg);
    r->res = calloc(plan->n, sizeof(*r->res));
    r->state = calloc(plan->n, 1);
    r->roots = calloc(plan->n, sizeof(*r->roots));
    r->fifo = calloc(plan->n, sizeof(*r->fifo));
    r->convs = calloc(plan->num_sessions ? (size_t)plan->num_sessions : 1, sizeof(*r->convs));
    if (!r->url || !r->res || !r->state || !r->roots || !r->fifo || !r->convs) goto out;
    for (size_t i = 0; i < plan->n; i++)
        if (plan->items[i].prev < 0) r->roots[r->n_roots++] = i;
    qsort_r(r->roots, r->n_roots, sizeof(*r->roots), cmp_root, (void *)plan);

    if (uv_loop_init(&r->loop) != 0) goto out;
    loop_ok = 1;
    if (loadgen_client_init(&r->client, &r->loop) != 0) goto out;
    client_ok = 1;
    if (uv_timer_init(&r->loop, &r->arrivals) != 0 || uv_timer_init(&r->loop, &r->progress) != 0 ||
        uv_signal_init(&r->loop, &r->sigint) != 0)
        goto out; /* (not reached in practice: these only fail on a bad loop) */
    r->arrivals.data = r->progress.data = r->sigint.data = r;
    if (uv_signal_start(&r->sigint, on_sigint, SIGINT) != 0) goto out;
    r->progress_on = cfg->progress != 0 && isatty(STDERR_FILENO);
    if (r->progress_on) uv_timer_start(&r->progress, on_progress_timer, 200, 200);

    r->t0 = r->t_last_done = uv_hrtime();
    schedule(r);
    if (uv_run(&r->loop, UV_RUN_DEFAULT) != 0) bx_warn("loop ended with handles open");
    *duration_s = since(r, r->t_last_done);

    size_t n = 0;
    for (size_t i = 0; i < plan->n; i++)
        n += r->state[i] == IT_DONE;
    loadgen_result *out = calloc(n ? n : 1, sizeof(*out));
    if (!out) goto out;
    n = 0;
    for (size_t i = 0; i < plan->n; i++) {
        if (r->state[i] == IT_DONE) {
            out[n++] = r->res[i];
            memset(&r->res[i], 0, sizeof(r->res[i]));
        }
    }
    *results = out;
    *n_results = n;
    rc = r->fatal ? -1 : 0;
out:
    if (loop_ok) {
        if (!r->finished) {
            if (client_ok) loadgen_client_close(&r->client);
            uv_walk(&r->loop, loadgen_close_walk, NULL);
            uv_run(&r->loop, UV_RUN_DEFAULT);
        }
        if (uv_loop_close(&r->loop) != 0) bx_warn("loop not closed cleanly");
    }
    for (size_t i = 0; r->res && i < plan->n; i++)
        loadgen_result_free(&r->res[i]);
    for (int i = 0; r->convs && i < plan->num_sessions; i++)
        loadgen_conv_free(&r->convs[i]);
    free(r->res);
    free(r->state);
    free(r->roots);
    free(r->fifo);
    free(r->convs);
    free(r->heap);
    free(r->url);
    free(r);
    return rc;
}
