/* Fuzz target: the gateway's /brix/load envelope (opt_server_load_parse),
 * what the optimizer service reads every period. */
#include <stdint.h>
#include <stdlib.h>

#include "opt/opt_server.h"

static opt_trace w[8];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    int n = -1;
    int rc = opt_server_load_parse((const char *)data, size, NULL, w, 8, &n, err, sizeof(err));
    if ((rc == 0 && (n < 0 || n > 8)) || (rc != 0 && n != 0)) abort();
    for (int i = 0; i < n; i++)
        if (w[i].ts % OPT_TRACE_INTERVAL_S != 0) abort();
    return 0;
}
