/* k8s_client: see k8s_client.h. Transfers run on a bx_curlm (libcurl's
 * event-loop integration); the client counts the bx_curlm and a retry timer
 * per request, and is freed when the last one has closed. */
#include "k8s/k8s_client.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_curlm.h"
#include "common/bx_log.h"
#include "common/bx_queue.h"

#define RETRY_AFTER_CAP_S 30

struct k8s_client {
    uv_loop_t *loop;
    bx_curlm *cm; /* NULL once it has closed */
    k8s_config cfg;
    k8s_client_opts o;
    char ua[64];
    uint64_t token_read_at;
    bx_queue reqs; /* every live k8s_req */
    int open_handles;
    int closing;
    unsigned long long nreq;
    unsigned long long nconn;     /* connections opened */
    unsigned long long throttled; /* requests that waited for the rate limit */
    double tokens;                /* the rate limit's bucket; below 0: reserved ahead */
    uint64_t tokens_at;           /* loop ms of the last refill */
    void (*done)(void *);
    void *done_ud;
};

struct k8s_req {
    k8s_client *c;
    bx_queue node;
    CURL *easy;
    struct curl_slist *hdrs;
    char *url, *method, *body, *ctype;
    bx_buf resp;
    k8s_lines lines;
    k8s_line_cb on_line;
    k8s_done_cb cb;
    void *ud;
    uv_timer_t retry;
    long timeout_s; /* a stream's; 0 for a plain request */
    int attempts;
    int in_multi;
    int in_line; /* inside on_line */
    int cancelled;
    int stopped; /* on_line asked to end */
    int too_big;
    int reserved; /* waiting on its retry timer for a rate-limit token it holds */
    char errbuf[CURL_ERROR_SIZE];
};

void k8s_client_opts_default(k8s_client_opts *o)
{
    o->timeout_ms = 60000;
    o->max_body = 64u << 20;
    o->max_line = 16u << 20;
    o->max_retries = 4;
    o->retry_base_ms = 250;
    o->low_speed_s = 120;
    o->token_reread_ms = 60000;
    o->user_agent = NULL;
    o->qps = 50;
    o->burst = 100;
}

uv_loop_t *k8s_client_loop(const k8s_client *c)
{
    return c->loop;
}

const char *k8s_client_ns(const k8s_client *c)
{
    return c->cfg.ns ? c->cfg.ns : "default";
}

unsigned long long k8s_client_requests(const k8s_client *c)
{
    return c->nreq;
}

unsigned long long k8s_client_connections(const k8s_client *c)
{
    return c->nconn;
}

unsigned long long k8s_client_throttled(const k8s_client *c)
{
    return c->throttled;
}

/* The rate limit (a token bucket, as client-go's): takes a token, and says
 * how long to wait for it (0: now). Tokens may be reserved ahead (the
 * bucket goes below 0), so requests start in the order they came. */
static uint64_t reserve(k8s_client *c)
{
    if (c->o.qps <= 0) return 0;
    uint64_t now = uv_now(c->loop);
    double burst = c->o.burst > 0 ? c->o.burst : 1;
    c->tokens += (double)(now - c->tokens_at) * c->o.qps / 1000.0;
    if (c->tokens > burst) c->tokens = burst;
    c->tokens_at = now;
    c->tokens -= 1;
    if (c->tokens >= 0) return 0;
    c->throttled++;
    return (uint64_t)(-c->tokens * 1000.0 / c->o.qps) + 1;
}

static void maybe_done(k8s_client *c)
{
    if (!c->closing || c->open_handles > 0) return;
    void (*done)(void *) = c->done;
    void *ud = c->done_ud;
    k8s_config_free(&c->cfg);
    free(c);
    if (done) done(ud);
}

static void req_closed(uv_handle_t *h)
{
    k8s_req *r = h->data;
    k8s_client *c = r->c;
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->hdrs);
    free(r->body);
    free(r);
    c->open_handles--;
    maybe_done(c);
}

