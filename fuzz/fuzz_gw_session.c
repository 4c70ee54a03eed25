/* libFuzzer target: the x-session-id decoder (gw_session) on arbitrary
 * bytes, with a capacity the first byte picks. Checks the bounds and that a
 * decoded address re-encodes to the canonical form of the input; also runs
 * session-affinity's pick on the input as id and as key. */
#include "gateway/gw_session.h"
#include "gateway/gw_strategy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t cap = data[0] % (GW_NAME_MAX + 1);
    data++;
    size--;
    char out[GW_NAME_MAX + 1];
    int n = gw_session_id_decode((const char *)data, size, out, cap);
    if (n >= 0) {
        if ((size_t)n + 1 > cap || out[n] != '\0' || strlen(out) != (size_t)n) abort();
        if (n > 0 && n < GW_NAME_MAX) {
            gw_engine e;
            memset(&e, 0, sizeof(e));
            memcpy(e.addr, out, (size_t)n + 1);
            char id[GW_SESSION_ID_MAX], back[GW_NAME_MAX];
            int m = gw_session_id_encode(&e, id, sizeof(id));
            if (m < 0) abort();
            if (gw_session_id_decode(id, (size_t)m, back, sizeof(back)) != n) abort();
            if (strcmp(back, out)) abort();
        }
    }

    /* the strategy, fed the bytes as a NUL-terminated header value */
    char hdr[1024];
    size_t hl = size < sizeof(hdr) - 1 ? size : sizeof(hdr) - 1;
    memcpy(hdr, data, hl);
    hdr[hl] = '\0';
    static const char *const addrs[2] = {"10.0.0.1:8000", "a:1"};
    gw_engine eng[2];
    gw_engine *c[2];
    for (int k = 0; k < 2; k++) {
        memset(&eng[k], 0, sizeof(eng[k]));
        strcpy(eng[k].addr, addrs[k]);
        c[k] = &eng[k];
    }
    const gw_strategy *s = gw_strategy_find("session-affinity");
    gw_route_req r;
    memset(&r, 0, sizeof(r));
    r.session_id = hdr;
    r.session_key = hdr;
    int i = s ? s->pick(NULL, &r, c, 2) : -1;
    if (i < -1 || i > 1) abort();
    return 0;
}
