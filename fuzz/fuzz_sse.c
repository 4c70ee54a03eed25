/* libFuzzer target: feeds the SSE parser (bx_sse) in pieces whose size the
 * first input byte picks, and checks each event is NUL-terminated and within
 * the size limit. */
#include "common/bx_sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EVENT 512

static int on_event(const bx_sse_event *ev, void *ud)
{
    int *n = ud;
    if (ev->data[ev->data_len] != '\0') abort();
    if (ev->data_len > MAX_EVENT) abort();
    if (strlen(ev->event) > MAX_EVENT) abort();
    volatile size_t s = strlen(ev->id);
    (void)s;
    (void)bx_sse_is_done(ev);
    (*n)++;
    return *n > 1000; /* exercise the stop path too */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = data[0] ? data[0] : size;
    data++;
    size--;
    int n = 0;
    bx_sse_parser p;
    bx_sse_parser_init(&p, MAX_EVENT, on_event, &n);
    for (size_t off = 0; off < size; off += step) {
        size_t len = size - off < step ? size - off : step;
        int rc = bx_sse_parser_feed(&p, (const char *)data + off, len);
        if (rc == BX_SSE_ETOOBIG) {
            bx_sse_parser_reset(&p);
        } else if (rc != 0 && rc != BX_SSE_ESTOPPED) {
            abort();
        }
    }
    bx_sse_parser_free(&p);
    return 0;
}
