/* libFuzzer target: feeds the HTTP request parser (bx_http_reqparser).
 * The first input byte picks the split size and whether the callback pauses;
 * the rest is fed in pieces, resuming after pauses as the server does.
 * Checks that every delivered request is self-consistent, that the body
 * hook (the server's budget) is asked only for bodies over
 * BX_HTTP_BODY_UNCHARGED and within the limit, with a need that never
 * shrinks within a request, and that a refusal is a 503; the progress
 * query and trim between paused requests run on the way. */
#include "common/bx_http.h"

#define MAX_BODY (256 * 1024)
#define BUDGET (128 * 1024) /* the hook refuses more */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t last_need; /* of the request being parsed; 0 after each one */

static int on_body(size_t need, void *ud)
{
    (void)ud;
    if (need <= BX_HTTP_BODY_UNCHARGED || need > MAX_BODY || need < last_need) abort();
    last_need = need;
    return need > BUDGET;
}

static int on_req(const bx_http_req *req, void *ud)
{
    int *pause = ud;
    last_need = 0;
    /* Touch every string so ASan sees out-of-bounds or dangling pointers. */
    volatile size_t sum = strlen(req->method) + strlen(req->path) + strlen(req->query);
    for (size_t i = 0; i < req->nheaders; i++)
        sum += strlen(req->headers[i].name) + strlen(req->headers[i].value);
    if (req->body[req->body_len] != '\0') abort();
    if (req->body_len > MAX_BODY) abort(); /* the limit below */
    (void)bx_http_req_header(req, "content-length");
    (void)sum;
    return *pause;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = (data[0] & 0x3f) + 1;
    int pause = (data[0] >> 6) & 1;
    int whole = (data[0] >> 7) & 1;
    data++;
    size--;
    bx_http_limits lim;
    bx_http_limits_default(&lim);
    lim.max_header_bytes = 2048;
    lim.max_headers = 16;
    lim.max_body_bytes = MAX_BODY;
    bx_http_reqparser *p = bx_http_reqparser_new(&lim, on_req, &pause);
    if (!p) return 0;
    bx_http_reqparser_set_body_hook(p, on_body, NULL);
    last_need = 0;
    size_t off = 0;
    size_t pending_end = 0; /* end of the piece being fed */
    while (off < size) {
        if (off >= pending_end)
            pending_end = whole ? size : (off + step < size ? off + step : size);
        size_t used = 0;
        int status = 0;
        int rc =
            bx_http_reqparser_feed(p, (const char *)data + off, pending_end - off, &used, &status);
        if (rc != 0) {
            if (status != 400 && status != 413 && status != 431 && status != 500 && status != 503)
                abort();
            break;
        }
        if (used > pending_end - off) abort();
        off += used;
        size_t got = 0;
        int ph = bx_http_reqparser_progress(p, &got);
        if (ph < 0 || ph > 2 || got > MAX_BODY || (ph != 2 && got != 0)) abort();
        bx_http_reqparser_trim(p); /* a no-op inside a request */
        (void)bx_http_reqparser_take_continue(p);
        if (used == 0 && !pause) abort(); /* no progress without a pause */
        if (used == 0) {
            /* paused with nothing consumed can only happen at a request end */
            size_t u2 = 0;
            rc = bx_http_reqparser_feed(p, (const char *)data + off, pending_end - off, &u2,
                                        &status);
            if (rc != 0) break;
            off += u2;
            if (u2 == 0) break;
        }
    }
    bx_http_reqparser_free(p);
    return 0;
}