/* Takes r out of the multi and frees it. Its retry timer closes last, and
 * what the easy handle reads (headers, body) goes with it: a remove asked for
 * from inside curl is only done once curl has returned, and until then the
 * write callback ends at once. */
static void req_free(k8s_req *r)
{
    k8s_client *c = r->c;
    if (r->in_multi && c->cm) bx_curlm_remove(c->cm, r->easy);
    r->in_multi = 0;
    r->cancelled = 1;
    if (r->reserved) { /* cancelled before its turn: the token goes back */
        double burst = c->o.burst > 0 ? c->o.burst : 1;
        c->tokens = c->tokens + 1 < burst ? c->tokens + 1 : burst;
        r->reserved = 0;
    }
    bx_queue_remove(&r->node);
    free(r->url);
    free(r->method);
    free(r->ctype);
    bx_buf_free(&r->resp);
    k8s_lines_free(&r->lines);
    uv_timer_stop(&r->retry);
    uv_close((uv_handle_t *)&r->retry, req_closed);
}

static long header_retry_after(k8s_req *r)
{
#if CURL_AT_LEAST_VERSION(7, 66, 0)
    curl_off_t ra = 0;
    if (curl_easy_getinfo(r->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
        return ra > RETRY_AFTER_CAP_S ? RETRY_AFTER_CAP_S : (long)ra;
#endif
    return 0;
}

static int start_transfer(k8s_req *r);

static void on_retry(uv_timer_t *t)
{
    k8s_req *r = t->data;
    r->reserved = 0;
    if (start_transfer(r) != 0) {
        k8s_status st;
        k8s_status_from(NULL, 0, &st);
        k8s_resp resp = {0, NULL, &st, "could not restart the request"};
        k8s_done_cb cb = r->cb;
        void *ud = r->ud;
        req_free(r);
        cb(&resp, ud);
    }
}

/* A finished transfer: retry it, or answer and free it. */
static void finish(k8s_req *r, CURLcode rc)
{
    k8s_client *c = r->c;
    long code = 0, nconn = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    if (curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &nconn) == CURLE_OK && nconn > 0)
        c->nconn += (unsigned long long)nconn;
    r->in_multi = 0; /* bx_curlm took it out */
    if (r->cancelled) {
        req_free(r);
        return;
    }
    const char *terr = "";
    if (r->too_big)
        terr = "reply body over the size limit";
    else if (r->stopped)
        terr = "stopped";
    else if (rc != CURLE_OK)
        terr = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);
    if (rc != CURLE_OK && !r->stopped && !(r->timeout_s && code == 200)) code = 0;
    int is_get = strcmp(r->method, "GET") == 0;
    /* a certificate the client does not trust, or its own it cannot use,
     * will not change on a retry: fail at once so the caller says so */
    int tls_bad = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CERTPROBLEM ||
                  rc == CURLE_SSL_CACERT_BADFILE;
    if (!r->timeout_s && !r->too_big && !tls_bad && r->attempts <= c->o.max_retries &&
        (code == 429 || (is_get && (code == 0 || code >= 500)))) {
        long wait_ms = header_retry_after(r) * 1000;
        k8s_status st;
        if (!wait_ms && r->resp.len) {
            json_t *b = json_loadb(r->resp.data, r->resp.len, 0, NULL);
            k8s_status_from(b, code, &st);
            json_decref(b);
            wait_ms = st.retry_after_s * 1000;
        }
        if (!wait_ms) wait_ms = c->o.retry_base_ms << (r->attempts - 1 < 6 ? r->attempts - 1 : 6);
        bx_debug("k8s: %s %s: %ld, retry in %ld ms", r->method, r->url, code, wait_ms);
        bx_buf_reset(&r->resp);
        uv_timer_start(&r->retry, on_retry, (uint64_t)wait_ms, 0);
        return;
    }
    json_t *body = NULL;
    if (r->resp.len) body = json_loadb(r->resp.data, r->resp.len, 0, NULL);
    k8s_status st;
    int ok = code >= 200 && code < 300;
    if (!ok) {
        k8s_status_from(body, code, &st);
        if (!st.retry_after_s) st.retry_after_s = header_retry_after(r);
        if (code == 0) snprintf(st.message, sizeof(st.message), "%s", terr);
    }
    k8s_resp resp = {code, body, ok ? NULL : &st, terr};
    k8s_done_cb cb = r->cb;
    void *ud = r->ud;
    req_free(r);
    cb(&resp, ud);
    json_decref(body);
}

