/* loadgen_client: HTTP requests on libcurl's multi interface driven by a
 * libuv loop (src/common/bx_curlm: one uv_poll_t per socket curl asks to
 * watch, one uv_timer_t for curl's timeouts), so thousands of
 * concurrent streaming HTTP requests cost one event loop and no threads.
 * It only moves bytes; what they mean is the caller's business.
 *
 * Lifecycle, libuv style: loadgen_client_init, loadgen_client_start (per
 * transfer), loadgen_client_cancel, loadgen_client_close (then run the loop so
 * the handles' close callbacks run).
 *
 * Memory: the caller owns each loadgen_xfer and must keep it alive until its
 * done callback ran (or it was cancelled); loadgen_xfer_setup copies the URL,
 * headers and body into curl/the xfer. The client owns its bx_curlm.
 * loadgen_http_get appends to a caller-owned bx_buf. */
#ifndef LOADGEN_CLIENT_H
#define LOADGEN_CLIENT_H

#include "common/bx_buf.h"
#include "common/bx_curlm.h"

#include <curl/curl.h>
#include <stddef.h>
#include <uv.h>

typedef struct loadgen_xfer loadgen_xfer;

/* Response body bytes; return 0 to go on, non-zero to abort the transfer
 * (it then completes with CURLE_WRITE_ERROR). */
typedef int (*loadgen_xfer_data_cb)(loadgen_xfer *x, const char *data, size_t len);
/* The transfer ended: rc is curl's result, status the HTTP status (0 if none).
 * The xfer is detached from the client when this runs; the callback may
 * loadgen_xfer_cleanup it and start others. */
typedef void (*loadgen_xfer_done_cb)(loadgen_xfer *x, CURLcode rc, long status, const char *errmsg);

struct loadgen_xfer {
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    loadgen_xfer_data_cb on_data;
    loadgen_xfer_done_cb on_done;
    void *ud;
    int active;
    char errbuf[CURL_ERROR_SIZE];
};

typedef struct loadgen_client {
    uv_loop_t *loop;
    bx_curlm *cm; /* NULL once closing: it frees itself */
    size_t active;
    int closing;
} loadgen_client;

/* Global curl init must have been done by the program (curl_global_init).
 * Connections are not limited (open loop: no request waits for a free one).
 * Returns 0, or -1 (after which the loop must run once to close the timer). */
int loadgen_client_init(loadgen_client *c, uv_loop_t *loop);

/* Prepares x for one POST: url, extra header lines ("K: V", may be NULL),
 * bearer token (may be NULL), body (taken: freed by loadgen_xfer_cleanup),
 * timeout in ms (0 = none). Returns 0 or -1. */
int loadgen_xfer_setup(loadgen_xfer *x, const char *url, const char *const *headers,
                       size_t nheaders, const char *api_key, char *body, long timeout_ms);
void loadgen_xfer_cleanup(loadgen_xfer *x);

int loadgen_client_start(loadgen_client *c, loadgen_xfer *x);
/* Removes an active transfer without calling its done callback. */
void loadgen_client_cancel(loadgen_client *c, loadgen_xfer *x);
/* Stops the timer and closes the handles; active transfers must have been
 * cancelled or finished. Run the loop afterwards to finish closing. */
void loadgen_client_close(loadgen_client *c);

/* A blocking GET (used once before a run, e.g. GET /v1/models). The body is
 * appended to the caller's buffer, at most max_bytes of it (more is an
 * error). Returns 0 with the HTTP status in *status, or -1 with a message. */
int loadgen_http_get(const char *url, const char *const *headers, size_t nheaders,
                     const char *api_key, long timeout_ms, size_t max_bytes, bx_buf *body,
                     long *status, char *err, size_t errlen);

#endif
