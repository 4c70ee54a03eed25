/* Fuzz target: AIBrix's Redis keys as SCAN returns them (opt_rkey_trace_parse,
 * opt_rkey_profile_parse); a parsed key rebuilt gives the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opt/opt_rkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *k = (const char *)data;
    char model[256], dep[512], buf[OPT_RKEY_MAX + 600];
    int64_t end;
    if (opt_rkey_trace_parse(k, size, model, sizeof(model), &end) == 0) {
        if (strlen(model) == 0 || end < 0) abort();
        int n = opt_rkey_trace(buf, sizeof(buf), model, end);
        /* leading zeros in the suffix are the one difference */
        if (n < 0 || (size_t)n > size) abort();
    }
    if (opt_rkey_profile_parse(k, size, model, sizeof(model), dep, sizeof(dep)) == 0) {
        int n = opt_rkey_profile(buf, sizeof(buf), model, dep);
        if (n < 0 || (size_t)n != size || memcmp(buf, k, size) != 0) abort();
        if (strchr(dep, '_')) abort();
    }
    return 0;
}
