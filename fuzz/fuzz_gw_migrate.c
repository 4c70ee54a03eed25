/* libFuzzer target: the gateway's stream migration (gw_migrate) reads
 * engines' SSE chunks (outside bytes) and the client's body. The input is
 * split at NUL bytes into events; each is fed to a stream's first leg and,
 * after gw_mig_next_leg, to a continuation (rewritten with jansson); the
 * whole input is then tried as a request body to continue. Checks: the
 * token count never falls below the leg's start, the text never exceeds its bound, a rewritten
 * chunk is JSON, the continuation's body is a JSON object. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_migrate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    gw_api api = (data[0] & 1) ? GW_API_CHAT : GW_API_COMPLETIONS;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    gw_mig m;
    gw_mig_init(&m, api);
    bx_buf out;
    bx_buf_init(&out);
    int events = 0;
    while (p < end && events < 64) {
        const char *z = memchr(p, '\0', (size_t)(end - p));
        size_t n = z ? (size_t)(z - p) : (size_t)(end - p);
        if (events == 3 || (events > 3 && (data[0] & 2))) gw_mig_next_leg(&m);
        bx_buf_reset(&out);
        int act = gw_mig_event(&m, p, n, &out);
        if (act == GW_MIG_REWRITTEN) {
            json_t *o = json_loadb(out.data, out.len, 0, NULL);
            if (!o) abort();
            json_decref(o);
        }
        if (m.sent < 0 || m.sent < m.leg_base) abort();
        if (m.text.len > GW_MIG_TEXT_MAX) abort();
        events++;
        p += n + 1;
    }
    bx_buf_reset(&out);
    if (gw_mig_tail(&m, data[0] & 4, &out) != 0) abort();
    char err[128];
    size_t blen = 0;
    char *b = gw_mig_body(&m, (const char *)data + 1, size - 1, &blen, err, sizeof(err));
    if (b) {
        json_t *o = json_loadb(b, blen, 0, NULL);
        if (!json_is_object(o)) abort();
        json_decref(o);
        free(b);
    }
    bx_buf_free(&out);
    gw_mig_free(&m);
    return 0;
}
