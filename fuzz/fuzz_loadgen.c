/* libFuzzer target for the parsers of `brix bench` that read outside bytes:
 * server response objects (loadgen_api_parse, loadgen_api_first_model) and
 * trace files (loadgen_plan_from_trace, then the prompt text of each item).
 * The first input byte picks the parser. */
#include "loadgen/loadgen_api.h"
#include "loadgen/loadgen_workload.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_trace(const char *s, size_t n)
{
    loadgen_wl_params w;
    memset(&w, 0, sizeof(w));
    w.seed = 1;
    w.prefix_len = 16;
    w.num_requests = 64;
    loadgen_plan p;
    char err[256];
    if (loadgen_plan_from_trace(&p, s, n, &w, err, sizeof(err)) != 0) {
        if (strlen(err) >= sizeof(err)) abort();
        return;
    }
    if (p.n == 0 || p.n > 64) abort();
    bx_buf text;
    bx_buf_init(&text);
    for (size_t i = 0; i < p.n && i < 4; i++) {
        const loadgen_item *it = &p.items[i];
        if (it->input_len < 0 || it->prefix_len < 0 || it->output_len < 1) abort();
        if (it->prev >= (long)p.n || it->next >= (long)p.n) abort();
        /* Keep the text small: lengths up to LOADGEN_MAX_LEN are legal. */
        if (it->input_len + it->prefix_len > 4096) continue;
        bx_buf_reset(&text);
        if (loadgen_item_text(&text, 1, it) == 0 &&
            text.len != 4 * (size_t)(it->input_len + it->prefix_len))
            abort();
    }
    bx_buf_free(&text);
    loadgen_plan_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0: {
        loadgen_api_chunk c;
        bx_buf text;
        bx_buf_init(&text);
        if (loadgen_api_parse(s, n, &c, &text) == 0 && c.text_len != text.len) abort();
        if (strlen(c.error) >= sizeof(c.error)) abort();
        bx_buf_free(&text);
        break;
    }
    case 1: {
        char model[64], err[128];
        if (loadgen_api_first_model(s, n, model, sizeof(model), err, sizeof(err)) == 0 &&
            (model[0] == '\0' || strlen(model) >= sizeof(model)))
            abort();
        break;
    }
    default:
        fuzz_trace(s, n);
    }
    return 0;
}