/* bx_curlm's done callback: easy is out of the multi. */
static void xfer_done(void *ud, CURL *easy, CURLcode rc)
{
    k8s_req *r = NULL;
    (void)ud;
    if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r) != CURLE_OK || !r) return;
    finish(r, rc);
}

int k8s_client_new(uv_loop_t *loop, k8s_config *cfg, const k8s_client_opts *opts, k8s_client **out,
                   char *err, size_t errlen)
{
    *out = NULL;
    if (!cfg->server) {
        snprintf(err, errlen, "k8s: no server in the config");
        return -1;
    }
    k8s_client *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "k8s: out of memory");
        return -1;
    }
    c->loop = loop;
    if (opts)
        c->o = *opts;
    else
        k8s_client_opts_default(&c->o);
    snprintf(c->ua, sizeof(c->ua), "%s", c->o.user_agent ? c->o.user_agent : "brix/" BRIX_VERSION);
    c->o.user_agent = c->ua;
    bx_queue_init(&c->reqs);
    c->cm = bx_curlm_new(loop, xfer_done, c);
    if (!c->cm) {
        free(c);
        snprintf(err, errlen, "k8s: cannot make the transfer handle");
        return -1;
    }
    c->open_handles = 1;
    c->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    c->token_read_at = uv_now(loop);
    c->tokens = c->o.burst > 0 ? c->o.burst : 1;
    c->tokens_at = uv_now(loop);
    *out = c;
    return 0;
}

static void curlm_closed(void *ud)
{
    k8s_client *c = ud;
    /* The multi is gone (a request still in it was detached by its cleanup). */
    c->cm = NULL;
    while (!bx_queue_empty(&c->reqs))
        req_free(bx_container_of(bx_queue_head(&c->reqs), k8s_req, node));
    c->open_handles--;
    maybe_done(c);
}

void k8s_client_close(k8s_client *c, void (*done)(void *ud), void *ud)
{
    if (c->closing) return;
    c->closing = 1;
    c->done = done;
    c->done_ud = ud;
    /* A request inside its line callback is inside curl: it is only marked;
     * its transfer ends with the write error, and it is freed then. */
    bx_queue *q = bx_queue_head(&c->reqs);
    while (q) {
        k8s_req *r = bx_container_of(q, k8s_req, node);
        q = bx_queue_next(&c->reqs, q);
        if (r->in_line)
            r->cancelled = 1;
        else
            req_free(r);
    }
    bx_curlm_close(c->cm, curlm_closed, c);
}

int k8s_query_add(bx_buf *q, const char *k, const char *v)
{
    char *ek = curl_easy_escape(NULL, k, 0), *ev = curl_easy_escape(NULL, v, 0);
    int r = -1;
    if (ek && ev) r = bx_buf_printf(q, "%s%s=%s", q->len ? "&" : "", ek, ev);
    curl_free(ek);
    curl_free(ev);
    return r;
}

static int line_cb(void *ud, const char *line, size_t len)
{
    k8s_req *r = ud;
    if (r->cancelled || r->stopped) return 1;
    r->in_line = 1;
    int stop = r->on_line(line, len, r->ud);
    r->in_line = 0;
    if (stop) r->stopped = 1;
    return r->cancelled || stop;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    k8s_req *r = userdata;
    size_t n = size * nmemb;
    if (r->cancelled) return 0;
    long code = 0;
    if (r->on_line) curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    if (r->on_line && code == 200) {
        int e = k8s_lines_feed(&r->lines, ptr, n, line_cb, r);
        if (e < 0) r->too_big = 1;
        return e ? 0 : n;
    }
    if (r->resp.len + n > r->c->o.max_body || bx_buf_append(&r->resp, ptr, n) != 0) {
        r->too_big = 1;
        return 0;
    }
    return n;
}

