/* Fuzz target: /brix/load's query string (gw_loadmon_query): whatever the
 * bytes, the answer is 0 or -1, the model is NUL-terminated within its
 * buffer and since is -1 or within 0..10^12. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_loadmon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *q = malloc(size + 1);
    if (!q) return 0;
    memcpy(q, data, size);
    q[size] = '\0'; /* the HTTP parser hands a C string */
    char model[GW_LOADMON_NAME_MAX], err[128];
    int64_t since;
    int rc = gw_loadmon_query(q, model, sizeof(model), &since, err, sizeof(err));
    if (rc != 0 && rc != -1) abort();
    if (rc == 0) {
        if (memchr(model, '\0', sizeof(model)) == NULL) abort();
        if (since < -1 || since > 1000000000000LL) abort();
    }
    free(q);
    return 0;
}
