/* loadgen_client: see loadgen_client.h. The transfers run on a bx_curlm
 * (libcurl's multi interface on the loop); this file sets up the requests
 * and counts the ones in flight. */
#include "loadgen/loadgen_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"

static void xfer_done(void *ud, CURL *easy, CURLcode rc)
{
    loadgen_client *c = ud;
    loadgen_xfer *x = NULL;
    if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x) != CURLE_OK || !x) return;
    long status = 0;
    if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    x->active = 0;
    c->active--;
    const char *msg = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
    x->on_done(x, rc, status, rc == CURLE_OK ? "" : msg);
}

int loadgen_client_init(loadgen_client *c, uv_loop_t *loop)
{
    memset(c, 0, sizeof(*c));
    c->loop = loop;
    c->cm = bx_curlm_new(loop, xfer_done, c);
    if (!c->cm) return -1;
    CURLM *multi = bx_curlm_multi(c->cm);
    CURLMcode e = CURLM_OK;
    /* Open loop: every request in flight gets its own connection, none waits. */
    if (!e) e = curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    if (!e) e = curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    if (!e) e = curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 100000L);
    if (e) {
        bx_error("curl_multi_setopt: %s", curl_multi_strerror(e));
        loadgen_client_close(c); /* the caller runs the loop to finish it */
        return -1;
    }
    return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    loadgen_xfer *x = userdata;
    size_t n = size * nmemb;
    if (x->on_data && x->on_data(x, ptr, n) != 0) return 0; /* abort: CURLE_WRITE_ERROR */
    return n;
}

/* Request headers: ours, the bearer token, then the user's. NULL on failure. */
static struct curl_slist *build_headers(const char *const *headers, size_t nheaders,
                                        const char *api_key, int json_body)
{
    struct curl_slist *h = NULL, *t;
#define ADDH(s)                                                                                    \
    do {                                                                                           \
        if (!(t = curl_slist_append(h, (s)))) goto fail;                                           \
        h = t;                                                                                     \
    } while (0)
    if (json_body) {
        ADDH("Content-Type: application/json");
        ADDH("Accept: text/event-stream, application/json");
        ADDH("Expect:"); /* no 100-continue round trip on large bodies */
    }
    if (api_key) {
        size_t n = strlen(api_key) + 32;
        char *a = malloc(n);
        if (!a) goto fail;
        snprintf(a, n, "Authorization: Bearer %s", api_key);
        t = curl_slist_append(h, a);
        free(a);
        if (!t) goto fail;
        h = t;
    }
    for (size_t i = 0; i < nheaders; i++)
        ADDH(headers[i]);
#undef ADDH
    return h;
fail:
    curl_slist_free_all(h);
    return NULL;
}

int loadgen_xfer_setup(loadgen_xfer *x, const char *url, const char *const *headers,
                       size_t nheaders, const char *api_key, char *body, long timeout_ms)
{
    x->body = body;
    x->easy = curl_easy_init();
    if (!x->easy) return -1;
    x->errbuf[0] = '\0';
    struct curl_slist *h = build_headers(headers, nheaders, api_key, 1);
    if (!h) return -1;
    x->headers = h;
    CURLcode e = CURLE_OK;
    if (!e) e = curl_easy_setopt(x->easy, CURLOPT_URL, url);
    if (!e) e = curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, h);
    if (!e) e = curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, body);
    if (!e) e = curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    if (!e) e = curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, write_cb);
    if (!e) e = curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    if (!e) e = curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    if (!e) e = curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    if (!e) e = curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    if (!e) e = curl_easy_setopt(x->easy, CURLOPT_TCP_NODELAY, 1L);
    if (!e) e = curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
    if (!e) e = curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (!e) e = curl_easy_setopt(x->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    if (e) {
        bx_error("curl_easy_setopt: %s", curl_easy_strerror(e));
        return -1;
    }
    return 0;
}

void loadgen_xfer_cleanup(loadgen_xfer *x)
{
    if (x->easy) curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    free(x->body);
    x->easy = NULL;
    x->headers = NULL;
    x->body = NULL;
}

int loadgen_client_start(loadgen_client *c, loadgen_xfer *x)
{
    if (c->closing) return -1;
    if (bx_curlm_add(c->cm, x->easy) != 0) return -1;
    x->active = 1;
    c->active++;
    return 0;
}

void loadgen_client_cancel(loadgen_client *c, loadgen_xfer *x)
{
    if (!x->active) return;
    bx_curlm_remove(c->cm, x->easy);
    x->active = 0;
    c->active--;
}

void loadgen_client_close(loadgen_client *c)
{
    if (c->closing) return;
    c->closing = 1;
    bx_curlm_close(c->cm, NULL, NULL);
    c->cm = NULL;
}

struct get_ctx {
    bx_buf *body;
    size_t max;
};

static size_t get_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct get_ctx *g = userdata;
    size_t n = size * nmemb;
    if (g->body->len + n > g->max || bx_buf_append(g->body, ptr, n) != 0) return 0;
    return n;
}

int loadgen_http_get(const char *url, const char *const *headers, size_t nheaders,
                     const char *api_key, long timeout_ms, size_t max_bytes, bx_buf *body,
                     long *status, char *err, size_t errlen)
{
    *status = 0;
    char ebuf[CURL_ERROR_SIZE] = "";
    CURL *e = curl_easy_init();
    struct curl_slist *h = build_headers(headers, nheaders, api_key, 0);
    if (!e || (!h && (api_key || nheaders))) {
        snprintf(err, errlen, "out of memory");
        curl_slist_free_all(h);
        if (e) curl_easy_cleanup(e);
        return -1;
    }
    struct get_ctx g = {body, max_bytes};
    CURLcode c = CURLE_OK;
    if (!c) c = curl_easy_setopt(e, CURLOPT_URL, url);
    if (!c && h) c = curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    if (!c) c = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, get_write);
    if (!c) c = curl_easy_setopt(e, CURLOPT_WRITEDATA, &g);
    if (!c) c = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ebuf);
    if (!c) c = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (!c) c = curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (!c) c = curl_easy_perform(e);
    if (!c) c = curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    if (c) snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(c));
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return c ? -1 : 0;
}