/* The bearer token, re-read from its file when token_reread_ms old. */
static const char *token(k8s_client *c)
{
    uint64_t now = uv_now(c->loop);
    if (c->cfg.token_file &&
        (!c->cfg.token || now - c->token_read_at >= (uint64_t)c->o.token_reread_ms)) {
        char err[256] = "";
        size_t len;
        char *t = k8s_read_file(c->cfg.token_file, 64 << 10, &len, err, sizeof(err));
        c->token_read_at = now;
        if (t) {
            while (len && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' '))
                t[--len] = '\0';
            free(c->cfg.token);
            c->cfg.token = t;
        } else {
            bx_warn("k8s: token re-read failed (%s); keeping the old one", err);
        }
    }
    return c->cfg.token;
}

static int start_transfer(k8s_req *r)
{
    k8s_client *c = r->c;
    CURL *e = r->easy;
    curl_slist_free_all(r->hdrs);
    r->hdrs = NULL;
    const char *tok = token(c);
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    if (h && tok) {
        size_t n = strlen(tok) + 32;
        char *a = malloc(n);
        if (a) snprintf(a, n, "Authorization: Bearer %s", tok);
        struct curl_slist *t = a ? curl_slist_append(h, a) : NULL;
        free(a);
        if (!t) goto fail;
        h = t;
    }
    if (h && r->body) {
        char ct[160];
        snprintf(ct, sizeof(ct), "Content-Type: %s", r->ctype ? r->ctype : "application/json");
        struct curl_slist *t = curl_slist_append(h, ct);
        if (t) t = curl_slist_append(t, "Expect:"); /* no 100-continue round trip */
        if (!t) goto fail;
        h = t;
    }
    r->hdrs = h;
    if (!h) return -1;
    r->errbuf[0] = '\0';
    r->too_big = 0;
    bx_buf_reset(&r->resp);
    k8s_lines_reset(&r->lines);
    if (curl_easy_setopt(e, CURLOPT_HTTPHEADER, h) != CURLE_OK) return -1;
    if (bx_curlm_add(c->cm, e) != 0) return -1;
    r->in_multi = 1;
    r->attempts++;
    c->nreq++;
    return 0;
fail:
    curl_slist_free_all(h);
    return -1;
}

/* Builds r's easy handle; the headers come per attempt (start_transfer). */
static int setup(k8s_req *r)
{
    k8s_client *c = r->c;
    const k8s_config *k = &c->cfg;
    CURL *e = r->easy;
    CURLcode x = CURLE_OK;
#define SET(opt, v)                                                                                \
    do {                                                                                           \
        if (!x) x = curl_easy_setopt(e, opt, v);                                                   \
    } while (0)
    SET(CURLOPT_URL, r->url);
    SET(CURLOPT_PRIVATE, r);
    SET(CURLOPT_WRITEFUNCTION, write_cb);
    SET(CURLOPT_WRITEDATA, r);
    SET(CURLOPT_ERRORBUFFER, r->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_USERAGENT, c->ua);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TCP_KEEPIDLE, 30L);
    SET(CURLOPT_TCP_KEEPINTVL, 10L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    SET(CURLOPT_ACCEPT_ENCODING, ""); /* what curl can decode */
    if (r->timeout_s) {
        SET(CURLOPT_TIMEOUT, r->timeout_s + 30);
        SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
        SET(CURLOPT_LOW_SPEED_TIME, c->o.low_speed_s);
    } else {
        SET(CURLOPT_TIMEOUT_MS, c->o.timeout_ms);
    }
    if (k->insecure) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (k->ca_data) {
        struct curl_blob b = {k->ca_data, k->ca_len, CURL_BLOB_COPY};
        SET(CURLOPT_CAINFO_BLOB, &b);
    } else if (k->ca_file) {
        SET(CURLOPT_CAINFO, k->ca_file);
    }
    if (k->cert_data) {
        struct curl_blob b = {k->cert_data, k->cert_len, CURL_BLOB_COPY};
        SET(CURLOPT_SSLCERT_BLOB, &b);
        SET(CURLOPT_SSLCERTTYPE, "PEM");
    } else if (k->cert_file) {
        SET(CURLOPT_SSLCERT, k->cert_file);
    }
    if (k->key_data) {
        struct curl_blob b = {k->key_data, k->key_len, CURL_BLOB_COPY};
        SET(CURLOPT_SSLKEY_BLOB, &b);
        SET(CURLOPT_SSLKEYTYPE, "PEM");
    } else if (k->key_file) {
        SET(CURLOPT_SSLKEY, k->key_file);
    }
    if (strcmp(r->method, "GET") != 0) SET(CURLOPT_CUSTOMREQUEST, r->method);
    if (r->body) {
        SET(CURLOPT_POSTFIELDS, r->body);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->body));
    }
