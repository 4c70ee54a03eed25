/* libFuzzer target: bx_http_reqparser fed the input whole (plain requests
 * take the bx_http_fast path) and fed one byte at a time (a byte never
 * holds a whole request, so http-parser reads them all) must deliver the
 * same requests in the same order, and both fail or neither. (Which of
 * 400 and 431 a bad head gets may differ: http-parser reports header bytes
 * late within one call, so a parse error can come before the limit.) */
#include "common/bx_buf.h"
#include "common/bx_http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int on_req(const bx_http_req *req, void *ud)
{
    bx_buf *log = ud;
    int e = bx_buf_appends(log, req->method);
    e |= bx_buf_append(log, "|", 1);
    e |= bx_buf_appends(log, req->path);
    e |= bx_buf_append(log, "?", 1);
    e |= bx_buf_appends(log, req->query);
    for (size_t i = 0; i < req->nheaders; i++) {
        e |= bx_buf_append(log, "\n", 1);
        e |= bx_buf_appends(log, req->headers[i].name);
        e |= bx_buf_append(log, ":", 1);
        e |= bx_buf_appends(log, req->headers[i].value);
    }
    e |= bx_buf_append(log, "\n", 1);
    e |= bx_buf_append_u64(log, req->body_len);
    e |= bx_buf_append(log, req->body, req->body_len);
    e |= bx_buf_append_u64(log, (uint64_t)(req->keep_alive * 10 + req->http_minor));
    e |= bx_buf_append(log, "\n\n", 2);
    if (e) abort();
    return 0;
}

/* Feeds data in pieces of step bytes; returns the final status (0 = no
 * error) and logs every request delivered. */
static int run(const uint8_t *data, size_t size, size_t step, bx_buf *log)
{
    bx_http_limits lim;
    bx_http_limits_default(&lim);
    lim.max_header_bytes = 2048;
    lim.max_headers = 16;
    lim.max_body_bytes = 4096;
    bx_http_reqparser *p = bx_http_reqparser_new(&lim, on_req, log);
    if (!p) abort();
    int status = 0;
    for (size_t off = 0; off < size;) {
        size_t n = size - off < step ? size - off : step, used = 0;
        if (bx_http_reqparser_feed(p, (const char *)data + off, n, &used, &status) != 0) break;
        if (used != n) abort(); /* the callback never pauses */
        off += used;
    }
    bx_http_reqparser_free(p);
    return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bx_buf whole, bytes;
    bx_buf_init(&whole);
    bx_buf_init(&bytes);
    int s1 = run(data, size, size ? size : 1, &whole);
    int s2 = run(data, size, 1, &bytes);
    if ((s1 != 0) != (s2 != 0) || whole.len != bytes.len ||
        (whole.len && memcmp(whole.data, bytes.data, whole.len) != 0))
        abort();
    bx_buf_free(&whole);
    bx_buf_free(&bytes);
    return 0;
}
