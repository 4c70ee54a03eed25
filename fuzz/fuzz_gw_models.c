/* Fuzzes the gateway's /v1/models body parser (gw_disc_parse_models) and the
 * backend spec normaliser (gw_disc_backend_addr), and checks what they
 * promise: NUL-terminated names within their bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_discovery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gw_disc_models m;
    char err[256];
    if (gw_disc_parse_models((const char *)data, size, 1 << 16, &m, err, sizeof(err)) == 0) {
        if (strnlen(m.model, GW_NAME_MAX) >= GW_NAME_MAX) abort();
        if (m.nadapters < 0 || m.nadapters > GW_MAX_ADAPTERS) abort();
        for (int i = 0; i < m.nadapters; i++)
            if (strnlen(m.adapters[i], GW_NAME_MAX) >= GW_NAME_MAX || !m.adapters[i][0]) abort();
    }
    char spec[512], out[GW_NAME_MAX];
    size_t n = size < sizeof(spec) - 1 ? size : sizeof(spec) - 1;
    memcpy(spec, data, n);
    spec[n] = '\0';
    if (gw_disc_backend_addr(spec, out, sizeof(out)) == 0) {
        if (!strchr(out, ':') || strchr(out, '/')) abort();
    }
    return 0;
}