#undef SET
    if (x) {
        bx_error("k8s: curl_easy_setopt: %s", curl_easy_strerror(x));
        return -1;
    }
    return 0;
}

static k8s_req *req_new(k8s_client *c, const char *method, const char *path, const char *query,
                        const char *ctype, const char *body, long timeout_s, k8s_line_cb on_line,
                        k8s_done_cb cb, void *ud)
{
    if (c->closing || !path || path[0] != '/') return NULL;
    k8s_req *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->c = c;
    r->cb = cb;
    r->ud = ud;
    r->timeout_s = timeout_s;
    r->on_line = on_line;
    bx_buf_init(&r->resp);
    k8s_lines_init(&r->lines, c->o.max_line);
    if (uv_timer_init(c->loop, &r->retry) != 0) {
        free(r);
        return NULL;
    }
    r->retry.data = r;
    c->open_handles++;
    bx_queue_insert_tail(&c->reqs, &r->node);
    size_t n = strlen(c->cfg.server) + strlen(path) + (query ? strlen(query) : 0) + 2;
    r->url = malloc(n);
    r->method = strdup(method);
    r->easy = curl_easy_init();
    if (body && !(r->body = strdup(body))) goto fail;
    if (ctype && !(r->ctype = strdup(ctype))) goto fail;
    if (!r->url || !r->method || !r->easy) goto fail;
    snprintf(r->url, n, "%s%s%s%s", c->cfg.server, path, query && query[0] ? "?" : "",
             query ? query : "");
    if (setup(r) != 0) goto fail;
    /* A plain request waits for the rate limit on its retry timer (its
     * timeout starts with the transfer); a watch goes at once. */
    uint64_t wait = timeout_s ? 0 : reserve(c);
    if (wait) {
        r->reserved = 1;
        uv_timer_start(&r->retry, on_retry, wait, 0);
    } else if (start_transfer(r) != 0)
        goto fail;
    return r;
fail:
    req_free(r);
    return NULL;
}

k8s_req *k8s_request(k8s_client *c, const char *method, const char *path, const char *query,
                     const char *ctype, const char *body, k8s_done_cb cb, void *ud)
{
    return req_new(c, method, path, query, ctype, body, 0, NULL, cb, ud);
}

k8s_req *k8s_stream(k8s_client *c, const char *path, const char *query, long timeout_s,
                    k8s_line_cb on_line, k8s_done_cb done, void *ud)
{
    return req_new(c, "GET", path, query, NULL, NULL, timeout_s > 0 ? timeout_s : 600, on_line,
                   done, ud);
}

void k8s_cancel(k8s_req *r)
{
    if (!r || r->cancelled) return;
    r->cancelled = 1;
    if (r->in_line) return; /* the write callback ends it; finish frees it */
    req_free(r);
}
