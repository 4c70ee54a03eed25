/* libFuzzer target for ctl_autoscale's reading of an engine's /metrics body:
 * ctl_as_metric_value with registry keys for every engine type and a raw
 * name. A value it returns must be finite; an error must say why. */
#include "ctl/ctl_autoscale.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"num_requests_running", "num_requests_waiting",
                                       "gpu_cache_usage_perc", "kv_cache_usage_perc", "foo_total"};
    static const char *const engines[] = {"vllm", "sglang", "trtllm", "xllm", NULL};
    const char *body = (const char *)data;
    size_t k = size ? data[0] % 5 : 0, e = size ? data[size - 1] % 5 : 0;
    double v = NAN;
    char err[256];
    err[0] = 0;
    if (ctl_as_metric_value(body, size, keys[k], engines[e], &v, err, sizeof(err)) == 0) {
        if (!isfinite(v)) abort();
    } else if (err[0] == 0) {
        abort();
    }
    if (strlen(ctl_as_metric_name(keys[k], engines[e])) == 0) abort();
    return 0;
}
